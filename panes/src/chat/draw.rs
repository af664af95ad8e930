/*!
How a chat is drawn: the stored conversation rendered once into cached markdown lines (re-
rendered only when the width or the messages change), the answer streaming now drawn after it,
attachments folded or open, and the footer with the figures of the last answer.
*/

use super::*;

impl ChatPane {
    /// Draws the stored conversation at `width` into the cache, unless it is there already.
    /// Tokens streaming in do not touch it (they are in `tail_lines`), so a long chat is
    /// not re-rendered for every token.
    pub(super) fn refresh_cache(&mut self, width: u16, t: &Theme) {
        if self
            .cache
            .as_ref()
            .is_some_and(|c| c.0 == width && c.1 == self.version)
        {
            return;
        }
        let mut lines: Vec<MdLine> = Vec::new();
        if let Some(s) = &self.session {
            let (msgs, summaries): (Vec<&StoredMsg>, Vec<&StoredMsg>) =
                s.messages.iter().partition(|m| m.role != "summary");
            for m in msgs {
                self.message_lines(m, width, t, &mut lines);
                for sm in summaries.iter().filter(|x| folds(x) == Some(m.id)) {
                    self.message_lines(sm, width, t, &mut lines);
                }
            }
            // Summaries whose folded message is not shown (older format): at the end.
            for sm in summaries
                .iter()
                .filter(|x| folds(x).is_none_or(|f| !s.messages.iter().any(|m| m.id == f)))
            {
                self.message_lines(sm, width, t, &mut lines);
            }
        }
        self.cache = Some((width, self.version, lines));
    }

    /// What follows the stored conversation: an error, and the answer being written.
    pub(super) fn tail_lines(&self, width: u16, t: &Theme) -> Vec<MdLine> {
        let mut lines = Vec::new();
        if let Some((e, true)) = &self.note {
            // Errors are read in full, wrapped, where the answer would have been.
            let (l, _) = markdown::render(e, width.saturating_sub(2), t);
            for (i, mut x) in l.into_iter().enumerate() {
                x.insert(
                    0,
                    (
                        if i == 0 { "✗ " } else { "  " }.into(),
                        Style::new().fg(t.error),
                    ),
                );
                for s in x.iter_mut() {
                    s.1 = s.1.fg(t.error);
                }
                lines.push(x);
            }
        }
        if let Some(st) = &self.stream {
            lines.push(vec![(
                format!(
                    "▍{}",
                    if self.model.is_empty() {
                        "model"
                    } else {
                        &self.model
                    }
                ),
                Style::new().fg(t.ok).add_modifier(Modifier::BOLD),
            )]);
            match st.loading {
                Some(p) => lines.push(vec![(
                    format!("loading the model {}", bar(p, 20)),
                    Style::new().fg(t.warn),
                )]),
                None if st.text.is_empty() => match st.prompt {
                    Some((done, total)) => lines.push(vec![(
                        format!(
                            "reading the prompt {} of {total} tokens",
                            bar(done as f32 / total.max(1) as f32, 20)
                        ),
                        Style::new().fg(t.muted),
                    )]),
                    None => lines.push(vec![("thinking…".into(), Style::new().fg(t.muted))]),
                },
                None => {
                    let (mut l, _) = markdown::render(&st.text, width, t);
                    if let Some(last) = l.last_mut() {
                        last.push(("▌".into(), Style::new().fg(t.accent)));
                    }
                    lines.extend(l);
                }
            }
        }
        lines
    }

    pub(super) fn message_lines(
        &self,
        m: &StoredMsg,
        width: u16,
        t: &Theme,
        lines: &mut Vec<MdLine>,
    ) {
        match m.role.as_str() {
            "user" => {
                lines.push(vec![(
                    "▍you".into(),
                    Style::new().fg(t.accent).add_modifier(Modifier::BOLD),
                )]);
                for a in &m.attachments {
                    attachment_lines(a, self.expanded, width, t, lines);
                }
                let (l, _) = markdown::render(&m.content, width, t);
                lines.extend(l);
            }
            "assistant" => {
                let who = if m.meta.is_empty() {
                    "▍model".to_string()
                } else {
                    format!("▍{}", m.meta.rsplit(" · ").next().unwrap_or("model"))
                };
                lines.push(vec![(
                    who,
                    Style::new().fg(t.ok).add_modifier(Modifier::BOLD),
                )]);
                let (l, _) = markdown::render(&m.content, width, t);
                lines.extend(l);
                if !m.meta.is_empty() {
                    lines.push(vec![(m.meta.clone(), Style::new().fg(t.muted))]);
                }
            }
            "summary" => {
                let head = "── earlier turns summarised here to fit the context ";
                lines.push(vec![(
                    format!(
                        "{head}{}",
                        "─".repeat((width as usize).saturating_sub(text_width(head)))
                    ),
                    Style::new().fg(t.warn),
                )]);
                let (l, _) = markdown::render(&m.content, width.saturating_sub(2), t);
                for mut x in l {
                    x.insert(0, ("  ".into(), Style::default()));
                    for s in x.iter_mut() {
                        s.1 = s.1.fg(t.muted).add_modifier(Modifier::ITALIC);
                    }
                    lines.push(x);
                }
            }
            _ => {}
        }
        lines.push(Vec::new());
    }

    pub(super) fn input_height(&self, area: Rect) -> u16 {
        (self.input.lines().len() as u16)
            .clamp(1, INPUT_MAX)
            .min(area.height.saturating_sub(4).max(1))
    }

    pub(super) fn footer(&self, t: &Theme) -> (String, Style) {
        if let Some((n, false)) = &self.note {
            return (n.clone(), Style::new().fg(t.fg));
        }
        let model = if self.model.is_empty() {
            "default model".to_string()
        } else {
            self.model.clone()
        };
        let mut s = model;
        if let Some(st) = &self.stream {
            match st.loading {
                Some(p) => s.push_str(&format!(" · loading {:.0}%", p * 100.0)),
                None => s.push_str(&format!(" · {} tokens · Esc stops", st.tokens)),
            }
        } else if let Some(l) = &self.last {
            s.push_str(&format!(
                " · {} tokens · {:.1} tok/s",
                l.tokens,
                l.tokens_per_s()
            ));
            if l.cancelled {
                s.push_str(" · stopped, what came is kept");
            } else if l.truncated {
                s.push_str(" · cut at max_tokens");
            }
            if l.prompt_tokens > 0 && l.reused > 0 {
                s.push_str(&format!(
                    " · prompt {} tokens, {} kept from the last answer ({:.0} tok/s)",
                    l.prompt_tokens,
                    l.reused,
                    l.prompt_per_s()
                ));
            } else if l.prompt_tokens > 0 {
                s.push_str(&format!(
                    " · prompt {} tokens ({:.0} tok/s)",
                    l.prompt_tokens,
                    l.prompt_per_s()
                ));
            }
        }
        if self.retrieval {
            s.push_str(" · retrieval on");
        }
        (s, Style::new().fg(t.muted))
    }
}

pub(super) fn bar(p: f32, w: usize) -> String {
    let filled = ((p.clamp(0.0, 1.0) * w as f32) as usize).min(w);
    format!(
        "[{}{}] {:>3.0}%",
        "█".repeat(filled),
        "░".repeat(w - filled),
        p * 100.0
    )
}

pub(super) fn attachment_lines(
    a: &Attachment,
    expanded: bool,
    width: u16,
    t: &Theme,
    out: &mut Vec<MdLine>,
) {
    let n = a.body.lines().count();
    let mark = if expanded { "▾" } else { "▸" };
    let w = (width as usize).saturating_sub(4).max(8);
    // Open, a title wider than the pane (sources, and why some were found by words alone) is
    // shown whole, wrapped, under the line.
    let wrapped = expanded && text_width(&a.title) + 24 > w;
    out.push(vec![(
        if wrapped {
            format!("{mark} attached · {n} lines")
        } else {
            format!("{mark} attached: {} · {n} lines", a.title)
        },
        Style::new().fg(t.hint_key),
    )]);
    if expanded {
        if wrapped {
            let mut line = String::new();
            let mut lines = Vec::new();
            for word in a.title.split(' ') {
                if !line.is_empty() && text_width(&line) + 1 + text_width(word) > w {
                    lines.push(std::mem::take(&mut line));
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
            lines.push(line);
            for l in lines {
                let l: String = l.chars().filter(|c| !c.is_control()).collect();
                out.push(vec![
                    ("  ".into(), Style::default()),
                    (l, Style::new().fg(t.hint_key)),
                ]);
            }
        }
        for l in a.body.lines() {
            let mut s: String = l
                .replace('\t', " │ ")
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            if text_width(&s) > width.saturating_sub(2) as usize {
                s = s.chars().take(width.saturating_sub(3) as usize).collect();
                s.push('…');
            }
            out.push(vec![
                ("  ".into(), Style::default()),
                (s, Style::new().fg(t.muted)),
            ]);
        }
    }
}
