//! The SQL editor's tests: typing, running, errors, completion by context, snapshots.
use super::*;
use crate::data::{CatalogTable, Column};
use crate::testkit::settings;

/// Types `s` as a person would: Enter indents the new line as the one before (the editor's
/// auto-indent), so a line's own indent is typed after Backspace takes that away.
fn typed(p: &mut SqlPane, s: &str) {
    use crossterm::event::KeyCode;
    let mut cx = Cx::default();
    for ch in s.chars() {
        if ch == '\n' {
            let lines = p.lines().len();
            p.on_input(&KeyEvent::from(KeyCode::Enter), &mut cx);
            if p.lines().len() > lines {
                for _ in 0..p.cursor_at().1 {
                    p.on_input(&KeyEvent::from(KeyCode::Backspace), &mut cx);
                }
            }
        } else {
            p.on_input(&KeyEvent::from(KeyCode::Char(ch)), &mut cx);
        }
    }
}

fn snapshot(pane: &mut SqlPane, w: u16, h: u16) -> String {
    use ratatui::backend::TestBackend;
    let mut term = ratatui::Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let theme = Theme::default();
    term.draw(|f| {
        let area = f.area();
        pane.render(
            area,
            f.buffer_mut(),
            &RenderCx {
                theme: &theme,
                focused: true,
                retained: false,
            },
        );
        if let Some(p) = pane.cursor(area) {
            f.set_cursor_position(p);
        }
    })
    .expect("draw");
    let buf = term.backend().buffer().clone();
    // Colours matter here (highlighting, the error mark): list each run of one style.
    let mut styles = String::new();
    for y in 0..buf.area.height.min(6) {
        let mut last = None;
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let st = (c.fg, c.modifier);
            if last != Some(st) {
                styles.push_str(&format!("({x},{y}) {:?} {:?}\n", c.fg, c.modifier));
                last = Some(st);
            }
        }
    }
    format!("{}\n{styles}", term.backend())
}

#[test]
fn snapshots() {
    settings().bind(|| {
        let mut p = SqlPane::default();
        insta::assert_snapshot!("sql_empty_80x24", snapshot(&mut p, 80, 24));
        typed(&mut p, "-- fares by city\nSELECT city, sum(fare) AS total\n  FROM trips\n WHERE note <> 'x' AND id > 10\n GROUP BY city;");
        insta::assert_snapshot!("sql_highlight_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("sql_highlight_140x30", snapshot(&mut p, 140, 30));
        let mut cx = Cx::default();
        p.on_action(&Action::parse("run statement").unwrap(), &mut cx);
        p.on_engine(
            EngineEvent::Data(DataEvent::Error {
                seq: 0,
                message: "Binder Error: Referenced column \"note\" not found in FROM clause!".into(),
                line: Some(3),
                column: Some(8),
            }),
            &mut cx,
        );
        insta::assert_snapshot!("sql_error_80x24", snapshot(&mut p, 80, 24));
        p.catalog = Catalog {
            tables: vec![CatalogTable {
                name: "trips".into(),
                columns: vec![
                    Column { name: "city".into(), ty: "VARCHAR".into() },
                    Column { name: "fare".into(), ty: "DOUBLE".into() },
                    Column { name: "fare_class".into(), ty: "VARCHAR".into() },
                ],
            }],
            functions: vec!["favg".into(), "fdiv".into()],
        };
        typed(&mut p, "\nSELECT fa");
        p.on_action(&Action::parse("complete").unwrap(), &mut cx);
        insta::assert_snapshot!("sql_autocomplete_80x24", snapshot(&mut p, 80, 24));
        p.on_action(&Action::parse("cancel").unwrap(), &mut cx);
        p.on_action(&Action::parse("catalog").unwrap(), &mut cx);
        insta::assert_snapshot!("sql_catalog_120x24", snapshot(&mut p, 120, 24));
    });
}

#[test]
fn buffers_are_kept_in_the_saved_state() {
    let mut p = SqlPane::default();
    typed(&mut p, "select 1");
    let mut cx = Cx::default();
    p.on_action(&Action::parse("buffer new").unwrap(), &mut cx);
    typed(&mut p, "select 2");
    assert_eq!(
        p.save(),
        PaneState::Sql {
            buffers: vec!["select 1".into(), "select 2".into()],
            active: 1,
            dialect: None
        }
    );
    let mut back = SqlPane::new(
        vec!["select 1".into(), "select 2".into()],
        1,
        Some("mysql".into()),
    );
    assert_eq!(back.text(), "select 2");
    p.on_action(&Action::parse("buffer prev").unwrap(), &mut cx);
    assert_eq!(p.text(), "select 1");
    back.on_action(&Action::parse("run all").unwrap(), &mut cx);
    assert!(cx
        .effects
        .contains(&Effect::Engine(EngineRequest::Sql(SqlRequest::Run {
            sql: "select 2".into(),
            dialect: Some("mysql".into())
        }))));
}

#[test]
fn esc_closes_the_catalog_tree() {
    let mut p = SqlPane::default();
    let mut cx = Cx::default();
    p.on_action(&Action::parse("catalog").unwrap(), &mut cx);
    assert!(p.tree);
    p.on_action(&Action::parse("cancel").unwrap(), &mut cx);
    assert!(!p.tree);
}

#[test]
fn a_cancelled_query_says_cancelled_not_an_error() {
    let mut p = SqlPane::default();
    typed(&mut p, "select * from range(1e12)");
    let mut cx = Cx::default();
    p.on_action(&Action::parse("run all").unwrap(), &mut cx);
    p.on_engine(
        EngineEvent::Data(DataEvent::Error {
            seq: 0,
            message: "INTERRUPT Error: Interrupted!".into(),
            line: None,
            column: None,
        }),
        &mut cx,
    );
    let text = crate::testkit::snapshot(&mut p, 60, 6);
    assert!(text.contains("cancelled"), "{text}");
    assert!(!text.contains("INTERRUPT"), "{text}");
}

#[test]
fn run_sends_the_statement_under_the_cursor_with_its_position() {
    let mut p = SqlPane::default();
    typed(&mut p, "select 1;\n\nselect 2\n  from t;");
    let mut cx = Cx::default();
    p.on_action(&Action::parse("run statement").unwrap(), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Sql(SqlRequest::Run {
            sql: "select 2\n  from t".into(),
            dialect: None
        }))]
    );
    assert_eq!(p.origin, (2, 0));
    // An error on the statement's second line lands on the buffer's fourth.
    p.on_engine(
        EngineEvent::Data(DataEvent::Error {
            seq: 0,
            message: "Binder Error: no t".into(),
            line: Some(2),
            column: Some(8),
        }),
        &mut cx,
    );
    assert_eq!(
        p.last,
        Some(RunState::Error {
            message: "Binder Error: no t".into(),
            at: Some((3, 7))
        })
    );
}

fn two_tables() -> SqlPane {
    let col = |n: &str| Column {
        name: n.into(),
        ty: "VARCHAR".into(),
    };
    SqlPane {
        catalog: Catalog {
            tables: vec![
                CatalogTable {
                    name: "flights".into(),
                    columns: vec![col("flight"), col("air_time"), col("carrier")],
                },
                CatalogTable {
                    name: "airlines".into(),
                    columns: vec![col("carrier"), col("name")],
                },
            ],
            functions: vec!["floor".into()],
        },
        ..SqlPane::default()
    }
}

/// Tab completes what may stand there: tables after FROM and JOIN, an alias's columns
/// after `alias.`, and elsewhere the statement's columns first.
#[test]
fn completion_follows_the_context() {
    let candidates = |text: &str| {
        let mut p = two_tables();
        typed(&mut p, text);
        let (word, q) = p.word_before_cursor();
        let (before, whole) = p.statement_around_word(&word, q.as_deref());
        p.candidates_in(&word, q.as_deref(), &before, &whole)
    };
    // The two the issue saw: JOIN air took the column air_time; FROM fli offered flight.
    assert_eq!(
        candidates("SELECT * FROM flights f JOIN air"),
        vec!["airlines"]
    );
    assert_eq!(candidates("SELECT * FROM fli"), vec!["flights"]);
    assert_eq!(candidates("SELECT * FROM flights, air"), vec!["airlines"]);
    // An alias's columns, aliases given with and without AS, and for a file read in place.
    assert_eq!(
        candidates("SELECT * FROM flights f JOIN airlines AS a ON f.carrier = a."),
        vec!["carrier", "name"]
    );
    assert_eq!(
        candidates("SELECT * FROM flights f JOIN airlines a ON f."),
        vec!["flight", "air_time", "carrier"]
    );
    assert_eq!(
        candidates("SELECT * FROM flights f JOIN airlines AS a ON a.n"),
        vec!["name"]
    );
    assert_eq!(
        candidates("SELECT f.a FROM 'data/flights.csv' f WHERE f.ai"),
        vec!["air_time"]
    );
    // Elsewhere: the statement's columns before keywords, functions and other tables.
    let c = candidates("SELECT * FROM flights WHERE fl");
    assert_eq!(c.first().map(String::as_str), Some("flight"), "{c:?}");
    assert!(c.contains(&"floor".to_string()), "{c:?}");
    // In the next statement, the last one's tables do not count.
    let c = candidates("SELECT * FROM airlines;\nSELECT * FROM flights WHERE ca");
    assert_eq!(c.first().map(String::as_str), Some("carrier"));
    // More than one: a list to choose from, nothing inserted yet.
    let mut p = two_tables();
    typed(&mut p, "SELECT * FROM flights WHERE c");
    p.on_action(&Action::parse("complete").unwrap(), &mut Cx::default());
    assert!(p.completion.is_some());
    assert_eq!(p.text(), "SELECT * FROM flights WHERE c");
}

/// A path in quotes after FROM: the server lists the files, one is taken, several open the
/// list; an answer for text typed on since is dropped.
#[test]
fn paths_in_quotes_complete_from_the_files_the_server_lists() {
    let mut p = two_tables();
    typed(&mut p, "SELECT * FROM 'da");
    let mut cx = Cx::default();
    p.on_action(&Action::parse("complete").unwrap(), &mut cx);
    assert_eq!(
        cx.effects,
        vec![Effect::Engine(EngineRequest::Sql(
            SqlRequest::CompletePath {
                partial: "da".into()
            }
        ))]
    );
    p.on_engine(
        EngineEvent::Completions {
            typed: "da".into(),
            items: vec!["data/".into()],
        },
        &mut cx,
    );
    assert_eq!(p.text(), "SELECT * FROM 'data/");
    p.on_engine(
        EngineEvent::Completions {
            typed: "data/".into(),
            items: vec!["data/flights.csv".into(), "data/fleet.parquet".into()],
        },
        &mut cx,
    );
    assert_eq!(
        p.completion.as_ref().map(|c| c.items.len()),
        Some(2),
        "several: the list opens"
    );
    p.completion = None;
    p.on_engine(
        EngineEvent::Completions {
            typed: "d".into(),
            items: vec!["docs/".into()],
        },
        &mut cx,
    );
    assert_eq!(
        p.text(),
        "SELECT * FROM 'data/",
        "a stale answer changes nothing"
    );
}

#[test]
fn completion_uses_the_catalog_and_qualifiers() {
    let mut p = SqlPane {
        catalog: Catalog {
            tables: vec![CatalogTable {
                name: "trips".into(),
                columns: vec![
                    Column {
                        name: "fare".into(),
                        ty: "DOUBLE".into(),
                    },
                    Column {
                        name: "pickup".into(),
                        ty: "TIMESTAMP".into(),
                    },
                ],
            }],
            functions: vec!["fsum".into()],
        },
        ..SqlPane::default()
    };
    // With no statement around the word: tables after FROM, columns by their table.
    assert_eq!(
        p.candidates_in("tr", None, "SELECT * FROM ", "SELECT * FROM tr"),
        vec!["trips"]
    );
    assert_eq!(
        p.candidates_in("", Some("trips"), "", ""),
        vec!["fare", "pickup"]
    );
    typed(&mut p, "select pic");
    let mut cx = Cx::default();
    let complete = Action::parse("complete").unwrap();
    p.on_action(&complete, &mut cx);
    assert_eq!(p.text(), "select pickup");
    // Several candidates open a list; Tab moves, Enter takes the selected one.
    typed(&mut p, ", pi");
    p.on_action(&complete, &mut cx);
    assert_eq!(
        p.completion.as_ref().map(|c| c.items.clone()),
        Some(vec!["pickup".to_string(), "PIVOT".to_string()])
    );
    p.on_action(&complete, &mut cx);
    typed(&mut p, "\n");
    assert_eq!(p.text(), "select pickup, PIVOT");
}

/// The SQL editor is the code editor: its verbs work here, and C-s asks where to write the
/// query, then saves it through the editor's service.
#[test]
fn the_editors_verbs_work_in_the_sql_editor() {
    let mut p = SqlPane::default();
    typed(&mut p, "select 1;\nselect 2;");
    let mut cx = Cx::default();
    for verb in ["select-all", "cut"] {
        p.on_action(&Action::parse(verb).unwrap(), &mut cx);
    }
    assert_eq!(p.text(), "");
    p.on_action(&Action::parse("undo").unwrap(), &mut cx);
    assert_eq!(p.text(), "select 1;\nselect 2;");
    let mut cx = Cx::default();
    p.on_action(&Action::parse("save").unwrap(), &mut cx);
    assert!(
        matches!(&cx.effects[..], [Effect::Ui(UiCommand::Prompt { then, .. })] if then == "save-as"),
        "{:?}",
        cx.effects
    );
    let mut cx = Cx::default();
    p.on_action(&Action::parse("save-as /w/q.sql").unwrap(), &mut cx);
    assert!(
        cx.effects.iter().any(|e| matches!(e,
            Effect::Engine(EngineRequest::Editor(crate::editor::EditorRequest::Save { path, text, .. }))
                if path == "/w/q.sql" && *text == "select 1;\nselect 2;")),
        "{:?}",
        cx.effects
    );
    // Find opens the editor's bar, which takes the keys; Esc closes it.
    p.on_action(&Action::parse("find").unwrap(), &mut cx);
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::Typing);
    p.on_input(&KeyEvent::from(crossterm::event::KeyCode::Esc), &mut cx);
    assert_eq!(p.hints(&mut Vec::new()), crate::Hints::WithKeymap);
}

#[test]
fn the_models_sql_ends_the_asking_note_even_when_it_is_not_run() {
    let mut p = two_tables();
    let mut cx = Cx::default();
    p.ask_data("how many flights per carrier?", &mut cx);
    for t in ["SELECT", " 1"] {
        p.on_engine(
            EngineEvent::Chat(crate::llm::ChatEvent::Gen(crate::llm::LlmEvent::Token(
                t.into(),
            ))),
            &mut Cx::default(),
        );
    }
    assert!(snapshot(&mut p, 100, 12).contains("asking the model (2 tokens)"));
    // The server puts the SQL in; the user then says no to running it: nothing more comes.
    p.on_engine(
        EngineEvent::InsertText("DELETE FROM flights".into()),
        &mut Cx::default(),
    );
    let s = snapshot(&mut p, 100, 12);
    assert!(!s.contains("asking the model"), "{s}");
    assert!(s.contains("the model's SQL is in the editor"), "{s}");
}
