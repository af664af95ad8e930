/*!
The vault file, byte for byte. Everything a reviewer needs is here and in the README's "Vault
file format" section; nothing about entries is known at this level (the payload is bytes).

```text
offset size  field
     0    8  magic "FKVAULT\0"
     8    2  format version (1), little-endian like every integer here
    10    1  KDF id (1 = Argon2id v1.3)
    11    4  Argon2id memory, KiB
    15    4  Argon2id passes
    19    4  Argon2id lanes
    23   76  key slot 0: salt 16 | nonce 12 | AES-256-GCM(KEK, region key 32) + tag 16
    99   76  key slot 1: the same; random bytes when there is no second (decoy) vault
   175    8  length of region 0
   183    8  length of region 1
   191   32  SHA-256 of bytes 0..191 (damage, not secrecy: the slots are what is keyed)
   223       region 0, then region 1
```

A slot's KEK is Argon2id(passphrase, salt, memory, passes, lanes); the slot wraps that vault's
region key with AES-256-GCM, the AAD being bytes 0..23, the slot's number and its region's
length, so no parameter or length can be changed without the unwrap failing. A region is the
vault's plaintext (its length in 8 bytes, the bytes, zeros) padded to a bucket (64 KiB times a
power of two) and sealed in 64 KiB chunks as age's STREAM does: AES-256-GCM, nonce = 11-byte
big-endian chunk counter and a last-chunk flag byte, AAD = the slot's number; a chunk moved,
dropped, added or changed fails. Both slots and both regions are always there: a file with one
vault and a file with a decoy have the same structure and the same size class. Unlocking runs the
KDF for both slots, whichever opens.
*/

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 8] = b"FKVAULT\0";
pub const VERSION: u16 = 1;
const KDF_ARGON2ID: u8 = 1;
/// The weakest key derivation a vault may ask for (KeePassXC's default is Argon2d, 16 MiB).
pub const FLOOR_KIB: u32 = 64 * 1024;
pub const FLOOR_PASSES: u32 = 3;
/// The most a file may ask for: more is refused rather than tried (a file could ask for all
/// the machine's memory).
const CEILING_KIB: u32 = 4 * 1024 * 1024;
const MAX_LANES: u32 = 64;
const SLOT: usize = 16 + 12 + 32 + 16;
const FIXED: usize = 23;
const HEADER: usize = FIXED + 2 * SLOT + 16;
pub const HEADER_LEN: usize = HEADER + 32;
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// Argon2id's cost parameters, as the header carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl Kdf {
    /// The floor: 64 MiB, 3 passes, 1 lane.
    pub const FLOOR: Kdf = Kdf {
        memory_kib: FLOOR_KIB,
        passes: FLOOR_PASSES,
        lanes: 1,
    };

    /// Refuses parameters below the floor or beyond what is sane, in words.
    pub fn check(&self) -> Result<(), VaultError> {
        if self.memory_kib < FLOOR_KIB || self.passes < FLOOR_PASSES || self.lanes == 0 {
            return Err(VaultError::Weak(*self));
        }
        if self.memory_kib > CEILING_KIB || self.lanes > MAX_LANES || self.passes > 1000 {
            return Err(VaultError::Absurd(*self));
        }
        Ok(())
    }

    /// The key-encryption key for `passphrase` with `salt`.
    pub fn derive(
        &self,
        passphrase: &[u8],
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        self.check()?;
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|e| VaultError::Kdf(e.to_string()))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        a.hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|e| VaultError::Kdf(e.to_string()))?;
        Ok(out)
    }

    /// Parameters that take about `target` on this machine: the floor's memory, and as many
    /// passes (at least 3) as fit; measured, not guessed.
    pub fn calibrate(target: std::time::Duration) -> Result<Kdf, VaultError> {
        let probe = Kdf::FLOOR;
        let t = std::time::Instant::now();
        probe.derive(b"calibration", &[0u8; 16])?;
        let once = t.elapsed().as_secs_f64().max(1e-3);
        let passes = ((target.as_secs_f64() / once) * FLOOR_PASSES as f64).round() as u32;
        Ok(Kdf {
            passes: passes.clamp(FLOOR_PASSES, 64),
            ..probe
        })
    }
}

/// Why a vault file is not opened (or not written), in a sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    NotAVault,
    Newer(u16),
    UnknownKdf(u8),
    Weak(Kdf),
    Absurd(Kdf),
    HeaderDamaged,
    Truncated { want: u64, have: u64 },
    WrongPassphrase,
    Damaged { chunk: usize },
    Kdf(String),
    Crypto,
    EmptyPassphrase,
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::NotAVault => f.write_str("not a fieldkit vault (it does not start with FKVAULT)"),
            VaultError::Newer(v) => write!(f, "a vault of format {v}, newer than this fieldkit reads ({VERSION}); update fieldkit"),
            VaultError::UnknownKdf(k) => write!(f, "the vault names key derivation {k}, which this fieldkit does not know"),
            VaultError::Weak(k) => write!(
                f,
                "the vault asks for Argon2id with {} MiB and {} passes, below the floor of {} MiB and {} passes: refused (a weakened file is an attack)",
                k.memory_kib / 1024, k.passes, FLOOR_KIB / 1024, FLOOR_PASSES
            ),
            VaultError::Absurd(k) => write!(
                f,
                "the vault asks for Argon2id with {} MiB, {} passes and {} lanes, more than fieldkit will spend: refused",
                k.memory_kib / 1024, k.passes, k.lanes
            ),
            VaultError::HeaderDamaged => f.write_str("the vault's header is damaged (its checksum does not match); the file was left as it is"),
            VaultError::Truncated { want, have } => write!(
                f,
                "the vault file is {have} bytes where its header says {want}: cut short or added to; the file was left as it is"
            ),
            VaultError::WrongPassphrase => f.write_str("wrong passphrase (or the vault file was tampered with)"),
            VaultError::Damaged { chunk } => write!(
                f,
                "the vault's contents are damaged at chunk {chunk} (a changed, moved or missing piece); the file was left as it is"
            ),
            VaultError::Kdf(e) => write!(f, "key derivation failed: {e}"),
            VaultError::Crypto => f.write_str("encryption failed"),
            VaultError::EmptyPassphrase => f.write_str("an empty passphrase protects nothing: choose one"),
        }
    }
}

impl std::error::Error for VaultError {}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS's random source; without it nothing can be sealed, and a zeroed salt or key must
    // never be written, so this is fatal by design.
    getrandom::fill(&mut b).expect("the operating system's random number source failed");
    b
}

/// The size a plaintext of `n` bytes is padded to: 64 KiB times a power of two.
pub fn bucket(n: usize) -> usize {
    let mut b = CHUNK;
    while b < n {
        b *= 2;
    }
    b
}

fn region_len(padded: usize) -> usize {
    padded / CHUNK * (CHUNK + TAG)
}

fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = last as u8;
    n
}

/// Seals a vault's plaintext as a region under `key`.
fn seal_region(key: &[u8; 32], slot: u8, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    let padded_len = bucket(plaintext.len() + 8);
    let mut padded = Zeroizing::new(Vec::with_capacity(padded_len));
    padded.extend_from_slice(&(plaintext.len() as u64).to_le_bytes());
    padded.extend_from_slice(plaintext);
    padded.resize(padded_len, 0);
    let cipher = Aes256Gcm::new(key.into());
    let n = padded_len / CHUNK;
    let mut out = Vec::with_capacity(region_len(padded_len));
    for (i, chunk) in padded.chunks(CHUNK).enumerate() {
        let nonce = chunk_nonce(i as u64, i + 1 == n);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: chunk,
                    aad: &[slot],
                },
            )
            .map_err(|_| VaultError::Crypto)?;
        out.extend_from_slice(&ct);
    }
    Ok(out)
}

fn open_region(key: &[u8; 32], slot: u8, region: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let cipher = Aes256Gcm::new(key.into());
    let n = region.len() / (CHUNK + TAG);
    let mut padded = Zeroizing::new(Vec::with_capacity(n * CHUNK));
    for (i, chunk) in region.chunks(CHUNK + TAG).enumerate() {
        let nonce = chunk_nonce(i as u64, i + 1 == n);
        let pt = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: chunk,
                    aad: &[slot],
                },
            )
            .map_err(|_| VaultError::Damaged { chunk: i })?;
        padded.extend_from_slice(&pt);
    }
    let len = u64::from_le_bytes(
        padded[..8]
            .try_into()
            .map_err(|_| VaultError::Damaged { chunk: 0 })?,
    ) as usize;
    if len > padded.len() - 8 {
        return Err(VaultError::Damaged { chunk: 0 });
    }
    Ok(Zeroizing::new(padded[8..8 + len].to_vec()))
}

/// The header's parts, read and checked.
struct Header<'a> {
    fixed: &'a [u8],
    kdf: Kdf,
    slots: [&'a [u8]; 2],
    lens: [usize; 2],
}

fn parse(file: &[u8]) -> Result<Header<'_>, VaultError> {
    if file.len() < 8 || &file[..8] != MAGIC {
        return Err(VaultError::NotAVault);
    }
    if file.len() < HEADER_LEN {
        return Err(VaultError::Truncated {
            want: HEADER_LEN as u64,
            have: file.len() as u64,
        });
    }
    let sum = Sha256::digest(&file[..HEADER]);
    if sum.as_slice() != &file[HEADER..HEADER_LEN] {
        return Err(VaultError::HeaderDamaged);
    }
    let u32_at = |o: usize| u32::from_le_bytes([file[o], file[o + 1], file[o + 2], file[o + 3]]);
    let version = u16::from_le_bytes([file[8], file[9]]);
    if version > VERSION || version == 0 {
        return Err(VaultError::Newer(version));
    }
    if file[10] != KDF_ARGON2ID {
        return Err(VaultError::UnknownKdf(file[10]));
    }
    let kdf = Kdf {
        memory_kib: u32_at(11),
        passes: u32_at(15),
        lanes: u32_at(19),
    };
    kdf.check()?;
    let len_at = |o: usize| u64::from_le_bytes(file[o..o + 8].try_into().unwrap_or([0; 8]));
    let lens = [len_at(FIXED + 2 * SLOT), len_at(FIXED + 2 * SLOT + 8)];
    let want = (HEADER_LEN as u64)
        .checked_add(lens[0])
        .and_then(|w| w.checked_add(lens[1]));
    match want {
        Some(w) if w == file.len() as u64 => {}
        w => {
            return Err(VaultError::Truncated {
                want: w.unwrap_or(u64::MAX),
                have: file.len() as u64,
            })
        }
    }
    if lens
        .iter()
        .any(|l| *l == 0 || !(*l as usize).is_multiple_of(CHUNK + TAG))
    {
        return Err(VaultError::HeaderDamaged);
    }
    Ok(Header {
        fixed: &file[..FIXED],
        kdf,
        slots: [
            &file[FIXED..FIXED + SLOT],
            &file[FIXED + SLOT..FIXED + 2 * SLOT],
        ],
        lens: [lens[0] as usize, lens[1] as usize],
    })
}

fn slot_aad(fixed: &[u8], slot: u8, len: usize) -> Vec<u8> {
    let mut aad = fixed.to_vec();
    aad.push(slot);
    aad.extend_from_slice(&(len as u64).to_le_bytes());
    aad
}

fn wrap(
    kek: &[u8; 32],
    fixed: &[u8],
    slot: u8,
    len: usize,
    key: &[u8; 32],
) -> Result<Vec<u8>, VaultError> {
    let nonce: [u8; 12] = random();
    let ct = Aes256Gcm::new(kek.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: key,
                aad: &slot_aad(fixed, slot, len),
            },
        )
        .map_err(|_| VaultError::Crypto)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// An open vault: which slot it is, the key that opens its slot (kept while unlocked so a save
/// needs no passphrase), and its plaintext. Zeroized when dropped.
pub struct Opened {
    pub slot: u8,
    pub kdf: Kdf,
    salt: [u8; 16],
    /// In a locked page left out of core dumps (`locked.rs`).
    kek: super::locked::LockedKey,
    pub plaintext: Zeroizing<Vec<u8>>,
}

fn fixed_bytes(kdf: Kdf) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.push(KDF_ARGON2ID);
    h.extend_from_slice(&kdf.memory_kib.to_le_bytes());
    h.extend_from_slice(&kdf.passes.to_le_bytes());
    h.extend_from_slice(&kdf.lanes.to_le_bytes());
    h
}

/// A slot and region for `kek`/`salt` holding `plaintext`.
fn sealed_slot(
    kdf: Kdf,
    slot: u8,
    salt: &[u8; 16],
    kek: &[u8; 32],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), VaultError> {
    let key = Zeroizing::new(random::<32>());
    let region = seal_region(&key, slot, plaintext)?;
    let mut s = salt.to_vec();
    s.extend_from_slice(&wrap(kek, &fixed_bytes(kdf), slot, region.len(), &key)?);
    Ok((s, region))
}

/// An unused slot and region: random bytes of the size a small vault has.
fn random_slot() -> (Vec<u8>, Vec<u8>) {
    let mut s = vec![0u8; SLOT];
    getrandom::fill(&mut s).expect("the operating system's random number source failed");
    let mut r = vec![0u8; region_len(CHUNK)];
    getrandom::fill(&mut r).expect("the operating system's random number source failed");
    (s, r)
}

fn assemble(kdf: Kdf, slots: [(Vec<u8>, Vec<u8>); 2]) -> Vec<u8> {
    let mut out = fixed_bytes(kdf);
    out.extend_from_slice(&slots[0].0);
    out.extend_from_slice(&slots[1].0);
    out.extend_from_slice(&(slots[0].1.len() as u64).to_le_bytes());
    out.extend_from_slice(&(slots[1].1.len() as u64).to_le_bytes());
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&slots[0].1);
    out.extend_from_slice(&slots[1].1);
    out
}

/// A new vault file: `plaintext` under `passphrase`, and with `decoy` a second vault under a
/// second passphrase; without, the second slot and region are random.
pub fn create(
    kdf: Kdf,
    passphrase: &[u8],
    plaintext: &[u8],
    decoy: Option<(&[u8], &[u8])>,
) -> Result<Vec<u8>, VaultError> {
    kdf.check()?;
    if passphrase.is_empty() || decoy.is_some_and(|(p, _)| p.is_empty()) {
        return Err(VaultError::EmptyPassphrase);
    }
    let mut slots = Vec::new();
    for (i, v) in [Some((passphrase, plaintext)), decoy]
        .into_iter()
        .enumerate()
    {
        slots.push(match v {
            Some((pass, pt)) => {
                let salt: [u8; 16] = random();
                let kek = kdf.derive(pass, &salt)?;
                sealed_slot(kdf, i as u8, &salt, &kek, pt)?
            }
            None => random_slot(),
        });
    }
    let b = slots.pop().unwrap_or_else(random_slot);
    let a = slots.pop().unwrap_or_else(random_slot);
    Ok(assemble(kdf, [a, b]))
}

/// Opens the vault `passphrase` unlocks. Both slots' keys are derived whatever happens, so the
/// time taken says nothing about which opened, or whether a second exists.
pub fn unlock(file: &[u8], passphrase: &[u8]) -> Result<Opened, VaultError> {
    if passphrase.is_empty() {
        return Err(VaultError::EmptyPassphrase);
    }
    let h = parse(file)?;
    let mut found = None;
    for i in 0..2u8 {
        let slot = h.slots[i as usize];
        let salt: [u8; 16] = slot[..16]
            .try_into()
            .map_err(|_| VaultError::HeaderDamaged)?;
        let kek = h.kdf.derive(passphrase, &salt)?;
        if found.is_none() {
            if let Ok(key) = unwrap_key(&kek, &h, i) {
                found = Some((i, salt, kek, key));
            }
        }
    }
    let (slot, salt, kek, key) = found.ok_or(VaultError::WrongPassphrase)?;
    let plaintext = open_region(&key, slot, region(file, &h, slot))?;
    Ok(Opened {
        slot,
        kdf: h.kdf,
        salt,
        kek: super::locked::LockedKey::new(&kek),
        plaintext,
    })
}

fn unwrap_key(kek: &[u8; 32], h: &Header, slot: u8) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let s = h.slots[slot as usize];
    let nonce = &s[16..28];
    let pt = Zeroizing::new(
        Aes256Gcm::new(kek.into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &s[28..],
                    aad: &slot_aad(h.fixed, slot, h.lens[slot as usize]),
                },
            )
            .map_err(|_| VaultError::WrongPassphrase)?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if pt.len() != 32 {
        return Err(VaultError::WrongPassphrase);
    }
    key.copy_from_slice(&pt);
    Ok(key)
}

fn region<'a>(file: &'a [u8], h: &Header, slot: u8) -> &'a [u8] {
    let start = HEADER_LEN + if slot == 0 { 0 } else { h.lens[0] };
    &file[start..start + h.lens[slot as usize]]
}

impl Opened {
    /// The vault of `slot` opened with a key-encryption key derived elsewhere (`fieldkit vault
    /// unlock` derives it in its own process, so the server never stalls on Argon2id).
    pub fn with_kek(file: &[u8], slot: u8, kek: [u8; 32]) -> Result<Opened, VaultError> {
        let kek = Zeroizing::new(kek);
        let h = parse(file)?;
        if slot > 1 {
            return Err(VaultError::WrongPassphrase);
        }
        let key = unwrap_key(&kek, &h, slot)?;
        let plaintext = open_region(&key, slot, region(file, &h, slot))?;
        let salt: [u8; 16] = h.slots[slot as usize][..16]
            .try_into()
            .map_err(|_| VaultError::HeaderDamaged)?;
        Ok(Opened {
            slot,
            kdf: h.kdf,
            salt,
            kek: super::locked::LockedKey::new(&kek),
            plaintext,
        })
    }

    /// The key-encryption key, to hand to the server (`with_kek`).
    pub fn kek(&self) -> [u8; 32] {
        *self.kek.get()
    }

    /// The same vault opened again from `file` (a later generation, or a copy being checked)
    /// with the key held, without the passphrase or the KDF's cost.
    pub fn reopen(&self, file: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let h = parse(file)?;
        let key = unwrap_key(self.kek.get(), &h, self.slot)?;
        open_region(&key, self.slot, region(file, &h, self.slot))
    }

    /// `file` with this vault's contents replaced by `plaintext`: a new region key and region,
    /// the other slot and its region kept byte for byte (its passphrase is not known here).
    pub fn reseal(&self, file: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let h = parse(file)?;
        let other = 1 - self.slot;
        let kept = (
            h.slots[other as usize].to_vec(),
            region(file, &h, other).to_vec(),
        );
        let mine = sealed_slot(h.kdf, self.slot, &self.salt, self.kek.get(), plaintext)?;
        let slots = if self.slot == 0 {
            [mine, kept]
        } else {
            [kept, mine]
        };
        Ok(assemble(h.kdf, slots))
    }
}

/// The header's KDF parameters, without unlocking (for the status pane and `vault status`).
pub fn kdf_of(file: &[u8]) -> Result<Kdf, VaultError> {
    parse(file).map(|h| h.kdf)
}

#[cfg(test)]
mod tests;
