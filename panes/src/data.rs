/*!
Helpers the data panes share: statements split at `;`, identifiers and literals quoted.

The messages themselves (what the grid, the SQL editor and the `data` worker say to each other)
are plain serde data in `fieldkit-messages`, re-exported here so panes name them as before.
*/

pub use fieldkit_messages::data::*;

/// Splits SQL text into statements at `;` outside quotes and comments. Each statement comes
/// with its byte offset in `text`, so errors can point into the whole buffer.
pub fn split_statements(text: &str) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                push_statement(text, start, i, &mut out);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push_statement(text, start, b.len(), &mut out);
    out
}

fn push_statement<'a>(text: &'a str, start: usize, end: usize, out: &mut Vec<(usize, &'a str)>) {
    let end = end.min(text.len());
    let Some(s) = text.get(start..end) else {
        return;
    };
    let lead = s.len() - s.trim_start().len();
    let body = s.trim();
    if !body.is_empty() && !is_only_comments(body) {
        out.push((start + lead, body));
    }
}

fn is_only_comments(s: &str) -> bool {
    s.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

/// Quotes an identifier for DuckDB.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for DuckDB.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let text = "select 1;\nselect ';' as a -- no; split\n; /* ; */ select \"x;y\" from t;  \n-- only\n";
        let got: Vec<&str> = split_statements(text).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            got,
            vec![
                "select 1",
                "select ';' as a -- no; split",
                "/* ; */ select \"x;y\" from t"
            ]
        );
        let (off, s) = split_statements(text)[1];
        assert_eq!(&text[off..off + s.len()], s);
        assert!(split_statements("  ;; -- nothing\n").is_empty());
        // An unterminated quote swallows the rest rather than splitting inside it.
        assert_eq!(split_statements("select 'a;b").len(), 1);
    }

    #[test]
    fn quoting_doubles_the_quote() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
