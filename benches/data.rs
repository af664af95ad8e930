//! Data benchmarks, each beside its peer in the same run where the issue names one:
//!
//! 1. first screen of a generated 1 GB CSV and of its Parquet (goal under 200 ms);
//! 2. a full-scan aggregate, `fieldkit sql` vs the duckdb CLI (goal <= 1.05x);
//! 3. scroll frames at row 0, the middle and the end of a 100M-row table (goal < 16 ms each):
//!    fetching the window from the worker plus drawing the grid pane;
//! 4. the worker's peak memory while scrolling, as the table grows (goal: flat);
//! 5. how long a cancelled query takes to stop (goal under a second).
//!
//! `cargo bench --bench data` (FIELDKIT_BENCH_GB=0.2 for a smaller CSV while trying things).

#[path = "../tests/common/worker.rs"]
mod worker;

use fieldkit_panes::data::{DataEvent, DataRequest, Source, View};
use fieldkit_panes::{Cx, Effect, EngineEvent, EngineRequest, GridPane, Pane, RenderCx, Theme};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use worker::Worker;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fieldkit"))
}

fn duckdb_cli() -> String {
    std::env::var("DUCKDB_CLI").unwrap_or_else(|_| "duckdb".into())
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

/// Load to the first screen's rows: (ms to the first rows, the result id).
fn first_screen(w: &mut Worker, pane: u64, source: Source) -> (f64, u64) {
    let seq = w.next_seq();
    let t = Instant::now();
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
    let Some(DataEvent::Loaded { result, .. }) = loaded.last().cloned() else {
        panic!("{loaded:?}")
    };
    let rseq = w.next_seq();
    w.send(
        pane,
        DataRequest::Rows {
            seq: rseq,
            result,
            offset: 0,
            limit: 60,
            first_col: 0,
            cols: 64,
        },
    );
    w.until(
        pane,
        |e| matches!(e, DataEvent::Rows { seq, .. } if *seq == rseq),
    );
    (ms(t.elapsed()), result)
}

fn wait_loaded(w: &Worker, pane: u64) {
    w.until(pane, |e| {
        matches!(
            e,
            DataEvent::Counted { .. }
                | DataEvent::Loaded { rows: Some(_), .. }
                | DataEvent::Error { .. }
        )
    });
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

fn main() {
    let home = tempfile::Builder::new()
        .prefix("fkb")
        .tempdir()
        .expect("home");
    let home = home.path();
    std::fs::create_dir_all(home.join("files")).ok();
    let gb: f64 = std::env::var("FIELDKIT_BENCH_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    println!(
        "data benchmarks (DuckDB in the worker vs the duckdb CLI {})",
        cli_version()
    );

    // 1. First screen of a 1 GB CSV and its Parquet.
    let csv = home.join("files/big.csv");
    let parquet = home.join("files/big.parquet");
    let rows = (gb * 13_000_000.0) as u64;
    let t = Instant::now();
    sql(home, ":memory:", &format!(
        "COPY (SELECT range AS id, 'station-' || (range % 977) AS station, (range * 7919 % 100003) / 100.0 AS depth, \
         DATE '2020-01-01' + (range % 1500)::INT AS day, hash(range) % 1000000 AS reading, \
         md5(range::VARCHAR) AS tag FROM range({rows})) TO '{}' (FORMAT csv, HEADER)",
        csv.display()
    ));
    sql(
        home,
        ":memory:",
        &format!(
            "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
            csv.display(),
            parquet.display()
        ),
    );
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "  generated {:.2} GB CSV ({rows} rows) and its Parquet in {:.1} s",
        size as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );

    let mut w = Worker::start_in(&bin(), home);
    let mut csv_ms = Vec::new();
    let mut pq_ms = Vec::new();
    for i in 0..3 {
        let (c, _) = first_screen(
            &mut w,
            10 + i,
            Source::File(csv.to_string_lossy().into_owned()),
        );
        csv_ms.push(c);
        // Let the background load finish before the next round.
        wait_loaded(&w, 10 + i);
        let (p, _) = first_screen(
            &mut w,
            20 + i,
            Source::File(parquet.to_string_lossy().into_owned()),
        );
        pq_ms.push(p);
    }
    println!(
        "  first screen, 1 GB CSV:     {:7.1} ms median of 3 (goal < 200 ms)",
        median(csv_ms)
    );
    println!(
        "  first screen, its Parquet:  {:7.1} ms median of 3 (goal < 200 ms)",
        median(pq_ms)
    );

    // 2. Full-scan aggregate, same Parquet file, same query.
    let q = format!(
        "SELECT station, count(*) AS n, round(avg(depth), 6) AS d, max(reading) AS r FROM read_parquet('{}') GROUP BY station ORDER BY station",
        parquet.display()
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let a = sql(home, ":memory:", &q);
        ours.push(ms(t.elapsed()));
        let t = Instant::now();
        let out = Command::new(duckdb_cli())
            .args(["-csv", "-c", &q])
            .output()
            .expect("duckdb CLI (./setup installs it)");
        theirs.push(ms(t.elapsed()));
        let b = String::from_utf8_lossy(&out.stdout);
        assert!(a == b, "not the same answer:\n{:.300}\n---\n{:.300}", a, b);
    }
    let (o, t) = (median(ours), median(theirs));
    println!("  full-scan aggregate: fieldkit sql {o:.0} ms, duckdb CLI {t:.0} ms: {:.2}x (goal <= 1.05x)", o / t);

    // 3 and 4. Scroll frames and peak memory over tables of growing size.
    for n in [1_000_000u64, 10_000_000, 100_000_000] {
        let db = home.join(format!("scroll-{n}.duckdb"));
        let t = Instant::now();
        sql(home, &db.to_string_lossy(), &format!(
            "CREATE TABLE big AS SELECT range AS id, range % 977 AS station, (range * 7919 % 100003) / 100.0 AS depth, \
             hash(range) % 1000000 AS reading FROM range({n})"
        ));
        let made = t.elapsed().as_secs_f64();
        let cfg_home = home.join(format!("h{n}"));
        std::fs::create_dir_all(cfg_home.join("config")).ok();
        std::fs::write(
            cfg_home.join("config/config.toml"),
            format!("[data]\ndatabase = \"{}\"\n", db.display()),
        )
        .ok();
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
            "  {n:>11} rows (made in {made:.1} s): frame at top {:.2} ms, middle {:.2} ms, end {:.2} ms; worst of {} frames {:.2} ms (goal < 16); worker peak {:.0} MiB after loading, {:.0} MiB while scrolling",
            by_pos[0], by_pos[1], by_pos[2], frames.len(), worst, loaded, peak_mib(pid)
        );
        drop(w);
        std::fs::remove_file(&db).ok();
    }

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

fn cli_version() -> String {
    Command::new(duckdb_cli())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "(missing: ./setup installs it)".into())
}
