//! Workflows against the real binary: a real server running real shell steps, DuckDB through the
//! data worker, llama.cpp on the generated model, work items in queue.db, inotify on a real
//! folder; `kill -9` of the server in the middle of a run; a schedule across downtime; files
//! with mistakes. Files the steps write are how the tests count side effects.
mod common;

use common::{wait_until, wait_until_within, Fk, BIN};
use fieldkit::format::gguf::tiny;
use std::path::Path;
use std::time::Duration;

fn write_workflow(fk: &Fk, name: &str, text: &str) {
    let dir = fk.config_dir().join("workflows");
    std::fs::create_dir_all(&dir).expect("workflows dir");
    std::fs::write(dir.join(format!("{name}.toml")), text).expect("workflow");
}

fn runs(fk: &Fk) -> Vec<serde_json::Value> {
    serde_json::from_str(&fk.ok(&["workflow", "runs", "--json"])).expect("runs json")
}

fn show(fk: &Fk, id: &str) -> serde_json::Value {
    serde_json::from_str(&fk.ok(&["workflow", "show", id, "--json"])).expect("show json")
}

/// Waits until run `id` is over; returns it with its steps and logs.
fn wait_over(fk: &Fk, id: &str) -> serde_json::Value {
    wait_until_within(&format!("run {id} to end"), Duration::from_secs(60), || {
        let r = show(fk, id);
        match r["state"].as_str() {
            Some("done" | "failed" | "cancelled") => Ok(r),
            _ => Err(r.to_string()),
        }
    })
}

/// The generated model registered as the default, answering greedily on one thread.
fn tiny_model(fk: &Fk) {
    let model = fk.path().join("tiny.gguf");
    tiny::write(&model, &tiny::Spec::default()).expect("model");
    fk.ok(&["model", "add", &model.to_string_lossy()]);
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!(
            "{}\n[llm]\ntemperature = 0.0\nthreads = 1\n",
            fk.shell_setting()
        ),
    )
    .expect("config");
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The issue's whole chain, in the workspace: a CSV dropped into a watched folder is loaded by
/// DuckDB (sql), summarised by the generated model with a check (llm), put in front of a person
/// as a work item with an SLA (human); completing it from the queue pane runs the last step.
#[test]
fn a_dropped_csv_is_loaded_summarised_reviewed_in_the_queue_pane_and_logged() {
    let fk = Fk::new();
    tiny_model(&fk);
    let incoming = fk.path().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    let log = fk.path().join("log.txt");
    write_workflow(
        &fk,
        "ingest",
        &format!(
            r#"name = "ingest"
[trigger]
file = {{ path = "{}", glob = "*.csv" }}
[[steps]]
name = "load"
kind = "sql"
sql = "CREATE OR REPLACE TABLE incoming AS SELECT * FROM read_csv('{{{{ trigger.path }}}}')"
[[steps]]
name = "peek"
kind = "sql"
sql = "SELECT * FROM incoming ORDER BY site"
[[steps]]
name = "summary"
kind = "llm"
prompt = "Rows:\n{{{{ steps.peek.table }}}}\nSummarise."
max_tokens = 8
check = {{ regex = '(?s).' }}
[[steps]]
name = "review"
kind = "human"
title = "Review {{{{ trigger.name }}}} ({{{{ steps.load.rows }}}} rows)"
body = "{{{{ steps.summary.text }}}}"
sla = "4h"
[[steps]]
name = "tell"
kind = "shell"
run = "echo loaded {{{{ steps.load.rows }}}} rows from {{{{ trigger.name }}}}, review {{{{ steps.review.outcome }}}} >> {}"
retries = 3
"#,
            incoming.display(),
            log.display()
        ),
    );
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "queue"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "the empty queue", |s| s.contains("no open items"));
    // Written under another name and renamed in, as a careful writer does; then one written in
    // place.
    let tmp = fk.path().join("a.csv.part");
    std::fs::write(&tmp, "site,ph\nwell-1,7.1\nwell-2,6.8\nwell-3,7.4\n").unwrap();
    std::fs::rename(&tmp, incoming.join("a.csv")).unwrap();
    fk.wait_screen("w", "the review item with its SLA", |s| {
        s.contains("Review a.csv (3 rows)") && s.contains("left")
    });
    let run = &runs(&fk)[0];
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["state"], "waiting", "{run}");
    let r = show(&fk, &id);
    assert_eq!(r["steps"][0]["output"]["rows"], 3, "{r}");
    assert!(
        r["steps"][1]["output"]["table"]
            .as_str()
            .unwrap()
            .contains("well-2"),
        "{r}"
    );
    assert_eq!(r["steps"][2]["state"], "done", "the check passed: {r}");
    assert!(!lines(&log).iter().any(|l| l.contains("loaded")), "not yet");
    // Claimed and completed from the pane, as a person would.
    fk.keys("w", &["C-l"]);
    fk.wait_screen("w", "the claim", |s| s.contains("CLAIMED"));
    fk.keys("w", &["C-d"]);
    let r = wait_over(&fk, &id);
    assert_eq!(r["state"], "done", "{r}");
    assert_eq!(
        lines(&log),
        vec!["loaded 3 rows from a.csv, review COMPLETED".to_string()]
    );
    // The runs pane shows it.
    fk.ok(&["action", "zoom"]);
    fk.ok(&["action", "open", "runs"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "the run in the runs pane", |s| {
        s.contains("ingest") && s.contains("done") && s.contains("file a.csv")
    });
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the run's steps", |s| {
        s.contains("1. load (sql) · done") && s.contains("4. review (human) · done")
    });
}

#[test]
fn a_failing_shell_step_is_retried_three_times_then_its_on_error_runs() {
    let fk = Fk::new();
    let d = fk.path();
    write_workflow(
        &fk,
        "flaky",
        &format!(
            r#"[[steps]]
name = "upload"
kind = "shell"
run = "echo try >> {d}/tries.txt; echo no route >&2; exit 7"
retries = 3
backoff = "100ms"
on_error = "alert"
[[steps]]
name = "after"
kind = "shell"
run = "touch {d}/after.txt"
[[steps]]
name = "alert"
kind = "shell"
run = "echo {{{{ error.step }}}}: {{{{ error.message }}}} > {d}/alert.txt"
"#,
            d = d.display()
        ),
    );
    let id = fk.ok(&["workflow", "run", "flaky"]).trim().to_string();
    assert_eq!(id.len(), 32, "the id alone: {id}");
    let r = wait_over(&fk, &id);
    assert_eq!(r["state"], "failed", "{r}");
    assert_eq!(
        lines(&d.join("tries.txt")).len(),
        4,
        "one try and three retries"
    );
    assert_eq!(r["steps"][0]["tries"], 4);
    assert_eq!(r["steps"][0]["log"][3]["stderr"], "no route\n");
    assert_eq!(r["steps"][1]["state"], "skipped");
    assert!(!d.join("after.txt").exists());
    assert_eq!(
        lines(&d.join("alert.txt")),
        vec!["upload: exit status 7".to_string()]
    );
    assert!(
        r["error"].as_str().unwrap().contains("after 4 tries"),
        "{r}"
    );
    // A re-run is a new run of the same workflow.
    let again = fk.ok(&["workflow", "rerun", &id[..8]]).trim().to_string();
    assert_ne!(again, id);
    wait_over(&fk, &again);
    assert_eq!(lines(&d.join("tries.txt")).len(), 8);
}

/// `kill -9` of the server while a step runs: the next server finishes the run; the steps that
/// had finished did their work exactly once, and the interrupted step's retry shows in its log.
#[test]
fn kill_9_in_the_middle_of_a_run_resumes_it_and_finished_steps_ran_once() {
    let fk = Fk::new();
    let d = fk.path();
    write_workflow(
        &fk,
        "long",
        &format!(
            r#"[[steps]]
name = "one"
kind = "shell"
run = "echo one >> {d}/one.txt"
[[steps]]
name = "two"
kind = "shell"
run = "echo started >> {d}/two-started.txt; while [ ! -e {d}/go ]; do sleep 0.05; done; echo two >> {d}/two.txt"
retries = 2
backoff = "100ms"
[[steps]]
name = "three"
kind = "shell"
run = "echo three >> {d}/three.txt"
"#,
            d = d.display()
        ),
    );
    let id = fk.ok(&["workflow", "run", "long"]).trim().to_string();
    wait_until("step two to start", || {
        (lines(&d.join("two-started.txt")).len() == 1)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    let pid = fk.server_pid();
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until("the server to be gone", || {
        (!Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z")))
        .then_some(())
        .ok_or_else(|| "still there".to_string())
    });
    // Any command starts a new server, which resumes the run: step two's second try.
    fk.ok(&["workflow", "runs"]);
    wait_until("the retry of step two", || {
        (lines(&d.join("two-started.txt")).len() == 2)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    std::fs::write(d.join("go"), "").unwrap();
    let r = wait_over(&fk, &id);
    assert_eq!(r["state"], "done", "{r}");
    assert_eq!(lines(&d.join("one.txt")).len(), 1, "step one ran once");
    assert_eq!(
        lines(&d.join("two.txt")).len(),
        1,
        "the killed try wrote nothing"
    );
    assert_eq!(lines(&d.join("three.txt")).len(), 1);
    let log = &r["steps"][1]["log"];
    assert!(
        log[0]["outcome"].as_str().unwrap().contains("interrupted"),
        "{log}"
    );
    assert_eq!(log[1]["outcome"], "ok", "{log}");
    assert_eq!(r["steps"][0]["tries"], 1);
}

/// A schedule whose slots passed while no server ran fires once, not once per slot, and never
/// again for the same slot after another restart.
#[test]
fn a_schedule_missed_during_downtime_fires_once() {
    let fk = Fk::new();
    let d = fk.path();
    // Hourly, at the minute half an hour from now: the latest slot is never within the minute
    // a slot may fire late and still count as on time (at minute 0, a run in the first minute
    // of an hour found its slot on time, not missed).
    let minute = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 60
        + 30)
        % 60;
    write_workflow(
        &fk,
        "hourly",
        &format!(
            "[trigger]\nschedule = \"{minute} * * * *\"\n[[steps]]\nkind = \"shell\"\nrun = \"echo {{{{ trigger.missed }}}} >> {}/fired.txt\"\n",
            d.display()
        ),
    );
    // First sight: the schedule starts counting now, nothing fires.
    let ls = fk.ok(&["workflow", "ls"]);
    assert!(ls.contains(&format!("schedule {minute} * * * *")), "{ls}");
    assert!(runs(&fk).is_empty());
    fk.ok(&["kill-server"]);
    // Three days down: what the schedule's row holds after downtime.
    {
        let db = rusqlite::Connection::open(d.join("data/queue.db")).expect("queue.db");
        let n = db
            .execute(
                "UPDATE schedules SET last = last - 3 * 86400000 WHERE workflow = 'hourly'",
                [],
            )
            .expect("update");
        assert_eq!(n, 1);
    }
    fk.ok(&["workflow", "ls"]);
    let r = wait_until("the catch-up run", || {
        let r = runs(&fk);
        (r.len() == 1 && r[0]["state"] == "done")
            .then(|| r[0].clone())
            .ok_or_else(|| format!("{r:?}"))
    });
    assert_eq!(r["trigger"]["kind"], "schedule");
    assert_eq!(lines(&d.join("fired.txt")), vec!["true".to_string()]);
    // Another restart: the slot is done.
    fk.ok(&["kill-server"]);
    fk.ok(&["workflow", "ls"]);
    let pid = fk.server_pid();
    assert!(pid > 0);
    assert_eq!(runs(&fk).len(), 1, "{:?}", runs(&fk));
}

#[test]
fn a_step_that_hangs_times_out_one_that_floods_is_capped_and_a_cancel_stops_its_process() {
    let fk = Fk::new();
    let d = fk.path();
    write_workflow(
        &fk,
        "hang",
        "[[steps]]\nkind = \"shell\"\nrun = \"sleep 60\"\ntimeout = \"300ms\"\n",
    );
    write_workflow(
        &fk,
        "flood",
        "[[steps]]\nkind = \"shell\"\nrun = \"head -c 1000000000 /dev/zero | tr '\\\\0' x; echo done >&2\"\n",
    );
    write_workflow(
        &fk,
        "slow",
        &format!(
            "[[steps]]\nkind = \"shell\"\nrun = \"echo $$ > {}/pid.txt; exec sleep 60\"\n",
            d.display()
        ),
    );
    let hang = fk.ok(&["workflow", "run", "hang"]).trim().to_string();
    let r = wait_over(&fk, &hang);
    assert_eq!(r["state"], "failed");
    assert!(
        r["steps"][0]["log"][0]["outcome"].as_str().unwrap() == "timed out after 300ms",
        "{r}"
    );
    let flood = fk.ok(&["workflow", "run", "flood"]).trim().to_string();
    let r = wait_over(&fk, &flood);
    assert_eq!(r["state"], "done", "{r}");
    let out = r["steps"][0]["log"][0]["stdout"].as_str().unwrap();
    assert!(out.len() < 70_000, "kept {} bytes", out.len());
    assert!(
        out.contains("more bytes not kept"),
        "{}",
        &out[out.len() - 100..]
    );
    assert_eq!(r["steps"][0]["log"][0]["stderr"], "done\n");
    // A step killed from outside (the OOM killer, a person) is a failed try that says so.
    write_workflow(
        &fk,
        "killed",
        "[[steps]]\nkind = \"shell\"\nrun = \"kill -9 $$\"\n",
    );
    let killed = fk.ok(&["workflow", "run", "killed"]).trim().to_string();
    let r = wait_over(&fk, &killed);
    assert_eq!(
        r["steps"][0]["log"][0]["outcome"], "killed by signal 9",
        "{r}"
    );
    let slow = fk.ok(&["workflow", "run", "slow"]).trim().to_string();
    let pid: i32 = wait_until("the slow step's pid", || {
        std::fs::read_to_string(d.join("pid.txt"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| "no pid yet".to_string())
    });
    fk.ok(&["workflow", "cancel", &slow[..8]]);
    wait_until("the step's process to be gone", || {
        let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true);
        gone.then_some(())
            .ok_or_else(|| format!("{pid} still runs"))
    });
    assert_eq!(show(&fk, &slow)["state"], "cancelled");
}

/// Each kind of mistake is told with its file and line, by `workflow check`, `doctor` and a
/// popup in the workspace; the good workflow beside them runs.
#[test]
fn mistakes_in_workflow_files_are_told_with_file_and_line_and_the_others_run() {
    let fk = Fk::new();
    let d = fk.path();
    write_workflow(
        &fk,
        "good",
        &format!(
            "[[steps]]\nkind = \"shell\"\nrun = \"touch {}/good.txt\"\n",
            d.display()
        ),
    );
    write_workflow(&fk, "syntax", "name = \"syntax\"\n[[steps]\n");
    write_workflow(
        &fk,
        "kind",
        "[[steps]]\nname = \"a\"\nkind = \"teleport\"\n",
    );
    write_workflow(
        &fk,
        "cycle",
        "[[steps]]\nname = \"a\"\nkind = \"shell\"\nrun = \"x\"\non_error = \"b\"\n[[steps]]\nname = \"b\"\nkind = \"shell\"\nrun = \"y\"\non_error = \"a\"\n",
    );
    write_workflow(
        &fk,
        "missing",
        "[[steps]]\nname = \"a\"\nkind = \"shell\"\nrun = \"echo {{ steps.load.rows }}\"\n",
    );
    write_workflow(
        &fk,
        "cron",
        "[trigger]\nschedule = \"0 25 * * *\"\n[[steps]]\nkind = \"shell\"\nrun = \"x\"\n",
    );
    let out = fk.run(&["workflow", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for want in [
        "syntax.toml:2:",
        "kind.toml:3: step \"a\": unknown kind \"teleport\"",
        "cycle.toml:",
        "missing.toml:4: run: {{ steps.load.rows }} names no earlier step",
        "cron.toml:2: schedule \"0 25 * * *\"",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    let doctor = fk.ok(&["doctor"]);
    assert!(doctor.contains("1 loaded"), "{doctor}");
    assert!(doctor.contains("kind.toml:3:"), "{doctor}");
    let id = fk.ok(&["workflow", "run", "good"]).trim().to_string();
    assert_eq!(wait_over(&fk, &id)["state"], "done");
    assert!(d.join("good.txt").exists());
    let refused = fk.run(&["workflow", "run", "kind"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("kind.toml:3:"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Whoever attaches is told, one line per mistake; one made while attached shows at once.
    fk.terminal("w", 120, 40);
    fk.type_line("w", BIN);
    let s = fk.wait_screen("w", "the problems at attach", |s| {
        s.contains("fieldkit found problems") && s.contains("Esc to close")
    });
    assert!(
        s.lines()
            .any(|l| l.contains("kind.toml:3: step \"a\": unknown kind")),
        "{s}"
    );
    fk.keys("w", &["Escape"]);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    write_workflow(
        &fk,
        "late",
        "[[steps]]\nkind = \"shell\"\nrun = \"{{ nope }}\"\n",
    );
    fk.wait_screen("w", "the popup", |s| {
        s.contains("late.toml:3:") && s.contains("is not known")
    });
}

/// A watched folder that goes away and comes back is watched again; a work item entering a
/// state starts the workflow that waits for it.
#[test]
fn a_watched_folder_that_comes_back_is_watched_and_item_moves_start_workflows() {
    let fk = Fk::new();
    let d = fk.path();
    let inbox = d.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    write_workflow(
        &fk,
        "drop",
        &format!(
            "[trigger]\nfile = {{ path = \"{}\", glob = \"*.txt\", debounce = \"50ms\" }}\n[[steps]]\nkind = \"shell\"\nrun = \"echo {{{{ trigger.name }}}} >> {}/dropped.txt\"\n",
            inbox.display(),
            d.display()
        ),
    );
    write_workflow(
        &fk,
        "done",
        &format!(
            "[trigger]\nitem = {{ state = \"COMPLETED\", tag = \"sample\" }}\n[[steps]]\nkind = \"shell\"\nrun = \"echo {{{{ trigger.title }}}} >> {}/completed.txt\"\n",
            d.display()
        ),
    );
    fk.ok(&["workflow", "ls"]);
    std::fs::remove_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    // The watch moves back to the folder once it exists again; a file that lands before
    // it does is found by the look the runner takes then.
    std::fs::write(inbox.join("n1.txt"), "x").unwrap();
    wait_until("a file in the re-made folder to start a run", || {
        let got = lines(&d.join("dropped.txt"));
        (got == vec!["n1.txt".to_string()])
            .then_some(())
            .ok_or(format!("{got:?}"))
    });
    // Items: one tagged sample completes, one not.
    for (title, tag) in [("Sample 7 pH", "sample"), ("Fix the tent", "camp")] {
        let id = fk
            .ok(&["queue", "add", title, "--tag", tag])
            .trim()
            .to_string();
        fk.ok(&["queue", "claim", &id]);
        fk.ok(&["queue", "done", &id]);
    }
    wait_until("the item's workflow", || {
        let got = lines(&d.join("completed.txt"));
        (got == vec!["Sample 7 pH".to_string()])
            .then_some(())
            .ok_or(format!("{got:?}"))
    });
    assert!(runs(&fk)
        .iter()
        .all(|r| r["state"] == "done" || r["state"] == "running"));
}

/// A check the model's answer cannot pass is a failed try, retried, then the run fails; an sql
/// step past its timeout is cancelled through the data worker, which goes on serving; a
/// workflow's on_error starts another workflow with the error as its trigger.
#[test]
fn failed_checks_are_failed_tries_sql_times_out_through_its_worker_and_errors_start_workflows() {
    let fk = Fk::new();
    let d = fk.path();
    tiny_model(&fk);
    write_workflow(
        &fk,
        "strict",
        "[[steps]]\nname = \"ask\"\nkind = \"llm\"\nprompt = \"Say OK.\"\nmax_tokens = 4\ncheck = { regex = '^IMPOSSIBLE ANSWER$' }\nretries = 1\nbackoff = \"50ms\"\n",
    );
    let id = fk.ok(&["workflow", "run", "strict"]).trim().to_string();
    let r = wait_over(&fk, &id);
    assert_eq!(r["state"], "failed", "{r}");
    assert_eq!(r["steps"][0]["tries"], 2);
    let first = r["steps"][0]["log"][0]["outcome"].as_str().unwrap();
    assert!(
        first.starts_with("check failed: the answer does not match"),
        "{first}"
    );
    assert!(
        !r["steps"][0]["log"][0]["stdout"]
            .as_str()
            .unwrap()
            .is_empty(),
        "the answer is kept"
    );

    write_workflow(
        &fk,
        "slowsql",
        &format!(
            "on_error = \"workflow:report\"\n[[steps]]\nname = \"scan\"\nkind = \"sql\"\nsql = \"SELECT count(*) FROM range(100000000000) a\"\ntimeout = \"500ms\"\n[[steps]]\nname = \"never\"\nkind = \"shell\"\nrun = \"touch {}/never.txt\"\n",
            d.display()
        ),
    );
    write_workflow(
        &fk,
        "report",
        &format!(
            "[[steps]]\nkind = \"shell\"\nrun = \"echo {{{{ trigger.workflow }}}} {{{{ trigger.step }}}}: {{{{ trigger.message }}}} > {}/report.txt\"\n[[steps]]\nname = \"quick\"\nkind = \"sql\"\nsql = \"SELECT 41 + 1 AS answer\"\n",
            d.display()
        ),
    );
    let id = fk.ok(&["workflow", "run", "slowsql"]).trim().to_string();
    let r = wait_over(&fk, &id);
    assert_eq!(r["state"], "failed", "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("workflow report started"),
        "{r}"
    );
    assert!(!d.join("never.txt").exists());
    let report = wait_until("the report workflow's run", || {
        runs(&fk)
            .into_iter()
            .find(|r| r["workflow"] == "report" && r["state"] == "done")
            .ok_or_else(|| format!("{:?}", runs(&fk)))
    });
    assert_eq!(lines(&d.join("report.txt")).len(), 1);
    assert!(
        lines(&d.join("report.txt"))[0] == "slowsql scan: timed out after 500ms",
        "{:?}",
        lines(&d.join("report.txt"))
    );
    // The data worker answered the next query: it was interrupted, not stuck.
    let rid = report["id"].as_str().unwrap();
    let r = show(&fk, rid);
    assert!(
        r["steps"][1]["output"]["table"]
            .as_str()
            .unwrap()
            .contains("42"),
        "{r}"
    );
}

/// `concurrency = 1`: a second run waits, queued, until the first is over; nothing runs twice.
#[test]
fn runs_beyond_the_concurrency_limit_wait_their_turn() {
    let fk = Fk::new();
    let d = fk.path();
    write_workflow(
        &fk,
        "one",
        &format!(
            "concurrency = 1\n[[steps]]\nkind = \"shell\"\nrun = \"echo start $FIELDKIT_RUN >> {d}/log.txt; while [ ! -e {d}/go-$FIELDKIT_RUN ]; do sleep 0.05; done; echo end $FIELDKIT_RUN >> {d}/log.txt\"\n",
            d = d.display()
        ),
    );
    let a = fk.ok(&["workflow", "run", "one"]).trim().to_string();
    let b = fk.ok(&["workflow", "run", "one"]).trim().to_string();
    wait_until("the first run's step", || {
        (lines(&d.join("log.txt")) == vec![format!("start {a}")])
            .then_some(())
            .ok_or_else(|| format!("{:?}", lines(&d.join("log.txt"))))
    });
    assert_eq!(show(&fk, &b)["state"], "queued");
    std::fs::write(d.join(format!("go-{a}")), "").unwrap();
    wait_until("the second run's step", || {
        (lines(&d.join("log.txt")).len() == 3)
            .then_some(())
            .ok_or_else(|| format!("{:?}", lines(&d.join("log.txt"))))
    });
    std::fs::write(d.join(format!("go-{b}")), "").unwrap();
    assert_eq!(wait_over(&fk, &b)["state"], "done");
    assert_eq!(
        lines(&d.join("log.txt")),
        vec![
            format!("start {a}"),
            format!("end {a}"),
            format!("start {b}"),
            format!("end {b}")
        ]
    );
}
