/*!
The queue pane (`open queue`): the work queue, most urgent first, as the server ranks it. Each
row shows the SLA as a coloured ten-cell bar (green, yellow from 80%, red when overdue). Type to
filter, fuzzy over title, project, tags, role and assignee (the vault's `Search`: a key that
extends the query narrows the last matches, so 100,000 items filter within a frame). Words of
the filter line that are structured filters (`state:blocked`, `role:R`, `tag:T`, `project:P`,
`mine`, `overdue`, `due`) are taken out of the fuzzy query and checked in one cheap pass over
the fuzzy matches. Keys claim, start, finish, block and cancel the item under the cursor; Enter
opens its history and comments; a form adds an item or edits the one under the cursor, a line
adds a comment.

The pane holds rows, not items: the server sends each item's urgency and SLA already judged, so
the pane never computes a rule the CLI might compute differently.
*/

use crate::vault::{Search, Utf32};
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use std::borrow::Cow;

crate::verbs! {
    /// What the queue pane does itself.
    pub enum QueueVerb {
        Claim = ("claim", "", "Queue: claim the item (exactly one claimer wins)"),
        Start = ("start", "", "Queue: start work on the item"),
        Done = ("done", "", "Queue: complete the item"),
        Block = ("block", "", "Queue: mark the item blocked"),
        CancelItem = ("cancel-item", "", "Queue: cancel the item"),
        New = ("new-item", "", "Queue: add an item"),
        Edit = ("edit-item", "", "Queue: edit the item's title, priority, SLA, role and tags"),
        Comment = ("comment", "", "Queue: comment on the item"),
    }
}

pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Queue,
    all_keys: false,
    actions: QueueVerb::CATALOGUE,
    engines: &[crate::Engine::Queue],
    fresh: |_| Box::new(QueuePane::default()),
    restore: |st| match st {
        PaneState::Queue => Some(Box::new(QueuePane::default())),
        _ => None,
    },
};

/// Where an item stands against its SLA, as the pane colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sla {
    #[default]
    None,
    Ok,
    Warning,
    Overdue,
}

/// One item as the list shows it, judged by the server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueRow {
    pub id: String,
    pub title: String,
    pub state: String,
    pub priority: String,
    pub urgency: f64,
    pub sla: Sla,
    /// The share of the SLA used (0..), when there is one.
    pub used: Option<f64>,
    /// "3h left", "late 2h".
    pub sla_text: String,
    pub assignee: String,
    pub role: String,
    pub project: String,
    pub tags: Vec<String>,
}

/// One item's body, history and comments, as lines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueDetail {
    pub id: String,
    pub body: String,
    pub history: Vec<String>,
    pub comments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueueRequest {
    /// The items, now and after every change.
    Watch,
    Detail {
        id: String,
    },
    /// `claim`, `start`, `done`, `block`, `cancel`.
    Move {
        id: String,
        mv: String,
    },
    Add {
        title: String,
        priority: String,
        sla: String,
        role: String,
        tags: String,
    },
    Comment {
        id: String,
        text: String,
    },
    /// The edit form's fields. `sla`: empty leaves the due time as it is, a duration sets it
    /// that long from now, `none` removes it. Role and tags replace the item's (empty: none).
    Edit {
        id: String,
        title: String,
        priority: String,
        sla: String,
        role: String,
        tags: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueueEvent {
    Items(Vec<QueueRow>),
    /// Who the user is (`[queue] me`), for the `mine` filter: sent before the first items.
    Me(String),
    Detail(QueueDetail),
    Note(String),
    /// An add, an edit or a comment was refused: the form stays open with this sentence.
    Refused(String),
}

const FORM: [&str; 5] = ["title", "priority", "sla", "role", "tags"];

/// What the form's error line says while an add or an edit is on its way; the next list closes
/// the form (a refusal replaces it instead).
const ADDING: &str = "adding…";
const SAVING: &str = "saving…";

/// The item an edit form changes.
#[derive(Debug, Clone, PartialEq)]
struct Editing {
    id: String,
    /// Its SLA as the list shows it ("3h left"), shown while the SLA field is left empty.
    sla_text: String,
}

#[derive(Debug, Default)]
enum Mode {
    #[default]
    List,
    Detail,
    Form {
        values: [String; 5],
        at: usize,
        error: Option<String>,
        /// `None`: a new item.
        editing: Option<Editing>,
    },
    Comment {
        id: String,
        text: String,
    },
}

#[derive(Default)]
pub struct QueuePane {
    rows: Vec<QueueRow>,
    haystacks: Vec<Utf32>,
    shown: Vec<usize>,
    query: String,
    sel: usize,
    mode: Mode,
    detail: Option<QueueDetail>,
    note: Option<String>,
    search: Option<Search>,
    loaded: bool,
    /// Who the user is, as the server said (`mine`).
    me: Option<String>,
    /// The structured filters in the query, as last ranked.
    filters: Vec<Filter>,
    /// The fuzzy words of the query, as last ranked.
    fuzzy: String,
    /// Why nothing is shown, when the filters leave nothing.
    empty_why: Option<String>,
}

/// The state names a `state:` prefix is read against (the pane lists open items only, so the
/// last two match nothing there, but they are states).
const STATES: [&str; 6] = [
    "QUEUED",
    "CLAIMED",
    "IN_PROGRESS",
    "BLOCKED",
    "COMPLETED",
    "CANCELLED",
];

/// A structured filter typed into the filter line.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// A prefix of the state's name, upper case, `-` read as `_` (`state:in` = IN_PROGRESS).
    State(String),
    /// Role, tag and project: the whole name, any case (as `queue ls --role` reads them).
    Role(String),
    Tag(String),
    Project(String),
    /// Assigned to the user.
    Mine,
    /// Past its SLA.
    Overdue,
    /// At 80% of its SLA or past it.
    Due,
}

impl Filter {
    /// The filter a word of the filter line is, if it is one; `Some(None)` for a key with no
    /// value yet (`state:` while typing), which is neither a filter nor a fuzzy word.
    fn parse(word: &str) -> Option<Option<Filter>> {
        let plain = |w: &str| word.eq_ignore_ascii_case(w);
        if plain("mine") {
            return Some(Some(Filter::Mine));
        }
        if plain("overdue") {
            return Some(Some(Filter::Overdue));
        }
        if plain("due") {
            return Some(Some(Filter::Due));
        }
        let (key, value) = word.split_once(':')?;
        let make: fn(String) -> Filter = match key.to_ascii_lowercase().as_str() {
            "state" => |v| Filter::State(v.to_ascii_uppercase().replace('-', "_")),
            "role" => Filter::Role,
            "tag" => Filter::Tag,
            "project" => Filter::Project,
            _ => return None,
        };
        Some((!value.is_empty()).then(|| make(value.to_string())))
    }

    fn matches(&self, r: &QueueRow, me: Option<&str>) -> bool {
        match self {
            Filter::State(p) => r
                .state
                .as_bytes()
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p.as_bytes())),
            Filter::Role(v) => r.role.eq_ignore_ascii_case(v),
            Filter::Tag(v) => r.tags.iter().any(|t| t.eq_ignore_ascii_case(v)),
            Filter::Project(v) => r.project.eq_ignore_ascii_case(v),
            Filter::Mine => me.is_some_and(|m| !r.assignee.is_empty() && r.assignee == m),
            Filter::Overdue => r.sla == Sla::Overdue,
            Filter::Due => matches!(r.sla, Sla::Warning | Sla::Overdue),
        }
    }

    /// How the header names it: a state prefix as the states it stands for.
    fn label(&self) -> String {
        match self {
            Filter::State(p) => {
                let names: Vec<&str> = STATES
                    .iter()
                    .copied()
                    .filter(|s| s.starts_with(p.as_str()))
                    .collect();
                if names.is_empty() {
                    format!("state:{p}")
                } else {
                    format!("state:{}", names.join("|"))
                }
            }
            Filter::Role(v) => format!("role:{v}"),
            Filter::Tag(v) => format!("tag:{v}"),
            Filter::Project(v) => format!("project:{v}"),
            Filter::Mine => "mine".into(),
            Filter::Overdue => "overdue".into(),
            Filter::Due => "due".into(),
        }
    }
}

/// The filter line split into its structured filters and the fuzzy words left (joined by one
/// space, so typing after a filter word keeps extending the same fuzzy query).
fn split_query(q: &str) -> (Vec<Filter>, String) {
    let mut filters = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for w in q.split_whitespace() {
        match Filter::parse(w) {
            Some(Some(f)) => filters.push(f),
            Some(None) => {}
            None => words.push(w),
        }
    }
    (filters, words.join(" "))
}

impl std::fmt::Debug for QueuePane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueuePane {{ {} rows }}", self.rows.len())
    }
}

fn haystack(r: &QueueRow) -> Utf32 {
    Utf32::from(
        format!(
            "{} {} {} {} {}",
            r.title,
            r.project,
            r.tags.join(" "),
            r.role,
            r.assignee
        )
        .as_str(),
    )
}

impl QueuePane {
    fn rank(&mut self) {
        let (filters, fuzzy) = split_query(&self.query);
        let s = self.search.get_or_insert_with(Search::default);
        self.shown = s.run(&self.haystacks, &fuzzy);
        let fuzzy_found = !self.shown.is_empty();
        if !filters.is_empty() {
            let (rows, me) = (&self.rows, self.me.as_deref());
            self.shown
                .retain(|i| filters.iter().all(|f| f.matches(&rows[*i], me)));
        }
        self.empty_why = None;
        if self.shown.is_empty() && !self.rows.is_empty() && !filters.is_empty() {
            self.empty_why = Some(if !fuzzy_found {
                format!(" nothing matches \"{fuzzy}\"")
            } else {
                self.why_empty(&filters, &fuzzy)
            });
        }
        self.filters = filters;
        self.fuzzy = fuzzy;
        self.sel = self.sel.min(self.shown.len().saturating_sub(1));
    }

    /// Which filters left nothing: those no item matches on its own, else all of them together
    /// (with the fuzzy words, when there are any).
    fn why_empty(&self, filters: &[Filter], fuzzy: &str) -> String {
        let me = self.me.as_deref();
        let dead: Vec<String> = filters
            .iter()
            .filter(|f| !self.rows.iter().any(|r| f.matches(r, me)))
            .map(|f| match f {
                Filter::Mine if me.is_none() => "mine (who you are is not known yet)".into(),
                f => f.label(),
            })
            .collect();
        if !dead.is_empty() {
            return format!(" no item matches {}", dead.join(", "));
        }
        let all: Vec<String> = filters.iter().map(Filter::label).collect();
        let mut s = format!(" no item matches {}", all.join(" + "));
        if !fuzzy.is_empty() {
            s.push_str(&format!(" + \"{fuzzy}\""));
        }
        if filters.len() > 1 || !fuzzy.is_empty() {
            s.push_str(" together");
        }
        s
    }

    fn open_form(&mut self, editing: Option<&QueueRow>) {
        let (values, editing) = match editing {
            None => (
                [
                    String::new(),
                    "M".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
                None,
            ),
            Some(r) => (
                [
                    r.title.clone(),
                    r.priority.clone(),
                    String::new(),
                    r.role.clone(),
                    r.tags.join(", "),
                ],
                Some(Editing {
                    id: r.id.clone(),
                    sla_text: r.sla_text.clone(),
                }),
            ),
        };
        self.mode = Mode::Form {
            values,
            at: 0,
            error: None,
            editing,
        };
    }

    fn selected(&self) -> Option<&QueueRow> {
        self.rows.get(*self.shown.get(self.sel)?)
    }

    fn ask(cx: &mut Cx, r: QueueRequest) {
        cx.push(Effect::Engine(EngineRequest::Queue(r)));
    }
}

impl Pane for QueuePane {
    fn kind(&self) -> PaneKind {
        PaneKind::Queue
    }

    fn title(&self) -> Cow<'_, str> {
        let late = self.rows.iter().filter(|r| r.sla == Sla::Overdue).count();
        let mut t = format!("queue: {} open", self.rows.len());
        if late > 0 {
            t.push_str(&format!(", {late} overdue"));
        }
        Cow::Owned(t)
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let Some((verb, _)) = QueueVerb::of(a) else {
            return Outcome::Ignored;
        };
        cx.dirty = true;
        if verb == QueueVerb::New {
            self.open_form(None);
            return Outcome::Consumed;
        }
        let Some(row) = self.selected().cloned() else {
            self.note = Some("no item selected".into());
            return Outcome::Consumed;
        };
        let mv = match verb {
            QueueVerb::Claim => "claim",
            QueueVerb::Start => "start",
            QueueVerb::Done => "done",
            QueueVerb::Block => "block",
            QueueVerb::CancelItem => "cancel",
            QueueVerb::Comment => {
                self.mode = Mode::Comment {
                    id: row.id,
                    text: String::new(),
                };
                return Outcome::Consumed;
            }
            QueueVerb::Edit => {
                self.open_form(Some(&row));
                return Outcome::Consumed;
            }
            QueueVerb::New => return Outcome::Consumed,
        };
        Self::ask(
            cx,
            QueueRequest::Move {
                id: row.id,
                mv: mv.into(),
            },
        );
        Outcome::Consumed
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        cx.dirty = true;
        match &mut self.mode {
            Mode::Form {
                values,
                at,
                error,
                editing,
            } => {
                match k.code {
                    KeyCode::Esc => self.mode = Mode::List,
                    KeyCode::Tab | KeyCode::Down => *at = (*at + 1) % FORM.len(),
                    KeyCode::BackTab | KeyCode::Up => *at = (*at + FORM.len() - 1) % FORM.len(),
                    KeyCode::Backspace => {
                        values[*at].pop();
                        *error = None;
                    }
                    KeyCode::Enter if values[0].trim().is_empty() => {
                        *error = Some("an item needs a title".into())
                    }
                    KeyCode::Enter => {
                        let [title, priority, sla, role, tags] = values.clone();
                        let (r, doing) = match editing {
                            None => (
                                QueueRequest::Add {
                                    title,
                                    priority,
                                    sla,
                                    role,
                                    tags,
                                },
                                ADDING,
                            ),
                            Some(e) => (
                                QueueRequest::Edit {
                                    id: e.id.clone(),
                                    title,
                                    priority,
                                    sla,
                                    role,
                                    tags,
                                },
                                SAVING,
                            ),
                        };
                        Self::ask(cx, r);
                        *error = Some(doing.into());
                    }
                    KeyCode::Char(c) if !ctrl => {
                        values[*at].push(c);
                        *error = None;
                    }
                    _ => return Outcome::Ignored,
                }
                return Outcome::Consumed;
            }
            Mode::Comment { id, text } => {
                match k.code {
                    KeyCode::Esc => self.mode = Mode::List,
                    KeyCode::Backspace => {
                        text.pop();
                    }
                    KeyCode::Enter if !text.trim().is_empty() => {
                        let r = QueueRequest::Comment {
                            id: id.clone(),
                            text: text.clone(),
                        };
                        Self::ask(cx, r);
                        self.mode = Mode::List;
                    }
                    KeyCode::Char(c) if !ctrl => text.push(c),
                    _ => return Outcome::Ignored,
                }
                return Outcome::Consumed;
            }
            Mode::Detail => {
                if matches!(k.code, KeyCode::Esc | KeyCode::Enter) {
                    self.mode = Mode::List;
                    return Outcome::Consumed;
                }
            }
            Mode::List => {}
        }
        let n = self.shown.len();
        let page = 10;
        match k.code {
            KeyCode::Down => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            KeyCode::Up => self.sel = self.sel.saturating_sub(1),
            KeyCode::PageDown => self.sel = (self.sel + page).min(n.saturating_sub(1)),
            KeyCode::PageUp => self.sel = self.sel.saturating_sub(page),
            KeyCode::Home => self.sel = 0,
            KeyCode::End => self.sel = n.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(r) = self.selected() {
                    let id = r.id.clone();
                    Self::ask(cx, QueueRequest::Detail { id });
                    self.mode = Mode::Detail;
                }
            }
            KeyCode::Backspace => {
                self.query.pop();
                self.sel = 0;
                self.rank();
            }
            KeyCode::Esc if !self.query.is_empty() => {
                self.query.clear();
                self.sel = 0;
                self.rank();
            }
            KeyCode::Char(c) if !ctrl => {
                self.query.push(c);
                self.sel = 0;
                self.rank();
            }
            _ => {
                cx.dirty = false;
                return Outcome::Ignored;
            }
        }
        self.note = None;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => {
                Self::ask(cx, QueueRequest::Watch);
                return Outcome::Consumed;
            }
            EngineEvent::Queue(QueueEvent::Me(me)) => {
                self.me = Some(me);
                self.rank();
            }
            EngineEvent::Queue(QueueEvent::Items(rows)) => {
                let keep = self.selected().map(|r| r.id.clone());
                self.haystacks = rows.iter().map(haystack).collect();
                self.rows = rows;
                if let Some(s) = self.search.as_mut() {
                    s.reset();
                }
                self.rank();
                if let Some(id) = keep {
                    if let Some(p) = self.shown.iter().position(|i| self.rows[*i].id == id) {
                        self.sel = p;
                    }
                }
                self.loaded = true;
                // An add or an edit landed (the list changed while the form was waiting on it).
                if let Mode::Form { error: Some(e), .. } = &self.mode {
                    if e == ADDING || e == SAVING {
                        self.mode = Mode::List;
                    }
                }
            }
            EngineEvent::Queue(QueueEvent::Detail(d)) => self.detail = Some(d),
            EngineEvent::Queue(QueueEvent::Note(n)) => self.note = Some(n),
            EngineEvent::Queue(QueueEvent::Refused(e)) => match &mut self.mode {
                Mode::Form { error, .. } => *error = Some(e),
                _ => self.note = Some(e),
            },
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        if area.height < 3 || area.width < 20 {
            return;
        }
        let w = area.width as usize;
        let line = |buf: &mut Buffer, y: u16, s: &str, style: Style| {
            if y < area.y + area.height {
                buf.set_stringn(area.x + 1, y, s, w.saturating_sub(2), style);
            }
        };
        match &self.mode {
            Mode::Form {
                values,
                at,
                error,
                editing,
            } => {
                let (heading, help) = match editing {
                    None => (
                        "New item",
                        "priority H, M or L · sla 30m, 4h, 2d · tags a, b · Enter adds · Esc cancels",
                    ),
                    Some(_) => (
                        "Edit item · sla: empty = unchanged, 4h = due 4h from now, none = no SLA",
                        "priority H, M or L · sla 30m, 4h, 2d · tags a, b · Enter saves · Esc cancels",
                    ),
                };
                line(buf, area.y, heading, t.heading());
                for (i, name) in FORM.iter().enumerate() {
                    let style = if i == *at {
                        Style::new().bg(t.selection_bg).fg(t.selection_fg)
                    } else {
                        Style::new()
                    };
                    let marker = if i == *at { "›" } else { " " };
                    let y = area.y + 2 + i as u16;
                    line(buf, y, &format!("{marker} {name:<9} {}", values[i]), style);
                    // The SLA left empty in an edit: what it stays.
                    if let Some(e) = editing.as_ref().filter(|_| i == 2 && values[i].is_empty()) {
                        let was = if e.sla_text.is_empty() {
                            "unchanged (no SLA)".to_string()
                        } else {
                            format!("unchanged ({})", e.sla_text)
                        };
                        let x = area.x + 1 + 12;
                        if x < area.x + area.width && y < area.y + area.height {
                            buf.set_stringn(
                                x,
                                y,
                                &was,
                                (area.x + area.width - 1).saturating_sub(x) as usize,
                                style.patch(t.muted()),
                            );
                        }
                    }
                }
                let y = area.y + 3 + FORM.len() as u16;
                if let Some(e) = error {
                    line(buf, y, e, Style::new().fg(t.error));
                }
                line(buf, y + 1, help, t.muted());
                return;
            }
            Mode::Comment { text, .. } => {
                line(buf, area.y, "Comment", t.heading());
                line(buf, area.y + 2, &format!("› {text}"), Style::new());
                line(buf, area.y + 4, "Enter adds it · Esc cancels", t.muted());
                return;
            }
            Mode::Detail => {
                let Some(r) = self.selected() else {
                    return;
                };
                line(buf, area.y, &r.title, t.heading());
                let mut y = area.y + 1;
                let mut put = |s: &str, style: Style| {
                    line(buf, y, s, style);
                    y += 1;
                };
                put(
                    &format!(
                        "{}  {}  urgency {:.1}  {}",
                        &r.id[..r.id.len().min(8)],
                        r.state,
                        r.urgency,
                        r.sla_text
                    ),
                    t.muted(),
                );
                if let Some(d) = self.detail.as_ref().filter(|d| d.id == r.id) {
                    for l in d.body.lines() {
                        put(l, Style::new());
                    }
                    put("", Style::new());
                    put("history", t.heading());
                    for h in &d.history {
                        put(h, Style::new());
                    }
                    if !d.comments.is_empty() {
                        put("", Style::new());
                        put("comments", t.heading());
                        for c in &d.comments {
                            put(c, Style::new());
                        }
                    }
                }
                return;
            }
            Mode::List => {}
        }
        let count = format!("{}/{}", self.shown.len(), self.rows.len());
        buf.set_stringn(area.x, area.y, format!("/ {}", self.query), w, t.heading());
        // The active filters, as read, before the count (when they fit).
        let labels: Vec<String> = self.filters.iter().map(Filter::label).collect();
        let right = if labels.is_empty() {
            count.clone()
        } else {
            format!("filters: {}  {count}", labels.join(" "))
        };
        let query_w = self.query.chars().count();
        let right = if right.chars().count() + query_w + 4 < w {
            right
        } else {
            count
        };
        if right.chars().count() + query_w + 4 < w {
            buf.set_string(
                area.x + area.width - right.chars().count() as u16,
                area.y,
                &right,
                t.muted(),
            );
        }
        let list_h = area.height.saturating_sub(2) as usize;
        let first = self.sel.saturating_sub(list_h.saturating_sub(1));
        for (row, i) in self.shown.iter().enumerate().skip(first).take(list_h) {
            let r = &self.rows[*i];
            let y = area.y + 1 + (row - first) as u16;
            let selected = row == self.sel;
            let base = if selected {
                Style::new().bg(t.selection_bg).fg(t.selection_fg)
            } else {
                Style::new()
            };
            let bar_style = match r.sla {
                Sla::Overdue => base.fg(t.error),
                Sla::Warning => base.fg(t.warn),
                Sla::Ok => base.fg(t.ok),
                Sla::None => base.fg(t.muted),
            };
            let cells = r
                .used
                .map(|u| ((u.clamp(0.0, 1.0) * 10.0).round() as usize).min(10))
                .unwrap_or(0);
            let bar = if r.used.is_some() {
                format!("{}{}", "█".repeat(cells), "·".repeat(10 - cells))
            } else {
                " ".repeat(10)
            };
            let head = format!(" {} {:>4.1} {:<11} ", r.priority, r.urgency, r.state);
            let (x, _) = buf.set_stringn(area.x, y, &head, w, base);
            let (x, _) = buf.set_stringn(
                x,
                y,
                &bar,
                (area.x + area.width).saturating_sub(x) as usize,
                bar_style,
            );
            let who = if r.assignee.is_empty() {
                String::new()
            } else {
                format!("  @{}", r.assignee)
            };
            let rest = format!(" {:<9} {}{who}", r.sla_text, r.title);
            buf.set_stringn(
                x,
                y,
                &rest,
                (area.x + area.width).saturating_sub(x) as usize,
                base,
            );
        }
        if self.shown.is_empty() {
            let msg = if !self.loaded {
                " loading…"
            } else if self.rows.is_empty() {
                " no open items: C-n adds one (or fieldkit queue add TITLE)"
            } else {
                self.empty_why.as_deref().unwrap_or(" nothing matches")
            };
            buf.set_stringn(area.x, area.y + 1, msg, w, t.muted());
        }
        if let Some(n) = &self.note {
            buf.set_stringn(area.x, area.y + area.height - 1, n, w, t.muted());
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        match &self.mode {
            Mode::Form { editing, .. } => {
                out.push(Hint::new("Tab", "next field"));
                out.push(Hint::new(
                    "Enter",
                    if editing.is_some() { "save" } else { "add" },
                ));
                out.push(Hint::new("Esc", "cancel"));
                crate::Hints::Typing
            }
            Mode::Comment { .. } => {
                out.push(Hint::new("Enter", "add"));
                out.push(Hint::new("Esc", "cancel"));
                crate::Hints::Typing
            }
            Mode::Detail => {
                out.push(Hint::new("Esc", "back"));
                crate::Hints::WithKeymap
            }
            Mode::List => {
                out.push(Hint::new(
                    "type",
                    "filter · state: role: tag: project: mine overdue",
                ));
                out.push(Hint::new("Enter", "details"));
                crate::Hints::WithKeymap
            }
        }
    }

    fn save(&self) -> PaneState {
        PaneState::Queue
    }
}

#[cfg(test)]
mod tests;
