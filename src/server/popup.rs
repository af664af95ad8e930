/*!
The floating layer: command palette, help, prompts and messages.

One popup at a time per session, drawn over the panes. Each popup turns keys into a
`PopupResult`; running an action is left to the server, so the palette runs exactly what a key
binding would. Palette and help are generated from the action catalogue and the keymap.
*/

use crate::keymap::{Keymap, Scope};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fieldkit_panes::{catalogue, Action, PaneKind};
use fieldkit_widgets::popup::{centered, frame};
use fieldkit_widgets::{Picker, PickerItem, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

#[derive(Debug)]
pub enum Popup {
    Palette(Picker),
    Help {
        scroll: u16,
    },
    /// Asks for text, then runs `then` with the text appended.
    Prompt {
        title: String,
        input: String,
        then: String,
        /// Run instead when Enter is pressed on an empty prompt.
        on_empty: Option<String>,
    },
    Message {
        title: String,
        text: String,
    },
    /// A fuzzy list (files, SQL history); the choice goes to `then`.
    Pick {
        title: String,
        picker: Picker,
        then: PickThen,
    },
    /// A yes/no question about something the model proposed: nothing happens without `y`.
    Confirm {
        title: String,
        text: String,
        yes: Confirmed,
    },
}

/// What a `Confirm` popup does on yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Type `text` into terminal pane `pane` (not run: no Enter is sent).
    TypeInto { pane: u64, text: String },
    /// Run `sql` from SQL editor `editor` (it changes data or schema).
    RunSql { editor: u64, sql: String },
    /// Delete chat session `id`, shown in chat pane `pane`.
    DeleteChat { pane: u64, id: i64 },
    /// Close pane `pane`, which holds running work.
    ClosePane { pane: u64 },
    /// Say yes to question `ask` from outside (an MCP client's).
    Remote { ask: u64 },
    /// Run the tool call the model made in chat pane `pane` (chat session `session`).
    ChatTool {
        pane: u64,
        session: i64,
        tool: String,
        args: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickThen {
    /// Run this action with the chosen item's text as its argument.
    Action(String),
    /// Give the focused pane the full text whose one-line form was chosen (SQL history).
    Insert(Vec<String>),
}

#[derive(Debug, PartialEq, Eq)]
pub enum PopupResult {
    Keep,
    Close,
    /// Close, then run this action text.
    Run(String),
    /// Close, then give this text to the focused pane.
    Insert(String),
    /// Close, then do what was confirmed.
    Confirm(Confirmed),
}

/// Keys every picker shares; `None` for Enter, which depends on the picker.
fn pick_keys(p: &mut Picker, k: &KeyEvent) -> Option<PopupResult> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Esc => PopupResult::Close,
        KeyCode::Char('c') if ctrl => PopupResult::Close,
        KeyCode::Enter => return None,
        KeyCode::Up => {
            p.move_by(-1);
            PopupResult::Keep
        }
        KeyCode::Char('p') if ctrl => {
            p.move_by(-1);
            PopupResult::Keep
        }
        KeyCode::Down | KeyCode::Tab => {
            p.move_by(1);
            PopupResult::Keep
        }
        KeyCode::Char('n') if ctrl => {
            p.move_by(1);
            PopupResult::Keep
        }
        KeyCode::Backspace => {
            p.pop_char();
            PopupResult::Keep
        }
        KeyCode::Char('u') if ctrl => {
            p.set_query("");
            PopupResult::Keep
        }
        KeyCode::Char(c) if !ctrl => {
            p.push_char(c);
            PopupResult::Keep
        }
        _ => PopupResult::Keep,
    })
}

/// Prompts whose text is a path (`open-file`, `export`, `index`): Tab completes it.
fn takes_path(then: &str) -> bool {
    matches!(then, "open-file" | "export" | "index")
}

/// Every entry that fits the path being typed, as the whole text it would become (a folder
/// with its `/`), sorted. Relative paths are read in `start_dir`; `~/` is home; hidden entries
/// only when asked for with a leading dot.
pub fn path_candidates(input: &str, start_dir: Option<&str>) -> Vec<String> {
    let (dir, part) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let home = std::env::var("HOME").unwrap_or_default();
    let on_disk = if let Some(rest) = dir.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{}/{dir}", start_dir.unwrap_or("."))
    };
    let Ok(entries) = std::fs::read_dir(&on_disk) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let fits = n.starts_with(part) && (part.starts_with('.') || !n.starts_with('.'));
            let slash = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                "/"
            } else {
                ""
            };
            fits.then(|| format!("{dir}{n}{slash}"))
        })
        .collect();
    out.sort();
    out
}

/// Completes the path being typed: the one entry that fits whole, or as far as every fitting
/// entry agrees. Returns the new text and, when several fit, the first few names.
pub fn complete_path(input: &str, start_dir: Option<&str>) -> (String, Vec<String>) {
    let all = path_candidates(input, start_dir);
    let dir_len = input.rfind('/').map(|i| i + 1).unwrap_or(0);
    match all.as_slice() {
        [] => (input.to_string(), Vec::new()),
        [one] => (one.clone(), Vec::new()),
        many => {
            let first = &many[0];
            let common = many.iter().fold(first.chars().count(), |len, n| {
                first
                    .chars()
                    .zip(n.chars())
                    .take_while(|(a, b)| a == b)
                    .count()
                    .min(len)
            });
            let mut list: Vec<String> = many
                .iter()
                .take(6)
                .map(|n| n[dir_len.min(n.len())..].to_string())
                .collect();
            if many.len() > 6 {
                list.push("…".into());
            }
            (first.chars().take(common).collect(), list)
        }
    }
}

/// Marks a palette entry that needs an argument: choosing it opens a prompt.
const ASK: &str = " …";

pub fn palette(keymap: &Keymap) -> Popup {
    let mut items = Vec::new();
    for info in catalogue() {
        // Not for choosing: `unbind` is for keymaps, `tool-arg` is the tool form's own step.
        if info.name == "unbind" || info.name == "tool-arg" {
            continue;
        }
        let texts: Vec<String> = match info.args {
            "" => vec![info.name.to_string()],
            "KIND" => PaneKind::ALL
                .iter()
                .filter(|k| fieldkit_panes::registry::is_built(**k))
                .map(|k| format!("open {}", k.name()))
                .collect(),
            "left|right|up|down [N]" => ["left", "right", "up", "down"]
                .iter()
                .map(|d| format!("{} {d}", info.name))
                .collect(),
            // A choice (`asc|desc`): an entry per choice.
            choice if choice.contains('|') && !choice.contains('[') => choice
                .split('|')
                .map(|c| format!("{} {c}", info.name))
                .collect(),
            _ => vec![format!("{}{ASK}", info.name)],
        };
        for text in texts {
            let key = Action::parse(text.trim_end_matches(ASK))
                .ok()
                .and_then(|a| keymap.key_for(&a))
                .unwrap_or_default();
            items.push(PickerItem {
                text,
                detail: info.desc.to_string(),
                key,
            });
        }
    }
    Popup::Palette(Picker::new(items))
}

/// Text on one line, runs of whitespace as one space (how a multi-line query is listed).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn message(title: &str, text: &str) -> Popup {
    Popup::Message {
        title: title.to_string(),
        text: text.to_string(),
    }
}

impl Popup {
    /// Whether this popup's list is still being matched in the background (a large picker):
    /// it is drawn again until it is done.
    pub fn busy(&self) -> bool {
        match self {
            Popup::Palette(p) | Popup::Pick { picker: p, .. } => p.busy(),
            _ => false,
        }
    }

    pub fn on_key(&mut self, k: &KeyEvent, keymap: &Keymap) -> PopupResult {
        self.on_key_in(k, keymap, None)
    }

    /// `on_key`, with relative paths completed in `start_dir` (the client's folder).
    pub fn on_key_in(
        &mut self,
        k: &KeyEvent,
        keymap: &Keymap,
        start_dir: Option<&str>,
    ) -> PopupResult {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Popup::Palette(p) => match pick_keys(p, k) {
                Some(r) => r,
                // An action typed whole with its argument (`open-file /data/x.csv`,
                // `resize up 4`) runs as typed; one that does not parse says why.
                None if p.query().trim().contains(' ')
                    && (Action::parse(p.query().trim()).is_ok() || p.selected().is_none()) =>
                {
                    PopupResult::Run(p.query().trim().to_string())
                }
                None => match p.selected() {
                    Some(item) if item.text.ends_with(ASK) => {
                        let name = item.text.trim_end_matches(ASK).to_string();
                        *self = Popup::Prompt {
                            title: name.clone(),
                            input: String::new(),
                            then: name,
                            on_empty: None,
                        };
                        PopupResult::Keep
                    }
                    Some(item) => PopupResult::Run(item.text.clone()),
                    None => PopupResult::Keep,
                },
            },
            Popup::Help { scroll } => {
                let lines = help_lines(keymap).len() as u16;
                match k.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => PopupResult::Close,
                    KeyCode::Down | KeyCode::Char('j') => {
                        *scroll = (*scroll + 1).min(lines.saturating_sub(1));
                        PopupResult::Keep
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        *scroll = scroll.saturating_sub(1);
                        PopupResult::Keep
                    }
                    KeyCode::PageDown | KeyCode::Char(' ') => {
                        *scroll = (*scroll + 10).min(lines.saturating_sub(1));
                        PopupResult::Keep
                    }
                    KeyCode::PageUp => {
                        *scroll = scroll.saturating_sub(10);
                        PopupResult::Keep
                    }
                    KeyCode::Char('g') | KeyCode::Home => {
                        *scroll = 0;
                        PopupResult::Keep
                    }
                    _ => PopupResult::Keep,
                }
            }
            Popup::Prompt {
                title,
                input,
                then,
                on_empty,
            } => match k.code {
                KeyCode::Esc => PopupResult::Close,
                KeyCode::Char('c') if ctrl => PopupResult::Close,
                KeyCode::Enter => match on_empty {
                    Some(e) if input.trim().is_empty() => PopupResult::Run(e.clone()),
                    _ => PopupResult::Run(format!("{then} {}", input.trim())),
                },
                KeyCode::Backspace => {
                    input.pop();
                    PopupResult::Keep
                }
                // Paths complete with Tab, as in a shell.
                KeyCode::Tab if takes_path(then) => {
                    let (done, matches) = complete_path(input, start_dir);
                    *input = done;
                    let base = title.split(" · ").next().unwrap_or_default().to_string();
                    *title = match matches.len() {
                        0 | 1 => base,
                        n => format!("{base} · {n}: {}", matches.join(" ")),
                    };
                    PopupResult::Keep
                }
                KeyCode::Char('u') if ctrl => {
                    input.clear();
                    PopupResult::Keep
                }
                KeyCode::Char(c) if !ctrl && input.chars().count() < 200 => {
                    input.push(c);
                    PopupResult::Keep
                }
                _ => PopupResult::Keep,
            },
            Popup::Confirm { yes, .. } => match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    PopupResult::Confirm(yes.clone())
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    PopupResult::Close
                }
                KeyCode::Char('c') if ctrl => PopupResult::Close,
                _ => PopupResult::Keep,
            },
            Popup::Message { .. } => match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char(' ') => {
                    PopupResult::Close
                }
                _ => PopupResult::Keep,
            },
            Popup::Pick { picker, then, .. } => match pick_keys(picker, k) {
                Some(r) => r,
                None => match (picker.selected(), then) {
                    (Some(item), PickThen::Action(a)) => {
                        PopupResult::Run(format!("{a} {}", item.text))
                    }
                    (Some(item), PickThen::Insert(full)) => PopupResult::Insert(
                        full.iter()
                            .find(|f| one_line(f) == item.text)
                            .cloned()
                            .unwrap_or_else(|| item.text.clone()),
                    ),
                    (None, _) => PopupResult::Keep,
                },
            },
        }
    }

    /// What the popup's keys do, for the hint bar while it is open.
    pub fn hints(&self) -> Vec<fieldkit_panes::Hint> {
        let h = fieldkit_panes::Hint::new;
        match self {
            Popup::Palette(_) => vec![h("Enter", "run"), h("Up Down", "choose"), h("Esc", "close")],
            Popup::Pick { .. } => vec![
                h("Enter", "take"),
                h("Up Down", "choose"),
                h("Esc", "close"),
            ],
            Popup::Help { .. } => vec![h("j k", "scroll"), h("Space", "page"), h("Esc", "close")],
            Popup::Prompt { .. } => vec![h("Enter", "ok"), h("C-u", "clear"), h("Esc", "cancel")],
            Popup::Message { .. } => vec![h("Esc", "close")],
            Popup::Confirm { .. } => vec![h("y", "yes"), h("n", "no")],
        }
    }

    /// Draws the popup over `area`; returns where the text cursor goes, if anywhere.
    pub fn render(
        &mut self,
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
        keymap: &Keymap,
    ) -> Option<Position> {
        if area.width < 8 || area.height < 3 {
            return None;
        }
        match self {
            Popup::Palette(p) => {
                let rect = centered(area, 72, 18);
                let inner = frame(rect, "command palette", theme, buf);
                let (x, y) = p.render(inner, buf, theme);
                Some(Position::new(x, y))
            }
            Popup::Pick { title, picker, .. } => {
                let rect = centered(area, 90, 20);
                let inner = frame(rect, title, theme, buf);
                let (x, y) = picker.render(inner, buf, theme);
                Some(Position::new(x, y))
            }
            Popup::Help { scroll } => {
                let rect = centered(area, 76, area.height.saturating_sub(2).max(3));
                let inner = frame(rect, "help · j/k scroll · Esc close", theme, buf);
                let lines = help_lines(keymap);
                let styled: Vec<Line> = lines
                    .into_iter()
                    .map(|l| match l {
                        HelpLine::Heading(h) => Line::from(Span::styled(h, theme.heading())),
                        HelpLine::Entry(k, d) => Line::from(vec![
                            Span::styled(
                                format!("  {k:<16}"),
                                Style::new().fg(theme.hint_key).add_modifier(Modifier::BOLD),
                            ),
                            Span::styled(d, Style::new().fg(theme.fg)),
                        ]),
                        HelpLine::Blank => Line::default(),
                    })
                    .collect();
                Paragraph::new(styled)
                    .style(theme.popup())
                    .scroll((*scroll, 0))
                    .render(inner, buf);
                None
            }
            Popup::Prompt { title, input, .. } => {
                let rect = centered(area, 60, 3);
                let inner = frame(rect, title, theme, buf);
                let shown: String = {
                    let n = input.chars().count();
                    let w = inner.width.saturating_sub(3) as usize;
                    input.chars().skip(n.saturating_sub(w)).collect()
                };
                buf.set_string(inner.x, inner.y, "› ", theme.heading());
                buf.set_stringn(
                    inner.x + 2,
                    inner.y,
                    &shown,
                    inner.width.saturating_sub(2) as usize,
                    theme.popup(),
                );
                Some(Position::new(
                    (inner.x + 2 + shown.chars().count() as u16)
                        .min(inner.right().saturating_sub(1)),
                    inner.y,
                ))
            }
            Popup::Confirm { title, text, .. } => {
                let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
                let width = (longest + 4).clamp(40, area.width.saturating_sub(4).max(40));
                let inner_w = width.saturating_sub(2).max(1);
                let rows: u16 = text
                    .lines()
                    .map(|l| (l.chars().count() as u16).div_ceil(inner_w).max(1))
                    .sum();
                let rect = centered(area, width, rows + 4);
                let inner = frame(rect, title, theme, buf);
                let mut body: Vec<Line> = text
                    .lines()
                    .map(|l| Line::from(Span::styled(l.to_string(), Style::new().fg(theme.fg))))
                    .collect();
                body.push(Line::default());
                body.push(Line::from(vec![
                    Span::styled(
                        "y",
                        Style::new().fg(theme.hint_key).add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(" / Enter: yes    ", theme.muted()),
                    Span::styled(
                        "n",
                        Style::new().fg(theme.hint_key).add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(" / Esc: no", theme.muted()),
                ]));
                Paragraph::new(body)
                    .wrap(Wrap { trim: false })
                    .style(theme.popup())
                    .render(inner, buf);
                None
            }
            Popup::Message { title, text } => {
                // Each line of the text is its own line (a list of problems stays a list),
                // wrapped to the popup's width; the height counts the wrapped lines.
                let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
                let width = (longest as u16 + 4).clamp(30, 96).min(area.width.max(4));
                let room = width.saturating_sub(4).max(1) as usize;
                let rows: usize = text
                    .lines()
                    .map(|l| l.chars().count().div_ceil(room).max(1))
                    .sum();
                let lines = rows as u16 + 2;
                let rect = centered(area, width, lines + 3);
                let inner = frame(rect, title, theme, buf);
                let mut body: Vec<Line> = text
                    .lines()
                    .map(|l| Line::from(Span::styled(l.to_string(), Style::new().fg(theme.fg))))
                    .collect();
                body.push(Line::default());
                body.push(Line::from(Span::styled(
                    "Enter or Esc to close",
                    theme.muted(),
                )));
                Paragraph::new(body)
                    .wrap(Wrap { trim: true })
                    .style(theme.popup())
                    .render(inner, buf);
                None
            }
        }
    }
}

pub enum HelpLine {
    Heading(String),
    Entry(String, String),
    Blank,
}

/// Help, generated from the keymap: every scope, then the keys inside popups.
pub fn help_lines(keymap: &Keymap) -> Vec<HelpLine> {
    let mut out = vec![
        HelpLine::Heading(format!(
            "Prefix key: {}  (press it, then one of the prefix keys)",
            keymap.prefix
        )),
        HelpLine::Blank,
    ];
    let mut scopes = vec![Scope::Always, Scope::Prefix, Scope::Global];
    scopes.extend(PaneKind::ALL.iter().map(|k| Scope::Pane(*k)));
    for scope in scopes {
        let bindings: Vec<_> = keymap.scope(scope).collect();
        if bindings.is_empty() {
            continue;
        }
        out.push(HelpLine::Heading(match scope {
            Scope::Always => "Everywhere, terminals too".to_string(),
            Scope::Prefix => "After the prefix".to_string(),
            Scope::Global => "Everywhere but terminals".to_string(),
            Scope::Pane(k) => format!("In a {} pane", k.name()),
        }));
        for b in bindings {
            out.push(HelpLine::Entry(
                b.keys_label(keymap.prefix),
                format!("{}  ({})", b.desc, b.action),
            ));
        }
        out.push(HelpLine::Blank);
    }
    out.push(HelpLine::Heading("In the palette and prompts".into()));
    for (k, d) in [
        ("type", "filter / enter text"),
        ("Up Down C-p C-n", "move"),
        ("Enter", "run / accept"),
        ("Esc", "close"),
    ] {
        out.push(HelpLine::Entry(k.into(), d.into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEvent, KeyModifiers};

    fn typed(p: &mut Popup, text: &str, keymap: &Keymap) -> PopupResult {
        for c in text.chars() {
            p.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), keymap);
        }
        p.on_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), keymap)
    }

    #[test]
    fn the_palette_runs_an_action_typed_with_its_argument() {
        let keymap = Keymap::default_map();
        let mut p = palette(&keymap);
        assert_eq!(
            typed(&mut p, "open-file /data/flights.csv", &keymap),
            PopupResult::Run("open-file /data/flights.csv".into())
        );
        let mut p = palette(&keymap);
        assert_eq!(
            typed(&mut p, "resize up 4", &keymap),
            PopupResult::Run("resize up 4".into())
        );
        // Words that match entries but are no action pick the entry, as before.
        let mut p = palette(&keymap);
        assert_eq!(
            typed(&mut p, "split right", &keymap),
            PopupResult::Run("split-right".into())
        );
        // Something that is neither goes to the caller, which says why it is not run.
        let mut p = palette(&keymap);
        assert_eq!(
            typed(&mut p, "frobnicate now", &keymap),
            PopupResult::Run("frobnicate now".into())
        );
    }

    #[test]
    fn paths_complete_with_tab_as_in_a_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["flights.csv", "flags.txt", ".hidden"] {
            std::fs::write(dir.path().join(f), "x").expect("file");
        }
        std::fs::create_dir(dir.path().join("data")).expect("dir");
        let d = dir.path().to_string_lossy().into_owned();
        let at = Some(d.as_str());
        assert_eq!(complete_path("fli", at), ("flights.csv".into(), vec![]));
        assert_eq!(complete_path("d", at), ("data/".into(), vec![]));
        assert_eq!(
            complete_path("f", at),
            ("fl".into(), vec!["flags.txt".into(), "flights.csv".into()])
        );
        assert_eq!(complete_path("zz", at), ("zz".into(), vec![]));
        // Absolute paths do not depend on where the client was.
        let abs = format!("{d}/fla");
        assert_eq!(complete_path(&abs, None).0, format!("{d}/flags.txt"));
        // A prompt for a path completes on Tab and lists what fits in its title.
        let keymap = Keymap::default_map();
        let mut p = Popup::Prompt {
            title: "open-file".into(),
            input: "f".into(),
            then: "open-file".into(),
            on_empty: None,
        };
        p.on_key_in(
            &KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            &keymap,
            at,
        );
        let Popup::Prompt { title, input, .. } = &p else {
            panic!("a prompt")
        };
        assert_eq!(input, "fl");
        assert_eq!(title, "open-file · 2: flags.txt flights.csv");
    }

    #[test]
    fn palette_rows_show_the_key_bound_to_the_action_whatever_its_count() {
        let keymap = Keymap::default_map();
        let Popup::Palette(p) = palette(&keymap) else {
            panic!("a palette")
        };
        let up = p
            .matches()
            .find(|i| i.text == "resize up")
            .expect("a resize up row");
        assert!(up.key.contains("C-Up"), "{:?}", up.key);
    }
}
