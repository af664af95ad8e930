/*!
Text in and out of a model: the fallback prompt for models without a usable chat template
(a plain transcript primed with two worked exchanges) and its stop strings, held back until
they cannot be a stop; and UTF-8 assembled from token pieces that may split a character.
*/

use super::*;

/// Two worked exchanges at the head of the fallback transcript: a base model continues what it
/// sees, so it needs to be shown that an assistant's line answers the user's.
pub(super) const FALLBACK_PRIMER: &str = "User: What is the boiling point of water at sea level?\n\
Assistant: 100 °C (212 °F).\n\
User: How do I show the current directory in a shell?\n\
Assistant: Run `pwd`.\n";

/// The fallback chat format for models without a template (base models): a plain
/// transcript, primed with two exchanges, which a base model continues as the assistant.
pub fn fallback_prompt(turns: &[Turn]) -> String {
    let mut s = String::new();
    let mut primed = false;
    for t in turns {
        if t.role != Role::System && !primed {
            s.push_str(FALLBACK_PRIMER);
            primed = true;
        }
        match t.role {
            Role::System => {
                s.push_str(t.content.trim());
                s.push_str("\n\n");
            }
            Role::User => {
                s.push_str("User: ");
                s.push_str(t.content.trim());
                s.push('\n');
            }
            Role::Assistant => {
                s.push_str("Assistant: ");
                s.push_str(t.content.trim());
                s.push('\n');
            }
        }
    }
    s.push_str("Assistant:");
    s
}

/// Where the fallback transcript's next turn starts: generation stops there.
pub(super) const FALLBACK_STOPS: &[&str] = &["\nUser:", "\nAssistant:", "\nSystem:"];

/// Holds back text that might be the start of a stop string, and ends at one.
#[derive(Default)]
pub(super) struct StopFilter {
    pub(super) stops: Vec<String>,
    pub(super) held: String,
}

impl StopFilter {
    /// Takes new text; returns what may be shown now and whether a stop string was met.
    pub(super) fn push(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        for s in &self.stops {
            if let Some(i) = self.held.find(s.as_str()) {
                let out = self.held[..i].to_string();
                self.held.clear();
                return (out, true);
            }
        }
        // Keep the longest tail that is a prefix of some stop string.
        let mut keep = 0;
        for s in &self.stops {
            for n in (1..s.len()).rev() {
                if n <= self.held.len()
                    && self.held.is_char_boundary(self.held.len() - n)
                    && s.starts_with(&self.held[self.held.len() - n..])
                {
                    keep = keep.max(n);
                    break;
                }
            }
        }
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }
    pub(super) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Turns token bytes into text, holding back an incomplete UTF-8 sequence.
#[derive(Default)]
pub(super) struct Utf8Stream(Vec<u8>);

impl Utf8Stream {
    pub(super) fn push(&mut self, bytes: &[u8]) -> String {
        self.0.extend_from_slice(bytes);
        match std::str::from_utf8(&self.0) {
            Ok(s) => {
                let out = s.to_string();
                self.0.clear();
                out
            }
            Err(e) if e.error_len().is_none() => {
                let good = e.valid_up_to();
                let out = String::from_utf8_lossy(&self.0[..good]).into_owned();
                self.0.drain(..good);
                out
            }
            Err(_) => {
                let out = String::from_utf8_lossy(&self.0).into_owned();
                self.0.clear();
                out
            }
        }
    }
}
