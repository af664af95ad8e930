/*!
Workflow files: TOML in `~/.config/fieldkit/workflows/`, read into plain definitions.

Reading is two passes. serde (with `toml::Spanned` on every value a later check may object to)
reads the file, so a syntax error or an unknown key comes with its line; then `check` judges
what serde cannot: a step's kind and the fields it needs, `on_error` targets and their cycles,
every template (it must compile, and name only the trigger's fields, earlier steps' outputs and
the run), cron expressions and durations. Every objection is `file:line: what`, and one broken
file never stops the others: `load_dir` returns the good definitions and the errors apart.

A definition is plain serde data once checked: a run keeps a copy of the definition it started
with, so editing a file never changes a run under way.
*/

pub use super::dir::load_dir;
use super::schedule::Schedule;
use super::template;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use toml::Spanned;

/// A checked workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub name: String,
    pub description: String,
    /// The file it came from.
    pub file: String,
    /// Runs at once; more wait, queued, in the order they came.
    pub concurrency: u32,
    pub triggers: Vec<Trigger>,
    pub steps: Vec<Step>,
    /// For steps without an `on_error` of their own.
    pub on_error: Option<OnError>,
    /// Shared with the team through the mesh (`shared = true`).
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// Cron in local time; a slot missed while the server was down runs once (`catch_up`).
    Schedule { cron: String, catch_up: bool },
    /// A file appears or changes under `path` (not below it), matching `glob`, quiet for
    /// `debounce_ms`.
    File {
        path: String,
        glob: String,
        debounce_ms: u64,
    },
    /// A work item enters `state` (and has `tag`, is in `project`, when given).
    Item {
        state: String,
        tag: Option<String>,
        project: Option<String>,
    },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Schedule { .. } => "schedule",
            Trigger::File { .. } => "file",
            Trigger::Item { .. } => "item",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OnError {
    /// A step of the same workflow, run only as a handler.
    Step(String),
    /// Another workflow, started with the error as its trigger.
    Workflow(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    /// Tries after the first.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one (at most an hour).
    pub backoff_ms: u64,
    pub timeout_ms: Option<u64>,
    pub on_error: Option<OnError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepKind {
    Sql {
        sql: String,
    },
    Shell {
        run: String,
        cwd: Option<String>,
        env: BTreeMap<String, String>,
    },
    Llm {
        prompt: String,
        system: Option<String>,
        max_tokens: u32,
        check: Option<Check>,
    },
    Human {
        title: String,
        body: String,
        priority: String,
        sla: Option<String>,
        role: String,
        tags: Vec<String>,
    },
    /// A plugin's tool (`PLUGIN.TOOL`), with arguments whose strings are templates.
    Plugin {
        tool: String,
        args: serde_json::Value,
    },
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Sql { .. } => "sql",
            StepKind::Shell { .. } => "shell",
            StepKind::Llm { .. } => "llm",
            StepKind::Human { .. } => "human",
            StepKind::Plugin { .. } => "plugin",
        }
    }

    /// What a later step may read of this one's result (`steps.NAME.FIELD`).
    pub fn outputs(kind: &str) -> &'static [&'static str] {
        match kind {
            "sql" => &["rows", "columns", "table", "message"],
            "shell" => &["stdout", "stderr", "exit_code"],
            "llm" => &["text"],
            "plugin" => &["text"],
            "human" => &["outcome", "item", "comment", "assignee"],
            _ => &[],
        }
    }
}

/// What an llm step's answer must pass (a failed check is a failed try).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Check {
    Regex(String),
    /// The answer (or its first fenced block) is a JSON object with these keys.
    Json(Vec<String>),
    /// A second prompt over the answer that must answer yes.
    Ask(String),
}

/// One objection to a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for DefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The file as serde reads it: every value a check may object to keeps its place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    concurrency: Option<Spanned<i64>>,
    on_error: Option<Spanned<String>>,
    /// Shared with the team through the mesh.
    #[serde(default)]
    shared: bool,
    trigger: Option<Spanned<RawTrigger>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    #[serde(default)]
    manual: bool,
    schedule: Option<Spanned<RawSchedule>>,
    file: Option<Spanned<RawFile>>,
    item: Option<Spanned<RawItem>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSchedule {
    Cron(String),
    Table {
        cron: String,
        #[serde(default = "yes")]
        catch_up: bool,
    },
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
    #[serde(default = "any_file")]
    glob: String,
    debounce: Option<String>,
}

fn any_file() -> String {
    "*".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    state: String,
    tag: Option<String>,
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    sql: Option<Spanned<String>>,
    run: Option<Spanned<String>>,
    cwd: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    prompt: Option<Spanned<String>>,
    system: Option<Spanned<String>>,
    max_tokens: Option<u32>,
    check: Option<Spanned<RawCheck>>,
    title: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
    priority: Option<Spanned<String>>,
    sla: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    tool: Option<Spanned<String>>,
    args: Option<toml::Value>,
    retries: Option<Spanned<i64>>,
    backoff: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    on_error: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    regex: Option<String>,
    json: Option<Vec<String>>,
    ask: Option<String>,
}

/// Milliseconds in `250ms`, `30s`, `5m`, `1h30m`.
pub fn parse_span(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(n) = t.strip_suffix("ms") {
        if let Ok(v) = n.trim().parse::<u64>() {
            return Ok(v);
        }
    }
    crate::engine::queue::duration::parse_duration(t).map(|v| v as u64)
}

/// The most a step may retry, and the longest backoff between tries.
pub const MAX_RETRIES: u32 = 100;
pub const MAX_BACKOFF_MS: u64 = 3_600_000;

/// Where a TOML error is (a byte offset) and what it says, on one line (toml's messages may run
/// over several).
pub fn toml_error(e: &toml::de::Error) -> (usize, String) {
    let off = e.span().map(|s| s.start).unwrap_or(0);
    let msg = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    (off, msg)
}

/// Reads one workflow file's text. `file` names it in errors; `stem` is the name when the
/// file gives none.
pub fn parse(text: &str, file: &str, stem: &str) -> Result<Workflow, Vec<DefError>> {
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() + 1;
    let err = |off: usize, m: String| DefError {
        file: file.to_string(),
        line: line_of(off),
        message: m,
    };
    let raw: RawWorkflow = toml::from_str(text).map_err(|e| {
        let (off, msg) = toml_error(&e);
        vec![err(off, msg)]
    })?;
    let mut errors = Vec::new();
    let name = raw
        .name
        .as_ref()
        .map(|n| n.get_ref().trim().to_string())
        .unwrap_or_else(|| stem.to_string());
    if !valid_name(&name) {
        errors.push(err(
            raw.name.as_ref().map(|n| n.span().start).unwrap_or(0),
            format!("workflow name {name:?}: use letters, digits, - and _"),
        ));
    }
    let concurrency = match &raw.concurrency {
        None => 1,
        Some(c) if (1..=64).contains(c.get_ref()) => *c.get_ref() as u32,
        Some(c) => {
            errors.push(err(
                c.span().start,
                format!("concurrency {}: from 1 to 64", c.get_ref()),
            ));
            1
        }
    };

    // Triggers, and the names their templates may read.
    let mut triggers = Vec::new();
    // Any workflow may be started by hand or as another's on_error (which gives workflow, run,
    // step and message).
    let mut trigger_fields: HashSet<&str> =
        ["kind", "by", "time", "workflow", "run", "step", "message"]
            .into_iter()
            .collect();
    if let Some(t) = &raw.trigger {
        let t_ref = t.get_ref();
        let _ = t_ref.manual;
        if let Some(s) = &t_ref.schedule {
            let (cron, catch_up) = match s.get_ref() {
                RawSchedule::Cron(c) => (c.clone(), true),
                RawSchedule::Table { cron, catch_up } => (cron.clone(), *catch_up),
            };
            match Schedule::parse(&cron) {
                Ok(_) => triggers.push(Trigger::Schedule { cron, catch_up }),
                Err(e) => errors.push(err(s.span().start, format!("schedule {cron:?}: {e}"))),
            }
            trigger_fields.extend(["slot", "missed"]);
        }
        if let Some(f) = &t_ref.file {
            let r = f.get_ref();
            let debounce_ms = match r.debounce.as_deref().map(parse_span).transpose() {
                Ok(d) => d.unwrap_or(DEFAULT_DEBOUNCE_MS),
                Err(e) => {
                    errors.push(err(f.span().start, format!("debounce: {e}")));
                    DEFAULT_DEBOUNCE_MS
                }
            };
            if let Err(e) = glob::Pattern::new(&r.glob) {
                errors.push(err(f.span().start, format!("glob {:?}: {e}", r.glob)));
            }
            if r.path.trim().is_empty() {
                errors.push(err(f.span().start, "file trigger: path is empty".into()));
            }
            triggers.push(Trigger::File {
                path: r.path.clone(),
                glob: r.glob.clone(),
                debounce_ms,
            });
            trigger_fields.extend(["path", "name", "dir"]);
        }
        if let Some(i) = &t_ref.item {
            let r = i.get_ref();
            let state = r.state.trim().to_uppercase();
            if crate::engine::queue::State::parse(&state).is_none() {
                errors.push(err(
                    i.span().start,
                    format!(
                        "item trigger: state {:?} is not one of QUEUED, CLAIMED, IN_PROGRESS, \
                         COMPLETED, BLOCKED, CANCELLED",
                        r.state
                    ),
                ));
            }
            triggers.push(Trigger::Item {
                state,
                tag: r.tag.clone(),
                project: r.project.clone(),
            });
            trigger_fields.extend(["id", "title", "state", "tags", "project", "assignee"]);
        }
        if t_ref.schedule.is_none() && t_ref.file.is_none() && t_ref.item.is_none() && !t_ref.manual
        {
            errors.push(err(
                t.span().start,
                "[trigger] names no trigger: schedule, file, item or manual = true".into(),
            ));
        }
    }

    // Steps: names first, so on_error and templates can refer forward and back.
    let mut steps: Vec<Step> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    if raw.steps.is_empty() {
        errors.push(err(0, "a workflow needs at least one [[steps]]".into()));
    }
    for (i, s) in raw.steps.iter().enumerate() {
        let at = s.span().start;
        let n = match &s.get_ref().name {
            Some(n) => n.get_ref().trim().to_string(),
            None => format!("step{}", i + 1),
        };
        if !valid_ident(&n) {
            errors.push(err(
                s.get_ref().name.as_ref().map(|n| n.span().start).unwrap_or(at),
                format!("step name {n:?}: use letters, digits and _ (not starting with a digit), so templates can say steps.{n}"),
            ));
        }
        if names.insert(n.clone(), i).is_some() {
            errors.push(err(at, format!("two steps are named {n:?}")));
        }
    }
    let step_names: Vec<String> = {
        let mut v = vec![String::new(); names.len().max(raw.steps.len())];
        for (n, i) in &names {
            v[*i] = n.clone();
        }
        v
    };
    let kinds: Vec<String> = raw
        .steps
        .iter()
        .map(|s| {
            s.get_ref()
                .kind
                .as_ref()
                .map(|k| k.get_ref().clone())
                .unwrap_or_default()
        })
        .collect();
    let parse_on_error = |v: &Spanned<String>, errors: &mut Vec<DefError>| -> Option<OnError> {
        let t = v.get_ref().trim();
        if let Some(w) = t.strip_prefix("workflow:") {
            let w = w.trim();
            if !valid_name(w) {
                errors.push(err(
                    v.span().start,
                    format!("on_error: workflow name {w:?}"),
                ));
                return None;
            }
            Some(OnError::Workflow(w.to_string()))
        } else if names.contains_key(t) {
            Some(OnError::Step(t.to_string()))
        } else {
            errors.push(err(
                v.span().start,
                format!("on_error {t:?}: no step of that name here (say workflow:NAME for another workflow)"),
            ));
            None
        }
    };
    let wf_on_error = raw
        .on_error
        .as_ref()
        .and_then(|v| parse_on_error(v, &mut errors));
    let mut handlers: HashSet<String> = HashSet::new();
    if let Some(OnError::Step(s)) = &wf_on_error {
        handlers.insert(s.clone());
    }
    for s in &raw.steps {
        if let Some(v) = &s.get_ref().on_error {
            let t = v.get_ref().trim();
            if names.contains_key(t) {
                handlers.insert(t.to_string());
            }
        }
    }

    for (i, s) in raw.steps.iter().enumerate() {
        let r = s.get_ref();
        let at = s.span().start;
        let name = step_names[i].clone();
        let is_handler = handlers.contains(&name);
        // What this step's templates may read.
        let scope = Scope {
            trigger: &trigger_fields,
            earlier: if is_handler {
                // A handler runs after some step failed: any non-handler step may have run.
                (0..raw.steps.len())
                    .filter(|j| *j != i && !handlers.contains(&step_names[*j]))
                    .map(|j| (step_names[j].as_str(), kinds[j].as_str()))
                    .collect()
            } else {
                (0..i)
                    .filter(|j| !handlers.contains(&step_names[*j]))
                    .map(|j| (step_names[j].as_str(), kinds[j].as_str()))
                    .collect()
            },
            error: is_handler,
        };
        let tpl = |v: &Option<Spanned<String>>, what: &str, errors: &mut Vec<DefError>| {
            if let Some(v) = v {
                if let Err(e) = scope.check(v.get_ref()) {
                    errors.push(err(v.span().start, format!("{what}: {e}")));
                }
            }
        };
        let need = |v: &Option<Spanned<String>>, what: &str, errors: &mut Vec<DefError>| {
            if v.as_ref().is_none_or(|v| v.get_ref().trim().is_empty()) {
                errors.push(err(
                    at,
                    format!("step {name:?} ({}) needs {what}", kinds[i]),
                ));
            }
        };
        // Fields that belong to other kinds are refused, so a typo'd kind is not silently
        // a different step.
        let foreign = |allowed: &[&str], errors: &mut Vec<DefError>| {
            let present: [(&str, bool); 12] = [
                ("sql", r.sql.is_some()),
                ("run", r.run.is_some()),
                ("cwd", r.cwd.is_some()),
                ("env", !r.env.is_empty()),
                ("prompt", r.prompt.is_some()),
                ("system", r.system.is_some()),
                ("check", r.check.is_some()),
                ("title", r.title.is_some()),
                ("body", r.body.is_some()),
                ("sla", r.sla.is_some()),
                ("role", r.role.is_some()),
                ("tool", r.tool.is_some()),
            ];
            for (k, there) in present {
                if there && !allowed.contains(&k) {
                    errors.push(err(
                        at,
                        format!("step {name:?}: {k} does not belong to a {} step", kinds[i]),
                    ));
                }
            }
        };
        let kind = match r.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None => {
                errors.push(err(
                    at,
                    format!("step {name:?} has no kind: sql, shell, llm or human"),
                ));
                continue;
            }
            Some("sql") => {
                need(&r.sql, "sql", &mut errors);
                tpl(&r.sql, "sql", &mut errors);
                foreign(&["sql"], &mut errors);
                StepKind::Sql {
                    sql: text_of(&r.sql),
                }
            }
            Some("shell") => {
                need(&r.run, "run (the command)", &mut errors);
                tpl(&r.run, "run", &mut errors);
                tpl(&r.cwd, "cwd", &mut errors);
                for v in r.env.values() {
                    tpl(&Some(v.clone()), "env", &mut errors);
                }
                foreign(&["run", "cwd", "env"], &mut errors);
                StepKind::Shell {
                    run: text_of(&r.run),
                    cwd: r.cwd.as_ref().map(|c| c.get_ref().clone()),
                    env: r
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                        .collect(),
                }
            }
            Some("llm") => {
                need(&r.prompt, "prompt", &mut errors);
                tpl(&r.prompt, "prompt", &mut errors);
                tpl(&r.system, "system", &mut errors);
                foreign(&["prompt", "system", "check"], &mut errors);
                let check = match &r.check {
                    None => None,
                    Some(c) => {
                        let cr = c.get_ref();
                        let given = [cr.regex.is_some(), cr.json.is_some(), cr.ask.is_some()]
                            .iter()
                            .filter(|b| **b)
                            .count();
                        if given != 1 {
                            errors.push(err(
                                c.span().start,
                                "check: give exactly one of regex, json or ask".into(),
                            ));
                            None
                        } else if let Some(re) = &cr.regex {
                            if let Err(e) = regex::Regex::new(re) {
                                errors.push(err(c.span().start, format!("check regex: {e}")));
                            }
                            Some(Check::Regex(re.clone()))
                        } else if let Some(keys) = &cr.json {
                            Some(Check::Json(keys.clone()))
                        } else {
                            cr.ask.clone().map(Check::Ask)
                        }
                    }
                };
                StepKind::Llm {
                    prompt: text_of(&r.prompt),
                    system: r.system.as_ref().map(|s| s.get_ref().clone()),
                    max_tokens: r.max_tokens.unwrap_or(256).clamp(1, 8192),
                    check,
                }
            }
            Some("human") => {
                need(&r.title, "title (the work item's)", &mut errors);
                tpl(&r.title, "title", &mut errors);
                tpl(&r.body, "body", &mut errors);
                foreign(&["title", "body", "sla", "role"], &mut errors);
                let priority = r
                    .priority
                    .as_ref()
                    .map(|p| p.get_ref().trim().to_uppercase())
                    .unwrap_or_else(|| "M".into());
                if crate::engine::queue::Priority::parse(&priority).is_none() {
                    errors.push(err(
                        r.priority.as_ref().map(|p| p.span().start).unwrap_or(at),
                        format!("priority {priority:?}: H, M or L"),
                    ));
                }
                if let Some(s) = &r.sla {
                    if let Err(e) = crate::engine::queue::duration::parse_duration(s.get_ref()) {
                        errors.push(err(s.span().start, format!("sla: {e}")));
                    }
                }
                StepKind::Human {
                    title: text_of(&r.title),
                    body: text_of(&r.body),
                    priority,
                    sla: r.sla.as_ref().map(|s| s.get_ref().clone()),
                    role: r
                        .role
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_default(),
                    tags: r.tags.clone(),
                }
            }
            Some("plugin") => {
                need(&r.tool, "tool (PLUGIN.TOOL)", &mut errors);
                foreign(&["tool"], &mut errors);
                let tool = text_of(&r.tool);
                if !tool.is_empty()
                    && tool
                        .split_once('.')
                        .is_none_or(|(p, t)| p.is_empty() || t.is_empty())
                {
                    errors.push(err(
                        r.tool.as_ref().map(|t| t.span().start).unwrap_or(at),
                        format!("tool {tool:?}: name it PLUGIN.TOOL"),
                    ));
                }
                let args = match &r.args {
                    None => serde_json::json!({}),
                    Some(v @ toml::Value::Table(_)) => {
                        serde_json::to_value(v).unwrap_or_else(|_| serde_json::json!({}))
                    }
                    Some(_) => {
                        errors.push(err(
                            at,
                            format!(
                                "step {name:?}: args is a table (args = {{ key = \"value\" }})"
                            ),
                        ));
                        serde_json::json!({})
                    }
                };
                // Every string in the arguments is a template.
                let mut strings = Vec::new();
                collect_strings(&args, &mut strings);
                for t in strings {
                    if let Err(e) = scope.check(&t) {
                        errors.push(err(at, format!("args: {e}")));
                    }
                }
                StepKind::Plugin { tool, args }
            }
            Some(other) => {
                errors.push(err(
                    r.kind.as_ref().map(|k| k.span().start).unwrap_or(at),
                    format!(
                        "step {name:?}: unknown kind {other:?}: sql, shell, llm, human or plugin"
                    ),
                ));
                continue;
            }
        };
        let retries = match &r.retries {
            None => 0,
            Some(v) if (0..=MAX_RETRIES as i64).contains(v.get_ref()) => *v.get_ref() as u32,
            Some(v) => {
                errors.push(err(
                    v.span().start,
                    format!("retries {}: from 0 to {MAX_RETRIES}", v.get_ref()),
                ));
                0
            }
        };
        let span = |v: &Option<Spanned<String>>, what: &str, errors: &mut Vec<DefError>| {
            v.as_ref().and_then(|v| match parse_span(v.get_ref()) {
                Ok(ms) => Some(ms),
                Err(e) => {
                    errors.push(err(v.span().start, format!("{what}: {e}")));
                    None
                }
            })
        };
        let backoff_ms = span(&r.backoff, "backoff", &mut errors)
            .unwrap_or(DEFAULT_BACKOFF_MS)
            .min(MAX_BACKOFF_MS);
        let timeout_ms = span(&r.timeout, "timeout", &mut errors);
        let on_error = r
            .on_error
            .as_ref()
            .and_then(|v| parse_on_error(v, &mut errors));
        if let Some(OnError::Step(t)) = &on_error {
            if *t == name {
                errors.push(err(
                    r.on_error.as_ref().map(|v| v.span().start).unwrap_or(at),
                    format!("step {name:?}: on_error names the step itself (a cycle)"),
                ));
            }
        }
        steps.push(Step {
            name,
            kind,
            retries,
            backoff_ms,
            timeout_ms,
            on_error,
        });
    }
    // A cycle of handlers: a -> b -> a never ends.
    for (i, s) in steps.iter().enumerate() {
        let mut seen = HashSet::from([s.name.clone()]);
        let mut at = s.on_error.clone().or(wf_on_error.clone());
        while let Some(OnError::Step(next)) = at {
            if !seen.insert(next.clone()) {
                let line = raw.steps.get(i).map(|r| r.span().start).unwrap_or(0);
                if next == s.name {
                    errors.push(err(
                        line,
                        format!(
                            "on_error makes a cycle: step {:?} comes back to itself",
                            s.name
                        ),
                    ));
                }
                break;
            }
            at = steps
                .iter()
                .find(|x| x.name == next)
                .and_then(|x| x.on_error.clone());
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        errors.dedup();
        return Err(errors);
    }
    Ok(Workflow {
        name,
        description: raw.description,
        file: file.to_string(),
        concurrency,
        triggers,
        steps,
        on_error: wf_on_error,
        shared: raw.shared,
    })
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

pub const DEFAULT_DEBOUNCE_MS: u64 = 250;
pub const DEFAULT_BACKOFF_MS: u64 = 2_000;

fn text_of(v: &Option<Spanned<String>>) -> String {
    v.as_ref().map(|v| v.get_ref().clone()).unwrap_or_default()
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What one step's templates may name.
struct Scope<'a> {
    trigger: &'a HashSet<&'a str>,
    /// Steps whose outputs exist when this one runs, and their kinds.
    earlier: Vec<(&'a str, &'a str)>,
    /// An on_error handler also sees `error`.
    error: bool,
}

impl Scope<'_> {
    fn check(&self, text: &str) -> Result<(), String> {
        let names = template::names(text)?;
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for n in names {
            let parts: Vec<&str> = n.split('.').collect();
            match parts[0] {
                "steps" => {
                    let Some(step) = parts.get(1) else {
                        continue;
                    };
                    let Some((_, kind)) = self.earlier.iter().find(|(s, _)| s == step) else {
                        return Err(format!(
                            "{{{{ {n} }}}} names no earlier step: {}",
                            if self.earlier.is_empty() {
                                "this step has none before it".to_string()
                            } else {
                                format!(
                                    "it may read {}",
                                    self.earlier
                                        .iter()
                                        .map(|(s, _)| format!("steps.{s}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        ));
                    };
                    if let Some(field) = parts.get(2) {
                        let outs = StepKind::outputs(kind);
                        if !outs.contains(field) {
                            return Err(format!(
                                "{{{{ {n} }}}}: a {kind} step gives {}",
                                outs.join(", ")
                            ));
                        }
                    }
                }
                "trigger" => {
                    if let Some(field) = parts.get(1) {
                        if !self.trigger.contains(field) {
                            let mut f: Vec<&&str> = self.trigger.iter().collect();
                            f.sort();
                            return Err(format!(
                                "{{{{ {n} }}}}: this workflow's triggers give {}",
                                f.iter().map(|s| **s).collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                }
                "error" if self.error => {}
                "error" => {
                    return Err(format!(
                        "{{{{ {n} }}}}: only a step run by on_error sees error"
                    ))
                }
                "run" | "workflow" => {}
                // minijinja's own globals.
                "range" | "dict" | "namespace" | "debug" | "loop" => {}
                other => {
                    return Err(format!(
                        "{{{{ {other} }}}} is not known: templates see trigger, steps, run and workflow"
                    ))
                }
            }
        }
        Ok(())
    }
}
