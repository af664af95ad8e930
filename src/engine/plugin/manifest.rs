//! A plugin's manifest: `plugins/NAME/plugin.toml` in the config folder, or a `[plugins.NAME]`
//! table in config.toml for an MCP server installed elsewhere. It says how to start the
//! plugin and what it may touch; those permissions are what the user grants, and what the
//! kernel is asked to enforce (`sandbox`). Every mistake comes with its file, line and key.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// What a plugin may touch. Paths may start with `~/`; the plugin's own folder is always
/// readable (its code is there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub network: bool,
    /// Programs it may run (their folders are made readable and executable).
    pub run: Vec<String>,
    /// Vault fields it is given, in its environment at start: variable name to `ENTRY/FIELD`
    /// (the unlocked vault's; none other is ever in reach).
    #[serde(default)]
    pub vault: std::collections::BTreeMap<String, String>,
}

impl Permissions {
    /// The permissions as a person reads them before granting them.
    pub fn describe(&self) -> Vec<String> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.join(", ")
            }
        };
        vec![
            format!("read files: {} (and its own folder)", list(&self.read)),
            format!("write files: {}", list(&self.write)),
            format!("network: {}", if self.network { "yes" } else { "no" }),
            format!("run programs: {}", list(&self.run)),
            format!(
                "vault: {}",
                if self.vault.is_empty() {
                    "nothing".to_string()
                } else {
                    self.vault
                        .iter()
                        .map(|(k, v)| format!("{v} as ${k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    /// The program, and its arguments; run in `dir`.
    pub command: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
    /// How long a call may take before the plugin is stopped (ms).
    pub timeout_ms: u64,
    /// Tools that change nothing: the chat may run them without asking when the user trusts
    /// them too (`[plugins] trusted` in config).
    pub read_only: Vec<String>,
    pub permissions: Permissions,
    /// Where it was declared, for messages.
    pub source: String,
    /// `dir` is the plugin's own folder (readable to it); a plugin from config.toml runs in
    /// the home folder, which it may not read unless granted.
    pub own_dir: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    command: Option<Spanned<String>>,
    #[serde(default)]
    args: Vec<String>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    read_only: Vec<String>,
    // Not `Spanned`: toml cannot span a table made implicitly by `[permissions.vault]`.
    #[serde(default)]
    permissions: Option<RawPermissions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissions {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    network: bool,
    #[serde(default)]
    run: Vec<String>,
    #[serde(default)]
    vault: std::collections::BTreeMap<String, String>,
}

/// A mistake in a manifest, as `file:line: key: what`.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Whether `s` may name a plugin (and so a tool's prefix): letters, digits, `-` and `_`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads manifest `text` from `file` (shown in messages), for a plugin living in `dir` and
/// called `default_name` unless it says otherwise.
pub fn parse(
    text: &str,
    file: &str,
    dir: &Path,
    default_name: &str,
) -> Result<Manifest, ManifestError> {
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() + 1;
    let err = |off: usize, m: String| ManifestError {
        file: file.to_string(),
        line: line_of(off),
        message: m,
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let (off, msg) = crate::engine::workflow::def::toml_error(&e);
        err(off, msg)
    })?;
    let name = raw
        .name
        .as_ref()
        .map(|n| n.get_ref().trim().to_string())
        .unwrap_or_else(|| default_name.to_string());
    if !valid_name(&name) {
        return Err(err(
            raw.name.as_ref().map(|n| n.span().start).unwrap_or(0),
            format!("name: {name:?}: use letters, digits, - and _"),
        ));
    }
    let Some(command) = raw.command else {
        return Err(err(
            0,
            "command: missing (the program that starts the plugin)".into(),
        ));
    };
    if command.get_ref().trim().is_empty() {
        return Err(err(command.span().start, "command: empty".into()));
    }
    let timeout_ms = match &raw.timeout {
        None => 30_000,
        Some(t) => match crate::engine::workflow::def::parse_span(t.get_ref()) {
            Ok(ms) if (100..=3_600_000).contains(&ms) => ms,
            Ok(_) => return Err(err(t.span().start, "timeout: from 100ms to 1h".into())),
            Err(e) => return Err(err(t.span().start, format!("timeout: {e}"))),
        },
    };
    let permissions = raw
        .permissions
        .map(|p| Permissions {
            read: p.read,
            write: p.write,
            network: p.network,
            run: p.run,
            vault: p.vault,
        })
        .unwrap_or_default();
    for (var, field) in &permissions.vault {
        let ok_name = !var.is_empty()
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !var.starts_with(|c: char| c.is_ascii_digit());
        if !ok_name {
            return Err(err(
                0,
                format!("permissions.vault: {var:?} is not a variable name"),
            ));
        }
        if field
            .rsplit_once('/')
            .is_none_or(|(e, f)| e.is_empty() || f.is_empty())
        {
            return Err(err(
                0,
                format!("permissions.vault: {var} = {field:?}: name it ENTRY/FIELD, as \"Radio net/password\""),
            ));
        }
    }
    for p in permissions.read.iter().chain(&permissions.write) {
        if !(p.starts_with('/') || p.starts_with("~/")) {
            return Err(err(
                0,
                format!("permissions: {p:?}: a path from / or ~/ (a relative one would depend on where fieldkit started)"),
            ));
        }
    }
    Ok(Manifest {
        name,
        description: raw.description,
        command: command.into_inner(),
        args: raw.args,
        dir: dir.to_path_buf(),
        timeout_ms,
        read_only: raw.read_only,
        permissions,
        source: file.to_string(),
        own_dir: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_and_each_mistake_names_its_line_and_key() {
        let m = parse(
            "name = \"units\"\ndescription = \"Convert\"\ncommand = \"python3\"\nargs = [\"units.py\"]\ntimeout = \"5s\"\nread_only = [\"convert\"]\n[permissions]\nread = [\"~/data\"]\n",
            "units/plugin.toml",
            Path::new("/p/units"),
            "units",
        )
        .expect("reads");
        assert_eq!(m.command, "python3");
        assert_eq!(m.timeout_ms, 5000);
        assert_eq!(m.permissions.read, ["~/data"]);
        assert!(!m.permissions.network);
        for (text, want) in [
            (
                "command = \"x\"\ncolour = 1\n",
                "plugin.toml:2: unknown field `colour`",
            ),
            (
                "name = \"a b\"\ncommand = \"x\"\n",
                "plugin.toml:1: name: \"a b\"",
            ),
            (
                "description = \"no command\"\n",
                "plugin.toml:1: command: missing",
            ),
            (
                "command = \"x\"\ntimeout = \"soon\"\n",
                "plugin.toml:2: timeout",
            ),
            (
                "command = \"x\"\n[permissions]\nread = [\"data\"]\n",
                "permissions: \"data\"",
            ),
            (
                "command = \"x\"\n[permissions]\nnetwork = \"yes\"\n",
                "plugin.toml:3:",
            ),
            ("command = [\n", "plugin.toml:2: invalid array"),
        ] {
            let e = parse(text, "plugin.toml", Path::new("/p"), "p").expect_err(text);
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
    }
}
