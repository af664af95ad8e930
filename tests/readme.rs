//! The README is for users: its key table must be the keymap's, and its test command must be
//! the one CI runs.

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
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- dialects:start -->\n")
        .expect("dialects:start marker")
        + "<!-- dialects:start -->\n".len();
    let end = readme
        .find("<!-- dialects:end -->")
        .expect("dialects:end marker");
    let mut expected = String::from("| dialect | translated to DuckDB |\n|---|---|\n");
    for (d, what) in fieldkit::engine::dialect::TRANSLATED {
        expected.push_str(&format!("| {d} | {what} |\n"));
    }
    assert_eq!(
        &readme[start..end],
        expected,
        "README's dialect table is stale"
    );
}
