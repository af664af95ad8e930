/*!
What the grid asks of a whole result beyond its rows: small tables (stats, frequencies),
plots computed by DuckDB, the catalog for completion, and export to a file.
*/

use super::*;

/// Runs `sql` and sends its rows as a table to show over the grid (stats, frequencies).
pub(super) fn small_table(
    conn: &Connection,
    sh: &Shared,
    pane: u64,
    seq: u64,
    sql: &str,
    what: &str,
    title: String,
) -> Result<()> {
    let columns = list_columns(conn, &format!("({sql})"))?;
    let rows = with_progress(conn, sh, pane, seq, what, || {
        fetch_text(conn, &format!("SELECT {AS_TEXT} FROM ({sql})"))
    })?;
    sh.send(
        pane,
        DataEvent::Table {
            seq,
            title,
            columns,
            rows,
        },
    );
    Ok(())
}

/// Writes the whole of `rel` to `path`, in the format its extension names.
pub fn export(conn: &Connection, rel: &str, path: &Path) -> Result<u64> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let opts = match ext.as_str() {
        "csv" => "FORMAT csv, HEADER true",
        "tsv" | "tab" => "FORMAT csv, HEADER true, DELIMITER '\t'",
        "parquet" | "pq" => "FORMAT parquet",
        "json" => "FORMAT json, ARRAY true",
        "ndjson" | "jsonl" => "FORMAT json",
        other => anyhow::bail!(
            "cannot tell the format from {:?}: use .csv, .tsv, .parquet, .json or .ndjson",
            if other.is_empty() {
                "no extension"
            } else {
                other
            }
        ),
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            anyhow::bail!("no such folder: {}", dir.display());
        }
    }
    let n = conn.execute(
        &format!(
            "COPY (SELECT * FROM {rel}) TO {} ({opts})",
            quote_literal(&path.to_string_lossy())
        ),
        [],
    )?;
    Ok(n as u64)
}

pub(super) fn make_plot(conn: &Connection, rel: &str, ask: PlotAsk) -> Result<Plot> {
    Ok(match ask {
        PlotAsk::Histogram { column, bins } => {
            let c = quote_ident(&column);
            let bins = bins.clamp(1, 200) as i64;
            let (lo, hi): (Option<f64>, Option<f64>) = conn.query_row(
                &format!("SELECT min({c})::DOUBLE, max({c})::DOUBLE FROM {rel}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (Some(lo), Some(hi)) = (lo, hi) else {
                return Ok(Plot::Histogram {
                    column,
                    bins: vec![],
                });
            };
            let n = if hi > lo { bins } else { 1 };
            let w = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
            let mut counts = vec![0u64; n as usize];
            let mut stmt = conn.prepare(&format!(
                "SELECT least(floor(({c}::DOUBLE - {lo}) / {w}), {})::BIGINT AS b, count(*) \
                 FROM {rel} WHERE {c} IS NOT NULL GROUP BY b",
                n - 1
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let b: i64 = r.get(0)?;
                let k: i64 = r.get(1)?;
                if let Some(slot) = counts.get_mut(b.clamp(0, n - 1) as usize) {
                    *slot += k.max(0) as u64;
                }
            }
            Plot::Histogram {
                column,
                bins: counts
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (lo + w * i as f64, lo + w * (i + 1) as f64, k))
                    .collect(),
            }
        }
        PlotAsk::Bars { column, top } => {
            let c = quote_ident(&column);
            let mut stmt = conn.prepare(&format!(
                "SELECT coalesce(CAST({c} AS VARCHAR), 'NULL'), count(*) AS n FROM {rel} \
                 GROUP BY ALL ORDER BY n DESC, 1 LIMIT {}",
                top.clamp(1, 100)
            ))?;
            let mut rows = stmt.query([])?;
            let mut bars = Vec::new();
            while let Some(r) = rows.next()? {
                bars.push((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64));
            }
            Plot::Bars { column, bars }
        }
        PlotAsk::Line { x, y, points } => {
            // One point per x: the mean of y over the rows with that x, or, with more x values
            // than points, over bins of x. A sample of raw rows with repeated x draws a wall.
            let (xc, yc) = (quote_ident(&x), quote_ident(&y));
            let n_points = points.clamp(2, 20_000) as i64;
            let pairs = format!(
                "(SELECT {xc}::DOUBLE AS a, {yc}::DOUBLE AS b FROM {rel} \
                 WHERE {xc} IS NOT NULL AND {yc} IS NOT NULL)"
            );
            let (lo, hi, distinct, n): (Option<f64>, Option<f64>, i64, i64) = conn.query_row(
                &format!("SELECT min(a), max(a), count(DISTINCT a), count(*) FROM {pairs}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let (sql, how) = match (lo, hi) {
                (Some(lo), Some(hi)) if distinct > n_points && hi > lo => {
                    let w = (hi - lo) / n_points as f64;
                    (
                        format!(
                            "SELECT avg(a), avg(b) FROM {pairs} \
                             GROUP BY least(floor((a - {lo}) / {w}), {}) ORDER BY 1",
                            n_points - 1
                        ),
                        format!(
                            "mean in {n_points} bins of {x} ({} rows)",
                            fieldkit_messages::text::group(n as u64)
                        ),
                    )
                }
                _ => (
                    format!("SELECT a, avg(b) FROM {pairs} GROUP BY a ORDER BY a"),
                    if n > distinct {
                        format!(
                            "mean of {y} for each {x} ({} rows)",
                            fieldkit_messages::text::group(n as u64)
                        )
                    } else {
                        String::new()
                    },
                ),
            };
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut pts = Vec::new();
            while let Some(r) = rows.next()? {
                pts.push((r.get::<_, f64>(0)?, r.get::<_, f64>(1)?));
            }
            Plot::Line {
                x,
                y,
                points: pts,
                how,
            }
        }
    })
}

pub(super) fn catalog(conn: &Connection) -> Result<Catalog> {
    let mut tables: Vec<CatalogTable> = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT database_name, schema_name, table_name, column_name, data_type \
         FROM duckdb_columns() WHERE NOT internal \
         AND database_name NOT IN ('fk_mem', 'temp', 'system') \
         ORDER BY database_name, schema_name, table_name, column_index",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (db, schema, table): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let name = if schema == "main" && (db == "data" || db == "memory") {
            table
        } else if schema == "main" {
            format!("{db}.{table}")
        } else {
            format!("{db}.{schema}.{table}")
        };
        let col = Column {
            name: r.get(3)?,
            ty: r.get(4)?,
        };
        match tables.last_mut() {
            Some(t) if t.name == name => t.columns.push(col),
            _ => tables.push(CatalogTable {
                name,
                columns: vec![col],
            }),
        }
    }
    let mut functions = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT DISTINCT function_name FROM duckdb_functions() \
         WHERE function_type IN ('scalar', 'aggregate', 'table', 'macro', 'table_macro') \
         ORDER BY 1",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let f: String = r.get(0)?;
        if !f.starts_with('_') && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            functions.push(f);
        }
    }
    Ok(Catalog { tables, functions })
}
