//! Drives the llm worker (`fieldkit __worker llm`) through its pipes, as the server does, and
//! writes the tiny models the tests run on. Shared by tests/llm_worker.rs and benches/llm.rs.

#![allow(dead_code)]

use fieldkit::engine::llm::{LlmIn, LlmOut, ModelRef, Settings};
use fieldkit::format::gguf::tiny;
use fieldkit::wire;
use fieldkit_panes::llm::{GenParams, GenStats, LlmEvent, Turn};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(60);

/// Writes the tiny model (with a ChatML template, or none) into `dir`.
pub fn tiny_model(dir: &Path, template: bool) -> PathBuf {
    let p = dir.join(if template {
        "tiny.gguf"
    } else {
        "tiny-base.gguf"
    });
    let spec = tiny::Spec {
        chat_template: template.then(|| tiny::CHATML.to_string()),
        ..Default::default()
    };
    tiny::write(&p, &spec).expect("write tiny model");
    p
}

pub struct LlmWorker {
    pub child: Child,
    stdin: ChildStdin,
    pub events: Receiver<LlmOut>,
    pub hello: String,
    /// The models the worker last said it holds (its `State`s, seen while waiting for jobs).
    pub models: std::cell::RefCell<Option<Vec<fieldkit_messages::llm::LoadedModel>>>,
}

impl LlmWorker {
    pub fn start(home: &Path) -> LlmWorker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
            .args(["__worker", "llm"])
            .env("FIELDKIT_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn llm worker");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            while let Ok(Some(m)) = wire::read_frame::<LlmOut>(&mut stdout) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let hello = match rx.recv_timeout(WAIT) {
            Ok(LlmOut::Hello { detail, .. }) => detail,
            other => panic!("no hello from the llm worker: {other:?}"),
        };
        LlmWorker {
            child,
            stdin,
            events: rx,
            hello,
            models: std::cell::RefCell::new(None),
        }
    }

    pub fn send(&mut self, m: &LlmIn) {
        let f = wire::encode(m).expect("encode");
        self.stdin.write_all(&f).expect("write to worker");
        self.stdin.flush().expect("flush");
    }

    pub fn chat(&mut self, job: u64, model: &Path, turns: Vec<Turn>, params: GenParams) {
        self.chat_with_tools(job, model, turns, params, Vec::new())
    }

    /// The context the worker is asked for (a tools prompt needs more than 512 tokens of the
    /// tiny model's small vocabulary).
    pub fn n_ctx(tools: bool) -> u32 {
        if tools {
            2048
        } else {
            512
        }
    }

    /// A chat job whose model may call `tools`.
    pub fn chat_with_tools(
        &mut self,
        job: u64,
        model: &Path,
        turns: Vec<Turn>,
        params: GenParams,
        tools: Vec<fieldkit::engine::llm::ToolSpec>,
    ) {
        self.send(&LlmIn::Chat {
            job,
            model: ModelRef::local("tiny", model),
            settings: Settings {
                n_ctx: Self::n_ctx(!tools.is_empty()),
                threads: 2,
                n_batch: 256,
            },
            turns,
            params,
            tools,
            summary_model: None,
        });
    }

    /// The answer to embed job `job`: its vectors, or why there are none.
    pub fn embedded(&self, job: u64) -> Result<Vec<Vec<f32>>, String> {
        loop {
            match self.events.recv_timeout(WAIT) {
                Ok(LlmOut::Embedded { job: j, vectors }) if j == job => return vectors,
                Ok(LlmOut::State { models, .. }) => {
                    *self.models.borrow_mut() = Some(models);
                }
                Ok(_) => continue,
                Err(e) => panic!("no vectors from the llm worker for job {job}: {e}"),
            }
        }
    }

    /// The next event of `job`.
    pub fn next(&self, job: u64) -> LlmEvent {
        loop {
            match self.events.recv_timeout(WAIT) {
                Ok(LlmOut::Event { job: j, ev }) if j == job => return ev,
                Ok(LlmOut::State { models, .. }) => {
                    *self.models.borrow_mut() = Some(models);
                }
                Ok(_) => continue,
                Err(e) => panic!("no event from the llm worker for job {job}: {e}"),
            }
        }
    }

    /// Collects `job`'s events until it ends: (text, the events, stats or the error).
    pub fn finish(&self, job: u64) -> (String, Vec<LlmEvent>, Result<GenStats, String>) {
        let mut text = String::new();
        let mut all = Vec::new();
        loop {
            let ev = self.next(job);
            all.push(ev.clone());
            match ev {
                LlmEvent::Token(t) => text.push_str(&t),
                LlmEvent::Done(s) => return (text, all, Ok(s)),
                LlmEvent::Error(e) => return (text, all, Err(e)),
                _ => {}
            }
        }
    }
}

impl Drop for LlmWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OpenAI-compatible server on loopback that streams canned answers, one per request, in
/// order (the last repeats), and keeps the request bodies. It stands in for a model where a
/// test is about what fieldkit does with an answer (confirming a command, running SQL), and
/// it is the peer of the remote backend's tests.
pub struct FakeOpenAi {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeOpenAi {
    pub fn start(answers: Vec<String>) -> FakeOpenAi {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            let mut n = 0usize;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut rd = BufReader::new(conn.try_clone().expect("clone"));
                let mut len = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if rd.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = rd.read_exact(&mut body);
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&body).into_owned());
                let answer = answers[n.min(answers.len() - 1)].clone();
                n += 1;
                let mut out = String::from(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
                );
                for piece in answer.split_inclusive(' ') {
                    let ev = serde_json::json!({"choices": [{"delta": {"content": piece}}]});
                    out.push_str(&format!("data: {ev}\n\n"));
                }
                out.push_str("data: [DONE]\n\n");
                let _ = conn.write_all(out.as_bytes());
            }
        });
        FakeOpenAi { url, requests }
    }
}
