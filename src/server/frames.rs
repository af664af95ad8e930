/*!
The bytes that bring one client's terminal from its last frame to the next: the cells that
changed (ratatui's rules for wide characters), brought down to the client's colour depth, as
ANSI with synchronized output around each frame. Nothing is written when nothing changed, and no
control character from a cell ever reaches the client.

Apart from drawing (`render`), which composes a session's screen into a `Buffer` and knows
nothing of escape sequences.
*/

use fieldkit_widgets::TermCaps;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

/// What one client's terminal shows, so the next frame can be sent as a difference.
#[derive(Default)]
pub struct FrameWriter {
    prev: Option<Buffer>,
    /// The buffer before `prev`, handed out again to draw the next frame in.
    spare: Option<Buffer>,
    cursor: Option<Option<Position>>,
}

impl FrameWriter {
    /// A buffer to draw the next frame into (contents unspecified; `screen_into` clears it).
    pub fn canvas(&mut self) -> Buffer {
        self.spare
            .take()
            .unwrap_or_else(|| Buffer::empty(Rect::default()))
    }

    /// Retained drawing: `draw` draws over the client's screen as it was last sent, touching
    /// only the rows in `rows`, and only what changed in those rows is sent. `None` (nothing
    /// drawn) when the client's screen is not known: after attach, a resize, or frames held back
    /// from a slow client; then the caller draws the whole screen.
    pub fn patch(
        &mut self,
        rows: &[u16],
        caps: TermCaps,
        base_bg: ratatui::style::Color,
        draw: impl FnOnce(&mut Buffer) -> Option<Position>,
    ) -> Option<Vec<u8>> {
        let prev = self.prev.as_mut().filter(|p| !p.area.is_empty())?;
        let w = prev.area.width as usize;
        let mut rows: Vec<u16> = rows
            .iter()
            .copied()
            .filter(|y| *y < prev.area.height)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        // The rows as they were, then as drawn: diffed as two small buffers.
        let band = Rect::new(0, 0, prev.area.width, rows.len() as u16);
        let copy_rows = |from: &Buffer, into: &mut Buffer| {
            for (i, y) in rows.iter().enumerate() {
                let src = *y as usize * w;
                into.content[i * w..(i + 1) * w].clone_from_slice(&from.content[src..src + w]);
            }
        };
        let mut old = Buffer::empty(band);
        copy_rows(prev, &mut old);
        let cursor = draw(prev);
        let mut new = Buffer::empty(band);
        copy_rows(prev, &mut new);
        let changed: Vec<(u16, u16, &ratatui::buffer::Cell)> = diff(&old, &new)
            .into_iter()
            .map(|(x, i, c)| (x, rows[i as usize], c))
            .collect();
        Some(self.encode(&changed, cursor, caps, base_bg, Vec::new()))
    }

    /// Forget the client's screen: the next frame is sent whole (after attach or resize).
    /// Drops both retained screens (panic): their memory is zeroed as it is freed, and the
    /// next frame is drawn whole.
    pub fn forget(&mut self) {
        self.prev = None;
        self.spare = None;
        self.cursor = None;
    }

    pub fn invalidate(&mut self) {
        if let Some(mut p) = self.prev.take() {
            // Keep the memory; mark it as a blank screen of another size so it never matches.
            p.resize(Rect::default());
            self.prev = Some(p);
        }
        self.cursor = None;
    }

    /// The bytes that turn the client's screen into `buf`, adapted to `caps`. Empty when
    /// nothing changed.
    pub fn frame(
        &mut self,
        buf: Buffer,
        cursor: Option<Position>,
        caps: TermCaps,
        base_bg: ratatui::style::Color,
    ) -> Vec<u8> {
        // Frames are diffed as drawn and only the cells that go out are brought down to the
        // client's terminal: adapting a whole frame first would cost more than drawing it.
        let mut out = Vec::new();
        let prev = match self.prev.take() {
            Some(p) if p.area == buf.area => p,
            other => {
                out.extend_from_slice(b"\x1b[0m\x1b[2J");
                let mut blank = other.unwrap_or_else(|| Buffer::empty(Rect::default()));
                blank.resize(buf.area);
                blank.reset();
                blank
            }
        };
        let out = self.encode(&diff(&prev, &buf), cursor, caps, base_bg, out);
        self.prev = Some(buf);
        self.spare = Some(prev);
        out
    }

    /// The bytes for changed cells `diff` and the cursor, adapted to `caps`, after `out`, in
    /// synchronized output; empty when nothing changed.
    fn encode(
        &mut self,
        diff: &[(u16, u16, &ratatui::buffer::Cell)],
        cursor: Option<Position>,
        caps: TermCaps,
        base_bg: ratatui::style::Color,
        mut out: Vec<u8>,
    ) -> Vec<u8> {
        let drew = !diff.is_empty();
        if caps.is_full() {
            encode_cells(diff, &mut out);
        } else {
            let adapted: Vec<(u16, u16, ratatui::buffer::Cell)> = diff
                .iter()
                .map(|(x, y, c)| {
                    let mut c = (*c).clone();
                    caps.adapt_cell(&mut c, base_bg);
                    (*x, *y, c)
                })
                .collect();
            let refs: Vec<(u16, u16, &ratatui::buffer::Cell)> =
                adapted.iter().map(|(x, y, c)| (*x, *y, c)).collect();
            encode_cells(&refs, &mut out);
        }
        let cursor_changed = self.cursor != Some(cursor);
        if drew || cursor_changed {
            match cursor {
                Some(p) => {
                    move_to(&mut out, p.x, p.y);
                    out.extend_from_slice(b"\x1b[?25h");
                }
                None if cursor_changed => out.extend_from_slice(b"\x1b[?25l"),
                None => {}
            }
        }
        if !out.is_empty() {
            // Synchronized output: terminals that know it paint the frame at once.
            let mut framed = Vec::with_capacity(out.len() + 16);
            framed.extend_from_slice(b"\x1b[?2026h");
            framed.extend_from_slice(&out);
            framed.extend_from_slice(b"\x1b[?2026l");
            out = framed;
        }
        self.cursor = Some(cursor);
        out
    }
}

/// Display width of a cell's symbol, with the common one-byte case answered at once.
pub(super) fn width(sym: &str) -> usize {
    if sym.len() == 1 {
        1
    } else {
        unicode_width::UnicodeWidthStr::width(sym)
    }
}

/// The cells of `next` that differ from `prev`, with ratatui's rules for wide characters (the
/// cells a wide character covers are skipped; cells a changed wide character uncovers are
/// redrawn). Same result as `Buffer::diff`, several times faster on ASCII screens because it
/// looks widths up only for multi-byte symbols.
pub fn diff<'a>(prev: &Buffer, next: &'a Buffer) -> Vec<(u16, u16, &'a ratatui::buffer::Cell)> {
    let width_of_area = next.area.width.max(1) as usize;
    let mut updates = Vec::new();
    let mut invalidated = 0usize;
    let mut to_skip = 0usize;
    for (i, (cur, old)) in next.content.iter().zip(prev.content.iter()).enumerate() {
        if !cur.skip && (cur != old || invalidated > 0) && to_skip == 0 {
            let x = next.area.x + (i % width_of_area) as u16;
            let y = next.area.y + (i / width_of_area) as u16;
            updates.push((x, y, cur));
        }
        let wc = width(cur.symbol());
        to_skip = wc.saturating_sub(1);
        let affected = wc.max(width(old.symbol()));
        invalidated = affected.max(invalidated).saturating_sub(1);
    }
    updates
}

fn push_num(out: &mut Vec<u8>, n: u16) {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn move_to(out: &mut Vec<u8>, x: u16, y: u16) {
    out.extend_from_slice(b"\x1b[");
    push_num(out, y + 1);
    out.push(b';');
    push_num(out, x + 1);
    out.push(b'H');
}

/// SGR parameters for a colour; `fg` picks the foreground forms.
fn push_color(out: &mut Vec<u8>, c: ratatui::style::Color, fg: bool) {
    use ratatui::style::Color as C;
    let base: u16 = if fg { 30 } else { 40 };
    let named = |i: u16| -> u16 {
        if i < 8 {
            base + i
        } else {
            base + 60 + i - 8
        }
    };
    let code = match c {
        C::Reset => base + 9,
        C::Black => named(0),
        C::Red => named(1),
        C::Green => named(2),
        C::Yellow => named(3),
        C::Blue => named(4),
        C::Magenta => named(5),
        C::Cyan => named(6),
        C::Gray => named(7),
        C::DarkGray => named(8),
        C::LightRed => named(9),
        C::LightGreen => named(10),
        C::LightYellow => named(11),
        C::LightBlue => named(12),
        C::LightMagenta => named(13),
        C::LightCyan => named(14),
        C::White => named(15),
        C::Indexed(i) => {
            push_num(out, base + 8);
            out.extend_from_slice(b";5;");
            push_num(out, i as u16);
            return;
        }
        C::Rgb(r, g, b) => {
            push_num(out, base + 8);
            out.extend_from_slice(b";2;");
            push_num(out, r as u16);
            out.push(b';');
            push_num(out, g as u16);
            out.push(b';');
            push_num(out, b as u16);
            return;
        }
    };
    push_num(out, code);
}

/// Writes changed cells: a cursor move only where cells are not contiguous, SGR only where
/// the style changes, and a reset at the end.
fn encode_cells(diff: &[(u16, u16, &ratatui::buffer::Cell)], out: &mut Vec<u8>) {
    use ratatui::style::{Color, Modifier};
    if diff.is_empty() {
        return;
    }
    const SGR: [(Modifier, &[u8]); 9] = [
        (Modifier::BOLD, b"1"),
        (Modifier::DIM, b"2"),
        (Modifier::ITALIC, b"3"),
        (Modifier::UNDERLINED, b"4"),
        (Modifier::SLOW_BLINK, b"5"),
        (Modifier::RAPID_BLINK, b"6"),
        (Modifier::REVERSED, b"7"),
        (Modifier::HIDDEN, b"8"),
        (Modifier::CROSSED_OUT, b"9"),
    ];
    let mut at: Option<(u16, u16)> = None;
    let mut style: Option<(Color, Color, Modifier)> = None;
    for (x, y, cell) in diff {
        if at != Some((*x, *y)) {
            move_to(out, *x, *y);
        }
        let want = (cell.fg, cell.bg, cell.modifier);
        if style != Some(want) {
            out.extend_from_slice(b"\x1b[0");
            for (m, code) in SGR {
                if cell.modifier.contains(m) {
                    out.push(b';');
                    out.extend_from_slice(code);
                }
            }
            out.push(b';');
            push_color(out, cell.fg, true);
            out.push(b';');
            push_color(out, cell.bg, false);
            out.push(b'm');
            style = Some(want);
        }
        let sym = cell.symbol();
        // Nothing drawn may carry a control character to the client's terminal, whatever text
        // reached a cell (a tab name, a description from a config file): it could start an
        // escape sequence there.
        if sym.chars().any(char::is_control) {
            out.push(b'?');
        } else {
            out.extend_from_slice(sym.as_bytes());
        }
        // Only a one-byte symbol surely advances one column; after anything wider, move
        // explicitly before the next cell rather than guess the terminal's idea of its width.
        at = if sym.len() == 1 {
            Some((*x + 1, *y))
        } else {
            None
        };
    }
    out.extend_from_slice(b"\x1b[0m");
}
