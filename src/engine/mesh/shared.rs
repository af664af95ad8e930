//! Chats, workflows and team vault entries as mesh records, and back. Each is shaped by what it
//! is for:
//!
//! - A chat session marked shared is a record of kind `Chat` named by a random id (`SID`) with
//!   its name and system prompt; each message is a record of its own, `SID/AUTHOR-N`, never
//!   changed after (a regenerated answer is a tombstone), so two people adding to one chat
//!   apart both keep what they said. Messages show in the order of their clocks.
//! - A workflow marked `shared = true` is a record of kind `Workflow` named by the workflow,
//!   with its file's text. A team's workflow never runs here by itself: the text waits until
//!   someone here approves it (`fieldkit mesh approve NAME`), as a shell step from a peer would
//!   otherwise run on this machine unasked.
//! - A team vault entry is a record of kind `Secret` named by its team id, with one field: the
//!   entry sealed with the team vault key (AES-256-GCM, the record id as associated data, so a
//!   sealed entry moved to another record does not open). A device whose vault is locked keeps
//!   and relays the ciphertext; it is opened only into an unlocked vault.

use super::items::Change;
use super::replica::Replica;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use fieldkit_messages::mesh::{Kind, Value, DELETED};
use zeroize::Zeroizing;

/// The most bytes of one message's text (its content and attachments) a shared chat carries;
/// longer is cut, and says so.
pub const MAX_MESSAGE: usize = 40 * 1024;
/// The most bytes of a shared workflow file or a team vault entry: larger is not shared.
pub const MAX_SHARED: usize = 40 * 1024;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn change(kind: Kind, record: &str, field: &str, value: Value) -> Change {
    Change {
        kind,
        record: record.to_string(),
        field: field.to_string(),
        value,
    }
}

fn get_text(r: &Replica, kind: Kind, record: &str, field: &str) -> String {
    match r.value(kind, record, field) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

fn deleted(r: &Replica, kind: Kind, record: &str) -> bool {
    r.value(kind, record, DELETED) == Some(&Value::Int(1))
}

/// A random id for a record made here (16 hex digits).
pub fn new_id() -> Result<String, String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| format!("no random source: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Whether `s` may name a chat session or a team vault entry's record: what `new_id` makes.
pub fn valid_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---- chats ----

/// A shared chat session as the records hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedChat {
    pub name: String,
    pub system: String,
    pub deleted: bool,
}

/// A message of a shared chat as the records hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedMsg {
    pub record: String,
    pub role: String,
    pub content: String,
    /// The attachments, as the chat stores them (JSON).
    pub attachments: String,
    pub meta: String,
    /// When it was written, in ms (its writer's wall clock).
    pub at: i64,
    pub deleted: bool,
}

/// The changes that make the session record say `name` and `system`.
pub fn chat_changes(r: &Replica, sid: &str, name: &str, system: &str) -> Vec<Change> {
    let mut out = Vec::new();
    for (f, v) in [("name", name), ("system", system)] {
        if r.value(Kind::Chat, sid, f) != Some(&text(v)) {
            out.push(change(Kind::Chat, sid, f, text(v)));
        }
    }
    out
}

/// The id of message `n` (its row here) that device `author` added to session `sid`.
pub fn message_id(sid: &str, author: &[u8; 32], n: i64) -> String {
    let a: String = author[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{sid}/{a}-{n}")
}

/// A message's changes, its text cut to `MAX_MESSAGE` (attachments go first).
pub fn message_changes(rec: &str, m: &SharedMsg) -> Vec<Change> {
    let mut content = m.content.clone();
    let mut attachments = m.attachments.clone();
    if content.len() + attachments.len() > MAX_MESSAGE {
        attachments = "[]".into();
    }
    if content.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 64;
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        let whole = content.len();
        content.truncate(cut);
        content.push_str(&format!("\n… (cut to share: {whole} bytes)"));
    }
    vec![
        change(Kind::Chat, rec, "role", text(&m.role)),
        change(Kind::Chat, rec, "content", text(&content)),
        change(Kind::Chat, rec, "attachments", text(&attachments)),
        change(Kind::Chat, rec, "meta", text(&m.meta)),
        change(Kind::Chat, rec, "at", Value::Int(m.at)),
    ]
}

/// The change that deletes a chat record (a session, or one message).
pub fn delete(kind: Kind, rec: &str) -> Change {
    change(kind, rec, DELETED, Value::Int(1))
}

/// The session `sid`, if the records have it.
pub fn chat(r: &Replica, sid: &str) -> Option<SharedChat> {
    if r.value(Kind::Chat, sid, "name").is_none() && !deleted(r, Kind::Chat, sid) {
        return None;
    }
    Some(SharedChat {
        name: get_text(r, Kind::Chat, sid, "name"),
        system: get_text(r, Kind::Chat, sid, "system"),
        deleted: deleted(r, Kind::Chat, sid),
    })
}

/// The messages of session `sid`, in the order of their clocks (then ids), deleted ones too.
pub fn messages(r: &Replica, sid: &str) -> Vec<SharedMsg> {
    let mut out: Vec<SharedMsg> = r
        .records_from(Kind::Chat, &format!("{sid}/"))
        .into_iter()
        .map(|rec| SharedMsg {
            role: get_text(r, Kind::Chat, &rec, "role"),
            content: get_text(r, Kind::Chat, &rec, "content"),
            attachments: match r.value(Kind::Chat, &rec, "attachments") {
                Some(Value::Text(t)) => t.clone(),
                _ => "[]".into(),
            },
            meta: get_text(r, Kind::Chat, &rec, "meta"),
            at: match r.value(Kind::Chat, &rec, "at") {
                Some(Value::Int(n)) => *n,
                _ => 0,
            },
            deleted: deleted(r, Kind::Chat, &rec),
            record: rec,
        })
        // A message without a role never came whole (or was made by hand): not shown.
        .filter(|m| m.deleted || matches!(m.role.as_str(), "user" | "assistant" | "summary"))
        .collect();
    out.sort_by(|a, b| (a.at, &a.record).cmp(&(b.at, &b.record)));
    out
}

/// The session a chat record belongs to.
pub fn chat_of(rec: &str) -> &str {
    rec.split('/').next().unwrap_or(rec)
}

// ---- workflows ----

/// A workflow the team shares.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedWorkflow {
    pub name: String,
    pub text: String,
    /// The device that last wrote it.
    pub by: Option<[u8; 32]>,
    pub deleted: bool,
}

/// Whether `name` may name a workflow's file: letters, digits, `-` and `_` (as the workflow
/// definitions check), so a peer's record cannot name a path.
pub fn valid_workflow_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The change that shares workflow `name` with its file's `text`, when the records differ.
pub fn workflow_changes(r: &Replica, name: &str, file_text: &str) -> Result<Vec<Change>, String> {
    if !valid_workflow_name(name) {
        return Err(format!("workflow {name:?}: its name cannot be shared"));
    }
    if file_text.len() > MAX_SHARED {
        return Err(format!(
            "workflow {name}: {} bytes, over the {MAX_SHARED} a shared workflow may be",
            file_text.len()
        ));
    }
    let mut out = Vec::new();
    if r.value(Kind::Workflow, name, "text") != Some(&text(file_text)) {
        out.push(change(Kind::Workflow, name, "text", text(file_text)));
    }
    if deleted(r, Kind::Workflow, name) {
        out.push(change(Kind::Workflow, name, DELETED, Value::Int(0)));
    }
    Ok(out)
}

/// The workflows the records hold, by name.
pub fn workflows(r: &Replica) -> Vec<SharedWorkflow> {
    r.records(Kind::Workflow)
        .into_iter()
        .filter(|n| valid_workflow_name(n))
        .map(|n| SharedWorkflow {
            text: get_text(r, Kind::Workflow, &n, "text"),
            by: r.writer(Kind::Workflow, &n, "text"),
            deleted: deleted(r, Kind::Workflow, &n),
            name: n,
        })
        .collect()
}

// ---- team vault entries ----

fn cipher(key: &[u8; 32]) -> Result<Aes256Gcm, String> {
    Aes256Gcm::new_from_slice(key).map_err(|_| "bad key length".to_string())
}

fn aad(rec: &str) -> Vec<u8> {
    let mut a = b"fieldkit-team-secret-1:".to_vec();
    a.extend_from_slice(rec.as_bytes());
    a
}

/// `plain` (an entry's JSON) sealed for record `rec`: a 12-byte nonce, then the ciphertext.
pub fn seal(key: &[u8; 32], rec: &str, plain: &[u8]) -> Result<Vec<u8>, String> {
    if plain.len() > MAX_SHARED {
        return Err(format!(
            "{} bytes, over the {MAX_SHARED} a team vault entry may be (a long note?)",
            plain.len()
        ));
    }
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| format!("no random source: {e}"))?;
    let ct = cipher(key)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &aad(rec),
            },
        )
        .map_err(|_| "sealing failed".to_string())?;
    let mut out = nonce.to_vec();
    out.extend(ct);
    Ok(out)
}

/// Opens what `seal` made for `rec`, into memory that is wiped when dropped.
pub fn open(key: &[u8; 32], rec: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    if sealed.len() < 12 + 16 {
        return Err("too short to be a sealed entry".into());
    }
    cipher(key)?
        .decrypt(
            Nonce::from_slice(&sealed[..12]),
            Payload {
                msg: &sealed[12..],
                aad: &aad(rec),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| "it does not open with the team vault key".to_string())
}

/// The change that puts sealed entry `sealed` in record `rec`.
pub fn secret_change(rec: &str, sealed: Vec<u8>) -> Vec<Change> {
    vec![change(Kind::Secret, rec, "sealed", Value::Bytes(sealed))]
}

/// A team vault entry as the records hold it: sealed bytes, or deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum SharedSecret {
    Sealed(Vec<u8>),
    Deleted,
}

/// Team vault entry `rec`, if the records have it.
pub fn secret(r: &Replica, rec: &str) -> Option<SharedSecret> {
    if deleted(r, Kind::Secret, rec) {
        return Some(SharedSecret::Deleted);
    }
    match r.value(Kind::Secret, rec, "sealed") {
        Some(Value::Bytes(b)) => Some(SharedSecret::Sealed(b.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_entry_opens_only_with_the_key_and_its_own_record() {
        let k = [5u8; 32];
        let s = seal(&k, "0011223344556677", b"{\"title\":\"radio\"}").unwrap();
        assert_eq!(
            open(&k, "0011223344556677", &s).unwrap().as_slice(),
            b"{\"title\":\"radio\"}"
        );
        assert!(open(&[6u8; 32], "0011223344556677", &s).is_err());
        assert!(open(&k, "8899aabbccddeeff", &s).is_err(), "moved record");
        let mut bad = s.clone();
        bad[14] ^= 1;
        assert!(open(&k, "0011223344556677", &bad).is_err());
        assert!(open(&k, "0011223344556677", &s[..20]).is_err());
        assert!(seal(&k, "r", &vec![b'x'; MAX_SHARED + 1]).is_err());
    }

    #[test]
    fn a_long_message_is_cut_and_says_so_and_names_are_checked() {
        let m = SharedMsg {
            record: "r".into(),
            role: "assistant".into(),
            content: "é".repeat(MAX_MESSAGE),
            attachments: "[{\"title\":\"a\",\"body\":\"b\"}]".into(),
            meta: String::new(),
            at: 1,
            deleted: false,
        };
        let ch = message_changes("s/x-1", &m);
        let total: usize = ch
            .iter()
            .map(|c| match &c.value {
                Value::Text(t) => t.len(),
                _ => 8,
            })
            .sum();
        assert!(total <= MAX_MESSAGE, "{total}");
        let Value::Text(content) = &ch[1].value else {
            panic!("content")
        };
        assert!(content.ends_with(&format!("(cut to share: {} bytes)", 2 * MAX_MESSAGE)));
        assert_eq!(ch[2].value, Value::Text("[]".into()));
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_workflow_name(bad), "{bad:?}");
        }
        assert!(valid_workflow_name("daily-sync_2"));
        assert!(valid_id("00112233aabbccdd") && !valid_id("0011/233aabbccdd"));
        assert_eq!(chat_of("00112233aabbccdd/1a2b3c4d-7"), "00112233aabbccdd");
    }
}
