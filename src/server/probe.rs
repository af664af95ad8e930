/*!
The probe's service: the smallest engine, a worker that answers pings so the status pane can
show a worker round trip. No pane needs it; it starts with the server.
*/

use super::*;
use services::ServiceSpec;

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: None,
    worker: Some(WorkerKind::Probe),
    opened: services::nothing_opened,
    frame: probe_frame,
    lost: services::nothing_lost,
    save: services::nothing_saved,
};

fn probe_frame(srv: &mut Server, bytes: &[u8]) {
    match wire::decode::<ProbeEvent>(bytes) {
        Ok(ProbeEvent::Hello { pid, version }) => {
            srv.worker_hello(WorkerKind::Probe, pid, String::new(), version);
        }
        Ok(ProbeEvent::Pong { id }) => {
            let Some(w) = srv.workers.get_mut(&WorkerKind::Probe) else {
                return;
            };
            if let Some((want, at)) = w.ping.take() {
                if want == id {
                    w.detail = format!("round trip {} µs", at.elapsed().as_micros());
                }
            }
        }
        Err(e) => tracing::warn!("undecodable frame from the probe: {e}"),
    }
}

impl Server {
    /// Asks the probe for a round trip (when it is up); the answer lands on the status pane.
    pub(super) fn probe_ping(&mut self) {
        let Some(w) = self.workers.get_mut(&WorkerKind::Probe) else {
            return;
        };
        if w.state != EngineState::Ready {
            return;
        }
        let id = w.ping.map(|(i, _)| i + 1).unwrap_or(1);
        match wire::encode(&ProbeRequest::Ping { id }) {
            Ok(frame) => {
                if w.tx.send(frame).is_ok() {
                    w.ping = Some((id, Instant::now()));
                }
            }
            Err(e) => tracing::warn!("ping not sent: {e}"),
        }
    }
}
