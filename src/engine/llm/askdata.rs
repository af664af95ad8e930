/*!
Ask the data: a plain-English question into DuckDB SQL that runs, even on a small model.

Three things hold a small model to SQL (gemma-3-270m, asked freely, answered "100."):

- a grammar (GBNF, llama.cpp's grammar sampling) built from the live catalog and the question: a `SELECT` over
  one table with its own columns, aggregates where the types allow them (`sum`/`avg` of numbers
  only), typed comparisons (a number against a number, text against a quoted string), `GROUP
  BY` only the column selected beside the aggregates, `ORDER BY`, `LIMIT`; the literals are
  the values the question names (its numbers, its quoted or capitalised words), and a question
  that names none gets no `WHERE`. Every answer parses and names only what exists;
  lengths are bounded (two conditions, four columns, nine digits, a few aliases), so a model
  cannot run on until its token limit;
- worked examples in the prompt (five questions over a made-up table and their SQL), because
  a small model copies a shape far better than it follows an instruction;
- a retry with DuckDB's error when the SQL still fails (a type it could not cast, say), at most
  `RETRIES` times.

Remote models ignore the grammar (it is llama.cpp's); the examples and the retry still apply.
The shared pieces live here so the server and the bench (benches/askdata.rs) ask the same way.
*/

use super::*;

/// How many times a question is asked again with DuckDB's error.
pub const RETRIES: usize = 2;

/// One table of the catalog as the SQL editor sends it: `name(col TYPE, col TYPE)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<(String, String)>,
}

/// The catalog from the schema text (`name(col TYPE, ...)` a line); lines that do not read
/// so are left out.
pub fn tables(schema: &str) -> Vec<Table> {
    schema
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (name, rest) = l.split_once('(')?;
            let cols = rest.strip_suffix(')')?;
            let columns = cols
                .split(", ")
                .filter_map(|c| {
                    let (n, t) = c.trim().rsplit_once(' ')?;
                    Some((n.trim().to_string(), t.trim().to_string()))
                })
                .collect::<Vec<_>>();
            (!name.trim().is_empty() && !columns.is_empty()).then(|| Table {
                name: name.trim().to_string(),
                columns,
            })
        })
        .collect()
}

/// The turns that ask `question` about `schema`: instructions, five worked examples, then
/// the question.
pub fn turns(schema: &str, question: &str) -> Vec<Turn> {
    let example = "sales(region VARCHAR, amount DOUBLE, units BIGINT, day DATE)";
    let mut t = vec![Turn::new(
        Role::System,
        "You translate questions into DuckDB SQL. Use only the tables and columns given. \
         Reply with one SQL query and nothing else.",
    )];
    for (q, sql) in [
        (
            "How many sales are there?",
            "SELECT count(*) AS n FROM sales",
        ),
        (
            "What is the total amount per region?",
            "SELECT region, sum(amount) AS total FROM sales GROUP BY region",
        ),
        (
            "What is the average amount?",
            "SELECT avg(amount) AS average FROM sales",
        ),
        (
            "How many sales in region 'North' had more than 10 units?",
            "SELECT count(*) AS n FROM sales WHERE region = 'North' AND units > 10",
        ),
        (
            "Which 3 days had the highest amount?",
            "SELECT day, amount FROM sales ORDER BY amount DESC LIMIT 3",
        ),
    ] {
        t.push(Turn::new(
            Role::User,
            format!("Tables:\n{example}\nQuestion: {q}"),
        ));
        t.push(Turn::new(Role::Assistant, sql));
    }
    t.push(Turn::new(
        Role::User,
        format!("Tables:\n{}\nQuestion: {question}", schema.trim_end()),
    ));
    t
}

/// `turns` asked again after `sql` failed with `error`.
pub fn retry_turns(turns: &[Turn], sql: &str, error: &str) -> Vec<Turn> {
    let mut t = turns.to_vec();
    t.push(Turn::new(Role::Assistant, sql));
    let error: String = error.chars().take(600).collect();
    t.push(Turn::new(
        Role::User,
        format!("DuckDB refused that query: {error}\nWrite the query again, fixed."),
    ));
    t
}

/// A GBNF string literal.
fn lit(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// How a name is written in SQL: as it is when DuckDB can read it bare, else quoted.
fn sql_name(n: &str) -> String {
    let bare = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare {
        n.to_string()
    } else {
        format!("\"{}\"", n.replace('"', "\"\""))
    }
}

fn alts(v: &[String]) -> String {
    v.iter().map(|x| lit(x)).collect::<Vec<_>>().join(" | ")
}

/// The values a question names: its numbers, and its words in quotes or capitals past the
/// first (`JFK`, `'North'`, `UA`). A query's literals are taken from these only, so a
/// question that names no value gets no `WHERE` (a small model otherwise invents one).
pub fn values(question: &str) -> (Vec<String>, Vec<String>) {
    let mut nums = Vec::new();
    let mut words = Vec::new();
    for (k, w) in question
        .split(|c: char| c.is_whitespace() || c == ',' || c == '?')
        .enumerate()
    {
        let w = w.trim_end_matches(['.', '!', ';', ':']);
        if w.is_empty() {
            continue;
        }
        if w.parse::<f64>().is_ok() && w.len() <= 12 {
            nums.push(w.to_string());
            continue;
        }
        let quoted = w.len() > 2
            && ((w.starts_with('\'') && w.ends_with('\''))
                || (w.starts_with('"') && w.ends_with('"')));
        let inner = if quoted { &w[1..w.len() - 1] } else { w };
        let named = k > 0 && inner.chars().any(|c| c.is_uppercase());
        if (quoted || named) && !inner.contains('\'') && inner.len() <= 40 {
            words.push(inner.to_string());
        }
    }
    nums.dedup();
    words.dedup();
    (nums, words)
}

/// The grammar of the answers `question` about `schema` may get (none: no table read).
pub fn grammar(schema: &str, question: &str) -> Option<String> {
    let tables = tables(schema);
    if tables.is_empty() {
        return None;
    }
    let (qnums, qwords) = values(question);
    let mut g = String::new();
    let roots: Vec<String> = (0..tables.len()).map(|i| format!("q{i}")).collect();
    g.push_str(&format!("root ::= ({}) \";\"?\n", roots.join(" | ")));
    for (i, t) in tables.iter().enumerate() {
        let all: Vec<String> = t.columns.iter().map(|(n, _)| sql_name(n)).collect();
        let nums: Vec<String> = t
            .columns
            .iter()
            .filter(|(_, ty)| fieldkit_widgets::table::is_numeric_type(ty))
            .map(|(n, _)| sql_name(n))
            .collect();
        let texts: Vec<String> = t
            .columns
            .iter()
            .filter(|(_, ty)| !fieldkit_widgets::table::is_numeric_type(ty))
            .map(|(n, _)| sql_name(n))
            .collect();
        let from = lit(&format!(" FROM {}", sql_name(&t.name)));
        // Three shapes, so that what is grouped is what is selected: rows (ordered by a
        // column), aggregates over all rows, or one column and aggregates grouped by it.
        g.push_str(&format!("q{i} ::= \"SELECT \" (pl{i} | ag{i} | gr{i})\n"));
        g.push_str(&format!(
            "pl{i} ::= (\"DISTINCT \")? (\"*\" | c{i} (\", \" c{i}){{0,3}}) {from} w{i}? (\" ORDER BY \" c{i} dir?)? lim?\n"
        ));
        g.push_str(&format!(
            "ag{i} ::= a{i} (\", \" a{i}){{0,2}} {from} w{i}?\n"
        ));
        let keys: Vec<String> = (0..all.len()).map(|k| format!("gk{i}x{k}")).collect();
        g.push_str(&format!("gr{i} ::= {}\n", keys.join(" | ")));
        for (k, c) in all.iter().enumerate() {
            let c = lit(c);
            g.push_str(&format!(
                "gk{i}x{k} ::= {c} \", \" a{i} (\", \" a{i})? {from} w{i}? \" GROUP BY \" {c} (\" ORDER BY \" (ax{i} | {c}) dir?)? lim?\n"
            ));
        }
        g.push_str(&format!("a{i} ::= ax{i} (\" AS \" alias)?\n"));
        let mut e = vec![
            "\"count(*)\"".to_string(),
            format!("\"count(\" (\"DISTINCT \")? c{i} \")\""),
            format!("(\"min\" | \"max\") \"(\" c{i} \")\""),
        ];
        if !nums.is_empty() {
            e.push(format!("(\"sum\" | \"avg\" | \"median\") \"(\" n{i} \")\""));
            e.push(format!(
                "\"round(\" (\"sum\" | \"avg\") \"(\" n{i} \"), \" [0-9] \")\""
            ));
        }
        g.push_str(&format!("ax{i} ::= {}\n", e.join(" | ")));
        g.push_str(&format!("c{i} ::= {}\n", alts(&all)));
        let mut conds = Vec::new();
        if !nums.is_empty() {
            g.push_str(&format!("n{i} ::= {}\n", alts(&nums)));
            if !qnums.is_empty() {
                conds.push(format!("n{i} \" \" op \" \" num"));
                conds.push(format!("n{i} \" BETWEEN \" num \" AND \" num"));
            }
        }
        if !texts.is_empty() && !qwords.is_empty() {
            g.push_str(&format!("t{i} ::= {}\n", alts(&texts)));
            conds.push(format!("t{i} \" \" (op | \"LIKE\" | \"ILIKE\") \" \" str"));
        }
        if conds.is_empty() {
            // No value in the question: nothing to filter on.
            g.push_str(&format!("w{i} ::= \"\"\n"));
        } else {
            g.push_str(&format!("cd{i} ::= {}\n", conds.join(" | ")));
            g.push_str(&format!(
                "w{i} ::= \" WHERE \" cd{i} ((\" AND \" | \" OR \") cd{i})?\n"
            ));
        }
    }
    // Literals from the question only; LIMIT 1 ("the most") or a number it names.
    let mut limits = vec!["1".to_string()];
    limits.extend(
        qnums
            .iter()
            .filter(|n| n.parse::<u32>().is_ok_and(|v| v > 1))
            .cloned(),
    );
    g.push_str(&format!("lim ::= \" LIMIT \" ({})\n", alts(&limits)));
    if !qnums.is_empty() {
        g.push_str(&format!("num ::= {}\n", alts(&qnums)));
    }
    if !qwords.is_empty() {
        let quoted: Vec<String> = qwords.iter().map(|w| format!("'{w}'")).collect();
        g.push_str(&format!("str ::= {}\n", alts(&quoted)));
    }
    g.push_str(
        "op ::= \"=\" | \"<>\" | \"<=\" | \">=\" | \"<\" | \">\"\n\
         dir ::= \" DESC\" | \" ASC\"\n\
         alias ::= \"n\" | \"total\" | \"average\" | \"smallest\" | \"largest\" | \"flights\" | \"rows\"\n",
    );
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str =
        "flights(year BIGINT, carrier VARCHAR, dep_delay BIGINT, Dep Time BIGINT, origin VARCHAR)\nbad line\n";

    #[test]
    fn the_catalog_is_read_from_the_schema_text() {
        let t = tables(SCHEMA);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "flights");
        assert_eq!(t[0].columns[3], ("Dep Time".into(), "BIGINT".into()));
        assert!(grammar("nothing here", "?").is_none());
    }

    #[test]
    fn the_grammar_names_the_catalog_and_types_what_it_may_add() {
        let g = grammar(SCHEMA, "How many flights left JFK after 9?").unwrap();
        assert!(
            g.contains(r#"c0 ::= "year" | "carrier" | "dep_delay" | "\"Dep Time\"" | "origin""#),
            "{g}"
        );
        assert!(
            g.contains(r#"n0 ::= "year" | "dep_delay" | "\"Dep Time\"""#),
            "{g}"
        );
        assert!(g.contains(r#"t0 ::= "carrier" | "origin""#), "{g}");
        // What is grouped is what is selected.
        assert!(
            g.contains(r#"gk0x1 ::= "carrier" ", " a0 (", " a0)? " FROM flights" w0? " GROUP BY " "carrier""#),
            "{g}"
        );
    }

    #[test]
    fn literals_come_from_the_question_and_none_means_no_filter() {
        assert_eq!(
            values("How many flights left 'JFK' for LAX in month 6, before 9.5?"),
            (
                vec!["6".to_string(), "9.5".to_string()],
                vec!["JFK".to_string(), "LAX".to_string()]
            )
        );
        let g = grammar(SCHEMA, "How many flights left JFK after 9?").unwrap();
        assert!(
            g.contains("num ::= \"9\"\n") && g.contains("str ::= \"'JFK'\"\n"),
            "{g}"
        );
        let g = grammar(SCHEMA, "How many flights are there?").unwrap();
        assert!(g.contains("w0 ::= \"\"\n") && !g.contains("cd0"), "{g}");
        assert!(g.contains("lim ::= \" LIMIT \" (\"1\")"), "{g}");
    }

    #[test]
    fn examples_come_before_the_question_and_a_retry_carries_the_error() {
        let t = turns(SCHEMA, "How many flights per carrier?");
        assert_eq!(t.len(), 12);
        assert!(t[11]
            .content
            .ends_with("Question: How many flights per carrier?"));
        assert!(t[11].content.contains("flights(year BIGINT"));
        let r = retry_turns(
            &t,
            "SELECT sum(carrier) FROM flights",
            "No function matches",
        );
        assert_eq!(r[12].content, "SELECT sum(carrier) FROM flights");
        assert!(r[13].content.contains("No function matches"));
    }
}
