/*!
What changes a SQL editor: the user (running the statement under the cursor or the selection,
asking the model for SQL, buffers, history) and the data worker (the catalog, a run done or
failed with the error placed in the text).
*/

use super::*;

crate::verbs! {
    /// What a SQL editor does itself (`move` walks the catalog tree).
    pub enum SqlVerb {
        Run = ("run", "statement|all", "SQL: run the selection or the statement at the cursor, or all"),
        SqlHistory = ("sql-history", "", "SQL: search earlier queries"),
        AskData = ("ask-data", "[QUESTION]", "SQL: ask the data in plain English; the model's SQL runs read-only"),
        Complete = ("complete", "", "SQL: complete the word at the cursor"),
        Buffer = ("buffer", "new|next|prev|close", "SQL: editor buffers"),
        Catalog = ("catalog", "", "SQL: show or hide the catalog tree"),
        Dialect = ("dialect", "duckdb|postgres|mysql|bigquery|redshift", "SQL: the dialect the editor's SQL is written in"),
        Cancel = ("cancel", "", crate::action::CANCEL),
        Move = ("move", crate::action::MOVES, "SQL: move in the catalog tree"),
    }
}

impl SqlPane {
    /// The selected text and where it starts, if anything is selected.
    pub(super) fn selection(&self) -> Option<(String, (usize, usize))> {
        let d = self.ed.doc();
        let r = d.sel.range();
        if r.is_empty() {
            return None;
        }
        let out = d.rope.slice(r.clone()).to_string();
        (!out.trim().is_empty()).then(|| (out, d.line_col(r.start)))
    }

    /// What `run statement` sends: the selection, else the statement under the cursor, with
    /// where it starts.
    pub(super) fn statement_at_cursor(&self) -> Option<(String, (usize, usize))> {
        if let Some(sel) = self.selection() {
            return Some(sel);
        }
        let lines = self.lines();
        let text = lines.join("\n");
        let (row, col) = self.cursor_at();
        let at: usize =
            lines[..row].iter().map(|l| l.len() + 1).sum::<usize>() + byte_of(&lines[row], col);
        let stmts = split_statements(&text);
        // The statement the cursor is in, or the last one that starts before it.
        let pick = stmts
            .iter()
            .rev()
            .find(|(off, _)| *off <= at)
            .or_else(|| stmts.first())?;
        let (off, s) = *pick;
        Some((s.to_string(), position_of(&text, off)))
    }

    pub(super) fn run(&mut self, what: &str, cx: &mut Cx) {
        let picked = if what == "all" {
            let t = self.text();
            (!t.trim().is_empty()).then_some((t, (0, 0)))
        } else {
            self.statement_at_cursor()
        };
        let Some((sql, origin)) = picked else {
            self.last = Some(RunState::Done("nothing to run".into()));
            cx.dirty = true;
            return;
        };
        self.origin = origin;
        self.last = Some(RunState::Running("running".into(), None));
        cx.push(Effect::Engine(EngineRequest::Sql(SqlRequest::Run {
            sql,
            dialect: self.dialect.clone(),
        })));
        cx.dirty = true;
    }

    /// Sends `question` with the catalog to the model, or says there is nothing to ask about.
    pub(super) fn ask_data(&mut self, question: &str, cx: &mut Cx) {
        if self.catalog.tables.is_empty() {
            self.last = Some(RunState::Error {
                message: "no tables yet: open a file (o in a grid, or fieldkit open PATH) so the \
                          model has a schema to write SQL for"
                    .into(),
                at: None,
            });
        } else {
            cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::AskData {
                question: question.to_string(),
                schema: self.schema(),
            })));
            self.last = Some(RunState::Running("asking the model".into(), None));
        }
        cx.dirty = true;
    }

    pub(super) fn pane_action(&mut self, verb: SqlVerb, arg: Option<&str>, cx: &mut Cx) -> Outcome {
        match (verb, arg) {
            (SqlVerb::AskData, None) => {
                cx.push(Effect::Ui(UiCommand::Prompt {
                    title: "ask the data (plain English)".into(),
                    initial: String::new(),
                    then: "ask-data".into(),
                    on_empty: None,
                }));
            }
            (SqlVerb::AskData, Some(q)) if self.catalog.tables.is_empty() => {
                // Fresh catalog first: tables may have been loaded since it was last read.
                self.asking = Some(q.to_string());
                self.ask_catalog(cx);
                self.last = Some(RunState::Running("reading the catalog".into(), None));
                cx.dirty = true;
            }
            (SqlVerb::AskData, Some(q)) => self.ask_data(q, cx),
            (SqlVerb::Run, Some(what)) => self.run(what, cx),
            (SqlVerb::Cancel, _) => {
                if self.ed.ai_asking() {
                    self.ed.stop_ai(cx);
                } else if self.completion.take().is_some() {
                    cx.dirty = true;
                } else if matches!(self.last, Some(RunState::Running(..))) {
                    cx.push(Effect::Engine(EngineRequest::Sql(SqlRequest::Cancel)));
                    self.last = Some(RunState::Running("cancelling".into(), None));
                    cx.dirty = true;
                } else if self.ed.close_find() {
                    cx.dirty = true;
                } else if !self.ed.doc().sel.is_empty() {
                    let d = self.ed.doc_mut();
                    d.sel = Sel::at(d.sel.head);
                    cx.dirty = true;
                } else if self.tree {
                    // Esc closes the catalog tree, as it closes every overlay.
                    self.tree = false;
                    cx.dirty = true;
                } else {
                    return Outcome::Ignored;
                }
            }
            (SqlVerb::Complete, _) => self.complete(cx),
            (SqlVerb::SqlHistory, _) => {
                cx.push(Effect::Engine(EngineRequest::Sql(SqlRequest::History)))
            }
            (SqlVerb::Catalog, _) => {
                self.tree = !self.tree;
                if self.tree {
                    self.ask_catalog(cx);
                }
                cx.dirty = true;
            }
            (SqlVerb::Dialect, Some(d)) => {
                self.dialect = (d != "duckdb").then(|| d.to_string());
                self.last = Some(RunState::Done(format!("dialect: {d}")));
                cx.dirty = true;
            }
            (SqlVerb::Buffer, Some(op)) => {
                match op {
                    "new" => self.ed.new_buffer(),
                    "next" => {
                        self.ed.on_action(
                            &Action::Pane {
                                name: "next-buffer",
                                arg: None,
                            },
                            cx,
                        );
                    }
                    "prev" => {
                        self.ed.on_action(
                            &Action::Pane {
                                name: "prev-buffer",
                                arg: None,
                            },
                            cx,
                        );
                    }
                    "close" => self.ed.drop_buffer(),
                    _ => {}
                }
                self.last = None;
                self.completion = None;
                cx.dirty = true;
            }
            (SqlVerb::Move, Some(how)) if self.tree => {
                match how {
                    "down" => self.tree_top += 1,
                    "up" => self.tree_top = self.tree_top.saturating_sub(1),
                    _ => {}
                }
                cx.dirty = true;
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Consumed
    }

    pub(super) fn on_data(&mut self, ev: DataEvent, cx: &mut Cx) -> Outcome {
        cx.dirty = true;
        match ev {
            DataEvent::Catalog { catalog, .. } => {
                self.catalog = catalog;
                // A question asked before the catalog was known goes now.
                if let Some(q) = self.asking.take() {
                    self.ask_data(&q, cx);
                }
            }
            DataEvent::Progress { what, pct, .. } => {
                self.last = Some(RunState::Running(what, pct));
            }
            DataEvent::Loaded { rows, .. } => {
                self.last = Some(RunState::Rows(rows));
                self.ask_catalog(cx);
            }
            DataEvent::Counted { rows, .. } => self.last = Some(RunState::Rows(Some(rows))),
            DataEvent::Done { message, .. } => {
                self.last = Some(RunState::Done(message));
                self.ask_catalog(cx);
            }
            DataEvent::Error { message, .. } if message.contains("Interrupted") => {
                // A cancel is not an error: said plainly, nothing marked in the text.
                self.last = Some(RunState::Done("cancelled".into()));
            }
            DataEvent::Error {
                message,
                line,
                column,
                ..
            } => {
                let at = line.map(|l| {
                    let l = l.saturating_sub(1) as usize;
                    let c = column.unwrap_or(1).saturating_sub(1) as usize;
                    if l == 0 {
                        (self.origin.0, self.origin.1 + c)
                    } else {
                        (self.origin.0 + l, c)
                    }
                });
                self.last = Some(RunState::Error { message, at });
            }
            DataEvent::Lost { why } => {
                if matches!(self.last, Some(RunState::Running(..))) {
                    self.last = Some(RunState::Error {
                        message: format!("The data worker stopped ({why}); it has been restarted."),
                        at: None,
                    });
                }
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Consumed
    }
}
