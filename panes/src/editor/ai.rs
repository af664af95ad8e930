//! AI on a selection (or, with nothing selected, the file): the model explains it, rewrites it
//! as asked, or fixes it. The question goes to the chat's service (the same llama.cpp worker
//! and model as the chat), the answer streams back as tokens counted in the status line, and:
//! - an explanation opens in a panel over the lower half of the text, to read and close;
//! - a rewrite or a fix is shown as a line diff of the selection against the model's code, to
//!   accept (one undo step, the new text selected) or reject. It is applied only if the text it
//!   replaces is still what was sent: typing on while the model answered is never overwritten.
//!
//! What the model sees is bounded (`AI_MAX` chars): a larger selection is refused with a
//! sentence rather than cut, since a rewrite of half a text would drop the rest.

use super::*;
use crate::llm::{ChatEvent, ChatRequest, EditHow, LlmEvent};
use std::ops::Range;

/// The most text sent to the model at once.
pub(super) const AI_MAX: usize = 32_000;

/// One line of a rewrite's diff: `-` removed, `+` added, ` ` kept.
pub(super) type DiffLine = (char, String);

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ai {
    /// Asked; the answer is coming.
    Asking {
        explain: bool,
        buf: usize,
        range: Range<usize>,
        original: String,
        tokens: u32,
        /// The model being loaded, and how far.
        loading: Option<String>,
    },
    /// An explanation to read (`top`: the first line shown).
    Explained { text: String, top: usize },
    /// A rewrite to accept or reject.
    Diff {
        buf: usize,
        range: Range<usize>,
        original: String,
        new: String,
        lines: Vec<DiffLine>,
        top: usize,
    },
}

/// The lines of `old` and `new`, each marked as removed, added or kept.
pub(super) fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| {
            let tag = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let line = c.value().trim_end_matches(['\n', '\r']).to_string();
            (tag, line)
        })
        .collect()
}

impl EditorPane {
    /// Whether the model is answering a question of this editor.
    pub fn ai_asking(&self) -> bool {
        matches!(self.ai, Some(Ai::Asking { .. }))
    }

    /// Whether an explanation or a diff is shown (and takes the keys).
    pub fn ai_shown(&self) -> bool {
        matches!(self.ai, Some(Ai::Explained { .. } | Ai::Diff { .. }))
    }

    /// Sends the selection (else the file) to the model with `how`.
    pub(super) fn ask_ai(&mut self, how: EditHow, cx: &mut Cx) {
        if self.ai_asking() {
            self.note = Some("the model is still answering (Esc stops it)".into());
            return;
        }
        let explain = how == EditHow::Explain;
        if !explain && !self.editable() {
            return;
        }
        let sql = self.sql;
        let b = self.buf();
        let d = &b.doc;
        let mut range = d.sel.range();
        if range.is_empty() {
            range = 0..d.rope.len_chars();
        }
        if range.len() > AI_MAX {
            self.note = Some(format!(
                "select at most {AI_MAX} characters for the model (this is {})",
                range.len()
            ));
            return;
        }
        let original = d.rope.slice(range.clone()).to_string();
        if original.trim().is_empty() {
            self.note = Some("nothing to ask the model about: select some text".into());
            return;
        }
        let lang = if sql {
            Some("sql".to_string())
        } else {
            draw::lang_of(b)
        };
        cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::EditText {
            how,
            text: original.clone(),
            lang,
        })));
        self.ai = Some(Ai::Asking {
            explain,
            buf: self.active.min(self.bufs.len() - 1),
            range,
            original,
            tokens: 0,
            loading: None,
        });
    }

    /// Stops the answer being written.
    pub fn stop_ai(&mut self, cx: &mut Cx) {
        if self.ai_asking() {
            cx.push(Effect::Engine(EngineRequest::Chat(ChatRequest::Cancel)));
            self.ai = None;
            self.note = Some("stopped: the model's answer was dropped".into());
            cx.dirty = true;
        }
    }

    /// The model's tokens, loading and failure, while it answers this editor.
    pub fn on_ai_event(&mut self, ev: &ChatEvent, cx: &mut Cx) -> Outcome {
        let Some(Ai::Asking {
            tokens, loading, ..
        }) = &mut self.ai
        else {
            return Outcome::Ignored;
        };
        match ev {
            ChatEvent::Gen(LlmEvent::Token(_)) => {
                *tokens += 1;
                *loading = None;
            }
            ChatEvent::Gen(LlmEvent::Loading { model, progress }) => {
                *loading = Some(format!("loading {model} {:.0}%", progress * 100.0));
            }
            ChatEvent::Failed { error, .. } => {
                self.ai = None;
                cx.push(Effect::Ui(UiCommand::Message {
                    title: "the model".into(),
                    text: format!("{error}\n\nThe text is as it was."),
                }));
            }
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    /// The whole answer: an explanation to read, or code to show as a diff.
    pub(super) fn ai_answer(&mut self, answer: String, code: Option<String>) {
        let Some(Ai::Asking {
            explain,
            buf,
            range,
            original,
            ..
        }) = self.ai.take()
        else {
            return;
        };
        if explain {
            self.ai = Some(Ai::Explained {
                text: answer,
                top: 0,
            });
            return;
        }
        let mut new = code.unwrap_or_default();
        if new.trim().is_empty() {
            self.note = Some("the model gave no code; ask again in other words".into());
            return;
        }
        // The selection's last line break stays (models drop it).
        if original.ends_with('\n') && !new.ends_with('\n') {
            new.push('\n');
        }
        if new == original {
            self.note = Some("the model changed nothing".into());
            return;
        }
        let lines = line_diff(&original, &new);
        self.ai = Some(Ai::Diff {
            buf,
            range,
            original,
            new,
            lines,
            top: 0,
        });
    }

    /// Keys while an explanation or a diff is shown.
    pub(super) fn ai_input(&mut self, k: &KeyEvent) -> Outcome {
        let page = self.view.1.max(2) as usize - 1;
        let Some(ai) = &mut self.ai else {
            return Outcome::Ignored;
        };
        let (top, len) = match ai {
            Ai::Explained { text, top } => (top, text.lines().count()),
            Ai::Diff { lines, top, .. } => (top, lines.len()),
            Ai::Asking { .. } => return Outcome::Ignored,
        };
        match k.code {
            KeyCode::Up => *top = top.saturating_sub(1),
            KeyCode::Down => *top = (*top + 1).min(len.saturating_sub(1)),
            KeyCode::PageUp => *top = top.saturating_sub(page),
            KeyCode::PageDown => *top = (*top + page).min(len.saturating_sub(1)),
            KeyCode::Home => *top = 0,
            KeyCode::End => *top = len.saturating_sub(1),
            KeyCode::Enter | KeyCode::Char('y') if matches!(ai, Ai::Diff { .. }) => {
                self.accept_ai()
            }
            KeyCode::Esc | KeyCode::Char('n') if matches!(ai, Ai::Diff { .. }) => {
                self.ai = None;
                self.note = Some("rewrite rejected: the text is as it was".into());
            }
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => self.ai = None,
            _ => {}
        }
        Outcome::Consumed
    }

    /// Applies the diff shown, as one undo step, if the text it replaces is unchanged.
    fn accept_ai(&mut self) {
        let Some(Ai::Diff {
            buf,
            range,
            original,
            new,
            ..
        }) = self.ai.take()
        else {
            return;
        };
        let Some(b) = self.bufs.get_mut(buf) else {
            self.note = Some("the buffer was closed: nothing applied".into());
            return;
        };
        let d = &mut b.doc;
        let still = range.end <= d.rope.len_chars() && d.rope.slice(range.clone()) == original;
        if !still {
            self.note =
                Some("the text changed while the model answered: not applied; ask again".into());
            return;
        }
        d.replace(range.clone(), &new);
        d.break_typing();
        d.sel = Sel {
            anchor: range.start,
            head: range.start + new.chars().count(),
        };
        self.active = buf;
        self.hl = None;
        self.note = Some("rewrite applied (C-z undoes it in one step)".into());
        self.follow();
    }

    /// What the status line says while the model answers.
    pub(super) fn ai_status(&self) -> Option<String> {
        match &self.ai {
            Some(Ai::Asking {
                tokens, loading, ..
            }) => Some(match loading {
                Some(l) => format!("{l}… · Esc stops"),
                None => format!("asking the model… {tokens} tokens · Esc stops"),
            }),
            _ => None,
        }
    }

    /// The explanation (over the lower half of the text) or the diff (over all of it).
    pub(super) fn draw_ai(&self, body: Rect, buf: &mut Buffer, t: &fieldkit_widgets::Theme) {
        let (title, rows, top, area): (String, Vec<(String, Style)>, usize, Rect) = match &self.ai {
            Some(Ai::Explained { text, top }) => {
                let h = (body.height / 2).max(3).min(body.height);
                let area = Rect {
                    y: body.y + body.height - h,
                    height: h,
                    ..body
                };
                let w = area.width.max(1) as usize;
                let mut rows = Vec::new();
                for line in text.lines() {
                    let chars: Vec<char> = line.chars().collect();
                    if chars.is_empty() {
                        rows.push((String::new(), Style::new().fg(t.fg)));
                    }
                    for chunk in chars.chunks(w) {
                        rows.push((chunk.iter().collect(), Style::new().fg(t.fg)));
                    }
                }
                (
                    "the model explains · Up/Down scroll · Esc closes · C-b a attaches to a chat"
                        .into(),
                    rows,
                    *top,
                    area,
                )
            }
            Some(Ai::Diff { lines, top, .. }) => {
                let added = lines.iter().filter(|l| l.0 == '+').count();
                let removed = lines.iter().filter(|l| l.0 == '-').count();
                let rows = lines
                    .iter()
                    .map(|(tag, text)| {
                        let style = match tag {
                            '-' => Style::new().fg(t.error),
                            '+' => Style::new().fg(t.ok),
                            _ => Style::new().fg(t.muted),
                        };
                        (format!("{tag} {text}"), style)
                    })
                    .collect();
                (
                    format!(
                        "rewrite: +{added} -{removed} lines · Enter/y accepts, one undo step · Esc/n rejects"
                    ),
                    rows,
                    *top,
                    body,
                )
            }
            _ => return,
        };
        let bg = Style::new().bg(t.popup_bg).fg(t.fg);
        for y in area.y..area.y + area.height {
            buf.set_stringn(
                area.x,
                y,
                " ".repeat(area.width as usize),
                area.width as usize,
                bg,
            );
        }
        buf.set_stringn(
            area.x,
            area.y,
            &title,
            area.width as usize,
            Style::new()
                .bg(t.popup_bg)
                .fg(t.accent)
                .add_modifier(Modifier::BOLD),
        );
        for (y, (text, style)) in (area.y + 1..area.y + area.height).zip(rows.iter().skip(top)) {
            buf.set_stringn(area.x, y, text, area.width as usize, style.bg(t.popup_bg));
        }
    }
}
