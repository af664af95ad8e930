/*!
`fieldkit sql`: one query, headless, printed as a table, CSV or JSON.

It runs DuckDB in this process, not through the server: a script should not need a session, and
a crash here ends only this command. Values are printed as DuckDB casts them to text, so a CSV
from here equals the duckdb CLI's `-csv` output for the same query (a test holds it to that).
Every error exits non-zero with DuckDB's message and, when DuckDB gives one, the line and column.
*/

use crate::engine::data::{error_position, fetch_text, open_db, tidy_error};
use crate::format::dialect;
use crate::paths::Dirs;
use anyhow::{anyhow, Result};
use fieldkit_panes::data::split_statements;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub struct Args {
    pub db: Option<String>,
    pub format: Format,
    pub from: Option<String>,
    pub query: String,
}

/// Column names, DuckDB types, and rows of text (`None` is NULL).
pub type Table = (Vec<String>, Vec<String>, Vec<Vec<Option<String>>>);

pub fn run(dirs: &Dirs, args: Args) -> Result<i32> {
    let text = if args.query == "-" {
        crate::engine::data::read_stdin_sql()?
    } else {
        args.query.clone()
    };
    let text = match args.from.as_deref() {
        None | Some("duckdb") => text,
        Some(d) => dialect::translate(&text, d).map_err(|e| {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
                _ => String::new(),
            };
            anyhow!("{}{at}", e.message)
        })?,
    };
    let cfg = crate::config::load(dirs).config.data;
    let db = match args.db.as_deref() {
        Some(":memory:") => None,
        Some(p) => Some(std::path::PathBuf::from(p)),
        None => {
            std::fs::create_dir_all(&dirs.data).ok();
            Some(
                cfg.database
                    .clone()
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| dirs.data.join("data.duckdb")),
            )
        }
    };
    let conn = open_db(db.as_deref(), &cfg.memory_limit, cfg.threads)?;
    let table = query(&conn, &text)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(t) = table {
        match args.format {
            Format::Csv => write_csv(&mut out, &t)?,
            Format::Json => write_json(&mut out, &t)?,
            Format::Table => write_table(&mut out, &t)?,
        }
    }
    out.flush()?;
    Ok(0)
}

fn located(e: duckdb::Error, text: &str, off: usize, shift: u32) -> anyhow::Error {
    let msg = e.to_string();
    let head = tidy_error(&msg);
    // The statement's lines are the text's from where it starts.
    let stmt = text.get(off..).unwrap_or("");
    match error_position(&msg, stmt, shift) {
        Some((l, c)) if l > shift => {
            let line = l - shift + text[..off.min(text.len())].matches('\n').count() as u32;
            anyhow!("{head} (line {line}, column {c})")
        }
        _ => anyhow!("{head}"),
    }
}

/// Runs every statement; returns the last one's rows (`None` when it returns none).
pub fn query(conn: &duckdb::Connection, text: &str) -> Result<Option<Table>> {
    let stmts = split_statements(text);
    let Some(((off, last), body)) = stmts.split_last() else {
        return Err(anyhow!("no SQL statement given"));
    };
    for (o, s) in body {
        conn.execute_batch(s).map_err(|e| located(e, text, *o, 0))?;
    }
    // Names and types first (binding only), then every value as text, in one run of the query.
    let wrapped = format!("DESCRIBE SELECT * FROM (\n{last}\n)");
    let mut described = Vec::new();
    match conn.prepare(&wrapped).and_then(|mut st| {
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            described.push((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
        }
        Ok(())
    }) {
        Ok(()) => {}
        Err(e) if e.to_string().starts_with("Parser Error") => {
            // Not a query: run it as it is.
            conn.execute(last, [])
                .map_err(|e| located(e, text, *off, 0))?;
            return Ok(None);
        }
        Err(e) => return Err(located(e, text, *off, 1)),
    }
    let names: Vec<String> = described.iter().map(|d| d.0.clone()).collect();
    let types: Vec<String> = described.iter().map(|d| d.1.clone()).collect();
    // One star expression: a CAST per column is planned very slowly for wide results.
    let sql = format!("SELECT COLUMNS(*)::VARCHAR FROM (\n{last}\n)");
    let out = fetch_text(conn, &sql).map_err(|e| located(e, text, *off, 1))?;
    Ok(Some((names, types, out)))
}

/// Quoted as the duckdb CLI quotes in `-csv` mode: a separator, a quote, an apostrophe, a
/// control character or any non-ASCII byte.
fn csv_field(s: &str) -> String {
    let needs = s
        .bytes()
        .any(|b| !(0x20..0x7f).contains(&b) || matches!(b, b',' | b'"' | b'\''));
    if needs {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn write_csv(out: &mut impl Write, (names, _, rows): &Table) -> Result<()> {
    let head: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
    writeln!(out, "{}", head.join(","))?;
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| c.as_deref().map(csv_field).unwrap_or_else(|| "NULL".into()))
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

fn json_value(v: &Option<String>, ty: &str) -> serde_json::Value {
    let Some(s) = v else {
        return serde_json::Value::Null;
    };
    if ty == "BOOLEAN" {
        return serde_json::Value::Bool(s == "true");
    }
    if fieldkit_widgets::table::is_numeric_type(ty) {
        if let Ok(n) = s.parse::<serde_json::Number>() {
            return serde_json::Value::Number(n);
        }
    }
    serde_json::Value::String(s.clone())
}

/// An array of objects whose keys keep the result's column order, as the duckdb CLI's `-json`.
pub fn write_json(out: &mut impl Write, (names, types, rows): &Table) -> Result<()> {
    let keys: Vec<String> = names
        .iter()
        .map(|n| serde_json::to_string(n).unwrap_or_default())
        .collect();
    writeln!(out, "[")?;
    for (i, r) in rows.iter().enumerate() {
        writeln!(out, "  {{")?;
        for (k, ((key, t), v)) in keys.iter().zip(types).zip(r).enumerate() {
            let comma = if k + 1 < keys.len() { "," } else { "" };
            writeln!(out, "    {key}: {}{comma}", json_value(v, t))?;
        }
        writeln!(out, "  }}{}", if i + 1 < rows.len() { "," } else { "" })?;
    }
    writeln!(out, "]")?;
    Ok(())
}

pub fn write_table(out: &mut impl Write, (names, types, rows): &Table) -> Result<()> {
    use fieldkit_widgets::table::text_width;
    let mut w: Vec<usize> = names
        .iter()
        .zip(types)
        .map(|(n, t)| text_width(n).max(text_width(t)))
        .collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.as_deref().map_or(4, text_width));
        }
    }
    let pad = |s: &str, n: usize, right: bool| {
        let fill = " ".repeat(n.saturating_sub(text_width(s)));
        if right {
            format!("{fill}{s}")
        } else {
            format!("{s}{fill}")
        }
    };
    let line = |l: &str, m: &str, r: &str| {
        let parts: Vec<String> = w.iter().map(|n| "─".repeat(n + 2)).collect();
        format!("{l}{}{r}", parts.join(m))
    };
    writeln!(out, "{}", line("┌", "┬", "┐"))?;
    let head: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!(" {} ", pad(n, w[i], false)))
        .collect();
    writeln!(out, "│{}│", head.join("│"))?;
    let ty: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, n)| format!(" {} ", pad(n, w[i], false)))
        .collect();
    writeln!(out, "│{}│", ty.join("│"))?;
    writeln!(out, "{}", line("├", "┼", "┤"))?;
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let num = fieldkit_widgets::table::is_numeric_type(&types[i]);
                format!(" {} ", pad(c.as_deref().unwrap_or("NULL"), w[i], num))
            })
            .collect();
        writeln!(out, "│{}│", cells.join("│"))?;
    }
    writeln!(out, "{}", line("└", "┴", "┘"))?;
    writeln!(
        out,
        "{} row{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}
