/*!
Unsaved editor text, kept in state.db so a crash or a `kill -9` of the server loses at most the
last couple of seconds of typing. One row per editor pane and file (`''` for a scratch buffer):
the whole text as it stood when typing paused, its line endings, and the stamp of the file it
was read from (so a recovered buffer still knows whether the file changed since). A row goes
when the buffer is saved or no longer differs from its file.

Rows are written off the server loop, each on a connection of its own (a large file's text
takes a moment to write), in one statement, so a row is the old text or the new, never half.
*/

use anyhow::Result;
use fieldkit_panes::editor::FileStamp;
use rusqlite::{params, Connection};
use std::path::Path;

/// One kept buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub path: String,
    pub text: String,
    pub crlf: bool,
    pub stamp: Option<FileStamp>,
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
         );",
    )?;
    Ok(c)
}

/// Keeps (or replaces) the text of `path` in editor pane `pane`.
pub fn keep(db: &Path, pane: u64, k: &Kept) -> Result<()> {
    let c = open(db)?;
    let stamp = k.stamp.map(|s| serde_json::to_string(&s)).transpose()?;
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    c.execute(
        "INSERT INTO editor_kept (pane, path, text, crlf, stamp, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pane, path) DO UPDATE SET text = excluded.text, crlf = excluded.crlf,
             stamp = excluded.stamp, at = excluded.at",
        params![pane as i64, k.path, k.text, k.crlf, stamp, at],
    )?;
    Ok(())
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
    let mut st =
        c.prepare("SELECT path, text, crlf, stamp FROM editor_kept WHERE pane = ?1 ORDER BY path")?;
    let rows = st.query_map([pane as i64], |r| {
        let stamp: Option<String> = r.get(3)?;
        Ok(Kept {
            path: r.get(0)?,
            text: r.get(1)?,
            crlf: r.get(2)?,
            stamp: stamp.and_then(|s| serde_json::from_str(&s).ok()),
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
}
