use super::*;
use crate::testkit::{settings, snapshot};
use RunsRequest::{Cancel, Detail, Rerun, Watch};

/// A row from `id|workflow|state|trigger|started|took|step`.
fn run(spec: &str) -> RunRow {
    let [id, workflow, state, trigger, started, took, step] =
        spec.split('|').collect::<Vec<_>>()[..]
    else {
        panic!("{spec}");
    };
    RunRow {
        id: id.into(),
        workflow: workflow.into(),
        state: state.into(),
        trigger: trigger.into(),
        started: started.into(),
        took: took.into(),
        step: step.into(),
    }
}

/// Newest first, as the server sends them.
fn rows() -> Vec<RunRow> {
    [
        "r6|ingest|running|file a.csv|11-29 12:04:10|12s|2/3 load",
        "r5|nightly-report|failed|schedule 06:00|11-29 06:00:00|3m 10s|2/3 upload",
        "r4|review|waiting|item 3f2a COMPLETED|11-28 17:22:41|18h 41m|1/2 approve",
        "r3|ingest|retrying|file b.csv|11-28 16:05:12|2m 4s|2/3 load",
        "r2|ingest|done|manual|11-28 09:13:55|1.2s|3/3 report",
        "r1|nightly-report|cancelled|manual|11-27 22:40:00|41s|1/3 query",
    ]
    .map(run)
    .into()
}

/// A step from `name|kind|state|tries|output`, with its log.
fn step(spec: &str, log: &[&str]) -> StepView {
    let [name, kind, state, tries, output] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("{spec}");
    };
    StepView {
        name: name.into(),
        kind: kind.into(),
        state: state.into(),
        tries: tries.parse().unwrap(),
        output: output.into(),
        log: log.iter().map(|l| l.to_string()).collect(),
    }
}

fn detail() -> RunDetail {
    let host = "stderr: curl: (6) Could not resolve host: reports.example.org";
    let last = format!("{host}; the upload of nightly-2026-11-29.pdf was not sent");
    RunDetail {
        id: "r5".into(),
        workflow: "nightly-report".into(),
        state: "failed".into(),
        trigger: "schedule 06:00".into(),
        error: "step upload failed after 4 tries: exit status 1".into(),
        steps: vec![
            step(
                "query|sql|done|1|1200 rows",
                &["try 1 · 12:00:01 · done in 0.4s"],
            ),
            step(
                "upload|shell|failed|4|exit status 1",
                &[
                    "try 1 · 12:00:03 · failed after 0.1s: exit status 1",
                    host,
                    "try 2 · 12:00:08 · failed after 0.1s: exit status 1",
                    host,
                    "try 3 · 12:00:18 · failed after 0.1s: exit status 1",
                    host,
                    "try 4 · 12:00:38 · failed after 0.1s: exit status 1",
                    host,
                    &last,
                ],
            ),
            step(
                "alert|shell|done|1|posted to #ops",
                &["try 1 · 12:00:39 · done in 0.3s"],
            ),
        ],
    }
}

fn ev(p: &mut RunsPane, e: RunsEvent) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Runs(e), &mut cx);
    cx.effects
}

fn note(p: &mut RunsPane, text: &str) {
    ev(p, RunsEvent::Note(text.into()));
}

fn press(p: &mut RunsPane, c: KeyCode) -> Vec<Effect> {
    let mut cx = Cx::default();
    p.on_input(&KeyEvent::new(c, KeyModifiers::NONE), &mut cx);
    cx.effects
}

fn act(p: &mut RunsPane, name: &'static str) -> Vec<Effect> {
    let mut cx = Cx::default();
    let out = p.on_action(&Action::Pane { name, arg: None }, &mut cx);
    assert_eq!(out, Outcome::Consumed, "{name}");
    cx.effects
}

fn r5() -> String {
    "r5".into()
}

fn asks(r: RunsRequest) -> Vec<Effect> {
    vec![Effect::Engine(EngineRequest::Runs(r))]
}

/// The pane drawn into a buffer bigger than its area, which it must not write outside.
fn draw(p: &mut RunsPane, w: u16, h: u16) -> Buffer {
    let mut buf = Buffer::empty(Rect::new(0, 0, w + 4, h + 2));
    let theme = crate::Theme::default();
    let rcx = RenderCx {
        theme: &theme,
        focused: true,
        retained: false,
    };
    p.render(Rect::new(2, 1, w, h), &mut buf, &rcx);
    let outside = (0..h + 2).flat_map(|y| (0..w + 4).map(move |x| (x, y)));
    for (x, y) in outside.filter(|&(x, y)| !(2..w + 2).contains(&x) || !(1..h + 1).contains(&y)) {
        assert_eq!(buf[(x, y)], Default::default(), "{w}x{h}: wrote at {x},{y}");
    }
    buf
}

fn loaded() -> RunsPane {
    let mut p = RunsPane::default();
    ev(&mut p, RunsEvent::Runs(rows()));
    p
}

/// The pane with the failed run's steps open.
fn in_detail() -> RunsPane {
    let mut p = loaded();
    press(&mut p, KeyCode::Down);
    press(&mut p, KeyCode::Enter);
    ev(&mut p, RunsEvent::Detail(detail()));
    p
}

#[test]
fn the_list_shows_every_state_and_the_cursor_picks_the_run() {
    let mut p = RunsPane::default();
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Opened, &mut cx);
    assert_eq!(cx.effects, asks(Watch));
    settings().bind(|| insta::assert_snapshot!("runs_reading_80x24", snapshot(&mut p, 80, 24)));
    let mut p = loaded();
    assert_eq!(p.title(), "runs: 6 · 3 running · 1 failed");
    press(&mut p, KeyCode::Down);
    // The cursor's row is drawn reversed, and only it.
    let buf = draw(&mut p, 80, 24);
    let reversed = |y: u16| buf[(2, y)].modifier.contains(Modifier::REVERSED);
    assert_eq!((1..8).filter(|y| reversed(*y)).collect::<Vec<_>>(), vec![3]);
    settings().bind(|| {
        insta::assert_snapshot!("runs_list_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("runs_list_140x30", snapshot(&mut p, 140, 30));
    });
    // Narrower, the trigger is cut and the columns stay in line.
    assert!(snapshot(&mut p, 70, 10)
        .contains("review         waiting   11-28 17:22:41 item 3f2a… 18h 41m 1/2 a"));
    assert_eq!(press(&mut p, KeyCode::Enter), asks(Detail { id: r5() }));
    assert_eq!(act(&mut p, "rerun"), asks(Rerun { id: r5() }));
    assert_eq!(act(&mut p, "cancel-run"), asks(Cancel { id: r5() }));
    // A new run on top shifts the rows; the cursor stays on its run.
    let mut more = rows();
    let new = "r7|ingest|queued|file c.csv|11-29 12:05:00|0s|0/3 query";
    more.insert(0, run(new));
    ev(&mut p, RunsEvent::Runs(more));
    assert_eq!(act(&mut p, "rerun"), asks(Rerun { id: r5() }));
    assert_eq!(p.title(), "runs: 7 · 3 running · 1 failed");
}

#[test]
fn an_empty_log_says_how_to_start_a_run() {
    let mut p = RunsPane::default();
    ev(&mut p, RunsEvent::Runs(vec![]));
    settings().bind(|| insta::assert_snapshot!("runs_empty_80x24", snapshot(&mut p, 80, 24)));
    assert!(press(&mut p, KeyCode::Enter).is_empty());
    assert!(act(&mut p, "rerun").is_empty());
}

#[test]
fn the_detail_shows_each_step_with_its_tries_and_esc_leaves_it() {
    let mut p = in_detail();
    settings().bind(|| {
        insta::assert_snapshot!("runs_detail_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("runs_detail_140x30", snapshot(&mut p, 140, 30));
    });
    // The verbs act on the run shown, whatever the list's cursor.
    press(&mut p, KeyCode::Down);
    assert_eq!(act(&mut p, "cancel-run"), asks(Cancel { id: r5() }));
    // A change to the list asks again for the run shown.
    let again = ev(&mut p, RunsEvent::Runs(rows()));
    assert_eq!(again, asks(Detail { id: r5() }));
    press(&mut p, KeyCode::Esc);
    let list = snapshot(&mut p, 80, 24);
    assert!(list.contains("06:00:00 schedule 06:00"), "{list}");
    // The answer to the request above comes after Esc: the list stays.
    ev(&mut p, RunsEvent::Detail(detail()));
    assert!(!snapshot(&mut p, 80, 24).contains("Could not resolve"));
    assert!(ev(&mut p, RunsEvent::Runs(rows())).is_empty());
}

#[test]
fn detail_scrolling_stops_at_the_last_line() {
    let mut p = in_detail();
    for _ in 0..1000 {
        press(&mut p, KeyCode::Char('j'));
    }
    let shown = snapshot(&mut p, 80, 10);
    let mut lines = shown
        .lines()
        .filter(|l| !l.trim_matches(['"', ' ']).is_empty());
    let last = lines.next_back().unwrap();
    assert!(last.contains("12:00:39 · done in 0.3s"), "{shown}");
    // One step back up shows one line more at the top, not 990 steps to climb.
    press(&mut p, KeyCode::Char('k'));
    let up = snapshot(&mut p, 80, 10);
    assert_ne!(up, shown);
    assert!(!up.contains("12:00:39"), "{up}");
    press(&mut p, KeyCode::Char('g'));
    assert!(snapshot(&mut p, 80, 10).contains("nightly-report · failed"));
}

#[test]
fn a_note_shows_on_the_last_row_until_a_key() {
    let mut p = loaded();
    note(&mut p, "r1 is not running: nothing to cancel");
    let shown = snapshot(&mut p, 80, 24);
    let last = shown.lines().last().unwrap();
    assert!(last.contains("nothing to cancel"), "{shown}");
    press(&mut p, KeyCode::Down);
    assert!(!snapshot(&mut p, 80, 24).contains("nothing to cancel"));
    // A pane one row high shows the note alone.
    note(&mut p, "workflow ingest no longer loads");
    assert!(snapshot(&mut p, 40, 1).contains("no longer loads"));
}

#[test]
fn tiny_sizes_do_not_panic() {
    let mut empty = RunsPane::default();
    ev(&mut empty, RunsEvent::Runs(vec![]));
    let mut panes = [
        RunsPane::default(),
        empty,
        loaded(),
        loaded(),
        in_detail(),
        in_detail(),
    ];
    note(&mut panes[3], "a note");
    note(&mut panes[5], "a note");
    for p in &mut panes {
        for (w, h) in [(0, 0), (1, 1), (10, 2), (0, 5), (5, 0), (12, 3)] {
            draw(p, w, h);
        }
    }
}
