/*!
What the llm worker sends back, on the server side: tokens routed to the pane that asked,
summaries stored where they happened, a finished, stopped or failed answer stored (what streamed
is never lost) and then put to use (a chat message, SQL for a grid after a yes, a shell command
typed only after a yes), and a lost worker told to every pane waiting on it.
*/

use super::*;

impl Server {
    /// A frame from the llm worker.
    pub(in crate::server) fn on_llm(&mut self, out: LlmOut) {
        match out {
            LlmOut::Hello {
                pid,
                detail,
                version,
            } => {
                if self.worker_hello(WorkerKind::Llm, pid, detail, version) {
                    let after_s = self.config.llm.unload_after_minutes * 60;
                    self.llm_send(&LlmIn::IdleUnload { after_s });
                    let bytes =
                        crate::config::size_bytes(&self.config.llm.memory_budget).unwrap_or(0);
                    self.llm_send(&LlmIn::Budget { bytes });
                }
            }
            LlmOut::State { loaded, models } => {
                self.chat.loaded_model = loaded;
                self.chat.models = models;
                self.llm_detail();
            }
            LlmOut::Event { job, ev } => self.on_llm_event(job, ev),
            LlmOut::Embedded { job, vectors } => self.on_embedded(job, vectors),
        }
    }

    pub(super) fn llm_detail(&mut self) {
        // The other models held (a model per task), with their memory and last use.
        let others: Vec<String> = self
            .chat
            .models
            .iter()
            .filter(|m| !m.active)
            .map(|m| {
                format!(
                    "{} ({}, used {})",
                    m.name,
                    crate::format::gguf::human(m.bytes),
                    match m.idle_s {
                        0..=59 => "just now".to_string(),
                        60..=3599 => format!("{} min ago", m.idle_s / 60),
                        s => format!("{} h ago", s / 3600),
                    }
                )
            })
            .collect();
        let also = if others.is_empty() {
            String::new()
        } else {
            format!(" · also loaded: {}", others.join(", "))
        };
        let detail = match (&self.chat.loaded_model, &self.chat.last_speed) {
            (Some(m), Some(s)) => format!("{m} · last answer {s}{also}"),
            (Some(m), None) => format!("{m}{also}"),
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

    pub(super) fn on_llm_event(&mut self, job: u64, ev: LlmEvent) {
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
                let shell = j.purpose.quiet();
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
                let shell = j.purpose.quiet();
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
                self.mesh_chat_changed(session);
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
    pub(super) fn finish(&mut self, j: Job, r: Result<GenStats, String>) {
        let (name, pane) = (j.name.clone(), j.pane);
        match j.purpose {
            Purpose::Workflow { run, step, n } => {
                let text = j.text;
                self.workflow_llm_done(&run, step, n, r.map(|_| text));
            }
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
                        if let Some(call) = super::tools::tool_call_in(&j.text) {
                            self.chat_tool_call(&name, pane, session, call);
                        }
                    }
                    Err(error) => {
                        let partial = (!j.text.trim().is_empty())
                            .then(|| store(&j.text, format!("cut off · {}", j.model)));
                        self.chat_to(&name, pane, ChatEvent::Failed { partial, error });
                    }
                }
                self.mesh_chat_changed(session);
            }
            Purpose::AskData => match r {
                Ok(_) => {
                    let sql = extract_code(&j.text);
                    if sql.is_empty() {
                        self.chat_error(
                            &name,
                            pane,
                            "the model gave no SQL; ask again in other words".into(),
                        );
                        return;
                    }
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::InsertText(sql.clone()), cx)
                    });
                    match crate::format::dialect::read_only(&sql) {
                        Ok(true) => {
                            // Its result is awaited: DuckDB's refusal asks again.
                            if let Some(a) = self.chat.asks.get_mut(&pane) {
                                a.running = Some(sql.clone());
                            }
                            self.run_sql(&name, pane, sql, None)
                        }
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
                Err(error) => self.chat_error(&name, pane, error),
            },
            Purpose::EditText { explain } => match r {
                Ok(_) => {
                    let code = (!explain).then(|| extract_text(&j.text));
                    let ev = fieldkit_panes::editor::EditorEvent::AiAnswer {
                        answer: j.text,
                        code,
                    };
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::Editor(ev), cx)
                    });
                    self.mark(&name);
                }
                Err(error) => self.chat_error(&name, pane, error),
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
    pub(in crate::server) fn llm_lost(&mut self, why: &str) {
        self.chat.loaded_model = None;
        self.retrieval_lost(why);
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
