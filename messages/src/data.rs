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
        /// How the points were made from the rows, when not one point a row
        /// ("mean of fare for each id", "mean in 400 bins of id").
        how: String,
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
    /// A statement that returns no rows ran (DDL, DML); `rows` it wrote or changed, when
    /// DuckDB says (INSERT, UPDATE, DELETE, CREATE TABLE AS).
    Done {
        seq: u64,
        message: String,
        rows: Option<u64>,
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

impl DataRequest {
    /// The pane's sequence number this request carries (0 for `Cancel` and `Forget`).
    pub fn seq(&self) -> u64 {
        match self {
            DataRequest::Load { seq, .. }
            | DataRequest::Rows { seq, .. }
            | DataRequest::Summarize { seq, .. }
            | DataRequest::Frequency { seq, .. }
            | DataRequest::Plot { seq, .. }
            | DataRequest::Export { seq, .. }
            | DataRequest::Catalog { seq } => *seq,
            DataRequest::Cancel | DataRequest::Forget { .. } => 0,
        }
    }
}

/// A request for the data worker on behalf of pane `pane`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataIn {
    pub pane: u64,
    pub req: DataRequest,
}

/// What the data worker says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DataOut {
    /// Ready: what the status pane shows of the engine, and the messages version it speaks.
    Hello {
        pid: u32,
        detail: String,
        version: u32,
    },
    Event {
        pane: u64,
        ev: DataEvent,
    },
}
