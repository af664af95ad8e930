/*!
What starts runs besides a person: schedules (one timer to the next slot; catch-up by
`Schedule::due`, the slot written with the run it starts), files (inotify through `notify` on
each trigger's folder, or on its nearest existing parent until the folder appears; debounced
per file; a look at the folder when the server starts and whenever its watch comes back, so a
file that landed meanwhile still starts its run, and a file seen as it is never starts two),
and work items entering a state (the queue service calls `workflow_item_moved` after every
move, and human steps waiting on the item hear of it the same way).
*/

use super::*;

impl Server {
    /// Schedules: fires what is due (once per slot, catch-up once), remembers next slots.
    pub(super) fn workflow_schedules(&mut self) {
        let now = now_ms();
        let scheds: Vec<(Workflow, String, bool)> = self
            .wf
            .defs
            .iter()
            .flat_map(|w| {
                w.triggers.iter().filter_map(move |t| match t {
                    Trigger::Schedule { cron, catch_up } => {
                        Some((w.clone(), cron.clone(), *catch_up))
                    }
                    _ => None,
                })
            })
            .collect();
        let mut next = Vec::new();
        for (w, cron, catch_up) in scheds {
            let Ok(s) = Schedule::parse(&cron) else {
                continue;
            };
            let last = match self.runs_store().and_then(|st| {
                st.schedule_last(&w.name, &cron)
                    .map_err(|e| format!("{e:#}"))
            }) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("schedule of {}: {e}", w.name);
                    continue;
                }
            };
            let d = s.due(last, now, catch_up);
            if d.skipped > 0 {
                tracing::info!(workflow = %w.name, skipped = d.skipped, "schedule slots missed while down were not run (one runs)");
            }
            match d.fire {
                Some((slot, late)) => {
                    let t = serde_json::json!({
                        "kind": "schedule",
                        "slot": crate::engine::queue::duration::show_time(slot),
                        "time": slot,
                        "missed": late,
                    });
                    let name = w.name.clone();
                    if let Err(e) = self.start_run(w, t, Some((&cron, d.last))) {
                        tracing::warn!("schedule of {name}: {e}");
                    }
                    next.push((name, cron, d.next));
                }
                None => {
                    if last != Some(d.last) {
                        if let Err(e) = self.runs_store().and_then(|st| {
                            st.set_schedule_last(&w.name, &cron, d.last)
                                .map_err(|e| format!("{e:#}"))
                        }) {
                            tracing::warn!("schedule of {}: {e}", w.name);
                        }
                    }
                    next.push((w.name.clone(), cron, d.next));
                }
            }
        }
        self.wf.next_fire = next;
    }

    /// The folders file triggers watch (or, for one that does not exist, its nearest
    /// existing parent, until it appears), and the workflows folder.
    pub(super) fn workflow_watch(&mut self) {
        // A folder may appear between looking for it and watching its parent (whose watch
        // then never hears of it): look again after watching, until the two agree.
        let dir = self.workflows_dir();
        let was_watched = self.wf.watched.contains(&dir);
        for _ in 0..4 {
            self.watch_once();
            if self.wf.watcher.is_none() || self.watch_wanted() == self.wf.watched {
                break;
            }
        }
        // The folder itself is watched only from now: a file written into it between the
        // last read and now was heard by no one, so it is read once more.
        if !was_watched && self.wf.watched.contains(&dir) {
            let (defs, errors) = load_dir(&dir);
            if defs != self.wf.defs || errors != self.wf.errors {
                self.workflow_apply(defs, errors, false);
            }
        }
    }

    /// The folders to watch now.
    fn watch_wanted(&self) -> Vec<PathBuf> {
        let mut want: Vec<PathBuf> = vec![nearest_existing(&self.workflows_dir())];
        for w in &self.wf.defs {
            for t in &w.triggers {
                if let Trigger::File { path, .. } = t {
                    want.push(nearest_existing(Path::new(&expand_home(path))));
                }
            }
        }
        want.sort();
        want.dedup();
        want
    }

    fn watch_once(&mut self) {
        let want = self.watch_wanted();
        if want == self.wf.watched && self.wf.watcher.is_some() {
            return;
        }
        use notify::Watcher;
        let tx = self.events.clone();
        let mut watcher = match notify::recommended_watcher(move |res| {
            let _ = tx.send(Ev::Workflow(WfEv::Fs(res)));
        }) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("file triggers cannot watch folders: {e}");
                self.wf.watcher = None;
                return;
            }
        };
        for dir in &want {
            if let Err(e) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {e}", dir.display());
            }
        }
        self.wf.watcher = Some(watcher);
        self.wf.watched = want;
    }

    /// Files that landed or changed while no server ran start their runs now; the first look
    /// of a new workflow only records what is there.
    pub(super) fn workflow_files_at_start(&mut self) {
        let triggers: Vec<(String, PathBuf, String)> = self.file_triggers();
        for (w, dir, glob) in triggers {
            let first = !self
                .runs_store()
                .and_then(|s| s.has_seen_any(&w).map_err(|e| format!("{e:#}")))
                .unwrap_or(true);
            if first {
                let _ = self
                    .runs_store()
                    .and_then(|s| s.file_seen(&w, "", 0, 0).map_err(|e| format!("{e:#}")));
            }
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| matches_glob(p, &glob))
                .collect();
            files.sort();
            for f in files {
                if first {
                    if let Some((m, s)) = stamp(&f) {
                        let _ = self.runs_store().and_then(|st| {
                            st.file_seen(&w, &f.to_string_lossy(), m, s)
                                .map_err(|e| format!("{e:#}"))
                        });
                    }
                } else {
                    self.file_settled(&w, &f);
                }
            }
        }
    }

    pub(super) fn file_triggers(&self) -> Vec<(String, PathBuf, String)> {
        self.wf
            .defs
            .iter()
            .flat_map(|w| {
                w.triggers.iter().filter_map(move |t| match t {
                    Trigger::File { path, glob, .. } => Some((
                        w.name.clone(),
                        PathBuf::from(expand_home(path)),
                        glob.clone(),
                    )),
                    _ => None,
                })
            })
            .collect()
    }

    /// A change in a watched folder.
    pub(super) fn workflow_fs(&mut self, ev: notify::Result<notify::Event>) {
        let ev = match ev {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("file watch: {e}");
                return;
            }
        };
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
        let wdir = self.workflows_dir();
        // A workflow file written, made, moved or deleted (not merely opened: reading the
        // files to reload them must not reload them again).
        let edited = matches!(
            ev.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(_)
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        if edited
            && ev.paths.iter().any(|p| {
                (p.starts_with(&wdir) && p.extension().is_some_and(|x| x == "toml")) || *p == wdir
            })
        {
            self.workflow_reload(false);
        }
        // A folder that appeared (or went): watch again.
        if matches!(ev.kind, EventKind::Create(_) | EventKind::Remove(_))
            && ev.paths.iter().any(|p| {
                self.file_triggers()
                    .iter()
                    .any(|(_, d, _)| d == p || d.starts_with(p))
            })
        {
            self.wf.watched.clear();
            self.workflow_watch();
            // Files that landed before the watch was back.
            self.workflow_files_at_start();
            if ev.paths.iter().any(|p| !p.exists()) {
                tracing::warn!("a watched folder went away; its trigger waits for it to come back");
            }
        }
        let relevant = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Create(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Modify(ModifyKind::Data(_))
                | EventKind::Modify(ModifyKind::Any)
        );
        if !relevant {
            return;
        }
        let triggers = self.file_triggers();
        let now = now_ms();
        for p in &ev.paths {
            let Some(parent) = p.parent() else { continue };
            for (w, dir, glob) in &triggers {
                if parent == dir && matches_glob(p, glob) {
                    let debounce = self
                        .workflow_def(w)
                        .and_then(|d| {
                            d.triggers.iter().find_map(|t| match t {
                                Trigger::File { debounce_ms, .. } => Some(*debounce_ms),
                                _ => None,
                            })
                        })
                        .unwrap_or(crate::engine::workflow::def::DEFAULT_DEBOUNCE_MS);
                    self.wf
                        .settling
                        .insert((w.clone(), p.clone()), now + debounce as i64);
                }
            }
        }
    }

    /// A file has been quiet for its debounce: a run, unless it is as already seen.
    pub(super) fn file_settled(&mut self, w: &str, path: &Path) {
        let Some((mtime, size)) = stamp(path) else {
            return;
        };
        let seen = match self.runs_store().and_then(|s| {
            s.file_seen(w, &path.to_string_lossy(), mtime, size)
                .map_err(|e| format!("{e:#}"))
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("file trigger of {w}: {e}");
                return;
            }
        };
        if seen {
            return;
        }
        let Some(def) = self.workflow_def(w).cloned() else {
            return;
        };
        let t = serde_json::json!({
            "kind": "file",
            "path": path.to_string_lossy(),
            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "dir": path.parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default(),
            "time": now_ms(),
        });
        tracing::info!(workflow = %w, path = %path.display(), "file trigger");
        if let Err(e) = self.start_run(def, t, None) {
            tracing::warn!("file trigger of {w}: {e}");
        }
    }

    /// A work item moved (or was made): human steps waiting on it, and item triggers.
    pub(in crate::server) fn workflow_item_moved(&mut self, item: &crate::engine::queue::Item) {
        if !self.wf.started {
            return;
        }
        // Human steps.
        let waiting = self
            .steps_where(|s| s.state == StepState::Waiting && s.item.as_deref() == Some(&item.id));
        for (id, i) in waiting {
            self.human_moved(&id, i, item);
        }
        // Item triggers (not for items a run of the same workflow made: no loops).
        let made_by: Option<String> = item
            .links
            .iter()
            .find_map(|l| l.strip_prefix("workflow:").map(str::to_string));
        let state = item.state.name();
        let starts: Vec<Workflow> = self
            .wf
            .defs
            .iter()
            .filter(|w| made_by.as_deref() != Some(w.name.as_str()))
            .filter(|w| {
                w.triggers.iter().any(|t| match t {
                    Trigger::Item {
                        state: s,
                        tag,
                        project,
                    } => {
                        s == state
                            && tag.as_ref().is_none_or(|t| item.tags.contains(t))
                            && project.as_ref().is_none_or(|p| *p == item.project)
                    }
                    _ => false,
                })
            })
            .cloned()
            .collect();
        for def in starts {
            let t = serde_json::json!({
                "kind": "item",
                "id": item.id,
                "title": item.title,
                "state": state,
                "tags": item.tags,
                "project": item.project,
                "assignee": item.assignee,
                "time": now_ms(),
            });
            let name = def.name.clone();
            if let Err(e) = self.start_run(def, t, None) {
                tracing::warn!("item trigger of {name}: {e}");
            }
        }
    }
}

pub(super) fn nearest_existing(p: &Path) -> PathBuf {
    let mut p = p.to_path_buf();
    while !p.is_dir() {
        match p.parent() {
            Some(up) => p = up.to_path_buf(),
            None => return PathBuf::from("/"),
        }
    }
    p
}

pub(super) fn matches_glob(p: &Path, glob: &str) -> bool {
    let Some(name) = p.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    !name.starts_with('.')
        && glob::Pattern::new(glob).is_ok_and(|g| g.matches(&name))
        && p.is_file()
}

/// A file's mtime (ms) and size, when it is a file.
pub(super) fn stamp(p: &Path) -> Option<(i64, i64)> {
    let m = std::fs::metadata(p).ok()?;
    if !m.is_file() {
        return None;
    }
    use std::os::unix::fs::MetadataExt;
    Some((
        m.mtime() * 1000 + m.mtime_nsec() / 1_000_000,
        m.size() as i64,
    ))
}
