//! The end-to-end harness: the real fieldkit binary in a real terminal (tmux), driven by
//! keys, read back by `capture-pane`. Every wait is `wait_until` with a timeout on what the
//! screen shows; nothing sleeps to synchronise.

#![allow(dead_code)]

pub mod llm;
pub mod tools;
pub mod worker;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_fieldkit");
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The prompt of every shell the tests' terminal panes run. The harness sets it (see
/// `Fk::new`), so a test waits for the same thing as root and as any other user (dash's own
/// prompt is `# ` for root and `$ ` for everyone else).
pub const PROMPT: &str = "fk$ ";

pub struct Fk {
    pub home: tempfile::TempDir,
    tmux_socket: String,
}

impl Fk {
    pub fn new() -> Fk {
        // Short paths: a unix socket path must fit in 108 bytes.
        let home = tempfile::Builder::new()
            .prefix("fk")
            .tempdir_in("/tmp")
            .expect("temp home");
        let tmux_socket = format!("fkt-{}", home.path().file_name().unwrap().to_string_lossy());
        // tmux sets SHELL in its panes, so the shell a test's terminals run is set in config:
        // /bin/sh started with the harness's own prompt.
        let shell = home.path().join("sh");
        std::fs::write(
            &shell,
            format!("#!/bin/sh\nPS1='{PROMPT}'\nexport PS1\nexec /bin/sh \"$@\"\n"),
        )
        .expect("shell script");
        std::fs::set_permissions(&shell, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod shell script");
        let fk = Fk { home, tmux_socket };
        std::fs::create_dir_all(fk.config_dir()).expect("config dir");
        std::fs::write(fk.config_dir().join("config.toml"), fk.shell_setting()).expect("config");
        fk
    }

    /// The config line that makes terminal panes run the harness's shell (prompt `PROMPT`),
    /// for tests that write a config of their own.
    pub fn shell_setting(&self) -> String {
        format!("shell = \"{}\"\n", self.path().join("sh").display())
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config")
    }

    /// Runs `fieldkit ARGS` with this test's FIELDKIT_HOME.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("FIELDKIT_HOME", self.path())
            .env("SHELL", "/bin/sh")
            .output()
            .expect("run fieldkit")
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "fieldkit {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn server_pid(&self) -> i32 {
        let pid = std::fs::read_to_string(self.path().join("run/server.pid")).expect("pid file");
        pid.trim().parse().expect("pid")
    }

    /// Runs a tmux command on this test's tmux server (the outer terminal).
    pub fn tmux_run(&self, args: &[&str]) -> Output {
        self.tmux().args(args).output().expect("tmux")
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-u", "-L", &self.tmux_socket, "-f", "/dev/null"]);
        c
    }

    /// Opens a terminal window of `w`x`h` named `win` running a plain shell with this test's
    /// environment, the way a person would sit down at one.
    pub fn terminal(&self, win: &str, w: u16, h: u16) {
        // A tmux server whose last window just closed may still be exiting: try until one
        // takes the new session.
        wait_until("tmux to open a terminal", || {
            let out = self
                .tmux()
                .args([
                    "new-session",
                    "-d",
                    "-s",
                    win,
                    "-x",
                    &w.to_string(),
                    "-y",
                    &h.to_string(),
                ])
                .args(["-e", &format!("FIELDKIT_HOME={}", self.path().display())])
                .args([
                    "-e",
                    "PS1=$ ",
                    "-e",
                    "LANG=C.UTF-8",
                    "-e",
                    "TERM=xterm-256color",
                ])
                .args(["sh"])
                .output()
                .expect("tmux");
            out.status
                .success()
                .then_some(())
                .ok_or_else(|| String::from_utf8_lossy(&out.stderr).into_owned())
        });
        self.tmux()
            .args(["set-option", "-g", "status", "off"])
            .status()
            .expect("tmux");
    }

    /// Types a line into window `win`'s shell.
    pub fn type_line(&self, win: &str, line: &str) {
        self.keys(win, &["-l", line]);
        self.keys(win, &["Enter"]);
    }

    /// Sends keys in tmux's notation (`C-b`, `Enter`, `-l literal`).
    pub fn keys(&self, win: &str, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", win])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    pub fn screen(&self, win: &str) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", win])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn resize(&self, win: &str, w: u16, h: u16) {
        let _ = self
            .tmux()
            .args([
                "resize-window",
                "-t",
                win,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status();
    }

    pub fn pane_pid(&self, win: &str) -> i32 {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", win, "#{pane_pid}"])
            .output()
            .expect("tmux display");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid")
    }

    pub fn close_terminal(&self, win: &str) {
        let _ = self.tmux().args(["kill-session", "-t", win]).status();
    }

    /// Waits until window `win` shows what `pred` wants; panics with the last screen.
    pub fn wait_screen(&self, win: &str, desc: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_until(desc, || {
            let s = self.screen(win);
            pred(&s).then_some(s.clone()).ok_or(s)
        })
    }

    /// Waits until `fieldkit ARGS` prints what `pred` wants.
    pub fn wait_output(&self, args: &[&str], desc: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_until(desc, || {
            let out = self.run(args);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            pred(&text).then_some(text.clone()).ok_or(text)
        })
    }
}

/// The pid of the child of `server` running the worker of `kind` (`data`, `llm`).
pub fn worker_pid(server: i32, kind: &str) -> Option<i32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(server) && cmd.split(|b| *b == 0).any(|a| a == kind.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Retries `f` until it returns Ok or `TIMEOUT` passes; on timeout panics with `desc` and
/// the last thing seen.
pub fn wait_until<T>(desc: &str, f: impl FnMut() -> Result<T, String>) -> T {
    wait_until_within(desc, TIMEOUT, f)
}

/// `wait_until` with a timeout of its own, for the few waits on work that takes long by design
/// (a flood of hundreds of MiB).
pub fn wait_until_within<T>(
    desc: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => {
                panic!("timed out waiting for {desc}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Drop for Fk {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
        if let Ok(pid) = std::fs::read_to_string(self.path().join("run/server.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// The server of a test started as the test's own child (`fieldkit __server`, as the CLI starts
/// it), so that the test may read its memory as an ordinary user: reading /proc/PID/mem needs
/// ptrace access, which for the same user is granted unless the process made itself undumpable,
/// and under Yama's `ptrace_scope = 1` (Ubuntu's and Debian's default) only to an ancestor. A
/// server started by the CLI is re-parented (setsid, its starter exits) and is no descendant of
/// the test. (Tried on the machine this was written on, a kernel without Yama: the scan reads
/// the server's memory as root and as an ordinary user alike; a CLI-started server would be
/// readable there too, but not under ptrace_scope = 1, hence this.) Killed and reaped when
/// dropped.
pub struct ChildServer {
    child: std::process::Child,
    pid_file: std::path::PathBuf,
}

impl ChildServer {
    pub fn start(fk: &Fk) -> ChildServer {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("__server")
            .env("FIELDKIT_HOME", fk.path())
            .env("FIELDKIT_VAULT_KDF_SECONDS", "0.01")
            .env("SHELL", "/bin/sh")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        // Its own session, as the CLI gives it: no signal to the test's group reaches it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("fieldkit __server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(TIMEOUT).unwrap_or_default();
        assert_eq!(
            line.trim(),
            "ready",
            "the server did not start; its log:\n{}",
            std::fs::read_to_string(fk.path().join("data/logs/server.log")).unwrap_or_default()
        );
        ChildServer {
            child,
            pid_file: fk.path().join("run/server.pid"),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Reaped: its pid may be anyone's now, so `Fk`'s drop must not kill it again.
        let named = std::fs::read_to_string(&self.pid_file).unwrap_or_default();
        if named.trim() == self.child.id().to_string() {
            let _ = std::fs::remove_file(&self.pid_file);
        }
    }
}

/// `fieldkit ARGS` with `input` on standard input (a passphrase or secret for `--*-fd 0`), the
/// vault's key derivation at its floor (64 MiB, 3 passes) so the suite stays quick.
pub fn with_stdin(fk: &Fk, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env("FIELDKIT_HOME", fk.path())
        .env("FIELDKIT_VAULT_KDF_SECONDS", "0.01")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fieldkit");
    // A command refused before it reads (an existing vault) closes its end: not an error here.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("wait")
}

/// A new vault under `pass`, unlocked in the server (which the unlock starts).
pub fn unlocked_vault(fk: &Fk, pass: &str) {
    for cmd in ["init", "unlock"] {
        let out = with_stdin(
            fk,
            &["vault", cmd, "--passphrase-fd", "0"],
            &format!("{pass}\n"),
        );
        assert!(
            out.status.success(),
            "vault {cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every file under the test's home (data, runtime, config) that holds `needle`.
pub fn found_on_disk(fk: &Fk, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![fk.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}
