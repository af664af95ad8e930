/*!
The pty engine: a process on a pseudo-terminal (portable-pty) and its screen
(alacritty_terminal) for each terminal pane.

Output is read by one thread per pane and handed to the server loop over a bounded channel,
so a program that floods output is slowed by back-pressure (as under tmux) rather than growing
memory. The loop feeds the bytes to the emulator; a `TermFrame` snapshot is taken only when the
pane is about to be drawn. Input goes through a writer thread per pane, so a program that stops
reading can never block the server.

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
use std::io::{Read, Write};

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
    input: std::sync::mpsc::Sender<Vec<u8>>,
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
    pub fn spawn(
        pane: PaneId,
        command: &str,
        cwd: Option<&str>,
        size: (u16, u16),
        scrollback: usize,
        restored: Option<&str>,
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
        let mut reader = pair.master.try_clone_reader().context("pty reader")?;
        let mut writer = pair.master.take_writer().context("pty writer")?;
        let (input, input_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name(format!("pty-write-{pane}"))
            .spawn(move || {
                while let Ok(bytes) = input_rx.recv() {
                    if writer
                        .write_all(&bytes)
                        .and_then(|_| writer.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .context("pty writer thread")?;
        std::thread::Builder::new()
            .name(format!("pty-read-{pane}"))
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if notes
                                .blocking_send(PtyNote::Output {
                                    pane,
                                    bytes: buf[..n].to_vec(),
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
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
            input,
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

    pub fn write(&self, bytes: Vec<u8>) {
        let _ = self.input.send(bytes);
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

impl Drop for TermProc {
    fn drop(&mut self) {
        if !self.exited {
            self.kill();
        }
    }
}
