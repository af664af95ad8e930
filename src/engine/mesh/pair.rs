/*!
Pairing by a short code read aloud: the admin's device makes an invite (a one-time code of 10
characters, valid 10 minutes by default, for one use), the joining device is given the code,
and the two run SPAKE2 over whatever connects them. Someone who overhears the code's exchange
learns nothing (the messages do not carry it); someone who tries a wrong code gets one guess,
which burns the invite. Both then hold a strong key that only the code could give, check that
the other holds it too (a MAC each way), and trade, sealed under it (AES-256-GCM): the joiner
its device key and name, the inviter the team key, the team vault key, the joiner's role and
its own key and name.

This is the protocol alone, over byte messages: the mesh worker carries them over TCP.

The code: 10 characters of Crockford's base32 (no I, L, O, U; read back case-insensitively,
with O as 0 and I or L as 1), shown `XXXXX-XXXXX`. The first two name the invite (an admin may
have several open), all ten are the password. 50 bits: with one guess per code, a guess is right
once in 10^15.
*/

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::Mac;
use serde::{Deserialize, Serialize};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use zeroize::Zeroizing;

use super::replica::Role;
use fieldkit_messages::mesh::DeviceKey;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code.
pub const CODE_LEN: usize = 10;
/// How long an invite is good for, by default.
pub const INVITE_MINUTES: u64 = 10;
const ID_INVITER: &[u8] = b"fieldkit-mesh-inviter";
const ID_JOINER: &[u8] = b"fieldkit-mesh-joiner";

/// A new code, from the system's random source.
pub fn new_code() -> std::io::Result<String> {
    let mut raw = [0u8; CODE_LEN];
    getrandom::fill(&mut raw).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(raw
        .iter()
        .map(|b| CROCKFORD[(*b & 31) as usize] as char)
        .collect())
}

/// A code as shown and read aloud: `XXXXX-XXXXX`.
pub fn show_code(code: &str) -> String {
    if code.len() == CODE_LEN {
        format!("{}-{}", &code[..5], &code[5..])
    } else {
        code.to_string()
    }
}

/// A code as typed (any case, dashes and spaces, O for 0, I or L for 1) in its one spelling.
pub fn parse_code(s: &str) -> Result<String, String> {
    let mut out = String::new();
    for c in s.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !CROCKFORD.contains(&(c as u8)) || !c.is_ascii() {
            return Err(format!(
                "{c:?} is not in a pairing code (digits and letters but I, L, O, U)"
            ));
        }
        out.push(c);
    }
    if out.len() != CODE_LEN {
        return Err(format!(
            "a pairing code has {CODE_LEN} characters (XXXXX-XXXXX); this has {}",
            out.len()
        ));
    }
    Ok(out)
}

/// An invite the admin's device holds.
#[derive(Debug, Clone)]
pub struct Invite {
    pub code: String,
    pub role: Role,
    pub expires_ms: u64,
    /// A joiner tried it (rightly or not): it is spent.
    pub used: bool,
}

impl Invite {
    pub fn nameplate(&self) -> &str {
        &self.code[..2]
    }
}

/// Why pairing failed, as the user is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairError {
    /// No open invite has this code's first two characters.
    NoInvite,
    Expired,
    Used,
    /// The keys do not match: the code was wrong (the invite is spent now).
    WrongCode,
    /// A message that is not this protocol's.
    Garbled(String),
}

impl std::fmt::Display for PairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairError::NoInvite => write!(
                f,
                "no open invite has that code: check it, or ask for a new one"
            ),
            PairError::Expired => write!(
                f,
                "the code has expired: ask for a new one (fieldkit mesh invite)"
            ),
            PairError::Used => write!(
                f,
                "the code was used already: each code pairs once; ask for a new one"
            ),
            PairError::WrongCode => write!(f, "wrong code: it is spent now; ask for a new one"),
            PairError::Garbled(why) => write!(
                f,
                "the other device does not speak this pairing protocol: {why}"
            ),
        }
    }
}

/// The joiner's first message: which invite, and its SPAKE2 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub nameplate: String,
    pub spake: Vec<u8>,
}

/// The inviter's answer: its SPAKE2 message and its proof of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub spake: Vec<u8>,
    pub proof: Vec<u8>,
}

/// The joiner's proof of the key, and its device, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joining {
    pub proof: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// What the joiner tells about itself (sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinerInfo {
    pub key: DeviceKey,
    pub name: String,
}

/// What the inviter gives the joiner (sealed): the team's keys and who is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub team_key: [u8; 32],
    pub vault_key: [u8; 32],
    pub role: String,
    pub founder: DeviceKey,
    pub inviter: DeviceKey,
    pub inviter_name: String,
    /// Addresses the inviter listens on for sync (`ip:port`).
    pub addrs: Vec<String>,
}

/// The key both sides derive, and what comes of it.
struct Keys {
    seal: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
}

fn keys(shared: &[u8]) -> Keys {
    let hk = Hkdf::<sha2_10::Sha256>::new(Some(b"fieldkit-mesh-pair-1"), shared);
    let mut seal = Zeroizing::new([0u8; 32]);
    let mut mac = Zeroizing::new([0u8; 32]);
    // 32 bytes are always a valid length for HKDF-SHA256.
    let _ = hk.expand(b"seal", seal.as_mut());
    let _ = hk.expand(b"confirm", mac.as_mut());
    Keys { seal, mac }
}

/// The MAC over who proves and both SPAKE2 messages, keyed by the confirmation key.
fn proof_mac(k: &Keys, who: &[u8], a: &[u8], b: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    // HMAC takes a key of any length.
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(k.mac.as_ref())
        .unwrap_or_else(|_| unreachable!());
    m.update(who);
    m.update(&(a.len() as u64).to_be_bytes());
    m.update(a);
    m.update(b);
    m
}

fn proof(k: &Keys, who: &[u8], a: &[u8], b: &[u8]) -> Vec<u8> {
    proof_mac(k, who, a, b).finalize().into_bytes().to_vec()
}

/// Checked in constant time.
fn proof_ok(k: &Keys, who: &[u8], a: &[u8], b: &[u8], got: &[u8]) -> bool {
    proof_mac(k, who, a, b).verify_slice(got).is_ok()
}

/// Seals `value` with a fresh nonce (the key is used for two messages, one each way: the
/// nonce's first byte says which, the rest is random).
fn seal<T: Serialize>(k: &Keys, dir: u8, value: &T) -> Result<Vec<u8>, String> {
    let plain = Zeroizing::new(serde_json::to_vec(value).map_err(|e| e.to_string())?);
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce[1..]).map_err(|e| e.to_string())?;
    nonce[0] = dir;
    let cipher = Aes256Gcm::new_from_slice(k.seal.as_ref()).map_err(|e| e.to_string())?;
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| "sealing failed".to_string())?,
    );
    Ok(out)
}

fn open<T: for<'de> Deserialize<'de>>(k: &Keys, dir: u8, sealed: &[u8]) -> Result<T, PairError> {
    if sealed.len() < 12 + 16 || sealed[0] != dir {
        return Err(PairError::Garbled("a sealed message too short".into()));
    }
    let cipher = Aes256Gcm::new_from_slice(k.seal.as_ref())
        .map_err(|e| PairError::Garbled(e.to_string()))?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&sealed[..12]), &sealed[12..])
            .map_err(|_| PairError::Garbled("a sealed message does not open".into()))?,
    );
    serde_json::from_slice(&plain).map_err(|e| PairError::Garbled(e.to_string()))
}

/// The joining side, between its `Hello` and the inviter's `Answer`.
pub struct Joiner {
    spake: Spake2<Ed25519Group>,
    hello: Hello,
}

/// The joining side, after its proof was sent, waiting for the welcome.
pub struct Joined {
    keys: Keys,
}

impl Joiner {
    pub fn start(code: &str) -> Result<(Joiner, Hello), String> {
        let code = parse_code(code)?;
        let (spake, msg) = Spake2::<Ed25519Group>::start_a(
            &Password::new(code.as_bytes()),
            &Identity::new(ID_JOINER),
            &Identity::new(ID_INVITER),
        );
        let hello = Hello {
            nameplate: code[..2].to_string(),
            spake: msg,
        };
        Ok((
            Joiner {
                spake,
                hello: hello.clone(),
            },
            hello,
        ))
    }

    /// The inviter's answer: checks its proof (a wrong code fails here), and says who this
    /// device is, sealed.
    pub fn finish(self, answer: &Answer, me: &JoinerInfo) -> Result<(Joined, Joining), PairError> {
        let shared = Zeroizing::new(
            self.spake
                .finish(&answer.spake)
                .map_err(|e| PairError::Garbled(format!("{e:?}")))?,
        );
        let k = keys(&shared);
        if !proof_ok(
            &k,
            ID_INVITER,
            &self.hello.spake,
            &answer.spake,
            &answer.proof,
        ) {
            return Err(PairError::WrongCode);
        }
        let joining = Joining {
            proof: proof(&k, ID_JOINER, &self.hello.spake, &answer.spake),
            sealed: seal(&k, 1, me).map_err(PairError::Garbled)?,
        };
        Ok((Joined { keys: k }, joining))
    }
}

impl Joined {
    /// The team's keys and who invited.
    pub fn welcome(&self, sealed: &[u8]) -> Result<Welcome, PairError> {
        open(&self.keys, 2, sealed)
    }
}

/// The inviting side, between its `Answer` and the joiner's proof.
pub struct Inviting {
    keys: Keys,
    hello: Vec<u8>,
    answer: Vec<u8>,
    pub role: Role,
    /// The code of the invite it spent.
    pub code: String,
}

/// Answers a joiner's `Hello` for the open invite it names, spending that invite whatever
/// comes of it.
pub fn answer(
    invites: &mut [Invite],
    hello: &Hello,
    now_ms: u64,
) -> Result<(Inviting, Answer), PairError> {
    let inv = invites
        .iter_mut()
        .find(|i| i.nameplate() == hello.nameplate)
        .ok_or(PairError::NoInvite)?;
    if inv.used {
        return Err(PairError::Used);
    }
    if now_ms > inv.expires_ms {
        return Err(PairError::Expired);
    }
    inv.used = true;
    let (spake, msg) = Spake2::<Ed25519Group>::start_b(
        &Password::new(inv.code.as_bytes()),
        &Identity::new(ID_JOINER),
        &Identity::new(ID_INVITER),
    );
    let shared = Zeroizing::new(
        spake
            .finish(&hello.spake)
            .map_err(|e| PairError::Garbled(format!("{e:?}")))?,
    );
    let k = keys(&shared);
    let answer = Answer {
        proof: proof(&k, ID_INVITER, &hello.spake, &msg),
        spake: msg,
    };
    Ok((
        Inviting {
            keys: k,
            hello: hello.spake.clone(),
            answer: answer.spake.clone(),
            role: inv.role,
            code: inv.code.clone(),
        },
        answer,
    ))
}

impl Inviting {
    /// The joiner's proof and device: who it is, once its proof checks.
    pub fn joiner(&self, j: &Joining) -> Result<JoinerInfo, PairError> {
        if !proof_ok(&self.keys, ID_JOINER, &self.hello, &self.answer, &j.proof) {
            return Err(PairError::WrongCode);
        }
        open(&self.keys, 1, &j.sealed)
    }

    /// The welcome, sealed for the joiner.
    pub fn welcome(&self, w: &Welcome) -> Result<Vec<u8>, String> {
        seal(&self.keys, 2, w)
    }
}
