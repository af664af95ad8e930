/*!
SQL from other databases, translated to DuckDB's.

The text is first parsed with sqlparser's dialect (PostgreSQL, MySQL, BigQuery, Redshift), so a
statement that is wrong in the dialect the user chose is reported with its line and column.
The translation itself works on sqlparser's tokens, not by printing the AST back: tokens keep
the user's spacing, comments and case, and DuckDB already accepts most of these dialects, so
only the constructs that differ are rewritten (the README lists them). Everything else passes
through untouched.
*/

use sqlparser::dialect::{
    BigQueryDialect, Dialect, MySqlDialect, PostgreSqlDialect, RedshiftSqlDialect,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace, Word};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectError {
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// What is rewritten, per dialect: the README's table, row for row. Each `` `L` -> `R` `` is
/// a claim that `L` translates to exactly `R`, and a code span alone one that it passes
/// unchanged; tests/readme.rs runs every claim of the README through `translate`.
pub const TRANSLATED: &[(&str, &str)] = &[
    (
        "mysql, bigquery, redshift",
        "identifiers `` `a` `` -> `\"a\"`",
    ),
    (
        "mysql",
        "strings `\"a\"` -> `'a'`; `LIMIT 10, 5` -> `LIMIT 5 OFFSET 10`; `CURDATE()` -> `current_date`; \
         comments `# note` -> `-- note`",
    ),
    (
        "bigquery",
        "`` `project.dataset.table` `` -> `\"project\".\"dataset\".\"table\"`; \
         `SAFE_CAST(a AS INT64)` -> `TRY_CAST(a AS INT64)`; `SAFE_DIVIDE(a, b)` -> `((a) / NULLIF(b, 0))`; \
         `COUNTIF(a > 1)` -> `count_if(a > 1)`; `FORMAT_DATE(f, d)` -> `strftime(d, f)`; \
         `FORMAT_TIMESTAMP(f, t)` -> `strftime(t, f)`; `NVL(a, b)` -> `COALESCE(a, b)`",
    ),
    (
        "redshift",
        "`GETDATE()` -> `now()`; `SYSDATE` -> `now()`; `NVL(a, b)` -> `COALESCE(a, b)`; \
         `NVL2(a, b, c)` -> `CASE WHEN (a) IS NOT NULL THEN (b) ELSE (c) END`; `LEN(a)` -> `length(a)`; \
         `DATEADD(day, n, d)` -> `(d + INTERVAL (n) day)`; `DATEDIFF(DAY, a, b)` -> `date_diff('day', a, b)`; \
         `LISTAGG(a, ',')` -> `string_agg(a, ',')`",
    ),
    (
        "postgres",
        "parsed, checked and run as it is: `a::INT`, `a ILIKE 'x%'`, `DATE_TRUNC('month', d)`, \
         `STRING_AGG(a, ',')`",
    ),
];

fn dialect_of(name: &str) -> Option<Box<dyn Dialect>> {
    Some(match name {
        "postgres" | "postgresql" => Box::new(PostgreSqlDialect {}),
        "mysql" => Box::new(MySqlDialect {}),
        "bigquery" => Box::new(BigQueryDialect),
        "redshift" => Box::new(RedshiftSqlDialect {}),
        _ => return None,
    })
}

/// (line, column) from sqlparser's "... at Line: 3, Column: 7".
fn position(msg: &str) -> (Option<u32>, Option<u32>) {
    let grab = |key: &str| {
        msg.find(key).and_then(|i| {
            msg[i + key.len()..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
    };
    (grab("Line:"), grab("Column:"))
}

/// Translates `sql` written in `dialect` to DuckDB SQL.
pub fn translate(sql: &str, dialect: &str) -> Result<String, DialectError> {
    let d = dialect_of(dialect).ok_or_else(|| DialectError {
        message: format!(
            "unknown dialect {dialect:?}: one of duckdb, postgres, mysql, bigquery, redshift"
        ),
        line: None,
        column: None,
    })?;
    if let Err(e) = Parser::parse_sql(d.as_ref(), sql) {
        let message = e.to_string();
        let (line, column) = position(&message);
        return Err(DialectError {
            message: format!("not valid {dialect} SQL: {message}"),
            line,
            column,
        });
    }
    let tokens = Tokenizer::new(d.as_ref(), sql).tokenize().map_err(|e| {
        let message = e.to_string();
        let (line, column) = position(&message);
        DialectError {
            message,
            line,
            column,
        }
    })?;
    Ok(rewrite(&tokens, dialect))
}

fn is_ws(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

fn upper(t: &Token) -> Option<String> {
    match t {
        Token::Word(Word {
            value,
            quote_style: None,
            ..
        }) => Some(value.to_uppercase()),
        _ => None,
    }
}

/// The index of the next token that is not whitespace.
fn next_solid(tokens: &[Token], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !is_ws(&tokens[i]))
}

/// Splits the arguments of the call whose `(` is at `open`: (args, index of the `)`).
fn call_args(tokens: &[Token], open: usize) -> Option<(Vec<Vec<Token>>, usize)> {
    let mut depth = 0;
    let mut args = vec![Vec::new()];
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::LParen => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some((args, i));
                }
            }
            Token::Comma if depth == 1 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(a) = args.last_mut() {
            a.push(t.clone());
        }
    }
    None
}

fn text(tokens: &[Token]) -> String {
    let s: String = tokens.iter().map(|t| t.to_string()).collect();
    s.trim().to_string()
}

fn rewrite(tokens: &[Token], dialect: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        // Calls: NAME ( args )
        if let Some(name) = upper(t) {
            let open = next_solid(tokens, i + 1).filter(|&j| tokens[j] == Token::LParen);
            if let Some(open) = open {
                if let Some((args, close)) = call_args(tokens, open) {
                    if let Some(s) = rewrite_call(&name, &args, dialect) {
                        out.push_str(&s);
                        i = close + 1;
                        continue;
                    }
                }
                let renamed = match (dialect, name.as_str()) {
                    ("redshift", "NVL") | ("bigquery", "NVL") => Some("COALESCE"),
                    ("redshift", "GETDATE") => Some("now"),
                    ("redshift", "LEN") => Some("length"),
                    ("redshift", "LISTAGG") => Some("string_agg"),
                    ("bigquery", "SAFE_CAST") => Some("TRY_CAST"),
                    ("bigquery", "COUNTIF") => Some("count_if"),
                    _ => None,
                };
                if let Some(r) = renamed {
                    out.push_str(r);
                    i += 1;
                    continue;
                }
            }
            if dialect == "redshift" && name == "SYSDATE" {
                out.push_str("now()");
                i += 1;
                continue;
            }
            // MySQL: LIMIT a, b
            if dialect == "mysql" && name == "LIMIT" {
                if let Some(a) = next_solid(tokens, i + 1) {
                    if let Some(c) =
                        next_solid(tokens, a + 1).filter(|&c| tokens[c] == Token::Comma)
                    {
                        if let Some(b) = next_solid(tokens, c + 1) {
                            if let (Token::Number(x, _), Token::Number(y, _)) =
                                (&tokens[a], &tokens[b])
                            {
                                out.push_str(&format!("LIMIT {y} OFFSET {x}"));
                                i = b + 1;
                                continue;
                            }
                        }
                    }
                }
            }
        }
        match t {
            Token::Word(w) if w.quote_style == Some('`') => {
                let parts: Vec<String> = w
                    .value
                    .split('.')
                    .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
                    .collect();
                out.push_str(&parts.join("."));
            }
            Token::DoubleQuotedString(s) if dialect == "mysql" => {
                out.push_str(&format!("'{}'", s.replace('\'', "''")));
            }
            Token::Whitespace(Whitespace::SingleLineComment { comment, prefix })
                if prefix == "#" =>
            {
                // MySQL's # comments are not DuckDB's.
                out.push_str(&format!("--{comment}"));
            }
            other => out.push_str(&other.to_string()),
        }
        i += 1;
    }
    out
}

fn rewrite_call(name: &str, args: &[Vec<Token>], dialect: &str) -> Option<String> {
    let a = |i: usize| args.get(i).map(|t| text(t));
    match (dialect, name, args.len()) {
        ("redshift", "DATEADD", 3) => Some(format!(
            "({} + INTERVAL ({}) {})",
            rewrite(args.get(2)?, dialect).trim(),
            rewrite(args.get(1)?, dialect).trim(),
            a(0)?
        )),
        ("redshift", "DATEDIFF", 3) => Some(format!(
            "date_diff('{}', {}, {})",
            a(0)?.to_lowercase(),
            rewrite(args.get(1)?, dialect).trim(),
            rewrite(args.get(2)?, dialect).trim()
        )),
        ("redshift", "NVL2", 3) => Some(format!(
            "CASE WHEN ({}) IS NOT NULL THEN ({}) ELSE ({}) END",
            rewrite(args.first()?, dialect).trim(),
            rewrite(args.get(1)?, dialect).trim(),
            rewrite(args.get(2)?, dialect).trim()
        )),
        ("bigquery", "SAFE_DIVIDE", 2) => Some(format!(
            "(({}) / NULLIF({}, 0))",
            rewrite(args.first()?, dialect).trim(),
            rewrite(args.get(1)?, dialect).trim()
        )),
        ("bigquery", "FORMAT_DATE", 2) | ("bigquery", "FORMAT_TIMESTAMP", 2) => Some(format!(
            "strftime({}, {})",
            rewrite(args.get(1)?, dialect).trim(),
            rewrite(args.first()?, dialect).trim()
        )),
        ("mysql", "CURDATE", 1) if args[0].iter().all(is_ws) => Some("current_date".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_quotes_limits_and_comments() {
        assert_eq!(
            translate("SELECT `id`, \"x\" FROM `t` # note\nLIMIT 10, 5", "mysql").unwrap(),
            "SELECT \"id\", 'x' FROM \"t\" -- note\nLIMIT 5 OFFSET 10"
        );
    }

    #[test]
    fn bigquery_paths_and_functions() {
        assert_eq!(
            translate(
                "SELECT SAFE_CAST(a AS INT64), SAFE_DIVIDE(a, b), COUNTIF(a > 1) FROM `p.d.t`",
                "bigquery"
            )
            .unwrap(),
            "SELECT TRY_CAST(a AS INT64), ((a) / NULLIF(b, 0)), count_if(a > 1) FROM \"p\".\"d\".\"t\""
        );
    }

    #[test]
    fn redshift_dates_and_nulls() {
        assert_eq!(
            translate(
                "select nvl(a, 0), dateadd(day, 7, d), datediff(day, d, getdate()), sysdate from t",
                "redshift"
            )
            .unwrap(),
            "select COALESCE(a, 0), (d + INTERVAL (7) day), date_diff('day', d, now()), now() from t"
        );
    }

    /// `sql` in `dialect`, translated; panics with the dialect's error.
    fn tr(sql: &str, dialect: &str) -> String {
        translate(sql, dialect).unwrap_or_else(|e| panic!("{dialect}: {sql}: {e:?}"))
    }

    // One test per row of `TRANSLATED` (the README's table), every claim of the row.

    #[test]
    fn row_backtick_identifiers() {
        for d in ["mysql", "bigquery", "redshift"] {
            assert_eq!(
                tr("SELECT `a` FROM `t`", d),
                "SELECT \"a\" FROM \"t\"",
                "{d}"
            );
        }
        // Not PostgreSQL: there a backtick is an error, not an identifier.
        assert!(translate("SELECT `a`", "postgres").is_err());
    }

    #[test]
    fn row_mysql() {
        assert_eq!(tr("SELECT \"a\"", "mysql"), "SELECT 'a'");
        assert_eq!(tr("SELECT \"it's\"", "mysql"), "SELECT 'it''s'");
        assert_eq!(
            tr("SELECT * FROM t LIMIT 10, 5", "mysql"),
            "SELECT * FROM t LIMIT 5 OFFSET 10"
        );
        assert_eq!(tr("SELECT CURDATE()", "mysql"), "SELECT current_date");
        assert_eq!(
            tr("SELECT * FROM t # note", "mysql"),
            "SELECT * FROM t -- note"
        );
    }

    #[test]
    fn row_bigquery() {
        let b = |s| tr(s, "bigquery");
        assert_eq!(
            b("SELECT * FROM `project.dataset.table`"),
            "SELECT * FROM \"project\".\"dataset\".\"table\""
        );
        assert_eq!(
            b("SELECT SAFE_CAST(a AS INT64)"),
            "SELECT TRY_CAST(a AS INT64)"
        );
        assert_eq!(b("SELECT SAFE_DIVIDE(a, b)"), "SELECT ((a) / NULLIF(b, 0))");
        assert_eq!(b("SELECT COUNTIF(a > 1)"), "SELECT count_if(a > 1)");
        assert_eq!(b("SELECT FORMAT_DATE(f, d)"), "SELECT strftime(d, f)");
        assert_eq!(b("SELECT FORMAT_TIMESTAMP(f, t)"), "SELECT strftime(t, f)");
        assert_eq!(b("SELECT NVL(a, b)"), "SELECT COALESCE(a, b)");
    }

    #[test]
    fn row_redshift() {
        let r = |s| tr(s, "redshift");
        assert_eq!(r("SELECT GETDATE(), SYSDATE"), "SELECT now(), now()");
        assert_eq!(r("SELECT NVL(a, b)"), "SELECT COALESCE(a, b)");
        assert_eq!(
            r("SELECT NVL2(a, b, c)"),
            "SELECT CASE WHEN (a) IS NOT NULL THEN (b) ELSE (c) END"
        );
        assert_eq!(r("SELECT LEN(a)"), "SELECT length(a)");
        assert_eq!(
            r("SELECT DATEADD(day, n, d)"),
            "SELECT (d + INTERVAL (n) day)"
        );
        assert_eq!(
            r("SELECT DATEDIFF(DAY, a, b)"),
            "SELECT date_diff('day', a, b)"
        );
        assert_eq!(r("SELECT LISTAGG(a, ',')"), "SELECT string_agg(a, ',')");
    }

    #[test]
    fn row_postgres() {
        let sql = "SELECT a::INT, a ILIKE 'x%', DATE_TRUNC('month', d), STRING_AGG(a, ',') FROM t";
        assert_eq!(tr(sql, "postgres"), sql);
        assert!(translate("SELECT a::", "postgres").is_err());
    }

    #[test]
    fn invalid_sql_in_the_dialect_says_where() {
        let e = translate("SELECT 1 +", "postgres").unwrap_err();
        assert!(e.message.contains("not valid postgres SQL"), "{e:?}");
        assert!(translate("select 1", "oracle").is_err());
    }
}

/// Whether `sql` (DuckDB's dialect, several statements allowed) only reads: every statement a
/// query, EXPLAIN, DESCRIBE/SHOW or SUMMARIZE-style read. `Err` when it does not parse, so
/// the caller asks rather than guesses.
pub fn read_only(sql: &str) -> Result<bool, String> {
    use sqlparser::ast::Statement;
    let d = sqlparser::dialect::DuckDbDialect {};
    let stmts = Parser::parse_sql(&d, sql).map_err(|e| e.to_string())?;
    if stmts.is_empty() {
        return Ok(false);
    }
    Ok(stmts.iter().all(|s| {
        matches!(
            s,
            Statement::Query(_)
                | Statement::Explain { .. }
                | Statement::ExplainTable { .. }
                | Statement::ShowTables { .. }
                | Statement::ShowColumns { .. }
                | Statement::ShowVariable { .. }
                | Statement::ShowFunctions { .. }
        )
    }))
}

#[cfg(test)]
mod read_only_tests {
    use super::read_only;

    #[test]
    fn reads_pass_and_writes_do_not() {
        assert_eq!(
            read_only("SELECT city, count(*) FROM trips GROUP BY 1"),
            Ok(true)
        );
        assert_eq!(
            read_only("WITH x AS (SELECT 1) SELECT * FROM x; SELECT 2"),
            Ok(true)
        );
        assert_eq!(read_only("DROP TABLE trips"), Ok(false));
        assert_eq!(read_only("SELECT 1; DELETE FROM trips"), Ok(false));
        assert_eq!(read_only("UPDATE t SET a = 1"), Ok(false));
        assert_eq!(read_only("CREATE TABLE x AS SELECT 1"), Ok(false));
        assert_eq!(read_only(""), Ok(false));
        assert!(read_only("SELEC nonsense FROM").is_err());
    }
}
