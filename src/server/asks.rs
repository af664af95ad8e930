/*!
Questions from outside for the attached user: `fieldkit mcp`'s tools that change state (add a
work item, send keys, start a workflow) ask first. The question is a `Confirm` popup in the
session most recently used that has a client attached; its asker gets "yes" on `y` and a
refusal on anything that takes the popup away (`n`, Esc, another popup, the last client
detaching). With nobody attached the answer is no, at once: nothing changes unseen.
*/

use super::*;
use popup::{Confirmed, Popup};
use std::collections::BTreeMap;

#[derive(Default)]
pub(super) struct Asks {
    next: u64,
    /// Question id to (who asked, the session its popup is in).
    pending: BTreeMap<u64, (ClientId, String)>,
}

impl Server {
    pub(super) fn ask_user(&mut self, id: ClientId, what: String) {
        let Some(name) = self
            .recent
            .iter()
            .rev()
            .find(|n| !self.clients_of(n).is_empty())
            .cloned()
        else {
            self.reply(
                id,
                Err(
                    "nobody is attached to fieldkit to say yes, so it was not done (attach, or \
                     allow the tool under [mcp] allow in config.toml)"
                        .into(),
                ),
            );
            return;
        };
        self.asks.next += 1;
        let ask = self.asks.next;
        self.asks.pending.insert(ask, (id, name.clone()));
        let text: String = what
            .chars()
            .filter(|c| *c == '\n' || !c.is_control())
            .take(2000)
            .collect();
        if let Some(s) = self.sessions.get_mut(&name) {
            s.popup = Some(Popup::Confirm {
                title: "an MCP client asks".into(),
                text: format!("{text}\n\ny: allow this once   n: refuse"),
                yes: Confirmed::Remote { ask },
            });
            s.dirty = true;
        }
        self.mark(&name);
    }

    pub(super) fn ask_answered(&mut self, ask: u64) {
        if let Some((id, _)) = self.asks.pending.remove(&ask) {
            self.reply(id, Ok("yes\n".into()));
        }
    }

    /// Every question whose popup is no longer up is answered no.
    pub(super) fn asks_sweep(&mut self) {
        if self.asks.pending.is_empty() {
            return;
        }
        let gone: Vec<u64> = self
            .asks
            .pending
            .iter()
            .filter(|(ask, (_, name))| {
                let up = self.sessions.get(name).is_some_and(|s| {
                    matches!(&s.popup, Some(Popup::Confirm { yes: Confirmed::Remote { ask: a }, .. }) if a == *ask)
                });
                !up || self.clients_of(name).is_empty()
            })
            .map(|(ask, _)| *ask)
            .collect();
        for ask in gone {
            if let Some((id, name)) = self.asks.pending.remove(&ask) {
                if let Some(s) = self.sessions.get_mut(&name) {
                    if matches!(&s.popup, Some(Popup::Confirm { yes: Confirmed::Remote { ask: a }, .. }) if *a == ask)
                    {
                        s.popup = None;
                        s.dirty = true;
                    }
                }
                self.reply(id, Err("the user said no, so it was not done".into()));
            }
        }
    }

    /// `Command::Panes`: every session's active tab's panes.
    pub(super) fn panes_json(&self) -> String {
        let mut out = Vec::new();
        for (name, s) in &self.sessions {
            let focused = s.focused();
            for (i, id) in s.tab().layout.leaves().iter().enumerate() {
                if let Some(p) = s.panes.get(id) {
                    out.push(serde_json::json!({
                        "session": name,
                        "pane": i + 1,
                        "kind": format!("{:?}", p.kind()).to_lowercase(),
                        "title": p.title(),
                        "focused": *id == focused,
                    }));
                }
            }
        }
        let mut s = serde_json::Value::Array(out).to_string();
        s.push('\n');
        s
    }
}
