//! A document: the text in a rope (ropey: an edit anywhere costs O(log n), a 100 MB file is
//! a tree of small chunks, a line is found by its number without a scan), one selection, and
//! undo as transactions of edits. An edit records what it removed and what it inserted at a
//! char index, so undoing is applying it backwards; typing joins one transaction until the
//! cursor moves or something else happens, and a replace-all is one transaction however many
//! matches it changes. Undo is bounded (`MAX_UNDO` transactions).
//!
//! Every text the document passes through has a state number: an edit makes a new one, undo and
//! redo go back to the one they return to. The unsaved mark compares it with the state saved, so
//! undoing back to what is on disk shows the buffer saved again. The undo history (`History`)
//! can be taken out and put back, so that it outlives the server (bounded by `HISTORY_BYTES`).

use ropey::Rope;

/// Transactions kept for undo.
pub const MAX_UNDO: usize = 1_000;
/// The text an undo history taken out for keeping holds at most (what edits removed and
/// inserted): older steps are left out past it, and one step larger than it is not kept.
pub const HISTORY_BYTES: usize = 8 << 20;

/// A selection: `head` is where the cursor is, `anchor` where it started (equal: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Sel {
    pub anchor: usize,
    pub head: usize,
}

impl Sel {
    pub fn at(i: usize) -> Sel {
        Sel { anchor: i, head: i }
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.anchor.min(self.head)..self.anchor.max(self.head)
    }
    pub fn is_empty(&self) -> bool {
        self.anchor == self.head
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Edit {
    at: usize,
    removed: String,
    inserted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Copy, serde::Serialize, serde::Deserialize)]
enum Kind {
    Typing,
    Other,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Txn {
    edits: Vec<Edit>,
    before: Sel,
    after: Sel,
    kind: Kind,
    /// The states before and after it.
    from: u64,
    to: u64,
}

impl Txn {
    fn bytes(&self) -> usize {
        self.edits
            .iter()
            .map(|e| e.removed.len() + e.inserted.len() + 16)
            .sum()
    }
}

/// A document's undo steps, taken out to be kept (`Doc::history`) and put back on a document
/// holding the same text (`Doc::restore_history`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    steps: Vec<Txn>,
    /// The state of the text the steps undo from, and the one saved.
    state: u64,
    saved: u64,
    /// The text's length in chars: a history is only put back on a text of this length.
    chars: usize,
}

impl History {
    pub fn len(&self) -> usize {
        self.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub rope: Rope,
    pub sel: Sel,
    /// The column the cursor wants on vertical moves (chars), kept across short lines.
    pub want_col: Option<usize>,
    undo: Vec<Txn>,
    redo: Vec<Txn>,
    /// Changes since open (only grows: what caches and the server's keeping go by).
    pub version: u64,
    /// The text's state number, and the state last saved (the unsaved mark compares them).
    pub state: u64,
    pub saved_at: u64,
    /// The next new state number.
    next_state: u64,
    /// The typing transaction still open (joined by the next typed character).
    typing: bool,
}

impl Doc {
    pub fn new(rope: Rope) -> Doc {
        Doc {
            rope,
            ..Default::default()
        }
    }

    pub fn modified(&self) -> bool {
        self.state != self.saved_at
    }

    /// Marks the text as it is now saved; `state` is the state that was written (typing may
    /// have gone on since).
    pub fn mark_saved(&mut self, state: u64) {
        self.saved_at = state;
    }

    /// Marks the text as differing from its file (recovered text).
    pub fn mark_unsaved(&mut self) {
        self.next_state = self.next_state.max(self.state) + 1;
        self.saved_at = self.next_state;
        self.next_state += 1;
    }

    /// The undo steps, newest last, as many as fit in `HISTORY_BYTES`.
    pub fn history(&self) -> History {
        let mut bytes = 0;
        let keep = self
            .undo
            .iter()
            .rev()
            .take_while(|t| {
                bytes += t.bytes();
                bytes <= HISTORY_BYTES
            })
            .count();
        History {
            steps: self.undo[self.undo.len() - keep..].to_vec(),
            state: self.state,
            saved: self.saved_at,
            chars: self.rope.len_chars(),
        }
    }

    /// Puts back undo steps taken out of a document with this same text; `saved` says whether
    /// the text is the file's (else the saved state is the history's). False, and nothing
    /// changed, when the history is not for a text of this length or does not undo cleanly.
    pub fn restore_history(&mut self, h: History, saved: bool) -> bool {
        if h.chars != self.rope.len_chars() || !self.undo.is_empty() {
            return false;
        }
        // Each step must fit the text it undoes: replay the undo on a copy (cheap: a rope
        // clone shares its chunks) and check every removal matches.
        let mut probe = self.rope.clone();
        for t in h.steps.iter().rev() {
            for e in t.edits.iter().rev() {
                let end = e.at + e.inserted.chars().count();
                if end > probe.len_chars() || probe.slice(e.at..end) != e.inserted.as_str() {
                    return false;
                }
                probe.remove(e.at..end);
                probe.insert(e.at, &e.removed);
            }
        }
        self.next_state = h
            .steps
            .iter()
            .map(|t| t.from.max(t.to))
            .chain([h.state, h.saved, self.next_state])
            .max()
            .unwrap_or(0)
            + 1;
        self.state = h.state;
        self.saved_at = if saved { h.state } else { h.saved };
        if !saved && self.saved_at == self.state {
            self.mark_unsaved();
        }
        self.undo = h.steps;
        self.redo.clear();
        true
    }

    /// A new state number for the text after an edit.
    fn new_state(&mut self) -> u64 {
        self.next_state = self.next_state.max(self.state).max(self.saved_at) + 1;
        self.next_state
    }

    /// Ends the typing run: the next character starts a new undo step.
    pub fn break_typing(&mut self) {
        self.typing = false;
    }

    fn apply(&mut self, e: &Edit) {
        let end = e.at + e.removed.chars().count();
        if end > e.at {
            self.rope.remove(e.at..end);
        }
        if !e.inserted.is_empty() {
            self.rope.insert(e.at, &e.inserted);
        }
    }

    fn record(&mut self, edits: Vec<Edit>, before: Sel, after: Sel, kind: Kind) {
        self.redo.clear();
        self.version += 1;
        let from = self.state;
        self.state = self.new_state();
        if kind == Kind::Typing && self.typing {
            // Joined to the typing before, unless that text is the one saved (undo then goes
            // back to it in one step).
            if let Some(last) = self
                .undo
                .last_mut()
                .filter(|t| t.kind == Kind::Typing && t.to != self.saved_at)
            {
                last.edits.extend(edits);
                last.after = after;
                last.to = self.state;
                return;
            }
        }
        self.undo.push(Txn {
            edits,
            before,
            after,
            kind,
            from,
            to: self.state,
        });
        if self.undo.len() > MAX_UNDO {
            self.undo.remove(0);
        }
        self.typing = kind == Kind::Typing;
    }

    /// Replaces `range` (chars) with `text` as one undo step; the cursor goes after it.
    pub fn replace(&mut self, range: std::ops::Range<usize>, text: &str) {
        self.replace_kind(range, text, Kind::Other);
    }

    fn replace_kind(&mut self, range: std::ops::Range<usize>, text: &str, kind: Kind) {
        let len = self.rope.len_chars();
        let (a, b) = (range.start.min(len), range.end.min(len));
        let before = self.sel;
        let e = Edit {
            at: a,
            removed: self.rope.slice(a..b).to_string(),
            inserted: text.to_string(),
        };
        self.apply(&e);
        let after = Sel::at(a + text.chars().count());
        self.sel = after;
        self.want_col = None;
        self.record(vec![e], before, after, kind);
    }

    /// Types `text` over the selection (joined with the typing before it for undo).
    pub fn type_text(&mut self, text: &str) {
        let r = self.sel.range();
        let kind = if r.is_empty() && !text.contains('\n') {
            Kind::Typing
        } else {
            Kind::Other
        };
        if kind == Kind::Other {
            self.typing = false;
        }
        self.replace_kind(r, text, kind);
    }

    /// Replaces each range (chars, ascending, not overlapping) with its text, as one undo step.
    /// Edits go from the last to the first, so earlier positions stay valid.
    pub fn replace_many(&mut self, edits: Vec<(std::ops::Range<usize>, String)>) {
        if edits.is_empty() {
            return;
        }
        let before = self.sel;
        let mut done = Vec::with_capacity(edits.len());
        for (r, text) in edits.into_iter().rev() {
            let e = Edit {
                at: r.start,
                removed: self.rope.slice(r.clone()).to_string(),
                inserted: text,
            };
            self.apply(&e);
            done.push(e);
        }
        let after = Sel::at(self.sel.head.min(self.rope.len_chars()));
        self.sel = after;
        self.typing = false;
        self.record(done, before, after, Kind::Other);
    }

    /// Deletes the selection, or the char before the cursor.
    pub fn backspace(&mut self) {
        let r = self.sel.range();
        if !r.is_empty() {
            self.replace(r, "");
        } else if r.start > 0 {
            // A CR LF pair goes as one.
            let from = if r.start >= 2 && self.rope.slice(r.start - 2..r.start) == "\r\n" {
                r.start - 2
            } else {
                r.start - 1
            };
            self.replace_kind(from..r.start, "", Kind::Typing);
        }
    }

    /// Deletes the selection, or the char under the cursor.
    pub fn delete(&mut self) {
        let r = self.sel.range();
        if !r.is_empty() {
            self.replace(r, "");
        } else if r.start < self.rope.len_chars() {
            self.replace(r.start..r.start + 1, "");
        }
    }

    pub fn undo(&mut self) -> bool {
        let Some(t) = self.undo.pop() else {
            return false;
        };
        // Edits were applied in order; undo them in reverse.
        for e in t.edits.iter().rev() {
            let inv = Edit {
                at: e.at,
                removed: e.inserted.clone(),
                inserted: e.removed.clone(),
            };
            self.apply(&inv);
        }
        self.sel = t.before;
        self.version += 1;
        self.state = t.from;
        self.typing = false;
        self.redo.push(t);
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(t) = self.redo.pop() else {
            return false;
        };
        for e in &t.edits {
            self.apply(e);
        }
        self.sel = t.after;
        self.version += 1;
        self.state = t.to;
        self.typing = false;
        self.undo.push(t);
        true
    }

    /// Line and column (chars) of char index `i`.
    pub fn line_col(&self, i: usize) -> (usize, usize) {
        let i = i.min(self.rope.len_chars());
        let line = self.rope.char_to_line(i);
        (line, i - self.rope.line_to_char(line))
    }

    /// The char count of line `l` without its line break.
    pub fn line_len(&self, l: usize) -> usize {
        if l >= self.rope.len_lines() {
            return 0;
        }
        let line = self.rope.line(l);
        let mut n = line.len_chars();
        if n > 0 && line.char(n - 1) == '\n' {
            n -= 1;
            if n > 0 && line.char(n - 1) == '\r' {
                n -= 1;
            }
        }
        n
    }

    /// The char index of (line, col), clamped into the line.
    pub fn index(&self, line: usize, col: usize) -> usize {
        let line = line.min(self.rope.len_lines().saturating_sub(1));
        self.rope.line_to_char(line) + col.min(self.line_len(line))
    }

    /// Moves the cursor to `i`; `extend` keeps the anchor (a selection grows).
    pub fn move_to(&mut self, i: usize, extend: bool) {
        let i = i.min(self.rope.len_chars());
        self.sel.head = i;
        if !extend {
            self.sel.anchor = i;
        }
        self.typing = false;
    }

    /// The leading whitespace of line `l`.
    pub fn indent_of(&self, l: usize) -> String {
        self.rope
            .line(l)
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect()
    }

    /// Where the bracket matching the one at `i` (or just before it) is.
    pub fn matching_bracket(&self, i: usize) -> Option<(usize, usize)> {
        const PAIRS: [(char, char); 3] = [('(', ')'), ('[', ']'), ('{', '}')];
        let len = self.rope.len_chars();
        let at = [i, i.wrapping_sub(1)]
            .into_iter()
            .filter(|j| *j < len)
            .find(|j| {
                let c = self.rope.char(*j);
                PAIRS.iter().any(|(a, b)| c == *a || c == *b)
            })?;
        let c = self.rope.char(at);
        // Look at most this far: a bracket a megabyte away is not worth a stall per frame.
        const LIMIT: usize = 100_000;
        for (open, close) in PAIRS {
            if c == open {
                let mut depth = 0usize;
                for (k, ch) in self.rope.chars_at(at).enumerate().take(LIMIT) {
                    if ch == open {
                        depth += 1;
                    } else if ch == close {
                        depth -= 1;
                        if depth == 0 {
                            return Some((at, at + k));
                        }
                    }
                }
                return None;
            }
            if c == close {
                let mut depth = 0usize;
                let mut chars = self.rope.chars_at(at + 1);
                let mut j = at + 1;
                for _ in 0..LIMIT {
                    let Some(ch) = chars.prev() else { break };
                    j -= 1;
                    if ch == close {
                        depth += 1;
                    } else if ch == open {
                        depth -= 1;
                        if depth == 0 {
                            return Some((j, at));
                        }
                    }
                }
                return None;
            }
        }
        None
    }
}

/// A search: literal or regex, whole word, case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    pub regex: bool,
    pub whole_word: bool,
    pub case_sensitive: bool,
}

/// A compiled search.
pub struct Finder {
    re: regex_cursor::engines::meta::Regex,
}

impl Finder {
    pub fn new(q: &Query) -> Result<Finder, String> {
        if q.text.is_empty() {
            return Err("type something to look for".into());
        }
        let mut pat = if q.regex {
            q.text.clone()
        } else {
            escape(&q.text)
        };
        if q.whole_word {
            pat = format!(r"\b(?:{pat})\b");
        }
        if !q.case_sensitive {
            pat = format!("(?i){pat}");
        }
        regex_cursor::engines::meta::Regex::new(&pat)
            .map(|re| Finder { re })
            .map_err(|e| format!("the pattern does not compile: {e}"))
    }

    /// Matches (char ranges) in `rope`, in order, at most `limit`.
    pub fn all(&self, rope: &Rope, limit: usize) -> Vec<std::ops::Range<usize>> {
        let input = regex_cursor::Input::new(regex_cursor::RopeyCursor::new(rope.slice(..)));
        self.re
            .find_iter(input)
            .filter(|m| m.end() > m.start())
            .take(limit)
            .map(|m| rope.byte_to_char(m.start())..rope.byte_to_char(m.end()))
            .collect()
    }

    /// Matches (char ranges of `rope`) inside `range` (chars), in order, at most `limit`. Only
    /// the range is searched, as a text of its own (`^` and `\b` see its edges as the text's):
    /// for what is on screen, at the cost of the range, however big the rope.
    pub fn within(
        &self,
        rope: &Rope,
        range: std::ops::Range<usize>,
        limit: usize,
    ) -> Vec<std::ops::Range<usize>> {
        let len = rope.len_chars();
        let (a, b) = (range.start.min(len), range.end.min(len));
        let s = rope.slice(a..b);
        let input = regex_cursor::Input::new(regex_cursor::RopeyCursor::new(s));
        self.re
            .find_iter(input)
            .filter(|m| m.end() > m.start())
            .take(limit)
            .map(|m| a + s.byte_to_char(m.start())..a + s.byte_to_char(m.end()))
            .collect()
    }

    /// The first match at or after char `from` (wrapping to the start), and whether it wrapped.
    pub fn next(&self, rope: &Rope, from: usize) -> Option<(std::ops::Range<usize>, bool)> {
        let from_b = rope.char_to_byte(from.min(rope.len_chars()));
        let mut input = regex_cursor::Input::new(regex_cursor::RopeyCursor::new(rope.slice(..)));
        input.set_start(from_b);
        let hit = self.re.find_iter(input).find(|m| m.end() > m.start());
        if let Some(m) = hit {
            return Some((
                rope.byte_to_char(m.start())..rope.byte_to_char(m.end()),
                false,
            ));
        }
        let input = regex_cursor::Input::new(regex_cursor::RopeyCursor::new(rope.slice(..)));
        self.re
            .find_iter(input)
            .find(|m| m.end() > m.start())
            .map(|m| {
                (
                    rope.byte_to_char(m.start())..rope.byte_to_char(m.end()),
                    true,
                )
            })
    }

    /// The last match ending before char `before` (wrapping to the end).
    pub fn prev(&self, rope: &Rope, before: usize) -> Option<(std::ops::Range<usize>, bool)> {
        let all = self.all(rope, usize::MAX);
        if let Some(r) = all
            .iter()
            .rev()
            .find(|r| r.end <= before && r.start < before)
        {
            return Some((r.clone(), false));
        }
        all.last().map(|r| (r.clone(), true))
    }
}

/// `s` with regex syntax escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Doc {
        Doc::new(Rope::from_str(s))
    }

    #[test]
    fn typing_is_one_undo_step_until_the_cursor_moves() {
        let mut d = doc("ab\n");
        d.move_to(2, false);
        for c in ["x", "y", "z"] {
            d.type_text(c);
        }
        assert_eq!(d.rope.to_string(), "abxyz\n");
        d.move_to(0, false);
        d.type_text("Q");
        assert_eq!(d.rope.to_string(), "Qabxyz\n");
        assert!(d.undo());
        assert_eq!(d.rope.to_string(), "abxyz\n");
        assert!(d.undo());
        assert_eq!(d.rope.to_string(), "ab\n");
        assert_eq!(d.sel, Sel::at(2));
        assert!(!d.undo());
        assert!(d.redo());
        assert_eq!(d.rope.to_string(), "abxyz\n");
        assert!(d.redo());
        assert_eq!(d.rope.to_string(), "Qabxyz\n");
        assert!(!d.redo());
        assert!(d.modified());
    }

    #[test]
    fn a_new_edit_drops_the_redo_and_undo_is_bounded() {
        let mut d = doc("");
        d.type_text("a");
        d.undo();
        d.type_text("b");
        assert!(!d.redo());
        let mut d = doc("");
        for i in 0..MAX_UNDO + 50 {
            d.move_to(d.rope.len_chars(), false);
            d.replace(i..i, "x");
        }
        let mut n = 0;
        while d.undo() {
            n += 1;
        }
        assert_eq!(n, MAX_UNDO);
        assert_eq!(d.rope.len_chars(), 50);
    }

    #[test]
    fn undoing_back_to_the_saved_text_is_saved_again() {
        let mut d = doc("ab");
        d.move_to(2, false);
        d.type_text("c");
        d.mark_saved(d.state);
        assert!(!d.modified());
        // Typing on from the saved text is a step of its own: one undo is back at it.
        d.type_text("d");
        d.type_text("e");
        assert!(d.modified());
        assert!(d.undo());
        assert_eq!(d.rope.to_string(), "abc");
        assert!(!d.modified(), "back at the saved text");
        assert!(d.undo());
        assert!(d.modified());
        assert!(d.redo());
        assert!(!d.modified());
        // A new edit after undo is a new text, even when it reads the same.
        d.type_text("d");
        d.backspace();
        d.break_typing();
        assert_eq!(d.rope.to_string(), "abc");
        assert!(d.modified());
    }

    #[test]
    fn a_history_past_its_bound_keeps_the_newest_steps() {
        let mut d = doc("");
        let big = "x".repeat(HISTORY_BYTES / 3);
        for _ in 0..4 {
            d.type_text(&format!("{big}\n"));
        }
        d.type_text("tail");
        let h = d.history();
        // Two big steps and the small one fit; the older two do not.
        assert_eq!(h.len(), 3);
        let mut e = Doc::new(d.rope.clone());
        assert!(e.restore_history(h, false));
        assert!(e.modified(), "recovered text is unsaved");
        assert!(e.undo() && e.undo() && e.undo());
        assert!(!e.undo());
        assert_eq!(e.rope.len_chars(), 2 * (HISTORY_BYTES / 3 + 1));
    }

    #[test]
    fn replace_many_is_one_step() {
        let mut d = doc("a cat, a cat, a cat\n");
        let f = Finder::new(&Query {
            text: "cat".into(),
            ..Default::default()
        })
        .unwrap();
        let hits = f.all(&d.rope, usize::MAX);
        assert_eq!(hits.len(), 3);
        d.replace_many(hits.into_iter().map(|r| (r, "dog".to_string())).collect());
        assert_eq!(d.rope.to_string(), "a dog, a dog, a dog\n");
        d.undo();
        assert_eq!(d.rope.to_string(), "a cat, a cat, a cat\n");
    }

    #[test]
    fn search_options_and_bad_patterns() {
        let r = Rope::from_str("Cat cat concatenate CAT\n");
        let q = |text: &str, regex, whole_word, case_sensitive| Query {
            text: text.into(),
            regex,
            whole_word,
            case_sensitive,
        };
        let n = |q: Query| Finder::new(&q).unwrap().all(&r, 100).len();
        assert_eq!(n(q("cat", false, false, false)), 4);
        assert_eq!(n(q("cat", false, true, false)), 3);
        assert_eq!(n(q("cat", false, true, true)), 1);
        assert_eq!(n(q("c.t", true, false, true)), 2);
        assert_eq!(
            n(q("c.t", false, false, false)),
            0,
            "literal: the dot is a dot"
        );
        let e = Finder::new(&q("(", true, false, false)).err().unwrap();
        assert!(e.contains("does not compile"), "{e}");
        let f = Finder::new(&q("cat", false, true, false)).unwrap();
        assert_eq!(f.next(&r, 1), Some((4..7, false)));
        assert_eq!(f.next(&r, 21), Some((0..3, true)));
        assert_eq!(f.prev(&r, 4), Some((0..3, false)));
    }

    #[test]
    fn within_searches_only_the_range_and_answers_in_rope_positions() {
        let r = Rope::from_str("ä cat\nnö cat cat\n");
        let f = Finder::new(&Query {
            text: "cat".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            f.within(&r, 0..r.len_chars(), 10),
            vec![2..5, 9..12, 13..16]
        );
        assert_eq!(f.within(&r, 6..12, 10), vec![9..12]);
        assert_eq!(
            f.within(&r, 10..16, 10),
            vec![13..16],
            "a match cut off is not one"
        );
        assert_eq!(
            f.within(&r, 0..100, 1),
            vec![2..5],
            "limited, and clamped to the rope"
        );
    }

    #[test]
    fn unicode_positions_are_chars() {
        let mut d = doc("héllo wörld\n");
        let f = Finder::new(&Query {
            text: "wörld".into(),
            ..Default::default()
        })
        .unwrap();
        let hit = f.all(&d.rope, 10)[0].clone();
        assert_eq!(hit, 6..11);
        d.sel = Sel {
            anchor: hit.start,
            head: hit.end,
        };
        d.type_text("мир");
        assert_eq!(d.rope.to_string(), "héllo мир\n");
        assert_eq!(d.line_col(9), (0, 9));
    }

    #[test]
    fn lines_and_brackets() {
        let d = doc("fn a() {\n  (x[1])\n}\r\nlast");
        assert_eq!(d.line_len(0), 8);
        assert_eq!(d.line_len(2), 1, "CR LF is not part of the line");
        assert_eq!(d.line_len(3), 4);
        assert_eq!(d.index(1, 99), 9 + 8);
        assert_eq!(d.indent_of(1), "  ");
        assert_eq!(d.matching_bracket(7), Some((7, 18)));
        assert_eq!(d.matching_bracket(18), Some((7, 18)));
        assert_eq!(d.matching_bracket(13), Some((13, 15)));
        // Just after a bracket counts too: `(x` with the cursor on x.
        assert_eq!(d.matching_bracket(12), Some((11, 16)));
        assert_eq!(d.matching_bracket(1), None);
    }
}
