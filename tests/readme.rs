//! The README is for users: its key table must be the keymap's, its test command must be the
//! one CI runs, and every translation its dialect table shows must be what the translator does.

#[test]
fn readme_key_table_matches_the_default_keymap() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- keys:start -->\n")
        .expect("keys:start marker")
        + "<!-- keys:start -->\n".len();
    let end = readme.find("<!-- keys:end -->").expect("keys:end marker");
    let table = &readme[start..end];
    let expected = fieldkit::keymap::Keymap::default_map().markdown();
    assert_eq!(
        table, expected,
        "README's key table is stale: replace it with the output of `FIELDKIT_HOME=/nonexistent fieldkit keys --markdown`"
    );
}

#[test]
fn readme_commands_are_what_ci_runs() {
    let readme = include_str!("../README.md");
    let ci = include_str!("../.ci/run");
    let test_cmd = "./setup && cargo test --release --workspace";
    assert!(
        readme.contains(&format!("```sh\n{test_cmd}\n```")),
        "README shows the test command"
    );
    assert!(
        ci.lines().any(|l| l.trim() == test_cmd),
        ".ci/run runs it verbatim"
    );
    assert!(readme.contains("```sh\n./setup && cargo run --release\n```"));
}

#[test]
fn readme_dialect_table_is_what_the_translator_does() {
    let mut expected = String::from("| dialect | translated to DuckDB |\n|---|---|\n");
    for (d, what) in fieldkit::format::dialect::TRANSLATED {
        expected.push_str(&format!("| {d} | {what} |\n"));
    }
    assert_eq!(dialect_table(), expected, "README's dialect table is stale");
}

/// The README's dialect table, between its markers.
fn dialect_table() -> &'static str {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- dialects:start -->\n")
        .expect("dialects:start marker")
        + "<!-- dialects:start -->\n".len();
    let end = readme
        .find("<!-- dialects:end -->")
        .expect("dialects:end marker");
    &readme[start..end]
}

/// The code spans of a Markdown table cell in order, each with the text before it, and the
/// text after the last one (CommonMark: a span opens with a run of backticks and closes at the
/// next run of the same length; one space inside each end is dropped when both are there).
fn code_spans(cell: &str) -> (Vec<(String, String)>, String) {
    let mut spans = Vec::new();
    let mut prose = String::new();
    let mut rest = cell;
    while let Some(open) = rest.find('`') {
        let n = rest[open..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(n);
        let body = &rest[open + n..];
        // The next run of exactly n backticks.
        let mut close = None;
        let mut i = 0;
        while let Some(j) = body[i..].find(&fence) {
            let at = i + j;
            let run = body[at..].chars().take_while(|c| *c == '`').count();
            if run == n {
                close = Some(at);
                break;
            }
            i = at + run;
        }
        let Some(close) = close else {
            panic!("unclosed code span in {cell:?}");
        };
        let mut code = &body[..close];
        if code.len() >= 2
            && code.starts_with(' ')
            && code.ends_with(' ')
            && !code.trim().is_empty()
        {
            code = &code[1..code.len() - 1];
        }
        prose.push_str(&rest[..open]);
        spans.push((std::mem::take(&mut prose), code.to_string()));
        rest = &body[close + n..];
    }
    (spans, rest.to_string())
}

/// The claims of one cell: `L` -> `R` is "L becomes R"; a `span` alone is "passes unchanged".
fn claims(cell: &str) -> Vec<(String, String)> {
    let (spans, tail) = code_spans(cell);
    let mut out = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        match spans.get(i + 1) {
            Some((between, r)) if between.trim() == "->" => {
                out.push((spans[i].1.clone(), r.clone()));
                i += 2;
            }
            _ => {
                out.push((spans[i].1.clone(), spans[i].1.clone()));
                i += 1;
            }
        }
    }
    let arrows = spans
        .iter()
        .map(|(p, _)| p.matches("->").count())
        .sum::<usize>()
        + tail.matches("->").count();
    let pairs = out.iter().filter(|(l, r)| l != r).count();
    assert_eq!(
        arrows, pairs,
        "every -> in {cell:?} is between two code spans"
    );
    out
}

/// Every row of the README's dialect table, read from the README (not from `TRANSLATED`): each
/// `L` -> `R` it shows is run through the translator in each dialect of the row, as a statement
/// (`SELECT L`, or `SELECT * FROM t L` for a clause such as LIMIT), and must give `R` in the
/// same place; a span alone must pass through unchanged.
#[test]
fn readme_dialect_table_rows_are_what_the_translator_does() {
    use fieldkit::format::dialect::translate;
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in dialect_table().lines().skip(2) {
        let row = line
            .strip_prefix("| ")
            .and_then(|r| r.strip_suffix(" |"))
            .unwrap_or_else(|| panic!("not a table row: {line:?}"));
        let (dialects, cell) = row
            .split_once(" | ")
            .unwrap_or_else(|| panic!("two cells: {line:?}"));
        let claims = claims(cell);
        assert!(!claims.is_empty(), "a row that shows nothing: {line:?}");
        for d in dialects.split(", ") {
            for (l, r) in &claims {
                let as_expression = translate(&format!("SELECT {l}"), d).is_ok();
                let wrap = |s: &str| {
                    if as_expression {
                        format!("SELECT {s}")
                    } else {
                        format!("SELECT * FROM t {s}")
                    }
                };
                checked += 1;
                match translate(&wrap(l), d) {
                    Ok(got) if got == wrap(r) => {}
                    got => wrong.push(format!(
                        "{d}: {:?} gave {got:?}; the README says {:?}",
                        wrap(l),
                        wrap(r)
                    )),
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} claims found in the table");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
