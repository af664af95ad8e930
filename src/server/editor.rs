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
        std::thread::spawn(move || {
            let ev = match text::load(std::path::Path::new(&path)) {
                Ok(l) => EditorEvent::Opened {
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
