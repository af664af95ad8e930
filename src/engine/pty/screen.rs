/*!
A terminal's screen: alacritty's emulator fed a program's output, with what the output asked for
(title, bell, clipboard, safe answers to queries), the frame a pane draws, the text a capture
or a save takes (the primary screen's, whatever a full-screen program shows), and copy mode.
It knows nothing of processes: `TermProc` owns one beside its program.
*/

use alacritty_terminal::event::{Event, EventListener, WindowSize};
use alacritty_terminal::grid::{Dimensions, Scroll};
use alacritty_terminal::index::{Column, Direction, Line, Point, Side};
use alacritty_terminal::selection::{Selection, SelectionType};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::term::search::{Match, RegexSearch};
use alacritty_terminal::term::{Config, Osc52, Term, TermDamage, TermMode};
use alacritty_terminal::vi_mode::ViMotion;
use alacritty_terminal::vte::ansi::{Color as AColor, NamedColor, Processor, Rgb, StdSyncHandler};
use fieldkit_panes::term::Highlight;
use fieldkit_panes::{CopyCmd, EngineEvent, SelectKind, TermCell, TermFrame, TermModes, TermRows};
use ratatui::style::{Color, Modifier};
use std::cell::RefCell;
use std::rc::Rc;

/// What feeding output produced, for the server to route.
#[derive(Debug, Default, PartialEq)]
pub struct Fed {
    pub title: Option<String>,
    pub bell: bool,
    /// Text a program asked to put on the clipboard (OSC 52 write).
    pub clipboard: Option<String>,
    /// Bytes written back to the program (answers to queries).
    pub answered: Vec<u8>,
}

#[derive(Clone, Default)]
pub(super) struct Events(Rc<RefCell<Vec<Event>>>);

impl EventListener for Events {
    fn send_event(&self, event: Event) {
        self.0.borrow_mut().push(event);
    }
}

pub(super) struct Size {
    cols: usize,
    rows: usize,
}

impl Dimensions for Size {
    fn total_lines(&self) -> usize {
        self.rows
    }
    fn screen_lines(&self) -> usize {
        self.rows
    }
    fn columns(&self) -> usize {
        self.cols
    }
}

/// The emulator of one pane, without the process: what tests and fuzzing drive directly.
pub struct Screen {
    term: Term<Events>,
    parser: Processor<StdSyncHandler>,
    events: Events,
    search: Option<(RegexSearch, String, bool)>,
    found: Option<Match>,
    /// The primary screen's text (history and screen) as it was when a program switched to
    /// the alternate screen; `None` while the primary screen shows.
    primary: Option<String>,
    /// The last `update` was plain (no selection, search or scrollback shown), so the pane's
    /// frame matches the screen but for the damage since.
    plain_sent: bool,
    /// Lines of scrollback kept (for `wipe`).
    history: usize,
}

/// Where the first switch to the alternate screen (`CSI ? 1049 h`, the one alacritty
/// honours; it ignores the older 47 and 1047) starts in `bytes`. A flood of plain output costs
/// one memchr pass.
pub(super) fn alt_screen_entry(bytes: &[u8]) -> Option<usize> {
    memchr::memmem::find(bytes, b"\x1b[?1049h")
}

/// Regex metacharacters are searched for literally: people search for text.
pub(super) fn literal(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    for c in pattern.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One of alacritty's cells as a pane draws it.
fn term_cell(c: &alacritty_terminal::term::cell::Cell, hl: Highlight) -> TermCell {
    let f = c.flags;
    let mut mods = Modifier::empty();
    for (flag, m) in [
        (Flags::BOLD, Modifier::BOLD),
        (Flags::ITALIC, Modifier::ITALIC),
        (Flags::ALL_UNDERLINES, Modifier::UNDERLINED),
        (Flags::INVERSE, Modifier::REVERSED),
        (Flags::DIM, Modifier::DIM),
        (Flags::HIDDEN, Modifier::HIDDEN),
        (Flags::STRIKEOUT, Modifier::CROSSED_OUT),
    ] {
        if f.intersects(flag) {
            mods |= m;
        }
    }
    let ch = if f.contains(Flags::LEADING_WIDE_CHAR_SPACER) || c.c == '\0' || c.c == '\t' {
        ' '
    } else {
        c.c
    };
    TermCell {
        ch,
        combining: c.zerowidth().map(|z| z.to_vec().into_boxed_slice()),
        fg: color(c.fg),
        bg: color(c.bg),
        mods,
        wide: f.contains(Flags::WIDE_CHAR),
        spacer: f.contains(Flags::WIDE_CHAR_SPACER),
        hl,
    }
}

pub(super) fn color(c: AColor) -> Color {
    const NAMED: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match c {
        AColor::Spec(Rgb { r, g, b }) => Color::Rgb(r, g, b),
        AColor::Indexed(i) if i < 16 => NAMED[i as usize],
        AColor::Indexed(i) => Color::Indexed(i),
        AColor::Named(n) => {
            let i = n as usize;
            if i < 16 {
                NAMED[i]
            } else {
                match n {
                    NamedColor::DimBlack => Color::Black,
                    NamedColor::DimRed => Color::Red,
                    NamedColor::DimGreen => Color::Green,
                    NamedColor::DimYellow => Color::Yellow,
                    NamedColor::DimBlue => Color::Blue,
                    NamedColor::DimMagenta => Color::Magenta,
                    NamedColor::DimCyan => Color::Cyan,
                    NamedColor::DimWhite => Color::Gray,
                    _ => Color::Reset,
                }
            }
        }
    }
}

impl Screen {
    pub fn new(cols: u16, rows: u16, scrollback: usize) -> Screen {
        let events = Events::default();
        let config = Config {
            scrolling_history: scrollback,
            // Programs may set the clipboard; they may never read it back.
            osc52: Osc52::OnlyCopy,
            ..Config::default()
        };
        let size = Size {
            cols: cols.max(2) as usize,
            rows: rows.max(1) as usize,
        };
        Screen {
            term: Term::new(config, &size, events.clone()),
            parser: Processor::new(),
            events,
            search: None,
            found: None,
            primary: None,
            plain_sent: false,
            history: scrollback,
        }
    }

    /// Forgets everything shown and kept (panic): a new, empty screen of the same size. The
    /// old one's memory is zeroed as it is freed (`crate::alloc`).
    pub fn wipe(&mut self) {
        let (cols, rows) = self.size();
        *self = Screen::new(cols, rows, self.history);
    }

    /// Feeds program output; returns what it asked for.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Fed {
        if !self.term.mode().contains(TermMode::ALT_SCREEN) {
            if let Some(at) = alt_screen_entry(bytes) {
                self.parser.advance(&mut self.term, &bytes[..at]);
                if !self.term.mode().contains(TermMode::ALT_SCREEN) {
                    self.primary = Some(self.text(true));
                }
                bytes = &bytes[at..];
            }
        }
        self.parser.advance(&mut self.term, bytes);
        if !self.term.mode().contains(TermMode::ALT_SCREEN) {
            self.primary = None;
        }
        let mut fed = Fed::default();
        let size = (self.term.columns(), self.term.screen_lines());
        for ev in self.events.0.borrow_mut().drain(..) {
            match ev {
                Event::Title(t) => fed.title = Some(t),
                Event::ResetTitle => fed.title = Some(String::new()),
                Event::Bell => fed.bell = true,
                Event::ClipboardStore(_, text) => fed.clipboard = Some(text),
                // Fixed-format answers: device attributes, cursor position, mode reports.
                Event::PtyWrite(text) => fed.answered.extend_from_slice(text.as_bytes()),
                Event::TextAreaSizeRequest(format) => fed.answered.extend_from_slice(
                    format(WindowSize {
                        num_lines: size.1 as u16,
                        num_cols: size.0 as u16,
                        cell_width: 8,
                        cell_height: 16,
                    })
                    .as_bytes(),
                ),
                Event::ColorRequest(index, format) => {
                    // Only the default foreground and background are told (vim asks, to pick
                    // a light or dark scheme); they are numbers, never program text.
                    let rgb = match index {
                        256 => Some(Rgb {
                            r: 0xd4,
                            g: 0xd7,
                            b: 0xdd,
                        }),
                        257 => Some(Rgb {
                            r: 0x1d,
                            g: 0x1f,
                            b: 0x24,
                        }),
                        _ => None,
                    };
                    if let Some(rgb) = rgb {
                        fed.answered.extend_from_slice(format(rgb).as_bytes());
                    }
                }
                // Clipboard reads (OSC 52 ?) are never answered.
                Event::ClipboardLoad(..) => {}
                _ => {}
            }
        }
        fed
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.term.resize(Size {
            cols: cols.max(2) as usize,
            rows: rows.max(1) as usize,
        });
    }

    pub fn size(&self) -> (u16, u16) {
        (self.term.columns() as u16, self.term.screen_lines() as u16)
    }

    pub fn modes(&self) -> TermModes {
        let m = self.term.mode();
        TermModes {
            app_cursor: m.contains(TermMode::APP_CURSOR),
            bracketed_paste: m.contains(TermMode::BRACKETED_PASTE),
            alt_screen: m.contains(TermMode::ALT_SCREEN),
            mouse: m.intersects(TermMode::MOUSE_MODE),
            sgr_mouse: m.contains(TermMode::SGR_MOUSE),
            mouse_drag: m.intersects(TermMode::MOUSE_DRAG | TermMode::MOUSE_MOTION),
        }
    }

    /// What the pane needs to show the screen as it is now: the rows alacritty says changed
    /// since the last update (plain output), or a whole frame (the first one, after `whole`,
    /// and whenever a selection, a search or the scrollback is shown or was last time).
    pub fn update(&mut self, whole: bool) -> EngineEvent {
        let plain = self.found.is_none()
            && self.term.selection.is_none()
            && self.term.grid().display_offset() == 0
            && !self.term.mode().contains(TermMode::VI);
        let lines: Option<Vec<usize>> = match self.term.damage() {
            TermDamage::Full => None,
            TermDamage::Partial(it) => Some(it.map(|d| d.line).collect()),
        };
        self.term.reset_damage();
        let was_plain = std::mem::replace(&mut self.plain_sent, plain);
        let Some(lines) = lines.filter(|_| plain && was_plain && !whole) else {
            return EngineEvent::TermFrame(Box::new(self.frame()));
        };
        let cols = self.term.columns();
        let rows = self.term.screen_lines();
        let grid = self.term.grid();
        let changed = lines
            .into_iter()
            .filter(|y| *y < rows)
            .map(|y| {
                let row = &grid[Line(y as i32)];
                let cells = (0..cols)
                    .map(|x| term_cell(&row[Column(x)], Highlight::None))
                    .collect();
                (y as u16, cells)
            })
            .collect();
        EngineEvent::TermRows(Box::new(TermRows {
            cols: cols as u16,
            rows: rows as u16,
            changed,
            cursor: self.cursor(0),
            history: grid.history_size(),
            modes: self.modes(),
        }))
    }

    /// Where the program's cursor is on screen, if it is shown (and the view is at the bottom).
    fn cursor(&self, offset: i32) -> Option<(u16, u16)> {
        let mode = *self.term.mode();
        if !mode.contains(TermMode::SHOW_CURSOR) || offset != 0 {
            return None;
        }
        // As alacritty's renderable cursor: the vi cursor in vi mode, and a wide character's
        // cursor on its first half.
        let mut p = if mode.contains(TermMode::VI) {
            self.term.vi_mode_cursor.point
        } else {
            self.term.grid().cursor.point
        };
        if self.term.grid()[p].flags.contains(Flags::WIDE_CHAR_SPACER) {
            p.column = Column(p.column.0.saturating_sub(1));
        }
        (p.line.0 >= 0).then_some((p.column.0 as u16, p.line.0 as u16))
    }

    /// A snapshot of what is visible now.
    pub fn frame(&self) -> TermFrame {
        let content = self.term.renderable_content();
        let cols = self.term.columns();
        let rows = self.term.screen_lines();
        let offset = content.display_offset as i32;
        let mut cells = vec![
            TermCell {
                ch: ' ',
                ..Default::default()
            };
            cols * rows
        ];
        let selection = content.selection;
        for ic in content.display_iter {
            let row = ic.point.line.0 + offset;
            let col = ic.point.column.0;
            if row < 0 || row as usize >= rows || col >= cols {
                continue;
            }
            let hl = if self.found.as_ref().is_some_and(|m| m.contains(&ic.point)) {
                Highlight::Match
            } else if selection.is_some_and(|s| s.contains(ic.point)) {
                Highlight::Selection
            } else {
                Highlight::None
            };
            cells[row as usize * cols + col] = term_cell(ic.cell, hl);
        }
        let mode = *self.term.mode();
        let cursor = self.cursor(offset);
        let copy_cursor = mode.contains(TermMode::VI).then(|| {
            let p = self.term.vi_mode_cursor.point;
            ((p.column.0) as u16, (p.line.0 + offset).max(0) as u16)
        });
        TermFrame {
            cols: cols as u16,
            rows: rows as u16,
            cells,
            cursor,
            copy_cursor,
            display_offset: offset as usize,
            history: self.term.grid().history_size(),
            modes: self.modes(),
        }
    }

    /// The text selected in copy mode, if any.
    pub fn selection_text(&self) -> Option<String> {
        self.term.selection.as_ref()?;
        self.term.selection_to_string()
    }

    /// The text of the screen, and with `history` the scrollback above it; trailing blanks
    /// and blank lines at the end trimmed.
    pub fn text(&self, history: bool) -> String {
        let grid = self.term.grid();
        let top = if history {
            -(grid.history_size() as i32)
        } else {
            0
        };
        let cols = self.term.columns();
        let mut lines: Vec<String> = Vec::new();
        for l in top..self.term.screen_lines() as i32 {
            let row = &grid[Line(l)];
            let mut line = String::with_capacity(cols);
            for c in 0..cols {
                let cell = &row[Column(c)];
                if cell
                    .flags
                    .intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER)
                {
                    continue;
                }
                // Tabs are kept in cells for copying; a capture shows the blanks they made.
                line.push(if cell.c == '\t' || cell.c == '\0' {
                    ' '
                } else {
                    cell.c
                });
                if let Some(z) = cell.zerowidth() {
                    line.extend(z.iter());
                }
            }
            lines.push(line.trim_end().to_string());
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// The primary screen's history and screen as text, what a restart shows again: while a
    /// full-screen program holds the alternate screen, the primary screen as it was when the
    /// program took over. (Should a switch ever be split across two reads, the alternate
    /// screen is all there is to give, as before.)
    pub fn history_text(&self) -> String {
        match &self.primary {
            Some(text) if self.term.mode().contains(TermMode::ALT_SCREEN) => text.clone(),
            _ => self.text(true),
        }
    }

    /// Carries out a copy-mode command. Returns the yanked text for `Yank`, or a note for the
    /// user ("no match").
    pub fn copy(&mut self, cmd: &CopyCmd) -> CopyResult {
        let vi = self.term.mode().contains(TermMode::VI);
        match cmd {
            CopyCmd::Enter => {
                if !vi {
                    self.term.toggle_vi_mode();
                }
            }
            CopyCmd::Exit => self.leave_copy(),
            CopyCmd::Left => self.term.vi_motion(ViMotion::Left),
            CopyCmd::Right => self.term.vi_motion(ViMotion::Right),
            CopyCmd::Up => self.term.vi_motion(ViMotion::Up),
            CopyCmd::Down => self.term.vi_motion(ViMotion::Down),
            CopyCmd::WordLeft => self.term.vi_motion(ViMotion::WordLeft),
            CopyCmd::WordRight => self.term.vi_motion(ViMotion::WordRight),
            CopyCmd::LineStart => self.term.vi_motion(ViMotion::First),
            CopyCmd::LineEnd => self.term.vi_motion(ViMotion::Last),
            CopyCmd::Top => {
                let top = -(self.term.grid().history_size() as i32);
                self.term.vi_goto_point(Point::new(Line(top), Column(0)));
            }
            CopyCmd::Bottom => {
                let bottom = self.term.screen_lines() as i32 - 1;
                self.term.vi_goto_point(Point::new(Line(bottom), Column(0)));
            }
            CopyCmd::HalfPageUp | CopyCmd::HalfPageDown => {
                let half = (self.term.screen_lines() / 2).max(1) as i32;
                let lines = if *cmd == CopyCmd::HalfPageUp {
                    half
                } else {
                    -half
                };
                self.term.scroll_display(Scroll::Delta(lines));
                let cursor = self.term.vi_mode_cursor.scroll(&self.term, lines);
                self.term.vi_goto_point(cursor.point);
            }
            CopyCmd::Select(kind) => {
                let ty = match kind {
                    SelectKind::Char => SelectionType::Simple,
                    SelectKind::Line => SelectionType::Lines,
                    SelectKind::Block => SelectionType::Block,
                };
                if self.term.selection.as_ref().is_some_and(|s| s.ty == ty) {
                    self.term.selection = None;
                } else {
                    let mut s = Selection::new(ty, self.term.vi_mode_cursor.point, Side::Left);
                    s.include_all();
                    self.term.selection = Some(s);
                }
            }
            CopyCmd::Search { pattern, forward } => {
                match RegexSearch::new(&literal(pattern)) {
                    Ok(re) => self.search = Some((re, pattern.clone(), *forward)),
                    Err(_) => return CopyResult::Note(format!("cannot search for {pattern:?}")),
                }
                return self.search_step(false);
            }
            CopyCmd::SearchAgain { reverse } => return self.search_step(*reverse),
            CopyCmd::Yank => {
                let text = match self.term.selection_to_string() {
                    Some(t) if !t.is_empty() => t,
                    _ => {
                        let line = self.term.vi_mode_cursor.point.line;
                        self.term.bounds_to_string(
                            Point::new(line, Column(0)),
                            Point::new(line, self.term.last_column()),
                        )
                    }
                };
                self.leave_copy();
                return CopyResult::Yanked(text.trim_end_matches('\n').to_string());
            }
        }
        CopyResult::Done
    }

    fn leave_copy(&mut self) {
        if self.term.mode().contains(TermMode::VI) {
            self.term.toggle_vi_mode();
        }
        self.term.selection = None;
        self.found = None;
        self.term.scroll_display(Scroll::Bottom);
    }

    fn search_step(&mut self, reverse: bool) -> CopyResult {
        let Some((re, pattern, forward)) = self.search.as_mut() else {
            return CopyResult::Note("no search yet: / or ? starts one".into());
        };
        let forward = *forward != reverse;
        let dir = if forward {
            Direction::Right
        } else {
            Direction::Left
        };
        // Start one cell past the cursor so that `n` moves on from the current match.
        let here = self.term.vi_mode_cursor.point;
        let origin = if forward {
            here.add(&self.term, alacritty_terminal::index::Boundary::None, 1)
        } else {
            here.sub(&self.term, alacritty_terminal::index::Boundary::None, 1)
        };
        let found = self.term.search_next(re, origin, dir, Side::Left, None);
        match found {
            Some(m) => {
                let start = *m.start();
                self.found = Some(m);
                self.term.vi_goto_point(start);
                CopyResult::Done
            }
            None => CopyResult::Note(format!("no match for {pattern:?}")),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum CopyResult {
    Done,
    Yanked(String),
    Note(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_text_reach_the_frame() {
        let mut s = Screen::new(20, 3, 100);
        s.feed(b"\x1b[31mred\x1b[0m \x1b[1;4mbold\x1b[0m\r\n\x1b[38;2;1;2;3mrgb\x1b[48;5;200mX");
        let f = s.frame();
        assert_eq!(f.cells[0].ch, 'r');
        assert_eq!(f.cells[0].fg, Color::Red);
        assert!(f.cells[4]
            .mods
            .contains(Modifier::BOLD | Modifier::UNDERLINED));
        assert_eq!(f.cells[20].fg, Color::Rgb(1, 2, 3));
        assert_eq!(f.cells[23].bg, Color::Indexed(200));
        assert_eq!(f.cursor, Some((4, 1)));
        assert_eq!(s.text(false), "red bold\nrgbX\n");
    }

    #[test]
    fn wide_characters_and_title_and_bell() {
        let mut s = Screen::new(10, 2, 10);
        let fed = s.feed("世界\x1b]0;my title\x07\x07".as_bytes());
        assert_eq!(fed.title.as_deref(), Some("my title"));
        assert!(fed.bell);
        let f = s.frame();
        assert!(f.cells[0].wide && f.cells[1].spacer && f.cells[2].ch == '界');
    }

    #[test]
    fn echoback_sequences_answer_nothing() {
        // Each would write attacker-chosen bytes into the shell if answered.
        let hostile: [&[u8]; 5] = [
            b"\x1b[21t",                       // title report
            b"\x1bP$qm\x1b\\",                 // DECRQSS
            b"\x1b]50;?\x07",                  // font query
            b"\x1b]52;c;?\x07",                // clipboard read
            b"\x1b]2;$(rm -rf ~)\x07\x1b[21t", // a title set, then a report of it
        ];
        for seq in hostile {
            let mut s = Screen::new(40, 5, 10);
            let fed = s.feed(seq);
            assert!(
                fed.answered.is_empty(),
                "{:?} answered {:?}",
                String::from_utf8_lossy(seq),
                String::from_utf8_lossy(&fed.answered)
            );
        }
        // Fixed-format queries are answered (the control that the test can fail).
        let mut s = Screen::new(40, 5, 10);
        assert!(!s.feed(b"\x1b[c").answered.is_empty(), "device attributes");
        assert_eq!(s.feed(b"\x1b[6n").answered, b"\x1b[1;1R");
        // A clipboard write is passed on, never echoed.
        let fed = s.feed(b"\x1b]52;c;aGVsbG8=\x07");
        assert_eq!(fed.clipboard.as_deref(), Some("hello"));
        assert!(fed.answered.is_empty());
    }

    #[test]
    fn copy_mode_finds_old_lines_and_yanks() {
        let mut s = Screen::new(30, 10, 10_000);
        let mut out = String::new();
        for i in 0..6000 {
            out.push_str(&format!("row {i}\r\n"));
        }
        s.feed(out.as_bytes());
        assert_eq!(s.copy(&CopyCmd::Enter), CopyResult::Done);
        assert_eq!(
            s.copy(&CopyCmd::Search {
                pattern: "row 991".into(),
                forward: false
            }),
            CopyResult::Done
        );
        let f = s.frame();
        assert!(
            f.display_offset > 4900,
            "scrolled back {}",
            f.display_offset
        );
        let (cx, cy) = f.copy_cursor.expect("copy cursor");
        assert_eq!(f.cells[cy as usize * 30 + cx as usize].ch, 'r');
        assert!(f.cells.iter().any(|c| c.hl == Highlight::Match));
        assert_eq!(s.copy(&CopyCmd::Select(SelectKind::Line)), CopyResult::Done);
        assert_eq!(s.copy(&CopyCmd::Yank), CopyResult::Yanked("row 991".into()));
        assert_eq!(
            s.frame().display_offset,
            0,
            "yank leaves copy mode at the bottom"
        );
        s.copy(&CopyCmd::Enter);
        assert!(matches!(
            s.copy(&CopyCmd::Search {
                pattern: "no such".into(),
                forward: true
            }),
            CopyResult::Note(_)
        ));
        assert!(
            matches!(
                s.copy(&CopyCmd::Search {
                    pattern: "a[(".into(),
                    forward: true
                }),
                CopyResult::Note(_)
            ),
            "metacharacters are literal"
        );
    }

    #[test]
    fn a_full_screen_program_leaves_the_shell_history_to_save() {
        let mut s = Screen::new(40, 10, 1000);
        let lines: String = (1..=300).map(|i| format!("line {i}\r\n")).collect();
        s.feed(lines.as_bytes());
        // vim's start: the switch and its first screen in one read, as a pty often delivers.
        s.feed(b"$ vim\r\n\x1b[?1049h\x1b[H\x1b[2J~ VIM SCREEN");
        assert!(s.modes().alt_screen);
        let saved = s.history_text();
        assert!(
            saved.contains("line 1\n") && saved.contains("line 300\n"),
            "{saved}"
        );
        assert!(saved.ends_with("$ vim\n"), "{saved}");
        assert!(!saved.contains("VIM SCREEN"), "{saved}");
        assert!(s.text(false).contains("VIM SCREEN"), "the screen shows vim");
        // More of vim's drawing changes nothing of it.
        s.feed(b"\x1b[5;1Hmore vim");
        assert_eq!(s.history_text(), saved);
        // Back on the primary screen, what is saved is the screen as it is.
        s.feed(b"\x1b[?1049lafter vim\r\n");
        assert!(!s.modes().alt_screen);
        let after = s.history_text();
        assert!(
            after.contains("line 1\n") && after.contains("after vim"),
            "{after}"
        );
        // A switch in a read of its own is caught too.
        s.feed(b"\x1b[?1049h");
        s.feed(b"ALT");
        assert!(s.history_text().contains("after vim"));
        assert!(!s.history_text().contains("ALT"));
    }

    #[test]
    fn hostile_output_never_panics_and_stays_bounded() {
        let mut s = Screen::new(80, 24, 1000);
        let mut seed = 0x9e37_79b9u32;
        let mut bytes = Vec::new();
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            bytes.push(match seed % 7 {
                0 => 0x1b,
                1 => b'[',
                2 => b';',
                3 => (seed >> 8) as u8 % 10 + b'0',
                _ => (seed >> 16) as u8,
            });
        }
        s.feed(&bytes);
        s.feed(b"\x1b[999999999;999999999H\x1b[99999999999999999999m");
        s.feed(&vec![b'x'; 1 << 20]);
        s.resize(1, 1);
        s.feed(b"\x1b[?1049h\x1b[2J\xff\xfe\xc3");
        s.resize(300, 100);
        let f = s.frame();
        assert_eq!(f.cells.len(), 300 * 100);
        assert!(s.term.grid().history_size() <= 1000);
    }
}
