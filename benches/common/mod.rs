//! What both benches share: the fieldkit binary, ptys that stand in for a person's terminal,
//! and tmux as the peer.

#![allow(dead_code)]

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn fieldkit_bin() -> PathBuf {
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

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub struct Home(pub tempfile::TempDir);
impl Home {
    pub fn new() -> Home {
        Home(
            tempfile::Builder::new()
                .prefix("fkb")
                .tempdir_in("/tmp")
                .expect("tmp"),
        )
    }
    pub fn fk(&self, args: &[&str]) -> Command {
        let mut c = Command::new(fieldkit_bin());
        c.args(args).env("FIELDKIT_HOME", self.0.path());
        c
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

pub fn tmux(sock: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-u", "-L", sock, "-f", "/dev/null"]);
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

/// A detached tmux session `b` of `w`x`h` running sh, on its own server `sock`.
pub fn tmux_session(sock: &str, w: u16, h: u16) {
    let (w, h) = (w.to_string(), h.to_string());
    let _ = tmux(sock)
        .args(["new-session", "-d", "-s", "b", "-x", &w, "-y", &h, "sh"])
        .output();
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
