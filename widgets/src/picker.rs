/*!
A fuzzy picker: a query line over a list, ranked by nucleo, matched characters highlighted.

The picker owns its items and re-ranks on every query change. Ranking is nucleo's (the
matcher helix and others use), with ties kept in item order so that a stable list (the
command palette) does not jump around while typing.

A list of `LARGE` items or more (a file picker over a big tree) is matched by nucleo's
background matcher instead (on all cores but one): a keystroke hands the new pattern to its
thread pool and waits at most `KEYSTROKE_MS` for the answer, so typing never blocks a frame;
until the answer comes the last results stay on screen, `busy` says so (the server redraws
until it is done) and the count shows `…`. Ties there go to the shorter item, then the earlier. Highlights are worked out for
the rows drawn only.
*/

use crate::Theme;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use std::sync::Arc;

/// From this many items on, matching runs in the background.
pub const LARGE: usize = 20_000;
/// How long a keystroke waits for the background matcher before the frame is drawn.
pub const KEYSTROKE_MS: u64 = 8;
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
    /// Indices into `items`, best first, with the matched char positions (small lists).
    ranked: Vec<(usize, Vec<u32>)>,
    /// The background matcher (large lists), over item indices.
    large: Option<nucleo::Nucleo<u32>>,
    /// Whether the background matcher was still at work at the last tick.
    busy: bool,
    selected: usize,
    scroll: usize,
    matcher: Matcher,
    /// The widest item name, capped: descriptions line up after it.
    name_w: u16,
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
            items: Vec::new(),
            query: String::new(),
            ranked: Vec::new(),
            large: None,
            busy: false,
            selected: 0,
            scroll: 0,
            matcher: Matcher::new(Config::DEFAULT),
            name_w: 0,
        };
        p.extend(items);
        p.rank(false);
        p
    }

    /// More items, ranked with the rest (the palette's plugin tools).
    pub fn extend(&mut self, items: Vec<PickerItem>) {
        if items.is_empty() {
            return;
        }
        let w = items
            .iter()
            .map(|i| i.text.chars().count())
            .max()
            .unwrap_or(0)
            .min(28) as u16;
        self.name_w = self.name_w.max(w);
        let first = self.items.len();
        self.items.extend(items);
        if self.large.is_none() && self.items.len() >= LARGE {
            // Matching moves to the background, on all cores but one: the one left draws the
            // frames (on two cores, a pool of two starved the drawing thread by 8-10 ms).
            let threads = std::thread::available_parallelism()
                .map(|n| n.get().saturating_sub(1).max(1))
                .unwrap_or(1);
            let n = nucleo::Nucleo::new(nucleo::Config::DEFAULT, Arc::new(|| {}), Some(threads), 1);
            self.large = Some(n);
            self.inject(0);
        } else if self.large.is_some() {
            self.inject(first);
        }
        self.rank(false);
    }

    /// Hands items from `from` on to the background matcher.
    fn inject(&mut self, from: usize) {
        let Some(n) = &self.large else { return };
        let inj = n.injector();
        for (i, item) in self.items.iter().enumerate().skip(from) {
            inj.push(i as u32, |_, cols| cols[0] = item.text.as_str().into());
        }
    }

    /// Whether matching is still running in the background (draw again soon).
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Takes what the background matcher has found, waiting at most `ms`. Answers whether
    /// the results changed.
    pub fn tick(&mut self, ms: u64) -> bool {
        let Some(n) = &mut self.large else {
            return false;
        };
        let st = n.tick(ms);
        self.busy = st.running;
        let count = n.snapshot().matched_item_count() as usize;
        if self.selected >= count {
            self.selected = count.saturating_sub(1);
        }
        st.changed
    }

    /// How many items match the query.
    pub fn match_count(&self) -> usize {
        match &self.large {
            Some(n) => n.snapshot().matched_item_count() as usize,
            None => self.ranked.len(),
        }
    }

    /// The item index of the `n`th best match.
    fn nth(&self, n: usize) -> Option<usize> {
        match &self.large {
            Some(m) => m
                .snapshot()
                .get_matched_item(n as u32)
                .map(|it| *it.data as usize),
            None => self.ranked.get(n).map(|(i, _)| *i),
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn set_query(&mut self, q: &str) {
        let append = q.starts_with(self.query.as_str());
        self.query = q.to_string();
        self.rank(append);
    }

    pub fn push_char(&mut self, c: char) {
        self.query.push(c);
        self.rank(true);
    }

    pub fn pop_char(&mut self) {
        self.query.pop();
        self.rank(false);
    }

    pub fn move_by(&mut self, delta: isize) {
        let n = self.match_count();
        if n == 0 {
            return;
        }
        self.selected = (self.selected as isize + delta).rem_euclid(n as isize) as usize;
    }

    /// The item under the cursor, if any item matches.
    pub fn selected(&self) -> Option<&PickerItem> {
        self.nth(self.selected).map(|i| &self.items[i])
    }

    pub fn matches(&self) -> Box<dyn Iterator<Item = &PickerItem> + '_> {
        match &self.large {
            Some(n) => {
                let snap = n.snapshot();
                Box::new(
                    snap.matched_items(..)
                        .map(|it| &self.items[*it.data as usize]),
                )
            }
            None => Box::new(self.ranked.iter().map(|(i, _)| &self.items[*i])),
        }
    }

    /// Ranks the items for the query; `append`: the query grew at its end, so only what
    /// matched before can match now.
    fn rank(&mut self, append: bool) {
        self.selected = 0;
        self.scroll = 0;
        if let Some(n) = &mut self.large {
            n.pattern.reparse(
                0,
                &self.query,
                nucleo::pattern::CaseMatching::Smart,
                nucleo::pattern::Normalization::Smart,
                append,
            );
            self.tick(KEYSTROKE_MS);
            return;
        }
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
        self.tick(0);
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
        let count = format!(
            "{}{}/{}",
            if self.busy { "…" } else { "" },
            self.match_count(),
            self.items.len()
        );
        let cw = count.chars().count() as u16;
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
        let name_w = self.name_w;
        // The rows drawn, with their highlights (worked out here for a large list).
        let shown: Vec<(usize, usize, Vec<u32>)> = match &self.large {
            None => self
                .ranked
                .iter()
                .enumerate()
                .skip(self.scroll)
                .take(rows)
                .map(|(ri, (i, idx))| (ri, *i, idx.clone()))
                .collect(),
            Some(n) => {
                let snap = n.snapshot();
                let count = snap.matched_item_count();
                let from = (self.scroll as u32).min(count);
                let to = (from + rows as u32).min(count);
                let pat = snap.pattern().column_pattern(0);
                let mut out = Vec::new();
                let mut hay = Vec::new();
                for (k, it) in snap.matched_items(from..to).enumerate() {
                    let i = *it.data as usize;
                    let mut idx = Vec::new();
                    let h = Utf32Str::new(&self.items[i].text, &mut hay);
                    pat.indices(h, &mut self.matcher, &mut idx);
                    idx.sort_unstable();
                    idx.dedup();
                    out.push((from as usize + k, i, idx));
                }
                out
            }
        };
        for (row, (ri, i, idx)) in shown.into_iter().enumerate() {
            let y = area.y + 1 + row as u16;
            let item = &self.items[i];
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

    /// Ticks until the background matcher is done (a test's wait, with a limit).
    fn settle(p: &mut Picker) {
        let t = std::time::Instant::now();
        while {
            p.tick(5);
            p.busy()
        } {
            assert!(
                t.elapsed().as_secs() < 30,
                "the background matcher never finished"
            );
        }
    }

    #[test]
    fn a_large_list_is_matched_in_the_background_with_the_same_matches() {
        let names: Vec<String> = (0..30_000)
            .map(|i| format!("site{}/run{}/log{i}.csv", i % 97, i % 13))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut p = Picker::new(items(&refs));
        assert!(p.large.is_some());
        settle(&mut p);
        assert_eq!(p.match_count(), 30_000);
        // Typed one key at a time: each narrows what matched before.
        for c in "log2999".chars() {
            p.push_char(c);
        }
        settle(&mut p);
        // The same items match as the plain matcher finds, best first.
        let pat = Pattern::parse("log2999", CaseMatching::Smart, Normalization::Smart);
        let mut m = Matcher::new(Config::DEFAULT);
        let mut buf = Vec::new();
        let want: Vec<(u32, &str)> = refs
            .iter()
            .filter_map(|t| {
                pat.score(Utf32Str::new(t, &mut buf), &mut m)
                    .map(|s| (s, *t))
            })
            .collect();
        assert_eq!(p.match_count(), want.len());
        let best = want.iter().map(|w| w.0).max().unwrap();
        let top = p.selected().unwrap().text.clone();
        assert!(
            want.iter().any(|(s, t)| *s == best && *t == top),
            "{top} is not among the best"
        );
        // Backspace widens again; the count says so once done.
        p.pop_char();
        settle(&mut p);
        assert!(p.match_count() > want.len());
        // Drawn: the count, and highlights for the rows shown.
        p.set_query("log29999");
        settle(&mut p);
        let theme = Theme::default();
        let mut b = Buffer::empty(Rect::new(0, 0, 40, 3));
        p.render(b.area, &mut b, &theme);
        let row = |y: u16| -> String { (0..40).map(|x| b[(x, y)].symbol()).collect() };
        assert!(
            row(0).ends_with(&format!("{}/30000", p.match_count())),
            "{}",
            row(0)
        );
        assert!(row(1).contains("log29999.csv"), "{}", row(1));
        assert!((0..40).any(|x| b[(x, 1)].fg == theme.matched));
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
