/*!
Completion in the SQL editor: the word before the cursor (and its qualifier, `alias.`), the
candidates for it from the catalog the data worker sent (tables, their columns, functions) and
SQL keywords, and accepting one.
*/

use super::*;

impl SqlPane {
    pub(super) fn word_before_cursor(&self) -> (String, Option<String>) {
        let ta = &self.buf().text;
        let (row, col) = ta.cursor();
        let line: Vec<char> = ta.lines()[row].chars().collect();
        let mut start = col.min(line.len());
        while start > 0 && (line[start - 1].is_alphanumeric() || line[start - 1] == '_') {
            start -= 1;
        }
        let word: String = line[start..col.min(line.len())].iter().collect();
        // `table.col`: the qualifier limits the candidates to that table's columns.
        let qualifier = if start > 0 && line[start - 1] == '.' {
            let mut q = start - 1;
            while q > 0 && (line[q - 1].is_alphanumeric() || line[q - 1] == '_') {
                q -= 1;
            }
            Some(line[q..start - 1].iter().collect())
        } else {
            None
        };
        (word, qualifier)
    }

    /// Candidates for `word`, keywords and catalog names, case-insensitively by prefix.
    pub fn candidates(&self, word: &str, qualifier: Option<&str>) -> Vec<String> {
        let w = word.to_lowercase();
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if s.to_lowercase().starts_with(&w)
                && s.len() > word.len()
                && !out.iter().any(|o| o == s)
            {
                out.push(s.to_string());
            }
        };
        if let Some(q) = qualifier {
            for t in &self.catalog.tables {
                let short = t.name.rsplit('.').next().unwrap_or(&t.name);
                if short.eq_ignore_ascii_case(q) || t.name.eq_ignore_ascii_case(q) {
                    for c in &t.columns {
                        add(&c.name);
                    }
                }
            }
            return out;
        }
        for t in &self.catalog.tables {
            add(&t.name);
        }
        for t in &self.catalog.tables {
            for c in &t.columns {
                add(&c.name);
            }
        }
        for k in KEYWORDS {
            add(k);
        }
        for f in &self.catalog.functions {
            add(f);
        }
        out
    }

    pub(super) fn complete(&mut self, cx: &mut Cx) {
        cx.dirty = true;
        if let Some(c) = &mut self.completion {
            c.sel = (c.sel + 1) % c.items.len().max(1);
            return;
        }
        let (word, qualifier) = self.word_before_cursor();
        if word.is_empty() && qualifier.is_none() {
            self.buf_mut().text.insert_tab();
            return;
        }
        let items = self.candidates(&word, qualifier.as_deref());
        let typed = word.chars().count();
        match items.len() {
            0 => self.last = Some(RunState::Done(format!("no completion for {word:?}"))),
            1 => self.accept(&items[0], typed),
            _ => {
                self.completion = Some(Completion {
                    items,
                    sel: 0,
                    typed,
                })
            }
        }
    }

    pub(super) fn accept(&mut self, item: &str, typed: usize) {
        let ta = &mut self.buf_mut().text;
        for _ in 0..typed {
            ta.delete_char();
        }
        ta.insert_str(item);
    }
}
