/*!
The `Pane` trait and every fieldkit pane.

A pane is a state machine fed three ways: keymap-resolved `Action`s, raw keys, and events from
engines. It never holds a channel, a process or a file: it pushes `Effect`s into `Cx` and the
server carries them out. That is what lets every pane be tested here, without DuckDB, llama.cpp,
a PTY or crypto: feed it, render it on a `TestBackend`, read the effects.
*/

pub mod action;
pub mod chat;
pub mod data;
pub mod engine;
pub mod grid;
pub mod keys;
pub mod llm;
pub mod sql;
pub mod status;
pub mod term;
#[cfg(test)]
pub(crate) mod testkit;

use std::borrow::Cow;

pub use action::{Action, ActionInfo, Dir, ACTIONS};
pub use chat::ChatPane;
pub use crossterm::event::KeyEvent;
pub use engine::{EngineEvent, EngineRequest, EngineRow, EngineState, ProcRow, ServerStatus};
pub use fieldkit_widgets::{Hint, Theme};
pub use grid::GridPane;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use serde::{Deserialize, Serialize};
pub use sql::SqlPane;
pub use status::StatusPane;
pub use term::{CopyCmd, SelectKind, TermCell, TermFrame, TermModes, TermPane};

/// The kinds of pane. The kind picks the keymap scope and the name used by `open KIND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum PaneKind {
    Term,
    Grid,
    Sql,
    Chat,
    Vault,
    Queue,
    Editor,
    Status,
    Mesh,
}

impl PaneKind {
    pub const ALL: [PaneKind; 9] = [
        PaneKind::Term,
        PaneKind::Grid,
        PaneKind::Sql,
        PaneKind::Chat,
        PaneKind::Vault,
        PaneKind::Queue,
        PaneKind::Editor,
        PaneKind::Status,
        PaneKind::Mesh,
    ];

    /// The name in keymaps, `open KIND` and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            PaneKind::Term => "term",
            PaneKind::Grid => "grid",
            PaneKind::Sql => "sql",
            PaneKind::Chat => "chat",
            PaneKind::Vault => "vault",
            PaneKind::Queue => "queue",
            PaneKind::Editor => "editor",
            PaneKind::Status => "status",
            PaneKind::Mesh => "mesh",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Kinds whose pane this build can open.
    pub fn is_built(self) -> bool {
        matches!(
            self,
            PaneKind::Status | PaneKind::Term | PaneKind::Grid | PaneKind::Sql | PaneKind::Chat
        )
    }
}

/// Whether a handler used the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Consumed,
    Ignored,
}

/// Requests to the server's UI from a pane.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    /// Show a message in a popup (errors the user must see).
    Message { title: String, text: String },
    /// Put text on the client's clipboard (OSC 52).
    Clipboard(String),
    /// Close this pane (a finished terminal, after the user saw how it ended).
    ClosePane,
    /// Ask the user for text, then run the action `then` with it as the argument.
    Prompt {
        title: String,
        initial: String,
        then: String,
        /// What Enter on an empty prompt runs instead (`filter-clear`).
        on_empty: Option<String>,
    },
}

/// What a pane asks for; the server carries it out after the handler returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(EngineRequest),
    Ui(UiCommand),
}

/// The handler context: where effects go, and whether the pane needs redrawing.
#[derive(Debug, Default)]
pub struct Cx {
    pub effects: Vec<Effect>,
    pub dirty: bool,
}

impl Cx {
    pub fn push(&mut self, e: Effect) {
        self.effects.push(e);
    }
}

/// Everything a pane may read while rendering.
pub struct RenderCx<'a> {
    pub theme: &'a Theme,
    pub focused: bool,
}

/// What is saved of a pane so that it comes back after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaneState {
    Status,
    /// A terminal: its last working directory and the command it ran.
    Term {
        cwd: Option<String>,
        command: String,
    },
    Grid {
        source: Option<data::Source>,
        view: data::View,
    },
    Sql {
        buffers: Vec<String>,
        active: usize,
        dialect: Option<String>,
    },
    /// A chat: the session it shows (the messages are in state.db).
    Chat {
        session: Option<i64>,
    },
}

pub trait Pane {
    /// Picks the keymap scope.
    fn kind(&self) -> PaneKind;
    fn title(&self) -> Cow<'_, str>;
    /// A keymap-resolved action the server did not handle itself.
    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome;
    /// A key no binding claimed.
    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome;
    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome;
    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx);
    fn cursor(&self, _area: Rect) -> Option<Position> {
        None
    }
    /// Hints that depend on the pane's state, after the keymap's own.
    fn hints(&self, _out: &mut Vec<Hint>) {}
    /// What the pane shows, for the chat (`attach-context`): `None` when there is nothing.
    /// Terminals are the server's to describe (their screens live there).
    fn context(&self) -> Option<llm::Attachment> {
        None
    }
    fn save(&self) -> PaneState;
}

/// Makes a pane of `kind` from its saved state, or a fresh one. `None` for kinds not built.
/// `shell` is the command a fresh terminal runs.
pub fn restore(state: Option<&PaneState>, kind: PaneKind, shell: &str) -> Option<Box<dyn Pane>> {
    match (state, kind) {
        (Some(PaneState::Status), _) | (None, PaneKind::Status) => {
            Some(Box::new(StatusPane::new()))
        }
        (Some(PaneState::Term { cwd, command }), _) => {
            Some(Box::new(TermPane::new(command, cwd.clone())))
        }
        (None, PaneKind::Term) => Some(Box::new(TermPane::new(shell, None))),
        (Some(PaneState::Grid { source, view }), _) => Some(Box::new(match source {
            Some(s) => GridPane::with_source(s.clone(), view.clone()),
            None => GridPane::new(),
        })),
        (None, PaneKind::Grid) => Some(Box::new(GridPane::new())),
        (
            Some(PaneState::Sql {
                buffers,
                active,
                dialect,
            }),
            _,
        ) => Some(Box::new(SqlPane::new(
            buffers.clone(),
            *active,
            dialect.clone(),
        ))),
        (None, PaneKind::Sql) => Some(Box::new(SqlPane::default())),
        (Some(PaneState::Chat { session }), _) => Some(Box::new(ChatPane::new(*session))),
        (None, PaneKind::Chat) => Some(Box::new(ChatPane::new(None))),
        _ => None,
    }
}

/// The kind a saved pane state belongs to.
pub fn kind_of(state: &PaneState) -> PaneKind {
    match state {
        PaneState::Status => PaneKind::Status,
        PaneState::Term { .. } => PaneKind::Term,
        PaneState::Grid { .. } => PaneKind::Grid,
        PaneState::Sql { .. } => PaneKind::Sql,
        PaneState::Chat { .. } => PaneKind::Chat,
    }
}
