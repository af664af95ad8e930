/*!
The client/server protocol.

A connection opens with a fixed, version-independent handshake (magic + protocol version each
way, then a status byte and a UTF-8 message), so a client and server of different versions can
always tell each other so in words. After it, both sides exchange length-prefixed bincode
frames of `ClientMsg` / `ServerMsg`. A frame longer than `MAX_FRAME`, or one that does not
decode, closes that connection and nothing else.
*/

use crate::engine::vault::entries::{Attachment, Edit, Entry};
use crate::wire;
use fieldkit_widgets::TermCaps;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

pub const MAGIC: [u8; 4] = *b"FKIT";
/// Bump on any change to `ClientMsg` or `ServerMsg`.
pub const PROTOCOL_VERSION: u32 = 6;
pub const MAX_FRAME: u32 = wire::MAX_FRAME;

/// How `Attach` finds its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachMode {
    /// The session must exist (`attach -t`).
    Existing,
    /// The most recently used session (`attach` without -t).
    MostRecent,
    /// The session must not exist yet (`new -s`).
    New,
    /// Attach, creating it if needed (plain `fieldkit`).
    CreateOrAttach,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMsg {
    Attach {
        session: String,
        mode: AttachMode,
        cols: u16,
        rows: u16,
        caps: TermCaps,
        /// The folder the client was started in: new shells of the session start there (as
        /// tmux's), and relative paths typed in prompts are read from there.
        cwd: Option<String>,
    },
    Input {
        event: crossterm::event::Event,
    },
    Resize {
        cols: u16,
        rows: u16,
    },
    Detach,
    Command {
        session: Option<String>,
        command: Command,
    },
}

/// One-shot commands from the CLI; each gets exactly one `Reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    List,
    NewDetached {
        name: String,
    },
    KillSession,
    KillServer,
    Action {
        action: String,
    },
    Capture {
        pane: Option<u64>,
        scrollback: bool,
    },
    /// Keys for a terminal pane: key names (`Enter`, `C-c`) or literal text.
    SendKeys {
        pane: Option<u64>,
        keys: Vec<String>,
    },
    Ping,
    /// The vault in the server (`fieldkit vault ...`).
    Vault(VaultCommand),
    /// `fieldkit panic`: lock and wipe the vault, clear every pane and scrollback, blank every
    /// client's screen.
    Panic,
    /// The work queue (`fieldkit queue ...`).
    Queue(QueueCommand),
    /// Workflows (`fieldkit workflow ...`).
    Workflow(WorkflowCommand),
    /// The mesh (`fieldkit mesh ...`).
    Mesh(MeshCommand),
    /// Plugins (`fieldkit plugin ...`).
    Plugin(PluginCommand),
    /// Every session's active tab's panes (number, kind, title, focused), as JSON.
    Panes,
    /// Asks the attached user yes or no (a popup); answered when they say, refused at once when
    /// nobody is attached. For `fieldkit mcp`'s tools that change state.
    Ask {
        what: String,
    },
}

/// What `fieldkit plugin` asks of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PluginCommand {
    /// The plugins, their state, tools and permissions, as JSON.
    List,
    /// Call tool `tool` (`PLUGIN.TOOL`) with `args` (a JSON object); answered when it is done.
    Call {
        tool: String,
        args: String,
    },
    /// The user grants plugin `name` its permissions (`accept`: also what the kernel here
    /// cannot enforce of them).
    Grant {
        name: String,
        accept: bool,
    },
    Revoke {
        name: String,
    },
}

/// What `fieldkit mesh` asks of the server. `Id` and `List` answer JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MeshCommand {
    /// This device: its ID, name, role, team and addresses.
    Id,
    /// A one-time code for a device to join as `role`; the answer's last line is the code.
    Invite { role: String, minutes: Option<u64> },
    /// This device paired into a team (the CLI ran the exchange with the inviter at `via`).
    Joined {
        welcome: crate::engine::mesh::pair::Welcome,
        via: String,
    },
    /// The team's devices.
    List,
    /// Reach a device at IP:PORT.
    Connect { addr: String },
    /// Take a device out of the team (by its ID or the start of it), and change the team key.
    Revoke { device: String },
    /// The last lines of the sync log.
    Log { lines: usize },
    /// Fields whose concurrent edits lost, as JSON.
    Conflicts,
    /// Leave the team (this device founds a team of its own).
    Leave,
    /// Put back the value of `field` of item `item` (an id or its start) that lost a conflict.
    Restore { item: String, field: String },
    /// Share the chat session called `chat` with the team.
    ShareChat { chat: String },
    /// What the team shares (chats, workflows, the team vault), as JSON.
    Shared,
    /// Install the team's workflow `name` here.
    Approve { name: String },
    /// `fieldkit chat` wrote to session `session` (by name): if shared, the team hears of it.
    ChatChanged { session: String },
}

/// What `fieldkit workflow` asks of the server; `List`, `Runs` and `Show` answer JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkflowCommand {
    List,
    /// Start a workflow by hand; answers the run's id.
    Run {
        name: String,
    },
    Runs {
        workflow: Option<String>,
        limit: usize,
    },
    Show {
        id: String,
    },
    Cancel {
        id: String,
    },
    Rerun {
        id: String,
    },
    /// Read the files again; answers the mistakes, one per line.
    Check,
}

/// What `fieldkit queue` asks of the server; answers are text or JSON on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueueCommand {
    Add {
        title: String,
        body: String,
        priority: crate::engine::queue::Priority,
        /// Milliseconds from now until due.
        sla: Option<i64>,
        /// A due time (ms since the epoch).
        due: Option<i64>,
        role: String,
        tags: Vec<String>,
        project: String,
    },
    /// Every item as JSON (the CLI sorts and filters).
    List,
    Show {
        id: String,
    },
    Move {
        id: String,
        mv: crate::engine::queue::Move,
    },
    Comment {
        id: String,
        text: String,
    },
    Export,
    Import {
        items: Vec<crate::engine::queue::Item>,
    },
    /// Changes to an item's fields (not its state: moves do that).
    Edit {
        id: String,
        edit: crate::engine::queue::ItemEdit,
    },
}

/// What `fieldkit vault` asks of the server. Secrets travel only over the user's own socket
/// (0600 in a 0700 folder), never in argv, and `Debug` never shows them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum VaultCommand {
    /// Hold the vault of `slot`, opened with `kek` (derived by the CLI).
    Unlock {
        slot: u8,
        kek: [u8; 32],
    },
    Lock,
    Status,
    Ls,
    Get {
        title: String,
        field: String,
    },
    /// A new entry (refused when the title is taken).
    Add {
        entry: Box<Entry>,
    },
    /// Changes to the entry titled `title`.
    Edit {
        title: String,
        edit: Box<Edit>,
    },
    Rm {
        title: String,
    },
    /// Entries read from another manager's export by the CLI.
    Import {
        entries: Vec<Entry>,
    },
    /// A file the CLI sealed beside the vault (`attach.rs`), for the entry `title` (made when
    /// there is none).
    Attach {
        title: String,
        attachment: Attachment,
    },
    /// The id and key of an entry's file, for the CLI to open it itself.
    FileKey {
        title: String,
    },
    /// Every entry, for `vault export` (which seals or writes them itself).
    Dump,
}

impl std::fmt::Debug for VaultCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultCommand::Unlock { slot, .. } => {
                write!(f, "Unlock {{ slot: {slot}, kek: <redacted> }}")
            }
            VaultCommand::Lock => f.write_str("Lock"),
            VaultCommand::Status => f.write_str("Status"),
            VaultCommand::Ls => f.write_str("Ls"),
            VaultCommand::Get { title, field } => write!(f, "Get {{ {title:?}, {field:?} }}"),
            VaultCommand::Add { entry } => write!(f, "Add {{ {entry:?} }}"),
            VaultCommand::Edit { title, .. } => write!(f, "Edit {{ {title:?}, <redacted> }}"),
            VaultCommand::Rm { title } => write!(f, "Rm {{ {title:?} }}"),
            VaultCommand::Import { entries } => write!(f, "Import {{ {} entries }}", entries.len()),
            VaultCommand::Attach { title, .. } => write!(f, "Attach {{ {title:?}, <redacted> }}"),
            VaultCommand::FileKey { title } => write!(f, "FileKey {{ {title:?} }}"),
            VaultCommand::Dump => f.write_str("Dump"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// Bytes to write to the terminal as they are.
    Output { bytes: Vec<u8> },
    /// The attachment is over; the client restores the terminal, prints `message`, exits.
    Exit { message: String, code: i32 },
    /// The answer to a `Command`.
    Reply {
        code: i32,
        stdout: String,
        stderr: String,
    },
}

/// The outcome of a handshake, as the server tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    Ok,
    Refused(String),
}

/// Client side: sends our hello, reads the server's.
pub fn client_handshake(stream: &mut (impl Read + Write)) -> anyhow::Result<()> {
    let mut hello = Vec::with_capacity(8);
    hello.extend_from_slice(&MAGIC);
    hello.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    stream.write_all(&hello)?;
    let mut head = [0u8; 13];
    stream.read_exact(&mut head).map_err(|e| {
        anyhow::anyhow!("the server closed the connection during the handshake ({e})")
    })?;
    if head[0..4] != MAGIC {
        anyhow::bail!("the socket does not speak the fieldkit protocol");
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let status = head[8];
    let len = u32::from_le_bytes([head[9], head[10], head[11], head[12]]).min(64 * 1024);
    let mut msg = vec![0u8; len as usize];
    stream.read_exact(&mut msg)?;
    let msg = String::from_utf8_lossy(&msg).into_owned();
    if status != 0 {
        anyhow::bail!("{msg}");
    }
    if version != PROTOCOL_VERSION {
        anyhow::bail!(
            "the running server speaks protocol {version}, this fieldkit speaks \
             {PROTOCOL_VERSION}; run `fieldkit kill-server` (layouts are saved) and start again"
        );
    }
    Ok(())
}

/// Server side: judges a client's 8-byte hello. `None` means the bytes are not fieldkit at all
/// (garbage): close without a word.
pub fn judge_hello(hello: &[u8; 8]) -> Option<Handshake> {
    if hello[0..4] != MAGIC {
        return None;
    }
    let version = u32::from_le_bytes([hello[4], hello[5], hello[6], hello[7]]);
    if version == PROTOCOL_VERSION {
        Some(Handshake::Ok)
    } else {
        Some(Handshake::Refused(format!(
            "this fieldkit client speaks protocol {version}, the running server speaks \
             {PROTOCOL_VERSION} (fieldkit {}); run `fieldkit kill-server` (layouts are saved) \
             and start again with the same fieldkit binary",
            env!("CARGO_PKG_VERSION")
        )))
    }
}

/// The server's handshake reply, in the version-independent form.
pub fn server_hello(h: &Handshake) -> Vec<u8> {
    let (status, msg) = match h {
        Handshake::Ok => (0u8, ""),
        Handshake::Refused(m) => (1u8, m.as_str()),
    };
    let mut out = Vec::with_capacity(13 + msg.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    out.push(status);
    out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    out.extend_from_slice(msg.as_bytes());
    out
}

pub fn write_msg<T: Serialize>(w: &mut impl Write, msg: &T) -> anyhow::Result<()> {
    w.write_all(&wire::encode(msg)?)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_judged() {
        let mut good = [0u8; 8];
        good[..4].copy_from_slice(&MAGIC);
        good[4..].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(judge_hello(&good), Some(Handshake::Ok));
        let mut old = good;
        old[4..].copy_from_slice(&0u32.to_le_bytes());
        match judge_hello(&old) {
            Some(Handshake::Refused(m)) => assert!(m.contains("protocol 0"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(judge_hello(b"GET / HT"), None);
    }

    #[test]
    fn refusal_reaches_the_client_in_words() {
        let reply = server_hello(&Handshake::Refused("too old".into()));
        struct Pipe(std::io::Cursor<Vec<u8>>, Vec<u8>);
        impl Read for Pipe {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Pipe {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut p = Pipe(std::io::Cursor::new(reply), Vec::new());
        let err = client_handshake(&mut p).unwrap_err().to_string();
        assert_eq!(err, "too old");
        let mut p = Pipe(
            std::io::Cursor::new(server_hello(&Handshake::Ok)),
            Vec::new(),
        );
        client_handshake(&mut p).expect("ok handshake");
        assert_eq!(&p.1[..4], &MAGIC);
    }
}
