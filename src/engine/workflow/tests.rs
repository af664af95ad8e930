use super::def::{load_dir, parse};
use super::*;

fn errors_of(text: &str) -> Vec<String> {
    match parse(text, "w.toml", "w") {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn the_issue_example_reads() {
    let w = parse(
        r#"name = "ingest"
[trigger]
file = { path = "~/field/incoming", glob = "*.csv" }
[[steps]]
name = "load"
kind = "sql"
sql = "CREATE OR REPLACE TABLE incoming AS SELECT * FROM read_csv('{{ trigger.path }}')"
[[steps]]
name = "tell"
kind = "shell"
run = "echo loaded {{ steps.load.rows }} rows >> ~/field/log.txt"
retries = 3
"#,
        "ingest.toml",
        "ingest",
    )
    .unwrap();
    assert_eq!(w.name, "ingest");
    assert_eq!(w.steps.len(), 2);
    assert_eq!(w.steps[1].retries, 3);
    assert!(matches!(&w.triggers[0], Trigger::File { glob, .. } if glob == "*.csv"));
}

#[test]
fn each_mistake_is_told_with_its_line() {
    let cases: &[(&str, &str)] = &[
        ("name = \"x\"\n[[steps]\nkind = 1", "w.toml:2:"),
        ("[[steps]]\nname = \"a\"\nkind = \"teleport\"\n", "w.toml:3: step \"a\": unknown kind \"teleport\""),
        ("[[steps]]\nname = \"a\"\nkind = \"shell\"\nrun = \"x\"\non_error = \"b\"\n[[steps]]\nname = \"b\"\nkind = \"shell\"\nrun = \"y\"\non_error = \"a\"\n", "cycle"),
        ("[[steps]]\nname = \"a\"\nkind = \"shell\"\nrun = \"echo {{ steps.load.rows }}\"\n", "w.toml:4: run: {{ steps.load.rows }} names no earlier step"),
        ("[trigger]\nschedule = \"61 * * * *\"\n[[steps]]\nkind = \"shell\"\nrun = \"x\"\n", "w.toml:2: schedule \"61 * * * *\""),
        ("[[steps]]\nkind = \"sql\"\n", "needs sql"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"x\"\nsql = \"y\"\n", "sql does not belong to a shell step"),
        ("[[steps]]\nkind = \"plugin\"\ntool = \"ab\"\n", "name it PLUGIN.TOOL"),
        ("[[steps]]\nkind = \"plugin\"\n", "needs tool"),
        ("[[steps]]\nkind = \"plugin\"\ntool = \"a.b\"\nargs = { x = \"{{ steps.nope.text }}\" }\n", "args:"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"x\"\ntimeout = \"soon\"\n", "w.toml:4: timeout"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"{{ trigger.path }}\"\n", "this workflow's triggers give"),
        ("[[steps]]\nkind = \"llm\"\nprompt = \"x\"\ncheck = { regex = \"(\" }\n", "check regex"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"{{ nope }}\"\n", "is not known"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"x\"\ncolour = \"red\"\n", "unknown field `colour`"),
        ("[[steps]]\nkind = \"shell\"\nrun = \"{% if %}\"\n", "run:"),
    ];
    for (text, want) in cases {
        let e = errors_of(text).join("\n");
        assert!(e.contains(want), "for {text:?}\nwanted {want:?}\ngot {e:?}");
    }
}

#[test]
fn handlers_run_only_on_error_and_may_read_any_step() {
    let w = parse(
        "[[steps]]\nname = \"a\"\nkind = \"shell\"\nrun = \"false\"\non_error = \"tell\"\n[[steps]]\nname = \"b\"\nkind = \"shell\"\nrun = \"echo {{ steps.a.stdout }}\"\n[[steps]]\nname = \"tell\"\nkind = \"shell\"\nrun = \"echo {{ error.message }} {{ steps.b.exit_code }}\"\n",
        "w.toml",
        "w",
    )
    .unwrap();
    assert_eq!(w.steps[0].on_error, Some(OnError::Step("tell".into())));
    // error is for handlers only.
    let e = errors_of("[[steps]]\nkind = \"shell\"\nrun = \"echo {{ error.message }}\"\n").join("");
    assert!(e.contains("only a step run by on_error"), "{e}");
}

#[test]
fn a_broken_file_leaves_the_others_loaded_and_workflow_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("good.toml"),
        "[[steps]]\nkind = \"shell\"\nrun = \"true\"\n",
    )
    .unwrap();
    std::fs::write(d.join("bad.toml"), "[[steps]\n").unwrap();
    std::fs::write(
        d.join("a.toml"),
        "on_error = \"workflow:b\"\n[[steps]]\nkind = \"shell\"\nrun = \"true\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.toml"),
        "[[steps]]\nkind = \"shell\"\nrun = \"true\"\non_error = \"workflow:a\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lost.toml"),
        "[[steps]]\nkind = \"shell\"\nrun = \"true\"\non_error = \"workflow:nowhere\"\n",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "not a workflow").unwrap();
    let (good, errors) = load_dir(d);
    let names: Vec<&str> = good.iter().map(|w| w.name.as_str()).collect();
    assert!(names.contains(&"good"), "{names:?}");
    assert!(!names.contains(&"lost"));
    // One of a and b is refused for the cycle; the other then names a workflow not loaded.
    assert!(!(names.contains(&"a") && names.contains(&"b")), "{names:?}");
    let all = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("bad.toml:1:"), "{all}");
    assert!(all.contains("cycle of workflows"), "{all}");
    assert!(all.contains("\"nowhere\", which is not loaded"), "{all}");
}

#[test]
fn the_shipped_examples_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let (good, errors) = load_dir(&dir);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(good.len() >= 3, "{good:?}");
}

#[test]
fn checks_judge_answers() {
    assert!(check_answer(&Check::Regex("rows?".into()), "12 rows").is_ok());
    assert!(check_answer(&Check::Regex("^\\d+$".into()), "twelve").is_err());
    let j = Check::Json(vec!["rows".into(), "ok".into()]);
    assert!(check_answer(&j, "Here:\n```json\n{\"rows\": 3, \"ok\": true}\n```").is_ok());
    let e = check_answer(&j, "{\"rows\": 3}").unwrap_err();
    assert!(e.contains("lacks ok"), "{e}");
    assert!(check_answer(&j, "no json here").is_err());
    assert!(says_yes("Yes, it is."));
    assert!(says_yes(" yes"));
    assert!(!says_yes("yesterday"));
    assert!(!says_yes("No."));
}

#[test]
fn capped_output_keeps_the_start_and_counts_the_rest() {
    let mut c = Capped::default();
    for _ in 0..100 {
        c.push(&[b'x'; 4096]);
    }
    assert_eq!(c.kept.len(), LOG_CAP);
    assert_eq!(c.dropped, 100 * 4096 - LOG_CAP as u64);
    assert!(c.text().ends_with("kept up to 64 KiB]"));
}
