//! What every pane's snapshot tests share: drawing on ratatui's TestBackend and where the
//! snapshots live (the repository's snapshots/ folder).

use crate::{Pane, RenderCx, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// The pane drawn at `w`x`h` with the default theme, as text.
pub fn snapshot(pane: &mut dyn Pane, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let theme = Theme::default();
    term.draw(|f| {
        pane.render(
            f.area(),
            f.buffer_mut(),
            &RenderCx {
                theme: &theme,
                focused: true,
                retained: false,
            },
        )
    })
    .expect("draw");
    format!("{}", term.backend())
}

pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}
