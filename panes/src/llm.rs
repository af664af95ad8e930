/*!
What the chat pane and the server say to each other, and how a stored session becomes the turns
a model answers.

The values that cross to the `llm` worker or into state.db (`Turn`, `LlmEvent`, `StoredMsg`,
...) are in `fieldkit-messages`, re-exported here; `ChatRequest` and `ChatEvent` stay in the
server's process and are not serialised.
*/

pub use fieldkit_messages::llm::*;

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
    /// The SQL editor asks the model for SQL answering `question` over `schema`.
    AskData {
        question: String,
        schema: String,
    },
    /// The code editor asks the model about `text` (its selection, else its file), written
    /// in `lang`: answered by tokens as they come, then `EditorEvent::AiAnswer`.
    EditText {
        how: EditHow,
        text: String,
        lang: Option<String>,
    },
}

/// What the editor asks the model to do with a text.
#[derive(Debug, Clone, PartialEq)]
pub enum EditHow {
    Explain,
    /// Rewrite as the instruction says.
    Rewrite(String),
    Fix,
}

/// From the server to a chat pane.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Session(ChatSession),
    /// The session changed elsewhere (a teammate's message in a shared chat): shown if it is
    /// the one this pane shows, without touching what is being written or typed.
    Updated(ChatSession),
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
