/*!
Keymaps as data.

`keymaps/default.toml` is compiled in; `~/.config/fieldkit/keymap.toml` merges over it (a
binding with the same scope and keys replaces the default; `run = "unbind"` removes it). Every
binding carries a description, so the hint bar, help and the palette are generated from the
keymap rather than written by hand. Errors name the file, the line and the key.

Dispatch (`Keymap::resolve`) is a small state machine per client: prefix pending or not, plus
the keys typed so far of a multi-key binding.
*/

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fieldkit_panes::{Action, PaneKind};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

pub const DEFAULT_KEYMAP: &str = include_str!("../keymaps/default.toml");

/// A key with its modifiers, normalised so that `Shift` is folded into characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            c => c,
        };
        Key { code, mods }
    }

    pub fn event(&self) -> KeyEvent {
        KeyEvent::new(self.code, self.mods)
    }

    /// Parses the notation keymaps use: `C-b`, `M-Left`, `S-F5`, `C-M-x`, `Enter`, `%`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let (m, r) = match rest.get(..2) {
                Some("C-") if rest.len() > 2 => (KeyModifiers::CONTROL, &rest[2..]),
                Some("M-") if rest.len() > 2 => (KeyModifiers::ALT, &rest[2..]),
                Some("S-") if rest.len() > 2 => (KeyModifiers::SHIFT, &rest[2..]),
                _ => break,
            };
            mods |= m;
            rest = r;
        }
        let code = match rest {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "BackTab" => KeyCode::BackTab,
            "Space" => KeyCode::Char(' '),
            "Backspace" => KeyCode::Backspace,
            "Delete" => KeyCode::Delete,
            "Insert" => KeyCode::Insert,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            f if f.len() > 1 && f.starts_with('F') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=24) => KeyCode::F(n),
                _ => return Err(format!("unknown key name {s:?}")),
            },
            c => {
                let mut chars = c.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) if !ch.is_control() => KeyCode::Char(ch),
                    _ => return Err(format!("unknown key name {s:?}")),
                }
            }
        };
        let mut key = Key { code, mods };
        if let KeyCode::Char(c) = code {
            if mods.contains(KeyModifiers::SHIFT) {
                key.mods.remove(KeyModifiers::SHIFT);
                key.code = KeyCode::Char(c.to_ascii_uppercase());
            }
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("C-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("M-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("S-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("BackTab"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Delete"),
            KeyCode::Insert => f.write_str("Insert"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PageUp"),
            KeyCode::PageDown => f.write_str("PageDown"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read before anything else, in every pane, terminals and popups included (panic).
    Always,
    Global,
    Prefix,
    Pane(PaneKind),
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Always => "always",
            Scope::Global => "global",
            Scope::Prefix => "prefix",
            Scope::Pane(k) => k.name(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub scope: Scope,
    pub keys: Vec<Key>,
    pub action: Action,
    pub desc: String,
}

impl Binding {
    /// The keys as a person types them, with the prefix where it applies: `C-b %`.
    pub fn keys_label(&self, prefix: Key) -> String {
        let keys = self
            .keys
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        if self.scope == Scope::Prefix {
            format!("{prefix} {keys}")
        } else {
            keys
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub prefix: Key,
    pub bindings: Vec<Binding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    on: Spanned<Vec<Spanned<String>>>,
    run: Spanned<String>,
    desc: Option<String>,
}

/// Reads a keymap file: the document is walked by hand, first for scope names and the prefix
/// chord (`prefix_key`), then each scope's bindings are read with spans for line numbers.
fn parse_file(text: &str, file: &str) -> Result<(Option<Key>, Vec<Binding>), String> {
    let value: toml::Table = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    let mut prefix = None;
    let mut bindings = Vec::new();
    for (name, v) in value.iter() {
        let scope = match name.as_str() {
            "prefix_key" => {
                let line = find_line(text, "prefix_key");
                let key = v
                    .as_str()
                    .ok_or_else(|| {
                        format!("{file}:{line}: prefix_key must be a key name like \"C-a\"")
                    })
                    .and_then(|s| {
                        Key::parse(s).map_err(|e| format!("{file}:{line}: prefix_key: {e}"))
                    })?;
                prefix = Some(key);
                continue;
            }
            "prefix" => Scope::Prefix,
            "global" => Scope::Global,
            "always" => Scope::Always,
            other => match PaneKind::from_name(other) {
                Some(kind) => Scope::Pane(kind),
                None => {
                    let line = find_line(text, other);
                    return Err(format!(
                        "{file}:{line}: unknown scope {other:?} (prefix_key, always, global, prefix, or a pane kind: {})",
                        PaneKind::ALL.map(|k| k.name()).join(", ")
                    ));
                }
            },
        };
        let specs = spanned_bindings(text, name).map_err(|e| format!("{file}: {e}"))?;
        for spec in specs {
            bindings.push(to_binding(scope, spec, file, text)?);
        }
    }
    Ok((prefix, bindings))
}

/// Reads `[[scope]]` tables with spans by deserializing a document that maps the scope name
/// to `Vec<BindingSpec>`.
fn spanned_bindings(text: &str, scope: &str) -> Result<Vec<BindingSpec>, String> {
    struct Visitor<'a>(&'a str);
    impl<'de> serde::de::Visitor<'de> for Visitor<'_> {
        type Value = Vec<BindingSpec>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a keymap table")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == self.0 {
                    out = map.next_value::<Vec<BindingSpec>>()?;
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    struct Seed<'a>(&'a str);
    impl<'de> serde::de::DeserializeSeed<'de> for Seed<'_> {
        type Value = Vec<BindingSpec>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(Visitor(self.0))
        }
    }
    use serde::de::DeserializeSeed;
    let de = toml::Deserializer::new(text);
    Seed(scope).deserialize(de).map_err(|e| {
        let line = e
            .span()
            .map(|s| line_of(text, s.start).to_string())
            .unwrap_or_else(|| "?".into());
        format!("line {line}: in [[{scope}]]: {}", e.message().trim())
    })
}

fn to_binding(scope: Scope, spec: BindingSpec, file: &str, text: &str) -> Result<Binding, String> {
    let on_line = line_of(text, spec.on.span().start);
    let keys_text: Vec<String> = spec
        .on
        .get_ref()
        .iter()
        .map(|k| k.get_ref().clone())
        .collect();
    if keys_text.is_empty() {
        return Err(format!(
            "{file}:{on_line}: `on` is empty in [[{}]]",
            scope.name()
        ));
    }
    let mut keys = Vec::new();
    for k in spec.on.get_ref() {
        let line = line_of(text, k.span().start);
        keys.push(Key::parse(k.get_ref()).map_err(|e| {
            format!(
                "{file}:{line}: {e} in [[{}]] on = {keys_text:?}",
                scope.name()
            )
        })?);
    }
    let run_line = line_of(text, spec.run.span().start);
    let action = Action::parse(spec.run.get_ref()).map_err(|e| {
        format!(
            "{file}:{run_line}: {e} for key {keys_text:?} in [[{}]]",
            scope.name()
        )
    })?;
    let desc = spec.desc.unwrap_or_else(|| action.info().desc.to_string());
    Ok(Binding {
        scope,
        keys,
        action,
        desc,
    })
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// First line on which `word` starts a key or table header (for errors without a span).
fn find_line(text: &str, word: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('[');
            l.starts_with(word)
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

/// A TOML error as `file:line: message`.
pub(crate) fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    format!("{file}:{line}: {}", e.message().trim())
}

impl Keymap {
    /// The shipped keymap. It is tested to parse, so this cannot fail in a release.
    pub fn default_map() -> Keymap {
        match Self::from_str(DEFAULT_KEYMAP, "keymaps/default.toml", None) {
            Ok(k) => k,
            Err(e) => panic!("the shipped keymap is broken: {e}"),
        }
    }

    /// Parses `text` (named `file` in errors), merged over `base` if given.
    pub fn from_str(text: &str, file: &str, base: Option<&Keymap>) -> Result<Keymap, String> {
        let (prefix, bindings) = parse_file(text, file)?;
        let mut map = match base {
            Some(b) => b.clone(),
            None => Keymap {
                prefix: prefix.unwrap_or(Key {
                    code: KeyCode::Char('b'),
                    mods: KeyModifiers::CONTROL,
                }),
                bindings: Vec::new(),
            },
        };
        if let Some(p) = prefix {
            map.prefix = p;
        }
        for b in bindings {
            let existing = map
                .bindings
                .iter()
                .position(|x| x.scope == b.scope && x.keys == b.keys);
            match (existing, b.action == Action::Unbind) {
                (Some(i), true) => {
                    map.bindings.remove(i);
                }
                (None, true) => {}
                (Some(i), false) => map.bindings[i] = b,
                (None, false) => map.bindings.push(b),
            }
        }
        Ok(map)
    }

    /// Bindings of one scope, in file order.
    pub fn scope(&self, scope: Scope) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.scope == scope)
    }

    /// The first binding that runs `action`, for labels in the palette.
    /// The keys bound to `action`; for a resize, those bound to a resize the same way by any
    /// number of cells (the palette lists `resize up`, the keymap binds `resize up 1`).
    pub fn key_for(&self, action: &Action) -> Option<String> {
        let same = |b: &&Binding| match (&b.action, action) {
            (Action::Resize(d, _), Action::Resize(want, _)) => d == want,
            (a, want) => a == want,
        };
        self.bindings
            .iter()
            .find(|b| &b.action == action)
            .or_else(|| self.bindings.iter().find(same))
            .map(|b| b.keys_label(self.prefix))
    }

    /// The scopes consulted for a pane of `kind`, in order. Kinds registered as taking every
    /// key but the prefix (terminals) do not get the global bindings.
    pub fn scopes_for(kind: PaneKind, prefix_pending: bool) -> Vec<Scope> {
        if prefix_pending {
            vec![Scope::Prefix]
        } else if fieldkit_panes::registry::takes_all_keys(kind) {
            vec![Scope::Pane(kind)]
        } else if kind == PaneKind::Sql {
            // The SQL editor is the code editor in SQL mode: the editor's keys apply where
            // the SQL ones do not bind the key first.
            vec![
                Scope::Pane(kind),
                Scope::Pane(PaneKind::Editor),
                Scope::Global,
            ]
        } else {
            vec![Scope::Pane(kind), Scope::Global]
        }
    }

    /// The action of a key bound in `[[always]]` (read before panes, popups and the prefix).
    pub fn always(&self, key: Key) -> Option<Action> {
        self.scope(Scope::Always)
            .find(|b| b.keys == [key])
            .map(|b| b.action.clone())
    }

    /// Feeds one key to the dispatch state machine.
    pub fn resolve(&self, state: &mut KeyState, key: Key, kind: PaneKind) -> Resolved {
        if let Some(a) = self.always(key) {
            state.pending.clear();
            state.prefix = false;
            return Resolved::Action(a);
        }
        if !state.prefix && state.pending.is_empty() && key == self.prefix {
            state.prefix = true;
            return Resolved::Pending;
        }
        let scopes = Self::scopes_for(kind, state.prefix);
        let mut seq = state.pending.clone();
        seq.push(key);
        let mut partial = false;
        for scope in &scopes {
            for b in self.scope(*scope) {
                if b.keys == seq {
                    state.pending.clear();
                    state.prefix = false;
                    return Resolved::Action(b.action.clone());
                }
                if b.keys.len() > seq.len() && b.keys[..seq.len()] == seq[..] {
                    partial = true;
                }
            }
        }
        if partial {
            state.pending = seq;
            return Resolved::Pending;
        }
        let was_prefix = state.prefix;
        state.pending.clear();
        state.prefix = false;
        if was_prefix {
            Resolved::Unbound
        } else {
            Resolved::Input(seq)
        }
    }

    /// The keymap as a Markdown table (the README's key table is this, verbatim).
    pub fn markdown(&self) -> String {
        let mut out = String::from("| keys | action | what it does | where |\n|---|---|---|---|\n");
        for b in &self.bindings {
            let keys = b.keys_label(self.prefix).replace('|', "\\|");
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                keys,
                b.action,
                b.desc,
                match b.scope {
                    Scope::Always => "everywhere, terminals too".to_string(),
                    Scope::Global => "everywhere but terminals".to_string(),
                    Scope::Prefix => "after the prefix".to_string(),
                    Scope::Pane(k) => format!("{} pane", k.name()),
                }
            ));
        }
        out
    }
}

#[derive(Debug, Default, Clone)]
pub struct KeyState {
    pub prefix: bool,
    pub pending: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Wait for more keys (prefix or the start of a multi-key binding).
    Pending,
    Action(Action),
    /// No binding: give these keys to the pane.
    Input(Vec<Key>),
    /// A key after the prefix that means nothing: dropped.
    Unbound,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_panes::Dir;

    fn k(s: &str) -> Key {
        Key::parse(s).expect(s)
    }

    #[test]
    fn key_notation_round_trips() {
        for s in [
            "C-b", "M-Left", "C-M-x", "F12", "%", "\"", "Space", "Enter", "A", "S-Tab",
        ] {
            assert_eq!(k(s).to_string(), s);
        }
        assert_eq!(k("S-a"), k("A"));
        assert_eq!(
            k("-"),
            Key {
                code: KeyCode::Char('-'),
                mods: KeyModifiers::NONE
            }
        );
        assert_eq!(
            Key::parse("Hyper"),
            Err("unknown key name \"Hyper\"".into())
        );
        assert!(Key::parse("F99").is_err());
    }

    #[test]
    fn shipped_keymap_parses_and_has_descriptions() {
        let map = Keymap::default_map();
        assert_eq!(map.prefix, k("C-b"));
        assert!(map.bindings.len() > 30);
        assert!(map.bindings.iter().all(|b| !b.desc.is_empty()));
        let split = map.scope(Scope::Prefix).find(|b| b.keys == vec![k("%")]);
        assert_eq!(split.map(|b| &b.action), Some(&Action::SplitRight));
    }

    #[test]
    fn user_keymap_merges_and_unbinds() {
        let base = Keymap::default_map();
        let user = r#"
prefix_key = "C-a"

[[prefix]]
on = ["%"]
run = "split-down"

[[prefix]]
on = ["x"]
run = "unbind"

[[global]]
on = ["M-z"]
run = "zoom"
desc = "Zoom"
"#;
        let map = Keymap::from_str(user, "keymap.toml", Some(&base)).expect("merge");
        assert_eq!(map.prefix, k("C-a"));
        let pct: Vec<_> = map
            .scope(Scope::Prefix)
            .filter(|b| b.keys == vec![k("%")])
            .collect();
        assert_eq!(pct.len(), 1);
        assert_eq!(pct[0].action, Action::SplitDown);
        assert!(map.scope(Scope::Prefix).all(|b| b.keys != vec![k("x")]));
        assert!(map.scope(Scope::Global).any(|b| b.action == Action::Zoom));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let bad_action = "[[prefix]]\non = [\"%\"]\nrun = \"spilt-right\"\n";
        let e = Keymap::from_str(bad_action, "keymap.toml", None).unwrap_err();
        assert_eq!(
            e,
            "keymap.toml:3: unknown action \"spilt-right\" for key [\"%\"] in [[prefix]]"
        );
        let bad_key = "[[global]]\non = [\"C-Hyper\"]\nrun = \"zoom\"\n";
        let e = Keymap::from_str(bad_key, "keymap.toml", None).unwrap_err();
        assert!(
            e.starts_with("keymap.toml:2: unknown key name \"C-Hyper\""),
            "{e}"
        );
        let bad_scope = "[[sidebar]]\non = [\"a\"]\nrun = \"zoom\"\n";
        let e = Keymap::from_str(bad_scope, "keymap.toml", None).unwrap_err();
        assert!(
            e.starts_with("keymap.toml:1: unknown scope \"sidebar\""),
            "{e}"
        );
        let bad_field = "[[global]]\non = [\"a\"]\nrun = \"zoom\"\ncolour = 1\n";
        let e = Keymap::from_str(bad_field, "keymap.toml", None).unwrap_err();
        assert!(
            e.contains("keymap.toml: line 4") || e.contains("colour"),
            "{e}"
        );
        let bad_toml = "prefix_key = \n";
        let e = Keymap::from_str(bad_toml, "keymap.toml", None).unwrap_err();
        assert!(e.starts_with("keymap.toml:1:"), "{e}");
    }

    #[test]
    fn dispatch_prefix_sequences_and_passthrough() {
        let map = Keymap::default_map();
        let mut st = KeyState::default();
        let status = PaneKind::Status;
        assert_eq!(map.resolve(&mut st, k("C-b"), status), Resolved::Pending);
        assert_eq!(
            map.resolve(&mut st, k("%"), status),
            Resolved::Action(Action::SplitRight)
        );
        // Two-key binding under the prefix.
        assert_eq!(map.resolve(&mut st, k("C-b"), status), Resolved::Pending);
        assert_eq!(map.resolve(&mut st, k("q"), status), Resolved::Pending);
        assert_eq!(
            map.resolve(&mut st, k("2"), status),
            Resolved::Action(Action::FocusPane(2))
        );
        // Unbound after prefix is dropped.
        assert_eq!(map.resolve(&mut st, k("C-b"), status), Resolved::Pending);
        assert_eq!(map.resolve(&mut st, k("Z"), status), Resolved::Unbound);
        // Global applies to the status pane but not to terminals.
        assert_eq!(
            map.resolve(&mut st, k("M-Left"), status),
            Resolved::Action(Action::Focus(Dir::Left))
        );
        assert_eq!(
            map.resolve(&mut st, k("M-Left"), PaneKind::Term),
            Resolved::Input(vec![k("M-Left")])
        );
        // The prefix twice sends it through.
        assert_eq!(
            map.resolve(&mut st, k("C-b"), PaneKind::Term),
            Resolved::Pending
        );
        assert_eq!(
            map.resolve(&mut st, k("C-b"), PaneKind::Term),
            Resolved::Action(Action::SendPrefix)
        );
    }

    #[test]
    fn markdown_escapes_pipes() {
        let map = Keymap::default_map();
        let md = map.markdown();
        assert!(
            md.contains("| `C-b %` | `split-right` | Split right | after the prefix |"),
            "{md}"
        );
    }
}
