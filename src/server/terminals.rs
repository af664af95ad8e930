/*!
Terminal panes on the server side: each pane's process and screen (engine::pty) kept in step
with the layout, output fed to the emulator, frames taken only for panes about to be drawn, and
scrollback saved so a restart brings it back.
*/

use super::*;
use fieldkit_panes::TermRequest;
use services::ServiceSpec;

/// The pty engine's service: terminals live in the server, so no worker; what it keeps is each
/// pane's scrollback.
pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Pty),
    worker: None,
    opened: services::nothing_opened,
    frame: services::no_frames,
    lost: services::nothing_lost,
    save: |srv, finally| srv.save_scrollbacks(!finally),
};

/// Each terminal pane's process and screen, and what the panes asked to run.
pub(super) struct Pty {
    pub(super) terms: HashMap<u64, TermProc>,
    /// Terminal panes whose program could not be started (not retried).
    pub(super) failed: std::collections::HashSet<u64>,
    /// What each terminal pane said it runs, and where (its answer to `Opened`).
    pub(super) spawn: HashMap<u64, (String, Option<String>)>,
    /// Secrets for the environment of a terminal not started yet (`open term --env`); taken
    /// when it starts, so the server keeps no copy.
    pub(super) env: HashMap<u64, Vec<(String, zeroize::Zeroizing<String>)>>,
    pub(super) tx: mpsc::Sender<PtyNote>,
}

impl Pty {
    pub(super) fn new(tx: mpsc::Sender<PtyNote>) -> Pty {
        Pty {
            terms: HashMap::new(),
            failed: Default::default(),
            spawn: HashMap::new(),
            env: HashMap::new(),
            tx,
        }
    }
}

impl Server {
    /// A terminal pane's requests to the pty engine.
    pub(super) fn term_request(&mut self, name: &str, source: u64, req: TermRequest) {
        match req {
            TermRequest::Spawn { command, cwd } => {
                // A new shell starts where the client was started (as tmux's do).
                let cwd = cwd.or_else(|| self.sessions.get(name).and_then(|s| s.start_dir.clone()));
                self.pty.spawn.insert(source, (command, cwd));
            }
            TermRequest::Input(bytes) => {
                if let Some(t) = self.pty.terms.get(&source) {
                    t.write(bytes);
                }
            }
            TermRequest::Copy(cmd) => {
                let Some(t) = self.pty.terms.get_mut(&source) else {
                    return;
                };
                let result = t.screen.copy(&cmd);
                t.dirty = true;
                let ev = match result {
                    CopyResult::Done => None,
                    CopyResult::Note(n) => Some(EngineEvent::TermNote(n)),
                    CopyResult::Yanked(text) => {
                        self.clipboard(name, &text);
                        self.paste = Some(text);
                        Some(EngineEvent::TermCopyDone)
                    }
                };
                if let Some(ev) = ev {
                    self.pane_call_id(name, source, |p, cx| p.on_engine(ev, cx));
                }
                self.mark(name);
            }
        }
    }

    /// Starts a process for every terminal pane that has none, stops those whose pane is gone,
    /// and gives each the size its pane has on screen.
    pub(super) fn sync_terms(&mut self) {
        // Panes say what they run when they are told they are open.
        self.greet_new_panes(false);
        let mut wanted: HashMap<u64, (u16, u16, String, Option<String>)> = HashMap::new();
        for s in self.sessions.values() {
            for (id, rect) in s.all_rects() {
                // Only terminal panes ask for a process (`TermRequest::Spawn`).
                let Some((command, cwd)) = self.pty.spawn.get(&id).cloned() else {
                    continue;
                };
                // The pane's border takes a cell on each side.
                let inner = (rect.width.saturating_sub(2), rect.height.saturating_sub(2));
                wanted.insert(id, (inner.0, inner.1, command, cwd));
            }
        }
        let gone: Vec<u64> = self
            .pty
            .terms
            .keys()
            .filter(|id| !wanted.contains_key(id))
            .copied()
            .collect();
        self.pty.spawn.retain(|id, _| wanted.contains_key(id));
        let sessions = &self.sessions;
        self.pty
            .env
            .retain(|id, _| sessions.values().any(|s| s.panes.contains_key(id)));
        for id in gone {
            self.pty.terms.remove(&id);
            if let Some(store) = &self.store {
                // A leftover row is only dead weight: the pane id is never reused.
                if let Err(e) = store.delete_scrollback(id) {
                    tracing::warn!(pane = id, "closed pane's scrollback not deleted: {e:#}");
                }
            }
        }
        self.pty.failed.retain(|id| wanted.contains_key(id));
        for (id, (cols, rows, command, cwd)) in wanted {
            if let Some(t) = self.pty.terms.get_mut(&id) {
                t.resize(cols, rows);
                continue;
            }
            if self.pty.failed.contains(&id) {
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
                &self.pty.env.remove(&id).unwrap_or_default(),
                self.pty.tx.clone(),
            ) {
                Ok(t) => {
                    tracing::info!(pane = id, pid = ?t.pid, %command, "terminal started");
                    self.pty.terms.insert(id, t);
                }
                Err(e) => {
                    tracing::warn!(pane = id, "cannot start {command:?}: {e:#}");
                    self.pty.failed.insert(id);
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
                let Some(t) = self.pty.terms.get_mut(&pane) else {
                    return;
                };
                let fed = t.feed(&bytes);
                let Some(name) = self.session_of(pane) else {
                    return;
                };
                let fed_title = fed.title.is_some();
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
                // Plain output changes only the pane's content; a title or a bell shows in
                // its border or the tab bar, so the whole screen is drawn again.
                let whole = fed_title || fed.bell;
                if let Some(s) = self.sessions.get_mut(&name) {
                    if s.visible().iter().any(|(id, _)| *id == pane) {
                        if whole {
                            s.dirty = true;
                        } else {
                            s.content.entry(pane).or_insert(None);
                        }
                    }
                }
            }
            PtyNote::Exited { pane, how } => {
                if let Some(t) = self.pty.terms.get_mut(&pane) {
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

    /// Gives every visible terminal pane of `name` what changed on its screen (the damaged rows,
    /// or a whole frame), if anything did.
    pub(super) fn refresh_frames(&mut self, name: &str) {
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        for (id, _) in s.visible() {
            let Some(t) = self.pty.terms.get_mut(&id) else {
                continue;
            };
            if !t.dirty {
                continue;
            }
            t.dirty = false;
            let update = t.screen.update(false);
            if let Some(rows) = s.content.get_mut(&id) {
                *rows = match &update {
                    EngineEvent::TermRows(r) => Some(r.changed.iter().map(|(y, _)| *y).collect()),
                    _ => None,
                };
            }
            if let Some(p) = s.panes.get_mut(&id) {
                p.on_engine(update, &mut Cx::default());
            }
        }
    }

    /// Writes the scrollback of terminals (only those with new output if `only_unsaved`) and
    /// notes each one's working directory in its pane, so both survive a crash.
    pub(super) fn save_scrollbacks(&mut self, only_unsaved: bool) {
        let Some(store) = &self.store else { return };
        let mut cwds = Vec::new();
        for (id, t) in self.pty.terms.iter_mut() {
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
