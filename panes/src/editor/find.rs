//! Find and replace: the bar's keys, a search step (wrapping, said so), replacing the match
//! under the selection, and replace-all as one undo step.

use super::*;

impl EditorPane {
    pub(super) fn finder(&mut self) -> Option<Finder> {
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

    pub(super) fn find_step(&mut self, forward: bool) {
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        let hit = if forward {
            f.next(&d.rope, if r.is_empty() { r.start } else { r.end })
        } else {
            f.prev(&d.rope, r.start)
        };
        self.show_hit(hit);
    }

    /// The replacement text and the compiled search, when the replace bar is open, the
    /// buffer may change and the pattern compiles.
    fn replacing(&mut self) -> Option<(String, Finder)> {
        let Bar::Find {
            replace: Some(with),
            ..
        } = &self.bar
        else {
            return None;
        };
        let with = with.clone();
        if !self.editable() {
            return None;
        }
        Some((with, self.finder()?))
    }

    pub(super) fn replace_one(&mut self) {
        let Some((with, f)) = self.replacing() else {
            return;
        };
        let d = &mut self.buf_mut().doc;
        let r = d.sel.range();
        // The selection is a match: replace it, then find the next.
        let hits = f.all(&Rope::from(d.rope.slice(r.clone())), 1);
        if !r.is_empty() && hits.first() == Some(&(0..r.len())) {
            d.replace(r, &with);
        }
        self.find_step(true);
    }

    pub(super) fn replace_all(&mut self) {
        let Some((with, f)) = self.replacing() else {
            return;
        };
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
    pub(super) fn incremental(&mut self) {
        if self.query.text.is_empty() {
            if let Bar::Find { error, .. } = &mut self.bar {
                *error = None;
            }
            return;
        }
        let Some(f) = self.finder() else { return };
        let d = &mut self.buf_mut().doc;
        let start = d.sel.range().start;
        let hit = f.next(&d.rope, start);
        self.show_hit(hit);
    }

    /// Selects a match found (saying when the search wrapped), or says there was none.
    fn show_hit(&mut self, hit: Option<(std::ops::Range<usize>, bool)>) {
        match hit {
            Some((m, wrapped)) => {
                let d = &mut self.buf_mut().doc;
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

    pub(super) fn bar_input(&mut self, k: &KeyEvent) -> Outcome {
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
}
