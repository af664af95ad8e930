//! Arbitrary bytes as a model file: the GGUF header reader that `model add`, `model ls` and the
//! llm worker run before llama.cpp sees a file. It may refuse; it may never panic, loop, or
//! allocate more than the bytes it was given allow.
#![no_main]

use fieldkit::format::gguf::read_from;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = read_from(data, data.len() as u64) {
        let _ = (info.arch(), info.quantization(), info.context_length());
    }
});
