//! Arbitrary text as a model's answer: the markdown the chat pane draws. Whatever a model
//! writes (escapes, half a fence, wide characters) may never panic the renderer or put a
//! control character on a line.
#![no_main]

use fieldkit_widgets::markdown::render;
use fieldkit_widgets::Theme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let width = data.first().map(|b| *b as u16 % 120).unwrap_or(40);
    let (lines, _) = render(&text, width, &Theme::default());
    for l in &lines {
        for (s, _) in l {
            assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        }
    }
});
