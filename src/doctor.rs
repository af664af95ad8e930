/*!
`fieldkit doctor`: everything a person needs to see when something is off, in one page:
directories, config problems, what the terminal can show, the socket and server, the engines.
*/

use crate::paths::{self, Dirs};
use fieldkit_widgets::TermCaps;
use std::fmt::Write;

pub fn report(dirs: &Dirs) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "fieldkit {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        o,
        "\ndirectories{}",
        if std::env::var_os("FIELDKIT_HOME").is_some() {
            " (FIELDKIT_HOME is set)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "  config   {}", dirs.config.display());
    let _ = writeln!(o, "  data     {}", dirs.data.display());
    let _ = writeln!(o, "  logs     {}", dirs.logs().display());
    let _ = writeln!(o, "  runtime  {}", dirs.runtime.display());

    let loaded = crate::config::load(dirs);
    let _ = writeln!(o, "\nconfig");
    let _ = writeln!(o, "  theme    {}", loaded.theme.name);
    let _ = writeln!(o, "  prefix   {}", loaded.keymap.prefix);
    if loaded.errors.is_empty() {
        let _ = writeln!(o, "  no errors");
    }
    for e in &loaded.errors {
        let _ = writeln!(o, "  error: {e}");
    }

    let _ = writeln!(
        o,
        "\nworkflows ({})",
        dirs.config.join("workflows").display()
    );
    for l in crate::workflowcli::doctor_lines(dirs) {
        let _ = writeln!(o, "  {l}");
    }

    let caps = TermCaps::detect();
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| "(unset)".into());
    let _ = writeln!(o, "\nterminal");
    let _ = writeln!(
        o,
        "  TERM={} COLORTERM={} NO_COLOR={} LANG={}",
        var("TERM"),
        var("COLORTERM"),
        var("NO_COLOR"),
        var("LANG")
    );
    let _ = writeln!(o, "  shows    {}", caps.describe());
    if let Ok((w, h)) = crossterm::terminal::size() {
        let _ = writeln!(o, "  size     {w}x{h}");
    }

    let _ = writeln!(o, "\nserver");
    let socket = dirs.socket();
    match paths::check_private_dir(&dirs.runtime) {
        Ok(()) => {
            let _ = writeln!(o, "  runtime dir is private (0700, yours)");
        }
        Err(e) if !dirs.runtime.exists() => {
            let _ = writeln!(o, "  runtime dir not created yet ({e:#})");
        }
        Err(e) => {
            let _ = writeln!(o, "  PROBLEM: {e:#}");
        }
    }
    let _ = writeln!(o, "  socket   {}", socket.display());
    let state = match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(_) => {
            let pid = std::fs::read_to_string(dirs.pid_file()).unwrap_or_default();
            format!("running (pid {})", pid.trim())
        }
        Err(_) if socket.exists() => {
            "not running (stale socket; the next start replaces it)".to_string()
        }
        Err(_) => "not running".to_string(),
    };
    let _ = writeln!(o, "  state    {state}");

    let _ = writeln!(o, "\nengines built in");
    for kind in crate::engine::WorkerKind::ALL {
        let _ = writeln!(o, "  {:<8} {}", kind.name(), kind.about());
    }

    let _ = writeln!(o, "\nmodels (fieldkit model ls)");
    let db = dirs.state_db();
    let models = if db.exists() {
        crate::store::Store::open(&db)
            .ok()
            .and_then(|(st, _)| st.models().ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if models.is_empty() {
        let _ = writeln!(o, "  none: add one with `fieldkit model add PATH.gguf`");
    }
    for m in models {
        let state = match (&m.path, &m.url) {
            (Some(p), _) => match crate::format::gguf::read(p) {
                Ok(i) => format!(
                    "{} ({}, {} {})",
                    p.display(),
                    crate::format::gguf::human(i.file_len),
                    i.arch(),
                    i.quantization()
                ),
                Err(e) => format!("{}: {e}", p.display()),
            },
            (None, Some(u)) => format!("{u} (remote)"),
            (None, None) => "no file".into(),
        };
        let _ = writeln!(o, "  {:<16} {state}", m.name);
    }
    o
}
