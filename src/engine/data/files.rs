/*!
The files the data worker opens: what kind a file is (from its first bytes, not its name),
the DuckDB reader for each kind (CSV with rejected rows kept aside, Parquet in place, JSON,
Excel through a CSV), table names made from file names, and what a bad file is told as.
*/

use super::*;

pub(super) fn resolve_path(p: &str, home: &Path) -> PathBuf {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix("~/") {
        return home.join(rest);
    }
    let pb = PathBuf::from(p);
    if pb.is_absolute() {
        pb
    } else {
        home.join(pb)
    }
}

/// The kind of file, from its extension or, failing that, its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Parquet,
    Json,
    Excel,
}

pub fn file_kind(path: &Path, head: &[u8]) -> FileKind {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "parquet" | "pq" => FileKind::Parquet,
        "json" | "ndjson" | "jsonl" => FileKind::Json,
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => FileKind::Excel,
        "csv" | "tsv" | "tab" | "txt" => FileKind::Csv,
        _ if head.starts_with(b"PAR1") => FileKind::Parquet,
        _ if head.starts_with(b"PK\x03\x04") => FileKind::Excel,
        _ => match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => FileKind::Json,
            _ => FileKind::Csv,
        },
    }
}

/// Refuses files that cannot be data before DuckDB sees them, with a message that says why.
pub fn check_file(path: &Path) -> Result<(FileKind, Vec<u8>)> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    if meta.is_dir() {
        anyhow::bail!("{} is a folder, not a data file", path.display());
    }
    if meta.len() == 0 {
        anyhow::bail!("{} is empty: there is nothing to load", path.display());
    }
    let mut head = vec![0u8; 8192];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    head.truncate(n);
    let kind = file_kind(path, &head);
    if matches!(kind, FileKind::Csv | FileKind::Json) && head.contains(&0) {
        anyhow::bail!(
            "{} looks binary (it has NUL bytes), not like CSV or JSON text",
            path.display()
        );
    }
    if kind == FileKind::Parquet && !head.starts_with(b"PAR1") {
        anyhow::bail!("{} is not a Parquet file (no PAR1 header)", path.display());
    }
    Ok((kind, head))
}

/// A SQL-safe table name from a file name: `Sales 2024 (final).csv` -> `sales_2024_final`.
pub fn table_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    clean_name(&stem)
}

pub fn clean_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "data".into(),
        Some(c) if c.is_ascii_digit() => format!("t_{out}"),
        _ => out,
    }
}

/// Values that mean "missing" in CSV files written by R, instruments and spreadsheets.
pub const NA_TOKENS: &[&str] = &["NA", "N/A", "NaN", "null", "NULL", "-", ""];

/// How a CSV is read: DuckDB's options past the defaults, and the select list that names its
/// columns.
///
/// - Types. DuckDB's sniffer reads a column with `NA` in it as text. When reading the missing
///   tokens (`NA_TOKENS`) as NULL gives any column a type (a number, a date, a time), the file
///   is read that way, as R reads it, and the footer says how many of each column became NULL.
///   Otherwise the file is read as before: a text column keeps its `NA`s.
/// - Names. A column is renamed only when DuckDB cannot use its name unquoted: a reserved word
///   (`when` -> `_when`) or one with spaces or signs (`Dep Delay` -> `dep_delay`). `year`
///   stays `year` (DuckDB's `normalize_names` would make it `_year`).
#[derive(Debug, Clone, Default)]
pub(super) struct CsvPlan {
    opts: String,
    select: String,
    /// The file's columns as read and as named, for counting the tokens.
    names: Vec<(String, String)>,
    header: bool,
}

pub(super) fn csv_plan(conn: &Connection, path: &Path) -> Result<CsvPlan> {
    let p = quote_literal(&path.to_string_lossy());
    let describe = |opts: &str| -> Result<Vec<(String, String)>> {
        let mut st = conn.prepare(&format!(
            "DESCRIBE SELECT * FROM read_csv({p}, ignore_errors = true{opts})"
        ))?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    };
    let plain = describe("")?;
    let tokens = NA_TOKENS
        .iter()
        .map(|t| quote_literal(t))
        .collect::<Vec<_>>()
        .join(", ");
    let na_opts = format!(", nullstr = [{tokens}]");
    let with_na = describe(&na_opts).unwrap_or_default();
    let same_columns =
        with_na.len() == plain.len() && with_na.iter().zip(&plain).all(|(a, b)| a.0 == b.0);
    let gained: Vec<usize> = if same_columns {
        (0..plain.len())
            .filter(|&i| plain[i].1 == "VARCHAR" && numeric_or_time(&with_na[i].1))
            .collect()
    } else {
        Vec::new()
    };
    let reserved: std::collections::HashSet<String> = conn
        .prepare("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category = 'reserved'")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .unwrap_or_default();
    let mut used = std::collections::HashSet::new();
    let mut names = Vec::new();
    for (raw, _) in &plain {
        let mut name = column_name(raw, &reserved);
        let base = name.clone();
        let mut n = 2;
        while !used.insert(name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push((raw.clone(), name));
    }
    let select = names
        .iter()
        .map(|(raw, name)| {
            if raw == name {
                quote_ident(raw)
            } else {
                format!("{} AS {}", quote_ident(raw), quote_ident(name))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let header = conn
        .query_row(
            &format!("SELECT HasHeader FROM sniff_csv({p}, ignore_errors = true)"),
            [],
            |r| r.get::<_, bool>(0),
        )
        .unwrap_or(true);
    Ok(CsvPlan {
        opts: if gained.is_empty() {
            String::new()
        } else {
            na_opts
        },
        select,
        names,
        header,
    })
}

/// A number, a date or a time: what a column of values and missing tokens is read as. Not a
/// boolean: `NA`/`NO` are country codes as often as they are missing yes-or-no answers.
fn numeric_or_time(ty: &str) -> bool {
    let t = ty.to_ascii_uppercase();
    fieldkit_widgets::table::is_numeric_type(&t)
        || ["DATE", "TIME", "TIMESTAMP"]
            .iter()
            .any(|k| t.starts_with(k))
}

/// A column's name as DuckDB can use it unquoted: itself when it can be.
pub fn column_name(raw: &str, reserved: &std::collections::HashSet<String>) -> String {
    let plain = raw
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && raw.chars().all(|c| c.is_alphanumeric() || c == '_');
    let name = if plain {
        raw.to_string()
    } else {
        clean_name(raw)
    };
    if reserved.contains(&name.to_lowercase()) {
        format!("_{name}")
    } else {
        name
    }
}

impl CsvPlan {
    /// The select list (`*` without a plan).
    pub(super) fn select(plan: Option<&CsvPlan>) -> &str {
        match plan {
            Some(p) if !p.select.is_empty() => &p.select,
            _ => "*",
        }
    }

    /// "dep_time: 8,255 NA read as NULL" for each column the missing tokens gave a type; the
    /// tokens are counted in one pass over the file read as text.
    pub(super) fn notes(&self, conn: &Connection, path: &Path) -> Vec<String> {
        if self.opts.is_empty() {
            return Vec::new();
        }
        let tokens: Vec<String> = NA_TOKENS
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| quote_literal(t))
            .collect();
        let list = tokens.join(", ");
        let mut aggs = Vec::new();
        for (raw, _) in &self.names {
            let c = quote_ident(raw);
            aggs.push(format!(
                "count(*) FILTER (WHERE {c} IN ({list})), min({c}) FILTER (WHERE {c} IN ({list})), \
                 max({c}) FILTER (WHERE {c} IN ({list}))"
            ));
        }
        let sql = format!(
            "SELECT {} FROM read_csv({}, all_varchar = true, header = {}, ignore_errors = true)",
            aggs.join(", "),
            quote_literal(&path.to_string_lossy()),
            self.header
        );
        let n = self.names.len();
        let counted = conn.query_row(&sql, [], |r| {
            let mut out = Vec::new();
            for i in 0..n {
                out.push((
                    r.get::<_, i64>(3 * i)?,
                    r.get::<_, Option<String>>(3 * i + 1)?,
                    r.get::<_, Option<String>>(3 * i + 2)?,
                ));
            }
            Ok(out)
        });
        let Ok(counted) = counted else {
            return vec![format!(
                "missing values ({}) read as NULL",
                tokens.join(", ").replace('\'', "")
            )];
        };
        let mut parts = Vec::new();
        for ((_, name), (k, lo, hi)) in self.names.iter().zip(counted) {
            if k == 0 {
                continue;
            }
            let what = match (lo, hi) {
                (Some(a), Some(b)) if a != b => format!("{a} or {b}"),
                (Some(a), _) => a,
                _ => "missing".into(),
            };
            parts.push(format!(
                "{name}: {} {what}",
                fieldkit_messages::text::group(k.max(0) as u64)
            ));
        }
        if parts.is_empty() {
            return Vec::new();
        }
        let shown = parts.len().min(3);
        let mut s = parts[..shown].join("; ");
        if parts.len() > shown {
            s.push_str(&format!(" (and {} more columns)", parts.len() - shown));
        }
        s.push_str(" read as NULL");
        vec![s]
    }
}

/// The table function that reads a file of `kind`, bad rows skipped where the format allows;
/// a CSV (and a workbook, read through one) as its plan says.
pub(super) fn reader(
    kind: FileKind,
    path: &Path,
    rejects: Option<(&str, &str)>,
    plan: Option<&CsvPlan>,
) -> String {
    let p = quote_literal(&path.to_string_lossy());
    let opts = plan.map(|c| c.opts.as_str()).unwrap_or_default();
    match kind {
        FileKind::Csv => match rejects {
            Some((t, s)) => format!(
                "read_csv({p}, ignore_errors = true{opts}, store_rejects = true, \
                 rejects_table = {}, rejects_scan = {})",
                quote_literal(t),
                quote_literal(s)
            ),
            None => format!("read_csv({p}, ignore_errors = true{opts})"),
        },
        FileKind::Json => format!("read_json_auto({p})"),
        FileKind::Parquet => format!("read_parquet({p})"),
        FileKind::Excel => format!("read_csv({p}{opts})"),
    }
}

/// Converts the first sheet of a workbook to CSV (DuckDB then detects the types).
pub(super) fn excel_to_csv(path: &Path, out: &Path) -> Result<u64> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(path)
        .map_err(|e| anyhow::anyhow!("{}: not a readable workbook: {e}", path.display()))?;
    let first = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{}: the workbook has no sheets", path.display()))?;
    let range = wb
        .worksheet_range(&first)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut n = 0u64;
    for row in range.rows() {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                let s = match c {
                    Data::Empty => String::new(),
                    Data::DateTime(d) => excel_date(d.as_f64()),
                    other => other.to_string(),
                };
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s
                }
            })
            .collect();
        writeln!(w, "{}", cells.join(","))?;
        n += 1;
    }
    w.flush()?;
    if n == 0 {
        anyhow::bail!("{}: the first sheet ({first}) is empty", path.display());
    }
    Ok(n)
}

/// An Excel serial date (days since 1899-12-30, the 1900 date system) as ISO 8601.
pub fn excel_date(serial: f64) -> String {
    let days = serial.floor() as i64;
    let secs = ((serial - serial.floor()) * 86400.0).round() as i64;
    // Days since 1970-01-01, then the civil date (Howard Hinnant's algorithm).
    let z = days - 25569 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if secs == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

pub(super) fn file_error(path: &Path, e: &str) -> String {
    format!("{}: {}", path.display(), tidy_error(e))
}

/// "12 bad rows skipped; first at line 5: ..." from DuckDB's rejects table: every row
/// `ignore_errors` left out, whatever was wrong with it (too many or too few fields, a value
/// that does not cast, bytes that are not UTF-8, a line over the limit).
pub(super) fn reject_notes(conn: &Connection, table: &str) -> Vec<String> {
    // DuckDB stores one reject per error, not per row (a row with two extra fields has two),
    // so the rows skipped are the distinct lines.
    let n: i64 = conn
        .query_row(
            &format!("SELECT count(DISTINCT (file_id, line)) FROM {table}"),
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    if n == 0 {
        return vec![];
    }
    let first: Option<(i64, String)> = conn
        .query_row(
            &format!("SELECT line, error_message FROM {table} ORDER BY line LIMIT 1"),
            [],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )
        .ok();
    let mut s = format!("{n} bad row{} skipped", if n == 1 { "" } else { "s" });
    if let Some((line, msg)) = first {
        s.push_str(&format!(
            "; first at line {line}: {}",
            msg.lines().next().unwrap_or("")
        ));
    }
    vec![s]
}
