/*!
The code editor pane (`open editor`, `edit PATH`, `fieldkit edit PATH`): micro's keys by
default, every one of them a verb of the `editor` keymap scope, over a rope (`buffer`).

Drawing touches only what is on screen: the lines from the top one down, and of each line only
the columns in view (a rope slice is O(log n) to take), so a 100 MB file or a single line of
8 million characters scrolls and edits at the same cost as a small one. Search and replace run
a regex over the rope's chunks (regex-cursor, as helix does), never over a copy of the text.
Syntax highlighting (by the file's extension) parses only the lines on screen, and of a long
line only the part on screen, and is kept until the text or the view changes.

The pane never touches the disk: it asks the server to open a file (the text comes back as a
rope, which crosses by reference) and to save one (atomically, by the rules in
`engine::text`); a save that fails leaves the buffer as it was, marked unsaved, with the reason.
*/

pub mod buffer;
mod msg;
#[cfg(test)]
mod tests;

pub use buffer::{Doc, Finder, Query, Sel};
pub use msg::*;

use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx, UiCommand,
};
use crossterm::event::{KeyCode, KeyModifiers};
use fieldkit_widgets::code::{highlight, syntax_for, Token};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ropey::Rope;
use std::borrow::Cow;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

crate::verbs! {
    /// What the editor does itself.
    pub enum EditorVerb {
        Save = ("save", "", "Editor: save (atomically; again after a refusal to overwrite)"),
        SaveAs = ("save-as", "[PATH]", "Editor: save to another file"),
        Undo = ("undo", "", "Editor: undo"),
        Redo = ("redo", "", "Editor: redo"),
        Find = ("find", "", "Editor: find (Alt-r regex, Alt-w whole word, Alt-c case)"),
        FindNext = ("find-next", "", "Editor: next match"),
        FindPrev = ("find-prev", "", "Editor: previous match"),
        Replace = ("replace", "", "Editor: find and replace (Alt-a replaces all)"),
        GotoLine = ("goto-line", "[N]", "Editor: go to line N"),
        SelectAll = ("select-all", "", "Editor: select all"),
        Copy = ("copy", "", "Editor: copy the selection (paste buffer and clipboard)"),
        Cut = ("cut", "", "Editor: cut the selection"),
        Paste = ("paste", "", "Editor: paste the paste buffer"),
        Wrap = ("soft-wrap", "", "Editor: soft wrap on or off"),
        NextBuffer = ("next-buffer", "", "Editor: the next open file"),
        PrevBuffer = ("prev-buffer", "", "Editor: the previous open file"),
        CloseBuffer = ("close-buffer", "", "Editor: close this file (asks if unsaved)"),
        Reload = ("reload", "", "Editor: read the file again from disk"),
    }
}

pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Editor,
    all_keys: false,
    actions: EditorVerb::CATALOGUE,
    engines: &[crate::Engine::Editor],
    fresh: |_| Box::new(EditorPane::default()),
    restore: |st| match st {
        PaneState::Editor { files, active } => Some(Box::new(EditorPane::restored(files, *active))),
        _ => None,
    },
};

/// Spaces a Tab inserts, and a tab character's width on screen.
const TAB: usize = 4;
/// Matches highlighted on screen are looked for in the visible text only; a replace-all
/// changes at most this many.
const MAX_REPLACE: usize = 5_000_000;
/// A line longer than this is searched for the matches to show only around the part of it on
/// screen: a line of 8 million characters is never searched whole to draw a frame.
const LONG_LINE: usize = 10_000;
/// How far around the part of a long line on screen a match to show is looked for.
const LONG_MARGIN: usize = 256;
/// A line up to this long is highlighted whole; of a longer one only its rows on screen are
/// parsed (each as a line, apart from the lines around), so that a line of 8 million chars
/// is never parsed whole. Kept small because syntect's time per char grows with the length
/// of the token it is in (a 900-char string costs some 40 ms, a 5,000-char word some 100 ms),
/// and a long line is often one token): a screen of 120-char strings costs some 30 ms. No
/// clock decides what is coloured, so a frame looks the same on a busy machine.
const WHOLE_LINE: usize = 120;
/// The chars highlighted for one screen: enough for 40 rows of 200 (syntect with fancy-regex
/// parses code at about 0.4 MB a second: some 25 ms); rows past it are drawn plain.
const HL_BUDGET: usize = 10_000;
/// How much of a long line left of the part on screen is parsed too, so that a token which
/// starts off screen is mostly coloured right.
const HL_MARGIN: usize = 64;

/// One open file (or a scratch buffer without a path).
#[derive(Debug, Default)]
pub struct Buf {
    pub path: Option<String>,
    pub doc: Doc,
    crlf: bool,
    stamp: Option<FileStamp>,
    read_only: Option<String>,
    /// First line shown, the first row of it shown (soft wrap), first column shown (no wrap).
    top: usize,
    top_row: usize,
    left: usize,
    /// Waiting for the server's answer to an open.
    loading: bool,
    /// The last save was refused because the file changed on disk: the next save overwrites.
    force_next: bool,
    saving: bool,
    /// The version the save in flight wrote: `Saved` marks the buffer saved at it (typing
    /// since is still unsaved).
    saving_version: u64,
    /// Opened again after a restart: its arrival does not switch to it.
    restoring: bool,
    /// Read again on `reload`: its arrival replaces the text, unsaved or not.
    reloading: bool,
    /// The version last handed to the server to keep (crash safety).
    kept_version: Option<u64>,
}

impl Buf {
    fn name(&self) -> String {
        match &self.path {
            Some(p) => std::path::Path::new(p)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.clone()),
            None => "[scratch]".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Bar {
    None,
    Find {
        replace: Option<String>,
        /// Which field takes typing: 0 find, 1 replace.
        field: usize,
        error: Option<String>,
    },
}

#[derive(Debug)]
pub struct EditorPane {
    bufs: Vec<Buf>,
    active: usize,
    wrap: bool,
    query: Query,
    bar: Bar,
    note: Option<String>,
    /// The text area's size at the last render (for paging and keeping the cursor in view).
    view: (u16, u16),
    /// Files to ask for when the pane is opened (restored after a restart).
    pending: Vec<String>,
    /// A close (or reload) of an unsaved buffer was asked once: the same verb next does it.
    armed: Option<EditorVerb>,
    /// The highlighting of the lines last drawn, kept while neither they nor the text change.
    hl: Option<Highlights>,
    /// The sum of the buffers' versions the server was last told of (`notice_change`).
    seen_version: u64,
    /// Told it is open once (kept text is asked for then).
    greeted: bool,
}

/// One screen row of text: which line, which row of it (soft wrap), which of its columns.
#[derive(Debug, Clone, Copy)]
struct Row {
    line: usize,
    /// The line's first char index, and its length without the line break.
    start: usize,
    len: usize,
    /// The row of the line (0 without soft wrap).
    r: usize,
    /// The line's columns (chars) the row shows at most.
    c0: usize,
    c1: usize,
}

/// A text to highlight: a line, its first and end column, and whether that is the whole line.
type Seg = (usize, usize, usize, bool);

/// The tokens of the lines on screen: for each, the line, the column its tokens start at and
/// one token per char from there.
#[derive(Debug)]
struct Highlights {
    /// The buffer, its version, its language and the parts of lines highlighted.
    key: (usize, u64, String, Vec<Seg>),
    lines: Vec<(usize, usize, Vec<Token>)>,
}

/// The language a buffer's file is in, by its extension (or name: `Makefile`); `None` for
/// plain text, which is not highlighted.
fn lang_of(b: &Buf) -> Option<String> {
    let p = std::path::Path::new(b.path.as_deref()?);
    let lang = p.extension().or_else(|| p.file_name())?.to_string_lossy();
    (syntax_for(&lang).name != "Plain Text").then(|| lang.into_owned())
}

/// One token per char of `text`, from the byte ranges `highlight` gives.
fn per_char(text: &str, spans: &[(std::ops::Range<usize>, Token)]) -> Vec<Token> {
    let mut out = Vec::with_capacity(text.len());
    let mut k = 0;
    for (at, _) in text.char_indices() {
        while spans.get(k).is_some_and(|(r, _)| r.end <= at) {
            k += 1;
        }
        out.push(
            spans
                .get(k)
                .filter(|(r, _)| r.contains(&at))
                .map_or(Token::Plain, |(_, t)| *t),
        );
    }
    out
}

/// The matches of `q` in what `rows` show (char ranges, in order). A short line is searched
/// whole, with its line break (a match may run on to the next); a long one only around its
/// part on screen. Lines next to each other are searched as one text.
fn visible_matches(q: &Query, rope: &Rope, rows: &[Row]) -> Vec<std::ops::Range<usize>> {
    let Ok(f) = Finder::new(q) else {
        return Vec::new();
    };
    let mut windows: Vec<std::ops::Range<usize>> = Vec::new();
    for row in rows {
        let w = if row.len <= LONG_LINE {
            row.start..row.start + row.len + 1
        } else {
            row.start + row.c0.saturating_sub(LONG_MARGIN)
                ..row.start + (row.c1 + LONG_MARGIN).min(row.len)
        };
        match windows.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => windows.push(w),
        }
    }
    windows
        .into_iter()
        .flat_map(|w| f.within(rope, w, 2_000))
        .collect()
}

impl Default for EditorPane {
    fn default() -> Self {
        EditorPane {
            bufs: vec![Buf::default()],
            active: 0,
            wrap: false,
            query: Query::default(),
            bar: Bar::None,
            note: None,
            view: (80, 20),
            pending: Vec::new(),
            armed: None,
            hl: None,
            seen_version: 0,
            greeted: false,
        }
    }
}

impl EditorPane {
    pub fn restored(files: &[String], active: usize) -> EditorPane {
        let mut p = EditorPane {
            pending: files.to_vec(),
            ..Default::default()
        };
        p.active = active;
        p
    }

    fn buf(&self) -> &Buf {
        &self.bufs[self.active.min(self.bufs.len() - 1)]
    }

    fn buf_mut(&mut self) -> &mut Buf {
        let i = self.active.min(self.bufs.len() - 1);
        &mut self.bufs[i]
    }

    /// The text of the active buffer (for tests and the chat's context).
    pub fn text(&self) -> String {
        self.buf().doc.rope.to_string()
    }

    fn ask(cx: &mut Cx, r: EditorRequest) {
        cx.push(Effect::Engine(EngineRequest::Editor(r)));
    }

    fn save(&mut self, cx: &mut Cx, path: Option<String>) {
        let b = self.buf_mut();
        let to = match path.or_else(|| b.path.clone()) {
            Some(p) => p,
            None => {
                cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "save as".into(),
                    initial: String::new(),
                    then: "save-as".into(),
                    on_empty: None,
                }));
                return;
            }
        };
        if let (Some(why), true) = (&b.read_only, Some(&to) == b.path.as_ref()) {
            self.note = Some(format!("{why}: save-as saves elsewhere"));
            return;
        }
        let same = Some(&to) == b.path.as_ref();
        b.saving = true;
        b.saving_version = b.doc.version;
        let force = b.force_next && same;
        b.force_next = false;
        let req = EditorRequest::Save {
            path: to,
            text: b.doc.rope.clone(),
            crlf: b.crlf,
            stamp: if same { b.stamp } else { None },
            force,
        };
        b.doc.break_typing();
        Self::ask(cx, req);
    }

    /// The rows of text on screen, from the top: `h` at most, of `tw` columns.
    fn rows(&self, h: usize, tw: usize) -> Vec<Row> {
        let b = self.buf();
        let d = &b.doc;
        let n = d.rope.len_lines();
        let mut out = Vec::with_capacity(h);
        let mut line = b.top;
        let mut first = if self.wrap { b.top_row } else { 0 };
        while out.len() < h && line < n {
            let len = d.line_len(line);
            let start = d.rope.line_to_char(line);
            let rows_of_line = if self.wrap { len / tw.max(1) + 1 } else { 1 };
            for r in first..rows_of_line {
                if out.len() >= h {
                    break;
                }
                let (c0, c1) = if self.wrap {
                    (r * tw, ((r + 1) * tw).min(len))
                } else {
                    (b.left.min(len), (b.left + tw).min(len))
                };
                out.push(Row {
                    line,
                    start,
                    len,
                    r,
                    c0,
                    c1,
                });
            }
            first = 0;
            line += 1;
        }
        out
    }

    /// Highlights what `rows` show (unless it already is): each line whole, but a long one only
    /// around its part on screen.
    fn highlight_rows(&mut self, rows: &[Row]) {
        let b = self.buf();
        let Some(lang) = lang_of(b) else {
            self.hl = None;
            return;
        };
        // (line, first col, end col, whole) of each text to parse: a short line whole, each
        // row of a long one on its own; what is past the budget is drawn plain.
        let mut segs: Vec<Seg> = Vec::new();
        let mut budget = HL_BUDGET;
        for row in rows {
            if segs.last().is_some_and(|s| s.0 == row.line && s.3) {
                continue;
            }
            let seg = if row.len <= WHOLE_LINE {
                (row.line, 0, row.len, true)
            } else if segs.last().is_some_and(|s| s.0 == row.line) {
                // The next row of a wrapped line: parsed after the row before.
                (row.line, row.c0, row.c1, false)
            } else {
                (row.line, row.c0.saturating_sub(HL_MARGIN), row.c1, false)
            };
            let Some(left) = budget.checked_sub(seg.2 - seg.1) else {
                break;
            };
            budget = left;
            segs.push(seg);
        }
        let key = (self.active, b.doc.version, lang, segs);
        if self.hl.as_ref().is_some_and(|h| h.key == key) {
            return;
        }
        let d = &b.doc;
        let text_of = |&(l, from, to, _): &Seg| {
            let start = d.rope.line_to_char(l);
            d.rope.slice(start + from..start + to).to_string()
        };
        // Whole lines next to each other are parsed together (a comment or string may run on
        // from one to the next), and so are the rows of a long line, each as a line (a token
        // costs the square of its length: a row's at most); but a long line apart from the
        // lines around it, so that a string its part on screen cuts off does not run on.
        let mut lines = Vec::with_capacity(key.3.len());
        let mut i = 0;
        while i < key.3.len() {
            let (line, whole) = (key.3[i].0, key.3[i].3);
            let n = key.3[i..]
                .iter()
                .take_while(|s| s.3 == whole && (whole || s.0 == line))
                .count();
            let run = &key.3[i..i + n];
            let texts: Vec<String> = run.iter().map(text_of).collect();
            let spans = highlight(&key.2, &texts);
            for ((seg, text), sp) in run.iter().zip(&texts).zip(&spans) {
                lines.push((seg.0, seg.1, per_char(text, sp)));
            }
            i += n;
        }
        self.hl = Some(Highlights { key, lines });
    }

    /// Keeps the cursor on screen.
    fn follow(&mut self) {
        let (w, h) = (self.text_width() as usize, self.view.1.max(1) as usize);
        let wrap = self.wrap;
        let b = self.buf_mut();
        let (line, col) = b.doc.line_col(b.doc.sel.head);
        if wrap {
            let w = w.max(1);
            let row = col / w;
            if line < b.top || (line == b.top && row < b.top_row) {
                b.top = line;
                b.top_row = row;
                return;
            }
            // Rows from the top to the cursor, counted only while they fit.
            let mut rows = 0usize;
            let mut l = b.top;
            let mut first = b.top_row;
            while l < line && rows < h {
                rows += (b.doc.line_len(l) / w + 1).saturating_sub(first);
                first = 0;
                l += 1;
            }
            rows += row.saturating_sub(if line == b.top { b.top_row } else { 0 });
            if rows >= h {
                // Put the cursor's row at the bottom: walk back from it.
                let mut need = h - 1;
                let (mut tl, mut tr) = (line, row);
                while need > 0 {
                    if tr > 0 {
                        tr -= 1;
                    } else if tl > 0 {
                        tl -= 1;
                        tr = b.doc.line_len(tl) / w;
                    } else {
                        break;
                    }
                    need -= 1;
                }
                b.top = tl;
                b.top_row = tr;
            }
        } else {
            if line < b.top {
                b.top = line;
            } else if line >= b.top + h {
                b.top = line + 1 - h;
            }
            // No empty rows below the end while there are lines above the top to show.
            b.top = b.top.min(b.doc.rope.len_lines().saturating_sub(h));
            if col < b.left {
                b.left = col;
            } else if col >= b.left + w.max(1) {
                b.left = col + 1 - w.max(1);
            }
        }
    }

    fn gutter(&self) -> u16 {
        let n = self.buf().doc.rope.len_lines();
        (n.to_string().len() as u16).max(3) + 1
    }

    fn text_width(&self) -> u16 {
        self.view.0.saturating_sub(self.gutter())
    }

    /// Up or down `by` lines; with soft wrap, by rows on screen (through a wrapped line).
    fn move_v(&mut self, by: isize, extend: bool) {
        let w = (self.text_width() as usize).max(1);
        let wrap = self.wrap;
        let d = &mut self.buf_mut().doc;
        let (mut line, col) = d.line_col(d.sel.head);
        if !wrap {
            let want = *d.want_col.get_or_insert(col);
            let to = (line as isize + by).clamp(0, d.rope.len_lines() as isize - 1) as usize;
            let i = d.index(to, want);
            d.move_to(i, extend);
            d.want_col = Some(want);
            return;
        }
        // `want` is the column within a row here.
        let want = (*d.want_col.get_or_insert(col % w)).min(w - 1);
        let last = d.rope.len_lines().saturating_sub(1);
        let mut row = col / w;
        for _ in 0..by.unsigned_abs() {
            if by > 0 {
                if row < d.line_len(line) / w {
                    row += 1;
                } else if line < last {
                    line += 1;
                    row = 0;
                } else {
                    break;
                }
            } else if row > 0 {
                row -= 1;
            } else if line > 0 {
                line -= 1;
                row = d.line_len(line) / w;
            } else {
                break;
            }
        }
        let i = d.index(line, row * w + want);
        d.move_to(i, extend);
        d.want_col = Some(want);
    }

    fn move_word(&mut self, right: bool, extend: bool) {
        let d = &mut self.buf_mut().doc;
        let len = d.rope.len_chars();
        let mut i = d.sel.head;
        let word = |c: char| c.is_alphanumeric() || c == '_';
        if right {
            while i < len && !word(d.rope.char(i)) {
                i += 1;
            }
            while i < len && word(d.rope.char(i)) {
                i += 1;
            }
        } else {
            while i > 0 && !word(d.rope.char(i - 1)) {
                i -= 1;
            }
            while i > 0 && word(d.rope.char(i - 1)) {
                i -= 1;
            }
        }
        d.move_to(i, extend);
        d.want_col = None;
    }

    /// Indents (or outdents) the lines of the selection; with no selection, Tab inserts spaces.
    fn indent(&mut self, out: bool) {
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        let (l0, _) = d.line_col(r.start);
        let (mut l1, c1) = d.line_col(r.end);
        if !out && r.is_empty() {
            let (_, col) = d.line_col(r.start);
            let n = TAB - col % TAB;
            d.type_text(&" ".repeat(n));
            return;
        }
        if l1 > l0 && c1 == 0 {
            l1 -= 1;
        }
        let mut edits = Vec::new();
        for l in l0..=l1 {
            let start = d.rope.line_to_char(l);
            if out {
                let n = d
                    .rope
                    .line(l)
                    .chars()
                    .take(TAB)
                    .take_while(|c| *c == ' ')
                    .count();
                let n = if n == 0 && d.rope.line(l).chars().next() == Some('\t') {
                    1
                } else {
                    n
                };
                if n > 0 {
                    edits.push((start..start + n, String::new()));
                }
            } else if d.line_len(l) > 0 {
                edits.push((start..start, " ".repeat(TAB)));
            }
        }
        let removed: usize = edits.iter().map(|(r, _)| r.len()).sum();
        d.replace_many(edits);
        if r.is_empty() {
            // S-Tab on the cursor's line: the cursor stays with its text, nothing selected.
            let start = d.rope.line_to_char(l0);
            d.sel = Sel::at(r.start.saturating_sub(removed).max(start));
        } else {
            // Keep the lines selected.
            let a = d.rope.line_to_char(l0);
            let b = d.index(l1, usize::MAX);
            d.sel = Sel { anchor: a, head: b };
        }
    }

    fn finder(&mut self) -> Option<Finder> {
        match Finder::new(&self.query) {
            Ok(f) => {
                if let Bar::Find { error, .. } = &mut self.bar {
                    *error = None;
                }
                Some(f)
            }
            Err(e) => {
                if let Bar::Find { error, .. } = &mut self.bar {
                    *error = Some(e.clone());
                } else {
                    self.note = Some(e);
                }
                None
            }
        }
    }

    fn find_step(&mut self, forward: bool) {
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        let hit = if forward {
            f.next(&d.rope, if r.is_empty() { r.start } else { r.end })
        } else {
            f.prev(&d.rope, r.start)
        };
        match hit {
            Some((m, wrapped)) => {
                d.sel = Sel {
                    anchor: m.start,
                    head: m.end,
                };
                d.break_typing();
                self.note = wrapped.then(|| "search wrapped".to_string());
            }
            None => self.note = Some(format!("no match for {:?}", self.query.text)),
        }
        self.follow();
    }

    fn replace_one(&mut self) {
        let Bar::Find {
            replace: Some(with),
            ..
        } = &self.bar
        else {
            return;
        };
        let with = with.clone();
        if !self.editable() {
            return;
        }
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        // The selection is a match: replace it, then find the next.
        let hits = f.all(&Rope::from(d.rope.slice(r.clone())), 1);
        if !r.is_empty() && hits.first() == Some(&(0..r.len())) {
            d.replace(r, &with);
        }
        self.find_step(true);
    }

    fn replace_all(&mut self) {
        let Bar::Find {
            replace: Some(with),
            ..
        } = &self.bar
        else {
            return;
        };
        let with = with.clone();
        if !self.editable() {
            return;
        }
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let hits = f.all(&d.rope, MAX_REPLACE);
        let n = hits.len();
        d.replace_many(hits.into_iter().map(|r| (r, with.clone())).collect());
        self.note = Some(if n == 0 {
            format!("no match for {:?}", self.query.text)
        } else {
            format!("replaced {n} (one undo step)")
        });
        self.follow();
    }

    /// Looks again for the query as it now is, from where the selection starts (incremental
    /// search: typing in the find field); a pattern that does not compile says so in the bar.
    fn incremental(&mut self) {
        if self.query.text.is_empty() {
            if let Bar::Find { error, .. } = &mut self.bar {
                *error = None;
            }
            return;
        }
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let start = d.sel.range().start;
        match f.next(&d.rope, start) {
            Some((m, wrapped)) => {
                d.sel = Sel {
                    anchor: m.start,
                    head: m.end,
                };
                d.break_typing();
                self.note = wrapped.then(|| "search wrapped".to_string());
            }
            None => self.note = Some(format!("no match for {:?}", self.query.text)),
        }
        self.follow();
    }

    fn bar_input(&mut self, k: &KeyEvent) -> Outcome {
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let Bar::Find { replace, field, .. } = &mut self.bar else {
            return Outcome::Ignored;
        };
        let in_find = *field == 0;
        match k.code {
            KeyCode::Esc => self.bar = Bar::None,
            KeyCode::Tab | KeyCode::BackTab if replace.is_some() => *field = 1 - *field,
            KeyCode::Char('r') if alt => {
                self.query.regex = !self.query.regex;
                self.incremental();
            }
            KeyCode::Char('w') if alt => {
                self.query.whole_word = !self.query.whole_word;
                self.incremental();
            }
            KeyCode::Char('c') if alt => {
                self.query.case_sensitive = !self.query.case_sensitive;
                self.incremental();
            }
            KeyCode::Char('a') if alt => self.replace_all(),
            KeyCode::Enter if k.modifiers.contains(KeyModifiers::SHIFT) => self.find_step(false),
            KeyCode::Up => self.find_step(false),
            KeyCode::Down => self.find_step(true),
            KeyCode::Enter => {
                if replace.is_some() && !in_find {
                    self.replace_one();
                } else {
                    self.find_step(true);
                }
            }
            KeyCode::Backspace => {
                if in_find {
                    self.query.text.pop();
                    self.incremental();
                } else if let Some(r) = replace {
                    r.pop();
                }
            }
            KeyCode::Char(c) if !ctrl && !alt => {
                if in_find {
                    self.query.text.push(c);
                    self.incremental();
                } else if let Some(r) = replace {
                    r.push(c);
                }
            }
            // Other keys that would type into the text do nothing while the bar has them.
            _ if is_edit(k) || alt => {}
            _ => return Outcome::Ignored,
        }
        Outcome::Consumed
    }

    /// Closes the active buffer; an unsaved one only when `armed` (asked just before).
    fn close_buffer(&mut self, armed: bool) {
        if self.buf().doc.modified() && !armed {
            self.armed = Some(EditorVerb::CloseBuffer);
            self.note = Some(format!(
                "{} has unsaved changes: close-buffer again discards them, C-s saves",
                self.buf().name()
            ));
            return;
        }
        self.hl = None;
        self.bufs.remove(self.active.min(self.bufs.len() - 1));
        if self.bufs.is_empty() {
            self.bufs.push(Buf::default());
        }
        self.active = self.active.min(self.bufs.len() - 1);
    }

    /// Where buffer for `path` is, or a new one (taking the place of an untouched scratch).
    fn slot_for(&mut self, path: &str) -> usize {
        if let Some(i) = self
            .bufs
            .iter()
            .position(|b| b.path.as_deref() == Some(path))
        {
            return i;
        }
        if let Some(i) = self
            .bufs
            .iter()
            .position(|b| b.path.is_none() && !b.doc.modified() && b.doc.rope.len_chars() == 0)
        {
            self.bufs[i].path = Some(path.to_string());
            return i;
        }
        self.bufs.push(Buf {
            path: Some(path.to_string()),
            ..Default::default()
        });
        self.bufs.len() - 1
    }

    fn on_editor(&mut self, ev: EditorEvent, cx: &mut Cx) {
        match ev {
            EditorEvent::Opened {
                path,
                text,
                crlf,
                stamp,
                read_only,
            } => {
                let i = self.slot_for(&path);
                let b = &mut self.bufs[i];
                let restoring = std::mem::take(&mut b.restoring);
                let reloading = std::mem::take(&mut b.reloading);
                if b.doc.modified() && !reloading {
                    self.note = Some(format!(
                        "{} is open with unsaved changes; it was not read again",
                        b.name()
                    ));
                    b.loading = false;
                    self.active = i;
                    return;
                }
                self.hl = None;
                b.doc = Doc::new(text);
                b.crlf = crlf;
                b.stamp = stamp;
                b.read_only = read_only;
                b.loading = false;
                b.top = 0;
                b.left = 0;
                b.top_row = 0;
                if !restoring {
                    self.active = i;
                }
                self.note = match (stamp, &self.bufs[i].read_only) {
                    (None, _) => Some(format!("{path}: a new file")),
                    (_, Some(why)) => Some(format!("read-only: {why}")),
                    _ => None,
                };
            }
            EditorEvent::Refused { path, why } => {
                if let Some(i) = self
                    .bufs
                    .iter()
                    .position(|b| b.path.as_deref() == Some(&path) && b.loading)
                {
                    let b = &mut self.bufs[i];
                    if !b.reloading {
                        // Never read: the buffer goes.
                        self.bufs.remove(i);
                        if self.bufs.is_empty() {
                            self.bufs.push(Buf::default());
                        }
                        if self.active > i {
                            self.active -= 1;
                        }
                        self.active = self.active.min(self.bufs.len() - 1);
                        self.hl = None;
                    } else {
                        // A reload that failed: the text stays as it was.
                        b.loading = false;
                        b.reloading = false;
                    }
                }
                cx.push(Effect::Ui(UiCommand::Message {
                    title: "editor".into(),
                    text: why,
                }));
            }
            EditorEvent::Saved { path, stamp } => {
                let active = self.active;
                for (i, b) in self.bufs.iter_mut().enumerate() {
                    let this = b.path.as_deref() == Some(&path) || (i == active && b.saving);
                    if this && b.saving {
                        b.saving = false;
                        b.path = Some(path.clone());
                        b.stamp = Some(stamp);
                        b.read_only = None;
                        b.doc.saved_at = b.saving_version;
                        self.note = Some(format!("saved {path}"));
                        break;
                    }
                }
            }
            EditorEvent::SaveFailed { path, why, changed } => {
                for b in &mut self.bufs {
                    if b.saving {
                        b.saving = false;
                        if changed && b.path.as_deref() == Some(&path) {
                            b.force_next = true;
                        }
                    }
                }
                cx.push(Effect::Ui(UiCommand::Message {
                    title: "not saved".into(),
                    text: format!(
                        "{why}\n\nYour changes are kept in the editor, unsaved.{}",
                        if changed {
                            " Save again (C-s) to overwrite, reload to read the file again, or save-as."
                        } else {
                            ""
                        }
                    ),
                }));
            }
            EditorEvent::Paste(text) => {
                if !text.is_empty() && self.editable() {
                    self.buf_mut().doc.type_text(&text);
                    self.buf_mut().doc.break_typing();
                    self.follow();
                    self.notice_change(cx);
                }
            }
            EditorEvent::KeepNow => self.keep(cx),
            EditorEvent::Recovered {
                path,
                text,
                crlf,
                stamp,
            } => {
                self.recovered(path, text, crlf, stamp);
                self.follow();
            }
        }
    }

    /// Whether the active buffer may be changed now; when not, the status line says why.
    fn editable(&mut self) -> bool {
        let b = self.buf();
        self.note = match (&b.read_only, b.loading) {
            (Some(why), _) => Some(format!("read-only: {why}")),
            (None, true) => Some("still reading the file".into()),
            (None, false) => return true,
        };
        false
    }

    fn copy(&mut self, cx: &mut Cx, cut: bool) {
        if self.buf().doc.sel.is_empty() {
            self.note = Some("nothing selected (Shift and the arrows select)".into());
            return;
        }
        if cut && !self.editable() {
            return;
        }
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        let text = d.rope.slice(r.clone()).to_string();
        if cut {
            d.replace(r, "");
        }
        cx.push(Effect::Ui(UiCommand::Clipboard(text)));
    }
}

impl Pane for EditorPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Editor
    }

    fn title(&self) -> Cow<'_, str> {
        let b = self.buf();
        let mark = if b.doc.modified() { " [+]" } else { "" };
        let ro = if b.read_only.is_some() {
            " [read-only]"
        } else {
            ""
        };
        Cow::Owned(format!("edit: {}{mark}{ro}", b.name()))
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let o = self.action(a, cx);
        self.notice_change(cx);
        o
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        let o = self.input(k, cx);
        self.notice_change(cx);
        o
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => {
                // Text kept from a crash first (once); files read from disk then, which
                // leave a buffer with recovered text as it is.
                if !self.greeted {
                    self.greeted = true;
                    Self::ask(cx, EditorRequest::Recover);
                }
                for p in std::mem::take(&mut self.pending) {
                    let i = self.slot_for(&p);
                    self.bufs[i].loading = true;
                    self.bufs[i].restoring = true;
                    Self::ask(cx, EditorRequest::Open { path: p });
                }
            }
            EngineEvent::Editor(e) => self.on_editor(e, cx),
            EngineEvent::InsertText(t) => {
                if self.editable() {
                    self.buf_mut().doc.type_text(&t);
                    self.buf_mut().doc.break_typing();
                    self.notice_change(cx);
                }
            }
            _ => return Outcome::Ignored,
        }
        self.follow();
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        if area.width < 8 || area.height < 2 {
            return;
        }
        let mut body = area;
        // Open files, when there are several.
        if self.bufs.len() > 1 {
            let mut x = area.x;
            for (i, b) in self.bufs.iter().enumerate() {
                let label = format!(" {}{} ", b.name(), if b.doc.modified() { "+" } else { "" });
                let style = if i == self.active {
                    Style::new().bg(t.tab_active_bg).fg(t.tab_active_fg)
                } else {
                    Style::new().bg(t.tab_bg).fg(t.tab_fg)
                };
                let room = (area.x + area.width).saturating_sub(x) as usize;
                if room == 0 {
                    break;
                }
                buf.set_stringn(x, area.y, &label, room, style);
                x = x.saturating_add(label.width() as u16);
            }
            body.y += 1;
            body.height -= 1;
        }
        // The bar and the status line at the bottom.
        let bar_h = if self.bar == Bar::None { 0 } else { 1 };
        let status_y = body.y + body.height - 1;
        body.height = body.height.saturating_sub(1 + bar_h);
        if self.view != (body.width, body.height) {
            // A new size: the cursor stays in view.
            self.view = (body.width, body.height);
            self.follow();
        }
        let gutter = self.gutter();
        let tw = body.width.saturating_sub(gutter) as usize;
        let rows = self.rows(body.height as usize, tw);
        self.highlight_rows(&rows);
        let cursor_line_style = Style::new().bg(t.tab_bg);
        let sel_style = Style::new().bg(t.selection_bg).fg(t.selection_fg);
        let match_style = Style::new().bg(t.matched).fg(t.bg);
        let b = &self.bufs[self.active.min(self.bufs.len() - 1)];
        let d = &b.doc;
        let (cur_line, _) = d.line_col(d.sel.head);
        let sel = d.sel.range();
        let bracket = d.matching_bracket(d.sel.head);
        let matches = if self.query.text.is_empty() || self.bar == Bar::None {
            Vec::new()
        } else {
            visible_matches(&self.query, &d.rope, &rows)
        };
        let hl = self.hl.as_ref().map(|h| &h.lines[..]).unwrap_or(&[]);
        // Matches are walked along with the text, which is drawn in order.
        let mut next_match = 0;
        for (y, row) in (body.y..).zip(&rows) {
            let Row {
                line,
                start,
                len: _,
                r,
                c0,
                c1,
            } = *row;
            if r == 0 {
                let num = format!("{:>w$} ", line + 1, w = gutter as usize - 1);
                let style = if line == cur_line {
                    Style::new().fg(t.fg)
                } else {
                    Style::new().fg(t.muted)
                };
                buf.set_stringn(body.x, y, &num, gutter as usize, style);
            }
            if line == cur_line {
                buf.set_style(
                    Rect::new(body.x + gutter, y, tw as u16, 1),
                    cursor_line_style,
                );
            }
            // The tokens of the text the row shows: a few dozen to look through.
            let tokens = hl
                .iter()
                .find(|(l, from, toks)| *l == line && (*from..from + toks.len()).contains(&c0))
                .map(|(_, from, toks)| (*from, &toks[..]));
            let mut x = body.x + gutter;
            let xend = body.x + gutter + tw as u16;
            for (k, ch) in d.rope.slice(start + c0..start + c1).chars().enumerate() {
                let col = c0 + k;
                let i = start + col;
                let (shown, w): (char, u16) = match ch {
                    '\t' => ('→', 1),
                    c if c.is_control() => ('·', 1),
                    c => (c, c.width().unwrap_or(1).max(1) as u16),
                };
                if x + w > xend {
                    break;
                }
                let token = tokens
                    .and_then(|(from, toks)| toks.get(col.checked_sub(from)?))
                    .copied()
                    .unwrap_or(Token::Plain);
                let mut style = if line == cur_line {
                    cursor_line_style
                } else {
                    Style::new()
                }
                .patch(token.style(t));
                if ch == '\t' || ch.is_control() {
                    style = style.fg(t.muted);
                }
                while matches.get(next_match).is_some_and(|m| m.end <= i) {
                    next_match += 1;
                }
                if matches.get(next_match).is_some_and(|m| m.contains(&i)) {
                    style = match_style;
                }
                if sel.contains(&i) {
                    style = sel_style;
                }
                if bracket.is_some_and(|(a, z)| i == a || i == z) {
                    style = style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
                }
                buf.set_string(x, y, shown.to_string(), style);
                x += w;
            }
        }
        // The find bar.
        if let Bar::Find {
            replace,
            field,
            error,
        } = &self.bar
        {
            let y = status_y - 1;
            let flag = |on: bool, s: &str| {
                if on {
                    format!("[{s}]")
                } else {
                    format!(" {s} ")
                }
            };
            let mut text = format!(
                "find: {}{}  {}{}{}",
                self.query.text,
                if *field == 0 { "▏" } else { "" },
                flag(self.query.regex, ".*"),
                flag(self.query.whole_word, "w"),
                flag(self.query.case_sensitive, "Aa"),
            );
            if let Some(r) = replace {
                text.push_str(&format!(
                    "   with: {}{}",
                    r,
                    if *field == 1 { "▏" } else { "" }
                ));
            }
            if let Some(e) = error {
                text.push_str(&format!("   {e}"));
            }
            buf.set_stringn(
                area.x,
                y,
                &text,
                area.width as usize,
                Style::new().bg(t.popup_bg).fg(t.fg),
            );
        }
        // The status line.
        let (l, c) = d.line_col(d.sel.head);
        let mut right = format!(
            "{}:{} of {}{}{}",
            l + 1,
            c + 1,
            d.rope.len_lines(),
            if b.crlf { " · CRLF" } else { "" },
            if self.wrap { " · wrap" } else { "" }
        );
        if !sel.is_empty() {
            right.push_str(&format!(" · {} selected", sel.len()));
        }
        let left = match (&self.note, b.loading, b.saving) {
            (Some(n), _, _) => n.clone(),
            (None, true, _) => "reading…".into(),
            (None, _, true) => "saving…".into(),
            _ => format!(
                "{}{}",
                b.path.clone().unwrap_or_else(|| "[scratch]".into()),
                if d.modified() { " [+] unsaved" } else { "" }
            ),
        };
        let w = area.width as usize;
        let rw = right.chars().count().min(w);
        buf.set_stringn(
            area.x,
            status_y,
            &left,
            w.saturating_sub(rw + 1),
            Style::new().fg(if self.note.is_some() { t.warn } else { t.muted }),
        );
        buf.set_stringn(
            area.x + (w - rw) as u16,
            status_y,
            &right,
            rw,
            Style::new().fg(t.muted),
        );
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        if self.bar != Bar::None {
            return None;
        }
        let b = self.buf();
        let d = &b.doc;
        let top_y = area.y + u16::from(self.bufs.len() > 1);
        let (line, col) = d.line_col(d.sel.head);
        let gutter = self.gutter();
        let tw = self.text_width() as usize;
        let (row, c0) = if self.wrap {
            let w = tw.max(1);
            let mut rows = 0usize;
            let mut l = b.top;
            let mut first = b.top_row;
            while l < line {
                rows += (d.line_len(l) / w + 1).saturating_sub(first);
                first = 0;
                l += 1;
                if rows > self.view.1 as usize {
                    return None;
                }
            }
            let r = col / w;
            (rows + r - if line == b.top { b.top_row } else { 0 }, r * w)
        } else {
            if line < b.top {
                return None;
            }
            (line - b.top, b.left)
        };
        if row >= self.view.1 as usize || col < c0 {
            return None;
        }
        let start = d.rope.line_to_char(line);
        let x: usize = d
            .rope
            .slice(start + c0..start + col)
            .chars()
            .map(|c| {
                if c == '\t' {
                    1
                } else {
                    c.width().unwrap_or(1).max(1)
                }
            })
            .sum();
        if x >= tw {
            return None;
        }
        Some(Position::new(
            area.x + gutter + x as u16,
            top_y + row as u16,
        ))
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        match &self.bar {
            Bar::Find { replace, .. } => {
                out.push(Hint::new("Enter", "next"));
                out.push(Hint::new("S-Enter", "previous"));
                if replace.is_some() {
                    out.push(Hint::new("Tab", "find/with"));
                    out.push(Hint::new("M-a", "replace all"));
                }
                out.push(Hint::new("M-r/M-w/M-c", "regex/word/case"));
                out.push(Hint::new("Esc", "close"));
                crate::Hints::Typing
            }
            Bar::None => crate::Hints::WithKeymap,
        }
    }

    fn busy(&self) -> Option<String> {
        let unsaved: Vec<String> = self
            .bufs
            .iter()
            .filter(|b| b.doc.modified())
            .map(|b| b.name())
            .collect();
        (!unsaved.is_empty()).then(|| format!("unsaved changes in {}", unsaved.join(", ")))
    }

    fn context(&self) -> Option<crate::llm::Attachment> {
        let b = self.buf();
        let d = &b.doc;
        let r = d.sel.range();
        let (title, body) = if r.is_empty() {
            (
                format!("file {}", b.name()),
                d.rope.slice(..d.rope.len_chars().min(200_000)).to_string(),
            )
        } else {
            let (l0, _) = d.line_col(r.start);
            let (l1, _) = d.line_col(r.end);
            (
                format!("{} lines {}-{}", b.name(), l0 + 1, l1 + 1),
                d.rope.slice(r).to_string(),
            )
        };
        (!body.trim().is_empty()).then_some(crate::llm::Attachment { title, body })
    }

    fn save(&self) -> PaneState {
        // `active` counts among the files: scratch buffers are not saved.
        let active = self.active.min(self.bufs.len() - 1);
        PaneState::Editor {
            files: self.bufs.iter().filter_map(|b| b.path.clone()).collect(),
            active: self.bufs[..active]
                .iter()
                .filter(|b| b.path.is_some())
                .count(),
        }
    }
}

/// Keys and verbs, and what tells the server that text changed.
impl EditorPane {
    fn action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let Some((verb, arg)) = EditorVerb::of(a) else {
            return Outcome::Ignored;
        };
        cx.dirty = true;
        self.note = None;
        // Asking again is only the same verb straight after.
        let armed = self.armed.take() == Some(verb);
        match verb {
            EditorVerb::Save => self.save(cx, None),
            EditorVerb::SaveAs => match arg {
                Some(p) if !p.trim().is_empty() => self.save(cx, Some(p.trim().to_string())),
                _ => cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "save as".into(),
                    initial: self.buf().path.clone().unwrap_or_default(),
                    then: "save-as".into(),
                    on_empty: None,
                })),
            },
            EditorVerb::Undo => {
                if !self.buf_mut().doc.undo() {
                    self.note = Some("nothing to undo".into());
                }
            }
            EditorVerb::Redo => {
                if !self.buf_mut().doc.redo() {
                    self.note = Some("nothing to redo".into());
                }
            }
            EditorVerb::Find => {
                self.bar = Bar::Find {
                    replace: None,
                    field: 0,
                    error: None,
                }
            }
            EditorVerb::Replace => {
                self.bar = Bar::Find {
                    replace: Some(String::new()),
                    field: 0,
                    error: None,
                }
            }
            EditorVerb::FindNext => self.find_step(true),
            EditorVerb::FindPrev => self.find_step(false),
            EditorVerb::GotoLine => match arg.map(|a| a.trim().parse::<usize>()) {
                Some(Ok(n)) if n >= 1 => {
                    let d = &mut self.buf_mut().doc;
                    let i = d.index(n - 1, 0);
                    d.move_to(i, false);
                }
                Some(_) => self.note = Some("go to line: a number from 1".into()),
                None => cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "go to line".into(),
                    initial: String::new(),
                    then: "goto-line".into(),
                    on_empty: None,
                })),
            },
            EditorVerb::SelectAll => {
                let d = &mut self.buf_mut().doc;
                d.sel = Sel {
                    anchor: 0,
                    head: d.rope.len_chars(),
                };
            }
            EditorVerb::Copy => self.copy(cx, false),
            EditorVerb::Cut => self.copy(cx, true),
            EditorVerb::Paste => {
                if self.editable() {
                    Self::ask(cx, EditorRequest::Paste)
                }
            }
            EditorVerb::Wrap => {
                self.wrap = !self.wrap;
                for b in &mut self.bufs {
                    b.left = 0;
                    b.top_row = 0;
                    b.doc.want_col = None;
                }
            }
            EditorVerb::NextBuffer => self.active = (self.active + 1) % self.bufs.len(),
            EditorVerb::PrevBuffer => {
                self.active = (self.active + self.bufs.len() - 1) % self.bufs.len()
            }
            EditorVerb::CloseBuffer => self.close_buffer(armed),
            EditorVerb::Reload => {
                let b = self.buf();
                match (&b.path, b.doc.modified()) {
                    (None, _) => self.note = Some("a scratch buffer has no file".into()),
                    (Some(_), true) if !armed => {
                        self.armed = Some(EditorVerb::Reload);
                        self.note = Some(
                            "unsaved changes: reload again replaces them with the file".into(),
                        );
                    }
                    (Some(p), _) => {
                        let p = p.clone();
                        let b = self.buf_mut();
                        b.reloading = true;
                        b.loading = true;
                        Self::ask(cx, EditorRequest::Open { path: p });
                    }
                }
            }
        }
        self.follow();
        Outcome::Consumed
    }

    fn input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        // A note lasts until the next key.
        if self.note.take().is_some() {
            cx.dirty = true;
        }
        if self.bar != Bar::None {
            let o = self.bar_input(k);
            if o == Outcome::Consumed {
                cx.dirty = true;
                return o;
            }
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        let shift = k.modifiers.contains(KeyModifiers::SHIFT);
        let h = self.view.1.max(2) as isize - 1;
        self.armed = None;
        match k.code {
            KeyCode::Left if ctrl => self.move_word(false, shift),
            KeyCode::Right if ctrl => self.move_word(true, shift),
            KeyCode::Left => {
                let d = &mut self.buf_mut().doc;
                let r = d.sel.range();
                let to = if !shift && !r.is_empty() {
                    r.start
                } else {
                    d.sel.head.saturating_sub(1)
                };
                d.move_to(to, shift);
                d.want_col = None;
            }
            KeyCode::Right => {
                let d = &mut self.buf_mut().doc;
                let r = d.sel.range();
                let to = if !shift && !r.is_empty() {
                    r.end
                } else {
                    d.sel.head + 1
                };
                d.move_to(to, shift);
                d.want_col = None;
            }
            KeyCode::Up => self.move_v(-1, shift),
            KeyCode::Down => self.move_v(1, shift),
            KeyCode::PageUp => self.move_v(-h, shift),
            KeyCode::PageDown => self.move_v(h, shift),
            KeyCode::Home if ctrl => self.buf_mut().doc.move_to(0, shift),
            KeyCode::End if ctrl => {
                let d = &mut self.buf_mut().doc;
                d.move_to(d.rope.len_chars(), shift);
            }
            KeyCode::Home => {
                // To the first non-blank, then to the line's start.
                let d = &mut self.buf_mut().doc;
                let (line, col) = d.line_col(d.sel.head);
                let ind = d.indent_of(line).chars().count();
                let to = if col == ind { 0 } else { ind };
                let i = d.index(line, to);
                d.move_to(i, shift);
                d.want_col = None;
            }
            KeyCode::End => {
                let d = &mut self.buf_mut().doc;
                let (line, _) = d.line_col(d.sel.head);
                let i = d.index(line, usize::MAX);
                d.move_to(i, shift);
                d.want_col = None;
            }
            _ if is_edit(k) && !self.editable() => {}
            KeyCode::Enter => {
                // Auto-indent: the new line starts as indented as this one.
                let d = &mut self.buf_mut().doc;
                let (line, _) = d.line_col(d.sel.range().start);
                let ind = d.indent_of(line);
                d.type_text(&format!("\n{ind}"));
                d.break_typing();
            }
            KeyCode::Backspace => self.buf_mut().doc.backspace(),
            KeyCode::Delete => self.buf_mut().doc.delete(),
            KeyCode::Tab => self.indent(false),
            KeyCode::BackTab => self.indent(true),
            KeyCode::Char(c) if !ctrl && !alt => {
                let mut s = [0u8; 4];
                self.buf_mut().doc.type_text(c.encode_utf8(&mut s));
            }
            _ => return Outcome::Ignored,
        }
        self.follow();
        cx.dirty = true;
        Outcome::Consumed
    }

    /// Tells the server the text changed (it keeps unsaved text a moment after typing
    /// stops, so a crash loses at most that moment).
    fn notice_change(&mut self, cx: &mut Cx) {
        let v: u64 = self.bufs.iter().map(|b| b.doc.version).sum();
        if v != self.seen_version {
            self.seen_version = v;
            Self::ask(cx, EditorRequest::Changed);
        }
    }

    /// What to keep of every buffer: the unsaved ones' text, and which are saved (their kept
    /// copies go). Only what changed since the last keep is sent.
    fn keep(&mut self, cx: &mut Cx) {
        let mut out = Vec::new();
        for b in &mut self.bufs {
            if b.kept_version == Some(b.doc.version) || b.loading {
                continue;
            }
            b.kept_version = Some(b.doc.version);
            let modified = b.doc.modified();
            if b.path.is_none() && b.doc.rope.len_chars() == 0 && !modified {
                continue;
            }
            out.push(KeptBuf {
                path: b.path.clone(),
                text: if modified {
                    b.doc.rope.clone()
                } else {
                    Rope::new()
                },
                crlf: b.crlf,
                stamp: b.stamp,
                modified,
            });
        }
        if !out.is_empty() {
            Self::ask(cx, EditorRequest::Keep(out));
        }
    }

    /// Text kept from before the server stopped: the buffer holds it, unsaved.
    fn recovered(
        &mut self,
        path: Option<String>,
        text: Rope,
        crlf: bool,
        stamp: Option<FileStamp>,
    ) {
        let i = match &path {
            Some(p) => self.slot_for(p),
            None => match self.bufs.iter().position(|b| b.path.is_none()) {
                Some(i) => i,
                None => {
                    self.bufs.push(Buf::default());
                    self.bufs.len() - 1
                }
            },
        };
        let b = &mut self.bufs[i];
        b.doc = Doc::new(text);
        // Unsaved: it differs from the file (or has none).
        b.doc.version = 1;
        b.doc.saved_at = 0;
        b.kept_version = Some(1);
        b.crlf = crlf;
        b.stamp = stamp;
        b.loading = false;
        b.restoring = false;
        self.hl = None;
        self.note = Some(format!(
            "{}: unsaved changes from before the server stopped, recovered (C-s saves them)",
            b.name()
        ));
    }
}

/// Whether a key changes the text.
fn is_edit(k: &KeyEvent) -> bool {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Char(_) => !ctrl,
        KeyCode::Enter | KeyCode::Backspace | KeyCode::Delete | KeyCode::Tab | KeyCode::BackTab => {
            true
        }
        _ => false,
    }
}
