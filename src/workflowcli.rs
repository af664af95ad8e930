/*!
`fieldkit workflow ...`: list workflows, start one, see runs, cancel and re-run, check the
files. Every command goes to the running server (started if needed), which holds the runner;
the server answers JSON and this module prints it for people, or as it is with `--json`.
`workflow run NAME` prints the new run's id alone, so scripts can follow it with
`workflow show ID --json`.
*/

use crate::client;
use crate::paths::Dirs;
use crate::protocol::{Command, WorkflowCommand};
use anyhow::{bail, Result};

#[derive(clap::Subcommand, Debug)]
pub enum WorkflowCmd {
    /// The workflows loaded, their triggers and next scheduled run; mistakes in files on stderr.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Start a workflow by hand; prints the run's id alone.
    Run { name: String },
    /// Runs, newest first.
    Runs {
        /// Only this workflow's.
        workflow: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One run: each step's state, tries, output and log.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a run (a running shell step gets SIGTERM, then SIGKILL).
    Cancel { id: String },
    /// Run a run's workflow again with the same trigger; prints the new run's id.
    Rerun { id: String },
    /// Read the workflow files again and print their mistakes (file:line: what); exits 1 if any.
    Check,
    /// Write the shipped example workflows into the workflows folder (never over a file).
    Examples,
}

fn ask(dirs: &Dirs, cmd: WorkflowCommand) -> Result<String> {
    let (code, out, err) = client::command(dirs, None, Command::Workflow(cmd), true)?;
    if code != 0 {
        bail!("{}", err.trim_end());
    }
    Ok(out)
}

/// The example workflows, as shipped in `workflows/`.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("ingest.toml", include_str!("../workflows/ingest.toml")),
    (
        "nightly-report.toml",
        include_str!("../workflows/nightly-report.toml"),
    ),
    (
        "item-done.toml",
        include_str!("../workflows/item-done.toml"),
    ),
    ("alert.toml", include_str!("../workflows/alert.toml")),
];

pub fn run(dirs: &Dirs, cmd: WorkflowCmd) -> Result<i32> {
    match cmd {
        WorkflowCmd::Ls { json } => {
            let out: serde_json::Value = serde_json::from_str(&ask(dirs, WorkflowCommand::List)?)?;
            let empty = Vec::new();
            let list = out["workflows"].as_array().unwrap_or(&empty);
            if json {
                println!("{}", serde_json::Value::Array(list.clone()));
            } else if list.is_empty() {
                println!(
                    "No workflows in {}. `fieldkit workflow examples` writes the shipped ones there.",
                    dirs.config.join("workflows").display()
                );
            } else {
                for w in list {
                    let s = |k: &str| w[k].as_str().unwrap_or("").to_string();
                    let triggers: Vec<&str> = w["triggers"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<18} {}",
                        s("name"),
                        if triggers.is_empty() {
                            "by hand".to_string()
                        } else {
                            triggers.join("; ")
                        }
                    );
                    if !s("description").is_empty() {
                        println!("{:<18} {}", "", s("description"));
                    }
                    if let Some(next) = w["next"].as_str() {
                        println!("{:<18} next {next} (in {})", "", s("next_in"));
                    }
                }
            }
            for e in out["errors"].as_array().unwrap_or(&empty) {
                eprintln!("not loaded: {}", e.as_str().unwrap_or(""));
            }
            Ok(0)
        }
        WorkflowCmd::Run { name } => {
            print!("{}", ask(dirs, WorkflowCommand::Run { name })?);
            Ok(0)
        }
        WorkflowCmd::Runs {
            workflow,
            limit,
            json,
        } => {
            let out = ask(dirs, WorkflowCommand::Runs { workflow, limit })?;
            if json {
                println!("{out}");
                return Ok(0);
            }
            let runs: Vec<serde_json::Value> = serde_json::from_str(&out)?;
            if runs.is_empty() {
                println!("no runs");
            }
            for r in runs {
                let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
                let at = r["created"]
                    .as_i64()
                    .map(crate::engine::queue::duration::show_time)
                    .unwrap_or_default();
                let kind = r["trigger"]["kind"].as_str().unwrap_or("");
                println!(
                    "{}  {:<16} {:<10} {at}  {kind}{}",
                    &s("id")[..s("id").len().min(8)],
                    s("workflow"),
                    s("state"),
                    if s("error").is_empty() {
                        String::new()
                    } else {
                        format!("  {}", s("error"))
                    }
                );
            }
            Ok(0)
        }
        WorkflowCmd::Show { id, json } => {
            let out = ask(dirs, WorkflowCommand::Show { id })?;
            if json {
                println!("{out}");
                return Ok(0);
            }
            let r: serde_json::Value = serde_json::from_str(&out)?;
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            println!(
                "run {} of {}: {}",
                s(&r["id"]),
                s(&r["workflow"]),
                s(&r["state"])
            );
            println!("trigger {}", r["trigger"]);
            if !s(&r["error"]).is_empty() {
                println!("error: {}", s(&r["error"]));
            }
            for (i, st) in r["steps"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                println!(
                    "\n{}. {} ({}) {} · {} tries",
                    i + 1,
                    s(&st["name"]),
                    s(&st["kind"]),
                    s(&st["state"]),
                    st["tries"]
                );
                for t in st["log"].as_array().cloned().unwrap_or_default() {
                    println!("   try {}: {}", t["n"], s(&t["outcome"]));
                    for l in s(&t["stdout"]).lines().take(50) {
                        println!("     | {l}");
                    }
                    for l in s(&t["stderr"]).lines().take(50) {
                        println!("     ! {l}");
                    }
                }
            }
            Ok(0)
        }
        WorkflowCmd::Cancel { id } => {
            print!("{}", ask(dirs, WorkflowCommand::Cancel { id })?);
            Ok(0)
        }
        WorkflowCmd::Rerun { id } => {
            print!("{}", ask(dirs, WorkflowCommand::Rerun { id })?);
            Ok(0)
        }
        WorkflowCmd::Check => {
            let out = ask(dirs, WorkflowCommand::Check)?;
            if out.trim().is_empty() {
                println!("every workflow file reads");
                Ok(0)
            } else {
                print!("{out}");
                Ok(1)
            }
        }
        WorkflowCmd::Examples => {
            let dir = dirs.config.join("workflows");
            std::fs::create_dir_all(&dir)?;
            for (name, text) in EXAMPLES {
                let p = dir.join(name);
                if p.exists() {
                    println!("kept {} (it exists)", p.display());
                    continue;
                }
                std::fs::write(&p, text)?;
                println!("wrote {}", p.display());
            }
            Ok(0)
        }
    }
}

/// The mistakes in the workflow files, for `doctor` (read here, no server needed).
pub fn doctor_lines(dirs: &Dirs) -> Vec<String> {
    let (good, errors) = crate::engine::workflow::def::load_dir(&dirs.config.join("workflows"));
    let mut out = vec![format!("{} loaded", good.len())];
    out.extend(errors.iter().map(|e| format!("error: {e}")));
    out
}
