/*!
A session: tabs, each a layout tree over panes, plus the popup layer.

Layout actions (split, close, focus, resize, zoom, swap, tabs) are carried out here, on plain
data, so they are tested without a server. The session's saved form (`SessionState`) is what
goes to state.db after every change and what comes back after a crash.
*/

use crate::layout::{neighbor, Axis, Geometry, Node, PaneId};
use crate::server::popup::Popup;
pub use fieldkit_messages::saved::{SessionState, TabState};
#[cfg(test)]
use fieldkit_panes::Dir;
use fieldkit_panes::{restore, Action, Pane, PaneKind};
use ratatui::layout::Rect;
use std::collections::BTreeMap;

pub struct Tab {
    pub name: String,
    pub layout: Node,
    pub focus: PaneId,
    pub zoomed: bool,
}

pub struct Session {
    pub name: String,
    /// What a fresh terminal runs, and the kind a split opens.
    pub shell: String,
    pub new_kind: PaneKind,
    /// Panes that rang the bell while out of sight; their tab shows it.
    pub bells: std::collections::BTreeSet<PaneId>,
    pub tabs: Vec<Tab>,
    pub active: usize,
    pub panes: BTreeMap<PaneId, Box<dyn Pane>>,
    /// The size every client sees: the smallest of those attached (kept while detached).
    pub size: (u16, u16),
    pub popup: Option<Popup>,
    /// Something changed that clients must see: the whole screen is drawn again.
    pub dirty: bool,
    /// Panes whose content alone changed (a terminal's output), with the rows of the pane
    /// that changed when known (`None`: all): unless `dirty`, only these are drawn again, over
    /// what each client was last sent.
    pub content: BTreeMap<PaneId, Option<Vec<u16>>>,
    /// Something changed that must be saved.
    pub changed: bool,
    /// SQL editor -> the grid that shows its results.
    pub links: BTreeMap<PaneId, PaneId>,
}

/// Hands out pane ids, unique across the server.
#[derive(Debug, Default)]
pub struct Ids(pub PaneId);

impl Ids {
    pub fn allocate(&mut self) -> PaneId {
        self.0 += 1;
        self.0
    }
}

/// The result of a layout action the session could not carry out, in words for the user.
pub type Refusal = String;

/// The kind a new pane gets when a split does not say.
pub const DEFAULT_KIND: PaneKind = PaneKind::Term;

fn new_pane(kind: PaneKind, shell: &str) -> Result<Box<dyn Pane>, Refusal> {
    restore(None, kind, shell).ok_or_else(|| {
        format!(
            "The {} pane is not part of this build yet; `open term`, `open grid`, `open sql` and `open status` work today.",
            kind.name()
        )
    })
}

impl Session {
    /// A session whose panes are terminals running `shell`.
    pub fn new(name: &str, ids: &mut Ids, size: (u16, u16), shell: &str) -> Session {
        Self::new_with(name, ids, size, shell, DEFAULT_KIND)
    }

    /// A session whose first pane and splits are of `kind`.
    pub fn new_with(
        name: &str,
        ids: &mut Ids,
        size: (u16, u16),
        shell: &str,
        kind: PaneKind,
    ) -> Session {
        let id = ids.allocate();
        let mut panes: BTreeMap<PaneId, Box<dyn Pane>> = BTreeMap::new();
        if let Ok(p) = new_pane(kind, shell) {
            panes.insert(id, p);
        }
        Session {
            links: BTreeMap::new(),
            name: name.to_string(),
            shell: shell.to_string(),
            new_kind: kind,
            bells: Default::default(),
            content: Default::default(),
            tabs: vec![Tab {
                name: "1".into(),
                layout: Node::Leaf(id),
                focus: id,
                zoomed: false,
            }],
            active: 0,
            panes,
            size,
            popup: None,
            dirty: true,
            changed: true,
        }
    }

    pub fn tab(&self) -> &Tab {
        &self.tabs[self.active.min(self.tabs.len() - 1)]
    }

    fn tab_mut(&mut self) -> &mut Tab {
        let i = self.active.min(self.tabs.len() - 1);
        &mut self.tabs[i]
    }

    pub fn focused(&self) -> PaneId {
        self.tab().focus
    }

    pub fn focused_kind(&self) -> PaneKind {
        self.panes
            .get(&self.focused())
            .map(|p| p.kind())
            .unwrap_or(PaneKind::Status)
    }

    pub fn pane_count(&self) -> usize {
        self.tabs.iter().map(|t| t.layout.leaves().len()).sum()
    }

    /// Where panes go on a screen of `size`: below the tab bar, above the hint bar.
    pub fn pane_area(size: (u16, u16)) -> Rect {
        let (w, h) = size;
        if h >= 3 {
            Rect::new(0, 1, w, h - 2)
        } else {
            Rect::new(0, 0, w, h)
        }
    }

    /// Rectangles of the active tab's visible panes.
    pub fn visible(&self) -> Vec<(PaneId, Rect)> {
        let area = Self::pane_area(self.size);
        let tab = self.tab();
        if tab.zoomed {
            vec![(tab.focus, area)]
        } else {
            tab.layout.rects(area)
        }
    }

    /// Carries out a layout, tab or popup action. `Ok(false)` means the action is not a layout
    /// action and belongs to the focused pane.
    /// Puts `pane` beside pane `beside` (in `beside`'s tab), leaving the focus where it is.
    pub fn insert_beside(
        &mut self,
        beside: PaneId,
        pane: Box<dyn Pane>,
        axis: Axis,
        ids: &mut Ids,
    ) -> Option<PaneId> {
        let tab = self.tabs.iter_mut().find(|t| t.layout.contains(beside))?;
        let id = ids.allocate();
        tab.layout.split(beside, id, axis);
        tab.zoomed = false;
        self.panes.insert(id, pane);
        self.changed = true;
        Some(id)
    }

    /// Puts `pane` in a new split of the focused pane and focuses it.
    pub fn open_pane(&mut self, pane: Box<dyn Pane>, ids: &mut Ids) -> PaneId {
        let focus = self.focused();
        let axis = match self.visible().into_iter().find(|(id, _)| *id == focus) {
            Some((_, r)) if r.height * 2 > r.width => Axis::Vertical,
            _ => Axis::Horizontal,
        };
        let id = ids.allocate();
        let tab = self.tab_mut();
        tab.layout.split(focus, id, axis);
        tab.focus = id;
        tab.zoomed = false;
        self.panes.insert(id, pane);
        self.changed = true;
        id
    }

    pub fn apply(&mut self, action: &Action, ids: &mut Ids) -> Result<bool, Refusal> {
        let area = Self::pane_area(self.size);
        match action {
            Action::SplitRight | Action::SplitDown | Action::Open(_) => {
                let kind = match action {
                    Action::Open(k) => *k,
                    _ => self.new_kind,
                };
                let pane = new_pane(kind, &self.shell)?;
                let axis = match action {
                    Action::SplitDown => Axis::Vertical,
                    Action::SplitRight => Axis::Horizontal,
                    // `open` splits along the longer side of the focused pane.
                    _ => {
                        let r = self
                            .visible()
                            .into_iter()
                            .find(|(id, _)| *id == self.focused());
                        match r {
                            Some((_, r)) if r.height * 2 > r.width => Axis::Vertical,
                            _ => Axis::Horizontal,
                        }
                    }
                };
                let id = ids.allocate();
                let tab = self.tab_mut();
                let focus = tab.focus;
                tab.layout.split(focus, id, axis);
                tab.focus = id;
                tab.zoomed = false;
                self.panes.insert(id, pane);
            }
            Action::ClosePane => {
                let tab = self.tab_mut();
                let focus = tab.focus;
                if tab.layout.remove(focus) {
                    let order = tab.layout.leaves();
                    tab.focus = order[0];
                    tab.zoomed = false;
                    self.panes.remove(&focus);
                } else if self.tabs.len() > 1 {
                    return self.apply(&Action::CloseTab, ids);
                } else {
                    return Err("This is the last pane of the session: use kill-session to end it, or detach.".into());
                }
            }
            Action::FocusNext | Action::FocusPrev => {
                let tab = self.tab_mut();
                let order = tab.layout.leaves();
                let i = order.iter().position(|p| *p == tab.focus).unwrap_or(0);
                let n = order.len();
                let j = if *action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                tab.focus = order[j];
            }
            Action::Focus(dir) => {
                let rects = self.tab().layout.rects(area);
                let from = self.focused();
                if let Some(to) = neighbor(&rects, from, *dir) {
                    let tab = self.tab_mut();
                    tab.focus = to;
                    tab.zoomed = false;
                }
            }
            Action::FocusPane(n) => {
                let order = self.tab().layout.leaves();
                let id = *order.get(n - 1).ok_or_else(|| {
                    format!("There is no pane {n} in this tab (it has {}).", order.len())
                })?;
                self.tab_mut().focus = id;
            }
            Action::Resize(dir, cells) => {
                let tab = self.tab_mut();
                let focus = tab.focus;
                tab.layout.resize(area, focus, *dir, *cells);
            }
            Action::Zoom => {
                let tab = self.tab_mut();
                tab.zoomed = !tab.zoomed && tab.layout.leaves().len() > 1;
            }
            Action::SwapNext | Action::SwapPrev => {
                let tab = self.tab_mut();
                let order = tab.layout.leaves();
                let n = order.len();
                let i = order.iter().position(|p| *p == tab.focus).unwrap_or(0);
                let j = if *action == Action::SwapNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                tab.layout.swap(order[i], order[j]);
            }
            Action::NewTab => {
                let pane = new_pane(self.new_kind, &self.shell)?;
                let id = ids.allocate();
                self.panes.insert(id, pane);
                let name = (1..)
                    .map(|i: usize| i.to_string())
                    .find(|n| self.tabs.iter().all(|t| &t.name != n))
                    .unwrap_or_default();
                self.tabs.insert(
                    self.active + 1,
                    Tab {
                        name,
                        layout: Node::Leaf(id),
                        focus: id,
                        zoomed: false,
                    },
                );
                self.active += 1;
            }
            Action::NextTab => self.active = (self.active + 1) % self.tabs.len(),
            Action::PrevTab => self.active = (self.active + self.tabs.len() - 1) % self.tabs.len(),
            Action::SelectTab(n) => {
                if *n > self.tabs.len() {
                    return Err(format!(
                        "There is no tab {n} (this session has {}).",
                        self.tabs.len()
                    ));
                }
                self.active = n - 1;
            }
            Action::RenameTab(Some(name)) => {
                let name = name.trim();
                if name.is_empty() {
                    return Err("A tab name cannot be empty.".into());
                }
                self.tab_mut().name = name.chars().take(32).collect();
            }
            Action::CloseTab => {
                if self.tabs.len() == 1 {
                    return Err("This is the last tab: use kill-session to end the session.".into());
                }
                let tab = self.tabs.remove(self.active);
                for id in tab.layout.leaves() {
                    self.panes.remove(&id);
                }
                self.active = self.active.min(self.tabs.len() - 1);
            }
            _ => return Ok(false),
        }
        self.dirty = true;
        self.changed = true;
        Ok(true)
    }

    pub fn save(&self) -> SessionState {
        SessionState {
            version: fieldkit_messages::VERSION,
            name: self.name.clone(),
            active: self.active,
            size: self.size,
            tabs: self
                .tabs
                .iter()
                .map(|t| TabState {
                    name: t.name.clone(),
                    layout: t.layout.clone(),
                    focus: t.focus,
                    zoomed: t.zoomed,
                })
                .collect(),
            panes: self.panes.iter().map(|(id, p)| (*id, p.save())).collect(),
        }
    }

    /// Rebuilds a session from its saved form. Panes of kinds this build cannot open come
    /// back as status panes rather than holes; a malformed state (no tabs) is refused.
    pub fn restore(state: SessionState, ids: &mut Ids, shell: &str) -> Option<Session> {
        if state.tabs.is_empty() {
            return None;
        }
        let mut panes: BTreeMap<PaneId, Box<dyn Pane>> = BTreeMap::new();
        let mut tabs = Vec::new();
        for t in state.tabs {
            let leaves = t.layout.leaves();
            for id in &leaves {
                ids.0 = ids.0.max(*id);
                let saved = state.panes.get(id);
                let kind = saved.map(|s| s.kind()).unwrap_or(DEFAULT_KIND);
                let pane = restore(saved, kind, shell)
                    .or_else(|| restore(None, PaneKind::Status, shell))?;
                panes.insert(*id, pane);
            }
            let focus = if leaves.contains(&t.focus) {
                t.focus
            } else {
                leaves[0]
            };
            tabs.push(Tab {
                name: t.name,
                layout: t.layout,
                focus,
                zoomed: t.zoomed,
            });
        }
        Some(Session {
            links: BTreeMap::new(),
            name: state.name,
            shell: shell.to_string(),
            new_kind: DEFAULT_KIND,
            bells: Default::default(),
            content: Default::default(),
            active: state.active.min(tabs.len() - 1),
            tabs,
            panes,
            size: (state.size.0.max(1), state.size.1.max(1)),
            popup: None,
            dirty: true,
            changed: false,
        })
    }

    /// Every pane's rectangle as it would be drawn: the active tab as shown (zoom included),
    /// other tabs as they will be when selected.
    pub fn all_rects(&self) -> Vec<(PaneId, Rect)> {
        let area = Self::pane_area(self.size);
        let mut out = Vec::new();
        for t in &self.tabs {
            if t.zoomed {
                out.push((t.focus, area));
                out.extend(
                    t.layout
                        .rects(area)
                        .into_iter()
                        .filter(|(id, _)| *id != t.focus),
                );
            } else {
                out.extend(t.layout.rects(area));
            }
        }
        out
    }

    /// The pane's 1-based number in its tab, for titles.
    pub fn number_of(&self, id: PaneId) -> usize {
        self.tabs
            .iter()
            .find_map(|t| t.layout.leaves().iter().position(|p| *p == id))
            .map(|i| i + 1)
            .unwrap_or(0)
    }

    /// Finds the tab holding `id`, and the pane's rectangle there (zoom ignored).
    pub fn locate(&self, id: PaneId) -> Option<(usize, Rect)> {
        let area = Self::pane_area(self.size);
        self.tabs.iter().enumerate().find_map(|(i, t)| {
            t.layout
                .rects(area)
                .into_iter()
                .find(|(p, _)| *p == id)
                .map(|(_, r)| (i, r))
        })
    }

    #[cfg(test)]
    pub fn dir_focus(&mut self, d: Dir, ids: &mut Ids) {
        let _ = self.apply(&Action::Focus(d), ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_actions_and_round_trip() {
        let mut ids = Ids::default();
        let mut s = Session::new("main", &mut ids, (80, 24), "sh");
        s.apply(&Action::SplitRight, &mut ids).expect("split");
        s.apply(&Action::SplitDown, &mut ids).expect("split");
        assert_eq!(s.pane_count(), 3);
        assert_eq!(s.focused(), 3);
        s.dir_focus(Dir::Left, &mut ids);
        assert_eq!(s.focused(), 1);
        s.apply(&Action::NewTab, &mut ids).expect("tab");
        s.apply(&Action::RenameTab(Some("logs".into())), &mut ids)
            .expect("rename");
        assert_eq!(s.tab().name, "logs");
        s.apply(&Action::SelectTab(1), &mut ids).expect("select");
        s.apply(&Action::Zoom, &mut ids).expect("zoom");
        assert_eq!(s.visible().len(), 1);

        let saved = s.save();
        let json = serde_json::to_string(&saved).expect("json");
        let back: SessionState = serde_json::from_str(&json).expect("parse");
        let mut ids2 = Ids::default();
        let r = Session::restore(back, &mut ids2, "sh").expect("restore");
        assert_eq!(r.save(), saved);
        assert_eq!(ids2.0, 4, "ids continue after the largest restored");
    }

    #[test]
    fn refusals_are_sentences() {
        let mut ids = Ids::default();
        let mut s = Session::new("main", &mut ids, (80, 24), "sh");
        assert!(s
            .apply(&Action::ClosePane, &mut ids)
            .unwrap_err()
            .contains("last pane"));
        assert!(s
            .apply(&Action::CloseTab, &mut ids)
            .unwrap_err()
            .contains("last tab"));
        assert!(s
            .apply(&Action::SelectTab(4), &mut ids)
            .unwrap_err()
            .contains("no tab 4"));
        assert!(s
            .apply(&Action::FocusPane(2), &mut ids)
            .unwrap_err()
            .contains("no pane 2"));
        assert!(s
            .apply(&Action::Open(PaneKind::Vault), &mut ids)
            .unwrap_err()
            .contains("not part of this build"));
        assert_eq!(s.apply(&Action::Refresh, &mut ids), Ok(false));
        assert!(Session::restore(
            SessionState {
                version: fieldkit_messages::VERSION,
                name: "x".into(),
                active: 0,
                size: (0, 0),
                tabs: vec![],
                panes: BTreeMap::new()
            },
            &mut ids,
            "sh"
        )
        .is_none());
    }
}
