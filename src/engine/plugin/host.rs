//! One plugin process, driven as an MCP client: started (sandboxed), `initialize`,
//! `notifications/initialized`, `tools/list`, then one `tools/call` at a time as they come.
//! The plugin is someone else's program, so whatever it does ends here as a reason: it exits,
//! hangs past its timeout, writes a line that is not JSON-RPC or is over the size limit,
//! answers a request it was not asked, or floods notifications. Then it is killed (its whole
//! process group), every call waiting gets the reason, and the host says so; the next use
//! starts it again. Requests the plugin makes of us (sampling, roots) are answered "method not
//! found": fieldkit offers plugins nothing but calls.

use super::manifest::Manifest;
use super::rpc::{self, Message, RpcError};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// The MCP revision spoken (the newest with the `initialize` handshake); older ones a plugin
/// answers with are accepted.
pub const PROTOCOL: &str = "2025-11-25";
const ACCEPTED: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The longest a plugin may take to answer `initialize` and `tools/list` (its call timeout,
/// when shorter, but at least a second).
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Notifications a plugin may send in one second before it is stopped as a flood.
pub const MAX_NOTIFICATIONS_PER_S: u32 = 200;
/// The most tools one plugin may offer.
pub const MAX_TOOLS: usize = 256;

/// A tool as the plugin lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    /// The plugin says it changes nothing (a hint; the manifest must say so too for it to
    /// count).
    pub read_only_hint: bool,
}

/// A call's answer: the text of its content, and whether the tool said it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub is_error: bool,
    pub raw: Value,
}

pub struct Call {
    pub tool: String,
    pub args: Value,
    pub reply: oneshot::Sender<Result<Answer, String>>,
}

/// What the host tells its owner.
#[derive(Debug)]
pub enum HostEvent {
    Ready {
        pid: u32,
        tools: Vec<Tool>,
        /// What the kernel enforces of its permissions, in words.
        sandbox: String,
    },
    /// It stopped: why (`None`: asked to, or no longer needed).
    Stopped(Option<String>),
}

/// How the process is started: the command line and what runs in the child before exec.
pub struct Launch {
    pub command: std::process::Command,
    pub sandbox: String,
}

/// Runs plugin `m` until `calls` closes or it fails; `launch` makes its command.
pub async fn run(
    m: Manifest,
    launch: Launch,
    mut calls: mpsc::UnboundedReceiver<Call>,
    events: mpsc::UnboundedSender<HostEvent>,
) {
    let mut cmd = tokio::process::Command::from(launch.command);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = events.send(HostEvent::Stopped(Some(format!(
                "cannot start {}: {e}",
                m.command
            ))));
            fail_all(
                &mut calls,
                &format!("plugin {} could not start: {e}", m.name),
            );
            return;
        }
    };
    let pid = child.id().unwrap_or(0);
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = events.send(HostEvent::Stopped(Some("no pipes to the plugin".into())));
        return;
    };
    // Its stderr is its log: the last lines are kept for the reason it stops.
    let tail = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let t2 = tail.clone();
    let tail_task = tokio::spawn(async move {
        let mut stderr = stderr;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut t) = t2.lock() {
                t.push_str(&String::from_utf8_lossy(&buf[..n]));
                let len = t.len();
                if len > 2048 {
                    let mut cut = len - 2048;
                    while !t.is_char_boundary(cut) {
                        cut += 1;
                    }
                    t.drain(..cut);
                }
            }
        }
    });
    let mut p = Peer {
        stdin,
        lines: Lines {
            out: stdout,
            buf: Vec::new(),
        },
        next_id: 0,
        notes: (tokio::time::Instant::now(), 0),
    };
    let mut started = false;
    // The call that was under way when it failed gets the whole reason, with its last words.
    let mut failed_call = None;
    let why = match p
        .start(START_TIMEOUT.min(Duration::from_millis(m.timeout_ms.max(1000))))
        .await
    {
        Err(e) => Some(e),
        Ok(tools) => {
            started = true;
            let _ = events.send(HostEvent::Ready {
                pid,
                tools,
                sandbox: launch.sandbox,
            });
            loop {
                tokio::select! {
                    c = calls.recv() => match c {
                        None => break None,
                        Some(c) => {
                            match p.call(&c.tool, c.args, Duration::from_millis(m.timeout_ms)).await {
                                Ok(r) => {
                                    let _ = c.reply.send(r);
                                }
                                Err(Fatal(e)) => {
                                    failed_call = Some(c.reply);
                                    break Some(e);
                                }
                            }
                        }
                    },
                    // Between calls: anything it writes is read (a notification, or junk).
                    l = p.lines.next() => match p.unasked(l) {
                        Err(Fatal(e)) => break Some(e),
                        Ok(Some(answer)) => {
                            if let Err(Fatal(e)) = p.send(answer).await {
                                break Some(e);
                            }
                        }
                        Ok(None) => {}
                    }
                }
            }
        }
    };
    // Stopped: asked to (stdin closes, then a kill), or failed (killed at once).
    drop(p);
    if why.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    }
    // Its whole process group: what it started goes with it.
    if pid > 0 {
        // SAFETY: kill(2) on a process group this host made (the plugin leads its own).
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    // What it said on its way out is read before the reason is told.
    let _ = tokio::time::timeout(Duration::from_secs(1), tail_task).await;
    let why = why.map(|w| {
        let t = tail
            .lock()
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        let last: Vec<&str> = t.lines().rev().take(3).collect();
        let hint = if !started && t.contains("Permission denied") {
            " (the sandbox may keep from it a program or folder it needs to start: grant it in \
             permissions.run or permissions.read)"
        } else {
            ""
        };
        if last.is_empty() {
            format!("{w}{hint}")
        } else {
            format!(
                "{w} (its last words: {}){hint}",
                last.into_iter().rev().collect::<Vec<_>>().join(" / ")
            )
        }
    });
    if let Some(w) = &why {
        let said = format!("plugin {} stopped: {w}", m.name);
        if let Some(r) = failed_call {
            let _ = r.send(Err(said.clone()));
        }
        fail_all(&mut calls, &said);
    }
    let _ = events.send(HostEvent::Stopped(why));
}

fn fail_all(calls: &mut mpsc::UnboundedReceiver<Call>, why: &str) {
    calls.close();
    while let Ok(c) = calls.try_recv() {
        let _ = c.reply.send(Err(why.to_string()));
    }
}

/// A reason to stop the plugin.
struct Fatal(String);

struct Lines {
    out: tokio::process::ChildStdout,
    buf: Vec<u8>,
}

impl Lines {
    /// The next line (without its newline); `Err` when the plugin closed its stdout, or wrote a
    /// line over the limit.
    async fn next(&mut self) -> Result<Vec<u8>, Fatal> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return Ok(line);
            }
            if self.buf.len() > rpc::MAX_LINE {
                return Err(Fatal(format!(
                    "it wrote a line of over {} bytes",
                    rpc::MAX_LINE
                )));
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.out.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(Fatal("it exited (its stdout closed)".into())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

struct Peer {
    stdin: tokio::process::ChildStdin,
    lines: Lines,
    next_id: u64,
    /// Notifications in the current second.
    notes: (tokio::time::Instant, u32),
}

impl Peer {
    async fn send(&mut self, line: String) -> Result<(), Fatal> {
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| Fatal(format!("it stopped reading ({e})")))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| Fatal(format!("it stopped reading ({e})")))
    }

    /// A line that came without being waited for: a notification is counted, a request is
    /// answered "not found", anything else stops the plugin.
    fn unasked(&mut self, line: Result<Vec<u8>, Fatal>) -> Result<Option<String>, Fatal> {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match rpc::parse_line(&line) {
            Ok(Message::Notification { .. }) => {
                let now = tokio::time::Instant::now();
                if now.duration_since(self.notes.0) >= Duration::from_secs(1) {
                    self.notes = (now, 0);
                }
                self.notes.1 += 1;
                if self.notes.1 > MAX_NOTIFICATIONS_PER_S {
                    return Err(Fatal(format!(
                        "it sent over {MAX_NOTIFICATIONS_PER_S} notifications in a second"
                    )));
                }
                Ok(None)
            }
            Ok(Message::Request { id, method, .. }) => Ok(Some(rpc::error_response(
                Some(id),
                &RpcError::new(
                    rpc::METHOD_NOT_FOUND,
                    format!("fieldkit does not offer {method:?} to plugins"),
                ),
            ))),
            Ok(Message::Response { id, .. }) => Err(Fatal(format!(
                "it answered a request it was not asked (id {id})"
            ))),
            Err((_, e)) => Err(Fatal(format!(
                "it wrote what is not JSON-RPC: {}",
                e.message
            ))),
        }
    }

    /// Sends a request and waits for its answer (reading what comes before it) for `within`.
    async fn ask(
        &mut self,
        method: &str,
        params: Value,
        within: Duration,
    ) -> Result<Result<Value, RpcError>, Fatal> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(rpc::request(id, method, params)).await?;
        let wait = async {
            loop {
                let line = self.lines.next().await?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Ok(Message::Response { id: got, result }) = rpc::parse_line(&line) {
                    if got == json!(id) {
                        return Ok(result);
                    }
                    return Err(Fatal(format!(
                        "it answered request {got} while {id} ({method}) was waiting"
                    )));
                }
                if let Some(answer) = self.unasked(Ok(line))? {
                    self.send(answer).await?;
                }
            }
        };
        match tokio::time::timeout(within, wait).await {
            Ok(r) => r,
            Err(_) => Err(Fatal(format!(
                "it did not answer {method} within {}",
                show(within)
            ))),
        }
    }

    /// `initialize`, `notifications/initialized`, `tools/list` (every page).
    async fn start(&mut self, within: Duration) -> Result<Vec<Tool>, String> {
        let init = self
            .ask(
                "initialize",
                json!({
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "fieldkit", "version": env!("CARGO_PKG_VERSION")},
                }),
                within,
            )
            .await
            .map_err(|Fatal(e)| e)?
            .map_err(|e| format!("it refused initialize: {e}"))?;
        let version = init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !ACCEPTED.contains(&version) {
            return Err(format!(
                "it speaks MCP {version:?}; fieldkit speaks {}",
                ACCEPTED.join(", ")
            ));
        }
        self.send(rpc::notification("notifications/initialized", Value::Null))
            .await
            .map_err(|Fatal(e)| e)?;
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page = self
                .ask("tools/list", params, within)
                .await
                .map_err(|Fatal(e)| e)?
                .map_err(|e| format!("it refused tools/list: {e}"))?;
            for t in page
                .get("tools")
                .and_then(Value::as_array)
                .ok_or("its tools/list has no tools array")?
            {
                tools.push(tool_of(t)?);
            }
            if tools.len() > MAX_TOOLS {
                return Err(format!("it lists over {MAX_TOOLS} tools"));
            }
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                return Ok(tools);
            }
        }
    }

    /// One `tools/call`. The outer `Err` stops the plugin; the inner one is the call's error
    /// (the plugin goes on).
    async fn call(
        &mut self,
        tool: &str,
        args: Value,
        within: Duration,
    ) -> Result<Result<Answer, String>, Fatal> {
        let r = self
            .ask(
                "tools/call",
                json!({"name": tool, "arguments": args}),
                within,
            )
            .await?;
        Ok(match r {
            Err(e) => Err(format!("{tool}: {}", e.message)),
            Ok(v) => Ok(answer_of(v)),
        })
    }
}

fn show(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A tool from `tools/list`, checked.
pub fn tool_of(t: &Value) -> Result<Tool, String> {
    let name = t
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a tool without a name")?;
    if name.is_empty()
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "a tool named {name:?} (letters, digits, _ - . only)"
        ));
    }
    let schema = t
        .get("inputSchema")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object"}));
    if !schema.is_object() {
        return Err(format!("tool {name}: its inputSchema is not an object"));
    }
    Ok(Tool {
        name: name.to_string(),
        description: t
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(1000)
            .collect(),
        input_schema: schema,
        read_only_hint: t
            .pointer("/annotations/readOnlyHint")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A `tools/call` result: its text content joined, and `isError`.
pub fn answer_of(v: Value) -> Answer {
    let text = v
        .get("content")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .map(|part| match part.get("type").and_then(Value::as_str) {
                    Some("text") => part
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    Some(other) => format!("[{other} content]"),
                    None => "[content of no type]".to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Answer {
        text,
        is_error: v.get("isError").and_then(Value::as_bool).unwrap_or(false),
        raw: v,
    }
}
