/*!
The SQL editor: buffers of SQL, run against DuckDB, results in a linked grid.

Editing is the code editor's (`editor::EditorPane` in SQL mode: the same keys, search and
replace, undo and highlighting; its keymap scope `editor` applies here after `sql`), with this
pane's footer in its status line and an error marked at its line and column. The editor does
not run anything itself: `run` sends the statement under the cursor
(or the selection, or everything) to the server, which shows the result in the grid linked to
this editor and sends back what happened (rows, error, done). Completion draws on keywords
and the live catalog the worker reports.
*/

mod actions;
pub use actions::SqlVerb;
mod completion;
mod draw;

use crate::data::{split_statements, Catalog, DataEvent, DataRequest};
use crate::editor::{EditorPane, EditorVerb, Sel};
use crate::llm::ChatRequest;
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, KeyEvent, Outcome, Pane, PaneKind, PaneState,
    RenderCx, SqlRequest, UiCommand,
};
use fieldkit_widgets::table::{put, text_width};
use fieldkit_widgets::{Hint, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use std::borrow::Cow;

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
    /// The buffers, their text and everything typed into them.
    ed: EditorPane,
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
}

impl Default for SqlPane {
    fn default() -> Self {
        SqlPane::new(vec![String::new()], 0, None)
    }
}

impl SqlPane {
    pub fn new(buffers: Vec<String>, active: usize, dialect: Option<String>) -> Self {
        SqlPane {
            ed: EditorPane::sql(&buffers, active),
            dialect,
            origin: (0, 0),
            last: None,
            catalog: Catalog::default(),
            asking: None,
            seq: 0,
            tree: false,
            tree_top: 0,
            completion: None,
        }
    }

    /// The text of the active buffer.
    pub fn text(&self) -> String {
        self.ed.doc().rope.to_string()
    }

    /// The cursor's (line, column), 0-based, in chars.
    fn cursor_at(&self) -> (usize, usize) {
        let d = self.ed.doc();
        d.line_col(d.sel.head)
    }

    /// The active buffer's lines (without their line breaks).
    fn lines(&self) -> Vec<String> {
        self.text().split('\n').map(str::to_string).collect()
    }

    fn ask_catalog(&mut self, cx: &mut Cx) {
        self.seq += 1;
        cx.push(Effect::Engine(EngineRequest::Data(DataRequest::Catalog {
            seq: self.seq,
        })));
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

impl SqlPane {
    /// After a key or verb went to the editor: an error's mark points at text that may have
    /// changed, so it goes (the message stays in the footer).
    fn edited(&mut self, version_before: u64) {
        if self.ed.doc().version != version_before {
            if let Some(RunState::Error { at, .. }) = &mut self.last {
                *at = None;
            }
        }
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
        let (i, n) = self.ed.position();
        Cow::Owned(format!("sql {}/{}", i + 1, n))
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::Pane { .. } => match SqlVerb::of(a) {
                Some((verb, arg)) => self.pane_action(verb, arg, cx),
                // The editor's own verbs (undo, find, copy…), bound in its scope.
                None => match EditorVerb::of(a) {
                    Some(_) => {
                        let before = self.ed.doc().version;
                        let o = self.ed.on_action(a, cx);
                        self.edited(before);
                        o
                    }
                    None => Outcome::Ignored,
                },
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
        let before = self.ed.doc().version;
        let o = self.ed.on_input(k, cx);
        self.edited(before);
        cx.dirty = true;
        o
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Data(d) => self.on_data(d, cx),
            EngineEvent::InsertText(text) => {
                // The model's SQL has come: the footer stops counting its tokens (what runs
                // next, or a declined run, says what happened).
                if matches!(&self.last, Some(RunState::Running(w, _)) if w.starts_with("asking the model"))
                {
                    self.last = Some(RunState::Done("the model's SQL is in the editor".into()));
                }
                // At the end, on a line of its own.
                let d = self.ed.doc_mut();
                let end = d.rope.len_chars();
                let text = if end > 0 { format!("\n{text}") } else { text };
                d.replace(end..end, &text);
                d.break_typing();
                self.ed.follow_cursor();
                cx.dirty = true;
                Outcome::Consumed
            }
            // A paste, a save-as, from the editor's service.
            EngineEvent::Editor(e) => self.ed.on_engine(EngineEvent::Editor(e), cx),
            EngineEvent::Ready => {
                self.ask_catalog(cx);
                Outcome::Consumed
            }
            EngineEvent::Completions { typed, items } => {
                self.path_completions(typed, items, cx);
                Outcome::Consumed
            }
            // The model answering the editor's own question (explain, rewrite, fix).
            EngineEvent::Chat(e) if self.ed.ai_asking() => self.ed.on_ai_event(&e, cx),
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
        self.ed.footer = Some(self.footer(t));
        self.ed.mark = match &self.last {
            Some(RunState::Error { at, .. }) => *at,
            _ => None,
        };
        self.ed.render(edit, buf, rcx);
        if self.ed.doc().rope.len_chars() == 0 {
            // Where the text would start: past the line numbers, below the buffer tabs.
            let top = edit.y + u16::from(self.ed.position().1 > 1);
            let x = edit.x + 4;
            put(
                buf,
                x,
                top,
                (edit.x + edit.width).saturating_sub(x),
                "SELECT … FROM …   (C-r runs, Tab completes, C-o history, C-t catalog)",
                Style::new().fg(t.muted),
            );
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
        self.ed.cursor(area)
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.ed.finding() || self.ed.ai_shown() || self.ed.ai_asking() {
            return self.ed.hints(out);
        }
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
        let query = match self.selection() {
            Some((sel, _)) => sel,
            None => self.text(),
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
            buffers: self.ed.texts(),
            active: self.ed.position().0,
            dialect: self.dialect.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
