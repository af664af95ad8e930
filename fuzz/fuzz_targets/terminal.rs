//! Arbitrary program output into a terminal pane: the emulator, the frame snapshot, the text
//! capture, copy-mode search, resizes, and the pane drawing the frame. Nothing may panic.
#![no_main]

use fieldkit::engine::pty::Screen;
use fieldkit_panes::{Cx, EngineEvent, Pane, RenderCx, TermPane};
use libfuzzer_sys::fuzz_target;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (cols, rows) = (data[0] as u16 % 200 + 1, data[1] as u16 % 80 + 1);
    let mut screen = Screen::new(cols, rows, 200);
    let body = &data[2..];
    // Feed in a few chunks, resizing between them, as output and resizes interleave.
    for (i, chunk) in body.chunks(body.len() / 3 + 1).enumerate() {
        let fed = screen.feed(chunk);
        assert!(!fed.answered.windows(4).any(|w| w == b"\x1b]52"), "never echo the clipboard");
        if i == 1 {
            screen.resize(rows.max(1), cols.max(1));
        }
    }
    let frame = screen.frame();
    let _ = screen.text(true);
    let _ = screen.copy(&fieldkit_panes::CopyCmd::Enter);
    if let Ok(s) = std::str::from_utf8(&body[..body.len().min(8)]) {
        let _ = screen.copy(&fieldkit_panes::CopyCmd::Search { pattern: s.to_string(), forward: false });
    }
    let mut pane = TermPane::new("sh", None);
    pane.on_engine(EngineEvent::TermFrame(Box::new(frame)), &mut Cx::default());
    let area = Rect::new(0, 0, cols, rows);
    let mut buf = Buffer::empty(area);
    let theme = fieldkit_widgets::Theme::default();
    pane.render(area, &mut buf, &RenderCx { theme: &theme, focused: true, retained: false });
});
