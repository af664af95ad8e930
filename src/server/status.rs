/*!
The status pane's figures: one row per engine and process, refreshed while a status pane is
on screen (and only then, so an idle server sleeps).
*/

use super::*;

impl Server {
    /// Whether a status pane is on screen for some attached client.
    pub(super) fn status_visible(&self) -> bool {
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

    pub(super) fn refresh_status(&mut self) {
        // Ask the probe for a round trip; the answer lands in the next refresh.
        self.probe_ping();
        self.push_status();
    }

    pub(super) fn push_status(&mut self) {
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
}
