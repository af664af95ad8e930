//! Drawing the editor: only the rows on screen, and of each line only the columns in view; the
//! matches to show looked for in that text alone; syntax highlighting of the visible text,
//! budgeted by characters (a frame never parses a long line whole, and no clock decides what
//! is coloured).

use super::*;

/// A line longer than this is searched for the matches to show only around the part of it on
/// screen: a line of 8 million characters is never searched whole to draw a frame.
pub(super) const LONG_LINE: usize = 10_000;
/// How far around the part of a long line on screen a match to show is looked for.
pub(super) const LONG_MARGIN: usize = 256;
/// A line up to this long is highlighted whole; of a longer one only its rows on screen are
/// parsed (each as a line, apart from the lines around), so that a line of 8 million chars
/// is never parsed whole. Kept small because syntect's time per char grows with the length
/// of the token it is in (a 900-char string costs some 40 ms, a 5,000-char word some 100 ms),
/// and a long line is often one token): a screen of 120-char strings costs some 30 ms. No
/// clock decides what is coloured, so a frame looks the same on a busy machine.
pub(super) const WHOLE_LINE: usize = 120;
/// The chars highlighted for one screen: enough for 40 rows of 200 (syntect with fancy-regex
/// parses code at about 0.4 MB a second: some 25 ms); rows past it are drawn plain.
pub(super) const HL_BUDGET: usize = 10_000;
/// How much of a long line left of the part on screen is parsed too, so that a token which
/// starts off screen is mostly coloured right.
pub(super) const HL_MARGIN: usize = 64;

/// One screen row of text: which line, which row of it (soft wrap), which of its columns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) line: usize,
    /// The line's first char index, and its length without the line break.
    pub(super) start: usize,
    pub(super) len: usize,
    /// The row of the line (0 without soft wrap).
    pub(super) r: usize,
    /// The line's columns (chars) the row shows at most.
    pub(super) c0: usize,
    pub(super) c1: usize,
}

/// A text to highlight: a line, its first and end column, and whether that is the whole line.
pub(super) type Seg = (usize, usize, usize, bool);

/// The tokens of the lines on screen: for each, the line, the column its tokens start at and
/// one token per char from there.
#[derive(Debug)]
pub(super) struct Highlights {
    /// The buffer, its version, its language and the parts of lines highlighted.
    pub(super) key: (usize, u64, String, Vec<Seg>),
    pub(super) lines: Vec<(usize, usize, Vec<Token>)>,
}

/// The language a buffer's file is in, by its extension (or name: `Makefile`); `None` for
/// plain text, which is not highlighted.
pub(super) fn lang_of(b: &Buf) -> Option<String> {
    let p = std::path::Path::new(b.path.as_deref()?);
    let lang = p.extension().or_else(|| p.file_name())?.to_string_lossy();
    (syntax_for(&lang).name != "Plain Text").then(|| lang.into_owned())
}

/// One token per char of `text`, from the byte ranges `highlight` gives.
pub(super) fn per_char(text: &str, spans: &[(std::ops::Range<usize>, Token)]) -> Vec<Token> {
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
pub(super) fn visible_matches(q: &Query, rope: &Rope, rows: &[Row]) -> Vec<std::ops::Range<usize>> {
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

impl EditorPane {
    /// The rows of text on screen, from the top: `h` at most, of `tw` columns.
    pub(super) fn rows(&self, h: usize, tw: usize) -> Vec<Row> {
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
    pub(super) fn highlight_rows(&mut self, rows: &[Row]) {
        let b = self.buf();
        let Some(lang) = (if self.sql {
            Some("sql".to_string())
        } else {
            lang_of(b)
        }) else {
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

    pub(super) fn draw(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
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
                let label = match (&b.path, self.sql) {
                    (None, true) => format!(" sql {} ", i + 1),
                    _ => format!(" {}{} ", b.name(), if b.doc.modified() { "+" } else { "" }),
                };
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
                let style = if self.mark.is_some_and(|m| m.0 == line) {
                    Style::new().fg(t.error).add_modifier(Modifier::BOLD)
                } else if line == cur_line {
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
                if self.mark == Some((line, col)) {
                    style = style
                        .fg(t.error)
                        .add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
                }
                buf.set_string(x, y, shown.to_string(), style);
                x += w;
            }
        }
        // The model's explanation or rewrite, over the text.
        self.draw_ai(body, buf, t);
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
        if let Some(f) = &self.footer {
            // The footer says more: the cursor's place is enough, where there is room for it.
            let said: usize = f.iter().map(|(t, _)| t.width()).sum();
            right = format!("{}:{}", l + 1, c + 1);
            if said + right.len() + 1 > area.width as usize {
                right.clear();
            }
        }
        let left = match (&self.note, b.loading, b.saving) {
            (Some(n), _, _) => n.clone(),
            (None, _, _) if self.ai_asking() => self.ai_status().unwrap_or_default(),
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
        match (
            &self.footer,
            &self.note,
            b.loading || b.saving || self.ai_asking(),
        ) {
            (Some(spans), None, false) => {
                let mut x = area.x;
                let end = area.x + w.saturating_sub(rw + 1) as u16;
                for (text, style) in spans {
                    let room = end.saturating_sub(x) as usize;
                    if room == 0 {
                        break;
                    }
                    buf.set_stringn(x, status_y, text, room, *style);
                    x = x.saturating_add(text.width() as u16);
                }
            }
            _ => {
                buf.set_stringn(
                    area.x,
                    status_y,
                    &left,
                    w.saturating_sub(rw + 1),
                    Style::new().fg(if self.note.is_some() || self.ai_asking() {
                        t.warn
                    } else {
                        t.muted
                    }),
                );
            }
        }
        buf.set_stringn(
            area.x + (w - rw) as u16,
            status_y,
            &right,
            rw,
            Style::new().fg(t.muted),
        );
    }
}
