/*!
The mesh pane (`open mesh`): this device (its ID to read aloud and compare, name, role), the
team's devices (role, online, last sync, how far behind), the edits that lost a conflict, and
the sync log. Keys invite a device (the code shows here, to read aloud) and revoke the selected
one, after a yes.

The pane holds what the server judged and formatted: it never opens mesh.db or a socket.
*/

use crate::runs::clip;
use crate::{
    Cx, Effect, EngineEvent, EngineRequest, Hint, KeyEvent, Outcome, Pane, PaneKind, PaneState,
    RenderCx,
};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use std::borrow::Cow;

pub const SPEC: crate::PaneSpec = crate::PaneSpec {
    kind: PaneKind::Mesh,
    all_keys: false,
    actions: &[],
    engines: &[crate::Engine::Mesh],
    fresh: |_| Box::new(MeshPane::default()),
    restore: |st| match st {
        PaneState::Mesh => Some(Box::new(MeshPane::default())),
        _ => None,
    },
};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub online: bool,
    pub this_device: bool,
    /// When it last answered a sync, as the user reads it (empty: never).
    pub last_sync: String,
    /// Changes held here that it lacked when it last answered.
    pub behind: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConflictRow {
    pub item: String,
    pub title: String,
    pub field: String,
    pub lost: String,
    pub lost_by: String,
    pub won: String,
    pub won_by: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeshView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub listening: String,
    pub pairing: String,
    pub running: bool,
    pub error: String,
    pub devices: Vec<DeviceRow>,
    pub conflicts: Vec<ConflictRow>,
    /// (when, what), oldest first.
    pub log: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeshRequest {
    /// How things are, now and after every change.
    Watch,
    /// A one-time code for a device to join as `role`.
    Invite { role: String },
    /// Take the device with this ID out of the team.
    Revoke { id: String },
    /// Put back the value of an item's field that lost a conflict.
    Restore { item: String, field: String },
    /// Join the team of the device that showed `code` (at `addr`, else found on the LAN).
    Join { code: String, addr: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeshEvent {
    View(Box<MeshView>),
    /// A sentence for the user: an invite's code, a refusal.
    Note(String),
}

/// What a yes would do.
#[derive(Debug, Clone)]
enum Confirm {
    Revoke(DeviceRow),
    Restore(ConflictRow),
}

#[derive(Debug, Default)]
pub struct MeshPane {
    view: Option<MeshView>,
    /// The device selected, and the conflict.
    sel: usize,
    csel: usize,
    /// Keys move through the conflicts (Tab), not the devices.
    on_conflicts: bool,
    note: Option<String>,
    /// Asked, until y or anything else.
    confirm: Option<Confirm>,
    /// The code (and address) being typed to join a team, after `J`.
    joining: Option<String>,
}

impl MeshPane {
    fn ask(cx: &mut Cx, r: MeshRequest) {
        cx.push(Effect::Engine(EngineRequest::Mesh(r)));
    }

    fn lines(&self, w: usize, rcx: &RenderCx) -> Vec<(String, Style)> {
        let t = rcx.theme;
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let muted = Style::default().fg(t.muted);
        let Some(v) = &self.view else {
            return vec![("starting the mesh…".into(), muted)];
        };
        let mut out = vec![
            (format!("This device  {}", v.id), bold),
            (
                format!(
                    "  {} · {} · {}",
                    v.name,
                    v.role,
                    if !v.running {
                        "mesh worker not running".to_string()
                    } else if v.listening.is_empty() {
                        "not listening yet".to_string()
                    } else {
                        format!("listening on {}", v.listening)
                    }
                ),
                Style::default(),
            ),
        ];
        if !v.pairing.is_empty() {
            out.push((
                format!("  pairing port open on {}", v.pairing),
                Style::default().fg(t.warn),
            ));
        }
        if !v.error.is_empty() {
            out.push((format!("  {}", v.error), Style::default().fg(t.error)));
        }
        out.push((String::new(), Style::default()));
        out.push((format!("Devices ({})", v.devices.len()), bold));
        let name_w = v
            .devices
            .iter()
            .map(|d| d.name.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 20);
        for (i, d) in v.devices.iter().enumerate() {
            let state = if d.this_device {
                "this device".to_string()
            } else if d.online {
                "online".to_string()
            } else {
                "offline".to_string()
            };
            let sync = match (&d.last_sync, d.behind) {
                (s, _) if d.this_device || s.is_empty() => String::new(),
                (s, Some(0)) => format!("synced {s}"),
                (s, Some(n)) => format!("synced {s}, {n} behind"),
                (s, None) => format!("synced {s}"),
            };
            let short: String = d.id.chars().take(15).collect();
            let line = format!(
                "{} {:<nw$} {:<15} {:<6} {:<11} {}",
                if i == self.sel && !self.on_conflicts {
                    '>'
                } else {
                    ' '
                },
                clip(&d.name, name_w),
                short,
                d.role,
                state,
                sync,
                nw = name_w
            );
            let mut st = match (d.role.as_str(), d.online) {
                ("revoked", _) => Style::default().fg(t.error),
                (_, true) => Style::default().fg(t.ok),
                _ => muted,
            };
            if i == self.sel && !self.on_conflicts {
                st = st.add_modifier(Modifier::REVERSED);
            }
            out.push((line, st));
        }
        out.push((String::new(), Style::default()));
        out.push((format!("Conflicts ({})", v.conflicts.len()), bold));
        if v.conflicts.is_empty() {
            out.push((
                "  none: every concurrent edit merged field by field".into(),
                muted,
            ));
        }
        for (i, c) in v.conflicts.iter().enumerate().take(20) {
            let here = self.on_conflicts && i == self.csel;
            let mut st = Style::default().fg(t.warn);
            if here {
                st = st.add_modifier(Modifier::REVERSED);
            }
            out.push((
                format!(
                    "{} {} · {}: kept {:?} ({}), lost {:?} ({})",
                    if here { '>' } else { ' ' },
                    clip(&c.title, 24),
                    c.field,
                    clip(&c.won, 20),
                    c.won_by,
                    clip(&c.lost, 20),
                    c.lost_by
                ),
                st,
            ));
        }
        out.push((String::new(), Style::default()));
        out.push(("Sync log".into(), bold));
        for (at, l) in v.log.iter().rev().take(50) {
            out.push((format!("  {at}  {l}"), muted));
        }
        out.into_iter().map(|(l, s)| (clip(&l, w), s)).collect()
    }
}

/// The line a join is typed on.
fn join_prompt(text: &str) -> String {
    format!(
        "join a team: the code the other device shows, and its IP:PORT if it is not on this \
         network (Enter; Esc cancels)\n> {text}_"
    )
}

impl Pane for MeshPane {
    fn kind(&self) -> PaneKind {
        PaneKind::Mesh
    }

    fn title(&self) -> Cow<'_, str> {
        match &self.view {
            Some(v) => {
                let online = v
                    .devices
                    .iter()
                    .filter(|d| d.online && !d.this_device)
                    .count();
                Cow::Owned(format!(
                    "mesh: {} devices · {online} online",
                    v.devices.len()
                ))
            }
            None => Cow::Borrowed("mesh"),
        }
    }

    fn on_action(&mut self, _a: &crate::Action, _cx: &mut Cx) -> Outcome {
        Outcome::Ignored
    }

    fn on_input(&mut self, k: &KeyEvent, cx: &mut Cx) -> Outcome {
        if k.modifiers.contains(KeyModifiers::CONTROL) || k.modifiers.contains(KeyModifiers::ALT) {
            return Outcome::Ignored;
        }
        if let Some(text) = self.joining.as_mut() {
            match k.code {
                KeyCode::Char(c) => text.push(c),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Esc => {
                    self.joining = None;
                    self.note = None;
                    cx.dirty = true;
                    return Outcome::Consumed;
                }
                KeyCode::Enter => {
                    let text = self.joining.take().unwrap_or_default();
                    let mut words = text.split_whitespace();
                    match (words.next(), words.next(), words.next()) {
                        (Some(code), addr, None) => {
                            self.note = Some(match addr {
                                Some(a) => format!("joining through {a}…"),
                                None => "looking on this network for the inviting device…".into(),
                            });
                            Self::ask(
                                cx,
                                MeshRequest::Join {
                                    code: code.to_string(),
                                    addr: addr.map(str::to_string),
                                },
                            );
                        }
                        _ => {
                            self.note = Some(
                                "join: the code, then (if need be) one IP:PORT; try J again".into(),
                            )
                        }
                    }
                    cx.dirty = true;
                    return Outcome::Consumed;
                }
                _ => return Outcome::Consumed,
            }
            self.note = Some(join_prompt(text));
            cx.dirty = true;
            return Outcome::Consumed;
        }
        if let Some(c) = self.confirm.take() {
            let yes = k.code == KeyCode::Char('y');
            self.note = Some(match (c, yes) {
                (Confirm::Revoke(d), true) => {
                    Self::ask(cx, MeshRequest::Revoke { id: d.id });
                    format!("revoking {}…", d.name)
                }
                (Confirm::Restore(c), true) => {
                    Self::ask(
                        cx,
                        MeshRequest::Restore {
                            item: c.item,
                            field: c.field,
                        },
                    );
                    "restoring…".into()
                }
                (Confirm::Revoke(_), false) => "not revoked".into(),
                (Confirm::Restore(_), false) => "not restored".into(),
            });
            cx.dirty = true;
            return Outcome::Consumed;
        }
        let (n, nc) = self
            .view
            .as_ref()
            .map(|v| (v.devices.len(), v.conflicts.len().min(20)))
            .unwrap_or((0, 0));
        let on_conflicts = self.on_conflicts;
        let (sel, len) = if on_conflicts {
            (&mut self.csel, nc)
        } else {
            (&mut self.sel, n)
        };
        match k.code {
            KeyCode::Down | KeyCode::Char('j') => *sel = (*sel + 1).min(len.saturating_sub(1)),
            KeyCode::Up | KeyCode::Char('k') => *sel = sel.saturating_sub(1),
            KeyCode::Tab if nc > 0 || on_conflicts => self.on_conflicts = !on_conflicts,
            KeyCode::Enter if on_conflicts => {
                if let Some(c) = self.view.as_ref().and_then(|v| v.conflicts.get(self.csel)) {
                    self.note = Some(format!(
                        "put {:?} back as the {} of {:?}? y to restore",
                        c.lost, c.field, c.title
                    ));
                    self.confirm = Some(Confirm::Restore(c.clone()));
                }
            }
            KeyCode::Char(c @ ('i' | 'g' | 'A')) => {
                let role = match c {
                    'i' => "member",
                    'g' => "guest",
                    _ => "admin",
                };
                self.note = Some(format!("making an invite for a {role}…"));
                Self::ask(cx, MeshRequest::Invite { role: role.into() });
            }
            KeyCode::Char('J') => {
                self.joining = Some(String::new());
                self.note = Some(join_prompt(""));
            }
            KeyCode::Char('r') if !on_conflicts => {
                match self.view.as_ref().and_then(|v| v.devices.get(self.sel)) {
                    Some(d) if d.this_device => {
                        self.note = Some("this device cannot revoke itself".into())
                    }
                    Some(d) => {
                        self.note = Some(format!(
                            "revoke {} ({})? It keeps what it has; y to revoke",
                            d.name,
                            d.id.chars().take(15).collect::<String>()
                        ));
                        self.confirm = Some(Confirm::Revoke(d.clone()));
                    }
                    None => {}
                }
            }
            KeyCode::Esc => self.note = None,
            _ => return Outcome::Ignored,
        }
        cx.dirty = true;
        Outcome::Consumed
    }

    fn on_engine(&mut self, ev: EngineEvent, cx: &mut Cx) -> Outcome {
        match ev {
            EngineEvent::Opened => Self::ask(cx, MeshRequest::Watch),
            EngineEvent::Mesh(m) => match *m {
                MeshEvent::View(v) => {
                    self.sel = self.sel.min(v.devices.len().saturating_sub(1));
                    self.csel = self.csel.min(v.conflicts.len().saturating_sub(1));
                    self.on_conflicts &= !v.conflicts.is_empty();
                    self.view = Some(*v);
                }
                MeshEvent::Note(n) => self.note = Some(n),
            },
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
            // Wrapped to the pane: an invite's line with the address must be read whole.
            let lines: Vec<String> = n
                .lines()
                .flat_map(|l| {
                    let chars: Vec<char> = l.chars().collect();
                    if chars.is_empty() {
                        return vec![String::new()];
                    }
                    chars.chunks(w).map(|c| c.iter().collect()).collect()
                })
                .collect();
            let h = (lines.len() as u16).min(area.height);
            for (i, l) in lines.iter().take(h as usize).enumerate() {
                buf.set_stringn(
                    area.x,
                    area.y + area.height - h + i as u16,
                    l,
                    w,
                    Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
                );
            }
            body.height -= h;
        }
        for (i, (l, st)) in self
            .lines(w, rcx)
            .into_iter()
            .take(body.height as usize)
            .enumerate()
        {
            buf.set_stringn(body.x, body.y + i as u16, &l, w, st);
        }
    }

    fn hints(&self, out: &mut Vec<Hint>) -> crate::Hints {
        if self.joining.is_some() {
            out.push(Hint::new("Enter", "join"));
            out.push(Hint::new("Esc", "cancel"));
        } else if self.confirm.is_some() {
            out.push(Hint::new("y", "yes"));
            out.push(Hint::new("any", "no"));
        } else if self.on_conflicts {
            out.push(Hint::new("Enter", "restore the lost value"));
            out.push(Hint::new("Tab", "devices"));
        } else {
            out.push(Hint::new("i", "invite member"));
            out.push(Hint::new("g", "guest"));
            out.push(Hint::new("A", "admin"));
            out.push(Hint::new("J", "join"));
            out.push(Hint::new("r", "revoke"));
            out.push(Hint::new("Tab", "conflicts"));
        }
        crate::Hints::WithKeymap
    }

    fn save(&self) -> PaneState {
        PaneState::Mesh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{settings, snapshot};

    fn view() -> MeshView {
        MeshView {
            id: "MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZLOM-JRXGQYS-7HYPL4L-VX3CA2Q".into(),
            name: "base-camp".into(),
            role: "admin".into(),
            listening: "0.0.0.0:4701".into(),
            pairing: String::new(),
            running: true,
            error: String::new(),
            devices: vec![
                DeviceRow {
                    id: "MFZWI3D-BONSGYC-YLTMRWG".into(),
                    name: "base-camp".into(),
                    role: "admin".into(),
                    online: true,
                    this_device: true,
                    last_sync: String::new(),
                    behind: None,
                },
                DeviceRow {
                    id: "KQ2T7XA-PL3MZQ9-AAAAAAA".into(),
                    name: "tent-2".into(),
                    role: "member".into(),
                    online: true,
                    this_device: false,
                    last_sync: "11-29 12:04".into(),
                    behind: Some(0),
                },
                DeviceRow {
                    id: "ZZ4R2BC-QQ7M1NN-BBBBBBB".into(),
                    name: "ridge-laptop".into(),
                    role: "guest".into(),
                    online: false,
                    this_device: false,
                    last_sync: "11-28 17:40".into(),
                    behind: Some(37),
                },
            ],
            conflicts: vec![ConflictRow {
                item: "3f2a".into(),
                title: "Fill water tanks".into(),
                field: "state".into(),
                lost: "blocked".into(),
                lost_by: "tent-2 (KQ2T7XA)".into(),
                won: "doing".into(),
                won_by: "base-camp (MFZWI3D)".into(),
            }],
            log: vec![
                ("11-29 12:03".into(), "listening on 0.0.0.0:4701".into()),
                ("11-29 12:04".into(), "tent-2 (KQ2T7XA) connected".into()),
                (
                    "11-29 12:04".into(),
                    "took 14 changes from tent-2 (KQ2T7XA)".into(),
                ),
            ],
        }
    }

    fn shown() -> MeshPane {
        let mut p = MeshPane::default();
        let mut cx = Cx::default();
        p.on_engine(
            EngineEvent::Mesh(Box::new(MeshEvent::View(Box::new(view())))),
            &mut cx,
        );
        p
    }

    #[test]
    fn snapshots() {
        let mut p = shown();
        settings().bind(|| {
            insta::assert_snapshot!("mesh_80x24", snapshot(&mut p, 80, 24));
            insta::assert_snapshot!("mesh_140x40", snapshot(&mut p, 140, 40));
        });
    }

    #[test]
    fn revoke_asks_first_and_names_the_device() {
        let mut p = shown();
        let mut cx = Cx::default();
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        p.on_input(&key('j'), &mut cx);
        p.on_input(&key('r'), &mut cx);
        assert!(cx.effects.is_empty(), "nothing sent before the yes");
        assert!(p.note.as_deref().unwrap_or("").contains("tent-2"));
        p.on_input(&key('y'), &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Mesh(MeshRequest::Revoke {
                id: "KQ2T7XA-PL3MZQ9-AAAAAAA".into()
            }))]
        );
        // This device cannot be revoked, and anything but y keeps the device.
        let mut cx = Cx::default();
        p.on_input(&key('k'), &mut cx);
        p.on_input(&key('r'), &mut cx);
        assert!(p.confirm.is_none());
        p.on_input(&key('j'), &mut cx);
        p.on_input(&key('r'), &mut cx);
        p.on_input(&key('n'), &mut cx);
        assert!(cx.effects.is_empty());
        assert_eq!(p.note.as_deref(), Some("not revoked"));
    }

    #[test]
    fn j_shift_types_a_code_and_an_address_and_asks_to_join() {
        let mut p = MeshPane::default();
        p.on_engine(
            EngineEvent::Mesh(Box::new(MeshEvent::View(Box::new(view())))),
            &mut Cx::default(),
        );
        let key = |p: &mut MeshPane, c: KeyCode| {
            let mut cx = Cx::default();
            p.on_input(&KeyEvent::from(c), &mut cx);
            cx
        };
        key(&mut p, KeyCode::Char('J'));
        for c in "K7ABC-DEFGH 10.0.0.5:47022".chars() {
            key(&mut p, KeyCode::Char(c));
        }
        // Backspace takes the last character back.
        key(&mut p, KeyCode::Backspace);
        let s = snapshot(&mut p, 80, 24);
        assert!(s.contains("> K7ABC-DEFGH 10.0.0.5:4702_"), "{s}");
        let cx = key(&mut p, KeyCode::Enter);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Mesh(MeshRequest::Join {
                code: "K7ABC-DEFGH".into(),
                addr: Some("10.0.0.5:4702".into()),
            }))]
        );
        // Three words: said, nothing asked; Esc leaves without asking.
        key(&mut p, KeyCode::Char('J'));
        for c in "a b c".chars() {
            key(&mut p, KeyCode::Char(c));
        }
        assert!(key(&mut p, KeyCode::Enter).effects.is_empty());
        key(&mut p, KeyCode::Char('J'));
        key(&mut p, KeyCode::Char('x'));
        assert!(key(&mut p, KeyCode::Esc).effects.is_empty());
        assert!(!snapshot(&mut p, 80, 24).contains("join a team"));
    }

    #[test]
    fn tab_moves_to_the_conflicts_and_enter_restores_after_a_yes() {
        let mut p = shown();
        let mut cx = Cx::default();
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        p.on_input(&key(KeyCode::Tab), &mut cx);
        p.on_input(&key(KeyCode::Enter), &mut cx);
        assert!(cx.effects.is_empty(), "nothing sent before the yes");
        assert!(p.note.as_deref().unwrap_or("").contains("\"blocked\""));
        p.on_input(&key(KeyCode::Char('y')), &mut cx);
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Mesh(MeshRequest::Restore {
                item: "3f2a".into(),
                field: "state".into()
            }))]
        );
        // r revokes nothing while the conflicts have the keys.
        let mut cx = Cx::default();
        p.on_input(&key(KeyCode::Char('r')), &mut cx);
        assert!(p.confirm.is_none() && cx.effects.is_empty());
    }

    #[test]
    fn invite_keys_ask_for_their_role() {
        let mut p = shown();
        let mut cx = Cx::default();
        p.on_input(
            &KeyEvent::new(KeyCode::Char('g'), KeyModifiers::NONE),
            &mut cx,
        );
        assert_eq!(
            cx.effects,
            vec![Effect::Engine(EngineRequest::Mesh(MeshRequest::Invite {
                role: "guest".into()
            }))]
        );
    }
}
