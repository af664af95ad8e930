/*!
Unsaved editor text, kept in state.db so a crash or a `kill -9` of the server loses at most the
last couple of seconds of typing. One row per editor pane and file (`''` for a scratch buffer):
the whole text as it stood when typing paused, its line endings, and the stamp of the file it
was read from (so a recovered buffer still knows whether the file changed since). A row goes
when the buffer is saved or no longer differs from its file.

Rows are written off the server loop, each on a connection of its own (a large file's text
takes a moment to write), in one statement, so a row is the old text or the new, never half.

Undo history outlives the server the same way: a kept buffer's steps go in its row, and when a
file is saved its steps go in `editor_undo`, one row per file (by path, whatever pane), given
back when the file is opened again unchanged (same stamp). Both are bounded: the steps by
`Doc::history` (`MAX_UNDO` steps, `HISTORY_BYTES` of text), the files by `UNDO_FILES` (the
longest unused go).
*/

use anyhow::Result;
use fieldkit_panes::editor::{FileStamp, History};
use rusqlite::{params, Connection};
use std::path::Path;

/// One kept buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub path: String,
    pub text: String,
    pub crlf: bool,
    pub stamp: Option<FileStamp>,
    pub history: Option<History>,
}

/// Files whose undo history is kept at most.
pub const UNDO_FILES: usize = 500;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn open(db: &Path) -> Result<Connection> {
    let c = super::open_wal(db)?;
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS editor_kept (
             pane INTEGER NOT NULL,
             path TEXT NOT NULL,
             text TEXT NOT NULL,
             crlf INTEGER NOT NULL,
             stamp TEXT,
             at INTEGER NOT NULL,
             PRIMARY KEY (pane, path)
         );
         CREATE TABLE IF NOT EXISTS editor_undo (
             path TEXT PRIMARY KEY,
             stamp TEXT NOT NULL,
             history TEXT NOT NULL,
             at INTEGER NOT NULL
         );",
    )?;
    // Kept rows from before undo was kept have no history column yet.
    let has: bool = c
        .prepare("SELECT 1 FROM pragma_table_info('editor_kept') WHERE name = 'history'")?
        .exists([])?;
    if !has {
        c.execute_batch("ALTER TABLE editor_kept ADD COLUMN history TEXT")?;
    }
    Ok(c)
}

/// Keeps (or replaces) the text of `path` in editor pane `pane`.
pub fn keep(db: &Path, pane: u64, k: &Kept) -> Result<()> {
    let c = open(db)?;
    let stamp = k.stamp.map(|s| serde_json::to_string(&s)).transpose()?;
    let history = k.history.as_ref().map(serde_json::to_string).transpose()?;
    c.execute(
        "INSERT INTO editor_kept (pane, path, text, crlf, stamp, at, history)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (pane, path) DO UPDATE SET text = excluded.text, crlf = excluded.crlf,
             stamp = excluded.stamp, at = excluded.at, history = excluded.history",
        params![pane as i64, k.path, k.text, k.crlf, stamp, now(), history],
    )?;
    Ok(())
}

/// Keeps the undo steps of `path` as saved at `stamp` (replacing what was kept for it), and
/// forgets the files used longest ago past `UNDO_FILES`.
pub fn keep_undo(db: &Path, path: &str, stamp: FileStamp, history: &History) -> Result<()> {
    let c = open(db)?;
    c.execute(
        "INSERT INTO editor_undo (path, stamp, history, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (path) DO UPDATE SET stamp = excluded.stamp, history = excluded.history,
             at = excluded.at",
        params![
            path,
            serde_json::to_string(&stamp)?,
            serde_json::to_string(history)?,
            now()
        ],
    )?;
    c.execute(
        "DELETE FROM editor_undo WHERE path NOT IN
             (SELECT path FROM editor_undo ORDER BY at DESC, path LIMIT ?1)",
        [UNDO_FILES as i64],
    )?;
    Ok(())
}

/// The undo steps kept for `path` when it was last saved, if the file is still as it was then
/// (`stamp`); a history for a file changed since is forgotten.
pub fn undo_for(db: &Path, path: &str, stamp: FileStamp) -> Result<Option<History>> {
    let c = open(db)?;
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT stamp, history FROM editor_undo WHERE path = ?1",
            [path],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some((kept_stamp, history)) = row else {
        return Ok(None);
    };
    if serde_json::from_str::<FileStamp>(&kept_stamp).ok() != Some(stamp) {
        c.execute("DELETE FROM editor_undo WHERE path = ?1", [path])?;
        return Ok(None);
    }
    c.execute(
        "UPDATE editor_undo SET at = ?2 WHERE path = ?1",
        params![path, now()],
    )?;
    // A history this version cannot read is no history (not an error to show).
    Ok(serde_json::from_str(&history).ok())
}

/// Forgets the kept text of `path` in pane `pane` (saved, or the same as the file again).
pub fn forget(db: &Path, pane: u64, path: &str) -> Result<()> {
    let c = open(db)?;
    c.execute(
        "DELETE FROM editor_kept WHERE pane = ?1 AND path = ?2",
        params![pane as i64, path],
    )?;
    Ok(())
}

/// What pane `pane` had unsaved when the last server stopped.
pub fn kept(db: &Path, pane: u64) -> Result<Vec<Kept>> {
    let c = open(db)?;
    let mut st = c.prepare(
        "SELECT path, text, crlf, stamp, history FROM editor_kept WHERE pane = ?1 ORDER BY path",
    )?;
    let rows = st.query_map([pane as i64], |r| {
        let stamp: Option<String> = r.get(3)?;
        let history: Option<String> = r.get(4)?;
        Ok(Kept {
            path: r.get(0)?,
            text: r.get(1)?,
            crlf: r.get(2)?,
            stamp: stamp.and_then(|s| serde_json::from_str(&s).ok()),
            history: history.and_then(|h| serde_json::from_str(&h).ok()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Forgets the kept text of panes that no longer exist (closed, or their session killed).
pub fn forget_except(db: &Path, panes: &[u64]) -> Result<usize> {
    let c = open(db)?;
    let list = panes
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let n = c.execute(
        &format!("DELETE FROM editor_kept WHERE pane NOT IN ({list})"),
        [],
    )?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_text_comes_back_and_goes_when_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let k = Kept {
            path: "/tmp/a.txt".into(),
            text: "héllo\nworld".into(),
            crlf: true,
            stamp: Some(FileStamp {
                mtime_ns: 1_795_000_000_123_456_789,
                size: 12,
            }),
            history: None,
        };
        keep(&db, 7, &k).unwrap();
        let mut k2 = k.clone();
        k2.text.push_str(" again");
        keep(&db, 7, &k2).unwrap();
        keep(
            &db,
            8,
            &Kept {
                path: String::new(),
                ..k.clone()
            },
        )
        .unwrap();
        assert_eq!(kept(&db, 7).unwrap(), vec![k2]);
        forget(&db, 7, "/tmp/a.txt").unwrap();
        assert!(kept(&db, 7).unwrap().is_empty());
        assert_eq!(forget_except(&db, &[1, 2]).unwrap(), 1);
        assert!(kept(&db, 8).unwrap().is_empty());
    }

    #[test]
    fn undo_steps_come_back_for_the_file_as_saved_and_go_when_it_changed() {
        use fieldkit_panes::editor::Doc;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let mut d = Doc::new(ropey::Rope::from_str("tent\n"));
        d.move_to(4, false);
        d.type_text(" pegs");
        d.move_to(0, false);
        d.type_text("2 ");
        d.mark_saved(d.state);
        let stamp = FileStamp {
            mtime_ns: 5,
            size: 12,
        };
        keep_undo(&db, "/f/a.txt", stamp, &d.history()).unwrap();
        // Opened again, unchanged: both steps undo on the text as read.
        let h = undo_for(&db, "/f/a.txt", stamp).unwrap().expect("kept");
        let mut e = Doc::new(ropey::Rope::from_str("2 tent pegs\n"));
        assert!(e.restore_history(h, true));
        assert!(!e.modified());
        assert!(e.undo());
        assert_eq!(e.rope.to_string(), "tent pegs\n");
        assert!(e.modified());
        assert!(e.undo());
        assert_eq!(e.rope.to_string(), "tent\n");
        assert!(!e.undo());
        // Redo back to the saved text: not modified again.
        assert!(e.redo() && e.redo());
        assert!(!e.modified());
        // The file changed since: no history, and the row goes.
        let later = FileStamp {
            mtime_ns: 6,
            size: 12,
        };
        assert!(undo_for(&db, "/f/a.txt", later).unwrap().is_none());
        assert!(undo_for(&db, "/f/a.txt", stamp).unwrap().is_none());
        // A history that does not fit the text is refused, the text untouched.
        keep_undo(&db, "/f/b.txt", stamp, &d.history()).unwrap();
        let h = undo_for(&db, "/f/b.txt", stamp).unwrap().expect("kept");
        let mut other = Doc::new(ropey::Rope::from_str("2 tent legs\n"));
        assert!(!other.restore_history(h, true));
        assert!(!other.undo());
        assert_eq!(other.rope.to_string(), "2 tent legs\n");
    }

    #[test]
    fn panic_wipes_kept_text_and_undo_history() {
        use fieldkit_panes::editor::Doc;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let (store, _) = crate::store::state::Store::open(&db).unwrap();
        let mut d = Doc::new(ropey::Rope::from_str("grid ref"));
        d.type_text("secret ");
        keep(
            &db,
            3,
            &Kept {
                path: "/f/a".into(),
                text: "secret grid ref".into(),
                crlf: false,
                stamp: None,
                history: Some(d.history()),
            },
        )
        .unwrap();
        keep_undo(&db, "/f/a", FileStamp::default(), &d.history()).unwrap();
        store.wipe(false).unwrap();
        assert!(kept(&db, 3).unwrap().is_empty());
        assert!(undo_for(&db, "/f/a", FileStamp::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn only_the_files_used_last_keep_their_undo() {
        use fieldkit_panes::editor::Doc;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let mut d = Doc::new(ropey::Rope::from_str("x"));
        d.type_text("y");
        let stamp = FileStamp::default();
        for i in 0..UNDO_FILES + 3 {
            keep_undo(&db, &format!("/f/{i:04}"), stamp, &d.history()).unwrap();
        }
        let c = open(&db).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM editor_undo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, UNDO_FILES);
    }
}
