/*!
The data table: a frozen two-line header (name, type), a row-number gutter, and only the rows
and columns that fit.

It draws what it is given and nothing more: the grid pane owns the cursor, the scroll offsets
and the cache of fetched rows, and passes the visible window here. A row that has not arrived
yet is drawn as a dim placeholder, so scrolling never waits on the worker to paint a frame.
*/

use crate::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use unicode_width::UnicodeWidthChar;

/// Widest a column gets from its contents; the inspector shows the rest.
pub const MAX_COL_WIDTH: u16 = 40;

pub struct TableView<'a> {
    /// (name, type) per column.
    pub columns: &'a [(String, String)],
    pub widths: &'a [u16],
    /// First column drawn (horizontal scroll).
    pub left: usize,
    /// Row numbers (0-based) on screen, top to bottom.
    pub rows: &'a [u64],
    /// The cell at (row, column): `None` while it is being fetched, `Some(None)` for NULL.
    pub cell: &'a dyn Fn(u64, usize) -> Option<Option<&'a str>>,
    /// (index into `rows`, column) of the cursor cell.
    pub cursor: Option<(usize, usize)>,
    /// A column drawn in the accent colour (the marked x axis, the sort column).
    pub marked: Option<usize>,
    pub theme: &'a Theme,
    /// Characters for borders: `│` or `|`.
    pub ascii: bool,
}

/// The width a column wants: its header or its widest visible value, capped.
pub fn fit_width(name: &str, ty: &str, values: impl Iterator<Item = usize>) -> u16 {
    let head = text_width(name).max(text_width(ty));
    let body = values.max().unwrap_or(0);
    (head.max(body).max(1) as u16).min(MAX_COL_WIDTH)
}

pub fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Shows control characters (a tab, a newline in a cell) as one visible character each.
fn visible(c: char) -> char {
    match c {
        '\n' => '↵',
        '\t' => '→',
        c if c.is_control() => '�',
        c => c,
    }
}

/// Writes `s` into at most `width` cells at (x, y), ending with `…` when cut.
pub fn put(buf: &mut Buffer, x: u16, y: u16, width: u16, s: &str, style: Style) {
    if width == 0 {
        return;
    }
    let total = text_width(s);
    let mut col = 0u16;
    let limit = if total > width as usize {
        width.saturating_sub(1)
    } else {
        width
    };
    for ch in s.chars() {
        let ch = visible(ch);
        let w = ch.width().unwrap_or(0) as u16;
        if w == 0 {
            continue;
        }
        if col + w > limit {
            break;
        }
        if let Some(cell) = buf.cell_mut((x + col, y)) {
            cell.set_char(ch).set_style(style);
        }
        col += w;
    }
    if total > width as usize {
        if let Some(cell) = buf.cell_mut((x + col, y)) {
            cell.set_char('…').set_style(style);
        }
        col += 1;
    }
    while col < width {
        if let Some(cell) = buf.cell_mut((x + col, y)) {
            cell.set_char(' ').set_style(style);
        }
        col += 1;
    }
}

/// Right-aligns numbers, as spreadsheets and the duckdb CLI do.
pub fn is_numeric_type(ty: &str) -> bool {
    let t = ty.to_ascii_uppercase();
    [
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
        "REAL",
    ]
    .iter()
    .any(|n| t.starts_with(n))
}

impl TableView<'_> {
    /// The gutter's width for row numbers up to `last_row` (1-based display).
    pub fn gutter_width(last_row: u64) -> u16 {
        (last_row.max(1).to_string().len() as u16) + 1
    }

    /// How many columns from `left` fit in `width` cells after the gutter.
    pub fn columns_fitting(widths: &[u16], left: usize, width: u16) -> usize {
        let mut used = 0u16;
        let mut n = 0;
        for w in widths.iter().skip(left) {
            let need = w + 1;
            if used + need > width && n > 0 {
                break;
            }
            used = used.saturating_add(need);
            n += 1;
        }
        n
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, last_row: u64) {
        if area.height < 3 || area.width < 4 {
            return;
        }
        let t = self.theme;
        let base = Style::new().fg(t.fg).bg(t.bg);
        let dim = Style::new().fg(t.muted).bg(t.bg);
        let head = Style::new()
            .fg(t.accent)
            .bg(t.bg)
            .add_modifier(Modifier::BOLD);
        let sep = if self.ascii { "|" } else { "│" };
        let gutter = Self::gutter_width(last_row).min(area.width / 2);
        buf.set_style(area, base);
        let mut x = area.x + gutter;
        let right = area.x + area.width;
        for (ci, ((name, ty), w)) in self
            .columns
            .iter()
            .zip(self.widths)
            .enumerate()
            .skip(self.left)
        {
            if x >= right {
                break;
            }
            let w = (*w).min(right - x);
            let style = if Some(ci) == self.marked {
                head.add_modifier(Modifier::UNDERLINED)
            } else {
                head
            };
            put(buf, x, area.y, w, name, style);
            put(buf, x, area.y + 1, w, ty, dim);
            for y in area.y..area.y + area.height {
                if let Some(c) = buf.cell_mut((x + w, y)) {
                    if x + w < right {
                        c.set_symbol(sep).set_style(dim);
                    }
                }
            }
            x += w + 1;
        }
        let body = area.y + 2;
        for (ri, num) in self.rows.iter().enumerate() {
            let y = body + ri as u16;
            if y >= area.y + area.height {
                break;
            }
            let label = (num + 1).to_string();
            let lw = text_width(&label) as u16;
            put(
                buf,
                area.x + gutter.saturating_sub(lw + 1),
                y,
                lw.min(gutter),
                &label,
                dim,
            );
            let mut x = area.x + gutter;
            for (ci, ((_, ty), w)) in self
                .columns
                .iter()
                .zip(self.widths)
                .enumerate()
                .skip(self.left)
            {
                if x >= right {
                    break;
                }
                let w = (*w).min(right - x);
                let on_cursor = self.cursor == Some((ri, ci));
                let row_cursor = self.cursor.map(|c| c.0) == Some(ri);
                let mut style = if on_cursor {
                    Style::new()
                        .fg(t.selection_fg)
                        .bg(t.border_focused)
                        .add_modifier(Modifier::BOLD)
                } else if row_cursor {
                    Style::new().fg(t.selection_fg).bg(t.selection_bg)
                } else {
                    base
                };
                match (self.cell)(*num, ci) {
                    Some(Some(v)) => {
                        let vw = text_width(v) as u16;
                        if is_numeric_type(ty) && vw < w {
                            put(buf, x, y, w - vw, "", style);
                            put(buf, x + w - vw, y, vw, v, style);
                        } else {
                            put(buf, x, y, w, v, style);
                        }
                    }
                    Some(None) => {
                        if !on_cursor {
                            style = style.fg(t.muted);
                        }
                        put(buf, x, y, w, "NULL", style.add_modifier(Modifier::ITALIC));
                    }
                    None => put(buf, x, y, w, "·", style.fg(t.muted)),
                }
                x += w + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_end_with_an_ellipsis_and_controls_show() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 1));
        put(&mut buf, 0, 0, 6, "abcdefgh", Style::new());
        let row: String = (0..6).map(|x| buf[(x, 0)].symbol().to_string()).collect();
        assert_eq!(row, "abcde…");
        put(&mut buf, 0, 0, 6, "a\tb\nc", Style::new());
        let row: String = (0..6).map(|x| buf[(x, 0)].symbol().to_string()).collect();
        assert_eq!(row, "a→b↵c ");
    }

    #[test]
    fn widths_fit_content_up_to_the_cap() {
        assert_eq!(fit_width("id", "BIGINT", [1, 3].into_iter()), 6);
        assert_eq!(fit_width("x", "INT", [200].into_iter()), MAX_COL_WIDTH);
        assert_eq!(TableView::columns_fitting(&[5, 5, 5], 0, 12), 2);
        assert_eq!(TableView::columns_fitting(&[50], 0, 12), 1);
    }
}
