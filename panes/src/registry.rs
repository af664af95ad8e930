/*!
The pane registry: one registration per kind of pane, and the only list of them.

A `PaneSpec` says everything the rest of fieldkit needs to know about a kind without looking
inside its panes: its kind (name and keymap scope), the actions it handles itself (typed verbs
with descriptions, from `verbs!`), the engines it needs (their services start and greet it when
it opens), and how to make one fresh or from saved state. A new kind of pane is its module, a
`SPEC` in it and one line in `PANES`.
*/

use crate::{ActionInfo, Engine, Pane, PaneKind, PaneState};

pub struct PaneSpec {
    pub kind: PaneKind,
    /// What the pane does itself (`Action::Pane`): joins the action catalogue.
    pub actions: &'static [ActionInfo],
    /// The engines the pane needs.
    pub engines: &'static [Engine],
    /// A fresh pane; `shell` is the command a fresh terminal runs.
    pub fresh: fn(shell: &str) -> Box<dyn Pane>,
    /// The pane back from its saved state; `None` when the state is another kind's.
    pub restore: fn(&PaneState) -> Option<Box<dyn Pane>>,
}

/// Every kind this build can open, in the order `open` lists them.
pub const PANES: &[&PaneSpec] = &[
    &crate::status::SPEC,
    &crate::term::SPEC,
    &crate::grid::SPEC,
    &crate::sql::SPEC,
    &crate::chat::SPEC,
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
    fn kinds_not_built_are_refused() {
        assert!(restore(None, PaneKind::Vault, "sh").is_none());
        assert!(!is_built(PaneKind::Mesh));
        assert!(is_built(PaneKind::Grid));
    }
}
