//! A document: the text in a rope (ropey: an edit anywhere costs O(log n), a 100 MB file is
//! a tree of small chunks, a line is found by its number without a scan), one selection, and
//! undo as transactions of edits. An edit records what it removed and what it inserted at a
//! char index, so undoing is applying it backwards; typing joins one transaction until the
//! cursor moves or something else happens, and a replace-all is one transaction however many
//! matches it changes. Undo is bounded (`MAX_UNDO` transactions).

use ropey::Rope;

/// Transactions kept for undo.
pub const MAX_UNDO: usize = 1_000;

/// A selection: `head` is where the cursor is, `anchor` where it started (equal: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

#[derive(Debug, Clone, PartialEq)]
struct Edit {
    at: usize,
    removed: String,
    inserted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Copy)]
enum Kind {
    Typing,
    Other,
}

#[derive(Debug, Clone)]
struct Txn {
    edits: Vec<Edit>,
    before: Sel,
    after: Sel,
    kind: Kind,
}

#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub rope: Rope,
    pub sel: Sel,
    /// The column the cursor wants on vertical moves (chars), kept across short lines.
    pub want_col: Option<usize>,
    undo: Vec<Txn>,
    redo: Vec<Txn>,
    /// Changes since open: compared with `saved_at` for the unsaved mark.
    pub version: u64,
    pub saved_at: u64,
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
        self.version != self.saved_at
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
        if kind == Kind::Typing && self.typing {
            if let Some(last) = self.undo.last_mut().filter(|t| t.kind == Kind::Typing) {
                last.edits.extend(edits);
                last.after = after;
                return;
            }
        }
        self.undo.push(Txn {
            edits,
            before,
            after,
            kind,
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
