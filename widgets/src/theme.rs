/*!
The colours every pane draws with.

A theme is a flat set of named slots (`fg`, `border_focused`, `hint_key`, ...). Panes never
pick a colour themselves; they ask the theme, so a user's theme file restyles everything.
Parsing theme *files* (TOML, `inherits`) lives in the binary; this module only knows the slots,
so that widgets and panes can be tested with `Theme::default()`.
*/

use ratatui::style::{Color, Modifier, Style};
use std::str::FromStr;

macro_rules! slots {
    ($($name:ident = $default:expr, $doc:literal;)*) => {
        /// Every colour fieldkit draws with. Field names are the slot names in theme files.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Theme {
            pub name: String,
            $(#[doc = $doc] pub $name: Color,)*
        }

        impl Theme {
            /// The slot names a theme file may set, in file order.
            pub const SLOTS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Sets one slot by name. Returns false for a name that is not a slot.
            pub fn set(&mut self, slot: &str, color: Color) -> bool {
                match slot {
                    $(stringify!($name) => { self.$name = color; true })*
                    _ => false,
                }
            }

            fn dark() -> Self {
                Theme { name: "dark".into(), $($name: $default,)* }
            }
        }
    };
}

slots! {
    bg = Color::Rgb(0x1d, 0x1f, 0x24), "Background of the whole screen.";
    fg = Color::Rgb(0xd4, 0xd7, 0xdd), "Ordinary text.";
    muted = Color::Rgb(0x7a, 0x80, 0x8c), "Secondary text: labels, units, placeholders.";
    border = Color::Rgb(0x45, 0x4a, 0x54), "Borders of panes that do not have focus.";
    border_focused = Color::Rgb(0x61, 0xaf, 0xef), "Border and title of the focused pane.";
    accent = Color::Rgb(0x61, 0xaf, 0xef), "Headings and highlights.";
    tab_bg = Color::Rgb(0x28, 0x2c, 0x34), "Tab bar background.";
    tab_fg = Color::Rgb(0xab, 0xb2, 0xbf), "Inactive tab names.";
    tab_active_bg = Color::Rgb(0x61, 0xaf, 0xef), "Background of the active tab.";
    tab_active_fg = Color::Rgb(0x1d, 0x1f, 0x24), "Text of the active tab.";
    hint_bg = Color::Rgb(0x28, 0x2c, 0x34), "Hint bar background.";
    hint_key = Color::Rgb(0xe5, 0xc0, 0x7b), "Keys in the hint bar and help.";
    hint_desc = Color::Rgb(0xab, 0xb2, 0xbf), "Descriptions in the hint bar and help.";
    popup_bg = Color::Rgb(0x23, 0x26, 0x2e), "Background of palette, help and prompts.";
    popup_border = Color::Rgb(0xe5, 0xc0, 0x7b), "Border of palette, help and prompts.";
    selection_bg = Color::Rgb(0x3e, 0x44, 0x51), "Selected row in lists.";
    selection_fg = Color::Rgb(0xff, 0xff, 0xff), "Text of the selected row.";
    matched = Color::Rgb(0xe5, 0xc0, 0x7b), "Characters that matched a fuzzy query.";
    ok = Color::Rgb(0x98, 0xc3, 0x79), "Good states: ready, done.";
    warn = Color::Rgb(0xe5, 0xc0, 0x7b), "Transitional states: starting, pending.";
    error = Color::Rgb(0xe0, 0x6c, 0x75), "Failures.";
}

impl Default for Theme {
    fn default() -> Self {
        Self::dark()
    }
}

impl Theme {
    pub fn base(&self) -> Style {
        Style::new().fg(self.fg).bg(self.bg)
    }
    pub fn muted(&self) -> Style {
        Style::new().fg(self.muted)
    }
    pub fn heading(&self) -> Style {
        Style::new().fg(self.accent).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new()
            .fg(self.selection_fg)
            .bg(self.selection_bg)
            .add_modifier(Modifier::BOLD)
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            Style::new()
                .fg(self.border_focused)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(self.border)
        }
    }
    pub fn popup(&self) -> Style {
        Style::new().fg(self.fg).bg(self.popup_bg)
    }
}

/// Parses a colour as theme files write it: `#rrggbb`, an ANSI name (`red`, `light-blue`,
/// `dark-gray`), an index `0`-`255`, or `reset`.
pub fn parse_color(s: &str) -> Option<Color> {
    Color::from_str(s.trim()).ok()
}
