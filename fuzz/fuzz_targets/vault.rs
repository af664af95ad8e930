//! Arbitrary bytes as a vault file, and a real vault with arbitrary bytes written over it: the
//! parser and the chunk opener may refuse, never panic, and never open a changed file.
#![no_main]

use fieldkit::engine::vault::format::{self, Kdf, Opened};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn base() -> &'static (Vec<u8>, Opened) {
    static BASE: OnceLock<(Vec<u8>, Opened)> = OnceLock::new();
    BASE.get_or_init(|| {
        let file = format::create(Kdf::FLOOR, b"fuzz", b"{\"entries\":[]}", None).expect("create");
        let opened = format::unlock(&file, b"fuzz").expect("unlock");
        (file, opened)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = format::kdf_of(data);
    let (file, opened) = base();
    let _ = opened.reopen(data);
    // The first four bytes say where, the rest what is XORed in there.
    if data.len() > 4 {
        let at = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize % file.len();
        let mut f = file.clone();
        let mut changed = false;
        for (i, b) in data[4..].iter().enumerate() {
            if let Some(x) = f.get_mut(at + i) {
                *x ^= b;
                changed |= *b != 0;
            }
        }
        if changed {
            assert!(opened.reopen(&f).is_err(), "a changed vault opened");
        }
    }
});
