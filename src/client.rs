/*!
The client: a thin pipe between a terminal and the server.

It puts the terminal in raw mode, sends every terminal event as it comes, and writes the bytes
the server sends. It draws nothing itself, so a killed client (SIGHUP, SIGKILL) costs the
session nothing. The server is started on first use, detached (setsid), and reports readiness
on a pipe, so nobody polls for the socket.
*/

use crate::paths::{self, Dirs};
use crate::protocol::{self, AttachMode, ClientMsg, Command, ServerMsg};
use crate::wire;
use anyhow::{bail, Context, Result};
use fieldkit_widgets::TermCaps;
use std::io::{BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

/// Connects to the running server. With `start`, starts one first if none runs.
pub fn connect(dirs: &Dirs, start: bool) -> Result<UnixStream> {
    paths::secure_runtime_dir(&dirs.runtime)?;
    let socket = dirs.socket();
    // A server killed a moment ago may still hold its socket while it dies: a connection it
    // took is then reset in the handshake. That server is gone; the next try finds out.
    for attempt in 0.. {
        let Ok(s) = UnixStream::connect(&socket) else {
            break;
        };
        match handshake(s) {
            Ok(s) => return Ok(s),
            Err(e) if attempt < 5 && dying(&e) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
    if !start {
        bail!("no server running on {}", socket.display());
    }
    // One starter at a time: two clients racing must not start two servers.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(dirs.start_lock())
        .context("cannot open the start lock")?;
    unsafe {
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX);
    }
    if let Ok(s) = UnixStream::connect(&socket) {
        return handshake(s);
    }
    start_server(dirs)?;
    let s = UnixStream::connect(&socket).with_context(|| {
        format!(
            "the server started but {} refuses connections",
            socket.display()
        )
    })?;
    handshake(s)
}

/// Whether a failed handshake is a server dying under it: reset or hung up on mid-way (under
/// load, a killed server's socket takes the connection and its end is gone by the first write:
/// a broken pipe).
fn dying(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    e.to_string().contains("during the handshake")
        || e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(io.kind(), BrokenPipe | ConnectionReset | ConnectionAborted)
            })
        })
}

fn handshake(mut s: UnixStream) -> Result<UnixStream> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    protocol::client_handshake(&mut s)?;
    s.set_read_timeout(None)?;
    Ok(s)
}

fn start_server(dirs: &Dirs) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the fieldkit binary")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__server")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(home) = std::env::var_os("FIELDKIT_HOME") {
        cmd.env("FIELDKIT_HOME", home);
    }
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the fieldkit server")?;
    let stdout = child.stdout.take().context("no pipe to the server")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line.trim() == "ready" => {
            // The server lives on by itself; reap nothing, it was setsid'd and outlives us.
            std::mem::forget(child);
            Ok(())
        }
        Ok(_) => {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            bail!(
                "the server did not start: {}\n(log: {})",
                err.trim(),
                dirs.logs().join("server.log").display()
            )
        }
        Err(_) => bail!(
            "the server did not report ready within 20 s (log: {})",
            dirs.logs().join("server.log").display()
        ),
    }
}

/// Sends one command and returns (exit code, stdout, stderr).
pub fn command(
    dirs: &Dirs,
    session: Option<String>,
    command: Command,
    start: bool,
) -> Result<(i32, String, String)> {
    // A server that is stopping (kill-server a moment ago) may take the connection and go;
    // a command that may start a server then asks again, reaching the next one.
    for attempt in 0..2 {
        let mut s = connect(dirs, start)?;
        protocol::write_msg(
            &mut s,
            &ClientMsg::Command {
                session: session.clone(),
                command: command.clone(),
            },
        )?;
        match wire::read_frame::<ServerMsg>(&mut s)? {
            Some(ServerMsg::Reply {
                code,
                stdout,
                stderr,
            }) => return Ok((code, stdout, stderr)),
            Some(other) => bail!("unexpected answer from the server: {other:?}"),
            None if start && attempt == 0 => {
                // Wait for the stopping server to let go of its socket (it does so first).
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                while dirs.socket().exists() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            None => break,
        }
    }
    bail!("the server closed the connection without answering")
}

/// Restores the terminal however the client ends.
struct RawGuard;

impl RawGuard {
    fn enter() -> Result<RawGuard> {
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let mut out = std::io::stdout();
        crossterm::execute!(
            out,
            crossterm::terminal::EnterAlternateScreen,
            crossterm::event::EnableBracketedPaste,
            crossterm::event::EnableFocusChange
        )?;
        Ok(RawGuard)
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        crossterm::event::DisableMouseCapture,
        crossterm::event::DisableFocusChange,
        crossterm::event::DisableBracketedPaste,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

/// Attaches this terminal to a session until detach, kill or server exit. Returns the exit code.
pub fn attach(dirs: &Dirs, session: &str, mode: AttachMode) -> Result<i32> {
    use std::io::IsTerminal;
    // The socket's safety comes before anything else is said or done.
    paths::secure_runtime_dir(&dirs.runtime)?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        bail!("fieldkit needs a terminal to attach to (stdin and stdout must be a tty); for scripts use `fieldkit action` and `fieldkit capture`");
    }
    // Saved sessions outlive the server, so attaching starts one if none runs.
    let mut sock = connect(dirs, true)?;
    let _ = mode;
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    protocol::write_msg(
        &mut sock,
        &ClientMsg::Attach {
            session: session.to_string(),
            mode,
            cols,
            rows,
            caps: TermCaps::detect(),
            cwd: std::env::current_dir()
                .ok()
                .map(|d| d.to_string_lossy().into_owned()),
        },
    )?;
    let guard = RawGuard::enter()?;
    let mut reader = sock.try_clone()?;
    // The reader ends the process: when the server says the attachment is over (or vanishes),
    // the terminal is restored and the message printed, whatever the input loop is doing.
    std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        let (message, code) = loop {
            match wire::read_frame::<ServerMsg>(&mut reader) {
                Ok(Some(ServerMsg::Output { bytes })) => {
                    if out.write_all(&bytes).and_then(|_| out.flush()).is_err() {
                        break ("[terminal closed]".to_string(), 1);
                    }
                    tracing::trace!(n = bytes.len(), "frame written");
                }
                Ok(Some(ServerMsg::Exit { message, code })) => break (message, code),
                Ok(Some(ServerMsg::Reply { .. })) => {}
                Ok(None) => break ("[lost server]".to_string(), 1),
                Err(e) => break (format!("[lost server: {e}]"), 1),
            }
        };
        drop(out);
        restore_terminal();
        println!("{message}");
        std::process::exit(code);
    });
    let mut writer = sock;
    while let Ok(event) = crossterm::event::read() {
        tracing::trace!(?event, "event read");
        let msg = match event {
            crossterm::event::Event::Resize(cols, rows) => ClientMsg::Resize { cols, rows },
            e => ClientMsg::Input { event: e },
        };
        if protocol::write_msg(&mut writer, &msg).is_err() {
            break;
        }
    }
    // The terminal went away or the socket broke; the reader thread will end the process.
    std::thread::sleep(Duration::from_secs(2));
    drop(guard);
    Ok(1)
}
