//! Arbitrary bytes from a peer: the mesh's sync and pairing decoders, and every change that
//! decodes fed to a replica. Decoding and merging may refuse; they may never panic.
#![no_main]

use fieldkit::engine::mesh::pair::{Answer, Hello, Joining};
use fieldkit::engine::mesh::replica::Replica;
use fieldkit::engine::mesh::wire::{decode, decode_sync};
use fieldkit_messages::mesh::SyncMsg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<Hello>(data);
    let _ = decode::<Answer>(data);
    let _ = decode::<Joining>(data);
    if let Ok(SyncMsg::Ops { ops, .. }) = decode_sync(data) {
        let mut r = Replica::new([1; 32], [1; 32]);
        for op in ops {
            let _ = r.receive(op, 1_790_000_000_000);
        }
        let _ = r.state_hash();
    }
});
