/*!
Terminal panes on the server side: each pane's process and screen (engine::pty) kept in step
with the layout, output fed to the emulator, frames taken only for panes about to be drawn, and
scrollback saved so a restart brings it back.
*/

use super::*;

impl Server {
    /// Starts a process for every terminal pane that has none, stops those whose pane is gone,
    /// and gives each the size its pane has on screen.
    pub(super) fn sync_terms(&mut self) {
        // Panes say what they run when they are told they are open.
        self.greet_new_panes();
        let mut wanted: HashMap<u64, (u16, u16, String, Option<String>)> = HashMap::new();
        for s in self.sessions.values() {
            for (id, rect) in s.all_rects() {
                let Some(p) = s.panes.get(&id) else { continue };
                if p.kind() != PaneKind::Term {
                    continue;
                }
                let Some((command, cwd)) = self.term_spawn.get(&id).cloned() else {
                    continue;
                };
                // The pane's border takes a cell on each side.
                let inner = (rect.width.saturating_sub(2), rect.height.saturating_sub(2));
                wanted.insert(id, (inner.0, inner.1, command, cwd));
            }
        }
        let gone: Vec<u64> = self
            .terms
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        self.term_spawn.retain(|id, _| wanted.contains_key(id));
        for id in gone {
            self.terms.remove(&id);
            if let Some(store) = &self.store {
                // A leftover row is only dead weight: the pane id is never reused.
                if let Err(e) = store.delete_scrollback(id) {
                    tracing::warn!(pane = id, "closed pane's scrollback not deleted: {e:#}");
                }
            }
        }
        self.failed_terms.retain(|id| wanted.contains_key(id));
        for (id, (cols, rows, command, cwd)) in wanted {
            if let Some(t) = self.terms.get_mut(&id) {
                t.resize(cols, rows);
                continue;
            }
            if self.failed_terms.contains(&id) {
                continue;
            }
            let restored = self
                .store
                .as_ref()
                .and_then(|s| s.scrollback(id).ok().flatten());
            match TermProc::spawn(
                id,
                &command,
                cwd.as_deref(),
                (cols, rows),
                self.config.scrollback_lines,
                restored.as_deref(),
                self.pty_tx.clone(),
            ) {
                Ok(t) => {
                    tracing::info!(pane = id, pid = ?t.pid, %command, "terminal started");
                    self.terms.insert(id, t);
                }
                Err(e) => {
                    tracing::warn!(pane = id, "cannot start {command:?}: {e:#}");
                    self.failed_terms.insert(id);
                    if let Some(name) = self.session_of(id) {
                        let how = format!("could not start: {e:#}");
                        self.pane_call_id(&name, id, |p, cx| {
                            p.on_engine(EngineEvent::TermExited(how), cx)
                        });
                    }
                }
            }
        }
    }

    pub(super) fn on_pty(&mut self, note: PtyNote) {
        match note {
            PtyNote::Output { pane, bytes } => {
                tracing::trace!(pane, n = bytes.len(), "pty out");
                let Some(t) = self.terms.get_mut(&pane) else {
                    return;
                };
                let fed = t.feed(&bytes);
                let Some(name) = self.session_of(pane) else {
                    return;
                };
                if let Some(title) = fed.title {
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::TermTitle(title), cx)
                    });
                }
                if fed.bell {
                    if let Some(s) = self.sessions.get_mut(&name) {
                        if s.focused() != pane
                            || s.tab().layout.leaves().iter().all(|id| *id != pane)
                        {
                            s.bells.insert(pane);
                        }
                    }
                    self.pane_call_id(&name, pane, |p, cx| p.on_engine(EngineEvent::TermBell, cx));
                }
                if let Some(text) = fed.clipboard {
                    if self.config.clipboard_from_programs {
                        self.clipboard(&name, &text);
                    }
                }
                if let Some(s) = self.sessions.get_mut(&name) {
                    if s.visible().iter().any(|(id, _)| *id == pane) {
                        s.dirty = true;
                    }
                }
            }
            PtyNote::Exited { pane, how } => {
                if let Some(t) = self.terms.get_mut(&pane) {
                    t.exited = true;
                    t.dirty = true;
                }
                let Some(name) = self.session_of(pane) else {
                    return;
                };
                tracing::info!(pane, %how, "terminal program ended");
                if self.config.close_on_exit {
                    self.close_pane(&name, pane);
                } else {
                    self.pane_call_id(&name, pane, |p, cx| {
                        p.on_engine(EngineEvent::TermExited(how), cx)
                    });
                }
            }
        }
    }

    /// Gives every visible terminal pane of `name` a fresh frame if its screen changed.
    pub(super) fn refresh_frames(&mut self, name: &str) {
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        for (id, _) in s.visible() {
            let Some(t) = self.terms.get_mut(&id) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            t.dirty = false;
            if let Some(p) = s.panes.get_mut(&id) {
                p.on_engine(
                    EngineEvent::TermFrame(Box::new(t.screen.frame())),
                    &mut Cx::default(),
                );
            }
        }
    }

    /// Writes the scrollback of terminals (only those with new output if `only_unsaved`) and
    /// notes each one's working directory in its pane, so both survive a crash.
    pub(super) fn save_scrollbacks(&mut self, only_unsaved: bool) {
        let Some(store) = &self.store else { return };
        let mut cwds = Vec::new();
        for (id, t) in self.terms.iter_mut() {
            if only_unsaved && !t.unsaved {
                continue;
            }
            t.unsaved = false;
            if let Err(e) = store.save_scrollback(*id, &t.save_text()) {
                tracing::warn!(pane = id, "cannot save scrollback: {e}");
            }
            if let Some(cwd) = t.cwd() {
                cwds.push((*id, cwd));
            }
        }
        for (id, cwd) in cwds {
            if let Some(name) = self.session_of(id) {
                if let Some(s) = self.sessions.get_mut(&name) {
                    if let Some(p) = s.panes.get_mut(&id) {
                        p.on_engine(EngineEvent::TermCwd(cwd), &mut Cx::default());
                        s.changed = true;
                    }
                }
            }
        }
    }
}
