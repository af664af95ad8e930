/*!
What the client's terminal can show, and how a rendered frame is brought down to it.

The server renders one frame per session in full colour with Unicode borders, then adapts a
copy for each client: truecolor -> 256 -> 16 -> none, and box drawing -> ASCII. Doing it as a
pass over the finished buffer means no pane ever has to think about terminal capabilities.
*/

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum ColorDepth {
    /// NO_COLOR or a dumb terminal: no colours, selection shown in reverse video.
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

/// The capabilities of one client's terminal, decided from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCaps {
    pub depth: ColorDepth,
    /// Line drawing characters are available (false on the Linux console or a non-UTF-8 locale).
    pub unicode: bool,
}

impl Default for TermCaps {
    fn default() -> Self {
        TermCaps {
            depth: ColorDepth::TrueColor,
            unicode: true,
        }
    }
}

impl TermCaps {
    /// Decides capabilities from the variables a terminal sets. `locale` is the first of
    /// LC_ALL, LC_CTYPE, LANG that is set.
    pub fn from_env(
        term: Option<&str>,
        colorterm: Option<&str>,
        no_color: bool,
        locale: Option<&str>,
    ) -> Self {
        let term = term.unwrap_or("");
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        let depth = if no_color || term == "dumb" {
            ColorDepth::None
        } else if colorterm == "truecolor" || colorterm == "24bit" || term.ends_with("-direct") {
            ColorDepth::TrueColor
        } else if term.contains("256color") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        };
        let console = term == "linux" || term.starts_with("vt1") || term.starts_with("vt2");
        let utf8 = match locale {
            Some(l) if !l.is_empty() => {
                let l = l.to_ascii_lowercase();
                l.contains("utf-8") || l.contains("utf8")
            }
            // No locale set at all: most modern systems are UTF-8; assume so.
            _ => true,
        };
        TermCaps {
            depth,
            unicode: utf8 && !console && term != "dumb",
        }
    }

    /// Reads the current process's environment.
    pub fn detect() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        let locale = var("LC_ALL")
            .filter(|s| !s.is_empty())
            .or_else(|| var("LC_CTYPE").filter(|s| !s.is_empty()))
            .or_else(|| var("LANG"));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::from_env(
            var("TERM").as_deref(),
            var("COLORTERM").as_deref(),
            no_color,
            locale.as_deref(),
        )
    }

    pub fn describe(&self) -> String {
        let depth = match self.depth {
            ColorDepth::None => "no colour",
            ColorDepth::Ansi16 => "16 colours",
            ColorDepth::Ansi256 => "256 colours",
            ColorDepth::TrueColor => "truecolor",
        };
        let borders = if self.unicode {
            "unicode borders"
        } else {
            "ascii borders"
        };
        format!("{depth}, {borders}")
    }

    /// Brings a finished frame down to these capabilities in place. `base_bg` is the theme's
    /// background: without colour, cells on any other background are shown reversed so that
    /// selections and the focused tab stay visible.
    pub fn adapt(&self, buf: &mut Buffer, base_bg: Color) {
        if self.is_full() {
            return;
        }
        for cell in buf.content.iter_mut() {
            self.adapt_cell(cell, base_bg);
        }
    }

    /// Nothing to adapt: truecolor and Unicode.
    pub fn is_full(&self) -> bool {
        self.depth == ColorDepth::TrueColor && self.unicode
    }

    /// `adapt` for one cell: what a frame writer applies to just the cells it sends.
    pub fn adapt_cell(&self, cell: &mut ratatui::buffer::Cell, base_bg: Color) {
        if self.depth == ColorDepth::None {
            let highlighted = cell.bg != base_bg && cell.bg != Color::Reset;
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
            if highlighted {
                cell.modifier.insert(Modifier::REVERSED);
            }
        } else {
            cell.fg = degrade(cell.fg, self.depth);
            cell.bg = degrade(cell.bg, self.depth);
        }
        if !self.unicode {
            if let Some(ascii) = ascii_for(cell.symbol()) {
                cell.set_symbol(ascii);
            }
        }
    }
}

/// Maps a colour to the nearest one a terminal of `depth` can show.
pub fn degrade(c: Color, depth: ColorDepth) -> Color {
    match (depth, c) {
        (ColorDepth::None, _) => Color::Reset,
        (ColorDepth::TrueColor, c) => c,
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(rgb_to_256(r, g, b)),
        (ColorDepth::Ansi256, c) => c,
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_16(r, g, b),
        (ColorDepth::Ansi16, Color::Indexed(i)) if i >= 16 => {
            let (r, g, b) = index_to_rgb(i);
            nearest_16(r, g, b)
        }
        (ColorDepth::Ansi16, Color::Indexed(i)) => ANSI16[i as usize].0,
        (ColorDepth::Ansi16, c) => c,
    }
}

/// xterm's 6x6x6 cube and 24-step grey ramp: picks whichever is closer.
pub fn rgb_to_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let cube = |v: u8| -> usize {
        LEVELS
            .iter()
            .enumerate()
            .min_by_key(|(_, l)| (**l as i32 - v as i32).abs())
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let (ri, gi, bi) = (cube(r), cube(g), cube(b));
    let cube_rgb = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let avg = (r as u32 + g as u32 + b as u32) / 3;
    let grey_i = if avg < 8 { 0 } else { ((avg - 8) / 10).min(23) };
    let grey_v = (8 + grey_i * 10) as u8;
    if dist((r, g, b), (grey_v, grey_v, grey_v)) < dist((r, g, b), cube_rgb) {
        232 + grey_i as u8
    } else {
        16 + (36 * ri + 6 * gi + bi) as u8
    }
}

fn index_to_rgb(i: u8) -> (u8, u8, u8) {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match i {
        0..=15 => ANSI16[i as usize].1,
        16..=231 => {
            let i = i - 16;
            (
                LEVELS[(i / 36) as usize],
                LEVELS[((i / 6) % 6) as usize],
                LEVELS[(i % 6) as usize],
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (x as i32 - y as i32).pow(2) as u32;
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, rgb)| dist((r, g, b), *rgb))
        .map(|(c, _)| *c)
        .unwrap_or(Color::Reset)
}

/// ASCII stand-ins for the line drawing and symbols fieldkit draws.
pub fn ascii_for(sym: &str) -> Option<&'static str> {
    Some(match sym {
        "─" | "━" | "═" | "╌" => "-",
        "│" | "┃" | "║" | "╎" => "|",
        "┌" | "┐" | "└" | "┘" | "╭" | "╮" | "╰" | "╯" | "├" | "┤" | "┬" | "┴" | "┼" | "╔" | "╗"
        | "╚" | "╝" | "┏" | "┓" | "┗" | "┛" => "+",
        "…" => "~",
        "·" | "•" => ".",
        "▶" | "›" | "❯" => ">",
        "█" | "▇" | "▆" | "▅" | "▄" => "#",
        "▃" | "▂" | "▁" => "_",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn env_decides_depth_and_borders() {
        let c = TermCaps::from_env(Some("xterm-256color"), Some("truecolor"), false, None);
        assert_eq!(c.depth, ColorDepth::TrueColor);
        assert!(c.unicode);
        let c = TermCaps::from_env(Some("xterm-256color"), None, false, Some("en_US.UTF-8"));
        assert_eq!(c.depth, ColorDepth::Ansi256);
        let c = TermCaps::from_env(Some("linux"), None, false, Some("C.UTF-8"));
        assert_eq!(c.depth, ColorDepth::Ansi16);
        assert!(!c.unicode, "the Linux console gets ASCII borders");
        let c = TermCaps::from_env(Some("xterm-256color"), Some("truecolor"), true, None);
        assert_eq!(c.depth, ColorDepth::None, "NO_COLOR wins");
        let c = TermCaps::from_env(Some("xterm"), None, false, Some("POSIX"));
        assert!(!c.unicode, "a non-UTF-8 locale gets ASCII borders");
    }

    #[test]
    fn colours_degrade_to_the_nearest() {
        assert_eq!(rgb_to_256(255, 0, 0), 196);
        assert_eq!(rgb_to_256(0, 0, 0), 16);
        assert_eq!(rgb_to_256(128, 128, 128), 244);
        assert_eq!(
            degrade(Color::Rgb(250, 10, 10), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            degrade(Color::Indexed(196), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(degrade(Color::Rgb(1, 2, 3), ColorDepth::None), Color::Reset);
        assert_eq!(
            degrade(Color::Blue, ColorDepth::Ansi256),
            Color::Blue,
            "named colours pass through"
        );
    }

    #[test]
    fn adapt_makes_ascii_and_keeps_highlights_visible() {
        let mut buf = Buffer::with_lines(["┌─┐", "│x│", "└─┘"]);
        let base = Color::Rgb(0, 0, 0);
        buf.set_style(Rect::new(0, 0, 3, 3), ratatui::style::Style::new().bg(base));
        buf[(1, 1)].bg = Color::Rgb(50, 50, 50);
        let caps = TermCaps {
            depth: ColorDepth::None,
            unicode: false,
        };
        caps.adapt(&mut buf, base);
        let text: Vec<String> = (0..3)
            .map(|y| (0..3).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect();
        assert_eq!(text, vec!["+-+", "|x|", "+-+"]);
        assert!(buf[(1, 1)].modifier.contains(Modifier::REVERSED));
        assert!(!buf[(0, 0)].modifier.contains(Modifier::REVERSED));
        assert_eq!(buf[(1, 1)].bg, Color::Reset);
    }
}
