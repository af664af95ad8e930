/*!
Placement of floating popups (palette, help, prompts): centred, clamped to the screen, and
cleared underneath so the layer below never shows through.
*/

use crate::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, BorderType, Borders, Clear, Widget};

/// A rectangle of at most `w` x `h`, centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clears `rect`, draws the popup frame with `title`, and returns the inner area.
pub fn frame(rect: Rect, title: &str, theme: &Theme, buf: &mut Buffer) -> Rect {
    Clear.render(rect, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(ratatui::style::Style::new().fg(theme.popup_border))
        .style(theme.popup())
        .title(format!(" {title} "))
        .title_style(theme.heading());
    let inner = block.inner(rect);
    block.render(rect, buf);
    inner
}
