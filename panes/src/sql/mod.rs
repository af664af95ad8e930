/*!
The SQL editor: buffers of SQL, run against DuckDB, results in a linked grid.

Editing is tui-textarea's (emacs-style keys, undo, Shift+arrows select); drawing is ours, so
that syntect can colour the text with the theme and errors can be marked at their line and
column. The editor does not run anything itself: `run` sends the statement under the cursor
(or the selection, or everything) to the server, which shows the result in the grid linked to
this editor and sends back what happened (rows, error, done). Completion draws on keywords
and the live catalog the worker reports.
*/

mod actions;
pub use actions::SqlVerb;
mod completion;
mod draw;

use crate::data::{split_statements, Catalog, DataEvent, DataRequest};
use crate::llm::ChatRequest;
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, KeyEvent, Outcome, Pane, PaneKind, PaneState,
    RenderCx, SqlRequest, UiCommand,
};
use fieldkit_widgets::code::{highlight, Token};
use fieldkit_widgets::table::{put, text_width};
use fieldkit_widgets::{Hint, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use std::borrow::Cow;
use tui_textarea::{CursorMove, TextArea};

/// The SQL editor's registration: it needs DuckDB (and asks the model through the chat's
/// service, started when it asks).
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Sql,
    all_keys: false,
    actions: SqlVerb::CATALOGUE,
    engines: &[crate::Engine::Data],
    fresh: |_| Box::new(SqlPane::default()),
    restore: |st| match st {
        PaneState::Sql {
            buffers,
            active,
            dialect,
        } => Some(Box::new(SqlPane::new(
            buffers.clone(),
            *active,
            dialect.clone(),
        ))),
        _ => None,
    },
};

pub const DIALECTS: &[&str] = &["duckdb", "postgres", "mysql", "bigquery", "redshift"];

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "INNER JOIN",
    "FULL JOIN",
    "CROSS JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "DISTINCT",
    "UNION",
    "UNION ALL",
    "EXCEPT",
    "INTERSECT",
    "WITH",
    "INSERT INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE FROM",
    "CREATE TABLE",
    "CREATE VIEW",
    "DROP TABLE",
    "ALTER TABLE",
    "DESCRIBE",
    "SUMMARIZE",
    "PIVOT",
    "UNPIVOT",
    "QUALIFY",
    "WINDOW",
    "OVER",
    "PARTITION BY",
    "ASC",
    "DESC",
    "NULLS FIRST",
    "NULLS LAST",
    "CAST",
    "TRY_CAST",
    "COPY",
    "ATTACH",
    "EXPLAIN",
];

#[derive(Debug)]
struct Buf {
    text: TextArea<'static>,
    /// First line on screen.
    top: usize,
}

impl Buf {
    fn new(text: &str) -> Buf {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.split('\n').map(str::to_string).collect()
        };
        Buf {
            text: TextArea::new(lines),
            top: 0,
        }
    }
    fn content(&self) -> String {
        self.text.lines().join("\n")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Completion {
    items: Vec<String>,
    sel: usize,
    /// Characters of the word already typed.
    typed: usize,
}

/// The last run's outcome, for the footer and the error mark.
#[derive(Debug, Clone, PartialEq)]
enum RunState {
    Running(String, Option<f64>),
    Rows(Option<u64>),
    Done(String),
    Error {
        message: String,
        /// 0-based (line, column) in the buffer.
        at: Option<(usize, usize)>,
    },
}

#[derive(Debug)]
pub struct SqlPane {
    bufs: Vec<Buf>,
    active: usize,
    dialect: Option<String>,
    /// Where the last sent SQL starts in its buffer (0-based line, column).
    origin: (usize, usize),
    last: Option<RunState>,
    catalog: Catalog,
    /// A question for `ask-data` waiting for the catalog.
    asking: Option<String>,
    seq: u64,
    tree: bool,
    tree_top: usize,
    completion: Option<Completion>,
    /// Text rows at the last render (for scrolling).
    page: usize,
}

impl Default for SqlPane {
    fn default() -> Self {
        SqlPane::new(vec![String::new()], 0, None)
    }
}

impl SqlPane {
    pub fn new(buffers: Vec<String>, active: usize, dialect: Option<String>) -> Self {
        let mut bufs: Vec<Buf> = buffers.iter().map(|b| Buf::new(b)).collect();
        if bufs.is_empty() {
            bufs.push(Buf::new(""));
        }
        let active = active.min(bufs.len() - 1);
        SqlPane {
            bufs,
            active,
            dialect,
            origin: (0, 0),
            last: None,
            catalog: Catalog::default(),
            asking: None,
            seq: 0,
            tree: false,
            tree_top: 0,
            completion: None,
            page: 10,
        }
    }

    fn buf(&self) -> &Buf {
        &self.bufs[self.active]
    }
    fn buf_mut(&mut self) -> &mut Buf {
        &mut self.bufs[self.active]
    }

    /// The text of the active buffer.
    pub fn text(&self) -> String {
        self.buf().content()
    }

    fn ask_catalog(&mut self, cx: &mut Cx) {
        self.seq += 1;
        cx.push(Effect::Engine(EngineRequest::Data(DataRequest::Catalog {
            seq: self.seq,
        })));
    }

    fn scroll_to_cursor(&mut self) {
        let page = self.page.max(1);
        let b = self.buf_mut();
        let (row, _) = b.text.cursor();
        if row < b.top {
            b.top = row;
        } else if row >= b.top + page {
            b.top = row + 1 - page;
        }
    }

    /// The catalog as the model reads it: a line per table with its columns.
    pub fn schema(&self) -> String {
        let mut s = String::new();
        for t in &self.catalog.tables {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.ty))
                .collect();
            s.push_str(&format!("{}({})\n", t.name, cols.join(", ")));
        }
        s
    }
}

/// Byte offset of character `col` in `line`.
fn byte_of(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col)
        .map(|(b, _)| b)
        .unwrap_or(line.len())
}

/// 0-based (line, column in characters) of byte `off` in `text`.
fn position_of(text: &str, off: usize) -> (usize, usize) {
    let before = &text[..off.min(text.len())];
    let line = before.matches('\n').count();
    let col = before.rsplit('\n').next().unwrap_or("").chars().count();
    (line, col)
}

impl Pane for SqlPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Sql
    }

    fn title(&self) -> Cow<'_, str> {
        Cow::Owned(format!("sql {}/{}", self.active + 1, self.bufs.len()))
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::Pane { .. } => match SqlVerb::of(a) {
                Some((verb, arg)) => self.pane_action(verb, arg, cx),
                None => Outcome::Ignored,
            },
            Action::Refresh => {
                self.ask_catalog(cx);
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        use crossterm::event::{KeyCode, KeyEventKind};
        if k.kind == KeyEventKind::Release {
            return Outcome::Ignored;
        }
        if let Some(c) = self.completion.take() {
            match k.code {
                KeyCode::Enter | KeyCode::Tab => {
                    if let Some(item) = c.items.get(c.sel) {
                        self.accept(&item.clone(), c.typed);
                    }
                    cx.dirty = true;
                    return Outcome::Consumed;
                }
                KeyCode::Down => {
                    self.completion = Some(Completion {
                        sel: (c.sel + 1) % c.items.len().max(1),
                        ..c
                    });
                    cx.dirty = true;
                    return Outcome::Consumed;
                }
                KeyCode::Up => {
                    let n = c.items.len().max(1);
                    self.completion = Some(Completion {
                        sel: (c.sel + n - 1) % n,
                        ..c
                    });
                    cx.dirty = true;
                    return Outcome::Consumed;
                }
                _ => {}
            }
        }
        self.buf_mut().text.input(*k);
        if matches!(self.last, Some(RunState::Error { .. })) {
            // The mark points at text that may have changed; the message stays in the footer.
            if let Some(RunState::Error { at, .. }) = &mut self.last {
                *at = None;
            }
        }
        self.scroll_to_cursor();
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Data(d) => self.on_data(d, cx),
            EngineEvent::InsertText(text) => {
                let b = self.buf_mut();
                if !b.text.is_empty() {
                    b.text.move_cursor(CursorMove::Bottom);
                    b.text.move_cursor(CursorMove::End);
                    b.text.insert_newline();
                }
                b.text.insert_str(&text);
                self.scroll_to_cursor();
                cx.dirty = true;
                Outcome::Consumed
            }
            EngineEvent::Ready => {
                self.ask_catalog(cx);
                Outcome::Consumed
            }
            EngineEvent::Completions { typed, items } => {
                self.path_completions(typed, items, cx);
                Outcome::Consumed
            }
            EngineEvent::Chat(crate::llm::ChatEvent::Gen(crate::llm::LlmEvent::Token(_))) => {
                // The model writing SQL for "ask the data": a count in the footer.
                let n = match &self.last {
                    Some(RunState::Running(what, _)) if what.starts_with("asking the model") => {
                        what.split('(')
                            .nth(1)
                            .and_then(|x| x.split(' ').next()?.parse().ok())
                    }
                    _ => None,
                }
                .unwrap_or(0u32);
                self.last = Some(RunState::Running(
                    format!("asking the model ({} tokens)", n + 1),
                    None,
                ));
                cx.dirty = true;
                Outcome::Consumed
            }
            EngineEvent::Chat(crate::llm::ChatEvent::Failed { error, .. }) => {
                self.last = Some(RunState::Error {
                    message: error,
                    at: None,
                });
                cx.dirty = true;
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        if area.height < 2 || area.width < 8 {
            return;
        }
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        let tree_w = if self.tree {
            (area.width / 3).max(16).min(area.width / 2)
        } else {
            0
        };
        let edit = Rect {
            width: area.width - tree_w,
            height: area.height - 1,
            ..area
        };
        if tree_w > 0 {
            let r = Rect {
                x: area.x + area.width - tree_w,
                width: tree_w,
                height: area.height - 1,
                ..area
            };
            for y in r.y..r.y + r.height {
                if let Some(c) = buf.cell_mut((r.x, y)) {
                    c.set_symbol("│").set_style(Style::new().fg(t.border));
                }
            }
            self.render_tree(
                Rect {
                    x: r.x + 2,
                    width: r.width.saturating_sub(2),
                    ..r
                },
                buf,
                t,
            );
        }
        self.page = edit.height as usize;
        self.scroll_to_cursor();
        let b = self.buf();
        let lines = b.text.lines();
        let gutter = (lines.len().to_string().len() as u16 + 1).max(3);
        let spans = highlight("sql", lines);
        let sel = b.text.selection_range();
        let err_at = match &self.last {
            Some(RunState::Error { at, .. }) => *at,
            _ => None,
        };
        for (i, line) in lines.iter().enumerate().skip(b.top) {
            let y = edit.y + (i - b.top) as u16;
            if y >= edit.y + edit.height {
                break;
            }
            let num_style = if err_at.map(|e| e.0) == Some(i) {
                Style::new().fg(t.error).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(t.muted)
            };
            put(
                buf,
                edit.x,
                y,
                gutter - 1,
                &format!("{:>w$}", i + 1, w = gutter as usize - 1),
                num_style,
            );
            let mut x = edit.x + gutter;
            let right = edit.x + edit.width;
            for (ci, (bi, ch)) in line.char_indices().enumerate() {
                let w = text_width(ch.encode_utf8(&mut [0; 4])) as u16;
                if x + w > right {
                    break;
                }
                let tok = spans[i]
                    .iter()
                    .find(|(r, _)| r.contains(&bi))
                    .map(|(_, t)| *t)
                    .unwrap_or(Token::Plain);
                let mut style = tok.style(t).bg(t.bg);
                if let Some(((r0, c0), (r1, c1))) = sel {
                    let after_start = i > r0 || (i == r0 && ci >= c0);
                    let before_end = i < r1 || (i == r1 && ci < c1);
                    if after_start && before_end {
                        style = style.bg(t.selection_bg);
                    }
                }
                if err_at == Some((i, ci)) {
                    style = style
                        .fg(t.error)
                        .add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
                }
                if let Some(c) = buf.cell_mut((x, y)) {
                    c.set_char(if ch == '\t' { ' ' } else { ch })
                        .set_style(style);
                }
                x += w.max(1);
            }
        }
        if lines.len() == 1 && lines[0].is_empty() {
            put(
                buf,
                edit.x + gutter,
                edit.y,
                edit.width.saturating_sub(gutter),
                "SELECT … FROM …   (C-r runs, Tab completes, C-o history, C-t catalog)",
                Style::new().fg(t.muted),
            );
        }
        // Footer.
        let fy = area.y + area.height - 1;
        let mut x = area.x;
        for (s, st) in self.footer(t) {
            let w = (text_width(&s) as u16).min(area.x + area.width - x);
            put(buf, x, fy, w, &s, st);
            x += w;
        }
        // Completion list under the cursor.
        if let Some(c) = &self.completion {
            if let Some(pos) = self.cursor(area) {
                let w = c
                    .items
                    .iter()
                    .map(|s| text_width(s))
                    .max()
                    .unwrap_or(4)
                    .min(40) as u16
                    + 2;
                let h = (c.items.len() as u16).min(8);
                let y0 = if pos.y + 1 + h <= area.y + area.height {
                    pos.y + 1
                } else {
                    pos.y.saturating_sub(h)
                };
                let x0 = pos.x.min((area.x + area.width).saturating_sub(w));
                let first = c.sel.saturating_sub(h as usize - 1);
                for (i, item) in c.items.iter().enumerate().skip(first).take(h as usize) {
                    let style = if i == c.sel {
                        Style::new().fg(t.selection_fg).bg(t.border_focused)
                    } else {
                        Style::new().fg(t.fg).bg(t.popup_bg)
                    };
                    put(
                        buf,
                        x0,
                        y0 + (i - first) as u16,
                        w,
                        &format!(" {item}"),
                        style,
                    );
                }
            }
        }
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        let b = self.buf();
        let (row, col) = b.text.cursor();
        if row < b.top || row - b.top >= area.height.saturating_sub(1) as usize {
            return None;
        }
        let lines = b.text.lines();
        let gutter = (lines.len().to_string().len() as u16 + 1).max(3);
        let before: String = lines[row].chars().take(col).collect();
        let x = area.x + gutter + text_width(&before) as u16;
        (x < area.x + area.width).then(|| Position::new(x, area.y + (row - b.top) as u16))
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.completion.is_some() {
            out.push(Hint::new("Tab/Enter", "accept"));
            out.push(Hint::new("Up Down", "choose"));
            out.push(Hint::new("Esc", "close"));
            return crate::Hints::Alone;
        }
        if matches!(self.last, Some(RunState::Running(..))) {
            out.push(Hint::new("Esc", "cancel"));
        }
        crate::Hints::WithKeymap
    }

    fn busy(&self) -> Option<String> {
        matches!(self.last, Some(RunState::Running(..)))
            .then(|| "A query is running from this editor (its text comes back with C-b u).".into())
    }

    fn context(&self) -> Option<crate::llm::Attachment> {
        let b = self.buf();
        let query = match self.selection() {
            Some((sel, _)) => sel,
            None => b.content(),
        };
        let mut body = format!("query:\n{}\n", query.trim());
        if let Some(d) = &self.dialect {
            body.push_str(&format!("dialect: {d}\n"));
        }
        if let Some(RunState::Error { message, .. }) = &self.last {
            body.push_str(&format!("last error: {message}\n"));
        }
        Some(crate::llm::Attachment {
            title: "SQL editor: query and last error".into(),
            body,
        })
    }

    fn save(&self) -> PaneState {
        PaneState::Sql {
            buffers: self.bufs.iter().map(Buf::content).collect(),
            active: self.active,
            dialect: self.dialect.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
