/*!
The server: one per user, detached, owning every session.

One tokio task (on a current-thread runtime) owns all state; connections and worker
supervisors are tasks that only move bytes and send `Ev`s to it. The loop drains every pending
event, then renders each dirty session once per attached client and saves what changed.
Nothing polls: with no input, no worker traffic and no visible status pane the server sleeps.

This file keeps the server's state, its start (`run`, `Server::new`), the loop (`serve`,
`handle`), the list of engine services, and what ends sessions and panes. Each other concern is
a file of `impl Server`: `listen` (the socket and connections), `clients` (attach, detach, sizes,
and what each client is sent), `input` (keys and mouse), `dispatch` (actions and pane effects),
`services` (routing requests and worker frames to the engine services, what every worker has in
common), `workers` (spawning and supervising worker processes), the services themselves:
`terminals` (pty), `data` (DuckDB), `chat` (llm), `probe`; `status` (the status pane's figures),
`commands` (the CLI's requests), `render` (composing a screen, or only changed panes) and `frames`
(the bytes that bring a client's terminal up to date).
*/

mod asks;
mod chat;
mod clients;
pub mod commands;
mod data;
mod dispatch;
mod editor;
pub mod frames;
mod input;
mod listen;
pub mod memory;
mod mesh;
mod panic;
mod plugins;
pub mod popup;
mod probe;
mod queue;
pub mod render;
mod services;
pub mod session;
mod status;
mod terminals;
pub mod vault;
mod workers;
mod workflows;

/// The engines' services (`services`), in the order the status pane lists their workers.
const SERVICES: &[&services::ServiceSpec] = &[
    &terminals::SERVICE,
    &probe::SERVICE,
    &data::SERVICE,
    &chat::SERVICE,
    &vault::SERVICE,
    &queue::SERVICE,
    &workflows::SERVICE,
    &editor::SERVICE,
    &mesh::SERVICE,
];

use crate::config;
use crate::engine::data::{DataIn, DataOut};
use crate::engine::probe::{ProbeEvent, ProbeRequest};
use crate::engine::pty::{CopyResult, PtyNote, TermProc};
use crate::engine::{self, WorkerKind, WorkerNote};
use crate::keymap::{Key, KeyState, Keymap, Resolved};
use crate::paths::Dirs;
use crate::protocol::{self, AttachMode, ClientMsg, Handshake, ServerMsg};
use crate::store::Store;
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
use frames::FrameWriter;
use listen::{accept_loop, unlisten};
use popup::{PickThen, Popup, PopupResult};
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
    /// A passphrase typed into a vault pane was tried on a thread of its own (Argon2id takes
    /// about a second): the key, or why not.
    VaultKey {
        session: String,
        pane: u64,
        result: Result<(u8, Box<vault::Kek>), String>,
    },
    /// From the workflow runner's helpers: a shell step ended, a watched folder changed.
    Workflow(workflows::WfEv),
    /// A file read or written for editor pane `pane`, off the loop.
    Editor {
        pane: u64,
        ev: fieldkit_panes::editor::EditorEvent,
    },
    /// From the mesh's pairing tasks.
    Mesh(mesh::MeshEv),
    /// From the plugins' hosts, and their calls' answers.
    Plugin(plugins::PluginEv),
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
    workers: BTreeMap<WorkerKind, Worker>,
    started: Instant,
    sys: sysinfo::System,
    shutdown: bool,
    config: config::Config,
    /// The pty engine's terminals (`terminals`).
    pty: terminals::Pty,
    /// The most recent yank, for paste-buffer.
    paste: Option<String>,
    /// For starting workers later (lazy ones on first use).
    events: mpsc::UnboundedSender<Ev>,
    /// The unlocked vault, if any (`vault`).
    vault: vault::Vault,
    /// The work queue's database, once used (`queue`).
    queue: queue::Queue,
    /// The workflow runner (`workflows`).
    wf: workflows::Workflows,
    /// Editors whose unsaved text is due to be kept (`editor`).
    editor: editor::EditorState,
    /// The data engine's own state (`data`).
    data: data::Data,
    /// The mesh: the team, its changes, the worker's connections (`mesh`).
    mesh: mesh::Mesh,
    plugins: plugins::Plugins,
    asks: asks::Asks,
    /// The llm engine's chat sessions shown and answers being written (`chat`).
    chat: chat::ChatState,
    /// Panes that have been told they are open (`greet_new_panes`).
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
            pty: terminals::Pty::new(pty_tx),
            paste: None,
            events,
            vault: vault::Vault::default(),
            queue: queue::Queue::default(),
            wf: workflows::Workflows::default(),
            editor: editor::EditorState::default(),
            data: data::Data::default(),
            mesh: mesh::Mesh::default(),
            plugins: plugins::Plugins::default(),
            asks: asks::Asks::default(),
            chat: chat::ChatState::default(),
            greeted: Default::default(),
            bound: None,
        };
        server.start_workers();
        // Restored panes are open: their engines' services start what they need now.
        server.greet_new_panes(true);
        server.queue_start();
        server.workflows_start();
        server.editor_start();
        server.mesh_startup();
        server
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
            self.mesh_flush();
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
                self.save_services(true);
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
            if save_at.is_none() && self.pty.terms.values().any(|t| t.unsaved) {
                save_at = Some(tokio::time::Instant::now() + SCROLLBACK_SAVE_EVERY);
            }
            let status_visible = self.status_visible();
            // The vault's idle lock: a one-shot timer, and a wall-clock check when it fires
            // (and before every use), so a suspended machine wakes up locked.
            let vault_at = self
                .vault_next()
                .map(|d| tokio::time::Instant::now() + d + Duration::from_millis(50));
            // The queue's SLA crossings and bar redraws: a one-shot timer, none when nothing is
            // due.
            let queue_at = self
                .queue_next()
                .map(|d| tokio::time::Instant::now() + d + Duration::from_millis(50));
            // Items from the team's other devices, written to the queue in batches.
            let mesh_at = self.mesh_next().map(|d| tokio::time::Instant::now() + d);
            // Unsaved editor text, kept a moment after typing stops.
            let editor_at = self.editor_next().map(|d| tokio::time::Instant::now() + d);
            // The workflow runner's next retry, timeout, settled file or schedule slot.
            let wf_at = self
                .workflow_next()
                .map(|d| tokio::time::Instant::now() + d + Duration::from_millis(5));
            // A picker still matching in the background is drawn again a frame later.
            let picker_at = self
                .sessions
                .values()
                .any(|s| s.popup.as_ref().is_some_and(|p| p.busy()))
                .then(|| tokio::time::Instant::now() + Duration::from_millis(16));
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
                    self.save_services(false);
                }
                _ = tokio::time::sleep_until(queue_at.unwrap_or(now)), if queue_at.is_some() => {
                    self.queue_tick();
                    if self.status_visible() {
                        self.push_status();
                    }
                }
                _ = tokio::time::sleep_until(mesh_at.unwrap_or(now)), if mesh_at.is_some() => {
                    self.mesh_flush();
                }
                _ = tokio::time::sleep_until(editor_at.unwrap_or(now)), if editor_at.is_some() => {
                    self.editor_tick();
                }
                _ = tokio::time::sleep_until(picker_at.unwrap_or(now)), if picker_at.is_some() => {
                    for s in self.sessions.values_mut() {
                        if s.popup.as_ref().is_some_and(|p| p.busy()) {
                            s.dirty = true;
                        }
                    }
                }
                _ = tokio::time::sleep_until(wf_at.unwrap_or(now)), if wf_at.is_some() => {
                    self.workflow_tick();
                    if self.status_visible() {
                        self.push_status();
                    }
                }
                _ = tokio::time::sleep_until(vault_at.unwrap_or(now)), if vault_at.is_some() => {
                    self.vault_tick();
                    if self.status_visible() {
                        self.push_status();
                    }
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
                        self.vault_lock_if_unattended();
                    }
                }
            }
            Ev::Msg { id, msg } => self.on_msg(id, msg),
            Ev::Worker(note) => self.on_worker(note),
            Ev::VaultKey {
                session,
                pane,
                result,
            } => self.vault_key(&session, pane, result),
            Ev::Workflow(ev) => self.workflow_event(ev),
            Ev::Editor { pane, ev } => self.editor_event(pane, ev),
            Ev::Mesh(ev) => self.mesh_event(ev),
            Ev::Plugin(ev) => self.plugin_event(ev),
        }
        // A question whose popup went (no, Esc, another popup, a detach) is answered no.
        self.asks_sweep();
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
