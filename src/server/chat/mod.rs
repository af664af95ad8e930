/*!
The server's side of the chat: chat sessions in state.db, generation jobs on the `llm` worker,
context from panes, "ask the data" and the shell assistant.

A job is one answer the worker writes. It belongs to a pane (a chat, a SQL editor, a terminal)
and accumulates the text as it streams, so that when it ends (done, stopped, failed, or the
worker died) the text is stored and nothing the user saw is lost. Whatever the model proposes
to run (SQL that changes data, a shell command) waits for a yes in a `Confirm` popup; read-only
SQL from "ask the data" runs at once, because that is what was asked for.
*/

mod answers;
mod assist;
mod retrieval;
pub(super) mod tools;

use super::popup::{self, Confirmed, PickThen, Popup};
use super::services::{self, ServiceSpec};
use super::Server;
use crate::engine::llm::{LlmIn, LlmOut, ModelRef};
use crate::engine::WorkerKind;
use crate::store::chats::{folded_id, turns_of};
use crate::store::index;
use crate::wire;
use anyhow::Context;
use fieldkit_panes::llm::{
    Attachment, ChatEvent, ChatRequest, GenStats, LlmEvent, Role, StoredMsg, Turn,
};
use fieldkit_panes::{EngineEvent, PaneKind};
use std::collections::HashMap;

/// The llm engine's service: llama.cpp in the `llm` worker, started on first use (a chat pane
/// asks for its session when it opens; the model loads only when a question comes).
pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Llm),
    worker: Some(WorkerKind::Llm),
    opened: services::nothing_opened,
    frame: |srv, bytes| match wire::decode::<LlmOut>(bytes) {
        Ok(out) => srv.on_llm(out),
        Err(e) => tracing::warn!("undecodable frame from the llm worker: {e}"),
    },
    lost: |srv, why| srv.llm_lost(why),
    save: services::nothing_saved,
};

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
    /// The code editor's question about its selection (an explanation, or code).
    EditText {
        explain: bool,
    },
    /// A workflow's llm step: try `n` of step `step` of run `run`.
    Workflow {
        run: String,
        step: usize,
        n: u32,
    },
}

impl Purpose {
    /// Answers nobody watches stream (they are used whole when done).
    fn quiet(&self) -> bool {
        matches!(self, Purpose::Shell | Purpose::Workflow { .. })
    }
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
    /// Ask-the-data questions in flight, by SQL editor pane.
    asks: HashMap<u64, Ask>,
    /// The models the llm worker holds, as it last said.
    models: Vec<fieldkit_messages::llm::LoadedModel>,
    /// Chat questions waiting for their vector (retrieval by meaning), by embed job.
    retrieving: HashMap<u64, retrieval::Retrieving>,
}

/// A question asked from a SQL editor: what was asked, the grammar its answer follows, and
/// how many tries are left when DuckDB refuses the SQL.
#[derive(Debug, Clone, Default)]
pub(super) struct Ask {
    turns: Vec<Turn>,
    grammar: Option<String>,
    tries: usize,
    /// The SQL last run for it (its result, or DuckDB's refusal, is awaited).
    running: Option<String>,
}

impl Server {
    /// Panic: answers being written are dropped (tokens still coming for them are ignored).
    pub(in crate::server) fn chat_forget(&mut self) {
        self.chat.jobs.clear();
        self.chat.retrieving.clear();
    }
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

/// Code for the editor out of an answer: the first fenced block as it is (the indent of its
/// first line kept), else the whole answer, without blank lines around it.
pub fn extract_text(answer: &str) -> String {
    let mut lines = answer.lines();
    let body: Vec<&str> = match lines.position(|l| l.trim_start().starts_with("```")) {
        Some(_) => lines
            .take_while(|l| !l.trim_start().starts_with("```"))
            .collect(),
        None => answer.lines().collect(),
    };
    let first = body.iter().position(|l| !l.trim().is_empty());
    let last = body.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(a), Some(z)) => body[a..=z].join("\n"),
        _ => String::new(),
    }
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
        self.worker_send(WorkerKind::Llm, msg);
    }

    fn chat_to(&mut self, name: &str, pane: u64, ev: ChatEvent) {
        self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Chat(ev), cx));
        self.mark(name);
    }

    /// A failure the chat pane shows in its footer (nothing of an answer came).
    fn chat_error(&mut self, name: &str, pane: u64, error: String) {
        self.chat_to(
            name,
            pane,
            ChatEvent::Failed {
                partial: None,
                error,
            },
        );
    }

    /// Loads chat session `want` (else the newest, else a new one) into chat pane `pane`.
    pub(super) fn open_chat(&mut self, name: &str, pane: u64, want: Option<i64>) {
        let system = self.config.llm.system_prompt.clone();
        let Some(store) = &self.store else {
            self.chat_error(
                name,
                pane,
                "state.db is not available, so chats cannot be kept".into(),
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
            Err(e) => self.chat_error(name, pane, format!("the chat could not be loaded: {e:#}")),
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

    /// The model for `purpose`: a chat pane's own choice, else `[llm.tasks]`'s for the task,
    /// else the default.
    fn model_for_purpose(&self, pane: u64, purpose: &Purpose) -> Result<ModelRef, String> {
        let t = &self.config.llm.tasks;
        let task = match purpose {
            Purpose::Chat { .. } => t.chat.as_deref(),
            Purpose::AskData => t.ask_data.as_deref(),
            Purpose::Shell => t.shell.as_deref(),
            Purpose::EditText { .. } => t.edit.as_deref(),
            Purpose::Workflow { .. } => t.workflow.as_deref(),
        };
        self.model_for_task(pane, task)
    }

    fn model_for_task(&self, pane: u64, task: Option<&str>) -> Result<ModelRef, String> {
        let store = self.store.as_ref().ok_or("state.db is not available")?;
        let want = self.chat.pane_model.get(&pane).map(String::as_str).or(task);
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
        let model = self.model_for_purpose(pane, &purpose)?;
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
        // A chat's model may call the granted plugins' tools; other jobs call none.
        let tools = if matches!(purpose, Purpose::Chat { .. }) {
            self.chat_tools()
        } else {
            Vec::new()
        };
        // Ask the data: held to the catalog's grammar, and greedy.
        let mut params = self.config.llm.params();
        if matches!(purpose, Purpose::AskData) {
            params.grammar = self.chat.asks.get(&pane).and_then(|a| a.grammar.clone());
            params.temperature = 0.0;
        }
        // A chat's older turns are folded by `[llm.tasks] summaries` when it names a model.
        let summary_model = match (&purpose, &self.config.llm.tasks.summaries) {
            (Purpose::Chat { .. }, Some(m)) => {
                let r = self
                    .model_for_task(0, Some(m))
                    .map_err(|e| format!("[llm.tasks] summaries: {e}"))?;
                if r.remote.is_some() {
                    return Err(format!(
                        "[llm.tasks] summaries = {m:?} is a remote model; summaries are made on \
                         this machine, so name a local one"
                    ));
                }
                Some(r)
            }
            _ => None,
        };
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
            settings: crate::engine::llm::settings_from(&self.config.llm),
            turns,
            params,
            tools,
            summary_model,
        };
        self.llm_send(&msg);
        Ok(())
    }

    /// Starts a job answering `turns` for a workflow's llm step (no pane: the answer goes to
    /// the runner); answers its job id.
    pub(in crate::server) fn workflow_llm_job(
        &mut self,
        run: &str,
        step: usize,
        n: u32,
        turns: Vec<Turn>,
        max_tokens: u32,
    ) -> Result<u64, String> {
        let model = self.model_for_task(0, self.config.llm.tasks.workflow.as_deref())?;
        if model.remote.is_some() {
            return Err(
                "the configured model is remote; workflow steps only use local models".into(),
            );
        }
        self.chat.next_job += 1;
        let job = self.chat.next_job;
        self.chat.jobs.insert(
            job,
            Job {
                name: String::new(),
                pane: 0,
                purpose: Purpose::Workflow {
                    run: run.to_string(),
                    step,
                    n,
                },
                model: model.name.clone(),
                text: String::new(),
                tokens: 0,
                first: None,
            },
        );
        let mut params = self.config.llm.params();
        params.max_tokens = max_tokens;
        let msg = LlmIn::Chat {
            job,
            model,
            settings: crate::engine::llm::settings_from(&self.config.llm),
            turns,
            params,
            tools: Vec::new(),
            summary_model: None,
        };
        self.llm_send(&msg);
        Ok(job)
    }

    /// Stops a workflow's llm job; its end is not waited for.
    pub(in crate::server) fn workflow_llm_cancel(&mut self, job: u64) {
        if self.chat.jobs.remove(&job).is_some() {
            self.llm_send(&LlmIn::Cancel { job });
        }
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
                self.mesh_chat_changed(session);
            }
            ChatRequest::SetSystem { session, text: t } => {
                if let Some(st) = &self.store {
                    if let Err(e) = st.set_system(session, t.trim()) {
                        self.show(name, "System prompt not set", &format!("state.db: {e:#}"));
                    }
                }
                self.mesh_chat_changed(session);
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
                self.retrieval_cancel(pane);
            }
            ChatRequest::Send {
                session,
                user,
                replace_last,
                retrieval,
            } => self.send_chat(name, pane, session, user, replace_last, retrieval),
            ChatRequest::AskData { question, schema } => {
                self.ask_data(name, pane, question, schema)
            }
            ChatRequest::EditText { how, text, lang } => self.ask_edit(name, pane, how, text, lang),
        }
    }
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

    #[test]
    fn code_for_the_editor_keeps_its_indent() {
        assert_eq!(
            extract_text("Sure:\n```rust\n    let a = 1;\n    a\n```\nbye"),
            "    let a = 1;\n    a"
        );
        assert_eq!(extract_text("\n\n  x = 2\n\n"), "  x = 2");
        assert_eq!(extract_text("```\n  unclosed"), "  unclosed");
        assert_eq!(extract_text("```\n```"), "");
    }
}
