/*!
The pane registry: the only list of the kinds of pane, one registration each.

A `PaneSpec` (defined beside the `Pane` trait) says everything the rest of fieldkit needs to know about a kind without looking
inside its panes: its kind (name and keymap scope), the actions it handles itself (typed verbs
with descriptions, from `verbs!`), the engines it needs (their services start and greet it when
it opens), and how to make one fresh or from saved state. A new kind of pane is its module, a
`SPEC` in it and one line in `PANES`.
*/

use crate::action::{Dir, GLOBAL};
use crate::{Action, ActionInfo, Engine, Pane, PaneKind, PaneSpec, PaneState};

/// Every kind this build can open, in the order `open` lists them.
pub const PANES: &[&PaneSpec] = &[
    &crate::status::SPEC,
    &crate::term::SPEC,
    &crate::grid::SPEC,
    &crate::sql::SPEC,
    &crate::chat::SPEC,
    &crate::vault::SPEC,
    &crate::queue::SPEC,
    &crate::runs::SPEC,
    &crate::editor::SPEC,
    &crate::mesh::SPEC,
];

/// The registration of `kind`; `None` for kinds this build cannot open.
pub fn spec(kind: PaneKind) -> Option<&'static PaneSpec> {
    PANES.iter().copied().find(|s| s.kind == kind)
}

/// Whether this build can open panes of `kind`.
pub fn is_built(kind: PaneKind) -> bool {
    spec(kind).is_some()
}

/// Makes a pane of `kind` from its saved state, or a fresh one. `None` for kinds not built.
/// `shell` is the command a fresh terminal runs.
pub fn restore(state: Option<&PaneState>, kind: PaneKind, shell: &str) -> Option<Box<dyn Pane>> {
    match state {
        Some(st) => (spec(st.kind())?.restore)(st),
        None => Some((spec(kind)?.fresh)(shell)),
    }
}

/// Whether panes of `kind` take every key but the prefix.
pub fn takes_all_keys(kind: PaneKind) -> bool {
    spec(kind).is_some_and(|s| s.all_keys)
}

/// The engines panes of `kind` need (none for kinds not built).
pub fn engines(kind: PaneKind) -> &'static [Engine] {
    spec(kind).map(|s| s.engines).unwrap_or(&[])
}

/// The catalogue entry of a pane verb, if any registered pane has one by that name.
pub fn pane_verb(name: &str) -> Option<&'static ActionInfo> {
    PANES
        .iter()
        .flat_map(|s| s.actions.iter())
        .find(|a| a.name == name)
}

/// Every action: the global ones, then each registered pane's own (a verb several panes share,
/// like `cancel`, once). Help and the palette list these.
pub fn catalogue() -> &'static [&'static ActionInfo] {
    static ALL: std::sync::OnceLock<Vec<&'static ActionInfo>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<&'static ActionInfo> = GLOBAL.iter().collect();
        for spec in PANES {
            for info in spec.actions {
                if !all.iter().any(|a| a.name == info.name) {
                    all.push(info);
                }
            }
        }
        all
    })
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
                ["term", "--env", ..] => {
                    // Titles may have spaces: what follows each --env is one spec.
                    let rest = args[1..].join(" ");
                    let specs: Vec<String> = rest
                        .split("--env")
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    match specs.iter().find(|s| {
                        !s.split_once('=')
                            .is_some_and(|(n, v)| !n.is_empty() && v.starts_with("vault:"))
                    }) {
                        Some(bad) => Err(format!(
                            "open term --env {bad:?}: NAME=vault:ENTRY/FIELD, e.g. --env DB_PASS=vault:Database/password"
                        )),
                        None => Ok(Action::OpenTermEnv(specs)),
                    }
                }
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
            "even" => no_args(Action::Even),
            "reopen-pane" => no_args(Action::ReopenPane),
            "lock" => no_args(Action::Lock),
            "panic" => no_args(Action::Panic),
            "open-file" => Ok(Action::OpenFile(if args.is_empty() {
                None
            } else {
                Some(args.join(" "))
            })),
            "edit" => match args.is_empty() {
                true => Err("edit needs a path: edit PATH".into()),
                false => Ok(Action::Edit(args.join(" "))),
            },
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
            "tool" => match args.as_slice() {
                [t] => Ok(Action::Tool(t.to_string())),
                _ => Err("tool needs one PLUGIN.TOOL: tool units.convert".into()),
            },
            "tool-arg" => Ok(Action::ToolArg(args.join(" "))),
            _ => match pane_verb(name) {
                Some(info) => crate::action::pane_action(info, &args),
                None => Err(format!("unknown action {name:?}")),
            },
        }
    }

    /// The catalogue entry for this action.
    pub fn info(&self) -> &'static ActionInfo {
        let name = self.to_string();
        let first = name.split(' ').next().unwrap_or("");
        catalogue()
            .iter()
            .copied()
            .find(|a| a.name == first)
            .unwrap_or(&GLOBAL[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_registration_per_kind_and_shared_verbs_agree() {
        for (i, a) in PANES.iter().enumerate() {
            assert!(
                PANES[i + 1..].iter().all(|b| b.kind != a.kind),
                "{:?} is registered twice",
                a.kind
            );
            // Every fresh pane is of the kind it is registered for, and comes back from its
            // own saved state as that kind.
            let fresh = (a.fresh)("sh");
            assert_eq!(fresh.kind(), a.kind);
            let back = (a.restore)(&fresh.save()).expect("restores its own state");
            assert_eq!(back.kind(), a.kind);
            assert_eq!(fresh.save().kind(), a.kind);
        }
        // A verb several panes handle has one text form: the same arguments everywhere.
        let all: Vec<&ActionInfo> = PANES.iter().flat_map(|s| s.actions.iter()).collect();
        for x in &all {
            for y in &all {
                if x.name == y.name {
                    assert_eq!(x.args, y.args, "{} takes different arguments", x.name);
                }
            }
            assert!(
                crate::action::GLOBAL.iter().all(|g| g.name != x.name),
                "{} is both a global action and a pane's",
                x.name
            );
        }
    }

    #[test]
    fn every_kind_is_built_and_opens_fresh() {
        // The mesh pane was the last kind named before it was built; every kind is now.
        for k in PaneKind::ALL {
            assert!(is_built(k), "{k:?}");
            let p = restore(None, k, "sh").unwrap_or_else(|| panic!("{k:?}"));
            assert_eq!(p.kind(), k);
        }
    }
}
