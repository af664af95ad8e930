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

/// Rows per fetched block.
pub const BLOCK: u64 = 200;
/// Columns per fetched block: a result 10,000 columns wide is fetched a slice at a time.
pub const COL_BLOCK: usize = 64;
/// Blocks kept on each side of the view; the rest are dropped.
const KEEP_BLOCKS: u64 = 3;

#[derive(Debug, Clone, PartialEq)]
enum Overlay {
    /// Stats or a frequency table.
    Table {
        title: String,
        columns: Vec<Column>,
        rows: Vec<Vec<Cell>>,
        top: usize,
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

    /// Starts (again) from the source: a new query, a new result, an empty cache.
    pub fn load(&mut self, cx: &mut Cx) {
        let Some(source) = self.source.clone() else {
            return;
        };
        if let Some(r) = self.result.take() {
            Self::data(cx, DataRequest::Forget { result: r });
        }
        self.pending_load = false;
        self.seq += 1;
        self.blocks.clear();
        self.asked.clear();
        self.total = None;
        self.known = 0;
        self.error = None;
        self.overlay = None;
        self.row = 0;
        self.top = 0;
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
                Overlay::Table { top, rows, .. } => {
                    let max = rows.len().saturating_sub(1);
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
            Action::Pane { name, arg } => self.pane_action(name, arg.as_deref(), cx),
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
            let text = vec![
                Line::from(Span::styled(
                    "Could not load",
                    Style::new().fg(t.error).add_modifier(Modifier::BOLD),
                )),
                Line::from(Span::styled(e.clone(), Style::new().fg(t.error))),
            ];
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

    fn hints(&self, out: &mut Vec<Hint>) {
        if self.overlay.is_some() {
            out.push(Hint::new("Esc", "close"));
        } else if self.busy.is_some() {
            out.push(Hint::new("Esc", "cancel"));
        }
    }

    fn save(&self) -> PaneState {
        PaneState::Grid {
            source: self.source.clone(),
            view: self.view.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{settings, snapshot};

    #[test]
    fn an_empty_grid_takes_a_file_and_a_loaded_one_does_not() {
        let csv = Source::File("/data/trips.csv".into());
        let mut empty = GridPane::new();
        let mut cx = Cx::default();
        let out = empty.on_engine(EngineEvent::OpenSource(csv.clone()), &mut cx);
        assert_eq!(out, Outcome::Consumed);
        assert_eq!(empty.source(), Some(&csv));
        assert!(
            cx.effects.iter().any(|e| matches!(
                e,
                Effect::Engine(EngineRequest::Data(DataRequest::Load { .. }))
            )),
            "it asks the worker to load: {:?}",
            cx.effects
        );
        let other = Source::File("/data/other.csv".into());
        let mut cx = Cx::default();
        assert_eq!(
            empty.on_engine(EngineEvent::OpenSource(other), &mut cx),
            Outcome::Ignored
        );
        assert_eq!(empty.source(), Some(&csv), "what it shows stays");
        assert!(cx.effects.is_empty());
    }

    fn act(p: &mut GridPane, a: &str) -> Cx {
        let mut cx = Cx::default();
        p.on_action(&Action::parse(a).expect("action"), &mut cx);
        cx
    }

    fn requests(cx: &Cx) -> Vec<DataRequest> {
        cx.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Engine(EngineRequest::Data(r)) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn cols() -> Vec<Column> {
        vec![
            Column {
                name: "id".into(),
                ty: "BIGINT".into(),
            },
            Column {
                name: "city".into(),
                ty: "VARCHAR".into(),
            },
            Column {
                name: "fare".into(),
                ty: "DOUBLE".into(),
            },
            Column {
                name: "note".into(),
                ty: "VARCHAR".into(),
            },
        ]
    }

    fn row(i: u64) -> Vec<Cell> {
        let cities = ["Oslo", "Lima", "Pune", "Kyiv"];
        vec![
            Some(i.to_string()),
            Some(cities[(i % 4) as usize].to_string()),
            Some(format!("{:.2}", (i as f64) * 1.25)),
            if i.is_multiple_of(5) {
                None
            } else {
                Some(format!("{{\"k\": {i}}}"))
            },
        ]
    }

    /// A grid over `n` rows, every request answered as the worker would.
    fn loaded(n: u64) -> GridPane {
        let mut p = GridPane::with_source(Source::File("/data/trips.csv".into()), View::default());
        let mut cx = Cx::default();
        p.on_engine(EngineEvent::Ready, &mut cx);
        let seq = p.seq;
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 7,
                columns: cols(),
                rows: Some(n),
                notes: vec![],
            }),
            &mut cx,
        );
        answer(&mut p, &cx);
        p
    }

    fn answer(p: &mut GridPane, cx: &Cx) {
        for r in requests(cx) {
            if let DataRequest::Rows {
                seq,
                result,
                offset,
                limit,
                first_col,
                cols,
            } = r
            {
                let total = p.total.unwrap_or(p.known);
                let rows = (offset..(offset + limit as u64).min(total))
                    .map(|i| {
                        row(i)
                            .into_iter()
                            .skip(first_col as usize)
                            .take(cols as usize)
                            .collect()
                    })
                    .collect();
                let mut cx2 = Cx::default();
                p.on_engine(
                    EngineEvent::Data(DataEvent::Rows {
                        seq,
                        result,
                        offset,
                        first_col,
                        rows,
                    }),
                    &mut cx2,
                );
            }
        }
    }

    #[test]
    fn only_windows_near_the_view_are_fetched_and_kept() {
        let mut p = loaded(100_000_000);
        snapshot(&mut p, 80, 24);
        let cx = act(&mut p, "move bottom");
        let asked = requests(&cx);
        assert_eq!(
            asked,
            vec![DataRequest::Rows {
                seq: p.seq,
                result: 7,
                offset: 99_999_800,
                limit: 200,
                first_col: 0,
                cols: 4,
            }]
        );
        answer(&mut p, &cx);
        assert_eq!(p.row, 99_999_999);
        // Far blocks are dropped: memory does not grow with the result.
        assert!(
            p.blocks.len() <= 2 * KEEP_BLOCKS as usize + 2,
            "{:?}",
            p.blocks.keys()
        );
        assert!(!p.blocks.contains_key(&(0, 0)));
    }

    #[test]
    fn a_wide_result_is_fetched_a_block_of_columns_at_a_time() {
        let mut p = GridPane::with_source(Source::Table("wide".into()), View::default());
        let mut cx = Cx::default();
        p.on_engine(EngineEvent::Ready, &mut cx);
        let columns: Vec<Column> = (0..10_000)
            .map(|i| Column {
                name: format!("c{i}"),
                ty: "BIGINT".into(),
            })
            .collect();
        let seq = p.seq;
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 1,
                columns,
                rows: Some(2),
                notes: vec![],
            }),
            &mut cx,
        );
        let asked = requests(&cx);
        assert!(
            matches!(
                &asked[..],
                [DataRequest::Rows {
                    first_col: 0,
                    cols: 64,
                    ..
                }]
            ),
            "{asked:?}"
        );
        snapshot(&mut p, 80, 24);
        let cx = act(&mut p, "move end");
        let asked = requests(&cx);
        assert!(
            matches!(
                &asked[..],
                [DataRequest::Rows {
                    first_col: 9984,
                    cols: 16,
                    ..
                }]
            ),
            "{asked:?}"
        );
    }

    #[test]
    fn its_context_is_the_schema_and_the_rows_on_screen() {
        let mut p = loaded(1000);
        snapshot(&mut p, 80, 12);
        let a = p.context().expect("a loaded grid has context");
        assert_eq!(a.title, "grid trips.csv (4 columns, rows 1-9 of 1000)");
        let lines: Vec<&str> = a.body.lines().collect();
        assert!(
            lines[0].starts_with("columns: id BIGINT, city VARCHAR, fare DOUBLE"),
            "{}",
            a.body
        );
        assert!(lines[1].starts_with("id\tcity\tfare\t"), "{}", a.body);
        assert_eq!(lines[2], "0\tOslo\t0.00\tNULL");
        assert_eq!(lines.len(), 2 + 9);
        assert!(GridPane::new().context().is_none());
    }

    #[test]
    fn stale_answers_are_dropped() {
        let mut p = loaded(10);
        let old = p.seq;
        act(&mut p, "sort desc");
        assert_eq!(p.seq, old + 1);
        let mut cx = Cx::default();
        let out = p.on_engine(
            EngineEvent::Data(DataEvent::Rows {
                seq: old,
                result: 7,
                offset: 0,
                first_col: 0,
                rows: vec![row(99)],
            }),
            &mut cx,
        );
        assert_eq!(out, Outcome::Ignored);
    }

    #[test]
    fn sort_filter_and_cell_filter_are_queries() {
        let mut p = loaded(10);
        act(&mut p, "move right");
        let cx = act(&mut p, "sort desc");
        let loads: Vec<View> = requests(&cx)
            .into_iter()
            .filter_map(|r| match r {
                DataRequest::Load { view, .. } => Some(view),
                _ => None,
            })
            .collect();
        assert_eq!(
            loads,
            vec![View {
                filter: None,
                sort: Some(("city".into(), true))
            }]
        );
        // The same sort again turns it off.
        let _ = act(&mut p, "sort desc");
        assert_eq!(p.view.sort, None);
        let seq = p.seq;
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 8,
                columns: cols(),
                rows: Some(10),
                notes: vec![],
            }),
            &mut cx,
        );
        answer(&mut p, &cx);
        act(&mut p, "move down");
        act(&mut p, "filter-cell");
        assert_eq!(p.view.filter.as_deref(), Some("\"city\" = 'Lima'"));
        let cx = act(&mut p, "filter");
        assert!(
            matches!(&cx.effects[..], [Effect::Ui(UiCommand::Prompt { initial, then, on_empty, .. })] if initial == "\"city\" = 'Lima'" && then == "filter" && on_empty.as_deref() == Some("filter-clear"))
        );
        let cx = act(&mut p, "filter-clear");
        assert_eq!(p.view.filter, None);
        assert!(
            matches!(&requests(&cx)[..], [.., DataRequest::Load { view, .. }] if view == &View::default())
        );
    }

    #[test]
    fn copy_row_is_tab_separated_and_null_is_empty() {
        let mut p = loaded(10);
        let cx = act(&mut p, "copy-row");
        assert_eq!(
            cx.effects,
            vec![Effect::Ui(UiCommand::Clipboard("0\tOslo\t0.00\t".into()))]
        );
    }

    #[test]
    fn snapshots() {
        settings().bind(|| {
            let mut p = loaded(1_234_567);
            insta::assert_snapshot!("grid_plain_80x24", snapshot(&mut p, 80, 24));
            insta::assert_snapshot!("grid_plain_160x40", snapshot(&mut p, 160, 40));
            act(&mut p, "move right");
            act(&mut p, "move right");
            let cx = act(&mut p, "sort desc");
            assert!(!requests(&cx).is_empty());
            let seq = p.seq;
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Loaded { seq, result: 9, columns: cols(), rows: Some(1_234_567), notes: vec![] }), &mut cx);
            answer(&mut p, &cx);
            insta::assert_snapshot!("grid_sorted_80x24", snapshot(&mut p, 80, 24));
            act(&mut p, "filter fare > 100 and city <> 'Oslo'");
            let seq = p.seq;
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Loaded { seq, result: 10, columns: cols(), rows: Some(4321), notes: vec!["3 bad rows skipped; first at line 17: Expected Number of Columns: 4 Found: 5".into()] }), &mut cx);
            answer(&mut p, &cx);
            insta::assert_snapshot!("grid_filtered_80x24", snapshot(&mut p, 80, 24));
            let seq = p.seq;
            let stats_cols: Vec<Column> = ["column_name", "column_type", "min", "max", "approx_unique", "avg", "null_percentage"]
                .iter()
                .map(|n| Column { name: n.to_string(), ty: "VARCHAR".into() })
                .collect();
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Table {
                seq,
                title: "column statistics (SUMMARIZE)".into(),
                columns: stats_cols,
                rows: vec![
                    vec![Some("id".into()), Some("BIGINT".into()), Some("0".into()), Some("1234566".into()), Some("1201344".into()), Some("617283.0".into()), Some("0.00".into())],
                    vec![Some("fare".into()), Some("DOUBLE".into()), Some("0.0".into()), Some("1543207.5".into()), Some("1190031".into()), Some("771603.75".into()), Some("0.00".into())],
                ],
            }), &mut cx);
            insta::assert_snapshot!("grid_stats_80x24", snapshot(&mut p, 80, 24));
            act(&mut p, "cancel");
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Histogram { column: "fare".into(), bins: (0..12).map(|i| (i as f64 * 10.0, (i + 1) as f64 * 10.0, [3, 8, 15, 30, 42, 51, 44, 31, 18, 9, 4, 1][i])).collect() },
            }), &mut cx);
            insta::assert_snapshot!("grid_plot_histogram_80x24", snapshot(&mut p, 80, 24));
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Bars { column: "city".into(), bars: vec![("Oslo".into(), 420), ("Lima".into(), 300), ("Pune".into(), 120), ("Kyiv".into(), 33)] },
            }), &mut cx);
            insta::assert_snapshot!("grid_plot_bars_80x24", snapshot(&mut p, 80, 24));
            let mut cx = Cx::default();
            p.on_engine(EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Line { x: "id".into(), y: "fare".into(), points: (0..50).map(|i| (i as f64, ((i as f64) / 6.0).sin() * 10.0 + 20.0)).collect() },
            }), &mut cx);
            insta::assert_snapshot!("grid_plot_line_160x40", snapshot(&mut p, 160, 40));
            act(&mut p, "cancel");
            act(&mut p, "move right");
            act(&mut p, "inspect");
            insta::assert_snapshot!("grid_inspect_80x24", snapshot(&mut p, 80, 24));
            let mut e = GridPane::with_source(Source::File("/data/bad.bin".into()), View::default());
            let mut cx = Cx::default();
            e.on_engine(EngineEvent::Ready, &mut cx);
            let seq = e.seq;
            e.on_engine(EngineEvent::Data(DataEvent::Error { seq, message: "/data/bad.bin looks binary (it has NUL bytes), not like CSV or JSON text".into(), line: None, column: None }), &mut cx);
            insta::assert_snapshot!("grid_error_80x24", snapshot(&mut e, 80, 24));
            let mut l = GridPane::with_source(Source::File("/data/big.csv".into()), View::default());
            l.on_engine(EngineEvent::Ready, &mut cx);
            let seq = l.seq;
            let mut cx = Cx::default();
            l.on_engine(EngineEvent::Data(DataEvent::Loaded { seq, result: 3, columns: cols(), rows: None, notes: vec![] }), &mut cx);
            answer(&mut l, &cx);
            l.on_engine(EngineEvent::Data(DataEvent::Progress { seq, what: "loading big.csv".into(), pct: Some(42.0) }), &mut cx);
            insta::assert_snapshot!("grid_loading_80x24", snapshot(&mut l, 80, 24));
            insta::assert_snapshot!("grid_empty_80x24", snapshot(&mut GridPane::new(), 80, 24));
        });
    }

    #[test]
    fn json_cells_are_pretty_printed_and_others_kept() {
        assert_eq!(pretty("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("{not json"), "{not json");
    }
}
