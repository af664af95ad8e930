/*!
The mesh's transport: a libp2p swarm per device, and the sync protocol over it.

Every connection is TCP wrapped in the team's pre-shared key (pnet: a device without it cannot
even finish the handshake), then Noise (the device key is the libp2p identity, so a peer's
PeerId names its device key) and yamux. A device the team's records do not list, or list as
revoked, is refused at connection by the allow list, before any stream: it gets no application
stream. mDNS finds devices on the LAN; `dial` reaches one at an address where mDNS does not pass.

Sync is request-response (`/fieldkit/sync/1`, our own bounded codec): on every new connection
each side sends what it has (`Have`); the answer is the first batch of what the asker lacks,
and the asker asks again while there is more. A change made here, or taken from a peer, is
pushed at once to every other connected device (`Ops`), which answers with what it has, so a
gap is filled on the next round: A and C converge through B without ever meeting.

`Node` holds the swarm and the replica; whoever drives it (the worker, the tests) by
`next_event` keeps what it reports (`Took`, and what `write` returns) in the store: the engine
does not reach up to the stores.
*/

use super::replica::Replica;
use super::wire;
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{DeviceKey, Kind, Op, SyncMsg, Value};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::core::transport::upgrade::Version;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, identity, mdns, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
    Transport,
};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The sync protocol's name on the wire.
pub const PROTOCOL: &str = "/fieldkit/sync/1";
/// What identify says this is.
pub const AGENT: &str = "/fieldkit/mesh/1";

/// The sync protocol's messages on a stream: a u32 length (at most `wire::MAX_MSG`), then
/// `wire`'s bincode.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_msg<T: AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<SyncMsg> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let n = u32::from_le_bytes(len) as u64;
    if n > wire::MAX_MSG {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a sync message of {n} bytes (at most {})", wire::MAX_MSG),
        ));
    }
    let mut body = vec![0u8; n as usize];
    io.read_exact(&mut body).await?;
    wire::decode_sync(&body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

async fn write_msg<T: AsyncWrite + Unpin + Send>(io: &mut T, m: &SyncMsg) -> std::io::Result<()> {
    let body = wire::encode(m).map_err(std::io::Error::other)?;
    io.write_all(&(body.len() as u32).to_le_bytes()).await?;
    io.write_all(&body).await?;
    io.close().await
}

#[async_trait::async_trait]
impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncMsg;
    type Response = SyncMsg;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<SyncMsg>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_msg(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<SyncMsg>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_msg(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        m: SyncMsg,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_msg(io, &m).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        m: SyncMsg,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_msg(io, &m).await
    }
}

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub limits: libp2p::connection_limits::Behaviour,
    pub allow: libp2p::allow_block_list::Behaviour<libp2p::allow_block_list::AllowedPeers>,
    /// Off where multicast cannot be had (and in tests, which dial by address).
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    pub identify: identify::Behaviour,
    pub sync: request_response::Behaviour<SyncCodec>,
}

/// The PeerId of a device key.
pub fn peer_of(key: &DeviceKey) -> Option<PeerId> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(key).ok()?;
    Some(PeerId::from_public_key(&identity::PublicKey::from(pk)))
}

/// How many connections a device takes: a team is a handful of laptops, so these only bound
/// what a misbehaving or hostile host on the LAN can make this device hold.
fn limits() -> libp2p::connection_limits::ConnectionLimits {
    libp2p::connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(16))
        .with_max_pending_outgoing(Some(32))
        .with_max_established_incoming(Some(64))
        .with_max_established(Some(128))
        .with_max_established_per_peer(Some(2))
}

/// `HOST:PORT` (an IP address: names need DNS, which a field network may not have) as a
/// libp2p address.
pub fn multiaddr(hostport: &str) -> Result<Multiaddr, String> {
    let sa: std::net::SocketAddr = hostport.trim().parse().map_err(|_| {
        format!("{hostport:?} is not an address: give IP:PORT, such as 192.168.1.20:4701")
    })?;
    let ip = match sa.ip() {
        std::net::IpAddr::V4(ip) => libp2p::multiaddr::Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => libp2p::multiaddr::Protocol::Ip6(ip),
    };
    Ok(Multiaddr::empty()
        .with(ip)
        .with(libp2p::multiaddr::Protocol::Tcp(sa.port())))
}

/// A libp2p TCP address as `HOST:PORT` (`None`: not one).
pub fn hostport(addr: &Multiaddr) -> Option<String> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(port) => return Some(std::net::SocketAddr::new(ip?, port).to_string()),
            _ => {}
        }
    }
    None
}

/// A swarm for the device whose key is `key`, in the team whose key is `team_key`.
pub fn swarm(
    key: &SigningKey,
    team_key: &[u8; 32],
    mdns_on: bool,
) -> anyhow::Result<Swarm<Behaviour>> {
    let kp = identity::Keypair::ed25519_from_bytes(key.to_bytes())
        .map_err(|e| anyhow::anyhow!("the device key: {e}"))?;
    let psk = PreSharedKey::new(*team_key);
    let swarm = libp2p::SwarmBuilder::with_existing_identity(kp)
        .with_tokio()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                    .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise)
                    .multiplex(yamux::Config::default()),
            )
        })?
        .with_behaviour(|key| {
            let peer = key.public().to_peer_id();
            let mdns = if mdns_on {
                match mdns::tokio::Behaviour::new(mdns::Config::default(), peer) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::warn!(
                            "mesh: no mDNS on this network ({e}): peers are found by address only"
                        );
                        None
                    }
                }
            } else {
                None
            };
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour {
                limits: libp2p::connection_limits::Behaviour::new(limits()),
                allow: Default::default(),
                mdns: Toggle::from(mdns),
                identify: identify::Behaviour::new(identify::Config::new(
                    AGENT.into(),
                    key.public(),
                )),
                sync: request_response::Behaviour::with_codec(
                    SyncCodec,
                    [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(30)),
                ),
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok(swarm)
}

/// What happened, for the worker to report and the tests to wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    Listening(Multiaddr),
    Connected(DeviceKey),
    Disconnected(DeviceKey),
    /// Changes taken from a peer (new ones only), by the records they touch.
    Took {
        from: DeviceKey,
        ops: Vec<Op>,
    },
    /// A change refused, and why.
    Refused {
        from: DeviceKey,
        why: String,
    },
    /// A connection or stream that failed, in a sentence.
    Failed(String),
    /// A peer answered with what it has: how many changes it lacks that this device holds.
    Synced {
        device: DeviceKey,
        behind: u64,
    },
}

pub struct Node {
    pub swarm: Swarm<Behaviour>,
    pub replica: Replica,
    key: SigningKey,
    /// Connected peers that are devices of the team.
    connected: HashMap<PeerId, DeviceKey>,
    allowed: HashSet<PeerId>,
    /// What each peer last said it has: a round that brings no progress is not repeated
    /// (changes it refuses would otherwise be sent back and forth without end).
    last_have: HashMap<PeerId, Vec<(DeviceKey, u64)>>,
    /// Devices let in before the records name them (the inviter of a device that just joined).
    pub also_allowed: Vec<DeviceKey>,
    /// Where each peer says it listens (identify), to reach it again.
    pub addrs: HashMap<DeviceKey, Vec<Multiaddr>>,
    /// Requests sent and not yet answered (or failed).
    pub pending: usize,
    /// Which device answered at an address this device dialed.
    pub dialed: HashMap<Multiaddr, DeviceKey>,
    now: fn() -> u64,
}

/// The wall clock in ms.
pub fn wall_ms() -> u64 {
    crate::engine::queue::now_ms().max(0) as u64
}

impl Node {
    pub fn new(
        key: SigningKey,
        team_key: &[u8; 32],
        replica: Replica,
        mdns_on: bool,
    ) -> anyhow::Result<Node> {
        let mut n = Node {
            swarm: swarm(&key, team_key, mdns_on)?,
            replica,
            key,
            connected: HashMap::new(),
            allowed: HashSet::new(),
            last_have: HashMap::new(),
            also_allowed: Vec::new(),
            addrs: HashMap::new(),
            pending: 0,
            dialed: HashMap::new(),
            now: wall_ms,
        };
        n.refresh_allowed();
        Ok(n)
    }

    /// Every device the team's records name, and the founder (roles not judged here).
    fn team_devices(&self) -> Vec<DeviceKey> {
        let mut out = self.replica.devices();
        out.push(self.replica.founder);
        out.extend(self.also_allowed.iter().copied());
        out
    }

    /// Lets in exactly the team's devices now (the others' connections are closed).
    pub fn refresh_allowed(&mut self) {
        let devices = self.team_devices();
        let now: HashSet<PeerId> = devices
            .iter()
            .filter(|d| {
                **d != self.replica.me
                    && (self.replica.role_of(d).is_some()
                        // Until the records name it; a revoke in them still wins.
                        || (self.also_allowed.contains(d)
                            && self
                                .replica
                                .value(Kind::Device, &super::replica::device_record(d), "revoked")
                                .is_none()))
            })
            .filter_map(peer_of)
            .collect();
        for p in self.allowed.difference(&now) {
            self.swarm.behaviour_mut().allow.disallow_peer(*p);
        }
        for p in now.difference(&self.allowed) {
            self.swarm.behaviour_mut().allow.allow_peer(*p);
        }
        self.allowed = now;
    }

    pub fn listen(&mut self, addr: Multiaddr) -> anyhow::Result<()> {
        self.swarm.listen_on(addr)?;
        Ok(())
    }

    pub fn dial(&mut self, addr: Multiaddr) -> anyhow::Result<()> {
        self.swarm.dial(addr)?;
        Ok(())
    }

    /// Changes made here and kept already (by the server, which signs them): held and pushed.
    pub fn local(&mut self, ops: Vec<Op>) {
        let device = ops.iter().any(|o| o.kind == Kind::Device);
        for op in &ops {
            self.replica.restore(op.clone());
        }
        self.push(&ops, None);
        if device {
            self.refresh_allowed();
        }
    }

    /// The device key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Sends a sync request, counted until it is answered.
    fn request(&mut self, peer: &PeerId, m: SyncMsg) {
        self.pending += 1;
        self.swarm.behaviour_mut().sync.send_request(peer, m);
    }

    /// A change made here (for the caller to keep), pushed to every connected device.
    pub fn write(&mut self, kind: Kind, record: &str, field: &str, value: Value) -> Op {
        let op = self
            .replica
            .write(&self.key, kind, record, field, value, (self.now)());
        self.push(std::slice::from_ref(&op), None);
        if kind == Kind::Device {
            self.refresh_allowed();
        }
        op
    }

    /// Sends `ops` to every connected device but `except`.
    fn push(&mut self, ops: &[Op], except: Option<PeerId>) {
        let peers: Vec<PeerId> = self
            .connected
            .keys()
            .copied()
            .filter(|p| Some(*p) != except)
            .collect();
        for p in peers {
            for batch in chunks(ops) {
                self.request(
                    &p,
                    SyncMsg::Ops {
                        ops: batch,
                        more: false,
                    },
                );
            }
        }
    }

    /// Takes changes from `peer`: the new ones are kept and passed on to the other devices.
    fn take(&mut self, peer: PeerId, from: DeviceKey, ops: Vec<Op>) -> Vec<NodeEvent> {
        let now = (self.now)();
        let mut new = Vec::new();
        let mut out = Vec::new();
        // A change by a device whose admission comes later in the batch is taken on a later
        // pass (batches go by origin, not by time); what is still refused when a pass takes
        // nothing is refused.
        let mut todo = ops;
        loop {
            let mut unknown = Vec::new();
            let before = new.len();
            for op in todo {
                match self.replica.receive(op.clone(), now) {
                    Ok(true) => new.push(op),
                    Ok(false) => {}
                    Err(super::replica::Refused::Unknown) => unknown.push(op),
                    Err(why) => {
                        tracing::warn!(peer = %peer, "mesh: change refused: {why}");
                        out.push(NodeEvent::Refused {
                            from,
                            why: why.to_string(),
                        });
                    }
                }
            }
            if unknown.is_empty() || new.len() == before {
                for _ in &unknown {
                    let why = super::replica::Refused::Unknown.to_string();
                    tracing::warn!(peer = %peer, "mesh: change refused: {why}");
                    out.push(NodeEvent::Refused { from, why });
                }
                break;
            }
            todo = unknown;
        }
        if !new.is_empty() {
            self.push(&new, Some(peer));
            if new.iter().any(|o| o.kind == Kind::Device) {
                self.refresh_allowed();
            }
            out.push(NodeEvent::Took { from, ops: new });
        }
        out
    }

    /// The first batch of what a peer with `theirs` lacks (empty when nothing).
    fn answer(&self, theirs: &[(DeviceKey, u64)]) -> SyncMsg {
        let (ops, more) = self.replica.first_missing(theirs);
        SyncMsg::Ops { ops, more }
    }

    /// Waits for the next thing that happens and handles it.
    pub async fn next_event(&mut self) -> Vec<NodeEvent> {
        let ev = self.swarm.select_next_some().await;
        self.handle(ev)
    }

    fn handle(&mut self, ev: SwarmEvent<BehaviourEvent>) -> Vec<NodeEvent> {
        use request_response::{Event as RR, Message};
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => vec![NodeEvent::Listening(address)],
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let Some(dev) = self.device_of(&peer_id) else {
                    // The allow list lets in only the team's devices; this is not one now.
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return vec![];
                };
                if endpoint.is_dialer() {
                    self.dialed
                        .insert(endpoint.get_remote_address().clone(), dev);
                }
                let first = self.connected.insert(peer_id, dev).is_none();
                if first {
                    let have = self.replica.have();
                    self.request(&peer_id, SyncMsg::Have(have));
                }
                vec![NodeEvent::Connected(dev)]
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.last_have.remove(&peer_id);
                match self.connected.remove(&peer_id) {
                    Some(dev) => vec![NodeEvent::Disconnected(dev)],
                    None => vec![],
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(list))) => {
                for (peer, addr) in list {
                    if self.allowed.contains(&peer) && !self.connected.contains_key(&peer) {
                        let _ = self.swarm.dial(addr);
                    }
                }
                vec![]
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(RR::Message { peer, message, .. })) => {
                let Some(from) = self.connected.get(&peer).copied() else {
                    return vec![];
                };
                match message {
                    Message::Request {
                        request, channel, ..
                    } => {
                        let (reply, events) = match request {
                            SyncMsg::Have(theirs) => (self.answer(&theirs), vec![]),
                            SyncMsg::Ops { ops, .. } => {
                                let ev = self.take(peer, from, ops);
                                (SyncMsg::Have(self.replica.have()), ev)
                            }
                        };
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, reply);
                        events
                    }
                    Message::Response { response, .. } => {
                        self.pending = self.pending.saturating_sub(1);
                        match response {
                            SyncMsg::Ops { ops, more } => {
                                let before = self.replica.len();
                                let ev = self.take(peer, from, ops);
                                // Another batch, unless this one brought nothing new (it would
                                // be the same batch again).
                                if more && self.replica.len() > before {
                                    let have = self.replica.have();
                                    self.request(&peer, SyncMsg::Have(have));
                                }
                                ev
                            }
                            SyncMsg::Have(theirs) => {
                                // The answer to a push: what it still lacks goes now, unless it
                                // said the same last time (what it lacks it refuses).
                                let synced = NodeEvent::Synced {
                                    device: from,
                                    behind: self.behind(&theirs),
                                };
                                if self.last_have.get(&peer) == Some(&theirs) {
                                    return vec![synced];
                                }
                                self.last_have.insert(peer, theirs.clone());
                                if let SyncMsg::Ops { ops, more } = self.answer(&theirs) {
                                    if !ops.is_empty() {
                                        self.request(&peer, SyncMsg::Ops { ops, more });
                                    }
                                }
                                vec![synced]
                            }
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if let Some(dev) = self.connected.get(&peer_id) {
                    let addrs: Vec<Multiaddr> = info
                        .listen_addrs
                        .into_iter()
                        .filter(|a| {
                            a.iter()
                                .any(|p| matches!(p, libp2p::multiaddr::Protocol::Tcp(_)))
                        })
                        .take(8)
                        .collect();
                    self.addrs.insert(*dev, addrs);
                }
                vec![]
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(RR::OutboundFailure {
                peer,
                error,
                ..
            })) => {
                self.pending = self.pending.saturating_sub(1);
                vec![NodeEvent::Failed(format!("sync with {peer}: {error}"))]
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(RR::InboundFailure {
                peer, error, ..
            })) => {
                vec![NodeEvent::Failed(format!("sync from {peer}: {error}"))]
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                vec![NodeEvent::Failed(format!("could not connect: {error}"))]
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                vec![NodeEvent::Failed(format!(
                    "a connection was refused: {error}"
                ))]
            }
            _ => vec![],
        }
    }

    fn device_of(&self, peer: &PeerId) -> Option<DeviceKey> {
        if !self.allowed.contains(peer) {
            return None;
        }
        self.team_devices()
            .into_iter()
            .find(|d| peer_of(d).as_ref() == Some(peer))
    }

    /// How many changes held here a peer that has `theirs` lacks.
    fn behind(&self, theirs: &[(DeviceKey, u64)]) -> u64 {
        let theirs: HashMap<DeviceKey, u64> = theirs.iter().copied().collect();
        self.replica
            .have()
            .iter()
            .map(|(o, n)| n.saturating_sub(theirs.get(o).copied().unwrap_or(0)))
            .sum()
    }

    /// Whether a device of the team (other than this one) is not connected now.
    pub fn someone_offline(&self) -> bool {
        self.allowed.iter().any(|p| !self.connected.contains_key(p))
    }

    /// Whether `d` is connected now.
    pub fn is_online(&self, d: &DeviceKey) -> bool {
        self.connected.values().any(|c| c == d)
    }

    /// Peers connected now.
    pub fn online(&self) -> Vec<DeviceKey> {
        self.connected.values().copied().collect()
    }
}

/// `ops` in batches of at most `MAX_BATCH` bytes (about).
fn chunks(ops: &[Op]) -> Vec<Vec<Op>> {
    let mut out: Vec<Vec<Op>> = vec![Vec::new()];
    let mut size = 0;
    for op in ops {
        let n = wire::encode(op).map(|b| b.len()).unwrap_or(1024);
        if size + n > fieldkit_messages::mesh::MAX_BATCH && size > 0 {
            out.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(b) = out.last_mut() {
            b.push(op.clone());
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::mesh::op::new_key;
    use crate::engine::mesh::replica::Role;

    const T0: u64 = 1_790_000_000_000;

    /// Drives every node until `done` says so (30 s at most: a failure, not a wait).
    async fn run_until(
        nodes: &mut [&mut Node],
        what: &str,
        mut done: impl FnMut(&[&mut Node]) -> bool,
    ) -> Vec<NodeEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while !done(nodes) {
            let next =
                futures::future::select_all(nodes.iter_mut().map(|n| Box::pin(n.next_event())));
            match tokio::time::timeout_at(deadline, next).await {
                Ok((evs, _, _)) => seen.extend(evs),
                Err(_) => panic!("timed out waiting for {what}; events: {seen:?}"),
            }
        }
        seen
    }

    /// Keys and replicas of a team whose founder (the first) made the others members.
    fn team(n: usize) -> Vec<(SigningKey, Replica)> {
        let keys: Vec<SigningKey> = (0..n).map(|_| new_key().unwrap()).collect();
        let reps = Replica::team_of(&keys, Role::Member, T0);
        keys.into_iter().zip(reps).collect()
    }

    async fn listening(n: &mut Node) -> Multiaddr {
        n.listen("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        loop {
            for e in n.next_event().await {
                if let NodeEvent::Listening(a) = e {
                    return a;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_line_of_three_nodes_syncs_a_to_c_through_b() {
        let team_key = [42u8; 32];
        let mut t = team(3).into_iter();
        let node = |(k, r): (SigningKey, Replica)| Node::new(k, &team_key, r, false).unwrap();
        let (mut a, mut b, mut c) = (
            node(t.next().unwrap()),
            node(t.next().unwrap()),
            node(t.next().unwrap()),
        );
        let addr_a = listening(&mut a).await;
        let addr_b = listening(&mut b).await;
        b.dial(addr_a).unwrap();
        c.dial(addr_b).unwrap();
        run_until(
            &mut [&mut a, &mut b, &mut c],
            "A-B and B-C connected",
            |n| n[0].online().len() == 1 && n[1].online().len() == 2 && n[2].online().len() == 1,
        )
        .await;
        a.write(Kind::Item, "i1", "title", Value::Text("fill water".into()));
        run_until(&mut [&mut a, &mut b, &mut c], "A's edit on C", |n| {
            n[2].replica.value(Kind::Item, "i1", "title").is_some()
        })
        .await;
        c.write(Kind::Item, "i1", "state", Value::Text("doing".into()));
        run_until(&mut [&mut a, &mut b, &mut c], "C's edit on A", |n| {
            n[0].replica.value(Kind::Item, "i1", "state").is_some()
        })
        .await;
        assert_eq!(a.replica.state_hash(), c.replica.state_hash());
        assert!(!a.online().contains(&c.replica.me), "A and C never met");
    }

    /// Drives `a` and `other` until `a` refuses it or it fails to connect (30 s at most):
    /// what `a` saw.
    async fn refused(a: &mut Node, other: &mut Node, what: &str) -> Vec<NodeEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let failed = |e: &[NodeEvent]| e.iter().any(|e| matches!(e, NodeEvent::Failed(_)));
        loop {
            let next =
                futures::future::select(Box::pin(a.next_event()), Box::pin(other.next_event()));
            match tokio::time::timeout_at(deadline, next).await {
                Ok(futures::future::Either::Left((e, _))) => {
                    let done = failed(&e);
                    seen.extend(e);
                    if done {
                        return seen;
                    }
                }
                Ok(futures::future::Either::Right((e, _))) if failed(&e) => return seen,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}; events: {seen:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_wrong_team_key_or_an_unpaired_device_gets_no_stream() {
        let mut t = team(2).into_iter();
        let (ka, ra) = t.next().unwrap();
        let (kb, rb) = t.next().unwrap();
        let mut a = Node::new(ka, &[1; 32], ra, false).unwrap();
        let addr = listening(&mut a).await;
        // A device of the team, but with another team key: the handshake cannot finish.
        let mut wrong = Node::new(kb, &[2; 32], rb, false).unwrap();
        wrong.write(
            Kind::Item,
            "w",
            "title",
            Value::Text("from the wrong key".into()),
        );
        wrong.dial(addr.clone()).unwrap();
        let seen = refused(&mut a, &mut wrong, "the wrong team key refused").await;
        assert!(
            !seen.iter().any(|e| matches!(e, NodeEvent::Connected(_))),
            "{seen:?}"
        );
        // A device not in the team, with the right team key: refused by the allow list.
        let stranger = new_key().unwrap();
        let rs = Replica::new(stranger.verifying_key().to_bytes(), a.replica.founder);
        let mut s = Node::new(stranger, &[1; 32], rs, false).unwrap();
        s.write(Kind::Item, "x", "title", Value::Text("mine".into()));
        s.dial(addr).unwrap();
        let seen = refused(&mut a, &mut s, "the stranger refused").await;
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e, NodeEvent::Connected(_) | NodeEvent::Took { .. })),
            "{seen:?}"
        );
        assert!(a.online().is_empty(), "no device connected");
        assert!(a.replica.value(Kind::Item, "x", "title").is_none());
        assert!(a.replica.value(Kind::Item, "w", "title").is_none());
    }
}
