/*!
What a vault holds, as the plaintext inside its region: entries with their secrets, serialised
as JSON into memory that is zeroized. Every secret string is wiped when its entry is dropped
(a lock drops them all). One struct serves logins, secure notes and files (the kind says which
fields the pane leads with), as KeePassXC's entries do: a note may have a password, a login a
file. Every field but the title defaults, so a vault written by an older fieldkit reads.
*/

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// What an entry is mainly for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Login,
    Note,
    File,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Note => "note",
            Kind::File => "file",
        }
    }
}

/// A field of the user's own (a PIN, a recovery code); `secret` ones are masked like passwords.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub secret: bool,
}

impl Drop for Field {
    fn drop(&mut self) {
        self.name.zeroize();
        self.value.zeroize();
    }
}

/// A password the entry had before, and until when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldPassword {
    pub password: String,
    pub until: u64,
}

impl Drop for OldPassword {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

/// A file sealed beside the vault (`attach.rs`): where it is, what it was called, and the key
/// that opens it. The key lives only here, inside the vault's ciphertext.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub key: String,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.name.zeroize();
        self.key.zeroize();
    }
}

/// How many old passwords an entry keeps.
pub const HISTORY: usize = 20;

/// `Debug` shows the title and kind only: an entry must never reach a log whole.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub kind: Kind,
    pub title: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub folder: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A TOTP secret (base32) or otpauth URI; the code is computed when asked.
    #[serde(default)]
    pub totp: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Passwords it had, newest first.
    #[serde(default)]
    pub history: Vec<OldPassword>,
    #[serde(default)]
    pub file: Option<Attachment>,
    /// Seconds since the epoch of the last change (inside the ciphertext, like everything).
    #[serde(default)]
    pub updated: u64,
    /// The team's id of an entry in the team folder (the mesh names its record so); empty for
    /// the others. (Always written: entries also travel in a binary frame, where a field left
    /// out would misread.)
    #[serde(default)]
    pub team_id: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.title.zeroize();
        self.user.zeroize();
        self.password.zeroize();
        self.url.zeroize();
        self.note.zeroize();
        self.folder.zeroize();
        self.tags.zeroize();
        self.totp.zeroize();
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Entry {{ {:?}, {}, <redacted> }}",
            self.title,
            self.kind.name()
        )
    }
}

/// Changes to an entry (`vault edit`, the pane's form): each `Some` replaces that field. Short
/// lived (it is applied and dropped); not zeroized itself, which would forbid `..default()`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub title: Option<String>,
    pub kind: Option<Kind>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub url: Option<String>,
    pub note: Option<String>,
    pub folder: Option<String>,
    pub tags: Option<Vec<String>>,
    pub totp: Option<String>,
    /// A field of the user's own to set (an empty value removes it).
    pub field: Option<Field>,
}

impl Edit {
    /// Checks what can be checked before anything changes: a TOTP secret must read.
    pub fn check(&self) -> Result<(), String> {
        if let Some(t) = self.totp.as_deref().filter(|t| !t.trim().is_empty()) {
            super::totp::Totp::parse(t).map_err(|e| format!("the TOTP secret: {e}"))?;
        }
        if self.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err("an entry needs a title".into());
        }
        Ok(())
    }

    pub fn apply(&self, e: &mut Entry) {
        let set = |dst: &mut String, src: &Option<String>| {
            if let Some(v) = src {
                dst.zeroize();
                *dst = v.clone();
            }
        };
        set(&mut e.title, &self.title);
        set(&mut e.user, &self.user);
        set(&mut e.url, &self.url);
        set(&mut e.note, &self.note);
        set(&mut e.folder, &self.folder);
        set(&mut e.totp, &self.totp);
        if let Some(k) = self.kind {
            e.kind = k;
        }
        if let Some(t) = &self.tags {
            e.tags = t.clone();
        }
        if let Some(p) = &self.password {
            e.set_password(p);
        }
        if let Some(f) = &self.field {
            let at = e
                .fields
                .iter()
                .position(|x| x.name.eq_ignore_ascii_case(&f.name));
            match (at, f.value.is_empty()) {
                (Some(i), true) => {
                    e.fields.remove(i);
                }
                (Some(i), false) => e.fields[i] = f.clone(),
                (None, false) => e.fields.push(f.clone()),
                (None, true) => {}
            }
        }
        e.updated = now();
    }
}

impl Entry {
    /// A new entry titled `title`, changed now.
    pub fn titled(title: &str) -> Entry {
        let mut e = Entry::default();
        e.title = title.to_string();
        e.updated = now();
        e
    }

    /// A field by its name on the command line: the built-in ones, `totp` (the current code),
    /// `tags`, `history`, or one of the entry's own fields. `Err` says what there is.
    pub fn field(&self, name: &str) -> Result<Zeroizing<String>, String> {
        let v = |s: &str| Ok(Zeroizing::new(s.to_string()));
        match name {
            "password" => v(&self.password),
            "user" | "username" => v(&self.user),
            "url" => v(&self.url),
            "note" | "notes" => v(&self.note),
            "title" => v(&self.title),
            "folder" => v(&self.folder),
            "tags" => v(&self.tags.join(", ")),
            "totp" if self.totp.is_empty() => Err(format!("{:?} has no TOTP secret", self.title)),
            "totp" => super::totp::Totp::parse(&self.totp)
                .map(|t| Zeroizing::new(t.now().code))
                .map_err(|e| format!("the TOTP secret of {:?} does not read: {e}", self.title)),
            "history" => v(&self
                .history
                .iter()
                .map(|h| format!("{}\t{}\n", utc(h.until), h.password))
                .collect::<String>()),
            other => match self
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(other))
            {
                Some(f) => v(&f.value),
                None => {
                    let mut names: Vec<&str> = vec![
                        "password", "user", "url", "note", "totp", "title", "folder", "tags",
                        "history",
                    ];
                    names.extend(self.fields.iter().map(|f| f.name.as_str()));
                    Err(format!(
                        "no field {other:?} in {:?}: {}",
                        self.title,
                        names.join(", ")
                    ))
                }
            },
        }
    }

    /// A new password, the old one kept in the history (the newest `HISTORY`).
    pub fn set_password(&mut self, new: &str) {
        if new == self.password {
            return;
        }
        if !self.password.is_empty() {
            let old = OldPassword {
                password: std::mem::take(&mut self.password),
                until: now(),
            };
            self.history.insert(0, old);
            self.history.truncate(HISTORY);
        }
        self.password = new.to_string();
    }

    /// `folder/title`, as lists show it.
    pub fn path(&self) -> String {
        if self.folder.is_empty() {
            self.title.clone()
        } else {
            format!("{}/{}", self.folder, self.title)
        }
    }
}

/// `2026-11-29 09:55 UTC` for seconds since the epoch (Hinnant's days-to-civil).
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Seconds since the epoch, on the wall clock.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entries {
    pub entries: Vec<Entry>,
    /// The keys of the team vaults this device is in (the mesh's; one per team), kept here
    /// so that the team's entries on this disk open only with this vault's passphrase.
    #[serde(default)]
    pub team_keys: Vec<TeamKey>,
}

/// A team vault key: the team (its founder's key, hex) and the key (hex).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamKey {
    pub team: String,
    pub key: String,
}

impl Drop for TeamKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl std::fmt::Debug for TeamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TeamKey({}, <redacted>)", self.team)
    }
}

impl Entries {
    pub fn from_plaintext(p: &[u8]) -> Result<Entries, String> {
        if p.is_empty() {
            return Ok(Entries::default());
        }
        serde_json::from_slice(p).map_err(|e| format!("the vault's contents do not read ({e})"))
    }

    /// The JSON, in memory that is wiped when dropped.
    pub fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        // Writing JSON into memory fails only when out of memory.
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.clear();
        }
        out
    }

    /// The entry titled `title` (case-insensitively), or at `folder/title`.
    pub fn find(&self, title: &str) -> Option<&Entry> {
        self.position(title).map(|i| &self.entries[i])
    }

    pub fn find_mut(&mut self, title: &str) -> Option<&mut Entry> {
        self.position(title).map(|i| &mut self.entries[i])
    }

    pub fn position(&self, title: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.title.eq_ignore_ascii_case(title))
            .or_else(|| {
                self.entries
                    .iter()
                    .position(|e| e.path().eq_ignore_ascii_case(title))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_945_791), "2026-11-29 09:49 UTC");
    }

    #[test]
    fn password_history_fields_and_totp() {
        let mut e = Entry::titled("Radio");
        e.set_password("one");
        e.set_password("two");
        e.set_password("two");
        e.set_password("three");
        assert_eq!(e.password, "three");
        let old: Vec<&str> = e.history.iter().map(|h| h.password.as_str()).collect();
        assert_eq!(old, ["two", "one"]);
        for i in 0..30 {
            e.set_password(&format!("p{i}"));
        }
        assert_eq!(e.history.len(), HISTORY);
        e.fields.push(Field {
            name: "PIN".into(),
            value: "0451".into(),
            secret: true,
        });
        assert_eq!(e.field("pin").map(|v| v.to_string()), Ok("0451".into()));
        let err = e.field("nope").unwrap_err();
        assert!(err.contains("PIN") && err.contains("password"), "{err}");
        assert!(e.field("totp").unwrap_err().contains("no TOTP"));
        e.totp = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into();
        let code = e.field("totp").expect("code");
        assert!(
            code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()),
            "{}",
            *code
        );
        e.folder = "camp".into();
        let mut v = Entries::default();
        v.entries.push(e);
        assert!(v.find("camp/radio").is_some() && v.find("radio").is_some());
    }

    #[test]
    fn entries_round_trip_through_the_plaintext() {
        let mut v = Entries::default();
        let mut e = Entry::default();
        e.title = "radio".into();
        e.user = "ops".into();
        e.password = "s3cret".into();
        v.entries.push(e);
        let p = v.to_plaintext();
        let back = Entries::from_plaintext(&p).expect("read");
        assert_eq!(back, v);
        let got = back.find("RADIO").map(|e| e.field("password"));
        assert_eq!(
            got.as_ref().map(|f| f.as_ref().map(|s| s.as_str())),
            Some(Ok("s3cret"))
        );
        assert!(Entries::from_plaintext(b"{not json").is_err());
        // A vault written before kinds, fields, TOTP and history reads with their defaults.
        let old =
            Entries::from_plaintext(br#"{"entries":[{"title":"a","password":"p"}]}"#).expect("old");
        assert_eq!(old.entries[0].kind, Kind::Login);
        assert_eq!(
            Entries::from_plaintext(b"").expect("empty"),
            Entries::default()
        );
    }
}
