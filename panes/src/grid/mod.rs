/*!
The data grid: a window onto a result that lives in the data worker.

The pane holds the result's shape (columns, row count) and a small cache of fetched blocks
around the cursor; moving asks for the blocks it is about to show and draws placeholders until
they come, so a frame never waits on DuckDB and memory does not grow with the result. Sorting
and filtering are new queries (`View`), stats, frequencies and plots are computed by DuckDB and
shown in an overlay over the grid. Everything the worker says arrives as a `DataEvent`; answers
to superseded requests (older `seq`) are dropped.
*/

mod actions;
pub use actions::GridVerb;
mod draw;

use draw::*;

use crate::data::{
    quote_ident, quote_literal, Cell, Column, DataEvent, DataRequest, Plot, PlotAsk,
};
use crate::data::{Source, View};
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, KeyEvent, Outcome, Pane, PaneKind, PaneState,
    RenderCx, UiCommand,
};
use fieldkit_widgets::plot::{self, group};
use fieldkit_widgets::table::{fit_width, text_width, TableView};
use fieldkit_widgets::{Hint, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The grid's registration: it needs DuckDB.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Grid,
    all_keys: false,
    actions: GridVerb::CATALOGUE,
    engines: &[crate::Engine::Data],
    fresh: |_| Box::new(GridPane::new()),
    restore: |st| match st {
        PaneState::Grid { source, view } => Some(Box::new(match source {
            Some(s) => GridPane::with_source(s.clone(), view.clone()),
            None => GridPane::new(),
        })),
        _ => None,
    },
};

/// Rows per fetched block.
pub const BLOCK: u64 = 200;
/// Columns per fetched block: a result 10,000 columns wide is fetched a slice at a time.
pub const COL_BLOCK: usize = 64;
/// Blocks kept on each side of the view; the rest are dropped.
const KEEP_BLOCKS: u64 = 3;

#[derive(Debug, Clone, PartialEq)]
enum Overlay {
    /// Stats or a frequency table: `top` is the selected row, `left` the first column shown.
    Table {
        title: String,
        columns: Vec<Column>,
        rows: Vec<Vec<Cell>>,
        top: usize,
        left: usize,
        /// The grid column whose values a frequency table counts: Enter filters to a value.
        counts: Option<String>,
    },
    Inspect {
        title: String,
        text: String,
        scroll: u16,
    },
    Plot(Plot),
}

#[derive(Debug, Default)]
pub struct GridPane {
    source: Option<Source>,
    view: View,
    seq: u64,
    result: Option<u64>,
    columns: Vec<Column>,
    /// Known total; `None` while a file is still loading.
    total: Option<u64>,
    /// Rows that can be shown now (the preview while loading).
    known: u64,
    /// Fetched blocks by (row block, column block).
    blocks: BTreeMap<(u64, usize), Vec<Vec<Cell>>>,
    asked: BTreeSet<(u64, usize)>,
    row: u64,
    col: usize,
    top: u64,
    left: usize,
    widths: Vec<u16>,
    marked: Option<usize>,
    /// What is running, and how far it is.
    busy: Option<(String, Option<f64>)>,
    error: Option<String>,
    /// A line for the footer (export done, copied).
    message: Option<String>,
    overlay: Option<Overlay>,
    /// Body rows on screen at the last render.
    page: u64,
    /// Columns on screen at the last render.
    cols_shown: usize,
    /// Loaded at restore: the source is loaded when the worker is ready.
    pending_load: bool,
    /// The source and view of the rows on screen: a load that fails or is cancelled goes back
    /// to them and keeps the rows, with the error in the footer.
    shown: Option<(Source, View)>,
    /// What the running load asks for; becomes `shown` when it arrives.
    asking: Option<(Source, View)>,
    /// The result on screen while a new one loads: forgotten once the new one is there.
    replacing: Option<u64>,
    /// The column a frequency table was asked for.
    counting: Option<String>,
}

impl GridPane {
    pub fn new() -> Self {
        GridPane {
            page: 20,
            ..Default::default()
        }
    }

    /// A grid that loads `source` as soon as it can.
    pub fn with_source(source: Source, view: View) -> Self {
        GridPane {
            source: Some(source),
            view,
            pending_load: true,
            page: 20,
            ..Default::default()
        }
    }

    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    fn data(cx: &mut Cx, req: DataRequest) {
        cx.push(Effect::Engine(EngineRequest::Data(req)));
    }

    /// Starts (again) from the source: a new query, a new result. What is on screen stays
    /// until the new result is there (a filter that fails or a cancel keeps it).
    pub fn load(&mut self, cx: &mut Cx) {
        let Some(source) = self.source.clone() else {
            return;
        };
        self.pending_load = false;
        self.seq += 1;
        let showing = self.result.is_some() && self.error.is_none() && self.shown.is_some();
        if showing {
            // A second load before the first arrived: the one in between is dropped.
            self.replacing = self.replacing.or(self.result);
        } else {
            if let Some(r) = self.result.take() {
                Self::data(cx, DataRequest::Forget { result: r });
            }
            self.clear_rows();
            self.shown = None;
        }
        self.error = None;
        self.overlay = None;
        self.asking = Some((source.clone(), self.view.clone()));
        self.busy = Some((format!("loading {}", source.label()), None));
        Self::data(
            cx,
            DataRequest::Load {
                seq: self.seq,
                source,
                view: self.view.clone(),
            },
        );
        cx.dirty = true;
    }

    /// Forgets the rows on screen (a new result replaces them).
    fn clear_rows(&mut self) {
        self.blocks.clear();
        self.asked.clear();
        self.total = None;
        self.known = 0;
        self.row = 0;
        self.top = 0;
    }

    fn column_name(&self) -> Option<&str> {
        self.columns.get(self.col).map(|c| c.name.as_str())
    }

    fn cell(&self, row: u64, col: usize) -> Option<&Cell> {
        self.blocks
            .get(&(row / BLOCK, col / COL_BLOCK))
            .and_then(|b| b.get((row % BLOCK) as usize))
            .and_then(|r| r.get(col % COL_BLOCK))
    }

    /// The row's cells that are loaded, and whether that is all of them.
    fn row_cells(&self, row: u64) -> Option<(Vec<Cell>, bool)> {
        let mut out = Vec::with_capacity(self.columns.len());
        for c in 0..self.columns.len() {
            match self.cell(row, c) {
                Some(v) => out.push(v.clone()),
                None if c == 0 => return None,
                None => return Some((out, false)),
            }
        }
        Some((out, true))
    }

    /// Asks for the blocks the view needs (and the next one), drops far ones.
    fn fetch(&mut self, cx: &mut Cx) {
        let Some(result) = self.result else {
            return;
        };
        if self.known == 0 {
            return;
        }
        let first = self.top / BLOCK;
        let last = (self.top + self.page.max(1)).min(self.known.saturating_sub(1)) / BLOCK;
        let max_block = (self.known - 1) / BLOCK;
        let ncols = self.columns.len().max(1);
        let c0 = self.left / COL_BLOCK;
        let c1 = ((self.left + self.cols_shown.max(1)).min(ncols) - 1) / COL_BLOCK;
        for b in first..=(last + 1).min(max_block) {
            for cb in c0..=c1 {
                if !self.blocks.contains_key(&(b, cb)) && self.asked.insert((b, cb)) {
                    let first_col = cb * COL_BLOCK;
                    Self::data(
                        cx,
                        DataRequest::Rows {
                            seq: self.seq,
                            result,
                            offset: b * BLOCK,
                            limit: BLOCK as u32,
                            first_col: first_col as u32,
                            cols: COL_BLOCK.min(ncols - first_col) as u32,
                        },
                    );
                }
            }
        }
        let lo = first.saturating_sub(KEEP_BLOCKS);
        let hi = last + KEEP_BLOCKS;
        let near = |k: &(u64, usize)| k.0 >= lo && k.0 <= hi && k.1 + 1 >= c0 && k.1 <= c1 + 1;
        self.blocks.retain(|k, _| near(k));
        self.asked.retain(near);
    }

    fn clamp(&mut self) {
        if self.known == 0 {
            self.row = 0;
        } else {
            self.row = self.row.min(self.known - 1);
        }
        if !self.columns.is_empty() {
            self.col = self.col.min(self.columns.len() - 1);
        }
        let page = self.page.max(1);
        if self.row < self.top {
            self.top = self.row;
        } else if self.row >= self.top + page {
            self.top = self.row + 1 - page;
        }
        if self.col < self.left {
            self.left = self.col;
        } else if self.cols_shown > 0 && self.col >= self.left + self.cols_shown {
            self.left = self.col + 1 - self.cols_shown;
        }
    }

    fn move_by(&mut self, how: &str, cx: &mut Cx) {
        if let Some(o) = &mut self.overlay {
            match o {
                Overlay::Table {
                    top,
                    rows,
                    left,
                    columns,
                    ..
                } => {
                    let max = rows.len().saturating_sub(1);
                    match how {
                        "left" => *left = left.saturating_sub(1),
                        "right" => *left = (*left + 1).min(columns.len().saturating_sub(1)),
                        "home" => *left = 0,
                        "end" => *left = columns.len().saturating_sub(1),
                        _ => {}
                    }
                    *top = match how {
                        "down" => (*top + 1).min(max),
                        "up" => top.saturating_sub(1),
                        "page-down" => (*top + 10).min(max),
                        "page-up" => top.saturating_sub(10),
                        "top" => 0,
                        "bottom" => max,
                        _ => *top,
                    }
                }
                Overlay::Inspect { scroll, .. } => {
                    *scroll = match how {
                        "down" => scroll.saturating_add(1),
                        "up" => scroll.saturating_sub(1),
                        "page-down" => scroll.saturating_add(10),
                        "page-up" => scroll.saturating_sub(10),
                        "top" => 0,
                        _ => *scroll,
                    }
                }
                Overlay::Plot(_) => {}
            }
            cx.dirty = true;
            return;
        }
        let page = self.page.max(1);
        let last_col = self.columns.len().saturating_sub(1);
        match how {
            "down" => self.row = self.row.saturating_add(1),
            "up" => self.row = self.row.saturating_sub(1),
            "left" => self.col = self.col.saturating_sub(1),
            "right" => self.col = (self.col + 1).min(last_col),
            "top" => self.row = 0,
            "bottom" => self.row = self.known.saturating_sub(1),
            "page-down" => {
                self.row = self.row.saturating_add(page);
                self.top = self.top.saturating_add(page);
            }
            "page-up" => {
                self.row = self.row.saturating_sub(page);
                self.top = self.top.saturating_sub(page);
            }
            "home" => self.col = 0,
            "end" => self.col = last_col,
            _ => return,
        }
        self.settle(cx);
    }

    /// Puts the cursor on `row` (0-based), asking for the rows around it.
    pub fn goto(&mut self, row: u64, cx: &mut Cx) {
        self.row = row;
        self.top = row.saturating_sub(self.page.max(1) / 2);
        self.settle(cx);
    }

    /// After a move: the last page stays full, the cursor in view, its rows asked for.
    fn settle(&mut self, cx: &mut Cx) {
        let page = self.page.max(1);
        if self.known > 0 {
            self.top = self
                .top
                .min(self.known.saturating_sub(page.min(self.known)));
        }
        self.clamp();
        self.fetch(cx);
        cx.dirty = true;
    }

    /// The column and the value under the cursor of a frequency table, if one is open.
    fn counted_value(&self) -> Option<(String, Cell)> {
        match &self.overlay {
            Some(Overlay::Table {
                counts: Some(column),
                rows,
                top,
                ..
            }) => rows
                .get(*top)
                .and_then(|r| r.first())
                .map(|v| (column.clone(), v.clone())),
            _ => None,
        }
    }

    fn say(&mut self, cx: &mut Cx, text: impl Into<String>) {
        self.message = Some(text.into());
        cx.dirty = true;
    }

    fn prompt(cx: &mut Cx, title: &str, initial: String, then: &str, on_empty: Option<&str>) {
        cx.push(Effect::Ui(UiCommand::Prompt {
            title: title.into(),
            initial,
            then: then.into(),
            on_empty: on_empty.map(str::to_string),
        }));
    }

    fn is_number(&self, col: usize) -> bool {
        self.columns
            .get(col)
            .is_some_and(|c| fieldkit_widgets::table::is_numeric_type(&c.ty))
    }
}

impl Pane for GridPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Grid
    }

    fn title(&self) -> Cow<'_, str> {
        match &self.source {
            Some(s) => Cow::Owned(format!("grid: {}", s.label())),
            None => Cow::Borrowed("grid"),
        }
    }

    /// The schema, then the rows on screen (loaded ones), tab-separated, as the model reads
    /// a table best: small and exact.
    fn context(&self) -> Option<crate::llm::Attachment> {
        let src = self.source.as_ref()?;
        if self.columns.is_empty() {
            return None;
        }
        let schema: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.ty))
            .collect();
        let mut body = format!("columns: {}\n", schema.join(", "));
        if let Some(Source::Query { sql, .. }) = &self.source {
            body.push_str(&format!("query: {}\n", sql.trim()));
        }
        if let Some(f) = &self.view.filter {
            body.push_str(&format!("filter: {f}\n"));
        }
        // At most 12 columns from the first on screen, and the rows on screen (up to 30).
        let first = self.left.min(self.columns.len().saturating_sub(1));
        let cols: Vec<usize> = (first..self.columns.len()).take(12).collect();
        let names: Vec<&str> = cols
            .iter()
            .map(|c| self.columns[*c].name.as_str())
            .collect();
        body.push_str(&names.join("\t"));
        let end = (self.top + self.page.clamp(1, 30)).min(self.known);
        let mut shown = 0;
        for r in self.top..end {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match self.cell(r, *c) {
                    Some(Some(v)) => v.replace(['\t', '\n'], " "),
                    Some(None) => "NULL".into(),
                    None => "?".into(),
                })
                .collect();
            body.push('\n');
            body.push_str(&cells.join("\t"));
            shown += 1;
        }
        let total = self
            .total
            .map(|t| t.to_string())
            .unwrap_or_else(|| format!("{}+", self.known));
        Some(crate::llm::Attachment {
            title: format!(
                "grid {} ({} columns, rows {}-{} of {total})",
                src.label(),
                self.columns.len(),
                self.top + 1,
                self.top + shown
            ),
            body,
        })
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::Pane { .. } => match GridVerb::of(a) {
                Some((verb, arg)) => self.pane_action(verb, arg, cx),
                None => Outcome::Ignored,
            },
            Action::Refresh => {
                self.load(cx);
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, _k: &KeyEvent, _cx: &mut Cx) -> Outcome {
        Outcome::Ignored
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Data(DataEvent::Lost { why }) => {
                if self.busy.is_some() || self.result.is_some() {
                    self.on_data(DataEvent::Lost { why }, cx)
                } else {
                    Outcome::Ignored
                }
            }
            EngineEvent::Data(d) => self.on_data(d, cx),
            EngineEvent::ShowQuery { sql, dialect } => {
                self.source = Some(Source::Query { sql, dialect });
                self.view = View::default();
                self.col = 0;
                self.left = 0;
                self.marked = None;
                self.load(cx);
                Outcome::Consumed
            }
            EngineEvent::OpenSource(source) if self.source.is_none() => {
                *self = GridPane::with_source(source, View::default());
                cx.dirty = true;
                self.on_action(&Action::Refresh, cx);
                Outcome::Consumed
            }
            EngineEvent::Ready => {
                if self.pending_load {
                    self.load(cx);
                }
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        if area.height < 2 || area.width < 4 {
            return;
        }
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        let body = Rect {
            height: area.height - 1,
            ..area
        };
        let foot = Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        };
        Paragraph::new(self.footer(t)).render(foot, buf);
        if let Some(e) = &self.error {
            // DuckDB's messages run over lines (candidate functions, a caret under the SQL):
            // each is a line here, tabs as spaces, never a control character drawn raw.
            let mut text = vec![Line::from(Span::styled(
                "Could not load",
                Style::new().fg(t.error).add_modifier(Modifier::BOLD),
            ))];
            for l in e.lines() {
                let l: String = l
                    .replace('\t', "    ")
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect();
                text.push(Line::from(Span::styled(l, Style::new().fg(t.error))));
            }
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .render(body, buf);
            return;
        }
        if self.columns.is_empty() {
            let text = match &self.source {
                None if self.message.is_some() => vec![Line::from(Span::styled(
                    self.message.clone().unwrap_or_default(),
                    Style::new().fg(t.ok),
                ))],
                None => vec![
                    Line::from(Span::styled("No data yet.", t.heading())),
                    Line::from(Span::styled(
                        "Open a file: palette (C-b :) → open-file, or `fieldkit open PATH`.",
                        t.muted(),
                    )),
                    Line::from(Span::styled(
                        "Or run a query from a SQL editor (open sql).",
                        t.muted(),
                    )),
                ],
                Some(s) => vec![Line::from(Span::styled(
                    format!("loading {}…", s.label()),
                    t.muted(),
                ))],
            };
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .render(body, buf);
            return;
        }
        self.page = body.height.saturating_sub(2).max(1) as u64;
        let last = self.total.unwrap_or(self.known).max(1);
        let gutter = TableView::gutter_width(last);
        self.cols_shown =
            TableView::columns_fitting(&self.widths, self.left, body.width.saturating_sub(gutter));
        self.clamp();
        let cols: Vec<(String, String)> = self
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        let end = (self.top + self.page).min(self.known);
        let rows: Vec<u64> = (self.top..end).collect();
        let cell = |r: u64, c: usize| self.cell(r, c).map(|v| v.as_deref());
        let sort_col = self
            .view
            .sort
            .as_ref()
            .and_then(|(c, _)| self.columns.iter().position(|x| &x.name == c));
        TableView {
            columns: &cols,
            widths: &self.widths,
            left: self.left,
            rows: &rows,
            cell: &cell,
            cursor: Some(((self.row - self.top) as usize, self.col)),
            marked: self.marked.or(sort_col),
            theme: t,
            ascii: false,
        }
        .render(body, buf, last);
        if let Some(o) = &self.overlay {
            let w = body.width.saturating_sub(4).max(10).min(body.width);
            let h = body.height.saturating_sub(2).max(3).min(body.height);
            let r = Rect {
                x: body.x + (body.width - w) / 2,
                y: body.y + (body.height - h) / 2,
                width: w,
                height: h,
            };
            ratatui::widgets::Clear.render(r, buf);
            self.render_overlay(o, r, buf, t);
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        match &self.overlay {
            Some(Overlay::Table { counts, .. }) => {
                out.push(Hint::new("j k", "row"));
                out.push(Hint::new("h l", "columns"));
                if counts.is_some() {
                    out.push(Hint::new("Enter", "filter to this value"));
                }
                out.push(Hint::new("Esc", "close"));
                return crate::Hints::Alone;
            }
            Some(Overlay::Inspect { .. }) => {
                out.push(Hint::new("j k", "scroll"));
                out.push(Hint::new("Esc", "close"));
                return crate::Hints::Alone;
            }
            Some(Overlay::Plot(_)) => {
                out.push(Hint::new("Esc", "close"));
                return crate::Hints::Alone;
            }
            None => {}
        }
        if self.busy.is_some() {
            out.push(Hint::new("Esc", "cancel"));
        }
        crate::Hints::WithKeymap
    }

    fn busy(&self) -> Option<String> {
        self.busy
            .as_ref()
            .map(|(what, _)| format!("The grid is {what}."))
    }

    fn save(&self) -> PaneState {
        PaneState::Grid {
            source: self.source.clone(),
            view: self.view.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
