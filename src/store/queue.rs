/*!
queue.db: the work queue, in SQLite with WAL, apart from state.db so a queue of 100,000 items
and their history never slows the saving of layouts. One row per item; its history of moves and
its comments in their own tables, appended, never rewritten. Every move is one transaction that
changes the item only if it is still in the state the move was judged from (compare and set),
so two claims of one item, from two clients, two scripts or two servers, have exactly one
winner.
*/

use crate::engine::queue::{Comment, Item, Move, Priority, State, Transition};
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

pub struct QueueStore {
    db: Connection,
}

/// Why a queue command did not happen, in a sentence.
pub type Refusal = String;

impl QueueStore {
    pub fn open(path: &Path) -> Result<QueueStore> {
        let db = super::open_wal(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS items (
                 id TEXT PRIMARY KEY,
                 title TEXT NOT NULL,
                 body TEXT NOT NULL DEFAULT '',
                 state TEXT NOT NULL,
                 priority TEXT NOT NULL,
                 role TEXT NOT NULL DEFAULT '',
                 assignee TEXT NOT NULL DEFAULT '',
                 tags TEXT NOT NULL DEFAULT '[]',
                 project TEXT NOT NULL DEFAULT '',
                 created INTEGER NOT NULL,
                 updated INTEGER NOT NULL,
                 due INTEGER,
                 links TEXT NOT NULL DEFAULT '[]'
             );
             CREATE TABLE IF NOT EXISTS transitions (
                 item TEXT NOT NULL,
                 at INTEGER NOT NULL,
                 who TEXT NOT NULL,
                 from_state TEXT,
                 to_state TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS transitions_item ON transitions(item, at);
             CREATE TABLE IF NOT EXISTS comments (
                 item TEXT NOT NULL,
                 at INTEGER NOT NULL,
                 who TEXT NOT NULL,
                 text TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS comments_item ON comments(item, at);",
        )?;
        Ok(QueueStore { db })
    }

    /// A new item (its creation is its first transition).
    pub fn add(&mut self, item: &Item, who: &str) -> Result<(), Refusal> {
        let tx = self.db.transaction().map_err(db)?;
        insert(&tx, item)?;
        tx.execute(
            "INSERT INTO transitions (item, at, who, from_state, to_state) VALUES (?1, ?2, ?3, NULL, ?4)",
            params![item.id, item.created, who, item.state.name()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// The full id of the one item whose id starts with `prefix` (4 characters at least).
    pub fn resolve(&self, prefix: &str) -> Result<String, Refusal> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < 4 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "{prefix:?} is not an item id: four or more of its hex characters (fieldkit queue ls)"
            ));
        }
        let mut st = self
            .db
            .prepare("SELECT id FROM items WHERE id >= ?1 AND id < ?2 LIMIT 3")
            .map_err(db)?;
        let upper = format!("{p}g");
        let ids: Vec<String> = st
            .query_map(params![p, upper], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        match &ids[..] {
            [one] => Ok(one.clone()),
            [] => Err(format!("no item with an id starting {p}")),
            _ => Err(format!(
                "{p} starts more than one item's id ({} ...): give more of it",
                ids.join(", ")
            )),
        }
    }

    /// The item, with its history and comments.
    pub fn get(&self, prefix: &str) -> Result<Item, Refusal> {
        let id = self.resolve(prefix)?;
        let mut item = self
            .db
            .query_row(&format!("{SELECT} WHERE id = ?1"), [&id], row)
            .map_err(db)?;
        let mut st = self
            .db
            .prepare("SELECT at, who, from_state, to_state FROM transitions WHERE item = ?1 ORDER BY at, rowid")
            .map_err(db)?;
        item.history = st
            .query_map([&id], |r| {
                let from: Option<String> = r.get(2)?;
                let to: String = r.get(3)?;
                Ok(Transition {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    from: from.and_then(|f| State::parse(&f)),
                    to: State::parse(&to).unwrap_or(State::Queued),
                })
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let mut st = self
            .db
            .prepare("SELECT at, who, text FROM comments WHERE item = ?1 ORDER BY at, rowid")
            .map_err(db)?;
        item.comments = st
            .query_map([&id], |r| {
                Ok(Comment {
                    at: r.get(0)?,
                    who: r.get(1)?,
                    text: r.get(2)?,
                })
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        Ok(item)
    }

    /// Every item, without history or comments (the list).
    pub fn all(&self) -> Result<Vec<Item>, Refusal> {
        let mut st = self.db.prepare(SELECT).map_err(db)?;
        let items = st
            .query_map([], row)
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        Ok(items)
    }

    /// Makes `mv` on the item as `who` (whose roles are `roles`), atomically: the item changes
    /// only if it is still in the state the move was judged from. A claim by someone without the
    /// item's role, or of an item someone else holds, is refused.
    pub fn apply(
        &mut self,
        prefix: &str,
        mv: Move,
        who: &str,
        roles: &[String],
        now: i64,
    ) -> Result<Item, Refusal> {
        let id = self.resolve(prefix)?;
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let (state, role, assignee): (String, String, String) = tx
            .query_row(
                "SELECT state, role, assignee FROM items WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(db)?;
        let from = State::parse(&state)
            .ok_or_else(|| format!("item {id} has a state this fieldkit does not know: {state}"))?;
        let to = mv.to(from)?;
        if matches!(mv, Move::Claim | Move::Start)
            && !role.is_empty()
            && !roles.iter().any(|r| r.eq_ignore_ascii_case(&role))
        {
            return Err(format!(
                "only the role {role:?} may take this item (yours: {}; set [queue] roles in config.toml)",
                if roles.is_empty() { "none".to_string() } else { roles.join(", ") }
            ));
        }
        if matches!(mv, Move::Claim | Move::Start | Move::Done)
            && !assignee.is_empty()
            && assignee != who
            && from != State::Blocked
        {
            return Err(format!("{assignee} holds this item"));
        }
        let assignee = match mv {
            Move::Claim | Move::Start => who.to_string(),
            _ => assignee,
        };
        let changed = tx
            .execute(
                "UPDATE items SET state = ?1, assignee = ?2, updated = ?3 WHERE id = ?4 AND state = ?5",
                params![to.name(), assignee, now, id, from.name()],
            )
            .map_err(db)?;
        if changed != 1 {
            return Err("someone else moved it first".into());
        }
        tx.execute(
            "INSERT INTO transitions (item, at, who, from_state, to_state) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, now, who, from.name(), to.name()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        self.get(&id)
    }

    /// Changes an item's fields (its state only moves through `apply`).
    pub fn edit(
        &mut self,
        prefix: &str,
        e: &crate::engine::queue::ItemEdit,
        now: i64,
    ) -> Result<Item, Refusal> {
        let id = self.resolve(prefix)?;
        let mut it = self.get(&id)?;
        if let Some(t) = &e.title {
            it.title = t.trim().to_string();
        }
        if let Some(b) = &e.body {
            it.body = b.clone();
        }
        if let Some(p) = e.priority {
            it.priority = p;
        }
        if let Some(r) = &e.role {
            it.role = r.clone();
        }
        if let Some(t) = &e.tags {
            it.tags = t.clone();
        }
        if let Some(p) = &e.project {
            it.project = p.clone();
        }
        if e.clear_due {
            it.due = None;
        }
        if let Some(d) = e.due {
            it.due = Some(d);
        }
        self.db
            .execute(
                "UPDATE items SET title = ?1, body = ?2, priority = ?3, role = ?4, tags = ?5, \
                 project = ?6, due = ?7, updated = ?8 WHERE id = ?9",
                params![
                    it.title,
                    it.body,
                    it.priority.letter(),
                    it.role,
                    serde_json::to_string(&it.tags).unwrap_or_else(|_| "[]".into()),
                    it.project,
                    it.due,
                    now,
                    id
                ],
            )
            .map_err(db)?;
        self.get(&id)
    }

    pub fn comment(
        &mut self,
        prefix: &str,
        who: &str,
        text: &str,
        now: i64,
    ) -> Result<String, Refusal> {
        if text.trim().is_empty() {
            return Err("an empty comment says nothing".into());
        }
        let id = self.resolve(prefix)?;
        self.db
            .execute(
                "INSERT INTO comments (item, at, who, text) VALUES (?1, ?2, ?3, ?4)",
                params![id, now, who, text],
            )
            .map_err(db)?;
        Ok(id)
    }

    /// Items from an export (ours or taskwarrior's, already read): those whose id the queue has
    /// already are left as they are. Returns how many were taken and which were skipped.
    pub fn import(&mut self, items: &[Item]) -> Result<(usize, Vec<String>), Refusal> {
        let tx = self.db.transaction().map_err(db)?;
        let mut taken = 0;
        let mut skipped = Vec::new();
        for it in items {
            let exists: bool = tx
                .query_row(
                    "SELECT count(*) > 0 FROM items WHERE id = ?1",
                    [&it.id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if exists {
                skipped.push(it.id.clone());
                continue;
            }
            insert(&tx, it)?;
            for t in &it.history {
                tx.execute(
                    "INSERT INTO transitions (item, at, who, from_state, to_state) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![it.id, t.at, t.who, t.from.map(State::name), t.to.name()],
                )
                .map_err(db)?;
            }
            for c in &it.comments {
                tx.execute(
                    "INSERT INTO comments (item, at, who, text) VALUES (?1, ?2, ?3, ?4)",
                    params![it.id, c.at, c.who, c.text],
                )
                .map_err(db)?;
            }
            taken += 1;
        }
        tx.commit().map_err(db)?;
        Ok((taken, skipped))
    }

    /// An item as the mesh has it (from another device, merged): its row replaced, and its
    /// history and comments added where missing (both only grow).
    pub fn put_synced(&mut self, it: &Item) -> Result<(), Refusal> {
        let tx = self.db.transaction().map_err(db)?;
        put_synced(&tx, it)?;
        tx.commit().map_err(db)
    }

    /// Items as the mesh has them, by id (`None`: deleted), in one transaction.
    pub fn put_synced_all(&mut self, items: &[(String, Option<Item>)]) -> Result<(), Refusal> {
        let tx = self.db.transaction().map_err(db)?;
        for (id, it) in items {
            match it {
                Some(it) => put_synced(&tx, it)?,
                None => delete_synced(&tx, id)?,
            }
        }
        tx.commit().map_err(db)
    }

    /// An item the mesh has deleted (a tombstone from another device): gone here too.
    pub fn delete_synced(&mut self, id: &str) -> Result<(), Refusal> {
        let tx = self.db.transaction().map_err(db)?;
        delete_synced(&tx, id)?;
        tx.commit().map_err(db)
    }

    /// Every item whole, for `queue export`.
    pub fn export(&self) -> Result<Vec<Item>, Refusal> {
        let ids: Vec<String> = self.all()?.into_iter().map(|i| i.id).collect();
        ids.iter().map(|id| self.get(id)).collect()
    }

    /// Item counts by SLA state of the open items (for the status pane and line).
    pub fn item_count(&self) -> Result<i64, Refusal> {
        self.db
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .optional()
            .map(|n| n.unwrap_or(0))
            .map_err(db)
    }
}

const SELECT: &str = "SELECT id, title, body, state, priority, role, assignee, tags, project, created, updated, due, links FROM items";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Item> {
    let state: String = r.get(3)?;
    let priority: String = r.get(4)?;
    let tags: String = r.get(7)?;
    let links: String = r.get(12)?;
    Ok(Item {
        id: r.get(0)?,
        title: r.get(1)?,
        body: r.get(2)?,
        state: State::parse(&state).unwrap_or(State::Queued),
        priority: Priority::parse(&priority).unwrap_or(Priority::Medium),
        role: r.get(5)?,
        assignee: r.get(6)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        project: r.get(8)?,
        created: r.get(9)?,
        updated: r.get(10)?,
        due: r.get(11)?,
        links: serde_json::from_str(&links).unwrap_or_default(),
        history: Vec::new(),
        comments: Vec::new(),
    })
}

fn insert(tx: &rusqlite::Transaction, it: &Item) -> Result<(), Refusal> {
    tx.execute(
        "INSERT INTO items (id, title, body, state, priority, role, assignee, tags, project, created, updated, due, links)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            it.id,
            it.title,
            it.body,
            it.state.name(),
            it.priority.letter(),
            it.role,
            it.assignee,
            serde_json::to_string(&it.tags).unwrap_or_else(|_| "[]".into()),
            it.project,
            it.created,
            it.updated,
            it.due,
            serde_json::to_string(&it.links).unwrap_or_else(|_| "[]".into()),
        ],
    )
    .map_err(db)?;
    Ok(())
}

fn db(e: rusqlite::Error) -> Refusal {
    format!("the queue's database: {e}")
}

/// `put_synced` within a transaction.
fn put_synced(tx: &rusqlite::Transaction, it: &Item) -> Result<(), Refusal> {
    tx.execute("DELETE FROM items WHERE id = ?1", [&it.id])
        .map_err(db)?;
    insert(tx, it)?;
    for t in &it.history {
        tx.execute(
            "INSERT INTO transitions (item, at, who, from_state, to_state)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM transitions
             WHERE item = ?1 AND at = ?2 AND who = ?3 AND to_state = ?5
             AND from_state IS ?4)",
            params![it.id, t.at, t.who, t.from.map(State::name), t.to.name()],
        )
        .map_err(db)?;
    }
    for c in &it.comments {
        tx.execute(
            "INSERT INTO comments (item, at, who, text)
         SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM comments
             WHERE item = ?1 AND at = ?2 AND who = ?3 AND text = ?4)",
            params![it.id, c.at, c.who, c.text],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// `delete_synced` within a transaction.
fn delete_synced(tx: &rusqlite::Transaction, id: &str) -> Result<(), Refusal> {
    for sql in [
        "DELETE FROM transitions WHERE item = ?1",
        "DELETE FROM comments WHERE item = ?1",
        "DELETE FROM items WHERE id = ?1",
    ] {
        tx.execute(sql, [id]).map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::queue::new_id;

    fn item(title: &str, role: &str) -> Item {
        Item {
            id: new_id(),
            title: title.into(),
            body: String::new(),
            state: State::Queued,
            priority: Priority::Medium,
            role: role.into(),
            assignee: String::new(),
            tags: vec!["water".into()],
            project: "north".into(),
            created: 1_000,
            updated: 1_000,
            due: Some(10_000),
            links: vec![],
            history: vec![],
            comments: vec![],
        }
    }

    #[test]
    fn moves_are_recorded_and_judged_against_the_stored_state() {
        let dir = tempfile::tempdir().expect("dir");
        let mut q = QueueStore::open(&dir.path().join("queue.db")).expect("open");
        let it = item("Sample 7", "");
        q.add(&it, "ana").expect("add");
        let short = &it.id[..8];
        let got = q
            .apply(short, Move::Claim, "ana", &[], 2_000)
            .expect("claim");
        assert_eq!((got.state, got.assignee.as_str()), (State::Claimed, "ana"));
        assert_eq!(
            q.apply(short, Move::Claim, "ben", &[], 2_100).unwrap_err(),
            "cannot claim an item that is CLAIMED"
        );
        assert_eq!(
            q.apply(short, Move::Start, "ben", &[], 2_200).unwrap_err(),
            "ana holds this item"
        );
        q.apply(short, Move::Start, "ana", &[], 3_000)
            .expect("start");
        q.comment(short, "ana", "turbid; filtered twice", 3_500)
            .expect("comment");
        let done = q.apply(short, Move::Done, "ana", &[], 4_000).expect("done");
        let moves: Vec<(Option<State>, State, &str)> = done
            .history
            .iter()
            .map(|t| (t.from, t.to, t.who.as_str()))
            .collect();
        assert_eq!(
            moves,
            vec![
                (None, State::Queued, "ana"),
                (Some(State::Queued), State::Claimed, "ana"),
                (Some(State::Claimed), State::InProgress, "ana"),
                (Some(State::InProgress), State::Completed, "ana"),
            ]
        );
        assert_eq!(done.comments[0].text, "turbid; filtered twice");
        // Prefixes: too short, unknown, and an export that imports back as itself.
        assert!(q.resolve("ab").unwrap_err().contains("four or more"));
        assert!(q.resolve("ffff").unwrap_err().contains("no item"));
        let all = q.export().expect("export");
        let dir2 = tempfile::tempdir().expect("dir");
        let mut q2 = QueueStore::open(&dir2.path().join("queue.db")).expect("open");
        assert_eq!(q2.import(&all).expect("import"), (1, vec![]));
        assert_eq!(
            q2.import(&all).expect("again").0,
            0,
            "ids already there are kept"
        );
        assert_eq!(q2.export().expect("export"), all);
    }

    #[test]
    fn a_role_decides_who_may_claim() {
        let dir = tempfile::tempdir().expect("dir");
        let mut q = QueueStore::open(&dir.path().join("queue.db")).expect("open");
        let it = item("Triage", "medic");
        q.add(&it, "ana").expect("add");
        let e = q
            .apply(&it.id, Move::Claim, "ben", &["driver".into()], 2_000)
            .unwrap_err();
        assert!(e.contains("only the role \"medic\""), "{e}");
        q.apply(&it.id, Move::Claim, "cat", &["Medic".into()], 2_000)
            .expect("claim");
    }

    /// Two connections to one database, as two servers or scripts would be: each judges the
    /// item queued, exactly one claim lands.
    #[test]
    fn two_claims_of_one_item_have_one_winner() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("queue.db");
        let mut q = QueueStore::open(&path).expect("open");
        let it = item("Site 12", "");
        q.add(&it, "ana").expect("add");
        let wins: Vec<bool> = std::thread::scope(|s| {
            let hs: Vec<_> = ["ana", "ben", "cat", "dan"]
                .iter()
                .map(|who| {
                    let path = path.clone();
                    let id = it.id.clone();
                    s.spawn(move || {
                        let mut q = QueueStore::open(&path).expect("open");
                        q.apply(&id, Move::Claim, who, &[], 2_000).is_ok()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    }
}
