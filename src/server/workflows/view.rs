/*!
What the runner shows: the runs pane's rows and details, `fieldkit workflow ...` answers (JSON
the CLI formats), and the status pane's row.
*/

use super::*;
use crate::engine::queue::duration::{show, show_time};
use crate::protocol::WorkflowCommand;
use fieldkit_panes::runs::{RunDetail, RunRow, RunsEvent, RunsRequest, StepView};
use fieldkit_panes::{EngineEvent, EngineRow, EngineState};

/// Runs the pane lists.
const PANE_RUNS: usize = 500;

impl Server {
    /// Every runs pane is told the runs again.
    pub(super) fn runs_broadcast(&mut self) {
        let panes = self.panes_needing(fieldkit_panes::Engine::Workflows);
        if panes.is_empty() {
            return;
        }
        let ev = self.runs_list();
        for (name, id) in panes {
            let ev = ev.clone();
            self.pane_call_id(&name, id, |p, cx| p.on_engine(EngineEvent::Runs(ev), cx));
            self.mark(&name);
        }
    }

    fn runs_list(&mut self) -> RunsEvent {
        let recent = match self
            .runs_store()
            .and_then(|s| s.recent(None, PANE_RUNS).map_err(|e| format!("{e:#}")))
        {
            Ok(r) => r,
            Err(e) => return RunsEvent::Note(e),
        };
        let now = now_ms();
        RunsEvent::Runs(
            recent
                .iter()
                .map(|r| {
                    // The live copy is newer than the row for runs under way.
                    let r = self.wf.active.get(&r.id).unwrap_or(r);
                    row(r, now)
                })
                .collect(),
        )
    }

    /// A runs pane's request.
    pub(in crate::server) fn runs_request(&mut self, name: &str, pane: u64, req: RunsRequest) {
        let ev = match req {
            RunsRequest::Watch => self.runs_list(),
            RunsRequest::Detail { id } => match self.run_detail(&id) {
                Ok(d) => RunsEvent::Detail(d),
                Err(e) => RunsEvent::Note(e),
            },
            RunsRequest::Rerun { id } => match self.rerun(&id) {
                Ok(new) => RunsEvent::Note(format!("started again as run {}", short(new.trim()))),
                Err(e) => RunsEvent::Note(e),
            },
            RunsRequest::Cancel { id } => match self.cancel_run(&id) {
                Ok(_) => RunsEvent::Note(format!("run {} cancelled", short(&id))),
                Err(e) => RunsEvent::Note(e),
            },
        };
        self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Runs(ev), cx));
        self.mark(name);
    }

    fn run_detail(&mut self, id: &str) -> Result<RunDetail, String> {
        let mut run = self
            .runs_store()?
            .get(id)
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no run {id}"))?;
        if let Some(live) = self.wf.active.get(&run.id) {
            run = live.clone();
        }
        let steps = run
            .def
            .steps
            .iter()
            .zip(&run.steps)
            .map(|(d, s)| StepView {
                name: d.name.clone(),
                kind: d.kind.name().into(),
                state: s.state.name().into(),
                tries: s.tries,
                output: output_line(&s.output),
                log: s
                    .log
                    .iter()
                    .flat_map(|t| {
                        let took = t
                            .ended
                            .map(|e| format!(" after {}", show_ms(e - t.started)))
                            .unwrap_or_default();
                        let mut lines = vec![format!(
                            "try {} · {} · {}{took}",
                            t.n,
                            show_time(t.started),
                            if t.outcome == "ok" {
                                "done".to_string()
                            } else {
                                t.outcome.clone()
                            }
                        )];
                        lines.extend(t.stdout.lines().take(200).map(|l| format!("stdout: {l}")));
                        lines.extend(t.stderr.lines().take(200).map(|l| format!("stderr: {l}")));
                        lines
                    })
                    .collect(),
            })
            .collect();
        Ok(RunDetail {
            id: run.id.clone(),
            workflow: run.workflow.clone(),
            state: shown_state(&run).into(),
            trigger: trigger_text(&run.trigger),
            error: run.error.clone(),
            steps,
        })
    }

    /// `fieldkit workflow ...`.
    pub(in crate::server) fn workflow_command(
        &mut self,
        cmd: WorkflowCommand,
    ) -> Result<String, String> {
        match cmd {
            WorkflowCommand::List => {
                self.workflow_reload_if_changed();
                let now = now_ms();
                let list: Vec<serde_json::Value> = self
                    .wf
                    .defs
                    .iter()
                    .map(|w| {
                        let next = self
                            .wf
                            .next_fire
                            .iter()
                            .filter(|(n, _, _)| *n == w.name)
                            .filter_map(|(_, _, t)| *t)
                            .min();
                        let running = self
                            .wf
                            .active
                            .values()
                            .filter(|r| r.workflow == w.name)
                            .count();
                        serde_json::json!({
                            "name": w.name,
                            "description": w.description,
                            "file": w.file,
                            "triggers": w.triggers.iter().map(describe_trigger).collect::<Vec<_>>(),
                            "steps": w.steps.iter().map(|s| format!("{} ({})", s.name, s.kind.name())).collect::<Vec<_>>(),
                            "next": next.map(show_time),
                            "next_in": next.map(|t| show(t - now)),
                            "running": running,
                        })
                    })
                    .collect();
                let errors: Vec<String> = self.wf.errors.iter().map(|e| e.to_string()).collect();
                Ok(serde_json::json!({"workflows": list, "errors": errors}).to_string())
            }
            WorkflowCommand::Run { name } => {
                let by = self.config.queue.me();
                self.run_by_hand(&name, &by).map(|id| format!("{id}\n"))
            }
            WorkflowCommand::Runs { workflow, limit } => {
                let runs = self
                    .runs_store()?
                    .recent(workflow.as_deref(), limit.clamp(1, 100_000))
                    .map_err(|e| format!("{e:#}"))?;
                let list: Vec<serde_json::Value> = runs
                    .iter()
                    .map(|r| {
                        let r = self.wf.active.get(&r.id).unwrap_or(r);
                        run_json(r)
                    })
                    .collect();
                Ok(serde_json::Value::Array(list).to_string())
            }
            WorkflowCommand::Show { id } => {
                let rid = self.resolve_run(&id)?;
                let mut run = self
                    .runs_store()?
                    .get(&rid)
                    .map_err(|e| format!("{e:#}"))?
                    .ok_or_else(|| format!("no run {id}"))?;
                if let Some(live) = self.wf.active.get(&rid) {
                    let logs: Vec<_> = run.steps.iter().map(|s| s.log.clone()).collect();
                    run = live.clone();
                    for (s, l) in run.steps.iter_mut().zip(logs) {
                        if s.log.len() < l.len() {
                            s.log = l;
                        }
                    }
                }
                let mut j = run_json(&run);
                j["steps"] = serde_json::Value::Array(
                    run.def
                        .steps
                        .iter()
                        .zip(&run.steps)
                        .map(|(d, s)| {
                            serde_json::json!({
                                "name": d.name,
                                "kind": d.kind.name(),
                                "state": s.state.name(),
                                "tries": s.tries,
                                "output": s.output,
                                "item": s.item,
                                "log": s.log,
                            })
                        })
                        .collect(),
                );
                Ok(j.to_string())
            }
            WorkflowCommand::Cancel { id } => self.cancel_run(&id),
            WorkflowCommand::Rerun { id } => self.rerun(&id),
            WorkflowCommand::Check => {
                self.workflow_reload(false);
                Ok(self.wf.errors.iter().map(|e| format!("{e}\n")).collect())
            }
        }
    }

    /// The status pane's row: workflows loaded, runs under way and failed, the next slot.
    pub(in crate::server) fn workflow_row(&self) -> EngineRow {
        let now = now_ms();
        let running = self
            .wf
            .active
            .values()
            .filter(|r| r.state == RunState::Running)
            .count();
        let queued = self.wf.active.len() - running;
        let next = self
            .wf
            .next_fire
            .iter()
            .filter_map(|(n, _, t)| t.map(|t| (t, n)))
            .min()
            .map(|(t, n)| format!(" · next: {n} in {}", show(t - now)))
            .unwrap_or_default();
        let errors = if self.wf.errors.is_empty() {
            String::new()
        } else {
            format!(" · {} mistakes in files (doctor)", self.wf.errors.len())
        };
        EngineRow {
            name: "workflows".into(),
            state: EngineState::Said {
                label: format!("{} loaded", self.wf.defs.len()),
                active: running > 0,
            },
            pid: None,
            restarts: 0,
            detail: format!(
                "{running} running · {queued} queued · {} failed since start{next}{errors}",
                self.wf.failed
            ),
        }
    }
}

/// A run's state as people read it: a running run says what it waits for.
fn shown_state(r: &Run) -> &'static str {
    if r.state == RunState::Running {
        match r.steps.get(r.cursor).map(|s| s.state) {
            Some(StepState::Waiting) => return "waiting",
            Some(StepState::Retrying) => return "retrying",
            _ => {}
        }
    }
    r.state.name()
}

fn row(r: &Run, now: i64) -> RunRow {
    let took = match (r.started, r.ended) {
        (Some(s), Some(e)) => show_ms(e - s),
        (Some(s), None) => show_ms(now - s),
        _ => String::new(),
    };
    RunRow {
        id: r.id.clone(),
        workflow: r.workflow.clone(),
        state: shown_state(r).into(),
        trigger: trigger_text(&r.trigger),
        started: chrono::Local
            .timestamp_millis_opt(r.created)
            .single()
            .map(|t| t.format("%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        took,
        step: format!(
            "{}/{} {}",
            (r.cursor + 1).min(r.def.steps.len()),
            r.def.steps.len(),
            r.def
                .steps
                .get(r.cursor)
                .map(|s| s.name.as_str())
                .unwrap_or("")
        ),
    }
}

use chrono::TimeZone;

/// `0.4s`, `12s`, `3m 10s`.
fn show_ms(ms: i64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms.max(0) as f64 / 1000.0)
    } else {
        show(ms)
    }
}

fn trigger_text(t: &serde_json::Value) -> String {
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match s("kind").as_str() {
        "file" => format!("file {}", s("name")),
        "schedule" => format!("schedule {}", s("slot")),
        "item" => format!("item {} {}", short(&s("id")), s("state")),
        "error" => format!("error in {}", s("workflow")),
        "manual" => "manual".into(),
        other => other.to_string(),
    }
}

fn describe_trigger(t: &Trigger) -> String {
    match t {
        Trigger::Schedule { cron, catch_up } => format!(
            "schedule {cron}{}",
            if *catch_up { " (catch-up)" } else { "" }
        ),
        Trigger::File { path, glob, .. } => format!("file {path}/{glob}"),
        Trigger::Item {
            state,
            tag,
            project,
        } => {
            let mut s = format!("item enters {state}");
            if let Some(t) = tag {
                s.push_str(&format!(" tagged {t}"));
            }
            if let Some(p) = project {
                s.push_str(&format!(" in {p}"));
            }
            s
        }
    }
}

/// A step's output in a line or a few.
fn output_line(o: &serde_json::Value) -> String {
    let Some(m) = o.as_object() else {
        return String::new();
    };
    if let Some(t) = m.get("text").and_then(|v| v.as_str()) {
        return t.lines().take(3).collect::<Vec<_>>().join("\n");
    }
    if let Some(r) = m.get("outcome").and_then(|v| v.as_str()) {
        return format!(
            "item {} {r}",
            short(m.get("item").and_then(|v| v.as_str()).unwrap_or(""))
        );
    }
    if let Some(msg) = m.get("message").and_then(|v| v.as_str()) {
        let rows = m.get("rows").and_then(|v| v.as_u64()).unwrap_or(0);
        return if msg.ends_with("rows") {
            msg.to_string()
        } else {
            format!("{msg} · {rows} rows")
        };
    }
    if let Some(c) = m.get("exit_code") {
        return format!("exit {c}");
    }
    String::new()
}

fn run_json(r: &Run) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "workflow": r.workflow,
        "state": shown_state(r),
        "trigger": r.trigger,
        "created": r.created,
        "started": r.started,
        "ended": r.ended,
        "error": r.error,
        "steps": r.def.steps.iter().zip(&r.steps).map(|(d, s)| serde_json::json!({
            "name": d.name,
            "kind": d.kind.name(),
            "state": s.state.name(),
            "tries": s.tries,
        })).collect::<Vec<_>>(),
    })
}
