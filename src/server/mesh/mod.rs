/*!
The mesh's service. The server owns what the mesh keeps (mesh.db: the team, its keys, every
change) and a replica of the team's records, signs the changes made here, and turns the queue's
rows into changes and back. The `mesh` worker faces the network: it holds the connections and
a copy of the changes to answer peers, and relays pairing connections byte for byte, so the
pairing exchange (SPAKE2, the team keys sealed for the joiner) runs here, on the far side of a
process boundary from the sockets. The worker is started again with everything when it dies,
and stopped by panic.

Changes from peers arrive checked (shape, signature, role, clock) by the worker, are kept in
mesh.db, and the items they touch are written to queue.db once per turn of the loop
(`mesh_flush`), so a first sync of thousands of items is a few transactions, not one each.
A change made here to an item (from the CLI, a pane or a workflow) is the difference between
the item as the queue has it and as the team's records have it (`items::changes`), so nothing
that came from a peer is sent back as new.
*/

use super::*;
use crate::engine::mesh::id::{device_id, parse_device_id, short_id};
use crate::engine::mesh::items;
use crate::engine::mesh::pair::{self, Invite, JoinerInfo, Welcome};
use crate::engine::mesh::pairnet;
use crate::engine::mesh::rekey;
use crate::engine::mesh::replica::{device_record, Replica, Role};
use crate::engine::queue::Item;
use crate::protocol::MeshCommand;
use crate::store::mesh::{MeshStore, Team};
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{DeviceKey, Kind, MeshIn, MeshOut, Op, Value};
use services::ServiceSpec;
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod shared;
use std::sync::{Arc, Mutex};

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Mesh),
    worker: Some(WorkerKind::Mesh),
    opened: mesh_opened,
    frame: mesh_frame,
    lost: mesh_lost,
    save: services::nothing_saved,
};

/// Bytes of changes (about) sent to the worker in one frame (frames are at most 16 MiB).
const FRAME_BYTES: usize = 4 << 20;

/// `ops` in runs of at most `FRAME_BYTES` (about).
fn frames(ops: Vec<Op>) -> Vec<Vec<Op>> {
    let mut out = vec![Vec::new()];
    let mut size = 0;
    for op in ops {
        let n = 200
            + op.record.len()
            + op.sets
                .iter()
                .map(|s| 100 + s.field.len() + crate::engine::mesh::op::value_len(&s.value))
                .sum::<usize>();
        if size + n > FRAME_BYTES && size > 0 {
            out.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(last) = out.last_mut() {
            last.push(op);
        }
    }
    out.retain(|f| !f.is_empty());
    out
}

/// What pairing tasks tell the loop.
#[derive(Debug)]
pub enum MeshEv {
    /// An invite's code was tried: it is spent.
    Spent(String),
    /// A pairing exchange ended: the joiner and its role, or why not.
    Paired {
        peer: String,
        result: Result<(JoinerInfo, Role), String>,
    },
    /// A join a pane asked for ended.
    Joined {
        waiter: Waiter,
        result: Result<String, String>,
    },
}

/// Who asked for an invite: a `fieldkit mesh invite`, or a mesh pane.
#[derive(Debug, Clone)]
pub enum Waiter {
    Client(ClientId),
    Pane(String, u64),
}

#[derive(Default)]
pub(super) struct Mesh {
    store: Option<MeshStore>,
    key: Option<SigningKey>,
    team: Option<Team>,
    replica: Option<Replica>,
    /// The worker should run (a mesh command was given, or the device is paired).
    wanted: bool,
    listening: Option<String>,
    pairing: Option<String>,
    online: BTreeMap<DeviceKey, String>,
    behind: BTreeMap<DeviceKey, u64>,
    last_error: Option<String>,
    /// Items changed by peers, to write to the queue at the end of this turn of the loop.
    touched: BTreeSet<String>,
    /// The invites pairing tasks judge by (the copy in mesh.db is for restarts).
    invites: Arc<Mutex<Vec<Invite>>>,
    /// One pairing exchange at a time: a code is spent before the next is tried.
    pair_lock: Arc<tokio::sync::Mutex<()>>,
    pair_conns: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>,
    /// Who waits for the pairing port, with the answer they will get.
    waiting: Vec<(Waiter, String)>,
    /// Devices let in before the records name them (the inviter, after joining).
    also_allowed: Vec<DeviceKey>,
    /// Addresses to dial once the worker is told who it is (asked before it was ready).
    dial_later: Vec<String>,
    /// When items from peers were last written to the queue, and how many changes came
    /// from whom since.
    last_flush: Option<Instant>,
    took: BTreeMap<DeviceKey, usize>,
    /// Shared chat sessions, team vault entries and workflows peers changed, for the flush.
    touched_chats: BTreeSet<String>,
    touched_secrets: BTreeSet<String>,
    touched_workflows: BTreeSet<String>,
    /// The team ids of the vault's team folder as last seen here (a deletion is one of these
    /// gone).
    vault_ids: std::collections::HashSet<String>,
    /// The team vault key, held from an invite until no invite is open (it lives in the
    /// vault, which may lock before the joiner comes).
    invite_vault_key: Option<zeroize::Zeroizing<[u8; 32]>>,
}

/// Items from peers are written to the queue at most this often while changes stream in (a
/// first sync of thousands comes in hundreds of batches); the first after a quiet spell at once.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

fn mesh_opened(srv: &mut Server, _session: &str, _pane: u64, _at_start: bool) {
    if let Err(e) = srv.mesh_start() {
        srv.mesh.last_error = Some(e);
    }
    srv.mesh_broadcast();
}

fn mesh_lost(srv: &mut Server, why: &str) {
    srv.mesh.online.clear();
    srv.mesh.listening = None;
    srv.mesh.pairing = None;
    srv.mesh.pair_conns.clear();
    srv.mesh.last_error = Some(format!("the mesh worker {why}; starting it again"));
    for (w, _) in std::mem::take(&mut srv.mesh.waiting) {
        srv.mesh_answer(w, Err(format!("the mesh worker {why}; try again")));
    }
    srv.mesh_broadcast();
}

fn mesh_frame(srv: &mut Server, bytes: &[u8]) {
    match wire::decode::<MeshOut>(bytes) {
        Ok(m) => srv.mesh_out(m),
        Err(e) => tracing::warn!("undecodable frame from the mesh worker: {e}"),
    }
}

fn now() -> u64 {
    crate::engine::queue::now_ms().max(0) as u64
}

fn hex(k: &DeviceKey) -> String {
    device_record(k)
}

impl Server {
    /// An invite's answer to whoever asked.
    fn mesh_answer(&mut self, w: Waiter, r: Result<String, String>) {
        match w {
            Waiter::Client(id) => self.reply(id, r),
            Waiter::Pane(name, pane) => {
                let note = match r {
                    Ok(t) => t.trim_end().to_string(),
                    Err(e) => e,
                };
                let ev = fieldkit_panes::mesh::MeshEvent::Note(note);
                self.pane_call_id(&name, pane, |p, cx| {
                    p.on_engine(EngineEvent::Mesh(Box::new(ev)), cx)
                });
            }
        }
    }

    /// A mesh pane's request.
    pub(super) fn mesh_request(
        &mut self,
        name: &str,
        pane: u64,
        req: fieldkit_panes::mesh::MeshRequest,
    ) {
        use fieldkit_panes::mesh::MeshRequest;
        match req {
            MeshRequest::Watch => {
                if let Err(e) = self.mesh_start() {
                    self.mesh.last_error = Some(e);
                }
                self.mesh_broadcast();
            }
            MeshRequest::Invite { role } => {
                self.mesh_invite(Waiter::Pane(name.to_string(), pane), role, None)
            }
            MeshRequest::Revoke { id } => {
                let r = self.mesh_revoke(&id);
                self.mesh_answer(Waiter::Pane(name.to_string(), pane), r);
            }
            MeshRequest::Restore { item, field } => {
                let r = self.mesh_restore(&item, &field);
                self.mesh_answer(Waiter::Pane(name.to_string(), pane), r);
            }
            MeshRequest::Join { code, addr } => self.mesh_join_from_pane(name, pane, code, addr),
        }
    }

    /// A pane's join runs as `fieldkit mesh join` does, in a process of its own, so the
    /// exchange's connection is not the server's; its answer goes to the pane.
    fn mesh_join_from_pane(&mut self, name: &str, pane: u64, code: String, addr: Option<String>) {
        let w = Waiter::Pane(name.to_string(), pane);
        if let Err(e) = pair::parse_code(&code) {
            self.mesh_answer(w, Err(e.to_string()));
            return;
        }
        let exe = std::env::current_exe().unwrap_or_else(|_| "fieldkit".into());
        let events = self.events.clone();
        let spawned = std::thread::Builder::new()
            .name("mesh-join".into())
            .spawn(move || {
                let mut cmd = std::process::Command::new(exe);
                cmd.args(["mesh", "join", &code]);
                if let Some(a) = &addr {
                    cmd.args(["--addr", a]);
                }
                let result = match cmd.stdin(std::process::Stdio::null()).output() {
                    Ok(o) if o.status.success() => {
                        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
                    }
                    Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .filter(|l| !l.starts_with("looking on this network"))
                        .map(|l| l.trim_start_matches("fieldkit: "))
                        .collect::<Vec<_>>()
                        .join("\n")),
                    Err(e) => Err(format!("cannot run fieldkit mesh join: {e}")),
                };
                let _ = events.send(Ev::Mesh(MeshEv::Joined { waiter: w, result }));
            });
        if let Err(e) = spawned {
            let w = Waiter::Pane(name.to_string(), pane);
            self.mesh_answer(w, Err(format!("cannot start the join: {e}")));
        }
    }

    /// A command's answer: its stdout, or an error sentence and exit code 1.
    pub(super) fn reply(&self, id: ClientId, r: Result<String, String>) {
        let (code, stdout, stderr) = match r {
            Ok(o) => (0, o, String::new()),
            Err(e) => (1, String::new(), e),
        };
        self.send(
            id,
            ServerMsg::Reply {
                code,
                stdout,
                stderr,
            },
        );
    }

    /// Opens mesh.db, the device key and the team (founding one of its own if there is none),
    /// and builds the replica, once.
    fn mesh_load(&mut self) -> Result<(), String> {
        if self.mesh.replica.is_some() {
            return Ok(());
        }
        let key = crate::store::mesh::device_key(&self.dirs.data.join("mesh.key"))
            .map_err(|e| format!("{e:#}"))?;
        let path = self.dirs.data.join("mesh.db");
        let store = MeshStore::open(&path)
            .map_err(|e| format!("the mesh cannot open {}: {e:#}", path.display()))?;
        let me = key.verifying_key().to_bytes();
        let team = store.team(&me, now()).map_err(|e| format!("{e:#}"))?;
        let replica = store
            .replica(me, team.founder)
            .map_err(|e| format!("{e:#}"))?;
        // Known peers not in the records yet (an inviter, just after joining) are let in.
        let peers = store.peers().map_err(|e| format!("{e:#}"))?;
        self.mesh.also_allowed = peers
            .iter()
            .map(|p| p.0)
            .filter(|k| replica.role_of(k).is_none())
            .collect();
        self.mesh.key = Some(key);
        self.mesh.team = Some(team);
        self.mesh.replica = Some(replica);
        self.mesh.store = Some(store);
        self.mesh_vault_take_key();
        Ok(())
    }

    /// Whether this device is in a team with other devices (a team of one syncs nothing).
    fn mesh_paired(&self) -> bool {
        self.mesh
            .replica
            .as_ref()
            .is_some_and(|r| r.founder != r.me || !r.devices().is_empty())
    }

    /// At server start: the mesh runs if this device has paired.
    pub(super) fn mesh_startup(&mut self) {
        if !self.dirs.data.join("mesh.db").exists() {
            return;
        }
        match self.mesh_load() {
            Ok(()) if self.mesh_paired() => {
                if let Err(e) = self.mesh_start() {
                    tracing::warn!("mesh: {e}");
                }
                // What changed here while the server was down: a workflow file edited, a
                // `fieldkit chat` in a shared session.
                self.mesh_workflows_changed();
                self.mesh_chats_catch_up();
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!("mesh: {e}");
                self.mesh.last_error = Some(e);
            }
        }
    }

    /// Starts the worker (it is told who it is when it says hello).
    pub(super) fn mesh_start(&mut self) -> Result<(), String> {
        self.mesh_load()?;
        self.mesh.wanted = true;
        if self.worker_ready(WorkerKind::Mesh) {
            return Ok(());
        }
        self.spawn_worker(WorkerKind::Mesh);
        Ok(())
    }

    /// Tells the worker everything: who it is, the team, every change held, where to listen.
    fn mesh_begin(&mut self) {
        let dial_later = self.mesh.dial_later.clone();
        let Some((key, team, replica)) = self
            .mesh
            .key
            .as_ref()
            .zip(self.mesh.team.as_ref())
            .zip(self.mesh.replica.as_ref())
            .map(|((k, t), r)| (k, t, r))
        else {
            return;
        };
        let dial: Vec<String> = self
            .mesh_peers()
            .into_iter()
            .flat_map(|p| {
                p.1.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .chain(dial_later)
            .collect();
        self.mesh.dial_later.clear();
        let start = MeshIn::Start {
            seed: key.to_bytes(),
            team_key: *team.team_key,
            founder: team.founder,
            also_allowed: self.mesh.also_allowed.clone(),
            listen: self.config.mesh.listen.clone(),
            mdns: self.config.mesh.mdns,
            dial,
        };
        let ops: Vec<Op> = replica.ops().cloned().collect();
        self.worker_send(WorkerKind::Mesh, &start);
        for f in frames(ops) {
            self.worker_send(WorkerKind::Mesh, &MeshIn::Restore(f));
        }
        self.worker_send(WorkerKind::Mesh, &MeshIn::Go);
        let open = self.mesh_invite_open();
        if open {
            let at = self.config.mesh.pair_listen.clone();
            self.worker_send(WorkerKind::Mesh, &MeshIn::Pairing(Some(at)));
        }
    }

    /// Whether an invite is open (unused and not expired).
    fn mesh_invite_open(&self) -> bool {
        self.mesh
            .invites
            .lock()
            .map(|v| v.iter().any(|i| !i.used && i.expires_ms > now()))
            .unwrap_or(false)
    }

    fn mesh_log(&mut self, line: String) {
        tracing::info!("mesh: {line}");
        if let Some(s) = &self.mesh.store {
            if let Err(e) = s.log(now(), &line) {
                tracing::warn!("mesh: the sync log cannot be written: {e:#}");
            }
        }
    }

    fn name_of(&self, k: &DeviceKey) -> String {
        let named =
            self.mesh
                .replica
                .as_ref()
                .and_then(|r| match r.value(Kind::Device, &hex(k), "name") {
                    Some(Value::Text(n)) if !n.is_empty() => Some(n.clone()),
                    _ => None,
                });
        match named {
            Some(n) => format!("{n} ({})", short_id(k)),
            None => short_id(k),
        }
    }

    fn mesh_out(&mut self, m: MeshOut) {
        let took = matches!(m, MeshOut::Took { .. });
        match m {
            MeshOut::Hello { pid, version } => {
                if self.worker_hello(WorkerKind::Mesh, pid, String::new(), version) {
                    self.mesh_begin();
                }
            }
            MeshOut::Listening(a) => {
                self.mesh_log(format!("listening on {a}"));
                self.mesh.listening = Some(a);
            }
            MeshOut::PairListening(r) => {
                let waiting = std::mem::take(&mut self.mesh.waiting);
                match r {
                    Ok(a) => {
                        self.mesh.pairing = Some(a.clone());
                        for (w, text) in waiting {
                            self.mesh_answer(w, Ok(text.replace("{PAIR}", &invite_addr(&a))));
                        }
                    }
                    Err(e) => {
                        self.mesh.last_error = Some(e.clone());
                        for (w, _) in waiting {
                            self.mesh_answer(w, Err(e.clone()));
                        }
                    }
                }
            }
            MeshOut::Connected { device, addr } => {
                if !self.mesh.online.contains_key(&device) {
                    let line = format!("{} connected", self.name_of(&device));
                    self.mesh_log(line);
                }
                if let Some(s) = &self.mesh.store {
                    let _ = s.saw_peer(&device, &addr, now(), false);
                }
                self.mesh.online.insert(device, addr);
            }
            MeshOut::Disconnected { device } => {
                let line = format!("{} went away", self.name_of(&device));
                self.mesh_log(line);
                self.mesh.online.remove(&device);
            }
            MeshOut::Synced { device, behind } => {
                if let Some(s) = &self.mesh.store {
                    let addr = self.mesh.online.get(&device).cloned().unwrap_or_default();
                    let _ = s.saw_peer(&device, &addr, now(), true);
                }
                self.mesh.behind.insert(device, behind);
            }
            MeshOut::Took { from, ops } => self.mesh_took(from, ops),
            MeshOut::Refused { from, why } => {
                let line = format!("refused a change from {}: {why}", self.name_of(&from));
                self.mesh_log(line);
            }
            MeshOut::Failed(why) => {
                self.mesh_log(why.clone());
                self.mesh.last_error = Some(why);
            }
            MeshOut::PairOpened { conn, peer } => self.mesh_pair_opened(conn, peer),
            MeshOut::PairBytes { conn, bytes } => {
                if let Some(tx) = self.mesh.pair_conns.get(&conn) {
                    let _ = tx.send(bytes);
                }
            }
            MeshOut::PairClosed { conn } => {
                self.mesh.pair_conns.remove(&conn);
            }
        }
        self.mesh_detail();
        // What a peer's changes did is shown when they are written (`mesh_flush`): a first
        // sync is hundreds of frames, and the pane's view walks every item's conflicts.
        if !took {
            self.mesh_broadcast();
        }
    }

    /// Changes a peer sent, checked by the worker: kept, applied to the replica, and the items
    /// they touch marked for the queue.
    fn mesh_took(&mut self, from: DeviceKey, ops: Vec<Op>) {
        let ops: Vec<Op> = ops
            .into_iter()
            .filter(|o| crate::engine::mesh::op::check_shape(o).is_ok())
            .collect();
        if let Some(s) = &mut self.mesh.store {
            if let Err(e) = s.keep(&ops) {
                // Not kept: the worker holds them and a peer will send them again; they are
                // not applied here either, so what the queue shows is what mesh.db has.
                let why = format!("changes from a peer not kept: {e:#}");
                tracing::error!("mesh: {why}");
                self.mesh.last_error = Some(why);
                return;
            }
        }
        let Some(r) = &mut self.mesh.replica else {
            return;
        };
        let mut rekeyed = false;
        let me = r.me;
        for op in &ops {
            r.restore(op.clone());
            match op.kind {
                Kind::Item => {
                    self.mesh.touched.insert(op.record.clone());
                }
                Kind::History | Kind::Comment => {
                    if let Some((item, _)) = op.record.split_once(':') {
                        self.mesh.touched.insert(item.to_string());
                    }
                }
                Kind::Chat => {
                    let sid = crate::engine::mesh::shared::chat_of(&op.record);
                    self.mesh.touched_chats.insert(sid.to_string());
                }
                Kind::Secret => {
                    self.mesh.touched_secrets.insert(op.record.clone());
                }
                Kind::Workflow => {
                    self.mesh.touched_workflows.insert(op.record.clone());
                }
                Kind::Device if op.record == rekey::RECORD && op.set(&hex(&me)).is_some() => {
                    rekeyed = true;
                }
                _ => {}
            }
        }
        *self.mesh.took.entry(from).or_default() += ops.len();
        if rekeyed {
            self.mesh_take_team_key();
        }
        // A revoke (or a role) may have changed who is let in.
        self.mesh.also_allowed.retain(|k| {
            self.mesh
                .replica
                .as_ref()
                .is_some_and(|r| r.role_of(k).is_none())
        });
    }

    /// A new team key sealed for this device arrived: kept, and the worker told.
    fn mesh_take_team_key(&mut self) {
        let (Some(r), Some(key)) = (&self.mesh.replica, &self.mesh.key) else {
            return;
        };
        let me = hex(&r.me);
        let Some((sealed, admin)) = r
            .value(Kind::Device, rekey::RECORD, &me)
            .and_then(|v| match v {
                Value::Bytes(b) => Some(b.clone()),
                _ => None,
            })
            .zip(r.writer(Kind::Device, rekey::RECORD, &me))
        else {
            return;
        };
        if r.role_of(&admin) != Some(Role::Admin) {
            self.mesh_log("a team key from a device that is not an admin, ignored".into());
            return;
        }
        match rekey::open(key, &admin, &sealed) {
            Ok(k) => {
                if self.mesh.team.as_ref().is_some_and(|t| *t.team_key == *k) {
                    return;
                }
                if let Some(s) = &self.mesh.store {
                    if let Err(e) = s.rekey(&k) {
                        self.mesh.last_error = Some(format!("the new team key not kept: {e:#}"));
                        return;
                    }
                }
                if let Some(t) = &mut self.mesh.team {
                    t.team_key = zeroize::Zeroizing::new(*k);
                }
                self.worker_send(WorkerKind::Mesh, &MeshIn::Rekey { team_key: *k });
                self.mesh_log("the team key changed (a device was revoked)".into());
            }
            Err(e) => self.mesh_log(format!("a new team key that does not open: {e}")),
        }
    }

    /// How long until items from peers are due to be written to the queue (`None`: none wait).
    pub(super) fn mesh_next(&self) -> Option<Duration> {
        if self.mesh.touched.is_empty()
            && self.mesh.took.is_empty()
            && self.mesh.touched_chats.is_empty()
            && self.mesh.touched_secrets.is_empty()
            && self.mesh.touched_workflows.is_empty()
        {
            return None;
        }
        Some(match self.mesh.last_flush {
            Some(t) => FLUSH_EVERY.saturating_sub(t.elapsed()),
            None => Duration::ZERO,
        })
    }

    /// Writes the items peers changed to the queue, in one transaction, when due.
    pub(super) fn mesh_flush(&mut self) {
        if self.mesh_next() != Some(Duration::ZERO) {
            return;
        }
        self.mesh.last_flush = Some(Instant::now());
        for (from, n) in std::mem::take(&mut self.mesh.took) {
            let line = format!("took {n} changes from {}", self.name_of(&from));
            self.mesh_log(line);
        }
        self.mesh_broadcast();
        for sid in std::mem::take(&mut self.mesh.touched_chats) {
            self.mesh_chat_apply(&sid);
        }
        // Into the vault if it is unlocked; else they wait in mesh.db, and the unlock takes
        // every one.
        self.mesh_vault_apply();
        self.mesh.touched_secrets.clear();
        for name in std::mem::take(&mut self.mesh.touched_workflows) {
            let line = format!(
                "the team changed workflow {name}: it runs here once approved (fieldkit mesh \
                 approve {name})"
            );
            self.mesh_log(line);
        }
        if self.mesh.touched.is_empty() {
            return;
        }
        let touched = std::mem::take(&mut self.mesh.touched);
        let Some(r) = &self.mesh.replica else {
            return;
        };
        let found: Vec<(String, Option<Item>)> = touched
            .into_iter()
            .map(|id| {
                let it = items::item(r, &id);
                (id, it)
            })
            .collect();
        let q = match self.queue_store() {
            Ok(q) => q,
            Err(e) => {
                tracing::error!("mesh: {e}");
                return;
            }
        };
        if let Err(e) = q.put_synced_all(&found) {
            let e = format!("items from a peer not written to the queue: {e}");
            tracing::error!("mesh: {e}");
            self.mesh.last_error = Some(e);
        }
        self.queue_changed_elsewhere();
    }

    /// Signs changes made here, keeps them, and hands them to the worker.
    fn mesh_write(&mut self, changes: Vec<items::Change>) -> Result<(), String> {
        if changes.is_empty() {
            return Ok(());
        }
        let (Some(r), Some(key)) = (&mut self.mesh.replica, &self.mesh.key) else {
            return Ok(());
        };
        let at = now();
        // One change per record: its fields set together, under one signature.
        type Fields = Vec<(String, Value)>;
        let mut groups: Vec<(Kind, String, Fields)> = Vec::new();
        for c in changes {
            match groups.last_mut() {
                Some((k, rec, fields)) if *k == c.kind && *rec == c.record => {
                    fields.push((c.field, c.value))
                }
                _ => groups.push((c.kind, c.record, vec![(c.field, c.value)])),
            }
        }
        let ops: Vec<Op> = groups
            .into_iter()
            .flat_map(|(kind, record, fields)| r.write_many(key, kind, &record, fields, at))
            .collect();
        if let Some(s) = &mut self.mesh.store {
            s.keep(&ops)
                .map_err(|e| format!("the change was made, but not kept for the team: {e:#}"))?;
        }
        if self.worker_ready(WorkerKind::Mesh) {
            for f in frames(ops) {
                self.worker_send(WorkerKind::Mesh, &MeshIn::Local(f));
            }
        }
        Ok(())
    }

    /// An item changed here: what differs from the team's records goes to the team.
    pub(super) fn mesh_item_changed(&mut self, id: &str) {
        // Only once the mesh is in use (loaded at start when this device has paired, or by a
        // mesh command): a queue change never makes a device key or mesh.db by itself.
        if self.mesh.replica.is_none() || !self.mesh_paired() {
            return;
        }
        let Some(item) = self.queue_item(id) else {
            return;
        };
        let old = self
            .mesh
            .replica
            .as_ref()
            .and_then(|r| items::item(r, &item.id));
        let changes = items::changes(old.as_ref(), &item);
        if let Err(e) = self.mesh_write(changes) {
            tracing::error!("mesh: {e}");
            self.mesh.last_error = Some(e);
        }
    }

    /// Every item of the queue, to the team (after pairing, so what was here is shared).
    fn mesh_share_all(&mut self) {
        let all = match self
            .queue_store()
            .and_then(|q| q.export().map_err(|e| e.to_string()))
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("mesh: the queue not shared: {e}");
                return;
            }
        };
        let mut changes = Vec::new();
        if let Some(r) = &self.mesh.replica {
            for it in &all {
                let old = items::item(r, &it.id);
                changes.extend(items::changes(old.as_ref(), it));
            }
        }
        let n = all.len();
        match self.mesh_write(changes) {
            Ok(()) => self.mesh_log(format!("shared the queue's {n} items with the team")),
            Err(e) => self.mesh.last_error = Some(e),
        }
        // And what was marked shared before there was a team to share it with.
        self.mesh_workflows_changed();
        self.mesh_vault_changed();
        self.mesh_chats_catch_up();
    }

    /// The status row's detail: peers online, how far behind they are, the last error.
    fn mesh_detail(&mut self) {
        let online = self.mesh.online.len();
        let behind: u64 = self
            .mesh
            .online
            .keys()
            .filter_map(|k| self.mesh.behind.get(k))
            .sum();
        let mut d = format!("{online} peers online · {behind} changes behind");
        if let Some(e) = &self.mesh.last_error {
            d.push_str(&format!(" · {e}"));
        }
        if let Some(w) = self.workers.get_mut(&WorkerKind::Mesh) {
            w.detail = d;
        }
    }

    /// Panic: the worker stops (every listener and connection closes with it).
    pub(super) fn mesh_stop(&mut self) {
        self.workers.remove(&WorkerKind::Mesh);
        self.mesh.wanted = false;
        self.mesh.online.clear();
        self.mesh.listening = None;
        self.mesh.pairing = None;
        self.mesh.pair_conns.clear();
        for (w, _) in std::mem::take(&mut self.mesh.waiting) {
            self.mesh_answer(w, Err("panic: the mesh was stopped".into()));
        }
    }

    /// `fieldkit mesh invite`: answered once the pairing port is open.
    pub(super) fn mesh_invite(&mut self, client: Waiter, role: String, minutes: Option<u64>) {
        match self.mesh_invite_text(&role, minutes) {
            Err(e) => self.mesh_answer(client, Err(e)),
            Ok(text) => match &self.mesh.pairing {
                Some(a) => {
                    let a = invite_addr(a);
                    self.mesh_answer(client, Ok(text.replace("{PAIR}", &a)));
                }
                None => {
                    self.mesh.waiting.push((client, text));
                    let at = self.config.mesh.pair_listen.clone();
                    self.worker_send(WorkerKind::Mesh, &MeshIn::Pairing(Some(at)));
                }
            },
        }
    }

    fn mesh_invite_text(&mut self, role: &str, minutes: Option<u64>) -> Result<String, String> {
        let role = Role::parse(role)?;
        self.mesh_start()?;
        let (Some(r), Some(_)) = (&self.mesh.replica, &self.mesh.key) else {
            return Err("the mesh is not loaded".into());
        };
        match r.role_of(&r.me) {
            Some(Role::Admin) => {}
            // Just joined: the record of its role comes with the first sync.
            None if r.founder != r.me => {
                return Err(
                    "this device does not hold the team's record of its role yet (it \
                            comes with the first sync from the device that invited it): try \
                            again once `fieldkit mesh id` shows it"
                        .into(),
                )
            }
            _ => {
                return Err("only an admin of the team may invite (this device is not one)".into())
            }
        }
        // The joiner gets the team vault key, which lives in this device's vault.
        match self.team_vault_key() {
            Some(k) => self.mesh.invite_vault_key = Some(k),
            None => {
                return Err(
                    "the team vault key is kept in this device's vault, and a joiner \
                            needs it: unlock the vault first (fieldkit vault unlock)"
                        .into(),
                )
            }
        }
        let minutes = minutes.unwrap_or(self.config.mesh.invite_minutes);
        if !(1..=24 * 60).contains(&minutes) {
            return Err("an invite is good for 1 to 1440 minutes".into());
        }
        let taken: Vec<String> = self
            .mesh
            .invites
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|i| !i.used && i.expires_ms > now())
                    .map(|i| i.nameplate().to_string())
                    .collect()
            })
            .unwrap_or_default();
        // Two open invites never share a nameplate (the first two characters).
        let mut code = String::new();
        for _ in 0..64 {
            code = pair::new_code().map_err(|e| format!("no random source: {e}"))?;
            if !taken.iter().any(|t| code.starts_with(t.as_str())) {
                break;
            }
        }
        let inv = Invite {
            code: code.clone(),
            role,
            expires_ms: now() + minutes * 60_000,
            used: false,
        };
        if let Some(s) = &self.mesh.store {
            s.add_invite(&inv)
                .map_err(|e| format!("the invite cannot be kept: {e:#}"))?;
        }
        if let Ok(mut v) = self.mesh.invites.lock() {
            v.retain(|i| !i.used && i.expires_ms > now());
            v.push(inv);
        }
        self.mesh_log(format!(
            "invite {}.. for a {} made, good for {minutes} minutes",
            &code[..2],
            role.name()
        ));
        Ok(format!(
            "An invite for a {} of the team, good for {minutes} minutes and one try.\n\
             On the other device: fieldkit mesh join {} --addr {{PAIR}}\n{}\n",
            role.name(),
            pair::show_code(&code),
            pair::show_code(&code),
        ))
    }

    /// A joiner reached the pairing port: the exchange runs in a task over the relayed bytes.
    fn mesh_pair_opened(&mut self, conn: u64, peer: String) {
        if self.mesh.team.is_none() || self.mesh.replica.is_none() {
            self.worker_send(WorkerKind::Mesh, &MeshIn::PairClose { conn });
            return;
        }
        let Some(vault_key) = self
            .team_vault_key()
            .or_else(|| self.mesh.invite_vault_key.clone())
        else {
            self.mesh_log(format!(
                "pairing from {peer} refused: the team vault key is locked in the vault"
            ));
            self.worker_send(WorkerKind::Mesh, &MeshIn::PairClose { conn });
            return;
        };
        let (Some(team), Some(r)) = (&self.mesh.team, &self.mesh.replica) else {
            return;
        };
        let welcome = Welcome {
            team_key: *team.team_key,
            vault_key: *vault_key,
            role: String::new(),
            founder: team.founder,
            inviter: r.me,
            inviter_name: self.config.mesh.name(),
            addrs: self.mesh.listening.iter().cloned().collect(),
        };
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.mesh.pair_conns.insert(conn, tx);
        let worker = self.workers.get(&WorkerKind::Mesh).map(|w| w.tx.clone());
        // The pump: bytes from the worker into the exchange, and its answers back out.
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut rd, mut wr) = tokio::io::split(theirs);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                tokio::select! {
                    n = rd.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let msg = MeshIn::PairSend { conn, bytes: buf[..n].to_vec() };
                            if let (Some(w), Ok(f)) = (&worker, wire::encode(&msg)) {
                                let _ = w.send(f);
                            }
                        }
                    },
                    b = rx.recv() => match b {
                        Some(b) => {
                            if wr.write_all(&b).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                }
            }
            if let (Some(w), Ok(f)) = (&worker, wire::encode(&MeshIn::PairClose { conn })) {
                let _ = w.send(f);
            }
        });
        let events = self.events.clone();
        let invites = self.mesh.invites.clone();
        let lock = self.mesh.pair_lock.clone();
        tokio::spawn(async move {
            let _one = lock.lock().await;
            let mut s = ours;
            let mut list = invites.lock().map(|v| v.clone()).unwrap_or_default();
            let ev = events.clone();
            let shared = invites.clone();
            let mut spent = move |code: &str| {
                if let Ok(mut v) = shared.lock() {
                    for i in v.iter_mut().filter(|i| i.code == code) {
                        i.used = true;
                    }
                }
                let _ = ev.send(Ev::Mesh(MeshEv::Spent(code.to_string())));
            };
            let result = pairnet::serve(&mut s, &mut list, now(), &welcome, &mut spent)
                .await
                .map_err(|e| e.to_string());
            let _ = events.send(Ev::Mesh(MeshEv::Paired { peer, result }));
        });
    }

    pub(super) fn mesh_event(&mut self, ev: MeshEv) {
        match ev {
            MeshEv::Spent(code) => {
                if let Some(s) = &self.mesh.store {
                    if let Err(e) = s.spend(&code) {
                        tracing::error!("mesh: a spent code not marked so: {e:#}");
                    }
                }
                let open = self.mesh_invite_open();
                if !open {
                    self.mesh.pairing = None;
                    self.mesh.invite_vault_key = None;
                    // The port closes once the exchange under way ends (its connection is
                    // the worker's until then).
                    self.worker_send(WorkerKind::Mesh, &MeshIn::Pairing(None));
                }
            }
            MeshEv::Paired { peer, result } => match result {
                Err(why) => self.mesh_log(format!("pairing from {peer} failed: {why}")),
                Ok((joiner, role)) => self.mesh_admit(joiner, role),
            },
            MeshEv::Joined { waiter, result } => self.mesh_answer(waiter, result),
        }
        self.mesh_detail();
        self.mesh_broadcast();
    }

    /// A device paired: admitted with its role and name, and the queue shared.
    fn mesh_admit(&mut self, joiner: JoinerInfo, role: Role) {
        let rec = hex(&joiner.key);
        let name: String = joiner
            .name
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        let changes = vec![
            items::Change {
                kind: Kind::Device,
                record: rec.clone(),
                field: "role".into(),
                value: Value::Text(role.name().into()),
            },
            items::Change {
                kind: Kind::Device,
                record: rec.clone(),
                field: "name".into(),
                value: Value::Text(name.clone()),
            },
            items::Change {
                kind: Kind::Device,
                record: rec,
                field: "revoked".into(),
                value: Value::Int(0),
            },
        ];
        // The admin's own name, so the team sees who it is.
        let mut changes = changes;
        if let Some(r) = &self.mesh.replica {
            let own = self.config.mesh.name();
            if r.value(Kind::Device, &hex(&r.me), "name") != Some(&Value::Text(own.clone())) {
                changes.push(items::Change {
                    kind: Kind::Device,
                    record: hex(&r.me),
                    field: "name".into(),
                    value: Value::Text(own),
                });
            }
        }
        let first = !self.mesh_paired();
        match self.mesh_write(changes) {
            Ok(()) => {
                self.mesh_log(format!(
                    "{name} ({}) joined as a {}",
                    short_id(&joiner.key),
                    role.name()
                ));
                if first {
                    self.mesh_share_all();
                }
            }
            Err(e) => self.mesh_log(format!("{name} paired but was not admitted: {e}")),
        }
    }

    /// The commands of `fieldkit mesh` answered at once.
    pub(super) fn mesh_command(&mut self, cmd: MeshCommand) -> Result<String, String> {
        match cmd {
            MeshCommand::Invite { .. } => {
                Err("an invite is answered when the pairing port opens".into())
            }
            MeshCommand::Id => {
                self.mesh_start()?;
                Ok(json_line(&self.mesh_me()))
            }
            MeshCommand::List => {
                self.mesh_start()?;
                Ok(json_line(&self.mesh_devices()))
            }
            MeshCommand::Connect { addr } => {
                crate::engine::mesh::net::multiaddr(&addr)?;
                self.mesh_start()?;
                if self.worker_ready(WorkerKind::Mesh) {
                    self.worker_send(WorkerKind::Mesh, &MeshIn::Dial(addr.clone()));
                } else {
                    self.mesh.dial_later.push(addr.clone());
                }
                Ok(format!(
                    "dialing {addr}; `fieldkit mesh ls` shows the device online once it answers\n"
                ))
            }
            MeshCommand::Log { lines } => {
                self.mesh_load()?;
                let lines = self
                    .mesh
                    .store
                    .as_ref()
                    .map(|s| s.log_lines(lines))
                    .transpose()
                    .map_err(|e| format!("{e:#}"))?
                    .unwrap_or_default();
                Ok(lines
                    .into_iter()
                    .map(|(at, l)| {
                        format!(
                            "{}  {l}\n",
                            crate::engine::queue::duration::show_time(at as i64)
                        )
                    })
                    .collect())
            }
            MeshCommand::Conflicts => {
                self.mesh_load()?;
                Ok(json_line(&self.mesh_conflicts()))
            }
            MeshCommand::Joined { welcome, via } => self.mesh_joined(welcome, via),
            MeshCommand::Restore { item, field } => self.mesh_restore(&item, &field),
            MeshCommand::Leave => self.mesh_leave(),
            MeshCommand::ShareChat { chat } => self.mesh_share_chat(&chat),
            MeshCommand::Shared => self.mesh_shared(),
            MeshCommand::Approve { name } => self.mesh_approve(&name),
            MeshCommand::ChatChanged { session } => {
                let id = self
                    .store
                    .as_ref()
                    .and_then(|st| st.find_chat(&session).ok().flatten());
                if let Some(id) = id {
                    self.mesh_chat_changed(id);
                }
                Ok(String::new())
            }
            MeshCommand::Revoke { device } => self.mesh_revoke(&device),
        }
    }

    /// Leaves the team: mesh.db forgets it, and the worker begins again in a team of one.
    fn mesh_leave(&mut self) -> Result<String, String> {
        self.mesh_load()?;
        if !self.mesh_paired() {
            return Err("this device is in no team but its own".into());
        }
        let n = self.mesh_device_keys().len().saturating_sub(1);
        if let Some(s) = &mut self.mesh.store {
            s.leave().map_err(|e| format!("{e:#}"))?;
        }
        self.mesh.replica = None;
        self.mesh.store = None;
        self.mesh.team = None;
        self.mesh.online.clear();
        self.mesh.behind.clear();
        self.mesh.also_allowed.clear();
        self.mesh.touched_chats.clear();
        self.mesh.touched_secrets.clear();
        self.mesh.touched_workflows.clear();
        self.mesh.vault_ids.clear();
        // Chats shared with the team left are not shared with the next one unless asked.
        if let Some(st) = &self.store {
            if let Err(e) = st.unshare_chats() {
                tracing::warn!("mesh: shared chats not unmarked: {e:#}");
            }
        }
        if let Ok(mut v) = self.mesh.invites.lock() {
            v.clear();
        }
        self.mesh_load()?;
        if self.worker_ready(WorkerKind::Mesh) {
            self.mesh_begin();
        }
        self.mesh_log("left the team".into());
        self.mesh_broadcast();
        Ok(format!(
            "left the team of {} other devices; this device is in a team of its own, and its \
             queue keeps its items\n",
            n
        ))
    }

    /// Puts back the latest value of an item's field that lost a conflict: a change like any
    /// other, which settles the conflict everywhere (its writer has seen the value it replaces).
    fn mesh_restore(&mut self, item: &str, field: &str) -> Result<String, String> {
        self.mesh_load()?;
        let r = self.mesh.replica.as_ref().ok_or("the mesh is not loaded")?;
        // Items first; then workflows, team vault entries and chats (as `mesh conflicts` names
        // them), those with a lost edit of `field` if the start of an id fits several.
        let mut ids: Vec<(Kind, String)> = CONFLICT_KINDS
            .iter()
            .flat_map(|k| r.records(*k).into_iter().map(move |id| (*k, id)))
            .filter(|(_, i)| i.starts_with(item))
            .collect();
        if ids.len() > 1 {
            ids.retain(|(k, i)| r.conflicts(*k, i).iter().any(|c| c.field == field));
        }
        let (kind, id) = match ids.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(format!(
                    "no record of the team has an id starting {item:?} (fieldkit mesh conflicts)"
                ))
            }
            _ => {
                return Err(format!(
                    "{item:?} starts {} records' ids: give more of it",
                    ids.len()
                ))
            }
        };
        let Some(c) = r
            .conflicts(kind, &id)
            .into_iter()
            .filter(|c| c.field == field)
            .max_by_key(|c| c.stamp)
        else {
            return Err(format!(
                "no edit of {field} lost a conflict in {} {id} (fieldkit mesh conflicts)",
                kind.name()
            ));
        };
        let (value, won) = (show_value(&c.value), show_value(&c.winner));
        self.mesh_write(vec![items::Change {
            kind,
            record: id.clone(),
            field: field.to_string(),
            value: c.value,
        }])?;
        // Written out from the records, as a peer's change would be.
        match kind {
            Kind::Item => {
                self.mesh.touched.insert(id.clone());
            }
            Kind::Secret => {
                self.mesh.touched_secrets.insert(id.clone());
            }
            Kind::Chat => {
                let sid = crate::engine::mesh::shared::chat_of(&id).to_string();
                self.mesh.touched_chats.insert(sid);
            }
            _ => {
                self.mesh.touched_workflows.insert(id.clone());
            }
        }
        self.mesh_log(format!("{field} of {id} restored to {value:?}"));
        self.mesh_broadcast();
        Ok(format!(
            "{field} of {id} is {value:?} again; {won:?} is kept in its history\n"
        ))
    }

    fn mesh_joined(&mut self, w: Welcome, via: String) -> Result<String, String> {
        self.mesh_load()?;
        let role = Role::parse(&w.role)?;
        let me = self
            .mesh
            .key
            .as_ref()
            .map(|k| k.verifying_key().to_bytes())
            .ok_or("the mesh is not loaded")?;
        let team = Team {
            founder: w.founder,
            team_key: zeroize::Zeroizing::new(w.team_key),
            vault_key: zeroize::Zeroizing::new(w.vault_key),
        };
        let Some(store) = &mut self.mesh.store else {
            return Err("the mesh is not loaded".into());
        };
        store
            .join_team(&me, &team, now())
            .map_err(|e| format!("{e:#}"))?;
        // The inviter's team port: the address the joiner reached it at, with the port it
        // listens on for the team.
        let ip = via
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        let mut addrs: Vec<String> = w
            .addrs
            .iter()
            .filter_map(|a| a.rsplit_once(':').map(|(_, p)| format!("{ip}:{p}")))
            .collect();
        addrs.extend(
            w.addrs
                .iter()
                .filter(|a| !a.starts_with("0.0.0.0:") && !a.starts_with("[::]:"))
                .cloned(),
        );
        addrs.dedup();
        store
            .saw_peer(&w.inviter, &addrs.join(","), now(), false)
            .map_err(|e| format!("{e:#}"))?;
        // Everything is loaded again for the new team, and the worker begins again.
        self.mesh.replica = None;
        self.mesh.store = None;
        self.mesh_load()?;
        self.mesh.wanted = true;
        if self.worker_ready(WorkerKind::Mesh) {
            self.mesh_begin();
        } else {
            self.spawn_worker(WorkerKind::Mesh);
        }
        self.mesh_vault_take_key();
        // A guest's changes are refused by the team: its queue stays its own.
        if role != Role::Guest {
            self.mesh_share_all();
        }
        let name: String = w
            .inviter_name
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        self.mesh_log(format!(
            "joined the team of {name} ({}) as a {}",
            short_id(&w.inviter),
            role.name()
        ));
        self.mesh_broadcast();
        Ok(format!(
            "joined the team of {name} as a {}; syncing with {}\n",
            role.name(),
            addrs.first().cloned().unwrap_or(via)
        ))
    }

    /// Revokes a device: out of every allow list, and a new team key for the rest.
    fn mesh_revoke(&mut self, device: &str) -> Result<String, String> {
        self.mesh_start()?;
        let r = self.mesh.replica.as_ref().ok_or("the mesh is not loaded")?;
        if r.role_of(&r.me) != Some(Role::Admin) {
            return Err("only an admin of the team may revoke a device".into());
        }
        let target = self.mesh_find_device(device)?;
        if target == r.me {
            return Err("this device cannot revoke itself".into());
        }
        if target == r.founder {
            return Err("the team's founder cannot be revoked".into());
        }
        let rest: Vec<DeviceKey> = self
            .mesh_device_keys()
            .into_iter()
            .filter(|k| *k != target && *k != r.me && r.role_of(k).is_some())
            .collect();
        let mut team_key = [0u8; 32];
        getrandom::fill(&mut team_key).map_err(|e| format!("no random source: {e}"))?;
        let key = self.mesh.key.as_ref().ok_or("the mesh is not loaded")?;
        let mut changes = vec![items::Change {
            kind: Kind::Device,
            record: hex(&target),
            field: "revoked".into(),
            value: Value::Int(1),
        }];
        for k in &rest {
            changes.push(items::Change {
                kind: Kind::Device,
                record: rekey::RECORD.into(),
                field: hex(k),
                value: Value::Bytes(rekey::seal(key, k, &team_key)?),
            });
        }
        let name = self.name_of(&target);
        self.mesh_write(changes)?;
        if let Some(s) = &self.mesh.store {
            s.rekey(&team_key).map_err(|e| format!("{e:#}"))?;
        }
        if let Some(t) = &mut self.mesh.team {
            t.team_key = zeroize::Zeroizing::new(team_key);
        }
        self.worker_send(WorkerKind::Mesh, &MeshIn::Rekey { team_key });
        self.mesh_log(format!("revoked {name}; the team key changed"));
        self.mesh_broadcast();
        Ok(format!(
            "revoked {name}: no device of the team lets it in, and the team key is new for the \
             {} others. It keeps what it had already.\n",
            rest.len()
        ))
    }

    /// The peers mesh.db knows (where last reached, when last seen and synced).
    fn mesh_peers(&self) -> Vec<crate::store::mesh::Peer> {
        self.mesh
            .store
            .as_ref()
            .and_then(|s| s.peers().ok())
            .unwrap_or_default()
    }

    fn mesh_device_keys(&self) -> Vec<DeviceKey> {
        let Some(r) = &self.mesh.replica else {
            return vec![];
        };
        let mut out = r.devices();
        if !out.contains(&r.founder) {
            out.insert(0, r.founder);
        }
        out
    }

    fn mesh_find_device(&self, s: &str) -> Result<DeviceKey, String> {
        if let Ok(k) = parse_device_id(s) {
            return Ok(k);
        }
        let want: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        if want.len() < 4 {
            return Err(format!(
                "{s:?} names no device: give its ID, or at least its first 4 characters \
                 (fieldkit mesh ls)"
            ));
        }
        let hits: Vec<DeviceKey> = self
            .mesh_device_keys()
            .into_iter()
            .filter(|k| {
                device_id(k)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .starts_with(&want)
            })
            .collect();
        match hits.as_slice() {
            [k] => Ok(*k),
            [] => Err(format!("no device of the team has an ID starting {s:?}")),
            _ => Err(format!(
                "{s:?} starts the ID of {} devices: give more of it",
                hits.len()
            )),
        }
    }

    /// This device, for `mesh id` and the pane.
    fn mesh_me(&self) -> MeshMe {
        let r = self.mesh.replica.as_ref();
        MeshMe {
            id: r.map(|r| device_id(&r.me)).unwrap_or_default(),
            name: self.config.mesh.name(),
            role: r
                .and_then(|r| r.role_of(&r.me))
                .map(|x| x.name().to_string())
                .unwrap_or_else(|| "none yet".into()),
            founder: r.map(|r| device_id(&r.founder)).unwrap_or_default(),
            listening: self.mesh.listening.clone(),
            pairing: self.mesh.pairing.clone(),
            changes: r.map(|r| r.len()).unwrap_or(0),
        }
    }

    /// The team's devices, this one first.
    fn mesh_devices(&self) -> Vec<MeshDevice> {
        let Some(r) = &self.mesh.replica else {
            return vec![];
        };
        let peers: HashMap<DeviceKey, (String, Option<u64>, Option<u64>)> = self
            .mesh_peers()
            .into_iter()
            .map(|(k, a, s, y)| (k, (a, s, y)))
            .collect();
        let mut keys = self.mesh_device_keys();
        keys.sort_by_key(|k| *k != r.me);
        keys.into_iter()
            .map(|k| {
                let rec = hex(&k);
                let name = match r.value(Kind::Device, &rec, "name") {
                    Some(Value::Text(n)) => n.clone(),
                    _ if k == r.me => self.config.mesh.name(),
                    _ => String::new(),
                };
                let p = peers.get(&k);
                MeshDevice {
                    id: device_id(&k),
                    name,
                    role: match r.role_of(&k) {
                        Some(x) => x.name().to_string(),
                        None => "revoked".into(),
                    },
                    online: k == r.me || self.mesh.online.contains_key(&k),
                    this_device: k == r.me,
                    last_sync: p.and_then(|p| p.2),
                    behind: self.mesh.behind.get(&k).copied(),
                    addr: p.map(|p| p.0.clone()).unwrap_or_default(),
                }
            })
            .collect()
    }

    fn mesh_conflicts(&self) -> Vec<MeshConflict> {
        let Some(r) = &self.mesh.replica else {
            return vec![];
        };
        let mut out = Vec::new();
        for (kind, id) in CONFLICT_KINDS
            .iter()
            .flat_map(|k| r.records(*k).into_iter().map(move |id| (*k, id)))
        {
            for c in r.conflicts(kind, &id) {
                let text = |f: &str| match r.value(kind, &id, f) {
                    Some(Value::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                let title = match kind {
                    Kind::Item => text("title"),
                    Kind::Workflow => format!("workflow {id}"),
                    Kind::Chat => format!("chat {}", text("name")),
                    // Its title is inside the sealed entry; the vault has it when unlocked.
                    _ => match self
                        .vault
                        .unlocked
                        .as_ref()
                        .and_then(|u| u.entries.entries.iter().find(|e| e.team_id == id))
                    {
                        Some(e) => format!("team vault: {}", e.path()),
                        None => "team vault entry (unlock the vault to see which)".into(),
                    },
                };
                out.push(MeshConflict {
                    kind: kind.name(),
                    item: id.clone(),
                    title,
                    field: c.field.clone(),
                    lost: show_value(&c.value),
                    lost_by: self.name_of(&c.stamp.origin),
                    won: show_value(&c.winner),
                    won_by: self.name_of(&c.winner_stamp.origin),
                });
            }
        }
        out
    }

    /// Every mesh pane is told how things are now.
    pub(super) fn mesh_broadcast(&mut self) {
        let panes = self.panes_needing(fieldkit_panes::Engine::Mesh);
        if panes.is_empty() {
            return;
        }
        let view = self.mesh_view();
        for (name, id) in panes {
            let ev = fieldkit_panes::mesh::MeshEvent::View(Box::new(view.clone()));
            self.pane_call_id(&name, id, |p, cx| {
                p.on_engine(EngineEvent::Mesh(Box::new(ev)), cx)
            });
        }
    }

    fn mesh_view(&self) -> fieldkit_panes::mesh::MeshView {
        let me = self.mesh_me();
        let log = self
            .mesh
            .store
            .as_ref()
            .and_then(|s| s.log_lines(50).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|(at, l)| (crate::engine::queue::duration::show_time(at as i64), l))
            .collect();
        fieldkit_panes::mesh::MeshView {
            id: me.id,
            name: me.name,
            role: me.role,
            listening: me.listening.unwrap_or_default(),
            pairing: me.pairing.unwrap_or_default(),
            running: self.worker_ready(WorkerKind::Mesh),
            error: self.mesh.last_error.clone().unwrap_or_default(),
            devices: self
                .mesh_devices()
                .into_iter()
                .map(|d| fieldkit_panes::mesh::DeviceRow {
                    id: d.id,
                    name: d.name,
                    role: d.role,
                    online: d.online,
                    this_device: d.this_device,
                    last_sync: d
                        .last_sync
                        .map(|t| crate::engine::queue::duration::show_time(t as i64))
                        .unwrap_or_default(),
                    behind: d.behind,
                })
                .collect(),
            conflicts: self
                .mesh_conflicts()
                .into_iter()
                .map(|c| fieldkit_panes::mesh::ConflictRow {
                    item: c.item,
                    title: c.title,
                    field: c.field,
                    lost: c.lost,
                    lost_by: c.lost_by,
                    won: c.won,
                    won_by: c.won_by,
                })
                .collect(),
            log,
        }
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::Int(i) => i.to_string(),
        Value::Text(t) => t.clone(),
        Value::Bytes(b) => format!("({} sealed bytes)", b.len()),
    }
}

/// The pairing address as a joiner types it: a wildcard listen address is this machine's
/// address on the LAN, which only the person knows for sure.
fn invite_addr(a: &str) -> String {
    match a.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]", port)) => format!("THIS-DEVICE-IP:{port}"),
        _ => a.to_string(),
    }
}

fn json_line<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("\"{e}\""));
    s.push('\n');
    s
}

#[derive(serde::Serialize)]
struct MeshMe {
    id: String,
    name: String,
    role: String,
    founder: String,
    listening: Option<String>,
    pairing: Option<String>,
    changes: usize,
}

#[derive(serde::Serialize)]
struct MeshDevice {
    id: String,
    name: String,
    role: String,
    online: bool,
    this_device: bool,
    last_sync: Option<u64>,
    behind: Option<u64>,
    addr: String,
}

/// The records whose lost edits `mesh conflicts` lists and `mesh restore` puts back.
const CONFLICT_KINDS: [Kind; 4] = [Kind::Item, Kind::Workflow, Kind::Secret, Kind::Chat];

#[derive(serde::Serialize)]
struct MeshConflict {
    /// What the record is: item, workflow, secret, chat.
    kind: &'static str,
    /// The record's id (an item's id for items).
    item: String,
    title: String,
    field: String,
    lost: String,
    lost_by: String,
    won: String,
    won_by: String,
}
