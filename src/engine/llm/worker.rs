/*!
The `llm` worker process: its messages, a reader thread for its pipe (so `Cancel` is seen
while a job runs) and a generating thread that runs one job at a time through `Engine`.
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
    let running = Arc::new(AtomicU64::new(0));
    let (tx, rx) = channel::<LlmIn>();
    {
        let cancel = cancel.clone();
        let running = running.clone();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            loop {
                match wire::read_frame::<LlmIn>(&mut input) {
                    Ok(Some(LlmIn::Cancel { job })) => {
                        let now = running.load(Ordering::SeqCst);
                        if job == 0 || job == now {
                            cancel.store(true, Ordering::SeqCst);
                        }
                        let _ = tx.send(LlmIn::Cancel { job });
                    }
                    Ok(Some(req)) => {
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
    let mut cancelled_jobs: Vec<u64> = Vec::new();
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
            LlmIn::Cancel { job } => {
                cancelled_jobs.push(job);
                if cancelled_jobs.len() > 64 {
                    cancelled_jobs.remove(0);
                }
                continue;
            }
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
                let vectors = if cancelled_jobs.contains(&job) {
                    Err("cancelled".to_string())
                } else {
                    running.store(job, Ordering::SeqCst);
                    cancel.store(false, Ordering::SeqCst);
                    let r = embed(&mut engine, &out, &model, &settings, &texts, &cancel);
                    running.store(0, Ordering::SeqCst);
                    r.map_err(|e| format!("{e:#}"))
                };
                send(&out, &LlmOut::Embedded { job, vectors });
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
        // A job cancelled while it waited in line ends at once.
        let ev = if cancelled_jobs.contains(&job) {
            LlmEvent::Done(GenStats {
                cancelled: true,
                ..Default::default()
            })
        } else {
            running.store(job, Ordering::SeqCst);
            cancel.store(false, Ordering::SeqCst);
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
            running.store(0, Ordering::SeqCst);
            match r {
                Ok(stats) => LlmEvent::Done(stats),
                Err(e) => LlmEvent::Error(format!("{e:#}")),
            }
        };
        send(&out, &LlmOut::Event { job, ev });
    }
    Ok(())
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
