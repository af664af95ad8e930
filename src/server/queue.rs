/*!
The work queue's service: queue.db opened on first use and held by the server, so every move
from the CLI, a pane or (later) a workflow goes through one place that can announce it. Who
makes a move is `[queue] me` (default $USER) and what they may claim is `[queue] roles`, from
config.toml: one server is one person's.
*/

use super::*;
use crate::engine::queue::{new_id, now_ms, Item, ItemEdit, Move, Priority, SlaState, State};
use crate::protocol::QueueCommand;
use crate::store::queue::QueueStore;
use fieldkit_panes::queue::{QueueDetail, QueueEvent, QueueRequest, QueueRow, Sla};
use services::ServiceSpec;

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Queue),
    worker: None,
    opened: services::nothing_opened,
    frame: services::no_frames,
    lost: services::nothing_lost,
    save: services::nothing_saved,
};

#[derive(Default)]
pub(super) struct Queue {
    store: Option<QueueStore>,
    /// The open items with an SLA, and the SLA state each was last seen in (an item is
    /// announced once per threshold crossed while someone is attached), for the timer and the
    /// status pane without reading the database.
    watch: Vec<Watched>,
    /// Counts of open items, for the status pane.
    open: usize,
}

struct Watched {
    id: String,
    title: String,
    created: i64,
    due: i64,
    seen: SlaState,
}

impl Watched {
    /// When this item next crosses a threshold, if it has one left.
    fn next(&self) -> Option<i64> {
        let span = (self.due - self.created).max(1) as f64;
        match self.seen {
            SlaState::None | SlaState::Ok => {
                Some(self.created + (span * crate::engine::queue::WARN_AT).ceil() as i64)
            }
            SlaState::Warning => Some(self.due),
            SlaState::Overdue => None,
        }
    }
}

/// How often the bars of a visible queue pane are drawn again, when an SLA runs.
const BAR_REFRESH_MS: i64 = 60_000;

impl Server {
    pub(super) fn queue_store(&mut self) -> Result<&mut QueueStore, String> {
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

    /// A queue pane's request.
    pub(super) fn queue_request(&mut self, name: &str, pane: u64, req: QueueRequest) {
        let ev = match req {
            QueueRequest::Watch => {
                // Who "me" is first, so the pane's `mine` filter reads the list right away.
                let me = QueueEvent::Me(self.config.queue.me());
                self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Queue(me), cx));
                self.queue_view()
            }
            QueueRequest::Detail { id } => match self.queue_store().and_then(|q| q.get(&id)) {
                Ok(item) => QueueEvent::Detail(detail(&item)),
                Err(e) => QueueEvent::Note(e),
            },
            QueueRequest::Move { id, mv } => {
                let mv = match mv.as_str() {
                    "claim" => Move::Claim,
                    "start" => Move::Start,
                    "done" => Move::Done,
                    "block" => Move::Block,
                    _ => Move::Cancel,
                };
                match self.queue_command(QueueCommand::Move { id, mv }) {
                    Ok(_) => return,
                    Err(e) => QueueEvent::Note(e),
                }
            }
            QueueRequest::Add {
                title,
                priority,
                sla,
                role,
                tags,
            } => {
                let cmd = (|| -> Result<QueueCommand, String> {
                    let priority = Priority::parse(&priority)
                        .ok_or_else(|| format!("priority {priority:?}: H, M or L"))?;
                    let sla = Some(sla.trim())
                        .filter(|s| !s.is_empty())
                        .map(crate::engine::queue::duration::parse_duration)
                        .transpose()?;
                    Ok(QueueCommand::Add {
                        title,
                        body: String::new(),
                        priority,
                        sla,
                        due: None,
                        role: role.trim().to_string(),
                        tags: tag_list(&tags),
                        project: String::new(),
                    })
                })();
                match cmd.and_then(|c| self.queue_command(c)) {
                    Ok(_) => return,
                    Err(e) => QueueEvent::Refused(e),
                }
            }
            QueueRequest::Edit {
                id,
                title,
                priority,
                sla,
                role,
                tags,
            } => {
                // As `queue edit` builds it: the form's fields replace the item's; the SLA left
                // empty keeps the due time, `none` removes it (`--no-due`).
                let cmd = (|| -> Result<QueueCommand, String> {
                    let priority = Priority::parse(&priority)
                        .ok_or_else(|| format!("priority {priority:?}: H, M or L"))?;
                    let sla = sla.trim();
                    let (due, clear_due) = if sla.is_empty() {
                        (None, false)
                    } else if sla.eq_ignore_ascii_case("none") {
                        (None, true)
                    } else {
                        let d = crate::engine::queue::duration::parse_duration(sla)
                            .map_err(|e| format!("sla {e}"))?;
                        (Some(now_ms() + d), false)
                    };
                    Ok(QueueCommand::Edit {
                        id,
                        edit: ItemEdit {
                            title: Some(title),
                            body: None,
                            priority: Some(priority),
                            role: Some(role.trim().to_string()),
                            tags: Some(tag_list(&tags)),
                            project: None,
                            due,
                            clear_due,
                        },
                    })
                })();
                match cmd.and_then(|c| self.queue_command(c)) {
                    Ok(_) => return,
                    Err(e) => QueueEvent::Refused(e),
                }
            }
            QueueRequest::Comment { id, text } => {
                match self.queue_command(QueueCommand::Comment {
                    id: id.clone(),
                    text,
                }) {
                    Ok(_) => match self.queue_store().and_then(|q| q.get(&id)) {
                        Ok(item) => QueueEvent::Detail(detail(&item)),
                        Err(e) => QueueEvent::Note(e),
                    },
                    Err(e) => QueueEvent::Note(e),
                }
            }
        };
        self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Queue(ev), cx));
    }

    /// The open items, most urgent first, judged now.
    fn queue_view(&mut self) -> QueueEvent {
        let now = now_ms();
        match self.queue_store().and_then(|q| q.all()) {
            Err(e) => QueueEvent::Note(e),
            Ok(mut items) => {
                items.retain(|i| i.state.is_open());
                crate::queuecli::sort(&mut items, now);
                QueueEvent::Items(items.iter().map(|i| row(i, now)).collect())
            }
        }
    }

    /// Opens queue.db at start when there is one, so SLA crossings are watched before anyone
    /// uses the queue.
    pub(super) fn queue_start(&mut self) {
        if self.dirs.data.join("queue.db").exists() {
            self.queue_rewatch();
            self.queue_badge();
        }
    }

    /// Reads the open items' SLAs again (after a change). Items already past a threshold when
    /// first seen are not announced: only crossings are.
    fn queue_rewatch(&mut self) {
        let now = now_ms();
        let items = match self.queue_store().and_then(|q| q.all()) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!("queue: {e}");
                return;
            }
        };
        let old: std::collections::HashMap<String, SlaState> =
            self.queue.watch.drain(..).map(|w| (w.id, w.seen)).collect();
        self.queue.open = items.iter().filter(|i| i.state.is_open()).count();
        self.queue.watch = items
            .iter()
            .filter(|i| i.state.is_open())
            .filter_map(|i| {
                Some(Watched {
                    id: i.id.clone(),
                    title: i.title.clone(),
                    created: i.created,
                    due: i.due?,
                    seen: old.get(&i.id).copied().unwrap_or_else(|| i.sla(now)),
                })
            })
            .collect();
    }

    /// Time until the queue's timer must fire: the next SLA crossing, or the next redraw of
    /// a visible queue pane's bars; `None` when nothing is due (no wakeups).
    pub(super) fn queue_next(&self) -> Option<std::time::Duration> {
        let now = now_ms();
        let crossing = self.queue.watch.iter().filter_map(Watched::next).min();
        let bars = (!self.queue.watch.is_empty()
            && !self.panes_needing(fieldkit_panes::Engine::Queue).is_empty())
        .then_some(now + BAR_REFRESH_MS);
        let at = match (crossing, bars) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(std::time::Duration::from_millis((at - now).max(0) as u64))
    }

    /// The queue's timer: each item that crossed 80% or 100% of its SLA since last seen is
    /// announced once (a bell and a message) to every attached session, and queue panes are
    /// drawn again.
    pub(super) fn queue_tick(&mut self) {
        let now = now_ms();
        let mut crossed: Vec<(String, SlaState)> = Vec::new();
        for w in &mut self.queue.watch {
            let span = (w.due - w.created).max(1) as f64;
            let used = (now - w.created) as f64 / span;
            let state = if used >= 1.0 {
                SlaState::Overdue
            } else if used >= crate::engine::queue::WARN_AT {
                SlaState::Warning
            } else {
                SlaState::Ok
            };
            if state > w.seen {
                w.seen = state;
                crossed.push((w.title.clone(), state));
            }
        }
        if !crossed.is_empty() {
            let text: Vec<String> = crossed
                .iter()
                .map(|(t, s)| match s {
                    SlaState::Overdue => format!("overdue: {t}"),
                    _ => format!("80% of its SLA used: {t}"),
                })
                .collect();
            tracing::info!(n = crossed.len(), "queue: SLA thresholds crossed");
            let attached: Vec<String> = self
                .sessions
                .keys()
                .filter(|n| !self.clients_of(n).is_empty())
                .cloned()
                .collect();
            for name in attached {
                for c in self.clients_of(&name) {
                    if let Some(c) = self.clients.get(&c) {
                        c.output(b"\x07".to_vec());
                    }
                }
                self.show(&name, "Work queue", &text.join("\n"));
            }
        }
        self.queue_broadcast_view();
    }

    /// The SLA counts of open items for the status pane.
    pub(super) fn queue_row(&self) -> EngineRow {
        let now = now_ms();
        let count = |s: SlaState| {
            self.queue
                .watch
                .iter()
                .filter(|w| {
                    let used = (now - w.created) as f64 / (w.due - w.created).max(1) as f64;
                    match s {
                        SlaState::Overdue => used >= 1.0,
                        _ => (crate::engine::queue::WARN_AT..1.0).contains(&used),
                    }
                })
                .count()
        };
        let (warn, late) = (count(SlaState::Warning), count(SlaState::Overdue));
        let next = self
            .queue
            .watch
            .iter()
            .filter_map(Watched::next)
            .min()
            .map(|at| {
                format!(
                    " · next SLA change in {}",
                    crate::engine::queue::duration::show(at - now)
                )
            })
            .unwrap_or_default();
        EngineRow {
            name: "queue".into(),
            state: EngineState::Said {
                label: format!("{} open", self.queue.open),
                active: late == 0,
            },
            pid: None,
            restarts: 0,
            detail: format!("{warn} at 80% of their SLA · {late} overdue{next}"),
        }
    }

    /// Items changed by another device were written: every queue pane and the SLA watch see
    /// them.
    pub(super) fn queue_changed_elsewhere(&mut self) {
        self.queue_broadcast();
    }

    /// Every queue pane is told the items again (after any change, from anywhere).
    fn queue_broadcast(&mut self) {
        self.queue_rewatch();
        self.queue_broadcast_view();
    }

    /// The status line's count of the queue's overdue and nearly due items, in every session.
    fn queue_badge(&mut self) {
        let now = now_ms();
        let (mut warn, mut late) = (0, 0);
        for w in &self.queue.watch {
            let used = (now - w.created) as f64 / (w.due - w.created).max(1) as f64;
            if used >= 1.0 {
                late += 1;
            } else if used >= crate::engine::queue::WARN_AT {
                warn += 1;
            }
        }
        let badge = match (warn, late) {
            (0, 0) => None,
            (w, 0) => Some(format!("queue: {w} near due")),
            (0, l) => Some(format!("queue: {l} overdue")),
            (w, l) => Some(format!("queue: {l} overdue, {w} near due")),
        };
        for s in self.sessions.values_mut() {
            if s.badge != badge {
                s.badge = badge.clone();
                s.dirty = true;
            }
        }
    }

    fn queue_broadcast_view(&mut self) {
        self.queue_badge();
        let panes = self.panes_needing(fieldkit_panes::Engine::Queue);
        if panes.is_empty() {
            return;
        }
        let ev = self.queue_view();
        for (name, id) in panes {
            let ev = ev.clone();
            self.pane_call_id(&name, id, |p, cx| p.on_engine(EngineEvent::Queue(ev), cx));
        }
    }

    pub(super) fn queue_command(&mut self, cmd: QueueCommand) -> Result<String, String> {
        let changes = !matches!(
            cmd,
            QueueCommand::List | QueueCommand::Show { .. } | QueueCommand::Export
        );
        // Items that entered a state: workflows wait on them or start from them.
        let moved = match &cmd {
            QueueCommand::Move { id, .. } => Some(id.clone()),
            _ => None,
        };
        let is_add = matches!(cmd, QueueCommand::Add { .. });
        // What the team is told of: the item a command changed (by the id it answers).
        let changed = match &cmd {
            QueueCommand::Move { id, .. } | QueueCommand::Edit { id, .. } => Some(id.clone()),
            QueueCommand::Comment { id, .. } => Some(id.clone()),
            _ => None,
        };
        let imported: Vec<String> = match &cmd {
            QueueCommand::Import { items } => items.iter().map(|i| i.id.clone()).collect(),
            _ => vec![],
        };
        let out = self.queue_command_inner(cmd);
        if changes && out.is_ok() {
            self.queue_broadcast();
            let id = match (&out, moved) {
                (_, Some(id)) => Some(id),
                (Ok(text), None) if is_add => text.split_whitespace().next().map(str::to_string),
                _ => None,
            };
            let item = id.as_deref().and_then(|id| self.queue_item(id));
            let mut team: Vec<String> = imported;
            team.extend(item.as_ref().map(|i| i.id.clone()).or(changed));
            for id in team {
                self.mesh_item_changed(&id);
            }
            if let Some(item) = item {
                self.workflow_item_moved(&item);
            }
        }
        out
    }

    /// One item, by id or prefix, if it can be read.
    pub(super) fn queue_item(&mut self, id: &str) -> Option<Item> {
        self.queue_store().and_then(|q| q.get(id)).ok()
    }

    /// Adds an item made elsewhere (a workflow's human step) and tells everyone.
    pub(super) fn queue_add_item(&mut self, item: &Item, who: &str) -> Result<(), String> {
        self.queue_store()?.add(item, who)?;
        self.queue_broadcast();
        self.mesh_item_changed(&item.id);
        self.workflow_item_moved(item);
        Ok(())
    }

    fn queue_command_inner(&mut self, cmd: QueueCommand) -> Result<String, String> {
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
            QueueCommand::Edit { id, edit } => {
                if edit.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    return Err("an item needs a title".into());
                }
                let item = q.edit(&id, &edit, now)?;
                Ok(format!("{}\n", item.id))
            }
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

/// The form's tags field ("a, b") as tags.
fn tag_list(tags: &str) -> Vec<String> {
    tags.split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// An item as the pane lists it, judged at `now`.
fn row(i: &Item, now: i64) -> QueueRow {
    QueueRow {
        id: i.id.clone(),
        title: i.title.clone(),
        state: i.state.name().into(),
        priority: i.priority.letter().into(),
        urgency: i.urgency(now),
        sla: match i.sla(now) {
            SlaState::None => Sla::None,
            SlaState::Ok => Sla::Ok,
            SlaState::Warning => Sla::Warning,
            SlaState::Overdue => Sla::Overdue,
        },
        used: i.sla_used(now),
        sla_text: crate::queuecli::sla_cell(i, now)
            .split_once(' ')
            .map(|(_, t)| t.to_string())
            .unwrap_or_default(),
        assignee: i.assignee.clone(),
        role: i.role.clone(),
        project: i.project.clone(),
        tags: i.tags.clone(),
    }
}

/// An item's body, history and comments as the pane's detail shows them.
fn detail(i: &Item) -> QueueDetail {
    use crate::engine::queue::duration::show_time;
    QueueDetail {
        id: i.id.clone(),
        body: i.body.clone(),
        history: i
            .history
            .iter()
            .map(|t| {
                format!(
                    "{}  {}  {} -> {}",
                    show_time(t.at),
                    t.who,
                    t.from.map(State::name).unwrap_or("(new)"),
                    t.to.name()
                )
            })
            .collect(),
        comments: i
            .comments
            .iter()
            .map(|c| format!("{}  {}: {}", show_time(c.at), c.who, c.text))
            .collect(),
    }
}

/// JSON of what the queue returns: serialising plain data cannot fail (if it ever did, the CLI
/// would say the answer does not read).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
