/*!
Actions: what a key binding, the palette or `fieldkit action` can ask for.

Actions are data with a text form (`resize left 5`) so that keymaps, the palette, the CLI and
tests all speak the same language. `ACTIONS` is the catalogue: every name with its arguments
and a description, from which help and the palette are generated.
*/

use crate::PaneKind;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dir {
    Left,
    Right,
    Up,
    Down,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::Left => "left",
            Dir::Right => "right",
            Dir::Up => "up",
            Dir::Down => "down",
        }
    }
    pub fn from_name(s: &str) -> Option<Dir> {
        Some(match s {
            "left" => Dir::Left,
            "right" => Dir::Right,
            "up" => Dir::Up,
            "down" => Dir::Down,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SplitRight,
    SplitDown,
    ClosePane,
    FocusNext,
    FocusPrev,
    Focus(Dir),
    /// 1-based, in layout order.
    FocusPane(usize),
    Resize(Dir, u16),
    Zoom,
    SwapNext,
    SwapPrev,
    NewTab,
    NextTab,
    PrevTab,
    /// 1-based.
    SelectTab(usize),
    /// Without a name, asks for one.
    RenameTab(Option<String>),
    CloseTab,
    Open(PaneKind),
    Detach,
    Palette,
    Help,
    ReloadConfig,
    KillSession,
    /// Sends the prefix key itself to the focused pane.
    SendPrefix,
    /// Pane-level: fetch fresh data now.
    Refresh,
    /// Terminal: browse the scrollback, search, select and yank.
    CopyMode,
    /// Paste the most recent yank into the focused pane.
    PasteBuffer,
    /// Removes a binding in a user keymap.
    Unbind,
    /// Opens a data file in a grid pane; without a path, a file picker.
    OpenFile(Option<String>),
    /// Gives the chat beside the focused pane what that pane shows.
    AttachContext,
    /// Asks the model for a shell command for the focused terminal; without text, a prompt.
    AskShell(Option<String>),
    /// Indexes a folder for retrieval; without a path, the focused terminal's folder.
    Index(Option<String>),
    /// An action the focused pane handles itself (`sort desc`, `run statement`): the name is
    /// the catalogue's, the argument checked against it.
    Pane {
        name: &'static str,
        arg: Option<String>,
    },
}

/// A catalogue entry: the action's name, its arguments, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub name: &'static str,
    pub args: &'static str,
    pub desc: &'static str,
}

macro_rules! catalogue {
    ($(($name:literal, $args:literal, $desc:literal)),* $(,)?) => {
        pub const ACTIONS: &[ActionInfo] = &[$(ActionInfo { name: $name, args: $args, desc: $desc }),*];
    };
}

catalogue![
    ("split-right", "", "Split the pane, new pane on the right"),
    ("split-down", "", "Split the pane, new pane below"),
    ("close-pane", "", "Close the focused pane"),
    ("focus-next", "", "Focus the next pane"),
    ("focus-prev", "", "Focus the previous pane"),
    ("focus-left", "", "Focus the pane to the left"),
    ("focus-right", "", "Focus the pane to the right"),
    ("focus-up", "", "Focus the pane above"),
    ("focus-down", "", "Focus the pane below"),
    ("focus-pane", "N", "Focus pane number N"),
    (
        "resize",
        "left|right|up|down [N]",
        "Move the pane's border N cells (default 2)"
    ),
    (
        "zoom",
        "",
        "Zoom the focused pane to the whole tab, or back"
    ),
    ("swap-next", "", "Swap the pane with the next one"),
    ("swap-prev", "", "Swap the pane with the previous one"),
    ("new-tab", "", "Open a new tab"),
    ("next-tab", "", "Go to the next tab"),
    ("prev-tab", "", "Go to the previous tab"),
    ("select-tab", "N", "Go to tab number N"),
    ("rename-tab", "[NAME]", "Rename the tab"),
    ("close-tab", "", "Close the tab and its panes"),
    (
        "open",
        "KIND",
        "Open a pane of KIND in a split (status, term, grid, ...)"
    ),
    ("detach", "", "Detach; the session keeps running"),
    ("palette", "", "Open the command palette"),
    ("help", "", "Show every key binding"),
    ("reload-config", "", "Reload config, keymap and theme"),
    ("kill-session", "", "End this session and forget it"),
    ("send-prefix", "", "Send the prefix key to the pane"),
    ("refresh", "", "Refresh the pane's data now"),
    (
        "copy-mode",
        "",
        "Terminal: scroll back, search, select, yank"
    ),
    ("paste-buffer", "", "Paste the last yank into the pane"),
    ("unbind", "", "Remove a binding (user keymaps)"),
    (
        "open-file",
        "[PATH]",
        "Open a data file (CSV, TSV, Parquet, JSON, XLSX) in a grid"
    ),
    (
        "move",
        "up|down|left|right|top|bottom|page-up|page-down|home|end",
        "Grid: move the cursor"
    ),
    (
        "sort",
        "asc|desc",
        "Grid: sort by this column (again: unsorted)"
    ),
    (
        "filter",
        "[EXPR]",
        "Grid: keep rows where a SQL expression holds (empty: all)"
    ),
    ("filter-cell", "", "Grid: keep rows equal to this cell"),
    ("filter-clear", "", "Grid: show every row again"),
    ("stats", "", "Grid: column statistics (SUMMARIZE)"),
    ("freq", "", "Grid: frequency table of this column"),
    ("inspect", "", "Grid: the whole cell; JSON pretty-printed"),
    ("copy-cell", "", "Grid: copy the cell to the clipboard"),
    ("copy-row", "", "Grid: copy the row (tab-separated)"),
    (
        "export",
        "[PATH]",
        "Grid: write the result to .csv, .tsv, .parquet or .json"
    ),
    (
        "plot",
        "",
        "Grid: histogram of a number column, bar chart of others"
    ),
    (
        "plot-line",
        "",
        "Grid: line chart of the marked column (x) and this one (y)"
    ),
    ("mark", "", "Grid: mark this column as the x axis"),
    (
        "cancel",
        "",
        "Stop the running query or load, or close an overlay"
    ),
    (
        "run",
        "statement|all",
        "SQL: run the selection or the statement at the cursor, or all"
    ),
    ("sql-history", "", "SQL: search earlier queries"),
    (
        "ask-data",
        "[QUESTION]",
        "SQL: ask the data in plain English; the model's SQL runs read-only"
    ),
    ("complete", "", "SQL: complete the word at the cursor"),
    ("buffer", "new|next|prev|close", "SQL: editor buffers"),
    ("catalog", "", "SQL: show or hide the catalog tree"),
    (
        "dialect",
        "duckdb|postgres|mysql|bigquery|redshift",
        "SQL: the dialect the editor's SQL is written in"
    ),
    ("send", "", "Chat: send the message"),
    ("newline", "", "Chat: a new line in the message"),
    ("regenerate", "", "Chat: answer the last question again"),
    (
        "copy-code",
        "",
        "Chat: copy the last code block (again: the one before)"
    ),
    ("chat-sessions", "", "Chat: switch to another chat session"),
    ("chat-open", "[ID]", "Chat: show chat session ID (#12)"),
    ("chat-new", "", "Chat: start a new chat session"),
    ("chat-rename", "[NAME]", "Chat: rename this chat session"),
    ("chat-delete", "", "Chat: delete this chat session"),
    (
        "chat-search",
        "[TEXT]",
        "Chat: find chat sessions by what was said"
    ),
    (
        "system-prompt",
        "[TEXT]",
        "Chat: set this session's system prompt"
    ),
    ("attachments", "", "Chat: open or fold the attachments"),
    (
        "retrieval",
        "",
        "Chat: add passages from the index to questions (on/off)"
    ),
    (
        "model",
        "[NAME]",
        "Chat: answer with another registered model"
    ),
    (
        "scroll",
        "up|down|page-up|page-down|top|bottom",
        "Chat: scroll the conversation"
    ),
    (
        "attach-context",
        "",
        "Attach the focused pane's context to the chat beside it"
    ),
    (
        "ask-shell",
        "[REQUEST]",
        "Terminal: ask the model for a command; typed in only if you confirm"
    ),
    (
        "index",
        "[PATH]",
        "Index a folder's text and code for the chat's retrieval"
    ),
];

/// Catalogue names that the focused pane handles (`Action::Pane`).
const PANE_ACTIONS: &[&str] = &[
    "move",
    "sort",
    "filter",
    "filter-cell",
    "filter-clear",
    "stats",
    "freq",
    "inspect",
    "copy-cell",
    "copy-row",
    "export",
    "plot",
    "plot-line",
    "mark",
    "cancel",
    "run",
    "sql-history",
    "complete",
    "buffer",
    "catalog",
    "dialect",
    "ask-data",
    "send",
    "newline",
    "regenerate",
    "copy-code",
    "chat-sessions",
    "chat-open",
    "chat-new",
    "chat-rename",
    "chat-delete",
    "chat-search",
    "system-prompt",
    "attachments",
    "retrieval",
    "model",
    "scroll",
];

/// Checks a pane action's arguments against its catalogue entry.
fn pane_action(info: &'static ActionInfo, args: &[&str]) -> Result<Action, String> {
    let name = info.name;
    let spec = info.args;
    let arg = if args.is_empty() {
        None
    } else {
        Some(args.join(" "))
    };
    if spec.is_empty() {
        return match arg {
            None => Ok(Action::Pane { name, arg: None }),
            Some(_) => Err(format!("{name} takes no arguments")),
        };
    }
    if spec.starts_with('[') {
        return Ok(Action::Pane { name, arg });
    }
    // A choice: `asc|desc`.
    match arg {
        Some(a) if spec.split('|').any(|c| c == a) => Ok(Action::Pane { name, arg: Some(a) }),
        Some(a) => Err(format!("{name}: {a:?} is not one of {spec}")),
        None => Err(format!("{name} needs one of {spec}")),
    }
}

impl Action {
    /// Parses the text form, e.g. `split-right`, `resize left 5`, `open status`.
    pub fn parse(s: &str) -> Result<Action, String> {
        let mut words = s.split_whitespace();
        let name = words.next().ok_or("empty action")?;
        let args: Vec<&str> = words.collect();
        let no_args = |a: Action| {
            if args.is_empty() {
                Ok(a)
            } else {
                Err(format!("{name} takes no arguments"))
            }
        };
        let number = |what: &str| -> Result<usize, String> {
            match args.as_slice() {
                [n] => n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(format!("{name}: {what} must be a number from 1, not {n:?}")),
                _ => Err(format!("{name} takes one argument: {what}")),
            }
        };
        match name {
            "split-right" => no_args(Action::SplitRight),
            "split-down" => no_args(Action::SplitDown),
            "close-pane" => no_args(Action::ClosePane),
            "focus-next" => no_args(Action::FocusNext),
            "focus-prev" => no_args(Action::FocusPrev),
            "focus-left" => no_args(Action::Focus(Dir::Left)),
            "focus-right" => no_args(Action::Focus(Dir::Right)),
            "focus-up" => no_args(Action::Focus(Dir::Up)),
            "focus-down" => no_args(Action::Focus(Dir::Down)),
            "focus-pane" => number("N").map(Action::FocusPane),
            "resize" => {
                let dir = args
                    .first()
                    .and_then(|d| Dir::from_name(d))
                    .ok_or("resize needs a direction: left, right, up or down")?;
                let n = match args.get(1) {
                    None => 2,
                    Some(n) => n
                        .parse::<u16>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or(format!("resize: {n:?} is not a number of cells"))?,
                };
                if args.len() > 2 {
                    return Err("resize takes a direction and a number".into());
                }
                Ok(Action::Resize(dir, n))
            }
            "zoom" => no_args(Action::Zoom),
            "swap-next" => no_args(Action::SwapNext),
            "swap-prev" => no_args(Action::SwapPrev),
            "new-tab" => no_args(Action::NewTab),
            "next-tab" => no_args(Action::NextTab),
            "prev-tab" => no_args(Action::PrevTab),
            "select-tab" => number("N").map(Action::SelectTab),
            "rename-tab" => Ok(Action::RenameTab(if args.is_empty() {
                None
            } else {
                Some(args.join(" "))
            })),
            "close-tab" => no_args(Action::CloseTab),
            "open" => match args.as_slice() {
                [k] => PaneKind::from_name(k).map(Action::Open).ok_or(format!(
                    "open: unknown pane kind {k:?} (one of: {})",
                    PaneKind::ALL.map(|k| k.name()).join(", ")
                )),
                _ => Err("open takes one argument: the pane kind".into()),
            },
            "detach" => no_args(Action::Detach),
            "palette" => no_args(Action::Palette),
            "help" => no_args(Action::Help),
            "reload-config" => no_args(Action::ReloadConfig),
            "kill-session" => no_args(Action::KillSession),
            "send-prefix" => no_args(Action::SendPrefix),
            "refresh" => no_args(Action::Refresh),
            "copy-mode" => no_args(Action::CopyMode),
            "paste-buffer" => no_args(Action::PasteBuffer),
            "unbind" => no_args(Action::Unbind),
            "open-file" => Ok(Action::OpenFile(if args.is_empty() {
                None
            } else {
                Some(args.join(" "))
            })),
            "attach-context" => no_args(Action::AttachContext),
            "ask-shell" => Ok(Action::AskShell(if args.is_empty() {
                None
            } else {
                Some(args.join(" "))
            })),
            "index" => Ok(Action::Index(if args.is_empty() {
                None
            } else {
                Some(args.join(" "))
            })),
            _ => match ACTIONS
                .iter()
                .find(|a| a.name == name && PANE_ACTIONS.contains(&a.name))
            {
                Some(info) => pane_action(info, &args),
                None => Err(format!("unknown action {name:?}")),
            },
        }
    }

    /// The catalogue entry for this action.
    pub fn info(&self) -> &'static ActionInfo {
        let name = self.to_string();
        let first = name.split(' ').next().unwrap_or("");
        ACTIONS
            .iter()
            .find(|a| a.name == first)
            .unwrap_or(&ACTIONS[0])
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SplitRight => f.write_str("split-right"),
            Action::SplitDown => f.write_str("split-down"),
            Action::ClosePane => f.write_str("close-pane"),
            Action::FocusNext => f.write_str("focus-next"),
            Action::FocusPrev => f.write_str("focus-prev"),
            Action::Focus(d) => write!(f, "focus-{}", d.name()),
            Action::FocusPane(n) => write!(f, "focus-pane {n}"),
            Action::Resize(d, n) => write!(f, "resize {} {n}", d.name()),
            Action::Zoom => f.write_str("zoom"),
            Action::SwapNext => f.write_str("swap-next"),
            Action::SwapPrev => f.write_str("swap-prev"),
            Action::NewTab => f.write_str("new-tab"),
            Action::NextTab => f.write_str("next-tab"),
            Action::PrevTab => f.write_str("prev-tab"),
            Action::SelectTab(n) => write!(f, "select-tab {n}"),
            Action::RenameTab(None) => f.write_str("rename-tab"),
            Action::RenameTab(Some(n)) => write!(f, "rename-tab {n}"),
            Action::CloseTab => f.write_str("close-tab"),
            Action::Open(k) => write!(f, "open {}", k.name()),
            Action::Detach => f.write_str("detach"),
            Action::Palette => f.write_str("palette"),
            Action::Help => f.write_str("help"),
            Action::ReloadConfig => f.write_str("reload-config"),
            Action::KillSession => f.write_str("kill-session"),
            Action::SendPrefix => f.write_str("send-prefix"),
            Action::Refresh => f.write_str("refresh"),
            Action::CopyMode => f.write_str("copy-mode"),
            Action::PasteBuffer => f.write_str("paste-buffer"),
            Action::Unbind => f.write_str("unbind"),
            Action::OpenFile(None) => f.write_str("open-file"),
            Action::OpenFile(Some(p)) => write!(f, "open-file {p}"),
            Action::AttachContext => f.write_str("attach-context"),
            Action::AskShell(None) => f.write_str("ask-shell"),
            Action::AskShell(Some(r)) => write!(f, "ask-shell {r}"),
            Action::Index(None) => f.write_str("index"),
            Action::Index(Some(p)) => write!(f, "index {p}"),
            Action::Pane { name, arg: None } => f.write_str(name),
            Action::Pane { name, arg: Some(a) } => write!(f, "{name} {a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for s in [
            "split-right",
            "resize left 5",
            "focus-pane 3",
            "open status",
            "rename-tab logs and data",
            "select-tab 2",
            "focus-down",
            "sort desc",
            "filter amount > 3 and x = 'a b'",
            "open-file /tmp/data.csv",
            "run all",
            "stats",
        ] {
            let a = Action::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(a.to_string(), s);
        }
        assert_eq!(Action::parse("resize up"), Ok(Action::Resize(Dir::Up, 2)));
    }

    #[test]
    fn bad_actions_say_what_is_wrong() {
        assert_eq!(
            Action::parse("spilt-right"),
            Err("unknown action \"spilt-right\"".into())
        );
        assert!(Action::parse("resize sideways")
            .unwrap_err()
            .contains("direction"));
        assert!(Action::parse("focus-pane 0")
            .unwrap_err()
            .contains("number from 1"));
        assert!(Action::parse("open nothing")
            .unwrap_err()
            .contains("unknown pane kind"));
        assert!(Action::parse("zoom 3")
            .unwrap_err()
            .contains("no arguments"));
        assert!(Action::parse("").is_err());
        assert!(Action::parse("sort up").unwrap_err().contains("asc|desc"));
        assert!(Action::parse("stats now")
            .unwrap_err()
            .contains("no arguments"));
    }

    #[test]
    fn every_catalogue_entry_parses() {
        for info in ACTIONS {
            let example = match info.args {
                "" | "[NAME]" | "[PATH]" | "[EXPR]" => info.name.to_string(),
                choice if choice.contains('|') && !choice.contains('[') => {
                    format!("{} {}", info.name, choice.split('|').next().unwrap_or(""))
                }
                "N" => format!("{} 1", info.name),
                "KIND" => "open status".into(),
                _ => format!("{} left", info.name),
            };
            let a = Action::parse(&example).unwrap_or_else(|e| panic!("{example}: {e}"));
            assert_eq!(a.info().name, info.name);
        }
    }
}
