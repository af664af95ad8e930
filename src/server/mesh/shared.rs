/*!
What the team shares besides work items: chat sessions marked shared, workflows marked
`shared = true`, and the vault's team folder. Each is turned into records (`engine::mesh::shared`)
when it changes here, and back when a peer's changes are written out (`mesh_flush`).

- Chats: the server hears of every message it stores (the chat pane, summaries) and `fieldkit
  chat --session` tells it after writing; messages not yet handed to the team have no `share` id
  in state.db, so nothing is sent twice and a server that was down catches up when the mesh
  starts. A chat pane showing a shared session is given the messages as they come.
- Workflows: a file here that changed since this device last shared or approved it goes to the
  team; a team's workflow is written into the workflows folder only by `mesh approve`, so a
  peer's shell step never runs here unasked.
- Team vault: entries of the team folder (`[mesh] vault_folder`) are sealed with the team vault
  key. While the vault is locked the sealed records wait in mesh.db (and are relayed); an unlock
  opens them into the vault. A deletion is only sent for an entry this server saw in the team
  folder and no longer does, never inferred from an entry it could not open.
*/

use super::*;
use crate::engine::mesh::shared::{self, SharedMsg, SharedSecret};
use crate::engine::vault::entries::Entry;
use fieldkit_panes::llm::{ChatEvent, StoredMsg};
use std::collections::HashSet;

impl Server {
    /// Whether changes made here go to a team.
    fn mesh_sharing(&self) -> bool {
        self.mesh.replica.is_some() && self.mesh_paired()
    }

    // ---- chats ----

    /// `fieldkit mesh share chat NAME`: the session goes to the team, with its messages.
    pub(super) fn mesh_share_chat(&mut self, name: &str) -> Result<String, String> {
        self.mesh_load()?;
        if !self.mesh_paired() {
            return Err(
                "this device is in no team yet: `fieldkit mesh invite` on this one, or \
                 `fieldkit mesh join` with a teammate's code"
                    .into(),
            );
        }
        if self.mesh.replica.as_ref().and_then(|r| r.role_of(&r.me)) == Some(Role::Guest) {
            return Err("a guest reads the team's work but shares nothing".into());
        }
        let st = self.store.as_ref().ok_or("state.db is not open")?;
        let id = st
            .find_chat(name)
            .map_err(|e| format!("state.db: {e:#}"))?
            .ok_or_else(|| {
                let names: Vec<String> = st
                    .chats(None)
                    .unwrap_or_default()
                    .into_iter()
                    .take(8)
                    .map(|c| c.name)
                    .collect();
                format!(
                    "no chat session is called {name:?} (some that are: {})",
                    if names.is_empty() {
                        "none yet".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            })?;
        if st.chat_share(id).map_err(|e| format!("{e:#}"))?.is_some() {
            return Ok(format!("chat {name} is shared already\n"));
        }
        let sid = shared::new_id()?;
        st.set_chat_share(id, &sid)
            .map_err(|e| format!("state.db: {e:#}"))?;
        let n = self.mesh_chat_push(id, &sid)?;
        self.mesh_log(format!("shared chat {name} ({n} messages)"));
        Ok(format!(
            "chat {name} is shared with the team ({n} messages); what anyone adds to it syncs\n"
        ))
    }

    /// A chat session changed here (a message stored, renamed, regenerated): what is new goes
    /// to the team, if it is shared.
    pub(in crate::server) fn mesh_chat_changed(&mut self, session: i64) {
        let Some(sid) = self.mesh_chat_sid(session) else {
            return;
        };
        // The team's messages first, so that none of them is taken for one made here.
        if self.mesh.touched_chats.remove(&sid) {
            self.mesh_chat_apply(&sid);
        }
        if let Err(e) = self.mesh_chat_push(session, &sid) {
            tracing::error!("mesh: {e}");
            self.mesh.last_error = Some(e);
        }
    }

    /// A chat session here is to be deleted: if shared, it is deleted for the team too.
    pub(in crate::server) fn mesh_chat_deleting(&mut self, session: i64) {
        let Some(sid) = self.mesh_chat_sid(session) else {
            return;
        };
        if let Err(e) = self.mesh_write(vec![shared::delete(Kind::Chat, &sid)]) {
            self.mesh.last_error = Some(e);
        }
    }

    /// The team's id of chat session `session`, when it is shared and this device is in a team.
    fn mesh_chat_sid(&self, session: i64) -> Option<String> {
        if !self.mesh_sharing() {
            return None;
        }
        self.store
            .as_ref()
            .and_then(|st| st.chat_share(session).ok().flatten())
    }

    /// A shared message here was dropped (a regenerated answer): dropped for the team too.
    pub(in crate::server) fn mesh_chat_dropped(&mut self, rec: Option<String>) {
        let Some(rec) = rec else { return };
        if !self.mesh_sharing() {
            return;
        }
        if let Err(e) = self.mesh_write(vec![shared::delete(Kind::Chat, &rec)]) {
            self.mesh.last_error = Some(e);
        }
    }

    /// Every shared session's messages not yet handed to the team (a `fieldkit chat` while the
    /// server was down): when the mesh starts.
    pub(super) fn mesh_chats_catch_up(&mut self) {
        let shared = match self.store.as_ref().map(|st| st.shared_chats()) {
            Some(Ok(s)) => s,
            _ => return,
        };
        for (id, _, _, _) in shared {
            self.mesh_chat_changed(id);
        }
    }

    /// The session's name and prompt, and its messages without a team id, to the team. How
    /// many messages went.
    fn mesh_chat_push(&mut self, session: i64, sid: &str) -> Result<usize, String> {
        let st = self.store.as_ref().ok_or("state.db is not open")?;
        let r = self.mesh.replica.as_ref().ok_or("the mesh is not loaded")?;
        let chat = st
            .chat(session)
            .map_err(|e| format!("state.db: {e:#}"))?
            .ok_or("the chat session is gone")?;
        let msgs = st
            .message_shares(session)
            .map_err(|e| format!("state.db: {e:#}"))?;
        let mut changes = shared::chat_changes(r, sid, &chat.name, &chat.system);
        let mut marks = Vec::new();
        for (m, share, at) in msgs {
            if share.is_some() {
                continue;
            }
            let rec = shared::message_id(sid, &r.me, m.id);
            let msg = SharedMsg {
                record: rec.clone(),
                role: m.role.clone(),
                content: m.content.clone(),
                attachments: serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into()),
                meta: m.meta.clone(),
                // Seconds here; the row's id orders messages of one second.
                at: at * 1000 + m.id.rem_euclid(1000),
                deleted: false,
            };
            changes.extend(shared::message_changes(&rec, &msg));
            marks.push((m.id, rec));
        }
        self.mesh_write(changes)?;
        let st = self.store.as_ref().ok_or("state.db is not open")?;
        for (id, rec) in &marks {
            // Not marked: sent again next time under the same id, which changes nothing.
            if let Err(e) = st.set_message_share(*id, rec) {
                tracing::warn!("mesh: a shared message not marked in state.db: {e:#}");
            }
        }
        Ok(marks.len())
    }

    /// Brings shared session `sid` here up to the team's records, and shows it.
    pub(super) fn mesh_chat_apply(&mut self, sid: &str) {
        let (Some(r), Some(st)) = (&self.mesh.replica, &self.store) else {
            return;
        };
        // Messages before their session's record: applied when it comes.
        let Some(c) = shared::chat(r, sid) else {
            return;
        };
        let here = st.chat_by_share(sid).ok().flatten();
        if c.deleted {
            if let Some(id) = here {
                match st.delete_chat(id) {
                    Ok(()) => {
                        let line = format!("chat {} was deleted by the team", c.name);
                        self.mesh_log(line);
                    }
                    Err(e) => tracing::error!("mesh: a deleted chat not deleted here: {e:#}"),
                }
            }
            return;
        }
        let local: HashSet<String> = match here {
            Some(id) => st
                .message_shares(id)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(_, s, _)| s)
                .collect(),
            None => HashSet::new(),
        };
        let msgs = shared::messages(r, sid);
        let add: Vec<(String, StoredMsg, i64)> = msgs
            .iter()
            .filter(|m| !m.deleted && !local.contains(&m.record))
            .map(|m| {
                let mut s = StoredMsg::new(&m.role, &m.content, &m.meta);
                s.attachments = serde_json::from_str(&m.attachments).unwrap_or_default();
                (m.record.clone(), s, m.at.div_euclid(1000))
            })
            .collect();
        let remove: Vec<String> = msgs
            .iter()
            .filter(|m| m.deleted && local.contains(&m.record))
            .map(|m| m.record.clone())
            .collect();
        let renamed = here.is_none()
            || st
                .chat(here.unwrap_or_default())
                .ok()
                .flatten()
                .is_some_and(|s| s.name != c.name || s.system != c.system);
        if add.is_empty() && remove.is_empty() && !renamed {
            return;
        }
        match st.apply_shared_chat(sid, &c.name, &c.system, &add, &remove) {
            Ok(id) => {
                if here.is_none() {
                    self.mesh_log(format!("the team shared chat {}", c.name));
                }
                self.mesh_chat_show(id);
            }
            Err(e) => {
                let e = format!("a shared chat not written to state.db: {e:#}");
                tracing::error!("mesh: {e}");
                self.mesh.last_error = Some(e);
            }
        }
    }

    /// Chat panes showing session `id` are given it again.
    fn mesh_chat_show(&mut self, id: i64) {
        let Some(s) = self
            .store
            .as_ref()
            .and_then(|st| st.chat(id).ok().flatten())
        else {
            return;
        };
        let panes: Vec<(String, u64)> = self
            .sessions
            .iter()
            .flat_map(|(n, ws)| {
                ws.panes
                    .iter()
                    .filter(|(_, p)| p.kind() == fieldkit_panes::PaneKind::Chat)
                    .map(move |(pid, _)| (n.clone(), *pid))
            })
            .collect();
        for (name, pane) in panes {
            let ev = ChatEvent::Updated(s.clone());
            self.pane_call_id(&name, pane, |p, cx| {
                p.on_engine(fieldkit_panes::EngineEvent::Chat(ev), cx)
            });
            self.mark(&name);
        }
    }

    // ---- workflows ----

    /// The workflows folder was read: shared ones edited here go to the team.
    pub(in crate::server) fn mesh_workflows_changed(&mut self) {
        if !self.mesh_sharing() {
            return;
        }
        let dir = self.workflows_dir();
        let mine: Vec<(String, String)> = self
            .wf
            .defs
            .iter()
            .filter(|w| w.shared)
            .filter_map(|w| {
                std::fs::read_to_string(dir.join(&w.file))
                    .ok()
                    .map(|t| (w.name.clone(), t))
            })
            .collect();
        let mut changes = Vec::new();
        let mut known = Vec::new();
        for (name, text) in mine {
            let Some(s) = &self.mesh.store else { return };
            // Unchanged since this device last shared or approved it: a newer text from the
            // team waits for approval, and is not overwritten with this one.
            if s.workflow_known(&name).ok().flatten().as_deref() == Some(text.as_str()) {
                continue;
            }
            let Some(r) = &self.mesh.replica else { return };
            match shared::workflow_changes(r, &name, &text) {
                Ok(c) => {
                    if !c.is_empty() {
                        self.mesh_log(format!("shared workflow {name}"));
                    }
                    changes.extend(c);
                    known.push((name, text));
                }
                Err(e) => self.mesh_log(format!("not shared: {e}")),
            }
        }
        match self.mesh_write(changes) {
            Ok(()) => {
                if let Some(s) = &self.mesh.store {
                    for (name, text) in known {
                        if let Err(e) = s.set_workflow_known(&name, &text) {
                            tracing::warn!("mesh: {e:#}");
                        }
                    }
                }
            }
            Err(e) => self.mesh.last_error = Some(e),
        }
    }

    /// What a team's workflow is here: installed as the team has it, or waiting for approval.
    fn mesh_workflow_state(&self, w: &shared::SharedWorkflow) -> &'static str {
        if w.deleted {
            return "deleted by the team";
        }
        let dir = self.workflows_dir();
        match self.wf.defs.iter().find(|d| d.name == w.name) {
            Some(d) => match std::fs::read_to_string(dir.join(&d.file)) {
                Ok(t) if t == w.text => "installed",
                _ if !d.shared => "a workflow of this device has its name",
                _ => "changed by the team: waiting for approval",
            },
            None => "waiting for approval",
        }
    }

    /// `fieldkit mesh approve NAME`: the team's workflow is written into the workflows folder
    /// (and so runs as its triggers say).
    pub(super) fn mesh_approve(&mut self, name: &str) -> Result<String, String> {
        self.mesh_load()?;
        let r = self.mesh.replica.as_ref().ok_or("the mesh is not loaded")?;
        let w = shared::workflows(r)
            .into_iter()
            .find(|w| w.name == name)
            .ok_or_else(|| {
                format!("the team shares no workflow called {name:?} (fieldkit mesh shared)")
            })?;
        if w.deleted {
            return Err(format!("workflow {name} was deleted by the team"));
        }
        let by = w.by.map(|k| self.name_of(&k)).unwrap_or_default();
        let dir = self.workflows_dir();
        let file = match self.wf.defs.iter().find(|d| d.name == name) {
            Some(d) if !d.shared => {
                return Err(format!(
                    "{} here is a workflow called {name} that is not shared; rename it first",
                    d.file
                ))
            }
            Some(d) => dir.join(&d.file),
            None => dir.join(format!("{name}.toml")),
        };
        // What is approved must read as a workflow here, or it would not run.
        crate::engine::workflow::def::parse(&w.text, &format!("{name}.toml"), name).map_err(
            |errs| {
                format!(
                    "the team's {name} does not read here:\n{}",
                    errs.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        )?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = file.with_extension("toml.part");
        std::fs::write(&tmp, &w.text)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(s) = &self.mesh.store {
            s.set_workflow_known(name, &w.text)
                .map_err(|e| format!("{e:#}"))?;
        }
        self.mesh_log(format!("approved workflow {name} from {by}"));
        self.workflow_reload(false);
        Ok(format!(
            "approved {name} (last changed by {by}): written to {}\n",
            file.display()
        ))
    }

    // ---- the team vault ----

    /// The team vault key: in mesh.db until this device's vault takes it (a device without a
    /// vault keeps it there), then only in the vault, while unlocked.
    pub(super) fn team_vault_key(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        let team = self.mesh.team.as_ref()?;
        if team.vault_key.iter().any(|b| *b != 0) {
            return Some(team.vault_key.clone());
        }
        let want = hex(&team.founder);
        let u = self.vault.unlocked.as_ref()?;
        let k = u.entries.team_keys.iter().find(|k| k.team == want)?;
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(k.key.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }

    /// The team vault key moves from mesh.db into the unlocked vault, so the team's entries
    /// on this disk open only with this vault's passphrase.
    pub(super) fn mesh_vault_take_key(&mut self) {
        let Some(team) = &self.mesh.team else { return };
        if team.vault_key.iter().all(|b| *b == 0) || self.vault.unlocked.is_none() {
            return;
        }
        let want = hex(&team.founder);
        let key: String =
            crate::alloc::secret(|| team.vault_key.iter().map(|b| format!("{b:02x}")).collect());
        if let Some(u) = self.vault.unlocked.as_mut() {
            u.entries.team_keys.retain(|k| k.team != want);
            u.entries
                .team_keys
                .push(crate::engine::vault::entries::TeamKey { team: want, key });
        }
        let path = self.vault_path();
        if let Err(e) = self.vault_write(&path) {
            self.mesh.last_error = Some(format!("the team vault key stays in mesh.db: {e}"));
            return;
        }
        let zero = [0u8; 32];
        match self.mesh.store.as_ref().map(|s| s.set_vault_key(&zero)) {
            Some(Ok(())) => {
                if let Some(t) = &mut self.mesh.team {
                    t.vault_key = zeroize::Zeroizing::new(zero);
                }
                self.mesh_log("the team vault key moved into this device's vault".into());
            }
            // Both hold it: the next unlock tries again.
            Some(Err(e)) => {
                tracing::warn!("mesh: the team vault key not cleared from mesh.db: {e:#}")
            }
            None => {}
        }
    }

    fn in_team_folder(&self, e: &Entry) -> bool {
        let f = self.config.mesh.vault_folder.trim_matches('/');
        !f.is_empty() && (e.folder == f || e.folder.starts_with(&format!("{f}/")))
    }

    /// The vault was unlocked: every team entry the records hold goes into it.
    pub(in crate::server) fn mesh_vault_unlocked(&mut self) {
        self.mesh_vault_take_key();
        if !self.mesh_sharing() {
            return;
        }
        let all: BTreeSet<String> = self
            .mesh
            .replica
            .as_ref()
            .map(|r| r.records(Kind::Secret).into_iter().collect())
            .unwrap_or_default();
        self.mesh.touched_secrets = all;
        self.mesh_vault_apply();
        // Entries put in the team folder before this device joined go to the team too.
        self.mesh_vault_changed();
    }

    /// The vault was written here: team entries that changed go to the team, sealed.
    pub(in crate::server) fn mesh_vault_changed(&mut self) {
        if !self.mesh_sharing() || self.vault.unlocked.is_none() {
            return;
        }
        if !self.mesh.touched_secrets.is_empty() {
            self.mesh_vault_apply();
        }
        let Some(key) = self.team_vault_key() else {
            return;
        };
        // Entries new to the team folder get a team id (written into the vault first, so the
        // same entry is never shared under two).
        let mut named = false;
        if let Some(u) = self.vault.unlocked.as_mut() {
            let f = self.config.mesh.vault_folder.trim_matches('/').to_string();
            for e in &mut u.entries.entries {
                let team =
                    !f.is_empty() && (e.folder == f || e.folder.starts_with(&format!("{f}/")));
                if team && e.team_id.is_empty() {
                    match shared::new_id() {
                        Ok(id) => {
                            e.team_id = id;
                            named = true;
                        }
                        Err(err) => tracing::error!("mesh: {err}"),
                    }
                }
            }
        }
        if named {
            let path = self.vault_path();
            if let Err(e) = self.vault_write(&path) {
                self.mesh.last_error = Some(format!("team vault entries not shared: {e}"));
                return;
            }
        }
        let (Some(u), Some(r)) = (&self.vault.unlocked, &self.mesh.replica) else {
            return;
        };
        let mut changes = Vec::new();
        let mut now_here = HashSet::new();
        let mut failed = Vec::new();
        for e in u.entries.entries.iter().filter(|e| self.in_team_folder(e)) {
            if !shared::valid_id(&e.team_id) {
                continue;
            }
            now_here.insert(e.team_id.clone());
            let plain = crate::alloc::secret(|| {
                let mut copy = e.clone();
                // Files sealed beside the vault stay on the device that has them.
                copy.file = None;
                zeroize::Zeroizing::new(serde_json::to_vec(&copy).unwrap_or_default())
            });
            let theirs = shared::secret(r, &e.team_id);
            let same = match &theirs {
                Some(SharedSecret::Sealed(b)) => crate::alloc::secret(|| {
                    shared::open(&key, &e.team_id, b).is_ok_and(|p| *p == *plain)
                }),
                _ => false,
            };
            if same {
                continue;
            }
            match shared::seal(&key, &e.team_id, &plain) {
                Ok(b) => {
                    changes.extend(shared::secret_change(&e.team_id, b));
                    if theirs == Some(SharedSecret::Deleted) {
                        changes.push(items::Change {
                            kind: Kind::Secret,
                            record: e.team_id.clone(),
                            field: fieldkit_messages::mesh::DELETED.into(),
                            value: Value::Int(0),
                        });
                    }
                }
                Err(err) => failed.push(format!("{}: {err}", e.path())),
            }
        }
        // Seen in the team folder here before, and not now: deleted (or moved out) here.
        for gone in self.mesh.vault_ids.difference(&now_here) {
            if matches!(shared::secret(r, gone), Some(SharedSecret::Sealed(_))) {
                changes.push(shared::delete(Kind::Secret, gone));
            }
        }
        self.mesh.vault_ids = now_here;
        for f in failed {
            self.mesh_log(format!("a team vault entry not shared: {f}"));
        }
        if let Err(e) = self.mesh_write(changes) {
            self.mesh.last_error = Some(e);
        }
    }

    /// The team's vault entries that changed go into the vault, when it is unlocked (else they
    /// wait, sealed, in mesh.db until it is).
    pub(super) fn mesh_vault_apply(&mut self) {
        if self.vault.unlocked.is_none() {
            return;
        }
        let recs = std::mem::take(&mut self.mesh.touched_secrets);
        let Some(key) = self.team_vault_key() else {
            return;
        };
        let folder = self.config.mesh.vault_folder.trim_matches('/').to_string();
        let mut logs = Vec::new();
        let mut changed = false;
        if let (Some(r), Some(u)) = (&self.mesh.replica, self.vault.unlocked.as_mut()) {
            for rec in recs {
                let at = u.entries.entries.iter().position(|e| e.team_id == rec);
                match shared::secret(r, &rec) {
                    None => {}
                    Some(SharedSecret::Deleted) => {
                        let team = |e: &Entry| {
                            e.folder == folder || e.folder.starts_with(&format!("{folder}/"))
                        };
                        if let Some(i) = at.filter(|i| team(&u.entries.entries[*i])) {
                            let gone = u.entries.entries.remove(i);
                            logs.push(format!("team vault: {} deleted by the team", gone.path()));
                            changed = true;
                        }
                    }
                    Some(SharedSecret::Sealed(b)) => {
                        let got = crate::alloc::secret(|| {
                            shared::open(&key, &rec, &b).and_then(|p| {
                                serde_json::from_slice::<Entry>(&p)
                                    .map_err(|e| format!("it does not read as an entry ({e})"))
                            })
                        });
                        let mut e = match got {
                            Ok(e) if e.team_id == rec => e,
                            Ok(_) => {
                                logs.push(format!(
                                    "team vault entry {rec}: sealed for another record, refused"
                                ));
                                continue;
                            }
                            Err(err) => {
                                logs.push(format!("team vault entry {rec}: {err}"));
                                continue;
                            }
                        };
                        // A peer's entry lands in the team folder whatever it says.
                        if !(e.folder == folder || e.folder.starts_with(&format!("{folder}/"))) {
                            e.folder = folder.clone();
                        }
                        match at {
                            Some(i) => {
                                let old = &mut u.entries.entries[i];
                                e.file = old.file.take();
                                let mut mine = old.clone();
                                mine.file = None;
                                let mut theirs = e.clone();
                                theirs.file = None;
                                if mine != theirs {
                                    changed = true;
                                }
                                *old = e;
                            }
                            None => {
                                logs.push(format!("team vault: {} from the team", e.path()));
                                u.entries.entries.push(e);
                                changed = true;
                            }
                        }
                    }
                }
            }
        }
        for l in logs {
            self.mesh_log(l);
        }
        if changed {
            let path = self.vault_path();
            if let Err(e) = self.vault_write(&path) {
                let e = format!("the team's vault entries not written to the vault: {e}");
                tracing::error!("mesh: {e}");
                self.mesh.last_error = Some(e);
            }
            self.vault_broadcast();
        }
        if let Some(u) = &self.vault.unlocked {
            self.mesh.vault_ids = u
                .entries
                .entries
                .iter()
                .filter(|e| self.in_team_folder(e) && shared::valid_id(&e.team_id))
                .map(|e| e.team_id.clone())
                .collect();
        }
    }

    // ---- what is shared ----

    /// `fieldkit mesh shared`: the shared chats, the team's workflows and the team vault.
    pub(super) fn mesh_shared(&mut self) -> Result<String, String> {
        self.mesh_load()?;
        let r = self.mesh.replica.as_ref().ok_or("the mesh is not loaded")?;
        let chats: Vec<serde_json::Value> = self
            .store
            .as_ref()
            .and_then(|st| st.shared_chats().ok())
            .unwrap_or_default()
            .into_iter()
            .map(|(id, _, name, n)| {
                let last = self
                    .store
                    .as_ref()
                    .and_then(|st| st.chat(id).ok().flatten())
                    .and_then(|c| c.messages.last().map(|m| m.content.clone()))
                    .unwrap_or_default();
                serde_json::json!({ "name": name, "messages": n, "last": last })
            })
            .collect();
        let workflows: Vec<serde_json::Value> = shared::workflows(r)
            .iter()
            .map(|w| {
                serde_json::json!({
                    "name": w.name,
                    "by": w.by.map(|k| self.name_of(&k)).unwrap_or_default(),
                    "state": self.mesh_workflow_state(w),
                })
            })
            .collect();
        let recs = r.records(Kind::Secret);
        let live = recs
            .iter()
            .filter(|x| matches!(shared::secret(r, x), Some(SharedSecret::Sealed(_))))
            .count();
        let titles: Option<Vec<String>> = self.vault.unlocked.as_ref().map(|u| {
            let mut t: Vec<String> = u
                .entries
                .entries
                .iter()
                .filter(|e| self.in_team_folder(e))
                .map(|e| e.path())
                .collect();
            t.sort();
            t
        });
        Ok(json_line(&serde_json::json!({
            "chats": chats,
            "workflows": workflows,
            "vault": {
                "folder": self.config.mesh.vault_folder,
                "entries": live,
                "unlocked": titles.is_some(),
                "titles": titles.unwrap_or_default(),
            },
        })))
    }
}
