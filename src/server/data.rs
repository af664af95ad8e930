/*!
The data engine's side of the server: requests from grids and SQL editors to the `data`
worker, its events routed back to the pane that asked, and the file picker and SQL history
that feed them.
*/

use super::*;
use fieldkit_panes::SqlRequest;
use services::ServiceSpec;

/// The data service's own state.
#[derive(Default)]
pub(super) struct Data {
    /// Grid -> the SQL history entry whose rows it is counting.
    pub(super) counting: HashMap<u64, i64>,
}

/// The data engine's service: DuckDB in the `data` worker.
pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Data),
    worker: Some(WorkerKind::Data),
    opened: data_opened,
    frame: data_frame,
    lost: |srv, why| {
        srv.workflow_data_lost(why);
        srv.data_broadcast(|| {
            EngineEvent::Data(DataEvent::Lost {
                why: why.to_string(),
            })
        })
    },
    save: services::nothing_saved,
};

/// A data pane opened: restored ones need DuckDB at once (they show what they showed); a new
/// one, when DuckDB is up already, gets the `Ready` that makes an editor read the catalog
/// (completion and ask-data need it). Otherwise `Ready` comes with the worker's hello.
fn data_opened(srv: &mut Server, name: &str, pane: u64, at_start: bool) {
    if at_start {
        srv.spawn_worker(WorkerKind::Data);
    } else if srv.worker_ready(WorkerKind::Data) {
        srv.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Ready, cx));
    }
}

fn data_frame(srv: &mut Server, bytes: &[u8]) {
    match wire::decode::<DataOut>(bytes) {
        Ok(DataOut::Hello {
            pid,
            detail,
            version,
        }) => {
            if srv.worker_hello(WorkerKind::Data, pid, detail, version) {
                srv.data_broadcast(|| EngineEvent::Ready);
            }
        }
        Ok(DataOut::Event { pane, ev }) => srv.data_event(pane, ev),
        Err(e) => tracing::warn!("undecodable frame from the data worker: {e}"),
    }
}

impl Server {
    /// A query from the history got its row count (or failed): the entry keeps the count.
    fn note_history_rows(&mut self, pane: u64, ev: &DataEvent) {
        let rows = match ev {
            DataEvent::Loaded { rows: Some(n), .. } | DataEvent::Counted { rows: n, .. } => {
                Some(*n)
            }
            DataEvent::Error { .. } | DataEvent::Done { .. } | DataEvent::Lost { .. } => None,
            _ => return,
        };
        let Some(id) = self.data.counting.remove(&pane) else {
            return;
        };
        if let (Some(n), Some(store)) = (rows, &self.store) {
            if let Err(e) = store.set_history_rows(id, n) {
                tracing::warn!("history row count not kept: {e}");
            }
        }
    }

    /// Sends a request to the data worker on behalf of pane `pane`, starting the worker first.
    pub(super) fn data_send(&mut self, pane: u64, req: DataRequest) {
        self.worker_send(WorkerKind::Data, &DataIn { pane, req });
    }

    /// The SQL editor's requests, served through the grid linked to it.
    pub(super) fn sql_request(&mut self, name: &str, editor: u64, req: SqlRequest) {
        match req {
            SqlRequest::Run { sql, dialect } => self.run_sql(name, editor, sql, dialect),
            SqlRequest::Cancel => {
                let grid = self
                    .sessions
                    .get(name)
                    .and_then(|s| s.links.get(&editor).copied());
                if let Some(g) = grid {
                    self.data_send(g, DataRequest::Cancel);
                }
            }
            SqlRequest::History => self.sql_history(name),
            SqlRequest::CompletePath { partial } => {
                let start = self.sessions.get(name).and_then(|s| s.start_dir.clone());
                let items = popup::path_candidates(&partial, start.as_deref());
                self.pane_call_id(name, editor, |p, cx| {
                    p.on_engine(
                        EngineEvent::Completions {
                            typed: partial,
                            items,
                        },
                        cx,
                    )
                });
            }
        }
    }

    /// Gives every pane that needs DuckDB (by the pane registry) the event `make` builds.
    pub(super) fn data_broadcast(&mut self, make: impl Fn() -> EngineEvent) {
        for (name, id) in self.panes_needing(fieldkit_panes::Engine::Data) {
            self.pane_call_id(&name, id, |p, cx| p.on_engine(make(), cx));
        }
    }

    /// Routes a data event to its pane, and what matters of it to the editor linked to a grid.
    pub(super) fn data_event(&mut self, pane: u64, ev: DataEvent) {
        if pane >= workflows_lane_base() {
            self.workflow_data(pane, ev);
            return;
        }
        self.note_history_rows(pane, &ev);
        let Some(name) = self.session_of(pane) else {
            return;
        };
        let editor = self
            .sessions
            .get(&name)
            .and_then(|s| s.links.iter().find(|(_, g)| **g == pane).map(|(e, _)| *e));
        if let Some(e) = editor {
            let relevant = matches!(
                ev,
                DataEvent::Loaded { .. }
                    | DataEvent::Counted { .. }
                    | DataEvent::Error { .. }
                    | DataEvent::Done { .. }
            );
            // The model's SQL that DuckDB refused is asked again with the error; a result
            // ends the question.
            if let DataEvent::Error { message, .. } = &ev {
                if self.ask_data_failed(&name, e, message) {
                    // The grid shows the refusal; the editor's footer counts the new answer.
                    self.pane_call_id(&name, pane, |p, cx| p.on_engine(EngineEvent::Data(ev), cx));
                    self.mark(&name);
                    return;
                }
            } else if matches!(ev, DataEvent::Loaded { .. } | DataEvent::Counted { .. }) {
                self.ask_data_done(e);
            }
            if relevant {
                let copy = ev.clone();
                self.pane_call_id(&name, e, |p, cx| p.on_engine(EngineEvent::Data(copy), cx));
            }
        }
        self.pane_call_id(&name, pane, |p, cx| p.on_engine(EngineEvent::Data(ev), cx));
        self.mark(&name);
    }

    /// Shows `sql` in the grid linked to editor `editor`, opening one below it if needed.
    pub(super) fn run_sql(
        &mut self,
        name: &str,
        editor: u64,
        sql: String,
        dialect: Option<String>,
    ) {
        let entry = match &self.store {
            Some(store) => match store.add_history(&sql, dialect.as_deref()) {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::warn!("history not kept: {e}");
                    None
                }
            },
            None => None,
        };
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        let linked = s
            .links
            .get(&editor)
            .copied()
            .filter(|g| s.panes.contains_key(g));
        let grid = match linked {
            Some(g) => g,
            None => {
                let pane: Box<dyn fieldkit_panes::Pane> = Box::new(fieldkit_panes::GridPane::new());
                let Some(g) =
                    s.insert_beside(editor, pane, crate::layout::Axis::Vertical, &mut self.ids)
                else {
                    return;
                };
                s.links.insert(editor, g);
                g
            }
        };
        s.dirty = true;
        if let Some(id) = entry {
            self.data.counting.insert(grid, id);
        }
        self.pane_call_id(name, grid, |p, cx| {
            p.on_engine(EngineEvent::ShowQuery { sql, dialect }, cx)
        });
        self.save_all();
    }

    /// The SQL history in a picker; the choice goes into the focused editor.
    pub(super) fn sql_history(&mut self, name: &str) {
        let history = self
            .store
            .as_ref()
            .and_then(|s| s.history(5000).ok())
            .unwrap_or_default();
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        if history.is_empty() {
            s.popup = Some(popup::message("SQL history", "No queries run yet."));
            s.dirty = true;
            return;
        }
        let items = history
            .iter()
            .map(|h| fieldkit_widgets::PickerItem {
                text: popup::one_line(&h.sql),
                detail: h.detail(),
                key: String::new(),
            })
            .collect();
        s.popup = Some(Popup::Pick {
            title: "SQL history".into(),
            picker: fieldkit_widgets::Picker::new(items),
            then: PickThen::Insert(history.into_iter().map(|h| h.sql).collect()),
        });
        s.dirty = true;
    }

    /// Opens `path` in a grid: the focused grid if it is empty, else a new split.
    pub(super) fn open_file(&mut self, name: &str, path: &str) -> Result<(), String> {
        let full = self
            .sessions
            .get(name)
            .map(|s| s.resolve_path(path))
            .unwrap_or_else(|| path.to_string());
        let path = full.as_str();
        let p = std::path::Path::new(path);
        if !p.exists() {
            return Err(format!("{path}: no such file"));
        }
        let source = fieldkit_panes::data::Source::File(path.to_string());
        let Some(focus) = self.sessions.get(name).map(|s| s.focused()) else {
            return Err(format!("no session {name:?}"));
        };
        // A grid showing nothing takes the file; anything else gets a grid beside it.
        let ev = EngineEvent::OpenSource(source.clone());
        let taken = self.pane_call_id(name, focus, |p, cx| p.on_engine(ev, cx));
        let Some(s) = self.sessions.get_mut(name) else {
            return Err(format!("no session {name:?}"));
        };
        s.changed = true;
        s.dirty = true;
        if taken == Outcome::Ignored {
            let pane = Box::new(fieldkit_panes::GridPane::with_source(
                source,
                Default::default(),
            ));
            let id = s.open_pane(pane, &mut self.ids);
            self.pane_call_id(name, id, |p, cx| p.on_action(&Action::Refresh, cx));
        }
        self.save_all();
        Ok(())
    }

    /// A fuzzy picker over the data files under the focused terminal's folder, else under
    /// the folder of a terminal in the tab, else where the client was started, else home; its
    /// title says which.
    pub(super) fn file_picker(&mut self, name: &str) {
        let start = self.sessions.get(name).and_then(|s| {
            let focus = s.focused();
            std::iter::once(focus)
                .chain(s.tab().layout.leaves())
                .find_map(|id| self.pty.terms.get(&id).and_then(|t| t.cwd()))
                .or_else(|| s.start_dir.clone())
        });
        let start = start
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(std::path::PathBuf::from))
            .unwrap_or_else(|| "/".into());
        let files = data_files(&start, 20_000);
        let Some(s) = self.sessions.get_mut(name) else {
            return;
        };
        if files.is_empty() {
            s.popup = Some(popup::message(
                "open-file",
                &format!(
                    "No data files (csv, tsv, parquet, json, xlsx) under {}. Type a path: open-file PATH in the palette.",
                    start.display()
                ),
            ));
        } else {
            let items = files
                .into_iter()
                .map(|f| fieldkit_widgets::PickerItem {
                    text: f,
                    detail: String::new(),
                    key: String::new(),
                })
                .collect();
            s.popup = Some(Popup::Pick {
                title: format!("open a data file under {}", start.display()),
                picker: fieldkit_widgets::Picker::new(items),
                then: PickThen::Action("open-file".into()),
            });
        }
        s.dirty = true;
    }
}

/// Data files under `root` (relative paths, nearest first), at most `limit` entries looked at.
pub(super) fn data_files(root: &std::path::Path, limit: usize) -> Vec<String> {
    const EXT: &[&str] = &[
        "csv", "tsv", "tab", "parquet", "pq", "json", "ndjson", "jsonl", "xlsx", "xls", "ods",
    ];
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    let mut seen = 0;
    while let Some((dir, depth)) = queue.pop_front() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > limit {
                return out;
            }
            let p = e.path();
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 5 => queue.push_back((p, depth + 1)),
                Ok(t) if t.is_file() => {
                    let ext = p
                        .extension()
                        .map(|x| x.to_string_lossy().to_lowercase())
                        .unwrap_or_default();
                    if EXT.contains(&ext.as_str()) {
                        out.push(p.to_string_lossy().into_owned());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Pane ids from here up are workflow sql lanes.
fn workflows_lane_base() -> u64 {
    super::workflows::LANE_BASE
}
