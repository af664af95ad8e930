//! The mesh's figures (issue 15), with real libp2p swarms on loopback in this process (the
//! worker that will drive them in `fieldkit __worker mesh` does the same work around them):
//!
//! 1. Initial sync of 10,000 work items of about 1 KB between two devices: from the
//!    connection to the last change taken on the second (signed, checked, merged), beside a
//!    peer doing the same transfer without the mesh: the same changes' bytes over a plain
//!    loopback TCP socket, decoded on the other side (no key, no Noise, no checks, no merge).
//!    Goal < 5 s.
//! 2. One edit on A visible on B (goal < 1 s), and on C through B (goal < 2 s): 50 edits each,
//!    median and p99. No peer: nothing else here syncs through a third device.
//!
//! Not measured yet: the worker's idle wakeups and memory (the worker process is the next
//! step of the issue).
use fieldkit::engine::mesh::net::{Node, NodeEvent};
use fieldkit::engine::mesh::op::new_key;
use fieldkit::engine::mesh::replica::{Replica, Role};
use fieldkit_messages::mesh::{Kind, Op, Value};
use libp2p::Multiaddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Three devices of one team (the first founded it), as nodes.
fn team(team_key: &[u8; 32]) -> Vec<Node> {
    let keys: Vec<_> = (0..3).map(|_| new_key().expect("key")).collect();
    let reps = Replica::team_of(&keys, Role::Member, fieldkit::engine::mesh::net::wall_ms());
    keys.into_iter()
        .zip(reps)
        .map(|(k, r)| Node::new(k, team_key, r, false).expect("node"))
        .collect()
}

async fn drive(nodes: &mut [Node], what: &str, mut done: impl FnMut(&[Node]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !done(nodes) {
        let next = futures::future::select_all(nodes.iter_mut().map(|n| Box::pin(n.next_event())));
        if tokio::time::timeout_at(deadline, next).await.is_err() {
            panic!("timed out: {what}");
        }
    }
}

async fn listen(n: &mut Node) -> Multiaddr {
    n.listen("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
        .expect("listen");
    loop {
        for e in n.next_event().await {
            if let NodeEvent::Listening(a) = e {
                return a;
            }
        }
    }
}

/// The peer: `bytes` (length-prefixed messages) over a plain loopback socket, each decoded.
async fn raw_tcp(msgs: &[Vec<u8>]) -> Duration {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let n = msgs.len();
    let reader = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut got = 0;
        while got < n {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).await.expect("len");
            let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
            s.read_exact(&mut body).await.expect("body");
            let op: Op = fieldkit::engine::mesh::wire::decode(&body).expect("decode");
            std::hint::black_box(op);
            got += 1;
        }
    });
    let t = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    for m in msgs {
        s.write_all(&(m.len() as u32).to_le_bytes())
            .await
            .expect("write");
        s.write_all(m).await.expect("write");
    }
    s.flush().await.expect("flush");
    reader.await.expect("reader");
    t.elapsed()
}

async fn initial_sync() {
    const N: usize = 10_000;
    println!("1. initial sync of {N} work items (about 1 KB each) between two devices");
    let mut nodes = team(&[9; 32]);
    let body = "pump and tank inspection notes ".repeat(32);
    let mut ops = Vec::new();
    for i in 0..N {
        ops.push(nodes[0].write(
            Kind::Item,
            &format!("item-{i:05}"),
            "body",
            Value::Text(body.clone()),
        ));
    }
    let addr = listen(&mut nodes[0]).await;
    let target = nodes[0].replica.len();
    let t = Instant::now();
    nodes[1].dial(addr).expect("dial");
    let mut pair: Vec<Node> = nodes.drain(..2).collect();
    drive(&mut pair, "the initial sync", |n| {
        n[1].replica.len() == target
    })
    .await;
    let took = t.elapsed();
    assert_eq!(pair[0].replica.state_hash(), pair[1].replica.state_hash());
    let msgs: Vec<Vec<u8>> = ops
        .iter()
        .map(|o| fieldkit::engine::mesh::wire::encode(o).expect("encode"))
        .collect();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let peer = raw_tcp(&msgs).await;
    println!(
        "  fieldkit {:.0} ms (goal < 5000 ms) for {:.1} MB of changes; plain TCP + decode {:.0} ms; {:.1}x the plain transfer",
        ms(took),
        bytes as f64 / 1e6,
        ms(peer),
        took.as_secs_f64() / peer.as_secs_f64().max(1e-9)
    );
    println!(
        "  method: from B's dial to B holding every change (each signed by A, checked, merged);"
    );
    println!("          the peer sends the same changes' bytes over one loopback socket and decodes them.");
}

async fn edit_latency() {
    println!("2. one edit on A seen on B, and on C through B (A and C not connected), 50 each");
    let mut n = team(&[7; 32]);
    let a = listen(&mut n[0]).await;
    let b = listen(&mut n[1]).await;
    n[1].dial(a).expect("dial");
    n[2].dial(b).expect("dial");
    drive(&mut n, "the line connected", |n| {
        n[0].online().len() == 1 && n[1].online().len() == 2 && n[2].online().len() == 1
    })
    .await;
    let (mut to_b, mut to_c) = (Vec::new(), Vec::new());
    for i in 0..50 {
        let t = Instant::now();
        let rec = format!("e{i}");
        n[0].write(Kind::Item, &rec, "title", Value::Text(format!("edit {i}")));
        let mut seen_b = None;
        drive(&mut n, "the edit on C", |n| {
            if seen_b.is_none() && n[1].replica.value(Kind::Item, &rec, "title").is_some() {
                seen_b = Some(t.elapsed());
            }
            n[2].replica.value(Kind::Item, &rec, "title").is_some()
        })
        .await;
        to_c.push(ms(t.elapsed()));
        to_b.push(ms(seen_b.unwrap_or_else(|| t.elapsed())));
    }
    for (name, v, goal) in [("B", &mut to_b, 1000), ("C through B", &mut to_c, 2000)] {
        v.sort_by(f64::total_cmp);
        println!(
            "  on {name}: median {:.2} ms, p99 {:.2} ms (goal < {goal} ms)",
            v[v.len() / 2],
            v[v.len() * 99 / 100]
        );
    }
    println!(
        "  method: A's write to the change held by B (and by C), all three driven in one thread."
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        initial_sync().await;
        edit_latency().await;
    });
}
