/*!
Running one try of a step, by kind.

- `shell`: the command rendered (each value one shell word), its cwd and env, then `shell`
  runs it off the loop; a timeout or cancel sends SIGTERM to its group, then SIGKILL.
- `sql`: through the data worker, on a lane of its own (a pane id above `LANE_BASE`), so it
  never waits behind a grid; its first rows come back as text for later steps.
- `llm`: through the llm worker as a chat job with no pane; a `check` judges the answer (a regex,
  a JSON shape, or a second prompt that must answer yes) and a failed check is a failed try.
- `human`: a work item, its id chosen and written before it is made (so it is made once), and
  the step waits until the item is completed or cancelled.
*/

use super::*;
use crate::engine::workflow::template::{render, Escape};
use crate::engine::workflow::{check_answer, says_yes, Check, StepKind};
use fieldkit_panes::data::{DataEvent, DataRequest, Source, View};

/// Rows of an sql step's result kept as text for later steps (`steps.NAME.table`).
const TABLE_ROWS: u32 = 20;

/// A try under way.
pub enum Inflight {
    Shell {
        cancel: Option<tokio::sync::oneshot::Sender<()>>,
    },
    Sql {
        lane: u64,
        seq: u64,
        deadline: Option<i64>,
        result: Option<u64>,
        columns: Vec<String>,
        rows: Option<u64>,
    },
    Llm {
        job: u64,
        deadline: Option<i64>,
        /// The answer, while its `ask` check is being judged.
        answer: Option<String>,
    },
    /// A plugin's tool, called through the plugins service.
    Plugin { deadline: Option<i64> },
}

impl Inflight {
    pub fn deadline(&self) -> Option<i64> {
        match self {
            Inflight::Shell { .. } => None,
            Inflight::Sql { deadline, .. }
            | Inflight::Llm { deadline, .. }
            | Inflight::Plugin { deadline } => *deadline,
        }
    }
}

impl Server {
    /// What a step's templates see.
    fn context(&self, run: &Run) -> serde_json::Value {
        let mut steps = serde_json::Map::new();
        for (d, s) in run.def.steps.iter().zip(&run.steps) {
            if s.state == StepState::Done {
                steps.insert(d.name.clone(), s.output.clone());
            }
        }
        let now = chrono::Local::now();
        let mut ctx = serde_json::json!({
            "trigger": run.trigger,
            "steps": steps,
            "run": {
                "id": run.id,
                "workflow": run.workflow,
                "date": now.format("%Y-%m-%d").to_string(),
                "time": now.format("%H:%M:%S").to_string(),
                "home": std::env::var("HOME").unwrap_or_default(),
            },
            "workflow": {"name": run.workflow, "description": run.def.description},
        });
        if let Some(f) = run.handling {
            let message = run
                .steps
                .get(f)
                .and_then(|s| s.log.last())
                .map(|t| t.outcome.clone())
                .unwrap_or_default();
            ctx["error"] = serde_json::json!({
                "step": run.def.steps[f].name,
                "message": message,
                "run": run.error,
            });
        }
        ctx
    }

    /// Starts the next try of step `i`: written first, then done.
    pub(super) fn start_try(&mut self, id: &str, i: usize) {
        let now = now_ms();
        let Some(run) = self.wf.active.get_mut(id) else {
            return;
        };
        if run.state != RunState::Running {
            return;
        }
        let Some(step) = run.steps.get_mut(i) else {
            return;
        };
        step.tries += 1;
        step.state = StepState::Running;
        step.next_at = None;
        let n = step.tries;
        let t = TryRec {
            n,
            started: now,
            ended: None,
            outcome: "running".into(),
            stdout: String::new(),
            stderr: String::new(),
        };
        step.log.push(t.clone());
        let snapshot = run.clone();
        if let Err(e) = self.runs_store().and_then(|s| {
            s.save_with_try(&snapshot, Some((i, &t)))
                .map_err(|e| format!("{e:#}"))
        }) {
            // Not written, not done: the run stops here rather than act unrecorded.
            tracing::warn!(
                "workflow run {id}: a try could not be written, so it was not started: {e}"
            );
            self.finish_run(
                id,
                RunState::Failed,
                format!("queue.db could not be written: {e}"),
            );
            return;
        }
        self.runs_broadcast();
        let def = snapshot.def.steps[i].clone();
        let ctx = self.context(&snapshot);
        let deadline = def.timeout_ms.map(|t| now + t as i64);
        let key = (id.to_string(), i);
        let fail = |srv: &mut Server, why: String| {
            srv.end_try(id, i, n, Err(why), String::new(), String::new());
        };
        match &def.kind {
            StepKind::Shell { run, cwd, env } => {
                let cmd = match render(run, &ctx, Escape::Shell) {
                    Ok(c) => c,
                    Err(e) => return fail(self, format!("the command's template: {e}")),
                };
                let cwd = match cwd
                    .as_deref()
                    .map(|c| render(c, &ctx, Escape::Text))
                    .transpose()
                {
                    Ok(c) => c.map(|c| PathBuf::from(expand_home(&c))),
                    Err(e) => return fail(self, format!("cwd's template: {e}")),
                };
                if let Some(c) = &cwd {
                    if !c.is_dir() {
                        return fail(self, format!("cwd {} is not a folder", c.display()));
                    }
                }
                let mut vars = Vec::new();
                for (k, v) in env {
                    match render(v, &ctx, Escape::Text) {
                        Ok(v) => vars.push((k.clone(), v)),
                        Err(e) => return fail(self, format!("env {k}: {e}")),
                    }
                }
                vars.push(("FIELDKIT_RUN".into(), id.to_string()));
                vars.push(("FIELDKIT_STEP".into(), def.name.clone()));
                let (ctx_tx, ctx_rx) = tokio::sync::oneshot::channel();
                self.wf.inflight.insert(
                    key,
                    Inflight::Shell {
                        cancel: Some(ctx_tx),
                    },
                );
                let tx = self.events.clone();
                let timeout = def.timeout_ms.map(std::time::Duration::from_millis);
                tokio::spawn(super::shell::shell_try(
                    tx,
                    id.to_string(),
                    i,
                    n,
                    cmd,
                    cwd,
                    vars,
                    timeout,
                    ctx_rx,
                ));
            }
            StepKind::Sql { sql } => {
                let sql = match render(sql, &ctx, Escape::Sql) {
                    Ok(s) => s,
                    Err(e) => return fail(self, format!("the SQL's template: {e}")),
                };
                let slot = match self.wf.lanes.iter().position(|b| !b) {
                    Some(s) => s,
                    None => {
                        self.wf.lanes.push(false);
                        self.wf.lanes.len() - 1
                    }
                };
                self.wf.lanes[slot] = true;
                let lane = LANE_BASE + slot as u64;
                // Unique across steps, so a late answer to a cancelled query on this lane is
                // never taken for the next step's.
                self.wf.next_seq += 1;
                let seq = self.wf.next_seq;
                self.wf.inflight.insert(
                    key,
                    Inflight::Sql {
                        lane,
                        seq,
                        deadline,
                        result: None,
                        columns: Vec::new(),
                        rows: None,
                    },
                );
                self.data_send(
                    lane,
                    DataRequest::Load {
                        seq,
                        source: Source::Query { sql, dialect: None },
                        view: View::default(),
                    },
                );
            }
            StepKind::Llm {
                prompt,
                system,
                max_tokens,
                ..
            } => {
                let prompt = match render(prompt, &ctx, Escape::Text) {
                    Ok(p) => p,
                    Err(e) => return fail(self, format!("the prompt's template: {e}")),
                };
                let system = match system
                    .as_deref()
                    .map(|s| render(s, &ctx, Escape::Text))
                    .transpose()
                {
                    Ok(s) => s,
                    Err(e) => return fail(self, format!("the system prompt's template: {e}")),
                };
                let mut turns = Vec::new();
                if let Some(s) = system {
                    turns.push(fieldkit_panes::llm::Turn::new(
                        fieldkit_panes::llm::Role::System,
                        s,
                    ));
                }
                turns.push(fieldkit_panes::llm::Turn::new(
                    fieldkit_panes::llm::Role::User,
                    prompt,
                ));
                match self.workflow_llm_job(id, i, n, turns, *max_tokens) {
                    Ok(job) => {
                        self.wf.inflight.insert(
                            key,
                            Inflight::Llm {
                                job,
                                deadline,
                                answer: None,
                            },
                        );
                    }
                    Err(e) => fail(self, e),
                }
            }
            StepKind::Human { .. } => self.human_start(id, i, &ctx),
            StepKind::Plugin { tool, args } => {
                let args = match render_json(args, &ctx) {
                    Ok(a) => a,
                    Err(e) => return fail(self, format!("the arguments' templates: {e}")),
                };
                self.wf.inflight.insert(key, Inflight::Plugin { deadline });
                let tool = tool.clone();
                self.plugin_call(
                    &tool,
                    args,
                    super::super::plugins::CallWaiter::Workflow {
                        run: id.to_string(),
                        step: i,
                        n,
                    },
                );
            }
        }
    }

    /// A plugin step's answer.
    pub(in crate::server) fn workflow_plugin_done(
        &mut self,
        id: &str,
        i: usize,
        n: u32,
        r: Result<crate::engine::plugin::host::Answer, String>,
    ) {
        let key = (id.to_string(), i);
        if !matches!(self.wf.inflight.get(&key), Some(Inflight::Plugin { .. })) {
            // Timed out or cancelled before it answered.
            return;
        }
        if self.wf.active.get(id).map(|r| r.steps[i].tries) != Some(n) {
            return;
        }
        let out = match r {
            Ok(a) if !a.is_error => Ok(serde_json::json!({ "text": a.text })),
            Ok(a) => Err(format!("the tool failed: {}", a.text)),
            Err(e) => Err(e),
        };
        self.end_try(id, i, n, out, String::new(), String::new());
    }

    /// A step's try has run past its timeout (sql, llm; shell steps time themselves).
    pub(super) fn step_timed_out(&mut self, id: &str, i: usize) {
        let Some(f) = self.wf.inflight.remove(&(id.to_string(), i)) else {
            return;
        };
        let Some(run) = self.wf.active.get(id) else {
            return;
        };
        let n = run.steps[i].tries;
        let limit = run.def.steps[i].timeout_ms.unwrap_or(0);
        self.stop_inflight(f);
        self.end_try(
            id,
            i,
            n,
            Err(format!(
                "timed out after {}",
                crate::engine::workflow::span_text(limit)
            )),
            String::new(),
            String::new(),
        );
    }

    /// Stops a try under way through whatever runs it.
    pub(super) fn stop_inflight(&mut self, f: Inflight) {
        match f {
            Inflight::Shell { cancel } => {
                if let Some(c) = cancel {
                    let _ = c.send(());
                }
            }
            Inflight::Sql { lane, result, .. } => {
                self.data_send(lane, DataRequest::Cancel);
                if let Some(r) = result {
                    self.data_send(lane, DataRequest::Forget { result: r });
                }
                self.free_lane(lane);
            }
            Inflight::Llm { job, .. } => self.workflow_llm_cancel(job),
            // A call under way cannot be taken back; its answer, when it comes, is dropped.
            Inflight::Plugin { .. } => {}
        }
    }

    fn free_lane(&mut self, lane: u64) {
        if let Some(b) = self.wf.lanes.get_mut((lane - LANE_BASE) as usize) {
            *b = false;
        }
    }

    pub(super) fn shell_ended(
        &mut self,
        id: &str,
        i: usize,
        n: u32,
        exit: Result<i32, String>,
        stdout: String,
        stderr: String,
    ) {
        let result = match exit {
            Ok(0) => Ok(serde_json::json!({
                "stdout": stdout.trim_end(),
                "stderr": stderr.trim_end(),
                "exit_code": 0,
            })),
            Ok(code) => Err(format!("exit status {code}")),
            Err(e) => Err(e),
        };
        self.end_try(id, i, n, result, stdout, stderr);
    }

    /// An event from the data worker for a workflow lane.
    pub(in crate::server) fn workflow_data(&mut self, lane: u64, ev: DataEvent) {
        let Some((key, _)) = self.wf.inflight.iter().find(|(_, f)| {
            matches!(f, Inflight::Sql { lane: l, seq, .. } if *l == lane && ev.seq().is_none_or(|s| s == *seq))
        }) else {
            return;
        };
        let key = key.clone();
        let (id, i) = key.clone();
        let n = self
            .wf
            .active
            .get(&id)
            .map(|r| r.steps[i].tries)
            .unwrap_or(0);
        let done = |srv: &mut Server, out: Result<serde_json::Value, String>| {
            if let Some(Inflight::Sql { lane, result, .. }) = srv.wf.inflight.get(&key) {
                let (lane, result) = (*lane, *result);
                if let Some(r) = result {
                    srv.data_send(lane, DataRequest::Forget { result: r });
                }
                srv.free_lane(lane);
            }
            srv.end_try(&id, i, n, out, String::new(), String::new());
        };
        match ev {
            DataEvent::Loaded {
                result,
                columns,
                rows,
                ..
            } => {
                if let Some(Inflight::Sql {
                    result: r,
                    columns: c,
                    rows: rw,
                    ..
                }) = self.wf.inflight.get_mut(&key)
                {
                    *r = Some(result);
                    *c = columns.iter().map(|c| c.name.clone()).collect();
                    *rw = rows;
                }
                if rows.is_some() {
                    self.sql_first_rows(&key);
                }
            }
            DataEvent::Counted { rows, .. } => {
                if let Some(Inflight::Sql { rows: rw, .. }) = self.wf.inflight.get_mut(&key) {
                    *rw = Some(rows);
                }
                self.sql_first_rows(&key);
            }
            DataEvent::Rows { rows: cells, .. } => {
                let Some(Inflight::Sql { columns, rows, .. }) = self.wf.inflight.get(&key) else {
                    return;
                };
                let table = text_table(columns, &cells);
                let out = serde_json::json!({
                    "rows": rows.unwrap_or(cells.len() as u64),
                    "columns": columns,
                    "table": table,
                    "message": format!("{} rows", rows.unwrap_or(0)),
                });
                done(self, Ok(out));
            }
            DataEvent::Done { message, rows, .. } => {
                let out = serde_json::json!({
                    "rows": rows.unwrap_or(0),
                    "columns": [],
                    "table": "",
                    "message": message,
                });
                done(self, Ok(out));
            }
            DataEvent::Error { message, line, .. } => {
                let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
                done(self, Err(format!("{message}{at}")));
            }
            DataEvent::Lost { why } => done(self, Err(format!("the data worker stopped: {why}"))),
            _ => {}
        }
    }

    /// Asks for the first rows of an sql step's result once its size is known.
    fn sql_first_rows(&mut self, key: &(String, usize)) {
        let Some(Inflight::Sql {
            lane,
            seq,
            result: Some(result),
            columns,
            ..
        }) = self.wf.inflight.get(key)
        else {
            return;
        };
        let (lane, seq, result, cols) = (*lane, *seq, *result, columns.len() as u32);
        self.data_send(
            lane,
            DataRequest::Rows {
                seq,
                result,
                offset: 0,
                limit: TABLE_ROWS,
                first_col: 0,
                cols: cols.clamp(1, 50),
            },
        );
    }

    /// The data worker died: every sql try under way failed.
    pub(in crate::server) fn workflow_data_lost(&mut self, why: &str) {
        let lanes: Vec<u64> = self
            .wf
            .inflight
            .values()
            .filter_map(|f| match f {
                Inflight::Sql { lane, .. } => Some(*lane),
                _ => None,
            })
            .collect();
        for lane in lanes {
            self.workflow_data(
                lane,
                DataEvent::Lost {
                    why: why.to_string(),
                },
            );
        }
    }

    /// An llm step's answer (or its check's verdict), or why there is none.
    pub(in crate::server) fn workflow_llm_done(
        &mut self,
        id: &str,
        i: usize,
        n: u32,
        r: Result<String, String>,
    ) {
        let key = (id.to_string(), i);
        let Some(Inflight::Llm { answer, .. }) = self.wf.inflight.get(&key) else {
            return;
        };
        let judging = answer.clone();
        let Some(run) = self.wf.active.get(id) else {
            return;
        };
        let StepKind::Llm { check, .. } = &run.def.steps[i].kind else {
            return;
        };
        let check = check.clone();
        let text = match r {
            Ok(t) => t,
            Err(e) => {
                return self.end_try(
                    id,
                    i,
                    n,
                    Err(format!("the model: {e}")),
                    String::new(),
                    String::new(),
                )
            }
        };
        if let Some(answer) = judging {
            // The verdict of an `ask` check.
            let out = if says_yes(&text) {
                Ok(serde_json::json!({"text": answer}))
            } else {
                Err(format!(
                    "the check said no: {}",
                    text.trim().chars().take(200).collect::<String>()
                ))
            };
            return self.end_try(id, i, n, out, answer, String::new());
        }
        match &check {
            Some(Check::Ask(q)) => {
                let turns = vec![fieldkit_panes::llm::Turn::new(
                    fieldkit_panes::llm::Role::User,
                    format!(
                        "{q}\n\nThe text to judge:\n\"\"\"\n{}\n\"\"\"\n\nAnswer yes or no.",
                        text.trim()
                    ),
                )];
                match self.workflow_llm_job(id, i, n, turns, 8) {
                    Ok(job) => {
                        if let Some(Inflight::Llm { job: j, answer, .. }) =
                            self.wf.inflight.get_mut(&key)
                        {
                            *j = job;
                            *answer = Some(text);
                        }
                    }
                    Err(e) => self.end_try(id, i, n, Err(e), text, String::new()),
                }
            }
            Some(c) => {
                let out = check_answer(c, &text)
                    .map(|_| serde_json::json!({"text": text.trim()}))
                    .map_err(|e| format!("check failed: {e}"));
                self.end_try(id, i, n, out, text, String::new());
            }
            None => {
                let out = Ok(serde_json::json!({"text": text.trim()}));
                self.end_try(id, i, n, out, text, String::new());
            }
        }
    }

    /// A human step starts: its item's id is written with the step, then the item is made.
    fn human_start(&mut self, id: &str, i: usize, ctx: &serde_json::Value) {
        let Some(run) = self.wf.active.get_mut(id) else {
            return;
        };
        let n = run.steps[i].tries;
        if run.steps[i].item.is_none() {
            run.steps[i].item = Some(crate::engine::queue::new_id());
        }
        run.steps[i].state = StepState::Waiting;
        let snapshot = run.clone();
        if let Err(e) = self
            .runs_store()
            .and_then(|s| s.save(&snapshot).map_err(|e| format!("{e:#}")))
        {
            tracing::warn!("workflow run {id}: {e}");
        }
        let StepKind::Human {
            title,
            body,
            priority,
            sla,
            role,
            tags,
        } = snapshot.def.steps[i].kind.clone()
        else {
            return;
        };
        let title = match render(&title, ctx, Escape::Text) {
            Ok(t) => t,
            Err(e) => {
                return self.end_try(
                    id,
                    i,
                    n,
                    Err(format!("the title's template: {e}")),
                    String::new(),
                    String::new(),
                )
            }
        };
        let body = match render(&body, ctx, Escape::Text) {
            Ok(t) => t,
            Err(e) => {
                return self.end_try(
                    id,
                    i,
                    n,
                    Err(format!("the body's template: {e}")),
                    String::new(),
                    String::new(),
                )
            }
        };
        let now = now_ms();
        let item = crate::engine::queue::Item {
            id: snapshot.steps[i].item.clone().unwrap_or_default(),
            title: title.trim().chars().take(200).collect(),
            body,
            state: crate::engine::queue::State::Queued,
            priority: crate::engine::queue::Priority::parse(&priority)
                .unwrap_or(crate::engine::queue::Priority::Medium),
            role,
            assignee: String::new(),
            tags,
            project: String::new(),
            created: now,
            updated: now,
            due: sla
                .as_deref()
                .and_then(|s| crate::engine::queue::duration::parse_duration(s).ok())
                .map(|s| now + s),
            links: vec![
                format!("run:{id}"),
                format!("workflow:{}", snapshot.workflow),
            ],
            history: Vec::new(),
            comments: Vec::new(),
        };
        let who = format!("workflow {}", snapshot.workflow);
        match self.queue_add_item(&item, &who) {
            Ok(()) => {
                tracing::info!(run = %id, item = %item.id, "human step: item made");
                self.runs_broadcast();
            }
            Err(e) => self.end_try(
                id,
                i,
                n,
                Err(format!("the work item could not be made: {e}")),
                String::new(),
                String::new(),
            ),
        }
    }

    /// After a restart: a human step's item exists (else it is made now), and may already be
    /// done.
    pub(super) fn human_resume(&mut self, id: &str, i: usize) {
        let Some(run) = self.wf.active.get(id).cloned() else {
            return;
        };
        let Some(item_id) = run.steps[i].item.clone() else {
            let ctx = self.context(&run);
            return self.human_start(id, i, &ctx);
        };
        match self.queue_item(&item_id) {
            Some(item) => {
                if let Some(r) = self.wf.active.get_mut(id) {
                    r.steps[i].state = StepState::Waiting;
                }
                self.human_moved(id, i, &item);
            }
            None => {
                let ctx = self.context(&run);
                self.human_start(id, i, &ctx);
            }
        }
    }

    /// The item a human step waits on moved: completed or cancelled ends the step.
    pub(super) fn human_moved(&mut self, id: &str, i: usize, item: &crate::engine::queue::Item) {
        use crate::engine::queue::State;
        if !matches!(item.state, State::Completed | State::Cancelled) {
            return;
        }
        let Some(run) = self.wf.active.get(id) else {
            return;
        };
        let n = run.steps[i].tries;
        let out = serde_json::json!({
            "outcome": item.state.name(),
            "item": item.id,
            "comment": item.comments.last().map(|c| c.text.clone()).unwrap_or_default(),
            "assignee": item.assignee,
        });
        let log = format!(
            "work item {} {} by {}",
            short(&item.id),
            item.state.name(),
            if item.assignee.is_empty() {
                "someone"
            } else {
                &item.assignee
            }
        );
        self.end_try(id, i, n, Ok(out), log, String::new());
    }
}

/// Rows as an aligned text table (for a prompt or a log).
fn text_table(columns: &[String], rows: &[Vec<Option<String>>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    let cell = |c: &Option<String>| -> String {
        let s = c.as_deref().unwrap_or("NULL");
        s.chars().take(40).collect()
    };
    for r in rows {
        for (k, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(k) {
                *w = (*w).max(cell(c).chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(k, c)| format!("{c:<w$}", w = widths.get(k).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns.to_vec())];
    for r in rows {
        out.push(line(r.iter().map(cell).collect()));
    }
    out.join("\n")
}

/// `v` with each of its strings rendered as a template.
fn render_json(
    v: &serde_json::Value,
    ctx: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match v {
        Value::String(t) => Value::String(render(t, ctx, Escape::Text)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_json(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), render_json(x, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}
