//! Benchmarks for the foundation, each beside tmux in the same run where tmux does the same job.
//!
//! - attach to first frame: cold (server not running) and warm, fieldkit vs tmux, in a pty;
//! - a full 200x60 frame: compose + encode, and bytes written when nothing changed;
//! - an idle server over 10 s: context switches and CPU, fieldkit vs tmux.
//!
//! `cargo bench --bench session` (set FIELDKIT_BENCH_QUICK=1 for a shorter run).

use fieldkit::keymap::{KeyState, Keymap};
use fieldkit::server::frames::FrameWriter;
use fieldkit::server::render::{screen, screen_into};
use fieldkit::server::session::{Ids, Session};
use fieldkit_panes::{Action, Cx, EngineEvent, EngineRow, EngineState, ProcRow, ServerStatus};
use fieldkit_widgets::{TermCaps, Theme};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::*;

fn attach_bench(rounds: usize) {
    let (w, h) = (120, 40);
    let mut fk_cold = Vec::new();
    let mut fk_warm = Vec::new();
    let mut tm_cold = Vec::new();
    let mut tm_warm = Vec::new();
    // The very first start on a machine also creates state.db and the log files: once, apart.
    let home = Home::new();
    let t = Instant::now();
    let (mut child, m) = spawn_pty(&mut home.fk(&[]), w, h);
    let first_ever = until_marker(&m, b"prefix", t);
    let _ = child.kill();
    let _ = child.wait();
    home.kill_server();
    for i in 0..rounds {
        // fieldkit, cold: no server running (its saved state is there, as after any reboot).
        let t = Instant::now();
        let (mut child, m) = spawn_pty(&mut home.fk(&[]), w, h);
        fk_cold.push(until_marker(&m, b"prefix", t));
        let _ = child.kill();
        let _ = child.wait();
        // fieldkit, warm: attach to the running server.
        let t = Instant::now();
        let (mut child, m) = spawn_pty(&mut home.fk(&["attach", "-t", "main"]), w, h);
        fk_warm.push(until_marker(&m, b"prefix", t));
        let _ = child.kill();
        let _ = child.wait();
        home.kill_server();

        // tmux, cold and warm, same size, its status line as the marker.
        let sock = format!("fkbench{}-{i}", std::process::id());
        let t = Instant::now();
        let (mut child, m) = spawn_pty(
            tmux(&sock)
                .args(["new-session", "-s", "b"])
                .arg(bench_shell()),
            w,
            h,
        );
        tm_cold.push(until_marker(&m, b"[b]", t));
        let _ = child.kill();
        let _ = child.wait();
        let t = Instant::now();
        let (mut child, m) = spawn_pty(tmux(&sock).args(["attach", "-t", "b"]), w, h);
        tm_warm.push(until_marker(&m, b"[b]", t));
        let _ = child.kill();
        let _ = child.wait();
        let _ = tmux(&sock).arg("kill-server").output();
    }
    let (fc, fw, tc, tw) = (
        median(fk_cold),
        median(fk_warm),
        median(tm_cold),
        median(tm_warm),
    );
    println!("attach to first frame ({rounds} rounds, median, {w}x{h}):");
    println!(
        "  first start ever (creates state.db): fieldkit {:7.2} ms",
        ms(first_ever)
    );
    println!(
        "  cold (starts the server): fieldkit {:7.2} ms   tmux {:7.2} ms   ratio {:.2}x",
        ms(fc),
        ms(tc),
        ms(fc) / ms(tc)
    );
    println!(
        "  warm (server running):    fieldkit {:7.2} ms   tmux {:7.2} ms   ratio {:.2}x",
        ms(fw),
        ms(tw),
        ms(fw) / ms(tw)
    );
}

fn sample_status() -> ServerStatus {
    ServerStatus {
        version: "0.1.0".into(),
        uptime: Duration::from_secs(4000),
        sessions: 3,
        tabs: 5,
        panes: 9,
        clients: 2,
        processes: vec![ProcRow {
            name: "server".into(),
            pid: 1,
            cpu: 0.1,
            mem: 9 << 20,
        }],
        engines: vec![EngineRow {
            name: "probe".into(),
            state: EngineState::Ready,
            pid: Some(2),
            restarts: 0,
            detail: "round trip 80 µs".into(),
        }],
    }
}

fn render_bench(iters: u32) {
    let mut ids = Ids::default();
    let mut s = Session::new_with(
        "main",
        &mut ids,
        (200, 60),
        "sh",
        fieldkit_panes::PaneKind::Status,
    );
    for a in [
        Action::SplitRight,
        Action::SplitDown,
        Action::FocusPrev,
        Action::SplitDown,
    ] {
        s.apply(&a, &mut ids).expect("layout");
    }
    for p in s.panes.values_mut() {
        p.on_engine(
            EngineEvent::Status(Box::new(sample_status())),
            &mut Cx::default(),
        );
    }
    let theme = Theme::default();
    let km = Keymap::default_map();
    let keys = KeyState::default();
    let caps = TermCaps::default();
    // A brand-new client: nothing allocated yet, the whole screen painted.
    let t = Instant::now();
    let mut w = FrameWriter::default();
    let (buf, cur) = screen(&mut s, &theme, &km, &keys);
    let cold_bytes = w.frame(buf, cur, caps, theme.bg).len();
    let cold = t.elapsed();
    // Full repaints (as after a resize or a tab switch): compose, diff against a blank
    // screen, encode every cell, with the writer's buffers reused as the server does.
    let mut total = Duration::ZERO;
    let mut compose = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let mut bytes = 0;
    for _ in 0..iters {
        w.invalidate();
        let t = Instant::now();
        let mut canvas = w.canvas();
        let cur = screen_into(&mut s, &theme, &km, &keys, &mut canvas);
        compose += t.elapsed();
        bytes = w.frame(canvas, cur, caps, theme.bg).len();
        let d = t.elapsed();
        total += d;
        worst = worst.max(d);
    }
    // Unchanged frames.
    let mut unchanged = 0;
    let t = Instant::now();
    for _ in 0..iters {
        let mut canvas = w.canvas();
        let cur = screen_into(&mut s, &theme, &km, &keys, &mut canvas);
        unchanged += w.frame(canvas, cur, caps, theme.bg).len();
    }
    let redraw = t.elapsed() / iters;
    println!("render 200x60, 4 panes ({iters} frames):");
    println!(
        "  full repaint: mean {:.3} ms (compose {:.3}, diff+encode {:.3}), worst {:.3} ms, {} bytes (goal < 1 ms)",
        ms(total / iters),
        ms(compose / iters),
        ms((total - compose) / iters),
        ms(worst),
        bytes
    );
    println!(
        "  first frame to a new client (allocations included): {:.3} ms, {} bytes",
        ms(cold),
        cold_bytes
    );
    println!(
        "  unchanged frame: {:.3} ms to compose and diff, {} bytes written in all (goal 0)",
        ms(redraw),
        unchanged
    );
}

fn proc_counters(pid: u32) -> (u64, f64) {
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(st) = std::fs::read_to_string(t.path().join("status")) {
                for l in st.lines() {
                    if l.starts_with("voluntary_ctxt_switches")
                        || l.starts_with("nonvoluntary_ctxt_switches")
                    {
                        switches += l
                            .split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0);
                    }
                }
            }
        }
    }
    (switches, cpu_ms(pid))
}

fn idle_over(pid: u32, secs: u64) -> (u64, f64) {
    let (s0, c0) = proc_counters(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let (s1, c1) = proc_counters(pid);
    (s1 - s0, c1 - c0)
}

/// Quiet time before counting: shells have drawn their prompts, their scrollback was saved (5 s
/// after output) and the one-shot
/// memory trim (3 s after that) has run; what follows is steady idle.
const SETTLE: Duration = Duration::from_secs(9);

fn idle_bench(secs: u64) {
    println!("idle server over {secs} s after {SETTLE:?} quiet (4 shells; context switches of all threads, CPU time):");
    // fieldkit, no client attached.
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    for a in ["split-right", "split-down", "split-right"] {
        let _ = home.fk(&["action", a]).output();
    }
    std::thread::sleep(SETTLE);
    let pid = server_pid(&home);
    let (fs, fc) = idle_over(pid, secs);
    // fieldkit, a client attached.
    let (mut child, m) = spawn_pty(&mut home.fk(&["attach"]), 120, 40);
    drain(m);
    std::thread::sleep(SETTLE);
    let (fas, fac) = idle_over(pid, secs);
    // A status pane on screen refreshes once a second by design.
    let _ = home.fk(&["action", "open", "status"]).output();
    std::thread::sleep(Duration::from_millis(300));
    let (fss, fsc) = idle_over(pid, secs);
    let _ = child.kill();
    let _ = child.wait();
    home.kill_server();

    // tmux, 4 panes of the same shell, detached and attached.
    let sock = format!("fkidle{}", std::process::id());
    tmux_session(&sock, 120, 40);
    for _ in 0..3 {
        tmux_split(&sock);
    }
    let tpid = tmux_server_pid(&sock);
    std::thread::sleep(SETTLE);
    let (ts, tc) = idle_over(tpid, secs);
    let (mut child, m) = spawn_pty(tmux(&sock).args(["attach", "-t", "b"]), 120, 40);
    drain(m);
    std::thread::sleep(SETTLE);
    let (tas, tac) = idle_over(tpid, secs);
    let _ = child.kill();
    let _ = child.wait();
    let _ = tmux(&sock).arg("kill-server").output();

    println!("  detached:  fieldkit {fs:4} switches {fc:6.1} ms CPU   tmux {ts:4} switches {tc:6.1} ms CPU");
    println!("  attached:  fieldkit {fas:4} switches {fac:6.1} ms CPU   tmux {tas:4} switches {tac:6.1} ms CPU");
    println!("  attached, a status pane on screen (refreshes each second): fieldkit {fss:4} switches {fsc:6.1} ms CPU");
    println!("  (tmux redraws its status line clock every 15 s when attached)");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run quickly then.
    let quick = std::env::var_os("FIELDKIT_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let have_tmux = Command::new("tmux").arg("-V").output().is_ok();
    render_bench(if quick { 20 } else { 500 });
    if !have_tmux {
        println!("tmux is not installed: the peer benchmarks are skipped (run ./setup)");
        return;
    }
    attach_bench(if quick { 2 } else { 15 });
    idle_bench(if quick { 2 } else { 10 });
}
