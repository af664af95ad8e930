/*!
Actions: what a key binding, the palette or `fieldkit action` can ask for.

Actions are data with a text form (`resize left 5`) so that keymaps, the palette, the CLI and
tests all speak the same language. `catalogue()` is every name with its arguments and a
description, from which help and the palette are generated: the global actions here, and what
each kind of pane does itself, declared beside that pane with `verbs!` and joined through the
registry (`crate::registry`, which also parses the text form, since it knows every pane's verbs).
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
    /// Evens out the panes of the tab.
    Even,
    /// Brings back the most recently closed pane (an editor with its buffers).
    ReopenPane,
    /// Locks the vault (its keys and entries wiped from memory).
    Lock,
    /// A terminal whose shell has secrets from the vault in its environment (and nowhere
    /// else): `open term --env NAME=vault:ENTRY/FIELD ...`.
    OpenTermEnv(Vec<String>),
    /// Panic: lock and wipe the vault, clear every pane and scrollback, blank every screen.
    Panic,
    /// Opens a data file in a grid pane (any other file in the editor); without a path, a
    /// file picker.
    OpenFile(Option<String>),
    /// Opens a file in the editor (the focused one, one in the tab, or a new one beside).
    Edit(String),
    /// Gives the chat beside the focused pane what that pane shows.
    AttachContext,
    /// Asks the model for a shell command for the focused terminal; without text, a prompt.
    AskShell(Option<String>),
    /// Indexes a folder for retrieval; without a path, the focused terminal's folder.
    Index(Option<String>),
    /// Calls a plugin's tool (`PLUGIN.TOOL`), asking for its arguments in a form first.
    Tool(String),
    /// The answer to the form's current question (the next argument of a tool).
    ToolArg(String),
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

/// Declares the actions one kind of pane handles itself: a typed verb per action, with its
/// text name, its arguments (`""`, `[TEXT]`, or a choice `a|b`) and a description. The pane
/// matches on the verb (`GridVerb::of(action)`); help, the palette and parsing read
/// `CATALOGUE`, which the registry joins into the whole catalogue.
#[macro_export]
macro_rules! verbs {
    ($(#[$m:meta])* $vis:vis enum $name:ident {
        $($(#[$vm:meta])* $variant:ident = ($verb:literal, $args:expr, $desc:expr)),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            pub const CATALOGUE: &'static [$crate::ActionInfo] =
                &[$($crate::ActionInfo { name: $verb, args: $args, desc: $desc }),*];

            /// The verb and argument of `a`, when `a` is one of these actions.
            pub fn of(a: &$crate::Action) -> Option<(Self, Option<&str>)> {
                let $crate::Action::Pane { name, arg } = a else {
                    return None;
                };
                let verb = match *name {
                    $($verb => $name::$variant,)*
                    _ => return None,
                };
                Some((verb, arg.as_deref()))
            }
        }
    };
}

/// `cancel`, which every pane with running work or an overlay understands.
pub const CANCEL: &str = "Stop the running query or load, or close an overlay";
/// The arguments of `move`.
pub const MOVES: &str = "up|down|left|right|top|bottom|page-up|page-down|home|end";

/// Actions the server (or any pane) handles: layout, tabs, sessions and the shared verbs.
/// What a single kind of pane does is declared with that pane (`verbs!`) and joins the
/// catalogue through the registry.
pub const GLOBAL: &[ActionInfo] = &[
    ActionInfo {
        name: "split-right",
        args: "",
        desc: "Split the pane, new pane on the right",
    },
    ActionInfo {
        name: "split-down",
        args: "",
        desc: "Split the pane, new pane below",
    },
    ActionInfo {
        name: "close-pane",
        args: "",
        desc: "Close the focused pane",
    },
    ActionInfo {
        name: "focus-next",
        args: "",
        desc: "Focus the next pane",
    },
    ActionInfo {
        name: "focus-prev",
        args: "",
        desc: "Focus the previous pane",
    },
    ActionInfo {
        name: "focus-left",
        args: "",
        desc: "Focus the pane to the left",
    },
    ActionInfo {
        name: "focus-right",
        args: "",
        desc: "Focus the pane to the right",
    },
    ActionInfo {
        name: "focus-up",
        args: "",
        desc: "Focus the pane above",
    },
    ActionInfo {
        name: "focus-down",
        args: "",
        desc: "Focus the pane below",
    },
    ActionInfo {
        name: "focus-pane",
        args: "N",
        desc: "Focus pane number N",
    },
    ActionInfo {
        name: "resize",
        args: "left|right|up|down [N]",
        desc: "Move the pane's border N cells (default 2)",
    },
    ActionInfo {
        name: "zoom",
        args: "",
        desc: "Zoom the focused pane to the whole tab, or back",
    },
    ActionInfo {
        name: "lock",
        args: "",
        desc: "Lock the vault now (its keys and entries are wiped from memory)",
    },
    ActionInfo {
        name: "panic",
        args: "",
        desc: "Panic: lock and wipe the vault, clear every pane and scrollback, blank every screen",
    },
    ActionInfo {
        name: "reopen-pane",
        args: "",
        desc: "Bring back the pane closed last (an editor with its text)",
    },
    ActionInfo {
        name: "even",
        args: "",
        desc: "Even out the panes of this tab",
    },
    ActionInfo {
        name: "swap-next",
        args: "",
        desc: "Swap the pane with the next one",
    },
    ActionInfo {
        name: "swap-prev",
        args: "",
        desc: "Swap the pane with the previous one",
    },
    ActionInfo {
        name: "new-tab",
        args: "",
        desc: "Open a new tab",
    },
    ActionInfo {
        name: "next-tab",
        args: "",
        desc: "Go to the next tab",
    },
    ActionInfo {
        name: "prev-tab",
        args: "",
        desc: "Go to the previous tab",
    },
    ActionInfo {
        name: "select-tab",
        args: "N",
        desc: "Go to tab number N",
    },
    ActionInfo {
        name: "rename-tab",
        args: "[NAME]",
        desc: "Rename the tab",
    },
    ActionInfo {
        name: "close-tab",
        args: "",
        desc: "Close the tab and its panes",
    },
    ActionInfo {
        name: "open",
        args: "KIND",
        desc: "Open a pane of KIND in a split (status, term, grid, ...)",
    },
    ActionInfo {
        name: "detach",
        args: "",
        desc: "Detach; the session keeps running",
    },
    ActionInfo {
        name: "palette",
        args: "",
        desc: "Open the command palette",
    },
    ActionInfo {
        name: "help",
        args: "",
        desc: "Show every key binding",
    },
    ActionInfo {
        name: "reload-config",
        args: "",
        desc: "Reload config, keymap and theme",
    },
    ActionInfo {
        name: "kill-session",
        args: "",
        desc: "End this session and forget it",
    },
    ActionInfo {
        name: "send-prefix",
        args: "",
        desc: "Send the prefix key to the pane",
    },
    ActionInfo {
        name: "refresh",
        args: "",
        desc: "Refresh the pane's data now",
    },
    ActionInfo {
        name: "copy-mode",
        args: "",
        desc: "Terminal: scroll back, search, select, yank",
    },
    ActionInfo {
        name: "paste-buffer",
        args: "",
        desc: "Paste the last yank into the pane",
    },
    ActionInfo {
        name: "unbind",
        args: "",
        desc: "Remove a binding (user keymaps)",
    },
    ActionInfo {
        name: "open-file",
        args: "[PATH]",
        desc: "Open a data file (CSV, TSV, Parquet, JSON, XLSX) in a grid, any other in the editor",
    },
    ActionInfo {
        name: "edit",
        args: "PATH",
        desc: "Open a file in the editor",
    },
    ActionInfo {
        name: "attach-context",
        args: "",
        desc: "Attach the focused pane's context to the chat beside it",
    },
    ActionInfo {
        name: "ask-shell",
        args: "[REQUEST]",
        desc: "Terminal: ask the model for a command; typed in only if you confirm",
    },
    ActionInfo {
        name: "index",
        args: "[PATH]",
        desc: "Index a folder's text and code for the chat's retrieval",
    },
    ActionInfo {
        name: "tool",
        args: "PLUGIN.TOOL",
        desc: "Call a plugin's tool (its arguments asked in a form)",
    },
    ActionInfo {
        name: "tool-arg",
        args: "[VALUE]",
        desc: "The next argument of the tool being called (the form types it)",
    },
];

/// Checks a pane action's arguments against its catalogue entry.
pub(crate) fn pane_action(info: &'static ActionInfo, args: &[&str]) -> Result<Action, String> {
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
            Action::OpenTermEnv(specs) => {
                f.write_str("open term")?;
                for s in specs {
                    write!(f, " --env {s}")?;
                }
                Ok(())
            }
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
            Action::Even => f.write_str("even"),
            Action::ReopenPane => f.write_str("reopen-pane"),
            Action::Lock => f.write_str("lock"),
            Action::Panic => f.write_str("panic"),
            Action::OpenFile(None) => f.write_str("open-file"),
            Action::OpenFile(Some(p)) => write!(f, "open-file {p}"),
            Action::Edit(p) => write!(f, "edit {p}"),
            Action::AttachContext => f.write_str("attach-context"),
            Action::AskShell(None) => f.write_str("ask-shell"),
            Action::AskShell(Some(r)) => write!(f, "ask-shell {r}"),
            Action::Index(None) => f.write_str("index"),
            Action::Index(Some(p)) => write!(f, "index {p}"),
            Action::Tool(t) => write!(f, "tool {t}"),
            Action::ToolArg(v) if v.is_empty() => f.write_str("tool-arg"),
            Action::ToolArg(v) => write!(f, "tool-arg {v}"),
            Action::Pane { name, arg: None } => f.write_str(name),
            Action::Pane { name, arg: Some(a) } => write!(f, "{name} {a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

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
        for info in catalogue() {
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
