/*!
The llm engine: llama.cpp (llama-cpp-2) behind one small API, and the worker that runs it.

`Engine` is used in three places: the `llm` worker (`fieldkit __worker llm`, so an abort in C++
costs a restart, not the session), `fieldkit chat` (in its own process, no server needed) and
the benches. It loads a model lazily, checks the file first (gguf.rs: missing, truncated,
foreign, too large for free memory: each refused in words before llama.cpp maps it), renders
the conversation with the model's own chat template or our fallback, folds older turns into
a summary when the conversation outgrows the context, and streams tokens.

The chat's context (its KV cache) is kept between answers: the next question's prompt starts
with the last one's, so only what is new is decoded (`Kept`: the tokens whose keys and values
the cache holds; the common prefix is reused, the rest removed). It is dropped when the model
is unloaded (idle unload), replaced when a prompt shares nothing with it (another chat), and
not kept after an answer that leaves less than `KEEP_FREE` of memory free, or one that was
cancelled or failed mid-batch (what the cache then holds is not known). Raw prompts (the
benches' peers) always start from an empty cache.

Cancel has to land within 200 ms even in the middle of a 512-token prompt batch (seconds on a
small CPU), so the cancel flag is also llama.cpp's abort callback (`with_abort`: llama-cpp-2
does not expose it), checked between the operations of a batch. Prompts are decoded in full
batches, as llama.cpp's own tools do: smaller chunks cost a third of the prompt speed. The worker reads its pipe on one thread
(so `Cancel` is seen while a job runs) and generates on another.

This file holds `Engine` and what it is given (`Settings`, `ModelRef`); `text` the fallback
prompt, stop strings and UTF-8 assembly, `tools` the tools a model may call (in its own
template's words when it has them), `sampler` the token picking, `worker` the process.
*/

pub mod askdata;
mod sampler;
mod text;
mod tools;
mod worker;

pub use fieldkit_messages::llm::ToolSpec;
pub use fieldkit_messages::llm::{LlmIn, LlmOut, ModelRef, Settings};
use sampler::*;
pub use text::fallback_prompt;
use text::*;
pub use tools::{prompted_turn, tool_call_in, with_prompted};
pub use worker::run;

use crate::format::gguf;
use crate::wire;
use anyhow::{anyhow, bail, Context, Result};
use fieldkit_panes::llm::{GenParams, GenStats, LlmEvent, Role, Turn};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `[llm]` in config.toml asks for.
pub fn settings_from(cfg: &crate::config::LlmConfig) -> Settings {
    Settings {
        n_ctx: cfg.ctx_size.max(256),
        threads: cfg.threads() as u32,
        n_batch: 512,
    }
}

/// Tokens kept free for the answer when deciding whether a conversation fits.
const ANSWER_RESERVE: u32 = 256;
/// The most tokens a summary of folded turns may take (it is generated with this limit).
const SUMMARY_TOKENS: u32 = 200;

/// Memory that must stay free for a context to be kept after an answer.
const KEEP_FREE: u64 = 512 << 20;

/// The kept context and what its cache holds. Declared before the model in `Loaded`, so it is
/// dropped first: it borrows the model (boxed, so the borrow survives `Loaded` moving).
struct Kept {
    ctx: llama_cpp_2::context::LlamaContext<'static>,
    /// The tokens whose keys and values are in the cache, in position order.
    tokens: Vec<llama_cpp_2::token::LlamaToken>,
    n_ctx: u32,
}

struct Loaded {
    kept: Option<Kept>,
    /// What it is reckoned to hold in memory: the file, a tenth for buffers, its context.
    bytes: u64,
    /// When it last answered (for unloading the least recently used).
    last_use: Instant,
    model: Box<LlamaModel>,
    r#ref: ModelRef,
    settings: Settings,
    template: Option<LlamaChatTemplate>,
    /// The GGUF's chat template, when it takes tools and minijinja runs it.
    tool_template: Option<String>,
    /// The texts of the BOS and EOS tokens, which templates write.
    bos: String,
    eos: String,
    n_ctx: u32,
    detail: String,
    /// The GGUF's pooling type (`{arch}.pooling_type`), for embeddings.
    pooling: Option<i64>,
}

pub struct Engine {
    backend: LlamaBackend,
    /// The model answering now.
    loaded: Option<Loaded>,
    /// Other models kept loaded (a model per task), while the budget allows.
    parked: Vec<Loaded>,
    /// Bytes the loaded models may take together (`[llm] memory_budget`; default half the
    /// memory free when the engine started).
    budget: u64,
    /// The cancel flag of the answer being generated, for llama.cpp's abort callback (a kept
    /// context outlives any one caller's flag; this slot is set for the length of a call and
    /// cleared after). Boxed: the callback holds its address. Declared after `loaded`, so it
    /// outlives every context.
    abort: Box<std::sync::atomic::AtomicPtr<AtomicBool>>,
    /// Show the control tokens that start a tool call (`[TOOL_CALLS]`): set while a prompt
    /// with tools is answered.
    markers: bool,
}

/// llama.cpp calls this between the operations of a batch: a set flag ends the batch there.
extern "C" fn abort_if_set(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `data` is the engine's boxed `AtomicPtr` (`Engine::abort`), which outlives every
    // context. The flag it points to, when not null, is the caller's of the running call, set
    // at its start and cleared before it returns.
    unsafe {
        let slot = &*(data as *const std::sync::atomic::AtomicPtr<AtomicBool>);
        let flag = slot.load(Ordering::Acquire);
        !flag.is_null() && (*flag).load(Ordering::Relaxed)
    }
}

/// `params` with llama.cpp's abort callback reading `flag`, so Esc stops a long prompt batch
/// mid-way instead of after it. llama-cpp-2 0.1 has no setter for the callback; its
/// `LlamaContextParams` is a wrapper around llama.h's `llama_context_params` and nothing else
/// (checked at compile time below), so the callback is set on the C struct itself.
fn with_abort(
    params: LlamaContextParams,
    slot: &std::sync::atomic::AtomicPtr<AtomicBool>,
) -> LlamaContextParams {
    use llama_cpp_sys_2::llama_context_params;
    const _: () = assert!(
        std::mem::size_of::<LlamaContextParams>() == std::mem::size_of::<llama_context_params>()
            && std::mem::align_of::<LlamaContextParams>()
                == std::mem::align_of::<llama_context_params>()
    );
    // SAFETY: same size and alignment, one field of that type, no Drop: the bits are the C
    // struct. The pointer stays valid while the context lives (see `abort_if_set`).
    let mut raw: llama_context_params = unsafe { std::mem::transmute(params) };
    raw.abort_callback = Some(abort_if_set);
    raw.abort_callback_data =
        slot as *const std::sync::atomic::AtomicPtr<AtomicBool> as *mut std::ffi::c_void;
    unsafe { std::mem::transmute::<llama_context_params, LlamaContextParams>(raw) }
}

/// `v` scaled to length 1 (a zero vector stays zero); a value that is not finite counts as 0.
pub fn unit(v: &[f32]) -> Vec<f32> {
    let v: Vec<f32> = v
        .iter()
        .map(|x| if x.is_finite() { *x } else { 0.0 })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v
    }
}

/// Bytes of memory this machine can still give (MemAvailable).
pub fn available_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Checks a model file before llama.cpp sees it: a GGUF whose tensors are all there, that
/// fits in `available` bytes of memory. Returns its header.
pub fn check_model(path: &Path, available: Option<u64>) -> Result<gguf::Info> {
    let info = gguf::read(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if let Some(avail) = available {
        // The weights are mapped and mostly read; the KV cache and buffers come on top.
        let need = info.file_len + info.file_len / 10;
        if need > avail {
            bail!(
                "{}: the model needs about {} of memory and this machine has {} free; \
                 not loading it (choose a smaller quantization, or free memory)",
                path.display(),
                gguf::human(need),
                gguf::human(avail)
            );
        }
    }
    Ok(info)
}

impl Engine {
    pub fn new() -> Result<Engine> {
        let mut backend = LlamaBackend::init().context("llama.cpp did not start")?;
        backend.void_logs();
        Ok(Engine {
            backend,
            loaded: None,
            parked: Vec::new(),
            budget: available_memory().map_or(u64::MAX, |a| a / 2),
            abort: Box::new(std::sync::atomic::AtomicPtr::new(std::ptr::null_mut())),
            markers: false,
        })
    }

    pub fn loaded(&self) -> Option<&ModelRef> {
        self.loaded.as_ref().map(|l| &l.r#ref)
    }

    /// A line for the status pane: model, quantization, context, threads.
    pub fn detail(&self) -> Option<String> {
        self.loaded.as_ref().map(|l| l.detail.clone())
    }

    pub fn n_ctx(&self) -> Option<u32> {
        self.loaded.as_ref().map(|l| l.n_ctx)
    }

    /// Unloads every model.
    pub fn unload(&mut self) {
        self.loaded = None;
        self.parked.clear();
    }

    /// Sets the memory budget for loaded models (0: half the memory free now).
    pub fn set_budget(&mut self, bytes: u64) {
        self.budget = if bytes == 0 {
            available_memory().map_or(u64::MAX, |a| a / 2)
        } else {
            bytes
        };
        self.fit_budget();
    }

    /// Unloads the least recently used of the waiting models until all fit the budget (the
    /// one answering stays).
    fn fit_budget(&mut self) {
        let active = self.loaded.as_ref().map_or(0, |l| l.bytes);
        self.parked.sort_by_key(|l| std::cmp::Reverse(l.last_use));
        while !self.parked.is_empty()
            && active + self.parked.iter().map(|l| l.bytes).sum::<u64>() > self.budget
        {
            self.parked.pop();
        }
    }

    /// Each loaded model for the status pane: its detail, the memory it is reckoned to hold,
    /// seconds since it last answered, and whether it is the one answering now.
    pub fn models(&self) -> Vec<fieldkit_messages::llm::LoadedModel> {
        self.loaded
            .iter()
            .map(|l| (l, true))
            .chain(self.parked.iter().map(|l| (l, false)))
            .map(|(l, active)| fieldkit_messages::llm::LoadedModel {
                name: l.r#ref.name.clone(),
                detail: l.detail.clone(),
                bytes: l.bytes,
                idle_s: l.last_use.elapsed().as_secs(),
                active,
            })
            .collect()
    }

    /// Loads `m` unless it is loaded with the same settings; `progress` gets 0.0..=1.0.
    pub fn load(
        &mut self,
        m: &ModelRef,
        settings: &Settings,
        progress: impl FnMut(f32) + 'static,
    ) -> Result<()> {
        if let Some(l) = &mut self.loaded {
            if l.r#ref.path == m.path && &l.settings == settings {
                l.last_use = Instant::now();
                return Ok(());
            }
        }
        // Another task's model, still loaded: it answers now, this one waits beside it.
        if let Some(i) = self
            .parked
            .iter()
            .position(|l| l.r#ref.path == m.path && &l.settings == settings)
        {
            let mut l = self.parked.swap_remove(i);
            l.last_use = Instant::now();
            if let Some(old) = self.loaded.replace(l) {
                self.parked.push(old);
            }
            self.fit_budget();
            return Ok(());
        }
        let info = gguf::read(&m.path).map_err(|e| anyhow!("{}: {e}", m.path.display()))?;
        // The file, a tenth for buffers, and its context (a rough KV cache: 1/8 of the file
        // per 4096 tokens, at least 16 MiB).
        let need = info.file_len
            + info.file_len / 10
            + (info.file_len / 8 * u64::from(settings.n_ctx) / 4096).max(16 << 20);
        if need > self.budget {
            bail!(
                "{} needs about {} of memory and the budget for models is {} ([llm] \
                 memory_budget): not loading it (raise the budget, or choose a smaller \
                 quantization)",
                m.name,
                gguf::human(need),
                gguf::human(self.budget)
            );
        }
        // The one answering until now waits beside the others; the least recently used go
        // until the new one fits.
        if let Some(old) = self.loaded.take() {
            self.parked.push(old);
        }
        self.parked.sort_by_key(|l| std::cmp::Reverse(l.last_use));
        while !self.parked.is_empty()
            && self.parked.iter().map(|l| l.bytes).sum::<u64>() + need > self.budget
        {
            self.parked.pop();
        }
        // And what the machine has free now, whatever the budget says.
        let info = check_model(&m.path, available_memory())?;
        let mut progress = progress;
        let params = LlamaModelParams::default().with_progress_callback(move |p| {
            progress(p);
            true
        });
        let model = LlamaModel::load_from_file(&self.backend, &m.path, &params).map_err(|e| {
            anyhow!(
                "{}: llama.cpp could not load it ({e}); the architecture `{}` may be one this \
                 build does not know",
                m.path.display(),
                info.arch()
            )
        })?;
        let template = model.chat_template(None).ok();
        // A template llama.cpp's own engine cannot apply is as good as none.
        let template = template.filter(|t| {
            let probe = [LlamaChatMessage::new("user".into(), "hi".into())];
            match probe {
                [Ok(m)] => model.apply_chat_template(t, &[m], true).is_ok(),
                _ => false,
            }
        });
        let text_of = |t| {
            model
                .vocab()
                .text(t)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let (bos, eos) = (text_of(model.vocab().bos()), text_of(model.vocab().eos()));
        // A template with tools is used only if it runs on a question with a tool.
        let tool_template = info
            .chat_template()
            .filter(|t| tools::takes_tools(t))
            .filter(|t| {
                let probe = [Turn::new(Role::User, "hi")];
                let tool = ToolSpec {
                    name: "probe".into(),
                    description: "A probe.".into(),
                    schema: r#"{"type": "object", "properties": {}}"#.into(),
                };
                tools::render_template(t, &probe, &[tool], &bos, &eos).is_ok()
            })
            .map(str::to_string);
        let train = model.n_ctx_train().max(256);
        let n_ctx = settings.n_ctx.clamp(256, train);
        let detail = format!(
            "{} · {} · {} · ctx {} · {} threads · {}",
            m.name,
            info.arch(),
            info.quantization(),
            n_ctx,
            settings.threads,
            match (&template, &tool_template) {
                (_, Some(_)) => "model's chat template, with its tool calls",
                (Some(_), None) => "model's chat template",
                (None, None) => "fallback chat template",
            }
        );
        self.loaded = Some(Loaded {
            kept: None,
            bytes: need,
            last_use: Instant::now(),
            model: Box::new(model),
            r#ref: m.clone(),
            settings: settings.clone(),
            template,
            tool_template,
            bos,
            eos,
            n_ctx,
            detail,
            pooling: info.pooling_type(),
        });
        Ok(())
    }

    /// A vector for each of `texts` from the loaded model, scaled to length 1 (so a dot
    /// product is the cosine). The model pools as its file says (bge: CLS, nomic: mean,
    /// Qwen3-Embedding: last); a model that does not say (a chat model) takes the mean of its
    /// tokens. A text longer than the model's context is cut to it, as llama.cpp's
    /// `llama-embedding` would refuse it. `progress` gets (done, all) after each text;
    /// `cancel` stops between texts and within one.
    pub fn embed(
        &mut self,
        texts: &[String],
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>> {
        self.aborting(cancel, |e| e.embed_in(texts, cancel, progress))
    }

    /// Runs `f` with llama.cpp's abort callback reading `cancel`.
    fn aborting<T>(&mut self, cancel: &AtomicBool, f: impl FnOnce(&mut Self) -> T) -> T {
        self.abort.store(
            cancel as *const AtomicBool as *mut AtomicBool,
            Ordering::Release,
        );
        let r = f(self);
        self.abort.store(std::ptr::null_mut(), Ordering::Release);
        r
    }

    /// What a context is made from: the backend, the abort slot, and the loaded model.
    #[allow(clippy::type_complexity)]
    fn parts(
        &mut self,
    ) -> Result<(
        &LlamaBackend,
        &std::sync::atomic::AtomicPtr<AtomicBool>,
        &mut Loaded,
    )> {
        let l = self
            .loaded
            .as_mut()
            .ok_or_else(|| anyhow!("no model loaded"))?;
        Ok((&self.backend, &self.abort, l))
    }

    fn embed_in(
        &mut self,
        texts: &[String],
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>> {
        use llama_cpp_2::context::params::LlamaPoolingType;
        let (backend, abort, l) = self.parts()?;
        l.last_use = Instant::now();
        let pooling = match l.pooling {
            Some(4) => bail!(
                "{} is a reranker (it scores a pair of texts), not an embedding model",
                l.r#ref.name
            ),
            Some(2) => LlamaPoolingType::Cls,
            Some(3) => LlamaPoolingType::Last,
            _ => LlamaPoolingType::Mean,
        };
        // One text at a time, whole in one batch (an encoder sees all its tokens at once), in
        // a context as large as the longest text needs (a question: a few dozen tokens, not
        // the model's 8,192), up to the model's own and the configured context.
        let cap = l.model.n_ctx_train().clamp(16, l.settings.n_ctx.max(512)) as usize;
        let vocab = l.model.vocab();
        // Document text is never read as control tokens.
        let tokenized: Vec<Vec<llama_cpp_2::token::LlamaToken>> = texts
            .iter()
            .map(|t| {
                let mut tokens = vocab.tokenize(t.as_bytes(), true, false);
                if tokens.is_empty() {
                    tokens.push(vocab.bos());
                }
                tokens.truncate(cap);
                tokens
            })
            .collect();
        let longest = tokenized.iter().map(Vec::len).max().unwrap_or(1);
        let n_ctx = (longest.div_ceil(64) * 64).min(cap) as u32;
        let cparams = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_ctx)
            .with_n_ubatch(n_ctx)
            .with_n_seq_max(1)
            .with_embeddings(true)
            .with_pooling_type(pooling)
            .with_n_threads(l.settings.threads as i32)
            .with_n_threads_batch(l.settings.threads as i32);
        let cparams = with_abort(cparams, abort);
        let mut ctx = l
            .model
            .new_context(backend, cparams)
            .map_err(|e| anyhow!("llama.cpp could not make an embedding context: {e}"))?;
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let mut out = Vec::with_capacity(texts.len());
        for (i, tokens) in tokenized.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                bail!("cancelled");
            }
            ctx.clear_kv_cache();
            batch.clear();
            batch.add_sequence(tokens, 0, true)?;
            ctx.decode(&mut batch).map_err(|e| {
                if cancel.load(Ordering::Relaxed) {
                    anyhow!("cancelled")
                } else {
                    anyhow!(
                        "llama.cpp could not embed text {} of {}: {e}",
                        i + 1,
                        texts.len()
                    )
                }
            })?;
            let v = ctx.embeddings_seq_ith(0).map_err(|e| {
                anyhow!("the model gave no vector ({e}): is it an embedding model?")
            })?;
            out.push(unit(v));
            progress(i + 1, texts.len());
        }
        Ok(out)
    }

    fn loaded_ref(&self) -> Result<&Loaded> {
        self.loaded
            .as_ref()
            .ok_or_else(|| anyhow!("no model loaded"))
    }

    /// The prompt text for `turns`, in the model's template or the fallback.
    pub fn render(&self, turns: &[Turn]) -> Result<String> {
        let l = self.loaded_ref()?;
        if let Some(t) = &l.template {
            let msgs: Result<Vec<_>, _> = turns
                .iter()
                .map(|t| LlamaChatMessage::new(t.role.name().into(), t.content.clone()))
                .collect();
            if let Ok(msgs) = msgs {
                if let Ok(s) = l.model.apply_chat_template(t, &msgs, true) {
                    return Ok(s);
                }
            }
        }
        Ok(fallback_prompt(turns))
    }

    /// The prompt text for `turns` with `tools`: the model's own tool template where it has
    /// one that runs, else the prompted format in the system prompt. Answers whether the
    /// template was used.
    pub fn render_with_tools(&self, turns: &[Turn], tools: &[ToolSpec]) -> Result<(String, bool)> {
        let l = self.loaded_ref()?;
        if tools.is_empty() {
            return Ok((self.render(turns)?, false));
        }
        if let Some(t) = &l.tool_template {
            if let Ok(p) = tools::render_template(t, turns, tools, &l.bos, &l.eos) {
                return Ok((p, true));
            }
        }
        Ok((self.render(&with_prompted(turns, tools))?, false))
    }

    fn uses_fallback(&self) -> bool {
        self.loaded.as_ref().is_some_and(|l| l.template.is_none())
    }

    pub fn tokenize(&self, text: &str) -> Result<Vec<llama_cpp_2::token::LlamaToken>> {
        let l = self.loaded_ref()?;
        let vocab = l.model.vocab();
        Ok(vocab.tokenize(text.as_bytes(), vocab.should_add_bos(), true))
    }

    /// Generates an answer to `turns` (the system prompt, if any, first). Events go to `on`;
    /// `cancel` stops it. Conversations longer than the context are summarised first.
    pub fn chat(
        &mut self,
        turns: &[Turn],
        tools: &[ToolSpec],
        params: &GenParams,
        cancel: &AtomicBool,
        on: &mut dyn FnMut(LlmEvent),
    ) -> Result<GenStats> {
        self.chat_folding_with(turns, tools, None, params, cancel, on)
    }

    /// `chat`, with the older turns folded by `summary` (`[llm.tasks] summaries`) when it is
    /// another model: it is loaded for the summary, and the answering model (waiting beside
    /// it, its kept context with it) answers after.
    pub fn chat_folding_with(
        &mut self,
        turns: &[Turn],
        tools: &[ToolSpec],
        summary: Option<(&ModelRef, &Settings)>,
        params: &GenParams,
        cancel: &AtomicBool,
        on: &mut dyn FnMut(LlmEvent),
    ) -> Result<GenStats> {
        let n_ctx = self.loaded_ref()?.n_ctx;
        // Tools go to the model's own template when it runs; otherwise into the system
        // prompt, before anything is folded (so a summary never swallows them).
        let (mut turns, tools) = match self.render_with_tools(turns, tools)? {
            (_, true) => (turns.to_vec(), tools),
            (_, false) => (with_prompted(turns, tools), &[][..]),
        };
        let render =
            |e: &Self, t: &[Turn]| -> Result<String> { Ok(e.render_with_tools(t, tools)?.0) };
        let budget = n_ctx.saturating_sub(ANSWER_RESERVE.min(params.max_tokens));
        let mut prompt = render(self, &turns)?;
        let mut tokens = self.tokenize(&prompt)?;
        if tokens.len() as u32 > budget {
            let first = usize::from(turns.first().is_some_and(|t| t.role == Role::System));
            // Fold the oldest turns until the rest fits beside a summary of at most
            // SUMMARY_TOKENS, keeping at least the last turn.
            let mut upto = first;
            while upto + 1 < turns.len() {
                upto += 1;
                let mut rest = turns[..first].to_vec();
                rest.extend_from_slice(&turns[upto..]);
                let n = self.tokenize(&render(self, &rest)?)?.len() as u32;
                if n + SUMMARY_TOKENS <= budget {
                    break;
                }
            }
            let last_alone = {
                let mut only = turns[..first].to_vec();
                only.extend_from_slice(&turns[turns.len().saturating_sub(1)..]);
                self.tokenize(&render(self, &only)?)?.len() as u32
            };
            if last_alone > budget || upto == first {
                bail!(
                    "the prompt is {} tokens and the context holds {n_ctx} ({} kept for the \
                     answer); shorten it, or raise ctx_size under [llm] in config.toml",
                    last_alone.max(tokens.len() as u32),
                    n_ctx - budget
                );
            }
            let mut summary = match summary.filter(|(m, _)| self.loaded() != Some(*m)) {
                Some((m, settings)) => {
                    let (answering, answering_settings) = {
                        let l = self.loaded_ref()?;
                        (l.r#ref.clone(), l.settings.clone())
                    };
                    self.load(m, settings, |_| {}).with_context(|| {
                        format!("[llm.tasks] summaries = {:?} could not be loaded", m.name)
                    })?;
                    let own = self
                        .loaded_ref()?
                        .n_ctx
                        .saturating_sub(ANSWER_RESERVE.min(params.max_tokens));
                    let r = self.summarise(&turns[first..upto], own, cancel);
                    self.load(&answering, &answering_settings, |_| {})?;
                    r?
                }
                None => self.summarise(&turns[first..upto], budget, cancel)?,
            };
            // A summary re-tokenizes into more tokens than were generated now and then: cut
            // it until the conversation fits.
            loop {
                let mut rest = turns[..first].to_vec();
                rest.push(Turn::new(
                    Role::System,
                    format!("Summary of the earlier conversation: {summary}"),
                ));
                rest.extend_from_slice(&turns[upto..]);
                let n = self.tokenize(&render(self, &rest)?)?.len() as u32;
                if n <= budget || summary.is_empty() {
                    break;
                }
                let mut cut = summary.len() * 3 / 4;
                while !summary.is_char_boundary(cut) {
                    cut -= 1;
                }
                summary.truncate(cut);
            }
            on(LlmEvent::Summarized {
                upto: upto - first,
                text: summary.clone(),
            });
            let mut rest = turns[..first].to_vec();
            rest.push(Turn::new(
                Role::System,
                format!("Summary of the earlier conversation: {summary}"),
            ));
            rest.extend_from_slice(&turns[upto..]);
            turns = rest;
            prompt = render(self, &turns)?;
            tokens = self.tokenize(&prompt)?;
            if tokens.len() as u32 > budget {
                bail!(
                    "the conversation is {} tokens even after summarising; the context holds {n_ctx}",
                    tokens.len()
                );
            }
        }
        let stops: Vec<String> = if self.uses_fallback() {
            FALLBACK_STOPS.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        // An answer does not start with the space or newline after "Assistant:".
        let mut started = false;
        let on = std::cell::RefCell::new(on);
        self.markers = !tools.is_empty();
        let r = self.generate(
            &tokens,
            params,
            &stops,
            cancel,
            &mut |t| {
                let t = if started { t } else { t.trim_start() };
                if !t.is_empty() {
                    started = true;
                    (on.borrow_mut())(LlmEvent::Token(t.to_string()))
                }
            },
            Some(&mut |done, total| {
                (on.borrow_mut())(LlmEvent::Prompt {
                    done: done as u32,
                    total: total as u32,
                })
            }),
            true,
        );
        self.markers = false;
        r
    }

    /// A few sentences standing for `turns`, generated greedily.
    fn summarise(&mut self, turns: &[Turn], budget: u32, cancel: &AtomicBool) -> Result<String> {
        let mut transcript = String::new();
        for t in turns {
            transcript.push_str(&format!("{}: {}\n", t.role.name(), t.content.trim()));
        }
        let ask = |text: &str| {
            vec![Turn::new(
                Role::User,
                format!(
                    "Summarise this conversation in at most five sentences, keeping names, \
                     numbers and decisions:\n\n{text}"
                ),
            )]
        };
        // Cut the transcript from the front until the request itself fits.
        let mut start = 0;
        let tokens = loop {
            let prompt = self.render(&ask(&transcript[start..]))?;
            let tokens = self.tokenize(&prompt)?;
            if tokens.len() as u32 <= budget.saturating_sub(128) || start >= transcript.len() {
                break tokens;
            }
            start += (transcript.len() - start) / 4 + 1;
            while !transcript.is_char_boundary(start) {
                start += 1;
            }
        };
        let mut out = String::new();
        let params = GenParams {
            max_tokens: SUMMARY_TOKENS - 40,
            temperature: 0.0,
            seed: 0,
            ignore_eos: false,
            grammar: None,
        };
        let stops: Vec<String> = if self.uses_fallback() {
            FALLBACK_STOPS.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        };
        self.generate_tokens(
            &tokens,
            &params,
            &stops,
            cancel,
            &mut |t| out.push_str(t),
            None,
        )?;
        let out = out.trim().to_string();
        Ok(if out.is_empty() {
            "(the model gave no summary)".into()
        } else {
            out
        })
    }

    /// Completes a raw prompt (no template), for benches and tests.
    pub fn complete(
        &mut self,
        prompt: &str,
        params: &GenParams,
        cancel: &AtomicBool,
        on: &mut dyn FnMut(&str),
    ) -> Result<GenStats> {
        let tokens = self.tokenize(prompt)?;
        self.generate_tokens(&tokens, params, &[], cancel, on, None)
    }

    /// Decodes `tokens` (in chunks, checking `cancel` between them, telling `progress` how
    /// far it got after each chunk but the last), then samples up to `max_tokens` tokens,
    /// handing each piece of text to `on`. Starts from an empty cache (the benches' raw
    /// prompts: the same work as a peer's).
    pub fn generate_tokens(
        &mut self,
        tokens: &[llama_cpp_2::token::LlamaToken],
        params: &GenParams,
        stops: &[String],
        cancel: &AtomicBool,
        on: &mut dyn FnMut(&str),
        progress: Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<GenStats> {
        self.generate(tokens, params, stops, cancel, on, progress, false)
    }

    /// How many tokens of the last prompt and answer the kept context holds (0: none kept).
    pub fn kept_tokens(&self) -> usize {
        self.loaded
            .as_ref()
            .and_then(|l| l.kept.as_ref())
            .map_or(0, |k| k.tokens.len())
    }

    /// `generate_tokens`, reusing the kept context's cache for the prefix `tokens` shares with
    /// what it holds when `reuse`.
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &mut self,
        tokens: &[llama_cpp_2::token::LlamaToken],
        params: &GenParams,
        stops: &[String],
        cancel: &AtomicBool,
        on: &mut dyn FnMut(&str),
        progress: Option<&mut dyn FnMut(usize, usize)>,
        reuse: bool,
    ) -> Result<GenStats> {
        self.aborting(cancel, |e| {
            e.generate_in(tokens, params, stops, cancel, on, progress, reuse)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_in(
        &mut self,
        tokens: &[llama_cpp_2::token::LlamaToken],
        params: &GenParams,
        stops: &[String],
        cancel: &AtomicBool,
        on: &mut dyn FnMut(&str),
        mut progress: Option<&mut dyn FnMut(usize, usize)>,
        reuse: bool,
    ) -> Result<GenStats> {
        let markers = self.markers;
        let (backend, abort, l) = self.parts()?;
        let n_ctx = l.n_ctx;
        if tokens.is_empty() {
            bail!("empty prompt");
        }
        if tokens.len() as u32 >= n_ctx {
            bail!(
                "the prompt is {} tokens and the context holds {n_ctx}; shorten it, or raise \
                 ctx_size under [llm] in config.toml",
                tokens.len()
            );
        }
        let n_batch = l.settings.n_batch.clamp(8, 4096);
        // A raw prompt's context is made for it: as large as the prompt and the longest
        // answer need (in steps of 256), as the peers' are. A chat's is the configured window,
        // kept for the next question.
        let need = (tokens.len() as u32)
            .saturating_add(params.max_tokens)
            .saturating_add(16)
            .div_ceil(256)
            * 256;
        let n_ctx = if reuse { n_ctx } else { need.min(n_ctx) };
        // The kept context, if it fits; how much of `tokens` its cache already holds.
        // (Another job, a raw prompt or a summary, leaves the kept one where it is.)
        let mut kept = if reuse {
            l.kept.take().filter(|k| k.n_ctx == n_ctx)
        } else {
            None
        };
        let mut reused = 0usize;
        if let Some(k) = &mut kept {
            reused = k
                .tokens
                .iter()
                .zip(tokens)
                .take_while(|(a, b)| a == b)
                .count();
            // The last prompt token is decoded again for its logits.
            reused = reused.min(tokens.len() - 1);
            // The cells past the shared prefix are let go (their memory is not cleared: a
            // clear of the whole buffer costs more than the prompt it makes room for).
            let cleared = k
                .ctx
                .clear_kv_cache_seq(Some(0), Some(reused as u32), None)
                .unwrap_or(false);
            if cleared {
                k.tokens.truncate(reused);
            } else {
                // A cache that cannot drop its tail (a recurrent model's) starts again.
                kept = None;
                reused = 0;
            }
        }
        let cparams = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(l.settings.threads as i32)
            .with_n_threads_batch(l.settings.threads as i32)
            // Pinned rather than llama.cpp's "auto" (which probes and, on CPU, enables it), so
            // the benches' peers can be given the very same setting.
            .with_flash_attention_policy(llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED);
        let cparams = with_abort(cparams, abort);
        let mut k = match kept {
            Some(k) => k,
            None => {
                let ctx = l.model.new_context(backend, cparams).map_err(|e| {
                    anyhow!("llama.cpp could not make a context of {n_ctx} tokens: {e}")
                })?;
                // SAFETY: the context borrows the model, which is boxed (its address stays
                // when `Loaded` moves) and is dropped after it: `Kept` lives in `Loaded::kept`,
                // declared before `Loaded::model`, and is taken out only within this call.
                let ctx = unsafe {
                    std::mem::transmute::<
                        llama_cpp_2::context::LlamaContext<'_>,
                        llama_cpp_2::context::LlamaContext<'static>,
                    >(ctx)
                };
                Kept {
                    ctx,
                    tokens: Vec::new(),
                    n_ctx,
                }
            }
        };
        let r = Self::run_batches(
            &mut k,
            &l.model,
            tokens,
            reused,
            n_batch,
            n_ctx,
            markers,
            params,
            stops,
            cancel,
            on,
            &mut progress,
        );
        // Kept only when its cache is known (an answer cancelled or failed mid-batch leaves
        // it in doubt), for a chat, and while memory allows.
        let whole = matches!(&r, Ok(s) if !s.cancelled);
        if reuse && whole && available_memory().is_none_or(|a| a > KEEP_FREE) {
            l.kept = Some(k);
        }
        r
    }

    /// Decodes `tokens[reused..]` into `k` and generates the answer.
    #[allow(clippy::too_many_arguments)]
    fn run_batches(
        k: &mut Kept,
        model: &LlamaModel,
        tokens: &[llama_cpp_2::token::LlamaToken],
        reused: usize,
        n_batch: u32,
        n_ctx: u32,
        markers: bool,
        params: &GenParams,
        stops: &[String],
        cancel: &AtomicBool,
        on: &mut dyn FnMut(&str),
        progress: &mut Option<&mut dyn FnMut(usize, usize)>,
    ) -> Result<GenStats> {
        let ctx = &mut k.ctx;
        let mut stats = GenStats {
            prompt_tokens: tokens.len() as u32,
            reused: reused as u32,
            ..Default::default()
        };
        let mut batch = LlamaBatch::new(n_batch as usize, 1);
        let t0 = Instant::now();
        let mut pos = reused;
        while pos < tokens.len() {
            if cancel.load(Ordering::Relaxed) {
                stats.cancelled = true;
                stats.prompt_ms = t0.elapsed().as_secs_f64() * 1000.0;
                return Ok(stats);
            }
            let end = (pos + n_batch as usize).min(tokens.len());
            batch.clear();
            for (i, t) in tokens[pos..end].iter().enumerate() {
                let p = pos + i;
                batch.add(*t, p as i32, &[0], p + 1 == tokens.len())?;
            }
            if let Err(e) = ctx.decode(&mut batch) {
                if cancel.load(Ordering::Relaxed) {
                    // Aborted mid-batch by the flag (llama.cpp's abort callback).
                    stats.cancelled = true;
                    stats.prompt_ms = t0.elapsed().as_secs_f64() * 1000.0;
                    return Ok(stats);
                }
                bail!("llama.cpp failed decoding the prompt: {e}");
            }
            k.tokens.extend_from_slice(&tokens[pos..end]);
            pos = end;
            if pos < tokens.len() {
                if let Some(p) = progress.as_mut() {
                    p(pos, tokens.len());
                }
            }
        }
        stats.prompt_ms = t0.elapsed().as_secs_f64() * 1000.0;

        let vocab = model.vocab();
        let mut sampler = Sampler::new(params.temperature, params.seed);
        // An answer held to a grammar: each token is picked among those the grammar allows.
        let mut grammar = match &params.grammar {
            Some(g) => Some(
                llama_cpp_2::sampling::LlamaSampler::grammar(model, g, "root")
                    .map_err(|e| anyhow!("the answer's grammar does not parse: {e}"))?,
            ),
            None => None,
        };
        let mut utf8 = Utf8Stream::default();
        let mut filter = StopFilter {
            stops: stops.to_vec(),
            held: String::new(),
        };
        let t1 = Instant::now();
        let mut n_cur = tokens.len();
        let mut last_idx = batch.n_tokens() - 1;
        loop {
            if cancel.load(Ordering::Relaxed) {
                stats.cancelled = true;
                break;
            }
            if stats.tokens >= params.max_tokens {
                stats.truncated = true;
                break;
            }
            if n_cur as u32 >= n_ctx {
                stats.truncated = true;
                break;
            }
            let token = match &mut grammar {
                None => {
                    llama_cpp_2::token::LlamaToken::new(sampler.pick(ctx.get_logits_ith(last_idx)))
                }
                Some(g) => {
                    use llama_cpp_2::token::data::LlamaTokenData;
                    use llama_cpp_2::token::data_array::LlamaTokenDataArray;
                    let logits = ctx.get_logits_ith(last_idx);
                    // The token picked freely, if the grammar allows it (as llama.cpp's own
                    // sampling checks first); else the pick among what it allows.
                    let free = sampler.pick(logits);
                    let mut one = LlamaTokenDataArray::from_iter(
                        [LlamaTokenData::new(
                            llama_cpp_2::token::LlamaToken::new(free),
                            logits.get(free as usize).copied().unwrap_or(0.0),
                            0.0,
                        )],
                        false,
                    );
                    one.apply_sampler(g);
                    let allowed = one.data.first().is_some_and(|d| d.logit().is_finite());
                    let t = if allowed {
                        llama_cpp_2::token::LlamaToken::new(free)
                    } else {
                        let mut arr =
                            LlamaTokenDataArray::from_iter(ctx.candidates_ith(last_idx), false);
                        arr.apply_sampler(g);
                        let masked: Vec<f32> = arr.data.iter().map(|d| d.logit()).collect();
                        if !masked.iter().any(|l| l.is_finite()) {
                            // Nothing the grammar allows: the answer ends here.
                            break;
                        }
                        llama_cpp_2::token::LlamaToken::new(sampler.pick(&masked))
                    };
                    if !vocab.is_eog(t) {
                        g.accept(t);
                    }
                    t
                }
            };
            if vocab.is_eog(token) && !params.ignore_eos {
                break;
            }
            stats.tokens += 1;
            let piece =
                tools::shown_piece(vocab.token_to_piece(token, false, None), markers, || {
                    vocab.token_to_piece(token, true, None)
                });
            let text = utf8.push(&piece);
            let (shown, stop) = filter.push(&text);
            if !shown.is_empty() {
                on(&shown);
            }
            if stop {
                break;
            }
            batch.clear();
            batch.add(token, n_cur as i32, &[0], true)?;
            if let Err(e) = ctx.decode(&mut batch) {
                if cancel.load(Ordering::Relaxed) {
                    stats.cancelled = true;
                    break;
                }
                bail!("llama.cpp failed while generating: {e}");
            }
            k.tokens.push(token);
            n_cur += 1;
            last_idx = 0;
        }
        let rest = filter.finish();
        if !rest.is_empty() {
            on(&rest);
        }
        stats.gen_ms = t1.elapsed().as_secs_f64() * 1000.0;
        Ok(stats)
    }
}

// ---------------------------------------------------------------------------------------------
// The worker.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_filter_holds_back_and_stops() {
        let mut f = StopFilter {
            stops: vec!["\nUser:".into()],
            held: String::new(),
        };
        assert_eq!(f.push("Hello"), ("Hello".into(), false));
        assert_eq!(f.push(" there\nUs"), (" there".into(), false));
        assert_eq!(f.push("e"), (String::new(), false));
        assert_eq!(f.push("r: next"), (String::new(), true));
        let mut f = StopFilter {
            stops: vec!["\nUser:".into()],
            held: String::new(),
        };
        assert_eq!(f.push("a\nb"), ("a\nb".into(), false));
        f.push("\nU");
        assert_eq!(f.finish(), "\nU");
    }

    #[test]
    fn sampling_is_greedy_at_zero_and_stays_in_the_likely_tokens_otherwise() {
        let mut logits = vec![0.0f32; 1000];
        logits[7] = 9.0;
        logits[3] = 8.5;
        logits[500] = 8.0;
        logits[2] = f32::NAN;
        assert_eq!(Sampler::new(0.0, 1).pick(&logits), 7);
        let draw = |seed| {
            let mut s = Sampler::new(0.8, seed);
            (0..200).map(|_| s.pick(&logits)).collect::<Vec<_>>()
        };
        let a = draw(42);
        assert_eq!(a, draw(42), "the same seed, the same draws");
        assert_ne!(a, draw(43));
        assert!(a.iter().all(|t| [7, 3, 500].contains(t)), "{a:?}");
        assert!(a.iter().filter(|t| **t == 7).count() > a.iter().filter(|t| **t == 500).count());
        assert_eq!(Sampler::new(0.8, 1).pick(&[]), 0);
    }

    #[test]
    fn utf8_is_held_until_whole() {
        let mut u = Utf8Stream::default();
        let e = "é".as_bytes();
        assert_eq!(u.push(&e[..1]), "");
        assert_eq!(u.push(&e[1..]), "é");
        assert_eq!(u.push(b"\xff"), "\u{fffd}");
    }

    #[test]
    fn fallback_transcript() {
        let p = fallback_prompt(&[
            Turn::new(Role::System, "Be brief."),
            Turn::new(Role::User, "hi"),
            Turn::new(Role::Assistant, "hello"),
            Turn::new(Role::User, "and?"),
        ]);
        assert_eq!(
            p,
            format!(
                "Be brief.\n\n{FALLBACK_PRIMER}User: hi\nAssistant: hello\nUser: and?\nAssistant:"
            )
        );
    }

    #[test]
    fn too_large_for_memory_is_refused_from_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        gguf::tiny::write(&p, &gguf::tiny::Spec::default()).unwrap();
        let e = check_model(&p, Some(1000)).unwrap_err().to_string();
        assert!(e.contains("needs about") && e.contains("1 KB free"), "{e}");
        assert!(check_model(&p, Some(1 << 40)).is_ok());
    }
}
