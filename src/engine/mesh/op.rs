//! A change's signature: the origin signs a canonical encoding of everything in the change
//! (not serde's, which another version might lay out otherwise), so any device can check a
//! change it got second hand, through a relay that could have altered it. And the shape checks
//! every change passes before anything else looks at it: sizes bounded, ids non-empty, each
//! field set once.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use fieldkit_messages::mesh::{
    Op, Stamp, Value, MAX_ID, MAX_OP_VALUES, MAX_SEEN, MAX_SETS, MAX_VALUE,
};

/// What the origin signs: a tag, then every field, each length-prefixed where it varies.
pub fn signed_bytes(op: &Op) -> Vec<u8> {
    let mut b = Vec::with_capacity(
        128 + op.record.len() + op.sets.iter().map(|s| s.field.len() + 64).sum::<usize>(),
    );
    b.extend_from_slice(b"fieldkit-mesh-op-2");
    b.extend_from_slice(&op.origin);
    b.extend_from_slice(&op.seq.to_be_bytes());
    b.extend_from_slice(&op.at.ms.to_be_bytes());
    b.extend_from_slice(&op.at.n.to_be_bytes());
    b.push(op.kind as u8);
    let bytes = |s: &[u8], b: &mut Vec<u8>| {
        b.extend_from_slice(&(s.len() as u64).to_be_bytes());
        b.extend_from_slice(s);
    };
    let stamp = |s: &Stamp, b: &mut Vec<u8>| {
        b.extend_from_slice(&s.at.ms.to_be_bytes());
        b.extend_from_slice(&s.at.n.to_be_bytes());
        b.extend_from_slice(&s.origin);
    };
    bytes(op.record.as_bytes(), &mut b);
    b.extend_from_slice(&(op.sets.len() as u64).to_be_bytes());
    for set in &op.sets {
        bytes(set.field.as_bytes(), &mut b);
        match &set.value {
            Value::Null => b.push(0),
            Value::Int(i) => {
                b.push(1);
                b.extend_from_slice(&i.to_be_bytes());
            }
            Value::Text(t) => {
                b.push(2);
                bytes(t.as_bytes(), &mut b);
            }
            Value::Bytes(x) => {
                b.push(3);
                bytes(x, &mut b);
            }
        }
        match &set.base {
            None => b.push(0),
            Some(s) => {
                b.push(1);
                stamp(s, &mut b);
            }
        }
        b.extend_from_slice(&(set.seen.len() as u64).to_be_bytes());
        for s in &set.seen {
            stamp(s, &mut b);
        }
    }
    b
}

/// The bytes of a value (what the size limits count).
pub fn value_len(v: &Value) -> usize {
    match v {
        Value::Text(t) => t.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    }
}

/// Signs `op` (its `origin` must be `key`'s public key).
pub fn sign(op: &mut Op, key: &SigningKey) {
    op.sig = key.sign(&signed_bytes(op)).to_bytes().to_vec();
}

/// Why a change is refused before it is looked at further.
pub fn check_shape(op: &Op) -> Result<(), String> {
    if op.seq == 0 {
        return Err("sequence number 0".into());
    }
    if op.record.is_empty() || op.record.len() > MAX_ID {
        return Err(format!("record id of {} bytes", op.record.len()));
    }
    if op.sets.is_empty() || op.sets.len() > MAX_SETS {
        return Err(format!(
            "a change of {} fields (1 to {MAX_SETS})",
            op.sets.len()
        ));
    }
    let mut total = 0;
    for (i, set) in op.sets.iter().enumerate() {
        if set.field.is_empty() || set.field.len() > MAX_ID {
            return Err(format!("field name of {} bytes", set.field.len()));
        }
        if op.sets[..i].iter().any(|s| s.field == set.field) {
            return Err(format!("field {:?} set twice in one change", set.field));
        }
        let size = value_len(&set.value);
        if size > MAX_VALUE {
            return Err(format!("a value of {size} bytes (at most {MAX_VALUE})"));
        }
        total += size;
        if set.seen.len() > MAX_SEEN {
            return Err(format!(
                "{} versions seen (at most {MAX_SEEN})",
                set.seen.len()
            ));
        }
    }
    if total > MAX_OP_VALUES {
        return Err(format!(
            "a change of {total} bytes of values (at most {MAX_OP_VALUES})"
        ));
    }
    Ok(())
}

/// Whether `op` is signed by its origin, unaltered.
pub fn verify(op: &Op) -> Result<(), String> {
    let key = VerifyingKey::from_bytes(&op.origin).map_err(|_| "not a device key")?;
    let sig: [u8; 64] = op
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| format!("a signature of {} bytes", op.sig.len()))?;
    key.verify(&signed_bytes(op), &Signature::from_bytes(&sig))
        .map_err(|_| "the signature does not match: altered, or not from its origin".to_string())
}

/// A new device key, from the system's random source.
pub fn new_key() -> std::io::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    zeroize::Zeroize::zeroize(&mut seed);
    Ok(key)
}
