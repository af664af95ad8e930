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

The SQL editor is this editor in SQL mode (`EditorPane::sql`), held inside `SqlPane`: its
buffers are scratch ones highlighted as SQL, kept with the session rather than in files (C-s
asks where to write one), and the SQL pane puts its own footer in the status line and marks an
error's place. Keys, search, undo and highlighting are the same code in both.
*/

mod ai;
pub mod buffer;
mod draw;
mod find;
mod keys;
mod msg;
#[cfg(test)]
mod tests;

pub use buffer::{Doc, Finder, History, Query, Sel};
use draw::Highlights;
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
        FindFile = ("find-file", "", "Editor: pick a file to open (fuzzy; .gitignore respected)"),
        AiExplain = ("ai-explain", "", "Editor: the model explains the selection (or the file)"),
        AiRewrite = ("ai-rewrite", "[INSTRUCTION]", "Editor: the model rewrites the selection as asked, shown as a diff to accept"),
        AiFix = ("ai-fix", "", "Editor: the model fixes the selection, shown as a diff to accept"),
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
    /// The state the save in flight wrote: `Saved` marks the buffer saved at it (typing
    /// since is still unsaved).
    saving_state: u64,
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
    /// The SQL editor's core: scratch buffers of SQL, not kept for crashes here (the session
    /// keeps them), labelled by number.
    sql: bool,
    /// What the status line says on the left when there is no note (the SQL editor's footer).
    pub footer: Option<Vec<(String, Style)>>,
    /// A place to mark as an error: (line, column), 0-based chars.
    pub mark: Option<(usize, usize)>,
    /// The model asked about the selection: its answer coming, or shown.
    ai: Option<ai::Ai>,
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
            sql: false,
            footer: None,
            mark: None,
            ai: None,
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

    /// The SQL editor's core: a scratch buffer for each of `texts`, highlighted as SQL.
    pub fn sql(texts: &[String], active: usize) -> EditorPane {
        let mut bufs: Vec<Buf> = texts
            .iter()
            .map(|t| Buf {
                doc: Doc::new(Rope::from_str(t)),
                ..Default::default()
            })
            .collect();
        if bufs.is_empty() {
            bufs.push(Buf::default());
        }
        let active = active.min(bufs.len() - 1);
        // Soft wrap on: a query is read whole in a narrow pane beside its grid (M-z: off).
        let mut p = EditorPane {
            bufs,
            active,
            sql: true,
            wrap: true,
            ..Default::default()
        };
        p.greeted = true;
        p
    }

    /// The active buffer's document.
    pub fn doc(&self) -> &Doc {
        &self.buf().doc
    }

    /// The active buffer's document, to change (`follow` after, to keep the cursor in view).
    pub fn doc_mut(&mut self) -> &mut Doc {
        &mut self.buf_mut().doc
    }

    /// Which buffer is shown, of how many.
    pub fn position(&self) -> (usize, usize) {
        (self.active.min(self.bufs.len() - 1), self.bufs.len())
    }

    /// Every buffer's text, in order.
    pub fn texts(&self) -> Vec<String> {
        self.bufs.iter().map(|b| b.doc.rope.to_string()).collect()
    }

    /// A new empty scratch buffer, shown.
    pub fn new_buffer(&mut self) {
        self.bufs.push(Buf::default());
        self.active = self.bufs.len() - 1;
        self.hl = None;
    }

    /// Closes the active buffer without asking (the last one is emptied instead).
    pub fn drop_buffer(&mut self) {
        self.close_buffer(true);
    }

    /// Whether the find bar takes the keys.
    pub fn finding(&self) -> bool {
        self.bar != Bar::None
    }

    /// Closes the find bar, if it is open.
    pub fn close_find(&mut self) -> bool {
        std::mem::replace(&mut self.bar, Bar::None) != Bar::None
    }

    /// Tab: indents the selection's lines, or inserts spaces.
    pub fn tab(&mut self) {
        self.indent(false);
        self.follow();
    }

    /// Keeps the cursor in view after the document was changed from outside.
    pub fn follow_cursor(&mut self) {
        self.follow();
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
        b.saving_state = b.doc.state;
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
                history,
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
                if let Some(h) = history {
                    b.doc.restore_history(h, true);
                }
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
                        if b.path.is_none() && !self.sql {
                            // A scratch buffer saved as a file: its text kept for a crash
                            // (as the scratch one) goes; it is kept by its path from now.
                            cx.push(Effect::Engine(EngineRequest::Editor(EditorRequest::Keep(
                                vec![KeptBuf {
                                    path: None,
                                    text: Rope::new(),
                                    crlf: false,
                                    stamp: None,
                                    modified: false,
                                    history: None,
                                }],
                            ))));
                        }
                        b.path = Some(path.clone());
                        b.stamp = Some(stamp);
                        b.read_only = None;
                        b.doc.mark_saved(b.saving_state);
                        // The steps that led to the text saved outlive the server (when
                        // nothing was typed since the save began, they are that text's).
                        if b.doc.state == b.saving_state {
                            cx.push(Effect::Engine(EngineRequest::Editor(
                                EditorRequest::KeepUndo {
                                    path: path.clone(),
                                    stamp,
                                    history: b.doc.history(),
                                },
                            )));
                        }
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
            EditorEvent::AiAnswer { answer, code } => self.ai_answer(answer, code),
            EditorEvent::Recovered {
                path,
                text,
                crlf,
                stamp,
                history,
            } => {
                self.recovered(path, text, crlf, stamp, history);
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
            EngineEvent::Chat(e) => return self.on_ai_event(&e, cx),
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
        self.draw(area, buf, rcx);
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        if self.bar != Bar::None || self.ai_shown() {
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
        match &self.ai {
            Some(ai::Ai::Diff { .. }) => {
                out.push(Hint::new("Enter/y", "accept"));
                out.push(Hint::new("Esc/n", "reject"));
                out.push(Hint::new("Up Down", "scroll"));
                return crate::Hints::Typing;
            }
            Some(ai::Ai::Explained { .. }) => {
                out.push(Hint::new("Up Down", "scroll"));
                out.push(Hint::new("Esc", "close"));
                return crate::Hints::Typing;
            }
            Some(ai::Ai::Asking { .. }) => out.push(Hint::new("Esc", "stop the model")),
            None => {}
        }
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
