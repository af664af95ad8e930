/*!
How a grid is drawn besides its table: the footer (position, counts, what runs, notes), the
popups over it (stats, frequencies, inspector, plots) and how a cell is shown whole (JSON
pretty-printed).
*/

use super::*;

impl GridPane {
    pub(super) fn footer(&self, t: &Theme) -> Line<'static> {
        let label = Style::new().fg(t.muted);
        let value = Style::new().fg(t.fg).add_modifier(Modifier::BOLD);
        let mut spans = Vec::new();
        if let Some((what, pct)) = &self.busy {
            let bar = match pct {
                Some(p) => {
                    let filled = ((p / 100.0) * 10.0).round().clamp(0.0, 10.0) as usize;
                    format!(" {}{} {p:.0}%", "█".repeat(filled), "░".repeat(10 - filled))
                }
                None => " …".into(),
            };
            spans.push(Span::styled(
                format!("{what}{bar}"),
                Style::new().fg(t.warn),
            ));
            spans.push(Span::styled("  Esc cancels  ", label));
        }
        if !self.columns.is_empty() {
            spans.push(Span::styled("row ", label));
            spans.push(Span::styled(group(self.row + 1), value));
            spans.push(Span::styled(" of ", label));
            match self.total {
                Some(n) => spans.push(Span::styled(group(n), value)),
                None => spans.push(Span::styled(format!("{}+", group(self.known)), value)),
            }
            spans.push(Span::styled("  col ", label));
            spans.push(Span::styled(
                format!("{}/{}", self.col + 1, self.columns.len()),
                value,
            ));
        }
        if let Some(m) = &self.message {
            // One line: a message's own lines and tabs become spaces.
            let m = m.split_whitespace().collect::<Vec<_>>().join(" ");
            spans.push(Span::styled(format!("  {m}"), Style::new().fg(t.ok)));
        }
        if let Some((c, desc)) = &self.view.sort {
            spans.push(Span::styled(
                format!("  sorted {c} {}", if *desc { "↓" } else { "↑" }),
                Style::new().fg(t.accent),
            ));
        }
        if let Some(f) = &self.view.filter {
            spans.push(Span::styled(
                format!("  filter {f}"),
                Style::new().fg(t.accent),
            ));
        }
        Line::from(spans)
    }

    pub(super) fn render_overlay(&self, o: &Overlay, area: Rect, buf: &mut Buffer, t: &Theme) {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.popup_border))
            .style(Style::new().bg(t.popup_bg).fg(t.fg));
        match o {
            Overlay::Table {
                title,
                columns,
                rows,
                top,
                left,
                ..
            } => {
                let block = block.title(Span::styled(format!(" {title} "), t.heading()));
                let inner = block.inner(area);
                block.render(area, buf);
                let cols: Vec<(String, String)> = columns
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.clone()))
                    .collect();
                let widths: Vec<u16> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        fit_width(
                            &c.name,
                            &c.ty,
                            rows.iter()
                                .map(|r| r.get(i).and_then(|v| v.as_deref()).map_or(4, text_width)),
                        )
                    })
                    .collect();
                // The selected row stays on screen: the rows from the one that shows it last.
                let body = inner.height.saturating_sub(2).max(1) as usize;
                let first = top.saturating_sub(body - 1);
                let visible: Vec<u64> = (first as u64..rows.len() as u64).collect();
                let cell = |r: u64, c: usize| {
                    rows.get(r as usize)
                        .and_then(|row| row.get(c))
                        .map(|v| v.as_deref())
                };
                TableView {
                    columns: &cols,
                    widths: &widths,
                    left: *left,
                    rows: &visible,
                    cell: &cell,
                    cursor: Some((top - first, *left)),
                    marked: None,
                    theme: t,
                    ascii: false,
                }
                .render(inner, buf, rows.len() as u64);
            }
            Overlay::Inspect {
                title,
                text,
                scroll,
            } => {
                let block = block.title(Span::styled(format!(" {title} "), t.heading()));
                Paragraph::new(text.as_str())
                    .block(block)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0))
                    .render(area, buf);
            }
            Overlay::Plot(p) => render_plot(p, block, area, buf, t),
        }
    }
}

pub(super) fn render_plot(p: &Plot, block: Block, area: Rect, buf: &mut Buffer, t: &Theme) {
    match p {
        Plot::Histogram { column, bins } => plot::histogram(column, bins, block, area, buf, t),
        Plot::Bars { column, bars } => plot::bars(column, bars, block, area, buf, t),
        Plot::Line { x, y, points, how } => plot::line(x, y, points, how, block, area, buf, t),
    }
}

pub(super) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// JSON pretty-printed; anything else as it is.
pub(super) fn pretty(v: &str) -> String {
    let t = v.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        if let Ok(j) = serde_json::from_str::<serde_json::Value>(v) {
            if let Ok(p) = serde_json::to_string_pretty(&j) {
                return p;
            }
        }
    }
    v.to_string()
}
