/*!
Types that cross between the chat pane, the server and the llm worker.

A conversation is a list of `Turn`s. The pane owns what it shows; the server stores turns in
state.db and hands generation to the worker, whose events come back as `LlmEvent`s. Kept here,
apart from the pane, because the worker, `fieldkit chat` and the benches speak them too.
*/

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
    pub fn from_name(s: &str) -> Option<Role> {
        Some(match s {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

impl Turn {
    pub fn new(role: Role, content: impl Into<String>) -> Turn {
        Turn {
            role,
            content: content.into(),
        }
    }
}

/// How to sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenParams {
    pub max_tokens: u32,
    /// 0 is greedy.
    pub temperature: f32,
    pub seed: u32,
    /// Go on past the end-of-generation token (benchmarks count a fixed number of tokens).
    pub ignore_eos: bool,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            max_tokens: 512,
            temperature: 0.7,
            seed: 42,
            ignore_eos: false,
        }
    }
}

/// What generation reports, in order: maybe `Loading`s and `Loaded`, maybe `Summarized`,
/// `Token`s, then `Done` or `Error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LlmEvent {
    Loading {
        model: String,
        /// 0.0 ..= 1.0
        progress: f32,
    },
    Loaded {
        model: String,
        detail: String,
    },
    /// The conversation did not fit the context: turns `[first, upto)` (counting the turns
    /// sent, system prompt excluded) were folded into this summary, which took their place.
    Summarized {
        upto: usize,
        text: String,
    },
    /// Reading the prompt: `done` of `total` tokens (sent between chunks of a long prompt).
    Prompt {
        done: u32,
        total: u32,
    },
    Token(String),
    Done(GenStats),
    Error(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenStats {
    pub prompt_tokens: u32,
    pub tokens: u32,
    pub prompt_ms: f64,
    pub gen_ms: f64,
    /// Stopped by the user (Esc) rather than by the model or the token limit.
    pub cancelled: bool,
    /// Ended by `max_tokens`.
    pub truncated: bool,
}

impl GenStats {
    /// What an answer's footer line says: `128 tokens · 41.2 tok/s · stopped · gemma`.
    pub fn meta(&self, model: &str) -> String {
        format!(
            "{} tokens · {:.1} tok/s{} · {model}",
            self.tokens,
            self.tokens_per_s(),
            if self.cancelled { " · stopped" } else { "" }
        )
    }

    pub fn tokens_per_s(&self) -> f64 {
        if self.gen_ms > 0.0 {
            self.tokens as f64 * 1000.0 / self.gen_ms
        } else {
            0.0
        }
    }
    pub fn prompt_per_s(&self) -> f64 {
        if self.prompt_ms > 0.0 {
            self.prompt_tokens as f64 * 1000.0 / self.prompt_ms
        } else {
            0.0
        }
    }
}

/// A piece of context from another pane, shown collapsed in the chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// `grid trips.csv (6 columns, 20 rows)`.
    pub title: String,
    pub body: String,
}

impl Attachment {
    /// The attachment as the model reads it: its title, then the body fenced, which chat and
    /// base models alike read as "quoted material" rather than as the question.
    pub fn to_prompt(&self) -> String {
        let fence = if self.body.contains("```") {
            "~~~~"
        } else {
            "```"
        };
        format!(
            "{}:\n{fence}\n{}\n{fence}",
            self.title,
            self.body.trim_end()
        )
    }
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMsg {
    pub id: i64,
    /// `user`, `assistant`, or `summary` (older turns folded; see `LlmEvent::Summarized`).
    pub role: String,
    pub content: String,
    pub attachments: Vec<Attachment>,
    /// Footer figures of an answer: `128 tokens · 41.2 tok/s`.
    pub meta: String,
}

impl StoredMsg {
    /// A message not stored yet (id 0), without attachments.
    pub fn new(role: &str, content: impl Into<String>, meta: impl Into<String>) -> StoredMsg {
        StoredMsg {
            id: 0,
            role: role.into(),
            content: content.into(),
            attachments: Vec::new(),
            meta: meta.into(),
        }
    }

    /// A summary standing for the turns up to message `folded` (see `folds`).
    pub fn summary(text: impl Into<String>, folded: Option<i64>) -> StoredMsg {
        StoredMsg::new(
            "summary",
            text,
            folded.map(|f| format!("folds:{f}")).unwrap_or_default(),
        )
    }
}

/// A chat session as the pane shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSession {
    pub id: i64,
    pub name: String,
    pub system: String,
    pub messages: Vec<StoredMsg>,
}

/// From the chat pane (and the SQL editor's "ask") to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatRequest {
    /// Load session `id`, or the newest one (creating one when there is none).
    Open(Option<i64>),
    New,
    /// Pick a session from a list (fuzzy by name and first message).
    List,
    /// Sessions whose messages contain the text.
    Search(String),
    /// The pane says which session: the server never reads it out of the pane.
    Rename {
        session: i64,
        name: String,
    },
    Delete {
        session: i64,
    },
    SetSystem {
        session: i64,
        text: String,
    },
    /// Store `user` in `session`, then answer the session (the server builds the prompt from
    /// state.db with `turns_of`, so what is answered is what is kept).
    Send {
        session: i64,
        user: StoredMsg,
        /// Regenerate: the last stored answer is replaced.
        replace_last: bool,
        /// Pull the top chunks of the retrieval index for the question into the prompt.
        retrieval: bool,
    },
    Cancel,
    /// Answer with this registered model from now on (`None`: the default).
    Model(Option<String>),
}

/// From the server to a chat pane.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Session(ChatSession),
    /// Loading, Loaded and Token, as they come.
    Gen(LlmEvent),
    /// The message the pane added (of this role, still without an id) is stored as `id`.
    Stored {
        id: i64,
        role: String,
    },
    /// A stored message to show: a summary of folded turns.
    Add(StoredMsg),
    /// The answer is complete and stored.
    Finished {
        msg: StoredMsg,
        stats: GenStats,
    },
    /// The answer failed; what had come (if anything) is stored as `partial`.
    Failed {
        partial: Option<StoredMsg>,
        error: String,
    },
    Attach(Attachment),
    /// Which model answers, for the footer.
    Model(String),
    /// Passages the retrieval index gave for the last question, titled with their sources
    /// (`sources: notes.md:12, ...`): shown with the question they went with.
    Sources(Attachment),
}

/// The id of the newest message a summary folds (`meta` is `folds:ID`).
pub fn folds(m: &StoredMsg) -> Option<i64> {
    if m.role != "summary" {
        return None;
    }
    m.meta.strip_prefix("folds:")?.trim().parse().ok()
}

/// The turns to send for a session, with the id of the message each came from (`None` for the
/// system prompt and a summary): the system prompt, the last summary, then the messages that
/// summary does not fold (`folds:ID` in its meta; all before it when that is unreadable).
/// Messages not stored yet (id 0) are the newest and always go. The server builds prompts
/// from state.db with it, and the pane shows what it sends with it.
pub fn turns_of(s: &ChatSession) -> (Vec<Turn>, Vec<Option<i64>>) {
    let mut turns = Vec::new();
    let mut ids = Vec::new();
    if !s.system.trim().is_empty() {
        turns.push(Turn::new(Role::System, s.system.clone()));
        ids.push(None);
    }
    let last_summary = s.messages.iter().rev().find(|m| m.role == "summary");
    let folded = last_summary
        .map(|m| folds(m).unwrap_or(m.id))
        .unwrap_or(i64::MIN);
    if let Some(m) = last_summary {
        turns.push(Turn::new(
            Role::System,
            format!("Summary of the earlier conversation: {}", m.content),
        ));
        ids.push(None);
    }
    for m in s.messages.iter().filter(|m| m.id > folded || m.id == 0) {
        let t = match m.role.as_str() {
            "user" => Turn::new(Role::User, user_prompt(m)),
            "assistant" => Turn::new(Role::Assistant, m.content.clone()),
            _ => continue,
        };
        turns.push(t);
        ids.push((m.id != 0).then_some(m.id));
    }
    (turns, ids)
}

/// A user message as the model reads it: its attachments first, then the question.
pub fn user_prompt(m: &StoredMsg) -> String {
    let mut s = String::new();
    for a in &m.attachments {
        s.push_str(&a.to_prompt());
        s.push_str("\n\n");
    }
    s.push_str(&m.content);
    s
}
