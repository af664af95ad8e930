/*!
How a file or a query becomes a result a grid can scroll: a file loaded into a table of the
database (a preview of its first rows shown at once, rejected rows counted and told), a Parquet
file read in place, a query materialised in fk_mem; each registered with the key its windows are
read by (rowid or file_row_number when gapless).
*/

use super::*;

pub(super) fn register(sh: &Shared, res: Res) -> u64 {
    let id = sh.new_id();
    if let Ok(mut r) = sh.results.lock() {
        r.insert(id, res);
    }
    id
}

pub(super) fn load(
    conn: &Connection,
    pane: u64,
    seq: u64,
    source: &Source,
    view: &View,
    sh: &Shared,
) -> Result<()> {
    let mut notes = Vec::new();
    // The base relation, and whether it is already complete.
    let base: String = match source {
        Source::Table(t) => t.clone(),
        Source::File(p) => {
            let path = resolve_path(p, &sh.home);
            let (kind, _) = check_file(&path)?;
            let mut read_path = path.clone();
            if kind == FileKind::Excel {
                let tmp = std::env::temp_dir()
                    .join(format!("fieldkit-xlsx-{}-{seq}.csv", std::process::id()));
                excel_to_csv(&path, &tmp)?;
                read_path = tmp;
            }
            if kind == FileKind::Parquet {
                reader(kind, &read_path, None, None)
            } else {
                // CSV and workbooks (read through a CSV) get their types and names planned.
                let plan = match kind {
                    FileKind::Csv | FileKind::Excel => Some(
                        csv_plan(conn, &read_path)
                            .map_err(|e| anyhow::anyhow!(file_error(&path, &e.to_string())))?,
                    ),
                    _ => None,
                };
                let plan = plan.as_ref();
                let select = CsvPlan::select(plan);
                let name = table_name(&path);
                let table = quote_ident(&name);
                // First screen now: a preview of the first rows, shown while the rest loads.
                if view == &View::default() {
                    let pv = format!("fk_mem.p{}", sh.new_id());
                    conn.execute_batch(&format!(
                        "CREATE TABLE {pv} AS SELECT {select} FROM {} LIMIT {PREVIEW_ROWS}",
                        reader(kind, &read_path, None, plan)
                    ))
                    .map_err(|e| anyhow::anyhow!(file_error(&path, &e.to_string())))?;
                    let columns = list_columns(conn, &pv)?;
                    let result = register(
                        sh,
                        Res {
                            rel: pv.clone(),
                            columns: columns.clone(),
                            owned: vec![pv.clone()],
                            key: Some((pv.clone(), "rowid".into())),
                        },
                    );
                    sh.send(
                        pane,
                        DataEvent::Loaded {
                            seq,
                            result,
                            columns,
                            rows: None,
                            notes: vec![],
                        },
                    );
                    let rej = format!("fk_rej_{seq}_{pane}");
                    let scan = format!("fk_scan_{seq}_{pane}");
                    let rejects = (kind == FileKind::Csv).then_some((rej.as_str(), scan.as_str()));
                    let what = format!(
                        "loading {}",
                        path.file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    );
                    let made = with_progress(conn, sh, pane, seq, &what, || {
                        conn.execute_batch(&format!(
                            "CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM {}",
                            reader(kind, &read_path, rejects, plan)
                        ))
                    });
                    if let Err(e) = made {
                        // The preview stays: the user sees what could be read, and why not more.
                        sh.send(
                            pane,
                            error_event(seq, &file_error(&path, &e.to_string()), "", 0),
                        );
                        return Ok(());
                    }
                    notes.extend(plan.map(|p| p.notes(conn, &read_path)).unwrap_or_default());
                    if rejects.is_some() {
                        notes.extend(reject_notes(conn, &rej));
                        conn.execute_batch(&format!(
                            "DROP TABLE IF EXISTS temp.{rej}; DROP TABLE IF EXISTS temp.{scan};"
                        ))
                        .ok();
                    }
                    sh.remember_import(&path, &table);
                    let rows = count(conn, &table)?;
                    if let Ok(mut r) = sh.results.lock() {
                        if let Some(res) = r.get_mut(&result) {
                            res.rel = table.clone();
                            res.columns = list_columns(conn, &table)?;
                            res.key = Some((table.clone(), "rowid".into()));
                        }
                    }
                    // The preview table stays owned by the result (dropped when the grid
                    // forgets it): a window read that started before the swap may still be
                    // reading it.
                    if !notes.is_empty() {
                        sh.send(
                            pane,
                            DataEvent::Loaded {
                                seq,
                                result,
                                columns: sh.result(result).map(|r| r.columns).unwrap_or_default(),
                                rows: Some(rows),
                                notes,
                            },
                        );
                    } else {
                        sh.send(pane, DataEvent::Counted { seq, result, rows });
                    }
                    if kind == FileKind::Excel {
                        std::fs::remove_file(&read_path).ok();
                    }
                    return Ok(());
                }
                // A view over the file: load it fully first (a sort needs every row anyway),
                // unless this worker loaded it already and it has not changed since.
                let stamp = FileStamp::of(&path);
                let known = sh
                    .imported
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&path).cloned())
                    .filter(|(t, st)| *t == table && Some(st) == stamp.as_ref());
                if known.is_some() {
                    return finish(conn, pane, seq, source, view, sh, table, notes);
                }
                let rej = format!("fk_rej_{seq}_{pane}");
                let scan = format!("fk_scan_{seq}_{pane}");
                let rejects = (kind == FileKind::Csv).then_some((rej.as_str(), scan.as_str()));
                with_progress(conn, sh, pane, seq, "loading", || {
                    conn.execute_batch(&format!(
                        "CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM {}",
                        reader(kind, &read_path, rejects, plan)
                    ))
                })
                .map_err(|e| anyhow::anyhow!(file_error(&path, &e.to_string())))?;
                notes.extend(plan.map(|p| p.notes(conn, &read_path)).unwrap_or_default());
                if rejects.is_some() {
                    notes.extend(reject_notes(conn, &rej));
                }
                sh.remember_import(&path, &table);
                table
            }
        }
        Source::Query { sql, dialect } => {
            match run_query(conn, pane, seq, sql, dialect.as_deref(), sh)? {
                Some(t) => t,
                None => return Ok(()),
            }
        }
    };
    finish(conn, pane, seq, source, view, sh, base, notes)
}

/// Applies the view to `base` (a new table when sorted or filtered) and reports the result.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    conn: &Connection,
    pane: u64,
    seq: u64,
    source: &Source,
    view: &View,
    sh: &Shared,
    base: String,
    notes: Vec<String>,
) -> Result<()> {
    let mut owned = Vec::new();
    let rel = if view == &View::default() {
        base
    } else {
        let t = format!("fk_mem.v{}", sh.new_id());
        let mut sql = format!("CREATE TABLE {t} AS SELECT * FROM {base}");
        if let Some(f) = &view.filter {
            sql.push_str(&format!(" WHERE ({f})"));
        }
        if let Some((c, desc)) = &view.sort {
            sql.push_str(&format!(
                " ORDER BY {} {} NULLS LAST",
                quote_ident(c),
                if *desc { "DESC" } else { "ASC" }
            ));
        }
        with_progress(conn, sh, pane, seq, "sorting and filtering", || {
            conn.execute_batch(&sql)
        })
        .map_err(|e| anyhow::anyhow!("{}", tidy_error(&e.to_string())))?;
        owned.push(t.clone());
        t
    };
    // A query's own table belongs to its result too.
    if matches!(source, Source::Query { .. }) && !owned.contains(&rel) {
        owned.push(rel.clone());
    }
    let columns = list_columns(conn, &rel)?;
    let rows = count(conn, &rel)?;
    let key = window_key(conn, &rel);
    let result = register(
        sh,
        Res {
            rel,
            columns: columns.clone(),
            owned,
            key,
        },
    );
    sh.send(
        pane,
        DataEvent::Loaded {
            seq,
            result,
            columns,
            rows: Some(rows),
            notes,
        },
    );
    Ok(())
}

/// How windows of `rel` can be read by row number (see `Res::key`).
pub(super) fn window_key(conn: &Connection, rel: &str) -> Option<(String, String)> {
    if let Some(args) = rel
        .strip_prefix("read_parquet(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some((
            format!("read_parquet({args}, file_row_number = true)"),
            "file_row_number".into(),
        ));
    }
    // A table whose rows were never deleted numbers them 0..n.
    let gapless: bool = conn
        .query_row(
            &format!("SELECT count(*) = coalesce(max(rowid) + 1, 0) FROM {rel}"),
            [],
            |r| r.get(0),
        )
        .ok()?;
    gapless.then(|| (rel.to_string(), "rowid".into()))
}

/// Runs a query source: every statement but the last as is; the last materialised so that it
/// can be windowed, sorted and exported. `None` when it returned no rows (a `Done` was sent).
pub(super) fn run_query(
    conn: &Connection,
    pane: u64,
    seq: u64,
    sql: &str,
    dialect: Option<&str>,
    sh: &Shared,
) -> Result<Option<String>> {
    let text = match dialect {
        Some(d) if d != "duckdb" => match dialect::translate(sql, d) {
            Ok(t) => t,
            Err(e) => {
                sh.send(
                    pane,
                    DataEvent::Error {
                        seq,
                        message: e.message,
                        line: e.line,
                        column: e.column,
                    },
                );
                return Ok(None);
            }
        },
        _ => sql.to_string(),
    };
    let stmts = split_statements(&text);
    let Some((last, body)) = stmts.split_last() else {
        sh.send(
            pane,
            DataEvent::Done {
                seq,
                message: "nothing to run".into(),
                rows: None,
            },
        );
        return Ok(None);
    };
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() as u32;
    for (off, s) in body {
        if let Err(e) = conn.execute_batch(s) {
            sh.send(
                pane,
                shift_error(error_event(seq, &e.to_string(), s, 0), line_of(*off)),
            );
            return Ok(None);
        }
    }
    let (off, s) = *last;
    let t = format!("fk_mem.q{}", sh.new_id());
    // The newline after the wrapper keeps DuckDB's line numbers one off, columns exact.
    let wrapped = format!("CREATE TABLE {t} AS SELECT * FROM (\n{s}\n)");
    match with_progress(conn, sh, pane, seq, "running", || {
        conn.execute_batch(&wrapped)
    }) {
        Ok(()) => Ok(Some(t)),
        Err(e) => {
            let msg = e.to_string();
            if !msg.starts_with("Parser Error") {
                sh.send(
                    pane,
                    shift_error(error_event(seq, &msg, s, 1), line_of(off)),
                );
                return Ok(None);
            }
            // Not a query (DDL, DML, PRAGMA): run it as it is.
            match with_progress(conn, sh, pane, seq, "running", || conn.execute(s, [])) {
                Ok(n) => {
                    let verb = s
                        .split_whitespace()
                        .next()
                        .unwrap_or("statement")
                        .to_uppercase();
                    let message = match verb.as_str() {
                        "INSERT" | "UPDATE" | "DELETE" => format!("{verb}: {n} rows changed"),
                        _ => format!("{verb} done"),
                    };
                    let rows = Some(n as u64);
                    sh.send(pane, DataEvent::Done { seq, message, rows });
                    Ok(None)
                }
                Err(e) => {
                    sh.send(
                        pane,
                        shift_error(error_event(seq, &e.to_string(), s, 0), line_of(off)),
                    );
                    Ok(None)
                }
            }
        }
    }
}
