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

/// The table function that reads a file of `kind`, bad rows skipped where the format allows.
pub(super) fn reader(kind: FileKind, path: &Path, rejects: Option<(&str, &str)>) -> String {
    let p = quote_literal(&path.to_string_lossy());
    match kind {
        FileKind::Csv => match rejects {
            Some((t, s)) => format!(
                "read_csv({p}, normalize_names = true, ignore_errors = true, store_rejects = true, \
                 rejects_table = {}, rejects_scan = {})",
                quote_literal(t),
                quote_literal(s)
            ),
            None => format!("read_csv({p}, normalize_names = true, ignore_errors = true)"),
        },
        FileKind::Json => format!("read_json_auto({p})"),
        FileKind::Parquet => format!("read_parquet({p})"),
        FileKind::Excel => format!("read_csv({p}, normalize_names = true)"),
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
