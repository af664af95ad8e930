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

This file holds the worker (its messages, lanes, jobs, loads and queries); `files` knows the
files it reads, `errors` how DuckDB's errors are told, `analysis` the whole-result work (stats,
plots, catalog, export), `results` how files and queries become results.
*/

mod analysis;
mod errors;
mod files;
mod results;

pub use analysis::export;
use analysis::*;
use errors::*;
pub use errors::{error_position, tidy_error};
use files::*;
pub use files::{check_file, clean_name, excel_date, file_kind, table_name, FileKind};
use results::*;

use crate::format::dialect;
use crate::paths::Dirs;
use crate::wire;
use anyhow::{Context, Result};
use duckdb::Connection;
use fieldkit_panes::data::{
    quote_ident, quote_literal, split_statements, Catalog, CatalogTable, Cell, Column, DataEvent,
    DataRequest, Plot, PlotAsk, Source, View,
};
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use fieldkit_messages::data::{DataIn, DataOut};

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
    /// Jobs running now, in any lane (browsing's cache is trimmed only when none is), and the
    /// lock that keeps a job from starting while it is (see `trim_browse_cache`).
    busy: Arc<Mutex<usize>>,
    /// `memory_limit` as configured, to restore after a trim.
    memory_limit: String,
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
            let total = crate::config::total_memory();
            if total > 0 {
                let mib = (total as f64 * p.clamp(1.0, 100.0) / 100.0 / 1048576.0) as u64;
                return format!("{}MiB", mib.max(64));
            }
        }
    }
    t.to_string()
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
        busy: Arc::new(Mutex::new(0)),
        memory_limit: memory_limit_value(&cfg.memory_limit),
    };
    let hello = DataOut::Hello {
        pid: std::process::id(),
        version: fieldkit_messages::VERSION,
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
                    shared.send(pane, error_event(req.seq(), &e.to_string(), "", 0));
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
                let seq = req.seq();
                let forget = matches!(req, DataRequest::Forget { .. });
                if tag < ep.load(Ordering::SeqCst) && !forget {
                    sh.send(
                        pane,
                        error_event(seq, "Interrupted: cancelled before it started", "", 0),
                    );
                    continue;
                }
                run.store(tag, Ordering::SeqCst);
                if let Ok(mut b) = sh.busy.lock() {
                    *b += 1;
                }
                if let Err(e) = job(&job_conn, pane, req, &sh) {
                    sh.send(pane, error_event(seq, &format!("{e:#}"), "", 0));
                }
                if let Ok(mut b) = sh.busy.lock() {
                    *b = b.saturating_sub(1);
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
                        Err(e) => sh.send(pane, error_event(seq, &format!("{e:#}"), "", 0)),
                    }
                    // After the window is on its way, so the frame never waits for it.
                    trim_browse_cache(&win_conn, &sh);
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

/// What browsing may keep of a table's blocks in DuckDB's buffer pool.
const BROWSE_KEEP: i64 = 8 << 20;

/// Lets go of the table blocks that jumps around a table left in DuckDB's buffer pool, so the
/// worker's memory follows the screen, not the table. DuckDB keeps every block it read until
/// `memory_limit` presses; a jump through 100 million rows touched hundreds of row groups. So
/// when the pool holds more than `BROWSE_KEEP` of base-table blocks (which are on disk and cost
/// nothing to drop) and no job is running, the limit is lowered to what the rest needs plus
/// `BROWSE_KEEP` (DuckDB evicts to meet it) and set back, and the freed heap is returned to the
/// system. In-memory results (fk_mem) are never pushed out, and a job cannot start meanwhile
/// (it waits on `busy`).
fn trim_browse_cache(conn: &Connection, sh: &Shared) {
    let Ok(busy) = sh.busy.lock() else { return };
    if *busy > 0 || sh.memory_limit.is_empty() {
        return;
    }
    let usage = conn.query_row(
        "SELECT coalesce(sum(memory_usage_bytes) FILTER (WHERE tag = 'BASE_TABLE'), 0)::BIGINT, \
         coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    );
    let Ok((base, all)) = usage else { return };
    if base <= BROWSE_KEEP {
        return;
    }
    let target = (all - base + BROWSE_KEEP).max(BROWSE_KEEP);
    let lowered = conn.execute_batch(&format!("SET memory_limit = '{}KiB'", target / 1024));
    if let Err(e) = conn.execute_batch(&format!(
        "SET memory_limit = {}",
        quote_literal(&sh.memory_limit)
    )) {
        tracing::warn!("memory_limit not restored after trimming the browse cache: {e}");
    }
    if lowered.is_ok() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::malloc_trim(0);
        }
    }
    drop(busy);
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
                 q25, q50, q75, count, null_percentage FROM (SUMMARIZE SELECT * FROM {})",
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
        assert_eq!(error_position(msg, "SELECT * FORM t", 0), Some((1, 10)));
        assert_eq!(
            tidy_error(msg),
            "Parser Error: syntax error at or near \"FORM\""
        );
        assert_eq!(error_position("Catalog Error: no", "", 0), None);
        // A long line shown as a window around the error: the column is the statement's.
        let sql =
            "SELECT * FROM 'flights.csv' f JOIN 'airlines.csv' a ON f.carrier = a.carrier LIMT 5";
        let msg = "Parser Error: syntax error at or near \"LIMT\"\n\nLINE 1: ...'flights.csv' f JOIN 'airlines.csv' a ON f.carrier = a.carrier LIMT 5\n                                                                          ^";
        let want = sql.find("LIMT").expect("LIMT") as u32 + 1;
        assert_eq!(error_position(msg, sql, 0), Some((1, want)));
        // ... on the second line of a wrapped statement.
        assert_eq!(
            error_position(&msg.replace("LINE 1", "LINE 2"), sql, 1),
            Some((2, want))
        );
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
