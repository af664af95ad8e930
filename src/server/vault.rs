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
use fieldkit_panes::vault::{EntryForm, EntrySummary, VaultEvent, VaultRequest};
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
    pub(super) entries: Entries,
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
    /// A pane showing an entry's TOTP code (session, pane, title), refreshed every second
    /// until this time.
    totp: Option<(String, u64, String, std::time::Instant)>,
    /// A passphrase from a pane is being tried.
    unlocking: bool,
}

/// A key-encryption key on its way from the thread that derived it; zeroed when dropped and
/// never printed.
pub struct Kek(pub [u8; 32]);

impl Drop for Kek {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

impl Server {
    /// What a vault pane is told, and what it makes of it (its list, its search text), is
    /// allocated in the locked, undumpable arena (`crate::alloc`).
    fn vault_tell(&mut self, name: &str, pane: u64, ev: VaultEvent) {
        crate::alloc::secret(|| {
            self.pane_call_id(name, pane, |p, cx| p.on_engine(EngineEvent::Vault(ev), cx))
        });
    }

    /// Puts `text` on the clipboard of `name`'s clients and clears it after `clip_seconds`.
    fn vault_copy(&mut self, name: &str, text: &str, what: &str) -> VaultEvent {
        self.clipboard(name, text);
        let secs = self.config.vault.clip_seconds;
        if secs > 0.0 {
            let at = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
            self.vault.clip = Some((name.to_string(), at));
            VaultEvent::Note(format!(
                "{what} copied; the clipboard is cleared in {secs} s"
            ))
        } else {
            VaultEvent::Note(format!("{what} copied to the clipboard"))
        }
    }

    /// A vault pane's request.
    pub(super) fn vault_request(&mut self, name: &str, pane: u64, req: VaultRequest) {
        self.vault_expire();
        if let Some(u) = self.vault.unlocked.as_mut() {
            u.last_use = std::time::SystemTime::now();
        }
        match req {
            VaultRequest::Watch => {
                let ev = self.vault_view();
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Field {
                title,
                field,
                to_clipboard,
            } => {
                let value = self.vault.unlocked.as_ref().map(|u| {
                    u.entries
                        .find(&title)
                        .ok_or_else(|| format!("no entry titled {title:?}"))
                        .and_then(|e| e.field(&field))
                });
                let ev = match value {
                    None => VaultEvent::Note("the vault is locked".into()),
                    Some(Err(e)) => VaultEvent::Note(e),
                    Some(Ok(v)) if to_clipboard => {
                        self.vault_copy(name, &v, &format!("{field} of {title}"))
                    }
                    Some(Ok(v)) => {
                        let secs = self.config.vault.clip_seconds;
                        if secs > 0.0 {
                            let at = std::time::Instant::now()
                                + std::time::Duration::from_secs_f64(secs);
                            self.vault.reveal = Some((name.to_string(), pane, at));
                        }
                        VaultEvent::Revealed {
                            title,
                            field,
                            value: v.to_string(),
                        }
                    }
                };
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Unlock { mut passphrase } => {
                let ev = self.vault_start_unlock(name, pane, &passphrase);
                zeroize::Zeroize::zeroize(&mut passphrase);
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Save { original, form } => {
                let cmd = form_command(original, &form);
                let ev = match self.vault_command(cmd) {
                    Ok(done) => VaultEvent::Saved(done.trim_end().to_string()),
                    Err(e) => VaultEvent::Refused(e),
                };
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Delete { title } => {
                let ev = match self.vault_command(VaultCommand::Rm { title }) {
                    Ok(done) => VaultEvent::Saved(done.trim_end().to_string()),
                    Err(e) => VaultEvent::Note(e),
                };
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Generate(spec) => {
                use crate::engine::vault::generate;
                let made = match spec.words {
                    Some(n) => {
                        generate::passphrase(n, "-").map(|v| (v, generate::bits_passphrase(n)))
                    }
                    None => {
                        let c = generate::Classes {
                            lower: spec.lower,
                            upper: spec.upper,
                            digits: spec.digits,
                            symbols: spec.symbols,
                        };
                        generate::password(spec.length, c)
                            .map(|v| (v, generate::bits_password(spec.length, c)))
                    }
                };
                let ev = match made {
                    Ok((v, bits)) => VaultEvent::Generated {
                        value: v.to_string(),
                        bits,
                    },
                    Err(e) => VaultEvent::Note(e),
                };
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Copy { mut text } => {
                let ev = self.vault_copy(name, &text, "the generated password");
                zeroize::Zeroize::zeroize(&mut text);
                self.vault_tell(name, pane, ev);
            }
            VaultRequest::Totp { title } => {
                let secs = self.config.vault.clip_seconds.max(30.0);
                let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
                self.vault.totp = Some((name.to_string(), pane, title, until));
                self.vault_totp_tick();
            }
        }
    }

    /// Starts trying a passphrase from a pane on a thread of its own; what the pane shows
    /// meanwhile.
    fn vault_start_unlock(&mut self, name: &str, pane: u64, passphrase: &str) -> VaultEvent {
        if self.vault.unlocked.is_some() {
            return VaultEvent::Note("the vault is unlocked already".into());
        }
        if self.vault.unlocking {
            // One derivation at a time: guessing in parallel must not load the machine.
            return VaultEvent::UnlockFailed("a passphrase is being tried already".into());
        }
        if passphrase.len() > 4096 {
            return VaultEvent::UnlockFailed("a passphrase of over 4096 bytes: refused".into());
        }
        let path = self.vault_path();
        let bytes = match file::read(&path) {
            Ok((b, _)) => b,
            Err(e) => {
                return VaultEvent::UnlockFailed(format!(
                    "no vault at {} ({e}): fieldkit vault init",
                    path.display()
                ))
            }
        };
        let tx = self.events.clone();
        let pass = zeroize::Zeroizing::new(passphrase.to_string());
        let (session, started) = (name.to_string(), std::time::Instant::now());
        let spawned = std::thread::Builder::new()
            .name("vault-kdf".into())
            .spawn(move || {
                let result = match format::unlock(&bytes, pass.as_bytes()) {
                    Ok(o) => Ok((o.slot, Box::new(Kek(o.kek())))),
                    Err(e) => {
                        // A wrong guess costs the guesser time, not the machine: this thread
                        // sleeps, the loop goes on.
                        let floor = std::time::Duration::from_millis(1500);
                        std::thread::sleep(floor.saturating_sub(started.elapsed()));
                        Err(e.to_string())
                    }
                };
                drop(pass);
                let _ = tx.send(Ev::VaultKey {
                    session,
                    pane,
                    result,
                });
            });
        match spawned {
            Ok(_) => {
                self.vault.unlocking = true;
                VaultEvent::Unlocking
            }
            Err(e) => VaultEvent::UnlockFailed(format!("cannot start the key derivation: {e}")),
        }
    }

    /// A pane's passphrase was tried.
    pub(super) fn vault_key(
        &mut self,
        name: &str,
        pane: u64,
        result: Result<(u8, Box<Kek>), String>,
    ) {
        self.vault.unlocking = false;
        let failed = match result {
            Ok((slot, kek)) => self
                .vault_command(VaultCommand::Unlock { slot, kek: kek.0 })
                .err(),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            tracing::info!("vault: a passphrase from a pane did not open it");
            self.vault_tell(name, pane, VaultEvent::UnlockFailed(e));
        }
    }

    /// Sends the watched TOTP code (every second while shown), or hides it when its time is up.
    fn vault_totp_tick(&mut self) {
        let Some((name, pane, title, until)) = self.vault.totp.clone() else {
            return;
        };
        let code = self.vault.unlocked.as_ref().and_then(|u| {
            let e = u.entries.find(&title)?;
            crate::engine::vault::totp::Totp::parse(&e.totp)
                .ok()
                .map(|t| t.now())
        });
        match code {
            Some(c) if std::time::Instant::now() < until => self.vault_tell(
                &name,
                pane,
                VaultEvent::Totp {
                    title,
                    code: c.code,
                    left: c.seconds_left,
                    period: c.period,
                },
            ),
            _ => {
                self.vault.totp = None;
                self.vault_tell(&name, pane, VaultEvent::Hide);
            }
        }
    }

    /// What vault panes show: the entries without their secrets, or that it is locked.
    fn vault_view(&self) -> VaultEvent {
        match &self.vault.unlocked {
            None => VaultEvent::Locked,
            Some(u) => crate::alloc::secret(|| {
                VaultEvent::Entries(u.entries.entries.iter().map(summary).collect())
            }),
        }
    }

    /// Every vault pane is told what changed (an unlock, a lock, an entry).
    pub(super) fn vault_broadcast(&mut self) {
        for (name, id) in self.panes_needing(fieldkit_panes::Engine::Vault) {
            let ev = self.vault_view();
            self.vault_tell(&name, id, ev);
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
        // A TOTP code on screen is refreshed just after the next whole second.
        let totp = self.vault.totp.as_ref().map(|_| {
            let into = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            now + std::time::Duration::from_nanos(1_000_000_000 - into as u64 + 1_000_000)
        });
        let clip = [
            self.vault.clip.as_ref().map(|(_, at)| *at),
            self.vault.reveal.as_ref().map(|(_, _, at)| *at),
            totp,
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
        self.vault_totp_tick();
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
        self.vault.totp = None;
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
        // Entries read, added or changed are made in the locked, undumpable arena.
        let out = crate::alloc::secret(|| self.vault_command_inner(cmd));
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
                let mut opened = Opened::with_kek(&bytes, slot, kek).map_err(|e| e.to_string())?;
                let entries = Entries::from_plaintext(&opened.plaintext)?;
                // The entries are what is kept; the JSON they came from goes (zeroized).
                opened.plaintext = zeroize::Zeroizing::new(Vec::new());
                let n = entries.entries.len();
                self.vault.unlocked = Some(Unlocked {
                    opened,
                    entries,
                    bytes,
                    last_use: std::time::SystemTime::now(),
                });
                tracing::info!("vault unlocked");
                // What the team changed while the vault was locked goes in now.
                self.mesh_vault_unlocked();
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
                // One newline at the end, whatever the value ends with (a history list).
                Ok(format!("{}\n", v.trim_end_matches('\n')))
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
                // A copy made here is in the arena; the one from the socket is zeroed as freed.
                u.entries.entries.push(Entry::clone(&entry));
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
                for e in entries {
                    let mut e = e.clone();
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
                let attachment = attachment.clone();
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

    /// The variables of `open term --env NAME=vault:ENTRY/FIELD ...`, from the unlocked vault.
    pub(super) fn vault_env(
        &mut self,
        specs: &[String],
    ) -> Result<Vec<(String, zeroize::Zeroizing<String>)>, String> {
        self.vault_expire();
        let u = self.unlocked()?;
        let mut out = Vec::new();
        for spec in specs {
            let (name, reference) = spec
                .split_once('=')
                .ok_or_else(|| format!("--env {spec:?}: NAME=vault:ENTRY/FIELD"))?;
            let (title, field) = reference
                .strip_prefix("vault:")
                .and_then(|r| r.rsplit_once('/'))
                .ok_or_else(|| {
                    format!("--env {name}: vault:ENTRY/FIELD, e.g. vault:Database/password")
                })?;
            if name.contains(['\0', ' ']) {
                return Err(format!("--env {name:?}: not a variable name"));
            }
            let e = u
                .entries
                .find(title)
                .ok_or_else(|| format!("--env {name}: no entry titled {title:?}"))?;
            out.push((
                name.to_string(),
                e.field(field).map_err(|e| format!("--env {name}: {e}"))?,
            ));
        }
        if let Some(u) = self.vault.unlocked.as_mut() {
            u.last_use = std::time::SystemTime::now();
        }
        Ok(out)
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

    /// Seals the entries and writes the file; on failure the change stays in memory. Entries
    /// of the team folder go to the team once written.
    fn vault_save(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.vault_write(path)?;
        self.mesh_vault_changed();
        Ok(())
    }

    /// Seals the entries and writes the file, and nothing else (the mesh's own writes).
    pub(super) fn vault_write(&mut self, path: &std::path::Path) -> Result<(), String> {
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

/// An entry as a pane lists it: no password, TOTP secret or secret field value.
fn summary(e: &Entry) -> EntrySummary {
    EntrySummary {
        title: e.title.clone(),
        folder: e.folder.clone(),
        user: e.user.clone(),
        url: e.url.clone(),
        kind: e.kind.name().into(),
        tags: e.tags.clone(),
        has_password: !e.password.is_empty(),
        has_totp: !e.totp.is_empty(),
        note: e.note.clone(),
        fields: e
            .fields
            .iter()
            .map(|f| (f.name.clone(), (!f.secret).then(|| f.value.clone())))
            .collect(),
        file: e.file.as_ref().map(|f| (f.name.clone(), f.size)),
        history: e.history.len(),
        updated: crate::engine::vault::entries::utc(e.updated),
    }
}

/// The command a pane's form makes: a new entry, or the changes to `original`.
fn form_command(original: Option<String>, form: &EntryForm) -> VaultCommand {
    let tags: Vec<String> = form
        .tags
        .split(',')
        .map(|t| t.trim().trim_start_matches('#').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    match original {
        None => {
            let mut e = Entry::titled(form.title.trim());
            e.folder = form.folder.trim().to_string();
            e.tags = tags;
            e.user = form.user.clone();
            e.url = form.url.clone();
            e.note = form.note.clone();
            e.password = form.password.clone().unwrap_or_default();
            e.totp = form.totp.clone().unwrap_or_default();
            VaultCommand::Add { entry: Box::new(e) }
        }
        Some(title) => VaultCommand::Edit {
            title,
            edit: Box::new(crate::engine::vault::entries::Edit {
                title: Some(form.title.trim().to_string()),
                folder: Some(form.folder.trim().to_string()),
                tags: Some(tags),
                user: Some(form.user.clone()),
                url: Some(form.url.clone()),
                note: Some(form.note.clone()),
                password: form.password.clone(),
                totp: form.totp.clone(),
                ..Default::default()
            }),
        },
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
