/*!
The one-line key-hint bar.

Hints are generated from the keymap by the server; this widget only lays them out: as many
whole hints as fit, then an ellipsis, so a narrow terminal never shows half a key.
*/

use crate::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;
use serde::{Deserialize, Serialize};

/// One key and what it does, as shown in the hint bar and in help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub key: String,
    pub desc: String,
}

impl Hint {
    pub fn new(key: impl Into<String>, desc: impl Into<String>) -> Self {
        Hint {
            key: key.into(),
            desc: desc.into(),
        }
    }
}

pub struct HintBar<'a> {
    /// Shown first, highlighted (e.g. "PREFIX" while the prefix key is pending).
    pub mode: Option<&'a str>,
    pub hints: &'a [Hint],
    pub theme: &'a Theme,
}

impl Widget for HintBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let t = self.theme;
        buf.set_style(area, Style::new().bg(t.hint_bg).fg(t.hint_desc));
        let end = area.x + area.width;
        let mut x = area.x;
        if let Some(mode) = self.mode {
            let label = format!(" {mode} ");
            let (nx, _) = buf.set_stringn(
                x,
                area.y,
                &label,
                area.width as usize,
                Style::new()
                    .bg(t.accent)
                    .fg(t.tab_active_fg)
                    .add_modifier(Modifier::BOLD),
            );
            x = nx + 1;
        }
        for (i, h) in self.hints.iter().enumerate() {
            let width = h.key.chars().count() + 1 + h.desc.chars().count();
            let last = i + 1 == self.hints.len();
            // Leave room for the ellipsis unless this is the last hint.
            let need = width as u16 + if last { 1 } else { 3 };
            if x.saturating_add(need) > end {
                if x < end {
                    buf.set_string(x, area.y, "…", Style::new().fg(t.muted));
                }
                return;
            }
            let (nx, _) = buf.set_stringn(
                x + 1,
                area.y,
                &h.key,
                usize::MAX,
                Style::new().fg(t.hint_key).add_modifier(Modifier::BOLD),
            );
            let (nx, _) = buf.set_stringn(
                nx + 1,
                area.y,
                &h.desc,
                usize::MAX,
                Style::new().fg(t.hint_desc),
            );
            x = nx + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &Buffer) -> String {
        buf.content.iter().map(|c| c.symbol()).collect()
    }

    #[test]
    fn whole_hints_only_then_ellipsis() {
        let hints = vec![
            Hint::new("C-b", "prefix"),
            Hint::new("?", "help"),
            Hint::new("r", "refresh"),
        ];
        let theme = Theme::default();
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 1));
        HintBar {
            mode: None,
            hints: &hints,
            theme: &theme,
        }
        .render(buf.area, &mut buf);
        assert_eq!(line(&buf).trim_end(), " C-b prefix  ? help  r refresh");

        let mut buf = Buffer::empty(Rect::new(0, 0, 18, 1));
        HintBar {
            mode: None,
            hints: &hints,
            theme: &theme,
        }
        .render(buf.area, &mut buf);
        assert_eq!(line(&buf).trim_end(), " C-b prefix …");
    }

    #[test]
    fn mode_label_comes_first() {
        let hints = vec![Hint::new("%", "split right")];
        let theme = Theme::default();
        let mut buf = Buffer::empty(Rect::new(0, 0, 30, 1));
        HintBar {
            mode: Some("PREFIX"),
            hints: &hints,
            theme: &theme,
        }
        .render(buf.area, &mut buf);
        assert_eq!(line(&buf).trim_end(), " PREFIX   % split right");
    }
}
