/*!
state.db: sessions and layouts, in SQLite with WAL.

Each session is one row holding its saved state as JSON, written after every change (a WAL
write of a few hundred bytes), so `kill -9` of the server loses nothing. A row that no longer
decodes is kept aside in `broken_sessions` rather than deleted, and a database file that is not
SQLite at all is renamed aside and a fresh one started.
*/

use anyhow::{Context, Result};
use fieldkit_messages::saved::SessionState;
use rusqlite::{params, Connection};
use std::path::Path;

pub struct Store {
    pub(crate) db: Connection,
}

/// The most scrollback text kept per terminal pane across restarts.
pub const SCROLLBACK_CAP: usize = 512 * 1024;

/// A query from the SQL history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub sql: String,
    /// Seconds since it ran.
    pub age_s: u64,
    /// Rows it gave, when it finished with rows.
    pub rows: Option<u64>,
}

impl HistoryEntry {
    /// `2 h ago · 336,776 rows`.
    pub fn detail(&self) -> String {
        let ago = match self.age_s {
            0..=59 => "just now".to_string(),
            60..=3599 => format!("{} min ago", self.age_s / 60),
            3600..=86_399 => format!("{} h ago", self.age_s / 3600),
            _ => format!("{} days ago", self.age_s / 86_400),
        };
        match self.rows {
            Some(n) => format!("{ago} · {} rows", fieldkit_messages::text::group(n)),
            None => ago,
        }
    }
}

impl Store {
    /// Opens (or creates) the database. Returns the store and, if the old file was unreadable
    /// and had to be set aside, a sentence saying where it went.
    pub fn open(path: &Path) -> Result<(Store, Option<String>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        match Self::try_open(path) {
            Ok(s) => Ok((s, None)),
            Err(e) => {
                let aside = path.with_extension(format!(
                    "db.unreadable-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0)
                ));
                std::fs::rename(path, &aside).with_context(|| {
                    format!(
                        "{} is unreadable ({e}) and cannot be moved aside",
                        path.display()
                    )
                })?;
                for ext in ["db-wal", "db-shm"] {
                    let _ = std::fs::remove_file(path.with_extension(ext));
                }
                let s = Self::try_open(path)?;
                Ok((
                    s,
                    Some(format!(
                        "{} could not be read ({e}); it was moved to {} and a new one started",
                        path.display(),
                        aside.display()
                    )),
                ))
            }
        }
    }

    fn try_open(path: &Path) -> Result<Store> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        // Deleted rows (a panic's scrollback, a deleted chat) are overwritten, not left in
        // free pages for anyone with the file to read.
        db.pragma_update(None, "secure_delete", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(2))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (
                 name TEXT PRIMARY KEY,
                 state TEXT NOT NULL,
                 saved_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS scrollback (
                 pane INTEGER PRIMARY KEY,
                 text TEXT NOT NULL,
                 saved_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS sql_history (
                 id INTEGER PRIMARY KEY,
                 sql TEXT NOT NULL,
                 dialect TEXT,
                 ran_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS models (
                 name TEXT PRIMARY KEY,
                 path TEXT,
                 url TEXT,
                 remote_model TEXT,
                 added_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS chat_sessions (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 system TEXT NOT NULL,
                 created_at INTEGER NOT NULL,
                 updated_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS chat_messages (
                 id INTEGER PRIMARY KEY,
                 session INTEGER NOT NULL,
                 role TEXT NOT NULL,
                 content TEXT NOT NULL,
                 attachments TEXT NOT NULL DEFAULT '[]',
                 meta TEXT NOT NULL DEFAULT '',
                 at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS chat_messages_session ON chat_messages(session, id);
             CREATE TABLE IF NOT EXISTS audit (
                 id INTEGER PRIMARY KEY,
                 at INTEGER NOT NULL,
                 kind TEXT NOT NULL,
                 detail TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS broken_sessions (
                 name TEXT NOT NULL,
                 state TEXT NOT NULL,
                 error TEXT NOT NULL,
                 set_aside_at INTEGER NOT NULL
             );",
        )?;
        // Added later: how many rows a query gave (state.db files from before have no column).
        let has_rows = db
            .prepare("SELECT 1 FROM pragma_table_info('sql_history') WHERE name = 'rows'")?
            .exists([])?;
        if !has_rows {
            db.execute("ALTER TABLE sql_history ADD COLUMN rows INTEGER", [])?;
        }
        // Added with the mesh: a shared chat's record id, and each shared message's (NULL: not
        // shared, or not yet handed to the team).
        for table in ["chat_sessions", "chat_messages"] {
            let has_share = db
                .prepare(&format!(
                    "SELECT 1 FROM pragma_table_info('{table}') WHERE name = 'share'"
                ))?
                .exists([])?;
            if !has_share {
                db.execute(&format!("ALTER TABLE {table} ADD COLUMN share TEXT"), [])?;
            }
        }
        Ok(Store { db })
    }

    pub fn save(&self, s: &SessionState) -> Result<()> {
        let json = serde_json::to_string(s)?;
        self.db.execute(
            "INSERT INTO sessions (name, state, saved_at) VALUES (?1, ?2, unixepoch())
             ON CONFLICT(name) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            params![s.name, json],
        )?;
        Ok(())
    }

    /// Keeps the text a terminal pane showed, capped to its last `SCROLLBACK_CAP` bytes.
    pub fn save_scrollback(&self, pane: u64, text: &str) -> Result<()> {
        let mut start = text.len().saturating_sub(SCROLLBACK_CAP);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        // Begin at a line start so the first kept line is whole.
        let kept = match text[start..].find('\n') {
            Some(i) if start > 0 => &text[start + i + 1..],
            _ => &text[start..],
        };
        self.db.execute(
            "INSERT INTO scrollback (pane, text, saved_at) VALUES (?1, ?2, unixepoch())
             ON CONFLICT(pane) DO UPDATE SET text = excluded.text, saved_at = excluded.saved_at",
            params![pane as i64, kept],
        )?;
        Ok(())
    }

    pub fn scrollback(&self, pane: u64) -> Result<Option<String>> {
        let mut stmt = self
            .db
            .prepare("SELECT text FROM scrollback WHERE pane = ?1")?;
        let mut rows = stmt.query(params![pane as i64])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    /// Keeps a query the user ran (the same text again moves it to the top).
    /// Keeps a query run now; returns its entry, for the row count once it is known.
    pub fn add_history(&self, sql: &str, dialect: Option<&str>) -> Result<i64> {
        self.db
            .execute("DELETE FROM sql_history WHERE sql = ?1", params![sql])?;
        self.db.execute(
            "INSERT INTO sql_history (sql, dialect, ran_at) VALUES (?1, ?2, unixepoch())",
            params![sql, dialect],
        )?;
        Ok(self.db.last_insert_rowid())
    }

    /// How many rows history entry `id` gave.
    pub fn set_history_rows(&self, id: i64, rows: u64) -> Result<()> {
        self.db.execute(
            "UPDATE sql_history SET rows = ?2 WHERE id = ?1",
            params![id, rows as i64],
        )?;
        Ok(())
    }

    /// The most recent queries first, each with when it ran and how many rows it gave.
    pub fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.db.prepare(
            "SELECT sql, ran_at, rows, unixepoch() FROM sql_history ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(HistoryEntry {
                sql: r.get(0)?,
                age_s: (r.get::<_, i64>(3)? - r.get::<_, i64>(1)?).max(0) as u64,
                rows: r.get::<_, Option<i64>>(2)?.map(|n| n.max(0) as u64),
            })
        })?;
        Ok(rows.filter_map(|r| r.ok()).collect())
    }

    /// Panic: every saved scrollback, and the editor's kept text and undo history (pane text,
    /// and text files held before), deleted (overwritten, `secure_delete`); with `chats` the
    /// chat history and SQL history too; and the write-ahead log emptied so no old page of
    /// them is left in it.
    pub fn wipe(&self, chats: bool) -> Result<()> {
        self.db.execute("DELETE FROM scrollback", [])?;
        let mut tables = vec!["editor_kept", "editor_undo"];
        if chats {
            tables.extend(["chat_messages", "chat_sessions", "sql_history", "audit"]);
        }
        {
            for table in tables {
                let exists: bool = self.db.query_row(
                    "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )?;
                if exists {
                    self.db.execute(&format!("DELETE FROM {table}"), [])?;
                }
            }
        }
        self.db
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn delete_scrollback(&self, pane: u64) -> Result<()> {
        self.db.execute(
            "DELETE FROM scrollback WHERE pane = ?1",
            params![pane as i64],
        )?;
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        self.db
            .execute("DELETE FROM sessions WHERE name = ?1", params![name])?;
        Ok(())
    }

    /// Every saved session that decodes; the others are moved to `broken_sessions` and named
    /// in the second list.
    pub fn load_all(&self) -> Result<(Vec<SessionState>, Vec<String>)> {
        let mut stmt = self
            .db
            .prepare("SELECT name, state FROM sessions ORDER BY name")?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut good = Vec::new();
        let mut broken = Vec::new();
        for (name, json) in rows {
            let read = serde_json::from_str::<SessionState>(&json)
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    if s.version > fieldkit_messages::VERSION {
                        Err(format!(
                            "saved by a newer fieldkit (format {}, this one reads up to {})",
                            s.version,
                            fieldkit_messages::VERSION
                        ))
                    } else {
                        Ok(s)
                    }
                });
            match read {
                Ok(s) => good.push(s),
                Err(e) => {
                    self.db.execute(
                        "INSERT INTO broken_sessions (name, state, error, set_aside_at) VALUES (?1, ?2, ?3, unixepoch())",
                        params![name, json, e],
                    )?;
                    self.db
                        .execute("DELETE FROM sessions WHERE name = ?1", params![name])?;
                    broken.push(format!("{name} ({e})"));
                }
            }
        }
        Ok((good, broken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Node;
    use fieldkit_messages::saved::TabState;
    use std::collections::BTreeMap;

    #[test]
    fn history_keeps_when_a_query_ran_and_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("state.db")).unwrap();
        let id = store.add_history("select 1", None).unwrap();
        store.add_history("select 2", None).unwrap();
        store.set_history_rows(id, 336_776).unwrap();
        let h = store.history(10).unwrap();
        assert_eq!(h[0].sql, "select 2");
        assert_eq!(h[0].detail(), "just now");
        assert_eq!(h[1].detail(), "just now · 336,776 rows");
        let old = HistoryEntry {
            sql: String::new(),
            age_s: 7300,
            rows: Some(5),
        };
        assert_eq!(old.detail(), "2 h ago · 5 rows");
        // A state.db from before the row count had no column for it: opening adds it.
        drop(store);
        let raw = rusqlite::Connection::open(dir.path().join("old.db")).unwrap();
        raw.execute_batch(
            "CREATE TABLE sql_history (id INTEGER PRIMARY KEY, sql TEXT NOT NULL, dialect TEXT, ran_at INTEGER NOT NULL);
             INSERT INTO sql_history (sql, ran_at) VALUES ('select 3', unixepoch());",
        )
        .unwrap();
        drop(raw);
        let (old, _) = Store::open(&dir.path().join("old.db")).unwrap();
        assert_eq!(old.history(10).unwrap()[0].rows, None);
    }

    #[test]
    fn a_state_from_a_newer_fieldkit_is_set_aside_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("state.db")).unwrap();
        let mut newer = state("later");
        newer.version = fieldkit_messages::VERSION + 1;
        store.save(&newer).unwrap();
        store.save(&state("now")).unwrap();
        let (good, broken) = store.load_all().unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].name, "now");
        assert_eq!(broken.len(), 1);
        assert!(broken[0].contains("newer fieldkit"), "{broken:?}");
        // Set aside, not deleted: the row is kept in broken_sessions.
        let kept: i64 = store
            .db
            .query_row(
                "SELECT count(*) FROM broken_sessions WHERE name = 'later'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1);
    }

    fn state(name: &str) -> SessionState {
        let mut panes = BTreeMap::new();
        panes.insert(1, fieldkit_panes::PaneState::Status);
        panes.insert(
            2,
            fieldkit_panes::PaneState::Term {
                cwd: Some("/tmp".into()),
                command: "sh".into(),
            },
        );
        SessionState {
            version: fieldkit_messages::VERSION,
            name: name.into(),
            active: 0,
            size: (80, 24),
            tabs: vec![TabState {
                name: "1".into(),
                layout: Node::Leaf(1),
                focus: 1,
                zoomed: false,
            }],
            panes,
        }
    }

    #[test]
    fn save_load_delete_on_a_real_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("state.db");
        let (store, note) = Store::open(&path).expect("open");
        assert!(note.is_none());
        store.save(&state("a")).expect("save");
        store.save(&state("b")).expect("save");
        store.save(&state("a")).expect("save again");
        drop(store);
        let (store, _) = Store::open(&path).expect("reopen");
        let (all, broken) = store.load_all().expect("load");
        assert_eq!(
            all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert!(broken.is_empty());
        store.delete("a").expect("delete");
        assert_eq!(store.load_all().expect("load").0.len(), 1);
    }

    #[test]
    fn scrollback_is_capped_at_a_line_start() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (store, _) = Store::open(&tmp.path().join("state.db")).expect("open");
        let text: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        store.save_scrollback(7, &text).expect("save");
        let back = store.scrollback(7).expect("load").expect("some");
        assert!(back.len() <= SCROLLBACK_CAP);
        assert!(back.starts_with("line ") && back.ends_with("line 99999\n"));
        store.delete_scrollback(7).expect("delete");
        assert_eq!(store.scrollback(7).expect("load"), None);
    }

    #[test]
    fn broken_rows_and_files_are_set_aside_not_lost() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("state.db");
        let (store, _) = Store::open(&path).expect("open");
        store
            .db
            .execute("INSERT INTO sessions VALUES ('bad', '{not json', 0)", [])
            .expect("insert");
        let (all, broken) = store.load_all().expect("load");
        assert!(all.is_empty());
        assert_eq!(broken.len(), 1);
        let kept: i64 = store
            .db
            .query_row("SELECT count(*) FROM broken_sessions", [], |r| r.get(0))
            .expect("count");
        assert_eq!(kept, 1);
        drop(store);

        std::fs::write(&path, b"this is not a database, just bytes").expect("write");
        let (store, note) = Store::open(&path).expect("open fresh");
        let note = note.expect("a note about the move");
        assert!(note.contains("moved to"), "{note}");
        assert!(store.load_all().expect("load").0.is_empty());
        let moved = std::fs::read_dir(tmp.path())
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("unreadable"));
        assert!(moved, "the unreadable file is kept");
    }
}
