/*!
The vault's service: the one unlocked vault, held in the server's memory for as long as it is
unlocked (one unlock serves every session, as ssh-agent does), and the commands of `fieldkit
vault`. Every change is sealed and written at once (atomically, the previous generation kept);
a write that fails keeps the change in memory and says so. Locking drops the keys and entries,
which zeroize themselves.
*/

use super::*;
use crate::engine::vault::entries::{now, Entries, Entry};
use crate::engine::vault::{file, format, Opened};
use crate::protocol::VaultCommand;
use fieldkit_panes::vault::{EntrySummary, VaultEvent, VaultRequest};
use services::ServiceSpec;

pub(super) const SERVICE: ServiceSpec = ServiceSpec {
    engine: Some(fieldkit_panes::Engine::Vault),
    worker: None,
    opened: services::nothing_opened,
    frame: services::no_frames,
    lost: services::nothing_lost,
    save: |srv, finally| {
        if finally {
            srv.vault.unlocked = None;
        }
    },
};

/// The vault while unlocked.
pub(super) struct Unlocked {
    opened: Opened,
    entries: Entries,
    /// The file as last written (or read): a save reseals this.
    bytes: Vec<u8>,
    /// When it was last used, on the wall clock (a suspended machine's monotonic clock stops).
    last_use: std::time::SystemTime,
}

#[derive(Default)]
pub(super) struct Vault {
    pub(super) unlocked: Option<Unlocked>,
    /// A secret put on the clipboard of this session's clients, to clear at this time.
    clip: Option<(String, std::time::Instant)>,
    /// A pane showing a revealed secret (session, pane), to mask again at this time.
    reveal: Option<(String, u64, std::time::Instant)>,
}

impl Server {
    /// A vault pane's request.
    pub(super) fn vault_request(&mut self, name: &str, pane: u64, req: VaultRequest) {
        self.vault_expire();
        match req {
            VaultRequest::Watch => {
                let ev = self.vault_view();
                self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Vault(ev), cx));
            }
            VaultRequest::Field {
                title,
                field,
                to_clipboard,
            } => {
                let value = self.vault.unlocked.as_mut().and_then(|u| {
                    u.last_use = std::time::SystemTime::now();
                    u.entries
                        .find(&title)
                        .and_then(|e| e.field(&field).ok())
                        .map(|v| v.to_string())
                });
                let ev = match value {
                    None => {
                        VaultEvent::Note(format!("no {field} for {title:?} (or the vault locked)"))
                    }
                    Some(v) if to_clipboard => {
                        self.clipboard(name, &v);
                        let secs = self.config.vault.clip_seconds;
                        if secs > 0.0 {
                            let at = std::time::Instant::now()
                                + std::time::Duration::from_secs_f64(secs);
                            self.vault.clip = Some((name.to_string(), at));
                            VaultEvent::Note(format!(
                                "{field} of {title} copied; the clipboard is cleared in {secs} s"
                            ))
                        } else {
                            VaultEvent::Note(format!("{field} of {title} copied to the clipboard"))
                        }
                    }
                    Some(v) => {
                        let secs = self.config.vault.clip_seconds;
                        if secs > 0.0 {
                            let at = std::time::Instant::now()
                                + std::time::Duration::from_secs_f64(secs);
                            self.vault.reveal = Some((name.to_string(), pane, at));
                        }
                        VaultEvent::Revealed { title, value: v }
                    }
                };
                self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Vault(ev), cx));
            }
        }
    }

    /// What vault panes show: the titles, folders, users and URLs, or that it is locked.
    fn vault_view(&self) -> VaultEvent {
        match &self.vault.unlocked {
            None => VaultEvent::Locked,
            Some(u) => VaultEvent::Entries(
                u.entries
                    .entries
                    .iter()
                    .map(|e| EntrySummary {
                        title: e.title.clone(),
                        folder: e.folder.clone(),
                        user: e.user.clone(),
                        url: e.url.clone(),
                    })
                    .collect(),
            ),
        }
    }

    /// Every vault pane is told what changed (an unlock, a lock, an entry).
    pub(super) fn vault_broadcast(&mut self) {
        for (name, id) in self.panes_needing(fieldkit_panes::Engine::Vault) {
            let ev = self.vault_view();
            self.pane_call_id(&name, id, |p, cx| p.on_engine(EngineEvent::Vault(ev), cx));
        }
    }

    /// The vault's row on the status pane: locked or unlocked, the time to the idle lock, and
    /// the file's key derivation.
    pub(super) fn vault_row(&self) -> EngineRow {
        let path = self.vault_path();
        let (state, detail) = match (&self.vault.unlocked, self.vault_lock_in()) {
            (Some(u), left) => {
                let k = u.opened.kdf;
                let lock = match left {
                    Some(d) => format!(" · locks in {}", fieldkit_panes::status::format_uptime(d)),
                    None => String::new(),
                };
                (
                    EngineState::Said {
                        label: "unlocked".into(),
                        active: true,
                    },
                    format!(
                        "{} entries{lock} · Argon2id {} MiB, {} passes",
                        u.entries.entries.len(),
                        k.memory_kib / 1024,
                        k.passes
                    ),
                )
            }
            (None, _) => (
                EngineState::Said {
                    label: "locked".into(),
                    active: false,
                },
                match describe(&path) {
                    Ok(d) => d
                        .split_once(": ")
                        .map(|(_, rest)| rest.to_string())
                        .unwrap_or(d),
                    Err(_) => "no vault yet (fieldkit vault init)".into(),
                },
            ),
        };
        EngineRow {
            name: "vault".into(),
            state,
            pid: None,
            restarts: 0,
            detail,
        }
    }

    pub(super) fn vault_path(&self) -> std::path::PathBuf {
        self.dirs.data.join("vault.fk")
    }

    /// How long the vault may stay unlocked without use (`None`: forever).
    fn vault_idle_limit(&self) -> Option<std::time::Duration> {
        let m = self.config.vault.lock_after_minutes;
        (m > 0.0).then(|| std::time::Duration::from_secs_f64(m * 60.0))
    }

    /// Locks the vault if it sat unused past its limit, on the wall clock. Called before every
    /// use and when the idle timer fires.
    pub(super) fn vault_expire(&mut self) {
        let (Some(limit), Some(u)) = (self.vault_idle_limit(), &self.vault.unlocked) else {
            return;
        };
        let idle = u.last_use.elapsed().unwrap_or(std::time::Duration::MAX);
        if idle >= limit {
            self.vault.unlocked = None;
            tracing::info!("vault locked after {} s idle", idle.as_secs());
            self.vault_broadcast();
        }
    }

    /// With `lock_on_detach`, locks the vault once no client is attached to any session.
    pub(super) fn vault_lock_if_unattended(&mut self) {
        let attached = self.clients.values().any(|c| c.session.is_some());
        if self.config.vault.lock_on_detach && !attached && self.vault.unlocked.is_some() {
            self.vault.unlocked = None;
            tracing::info!("vault locked: the last client detached");
            self.vault_broadcast();
        }
    }

    /// When the vault next has something to do by itself (lock, clear the clipboard), for the
    /// loop's one-shot timer.
    pub(super) fn vault_next(&self) -> Option<std::time::Duration> {
        let now = std::time::Instant::now();
        let clip = [
            self.vault.clip.as_ref().map(|(_, at)| *at),
            self.vault.reveal.as_ref().map(|(_, _, at)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now));
        match (self.vault_lock_in(), clip) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What the vault's timer is for: the idle lock, and clearing a copied secret (with an
    /// empty OSC 52 clipboard write to every client of the session it was copied in).
    pub(super) fn vault_tick(&mut self) {
        self.vault_expire();
        let due = self
            .vault
            .clip
            .as_ref()
            .is_some_and(|(_, at)| *at <= std::time::Instant::now());
        if due {
            if let Some((name, _)) = self.vault.clip.take() {
                self.clipboard(&name, "");
                tracing::info!("clipboard cleared after a copy from the vault");
            }
        }
        let hide = self
            .vault
            .reveal
            .as_ref()
            .is_some_and(|(_, _, at)| *at <= std::time::Instant::now());
        if hide {
            if let Some((name, pane, _)) = self.vault.reveal.take() {
                self.pane_call_id(&name, pane, |p, cx| {
                    p.on_engine(EngineEvent::Vault(VaultEvent::Hide), cx)
                });
            }
        }
    }

    /// Panic: no clipboard to clear later (it is cleared now), no secret shown to hide.
    pub(super) fn vault_forget_timers(&mut self) {
        self.vault.clip = None;
        self.vault.reveal = None;
    }

    /// Time until the vault locks itself.
    pub(super) fn vault_lock_in(&self) -> Option<std::time::Duration> {
        let limit = self.vault_idle_limit()?;
        let u = self.vault.unlocked.as_ref()?;
        let idle = u.last_use.elapsed().unwrap_or(std::time::Duration::MAX);
        Some(limit.saturating_sub(idle))
    }

    pub(super) fn vault_command(&mut self, cmd: VaultCommand) -> Result<String, String> {
        let changes = !matches!(
            cmd,
            VaultCommand::Get { .. } | VaultCommand::Ls | VaultCommand::Status
        );
        let out = self.vault_command_inner(cmd);
        if changes {
            self.vault_broadcast();
        }
        out
    }

    fn vault_command_inner(&mut self, cmd: VaultCommand) -> Result<String, String> {
        let path = self.vault_path();
        self.vault_expire();
        if let Some(u) = self.vault.unlocked.as_mut() {
            u.last_use = std::time::SystemTime::now();
        }
        match cmd {
            VaultCommand::Unlock { slot, kek } => {
                let (bytes, _) = file::read(&path).map_err(|e| {
                    format!("no vault at {} ({e}): fieldkit vault init", path.display())
                })?;
                let opened = Opened::with_kek(&bytes, slot, kek).map_err(|e| e.to_string())?;
                let entries = Entries::from_plaintext(&opened.plaintext)?;
                let n = entries.entries.len();
                self.vault.unlocked = Some(Unlocked {
                    opened,
                    entries,
                    bytes,
                    last_use: std::time::SystemTime::now(),
                });
                tracing::info!("vault unlocked");
                Ok(format!("unlocked: {n} entries\n"))
            }
            VaultCommand::Lock => {
                let was = self.vault.unlocked.take().is_some();
                tracing::info!("vault locked");
                Ok(if was { "locked\n" } else { "already locked\n" }.into())
            }
            VaultCommand::Status => {
                let state = match (&self.vault.unlocked, self.vault_lock_in()) {
                    (Some(u), Some(left)) => format!(
                        "unlocked, {} entries, locks after {} s without use",
                        u.entries.entries.len(),
                        left.as_secs()
                    ),
                    (Some(u), None) => format!("unlocked, {} entries", u.entries.entries.len()),
                    (None, _) => "locked".into(),
                };
                Ok(format!("{state}\n"))
            }
            VaultCommand::Ls => {
                let u = self.unlocked()?;
                let mut titles: Vec<String> = u
                    .entries
                    .entries
                    .iter()
                    .map(|e| {
                        if e.folder.is_empty() {
                            e.title.clone()
                        } else {
                            format!("{}/{}", e.folder, e.title)
                        }
                    })
                    .collect();
                titles.sort();
                Ok(titles.into_iter().map(|t| t + "\n").collect())
            }
            VaultCommand::Get { title, field } => {
                let u = self.unlocked()?;
                let e = u
                    .entries
                    .find(&title)
                    .ok_or_else(|| format!("no entry titled {title:?} (fieldkit vault ls)"))?;
                let v = e.field(&field)?;
                Ok(format!("{}\n", v.as_str()))
            }
            VaultCommand::Add { mut entry } => {
                if entry.title.trim().is_empty() {
                    return Err("an entry needs a title".into());
                }
                if !entry.totp.is_empty() {
                    crate::engine::vault::totp::Totp::parse(&entry.totp)
                        .map_err(|e| format!("the TOTP secret: {e}"))?;
                }
                let u = self.unlocked_mut()?;
                if u.entries.find(&entry.title).is_some() {
                    return Err(format!(
                        "there is an entry titled {:?} already",
                        entry.title
                    ));
                }
                entry.updated = now();
                let title = entry.title.clone();
                u.entries.entries.push(entry);
                self.vault_save(&path)?;
                Ok(format!("added {title}\n"))
            }
            VaultCommand::Edit { title, edit } => {
                edit.check()?;
                let u = self.unlocked_mut()?;
                let i = u
                    .entries
                    .position(&title)
                    .ok_or_else(|| format!("no entry titled {title:?}"))?;
                if let Some(new) = edit.title.as_deref() {
                    if u.entries.position(new).is_some_and(|j| j != i) {
                        return Err(format!("there is an entry titled {new:?} already"));
                    }
                }
                edit.apply(&mut u.entries.entries[i]);
                let now_titled = u.entries.entries[i].path();
                self.vault_save(&path)?;
                Ok(format!("changed {now_titled}\n"))
            }
            VaultCommand::Import { entries } => {
                let u = self.unlocked_mut()?;
                let (mut added, mut skipped) = (0, Vec::new());
                for mut e in entries {
                    if u.entries.find(&e.title).is_some() {
                        skipped.push(e.title.clone());
                        continue;
                    }
                    e.updated = now();
                    u.entries.entries.push(e);
                    added += 1;
                }
                self.vault_save(&path)?;
                let mut out = format!("imported {added} entries\n");
                if !skipped.is_empty() {
                    out.push_str(&format!(
                        "kept the vault's own for {} titles it had already: {}\n",
                        skipped.len(),
                        skipped.join(", ")
                    ));
                }
                Ok(out)
            }
            VaultCommand::Rm { title } => {
                let u = self.unlocked_mut()?;
                let i = u
                    .entries
                    .position(&title)
                    .ok_or_else(|| format!("no entry titled {title:?}"))?;
                let gone = u.entries.entries.remove(i);
                if let Err(e) = self.vault_save(&path) {
                    // Not saved: the entry stays, as on disk.
                    if let Some(u) = self.vault.unlocked.as_mut() {
                        u.entries.entries.insert(i, gone);
                    }
                    return Err(e);
                }
                if let Some(f) = &gone.file {
                    self.vault_forget_file(&f.id);
                }
                Ok(format!("removed {}\n", gone.path()))
            }
            VaultCommand::Attach { title, attachment } => {
                let u = self.unlocked_mut()?;
                let name = attachment.name.clone();
                let old = match u.entries.find_mut(&title) {
                    Some(e) => {
                        e.updated = now();
                        e.file.replace(attachment)
                    }
                    None => {
                        let mut e = Entry::titled(&title);
                        e.kind = crate::engine::vault::entries::Kind::File;
                        e.file = Some(attachment);
                        u.entries.entries.push(e);
                        None
                    }
                };
                self.vault_save(&path)?;
                if let Some(f) = old {
                    self.vault_forget_file(&f.id);
                }
                Ok(format!("{name} sealed into {title}\n"))
            }
            VaultCommand::FileKey { title } => {
                let u = self.unlocked()?;
                let e = u
                    .entries
                    .find(&title)
                    .ok_or_else(|| format!("no entry titled {title:?}"))?;
                let f = e
                    .file
                    .as_ref()
                    .ok_or_else(|| format!("{title:?} holds no file"))?;
                Ok(format!("{}\t{}\t{}\t{}\n", f.id, f.key, f.size, f.name))
            }
            VaultCommand::Dump => {
                let u = self.unlocked()?;
                let p = u.entries.to_plaintext();
                Ok(String::from_utf8_lossy(&p).into_owned())
            }
        }
    }

    /// Deletes a sealed file no entry names any more (after the save that dropped it).
    fn vault_forget_file(&self, id: &str) {
        let p = crate::engine::vault::attach::path_of(&self.vault_files(), id);
        if let Err(e) = std::fs::remove_file(&p) {
            tracing::warn!("could not delete the sealed file {}: {e}", p.display());
        }
    }

    /// Where files sealed beside the vault live.
    pub(super) fn vault_files(&self) -> std::path::PathBuf {
        self.dirs.data.join("vault-files")
    }

    fn unlocked(&self) -> Result<&Unlocked, String> {
        self.vault
            .unlocked
            .as_ref()
            .ok_or_else(|| "the vault is locked: fieldkit vault unlock".to_string())
    }

    fn unlocked_mut(&mut self) -> Result<&mut Unlocked, String> {
        self.vault
            .unlocked
            .as_mut()
            .ok_or_else(|| "the vault is locked: fieldkit vault unlock".to_string())
    }

    /// Seals the entries and writes the file; on failure the change stays in memory.
    fn vault_save(&mut self, path: &std::path::Path) -> Result<(), String> {
        let u = self.unlocked_mut()?;
        let plain = u.entries.to_plaintext();
        let sealed = u
            .opened
            .reseal(&u.bytes, &plain)
            .map_err(|e| e.to_string())?;
        file::save(path, &sealed, Some(&u.opened)).map_err(|e| e.to_string())?;
        u.bytes = sealed;
        Ok(())
    }
}

/// The KDF parameters of the vault at `path`, for `vault status` without the server.
pub fn describe(path: &std::path::Path) -> Result<String, String> {
    let (bytes, from_backup) =
        file::read(path).map_err(|e| format!("no vault at {} ({e})", path.display()))?;
    let k = format::kdf_of(&bytes).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}{}: {} bytes, Argon2id {} MiB, {} passes, {} lanes",
        path.display(),
        if from_backup { " (its backup)" } else { "" },
        bytes.len(),
        k.memory_kib / 1024,
        k.passes,
        k.lanes
    ))
}
