/*!
The `mesh` worker (`fieldkit __worker mesh`): the only process that faces the network. It holds
the swarm and a copy of the team's changes (to answer peers), and relays pairing connections
byte for byte to the server. It never holds a vault key or a PTY, and keeps nothing on disk:
the server owns mesh.db and the team's keys, signs the changes made here, judges pairing
attempts (the PAKE runs there, over the relayed bytes), and starts this worker again with
everything it held when it dies.

One task reads frames from the server, one writes them; the loop waits on the server, the
swarm and the pairing listener, and on nothing else: with peers connected and nothing changing
it wakes only for the protocols' own keep-alives.
*/

use super::net::{self, Node, NodeEvent};
use super::replica::Replica;
use crate::wire;
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{DeviceKey, MeshIn, MeshOut, Op};
use std::collections::HashMap;
use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedSender};
use zeroize::Zeroizing;

/// Pairing connections served at once; more are closed at once (a pairing is a person
/// reading a code aloud, not a crowd).
const MAX_PAIR_CONNS: usize = 4;
/// Bytes a pairing connection may send in all (the exchange is under 2 KiB).
const MAX_PAIR_BYTES: usize = 64 * 1024;
/// A pairing connection lives at most this long.
const PAIR_LIFETIME: std::time::Duration = std::time::Duration::from_secs(120);

/// How a `Start` said to begin, kept to build the node on `Go` and again on `Rekey`.
struct Plan {
    seed: Zeroizing<[u8; 32]>,
    team_key: Zeroizing<[u8; 32]>,
    founder: DeviceKey,
    also_allowed: Vec<DeviceKey>,
    listen: String,
    mdns: bool,
    dial: Vec<String>,
}

struct Worker {
    out: UnboundedSender<MeshOut>,
    plan: Option<Plan>,
    restoring: Vec<Op>,
    node: Option<Node>,
    /// The address the team's port is bound to (kept across a rekey, so peers find it again).
    bound: Option<libp2p::Multiaddr>,
    rekey: Option<Zeroizing<[u8; 32]>>,
    pair_listener: Option<TcpListener>,
    /// Answers joiners looking for an open invite on the LAN, while the pairing port is open.
    pair_answerer: Option<Answerer>,
    pair_conns: HashMap<u64, UnboundedSender<Vec<u8>>>,
    next_conn: u64,
    /// Pairing connections' tasks say they ended here.
    pair_ended: UnboundedSender<u64>,
    /// The address last reported for each peer (identify tells it after the connection).
    reported: HashMap<DeviceKey, String>,
    /// Addresses to reach the team at: given (`Start`, `Dial`) or learnt (identify).
    known: Vec<libp2p::Multiaddr>,
    /// When to dial again the addresses of devices not connected (none: all are, or none is
    /// known), and the wait after that.
    redial_at: Option<tokio::time::Instant>,
    backoff: std::time::Duration,
    /// Bytes of changes handled since memory was last given back: a first sync's frames and
    /// batches are freed in pieces glibc keeps, so once the peers have answered everything the
    /// worker hands them back (`malloc_trim`) rather than sit on them idle.
    churn: usize,
}

/// Give memory back after this much churn, once nothing is in flight.
const TRIM_AFTER: usize = 4 << 20;

/// The first wait before dialing a missing device again, and the longest.
const REDIAL_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const REDIAL_MAX: std::time::Duration = std::time::Duration::from_secs(60);

pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    // Stdin and stdout are read and written on threads of their own (blocking, as the other
    // workers do): the loop below only ever waits on channels, the swarm and sockets.
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<MeshOut>();
    let writer = std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut so = stdout.lock();
        while let Some(m) = out_rx.blocking_recv() {
            let frame = wire::encode(&m)?;
            so.write_all(&frame)?;
            so.flush()?;
        }
        Ok::<_, anyhow::Error>(())
    });
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<MeshIn>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut si = stdin.lock();
        loop {
            match wire::read_frame::<MeshIn>(&mut si) {
                Ok(Some(m)) => {
                    if in_tx.send(m).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("mesh worker: a frame from the server does not read: {e}");
                    break;
                }
            }
        }
    });
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<u64>();
    let mut w = Worker {
        out: out_tx,
        plan: None,
        restoring: Vec::new(),
        node: None,
        bound: None,
        rekey: None,
        pair_listener: None,
        pair_answerer: None,
        pair_conns: HashMap::new(),
        next_conn: 0,
        pair_ended: ended_tx,
        reported: HashMap::new(),
        known: Vec::new(),
        redial_at: None,
        backoff: REDIAL_FIRST,
        churn: 0,
    };
    w.say(MeshOut::Hello {
        pid: std::process::id(),
        version: fieldkit_messages::VERSION,
    });
    loop {
        tokio::select! {
            m = in_rx.recv() => match m {
                Some(m) => w.on_server(m),
                // The server is gone: so is its worker.
                None => break,
            },
            evs = next_node(&mut w.node) => {
                for e in evs {
                    w.on_node(e);
                }
                w.report_addrs();
            }
            conn = accept(&w.pair_listener) => w.on_pair_conn(conn),
            Some(conn) = ended_rx.recv() => {
                if w.pair_conns.remove(&conn).is_some() {
                    w.say(MeshOut::PairClosed { conn });
                }
            }
            _ = sleep_until(w.redial_at) => w.redial(),
        }
        w.maybe_rekey();
        w.plan_redial();
        w.maybe_trim();
    }
    drop(w);
    let _ = writer.join();
    Ok(())
}

/// The task answering probes on the pairing port's number (UDP); stopped when dropped.
struct Answerer(tokio::task::JoinHandle<()>);

impl Drop for Answerer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers `pairnet::discover` at `at` (the pairing port's address), at most 20 answers a
/// second; `None` (said in the log) where the port number is taken for UDP.
fn answerer(at: std::net::SocketAddr) -> Option<Answerer> {
    let sock = match std::net::UdpSocket::bind(at)
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .and_then(tokio::net::UdpSocket::from_std)
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("mesh: joiners cannot find this device on the LAN ({at}/udp: {e}); they give --addr");
            return None;
        }
    };
    let answer = super::pairnet::probe_answer(at.port());
    Some(Answerer(tokio::spawn(async move {
        let mut buf = [0u8; super::pairnet::PROBE_LEN + 1];
        let mut window = tokio::time::Instant::now();
        let mut sent = 0u32;
        loop {
            let (n, from) = match sock.recv_from(&mut buf).await {
                Ok(x) => x,
                // (An ICMP error for an earlier answer, say: never a reason to spin.)
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !super::pairnet::is_probe(&buf[..n]) {
                continue;
            }
            if window.elapsed() >= std::time::Duration::from_secs(1) {
                window = tokio::time::Instant::now();
                sent = 0;
            }
            sent += 1;
            if sent > 20 {
                continue;
            }
            let _ = sock.send_to(&answer, from).await;
        }
    })))
}

async fn next_node(node: &mut Option<Node>) -> Vec<NodeEvent> {
    match node {
        Some(n) => n.next_event().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn accept(
    l: &Option<TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

impl Worker {
    fn say(&self, m: MeshOut) {
        // The writer is gone only when stdout is: the server will see this worker end.
        let _ = self.out.send(m);
    }

    fn on_server(&mut self, m: MeshIn) {
        match m {
            MeshIn::Start {
                seed,
                team_key,
                founder,
                also_allowed,
                listen,
                mdns,
                dial,
            } => {
                // Whatever ran before stops: its connections close, its port is let go.
                self.node = None;
                self.rekey = None;
                self.restoring.clear();
                self.plan = Some(Plan {
                    seed: Zeroizing::new(seed),
                    team_key: Zeroizing::new(team_key),
                    founder,
                    also_allowed,
                    listen,
                    mdns,
                    dial,
                });
            }
            MeshIn::Restore(ops) => {
                self.churn += ops.len() * 512;
                self.restoring.extend(ops)
            }
            MeshIn::Go => self.go(),
            MeshIn::Local(ops) => {
                self.churn += ops.len() * 512;
                match &mut self.node {
                    Some(n) => n.local(ops),
                    None => self.restoring.extend(ops),
                }
            }
            MeshIn::Dial(addr) => self.dial(&addr),
            MeshIn::Pairing(Some(addr)) => {
                if self.pair_listener.is_none() {
                    match std::net::TcpListener::bind(&addr)
                        .and_then(|l| l.set_nonblocking(true).map(|()| l))
                        .and_then(TcpListener::from_std)
                    {
                        Ok(l) => {
                            if let Ok(a) = l.local_addr() {
                                self.pair_answerer = answerer(a);
                            }
                            let at = l.local_addr().map(|a| a.to_string()).unwrap_or(addr);
                            self.pair_listener = Some(l);
                            self.say(MeshOut::PairListening(Ok(at)));
                        }
                        Err(e) => self.say(MeshOut::PairListening(Err(format!(
                            "cannot open the pairing port {addr}: {e}"
                        )))),
                    }
                } else if let Some(Ok(at)) = self.pair_listener.as_ref().map(|l| l.local_addr()) {
                    self.say(MeshOut::PairListening(Ok(at.to_string())));
                }
            }
            // The port closes; an exchange under way finishes on its connection.
            MeshIn::Pairing(None) => {
                self.pair_listener = None;
                self.pair_answerer = None;
            }
            MeshIn::PairSend { conn, bytes } => {
                if let Some(tx) = self.pair_conns.get(&conn) {
                    let _ = tx.send(bytes);
                }
            }
            MeshIn::PairClose { conn } => {
                self.pair_conns.remove(&conn);
            }
            MeshIn::Rekey { team_key } => self.rekey = Some(Zeroizing::new(team_key)),
        }
    }

    fn dial(&mut self, addr: &str) {
        if let Ok(a) = net::multiaddr(addr) {
            if !self.known.contains(&a) {
                self.known.push(a);
            }
        }
        let Some(n) = &mut self.node else {
            if let Some(p) = &mut self.plan {
                p.dial.push(addr.to_string());
            }
            return;
        };
        match net::multiaddr(addr)
            .map_err(anyhow::Error::msg)
            .and_then(|a| n.dial(a))
        {
            Ok(()) => {}
            Err(e) => self.say(MeshOut::Failed(format!("cannot dial {addr}: {e}"))),
        }
    }

    /// Builds the node as the plan says, from the changes restored.
    fn go(&mut self) {
        let Some(p) = &self.plan else {
            self.say(MeshOut::Failed(
                "told to go before being told who it is".into(),
            ));
            return;
        };
        let key = SigningKey::from_bytes(&p.seed);
        let me = key.verifying_key().to_bytes();
        let mut r = Replica::new(me, p.founder);
        for op in std::mem::take(&mut self.restoring) {
            r.restore(op);
        }

        let listen = match net::multiaddr(&p.listen) {
            Ok(a) => a,
            Err(e) => {
                self.say(MeshOut::Failed(format!("[mesh] listen: {e}")));
                return;
            }
        };
        let dial = p.dial.clone();
        let team_key = p.team_key.clone();
        match self.build(key, &team_key, r, listen) {
            Ok(()) => {
                for a in dial {
                    self.dial(&a);
                }
            }
            Err(e) => self.say(MeshOut::Failed(e)),
        }
    }

    fn build(
        &mut self,
        key: SigningKey,
        team_key: &[u8; 32],
        r: Replica,
        listen: libp2p::Multiaddr,
    ) -> Result<(), String> {
        let Some(p) = &self.plan else {
            return Err("no plan".into());
        };
        let mut n = Node::new(key, team_key, r, p.mdns).map_err(|e| e.to_string())?;
        n.also_allowed = p.also_allowed.clone();
        n.refresh_allowed();
        if let Err(e) = n.listen(listen.clone()) {
            // The port is taken (another fieldkit, another program): any port will do, and the
            // pane says which.
            let any = net::hostport(&listen)
                .and_then(|hp| hp.rsplit_once(':').map(|(h, _)| format!("{h}:0")))
                .and_then(|hp| net::multiaddr(&hp).ok());
            match any {
                Some(a) if a != listen => {
                    self.say(MeshOut::Failed(format!(
                        "cannot listen on {listen} ({e}); listening on another port"
                    )));
                    n.listen(a).map_err(|e| format!("cannot listen: {e}"))?;
                }
                _ => return Err(format!("cannot listen on {listen}: {e}")),
            }
        }
        self.node = Some(n);
        Ok(())
    }

    fn on_node(&mut self, e: NodeEvent) {
        match e {
            NodeEvent::Listening(a) => {
                let is_tcp = net::hostport(&a);
                if self.bound.is_none() && is_tcp.is_some() {
                    self.bound = Some(a.clone());
                }
                if let Some(hp) = is_tcp {
                    self.say(MeshOut::Listening(hp));
                }
            }
            NodeEvent::Connected(device) => {
                let addr = self
                    .node
                    .as_ref()
                    .and_then(|n| n.addrs.get(&device))
                    .and_then(|a| a.first())
                    .and_then(net::hostport)
                    .unwrap_or_default();
                self.say(MeshOut::Connected { device, addr });
            }
            NodeEvent::Disconnected(device) => self.say(MeshOut::Disconnected { device }),
            NodeEvent::Took { from, ops } => {
                self.churn += ops.len() * 512;
                self.say(MeshOut::Took { from, ops })
            }
            NodeEvent::Refused { from, why } => self.say(MeshOut::Refused { from, why }),
            NodeEvent::Failed(why) => self.say(MeshOut::Failed(why)),
            NodeEvent::Synced { device, behind } => self.say(MeshOut::Synced { device, behind }),
        }
    }

    /// Arms the redial timer while a device of the team is not connected and an address is
    /// known; disarms it (and starts the backoff over) once every one is. With every peer
    /// connected, nothing wakes this worker but the peers.
    fn plan_redial(&mut self) {
        let Some(n) = &self.node else {
            self.redial_at = None;
            return;
        };
        for a in n.addrs.values().flatten() {
            if !self.known.contains(a) && self.known.len() < 64 {
                self.known.push(a.clone());
            }
        }
        if n.someone_offline() && !self.known.is_empty() {
            if self.redial_at.is_none() {
                self.redial_at = Some(tokio::time::Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(REDIAL_MAX);
            }
        } else {
            self.redial_at = None;
            self.backoff = REDIAL_FIRST;
        }
    }

    /// Dials every known address but those of devices connected now.
    fn redial(&mut self) {
        self.redial_at = None;
        let Some(n) = &mut self.node else {
            return;
        };
        for a in self.known.clone() {
            let skip = n.dialed.get(&a).is_some_and(|d| n.is_online(d))
                || n.addrs
                    .iter()
                    .any(|(d, addrs)| addrs.contains(&a) && n.is_online(d));
            if !skip {
                let _ = n.dial(a);
            }
        }
    }

    /// Gives freed memory back to the system after a burst of changes, once every request
    /// is answered (so the next batch is not about to need it again).
    fn maybe_trim(&mut self) {
        if self.churn < TRIM_AFTER || self.node.as_ref().is_some_and(|n| n.pending > 0) {
            return;
        }
        self.churn = 0;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Where connected peers listen, once identify says (the server keeps it to dial them
    /// after a restart).
    fn report_addrs(&mut self) {
        let Some(n) = &self.node else {
            return;
        };
        let online = n.online();
        let mut news = Vec::new();
        for d in online {
            let Some(a) = n
                .addrs
                .get(&d)
                .and_then(|a| a.first())
                .and_then(net::hostport)
            else {
                continue;
            };
            if self.reported.get(&d) != Some(&a) {
                news.push((d, a));
            }
        }
        for (device, addr) in news {
            self.reported.insert(device, addr.clone());
            self.say(MeshOut::Connected { device, addr });
        }
    }

    /// Switches to a new team key once every push is answered (the peers have the change that
    /// rotated it), then reaches the peers again on the port it had.
    fn maybe_rekey(&mut self) {
        let Some(n) = &self.node else {
            return;
        };
        if self.rekey.is_none() || n.pending > 0 {
            return;
        }
        let Some(team_key) = self.rekey.take() else {
            return;
        };
        let Some(old) = self.node.take() else {
            return;
        };
        let peers: Vec<libp2p::Multiaddr> = old.addrs.values().flatten().cloned().collect();
        let key = old.key().clone();
        let Node { replica, .. } = old;
        if let Some(p) = &mut self.plan {
            p.team_key = team_key.clone();
        }
        let listen = self.bound.clone().or_else(|| {
            self.plan
                .as_ref()
                .and_then(|p| net::multiaddr(&p.listen).ok())
        });
        let Some(listen) = listen else {
            return;
        };
        match self.build(key, &team_key, replica, listen) {
            Ok(()) => {
                if let Some(n) = &mut self.node {
                    for a in peers {
                        let _ = n.dial(a);
                    }
                }
            }
            Err(e) => self.say(MeshOut::Failed(format!("after the team key changed: {e}"))),
        }
    }

    fn on_pair_conn(
        &mut self,
        conn: std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>,
    ) {
        let (stream, peer) = match conn {
            Ok(c) => c,
            Err(e) => {
                self.say(MeshOut::Failed(format!("pairing port: {e}")));
                return;
            }
        };
        if self.pair_conns.len() >= MAX_PAIR_CONNS {
            tracing::warn!(%peer, "mesh: a pairing connection over the limit closed");
            return;
        }
        self.next_conn += 1;
        let conn = self.next_conn;
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.pair_conns.insert(conn, tx);
        self.say(MeshOut::PairOpened {
            conn,
            peer: peer.to_string(),
        });
        let out = self.out.clone();
        let ended = self.pair_ended.clone();
        tokio::spawn(async move {
            let (mut rd, mut wr) = stream.into_split();
            let mut buf = vec![0u8; 16 * 1024];
            let mut read = 0usize;
            let deadline = tokio::time::sleep(PAIR_LIFETIME);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    n = rd.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            read += n;
                            if read > MAX_PAIR_BYTES {
                                break;
                            }
                            if out.send(MeshOut::PairBytes { conn, bytes: buf[..n].to_vec() }).is_err() {
                                break;
                            }
                        }
                    },
                    b = rx.recv() => match b {
                        Some(b) => {
                            if wr.write_all(&b).await.is_err() {
                                break;
                            }
                        }
                        // The server closed it.
                        None => break,
                    },
                    _ = &mut deadline => break,
                }
            }
            let _ = wr.shutdown().await;
            let _ = ended.send(conn);
        });
    }
}
