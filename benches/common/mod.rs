//! What the terminal and session benches share: the fieldkit binary, ptys that stand in for a
//! person's terminal, and tmux as the peer.
//!
//! A comparison with tmux is only fair when both run the same thing under the same limits, so
//! the setting lives here once: both servers run `bench_shell()` (/bin/sh with the prompt
//! `PROMPT`, never `$SHELL`) and keep `SCROLLBACK` lines, and every wait for "the screen shows
//! X" reads the bytes the client got, which `Screen` also counts.

#![allow(dead_code)]

#[path = "../../tests/common/tools.rs"]
pub mod tools;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The prompt of every shell the benches start, in fieldkit and in tmux alike.
pub const PROMPT: &str = "fk$ ";

/// Lines of scrollback each terminal keeps, on both sides (fieldkit's `scrollback_lines`,
/// tmux's `history-limit`).
pub const SCROLLBACK: usize = 10_000;

/// The shell both fieldkit and tmux run in their panes: /bin/sh with the prompt `PROMPT`, so
/// the prompt is the same for root and anyone else, and `$SHELL` plays no part. Postcondition:
/// the script exists and is executable.
pub fn bench_shell() -> PathBuf {
    let uid = unsafe { libc::getuid() };
    let path = std::env::temp_dir().join(format!("fieldkit-bench-sh-{uid}"));
    let text = format!("#!/bin/sh\nPS1='{PROMPT}'\nexport PS1\nexec /bin/sh \"$@\"\n");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        // Written aside and renamed, so a concurrent bench never runs half a script.
        let tmp = path.with_extension(std::process::id().to_string());
        std::fs::write(&tmp, &text).expect("bench shell");
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod bench shell");
        std::fs::rename(&tmp, &path).expect("bench shell");
    }
    path
}

/// The fieldkit binary the bench drives: `FIELDKIT_BENCH_BIN` when set (to compare an earlier
/// build, copied aside, with tmux in the same way), else the one beside the bench.
pub fn fieldkit_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FIELDKIT_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    // Benches live next to the binary in target/release/deps.
    let exe = std::env::current_exe().expect("bench exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("fieldkit");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release ({})",
        bin.display()
    );
    bin
}

/// A child on a fresh pty of `w`x`h`; the master end is returned for reading.
pub fn spawn_pty(cmd: &mut Command, w: u16, h: u16) -> (Child, OwnedFd) {
    let mut master: libc::c_int = 0;
    let mut slave: libc::c_int = 0;
    let ws = libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(rc, 0, "openpty");
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let s = slave.as_raw_fd();
    unsafe {
        cmd.stdin(Stdio::from(OwnedFd::from_raw_fd(libc::dup(s))))
            .stdout(Stdio::from(OwnedFd::from_raw_fd(libc::dup(s))))
            .stderr(Stdio::from(OwnedFd::from_raw_fd(libc::dup(s))))
            .pre_exec(move || {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
    }
    let child = cmd
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .spawn()
        .expect("spawn");
    drop(slave);
    (child, master)
}

/// Reads the pty until `marker` appears; returns the time it took.
pub fn until_marker(master: &OwnedFd, marker: &[u8], started: Instant) -> Duration {
    let mut f = unsafe { std::fs::File::from_raw_fd(libc::dup(master.as_raw_fd())) };
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = f.read(&mut buf).unwrap_or(0);
        if n == 0 {
            panic!(
                "pty closed before {:?} appeared: {}",
                String::from_utf8_lossy(marker),
                String::from_utf8_lossy(&seen)
            );
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(marker.len()).any(|w| w == marker) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no first frame in 20 s"
        );
    }
}

/// Keeps a pty drained in the background so the program on it never blocks.
pub fn drain(master: OwnedFd) {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut buf = [0u8; 65536];
        while f.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    });
}

/// What a client's terminal received: the outer pty drained as fast as it fills, every byte
/// counted, and when an awaited marker arrived.
pub struct Screen {
    bytes: AtomicU64,
    watch: Mutex<Watch>,
}

/// The marker looked for, and when it was seen with the byte count at that moment.
#[derive(Default)]
struct Watch {
    marker: Vec<u8>,
    seen: Option<(Instant, u64)>,
}

impl Screen {
    /// Drains `master` on a thread of its own.
    pub fn drain(master: OwnedFd) -> Arc<Screen> {
        let screen = Arc::new(Screen {
            bytes: AtomicU64::new(0),
            watch: Mutex::new(Watch::default()),
        });
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(master);
            let mut buf = vec![0u8; 1 << 16];
            // The last bytes of the previous reads, so a marker split across reads is found.
            let mut tail: Vec<u8> = Vec::new();
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                let total = s.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                let Ok(mut w) = s.watch.lock() else { break };
                let Watch { marker, seen } = &mut *w;
                if marker.is_empty() || seen.is_some() {
                    tail.clear();
                    continue;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.windows(marker.len()).any(|x| x == marker.as_slice()) {
                    *seen = Some((now, total));
                }
                let keep = tail.len().saturating_sub(marker.len());
                tail.drain(..keep);
            }
        });
        screen
    }

    /// Bytes the client has received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// From now on, look for `marker` in what arrives.
    pub fn expect(&self, marker: &str) {
        *self.watch.lock().expect("screen watch") = Watch {
            marker: marker.as_bytes().to_vec(),
            seen: None,
        };
    }

    /// When the marker set by `expect` arrived, and the bytes received by then; waits at most
    /// `limit`.
    pub fn seen(&self, limit: Duration) -> (Instant, u64) {
        poll(limit, || self.watch.lock().ok().and_then(|w| w.seen))
    }
}

/// Writes `bytes` to the outer pty, as a person typing into the client's terminal.
pub fn type_into(master: &OwnedFd, bytes: &[u8]) {
    use std::io::Write;
    let mut f = unsafe { std::fs::File::from_raw_fd(libc::dup(master.as_raw_fd())) };
    f.write_all(bytes).expect("type into the client's pty");
}

/// Every process descended from `pid` (children, their children, ...), not `pid` itself.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|a| a.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// What `pid` and its descendants are, e.g. `fieldkit __server, fieldkit __worker probe, 4x sh`.
pub fn tree_names(pid: u32) -> String {
    let name = |p: u32| {
        let raw = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let mut args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(a0) = args.first_mut() {
            *a0 = a0.rsplit('/').next().unwrap_or(a0).to_string();
        }
        args.truncate(3);
        args.join(" ")
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for p in std::iter::once(pid).chain(descendants(pid)) {
        let n = name(p);
        match counts.iter_mut().find(|(m, _)| *m == n) {
            Some((_, c)) => *c += 1,
            None => counts.push((n, 1)),
        }
    }
    counts
        .into_iter()
        .map(|(n, c)| if c > 1 { format!("{c}x {n}") } else { n })
        .collect::<Vec<_>>()
        .join(", ")
}

/// PSS of `pid` and all its descendants, in KiB: (total, the processes counted, of which
/// `pid` itself).
pub fn tree_pss_kib(pid: u32) -> (u64, usize, u64) {
    let own = pss_kib(pid);
    let kids = descendants(pid);
    (
        own + kids.iter().map(|&k| pss_kib(k)).sum::<u64>(),
        kids.len() + 1,
        own,
    )
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// (min, median, max) of a set of figures.
pub fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub struct Home(pub tempfile::TempDir);
impl Home {
    /// A fresh FIELDKIT_HOME whose terminals run `bench_shell()` with `SCROLLBACK` lines.
    pub fn new() -> Home {
        Home::with_config("")
    }

    /// `new` with more lines for config.toml (sections such as `[data]` go here).
    pub fn with_config(extra: &str) -> Home {
        let home = Home(
            tempfile::Builder::new()
                .prefix("fkb")
                .tempdir_in("/tmp")
                .expect("tmp"),
        );
        let config = home.0.path().join("config");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::write(
            config.join("config.toml"),
            format!(
                "shell = \"{}\"\nscrollback_lines = {SCROLLBACK}\n{extra}",
                bench_shell().display()
            ),
        )
        .expect("config");
        home
    }
    pub fn fk(&self, args: &[&str]) -> Command {
        let mut c = Command::new(fieldkit_bin());
        c.args(args).env("FIELDKIT_HOME", self.0.path());
        c
    }
    /// The text of pane `pane` of the active tab (None: the focused one).
    pub fn capture(&self, pane: Option<u64>) -> String {
        let mut args = vec!["capture".to_string()];
        if let Some(p) = pane {
            args.extend(["--pane".into(), p.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.fk(&args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    pub fn kill_server(&self) {
        let _ = self.fk(&["kill-server"]).output();
        // Wait until it is gone so the next cold start is cold.
        let start = Instant::now();
        while self.0.path().join("run/server.sock").exists()
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// tmux on its own server `sock`, with no user config but the bench's `history-limit`.
pub fn tmux(sock: &str) -> Command {
    let conf = std::env::temp_dir().join(format!("fieldkit-bench-tmux-{}.conf", unsafe {
        libc::getuid()
    }));
    let text = format!("set -g history-limit {SCROLLBACK}\n");
    if std::fs::read_to_string(&conf).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&conf, text).expect("tmux conf");
    }
    let mut c = Command::new("tmux");
    c.arg("-u").arg("-L").arg(sock).arg("-f").arg(conf);
    c
}

/// Sum of the named fields of /proc/PID/smaps_rollup, in KiB.
fn smaps_kib(pid: u32, fields: &[&str]) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .filter(|l| fields.iter().any(|f| l.split(':').next() == Some(*f)))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// Proportional set size of a process in KiB (its fair share of shared pages).
pub fn pss_kib(pid: u32) -> u64 {
    smaps_kib(pid, &["Pss"])
}

/// Unique set size in KiB: pages no other process shares (Private_Clean + Private_Dirty).
/// Unlike PSS it does not move with how many other processes map the same libraries.
pub fn uss_kib(pid: u32) -> u64 {
    smaps_kib(pid, &["Private_Clean", "Private_Dirty"])
}

/// The anonymous (heap, stacks) part of the PSS, in KiB.
pub fn pss_anon_kib(pid: u32) -> u64 {
    smaps_kib(pid, &["Pss_Anon"])
}

/// CPU time (user + system) a process has used, in milliseconds.
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 * 1000.0 / hz
}

pub fn server_pid(home: &Home) -> u32 {
    std::fs::read_to_string(home.0.path().join("run/server.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

/// A detached tmux session `b` of `w`x`h` running `bench_shell()`, on its own server `sock`.
pub fn tmux_session(sock: &str, w: u16, h: u16) {
    let (w, h) = (w.to_string(), h.to_string());
    let sh = bench_shell();
    let _ = tmux(sock)
        .args(["new-session", "-d", "-s", "b", "-x", &w, "-y", &h])
        .arg(&sh)
        .output();
}

/// Splits tmux session `b`'s window; the new pane runs `bench_shell()`.
pub fn tmux_split(sock: &str) {
    let _ = tmux(sock)
        .args(["split-window", "-t", "b"])
        .arg(bench_shell())
        .output();
}

/// The text of tmux pane `target` (`b` is the session's active pane).
pub fn tmux_capture(sock: &str, target: &str) -> String {
    let out = tmux(sock)
        .args(["capture-pane", "-p", "-t", target])
        .output()
        .expect("tmux capture-pane");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn tmux_server_pid(sock: &str) -> u32 {
    let out = tmux(sock)
        .args(["display-message", "-p", "#{pid}"])
        .output()
        .expect("tmux pid");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("tmux pid")
}

/// Polls `f` until it returns Some, at most `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
