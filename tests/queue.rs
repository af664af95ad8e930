//! The work queue from the command line, against a real server and a real queue.db: the forms
//! scripts rely on, moves and refusals, concurrent claims, export and import (ours and
//! taskwarrior's), and SLA filters.
mod common;

use common::{Fk, BIN};
use std::process::Command;

fn queue(fk: &Fk, args: &[&str]) -> std::process::Output {
    let mut all = vec!["queue"];
    all.extend_from_slice(args);
    fk.run(&all)
}

fn ok(fk: &Fk, args: &[&str]) -> String {
    let out = queue(fk, args);
    assert!(
        out.status.success(),
        "queue {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn add_prints_the_id_alone_and_items_move_through_their_states() {
    let fk = Fk::new();
    let out = ok(
        &fk,
        &[
            "add",
            "Process sample 7",
            "--priority",
            "H",
            "--sla",
            "4h",
            "--tag",
            "water",
        ],
    );
    let id = out.trim().to_string();
    assert_eq!(out, format!("{id}\n"), "the id alone");
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let low = ok(&fk, &["add", "File the report", "--priority", "L"])
        .trim()
        .to_string();
    // ls --json: an array with id, title, state, priority; most urgent first.
    let ls: serde_json::Value = serde_json::from_str(&ok(&fk, &["ls", "--json"])).expect("json");
    let arr = ls.as_array().expect("array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["id"], id.as_str());
    assert_eq!(arr[0]["title"], "Process sample 7");
    assert_eq!(arr[0]["state"], "QUEUED");
    assert_eq!(arr[0]["priority"], "H");
    assert_eq!(arr[1]["id"], low.as_str());
    // Moves by a unique prefix; refusals in a sentence, exit 1.
    let short = &id[..8];
    assert!(ok(&fk, &["claim", short]).contains("CLAIMED"));
    let again = queue(&fk, &["claim", short]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        err(&again).contains("cannot claim an item that is CLAIMED"),
        "{}",
        err(&again)
    );
    assert!(ok(&fk, &["start", short]).contains("IN_PROGRESS"));
    ok(&fk, &["comment", short, "turbid; filtered twice"]);
    assert!(ok(&fk, &["done", short]).contains("COMPLETED"));
    let done = queue(&fk, &["cancel", short]);
    assert!(err(&done).contains("cannot cancel an item that is COMPLETED"));
    let show = ok(&fk, &["show", short]);
    for want in [
        "(new) -> QUEUED",
        "QUEUED -> CLAIMED",
        "CLAIMED -> IN_PROGRESS",
        "IN_PROGRESS -> COMPLETED",
        "turbid; filtered twice",
    ] {
        assert!(show.contains(want), "{want:?} not in\n{show}");
    }
    // Completed items leave the list unless asked for.
    assert!(!ok(&fk, &["ls"]).contains("Process sample 7"));
    assert!(ok(&fk, &["ls", "--all"]).contains("Process sample 7"));
    // Bad input: each a sentence.
    for (args, want) in [
        (vec!["show", "ab"], "four or more"),
        (vec!["show", "ffffffff"], "no item"),
        (vec!["add", "x", "--priority", "Z"], "H, M or L"),
        (vec!["add", "x", "--sla", "4y"], "not a unit"),
        (vec!["add", "x", "--due", "tomorrow"], "not a time"),
        (vec!["add", " "], "needs a title"),
        (vec!["ls", "--state", "nope"], "one of QUEUED"),
        (vec!["comment", &low[..8], " "], "says nothing"),
    ] {
        let o = queue(&fk, &args);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(err(&o).contains(want), "{args:?}: {}", err(&o));
    }
}

#[test]
fn eight_processes_claiming_one_item_have_exactly_one_winner() {
    let fk = Fk::new();
    for round in 0..5 {
        let id = ok(&fk, &["add", &format!("Site {round}")])
            .trim()
            .to_string();
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new(BIN)
                    .args(["queue", "claim", &id])
                    .env("FIELDKIT_HOME", fk.path())
                    .env("SHELL", "/bin/sh")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let results: Vec<std::process::Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        let winners = results.iter().filter(|o| o.status.success()).count();
        assert_eq!(winners, 1, "round {round}");
        for o in results.iter().filter(|o| !o.status.success()) {
            assert!(err(o).contains("cannot claim"), "{}", err(o));
        }
        let show = ok(&fk, &["show", &id]);
        assert_eq!(show.matches("QUEUED -> CLAIMED").count(), 1, "{show}");
    }
}

#[test]
fn export_imports_back_and_taskwarrior_exports_are_read_with_bad_rows_reported() {
    let fk = Fk::new();
    let a = ok(
        &fk,
        &[
            "add",
            "Survey site 12",
            "--role",
            "medic",
            "--project",
            "north",
        ],
    );
    ok(&fk, &["comment", &a.trim()[..8], "bring the drone"]);
    let export = fk.path().join("items.json");
    ok(&fk, &["export", &export.display().to_string()]);
    assert!(
        !queue(&fk, &["export", &export.display().to_string()])
            .status
            .success(),
        "an export never overwrites"
    );
    let fresh = Fk::new();
    assert!(ok(&fresh, &["import", &export.display().to_string()]).contains("imported 1 items"));
    let show = ok(&fresh, &["show", &a.trim()[..8]]);
    assert!(
        show.contains("bring the drone") && show.contains("medic"),
        "{show}"
    );
    let tw = fk.path().join("task.json");
    std::fs::write(
        &tw,
        r#"[{"id":1,"description":"Check the pump","status":"pending","uuid":"0d8b1c3e-7a4f-4c1e-9b2a-5f6e7d8c9a0b","priority":"H","due":"20000101T000000Z"},
            {"id":2,"description":"Broken","status":"pending","uuid":"nope"}]"#,
    )
    .expect("task.json");
    let out = queue(&fresh, &["import", &tw.display().to_string()]);
    assert!(out.status.success(), "{}", err(&out));
    assert!(err(&out).contains("skipped item 2: uuid"), "{}", err(&out));
    // Its due time is long past: overdue.
    let late = ok(&fresh, &["ls", "--overdue"]);
    assert!(
        late.contains("Check the pump") && late.contains("late"),
        "{late}"
    );
    assert!(!late.contains("Survey site 12"));
    assert!(
        queue(&fresh, &["import", "/nonexistent.json"])
            .status
            .code()
            != Some(0)
    );
}

/// In the workspace: the queue pane lists an item with its SLA, claims it by key, and when the
/// item crosses 80% and then 100% of its SLA while someone is attached, each crossing is
/// announced once (a message; the bell rings with it), and the status pane counts it.
#[test]
fn the_queue_pane_claims_by_key_and_sla_crossings_are_announced_once() {
    let fk = Fk::new();
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "queue"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "the empty queue", |s| s.contains("no open items"));
    // Due in 10 s: 80% comes at 8 s, 100% at 10 s (two seconds apart, so a loaded machine
    // still sees them one at a time).
    let id = ok(
        &fk,
        &["add", "Check the pump", "--priority", "H", "--sla", "10s"],
    );
    fk.wait_screen("w", "the item in the pane", |s| {
        s.contains("Check the pump") && s.contains("QUEUED")
    });
    fk.keys("w", &["C-l"]);
    fk.wait_screen("w", "the claim", |s| s.contains("CLAIMED"));
    assert!(ok(&fk, &["show", &id.trim()[..8]]).contains("QUEUED -> CLAIMED"));
    let warned = fk.wait_screen("w", "the 80% announcement", |s| {
        s.contains("80% of its SLA used: Check the pump")
    });
    assert!(!warned.contains("overdue: Check the pump"), "{warned}");
    fk.keys("w", &["Escape"]);
    fk.wait_screen("w", "the overdue announcement", |s| {
        s.contains("overdue: Check the pump")
    });
    fk.keys("w", &["Escape"]);
    let s = fk.wait_screen("w", "the pane after the message", |s| {
        s.contains("Check the pump") && s.contains("late")
    });
    assert!(!s.contains("overdue: Check"), "announced once: {s}");
    // The status line counts it from every tab.
    let top = s.lines().next().unwrap_or("").to_string();
    assert!(top.contains("queue: 1 overdue"), "{top}");
    // The status pane counts it.
    fk.ok(&["action", "zoom"]);
    fk.ok(&["action", "open", "status"]);
    fk.wait_screen("w", "the queue's row", |s| {
        s.contains("1 open") && s.contains("1 overdue")
    });
}

#[test]
fn edit_changes_fields_but_never_the_state() {
    let fk = Fk::new();
    let id = ok(&fk, &["add", "Survey site 12", "--sla", "1h"])
        .trim()
        .to_string();
    let short = &id[..8];
    ok(
        &fk,
        &[
            "edit",
            short,
            "--title",
            "Survey site 12 (north)",
            "--priority",
            "H",
            "--tag",
            "gps",
            "--project",
            "north",
        ],
    );
    let item: serde_json::Value =
        serde_json::from_str(&ok(&fk, &["show", short, "--json"])).expect("json");
    assert_eq!(item["title"], "Survey site 12 (north)");
    assert_eq!(item["priority"], "H");
    assert_eq!(item["tags"], serde_json::json!(["gps"]));
    assert_eq!(item["state"], "QUEUED");
    assert!(item["due"].is_i64());
    ok(&fk, &["edit", short, "--no-due"]);
    let item: serde_json::Value =
        serde_json::from_str(&ok(&fk, &["show", short, "--json"])).expect("json");
    assert!(item["due"].is_null(), "{item}");
    for (args, want) in [
        (vec!["edit", short, "--title", " "], "needs a title"),
        (vec!["edit", short, "--priority", "Q"], "H, M or L"),
        (vec!["edit", "zzzz"], "not an item id"),
    ] {
        let o = queue(&fk, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(err(&o).contains(want), "{args:?}: {}", err(&o));
    }
}
