/*!
Dispatch: a keymap action or a pane's effects turned into work. Layout actions go to the
session, pane actions to the focused pane, and what a pane asks of the engines (its effects) to
the service of that engine (`services::route`).
*/

use super::*;

impl Server {
    /// Calls the focused pane of `name` and carries out the effects it asks for.
    pub(super) fn pane_call(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn fieldkit_panes::Pane, &mut Cx) -> Outcome,
    ) -> Outcome {
        let Some(s) = self.sessions.get_mut(name) else {
            return Outcome::Ignored;
        };
        let focus = s.focused();
        s.bells.remove(&focus);
        self.pane_call_id(name, focus, f)
    }

    /// Calls pane `id` of session `name` and carries out its effects.
    pub(super) fn pane_call_id(
        &mut self,
        name: &str,
        id: u64,
        f: impl FnOnce(&mut dyn fieldkit_panes::Pane, &mut Cx) -> Outcome,
    ) -> Outcome {
        let Some(s) = self.sessions.get_mut(name) else {
            return Outcome::Ignored;
        };
        let Some(p) = s.panes.get_mut(&id) else {
            return Outcome::Ignored;
        };
        let mut cx = Cx::default();
        let out = f(p.as_mut(), &mut cx);
        // Only a pane that says it changed is redrawn: typing into a terminal changes nothing
        // until the program answers, and drawing before the echo would only delay it.
        if cx.dirty {
            s.dirty = true;
        }
        self.effects(name, id, cx.effects);
        out
    }

    /// The session holding pane `id`.
    pub(super) fn session_of(&self, id: u64) -> Option<String> {
        self.sessions
            .iter()
            .find(|(_, s)| s.panes.contains_key(&id))
            .map(|(n, _)| n.clone())
    }

    pub(super) fn effects(&mut self, name: &str, source: u64, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Engine(req) => self.route(name, source, req),
                Effect::Ui(UiCommand::Prompt {
                    title,
                    initial,
                    then,
                    on_empty,
                }) => {
                    if let Some(s) = self.sessions.get_mut(name) {
                        s.popup = Some(Popup::Prompt {
                            title,
                            input: initial,
                            then,
                            on_empty,
                        });
                        s.dirty = true;
                    }
                }
                Effect::Ui(UiCommand::ClosePane) => self.close_pane(name, source),
                Effect::Ui(UiCommand::Message { title, text }) => self.show(name, &title, &text),
                Effect::Ui(UiCommand::Clipboard(text)) => self.clipboard(name, &text),
            }
        }
    }

    /// What closing the focused pane of `name` would stop, if anything: a program running in
    /// a terminal (not its shell), or the work the pane says it is doing.
    pub(super) fn close_would_stop(&self, name: &str) -> Option<String> {
        let s = self.sessions.get(name)?;
        let focus = s.focused();
        if let Some(t) = self.pty.terms.get(&focus) {
            return t
                .foreground()
                .map(|p| format!("{p} is running in this terminal; closing the pane ends it."));
        }
        s.panes.get(&focus)?.busy()
    }

    pub(super) fn show(&mut self, name: &str, title: &str, text: &str) {
        if let Some(s) = self.sessions.get_mut(name) {
            s.popup = Some(popup::message(title, text));
            s.dirty = true;
        }
    }

    /// Runs an action in session `name`. From a key (`client` is set) a refusal is shown in a
    /// popup; from the CLI it is returned.
    pub(super) fn run_action(&mut self, name: &str, action: Action, client: Option<ClientId>) {
        if let Err(e) = self.try_action(name, action, client) {
            if client.is_some() {
                self.show(name, "Not done", &e);
            } else {
                tracing::info!("action refused: {e}");
            }
        }
    }

    pub(super) fn try_action(
        &mut self,
        name: &str,
        action: Action,
        client: Option<ClientId>,
    ) -> Result<(), String> {
        // From a key, a pane with running work asks before it closes (tmux asks for every
        // pane); `fieldkit action close-pane` is a script's and does not.
        let stops = (action == Action::ClosePane && client.is_some())
            .then(|| self.close_would_stop(name))
            .flatten();
        let Some(s) = self.sessions.get_mut(name) else {
            return Err(format!("no session {name:?}"));
        };
        s.dirty = true;
        match action {
            Action::Detach => {
                let ids: Vec<ClientId> = match client {
                    Some(id) => vec![id],
                    None => self.clients_of(name),
                };
                for id in ids {
                    self.detach_client(id, name);
                }
            }
            Action::Palette => {
                let mut p = popup::palette(&self.keymap);
                if let Popup::Palette(picker) = &mut p {
                    picker.extend(self.plugin_palette_items());
                }
                if let Some(s) = self.sessions.get_mut(name) {
                    s.popup = Some(p);
                }
            }
            Action::Help => s.popup = Some(Popup::Help { scroll: 0 }),
            Action::RenameTab(None) => {
                s.popup = Some(Popup::Prompt {
                    title: "rename tab".into(),
                    input: s.tab().name.clone(),
                    then: "rename-tab".into(),
                    on_empty: None,
                })
            }
            Action::ReloadConfig => {
                let loaded = config::load(&self.dirs);
                self.keymap = loaded.keymap;
                self.theme = loaded.theme;
                self.config = loaded.config;
                for c in self.clients.values_mut() {
                    c.writer.invalidate();
                    c.keys = KeyState::default();
                }
                for s in self.sessions.values_mut() {
                    s.dirty = true;
                }
                if !loaded.errors.is_empty() {
                    return Err(loaded.errors.join("\n"));
                }
            }
            Action::KillSession => self.kill_session(name),
            Action::OpenTermEnv(specs) => {
                let vars = self.vault_env(&specs)?;
                let s = self
                    .sessions
                    .get_mut(name)
                    .ok_or_else(|| format!("no session {name:?}"))?;
                s.apply(&Action::Open(PaneKind::Term), &mut self.ids)?;
                let id = s.focused();
                self.pty.env.insert(id, vars);
                self.greet_new_panes(false);
            }
            Action::Lock => {
                self.vault_command(crate::protocol::VaultCommand::Lock)?;
            }
            Action::Panic => {
                self.panic();
            }
            Action::ClosePane if stops.is_some() => {
                let pane = s.focused();
                s.popup = Some(Popup::Confirm {
                    title: format!("close pane {}?", s.number_of(pane)),
                    text: format!("{}\n\ny closes it, n keeps it.", stops.unwrap_or_default()),
                    yes: popup::Confirmed::ClosePane { pane },
                });
            }
            Action::SendPrefix => {
                let ev = self.keymap.prefix.event();
                self.pane_call(name, |p, cx| p.on_input(&ev, cx));
            }
            Action::PasteBuffer => {
                let Some(text) = self.paste.clone() else {
                    return Err("Nothing yanked yet: copy mode (C-b [) then y yanks.".into());
                };
                if !self.paste_into(name, &text) {
                    return Err("Paste goes into a running terminal pane.".into());
                }
            }
            Action::Unbind => {}
            Action::OpenFile(Some(path)) => {
                if is_data_file(&path) {
                    self.open_file(name, &path)?
                } else {
                    self.edit_file(name, &path)?
                }
            }
            Action::Edit(path) => self.edit_file(name, &path)?,
            Action::OpenFile(None) => self.file_picker(name),
            Action::AttachContext => self.attach_context(name)?,
            Action::AskShell(None) => {
                if !self.pty.terms.contains_key(&s.focused()) {
                    return Err("ask-shell works from a terminal pane: focus one first.".into());
                }
                s.popup = Some(Popup::Prompt {
                    title: "ask for a shell command".into(),
                    input: String::new(),
                    then: "ask-shell".into(),
                    on_empty: None,
                });
            }
            Action::AskShell(Some(r)) => self.ask_shell(name, r)?,
            Action::Index(p) => self.index_action(name, p)?,
            Action::Tool(t) => self.tool_form_start(name, &t)?,
            Action::ToolArg(v) => self.tool_form_answer(name, &v)?,
            other => {
                let applied = s.apply(&other, &mut self.ids)?;
                if applied {
                    self.greet_new_panes(false);
                }
                if !applied {
                    let out = self.pane_call(name, |p, cx| p.on_action(&other, cx));
                    if let (Outcome::Ignored, Action::Pane { name: verb, .. }) = (out, &other) {
                        // `cancel` with nothing to cancel is not worth a popup.
                        if *verb != "cancel" {
                            return Err(format!(
                                "`{verb}` does nothing in this pane. {}",
                                other.info().desc
                            ));
                        }
                    }
                }
                if self.status_visible() {
                    self.refresh_status();
                }
            }
        }
        Ok(())
    }
}

/// Whether `open-file` shows `path` in a grid (data) rather than the editor.
fn is_data_file(path: &str) -> bool {
    const EXT: &[&str] = &[
        "csv", "tsv", "tab", "parquet", "pq", "json", "ndjson", "jsonl", "xlsx", "xls", "ods",
    ];
    std::path::Path::new(path)
        .extension()
        .map(|x| x.to_string_lossy().to_lowercase())
        .is_some_and(|x| EXT.contains(&x.as_str()))
}
