/*!
The server: one per user, detached, owning every session.

One tokio task (on a current-thread runtime) owns all state; connections and worker
supervisors are tasks that only move bytes and send `Ev`s to it. The loop drains every pending
event, then renders each dirty session once per attached client and saves what changed.
Nothing polls: with no input, no worker traffic and no visible status pane the server sleeps.
*/

mod chat;
pub mod commands;
pub mod memory;
pub mod popup;
pub mod render;
pub mod session;

use crate::config;
use crate::engine::data::{DataIn, DataOut};
use crate::engine::probe::{ProbeEvent, ProbeRequest};
use crate::engine::pty::{CopyResult, PtyNote, TermProc};
use crate::engine::store::Store;
use crate::engine::{self, WorkerNote};
use crate::keymap::{Key, KeyState, Keymap, Resolved};
use crate::paths::Dirs;
use crate::protocol::{self, AttachMode, ClientMsg, Handshake, ServerMsg};
use crate::wire;
use anyhow::{Context, Result};
use crossterm::event::{Event, KeyEventKind};
use fieldkit_panes::data::{DataEvent, DataRequest};
use fieldkit_panes::keys::encode_paste;
use fieldkit_panes::{
    Action, Cx, Effect, EngineEvent, EngineRequest, EngineRow, EngineState, Outcome, PaneKind,
    UiCommand,
};
use fieldkit_widgets::{TermCaps, Theme};
use popup::{PickThen, Popup, PopupResult};
use render::FrameWriter;
use session::{Ids, Session};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

type ClientId = u64;

pub enum Ev {
    Conn {
        id: ClientId,
        tx: mpsc::UnboundedSender<ServerMsg>,
        backlog: Arc<Backlog>,
    },
    /// A slow client's queue emptied after frames were held back from it.
    Drained {
        id: ClientId,
    },
    Msg {
        id: ClientId,
        msg: ClientMsg,
    },
    Gone {
        id: ClientId,
    },
    Worker(WorkerNote),
}

/// What a connection has queued but not yet written, shared between the loop and the
/// connection's writer. A client that stops reading is sent no more frames until it catches up,
/// so a stalled ssh link costs a bounded amount of memory, never the server.
#[derive(Default)]
pub struct Backlog {
    bytes: AtomicUsize,
    held_back: AtomicBool,
}

/// Frames are held back from a client with more than this queued.
const MAX_BACKLOG: usize = 1 << 20;

impl Client {
    /// Queues terminal bytes for this client, counted in its backlog.
    fn output(&self, bytes: Vec<u8>) {
        self.backlog.bytes.fetch_add(bytes.len(), Ordering::AcqRel);
        if self.tx.send(ServerMsg::Output { bytes }).is_err() {
            self.backlog.bytes.store(0, Ordering::Release);
        }
    }
}

pub struct Client {
    tx: mpsc::UnboundedSender<ServerMsg>,
    backlog: Arc<Backlog>,
    session: Option<String>,
    size: (u16, u16),
    caps: TermCaps,
    writer: FrameWriter,
    keys: KeyState,
}

struct Worker {
    state: EngineState,
    pid: Option<u32>,
    restarts: u32,
    detail: String,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    ping: Option<(u64, Instant)>,
}

pub struct Server {
    dirs: Dirs,
    sessions: BTreeMap<String, Session>,
    /// Session names, most recently used last.
    recent: Vec<String>,
    clients: HashMap<ClientId, Client>,
    ids: Ids,
    keymap: Keymap,
    theme: Theme,
    store: Option<Store>,
    /// Errors to show the next client that attaches (config, store).
    notices: Vec<String>,
    workers: BTreeMap<&'static str, Worker>,
    started: Instant,
    sys: sysinfo::System,
    shutdown: bool,
    config: config::Config,
    /// Each terminal pane's process and screen.
    terms: HashMap<u64, TermProc>,
    /// Terminal panes whose program could not be started (not retried).
    failed_terms: std::collections::HashSet<u64>,
    pty_tx: mpsc::Sender<PtyNote>,
    /// The most recent yank, for paste-buffer.
    paste: Option<String>,
    /// For starting workers later (lazy ones on first use).
    events: mpsc::UnboundedSender<Ev>,
    /// Chat sessions shown, answers being written.
    chat: chat::ChatState,
    /// Panes that have been given what a new pane needs from an engine (`greet_new_panes`).
    greeted: std::collections::HashSet<u64>,
    /// The inode of the socket this server bound (`unlisten`).
    bound: Option<u64>,
}

/// Quiet time after which the server trims its memory.
const IDLE_TRIM_AFTER: Duration = Duration::from_secs(3);
/// How long after output its scrollback is written to state.db (at most this much is lost).
const SCROLLBACK_SAVE_EVERY: Duration = Duration::from_secs(5);
/// Output chunks taken from the pty channel before drawing: a flood still gets frames.
const PTY_BATCH: usize = 64;

/// Entry point of `fieldkit __server`. Binds the socket, tells the parent it is ready by
/// printing one line on stdout, then detaches stdout and serves until killed.
pub fn run(dirs: Dirs) -> Result<()> {
    crate::paths::secure_runtime_dir(&dirs.runtime)?;
    crate::logging::init(&dirs, "server")?;
    let socket = dirs.socket();
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        anyhow::bail!(
            "a fieldkit server is already running on {}",
            socket.display()
        );
    }
    let _ = std::fs::remove_file(&socket);
    let std_listener = std::os::unix::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    let bound = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&socket).ok().map(|m| m.ino())
    };
    std_listener.set_nonblocking(true)?;
    std::fs::write(dirs.pid_file(), std::process::id().to_string())?;
    tracing::info!(pid = std::process::id(), socket = %socket.display(), "server ready");
    println!("ready");
    crate::logging::detach_stdio(&dirs);
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server_dirs = dirs.clone();
    let result = rt.block_on(async move {
        let listener = UnixListener::from_std(std_listener)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (pty_tx, pty_rx) = mpsc::channel(PTY_BATCH);
        let mut server = Server::new(server_dirs, tx.clone(), pty_tx);
        server.bound = bound;
        tokio::spawn(accept_loop(listener, tx));
        // Start-up is done: from here on only the code the server runs stays resident.
        let trimmed = memory::trim_code_pages();
        tracing::debug!(trimmed, "code pages trimmed");
        server.serve(rx, pty_rx).await
    });
    // Usually gone already (`unlisten`); a server started meanwhile owns the path now.
    unlisten(&dirs, bound);
    tracing::info!("server stopped");
    result
}

/// Removes the socket and pid file if they are still this server's (`bound`: the socket's
/// inode), so that nobody connects to a server that is stopping and a newer server's files
/// are never removed.
fn unlisten(dirs: &Dirs, bound: Option<u64>) {
    use std::os::unix::fs::MetadataExt;
    let socket = dirs.socket();
    if bound.is_some() && std::fs::metadata(&socket).ok().map(|m| m.ino()) == bound {
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(dirs.pid_file());
    }
}

async fn accept_loop(listener: UnixListener, tx: mpsc::UnboundedSender<Ev>) {
    let me = unsafe { libc::getuid() };
    let mut next: ClientId = 0;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(c) if c.uid() == me => {}
            Ok(c) => {
                tracing::warn!(uid = c.uid(), "refused a connection from another user");
                continue;
            }
            Err(e) => {
                tracing::warn!("refused a connection without credentials: {e}");
                continue;
            }
        }
        next += 1;
        tokio::spawn(connection(next, stream, tx.clone()));
    }
}

/// One client connection: handshake, then frames in both directions until either side ends.
async fn connection(id: ClientId, stream: UnixStream, events: mpsc::UnboundedSender<Ev>) {
    let (mut rd, mut wr) = stream.into_split();
    let mut hello = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut hello)).await;
    if !matches!(read, Ok(Ok(_))) {
        return;
    }
    match protocol::judge_hello(&hello) {
        None => {
            tracing::warn!(
                client = id,
                "dropped a connection that does not speak fieldkit"
            );
            return;
        }
        Some(h @ Handshake::Refused(_)) => {
            tracing::warn!(client = id, "refused a client of another protocol version");
            let _ = wr.write_all(&protocol::server_hello(&h)).await;
            return;
        }
        Some(Handshake::Ok) => {
            if wr
                .write_all(&protocol::server_hello(&Handshake::Ok))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<ServerMsg>();
    let backlog = Arc::new(Backlog::default());
    if events
        .send(Ev::Conn {
            id,
            tx,
            backlog: backlog.clone(),
        })
        .is_err()
    {
        return;
    }
    let drained = events.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let last = matches!(msg, ServerMsg::Exit { .. } | ServerMsg::Reply { .. });
            let queued = match &msg {
                ServerMsg::Output { bytes } => bytes.len(),
                _ => 0,
            };
            let Ok(bytes) = wire::encode(&msg) else {
                continue;
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
            let left = backlog.bytes.fetch_sub(queued, Ordering::AcqRel) - queued;
            if left == 0 && backlog.held_back.swap(false, Ordering::AcqRel) {
                let _ = drained.send(Ev::Drained { id });
            }
            if last {
                let _ = wr.shutdown().await;
                break;
            }
        }
    });
    loop {
        match wire::read_frame_async::<ClientMsg>(&mut rd).await {
            Ok(Some(msg)) => {
                if events.send(Ev::Msg { id, msg }).is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(client = id, "dropped a client after a bad frame: {e}");
                break;
            }
        }
    }
    let _ = events.send(Ev::Gone { id });
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

impl Server {
    fn new(dirs: Dirs, events: mpsc::UnboundedSender<Ev>, pty_tx: mpsc::Sender<PtyNote>) -> Server {
        let loaded = config::load(&dirs);
        let shell = loaded.config.shell();
        let mut notices = loaded.errors;
        let mut ids = Ids::default();
        let mut sessions = BTreeMap::new();
        let store = match Store::open(&dirs.state_db()) {
            Ok((store, note)) => {
                notices.extend(note);
                match store.load_all() {
                    Ok((states, broken)) => {
                        for st in states {
                            let name = st.name.clone();
                            if let Some(s) = Session::restore(st, &mut ids, &shell) {
                                sessions.insert(name, s);
                            }
                        }
                        if !broken.is_empty() {
                            notices.push(format!(
                                "These saved sessions could not be read and were set aside in state.db: {}",
                                broken.join(", ")
                            ));
                        }
                    }
                    Err(e) => notices.push(format!("Saved sessions could not be read: {e}")),
                }
                Some(store)
            }
            Err(e) => {
                notices.push(format!("Sessions will not be saved: {e:#}"));
                None
            }
        };
        for n in &notices {
            tracing::warn!("{n}");
        }
        let mut server = Server {
            recent: sessions.keys().cloned().collect(),
            sessions,
            clients: HashMap::new(),
            ids,
            keymap: loaded.keymap,
            theme: loaded.theme,
            store,
            notices,
            workers: BTreeMap::new(),
            started: Instant::now(),
            sys: sysinfo::System::new(),
            shutdown: false,
            dirs,
            config: loaded.config,
            terms: HashMap::new(),
            failed_terms: Default::default(),
            pty_tx,
            paste: None,
            events,
            chat: chat::ChatState::default(),
            greeted: Default::default(),
            bound: None,
        };
        server.start_workers();
        // Grids and editors restored from a saved session need DuckDB at once.
        let data_panes = server.sessions.values().any(|s| {
            s.panes
                .values()
                .any(|p| matches!(p.kind(), PaneKind::Grid | PaneKind::Sql))
        });
        if data_panes {
            server.spawn_worker("data");
        }
        server.greet_new_panes();
        server
    }

    fn start_workers(&mut self) {
        for (kind, _) in engine::BUILT_IN {
            if !engine::LAZY.contains(kind) {
                self.spawn_worker(kind);
            }
        }
    }

    /// Starts the supervisor of worker `kind` unless it runs already.
    fn spawn_worker(&mut self, kind: &'static str) {
        if self.workers.contains_key(kind) {
            return;
        }
        let events = self.events.clone();
        let exe = std::env::current_exe().unwrap_or_else(|_| "fieldkit".into());
        {
            let (req_tx, req_rx) = mpsc::unbounded_channel();
            let (note_tx, mut note_rx) = mpsc::unbounded_channel();
            let log = Some(self.dirs.logs().join(format!("worker-{kind}.log")));
            tokio::spawn(engine::supervise(kind, exe.clone(), log, note_tx, req_rx));
            let ev = events.clone();
            tokio::spawn(async move {
                while let Some(n) = note_rx.recv().await {
                    if ev.send(Ev::Worker(n)).is_err() {
                        break;
                    }
                }
            });
            self.workers.insert(
                kind,
                Worker {
                    state: EngineState::NotStarted,
                    pid: None,
                    restarts: 0,
                    detail: String::new(),
                    tx: req_tx,
                    ping: None,
                },
            );
        }
    }

    async fn serve(
        &mut self,
        mut rx: mpsc::UnboundedReceiver<Ev>,
        mut pty_rx: mpsc::Receiver<PtyNote>,
    ) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        // One-shot deadlines, armed only by real work, so that an idle server never wakes:
        // memory is trimmed once activity stops, and scrollback is saved a while after output.
        let mut trim_at: Option<tokio::time::Instant> = None;
        let mut save_at: Option<tokio::time::Instant> = None;
        loop {
            let t0 = std::time::Instant::now();
            self.sync_terms();
            let t1 = std::time::Instant::now();
            self.render_all();
            let t2 = std::time::Instant::now();
            self.save_all();
            tracing::trace!(
                sync_us = (t1 - t0).as_micros() as u64,
                draw_us = (t2 - t1).as_micros() as u64,
                save_us = t2.elapsed().as_micros() as u64,
                "sync, draw and save"
            );
            if self.shutdown {
                self.save_scrollbacks(false);
                // From now on a new client starts a new server instead of reaching this one.
                unlisten(&self.dirs, self.bound);
                // Let every client read its Exit before the runtime (and their writers) stop,
                // so an attached client says why it ended instead of "exited unexpectedly".
                let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                while !self.clients.is_empty() {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(ev @ (Ev::Gone { .. } | Ev::Conn { .. }))) => self.handle(ev),
                        // Someone who connected meanwhile is told, not left without an answer.
                        Ok(Some(Ev::Msg { id, msg })) => {
                            let why = "the server is stopping; run the command again".to_string();
                            match msg {
                                ClientMsg::Command { .. } => self.send(
                                    id,
                                    ServerMsg::Reply {
                                        code: 1,
                                        stdout: String::new(),
                                        stderr: why,
                                    },
                                ),
                                ClientMsg::Attach { .. } => self.send(
                                    id,
                                    ServerMsg::Exit {
                                        message: why,
                                        code: 1,
                                    },
                                ),
                                _ => {}
                            }
                        }
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
                break;
            }
            if save_at.is_none() && self.terms.values().any(|t| t.unsaved) {
                save_at = Some(tokio::time::Instant::now() + SCROLLBACK_SAVE_EVERY);
            }
            let status_visible = self.status_visible();
            let now = tokio::time::Instant::now();
            let (trim_deadline, save_deadline) = (trim_at.unwrap_or(now), save_at.unwrap_or(now));
            let mut worked = true;
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(trim_deadline), if trim_at.is_some() => {
                    trim_at = None;
                    worked = false;
                    memory::trim_idle();
                }
                _ = tokio::time::sleep_until(save_deadline), if save_at.is_some() => {
                    save_at = None;
                    self.save_scrollbacks(true);
                }
                _ = term.recv() => {
                    tracing::info!("SIGTERM: saving and stopping");
                    self.stop_all("[server exited]");
                }
                ev = rx.recv() => {
                    let Some(ev) = ev else { break };
                    self.handle(ev);
                    while let Ok(ev) = rx.try_recv() {
                        self.handle(ev);
                    }
                }
                note = pty_rx.recv() => {
                    if let Some(note) = note {
                        self.on_pty(note);
                        for _ in 1..PTY_BATCH {
                            match pty_rx.try_recv() {
                                Ok(n) => self.on_pty(n),
                                Err(_) => break,
                            }
                        }
                    }
                }
                _ = tick.tick(), if status_visible => self.refresh_status(),
            }
            if worked {
                trim_at = Some(tokio::time::Instant::now() + IDLE_TRIM_AFTER);
            }
        }
        // Let the connection writers flush their last messages.
        self.clients.clear();
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Drained { id } => {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.writer.invalidate();
                    if let Some(name) = c.session.clone() {
                        self.mark(&name);
                    }
                }
            }
            Ev::Conn { id, tx, backlog } => {
                self.clients.insert(
                    id,
                    Client {
                        tx,
                        backlog,
                        session: None,
                        size: (80, 24),
                        caps: TermCaps::default(),
                        writer: FrameWriter::default(),
                        keys: KeyState::default(),
                    },
                );
            }
            Ev::Gone { id } => {
                if let Some(c) = self.clients.remove(&id) {
                    if let Some(name) = c.session {
                        self.reconcile_size(&name);
                    }
                }
            }
            Ev::Msg { id, msg } => self.on_msg(id, msg),
            Ev::Worker(note) => self.on_worker(note),
        }
    }

    fn on_msg(&mut self, id: ClientId, msg: ClientMsg) {
        match msg {
            ClientMsg::Attach {
                session,
                mode,
                cols,
                rows,
                caps,
            } => {
                if let Err(e) = self.attach(id, session, mode, (cols, rows), caps) {
                    self.send(
                        id,
                        ServerMsg::Exit {
                            message: e,
                            code: 1,
                        },
                    );
                }
            }
            ClientMsg::Resize { cols, rows } => self.resize(id, cols, rows),
            ClientMsg::Input { event } => match event {
                Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(id, k),
                Event::Mouse(m) if self.config.mouse => self.on_mouse(id, m),
                Event::Resize(c, r) => self.resize(id, c, r),
                Event::Paste(text) => {
                    let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
                        return;
                    };
                    if self.paste_into(&name, &text) {
                        return;
                    }
                    for ch in text.chars().filter(|c| !c.is_control()).take(4096) {
                        let k = crossterm::event::KeyEvent::new(
                            crossterm::event::KeyCode::Char(ch),
                            crossterm::event::KeyModifiers::NONE,
                        );
                        self.on_key(id, k);
                    }
                }
                _ => {}
            },
            ClientMsg::Detach => {
                if let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) {
                    self.detach_client(id, &name);
                }
            }
            ClientMsg::Command { session, command } => {
                let (code, stdout, stderr) = match self.command(session, command) {
                    Ok(out) => (0, out, String::new()),
                    Err(e) => (1, String::new(), e),
                };
                self.send(
                    id,
                    ServerMsg::Reply {
                        code,
                        stdout,
                        stderr,
                    },
                );
            }
        }
    }

    fn send(&self, id: ClientId, msg: ServerMsg) {
        if let Some(c) = self.clients.get(&id) {
            let _ = c.tx.send(msg);
        }
    }

    fn attach(
        &mut self,
        id: ClientId,
        name: String,
        mode: AttachMode,
        size: (u16, u16),
        caps: TermCaps,
    ) -> Result<(), String> {
        let name = match mode {
            AttachMode::MostRecent => self
                .recent
                .last()
                .cloned()
                .ok_or("no sessions: start one with `fieldkit`")?,
            _ => name,
        };
        let exists = self.sessions.contains_key(&name);
        match mode {
            AttachMode::Existing if !exists => {
                return Err(format!("no session named {name:?} (see `fieldkit ls`)"))
            }
            AttachMode::New if exists => return Err(format!("duplicate session: {name}")),
            _ => {}
        }
        if !exists {
            commands::check_name(&name)?;
            let s = Session::new(&name, &mut self.ids, size, &self.config.shell());
            self.sessions.insert(name.clone(), s);
        }
        let size = (size.0.max(1), size.1.max(1));
        if let Some(c) = self.clients.get_mut(&id) {
            c.session = Some(name.clone());
            c.size = size;
            c.caps = caps;
            c.writer.invalidate();
        }
        self.touch(&name);
        self.reconcile_size(&name);
        if self.config.mouse {
            // Ask the client's terminal for mouse reports (button events, drags, SGR form).
            if let Some(c) = self.clients.get(&id) {
                c.output(b"\x1b[?1000h\x1b[?1002h\x1b[?1006h".to_vec());
            }
        }
        if !self.notices.is_empty() {
            let text = std::mem::take(&mut self.notices).join("\n");
            if let Some(s) = self.sessions.get_mut(&name) {
                s.popup = Some(popup::message("fieldkit found problems", &text));
            }
        }
        self.mark(&name);
        tracing::info!(client = id, session = %name, "attached");
        Ok(())
    }

    fn resize(&mut self, id: ClientId, cols: u16, rows: u16) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.size = (cols.max(1), rows.max(1));
        c.writer.invalidate();
        if let Some(name) = c.session.clone() {
            self.reconcile_size(&name);
            self.mark(&name);
        }
    }

    /// The session takes the smallest size among its clients, as tmux does by default.
    fn reconcile_size(&mut self, name: &str) {
        let sizes: Vec<(u16, u16)> = self
            .clients
            .values()
            .filter(|c| c.session.as_deref() == Some(name))
            .map(|c| c.size)
            .collect();
        if sizes.is_empty() {
            return;
        }
        let w = sizes.iter().map(|s| s.0).min().unwrap_or(80);
        let h = sizes.iter().map(|s| s.1).min().unwrap_or(24);
        if let Some(s) = self.sessions.get_mut(name) {
            if s.size != (w, h) {
                s.size = (w, h);
                s.changed = true;
            }
            s.dirty = true;
        }
        for c in self
            .clients
            .values_mut()
            .filter(|c| c.session.as_deref() == Some(name))
        {
            c.writer.invalidate();
        }
    }

    fn touch(&mut self, name: &str) {
        self.recent.retain(|n| n != name);
        self.recent.push(name.to_string());
    }

    fn mark(&mut self, name: &str) {
        if let Some(s) = self.sessions.get_mut(name) {
            s.dirty = true;
        }
    }

    fn detach_client(&mut self, id: ClientId, name: &str) {
        // Detaching is a natural moment to keep what the terminals show.
        self.save_scrollbacks(false);
        self.end_attachment(id, format!("[detached (from session {name})]"));
        self.reconcile_size(name);
    }

    fn on_key(&mut self, id: ClientId, k: crossterm::event::KeyEvent) {
        tracing::trace!(?k.code, "key in");
        let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
            return;
        };
        self.touch(&name);
        let Some(s) = self.sessions.get_mut(&name) else {
            return;
        };
        if let Some(p) = s.popup.as_mut() {
            match p.on_key(&k, &self.keymap) {
                PopupResult::Keep => {}
                PopupResult::Close => s.popup = None,
                PopupResult::Run(text) => {
                    s.popup = None;
                    match Action::parse(&text) {
                        Ok(a) => self.run_action(&name, a, Some(id)),
                        Err(e) => self.show(&name, "Not run", &e),
                    }
                }
                PopupResult::Insert(text) => {
                    s.popup = None;
                    self.pane_call(&name, |p, cx| {
                        p.on_engine(EngineEvent::InsertText(text), cx)
                    });
                }
                PopupResult::Confirm(c) => {
                    s.popup = None;
                    self.confirmed(&name, c);
                }
            }
            self.mark(&name);
            return;
        }
        let kind = s.focused_kind();
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let had_pending = client.keys.prefix || !client.keys.pending.is_empty();
        let resolved = self
            .keymap
            .resolve(&mut client.keys, Key::from_event(&k), kind);
        match resolved {
            Resolved::Pending | Resolved::Unbound => self.mark(&name),
            Resolved::Action(a) => {
                self.mark(&name);
                self.run_action(&name, a, Some(id));
            }
            Resolved::Input(keys) => {
                let n = keys.len();
                for (i, key) in keys.into_iter().enumerate() {
                    let ev = if i + 1 == n { k } else { key.event() };
                    self.pane_call(&name, |p, cx| p.on_input(&ev, cx));
                }
                // A pending prefix or sequence may have ended: the hint bar changes only then.
                if had_pending {
                    self.mark(&name);
                }
            }
        }
    }

    /// A click focuses the pane under it; a program that asked for the mouse gets the event,
    /// in its own pane's coordinates.
    fn on_mouse(&mut self, id: ClientId, m: crossterm::event::MouseEvent) {
        use crossterm::event::{MouseButton, MouseEventKind as K};
        let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&name) else {
            return;
        };
        if s.popup.is_some() {
            return;
        }
        let at = ratatui::layout::Position::new(m.column, m.row);
        let Some((pane, rect)) = s.visible().into_iter().find(|(_, r)| r.contains(at)) else {
            return;
        };
        if matches!(m.kind, K::Down(_)) && s.focused() != pane {
            if let Some(tab) = s.tabs.get_mut(s.active) {
                tab.focus = pane;
            }
            s.bells.remove(&pane);
            s.dirty = true;
        }
        let Some(t) = self.terms.get(&pane) else {
            return;
        };
        let modes = t.screen.modes();
        // Inside the border only.
        if !modes.mouse || m.column <= rect.x || m.row <= rect.y {
            return;
        }
        let (x, y) = (m.column - rect.x - 1, m.row - rect.y - 1);
        let mods = (m.modifiers.contains(crossterm::event::KeyModifiers::SHIFT) as u8) * 4
            + (m.modifiers.contains(crossterm::event::KeyModifiers::ALT) as u8) * 8
            + (m.modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL) as u8)
                * 16;
        let button = |b: MouseButton| match b {
            MouseButton::Left => 0,
            MouseButton::Middle => 1,
            MouseButton::Right => 2,
        };
        let (b, release) = match m.kind {
            K::Down(b) => (button(b), false),
            K::Up(b) => (button(b), true),
            K::Drag(b) if modes.mouse_drag => (button(b) + 32, false),
            K::ScrollUp => (64, false),
            K::ScrollDown => (65, false),
            _ => return,
        };
        let bytes = fieldkit_panes::keys::encode_mouse(b + mods, x, y, release, modes.sgr_mouse);
        if !bytes.is_empty() {
            t.write(bytes);
        }
    }

    /// Calls the focused pane of `name` and carries out the effects it asks for.
    fn pane_call(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn fieldkit_panes::Pane, &mut Cx) -> Outcome,
    ) -> Outcome {
        let Some(s) = self.sessions.get_mut(name) else {
            return Outcome::Ignored;
        };
        let focus = s.focused();
        s.bells.remove(&focus);
        self.pane_call_id(name, focus, f)
    }

    /// Calls pane `id` of session `name` and carries out its effects.
    fn pane_call_id(
        &mut self,
        name: &str,
        id: u64,
        f: impl FnOnce(&mut dyn fieldkit_panes::Pane, &mut Cx) -> Outcome,
    ) -> Outcome {
        let Some(s) = self.sessions.get_mut(name) else {
            return Outcome::Ignored;
        };
        let Some(p) = s.panes.get_mut(&id) else {
            return Outcome::Ignored;
        };
        let mut cx = Cx::default();
        let out = f(p.as_mut(), &mut cx);
        // Only a pane that says it changed is redrawn: typing into a terminal changes nothing
        // until the program answers, and drawing before the echo would only delay it.
        if cx.dirty {
            s.dirty = true;
        }
        self.effects(name, id, cx.effects);
        out
    }

    /// The session holding pane `id`.
    fn session_of(&self, id: u64) -> Option<String> {
        self.sessions
            .iter()
            .find(|(_, s)| s.panes.contains_key(&id))
            .map(|(n, _)| n.clone())
    }

    /// Sends text to the clipboard of every client of `name` (OSC 52).
    fn clipboard(&self, name: &str, text: &str) {
        let osc = format!("\x1b]52;c;{}\x07", crate::logging::base64(text.as_bytes()));
        for c in self
            .clients
            .values()
            .filter(|c| c.session.as_deref() == Some(name))
        {
            c.output(osc.clone().into_bytes());
        }
    }

    /// Pastes into the focused pane if it is a running terminal. Returns whether it was.
    fn paste_into(&mut self, name: &str, text: &str) -> bool {
        let Some(id) = self.sessions.get(name).map(|s| s.focused()) else {
            return false;
        };
        match self.terms.get(&id) {
            Some(t) if !t.exited => {
                t.write(encode_paste(text, t.screen.modes().bracketed_paste));
                true
            }
            _ => false,
        }
    }

    fn effects(&mut self, name: &str, source: u64, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Engine(EngineRequest::StatusRefresh) => self.refresh_status(),
                Effect::Engine(EngineRequest::TermInput(bytes)) => {
                    if let Some(t) = self.terms.get(&source) {
                        t.write(bytes);
                    }
                }
                Effect::Engine(EngineRequest::TermCopy(cmd)) => {
                    let Some(t) = self.terms.get_mut(&source) else {
                        continue;
                    };
                    let result = t.screen.copy(&cmd);
                    t.dirty = true;
                    let ev = match result {
                        CopyResult::Done => None,
                        CopyResult::Note(n) => Some(EngineEvent::TermNote(n)),
                        CopyResult::Yanked(text) => {
                            self.clipboard(name, &text);
                            self.paste = Some(text);
                            Some(EngineEvent::TermCopyDone)
                        }
                    };
                    if let Some(ev) = ev {
                        self.pane_call_id(name, source, |p, cx| p.on_engine(ev, cx));
                    }
                    self.mark(name);
                }
                Effect::Engine(EngineRequest::Data(req)) => self.data_send(source, req),
                Effect::Engine(EngineRequest::RunSql { sql, dialect }) => {
                    self.run_sql(name, source, sql, dialect)
                }
                Effect::Engine(EngineRequest::CancelSql) => {
                    let grid = self
                        .sessions
                        .get(name)
                        .and_then(|s| s.links.get(&source).copied());
                    if let Some(g) = grid {
                        self.data_send(g, DataRequest::Cancel);
                    }
                }
                Effect::Engine(EngineRequest::SqlHistory) => self.sql_history(name),
                Effect::Engine(EngineRequest::Chat(req)) => self.chat_request(name, source, req),
                Effect::Engine(EngineRequest::AskData { question, schema }) => {
                    self.ask_data(name, source, question, schema)
                }
                Effect::Ui(UiCommand::Prompt {
                    title,
                    initial,
                    then,
                    on_empty,
                }) => {
                    if let Some(s) = self.sessions.get_mut(name) {
                        s.popup = Some(Popup::Prompt {
                            title,
                            input: initial,
                            then,
                            on_empty,
                        });
                        s.dirty = true;
                    }
                }
                Effect::Ui(UiCommand::ClosePane) => self.close_pane(name, source),
                Effect::Ui(UiCommand::Message { title, text }) => self.show(name, &title, &text),
                Effect::Ui(UiCommand::Clipboard(text)) => self.clipboard(name, &text),
            }
        }
    }

    fn show(&mut self, name: &str, title: &str, text: &str) {
        if let Some(s) = self.sessions.get_mut(name) {
            s.popup = Some(popup::message(title, text));
            s.dirty = true;
        }
    }

    /// Runs an action in session `name`. From a key (`client` is set) a refusal is shown in a
    /// popup; from the CLI it is returned.
    fn run_action(&mut self, name: &str, action: Action, client: Option<ClientId>) {
        if let Err(e) = self.try_action(name, action, client) {
            if client.is_some() {
                self.show(name, "Not done", &e);
            } else {
                tracing::info!("action refused: {e}");
            }
        }
    }

    fn try_action(
        &mut self,
        name: &str,
        action: Action,
        client: Option<ClientId>,
    ) -> Result<(), String> {
        let Some(s) = self.sessions.get_mut(name) else {
            return Err(format!("no session {name:?}"));
        };
        s.dirty = true;
        match action {
            Action::Detach => {
                let ids: Vec<ClientId> = match client {
                    Some(id) => vec![id],
                    None => self.clients_of(name),
                };
                for id in ids {
                    self.detach_client(id, name);
                }
            }
            Action::Palette => s.popup = Some(popup::palette(&self.keymap)),
            Action::Help => s.popup = Some(Popup::Help { scroll: 0 }),
            Action::RenameTab(None) => {
                s.popup = Some(Popup::Prompt {
                    title: "rename tab".into(),
                    input: s.tab().name.clone(),
                    then: "rename-tab".into(),
                    on_empty: None,
                })
            }
            Action::ReloadConfig => {
                let loaded = config::load(&self.dirs);
                self.keymap = loaded.keymap;
                self.theme = loaded.theme;
                self.config = loaded.config;
                for c in self.clients.values_mut() {
                    c.writer.invalidate();
                    c.keys = KeyState::default();
                }
                for s in self.sessions.values_mut() {
                    s.dirty = true;
                }
                if !loaded.errors.is_empty() {
                    return Err(loaded.errors.join("\n"));
                }
            }
            Action::KillSession => self.kill_session(name),
            Action::SendPrefix => {
                let ev = self.keymap.prefix.event();
                self.pane_call(name, |p, cx| p.on_input(&ev, cx));
            }
            Action::PasteBuffer => {
                let Some(text) = self.paste.clone() else {
                    return Err("Nothing yanked yet: copy mode (C-b [) then y yanks.".into());
                };
                if !self.paste_into(name, &text) {
                    return Err("Paste goes into a running terminal pane.".into());
                }
            }
            Action::Unbind => {}
            Action::OpenFile(Some(path)) => self.open_file(name, &path)?,
            Action::OpenFile(None) => self.file_picker(name),
            Action::AttachContext => self.attach_context(name)?,
            Action::AskShell(None) => {
                if !self.terms.contains_key(&s.focused()) {
                    return Err("ask-shell works from a terminal pane: focus one first.".into());
                }
                s.popup = Some(Popup::Prompt {
                    title: "ask for a shell command".into(),
                    input: String::new(),
                    then: "ask-shell".into(),
                    on_empty: None,
                });
            }
            Action::AskShell(Some(r)) => self.ask_shell(name, r)?,
            Action::Index(p) => self.index_action(name, p)?,
            other => {
                let applied = s.apply(&other, &mut self.ids)?;
                if applied {
                    self.greet_new_panes();
                }
                if !applied {
                    let out = self.pane_call(name, |p, cx| p.on_action(&other, cx));
                    if let (Outcome::Ignored, Action::Pane { name: verb, .. }) = (out, &other) {
                        // `cancel` with nothing to cancel is not worth a popup.
                        if *verb != "cancel" {
                            return Err(format!(
                                "`{verb}` does nothing in this pane. {}",
                                other.info().desc
                            ));
                        }
                    }
                }
                if self.status_visible() {
                    self.refresh_status();
                }
            }
        }
        Ok(())
    }

    fn clients_of(&self, name: &str) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, c)| c.session.as_deref() == Some(name))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Tells client `id` its attachment is over (it prints `message` and exits) and forgets
    /// which session it showed.
    fn end_attachment(&mut self, id: ClientId, message: String) {
        self.send(id, ServerMsg::Exit { message, code: 0 });
        if let Some(c) = self.clients.get_mut(&id) {
            c.session = None;
        }
    }

    fn kill_session(&mut self, name: &str) {
        for id in self.clients_of(name) {
            self.end_attachment(id, format!("[session {name} killed]"));
        }
        self.sessions.remove(name);
        self.recent.retain(|n| n != name);
        if let Some(store) = &self.store {
            if let Err(e) = store.delete(name) {
                tracing::warn!("cannot forget session {name}: {e}");
            }
        }
    }

    /// Closes pane `id` of session `name` (a finished terminal); the last pane ends the session.
    fn close_pane(&mut self, name: &str, id: u64) {
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        if s.pane_count() == 1 {
            self.kill_session(name);
            return;
        }
        if let Some(tab) = s.tabs.iter().position(|t| t.layout.contains(id)) {
            s.active = tab;
            s.tabs[tab].focus = id;
            let _ = s.apply(&Action::ClosePane, &mut self.ids);
        }
    }

    fn stop_all(&mut self, message: &str) {
        for c in self.clients.values() {
            if c.session.is_some() {
                let _ = c.tx.send(ServerMsg::Exit {
                    message: message.to_string(),
                    code: 0,
                });
            }
        }
        self.shutdown = true;
    }

    fn on_worker(&mut self, note: WorkerNote) {
        let kind = match &note {
            WorkerNote::Starting { kind }
            | WorkerNote::Started { kind, .. }
            | WorkerNote::Frame { kind, .. }
            | WorkerNote::Exited { kind, .. } => *kind,
        };
        let Some(w) = self.workers.get_mut(kind) else {
            return;
        };
        match note {
            WorkerNote::Starting { .. } => {
                // After a failure the row keeps saying why until the worker is ready again.
                if !matches!(w.state, EngineState::Failed(_)) {
                    w.state = EngineState::Starting;
                }
            }
            WorkerNote::Started { pid, .. } => w.pid = Some(pid),
            WorkerNote::Exited { why, .. } => {
                w.state = EngineState::Failed(why.clone());
                w.detail = why.clone();
                w.restarts += 1;
                w.pid = None;
                w.ping = None;
                if kind == "data" {
                    self.data_broadcast(|| EngineEvent::Data(DataEvent::Lost { why: why.clone() }));
                }
                if kind == "llm" {
                    self.llm_lost(&why);
                }
            }
            WorkerNote::Frame { bytes, .. } if kind == "data" => {
                match wire::decode::<DataOut>(&bytes) {
                    Ok(DataOut::Hello { pid, detail }) => {
                        w.state = EngineState::Ready;
                        w.pid = Some(pid);
                        w.detail = detail;
                        self.data_broadcast(|| EngineEvent::Ready);
                    }
                    Ok(DataOut::Event { pane, ev }) => self.data_event(pane, ev),
                    Err(e) => tracing::warn!(kind, "undecodable frame from worker: {e}"),
                }
            }
            WorkerNote::Frame { bytes, .. } if kind == "llm" => {
                match wire::decode::<crate::engine::llm::LlmOut>(&bytes) {
                    Ok(out) => self.on_llm(out),
                    Err(e) => tracing::warn!(kind, "undecodable frame from worker: {e}"),
                }
            }
            WorkerNote::Frame { bytes, .. } => match wire::decode::<ProbeEvent>(&bytes) {
                Ok(ProbeEvent::Hello { pid }) => {
                    w.state = EngineState::Ready;
                    w.pid = Some(pid);
                }
                Ok(ProbeEvent::Pong { id }) => {
                    if let Some((want, at)) = w.ping.take() {
                        if want == id {
                            w.detail = format!("round trip {} µs", at.elapsed().as_micros());
                        }
                    }
                }
                Err(e) => tracing::warn!(kind, "undecodable frame from worker: {e}"),
            },
        }
        if self.status_visible() {
            self.push_status();
        }
    }

    /// Sends a request to the data worker on behalf of pane `pane`, starting the worker first.
    fn data_send(&mut self, pane: u64, req: DataRequest) {
        self.spawn_worker("data");
        let Some(w) = self.workers.get("data") else {
            return;
        };
        match wire::encode(&DataIn { pane, req }) {
            Ok(frame) => {
                let _ = w.tx.send(frame);
            }
            Err(e) => tracing::warn!("data request not sent: {e}"),
        }
    }

    /// Gives panes that appeared since the last call what one restored at start-up gets: a
    /// chat its session; a SQL editor, when DuckDB is up already, the `Ready` that makes it
    /// read the catalog (completion and ask-data need it). Restored panes get `Ready` when the
    /// worker says hello.
    fn greet_new_panes(&mut self) {
        let data_ready = self
            .workers
            .get("data")
            .is_some_and(|w| w.state == EngineState::Ready);
        let new: Vec<(String, u64, PaneKind, Option<i64>)> = self
            .sessions
            .iter()
            .flat_map(|(n, s)| {
                s.panes
                    .iter()
                    .filter(|(id, _)| !self.greeted.contains(id))
                    .map(move |(id, p)| {
                        let want = match p.save() {
                            fieldkit_panes::PaneState::Chat { session } => session,
                            _ => None,
                        };
                        (n.clone(), *id, p.kind(), want)
                    })
            })
            .collect();
        for (name, id, kind, want) in new {
            self.greeted.insert(id);
            match kind {
                PaneKind::Chat => self.open_chat(&name, id, want),
                PaneKind::Sql if data_ready => {
                    self.pane_call_id(&name, id, |p, cx| p.on_engine(EngineEvent::Ready, cx));
                }
                _ => {}
            }
        }
    }

    /// Gives every grid and SQL pane the event `make` builds.
    fn data_broadcast(&mut self, make: impl Fn() -> EngineEvent) {
        let targets: Vec<(String, u64)> = self
            .sessions
            .iter()
            .flat_map(|(n, s)| {
                s.panes
                    .iter()
                    .filter(|(_, p)| matches!(p.kind(), PaneKind::Grid | PaneKind::Sql))
                    .map(move |(id, _)| (n.clone(), *id))
            })
            .collect();
        for (name, id) in targets {
            self.pane_call_id(&name, id, |p, cx| p.on_engine(make(), cx));
        }
    }

    /// Routes a data event to its pane, and what matters of it to the editor linked to a grid.
    fn data_event(&mut self, pane: u64, ev: DataEvent) {
        let Some(name) = self.session_of(pane) else {
            return;
        };
        let editor = self
            .sessions
            .get(&name)
            .and_then(|s| s.links.iter().find(|(_, g)| **g == pane).map(|(e, _)| *e));
        if let Some(e) = editor {
            let relevant = matches!(
                ev,
                DataEvent::Loaded { .. }
                    | DataEvent::Counted { .. }
                    | DataEvent::Error { .. }
                    | DataEvent::Done { .. }
            );
            if relevant {
                let copy = ev.clone();
                self.pane_call_id(&name, e, |p, cx| p.on_engine(EngineEvent::Data(copy), cx));
            }
        }
        self.pane_call_id(&name, pane, |p, cx| p.on_engine(EngineEvent::Data(ev), cx));
        self.mark(&name);
    }

    /// Shows `sql` in the grid linked to editor `editor`, opening one below it if needed.
    fn run_sql(&mut self, name: &str, editor: u64, sql: String, dialect: Option<String>) {
        if let Some(store) = &self.store {
            if let Err(e) = store.add_history(&sql, dialect.as_deref()) {
                tracing::warn!("history not kept: {e}");
            }
        }
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        let linked = s
            .links
            .get(&editor)
            .copied()
            .filter(|g| s.panes.contains_key(g));
        let grid = match linked {
            Some(g) => g,
            None => {
                let pane: Box<dyn fieldkit_panes::Pane> = Box::new(fieldkit_panes::GridPane::new());
                let Some(g) =
                    s.insert_beside(editor, pane, crate::layout::Axis::Vertical, &mut self.ids)
                else {
                    return;
                };
                s.links.insert(editor, g);
                g
            }
        };
        s.dirty = true;
        self.pane_call_id(name, grid, |p, cx| {
            p.on_engine(EngineEvent::ShowQuery { sql, dialect }, cx)
        });
        self.save_all();
    }

    /// The SQL history in a picker; the choice goes into the focused editor.
    fn sql_history(&mut self, name: &str) {
        let history = self
            .store
            .as_ref()
            .and_then(|s| s.history(5000).ok())
            .unwrap_or_default();
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        if history.is_empty() {
            s.popup = Some(popup::message("SQL history", "No queries run yet."));
            s.dirty = true;
            return;
        }
        let items = history
            .iter()
            .map(|h| fieldkit_widgets::PickerItem {
                text: popup::one_line(h),
                detail: String::new(),
                key: String::new(),
            })
            .collect();
        s.popup = Some(Popup::Pick {
            title: "SQL history".into(),
            picker: fieldkit_widgets::Picker::new(items),
            then: PickThen::Insert(history),
        });
        s.dirty = true;
    }

    /// Opens `path` in a grid: the focused grid if it is empty, else a new split.
    fn open_file(&mut self, name: &str, path: &str) -> Result<(), String> {
        let p = std::path::Path::new(path);
        if !p.exists() {
            return Err(format!("{path}: no such file"));
        }
        let source = fieldkit_panes::data::Source::File(path.to_string());
        let Some(s) = self.sessions.get_mut(name) else {
            return Err(format!("no session {name:?}"));
        };
        let pane = Box::new(fieldkit_panes::GridPane::with_source(
            source,
            Default::default(),
        ));
        let focus = s.focused();
        let reuse = s
            .panes
            .get(&focus)
            .is_some_and(|p| p.kind() == PaneKind::Grid && p.title() == "grid");
        let id = if reuse {
            s.panes.insert(focus, pane);
            s.changed = true;
            focus
        } else {
            s.open_pane(pane, &mut self.ids)
        };
        s.dirty = true;
        self.pane_call_id(name, id, |p, cx| p.on_action(&Action::Refresh, cx));
        self.save_all();
        Ok(())
    }

    /// A fuzzy picker over the data files under the focused terminal's folder (or home).
    fn file_picker(&mut self, name: &str) {
        let focus = self.sessions.get(name).map(|s| s.focused());
        let start = focus
            .and_then(|f| self.terms.get(&f))
            .and_then(|t| t.cwd())
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(std::path::PathBuf::from))
            .unwrap_or_else(|| "/".into());
        let files = data_files(&start, 20_000);
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        if files.is_empty() {
            s.popup = Some(popup::message(
                "open-file",
                &format!(
                    "No data files (csv, tsv, parquet, json, xlsx) under {}. Type a path: open-file PATH in the palette.",
                    start.display()
                ),
            ));
        } else {
            let items = files
                .into_iter()
                .map(|f| fieldkit_widgets::PickerItem {
                    text: f,
                    detail: String::new(),
                    key: String::new(),
                })
                .collect();
            s.popup = Some(Popup::Pick {
                title: format!("open a data file under {}", start.display()),
                picker: fieldkit_widgets::Picker::new(items),
                then: PickThen::Action("open-file".into()),
            });
        }
        s.dirty = true;
    }

    /// Whether a status pane is on screen for some attached client.
    fn status_visible(&self) -> bool {
        self.clients
            .values()
            .filter_map(|c| c.session.as_deref())
            .any(|name| {
                self.sessions.get(name).is_some_and(|s| {
                    s.visible().iter().any(|(id, _)| {
                        s.panes
                            .get(id)
                            .is_some_and(|p| p.kind() == PaneKind::Status)
                    })
                })
            })
    }

    fn refresh_status(&mut self) {
        // Ask the probe for a round trip; the answer lands in the next refresh.
        if let Some(w) = self.workers.get_mut("probe") {
            if w.state == EngineState::Ready {
                let id = w.ping.map(|(i, _)| i + 1).unwrap_or(1);
                if let Ok(frame) = wire::encode(&ProbeRequest::Ping { id }) {
                    if w.tx.send(frame).is_ok() {
                        w.ping = Some((id, Instant::now()));
                    }
                }
            }
        }
        self.push_status();
    }

    fn push_status(&mut self) {
        let status = commands::gather_status(self);
        for s in self.sessions.values_mut() {
            for p in s.panes.values_mut() {
                if p.kind() == PaneKind::Status {
                    let mut cx = Cx::default();
                    p.on_engine(EngineEvent::Status(Box::new(status.clone())), &mut cx);
                    if cx.dirty {
                        s.dirty = true;
                    }
                }
            }
        }
    }

    fn engine_rows(&self) -> Vec<EngineRow> {
        engine::BUILT_IN
            .iter()
            .map(|(name, _)| match self.workers.get(name) {
                Some(w) => EngineRow {
                    name: name.to_string(),
                    state: w.state.clone(),
                    pid: w.pid,
                    restarts: w.restarts,
                    detail: w.detail.clone(),
                },
                None => EngineRow {
                    name: name.to_string(),
                    state: EngineState::NotStarted,
                    pid: None,
                    restarts: 0,
                    detail: "starts on first use".into(),
                },
            })
            .collect()
    }

    /// Starts a process for every terminal pane that has none, stops those whose pane is gone,
    /// and gives each the size its pane has on screen.
    fn sync_terms(&mut self) {
        let mut wanted: HashMap<u64, (u16, u16, String, Option<String>)> = HashMap::new();
        for s in self.sessions.values() {
            for (id, rect) in s.all_rects() {
                let Some(p) = s.panes.get(&id) else { continue };
                if p.kind() != PaneKind::Term {
                    continue;
                }
                let (cwd, command) = match p.save() {
                    fieldkit_panes::PaneState::Term { cwd, command } => (cwd, command),
                    _ => continue,
                };
                // The pane's border takes a cell on each side.
                let inner = (rect.width.saturating_sub(2), rect.height.saturating_sub(2));
                wanted.insert(id, (inner.0, inner.1, command, cwd));
            }
        }
        let gone: Vec<u64> = self
            .terms
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            self.terms.remove(&id);
            if let Some(store) = &self.store {
                // A leftover row is only dead weight: the pane id is never reused.
                if let Err(e) = store.delete_scrollback(id) {
                    tracing::warn!(pane = id, "closed pane's scrollback not deleted: {e:#}");
                }
            }
        }
        self.failed_terms.retain(|id| wanted.contains_key(id));
        for (id, (cols, rows, command, cwd)) in wanted {
            if let Some(t) = self.terms.get_mut(&id) {
                t.resize(cols, rows);
                continue;
            }
            if self.failed_terms.contains(&id) {
                continue;
            }
            let restored = self
                .store
                .as_ref()
                .and_then(|s| s.scrollback(id).ok().flatten());
            match TermProc::spawn(
                id,
                &command,
                cwd.as_deref(),
                (cols, rows),
                self.config.scrollback_lines,
                restored.as_deref(),
                self.pty_tx.clone(),
            ) {
                Ok(t) => {
                    tracing::info!(pane = id, pid = ?t.pid, %command, "terminal started");
                    self.terms.insert(id, t);
                }
                Err(e) => {
                    tracing::warn!(pane = id, "cannot start {command:?}: {e:#}");
                    self.failed_terms.insert(id);
                    if let Some(name) = self.session_of(id) {
                        let how = format!("could not start: {e:#}");
                        self.pane_call_id(&name, id, |p, cx| {
                            p.on_engine(EngineEvent::TermExited(how), cx)
                        });
                    }
                }
            }
        }
    }

    fn on_pty(&mut self, note: PtyNote) {
        match note {
            PtyNote::Output { pane, bytes } => {
                tracing::trace!(pane, n = bytes.len(), "pty out");
                let Some(t) = self.terms.get_mut(&pane) else {
                    return;
                };
                let fed = t.feed(&bytes);
                let Some(name) = self.session_of(pane) else {
                    return;
                };
                if let Some(title) = fed.title {
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::TermTitle(title), cx)
                    });
                }
                if fed.bell {
                    if let Some(s) = self.sessions.get_mut(&name) {
                        if s.focused() != pane
                            || s.tab().layout.leaves().iter().all(|id| *id != pane)
                        {
                            s.bells.insert(pane);
                        }
                    }
                    self.pane_call_id(&name, pane, |p, cx| p.on_engine(EngineEvent::TermBell, cx));
                }
                if let Some(text) = fed.clipboard {
                    if self.config.clipboard_from_programs {
                        self.clipboard(&name, &text);
                    }
                }
                if let Some(s) = self.sessions.get_mut(&name) {
                    if s.visible().iter().any(|(id, _)| *id == pane) {
                        s.dirty = true;
                    }
                }
            }
            PtyNote::Exited { pane, how } => {
                if let Some(t) = self.terms.get_mut(&pane) {
                    t.exited = true;
                    t.dirty = true;
                }
                let Some(name) = self.session_of(pane) else {
                    return;
                };
                tracing::info!(pane, %how, "terminal program ended");
                if self.config.close_on_exit {
                    self.close_pane(&name, pane);
                } else {
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::TermExited(how), cx)
                    });
                }
            }
        }
    }

    /// Gives every visible terminal pane of `name` a fresh frame if its screen changed.
    fn refresh_frames(&mut self, name: &str) {
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        for (id, _) in s.visible() {
            let Some(t) = self.terms.get_mut(&id) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            t.dirty = false;
            if let Some(p) = s.panes.get_mut(&id) {
                p.on_engine(
                    EngineEvent::TermFrame(Box::new(t.screen.frame())),
                    &mut Cx::default(),
                );
            }
        }
    }

    /// Writes the scrollback of terminals (only those with new output if `only_unsaved`) and
    /// notes each one's working directory in its pane, so both survive a crash.
    fn save_scrollbacks(&mut self, only_unsaved: bool) {
        let Some(store) = &self.store else { return };
        let mut cwds = Vec::new();
        for (id, t) in self.terms.iter_mut() {
            if only_unsaved && !t.unsaved {
                continue;
            }
            t.unsaved = false;
            if let Err(e) = store.save_scrollback(*id, &t.save_text()) {
                tracing::warn!(pane = id, "cannot save scrollback: {e}");
            }
            if let Some(cwd) = t.cwd() {
                cwds.push((*id, cwd));
            }
        }
        for (id, cwd) in cwds {
            if let Some(name) = self.session_of(id) {
                if let Some(s) = self.sessions.get_mut(&name) {
                    if let Some(p) = s.panes.get_mut(&id) {
                        p.on_engine(EngineEvent::TermCwd(cwd), &mut Cx::default());
                        s.changed = true;
                    }
                }
            }
        }
    }

    fn render_all(&mut self) {
        let dirty: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.dirty)
            .map(|(n, _)| n.clone())
            .collect();
        for name in &dirty {
            self.refresh_frames(name);
        }
        for (name, s) in self.sessions.iter_mut() {
            if !s.dirty {
                continue;
            }
            s.dirty = false;
            for c in self
                .clients
                .values_mut()
                .filter(|c| c.session.as_deref() == Some(name))
            {
                if c.backlog.bytes.load(Ordering::Acquire) > MAX_BACKLOG {
                    // The client is not keeping up: send nothing until its queue drains,
                    // then one whole frame of what is current by then.
                    c.backlog.held_back.store(true, Ordering::Release);
                    continue;
                }
                let mut buf = c.writer.canvas();
                let cursor = render::screen_into(s, &self.theme, &self.keymap, &c.keys, &mut buf);
                let fitted = render::fit(buf, c.size.0, c.size.1, &self.theme);
                let bytes = c.writer.frame(fitted, cursor, c.caps, self.theme.bg);
                if !bytes.is_empty() {
                    tracing::trace!(n = bytes.len(), "frame out");
                    c.output(bytes);
                }
            }
        }
    }

    fn save_all(&mut self) {
        let Some(store) = &self.store else { return };
        for s in self.sessions.values_mut() {
            if s.changed {
                s.changed = false;
                if let Err(e) = store.save(&s.save()) {
                    tracing::warn!(session = %s.name, "cannot save: {e}");
                }
            }
        }
    }
}

/// Data files under `root` (relative paths, nearest first), at most `limit` entries looked at.
fn data_files(root: &std::path::Path, limit: usize) -> Vec<String> {
    const EXT: &[&str] = &[
        "csv", "tsv", "tab", "parquet", "pq", "json", "ndjson", "jsonl", "xlsx", "xls", "ods",
    ];
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    let mut seen = 0;
    while let Some((dir, depth)) = queue.pop_front() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > limit {
                return out;
            }
            let p = e.path();
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 5 => queue.push_back((p, depth + 1)),
                Ok(t) if t.is_file() => {
                    let ext = p
                        .extension()
                        .map(|x| x.to_string_lossy().to_lowercase())
                        .unwrap_or_default();
                    if EXT.contains(&ext.as_str()) {
                        out.push(p.to_string_lossy().into_owned());
                    }
                }
                _ => {}
            }
        }
    }
    out
}
