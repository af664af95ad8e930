//! A change's signature: the origin signs a canonical encoding of everything in the change
//! (not serde's, which another version might lay out otherwise), so any device can check a
//! change it got second hand, through a relay that could have altered it. And the shape checks
//! every change passes before anything else looks at it: sizes bounded, ids non-empty.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use fieldkit_messages::mesh::{Op, Value, MAX_ID, MAX_SEEN, MAX_VALUE};

/// What the origin signs: a tag, then every field, each length-prefixed where it varies.
pub fn signed_bytes(op: &Op) -> Vec<u8> {
    let mut b = Vec::with_capacity(128 + op.record.len() + op.field.len());
    b.extend_from_slice(b"fieldkit-mesh-op-1");
    b.extend_from_slice(&op.origin);
    b.extend_from_slice(&op.seq.to_be_bytes());
    b.extend_from_slice(&op.at.ms.to_be_bytes());
    b.extend_from_slice(&op.at.n.to_be_bytes());
    b.push(op.kind as u8);
    let bytes = |s: &[u8], b: &mut Vec<u8>| {
        b.extend_from_slice(&(s.len() as u64).to_be_bytes());
        b.extend_from_slice(s);
    };
    bytes(op.record.as_bytes(), &mut b);
    bytes(op.field.as_bytes(), &mut b);
    match &op.value {
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
    match &op.base {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            b.extend_from_slice(&s.at.ms.to_be_bytes());
            b.extend_from_slice(&s.at.n.to_be_bytes());
            b.extend_from_slice(&s.origin);
        }
    }
    b.extend_from_slice(&(op.seen.len() as u64).to_be_bytes());
    for s in &op.seen {
        b.extend_from_slice(&s.at.ms.to_be_bytes());
        b.extend_from_slice(&s.at.n.to_be_bytes());
        b.extend_from_slice(&s.origin);
    }
    b
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
    if op.field.is_empty() || op.field.len() > MAX_ID {
        return Err(format!("field name of {} bytes", op.field.len()));
    }
    let size = match &op.value {
        Value::Text(t) => t.len(),
        Value::Bytes(b) => b.len(),
        _ => 0,
    };
    if size > MAX_VALUE {
        return Err(format!("a value of {size} bytes (at most {MAX_VALUE})"));
    }
    if op.seen.len() > MAX_SEEN {
        return Err(format!(
            "{} versions seen (at most {MAX_SEEN})",
            op.seen.len()
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
