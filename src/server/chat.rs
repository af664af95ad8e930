/*!
The server's side of the chat: chat sessions in state.db, generation jobs on the `llm` worker,
context from panes, "ask the data" and the shell assistant.

A job is one answer the worker writes. It belongs to a pane (a chat, a SQL editor, a terminal)
and accumulates the text as it streams, so that when it ends (done, stopped, failed, or the
worker died) the text is stored and nothing the user saw is lost. Whatever the model proposes
to run (SQL that changes data, a shell command) waits for a yes in a `Confirm` popup; read-only
SQL from "ask the data" runs at once, because that is what was asked for.
*/

use super::popup::{self, Confirmed, PickThen, Popup};
use super::Server;
use crate::engine::chats::{folded_id, turns_of};
use crate::engine::index;
use crate::engine::llm::{LlmIn, LlmOut, ModelRef, Settings};
use crate::engine::WorkerKind;
use crate::wire;
use anyhow::Context;
use fieldkit_panes::llm::{
    Attachment, ChatEvent, ChatRequest, GenStats, LlmEvent, Role, StoredMsg, Turn,
};
use fieldkit_panes::{EngineEvent, EngineState, PaneKind};
use std::collections::HashMap;

/// What a job's answer is for.
#[derive(Debug, Clone)]
enum Purpose {
    Chat {
        session: i64,
        /// The message id of each turn sent (`None`: system prompt, summary).
        ids: Vec<Option<i64>>,
    },
    AskData,
    Shell,
}

#[derive(Debug)]
struct Job {
    /// Workspace session and pane the answer goes to.
    name: String,
    pane: u64,
    purpose: Purpose,
    model: String,
    text: String,
    /// Tokens streamed, and when the first came (for the status pane's live speed).
    tokens: u32,
    first: Option<std::time::Instant>,
}

/// The chat's part of the server's state.
#[derive(Default)]
pub struct ChatState {
    jobs: HashMap<u64, Job>,
    next_job: u64,
    /// A model chosen for one chat pane (`model NAME`).
    pane_model: HashMap<u64, String>,
    /// The last answer's speed, for the status pane.
    last_speed: Option<String>,
    loaded_model: Option<String>,
}

/// SQL or a command out of an answer: the first fenced block, else the whole answer trimmed.
pub fn extract_code(answer: &str) -> String {
    let mut in_block = false;
    let mut block = Vec::new();
    for line in answer.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            if in_block {
                return block.join("\n").trim().to_string();
            }
            in_block = true;
            continue;
        }
        if in_block {
            block.push(line);
        }
    }
    if in_block {
        return block.join("\n").trim().to_string();
    }
    answer.trim().to_string()
}

/// A shell command from an answer: its code, one line, without a `$ ` prompt, and without a
/// single control character (a carriage return would run it; an escape could drive the shell).
pub fn extract_command(answer: &str) -> String {
    let code: String = extract_code(answer)
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let lines: Vec<&str> = code
        .lines()
        .map(|l| l.trim())
        .map(|l| l.strip_prefix("$ ").unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    lines.join(" && ")
}

impl Server {
    fn llm_send(&mut self, msg: &LlmIn) {
        self.spawn_worker(WorkerKind::Llm);
        let Some(w) = self.workers.get(&WorkerKind::Llm) else {
            return;
        };
        match wire::encode(msg) {
            Ok(f) => {
                let _ = w.tx.send(f);
            }
            Err(e) => tracing::warn!("llm request not sent: {e}"),
        }
    }

    fn chat_to(&mut self, name: &str, pane: u64, ev: ChatEvent) {
        self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Chat(ev), cx));
        self.mark(name);
    }

    /// Loads chat session `want` (else the newest, else a new one) into chat pane `pane`.
    pub(super) fn open_chat(&mut self, name: &str, pane: u64, want: Option<i64>) {
        let system = self.config.llm.system_prompt.clone();
        let Some(store) = &self.store else {
            self.chat_to(
                name,
                pane,
                ChatEvent::Failed {
                    partial: None,
                    error: "state.db is not available, so chats cannot be kept".into(),
                },
            );
            return;
        };
        let found = want
            .and_then(|id| store.chat(id).ok().flatten())
            .or_else(|| {
                store
                    .newest_chat()
                    .ok()
                    .flatten()
                    .and_then(|id| store.chat(id).ok().flatten())
            });
        let session = match found {
            Some(s) => Ok(s),
            None => store
                .new_chat("chat", &system)
                .and_then(|id| store.chat(id)?.context("the new chat was not stored")),
        };
        match session {
            Ok(s) => {
                let model = self.model_name_for(pane);
                self.chat_to(name, pane, ChatEvent::Session(s));
                self.chat_to(name, pane, ChatEvent::Model(model));
            }
            Err(e) => self.chat_to(
                name,
                pane,
                ChatEvent::Failed {
                    partial: None,
                    error: format!("the chat could not be loaded: {e:#}"),
                },
            ),
        }
        self.save_all();
    }

    fn model_name_for(&self, pane: u64) -> String {
        if let Some(m) = self.chat.pane_model.get(&pane) {
            return m.clone();
        }
        self.store
            .as_ref()
            .and_then(|s| s.model(None, self.config.llm.model.as_deref()).ok())
            .map(|m| m.name)
            .unwrap_or_else(|| "no model: fieldkit model add PATH.gguf".into())
    }

    fn model_for(&self, pane: u64) -> Result<ModelRef, String> {
        let store = self.store.as_ref().ok_or("state.db is not available")?;
        let want = self.chat.pane_model.get(&pane).map(String::as_str);
        let entry = store
            .model(want, self.config.llm.model.as_deref())
            .map_err(|e| format!("{e:#}"))?;
        entry
            .model_ref(&self.config.llm)
            .map_err(|e| format!("{e:#}"))
    }

    /// Starts a job answering `turns` for `pane`.
    fn start_job(
        &mut self,
        name: &str,
        pane: u64,
        purpose: Purpose,
        turns: Vec<Turn>,
    ) -> Result<(), String> {
        let model = self.model_for(pane)?;
        // Nothing leaves the machine unless the audit log says so first.
        if let Some((url, rm)) = &model.remote {
            let bytes: usize = turns.iter().map(|t| t.content.len()).sum();
            let st = self.store.as_ref().ok_or(
                "state.db is not open, so the remote call could not be written to the audit log; it was not made",
            )?;
            st.audit(
                "remote-chat",
                &format!(
                    "workspace: {} turns ({bytes} bytes) to {url} model {rm}",
                    turns.len()
                ),
            )
            .map_err(|e| {
                format!("the audit log (state.db) could not be written, so the remote call was not made: {e:#}")
            })?;
        }
        self.chat.next_job += 1;
        let job = self.chat.next_job;
        self.chat.jobs.insert(
            job,
            Job {
                name: name.to_string(),
                pane,
                purpose,
                model: model.name.clone(),
                text: String::new(),
                tokens: 0,
                first: None,
            },
        );
        let msg = LlmIn::Chat {
            job,
            model,
            settings: Settings::from_config(&self.config.llm),
            turns,
            params: self.config.llm.params(),
        };
        self.llm_send(&msg);
        Ok(())
    }

    pub(super) fn chat_request(&mut self, name: &str, pane: u64, req: ChatRequest) {
        match req {
            ChatRequest::Open(id) => self.open_chat(name, pane, id),
            ChatRequest::New => {
                let system = self.config.llm.system_prompt.clone();
                let n = self
                    .store
                    .as_ref()
                    .and_then(|s| s.chats(None).ok())
                    .map(|v| v.len() + 1)
                    .unwrap_or(1);
                let made = self
                    .store
                    .as_ref()
                    .map(|s| s.new_chat(&format!("chat {n}"), &system));
                if let Some(Ok(id)) = made {
                    self.open_chat(name, pane, Some(id));
                }
            }
            ChatRequest::List | ChatRequest::Search(_) => {
                let text = match &req {
                    ChatRequest::Search(t) => Some(t.clone()),
                    _ => None,
                };
                let rows = self
                    .store
                    .as_ref()
                    .and_then(|s| s.chats(text.as_deref()).ok())
                    .unwrap_or_default();
                if rows.is_empty() {
                    self.show(
                        name,
                        "Chats",
                        &match text {
                            Some(t) => format!("No chat mentions {t:?}."),
                            None => "No chats yet.".into(),
                        },
                    );
                    return;
                }
                let items = rows
                    .iter()
                    .map(|r| fieldkit_widgets::PickerItem {
                        text: format!("#{} {}", r.id, r.name),
                        detail: format!("{} messages · {}", r.messages, r.first),
                        key: String::new(),
                    })
                    .collect();
                if let Some(s) = self.sessions.get_mut(name) {
                    s.popup = Some(Popup::Pick {
                        title: match text {
                            Some(t) => format!("chats mentioning {t:?}"),
                            None => "chats".into(),
                        },
                        picker: fieldkit_widgets::Picker::new(items),
                        then: PickThen::Action("chat-open".into()),
                    });
                    s.dirty = true;
                }
            }
            ChatRequest::Rename { session, name: n } => {
                if let Some(st) = &self.store {
                    if let Err(e) = st.rename_chat(session, n.trim()) {
                        self.show(name, "Not renamed", &format!("state.db: {e:#}"));
                    }
                }
            }
            ChatRequest::SetSystem { session, text: t } => {
                if let Some(st) = &self.store {
                    if let Err(e) = st.set_system(session, t.trim()) {
                        self.show(name, "System prompt not set", &format!("state.db: {e:#}"));
                    }
                }
            }
            ChatRequest::Delete { session: id } => {
                let title = self
                    .store
                    .as_ref()
                    .and_then(|s| s.chat(id).ok().flatten())
                    .map(|c| format!("{} ({} messages)", c.name, c.messages.len()))
                    .unwrap_or_default();
                if let Some(s) = self.sessions.get_mut(name) {
                    s.popup = Some(Popup::Confirm {
                        title: "delete chat".into(),
                        text: format!("Delete the chat {title}? This cannot be undone."),
                        yes: Confirmed::DeleteChat { pane, id },
                    });
                    s.dirty = true;
                }
            }
            ChatRequest::Model(m) => match m {
                None => {
                    self.chat.pane_model.remove(&pane);
                    let n = self.model_name_for(pane);
                    self.chat_to(name, pane, ChatEvent::Model(n));
                }
                Some(m) => {
                    let known = self
                        .store
                        .as_ref()
                        .and_then(|s| s.model(Some(&m), None).ok());
                    match known {
                        Some(e) => {
                            self.chat.pane_model.insert(pane, e.name.clone());
                            self.chat_to(name, pane, ChatEvent::Model(e.name));
                        }
                        None => self.show(
                            name,
                            "Not done",
                            &format!("No model named {m:?}: `fieldkit model ls` lists them."),
                        ),
                    }
                }
            },
            ChatRequest::Cancel => {
                let jobs: Vec<u64> = self
                    .chat
                    .jobs
                    .iter()
                    .filter(|(_, j)| j.pane == pane)
                    .map(|(id, _)| *id)
                    .collect();
                for job in jobs {
                    self.llm_send(&LlmIn::Cancel { job });
                }
            }
            ChatRequest::Send {
                session,
                user,
                replace_last,
                retrieval,
            } => self.send_chat(name, pane, session, user, replace_last, retrieval),
        }
    }

    fn send_chat(
        &mut self,
        name: &str,
        pane: u64,
        session: i64,
        user: StoredMsg,
        replace_last: bool,
        retrieval: bool,
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
        if replace_last {
            if let Err(e) = store.drop_last_answer(session) {
                stop = Some(refuse("the last answer could not be set aside", e));
            }
        } else {
            if retrieval {
                let hits = index::open(&self.dirs.data.join("index.db"))
                    .and_then(|db| {
                        index::search(&db, &user.content, self.config.llm.retrieval_chunks)
                    })
                    .unwrap_or_default();
                let att = match index::sources(&hits) {
                    Some(att) => {
                        user.attachments.push(att.clone());
                        att
                    }
                    None => Attachment {
                        title:
                            "sources: none (the index has nothing for this; fieldkit index PATH)"
                                .into(),
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
        if let Some(ev) = stop {
            self.chat_to(name, pane, ev);
            return;
        }
        let Some(chat) = chat else {
            self.chat_to(
                name,
                pane,
                ChatEvent::Failed {
                    partial: None,
                    error: "this chat session is gone (deleted elsewhere?)".into(),
                },
            );
            return;
        };
        let (turns, ids) = turns_of(&chat);
        let purpose = Purpose::Chat { session, ids };
        if let Err(e) = self.start_job(name, pane, purpose, turns) {
            self.chat_to(
                name,
                pane,
                ChatEvent::Failed {
                    partial: None,
                    error: e,
                },
            );
        }
    }

    /// `ask-data` from the SQL editor `editor`.
    pub(super) fn ask_data(&mut self, name: &str, editor: u64, question: String, schema: String) {
        let turns = vec![
            Turn::new(
                Role::System,
                "You translate questions into DuckDB SQL. Use only the tables and columns \
                 given. Reply with one SQL query in a ```sql code block and nothing else.",
            ),
            Turn::new(
                Role::User,
                format!("Tables:\n{schema}\nQuestion: {question}"),
            ),
        ];
        if let Err(e) = self.start_job(name, editor, Purpose::AskData, turns) {
            self.chat_to(
                name,
                editor,
                ChatEvent::Failed {
                    partial: None,
                    error: e,
                },
            );
        }
    }

    /// `ask-shell`: a command for the focused terminal, typed in only after a yes.
    pub(super) fn ask_shell(&mut self, name: &str, request: String) -> Result<(), String> {
        let Some(pane) = self.sessions.get(name).map(|s| s.focused()) else {
            return Err("no session".into());
        };
        let Some(t) = self.terms.get(&pane) else {
            return Err("ask-shell works from a terminal pane: focus one first.".into());
        };
        let cwd = t.cwd().unwrap_or_else(|| "?".into());
        let recent = last_lines(&t.screen.text(false), 20);
        let shell = self.config.shell();
        let turns = vec![
            Turn::new(
                Role::System,
                format!(
                    "You write one shell command for {shell} on {}. Reply with only the \
                     command in a ```sh code block. No explanation.",
                    std::env::consts::OS
                ),
            ),
            Turn::new(
                Role::User,
                format!(
                    "Current directory: {cwd}\nRecent terminal output:\n{recent}\n\nTask: \
                     {request}"
                ),
            ),
        ];
        self.start_job(name, pane, Purpose::Shell, turns)?;
        let model = self.model_name_for(pane);
        self.show(
            name,
            "shell assistant",
            &format!("Asking {model} for a command: {request}"),
        );
        Ok(())
    }

    /// `attach-context`: what the focused pane shows goes to a chat in the same tab (one is
    /// opened beside it when there is none).
    pub(super) fn attach_context(&mut self, name: &str) -> Result<(), String> {
        let s = self.sessions.get(name).ok_or("no session")?;
        let focus = s.focused();
        let kind = s.focused_kind();
        if kind == PaneKind::Chat {
            return Err(
                "Focus the pane whose context you want (a terminal, grid or SQL \
                        editor), then attach."
                    .into(),
            );
        }
        let att = if let Some(t) = self.terms.get(&focus) {
            match t.screen.selection_text().filter(|x| !x.trim().is_empty()) {
                Some(sel) => Attachment {
                    title: "terminal: selection".into(),
                    body: sel,
                },
                None => {
                    let text = last_lines(&t.screen.text(true), 60);
                    Attachment {
                        title: format!(
                            "terminal: last {} lines{}",
                            text.lines().count(),
                            t.cwd().map(|c| format!(" in {c}")).unwrap_or_default()
                        ),
                        body: text,
                    }
                }
            }
        } else {
            s.panes
                .get(&focus)
                .and_then(|p| p.context())
                .ok_or("This pane has nothing to attach yet.")?
        };
        let s = self.sessions.get_mut(name).ok_or("no session")?;
        let tab_panes = s.tab().layout.leaves();
        let chat = tab_panes
            .iter()
            .copied()
            .find(|id| s.panes.get(id).is_some_and(|p| p.kind() == PaneKind::Chat));
        let chat = match chat {
            Some(c) => c,
            None => {
                let pane = Box::new(fieldkit_panes::ChatPane::new(None));
                let c = s
                    .insert_beside(focus, pane, crate::layout::Axis::Horizontal, &mut self.ids)
                    .ok_or("no room for a chat pane here")?;
                s.dirty = true;
                self.greet_new_panes();
                c
            }
        };
        // Focus the chat: the next thing typed is the question about what was attached.
        if let Some(s) = self.sessions.get_mut(name) {
            let active = s.active;
            s.tabs[active].focus = chat;
            s.dirty = true;
        }
        self.chat_to(name, chat, ChatEvent::Attach(att));
        self.save_all();
        Ok(())
    }

    /// `index [PATH]`: a terminal split runs `fieldkit index`, so its progress shows there.
    pub(super) fn index_action(&mut self, name: &str, path: Option<String>) -> Result<(), String> {
        let s = self.sessions.get(name).ok_or("no session")?;
        let focus = s.focused();
        let cwd = self.terms.get(&focus).and_then(|t| t.cwd());
        let path = match path {
            Some(p) => p,
            None => cwd
                .clone()
                .ok_or("index needs a PATH (or a focused terminal's folder)")?,
        };
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "fieldkit".into());
        let quote = |x: &str| format!("'{}'", x.replace('\'', "'\\''"));
        let cmd = format!("{} index {}", quote(&exe), quote(&path));
        let pane = Box::new(fieldkit_panes::TermPane::new(&cmd, cwd));
        let s = self.sessions.get_mut(name).ok_or("no session")?;
        s.insert_beside(focus, pane, crate::layout::Axis::Vertical, &mut self.ids)
            .ok_or("no room for another pane here")?;
        s.dirty = true;
        self.save_all();
        Ok(())
    }

    pub(super) fn confirmed(&mut self, name: &str, c: Confirmed) {
        match c {
            Confirmed::TypeInto { pane, text } => {
                if let Some(t) = self.terms.get(&pane) {
                    if !t.exited {
                        let bracketed = t.screen.modes().bracketed_paste;
                        t.write(fieldkit_panes::keys::encode_paste(&text, bracketed));
                    }
                }
            }
            Confirmed::RunSql { editor, sql } => self.run_sql(name, editor, sql, None),
            Confirmed::DeleteChat { pane, id } => {
                if let Some(st) = &self.store {
                    if let Err(e) = st.delete_chat(id) {
                        self.show(name, "Not deleted", &format!("state.db: {e:#}"));
                        return;
                    }
                }
                self.open_chat(name, pane, None);
            }
        }
        self.mark(name);
    }

    /// A frame from the llm worker.
    pub(super) fn on_llm(&mut self, out: LlmOut) {
        match out {
            LlmOut::Hello { pid, detail } => {
                let after_s = self.config.llm.unload_after_minutes * 60;
                if let Some(w) = self.workers.get_mut(&WorkerKind::Llm) {
                    w.state = EngineState::Ready;
                    w.pid = Some(pid);
                    w.detail = detail;
                }
                self.llm_send(&LlmIn::IdleUnload { after_s });
            }
            LlmOut::State { loaded } => {
                self.chat.loaded_model = loaded;
                self.llm_detail();
            }
            LlmOut::Event { job, ev } => self.on_llm_event(job, ev),
        }
    }

    fn llm_detail(&mut self) {
        let detail = match (&self.chat.loaded_model, &self.chat.last_speed) {
            (Some(m), Some(s)) => format!("{m} · last answer {s}"),
            (Some(m), None) => m.clone(),
            (None, _) => format!(
                "no model loaded (loads on first use; unloads after {} idle minutes)",
                self.config.llm.unload_after_minutes
            ),
        };
        if let Some(w) = self.workers.get_mut(&WorkerKind::Llm) {
            w.detail = detail;
        }
        if self.status_visible() {
            self.push_status();
        }
    }

    fn on_llm_event(&mut self, job: u64, ev: LlmEvent) {
        let Some(j) = self.chat.jobs.get_mut(&job) else {
            return;
        };
        let (name, pane) = (j.name.clone(), j.pane);
        match ev {
            LlmEvent::Token(t) => {
                j.text.push_str(&t);
                j.tokens += 1;
                let first = *j.first.get_or_insert_with(std::time::Instant::now);
                let (n, model) = (j.tokens, j.model.clone());
                let shell = matches!(j.purpose, Purpose::Shell);
                // The status pane shows the answer's speed live (refreshed every 8 tokens).
                if n % 8 == 0 && self.status_visible() {
                    let secs = first.elapsed().as_secs_f64();
                    if let Some(w) = self.workers.get_mut(&WorkerKind::Llm) {
                        w.detail = format!(
                            "{model} answering · {n} tokens · {:.1} tok/s",
                            f64::from(n - 1) / secs.max(1e-3)
                        );
                    }
                    self.push_status();
                }
                if shell {
                    return;
                }
                self.chat_to(&name, pane, ChatEvent::Gen(LlmEvent::Token(t)));
            }
            LlmEvent::Loading { .. } | LlmEvent::Loaded { .. } | LlmEvent::Prompt { .. } => {
                let shell = matches!(j.purpose, Purpose::Shell);
                if let LlmEvent::Loaded { detail, .. } = &ev {
                    self.chat.loaded_model = Some(detail.clone());
                    self.llm_detail();
                }
                if !shell {
                    self.chat_to(&name, pane, ChatEvent::Gen(ev));
                }
            }
            LlmEvent::Summarized { upto, text } => {
                let Purpose::Chat { session, ids } = &j.purpose else {
                    return;
                };
                let mut msg = StoredMsg::summary(text, folded_id(ids, upto));
                let session = *session;
                // Without the stored summary the next question re-summarises; nothing is lost.
                match self.store.as_ref().map(|s| s.add_message(session, &msg)) {
                    Some(Ok(id)) => msg.id = id,
                    Some(Err(e)) => {
                        tracing::warn!("summary not stored, made again next time: {e:#}")
                    }
                    None => {}
                }
                self.chat_to(&name, pane, ChatEvent::Add(msg));
            }
            LlmEvent::Done(stats) => {
                let Some(j) = self.chat.jobs.remove(&job) else {
                    return;
                };
                self.chat.last_speed = Some(format!(
                    "{:.1} tok/s ({} tokens), prompt {:.0} tok/s",
                    stats.tokens_per_s(),
                    stats.tokens,
                    stats.prompt_per_s()
                ));
                self.llm_detail();
                self.finish(j, Ok(stats));
            }
            LlmEvent::Error(e) => {
                if let Some(j) = self.chat.jobs.remove(&job) {
                    self.finish(j, Err(e));
                }
            }
        }
    }

    /// A job ended: store and show what came.
    fn finish(&mut self, j: Job, r: Result<GenStats, String>) {
        let (name, pane) = (j.name.clone(), j.pane);
        match j.purpose {
            Purpose::Chat { session, .. } => {
                // An answer that cannot be stored is still shown (it has streamed already),
                // with its footer saying it was not saved.
                let store = |content: &str, meta: String| -> StoredMsg {
                    let mut msg = StoredMsg::new("assistant", content, meta);
                    match self.store.as_ref().map(|st| st.add_message(session, &msg)) {
                        Some(Ok(id)) => msg.id = id,
                        Some(Err(e)) => {
                            tracing::warn!("answer not stored in state.db, shown anyway: {e:#}");
                            msg.meta.push_str(" · not saved (state.db)");
                        }
                        None => msg.meta.push_str(" · not saved (no state.db)"),
                    }
                    msg
                };
                match r {
                    Ok(stats) => {
                        let msg = store(&j.text, stats.meta(&j.model));
                        self.chat_to(&name, pane, ChatEvent::Finished { msg, stats });
                    }
                    Err(error) => {
                        let partial = (!j.text.trim().is_empty())
                            .then(|| store(&j.text, format!("cut off · {}", j.model)));
                        self.chat_to(&name, pane, ChatEvent::Failed { partial, error });
                    }
                }
            }
            Purpose::AskData => match r {
                Ok(_) => {
                    let sql = extract_code(&j.text);
                    if sql.is_empty() {
                        self.chat_to(
                            &name,
                            pane,
                            ChatEvent::Failed {
                                partial: None,
                                error: "the model gave no SQL; ask again in other words".into(),
                            },
                        );
                        return;
                    }
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::InsertText(sql.clone()), cx)
                    });
                    match crate::engine::dialect::read_only(&sql) {
                        Ok(true) => self.run_sql(&name, pane, sql, None),
                        verdict => {
                            let why = match verdict {
                                Err(e) => format!("It could not be checked ({e})."),
                                _ => "It changes data or the schema.".into(),
                            };
                            if let Some(s) = self.sessions.get_mut(&name) {
                                s.popup = Some(Popup::Confirm {
                                    title: "run the model's SQL?".into(),
                                    text: format!("{why}\n\n{sql}\n\nRun it?"),
                                    yes: Confirmed::RunSql { editor: pane, sql },
                                });
                                s.dirty = true;
                            }
                        }
                    }
                }
                Err(error) => self.chat_to(
                    &name,
                    pane,
                    ChatEvent::Failed {
                        partial: None,
                        error,
                    },
                ),
            },
            Purpose::Shell => {
                let Some(s) = self.sessions.get_mut(&name) else {
                    return;
                };
                match r {
                    Ok(_) => {
                        let cmd = extract_command(&j.text);
                        s.popup = Some(if cmd.is_empty() {
                            popup::message(
                                "shell assistant",
                                "The model gave no command; ask again in other words.",
                            )
                        } else {
                            Popup::Confirm {
                                title: "type this command?".into(),
                                text: format!(
                                    "{cmd}\n\nIt is typed into the terminal, not run: you \
                                     read it, then press Enter yourself."
                                ),
                                yes: Confirmed::TypeInto { pane, text: cmd },
                            }
                        });
                    }
                    Err(e) => s.popup = Some(popup::message("shell assistant", &e)),
                }
                s.dirty = true;
                self.mark(&name);
            }
        }
    }

    /// The llm worker died: every job ends, keeping what came.
    pub(super) fn llm_lost(&mut self, why: &str) {
        self.chat.loaded_model = None;
        let jobs: Vec<u64> = self.chat.jobs.keys().copied().collect();
        for id in jobs {
            if let Some(j) = self.chat.jobs.remove(&id) {
                self.finish(
                    j,
                    Err(format!(
                        "The llm worker stopped ({why}); it has been restarted. Your message is \
                         kept: C-r asks again."
                    )),
                );
            }
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_commands_come_out_of_answers() {
        assert_eq!(
            extract_code("Here:\n```sql\nSELECT 1;\n```\nDone."),
            "SELECT 1;"
        );
        assert_eq!(extract_code("SELECT 2"), "SELECT 2");
        assert_eq!(extract_code("```\nunclosed"), "unclosed");
        assert_eq!(extract_command("```sh\n$ ls -la\n```"), "ls -la");
        assert_eq!(
            extract_command("```bash\n# make it\nmkdir x\ncd x\n```"),
            "mkdir x && cd x"
        );
        assert_eq!(extract_command("   "), "");
        assert_eq!(extract_command("rm -rf x\r\u{1b}[A"), "rm -rf x[A");
    }
}
