/*!
How a SQL editor is drawn besides its text: the footer (what ran, rows, time, the error with its
place) and the catalog tree.
*/

use super::*;

impl SqlPane {
    pub(super) fn footer(&self, t: &Theme) -> Vec<(String, Style)> {
        let label = Style::new().fg(t.muted);
        let mut out = vec![(
            format!(
                "buffer {}/{} · {} ",
                self.ed.position().0 + 1,
                self.ed.position().1,
                self.dialect.as_deref().unwrap_or("duckdb")
            ),
            label,
        )];
        match &self.last {
            None => out.push(("C-r runs the statement, F5 all".into(), label)),
            Some(RunState::Running(what, pct)) => out.push((
                match pct {
                    Some(p) => format!("{what} {p:.0}% · Esc cancels"),
                    None => format!("{what}… · Esc cancels"),
                },
                Style::new().fg(t.warn),
            )),
            Some(RunState::Rows(Some(n))) => out.push((
                format!("{} rows", fieldkit_widgets::plot::group(*n)),
                Style::new().fg(t.ok),
            )),
            Some(RunState::Rows(None)) => {
                out.push(("rows arriving…".into(), Style::new().fg(t.ok)))
            }
            Some(RunState::Done(m)) => out.push((m.clone(), Style::new().fg(t.ok))),
            Some(RunState::Error { message, at }) => {
                let first = message.lines().next().unwrap_or("");
                let pos = at
                    .map(|(l, c)| format!("line {}, column {}: ", l + 1, c + 1))
                    .unwrap_or_default();
                out.push((format!("{pos}{first}"), Style::new().fg(t.error)));
            }
        }
        out
    }

    pub(super) fn render_tree(&self, area: Rect, buf: &mut Buffer, t: &Theme) {
        let mut lines: Vec<(String, Style)> = vec![("catalog".into(), t.heading())];
        if self.catalog.tables.is_empty() {
            lines.push(("(no tables yet)".into(), t.muted()));
        }
        for tb in &self.catalog.tables {
            lines.push((format!("▸ {}", tb.name), Style::new().fg(t.accent)));
            for c in &tb.columns {
                lines.push((format!("    {} {}", c.name, c.ty), Style::new().fg(t.fg)));
            }
        }
        let top = self.tree_top.min(lines.len().saturating_sub(1));
        for (i, (s, st)) in lines.iter().skip(top).enumerate() {
            if i as u16 >= area.height {
                break;
            }
            put(buf, area.x, area.y + i as u16, area.width, s, *st);
        }
    }
}
