/*!
Keys to bytes, as xterm sends them.

A terminal pane receives crossterm key events from the client and must hand the program the
bytes xterm would: control characters, Alt as an ESC prefix, cursor keys in normal or
application mode, modifiers as `;m` parameters. Kept apart from the pane so it is tested
exhaustively on its own.
*/

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The xterm modifier parameter: 1 + shift + 2*alt + 4*ctrl.
fn modifier_param(m: KeyModifiers) -> u8 {
    1 + m.contains(KeyModifiers::SHIFT) as u8
        + 2 * m.contains(KeyModifiers::ALT) as u8
        + 4 * m.contains(KeyModifiers::CONTROL) as u8
}

/// The bytes for `key`. `app_cursor`: the program asked for application cursor keys (DECCKM).
/// Empty for keys that send nothing.
pub fn encode_key(key: &KeyEvent, app_cursor: bool) -> Vec<u8> {
    let m = key.modifiers & (KeyModifiers::SHIFT | KeyModifiers::ALT | KeyModifiers::CONTROL);
    let alt = m.contains(KeyModifiers::ALT);
    let ctrl = m.contains(KeyModifiers::CONTROL);
    let param = modifier_param(m);
    let mut out = Vec::new();
    // CSI letter keys: cursor keys, Home, End, F1-F4.
    let csi_letter = |letter: u8, ss3_in_app: bool, out: &mut Vec<u8>| {
        if param > 1 {
            out.extend_from_slice(format!("\x1b[1;{param}").as_bytes());
            out.push(letter);
        } else if ss3_in_app {
            out.extend_from_slice(b"\x1bO");
            out.push(letter);
        } else {
            out.extend_from_slice(b"\x1b[");
            out.push(letter);
        }
    };
    let tilde = |n: u8, out: &mut Vec<u8>| {
        if param > 1 {
            out.extend_from_slice(format!("\x1b[{n};{param}~").as_bytes());
        } else {
            out.extend_from_slice(format!("\x1b[{n}~").as_bytes());
        }
    };
    match key.code {
        KeyCode::Char(c) => {
            if alt {
                out.push(0x1b);
            }
            if ctrl {
                let b = match c {
                    'a'..='z' => Some(c as u8 - b'a' + 1),
                    'A'..='Z' => Some(c as u8 - b'A' + 1),
                    ' ' | '@' | '2' => Some(0),
                    '[' | '3' => Some(0x1b),
                    '\\' | '4' => Some(0x1c),
                    ']' | '5' => Some(0x1d),
                    '^' | '6' => Some(0x1e),
                    '_' | '7' | '/' => Some(0x1f),
                    '8' | '?' => Some(0x7f),
                    _ => None,
                };
                match b {
                    Some(b) => out.push(b),
                    None => out.extend_from_slice(c.to_string().as_bytes()),
                }
            } else {
                let mut tmp = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
        KeyCode::Enter => {
            if alt {
                out.push(0x1b);
            }
            out.push(b'\r');
        }
        KeyCode::Tab => {
            if alt {
                out.push(0x1b);
            }
            out.push(b'\t');
        }
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => {
            if alt {
                out.push(0x1b);
            }
            out.push(if ctrl { 0x08 } else { 0x7f });
        }
        KeyCode::Esc => {
            if alt {
                out.push(0x1b);
            }
            out.push(0x1b);
        }
        KeyCode::Up => csi_letter(b'A', app_cursor, &mut out),
        KeyCode::Down => csi_letter(b'B', app_cursor, &mut out),
        KeyCode::Right => csi_letter(b'C', app_cursor, &mut out),
        KeyCode::Left => csi_letter(b'D', app_cursor, &mut out),
        KeyCode::Home => csi_letter(b'H', app_cursor, &mut out),
        KeyCode::End => csi_letter(b'F', app_cursor, &mut out),
        KeyCode::Insert => tilde(2, &mut out),
        KeyCode::Delete => tilde(3, &mut out),
        KeyCode::PageUp => tilde(5, &mut out),
        KeyCode::PageDown => tilde(6, &mut out),
        KeyCode::F(n @ 1..=4) => csi_letter(b'P' + n - 1, true, &mut out),
        KeyCode::F(n) => {
            let code = match n {
                5 => 15,
                6 => 17,
                7 => 18,
                8 => 19,
                9 => 20,
                10 => 21,
                11 => 23,
                12 => 24,
                _ => return out,
            };
            tilde(code, &mut out)
        }
        _ => {}
    }
    out
}

/// A mouse event as xterm reports it to a program that asked: `button` is 0 left, 1 middle,
/// 2 right, 64/65 wheel up/down, plus 32 for motion; `x`, `y` are 0-based cells in the pane.
/// SGR form when the program asked for it, else the old X10 form (cells past 222 unreportable).
pub fn encode_mouse(button: u8, x: u16, y: u16, release: bool, sgr: bool) -> Vec<u8> {
    if sgr {
        format!(
            "\x1b[<{button};{};{}{}",
            x + 1,
            y + 1,
            if release { 'm' } else { 'M' }
        )
        .into_bytes()
    } else {
        if x > 222 || y > 222 {
            return Vec::new();
        }
        let b = if release { 3 } else { button };
        vec![0x1b, b'[', b'M', 32 + b, 33 + x as u8, 33 + y as u8]
    }
}

/// What a paste sends: wrapped in bracketed-paste markers when the program asked for them,
/// with any ESC removed from the text so a paste cannot end the bracket early or smuggle a
/// sequence in; without brackets, newlines become carriage returns as a terminal types them.
pub fn encode_paste(text: &str, bracketed: bool) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| *c != '\x1b').collect();
    if bracketed {
        let mut out = b"\x1b[200~".to_vec();
        out.extend_from_slice(clean.as_bytes());
        out.extend_from_slice(b"\x1b[201~");
        out
    } else {
        clean.replace("\r\n", "\r").replace('\n', "\r").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, m: KeyModifiers) -> Vec<u8> {
        encode_key(&KeyEvent::new(code, m), false)
    }

    #[test]
    fn like_xterm() {
        let n = KeyModifiers::NONE;
        let c = KeyModifiers::CONTROL;
        let a = KeyModifiers::ALT;
        let s = KeyModifiers::SHIFT;
        assert_eq!(k(KeyCode::Char('a'), n), b"a");
        assert_eq!(k(KeyCode::Char('é'), n), "é".as_bytes());
        assert_eq!(k(KeyCode::Char('c'), c), b"\x03");
        assert_eq!(k(KeyCode::Char(' '), c), b"\x00");
        assert_eq!(k(KeyCode::Char('x'), a), b"\x1bx");
        assert_eq!(k(KeyCode::Char('x'), a | c), b"\x1b\x18");
        assert_eq!(k(KeyCode::Enter, n), b"\r");
        assert_eq!(k(KeyCode::Backspace, n), b"\x7f");
        assert_eq!(k(KeyCode::Backspace, c), b"\x08");
        assert_eq!(k(KeyCode::BackTab, s), b"\x1b[Z");
        assert_eq!(k(KeyCode::Up, n), b"\x1b[A");
        assert_eq!(encode_key(&KeyEvent::new(KeyCode::Up, n), true), b"\x1bOA");
        assert_eq!(k(KeyCode::Right, c), b"\x1b[1;5C");
        assert_eq!(k(KeyCode::Left, s | a), b"\x1b[1;4D");
        assert_eq!(k(KeyCode::Home, n), b"\x1b[H");
        assert_eq!(k(KeyCode::Delete, n), b"\x1b[3~");
        assert_eq!(k(KeyCode::PageUp, c), b"\x1b[5;5~");
        assert_eq!(k(KeyCode::F(1), n), b"\x1bOP");
        assert_eq!(k(KeyCode::F(1), s), b"\x1b[1;2P");
        assert_eq!(k(KeyCode::F(5), n), b"\x1b[15~");
        assert_eq!(k(KeyCode::F(12), c), b"\x1b[24;5~");
        assert_eq!(k(KeyCode::F(20), n), b"");
    }

    #[test]
    fn mouse_reports() {
        assert_eq!(encode_mouse(0, 4, 2, false, true), b"\x1b[<0;5;3M");
        assert_eq!(encode_mouse(0, 4, 2, true, true), b"\x1b[<0;5;3m");
        assert_eq!(encode_mouse(64, 0, 0, false, false), b"\x1b[M`!!");
        assert_eq!(encode_mouse(0, 300, 0, false, false), b"");
    }

    #[test]
    fn pastes_are_bracketed_and_cleaned() {
        assert_eq!(encode_paste("a\nb", false), b"a\rb");
        assert_eq!(
            encode_paste("x\x1b[201~rm -rf /", true),
            b"\x1b[200~x[201~rm -rf /\x1b[201~"
        );
    }
}
