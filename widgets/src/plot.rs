/*!
Plots for the data grid: a histogram, a bar list of the most frequent values, and a line
chart, each drawn into the area the grid gives it with the theme's colours. They take plain
numbers and labels (what DuckDB computed), so they know nothing of queries or panes; and the
number formats they label with (`group`, `short_num`), which the grid uses too.
*/

use crate::table::{put, text_width};
use crate::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Chart, Dataset, GraphType, Paragraph, Widget,
};

/// A histogram of `column`: bins as (start, end, count).
pub fn histogram(
    column: &str,
    bins: &[(f64, f64, u64)],
    block: Block,
    area: Rect,
    buf: &mut Buffer,
    t: &Theme,
) {
    let block = block.title(Span::styled(
        format!(" histogram of {column} "),
        t.heading(),
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    if bins.is_empty() {
        Paragraph::new("no values").render(inner, buf);
        return;
    }
    let n = bins.len().max(1) as u16;
    let width = (inner.width / n).clamp(1, 8);
    let gap = if width > 2 { 1 } else { 0 };
    let bar_w = width.saturating_sub(gap).max(1);
    // A label under each bar where every label fits its bar; where bins are a column or two
    // wide (their labels would run together), a few spaced ticks on the axis instead.
    let labels: Vec<String> = bins.iter().map(|(lo, _, _)| short_num(*lo)).collect();
    let each = labels.iter().all(|l| l.chars().count() <= bar_w as usize);
    let bars: Vec<Bar> = bins
        .iter()
        .zip(&labels)
        .map(|((_, _, c), l)| {
            let b = Bar::default().value(*c).text_value(String::new());
            if each {
                b.label(ratatui::text::Line::from(l.clone()))
            } else {
                b
            }
        })
        .collect();
    let chart = Rect {
        height: inner.height.saturating_sub(u16::from(!each)),
        ..inner
    };
    BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_w)
        .bar_gap(gap)
        .bar_style(Style::new().fg(t.accent))
        .value_style(Style::new().fg(t.fg))
        .label_style(Style::new().fg(t.muted))
        .render(chart, buf);
    let (lo, hi) = (bins[0].0, bins[bins.len() - 1].1);
    if !each && inner.height > 1 {
        axis_ticks(bins, bar_w + gap, inner, buf, Style::new().fg(t.muted));
    }
    let max = bins.iter().map(|b| b.2).max().unwrap_or(0);
    let caption = format!(
        "{} … {}  (tallest bin {})",
        short_num(lo),
        short_num(hi),
        group(max)
    );
    if inner.height > 0 {
        buf.set_stringn(
            inner.x,
            inner.y,
            &caption,
            inner.width as usize,
            Style::new().fg(t.muted),
        );
    }
}

/// Ticks under a histogram's bars, on its last row: the lowest value, the quartiles' bin
/// starts and the highest, each where its bin is, and only those that fit with a space
/// between (as a plotting library thins its ticks).
fn axis_ticks(bins: &[(f64, f64, u64)], step: u16, inner: Rect, buf: &mut Buffer, st: Style) {
    let n = bins.len();
    let y = inner.y + inner.height - 1;
    let right = inner.x + inner.width;
    let mut ticks: Vec<(u16, String)> = [0.0, 0.25, 0.5, 0.75]
        .iter()
        .map(|q| {
            let i = ((n - 1) as f64 * q).round() as usize;
            (inner.x + i as u16 * step, short_num(bins[i].0))
        })
        .collect();
    let last = short_num(bins[n - 1].1);
    let end = (inner.x + n as u16 * step).min(right);
    ticks.push((
        end.saturating_sub(last.chars().count() as u16).max(inner.x),
        last,
    ));
    let mut free = inner.x;
    for (i, (x, label)) in ticks.iter().enumerate() {
        let w = label.chars().count() as u16;
        // The last tick (the highest value) is kept over the ones before it.
        let next_taken = ticks
            .last()
            .filter(|_| i + 1 < ticks.len())
            .map(|(lx, _)| *lx);
        if *x < free || x + w > right || next_taken.is_some_and(|lx| x + w + 1 > lx) {
            continue;
        }
        buf.set_stringn(*x, y, label, w as usize, st);
        free = x + w + 1;
    }
}

/// The most frequent values of `column` with their counts, as horizontal bars.
pub fn bars(
    column: &str,
    bars: &[(String, u64)],
    block: Block,
    area: Rect,
    buf: &mut Buffer,
    t: &Theme,
) {
    let block = block.title(Span::styled(
        format!(" most frequent {column} "),
        t.heading(),
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    let label_w = bars
        .iter()
        .map(|(l, _)| text_width(l))
        .max()
        .unwrap_or(0)
        .min(inner.width as usize / 3) as u16;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    for (i, (label, count)) in bars.iter().enumerate() {
        let y = inner.y + i as u16;
        if y >= inner.y + inner.height {
            break;
        }
        put(buf, inner.x, y, label_w, label, Style::new().fg(t.fg));
        let room = inner.width.saturating_sub(label_w + 2 + 12) as u64;
        let len = (count * room).div_ceil(max) as usize;
        let bar = format!("{} {}", "█".repeat(len), group(*count));
        buf.set_stringn(
            inner.x + label_w + 1,
            y,
            &bar,
            inner.width.saturating_sub(label_w + 1) as usize,
            Style::new().fg(t.accent),
        );
    }
}

/// `y` by `x` as a line.
#[allow(clippy::too_many_arguments)]
pub fn line(
    x: &str,
    y: &str,
    points: &[(f64, f64)],
    how: &str,
    block: Block,
    area: Rect,
    buf: &mut Buffer,
    t: &Theme,
) {
    let title = if how.is_empty() {
        format!(" {y} by {x} ")
    } else {
        format!(" {y} by {x} · {how} ")
    };
    let block = block.title(Span::styled(title, t.heading()));
    if points.is_empty() {
        Paragraph::new("no values").block(block).render(area, buf);
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (a, b) in points {
        x0 = x0.min(*a);
        x1 = x1.max(*a);
        y0 = y0.min(*b);
        y1 = y1.max(*b);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let data = [Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(t.accent))
        .data(points)];
    Chart::new(data.to_vec())
        .block(block)
        .x_axis(
            Axis::default()
                .title(x)
                .style(Style::new().fg(t.muted))
                .bounds([x0, x1])
                .labels([short_num(x0), short_num(x1)]),
        )
        .y_axis(
            Axis::default()
                .title(y)
                .style(Style::new().fg(t.muted))
                .bounds([y0, y1])
                .labels([short_num(y0), short_num(y1)]),
        )
        .render(area, buf);
}

pub use fieldkit_messages::text::group;

/// A number short enough for an axis label.
pub fn short_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shortened() {
        assert_eq!(short_num(2_500_000.0), "2.5M");
        assert_eq!(short_num(3.0), "3");
    }

    #[test]
    fn a_histogram_of_narrow_bins_has_a_few_spaced_ticks_not_a_label_each() {
        let bins: Vec<(f64, f64, u64)> = (0..60)
            .map(|i| {
                (
                    1000.0 + i as f64 * 100.0,
                    1100.0 + i as f64 * 100.0,
                    (i % 7) as u64,
                )
            })
            .collect();
        let area = Rect::new(0, 0, 80, 12);
        let mut buf = Buffer::empty(area);
        histogram(
            "fare",
            &bins,
            Block::bordered(),
            area,
            &mut buf,
            &Theme::default(),
        );
        let axis: String = (1..79).map(|x| buf[(x, 10)].symbol().to_string()).collect();
        let ticks: Vec<&str> = axis.split_whitespace().collect();
        assert!(ticks.len() >= 3, "{axis:?}");
        assert_eq!(ticks.first(), Some(&"1000"), "{axis:?}");
        assert_eq!(ticks.last(), Some(&"7000"), "{axis:?}");
        // Each tick is one number: none ran into the next.
        for t in &ticks {
            assert!(
                t.parse::<f64>().is_ok() || t.ends_with(['k', 'M']),
                "{t:?} in {axis:?}"
            );
            assert!(t.len() <= 5, "{t:?} in {axis:?}");
        }
    }
}
