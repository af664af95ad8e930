//! Arbitrary bytes as a sealed file (a vault attachment), and a real sealed file with arbitrary
//! bytes written over it: opening may refuse, never panic, and never accept a changed file.
#![no_main]

use fieldkit::engine::vault::attach;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Base {
    dir: std::path::PathBuf,
    id: String,
    key: String,
    bytes: Vec<u8>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fk-fuzz-sealed-{}", std::process::id()));
        let plain: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let s = attach::seal(&mut &plain[..], &dir).expect("seal");
        let bytes = std::fs::read(attach::path_of(&dir, &s.id)).expect("read");
        Base {
            dir,
            id: s.id,
            key: s.key.to_string(),
            bytes,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let b = base();
    let path = attach::path_of(&b.dir, &b.id);
    // As it is: whatever the bytes, an answer and no panic.
    std::fs::write(&path, data).expect("write");
    let _ = attach::open(&b.dir, &b.id, &b.key, &mut std::io::sink());
    // The real file changed where the first four bytes say: refused.
    if data.len() > 4 {
        let at = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize % b.bytes.len();
        let mut f = b.bytes.clone();
        let mut changed = false;
        for (i, x) in data[4..].iter().enumerate() {
            if let Some(y) = f.get_mut(at + i) {
                *y ^= x;
                changed |= *x != 0;
            }
        }
        std::fs::write(&path, &f).expect("write");
        let opened = attach::open(&b.dir, &b.id, &b.key, &mut std::io::sink());
        if changed {
            assert!(opened.is_err(), "a changed sealed file opened");
        }
    }
});
