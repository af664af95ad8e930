/*!
Completion in the SQL editor: the word before the cursor (and its qualifier, `alias.`), the
candidates for it from the catalog the data worker sent (tables, their columns, functions) and
SQL keywords, and accepting one.

Candidates follow the context, read from the words of the statement before the cursor: after
FROM or JOIN (or a comma in a FROM list) only tables; after `alias.` the columns of the table
the statement gives that alias (`FROM flights f`, `JOIN 'airlines.csv' AS a`); elsewhere the
columns of the statement's tables first, then keywords and functions, then the rest.
*/

use super::*;

/// Where the word being completed stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A table goes here (after FROM, JOIN, or a comma in a FROM list).
    Table,
    /// A column or an expression; the statement's tables, by name as the catalog knows them.
    Expr { tables: Vec<String> },
}

/// A word of SQL, enough to read table references and clause keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A quoted name or string: `'flights.csv'`, `"Trips"`.
    Quoted(String),
    Punct(char),
}

fn tokens(sql: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut it = sql.chars().peekable();
    while let Some(c) = it.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut w = String::from(c);
            while let Some(&n) = it.peek() {
                if n.is_alphanumeric() || n == '_' || n == '.' {
                    w.push(n);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else if c == '\'' || c == '"' {
            let mut w = String::new();
            for n in it.by_ref() {
                if n == c {
                    break;
                }
                w.push(n);
            }
            out.push(Tok::Quoted(w));
        } else if c == '-' && it.peek() == Some(&'-') {
            for n in it.by_ref() {
                if n == '\n' {
                    break;
                }
            }
        } else if !c.is_whitespace() {
            out.push(Tok::Punct(c));
        }
    }
    out
}

/// Words that end a table reference (never an alias).
const CLAUSE: &[&str] = &[
    "WHERE",
    "JOIN",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "LIMIT",
    "HAVING",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "NATURAL",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "WINDOW",
    "QUALIFY",
    "SELECT",
    "FROM",
    "OFFSET",
    "POSITIONAL",
    "ASOF",
    "ANTI",
    "SEMI",
    "SAMPLE",
    "PIVOT",
    "UNPIVOT",
    "RETURNING",
    "SET",
    "VALUES",
];

fn is(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

/// The table references of a statement: (what the catalog calls it, its alias if any).
fn table_refs(toks: &[Tok]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_from = false;
    while i < toks.len() {
        let t = &toks[i];
        let starts = is(t, "FROM") || is(t, "JOIN") || (in_from && *t == Tok::Punct(','));
        if is(t, "FROM") || is(t, "JOIN") {
            in_from = true;
        } else if matches!(t, Tok::Word(w) if CLAUSE.iter().any(|k| w.eq_ignore_ascii_case(k))) {
            in_from = false;
        }
        if starts {
            let name = match toks.get(i + 1) {
                Some(Tok::Word(w)) if !CLAUSE.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                    Some(w.clone())
                }
                // A file read in place: the catalog has it under its file name, if loaded.
                Some(Tok::Quoted(q)) => {
                    let file = q.rsplit('/').next().unwrap_or(q);
                    Some(file.split('.').next().unwrap_or(file).to_string())
                }
                _ => None,
            };
            if let Some(name) = name {
                let mut j = i + 2;
                if toks.get(j).is_some_and(|t| is(t, "AS")) {
                    j += 1;
                }
                let alias = match toks.get(j) {
                    Some(Tok::Word(a)) if !CLAUSE.iter().any(|k| a.eq_ignore_ascii_case(k)) => {
                        Some(a.clone())
                    }
                    _ => None,
                };
                out.push((name, alias));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The context of a word whose statement reads `before` up to it (the word and its
/// qualifier left out) and `whole` in all.
pub fn context(before: &str, whole: &str) -> Context {
    let toks = tokens(before);
    let clause =
        |t: &Tok| matches!(t, Tok::Word(w) if CLAUSE.iter().any(|k| w.eq_ignore_ascii_case(k)));
    let table = match toks.last() {
        Some(t) if is(t, "FROM") || is(t, "JOIN") => true,
        // `FROM a, |` or `FROM a x, |`: a comma whose clause is FROM.
        Some(Tok::Punct(',')) => toks
            .iter()
            .rev()
            .find(|t| clause(t))
            .is_some_and(|t| is(t, "FROM")),
        _ => false,
    };
    if table {
        return Context::Table;
    }
    Context::Expr {
        tables: table_refs(&tokens(whole))
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    }
}

/// The table an alias (or a table's own name) stands for in the statement.
pub fn resolve_alias(whole: &str, q: &str) -> Option<String> {
    table_refs(&tokens(whole))
        .into_iter()
        .find(|(name, alias)| {
            alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(q))
                || name.eq_ignore_ascii_case(q)
                || name
                    .rsplit('.')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(q))
        })
        .map(|(name, _)| name)
}

impl SqlPane {
    pub(super) fn word_before_cursor(&self) -> (String, Option<String>) {
        let (row, col) = self.cursor_at();
        let line: Vec<char> = self.lines()[row].chars().collect();
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

    /// The statement the cursor is in: its text up to the word being completed (and its
    /// qualifier), and all of it.
    pub(super) fn statement_around_word(
        &self,
        word: &str,
        qualifier: Option<&str>,
    ) -> (String, String) {
        let (row, col) = self.cursor_at();
        let lines = self.lines();
        let mut offset = 0;
        for l in &lines[..row] {
            offset += l.len() + 1;
        }
        offset += lines[row]
            .char_indices()
            .nth(col)
            .map(|(b, _)| b)
            .unwrap_or(lines[row].len());
        let text = lines.join("\n");
        let cut = word.len() + qualifier.map(|q| q.len() + 1).unwrap_or(0);
        for (start, stmt) in split_statements(&text) {
            let end = start + stmt.len();
            if offset >= start && offset <= end {
                let upto = offset.saturating_sub(cut).max(start);
                return (text[start..upto].to_string(), stmt.to_string());
            }
        }
        let upto = offset.saturating_sub(cut);
        (text[..upto.min(text.len())].to_string(), text)
    }

    /// Candidates for `word` in its statement's context (see the module's notes).
    pub fn candidates_in(
        &self,
        word: &str,
        qualifier: Option<&str>,
        before: &str,
        whole: &str,
    ) -> Vec<String> {
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
        let short = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
        let table = |name: &str| {
            self.catalog.tables.iter().find(|t| {
                t.name.eq_ignore_ascii_case(name)
                    || short(&t.name).eq_ignore_ascii_case(&short(name))
            })
        };
        if let Some(q) = qualifier {
            let name = resolve_alias(whole, q).unwrap_or_else(|| q.to_string());
            if let Some(t) = table(&name) {
                for c in &t.columns {
                    add(&c.name);
                }
            }
            return out;
        }
        match context(before, whole) {
            Context::Table => {
                for t in &self.catalog.tables {
                    add(&t.name);
                }
            }
            Context::Expr { tables } => {
                for name in &tables {
                    if let Some(t) = table(name) {
                        for c in &t.columns {
                            add(&c.name);
                        }
                    }
                }
                // A statement that names no table yet: any table's columns come first.
                if tables.is_empty() {
                    for t in &self.catalog.tables {
                        for c in &t.columns {
                            add(&c.name);
                        }
                    }
                }
                for k in KEYWORDS {
                    add(k);
                }
                for f in &self.catalog.functions {
                    add(f);
                }
                for t in &self.catalog.tables {
                    add(&t.name);
                }
                for t in &self.catalog.tables {
                    for c in &t.columns {
                        add(&c.name);
                    }
                }
            }
        }
        out
    }

    pub(super) fn complete(&mut self, cx: &mut Cx) {
        cx.dirty = true;
        if let Some(c) = &mut self.completion {
            c.sel = (c.sel + 1) % c.items.len().max(1);
            return;
        }
        // A path being typed in quotes after FROM or JOIN: the server knows the files.
        if let Some(partial) = self.quoted_path_at_cursor() {
            cx.push(Effect::Engine(EngineRequest::Sql(
                SqlRequest::CompletePath { partial },
            )));
            return;
        }
        let (word, qualifier) = self.word_before_cursor();
        if word.is_empty() && qualifier.is_none() {
            self.ed.tab();
            return;
        }
        let (before, whole) = self.statement_around_word(&word, qualifier.as_deref());
        let items = self.candidates_in(&word, qualifier.as_deref(), &before, &whole);
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

    /// The path typed so far when the cursor is inside a quoted name right after FROM or JOIN
    /// (`FROM 'data/fli`).
    fn quoted_path_at_cursor(&self) -> Option<String> {
        let (row, col) = self.cursor_at();
        let line: String = self.lines()[row].chars().take(col).collect();
        if line.matches('\'').count().is_multiple_of(2) {
            return None;
        }
        let open = line.rfind('\'')?;
        let before = &line[..open];
        let last = before.split_whitespace().last()?;
        (last.eq_ignore_ascii_case("FROM") || last.eq_ignore_ascii_case("JOIN"))
            .then(|| line[open + 1..].to_string())
    }

    /// The files the server found for a quoted path: one is taken, several open the list.
    pub(super) fn path_completions(&mut self, typed: String, items: Vec<String>, cx: &mut Cx) {
        cx.dirty = true;
        if self.quoted_path_at_cursor().as_deref() != Some(typed.as_str()) {
            return; // typed on since: stale
        }
        let n = typed.chars().count();
        match items.len() {
            0 => self.last = Some(RunState::Done(format!("no file matches {typed:?}"))),
            1 => self.accept(&items[0], n),
            _ => {
                self.completion = Some(Completion {
                    items,
                    sel: 0,
                    typed: n,
                })
            }
        }
    }

    /// Puts `item` in place of the `typed` chars before the cursor, as one undo step.
    pub(super) fn accept(&mut self, item: &str, typed: usize) {
        let d = self.ed.doc_mut();
        let at = d.sel.head;
        d.replace(at.saturating_sub(typed)..at, item);
        d.break_typing();
        self.ed.follow_cursor();
    }
}
