/*!
The editor's service: files read and written for editor panes, off the server loop (a 100 MB
file takes a moment either way), by the rules in `engine::text` (refusals in a sentence; saves
atomic, through symlinks to their targets, in place for hard-linked files, never over a file
changed since it was read unless asked). `edit PATH` and `open-file` for a file that is not data
find the editor to open it in: the focused one, else one in the tab, else a new one beside.
*/

use super::*;
use crate::engine::text;
use fieldkit_panes::editor::{EditorEvent, EditorRequest};
use services::ServiceSpec;

/// Files the editor's picker lists at most.
const PICK_FILES: usize = 50_000;

/// How long after the last change unsaved text is kept in state.db.
const KEEP_AFTER: Duration = Duration::from_secs(2);

/// The editor service's own state: panes whose text changed since it was last kept.
#[derive(Default)]
pub(super) struct EditorState {
    dirty: std::collections::HashSet<u64>,
    keep_at: Option<Instant>,
}

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Editor),
    worker: None,
    opened: services::nothing_opened,
    frame: services::no_frames,
    lost: services::nothing_lost,
    save: services::nothing_saved,
};

impl Server {
    /// An editor pane's request.
    pub(super) fn editor_request(&mut self, name: &str, pane: u64, req: EditorRequest) {
        match req {
            EditorRequest::Open { path } => self.editor_read(pane, path),
            EditorRequest::Save {
                path,
                text,
                crlf,
                stamp,
                force,
            } => {
                let tx = self.events.clone();
                let db = self.dirs.state_db();
                let full = self
                    .sessions
                    .get(name)
                    .map(|s| s.resolve_path(&path))
                    .unwrap_or(path);
                std::thread::spawn(move || {
                    let ev =
                        match text::save(std::path::Path::new(&full), &text, crlf, stamp, force) {
                            Ok(stamp) => {
                                tracing::info!(path = %full, "editor: saved");
                                // Saved: the copy kept for a crash goes.
                                if let Err(e) = crate::store::kept::forget(&db, pane, &full) {
                                    tracing::warn!("editor: kept copy not forgotten: {e:#}");
                                }
                                EditorEvent::Saved { path: full, stamp }
                            }
                            Err(e) => {
                                let (why, changed) = match e {
                                    text::SaveError::Changed(w) => (w, true),
                                    text::SaveError::Failed(w) => (w, false),
                                };
                                tracing::warn!(path = %full, "editor: not saved: {why}");
                                EditorEvent::SaveFailed {
                                    path: full,
                                    why,
                                    changed,
                                }
                            }
                        };
                    let _ = tx.send(Ev::Editor { pane, ev });
                });
            }
            EditorRequest::Changed => {
                self.editor.dirty.insert(pane);
                self.editor.keep_at = Some(Instant::now() + KEEP_AFTER);
            }
            EditorRequest::Keep(bufs) => {
                let db = self.dirs.state_db();
                std::thread::spawn(move || {
                    for b in bufs {
                        let path = b.path.unwrap_or_default();
                        let r = if b.modified {
                            crate::store::kept::keep(
                                &db,
                                pane,
                                &crate::store::kept::Kept {
                                    path: path.clone(),
                                    text: b.text.to_string(),
                                    crlf: b.crlf,
                                    stamp: b.stamp,
                                    history: b.history,
                                },
                            )
                        } else {
                            crate::store::kept::forget(&db, pane, &path)
                        };
                        if let Err(e) = r {
                            tracing::warn!(path = %path, "editor: unsaved text not kept: {e:#}");
                        }
                    }
                });
            }
            EditorRequest::Recover => {
                let db = self.dirs.state_db();
                let tx = self.events.clone();
                std::thread::spawn(move || match crate::store::kept::kept(&db, pane) {
                    Ok(all) => {
                        for k in all {
                            tracing::info!(pane, path = %k.path, "editor: unsaved text recovered");
                            let ev = EditorEvent::Recovered {
                                path: (!k.path.is_empty()).then_some(k.path),
                                text: ropey::Rope::from(k.text),
                                crlf: k.crlf,
                                stamp: k.stamp,
                                history: k.history,
                            };
                            let _ = tx.send(Ev::Editor { pane, ev });
                        }
                    }
                    Err(e) => tracing::warn!("editor: kept text not read: {e:#}"),
                });
            }
            EditorRequest::KeepUndo {
                path,
                stamp,
                history,
            } => {
                let db = self.dirs.state_db();
                std::thread::spawn(move || {
                    if let Err(e) = crate::store::kept::keep_undo(&db, &path, stamp, &history) {
                        tracing::warn!(path = %path, "editor: undo history not kept: {e:#}");
                    }
                });
            }
            EditorRequest::Pick { near } => self.editor_picker(name, near),
            EditorRequest::Paste => {
                let text = self.paste.clone().unwrap_or_default();
                self.pane_call_id(name, pane, |p, cx| {
                    p.on_engine(EngineEvent::Editor(EditorEvent::Paste(text)), cx)
                });
            }
        }
    }

    /// Reads `path` for editor pane `pane` on a thread of its own.
    fn editor_read(&mut self, pane: u64, path: String) {
        let tx = self.events.clone();
        let db = self.dirs.state_db();
        std::thread::spawn(move || {
            let ev = match text::load(std::path::Path::new(&path)) {
                Ok(l) => EditorEvent::Opened {
                    // The undo steps kept when it was last saved here, if it is unchanged.
                    history: l.stamp.and_then(|stamp| {
                        crate::store::kept::undo_for(&db, &path, stamp)
                            .inspect_err(|e| {
                                tracing::warn!(path = %path, "editor: undo history not read: {e:#}")
                            })
                            .ok()
                            .flatten()
                    }),
                    path,
                    text: l.text,
                    crlf: l.crlf,
                    stamp: l.stamp,
                    read_only: l.read_only,
                },
                Err(why) => EditorEvent::Refused { path, why },
            };
            let _ = tx.send(Ev::Editor { pane, ev });
        });
    }

    /// A file read or written: to its pane, wherever it is now.
    pub(super) fn editor_event(&mut self, pane: u64, ev: EditorEvent) {
        let Some(name) = self.session_of(pane) else {
            return;
        };
        self.pane_call_id(&name, pane, |p, cx| {
            p.on_engine(EngineEvent::Editor(ev), cx)
        });
        let Some(s) = self.sessions.get_mut(&name) else {
            return;
        };
        // Which files are open is part of the layout.
        s.changed = true;
        self.mark(&name);
    }

    /// When unsaved text is next kept (a moment after the last change).
    pub(super) fn editor_next(&self) -> Option<Duration> {
        self.editor
            .keep_at
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Typing paused: every editor whose text changed hands over what to keep.
    pub(super) fn editor_tick(&mut self) {
        self.editor.keep_at = None;
        for pane in std::mem::take(&mut self.editor.dirty) {
            if let Some(name) = self.session_of(pane) {
                self.pane_call_id(&name, pane, |p, cx| {
                    p.on_engine(EngineEvent::Editor(EditorEvent::KeepNow), cx)
                });
            }
        }
    }

    /// At start: kept text of panes that no longer exist goes.
    pub(super) fn editor_start(&mut self) {
        let panes: Vec<u64> = self
            .sessions
            .values()
            .flat_map(|s| s.panes.keys().copied())
            .collect();
        match crate::store::kept::forget_except(&self.dirs.state_db(), &panes) {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "editor: kept text of closed panes forgotten"),
            Err(e) => tracing::warn!("editor: kept text not tidied: {e:#}"),
        }
    }

    /// A fuzzy picker over the files under the folder of a terminal in the tab (else `near`,
    /// the shown file's folder; else where the client started; else home), walked as git does
    /// (`.gitignore`, `.ignore` and hidden files left out), at most `PICK_FILES` files.
    fn editor_picker(&mut self, name: &str, near: Option<String>) {
        let Some(s) = self.sessions.get(name) else {
            return;
        };
        let root = s
            .tab()
            .layout
            .leaves()
            .into_iter()
            .find_map(|id| self.pty.terms.get(&id).and_then(|t| t.cwd()))
            .or(near)
            .or_else(|| s.start_dir.clone())
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into());
        let mut items = Vec::new();
        for entry in ignore::WalkBuilder::new(&root).max_depth(Some(16)).build() {
            let Ok(e) = entry else { continue };
            if e.file_type().is_some_and(|t| t.is_file()) {
                items.push(fieldkit_widgets::PickerItem {
                    text: e.path().to_string_lossy().into_owned(),
                    detail: String::new(),
                    key: String::new(),
                });
                if items.len() >= PICK_FILES {
                    break;
                }
            }
        }
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        s.popup = Some(if items.is_empty() {
            popup::message(
                "find-file",
                &format!("No files under {root} (hidden and ignored ones are left out). Type a path: edit PATH in the palette."),
            )
        } else {
            Popup::Pick {
                title: format!("edit a file under {root}"),
                picker: fieldkit_widgets::Picker::new(items),
                then: PickThen::Action("edit".into()),
            }
        });
        s.dirty = true;
    }

    /// `edit PATH`: in the focused editor, else an editor of the tab, else a new one beside.
    pub(super) fn edit_file(&mut self, name: &str, path: &str) -> Result<(), String> {
        let Some(s) = self.sessions.get_mut(name) else {
            return Err(format!("no session {name:?}"));
        };
        let full = s.resolve_path(path);
        if std::path::Path::new(&full).is_dir() {
            return Err(format!("{full} is a folder; edit opens a file"));
        }
        let focus = s.focused();
        let editor = std::iter::once(focus)
            .chain(s.tab().layout.leaves())
            .find(|id| {
                s.panes
                    .get(id)
                    .is_some_and(|p| p.kind() == PaneKind::Editor)
            });
        let id = match editor {
            Some(id) => {
                s.tabs[s.active].focus = id;
                id
            }
            None => {
                let pane: Box<dyn fieldkit_panes::Pane> =
                    Box::new(fieldkit_panes::editor::EditorPane::default());
                match s.insert_beside(focus, pane, crate::layout::Axis::Horizontal, &mut self.ids) {
                    Some(id) => id,
                    None => s.open_pane(
                        Box::new(fieldkit_panes::editor::EditorPane::default()),
                        &mut self.ids,
                    ),
                }
            }
        };
        // The editor takes the focus: what is typed next goes into the file.
        if let Some(tab) = s.tabs.iter().position(|t| t.layout.contains(id)) {
            s.active = tab;
            s.tabs[tab].focus = id;
        }
        s.dirty = true;
        s.changed = true;
        self.editor_read(id, full);
        self.greet_new_panes(false);
        Ok(())
    }
}
