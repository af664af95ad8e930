//! The work queue's figures (issue 13), against the goals the issue names:
//!
//! 1. The queue pane with 100,000 items: every frame while scrolling (PageDown through the list)
//!    and while filtering (a query typed a key at a time), each key's handling plus a whole
//!    render at 120x40, timed in this process (the pane is what the server runs). Goal < 16 ms.
//! 2. Claims per second from 8 concurrent `fieldkit queue claim` processes against one server,
//!    all racing for the same items in the same order; every item must have exactly one winner.
//! 3. Idle: a server holding items whose SLAs end in hours, no client, nothing due: its
//!    voluntary context switches over 10 s from 5 s after the last command (each wakeup is one), from /proc/PID/status.
//!
//! 4. File trigger: the time from a writer's close of a file in a watched folder to its step's
//!    command running (goal < 500 ms), with the default debounce and with none, beside a peer:
//!    this bench's own inotify watcher running the same command at once (the floor: the
//!    kernel's event and a process start, with no debounce, no durable run, no server loop).
//!
//! For 1 to 3 there is no peer that does the same work: taskwarrior has no server, no
//! concurrent claim and no pane; those figures stand against the goals only, and the bench
//! says so.
mod common;
use common::*;

use fieldkit_panes::queue::{QueueEvent, QueuePane, QueueRow, Sla};
use fieldkit_panes::{Cx, EngineEvent, Pane, RenderCx};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pane_frames() {
    const N: usize = 100_000;
    println!("1. the queue pane with {N} items, 120x40");
    let rows: Vec<QueueRow> = (0..N)
        .map(|i| QueueRow {
            id: format!("{:032x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            title: format!("Sample {i} from site {}", i % 97),
            state: ["QUEUED", "CLAIMED", "IN_PROGRESS"][i % 3].into(),
            priority: ["H", "M", "L"][i % 3].into(),
            urgency: 20.0 - (i as f64) / 10_000.0,
            sla: [Sla::Ok, Sla::Warning, Sla::Overdue, Sla::None][i % 4],
            used: (i % 4 != 3).then_some((i % 13) as f64 / 10.0),
            sla_text: "3h left".into(),
            assignee: if i % 5 == 0 {
                "ana".into()
            } else {
                String::new()
            },
            role: String::new(),
            project: ["north", "south", "camp"][i % 3].into(),
            tags: vec![["water", "gps", "soil"][i % 3].into()],
        })
        .collect();
    let mut pane = QueuePane::default();
    let t = Instant::now();
    pane.on_engine(
        EngineEvent::Queue(QueueEvent::Items(rows)),
        &mut Cx::default(),
    );
    let loaded = t.elapsed();
    let theme = fieldkit_widgets::Theme::default();
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    let mut frame = |pane: &mut QueuePane, key: crossterm::event::KeyEvent| -> f64 {
        let t = Instant::now();
        pane.on_input(&key, &mut Cx::default());
        pane.render(
            area,
            &mut buf,
            &RenderCx {
                theme: &theme,
                focused: true,
                retained: false,
            },
        );
        ms(t.elapsed())
    };
    let key = |c| crossterm::event::KeyEvent::new(c, crossterm::event::KeyModifiers::NONE);
    let mut scroll: Vec<f64> = (0..300)
        .map(|_| frame(&mut pane, key(crossterm::event::KeyCode::PageDown)))
        .collect();
    scroll.push(frame(&mut pane, key(crossterm::event::KeyCode::End)));
    let mut filter: Vec<f64> = Vec::new();
    for q in ["sample 9", "north wat"] {
        for c in q.chars() {
            filter.push(frame(&mut pane, key(crossterm::event::KeyCode::Char(c))));
        }
        for _ in q.chars() {
            filter.push(frame(&mut pane, key(crossterm::event::KeyCode::Backspace)));
        }
    }
    let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!("  method: the pane as the server runs it, fed the list once ({:.1} ms); each frame = one key handled + a whole render into a 120x40 buffer;", ms(loaded));
    println!("          scrolling: 300 PageDown and an End; filtering: \"sample 9\" and \"north wat\" typed and erased a key at a time (nucleo, narrowing).");
    println!("  peer: none (taskwarrior has no pane); against the goal only.");
    println!(
        "  scrolling frames: median {:.2} ms, worst {:.2} ms;  filtering frames: median {:.2} ms, worst {:.2} ms   (goal < 16 ms)",
        median(&mut scroll.clone()),
        worst(&scroll),
        median(&mut filter.clone()),
        worst(&filter)
    );
}

fn fk(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(fieldkit_bin())
        .args(args)
        .env("FIELDKIT_HOME", home)
        .env("SHELL", "/bin/sh")
        .output()
        .expect("fieldkit runs")
}

fn claims() {
    const ITEMS: usize = 100;
    const CLAIMERS: usize = 8;
    println!("2. claims from {CLAIMERS} concurrent CLI processes, {ITEMS} items");
    let home = tempfile::Builder::new()
        .prefix("fkq")
        .tempdir_in("/tmp")
        .expect("temp home");
    let ids: Vec<String> = (0..ITEMS)
        .map(|i| {
            let o = fk(home.path(), &["queue", "add", &format!("item {i}")]);
            assert!(o.status.success(), "queue add: {o:?}");
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .collect();
    let t = Instant::now();
    let handles: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let ids = ids.clone();
            let home = home.path().to_path_buf();
            std::thread::spawn(move || {
                ids.iter()
                    .map(|id| {
                        Command::new(fieldkit_bin())
                            .args(["queue", "claim", id])
                            .env("FIELDKIT_HOME", &home)
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .map(|s| s.success())
                            .unwrap_or(false)
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let results: Vec<Vec<bool>> = handles
        .into_iter()
        .map(|h| h.join().expect("claimer thread"))
        .collect();
    let took = t.elapsed();
    let attempts = ITEMS * CLAIMERS;
    let double = (0..ITEMS)
        .filter(|i| results.iter().filter(|r| r[*i]).count() != 1)
        .count();
    println!("  method: {ITEMS} items added, then {CLAIMERS} threads each run `fieldkit queue claim ID` for every item in the same order (a process per claim,");
    println!("          as scripts do), all against one server; a claim's exit status says whether it won.");
    println!("  peer: none (taskwarrior has no concurrent claim); against the goal only.");
    println!(
        "  {attempts} claims in {:.2} s: {:.0} claims/s (each a process start, a connection and a database transaction); items without exactly one winner: {double} (goal 0)",
        took.as_secs_f64(),
        attempts as f64 / took.as_secs_f64()
    );
    let _ = fk(home.path(), &["kill-server"]);
}

fn idle() {
    println!("3. idle wakeups with SLAs running, workflows loaded and nothing due");
    let home = tempfile::Builder::new()
        .prefix("fkq")
        .tempdir_in("/tmp")
        .expect("temp home");
    idle_workflows(home.path());
    for i in 0..50 {
        let o = fk(
            home.path(),
            &["queue", "add", &format!("item {i}"), "--sla", "8h"],
        );
        assert!(o.status.success(), "queue add: {o:?}");
    }
    let pid: u32 = std::fs::read_to_string(home.path().join("run/server.pid"))
        .expect("the server's pid file")
        .trim()
        .parse()
        .expect("a pid");
    let switches = || -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    // Let the last command's work settle, then count over 10 s (threads of the server included:
    // /proc/PID/status counts the main thread, which runs the loop and its timers).
    // The server trims its memory once, 3 s after the last work: past that, it is idle.
    std::thread::sleep(Duration::from_secs(5));
    let before = switches();
    std::thread::sleep(Duration::from_secs(10));
    let after = switches();
    println!("  method: 50 items with an 8 h SLA; three workflows loaded (a schedule at 03:00, a file trigger on a quiet folder, an item trigger);");
    println!("          no client attached; from 5 s after the last command (past the one idle trim), the server's main thread's\n          voluntary context switches over 10 s (/proc/PID/status).");
    println!(
        "  {:.1} wakeups/s (goal 0: only the next SLA crossing, hours away, is timed)",
        (after - before) as f64 / 10.0
    );
    let _ = fk(home.path(), &["kill-server"]);
}

/// Workflows loaded beside the items: a schedule hours away, a file trigger on a quiet
/// folder, an item trigger. None of them may wake the server.
fn idle_workflows(home: &std::path::Path) {
    let wf = home.join("config/workflows");
    std::fs::create_dir_all(&wf).expect("workflows dir");
    let quiet = home.join("quiet");
    std::fs::create_dir_all(&quiet).expect("quiet dir");
    std::fs::write(
        wf.join("daily.toml"),
        "[trigger]\nschedule = \"0 3 * * *\"\n[[steps]]\nkind = \"shell\"\nrun = \"true\"\n",
    )
    .expect("workflow");
    std::fs::write(
        wf.join("drop.toml"),
        format!(
            "[trigger]\nfile = {{ path = \"{}\", glob = \"*.csv\" }}\n[[steps]]\nkind = \"shell\"\nrun = \"true\"\n",
            quiet.display()
        ),
    )
    .expect("workflow");
    std::fs::write(
        wf.join("done.toml"),
        "[trigger]\nitem = { state = \"COMPLETED\" }\n[[steps]]\nkind = \"shell\"\nrun = \"true\"\n",
    )
    .expect("workflow");
}

/// Nanoseconds since the epoch, as `date +%s%N` prints them.
fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn last_line_ns(p: &std::path::Path) -> Option<(usize, u128)> {
    let t = std::fs::read_to_string(p).ok()?;
    let n = t.lines().count();
    Some((n, t.lines().last()?.trim().parse().ok()?))
}

/// Waits until `out` has `n` lines; the last one's time.
fn wait_lines(out: &std::path::Path, n: usize) -> u128 {
    let start = Instant::now();
    loop {
        if let Some((k, ns)) = last_line_ns(out) {
            if k >= n {
                return ns;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no step started for file {n} ({})",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn file_trigger() {
    const FILES: usize = 12;
    println!("4. file trigger: a file's close to its step starting");
    let home = tempfile::Builder::new()
        .prefix("fkw")
        .tempdir_in("/tmp")
        .expect("temp home");
    let h = home.path();
    let wf = h.join("config/workflows");
    std::fs::create_dir_all(&wf).expect("workflows dir");
    let mut dirs = Vec::new();
    for (name, debounce) in [("default", None), ("nodebounce", Some("0ms"))] {
        let dir = h.join(format!("in-{name}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let out = h.join(format!("{name}.out"));
        let deb = debounce
            .map(|d| format!(", debounce = \"{d}\""))
            .unwrap_or_default();
        std::fs::write(
            wf.join(format!("{name}.toml")),
            format!(
                "[trigger]\nfile = {{ path = \"{}\", glob = \"*.csv\"{deb} }}\n[[steps]]\nkind = \"shell\"\nrun = \"date +%s%N >> {}\"\n",
                dir.display(),
                out.display()
            ),
        )
        .expect("workflow");
        dirs.push((name, debounce.unwrap_or("250ms (the default)"), dir, out));
    }
    let o = fk(h, &["workflow", "ls"]);
    assert!(o.status.success(), "workflow ls: {o:?}");
    // The peer: the same event (inotify's close-after-write, through the same notify crate),
    // the same command, with nothing between: no debounce, no durable run, no server loop.
    let peer_dir = h.join("in-peer");
    std::fs::create_dir_all(&peer_dir).expect("dir");
    let peer_out = h.join("peer.out");
    let (tx, rx) = std::sync::mpsc::channel();
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |r: notify::Result<notify::Event>| {
        let _ = tx.send(r);
    })
    .expect("watcher");
    watcher
        .watch(&peer_dir, notify::RecursiveMode::NonRecursive)
        .expect("watch");
    let po = peer_out.clone();
    std::thread::spawn(move || {
        use notify::event::{AccessKind, AccessMode, EventKind};
        for ev in rx.into_iter().flatten() {
            if matches!(
                ev.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
            ) && ev
                .paths
                .iter()
                .any(|p| p.extension().is_some_and(|x| x == "csv"))
            {
                let _ = Command::new("sh")
                    .arg("-c")
                    .arg(format!("date +%s%N >> {}", po.display()))
                    .status();
            }
        }
    });
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for i in 0..FILES {
        // Interleaved: one file for each, in turn.
        for (k, (_, _, dir, out)) in dirs
            .iter()
            .map(|(a, b, c, d)| (a, b, c.clone(), d.clone()))
            .chain(std::iter::once((
                &"peer",
                &"none",
                peer_dir.clone(),
                peer_out.clone(),
            )))
            .enumerate()
        {
            let p = dir.join(format!("f{i}.csv"));
            std::fs::write(&p, "a,b\n1,2\n").expect("write");
            let closed = now_ns();
            let started = wait_lines(&out, i + 1);
            lat[k].push(started.saturating_sub(closed) as f64 / 1e6);
        }
    }
    println!("  method: {FILES} files written (open, write, close) into each watched folder in turn; the time from the writer's close to the");
    println!("          step's own `date +%s%N`; the peer is this bench's own inotify watcher (notify) running the same command at once.");
    let mut peer = lat[2].clone();
    let peer_med = median(&mut peer);
    for (k, (name, debounce, _, _)) in dirs.iter().enumerate() {
        let mut v = lat[k].clone();
        let med = median(&mut v);
        let worst = v.iter().cloned().fold(0.0, f64::max);
        println!(
            "  fieldkit, debounce {debounce} ({name}): median {med:.1} ms, worst {worst:.1} ms (goal < 500 ms); {:.1}x the peer's time",
            med / peer_med.max(0.001)
        );
    }
    let worst = peer.iter().cloned().fold(0.0, f64::max);
    println!("  peer: median {peer_med:.1} ms, worst {worst:.1} ms");
    let _ = fk(h, &["kill-server"]);
}

fn main() {
    let only = std::env::var("FIELDKIT_BENCH_ONLY").unwrap_or_default();
    let want = |p: &str| only.is_empty() || only.split(',').any(|o| o == p);
    println!("fieldkit {} queue benchmarks", env!("CARGO_PKG_VERSION"));
    if want("pane") {
        pane_frames();
    }
    if want("claims") {
        claims();
    }
    if want("idle") {
        idle();
    }
    if want("trigger") {
        file_trigger();
    }
}
