/*!
What changes a grid: the user (its actions: moving, sorting, filtering, stats, plots, export)
and the data worker (loads, windows, counts, progress, errors), each turned into the requests it
needs next.
*/

use super::*;

crate::verbs! {
    /// What a grid does itself.
    pub enum GridVerb {
        Move = ("move", crate::action::MOVES, "Grid: move the cursor"),
        Sort = ("sort", "asc|desc", "Grid: sort by this column (again: unsorted)"),
        Filter = ("filter", "[EXPR]", "Grid: keep rows where a SQL expression holds (empty: all)"),
        FilterCell = ("filter-cell", "", "Grid: keep rows equal to this cell"),
        FilterClear = ("filter-clear", "", "Grid: show every row again"),
        Stats = ("stats", "", "Grid: column statistics (SUMMARIZE)"),
        Freq = ("freq", "", "Grid: frequency table of this column"),
        Inspect = ("inspect", "", "Grid: the whole cell; JSON pretty-printed"),
        CopyCell = ("copy-cell", "", "Grid: copy the cell to the clipboard"),
        CopyRow = ("copy-row", "", "Grid: copy the row (tab-separated)"),
        Export = ("export", "[PATH]", "Grid: write the result to .csv, .tsv, .parquet or .json"),
        Plot = ("plot", "", "Grid: histogram of a number column, bar chart of others"),
        PlotLine = ("plot-line", "", "Grid: line chart of the marked column (x) and this one (y)"),
        Mark = ("mark", "", "Grid: mark this column as the x axis"),
        Cancel = ("cancel", "", crate::action::CANCEL),
    }
}

impl GridPane {
    pub(super) fn pane_action(
        &mut self,
        verb: GridVerb,
        arg: Option<&str>,
        cx: &mut Cx,
    ) -> Outcome {
        self.message = None;
        match (verb, arg) {
            (GridVerb::Move, Some(how)) => self.move_by(how, cx),
            (GridVerb::Cancel, _) => {
                if self.overlay.take().is_some() {
                    cx.dirty = true;
                } else if self.busy.is_some() {
                    Self::data(cx, DataRequest::Cancel);
                    self.say(cx, "cancelling…");
                } else {
                    return Outcome::Ignored;
                }
            }
            _ if self.columns.is_empty() && verb != GridVerb::Filter => {
                self.say(cx, "Nothing loaded yet: open-file or run a query first.");
            }
            (GridVerb::Sort, Some(dir)) => {
                let Some(col) = self.column_name().map(str::to_string) else {
                    return Outcome::Consumed;
                };
                let desc = dir == "desc";
                self.view.sort = match &self.view.sort {
                    Some((c, d)) if *c == col && *d == desc => None,
                    _ => Some((col, desc)),
                };
                self.load(cx);
            }
            (GridVerb::Filter, None) => Self::prompt(
                cx,
                "filter (SQL expression, empty for all rows)",
                self.view.filter.clone().unwrap_or_default(),
                "filter",
                Some("filter-clear"),
            ),
            (GridVerb::FilterClear, _) => {
                if self.view.filter.take().is_some() {
                    self.load(cx);
                }
            }
            (GridVerb::Filter, Some(expr)) => {
                let expr = expr.trim();
                self.view.filter = (!expr.is_empty()).then(|| expr.to_string());
                self.load(cx);
            }
            (GridVerb::FilterCell, _) => {
                let Some(col) = self.column_name().map(quote_ident) else {
                    return Outcome::Consumed;
                };
                let expr = match self.cell(self.row, self.col) {
                    Some(Some(v)) => format!("{col} = {}", quote_literal(v)),
                    Some(None) => format!("{col} IS NULL"),
                    None => return Outcome::Consumed,
                };
                self.view.filter = Some(match self.view.filter.take() {
                    Some(f) => format!("({f}) AND {expr}"),
                    None => expr,
                });
                self.load(cx);
            }
            (GridVerb::Stats, _) => {
                let (Some(result), seq) = (self.result, self.seq) else {
                    return Outcome::Consumed;
                };
                self.busy = Some(("summarizing".into(), None));
                self.counting = None;
                Self::data(cx, DataRequest::Summarize { seq, result });
                cx.dirty = true;
            }
            (GridVerb::Freq, _) => {
                let (Some(result), Some(column)) = (self.result, self.column_name()) else {
                    return Outcome::Consumed;
                };
                let column = column.to_string();
                self.counting = Some(column.clone());
                self.busy = Some((format!("counting values of {column}"), None));
                Self::data(
                    cx,
                    DataRequest::Frequency {
                        seq: self.seq,
                        result,
                        column,
                    },
                );
                cx.dirty = true;
            }
            (GridVerb::Plot, _) | (GridVerb::PlotLine, _) => {
                let (Some(result), Some(column)) = (self.result, self.column_name()) else {
                    return Outcome::Consumed;
                };
                let column = column.to_string();
                let ask = if verb == GridVerb::PlotLine {
                    // The marked column may be gone after a new query: only one that exists.
                    let x = self
                        .marked
                        .filter(|m| *m != self.col && *m < self.columns.len())
                        .or_else(|| {
                            (0..self.columns.len()).find(|c| *c != self.col && self.is_number(*c))
                        })
                        .and_then(|x| self.columns.get(x));
                    let (Some(x), true) = (x, self.is_number(self.col)) else {
                        self.say(cx, "A line chart needs two number columns: mark the x column with m, then stand on y.");
                        return Outcome::Consumed;
                    };
                    PlotAsk::Line {
                        x: x.name.clone(),
                        y: column,
                        points: 2000,
                    }
                } else if self.is_number(self.col) {
                    PlotAsk::Histogram { column, bins: 30 }
                } else {
                    PlotAsk::Bars { column, top: 20 }
                };
                self.busy = Some(("plotting".into(), None));
                Self::data(
                    cx,
                    DataRequest::Plot {
                        seq: self.seq,
                        result,
                        plot: ask,
                    },
                );
                cx.dirty = true;
            }
            (GridVerb::Mark, _) => {
                self.marked = if self.marked == Some(self.col) {
                    None
                } else {
                    Some(self.col)
                };
                let said = match self.marked.and_then(|m| self.columns.get(m)) {
                    Some(c) => format!(
                        "x axis: {} (P on a number column draws it against this one)",
                        c.name
                    ),
                    None => "x axis unmarked".into(),
                };
                self.say(cx, said);
            }
            (GridVerb::Inspect, _) if self.counted_value().is_some() => {
                // Enter on a value of a frequency table: the grid keeps the rows with it.
                if let Some((column, value)) = self.counted_value() {
                    let col = quote_ident(&column);
                    let expr = match value {
                        Some(v) => format!("{col} = {}", quote_literal(&v)),
                        None => format!("{col} IS NULL"),
                    };
                    self.overlay = None;
                    self.view.filter = Some(match self.view.filter.take() {
                        Some(f) => format!("({f}) AND {expr}"),
                        None => expr,
                    });
                    self.load(cx);
                }
            }
            (GridVerb::Inspect, _) => {
                let Some(c) = self.columns.get(self.col) else {
                    return Outcome::Consumed;
                };
                let text = match self.cell(self.row, self.col) {
                    Some(Some(v)) => pretty(v),
                    Some(None) => "NULL".into(),
                    None => return Outcome::Consumed,
                };
                self.overlay = Some(Overlay::Inspect {
                    title: format!("{} ({}), row {}", c.name, c.ty, self.row + 1),
                    text,
                    scroll: 0,
                });
                cx.dirty = true;
            }
            (GridVerb::CopyCell, _) => {
                if let Some(v) = self.cell(self.row, self.col) {
                    let text = v.clone().unwrap_or_default();
                    cx.push(Effect::Ui(UiCommand::Clipboard(text)));
                    self.say(cx, "cell copied");
                }
            }
            (GridVerb::CopyRow, _) => {
                if let Some((r, whole)) = self.row_cells(self.row) {
                    let n = r.len();
                    let text = r
                        .into_iter()
                        .map(|c| c.unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\t");
                    cx.push(Effect::Ui(UiCommand::Clipboard(text)));
                    if whole {
                        self.say(cx, "row copied (tab-separated)");
                    } else {
                        self.say(
                            cx,
                            format!(
                                "the row's first {n} columns copied (the rest are not on screen)"
                            ),
                        );
                    }
                }
            }
            (GridVerb::Export, None) => {
                let suggestion = match &self.source {
                    Some(Source::File(p)) => {
                        let path = std::path::Path::new(p);
                        let stem = path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "export".into());
                        path.with_file_name(format!("{stem}-export.csv"))
                            .to_string_lossy()
                            .into_owned()
                    }
                    _ => String::new(),
                };
                Self::prompt(
                    cx,
                    "export to (.csv .tsv .parquet .json)",
                    suggestion,
                    "export",
                    None,
                );
            }
            (GridVerb::Export, Some(path)) => {
                let Some(result) = self.result else {
                    return Outcome::Consumed;
                };
                self.busy = Some((format!("exporting to {path}"), None));
                Self::data(
                    cx,
                    DataRequest::Export {
                        seq: self.seq,
                        result,
                        path: path.trim().to_string(),
                    },
                );
                cx.dirty = true;
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Consumed
    }

    pub(super) fn on_data(&mut self, ev: DataEvent, cx: &mut Cx) -> Outcome {
        if let Some(seq) = ev.seq() {
            if seq != self.seq {
                return Outcome::Ignored;
            }
        }
        cx.dirty = true;
        match ev {
            DataEvent::Progress { what, pct, .. } => self.busy = Some((what, pct)),
            DataEvent::Loaded {
                result,
                columns,
                rows,
                notes,
                ..
            } => {
                if let Some(old) = self.replacing.take().filter(|old| *old != result) {
                    Self::data(cx, DataRequest::Forget { result: old });
                }
                if self.result != Some(result) {
                    self.clear_rows();
                }
                self.shown = self.asking.take();
                self.result = Some(result);
                self.widths = columns
                    .iter()
                    .map(|c| fit_width(&c.name, &c.ty, std::iter::empty()))
                    .collect();
                self.columns = columns;
                // Said once, in the footer, until the next key.
                if let Some(n) = notes.into_iter().next() {
                    self.message = Some(n);
                }
                match rows {
                    Some(n) => {
                        self.total = Some(n);
                        self.known = n;
                        self.busy = None;
                    }
                    None => {
                        // The first block can be shown while the rest loads.
                        self.known = BLOCK;
                    }
                }
                self.clamp();
                self.fetch(cx);
            }
            DataEvent::Counted { result, rows, .. } => {
                if Some(result) == self.result {
                    self.total = Some(rows);
                    self.known = rows;
                    self.busy = None;
                    // A preview block may be shorter than what is there now.
                    self.blocks.clear();
                    self.asked.clear();
                    self.clamp();
                    self.fetch(cx);
                }
            }
            DataEvent::Rows {
                result,
                offset,
                first_col,
                rows,
                ..
            } => {
                if Some(result) != self.result {
                    return Outcome::Ignored;
                }
                let b = offset / BLOCK;
                let first_col = first_col as usize;
                if self.total.is_none() && (rows.len() as u64) < BLOCK {
                    // The preview is all there is so far.
                    self.known = self.known.min(offset + rows.len() as u64);
                }
                for r in &rows {
                    for (i, v) in r.iter().enumerate() {
                        let i = first_col + i;
                        if let (Some(w), Some(v), Some(c)) =
                            (self.widths.get_mut(i), v, self.columns.get(i))
                        {
                            *w =
                                (*w).max(fit_width(&c.name, &c.ty, std::iter::once(text_width(v))));
                        }
                    }
                }
                self.blocks.insert((b, first_col / COL_BLOCK), rows);
                self.clamp();
            }
            DataEvent::Table {
                title,
                columns,
                mut rows,
                ..
            } => {
                tidy_numbers(&columns, &mut rows);
                self.busy = self.total.is_none().then(|| ("loading".into(), None));
                self.overlay = Some(Overlay::Table {
                    title,
                    columns,
                    rows,
                    top: 0,
                    left: 0,
                    counts: self.counting.take(),
                });
            }
            DataEvent::Plot { plot, .. } => {
                self.busy = self.total.is_none().then(|| ("loading".into(), None));
                self.overlay = Some(Overlay::Plot(plot));
            }
            DataEvent::Exported { path, rows, .. } => {
                self.busy = None;
                self.message = Some(format!("exported {} rows to {path}", group(rows)));
            }
            DataEvent::Done { message, .. } => {
                // A statement without rows (DDL, DML) must not run again on reload or restore.
                self.busy = None;
                if let Some(old) = self.replacing.take() {
                    Self::data(cx, DataRequest::Forget { result: old });
                }
                self.shown = None;
                self.asking = None;
                self.source = None;
                self.columns.clear();
                self.result = None;
                self.message = Some(message);
            }
            DataEvent::Error { message, .. } => {
                self.busy = None;
                let cancelled = message.contains("Interrupted");
                if let Some(asked) = self.asking.take() {
                    // A load failed or was cancelled: the rows from before stay.
                    match self.shown.clone() {
                        Some((source, view)) if self.result.is_some() => {
                            self.replacing = None;
                            self.source = Some(source);
                            self.view = view;
                            self.message = Some(if cancelled {
                                "cancelled: these are the rows from before".into()
                            } else {
                                format!("{} (the rows from before are shown)", first_line(&message))
                            });
                        }
                        _ if cancelled => {
                            self.source = Some(asked.0);
                            self.message = Some("cancelled".into());
                        }
                        _ => self.error = Some(message),
                    }
                } else if self.result.is_some() && self.total.is_some() {
                    self.message = Some(if cancelled {
                        "cancelled".into()
                    } else {
                        first_line(&message)
                    });
                } else if cancelled {
                    self.message = Some("cancelled".into());
                } else {
                    self.error = Some(message);
                }
            }
            DataEvent::Lost { why } => {
                self.busy = None;
                self.result = None;
                self.replacing = None;
                self.shown = None;
                self.asking = None;
                self.blocks.clear();
                self.asked.clear();
                self.error = Some(format!(
                    "The data worker stopped ({why}); it has been restarted. Press r to load again."
                ));
            }
            DataEvent::Catalog { .. } => return Outcome::Ignored,
        }
        Outcome::Consumed
    }
}

/// Counts and percentages in stats and frequency tables written as everywhere else: whole
/// numbers with thousands separators (`336,776`), percentages with one decimal and a `%`.
fn tidy_numbers(columns: &[Column], rows: &mut [Vec<Cell>]) {
    use fieldkit_messages::text::{group, percent};
    for (i, c) in columns.iter().enumerate() {
        let whole = matches!(
            c.ty.as_str(),
            "BIGINT" | "HUGEINT" | "INTEGER" | "UBIGINT" | "UINTEGER" | "SMALLINT"
        ) && c.name != "value";
        let share = c.name == "percent" || c.name == "null_percentage";
        for r in rows.iter_mut() {
            let Some(Some(v)) = r.get_mut(i) else {
                continue;
            };
            if whole {
                if let Ok(n) = v.parse::<u64>() {
                    *v = group(n);
                }
            } else if share {
                if let Ok(p) = v.trim_end_matches('%').parse::<f64>() {
                    *v = percent(p / 100.0);
                }
            }
        }
    }
}
