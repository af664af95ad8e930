/*!
The data worker: DuckDB in its own process (`fieldkit __worker data`).

DuckDB is a large C++ engine; a crash or abort in it must not take the terminals along, so it
lives here and the server restarts it. Results live here too: a pane only ever holds windows
of rows. Every result is something DuckDB can scan by name: a table loaded from a file into
the persistent database, a Parquet file read in place, or a query materialised into the
in-memory catalog `fk_mem`, which every connection of this process shares.

Each pane gets two lanes, each a thread with its own connection: `job` for the long work
(loading, sorting, stats, export) and `window` for fetching rows, so scrolling stays live while
a 1 GB file loads. `Cancel` interrupts both (DuckDB's interrupt), and a poller turns DuckDB's
progress estimate into `Progress` events while a job runs.
*/

use crate::engine::dialect;
use crate::paths::Dirs;
use crate::wire;
use anyhow::{Context, Result};
use duckdb::Connection;
use fieldkit_panes::data::{
    quote_ident, quote_literal, split_statements, Catalog, CatalogTable, Cell, Column, DataEvent,
    DataRequest, Plot, PlotAsk, Source, View,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request for the data worker on behalf of pane `pane`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataIn {
    pub pane: u64,
    pub req: DataRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DataOut {
    /// Ready: what the status pane shows of the engine.
    Hello {
        pid: u32,
        detail: String,
    },
    Event {
        pane: u64,
        ev: DataEvent,
    },
}

/// Rows a file shows before it has been fully loaded.
const PREVIEW_ROWS: u64 = 1000;

/// A result a pane may ask windows of.
#[derive(Debug, Clone)]
struct Res {
    /// Something to put after FROM: a table name or a table function call.
    rel: String,
    columns: Vec<Column>,
    /// Tables made for this result, dropped when it is forgotten.
    owned: Vec<String>,
    /// Where windows are read by a row number without gaps (`rowid` of a table,
    /// `file_row_number` of a Parquet file), which DuckDB finds without scanning up to it.
    /// `None`: LIMIT/OFFSET.
    key: Option<(String, String)>,
}

#[derive(Clone)]
struct Shared {
    results: Arc<Mutex<HashMap<u64, Res>>>,
    /// Files loaded into tables by this worker, with the size and mtime they had: a sort or
    /// filter of the same, unchanged file reuses the table instead of reading the file again.
    imported: Arc<Mutex<HashMap<PathBuf, (String, FileStamp)>>>,
    next: Arc<AtomicU64>,
    out: Arc<Mutex<std::io::Stdout>>,
    home: PathBuf,
}

/// What tells a file changed: its size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp(u64, Option<std::time::SystemTime>);

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp(m.len(), m.modified().ok()))
    }
}

impl Shared {
    fn remember_import(&self, path: &Path, table: &str) {
        if let (Some(stamp), Ok(mut m)) = (FileStamp::of(path), self.imported.lock()) {
            m.insert(path.to_path_buf(), (table.to_string(), stamp));
        }
    }

    fn send(&self, pane: u64, ev: DataEvent) {
        let Ok(frame) = wire::encode(&DataOut::Event { pane, ev }) else {
            return;
        };
        if let Ok(mut o) = self.out.lock() {
            let _ = o.write_all(&frame);
            let _ = o.flush();
        }
    }
    fn result(&self, id: u64) -> Option<Res> {
        self.results.lock().ok()?.get(&id).cloned()
    }
    fn new_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

/// A job's tag: the lane's cancel epoch when it was asked for.
const IDLE: u64 = u64::MAX;

struct Lane {
    job: Sender<(u64, DataRequest)>,
    window: Sender<DataRequest>,
    job_int: Arc<duckdb::InterruptHandle>,
    win_int: Arc<duckdb::InterruptHandle>,
    /// Bumped by every cancel: jobs tagged with an older epoch are stopped or skipped.
    epoch: Arc<AtomicU64>,
    /// The tag of the job running now, or `IDLE`.
    running: Arc<AtomicU64>,
}

impl Lane {
    /// Stops the job running now and every job asked for before now. DuckDB forgets an
    /// interrupt that lands between two queries, so it is repeated until the job is gone.
    fn cancel(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.win_int.interrupt();
        let running = self.running.clone();
        let int = self.job_int.clone();
        std::thread::spawn(move || {
            for _ in 0..250 {
                let r = running.load(Ordering::SeqCst);
                if r == IDLE || r >= epoch {
                    break;
                }
                int.interrupt();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }

    fn send_job(&self, req: DataRequest) {
        let _ = self.job.send((self.epoch.load(Ordering::SeqCst), req));
    }
}

/// Opens the database with the configured limits. Shared by the worker and `fieldkit sql`.
pub fn open_db(
    path: Option<&Path>,
    memory_limit: &str,
    threads: Option<usize>,
) -> Result<Connection> {
    let conn = match path {
        Some(p) => Connection::open(p)
            .map_err(|e| anyhow::anyhow!(describe_open_error(p, &e.to_string())))?,
        None => Connection::open_in_memory()?,
    };
    let limit = memory_limit_value(memory_limit);
    conn.execute_batch(&format!("SET memory_limit = {}", quote_literal(&limit)))
        .with_context(|| format!("memory_limit {memory_limit:?}"))?;
    if let Some(t) = threads {
        conn.execute_batch(&format!("SET threads = {t}"))
            .with_context(|| format!("threads {t}"))?;
    }
    Ok(conn)
}

fn describe_open_error(p: &Path, e: &str) -> String {
    if e.contains("lock") {
        format!(
            "{} is in use by another process ({e}). The fieldkit server's data worker holds the \
             default database while it runs: pass --db PATH or --db :memory:.",
            p.display()
        )
    } else {
        format!("cannot open {}: {e}", p.display())
    }
}

/// `50%` of this machine's memory, or a size DuckDB understands (`4GB`).
pub fn memory_limit_value(s: &str) -> String {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        if let Ok(p) = p.trim().parse::<f64>() {
            let total = total_memory();
            if total > 0 {
                let mib = (total as f64 * p.clamp(1.0, 100.0) / 100.0 / 1048576.0) as u64;
                return format!("{}MiB", mib.max(64));
            }
        }
    }
    t.to_string()
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Entry point of `fieldkit __worker data`.
pub fn run() -> Result<()> {
    let dirs = Dirs::from_env();
    let loaded = crate::config::load(&dirs);
    let cfg = loaded.config.data;
    std::fs::create_dir_all(&dirs.data).ok();
    let db_path = cfg
        .database
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs.data.join("data.duckdb"));
    let root = open_db(Some(&db_path), &cfg.memory_limit, cfg.threads)?;
    root.execute_batch("ATTACH ':memory:' AS fk_mem")?;
    let limit: String = root
        .query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))
        .unwrap_or_default();
    let threads: i64 = root
        .query_row("SELECT current_setting('threads')::BIGINT", [], |r| {
            r.get(0)
        })
        .unwrap_or(0);
    let version: String = root
        .query_row("SELECT version()", [], |r| r.get(0))
        .unwrap_or_default();
    let shared = Shared {
        results: Arc::new(Mutex::new(HashMap::new())),
        imported: Arc::new(Mutex::new(HashMap::new())),
        next: Arc::new(AtomicU64::new(1)),
        out: Arc::new(Mutex::new(std::io::stdout())),
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/".into()),
    };
    let hello = DataOut::Hello {
        pid: std::process::id(),
        detail: format!(
            "DuckDB {version} · {} · memory_limit {limit} · {threads} threads",
            db_path.display()
        ),
    };
    {
        let frame = wire::encode(&hello)?;
        let mut o = shared
            .out
            .lock()
            .map_err(|_| anyhow::anyhow!("stdout lock"))?;
        o.write_all(&frame)?;
        o.flush()?;
    }
    let mut lanes: HashMap<u64, Lane> = HashMap::new();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    while let Some(DataIn { pane, req }) = wire::read_frame::<DataIn>(&mut input)? {
        let lane = match lanes.entry(pane) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match open_lane(&root, pane, &shared) {
                Ok(l) => v.insert(l),
                Err(e) => {
                    shared.send(pane, error_event(seq_of(&req), &e.to_string(), 0));
                    continue;
                }
            },
        };
        match req {
            DataRequest::Cancel => lane.cancel(),
            DataRequest::Rows { .. } => {
                let _ = lane.window.send(req);
            }
            DataRequest::Load { .. } => {
                // A new load replaces whatever the pane was waiting for.
                if lane.running.load(Ordering::SeqCst) != IDLE {
                    lane.cancel();
                }
                lane.send_job(req);
            }
            other => lane.send_job(other),
        }
    }
    Ok(())
}

fn seq_of(req: &DataRequest) -> u64 {
    match req {
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

fn open_lane(root: &Connection, pane: u64, shared: &Shared) -> Result<Lane> {
    let job_conn = root.try_clone()?;
    let win_conn = root.try_clone()?;
    job_conn.set_query_progress_tracking(true).ok();
    let job_int = job_conn.interrupt_handle();
    let win_int = win_conn.interrupt_handle();
    let epoch = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicU64::new(IDLE));
    let (job_tx, job_rx) = channel::<(u64, DataRequest)>();
    let (win_tx, win_rx) = channel::<DataRequest>();
    let sh = shared.clone();
    let (ep, run) = (epoch.clone(), running.clone());
    std::thread::Builder::new()
        .name(format!("job-{pane}"))
        .spawn(move || {
            while let Ok((tag, req)) = job_rx.recv() {
                let seq = seq_of(&req);
                let forget = matches!(req, DataRequest::Forget { .. });
                if tag < ep.load(Ordering::SeqCst) && !forget {
                    sh.send(
                        pane,
                        error_event(seq, "Interrupted: cancelled before it started", 0),
                    );
                    continue;
                }
                run.store(tag, Ordering::SeqCst);
                if let Err(e) = job(&job_conn, pane, req, &sh) {
                    sh.send(pane, error_event(seq, &format!("{e:#}"), 0));
                }
                run.store(IDLE, Ordering::SeqCst);
            }
        })?;
    let sh = shared.clone();
    std::thread::Builder::new()
        .name(format!("win-{pane}"))
        .spawn(move || {
            while let Ok(req) = win_rx.recv() {
                if let DataRequest::Rows {
                    seq,
                    result,
                    offset,
                    limit,
                    first_col,
                    cols,
                } = req
                {
                    match window(&win_conn, &sh, result, offset, limit, first_col, cols) {
                        Ok(rows) => sh.send(
                            pane,
                            DataEvent::Rows {
                                seq,
                                result,
                                offset,
                                first_col,
                                rows,
                            },
                        ),
                        Err(e) => sh.send(pane, error_event(seq, &format!("{e:#}"), 0)),
                    }
                }
            }
        })?;
    Ok(Lane {
        job: job_tx,
        window: win_tx,
        job_int,
        win_int,
        epoch,
        running,
    })
}

/// An error event, with the line and column DuckDB pointed at (shifted up by `line_shift`
/// lines of wrapping the worker added).
fn error_event(seq: u64, message: &str, line_shift: u32) -> DataEvent {
    let (line, column) = match error_position(message) {
        Some((l, c)) if l > line_shift => (Some(l - line_shift), Some(c)),
        _ => (None, None),
    };
    DataEvent::Error {
        seq,
        message: tidy_error(message),
        line,
        column,
    }
}

/// The message without DuckDB's echo of the query (the editor marks the place itself).
pub fn tidy_error(message: &str) -> String {
    let mut out = Vec::new();
    for l in message.lines() {
        if l.starts_with("LINE ") {
            break;
        }
        out.push(l);
    }
    let s = out.join("\n").trim().to_string();
    if s.is_empty() {
        message.trim().to_string()
    } else {
        s
    }
}

/// (line, column), 1-based, from DuckDB's `LINE n: ...` and the caret line under it.
pub fn error_position(message: &str) -> Option<(u32, u32)> {
    let lines: Vec<&str> = message.lines().collect();
    let i = lines.iter().position(|l| l.starts_with("LINE "))?;
    let head = lines[i];
    let colon = head.find(": ")?;
    let line: u32 = head[5..colon].trim().parse().ok()?;
    let caret_line = lines.get(i + 1)?;
    let caret = caret_line.chars().position(|c| c == '^')?;
    let shown_start = colon + 2;
    let mut col = caret.checked_sub(shown_start)? as u32 + 1;
    // DuckDB cuts long lines and marks the cut with "...".
    if head[shown_start..].starts_with("...") {
        col = col.saturating_sub(3);
        return Some((line, col.max(1)));
    }
    Some((line, col))
}

fn list_columns(conn: &Connection, rel: &str) -> Result<Vec<Column>> {
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {rel}"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Column {
            name: r.get::<_, String>(0)?,
            ty: r.get::<_, String>(1)?,
        });
    }
    Ok(out)
}

fn count(conn: &Connection, rel: &str) -> Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {rel}"), [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Every value as DuckDB prints it. One star expression, not a CAST per column: DuckDB plans
/// thousands of separate expressions very slowly (minutes for 10,000 columns).
const AS_TEXT: &str = "COLUMNS(*)::VARCHAR";

/// Runs `sql` (whose columns are all VARCHAR) and returns its rows. Read through Arrow, a
/// column at a time: row-by-row access costs a lookup per cell that grows with the width, which
/// made 10,000 columns take minutes.
pub fn fetch_text(conn: &Connection, sql: &str) -> duckdb::Result<Vec<Vec<Cell>>> {
    use duckdb::arrow::array::{Array, AsArray};
    use duckdb::arrow::datatypes::DataType;
    let mut stmt = conn.prepare(sql)?;
    let mut out: Vec<Vec<Cell>> = Vec::new();
    for batch in stmt.query_arrow([])? {
        let n = batch.num_rows();
        let start = out.len();
        out.extend((0..n).map(|_| Vec::with_capacity(batch.num_columns())));
        for col in batch.columns() {
            let col = if matches!(
                col.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                col.clone()
            } else {
                duckdb::arrow::compute::cast(col, &DataType::Utf8)
                    .map_err(|e| duckdb::Error::ToSqlConversionFailure(Box::new(e)))?
            };
            let value = |r: usize| -> Cell {
                if col.is_null(r) {
                    return None;
                }
                Some(match col.data_type() {
                    DataType::LargeUtf8 => col.as_string::<i64>().value(r).to_string(),
                    DataType::Utf8View => col.as_string_view().value(r).to_string(),
                    _ => col.as_string::<i32>().value(r).to_string(),
                })
            };
            for r in 0..n {
                out[start + r].push(value(r));
            }
        }
    }
    Ok(out)
}

fn window(
    conn: &Connection,
    sh: &Shared,
    result: u64,
    offset: u64,
    limit: u32,
    first_col: u32,
    cols: u32,
) -> Result<Vec<Vec<Cell>>> {
    let res = sh
        .result(result)
        .ok_or_else(|| anyhow::anyhow!("that result is gone (the worker restarted); press r"))?;
    // Named casts of just the columns asked for: a window of a wide result stays small, and
    // a Parquet file's row number is left out by not being named.
    let first = (first_col as usize).min(res.columns.len());
    let end = (first + cols as usize).min(res.columns.len());
    let list = if first == end {
        "NULL".to_string()
    } else {
        res.columns[first..end]
            .iter()
            .map(|c| format!("CAST({} AS VARCHAR)", quote_ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = match &res.key {
        Some((from, key)) => format!(
            "SELECT {list} FROM {from} WHERE {key} >= {offset} AND {key} < {} ORDER BY {key}",
            offset + limit as u64
        ),
        None => format!(
            "SELECT {list} FROM {} LIMIT {limit} OFFSET {offset}",
            res.rel
        ),
    };
    Ok(fetch_text(conn, &sql)?)
}

/// Runs `f` while a thread turns DuckDB's progress estimate into events.
fn with_progress<T>(
    conn: &Connection,
    sh: &Shared,
    pane: u64,
    seq: u64,
    what: &str,
    f: impl FnOnce() -> T,
) -> T {
    let handle = conn.progress_handle();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sh2 = sh.clone();
    let what = what.to_string();
    std::thread::scope(|s| {
        let watcher = s.spawn(move || {
            let started = Instant::now();
            let mut last = -1.0;
            while !stop2.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_millis(200));
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let pct = handle.query_progress().percentage();
                // Only worth saying for work that takes a while, and only when it moved.
                if started.elapsed() > Duration::from_millis(300) && pct.unwrap_or(-2.0) != last {
                    last = pct.unwrap_or(-2.0);
                    sh2.send(
                        pane,
                        DataEvent::Progress {
                            seq,
                            what: what.clone(),
                            pct,
                        },
                    );
                }
            }
        });
        let out = f();
        stop.store(true, Ordering::SeqCst);
        // Wake the watcher now: the scope waits for it, and a parked watcher added up to its
        // 200 ms tick to every request, quick or not.
        watcher.thread().unpark();
        out
    })
}

fn job(conn: &Connection, pane: u64, req: DataRequest, sh: &Shared) -> Result<()> {
    match req {
        DataRequest::Load { seq, source, view } => load(conn, pane, seq, &source, &view, sh),
        DataRequest::Summarize { seq, result } => {
            let res = sh.result(result).context("no such result")?;
            let sql = format!(
                "SELECT column_name, column_type, min, max, approx_unique, avg, std, \
                 null_percentage, count FROM (SUMMARIZE SELECT * FROM {})",
                res.rel
            );
            let title = "column statistics (SUMMARIZE)";
            small_table(conn, sh, pane, seq, &sql, "summarizing", title.into())
        }
        DataRequest::Frequency {
            seq,
            result,
            column,
        } => {
            let res = sh.result(result).context("no such result")?;
            let sql = format!(
                "SELECT {} AS value, count(*) AS count, \
                 round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS percent \
                 FROM {} GROUP BY ALL ORDER BY count DESC, value LIMIT 1000",
                quote_ident(&column),
                res.rel
            );
            let title = format!("frequency of {column}");
            small_table(conn, sh, pane, seq, &sql, "counting", title)
        }
        DataRequest::Plot { seq, result, plot } => {
            let res = sh.result(result).context("no such result")?;
            let plot = make_plot(conn, &res.rel, plot)?;
            sh.send(pane, DataEvent::Plot { seq, plot });
            Ok(())
        }
        DataRequest::Export { seq, result, path } => {
            let res = sh.result(result).context("no such result")?;
            let target = resolve_path(&path, &sh.home);
            let rows = with_progress(conn, sh, pane, seq, "exporting", || {
                export(conn, &res.rel, &target)
            })?;
            sh.send(
                pane,
                DataEvent::Exported {
                    seq,
                    path: target.display().to_string(),
                    rows,
                },
            );
            Ok(())
        }
        DataRequest::Catalog { seq } => {
            let catalog = catalog(conn)?;
            sh.send(pane, DataEvent::Catalog { seq, catalog });
            Ok(())
        }
        DataRequest::Forget { result } => {
            let res = sh.results.lock().ok().and_then(|mut r| r.remove(&result));
            if let Some(res) = res {
                for t in res.owned {
                    conn.execute_batch(&format!("DROP TABLE IF EXISTS {t}"))
                        .ok();
                }
            }
            Ok(())
        }
        DataRequest::Rows { .. } | DataRequest::Cancel => Ok(()),
    }
}

/// Runs `sql` and sends its rows as a table to show over the grid (stats, frequencies).
fn small_table(
    conn: &Connection,
    sh: &Shared,
    pane: u64,
    seq: u64,
    sql: &str,
    what: &str,
    title: String,
) -> Result<()> {
    let columns = list_columns(conn, &format!("({sql})"))?;
    let rows = with_progress(conn, sh, pane, seq, what, || {
        fetch_text(conn, &format!("SELECT {AS_TEXT} FROM ({sql})"))
    })?;
    sh.send(
        pane,
        DataEvent::Table {
            seq,
            title,
            columns,
            rows,
        },
    );
    Ok(())
}

fn resolve_path(p: &str, home: &Path) -> PathBuf {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix("~/") {
        return home.join(rest);
    }
    let pb = PathBuf::from(p);
    if pb.is_absolute() {
        pb
    } else {
        home.join(pb)
    }
}

/// Writes the whole of `rel` to `path`, in the format its extension names.
pub fn export(conn: &Connection, rel: &str, path: &Path) -> Result<u64> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let opts = match ext.as_str() {
        "csv" => "FORMAT csv, HEADER true",
        "tsv" | "tab" => "FORMAT csv, HEADER true, DELIMITER '\t'",
        "parquet" | "pq" => "FORMAT parquet",
        "json" => "FORMAT json, ARRAY true",
        "ndjson" | "jsonl" => "FORMAT json",
        other => anyhow::bail!(
            "cannot tell the format from {:?}: use .csv, .tsv, .parquet, .json or .ndjson",
            if other.is_empty() {
                "no extension"
            } else {
                other
            }
        ),
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            anyhow::bail!("no such folder: {}", dir.display());
        }
    }
    let n = conn.execute(
        &format!(
            "COPY (SELECT * FROM {rel}) TO {} ({opts})",
            quote_literal(&path.to_string_lossy())
        ),
        [],
    )?;
    Ok(n as u64)
}

fn make_plot(conn: &Connection, rel: &str, ask: PlotAsk) -> Result<Plot> {
    Ok(match ask {
        PlotAsk::Histogram { column, bins } => {
            let c = quote_ident(&column);
            let bins = bins.clamp(1, 200) as i64;
            let (lo, hi): (Option<f64>, Option<f64>) = conn.query_row(
                &format!("SELECT min({c})::DOUBLE, max({c})::DOUBLE FROM {rel}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (Some(lo), Some(hi)) = (lo, hi) else {
                return Ok(Plot::Histogram {
                    column,
                    bins: vec![],
                });
            };
            let n = if hi > lo { bins } else { 1 };
            let w = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
            let mut counts = vec![0u64; n as usize];
            let mut stmt = conn.prepare(&format!(
                "SELECT least(floor(({c}::DOUBLE - {lo}) / {w}), {})::BIGINT AS b, count(*) \
                 FROM {rel} WHERE {c} IS NOT NULL GROUP BY b",
                n - 1
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let b: i64 = r.get(0)?;
                let k: i64 = r.get(1)?;
                if let Some(slot) = counts.get_mut(b.clamp(0, n - 1) as usize) {
                    *slot += k.max(0) as u64;
                }
            }
            Plot::Histogram {
                column,
                bins: counts
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (lo + w * i as f64, lo + w * (i + 1) as f64, k))
                    .collect(),
            }
        }
        PlotAsk::Bars { column, top } => {
            let c = quote_ident(&column);
            let mut stmt = conn.prepare(&format!(
                "SELECT coalesce(CAST({c} AS VARCHAR), 'NULL'), count(*) AS n FROM {rel} \
                 GROUP BY ALL ORDER BY n DESC, 1 LIMIT {}",
                top.clamp(1, 100)
            ))?;
            let mut rows = stmt.query([])?;
            let mut bars = Vec::new();
            while let Some(r) = rows.next()? {
                bars.push((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64));
            }
            Plot::Bars { column, bars }
        }
        PlotAsk::Line { x, y, points } => {
            let (xc, yc) = (quote_ident(&x), quote_ident(&y));
            let mut stmt = conn.prepare(&format!(
                "SELECT a, b FROM (SELECT {xc}::DOUBLE AS a, {yc}::DOUBLE AS b FROM {rel} \
                 WHERE {xc} IS NOT NULL AND {yc} IS NOT NULL) \
                 USING SAMPLE reservoir({} ROWS) REPEATABLE (7)",
                points.clamp(2, 20_000)
            ))?;
            let mut rows = stmt.query([])?;
            let mut pts = Vec::new();
            while let Some(r) = rows.next()? {
                pts.push((r.get::<_, f64>(0)?, r.get::<_, f64>(1)?));
            }
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Plot::Line { x, y, points: pts }
        }
    })
}

fn catalog(conn: &Connection) -> Result<Catalog> {
    let mut tables: Vec<CatalogTable> = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT database_name, schema_name, table_name, column_name, data_type \
         FROM duckdb_columns() WHERE NOT internal \
         AND database_name NOT IN ('fk_mem', 'temp', 'system') \
         ORDER BY database_name, schema_name, table_name, column_index",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (db, schema, table): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let name = if schema == "main" && (db == "data" || db == "memory") {
            table
        } else if schema == "main" {
            format!("{db}.{table}")
        } else {
            format!("{db}.{schema}.{table}")
        };
        let col = Column {
            name: r.get(3)?,
            ty: r.get(4)?,
        };
        match tables.last_mut() {
            Some(t) if t.name == name => t.columns.push(col),
            _ => tables.push(CatalogTable {
                name,
                columns: vec![col],
            }),
        }
    }
    let mut functions = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT DISTINCT function_name FROM duckdb_functions() \
         WHERE function_type IN ('scalar', 'aggregate', 'table', 'macro', 'table_macro') \
         ORDER BY 1",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let f: String = r.get(0)?;
        if !f.starts_with('_') && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            functions.push(f);
        }
    }
    Ok(Catalog { tables, functions })
}

/// The kind of file, from its extension or, failing that, its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Parquet,
    Json,
    Excel,
}

pub fn file_kind(path: &Path, head: &[u8]) -> FileKind {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "parquet" | "pq" => FileKind::Parquet,
        "json" | "ndjson" | "jsonl" => FileKind::Json,
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => FileKind::Excel,
        "csv" | "tsv" | "tab" | "txt" => FileKind::Csv,
        _ if head.starts_with(b"PAR1") => FileKind::Parquet,
        _ if head.starts_with(b"PK\x03\x04") => FileKind::Excel,
        _ => match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => FileKind::Json,
            _ => FileKind::Csv,
        },
    }
}

/// Refuses files that cannot be data before DuckDB sees them, with a message that says why.
pub fn check_file(path: &Path) -> Result<(FileKind, Vec<u8>)> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    if meta.is_dir() {
        anyhow::bail!("{} is a folder, not a data file", path.display());
    }
    if meta.len() == 0 {
        anyhow::bail!("{} is empty: there is nothing to load", path.display());
    }
    let mut head = vec![0u8; 8192];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    head.truncate(n);
    let kind = file_kind(path, &head);
    if matches!(kind, FileKind::Csv | FileKind::Json) && head.contains(&0) {
        anyhow::bail!(
            "{} looks binary (it has NUL bytes), not like CSV or JSON text",
            path.display()
        );
    }
    if kind == FileKind::Parquet && !head.starts_with(b"PAR1") {
        anyhow::bail!("{} is not a Parquet file (no PAR1 header)", path.display());
    }
    Ok((kind, head))
}

/// A SQL-safe table name from a file name: `Sales 2024 (final).csv` -> `sales_2024_final`.
pub fn table_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    clean_name(&stem)
}

pub fn clean_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "data".into(),
        Some(c) if c.is_ascii_digit() => format!("t_{out}"),
        _ => out,
    }
}

/// The table function that reads a file of `kind`, bad rows skipped where the format allows.
fn reader(kind: FileKind, path: &Path, rejects: Option<(&str, &str)>) -> String {
    let p = quote_literal(&path.to_string_lossy());
    match kind {
        FileKind::Csv => match rejects {
            Some((t, s)) => format!(
                "read_csv({p}, normalize_names = true, ignore_errors = true, store_rejects = true, \
                 rejects_table = {}, rejects_scan = {})",
                quote_literal(t),
                quote_literal(s)
            ),
            None => format!("read_csv({p}, normalize_names = true, ignore_errors = true)"),
        },
        FileKind::Json => format!("read_json_auto({p})"),
        FileKind::Parquet => format!("read_parquet({p})"),
        FileKind::Excel => format!("read_csv({p}, normalize_names = true)"),
    }
}

/// Converts the first sheet of a workbook to CSV (DuckDB then detects the types).
fn excel_to_csv(path: &Path, out: &Path) -> Result<u64> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(path)
        .map_err(|e| anyhow::anyhow!("{}: not a readable workbook: {e}", path.display()))?;
    let first = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{}: the workbook has no sheets", path.display()))?;
    let range = wb
        .worksheet_range(&first)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut n = 0u64;
    for row in range.rows() {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                let s = match c {
                    Data::Empty => String::new(),
                    Data::DateTime(d) => excel_date(d.as_f64()),
                    other => other.to_string(),
                };
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s
                }
            })
            .collect();
        writeln!(w, "{}", cells.join(","))?;
        n += 1;
    }
    w.flush()?;
    if n == 0 {
        anyhow::bail!("{}: the first sheet ({first}) is empty", path.display());
    }
    Ok(n)
}

/// An Excel serial date (days since 1899-12-30, the 1900 date system) as ISO 8601.
pub fn excel_date(serial: f64) -> String {
    let days = serial.floor() as i64;
    let secs = ((serial - serial.floor()) * 86400.0).round() as i64;
    // Days since 1970-01-01, then the civil date (Howard Hinnant's algorithm).
    let z = days - 25569 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if secs == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

fn register(sh: &Shared, res: Res) -> u64 {
    let id = sh.new_id();
    if let Ok(mut r) = sh.results.lock() {
        r.insert(id, res);
    }
    id
}

fn load(
    conn: &Connection,
    pane: u64,
    seq: u64,
    source: &Source,
    view: &View,
    sh: &Shared,
) -> Result<()> {
    let mut notes = Vec::new();
    // The base relation, and whether it is already complete.
    let base: String = match source {
        Source::Table(t) => t.clone(),
        Source::File(p) => {
            let path = resolve_path(p, &sh.home);
            let (kind, _) = check_file(&path)?;
            let mut read_path = path.clone();
            if kind == FileKind::Excel {
                let tmp = std::env::temp_dir()
                    .join(format!("fieldkit-xlsx-{}-{seq}.csv", std::process::id()));
                excel_to_csv(&path, &tmp)?;
                read_path = tmp;
            }
            if kind == FileKind::Parquet {
                reader(kind, &read_path, None)
            } else {
                let name = table_name(&path);
                let table = quote_ident(&name);
                // First screen now: a preview of the first rows, shown while the rest loads.
                if view == &View::default() {
                    let pv = format!("fk_mem.p{}", sh.new_id());
                    conn.execute_batch(&format!(
                        "CREATE TABLE {pv} AS SELECT * FROM {} LIMIT {PREVIEW_ROWS}",
                        reader(kind, &read_path, None)
                    ))
                    .map_err(|e| anyhow::anyhow!(file_error(&path, &e.to_string())))?;
                    let columns = list_columns(conn, &pv)?;
                    let result = register(
                        sh,
                        Res {
                            rel: pv.clone(),
                            columns: columns.clone(),
                            owned: vec![pv.clone()],
                            key: Some((pv.clone(), "rowid".into())),
                        },
                    );
                    sh.send(
                        pane,
                        DataEvent::Loaded {
                            seq,
                            result,
                            columns,
                            rows: None,
                            notes: vec![],
                        },
                    );
                    let rej = format!("fk_rej_{seq}_{pane}");
                    let scan = format!("fk_scan_{seq}_{pane}");
                    let rejects = (kind == FileKind::Csv).then_some((rej.as_str(), scan.as_str()));
                    let what = format!(
                        "loading {}",
                        path.file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    );
                    let made = with_progress(conn, sh, pane, seq, &what, || {
                        conn.execute_batch(&format!(
                            "CREATE OR REPLACE TABLE {table} AS SELECT * FROM {}",
                            reader(kind, &read_path, rejects)
                        ))
                    });
                    if let Err(e) = made {
                        // The preview stays: the user sees what could be read, and why not more.
                        sh.send(
                            pane,
                            error_event(seq, &file_error(&path, &e.to_string()), 0),
                        );
                        return Ok(());
                    }
                    if rejects.is_some() {
                        notes.extend(reject_notes(conn, &rej));
                        conn.execute_batch(&format!(
                            "DROP TABLE IF EXISTS temp.{rej}; DROP TABLE IF EXISTS temp.{scan};"
                        ))
                        .ok();
                    }
                    sh.remember_import(&path, &table);
                    let rows = count(conn, &table)?;
                    if let Ok(mut r) = sh.results.lock() {
                        if let Some(res) = r.get_mut(&result) {
                            res.rel = table.clone();
                            res.columns = list_columns(conn, &table)?;
                            res.key = Some((table.clone(), "rowid".into()));
                        }
                    }
                    conn.execute_batch(&format!("DROP TABLE IF EXISTS {pv}"))
                        .ok();
                    if let Ok(mut r) = sh.results.lock() {
                        if let Some(res) = r.get_mut(&result) {
                            res.owned.clear();
                        }
                    }
                    if !notes.is_empty() {
                        sh.send(
                            pane,
                            DataEvent::Loaded {
                                seq,
                                result,
                                columns: sh.result(result).map(|r| r.columns).unwrap_or_default(),
                                rows: Some(rows),
                                notes,
                            },
                        );
                    } else {
                        sh.send(pane, DataEvent::Counted { seq, result, rows });
                    }
                    if kind == FileKind::Excel {
                        std::fs::remove_file(&read_path).ok();
                    }
                    return Ok(());
                }
                // A view over the file: load it fully first (a sort needs every row anyway),
                // unless this worker loaded it already and it has not changed since.
                let stamp = FileStamp::of(&path);
                let known = sh
                    .imported
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&path).cloned())
                    .filter(|(t, st)| *t == table && Some(st) == stamp.as_ref());
                if known.is_some() {
                    return finish(conn, pane, seq, source, view, sh, table, notes);
                }
                let rej = format!("fk_rej_{seq}_{pane}");
                let scan = format!("fk_scan_{seq}_{pane}");
                let rejects = (kind == FileKind::Csv).then_some((rej.as_str(), scan.as_str()));
                with_progress(conn, sh, pane, seq, "loading", || {
                    conn.execute_batch(&format!(
                        "CREATE OR REPLACE TABLE {table} AS SELECT * FROM {}",
                        reader(kind, &read_path, rejects)
                    ))
                })
                .map_err(|e| anyhow::anyhow!(file_error(&path, &e.to_string())))?;
                if rejects.is_some() {
                    notes.extend(reject_notes(conn, &rej));
                }
                sh.remember_import(&path, &table);
                table
            }
        }
        Source::Query { sql, dialect } => {
            match run_query(conn, pane, seq, sql, dialect.as_deref(), sh)? {
                Some(t) => t,
                None => return Ok(()),
            }
        }
    };
    finish(conn, pane, seq, source, view, sh, base, notes)
}

/// Applies the view to `base` (a new table when sorted or filtered) and reports the result.
#[allow(clippy::too_many_arguments)]
fn finish(
    conn: &Connection,
    pane: u64,
    seq: u64,
    source: &Source,
    view: &View,
    sh: &Shared,
    base: String,
    notes: Vec<String>,
) -> Result<()> {
    let mut owned = Vec::new();
    let rel = if view == &View::default() {
        base
    } else {
        let t = format!("fk_mem.v{}", sh.new_id());
        let mut sql = format!("CREATE TABLE {t} AS SELECT * FROM {base}");
        if let Some(f) = &view.filter {
            sql.push_str(&format!(" WHERE ({f})"));
        }
        if let Some((c, desc)) = &view.sort {
            sql.push_str(&format!(
                " ORDER BY {} {} NULLS LAST",
                quote_ident(c),
                if *desc { "DESC" } else { "ASC" }
            ));
        }
        with_progress(conn, sh, pane, seq, "sorting and filtering", || {
            conn.execute_batch(&sql)
        })
        .map_err(|e| anyhow::anyhow!("{}", tidy_error(&e.to_string())))?;
        owned.push(t.clone());
        t
    };
    // A query's own table belongs to its result too.
    if matches!(source, Source::Query { .. }) && !owned.contains(&rel) {
        owned.push(rel.clone());
    }
    let columns = list_columns(conn, &rel)?;
    let rows = count(conn, &rel)?;
    let key = window_key(conn, &rel);
    let result = register(
        sh,
        Res {
            rel,
            columns: columns.clone(),
            owned,
            key,
        },
    );
    sh.send(
        pane,
        DataEvent::Loaded {
            seq,
            result,
            columns,
            rows: Some(rows),
            notes,
        },
    );
    Ok(())
}

/// How windows of `rel` can be read by row number (see `Res::key`).
fn window_key(conn: &Connection, rel: &str) -> Option<(String, String)> {
    if let Some(args) = rel
        .strip_prefix("read_parquet(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some((
            format!("read_parquet({args}, file_row_number = true)"),
            "file_row_number".into(),
        ));
    }
    // A table whose rows were never deleted numbers them 0..n.
    let gapless: bool = conn
        .query_row(
            &format!("SELECT count(*) = coalesce(max(rowid) + 1, 0) FROM {rel}"),
            [],
            |r| r.get(0),
        )
        .ok()?;
    gapless.then(|| (rel.to_string(), "rowid".into()))
}

fn file_error(path: &Path, e: &str) -> String {
    format!("{}: {}", path.display(), tidy_error(e))
}

/// "12 bad rows skipped; first at line 5: ..." from DuckDB's rejects table: every row
/// `ignore_errors` left out, whatever was wrong with it (too many or too few fields, a value
/// that does not cast, bytes that are not UTF-8, a line over the limit).
fn reject_notes(conn: &Connection, table: &str) -> Vec<String> {
    // DuckDB stores one reject per error, not per row (a row with two extra fields has two),
    // so the rows skipped are the distinct lines.
    let n: i64 = conn
        .query_row(
            &format!("SELECT count(DISTINCT (file_id, line)) FROM {table}"),
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    if n == 0 {
        return vec![];
    }
    let first: Option<(i64, String)> = conn
        .query_row(
            &format!("SELECT line, error_message FROM {table} ORDER BY line LIMIT 1"),
            [],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )
        .ok();
    let mut s = format!("{n} bad row{} skipped", if n == 1 { "" } else { "s" });
    if let Some((line, msg)) = first {
        s.push_str(&format!(
            "; first at line {line}: {}",
            msg.lines().next().unwrap_or("")
        ));
    }
    vec![s]
}

/// Runs a query source: every statement but the last as is; the last materialised so that it
/// can be windowed, sorted and exported. `None` when it returned no rows (a `Done` was sent).
fn run_query(
    conn: &Connection,
    pane: u64,
    seq: u64,
    sql: &str,
    dialect: Option<&str>,
    sh: &Shared,
) -> Result<Option<String>> {
    let text = match dialect {
        Some(d) if d != "duckdb" => match dialect::translate(sql, d) {
            Ok(t) => t,
            Err(e) => {
                sh.send(
                    pane,
                    DataEvent::Error {
                        seq,
                        message: e.message,
                        line: e.line,
                        column: e.column,
                    },
                );
                return Ok(None);
            }
        },
        _ => sql.to_string(),
    };
    let stmts = split_statements(&text);
    let Some((last, body)) = stmts.split_last() else {
        sh.send(
            pane,
            DataEvent::Done {
                seq,
                message: "nothing to run".into(),
            },
        );
        return Ok(None);
    };
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() as u32;
    for (off, s) in body {
        if let Err(e) = conn.execute_batch(s) {
            sh.send(
                pane,
                shift_error(error_event(seq, &e.to_string(), 0), line_of(*off)),
            );
            return Ok(None);
        }
    }
    let (off, s) = *last;
    let t = format!("fk_mem.q{}", sh.new_id());
    // The newline after the wrapper keeps DuckDB's line numbers one off, columns exact.
    let wrapped = format!("CREATE TABLE {t} AS SELECT * FROM (\n{s}\n)");
    match with_progress(conn, sh, pane, seq, "running", || {
        conn.execute_batch(&wrapped)
    }) {
        Ok(()) => Ok(Some(t)),
        Err(e) => {
            let msg = e.to_string();
            if !msg.starts_with("Parser Error") {
                sh.send(pane, shift_error(error_event(seq, &msg, 1), line_of(off)));
                return Ok(None);
            }
            // Not a query (DDL, DML, PRAGMA): run it as it is.
            match with_progress(conn, sh, pane, seq, "running", || conn.execute(s, [])) {
                Ok(n) => {
                    let verb = s
                        .split_whitespace()
                        .next()
                        .unwrap_or("statement")
                        .to_uppercase();
                    let message = match verb.as_str() {
                        "INSERT" | "UPDATE" | "DELETE" => format!("{verb}: {n} rows changed"),
                        _ => format!("{verb} done"),
                    };
                    sh.send(pane, DataEvent::Done { seq, message });
                    Ok(None)
                }
                Err(e) => {
                    sh.send(
                        pane,
                        shift_error(error_event(seq, &e.to_string(), 0), line_of(off)),
                    );
                    Ok(None)
                }
            }
        }
    }
}

/// Moves an error's line down by the lines before its statement in the sent text.
fn shift_error(ev: DataEvent, lines_before: u32) -> DataEvent {
    match ev {
        DataEvent::Error {
            seq,
            message,
            line,
            column,
        } => DataEvent::Error {
            seq,
            message,
            line: line.map(|l| l + lines_before),
            column,
        },
        other => other,
    }
}

/// Reads SQL from a `-` argument.
pub fn read_stdin_sql() -> Result<String> {
    let mut s = String::new();
    for line in std::io::stdin().lock().lines() {
        s.push_str(&line?);
        s.push('\n');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_positions_come_from_duckdbs_caret() {
        let msg = "Parser Error: syntax error at or near \"FORM\"\n\nLINE 1: SELECT * FORM t\n                 ^";
        assert_eq!(error_position(msg), Some((1, 10)));
        assert_eq!(
            tidy_error(msg),
            "Parser Error: syntax error at or near \"FORM\""
        );
        assert_eq!(error_position("Catalog Error: no"), None);
    }

    #[test]
    fn names_are_cleaned_for_sql() {
        assert_eq!(clean_name("Sales 2024 (final)"), "sales_2024_final");
        assert_eq!(clean_name("2024"), "t_2024");
        assert_eq!(clean_name("***"), "data");
    }

    #[test]
    fn excel_serial_dates_become_iso() {
        assert_eq!(excel_date(45351.0), "2024-02-29");
        assert_eq!(excel_date(25569.5), "1970-01-01 12:00:00");
    }

    #[test]
    fn memory_limit_percent_becomes_a_size() {
        assert!(memory_limit_value("50%").ends_with("MiB"));
        assert_eq!(memory_limit_value("4GB"), "4GB");
    }
}
