//! `fieldkit mcp` driven by real MCP clients: the official Python SDK's (PyPI mcp 2.3.0) and the
//! official TypeScript SDK's (npm @modelcontextprotocol/sdk 1.32.2), both put in place by
//! ./setup; raw JSON-RPC lines for what no SDK sends (a BOM, junk, a huge line, an unknown
//! method); and a write asked of the attached user in a real workspace in tmux, said yes to
//! and no to by keys.
mod common;

use common::{tools, wait_until, Fk, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PY_CLIENT: &str = r#"
import anyio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    env = {k: os.environ[k] for k in ("PATH", "HOME", "FIELDKIT_HOME", "SHELL") if k in os.environ}
    params = StdioServerParameters(command=sys.argv[1], args=["mcp"], env=env)
    out = {}
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            out["server"] = init.server_info.name
            out["version"] = init.protocol_version
            out["tools"] = sorted(t.name for t in (await s.list_tools()).tools)
            res = await s.call_tool("query", {"sql": "select 6 * 7 as answer"})
            out["query"] = [res.is_error, res.content[0].text]
            res = await s.call_tool("query", {"sql": "drop table if exists x"})
            out["write"] = [res.is_error, res.content[0].text]
            res = await s.call_tool("queue_add", {"title": "from an agent"})
            out["add"] = [res.is_error, res.content[0].text]
    print(json.dumps(out))

anyio.run(main)
"#;

const JS_CLIENT: &str = r#"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
const [bin] = process.argv.slice(2);
const env = {};
for (const k of ["PATH", "HOME", "FIELDKIT_HOME", "SHELL"]) if (process.env[k]) env[k] = process.env[k];
const transport = new StdioClientTransport({ command: bin, args: ["mcp"], env, stderr: "inherit" });
const client = new Client({ name: "fieldkit-test", version: "0.1.0" });
await client.connect(transport);
const { tools } = await client.listTools();
const q = await client.callTool({ name: "query", arguments: { sql: "select 6 * 7 as answer" } });
const w = await client.callTool({ name: "query", arguments: { sql: "drop table if exists x" } });
const a = await client.callTool({ name: "queue_add", arguments: { title: "from an agent" } });
console.log(JSON.stringify({
  server: client.getServerVersion().name,
  tools: tools.map((t) => t.name).sort(),
  query: [q.isError, q.content[0].text],
  write: [w.isError, w.content[0].text],
  add: [a.isError, a.content[0].text],
}));
await client.close();
"#;

/// What both SDK clients must have seen.
fn check_client_run(fk: &Fk, out: &std::process::Output, who: &str) {
    assert!(
        out.status.success(),
        "{who}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or(""),
    )
    .unwrap_or_else(|e| panic!("{who}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["server"], "fieldkit", "{who}: {v}");
    let names: Vec<&str> = v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for t in [
        "list_tables",
        "query",
        "queue_add",
        "queue_list",
        "capture_pane",
        "send_keys",
    ] {
        assert!(names.contains(&t), "{who}: no {t} in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.contains("vault")),
        "{who}: {names:?}"
    );
    assert_eq!(
        v["query"],
        serde_json::json!([false, "answer\n42\n"]),
        "{who}"
    );
    assert_eq!(v["write"][0], true, "{who}: {v}");
    assert!(
        v["write"][1]
            .as_str()
            .unwrap_or("")
            .contains("only read-only SQL"),
        "{who}: {v}"
    );
    // The server runs, nobody is attached: the write is refused with a message.
    assert_eq!(v["add"][0], true, "{who}: {v}");
    assert!(
        v["add"][1]
            .as_str()
            .unwrap_or("")
            .contains("nobody is attached"),
        "{who}: {v}"
    );
    let items: Value = serde_json::from_str(&fk.ok(&["queue", "ls", "--all", "--json"])).unwrap();
    assert_eq!(
        items.as_array().map(Vec::len),
        Some(0),
        "{who}: an item was added unasked"
    );
}

/// Every call is in the audit log.
fn audit(fk: &Fk) -> Vec<String> {
    let db = rusqlite::Connection::open(fk.path().join("data/state.db")).expect("state.db");
    let mut st = db
        .prepare("SELECT detail FROM audit WHERE kind = 'mcp' ORDER BY id")
        .expect("audit");
    st.query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn the_python_sdks_client_lists_tools_runs_read_only_sql_and_is_refused_a_write() {
    let fk = Fk::new();
    fk.ok(&["queue", "ls"]);
    let script = fk.path().join("client.py");
    std::fs::write(&script, PY_CLIENT).unwrap();
    let out = Command::new(tools::python())
        .arg(&script)
        .arg(BIN)
        .env("FIELDKIT_HOME", fk.path())
        .output()
        .expect("python");
    check_client_run(&fk, &out, "python sdk");
    let log = audit(&fk);
    assert!(
        log.iter()
            .any(|l| l.starts_with("query") && l.ends_with(": ok")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("queue_add") && l.contains("failed: nobody is attached")),
        "{log:?}"
    );
}

#[test]
fn the_typescript_sdks_client_lists_tools_runs_read_only_sql_and_is_refused_a_write() {
    let fk = Fk::new();
    fk.ok(&["queue", "ls"]);
    // Node resolves the SDK from the script's folder: the tools' node_modules, linked there.
    let dir = fk.path().join("js");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(tools::mcp_js_modules(), dir.join("node_modules")).unwrap();
    std::fs::write(dir.join("client.mjs"), JS_CLIENT).unwrap();
    let out = Command::new("node")
        .arg(dir.join("client.mjs"))
        .arg(BIN)
        .env("FIELDKIT_HOME", fk.path())
        .output()
        .expect("node (./setup installs it)");
    check_client_run(&fk, &out, "typescript sdk");
}

/// `fieldkit mcp` on pipes: lines in, each answer line out (read on a thread, waited for with a
/// timeout).
struct Raw {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Raw {
    fn start(fk: &Fk) -> Raw {
        let mut child = Command::new(BIN)
            .arg("mcp")
            .env("FIELDKIT_HOME", fk.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("fieldkit mcp");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Raw { child, lines: rx }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    fn next(&self, what: &str) -> Value {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no answer to {what}: {e}"));
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{what}: {e}: {l}"))
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bad_lines_get_json_rpc_errors_and_the_session_goes_on() {
    let fk = Fk::new();
    let mut m = Raw::start(&fk);
    m.send(b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"1999-01-01\"}}\n");
    let v = m.next("initialize with a BOM and an unknown version");
    assert_eq!(v["result"]["protocolVersion"], "2025-11-25", "{v}");
    m.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    m.send(b"this is not json\n");
    let v = m.next("junk");
    assert_eq!(
        (v["error"]["code"].as_i64(), v["id"].is_null()),
        (Some(-32700), true),
        "{v}"
    );
    let mut huge =
        b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 << 20));
    huge.extend(b"\"}}\n");
    m.send(&huge);
    let v = m.next("a line of 2 MB");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    for (line, code) in [
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"resources/list"}"#,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"teleport","arguments":{}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"query","arguments":{}}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"query","arguments":[1]}}"#,
            -32602,
        ),
        (r#"[{"jsonrpc":"2.0","id":7,"method":"ping"}]"#, -32600),
        (r#"{"jsonrpc":"1.0","id":8,"method":"ping"}"#, -32600),
    ] {
        m.send(format!("{line}\n").as_bytes());
        let v = m.next(line);
        assert_eq!(v["error"]["code"], code, "{line}: {v}");
    }
    // A SQL error is the tool's, not the protocol's: a result with isError.
    m.send(b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"query\",\"arguments\":{\"sql\":\"select * from nowhere\"}}}\n");
    let v = m.next("a query of a missing table");
    assert_eq!(v["result"]["isError"], true, "{v}");
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("nowhere"),
        "{v}"
    );
    m.send(b"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}\n");
    assert_eq!(
        m.next("ping after all that")["result"],
        serde_json::json!({})
    );
}

#[test]
fn a_write_asks_the_attached_user_who_says_yes_then_no() {
    let fk = Fk::new();
    fk.terminal("w", 100, 30);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    let mut m = Raw::start(&fk);
    m.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}\n");
    m.next("initialize");
    let add = |m: &mut Raw, id: u32, title: &str| {
        m.send(
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"queue_add\",\"arguments\":{{\"title\":\"{title}\"}}}}}}\n"
            )
            .as_bytes(),
        );
    };
    add(&mut m, 2, "Check the antenna mast");
    fk.wait_screen("w", "the question", |s| {
        s.contains("an MCP client asks") && s.contains("Check the antenna mast")
    });
    fk.keys("w", &["y"]);
    let v = m.next("the yes");
    assert_eq!(v["result"]["isError"], false, "{v}");
    let items: Value = serde_json::from_str(&fk.ok(&["queue", "ls", "--json"])).unwrap();
    assert!(
        items
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["title"] == "Check the antenna mast")),
        "{items}"
    );
    add(&mut m, 3, "Delete everything");
    fk.wait_screen("w", "the second question", |s| {
        s.contains("Delete everything")
    });
    fk.keys("w", &["n"]);
    let v = m.next("the no");
    assert_eq!(v["result"]["isError"], true, "{v}");
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("said no"),
        "{v}"
    );
    fk.wait_screen("w", "the popup gone", |s| !s.contains("an MCP client asks"));
    let items: Value = serde_json::from_str(&fk.ok(&["queue", "ls", "--json"])).unwrap();
    assert!(!items.to_string().contains("Delete everything"));
    wait_until("audit rows", || {
        let db = rusqlite::Connection::open(fk.path().join("data/state.db"))
            .map_err(|e| e.to_string())?;
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM audit WHERE kind = 'mcp' AND detail LIKE 'queue_add%'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())?;
        (n == 2).then_some(()).ok_or(format!("{n} rows"))
    });
}
