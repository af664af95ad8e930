/*!
DuckDB's errors as the user reads them: the message without its query echo, and where the
error is (line and column from DuckDB's caret), shifted to the statement's place in the text
the user sent.
*/

use super::*;

/// An error event, with the line and column DuckDB pointed at (shifted up by `line_shift`
/// lines of wrapping the worker added).
pub(super) fn error_event(seq: u64, message: &str, line_shift: u32) -> DataEvent {
    let (line, column) = match error_position(message) {
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

/// (line, column), 1-based, from DuckDB's `LINE n: ...` and the caret line under it.
pub fn error_position(message: &str) -> Option<(u32, u32)> {
    let lines: Vec<&str> = message.lines().collect();
    let i = lines.iter().position(|l| l.starts_with("LINE "))?;
    let head = lines[i];
    let colon = head.find(": ")?;
    let line: u32 = head[5..colon].trim().parse().ok()?;
    let caret_line = lines.get(i + 1)?;
    let caret = caret_line.chars().position(|c| c == '^')?;
    let shown_start = colon + 2;
    let mut col = caret.checked_sub(shown_start)? as u32 + 1;
    // DuckDB cuts long lines and marks the cut with "...".
    if head[shown_start..].starts_with("...") {
        col = col.saturating_sub(3);
        return Some((line, col.max(1)));
    }
    Some((line, col))
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
