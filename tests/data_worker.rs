//! The data worker, driven through its pipes exactly as the server drives it: real DuckDB on
//! files these tests write, including the malformed ones.

mod common;

use common::worker::Worker;
use fieldkit_panes::data::{DataEvent, DataRequest, Plot, PlotAsk, Source, View};
use std::io::Write;
use std::path::Path;

fn csv(rows: usize) -> String {
    let mut s = String::from("id,City Name,fare,when\n");
    for i in 0..rows {
        s.push_str(&format!(
            "{i},{},{:.2},2024-01-{:02}\n",
            ["Oslo", "Lima", "Pune"][i % 3],
            i as f64 * 1.5,
            i % 28 + 1
        ));
    }
    s
}

#[test]
fn a_csv_shows_first_then_loads_whole_with_clean_names_and_types() {
    let mut w = Worker::start();
    let path = w.file("Trips 2024.csv", csv(5000).as_bytes());
    let l = w
        .load(1, Source::File(path), View::default())
        .expect("load");
    assert!(l.preview, "the first screen came before the whole file");
    assert_eq!(l.rows, 5000);
    assert_eq!(
        l.columns,
        vec![
            ("id".into(), "BIGINT".into()),
            ("city_name".into(), "VARCHAR".into()),
            ("fare".into(), "DOUBLE".into()),
            ("_when".into(), "DATE".into()),
        ]
    );
    let last = w.rows(1, l.result, 4998, 10);
    assert_eq!(last.len(), 2);
    assert_eq!(last[1][0].as_deref(), Some("4999"));
    assert_eq!(last[1][2].as_deref(), Some("7498.5"));
    // The file became a table of the persistent database, under a SQL-safe name.
    let q = w
        .load(
            2,
            Source::Query {
                sql: "select count(*) AS n from trips_2024".into(),
                dialect: None,
            },
            View::default(),
        )
        .expect("query");
    assert_eq!(w.rows(2, q.result, 0, 1), vec![vec![Some("5000".into())]]);
}

#[test]
fn sort_filter_stats_frequency_plots_and_export_are_done_by_duckdb() {
    let mut w = Worker::start();
    let path = w.file("t.csv", csv(300).as_bytes());
    let view = View {
        filter: Some("\"city_name\" = 'Lima'".into()),
        sort: Some(("fare".into(), true)),
    };
    let l = w
        .load(1, Source::File(path.clone()), view)
        .expect("sorted, filtered");
    assert_eq!(l.rows, 100);
    let top = w.rows(1, l.result, 0, 2);
    assert_eq!(
        top[0][2].as_deref(),
        Some("447.0"),
        "largest Lima fare first: {top:?}"
    );

    let seq = w.next_seq();
    w.send(
        1,
        DataRequest::Summarize {
            seq,
            result: l.result,
        },
    );
    let ev = w
        .until(1, |e| {
            matches!(e, DataEvent::Table { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Table { rows, columns, .. }) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(columns[0].name, "column_name");
    let fare = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("fare"))
        .expect("fare row");
    assert_eq!(fare[2].as_deref(), Some("1.5"), "min");
    assert_eq!(fare[3].as_deref(), Some("447.0"), "max");

    let all = w.load(2, Source::File(path), View::default()).expect("all");
    let seq = w.next_seq();
    w.send(
        2,
        DataRequest::Frequency {
            seq,
            result: all.result,
            column: "city_name".into(),
        },
    );
    let ev = w
        .until(2, |e| {
            matches!(e, DataEvent::Table { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Table { rows, .. }) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r[1].as_deref() == Some("100")),
        "{rows:?}"
    );

    let seq = w.next_seq();
    w.send(
        2,
        DataRequest::Plot {
            seq,
            result: all.result,
            plot: PlotAsk::Histogram {
                column: "fare".into(),
                bins: 10,
            },
        },
    );
    let ev = w
        .until(2, |e| {
            matches!(e, DataEvent::Plot { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Plot {
        plot: Plot::Histogram { bins, .. },
        ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(bins.len(), 10);
    assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), 300);
    assert_eq!(bins[0].0, 0.0);

    let seq = w.next_seq();
    w.send(
        2,
        DataRequest::Plot {
            seq,
            result: all.result,
            plot: PlotAsk::Line {
                x: "id".into(),
                y: "fare".into(),
                points: 50,
            },
        },
    );
    let ev = w
        .until(2, |e| {
            matches!(e, DataEvent::Plot { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Plot {
        plot: Plot::Line { points, .. },
        ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(points.len(), 50);
    assert!(points
        .windows(2)
        .all(|p| p[0].0 <= p[1].0 && (p[0].1 - p[0].0 * 1.5).abs() < 1e-9));

    // Repeated x: one point per x, the mean of y there, and the plot says so (300,000 points
    // with repeated x drew a wall).
    let rep = w.file("rep.csv", b"x,y\n1,10\n1,20\n2,5\n2,7\n3,1\n");
    let r = w
        .load(3, Source::File(rep), View::default())
        .expect("loaded");
    let seq = w.next_seq();
    w.send(
        3,
        DataRequest::Plot {
            seq,
            result: r.result,
            plot: PlotAsk::Line {
                x: "x".into(),
                y: "y".into(),
                points: 50,
            },
        },
    );
    let ev = w
        .until(3, |e| {
            matches!(e, DataEvent::Plot { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Plot {
        plot: Plot::Line { points, how, .. },
        ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(points, vec![(1.0, 15.0), (2.0, 6.0), (3.0, 1.0)]);
    assert_eq!(how, "mean of y for each x (5 rows)");

    for ext in ["csv", "parquet", "json", "tsv"] {
        let out = w.dir.join(format!("out.{ext}"));
        let seq = w.next_seq();
        w.send(
            1,
            DataRequest::Export {
                seq,
                result: l.result,
                path: out.to_string_lossy().into_owned(),
            },
        );
        let ev = w
            .until(1, |e| {
                matches!(e, DataEvent::Exported { .. } | DataEvent::Error { .. })
            })
            .pop();
        assert!(
            matches!(ev, Some(DataEvent::Exported { rows: 100, .. })),
            "{ext}: {ev:?}"
        );
        // Read back: the same rows in the same order.
        let back = w
            .load(
                3,
                Source::File(out.to_string_lossy().into_owned()),
                View::default(),
            )
            .expect("read back");
        assert_eq!(back.rows, 100, "{ext}");
        let first = w.rows(3, back.result, 0, 1);
        assert_eq!(first[0][2].as_deref(), Some("447.0"), "{ext}: {first:?}");
    }
    let seq = w.next_seq();
    w.send(
        1,
        DataRequest::Export {
            seq,
            result: l.result,
            path: "/nonexistent-dir/x.csv".into(),
        },
    );
    let ev = w
        .until(1, |e| {
            matches!(e, DataEvent::Exported { .. } | DataEvent::Error { .. })
        })
        .pop();
    assert!(
        matches!(&ev, Some(DataEvent::Error { message, .. }) if message.contains("no such folder")),
        "{ev:?}"
    );
}

#[test]
fn windows_anywhere_in_a_large_result_and_errors_point_at_the_sql() {
    let mut w = Worker::start();
    let l = w
        .load(
            1,
            Source::Query {
                sql: "SELECT range AS n, range * 2 AS twice FROM range(3000000)".into(),
                dialect: None,
            },
            View::default(),
        )
        .expect("query");
    assert_eq!(l.rows, 3_000_000);
    let mid = w.rows(1, l.result, 1_500_000, 3);
    assert_eq!(mid[0], vec![Some("1500000".into()), Some("3000000".into())]);
    let end = w.rows(1, l.result, 2_999_999, 200);
    assert_eq!(end.len(), 1);

    let seq = w.next_seq();
    w.send(
        1,
        DataRequest::Load {
            seq,
            source: Source::Query {
                sql: "SELECT 1;\nSELECT n,\n  nosuch FROM range(3) t(n)".into(),
                dialect: None,
            },
            view: View::default(),
        },
    );
    let ev = w
        .until(1, |e| {
            matches!(e, DataEvent::Error { .. } | DataEvent::Loaded { .. })
        })
        .pop();
    let Some(DataEvent::Error {
        message,
        line,
        column,
        ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert!(message.contains("nosuch"), "{message}");
    assert_eq!((line, column), (Some(3), Some(3)), "{message}");

    // DDL and DML run as they are and say what they did.
    let seq = w.next_seq();
    w.send(
        1,
        DataRequest::Load {
            seq,
            source: Source::Query {
                sql: "CREATE TABLE k (a INT); INSERT INTO k VALUES (1), (2)".into(),
                dialect: None,
            },
            view: View::default(),
        },
    );
    let ev = w
        .until(1, |e| {
            matches!(
                e,
                DataEvent::Error { .. } | DataEvent::Done { .. } | DataEvent::Loaded { .. }
            )
        })
        .pop();
    assert!(
        matches!(&ev, Some(DataEvent::Done { message, .. }) if message.contains("2 rows")),
        "{ev:?}"
    );
    let seq = w.next_seq();
    w.send(1, DataRequest::Catalog { seq });
    let ev = w
        .until(1, |e| {
            matches!(e, DataEvent::Catalog { .. } | DataEvent::Error { .. })
        })
        .pop();
    let Some(DataEvent::Catalog { catalog, .. }) = ev else {
        panic!("{ev:?}")
    };
    assert!(
        catalog
            .tables
            .iter()
            .any(|t| t.name == "k" && t.columns[0].name == "a"),
        "{:?}",
        catalog.tables
    );
    assert!(catalog.functions.iter().any(|f| f == "regexp_matches"));

    // Another dialect, translated.
    let l = w
        .load(
            1,
            Source::Query {
                sql: "SELECT `a` FROM k ORDER BY a LIMIT 1, 1".into(),
                dialect: Some("mysql".into()),
            },
            View::default(),
        )
        .expect("mysql");
    assert_eq!(w.rows(1, l.result, 0, 5), vec![vec![Some("2".into())]]);
}

#[test]
fn a_running_query_is_cancelled() {
    let mut w = Worker::start();
    // Once it is really running, stop it.
    w.start_endless_query(1);
    w.send(1, DataRequest::Cancel);
    let ev = w
        .until(1, |e| {
            matches!(e, DataEvent::Error { .. } | DataEvent::Loaded { .. })
        })
        .pop();
    assert!(
        matches!(&ev, Some(DataEvent::Error { message, .. }) if message.to_lowercase().contains("interrupt")),
        "{ev:?}"
    );
    // The lane is usable again.
    let l = w
        .load(
            1,
            Source::Query {
                sql: "SELECT 42 AS answer".into(),
                dialect: None,
            },
            View::default(),
        )
        .expect("after cancel");
    assert_eq!(w.rows(1, l.result, 0, 1), vec![vec![Some("42".into())]]);
}

#[test]
fn malformed_files_get_a_message_and_good_rows_load() {
    let mut w = Worker::start();
    // Ragged rows and a bad quote: skipped and counted, the rest loaded.
    let mut text = csv(50);
    text.push_str("50,Oslo,1.0,2024-01-01,extra,fields\n51,\"Lima,2.0,2024-01-02\n");
    for i in 52..60 {
        text.push_str(&format!("{i},Pune,{i}.5,2024-01-03\n"));
    }
    let path = w.file("ragged.csv", text.as_bytes());
    let l = w
        .load(1, Source::File(path), View::default())
        .expect("ragged loads");
    assert!(l.rows >= 58, "good rows loaded: {}", l.rows);
    // The ragged row (line 52) is one row skipped, though DuckDB logs an error per extra field.
    assert!(
        l.notes
            .iter()
            .any(|n| n.starts_with("1 bad row skipped; first at line 52:")),
        "{:?}",
        l.notes
    );

    // Mixed encodings: a Latin-1 byte in one row (line 22, after the header and rows 0..19).
    // It is skipped and counted like any other bad row, and every good row is loaded.
    let good: Vec<u32> = (0..20).chain([21]).collect();
    let mut bytes = csv(20).into_bytes();
    bytes.extend_from_slice(b"20,S\xe3o Paulo,3.0,2024-01-05\n21,Lima,4.0,2024-01-06\n");
    let path = w.file("mixed.csv", &bytes);
    let l = w
        .load(2, Source::File(path), View::default())
        .expect("mixed loads");
    assert_eq!(l.rows, good.len() as u64, "{l:?}");
    assert!(
        l.notes.len() == 1
            && l.notes[0].starts_with("1 bad row skipped; first at line 22:")
            && l.notes[0].contains("not utf-8"),
        "{:?}",
        l.notes
    );
    let ids: Vec<Option<String>> = w
        .rows(2, l.result, 0, 100)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        ids,
        good.iter().map(|i| Some(i.to_string())).collect::<Vec<_>>()
    );

    let bin = w.file(
        "blob.csv",
        &[0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 3, 0, 0, 9],
    );
    assert!(w.error_of(3, Source::File(bin)).contains("looks binary"));
    let empty = w.file("empty.csv", b"");
    assert!(w.error_of(3, Source::File(empty)).contains("is empty"));
    let gone = w.dir.join("vanished.csv");
    assert!(w
        .error_of(3, Source::File(gone.to_string_lossy().into_owned()))
        .contains("cannot open"));
    let fake = w.file("fake.parquet", b"this is not parquet at all");
    assert!(w
        .error_of(3, Source::File(fake))
        .contains("not a Parquet file"));
    let bad_json = w.file("bad.json", b"{\"a\": 1,,, ]");
    let e = w.error_of(3, Source::File(bad_json));
    assert!(e.contains("bad.json"), "{e}");
    let bad_xlsx = w.file("bad.xlsx", b"PK\x03\x04 not really a zip");
    assert!(w
        .error_of(3, Source::File(bad_xlsx))
        .contains("not a readable workbook"));

    // 10,000 columns.
    let head: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let wide = w.file(
        "wide.csv",
        format!("{}\n{}\n{}\n", head.join(","), row.join(","), row.join(",")).as_bytes(),
    );
    let l = w
        .load(4, Source::File(wide), View::default())
        .expect("wide loads");
    assert_eq!((l.columns.len(), l.rows), (10_000, 2));
    let r = w.rows_cols(4, l.result, 1, 1, 9_990, 64);
    assert_eq!(r[0].len(), 10, "the last ten columns");
    assert_eq!(r[0][9].as_deref(), Some("9999"));

    // One line far longer than DuckDB's line limit, between good rows.
    let mut long = csv(10).into_bytes();
    long.extend_from_slice(b"10,");
    long.extend(std::iter::repeat_n(b'x', 64 << 20));
    long.extend_from_slice(b",1.0,2024-01-01\n11,Lima,2.0,2024-01-02\n");
    let path = w.file("longline.csv", &long);
    match w.load(5, Source::File(path), View::default()) {
        Ok(l) => assert!(l.rows >= 10 && !l.notes.is_empty(), "{l:?}"),
        Err(e) => assert!(e.contains("longline.csv"), "{e}"),
    }
}

#[test]
fn parquet_json_ndjson_and_xlsx_open() {
    let mut w = Worker::start();
    let dir = w.dir.clone();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let l = w
        .load(1, Source::Query { sql: format!(
            "COPY (SELECT range AS id, 'r' || range AS name FROM range(1000)) TO '{}' (FORMAT parquet)",
            p("t.parquet")
        ), dialect: None }, View::default());
    assert!(l.unwrap_err().contains("done"));
    let l = w
        .load(1, Source::File(p("t.parquet")), View::default())
        .expect("parquet");
    assert_eq!(l.rows, 1000);
    assert_eq!(w.rows(1, l.result, 999, 1)[0][1].as_deref(), Some("r999"));

    let json = w.file(
        "t.json",
        br#"[{"a": 1, "b": {"c": [1,2]}}, {"a": 2, "b": null}]"#,
    );
    let l = w
        .load(2, Source::File(json), View::default())
        .expect("json");
    assert_eq!(l.rows, 2);
    let nd = w.file("t.ndjson", b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n");
    let l = w
        .load(2, Source::File(nd), View::default())
        .expect("ndjson");
    assert_eq!(l.rows, 3);

    let xlsx = dir.join("book.xlsx");
    write_xlsx(&xlsx);
    let l = w
        .load(
            3,
            Source::File(xlsx.to_string_lossy().into_owned()),
            View::default(),
        )
        .expect("xlsx");
    // A name DuckDB can use unquoted is kept as written.
    assert_eq!(l.columns[0].0, "Station");
    assert_eq!(l.rows, 2);
    assert_eq!(
        w.rows(3, l.result, 1, 1)[0],
        vec![Some("B-2".into()), Some("7.25".into())]
    );
}

/// The smallest workbook Excel would write: one sheet, inline strings and numbers.
fn write_xlsx(path: &Path) {
    let f = std::fs::File::create(path).expect("xlsx");
    let mut z = zip::ZipWriter::new(f);
    let o = zip::write::SimpleFileOptions::default();
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Readings" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        (
            "xl/worksheets/sheet1.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Station</t></is></c><c r="B1" t="inlineStr"><is><t>Depth m</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>A-1</t></is></c><c r="B2"><v>3.5</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>B-2</t></is></c><c r="B3"><v>7.25</v></c></row></sheetData></worksheet>"#,
        ),
    ];
    for (name, body) in files {
        z.start_file(name, o).expect("zip entry");
        z.write_all(body.as_bytes()).expect("zip write");
    }
    z.finish().expect("zip finish");
}

#[test]
fn missing_value_tokens_load_typed_as_the_duckdb_cli_reads_them_and_names_stay() {
    // As R and instruments write them: NA, N/A, NaN, null, NULL, - and empty for missing.
    let mut s = String::from("year,month,dep_time,Dep Delay,when,carrier,tailnum,temp\n");
    for i in 0..300 {
        let dep = match i % 50 {
            7 => "NA".to_string(),
            _ => format!("{}", 500 + i),
        };
        let delay = match i % 60 {
            3 => "N/A".to_string(),
            4 => "-".to_string(),
            5 => String::new(),
            _ => format!("{}", i as i64 % 17 - 5),
        };
        let when = if i % 100 == 9 {
            "null".to_string()
        } else {
            format!("2013-01-{:02}", i % 28 + 1)
        };
        let tail = if i % 30 == 1 { "NA" } else { "N14228" };
        let temp = if i % 75 == 2 {
            "NaN".to_string()
        } else {
            format!("{:.1}", i as f64 / 10.0)
        };
        s.push_str(&format!(
            "2013,{},{dep},{delay},{when},UA,{tail},{temp}\n",
            i % 12 + 1
        ));
    }
    let mut w = Worker::start();
    let path = w.file("flights.csv", s.as_bytes());
    let l = w
        .load(1, Source::File(path.clone()), View::default())
        .expect("load");
    let names: Vec<&str> = l.columns.iter().map(|c| c.0.as_str()).collect();
    // `year` and `month` stay; only what DuckDB cannot use unquoted is renamed.
    assert_eq!(
        names,
        [
            "year",
            "month",
            "dep_time",
            "dep_delay",
            "_when",
            "carrier",
            "tailnum",
            "temp"
        ]
    );
    // The oracle: the duckdb CLI on the same file with the same options.
    let duckdb = common::tools::duckdb_cli();
    let opts = "nullstr = ['NA', 'N/A', 'NaN', 'null', 'NULL', '-', '']";
    let cli = |q: &str| {
        let o = std::process::Command::new(&duckdb)
            .args(["-csv", "-noheader", "-c", q])
            .output()
            .expect("the duckdb CLI (./setup installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let types = cli(&format!(
        "SELECT column_type FROM (DESCRIBE SELECT * FROM read_csv('{path}', {opts}))"
    ));
    let theirs: Vec<&str> = types.lines().collect();
    let ours: Vec<&str> = l.columns.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(ours, theirs);
    assert_eq!(
        &ours[..5],
        ["BIGINT", "BIGINT", "BIGINT", "BIGINT", "DATE"],
        "typed, not VARCHAR"
    );
    let raw = [
        "year",
        "month",
        "dep_time",
        "Dep Delay",
        "when",
        "carrier",
        "tailnum",
        "temp",
    ];
    let nulls_theirs = cli(&format!(
        "SELECT {} FROM read_csv('{path}', {opts})",
        raw.iter()
            .map(|c| format!("count(*) - count(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let q = w
        .load(
            2,
            Source::Query {
                sql: format!(
                    "SELECT {} FROM flights",
                    names
                        .iter()
                        .map(|c| format!("count(*) - count({c})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                dialect: None,
            },
            View::default(),
        )
        .expect("count nulls");
    let nulls_ours: Vec<String> = w.rows(2, q.result, 0, 1)[0]
        .iter()
        .map(|v| v.clone().unwrap_or_default())
        .collect();
    assert_eq!(nulls_ours.join(","), nulls_theirs.trim());
    assert_eq!(nulls_ours[2], "6", "{nulls_ours:?}");
    // The footer says what became NULL, column by column.
    let note = l.notes.join(" | ");
    assert!(
        note.contains("dep_time: 6 NA")
            && note.contains("dep_delay: 10 - or N/A")
            && note.contains("_when: 3 null")
            && note.contains("read as NULL"),
        "{note}"
    );

    // A file whose NAs give no column a type keeps them as text.
    let path = w.file("codes.csv", b"country,code\nNamibia,NA\nNorway,NO\n");
    let l = w
        .load(3, Source::File(path), View::default())
        .expect("load");
    assert_eq!(l.columns[1], ("code".to_string(), "VARCHAR".to_string()));
    assert_eq!(w.rows(3, l.result, 0, 1)[0][1].as_deref(), Some("NA"));
    assert!(l.notes.is_empty(), "{:?}", l.notes);
}

#[test]
fn browsing_a_large_table_lets_its_blocks_go_and_keeps_results_and_the_memory_limit() {
    let mut w = Worker::start();
    // A table of the database file, larger than what browsing keeps (8 MiB of blocks), and
    // a query result held in memory beside it.
    let setting = |w: &mut Worker, pane: u64| -> String {
        let q = w
            .load(
                pane,
                Source::Query {
                    sql: "SELECT current_setting('memory_limit') AS m".into(),
                    dialect: None,
                },
                View::default(),
            )
            .expect("the setting");
        w.rows(pane, q.result, 0, 1)[0][0]
            .clone()
            .unwrap_or_default()
    };
    let configured = setting(&mut w, 5);
    let made = w.load(
        1,
        Source::Query {
            sql: "CREATE TABLE big AS SELECT range AS id, hash(range) AS h, range * 3 AS t, \
                  hash(range * 7) AS u FROM range(3000000)"
                .into(),
            dialect: None,
        },
        View::default(),
    );
    // A statement without rows ends with Done, which the helper reports as its text.
    assert!(
        made.as_ref()
            .err()
            .is_some_and(|e| e.contains("CREATE done")),
        "{made:?}"
    );
    let kept = w
        .load(
            2,
            Source::Query {
                sql: "SELECT range AS n, range * 2 AS twice FROM range(100000)".into(),
                dialect: None,
            },
            View::default(),
        )
        .expect("a result in memory");
    let l = w
        .load(3, Source::Table("big".into()), View::default())
        .expect("the table");
    assert_eq!(l.rows, 3_000_000);
    // Jumps all over it, each window right.
    for k in 0..40u64 {
        let row = 2_999_999 * k / 39;
        let r = w.rows(3, l.result, row, 2);
        assert_eq!(
            r[0][0].as_deref(),
            Some(row.to_string().as_str()),
            "row {row}"
        );
    }
    // The in-memory result is whole, and the configured limit is back.
    assert_eq!(
        w.rows(2, kept.result, 99_999, 1)[0][1].as_deref(),
        Some("199998")
    );
    assert_eq!(setting(&mut w, 6), configured);
}
