/*!
`fieldkit plugin ...`: see the plugins, grant them their permissions, call their tools from a
shell. Every command goes to the running server (started if needed), which reads the plugins'
folders, keeps the grants and runs the plugins; a call prints the tool's text, and fails (exit
1, the reason on stderr) when the plugin or the tool does.
*/

use crate::client;
use crate::paths::Dirs;
use crate::protocol::{Command, PluginCommand};
use anyhow::{bail, Result};

#[derive(clap::Subcommand, Debug)]
pub enum PluginCmd {
    /// The plugins: state, permissions, what this kernel enforces, tools.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Call PLUGIN.TOOL with a JSON object of arguments (`-`: read it from stdin).
    Call {
        tool: String,
        #[arg(default_value = "{}")]
        args: String,
    },
    /// Let a plugin run with the permissions its manifest declares (shown first).
    Grant {
        name: String,
        /// Also when this machine cannot enforce some of them (said by `plugin ls`).
        #[arg(long)]
        accept_unenforced: bool,
    },
    /// Take a grant back (the plugin stops and does not start again).
    Revoke { name: String },
}

fn ask(dirs: &Dirs, cmd: PluginCommand) -> Result<String> {
    let (code, out, err) = client::command(dirs, None, Command::Plugin(cmd), true)?;
    if code != 0 {
        bail!("{}", err.trim_end());
    }
    Ok(out)
}

pub fn run(dirs: &Dirs, cmd: PluginCmd) -> Result<i32> {
    match cmd {
        PluginCmd::Ls { json } => {
            let out = ask(dirs, PluginCommand::List)?;
            if json {
                print!("{out}");
            } else {
                print!("{}", list_text(&serde_json::from_str(&out)?));
            }
        }
        PluginCmd::Call { tool, args } => {
            let args = if args == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                args
            };
            print!("{}", ask(dirs, PluginCommand::Call { tool, args })?);
        }
        PluginCmd::Grant {
            name,
            accept_unenforced,
        } => print!(
            "{}",
            ask(
                dirs,
                PluginCommand::Grant {
                    name,
                    accept: accept_unenforced
                }
            )?
        ),
        PluginCmd::Revoke { name } => print!("{}", ask(dirs, PluginCommand::Revoke { name })?),
    }
    Ok(0)
}

fn list_text(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let list = v["plugins"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        out.push_str(
            "no plugins (a plugin is a folder in ~/.config/fieldkit/plugins/ with a plugin.toml)\n",
        );
    }
    for p in list {
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        out.push_str(&format!(
            "{}  {}  ({})\n",
            s("name"),
            s("state"),
            s("source")
        ));
        if !s("description").is_empty() {
            out.push_str(&format!("  {}\n", s("description")));
        }
        for perm in p["permissions"].as_array().cloned().unwrap_or_default() {
            out.push_str(&format!("  may {}\n", perm.as_str().unwrap_or("")));
        }
        out.push_str(&format!("  enforced here: {}\n", s("enforced")));
        for t in p["tools"].as_array().cloned().unwrap_or_default() {
            out.push_str(&format!(
                "  tool {}{}  {}\n",
                t["name"].as_str().unwrap_or(""),
                if t["read_only"] == true {
                    " (read-only)"
                } else {
                    ""
                },
                t["description"].as_str().unwrap_or("")
            ));
        }
        if p["granted"] != true {
            out.push_str(&format!(
                "  not granted: fieldkit plugin grant {}\n",
                s("name")
            ));
        }
    }
    for e in v["errors"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!("error: {}\n", e.as_str().unwrap_or("")));
    }
    out
}
