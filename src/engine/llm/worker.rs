/*!
The `llm` worker process: its messages, a reader thread for its pipe (so `Cancel` is seen
while a job runs) and a generating thread that runs one job at a time through `Engine`.

Jobs wait in line (`Line`, shared by both threads): a `Cancel` for the running job sets the
flag llama.cpp's abort callback and the sampling loop read; one for a job still in line answers
it at once (stopped, or no vectors) and marks it to be passed over, so Esc on a question queued
behind another pane's long answer does not wait for that answer.
*/

use super::*;

pub(super) fn send(out: &Mutex<std::io::Stdout>, msg: &LlmOut) {
    if let Ok(frame) = wire::encode(msg) {
        if let Ok(mut o) = out.lock() {
            let _ = o.write_all(&frame);
            let _ = o.flush();
        }
    }
}

/// `fieldkit __worker llm`.
pub fn run() -> Result<()> {
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let mut engine = Engine::new()?;
    send(
        &out,
        &LlmOut::Hello {
            pid: std::process::id(),
            version: fieldkit_messages::VERSION,
            detail: format!(
                "llama.cpp (llama-cpp-2) · {} · no model loaded",
                if cfg!(feature = "cuda") {
                    "CUDA"
                } else if cfg!(target_os = "macos") {
                    "Metal"
                } else {
                    "CPU"
                }
            ),
        },
    );
    let cancel = Arc::new(AtomicBool::new(false));
    let line = Arc::new(Mutex::new(Line::default()));
    let (tx, rx) = channel::<LlmIn>();
    {
        let cancel = cancel.clone();
        let line = line.clone();
        let out = out.clone();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            loop {
                match wire::read_frame::<LlmIn>(&mut input) {
                    Ok(Some(LlmIn::Cancel { job })) => {
                        let Ok(mut l) = line.lock() else { break };
                        if job == 0 || job == l.running {
                            cancel.store(true, Ordering::SeqCst);
                        } else if let Some(i) = l.waiting.iter().position(|(j, _)| *j == job) {
                            // Still in line (behind another pane's long answer, say): it
                            // ends now, and is passed over when its turn comes.
                            let (_, embed) = l.waiting.remove(i);
                            l.dropped.push(job);
                            drop(l);
                            send(&out, &ended(job, embed));
                        }
                    }
                    Ok(Some(req)) => {
                        if let Some(j) = queued(&req) {
                            if let Ok(mut l) = line.lock() {
                                l.waiting.push(j);
                            }
                        }
                        if tx.send(req).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("llm worker: bad request frame: {e}");
                        break;
                    }
                }
            }
            // The server is gone: nobody is listening, so stop whatever runs.
            cancel.store(true, Ordering::SeqCst);
            std::process::exit(0);
        });
    }
    let mut idle_after: Option<Duration> = None;
    // Takes `job` from the line to run it: false when it was cancelled while it waited (it
    // has been answered already). Under the line's lock, so a Cancel sees it either waiting
    // or running.
    let take = |job: u64| -> bool {
        let Ok(mut l) = line.lock() else {
            return false;
        };
        l.waiting.retain(|(j, _)| *j != job);
        if let Some(i) = l.dropped.iter().position(|j| *j == job) {
            l.dropped.remove(i);
            return false;
        }
        l.running = job;
        cancel.store(false, Ordering::SeqCst);
        true
    };
    let done = || {
        if let Ok(mut l) = line.lock() {
            l.running = 0;
        }
    };
    loop {
        let req = match idle_after {
            Some(d) if engine.loaded().is_some() => match rx.recv_timeout(d) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    engine.unload();
                    send(
                        &out,
                        &LlmOut::State {
                            loaded: None,
                            models: Vec::new(),
                        },
                    );
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
            _ => match rx.recv() {
                Ok(r) => r,
                Err(_) => break,
            },
        };
        let (job, model, settings, params, prompt) = match req {
            LlmIn::Cancel { .. } => continue,
            LlmIn::Unload => {
                engine.unload();
                send(
                    &out,
                    &LlmOut::State {
                        loaded: None,
                        models: Vec::new(),
                    },
                );
                continue;
            }
            LlmIn::IdleUnload { after_s } => {
                idle_after = (after_s > 0).then(|| Duration::from_secs(after_s));
                continue;
            }
            LlmIn::Budget { bytes } => {
                engine.set_budget(bytes);
                continue;
            }
            LlmIn::Embed {
                job,
                model,
                settings,
                texts,
            } => {
                if take(job) {
                    let r = embed(&mut engine, &out, &model, &settings, &texts, &cancel);
                    done();
                    let vectors = r.map_err(|e| format!("{e:#}"));
                    send(&out, &LlmOut::Embedded { job, vectors });
                }
                continue;
            }
            LlmIn::Raw {
                job,
                model,
                settings,
                tokens,
                params,
            } => (job, model, settings, params, Prompt::Tokens(tokens)),
            LlmIn::Chat {
                job,
                model,
                settings,
                turns,
                params,
                tools,
                summary_model,
            } => (
                job,
                model,
                settings,
                params,
                Prompt::Turns(turns, tools, summary_model),
            ),
        };
        if !take(job) {
            continue;
        }
        let r = run_chat(
            &mut engine,
            &out,
            job,
            &model,
            &settings,
            &prompt,
            &params,
            &cancel,
        );
        done();
        let ev = match r {
            Ok(stats) => LlmEvent::Done(stats),
            Err(e) => LlmEvent::Error(format!("{e:#}")),
        };
        send(&out, &LlmOut::Event { job, ev });
    }
    Ok(())
}

/// The jobs in line, the one running, and those cancelled while in line (answered already,
/// passed over when their turn comes).
#[derive(Default)]
struct Line {
    /// Job ids waiting, and whether each is an embedding job.
    waiting: Vec<(u64, bool)>,
    running: u64,
    dropped: Vec<u64>,
}

/// The job id of a request that runs as a job, and whether it is an embedding job.
fn queued(req: &LlmIn) -> Option<(u64, bool)> {
    match req {
        LlmIn::Chat { job, .. } | LlmIn::Raw { job, .. } => Some((*job, false)),
        LlmIn::Embed { job, .. } => Some((*job, true)),
        _ => None,
    }
}

/// What a job cancelled while in line answers: stopped before it began.
fn ended(job: u64, embed: bool) -> LlmOut {
    if embed {
        LlmOut::Embedded {
            job,
            vectors: Err("cancelled".into()),
        }
    } else {
        LlmOut::Event {
            job,
            ev: LlmEvent::Done(GenStats {
                cancelled: true,
                ..Default::default()
            }),
        }
    }
}

/// What a job generates from.
pub(super) enum Prompt {
    /// A conversation, the tools the model may call in it, and the model that folds it.
    Turns(Vec<Turn>, Vec<ToolSpec>, Option<ModelRef>),
    Tokens(Vec<i32>),
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run_chat(
    engine: &mut Engine,
    out: &Arc<Mutex<std::io::Stdout>>,
    job: u64,
    model: &ModelRef,
    settings: &Settings,
    prompt: &Prompt,
    params: &GenParams,
    cancel: &AtomicBool,
) -> Result<GenStats> {
    let mut token = |t: &str| {
        send(
            out,
            &LlmOut::Event {
                job,
                ev: LlmEvent::Token(t.to_string()),
            },
        )
    };
    if let Some((url, name)) = &model.remote {
        let Prompt::Turns(turns, tools, _) = prompt else {
            bail!("raw token prompts are for local models");
        };
        // A remote model is told the tools in the prompted format.
        let turns = with_prompted(turns, tools);
        return crate::remote::chat(url, name, &turns, params, cancel, &mut token);
    }
    let fresh = engine.loaded() != Some(model);
    if fresh {
        send(
            out,
            &LlmOut::Event {
                job,
                ev: LlmEvent::Loading {
                    model: model.name.clone(),
                    progress: 0.0,
                },
            },
        );
        let o = out.clone();
        let name = model.name.clone();
        let mut last = 0.0f32;
        engine.load(model, settings, move |p| {
            if p - last >= 0.05 || p >= 1.0 {
                last = p;
                send(
                    &o,
                    &LlmOut::Event {
                        job,
                        ev: LlmEvent::Loading {
                            model: name.clone(),
                            progress: p,
                        },
                    },
                );
            }
        })?;
        let detail = engine.detail().unwrap_or_default();
        send(
            out,
            &LlmOut::Event {
                job,
                ev: LlmEvent::Loaded {
                    model: model.name.clone(),
                    detail: detail.clone(),
                },
            },
        );
        send(
            out,
            &LlmOut::State {
                loaded: Some(detail),
                models: engine.models(),
            },
        );
    } else {
        engine.load(model, settings, |_| {})?;
    }
    match prompt {
        Prompt::Turns(turns, tools, summary) => {
            let mut on = |ev: LlmEvent| send(out, &LlmOut::Event { job, ev });
            // A remote summary model is not used: the conversation stays on this machine.
            let summary = summary.as_ref().filter(|m| m.remote.is_none());
            let r = engine.chat_folding_with(
                turns,
                tools,
                summary.map(|m| (m, settings)),
                params,
                cancel,
                &mut on,
            );
            if summary.is_some() {
                send(
                    out,
                    &LlmOut::State {
                        loaded: engine.detail(),
                        models: engine.models(),
                    },
                );
            }
            r
        }
        Prompt::Tokens(ids) => {
            let tokens: Vec<_> = ids
                .iter()
                .map(|t| llama_cpp_2::token::LlamaToken::new(*t))
                .collect();
            engine.generate_tokens(&tokens, params, &[], cancel, &mut token, None)
        }
    }
}

/// Vectors for `texts` from `model`, loaded first when it is not the one loaded (the others
/// wait beside it, within the budget).
fn embed(
    engine: &mut Engine,
    out: &Arc<Mutex<std::io::Stdout>>,
    model: &ModelRef,
    settings: &Settings,
    texts: &[String],
    cancel: &AtomicBool,
) -> Result<Vec<Vec<f32>>> {
    if model.remote.is_some() {
        bail!(
            "{} is a remote model; embeddings are made by a local GGUF embedding model",
            model.name
        );
    }
    let fresh = engine.loaded() != Some(model);
    engine.load(model, settings, |_| {})?;
    let r = engine.embed(texts, cancel, &mut |_, _| {});
    if fresh {
        send(
            out,
            &LlmOut::State {
                loaded: engine.detail(),
                models: engine.models(),
            },
        );
    }
    r
}
