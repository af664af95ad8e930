/*!
Clients of the server: a connection's messages, attaching and detaching, the size a session
takes from the clients that show it (the smallest, as tmux does), and what each client is sent
when its session changed (`render_all`).
*/

use super::*;
use crate::protocol::{Command, MeshCommand};

impl Server {
    pub(super) fn on_msg(&mut self, id: ClientId, msg: ClientMsg) {
        match msg {
            ClientMsg::Attach {
                session,
                mode,
                cols,
                rows,
                caps,
                cwd,
            } => {
                if let Err(e) = self.attach(id, session, mode, (cols, rows), caps, cwd) {
                    self.send(
                        id,
                        ServerMsg::Exit {
                            message: e,
                            code: 1,
                        },
                    );
                }
            }
            ClientMsg::Resize { cols, rows } => self.resize(id, cols, rows),
            ClientMsg::Input { event } => match event {
                Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(id, k),
                Event::Mouse(m) if self.config.mouse => self.on_mouse(id, m),
                Event::Resize(c, r) => self.resize(id, c, r),
                Event::Paste(text) => {
                    let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
                        return;
                    };
                    if self.paste_into(&name, &text) {
                        return;
                    }
                    for ch in text.chars().filter(|c| !c.is_control()).take(4096) {
                        let k = crossterm::event::KeyEvent::new(
                            crossterm::event::KeyCode::Char(ch),
                            crossterm::event::KeyModifiers::NONE,
                        );
                        self.on_key(id, k);
                    }
                }
                _ => {}
            },
            ClientMsg::Detach => {
                if let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) {
                    self.detach_client(id, &name);
                }
            }
            ClientMsg::Command {
                command: Command::Mesh(MeshCommand::Invite { role, minutes }),
                ..
            } => self.mesh_invite(mesh::Waiter::Client(id), role, minutes),
            ClientMsg::Command {
                command: Command::Ask { what },
                ..
            } => self.ask_user(id, what),
            ClientMsg::Command {
                command: Command::Plugin(crate::protocol::PluginCommand::Call { tool, args }),
                ..
            } => match serde_json::from_str::<serde_json::Value>(&args) {
                Ok(a) => self.plugin_call(&tool, a, plugins::CallWaiter::Client(id)),
                Err(e) => self.reply(id, Err(format!("the arguments are not JSON: {e}"))),
            },
            ClientMsg::Command { session, command } => {
                let r = self.command(session, command);
                self.reply(id, r);
            }
        }
    }

    pub(super) fn send(&self, id: ClientId, msg: ServerMsg) {
        if let Some(c) = self.clients.get(&id) {
            let _ = c.tx.send(msg);
        }
    }

    pub(super) fn attach(
        &mut self,
        id: ClientId,
        name: String,
        mode: AttachMode,
        size: (u16, u16),
        caps: TermCaps,
        cwd: Option<String>,
    ) -> Result<(), String> {
        let name = match mode {
            AttachMode::MostRecent => self
                .recent
                .last()
                .cloned()
                .ok_or("no sessions: start one with `fieldkit`")?,
            _ => name,
        };
        let exists = self.sessions.contains_key(&name);
        match mode {
            AttachMode::Existing if !exists => {
                return Err(format!("no session named {name:?} (see `fieldkit ls`)"))
            }
            AttachMode::New if exists => return Err(format!("duplicate session: {name}")),
            _ => {}
        }
        if !exists {
            commands::check_name(&name)?;
            let s = Session::new(&name, &mut self.ids, size, &self.config.shell());
            self.sessions.insert(name.clone(), s);
        }
        if let (Some(s), Some(dir)) = (self.sessions.get_mut(&name), cwd) {
            s.start_dir = Some(dir);
        }
        let size = (size.0.max(1), size.1.max(1));
        if let Some(c) = self.clients.get_mut(&id) {
            c.session = Some(name.clone());
            c.size = size;
            c.caps = caps;
            c.writer.invalidate();
        }
        self.touch(&name);
        self.reconcile_size(&name);
        if self.config.mouse {
            // Ask the client's terminal for mouse reports (button events, drags, SGR form).
            if let Some(c) = self.clients.get(&id) {
                c.output(b"\x1b[?1000h\x1b[?1002h\x1b[?1006h".to_vec());
            }
        }
        if !self.notices.is_empty() {
            let text = std::mem::take(&mut self.notices).join("\n");
            if let Some(s) = self.sessions.get_mut(&name) {
                s.popup = Some(popup::message("fieldkit found problems", &text));
            }
        }
        self.mark(&name);
        tracing::info!(client = id, session = %name, "attached");
        Ok(())
    }

    pub(super) fn resize(&mut self, id: ClientId, cols: u16, rows: u16) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.size = (cols.max(1), rows.max(1));
        c.writer.invalidate();
        if let Some(name) = c.session.clone() {
            self.reconcile_size(&name);
            self.mark(&name);
        }
    }

    /// The session takes the smallest size among its clients, as tmux does by default.
    pub(super) fn reconcile_size(&mut self, name: &str) {
        let sizes: Vec<(u16, u16)> = self
            .clients
            .values()
            .filter(|c| c.session.as_deref() == Some(name))
            .map(|c| c.size)
            .collect();
        if sizes.is_empty() {
            return;
        }
        let w = sizes.iter().map(|s| s.0).min().unwrap_or(80);
        let h = sizes.iter().map(|s| s.1).min().unwrap_or(24);
        if let Some(s) = self.sessions.get_mut(name) {
            if s.size != (w, h) {
                s.size = (w, h);
                s.changed = true;
            }
            s.dirty = true;
        }
        for c in self
            .clients
            .values_mut()
            .filter(|c| c.session.as_deref() == Some(name))
        {
            c.writer.invalidate();
        }
    }

    pub(super) fn touch(&mut self, name: &str) {
        self.recent.retain(|n| n != name);
        self.recent.push(name.to_string());
    }

    pub(super) fn mark(&mut self, name: &str) {
        if let Some(s) = self.sessions.get_mut(name) {
            s.dirty = true;
        }
    }

    pub(super) fn detach_client(&mut self, id: ClientId, name: &str) {
        // Detaching is a natural moment to keep what the terminals show.
        self.save_scrollbacks(false);
        self.end_attachment(id, format!("[detached (from session {name})]"));
        self.reconcile_size(name);
        self.vault_lock_if_unattended();
    }

    pub(super) fn clients_of(&self, name: &str) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, c)| c.session.as_deref() == Some(name))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Tells client `id` its attachment is over (it prints `message` and exits) and forgets
    /// which session it showed.
    pub(super) fn end_attachment(&mut self, id: ClientId, message: String) {
        self.send(id, ServerMsg::Exit { message, code: 0 });
        if let Some(c) = self.clients.get_mut(&id) {
            c.session = None;
        }
    }

    /// Sends each client of a changed session what changed on its screen: only the changed
    /// panes' rows when nothing else changed (retained drawing), else the whole screen diffed.
    pub(super) fn render_all(&mut self) {
        let dirty: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.dirty || !s.content.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for name in &dirty {
            self.refresh_frames(name);
        }
        for (name, s) in self.sessions.iter_mut() {
            if !s.dirty && s.content.is_empty() {
                continue;
            }
            // Retained drawing: when only panes' content changed, each client gets those
            // panes drawn over what it was last sent, and the difference is one row for an echo.
            let only_content = !s.dirty && s.popup.is_none();
            for c in self
                .clients
                .values_mut()
                .filter(|c| c.session.as_deref() == Some(name))
            {
                if c.backlog.bytes.load(Ordering::Acquire) > MAX_BACKLOG {
                    // The client is not keeping up: send nothing until its queue drains,
                    // then one whole frame of what is current by then.
                    c.backlog.held_back.store(true, Ordering::Release);
                    continue;
                }
                let theme = &self.theme;
                let patched = if only_content && c.size == s.size {
                    let rows = render::content_rows(s);
                    c.writer.patch(&rows, c.caps, theme.bg, |buf| {
                        render::panes_into(s, theme, buf)
                    })
                } else {
                    None
                };
                let bytes = patched.unwrap_or_else(|| {
                    let mut buf = c.writer.canvas();
                    let cursor = render::screen_into(s, theme, &self.keymap, &c.keys, &mut buf);
                    let fitted = render::fit(buf, c.size.0, c.size.1, theme);
                    c.writer.frame(fitted, cursor, c.caps, theme.bg)
                });
                if !bytes.is_empty() {
                    tracing::trace!(n = bytes.len(), "frame out");
                    c.output(bytes);
                }
            }
            s.dirty = false;
            s.content.clear();
        }
    }
}
