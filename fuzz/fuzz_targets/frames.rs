//! Arbitrary bytes on the socket: the handshake and the client frame decoder, as the server
//! reads them. Decoding may fail; it may never panic or allocate past the frame limit.
#![no_main]

use fieldkit::protocol::{judge_hello, ClientMsg, ServerMsg};
use fieldkit::wire::read_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let mut hello = [0u8; 8];
        hello.copy_from_slice(&data[..8]);
        let _ = judge_hello(&hello);
    }
    let mut r = data;
    for _ in 0..16 {
        match read_frame::<ClientMsg>(&mut r) {
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let mut r = data;
    let _ = read_frame::<ServerMsg>(&mut r);
});
