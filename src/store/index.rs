/*!
The retrieval index: text, markdown and code under a folder, in SQLite FTS5 (`index.db` in the
data dir), so a chat can pull the passages a question is about into its prompt and cite them as
`file:line`.

Files are cut into chunks of `CHUNK_LINES` lines that overlap by a few lines, so an answer that
straddles a cut is still found whole in one chunk. Indexing a folder again replaces what was
there for it, in one transaction (a run stopped half way leaves the old index). BM25 (FTS5's
`rank`) orders the hits by words; a question is turned into an OR of its words so that a long
question still matches.

With an embedding model (`[llm.tasks] embeddings`, or a registered GGUF that pools), each chunk
also gets a vector, stored beside it (`vectors`, keyed by the chunk's rowid) with the model and
its dimension per folder (`embedded`). A question is then ranked both ways and the two lists
are fused by reciprocal rank (`fuse`: each passage scores the sum of 1/(60 + its rank) in
each list, so one found high by either way comes up, and one found by both comes first).
Vectors are compared by brute force: a personal index is thousands of chunks, a few
milliseconds of dot products, and no second index to keep in step. A folder embedded by
another model, or one of another dimension, is searched by words alone, and `search` says so
(the CLI offers to embed it again). Without an embedding model, words alone, as before: nothing
to download, and a low-power machine indexes a source tree in seconds.
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
             tokenize = 'unicode61 remove_diacritics 2');
         CREATE TABLE IF NOT EXISTS vectors (
             id INTEGER PRIMARY KEY, root TEXT NOT NULL, vec BLOB NOT NULL);
         CREATE INDEX IF NOT EXISTS vectors_root ON vectors (root);
         CREATE TABLE IF NOT EXISTS embedded (
             root TEXT PRIMARY KEY, model TEXT NOT NULL, dim INTEGER NOT NULL,
             at INTEGER NOT NULL);",
    )?;
    Ok(db)
}

/// What indexing did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub files: usize,
    pub chunks: usize,
    pub skipped: usize,
    /// The embedding model and its dimension, when chunks were embedded.
    pub embedded: Option<(String, usize)>,
    /// Other folders in the index whose vectors another model or dimension made: found by
    /// words alone until they are indexed again.
    pub stale: Vec<Embedded>,
}

/// A folder's vectors: which model made them, and their dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub root: String,
    pub model: String,
    pub dim: usize,
}

/// What makes the vectors: the model's name, and a function from texts to unit vectors.
pub struct Embedder<'a> {
    pub model: String,
    #[allow(clippy::type_complexity)]
    pub embed: &'a mut dyn FnMut(&[String]) -> Result<Vec<Vec<f32>>>,
}

/// Where indexing is: reading files, or embedding chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading,
    Embedding,
}

/// Chunks embedded per call (and per progress step).
const EMBED_BATCH: usize = 8;

/// The folders in the index and their vectors' model and dimension (`None`: words only).
pub fn roots(db: &Connection) -> Result<Vec<(String, Option<Embedded>)>> {
    let mut st = db.prepare(
        "SELECT DISTINCT c.root, e.model, e.dim FROM chunks c LEFT JOIN embedded e
         ON e.root = c.root ORDER BY c.root",
    )?;
    let rows = st.query_map([], |r| {
        let root: String = r.get(0)?;
        let model: Option<String> = r.get(1)?;
        let dim: Option<i64> = r.get(2)?;
        Ok((
            root.clone(),
            model.zip(dim).map(|(model, dim)| Embedded {
                root,
                model,
                dim: dim as usize,
            }),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The folders embedded by another model than `model`, or to another dimension than `dim`.
pub fn stale(db: &Connection, model: &str, dim: usize) -> Result<Vec<Embedded>> {
    Ok(roots(db)?
        .into_iter()
        .filter_map(|(_, e)| e)
        .filter(|e| e.model != model || e.dim != dim)
        .collect())
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
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

/// Indexes the files under `root` into `db`, replacing what was indexed for it before, and
/// embeds its chunks with `embedder` when there is one. `progress` gets the stage, (done, in
/// all) and the current file or model.
pub fn build(
    db: &mut Connection,
    root: &Path,
    embedder: Option<Embedder>,
    progress: &mut dyn FnMut(Stage, usize, usize, &str),
) -> Result<Report> {
    let root = std::path::absolute(root)?;
    if !root.is_dir() {
        anyhow::bail!("{}: not a folder", root.display());
    }
    let list = files(&root);
    let key = root.display().to_string();
    let tx = db.transaction()?;
    tx.execute("DELETE FROM chunks WHERE root = ?1", params![key])?;
    tx.execute("DELETE FROM vectors WHERE root = ?1", params![key])?;
    tx.execute("DELETE FROM embedded WHERE root = ?1", params![key])?;
    let mut rep = Report::default();
    // The rowid and text of each chunk, for the embedder.
    let mut made: Vec<(i64, String)> = Vec::new();
    {
        let mut ins =
            tx.prepare("INSERT INTO chunks (path, line, root, text) VALUES (?1, ?2, ?3, ?4)")?;
        for (i, f) in list.iter().enumerate() {
            progress(Stage::Reading, i, list.len(), &f.display().to_string());
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
                    if embedder.is_some() {
                        made.push((tx.last_insert_rowid(), body));
                    }
                    rep.chunks += 1;
                }
                if end == lines.len() {
                    break;
                }
                start = end - OVERLAP;
            }
            rep.files += 1;
        }
        progress(Stage::Reading, list.len(), list.len(), &key);
    }
    if let Some(e) = embedder {
        let mut ins = tx.prepare("INSERT INTO vectors (id, root, vec) VALUES (?1, ?2, ?3)")?;
        let mut dim = None;
        progress(Stage::Embedding, 0, made.len(), &e.model);
        for (n, batch) in made.chunks(EMBED_BATCH).enumerate() {
            let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
            let vecs = (e.embed)(&texts)?;
            if vecs.len() != texts.len() {
                anyhow::bail!(
                    "{} gave {} vectors for {} passages",
                    e.model,
                    vecs.len(),
                    texts.len()
                );
            }
            for ((id, _), v) in batch.iter().zip(&vecs) {
                let d = *dim.get_or_insert(v.len());
                if v.len() != d || d == 0 {
                    anyhow::bail!(
                        "{} gave vectors of {d} and then {} dimensions; not indexing with it",
                        e.model,
                        v.len()
                    );
                }
                ins.execute(params![id, key, to_blob(v)])?;
            }
            let done = (n * EMBED_BATCH + batch.len()).min(made.len());
            progress(Stage::Embedding, done, made.len(), &e.model);
        }
        drop(ins);
        if let Some(d) = dim {
            tx.execute(
                "INSERT INTO embedded (root, model, dim, at) VALUES (?1, ?2, ?3, unixepoch())",
                params![key, e.model, d as i64],
            )?;
            rep.embedded = Some((e.model.clone(), d));
            rep.stale = stale(&tx, &e.model, d)?;
        }
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

/// The `k` best passages for `question`, by words alone.
pub fn search(db: &Connection, question: &str, k: usize) -> Result<Vec<Hit>> {
    let ids = by_words(db, question, k)?;
    hits(db, &ids)
}

/// The rowids of the `k` chunks BM25 ranks best for `question`.
fn by_words(db: &Connection, question: &str, k: usize) -> Result<Vec<i64>> {
    let Some(q) = query_of(question) else {
        return Ok(Vec::new());
    };
    let mut st =
        db.prepare("SELECT rowid FROM chunks WHERE chunks MATCH ?1 ORDER BY rank LIMIT ?2")?;
    let rows = st.query_map(params![q, k as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The chunks `ids`, in that order.
fn hits(db: &Connection, ids: &[i64]) -> Result<Vec<Hit>> {
    let mut st = db.prepare("SELECT path, line, text FROM chunks WHERE rowid = ?1")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let hit = st.query_row(params![id], |r| {
            Ok(Hit {
                path: r.get(0)?,
                line: r.get(1)?,
                text: r.get(2)?,
            })
        });
        match hit {
            Ok(h) => out.push(h),
            Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The `k` chunks whose vectors are nearest `query` (a unit vector from `model`), among the
/// folders `model` embedded to the same dimension.
fn by_meaning(db: &Connection, model: &str, query: &[f32], k: usize) -> Result<Vec<i64>> {
    let mut st = db.prepare(
        "SELECT v.id, v.vec FROM vectors v JOIN embedded e ON e.root = v.root
         WHERE e.model = ?1 AND e.dim = ?2",
    )?;
    let mut rows = st.query(params![model, query.len() as i64])?;
    let mut scored: Vec<(f32, i64)> = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        // A row that is not a vector of this width (a damaged file) is passed over.
        let Ok(blob) = r.get_ref(1)?.as_blob() else {
            continue;
        };
        let v = from_blob(blob);
        if v.len() != query.len() {
            continue;
        }
        let dot: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
        scored.push((dot, id));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(k).map(|(_, id)| id).collect())
}

/// Reciprocal rank fusion's constant: ranks past the first few count for less, and no single
/// list's first place outweighs a passage both lists rank well.
const RRF_K: f64 = 60.0;

/// Candidates taken from each ranking before fusing.
const CANDIDATES: usize = 50;

/// Reciprocal rank fusion: the ids of `lists` (each best first) ordered by the sum over the
/// lists of 1/(60 + rank), rank counted from 1; ties keep the order of first appearance.
pub fn fuse(lists: &[&[i64]], k: usize) -> Vec<i64> {
    let mut score: Vec<(i64, f64, usize)> = Vec::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let add = 1.0 / (RRF_K + rank as f64 + 1.0);
            match score.iter_mut().find(|(i, _, _)| i == id) {
                Some(s) => s.1 += add,
                None => {
                    let seen = score.len();
                    score.push((*id, add, seen));
                }
            }
        }
    }
    score.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    score.into_iter().take(k).map(|(id, _, _)| id).collect()
}

/// What a search found, and how.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// Ranked by meaning as well as words.
    pub by_meaning: bool,
    /// Folders found by words alone although they have vectors, and why: another model's,
    /// or another dimension's.
    pub note: Option<String>,
}

/// The `k` best passages for `question`: by words, and by meaning when `query` (the question's
/// unit vector from the embedding model named) is given, fused by reciprocal rank.
pub fn search_fused(
    db: &Connection,
    question: &str,
    k: usize,
    query: Option<(&str, &[f32])>,
) -> Result<Found> {
    let words = by_words(db, question, CANDIDATES.max(k))?;
    let Some((model, q)) = query else {
        let hits = hits(db, &words[..words.len().min(k)])?;
        return Ok(Found {
            hits,
            ..Default::default()
        });
    };
    let stale = stale(db, model, q.len())?;
    let note = (!stale.is_empty()).then(|| {
        let list: Vec<String> = stale
            .iter()
            .map(|e| format!("{} ({}, {} dimensions)", e.root, e.model, e.dim))
            .collect();
        format!(
            "found by words alone, as their vectors are not {model}'s {} dimensions: {}; \
             `fieldkit index --rebuild` embeds them again",
            q.len(),
            list.join(", ")
        )
    });
    let meaning = by_meaning(db, model, q, CANDIDATES.max(k))?;
    let ids = fuse(&[&words, &meaning], k);
    Ok(Found {
        hits: hits(db, &ids)?,
        by_meaning: !meaning.is_empty(),
        note,
    })
}

/// Whether any folder in the index has vectors (a question is then worth embedding).
pub fn has_vectors(db: &Connection) -> Result<bool> {
    Ok(db
        .query_row("SELECT EXISTS (SELECT 1 FROM embedded)", [], |r| r.get(0))
        .unwrap_or(false))
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

/// `sources`, its title saying when meaning ranked them too, and any note (folders searched
/// by words alone).
pub fn found_sources(f: &Found) -> Option<fieldkit_panes::llm::Attachment> {
    let mut att = sources(&f.hits)?;
    if f.by_meaning {
        att.title = att
            .title
            .replacen("sources: ", "sources by words and meaning: ", 1);
    }
    if let Some(n) = &f.note {
        att.title.push_str(&format!(" · {n}"));
    }
    Some(att)
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
        let rep = build(&mut db, &root, None, &mut |_, _, n, _| seen = n).unwrap();
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
        let rep2 = build(&mut db, &root, None, &mut |_, _, _, _| {}).unwrap();
        assert_eq!(rep2.chunks, 4);
        assert_eq!(search(&db, "river water", 5).unwrap().len(), 1);
        assert!(search(&db, "?? !!", 5).unwrap().is_empty());
        assert!(to_context(&hits).contains("--- "));
    }

    #[test]
    fn fusion_adds_reciprocal_ranks_and_keeps_first_seen_on_ties() {
        // 1: 1/61 + 1/63, 3: 1/63 + 1/61 (a tie: 1 was seen first), 2 and 4: 1/62 each.
        assert_eq!(fuse(&[&[1, 2, 3], &[3, 4, 1]], 10), vec![1, 3, 2, 4]);
        // Found by both, low in each, beats found high by one alone past a few places.
        let words: Vec<i64> = (10..20).chain([7]).collect();
        let meaning: Vec<i64> = (20..30).chain([7]).collect();
        let fused = fuse(&[&words, &meaning], 3);
        assert_eq!(fused[0], 7, "{fused:?}");
        assert_eq!(fuse(&[&[], &[5]], 3), vec![5]);
        assert!(fuse(&[], 3).is_empty());
        assert_eq!(fuse(&[&[1, 2, 3]], 2), vec![1, 2]);
    }

    /// Hand-made vectors: what a passage is about, by the words a test puts in it.
    fn about(text: &str) -> Vec<f32> {
        let t = text.to_lowercase();
        let v = if t.contains("diesel") || t.contains("power") {
            [1.0, 0.0, 0.0]
        } else if t.contains("river") || t.contains("drink") {
            [0.0, 1.0, 0.0]
        } else {
            [0.0, 0.0, 1.0]
        };
        v.to_vec()
    }

    fn notes(dir: &Path) -> PathBuf {
        let root = dir.join("notes");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("fuel.md"), "Refill the diesel tank at dawn.\n").unwrap();
        std::fs::write(root.join("water.md"), "Filter what comes from the river.\n").unwrap();
        std::fs::write(root.join("camp.md"), "The camp generator is loud.\n").unwrap();
        root
    }

    #[test]
    fn meaning_finds_what_words_miss_and_both_rank_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = notes(dir.path());
        let mut db = open(&dir.path().join("index.db")).unwrap();
        let mut embed = |texts: &[String]| Ok(texts.iter().map(|t| about(t)).collect());
        let mut stages = Vec::new();
        let rep = build(
            &mut db,
            &root,
            Some(Embedder {
                model: "hand".into(),
                embed: &mut embed,
            }),
            &mut |st, done, all, _| stages.push((st, done, all)),
        )
        .unwrap();
        assert_eq!(rep.embedded, Some(("hand".to_string(), 3)));
        assert!(rep.stale.is_empty());
        // Progress went through both stages, ending with every chunk embedded.
        assert_eq!(stages.last(), Some(&(Stage::Embedding, 3, 3)));
        assert!(stages.contains(&(Stage::Reading, 3, 3)));
        assert!(has_vectors(&db).unwrap());

        // "power supply": no passage has those words; its vector is the diesel one.
        let q = about("power supply");
        assert!(search(&db, "power supply", 3).unwrap().is_empty());
        let f = search_fused(&db, "power supply", 3, Some(("hand", &q))).unwrap();
        assert!(f.by_meaning);
        assert_eq!(f.note, None);
        assert!(f.hits[0].path.ends_with("fuel.md"), "{:?}", f.hits);
        // "river water to drink": words and meaning both point at water.md, which comes first.
        let q = about("drink");
        let f = search_fused(&db, "river water to drink", 3, Some(("hand", &q))).unwrap();
        assert!(f.hits[0].path.ends_with("water.md"), "{:?}", f.hits);
        // Words alone when no vector is given.
        let f = search_fused(&db, "generator", 3, None).unwrap();
        assert!(!f.by_meaning);
        assert_eq!(f.hits.len(), 1);
        assert!(f.hits[0].path.ends_with("camp.md"));
        let att =
            found_sources(&search_fused(&db, "power", 1, Some(("hand", &about("power")))).unwrap())
                .unwrap();
        assert!(
            att.title.starts_with("sources by words and meaning: "),
            "{}",
            att.title
        );
    }

    #[test]
    fn a_changed_dimension_is_said_and_searched_by_words_and_a_bad_embedder_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = notes(dir.path());
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("power.md"), "Solar power for the radio.\n").unwrap();
        let mut db = open(&dir.path().join("index.db")).unwrap();
        let mut three = |texts: &[String]| Ok(texts.iter().map(|t| about(t)).collect());
        build(
            &mut db,
            &root,
            Some(Embedder {
                model: "m".into(),
                embed: &mut three,
            }),
            &mut |_, _, _, _| {},
        )
        .unwrap();
        // The same model name, now giving four dimensions (another file registered under it).
        let mut four = |texts: &[String]| {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = about(t);
                    v.push(0.0);
                    v
                })
                .collect())
        };
        let rep = build(
            &mut db,
            &other,
            Some(Embedder {
                model: "m".into(),
                embed: &mut four,
            }),
            &mut |_, _, _, _| {},
        )
        .unwrap();
        assert_eq!(rep.embedded, Some(("m".to_string(), 4)));
        assert_eq!(rep.stale.len(), 1);
        assert_eq!(rep.stale[0].dim, 3);
        assert!(rep.stale[0].root.ends_with("notes"));
        let q = vec![1.0, 0.0, 0.0, 0.0];
        let f = search_fused(&db, "diesel power", 5, Some(("m", &q))).unwrap();
        let note = f.note.clone().unwrap();
        assert!(note.contains("notes (m, 3 dimensions)"), "{note}");
        assert!(note.contains("fieldkit index --rebuild"), "{note}");
        // notes/ is still found, by its words; other/ by both.
        assert!(
            f.hits.iter().any(|h| h.path.ends_with("fuel.md")),
            "{:?}",
            f.hits
        );
        assert!(f.hits[0].path.ends_with("power.md"), "{:?}", f.hits);
        // A damaged vector (text where a blob was, a cut blob) is passed over, not an error.
        db.execute("UPDATE vectors SET vec = 'x' WHERE root LIKE '%other'", [])
            .unwrap();
        let f = search_fused(&db, "diesel", 5, Some(("m", &q))).unwrap();
        assert!(f.hits[0].path.ends_with("fuel.md"), "{:?}", f.hits);
        db.execute(
            "UPDATE vectors SET vec = x'0000' WHERE root LIKE '%other'",
            [],
        )
        .unwrap();
        assert!(search_fused(&db, "diesel", 5, Some(("m", &q))).is_ok());

        // An embedder that changes dimension mid-way, or fails, is an error, and the folder's
        // index is what it was.
        let mut n = 0;
        let mut wobbly = |texts: &[String]| {
            n += 1;
            Ok(texts.iter().map(|_| vec![1.0; n]).collect())
        };
        let many = dir.path().join("many");
        std::fs::create_dir_all(&many).unwrap();
        for i in 0..20 {
            std::fs::write(many.join(format!("{i}.md")), format!("note {i}\n")).unwrap();
        }
        let err = build(
            &mut db,
            &many,
            Some(Embedder {
                model: "w".into(),
                embed: &mut wobbly,
            }),
            &mut |_, _, _, _| {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("dimensions"), "{err:#}");
        let mut failing = |_: &[String]| -> Result<Vec<Vec<f32>>> { anyhow::bail!("killed") };
        let err = build(
            &mut db,
            &root,
            Some(Embedder {
                model: "f".into(),
                embed: &mut failing,
            }),
            &mut |_, _, _, _| {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("killed"));
        // notes/ keeps its chunks and its model-m vectors.
        assert_eq!(search(&db, "diesel", 3).unwrap().len(), 1);
        let kept = roots(&db).unwrap();
        assert!(
            kept.iter().any(|(r, e)| r.ends_with("notes")
                && e.as_ref().is_some_and(|e| e.model == "m" && e.dim == 3)),
            "{kept:?}"
        );
        assert!(!kept.iter().any(|(r, _)| r.ends_with("many")));
    }
}
