//! The session's tests: layout actions, placement and minimum sizes, numbers, reopening, save and restore.
use super::*;

#[test]
fn layout_actions_and_round_trip() {
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (80, 24), "sh");
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    s.apply(&Action::SplitDown, &mut ids).expect("split");
    assert_eq!(s.pane_count(), 3);
    assert_eq!(s.focused(), 3);
    s.dir_focus(Dir::Left, &mut ids);
    assert_eq!(s.focused(), 1);
    s.apply(&Action::NewTab, &mut ids).expect("tab");
    s.apply(&Action::RenameTab(Some("logs".into())), &mut ids)
        .expect("rename");
    assert_eq!(s.tab().name, "logs");
    s.apply(&Action::SelectTab(1), &mut ids).expect("select");
    s.apply(&Action::Zoom, &mut ids).expect("zoom");
    assert_eq!(s.visible().len(), 1);

    let saved = s.save();
    let json = serde_json::to_string(&saved).expect("json");
    let back: SessionState = serde_json::from_str(&json).expect("parse");
    let mut ids2 = Ids::default();
    let r = Session::restore(back, &mut ids2, "sh").expect("restore");
    assert_eq!(r.save(), saved);
    assert_eq!(ids2.0, 4, "ids continue after the largest restored");
}

/// The layout's rectangles as a picture: each pane's number in its area.
fn picture(s: &Session) -> String {
    let (w, h) = s.size;
    let mut rows = vec![vec![' '; w as usize]; h as usize];
    for (i, (_, r)) in s.visible().iter().enumerate() {
        for y in r.top()..r.bottom() {
            for x in r.left()..r.right() {
                let edge =
                    y == r.top() || y + 1 == r.bottom() || x == r.left() || x + 1 == r.right();
                rows[y as usize][x as usize] = if edge {
                    '.'
                } else {
                    char::from_digit(i as u32 + 1, 36).unwrap_or('?')
                };
            }
        }
    }
    rows.into_iter()
        .map(|r| r.into_iter().collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn opening_many_panes_keeps_each_usable_then_opens_a_tab() {
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (80, 24), "sh");
    // As `fieldkit open` of four files, then `open sql` and a run: each opens beside the
    // focused pane along its longer side.
    for _ in 0..6 {
        s.apply(&Action::Open(PaneKind::Term), &mut ids)
            .expect("open");
        for (id, r) in s.visible() {
            assert!(
                r.width >= MIN_PANE.0 && r.height >= MIN_PANE.1,
                "pane {id} is {}x{}:\n{}",
                r.width,
                r.height,
                picture(&s)
            );
        }
    }
    assert_eq!(s.pane_count(), 7);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        let tabs: Vec<String> = s
            .tabs
            .iter()
            .map(|t| format!("{} ({} panes)", t.name, t.layout.leaves().len()))
            .collect();
        let mut shown = format!("tabs: {}\n", tabs.join(", "));
        for t in 0..s.tabs.len() {
            s.active = t;
            shown.push_str(&format!("tab {}:\n{}\n", s.tab().name, picture(&s)));
        }
        insta::assert_snapshot!("layout_seven_opens_80x24", shown);
    });
    // Explicit splits too: a split that would go below the minimum evens the tab out or,
    // with no room even then, opens a tab of its own.
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (80, 24), "sh");
    for _ in 0..5 {
        s.apply(&Action::SplitDown, &mut ids).expect("split");
    }
    assert!(s
        .visible()
        .iter()
        .all(|(_, r)| r.height >= MIN_PANE.1 && r.width >= MIN_PANE.0));
    assert!(
        s.tabs.len() >= 2,
        "the fifth split of 22 rows has no room: {}",
        picture(&s)
    );
}

#[test]
fn even_shares_each_row_of_panes_equally_and_a_zoom_survives_an_insert() {
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (121, 24), "sh");
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    s.apply(&Action::Even, &mut ids).expect("even");
    let widths: Vec<u16> = s.visible().iter().map(|(_, r)| r.width).collect();
    assert_eq!(widths, vec![40, 40, 41], "{}", picture(&s));
    // A zoomed pane stays zoomed when something opens beside it (a run's grid).
    s.apply(&Action::Zoom, &mut ids).expect("zoom");
    let focus = s.focused();
    s.insert_beside(
        focus,
        new_pane(PaneKind::Term, "sh").expect("pane"),
        Axis::Vertical,
        &mut ids,
    );
    assert!(s.tab().zoomed);
    assert_eq!(s.visible().len(), 1);
    assert_eq!(s.focused(), focus);
}

#[test]
fn a_pane_opened_right_of_the_tab_is_never_between_two() {
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (120, 30), "sh");
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    s.apply(&Action::FocusPrev, &mut ids).expect("focus");
    let left = s.focused();
    let (chat, new_tab) = s.place(
        left,
        new_pane(PaneKind::Term, "sh").expect("pane"),
        Place::RightOfTab,
        &mut ids,
    );
    assert!(!new_tab);
    let rects = s.visible();
    let right_edge = rects.iter().map(|(_, r)| r.right()).max().unwrap_or(0);
    let (_, r) = rects
        .iter()
        .find(|(id, _)| *id == chat)
        .expect("chat shown");
    assert_eq!(r.right(), right_edge, "{}", picture(&s));
    assert!(rects
        .iter()
        .all(|(id, o)| *id == chat || o.right() <= r.left()));
}

#[test]
fn pane_numbers_stay_put_when_another_closes_and_a_closed_pane_comes_back() {
    let mut ids = Ids::default();
    let mut s = Session::new_with("main", &mut ids, (120, 40), "sh", PaneKind::Sql);
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    s.apply(&Action::SplitRight, &mut ids).expect("split");
    let third = s.focused();
    assert_eq!(s.number_of(third), 3);
    // Close pane 2: pane 3 is still 3 (not renumbered to 2 under the user's eyes).
    s.apply(&Action::FocusPane(2), &mut ids).expect("focus 2");
    let closed = s.focused();
    let saved = s.panes.get(&closed).map(|p| p.save()).expect("pane");
    s.apply(&Action::ClosePane, &mut ids).expect("close");
    assert_eq!(s.number_of(third), 3);
    let refused = s.apply(&Action::FocusPane(2), &mut ids).unwrap_err();
    assert!(refused.contains("its panes are 1, 3"), "{refused}");
    s.apply(&Action::FocusPane(3), &mut ids).expect("focus 3");
    assert_eq!(s.focused(), third);
    // The closed editor comes back whole, and takes the free number.
    s.apply(&Action::ReopenPane, &mut ids).expect("reopen");
    let back = s.focused();
    assert_eq!(s.panes.get(&back).map(|p| p.save()), Some(saved));
    assert_eq!(s.number_of(back), 2);
    assert!(s
        .apply(&Action::ReopenPane, &mut ids)
        .unwrap_err()
        .contains("No closed pane"));
}

#[test]
fn refusals_are_sentences() {
    let mut ids = Ids::default();
    let mut s = Session::new("main", &mut ids, (80, 24), "sh");
    assert!(s
        .apply(&Action::ClosePane, &mut ids)
        .unwrap_err()
        .contains("last pane"));
    assert!(s
        .apply(&Action::CloseTab, &mut ids)
        .unwrap_err()
        .contains("last tab"));
    assert!(s
        .apply(&Action::SelectTab(4), &mut ids)
        .unwrap_err()
        .contains("no tab 4"));
    assert!(s
        .apply(&Action::FocusPane(2), &mut ids)
        .unwrap_err()
        .contains("no pane 2"));
    assert_eq!(s.apply(&Action::Refresh, &mut ids), Ok(false));
    assert!(Session::restore(
        SessionState {
            version: fieldkit_messages::VERSION,
            name: "x".into(),
            active: 0,
            size: (0, 0),
            tabs: vec![],
            panes: BTreeMap::new()
        },
        &mut ids,
        "sh"
    )
    .is_none());
}
