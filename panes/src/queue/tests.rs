use super::*;
use crate::testkit::{settings, snapshot};

fn row(
    title: &str,
    state: &str,
    pri: &str,
    urg: f64,
    sla: Sla,
    used: Option<f64>,
    text: &str,
) -> QueueRow {
    QueueRow {
        id: format!("{:032x}", title.len() * 7919 + urg as usize),
        title: title.into(),
        state: state.into(),
        priority: pri.into(),
        urgency: urg,
        sla,
        used,
        sla_text: text.into(),
        assignee: if state == "IN_PROGRESS" {
            "ana".into()
        } else {
            String::new()
        },
        role: String::new(),
        project: "north".into(),
        tags: vec!["water".into()],
    }
}

fn rows() -> Vec<QueueRow> {
    vec![
        row(
            "Re-test well 4 (turbid)",
            "QUEUED",
            "M",
            18.9,
            Sla::Overdue,
            Some(1.3),
            "late 2h",
        ),
        row(
            "Process sample 7",
            "IN_PROGRESS",
            "H",
            19.6,
            Sla::Warning,
            Some(0.85),
            "36m left",
        ),
        row(
            "Survey site 12",
            "CLAIMED",
            "M",
            9.1,
            Sla::Ok,
            Some(0.35),
            "1d left",
        ),
        row(
            "File weekly report",
            "QUEUED",
            "L",
            1.8,
            Sla::None,
            None,
            "",
        ),
        row(
            "Fix the pump",
            "BLOCKED",
            "H",
            1.0,
            Sla::Ok,
            Some(0.1),
            "3d left",
        ),
    ]
}

fn loaded() -> QueuePane {
    let mut p = QueuePane::default();
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(rows())),
        &mut Cx::default(),
    );
    p
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn act(p: &mut QueuePane, name: &str) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_action(&Action::parse(name).expect(name), &mut cx);
    cx.effects
}

#[test]
fn the_list_shows_sla_states_and_keys_move_the_item_under_the_cursor() {
    let mut p = QueuePane::default();
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Opened, &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Watch))]
    );
    let mut p = loaded();
    assert_eq!(p.title(), "queue: 5 open, 1 overdue");
    settings().bind(|| {
        insta::assert_snapshot!("queue_list_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("queue_list_160x40", snapshot(&mut p, 160, 40));
    });
    // The server's order is kept; the cursor starts on the first.
    p.on_input(&key(KeyCode::Down), &mut Cx::default());
    assert_eq!(
        act(&mut p, "claim"),
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Move {
            id: rows()[1].id.clone(),
            mv: "claim".into()
        }))]
    );
    for (verb, mv) in [
        ("start", "start"),
        ("done", "done"),
        ("block", "block"),
        ("cancel-item", "cancel"),
    ] {
        let eff = act(&mut p, verb);
        assert!(
            matches!(&eff[..], [Effect::Engine(EngineRequest::Queue(QueueRequest::Move { mv: m, .. }))] if m == mv),
            "{verb}: {eff:?}"
        );
    }
    // Type to filter; the cursor follows its item when the list comes again.
    for c in "pump".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    assert_eq!(p.selected().map(|r| r.title.as_str()), Some("Fix the pump"));
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(rows())),
        &mut Cx::default(),
    );
    assert_eq!(p.selected().map(|r| r.title.as_str()), Some("Fix the pump"));
}

#[test]
fn detail_form_and_comment() {
    let mut p = loaded();
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Detail {
            id: rows()[0].id.clone()
        }))]
    );
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Detail(QueueDetail {
            id: rows()[0].id.clone(),
            body: "Sample from the north well; **turbid** after rain.".into(),
            history: vec![
                "2026-11-29 08:00 UTC  ana  (new) -> QUEUED".into(),
                "2026-11-29 09:10 UTC  ben  QUEUED -> BLOCKED".into(),
                "2026-11-29 10:00 UTC  ben  BLOCKED -> QUEUED".into(),
            ],
            comments: vec!["2026-11-29 09:10 UTC  ben: filter clogged".into()],
        })),
        &mut Cx::default(),
    );
    settings().bind(|| insta::assert_snapshot!("queue_detail_80x24", snapshot(&mut p, 80, 24)));
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    // The form: typed into, every key its own (bindings do not apply), refused without a title.
    act(&mut p, "new-item");
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert!(cx.effects.is_empty());
    for c in "Check the generator".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    p.on_input(&key(KeyCode::Backspace), &mut Cx::default());
    p.on_input(&key(KeyCode::Char('H')), &mut Cx::default());
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    for c in "4h".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    settings().bind(|| insta::assert_snapshot!("queue_form_80x24", snapshot(&mut p, 80, 24)));
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Add {
            title: "Check the generator".into(),
            priority: "H".into(),
            sla: "4h".into(),
            role: String::new(),
            tags: String::new(),
        }))]
    );
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Refused("--sla \"4y\": not a unit".into())),
        &mut Cx::default(),
    );
    assert!(snapshot(&mut p, 80, 24).contains("not a unit"));
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    act(&mut p, "comment");
    for c in "filter changed".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(
            QueueRequest::Comment {
                id: rows()[0].id.clone(),
                text: "filter changed".into()
            }
        ))]
    );
}

#[test]
fn a_hundred_thousand_items_filter_and_scroll() {
    let many: Vec<QueueRow> = (0..100_000)
        .map(|i| {
            row(
                &format!("Sample {i}"),
                "QUEUED",
                "M",
                3.9,
                Sla::Ok,
                Some(0.5),
                "1h left",
            )
        })
        .collect();
    let mut p = QueuePane::default();
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(many)),
        &mut Cx::default(),
    );
    p.on_input(&key(KeyCode::End), &mut Cx::default());
    let shown = snapshot(&mut p, 80, 24);
    assert!(shown.contains("Sample 99999"), "{shown}");
    for c in "99998".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    assert_eq!(p.selected().map(|r| r.title.as_str()), Some("Sample 99998"));
}

/// `rows()` with roles, tags, projects and assignees that differ, for the filters.
fn varied() -> Vec<QueueRow> {
    let mut r = rows();
    r[0].role = "lab".into();
    r[1].role = "lab".into();
    r[1].tags = vec!["water".into(), "lab".into()];
    r[2].assignee = "ben".into();
    r[2].project = "south".into();
    r[2].tags = vec!["gps".into()];
    r[3].tags = Vec::new();
    r[4].role = "mech".into();
    r[4].tags = vec!["water".into(), "pump".into()];
    r
}

fn typed(p: &mut QueuePane, s: &str) {
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    for c in s.chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
}

fn shown(p: &QueuePane) -> Vec<&str> {
    p.shown.iter().map(|i| p.rows[*i].title.as_str()).collect()
}

#[test]
fn filter_words_beside_the_fuzzy_words() {
    let mut p = QueuePane::default();
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(varied())),
        &mut Cx::default(),
    );
    let mut hints = Vec::new();
    p.hints(&mut hints);
    assert_eq!(
        hints[0],
        Hint::new("type", "filter · state: role: tag: project: mine overdue")
    );
    // Each kind; names in any case, a state by a prefix of its name.
    for (q, want) in [
        ("state:blocked", vec!["Fix the pump"]),
        ("STATE:Bl", vec!["Fix the pump"]),
        ("state:in", vec!["Process sample 7"]),
        ("state:in-progress", vec!["Process sample 7"]),
        (
            "state:q",
            vec!["Re-test well 4 (turbid)", "File weekly report"],
        ),
        (
            "role:LAB",
            vec!["Re-test well 4 (turbid)", "Process sample 7"],
        ),
        ("tag:gps", vec!["Survey site 12"]),
        ("project:South", vec!["Survey site 12"]),
        ("overdue", vec!["Re-test well 4 (turbid)"]),
        ("due", vec!["Re-test well 4 (turbid)", "Process sample 7"]),
        // A key with no value yet filters nothing (and is no fuzzy word either).
        (
            "state:",
            varied().iter().map(|r| r.title.as_str()).collect(),
        ),
    ] {
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        typed(&mut p, q);
        assert_eq!(shown(&p), want, "{q}");
    }
    // Combined with fuzzy words, in any order; every filter must hold.
    typed(&mut p, "tag:water sample");
    assert_eq!(shown(&p), ["Process sample 7"]);
    typed(&mut p, "pu state:blocked tag:water");
    assert_eq!(shown(&p), ["Fix the pump"]);
    assert_eq!(p.fuzzy, "pu");
    typed(&mut p, "state:q due");
    assert_eq!(shown(&p), ["Re-test well 4 (turbid)"]);
    // `mine` is whoever the server says the user is; until it has said, nobody.
    typed(&mut p, "mine");
    assert!(shown(&p).is_empty());
    assert!(
        snapshot(&mut p, 80, 24).contains("no item matches mine (who you are is not known yet)"),
        "{}",
        snapshot(&mut p, 80, 24)
    );
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Me("ana".into())),
        &mut Cx::default(),
    );
    assert_eq!(shown(&p), ["Process sample 7"]);
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Me("ben".into())),
        &mut Cx::default(),
    );
    assert_eq!(shown(&p), ["Survey site 12"]);
    typed(&mut p, "mine survey");
    assert_eq!(shown(&p), ["Survey site 12"]);
    // The empty list says which filters matched nothing.
    for (q, says) in [
        ("tag:nope state:blocked", " no item matches tag:nope "),
        (
            "tag:nope project:x",
            " no item matches tag:nope, project:x ",
        ),
        (
            "tag:gps state:blocked",
            " no item matches tag:gps + state:BLOCKED together ",
        ),
        (
            "pump state:c",
            " no item matches state:CLAIMED|COMPLETED|CANCELLED + \"pump\" together ",
        ),
        ("overdue", ""),
        ("zzzz tag:water", " nothing matches \"zzzz\" "),
        ("state:done", " no item matches state:DONE "),
    ] {
        typed(&mut p, q);
        if says.is_empty() {
            assert!(!shown(&p).is_empty(), "{q}");
            continue;
        }
        assert!(shown(&p).is_empty(), "{q}");
        let s = snapshot(&mut p, 80, 24);
        assert!(
            s.lines().nth(1).is_some_and(|l| l.contains(says)),
            "{q}: {s}"
        );
    }
    // The header names the active filters as read; the snapshots show them.
    typed(&mut p, "state:q project:north re");
    assert_eq!(shown(&p), ["Re-test well 4 (turbid)", "File weekly report"]);
    settings().bind(|| {
        insta::assert_snapshot!("queue_filtered_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("queue_filtered_160x40", snapshot(&mut p, 160, 40));
    });
    // Backspace out of a filter word: it becomes a fuzzy word again as soon as it is not one.
    typed(&mut p, "due");
    p.on_input(&key(KeyCode::Backspace), &mut Cx::default());
    assert!(p.filters.is_empty());
    assert_eq!(p.fuzzy, "du");
}

#[test]
fn filters_over_a_hundred_thousand_items() {
    let many: Vec<QueueRow> = (0..100_000)
        .map(|i| {
            let mut r = row(
                &format!("Sample {i}"),
                ["QUEUED", "CLAIMED", "BLOCKED"][i % 3],
                "M",
                3.9,
                [Sla::Ok, Sla::Overdue][i % 2],
                Some(0.5),
                "1h left",
            );
            r.id = format!("{i:032x}");
            r
        })
        .collect();
    let mut p = QueuePane::default();
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(many)),
        &mut Cx::default(),
    );
    typed(&mut p, "state:blocked overdue");
    // i % 3 == 2 and i odd: i % 6 == 5.
    assert_eq!(p.shown.len(), 100_000 / 6);
    typed(&mut p, "state:bl overdue 99995");
    assert_eq!(shown(&p), ["Sample 99995"]);
}

#[test]
fn the_edit_form_is_the_new_form_filled_from_the_item() {
    let mut p = QueuePane::default();
    assert!(act(&mut p, "edit-item").is_empty());
    assert_eq!(p.note.as_deref(), Some("no item selected"));
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(varied())),
        &mut Cx::default(),
    );
    p.on_input(&key(KeyCode::Down), &mut Cx::default());
    act(&mut p, "edit-item");
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    let mut hints = Vec::new();
    p.hints(&mut hints);
    assert!(hints.contains(&Hint::new("Enter", "save")), "{hints:?}");
    settings().bind(|| {
        insta::assert_snapshot!("queue_edit_form_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("queue_edit_form_160x40", snapshot(&mut p, 160, 40));
    });
    // Untouched, it sends the item as it is, the SLA left as it is.
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    let id = varied()[1].id.clone();
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Edit {
            id: id.clone(),
            title: "Process sample 7".into(),
            priority: "H".into(),
            sla: String::new(),
            role: "lab".into(),
            tags: "water, lab".into(),
        }))]
    );
    assert!(snapshot(&mut p, 80, 24).contains("saving…"));
    // The list that follows the change closes the form.
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(varied())),
        &mut Cx::default(),
    );
    assert!(matches!(p.mode, Mode::List));
    // Changed fields, an SLA from now.
    act(&mut p, "edit-item");
    p.on_input(&key(KeyCode::Char('b')), &mut Cx::default());
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    p.on_input(&key(KeyCode::Backspace), &mut Cx::default());
    p.on_input(&key(KeyCode::Char('L')), &mut Cx::default());
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    for c in "2d".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    for _ in "lab".chars() {
        p.on_input(&key(KeyCode::Backspace), &mut Cx::default());
    }
    p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    for c in ", urgent".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Queue(QueueRequest::Edit {
            id: id.clone(),
            title: "Process sample 7b".into(),
            priority: "L".into(),
            sla: "2d".into(),
            role: String::new(),
            tags: "water, lab, urgent".into(),
        }))]
    );
    // A refusal keeps the form open, with the sentence and what was typed.
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Refused(
            "sla \"2x\": 'x' is not a unit (s, m, h, d, w)".into(),
        )),
        &mut Cx::default(),
    );
    assert!(matches!(p.mode, Mode::Form { .. }));
    let s = snapshot(&mut p, 80, 24);
    assert!(s.contains("'x' is not a unit"), "{s}");
    assert!(s.contains("Process sample 7b"), "{s}");
    // A list arriving meanwhile (another change, the bars' redraw) leaves it open.
    p.on_engine(
        EngineEvent::Queue(QueueEvent::Items(varied())),
        &mut Cx::default(),
    );
    assert!(matches!(p.mode, Mode::Form { .. }));
    // `none` removes the SLA; an empty title is refused in the pane.
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    act(&mut p, "edit-item");
    for _ in 0..2 {
        p.on_input(&key(KeyCode::Tab), &mut Cx::default());
    }
    for c in "none".chars() {
        p.on_input(&key(KeyCode::Char(c)), &mut Cx::default());
    }
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert!(matches!(
        &cx.effects[..],
        [Effect::Engine(EngineRequest::Queue(QueueRequest::Edit { sla, .. }))] if sla == "none"
    ));
    p.on_input(&key(KeyCode::Esc), &mut Cx::default());
    act(&mut p, "edit-item");
    for _ in "Process sample 7".chars() {
        p.on_input(&key(KeyCode::Backspace), &mut Cx::default());
    }
    let mut cx = Cx::default();
    p.on_input(&key(KeyCode::Enter), &mut cx);
    assert!(cx.effects.is_empty());
    assert!(snapshot(&mut p, 80, 24).contains("an item needs a title"));
}
