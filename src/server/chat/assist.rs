/*!
The model helping elsewhere: SQL from a question in the SQL editor, a shell command from a
request, a pane's content attached to a chat, the retrieval index built from a folder, and what
runs once the user says yes.
*/

use super::*;
use crate::server::session::Place;

impl Server {
    /// `ask-data` from the SQL editor `editor`.
    pub(in crate::server) fn ask_data(
        &mut self,
        name: &str,
        editor: u64,
        question: String,
        schema: String,
    ) {
        use crate::engine::llm::askdata;
        let turns = askdata::turns(&schema, &question);
        self.chat.asks.insert(
            editor,
            Ask {
                turns: turns.clone(),
                grammar: askdata::grammar(&schema, &question),
                tries: askdata::RETRIES,
                running: None,
            },
        );
        self.start_for_pane(name, editor, Purpose::AskData, turns);
    }

    /// The SQL of a question asked from `editor` gave a result: the question is answered.
    pub(in crate::server) fn ask_data_done(&mut self, editor: u64) {
        if self
            .chat
            .asks
            .get(&editor)
            .is_some_and(|a| a.running.is_some())
        {
            self.chat.asks.remove(&editor);
        }
    }

    /// The SQL of a question asked from `editor` failed with `error`: asked again with the
    /// error while tries are left. Answers whether it was.
    pub(in crate::server) fn ask_data_failed(
        &mut self,
        name: &str,
        editor: u64,
        error: &str,
    ) -> bool {
        let Some(ask) = self.chat.asks.get_mut(&editor) else {
            return false;
        };
        let Some(sql) = ask.running.take() else {
            return false;
        };
        if ask.tries == 0 {
            self.chat.asks.remove(&editor);
            return false;
        }
        ask.tries -= 1;
        ask.turns = crate::engine::llm::askdata::retry_turns(&ask.turns, &sql, error);
        let turns = ask.turns.clone();
        self.start_for_pane(name, editor, Purpose::AskData, turns);
        true
    }

    /// The code editor `editor` asks about `text` (its selection, or its file): explain it,
    /// rewrite it as asked, or fix it. Code comes back in a fenced block, taken out of the
    /// answer when it is done.
    pub(in crate::server) fn ask_edit(
        &mut self,
        name: &str,
        editor: u64,
        how: fieldkit_panes::llm::EditHow,
        text: String,
        lang: Option<String>,
    ) {
        use fieldkit_panes::llm::EditHow;
        let lang = lang.unwrap_or_else(|| "text".into());
        let block = format!("```{lang}\n{text}\n```");
        let code_only = "Reply with only the whole changed text in one fenced code block, \
                         nothing before or after it.";
        let (system, user) = match &how {
            EditHow::Explain => (
                "You explain code and text to an engineer working in the field: what it \
                 does, briefly and plainly, then anything that looks wrong."
                    .to_string(),
                format!("Explain this:\n{block}"),
            ),
            EditHow::Rewrite(ask) => (
                format!("You rewrite code and text exactly as asked. {code_only}"),
                format!("Rewrite this: {ask}\n{block}"),
            ),
            EditHow::Fix => (
                format!(
                    "You fix mistakes in code and text, changing nothing that works. {code_only}"
                ),
                format!("Fix the mistakes in this:\n{block}"),
            ),
        };
        let turns = vec![Turn::new(Role::System, system), Turn::new(Role::User, user)];
        let purpose = Purpose::EditText {
            explain: how == EditHow::Explain,
        };
        self.start_for_pane(name, editor, purpose, turns);
    }

    /// Starts a job whose answer goes to `pane`; one that cannot start is told to it.
    pub(super) fn start_for_pane(
        &mut self,
        name: &str,
        pane: u64,
        purpose: Purpose,
        turns: Vec<Turn>,
    ) {
        if let Err(e) = self.start_job(name, pane, purpose, turns) {
            self.chat_error(name, pane, e);
        }
    }

    /// `ask-shell`: a command for the focused terminal, typed in only after a yes.
    pub(in crate::server) fn ask_shell(
        &mut self,
        name: &str,
        request: String,
    ) -> Result<(), String> {
        let Some(pane) = self.sessions.get(name).map(|s| s.focused()) else {
            return Err("no session".into());
        };
        let Some(t) = self.pty.terms.get(&pane) else {
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
    pub(in crate::server) fn attach_context(&mut self, name: &str) -> Result<(), String> {
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
        let att = if let Some(t) = self.pty.terms.get(&focus) {
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
                // On the right of the whole tab, as the README says (never between two panes).
                let pane = Box::new(fieldkit_panes::ChatPane::new(None));
                let (c, _) = s.place(focus, pane, Place::RightOfTab, &mut self.ids);
                s.changed = true;
                s.dirty = true;
                self.greet_new_panes(false);
                c
            }
        };
        // Focus the chat: the next thing typed is the question about what was attached.
        if let Some(s) = self.sessions.get_mut(name) {
            s.focus_pane(chat);
            s.dirty = true;
        }
        self.chat_to(name, chat, ChatEvent::Attach(att));
        self.save_all();
        Ok(())
    }

    /// `index [PATH]`: a terminal split runs `fieldkit index`, so its progress shows there.
    pub(in crate::server) fn index_action(
        &mut self,
        name: &str,
        path: Option<String>,
    ) -> Result<(), String> {
        let s = self.sessions.get(name).ok_or("no session")?;
        let focus = s.focused();
        let cwd = self.pty.terms.get(&focus).and_then(|t| t.cwd());
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
        // `index --rebuild`: every folder indexed so far, again.
        let what = if path.trim() == "--rebuild" {
            "--rebuild".to_string()
        } else {
            quote(&path)
        };
        let cmd = format!("{} index {what}", quote(&exe));
        let pane = Box::new(fieldkit_panes::TermPane::new(&cmd, cwd));
        let s = self.sessions.get_mut(name).ok_or("no session")?;
        s.insert_beside(focus, pane, crate::layout::Axis::Vertical, &mut self.ids)
            .ok_or("no room for another pane here")?;
        s.dirty = true;
        self.save_all();
        Ok(())
    }

    pub(in crate::server) fn confirmed(&mut self, name: &str, c: Confirmed) {
        match c {
            Confirmed::TypeInto { pane, text } => {
                if let Some(t) = self.pty.terms.get(&pane) {
                    if !t.exited {
                        let bracketed = t.screen.modes().bracketed_paste;
                        t.write(fieldkit_panes::keys::encode_paste(&text, bracketed));
                    }
                }
            }
            Confirmed::RunSql { editor, sql } => self.run_sql(name, editor, sql, None),
            Confirmed::DeleteChat { pane, id } => {
                // A shared chat is deleted for the team too (its messages stay in mesh.db).
                self.mesh_chat_deleting(id);
                if let Some(st) = &self.store {
                    if let Err(e) = st.delete_chat(id) {
                        self.show(name, "Not deleted", &format!("state.db: {e:#}"));
                        return;
                    }
                }
                self.open_chat(name, pane, None);
            }
            Confirmed::Remote { ask } => self.ask_answered(ask),
            Confirmed::ChatTool {
                pane,
                session,
                tool,
                args,
            } => {
                let args = serde_json::from_str(&args).unwrap_or(serde_json::json!({}));
                let w = crate::server::plugins::CallWaiter::Chat {
                    session_name: name.to_string(),
                    pane,
                    chat: session,
                    tool: tool.clone(),
                };
                self.plugin_call(&tool, args, w);
            }
            Confirmed::ClosePane { pane } => {
                if let Some(s) = self.sessions.get_mut(name) {
                    s.focus_pane(pane);
                }
                if let Err(e) = self.try_action(name, fieldkit_panes::Action::ClosePane, None) {
                    self.show(name, "Not closed", &e);
                }
            }
        }
        self.mark(name);
    }
}

pub(super) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
