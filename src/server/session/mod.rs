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
    /// Pane numbers (`C-b q N`, the border's number): slot N-1 holds the pane numbered N. A
    /// pane keeps its number until it closes, so numbers read off the screen a moment ago
    /// still name the same panes after another one closes; a new pane takes the lowest free.
    pub slots: Vec<Option<PaneId>>,
}

impl Tab {
    /// A tab holding pane `id` alone.
    fn of(name: String, id: PaneId) -> Tab {
        Tab {
            name,
            layout: Node::Leaf(id),
            focus: id,
            zoomed: false,
            slots: vec![Some(id)],
        }
    }

    /// Frees the numbers of panes no longer in the layout and numbers new ones.
    pub fn renumber(&mut self) {
        let leaves = self.layout.leaves();
        for s in self.slots.iter_mut() {
            if s.is_some_and(|id| !leaves.contains(&id)) {
                *s = None;
            }
        }
        for id in leaves {
            if !self.slots.contains(&Some(id)) {
                match self.slots.iter().position(Option::is_none) {
                    Some(free) => self.slots[free] = Some(id),
                    None => self.slots.push(Some(id)),
                }
            }
        }
        while self.slots.last() == Some(&None) {
            self.slots.pop();
        }
    }
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
    /// What closed panes were, most recent last (`reopen-pane` brings one back).
    pub closed: Vec<fieldkit_panes::PaneState>,
    /// The folder of the client that attached last: where new shells start and relative
    /// paths are read from.
    pub start_dir: Option<String>,
    /// After a panic: clients see a blank screen until a key is pressed.
    pub veiled: bool,
    /// A few words the status line shows from every tab ("2 overdue"), set by the server.
    pub badge: Option<String>,
}

/// How many closed panes `reopen-pane` can bring back.
const CLOSED_KEPT: usize = 10;

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

/// The smallest a pane is made by opening another beside it, border included: room for a
/// prompt, a grid's header, a row and its footer.
pub const MIN_PANE: (u16, u16) = (20, 5);

/// Where `Session::place` puts a new pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A split of the pane beside, along this axis.
    Split(Axis),
    /// A split along the longer side of the pane beside (or the other, if that has no room).
    Auto,
    /// On the right of the whole tab (the chat opened by `attach-context`).
    RightOfTab,
}

fn other(a: Axis) -> Axis {
    match a {
        Axis::Horizontal => Axis::Vertical,
        Axis::Vertical => Axis::Horizontal,
    }
}

/// Evens out a layout: every split shares its side among the panes in a row along its axis,
/// so three panes side by side get a third each (tmux's `select-layout even-*`, per split).
pub fn even(node: &mut Node) {
    fn weight(n: &Node, along: Axis) -> u32 {
        match n {
            Node::Split {
                axis,
                first,
                second,
                ..
            } if *axis == along => weight(first, along) + weight(second, along),
            _ => 1,
        }
    }
    if let Node::Split {
        axis,
        ratio,
        first,
        second,
    } = node
    {
        let (a, b) = (weight(first, *axis), weight(second, *axis));
        *ratio = ((a * 1000 + (a + b) / 2) / (a + b)).clamp(1, 999) as u16;
        even(first);
        even(second);
    }
}

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
            closed: Vec::new(),
            start_dir: None,
            veiled: false,
            badge: None,
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
                slots: vec![Some(id)],
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
    /// A zoomed tab stays zoomed (`run` in a zoomed editor keeps the editor whole).
    pub fn insert_beside(
        &mut self,
        beside: PaneId,
        pane: Box<dyn Pane>,
        axis: Axis,
        ids: &mut Ids,
    ) -> Option<PaneId> {
        let (id, _) = self.place(beside, pane, Place::Split(axis), ids);
        self.changed = true;
        Some(id)
    }

    /// Puts `pane` in a new split of the focused pane (along its longer side) and focuses it.
    pub fn open_pane(&mut self, pane: Box<dyn Pane>, ids: &mut Ids) -> PaneId {
        let (id, _) = self.place(self.focused(), pane, Place::Auto, ids);
        self.focus_pane(id);
        self.changed = true;
        id
    }

    /// Focuses pane `id`, in whichever tab holds it.
    pub fn focus_pane(&mut self, id: PaneId) {
        if let Some(t) = self.tabs.iter().position(|t| t.layout.contains(id)) {
            self.active = t;
            if self.tabs[t].focus != id {
                self.tabs[t].zoomed = false;
            }
            self.tabs[t].focus = id;
        }
    }

    /// Adds `pane` next to `beside` so that every pane of the tab keeps at least `MIN_PANE`
    /// (as tmux refuses a split and zellij moves to a new layout, fieldkit rebalances): the
    /// split as asked; if a pane would get too small, the tab's panes evened out; if even that
    /// is too small, the other way (for `Auto`); failing all, in a tab of its own, after
    /// `beside`'s. Returns the new pane and whether it got its own tab.
    pub fn place(
        &mut self,
        beside: PaneId,
        pane: Box<dyn Pane>,
        how: Place,
        ids: &mut Ids,
    ) -> (PaneId, bool) {
        let area = Self::pane_area(self.size);
        let ti = self
            .tabs
            .iter()
            .position(|t| t.layout.contains(beside))
            .unwrap_or(self.active);
        let id = ids.allocate();
        self.panes.insert(id, pane);
        let old = self.tabs[ti].layout.clone();
        let fits = |l: &Node| {
            l.rects(area)
                .iter()
                .all(|(_, r)| r.width >= MIN_PANE.0 && r.height >= MIN_PANE.1)
        };
        let longer = old
            .rects(area)
            .into_iter()
            .find(|(p, _)| *p == beside)
            .map(|(_, r)| {
                if r.height * 2 > r.width {
                    Axis::Vertical
                } else {
                    Axis::Horizontal
                }
            })
            .unwrap_or(Axis::Horizontal);
        let tries: Vec<Place> = match how {
            Place::Auto => vec![Place::Split(longer), Place::Split(other(longer))],
            other => vec![other],
        };
        for t in tries {
            let mut layout = old.clone();
            match t {
                Place::RightOfTab => {
                    layout = Node::Split {
                        axis: Axis::Horizontal,
                        ratio: 600,
                        first: Box::new(layout),
                        second: Box::new(Node::Leaf(id)),
                    }
                }
                Place::Split(axis) => {
                    layout.split(beside, id, axis);
                }
                Place::Auto => {
                    layout.split(beside, id, longer);
                }
            }
            if !fits(&layout) {
                even(&mut layout);
            }
            if fits(&layout) {
                let tab = &mut self.tabs[ti];
                tab.layout = layout;
                tab.renumber();
                return (id, false);
            }
        }
        // No room in this tab: a tab of its own, named after the tab it was opened from.
        let base = self.tabs[ti].name.clone();
        let name = self.free_tab_name((2..).map(|i: usize| format!("{base}·{i}")));
        self.tabs.insert(ti + 1, Tab::of(name, id));
        if self.active > ti {
            self.active += 1;
        }
        self.renumber();
        (id, true)
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
                let how = match action {
                    Action::SplitDown => Place::Split(Axis::Vertical),
                    Action::SplitRight => Place::Split(Axis::Horizontal),
                    // `open` splits along the longer side of the focused pane.
                    _ => Place::Auto,
                };
                let (id, _) = self.place(self.focused(), pane, how, ids);
                self.focus_pane(id);
                let t = self.active;
                self.tabs[t].zoomed = false;
            }
            Action::ReopenPane => {
                let state = self.closed.pop().ok_or("No closed pane to bring back.")?;
                let pane = restore(Some(&state), state.kind(), &self.shell)
                    .ok_or("That pane's kind is not part of this build.")?;
                let (id, _) = self.place(self.focused(), pane, Place::Auto, ids);
                self.focus_pane(id);
            }
            Action::Even => {
                let tab = self.tab_mut();
                even(&mut tab.layout);
                tab.zoomed = false;
            }
            Action::ClosePane => {
                let tab = self.tab_mut();
                let focus = tab.focus;
                if tab.layout.remove(focus) {
                    let order = tab.layout.leaves();
                    tab.focus = order[0];
                    tab.zoomed = false;
                    if let Some(p) = self.panes.remove(&focus) {
                        self.keep_closed(p.save());
                    }
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
                let tab = self.tab();
                let id = tab.slots.get(n - 1).copied().flatten().ok_or_else(|| {
                    let have: Vec<String> = tab
                        .slots
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_some())
                        .map(|(i, _)| (i + 1).to_string())
                        .collect();
                    format!(
                        "There is no pane {n} in this tab (its panes are {}).",
                        have.join(", ")
                    )
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
                let name = self.free_tab_name((1..).map(|i: usize| i.to_string()));
                self.tabs.insert(self.active + 1, Tab::of(name, id));
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
                    if let Some(p) = self.panes.remove(&id) {
                        self.keep_closed(p.save());
                    }
                }
                self.active = self.active.min(self.tabs.len() - 1);
            }
            _ => return Ok(false),
        }
        self.dirty = true;
        self.changed = true;
        self.renumber();
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
            let mut tab = Tab {
                name: t.name,
                layout: t.layout,
                focus,
                zoomed: t.zoomed,
                slots: Vec::new(),
            };
            // Restored panes are numbered in layout order.
            tab.renumber();
            tabs.push(tab);
        }
        Some(Session {
            links: BTreeMap::new(),
            closed: Vec::new(),
            start_dir: None,
            veiled: false,
            badge: None,
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
            .find_map(|t| t.slots.iter().position(|p| *p == Some(id)))
            .map(|i| i + 1)
            .unwrap_or(0)
    }

    /// The first of `names` no tab has.
    fn free_tab_name(&self, mut names: impl Iterator<Item = String>) -> String {
        names
            .find(|n| self.tabs.iter().all(|t| &t.name != n))
            .unwrap_or_default()
    }

    fn keep_closed(&mut self, state: fieldkit_panes::PaneState) {
        self.closed.push(state);
        if self.closed.len() > CLOSED_KEPT {
            self.closed.remove(0);
        }
    }

    /// Where a path typed by the user is: as it is when absolute (or `~/`), else in the
    /// folder of the client that attached last.
    pub fn resolve_path(&self, path: &str) -> String {
        if let Some(rest) = path.strip_prefix("~/") {
            if let Some(home) = std::env::var_os("HOME") {
                return std::path::Path::new(&home)
                    .join(rest)
                    .to_string_lossy()
                    .into_owned();
            }
        }
        match &self.start_dir {
            Some(dir) if !path.starts_with('/') => std::path::Path::new(dir)
                .join(path)
                .to_string_lossy()
                .into_owned(),
            _ => path.to_string(),
        }
    }

    /// Numbers every tab's panes (after any change to a layout).
    pub fn renumber(&mut self) {
        for t in self.tabs.iter_mut() {
            t.renumber();
        }
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
mod tests;
