/*!
Engine workers as processes: started (eagerly or on first use) and supervised, restarted when
they die. What their frames and deaths mean is their service's (`services`).
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
}
