/*!
Workflows: definitions (`def`), templates (`template`), schedules (`schedule`), and the plain
model of a run that the store keeps and the server's runner moves forward.

A run is a row with a copy of its workflow's definition, its trigger (JSON), its state and a
cursor; each step is a row with its state, its tries and its output; each try is a row with
its log. The runner writes a transition before it acts on it, so a server killed at any moment
finds, when it starts again, exactly where each run was: a step marked done is never run again,
and a step marked running was interrupted and is tried again under its policy (at least once).
*/

pub mod def;
mod dir;
pub mod schedule;
pub mod template;

#[cfg(test)]
mod tests;

pub use def::{Check, OnError, Step, StepKind, Trigger, Workflow};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    /// Waiting for a slot under the workflow's concurrency limit.
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn name(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<RunState> {
        [
            RunState::Queued,
            RunState::Running,
            RunState::Done,
            RunState::Failed,
            RunState::Cancelled,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
    pub fn is_over(self) -> bool {
        matches!(
            self,
            RunState::Done | RunState::Failed | RunState::Cancelled
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    Pending,
    /// A try is under way.
    Running,
    /// A human step's work item is open.
    Waiting,
    /// A try failed; the next starts at `next_at`.
    Retrying,
    Done,
    Failed,
    /// Not run: an on_error handler that no failure called, or steps after a failure.
    Skipped,
    Cancelled,
}

impl StepState {
    pub fn name(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Waiting => "waiting",
            StepState::Retrying => "retrying",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
            StepState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<StepState> {
        [
            StepState::Pending,
            StepState::Running,
            StepState::Waiting,
            StepState::Retrying,
            StepState::Done,
            StepState::Failed,
            StepState::Skipped,
            StepState::Cancelled,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub workflow: String,
    pub def: Workflow,
    pub trigger: serde_json::Value,
    pub state: RunState,
    pub created: i64,
    pub started: Option<i64>,
    pub ended: Option<i64>,
    pub error: String,
    /// The step being run (an index into `def.steps`).
    pub cursor: usize,
    /// The step whose failure the handler at `cursor` is handling.
    pub handling: Option<usize>,
    pub steps: Vec<StepRec>,
}

/// A step of a run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRec {
    pub state: StepState,
    pub tries: u32,
    /// When the next try may start (`Retrying`).
    pub next_at: Option<i64>,
    pub output: serde_json::Value,
    /// A human step's work item, chosen before it is made (so it is made once).
    pub item: Option<String>,
    pub log: Vec<TryRec>,
}

/// One try of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryRec {
    pub n: u32,
    pub started: i64,
    pub ended: Option<i64>,
    /// `ok`, or why not: `exit status 1`, `timed out after 30s`, `interrupted: ...`.
    pub outcome: String,
    pub stdout: String,
    pub stderr: String,
}

/// What a step's stdout or stderr keeps: the first `LOG_CAP` bytes; the rest is counted.
pub const LOG_CAP: usize = 64 * 1024;

/// Bytes kept up to a cap, the rest counted (a step that prints a gigabyte costs 64 KiB).
#[derive(Debug, Default, Clone)]
pub struct Capped {
    pub kept: Vec<u8>,
    pub dropped: u64,
}

impl Capped {
    pub fn push(&mut self, b: &[u8]) {
        let room = LOG_CAP.saturating_sub(self.kept.len());
        let take = room.min(b.len());
        self.kept.extend_from_slice(&b[..take]);
        self.dropped += (b.len() - take) as u64;
    }

    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&format!(
                "[{} more bytes not kept: a step's output is kept up to {} KiB]",
                self.dropped,
                LOG_CAP / 1024
            ));
        }
        s
    }
}

/// Whether an llm step's answer passes a regex or JSON check (`Ask` is judged by the model).
pub fn check_answer(check: &Check, text: &str) -> Result<(), String> {
    match check {
        Check::Regex(re) => {
            let re = regex::Regex::new(re).map_err(|e| format!("check regex: {e}"))?;
            if re.is_match(text) {
                Ok(())
            } else {
                Err(format!("the answer does not match /{}/", re.as_str()))
            }
        }
        Check::Json(keys) => {
            let body = first_block(text);
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| format!("the answer is not JSON: {e}"))?;
            let obj = v
                .as_object()
                .ok_or("the answer is JSON but not an object")?;
            let missing: Vec<&str> = keys
                .iter()
                .filter(|k| !obj.contains_key(k.as_str()))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("the answer's JSON lacks {}", missing.join(", ")))
            }
        }
        Check::Ask(_) => Ok(()),
    }
}

/// The first fenced block of an answer, else the answer trimmed.
fn first_block(text: &str) -> String {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("```"));
    if lines.next().is_none() {
        return text.trim().to_string();
    }
    lines
        .take_while(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the model's verdict on an `ask` check is yes.
pub fn says_yes(answer: &str) -> bool {
    let a = answer.trim_start().to_lowercase();
    let word: String = a.chars().take_while(|c| c.is_alphabetic()).collect();
    word == "yes" || word == "y"
}

/// A span as a timeout or backoff is written: `500ms`, `2.5s`, `5m`.
pub fn span_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 && !ms.is_multiple_of(1000) {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        crate::engine::queue::duration::show(ms as i64)
    }
}

/// The `~` of a path expanded to $HOME.
pub fn expand_home(p: &str) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return format!("{}{}", home.to_string_lossy(), &p[1..]);
        }
    }
    p.to_string()
}
