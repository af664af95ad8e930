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
//! 3. The same with real processes, end to end: two fieldkit servers with their own homes and
//!    `mesh` workers, 10,000 items imported into A's queue, B paired by code; from `mesh join`
//!    to the last item in B's queue.db. It includes what (1) leaves out: A signing the items'
//!    changes when B joins (one change per field, so 13 per item), B's worker checking each
//!    signature, B's server keeping them in mesh.db and writing the items to queue.db.
//! 4. Idle: the mesh worker of A with two peers connected and nothing changing, for 20 s:
//!    its wakeups (context switches, voluntary and not, from /proc) and its memory (VmRSS).
//!    The keep-alives the protocols send: identify every 5 minutes; TCP keep-alive is the
//!    kernel's; yamux and request-response send nothing idle. So the goal is 0 wakeups a
//!    second but those.
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
    processes();
}

const BIN: &str = env!("CARGO_BIN_EXE_fieldkit");

/// A node as a process: its home, with the mesh on loopback and no mDNS.
struct Proc {
    home: tempfile::TempDir,
}

impl Proc {
    fn new(name: &str) -> Proc {
        let home = tempfile::Builder::new()
            .prefix("fkb")
            .tempdir_in("/tmp")
            .expect("home");
        std::fs::create_dir_all(home.path().join("config")).expect("config dir");
        std::fs::write(
            home.path().join("config/config.toml"),
            format!(
                "[mesh]\nname = \"{name}\"\nlisten = \"127.0.0.1:0\"\npair_listen = \"127.0.0.1:0\"\nmdns = false\n"
            ),
        )
        .expect("config");
        Proc { home }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("FIELDKIT_HOME", self.home.path())
            .output()
            .expect("fieldkit");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("json")
    }

    fn pair(&self, joiner: &Proc) {
        let out = self.ok(&["mesh", "invite"]);
        let code = out.lines().last().expect("code").trim().to_string();
        let addr = out
            .split("--addr ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("addr")
            .to_string();
        joiner.ok(&["mesh", "join", &code, "--addr", &addr]);
    }

    fn online(&self) -> usize {
        self.json(&["mesh", "ls", "--json"])
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|d| d["online"] == true && d["this_device"] == false)
                    .count()
            })
            .unwrap_or(0)
    }

    /// The pid of this node's mesh worker.
    fn worker(&self) -> i32 {
        let server: i32 = std::fs::read_to_string(self.home.path().join("run/server.pid"))
            .expect("pid")
            .trim()
            .parse()
            .expect("pid");
        for e in std::fs::read_dir("/proc").expect("proc").flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if ppid == Some(server) && cmd.split(|b| *b == 0).any(|a| a == b"mesh") {
                return pid;
            }
        }
        panic!("no mesh worker");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = std::process::Command::new(BIN)
            .arg("kill-server")
            .env("FIELDKIT_HOME", self.home.path())
            .output();
    }
}

/// Waits (polling the CLI, 300 s at most) until `f` holds.
fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(300), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Context switches of `pid`, all its threads, so far.
fn switches(pid: i32) -> u64 {
    let mut n = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
    {
        let st = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        for l in st.lines() {
            if l.starts_with("voluntary_ctxt_switches")
                || l.starts_with("nonvoluntary_ctxt_switches")
            {
                n += l
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    n
}

/// CPU seconds (user and system) `pid` has used.
fn cpu_s(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the name: state, ppid, pgrp, session, tty, tpgid, flags, four fault counts, then
    // utime and stime (fields 14 and 15 of proc(5)).
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (n(11) + n(12)) as f64 / tick
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn processes() {
    const N: usize = 10_000;
    println!("3. initial sync of {N} items, queue to queue, between two fieldkit processes");
    let a = Proc::new("a");
    let b = Proc::new("b");
    let seed = a.ok(&["queue", "add", "seed"]).trim().to_string();
    let proto = a.json(&["queue", "show", &seed, "--json"]);
    let body = "water sample log. ".repeat(52);
    let items: Vec<serde_json::Value> = (0..N - 1)
        .map(|i| {
            let mut it = proto.clone();
            it["id"] = format!("{i:032x}").into();
            it["title"] = format!("Sample {i}").into();
            it["body"] = body.clone().into();
            it
        })
        .collect();
    let file = a.home.path().join("items.json");
    std::fs::write(&file, serde_json::to_string(&items).expect("json")).expect("write");
    a.ok(&["queue", "import", file.to_str().expect("path")]);
    let t = Instant::now();
    a.pair(&b);
    wait("every item on B", || {
        b.json(&["queue", "ls", "--all", "--json"])
            .as_array()
            .map(|v| v.len())
            == Some(N)
    });
    let took = t.elapsed();
    let cpu = |p: &Proc| {
        let server: i32 = std::fs::read_to_string(p.home.path().join("run/server.pid"))
            .expect("pid")
            .trim()
            .parse()
            .expect("pid");
        (
            cpu_s(server),
            cpu_s(p.worker()),
            rss_kib(server),
            rss_kib(p.worker()),
        )
    };
    let (ca, cb) = (cpu(&a), cpu(&b));
    println!(
        "   CPU so far (user+system): A server {:.1} s, A worker {:.1} s, B server {:.1} s, B worker {:.1} s",
        ca.0, ca.1, cb.0, cb.1
    );
    println!(
        "   resident: A server {} MiB, A worker {} MiB, B server {} MiB, B worker {} MiB",
        ca.2 / 1024,
        ca.3 / 1024,
        cb.2 / 1024,
        cb.3 / 1024
    );
    println!(
        "   fieldkit: {:.0} ms from `mesh join` to {N} items in B's queue (goal < 5 s; (1) is the same transfer between two nodes alone)",
        ms(took)
    );
    println!("   method: polls `queue ls` on B every 100 ms; the figure includes up to that much.");
    println!("4. idle: A's mesh worker with two peers connected, nothing changing, 20 s");
    let c = Proc::new("c");
    a.pair(&c);
    wait("two peers online", || a.online() == 2);
    wait("every item on C too", || {
        c.json(&["queue", "ls", "--all", "--json"])
            .as_array()
            .map(|v| v.len())
            == Some(N)
    });
    let pid = a.worker();
    // Let the first sync and the identify exchange settle.
    std::thread::sleep(Duration::from_secs(3));
    let (s0, t0) = (switches(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(20));
    let (s1, secs) = (switches(pid), t0.elapsed().as_secs_f64());
    println!(
        "   wakeups: {:.2}/s ({} context switches in {secs:.1} s); memory: {} KiB resident, holding {} changes",
        (s1 - s0) as f64 / secs,
        s1 - s0,
        rss_kib(pid),
        a.json(&["mesh", "id", "--json"])["changes"]
    );
    println!("   method: /proc/PID/task/*/status context switches before and after; /proc/PID/status VmRSS.");
}
