//! Arbitrary bytes as a plugin's stdout line (or an MCP client's request line): the JSON-RPC
//! reader, and what the host makes of a tool list and a call's result. They may refuse; they
//! may never panic.
#![no_main]

use fieldkit::engine::plugin::host::{answer_of, tool_of};
use fieldkit::engine::plugin::rpc::{parse_line, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_line(data) {
        Ok(Message::Response { result: Ok(v), .. }) => {
            if let Some(tools) = v.get("tools").and_then(|t| t.as_array()) {
                for t in tools {
                    let _ = tool_of(t);
                }
            }
            let _ = answer_of(v);
        }
        Ok(_) => {}
        Err((_, e)) => {
            let _ = e.to_string();
        }
    }
});
