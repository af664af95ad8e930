/*!
Drawing: the whole screen of a session for one client, as a ratatui `Buffer` (tab bar, panes
with borders, hint bar, popup), fitted to that client's size.

What goes over the wire is `frames`' business: the difference from what the client last
received, adapted to its terminal, and nothing at all when nothing changed.
*/

use crate::keymap::{KeyState, Keymap, Scope};
use crate::server::session::Session;
use fieldkit_panes::{Hint, RenderCx};
use fieldkit_widgets::{HintBar, TabBar, TabLabel, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders, Widget};

/// Composes the session's screen as `keys` (one client's prefix state) sees it.
pub fn screen(
    s: &mut Session,
    theme: &Theme,
    keymap: &Keymap,
    keys: &KeyState,
) -> (Buffer, Option<Position>) {
    let mut buf = Buffer::empty(Rect::default());
    let cursor = screen_into(s, theme, keymap, keys, &mut buf);
    (buf, cursor)
}

/// `screen`, drawn into a buffer that is reused from frame to frame (a 200x60 buffer is half a
/// megabyte: allocating one per frame costs more than drawing it).
pub fn screen_into(
    s: &mut Session,
    theme: &Theme,
    keymap: &Keymap,
    keys: &KeyState,
    buf: &mut Buffer,
) -> Option<Position> {
    let (w, h) = s.size;
    let full = Rect::new(0, 0, w, h);
    let mut blank = ratatui::buffer::Cell::default();
    blank.set_style(theme.base());
    buf.resize(full);
    for c in buf.content.iter_mut() {
        c.clone_from(&blank);
    }
    let buf = &mut *buf;
    if w == 0 || h == 0 || s.veiled {
        // After a panic the screen is blank: nothing of what was there, not even tab names.
        return None;
    }
    if h >= 3 {
        let labels: Vec<TabLabel> = s
            .tabs
            .iter()
            .enumerate()
            .map(|(i, t)| TabLabel {
                index: i + 1,
                name: &t.name,
                active: i == s.active,
                zoomed: t.zoomed,
                alert: i != s.active && t.layout.leaves().iter().any(|id| s.bells.contains(id)),
            })
            .collect();
        // What the server wants seen from every tab (the queue's overdue items) goes before
        // the name.
        let right = match &s.badge {
            Some(b) => format!("{b} · fieldkit "),
            None => "fieldkit ".to_string(),
        };
        TabBar {
            session: &s.name,
            tabs: &labels,
            right: &right,
            theme,
        }
        .render(Rect::new(0, 0, w, 1), buf);
    }

    let focused = s.focused();
    let mut cursor = None;
    for (id, rect) in s.visible() {
        let number = s.number_of(id);
        let Some(pane) = s.panes.get_mut(&id) else {
            continue;
        };
        let is_focus = id == focused;
        let block = Block::new()
            .borders(Borders::ALL)
            .border_type(if is_focus {
                BorderType::Thick
            } else {
                BorderType::Plain
            })
            .border_style(theme.border(is_focus))
            .title(format!(" {number} {} ", pane.title()));
        let inner = block.inner(rect);
        block.render(rect, buf);
        if let Some(c) = draw_pane(pane.as_mut(), inner, buf, theme, is_focus, Some(false)) {
            cursor = Some(c);
        }
    }

    if h >= 3 {
        let (mode, hints) = hints_for(s, keymap, keys);
        HintBar {
            mode: mode.as_deref(),
            hints: &hints,
            theme,
        }
        .render(Rect::new(0, h - 1, w, 1), buf);
    }

    if let Some(popup) = s.popup.as_mut() {
        cursor = popup.render(full, buf, theme, keymap);
    }
    cursor
}

/// Draws again, over `buf` (a copy of what the client was last sent), only the content of the
/// panes in `s.content`: what a terminal's output changed, without the tab bar, borders, hint
/// bar or other panes. Returns the cursor as `screen_into` would. Only for a session that is
/// not `dirty` and shows no popup (those are drawn whole).
pub fn panes_into(s: &mut Session, theme: &Theme, buf: &mut Buffer) -> Option<Position> {
    let focused = s.focused();
    let mut cursor = None;
    for (id, rect) in s.visible() {
        let is_focus = id == focused;
        let changed = s.content.contains_key(&id);
        if !changed && !is_focus {
            continue;
        }
        let Some(pane) = s.panes.get_mut(&id) else {
            continue;
        };
        let inner = Block::new().borders(Borders::ALL).inner(rect);
        let retained = changed.then_some(true);
        if let Some(c) = draw_pane(pane.as_mut(), inner, buf, theme, is_focus, retained) {
            cursor = Some(c);
        }
    }
    cursor
}

/// Draws a pane inside its border (`retained`: over what it drew last time; `None`: not at
/// all) and returns its cursor when it has the focus.
fn draw_pane(
    pane: &mut dyn fieldkit_panes::Pane,
    inner: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    focused: bool,
    retained: Option<bool>,
) -> Option<Position> {
    if inner.width == 0 || inner.height == 0 {
        return None;
    }
    if let Some(retained) = retained {
        pane.render(
            inner,
            buf,
            &RenderCx {
                theme,
                focused,
                retained,
            },
        );
    }
    focused.then(|| pane.cursor(inner)).flatten()
}

/// The screen rows `panes_into` draws: each changed pane's changed rows, or all its rows.
pub fn content_rows(s: &Session) -> Vec<u16> {
    let mut out = Vec::new();
    for (id, rect) in s.visible() {
        let Some(rows) = s.content.get(&id) else {
            continue;
        };
        let inner = Block::new().borders(Borders::ALL).inner(rect);
        match rows {
            Some(rows) => out.extend(
                rows.iter()
                    .filter(|y| **y < inner.height)
                    .map(|y| inner.y + y),
            ),
            None => out.extend(inner.top()..inner.bottom()),
        }
    }
    out
}

/// The hint bar's contents: what the keys do right now.
pub fn hints_for(s: &Session, keymap: &Keymap, keys: &KeyState) -> (Option<String>, Vec<Hint>) {
    let kind = s.focused_kind();
    if keys.prefix || !keys.pending.is_empty() {
        let scopes = Keymap::scopes_for(kind, keys.prefix);
        let n = keys.pending.len();
        let mut hints = Vec::new();
        for scope in scopes {
            for b in keymap.scope(scope) {
                if b.keys.len() > n && b.keys[..n] == keys.pending[..] {
                    hints.push(Hint::new(b.keys[n].to_string(), b.desc.clone()));
                }
            }
        }
        hints.dedup_by(|a, b| a.key == b.key);
        let mut mode = if keys.prefix {
            keymap.prefix.to_string()
        } else {
            String::new()
        };
        for k in &keys.pending {
            if !mode.is_empty() {
                mode.push(' ');
            }
            mode.push_str(&k.to_string());
        }
        return (Some(mode), hints);
    }
    // A popup has the keys now: its own, nothing else.
    if let Some(popup) = &s.popup {
        return (None, popup.hints());
    }
    let mut mine = Vec::new();
    let alone = s
        .panes
        .get(&s.focused())
        .map(|p| p.hints(&mut mine))
        .is_some_and(|h| h != fieldkit_panes::Hints::WithKeymap);
    if alone {
        return (None, mine);
    }
    let mut hints = vec![Hint::new(keymap.prefix.to_string(), "prefix")];
    // What the pane's state offers now (Esc cancels a running query) comes first, then what
    // its keys do, one hint per action; moving about goes last, folded (`hjkl move`).
    hints.extend(mine);
    let mut seen: Vec<&fieldkit_panes::Action> = Vec::new();
    let mut moves: Vec<(&'static str, &fieldkit_panes::Dir, String)> = Vec::new();
    for scope in Keymap::scopes_for(kind, false) {
        for b in keymap.scope(scope) {
            if seen.contains(&&b.action) {
                continue;
            }
            seen.push(&b.action);
            match motion(&b.action) {
                Some((what, dir)) => moves.push((what, dir, b.keys_label(keymap.prefix))),
                None if is_motion_extra(&b.action) => {}
                None => hints.push(Hint::new(b.keys_label(keymap.prefix), b.desc.clone())),
            }
        }
    }
    hints.extend(fold_moves(&moves));
    // The most useful prefix keys close the bar, for newcomers (unless a key without the
    // prefix does the same here already).
    for b in keymap.scope(Scope::Prefix).filter(|b| {
        matches!(
            b.action,
            fieldkit_panes::Action::Help
                | fieldkit_panes::Action::Palette
                | fieldkit_panes::Action::Detach
        ) && !seen.contains(&&b.action)
    }) {
        hints.push(Hint::new(b.keys_label(keymap.prefix), b.desc.clone()));
    }
    (None, hints)
}

/// A directional motion (`move left`, `scroll down`, `focus-up`) and what it moves.
fn motion(a: &fieldkit_panes::Action) -> Option<(&'static str, &'static fieldkit_panes::Dir)> {
    use fieldkit_panes::{Action, Dir};
    let dir = |d: &str| -> Option<&'static Dir> {
        Some(match d {
            "left" => &Dir::Left,
            "right" => &Dir::Right,
            "up" => &Dir::Up,
            "down" => &Dir::Down,
            _ => return None,
        })
    };
    match a {
        Action::Pane {
            name: name @ ("move" | "scroll"),
            arg: Some(d),
        } => Some((name, dir(d)?)),
        Action::Focus(d) => Some(("focus", dir(d.name())?)),
        _ => None,
    }
}

/// Motions the bar leaves to the help (`move top`, `scroll page-down`).
fn is_motion_extra(a: &fieldkit_panes::Action) -> bool {
    matches!(
        a,
        fieldkit_panes::Action::Pane {
            name: "move" | "scroll",
            ..
        }
    )
}

/// Directional motions as one hint each: `hjkl move`, `M-arrows focus`.
fn fold_moves(moves: &[(&'static str, &fieldkit_panes::Dir, String)]) -> Vec<Hint> {
    use fieldkit_panes::Dir;
    let mut out = Vec::new();
    let mut whats: Vec<&str> = moves.iter().map(|m| m.0).collect();
    whats.dedup();
    for what in whats {
        let keys: Vec<&str> = [Dir::Left, Dir::Down, Dir::Up, Dir::Right]
            .iter()
            .filter_map(|d| {
                moves
                    .iter()
                    .find(|m| m.0 == what && m.1 == d)
                    .map(|m| m.2.as_str())
            })
            .collect();
        if keys.is_empty() {
            continue;
        }
        let label = if keys.iter().all(|k| k.chars().count() == 1) {
            keys.concat()
        } else if let Some(p) = keys[0]
            .strip_suffix("Left")
            .or_else(|| keys[0].strip_suffix("Down"))
        {
            if keys.iter().all(|k| {
                k.strip_prefix(p)
                    .is_some_and(|r| matches!(r, "Left" | "Right" | "Up" | "Down"))
            }) {
                format!("{p}arrows")
            } else {
                keys.join(" ")
            }
        } else {
            keys.join(" ")
        };
        out.push(Hint::new(label, what));
    }
    out
}

/// Places a session-sized frame on a client's screen: a larger client sees the rest dotted
/// (as tmux does), a smaller one never happens because the session takes the smallest size.
pub fn fit(frame: Buffer, cols: u16, rows: u16, theme: &Theme) -> Buffer {
    if frame.area.width == cols && frame.area.height == rows {
        return frame;
    }
    let area = Rect::new(0, 0, cols, rows);
    let mut out = Buffer::empty(area);
    let filler = Style::new().fg(theme.border).bg(theme.bg);
    for y in 0..rows {
        for x in 0..cols {
            let cell = &mut out[(x, y)];
            if x < frame.area.width && y < frame.area.height {
                *cell = frame[(x, y)].clone();
            } else {
                cell.set_symbol("·").set_style(filler);
            }
        }
    }
    out
}

/// The visible text of a buffer, one line per row, trailing blanks trimmed (for `capture`).
pub fn text_of(buf: &Buffer, area: Rect) -> String {
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut skip = 0;
        for x in area.left()..area.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = super::frames::width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::frames::{diff, FrameWriter};
    use crate::server::popup::{self, Popup};
    use crate::server::session::Ids;
    use fieldkit_panes::{Action, Cx, EngineEvent, EngineRow, EngineState, ProcRow, ServerStatus};
    use fieldkit_widgets::ColorDepth;
    use fieldkit_widgets::TermCaps;
    use std::time::Duration;

    fn status() -> ServerStatus {
        ServerStatus {
            version: "0.1.0".into(),
            uptime: Duration::from_secs(125),
            sessions: 1,
            tabs: 2,
            panes: 4,
            clients: 1,
            processes: vec![ProcRow {
                name: "server".into(),
                pid: 100,
                cpu: 0.0,
                mem: 8 << 20,
            }],
            engines: vec![EngineRow {
                name: "probe".into(),
                state: EngineState::Ready,
                pid: Some(101),
                restarts: 0,
                detail: "round trip 90 µs".into(),
            }],
        }
    }

    /// A session with three panes in tab 1 and one in tab 2, figures filled in.
    fn session(size: (u16, u16)) -> (Session, Ids) {
        let mut ids = Ids::default();
        let mut s = Session::new_with(
            "main",
            &mut ids,
            size,
            "sh",
            fieldkit_panes::PaneKind::Status,
        );
        for a in [
            Action::SplitRight,
            Action::SplitDown,
            Action::NewTab,
            Action::RenameTab(Some("logs".into())),
            Action::SelectTab(1),
        ] {
            s.apply(&a, &mut ids).expect("layout");
        }
        for p in s.panes.values_mut() {
            p.on_engine(EngineEvent::Status(Box::new(status())), &mut Cx::default());
        }
        (s, ids)
    }

    fn text(s: &mut Session, keys: &KeyState) -> String {
        let (buf, _) = screen(s, &Theme::default(), &Keymap::default_map(), keys);
        text_of(&buf, buf.area)
    }

    /// Retained drawing sends only what terminal output changed; a client's terminal fed those
    /// bytes (an emulator here) must show exactly what a whole redraw shows, after every kind
    /// of output: text, colours, wide characters, erasing, cursor moves, scrolling, clearing,
    /// the alternate screen, in either of two panes side by side.
    #[test]
    fn retained_drawing_shows_what_a_whole_redraw_shows() {
        use crate::engine::pty::Screen;
        let (w, h) = (64u16, 18u16);
        let mut ids = Ids::default();
        let mut s = Session::new_with(
            "main",
            &mut ids,
            (w, h),
            "sh",
            fieldkit_panes::PaneKind::Term,
        );
        s.apply(&Action::SplitRight, &mut ids).expect("split");
        let theme = Theme::default();
        let keymap = Keymap::default_map();
        let mut screens: std::collections::BTreeMap<u64, Screen> = s
            .visible()
            .into_iter()
            .map(|(id, r)| (id, Screen::new(r.width - 2, r.height - 2, 100)))
            .collect();
        let mut writer = FrameWriter::default();
        let mut client = Screen::new(w, h, 0);
        let caps = TermCaps::default();
        let client_text = |c: &Screen| -> Vec<String> {
            let f = c.frame();
            f.cells
                .chunks(f.cols as usize)
                .map(|row| row.iter().filter(|c| !c.spacer).map(|c| c.ch).collect())
                .collect()
        };
        let whole_text = |s: &mut Session| -> Vec<String> {
            let (buf, _) = screen(s, &theme, &keymap, &KeyState::default());
            (0..h)
                .map(|y| {
                    let mut line = String::new();
                    let mut x = 0;
                    while x < w {
                        let sym = buf[(x, y)].symbol();
                        line.push_str(sym);
                        x += crate::server::frames::width(sym).max(1) as u16;
                    }
                    line
                })
                .collect()
        };
        // The first frame is whole, as after an attach.
        for (id, sc) in screens.iter_mut() {
            if let Some(p) = s.panes.get_mut(id) {
                p.on_engine(sc.update(false), &mut Cx::default());
            }
        }
        let mut canvas = writer.canvas();
        let cursor = screen_into(&mut s, &theme, &keymap, &KeyState::default(), &mut canvas);
        client.feed(&writer.frame(canvas, cursor, caps, theme.bg));
        let ids_: Vec<u64> = screens.keys().copied().collect();
        let outputs: &[&[u8]] = &[
            b"$ ",
            b"echo hello",
            b"\r\nhello\r\n$ ",
            b"\x1b[31mred\x1b[0m and \x1b[1;44mbold on blue\x1b[0m",
            "wide: 世界 ok".as_bytes(),
            b"\x1b[5;3Hmoved",
            b"\x1b[2K",
            b"\x08\x08\x08 \x08",
            b"one\r\ntwo\r\nthree\r\nfour\r\nfive\r\nsix\r\nseven\r\neight\r\nnine\r\nten\r\n",
            b"eleven\r\ntwelve\r\nthirteen\r\nfourteen\r\nfifteen\r\nsixteen\r\n",
            b"\x1b[?1049h\x1b[Hfull screen program",
            b"\x1b[10;10Hstatus",
            b"\x1b[?1049l",
            b"\x1b[2J\x1b[Hcleared",
            "tail 世".as_bytes(),
        ];
        for (i, out) in outputs.iter().enumerate() {
            let id = ids_[i % ids_.len()];
            let sc = screens.get_mut(&id).expect("screen");
            sc.feed(out);
            let update = sc.update(false);
            let rows = match &update {
                EngineEvent::TermRows(r) => Some(r.changed.iter().map(|(y, _)| *y).collect()),
                _ => None,
            };
            if let Some(p) = s.panes.get_mut(&id) {
                p.on_engine(update, &mut Cx::default());
            }
            s.content.insert(id, rows);
            let rows = content_rows(&s);
            let bytes = writer
                .patch(&rows, caps, theme.bg, |buf| panes_into(&mut s, &theme, buf))
                .expect("the client's screen is known");
            s.content.clear();
            client.feed(&bytes);
            assert_eq!(
                client_text(&client),
                whole_text(&mut s),
                "after output {i} ({:?})",
                String::from_utf8_lossy(out)
            );
        }
    }

    #[test]
    fn the_hint_bar_shows_what_a_grid_does_and_folds_moving_last() {
        let mut ids = Ids::default();
        let mut s = Session::new_with(
            "main",
            &mut ids,
            (200, 40),
            "sh",
            fieldkit_panes::PaneKind::Grid,
        );
        let keymap = Keymap::default_map();
        let (_, hints) = hints_for(&s, &keymap, &KeyState::default());
        let keys: Vec<&str> = hints.iter().map(|h| h.key.as_str()).collect();
        for k in ["s", "/", "i", "f", "e", "p"] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        let fold = keys.iter().position(|k| *k == "hjkl").expect("hjkl folded");
        assert_eq!(hints[fold].desc, "move");
        assert!(
            keys.iter().position(|k| *k == "p").expect("p") < fold,
            "{keys:?}"
        );
        assert!(!hints.iter().any(|h| h.desc == "Down"), "{keys:?}");
        // One hint per action: `Enter` and nothing else for inspect, `?` or `F1` not both.
        assert_eq!(
            hints.iter().filter(|h| h.desc == "Help").count(),
            1,
            "{keys:?}"
        );
        // A popup has the keys while it is open.
        s.popup = Some(popup::message("Not done", "why"));
        let (_, hints) = hints_for(&s, &keymap, &KeyState::default());
        assert_eq!(hints, vec![Hint::new("Esc", "close")]);
    }

    fn settings() -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
        s.set_prepend_module_to_snapshot(false);
        s
    }

    #[test]
    fn whole_screen_snapshots() {
        settings().bind(|| {
            let km = Keymap::default_map();
            let plain = KeyState::default();
            let (mut s, mut ids) = session((80, 24));
            insta::assert_snapshot!("screen_split_80x24", text(&mut s, &plain));
            let prefix = KeyState {
                prefix: true,
                pending: vec![],
            };
            insta::assert_snapshot!("screen_prefix_pending_80x24", text(&mut s, &prefix));
            s.popup = Some(popup::palette(&km));
            if let Some(Popup::Palette(p)) = s.popup.as_mut() {
                p.set_query("split");
            }
            insta::assert_snapshot!("screen_palette_80x24", text(&mut s, &plain));
            s.popup = Some(Popup::Help { scroll: 0 });
            insta::assert_snapshot!("screen_help_80x24", text(&mut s, &plain));
            s.popup = Some(popup::message(
                "Not done",
                "There is no tab 7 (this session has 2).",
            ));
            insta::assert_snapshot!("screen_message_80x24", text(&mut s, &plain));
            s.popup = Some(Popup::Prompt {
                title: "rename tab".into(),
                input: "logs".into(),
                then: "rename-tab".into(),
                on_empty: None,
            });
            insta::assert_snapshot!("screen_prompt_80x24", text(&mut s, &plain));
            s.popup = Some(Popup::Confirm {
                title: "type this command?".into(),
                text: "du -h --max-depth=1 | sort -rh | head -n 5\n\nIt is typed into the \
                       terminal, not run: you read it, then press Enter yourself."
                    .into(),
                yes: popup::Confirmed::TypeInto {
                    pane: 1,
                    text: "du -h".into(),
                },
            });
            insta::assert_snapshot!("screen_confirm_80x24", text(&mut s, &plain));
            // The editor's file picker (C-o), a few letters typed.
            let files = [
                "/home/ana/survey/src/pump_control.rs",
                "/home/ana/survey/src/pump_log.rs",
                "/home/ana/survey/src/main.rs",
                "/home/ana/survey/notes/pumps.md",
                "/home/ana/survey/Cargo.toml",
                "/home/ana/survey/README.md",
            ];
            let picker = || {
                let mut p = fieldkit_widgets::Picker::new(
                    files
                        .iter()
                        .map(|f| fieldkit_widgets::PickerItem {
                            text: f.to_string(),
                            detail: String::new(),
                            key: String::new(),
                        })
                        .collect(),
                );
                p.set_query("pump");
                Popup::Pick {
                    title: "edit a file under /home/ana/survey".into(),
                    picker: p,
                    then: popup::PickThen::Action("edit".into()),
                }
            };
            s.popup = Some(picker());
            insta::assert_snapshot!("screen_picker_80x24", text(&mut s, &plain));
            s.popup = None;
            s.apply(&Action::Zoom, &mut ids).expect("zoom");
            insta::assert_snapshot!("screen_zoomed_80x24", text(&mut s, &plain));

            let (mut wide, _) = session((200, 50));
            insta::assert_snapshot!("screen_split_200x50", text(&mut wide, &plain));
            wide.popup = Some(Popup::Help { scroll: 0 });
            insta::assert_snapshot!("screen_help_200x50", text(&mut wide, &plain));
            wide.popup = Some(picker());
            insta::assert_snapshot!("screen_picker_200x50", text(&mut wide, &plain));

            // After a panic: nothing of the session, not even its tab names, until a key.
            for (mut p, name) in [
                (session((80, 24)).0, "screen_panic_80x24"),
                (session((200, 50)).0, "screen_panic_200x50"),
            ] {
                p.popup = Some(Popup::Help { scroll: 0 });
                p.veiled = true;
                let shown = text(&mut p, &plain);
                assert!(shown.chars().all(|c| c == ' ' || c == '\n'), "{shown}");
                insta::assert_snapshot!(name, shown);
            }
        });
    }

    #[test]
    fn ascii_borders_and_no_colour() {
        let (mut s, _) = session((60, 12));
        let (buf, _) = screen(
            &mut s,
            &Theme::default(),
            &Keymap::default_map(),
            &KeyState::default(),
        );
        let mut b = buf.clone();
        TermCaps {
            depth: ColorDepth::None,
            unicode: false,
        }
        .adapt(&mut b, Theme::default().bg);
        let t = text_of(&b, b.area);
        assert!(
            t.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("+ 1 status ---")),
            "{t}"
        );
        assert!(!t.contains('│') && !t.contains('━'), "{t}");
        assert!(b
            .content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset));
        settings().bind(|| insta::assert_snapshot!("screen_ascii_60x12", t));
    }

    #[test]
    fn tiny_screens_never_panic() {
        for size in [(0, 0), (1, 1), (2, 2), (5, 3), (10, 2), (500, 200)] {
            let (mut s, _) = session(size);
            s.popup = Some(Popup::Help { scroll: 3 });
            let (buf, _) = screen(
                &mut s,
                &Theme::default(),
                &Keymap::default_map(),
                &KeyState::default(),
            );
            assert_eq!(buf.area.width, size.0);
        }
    }

    #[test]
    fn nothing_changed_means_nothing_written() {
        let (mut s, _) = session((200, 60));
        let theme = Theme::default();
        let km = Keymap::default_map();
        let mut w = FrameWriter::default();
        let (buf, cur) = screen(&mut s, &theme, &km, &KeyState::default());
        let first = w.frame(buf, cur, TermCaps::default(), theme.bg);
        assert!(first.len() > 200 * 60, "the first frame paints everything");
        let (buf, cur) = screen(&mut s, &theme, &km, &KeyState::default());
        assert!(w.frame(buf, cur, TermCaps::default(), theme.bg).is_empty());
        // One pane title changes: only a few cells go out.
        s.apply(&Action::FocusNext, &mut Ids(100)).expect("focus");
        let (buf, cur) = screen(&mut s, &theme, &km, &KeyState::default());
        let delta = w.frame(buf.clone(), cur, TermCaps::default(), theme.bg);
        assert!(
            !delta.is_empty() && delta.len() < first.len() / 4,
            "{} vs {}",
            delta.len(),
            first.len()
        );
        // A 256-colour client never receives truecolor escapes.
        let mut w256 = FrameWriter::default();
        let caps = TermCaps {
            depth: ColorDepth::Ansi256,
            unicode: true,
        };
        let bytes = w256.frame(buf, cur, caps, theme.bg);
        assert!(!String::from_utf8_lossy(&bytes).contains("38;2;"));
        assert!(String::from_utf8_lossy(&bytes).contains("38;5;"));
    }

    #[test]
    fn diff_agrees_with_ratatui_on_wide_characters() {
        let cases = [
            (["aaaa", "bbbb"], ["aコa", "bbbb"]),
            (["aコa", "bbbb"], ["aaaa", "b😀b"]),
            (["    ", "    "], ["ab  ", "  cd"]),
            (["ab😀", "xyzw"], ["ab😀", "xyzw"]),
        ];
        for (a, b) in cases {
            let pa = Buffer::with_lines(a);
            let pb = Buffer::with_lines(b);
            let ours: Vec<_> = diff(&pa, &pb)
                .into_iter()
                .map(|(x, y, c)| (x, y, c.symbol().to_string()))
                .collect();
            let theirs: Vec<_> = pa
                .diff(&pb)
                .into_iter()
                .map(|(x, y, c)| (x, y, c.symbol().to_string()))
                .collect();
            assert_eq!(ours, theirs, "{a:?} -> {b:?}");
        }
    }

    #[test]
    fn control_characters_in_cells_never_reach_the_client() {
        let (mut s, mut ids) = session((40, 6));
        // Through text widgets (ratatui drops controls there) and straight into a cell.
        s.apply(
            &Action::RenameTab(Some("x\x1b]52;c;aGk=\x07y".into())),
            &mut ids,
        )
        .expect("rename");
        let (mut buf, cur) = screen(
            &mut s,
            &Theme::default(),
            &Keymap::default_map(),
            &KeyState::default(),
        );
        buf[(5, 3)].set_symbol("\x1b]52;c;aGk=\x07");
        buf[(6, 3)].set_char('\u{9b}');
        let bytes =
            FrameWriter::default().frame(buf, cur, TermCaps::default(), Theme::default().bg);
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("\x1b]"), "an OSC got through: {text:?}");
        assert!(
            !text.contains('\x07') && !text.contains('\u{9b}'),
            "a control got through: {text:?}"
        );
    }

    #[test]
    fn a_bigger_client_sees_the_rest_dotted() {
        let (mut s, _) = session((20, 6));
        let (buf, _) = screen(
            &mut s,
            &Theme::default(),
            &Keymap::default_map(),
            &KeyState::default(),
        );
        let big = fit(buf, 24, 7, &Theme::default());
        let t = text_of(&big, big.area);
        assert!(t.lines().all(|l| l.ends_with("····")), "{t}");
        assert_eq!(t.lines().last(), Some("························"));
    }
}
