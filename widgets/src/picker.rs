/*!
A fuzzy picker: a query line over a list, ranked by nucleo, matched characters highlighted.

The picker owns its items and re-ranks on every query change. Ranking is nucleo's (the
matcher helix and others use), with ties kept in item order so that a stable list (the
command palette) does not jump around while typing.
*/

use crate::Theme;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickerItem {
    /// Matched against the query.
    pub text: String,
    /// Shown dimmed after the text (a description).
    pub detail: String,
    /// Shown right-aligned (a key binding).
    pub key: String,
}

pub struct Picker {
    items: Vec<PickerItem>,
    query: String,
    /// Indices into `items`, best first, with the matched char positions.
    ranked: Vec<(usize, Vec<u32>)>,
    selected: usize,
    scroll: usize,
    matcher: Matcher,
}

impl std::fmt::Debug for Picker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picker")
            .field("query", &self.query)
            .field("selected", &self.selected)
            .finish()
    }
}

impl Picker {
    pub fn new(items: Vec<PickerItem>) -> Self {
        let mut p = Picker {
            items,
            query: String::new(),
            ranked: Vec::new(),
            selected: 0,
            scroll: 0,
            matcher: Matcher::new(Config::DEFAULT),
        };
        p.rank();
        p
    }

    /// More items, ranked with the rest (the palette's plugin tools).
    pub fn extend(&mut self, items: Vec<PickerItem>) {
        if items.is_empty() {
            return;
        }
        self.items.extend(items);
        self.rank();
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn set_query(&mut self, q: &str) {
        self.query = q.to_string();
        self.rank();
    }

    pub fn push_char(&mut self, c: char) {
        self.query.push(c);
        self.rank();
    }

    pub fn pop_char(&mut self) {
        self.query.pop();
        self.rank();
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.ranked.is_empty() {
            return;
        }
        let n = self.ranked.len() as isize;
        self.selected = (self.selected as isize + delta).rem_euclid(n) as usize;
    }

    /// The item under the cursor, if any item matches.
    pub fn selected(&self) -> Option<&PickerItem> {
        self.ranked.get(self.selected).map(|(i, _)| &self.items[*i])
    }

    pub fn matches(&self) -> impl Iterator<Item = &PickerItem> {
        self.ranked.iter().map(|(i, _)| &self.items[*i])
    }

    fn rank(&mut self) {
        self.selected = 0;
        self.scroll = 0;
        if self.query.is_empty() {
            self.ranked = (0..self.items.len()).map(|i| (i, Vec::new())).collect();
            return;
        }
        let pattern = Pattern::parse(&self.query, CaseMatching::Smart, Normalization::Smart);
        let mut buf = Vec::new();
        let mut scored: Vec<(u32, usize, Vec<u32>)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let hay = Utf32Str::new(&item.text, &mut buf);
            let mut idx = Vec::new();
            if let Some(score) = pattern.indices(hay, &mut self.matcher, &mut idx) {
                idx.sort_unstable();
                idx.dedup();
                scored.push((score, i, idx));
            }
        }
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        self.ranked = scored.into_iter().map(|(_, i, idx)| (i, idx)).collect();
    }

    /// Draws the query line and as many items as fit; returns where the text cursor goes.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer, theme: &Theme) -> (u16, u16) {
        if area.height == 0 || area.width < 4 {
            return (area.x, area.y);
        }
        let prompt = "› ";
        let (qx, _) = buf.set_stringn(area.x, area.y, prompt, usize::MAX, theme.heading());
        let (cx, _) = buf.set_stringn(
            qx,
            area.y,
            &self.query,
            (area.x + area.width - qx) as usize,
            theme.popup(),
        );
        let count = format!("{}/{}", self.ranked.len(), self.items.len());
        let cw = count.len() as u16;
        if cw + 4 < area.width {
            buf.set_string(area.x + area.width - cw, area.y, &count, theme.muted());
        }
        let rows = area.height.saturating_sub(1) as usize;
        if rows == 0 {
            return (cx, area.y);
        }
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + rows {
            self.scroll = self.selected + 1 - rows;
        }
        // Descriptions line up after the longest name (capped so a long one cannot push them off).
        let name_w = self
            .items
            .iter()
            .map(|i| i.text.chars().count())
            .max()
            .unwrap_or(0)
            .min(28) as u16;
        for (row, (ri, (i, idx))) in self
            .ranked
            .iter()
            .enumerate()
            .skip(self.scroll)
            .take(rows)
            .enumerate()
        {
            let y = area.y + 1 + row as u16;
            let item = &self.items[*i];
            let sel = ri == self.selected;
            let base = if sel { theme.selected() } else { theme.popup() };
            buf.set_style(Rect::new(area.x, y, area.width, 1), base);
            let key_w = item.key.chars().count() as u16;
            let text_end =
                (area.x + area.width).saturating_sub(if key_w > 0 { key_w + 1 } else { 0 });
            let mut x = area.x + 1;
            for (ci, ch) in item.text.chars().enumerate() {
                if x >= text_end {
                    break;
                }
                let style = if idx.binary_search(&(ci as u32)).is_ok() {
                    base.fg(theme.matched)
                } else {
                    base
                };
                let mut tmp = [0u8; 4];
                buf.set_string(x, y, ch.encode_utf8(&mut tmp), style);
                x += 1;
            }
            let dx = (area.x + 1 + name_w).max(x) + 2;
            if !item.detail.is_empty() && dx < text_end {
                buf.set_stringn(
                    dx,
                    y,
                    &item.detail,
                    (text_end - dx) as usize,
                    if sel { base } else { base.fg(theme.muted) },
                );
            }
            if key_w > 0 && key_w < area.width {
                buf.set_string(
                    area.x + area.width - key_w,
                    y,
                    &item.key,
                    Style::new().fg(theme.hint_key),
                );
            }
        }
        (cx, area.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(names: &[&str]) -> Vec<PickerItem> {
        names
            .iter()
            .map(|n| PickerItem {
                text: n.to_string(),
                detail: String::new(),
                key: String::new(),
            })
            .collect()
    }

    #[test]
    fn fuzzy_ranks_and_filters() {
        let mut p = Picker::new(items(&["split-right", "split-down", "new-tab", "zoom"]));
        assert_eq!(p.matches().count(), 4);
        p.set_query("sd");
        let got: Vec<_> = p.matches().map(|i| i.text.as_str()).collect();
        assert_eq!(got, vec!["split-down"]);
        p.set_query("zzzz");
        assert!(p.selected().is_none());
        p.set_query("");
        p.move_by(-1);
        assert_eq!(p.selected().map(|i| i.text.as_str()), Some("zoom"));
    }

    #[test]
    fn renders_query_count_and_highlight() {
        let theme = Theme::default();
        let mut p = Picker::new(items(&["split-right", "new-tab"]));
        p.set_query("new");
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 3));
        let cursor = p.render(buf.area, &mut buf, &theme);
        let row = |y: u16| -> String { (0..20).map(|x| buf[(x, y)].symbol()).collect() };
        assert_eq!(row(0), "› new            1/2");
        assert_eq!(row(1).trim_end(), " new-tab");
        assert_eq!(cursor, (5, 0));
        assert_eq!(buf[(1, 1)].fg, theme.matched);
    }
}
