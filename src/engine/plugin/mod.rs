/*!
Plugins: programs in any language that offer tools over MCP (the Model Context Protocol) on
their stdin and stdout. Pure logic and the process host here; the server's `plugins` service
decides when they run and who gets their answers.

- `manifest`: `plugins/NAME/plugin.toml` (or `[plugins.NAME]` in config.toml): how to start
  it, how long a call may take, which tools change nothing, and its permissions.
- `rpc`: JSON-RPC lines, read as hostile input.
- `host`: one plugin process as an MCP client drives it, stopped with a reason for anything it
  does wrong.
- `sandbox`: what the kernel enforces of the permissions (Landlock, a network namespace).
- Grants (here): the user's yes to a plugin's permissions, kept in `plugins/grants.toml` by a
  digest of what was granted, so a plugin that asks for more needs a new yes.
*/

pub mod host;
pub mod manifest;
pub mod rpc;
pub mod sandbox;

use manifest::{Manifest, ManifestError};
use std::path::Path;

/// Every plugin under `dir` (`NAME/plugin.toml`) and those `config` names (`[plugins.NAME]`
/// tables of config.toml, as text): the good ones, and each mistake with its file and line.
pub fn load(dir: &Path, config: &[(String, String)]) -> (Vec<Manifest>, Vec<ManifestError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for d in entries {
        let file = d.join("plugin.toml");
        let Some(stem) = d.file_name().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem.starts_with('.') || !file.is_file() {
            continue;
        }
        let shown = format!("plugins/{stem}/plugin.toml");
        match std::fs::read_to_string(&file) {
            Ok(text) => match manifest::parse(&text, &shown, &d, stem) {
                Ok(m) => good.push(m),
                Err(e) => bad.push(e),
            },
            Err(e) => bad.push(ManifestError {
                file: shown,
                line: 0,
                message: format!("cannot read it: {e}"),
            }),
        }
    }
    for (name, text) in config {
        let shown = format!("config.toml [plugins.{name}]");
        let cwd = dirs_home();
        match manifest::parse(text, &shown, &cwd, name) {
            Ok(mut m) => {
                m.own_dir = false;
                good.push(m)
            }
            Err(e) => bad.push(e),
        }
    }
    let mut seen = std::collections::HashSet::new();
    good.retain(|m: &Manifest| {
        if seen.insert(m.name.clone()) {
            true
        } else {
            bad.push(ManifestError {
                file: m.source.clone(),
                line: 0,
                message: format!("a second plugin called {} (the first is kept)", m.name),
            });
            false
        }
    });
    (good, bad)
}

fn dirs_home() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/".into())
}

/// The digest a grant is kept by: the command line, the permissions, and what the kernel
/// cannot enforce of them that the user accepted.
pub fn grant_digest(m: &Manifest, unenforced: &[String]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let parts: Vec<String> = [m.command.clone()]
        .into_iter()
        .chain(m.args.iter().cloned())
        .chain(["--read".into()])
        .chain(m.permissions.read.iter().cloned())
        .chain(["--write".into()])
        .chain(m.permissions.write.iter().cloned())
        .chain([format!("--network={}", m.permissions.network)])
        .chain(["--run".into()])
        .chain(m.permissions.run.iter().cloned())
        .chain(["--vault".into()])
        .chain(m.permissions.vault.iter().map(|(k, v)| format!("{k}={v}")))
        .chain(["--unenforced".into()])
        .chain(unenforced.iter().cloned())
        .collect();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The grants in `file`: plugin name to digest. A file that does not read grants nothing
/// (and says why).
pub fn read_grants(file: &Path) -> (std::collections::BTreeMap<String, String>, Option<String>) {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Default::default(), None),
        Err(e) => return (Default::default(), Some(format!("{}: {e}", file.display()))),
    };
    match toml::from_str::<toml::Table>(&text) {
        Ok(t) => (
            t.into_iter()
                .filter_map(|(k, v)| {
                    v.get("digest")
                        .and_then(|d| d.as_str())
                        .map(|d| (k, d.to_string()))
                })
                .collect(),
            None,
        ),
        Err(e) => (
            Default::default(),
            Some(format!(
                "{}: {} (no plugin is granted)",
                file.display(),
                e.message()
            )),
        ),
    }
}

/// Writes the grants (atomically).
pub fn write_grants(
    file: &Path,
    grants: &std::collections::BTreeMap<String, String>,
) -> std::io::Result<()> {
    let mut text = String::from(
        "# Plugins you granted their permissions (fieldkit plugin grant NAME); delete a table\n# to revoke (fieldkit plugin revoke NAME does).\n",
    );
    for (name, digest) in grants {
        text.push_str(&format!("\n[{name}]\ndigest = \"{digest}\"\n"));
    }
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = file.with_extension("toml.part");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_plugins_loads_with_each_mistake_told_and_grants_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("units")).unwrap();
        std::fs::write(
            p.join("units/plugin.toml"),
            "command = \"python3\"\nargs = [\"u.py\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(p.join("broken")).unwrap();
        std::fs::write(p.join("broken/plugin.toml"), "command = \"x\"\nwho = 1\n").unwrap();
        std::fs::create_dir_all(p.join("empty")).unwrap();
        let (good, bad) = load(
            p,
            &[
                ("units".into(), "command = \"other\"\n".into()),
                ("gps".into(), "command = \"gpsd-mcp\"\n".into()),
            ],
        );
        let names: Vec<&str> = good.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["units", "gps"]);
        let all: Vec<String> = bad.iter().map(|e| e.to_string()).collect();
        assert!(
            all.iter()
                .any(|e| e.starts_with("plugins/broken/plugin.toml:2: unknown field `who`")),
            "{all:?}"
        );
        assert!(
            all.iter()
                .any(|e| e.contains("a second plugin called units")),
            "{all:?}"
        );
        // A grant is for exactly these permissions.
        let m = &good[0];
        let g = grant_digest(m, &[]);
        let mut more = m.clone();
        more.permissions.network = true;
        assert_ne!(g, grant_digest(&more, &[]));
        assert_ne!(g, grant_digest(m, &["files".into()]));
        let file = p.join("grants.toml");
        let mut grants = std::collections::BTreeMap::new();
        grants.insert("units".to_string(), g.clone());
        write_grants(&file, &grants).unwrap();
        assert_eq!(read_grants(&file), (grants, None));
        std::fs::write(&file, "[units\n").unwrap();
        let (none, why) = read_grants(&file);
        assert!(none.is_empty() && why.is_some_and(|w| w.contains("no plugin is granted")));
    }
}
