/*!
The engines' services, and the one list of them.

Each engine the server serves (pty, data, llm, probe) is a module that owns its worker (if it
has one), its requests and events, what it does when a pane that needs it opens, what its
worker's death means to its panes, and what it saves. The server loop knows none of that: it
routes a pane's request by the engine it names (`route`), a worker's frame by the worker's kind
(`on_worker`), and asks each service in `SERVICES` when a pane opens or the server stops. A new
engine is its module, a `SERVICE` in it and one line in `SERVICES` (in `server/mod.rs`, beside
the module list), and one in `route` if its panes send it requests.

What is common to every worker (its state, pid, restarts and detail on the status pane, the
version it speaks) is kept here, so a service only says what is its own.
*/

use super::*;
use fieldkit_panes::Engine;

/// One engine's service: plain functions over the server, so a service can call panes (and
/// through their effects, other services) without being borrowed out of the server.
pub(super) struct ServiceSpec {
    /// The engine panes name when they need it (`None`: no pane asks for it, as the probe).
    pub engine: Option<Engine>,
    /// Its worker process, if it has one.
    pub worker: Option<WorkerKind>,
    /// A pane needing this engine is open. `at_start`: restored when the server started.
    pub opened: fn(&mut Server, session: &str, pane: u64, at_start: bool),
    /// A frame from its worker.
    pub frame: fn(&mut Server, bytes: &[u8]),
    /// Its worker exited (it is being restarted): what was in flight is gone.
    pub lost: fn(&mut Server, why: &str),
    /// Write what it keeps (`finally`: the server is stopping).
    pub save: fn(&mut Server, finally: bool),
}

/// For services with nothing to do on one of the occasions.
pub(super) fn nothing_opened(_: &mut Server, _: &str, _: u64, _: bool) {}
pub(super) fn no_frames(_: &mut Server, _: &[u8]) {}
pub(super) fn nothing_lost(_: &mut Server, _: &str) {}
pub(super) fn nothing_saved(_: &mut Server, _: bool) {}

fn of_worker(kind: WorkerKind) -> Option<&'static ServiceSpec> {
    SERVICES.iter().copied().find(|s| s.worker == Some(kind))
}

fn of_engine(engine: Engine) -> Option<&'static ServiceSpec> {
    SERVICES.iter().copied().find(|s| s.engine == Some(engine))
}

impl Server {
    /// A pane's request, to the service of the engine it is for.
    pub(super) fn route(&mut self, name: &str, source: u64, req: EngineRequest) {
        match req {
            EngineRequest::StatusRefresh => self.refresh_status(),
            EngineRequest::Term(r) => self.term_request(name, source, r),
            EngineRequest::Data(r) => self.data_send(source, r),
            EngineRequest::Sql(r) => self.sql_request(name, source, r),
            EngineRequest::Chat(r) => self.chat_request(name, source, r),
            EngineRequest::Vault(r) => self.vault_request(name, source, r),
            EngineRequest::Queue(r) => self.queue_request(name, source, r),
            EngineRequest::Runs(r) => self.runs_request(name, source, r),
            EngineRequest::Editor(r) => self.editor_request(name, source, r),
            EngineRequest::Mesh(r) => self.mesh_request(name, source, r),
        }
    }

    /// Tells panes that appeared since the last call that they are open, so each asks for what
    /// it needs (a terminal its process, a chat its session), then the service of every engine
    /// the pane's kind needs (from the pane registry) that a pane of it opened.
    pub(super) fn greet_new_panes(&mut self, at_start: bool) {
        let new: Vec<(String, u64, PaneKind)> = self
            .sessions
            .iter()
            // A session blanked by a panic greets its fresh panes only when it shows again, so
            // nothing (a chat's transcript) is read back into memory while it is blank.
            .filter(|(_, s)| !s.veiled)
            .flat_map(|(n, s)| {
                s.panes
                    .iter()
                    .filter(|(id, _)| !self.greeted.contains(id))
                    .map(move |(id, p)| (n.clone(), *id, p.kind()))
            })
            .collect();
        for (name, id, kind) in new {
            self.greeted.insert(id);
            self.pane_call_id(&name, id, |p, cx| p.on_engine(EngineEvent::Opened, cx));
            for engine in fieldkit_panes::registry::engines(kind) {
                if let Some(svc) = of_engine(*engine) {
                    (svc.opened)(self, &name, id, at_start);
                }
            }
        }
    }

    /// Every pane (in any session) whose kind needs `engine`, by the pane registry.
    pub(super) fn panes_needing(&self, engine: Engine) -> Vec<(String, u64)> {
        self.sessions
            .iter()
            .flat_map(|(n, s)| {
                s.panes
                    .iter()
                    .filter(|(_, p)| fieldkit_panes::registry::engines(p.kind()).contains(&engine))
                    .map(move |(id, _)| (n.clone(), *id))
            })
            .collect()
    }

    /// Every service writes what it keeps.
    pub(super) fn save_services(&mut self, finally: bool) {
        for svc in SERVICES {
            (svc.save)(self, finally);
        }
    }

    /// Whether worker `kind` has said hello and not died since.
    pub(super) fn worker_ready(&self, kind: WorkerKind) -> bool {
        self.workers
            .get(&kind)
            .is_some_and(|w| w.state == EngineState::Ready)
    }

    /// Encodes `msg` for worker `kind` and sends it, starting the worker first.
    pub(super) fn worker_send(&mut self, kind: WorkerKind, msg: &impl serde::Serialize) {
        self.spawn_worker(kind);
        let Some(w) = self.workers.get(&kind) else {
            return;
        };
        match wire::encode(msg) {
            Ok(frame) => {
                if w.tx.send(frame).is_err() {
                    tracing::warn!(
                        kind = kind.name(),
                        "request not sent: the worker's supervisor is gone"
                    );
                }
            }
            Err(e) => tracing::warn!(kind = kind.name(), "request not sent: {e}"),
        }
    }

    /// A worker's hello: ready, unless it speaks another version of the messages (a binary
    /// replaced on disk while the server ran), which is said on the status pane instead.
    pub(super) fn worker_hello(
        &mut self,
        kind: WorkerKind,
        pid: u32,
        detail: String,
        version: u32,
    ) -> bool {
        let Some(w) = self.workers.get_mut(&kind) else {
            return false;
        };
        w.pid = Some(pid);
        if version != fieldkit_messages::VERSION {
            let why = format!(
                "the worker speaks messages version {version}, this server {}: restart the server (fieldkit kill-server)",
                fieldkit_messages::VERSION
            );
            tracing::warn!(kind = kind.name(), "{why}");
            w.state = EngineState::Failed(why.clone());
            w.detail = why;
            return false;
        }
        w.state = EngineState::Ready;
        // The probe says nothing: its row keeps the last failure until a round trip replaces it.
        if !detail.is_empty() {
            w.detail = detail;
        }
        true
    }

    /// What a worker's supervisor says: its state for the status pane, and frames and deaths
    /// to the service that owns it.
    pub(super) fn on_worker(&mut self, note: WorkerNote) {
        let kind = match &note {
            WorkerNote::Starting { kind }
            | WorkerNote::Started { kind, .. }
            | WorkerNote::Frame { kind, .. }
            | WorkerNote::Exited { kind, .. } => *kind,
        };
        let Some(w) = self.workers.get_mut(&kind) else {
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
                if let Some(svc) = of_worker(kind) {
                    (svc.lost)(self, &why);
                }
            }
            WorkerNote::Frame { bytes, .. } => {
                if let Some(svc) = of_worker(kind) {
                    (svc.frame)(self, &bytes);
                }
            }
        }
        if self.status_visible() {
            self.push_status();
        }
    }

    /// One row per worker for the status pane, in the order of `SERVICES`, then the vault's.
    pub(super) fn engine_rows(&self) -> Vec<EngineRow> {
        let mut rows = self.worker_rows();
        rows.push(self.vault_row());
        rows.push(self.queue_row());
        rows.push(self.workflow_row());
        rows.extend(self.plugin_rows());
        rows
    }

    fn worker_rows(&self) -> Vec<EngineRow> {
        SERVICES
            .iter()
            .filter_map(|s| s.worker)
            .map(|kind| match self.workers.get(&kind) {
                Some(w) => EngineRow {
                    name: kind.name().to_string(),
                    state: w.state.clone(),
                    pid: w.pid,
                    restarts: w.restarts,
                    detail: w.detail.clone(),
                },
                None => EngineRow {
                    name: kind.name().to_string(),
                    state: EngineState::NotStarted,
                    pid: None,
                    restarts: 0,
                    detail: "starts on first use".into(),
                },
            })
            .collect()
    }
}
