/*!
Types that cross between panes and engines. Panes only see these values; the engines
themselves live in the binary, so this crate links none of them.
*/

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A pane's request, routed by the engine it is for to that engine's service in the server.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineRequest {
    /// The status pane wants fresh figures now.
    StatusRefresh,
    /// For the pty engine, about the asking terminal pane.
    Term(TermRequest),
    /// A request for the data worker, answered to the asking pane.
    Data(crate::data::DataRequest),
    /// The SQL editor's runs, served by the data service through the grid linked to it.
    Sql(SqlRequest),
    /// For the chat's server side: sessions, sending, stopping, asking for SQL.
    Chat(crate::llm::ChatRequest),
    /// For the vault's service: the entries, a field.
    Vault(crate::vault::VaultRequest),
    /// For the queue's service: the items, a move, an add.
    Queue(crate::queue::QueueRequest),
    /// For the workflow runner: runs, a re-run, a cancel.
    Runs(crate::runs::RunsRequest),
    /// For the editor's service: open and save files, the paste buffer.
    Editor(crate::editor::EditorRequest),
    /// For the mesh's service: how the team is, an invite, a revoke.
    Mesh(crate::mesh::MeshRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermRequest {
    /// The process the pane runs, and where (its answer to `Opened`).
    Spawn {
        command: String,
        cwd: Option<String>,
    },
    /// Bytes for the pane's program.
    Input(Vec<u8>),
    /// A copy-mode command on the pane's scrollback.
    Copy(crate::term::CopyCmd),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SqlRequest {
    /// Run this text; its results go to the grid linked to the editor.
    Run {
        sql: String,
        dialect: Option<String>,
    },
    /// The editor's running query (in its linked grid) should stop.
    Cancel,
    /// Show the SQL history in a picker; the choice comes back as `InsertText`.
    History,
    /// The files a path being typed in quotes could be; they come back as `Completions`.
    CompletePath { partial: String },
}

/// The engines a pane may need; each is one service in the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// Terminals: a pty and an emulator per pane, in the server.
    Pty,
    /// DuckDB, in the `data` worker.
    Data,
    /// llama.cpp, in the `llm` worker.
    Llm,
    /// The vault, in the server.
    Vault,
    /// The work queue (queue.db), in the server.
    Queue,
    /// The workflow runner (runs in queue.db), in the server.
    Workflows,
    /// Files for the editor, read and written by the server.
    Editor,
    /// The team's devices and sync, in the `mesh` worker and the server.
    Mesh,
}

/// An engine's answer, routed to the pane that asked (or to every pane that shows it).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// The pane is in a session now (new, or restored after a restart): it asks the engines
    /// for what it needs (a terminal its process, a chat its session) with effects. The server
    /// learns it that way and never reads a pane's saved state.
    Opened,
    Status(Box<ServerStatus>),
    TermFrame(Box<crate::term::TermFrame>),
    /// The rows of a terminal's screen that changed since its last frame (plain output).
    TermRows(Box<crate::term::TermRows>),
    TermTitle(String),
    TermBell,
    /// How the program ended: `0`, `1`, `signal 9`.
    TermExited(String),
    TermCwd(String),
    /// A word for the user from copy mode ("no match for ...").
    TermNote(String),
    /// Copy mode ended on the engine's side (after a yank).
    TermCopyDone,
    Data(crate::data::DataEvent),
    /// A grid is told to show the result of this query (from its SQL editor).
    ShowQuery {
        sql: String,
        dialect: Option<String>,
    },
    /// Open this file or table: a grid showing nothing takes it; any other pane ignores it
    /// (and the server opens a grid for it beside).
    OpenSource(crate::data::Source),
    /// Text for an editor, picked from history.
    InsertText(String),
    /// What `typed` (the end of the text before the cursor) may become.
    Completions {
        typed: String,
        items: Vec<String>,
    },
    /// The data worker is (again) ready: panes restored from a saved session load now.
    Ready,
    Chat(crate::llm::ChatEvent),
    Vault(crate::vault::VaultEvent),
    Queue(crate::queue::QueueEvent),
    Runs(crate::runs::RunsEvent),
    Editor(crate::editor::EditorEvent),
    Mesh(Box<crate::mesh::MeshEvent>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineState {
    NotStarted,
    Starting,
    Ready,
    Failed(String),
    /// An engine in the server with a state of its own, in a word ("locked", "unlocked");
    /// `active` draws it as in use.
    Said {
        label: String,
        active: bool,
    },
}

impl EngineState {
    pub fn label(&self) -> String {
        match self {
            EngineState::NotStarted => "not started".into(),
            EngineState::Starting => "starting".into(),
            EngineState::Ready => "ready".into(),
            EngineState::Failed(e) => format!("failed: {e}"),
            EngineState::Said { label, .. } => label.clone(),
        }
    }
}

/// One engine's row in the status pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRow {
    pub name: String,
    pub state: EngineState,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// Free text: the last failure, a round-trip time, a model name.
    pub detail: String,
}

/// One process's row: the server or a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcRow {
    pub name: String,
    pub pid: u32,
    /// Percent of one core since the previous refresh.
    pub cpu: f32,
    /// Resident memory in bytes.
    pub mem: u64,
}

/// Everything the status pane shows, gathered by the server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerStatus {
    pub version: String,
    pub uptime: Duration,
    pub sessions: usize,
    pub tabs: usize,
    pub panes: usize,
    pub clients: usize,
    pub processes: Vec<ProcRow>,
    pub engines: Vec<EngineRow>,
}
