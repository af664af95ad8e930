//! Data benchmarks, each beside its peer in the same run where the issue names one:
//!
//! 1. first screen of a generated 1 GB CSV with the worker started cold for each run, as when a
//!    user opens a file, and the full load's time beside it, vs the duckdb 2.0 Python module
//!    reading the same file into a table; then the first screen of its Parquet (goal < 200 ms);
//! 2. a full-scan aggregate on the Parquet: the grid's own path (the worker over its pipes, as
//!    the pane asks) and `fieldkit sql`, beside the duckdb 2.0 Python module, same threads and
//!    memory limit, the answers compared (goal <= 1.05x);
//! 3. scroll frames at row 0, the middle and the end of a 100M-row table (goal < 16 ms each):
//!    fetching the window from the worker plus drawing the grid pane;
//! 4. the worker's peak memory while scrolling, as the table grows (goal: flat);
//! 5. how long a cancelled query takes to stop (goal under a second).
//!
//! The peer is the PyPI `duckdb` module that `./setup` installs (`tools::python()`), the same
//! DuckDB version as the bundled library (checked, or the bench stops); it runs in a process of
//! its own and times each statement inside itself, so Python's start-up is not counted.
//! The generated files are cached in the temp dir (`fieldkit-bench-*.csv`/`.parquet`).
//!
//! `cargo bench --bench data` (FIELDKIT_BENCH_QUICK=1: a 20 MB CSV, small tables, fewer runs;
//! FIELDKIT_BENCH_GB sets the CSV's size; FIELDKIT_BENCH_THREADS DuckDB's threads on both sides,
//! default every core).

#[path = "common/duckdb_peer.rs"]
mod duckdb_peer;
#[path = "../tests/common/tools.rs"]
mod tools;
#[path = "../tests/common/worker.rs"]
mod worker;

use duckdb_peer::Peer;
use fieldkit_panes::data::{DataEvent, DataRequest, Source, View};
use fieldkit_panes::{Cx, Effect, EngineEvent, EngineRequest, GridPane, Pane, RenderCx, Theme};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use worker::Worker;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fieldkit"))
}

fn sql(home: &Path, db: &str, q: &str) -> String {
    let out = Command::new(bin())
        .args(["sql", "--db", db, "--format", "csv", q])
        .env("FIELDKIT_HOME", home)
        .output()
        .expect("fieldkit sql");
    assert!(
        out.status.success(),
        "{q}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (min, median, max), formatted.
fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    format!(
        "{:.0} / {:.0} / {:.0} ms",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

/// Rows as CSV lines without quoting (NULL as empty), as `fieldkit sql --format csv` prints
/// these answers once its quotes are removed.
fn csv_lines(rows: &[Vec<Option<String>>]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|c| c.clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak resident memory of a process so far (VmHWM), in MiB.
fn peak_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// What the grid got for one Load: when its first screen of rows arrived, the rows, and
/// whether the whole result was in by then.
struct FirstScreen {
    ms: f64,
    rows: Vec<Vec<Option<String>>>,
    complete: bool,
}

/// Loads `source` as the pane does and asks for the first `limit` rows as soon as the result
/// exists; timed from `t` to the rows' arrival.
fn first_screen(w: &mut Worker, pane: u64, source: Source, limit: u32, t: Instant) -> FirstScreen {
    let seq = w.next_seq();
    w.send(
        pane,
        DataRequest::Load {
            seq,
            source,
            view: View::default(),
        },
    );
    let loaded = w.until(pane, |e| {
        matches!(e, DataEvent::Loaded { .. } | DataEvent::Error { .. })
    });
    let Some(DataEvent::Loaded { result, rows, .. }) = loaded.last().cloned() else {
        panic!("{loaded:?}")
    };
    let mut complete = rows.is_some();
    let rseq = w.next_seq();
    w.send(
        pane,
        DataRequest::Rows {
            seq: rseq,
            result,
            offset: 0,
            limit,
            first_col: 0,
            cols: 64,
        },
    );
    let evs = w.until(
        pane,
        |e| matches!(e, DataEvent::Rows { seq, .. } if *seq == rseq),
    );
    let ms = ms(t.elapsed());
    let mut rows = Vec::new();
    for e in evs {
        match e {
            DataEvent::Counted { .. } | DataEvent::Loaded { rows: Some(_), .. } => complete = true,
            DataEvent::Rows { rows: r, .. } => rows = r,
            _ => {}
        }
    }
    FirstScreen { ms, rows, complete }
}

/// Waits for the background load to finish; returns the rows it counted.
fn wait_loaded(w: &Worker, pane: u64) -> u64 {
    let evs = w.until(pane, |e| {
        matches!(
            e,
            DataEvent::Counted { .. }
                | DataEvent::Loaded { rows: Some(_), .. }
                | DataEvent::Error { .. }
        )
    });
    match evs.last() {
        Some(DataEvent::Counted { rows, .. }) => *rows,
        Some(DataEvent::Loaded { rows: Some(r), .. }) => *r,
        other => panic!("load failed: {other:?}"),
    }
}

/// Carries the pane's requests to the worker and the answers back, as the server does, until
/// nothing is outstanding.
fn pump(w: &mut Worker, pane: &mut GridPane, mut cx: Cx) {
    loop {
        let reqs: Vec<DataRequest> = cx
            .effects
            .drain(..)
            .filter_map(|e| match e {
                Effect::Engine(EngineRequest::Data(r)) => Some(r),
                _ => None,
            })
            .filter(|r| !matches!(r, DataRequest::Forget { .. }))
            .collect();
        if reqs.is_empty() {
            return;
        }
        let mut waiting = 0;
        for r in reqs {
            waiting += 1;
            w.send(99, r);
        }
        let mut next = Cx::default();
        while waiting > 0 {
            let evs = w.until(99, |e| {
                matches!(
                    e,
                    DataEvent::Rows { .. }
                        | DataEvent::Loaded { rows: Some(_), .. }
                        | DataEvent::Counted { .. }
                        | DataEvent::Error { .. }
                )
            });
            waiting -= 1;
            for e in evs {
                pane.on_engine(EngineEvent::Data(e), &mut next);
            }
        }
        cx = next;
    }
}

fn draw(pane: &mut GridPane) {
    let mut buf = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 200, 60));
    let theme = Theme::default();
    pane.render(
        buf.area,
        &mut buf,
        &RenderCx {
            theme: &theme,
            focused: true,
            retained: false,
        },
    );
}

/// One scroll frame: the grid jumps to `row`, its windows come from the worker, it is drawn
/// at 200x60 with the rows in place.
fn frame(w: &mut Worker, pane: &mut GridPane, row: u64) -> f64 {
    let t = Instant::now();
    let mut cx = Cx::default();
    pane.goto(row, &mut cx);
    pump(w, pane, cx);
    draw(pane);
    ms(t.elapsed())
}

/// A CSV of `rows` generated rows and its Parquet, cached in the temp dir (made once; a file
/// appears only complete).
fn generated(home: &Path, rows: u64) -> (PathBuf, PathBuf, Option<f64>) {
    let tmp = std::env::temp_dir();
    let csv = tmp.join(format!("fieldkit-bench-{rows}rows.csv"));
    let parquet = tmp.join(format!("fieldkit-bench-{rows}rows.parquet"));
    let t = Instant::now();
    let cached = csv.exists() && parquet.exists();
    if !csv.exists() {
        let part = tmp.join(format!(
            "fieldkit-bench-{rows}rows.{}.csv",
            std::process::id()
        ));
        sql(home, ":memory:", &format!(
            "COPY (SELECT range AS id, 'station-' || (range % 977) AS station, (range * 7919 % 100003) / 100.0 AS depth, \
             DATE '2020-01-01' + (range % 1500)::INT AS day, hash(range) % 1000000 AS reading, \
             md5(range::VARCHAR) AS tag FROM range({rows})) TO '{}' (FORMAT csv, HEADER)",
            part.display()
        ));
        std::fs::rename(&part, &csv).expect("csv");
    }
    if !parquet.exists() {
        let part = tmp.join(format!(
            "fieldkit-bench-{rows}rows.{}.parquet",
            std::process::id()
        ));
        sql(
            home,
            ":memory:",
            &format!(
                "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
                csv.display(),
                part.display()
            ),
        );
        std::fs::rename(&part, &parquet).expect("parquet");
    }
    (csv, parquet, (!cached).then(|| t.elapsed().as_secs_f64()))
}

/// A FIELDKIT_HOME whose DuckDB has `threads` threads and `memory_limit`, with `extra` config.
fn home_in(dir: &Path, threads: usize, memory_limit: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("config")).expect("home");
    std::fs::create_dir_all(dir.join("files")).ok();
    std::fs::write(
        dir.join("config/config.toml"),
        format!("[data]\nthreads = {threads}\nmemory_limit = \"{memory_limit}\"\n{extra}"),
    )
    .expect("config");
    dir.to_path_buf()
}

fn main() {
    let quick = std::env::var_os("FIELDKIT_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let tmp = tempfile::Builder::new()
        .prefix("fkb")
        .tempdir()
        .expect("home");
    let threads: usize = std::env::var("FIELDKIT_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // Both sides get the same limit, spelled as fieldkit turns its default 50% into one.
    let memory_limit = fieldkit::engine::data::memory_limit_value("50%");
    let home = home_in(tmp.path(), threads, &memory_limit, "");
    let home = home.as_path();
    let gb: f64 = std::env::var("FIELDKIT_BENCH_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 0.02 } else { 1.0 });
    let runs = if quick { 2 } else { 5 };

    let bundled = sql(home, ":memory:", "SELECT version()");
    let bundled = bundled
        .lines()
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_start_matches('v')
        .to_string();
    // FIELDKIT_BENCH_ONLY=scroll: parts 3 and 4 alone.
    if std::env::var("FIELDKIT_BENCH_ONLY").as_deref() == Ok("scroll") {
        scroll(tmp.path(), threads, &memory_limit, quick);
        return;
    }
    let mut peer = Peer::start(":memory:", threads, &memory_limit);
    assert_eq!(
        bundled, peer.version,
        "the peer must be the bundled DuckDB's version: fieldkit has {bundled}, the duckdb module {} (run ./setup)",
        peer.version
    );
    println!(
        "data benchmarks: DuckDB {bundled} in fieldkit (bundled) and in the peer (PyPI duckdb {} in {}), {threads} threads and memory_limit {memory_limit} on both sides{}",
        peer.version,
        tools::python().display(),
        if quick { "; quick mode (FIELDKIT_BENCH_QUICK)" } else { "" }
    );

    // 1. First screen of a 1 GB CSV, the worker started cold, and the full load beside it.
    let rows = (gb * 13_000_000.0) as u64;
    let (csv, parquet, made) = generated(home, rows);
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "  {:.2} GB CSV ({rows} rows, 6 columns) and its Parquet: {}; read once before timing, so the page cache is warm for both sides",
        size as f64 / 1e9,
        made.map_or("cached".to_string(), |s| format!("generated in {s:.1} s"))
    );
    // Warm the page cache for everyone.
    if let Ok(mut f) = std::fs::File::open(&csv) {
        let _ = std::io::copy(&mut f, &mut std::io::sink());
    }
    let (mut fk_first, mut fk_full, mut py_full) = (vec![], vec![], vec![]);
    for i in 0..runs {
        let h = home_in(
            &tmp.path().join(format!("cold{i}")),
            threads,
            &memory_limit,
            "",
        );
        let t = Instant::now();
        let mut w = Worker::start_in(&bin(), &h);
        let first = first_screen(
            &mut w,
            1,
            Source::File(csv.to_string_lossy().into_owned()),
            60,
            t,
        );
        assert!(!first.rows.is_empty(), "no rows on the first screen");
        let n = if first.complete {
            rows
        } else {
            wait_loaded(&w, 1)
        };
        fk_full.push(ms(t.elapsed()));
        fk_first.push(first.ms);
        assert_eq!(n, rows, "fieldkit loaded {n} rows of {rows}");
        drop(w);
        std::fs::remove_dir_all(&h).ok();

        let db = tmp.path().join(format!("peer{i}.duckdb"));
        let mut p = Peer::start(&db.to_string_lossy(), threads, &memory_limit);
        let (ms_load, _) = p.query(&format!(
            "CREATE TABLE big AS SELECT * FROM read_csv('{}')",
            csv.display()
        ));
        let (_, count) = p.query("SELECT count(*) FROM big");
        assert_eq!(
            count[0][0].as_deref(),
            Some(rows.to_string().as_str()),
            "the duckdb module loaded another row count"
        );
        py_full.push(ms_load);
        drop(p);
        std::fs::remove_file(&db).ok();
    }
    println!("  method: fieldkit: from spawning `fieldkit __worker data` (a cold process, a new FIELDKIT_HOME each run) to the first 60 rows arriving over its pipe (first screen),");
    println!("          and to its `Counted` (the whole file in a table of its database file, read_csv with ignore_errors and store_rejects, after sniffing it twice for missing-value tokens) (full load);");
    println!("          peer: `CREATE TABLE big AS SELECT * FROM read_csv(...)` into a new database file, timed inside Python. {runs} runs each, interleaved; min / median / max:");
    println!(
        "  first screen, {:.2} GB CSV, cold worker: {} (goal median < 200 ms)",
        size as f64 / 1e9,
        spread(&fk_first)
    );
    println!(
        "  full load, fieldkit worker:          {}",
        spread(&fk_full)
    );
    println!(
        "  full load, duckdb module:            {}   ratio of medians {:.2}x",
        spread(&py_full),
        median(fk_full.clone()) / median(py_full.clone())
    );

    // The Parquet opens in place: first screen on a warm worker.
    let mut w = Worker::start_in(&bin(), home);
    let mut pq_ms = Vec::new();
    for i in 0..3 {
        let f = first_screen(
            &mut w,
            20 + i,
            Source::File(parquet.to_string_lossy().into_owned()),
            60,
            Instant::now(),
        );
        pq_ms.push(f.ms);
    }
    println!(
        "  first screen, its Parquet (worker running, Load to the first 60 rows): {} over 3 (goal < 200 ms)",
        spread(&pq_ms)
    );

    // 2. Full-scan aggregate, same Parquet file, same query, every answer compared. The
    // aggregates are exact (integers, decimals) and cast to text by DuckDB on each side.
    let q = format!(
        "SELECT station, count(*)::VARCHAR AS n, sum(depth::DECIMAL(18,2))::VARCHAR AS d, max(reading)::VARCHAR AS r FROM read_parquet('{}') GROUP BY station ORDER BY station",
        parquet.display()
    );
    let (mut grid, mut cli, mut py) = (vec![], vec![], vec![]);
    for i in 0..runs {
        let (pms, prows) = peer.query(&q);
        py.push(pms);
        let expect = csv_lines(&prows);
        let t = Instant::now();
        let out = sql(home, ":memory:", &q);
        cli.push(ms(t.elapsed()));
        let got: Vec<String> = out.lines().skip(1).map(|l| l.replace('"', "")).collect();
        assert!(
            got == expect,
            "fieldkit sql and the duckdb module disagree:\n{:.400}\n---\n{:.400}",
            got.join("\n"),
            expect.join("\n")
        );
        let f = first_screen(
            &mut w,
            40 + i as u64,
            Source::Query {
                sql: q.clone(),
                dialect: None,
            },
            1000,
            Instant::now(),
        );
        grid.push(f.ms);
        let got = csv_lines(&f.rows);
        assert!(
            got == expect,
            "the grid's worker and the duckdb module disagree:\n{:.400}\n---\n{:.400}",
            got.join("\n"),
            expect.join("\n")
        );
    }
    let (g, c, p) = (
        median(grid.clone()),
        median(cli.clone()),
        median(py.clone()),
    );
    println!(
        "  full-scan aggregate over the Parquet ({} groups, answers equal on all three sides in every run; {runs} runs, interleaved):",
        expect_groups(rows)
    );
    println!(
        "    grid's path (Load of the query to its rows over the worker's pipe; the worker materialises the result): {}",
        spread(&grid)
    );
    println!(
        "    fieldkit sql (the whole process: start, open, run, print CSV):                                         {}",
        spread(&cli)
    );
    println!(
        "    duckdb module (execute + fetchall, timed inside Python):                                               {}",
        spread(&py)
    );
    println!(
        "    ratio of medians to the duckdb module: grid {:.2}x, fieldkit sql {:.2}x (goal <= 1.05x)",
        g / p,
        c / p
    );
    drop(peer);

    scroll(tmp.path(), threads, &memory_limit, quick);

    // 5. Cancel. (A worker of its own: the first one still holds this home's database.)
    drop(w);
    let mut w = Worker::start_in(&bin(), home);
    let mut stops = Vec::new();
    for _ in 0..3 {
        w.start_endless_query(5);
        let t = Instant::now();
        w.send(5, DataRequest::Cancel);
        w.until(5, |e| matches!(e, DataEvent::Error { .. }));
        stops.push(ms(t.elapsed()));
    }
    println!(
        "  cancel to stopped: {:.1} ms median of 3 (goal < 1000 ms)",
        median(stops)
    );
}

/// Groups of the aggregate: stations present among `rows` rows.
fn expect_groups(rows: u64) -> u64 {
    rows.min(977)
}

/// 3 and 4. Scroll frames and peak memory over tables of growing size.
fn scroll(tmp: &Path, threads: usize, memory_limit: &str, quick: bool) {
    let home = home_in(&tmp.join("scroll-home"), threads, memory_limit, "");
    let home = home.as_path();
    let sizes: &[u64] = if quick {
        &[100_000, 1_000_000]
    } else {
        &[1_000_000, 10_000_000, 100_000_000]
    };
    println!("  scroll frames (the grid jumps to a row, fetches its window from the worker, draws 200x60):");
    for &n in sizes {
        let db = tmp.join(format!("scroll-{n}.duckdb"));
        let t = Instant::now();
        sql(home, &db.to_string_lossy(), &format!(
            "CREATE TABLE big AS SELECT range AS id, range % 977 AS station, (range * 7919 % 100003) / 100.0 AS depth, \
             hash(range) % 1000000 AS reading FROM range({n})"
        ));
        let made = t.elapsed().as_secs_f64();
        let cfg_home = home_in(
            &tmp.join(format!("h{n}")),
            threads,
            memory_limit,
            &format!("database = \"{}\"\n", db.display()),
        );
        let mut w = Worker::start_in(&bin(), &cfg_home);
        let pid = w.child.id();
        let mut pane = GridPane::with_source(Source::Table("big".into()), View::default());
        let mut cx = Cx::default();
        pane.on_engine(EngineEvent::Ready, &mut cx);
        pump(&mut w, &mut pane, cx);
        draw(&mut pane);
        // From here on, the peak is the scrolling's alone (5 resets VmHWM to the current RSS).
        let loaded = peak_mib(pid);
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").ok();
        let mut frames = Vec::new();
        let positions = [0, n / 2, n - 1];
        let mut by_pos = Vec::new();
        for &row in &positions {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(frame(&mut w, &mut pane, row));
            }
            by_pos.push(v.iter().cloned().fold(0.0, f64::max));
            frames.extend(v);
        }
        // A scroll through the table: 200 jumps spread over it.
        for k in 0..200u64 {
            frames.push(frame(&mut w, &mut pane, (n - 1) * k / 199));
        }
        let worst = frames.iter().cloned().fold(0.0, f64::max);
        println!(
            "    {n:>11} rows (made in {made:.1} s): frame at top {:.2} ms, middle {:.2} ms, end {:.2} ms; worst of {} frames {:.2} ms (goal < 16); worker peak {:.0} MiB after loading, {:.0} MiB while scrolling",
            by_pos[0], by_pos[1], by_pos[2], frames.len(), worst, loaded, peak_mib(pid)
        );
        drop(w);
        std::fs::remove_file(&db).ok();
    }
}
