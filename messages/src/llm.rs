/*!
What crosses to and from the `llm` worker, and what state.db keeps of a chat.

A conversation is a list of `Turn`s. The server stores turns in state.db and hands generation
to the worker, whose events come back as `LlmEvent`s; `fieldkit chat` and the benches speak the
same messages.
*/

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// A GBNF grammar the answer must follow (llama.cpp's grammar sampling; root rule `root`).
    pub grammar: Option<String>,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            max_tokens: 512,
            temperature: 0.7,
            seed: 42,
            ignore_eos: false,
            grammar: None,
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
    /// Prompt tokens whose keys and values the kept context already held (not decoded again).
    pub reused: u32,
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
    /// Prompt tokens decoded per second (those reused from the kept cache left out).
    pub fn prompt_per_s(&self) -> f64 {
        if self.prompt_ms > 0.0 {
            self.prompt_tokens.saturating_sub(self.reused) as f64 * 1000.0 / self.prompt_ms
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

/// How the model is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub n_ctx: u32,
    pub threads: u32,
    /// Most tokens decoded at once in prompt processing.
    pub n_batch: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            n_ctx: 4096,
            threads: 2,
            n_batch: 512,
        }
    }
}

/// Which model: a file and the name it is shown by, or (opt-in) a remote endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub path: PathBuf,
    /// `http://host:port/v1` of an OpenAI-compatible server, and the model name it knows.
    pub remote: Option<(String, String)>,
}

impl ModelRef {
    pub fn local(name: &str, path: &Path) -> ModelRef {
        ModelRef {
            name: name.into(),
            path: path.to_path_buf(),
            remote: None,
        }
    }
}

/// A tool the model may call: `PLUGIN.TOOL`, what it does, and its arguments' JSON schema (as
/// text: the pipes' bincode cannot carry a free-form JSON value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub schema: String,
}

/// A model the `llm` worker holds, for the status pane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedModel {
    pub name: String,
    pub detail: String,
    /// Memory it is reckoned to hold.
    pub bytes: u64,
    /// Seconds since it last answered.
    pub idle_s: u64,
    /// The one answering now (or last).
    pub active: bool,
}

/// To the `llm` worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LlmIn {
    /// Answer `turns` with `model`.
    Chat {
        job: u64,
        model: ModelRef,
        settings: Settings,
        turns: Vec<Turn>,
        params: GenParams,
        /// Tools the model may call (plugins' tools in a chat); empty for other jobs.
        tools: Vec<ToolSpec>,
        /// The model that folds older turns into a summary when the conversation outgrows the
        /// context (`[llm.tasks] summaries`); `None`: the answering model.
        summary_model: Option<ModelRef>,
    },
    /// Vectors for `texts` from the embedding model `model` (`[llm.tasks] embeddings`): a
    /// question for retrieval by meaning. Answered with `LlmOut::Embedded`.
    Embed {
        job: u64,
        model: ModelRef,
        settings: Settings,
        texts: Vec<String>,
    },
    /// Generate from these exact tokens, no template (benches: the same prompt as a peer).
    Raw {
        job: u64,
        model: ModelRef,
        settings: Settings,
        tokens: Vec<i32>,
        params: GenParams,
    },
    /// Stop job `job` (or whatever runs, for 0).
    Cancel {
        job: u64,
    },
    Unload,
    /// Unload after this long without a job.
    IdleUnload {
        after_s: u64,
    },
    /// The memory the loaded models may take together (0: half the memory free).
    Budget {
        bytes: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LlmOut {
    /// Ready, and the messages version it speaks.
    Hello {
        pid: u32,
        detail: String,
        version: u32,
    },
    Event {
        job: u64,
        ev: LlmEvent,
    },
    /// The vectors for an `Embed` job, one per text, each of length 1, or why there are none.
    Embedded {
        job: u64,
        vectors: Result<Vec<Vec<f32>>, String>,
    },
    /// The model answering now (`None`: none) and every model held, for the status pane.
    State {
        loaded: Option<String>,
        models: Vec<LoadedModel>,
    },
}
