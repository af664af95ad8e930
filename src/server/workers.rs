/*!
Engine workers as the server sees them: started (eagerly or on first use), supervised, and
restarted when they die, with what their death means said to the panes that used them.
*/

use super::*;

impl Server {
    pub(super) fn start_workers(&mut self) {
        for kind in WorkerKind::ALL {
            if !kind.lazy() {
                self.spawn_worker(kind);
            }
        }
    }

    /// Starts the supervisor of worker `kind` unless it runs already.
    pub(super) fn spawn_worker(&mut self, kind: WorkerKind) {
        if self.workers.contains_key(&kind) {
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
                if kind == WorkerKind::Data {
                    self.data_broadcast(|| EngineEvent::Data(DataEvent::Lost { why: why.clone() }));
                }
                if kind == WorkerKind::Llm {
                    self.llm_lost(&why);
                }
            }
            WorkerNote::Frame { bytes, .. } if kind == WorkerKind::Data => {
                match wire::decode::<DataOut>(&bytes) {
                    Ok(DataOut::Hello { pid, detail }) => {
                        w.state = EngineState::Ready;
                        w.pid = Some(pid);
                        w.detail = detail;
                        self.data_broadcast(|| EngineEvent::Ready);
                    }
                    Ok(DataOut::Event { pane, ev }) => self.data_event(pane, ev),
                    Err(e) => {
                        tracing::warn!(kind = kind.name(), "undecodable frame from worker: {e}")
                    }
                }
            }
            WorkerNote::Frame { bytes, .. } if kind == WorkerKind::Llm => {
                match wire::decode::<crate::engine::llm::LlmOut>(&bytes) {
                    Ok(out) => self.on_llm(out),
                    Err(e) => {
                        tracing::warn!(kind = kind.name(), "undecodable frame from worker: {e}")
                    }
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
                Err(e) => tracing::warn!(kind = kind.name(), "undecodable frame from worker: {e}"),
            },
        }
        if self.status_visible() {
            self.push_status();
        }
    }
}
