/*!
What state.db keeps of a session: its tabs, each tab's layout tree, and every pane's saved
state. Plain serde data, written after every change and read back after a restart or a crash.
`SessionState::version` says which fieldkit wrote it, so a newer format is set aside with a
reason instead of being misread.
*/

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    Runs,
}

impl PaneKind {
    pub const ALL: [PaneKind; 10] = [
        PaneKind::Term,
        PaneKind::Grid,
        PaneKind::Sql,
        PaneKind::Chat,
        PaneKind::Vault,
        PaneKind::Queue,
        PaneKind::Editor,
        PaneKind::Status,
        PaneKind::Mesh,
        PaneKind::Runs,
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
            PaneKind::Runs => "runs",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
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
        source: Option<crate::data::Source>,
        view: crate::data::View,
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
    /// The vault pane: nothing of the vault is saved with the layout.
    Vault,
    /// The queue pane: the items are in queue.db.
    Queue,
    /// The workflow runs pane: the runs are in queue.db.
    Runs,
    /// The editor: the files it has open (unsaved text is kept apart), and which is shown.
    Editor {
        files: Vec<String>,
        active: usize,
    },
    /// The mesh pane: the team is in mesh.db.
    Mesh,
}

impl PaneState {
    /// The kind of pane this state restores.
    pub fn kind(&self) -> PaneKind {
        match self {
            PaneState::Status => PaneKind::Status,
            PaneState::Term { .. } => PaneKind::Term,
            PaneState::Grid { .. } => PaneKind::Grid,
            PaneState::Sql { .. } => PaneKind::Sql,
            PaneState::Chat { .. } => PaneKind::Chat,
            PaneState::Vault => PaneKind::Vault,
            PaneState::Queue => PaneKind::Queue,
            PaneState::Runs => PaneKind::Runs,
            PaneState::Editor { .. } => PaneKind::Editor,
            PaneState::Mesh => PaneKind::Mesh,
        }
    }
}

pub type PaneId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Axis {
    /// Children side by side.
    Horizontal,
    /// Children one above the other.
    Vertical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    Leaf(PaneId),
    Split {
        axis: Axis,
        /// The first child's share, 1..=999 permille.
        ratio: u16,
        first: Box<Node>,
        second: Box<Node>,
    },
}

impl Node {
    /// Pane ids in layout order (left to right, top to bottom).
    pub fn leaves(&self) -> Vec<PaneId> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<PaneId>) {
        match self {
            Node::Leaf(id) => out.push(*id),
            Node::Split { first, second, .. } => {
                first.collect(out);
                second.collect(out);
            }
        }
    }

    pub fn contains(&self, id: PaneId) -> bool {
        match self {
            Node::Leaf(x) => *x == id,
            Node::Split { first, second, .. } => first.contains(id) || second.contains(id),
        }
    }

    /// Splits `target` so that `new` appears after it along `axis`. False if `target` is absent.
    pub fn split(&mut self, target: PaneId, new: PaneId, axis: Axis) -> bool {
        match self {
            Node::Leaf(id) if *id == target => {
                *self = Node::Split {
                    axis,
                    ratio: 500,
                    first: Box::new(Node::Leaf(target)),
                    second: Box::new(Node::Leaf(new)),
                };
                true
            }
            Node::Leaf(_) => false,
            Node::Split { first, second, .. } => {
                first.split(target, new, axis) || second.split(target, new, axis)
            }
        }
    }

    /// Removes `target`; its sibling takes the parent's place. Returns false if `target` is
    /// absent or is the only pane (a tab never has an empty layout).
    pub fn remove(&mut self, target: PaneId) -> bool {
        match self {
            Node::Leaf(_) => false,
            Node::Split { first, second, .. } => {
                if **first == Node::Leaf(target) {
                    *self = (**second).clone();
                    true
                } else if **second == Node::Leaf(target) {
                    *self = (**first).clone();
                    true
                } else {
                    first.remove(target) || second.remove(target)
                }
            }
        }
    }

    /// Exchanges two panes' places.
    pub fn swap(&mut self, a: PaneId, b: PaneId) {
        match self {
            Node::Leaf(id) if *id == a => *id = b,
            Node::Leaf(id) if *id == b => *id = a,
            Node::Leaf(_) => {}
            Node::Split { first, second, .. } => {
                first.swap(a, b);
                second.swap(a, b);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabState {
    pub name: String,
    pub layout: Node,
    pub focus: PaneId,
    pub zoomed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The messages version that wrote it (`crate::VERSION`); absent in states written before
    /// it was recorded, which read as version 1.
    #[serde(default = "first_version")]
    pub version: u32,
    pub name: String,
    pub active: usize,
    pub size: (u16, u16),
    pub tabs: Vec<TabState>,
    pub panes: BTreeMap<PaneId, PaneState>,
}

fn first_version() -> u32 {
    1
}
