//! Work items as mesh records, and back. An item is a record of kind `Item` with a field per
//! column, so two people changing different fields of one item both keep their change, and the
//! same field changed apart is a conflict on that field alone. Its history and its comments only
//! grow: each state change and each comment is a record of its own (`History`, `Comment`) that
//! names its item and is never changed, with an id made of its content, so the same entry made
//! anywhere is one record.
//!
//! `updated` is not synced: it is when the record last changed, as the mesh's clocks say.

use super::replica::Replica;
use crate::engine::queue::{Comment, Item, Priority, State, Transition};
use fieldkit_messages::mesh::{Kind, Value, DELETED};
use std::collections::BTreeMap;

/// One field to set.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub record: String,
    pub field: String,
    pub value: Value,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// An item's synced fields.
fn fields(it: &Item) -> Vec<(&'static str, Value)> {
    vec![
        ("title", text(&it.title)),
        ("body", text(&it.body)),
        ("state", text(it.state.name())),
        ("priority", text(it.priority.letter())),
        ("role", text(&it.role)),
        ("assignee", text(&it.assignee)),
        (
            "tags",
            text(&serde_json::to_string(&it.tags).unwrap_or_else(|_| "[]".into())),
        ),
        ("project", text(&it.project)),
        ("created", Value::Int(it.created)),
        ("due", it.due.map_or(Value::Null, Value::Int)),
        (
            "links",
            text(&serde_json::to_string(&it.links).unwrap_or_else(|_| "[]".into())),
        ),
    ]
}

/// A short digest of `parts`, for ids made of content.
fn digest(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn history_id(item: &str, t: &Transition) -> String {
    let from = t.from.map(State::name).unwrap_or("");
    format!("{item}:{}:{}", t.at, digest(&[&t.who, from, t.to.name()]))
}

fn comment_id(item: &str, c: &Comment) -> String {
    format!("{item}:{}:{}", c.at, digest(&[&c.who, &c.text]))
}

/// The changes that make `old` (`None`: the item is new here) into `new`.
pub fn changes(old: Option<&Item>, new: &Item) -> Vec<Change> {
    let mut out = Vec::new();
    let before: BTreeMap<&str, Value> = old.map(fields).unwrap_or_default().into_iter().collect();
    for (f, v) in fields(new) {
        if before.get(f) != Some(&v) {
            out.push(Change {
                kind: Kind::Item,
                record: new.id.clone(),
                field: f.to_string(),
                value: v,
            });
        }
    }
    let had = |t: &Transition| old.is_some_and(|o| o.history.contains(t));
    for t in new.history.iter().filter(|t| !had(t)) {
        let rec = history_id(&new.id, t);
        for (f, v) in [
            ("item", text(&new.id)),
            ("at", Value::Int(t.at)),
            ("who", text(&t.who)),
            ("from", t.from.map_or(Value::Null, |s| text(s.name()))),
            ("to", text(t.to.name())),
        ] {
            out.push(Change {
                kind: Kind::History,
                record: rec.clone(),
                field: f.into(),
                value: v,
            });
        }
    }
    let had = |c: &Comment| old.is_some_and(|o| o.comments.contains(c));
    for c in new.comments.iter().filter(|c| !had(c)) {
        let rec = comment_id(&new.id, c);
        for (f, v) in [
            ("item", text(&new.id)),
            ("at", Value::Int(c.at)),
            ("who", text(&c.who)),
            ("text", text(&c.text)),
        ] {
            out.push(Change {
                kind: Kind::Comment,
                record: rec.clone(),
                field: f.into(),
                value: v,
            });
        }
    }
    out
}

/// The change that deletes an item.
pub fn delete(id: &str) -> Change {
    Change {
        kind: Kind::Item,
        record: id.to_string(),
        field: DELETED.into(),
        value: Value::Int(1),
    }
}

fn get_text(rec: &BTreeMap<String, Value>, f: &str) -> String {
    match rec.get(f) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

fn get_int(rec: &BTreeMap<String, Value>, f: &str) -> Option<i64> {
    match rec.get(f) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// The item the replica holds as `id`, with its history and comments (`None`: none, or
/// deleted). For applying what a peer sent, item by item, without walking every record.
pub fn item(r: &Replica, id: &str) -> Option<Item> {
    let rec = r.record(Kind::Item, id)?;
    let prefix = format!("{id}:");
    let mut history = Vec::new();
    for hid in r.records_from(Kind::History, &prefix) {
        let Some(h) = r.record(Kind::History, &hid) else {
            continue;
        };
        if get_text(&h, "item") != id {
            continue;
        }
        let Some(to) = State::parse(&get_text(&h, "to")) else {
            continue;
        };
        history.push(Transition {
            at: get_int(&h, "at").unwrap_or(0),
            who: get_text(&h, "who"),
            from: State::parse(&get_text(&h, "from")),
            to,
        });
    }
    history.sort_by(|a, b| (a.at, &a.who).cmp(&(b.at, &b.who)));
    let mut comments = Vec::new();
    for cid in r.records_from(Kind::Comment, &prefix) {
        let Some(c) = r.record(Kind::Comment, &cid) else {
            continue;
        };
        if get_text(&c, "item") != id {
            continue;
        }
        comments.push(Comment {
            at: get_int(&c, "at").unwrap_or(0),
            who: get_text(&c, "who"),
            text: get_text(&c, "text"),
        });
    }
    comments.sort_by(|a, b| (a.at, &a.who, &a.text).cmp(&(b.at, &b.who, &b.text)));
    Some(from_record(r, id, &rec, history, comments))
}

/// The item whose record is `rec`.
fn from_record(
    r: &Replica,
    id: &str,
    rec: &BTreeMap<String, Value>,
    history: Vec<Transition>,
    comments: Vec<Comment>,
) -> Item {
    let created = get_int(rec, "created").unwrap_or(0);
    Item {
        title: get_text(rec, "title"),
        body: get_text(rec, "body"),
        state: State::parse(&get_text(rec, "state")).unwrap_or(State::Queued),
        priority: Priority::parse(&get_text(rec, "priority")).unwrap_or(Priority::Medium),
        role: get_text(rec, "role"),
        assignee: get_text(rec, "assignee"),
        tags: serde_json::from_str(&get_text(rec, "tags")).unwrap_or_default(),
        project: get_text(rec, "project"),
        created,
        updated: r.updated(Kind::Item, id).map_or(created, |ms| ms as i64),
        due: get_int(rec, "due"),
        links: serde_json::from_str(&get_text(rec, "links")).unwrap_or_default(),
        history,
        comments,
        id: id.to_string(),
    }
}

/// The items the replica holds (deleted ones left out), with their history and comments in
/// time order, by id.
pub fn items(r: &Replica) -> Vec<Item> {
    let mut history: BTreeMap<String, Vec<Transition>> = BTreeMap::new();
    for id in r.records(Kind::History) {
        let Some(rec) = r.record(Kind::History, &id) else {
            continue;
        };
        let Some(to) = State::parse(&get_text(&rec, "to")) else {
            continue;
        };
        history
            .entry(get_text(&rec, "item"))
            .or_default()
            .push(Transition {
                at: get_int(&rec, "at").unwrap_or(0),
                who: get_text(&rec, "who"),
                from: State::parse(&get_text(&rec, "from")),
                to,
            });
    }
    let mut comments: BTreeMap<String, Vec<Comment>> = BTreeMap::new();
    for id in r.records(Kind::Comment) {
        let Some(rec) = r.record(Kind::Comment, &id) else {
            continue;
        };
        comments
            .entry(get_text(&rec, "item"))
            .or_default()
            .push(Comment {
                at: get_int(&rec, "at").unwrap_or(0),
                who: get_text(&rec, "who"),
                text: get_text(&rec, "text"),
            });
    }
    let mut out = Vec::new();
    for id in r.records(Kind::Item) {
        let Some(rec) = r.record(Kind::Item, &id) else {
            continue;
        };
        let mut h = history.remove(&id).unwrap_or_default();
        h.sort_by(|a, b| (a.at, &a.who).cmp(&(b.at, &b.who)));
        let mut c = comments.remove(&id).unwrap_or_default();
        c.sort_by(|a, b| (a.at, &a.who, &a.text).cmp(&(b.at, &b.who, &b.text)));
        out.push(from_record(r, &id, &rec, h, c));
    }
    out
}
