/*!
The command line, modelled on tmux's: bare `fieldkit` is `new -A -s main`; every other
command talks to the server and exits with its answer's code.
*/

use crate::client;
use crate::paths::Dirs;
use crate::protocol::{AttachMode, Command};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fieldkit",
    version,
    about = "A keyboard-driven terminal workspace for offline field work"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a new session and attach to it (-d: leave it detached).
    New {
        #[arg(short = 's', long = "session", default_value = "main")]
        name: String,
        #[arg(short = 'd', long)]
        detached: bool,
    },
    /// Attach to a session (without -t: the most recently used).
    #[command(alias = "a")]
    Attach {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
    },
    /// List sessions: name, tabs, panes, clients.
    #[command(alias = "list-sessions")]
    Ls,
    /// End a session and forget its layout.
    KillSession {
        #[arg(short = 't', long = "target")]
        target: String,
    },
    /// Stop the server. Layouts are saved and come back on the next start.
    KillServer,
    /// Panic: lock and wipe the vault, clear every pane's screen and scrollback (in memory and
    /// on disk), blank every client's screen. The sessions and their programs stay.
    Panic,
    /// Run any keymap action, e.g. `fieldkit action split-right` or `action resize left 5`.
    Action {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        action: Vec<String>,
    },
    /// Print the visible text of the screen, or of one pane (its number in the active tab).
    Capture {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
        #[arg(long)]
        pane: Option<u64>,
        /// A terminal's scrollback too, oldest line first (of --pane, else the focused pane).
        #[arg(long, short = 'S')]
        scrollback: bool,
    },
    /// Type into a terminal pane: each argument is a key name (Enter, Tab, Escape, C-c, M-x,
    /// Up...) or else literal text, as with `tmux send-keys`.
    SendKeys {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
        /// The pane's number in the active tab (default: the focused pane).
        #[arg(long)]
        pane: Option<u64>,
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        keys: Vec<String>,
    },
    /// Open a data file (CSV, TSV, Parquet, JSON, XLSX) in a grid pane of a session.
    Open {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
        path: String,
    },
    /// Open a file in the editor of a session (a new file if it does not exist yet).
    Edit {
        #[arg(short = 't', long = "target")]
        target: Option<String>,
        path: String,
    },
    /// Run SQL on DuckDB and print the result; exits non-zero with the error on failure.
    Sql {
        /// Database file (default: data.duckdb in the data dir; `:memory:` for none).
        #[arg(long)]
        db: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::sqlcli::Format,
        /// Translate from this dialect first: postgres, mysql, bigquery, redshift.
        #[arg(long = "from")]
        from: Option<String>,
        /// The SQL, or `-` to read it from standard input.
        query: String,
    },
    /// Manage the local models the chat uses (GGUF files; remote endpoints opt-in).
    Model {
        #[command(subcommand)]
        cmd: ModelCmd,
    },
    /// Ask the model; the answer streams to stdout. PROMPT `-` reads stdin.
    Chat {
        /// A registered model's name, or a path to a .gguf file (default: `model` under [llm]).
        #[arg(long)]
        model: Option<String>,
        /// Continue (or start) the chat session of this name, as the chat pane shows it.
        #[arg(long)]
        session: Option<String>,
        /// Put the passages the index (`fieldkit index`) has for the question into the prompt.
        #[arg(long)]
        retrieval: bool,
        prompt: String,
    },
    /// Index the text, markdown and code files under PATH for the chat's retrieval (with the
    /// embedding model too, when one is registered).
    Index {
        path: Option<String>,
        /// Index every folder indexed so far again (after changing the embedding model).
        #[arg(long)]
        rebuild: bool,
    },
    /// Run CMD with secrets from the unlocked vault in its environment only:
    /// `fieldkit run --env DB_PASS=vault:Database/password -- psql ...`.
    Run {
        /// NAME=vault:ENTRY/FIELD (FIELD: password, user, url, note); repeatable.
        #[arg(long = "env", required = true)]
        env: Vec<String>,
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// The encrypted vault: init, unlock, lock, status, ls, get, add, edit, mv, note, attach,
    /// extract, rm, import, export, gen.
    Vault {
        #[command(subcommand)]
        cmd: crate::vaultcli::VaultCmd,
    },
    /// The work queue: add, ls, show, claim, start, done, block, cancel, comment, export, import.
    Queue {
        #[command(subcommand)]
        cmd: crate::queuecli::QueueCmd,
    },
    /// Workflows: ls, run, runs, show, cancel, rerun, check, examples.
    Workflow {
        #[command(subcommand)]
        cmd: crate::workflowcli::WorkflowCmd,
    },
    /// The mesh: id, invite, join, ls, connect, revoke, log, conflicts.
    Mesh {
        #[command(subcommand)]
        cmd: crate::meshcli::MeshCmd,
    },
    /// fieldkit as an MCP server on stdio, for an agent in another terminal: SQL (read-only),
    /// the queue, panes; what changes state asks the attached user first.
    Mcp,
    /// Plugins (MCP servers): ls, call PLUGIN.TOOL ARGS, grant, revoke.
    Plugin {
        #[command(subcommand)]
        cmd: crate::plugincli::PluginCmd,
    },
    /// Print directories, terminal capabilities, socket state and the engines built in.
    Doctor,
    /// Print a completion script for SHELL: `fieldkit completions bash > ~/.local/share/bash-completion/completions/fieldkit`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the key bindings in force (--markdown: as the README's table).
    Keys {
        #[arg(long)]
        markdown: bool,
    },
    #[command(name = "__server", hide = true)]
    Server,
    #[command(name = "__worker", hide = true)]
    Worker { kind: String },
    /// Writes the test suite's tiny random-weight model (for trying the chat machinery).
    #[command(name = "__tiny-model", hide = true)]
    TinyModel {
        path: String,
        #[arg(long)]
        no_template: bool,
        /// Embedding width (64 by default); larger models answer more slowly.
        #[arg(long, default_value_t = 64)]
        embd: u64,
        #[arg(long, default_value_t = 2)]
        layers: u64,
    },
}

#[derive(Subcommand)]
enum ModelCmd {
    /// Register a GGUF model file (it stays where it is), or a remote endpoint with --url.
    Add {
        path: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// An OpenAI-compatible server (`http://host:8080/v1`); used only with allow_remote.
        #[arg(long)]
        url: Option<String>,
        /// The model name the remote server knows.
        #[arg(long)]
        remote_model: Option<String>,
    },
    /// List the registered models: name, size, architecture, quantization, context length.
    Ls,
    /// Forget a model (its file is not deleted).
    Rm { name: String },
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let dirs = Dirs::from_env();
    match run(cli, &dirs) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fieldkit: {e:#}");
            1
        }
    }
}

fn reply(r: (i32, String, String)) -> i32 {
    let (code, out, err) = r;
    print!("{out}");
    if !err.is_empty() {
        eprintln!("fieldkit: {}", err.trim_end());
    }
    code
}

fn run(cli: Cli, dirs: &Dirs) -> Result<i32> {
    // The server and workers set up their own logs; everything else logs as the client.
    if !matches!(cli.cmd, Some(Cmd::Server) | Some(Cmd::Worker { .. })) {
        let _ = crate::logging::init(dirs, "client");
    }
    match cli.cmd {
        None => client::attach(dirs, "main", AttachMode::CreateOrAttach),
        Some(Cmd::New {
            name,
            detached: false,
        }) => client::attach(dirs, &name, AttachMode::New),
        Some(Cmd::New {
            name,
            detached: true,
        }) => Ok(reply(client::command(
            dirs,
            None,
            Command::NewDetached { name },
            true,
        )?)),
        Some(Cmd::Attach { target: Some(t) }) => client::attach(dirs, &t, AttachMode::Existing),
        Some(Cmd::Attach { target: None }) => client::attach(dirs, "", AttachMode::MostRecent),
        Some(Cmd::Ls) => Ok(reply(client::command(dirs, None, Command::List, false)?)),
        Some(Cmd::KillSession { target }) => Ok(reply(client::command(
            dirs,
            Some(target),
            Command::KillSession,
            false,
        )?)),
        Some(Cmd::Panic) => Ok(reply(client::command(dirs, None, Command::Panic, false)?)),
        Some(Cmd::KillServer) => Ok(reply(client::command(
            dirs,
            None,
            Command::KillServer,
            false,
        )?)),
        Some(Cmd::Open { target, path }) => {
            let abs = std::path::absolute(&path)?;
            if !abs.exists() {
                anyhow::bail!("{}: no such file", abs.display());
            }
            Ok(reply(client::command(
                dirs,
                target,
                Command::Action {
                    action: format!("open-file {}", abs.display()),
                },
                false,
            )?))
        }
        Some(Cmd::Edit { target, path }) => {
            let abs = std::path::absolute(&path)?;
            Ok(reply(client::command(
                dirs,
                target,
                Command::Action {
                    action: format!("edit {}", abs.display()),
                },
                false,
            )?))
        }
        Some(Cmd::Sql {
            db,
            format,
            from,
            query,
        }) => crate::sqlcli::run(
            dirs,
            crate::sqlcli::Args {
                db,
                format,
                from,
                query,
            },
        ),
        Some(Cmd::Action { target, action }) => Ok(reply(client::command(
            dirs,
            target,
            Command::Action {
                action: action.join(" "),
            },
            false,
        )?)),
        Some(Cmd::Capture {
            target,
            pane,
            scrollback,
        }) => Ok(reply(client::command(
            dirs,
            target,
            Command::Capture { pane, scrollback },
            false,
        )?)),
        Some(Cmd::SendKeys { target, pane, keys }) => Ok(reply(client::command(
            dirs,
            target,
            Command::SendKeys { pane, keys },
            false,
        )?)),
        Some(Cmd::Model { cmd }) => match cmd {
            ModelCmd::Add {
                path,
                name,
                url,
                remote_model,
            } => crate::chatcli::model_add(dirs, path, name, url, remote_model),
            ModelCmd::Ls => crate::chatcli::model_ls(dirs),
            ModelCmd::Rm { name } => crate::chatcli::model_rm(dirs, &name),
        },
        Some(Cmd::Chat {
            model,
            session,
            retrieval,
            prompt,
        }) => crate::chatcli::chat(
            dirs,
            crate::chatcli::ChatArgs {
                model,
                session,
                retrieval,
                prompt,
            },
        ),
        Some(Cmd::TinyModel {
            path,
            no_template,
            embd,
            layers,
        }) => {
            let spec = crate::format::gguf::tiny::Spec {
                n_embd: embd.max(16),
                n_ff: embd.max(16) * 4,
                n_layer: layers.max(1),
                chat_template: (!no_template)
                    .then(|| crate::format::gguf::tiny::CHATML.to_string()),
                ..Default::default()
            };
            crate::format::gguf::tiny::write(std::path::Path::new(&path), &spec)?;
            Ok(0)
        }
        Some(Cmd::Index { path, rebuild }) => {
            crate::chatcli::index_cmd(dirs, path.as_deref(), rebuild)
        }
        Some(Cmd::Vault { cmd }) => crate::vaultcli::run(dirs, cmd),
        Some(Cmd::Queue { cmd }) => crate::queuecli::run(dirs, cmd),
        Some(Cmd::Workflow { cmd }) => crate::workflowcli::run(dirs, cmd),
        Some(Cmd::Mesh { cmd }) => crate::meshcli::run(dirs, cmd),
        Some(Cmd::Plugin { cmd }) => crate::plugincli::run(dirs, cmd),
        Some(Cmd::Mcp) => crate::mcpcli::run(dirs),
        Some(Cmd::Run { env, cmd }) => crate::vaultcli::run_with_secrets(dirs, &env, &cmd),
        Some(Cmd::Doctor) => {
            print!("{}", crate::doctor::report(dirs));
            Ok(0)
        }
        Some(Cmd::Completions { shell }) => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fieldkit", &mut out);
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .context("cannot write the completion script")?;
            Ok(0)
        }
        Some(Cmd::Keys { markdown }) => {
            let loaded = crate::config::load(dirs);
            for e in &loaded.errors {
                eprintln!("fieldkit: {e}");
            }
            if markdown {
                print!("{}", loaded.keymap.markdown());
            } else {
                for b in &loaded.keymap.bindings {
                    println!(
                        "{:<14} {:<18} {}",
                        b.keys_label(loaded.keymap.prefix),
                        b.action.to_string(),
                        b.desc
                    );
                }
            }
            Ok(0)
        }
        Some(Cmd::Server) => {
            crate::server::run(dirs.clone())?;
            Ok(0)
        }
        Some(Cmd::Worker { kind }) => {
            crate::engine::run_worker(&kind)?;
            Ok(0)
        }
    }
}
