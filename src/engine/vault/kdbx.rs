/*!
KeePass databases in KDBX 4 (4.0 and 4.1, as KeePassXC and KeePass 2 write them), read for
`vault import`. Written here over RustCrypto primitives (AES, ChaCha20, SHA-2, HMAC, Argon2)
rather than with the `keepass` crate, which would change `syn`'s features and so rebuild
llama.cpp. The checks run in the format's own order, cheapest first: the header's SHA-256
(damage) before the KDF, the header's HMAC (the password) before any block, each block's HMAC
before anything is decrypted. The file is untrusted: every length is checked against what is
left, Argon2's memory and lanes are capped before anything is allocated, the gzip output is
capped, and the XML's nesting is bounded, so a hostile file gets a sentence, never a panic.
Decrypted bytes live in buffers that are zeroized; entries come out as the vault's own
`Entry`s, and what is left out (attachments, the recycle bin) as sentences for the report.
*/

use super::entries::{Entry, Field, Kind, OldPassword, HISTORY};
use base64ct::Encoding as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

/// The file's first eight bytes: KeePass 2's signature (KDBX 1 is KeePass 1's `.kdb`).
const SIG1: [u8; 4] = 0x9AA2_D903u32.to_le_bytes();
const SIG2: [u8; 4] = 0xB54B_FB67u32.to_le_bytes();
const SIG2_PRERELEASE: [u8; 4] = 0xB54B_FB66u32.to_le_bytes();
const SIG2_KDB: [u8; 4] = 0xB54B_FB65u32.to_le_bytes();

const AES256_CBC: [u8; 16] = uuid("31c1f2e6-bf71-4350-be58-05216afc5aff");
const CHACHA20: [u8; 16] = uuid("d6038a2b-8b6f-4cb5-a524-339a31dbb59a");
const TWOFISH: [u8; 16] = uuid("ad68f29f-576f-4bb9-a36a-d47af965346c");
const ARGON2D: [u8; 16] = uuid("ef636ddf-8c29-444b-91f7-a9a403e30a0c");
const ARGON2ID: [u8; 16] = uuid("9e298b19-56db-4773-b23d-fc3ec6f0a1e6");
const AES_KDF: [u8; 16] = uuid("c9d9f39a-628a-4460-bf74-0d08c18a4fea");

/// Limits for an untrusted file: Argon2's memory and lanes (KeePassXC offers up to 4 GiB and
/// twice the cores), KDF passes and AES-KDF rounds (a minute or more of work at the cap), the
/// decompressed contents, and how deep the XML nests.
const MAX_ARGON2_MEMORY: u64 = 4 << 30;
const MAX_ARGON2_LANES: u32 = 64;
const MAX_ROUNDS: u64 = u32::MAX as u64;
const MAX_CONTENTS: usize = 1 << 30;
const MAX_DEPTH: usize = 256;

/// A KeePass UUID from its text form, at compile time.
const fn uuid(s: &str) -> [u8; 16] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let (mut i, mut j) = (0, 0);
    while j < 16 {
        if b[i] == b'-' {
            i += 1;
            continue;
        }
        out[j] = nibble(b[i]) << 4 | nibble(b[i + 1]);
        i += 2;
        j += 1;
    }
    out
}

/// What a database held: its entries, ready to send, and a sentence for each thing left out.
pub struct Database {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
    /// "4.0" or "4.1".
    pub version: String,
}

/// Whether `data` starts as a KeePass 2 database does (any version).
pub fn is_kdbx(data: &[u8]) -> bool {
    data.starts_with(&SIG1)
}

/// Checks the signature, version and outer header (no password needed): a KDBX 3 file, a
/// Twofish one or a hostile KDF is told before a password is asked for.
pub fn check(data: &[u8], name: &str) -> Result<(), String> {
    outer_header(data, name).map(|_| ())
}

/// Reads a KDBX 4 database under its password; `name` is how sentences call the file.
pub fn read(data: &[u8], password: &str, name: &str) -> Result<Database, String> {
    let outer = outer_header(data, name)?;
    let header = &data[..outer.len];
    let (tag, body) = split(&data[outer.len + 32..], 32).ok_or_else(|| {
        format!("{name} is cut short (in its header's HMAC): it is damaged or was not copied whole")
    })?;

    // The composite key of a password alone: SHA-256 over the password's SHA-256.
    let composite = sha256(&[sha256(&[password.as_bytes()]).as_slice()]);
    let transformed = transform(&outer.kdf, &composite).map_err(|e| format!("{name} {e}"))?;
    let master = sha256(&[outer.seed, transformed.as_slice()]);
    let base = sha512(&[outer.seed, transformed.as_slice(), &[1]]);
    drop(transformed);
    if !hmac_matches(&base, u64::MAX, &[header], tag) {
        return Err(format!(
            "wrong password for {name} (or the file is damaged). If the database also needs a \
             key file: key files are not supported yet"
        ));
    }

    let mut buf = blocks(body, &base).map_err(|e| format!("{name} {e}"))?;
    let plain_len = decrypt(outer.cipher, &master, outer.iv, &mut buf)
        .map_err(|e| format!("{name} is damaged: {e}"))?;
    buf.truncate(plain_len);
    let contents = if outer.compressed {
        gunzip(&buf, MAX_CONTENTS).map_err(|e| format!("{name} {e}"))?
    } else {
        buf
    };
    let inner = inner_header(&contents).map_err(|e| format!("{name} is damaged: {e}"))?;
    let mut stream = Stream::new(inner.stream_id, inner.stream_key);
    let doc = parse_xml(inner.xml, &mut stream).map_err(|e| format!("{name} {e}"))?;
    let mut db = entries(&doc).map_err(|e| format!("{name} is damaged: {e}"))?;
    db.version = format!("4.{}", outer.minor);
    Ok(db)
}

/// A checked reader over a byte slice: every read says `None` past the end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|s| s.try_into().ok())
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
}

fn split(s: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (s.len() >= n).then(|| s.split_at(n))
}

/// Header fields (u8 id, u32 LE length, value) up to the end field (id 0), whose own value is
/// skipped. `what` names the header in the sentence when a length runs past the end.
fn tlvs<'a>(c: &mut Cursor<'a>, what: &str) -> Result<Vec<(u8, &'a [u8])>, String> {
    let mut out = Vec::new();
    loop {
        let (Some(id), Some(len)) = (c.u8(), c.u32()) else {
            return Err(format!("{what} ends before its end field"));
        };
        let left = c.left();
        let value = usize::try_from(len)
            .ok()
            .and_then(|n| c.take(n))
            .ok_or_else(|| {
                format!("{what} has a field {id} of {len} bytes where {left} are left")
            })?;
        if id == 0 {
            return Ok(out);
        }
        out.push((id, value));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cipher {
    Aes256Cbc,
    ChaCha20,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KdfParams {
    Argon2 {
        id: bool,
        salt: Vec<u8>,
        lanes: u32,
        memory: u64,
        passes: u64,
        version: u32,
        secret: Option<Vec<u8>>,
        data: Option<Vec<u8>>,
    },
    AesKdf {
        seed: Vec<u8>,
        rounds: u64,
    },
}

/// The outer header, checked: everything needed to derive the keys and decrypt.
struct Outer<'a> {
    /// The header's length in bytes (what its checksum, checked, and HMAC cover; the
    /// checksum's 32 bytes follow it).
    len: usize,
    minor: u16,
    cipher: Cipher,
    compressed: bool,
    seed: &'a [u8],
    iv: &'a [u8],
    kdf: KdfParams,
}

fn outer_header<'a>(data: &'a [u8], name: &str) -> Result<Outer<'a>, String> {
    let mut c = Cursor::new(data);
    let not =
        || format!("{name} is not a KeePass database (it does not start with the KDBX signature)");
    let again =
        "Database > Database Settings > Encryption > Format: KDBX 4, save, and import it again";
    if c.array::<4>() != Some(SIG1) {
        return Err(not());
    }
    match c.array::<4>() {
        Some(SIG2) | Some(SIG2_PRERELEASE) => {}
        Some(SIG2_KDB) => {
            return Err(format!(
                "{name} is a KeePass 1 database (.kdb); fieldkit reads KDBX 4: open it in \
                 KeePassXC (Database > Import > KeePass 1 database), save it as KDBX 4, and import that"
            ))
        }
        Some(_) => return Err(not()),
        None => return Err(format!(
            "{name} is cut short (in its signature): it is damaged or was not copied whole"
        )),
    }
    let (Some(minor), Some(major)) = (c.u16(), c.u16()) else {
        return Err(format!(
            "{name} is cut short (in its version): it is damaged or was not copied whole"
        ));
    };
    match major {
        4 => {}
        3 => {
            return Err(format!(
                "{name} is a KDBX 3.{minor} database; fieldkit reads KDBX 4: in KeePassXC, {again}"
            ))
        }
        0..=2 => {
            return Err(format!(
                "{name} is a KDBX {major}.{minor} database, older than the KDBX 4 fieldkit reads: \
                 in KeePassXC, {again}"
            ))
        }
        _ => {
            return Err(format!(
            "{name} is a KDBX {major}.{minor} database, newer than the KDBX 4 this fieldkit reads"
        ))
        }
    }
    let fields =
        tlvs(&mut c, "its header").map_err(|e| format!("{name} is cut short or damaged: {e}"))?;
    // The checksum first: a damaged header is told as damage, not as what its bytes now say.
    let sum = data.get(c.pos..c.pos + 32).ok_or_else(|| {
        format!(
            "{name} is cut short (in its header's checksum): it is damaged or was not copied whole"
        )
    })?;
    if Sha256::digest(&data[..c.pos]).as_slice() != sum {
        return Err(format!(
            "{name} is damaged: its header does not match its SHA-256 checksum"
        ));
    }
    let damaged = |what: &str| format!("{name} is damaged: {what}");
    let get = |id: u8| fields.iter().rev().find(|(i, _)| *i == id).map(|(_, v)| *v);
    let cipher_id = get(2).ok_or_else(|| damaged("its header names no cipher"))?;
    let cipher = if cipher_id == AES256_CBC {
        Cipher::Aes256Cbc
    } else if cipher_id == CHACHA20 {
        Cipher::ChaCha20
    } else if cipher_id == TWOFISH {
        return Err(format!(
            "{name} is encrypted with Twofish, which fieldkit does not read: in KeePassXC choose \
             AES-256 or ChaCha20 (Database > Database Settings > Encryption > Encryption \
             Algorithm), save, and import it again"
        ));
    } else {
        return Err(format!(
            "{name} is encrypted with a cipher fieldkit does not know (UUID {})",
            hex(cipher_id)
        ));
    };
    let compressed = match get(3).map(<[u8; 4]>::try_from) {
        Some(Ok(f)) => match u32::from_le_bytes(f) {
            0 => false,
            1 => true,
            n => {
                return Err(damaged(&format!(
                    "its header names compression {n}, not gzip"
                )))
            }
        },
        Some(Err(_)) => return Err(damaged("its compression field is not 4 bytes")),
        None => false,
    };
    let seed = get(4).ok_or_else(|| damaged("its header has no master seed"))?;
    if seed.len() != 32 {
        return Err(damaged(&format!(
            "its master seed is {} bytes, not 32",
            seed.len()
        )));
    }
    let iv = get(7).ok_or_else(|| damaged("its header has no encryption IV"))?;
    let want = match cipher {
        Cipher::Aes256Cbc => 16,
        Cipher::ChaCha20 => 12,
    };
    if iv.len() != want {
        return Err(damaged(&format!(
            "its encryption IV is {} bytes, not {want}",
            iv.len()
        )));
    }
    let kdf = get(11).ok_or_else(|| damaged("its header has no KDF parameters"))?;
    let kdf = variant_dictionary(kdf)
        .and_then(|d| kdf_params(&d))
        .map_err(|e| format!("{name} {e}"))?;
    Ok(Outer {
        len: c.pos,
        minor,
        cipher,
        compressed,
        seed,
        iv,
        kdf,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A value in a VariantDictionary (KDBX 4's typed key-value list, for the KDF's parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Variant {
    U32(u32),
    U64(u64),
    Bool(bool),
    I32(i32),
    I64(i64),
    Str(String),
    Bytes(Vec<u8>),
}

/// Parses a VariantDictionary: u16 version (major byte 1), then items (u8 type, u32 name
/// length, name, u32 value length, value) until a type 0.
fn variant_dictionary(data: &[u8]) -> Result<Vec<(String, Variant)>, String> {
    let bad = |what: String| format!("is damaged: its KDF parameters {what}");
    let mut c = Cursor::new(data);
    let version = c.u16().ok_or_else(|| bad("have no version".into()))?;
    if version >> 8 != 1 {
        return Err(bad(format!("are of version {:#06x}, not 1.x", version)));
    }
    let mut out = Vec::new();
    loop {
        let ty = c.u8().ok_or_else(|| bad("have no end marker".into()))?;
        if ty == 0 {
            return Ok(out);
        }
        let mut field = |what: &str| -> Result<&[u8], String> {
            let len = c
                .u32()
                .ok_or_else(|| bad(format!("end before a {what}'s length")))?;
            let left = c.left();
            usize::try_from(len)
                .ok()
                .and_then(|n| c.take(n))
                .ok_or_else(|| {
                    bad(format!(
                        "have a {what} of {len} bytes where {left} are left"
                    ))
                })
        };
        let key = field("name")?;
        let key = String::from_utf8_lossy(key).into_owned();
        let v = field("value")?;
        let size = |n: usize| {
            if v.len() == n {
                Ok(v)
            } else {
                Err(bad(format!(
                    "have {key:?} of {} bytes where its type has {n}",
                    v.len()
                )))
            }
        };
        let arr4 = |s: &[u8]| <[u8; 4]>::try_from(s).unwrap_or_default();
        let arr8 = |s: &[u8]| <[u8; 8]>::try_from(s).unwrap_or_default();
        let value = match ty {
            0x04 => Variant::U32(u32::from_le_bytes(arr4(size(4)?))),
            0x05 => Variant::U64(u64::from_le_bytes(arr8(size(8)?))),
            0x08 => Variant::Bool(size(1)?[0] != 0),
            0x0C => Variant::I32(i32::from_le_bytes(arr4(size(4)?))),
            0x0D => Variant::I64(i64::from_le_bytes(arr8(size(8)?))),
            0x18 => Variant::Str(String::from_utf8_lossy(v).into_owned()),
            0x42 => Variant::Bytes(v.to_vec()),
            t => return Err(bad(format!("have {key:?} of an unknown type {t:#04x}"))),
        };
        out.push((key, value));
    }
}

/// The KDF and its parameters, refused when they are out of bounds for an untrusted file.
fn kdf_params(dict: &[(String, Variant)]) -> Result<KdfParams, String> {
    let get = |k: &str| dict.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v);
    let bad = |what: &str| format!("is damaged: its KDF parameters {what}");
    let bytes = |k: &str| match get(k) {
        Some(Variant::Bytes(b)) => Some(b.clone()),
        _ => None,
    };
    let int = |k: &str| match get(k) {
        Some(Variant::U32(n)) => Some(u64::from(*n)),
        Some(Variant::U64(n)) => Some(*n),
        Some(Variant::I32(n)) => u64::try_from(*n).ok(),
        Some(Variant::I64(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    let uuid = bytes("$UUID").ok_or_else(|| bad("name no KDF ($UUID)"))?;
    if uuid == AES_KDF {
        let seed = bytes("S").ok_or_else(|| bad("have AES-KDF without a seed (S)"))?;
        if seed.len() != 32 {
            return Err(bad(&format!(
                "have an AES-KDF seed of {} bytes, not 32",
                seed.len()
            )));
        }
        let rounds = int("R").ok_or_else(|| bad("have AES-KDF without rounds (R)"))?;
        if rounds > MAX_ROUNDS {
            return Err(format!(
                "asks for {rounds} AES-KDF rounds, over the {MAX_ROUNDS} an imported file may \
                 ask for: refused (lower them in KeePassXC: Database > Database Settings > Encryption)"
            ));
        }
        return Ok(KdfParams::AesKdf { seed, rounds });
    }
    if uuid != ARGON2D && uuid != ARGON2ID {
        return Err(format!(
            "uses a key derivation function fieldkit does not know (UUID {})",
            hex(&uuid)
        ));
    }
    let salt = bytes("S").ok_or_else(|| bad("have Argon2 without a salt (S)"))?;
    let lanes = int("P").ok_or_else(|| bad("have Argon2 without parallelism (P)"))?;
    let memory = int("M").ok_or_else(|| bad("have Argon2 without memory (M)"))?;
    let passes = int("I").ok_or_else(|| bad("have Argon2 without iterations (I)"))?;
    let version = int("V").ok_or_else(|| bad("have Argon2 without a version (V)"))?;
    if memory > MAX_ARGON2_MEMORY {
        return Err(format!(
            "asks for {} MiB of memory for Argon2, over the {} MiB an imported file may ask \
             for: refused (lower it in KeePassXC: Database > Database Settings > Encryption)",
            memory >> 20,
            MAX_ARGON2_MEMORY >> 20
        ));
    }
    if lanes > u64::from(MAX_ARGON2_LANES) {
        return Err(format!(
            "asks for Argon2 parallelism {lanes}, over the {MAX_ARGON2_LANES} an imported file \
             may ask for: refused (lower it in KeePassXC: Database > Database Settings > Encryption)"
        ));
    }
    if lanes == 0 || passes == 0 {
        return Err(bad("have Argon2 with no lanes or no iterations"));
    }
    if passes > MAX_ROUNDS {
        return Err(format!(
            "asks for {passes} Argon2 iterations, over the {MAX_ROUNDS} an imported file may \
             ask for: refused"
        ));
    }
    if version != 0x10 && version != 0x13 {
        return Err(bad(&format!(
            "have Argon2 version {version:#x}, not 0x10 or 0x13"
        )));
    }
    Ok(KdfParams::Argon2 {
        id: uuid == ARGON2ID,
        salt,
        lanes: lanes as u32,
        memory,
        passes,
        version: version as u32,
        secret: bytes("K"),
        data: bytes("A"),
    })
}

/// The transformed key: the KDF run over the composite key.
fn transform(kdf: &KdfParams, composite: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, String> {
    let mut out = Zeroizing::new([0u8; 32]);
    match kdf {
        KdfParams::AesKdf { seed, rounds } => {
            use aes::cipher::{BlockEncrypt, KeyInit as _};
            let aes = aes::Aes256::new_from_slice(seed)
                .map_err(|_| "is damaged: its AES-KDF seed is not an AES-256 key".to_string())?;
            let mut blocks = [
                aes::Block::clone_from_slice(&composite[..16]),
                aes::Block::clone_from_slice(&composite[16..]),
            ];
            for _ in 0..*rounds {
                aes.encrypt_blocks(&mut blocks);
            }
            let mut h = Sha256::new();
            h.update(blocks[0].as_slice());
            h.update(blocks[1].as_slice());
            out.copy_from_slice(&h.finalize());
            for b in blocks.iter_mut() {
                b.as_mut_slice().zeroize();
            }
        }
        KdfParams::Argon2 {
            id,
            salt,
            lanes,
            memory,
            passes,
            version,
            secret,
            data,
        } => {
            use argon2::{Algorithm, Argon2, AssociatedData, Block, ParamsBuilder, Version};
            let bad = |e: argon2::Error| format!("has Argon2 parameters that do not work ({e})");
            let mut b = ParamsBuilder::new();
            b.m_cost((memory / 1024) as u32)
                .t_cost(*passes as u32)
                .p_cost(*lanes)
                .output_len(32);
            if let Some(ad) = data {
                b.data(AssociatedData::new(ad).map_err(bad)?);
            }
            let params = b.build().map_err(bad)?;
            let alg = if *id {
                Algorithm::Argon2id
            } else {
                Algorithm::Argon2d
            };
            let ver = if *version == 0x10 {
                Version::V0x10
            } else {
                Version::V0x13
            };
            let argon = match secret {
                Some(s) => Argon2::new_with_secret(s, alg, ver, params.clone()).map_err(bad)?,
                None => Argon2::new(alg, ver, params.clone()),
            };
            let count = params.block_count();
            let mut blocks: Vec<Block> = Vec::new();
            blocks.try_reserve_exact(count).map_err(|_| {
                format!(
                    "needs {} MiB of memory for Argon2, more than this machine can give",
                    memory >> 20
                )
            })?;
            blocks.resize(count, Block::default());
            let r = argon.hash_password_into_with_memory(
                composite,
                salt,
                out.as_mut_slice(),
                &mut blocks,
            );
            for b in blocks.iter_mut() {
                b.as_mut().zeroize();
            }
            r.map_err(bad)?;
        }
    }
    Ok(out)
}

/// SHA-256 over `parts`, into memory that is wiped.
fn sha256(parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&h.finalize());
    out
}

/// SHA-512 over `parts`, into memory that is wiped.
fn sha512(parts: &[&[u8]]) -> Zeroizing<[u8; 64]> {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(&h.finalize());
    out
}

/// HMAC-SHA-256 under the key for block `index` (SHA-512 of the index and the base key) over
/// `parts`, compared in constant time with `tag`.
fn hmac_matches(base: &[u8; 64], index: u64, parts: &[&[u8]], tag: &[u8]) -> bool {
    let key = sha512(&[&index.to_le_bytes(), base]);
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice()) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).is_ok()
}

/// The HMAC block stream: [32-byte HMAC, u32 length, data] until an empty block; each block's
/// HMAC checked before its data is taken. Returns the ciphertext.
fn blocks(body: &[u8], base: &[u8; 64]) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut c = Cursor::new(body);
    // The ciphertext is never longer than the body: one allocation, no copies left behind.
    let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
    for index in 0u64.. {
        let cut = || {
            format!("is cut short (in block {index} of its contents): it is damaged or was not copied whole")
        };
        let tag = c.take(32).ok_or_else(cut)?;
        let len = c.u32().ok_or_else(cut)?;
        let data = usize::try_from(len)
            .ok()
            .and_then(|n| c.take(n))
            .ok_or_else(cut)?;
        if !hmac_matches(
            base,
            index,
            &[&index.to_le_bytes(), &len.to_le_bytes(), data],
            tag,
        ) {
            return Err(format!(
                "is damaged: block {index} of its contents does not match its HMAC"
            ));
        }
        if data.is_empty() {
            break;
        }
        out.extend_from_slice(data);
    }
    Ok(out)
}

/// Decrypts in place; returns the plaintext's length (without CBC's padding).
fn decrypt(cipher: Cipher, key: &[u8; 32], iv: &[u8], buf: &mut [u8]) -> Result<usize, String> {
    match cipher {
        Cipher::Aes256Cbc => {
            use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
            let d = cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .map_err(|_| "its IV is not 16 bytes".to_string())?;
            d.decrypt_padded_mut::<Pkcs7>(buf)
                .map(|p| p.len())
                .map_err(|_| "its contents do not decrypt (bad padding)".to_string())
        }
        Cipher::ChaCha20 => {
            use chacha20::cipher::{KeyIvInit, StreamCipher};
            let mut c = chacha20::ChaCha20::new_from_slices(key, iv)
                .map_err(|_| "its IV is not 12 bytes".to_string())?;
            c.try_apply_keystream(buf)
                .map_err(|_| "its contents are too long for ChaCha20".to_string())?;
            Ok(buf.len())
        }
    }
}

/// Gunzips into zeroized memory, at most `cap` bytes. Each time it grows, the data is copied
/// to a new buffer and the old one wiped (a `Vec`'s own growth would leave copies behind).
fn gunzip(data: &[u8], cap: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read;
    let mut d = flate2::read::GzDecoder::new(data);
    let mut out = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        let n = d
            .read(&mut chunk)
            .map_err(|e| format!("is damaged: its contents do not decompress ({e})"))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > cap {
            return Err(format!(
                "holds over {} MiB once decompressed: refused (a hostile file, or attachments \
                 too large to import: remove them in KeePassXC)",
                cap >> 20
            ));
        }
        if out.capacity() - out.len() < n {
            let want = (out.capacity() * 2)
                .max(out.len() + n)
                .max(1 << 20)
                .min(cap);
            let mut bigger = Zeroizing::new(Vec::new());
            bigger.try_reserve_exact(want).map_err(|_| {
                "is too large to decompress in the memory this machine can give".to_string()
            })?;
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// The inner header: how protected values are encrypted. Its attachments (field 3) are left
/// out; each entry that has one says so in the report.
struct Inner<'a> {
    stream_id: u32,
    stream_key: &'a [u8],
    xml: &'a [u8],
}

fn inner_header(contents: &[u8]) -> Result<Inner<'_>, String> {
    let mut c = Cursor::new(contents);
    let fields = tlvs(&mut c, "its inner header")?;
    let mut inner = Inner {
        stream_id: 0,
        stream_key: &[],
        xml: &contents[c.pos..],
    };
    for (id, v) in fields {
        match id {
            1 => {
                inner.stream_id = u32::from_le_bytes(
                    v.try_into()
                        .map_err(|_| "its inner stream id is not 4 bytes".to_string())?,
                )
            }
            2 => inner.stream_key = v,
            _ => {}
        }
    }
    Ok(inner)
}

/// The inner random stream that protected values are XORed with, in document order.
enum Stream {
    None,
    ChaCha20(Box<chacha20::ChaCha20>),
    Unsupported(String),
}

impl Stream {
    fn new(id: u32, key: &[u8]) -> Stream {
        match id {
            0 => Stream::None,
            3 => {
                use chacha20::cipher::KeyIvInit;
                let h = sha512(&[key]);
                match chacha20::ChaCha20::new_from_slices(&h[..32], &h[32..44]) {
                    Ok(c) => Stream::ChaCha20(Box::new(c)),
                    Err(_) => {
                        Stream::Unsupported("is damaged: its inner stream key does not work".into())
                    }
                }
            }
            2 => Stream::Unsupported(
                "protects its values with Salsa20, as KDBX 3 does, which fieldkit does not read \
                 in KDBX 4: save it again in KeePassXC and import that"
                    .into(),
            ),
            n => Stream::Unsupported(format!(
                "protects its values with inner stream {n}, which fieldkit does not know"
            )),
        }
    }

    fn apply(&mut self, buf: &mut [u8]) -> Result<(), String> {
        use chacha20::cipher::StreamCipher;
        match self {
            Stream::None => Ok(()),
            Stream::ChaCha20(c) => c.try_apply_keystream(buf).map_err(|_| {
                "is damaged: its protected values run past the stream's end".to_string()
            }),
            Stream::Unsupported(e) => Err(e.clone()),
        }
    }
}

/// An XML element: its name, whether its value was protected, its text, its children. The
/// text (which may be a secret) is wiped when the tree is dropped.
#[derive(Default)]
struct Node {
    name: String,
    /// Encrypted with the inner stream in the file.
    protected: bool,
    /// Protected, or marked to be kept protected in memory: masked in the vault too.
    secret: bool,
    text: Zeroizing<String>,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Node> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn text_of(&self, name: &str) -> &str {
        self.child(name).map(|c| c.text.as_str()).unwrap_or("")
    }
}

/// Parses the XML into a tree, decrypting each `<Value Protected="True">` as it closes (the
/// stream runs through them in document order, so every one is decrypted, kept or not).
fn parse_xml(xml: &[u8], stream: &mut Stream) -> Result<Node, String> {
    use quick_xml::events::{BytesStart, Event};
    let open = |e: &BytesStart| -> Result<Node, String> {
        let mut n = Node {
            name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
            ..Node::default()
        };
        if n.name == "Value" {
            for a in e.attributes() {
                let a = a.map_err(|e| format!("is damaged: its XML does not read ({e})"))?;
                if a.key.as_ref() == b"Protected" && a.value.eq_ignore_ascii_case(b"true") {
                    n.protected = true;
                }
                if a.key.as_ref() == b"ProtectInMemory" && a.value.eq_ignore_ascii_case(b"true") {
                    // Plain text in the file, but a secret to KeePass: a secret here too.
                    n.secret = true;
                }
            }
            n.secret |= n.protected;
        }
        Ok(n)
    };
    let close = |n: &mut Node, stream: &mut Stream| -> Result<(), String> {
        if !n.protected {
            return Ok(());
        }
        let mut bytes = Zeroizing::new(
            base64ct::Base64::decode_vec(n.text.trim())
                .map_err(|_| "is damaged: a protected value is not base64".to_string())?,
        );
        stream.apply(&mut bytes)?;
        let text = match std::str::from_utf8(&bytes) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        n.text = Zeroizing::new(text);
        Ok(())
    };
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut stack = vec![Node {
        name: "#document".into(),
        ..Node::default()
    }];
    let bad = |r: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| {
        format!(
            "is damaged: its XML does not read at byte {} ({e})",
            r.error_position()
        )
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if stack.len() > MAX_DEPTH {
                    return Err(format!(
                        "nests its XML deeper than {MAX_DEPTH} elements: refused"
                    ));
                }
                stack.push(open(&e)?);
            }
            Ok(Event::Empty(e)) => {
                let mut n = open(&e)?;
                close(&mut n, stream)?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Ok(Event::End(_)) => {
                let mut n = stack.pop().unwrap_or_default();
                close(&mut n, stream)?;
                match stack.last_mut() {
                    Some(top) => top.children.push(n),
                    None => return Err("is damaged: its XML closes more than it opens".into()),
                }
            }
            Ok(Event::Text(t)) => {
                if stack.len() > 1 {
                    let s = t.unescape().map_err(|e| bad(&reader, &e))?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
            }
            Ok(Event::CData(t)) => {
                if stack.len() > 1 {
                    let s = t.decode().map_err(|e| bad(&reader, &e))?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&s);
                    }
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(bad(&reader, &e)),
        }
    }
    if stack.len() != 1 {
        return Err("is damaged: its XML ends inside an element".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

/// Seconds since the epoch from a KDBX time: base64 of i64 LE seconds since 0001-01-01 (KDBX
/// 4), or ISO 8601 text (KDBX 3, and some writers).
fn time(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(b) = base64ct::Base64::decode_vec(s) {
        let secs = i64::from_le_bytes(b.try_into().ok()?);
        return u64::try_from(secs.checked_sub(62_135_596_800)?).ok();
    }
    // 2024-05-01T12:00:00Z
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Walks the tree: the root group's entries and its groups' (their path below the root group
/// is the folder), leaving out the recycle bin.
fn entries(doc: &Node) -> Result<Database, String> {
    let file = doc
        .child("KeePassFile")
        .ok_or("its XML is not a KeePass file (no KeePassFile)")?;
    let root = file.child("Root").ok_or("its XML has no Root")?;
    let bin = file
        .child("Meta")
        .map(|m| m.text_of("RecycleBinUUID"))
        .and_then(|u| base64ct::Base64::decode_vec(u.trim()).ok())
        .filter(|u| u.iter().any(|b| *b != 0));
    let mut w = Walk {
        bin,
        db: Database {
            entries: Vec::new(),
            notes: Vec::new(),
            version: String::new(),
        },
        binned: 0,
    };
    for g in root.all("Group") {
        w.group(g, &mut Vec::new());
    }
    if w.binned > 0 {
        let n = w.binned;
        w.db.notes.push(format!(
            "left out {n} {} in the recycle bin",
            if n == 1 { "entry" } else { "entries" }
        ));
    }
    Ok(w.db)
}

struct Walk {
    bin: Option<Vec<u8>>,
    db: Database,
    binned: usize,
}

impl Walk {
    fn is_bin(&self, g: &Node) -> bool {
        match &self.bin {
            Some(u) => {
                base64ct::Base64::decode_vec(g.text_of("UUID").trim()).ok() == Some(u.clone())
            }
            None => g.text_of("Name") == "Recycle Bin",
        }
    }

    fn count(g: &Node) -> usize {
        g.all("Entry").count() + g.all("Group").map(Walk::count).sum::<usize>()
    }

    /// `path` is the folder below the root group (empty for the root group itself).
    fn group(&mut self, g: &Node, path: &mut Vec<String>) {
        let folder = path.join("/");
        for e in g.all("Entry") {
            self.entry(e, &folder);
        }
        for sub in g.all("Group") {
            if self.is_bin(sub) {
                self.binned += Walk::count(sub);
                continue;
            }
            path.push(sub.text_of("Name").to_string());
            self.group(sub, path);
            path.pop();
        }
    }

    fn entry(&mut self, e: &Node, folder: &str) {
        let mut out = Entry::default();
        out.folder = folder.to_string();
        let (mut seed, mut settings) = (None, None);
        for s in e.all("String") {
            let key = s.text_of("Key");
            let Some(v) = s.child("Value") else { continue };
            let value = v.text.to_string();
            match key {
                "Title" => out.title = value,
                "UserName" => out.user = value,
                "Password" => out.password = value,
                "URL" => out.url = value,
                "Notes" => out.note = value,
                "otp" => out.totp = value,
                "TOTP Seed" => seed = Some(Zeroizing::new(value)),
                "TOTP Settings" => settings = Some(value),
                _ => out.fields.push(Field {
                    name: key.to_string(),
                    value,
                    secret: v.secret,
                }),
            }
        }
        let at = |out: &Entry| {
            if folder.is_empty() {
                format!("{:?}", out.title)
            } else {
                format!("{:?} in {folder}", out.title)
            }
        };
        if out.title.trim().is_empty() {
            let t = [&out.url, &out.user]
                .into_iter()
                .find(|s| !s.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| "untitled".to_string());
            out.title = t;
            let msg = format!("an entry with no title is imported as {}", at(&out));
            self.db.notes.push(msg);
        }
        // KeePassXC before 2.6 kept TOTP as a seed and "period;digits" settings.
        if let (true, Some(seed)) = (out.totp.is_empty(), seed) {
            let s = settings.unwrap_or_else(|| "30;6".into());
            let (period, digits) = s.split_once(';').unwrap_or(("30", "6"));
            if period.trim().parse::<u32>().is_ok() && digits.trim().parse::<u32>().is_ok() {
                out.totp = format!(
                    "otpauth://totp/import?secret={}&period={}&digits={}",
                    seed.trim().replace(' ', ""),
                    period.trim(),
                    digits.trim()
                );
            } else {
                let msg = format!(
                    "{}: its TOTP settings {s:?} (Steam?) are not supported; the seed is kept as \
                     the field \"TOTP Seed\"",
                    at(&out)
                );
                self.db.notes.push(msg);
                out.fields.push(Field {
                    name: "TOTP Seed".into(),
                    value: seed.to_string(),
                    secret: true,
                });
            }
        }
        out.tags = e
            .text_of("Tags")
            .split([';', ','])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        // History: oldest first in the file; each password is kept with the time it stopped
        // being the entry's (the next newer version's modification time).
        let mtime = |n: &Node| {
            n.child("Times")
                .and_then(|t| time(t.text_of("LastModificationTime")))
                .unwrap_or(0)
        };
        if let Some(h) = e.child("History") {
            let versions: Vec<(&str, u64)> = h
                .all("Entry")
                .map(|v| {
                    let pw = v
                        .all("String")
                        .find(|s| s.text_of("Key") == "Password")
                        .map(|s| s.text_of("Value"))
                        .unwrap_or("");
                    (pw, mtime(v))
                })
                .collect();
            let mut newer = out.password.clone();
            let mut until = mtime(e);
            for (pw, t) in versions.iter().rev() {
                if !pw.is_empty() && *pw != newer && out.history.len() < HISTORY {
                    out.history.push(OldPassword {
                        password: pw.to_string(),
                        until,
                    });
                }
                newer.zeroize();
                newer = pw.to_string();
                until = *t;
            }
            newer.zeroize();
        }
        let files: Vec<&str> = e.all("Binary").map(|b| b.text_of("Key")).collect();
        if !files.is_empty() {
            let (what, it) = match files.len() {
                1 => ("its attachment".to_string(), "it"),
                n => (format!("its {n} attachments"), "them"),
            };
            let msg = format!(
                "{}: left out {what} ({}): save {it} from KeePassXC and `fieldkit vault attach` {it}",
                at(&out),
                files.join(", "),
            );
            self.db.notes.push(msg);
        }
        if out.user.is_empty()
            && out.password.is_empty()
            && out.url.is_empty()
            && !out.note.is_empty()
        {
            out.kind = Kind::Note;
        }
        out.updated = super::entries::now();
        self.db.entries.push(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le32(n: u32) -> [u8; 4] {
        n.to_le_bytes()
    }

    #[test]
    fn uuids_read_as_keepass_writes_them() {
        assert_eq!(ARGON2D, *b"\xefcm\xdf\x8c)DK\x91\xf7\xa9\xa4\x03\xe3\n\x0c");
        assert_eq!(AES256_CBC[..4], [0x31, 0xc1, 0xf2, 0xe6]);
        assert_eq!(AES_KDF[15], 0xea);
    }

    #[test]
    fn tlvs_refuse_lengths_past_the_end() {
        // A good header: field 2 of 3 bytes, then the end field with 4 bytes of its own.
        let mut good = vec![2u8];
        good.extend(le32(3));
        good.extend(b"abc");
        good.push(0);
        good.extend(le32(4));
        good.extend(b"\r\n\r\n");
        good.extend(b"after");
        let mut c = Cursor::new(&good);
        assert_eq!(tlvs(&mut c, "h"), Ok(vec![(2u8, &b"abc"[..])]));
        assert_eq!(&good[c.pos..], b"after");
        for len in [4u32, 1 << 20, u32::MAX, i32::MAX as u32] {
            let mut bad = vec![2u8];
            bad.extend(le32(len));
            bad.extend(b"abc");
            let err = tlvs(&mut Cursor::new(&bad), "its header").unwrap_err();
            assert!(
                err.contains(&format!("{len} bytes where 3 are left")),
                "{err}"
            );
        }
        // No end field, a length cut short, nothing at all.
        for bad in [&good[..8], &good[..10], &good[..2], &[][..]] {
            assert!(tlvs(&mut Cursor::new(bad), "h").is_err());
        }
    }

    fn item(ty: u8, name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut v = vec![ty];
        v.extend(le32(name.len() as u32));
        v.extend(name);
        v.extend(le32(value.len() as u32));
        v.extend(value);
        v
    }

    fn dict(items: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0x00, 0x01];
        for i in items {
            v.extend(i);
        }
        v.push(0);
        v
    }

    fn argon2_dict(memory: u64, lanes: u32) -> Vec<u8> {
        dict(&[
            item(0x42, b"$UUID", &ARGON2D),
            item(0x42, b"S", &[7; 32]),
            item(0x04, b"P", &le32(lanes)),
            item(0x05, b"M", &memory.to_le_bytes()),
            item(0x05, b"I", &2u64.to_le_bytes()),
            item(0x04, b"V", &le32(0x13)),
        ])
    }

    #[test]
    fn variant_dictionary_reads_every_type() {
        let d = dict(&[
            item(0x04, b"a", &le32(7)),
            item(0x05, b"b", &9u64.to_le_bytes()),
            item(0x08, b"c", &[1]),
            item(0x0C, b"d", &(-2i32).to_le_bytes()),
            item(0x0D, b"e", &(-3i64).to_le_bytes()),
            item(0x18, b"f", b"text"),
            item(0x42, b"g", &[1, 2, 3]),
        ]);
        let v = variant_dictionary(&d).expect("dict");
        assert_eq!(
            v.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            vec![
                Variant::U32(7),
                Variant::U64(9),
                Variant::Bool(true),
                Variant::I32(-2),
                Variant::I64(-3),
                Variant::Str("text".into()),
                Variant::Bytes(vec![1, 2, 3]),
            ]
        );
        let p = kdf_params(&variant_dictionary(&argon2_dict(64 << 20, 2)).unwrap()).unwrap();
        assert!(
            matches!(p, KdfParams::Argon2 { id: false, lanes: 2, memory, .. } if memory == 64 << 20)
        );
    }

    #[test]
    fn variant_dictionary_refuses_hostile_lengths() {
        let good = dict(&[item(0x04, b"P", &le32(2))]);
        // Every truncation is an error, not a panic.
        for n in 0..good.len() {
            assert!(variant_dictionary(&good[..n]).is_err(), "cut at {n}");
        }
        // Name lengths: negative as i32, huge, one past the end.
        for len in [u32::MAX, 0x8000_0000, 1 << 30, 2] {
            let mut d = vec![0x00, 0x01, 0x04];
            d.extend(le32(len));
            d.push(b'P');
            let err = variant_dictionary(&d).unwrap_err();
            assert!(err.contains("where 1 are left"), "{err}");
        }
        // A value length past the end.
        let mut d = vec![0x00, 0x01, 0x04];
        d.extend(le32(1));
        d.push(b'P');
        d.extend(le32(u32::MAX));
        d.extend([0, 0, 0, 0]);
        assert!(variant_dictionary(&d)
            .unwrap_err()
            .contains("where 4 are left"));
        // A u32 that is not 4 bytes, an unknown type, another version.
        assert!(variant_dictionary(&dict(&[item(0x04, b"P", &[1, 2])]))
            .unwrap_err()
            .contains("where its type has 4"));
        assert!(variant_dictionary(&dict(&[item(0x77, b"P", &[1])]))
            .unwrap_err()
            .contains("unknown type"));
        assert!(variant_dictionary(&[0x00, 0x02, 0x00]).is_err());
    }

    #[test]
    fn kdf_limits_refuse_hostile_parameters() {
        let p = |m, l| kdf_params(&variant_dictionary(&argon2_dict(m, l)).unwrap());
        assert!(p(5 << 30, 2).unwrap_err().contains("MiB of memory"));
        assert!(p(64 << 20, 65).unwrap_err().contains("parallelism 65"));
        assert!(p(64 << 20, 0).is_err());
        assert!(p(4 << 30, 64).is_ok());
        let aes = |rounds: u64, seed: &[u8]| {
            kdf_params(
                &variant_dictionary(&dict(&[
                    item(0x42, b"$UUID", &AES_KDF),
                    item(0x42, b"S", seed),
                    item(0x05, b"R", &rounds.to_le_bytes()),
                ]))
                .unwrap(),
            )
        };
        assert!(aes(60_000, &[1; 32]).is_ok());
        assert!(aes(u64::MAX, &[1; 32]).unwrap_err().contains("rounds"));
        assert!(aes(10, &[1; 16]).unwrap_err().contains("not 32"));
        let other =
            kdf_params(&variant_dictionary(&dict(&[item(0x42, b"$UUID", &[9; 16])])).unwrap());
        assert!(other.unwrap_err().contains("does not know"));
    }

    #[test]
    fn aes_kdf_is_aes_256_ecb_rounds_then_sha256() {
        // Two rounds by hand with the block cipher, against `transform`.
        use aes::cipher::{BlockEncrypt, KeyInit as _};
        let seed = [3u8; 32];
        let composite = [5u8; 32];
        let aes = aes::Aes256::new_from_slice(&seed).unwrap();
        let mut a = aes::Block::clone_from_slice(&composite[..16]);
        let mut b = aes::Block::clone_from_slice(&composite[16..]);
        for _ in 0..2 {
            aes.encrypt_block(&mut a);
            aes.encrypt_block(&mut b);
        }
        let want = Sha256::new().chain_update(a).chain_update(b).finalize();
        let got = transform(
            &KdfParams::AesKdf {
                seed: seed.to_vec(),
                rounds: 2,
            },
            &composite,
        )
        .unwrap();
        assert_eq!(got.as_slice(), want.as_slice());
    }

    #[test]
    fn headers_and_versions_get_sentences() {
        let mut v3 = SIG1.to_vec();
        v3.extend(SIG2);
        v3.extend(1u16.to_le_bytes());
        v3.extend(3u16.to_le_bytes());
        let err = read(&v3, "pw", "old.kdbx").err().unwrap();
        assert!(err.contains("KDBX 3.1") && err.contains("Format"), "{err}");
        let err = read(b"Title,Password\n", "pw", "x.csv").err().unwrap();
        assert!(err.contains("not a KeePass database"), "{err}");
        let err = read(&v3[..10], "pw", "cut.kdbx").err().unwrap();
        assert!(err.contains("cut short"), "{err}");
        let mut v4 = v3.clone();
        v4[10] = 4;
        // A version 4 header that runs out.
        let err = read(&v4, "pw", "x.kdbx").err().unwrap();
        assert!(err.contains("damaged"), "{err}");
        let mut kdb = SIG1.to_vec();
        kdb.extend(SIG2_KDB);
        assert!(read(&kdb, "pw", "a.kdb")
            .err()
            .unwrap()
            .contains("KeePass 1"));
    }

    /// A KDBX 4 file's start: signature, version 4.0, `fields` and the end field, and the
    /// header's SHA-256 (as a hostile file would compute it too).
    fn header(fields: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut h = SIG1.to_vec();
        h.extend(SIG2);
        h.extend(0u16.to_le_bytes());
        h.extend(4u16.to_le_bytes());
        for (id, v) in fields.iter().chain([&(0u8, b"\r\n\r\n".to_vec())]) {
            h.push(*id);
            h.extend(le32(v.len() as u32));
            h.extend(v);
        }
        let sum = Sha256::digest(&h);
        h.extend(sum.as_slice());
        h
    }

    #[test]
    fn hostile_headers_are_refused_before_any_work() {
        let fields = |cipher: [u8; 16], kdf: Vec<u8>| {
            vec![
                (2, cipher.to_vec()),
                (3, le32(1).to_vec()),
                (4, vec![1; 32]),
                (7, vec![2; 16]),
                (11, kdf),
            ]
        };
        let ok = header(&fields(AES256_CBC, argon2_dict(64 << 20, 2)));
        assert_eq!(check(&ok, "x"), Ok(()));
        // No HMAC, no body: cut short, after the header is read.
        assert!(read(&ok, "pw", "x")
            .err()
            .unwrap()
            .contains("cut short (in its header's HMAC)"));
        let err = check(&header(&fields(AES256_CBC, argon2_dict(u64::MAX, 2))), "x").unwrap_err();
        assert!(
            err.starts_with("x asks for") && err.contains("MiB of memory"),
            "{err}"
        );
        let err = check(
            &header(&fields(AES256_CBC, argon2_dict(64 << 20, 1000))),
            "x",
        )
        .unwrap_err();
        assert!(err.contains("parallelism 1000"), "{err}");
        let err = check(&header(&fields(TWOFISH, argon2_dict(64 << 20, 2))), "x").unwrap_err();
        assert!(err.contains("Twofish") && err.contains("ChaCha20"), "{err}");
        // A ChaCha20 file with AES's 16-byte IV.
        let err = check(&header(&fields(CHACHA20, argon2_dict(64 << 20, 2))), "x").unwrap_err();
        assert!(err.contains("IV is 16 bytes, not 12"), "{err}");
        // One byte changed after the checksum was made: damage, said as such.
        let mut flipped = ok.clone();
        flipped[20] ^= 1;
        assert!(check(&flipped, "x")
            .unwrap_err()
            .contains("does not match its SHA-256"));
        // A KDF field whose length runs past the end of the file.
        let mut h = header(&fields(AES256_CBC, argon2_dict(64 << 20, 2)));
        let at = h.len() - 32 - 9 - 4 - argon2_dict(64 << 20, 2).len();
        h[at..at + 4].copy_from_slice(&le32(u32::MAX));
        assert!(check(&h, "x").unwrap_err().contains("cut short or damaged"));
    }

    #[test]
    fn inner_header_and_gzip_are_bounded() {
        assert!(inner_header(&[1, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(inner_header(&[1, 2, 0, 0, 0, 1, 2, 0]).is_err());
        let mut ok = vec![1u8];
        ok.extend(le32(4));
        ok.extend(le32(3));
        ok.extend([0, 0, 0, 0, 0]);
        ok.extend(b"<x/>");
        let inner = inner_header(&ok).unwrap();
        assert_eq!((inner.stream_id, inner.xml), (3, &b"<x/>"[..]));
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 3 << 20]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gunzip(&gz, 4 << 20).unwrap().len(), 3 << 20);
        assert!(gunzip(&gz, 2 << 20).unwrap_err().contains("refused"));
        assert!(gunzip(&gz[..gz.len() / 2], 4 << 20).is_err());
    }

    #[test]
    fn xml_is_bounded_and_times_read() {
        let deep = "<a>".repeat(MAX_DEPTH + 5);
        assert!(parse_xml(deep.as_bytes(), &mut Stream::None)
            .err()
            .unwrap()
            .contains("deeper"));
        assert!(parse_xml(b"<a><b></a>", &mut Stream::None).is_err());
        assert!(parse_xml(b"<a>", &mut Stream::None).is_err());
        assert!(parse_xml(b"<a>&ent;</a>", &mut Stream::None).is_err());
        let mut s = Stream::Unsupported("no".into());
        assert!(parse_xml(b"<Value Protected=\"True\">AAAA</Value>", &mut s).is_err());
        assert_eq!(time("2000-02-29T00:00:00Z"), Some(951_782_400));
        // 1970-01-01 as KDBX 4 writes it: seconds since year 1, base64.
        let b = base64ct::Base64::encode_string(&62_135_596_800i64.to_le_bytes());
        assert_eq!(time(&b), Some(0));
        assert_eq!(time("nonsense"), None);
    }
}
