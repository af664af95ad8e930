/*!
Reusable ratatui widgets for fieldkit, and the `Theme` type.

This crate is the bottom layer: it knows ratatui and nothing of sessions, engines or
terminals. Everything here is a pure function of its inputs, so every widget is tested by
rendering it into a `Buffer` and reading the cells back.
*/

pub mod caps;
pub mod code;
pub mod hints;
pub mod markdown;
pub mod picker;
pub mod plot;
pub mod popup;
pub mod tabbar;
pub mod table;
pub mod theme;

pub use caps::{ColorDepth, TermCaps};
pub use hints::{Hint, HintBar};
pub use picker::{Picker, PickerItem, KEYSTROKE_MS, LARGE};
pub use tabbar::{TabBar, TabLabel};
pub use theme::Theme;
