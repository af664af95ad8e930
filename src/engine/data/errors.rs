/*!
DuckDB's errors as the user reads them: the message without its query echo, and where the
error is (line and column from DuckDB's caret), shifted to the statement's place in the text
the user sent.
*/

use super::*;

/// An error event, with the line and column DuckDB pointed at in `stmt` (shifted up by
/// `line_shift` lines of wrapping the worker added).
pub(super) fn error_event(seq: u64, message: &str, stmt: &str, line_shift: u32) -> DataEvent {
    let (line, column) = match error_position(message, stmt, line_shift) {
        Some((l, c)) if l > line_shift => (Some(l - line_shift), Some(c)),
        _ => (None, None),
    };
    DataEvent::Error {
        seq,
        message: tidy_error(message),
        line,
        column,
    }
}

/// The message without DuckDB's echo of the query (the editor marks the place itself).
pub fn tidy_error(message: &str) -> String {
    let mut out = Vec::new();
    for l in message.lines() {
        if l.starts_with("LINE ") {
            break;
        }
        out.push(l);
    }
    let s = out.join("\n").trim().to_string();
    if s.is_empty() {
        message.trim().to_string()
    } else {
        s
    }
}

/// (line, column), 1-based, from DuckDB's `LINE n: ...` and the caret line under it. The line
/// is DuckDB's (of the text it ran: `stmt` after `shift` lines of wrapping); the column is in
/// `stmt`'s line. DuckDB shows a long line as a window around the error (`...` before and
/// after), so the column is found by looking that window up in the statement: counting from
/// the window's start, as before, put everything after a string literal off by the literal's
/// length.
pub fn error_position(message: &str, stmt: &str, shift: u32) -> Option<(u32, u32)> {
    let lines: Vec<&str> = message.lines().collect();
    let i = lines.iter().position(|l| l.starts_with("LINE "))?;
    let head = lines[i];
    let colon = head.find(": ")?;
    let line: u32 = head[5..colon].trim().parse().ok()?;
    let caret_line = lines.get(i + 1)?;
    let caret = caret_line.chars().position(|c| c == '^')?;
    let shown_start = colon + 2;
    let col = caret.checked_sub(shown_start)? as u32 + 1;
    let shown = &head[shown_start..];
    let Some(window) = shown.strip_prefix("...") else {
        return Some((line, col));
    };
    let window = window.strip_suffix("...").unwrap_or(window);
    let in_window = col.saturating_sub(3);
    let source = line
        .checked_sub(shift + 1)
        .and_then(|i| stmt.lines().nth(i as usize));
    match source.and_then(|src| src.find(window).map(|at| (src, at))) {
        Some((src, at)) => Some((line, src[..at].chars().count() as u32 + in_window)),
        None => Some((line, in_window.max(1))),
    }
}

/// Moves an error's line down by the lines before its statement in the sent text.
pub(super) fn shift_error(ev: DataEvent, lines_before: u32) -> DataEvent {
    match ev {
        DataEvent::Error {
            seq,
            message,
            line,
            column,
        } => DataEvent::Error {
            seq,
            message,
            line: line.map(|l| l + lines_before),
            column,
        },
        other => other,
    }
}
