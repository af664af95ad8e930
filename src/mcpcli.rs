/*!
`fieldkit mcp`: fieldkit as an MCP server on stdio, for an agent in another terminal (or any
MCP client). One JSON-RPC message per line; `initialize`, `ping`, `tools/list`, `tools/call`;
anything else is "method not found", a line that does not read is a parse error answered with
a null id, and a bad line never ends the session.

The tools:
- `list_tables`, `query`: DuckDB in this process, as `fieldkit sql` runs it, on the workspace's
  database; `query` runs only what the chat's read-only check passes (a query, EXPLAIN, ...).
- `queue_list`, `list_panes`, `capture_pane`: read through the running server.
- `queue_add`, `queue_done`, `send_keys`, `run_workflow` change state: each asks the attached
  user first (a popup: y or n), unless `[mcp] allow` names it; with nobody attached it is
  refused with a message.

Every call is written to the audit log (state.db, `audit`) with what it asked and how it
ended. No tool reads the vault.
*/

use crate::client;
use crate::engine::plugin::rpc::{self, Message, RpcError};
use crate::paths::Dirs;
use crate::protocol::{Command, QueueCommand, WorkflowCommand};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};

const ACCEPTED: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Rows of a query's answer given back (the rest are counted).
const MAX_ROWS: usize = 500;

fn tools() -> Value {
    let obj = |props: Value, req: &[&str]| json!({"type": "object", "properties": props, "required": req});
    let ro = json!({"readOnlyHint": true});
    let rw = json!({"readOnlyHint": false, "destructiveHint": false});
    json!([
        {"name": "list_tables", "description": "The tables and views of the workspace's DuckDB database.",
         "inputSchema": obj(json!({}), &[]), "annotations": ro},
        {"name": "query", "description": "Run read-only SQL (DuckDB) on the workspace's database; the rows as CSV.",
         "inputSchema": obj(json!({"sql": {"type": "string"}}), &["sql"]), "annotations": ro},
        {"name": "queue_list", "description": "The work queue's items (open ones unless all = true), as JSON.",
         "inputSchema": obj(json!({"all": {"type": "boolean"}}), &[]), "annotations": ro},
        {"name": "queue_add", "description": "Add a work item (asks the user first).",
         "inputSchema": obj(json!({"title": {"type": "string"}, "body": {"type": "string"},
                                   "priority": {"type": "string", "enum": ["H", "M", "L"]}}), &["title"]),
         "annotations": rw},
        {"name": "queue_done", "description": "Mark a work item done (asks the user first).",
         "inputSchema": obj(json!({"id": {"type": "string"}}), &["id"]), "annotations": rw},
        {"name": "list_panes", "description": "The panes of each session's active tab: session, number, kind, title.",
         "inputSchema": obj(json!({}), &[]), "annotations": ro},
        {"name": "capture_pane", "description": "The text a pane shows.",
         "inputSchema": obj(json!({"session": {"type": "string"}, "pane": {"type": "integer"}}), &["pane"]),
         "annotations": ro},
        {"name": "send_keys", "description": "Type keys into a terminal pane: key names (Enter, C-c) or text (asks the user first).",
         "inputSchema": obj(json!({"session": {"type": "string"}, "pane": {"type": "integer"},
                                   "keys": {"type": "array", "items": {"type": "string"}}}), &["pane", "keys"]),
         "annotations": rw},
        {"name": "run_workflow", "description": "Start a workflow by name (asks the user first).",
         "inputSchema": obj(json!({"name": {"type": "string"}}), &["name"]), "annotations": rw},
    ])
}

/// A call's end: its text, or the tool's failure (both go back as a result).
type Outcome = Result<String, String>;

struct Mcp<'a> {
    dirs: &'a Dirs,
    allow: Vec<String>,
    audit: Option<crate::store::Store>,
}

impl Mcp<'_> {
    fn server(&self, session: Option<String>, cmd: Command) -> Outcome {
        match client::command(self.dirs, session, cmd, true) {
            Ok((0, out, _)) => Ok(out),
            Ok((_, _, err)) => Err(err.trim_end().to_string()),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    /// The user's yes for `what`, unless config allows `tool` without asking.
    fn ask(&self, tool: &str, what: String) -> Result<(), String> {
        if self.allow.iter().any(|a| a == tool) {
            return Ok(());
        }
        match client::command(self.dirs, None, Command::Ask { what }, false) {
            Ok((0, _, _)) => Ok(()),
            Ok((_, _, err)) => Err(err.trim_end().to_string()),
            Err(_) => {
                Err("no fieldkit session is running, so nobody can say yes; it was not done".into())
            }
        }
    }

    fn db(&self) -> Result<duckdb::Connection, String> {
        let cfg = crate::config::load(self.dirs).config.data;
        let path = cfg
            .database
            .clone()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| self.dirs.data.join("data.duckdb"));
        if !path.exists() {
            return crate::engine::data::open_db(None, &cfg.memory_limit, cfg.threads)
                .map_err(|e| format!("{e:#}"));
        }
        crate::engine::data::open_db(Some(&path), &cfg.memory_limit, cfg.threads)
            .map_err(|e| format!("{e:#}"))
    }

    fn sql(&self, text: &str) -> Outcome {
        let conn = self.db()?;
        let t = crate::sqlcli::query(&conn, text).map_err(|e| format!("{e:#}"))?;
        let Some((cols, _, rows)) = t else {
            return Ok("(no rows)".into());
        };
        let mut out = String::new();
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        out.push_str(&cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
        for r in rows.iter().take(MAX_ROWS) {
            let line: Vec<String> = r
                .iter()
                .map(|v| v.as_deref().map(field).unwrap_or_default())
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        if rows.len() > MAX_ROWS {
            out.push_str(&format!(
                "({} more rows not shown)\n",
                rows.len() - MAX_ROWS
            ));
        }
        Ok(out)
    }

    fn call(&self, name: &str, a: &Value) -> Result<Outcome, RpcError> {
        let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
        let need = |k: &str| {
            s(k).ok_or_else(|| {
                RpcError::new(
                    rpc::INVALID_PARAMS,
                    format!("{name}: {k} (a string) is required"),
                )
            })
        };
        let pane = || {
            a.get("pane").and_then(Value::as_u64).ok_or_else(|| {
                RpcError::new(
                    rpc::INVALID_PARAMS,
                    format!("{name}: pane (a number) is required"),
                )
            })
        };
        Ok(match name {
            "list_tables" => self.sql(
                "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                 FROM information_schema.tables ORDER BY 1, 2",
            ),
            "query" => {
                let sql = need("sql")?;
                match crate::format::dialect::read_only(&sql) {
                    Ok(true) => self.sql(&sql),
                    Ok(false) => Err("only read-only SQL runs here (a query, EXPLAIN, DESCRIBE, SHOW); this would change data".into()),
                    Err(e) => Err(format!("the SQL does not parse, so it was not run: {e}")),
                }
            }
            "queue_list" => self
                .server(None, Command::Queue(QueueCommand::List))
                .map(|out| {
                    if a.get("all").and_then(Value::as_bool) == Some(true) {
                        return out;
                    }
                    let items: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
                    let open: Vec<Value> = items
                        .into_iter()
                        .filter(|i| !matches!(i["state"].as_str(), Some("DONE" | "CANCELLED")))
                        .collect();
                    Value::Array(open).to_string()
                }),
            "queue_add" => {
                let title = need("title")?;
                let priority = match s("priority").as_deref() {
                    None => crate::engine::queue::Priority::parse("M"),
                    Some(p) => crate::engine::queue::Priority::parse(p),
                }
                .ok_or_else(|| RpcError::new(rpc::INVALID_PARAMS, "priority is H, M or L"))?;
                let body = s("body").unwrap_or_default();
                self.ask("queue_add", format!("Add the work item {title:?}?"))
                    .and_then(|()| {
                        self.server(
                            None,
                            Command::Queue(QueueCommand::Add {
                                title,
                                body,
                                priority,
                                sla: None,
                                due: None,
                                role: String::new(),
                                tags: vec![],
                                project: String::new(),
                            }),
                        )
                    })
            }
            "queue_done" => {
                let id = need("id")?;
                self.ask("queue_done", format!("Mark work item {id} done?"))
                    .and_then(|()| {
                        self.server(
                            None,
                            Command::Queue(QueueCommand::Move {
                                id,
                                mv: crate::engine::queue::Move::Done,
                            }),
                        )
                    })
            }
            "list_panes" => self.server(None, Command::Panes),
            "capture_pane" => {
                let p = pane()?;
                self.server(
                    s("session"),
                    Command::Capture {
                        pane: Some(p),
                        scrollback: false,
                    },
                )
            }
            "send_keys" => {
                let p = pane()?;
                let keys: Vec<String> = a
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        RpcError::new(
                            rpc::INVALID_PARAMS,
                            "send_keys: keys (an array of strings) is required",
                        )
                    })?
                    .iter()
                    .map(|k| k.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        RpcError::new(rpc::INVALID_PARAMS, "send_keys: every key is a string")
                    })?;
                let shown: String = keys.join(" ").chars().take(200).collect();
                self.ask("send_keys", format!("Type into pane {p}: {shown}"))
                    .and_then(|()| {
                        self.server(
                            s("session"),
                            Command::SendKeys {
                                pane: Some(p),
                                keys,
                            },
                        )
                    })
            }
            "run_workflow" => {
                let wf = need("name")?;
                self.ask("run_workflow", format!("Start workflow {wf}?"))
                    .and_then(|()| {
                        self.server(None, Command::Workflow(WorkflowCommand::Run { name: wf }))
                    })
            }
            other => {
                return Err(RpcError::new(
                    rpc::INVALID_PARAMS,
                    format!("Unknown tool: {other}"),
                ))
            }
        })
    }

    fn log(&self, what: &str) {
        if let Some(st) = &self.audit {
            if let Err(e) = st.audit("mcp", what) {
                eprintln!("fieldkit mcp: the audit log was not written: {e:#}");
            }
        }
    }

    /// The answer to one request.
    fn answer(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
        match method {
            "initialize" => {
                let asked = params
                    .get("protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let version = if ACCEPTED.contains(&asked) {
                    asked
                } else {
                    ACCEPTED[0]
                };
                Ok(json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": {"name": "fieldkit", "version": env!("CARGO_PKG_VERSION")},
                    "instructions": "The user's fieldkit workspace: read-only SQL over its DuckDB database, its work queue and its panes. Tools that change something ask the user first.",
                }))
            }
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({"tools": tools()})),
            "tools/call" => {
                let name = params
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RpcError::new(rpc::INVALID_PARAMS, "tools/call needs a name"))?;
                let args = params.get("arguments").cloned().unwrap_or(json!({}));
                if !args.is_object() {
                    return Err(RpcError::new(
                        rpc::INVALID_PARAMS,
                        "arguments are an object",
                    ));
                }
                let shown: String = args.to_string().chars().take(300).collect();
                let r = self.call(name, &args);
                let end = match &r {
                    Ok(Ok(_)) => "ok".to_string(),
                    Ok(Err(e)) => format!("failed: {}", e.chars().take(200).collect::<String>()),
                    Err(e) => format!("refused: {}", e.message),
                };
                self.log(&format!("{name} {shown}: {end}"));
                let (text, is_error) = match r? {
                    Ok(t) => (t, false),
                    Err(e) => (e, true),
                };
                Ok(json!({"content": [{"type": "text", "text": text}], "isError": is_error}))
            }
            other => Err(RpcError::new(
                rpc::METHOD_NOT_FOUND,
                format!("method not found: {other}"),
            )),
        }
    }
}

/// Reads one line of at most `rpc::MAX_LINE` bytes; a longer one is read to its end and
/// dropped (`Ok(Some(None))`). `Ok(None)`: end of input.
fn read_line(input: &mut impl BufRead) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut buf = Vec::new();
    let n = input
        .by_ref()
        .take(rpc::MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > rpc::MAX_LINE && !buf.ends_with(b"\n") {
        // The rest of the long line, thrown away.
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let m = input
                .by_ref()
                .take(64 * 1024)
                .read_until(b'\n', &mut sink)?;
            if m == 0 || sink.ends_with(b"\n") {
                break;
            }
        }
        return Ok(Some(None));
    }
    Ok(Some(Some(buf)))
}

pub fn run(dirs: &Dirs) -> Result<i32> {
    let cfg = crate::config::load(dirs).config;
    let audit = crate::store::Store::open(&dirs.state_db())
        .ok()
        .map(|(s, _)| s);
    let mcp = Mcp {
        dirs,
        allow: cfg.mcp.allow,
        audit,
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while let Some(line) = read_line(&mut input)? {
        let reply = match line {
            None => Some(rpc::error_response(
                None,
                &RpcError::new(
                    rpc::INVALID_REQUEST,
                    format!("a line over {} bytes", rpc::MAX_LINE),
                ),
            )),
            Some(l) if l.iter().all(u8::is_ascii_whitespace) => None,
            Some(l) => match rpc::parse_line(&l) {
                Ok(Message::Request { id, method, params }) => {
                    Some(match mcp.answer(&method, &params) {
                        Ok(r) => rpc::response(id, r),
                        Err(e) => rpc::error_response(Some(id), &e),
                    })
                }
                // Notifications (initialized, cancelled) and answers need nothing from us.
                Ok(_) => None,
                Err((id, e)) => Some(rpc::error_response(id, &e)),
            },
        };
        if let Some(r) = reply {
            out.write_all(r.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(0)
}
