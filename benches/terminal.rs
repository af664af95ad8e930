//! Terminal panes against tmux, in the same run, same outer size (120x40), both with a client
//! attached on a pty that is drained as fast as it fills:
//!
//! - `cat` of a 200 MB text file: wall time (measured by the shell in the pane) and the
//!   server's CPU time;
//! - idle memory (PSS) of the server with 4 terminal panes;
//! - keystroke echo latency: a key into the outer pty until its echo comes out of it.
//!
//! `cargo bench --bench terminal` (FIELDKIT_BENCH_QUICK=1 for a 20 MB file and fewer keys).

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const W: u16 = 120;
const H: u16 = 40;

fn big_file(mb: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("fieldkit-bench-{mb}mb.txt"));
    if std::fs::metadata(&path)
        .map(|m| m.len() as usize >= mb << 20)
        .unwrap_or(false)
    {
        return path;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut written = 0;
    let mut i = 0u64;
    while written < mb << 20 {
        let line = format!("{i:>10} the quick brown fox jumps over the lazy dog \x1b[32mgreen\x1b[0m 0123456789 {i:x}\n");
        f.write_all(line.as_bytes()).expect("write");
        written += line.len();
        i += 1;
    }
    path
}

/// Waits until `capture` (a function returning the pane's text) shows `elapsed=NNN`.
fn elapsed_ms(capture: impl Fn() -> String) -> f64 {
    poll(Duration::from_secs(600), || {
        let text = capture();
        text.lines()
            .filter_map(|l| {
                l.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '=')
                    .strip_prefix("elapsed=")
            })
            .filter_map(|v| v.parse::<f64>().ok())
            .next_back()
    })
}

fn timed_cat(file: &std::path::Path) -> String {
    format!(
        "s=$(date +%s%N); cat {}; e=$(date +%s%N); clear; echo elapsed=$(( (e-s)/1000000 ))",
        file.display()
    )
}

fn cat_bench(mb: usize) {
    let file = big_file(mb);
    // fieldkit
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    let (mut client, m) = spawn_pty(&mut home.fk(&["attach"]), W, H);
    drain(m);
    let pid = server_pid(&home);
    poll(Duration::from_secs(10), || {
        let out = home.fk(&["capture", "--pane", "1"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains('#')
            .then_some(())
    });
    let cpu0 = cpu_ms(pid);
    let _ = home.fk(&["send-keys", &timed_cat(&file), "Enter"]).output();
    let fk_wall = elapsed_ms(|| {
        let out = home
            .fk(&["capture", "--pane", "1"])
            .output()
            .expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    let fk_cpu = cpu_ms(pid) - cpu0;
    let _ = client.kill();
    let _ = client.wait();
    home.kill_server();

    // tmux
    let sock = format!("fkcat{}", std::process::id());
    tmux_session(&sock, W, H);
    let (mut client, m) = spawn_pty(tmux(&sock).args(["attach", "-t", "b"]), W, H);
    drain(m);
    let tpid = tmux_server_pid(&sock);
    std::thread::sleep(Duration::from_millis(300));
    let cpu0 = cpu_ms(tpid);
    let _ = tmux(&sock)
        .args(["send-keys", "-t", "b", "-l", &timed_cat(&file)])
        .output();
    let _ = tmux(&sock).args(["send-keys", "-t", "b", "Enter"]).output();
    let tm_wall = elapsed_ms(|| {
        let out = tmux(&sock)
            .args(["capture-pane", "-p", "-t", "b"])
            .output()
            .expect("capture");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    let tm_cpu = cpu_ms(tpid) - cpu0;
    let _ = client.kill();
    let _ = client.wait();
    let _ = tmux(&sock).arg("kill-server").output();

    println!("cat of a {mb} MB file, {W}x{H}, client attached:");
    println!("  wall:       fieldkit {fk_wall:8.0} ms   tmux {tm_wall:8.0} ms   ratio {:.2}x (goal <= 1.0)", fk_wall / tm_wall);
    println!("  server CPU: fieldkit {fk_cpu:8.0} ms   tmux {tm_cpu:8.0} ms   ratio {:.2}x (goal <= 1.0)", fk_cpu / tm_cpu);
}

fn memory_bench() {
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    for a in ["split-right", "split-down", "split-right"] {
        let _ = home.fk(&["action", a]).output();
    }
    let pid = server_pid(&home);
    // Let every shell start and the server settle.
    poll(Duration::from_secs(10), || {
        let out = home.fk(&["capture"]).output().ok()?;
        (String::from_utf8_lossy(&out.stdout).matches('#').count() >= 4).then_some(())
    });
    // Idle means idle: past the save (5 s after output) and the quiet-time trim (3 s after that), as a server sits most of a day.
    std::thread::sleep(Duration::from_secs(9));
    let fk = pss_kib(pid);
    let fk_anon = pss_anon_kib(pid);
    let fk_uss = uss_kib(pid);
    home.kill_server();

    let sock = format!("fkmem{}", std::process::id());
    tmux_session(&sock, W, H);
    for _ in 0..3 {
        let _ = tmux(&sock).args(["split-window", "-t", "b", "sh"]).output();
    }
    std::thread::sleep(Duration::from_secs(9));
    let tpid = tmux_server_pid(&sock);
    let (tm, tm_anon, tm_uss) = (pss_kib(tpid), pss_anon_kib(tpid), uss_kib(tpid));
    let _ = tmux(&sock).arg("kill-server").output();
    println!(
        "idle server with 4 terminal panes, after 9 s quiet (PSS: anonymous part in brackets):"
    );
    println!(
        "  PSS: fieldkit {:6.1} MiB ({:.1})   tmux {:6.1} MiB ({:.1})   ratio {:.2}x (goal <= 1.5)",
        fk as f64 / 1024.0,
        fk_anon as f64 / 1024.0,
        tm as f64 / 1024.0,
        tm_anon as f64 / 1024.0,
        fk as f64 / tm as f64
    );
    println!(
        "  USS: fieldkit {:6.1} MiB   tmux {:6.1} MiB   ratio {:.2}x (private pages only)",
        fk_uss as f64 / 1024.0,
        tm_uss as f64 / 1024.0,
        fk_uss as f64 / tm_uss as f64
    );
}

/// Types each key into the outer pty and times until its echo comes back out.
fn echo_latency(master: OwnedFd, keys: usize) -> Duration {
    let mut out = unsafe { std::fs::File::from_raw_fd(libc::dup(master.as_raw_fd())) };
    let mut input = std::fs::File::from(master);
    // Letters that never appear inside the escape sequences either program writes.
    let alphabet = b"qwertyuiopasdfgzxcvbn";
    let mut times = Vec::new();
    let mut buf = [0u8; 65536];
    // Settle: drain what is there.
    unsafe {
        libc::fcntl(out.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
    }
    std::thread::sleep(Duration::from_millis(500));
    while out.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    for i in 0..keys {
        let k = alphabet[i % alphabet.len()];
        let t = Instant::now();
        input.write_all(&[k]).expect("type");
        'wait: loop {
            match out.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if buf[..n].contains(&k) {
                        break 'wait;
                    }
                }
                _ => std::thread::yield_now(),
            }
            assert!(t.elapsed() < Duration::from_secs(5), "no echo");
        }
        times.push(t.elapsed());
        // Let the rest of the frame arrive before the next key.
        std::thread::sleep(Duration::from_millis(30));
        while out.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
        if i % 20 == 19 {
            input.write_all(b"\x15").expect("kill line");
            std::thread::sleep(Duration::from_millis(50));
            while out.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
        }
    }
    median(times)
}

fn latency_bench(keys: usize) {
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    let (mut client, m) = spawn_pty(&mut home.fk(&["attach"]), W, H);
    let fk = echo_latency(m, keys);
    let _ = client.kill();
    let _ = client.wait();
    home.kill_server();

    let sock = format!("fklat{}", std::process::id());
    tmux_session(&sock, W, H);
    let (mut client, m) = spawn_pty(tmux(&sock).args(["attach", "-t", "b"]), W, H);
    let tm = echo_latency(m, keys);
    let _ = client.kill();
    let _ = client.wait();
    let _ = tmux(&sock).arg("kill-server").output();
    println!("keystroke echo latency ({keys} keys, median):");
    println!(
        "  fieldkit {:6.3} ms   tmux {:6.3} ms   difference {:+.3} ms",
        ms(fk),
        ms(tm),
        ms(fk) - ms(tm)
    );
}

/// Where one echo's frame goes: the emulator snapshot, the pane drawing it, the whole screen
/// composed and diffed. No peer: these are the parts of fieldkit's own latency.
fn frame_path_bench(iters: u32) {
    use fieldkit::engine::pty::Screen;
    use fieldkit::keymap::{KeyState, Keymap};
    use fieldkit::server::render::{screen_into, FrameWriter};
    use fieldkit::server::session::{Ids, Session};
    use fieldkit_panes::{Cx, EngineEvent, Pane, RenderCx, TermPane};
    use fieldkit_widgets::{TermCaps, Theme};
    let (cols, rows) = (W - 2, H - 4);
    let mut screen = Screen::new(cols, rows, 10_000);
    for i in 0..rows {
        screen.feed(
            format!(
                "\x1b[3{}mline {i} of some shell output with colour\x1b[0m\r\n",
                i % 8
            )
            .as_bytes(),
        );
    }
    let theme = Theme::default();
    let mut t_frame = Duration::ZERO;
    let mut t_pane = Duration::ZERO;
    let mut pane = TermPane::new("sh", None);
    let area = ratatui::layout::Rect::new(0, 0, cols, rows);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    for i in 0..iters {
        screen.feed(if i % 2 == 0 { b"x" } else { b"\x08 \x08" });
        let t = Instant::now();
        let f = screen.frame();
        t_frame += t.elapsed();
        let t = Instant::now();
        pane.on_engine(EngineEvent::TermFrame(Box::new(f)), &mut Cx::default());
        pane.render(
            area,
            &mut buf,
            &RenderCx {
                theme: &theme,
                focused: true,
            },
        );
        t_pane += t.elapsed();
    }
    // The whole screen around a pane (tab bar, border, hint bar), composed and diffed.
    let mut ids = Ids::default();
    let mut s = Session::new_with(
        "main",
        &mut ids,
        (W, H),
        "sh",
        fieldkit_panes::PaneKind::Status,
    );
    let km = Keymap::default_map();
    let mut w = FrameWriter::default();
    let mut t_screen = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        let mut canvas = w.canvas();
        let cur = screen_into(&mut s, &theme, &km, &KeyState::default(), &mut canvas);
        let _ = w.frame(canvas, cur, TermCaps::default(), theme.bg);
        t_screen += t.elapsed();
    }
    println!("one terminal frame, {cols}x{rows} ({iters} frames, mean):");
    println!(
        "  emulator snapshot {:.3} ms   pane draw {:.3} ms   screen compose + diff {:.3} ms",
        ms(t_frame / iters),
        ms(t_pane / iters),
        ms(t_screen / iters)
    );
}

fn main() {
    let quick = std::env::var_os("FIELDKIT_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("tmux is not installed: run ./setup");
        return;
    }
    frame_path_bench(if quick { 50 } else { 1000 });
    cat_bench(if quick { 20 } else { 200 });
    memory_bench();
    latency_bench(if quick { 20 } else { 100 });
}
