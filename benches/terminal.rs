//! Terminal panes against tmux, in the same run, same outer size (120x40), both with a client
//! attached on a pty that is drained as fast as it fills:
//!
//! - `cat` of a 200 MB text file: from Enter to the end marker on the client's screen, 5
//!   interleaved runs each, with server CPU and the bytes sent to the client;
//! - memory (PSS) of the server and every process under it with 4 terminal panes, right after
//!   output and after the idle trim;
//! - keystroke echo latency: a key into the outer pty until its echo comes out of it.
//!
//! Both sides run the same pinned shell (`common::bench_shell`) with the same scrollback.
//! `cargo bench --bench terminal` (FIELDKIT_BENCH_QUICK=1 for a 20 MB file, 2 runs, fewer keys).

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

/// One side of the `cat` comparison: a server with a client attached on a pty.
struct CatSide {
    server: u32,
    client: std::process::Child,
    master: OwnedFd,
    screen: std::sync::Arc<Screen>,
    capture: Box<dyn Fn() -> String>,
    wall: Vec<f64>,
    server_cpu: Vec<f64>,
    client_cpu: Vec<f64>,
    bytes: Vec<f64>,
}

impl CatSide {
    fn new(
        server: u32,
        client: std::process::Child,
        master: OwnedFd,
        capture: Box<dyn Fn() -> String>,
    ) -> CatSide {
        let screen = Screen::drain(master.try_clone().expect("dup pty"));
        poll(Duration::from_secs(20), || {
            capture().contains(PROMPT.trim_end()).then_some(())
        });
        CatSide {
            server,
            client,
            master,
            screen,
            capture,
            wall: vec![],
            server_cpu: vec![],
            client_cpu: vec![],
            bytes: vec![],
        }
    }

    /// Types `cat FILE; printf ...` into the client, then Enter; times from the Enter to the
    /// end marker arriving in the client's output. The typed line does not contain the marker
    /// (`'DO''NE-'`), so only the command's output can match it.
    fn run(&mut self, file: &std::path::Path, id: &str) {
        let marker = format!("DONE-{id}");
        let typed = format!("cat {}; printf 'DO''NE-%s\\n' {id}", file.display());
        type_into(&self.master, typed.as_bytes());
        let echoed = format!("NE-%s\\n' {id}");
        poll(Duration::from_secs(20), || {
            (self.capture)().contains(&echoed).then_some(())
        });
        // Let the echo's frames reach the client before counting.
        std::thread::sleep(Duration::from_millis(200));
        let (cpu0, ccpu0, b0) = (
            cpu_ms(self.server),
            cpu_ms(self.client.id()),
            self.screen.bytes(),
        );
        self.screen.expect(&marker);
        let t = Instant::now();
        type_into(&self.master, b"\r");
        let (seen, b1) = self.screen.seen(Duration::from_secs(600));
        self.wall.push(ms(seen.duration_since(t)));
        self.server_cpu.push(cpu_ms(self.server) - cpu0);
        self.client_cpu.push(cpu_ms(self.client.id()) - ccpu0);
        self.bytes.push((b1 - b0) as f64);
        // A clear screen for the next run, as for the first.
        type_into(&self.master, b"clear\r");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn cat_bench(mb: usize, runs: usize) {
    let file = big_file(mb);
    // Read once here: counts its lines and leaves it in the page cache for both sides.
    let lines = std::fs::read(&file)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0);
    // fieldkit: a detached session, then a client on a pty.
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    let (client, m) = spawn_pty(&mut home.fk(&["attach"]), W, H);
    let pid = server_pid(&home);
    let home = std::rc::Rc::new(home);
    let hc = home.clone();
    let mut fk = CatSide::new(pid, client, m, Box::new(move || hc.capture(Some(1))));
    // tmux: the same, on its own server.
    let sock = format!("fkcat{}", std::process::id());
    tmux_session(&sock, W, H);
    let (client, m) = spawn_pty(tmux(&sock).args(["attach", "-t", "b"]), W, H);
    let tpid = tmux_server_pid(&sock);
    let s2 = sock.clone();
    let mut tm = CatSide::new(tpid, client, m, Box::new(move || tmux_capture(&s2, "b")));
    // Interleaved, the order swapped every round, so drift touches both alike.
    for r in 0..runs {
        if r % 2 == 0 {
            fk.run(&file, &format!("{r}f"));
            tm.run(&file, &format!("{r}t"));
        } else {
            tm.run(&file, &format!("{r}t"));
            fk.run(&file, &format!("{r}f"));
        }
    }
    for side in [&mut fk, &mut tm] {
        let _ = side.client.kill();
        let _ = side.client.wait();
    }
    home.kill_server();
    let _ = tmux(&sock).arg("kill-server").output();

    println!("cat of a {mb} MB file ({lines} lines with colour escapes), client {W}x{H} on a pty drained as it fills:");
    println!(
        "  method: both panes run {} (/bin/sh, PS1='{PROMPT}', not $SHELL), scrollback {SCROLLBACK} lines (fieldkit scrollback_lines, tmux history-limit);",
        bench_shell().display()
    );
    println!("  timed from the Enter written into the client's pty to the end marker (printed by printf after cat) arriving in the client's output;");
    println!("  {runs} runs each, interleaved (order swapped each round); the file was read before, so the page cache is warm for both;");
    println!("  CPU: utime+stime from /proc over the same span, of the server and of the client (tmux's server writes to the client's terminal itself; fieldkit's client relays the frames);");
    println!("  bytes: what the client's pty received over the same span.");
    println!(
        "  {:<16} {:>30}   {:>30}   {:>8}",
        "", "fieldkit min / median / max", "tmux min / median / max", "ratio"
    );
    let row = |what: &str, f: &[f64], t: &[f64]| {
        let (a, b, c) = spread(f);
        let (x, y, z) = spread(t);
        println!(
            "  {what:<16} {a:>9.0} {b:>9.0} {c:>9.0}    {x:>9.0} {y:>9.0} {z:>9.0}    {:>8}",
            if y > 0.0 {
                format!("{:.2}x", b / y)
            } else {
                "-".into()
            }
        );
    };
    row("wall ms", &fk.wall, &tm.wall);
    row("server CPU ms", &fk.server_cpu, &tm.server_cpu);
    row("client CPU ms", &fk.client_cpu, &tm.client_cpu);
    let kib = |v: &[f64]| v.iter().map(|b| b / 1024.0).collect::<Vec<_>>();
    row("KiB to client", &kib(&fk.bytes), &kib(&tm.bytes));
    println!("  (goals: wall and server CPU, ratio of medians <= 1.0)");
}

/// Sends `seq 1 200000` and an end marker to terminal pane `pane` (1-based).
fn activity_fk(home: &Home, pane: u64) {
    let _ = home
        .fk(&[
            "send-keys",
            "--pane",
            &pane.to_string(),
            "seq 1 200000; printf 'DO''NE-%s\\n' m",
            "Enter",
        ])
        .output();
}

fn memory_bench() {
    // fieldkit: 4 terminal panes, no client.
    let home = Home::new();
    let _ = home.fk(&["new", "-d", "-s", "main"]).output();
    for a in ["split-right", "split-down", "split-right"] {
        let _ = home.fk(&["action", a]).output();
    }
    let pid = server_pid(&home);
    for p in 1..=4 {
        poll(Duration::from_secs(20), || {
            home.capture(Some(p))
                .contains(PROMPT.trim_end())
                .then_some(())
        });
    }
    for p in 1..=4 {
        activity_fk(&home, p);
    }
    for p in 1..=4 {
        poll(Duration::from_secs(60), || {
            home.capture(Some(p)).contains("DONE-m").then_some(())
        });
    }
    let fk_busy = tree_pss_kib(pid);
    // Past the scrollback save (5 s after output) and the trim 3 s after that.
    std::thread::sleep(Duration::from_secs(10));
    let fk_idle = tree_pss_kib(pid);
    let fk_uss = uss_kib(pid);
    let fk_names = tree_names(pid);
    home.kill_server();

    // tmux: the same 4 panes of the same shell, the same output.
    let sock = format!("fkmem{}", std::process::id());
    tmux_session(&sock, W, H);
    for _ in 0..3 {
        tmux_split(&sock);
    }
    let tpid = tmux_server_pid(&sock);
    let panes: Vec<String> = (0..4).map(|i| format!("b:0.{i}")).collect();
    for p in &panes {
        poll(Duration::from_secs(20), || {
            tmux_capture(&sock, p)
                .contains(PROMPT.trim_end())
                .then_some(())
        });
    }
    for p in &panes {
        let _ = tmux(&sock)
            .args([
                "send-keys",
                "-t",
                p,
                "-l",
                "seq 1 200000; printf 'DO''NE-%s\\n' m",
            ])
            .output();
        let _ = tmux(&sock).args(["send-keys", "-t", p, "Enter"]).output();
    }
    for p in &panes {
        poll(Duration::from_secs(60), || {
            tmux_capture(&sock, p).contains("DONE-m").then_some(())
        });
    }
    let tm_busy = tree_pss_kib(tpid);
    std::thread::sleep(Duration::from_secs(10));
    let tm_idle = tree_pss_kib(tpid);
    let tm_uss = uss_kib(tpid);
    let tm_names = tree_names(tpid);
    let _ = tmux(&sock).arg("kill-server").output();

    let mib = |k: u64| k as f64 / 1024.0;
    println!("memory with 4 terminal panes, no client attached, each pane having printed `seq 1 200000` ({SCROLLBACK} lines of scrollback each):");
    println!(
        "  method: PSS (smaps_rollup) summed over the server and every process descended from it:"
    );
    println!("  fieldkit's server, its shells and any worker it started; tmux's server and its shells; all run {}.", bench_shell().display());
    println!("  counted: fieldkit: {fk_names}; tmux: {tm_names}");
    for (label, f, t) in [
        (
            "right after activity (all 4 panes show the end marker)",
            fk_busy,
            tm_busy,
        ),
        (
            "after the idle trim (10 s quiet: save at 5 s, trim 3 s later)",
            fk_idle,
            tm_idle,
        ),
    ] {
        println!("  {label}:");
        println!(
            "    all processes: fieldkit {:6.1} MiB ({} processes)   tmux {:6.1} MiB ({} processes)   ratio {:.2}x (goal <= 1.5 after the trim)",
            mib(f.0), f.1, mib(t.0), t.1, f.0 as f64 / t.0 as f64
        );
        println!(
            "    server alone:  fieldkit {:6.1} MiB   tmux {:6.1} MiB   ratio {:.2}x",
            mib(f.2),
            mib(t.2),
            f.2 as f64 / t.2 as f64
        );
    }
    println!(
        "  server's private pages (USS) after the trim: fieldkit {:6.1} MiB   tmux {:6.1} MiB",
        mib(fk_uss),
        mib(tm_uss)
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
    println!("keystroke echo latency ({keys} keys, median; from the key written into the client's pty to its echo coming out of it, same shell both sides):");
    println!(
        "  fieldkit {:6.3} ms   tmux {:6.3} ms   difference {:+.3} ms",
        ms(fk),
        ms(tm),
        ms(fk) - ms(tm)
    );
}

/// Where one echo's frame goes: the emulator's update (the damaged rows), the pane drawing it,
/// and the screen for one client: whole (composed and diffed, as after any other change) and
/// retained (only the changed pane drawn over the last frame, then diffed). No peer: these are
/// the parts of fieldkit's own latency.
fn frame_path_bench(iters: u32) {
    use fieldkit::engine::pty::Screen;
    use fieldkit::keymap::{KeyState, Keymap};
    use fieldkit::server::frames::FrameWriter;
    use fieldkit::server::render::{content_rows, panes_into, screen_into};
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
    pane.on_engine(screen.update(false), &mut Cx::default());
    for i in 0..iters {
        screen.feed(if i % 2 == 0 { b"x" } else { b"\x08 \x08" });
        let t = Instant::now();
        let up = screen.update(false);
        t_frame += t.elapsed();
        let t = Instant::now();
        pane.on_engine(up, &mut Cx::default());
        pane.render(
            area,
            &mut buf,
            &RenderCx {
                theme: &theme,
                focused: true,
                retained: i > 0,
            },
        );
        t_pane += t.elapsed();
    }
    // The screen around a terminal pane (tab bar, border, hint bar) for one client.
    let mut ids = Ids::default();
    let mut s = Session::new_with(
        "main",
        &mut ids,
        (W, H),
        "sh",
        fieldkit_panes::PaneKind::Term,
    );
    let id = s.focused();
    let km = Keymap::default_map();
    let mut w = FrameWriter::default();
    let mut t_screen = Duration::ZERO;
    let mut t_retained = Duration::ZERO;
    for i in 0..iters {
        screen.feed(if i % 2 == 0 { b"x" } else { b"\x08 \x08" });
        if let Some(p) = s.panes.get_mut(&id) {
            p.on_engine(screen.update(false), &mut Cx::default());
        }
        let t = Instant::now();
        let mut canvas = w.canvas();
        let cur = screen_into(&mut s, &theme, &km, &KeyState::default(), &mut canvas);
        let _ = w.frame(canvas, cur, TermCaps::default(), theme.bg);
        t_screen += t.elapsed();
        // As the server does: the rows the emulator says changed are the rows sent.
        screen.feed(if i % 2 == 0 { b"y" } else { b"\x08 \x08" });
        let up = screen.update(false);
        let rows = match &up {
            EngineEvent::TermRows(r) => Some(r.changed.iter().map(|(y, _)| *y).collect()),
            _ => None,
        };
        if let Some(p) = s.panes.get_mut(&id) {
            p.on_engine(up, &mut Cx::default());
        }
        s.content.insert(id, rows);
        let t = Instant::now();
        let rows = content_rows(&s);
        let _ = w
            .patch(&rows, TermCaps::default(), theme.bg, |buf| {
                panes_into(&mut s, &theme, buf)
            })
            .expect("a frame was sent");
        t_retained += t.elapsed();
        s.content.clear();
    }
    println!("one terminal frame, {cols}x{rows} ({iters} frames, mean):");
    println!(
        "  emulator update {:.3} ms   pane draw {:.3} ms   screen: whole {:.3} ms, retained {:.3} ms",
        ms(t_frame / iters),
        ms(t_pane / iters),
        ms(t_screen / iters),
        ms(t_retained / iters)
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
    let tmux_version = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "fieldkit {} (release) vs {tmux_version}; {}",
        env!("CARGO_PKG_VERSION"),
        if quick {
            "quick mode (FIELDKIT_BENCH_QUICK): smaller file, fewer runs"
        } else {
            "full run"
        }
    );
    // `FIELDKIT_BENCH_ONLY=echo,cat` runs just those parts (frame, cat, memory, echo).
    let only = std::env::var("FIELDKIT_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if wanted("frame") {
        frame_path_bench(if quick { 50 } else { 1000 });
    }
    if wanted("cat") {
        cat_bench(if quick { 20 } else { 200 }, if quick { 2 } else { 5 });
    }
    if wanted("memory") {
        memory_bench();
    }
    if wanted("echo") {
        latency_bench(if quick { 20 } else { 100 });
    }
}
