/*!
`fieldkit mesh ...`: pair devices and see the team from a shell. Every command goes to the
running server (started if needed), which owns mesh.db and starts the `mesh` worker; forms
scripts rely on: `mesh invite` prints the code alone on its last line, `mesh ls --json` prints
an array of devices with `id`, `name`, `role` and `online`.

`mesh join` runs the pairing exchange itself, from this short-lived process, against the
inviting device's pairing port, and hands the server what it got (the team's keys); the
server's long-lived network process never sees them. A wrong code is said as such, and spends
the code on the inviting side.
*/

use crate::client;
use crate::engine::mesh::pair::{self, JoinerInfo};
use crate::engine::mesh::{id, pairnet};
use crate::paths::Dirs;
use crate::protocol::{Command, MeshCommand};
use anyhow::{anyhow, bail, Context, Result};

#[derive(clap::Subcommand, Debug)]
pub enum MeshCmd {
    /// This device: its ID (read it aloud to compare), name, role and addresses.
    Id {
        #[arg(long)]
        json: bool,
    },
    /// A one-time code for another device to join; the code is alone on the last line.
    Invite {
        /// admin, member or guest.
        #[arg(long, default_value = "member")]
        role: String,
        /// How long the code is good for (default: [mesh] invite_minutes, 10).
        #[arg(long)]
        minutes: Option<u64>,
    },
    /// Join the team of the device that showed CODE: at its pairing address, or found on the
    /// LAN when none is given.
    Join {
        code: String,
        /// IP:PORT of the inviting device's pairing port (as `mesh invite` shows it); without
        /// it, the devices on this network with an open invite are asked.
        #[arg(long)]
        addr: Option<String>,
    },
    /// The team's devices: role, online, last sync.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Reach a device at IP:PORT (where mDNS does not pass).
    Connect { addr: String },
    /// Take a device out of the team (its ID, or its first characters) and change the team key.
    Revoke { device: String },
    /// The sync log, oldest first.
    Log {
        #[arg(long, default_value_t = 50)]
        lines: usize,
    },
    /// Edits that lost to a concurrent edit of the same field, as JSON.
    Conflicts,
    /// Leave the team: the team's changes and keys go from this device; its queue stays.
    Leave,
    /// Put back the value of an item's field that lost a conflict (the latest, if several).
    Restore { item: String, field: String },
    /// Share something with the team: `mesh share chat NAME` (a chat session and what anyone
    /// adds to it). Workflows are shared by `shared = true` in their file, vault entries by
    /// being in the team folder ([mesh] vault_folder, default `team`).
    Share {
        /// What to share: chat.
        what: String,
        /// Its name.
        name: String,
    },
    /// What the team shares: chats, workflows (installed or waiting for approval) and the team
    /// vault.
    Shared {
        #[arg(long)]
        json: bool,
    },
    /// Install the team's workflow NAME here, so it runs as its triggers say.
    Approve { name: String },
}

fn ask(dirs: &Dirs, cmd: MeshCommand) -> Result<String> {
    let (code, out, err) = client::command(dirs, None, Command::Mesh(cmd), true)?;
    if code != 0 {
        bail!("{}", err.trim_end());
    }
    Ok(out)
}

pub fn run(dirs: &Dirs, cmd: MeshCmd) -> Result<i32> {
    match cmd {
        MeshCmd::Id { json } => {
            let out = ask(dirs, MeshCommand::Id)?;
            if json {
                print!("{out}");
            } else {
                let v: serde_json::Value = serde_json::from_str(&out)?;
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                println!("{}", s("id"));
                println!("name: {}  role: {}", s("name"), s("role"));
                if let Some(l) = v["listening"].as_str() {
                    println!("listening on {l}");
                }
            }
        }
        MeshCmd::Invite { role, minutes } => {
            print!("{}", ask(dirs, MeshCommand::Invite { role, minutes })?);
        }
        MeshCmd::Join { code, addr } => {
            let code = pair::parse_code(&code).map_err(|e| anyhow!(e))?;
            let candidates = match addr {
                Some(a) => vec![a],
                None => look_on_the_lan(dirs)?,
            };
            let me: serde_json::Value = serde_json::from_str(&ask(dirs, MeshCommand::Id)?)?;
            let key = id::parse_device_id(me["id"].as_str().unwrap_or(""))
                .map_err(|e| anyhow!("this device's ID does not read: {e}"))?;
            let info = JoinerInfo {
                key,
                name: me["name"].as_str().unwrap_or("").to_string(),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // Each device that answered, in turn: one whose invite has another code says so
            // without spending anything, and the next is tried.
            let mut last = None;
            for addr in candidates {
                let got = rt.block_on(async {
                    let mut s = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        tokio::net::TcpStream::connect(&addr),
                    )
                    .await
                    .map_err(|_| anyhow!("{addr} did not answer within 10 s"))?
                    .with_context(|| format!("cannot reach {addr}"))?;
                    anyhow::Ok(pairnet::join(&mut s, &code, &info).await)
                })?;
                match got {
                    Ok(welcome) => {
                        print!("{}", ask(dirs, MeshCommand::Joined { welcome, via: addr })?);
                        return Ok(0);
                    }
                    Err(e @ pair::PairError::NoInvite) => last = Some(e.to_string()),
                    Err(e) => bail!("{e}"),
                }
            }
            bail!("{}", last.unwrap_or_else(|| "no device to join".into()));
        }
        MeshCmd::Ls { json } => {
            let out = ask(dirs, MeshCommand::List)?;
            if json {
                print!("{out}");
            } else {
                let v: Vec<serde_json::Value> = serde_json::from_str(&out)?;
                for d in v {
                    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
                    let state = if d["this_device"].as_bool() == Some(true) {
                        "this device"
                    } else if d["online"].as_bool() == Some(true) {
                        "online"
                    } else {
                        "offline"
                    };
                    println!(
                        "{}  {:<20} {:<7} {}",
                        s("id").chars().take(15).collect::<String>(),
                        s("name"),
                        s("role"),
                        state
                    );
                }
            }
        }
        MeshCmd::Connect { addr } => print!("{}", ask(dirs, MeshCommand::Connect { addr })?),
        MeshCmd::Revoke { device } => print!("{}", ask(dirs, MeshCommand::Revoke { device })?),
        MeshCmd::Log { lines } => print!("{}", ask(dirs, MeshCommand::Log { lines })?),
        MeshCmd::Conflicts => print!("{}", ask(dirs, MeshCommand::Conflicts)?),
        MeshCmd::Leave => print!("{}", ask(dirs, MeshCommand::Leave)?),
        MeshCmd::Restore { item, field } => {
            print!("{}", ask(dirs, MeshCommand::Restore { item, field })?)
        }
        MeshCmd::Share { what, name } => match what.as_str() {
            "chat" => print!("{}", ask(dirs, MeshCommand::ShareChat { chat: name })?),
            "workflow" => bail!(
                "a workflow is shared by `shared = true` at the top of its file in {}",
                dirs.config.join("workflows").display()
            ),
            "vault" | "secret" | "entry" => bail!(
                "a vault entry is shared by moving it into the team folder: fieldkit vault mv \
                 {name} team (the folder is [mesh] vault_folder)"
            ),
            other => bail!(
                "{other:?} is not shared this way: `fieldkit mesh share chat NAME`; a workflow \
                 is shared by `shared = true` in its file, a vault entry by the team folder"
            ),
        },
        MeshCmd::Shared { json } => {
            let out = ask(dirs, MeshCommand::Shared)?;
            if json {
                print!("{out}");
            } else {
                print!("{}", shared_text(&serde_json::from_str(&out)?));
            }
        }
        MeshCmd::Approve { name } => print!("{}", ask(dirs, MeshCommand::Approve { name })?),
    }
    Ok(0)
}

/// `mesh shared` for a person.
fn shared_text(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    out.push_str("chats shared:\n");
    let chats = list("chats");
    if chats.is_empty() {
        out.push_str("  none (fieldkit mesh share chat NAME)\n");
    }
    for c in chats {
        out.push_str(&format!(
            "  {:<24} {} messages\n",
            c["name"].as_str().unwrap_or(""),
            c["messages"]
        ));
    }
    out.push_str("workflows the team shares:\n");
    let wfs = list("workflows");
    if wfs.is_empty() {
        out.push_str("  none (shared = true in a workflow file shares it)\n");
    }
    for w in wfs {
        out.push_str(&format!(
            "  {:<24} by {:<16} {}\n",
            w["name"].as_str().unwrap_or(""),
            w["by"].as_str().unwrap_or(""),
            w["state"].as_str().unwrap_or("")
        ));
    }
    let vault = &v["vault"];
    out.push_str(&format!(
        "team vault (folder {}): {} entries",
        vault["folder"].as_str().unwrap_or(""),
        vault["entries"]
    ));
    if vault["unlocked"].as_bool() == Some(true) {
        out.push('\n');
        for t in vault["titles"].as_array().cloned().unwrap_or_default() {
            out.push_str(&format!("  {}\n", t.as_str().unwrap_or("")));
        }
    } else {
        out.push_str(", sealed until this vault is unlocked\n");
    }
    out
}

/// The pairing addresses of the devices on the LAN with an invite open (asked on the pairing
/// port's number, `[mesh] pair_listen`); an error that says to give `--addr` when none answers.
fn look_on_the_lan(dirs: &Dirs) -> Result<Vec<String>> {
    let cfg = crate::config::load(dirs).config.mesh;
    let port: u16 = cfg
        .pair_listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .filter(|p| *p != 0)
        .unwrap_or(4702);
    eprintln!("looking on this network for a device with an open invite (UDP port {port})…");
    let found = pairnet::discover(port, std::time::Duration::from_secs(3)).with_context(|| {
        format!("cannot ask the network on UDP port {port}: give --addr IP:PORT")
    })?;
    if found.is_empty() {
        bail!(
            "no device with an open invite answered on this network (UDP port {port}; a router \
             may not pass broadcasts): give its pairing address, fieldkit mesh join CODE --addr \
             IP:PORT (its `mesh invite` shows it)"
        );
    }
    Ok(found.into_iter().map(|a| a.to_string()).collect())
}
