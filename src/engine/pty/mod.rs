/*!
The pty engine: a process on a pseudo-terminal (portable-pty) and its screen
(alacritty_terminal) for each terminal pane.

Output is read by one thread per pane and handed to the server loop over a bounded channel,
so a program that floods output is slowed by back-pressure (as under tmux) rather than growing
memory, and reading goes on while the loop feeds the emulator (a flood costs the wall time of
parsing alone). The pty is non-blocking, so the reader waits in poll. The
loop feeds the bytes to the emulator; only what changed is taken when the pane is about to be
drawn. Input is written at once when the pty takes it whole (a keystroke, an echo's first
half); what it does not take goes to a writer thread per pane that waits until it can, in
order, so a program that stops reading can never block the server.

The emulator may answer queries on the program's behalf. Only answers with fixed,
program-independent content are written back (device attributes, cursor position, modes,
sizes, colours); anything that would echo attacker-chosen bytes into a shell (clipboard reads,
title reports, DECRQSS, font queries) is answered with nothing.

What a restart shows again is the primary screen's history. A full-screen program (vim, less)
draws on the alternate screen, and alacritty keeps the primary one out of reach meanwhile, so
the moment a program switches over, the primary screen's text is kept aside; a save made while
the program runs writes that text and names the program, never the program's screen.

This file holds the process side (`TermProc`, its reader and writer threads); `screen` the
emulator side (`Screen`: feeding, frames, text, copy mode).
*/

mod screen;

pub use screen::{CopyResult, Fed, Screen};

use anyhow::{Context, Result};
use portable_pty::{ChildKiller, CommandBuilder, MasterPty, PtySize};
use std::io::Write;

pub type PaneId = u64;

/// What the reader threads tell the server loop.
#[derive(Debug)]
pub enum PtyNote {
    Output {
        pane: PaneId,
        bytes: Vec<u8>,
    },
    /// The program ended; `how` is `0`, `1`, `signal 9`...
    Exited {
        pane: PaneId,
        how: String,
    },
}

/// A pane's process and its screen.
pub struct TermProc {
    pub screen: Screen,
    master: Box<dyn MasterPty + Send>,
    /// The master's descriptor (non-blocking), for writes made at once.
    fd: std::os::fd::RawFd,
    input: std::sync::mpsc::Sender<Vec<u8>>,
    /// Writes handed to the writer thread and not yet done: while any are, new input queues
    /// behind them, so bytes never overtake each other.
    queued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    killer: Box<dyn ChildKiller + Send + Sync>,
    pub pid: Option<u32>,
    pub exited: bool,
    /// Output arrived since the frame was last taken.
    pub dirty: bool,
    /// Output arrived since the scrollback was last saved.
    pub unsaved: bool,
}

impl TermProc {
    /// Starts `command` (through `sh -c` when it has arguments) in `cwd` on a pty of the given
    /// size. `restored` is text from before a server restart, shown above the new shell.
    /// `env`: variables for this program only (secrets from the vault, `open term --env`): set
    /// in the child's environment, never in argv, a file or a log.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        pane: PaneId,
        command: &str,
        cwd: Option<&str>,
        size: (u16, u16),
        scrollback: usize,
        restored: Option<&str>,
        env: &[(String, zeroize::Zeroizing<String>)],
        notes: tokio::sync::mpsc::Sender<PtyNote>,
    ) -> Result<TermProc> {
        let (cols, rows) = (size.0.max(2), size.1.max(1));
        let pty = portable_pty::native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .context("cannot open a pseudo-terminal")?;
        let mut cmd = if command.contains(char::is_whitespace) {
            let mut c = CommandBuilder::new("/bin/sh");
            c.arg("-c");
            c.arg(command);
            c
        } else {
            CommandBuilder::new(command)
        };
        cmd.env("TERM", "xterm-256color");
        cmd.env("COLORTERM", "truecolor");
        cmd.env("FIELDKIT_PANE", pane.to_string());
        cmd.env_remove("FIELDKIT_LOG");
        for (name, value) in env {
            cmd.env(name, value.as_str());
        }
        let dir = cwd
            .filter(|d| std::path::Path::new(d).is_dir())
            .map(str::to_string)
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into());
        cmd.cwd(dir);
        let mut child = pair
            .slave
            .spawn_command(cmd)
            .with_context(|| format!("cannot start {command:?}"))?;
        drop(pair.slave);
        let pid = child.process_id();
        let killer = child.clone_killer();
        let fd = pair
            .master
            .as_raw_fd()
            .context("pty without a descriptor")?;
        set_nonblocking(fd).context("pty mode")?;
        let mut writer = pair.master.take_writer().context("pty writer")?;
        // The writer thread waits for room on its own descriptor, never on one that may be
        // closed (and reused) when the pane goes.
        let wait_fd = dup(fd).context("pty writer")?;
        let (input, input_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let queued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = queued.clone();
        std::thread::Builder::new()
            .name(format!("pty-write-{pane}"))
            .spawn(move || {
                while let Ok(bytes) = input_rx.recv() {
                    let ok = write_waiting(&mut writer, &wait_fd, &bytes);
                    done.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                    if !ok {
                        break;
                    }
                }
            })
            .context("pty writer thread")?;
        let read_fd = dup(fd).context("pty reader")?;
        std::thread::Builder::new()
            .name(format!("pty-read-{pane}"))
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Some(n) = read_waiting(&read_fd, &mut buf) {
                    let note = PtyNote::Output {
                        pane,
                        bytes: buf[..n].to_vec(),
                    };
                    // What a program printed is not kept here past its copy (a panic must
                    // leave no pane text in memory).
                    buf[..n].fill(0);
                    std::hint::black_box(&buf);
                    if notes.blocking_send(note).is_err() {
                        return;
                    }
                }
                let how = match child.wait() {
                    Ok(st) => match st.signal() {
                        Some(sig) => format!(
                            "signal {}",
                            sig.trim_start_matches("Signal ").to_lowercase()
                        ),
                        None => st.exit_code().to_string(),
                    },
                    Err(e) => format!("lost: {e}"),
                };
                let _ = notes.blocking_send(PtyNote::Exited { pane, how });
            })
            .context("pty reader thread")?;
        let mut screen = Screen::new(cols, rows, scrollback);
        if let Some(text) = restored.filter(|t| !t.trim().is_empty()) {
            let mut b = text.trim_end().replace('\n', "\r\n").into_bytes();
            b.extend_from_slice(b"\r\n\x1b[2m[fieldkit: the server restarted; the program above ended with it]\x1b[0m\r\n");
            screen.feed(&b);
        }
        Ok(TermProc {
            screen,
            master: pair.master,
            fd,
            input,
            queued,
            killer,
            pid,
            exited: false,
            dirty: true,
            unsaved: false,
        })
    }

    /// Feeds output and writes back the safe answers.
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        let fed = self.screen.feed(bytes);
        if !fed.answered.is_empty() {
            self.write(fed.answered.clone());
        }
        self.dirty = true;
        self.unsaved = true;
        fed
    }

    /// Writes to the program: at once when nothing waits before it and the pty takes it all,
    /// else (the rest) through the writer thread, in order.
    pub fn write(&self, mut bytes: Vec<u8>) {
        use std::sync::atomic::Ordering;
        if bytes.is_empty() {
            return;
        }
        if self.queued.load(Ordering::Acquire) == 0 {
            let n = unsafe { libc::write(self.fd, bytes.as_ptr().cast(), bytes.len()) };
            if n >= 0 {
                let n = n as usize;
                if n == bytes.len() {
                    return;
                }
                bytes.drain(..n);
            }
            // Otherwise (would block, interrupted, or an error the writer thread will see
            // too) the thread takes it from here.
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        if self.input.send(bytes).is_err() {
            // The writer thread ended (the program closed its side): nothing more goes in.
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        let (cols, rows) = (cols.max(2), rows.max(1));
        if self.screen.size() != (cols, rows) {
            self.screen.resize(cols, rows);
            let _ = self.master.resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            });
            self.dirty = true;
        }
    }

    /// What a save writes for this pane: the primary screen's history and screen, and while a
    /// full-screen program holds the terminal, a line naming it (its screen is its own to
    /// redraw, and it ends with the server).
    /// Panic: the screen and scrollback forgotten; the program goes on running.
    pub fn wipe(&mut self) {
        self.screen.wipe();
        self.dirty = true;
        self.unsaved = false;
    }

    pub fn save_text(&self) -> String {
        let mut text = self.screen.history_text();
        if self.screen.modes().alt_screen {
            let name = self
                .master
                .process_group_leader()
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "a full-screen program".into());
            text.push_str(&format!("[fieldkit: {name} was open full-screen here]\n"));
        }
        text
    }

    /// The program running in the foreground, when it is not the pane's own process (the
    /// shell): what closing the pane would kill.
    pub fn foreground(&self) -> Option<String> {
        if self.exited {
            return None;
        }
        let leader = self.master.process_group_leader()?;
        if Some(leader as u32) == self.pid {
            return None;
        }
        let name = std::fs::read_to_string(format!("/proc/{leader}/comm")).ok()?;
        Some(name.trim().to_string())
    }

    /// The program's working directory, from /proc.
    pub fn cwd(&self) -> Option<String> {
        let pid = self.pid?;
        std::fs::read_link(format!("/proc/{pid}/cwd"))
            .ok()
            .map(|p| p.display().to_string())
    }

    pub fn kill(&mut self) {
        let _ = self.killer.kill();
    }
}

/// Reads what the non-blocking pty has, waiting until it has something. `None` at EOF, or at
/// EIO once the program and everything it started have closed it.
fn read_waiting(fd: &std::os::fd::OwnedFd, buf: &mut [u8]) -> Option<usize> {
    use std::os::fd::AsRawFd;
    loop {
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Some(n as usize);
        }
        if n == 0 {
            return None;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => {}
            std::io::ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            _ => return None,
        }
    }
}

fn set_nonblocking(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn dup(fd: std::os::fd::RawFd) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if d < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(d) })
}

/// Writes all of `bytes` to a non-blocking pty, waiting for room whenever it is full. False
/// when the pty is gone.
fn write_waiting(w: &mut dyn Write, wait: &std::os::fd::OwnedFd, mut bytes: &[u8]) -> bool {
    use std::os::fd::AsRawFd;
    while !bytes.is_empty() {
        match w.write(bytes) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd: wait.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                if unsafe { libc::poll(&mut p, 1, -1) } < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return false;
                }
                if p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    w.flush().is_ok()
}

impl Drop for TermProc {
    fn drop(&mut self) {
        if !self.exited {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program that does not read its input while a paste far larger than the pty's buffer
    /// goes in: `write` returns at once (nothing blocks the server), and once the program
    /// reads, every byte arrives, in order.
    #[test]
    fn input_to_a_program_that_stops_reading_never_blocks_and_arrives_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("got");
        let flag = dir.path().join("stopped");
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        // Raw input (no line discipline limits), then it stops itself until told to go on.
        let script = format!(
            "stty raw -echo; touch {}; kill -STOP $$; head -c 300000 > {}",
            flag.display(),
            out.display()
        );
        // A command with spaces runs as `/bin/sh -c COMMAND`: `$$` is the pane's process.
        let t = TermProc::spawn(1, &script, None, (80, 24), 100, None, &[], tx).expect("spawn");
        let pid = t.pid.expect("pid") as i32;
        // Stopped for sure (state T), so that the SIGCONT below cannot come first.
        let stopped = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|st| {
                    st.rsplit(')')
                        .next()
                        .map(|r| r.trim_start().starts_with('T'))
                })
                .unwrap_or(false)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !(flag.exists() && stopped()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the program never stopped itself"
            );
            std::thread::yield_now();
        }
        let paste: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let started = std::time::Instant::now();
        for chunk in paste.chunks(1000) {
            t.write(chunk.to_vec());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "writes to a program that does not read must not wait for it"
        );
        unsafe {
            libc::kill(pid, libc::SIGCONT);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = std::fs::read(&out).unwrap_or_default();
            if got.len() == paste.len() {
                assert!(got == paste, "the bytes arrived out of order");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {} bytes arrived",
                got.len(),
                paste.len()
            );
            std::thread::yield_now();
        }
    }
}
