/*!
What state.db keeps of a session: its tabs, each tab's layout tree, and every pane's saved
state. Plain serde data, written after every change and read back after a restart or a crash.

It lives apart from the server because the store (`engine::store`) writes and reads it and must
not depend on the server; the server turns it into live sessions (`server::session`).
*/

use crate::layout::{Node, PaneId};
use fieldkit_panes::PaneState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabState {
    pub name: String,
    pub layout: Node,
    pub focus: PaneId,
    pub zoomed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    pub name: String,
    pub active: usize,
    pub size: (u16, u16),
    pub tabs: Vec<TabState>,
    pub panes: BTreeMap<PaneId, PaneState>,
}
