//! The plugins' figures (issue 16), each beside the official MCP Python SDK's client (PyPI mcp
//! 2.3.0, from ./setup) doing the same work on the same plugin in the same run:
//!
//! 1. Spawn to `tools/list` answered: fieldkit's host (the code the server runs: the sandbox,
//!    `initialize`, `notifications/initialized`, `tools/list`) on the Python example
//!    (`plugins/units`, goal < 200 ms) and on the compiled one (`fieldkit-gpx`, goal < 20 ms);
//!    the SDK's `stdio_client` + `ClientSession` doing the same, timed inside Python. Median of
//!    20 starts each.
//! 2. Round trip of a trivial tool call (`units.convert`) on a running plugin: fieldkit's host
//!    vs the SDK's `call_tool`, 500 calls each, median and p99. Goal: fieldkit <= 1.2x the SDK.
//!
//! The host runs in this process on a tokio runtime, as it does in the server; a call through
//! `fieldkit plugin call` adds the CLI's process start and the socket, which the SDK's loop does
//! not pay, so that is left out of the comparison and measured on its own (3).
mod common;
use common::*;

use fieldkit::engine::plugin::host::{self, Call, HostEvent};
use fieldkit::engine::plugin::manifest::{self, Manifest};
use fieldkit::engine::plugin::sandbox::{self, Kernel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn units() -> Manifest {
    let dir = repo().join("plugins/units");
    let text = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
    manifest::parse(&text, "plugins/units/plugin.toml", &dir, "units").expect("manifest")
}

fn gpx() -> Manifest {
    let bin = fieldkit_bin().with_file_name("fieldkit-gpx");
    assert!(bin.exists(), "build it first: cargo build --release --bins");
    let text = format!("command = \"{}\"\n", bin.display());
    let mut m = manifest::parse(&text, "gpx", &repo(), "gpx").expect("manifest");
    m.own_dir = false;
    m
}

/// A plugin started by the host: the call channel, and the time to its tools.
fn start(
    rt: &tokio::runtime::Runtime,
    m: &Manifest,
    k: Kernel,
) -> (
    tokio::sync::mpsc::UnboundedSender<Call>,
    tokio::sync::mpsc::UnboundedReceiver<HostEvent>,
    Duration,
) {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let t0 = Instant::now();
    let (command, enforced) = sandbox::command(m, k, &home).expect("command");
    let (calls_tx, calls_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
    rt.spawn(host::run(
        m.clone(),
        host::Launch {
            command,
            sandbox: enforced.describe(),
        },
        calls_rx,
        ev_tx,
    ));
    match rt.block_on(ev_rx.recv()) {
        Some(HostEvent::Ready { tools, .. }) => assert!(!tools.is_empty()),
        other => panic!("the plugin did not start: {other:?}"),
    }
    (calls_tx, ev_rx, t0.elapsed())
}

fn call(rt: &tokio::runtime::Runtime, calls: &tokio::sync::mpsc::UnboundedSender<Call>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    calls
        .send(Call {
            tool: "convert".into(),
            args: serde_json::json!({"value": 12, "from": "ft", "to": "m"}),
            reply: tx,
        })
        .expect("send");
    let a = rt.block_on(rx).expect("answer").expect("call");
    assert_eq!(a.text, "12 ft = 3.6576 m");
}

const SDK: &str = r#"
import anyio, json, statistics, sys, time
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    cmd, cwd, starts, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    args = sys.argv[5:]
    spawn = []
    for _ in range(starts):
        t0 = time.perf_counter()
        async with stdio_client(StdioServerParameters(command=cmd, args=args, cwd=cwd)) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                await s.list_tools()
                spawn.append((time.perf_counter() - t0) * 1000)
    rt = []
    if calls:
        async with stdio_client(StdioServerParameters(command=cmd, args=args, cwd=cwd)) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                for _ in range(calls):
                    t0 = time.perf_counter()
                    res = await s.call_tool("convert", {"value": 12, "from": "ft", "to": "m"})
                    rt.append((time.perf_counter() - t0) * 1000)
                    assert res.content[0].text == "12 ft = 3.6576 m"
    rt.sort()
    print(json.dumps({"spawn": statistics.median(spawn),
                      "call": statistics.median(rt) if rt else 0,
                      "call_p99": rt[int(len(rt) * 0.99)] if rt else 0}))

anyio.run(main)
"#;

fn sdk(cmd: &str, cwd: &Path, args: &[&str], starts: usize, calls: usize) -> serde_json::Value {
    let script = std::env::temp_dir().join(format!("fk-bench-sdk-{}.py", std::process::id()));
    std::fs::write(&script, SDK).expect("script");
    let out = Command::new(tools::python())
        .arg(&script)
        .arg(cmd)
        .arg(cwd)
        .arg(starts.to_string())
        .arg(calls.to_string())
        .args(args)
        .output()
        .expect("python sdk");
    let _ = std::fs::remove_file(&script);
    assert!(
        out.status.success(),
        "sdk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sdk json")
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let k = Kernel::probe();
    println!(
        "plugins: sandbox here: Landlock ABI {}, network namespace {}",
        k.landlock,
        if k.netns { "yes" } else { "no" }
    );
    println!("1. spawn to tools/list answered (median of 20)");
    for (name, m, goal) in [
        ("units (Python)", units(), 200.0),
        ("gpx (compiled)", gpx(), 20.0),
    ] {
        let mut times = Vec::new();
        for _ in 0..20 {
            let (calls, mut ev, took) = start(&rt, &m, k);
            times.push(took);
            drop(calls);
            // Until it has stopped, so starts do not overlap.
            while let Some(e) = rt.block_on(ev.recv()) {
                if matches!(e, HostEvent::Stopped(_)) {
                    break;
                }
            }
        }
        let ours = ms(median(times));
        let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
        let peer = sdk(&m.command, &m.dir, &args, 20, 0)["spawn"]
            .as_f64()
            .unwrap_or(0.0);
        println!(
            "   {name}: fieldkit {ours:.1} ms (goal < {goal:.0} ms; sandboxed), Python SDK client {peer:.1} ms (no sandbox): {:.2}x",
            ours / peer
        );
    }
    println!("2. round trip of units.convert on a running plugin (500 calls)");
    let m = units();
    let (calls, _ev, _) = start(&rt, &m, k);
    for _ in 0..50 {
        call(&rt, &calls);
    }
    let mut times = Vec::new();
    for _ in 0..500 {
        let t0 = Instant::now();
        call(&rt, &calls);
        times.push(t0.elapsed());
    }
    times.sort();
    let p99 = ms(times[times.len() * 99 / 100]);
    let ours = ms(median(times));
    let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
    let peer = sdk(&m.command, &m.dir, &args, 1, 500);
    let (pm, pp) = (
        peer["call"].as_f64().unwrap_or(0.0),
        peer["call_p99"].as_f64().unwrap_or(0.0),
    );
    println!(
        "   fieldkit host {ours:.3} ms median (p99 {p99:.3}), Python SDK client {pm:.3} ms (p99 {pp:.3}): {:.2}x (goal <= 1.2x)",
        ours / pm
    );
    drop(calls);
    println!("3. the same call through the CLI and the server (fieldkit plugin call), 50 calls");
    let home = Home::new();
    let plugins = home.0.path().join("config/plugins/units");
    std::fs::create_dir_all(&plugins).expect("dir");
    for f in ["plugin.toml", "units.py"] {
        std::fs::copy(repo().join("plugins/units").join(f), plugins.join(f)).expect("copy");
    }
    let ok = |args: &[&str]| {
        let o = home.fk(args).output().expect("fieldkit");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&["plugin", "grant", "units"]);
    let convert = [
        "plugin",
        "call",
        "units.convert",
        r#"{"value": 12, "from": "ft", "to": "m"}"#,
    ];
    ok(&convert);
    let mut times = Vec::new();
    for _ in 0..50 {
        let t0 = Instant::now();
        ok(&convert);
        times.push(t0.elapsed());
    }
    println!(
        "   {:.1} ms median per `fieldkit plugin call` (a process start, the socket, the server, the plugin)",
        ms(median(times))
    );
    home.kill_server();
    println!("   method: Instant around each; the SDK times itself with time.perf_counter.");
}
