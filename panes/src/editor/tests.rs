//! The code editor's tests: keys and verbs, search and replace, files (open, save, refusals,
//! buffers, restore), big inputs, highlighting, snapshots.
use super::draw::{per_char, HL_MARGIN};
use super::*;
use crate::testkit::{settings, snapshot};
use crate::Theme;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

const STAMP: FileStamp = FileStamp {
    mtime_ns: 1_700_000_000_000_000_000,
    size: 42,
};

const RUST: &str = r#"//! Counts the words of a text.
use std::collections::HashMap;

/// How often each word comes.
pub fn count(text: &str) -> HashMap<&str, usize> {
    let mut seen = HashMap::new();
    for word in text.split_whitespace() {
        *seen.entry(word).or_insert(0) += 1;
    }
    seen
}

fn main() {
    let text = "the cat and the hat"; // a short one
    let n = count(text);
    println!("{} distinct words", n.len());
}
"#;

fn opened(path: &str, text: &str) -> EditorEvent {
    EditorEvent::Opened {
        path: path.into(),
        text: Rope::from_str(text),
        crlf: false,
        stamp: Some(STAMP),
        read_only: None,
        history: None,
    }
}

fn ev(p: &mut EditorPane, e: EngineEvent) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_engine(e, &mut cx);
    cx.effects
}

fn editor(p: &mut EditorPane, e: EditorEvent) -> Vec<Effect> {
    ev(p, EngineEvent::Editor(e))
}

/// A pane with `path` open, holding `text`.
fn pane(path: &str, text: &str) -> EditorPane {
    let mut p = EditorPane::default();
    editor(&mut p, opened(path, text));
    p
}

fn press(p: &mut EditorPane, code: KeyCode, m: KeyModifiers) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_input(&KeyEvent::new(code, m), &mut cx);
    cx.effects
}

fn key(p: &mut EditorPane, code: KeyCode) -> Vec<Effect> {
    press(p, code, KeyModifiers::NONE)
}

fn shift(p: &mut EditorPane, code: KeyCode) {
    press(p, code, KeyModifiers::SHIFT);
}

fn ctrl(p: &mut EditorPane, code: KeyCode) {
    press(p, code, KeyModifiers::CONTROL);
}

fn alt(p: &mut EditorPane, c: char) {
    press(p, KeyCode::Char(c), KeyModifiers::ALT);
}

/// Types `s` key by key (a newline is Enter).
fn typ(p: &mut EditorPane, s: &str) {
    for c in s.chars() {
        if c == '\n' {
            key(p, KeyCode::Enter);
        } else {
            key(p, KeyCode::Char(c));
        }
    }
}

fn act(p: &mut EditorPane, name: &'static str, arg: Option<&str>) -> Vec<Effect> {
    let a = Action::Pane {
        name,
        arg: arg.map(String::from),
    };
    assert!(EditorVerb::of(&a).is_some(), "{name} is not an editor verb");
    let mut cx = Cx::default();
    assert_eq!(p.on_action(&a, &mut cx), Outcome::Consumed, "{name}");
    cx.effects
}

fn verb(p: &mut EditorPane, name: &'static str) -> Vec<Effect> {
    act(p, name, None)
}

fn head(p: &EditorPane) -> usize {
    p.buf().doc.sel.head
}

fn selected(p: &EditorPane) -> String {
    let d = &p.buf().doc;
    d.rope.slice(d.sel.range()).to_string()
}

fn draw_with(p: &mut EditorPane, w: u16, h: u16, theme: &Theme) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| {
        p.render(
            f.area(),
            f.buffer_mut(),
            &RenderCx {
                theme,
                focused: true,
                retained: false,
            },
        )
    })
    .expect("draw");
    term.backend().buffer().clone()
}

fn draw(p: &mut EditorPane, w: u16, h: u16) -> Buffer {
    draw_with(p, w, h, &Theme::default())
}

fn row(b: &Buffer, y: u16) -> String {
    (0..b.area.width).map(|x| b[(x, y)].symbol()).collect()
}

fn status(b: &Buffer) -> String {
    row(b, b.area.height - 1)
}

/// The row that shows the find bar (above the status line).
fn bar(b: &Buffer) -> String {
    row(b, b.area.height - 2)
}

/// The cursor after drawing at `w`x`h`: it must be inside the text area, on the char at the
/// cursor (or past the end of its line).
fn cursor_checked(p: &mut EditorPane, w: u16, h: u16) -> Position {
    let b = draw(p, w, h);
    let area = Rect::new(0, 0, w, h);
    let pos = p.cursor(area).expect("the cursor is on screen");
    assert!(area.contains(pos), "{pos:?} outside {area:?}");
    assert!(pos.y < h - 1, "the cursor is on the status line");
    let d = &p.buf().doc;
    let (line, col) = d.line_col(d.sel.head);
    if col < d.line_len(line) {
        let ch = d.rope.char(d.sel.head).to_string();
        assert_eq!(b[(pos.x, pos.y)].symbol(), ch, "the cell under the cursor");
    }
    pos
}

// ---- typing and moving ----

#[test]
fn typing_inserts_at_the_cursor_and_marks_the_buffer_unsaved() {
    let mut p = pane("/w/a.txt", "");
    assert_eq!(p.title(), "edit: a.txt");
    typ(&mut p, "héllo");
    assert_eq!(p.text(), "héllo");
    assert_eq!(head(&p), 5, "positions are chars");
    assert_eq!(p.title(), "edit: a.txt [+]");
    key(&mut p, KeyCode::Left);
    key(&mut p, KeyCode::Left);
    typ(&mut p, "_");
    assert_eq!(p.text(), "hél_lo");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("[+] unsaved"), "{}", status(&b));
    assert!(status(&b).contains("1:5 of 1"), "{}", status(&b));
}

#[test]
fn enter_keeps_the_indent_of_the_line() {
    let mut p = pane("/w/a.rs", "fn a() {\n    let x = 1;\n}\n");
    act(&mut p, "goto-line", Some("2"));
    key(&mut p, KeyCode::End);
    key(&mut p, KeyCode::Enter);
    typ(&mut p, "y");
    assert_eq!(p.text(), "fn a() {\n    let x = 1;\n    y\n}\n");
    // Enter over a selection replaces it.
    key(&mut p, KeyCode::Home);
    shift(&mut p, KeyCode::End);
    assert_eq!(selected(&p), "y");
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.text(), "fn a() {\n    let x = 1;\n    \n    \n}\n");
}

#[test]
fn backspace_and_delete_join_lines() {
    let mut p = pane("/w/a.txt", "ab\ncd");
    act(&mut p, "goto-line", Some("2"));
    assert_eq!(head(&p), 3);
    key(&mut p, KeyCode::Backspace);
    assert_eq!(p.text(), "abcd");
    assert_eq!(head(&p), 2);
    key(&mut p, KeyCode::Backspace);
    assert_eq!(p.text(), "acd");
    key(&mut p, KeyCode::Delete);
    assert_eq!(p.text(), "ad");
    ctrl(&mut p, KeyCode::Home);
    key(&mut p, KeyCode::Backspace);
    assert_eq!(p.text(), "ad", "nothing before the start");
    ctrl(&mut p, KeyCode::End);
    key(&mut p, KeyCode::Delete);
    assert_eq!(p.text(), "ad", "nothing after the end");
}

#[test]
fn shift_arrows_select_and_typing_replaces_the_selection() {
    let mut p = pane("/w/a.txt", "hello world\nsecond line\n");
    for _ in 0..5 {
        shift(&mut p, KeyCode::Right);
    }
    assert_eq!(selected(&p), "hello");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("5 selected"), "{}", status(&b));
    typ(&mut p, "X");
    assert_eq!(p.text(), "X world\nsecond line\n");
    // Shift-Down grows it by a line; Left collapses it to its start.
    ctrl(&mut p, KeyCode::Home);
    shift(&mut p, KeyCode::Down);
    assert_eq!(selected(&p), "X world\n");
    key(&mut p, KeyCode::Left);
    assert!(p.buf().doc.sel.is_empty());
    assert_eq!(head(&p), 0);
    // Ctrl-Shift-Right selects a word.
    press(
        &mut p,
        KeyCode::Right,
        KeyModifiers::CONTROL | KeyModifiers::SHIFT,
    );
    assert_eq!(selected(&p), "X");
    press(
        &mut p,
        KeyCode::Right,
        KeyModifiers::CONTROL | KeyModifiers::SHIFT,
    );
    assert_eq!(selected(&p), "X world");
    key(&mut p, KeyCode::Delete);
    assert_eq!(p.text(), "\nsecond line\n");
}

#[test]
fn tab_and_backtab_indent_the_selected_lines() {
    let mut p = pane("/w/a.txt", "a\nb\n\nc\n");
    for _ in 0..3 {
        shift(&mut p, KeyCode::Down);
    }
    // The selection ends at the start of line 4: lines 1-3 are indented, the empty one not.
    key(&mut p, KeyCode::Tab);
    assert_eq!(p.text(), "    a\n    b\n\nc\n");
    assert_eq!(selected(&p), "    a\n    b\n", "the lines stay selected");
    key(&mut p, KeyCode::Tab);
    assert_eq!(p.text(), "        a\n        b\n\nc\n");
    press(&mut p, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(p.text(), "    a\n    b\n\nc\n");
    verb(&mut p, "undo");
    assert_eq!(p.text(), "        a\n        b\n\nc\n", "one undo step");
    verb(&mut p, "undo");
    verb(&mut p, "undo");
    assert_eq!(p.text(), "a\nb\n\nc\n");
    press(&mut p, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(p.text(), "a\nb\n\nc\n", "nothing to outdent");

    // Without a selection Tab inserts spaces to the next stop, and S-Tab outdents the line,
    // leaving the cursor on its text with nothing selected.
    let mut p = pane("/w/a.txt", "xy\n    foo\n");
    key(&mut p, KeyCode::Right);
    key(&mut p, KeyCode::Tab);
    assert_eq!(p.text(), "x   y\n    foo\n");
    assert_eq!(head(&p), 4);
    act(&mut p, "goto-line", Some("2"));
    key(&mut p, KeyCode::End);
    key(&mut p, KeyCode::Left);
    press(&mut p, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(p.text(), "x   y\nfoo\n");
    assert!(
        p.buf().doc.sel.is_empty(),
        "S-Tab selected {:?}",
        selected(&p)
    );
    assert_eq!(p.buf().doc.line_col(head(&p)), (1, 2));
    typ(&mut p, "!");
    assert_eq!(p.text(), "x   y\nfo!o\n");
}

#[test]
fn undo_and_redo_through_the_verbs() {
    let mut p = EditorPane::default();
    typ(&mut p, "abc");
    key(&mut p, KeyCode::Left);
    typ(&mut p, "d");
    assert_eq!(p.text(), "abdc");
    verb(&mut p, "undo");
    assert_eq!(p.text(), "abc");
    verb(&mut p, "undo");
    assert_eq!(p.text(), "", "typing is one step until the cursor moves");
    verb(&mut p, "undo");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("nothing to undo"), "{}", status(&b));
    verb(&mut p, "redo");
    assert_eq!(p.text(), "abc");
    verb(&mut p, "redo");
    assert_eq!(p.text(), "abdc");
    assert_eq!(head(&p), 3);
    verb(&mut p, "redo");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("nothing to redo"), "{}", status(&b));
    // The next key clears the note.
    key(&mut p, KeyCode::Left);
    let b = draw(&mut p, 80, 24);
    assert!(!status(&b).contains("nothing to redo"), "{}", status(&b));
}

// ---- find and replace ----

#[test]
fn find_is_incremental_enter_goes_on_and_wraps() {
    let mut p = pane("/w/a.txt", "one cat\ntwo cat\nthree dog cat\n");
    verb(&mut p, "find");
    typ(&mut p, "c");
    assert_eq!(p.buf().doc.sel.range(), 4..5);
    typ(&mut p, "at");
    assert_eq!(p.buf().doc.sel.range(), 4..7);
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).starts_with("find: cat"), "{}", bar(&b));
    assert_eq!(
        p.cursor(Rect::new(0, 0, 80, 24)),
        None,
        "the bar has the keys"
    );
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 12..15);
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 26..29);
    let b = draw(&mut p, 80, 24);
    assert!(!status(&b).contains("wrapped"), "{}", status(&b));
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 4..7);
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("search wrapped"), "{}", status(&b));
    press(&mut p, KeyCode::Enter, KeyModifiers::SHIFT);
    assert_eq!(
        p.buf().doc.sel.range(),
        26..29,
        "S-Enter goes back, wrapping"
    );
    // Typing more narrows from where the match is; no match says so.
    typ(&mut p, "z");
    let b = draw(&mut p, 80, 24);
    assert!(
        status(&b).contains("no match for \"catz\""),
        "{}",
        status(&b)
    );
    key(&mut p, KeyCode::Backspace);
    // Esc closes the bar; the verbs still step through the matches.
    key(&mut p, KeyCode::Esc);
    assert_eq!(p.bar, Bar::None);
    assert!(p.cursor(Rect::new(0, 0, 80, 24)).is_some());
    verb(&mut p, "find-next");
    assert_eq!(p.buf().doc.sel.range(), 4..7);
    verb(&mut p, "find-prev");
    assert_eq!(p.buf().doc.sel.range(), 26..29);
    assert_eq!(
        p.text(),
        "one cat\ntwo cat\nthree dog cat\n",
        "the bar never typed"
    );
}

#[test]
fn the_bar_keeps_editing_keys_from_the_text() {
    let mut p = pane("/w/a.txt", "abc\n");
    verb(&mut p, "find");
    for k in [KeyCode::Tab, KeyCode::Delete, KeyCode::BackTab] {
        key(&mut p, k);
    }
    alt(&mut p, 'x');
    assert_eq!(p.text(), "abc\n");
    assert_eq!(p.query.text, "", "Alt-x is not typed into the bar");
}

#[test]
fn regex_whole_word_and_case_toggle_with_alt() {
    let mut p = pane("/w/a.txt", "Cat cat concatenate CAT\n");
    verb(&mut p, "find");
    typ(&mut p, "cat");
    assert_eq!(
        p.buf().doc.sel.range(),
        0..3,
        "case does not matter at first"
    );
    alt(&mut p, 'c');
    assert!(p.query.case_sensitive);
    assert_eq!(p.buf().doc.sel.range(), 4..7, "the first lower-case one");
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).contains("[Aa]"), "{}", bar(&b));
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 11..14, "inside concatenate");
    alt(&mut p, 'w');
    assert!(p.query.whole_word);
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).contains("[w]"), "{}", bar(&b));
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 4..7, "whole words only, wrapping");
    alt(&mut p, 'c');
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.buf().doc.sel.range(), 20..23, "CAT, whole, any case");
    // A regex: the dot matches any char once Alt-r is on.
    alt(&mut p, 'w');
    for _ in 0..3 {
        key(&mut p, KeyCode::Backspace);
    }
    ctrl(&mut p, KeyCode::Home);
    typ(&mut p, "c.t");
    assert!(!p.query.regex);
    let b = draw(&mut p, 80, 24);
    assert!(
        status(&b).contains("no match"),
        "a literal dot: {}",
        status(&b)
    );
    alt(&mut p, 'r');
    assert!(p.query.regex);
    key(&mut p, KeyCode::Enter);
    assert!(
        matches!(selected(&p).to_lowercase().as_str(), "cat"),
        "{}",
        selected(&p)
    );
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).contains("[.*]"), "{}", bar(&b));
}

#[test]
fn a_regex_that_does_not_compile_says_so_in_the_bar() {
    let mut p = pane("/w/a.txt", "f(x) and g(y)\n");
    verb(&mut p, "find");
    alt(&mut p, 'r');
    typ(&mut p, "(");
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).contains("does not compile"), "{}", bar(&b));
    key(&mut p, KeyCode::Enter);
    press(&mut p, KeyCode::Enter, KeyModifiers::SHIFT);
    alt(&mut p, 'a');
    draw(&mut p, 140, 40);
    assert_eq!(p.text(), "f(x) and g(y)\n");
    // Fixing it clears the error and finds.
    typ(&mut p, "y)");
    let b = draw(&mut p, 80, 24);
    assert!(!bar(&b).contains("does not compile"), "{}", bar(&b));
    assert_eq!(selected(&p), "y", "the group matches the y");
    // The same pattern with the bar closed: find-next says so in the status line.
    key(&mut p, KeyCode::Backspace);
    key(&mut p, KeyCode::Backspace);
    key(&mut p, KeyCode::Esc);
    verb(&mut p, "find-next");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("does not compile"), "{}", status(&b));
}

#[test]
fn replace_one_then_all_as_one_undo_step() {
    let mut p = pane("/w/a.txt", "a cat, a cat, a cat, a cat\n");
    verb(&mut p, "replace");
    typ(&mut p, "cat");
    assert_eq!(p.buf().doc.sel.range(), 2..5);
    key(&mut p, KeyCode::Tab);
    typ(&mut p, "dog");
    assert_eq!(p.query.text, "cat", "Tab moved to the with field");
    let b = draw(&mut p, 80, 24);
    assert!(bar(&b).contains("with: dog"), "{}", bar(&b));
    key(&mut p, KeyCode::Enter);
    assert_eq!(p.text(), "a dog, a cat, a cat, a cat\n");
    assert_eq!(p.buf().doc.sel.range(), 9..12, "the next match is selected");
    alt(&mut p, 'a');
    assert_eq!(p.text(), "a dog, a dog, a dog, a dog\n");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("replaced 3"), "{}", status(&b));
    verb(&mut p, "undo");
    assert_eq!(
        p.text(),
        "a dog, a cat, a cat, a cat\n",
        "replace-all is one step"
    );
    verb(&mut p, "undo");
    assert_eq!(p.text(), "a cat, a cat, a cat, a cat\n");
    verb(&mut p, "redo");
    verb(&mut p, "redo");
    assert_eq!(p.text(), "a dog, a dog, a dog, a dog\n");
    // Nothing left to replace: said so, nothing changes.
    alt(&mut p, 'a');
    assert_eq!(p.text(), "a dog, a dog, a dog, a dog\n");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("no match"), "{}", status(&b));
}

// ---- verbs ----

#[test]
fn goto_line_takes_a_number() {
    let mut p = pane("/w/a.txt", "one\n  two\nthree\nfour\nfive");
    act(&mut p, "goto-line", Some("3"));
    assert_eq!(p.buf().doc.line_col(head(&p)), (2, 0));
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).ends_with("3:1 of 5"), "{}", status(&b));
    act(&mut p, "goto-line", Some("99"));
    assert_eq!(
        p.buf().doc.line_col(head(&p)),
        (4, 0),
        "past the end: the last line"
    );
    act(&mut p, "goto-line", Some("x"));
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("a number from 1"), "{}", status(&b));
    assert_eq!(p.buf().doc.line_col(head(&p)), (4, 0));
    assert_eq!(
        verb(&mut p, "goto-line"),
        vec![Effect::Ui(UiCommand::Prompt {
            title: "go to line".into(),
            initial: String::new(),
            then: "goto-line".into(),
            on_empty: None,
        })]
    );
}

#[test]
fn select_all_and_copy_put_the_text_on_the_clipboard() {
    let mut p = pane("/w/a.txt", "abc\ndéf");
    assert_eq!(verb(&mut p, "select-all"), Vec::<Effect>::new());
    assert_eq!(selected(&p), "abc\ndéf");
    assert_eq!(
        verb(&mut p, "copy"),
        vec![Effect::Ui(UiCommand::Clipboard("abc\ndéf".into()))]
    );
    assert_eq!(p.text(), "abc\ndéf");
    key(&mut p, KeyCode::Right);
    assert_eq!(
        verb(&mut p, "copy"),
        Vec::<Effect>::new(),
        "nothing selected"
    );
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("nothing selected"), "{}", status(&b));
}

#[test]
fn cut_removes_the_selection() {
    let mut p = pane("/w/a.txt", "abc\ndef");
    shift(&mut p, KeyCode::End);
    assert_eq!(
        verb(&mut p, "cut"),
        vec![
            Effect::Ui(UiCommand::Clipboard("abc".into())),
            // The text changed: the server keeps it once typing pauses.
            Effect::Engine(EngineRequest::Editor(EditorRequest::Changed)),
        ]
    );
    assert_eq!(p.text(), "\ndef");
    verb(&mut p, "undo");
    assert_eq!(p.text(), "abc\ndef");
}

#[test]
fn paste_asks_the_server_and_inserts_its_answer() {
    let mut p = pane("/w/a.txt", "ab");
    key(&mut p, KeyCode::Right);
    assert_eq!(
        verb(&mut p, "paste"),
        vec![Effect::Engine(EngineRequest::Editor(EditorRequest::Paste))]
    );
    editor(&mut p, EditorEvent::Paste("x\ny".into()));
    assert_eq!(p.text(), "ax\nyb");
    assert_eq!(head(&p), 4);
    verb(&mut p, "undo");
    assert_eq!(p.text(), "ab", "a paste is one step");
    // Over a selection, it replaces it.
    verb(&mut p, "select-all");
    editor(&mut p, EditorEvent::Paste("z".into()));
    assert_eq!(p.text(), "z");
}

// ---- files ----

fn the_save(effects: &[Effect]) -> (String, String, Option<FileStamp>, bool) {
    match effects {
        [Effect::Engine(EngineRequest::Editor(EditorRequest::Save {
            path,
            text,
            crlf,
            stamp,
            force,
        }))] => {
            assert!(!crlf);
            (path.clone(), text.to_string(), *stamp, *force)
        }
        other => panic!("not one save: {other:?}"),
    }
}

#[test]
fn save_sends_the_text_with_the_stamp_and_saved_clears_the_mark() {
    let mut p = pane("/w/a.rs", "fn main() {}\n");
    assert!(!p.title().contains("[+]"));
    typ(&mut p, "//");
    assert_eq!(p.title(), "edit: a.rs [+]");
    let save = verb(&mut p, "save");
    assert_eq!(
        the_save(&save),
        (
            "/w/a.rs".into(),
            "//fn main() {}\n".into(),
            Some(STAMP),
            false
        )
    );
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("saving"), "{}", status(&b));
    let new = FileStamp {
        mtime_ns: STAMP.mtime_ns + 1,
        size: 15,
    };
    editor(
        &mut p,
        EditorEvent::Saved {
            path: "/w/a.rs".into(),
            stamp: new,
        },
    );
    assert_eq!(p.title(), "edit: a.rs");
    assert_eq!(p.busy(), None);
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("saved /w/a.rs"), "{}", status(&b));
    // The next save carries the new stamp.
    typ(&mut p, "x");
    assert_eq!(the_save(&verb(&mut p, "save")).2, Some(new));
}

#[test]
fn typing_while_a_save_is_in_flight_stays_unsaved() {
    let mut p = pane("/w/a.rs", "");
    typ(&mut p, "a");
    verb(&mut p, "save");
    typ(&mut p, "b");
    editor(
        &mut p,
        EditorEvent::Saved {
            path: "/w/a.rs".into(),
            stamp: STAMP,
        },
    );
    assert_eq!(p.text(), "ab");
    assert_eq!(p.title(), "edit: a.rs [+]", "the b was not saved");
}

#[test]
fn a_save_refused_because_the_file_changed_forces_the_next() {
    let mut p = pane("/w/a.rs", "x\n");
    typ(&mut p, "y");
    assert!(!the_save(&verb(&mut p, "save")).3);
    let fx = editor(
        &mut p,
        EditorEvent::SaveFailed {
            path: "/w/a.rs".into(),
            why: "a.rs changed on disk since it was read".into(),
            changed: true,
        },
    );
    match &fx[..] {
        [Effect::Ui(UiCommand::Message { title, text })] => {
            assert_eq!(title, "not saved");
            assert!(text.contains("changed on disk"), "{text}");
            assert!(text.contains("overwrite"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.text(), "yx\n");
    assert_eq!(p.title(), "edit: a.rs [+]");
    assert!(p.busy().is_some());
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("[+] unsaved"), "{}", status(&b));
    // The next save overwrites; once.
    let (_, text, stamp, force) = the_save(&verb(&mut p, "save"));
    assert!(force);
    assert_eq!((text.as_str(), stamp), ("yx\n", Some(STAMP)));
    editor(
        &mut p,
        EditorEvent::SaveFailed {
            path: "/w/a.rs".into(),
            why: "the disk is full".into(),
            changed: false,
        },
    );
    assert!(!the_save(&verb(&mut p, "save")).3, "not changed: no force");
}

#[test]
fn a_read_only_buffer_refuses_changes_with_a_note() {
    let mut p = EditorPane::default();
    editor(
        &mut p,
        EditorEvent::Opened {
            path: "/etc/hosts".into(),
            text: Rope::from_str("127.0.0.1 localhost\n"),
            crlf: false,
            stamp: Some(STAMP),
            read_only: Some("the file is not writable".into()),
            history: None,
        },
    );
    assert_eq!(p.title(), "edit: hosts [read-only]");
    for k in [KeyCode::Char('x'), KeyCode::Enter, KeyCode::Tab] {
        key(&mut p, k);
        let b = draw(&mut p, 80, 24);
        assert!(
            status(&b).contains("read-only: the file is not writable"),
            "{k:?}: {}",
            status(&b)
        );
    }
    key(&mut p, KeyCode::Delete);
    editor(&mut p, EditorEvent::Paste("pasted".into()));
    verb(&mut p, "select-all");
    assert_eq!(
        verb(&mut p, "cut"),
        Vec::<Effect>::new(),
        "a cut would change it"
    );
    assert_eq!(verb(&mut p, "paste"), Vec::<Effect>::new());
    assert_eq!(
        verb(&mut p, "copy"),
        vec![Effect::Ui(UiCommand::Clipboard(
            "127.0.0.1 localhost\n".into()
        ))],
        "copying is fine"
    );
    verb(&mut p, "replace");
    typ(&mut p, "localhost");
    key(&mut p, KeyCode::Tab);
    typ(&mut p, "x");
    key(&mut p, KeyCode::Enter);
    alt(&mut p, 'a');
    key(&mut p, KeyCode::Esc);
    ev(&mut p, EngineEvent::InsertText("inserted".into()));
    assert_eq!(p.text(), "127.0.0.1 localhost\n");
    assert!(!p.buf().doc.modified());
    assert_eq!(verb(&mut p, "save"), Vec::<Effect>::new());
    let b = draw(&mut p, 80, 24);
    assert!(
        status(&b).contains("save-as saves elsewhere"),
        "{}",
        status(&b)
    );
}

#[test]
fn a_scratch_buffer_asks_where_to_save() {
    let mut p = EditorPane::default();
    assert_eq!(p.title(), "edit: [scratch]");
    typ(&mut p, "notes");
    let prompt = Effect::Ui(UiCommand::Prompt {
        title: "save as".into(),
        initial: String::new(),
        then: "save-as".into(),
        on_empty: None,
    });
    assert_eq!(verb(&mut p, "save"), vec![prompt.clone()]);
    assert_eq!(verb(&mut p, "save-as"), vec![prompt]);
    let save = act(&mut p, "save-as", Some(" /w/notes.md "));
    assert_eq!(
        the_save(&save),
        ("/w/notes.md".into(), "notes".into(), None, false)
    );
    let fx = editor(
        &mut p,
        EditorEvent::Saved {
            path: "/w/notes.md".into(),
            stamp: STAMP,
        },
    );
    assert_eq!(p.title(), "edit: notes.md");
    // The scratch text kept for a crash goes (a recovery would bring it back twice).
    assert!(
        fx.iter().any(|e| matches!(e,
            Effect::Engine(EngineRequest::Editor(EditorRequest::Keep(k)))
                if k.len() == 1 && k[0].path.is_none() && !k[0].modified)),
        "{fx:?}"
    );
    // Now it has a path: save-as offers it, save saves there.
    assert_eq!(
        verb(&mut p, "save-as"),
        vec![Effect::Ui(UiCommand::Prompt {
            title: "save as".into(),
            initial: "/w/notes.md".into(),
            then: "save-as".into(),
            on_empty: None,
        })]
    );
    assert_eq!(the_save(&verb(&mut p, "save")).2, Some(STAMP));
}

#[test]
fn a_second_file_opens_beside_the_first_and_the_verbs_switch() {
    let mut p = pane("/w/a.rs", "A\n");
    editor(&mut p, opened("/w/b.rs", "B\n"));
    assert_eq!(p.bufs.len(), 2);
    assert_eq!(p.title(), "edit: b.rs", "the new file is shown");
    let b = draw(&mut p, 80, 24);
    assert!(row(&b, 0).starts_with(" a.rs  b.rs "), "{}", row(&b, 0));
    verb(&mut p, "next-buffer");
    assert_eq!(p.text(), "A\n");
    verb(&mut p, "next-buffer");
    assert_eq!(p.text(), "B\n");
    verb(&mut p, "prev-buffer");
    assert_eq!(p.text(), "A\n");
    verb(&mut p, "prev-buffer");
    assert_eq!(p.text(), "B\n");
    // Opening one that is open and changed keeps the changes and shows it.
    verb(&mut p, "next-buffer");
    typ(&mut p, "!");
    verb(&mut p, "next-buffer");
    editor(&mut p, opened("/w/a.rs", "other\n"));
    assert_eq!(p.bufs.len(), 2);
    assert_eq!(p.text(), "!A\n");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("not read again"), "{}", status(&b));
}

#[test]
fn closing_an_unsaved_buffer_asks_once() {
    let mut p = pane("/w/a.rs", "A\n");
    editor(&mut p, opened("/w/b.rs", "B\n"));
    typ(&mut p, "x");
    verb(&mut p, "close-buffer");
    assert_eq!(p.bufs.len(), 2, "asked first");
    let b = draw(&mut p, 80, 24);
    assert!(
        status(&b).contains("b.rs has unsaved changes"),
        "{}",
        status(&b)
    );
    // Anything in between disarms it.
    key(&mut p, KeyCode::Left);
    verb(&mut p, "close-buffer");
    assert_eq!(p.bufs.len(), 2);
    verb(&mut p, "close-buffer");
    assert_eq!(p.bufs.len(), 1);
    assert_eq!(p.title(), "edit: a.rs");
    // A saved one closes at once; the last leaves a scratch buffer.
    verb(&mut p, "close-buffer");
    assert_eq!(p.bufs.len(), 1);
    assert_eq!(p.title(), "edit: [scratch]");
}

#[test]
fn a_refused_open_shows_why() {
    let mut p = EditorPane::restored(&["/w/gone.rs".into()], 0);
    assert_eq!(
        ev(&mut p, EngineEvent::Opened),
        vec![
            Effect::Engine(EngineRequest::Editor(EditorRequest::Recover)),
            Effect::Engine(EngineRequest::Editor(EditorRequest::Open {
                path: "/w/gone.rs".into()
            }))
        ]
    );
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("reading"), "{}", status(&b));
    typ(&mut p, "x");
    assert_eq!(p.text(), "", "not while reading");
    let fx = editor(
        &mut p,
        EditorEvent::Refused {
            path: "/w/gone.rs".into(),
            why: "gone.rs is not a text file".into(),
        },
    );
    assert_eq!(
        fx,
        vec![Effect::Ui(UiCommand::Message {
            title: "editor".into(),
            text: "gone.rs is not a text file".into(),
        })]
    );
    assert_eq!(p.bufs.len(), 1);
    assert_eq!(p.title(), "edit: [scratch]");
}

#[test]
fn a_reload_that_fails_keeps_the_text() {
    let mut p = pane("/w/a.rs", "A\n");
    typ(&mut p, "x");
    verb(&mut p, "reload");
    assert!(p.buf().doc.modified(), "asked first");
    let fx = verb(&mut p, "reload");
    assert_eq!(
        fx,
        vec![Effect::Engine(EngineRequest::Editor(EditorRequest::Open {
            path: "/w/a.rs".into()
        }))]
    );
    editor(
        &mut p,
        EditorEvent::Refused {
            path: "/w/a.rs".into(),
            why: "gone".into(),
        },
    );
    assert_eq!(p.text(), "xA\n");
    assert_eq!(p.title(), "edit: a.rs [+]");
    // And one that works replaces it.
    verb(&mut p, "reload");
    verb(&mut p, "reload");
    editor(&mut p, opened("/w/a.rs", "new\n"));
    assert_eq!(p.text(), "new\n");
    assert_eq!(p.title(), "edit: a.rs");
}

#[test]
fn the_open_files_are_saved_and_restored() {
    // A scratch buffer is not saved: `active` counts among the files.
    let mut p = EditorPane::default();
    typ(&mut p, "scratch");
    editor(&mut p, opened("/w/a.rs", "A\n"));
    editor(&mut p, opened("/w/b.rs", "B\n"));
    verb(&mut p, "prev-buffer");
    assert_eq!(p.title(), "edit: a.rs");
    let st = Pane::save(&p);
    assert_eq!(
        st,
        PaneState::Editor {
            files: vec!["/w/a.rs".into(), "/w/b.rs".into()],
            active: 0,
        }
    );
    let PaneState::Editor { files, active } = st else {
        unreachable!()
    };
    let mut q = EditorPane::restored(&files, active);
    assert_eq!(
        ev(&mut q, EngineEvent::Opened),
        vec![
            Effect::Engine(EngineRequest::Editor(EditorRequest::Recover)),
            Effect::Engine(EngineRequest::Editor(EditorRequest::Open {
                path: "/w/a.rs".into()
            })),
            Effect::Engine(EngineRequest::Editor(EditorRequest::Open {
                path: "/w/b.rs".into()
            })),
        ]
    );
    assert_eq!(
        ev(&mut q, EngineEvent::Opened),
        Vec::<Effect>::new(),
        "asked once"
    );
    // The answers come in any order; the file that was shown is shown.
    editor(&mut q, opened("/w/b.rs", "B\n"));
    editor(&mut q, opened("/w/a.rs", "A\n"));
    assert_eq!(q.title(), "edit: a.rs");
    assert_eq!(q.bufs.len(), 2);
    assert_eq!(Pane::save(&q), Pane::save(&p));
    // Through the registry too.
    let r = (SPEC.restore)(&PaneState::Editor {
        files: vec!["/w/b.rs".into()],
        active: 0,
    });
    assert!(r.is_some());
}

#[test]
fn busy_names_the_unsaved_buffers() {
    let mut p = pane("/w/a.rs", "A\n");
    editor(&mut p, opened("/w/b.rs", "B\n"));
    assert_eq!(p.busy(), None);
    typ(&mut p, "x");
    assert_eq!(p.busy().as_deref(), Some("unsaved changes in b.rs"));
    verb(&mut p, "next-buffer");
    typ(&mut p, "y");
    assert_eq!(p.busy().as_deref(), Some("unsaved changes in a.rs, b.rs"));
}

#[test]
fn context_is_the_selection_or_the_file() {
    let mut p = pane("/w/a.rs", "one\ntwo\nthree\n");
    let a = p.context().expect("the file");
    assert_eq!(a.title, "file a.rs");
    assert_eq!(a.body, "one\ntwo\nthree\n");
    act(&mut p, "goto-line", Some("2"));
    shift(&mut p, KeyCode::Down);
    shift(&mut p, KeyCode::End);
    let a = p.context().expect("the selection");
    assert_eq!(a.title, "a.rs lines 2-3");
    assert_eq!(a.body, "two\nthree");
    assert!(
        EditorPane::default().context().is_none(),
        "nothing to attach"
    );
}

// ---- big inputs ----

/// The char at `i` of the big line: digits, so any slice tells where it came from.
fn big_char(i: usize) -> char {
    char::from(b'0' + (i % 10) as u8)
}

#[test]
fn a_line_of_eight_million_chars_scrolls_and_edits() {
    const N: usize = 8_000_000;
    let line: String = (0..N).map(big_char).collect();
    let mut p = pane("/w/big.rs", &line);
    let b = draw(&mut p, 80, 24);
    let shown: String = (0..76).map(big_char).collect();
    assert_eq!(row(&b, 0), format!("  1 {shown}"));
    key(&mut p, KeyCode::End);
    assert_eq!(head(&p), N);
    let b = draw(&mut p, 80, 24);
    // The last 75 chars, then the cursor after them.
    let tail: String = (N - 75..N).map(big_char).collect();
    assert_eq!(row(&b, 0), format!("  1 {tail} "));
    assert_eq!(cursor_checked(&mut p, 80, 24), Position::new(79, 0));
    assert!(
        status(&b).ends_with(&format!("1:{} of 1", N + 1)),
        "{}",
        status(&b)
    );
    // Highlighted only around what is on screen.
    let hl = p.hl.as_ref().expect("a .rs file is highlighted");
    assert_eq!(hl.lines.len(), 1);
    assert!(
        hl.lines[0].2.len() <= 76 + HL_MARGIN,
        "{}",
        hl.lines[0].2.len()
    );
    typ(&mut p, "Z");
    assert_eq!(p.buf().doc.rope.len_chars(), N + 1);
    let b = draw(&mut p, 80, 24);
    let tail: String = (N - 74..N).map(big_char).collect();
    assert_eq!(row(&b, 0), format!("  1 {tail}Z "));
    assert_eq!(cursor_checked(&mut p, 80, 24), Position::new(79, 0));
    // Wider, and back to the start.
    let b = draw(&mut p, 140, 40);
    assert!(row(&b, 0).trim_end().ends_with("789Z"), "{}", row(&b, 0));
    key(&mut p, KeyCode::Home);
    let b = draw(&mut p, 80, 24);
    assert_eq!(row(&b, 0), format!("  1 {shown}"));
    // A search on it finds, and shows, only what is near the screen.
    verb(&mut p, "find");
    typ(&mut p, "Z");
    assert_eq!(head(&p), N + 1);
    let b = draw(&mut p, 80, 24);
    let z = b[(78, 0)].clone();
    assert_eq!(z.symbol(), "Z");
    assert_eq!(z.bg, Theme::default().selection_bg, "the match is selected");
}

#[test]
fn two_hundred_thousand_lines_page_and_jump() {
    const N: usize = 200_000;
    let text: String = (1..=N).map(|i| format!("line {i}\n")).collect();
    let mut p = pane("/w/big.txt", &text);
    ctrl(&mut p, KeyCode::End);
    let b = draw(&mut p, 80, 24);
    // The last line is the empty one after the final newline.
    assert_eq!(row(&b, 22).trim_end(), "200001");
    assert_eq!(row(&b, 21).trim_end(), "200000 line 200000");
    assert_eq!(cursor_checked(&mut p, 80, 24), Position::new(7, 22));
    key(&mut p, KeyCode::PageUp);
    assert_eq!(p.buf().doc.line_col(head(&p)), (N - 22, 0));
    key(&mut p, KeyCode::PageUp);
    let b = draw(&mut p, 80, 24);
    assert_eq!(row(&b, 0).trim_end(), "199957 line 199957");
    assert_eq!(cursor_checked(&mut p, 80, 24), Position::new(7, 0));
    ctrl(&mut p, KeyCode::Home);
    key(&mut p, KeyCode::PageDown);
    let b = draw(&mut p, 140, 40);
    assert_eq!(row(&b, 0).trim_end(), "     1 line 1");
    assert_eq!(cursor_checked(&mut p, 140, 40), Position::new(7, 22));
}

#[test]
fn soft_wrap_keeps_the_cursor_on_screen_through_a_long_line() {
    let long: String = (0..5_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut p = pane("/w/long.txt", &format!("first\n{long}\nlast\n"));
    verb(&mut p, "soft-wrap");
    let b = draw(&mut p, 80, 24);
    assert!(status(&b).contains("wrap"), "{}", status(&b));
    key(&mut p, KeyCode::Down);
    assert_eq!(p.buf().doc.line_col(head(&p)), (1, 0));
    // 5,000 chars in rows of 76: 66 rows; Down walks through them.
    let mut last = (0, 0);
    for step in 0..70 {
        key(&mut p, KeyCode::Down);
        let pos = cursor_checked(&mut p, 80, 24);
        let (line, col) = p.buf().doc.line_col(head(&p));
        if step < 65 {
            assert_eq!((line, col), (1, (step + 1) * 76), "row by row, step {step}");
        }
        assert!((line, col) > last || line == 3, "step {step}: {line}:{col}");
        last = (line, col);
        let _ = pos;
    }
    assert_eq!(p.buf().doc.line_col(head(&p)).0, 3, "down to the end");
    // And back up, at the wide size too.
    for _ in 0..40 {
        key(&mut p, KeyCode::Up);
        cursor_checked(&mut p, 140, 40);
    }
    key(&mut p, KeyCode::PageUp);
    cursor_checked(&mut p, 80, 24);
    key(&mut p, KeyCode::End);
    cursor_checked(&mut p, 80, 24);
    ctrl(&mut p, KeyCode::End);
    cursor_checked(&mut p, 80, 24);
}

// ---- highlighting ----

#[test]
fn visible_lines_are_highlighted_by_the_file_type() {
    let t = Theme::default();
    let mut p = pane("/w/count.rs", RUST);
    act(&mut p, "goto-line", Some("14"));
    let b = draw(&mut p, 80, 24);
    // (line, text to find, token): the style of the first char of the text.
    let cell = |line: usize, needle: &str| {
        let y = (line - 1) as u16;
        let x = row(&b, y)
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}")) as u16;
        b[(x, y)].clone()
    };
    let is = |line, needle, tok: Token| {
        let c = cell(line, needle);
        let want = tok.style(&t);
        assert_eq!(c.fg, want.fg.unwrap(), "{needle}: {:?}", c);
        assert!(c.modifier.contains(want.add_modifier), "{needle}: {:?}", c);
    };
    is(1, "//! Counts", Token::Comment);
    is(5, "pub", Token::Keyword);
    is(5, "count(", Token::Function);
    is(8, "0)", Token::Number);
    is(13, "main", Token::Function);
    is(6, "seen", Token::Plain);
    // The cursor's line keeps its background under the colours.
    is(14, "\"the cat", Token::Str);
    is(14, "// a short", Token::Comment);
    assert_eq!(cell(14, "\"the cat").bg, t.tab_bg);
    assert_eq!(cell(13, "main").bg, t.bg);
    // The selection shows over it.
    verb(&mut p, "select-all");
    let b = draw(&mut p, 80, 24);
    assert_eq!(b[(4, 4)].fg, t.selection_fg);
    assert_eq!(b[(4, 4)].bg, t.selection_bg);
    // A plain text file is not highlighted.
    let mut p = pane("/w/count.txt", RUST);
    let b = draw(&mut p, 80, 24);
    assert_eq!(b[(4, 4)].fg, t.fg, "pub in a .txt");
    assert!(p.hl.is_none());
}

#[test]
fn tokens_are_placed_by_char_not_byte() {
    let t = Theme::default();
    // Multi-byte chars before a comment: byte ranges read as chars would shift it right.
    let mut p = pane("/w/u.rs", "let s = \"héllo wörld ü\"; // ünïcode\n");
    let b = draw(&mut p, 80, 24);
    let line = row(&b, 0);
    let slash = line.chars().position(|c| c == '/').unwrap() as u16;
    assert_eq!(b[(slash, 0)].fg, Token::Comment.style(&t).fg.unwrap());
    assert_eq!(
        b[(slash - 1, 0)].fg,
        Token::Plain.style(&t).fg.unwrap(),
        "the space before it"
    );
    let semi = line.chars().position(|c| c == ';').unwrap() as u16;
    assert_ne!(
        b[(semi, 0)].fg,
        Token::Str.style(&t).fg.unwrap(),
        "after the string"
    );
    assert_eq!(
        b[(semi - 1, 0)].fg,
        Token::Str.style(&t).fg.unwrap(),
        "its quote"
    );
    // per_char itself.
    let spans = highlight("rs", &["ä // x".to_string()]);
    let toks = per_char("ä // x", &spans[0]);
    assert_eq!(toks.len(), 6);
    assert_eq!(toks[0], Token::Plain);
    assert_eq!(&toks[2..], &[Token::Comment; 4]);
}

#[test]
fn a_long_line_is_highlighted_in_parts_that_do_not_run_on() {
    let t = Theme::default();
    // Line 1 is long: only its part on screen is parsed, which cuts its string off; the
    // string must not run on into line 2.
    let text = format!("let s = \"{}\";\nfn main() {{}}\n", "a".repeat(300));
    let mut p = pane("/w/long.rs", &text);
    let b = draw(&mut p, 80, 24);
    assert_eq!(b[(4, 0)].fg, Token::Type.style(&t).fg.unwrap(), "let");
    assert_eq!(
        b[(12, 0)].fg,
        Token::Str.style(&t).fg.unwrap(),
        "in the string"
    );
    assert_eq!(
        b[(4, 1)].fg,
        Token::Type.style(&t).fg.unwrap(),
        "fn on line 2"
    );
    let hl = p.hl.as_ref().unwrap();
    assert_eq!(hl.lines[0].2.len(), 76, "line 1: what is on screen");
    assert_eq!(hl.lines[1].2.len(), "fn main() {}".len(), "line 2: whole");
    // Soft wrap: the rows of line 1 on screen, each parsed.
    verb(&mut p, "soft-wrap");
    let b = draw(&mut p, 80, 24);
    assert_eq!(
        b[(10, 3)].fg,
        Token::Str.style(&t).fg.unwrap(),
        "its 4th row"
    );
    assert_eq!(
        b[(4, 4)].fg,
        Token::Str.style(&t).fg.unwrap(),
        "its last row"
    );
    assert_eq!(row(&b, 5).trim_end(), "  2 fn main() {}");
    assert_eq!(
        b[(4, 5)].fg,
        Token::Type.style(&t).fg.unwrap(),
        "fn below it"
    );
}

#[test]
fn search_matches_show_over_the_colours() {
    let t = Theme::default();
    let mut p = pane("/w/count.rs", RUST);
    verb(&mut p, "find");
    typ(&mut p, "seen");
    let b = draw(&mut p, 80, 24);
    // Line 6 holds the selected (first) match; line 8 and 10 others.
    let x8 = row(&b, 7).find("seen").unwrap() as u16;
    assert_eq!(b[(x8, 7)].bg, t.matched);
    assert_eq!(b[(x8 + 3, 7)].bg, t.matched);
    assert_ne!(b[(x8 + 4, 7)].bg, t.matched);
    let x6 = row(&b, 5).find("seen").unwrap() as u16;
    assert_eq!(b[(x6, 5)].bg, t.selection_bg);
}

// ---- snapshots ----

/// A theme with a colour of its own for each token, so the drawn colours tell which it is.
fn token_theme() -> Theme {
    let mut t = Theme::default();
    for (i, slot) in [
        "fg",
        "accent",
        "ok",
        "warn",
        "muted",
        "hint_key",
        "border_focused",
        "hint_desc",
    ]
    .iter()
    .enumerate()
    {
        t.set(slot, Color::Indexed(100 + i as u8));
    }
    t
}

/// The text, then under it the token of each char: k keyword, s string, n number,
/// c comment, f function, t type, o operator, . plain; the gutter as it is.
fn styled(p: &mut EditorPane, w: u16, h: u16) -> String {
    let t = token_theme();
    let b = draw_with(p, w, h, &t);
    let letter = |fg: Color| {
        [
            (Token::Keyword, 'k'),
            (Token::Str, 's'),
            (Token::Number, 'n'),
            (Token::Comment, 'c'),
            (Token::Function, 'f'),
            (Token::Type, 't'),
            (Token::Operator, 'o'),
            (Token::Plain, '.'),
        ]
        .into_iter()
        .find(|(tok, _)| tok.style(&t).fg == Some(fg))
        .map_or('?', |(_, c)| c)
    };
    let gutter = p.gutter();
    let mut out = format!("{}\n", snapshot(p, w, h));
    for y in 0..h - 1 {
        let mut line: String = (0..gutter).map(|x| b[(x, y)].symbol()).collect();
        for x in gutter..w {
            let c = &b[(x, y)];
            line.push(if c.symbol() == " " { ' ' } else { letter(c.fg) });
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn snapshots() {
    settings().bind(|| {
        let mut p = pane("/w/count.rs", RUST);
        act(&mut p, "goto-line", Some("7"));
        key(&mut p, KeyCode::End);
        for _ in 0..5 {
            key(&mut p, KeyCode::Left);
        }
        insta::assert_snapshot!("editor_plain_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_plain_140x40", snapshot(&mut p, 140, 40));
        insta::assert_snapshot!("editor_highlighted_80x24", styled(&mut p, 80, 24));
        insta::assert_snapshot!("editor_highlighted_140x40", styled(&mut p, 140, 40));

        let mut p = pane("/w/count.rs", RUST);
        verb(&mut p, "find");
        typ(&mut p, "text");
        insta::assert_snapshot!("editor_search_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_search_140x40", snapshot(&mut p, 140, 40));

        let mut p = pane("/w/count.rs", RUST);
        verb(&mut p, "replace");
        typ(&mut p, "seen");
        key(&mut p, KeyCode::Tab);
        typ(&mut p, "counts");
        insta::assert_snapshot!("editor_replace_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_replace_140x40", snapshot(&mut p, 140, 40));

        let mut p = pane("/w/count.rs", RUST);
        editor(&mut p, opened("/w/notes.md", "# Notes\n\n- count words\n"));
        ctrl(&mut p, KeyCode::End);
        typ(&mut p, "- and lines\n");
        assert_eq!(p.title(), "edit: notes.md [+]");
        insta::assert_snapshot!("editor_unsaved_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_unsaved_140x40", snapshot(&mut p, 140, 40));

        let long = "Soft wrap shows a long line in rows of the pane's width, \
                    so nothing is cut off at the right edge and no sideways scrolling is needed. "
            .repeat(6);
        let mut p = pane("/w/wrap.txt", &format!("short line\n{long}\nlast line\n"));
        verb(&mut p, "soft-wrap");
        key(&mut p, KeyCode::Down);
        for _ in 0..3 {
            key(&mut p, KeyCode::Down);
        }
        insta::assert_snapshot!("editor_wrap_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_wrap_140x40", snapshot(&mut p, 140, 40));
    });
}

#[test]
fn find_file_asks_for_a_picker_near_the_file_shown() {
    let mut p = pane("/w/src/a.txt", "abc\n");
    assert_eq!(
        verb(&mut p, "find-file"),
        vec![Effect::Engine(EngineRequest::Editor(EditorRequest::Pick {
            near: Some("/w/src".into())
        }))]
    );
}

/// The lines 5-11 of `RUST` (the function) selected, asked to be rewritten.
fn asked_to_rewrite(p: &mut EditorPane) -> Vec<Effect> {
    act(p, "goto-line", Some("5"));
    for _ in 0..7 {
        shift(p, KeyCode::Down);
    }
    act(p, "ai-rewrite", Some("count in a BTreeMap, sorted"))
}

const REWRITE: &str = "Here it is:\n```rust\npub fn count(text: &str) -> BTreeMap<&str, usize> {\n    let mut seen = BTreeMap::new();\n    for word in text.split_whitespace() {\n        *seen.entry(word).or_insert(0) += 1;\n    }\n    seen\n}\n```\nIt keeps the words sorted.";

#[test]
fn a_rewrite_asks_the_model_with_the_selection_and_shows_a_diff_to_accept() {
    let mut p = pane("/w/count.rs", RUST);
    let fx = asked_to_rewrite(&mut p);
    let sent = RUST.lines().skip(4).take(7).collect::<Vec<_>>().join("\n") + "\n";
    assert_eq!(
        fx,
        vec![Effect::Engine(EngineRequest::Chat(
            crate::llm::ChatRequest::EditText {
                how: crate::llm::EditHow::Rewrite("count in a BTreeMap, sorted".into()),
                text: sent.clone(),
                lang: Some("rs".into()),
            }
        ))]
    );
    // Tokens are counted in the status line while the answer comes.
    for _ in 0..3 {
        ev(
            &mut p,
            EngineEvent::Chat(crate::llm::ChatEvent::Gen(crate::llm::LlmEvent::Token(
                "x".into(),
            ))),
        );
    }
    assert!(
        status(&draw(&mut p, 80, 24)).contains("asking the model… 3 tokens · Esc stops"),
        "{}",
        status(&draw(&mut p, 80, 24))
    );
    editor(
        &mut p,
        EditorEvent::AiAnswer {
            answer: REWRITE.into(),
            code: Some(
                REWRITE
                    .split("```rust\n")
                    .nth(1)
                    .and_then(|r| r.split("\n```").next())
                    .unwrap()
                    .to_string(),
            ),
        },
    );
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    let screen = snapshot(&mut p, 80, 24);
    assert!(screen.contains("+2 -2 lines"), "{screen}");
    assert!(screen.contains("- pub fn count(text: &str) -> HashMap<&str, usize> {"));
    assert!(screen.contains("+ pub fn count(text: &str) -> BTreeMap<&str, usize> {"));
    assert_eq!(p.text(), RUST, "nothing applied before a yes");
    key(&mut p, KeyCode::Enter);
    let want = RUST
        .replace("HashMap<&str", "BTreeMap<&str")
        .replace("HashMap::new()", "BTreeMap::new()");
    assert_eq!(p.text(), want);
    assert!(p.buf().doc.modified());
    // The new text is selected; one undo takes the whole rewrite back.
    assert!(selected(&p).starts_with("pub fn count(text: &str) -> BTreeMap"));
    verb(&mut p, "undo");
    assert_eq!(p.text(), RUST);
}

#[test]
fn a_rejected_rewrite_and_one_over_changed_text_leave_the_text_alone() {
    let mut p = pane("/w/count.rs", RUST);
    asked_to_rewrite(&mut p);
    editor(
        &mut p,
        EditorEvent::AiAnswer {
            answer: String::new(),
            code: Some("fn other() {}".into()),
        },
    );
    key(&mut p, KeyCode::Char('n'));
    assert_eq!(p.text(), RUST);
    assert!(status(&draw(&mut p, 80, 24)).contains("rewrite rejected"));

    // Typing on while the model answers: the answer is for text that is gone.
    asked_to_rewrite(&mut p);
    act(&mut p, "goto-line", Some("6"));
    typ(&mut p, "// new\n");
    editor(
        &mut p,
        EditorEvent::AiAnswer {
            answer: String::new(),
            code: Some("fn other() {}".into()),
        },
    );
    key(&mut p, KeyCode::Enter);
    assert!(p.text().contains("// new"));
    assert!(!p.text().contains("fn other"));
    assert!(status(&draw(&mut p, 80, 24)).contains("the text changed while the model answered"));

    // No code in the answer, or the model failing: said, nothing changed.
    asked_to_rewrite(&mut p);
    editor(
        &mut p,
        EditorEvent::AiAnswer {
            answer: "I cannot".into(),
            code: Some("  ".into()),
        },
    );
    assert!(status(&draw(&mut p, 80, 24)).contains("the model gave no code"));
    asked_to_rewrite(&mut p);
    let fx = ev(
        &mut p,
        EngineEvent::Chat(crate::llm::ChatEvent::Failed {
            partial: None,
            error: "no model: fieldkit model add PATH".into(),
        }),
    );
    assert!(
        matches!(&fx[..], [Effect::Ui(UiCommand::Message { text, .. })] if text.contains("no model")),
        "{fx:?}"
    );
    assert!(!p.ai_asking());
}

#[test]
fn esc_stops_the_model_and_explain_opens_a_panel() {
    let mut p = pane("/w/count.rs", RUST);
    let fx = verb(&mut p, "ai-explain");
    assert!(matches!(
        &fx[..],
        [Effect::Engine(EngineRequest::Chat(crate::llm::ChatRequest::EditText {
            how: crate::llm::EditHow::Explain,
            text,
            ..
        }))] if text == RUST
    ));
    // A second question while the first is answered waits its turn.
    assert!(verb(&mut p, "ai-fix").is_empty());
    assert_eq!(
        key(&mut p, KeyCode::Esc),
        vec![Effect::Engine(EngineRequest::Chat(
            crate::llm::ChatRequest::Cancel
        ))]
    );
    assert!(!p.ai_asking());
    verb(&mut p, "ai-explain");
    editor(
        &mut p,
        EditorEvent::AiAnswer {
            answer: "It counts how often each word comes.\n\nNothing looks wrong.".into(),
            code: None,
        },
    );
    let screen = snapshot(&mut p, 80, 24);
    assert!(screen.contains("the model explains"), "{screen}");
    assert!(screen.contains("It counts how often each word comes."));
    assert!(
        screen.contains("pub fn count"),
        "the text stays above: {screen}"
    );
    key(&mut p, KeyCode::Esc);
    assert!(!snapshot(&mut p, 80, 24).contains("the model explains"));
}

#[test]
fn a_selection_too_big_for_the_model_is_refused_with_a_sentence() {
    let big = "word ".repeat(ai::AI_MAX / 5 + 10);
    let mut p = pane("/w/big.txt", &big);
    assert!(verb(&mut p, "ai-fix").is_empty());
    assert!(status(&draw(&mut p, 80, 24)).contains("select at most 32000 characters"));
    let mut p = pane("/w/blank.txt", "\n\n");
    assert!(verb(&mut p, "ai-explain").is_empty());
    assert!(status(&draw(&mut p, 80, 24)).contains("nothing to ask the model about"));
}

#[test]
fn diff_snapshots() {
    settings().bind(|| {
        let mut p = pane("/w/count.rs", RUST);
        asked_to_rewrite(&mut p);
        editor(
            &mut p,
            EditorEvent::AiAnswer {
                answer: REWRITE.into(),
                code: Some(
                    "pub fn count(text: &str) -> BTreeMap<&str, usize> {\n    let mut seen = BTreeMap::new();\n    for word in text.split_whitespace() {\n        *seen.entry(word).or_insert(0) += 1;\n    }\n    seen\n}".into(),
                ),
            },
        );
        insta::assert_snapshot!("editor_diff_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("editor_diff_140x40", snapshot(&mut p, 140, 40));
    });
}
