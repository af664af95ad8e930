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
                    i.arch().to_string(),
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
    println!("* the default (`model` under [llm] in config.toml, else the first local one)");
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
        let hits = index::search(&db, &prompt, cfg.retrieval_chunks)?;
        match index::sources(&hits) {
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
        engine.chat(&turns, &[], &params, &cancel, &mut |ev| match ev {
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

/// `fieldkit index PATH`.
pub fn index_cmd(dirs: &Dirs, path: &str) -> Result<i32> {
    let mut db = index::open(&dirs.data.join("index.db"))?;
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let rep = index::build(&mut db, Path::new(path), &mut |i, n, f| {
        if tty && n > 0 {
            let w = 30;
            let filled = i * w / n;
            eprint!(
                "\r[{}{}] {i}/{n} {}\x1b[K",
                "#".repeat(filled),
                "-".repeat(w - filled),
                f.file_name()
                    .map(|x| x.to_string_lossy())
                    .unwrap_or_default()
            );
        }
    })?;
    if tty {
        eprint!("\r\x1b[K");
    }
    println!(
        "indexed {} files ({} chunks, {} skipped: not UTF-8 text or over 1 MB) in {:.1} s into {}",
        rep.files,
        rep.chunks,
        rep.skipped,
        started.elapsed().as_secs_f64(),
        dirs.data.join("index.db").display()
    );
    Ok(0)
}
