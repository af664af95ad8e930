//! Ask the data: 20 plain-English questions over a table this bench generates, each answered by
//! a model as the SQL editor's `F6` asks it (engine/llm/askdata.rs: the catalog's grammar, the
//! worked examples, greedy, and up to two retries with DuckDB's error), the SQL run in DuckDB,
//! and its rows compared with those of hand-written SQL (the oracle).
//!
//! Per model: how many answers run (goal 20/20) and how many give the oracle's rows. The
//! models: gemma-3-270m (./setup fetches it) and the tiny random model the tests generate
//! (its words are noise; what it shows is that the grammar alone makes SQL that runs). The
//! peer is the way it was asked before, in the same run with gemma: the same question, no
//! grammar, no examples, no retry.
//!
//! Rows are compared as sets of rows, each row's values sorted and numbers rounded to two
//! places, so column order and names do not matter and row order only where the question asks
//! for it (a top-N compares the same set). `cargo bench --bench askdata`.

#[path = "../tests/common/tools.rs"]
mod tools;

use fieldkit::engine::llm::askdata;
use fieldkit::engine::llm::{Engine, ModelRef, Settings};
use fieldkit::format::gguf::tiny;
use fieldkit_panes::llm::{GenParams, Role, Turn};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const QUESTIONS: &[(&str, &str)] = &[
    (
        "How many flights are there?",
        "SELECT count(*) FROM flights",
    ),
    (
        "How many flights per carrier?",
        "SELECT carrier, count(*) FROM flights GROUP BY carrier",
    ),
    (
        "What is the average departure delay?",
        "SELECT avg(dep_delay) FROM flights",
    ),
    (
        "What is the longest distance?",
        "SELECT max(distance) FROM flights",
    ),
    (
        "How many flights left from JFK?",
        "SELECT count(*) FROM flights WHERE origin = 'JFK'",
    ),
    (
        "What is the average arrival delay per origin?",
        "SELECT origin, avg(arr_delay) FROM flights GROUP BY origin",
    ),
    (
        "Which carrier has the most flights?",
        "SELECT carrier, count(*) AS n FROM flights GROUP BY carrier ORDER BY n DESC LIMIT 1",
    ),
    (
        "How many flights were in month 6?",
        "SELECT count(*) FROM flights WHERE month = 6",
    ),
    (
        "What is the total distance flown by carrier UA?",
        "SELECT sum(distance) FROM flights WHERE carrier = 'UA'",
    ),
    (
        "What is the shortest air time?",
        "SELECT min(air_time) FROM flights",
    ),
    (
        "How many distinct destinations are there?",
        "SELECT count(DISTINCT dest) FROM flights",
    ),
    (
        "How many flights had a departure delay over 60 minutes?",
        "SELECT count(*) FROM flights WHERE dep_delay > 60",
    ),
    (
        "What is the average distance per carrier?",
        "SELECT carrier, avg(distance) FROM flights GROUP BY carrier",
    ),
    (
        "What are the 5 longest distances?",
        "SELECT distance FROM flights ORDER BY distance DESC LIMIT 5",
    ),
    (
        "What is the maximum arrival delay per month?",
        "SELECT month, max(arr_delay) FROM flights GROUP BY month",
    ),
    (
        "How many flights went from EWR to LAX?",
        "SELECT count(*) FROM flights WHERE origin = 'EWR' AND dest = 'LAX'",
    ),
    (
        "What is the median departure delay?",
        "SELECT median(dep_delay) FROM flights",
    ),
    (
        "How many flights were there in each month?",
        "SELECT month, count(*) FROM flights GROUP BY month",
    ),
    (
        "What is the total air time?",
        "SELECT sum(air_time) FROM flights",
    ),
    (
        "How many flights did carrier DL have in month 1?",
        "SELECT count(*) FROM flights WHERE carrier = 'DL' AND month = 1",
    ),
];

/// The table, the same every run: 5,000 flights from hashes of the row number.
fn table(db: &duckdb::Connection) -> String {
    db.execute_batch(
        "CREATE TABLE flights AS SELECT
            2013 AS year,
            1 + (hash(i) % 12)::BIGINT AS month,
            ['UA', 'AA', 'DL', 'B6', 'EV', 'WN'][1 + (hash(i * 3) % 6)::INT] AS carrier,
            ['JFK', 'EWR', 'LGA'][1 + (hash(i * 5) % 3)::INT] AS origin,
            ['LAX', 'ORD', 'ATL', 'SFO', 'MIA', 'BOS', 'DEN'][1 + (hash(i * 7) % 7)::INT] AS dest,
            (hash(i * 11) % 180)::BIGINT - 20 AS dep_delay,
            (hash(i * 13) % 200)::BIGINT - 40 AS arr_delay,
            200 + (hash(i * 17) % 2500)::BIGINT AS distance,
            30 + (hash(i * 19) % 330)::BIGINT AS air_time
         FROM range(5000) t(i)",
    )
    .expect("the bench's table");
    let mut st = db
        .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'flights' ORDER BY ordinal_position")
        .expect("columns");
    let cols: Vec<String> = st
        .query_map([], |r| {
            Ok(format!(
                "{} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
            ))
        })
        .expect("columns")
        .map(|r| r.expect("a column"))
        .collect();
    // As the SQL editor writes the catalog for the model.
    format!("flights({})\n", cols.join(", "))
}

/// The rows of `sql`, normalised for comparing (see the module's note), or DuckDB's error.
fn rows(db: &duckdb::Connection, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let mut st = db.prepare(sql).map_err(|e| e.to_string())?;
    let mut q = st.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(r) = q.next().map_err(|e| e.to_string())? {
        let n = r.as_ref().column_count();
        let mut row: Vec<String> = (0..n)
            .map(|i| match r.get_ref(i) {
                Ok(v) => {
                    let s = format!("{:?}", v.to_owned());
                    // Numbers to two places, whatever their type.
                    let digits: String = s
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                        .collect();
                    match digits.parse::<f64>() {
                        Ok(x) if !s.contains('"') => format!("{x:.2}"),
                        _ => s,
                    }
                }
                Err(e) => format!("?{e}"),
            })
            .collect();
        row.sort();
        out.push(row);
    }
    out.sort();
    Ok(out)
}

/// An answer's SQL: a fenced block's, else the whole answer; no trailing `;`.
fn sql_of(answer: &str) -> String {
    let a = answer.trim();
    let a = match a.find("```") {
        Some(i) => {
            let rest = &a[i + 3..];
            let rest = rest.strip_prefix("sql").unwrap_or(rest);
            rest.split("```").next().unwrap_or(rest)
        }
        None => a,
    };
    a.trim().trim_end_matches(';').trim().to_string()
}

struct Tally {
    runs: usize,
    right: usize,
    retried: usize,
    ms: f64,
}

fn ask(e: &mut Engine, turns: &[Turn], grammar: Option<String>) -> String {
    let params = GenParams {
        max_tokens: 160,
        temperature: 0.0,
        seed: 0,
        ignore_eos: false,
        grammar,
    };
    let mut out = String::new();
    let cancel = AtomicBool::new(false);
    let r = e.chat(turns, &[], &params, &cancel, &mut |ev| {
        if let fieldkit_panes::llm::LlmEvent::Token(t) = ev {
            out.push_str(&t)
        }
    });
    if let Err(err) = r {
        println!("    the model failed: {err:#}");
    }
    out
}

fn run(model: &Path, label: &str, db: &duckdb::Connection, schema: &str, held: bool) -> Tally {
    let mut e = Engine::new().expect("llama.cpp");
    e.load(
        &ModelRef::local(label, model),
        &Settings {
            n_ctx: 4096,
            threads: 2,
            n_batch: 512,
        },
        |_| {},
    )
    .expect("the model loads");
    let mut t = Tally {
        runs: 0,
        right: 0,
        retried: 0,
        ms: 0.0,
    };
    println!("  {label}:");
    for (q, oracle) in QUESTIONS {
        let want = rows(db, oracle).expect("the oracle runs");
        let started = Instant::now();
        let (mut turns, grammar) = if held {
            (askdata::turns(schema, q), askdata::grammar(schema, q))
        } else {
            // As it was asked before: an instruction and the question, no grammar.
            (
                vec![
                    Turn::new(
                        Role::System,
                        "You translate questions into DuckDB SQL. Use only the tables and columns \
                         given. Reply with one SQL query in a ```sql code block and nothing else.",
                    ),
                    Turn::new(Role::User, format!("Tables:\n{schema}Question: {q}")),
                ],
                None,
            )
        };
        let mut tries = if held { askdata::RETRIES + 1 } else { 1 };
        let (sql, got) = loop {
            let sql = sql_of(&ask(&mut e, &turns, grammar.clone()));
            let got = rows(db, &sql);
            tries -= 1;
            match &got {
                Err(err) if tries > 0 => {
                    t.retried += 1;
                    turns = askdata::retry_turns(&turns, &sql, err);
                }
                _ => break (sql, got),
            }
        };
        t.ms += started.elapsed().as_secs_f64() * 1000.0;
        let verdict = match &got {
            Ok(r) if *r == want => {
                t.runs += 1;
                t.right += 1;
                "runs, right"
            }
            Ok(_) => {
                t.runs += 1;
                "runs, other rows"
            }
            Err(_) => "fails",
        };
        let shown: String = sql.chars().take(90).collect();
        println!("    {verdict:<16} {q:<55} {}", shown.replace('\n', " "));
    }
    t
}

fn main() {
    let gemma = tools::gemma();
    let dir = tempfile::tempdir().expect("a temp dir");
    let tiny_path = dir.path().join("tiny.gguf");
    tiny::write(&tiny_path, &tiny::Spec::default()).expect("the tiny model");
    let db = duckdb::Connection::open_in_memory().expect("duckdb");
    let schema = table(&db);
    println!("askdata: 20 questions over {}", schema.trim());
    let g = run(&gemma, "gemma-3-270m, as F6 asks now", &db, &schema, true);
    let before = run(&gemma, "gemma-3-270m, asked as before", &db, &schema, false);
    let tn = run(
        &tiny_path,
        "tiny random model, as F6 asks now",
        &db,
        &schema,
        true,
    );
    println!("  method: each question answered greedily (engine/llm/askdata.rs: the catalog's GBNF grammar, five worked examples,");
    println!("          up to {} retries with DuckDB's error), run in DuckDB, rows compared with the hand-written SQL's (values sorted", askdata::RETRIES);
    println!("          within a row, numbers to two places, rows sorted); \"as before\": no grammar, no examples, no retry.");
    for (label, t) in [
        ("gemma-3-270m, now", &g),
        ("gemma-3-270m, before", &before),
        ("tiny model, now", &tn),
    ] {
        println!(
            "  {label:<22} runs {:>2}/20 (goal 20/20), the oracle's answer {:>2}/20, {} retries, {:.0} ms a question",
            t.runs,
            t.right,
            t.retried,
            t.ms / 20.0
        );
    }
}
