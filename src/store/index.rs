/*!
The retrieval index: text, markdown and code under a folder, in SQLite FTS5 (`index.db` in the
data dir), so a chat can pull the passages a question is about into its prompt and cite them as
`file:line`.

Files are cut into chunks of `CHUNK_LINES` lines that overlap by a few lines, so an answer that
straddles a cut is still found whole in one chunk. Indexing a folder again replaces what was
there for it. BM25 (FTS5's `rank`) orders the hits; a question is turned into an OR of its words
so that a long question still matches. No embeddings: nothing to download, and a low-power
machine indexes a source tree in seconds.
*/

use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const CHUNK_LINES: usize = 30;
const OVERLAP: usize = 5;
/// Files larger than this are skipped (generated or data files, not prose or code).
const MAX_FILE: u64 = 1 << 20;

/// File name endings that are indexed.
const EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "rst", "org", "adoc", "rs", "py", "js", "ts", "tsx", "jsx", "go", "c",
    "h", "cc", "cpp", "hpp", "java", "kt", "rb", "php", "sh", "bash", "zsh", "fish", "sql", "toml",
    "yaml", "yml", "json", "ini", "cfg", "conf", "html", "css", "lua", "r", "jl", "swift", "cs",
    "scala", "ex", "exs", "erl", "hs", "ml", "tex", "csv", "tsv", "log",
];

/// Folders never descended into.
const SKIP_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "__pycache__",
    "venv",
    ".venv",
    "dist",
];

pub fn open(path: &Path) -> Result<Connection> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).ok();
    }
    let db = Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.busy_timeout(std::time::Duration::from_secs(2))?;
    db.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
             path UNINDEXED, line UNINDEXED, root UNINDEXED, text,
             tokenize = 'unicode61 remove_diacritics 2');",
    )?;
    Ok(db)
}

/// What indexing did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub files: usize,
    pub chunks: usize,
    pub skipped: usize,
}

/// The files under `root` that would be indexed.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                if !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if ft.is_file() {
                let ext = p
                    .extension()
                    .map(|x| x.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                if EXTENSIONS.contains(&ext.as_str()) || name == "README" || name == "Makefile" {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Indexes the files under `root` into `db`, replacing what was indexed for it before.
/// `progress` gets (files done, files in all, the current file).
pub fn build(
    db: &mut Connection,
    root: &Path,
    progress: &mut dyn FnMut(usize, usize, &Path),
) -> Result<Report> {
    let root = std::path::absolute(root)?;
    if !root.is_dir() {
        anyhow::bail!("{}: not a folder", root.display());
    }
    let list = files(&root);
    let key = root.display().to_string();
    let tx = db.transaction()?;
    tx.execute("DELETE FROM chunks WHERE root = ?1", params![key])?;
    let mut rep = Report::default();
    {
        let mut ins =
            tx.prepare("INSERT INTO chunks (path, line, root, text) VALUES (?1, ?2, ?3, ?4)")?;
        for (i, f) in list.iter().enumerate() {
            progress(i, list.len(), f);
            let ok = std::fs::metadata(f)
                .map(|m| m.len() <= MAX_FILE)
                .unwrap_or(false);
            let text = if ok { std::fs::read(f).ok() } else { None };
            let Some(text) = text.and_then(|b| String::from_utf8(b).ok()) else {
                rep.skipped += 1;
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let shown = f.display().to_string();
            let mut start = 0;
            while start < lines.len() {
                let end = (start + CHUNK_LINES).min(lines.len());
                let body = lines[start..end].join("\n");
                if !body.trim().is_empty() {
                    ins.execute(params![shown, (start + 1) as i64, key, body])?;
                    rep.chunks += 1;
                }
                if end == lines.len() {
                    break;
                }
                start = end - OVERLAP;
            }
            rep.files += 1;
        }
        progress(list.len(), list.len(), &root);
    }
    tx.commit()?;
    Ok(rep)
}

/// A passage found for a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub path: String,
    pub line: i64,
    pub text: String,
}

impl Hit {
    pub fn cite(&self) -> String {
        format!("{}:{}", self.path, self.line)
    }
}

/// Words too common to say what a question is about.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "has", "him", "his", "how", "its", "may", "who", "why", "what", "when",
    "where", "which", "does", "did", "this", "that", "with", "from", "have", "there", "their",
    "they", "them", "then", "than", "into", "about", "would", "could", "should", "will", "need",
    "tell", "show", "give", "please", "often", "much", "many",
];

/// The FTS5 query for a question: its words (3 letters or more, common words left out),
/// quoted, OR'ed.
pub fn query_of(question: &str) -> Option<String> {
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

/// The `k` best passages for `question`.
pub fn search(db: &Connection, question: &str, k: usize) -> Result<Vec<Hit>> {
    let Some(q) = query_of(question) else {
        return Ok(Vec::new());
    };
    let mut st = db.prepare(
        "SELECT path, line, text FROM chunks WHERE chunks MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows = st.query_map(params![q, k as i64], |r| {
        Ok(Hit {
            path: r.get(0)?,
            line: r.get(1)?,
            text: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The hits as an attachment titled with their sources (`sources: a.md:1, b.rs:40`), or
/// `None` when there are none.
pub fn sources(hits: &[Hit]) -> Option<fieldkit_panes::llm::Attachment> {
    if hits.is_empty() {
        return None;
    }
    let cites: Vec<String> = hits.iter().map(Hit::cite).collect();
    Some(fieldkit_panes::llm::Attachment {
        title: format!("sources: {}", cites.join(", ")),
        body: to_context(hits),
    })
}

/// The hits as a prompt attachment body: each passage headed by its `file:line`.
pub fn to_context(hits: &[Hit]) -> String {
    let mut s =
        String::from("Passages from the user's files. When you use one, cite it as file:line.\n");
    for h in hits {
        s.push_str(&format!("\n--- {} ---\n{}\n", h.cite(), h.text));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_finds_and_cites() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("notes");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        let mut long = String::new();
        for i in 1..=70 {
            if i == 52 {
                long.push_str("The generator needs diesel every 6 hours.\n");
            } else {
                long.push_str(&format!("line {i} about nothing\n"));
            }
        }
        std::fs::write(root.join("sub/camp.md"), &long).unwrap();
        std::fs::write(root.join("water.txt"), "Filter water at the river.\n").unwrap();
        std::fs::write(root.join("target/skip.md"), "diesel diesel diesel").unwrap();
        std::fs::write(root.join("image.png"), [0u8, 1, 2]).unwrap();
        std::fs::write(root.join("bad.md"), [0xffu8, 0xfe, b'x']).unwrap();
        let mut db = open(&dir.path().join("index.db")).unwrap();
        let mut seen = 0;
        let rep = build(&mut db, &root, &mut |_, n, _| seen = n).unwrap();
        assert_eq!(seen, 3);
        assert_eq!(rep.files, 2);
        assert_eq!(rep.skipped, 1);
        // 70 lines: chunks at 1, 26, 51.
        assert_eq!(rep.chunks, 4);
        let hits = search(&db, "How often does the generator need diesel?", 3).unwrap();
        // The chunk holding the line, and the one before it that overlaps it; not water.txt.
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(
            hits[0].cite().ends_with("sub/camp.md:51"),
            "{}",
            hits[0].cite()
        );
        assert!(
            hits[1].cite().ends_with("sub/camp.md:26"),
            "{}",
            hits[1].cite()
        );
        assert!(hits[0].text.contains("diesel every 6 hours"));
        // Indexing again replaces, not doubles.
        let rep2 = build(&mut db, &root, &mut |_, _, _| {}).unwrap();
        assert_eq!(rep2.chunks, 4);
        assert_eq!(search(&db, "river water", 5).unwrap().len(), 1);
        assert!(search(&db, "?? !!", 5).unwrap().is_empty());
        assert!(to_context(&hits).contains("--- "));
    }
}
