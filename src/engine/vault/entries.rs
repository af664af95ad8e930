/*!
What a vault holds, as the plaintext inside its region: entries with their secrets, serialised
as JSON into memory that is zeroized. Every secret string is wiped when its entry is dropped
(a lock drops them all).
*/

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
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
    /// Seconds since the epoch of the last change (inside the ciphertext, like everything).
    #[serde(default)]
    pub updated: u64,
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
    }
}

impl Entry {
    /// A field by its name on the command line.
    pub fn field(&self, name: &str) -> Option<&str> {
        Some(match name {
            "password" => &self.password,
            "user" | "username" => &self.user,
            "url" => &self.url,
            "note" | "notes" => &self.note,
            "title" => &self.title,
            "folder" => &self.folder,
            _ => return None,
        })
    }
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entries {
    pub entries: Vec<Entry>,
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

    /// The entry titled `title` (case-insensitively).
    pub fn find(&self, title: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.title.eq_ignore_ascii_case(title))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            back.find("RADIO").and_then(|e| e.field("password")),
            Some("s3cret")
        );
        assert!(Entries::from_plaintext(b"{not json").is_err());
        assert_eq!(
            Entries::from_plaintext(b"").expect("empty"),
            Entries::default()
        );
    }
}
