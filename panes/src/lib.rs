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
pub mod editor;
pub mod engine;
pub mod grid;
pub mod keys;
pub mod llm;
pub mod mesh;
pub mod queue;
pub mod registry;
pub mod runs;
pub mod sql;
pub mod status;
pub mod term;
#[cfg(test)]
pub(crate) mod testkit;
pub mod vault;

use std::borrow::Cow;

pub use action::{Action, ActionInfo, Dir};
pub use chat::ChatPane;
pub use crossterm::event::KeyEvent;
pub use engine::{
    Engine, EngineEvent, EngineRequest, EngineRow, EngineState, ProcRow, ServerStatus, SqlRequest,
    TermRequest,
};
pub use fieldkit_widgets::{Hint, Theme};
pub use grid::GridPane;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
pub use registry::catalogue;
pub use sql::SqlPane;
pub use status::StatusPane;
pub use term::{CopyCmd, SelectKind, TermCell, TermFrame, TermModes, TermPane, TermRows};

pub use fieldkit_messages::saved::{PaneKind, PaneState};

/// Whether a pane's hints go with the keymap's or stand alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hints {
    WithKeymap,
    Alone,
    /// The pane takes text now (a passphrase, a form): every key but the prefix and
    /// `[[always]]` keys goes to `on_input`, and no binding applies.
    Typing,
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
    /// The buffer under the pane's area still holds what the pane drew there last time, and
    /// nothing else changed on screen: a pane may draw only what changed since.
    pub retained: bool,
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
    /// Hints that depend on the pane's state, before the keymap's own; `Hints::Alone` when an
    /// overlay, copy mode or a completion list has the keys now and the keymap's do not apply.
    fn hints(&self, _out: &mut Vec<Hint>) -> Hints {
        Hints::WithKeymap
    }
    /// What closing the pane now would stop ("a query is running"), so the close asks first;
    /// `None` when nothing would be lost. Terminals are the server's to judge (their programs
    /// live there).
    fn busy(&self) -> Option<String> {
        None
    }
    /// What the pane shows, for the chat (`attach-context`): `None` when there is nothing.
    /// Terminals are the server's to describe (their screens live there).
    fn context(&self) -> Option<llm::Attachment> {
        None
    }
    fn save(&self) -> PaneState;
}

/// One kind of pane's registration (`registry::PANES` lists them): everything the rest of
/// fieldkit needs to know about the kind without looking inside its panes.
pub struct PaneSpec {
    /// Its name (`open KIND`) and keymap scope (`[KIND]` in keymap.toml).
    pub kind: PaneKind,
    /// Every key but the prefix goes to the pane (a terminal): global bindings do not apply.
    pub all_keys: bool,
    /// What the pane does itself (`Action::Pane`): joins the action catalogue.
    pub actions: &'static [ActionInfo],
    /// The engines the pane needs.
    pub engines: &'static [Engine],
    /// A fresh pane; `shell` is the command a fresh terminal runs.
    pub fresh: fn(shell: &str) -> Box<dyn Pane>,
    /// The pane back from its saved state; `None` when the state is another kind's.
    pub restore: fn(&PaneState) -> Option<Box<dyn Pane>>,
}

pub use registry::restore;
