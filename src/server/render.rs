/*!
Drawing: the whole screen of a session for one client, and the bytes that bring that client's
terminal from its last frame to this one.

A screen is composed into a ratatui `Buffer` (tab bar, panes with borders, hint bar, popup),
adapted to the client's terminal (colour depth, ASCII), and diffed against what that client
last received. Only the difference is sent, and nothing at all when nothing changed.
*/

use crate::keymap::{KeyState, Keymap, Scope};
use crate::server::session::Session;
use fieldkit_panes::{Hint, RenderCx};
use fieldkit_widgets::{HintBar, TabBar, TabLabel, TermCaps, Theme};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders, Widget};

/// Composes the session's screen as `keys` (one client's prefix state) sees it.
pub fn screen(
    s: &mut Session,
    theme: &Theme,
    keymap: &Keymap,
    keys: &KeyState,
) -> (Buffer, Option<Position>) {
    let (w, h) = s.size;
    let full = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(full);
    buf.set_style(full, theme.base());
    if w == 0 || h == 0 {
        return (buf, None);
    }
    if h >= 3 {
        let labels: Vec<TabLabel> = s
            .tabs
            .iter()
            .enumerate()
            .map(|(i, t)| TabLabel {
                index: i + 1,
                name: &t.name,
                active: i == s.active,
                zoomed: t.zoomed,
            })
            .collect();
        TabBar {
            session: &s.name,
            tabs: &labels,
            right: "fieldkit ",
            theme,
        }
        .render(Rect::new(0, 0, w, 1), &mut buf);
    }

    let focused = s.focused();
    let mut cursor = None;
    for (id, rect) in s.visible() {
        let number = s.number_of(id);
        let Some(pane) = s.panes.get_mut(&id) else {
            continue;
        };
        let is_focus = id == focused;
        let block = Block::new()
            .borders(Borders::ALL)
            .border_type(if is_focus {
                BorderType::Thick
            } else {
                BorderType::Plain
            })
            .border_style(theme.border(is_focus))
            .title(format!(" {number} {} ", pane.title()));
        let inner = block.inner(rect);
        block.render(rect, &mut buf);
        if inner.width == 0 || inner.height == 0 {
            continue;
        }
        pane.render(
            inner,
            &mut buf,
            &RenderCx {
                theme,
                focused: is_focus,
            },
        );
        if is_focus {
            cursor = pane.cursor(inner);
        }
    }

    if h >= 3 {
        let (mode, hints) = hints_for(s, keymap, keys);
        HintBar {
            mode: mode.as_deref(),
            hints: &hints,
            theme,
        }
        .render(Rect::new(0, h - 1, w, 1), &mut buf);
    }

    if let Some(popup) = s.popup.as_mut() {
        cursor = popup.render(full, &mut buf, theme, keymap);
    }
    (buf, cursor)
}

/// The hint bar's contents: what the keys do right now.
pub fn hints_for(s: &Session, keymap: &Keymap, keys: &KeyState) -> (Option<String>, Vec<Hint>) {
    let kind = s.focused_kind();
    if keys.prefix || !keys.pending.is_empty() {
        let scopes = Keymap::scopes_for(kind, keys.prefix);
        let n = keys.pending.len();
        let mut hints = Vec::new();
        for scope in scopes {
            for b in keymap.scope(scope) {
                if b.keys.len() > n && b.keys[..n] == keys.pending[..] {
                    hints.push(Hint::new(b.keys[n].to_string(), b.desc.clone()));
                }
            }
        }
        hints.dedup_by(|a, b| a.key == b.key);
        let mut mode = if keys.prefix {
            keymap.prefix.to_string()
        } else {
            String::new()
        };
        for k in &keys.pending {
            if !mode.is_empty() {
                mode.push(' ');
            }
            mode.push_str(&k.to_string());
        }
        return (Some(mode), hints);
    }
    let mut hints = vec![Hint::new(keymap.prefix.to_string(), "prefix")];
    for scope in Keymap::scopes_for(kind, false) {
        for b in keymap.scope(scope) {
            hints.push(Hint::new(b.keys_label(keymap.prefix), b.desc.clone()));
        }
    }
    if let Some(p) = s.panes.get(&s.focused()) {
        p.hints(&mut hints);
    }
    // The most useful prefix keys close the bar, for newcomers.
    for b in keymap.scope(Scope::Prefix).filter(|b| {
        matches!(
            b.action,
            fieldkit_panes::Action::Help
                | fieldkit_panes::Action::Palette
                | fieldkit_panes::Action::Detach
        )
    }) {
        hints.push(Hint::new(b.keys_label(keymap.prefix), b.desc.clone()));
    }
    (None, hints)
}

/// Places a session-sized frame on a client's screen: a larger client sees the rest dotted
/// (as tmux does), a smaller one never happens because the session takes the smallest size.
pub fn fit(frame: &Buffer, cols: u16, rows: u16, theme: &Theme) -> Buffer {
    if frame.area.width == cols && frame.area.height == rows {
        return frame.clone();
    }
    let area = Rect::new(0, 0, cols, rows);
    let mut out = Buffer::empty(area);
    let filler = Style::new().fg(theme.border).bg(theme.bg);
    for y in 0..rows {
        for x in 0..cols {
            let cell = &mut out[(x, y)];
            if x < frame.area.width && y < frame.area.height {
                *cell = frame[(x, y)].clone();
            } else {
                cell.set_symbol("·").set_style(filler);
            }
        }
    }
    out
}

/// What one client's terminal shows, so the next frame can be sent as a difference.
#[derive(Default)]
pub struct FrameWriter {
    prev: Option<Buffer>,
    cursor: Option<Option<Position>>,
}

impl FrameWriter {
    /// Forget the client's screen: the next frame is sent whole (after attach or resize).
    pub fn invalidate(&mut self) {
        self.prev = None;
        self.cursor = None;
    }

    /// The bytes that turn the client's screen into `buf`, adapted to `caps`. Empty when
    /// nothing changed.
    pub fn frame(
        &mut self,
        buf: &Buffer,
        cursor: Option<Position>,
        caps: TermCaps,
        base_bg: ratatui::style::Color,
    ) -> Vec<u8> {
        let mut adapted = buf.clone();
        caps.adapt(&mut adapted, base_bg);
        let mut out = Vec::new();
        let prev = match self.prev.take() {
            Some(p) if p.area == adapted.area => p,
            _ => {
                out.extend_from_slice(b"\x1b[0m\x1b[2J");
                Buffer::empty(adapted.area)
            }
        };
        let diff = prev.diff(&adapted);
        let drew = !diff.is_empty();
        let mut body = Vec::new();
        let mut backend = CrosstermBackend::new(&mut body);
        if drew {
            // Backend errors on a Vec writer cannot happen; a failure would only lose a frame.
            let _ = backend.draw(diff.into_iter());
        }
        let cursor_changed = self.cursor != Some(cursor);
        if drew || cursor_changed {
            match cursor {
                Some(p) => {
                    let _ = backend.set_cursor_position(p);
                    let _ = backend.show_cursor();
                }
                None if cursor_changed => {
                    let _ = backend.hide_cursor();
                }
                None => {}
            }
        }
        let _ = Backend::flush(&mut backend);
        drop(backend);
        if !body.is_empty() || !out.is_empty() {
            // Synchronized output: terminals that know it paint the frame at once.
            let mut framed = b"\x1b[?2026h".to_vec();
            framed.extend_from_slice(&out);
            framed.extend_from_slice(&body);
            framed.extend_from_slice(b"\x1b[?2026l");
            out = framed;
        }
        self.prev = Some(adapted);
        self.cursor = Some(cursor);
        out
    }
}

/// The visible text of a buffer, one line per row, trailing blanks trimmed (for `capture`).
pub fn text_of(buf: &Buffer, area: Rect) -> String {
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut skip = 0;
        for x in area.left()..area.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = unicode_width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_width(s: &str) -> usize {
    use ratatui::text::Span;
    Span::raw(s).width()
}
