/*!
The terminal pane.

The emulator (alacritty_terminal) and the process (portable-pty) live in the server's pty
engine; this pane holds what it needs to draw and to route keys: the latest `TermFrame` (a
snapshot of the visible grid, taken only when the pane is about to be drawn), the title, the
exit status, and the copy-mode UI. Keys become bytes here, with the modes the program asked for;
copy-mode keys become `CopyCmd`s that the engine carries out on its scrollback.
*/

use crate::keys::encode_key;
use crate::Theme;
use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx, TermRequest, UiCommand,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use std::borrow::Cow;

/// The terminal pane's registration: copy mode and pastes are global actions; it needs the pty
/// engine.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Term,
    all_keys: true,
    actions: &[],
    engines: &[crate::Engine::Pty],
    fresh: |shell| Box::new(TermPane::new(shell, None)),
    restore: |st| match st {
        PaneState::Term { cwd, command } => Some(Box::new(TermPane::new(command, cwd.clone()))),
        _ => None,
    },
};

/// How a cell is highlighted by copy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Highlight {
    #[default]
    None,
    Selection,
    Match,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TermCell {
    pub ch: char,
    /// Zero-width characters that combine with `ch`.
    pub combining: Option<Box<[char]>>,
    /// `Color::Reset` means the terminal's default colour (the theme's).
    pub fg: Color,
    pub bg: Color,
    pub mods: Modifier,
    /// The first half of a double-width character.
    pub wide: bool,
    /// The second half of a double-width character: draw nothing.
    pub spacer: bool,
    pub hl: Highlight,
}

/// The modes a program asked for, which decide how keys and pastes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TermModes {
    pub app_cursor: bool,
    pub bracketed_paste: bool,
    pub alt_screen: bool,
    /// The program asked for mouse reports (clicks, drags or all motion).
    pub mouse: bool,
    /// ... in SGR form (`CSI < b ; x ; y M`), which has no coordinate limit.
    pub sgr_mouse: bool,
    /// ... including motion with a button held (drags).
    pub mouse_drag: bool,
}

/// A snapshot of what the terminal shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TermFrame {
    pub cols: u16,
    pub rows: u16,
    /// `rows * cols` cells, row by row.
    pub cells: Vec<TermCell>,
    /// Where the program's cursor is, if it is shown and on screen.
    pub cursor: Option<(u16, u16)>,
    /// Copy mode's cursor, when in copy mode.
    pub copy_cursor: Option<(u16, u16)>,
    /// Lines scrolled back from the bottom, and how many lines of history exist.
    pub display_offset: usize,
    pub history: usize,
    pub modes: TermModes,
}

/// The rows of the screen that changed since the last frame or rows the pane was given, and
/// what else a frame carries (all of it small). The emulator sends these for plain output (no
/// selection, no search, no scrollback shown), so an echo costs one row, not a screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TermRows {
    pub cols: u16,
    pub rows: u16,
    /// Each changed row's number and its `cols` cells.
    pub changed: Vec<(u16, Vec<TermCell>)>,
    pub cursor: Option<(u16, u16)>,
    pub history: usize,
    pub modes: TermModes,
}

/// Motions and commands in copy mode, carried out by the engine on the scrollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyCmd {
    Enter,
    Exit,
    Left,
    Right,
    Up,
    Down,
    WordLeft,
    WordRight,
    LineStart,
    LineEnd,
    Top,
    Bottom,
    HalfPageUp,
    HalfPageDown,
    /// Start (or switch to) a selection: character, line or block.
    Select(SelectKind),
    Search {
        pattern: String,
        forward: bool,
    },
    /// Repeat the last search; `reverse` goes the other way.
    SearchAgain {
        reverse: bool,
    },
    /// Copy the selection (or the cursor's line) and leave copy mode.
    Yank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectKind {
    Char,
    Line,
    Block,
}

#[derive(Debug, Default)]
struct CopyUi {
    /// The search being typed (`/` or `?`), if any.
    typing: Option<(String, bool)>,
    /// The last search message from the engine ("no match for ...").
    note: Option<String>,
}

#[derive(Debug, Default)]
pub struct TermPane {
    title: Option<String>,
    command: String,
    cwd: Option<String>,
    frame: Option<TermFrame>,
    exited: Option<String>,
    copy: Option<CopyUi>,
    bell: bool,
    /// The rows the last `TermRows` changed (`None`: the last update was a whole frame).
    changed: Option<Vec<u16>>,
    /// Where the pane last drew itself whole.
    drawn: Option<Rect>,
}

impl TermPane {
    pub fn new(command: &str, cwd: Option<String>) -> Self {
        TermPane {
            command: command.to_string(),
            cwd,
            ..Default::default()
        }
    }

    pub fn in_copy_mode(&self) -> bool {
        self.copy.is_some()
    }

    pub fn modes(&self) -> TermModes {
        self.frame.as_ref().map(|f| f.modes).unwrap_or_default()
    }

    fn copy_key(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        let Some(ui) = self.copy.as_mut() else {
            return Outcome::Ignored;
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        cx.dirty = true;
        if let Some((text, forward)) = ui.typing.as_mut() {
            match k.code {
                KeyCode::Enter => {
                    let pattern = std::mem::take(text);
                    let forward = *forward;
                    ui.typing = None;
                    if !pattern.is_empty() {
                        cx.push(Effect::Engine(EngineRequest::Term(TermRequest::Copy(
                            CopyCmd::Search { pattern, forward },
                        ))));
                    }
                }
                KeyCode::Esc => ui.typing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if !ctrl => text.push(c),
                _ => {}
            }
            return Outcome::Consumed;
        }
        ui.note = None;
        let cmd = match (k.code, ctrl) {
            (KeyCode::Char('h'), false) | (KeyCode::Left, _) => CopyCmd::Left,
            (KeyCode::Char('j'), false) | (KeyCode::Down, _) => CopyCmd::Down,
            (KeyCode::Char('k'), false) | (KeyCode::Up, _) => CopyCmd::Up,
            (KeyCode::Char('l'), false) | (KeyCode::Right, _) => CopyCmd::Right,
            (KeyCode::Char('w'), false) => CopyCmd::WordRight,
            (KeyCode::Char('b'), false) => CopyCmd::WordLeft,
            (KeyCode::Char('0'), false) | (KeyCode::Home, _) => CopyCmd::LineStart,
            (KeyCode::Char('$'), false) | (KeyCode::End, _) => CopyCmd::LineEnd,
            (KeyCode::Char('g'), false) => CopyCmd::Top,
            (KeyCode::Char('G'), false) => CopyCmd::Bottom,
            (KeyCode::Char('u'), true) | (KeyCode::PageUp, _) => CopyCmd::HalfPageUp,
            (KeyCode::Char('d'), true) | (KeyCode::PageDown, _) => CopyCmd::HalfPageDown,
            (KeyCode::Char('v'), true) => CopyCmd::Select(SelectKind::Block),
            (KeyCode::Char('v'), false) | (KeyCode::Char(' '), false) => {
                CopyCmd::Select(SelectKind::Char)
            }
            (KeyCode::Char('V'), false) => CopyCmd::Select(SelectKind::Line),
            (KeyCode::Char('n'), false) => CopyCmd::SearchAgain { reverse: false },
            (KeyCode::Char('N'), false) => CopyCmd::SearchAgain { reverse: true },
            (KeyCode::Char('y'), false) | (KeyCode::Enter, _) => {
                self.copy = None;
                CopyCmd::Yank
            }
            (KeyCode::Char('/'), false) => {
                ui.typing = Some((String::new(), true));
                return Outcome::Consumed;
            }
            (KeyCode::Char('?'), false) => {
                ui.typing = Some((String::new(), false));
                return Outcome::Consumed;
            }
            (KeyCode::Char('q'), false) | (KeyCode::Esc, _) => {
                self.copy = None;
                CopyCmd::Exit
            }
            _ => return Outcome::Consumed,
        };
        cx.push(Effect::Engine(EngineRequest::Term(TermRequest::Copy(cmd))));
        Outcome::Consumed
    }
}

/// Maps the terminal's colours onto the theme: the default colours are the theme's.
fn resolve(c: Color, default: Color) -> Color {
    if c == Color::Reset {
        default
    } else {
        c
    }
}

impl Pane for TermPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Term
    }

    fn title(&self) -> Cow<'_, str> {
        // The program's own title, else its name (`bash`, not `/bin/bash -l`).
        let name = self.command.split_whitespace().next().unwrap_or("");
        let name = name.rsplit('/').next().unwrap_or(name);
        let base = self
            .title
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(name);
        let mut t = String::new();
        if self.bell {
            t.push_str("! ");
        }
        t.push_str(base);
        if let Some(e) = &self.exited {
            t.push_str(&format!(" [exited {e}]"));
        }
        if self.copy.is_some() {
            t.push_str(" [copy]");
        }
        Cow::Owned(t)
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::CopyMode if self.copy.is_none() => {
                self.copy = Some(CopyUi::default());
                cx.push(Effect::Engine(EngineRequest::Term(TermRequest::Copy(
                    CopyCmd::Enter,
                ))));
                cx.dirty = true;
                Outcome::Consumed
            }
            Action::CopyMode => Outcome::Consumed,
            _ => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        if self.bell {
            // The title loses its bell mark.
            self.bell = false;
            cx.dirty = true;
        }
        if self.exited.is_some() {
            if matches!(k.code, KeyCode::Enter | KeyCode::Char('q') | KeyCode::Esc) {
                cx.push(Effect::Ui(UiCommand::ClosePane));
            }
            return Outcome::Consumed;
        }
        if self.copy.is_some() {
            return self.copy_key(k, cx);
        }
        let bytes = encode_key(k, self.modes().app_cursor);
        if !bytes.is_empty() {
            cx.push(Effect::Engine(EngineRequest::Term(TermRequest::Input(
                bytes,
            ))));
        }
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => {
                cx.push(Effect::Engine(EngineRequest::Term(TermRequest::Spawn {
                    command: self.command.clone(),
                    cwd: self.cwd.clone(),
                })));
                return Outcome::Consumed;
            }
            EngineEvent::TermFrame(f) => {
                self.frame = Some(*f);
                self.changed = None;
            }
            EngineEvent::TermRows(r) => match self.frame.as_mut() {
                Some(f) if f.cols == r.cols && f.rows == r.rows => {
                    let mut rows = Vec::with_capacity(r.changed.len());
                    for (y, cells) in r.changed {
                        let start = y as usize * f.cols as usize;
                        if let Some(dst) = f.cells.get_mut(start..start + cells.len()) {
                            dst.clone_from_slice(&cells);
                            rows.push(y);
                        }
                    }
                    f.cursor = r.cursor;
                    f.copy_cursor = None;
                    f.display_offset = 0;
                    f.history = r.history;
                    f.modes = r.modes;
                    self.changed = Some(rows);
                }
                // Rows for a screen this pane does not have: the emulator sends whole frames
                // after every resize, so this is not expected; draw what there is.
                _ => self.changed = None,
            },
            EngineEvent::TermTitle(t) => {
                self.title = Some(t.chars().filter(|c| !c.is_control()).take(80).collect())
            }
            EngineEvent::TermBell => self.bell = true,
            EngineEvent::TermExited(how) => {
                self.exited = Some(how);
                self.copy = None;
            }
            EngineEvent::TermCwd(cwd) => self.cwd = Some(cwd),
            EngineEvent::TermNote(note) => {
                if let Some(ui) = self.copy.as_mut() {
                    ui.note = Some(note);
                }
            }
            EngineEvent::TermCopyDone => self.copy = None,
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        let Some(f) = &self.frame else {
            buf.set_stringn(area.x, area.y, "starting…", area.width as usize, t.muted());
            return;
        };
        let cols = f.cols.min(area.width);
        let rows = f.rows.min(area.height);
        // Over what it drew last time (`retained`), plain output redraws only changed rows.
        let plain = self.copy.is_none() && self.exited.is_none() && f.display_offset == 0;
        match &self.changed {
            Some(changed) if rcx.retained && plain && self.drawn == Some(area) => {
                for &y in changed.iter().filter(|y| **y < rows) {
                    draw_row(f, y, cols, area, buf, t);
                }
            }
            _ => {
                for y in 0..rows {
                    draw_row(f, y, cols, area, buf, t);
                }
                self.drawn = Some(area);
            }
        }
        if let Some((cx, cy)) = f.copy_cursor {
            if cx < cols && cy < rows {
                buf[(area.x + cx, area.y + cy)].set_style(Style::new().fg(t.bg).bg(t.accent));
            }
        }
        // Copy mode: position at the top right, the search prompt or a note at the bottom.
        if let Some(ui) = &self.copy {
            let pos = format!("[{}/{}]", f.display_offset, f.history);
            let w = pos.chars().count() as u16;
            if w < area.width {
                buf.set_string(
                    area.right() - w,
                    area.y,
                    &pos,
                    Style::new().fg(t.bg).bg(t.warn),
                );
            }
            let bottom = area.bottom().saturating_sub(1);
            let line = match (&ui.typing, &ui.note) {
                (Some((text, fwd)), _) => Some(format!("{}{text}", if *fwd { '/' } else { '?' })),
                (None, Some(note)) => Some(note.clone()),
                _ => None,
            };
            if let Some(line) = line {
                let w = area.width as usize;
                let padded = format!("{line:<w$}");
                buf.set_stringn(
                    area.x,
                    bottom,
                    &padded,
                    w,
                    Style::new().bg(t.popup_bg).fg(t.fg),
                );
            }
        }
        if let Some(how) = &self.exited {
            let msg = format!("[exited {how}] Enter closes the pane");
            let y = area.bottom().saturating_sub(1);
            buf.set_stringn(
                area.x,
                y,
                &msg,
                area.width as usize,
                Style::new().fg(t.bg).bg(t.warn),
            );
        }
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        if self.copy.is_some() || self.exited.is_some() {
            return None;
        }
        let f = self.frame.as_ref()?;
        let (x, y) = f.cursor?;
        (x < area.width && y < area.height).then(|| Position::new(area.x + x, area.y + y))
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.exited.is_some() {
            out.push(Hint::new("Enter", "close pane"));
        } else if self.copy.is_some() {
            for (k, d) in [
                ("hjkl", "move"),
                ("v V C-v", "select"),
                ("/ ?", "search"),
                ("n N", "next"),
                ("y", "yank"),
                ("q", "leave"),
            ] {
                out.push(Hint::new(k, d));
            }
            return crate::Hints::Alone;
        }
        crate::Hints::WithKeymap
    }

    fn save(&self) -> PaneState {
        PaneState::Term {
            cwd: self.cwd.clone(),
            command: self.command.clone(),
        }
    }
}

/// Draws row `y` of the frame (its first `cols` cells) at `area`.
fn draw_row(f: &TermFrame, y: u16, cols: u16, area: Rect, buf: &mut Buffer, t: &Theme) {
    for x in 0..cols {
        let Some(cell) = f.cells.get(y as usize * f.cols as usize + x as usize) else {
            continue;
        };
        let out = &mut buf[(area.x + x, area.y + y)];
        if cell.spacer {
            out.reset();
            out.set_style(Style::new().bg(resolve(cell.bg, t.bg)));
            continue;
        }
        let mut fg = resolve(cell.fg, t.fg);
        let mut bg = resolve(cell.bg, t.bg);
        let mut mods = cell.mods;
        if mods.contains(Modifier::REVERSED) {
            std::mem::swap(&mut fg, &mut bg);
            mods.remove(Modifier::REVERSED);
        }
        if mods.contains(Modifier::HIDDEN) {
            fg = bg;
            mods.remove(Modifier::HIDDEN);
        }
        match cell.hl {
            Highlight::None => {}
            Highlight::Selection => {
                fg = t.selection_fg;
                bg = t.selection_bg;
            }
            Highlight::Match => {
                fg = t.bg;
                bg = t.matched;
            }
        }
        if cell.wide && x + 1 >= cols {
            // Half a wide character does not fit: show a blank, as terminals do.
            out.set_symbol(" ");
        } else if let Some(extra) = &cell.combining {
            let mut s = String::from(cell.ch);
            s.extend(extra.iter());
            out.set_symbol(&s);
        } else {
            out.set_char(if cell.ch == '\0' { ' ' } else { cell.ch });
        }
        // Assigned, not added: over a retained frame the cell still has the old modifiers.
        out.fg = fg;
        out.bg = bg;
        out.modifier = mods;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_widgets::Theme;

    #[test]
    fn opened_says_what_it_runs_and_where() {
        let mut p = TermPane::new("/bin/bash -l", Some("/srv/camp".into()));
        let mut cx = Cx::default();
        assert_eq!(p.on_engine(EngineEvent::Opened, &mut cx), Outcome::Consumed);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Term(TermRequest::Spawn {
                command: "/bin/bash -l".into(),
                cwd: Some("/srv/camp".into()),
            }))]
        );
        // Restored after a restart: the folder the program was last seen in.
        p.on_engine(
            EngineEvent::TermCwd("/tmp/later".into()),
            &mut Cx::default(),
        );
        let mut cx = Cx::default();
        p.on_engine(EngineEvent::Opened, &mut cx);
        assert!(matches!(
            &cx.effects[..],
            [Effect::Engine(EngineRequest::Term(TermRequest::Spawn { cwd: Some(c), .. }))] if c == "/tmp/later"
        ));
    }

    fn frame_of(lines: &[&str]) -> TermFrame {
        let cols = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
        let mut cells = Vec::new();
        for l in lines {
            let mut row: Vec<TermCell> = l
                .chars()
                .map(|ch| TermCell {
                    ch,
                    ..Default::default()
                })
                .collect();
            row.resize(
                cols as usize,
                TermCell {
                    ch: ' ',
                    ..Default::default()
                },
            );
            cells.extend(row);
        }
        TermFrame {
            cols,
            rows: lines.len() as u16,
            cells,
            cursor: Some((2, 1)),
            ..Default::default()
        }
    }

    fn draw(p: &mut TermPane, w: u16, h: u16) -> (Buffer, String) {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        let theme = Theme::default();
        p.render(
            buf.area,
            &mut buf,
            &RenderCx {
                theme: &theme,
                focused: true,
                retained: false,
            },
        );
        let text = (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        (buf, text)
    }

    #[test]
    fn keys_become_bytes_and_copy_keys_become_commands() {
        let mut p = TermPane::new("sh", None);
        let mut cx = Cx::default();
        p.on_input(
            &KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE),
            &mut cx,
        );
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Term(TermRequest::Input(
                b"l".to_vec()
            )))]
        );
        let mut cx = Cx::default();
        p.on_action(&Action::CopyMode, &mut cx);
        p.on_input(
            &KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE),
            &mut cx,
        );
        for c in "/needle".chars() {
            p.on_input(
                &KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
                &mut cx,
            );
        }
        p.on_input(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &mut cx);
        p.on_input(
            &KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE),
            &mut cx,
        );
        let cmds: Vec<_> = cx
            .effects
            .into_iter()
            .map(|e| match e {
                Effect::Engine(EngineRequest::Term(TermRequest::Copy(c))) => c,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            cmds,
            vec![
                CopyCmd::Enter,
                CopyCmd::Right,
                CopyCmd::Search {
                    pattern: "needle".into(),
                    forward: true
                },
                CopyCmd::Yank
            ]
        );
        assert!(!p.in_copy_mode(), "yank leaves copy mode");
    }

    #[test]
    fn exit_shows_and_a_key_closes() {
        let mut p = TermPane::new("sh", None);
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::TermFrame(Box::new(frame_of(&["$ exit", ""]))),
            &mut cx,
        );
        p.on_engine(EngineEvent::TermExited("0".into()), &mut cx);
        assert_eq!(p.title(), "sh [exited 0]");
        let (_, text) = draw(&mut p, 40, 2);
        assert_eq!(
            text.lines().last().map(str::trim_end),
            Some("[exited 0] Enter closes the pane"),
            "{text}"
        );
        let mut cx = Cx::default();
        p.on_input(
            &KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE),
            &mut cx,
        );
        assert!(cx.effects.is_empty());
        p.on_input(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &mut cx);
        assert_eq!(cx.effects, vec![Effect::Ui(UiCommand::ClosePane)]);
    }

    #[test]
    fn renders_colours_wide_chars_and_cursor() {
        let mut f = frame_of(&["ab", "cd"]);
        f.cells[0].fg = Color::Red;
        f.cells[1].mods = Modifier::REVERSED;
        f.cells[2] = TermCell {
            ch: '世',
            wide: true,
            ..Default::default()
        };
        f.cells[3] = TermCell {
            ch: ' ',
            spacer: true,
            ..Default::default()
        };
        let mut p = TermPane::new("sh", None);
        p.on_engine(EngineEvent::TermFrame(Box::new(f)), &mut Cx::default());
        let (buf, _) = draw(&mut p, 2, 2);
        let theme = Theme::default();
        assert_eq!(buf[(0, 0)].fg, Color::Red);
        assert_eq!(buf[(0, 0)].bg, theme.bg, "default colours are the theme's");
        assert_eq!(buf[(1, 0)].bg, theme.fg, "reverse video swaps");
        assert_eq!(buf[(0, 1)].symbol(), "世");
        assert_eq!(
            p.cursor(Rect::new(5, 5, 2, 2)),
            None,
            "cursor (2,1) is outside a 2-wide pane"
        );
        assert_eq!(p.cursor(Rect::new(5, 5, 10, 10)), Some(Position::new(7, 6)));
    }

    #[test]
    fn snapshots() {
        crate::testkit::settings().bind(|| {
            let mut p = TermPane::new("bash", None);
            insta::assert_snapshot!("term_starting_80x24", draw(&mut p, 80, 24).1);
            let mut lines: Vec<String> = (0..24).map(|i| format!("$ echo line {i}")).collect();
            lines[0] = format!("{:<80}", lines[0]);
            let refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
            let mut f = frame_of(&refs);
            p.on_engine(
                EngineEvent::TermFrame(Box::new(f.clone())),
                &mut Cx::default(),
            );
            insta::assert_snapshot!("term_shell_80x24", draw(&mut p, 80, 24).1);
            p.on_action(&Action::CopyMode, &mut Cx::default());
            f.display_offset = 120;
            f.history = 5000;
            f.copy_cursor = Some((3, 4));
            for c in &mut f.cells[4 * 80 + 2..4 * 80 + 8] {
                c.hl = Highlight::Match;
            }
            p.on_engine(
                EngineEvent::TermFrame(Box::new(f.clone())),
                &mut Cx::default(),
            );
            for c in "/line 4".chars() {
                p.on_input(
                    &KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
                    &mut Cx::default(),
                );
            }
            insta::assert_snapshot!("term_copy_search_80x24", draw(&mut p, 80, 24).1);
            p.on_engine(
                EngineEvent::TermExited("signal 9".into()),
                &mut Cx::default(),
            );
            insta::assert_snapshot!("term_exited_120x30", draw(&mut p, 120, 30).1);
        });
    }
}
