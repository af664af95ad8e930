/*!
The work queue's model: items, their states and the moves between them, SLAs and urgency. Pure
functions over plain data, so the store (`store/queue.rs`), the server's queue service, the CLI
and the pane all judge an item the same way, and tests need no database.

An item's id is 128 random bits in hex (as a version-4 UUID carries 122): unique across machines
(the mesh will sync items), and random from the first character, so the first few name an item
on the command line as git's do (the list shows eight). Ids were first made to start with the
time, to sort by creation; then every item made in the same hour shared its first eight
characters, and nobody could type one.
*/

use serde::{Deserialize, Serialize};

pub mod duration;

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Queued,
    Claimed,
    InProgress,
    Completed,
    Blocked,
    Cancelled,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Claimed,
        State::InProgress,
        State::Completed,
        State::Blocked,
        State::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "QUEUED",
            State::Claimed => "CLAIMED",
            State::InProgress => "IN_PROGRESS",
            State::Completed => "COMPLETED",
            State::Blocked => "BLOCKED",
            State::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        let up = s.trim().to_ascii_uppercase().replace('-', "_");
        State::ALL.into_iter().find(|st| st.name() == up)
    }

    /// Completed and cancelled items are done with: their SLA no longer runs.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Completed | State::Cancelled)
    }
}

/// The moves people make; each says which states it starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Move {
    Claim,
    Start,
    Done,
    Block,
    Cancel,
}

impl Move {
    pub fn name(self) -> &'static str {
        match self {
            Move::Claim => "claim",
            Move::Start => "start",
            Move::Done => "done",
            Move::Block => "block",
            Move::Cancel => "cancel",
        }
    }

    /// The state the move leads to from `from`, or why it cannot be made.
    pub fn to(self, from: State) -> Result<State, String> {
        use State::*;
        let to = match (self, from) {
            (Move::Claim, Queued | Blocked) => Claimed,
            (Move::Start, Queued | Claimed | Blocked) => InProgress,
            (Move::Done, Claimed | InProgress) => Completed,
            (Move::Block, Queued | Claimed | InProgress) => Blocked,
            (Move::Cancel, Queued | Claimed | InProgress | Blocked) => Cancelled,
            (m, f) => return Err(format!("cannot {} an item that is {}", m.name(), f.name())),
        };
        Ok(to)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    #[serde(rename = "L")]
    Low,
    #[serde(rename = "M")]
    Medium,
    #[serde(rename = "H")]
    High,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_uppercase().as_str() {
            "H" | "HIGH" => Some(Priority::High),
            "M" | "MEDIUM" => Some(Priority::Medium),
            "L" | "LOW" => Some(Priority::Low),
            _ => None,
        }
    }

    pub fn letter(self) -> &'static str {
        match self {
            Priority::High => "H",
            Priority::Medium => "M",
            Priority::Low => "L",
        }
    }
}

/// One move in an item's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub who: String,
    pub from: Option<State>,
    pub to: State,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub at: i64,
    pub who: String,
    pub text: String,
}

/// A work item, as stored and as `queue export` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub state: State,
    pub priority: Priority,
    /// Who may claim it ("" : anyone).
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub project: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    pub updated: i64,
    /// When it is due (ms since the epoch): from an SLA duration at creation, or a due time.
    #[serde(default)]
    pub due: Option<i64>,
    /// Files, queries, chat sessions, workflow runs it refers to (`kind:target`).
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub history: Vec<Transition>,
    #[serde(default)]
    pub comments: Vec<Comment>,
}

/// Changes to an item (`queue edit`): each `Some` replaces that field; `due` is the new due
/// time (from an SLA duration or a time), `clear_due` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemEdit {
    pub title: Option<String>,
    pub body: Option<String>,
    pub priority: Option<Priority>,
    pub role: Option<String>,
    pub tags: Option<Vec<String>>,
    pub project: Option<String>,
    pub due: Option<i64>,
    pub clear_due: bool,
}

/// Where an item stands against its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaState {
    /// No SLA, or the item is done with.
    None,
    Ok,
    /// 80% of the time from creation to due has passed.
    Warning,
    Overdue,
}

/// The share of the SLA at which an item warns.
pub const WARN_AT: f64 = 0.8;

impl Item {
    /// The share of its SLA used at `now` (1.0 = due), when it has one and is open.
    pub fn sla_used(&self, now: i64) -> Option<f64> {
        let due = self.due?;
        if !self.state.is_open() {
            return None;
        }
        let span = (due - self.created).max(1) as f64;
        Some((now - self.created) as f64 / span)
    }

    pub fn sla(&self, now: i64) -> SlaState {
        match self.sla_used(now) {
            None => SlaState::None,
            Some(u) if u >= 1.0 => SlaState::Overdue,
            Some(u) if u >= WARN_AT => SlaState::Warning,
            Some(_) => SlaState::Ok,
        }
    }

    /// The urgency score (higher first), as the README documents it: the sum of priority
    /// (H 6, M 3.9, L 1.8), SLA (12 times the share used, up to 12; 15 once overdue), age (2
    /// times the age in days over 30, up to 2) and state (IN_PROGRESS 4, CLAIMED 1, BLOCKED
    /// -5); 0 for completed or cancelled items.
    pub fn urgency(&self, now: i64) -> f64 {
        if !self.state.is_open() {
            return 0.0;
        }
        let priority = match self.priority {
            Priority::High => 6.0,
            Priority::Medium => 3.9,
            Priority::Low => 1.8,
        };
        let sla = match self.sla_used(now) {
            None => 0.0,
            Some(u) if u >= 1.0 => 15.0,
            Some(u) => 12.0 * u.max(0.0),
        };
        let days = (now - self.created).max(0) as f64 / 86_400_000.0;
        let age = (2.0 * days / 30.0).min(2.0);
        let state = match self.state {
            State::InProgress => 4.0,
            State::Claimed => 1.0,
            State::Blocked => -5.0,
            _ => 0.0,
        };
        priority + sla + age + state
    }
}

/// A new id: 128 random bits, 32 hex characters.
pub fn new_id() -> String {
    let mut r = [0u8; 16];
    // Without the OS's random source two machines could make the same id: fatal by design.
    getrandom::fill(&mut r).expect("the operating system's random number source failed");
    r.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the epoch on the wall clock (SLAs are wall-clock: a suspended laptop's
/// items keep ageing).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
