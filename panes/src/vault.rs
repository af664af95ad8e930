/*!
The vault pane (`open vault`): what the unlocked vault holds, to find and copy from. Locked, it
says how to unlock (`fieldkit vault unlock` from any shell: the passphrase never passes through a
pane, a keymap or a scrollback). Unlocked, it lists the entries (type to filter, fuzzy over
titles, folders and users), and shows the one under the cursor with its secret masked until it is
revealed; `y` copies the password to the client's clipboard (OSC 52). The pane holds titles,
users and URLs while unlocked, and a revealed secret only until the cursor moves; every lock
clears it all.
*/

use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use std::borrow::Cow;

crate::verbs! {
    /// What the vault pane does itself.
    pub enum VaultVerb {
        Reveal = ("reveal", "", "Vault: show the selected entry's password (hidden again on the next move)"),
        CopyPassword = ("copy-password", "", "Vault: copy the selected entry's password to the clipboard"),
    }
}

/// The vault pane's registration: it needs the vault engine.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Vault,
    all_keys: false,
    actions: VaultVerb::CATALOGUE,
    engines: &[crate::Engine::Vault],
    fresh: |_| Box::new(VaultPane::default()),
    restore: |st| match st {
        PaneState::Vault => Some(Box::new(VaultPane::default())),
        _ => None,
    },
};

/// One entry as the list shows it: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySummary {
    pub title: String,
    pub folder: String,
    pub user: String,
    pub url: String,
}

/// From the pane to the vault's service.
#[derive(Debug, Clone, PartialEq)]
pub enum VaultRequest {
    /// The entries, now and after every change, lock or unlock.
    Watch,
    /// One field of an entry, answered with `Revealed` (or put on the clipboard).
    Field {
        title: String,
        field: String,
        to_clipboard: bool,
    },
}

/// From the vault's service to its panes.
#[derive(Debug, Clone, PartialEq)]
pub enum VaultEvent {
    Locked,
    Entries(Vec<EntrySummary>),
    Revealed {
        title: String,
        value: String,
    },
    /// A revealed secret's time is up: masked again.
    Hide,
    Note(String),
}

#[derive(Debug, Default)]
pub struct VaultPane {
    /// `None`: locked.
    entries: Option<Vec<EntrySummary>>,
    query: String,
    sel: usize,
    /// The selected entry's password, while revealed.
    revealed: Option<(String, String)>,
    note: Option<String>,
}

impl VaultPane {
    fn shown(&self) -> Vec<&EntrySummary> {
        let q = self.query.to_lowercase();
        let mut out: Vec<(i64, &EntrySummary)> = self
            .entries
            .iter()
            .flatten()
            .filter_map(|e| {
                let hay = format!("{} {} {}", e.folder, e.title, e.user).to_lowercase();
                fuzzy(&hay, &q).map(|s| (s, e))
            })
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.title.cmp(&b.1.title)));
        out.into_iter().map(|(_, e)| e).collect()
    }

    fn selected(&self) -> Option<EntrySummary> {
        self.shown().get(self.sel).map(|e| (*e).clone())
    }

    fn ask(cx: &mut Cx, r: VaultRequest) {
        cx.push(Effect::Engine(EngineRequest::Vault(r)));
    }

    fn hide(&mut self) {
        if let Some((_, mut v)) = self.revealed.take() {
            zero(&mut v);
        }
    }
}

/// Overwrites a secret's bytes before it is freed.
fn zero(s: &mut String) {
    // SAFETY: zero bytes are valid UTF-8.
    unsafe { s.as_bytes_mut().fill(0) };
    s.clear();
}

/// A subsequence match score (higher is better), or `None` when `q` is not in `hay` in order.
fn fuzzy(hay: &str, q: &str) -> Option<i64> {
    if q.is_empty() {
        return Some(0);
    }
    let mut score = 0i64;
    let mut last: Option<usize> = None;
    let mut it = hay.char_indices();
    for qc in q.chars() {
        let (i, _) = it.by_ref().find(|(_, c)| *c == qc)?;
        score += match last {
            Some(l) if i == l + 1 => 3,
            _ => 1,
        };
        last = Some(i);
    }
    Some(score)
}

impl Pane for VaultPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Vault
    }

    fn title(&self) -> Cow<'_, str> {
        match &self.entries {
            None => Cow::Borrowed("vault (locked)"),
            Some(e) => Cow::Owned(format!("vault: {} entries", e.len())),
        }
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        let Some((verb, _)) = VaultVerb::of(a) else {
            return Outcome::Ignored;
        };
        let Some(e) = self.selected() else {
            return Outcome::Ignored;
        };
        Self::ask(
            cx,
            VaultRequest::Field {
                title: e.title,
                field: "password".into(),
                to_clipboard: verb == VaultVerb::CopyPassword,
            },
        );
        Outcome::Consumed
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        if self.entries.is_none() {
            return Outcome::Ignored;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let n = self.shown().len();
        match k.code {
            KeyCode::Down => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            KeyCode::Up => self.sel = self.sel.saturating_sub(1),
            KeyCode::Backspace => {
                self.query.pop();
                self.sel = 0;
            }
            KeyCode::Esc if !self.query.is_empty() => {
                self.query.clear();
                self.sel = 0;
            }
            KeyCode::Char('u') if ctrl => {
                self.query.clear();
                self.sel = 0;
            }
            KeyCode::Char(c) if !ctrl => {
                self.query.push(c);
                self.sel = 0;
            }
            _ => return Outcome::Ignored,
        }
        self.hide();
        self.note = None;
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => {
                Self::ask(cx, VaultRequest::Watch);
                return Outcome::Consumed;
            }
            EngineEvent::Vault(VaultEvent::Locked) => {
                self.hide();
                self.entries = None;
                self.query.clear();
                self.sel = 0;
            }
            EngineEvent::Vault(VaultEvent::Entries(e)) => {
                self.hide();
                self.sel = self.sel.min(e.len().saturating_sub(1));
                self.entries = Some(e);
            }
            EngineEvent::Vault(VaultEvent::Revealed { title, value }) => {
                self.hide();
                self.revealed = Some((title, value));
            }
            EngineEvent::Vault(VaultEvent::Hide) => self.hide(),
            EngineEvent::Vault(VaultEvent::Note(n)) => self.note = Some(n),
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        let Some(_) = &self.entries else {
            let lines = [
                ("The vault is locked.", t.heading()),
                ("", t.muted()),
                (
                    "Unlock it from any shell (the passphrase is asked there,",
                    t.muted(),
                ),
                ("echo off, and never passes through this pane):", t.muted()),
                ("", t.muted()),
                ("  fieldkit vault unlock", Style::new().fg(t.accent)),
            ];
            for (i, (l, s)) in lines.iter().enumerate() {
                if (i as u16) < area.height {
                    buf.set_stringn(
                        area.x + 1,
                        area.y + i as u16,
                        l,
                        area.width.saturating_sub(1) as usize,
                        *s,
                    );
                }
            }
            return;
        };
        if area.height < 3 {
            return;
        }
        let w = area.width as usize;
        buf.set_stringn(area.x, area.y, format!("/ {}", self.query), w, t.heading());
        let shown = self.shown();
        let detail_h = 4u16.min(area.height.saturating_sub(2));
        let list_h = area.height.saturating_sub(1 + detail_h) as usize;
        let first = self.sel.saturating_sub(list_h.saturating_sub(1));
        for (row, e) in shown.iter().enumerate().skip(first).take(list_h) {
            let y = area.y + 1 + (row - first) as u16;
            let name = if e.folder.is_empty() {
                e.title.clone()
            } else {
                format!("{}/{}", e.folder, e.title)
            };
            let style = if row == self.sel {
                Style::new().bg(t.selection_bg).fg(t.selection_fg)
            } else {
                Style::new()
            };
            buf.set_stringn(area.x, y, format!(" {name:<30} {}", e.user), w, style);
        }
        if shown.is_empty() {
            let msg = if self.query.is_empty() {
                " no entries yet: fieldkit vault add TITLE --generate"
            } else {
                " nothing matches"
            };
            buf.set_stringn(area.x, area.y + 1, msg, w, t.muted());
        }
        let y0 = area.y + area.height - detail_h;
        if let Some(e) = shown.get(self.sel) {
            let secret = match &self.revealed {
                Some((title, v)) if *title == e.title => v.clone(),
                _ => "••••••••  (C-r reveals, Enter copies)".into(),
            };
            let rows = [
                format!("user      {}", e.user),
                format!("password  {secret}"),
                format!("url       {}", e.url),
            ];
            for (i, r) in rows.iter().enumerate() {
                if (i as u16) < detail_h {
                    buf.set_stringn(
                        area.x + 1,
                        y0 + i as u16,
                        r,
                        w.saturating_sub(1),
                        Style::new().add_modifier(Modifier::empty()),
                    );
                }
            }
        }
        if let Some(n) = &self.note {
            buf.set_stringn(area.x, area.y + area.height - 1, n, w, t.muted());
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.entries.is_some() {
            out.push(Hint::new("type", "filter"));
            out.push(Hint::new("Up Down", "choose"));
        }
        crate::Hints::WithKeymap
    }

    fn save(&self) -> PaneState {
        PaneState::Vault
    }
}

impl Drop for VaultPane {
    fn drop(&mut self) {
        self.hide();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{settings, snapshot};

    fn entries() -> Vec<EntrySummary> {
        let e = |t: &str, f: &str, u: &str| EntrySummary {
            title: t.into(),
            folder: f.into(),
            user: u.into(),
            url: format!("https://{}.example", t.to_lowercase().replace(' ', "-")),
        };
        vec![
            e("Radio net", "camp", "ops"),
            e("Camp wifi", "camp", ""),
            e("Satellite phone", "", "field-7"),
        ]
    }

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn locked_list_filter_reveal_and_lock_again() {
        let mut p = VaultPane::default();
        let mut cx = Cx::default();
        p.on_engine(EngineEvent::Opened, &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Watch))]
        );
        settings().bind(|| {
            insta::assert_snapshot!("vault_locked_80x24", snapshot(&mut p, 80, 24));
        });
        p.on_engine(EngineEvent::Vault(VaultEvent::Entries(entries())), &mut cx);
        settings().bind(|| {
            insta::assert_snapshot!("vault_list_80x24", snapshot(&mut p, 80, 24));
        });
        // Type to filter: fuzzy over folder, title and user.
        for c in "sat".chars() {
            p.on_input(&key(KeyCode::Char(c)), &mut cx);
        }
        assert_eq!(
            p.selected().map(|e| e.title),
            Some("Satellite phone".into())
        );
        // Reveal asks the service; the answer shows until the cursor moves.
        let mut cx = Cx::default();
        p.on_action(&Action::parse("reveal").expect("reveal"), &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Vault(VaultRequest::Field {
                title: "Satellite phone".into(),
                field: "password".into(),
                to_clipboard: false
            }))]
        );
        p.on_engine(
            EngineEvent::Vault(VaultEvent::Revealed {
                title: "Satellite phone".into(),
                value: "Iridium-2049".into(),
            }),
            &mut cx,
        );
        settings().bind(|| {
            insta::assert_snapshot!("vault_detail_revealed_160x40", snapshot(&mut p, 160, 40));
        });
        p.on_input(&key(KeyCode::Backspace), &mut cx);
        assert!(
            !snapshot(&mut p, 80, 24).contains("Iridium"),
            "hidden on the next move"
        );
        // Copy goes through the service (which puts it on the client's clipboard).
        let mut cx = Cx::default();
        p.on_action(&Action::parse("copy-password").expect("copy"), &mut cx);
        assert!(matches!(
            &cx.effects[..],
            [Effect::Engine(EngineRequest::Vault(VaultRequest::Field {
                to_clipboard: true,
                ..
            }))]
        ));
        // A lock clears everything the pane held.
        p.on_engine(EngineEvent::Vault(VaultEvent::Locked), &mut cx);
        let shown = snapshot(&mut p, 80, 24);
        assert!(
            shown.contains("locked") && !shown.contains("Radio"),
            "{shown}"
        );
    }

    #[test]
    fn fuzzy_prefers_runs_of_letters() {
        assert!(
            fuzzy("camp radio net", "rad").unwrap_or(0) > fuzzy("camp rxaxd", "rad").unwrap_or(0)
        );
        assert_eq!(fuzzy("wifi", "zz"), None);
    }
}
