/*!
What fieldkit keeps on disk in SQLite, apart from the engines that use it: `state` (sessions,
scrollback, SQL history, models, the audit log: state.db), `chats` (chat sessions and messages,
in state.db too), `index` (the retrieval index: index.db), `queue` (work items, their history
and comments: queue.db) and `mesh` (the device key, the team, the changes it holds: mesh.db). Stores import no server or UI
type: what they write is plain data (`fieldkit-messages` for saved sessions).
*/

pub mod chats;
pub mod index;
pub mod kept;
pub mod mesh;
pub mod queue;
pub mod runs;
pub mod state;

pub use state::Store;

/// A connection to the SQLite file at `path` (its folder made if need be) as every store but
/// state.db's own opens it: WAL, synced at commits, deleted rows overwritten, and a wait of
/// up to 5 s for a writer in another process (the CLI, a second server) to finish.
pub fn open_wal(path: &std::path::Path) -> anyhow::Result<rusqlite::Connection> {
    use anyhow::Context;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let db = rusqlite::Connection::open(path).with_context(|| format!("{}", path.display()))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "secure_delete", "ON")?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(db)
}
