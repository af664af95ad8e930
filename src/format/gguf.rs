/*!
GGUF files: reading their metadata ourselves, and writing tiny models for tests.

`model add`, `model ls` and the llm worker read a model's header here before llama.cpp sees it,
so a missing, truncated or foreign file gets a message in words ("truncated: the tensors need
1.2 GB, the file has 300 MB") instead of a C++ log line, and a model too large for this
machine is refused from its size before anything is mapped. The reader is bounded (string and
array lengths are checked against what is left of the file) and never panics: it takes
outside bytes, so it has a fuzz target.

`tiny` writes a real llama-architecture model with random weights (a few hundred KB). The test
suite and the benches generate it, so llama.cpp is exercised for real with nothing downloaded.
*/

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

const MAGIC: &[u8; 4] = b"GGUF";
/// Longest string we accept in a header (chat templates are a few KB; 16 MiB is generous).
const MAX_STRING: u64 = 16 << 20;
const MAX_COUNT: u64 = 1 << 24;

/// A metadata value, as much of it as fieldkit uses: scalars and strings in full, arrays by
/// their length (a vocabulary is 250,000 strings nobody here needs).
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(u64),
}

#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
}

/// What a GGUF header says.
#[derive(Debug, Clone)]
pub struct Info {
    pub version: u32,
    pub meta: BTreeMap<String, Meta>,
    pub tensors: Vec<Tensor>,
    pub file_len: u64,
    /// Bytes the tensors need, from the start of the file; `None` when a tensor type is one
    /// this reader does not know the size of.
    pub needed_len: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("no such file")]
    Missing(String),
    #[error("{1}")]
    Io(String, std::io::Error),
    #[error("not a GGUF model (the file does not start with \"GGUF\")")]
    NotGguf,
    #[error("GGUF version {0} is not supported (1 is too old; 2 and 3 are read)")]
    Version(u32),
    #[error("truncated: the header ends early (at byte {0})")]
    TruncatedHeader(u64),
    #[error("malformed header: {0}")]
    Malformed(String),
    #[error("truncated: the tensors need {} but the file has {}", human(*.needed), human(*.has))]
    TruncatedData { needed: u64, has: u64 },
}

/// `1.2 GB`, `253 MB`, `412 KB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

struct Reader<R> {
    r: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, GgufError> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(GgufError::TruncatedHeader(self.len));
        }
        let mut v = vec![0u8; n as usize];
        self.r
            .read_exact(&mut v)
            .map_err(|_| GgufError::TruncatedHeader(self.pos))?;
        self.pos += n;
        Ok(v)
    }
    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(GgufError::TruncatedHeader(self.len));
        }
        let copied = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())
            .map_err(|_| GgufError::TruncatedHeader(self.pos))?;
        if copied != n {
            return Err(GgufError::TruncatedHeader(self.pos + copied));
        }
        self.pos += n;
        Ok(())
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let v = self.bytes(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.u64()?;
        if n > MAX_STRING {
            return Err(GgufError::Malformed(format!("a string of {n} bytes")));
        }
        let b = self.bytes(n)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
    fn count(&mut self, what: &str) -> Result<u64, GgufError> {
        let n = self.u64()?;
        if n > MAX_COUNT {
            return Err(GgufError::Malformed(format!("{n} {what}")));
        }
        Ok(n)
    }
    /// Fixed size of a scalar type, `None` for strings and arrays.
    fn scalar_size(t: u32) -> Option<u64> {
        match t {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        }
    }
    fn value(&mut self, t: u32) -> Result<Meta, GgufError> {
        Ok(match t {
            0 => Meta::Int(self.arr::<1>()?[0] as i64),
            1 => Meta::Int(self.arr::<1>()?[0] as i8 as i64),
            2 => Meta::Int(u16::from_le_bytes(self.arr()?) as i64),
            3 => Meta::Int(i16::from_le_bytes(self.arr()?) as i64),
            4 => Meta::Int(self.u32()? as i64),
            5 => Meta::Int(i32::from_le_bytes(self.arr()?) as i64),
            6 => Meta::Float(f32::from_le_bytes(self.arr()?) as f64),
            7 => Meta::Bool(self.arr::<1>()?[0] != 0),
            8 => Meta::Str(self.string()?),
            9 => {
                let et = self.u32()?;
                let n = self.count("array items")?;
                match (et, Self::scalar_size(et)) {
                    (_, Some(sz)) => self.skip(n * sz)?,
                    (8, None) => {
                        for _ in 0..n {
                            let l = self.u64()?;
                            if l > MAX_STRING {
                                return Err(GgufError::Malformed(format!("a string of {l} bytes")));
                            }
                            self.skip(l)?;
                        }
                    }
                    _ => return Err(GgufError::Malformed(format!("an array of type {et}"))),
                }
                Meta::Array(n)
            }
            10 => Meta::Int(self.u64()? as i64),
            11 => Meta::Int(i64::from_le_bytes(self.arr()?)),
            12 => Meta::Float(f64::from_le_bytes(self.arr()?)),
            other => return Err(GgufError::Malformed(format!("a value of type {other}"))),
        })
    }
}

/// (block elements, block bytes) of a ggml tensor type, for the ones models ship in.
fn type_block(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        30 => (1, 2),     // BF16
        _ => return None,
    })
}

/// The name of a ggml tensor type (`Q4_K`), for `model ls`.
pub fn type_name(t: u32) -> String {
    let n = match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        30 => "BF16",
        other => return format!("type {other}"),
    };
    n.to_string()
}

/// `general.file_type` as llama.cpp names it (`Q4_K_M`).
fn file_type_name(ft: i64) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

/// Reads the header of the GGUF file at `path`.
pub fn read(path: &Path) -> Result<Info, GgufError> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            GgufError::Missing(shown.clone())
        } else {
            GgufError::Io(shown.clone(), e)
        }
    })?;
    let len = f
        .metadata()
        .map_err(|e| GgufError::Io(shown.clone(), e))?
        .len();
    if len < 4 {
        return Err(GgufError::NotGguf);
    }
    read_from(BufReader::new(f), len)
}

/// Reads a header from `r`, a file of `len` bytes (the fuzz target's entry).
pub fn read_from<R: Read>(r: R, len: u64) -> Result<Info, GgufError> {
    let mut rd = Reader { r, pos: 0, len };
    if &rd.arr::<4>().map_err(|_| GgufError::NotGguf)? != MAGIC {
        return Err(GgufError::NotGguf);
    }
    let version = rd.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    let n_tensors = rd.count("tensors")?;
    let n_kv = rd.count("metadata keys")?;
    let mut meta = BTreeMap::new();
    for _ in 0..n_kv {
        let key = rd.string()?;
        let t = rd.u32()?;
        let v = rd.value(t)?;
        meta.insert(key, v);
    }
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = rd.string()?;
        let nd = rd.u32()?;
        if nd > 8 {
            return Err(GgufError::Malformed(format!(
                "tensor {name} has {nd} dimensions"
            )));
        }
        let mut dims = Vec::with_capacity(nd as usize);
        for _ in 0..nd {
            dims.push(rd.u64()?);
        }
        let ggml_type = rd.u32()?;
        let offset = rd.u64()?;
        tensors.push(Tensor {
            name,
            dims,
            ggml_type,
            offset,
        });
    }
    let align = match meta.get("general.alignment") {
        Some(Meta::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() => *a as u64,
        _ => 32,
    };
    let data_start = rd.pos.div_ceil(align) * align;
    let mut needed = Some(data_start);
    for t in &tensors {
        let size = type_block(t.ggml_type).and_then(|(be, bb)| {
            let n = t.dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d))?;
            (n / be).checked_mul(bb)
        });
        needed = match (needed, size) {
            (Some(cur), Some(sz)) => data_start
                .checked_add(t.offset)
                .and_then(|e| e.checked_add(sz))
                .map(|end| cur.max(end)),
            _ => None,
        };
    }
    let info = Info {
        version,
        meta,
        tensors,
        file_len: len,
        needed_len: needed,
    };
    if let Some(n) = info.needed_len {
        if n > len {
            return Err(GgufError::TruncatedData {
                needed: n,
                has: len,
            });
        }
    }
    Ok(info)
}

impl Info {
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.meta.get(key) {
            Some(Meta::Str(s)) => Some(s),
            _ => None,
        }
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.meta.get(key) {
            Some(Meta::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn arch(&self) -> &str {
        self.str("general.architecture").unwrap_or("unknown")
    }
    pub fn name(&self) -> Option<&str> {
        self.str("general.name")
    }
    /// The context length the model was trained with.
    pub fn context_length(&self) -> Option<i64> {
        self.int(&format!("{}.context_length", self.arch()))
    }
    pub fn chat_template(&self) -> Option<&str> {
        self.str("tokenizer.chat_template")
    }
    /// How the model pools its tokens into one vector (llama.h's `LLAMA_POOLING_TYPE_*`:
    /// 1 mean, 2 CLS, 3 last, 4 rank), when the file says.
    pub fn pooling_type(&self) -> Option<i64> {
        self.int(&format!("{}.pooling_type", self.arch()))
    }
    /// An embedding model: one that pools its tokens into a vector (bge, nomic, e5, gte,
    /// jina, Qwen3-Embedding…), or of an encoder-only architecture.
    pub fn is_embedding(&self) -> bool {
        matches!(self.pooling_type(), Some(1..=3))
            || matches!(
                self.arch(),
                "bert"
                    | "nomic-bert"
                    | "nomic-bert-moe"
                    | "jina-bert-v2"
                    | "jina-bert-v3"
                    | "modern-bert"
                    | "neo-bert"
                    | "t5encoder"
                    | "eurobert"
            )
    }
    /// `Q4_K_M` from `general.file_type`, else the type most of the weights are in.
    pub fn quantization(&self) -> String {
        if let Some(n) = self.int("general.file_type").and_then(file_type_name) {
            return n.to_string();
        }
        let mut by_type: BTreeMap<u32, u64> = BTreeMap::new();
        for t in &self.tensors {
            *by_type.entry(t.ggml_type).or_default() += t.dims.iter().product::<u64>();
        }
        by_type
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(t, _)| type_name(t))
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Writers of small, valid GGUF models, for tests and benches.
pub mod tiny {
    use std::io::Write;
    use std::path::Path;

    /// What to put into a tiny model.
    #[derive(Debug, Clone)]
    pub struct Spec {
        pub n_embd: u64,
        pub n_layer: u64,
        pub n_head: u64,
        pub n_ff: u64,
        pub n_ctx_train: u64,
        /// `tokenizer.chat_template`; `None` makes a model that needs the fallback template.
        pub chat_template: Option<String>,
        pub seed: u64,
        /// `llama.pooling_type` (1: mean), which makes it an embedding model.
        pub pooling: Option<u32>,
    }

    impl Default for Spec {
        fn default() -> Self {
            Spec {
                n_embd: 64,
                n_layer: 2,
                n_head: 4,
                n_ff: 128,
                n_ctx_train: 2048,
                chat_template: Some(CHATML.into()),
                seed: 7,
                pooling: None,
            }
        }
    }

    /// A ChatML template, which llama.cpp's built-in template engine recognises.
    pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// ChatML with a tools section in the way of Qwen's and Hermes's (tools as JSON lines in
    /// `<tools>`, calls in `<tool_call>`, results in `<tool_response>`): a model whose own
    /// template takes tools.
    pub const CHATML_TOOLS: &str = r##"{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content + '\n\n' }}{%- endif %}
{{- "# Tools\n\nYou may call functions. Their signatures:\n<tools>" }}
{%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}
{{- "\n</tools>\n\nFor a call, answer <tool_call>\n{\"name\": NAME, \"arguments\": ARGS}\n</tool_call><|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'assistant' and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant\n' + message.content }}
{%- for tc in message.tool_calls %}
{{- '\n<tool_call>\n{"name": "' + tc.function.name + '", "arguments": ' }}{{- tc.function.arguments | tojson }}{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\n<tool_response>\n' + message.content + '\n</tool_response><|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"##;

    /// Words in the vocabulary besides single bytes, so text tokenizes into a few pieces.
    const WORDS: &[&str] = &[
        "the",
        "a",
        "and",
        "of",
        "to",
        "in",
        "is",
        "data",
        "field",
        "kit",
        "model",
        "hello",
        "world",
        "select",
        "from",
        "where",
        "table",
        "count",
        "sum",
        "ls",
        "echo",
        "cat",
        "grep",
        "file",
        "code",
        "user",
        "assistant",
        "system",
        "answer",
        "question",
    ];

    /// Bytes being written, and how many metadata keys went in.
    struct W<'a>(&'a mut Vec<u8>, u64);
    impl W<'_> {
        fn u32(&mut self, v: u32) {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        fn u64(&mut self, v: u64) {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        fn f32(&mut self, v: f32) {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        fn str(&mut self, s: &str) {
            self.u64(s.len() as u64);
            self.0.extend_from_slice(s.as_bytes());
        }
        fn key(&mut self, k: &str, t: u32) {
            self.1 += 1;
            self.str(k);
            self.u32(t);
        }
        fn kv_str(&mut self, k: &str, v: &str) {
            self.key(k, 8);
            self.str(v);
        }
        fn kv_u32(&mut self, k: &str, v: u32) {
            self.key(k, 4);
            self.u32(v);
        }
        fn kv_f32(&mut self, k: &str, v: f32) {
            self.key(k, 6);
            self.f32(v);
        }
    }

    /// The vocabulary: `<unk> <s> </s>`, ChatML's two markers, 256 byte tokens, then `▁word`s
    /// and single characters. Returns (text, score, token type).
    fn vocab() -> Vec<(String, f32, u32)> {
        let mut v = vec![
            ("<unk>".to_string(), 0.0, 2),
            ("<s>".to_string(), 0.0, 3),
            ("</s>".to_string(), 0.0, 3),
            ("<|im_start|>".to_string(), 0.0, 3),
            ("<|im_end|>".to_string(), 0.0, 3),
        ];
        for b in 0..=255u8 {
            v.push((format!("<0x{b:02X}>"), 0.0, 6));
        }
        v.push(("\u{2581}".to_string(), -1.0, 1));
        for (i, w) in WORDS.iter().enumerate() {
            v.push((format!("\u{2581}{w}"), -2.0 - i as f32 * 0.01, 1));
        }
        for c in (b'a'..=b'z').chain(b'A'..=b'Z').chain(b'0'..=b'9') {
            v.push(((c as char).to_string(), -5.0, 1));
        }
        for c in ".,:;!?'\"()-_*=<>/#`".chars() {
            v.push((c.to_string(), -5.0, 1));
        }
        v
    }

    /// Writes a llama-architecture model with random F32 weights to `path`.
    pub fn write(path: &Path, spec: &Spec) -> std::io::Result<()> {
        let vocab = vocab();
        let n_vocab = vocab.len() as u64;
        let (e, f) = (spec.n_embd, spec.n_ff);
        let mut tensors: Vec<(String, Vec<u64>)> = vec![
            ("token_embd.weight".into(), vec![e, n_vocab]),
            ("output_norm.weight".into(), vec![e]),
        ];
        for i in 0..spec.n_layer {
            for (n, d) in [
                ("attn_norm", vec![e]),
                ("attn_q", vec![e, e]),
                ("attn_k", vec![e, e]),
                ("attn_v", vec![e, e]),
                ("attn_output", vec![e, e]),
                ("ffn_norm", vec![e]),
                ("ffn_gate", vec![e, f]),
                ("ffn_up", vec![e, f]),
                ("ffn_down", vec![f, e]),
            ] {
                tensors.push((format!("blk.{i}.{n}.weight"), d));
            }
        }
        let mut kv = Vec::new();
        let mut w = W(&mut kv, 0);
        w.kv_str("general.architecture", "llama");
        w.kv_str("general.name", "fieldkit-tiny");
        w.kv_u32("general.file_type", 0);
        w.kv_u32("llama.context_length", spec.n_ctx_train as u32);
        w.kv_u32("llama.embedding_length", e as u32);
        w.kv_u32("llama.block_count", spec.n_layer as u32);
        w.kv_u32("llama.feed_forward_length", f as u32);
        w.kv_u32("llama.attention.head_count", spec.n_head as u32);
        w.kv_u32("llama.attention.head_count_kv", spec.n_head as u32);
        w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
        w.kv_u32("llama.rope.dimension_count", (e / spec.n_head) as u32);
        if let Some(p) = spec.pooling {
            w.kv_u32("llama.pooling_type", p);
        }
        w.kv_str("tokenizer.ggml.model", "llama");
        w.kv_u32("tokenizer.ggml.bos_token_id", 1);
        w.kv_u32("tokenizer.ggml.eos_token_id", 2);
        w.kv_u32("tokenizer.ggml.unknown_token_id", 0);
        if let Some(t) = &spec.chat_template {
            w.kv_str("tokenizer.chat_template", t);
        }
        // The three vocabulary arrays.
        w.key("tokenizer.ggml.tokens", 9);
        w.u32(8);
        w.u64(n_vocab);
        for (t, _, _) in &vocab {
            w.str(t);
        }
        w.key("tokenizer.ggml.scores", 9);
        w.u32(6);
        w.u64(n_vocab);
        for (_, s, _) in &vocab {
            w.f32(*s);
        }
        w.key("tokenizer.ggml.token_type", 9);
        w.u32(5);
        w.u64(n_vocab);
        for (_, _, ty) in &vocab {
            w.u32(*ty);
        }

        let n_kv = w.1;
        let mut out = Vec::new();
        let mut h = W(&mut out, 0);
        h.0.extend_from_slice(super::MAGIC);
        h.u32(3);
        h.u64(tensors.len() as u64);
        h.u64(n_kv);
        out.extend_from_slice(&kv);
        let mut h = W(&mut out, 0);
        let mut offset = 0u64;
        for (name, dims) in &tensors {
            h.str(name);
            h.u32(dims.len() as u32);
            for d in dims {
                h.u64(*d);
            }
            h.u32(0);
            h.u64(offset);
            let bytes = dims.iter().product::<u64>() * 4;
            offset += bytes.div_ceil(32) * 32;
        }
        while out.len() % 32 != 0 {
            out.push(0);
        }
        let mut rng = spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for (name, dims) in &tensors {
            let n = dims.iter().product::<u64>();
            let norm = name.contains("norm");
            let scale = 1.0 / (dims[0] as f32).sqrt();
            for _ in 0..n {
                let v = if norm {
                    1.0
                } else {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    ((rng >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale * 2.0
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            while out.len() % 32 != 0 {
                out.push(0);
            }
        }
        let mut file = std::fs::File::create(path)?;
        file.write_all(&out)?;
        file.sync_all()
    }
}

/// Reads `len` bytes from `path` at `at` (for tests that cut files).
pub fn read_at(path: &Path, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(at))?;
    let mut v = vec![0; len];
    f.read_exact(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tiny_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gguf");
        tiny::write(&p, &tiny::Spec::default()).unwrap();
        let info = read(&p).unwrap();
        assert_eq!(info.arch(), "llama");
        assert_eq!(info.name(), Some("fieldkit-tiny"));
        assert_eq!(info.context_length(), Some(2048));
        assert_eq!(info.quantization(), "F32");
        assert_eq!(info.chat_template(), Some(tiny::CHATML));
        assert_eq!(info.tensors.len(), 2 + 2 * 9);
        assert_eq!(info.needed_len, Some(info.file_len));
    }

    /// What the fuzz target does, in every test run: a valid model with bytes flipped, cut or
    /// overwritten at random, thousands of times. Refusals are fine; a panic is not.
    #[test]
    fn mutated_headers_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gguf");
        tiny::write(&p, &tiny::Spec::default()).unwrap();
        let good = std::fs::read(&p).unwrap();
        let header = good.len().min(12_000);
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..3000 {
            let mut b = good[..header].to_vec();
            for _ in 0..(next() % 8 + 1) {
                let at = (next() as usize) % b.len();
                b[at] = next() as u8;
            }
            if next() % 4 == 0 {
                b.truncate((next() as usize) % b.len());
            }
            let _ = read_from(&b[..], good.len() as u64);
        }
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gguf");
        tiny::write(&p, &tiny::Spec::default()).unwrap();
        let full = std::fs::read(&p).unwrap();

        let cut = dir.path().join("cut.gguf");
        std::fs::write(&cut, &full[..full.len() - 1000]).unwrap();
        let e = read(&cut).unwrap_err().to_string();
        assert!(e.starts_with("truncated: the tensors need"), "{e}");

        std::fs::write(&cut, &full[..200]).unwrap();
        let e = read(&cut).unwrap_err().to_string();
        assert!(e.contains("header ends early"), "{e}");

        std::fs::write(&cut, b"PK\x03\x04 this is a zip").unwrap();
        assert!(matches!(read(&cut), Err(GgufError::NotGguf)));

        let e = read(&dir.path().join("none.gguf")).unwrap_err().to_string();
        assert!(e.ends_with("no such file"), "{e}");

        let mut v1 = full.clone();
        v1[4..8].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&cut, &v1).unwrap();
        assert!(matches!(read(&cut), Err(GgufError::Version(1))));

        // A string length far past the end of the file.
        let mut huge = full[..24].to_vec();
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(read_from(&huge[..], huge.len() as u64).is_err());
    }
}
