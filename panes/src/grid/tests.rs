//! The grid's tests: fed actions and worker events, their requests read back, and snapshots.
use super::*;
use crate::testkit::{settings, snapshot};

#[test]
fn an_empty_grid_takes_a_file_and_a_loaded_one_does_not() {
    let csv = Source::File("/data/trips.csv".into());
    let mut empty = GridPane::new();
    let mut cx = Cx::default();
    let out = empty.on_engine(EngineEvent::OpenSource(csv.clone()), &mut cx);
    assert_eq!(out, Outcome::Consumed);
    assert_eq!(empty.source(), Some(&csv));
    assert!(
        cx.effects.iter().any(|e| matches!(
            e,
            Effect::Engine(EngineRequest::Data(DataRequest::Load { .. }))
        )),
        "it asks the worker to load: {:?}",
        cx.effects
    );
    let other = Source::File("/data/other.csv".into());
    let mut cx = Cx::default();
    assert_eq!(
        empty.on_engine(EngineEvent::OpenSource(other), &mut cx),
        Outcome::Ignored
    );
    assert_eq!(empty.source(), Some(&csv), "what it shows stays");
    assert!(cx.effects.is_empty());
}

fn act(p: &mut GridPane, a: &str) -> Cx {
    let mut cx = Cx::default();
    p.on_action(&Action::parse(a).expect("action"), &mut cx);
    cx
}

fn requests(cx: &Cx) -> Vec<DataRequest> {
    cx.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Engine(EngineRequest::Data(r)) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn cols() -> Vec<Column> {
    vec![
        Column {
            name: "id".into(),
            ty: "BIGINT".into(),
        },
        Column {
            name: "city".into(),
            ty: "VARCHAR".into(),
        },
        Column {
            name: "fare".into(),
            ty: "DOUBLE".into(),
        },
        Column {
            name: "note".into(),
            ty: "VARCHAR".into(),
        },
    ]
}

fn row(i: u64) -> Vec<Cell> {
    let cities = ["Oslo", "Lima", "Pune", "Kyiv"];
    vec![
        Some(i.to_string()),
        Some(cities[(i % 4) as usize].to_string()),
        Some(format!("{:.2}", (i as f64) * 1.25)),
        if i.is_multiple_of(5) {
            None
        } else {
            Some(format!("{{\"k\": {i}}}"))
        },
    ]
}

/// A grid over `n` rows, every request answered as the worker would.
fn loaded(n: u64) -> GridPane {
    let mut p = GridPane::with_source(Source::File("/data/trips.csv".into()), View::default());
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Ready, &mut cx);
    let seq = p.seq;
    let mut cx = Cx::default();
    p.on_engine(
        EngineEvent::Data(DataEvent::Loaded {
            seq,
            result: 7,
            columns: cols(),
            rows: Some(n),
            notes: vec![],
        }),
        &mut cx,
    );
    answer(&mut p, &cx);
    p
}

fn answer(p: &mut GridPane, cx: &Cx) {
    for r in requests(cx) {
        if let DataRequest::Rows {
            seq,
            result,
            offset,
            limit,
            first_col,
            cols,
        } = r
        {
            let total = p.total.unwrap_or(p.known);
            let rows = (offset..(offset + limit as u64).min(total))
                .map(|i| {
                    row(i)
                        .into_iter()
                        .skip(first_col as usize)
                        .take(cols as usize)
                        .collect()
                })
                .collect();
            let mut cx2 = Cx::default();
            p.on_engine(
                EngineEvent::Data(DataEvent::Rows {
                    seq,
                    result,
                    offset,
                    first_col,
                    rows,
                }),
                &mut cx2,
            );
        }
    }
}

#[test]
fn only_windows_near_the_view_are_fetched_and_kept() {
    let mut p = loaded(100_000_000);
    snapshot(&mut p, 80, 24);
    let cx = act(&mut p, "move bottom");
    let asked = requests(&cx);
    assert_eq!(
        asked,
        vec![DataRequest::Rows {
            seq: p.seq,
            result: 7,
            offset: 99_999_800,
            limit: 200,
            first_col: 0,
            cols: 4,
        }]
    );
    answer(&mut p, &cx);
    assert_eq!(p.row, 99_999_999);
    // Far blocks are dropped: memory does not grow with the result.
    assert!(
        p.blocks.len() <= 2 * KEEP_BLOCKS as usize + 2,
        "{:?}",
        p.blocks.keys()
    );
    assert!(!p.blocks.contains_key(&(0, 0)));
}

#[test]
fn a_wide_result_is_fetched_a_block_of_columns_at_a_time() {
    let mut p = GridPane::with_source(Source::Table("wide".into()), View::default());
    let mut cx = Cx::default();
    p.on_engine(EngineEvent::Ready, &mut cx);
    let columns: Vec<Column> = (0..10_000)
        .map(|i| Column {
            name: format!("c{i}"),
            ty: "BIGINT".into(),
        })
        .collect();
    let seq = p.seq;
    let mut cx = Cx::default();
    p.on_engine(
        EngineEvent::Data(DataEvent::Loaded {
            seq,
            result: 1,
            columns,
            rows: Some(2),
            notes: vec![],
        }),
        &mut cx,
    );
    let asked = requests(&cx);
    assert!(
        matches!(
            &asked[..],
            [DataRequest::Rows {
                first_col: 0,
                cols: 64,
                ..
            }]
        ),
        "{asked:?}"
    );
    snapshot(&mut p, 80, 24);
    let cx = act(&mut p, "move end");
    let asked = requests(&cx);
    assert!(
        matches!(
            &asked[..],
            [DataRequest::Rows {
                first_col: 9984,
                cols: 16,
                ..
            }]
        ),
        "{asked:?}"
    );
}

#[test]
fn its_context_is_the_schema_and_the_rows_on_screen() {
    let mut p = loaded(1000);
    snapshot(&mut p, 80, 12);
    let a = p.context().expect("a loaded grid has context");
    assert_eq!(a.title, "grid trips.csv (4 columns, rows 1-9 of 1000)");
    let lines: Vec<&str> = a.body.lines().collect();
    assert!(
        lines[0].starts_with("columns: id BIGINT, city VARCHAR, fare DOUBLE"),
        "{}",
        a.body
    );
    assert!(lines[1].starts_with("id\tcity\tfare\t"), "{}", a.body);
    assert_eq!(lines[2], "0\tOslo\t0.00\tNULL");
    assert_eq!(lines.len(), 2 + 9);
    assert!(GridPane::new().context().is_none());
}

#[test]
fn stale_answers_are_dropped() {
    let mut p = loaded(10);
    let old = p.seq;
    act(&mut p, "sort desc");
    assert_eq!(p.seq, old + 1);
    let mut cx = Cx::default();
    let out = p.on_engine(
        EngineEvent::Data(DataEvent::Rows {
            seq: old,
            result: 7,
            offset: 0,
            first_col: 0,
            rows: vec![row(99)],
        }),
        &mut cx,
    );
    assert_eq!(out, Outcome::Ignored);
}

#[test]
fn sort_filter_and_cell_filter_are_queries() {
    let mut p = loaded(10);
    act(&mut p, "move right");
    let cx = act(&mut p, "sort desc");
    let loads: Vec<View> = requests(&cx)
        .into_iter()
        .filter_map(|r| match r {
            DataRequest::Load { view, .. } => Some(view),
            _ => None,
        })
        .collect();
    assert_eq!(
        loads,
        vec![View {
            filter: None,
            sort: Some(("city".into(), true))
        }]
    );
    // The same sort again turns it off.
    let _ = act(&mut p, "sort desc");
    assert_eq!(p.view.sort, None);
    let seq = p.seq;
    let mut cx = Cx::default();
    p.on_engine(
        EngineEvent::Data(DataEvent::Loaded {
            seq,
            result: 8,
            columns: cols(),
            rows: Some(10),
            notes: vec![],
        }),
        &mut cx,
    );
    answer(&mut p, &cx);
    act(&mut p, "move down");
    act(&mut p, "filter-cell");
    assert_eq!(p.view.filter.as_deref(), Some("\"city\" = 'Lima'"));
    let cx = act(&mut p, "filter");
    assert!(
        matches!(&cx.effects[..], [Effect::Ui(UiCommand::Prompt { initial, then, on_empty, .. })] if initial == "\"city\" = 'Lima'" && then == "filter" && on_empty.as_deref() == Some("filter-clear"))
    );
    let cx = act(&mut p, "filter-clear");
    assert_eq!(p.view.filter, None);
    assert!(
        matches!(&requests(&cx)[..], [.., DataRequest::Load { view, .. }] if view == &View::default())
    );
}

#[test]
fn copy_row_is_tab_separated_and_null_is_empty() {
    let mut p = loaded(10);
    let cx = act(&mut p, "copy-row");
    assert_eq!(
        cx.effects,
        vec![Effect::Ui(UiCommand::Clipboard("0\tOslo\t0.00\t".into()))]
    );
}

#[test]
fn snapshots() {
    settings().bind(|| {
        let mut p = loaded(1_234_567);
        insta::assert_snapshot!("grid_plain_80x24", snapshot(&mut p, 80, 24));
        insta::assert_snapshot!("grid_plain_160x40", snapshot(&mut p, 160, 40));
        act(&mut p, "move right");
        act(&mut p, "move right");
        let cx = act(&mut p, "sort desc");
        assert!(!requests(&cx).is_empty());
        let seq = p.seq;
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 9,
                columns: cols(),
                rows: Some(1_234_567),
                notes: vec![],
            }),
            &mut cx,
        );
        answer(&mut p, &cx);
        insta::assert_snapshot!("grid_sorted_80x24", snapshot(&mut p, 80, 24));
        act(&mut p, "filter fare > 100 and city <> 'Oslo'");
        let seq = p.seq;
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 10,
                columns: cols(),
                rows: Some(4321),
                notes: vec![
                    "3 bad rows skipped; first at line 17: Expected Number of Columns: 4 Found: 5"
                        .into(),
                ],
            }),
            &mut cx,
        );
        answer(&mut p, &cx);
        insta::assert_snapshot!("grid_filtered_80x24", snapshot(&mut p, 80, 24));
        let seq = p.seq;
        let stats_cols: Vec<Column> = [
            "column_name",
            "column_type",
            "min",
            "max",
            "approx_unique",
            "avg",
            "null_percentage",
        ]
        .iter()
        .map(|n| Column {
            name: n.to_string(),
            ty: "VARCHAR".into(),
        })
        .collect();
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Table {
                seq,
                title: "column statistics (SUMMARIZE)".into(),
                columns: stats_cols,
                rows: vec![
                    vec![
                        Some("id".into()),
                        Some("BIGINT".into()),
                        Some("0".into()),
                        Some("1234566".into()),
                        Some("1201344".into()),
                        Some("617283.0".into()),
                        Some("0.00".into()),
                    ],
                    vec![
                        Some("fare".into()),
                        Some("DOUBLE".into()),
                        Some("0.0".into()),
                        Some("1543207.5".into()),
                        Some("1190031".into()),
                        Some("771603.75".into()),
                        Some("0.00".into()),
                    ],
                ],
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_stats_80x24", snapshot(&mut p, 80, 24));
        act(&mut p, "cancel");
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Histogram {
                    column: "fare".into(),
                    bins: (0..12)
                        .map(|i| {
                            (
                                i as f64 * 10.0,
                                (i + 1) as f64 * 10.0,
                                [3, 8, 15, 30, 42, 51, 44, 31, 18, 9, 4, 1][i],
                            )
                        })
                        .collect(),
                },
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_plot_histogram_80x24", snapshot(&mut p, 80, 24));
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Bars {
                    column: "city".into(),
                    bars: vec![
                        ("Oslo".into(), 420),
                        ("Lima".into(), 300),
                        ("Pune".into(), 120),
                        ("Kyiv".into(), 33),
                    ],
                },
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_plot_bars_80x24", snapshot(&mut p, 80, 24));
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Data(DataEvent::Plot {
                seq,
                plot: Plot::Line {
                    x: "id".into(),
                    y: "fare".into(),
                    points: (0..50)
                        .map(|i| (i as f64, ((i as f64) / 6.0).sin() * 10.0 + 20.0))
                        .collect(),
                    how: String::new(),
                },
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_plot_line_160x40", snapshot(&mut p, 160, 40));
        act(&mut p, "cancel");
        act(&mut p, "move right");
        act(&mut p, "inspect");
        insta::assert_snapshot!("grid_inspect_80x24", snapshot(&mut p, 80, 24));
        let mut e = GridPane::with_source(Source::File("/data/bad.bin".into()), View::default());
        let mut cx = Cx::default();
        e.on_engine(EngineEvent::Ready, &mut cx);
        let seq = e.seq;
        e.on_engine(
            EngineEvent::Data(DataEvent::Error {
                seq,
                message: "/data/bad.bin looks binary (it has NUL bytes), not like CSV or JSON text"
                    .into(),
                line: None,
                column: None,
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_error_80x24", snapshot(&mut e, 80, 24));
        let mut l = GridPane::with_source(Source::File("/data/big.csv".into()), View::default());
        l.on_engine(EngineEvent::Ready, &mut cx);
        let seq = l.seq;
        let mut cx = Cx::default();
        l.on_engine(
            EngineEvent::Data(DataEvent::Loaded {
                seq,
                result: 3,
                columns: cols(),
                rows: None,
                notes: vec![],
            }),
            &mut cx,
        );
        answer(&mut l, &cx);
        l.on_engine(
            EngineEvent::Data(DataEvent::Progress {
                seq,
                what: "loading big.csv".into(),
                pct: Some(42.0),
            }),
            &mut cx,
        );
        insta::assert_snapshot!("grid_loading_80x24", snapshot(&mut l, 80, 24));
        insta::assert_snapshot!("grid_empty_80x24", snapshot(&mut GridPane::new(), 80, 24));
    });
}

#[test]
fn json_cells_are_pretty_printed_and_others_kept() {
    assert_eq!(pretty("{\"a\":1}"), "{\n  \"a\": 1\n}");
    assert_eq!(pretty("{not json"), "{not json");
}

/// A filter that fails and a cancelled load keep the rows on screen, the old filter and
/// sort, and say what happened in the footer; the new result replaces the old one only when
/// it is there, and the old one is then forgotten in the worker.
#[test]
fn a_failed_filter_or_a_cancel_keeps_the_rows_and_says_so_in_the_footer() {
    let mut p = loaded(100);
    let before = snapshot(&mut p, 110, 8);
    let cx = act(&mut p, "filter fare >> 3");
    assert!(
        !requests(&cx)
            .iter()
            .any(|r| matches!(r, DataRequest::Forget { .. })),
        "the shown result stays until a new one is there"
    );
    let seq = p.seq;
    p.on_engine(
        EngineEvent::Data(DataEvent::Error {
            seq,
            message: "Parser Error: syntax error at or near \">\"".into(),
            line: Some(1),
            column: Some(8),
        }),
        &mut Cx::default(),
    );
    let after = snapshot(&mut p, 110, 8);
    assert!(!after.contains("Could not load"), "{after}");
    assert!(after.contains("rows from before"), "{after}");
    assert_eq!(p.view.filter, None, "the filter of the rows shown");
    let body = |s: &str| s.lines().take(6).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&after), body(&before), "the same rows");

    // A cancelled sort: the same rows, and "cancelled", not DuckDB's INTERRUPT error.
    act(&mut p, "sort desc");
    let seq = p.seq;
    p.on_engine(
        EngineEvent::Data(DataEvent::Error {
            seq,
            message: "INTERRUPT Error: Interrupted!".into(),
            line: None,
            column: None,
        }),
        &mut Cx::default(),
    );
    let after = snapshot(&mut p, 110, 8);
    assert!(after.contains("cancelled"), "{after}");
    assert!(!after.contains("INTERRUPT"), "{after}");
    assert_eq!(body(&after), body(&before));
    assert_eq!(p.view.sort, None);

    // A filter that works: the new result replaces the old, which is forgotten.
    act(&mut p, "filter fare > 3");
    let seq = p.seq;
    let mut cx = Cx::default();
    p.on_engine(
        EngineEvent::Data(DataEvent::Loaded {
            seq,
            result: 8,
            columns: cols(),
            rows: Some(40),
            notes: vec![],
        }),
        &mut cx,
    );
    assert!(requests(&cx).contains(&DataRequest::Forget { result: 7 }));
    assert_eq!(p.total, Some(40));
    assert_eq!(p.view.filter.as_deref(), Some("fare > 3"));
}

/// The frequency table has a row cursor and Enter filters the grid to the value under it (as in
/// visidata); the stats table scrolls sideways to the columns past `avg`; `m` says what it did.
#[test]
fn popups_scroll_and_act() {
    let mut p = loaded(100);
    p.col = 1;
    act(&mut p, "freq");
    let seq = p.seq;
    p.on_engine(
        EngineEvent::Data(DataEvent::Table {
            seq,
            title: "city: 4 values".into(),
            columns: vec![
                Column {
                    name: "city".into(),
                    ty: "VARCHAR".into(),
                },
                Column {
                    name: "count".into(),
                    ty: "BIGINT".into(),
                },
            ],
            rows: vec![
                vec![Some("Oslo".into()), Some("25".into())],
                vec![Some("Lima".into()), Some("25".into())],
                vec![None, Some("3".into())],
            ],
        }),
        &mut Cx::default(),
    );
    settings().bind(|| {
        insta::assert_snapshot!("grid_freq_popup_80x24", snapshot(&mut p, 80, 24));
    });
    let mut hints = Vec::new();
    assert_eq!(p.hints(&mut hints), crate::Hints::Alone);
    assert!(hints.iter().any(|h| h.desc.contains("filter")), "{hints:?}");
    act(&mut p, "move down");
    let cx = act(&mut p, "inspect");
    assert!(p.overlay.is_none(), "the table closes");
    assert_eq!(p.view.filter.as_deref(), Some("\"city\" = 'Lima'"));
    assert!(requests(&cx)
        .iter()
        .any(|r| matches!(r, DataRequest::Load { view, .. } if view.filter == p.view.filter)));

    // Stats: wide, so it scrolls sideways.
    act(&mut p, "stats");
    let seq = p.seq;
    let names = [
        "column_name",
        "column_type",
        "min",
        "max",
        "approx_unique",
        "avg",
        "std",
        "q25",
        "q50",
        "q75",
        "count",
        "null_percentage",
    ];
    p.on_engine(
        EngineEvent::Data(DataEvent::Table {
            seq,
            title: "stats".into(),
            columns: names
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    ty: "VARCHAR".into(),
                })
                .collect(),
            rows: vec![names.iter().map(|n| Some(format!("{n}-value"))).collect()],
        }),
        &mut Cx::default(),
    );
    let shown = snapshot(&mut p, 80, 12);
    assert!(!shown.contains("null_percentage"), "{shown}");
    for _ in 0..8 {
        act(&mut p, "move right");
    }
    let shown = snapshot(&mut p, 80, 12);
    assert!(shown.contains("null_percentage"), "{shown}");
    settings().bind(|| {
        insta::assert_snapshot!(
            "grid_stats_popup_scrolled_160x40",
            snapshot(&mut p, 160, 40)
        );
    });
    act(&mut p, "cancel");

    act(&mut p, "mark");
    let shown = snapshot(&mut p, 100, 8);
    assert!(shown.contains("x axis: city"), "{shown}");
    act(&mut p, "mark");
    assert!(snapshot(&mut p, 100, 8).contains("x axis unmarked"));
}

#[test]
fn counts_and_percentages_in_tables_are_written_one_way() {
    let mut p = loaded(10);
    act(&mut p, "stats");
    let seq = p.seq;
    let col = |n: &str, ty: &str| Column {
        name: n.into(),
        ty: ty.into(),
    };
    p.on_engine(
        EngineEvent::Data(DataEvent::Table {
            seq,
            title: "frequency of carrier".into(),
            columns: vec![
                col("value", "BIGINT"),
                col("count", "BIGINT"),
                col("percent", "DOUBLE"),
            ],
            rows: vec![vec![
                Some("20240101".into()),
                Some("54139".into()),
                Some("16.22".into()),
            ]],
        }),
        &mut Cx::default(),
    );
    let shown = snapshot(&mut p, 80, 12);
    assert!(
        shown.contains("54,139") && shown.contains("16.2%"),
        "{shown}"
    );
    assert!(
        shown.contains("20240101"),
        "values stay as they are: {shown}"
    );
}

#[test]
fn a_multi_line_error_keeps_its_lines_and_no_control_character_is_drawn() {
    let mut e = GridPane::with_source(Source::File("/data/q.sql".into()), View::default());
    let mut cx = Cx::default();
    e.on_engine(EngineEvent::Ready, &mut cx);
    let seq = e.seq;
    e.on_engine(
        EngineEvent::Data(DataEvent::Error {
            seq,
            message: "Binder Error: No function matches avg(VARCHAR). You might need to add explicit type casts.\n\tCandidate functions:\n\tavg(DECIMAL) -> DECIMAL\n\tavg(DOUBLE) -> DOUBLE\x07".into(),
            line: None,
            column: None,
        }),
        &mut cx,
    );
    let s = snapshot(&mut e, 110, 12);
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"    Candidate functions:")),
        "{s}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("    avg(DOUBLE) -> DOUBLE") && !l.contains('\x07')),
        "{s}"
    );
    assert!(!s.contains("casts.?") && !s.contains('\t'), "{s}");
}
