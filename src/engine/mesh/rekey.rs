//! A new team key, sealed for each device that stays: when an admin revokes a device, the key
//! every connection is wrapped in changes, and the new one travels as a change like any other
//! (record `team-key` of the devices' records, a field per device), so it reaches devices that
//! are offline now through the others. Each field is sealed to its device alone: X25519 between
//! the admin's and the device's ed25519 keys (their Montgomery forms), HKDF-SHA256, AES-256-GCM.
//! A relay (or the revoked device, if some device still hands it changes) sees only ciphertext.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use fieldkit_messages::mesh::DeviceKey;
use zeroize::Zeroizing;

/// The devices' record that carries the sealed team keys.
pub const RECORD: &str = "team-key";

fn shared(
    me: &SigningKey,
    them: &DeviceKey,
    admin: &DeviceKey,
    device: &DeviceKey,
) -> Result<Aes256Gcm, String> {
    let vk = VerifyingKey::from_bytes(them).map_err(|_| "not a device key".to_string())?;
    let dh = Zeroizing::new(
        vk.to_montgomery()
            .mul_clamped(me.to_scalar_bytes())
            .to_bytes(),
    );
    if dh.iter().all(|b| *b == 0) {
        return Err("a degenerate device key".into());
    }
    let hk = hkdf::Hkdf::<sha2_10::Sha256>::new(Some(b"fieldkit-team-key-1"), dh.as_slice());
    let mut key = Zeroizing::new([0u8; 32]);
    let mut info = Vec::with_capacity(64);
    info.extend_from_slice(admin);
    info.extend_from_slice(device);
    hk.expand(&info, key.as_mut())
        .map_err(|_| "key derivation failed".to_string())?;
    Aes256Gcm::new_from_slice(key.as_slice()).map_err(|_| "bad key length".to_string())
}

/// `team_key` sealed by admin `me` for `device`: a 12-byte nonce, then the ciphertext.
pub fn seal(me: &SigningKey, device: &DeviceKey, team_key: &[u8; 32]) -> Result<Vec<u8>, String> {
    let admin = me.verifying_key().to_bytes();
    let c = shared(me, device, &admin, device)?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| format!("no random source: {e}"))?;
    let ct = c
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: team_key,
                aad: RECORD.as_bytes(),
            },
        )
        .map_err(|_| "sealing failed".to_string())?;
    let mut out = nonce.to_vec();
    out.extend(ct);
    Ok(out)
}

/// Opens what admin `admin` sealed for this device (`me`).
pub fn open(
    me: &SigningKey,
    admin: &DeviceKey,
    sealed: &[u8],
) -> Result<Zeroizing<[u8; 32]>, String> {
    if sealed.len() < 12 + 16 {
        return Err("a sealed team key too short to be one".into());
    }
    let device = me.verifying_key().to_bytes();
    let c = shared(me, admin, admin, &device)?;
    let pt = Zeroizing::new(
        c.decrypt(
            Nonce::from_slice(&sealed[..12]),
            Payload {
                msg: &sealed[12..],
                aad: RECORD.as_bytes(),
            },
        )
        .map_err(|_| "the sealed team key does not open with this device's key".to_string())?,
    );
    let k: [u8; 32] = pt
        .as_slice()
        .try_into()
        .map_err(|_| "a sealed team key of the wrong length".to_string())?;
    Ok(Zeroizing::new(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::mesh::op::new_key;

    #[test]
    fn only_the_device_it_was_sealed_for_opens_it() {
        let admin = new_key().unwrap();
        let dev = new_key().unwrap();
        let other = new_key().unwrap();
        let k = [7u8; 32];
        let sealed = seal(&admin, &dev.verifying_key().to_bytes(), &k).unwrap();
        let a = admin.verifying_key().to_bytes();
        assert_eq!(*open(&dev, &a, &sealed).unwrap(), k);
        assert!(open(&other, &a, &sealed).is_err());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(open(&dev, &a, &bad).is_err());
        assert!(open(&dev, &a, &sealed[..10]).is_err());
        // Said to be from another admin: does not open.
        assert!(open(&dev, &other.verifying_key().to_bytes(), &sealed).is_err());
    }
}
