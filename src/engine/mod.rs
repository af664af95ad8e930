/*!
Engines and their worker processes.

Engines whose code can crash the process (DuckDB, llama.cpp: big C++) run in children of this
same binary, `fieldkit __worker KIND`, speaking length-prefixed serde frames on stdin/stdout.
The supervisor here spawns one, forwards its frames to the server loop, and when it dies says
why and starts it again after a backoff. The server and every pane live on meanwhile.
*/

pub mod data;
pub mod llm;
pub mod mesh;
pub mod plugin;
pub mod probe;
pub mod pty;
pub mod queue;
pub mod text;
pub mod vault;
pub mod workflow;

use crate::wire;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// The engines this build runs as workers: the server routes by this kind, never by a string,
/// and `fieldkit __worker NAME` names it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkerKind {
    Probe,
    Data,
    Llm,
    Mesh,
}

impl WorkerKind {
    /// Every kind, in the order the status pane and `doctor` list them.
    pub const ALL: [WorkerKind; 4] = [
        WorkerKind::Probe,
        WorkerKind::Data,
        WorkerKind::Llm,
        WorkerKind::Mesh,
    ];

    /// The name on the command line, in logs and on the status pane.
    pub fn name(self) -> &'static str {
        match self {
            WorkerKind::Probe => "probe",
            WorkerKind::Data => "data",
            WorkerKind::Llm => "llm",
            WorkerKind::Mesh => "mesh",
        }
    }

    pub fn from_name(name: &str) -> Option<WorkerKind> {
        WorkerKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// A line for `doctor`.
    pub fn about(self) -> &'static str {
        match self {
            WorkerKind::Probe => {
                "built-in test worker: proves spawning, framing, crash detection and restart"
            }
            WorkerKind::Data => {
                "DuckDB (bundled, with parquet and json): files, SQL, result windows, stats, export"
            }
            WorkerKind::Llm => {
                "llama.cpp (llama-cpp-2, CPU; Metal on macOS; CUDA with --features cuda): chat, \
                 SQL from questions, shell commands"
            }
            WorkerKind::Mesh => {
                "libp2p (TCP, pre-shared team key, Noise, yamux, mDNS): syncs the queue with \
                 paired devices; the only process facing the network"
            }
        }
    }

    /// Started on first use rather than with the server (DuckDB and a model cost memory idle).
    pub fn lazy(self) -> bool {
        matches!(self, WorkerKind::Data | WorkerKind::Llm | WorkerKind::Mesh)
    }
}

impl std::fmt::Display for WorkerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a supervisor tells the server loop.
#[derive(Debug)]
pub enum WorkerNote {
    Starting { kind: WorkerKind },
    Started { kind: WorkerKind, pid: u32 },
    Frame { kind: WorkerKind, bytes: Vec<u8> },
    Exited { kind: WorkerKind, why: String },
}

const FIRST_BACKOFF: Duration = Duration::from_millis(300);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A worker that lived this long is healthy again: the backoff starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// Runs `kind` as a worker until the receiver of `notes` is gone, restarting it whenever it
/// exits. `requests` carries encoded frames for the worker's stdin.
pub async fn supervise(
    kind: WorkerKind,
    exe: PathBuf,
    log: Option<PathBuf>,
    notes: UnboundedSender<WorkerNote>,
    mut requests: UnboundedReceiver<Vec<u8>>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if notes.send(WorkerNote::Starting { kind }).is_err() {
            return;
        }
        let stderr = log
            .as_ref()
            .and_then(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            })
            .map(Stdio::from)
            .unwrap_or_else(Stdio::null);
        let spawned = tokio::process::Command::new(&exe)
            .arg("__worker")
            .arg(kind.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn();
        let started = Instant::now();
        let why = match spawned {
            Err(e) => format!("could not start: {e}"),
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                let _ = notes.send(WorkerNote::Started { kind, pid });
                let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take())
                else {
                    let _ = child.kill().await;
                    continue;
                };
                let mut bad_frame = None;
                loop {
                    tokio::select! {
                        frame = wire::read_raw_async(&mut stdout) => match frame {
                            Ok(Some(bytes)) => {
                                if notes.send(WorkerNote::Frame { kind, bytes }).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => { bad_frame = Some(e.to_string()); break; }
                        },
                        req = requests.recv() => match req {
                            Some(bytes) => { let _ = stdin.write_all(&bytes).await; }
                            None => return,
                        },
                    }
                }
                if let Some(e) = &bad_frame {
                    // A worker that sends garbage is as good as dead.
                    let _ = child.kill().await;
                    tracing::warn!(kind = kind.name(), "worker sent a bad frame: {e}");
                }
                let status = child.wait().await;
                match (bad_frame, status) {
                    (Some(e), _) => format!("sent a bad frame ({e})"),
                    (None, Ok(st)) => describe_exit(st),
                    (None, Err(e)) => format!("lost: {e}"),
                }
            }
        };
        tracing::warn!(kind = kind.name(), "worker exited: {why}");
        if notes.send(WorkerNote::Exited { kind, why }).is_err() {
            return;
        }
        if started.elapsed() > HEALTHY_AFTER {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

pub fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "exited".into(),
    }
}

/// Entry point of `fieldkit __worker NAME`.
pub fn run_worker(name: &str) -> anyhow::Result<()> {
    match WorkerKind::from_name(name) {
        Some(WorkerKind::Probe) => probe::run(),
        Some(WorkerKind::Data) => data::run(),
        Some(WorkerKind::Llm) => llm::run(),
        Some(WorkerKind::Mesh) => mesh::worker::run(),
        None => anyhow::bail!("unknown worker kind {name:?}"),
    }
}
