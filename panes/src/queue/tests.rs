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
