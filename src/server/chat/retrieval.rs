/*!
Sending a chat question, with the passages the index has for it.

Retrieval by words is a SQLite query, done at once. Retrieval by meaning needs the question's
vector, which only the llm worker can make (llama.cpp stays out of the server): the question
waits here (`Retrieving`) while an `Embed` job runs, and goes on when the vector comes back —
fused with the words' ranking, stored with its sources, then answered. Nothing is stored before
the sources are known, so a question is never stored twice. A question whose vector cannot be
made (the embedding model missing or failing, the worker gone) is still stored, with the
passages found by words and a note saying why meaning was not used; Esc while it waits stores
it at once, without waiting on a worker that may be busy with another pane's answer.
*/

use super::*;

/// A question waiting for its vector.
#[derive(Debug)]
pub(super) struct Retrieving {
    name: String,
    pane: u64,
    session: i64,
    user: StoredMsg,
    /// The embedding model's name (the vectors in the index are matched by it).
    model: String,
}

impl Server {
    pub(super) fn send_chat(
        &mut self,
        name: &str,
        pane: u64,
        session: i64,
        user: StoredMsg,
        replace_last: bool,
        retrieval: bool,
    ) {
        if !retrieval || replace_last {
            self.send_chat_found(name, pane, session, user, replace_last, None, None);
            return;
        }
        match self.embedding_for_retrieval() {
            Ok(Some(model)) => {
                self.chat.next_job += 1;
                let job = self.chat.next_job;
                let texts = vec![user.content.clone()];
                self.chat.retrieving.insert(
                    job,
                    Retrieving {
                        name: name.to_string(),
                        pane,
                        session,
                        user,
                        model: model.name.clone(),
                    },
                );
                self.llm_send(&LlmIn::Embed {
                    job,
                    model,
                    settings: crate::engine::llm::settings_from(&self.config.llm),
                    texts,
                });
            }
            Ok(None) => {
                let found = self.retrieve(&user.content, None);
                self.send_chat_found(name, pane, session, user, false, Some(found), None);
            }
            Err(why) => {
                let mut found = self.retrieve(&user.content, None);
                found.note = Some(why);
                self.send_chat_found(name, pane, session, user, false, Some(found), None);
            }
        }
    }

    /// The embedding model to rank by meaning with, when the index holds vectors: `None` for
    /// words alone; `Err`: one was asked for and cannot be used (said beside the sources).
    fn embedding_for_retrieval(&self) -> Result<Option<ModelRef>, String> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let has = index::open(&self.dirs.data.join("index.db"))
            .and_then(|db| index::has_vectors(&db))
            .unwrap_or(false);
        if !has {
            return Ok(None);
        }
        let entry = store
            .embedding_model(self.config.llm.tasks.embeddings.as_deref())
            .map_err(|e| format!("found by words alone: [llm.tasks] embeddings: {e:#}"))?;
        let Some(entry) = entry else {
            return Err(
                "found by words alone: the index holds vectors, but no embedding model is \
                 registered (`fieldkit model add` one, or `fieldkit index --rebuild` for words \
                 alone)"
                    .into(),
            );
        };
        match entry.model_ref(&self.config.llm) {
            Ok(m) if m.remote.is_none() => Ok(Some(m)),
            Ok(m) => Err(format!(
                "found by words alone: {} is remote; embeddings are made by a local GGUF",
                m.name
            )),
            Err(e) => Err(format!("found by words alone: {e:#}")),
        }
    }

    /// The passages for `question`, by words, and by meaning with `query` (the embedding
    /// model's name and the question's vector).
    fn retrieve(&self, question: &str, query: Option<(&str, &[f32])>) -> index::Found {
        let k = self.config.llm.retrieval_chunks;
        index::open(&self.dirs.data.join("index.db"))
            .and_then(|db| index::search_fused(&db, question, k, query))
            .unwrap_or_else(|e| index::Found {
                note: Some(format!("the index could not be read: {e:#}")),
                ..Default::default()
            })
    }

    /// The question's vector came (or why not): rank, store, answer.
    pub(super) fn on_embedded(&mut self, job: u64, vectors: Result<Vec<Vec<f32>>, String>) {
        let Some(r) = self.chat.retrieving.remove(&job) else {
            return;
        };
        match &vectors {
            Ok(v) if v.len() == 1 => {
                let found = self.retrieve(&r.user.content, Some((&r.model, &v[0])));
                self.send_chat_found(&r.name, r.pane, r.session, r.user, false, Some(found), None);
            }
            Ok(v) => {
                let note = format!(
                    "found by words alone: {} gave {} vectors for one question",
                    r.model,
                    v.len()
                );
                self.by_words(r, Some(note), None);
            }
            Err(e) => {
                let note = format!("found by words alone: {}: {e}", r.model);
                self.by_words(r, Some(note), None);
            }
        }
    }

    /// A waiting question stored with what words found (`note`: why not by meaning), then
    /// answered, or `fail` said instead.
    fn by_words(&mut self, r: Retrieving, note: Option<String>, fail: Option<String>) {
        let mut found = self.retrieve(&r.user.content, None);
        found.note = note;
        self.send_chat_found(&r.name, r.pane, r.session, r.user, false, Some(found), fail);
    }

    /// Esc in a chat pane: a question waiting for its vector is stored at once with what
    /// words found, not answered. The worker may be busy with another pane's answer for
    /// minutes, so its word is not waited for (the vector, if it comes, is dropped).
    pub(super) fn retrieval_cancel(&mut self, pane: u64) {
        let jobs: Vec<u64> = self
            .chat
            .retrieving
            .iter()
            .filter(|(_, r)| r.pane == pane)
            .map(|(job, _)| *job)
            .collect();
        for job in jobs {
            self.llm_send(&LlmIn::Cancel { job });
            if let Some(r) = self.chat.retrieving.remove(&job) {
                let fail =
                    "stopped before the model answered; your message is kept: C-r asks again";
                self.by_words(r, None, Some(fail.into()));
            }
        }
    }

    /// The llm worker died: questions waiting for a vector are stored with what words found.
    pub(super) fn retrieval_lost(&mut self, why: &str) {
        let jobs: Vec<u64> = self.chat.retrieving.keys().copied().collect();
        for job in jobs {
            if let Some(r) = self.chat.retrieving.remove(&job) {
                let note = format!("found by words alone: the llm worker stopped ({why})");
                let fail = format!(
                    "The llm worker stopped ({why}); it has been restarted. Your message is \
                     kept: C-r asks again."
                );
                self.by_words(r, Some(note), Some(fail));
            }
        }
    }

    /// Stores the question (with `found`'s passages as its sources) and starts the answer, or
    /// says `fail` instead of answering.
    #[allow(clippy::too_many_arguments)]
    fn send_chat_found(
        &mut self,
        name: &str,
        pane: u64,
        session: i64,
        user: StoredMsg,
        replace_last: bool,
        found: Option<index::Found>,
        fail: Option<String>,
    ) {
        let Some(store) = &self.store else {
            return;
        };
        let mut user = user;
        // What the pane is told, once state.db has been written.
        let mut told = Vec::new();
        // The answer is made from what state.db holds, so a failed write stops it here.
        let refuse = |what: &str, e: anyhow::Error| ChatEvent::Failed {
            partial: None,
            error: format!("{what} (state.db: {e:#}); nothing was sent to the model"),
        };
        let mut stop = None;
        let mut dropped = None;
        if replace_last {
            match store.drop_last_answer(session) {
                Ok(share) => dropped = share,
                Err(e) => stop = Some(refuse("the last answer could not be set aside", e)),
            }
        } else {
            if let Some(f) = &found {
                let att = match index::found_sources(f) {
                    Some(att) => {
                        user.attachments.push(att.clone());
                        att
                    }
                    None => Attachment {
                        title: match &f.note {
                            Some(n) => format!("sources: none (the index has nothing for this; fieldkit index PATH) · {n}"),
                            None => "sources: none (the index has nothing for this; fieldkit index PATH)".into(),
                        },
                        body: String::new(),
                    },
                };
                told.push(ChatEvent::Sources(att));
            }
            match store.add_message(session, &user) {
                Ok(id) => told.push(ChatEvent::Stored {
                    id,
                    role: "user".into(),
                }),
                Err(e) => stop = Some(refuse("your message could not be stored", e)),
            }
        }
        let chat = store.chat(session).ok().flatten();
        for ev in told {
            self.chat_to(name, pane, ev);
        }
        // What the team shares of this chat: the question, or the answer set aside.
        self.mesh_chat_dropped(dropped);
        self.mesh_chat_changed(session);
        if let Some(ev) = stop {
            self.chat_to(name, pane, ev);
            return;
        }
        if let Some(error) = fail {
            self.chat_error(name, pane, error);
            return;
        }
        let Some(chat) = chat else {
            self.chat_error(
                name,
                pane,
                "this chat session is gone (deleted elsewhere?)".into(),
            );
            return;
        };
        let (turns, ids) = turns_of(&chat);
        self.start_for_pane(name, pane, Purpose::Chat { session, ids }, turns);
    }
}
