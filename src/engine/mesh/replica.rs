/*!
A device's copy of the team's records: every change it holds (its own and the others'), the
value each field has (the change with the greatest stamp), who may change what, and what to
send a peer that lacks changes.

Merging is per field, last writer wins by `(hybrid clock, origin)`: the same set of changes gives
the same values on every device, in whatever order and however many times they arrive, so
devices converge by exchanging changes alone, directly or through others (A and C through B).
Nothing is overwritten: every change stays, and a value that lost to one whose writer had not
seen it is a conflict to show and restore (`conflicts`).

Who may change what is checked by every receiver, against the team's device records (kind
`Device`, changed only by admins; the device that founded the team is its first admin): a
member changes work, chats and shared secrets, a guest nothing, a revoked device nothing.
A refused change is not kept (a peer that later has the right to send it sends it again:
what a device has is counted per origin without gaps, so gaps are asked for again).

This copy lives in memory; `store::mesh` keeps it in mesh.db.
*/

use super::hlc::{Ahead, Clock};
use super::op;
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{
    DeviceKey, Hlc, Kind, Op, Set, Stamp, SyncMsg, Value, DELETED, MAX_BATCH,
};
use std::collections::{BTreeMap, HashMap};

/// What a device may do in the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Pairs and revokes devices, changes anything.
    Admin,
    /// Changes work items, comments, shared chats, workflows and team secrets.
    Member,
    /// Reads only.
    Guest,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "guest" => Ok(Role::Guest),
            other => Err(format!("{other:?} is not a role: admin, member or guest")),
        }
    }

    /// Whether this role may change records of `kind`.
    pub fn may_change(self, kind: Kind) -> bool {
        match self {
            Role::Admin => true,
            Role::Member => kind != Kind::Device,
            Role::Guest => false,
        }
    }
}

/// Why a change was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Malformed, or its signature does not check.
    Bad(String),
    /// Stamped too far ahead of this device's clock.
    Future(Ahead),
    /// Its origin is not a device of the team, or was revoked.
    Unknown,
    /// Its origin's role does not allow it.
    NotAllowed(Role),
    /// The origin signed two different changes with one number.
    Equivocation,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Bad(why) => write!(f, "malformed: {why}"),
            Refused::Future(a) => write!(
                f,
                "stamped {} s ahead of this device's clock (at most {} s)",
                a.by_ms / 1000,
                super::hlc::MAX_AHEAD_MS / 1000
            ),
            Refused::Unknown => write!(f, "from a device that is not in the team (or was revoked)"),
            Refused::NotAllowed(r) => write!(f, "a {} may not make this change", r.name()),
            Refused::Equivocation => {
                write!(f, "its origin signed another change with the same number")
            }
        }
    }
}

/// A value that lost to one whose writer had not seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub field: String,
    pub value: Value,
    pub stamp: Stamp,
    /// The value that won, and its stamp.
    pub winner: Value,
    pub winner_stamp: Stamp,
}

type FieldKey = (Kind, String, String);

/// A field's versions by stamp, oldest first. Most fields have one or two, so a sorted Vec: a
/// BTreeMap's first node alone has room for eleven (about 1 KB a field, which for a team's
/// 100,000 fields was most of a replica's memory).
#[derive(Debug, Default, Clone)]
struct Versions(Vec<(Stamp, (DeviceKey, u64))>);

impl Versions {
    fn insert(&mut self, s: Stamp, k: (DeviceKey, u64)) {
        match self.0.binary_search_by(|(x, _)| x.cmp(&s)) {
            Ok(i) => self.0[i].1 = k,
            Err(i) => self.0.insert(i, (s, k)),
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (&Stamp, &(DeviceKey, u64))> {
        self.0.iter().map(|(s, k)| (s, k))
    }

    fn values(&self) -> impl DoubleEndedIterator<Item = &(DeviceKey, u64)> {
        self.0.iter().map(|(_, k)| k)
    }

    fn keys(&self) -> impl DoubleEndedIterator<Item = &Stamp> {
        self.0.iter().map(|(s, _)| s)
    }

    fn get(&self, s: &Stamp) -> Option<&(DeviceKey, u64)> {
        self.0
            .binary_search_by(|(x, _)| x.cmp(s))
            .ok()
            .map(|i| &self.0[i].1)
    }
}

#[derive(Debug)]
pub struct Replica {
    pub me: DeviceKey,
    /// The device that founded the team: an admin without a record saying so.
    pub founder: DeviceKey,
    clock: Clock,
    /// Every change held, by origin and number.
    ops: BTreeMap<(DeviceKey, u64), Op>,
    /// Per origin, the greatest number held with every one before it.
    contiguous: HashMap<DeviceKey, u64>,
    /// Each field's changes by stamp (the last is its value).
    fields: BTreeMap<FieldKey, Versions>,
}

/// The record id of a device in the team's device records.
pub fn device_record(key: &DeviceKey) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The device a device record's id names (`None`: the record is not a device's, as `team-key`).
pub fn record_device(rec: &str) -> Option<DeviceKey> {
    if rec.len() != 64 {
        return None;
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(rec.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

impl Replica {
    pub fn new(me: DeviceKey, founder: DeviceKey) -> Replica {
        Replica {
            me,
            founder,
            clock: Clock::default(),
            ops: BTreeMap::new(),
            contiguous: HashMap::new(),
            fields: BTreeMap::new(),
        }
    }

    /// How many changes are held.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Every change held, in (origin, number) order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.values()
    }

    /// The change that set a field's value now, and its setting of that field.
    fn winner(&self, kind: Kind, record: &str, field: &str) -> Option<(&Op, &Set)> {
        let versions = self
            .fields
            .get(&(kind, record.to_string(), field.to_string()))?;
        let (_, key) = versions.iter().next_back()?;
        self.setting(key, field)
    }

    /// Change `key`'s setting of `field`.
    fn setting(&self, key: &(DeviceKey, u64), field: &str) -> Option<(&Op, &Set)> {
        let op = self.ops.get(key)?;
        Some((op, op.set(field)?))
    }

    /// Who set a field's value now.
    pub fn writer(&self, kind: Kind, record: &str, field: &str) -> Option<DeviceKey> {
        self.winner(kind, record, field).map(|(o, _)| o.origin)
    }

    /// A field's value (`None`: never set).
    pub fn value(&self, kind: Kind, record: &str, field: &str) -> Option<&Value> {
        self.winner(kind, record, field).map(|(_, s)| &s.value)
    }

    /// A record's fields and their values; `None` when it has none, or is deleted.
    pub fn record(&self, kind: Kind, record: &str) -> Option<BTreeMap<String, Value>> {
        if self.value(kind, record, DELETED) == Some(&Value::Int(1)) {
            return None;
        }
        let mut out = BTreeMap::new();
        for ((k, r, f), versions) in self
            .fields
            .range((kind, record.to_string(), String::new())..)
        {
            if *k != kind || r != record {
                break;
            }
            if f == DELETED {
                continue;
            }
            if let Some((_, set)) = versions
                .values()
                .next_back()
                .and_then(|k| self.setting(k, f))
            {
                out.insert(f.clone(), set.value.clone());
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// When a record last changed: the latest clock of its fields' values (ms).
    pub fn updated(&self, kind: Kind, record: &str) -> Option<u64> {
        self.fields
            .range((kind, record.to_string(), String::new())..)
            .take_while(|((k, r, _), _)| *k == kind && r == record)
            .filter_map(|(_, v)| v.keys().next_back().map(|s| s.at.ms))
            .max()
    }

    /// The ids of the records of `kind` (deleted ones too).
    pub fn records(&self, kind: Kind) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, r, _) in self
            .fields
            .range((kind, String::new(), String::new())..)
            .map(|(k, _)| k)
        {
            if *k != kind {
                break;
            }
            if out.last() != Some(r) {
                out.push(r.clone());
            }
        }
        out
    }

    /// The ids of the records of `kind` that begin with `prefix` (deleted ones too).
    pub fn records_from(&self, kind: Kind, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, r, _) in self
            .fields
            .range((kind, prefix.to_string(), String::new())..)
            .map(|(k, _)| k)
        {
            if *k != kind || !r.starts_with(prefix) {
                break;
            }
            if out.last() != Some(r) {
                out.push(r.clone());
            }
        }
        out
    }

    /// The devices the team's records name (revoked ones too), the founder among them only
    /// once it has a record.
    pub fn devices(&self) -> Vec<DeviceKey> {
        self.records(Kind::Device)
            .iter()
            .filter_map(|r| record_device(r))
            .collect()
    }

    /// A device's role now (`None`: not in the team, or revoked).
    pub fn role_of(&self, key: &DeviceKey) -> Option<Role> {
        let rec = device_record(key);
        if self.value(Kind::Device, &rec, "revoked") == Some(&Value::Int(1)) {
            return None;
        }
        match self.value(Kind::Device, &rec, "role") {
            Some(Value::Text(r)) => Role::parse(r).ok(),
            _ if *key == self.founder => Some(Role::Admin),
            _ => None,
        }
    }

    /// Per origin, the greatest change number held with all before it.
    pub fn have(&self) -> Vec<(DeviceKey, u64)> {
        let mut v: Vec<(DeviceKey, u64)> = self.contiguous.iter().map(|(k, n)| (*k, *n)).collect();
        v.sort();
        v
    }

    /// A change made here: stamped, numbered, signed and applied.
    pub fn write(
        &mut self,
        key: &SigningKey,
        kind: Kind,
        record: &str,
        field: &str,
        value: Value,
        wall_ms: u64,
    ) -> Op {
        let mut ops = self.write_many(key, kind, record, vec![(field.to_string(), value)], wall_ms);
        ops.pop()
            .unwrap_or_else(|| unreachable!("one field makes one change"))
    }

    /// Fields of one record set together: one change (more only where their values together
    /// are over `MAX_OP_VALUES`), each stamped, numbered, signed and applied. A field named
    /// twice keeps its last value.
    pub fn write_many(
        &mut self,
        key: &SigningKey,
        kind: Kind,
        record: &str,
        fields: Vec<(String, Value)>,
        wall_ms: u64,
    ) -> Vec<Op> {
        let mut sets: Vec<Set> = Vec::new();
        for (field, value) in fields {
            let base = self.winner(kind, record, &field).map(|(o, _)| o.stamp());
            // The conflicts shown for this field are settled by this write.
            let mut conflicts = Vec::new();
            if let Some(versions) = self.fields.get(&(kind, record.to_string(), field.clone())) {
                self.field_conflicts(&field, versions, &mut conflicts);
            }
            let seen: Vec<Stamp> = conflicts
                .into_iter()
                .map(|c| c.stamp)
                .take(fieldkit_messages::mesh::MAX_SEEN)
                .collect();
            sets.retain(|s| s.field != field);
            sets.push(Set {
                field,
                value,
                base,
                seen,
            });
        }
        // In changes of at most MAX_SETS fields and MAX_OP_VALUES bytes of values.
        let mut groups: Vec<Vec<Set>> = vec![Vec::new()];
        let mut size = 0;
        for set in sets {
            let n = op::value_len(&set.value);
            let full = groups.last().is_some_and(|g| {
                g.len() >= fieldkit_messages::mesh::MAX_SETS
                    || (!g.is_empty() && size + n > fieldkit_messages::mesh::MAX_OP_VALUES)
            });
            if full {
                groups.push(Vec::new());
                size = 0;
            }
            size += n;
            if let Some(g) = groups.last_mut() {
                g.push(set);
            }
        }
        groups.retain(|g| !g.is_empty());
        let mut out = Vec::new();
        for sets in groups {
            let seq = self.contiguous.get(&self.me).copied().unwrap_or(0) + 1;
            let mut op = Op {
                origin: self.me,
                seq,
                at: self.clock.tick(wall_ms),
                kind,
                record: record.to_string(),
                sets,
                sig: Vec::new(),
            };
            op::sign(&mut op, key);
            self.insert(op.clone());
            out.push(op);
        }
        out
    }

    /// An admin's change: `device` joins the team (or changes role) as `role`.
    pub fn admit(&mut self, key: &SigningKey, device: &DeviceKey, role: Role, wall_ms: u64) -> Op {
        let rec = device_record(device);
        self.write(
            key,
            Kind::Device,
            &rec,
            "role",
            Value::Text(role.name().into()),
            wall_ms,
        )
    }

    /// The replicas of a new team, one per key: the first founds it and admits the others as
    /// `role`, and every replica holds those device records.
    pub fn team_of(keys: &[SigningKey], role: Role, wall_ms: u64) -> Vec<Replica> {
        let Some(first) = keys.first() else {
            return Vec::new();
        };
        let founder = first.verifying_key().to_bytes();
        let mut reps: Vec<Replica> = keys
            .iter()
            .map(|k| Replica::new(k.verifying_key().to_bytes(), founder))
            .collect();
        let ops: Vec<Op> = keys[1..]
            .iter()
            .map(|k| reps[0].admit(first, &k.verifying_key().to_bytes(), role, wall_ms))
            .collect();
        for r in reps.iter_mut().skip(1) {
            for o in &ops {
                r.restore(o.clone());
            }
        }
        reps
    }

    /// A change from elsewhere: `Ok(true)` when new and taken, `Ok(false)` when already held.
    pub fn receive(&mut self, op: Op, wall_ms: u64) -> Result<bool, Refused> {
        op::check_shape(&op).map_err(Refused::Bad)?;
        if let Some(held) = self.ops.get(&(op.origin, op.seq)) {
            return if *held == op {
                Ok(false)
            } else {
                Err(Refused::Equivocation)
            };
        }
        op::verify(&op).map_err(Refused::Bad)?;
        let role = self.role_of(&op.origin).ok_or(Refused::Unknown)?;
        if !role.may_change(op.kind) {
            return Err(Refused::NotAllowed(role));
        }
        self.clock.see(op.at, wall_ms).map_err(Refused::Future)?;
        self.insert(op);
        Ok(true)
    }

    /// A change this device kept before (read back from mesh.db): taken as it is, checked when
    /// it first came; the clock moves past it, so nothing is stamped behind it again.
    pub fn restore(&mut self, op: Op) {
        if self.ops.contains_key(&(op.origin, op.seq)) {
            return;
        }
        self.clock = Clock::starting_at(self.clock.last().max(op.at));
        self.insert(op);
    }

    fn insert(&mut self, op: Op) {
        let key = (op.origin, op.seq);
        for set in &op.sets {
            self.fields
                .entry((op.kind, op.record.clone(), set.field.clone()))
                .or_default()
                .insert(op.stamp(), key);
        }
        self.ops.insert(key, op);
        let n = self.contiguous.entry(key.0).or_insert(0);
        while self.ops.contains_key(&(key.0, *n + 1)) {
            *n += 1;
        }
    }

    /// What a peer that has `theirs` lacks, in batches of at most `MAX_BATCH` bytes (about),
    /// oldest first per origin. An origin it does not name it lacks all of.
    pub fn missing_for(&self, theirs: &[(DeviceKey, u64)]) -> Vec<Vec<Op>> {
        let theirs: HashMap<DeviceKey, u64> = theirs.iter().copied().collect();
        let mut batches = vec![Vec::new()];
        let mut size = 0;
        for ((origin, seq), op) in &self.ops {
            if *seq <= theirs.get(origin).copied().unwrap_or(0) {
                continue;
            }
            let n = op_size(op);
            if size + n > MAX_BATCH && size > 0 {
                batches.push(Vec::new());
                size = 0;
            }
            size += n;
            if let Some(b) = batches.last_mut() {
                b.push(op.clone());
            }
        }
        batches.retain(|b| !b.is_empty());
        batches
    }

    /// The first batch of what a peer that has `theirs` lacks (at most `MAX_BATCH` bytes,
    /// about), and whether more remains: read by range per origin, so answering batch after
    /// batch of a big first sync costs each batch, not everything held each time.
    pub fn first_missing(&self, theirs: &[(DeviceKey, u64)]) -> (Vec<Op>, bool) {
        let theirs: HashMap<DeviceKey, u64> = theirs.iter().copied().collect();
        // Every origin held has an entry in `contiguous` (made with its first change).
        let mut origins: Vec<DeviceKey> = self.contiguous.keys().copied().collect();
        origins.sort();
        let mut batch = Vec::new();
        let mut size = 0;
        for o in origins {
            let from = theirs.get(&o).copied().unwrap_or(0) + 1;
            for (_, op) in self.ops.range((o, from)..=(o, u64::MAX)) {
                let n = op_size(op);
                if size + n > MAX_BATCH && size > 0 {
                    return (batch, true);
                }
                size += n;
                batch.push(op.clone());
            }
        }
        (batch, false)
    }

    /// The messages that answer a peer's `Have`.
    pub fn answer(&self, theirs: &[(DeviceKey, u64)]) -> Vec<SyncMsg> {
        let batches = self.missing_for(theirs);
        let n = batches.len();
        batches
            .into_iter()
            .enumerate()
            .map(|(i, ops)| SyncMsg::Ops {
                ops,
                more: i + 1 < n,
            })
            .collect()
    }

    /// Values that lost to a change whose writer had not seen them, in a record.
    pub fn conflicts(&self, kind: Kind, record: &str) -> Vec<Conflict> {
        let mut out = Vec::new();
        for ((k, r, f), versions) in self
            .fields
            .range((kind, record.to_string(), String::new())..)
        {
            if *k != kind || r != record {
                break;
            }
            self.field_conflicts(f, versions, &mut out);
        }
        out
    }

    /// The losers of one field (its versions by stamp) that its winner's writer had not seen.
    fn field_conflicts(&self, field: &str, versions: &Versions, out: &mut Vec<Conflict>) {
        let Some((winner, won)) = versions
            .values()
            .next_back()
            .and_then(|k| self.setting(k, field))
        else {
            return;
        };
        // What the winner's writer had seen: its base, that one's base, and so on, and the
        // conflicts each of them settled.
        let mut seen: std::collections::HashSet<Stamp> = won.seen.iter().copied().collect();
        let mut chain = std::collections::HashSet::new();
        let mut base = won.base;
        while let Some(s) = base {
            if !chain.insert(s) {
                break;
            }
            seen.insert(s);
            let o = versions.get(&s).and_then(|k| self.setting(k, field));
            seen.extend(o.iter().flat_map(|(_, set)| set.seen.iter().copied()));
            base = o.and_then(|(_, set)| set.base);
        }
        for (stamp, key) in versions.iter().rev().skip(1) {
            if seen.contains(stamp) {
                continue;
            }
            if let Some((_, lost)) = self.setting(key, field) {
                out.push(Conflict {
                    field: field.to_string(),
                    value: lost.value.clone(),
                    stamp: *stamp,
                    winner: won.value.clone(),
                    winner_stamp: winner.stamp(),
                });
            }
        }
    }

    /// A hash of every field's value and the change that set it: equal on two devices exactly
    /// when their records are.
    pub fn state_hash(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for ((_, _, f), versions) in &self.fields {
            if let Some((o, _)) = versions
                .values()
                .next_back()
                .and_then(|k| self.setting(k, f))
            {
                h.update(f.as_bytes());
                h.update(op::signed_bytes(o));
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The last clock reading (kept so a restart never stamps behind it).
    pub fn clock(&self) -> Hlc {
        self.clock.last()
    }
}

/// About how many bytes a change takes on the wire.
fn op_size(op: &Op) -> usize {
    let sets: usize = op
        .sets
        .iter()
        .map(|s| 8 + s.field.len() + 9 + op::value_len(&s.value) + 49 + 8 + 48 * s.seen.len())
        .sum();
    32 + 8 + 12 + 1 + 8 + op.record.len() + 8 + sets + 8 + 64
}
