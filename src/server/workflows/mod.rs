/*!
The workflow runner: in the server, durable, and quiet when nothing is due.

Definitions are read from `~/.config/fieldkit/workflows/` at start and whenever that folder
changes (a file that does not read is told, with its line, in a popup and by `doctor`; the others
go on). Runs live in queue.db (`store::runs`). The runner keeps the runs not over in memory and
moves each forward with one rule: write the transition, then act on it. So a server killed at
any moment resumes every run where its rows say it was (`resume`): a step marked done never runs
again, a try still marked running was interrupted and counts as a failed try, retried under the
step's policy (at least once, as the README says).

Triggers: by hand (`workflow run`, the runs pane's re-run), a schedule (one timer to the next
slot; catch-up by `schedule::Schedule::due`), a file (inotify through `notify`, debounced per
file, files that landed while the server was down found by a look at start), and a work item
entering a state (every queue move comes through the queue service, which calls
`workflow_item_moved`). The server's loop asks `workflow_next` for the one timer it needs:
retries, timeouts of sql and llm steps, debounced files, schedules; none when nothing is due.

`steps` runs each kind of step; `view` serves the runs pane, the CLI and the status pane.
*/

mod shell;
mod steps;
mod triggers;
mod view;

use super::services::{self, ServiceSpec};
use super::{Ev, Server};
use crate::engine::queue::now_ms;
use crate::engine::workflow::def::{load_dir, DefError};
use crate::engine::workflow::schedule::Schedule;
use crate::engine::workflow::{
    expand_home, OnError, Run, RunState, StepRec, StepState, Trigger, TryRec, Workflow,
};
use crate::store::runs::RunStore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub(super) use steps::Inflight;

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Workflows),
    worker: None,
    opened: services::nothing_opened,
    frame: services::no_frames,
    lost: services::nothing_lost,
    save: services::nothing_saved,
};

/// What reaches the server loop from the runner's helpers (shell steps, the file watcher).
pub enum WfEv {
    /// A shell step's try ended.
    Shell {
        run: String,
        step: usize,
        n: u32,
        /// The exit code, or why there is none.
        exit: Result<i32, String>,
        stdout: String,
        stderr: String,
    },
    /// Something changed in a watched folder.
    Fs(notify::Result<notify::Event>),
}

#[derive(Default)]
pub(super) struct Workflows {
    store: Option<RunStore>,
    pub(super) defs: Vec<Workflow>,
    pub(super) errors: Vec<DefError>,
    /// Runs not over, by id.
    active: HashMap<String, Run>,
    /// The try under way of each running step, by (run, step).
    inflight: HashMap<(String, usize), Inflight>,
    watcher: Option<notify::RecommendedWatcher>,
    /// Folders watched, and which of them stand in for a folder that does not exist yet.
    watched: Vec<PathBuf>,
    /// Files seen changing, and when they are quiet enough to fire (workflow, path) -> ms.
    settling: HashMap<(String, PathBuf), i64>,
    /// The next slot of each schedule (workflow, cron) -> ms.
    next_fire: Vec<(String, String, Option<i64>)>,
    /// Runs finished since start that failed, for the status pane.
    pub(super) failed: usize,
    /// Runs finished since start.
    finished: usize,
    /// The last request number sent on an sql lane.
    next_seq: u64,
    /// Sql lanes in use (an index into the data worker's pane ids above `LANE_BASE`).
    lanes: Vec<bool>,
    started: bool,
}

/// The data worker's "pane" ids of workflow sql steps: far above any real pane's.
pub(super) const LANE_BASE: u64 = 1 << 62;

impl Server {
    fn runs_store(&mut self) -> Result<&mut RunStore, String> {
        if self.wf.store.is_none() {
            let path = self.dirs.data.join("queue.db");
            let store = RunStore::open(&path)
                .map_err(|e| format!("workflow runs cannot open {}: {e:#}", path.display()))?;
            self.wf.store = Some(store);
        }
        self.wf
            .store
            .as_mut()
            .ok_or_else(|| "workflow runs are not open".to_string())
    }

    pub(super) fn workflows_dir(&self) -> PathBuf {
        self.dirs.config.join("workflows")
    }

    /// At start: definitions, runs left unfinished by the last server, schedules, watches.
    pub(super) fn workflows_start(&mut self) {
        let dir = self.workflows_dir();
        let has_runs = self.dirs.data.join("queue.db").exists();
        if !dir.is_dir() && !has_runs {
            // Nothing to run: watch for the folder to appear, nothing else.
            self.wf.started = true;
            self.workflow_watch();
            return;
        }
        self.wf.started = true;
        // Runs left by the last server first (they carry their own definitions), so nothing
        // started now is mistaken for one of them; then the definitions, their schedules and
        // watches, and files that landed meanwhile.
        let (defs, errors) = load_dir(&dir);
        self.wf.defs = defs.clone();
        self.workflow_resume();
        self.workflow_apply(defs, errors, true);
        self.workflow_files_at_start();
    }

    /// Reads the definitions again; errors are told (at start, to the next client).
    pub(super) fn workflow_reload(&mut self, at_start: bool) {
        let (defs, errors) = load_dir(&self.workflows_dir());
        self.workflow_apply(defs, errors, at_start);
    }

    /// Definitions read: in force from now on, their mistakes told, watches and schedules set.
    fn workflow_apply(&mut self, defs: Vec<Workflow>, errors: Vec<DefError>, at_start: bool) {
        let changed_errors = errors != self.wf.errors;
        tracing::info!(loaded = defs.len(), errors = errors.len(), "workflows read");
        for e in &errors {
            tracing::warn!("workflow not loaded: {e}");
        }
        self.wf.defs = defs;
        self.wf.errors = errors;
        self.mesh_workflows_changed();
        if changed_errors && !self.wf.errors.is_empty() {
            let text = format!(
                "These workflow files have mistakes; the other workflows run.\n\n{}\n\n`fieldkit doctor` lists them too.",
                self.wf
                    .errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            if at_start {
                self.notices.push(text);
            } else {
                let attached: Vec<String> = self
                    .sessions
                    .keys()
                    .filter(|n| !self.clients_of(n).is_empty())
                    .cloned()
                    .collect();
                for n in attached {
                    self.show(&n, "Workflows", &text);
                }
            }
        }
        self.workflow_watch();
        self.workflow_schedules();
        self.runs_broadcast();
    }

    /// Picks up runs a killed server left: a try still `running` was interrupted.
    fn workflow_resume(&mut self) {
        let (runs, bad) = match self
            .runs_store()
            .and_then(|s| s.unfinished().map_err(|e| format!("{e:#}")))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{e}");
                self.notices.push(e);
                return;
            }
        };
        for b in bad {
            tracing::warn!("a workflow run does not read and is left as it is: {b}");
        }
        let now = now_ms();
        let mut ids = Vec::new();
        for mut run in runs {
            let interrupted: Vec<usize> = run
                .steps
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    s.state == StepState::Running
                        && !matches!(
                            run.def.steps.get(*i).map(|d| &d.kind),
                            Some(crate::engine::workflow::StepKind::Human { .. })
                        )
                })
                .map(|(i, _)| i)
                .collect();
            tracing::info!(run = %run.id, workflow = %run.workflow, "workflow run resumed");
            let id = run.id.clone();
            self.wf.active.insert(id.clone(), run.clone());
            for i in interrupted {
                let n = run.steps[i].tries;
                self.end_try(
                    &id,
                    i,
                    n,
                    Err("interrupted: the server stopped during this try".into()),
                    String::new(),
                    String::new(),
                );
            }
            // A human step goes on waiting (its item is made if the server died first).
            if let Some(r) = self.wf.active.get(&id) {
                let waiting: Vec<usize> = r
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| matches!(s.state, StepState::Running | StepState::Waiting))
                    .map(|(i, _)| i)
                    .collect();
                for i in waiting {
                    self.human_resume(&id, i);
                }
            }
            run.state = RunState::Running;
            ids.push(id);
        }
        let _ = now;
        self.workflow_pump();
        // Retries due are started by the timer; runs with nothing under way move on.
        for id in ids {
            let idle = self.wf.active.get(&id).is_some_and(|r| {
                r.state == RunState::Running
                    && r.steps.iter().all(|s| {
                        !matches!(
                            s.state,
                            StepState::Running | StepState::Waiting | StepState::Retrying
                        )
                    })
            });
            if idle {
                self.advance(&id);
            }
        }
    }

    /// The time until the runner's next timer: a retry, a timeout, a settled file, a slot.
    pub(super) fn workflow_next(&self) -> Option<std::time::Duration> {
        let now = now_ms();
        let retries = self.wf.active.values().flat_map(|r| {
            r.steps
                .iter()
                .filter(|s| s.state == StepState::Retrying)
                .filter_map(|s| s.next_at)
        });
        let deadlines = self.wf.inflight.values().filter_map(Inflight::deadline);
        let files = self.wf.settling.values().copied();
        let slots = self.wf.next_fire.iter().filter_map(|(_, _, n)| *n);
        let at = retries.chain(deadlines).chain(files).chain(slots).min()?;
        Some(std::time::Duration::from_millis((at - now).max(0) as u64))
    }

    /// The runner's timer: whatever is due now.
    pub(super) fn workflow_tick(&mut self) {
        let now = now_ms();
        // Files quiet long enough.
        let ready: Vec<(String, PathBuf)> = self
            .wf
            .settling
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in ready {
            self.wf.settling.remove(&key);
            self.file_settled(&key.0, &key.1);
        }
        self.workflow_schedules();
        // Retries due.
        let due = self
            .steps_where(|s| s.state == StepState::Retrying && s.next_at.is_some_and(|t| t <= now));
        for (id, i) in due {
            self.start_try(&id, i);
        }
        // Sql and llm steps past their timeout.
        let late: Vec<(String, usize)> = self
            .wf
            .inflight
            .iter()
            .filter(|(_, f)| f.deadline().is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for (id, i) in late {
            self.step_timed_out(&id, i);
        }
    }

    /// The (run, step) of every step of a run under way that `pred` picks.
    pub(super) fn steps_where(&self, pred: impl Fn(&StepRec) -> bool) -> Vec<(String, usize)> {
        self.wf
            .active
            .values()
            .flat_map(|r| {
                r.steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| pred(s))
                    .map(|(i, _)| (r.id.clone(), i))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A workflow by name.
    pub(super) fn workflow_def(&self, name: &str) -> Option<&Workflow> {
        self.wf.defs.iter().find(|w| w.name == name)
    }

    /// Makes a run of `def` (queued until the concurrency limit lets it start). `slot`: the
    /// schedule slot it is for, written in the same transaction.
    pub(super) fn start_run(
        &mut self,
        def: Workflow,
        trigger: serde_json::Value,
        slot: Option<(&str, i64)>,
    ) -> Result<String, String> {
        let now = now_ms();
        let run = Run {
            id: crate::engine::queue::new_id(),
            workflow: def.name.clone(),
            steps: def
                .steps
                .iter()
                .map(|_| StepRec {
                    state: StepState::Pending,
                    tries: 0,
                    next_at: None,
                    output: serde_json::Value::Null,
                    item: None,
                    log: Vec::new(),
                })
                .collect(),
            def,
            trigger,
            state: RunState::Queued,
            created: now,
            started: None,
            ended: None,
            error: String::new(),
            cursor: 0,
            handling: None,
        };
        self.runs_store()?
            .insert(&run, slot)
            .map_err(|e| format!("the run could not be written to queue.db: {e:#}"))?;
        tracing::info!(run = %run.id, workflow = %run.workflow, "workflow run made");
        let id = run.id.clone();
        self.wf.active.insert(id.clone(), run);
        self.workflow_pump();
        self.runs_broadcast();
        Ok(id)
    }

    /// Starts queued runs while their workflows' concurrency allows, oldest first.
    fn workflow_pump(&mut self) {
        let mut queued: Vec<(i64, String)> = self
            .wf
            .active
            .values()
            .filter(|r| r.state == RunState::Queued)
            .map(|r| (r.created, r.id.clone()))
            .collect();
        queued.sort();
        for (_, id) in queued {
            let Some(run) = self.wf.active.get(&id) else {
                continue;
            };
            let limit = run.def.concurrency.max(1) as usize;
            let running = self
                .wf
                .active
                .values()
                .filter(|r| r.workflow == run.workflow && r.state == RunState::Running)
                .count();
            if running >= limit {
                continue;
            }
            let Some(run) = self.wf.active.get_mut(&id) else {
                continue;
            };
            run.state = RunState::Running;
            run.started = Some(now_ms());
            run.cursor = first_step(&run.def, None).unwrap_or(0);
            let snapshot = run.clone();
            if let Err(e) = self
                .runs_store()
                .and_then(|s| s.save(&snapshot).map_err(|e| format!("{e:#}")))
            {
                tracing::warn!("run {id} not started: {e}");
                continue;
            }
            self.advance(&id);
        }
    }

    /// Runs the step at the run's cursor if it has not run, else finishes the run.
    fn advance(&mut self, id: &str) {
        let Some(run) = self.wf.active.get(id) else {
            return;
        };
        if run.state != RunState::Running {
            return;
        }
        let i = run.cursor;
        match run.steps.get(i).map(|s| s.state) {
            Some(StepState::Pending) => self.start_try(id, i),
            Some(StepState::Done) => {
                if let Some(failed) = run.handling {
                    let why = format!(
                        "{}; on_error step {:?} ran",
                        run.error, run.def.steps[i].name
                    );
                    let _ = failed;
                    self.finish_run(id, RunState::Failed, why);
                } else {
                    match first_step(&run.def, Some(i)) {
                        Some(next) => {
                            if let Some(r) = self.wf.active.get_mut(id) {
                                r.cursor = next;
                            }
                            self.advance(id);
                        }
                        None => self.finish_run(id, RunState::Done, String::new()),
                    }
                }
            }
            None => self.finish_run(id, RunState::Done, String::new()),
            // Under way, waiting, retrying: their events move it on.
            _ => {}
        }
    }

    /// A try of step `i` ended. Stale ends (an old try, a run cancelled meanwhile) are
    /// ignored.
    pub(super) fn end_try(
        &mut self,
        id: &str,
        i: usize,
        n: u32,
        result: Result<serde_json::Value, String>,
        stdout: String,
        stderr: String,
    ) {
        self.wf.inflight.remove(&(id.to_string(), i));
        let now = now_ms();
        let Some(run) = self.wf.active.get_mut(id) else {
            return;
        };
        let Some(step) = run.steps.get_mut(i) else {
            return;
        };
        if step.tries != n || !matches!(step.state, StepState::Running | StepState::Waiting) {
            return;
        }
        let def = run.def.steps[i].clone();
        let started = step.log.last().map(|t| t.started).unwrap_or(now);
        let t = TryRec {
            n,
            started,
            ended: Some(now),
            outcome: match &result {
                Ok(_) => "ok".into(),
                Err(e) => e.clone(),
            },
            stdout,
            stderr,
        };
        let mut failed_for_good = None;
        match result {
            Ok(output) => {
                step.state = StepState::Done;
                step.output = output;
                step.next_at = None;
            }
            Err(why) => {
                if n <= def.retries {
                    let wait = def
                        .backoff_ms
                        .saturating_mul(1u64 << (n - 1).min(20))
                        .min(crate::engine::workflow::def::MAX_BACKOFF_MS);
                    step.state = StepState::Retrying;
                    step.next_at = Some(now + wait as i64);
                    tracing::info!(run = %id, step = %def.name, try_ = n, "step failed; retrying");
                } else {
                    step.state = StepState::Failed;
                    failed_for_good = Some(why);
                }
            }
        }
        if let Some(last) = step.log.last_mut().filter(|l| l.n == n) {
            *last = t.clone();
        } else {
            step.log.push(t.clone());
        }
        let snapshot = run.clone();
        if let Err(e) = self.runs_store().and_then(|s| {
            s.save_with_try(&snapshot, Some((i, &t)))
                .map_err(|e| format!("{e:#}"))
        }) {
            tracing::warn!("workflow run {id}: the end of a try was not written: {e}");
        }
        match failed_for_good {
            Some(why) => self.fail_step(id, i, why),
            None => self.advance(id),
        }
        self.runs_broadcast();
    }

    /// Step `i` failed for good: its on_error (or the workflow's), else the run fails.
    fn fail_step(&mut self, id: &str, i: usize, why: String) {
        let Some(run) = self.wf.active.get(id) else {
            return;
        };
        let step = &run.def.steps[i];
        let is_handler = run.handling.is_some();
        let target = step
            .on_error
            .clone()
            .or_else(|| (!is_handler).then(|| run.def.on_error.clone()).flatten());
        let tries = run.steps[i].tries;
        let error = format!(
            "step {} failed after {tries} {}: {why}",
            step.name,
            if tries == 1 { "try" } else { "tries" }
        );
        let (name, workflow, trigger) =
            (step.name.clone(), run.workflow.clone(), run.trigger.clone());
        match target {
            Some(OnError::Step(h)) => {
                let Some(hi) = run.def.steps.iter().position(|s| s.name == h) else {
                    self.finish_run(id, RunState::Failed, error);
                    return;
                };
                if let Some(r) = self.wf.active.get_mut(id) {
                    r.handling = Some(i);
                    r.error = error;
                    r.cursor = hi;
                    r.steps[hi].state = StepState::Pending;
                }
                self.advance(id);
            }
            Some(OnError::Workflow(w)) => {
                let msg = match self.workflow_def(&w).cloned() {
                    Some(def) => {
                        let t = serde_json::json!({
                            "kind": "error",
                            "workflow": workflow,
                            "run": id,
                            "step": name,
                            "message": why,
                            "trigger": trigger,
                        });
                        match self.start_run(def, t, None) {
                            Ok(r) => format!("{error}; workflow {w} started (run {})", short(&r)),
                            Err(e) => format!("{error}; workflow {w} could not start: {e}"),
                        }
                    }
                    None => format!("{error}; on_error workflow {w} is not loaded"),
                };
                self.finish_run(id, RunState::Failed, msg);
            }
            None => self.finish_run(id, RunState::Failed, error),
        }
    }

    /// The run is over: steps not run are marked skipped, the row written, the next queued
    /// run of its workflow may start.
    fn finish_run(&mut self, id: &str, state: RunState, error: String) {
        let Some(mut run) = self.wf.active.remove(id) else {
            return;
        };
        run.state = state;
        run.ended = Some(now_ms());
        if !error.is_empty() {
            run.error = error;
        }
        for s in &mut run.steps {
            if s.state == StepState::Pending {
                s.state = StepState::Skipped;
            }
        }
        if state == RunState::Failed {
            self.wf.failed += 1;
        }
        // The oldest finished runs beyond `KEEP_RUNS` go, now and then.
        self.wf.finished += 1;
        if self.wf.finished % 100 == 1 {
            match self
                .runs_store()
                .and_then(|s| s.trim().map_err(|e| format!("{e:#}")))
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "old workflow runs deleted"),
                Err(e) => tracing::warn!("old workflow runs not deleted: {e}"),
            }
        }
        tracing::info!(run = %run.id, workflow = %run.workflow, state = state.name(), error = %run.error, "workflow run over");
        if let Err(e) = self
            .runs_store()
            .and_then(|s| s.save(&run).map_err(|e| format!("{e:#}")))
        {
            tracing::warn!("workflow run {id}: its end was not written: {e}");
        }
        self.workflow_pump();
        self.runs_broadcast();
        if self.status_visible() {
            self.push_status();
        }
    }

    /// Cancels a run: written first, then each step under way is stopped.
    pub(super) fn cancel_run(&mut self, prefix: &str) -> Result<String, String> {
        let id = self.resolve_run(prefix)?;
        let Some(run) = self.wf.active.get_mut(&id) else {
            return Err(format!("run {} is over already", short(&id)));
        };
        let now = now_ms();
        let mut stops = Vec::new();
        for (i, s) in run.steps.iter_mut().enumerate() {
            if matches!(
                s.state,
                StepState::Running | StepState::Waiting | StepState::Retrying
            ) {
                s.state = StepState::Cancelled;
                if let Some(t) = s.log.last_mut().filter(|t| t.ended.is_none()) {
                    t.ended = Some(now);
                    t.outcome = "cancelled".into();
                }
                stops.push(i);
            }
        }
        let snapshot = run.clone();
        for i in &stops {
            if let Some(t) = snapshot.steps[*i].log.last() {
                let _ = self.runs_store().and_then(|s| {
                    s.save_with_try(&snapshot, Some((*i, t)))
                        .map_err(|e| format!("{e:#}"))
                });
            }
        }
        self.finish_run(&id, RunState::Cancelled, "cancelled by the user".into());
        for i in stops {
            if let Some(f) = self.wf.inflight.remove(&(id.clone(), i)) {
                self.stop_inflight(f);
            }
        }
        Ok(format!("{id} cancelled\n"))
    }

    /// Starts the workflow of run `prefix` again with the same trigger.
    pub(super) fn rerun(&mut self, prefix: &str) -> Result<String, String> {
        let id = self.resolve_run(prefix)?;
        let old = self
            .runs_store()?
            .get(&id)
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no run {prefix}"))?;
        let def = self
            .workflow_def(&old.workflow)
            .cloned()
            .unwrap_or(old.def.clone());
        let mut trigger = old.trigger.clone();
        if let Some(o) = trigger.as_object_mut() {
            o.insert("rerun_of".into(), serde_json::Value::String(id.clone()));
        }
        let new = self.start_run(def, trigger, None)?;
        Ok(format!("{new}\n"))
    }

    fn resolve_run(&mut self, prefix: &str) -> Result<String, String> {
        let p = prefix.trim();
        if p.is_empty() {
            return Err("which run? give its id (or the start of it)".into());
        }
        let active: Vec<&String> = self.wf.active.keys().filter(|k| k.starts_with(p)).collect();
        if active.len() == 1 {
            return Ok(active[0].clone());
        }
        match self.runs_store()?.get(p) {
            Ok(Some(r)) => Ok(r.id),
            Ok(None) => Err(format!("no run {p}")),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    /// Starts a workflow by hand.
    pub(super) fn run_by_hand(&mut self, name: &str, by: &str) -> Result<String, String> {
        self.workflow_reload_if_changed();
        let def = self.workflow_def(name).cloned().ok_or_else(|| {
            let bad = self
                .wf
                .errors
                .iter()
                .find(|e| Path::new(&e.file).file_stem().is_some_and(|s| s == name));
            match bad {
                Some(e) => format!("workflow {name} is not loaded: {e}"),
                None => format!(
                    "no workflow {name} in {} (`fieldkit workflow ls` lists them)",
                    self.workflows_dir().display()
                ),
            }
        })?;
        let t = serde_json::json!({"kind": "manual", "by": by, "time": now_ms()});
        self.start_run(def, t, None)
    }

    /// Definitions read again if the folder changed since (the watcher may be off).
    fn workflow_reload_if_changed(&mut self) {
        if self.wf.watcher.is_none() {
            self.workflow_reload(false);
        }
    }

    pub(super) fn workflow_event(&mut self, ev: WfEv) {
        match ev {
            WfEv::Shell {
                run,
                step,
                n,
                exit,
                stdout,
                stderr,
            } => self.shell_ended(&run, step, n, exit, stdout, stderr),
            WfEv::Fs(ev) => self.workflow_fs(ev),
        }
    }
}

/// The first step to run after `after` (from the start for `None`), handlers left out.
fn first_step(def: &Workflow, after: Option<usize>) -> Option<usize> {
    let handlers: Vec<&str> = def
        .steps
        .iter()
        .filter_map(|s| match &s.on_error {
            Some(OnError::Step(h)) => Some(h.as_str()),
            _ => None,
        })
        .chain(match &def.on_error {
            Some(OnError::Step(h)) => Some(h.as_str()),
            _ => None,
        })
        .collect();
    let from = after.map(|a| a + 1).unwrap_or(0);
    (from..def.steps.len()).find(|i| !handlers.contains(&def.steps[*i].name.as_str()))
}

pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}
