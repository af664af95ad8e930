/*!
The runs pane (`open runs`): the workflow runner's execution log, newest first, as n8n shows
its executions. Each run shows its workflow, state, trigger, when it started and how long it
took; Enter opens its steps, each with its tries and their logs (stdout, stderr, the error).
Keys re-run a run (a new run of the same workflow with the same trigger) and cancel one (a
running shell step gets SIGTERM, then SIGKILL; an sql or llm step is cancelled through its
worker).

The pane holds rows the server judged and formatted: it never reads queue.db or a workflow.
*/

use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use std::borrow::Cow;

crate::verbs! {
    /// What the runs pane does itself.
    pub enum RunsVerb {
        Rerun = ("rerun", "", "Runs: run the workflow again with the same trigger"),
        CancelRun = ("cancel-run", "", "Runs: cancel the run (SIGTERM, then SIGKILL)"),
    }
}

pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Runs,
    all_keys: false,
    actions: RunsVerb::CATALOGUE,
    engines: &[crate::Engine::Workflows],
    fresh: |_| Box::new(RunsPane::default()),
    restore: |st| match st {
        PaneState::Runs => Some(Box::new(RunsPane::default())),
        _ => None,
    },
};

/// One run as the list shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRow {
    pub id: String,
    pub workflow: String,
    /// `queued`, `running`, `waiting` (on a person), `retrying`, `done`, `failed`, `cancelled`.
    pub state: String,
    /// `manual`, `schedule 06:00`, `file a.csv`, `item 3f2a… COMPLETED`.
    pub trigger: String,
    /// When it was made, as the user reads it (`11-29 12:00:03`).
    pub started: String,
    /// `1.2s`, `3m 10s`, or how long so far.
    pub took: String,
    /// The step it is at or ended on, `2/3 load`.
    pub step: String,
}

/// One step of a run, with its tries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepView {
    pub name: String,
    pub kind: String,
    /// `pending`, `running`, `waiting`, `retrying`, `done`, `failed`, `skipped`, `cancelled`.
    pub state: String,
    pub tries: u32,
    /// What it produced, in a line or a few (rows, exit code, the answer's start).
    pub output: String,
    /// Each try's header line, then its stdout, stderr and error lines.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunDetail {
    pub id: String,
    pub workflow: String,
    pub state: String,
    pub trigger: String,
    /// Why it failed or was cancelled.
    pub error: String,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunsRequest {
    /// The runs, now and after every change.
    Watch,
    Detail {
        id: String,
    },
    Rerun {
        id: String,
    },
    Cancel {
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunsEvent {
    Runs(Vec<RunRow>),
    Detail(RunDetail),
    /// A sentence for the user (a refused cancel, a workflow that no longer loads).
    Note(String),
}

#[derive(Debug, Default)]
pub struct RunsPane {
    rows: Vec<RunRow>,
    sel: usize,
    top: usize,
    detail: Option<RunDetail>,
    /// The first log line shown in the detail.
    scroll: usize,
    note: Option<String>,
    loaded: bool,
    /// The run whose steps were asked for: a detail for any other run (an answer that comes
    /// after Esc) is dropped.
    want: Option<String>,
}

impl RunsPane {
    fn ask(cx: &mut Cx, r: RunsRequest) {
        cx.push(Effect::Engine(EngineRequest::Runs(r)));
    }

    fn selected_id(&self) -> Option<String> {
        match &self.detail {
            Some(d) => Some(d.id.clone()),
            None => self.rows.get(self.sel).map(|r| r.id.clone()),
        }
    }

    fn detail_lines(d: &RunDetail) -> Vec<(String, Style)> {
        let mut out = vec![(
            format!("{} · {} · {}", d.workflow, d.state, d.trigger),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        if !d.error.is_empty() {
            out.push((format!("error: {}", d.error), Style::default()));
        }
        for (i, s) in d.steps.iter().enumerate() {
            out.push((String::new(), Style::default()));
            out.push((
                format!(
                    "{}. {} ({}) · {} · {} {}",
                    i + 1,
                    s.name,
                    s.kind,
                    s.state,
                    s.tries,
                    if s.tries == 1 { "try" } else { "tries" }
                ),
                Style::default().add_modifier(Modifier::BOLD),
            ));
            if !s.output.is_empty() {
                for l in s.output.lines() {
                    out.push((format!("   = {l}"), Style::default()));
                }
            }
            for l in &s.log {
                out.push((format!("   {l}"), Style::default()));
            }
        }
        out
    }
}

fn state_style(state: &str, rcx: &RenderCx) -> Style {
    let t = rcx.theme;
    match state {
        "failed" => Style::default().fg(t.error),
        "done" => Style::default().fg(t.ok),
        "running" | "retrying" | "waiting" => Style::default().fg(t.warn),
        _ => Style::default().fg(t.muted),
    }
}

impl Pane for RunsPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Runs
    }

    fn title(&self) -> Cow<'_, str> {
        let running = self
            .rows
            .iter()
            .filter(|r| matches!(r.state.as_str(), "running" | "retrying" | "waiting"))
            .count();
        let failed = self.rows.iter().filter(|r| r.state == "failed").count();
        Cow::Owned(format!(
            "runs: {} · {running} running · {failed} failed",
            self.rows.len()
        ))
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match RunsVerb::of(a).map(|(v, _)| v) {
            Some(RunsVerb::Rerun) => {
                if let Some(id) = self.selected_id() {
                    Self::ask(cx, RunsRequest::Rerun { id });
                }
                Outcome::Consumed
            }
            Some(RunsVerb::CancelRun) => {
                if let Some(id) = self.selected_id() {
                    Self::ask(cx, RunsRequest::Cancel { id });
                }
                Outcome::Consumed
            }
            None => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        if k.modifiers.contains(KeyModifiers::CONTROL) || k.modifiers.contains(KeyModifiers::ALT) {
            return Outcome::Ignored;
        }
        self.note = None;
        if self.detail.is_some() {
            match k.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Left => {
                    self.detail = None;
                    self.want = None;
                    self.scroll = 0;
                }
                KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
                KeyCode::PageDown => self.scroll += 10,
                KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
                KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
                _ => return Outcome::Ignored,
            }
            cx.dirty = true;
            return Outcome::Consumed;
        }
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => {
                self.sel = (self.sel + 1).min(self.rows.len().saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => self.sel = self.sel.saturating_sub(1),
            KeyCode::PageDown => self.sel = (self.sel + 10).min(self.rows.len().saturating_sub(1)),
            KeyCode::PageUp => self.sel = self.sel.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => self.sel = 0,
            KeyCode::End | KeyCode::Char('G') => self.sel = self.rows.len().saturating_sub(1),
            KeyCode::Enter | KeyCode::Right => {
                if let Some(r) = self.rows.get(self.sel) {
                    self.want = Some(r.id.clone());
                    Self::ask(cx, RunsRequest::Detail { id: r.id.clone() });
                }
            }
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => Self::ask(cx, RunsRequest::Watch),
            EngineEvent::Runs(RunsEvent::Runs(rows)) => {
                let keep = self.rows.get(self.sel).map(|r| r.id.clone());
                self.rows = rows;
                self.loaded = true;
                if let Some(id) = keep {
                    if let Some(i) = self.rows.iter().position(|r| r.id == id) {
                        self.sel = i;
                    }
                }
                self.sel = self.sel.min(self.rows.len().saturating_sub(1));
                // The detail shown follows its run.
                if let Some(d) = &self.detail {
                    Self::ask(cx, RunsRequest::Detail { id: d.id.clone() });
                }
            }
            EngineEvent::Runs(RunsEvent::Detail(d)) => {
                if self.want.as_deref() != Some(d.id.as_str()) {
                    return Outcome::Ignored;
                }
                if self.detail.as_ref().is_none_or(|old| old.id != d.id) {
                    self.scroll = 0;
                }
                self.detail = Some(d);
            }
            EngineEvent::Runs(RunsEvent::Note(n)) => self.note = Some(n),
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        buf.set_style(area, Style::new().bg(t.bg).fg(t.fg));
        if area.height == 0 || area.width == 0 {
            return;
        }
        let w = area.width as usize;
        let mut body = area;
        if let Some(n) = &self.note {
            buf.set_stringn(
                area.x,
                area.y + area.height - 1,
                n,
                w,
                Style::default().fg(t.warn),
            );
            body.height -= 1;
        }
        if body.height == 0 {
            return;
        }
        if let Some(d) = &self.detail {
            let lines: Vec<(String, Style)> = Self::detail_lines(d)
                .into_iter()
                .flat_map(|(l, st)| wrap(&l, w).into_iter().map(move |p| (p, st)))
                .collect();
            let h = body.height as usize;
            self.scroll = self.scroll.min(lines.len().saturating_sub(h));
            for (i, (l, st)) in lines.iter().skip(self.scroll).take(h).enumerate() {
                let style = if i == 0 && self.scroll == 0 {
                    state_style(&d.state, rcx).patch(*st)
                } else {
                    *st
                };
                buf.set_stringn(body.x, body.y + i as u16, l, w, style);
            }
            return;
        }
        if !self.loaded {
            buf.set_stringn(
                body.x,
                body.y,
                "reading runs…",
                w,
                Style::default().fg(t.muted),
            );
            return;
        }
        if self.rows.is_empty() {
            let text = [
                "No workflow runs yet.",
                "",
                "Workflows are TOML files in ~/.config/fieldkit/workflows/;",
                "`fieldkit workflow ls` lists them, `fieldkit workflow run NAME` starts one.",
            ];
            for (i, l) in text.iter().enumerate().take(body.height as usize) {
                buf.set_stringn(
                    body.x,
                    body.y + i as u16,
                    l,
                    w,
                    Style::default().fg(t.muted),
                );
            }
            return;
        }
        let cols = Columns::of(&self.rows, w);
        let header = cols.line("workflow", "state", "started", "trigger", "took", "step");
        buf.set_stringn(
            body.x,
            body.y,
            &header,
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        let h = body.height.saturating_sub(1) as usize;
        if h == 0 {
            return;
        }
        if self.sel < self.top {
            self.top = self.sel;
        } else if self.sel >= self.top + h {
            self.top = self.sel + 1 - h;
        }
        for (i, r) in self.rows.iter().enumerate().skip(self.top).take(h) {
            let y = body.y + 1 + (i - self.top) as u16;
            let line = cols.line(
                &r.workflow,
                &r.state,
                &r.started,
                &r.trigger,
                &r.took,
                &r.step,
            );
            let mut style = state_style(&r.state, rcx);
            if i == self.sel {
                style = style.add_modifier(Modifier::REVERSED);
            }
            buf.set_stringn(body.x, y, &line, w, style);
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.detail.is_some() {
            out.push(Hint::new("Esc", "back"));
            out.push(Hint::new("j/k", "scroll"));
        } else {
            out.push(Hint::new("Enter", "steps"));
        }
        crate::Hints::WithKeymap
    }

    fn save(&self) -> PaneState {
        PaneState::Runs
    }
}

/// The list's column widths: each as wide as its widest value (the header's included), the
/// workflow at most 20; the trigger gets what is left of the width, up to its widest, and
/// is cut with an ellipsis; the step comes last and is what a narrow pane cuts.
struct Columns {
    workflow: usize,
    state: usize,
    started: usize,
    trigger: usize,
    took: usize,
}

impl Columns {
    fn of(rows: &[RunRow], w: usize) -> Columns {
        let widest = |head: &str, f: fn(&RunRow) -> &str| {
            rows.iter()
                .map(|r| f(r).chars().count())
                .fold(head.chars().count(), usize::max)
        };
        let workflow = widest("workflow", |r| &r.workflow).min(20);
        let state = widest("state", |r| &r.state);
        let started = widest("started", |r| &r.started);
        let took = widest("took", |r| &r.took);
        let step = widest("step", |r| &r.step);
        let fixed = workflow + state + started + took + step + 5;
        let trigger = w
            .saturating_sub(fixed)
            .clamp(8, widest("trigger", |r| &r.trigger).max(8));
        Columns {
            workflow,
            state,
            started,
            trigger,
            took,
        }
    }

    fn line(
        &self,
        wf: &str,
        state: &str,
        started: &str,
        trigger: &str,
        took: &str,
        step: &str,
    ) -> String {
        format!(
            "{:<wfw$} {:<stw$} {:<sdw$} {:<trw$} {:>tkw$} {}",
            clip(wf, self.workflow),
            state,
            started,
            clip(trigger, self.trigger),
            took,
            step,
            wfw = self.workflow,
            stw = self.state,
            sdw = self.started,
            trw = self.trigger,
            tkw = self.took,
        )
    }
}

/// `line` broken at spaces to lines of at most `w` characters; the lines after the first are
/// indented two more than it. A pane too narrow for that gets the line whole (and cuts it).
fn wrap(line: &str, w: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let indent = chars.iter().take_while(|c| **c == ' ').count();
    if chars.len() <= w || w < indent + 2 + 8 {
        return vec![line.to_string()];
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let lead = if out.is_empty() { 0 } else { indent + 2 };
        let room = w - lead;
        let mut end = chars.len().min(at + room);
        let mut next = end;
        if end < chars.len() {
            // Break at the last space, unless that leaves the line less than half full.
            if let Some(sp) = (at + room / 2..end).rev().find(|i| chars[*i] == ' ') {
                end = sp;
                next = sp + 1;
            }
        }
        let text: String = chars[at..end].iter().collect();
        out.push(format!("{}{}", " ".repeat(lead), text.trim_end()));
        at = next;
        while at < chars.len() && chars[at] == ' ' {
            at += 1;
        }
    }
    out
}

/// `s` cut to `n` characters, with an ellipsis when cut.
pub(crate) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

#[cfg(test)]
mod tests;
