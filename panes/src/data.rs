/*!
What the data panes (grid, SQL editor) and the `data` worker (DuckDB) say to each other.

These values cross a pipe, so they are plain serde data. A grid never holds rows it was not
shown: it asks for windows (`Rows`) of a result that lives in the worker, so a result of any
size costs the pane the same. Every request carries the pane's own sequence number; the pane
drops answers to requests it has since replaced (a new sort while the old one still runs).
*/

use serde::{Deserialize, Serialize};

/// A column of a result: its cleaned name and DuckDB's type name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: String,
}

/// Where a grid's rows come from. Kept with the session, so a grid comes back after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A file read in place (Parquet) or loaded into a table (CSV, JSON, XLSX).
    File(String),
    /// A table or view of the database.
    Table(String),
    /// The result of a query (run again after a restart).
    Query {
        sql: String,
        dialect: Option<String>,
    },
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::File(p) => std::path::Path::new(p)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.clone()),
            Source::Table(t) => t.clone(),
            Source::Query { sql, .. } => {
                let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                let mut s: String = one.chars().take(40).collect();
                if one.chars().count() > 40 {
                    s.push('…');
                }
                s
            }
        }
    }
}

/// How a grid looks at its source: sorting and filtering are done by DuckDB, never in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// A SQL boolean expression over the source's columns.
    pub filter: Option<String>,
    /// Column and whether descending.
    pub sort: Option<(String, bool)>,
}

/// One cell as text, as DuckDB itself prints it; `None` is NULL.
pub type Cell = Option<String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DataRequest {
    /// Load `source` seen through `view`; answered by `Loaded`, then `Counted` when the row
    /// count is known (large files are shown before they are fully loaded).
    Load {
        seq: u64,
        source: Source,
        view: View,
    },
    /// A window of a loaded result: `limit` rows from `offset`, `cols` columns from
    /// `first_col` (a wide result is fetched a block of columns at a time too).
    Rows {
        seq: u64,
        result: u64,
        offset: u64,
        limit: u32,
        first_col: u32,
        cols: u32,
    },
    /// SUMMARIZE of the result: one row per column.
    Summarize { seq: u64, result: u64 },
    /// The most frequent values of a column.
    Frequency {
        seq: u64,
        result: u64,
        column: String,
    },
    Plot {
        seq: u64,
        result: u64,
        plot: PlotAsk,
    },
    /// Write the whole result to `path`; the format follows the extension.
    Export { seq: u64, result: u64, path: String },
    /// Tables, columns and functions, for completion and the catalog tree.
    Catalog { seq: u64 },
    /// Stop whatever the asking pane has running.
    Cancel,
    /// The pane no longer needs this result.
    Forget { result: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlotAsk {
    Histogram { column: String, bins: u32 },
    Bars { column: String, top: u32 },
    Line { x: String, y: String, points: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Plot {
    /// Bins as (start, end, count).
    Histogram {
        column: String,
        bins: Vec<(f64, f64, u64)>,
    },
    Bars {
        column: String,
        bars: Vec<(String, u64)>,
    },
    Line {
        x: String,
        y: String,
        points: Vec<(f64, f64)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogTable {
    /// `database.schema.table`, shortened to `table` for the main database.
    pub name: String,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Catalog {
    pub tables: Vec<CatalogTable>,
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DataEvent {
    /// Long work is under way: `pct` when DuckDB can estimate it.
    Progress {
        seq: u64,
        what: String,
        pct: Option<f64>,
    },
    /// The result exists; `rows` is `None` while a file is still being loaded (the first rows
    /// can already be asked for), and `notes` say what was skipped or changed on the way.
    Loaded {
        seq: u64,
        result: u64,
        columns: Vec<Column>,
        rows: Option<u64>,
        notes: Vec<String>,
    },
    /// The loading finished: the whole result is there.
    Counted {
        seq: u64,
        result: u64,
        rows: u64,
    },
    Rows {
        seq: u64,
        result: u64,
        offset: u64,
        first_col: u32,
        rows: Vec<Vec<Cell>>,
    },
    /// A small table to show over the grid (stats, frequencies).
    Table {
        seq: u64,
        title: String,
        columns: Vec<Column>,
        rows: Vec<Vec<Cell>>,
    },
    Plot {
        seq: u64,
        plot: Plot,
    },
    Exported {
        seq: u64,
        path: String,
        rows: u64,
    },
    /// A statement that returns no rows ran (DDL, DML).
    Done {
        seq: u64,
        message: String,
    },
    Catalog {
        seq: u64,
        catalog: Catalog,
    },
    /// The request failed. `line` and `column` (1-based) point into the SQL the pane sent.
    Error {
        seq: u64,
        message: String,
        line: Option<u32>,
        column: Option<u32>,
    },
    /// The worker stopped (crashed or killed): everything in flight is gone.
    Lost {
        why: String,
    },
}

impl DataEvent {
    pub fn seq(&self) -> Option<u64> {
        match self {
            DataEvent::Progress { seq, .. }
            | DataEvent::Loaded { seq, .. }
            | DataEvent::Counted { seq, .. }
            | DataEvent::Rows { seq, .. }
            | DataEvent::Table { seq, .. }
            | DataEvent::Plot { seq, .. }
            | DataEvent::Exported { seq, .. }
            | DataEvent::Done { seq, .. }
            | DataEvent::Catalog { seq, .. }
            | DataEvent::Error { seq, .. } => Some(*seq),
            DataEvent::Lost { .. } => None,
        }
    }
}

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
