/*!
One-shot commands from the CLI (`ls`, `new -d`, `action`, `capture`, `kill-*`), and the
figures behind the status pane. Each command returns its stdout or an error sentence; the
connection turns that into a `Reply` and an exit code.
*/

use super::{render, Server};
use crate::keymap::KeyState;
use crate::protocol::Command;
use crate::server::session::Session;
use fieldkit_panes::{Action, ProcRow, RenderCx, ServerStatus};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate};

/// Session names are typed in shells and shown in the tab bar: keep them plain.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("a session name must have 1 to 64 characters".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == ':' || *c == '.')
    {
        return Err(format!("a session name cannot contain {bad:?}"));
    }
    Ok(())
}

impl Server {
    fn target(&self, session: Option<String>) -> Result<String, String> {
        match session {
            Some(n) if self.sessions.contains_key(&n) => Ok(n),
            Some(n) => Err(format!("no session named {n:?} (see `fieldkit ls`)")),
            None => self
                .recent
                .last()
                .cloned()
                .ok_or_else(|| "no sessions".to_string()),
        }
    }

    pub(super) fn command(
        &mut self,
        session: Option<String>,
        cmd: Command,
    ) -> Result<String, String> {
        match cmd {
            Command::Ping => Ok("pong\n".into()),
            Command::Vault(v) => self.vault_command(v),
            Command::Queue(q) => self.queue_command(q),
            Command::Workflow(w) => self.workflow_command(w),
            Command::Mesh(m) => self.mesh_command(m),
            Command::Plugin(p) => self.plugin_command(p),
            Command::Panes => Ok(self.panes_json()),
            Command::Ask { .. } => Err("a question is answered by ask_user".into()),
            Command::Panic => {
                let took = self.panic();
                Ok(format!(
                    "panic: vault locked, every pane and scrollback wiped, screens blanked in {} µs\n",
                    took.as_micros()
                ))
            }
            Command::List => {
                if self.sessions.is_empty() {
                    return Err("no sessions".into());
                }
                let mut out = String::new();
                for (name, s) in &self.sessions {
                    let clients = self.clients_of(name).len();
                    out.push_str(&format!(
                        "{name}: {} tabs, {} panes, {} clients{}\n",
                        s.tabs.len(),
                        s.pane_count(),
                        clients,
                        if clients > 0 { " (attached)" } else { "" }
                    ));
                }
                Ok(out)
            }
            Command::NewDetached { name } => {
                check_name(&name)?;
                if self.sessions.contains_key(&name) {
                    return Err(format!("duplicate session: {name}"));
                }
                let s = Session::new(&name, &mut self.ids, (80, 24), &self.config.shell());
                self.sessions.insert(name.clone(), s);
                self.touch(&name);
                Ok(String::new())
            }
            Command::KillSession => {
                let name = self.target(session)?;
                self.kill_session(&name);
                Ok(String::new())
            }
            Command::KillServer => {
                self.stop_all("[server exited]");
                Ok(String::new())
            }
            Command::Action { action } => {
                let name = self.target(session)?;
                let action = Action::parse(&action)?;
                self.try_action(&name, action, None)?;
                Ok(String::new())
            }
            Command::SendKeys { pane, keys } => {
                let name = self.target(session)?;
                let s = self.sessions.get(&name).ok_or("no such session")?;
                let id = match pane {
                    None => s.focused(),
                    Some(n) => {
                        let order = s.tab().layout.leaves();
                        *order.get((n as usize).wrapping_sub(1)).ok_or_else(|| {
                            format!(
                                "there is no pane {n} in the active tab (it has {})",
                                order.len()
                            )
                        })?
                    }
                };
                self.sync_terms();
                let t = self
                    .pty
                    .terms
                    .get(&id)
                    .ok_or("that pane is not a running terminal")?;
                let app_cursor = t.screen.modes().app_cursor;
                let mut bytes = Vec::new();
                for k in keys {
                    match crate::keymap::Key::parse(&k) {
                        // Single characters are text; names and chords are keys.
                        Ok(key) if k.chars().count() > 1 => {
                            bytes.extend(fieldkit_panes::keys::encode_key(&key.event(), app_cursor))
                        }
                        _ => bytes.extend_from_slice(k.as_bytes()),
                    }
                }
                t.write(bytes);
                Ok(String::new())
            }
            Command::Capture { pane, scrollback } => {
                let name = self.target(session)?;
                // Fresh figures even when no client is attached to keep them ticking.
                self.push_status();
                self.sync_terms();
                // Scrollback belongs to one terminal: without --pane, the focused one.
                if pane.is_some() || scrollback {
                    let s = self.sessions.get(&name).ok_or("no such session")?;
                    let order = s.tab().layout.leaves();
                    let (n, id) = match pane {
                        Some(n) => (
                            n,
                            *order.get((n as usize).wrapping_sub(1)).ok_or_else(|| {
                                format!(
                                    "there is no pane {n} in the active tab (it has {})",
                                    order.len()
                                )
                            })?,
                        ),
                        None => {
                            let id = s.focused();
                            let n = order.iter().position(|p| *p == id).map_or(0, |i| i + 1);
                            (n as u64, id)
                        }
                    };
                    if let Some(t) = self.pty.terms.get(&id) {
                        return Ok(t.screen.text(scrollback));
                    }
                    if scrollback {
                        return Err(format!(
                            "pane {n} is not a terminal: it has no scrollback (--pane N picks a terminal)"
                        ));
                    }
                }
                self.refresh_frames(&name);
                let s = self.sessions.get_mut(&name).ok_or("no such session")?;
                match pane {
                    None => {
                        let (buf, _) =
                            render::screen(s, &self.theme, &self.keymap, &KeyState::default());
                        Ok(render::text_of(&buf, buf.area))
                    }
                    Some(n) => capture_pane(s, n as usize, &self.theme),
                }
            }
        }
    }
}

/// The text of pane number `n` (as its border shows it) of the active tab, without the border.
fn capture_pane(
    s: &mut Session,
    n: usize,
    theme: &fieldkit_widgets::Theme,
) -> Result<String, String> {
    let order = s.tab().layout.leaves();
    let id = *order.get(n.wrapping_sub(1)).ok_or_else(|| {
        format!(
            "there is no pane {n} in the active tab (it has {})",
            order.len()
        )
    })?;
    let rect = s
        .visible()
        .into_iter()
        .find(|(p, _)| *p == id)
        .map(|(_, r)| r)
        .or_else(|| s.locate(id).map(|(_, r)| r))
        .ok_or("pane not found")?;
    let inner = Block::new().borders(Borders::ALL).inner(rect);
    let area = Rect::new(0, 0, inner.width, inner.height);
    let mut buf = Buffer::empty(area);
    if let Some(p) = s.panes.get_mut(&id) {
        p.render(
            area,
            &mut buf,
            &RenderCx {
                theme,
                focused: false,
                retained: false,
            },
        );
    }
    Ok(render::text_of(&buf, area))
}

/// Everything the status pane shows, measured now.
pub fn gather_status(server: &mut Server) -> ServerStatus {
    let me = std::process::id();
    let mut pids = vec![("server".to_string(), me)];
    for (name, w) in &server.workers {
        if let Some(pid) = w.pid {
            pids.push((format!("worker {name}"), pid));
        }
    }
    let sys_pids: Vec<Pid> = pids.iter().map(|(_, p)| Pid::from_u32(*p)).collect();
    server.sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&sys_pids),
        true,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    let processes = pids
        .into_iter()
        .map(|(name, pid)| {
            let p = server.sys.process(Pid::from_u32(pid));
            ProcRow {
                name,
                pid,
                cpu: p.map(|p| p.cpu_usage()).unwrap_or(0.0),
                mem: p.map(|p| p.memory()).unwrap_or(0),
            }
        })
        .collect();
    ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime: server.started.elapsed(),
        sessions: server.sessions.len(),
        tabs: server.sessions.values().map(|s| s.tabs.len()).sum(),
        panes: server.sessions.values().map(|s| s.pane_count()).sum(),
        clients: server
            .clients
            .values()
            .filter(|c| c.session.is_some())
            .count(),
        processes,
        engines: server.engine_rows(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("main").is_ok());
        assert!(check_name("field-2026_a").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").unwrap_err().contains("' '"));
        assert!(check_name("a:b").is_err());
        assert!(check_name("a\u{1b}[31m").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
