//! End to end with DuckDB: the real binary in a tmux terminal, keys typed as a person would.

mod common;

use common::{Fk, BIN};
use std::fmt::Write as _;

/// The pid of the server's `data` worker.
fn data_worker(server: i32) -> Option<i32> {
    common::worker_pid(server, "data")
}

#[test]
fn open_a_csv_go_to_the_end_sort_filter_export_and_read_back() {
    let fk = Fk::new();
    let csv = fk.path().join("trips.csv");
    let mut text = String::from("id,city,fare\n");
    let cities = ["Oslo", "Lima", "Pune"];
    for i in 0..3000u32 {
        // Fares that are not in id order, so sorting shows.
        let fare = (i * 7919 % 3001) as f64 / 4.0;
        let _ = writeln!(text, "{i},{},{fare}", cities[i as usize % 3]);
    }
    text.push_str("3000,Oslo,1.0,one field too many\n");
    std::fs::write(&csv, &text).expect("csv");
    let lima: Vec<f64> = (0..3000u32)
        .filter(|i| i % 3 == 1)
        .map(|i| (i * 7919 % 3001) as f64 / 4.0)
        .collect();
    let lima_max = lima.iter().cloned().fold(f64::MIN, f64::max);

    fk.terminal("w", 160, 40);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["open", &csv.to_string_lossy()]);
    // The count can reach the footer a moment before the load's note (the window lane may
    // count the finished table first): wait for both.
    let s = fk.wait_screen(
        "w",
        "the grid with every good row, and the ragged row reported",
        |s| s.contains("row 1 of 3,000") && s.contains("1 bad row skipped"),
    );
    assert!(
        s.contains("id") && s.contains("city") && s.contains("fare"),
        "{s}"
    );

    fk.keys("w", &["G"]);
    fk.wait_screen("w", "the last row", |s| s.contains("row 3,000 of 3,000"));

    fk.keys("w", &["g", "l", "l", "S"]);
    // As DuckDB prints a DOUBLE: 749.0, 748.5.
    let top = format!("{lima_max:?}");
    fk.wait_screen("w", "sorted by fare, descending", |s| {
        s.contains("sorted fare ↓") && s.contains("row 1 of 3,000")
    });

    fk.keys("w", &["/"]);
    fk.wait_screen("w", "the filter prompt", |s| {
        s.contains("filter (SQL expression")
    });
    fk.keys("w", &["-l", "city = 'Lima'"]);
    fk.keys("w", &["Enter"]);
    // The first row, once drawn, holds the largest Lima fare.
    fk.wait_screen("w", "only Lima, largest fare first", |s| {
        s.contains("filter city = 'Lima'")
            && s.contains("row 1 of 1,000")
            && s.lines()
                .any(|l| l.contains("   1 ") && l.contains("Lima") && l.contains(&top))
    });

    let out = fk.path().join("lima.csv");
    fk.keys("w", &["e"]);
    fk.wait_screen("w", "the export prompt", |s| s.contains("export to"));
    fk.keys("w", &["C-u"]);
    fk.keys("w", &["-l", &out.to_string_lossy()]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the export done", |s| {
        s.contains("exported 1,000 rows")
    });

    // Read the export back and compare with what the generator wrote.
    let back = fk.ok(&[
        "sql",
        "--db",
        ":memory:",
        "--format",
        "csv",
        &format!(
            "SELECT count(*) AS n, max(fare) AS top, bool_and(city = 'Lima') AS lima, \
             first(fare) AS first FROM read_csv('{}')",
            out.display()
        ),
    ]);
    assert_eq!(back, format!("n,top,lima,first\n1000,{top},true,{top}\n"));
    let mut fares: Vec<String> = fk
        .ok(&[
            "sql",
            "--db",
            ":memory:",
            "--format",
            "csv",
            &format!("SELECT fare FROM read_csv('{}')", out.display()),
        ])
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    let shown = fares.clone();
    fares.sort_by(|a, b| {
        b.parse::<f64>()
            .unwrap()
            .total_cmp(&a.parse::<f64>().unwrap())
    });
    assert_eq!(shown, fares, "exported in the grid's order");
}

#[test]
fn cancel_a_query_kill_the_worker_mid_query_and_terminals_live_on() {
    let fk = Fk::new();
    fk.terminal("w", 160, 40);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.ok(&["action", "open", "sql"]);
    fk.wait_screen("w", "the SQL editor", |s| s.contains("C-r runs"));
    fk.keys(
        "w",
        &["-l", "SELECT sum(hash(i)) FROM range(100000000000) t(i)"],
    );
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "the query running", |s| s.contains("Esc cancels"));
    fk.keys("w", &["Escape"]);
    // A cancel is said as one ("cancelled"), never as DuckDB's INTERRUPT error.
    let shown = fk.wait_screen("w", "the query cancelled", |s| s.contains("cancelled"));
    assert!(
        !shown.contains("INTERRUPT") && !shown.contains("Could not load"),
        "{shown}"
    );

    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "the query running again", |s| {
        s.contains("Esc cancels")
    });
    let server = fk.server_pid();
    let worker = data_worker(server).expect("a data worker");
    unsafe {
        libc::kill(worker, libc::SIGKILL);
    }
    fk.wait_screen("w", "the loss reported in the panes", |s| {
        s.contains("The data worker stopped (killed by signal 9)")
    });

    // The terminal beside it never noticed.
    fk.ok(&["send-keys", "--pane", "1", "echo still-$((40+2))", "Enter"]);
    fk.wait_screen("w", "the shell answering", |s| s.contains("still-42"));

    // A new buffer, a new query: the worker was restarted.
    fk.keys("w", &["F2"]);
    fk.keys("w", &["-l", "SELECT 'ok-' || 6*7 AS answer"]);
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "an answer from the new worker", |s| {
        s.contains("ok-42")
    });
    let again = data_worker(server).expect("a new data worker");
    assert_ne!(again, worker);
    assert_eq!(fk.server_pid(), server, "the server lived on");
}

#[test]
fn headless_sql_matches_the_duckdb_cli_and_fails_loudly() {
    let fk = Fk::new();
    let csv = fk.path().join("m.csv");
    std::fs::write(
        &csv,
        "id,name,score,day,ok\n1,\"Smith, J\",3.25,2024-02-29,true\n2,\"say \"\"hi\"\"\",,2024-03-01,false\n3,Ünïcode,-0.5,,\n",
    )
    .expect("csv");
    let queries = [
        format!("SELECT * FROM read_csv('{}') ORDER BY id", csv.display()),
        "SELECT range AS n, range / 7 AS d, range::DECIMAL(10,2) AS dec, NULL AS z FROM range(5)"
            .into(),
        "SELECT 'a,b' AS s, [1, 2] AS l, {'k': 1} AS st, DATE '2024-01-01' + 1 AS dt".into(),
    ];
    let duckdb = common::tools::duckdb_cli();
    for q in queries {
        let ours = fk.ok(&["sql", "--db", ":memory:", "--format", "csv", &q]);
        let theirs = std::process::Command::new(&duckdb)
            .args(["-csv", "-c", &q])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "the duckdb CLI ({}; ./setup installs it): {e}",
                    duckdb.display()
                )
            });
        assert!(
            theirs.status.success(),
            "{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(ours, String::from_utf8_lossy(&theirs.stdout), "for {q}");
    }
    // Error columns past string literals, with the duckdb CLI's caret as the oracle: the CLI
    // shows a window of a long line with its caret under the offending token; fieldkit must
    // name that token's column in the whole query.
    let flights = fk.path().join("flights.csv");
    let airlines = fk.path().join("airlines.csv");
    std::fs::write(&flights, "carrier,x\nAA,1\n").expect("csv");
    std::fs::write(&airlines, "carrier,name\nAA,American\n").expect("csv");
    for (q, token) in [
        (
            format!(
                "SELECT * FROM '{}' f JOIN '{}' a ON f.carrier = a.carrier LIMT 5",
                flights.display(),
                airlines.display()
            ),
            "LIMT",
        ),
        (
            format!("SELECT 'a long string literal, with commas' AS s, x FROM '{}' WHERE x >> 1 ORDR BY 1", flights.display()),
            "ORDR",
        ),
    ] {
        let theirs = std::process::Command::new(&duckdb)
            .args(["-c", &q])
            .output()
            .expect("the duckdb CLI");
        let text = String::from_utf8_lossy(&theirs.stderr).into_owned()
            + &String::from_utf8_lossy(&theirs.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with("LINE 1:"))
            .unwrap_or_else(|| panic!("the CLI shows where: {text}"));
        let caret = lines[i + 1].find('^').expect("a caret");
        let under: String = lines[i].chars().skip(caret).take(token.len()).collect();
        assert_eq!(under, token, "the CLI's caret is under {token}: {text}");
        let want = q.find(&format!(" {token} ")).expect("the token") + 2;
        let bad = fk.run(&["sql", "--db", ":memory:", &q]);
        assert!(!bad.status.success());
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(
            err.contains(&format!("(line 1, column {want})")),
            "{token} is at column {want}: {err}"
        );
    }
    let bad = fk.run(&["sql", "--db", ":memory:", "SELECT 1,\n  nosuch"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("nosuch") && err.contains("(line 2, column 3)"),
        "{err}"
    );
    let from = fk.ok(&[
        "sql",
        "--db",
        ":memory:",
        "--from",
        "mysql",
        "--format",
        "json",
        "SELECT \"x\" AS `s`, 2 AS n LIMIT 0, 1",
    ]);
    assert_eq!(from, "[\n  {\n    \"s\": \"x\",\n    \"n\": 2\n  }\n]\n");
    let piped = {
        use std::io::Write;
        let mut c = std::process::Command::new(BIN)
            .args(["sql", "--db", ":memory:", "--format", "csv", "-"])
            .env("FIELDKIT_HOME", fk.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(b"CREATE TABLE t AS SELECT 5 AS v;\nSELECT v * 2 AS w FROM t;\n")
            .expect("write");
        c.wait_with_output().expect("wait")
    };
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "w\n10\n");
}

#[test]
fn pick_a_file_from_the_terminals_folder_and_reuse_a_query_from_history() {
    let fk = Fk::new();
    let dir = fk.path().join("survey");
    std::fs::create_dir_all(dir.join("2024")).expect("dir");
    std::fs::write(
        dir.join("2024/wells.csv"),
        "well,depth\nW-1,12.5\nW-2,30.25\n",
    )
    .expect("csv");
    std::fs::write(dir.join("notes.txt"), "not data\n").expect("txt");
    fk.terminal("w", 160, 40);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    fk.type_line("w", &format!("cd {}", dir.display()));
    // The palette's open-file, without a path, lists the data files under the terminal's folder.
    fk.keys("w", &["C-b", ":"]);
    fk.wait_screen("w", "the palette", |s| s.contains("command palette"));
    fk.keys("w", &["-l", "open-file"]);
    fk.wait_screen("w", "open-file in the palette", |s| {
        s.contains("open-file …")
    });
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "a prompt for the path", |s| s.contains("open-file"));
    // An empty path opens the picker instead.
    fk.keys("w", &["Enter"]);
    let s = fk.wait_screen("w", "the file picker", |s| s.contains("wells.csv"));
    assert!(!s.contains("notes.txt"), "only data files are listed: {s}");
    fk.keys("w", &["-l", "wells"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the file in a grid", |s| {
        s.contains("W-2") && s.contains("30.25") && s.contains("row 1 of 2")
    });

    fk.ok(&["action", "open", "sql"]);
    fk.wait_screen("w", "the SQL editor", |s| s.contains("C-r runs"));
    fk.keys("w", &["-l", "SELECT max(depth) AS deepest FROM wells"]);
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "the result", |s| {
        s.contains("deepest") && s.contains("30.25")
    });
    fk.keys("w", &["F2"]);
    fk.wait_screen("w", "a second buffer", |s| s.contains("buffer 2/2"));
    fk.keys("w", &["C-o"]);
    fk.wait_screen("w", "the history picker", |s| s.contains("SQL history"));
    fk.keys("w", &["-l", "deepest"]);
    fk.keys("w", &["Enter"]);
    fk.wait_screen("w", "the query back in the editor", |s| {
        !s.contains("SQL history") && s.contains(" 1 SELECT max(depth) AS deepest")
    });
    // A mistake is shown at its line and column.
    // A lone ";" would be a command separator to tmux.
    fk.keys("w", &["-l", "; -- the next one is wrong"]);
    fk.keys("w", &["Enter"]);
    fk.keys("w", &["-l", "SELECT nosuch FROM wells"]);
    fk.keys("w", &["C-r"]);
    fk.wait_screen("w", "the error with its place", |s| {
        s.contains("line 2, column 8")
    });
}

/// The boxes drawn on a screen: each pane's number and its size, border included, found from
/// its top-left corner (`┌ N` or `┏ N`) to the corners that close it.
fn pane_boxes(screen: &str) -> Vec<(u32, usize, usize)> {
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let mut out = Vec::new();
    for (y, row) in rows.iter().enumerate() {
        for x in 0..row.len() {
            if !matches!(row[x], '┌' | '┏') || row.get(x + 1) != Some(&' ') {
                continue;
            }
            let digits: String = row[x + 2..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let Ok(n) = digits.parse::<u32>() else {
                continue;
            };
            let right = (x + 1..row.len()).find(|&i| matches!(row[i], '┐' | '┓'));
            let bottom =
                (y + 1..rows.len()).find(|&j| matches!(rows[j].get(x), Some('└') | Some('┗')));
            if let (Some(r), Some(b)) = (right, bottom) {
                out.push((n, r - x + 1, b - y + 1));
            }
        }
    }
    out
}

/// Four files opened from the command line, an SQL editor and a run, at 80x24 (issue 18's
/// session): every pane keeps at least 20x5, and what does not fit gets a tab of its own.
#[test]
fn opening_four_files_an_editor_and_a_run_keeps_every_pane_usable() {
    let fk = Fk::new();
    let mut files = Vec::new();
    for name in ["flights", "airlines", "airports", "planes"] {
        let p = fk.path().join(format!("{name}.csv"));
        std::fs::write(&p, format!("id,{name}_name\n1,a\n2,b\n")).expect("csv");
        files.push(p);
    }
    fk.terminal("w", 80, 24);
    fk.type_line("w", BIN);
    fk.wait_screen("w", "the workspace", |s| s.contains("C-b prefix"));
    for f in &files {
        fk.ok(&["open", &f.display().to_string()]);
    }
    fk.ok(&["action", "open", "sql"]);
    fk.wait_screen("w", "the SQL editor", |s| {
        s.contains("C-r runs") || s.contains(" sql ")
    });
    fk.keys("w", &["-l", "SELECT 42 AS answer"]);
    fk.keys("w", &["C-r"]);
    let run = fk.wait_screen("w", "the answer in a grid", |s| s.contains("row 1 of 1"));
    fk.keys("w", &["C-b", "1"]);
    let files_tab = fk.wait_screen("w", "the first tab", |s| s.contains("planes"));
    let mut panes = 0;
    for screen in [&run, &files_tab] {
        let boxes = pane_boxes(screen);
        assert!(boxes.len() >= 2, "{screen}");
        for (n, w, h) in &boxes {
            assert!(*w >= 20 && *h >= 5, "pane {n} is {w}x{h}:\n{screen}");
        }
        panes += boxes.len();
    }
    // Every pane is on one of the two tabs: the terminal, four grids, the editor, its grid.
    let ls = fk.ok(&["ls"]);
    assert!(ls.contains("2 tabs, 7 panes"), "{ls}");
    assert_eq!(panes, 7, "{run}\n{files_tab}");
}
