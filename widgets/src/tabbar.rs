/*!
The top line: session name, then one label per tab, the active one highlighted; a marker on
the right tells when the prefix key is pending or a pane is zoomed.
*/

use crate::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;

pub struct TabLabel<'a> {
    pub index: usize,
    pub name: &'a str,
    pub active: bool,
    pub zoomed: bool,
    /// Something happened in the tab while it was out of sight (a bell).
    pub alert: bool,
}

pub struct TabBar<'a> {
    pub session: &'a str,
    pub tabs: &'a [TabLabel<'a>],
    pub right: &'a str,
    pub theme: &'a Theme,
}

impl Widget for TabBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let t = self.theme;
        let base = Style::new().bg(t.tab_bg).fg(t.tab_fg);
        buf.set_style(area, base);
        let end = area.x + area.width;
        let right_w = self.right.chars().count() as u16;
        let limit = end.saturating_sub(right_w + 1);
        let (mut x, _) = buf.set_stringn(
            area.x,
            area.y,
            format!(" [{}] ", self.session),
            area.width as usize,
            base.fg(t.accent).add_modifier(Modifier::BOLD),
        );
        for tab in self.tabs {
            let label = format!(
                " {}:{}{}{} ",
                tab.index,
                tab.name,
                if tab.zoomed { " Z" } else { "" },
                if tab.alert { " !" } else { "" }
            );
            let style = if tab.active {
                Style::new()
                    .bg(t.tab_active_bg)
                    .fg(t.tab_active_fg)
                    .add_modifier(Modifier::BOLD)
            } else {
                base
            };
            if x >= limit {
                break;
            }
            let (nx, _) = buf.set_stringn(x, area.y, &label, (limit - x) as usize, style);
            x = nx;
        }
        if right_w > 0 && right_w < area.width {
            buf.set_string(end - right_w, area.y, self.right, base.fg(t.muted));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_then_right_marker() {
        let theme = Theme::default();
        let tabs = [
            TabLabel {
                index: 1,
                name: "main",
                active: true,
                zoomed: false,
                alert: false,
            },
            TabLabel {
                index: 2,
                name: "logs",
                active: false,
                zoomed: true,
                alert: true,
            },
        ];
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 1));
        TabBar {
            session: "s",
            tabs: &tabs,
            right: "fk",
            theme: &theme,
        }
        .render(buf.area, &mut buf);
        let text: String = buf.content.iter().map(|c| c.symbol()).collect();
        assert_eq!(text, " [s]  1:main  2:logs Z !              fk");
        assert_eq!(buf[(6, 0)].bg, theme.tab_active_bg);
    }
}
