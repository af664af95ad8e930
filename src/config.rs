/*!
User configuration: `config.toml`, the keymap and themes, each merged over what is compiled in.

Loading never leaves the user with nothing: a file with an error yields the defaults plus the
error text (file, line, key), which the server shows in a popup and `fieldkit doctor` prints.
Unknown keys are errors, not silently ignored.
*/

use crate::keymap::{line_of, toml_error, Keymap};
use crate::paths::Dirs;
use fieldkit_widgets::theme::parse_color;
use fieldkit_widgets::Theme;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Shipped themes, compiled in. A test parses every one.
pub const THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
    ("gold", include_str!("../themes/gold.toml")),
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of a shipped theme or of a file in the config dir's themes/.
    pub theme: String,
    /// What a new terminal pane runs (default: $SHELL, else /bin/sh).
    pub shell: Option<String>,
    /// Lines of scrollback each terminal keeps.
    pub scrollback_lines: usize,
    /// Programs may put text on your clipboard (OSC 52 writes). Reading it is never allowed.
    pub clipboard_from_programs: bool,
    /// Close a terminal pane as soon as its program ends, instead of showing how it ended.
    pub close_on_exit: bool,
    /// Use the mouse: a click focuses a pane, and programs that ask get mouse reports.
    /// Off by default, as in tmux, so the terminal's own selection keeps working.
    pub mouse: bool,
    /// The data engine (DuckDB).
    pub data: DataConfig,
    /// The local model (llama.cpp) and the chat.
    pub llm: LlmConfig,
    /// The vault.
    pub vault: VaultConfig,
    /// The work queue.
    pub queue: QueueConfig,
    /// The mesh: syncing with the team's other devices.
    pub mesh: MeshConfig,
    /// MCP servers installed elsewhere, used as plugins: `[plugins.NAME]` tables with the keys
    /// of a plugin's manifest (command, args, timeout, read_only, permissions).
    pub plugins: std::collections::BTreeMap<String, toml::Table>,
    /// `fieldkit mcp`, fieldkit as an MCP server.
    pub mcp: McpConfig,
    /// What panic does besides locking the vault and clearing every pane and scrollback:
    /// "clear" (that alone) or "wipe" (also deletes the chat history, SQL history and the
    /// retrieval index).
    pub panic: PanicMode,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PanicMode {
    #[default]
    Clear,
    Wipe,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Who you are in the queue's history and as an assignee (default: $USER).
    pub me: Option<String>,
    /// The roles you may claim items for (an item with no role: anyone).
    pub roles: Vec<String>,
}

impl QueueConfig {
    pub fn me(&self) -> String {
        self.me
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "me".into())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MeshConfig {
    /// This device's name, as the team sees it (default: the host name).
    pub name: Option<String>,
    /// IP:PORT the team's connections come in on (port 0: any free one).
    pub listen: String,
    /// IP:PORT a joiner reaches while an invite is open.
    pub pair_listen: String,
    /// Find the team's devices on the LAN by multicast DNS.
    pub mdns: bool,
    /// How long an invite's code is good for.
    pub invite_minutes: u64,
    /// The vault folder shared with the team (its entries and those in folders under it).
    pub vault_folder: String,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            name: None,
            listen: "0.0.0.0:4701".into(),
            pair_listen: "0.0.0.0:4702".into(),
            mdns: true,
            invite_minutes: 10,
            vault_folder: "team".into(),
        }
    }
}

impl MeshConfig {
    pub fn name(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "fieldkit".into())
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Tools of `fieldkit mcp` that change state and may run without asking the attached user
    /// (`queue_add`, `queue_done`, `send_keys`, `run_workflow`).
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// Lock after this many minutes without use, measured on the wall clock, so a laptop that
    /// was suspended wakes up locked (0: never).
    pub lock_after_minutes: f64,
    /// Lock when the last client detaches (or its connection drops).
    pub lock_on_detach: bool,
    /// Seconds after a copy from the vault that the clipboard is cleared (0: never).
    pub clip_seconds: f64,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            lock_after_minutes: 5.0,
            lock_on_detach: false,
            clip_seconds: 20.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// The registered model (`fieldkit model ls`) that answers by default; without one, the
    /// first registered.
    pub model: Option<String>,
    /// Context window in tokens (capped by what the model was trained with).
    pub ctx_size: u32,
    /// Threads for generation and prompt processing (default: the cores of this machine).
    pub threads: Option<usize>,
    /// Unload the model after this many idle minutes (0: never).
    pub unload_after_minutes: u64,
    /// Most tokens one answer may have.
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy (the same answer every time).
    pub temperature: f32,
    pub seed: u32,
    /// The system prompt of new chat sessions.
    pub system_prompt: String,
    /// Model entries with an `url` (an OpenAI-compatible server) may be used. Off by default:
    /// nothing leaves this machine unless you say so. Every remote call is audited.
    pub allow_remote: bool,
    /// Chunks the retrieval index puts into a prompt.
    pub retrieval_chunks: usize,
    /// Plugins' tools (`PLUGIN.TOOL`) the chat runs without asking, if their manifest says
    /// they are read-only.
    pub trusted_tools: Vec<String>,
    /// Memory the loaded models may take together (`6GB`, `2048MiB`, `40%`); empty: half the
    /// memory free when the llm worker starts. The least recently used model is unloaded to
    /// make room.
    pub memory_budget: String,
    /// The model for each task (a name from `fieldkit model ls`); a task without one uses
    /// `model`.
    pub tasks: LlmTasks,
}

/// `[llm.tasks]`: which registered model answers what.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmTasks {
    /// The chat pane (a pane's own `model NAME` comes first).
    pub chat: Option<String>,
    /// `F6` in the SQL editor: SQL from a question.
    pub ask_data: Option<String>,
    /// `C-b A` in a terminal: a shell command from a request.
    pub shell: Option<String>,
    /// The code editor's explain, rewrite and fix.
    pub edit: Option<String>,
    /// Workflow steps of kind `llm`.
    pub workflow: Option<String>,
    /// Folding a long chat's older turns into a summary (default: the answering model).
    pub summaries: Option<String>,
    /// Retrieval by meaning: the embedding model that indexes passages and questions. Unlike
    /// the others it does not fall back to `model` (a chat model's vectors rank worse than
    /// words): without it, a registered embedding model (a GGUF that pools, e.g. bge or
    /// nomic) is used, and without one of those, retrieval is by words alone.
    pub embeddings: Option<String>,
}

/// Bytes from a size as config writes it (`6GB`, `2048MiB`, `512M`, `40%` of the memory);
/// `None`: empty or unreadable.
pub fn size_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p.trim().parse().ok()?;
        return Some((total_memory() as f64 * p.clamp(1.0, 100.0) / 100.0) as u64);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..split].trim().parse().ok()?;
    let unit = t[split..].trim().to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * mul as f64) as u64)
}

/// This machine's memory in bytes (MemTotal; 0 when /proc cannot say).
pub fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |k| k * 1024)
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            model: None,
            ctx_size: 4096,
            threads: None,
            unload_after_minutes: 15,
            max_tokens: 512,
            temperature: 0.7,
            seed: 42,
            system_prompt: "You are a concise assistant inside fieldkit, a terminal workspace \
                            used offline. Answer briefly; put code and commands in fenced code \
                            blocks."
                .into(),
            allow_remote: false,
            retrieval_chunks: 4,
            trusted_tools: Vec::new(),
            memory_budget: String::new(),
            tasks: LlmTasks::default(),
        }
    }
}

impl LlmConfig {
    pub fn threads(&self) -> usize {
        self.threads.filter(|t| *t > 0).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
    }
    pub fn params(&self) -> fieldkit_panes::llm::GenParams {
        fieldkit_panes::llm::GenParams {
            max_tokens: self.max_tokens.max(1),
            temperature: self.temperature.max(0.0),
            seed: self.seed,
            ignore_eos: false,
            grammar: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// DuckDB's memory limit: a share of this machine's memory (`50%`) or a size (`4GB`).
    pub memory_limit: String,
    /// Threads DuckDB may use (default: every core).
    pub threads: Option<usize>,
    /// The persistent database (default: data.duckdb in the data dir).
    pub database: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            memory_limit: "50%".into(),
            threads: None,
            database: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            theme: "dark".into(),
            shell: None,
            scrollback_lines: 10_000,
            clipboard_from_programs: true,
            close_on_exit: false,
            mouse: false,
            data: DataConfig::default(),
            llm: LlmConfig::default(),
            vault: VaultConfig::default(),
            queue: QueueConfig::default(),
            mesh: MeshConfig::default(),
            plugins: Default::default(),
            mcp: McpConfig::default(),
            panic: PanicMode::Clear,
        }
    }
}

impl Config {
    pub fn shell(&self) -> String {
        self.shell
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| std::env::var("SHELL").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "/bin/sh".into())
    }
}

/// Everything loaded from the config dir, with the errors met on the way.
pub struct Loaded {
    pub config: Config,
    pub keymap: Keymap,
    pub theme: Theme,
    pub errors: Vec<String>,
}

pub fn load(dirs: &Dirs) -> Loaded {
    let mut errors = Vec::new();
    let cfg_path = dirs.config.join("config.toml");
    let config = match std::fs::read_to_string(&cfg_path) {
        Ok(text) => match toml::from_str::<Config>(&text) {
            Ok(c) => c,
            Err(e) => {
                errors.push(toml_error(&cfg_path.display().to_string(), &text, &e));
                Config::default()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
        Err(e) => {
            errors.push(format!("{}: {e}", cfg_path.display()));
            Config::default()
        }
    };
    let base = Keymap::default_map();
    let km_path = dirs.config.join("keymap.toml");
    let keymap = match std::fs::read_to_string(&km_path) {
        Ok(text) => match Keymap::from_str(&text, &km_path.display().to_string(), Some(&base)) {
            Ok(k) => k,
            Err(e) => {
                errors.push(e);
                base
            }
        },
        Err(_) => base,
    };
    let user_themes = read_user_themes(dirs);
    if !config.llm.memory_budget.trim().is_empty()
        && size_bytes(&config.llm.memory_budget).is_none()
    {
        errors.push(format!(
            "config.toml: [llm] memory_budget = {:?} is not a size (6GB, 2048MiB, 40%); half the free memory is used",
            config.llm.memory_budget
        ));
    }
    let theme = match resolve_theme(&config.theme, &user_themes) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            Theme::default()
        }
    };
    Loaded {
        config,
        keymap,
        theme,
        errors,
    }
}

fn read_user_themes(dirs: &Dirs) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dirs.config.join("themes")) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        if let (Some(stem), Ok(text)) = (
            path.file_stem().and_then(|s| s.to_str()),
            std::fs::read_to_string(&path),
        ) {
            out.insert(stem.to_string(), (path.display().to_string(), text));
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    colors: BTreeMap<String, toml::Spanned<String>>,
}

/// Resolves a theme by name: user files first, then shipped ones; follows `inherits`.
pub fn resolve_theme(
    name: &str,
    user: &BTreeMap<String, (String, String)>,
) -> Result<Theme, String> {
    let mut chain: Vec<(String, String, String, ThemeFile)> = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(n) = next.take() {
        if chain.len() > 8 || chain.iter().any(|(c, _, _, _)| *c == n) {
            return Err(format!(
                "theme {name:?}: `inherits` goes round in a loop at {n:?}"
            ));
        }
        let (file, text) = match user.get(&n) {
            Some((f, t)) => (f.clone(), t.clone()),
            None => match THEMES.iter().find(|(k, _)| *k == n) {
                Some((k, t)) => (format!("themes/{k}.toml"), t.to_string()),
                None => {
                    let known: Vec<&str> = THEMES.iter().map(|(k, _)| *k).collect();
                    return Err(format!(
                        "unknown theme {n:?} (shipped: {}; or add a file to themes/ in the config dir)",
                        known.join(", ")
                    ));
                }
            },
        };
        let parsed: ThemeFile = toml::from_str(&text).map_err(|e| toml_error(&file, &text, &e))?;
        next = parsed.inherits.clone();
        chain.push((n, file, text, parsed));
    }
    let mut theme = Theme::default();
    for (n, file, text, parsed) in chain.into_iter().rev() {
        for (slot, value) in &parsed.colors {
            let line = line_of(&text, value.span().start);
            let color = parse_color(value.get_ref()).ok_or_else(|| {
                format!(
                    "{file}:{line}: {slot} = {:?} is not a colour (#rrggbb, a name or 0-255)",
                    value.get_ref()
                )
            })?;
            if !theme.set(slot, color) {
                return Err(format!(
                    "{file}:{line}: unknown colour slot {slot:?} (slots: {})",
                    Theme::SLOTS.join(", ")
                ));
            }
        }
        theme.name = parsed.name.unwrap_or(n);
    }
    Ok(theme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_parses_and_differs() {
        let none = BTreeMap::new();
        let dark = resolve_theme("dark", &none).expect("dark");
        assert_eq!(
            dark,
            Theme::default(),
            "dark.toml and the built-in default agree"
        );
        let mut seen = Vec::new();
        for (name, text) in THEMES {
            let t = resolve_theme(name, &none).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.name, *name);
            // Every slot a root theme sets must be a real slot, and dark must set them all.
            let parsed: ThemeFile = toml::from_str(text).expect("parse");
            if parsed.inherits.is_none() {
                assert_eq!(
                    parsed.colors.len(),
                    Theme::SLOTS.len(),
                    "{name} sets every slot"
                );
            }
            assert!(!seen.contains(&t), "{name} differs from the others");
            seen.push(t);
        }
    }

    #[test]
    fn user_theme_inherits_and_errors_have_lines() {
        let mut user = BTreeMap::new();
        user.insert(
            "mine".to_string(),
            (
                "themes/mine.toml".to_string(),
                "inherits = \"gold\"\n[colors]\nbg = \"#000001\"\n".to_string(),
            ),
        );
        let t = resolve_theme("mine", &user).expect("mine");
        assert_eq!(t.bg, ratatui::style::Color::Rgb(0, 0, 1));
        assert_eq!(
            t.accent,
            resolve_theme("gold", &BTreeMap::new())
                .expect("gold")
                .accent
        );

        user.insert(
            "bad".to_string(),
            (
                "themes/bad.toml".to_string(),
                "[colors]\n\nbg = \"nope\"\n".to_string(),
            ),
        );
        let e = resolve_theme("bad", &user).unwrap_err();
        assert!(
            e.starts_with("themes/bad.toml:3: bg = \"nope\" is not a colour"),
            "{e}"
        );
        user.insert(
            "typo".to_string(),
            (
                "themes/typo.toml".to_string(),
                "[colors]\nbackground = \"red\"\n".to_string(),
            ),
        );
        let e = resolve_theme("typo", &user).unwrap_err();
        assert!(
            e.starts_with("themes/typo.toml:2: unknown colour slot \"background\""),
            "{e}"
        );
        user.insert(
            "loop".to_string(),
            (
                "themes/loop.toml".to_string(),
                "inherits = \"loop\"\n".to_string(),
            ),
        );
        assert!(resolve_theme("loop", &user).unwrap_err().contains("loop"));
        assert!(resolve_theme("nosuch", &user)
            .unwrap_err()
            .contains("unknown theme"));
    }

    #[test]
    fn config_errors_name_file_and_line() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dirs = Dirs {
            config: tmp.path().join("config"),
            data: tmp.path().join("data"),
            runtime: tmp.path().join("run"),
        };
        std::fs::create_dir_all(&dirs.config).expect("mkdir");
        std::fs::write(
            dirs.config.join("config.toml"),
            "theme = \"gold\"\nthme = 1\n",
        )
        .expect("write");
        let loaded = load(&dirs);
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.errors.len(), 1);
        assert!(
            loaded.errors[0].contains("config.toml:2: unknown field `thme`"),
            "{}",
            loaded.errors[0]
        );

        std::fs::write(dirs.config.join("config.toml"), "theme = \"gold\"\n").expect("write");
        std::fs::write(
            dirs.config.join("keymap.toml"),
            "[[prefix]]\non = [\"%\"]\nrun = \"nope\"\n",
        )
        .expect("write");
        let loaded = load(&dirs);
        assert_eq!(loaded.theme.name, "gold");
        assert_eq!(loaded.errors.len(), 1);
        assert!(
            loaded.errors[0].contains("keymap.toml:3: unknown action \"nope\""),
            "{}",
            loaded.errors[0]
        );
        assert!(!loaded.keymap.bindings.is_empty(), "defaults stay in force");
    }
}
