/*!
What the chat keeps in state.db: the model registry, chat sessions and their messages, and the
audit log of remote calls.

The registry records where a model file is (it is not copied: models are large) with what its
GGUF header says, read again by `model ls` so a moved or damaged file shows as such. A session
is a name, a system prompt and messages; a summary of folded turns is a message of role
`summary`, so where it happened stays visible. `fieldkit chat` and the server share these
tables (SQLite in WAL mode takes both). A session shared with the team has the team's id in
`share`, and so does each of its messages once handed over (the mesh service fills them in).
*/

use crate::engine::llm::ModelRef;
use crate::store::Store;
use anyhow::{bail, Context, Result};
pub use fieldkit_panes::llm::{turns_of, user_prompt};
use fieldkit_panes::llm::{Attachment, ChatSession, StoredMsg};
use rusqlite::{params, OptionalExtension};
use std::path::PathBuf;

/// A registered model: a local GGUF file or, opt-in, an OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    pub name: String,
    pub path: Option<PathBuf>,
    /// `http://host:port/v1` of an OpenAI-compatible server.
    pub url: Option<String>,
    /// The model name the remote server knows.
    pub remote_model: Option<String>,
}

impl ModelEntry {
    /// A local GGUF embedding model (its header says it pools, or it is an encoder). The
    /// answer is kept per file (size and modification time): reading a large vocabulary's
    /// header takes milliseconds, and this is asked for every question.
    pub fn is_embedding(&self) -> bool {
        type Seen = std::collections::HashMap<PathBuf, (Option<std::time::SystemTime>, u64, bool)>;
        static SEEN: std::sync::OnceLock<std::sync::Mutex<Seen>> = std::sync::OnceLock::new();
        let Some(p) = &self.path else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(p) else {
            return false;
        };
        let key = (meta.modified().ok(), meta.len());
        let seen = SEEN.get_or_init(Default::default);
        if let Some((m, l, e)) = seen.lock().ok().and_then(|s| s.get(p).copied()) {
            if (m, l) == key {
                return e;
            }
        }
        let e = crate::format::gguf::read(p).is_ok_and(|i| i.is_embedding());
        if let Ok(mut s) = seen.lock() {
            s.insert(p.clone(), (key.0, key.1, e));
        }
        e
    }

    /// The entry as the worker takes it; a remote one only when remote models are allowed.
    pub fn model_ref(&self, cfg: &crate::config::LlmConfig) -> Result<ModelRef> {
        match (&self.path, &self.url) {
            (Some(p), _) => Ok(ModelRef::local(&self.name, p)),
            (None, Some(u)) => {
                if !cfg.allow_remote {
                    bail!(
                        "{} is a remote model ({u}) and remote models are off; set allow_remote = \
                         true under [llm] in config.toml to use it",
                        self.name
                    );
                }
                Ok(ModelRef {
                    name: self.name.clone(),
                    path: PathBuf::new(),
                    remote: Some((u.clone(), self.remote_model.clone().unwrap_or_default())),
                })
            }
            (None, None) => bail!("{}: the entry has neither a file nor a URL", self.name),
        }
    }
}

impl ModelEntry {
    pub fn is_remote(&self) -> bool {
        self.url.is_some()
    }
}

/// A session in a list: id, name, messages, last change (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub name: String,
    pub messages: i64,
    pub updated_at: i64,
    /// First words of the first question.
    pub first: String,
}

impl Store {
    pub fn add_model(&self, m: &ModelEntry) -> Result<()> {
        let n = self.db.execute(
            "INSERT INTO models (name, path, url, remote_model, added_at)
             VALUES (?1, ?2, ?3, ?4, unixepoch()) ON CONFLICT(name) DO NOTHING",
            params![
                m.name,
                m.path.as_ref().map(|p| p.display().to_string()),
                m.url,
                m.remote_model
            ],
        )?;
        if n == 0 {
            bail!(
                "a model named {:?} is registered already (`fieldkit model rm {}` first, or \
                 choose another --name)",
                m.name,
                m.name
            );
        }
        Ok(())
    }

    pub fn remove_model(&self, name: &str) -> Result<bool> {
        Ok(self
            .db
            .execute("DELETE FROM models WHERE name = ?1", params![name])?
            > 0)
    }

    pub fn models(&self) -> Result<Vec<ModelEntry>> {
        let mut st = self
            .db
            .prepare("SELECT name, path, url, remote_model FROM models ORDER BY rowid")?;
        let rows = st.query_map([], |r| {
            Ok(ModelEntry {
                name: r.get(0)?,
                path: r.get::<_, Option<String>>(1)?.map(PathBuf::from),
                url: r.get(2)?,
                remote_model: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The model called `name`, or (for `None`) the configured default, else the first local
    /// one, else the first.
    pub fn model(&self, name: Option<&str>, default: Option<&str>) -> Result<ModelEntry> {
        let all = self.models()?;
        let want = name.or(default);
        match want {
            Some(n) => all.into_iter().find(|m| m.name == n).with_context(|| {
                format!("no model named {n:?} (`fieldkit model ls` lists them; `fieldkit model add PATH` adds one)")
            }),
            None => {
                // An embedding model answers nothing: the first local model that is not one,
                // else the first that is not one.
                let first_local = all
                    .iter()
                    .position(|m| !m.is_remote() && !m.is_embedding())
                    .or_else(|| all.iter().position(|m| !m.is_embedding()))
                    .unwrap_or(0);
                all.into_iter().nth(first_local).context(
                    "no model registered: add one with `fieldkit model add PATH.gguf`",
                )
            }
        }
    }

    /// The model that makes embeddings for retrieval: `task` (`[llm.tasks] embeddings`), else
    /// the first registered local GGUF that is an embedding model; `None`: retrieval by words
    /// alone.
    pub fn embedding_model(&self, task: Option<&str>) -> Result<Option<ModelEntry>> {
        if let Some(n) = task {
            return self.model(Some(n), None).map(Some);
        }
        Ok(self.models()?.into_iter().find(ModelEntry::is_embedding))
    }

    pub fn audit(&self, kind: &str, detail: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO audit (at, kind, detail) VALUES (unixepoch(), ?1, ?2)",
            params![kind, detail],
        )?;
        Ok(())
    }

    pub fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String)>> {
        let mut st = self
            .db
            .prepare("SELECT at, kind, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
        let rows = st.query_map(params![limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn new_chat(&self, name: &str, system: &str) -> Result<i64> {
        self.db.execute(
            "INSERT INTO chat_sessions (name, system, created_at, updated_at)
             VALUES (?1, ?2, unixepoch(), unixepoch())",
            params![name, system],
        )?;
        Ok(self.db.last_insert_rowid())
    }

    /// The session called `name`, made with `system` when there is none.
    pub fn chat_by_name(&self, name: &str, system: &str) -> Result<i64> {
        let id: Option<i64> = self
            .db
            .query_row(
                "SELECT id FROM chat_sessions WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => Ok(id),
            None => self.new_chat(name, system),
        }
    }

    pub fn newest_chat(&self) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT id FROM chat_sessions ORDER BY updated_at DESC, id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn chat(&self, id: i64) -> Result<Option<ChatSession>> {
        let head: Option<(String, String)> = self
            .db
            .query_row(
                "SELECT name, system FROM chat_sessions WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((name, system)) = head else {
            return Ok(None);
        };
        let mut st = self.db.prepare(
            "SELECT id, role, content, attachments, meta FROM chat_messages
             WHERE session = ?1 ORDER BY id",
        )?;
        let messages = st
            .query_map(params![id], |r| {
                let att: String = r.get(3)?;
                Ok(StoredMsg {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    content: r.get(2)?,
                    // A row written by a newer version that does not decode loses only its
                    // attachments, never the message.
                    attachments: serde_json::from_str::<Vec<Attachment>>(&att).unwrap_or_default(),
                    meta: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(ChatSession {
            id,
            name,
            system,
            messages,
        }))
    }

    pub fn add_message(&self, session: i64, m: &StoredMsg) -> Result<i64> {
        self.db.execute(
            "INSERT INTO chat_messages (session, role, content, attachments, meta, at)
             VALUES (?1, ?2, ?3, ?4, ?5, unixepoch())",
            params![
                session,
                m.role,
                m.content,
                serde_json::to_string(&m.attachments)?,
                m.meta
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.db.execute(
            "UPDATE chat_sessions SET updated_at = unixepoch() WHERE id = ?1",
            params![session],
        )?;
        Ok(id)
    }

    /// Drops the last answer of a session (regenerate); the team's id of the dropped answer,
    /// if it had been shared.
    pub fn drop_last_answer(&self, session: i64) -> Result<Option<String>> {
        let share: Option<Option<String>> = self
            .db
            .query_row(
                "SELECT share FROM chat_messages WHERE id = (SELECT max(id) FROM chat_messages
                 WHERE session = ?1) AND role = 'assistant'",
                params![session],
                |r| r.get(0),
            )
            .optional()?;
        self.db.execute(
            "DELETE FROM chat_messages WHERE id = (SELECT max(id) FROM chat_messages
             WHERE session = ?1) AND role = 'assistant'",
            params![session],
        )?;
        Ok(share.flatten())
    }

    /// The session called `name` (the newest of that name), if there is one.
    pub fn find_chat(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT id FROM chat_sessions WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The team's id of session `id`, if it is shared.
    pub fn chat_share(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT share FROM chat_sessions WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Marks session `id` shared as the team's `share`.
    pub fn set_chat_share(&self, id: i64, share: &str) -> Result<()> {
        self.db.execute(
            "UPDATE chat_sessions SET share = ?2 WHERE id = ?1",
            params![id, share],
        )?;
        Ok(())
    }

    /// The session shared as `share`, if this device has it.
    pub fn chat_by_share(&self, share: &str) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT id FROM chat_sessions WHERE share = ?1",
                params![share],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The shared sessions: (id, the team's id, name, messages).
    pub fn shared_chats(&self) -> Result<Vec<(i64, String, String, i64)>> {
        let mut st = self.db.prepare(
            "SELECT s.id, s.share, s.name, (SELECT count(*) FROM chat_messages m
                                             WHERE m.session = s.id)
             FROM chat_sessions s WHERE s.share IS NOT NULL ORDER BY s.id",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Session `session`'s messages with the team's id of each (`None`: not handed over yet),
    /// and when each was written (seconds).
    pub fn message_shares(&self, session: i64) -> Result<Vec<(StoredMsg, Option<String>, i64)>> {
        let mut st = self.db.prepare(
            "SELECT id, role, content, attachments, meta, share, at FROM chat_messages
             WHERE session = ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![session], |r| {
            let att: String = r.get(3)?;
            Ok((
                StoredMsg {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    content: r.get(2)?,
                    attachments: serde_json::from_str::<Vec<Attachment>>(&att).unwrap_or_default(),
                    meta: r.get(4)?,
                },
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// No session or message is shared any more (this device left its team).
    pub fn unshare_chats(&self) -> Result<()> {
        self.db.execute(
            "UPDATE chat_sessions SET share = NULL WHERE share IS NOT NULL",
            [],
        )?;
        self.db.execute(
            "UPDATE chat_messages SET share = NULL WHERE share IS NOT NULL",
            [],
        )?;
        Ok(())
    }

    /// Marks message `id` handed to the team as `share`.
    pub fn set_message_share(&self, id: i64, share: &str) -> Result<()> {
        self.db.execute(
            "UPDATE chat_messages SET share = ?2 WHERE id = ?1",
            params![id, share],
        )?;
        Ok(())
    }

    /// Brings shared session `share` up to what the team's records say, in one transaction:
    /// made when new, named, messages added (in the order given) and removed. Its id here.
    pub fn apply_shared_chat(
        &self,
        share: &str,
        name: &str,
        system: &str,
        add: &[(String, StoredMsg, i64)],
        remove: &[String],
    ) -> Result<i64> {
        let tx = self.db.unchecked_transaction()?;
        let id = match self.chat_by_share(share)? {
            Some(id) => {
                tx.execute(
                    "UPDATE chat_sessions SET name = ?2, system = ?3 WHERE id = ?1
                     AND (name != ?2 OR system != ?3)",
                    params![id, name, system],
                )?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO chat_sessions (name, system, created_at, updated_at, share)
                     VALUES (?1, ?2, unixepoch(), unixepoch(), ?3)",
                    params![name, system, share],
                )?;
                tx.last_insert_rowid()
            }
        };
        for (rec, m, at) in add {
            tx.execute(
                "INSERT INTO chat_messages (session, role, content, attachments, meta, at, share)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    m.role,
                    m.content,
                    serde_json::to_string(&m.attachments)?,
                    m.meta,
                    at,
                    rec
                ],
            )?;
        }
        for rec in remove {
            tx.execute(
                "DELETE FROM chat_messages WHERE session = ?1 AND share = ?2",
                params![id, rec],
            )?;
        }
        if !add.is_empty() || !remove.is_empty() {
            tx.execute(
                "UPDATE chat_sessions SET updated_at = unixepoch() WHERE id = ?1",
                params![id],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    pub fn rename_chat(&self, id: i64, name: &str) -> Result<()> {
        self.db.execute(
            "UPDATE chat_sessions SET name = ?2, updated_at = unixepoch() WHERE id = ?1",
            params![id, name],
        )?;
        Ok(())
    }

    pub fn set_system(&self, id: i64, system: &str) -> Result<()> {
        self.db.execute(
            "UPDATE chat_sessions SET system = ?2, updated_at = unixepoch() WHERE id = ?1",
            params![id, system],
        )?;
        Ok(())
    }

    pub fn delete_chat(&self, id: i64) -> Result<()> {
        self.db
            .execute("DELETE FROM chat_messages WHERE session = ?1", params![id])?;
        self.db
            .execute("DELETE FROM chat_sessions WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Sessions, newest first; with `text`, only those whose name or messages contain it.
    pub fn chats(&self, text: Option<&str>) -> Result<Vec<SessionRow>> {
        let pattern = text.map(|t| format!("%{}%", t.replace('%', "\\%").replace('_', "\\_")));
        let mut st = self.db.prepare(
            "SELECT s.id, s.name, count(m.id), s.updated_at,
                    coalesce((SELECT content FROM chat_messages WHERE session = s.id
                              AND role = 'user' ORDER BY id LIMIT 1), '')
             FROM chat_sessions s LEFT JOIN chat_messages m ON m.session = s.id
             WHERE ?1 IS NULL OR s.name LIKE ?1 ESCAPE '\\' OR EXISTS (
                 SELECT 1 FROM chat_messages x WHERE x.session = s.id
                 AND x.content LIKE ?1 ESCAPE '\\')
             GROUP BY s.id ORDER BY s.updated_at DESC, s.id DESC",
        )?;
        let rows = st.query_map(params![pattern], |r| {
            let first: String = r.get(4)?;
            Ok(SessionRow {
                id: r.get(0)?,
                name: r.get(1)?,
                messages: r.get(2)?,
                updated_at: r.get(3)?,
                first: first
                    .chars()
                    .take(60)
                    .collect::<String>()
                    .replace('\n', " "),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The id of the newest message among the turns a summary folded: `upto` turns after a
/// leading system turn, `ids` as `turns_of` gives them (a system turn, the only kind that
/// may lead, has no message id).
pub fn folded_id(ids: &[Option<i64>], upto: usize) -> Option<i64> {
    let first = usize::from(ids.first() == Some(&None));
    ids.get(first..(first + upto).min(ids.len()))?
        .iter()
        .flatten()
        .max()
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_messages_summaries_and_search() {
        let dir = tempfile::tempdir().unwrap();
        let (st, _) = Store::open(&dir.path().join("state.db")).unwrap();
        let a = st.new_chat("trip data", "Be brief.").unwrap();
        let b = st.chat_by_name("shell", "sys").unwrap();
        assert_eq!(st.chat_by_name("shell", "other").unwrap(), b);
        let msg = |role: &str, content: &str| StoredMsg {
            id: 0,
            role: role.into(),
            content: content.into(),
            attachments: vec![],
            meta: String::new(),
        };
        let q1 = st
            .add_message(a, &msg("user", "how many trips in Oslo?"))
            .unwrap();
        st.add_message(a, &msg("assistant", "42")).unwrap();
        // The summary folds only the first question: the answer after it is kept.
        let mut sum = msg("summary", "They counted trips.");
        sum.meta = format!("folds:{q1}");
        st.add_message(a, &sum).unwrap();
        let mut q = msg("user", "and Lima?");
        q.attachments.push(Attachment {
            title: "grid trips".into(),
            body: "city,n".into(),
        });
        st.add_message(a, &q).unwrap();
        let s = st.chat(a).unwrap().unwrap();
        assert_eq!(s.messages.len(), 4);
        let (turns, ids) = turns_of(&s);
        assert_eq!(turns.len(), 4, "{turns:?}");
        assert_eq!(turns[0].content, "Be brief.");
        assert!(turns[1].content.contains("They counted trips."));
        assert_eq!(turns[2].content, "42");
        assert!(turns[3]
            .content
            .starts_with("grid trips:\n```\ncity,n\n```"));
        assert!(turns[3].content.ends_with("and Lima?"));
        assert_eq!(ids[..2], [None, None]);
        // Folding the two turns after the system prompt (the summary and "42") ends at 42's id.
        assert_eq!(folded_id(&ids, 2), ids[2]);

        let found = st.chats(Some("oslo")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, a);
        assert_eq!(st.chats(Some("100%")).unwrap().len(), 0);
        assert_eq!(st.chats(None).unwrap().len(), 2);

        st.add_message(a, &msg("assistant", "7")).unwrap();
        st.drop_last_answer(a).unwrap();
        assert_eq!(st.chat(a).unwrap().unwrap().messages.len(), 4);
        st.rename_chat(a, "trips").unwrap();
        st.delete_chat(b).unwrap();
        let all = st.chats(None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "trips");
    }

    #[test]
    fn registry_refuses_duplicates_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (st, _) = Store::open(&dir.path().join("state.db")).unwrap();
        let e = st.model(None, None).unwrap_err().to_string();
        assert!(e.contains("fieldkit model add"), "{e}");
        let m = ModelEntry {
            name: "tiny".into(),
            path: Some("/m/tiny.gguf".into()),
            url: None,
            remote_model: None,
        };
        st.add_model(&m).unwrap();
        assert!(st
            .add_model(&m)
            .unwrap_err()
            .to_string()
            .contains("already"));
        assert_eq!(st.model(None, None).unwrap(), m);
        assert!(st.model(Some("big"), None).is_err());
        assert!(st.remove_model("tiny").unwrap());
        assert!(!st.remove_model("tiny").unwrap());
    }
}
