/*!
The engine status pane: what the server and its workers are doing.

It shows only what the server last sent (`EngineEvent::Status`); the server refreshes it once a
second while the pane is visible, and `refresh` asks for fresh figures at once. Keeping the
gathering (sysinfo, worker states) in the server keeps this pane a pure function of its input.
*/

use crate::{
    Action, Cx, Effect, EngineEvent, EngineRequest, EngineState, KeyEvent, Outcome, Pane, PaneKind,
    PaneState, RenderCx, ServerStatus,
};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Widget};
use std::borrow::Cow;
use std::time::Duration;

/// The status pane's registration: no verbs of its own (`refresh` is global), no engine.
pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Status,
    all_keys: false,
    actions: &[],
    engines: &[],
    fresh: |_| Box::new(StatusPane::new()),
    restore: |st| match st {
        PaneState::Status => Some(Box::new(StatusPane::new())),
        _ => None,
    },
};

#[derive(Debug, Default)]
pub struct StatusPane {
    status: Option<ServerStatus>,
}

impl StatusPane {
    pub fn new() -> Self {
        Self::default()
    }
}

/// `1h 02m 03s`, `4m 05s`, `12s`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Bytes in the largest binary unit that keeps the number at or above 1.
pub fn format_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl Pane for StatusPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Status
    }

    fn title(&self) -> Cow<'_, str> {
        Cow::Borrowed("status")
    }

    fn on_action(&mut self, a: &Action, cx: &mut Cx) -> Outcome {
        match a {
            Action::Refresh => {
                cx.push(Effect::Engine(EngineRequest::StatusRefresh));
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn on_input(&mut self, _k: &KeyEvent, _cx: &mut Cx) -> Outcome {
        Outcome::Ignored
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Status(s) => {
                if self.status.as_ref() != Some(&s) {
                    self.status = Some(*s);
                    cx.dirty = true;
                }
                Outcome::Consumed
            }
            _ => Outcome::Ignored,
        }
    }

    fn render(&mut self, area: Rect, buf: &mut Buffer, rcx: &RenderCx) {
        let t = rcx.theme;
        if area.width == 0 || area.height == 0 {
            return;
        }
        let Some(s) = &self.status else {
            Paragraph::new(Span::styled("gathering figures…", t.muted())).render(area, buf);
            return;
        };
        let label = t.muted();
        let value = Style::new().fg(t.fg).add_modifier(Modifier::BOLD);
        let head = vec![
            Line::from(vec![
                Span::styled(format!("fieldkit {}", s.version), t.heading()),
                Span::styled("  up ", label),
                Span::styled(format_uptime(s.uptime), value),
            ]),
            Line::from(vec![
                Span::styled("sessions ", label),
                Span::styled(s.sessions.to_string(), value),
                Span::styled("  tabs ", label),
                Span::styled(s.tabs.to_string(), value),
                Span::styled("  panes ", label),
                Span::styled(s.panes.to_string(), value),
                Span::styled("  clients ", label),
                Span::styled(s.clients.to_string(), value),
            ]),
        ];
        let head_h = (head.len() as u16).min(area.height);
        Paragraph::new(head).render(
            Rect {
                height: head_h,
                ..area
            },
            buf,
        );

        let header =
            |cols: &[&'static str]| Row::new(cols.iter().map(|c| Span::styled(*c, t.heading())));
        let procs: Vec<Row> = s
            .processes
            .iter()
            .map(|p| {
                Row::new(vec![
                    Span::raw(p.name.clone()),
                    Span::raw(p.pid.to_string()),
                    Span::raw(format!("{:.1}%", p.cpu)),
                    Span::raw(format_bytes(p.mem)),
                ])
            })
            .collect();
        let proc_h = procs.len() as u16 + 1;
        let engines: Vec<Row> = s
            .engines
            .iter()
            .map(|e| {
                let style = match e.state {
                    EngineState::Ready => Style::new().fg(t.ok),
                    EngineState::Starting => Style::new().fg(t.warn),
                    EngineState::Failed(_) => Style::new().fg(t.error),
                    EngineState::NotStarted => t.muted(),
                    EngineState::Said { active: true, .. } => Style::new().fg(t.warn),
                    EngineState::Said { .. } => t.muted(),
                };
                // The state column is narrow: the reason for a failure goes in DETAIL.
                let (state, detail) = match &e.state {
                    EngineState::Failed(why) if e.detail.is_empty() => {
                        ("failed".to_string(), why.clone())
                    }
                    EngineState::Failed(_) => ("failed".to_string(), e.detail.clone()),
                    other => (other.label(), e.detail.clone()),
                };
                Row::new(vec![
                    Span::raw(e.name.clone()),
                    Span::styled(state, style),
                    Span::raw(e.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into())),
                    Span::raw(e.restarts.to_string()),
                    Span::styled(detail, t.muted()),
                ])
            })
            .collect();

        let mut y = area.y + head_h + 1;
        let bottom = area.y + area.height;
        if y < bottom {
            let h = proc_h.min(bottom - y);
            Table::new(
                procs,
                [
                    Constraint::Length(14),
                    Constraint::Length(8),
                    Constraint::Length(7),
                    Constraint::Length(10),
                ],
            )
            .header(header(&["PROCESS", "PID", "CPU", "MEMORY"]))
            .style(Style::new().fg(t.fg))
            .render(Rect::new(area.x, y, area.width, h), buf);
            y += h + 1;
        }
        if y < bottom {
            let h = (engines.len() as u16 + 1).min(bottom - y);
            Table::new(
                engines,
                [
                    Constraint::Length(8),
                    Constraint::Length(12),
                    Constraint::Length(8),
                    Constraint::Length(9),
                    Constraint::Fill(1),
                ],
            )
            .header(header(&["ENGINE", "STATE", "PID", "RESTARTS", "DETAIL"]))
            .style(Style::new().fg(t.fg))
            .render(Rect::new(area.x, y, area.width, h), buf);
        }
    }

    fn save(&self) -> PaneState {
        PaneState::Status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{settings, snapshot};
    use crate::{EngineRow, ProcRow};

    fn sample(probe: EngineState, restarts: u32) -> ServerStatus {
        ServerStatus {
            version: "0.1.0".into(),
            uptime: Duration::from_secs(3723),
            sessions: 2,
            tabs: 3,
            panes: 5,
            clients: 1,
            processes: vec![
                ProcRow {
                    name: "server".into(),
                    pid: 4242,
                    cpu: 0.5,
                    mem: 12 * 1024 * 1024 + 300_000,
                },
                ProcRow {
                    name: "worker probe".into(),
                    pid: 4250,
                    cpu: 0.0,
                    mem: 2 * 1024 * 1024,
                },
            ],
            engines: vec![EngineRow {
                name: "probe".into(),
                state: probe,
                pid: Some(4250),
                restarts,
                detail: "round trip 85 µs".into(),
            }],
        }
    }

    #[test]
    fn refresh_asks_the_server() {
        let mut p = StatusPane::new();
        let mut cx = Cx::default();
        assert_eq!(p.on_action(&Action::Refresh, &mut cx), Outcome::Consumed);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::StatusRefresh)]
        );
        assert_eq!(p.on_action(&Action::Zoom, &mut cx), Outcome::Ignored);
    }

    #[test]
    fn same_figures_do_not_redraw() {
        let mut p = StatusPane::new();
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Status(Box::new(sample(EngineState::Ready, 0))),
            &mut cx,
        );
        assert!(cx.dirty);
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Status(Box::new(sample(EngineState::Ready, 0))),
            &mut cx,
        );
        assert!(!cx.dirty);
    }

    #[test]
    fn snapshots() {
        settings().bind(|| {
            let mut p = StatusPane::new();
            insta::assert_snapshot!("status_waiting_80x24", snapshot(&mut p, 80, 24));
            let mut cx = Cx::default();
            p.on_engine(
                EngineEvent::Status(Box::new(sample(EngineState::Ready, 0))),
                &mut cx,
            );
            insta::assert_snapshot!("status_ready_80x24", snapshot(&mut p, 80, 24));
            insta::assert_snapshot!("status_ready_160x48", snapshot(&mut p, 160, 48));
            let mut failed = sample(EngineState::Failed("killed by signal 9".into()), 1);
            failed.engines[0].detail = String::new();
            p.on_engine(EngineEvent::Status(Box::new(failed)), &mut cx);
            insta::assert_snapshot!("status_failed_80x24", snapshot(&mut p, 80, 24));
            insta::assert_snapshot!("status_tiny_12x3", snapshot(&mut p, 12, 3));
        });
    }
}
