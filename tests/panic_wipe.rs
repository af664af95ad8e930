//! What `fieldkit panic` leaves on disk: with `panic = "wipe"` no chat, SQL history or retrieval
//! index (and no byte of them in state.db's file or its write-ahead log: secure_delete and a
//! truncating checkpoint); with the default ("clear") the histories stay and only the saved
//! scrollback goes. The rows are written straight into the real state.db the server uses.
mod common;

use common::Fk;

const CHAT: &str = "CHAT-MARKER-route-north-7f3";
const SQL: &str = "SQL-MARKER-wells-91c";
const INDEX: &str = "INDEX-MARKER-notes-22a";

/// A server with a chat, a SQL history entry and a retrieval index holding the markers.
fn with_history(panic: &str) -> Fk {
    let fk = Fk::new();
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!("{}panic = \"{panic}\"\n", fk.shell_setting()),
    )
    .expect("config");
    fk.ok(&["new", "-d", "-s", "w"]);
    let data = fk.path().join("data");
    let db = rusqlite::Connection::open(data.join("state.db")).expect("state.db");
    db.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    db.execute(
        "INSERT INTO chat_sessions (id, name, system, created_at, updated_at) \
         VALUES (1, 'field', '', 0, 0)",
        [],
    )
    .expect("chat");
    db.execute(
        "INSERT INTO chat_messages (session, role, content, at) VALUES (1, 'user', ?1, 0)",
        [CHAT],
    )
    .expect("message");
    db.execute(
        "INSERT INTO sql_history (sql, dialect, ran_at) VALUES (?1, NULL, 0)",
        [format!("SELECT '{SQL}'")],
    )
    .expect("history");
    drop(db);
    let index = rusqlite::Connection::open(data.join("index.db")).expect("index.db");
    index
        .execute_batch(&format!(
            "CREATE TABLE chunks (text TEXT); INSERT INTO chunks VALUES ('{INDEX}');"
        ))
        .expect("index");
    drop(index);
    fk
}

fn count(fk: &Fk, table: &str) -> i64 {
    let db = rusqlite::Connection::open(fk.path().join("data/state.db")).expect("state.db");
    db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Every file under the data folder that holds `needle`.
fn files_holding(fk: &Fk, needle: &str) -> Vec<String> {
    std::fs::read_dir(fk.path().join("data"))
        .expect("data")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn panic_wipe_deletes_the_histories_and_the_index_down_to_the_bytes() {
    let fk = with_history("wipe");
    assert!(
        !files_holding(&fk, CHAT).is_empty(),
        "the chat is on disk first"
    );
    let out = fk.ok(&["panic"]);
    assert!(out.contains("screens blanked in"), "{out}");
    assert_eq!(count(&fk, "chat_messages"), 0);
    assert_eq!(count(&fk, "chat_sessions"), 0);
    assert_eq!(count(&fk, "sql_history"), 0);
    assert!(
        !fk.path().join("data/index.db").exists(),
        "the index is deleted"
    );
    for marker in [CHAT, SQL, INDEX] {
        let left = files_holding(&fk, marker);
        assert!(left.is_empty(), "{marker} is still in {left:?}");
    }
}

#[test]
fn panic_clear_keeps_the_histories() {
    let fk = with_history("clear");
    fk.ok(&["panic"]);
    assert_eq!(count(&fk, "chat_messages"), 1);
    assert_eq!(count(&fk, "sql_history"), 1);
    assert!(fk.path().join("data/index.db").exists());
}
