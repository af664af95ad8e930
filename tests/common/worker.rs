//! Drives the data worker (`fieldkit __worker data`) through its pipes, exactly as the server
//! does: frames in, frames out. Shared by tests/data_worker.rs and benches/data.rs.

#![allow(dead_code)]

use fieldkit::engine::data::{DataIn, DataOut};
use fieldkit::wire;
use fieldkit_panes::data::{DataEvent, DataRequest, Source, View};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(60);

pub struct Worker {
    pub child: Child,
    stdin: ChildStdin,
    events: Receiver<DataOut>,
    _home: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    seq: u64,
}

impl Worker {
    /// A worker with a fresh FIELDKIT_HOME of its own.
    pub fn start() -> Worker {
        let home = tempfile::Builder::new()
            .prefix("fkw")
            .tempdir()
            .expect("home");
        let path = home.path().to_path_buf();
        let mut w = Worker::start_in(Path::new(env!("CARGO_BIN_EXE_fieldkit")), &path);
        w._home = Some(home);
        w
    }

    /// A worker of binary `bin` with FIELDKIT_HOME `home`.
    pub fn start_in(bin: &Path, home: &Path) -> Worker {
        let dir = home.join("files");
        std::fs::create_dir_all(&dir).expect("files dir");
        let mut child = Command::new(bin)
            .args(["__worker", "data"])
            .env("FIELDKIT_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn worker");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            while let Ok(Some(m)) = wire::read_frame::<DataOut>(&mut stdout) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let w = Worker {
            child,
            stdin,
            events: rx,
            _home: None,
            dir,
            seq: 0,
        };
        match w.events.recv_timeout(WAIT) {
            Ok(DataOut::Hello { detail, .. }) => {
                assert!(detail.contains("memory_limit"), "{detail}")
            }
            other => panic!("no hello: {other:?}"),
        }
        w
    }

    pub fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p.to_string_lossy().into_owned()
    }

    pub fn send(&mut self, pane: u64, req: DataRequest) {
        let frame = wire::encode(&DataIn { pane, req }).expect("encode");
        self.stdin.write_all(&frame).expect("to worker");
        self.stdin.flush().expect("flush");
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Events for `pane` until `stop` says the last one ends the exchange.
    pub fn until(&self, pane: u64, stop: impl Fn(&DataEvent) -> bool) -> Vec<DataEvent> {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = WAIT.saturating_sub(start.elapsed());
            match self.events.recv_timeout(left) {
                Ok(DataOut::Event { pane: p, ev }) if p == pane => {
                    let done = stop(&ev);
                    seen.push(ev);
                    if done {
                        return seen;
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("timed out; saw {seen:#?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("worker gone; saw {seen:#?}"),
            }
        }
    }

    /// Loads and waits for the whole result: (result id, columns, rows, notes).
    pub fn load(&mut self, pane: u64, source: Source, view: View) -> Result<Loaded, String> {
        let seq = self.next_seq();
        self.send(pane, DataRequest::Load { seq, source, view });
        let evs = self.until(pane, |e| {
            matches!(
                e,
                DataEvent::Loaded { rows: Some(_), .. }
                    | DataEvent::Counted { .. }
                    | DataEvent::Error { .. }
                    | DataEvent::Done { .. }
            )
        });
        let mut out = Loaded::default();
        for e in evs {
            match e {
                DataEvent::Loaded {
                    result,
                    columns,
                    rows,
                    notes,
                    ..
                } => {
                    out.result = result;
                    out.columns = columns.into_iter().map(|c| (c.name, c.ty)).collect();
                    out.rows = rows.unwrap_or(0);
                    out.notes = notes;
                    out.preview = rows.is_none() || out.preview;
                }
                DataEvent::Counted { rows, .. } => out.rows = rows,
                DataEvent::Error { message, .. } => return Err(message),
                DataEvent::Done { message, .. } => return Err(format!("done: {message}")),
                _ => {}
            }
        }
        Ok(out)
    }

    pub fn rows(
        &mut self,
        pane: u64,
        result: u64,
        offset: u64,
        limit: u32,
    ) -> Vec<Vec<Option<String>>> {
        self.rows_cols(pane, result, offset, limit, 0, 256)
    }

    /// Starts a query that would run for hours, and waits until DuckDB is busy with it.
    pub fn start_endless_query(&mut self, pane: u64) {
        let seq = self.next_seq();
        self.send(
            pane,
            DataRequest::Load {
                seq,
                source: Source::Query {
                    sql: "SELECT sum(hash(i)) FROM range(100000000000) t(i)".into(),
                    dialect: None,
                },
                view: View::default(),
            },
        );
        self.until(pane, |e| matches!(e, DataEvent::Progress { .. }));
    }

    /// A window of `cols` columns from `first_col`.
    pub fn rows_cols(
        &mut self,
        pane: u64,
        result: u64,
        offset: u64,
        limit: u32,
        first_col: u32,
        cols: u32,
    ) -> Vec<Vec<Option<String>>> {
        let seq = self.next_seq();
        self.send(
            pane,
            DataRequest::Rows {
                seq,
                result,
                offset,
                limit,
                first_col,
                cols,
            },
        );
        match self
            .until(pane, |e| {
                matches!(e, DataEvent::Rows { .. } | DataEvent::Error { .. })
            })
            .pop()
        {
            Some(DataEvent::Rows { rows, .. }) => rows,
            other => panic!("no rows: {other:?}"),
        }
    }

    pub fn error_of(&mut self, pane: u64, source: Source) -> String {
        match self.load(pane, source, View::default()) {
            Err(e) => e,
            Ok(l) => panic!("expected an error, loaded {l:?}"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub result: u64,
    pub columns: Vec<(String, String)>,
    pub rows: u64,
    pub notes: Vec<String>,
    pub preview: bool,
}
