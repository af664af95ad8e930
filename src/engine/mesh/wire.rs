//! What crosses between devices, as bytes: bincode with a limit far below the workers' frames
//! (a peer is a stranger until its changes check), so hostile bytes cost at most one message's
//! worth of memory and never a panic. Every change in a message is checked for shape before it
//! goes further.

use bincode::Options;
use fieldkit_messages::mesh::SyncMsg;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest message a peer may send: a batch of changes (`MAX_BATCH`) with room to spare.
pub const MAX_MSG: u64 = 256 * 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_MSG)
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, String> {
    options().serialize(msg).map_err(|e| e.to_string())
}

/// A message of the pairing or sync protocol, or why the bytes are not one.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() as u64 > MAX_MSG {
        return Err(format!(
            "a message of {} bytes (at most {MAX_MSG})",
            bytes.len()
        ));
    }
    options().deserialize(bytes).map_err(|e| e.to_string())
}

/// A sync message whose changes all have a sane shape.
pub fn decode_sync(bytes: &[u8]) -> Result<SyncMsg, String> {
    let msg: SyncMsg = decode(bytes)?;
    if let SyncMsg::Ops { ops, .. } = &msg {
        for op in ops {
            super::op::check_shape(op)?;
        }
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_messages::mesh::{Hlc, Kind, Op, Set, Value};

    #[test]
    fn messages_round_trip_and_hostile_bytes_are_refused() {
        let op = Op {
            origin: [3; 32],
            seq: 1,
            at: Hlc { ms: 5, n: 0 },
            kind: Kind::Item,
            record: "i".into(),
            sets: vec![Set {
                field: "title".into(),
                value: Value::Text("t".into()),
                base: None,
                seen: vec![],
            }],
            sig: vec![0; 64],
        };
        let m = SyncMsg::Ops {
            ops: vec![op.clone()],
            more: false,
        };
        assert_eq!(decode_sync(&encode(&m).unwrap()).unwrap(), m);
        // The signature's length prefix (before its 64 bytes and the final `more`) claiming
        // a huge one: refused, nothing allocated for it.
        let mut bytes = encode(&m).unwrap();
        let at = bytes.len() - 1 - 64 - 8;
        assert_eq!(bytes[at..at + 8], 64u64.to_le_bytes());
        bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_sync(&bytes).is_err());
        assert!(decode_sync(&[0xff; 3]).is_err());
        assert!(decode_sync(&vec![0u8; MAX_MSG as usize + 1])
            .unwrap_err()
            .contains("at most"));
        // A change with an empty record id is refused at decoding.
        let mut bad = op;
        bad.record.clear();
        let m = SyncMsg::Ops {
            ops: vec![bad],
            more: false,
        };
        assert!(decode_sync(&encode(&m).unwrap()).is_err());
        // Trailing bytes.
        let mut b = encode(&SyncMsg::Have(vec![])).unwrap();
        b.push(0);
        assert!(decode_sync(&b).is_err());
    }
}
