/*!
What the mesh carries between devices: changes (`Op`), each one field of one record set by one
device at one hybrid-logical-clock time and signed by that device, and the sync messages that
exchange them (`SyncMsg`).

A change is the unit of sync because it is what merges without coordination: a field's value is
the change with the greatest `(at, origin)`, whatever order changes arrive in, however often, by
whichever path. Every change is kept, so a value that lost is still there to show and restore.
A change names the version of the field its writer saw (`base`) and the conflicting versions it
had in view (`seen`): a loser its winner never saw was a concurrent edit, a conflict to review;
one it saw was simply overwritten (or, a conflict shown, settled).

These are plain data: signing, checking and merging are the mesh engine's (`engine::mesh`).
*/

use serde::{Deserialize, Serialize};

/// A device's public key (ed25519): who made a change, and who may connect.
pub type DeviceKey = [u8; 32];

/// A hybrid logical clock reading: milliseconds since the Unix epoch as the device's clock and
/// the changes it has seen say (never behind either), and a counter for changes within one
/// millisecond. Ordered by `ms`, then `n`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc {
    pub ms: u64,
    pub n: u32,
}

/// A version of a field: when, and by whom (the tie-break between equal clocks).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Stamp {
    pub at: Hlc,
    pub origin: DeviceKey,
}

/// Which records a change is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Work items, a field per column.
    Item,
    /// An item's state changes: one record each, never changed after.
    History,
    /// An item's comments: one record each.
    Comment,
    /// Chat sessions marked shared, and their messages.
    Chat,
    /// Workflow definitions marked shared.
    Workflow,
    /// Entries of the team vault: ciphertext only (sealed with the team vault key).
    Secret,
    /// The team's devices: name, role, revoked. Only admins change these.
    Device,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Item,
        Kind::History,
        Kind::Comment,
        Kind::Chat,
        Kind::Workflow,
        Kind::Secret,
        Kind::Device,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Item => "item",
            Kind::History => "history",
            Kind::Comment => "comment",
            Kind::Chat => "chat",
            Kind::Workflow => "workflow",
            Kind::Secret => "secret",
            Kind::Device => "device",
        }
    }
}

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    /// Sealed bytes (a team vault entry), relayed as they are.
    Bytes(Vec<u8>),
}

/// The field that marks a record deleted (a tombstone: `Int(1)`; `Int(0)` brings it back).
pub const DELETED: &str = "_deleted";

/// One field set by a change: to `value`, over the version `base` its writer saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Set {
    pub field: String,
    pub value: Value,
    /// The version of the field its writer saw (`None`: the field was new to it).
    pub base: Option<Stamp>,
    /// Versions of the field that were conflicts when it was written (its writer saw them).
    pub seen: Vec<Stamp>,
}

/// One change: fields of record `record` (of `kind`) set together, by one device at one time,
/// under one signature. An item made or edited is one change, not one per field: the
/// signatures to make and check, the rows kept and the memory held are per edit. Merging is
/// still per field: each field's value is the latest `Set` of it, whatever change it rode in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub origin: DeviceKey,
    /// The origin's count of its own changes: 1, 2, 3… with no gaps.
    pub seq: u64,
    pub at: Hlc,
    pub kind: Kind,
    pub record: String,
    /// At least one; each field at most once.
    pub sets: Vec<Set>,
    /// The origin's ed25519 signature over everything above (`engine::mesh::op::signed_bytes`).
    pub sig: Vec<u8>,
}

impl Op {
    pub fn stamp(&self) -> Stamp {
        Stamp {
            at: self.at,
            origin: self.origin,
        }
    }

    /// What this change sets `field` to, if it sets it.
    pub fn set(&self, field: &str) -> Option<&Set> {
        self.sets.iter().find(|s| s.field == field)
    }
}

/// Between two paired devices, over the mesh's sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMsg {
    /// What I have: for each origin, the greatest `seq` I hold every change up to.
    Have(Vec<(DeviceKey, u64)>),
    /// Changes you lack (a batch of at most `MAX_BATCH` bytes encoded); `more` says another
    /// batch follows.
    Ops { ops: Vec<Op>, more: bool },
}

/// The most bytes of changes sent in one batch.
pub const MAX_BATCH: usize = 64 * 1024;
/// The longest a record id, a field name or a text value may be (a vault entry's sealed bytes
/// included): longer is refused, not cut.
pub const MAX_ID: usize = 256;
pub const MAX_VALUE: usize = 48 * 1024;
/// The most fields one change sets.
pub const MAX_SETS: usize = 64;
/// The most bytes of values one change carries, so that any change fits in a batch.
pub const MAX_OP_VALUES: usize = 56 * 1024;
/// The most conflicting versions a change may say it saw.
pub const MAX_SEEN: usize = 64;

/// What the server asks of the `mesh` worker. The server owns mesh.db and the team's keys; the
/// worker holds a copy of the changes (to answer peers) and the connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeshIn {
    /// Begin (again, whenever sent: a new team, a new team key): who this device is, the team,
    /// where to listen. Followed by the changes held (`Restore`, in frames) and `Go`.
    Start {
        /// The device key's seed: its identity on the wire (Noise) as well as its signature.
        seed: [u8; 32],
        team_key: [u8; 32],
        founder: DeviceKey,
        /// Devices let in before the records name them (the inviter, for a device that just
        /// joined and holds no records yet).
        also_allowed: Vec<DeviceKey>,
        /// HOST:PORT to listen on for the team (port 0: any).
        listen: String,
        mdns: bool,
        /// HOST:PORT addresses of peers to dial once started.
        dial: Vec<String>,
    },
    Restore(Vec<Op>),
    Go,
    /// Changes made here (kept already), to hold and push.
    Local(Vec<Op>),
    /// Dial HOST:PORT (`fieldkit mesh connect`).
    Dial(String),
    /// Open (`Some(HOST:PORT)`) or close the pairing port.
    Pairing(Option<String>),
    /// Bytes for pairing connection `conn`.
    PairSend {
        conn: u64,
        bytes: Vec<u8>,
    },
    PairClose {
        conn: u64,
    },
    /// Wrap connections in this team key from now on, once what was pushed is answered (so
    /// the change that rotated it reaches the peers first).
    Rekey {
        team_key: [u8; 32],
    },
}

/// What the `mesh` worker tells the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeshOut {
    Hello {
        pid: u32,
        version: u32,
    },
    /// Listening for the team on this address.
    Listening(String),
    /// The pairing port is open on this address (`None`: it could not be).
    PairListening(Result<String, String>),
    Connected {
        device: DeviceKey,
        addr: String,
    },
    Disconnected {
        device: DeviceKey,
    },
    /// Changes taken from a peer: new, well formed, signed by a device whose role allows them.
    Took {
        from: DeviceKey,
        ops: Vec<Op>,
    },
    Refused {
        from: DeviceKey,
        why: String,
    },
    /// Something that went wrong, in a sentence.
    Failed(String),
    /// A peer's `Have` answered what was pushed: how far behind it was, for the pane.
    Synced {
        device: DeviceKey,
        behind: u64,
    },
    /// A pairing connection opened, from this address.
    PairOpened {
        conn: u64,
        peer: String,
    },
    PairBytes {
        conn: u64,
        bytes: Vec<u8>,
    },
    PairClosed {
        conn: u64,
    },
}
