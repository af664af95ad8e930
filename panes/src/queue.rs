/*!
The queue pane (`open queue`): the work queue, most urgent first, as the server ranks it. Each
row shows the SLA as a coloured ten-cell bar (green, yellow from 80%, red when overdue). Type to
filter, fuzzy over title, project, tags, role and assignee (the vault's `Search`: a key that
extends the query narrows the last matches, so 100,000 items filter within a frame). Keys
claim, start, finish, block and cancel the item under the cursor; Enter opens its history and
comments; a form adds an item, a line adds a comment.

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
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueueEvent {
    Items(Vec<QueueRow>),
    Detail(QueueDetail),
    Note(String),
    /// An add or a comment was refused: the form stays open with this sentence.
    Refused(String),
}

const FORM: [&str; 5] = ["title", "priority", "sla", "role", "tags"];

#[derive(Debug, Default)]
enum Mode {
    #[default]
    List,
    Detail,
    Form {
        values: [String; 5],
        at: usize,
        error: Option<String>,
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
        let s = self.search.get_or_insert_with(Search::default);
        self.shown = s.run(&self.haystacks, &self.query);
        self.sel = self.sel.min(self.shown.len().saturating_sub(1));
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
            self.mode = Mode::Form {
                values: [
                    String::new(),
                    "M".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
                at: 0,
                error: None,
            };
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
            Mode::Form { values, at, error } => {
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
                        let v = values.clone();
                        Self::ask(
                            cx,
                            QueueRequest::Add {
                                title: v[0].clone(),
                                priority: v[1].clone(),
                                sla: v[2].clone(),
                                role: v[3].clone(),
                                tags: v[4].clone(),
                            },
                        );
                        *error = Some("adding…".into());
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
                if matches!(self.mode, Mode::Form { .. }) {
                    // An add landed (the list changed while the form was open for it).
                    if let Mode::Form { error: Some(e), .. } = &self.mode {
                        if e == "adding…" {
                            self.mode = Mode::List;
                        }
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
            Mode::Form { values, at, error } => {
                line(buf, area.y, "New item", t.heading());
                for (i, name) in FORM.iter().enumerate() {
                    let style = if i == *at {
                        Style::new().bg(t.selection_bg).fg(t.selection_fg)
                    } else {
                        Style::new()
                    };
                    let marker = if i == *at { "›" } else { " " };
                    line(
                        buf,
                        area.y + 2 + i as u16,
                        &format!("{marker} {name:<9} {}", values[i]),
                        style,
                    );
                }
                let y = area.y + 3 + FORM.len() as u16;
                if let Some(e) = error {
                    line(buf, y, e, Style::new().fg(t.error));
                }
                line(
                    buf,
                    y + 1,
                    "priority H, M or L · sla 30m, 4h, 2d · tags a, b · Enter adds · Esc cancels",
                    t.muted(),
                );
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
        if count.len() + self.query.len() + 4 < w {
            buf.set_string(
                area.x + area.width - count.len() as u16,
                area.y,
                &count,
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
                " nothing matches"
            };
            buf.set_stringn(area.x, area.y + 1, msg, w, t.muted());
        }
        if let Some(n) = &self.note {
            buf.set_stringn(area.x, area.y + area.height - 1, n, w, t.muted());
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        match self.mode {
            Mode::Form { .. } => {
                out.push(Hint::new("Tab", "next field"));
                out.push(Hint::new("Enter", "add"));
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
                out.push(Hint::new("type", "filter"));
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
