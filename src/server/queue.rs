/*!
The work queue's service: queue.db opened on first use and held by the server, so every move
from the CLI, a pane or (later) a workflow goes through one place that can announce it. Who
makes a move is `[queue] me` (default $USER) and what they may claim is `[queue] roles`, from
config.toml: one server is one person's.
*/

use super::*;
use crate::engine::queue::{new_id, now_ms, Item, State};
use crate::protocol::QueueCommand;
use crate::store::queue::QueueStore;

#[derive(Default)]
pub(super) struct Queue {
    store: Option<QueueStore>,
}

impl Server {
    fn queue_store(&mut self) -> Result<&mut QueueStore, String> {
        if self.queue.store.is_none() {
            let path = self.dirs.data.join("queue.db");
            let store = QueueStore::open(&path)
                .map_err(|e| format!("the queue cannot open {}: {e:#}", path.display()))?;
            self.queue.store = Some(store);
        }
        self.queue
            .store
            .as_mut()
            .ok_or_else(|| "the queue is not open".to_string())
    }

    pub(super) fn queue_command(&mut self, cmd: QueueCommand) -> Result<String, String> {
        let me = self.config.queue.me();
        let roles = self.config.queue.roles.clone();
        let q = self.queue_store()?;
        let now = now_ms();
        match cmd {
            QueueCommand::Add {
                title,
                body,
                priority,
                sla,
                due,
                role,
                tags,
                project,
            } => {
                if title.trim().is_empty() {
                    return Err("an item needs a title".into());
                }
                let item = Item {
                    id: new_id(),
                    title: title.trim().to_string(),
                    body,
                    state: State::Queued,
                    priority,
                    role,
                    assignee: String::new(),
                    tags,
                    project,
                    created: now,
                    updated: now,
                    due: due.or(sla.map(|s| now + s)),
                    links: Vec::new(),
                    history: Vec::new(),
                    comments: Vec::new(),
                };
                q.add(&item, &me)?;
                tracing::info!(id = %item.id, "queue: item added");
                Ok(format!("{}\n", item.id))
            }
            QueueCommand::List => Ok(json(&q.all()?)),
            QueueCommand::Show { id } => Ok(json(&q.get(&id)?)),
            QueueCommand::Move { id, mv } => {
                let item = q.apply(&id, mv, &me, &roles, now)?;
                tracing::info!(id = %item.id, to = item.state.name(), "queue: item moved");
                Ok(format!("{} {}\n", item.id, item.state.name()))
            }
            QueueCommand::Comment { id, text } => {
                let id = q.comment(&id, &me, &text, now)?;
                Ok(format!("{id}\n"))
            }
            QueueCommand::Export => Ok(json(&q.export()?)),
            QueueCommand::Import { items } => {
                let (taken, skipped) = q.import(&items)?;
                let mut out = format!("imported {taken} items\n");
                if !skipped.is_empty() {
                    out.push_str(&format!(
                        "kept the queue's own for {} ids it had already\n",
                        skipped.len()
                    ));
                }
                Ok(out)
            }
        }
    }
}

/// JSON of what the queue returns: serialising plain data cannot fail (if it ever did, the CLI
/// would say the answer does not read).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
