/*!
Keys and mouse from a client: the keymap decides whether a key is the prefix, a binding or
text for the focused pane; a click focuses a pane or reaches a program that asked for mice.
*/

use super::*;

impl Server {
    pub(super) fn on_key(&mut self, id: ClientId, k: crossterm::event::KeyEvent) {
        // Never the character itself: it may be part of a passphrase.
        tracing::trace!(
            printable = matches!(k.code, crossterm::event::KeyCode::Char(_)),
            "key in"
        );
        let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
            return;
        };
        self.touch(&name);
        // `[[always]]` keys (panic) come before popups, panes and the prefix.
        if let Some(a) = self.keymap.always(Key::from_event(&k)) {
            self.run_action(&name, a, Some(id));
            return;
        }
        let Some(s) = self.sessions.get_mut(&name) else {
            return;
        };
        // After a panic, the first key only lifts the blank screen.
        if s.veiled {
            s.veiled = false;
            s.dirty = true;
            self.greet_new_panes(false);
            return;
        }
        // The prefix is never text for a popup: it closes the popup and is the prefix, so
        // `C-b z` with the palette open zooms instead of typing a `z`.
        if s.popup.is_some() && Key::from_event(&k) == self.keymap.prefix {
            s.popup = None;
        }
        let start_dir = s.start_dir.clone();
        if let Some(p) = s.popup.as_mut() {
            match p.on_key_in(&k, &self.keymap, start_dir.as_deref()) {
                PopupResult::Keep => {}
                PopupResult::Close => s.popup = None,
                PopupResult::Run(text) => {
                    s.popup = None;
                    match Action::parse(&text) {
                        Ok(a) => self.run_action(&name, a, Some(id)),
                        Err(e) => self.show(&name, "Not run", &e),
                    }
                }
                PopupResult::Insert(text) => {
                    s.popup = None;
                    self.pane_call(&name, |p, cx| {
                        p.on_engine(EngineEvent::InsertText(text), cx)
                    });
                }
                PopupResult::Confirm(c) => {
                    s.popup = None;
                    self.confirmed(&name, c);
                }
            }
            self.mark(&name);
            return;
        }
        let kind = s.focused_kind();
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        // A pane taking text (a passphrase, a form) gets every key but the prefix.
        let typing = s
            .panes
            .get(&s.focused())
            .is_some_and(|p| p.hints(&mut Vec::new()) == fieldkit_panes::Hints::Typing);
        if typing
            && !client.keys.prefix
            && client.keys.pending.is_empty()
            && Key::from_event(&k) != self.keymap.prefix
        {
            self.pane_call(&name, |p, cx| p.on_input(&k, cx));
            self.mark(&name);
            return;
        }
        let had_pending = client.keys.prefix || !client.keys.pending.is_empty();
        let resolved = self
            .keymap
            .resolve(&mut client.keys, Key::from_event(&k), kind);
        match resolved {
            Resolved::Pending | Resolved::Unbound => self.mark(&name),
            Resolved::Action(a) => {
                self.mark(&name);
                self.run_action(&name, a, Some(id));
            }
            Resolved::Input(keys) => {
                let n = keys.len();
                for (i, key) in keys.into_iter().enumerate() {
                    let ev = if i + 1 == n { k } else { key.event() };
                    self.pane_call(&name, |p, cx| p.on_input(&ev, cx));
                }
                // A pending prefix or sequence may have ended: the hint bar changes only then.
                if had_pending {
                    self.mark(&name);
                }
            }
        }
    }

    /// A click focuses the pane under it; a program that asked for the mouse gets the event,
    /// in its own pane's coordinates.
    pub(super) fn on_mouse(&mut self, id: ClientId, m: crossterm::event::MouseEvent) {
        use crossterm::event::{MouseButton, MouseEventKind as K};
        let Some(name) = self.clients.get(&id).and_then(|c| c.session.clone()) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&name) else {
            return;
        };
        if s.popup.is_some() {
            return;
        }
        let at = ratatui::layout::Position::new(m.column, m.row);
        let Some((pane, rect)) = s.visible().into_iter().find(|(_, r)| r.contains(at)) else {
            return;
        };
        if matches!(m.kind, K::Down(_)) && s.focused() != pane {
            if let Some(tab) = s.tabs.get_mut(s.active) {
                tab.focus = pane;
            }
            s.bells.remove(&pane);
            s.dirty = true;
        }
        let Some(t) = self.pty.terms.get(&pane) else {
            return;
        };
        let modes = t.screen.modes();
        // Inside the border only.
        if !modes.mouse || m.column <= rect.x || m.row <= rect.y {
            return;
        }
        let (x, y) = (m.column - rect.x - 1, m.row - rect.y - 1);
        let mods = (m.modifiers.contains(crossterm::event::KeyModifiers::SHIFT) as u8) * 4
            + (m.modifiers.contains(crossterm::event::KeyModifiers::ALT) as u8) * 8
            + (m.modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL) as u8)
                * 16;
        let button = |b: MouseButton| match b {
            MouseButton::Left => 0,
            MouseButton::Middle => 1,
            MouseButton::Right => 2,
        };
        let (b, release) = match m.kind {
            K::Down(b) => (button(b), false),
            K::Up(b) => (button(b), true),
            K::Drag(b) if modes.mouse_drag => (button(b) + 32, false),
            K::ScrollUp => (64, false),
            K::ScrollDown => (65, false),
            _ => return,
        };
        let bytes = fieldkit_panes::keys::encode_mouse(b + mods, x, y, release, modes.sgr_mouse);
        if !bytes.is_empty() {
            t.write(bytes);
        }
    }

    /// Sends text to the clipboard of every client of `name` (OSC 52).
    pub(super) fn clipboard(&self, name: &str, text: &str) {
        let osc = format!("\x1b]52;c;{}\x07", crate::logging::base64(text.as_bytes()));
        for c in self
            .clients
            .values()
            .filter(|c| c.session.as_deref() == Some(name))
        {
            c.output(osc.clone().into_bytes());
        }
    }

    /// Pastes into the focused pane if it is a running terminal. Returns whether it was.
    pub(super) fn paste_into(&mut self, name: &str, text: &str) -> bool {
        let Some(id) = self.sessions.get(name).map(|s| s.focused()) else {
            return false;
        };
        match self.pty.terms.get(&id) {
            Some(t) if !t.exited => {
                t.write(encode_paste(text, t.screen.modes().bracketed_paste));
                true
            }
            _ => false,
        }
    }
}
