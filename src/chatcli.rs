/*!
The headless side of the chat: `fieldkit model add|ls|rm`, `fieldkit chat` and
`fieldkit index`.

Like `fieldkit sql`, these run in their own process and need no server: `chat` loads the model
here (llama.cpp in this process, so a crash ends this command only) and streams the answer to
stdout as it comes, with progress and figures on stderr when that is a terminal. They share
state.db with the workspace, so `chat --session NAME` continues a session the chat pane shows.
*/

use crate::engine::llm::{check_model, Engine, ModelRef};
use crate::format::gguf;
use crate::paths::Dirs;
use crate::store::chats::{folded_id, turns_of, ModelEntry};
use crate::store::index;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use fieldkit_panes::llm::{LlmEvent, Role, StoredMsg, Turn};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn store(dirs: &Dirs) -> Result<Store> {
    let (st, note) = Store::open(&dirs.state_db())?;
    if let Some(n) = note {
        eprintln!("fieldkit: {n}");
    }
    Ok(st)
}

/// `model add PATH [--name N] [--url URL --remote-model M]`.
pub fn model_add(
    dirs: &Dirs,
    path: Option<String>,
    name: Option<String>,
    url: Option<String>,
    remote_model: Option<String>,
) -> Result<i32> {
    let st = store(dirs)?;
    let entry = match (path, url) {
        (Some(p), None) => {
            let abs = std::path::absolute(&p)?;
            let info = check_model(&abs, None)?;
            let name = name.unwrap_or_else(|| default_name(&abs, &info));
            println!(
                "{name}: {} · {} · {} · context {}",
                info.arch(),
                info.quantization(),
                gguf::human(info.file_len),
                info.context_length()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into())
            );
            ModelEntry {
                name,
                path: Some(abs),
                url: None,
                remote_model: None,
            }
        }
        (None, Some(u)) => {
            crate::remote::parse_url(&u)?;
            let rm = remote_model.ok_or_else(|| {
                anyhow!("a remote model needs --remote-model (the name its server knows)")
            })?;
            let name = name.unwrap_or_else(|| rm.clone());
            println!("{name}: {u} (remote; used only with allow_remote = true under [llm])");
            ModelEntry {
                name,
                path: None,
                url: Some(u),
                remote_model: Some(rm),
            }
        }
        (Some(_), Some(_)) => bail!("give a file or --url, not both"),
        (None, None) => bail!("give the model's file (a .gguf), or --url for a remote one"),
    };
    st.add_model(&entry)?;
    Ok(0)
}

/// The name a model is registered by: `general.name` made tidy, else the file stem.
fn default_name(path: &Path, info: &gguf::Info) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    let base = info.name().map(str::to_string).unwrap_or(stem);
    base.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `model ls`: name, size, arch, quantization, context length, from each file's header now.
pub fn model_ls(dirs: &Dirs) -> Result<i32> {
    let st = store(dirs)?;
    let cfg = crate::config::load(dirs).config.llm;
    let models = st.models()?;
    if models.is_empty() {
        println!("no models: add one with `fieldkit model add PATH.gguf`");
        return Ok(0);
    }
    let default = st.model(None, cfg.model.as_deref()).ok().map(|m| m.name);
    let mut rows = vec![[
        "NAME".to_string(),
        "SIZE".into(),
        "ARCH".into(),
        "QUANT".into(),
        "CONTEXT".into(),
        "WHERE".into(),
    ]];
    for m in &models {
        let star = if Some(&m.name) == default.as_ref() {
            " *"
        } else {
            ""
        };
        let name = format!("{}{star}", m.name);
        match (&m.path, &m.url) {
            (Some(p), _) => match gguf::read(p) {
                Ok(i) => rows.push([
                    name,
                    gguf::human(i.file_len),
                    if i.is_embedding() {
                        format!("{} (embeddings)", i.arch())
                    } else {
                        i.arch().to_string()
                    },
                    i.quantization(),
                    i.context_length()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "?".into()),
                    p.display().to_string(),
                ]),
                Err(e) => rows.push([
                    name,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("{} ({e})", p.display()),
                ]),
            },
            (None, Some(u)) => rows.push([
                name,
                "-".into(),
                "remote".into(),
                "-".into(),
                "-".into(),
                format!(
                    "{u} · {}{}",
                    m.remote_model.clone().unwrap_or_default(),
                    if cfg.allow_remote {
                        ""
                    } else {
                        " (off: allow_remote = false)"
                    }
                ),
            ]),
            (None, None) => {}
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        println!("{}", line.trim_end());
    }
    println!(
        "* the default (`model` under [llm] in config.toml, else the first local one that is \
         not an embedding model)"
    );
    match st.embedding_model(cfg.tasks.embeddings.as_deref()) {
        Ok(Some(e)) => println!(
            "retrieval by meaning: {} embeds passages and questions (`fieldkit index PATH`)",
            e.name
        ),
        Ok(None) => println!(
            "retrieval by words alone: no embedding model (add one, e.g. bge-small-en-v1.5's GGUF)"
        ),
        Err(e) => println!("retrieval by words alone: [llm.tasks] embeddings: {e:#}"),
    }
    Ok(0)
}

pub fn model_rm(dirs: &Dirs, name: &str) -> Result<i32> {
    let st = store(dirs)?;
    if st.remove_model(name)? {
        println!("removed {name} (its file is left where it is)");
        Ok(0)
    } else {
        bail!("no model named {name:?} (`fieldkit model ls` lists them)")
    }
}

/// The model `want` names: a registered name, or a path to a .gguf file.
pub fn resolve_model(
    st: &Store,
    cfg: &crate::config::LlmConfig,
    want: Option<&str>,
) -> Result<ModelRef> {
    if let Some(w) = want {
        let p = PathBuf::from(w);
        if p.is_file() || w.ends_with(".gguf") {
            let abs = std::path::absolute(&p)?;
            let name = abs
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| w.to_string());
            return Ok(ModelRef::local(&name, &abs));
        }
    }
    let e = st.model(want, cfg.model.as_deref())?;
    e.model_ref(cfg)
}

pub struct ChatArgs {
    pub model: Option<String>,
    pub session: Option<String>,
    pub retrieval: bool,
    pub prompt: String,
}

/// `fieldkit chat`.
pub fn chat(dirs: &Dirs, a: ChatArgs) -> Result<i32> {
    let prompt = if a.prompt == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the prompt from stdin")?;
        s
    } else {
        a.prompt.clone()
    };
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    let cfg = crate::config::load(dirs).config.llm;
    let st = store(dirs)?;
    let model = resolve_model(&st, &cfg, a.model.as_deref())?;
    let session = match &a.session {
        Some(n) => Some(st.chat_by_name(n, &cfg.system_prompt)?),
        None => None,
    };
    let (mut turns, mut ids) = match session.and_then(|id| st.chat(id).ok().flatten()) {
        Some(s) => turns_of(&s),
        None => (
            vec![Turn::new(Role::System, cfg.system_prompt.clone())],
            vec![None],
        ),
    };
    let mut user = StoredMsg::new("user", prompt.trim_end(), "");
    if a.retrieval {
        let db = index::open(&dirs.data.join("index.db"))?;
        let found = retrieve(&st, &cfg, &db, &prompt)?;
        if let Some(n) = &found.note {
            eprintln!("fieldkit: {n}");
        }
        match index::found_sources(&found) {
            Some(att) => user.attachments.push(att),
            None => eprintln!(
                "fieldkit: the index has nothing for this question (`fieldkit index PATH`)"
            ),
        }
    }
    let user_id = match session {
        Some(id) => Some(st.add_message(id, &user)?),
        None => None,
    };
    turns.push(Turn::new(
        Role::User,
        crate::store::chats::user_prompt(&user),
    ));
    ids.push(user_id);
    let tty = std::io::stderr().is_terminal();
    let params = cfg.params();
    let cancel = AtomicBool::new(false);
    let mut out = std::io::stdout();
    let mut answer = String::new();
    let mut summary = None;
    let stats = if let Some((url, rm)) = &model.remote {
        st.audit(
            "remote-chat",
            &format!(
                "fieldkit chat: {} turns ({} bytes) to {url} model {rm}",
                turns.len(),
                turns.iter().map(|t| t.content.len()).sum::<usize>()
            ),
        )?;
        crate::remote::chat(url, rm, &turns, &params, &cancel, &mut |t| {
            answer.push_str(t);
            let _ = out.write_all(t.as_bytes());
            let _ = out.flush();
        })?
    } else {
        let mut engine = Engine::new()?;
        let shown = model.name.clone();
        engine.load(&model, &crate::engine::llm::settings_from(&cfg), move |p| {
            if tty {
                eprint!("\rloading {shown}: {:>3.0}%", p * 100.0);
                if p >= 1.0 {
                    eprint!("\r\x1b[K");
                }
            }
        })?;
        // `[llm.tasks] summaries`: a local model folds a long session's older turns.
        let summary_model = match &cfg.tasks.summaries {
            Some(m) => {
                let r = st
                    .model(Some(m), None)
                    .and_then(|e| e.model_ref(&cfg))
                    .context("[llm.tasks] summaries")?;
                if r.remote.is_some() {
                    bail!(
                        "[llm.tasks] summaries = {m:?} is a remote model; summaries are made on \
                         this machine, so name a local one"
                    );
                }
                Some(r)
            }
            None => None,
        };
        let settings = crate::engine::llm::settings_from(&cfg);
        let folding = summary_model.as_ref().map(|m| (m, &settings));
        engine.chat_folding_with(&turns, &[], folding, &params, &cancel, &mut |ev| match ev {
            LlmEvent::Token(t) => {
                answer.push_str(&t);
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
            }
            LlmEvent::Summarized { upto, text } => {
                if tty {
                    eprintln!("(the {upto} oldest turns were summarised to fit the context)");
                }
                summary = Some((text, folded_id(&ids, upto)));
            }
            _ => {}
        })?
    };
    if !answer.ends_with('\n') {
        println!();
    }
    let meta = stats.meta(&model.name);
    if tty {
        eprintln!("{meta}");
    }
    if let Some(id) = session {
        if let Some((s, folded)) = summary {
            st.add_message(id, &StoredMsg::summary(s, folded))?;
        }
        st.add_message(id, &StoredMsg::new("assistant", answer, meta))?;
        // A shared session: the running server hands the new messages to the team (one that
        // is not running does when it starts).
        if st.chat_share(id).ok().flatten().is_some() {
            if let Some(name) = &a.session {
                let ask =
                    crate::protocol::Command::Mesh(crate::protocol::MeshCommand::ChatChanged {
                        session: name.clone(),
                    });
                if let Err(e) = crate::client::command(dirs, None, ask, false) {
                    tracing::debug!("no server told of the shared chat: {e:#}");
                }
            }
        }
    }
    Ok(0)
}

/// The passages for `prompt`: by words, and by meaning when an embedding model is registered
/// and the index holds vectors (the model is loaded here for the question).
fn retrieve(
    st: &Store,
    cfg: &crate::config::LlmConfig,
    db: &rusqlite::Connection,
    prompt: &str,
) -> Result<index::Found> {
    let k = cfg.retrieval_chunks;
    if !index::has_vectors(db)? {
        return index::search_fused(db, prompt, k, None);
    }
    let Some(entry) = st.embedding_model(cfg.tasks.embeddings.as_deref())? else {
        let mut f = index::search_fused(db, prompt, k, None)?;
        f.note = Some(
            "found by words alone: the index holds vectors, but no embedding model is \
             registered (`fieldkit model add` one, or `fieldkit index --rebuild` for words alone)"
                .into(),
        );
        return Ok(f);
    };
    let m = entry.model_ref(cfg)?;
    let vector = (|| -> Result<Vec<f32>> {
        if m.remote.is_some() {
            bail!("{} is remote; embeddings are made by a local GGUF", m.name);
        }
        let mut en = Engine::new()?;
        en.load(&m, &crate::engine::llm::settings_from(cfg), |_| {})?;
        let mut v = en.embed(
            &[prompt.to_string()],
            &AtomicBool::new(false),
            &mut |_, _| {},
        )?;
        v.pop().context("no vector came")
    })();
    match vector {
        Ok(v) => index::search_fused(db, prompt, k, Some((&m.name, &v))),
        Err(e) => {
            let mut f = index::search_fused(db, prompt, k, None)?;
            f.note = Some(format!("found by words alone: {}: {e:#}", m.name));
            Ok(f)
        }
    }
}

/// A progress bar on stderr: `[#####-----] done/all what`.
fn bar(done: usize, all: usize, what: &str) {
    let w = 30;
    let filled = done.min(all) * w / all.max(1);
    eprint!(
        "\r[{}{}] {done}/{all} {what}\x1b[K",
        "#".repeat(filled),
        "-".repeat(w - filled)
    );
}

/// `fieldkit index PATH` (a folder), or `fieldkit index --rebuild` (every folder indexed so
/// far, again: after changing the embedding model). With an embedding model the chunks are
/// embedded too, with a second progress bar; folders another model embedded are offered a
/// rebuild.
pub fn index_cmd(dirs: &Dirs, path: Option<&str>, rebuild: bool) -> Result<i32> {
    let cfg = crate::config::load(dirs).config.llm;
    let db_path = dirs.data.join("index.db");
    let mut db = index::open(&db_path)?;
    let mut queue: Vec<PathBuf> = match path {
        Some(p) => vec![PathBuf::from(p)],
        None if rebuild => index::roots(&db)?
            .into_iter()
            .map(|(r, _)| PathBuf::from(r))
            .collect(),
        None => bail!(
            "say which folder: `fieldkit index PATH`, or `fieldkit index --rebuild` for every \
             folder indexed so far"
        ),
    };
    if queue.is_empty() {
        println!("the index is empty: nothing to rebuild (`fieldkit index PATH` adds a folder)");
        return Ok(0);
    }
    let tty = std::io::stderr().is_terminal();
    let st = store(dirs)?;
    let emb = st.embedding_model(cfg.tasks.embeddings.as_deref())?;
    let mut engine = None;
    if let Some(e) = &emb {
        let m = e.model_ref(&cfg)?;
        if m.remote.is_some() {
            bail!(
                "[llm.tasks] embeddings = {:?} is a remote model; embeddings are made by a local \
                 GGUF embedding model",
                e.name
            );
        }
        if !e.is_embedding() {
            println!(
                "{} is a chat model, not an embedding model: its vectors rank passages poorly, \
                 and it is slow at this (it scores its whole vocabulary for every token); an \
                 embedding GGUF such as bge-small-en-v1.5 or nomic-embed-text is better",
                e.name
            );
        }
        let mut en = Engine::new()?;
        let shown = m.name.clone();
        en.load(&m, &crate::engine::llm::settings_from(&cfg), move |p| {
            if tty {
                eprint!("\rloading {shown}: {:>3.0}%\x1b[K", p * 100.0);
            }
        })?;
        if tty {
            eprint!("\r\x1b[K");
        }
        engine = Some((en, m.name));
    } else {
        println!(
            "no embedding model: indexing by words alone (`fieldkit model add` an embedding \
             GGUF such as bge-small-en-v1.5 to search by meaning too)"
        );
    }
    let cancel = AtomicBool::new(false);
    let mut done: Vec<PathBuf> = Vec::new();
    let mut failed = 0;
    while let Some(root) = queue.first().cloned() {
        queue.remove(0);
        let started = std::time::Instant::now();
        let mut embed_fn;
        let embedder = match &mut engine {
            Some((en, name)) => {
                embed_fn = |texts: &[String]| en.embed(texts, &cancel, &mut |_, _| {});
                Some(index::Embedder {
                    model: name.clone(),
                    embed: &mut embed_fn,
                })
            }
            None => None,
        };
        let mut embedding_since = None;
        let r = index::build(&mut db, &root, embedder, &mut |stage, i, n, what| {
            if !tty || n == 0 {
                return;
            }
            match stage {
                index::Stage::Reading => bar(
                    i,
                    n,
                    &format!(
                        "files · {}",
                        Path::new(what)
                            .file_name()
                            .map(|x| x.to_string_lossy())
                            .unwrap_or_default()
                    ),
                ),
                index::Stage::Embedding => {
                    let since = *embedding_since.get_or_insert_with(std::time::Instant::now);
                    let secs = since.elapsed().as_secs_f64().max(1e-3);
                    bar(
                        i,
                        n,
                        &format!("passages embedded with {what} ({:.0}/s)", i as f64 / secs),
                    )
                }
            }
        });
        if tty {
            eprint!("\r\x1b[K");
        }
        let rep = match r {
            Ok(rep) => rep,
            Err(e) => {
                eprintln!("fieldkit: {}: not indexed: {e:#}", root.display());
                failed += 1;
                continue;
            }
        };
        println!(
            "indexed {} files ({} chunks, {} skipped: not UTF-8 text or over 1 MB){} in {:.1} s \
             into {}",
            rep.files,
            rep.chunks,
            rep.skipped,
            match &rep.embedded {
                Some((m, d)) => format!(", embedded with {m} ({d} dimensions)"),
                None => String::new(),
            },
            started.elapsed().as_secs_f64(),
            db_path.display()
        );
        done.push(std::path::absolute(&root).unwrap_or(root));
        // Folders another model (or dimension) embedded are found by words alone: offer to
        // embed them again, once.
        let stale: Vec<PathBuf> = rep
            .stale
            .iter()
            .map(|e| PathBuf::from(&e.root))
            .filter(|r| !done.contains(r) && !queue.contains(r))
            .collect();
        if stale.is_empty() || rebuild {
            continue;
        }
        let (model, dim) = rep.embedded.clone().unwrap_or_default();
        println!("{} other folder(s) in the index hold vectors that are not {model}'s {dim} dimensions, so a question finds them by words alone:", stale.len());
        for e in &rep.stale {
            println!("  {} ({}, {} dimensions)", e.root, e.model, e.dim);
        }
        let yes = if std::io::stdin().is_terminal() && tty {
            eprint!("Embed them again with {model} now? [Y/n] ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            !line.trim().to_lowercase().starts_with('n')
        } else {
            false
        };
        if yes {
            queue.extend(stale);
        } else {
            println!("`fieldkit index --rebuild` embeds every indexed folder again.");
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
