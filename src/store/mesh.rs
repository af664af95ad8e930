/*!
What the mesh keeps on this device: its key (`mesh.key`, 0600: the device's identity, a seed of
32 bytes, never in a database that might be copied whole), and mesh.db: the team it is in (its
founder, the team key that wraps every connection, and the team vault key), every change it
holds (the replica, reloaded whole at start: changes are small and a team's are thousands, not
millions), the open invites, where peers were last reached, and a log of what sync did.

A device that has never paired founds a team of its own the first time the mesh is used: it is
that team's admin, and may invite others into it. Joining another team replaces it, which is
refused once the team has changes from other devices (nothing of a team is dropped silently).
*/

use crate::engine::mesh::pair::Invite;
use crate::engine::mesh::replica::{Replica, Role};
use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use fieldkit_messages::mesh::{DeviceKey, Op};
use rusqlite::{params, Connection, OptionalExtension};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Lines of the sync log kept.
pub const LOG_LINES: i64 = 1_000;

/// The team this device is in.
#[derive(Clone, PartialEq, Eq)]
pub struct Team {
    pub founder: DeviceKey,
    /// The pre-shared key every connection is wrapped in (libp2p pnet).
    pub team_key: Zeroizing<[u8; 32]>,
    /// Seals the team vault's entries end to end.
    pub vault_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Team")
            .field("founder", &crate::engine::mesh::id::short_id(&self.founder))
            .finish_non_exhaustive()
    }
}

/// The device's key: read from `path`, or made and written there (0600) when there is none.
/// A key file others may read is refused: whoever reads it can act as this device.
pub fn device_key(path: &Path) -> Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "{} may be read by others (mode {:o}): chmod 600 it, or delete it to make \
                     this a new device",
                    path.display(),
                    mode & 0o777
                );
            }
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a device key (32 bytes; it has {})",
                    path.display(),
                    bytes.len()
                )
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::engine::mesh::op::new_key()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            std::io::Write::write_all(&mut f, key.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A peer as last reached: its key, addresses, when last seen and last synced (ms).
pub type Peer = (DeviceKey, String, Option<u64>, Option<u64>);

pub struct MeshStore {
    db: Connection,
    pub path: PathBuf,
}

fn random32() -> Result<Zeroizing<[u8; 32]>> {
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::fill(k.as_mut()).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(k)
}

fn key32(v: Vec<u8>, what: &str) -> Result<[u8; 32]> {
    v.as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("mesh.db holds a {what} of {} bytes", v.len()))
}

impl MeshStore {
    pub fn open(path: &Path) -> Result<MeshStore> {
        let db = super::open_wal(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS team (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 founder BLOB NOT NULL,
                 team_key BLOB NOT NULL,
                 vault_key BLOB NOT NULL,
                 at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS ops (
                 origin BLOB NOT NULL,
                 seq INTEGER NOT NULL,
                 op BLOB NOT NULL,
                 PRIMARY KEY (origin, seq)
             );
             CREATE TABLE IF NOT EXISTS invites (
                 code TEXT PRIMARY KEY,
                 role TEXT NOT NULL,
                 expires INTEGER NOT NULL,
                 used INTEGER NOT NULL DEFAULT 0
             );
             CREATE TABLE IF NOT EXISTS peers (
                 key BLOB PRIMARY KEY,
                 addrs TEXT NOT NULL DEFAULT '',
                 last_seen INTEGER,
                 last_sync INTEGER
             );
             CREATE TABLE IF NOT EXISTS log (
                 id INTEGER PRIMARY KEY,
                 at INTEGER NOT NULL,
                 line TEXT NOT NULL
             );
             -- The text of each shared workflow as this device last shared or approved it, so
             -- a file edited here is told from a file the team changed since.
             CREATE TABLE IF NOT EXISTS workflows (
                 name TEXT PRIMARY KEY,
                 text TEXT NOT NULL
             );",
        )?;
        Ok(MeshStore {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The team this device is in; one of its own (this device its founder) if it has none.
    pub fn team(&self, me: &DeviceKey, now_ms: u64) -> Result<Team> {
        if let Some(t) = self.team_if_any()? {
            return Ok(t);
        }
        let t = Team {
            founder: *me,
            team_key: random32()?,
            vault_key: random32()?,
        };
        self.set_team(&t, now_ms)?;
        Ok(t)
    }

    fn team_if_any(&self) -> Result<Option<Team>> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = self
            .db
            .query_row(
                "SELECT founder, team_key, vault_key FROM team WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((f, t, v)) = row else {
            return Ok(None);
        };
        Ok(Some(Team {
            founder: key32(f, "founder key")?,
            team_key: Zeroizing::new(key32(t, "team key")?),
            vault_key: Zeroizing::new(key32(v, "vault key")?),
        }))
    }

    fn set_team(&self, t: &Team, now_ms: u64) -> Result<()> {
        self.db.execute(
            "INSERT INTO team (id, founder, team_key, vault_key, at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET founder = excluded.founder,
                 team_key = excluded.team_key, vault_key = excluded.vault_key, at = excluded.at",
            params![
                t.founder.as_slice(),
                t.team_key.as_slice(),
                t.vault_key.as_slice(),
                now_ms as i64
            ],
        )?;
        Ok(())
    }

    /// Leaves the team: its keys, changes, invites and peers go from this device (the others
    /// keep theirs; the queue here keeps its items). The next use founds a team of one.
    pub fn leave(&mut self) -> Result<()> {
        let tx = self.db.transaction()?;
        for sql in [
            "DELETE FROM team",
            "DELETE FROM ops",
            "DELETE FROM invites",
            "DELETE FROM peers",
            "DELETE FROM workflows",
        ] {
            tx.execute(sql, [])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The text of shared workflow `name` as this device last shared or approved it.
    pub fn workflow_known(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT text FROM workflows WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_workflow_known(&self, name: &str, text: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO workflows (name, text) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET text = excluded.text",
            params![name, text],
        )?;
        Ok(())
    }

    /// The team vault key as mesh.db keeps it: all zeros once it lives in the vault.
    pub fn set_vault_key(&self, key: &[u8; 32]) -> Result<()> {
        self.db.execute(
            "UPDATE team SET vault_key = ?1 WHERE id = 1",
            params![key.as_slice()],
        )?;
        // The old value is not left in the write-ahead log either.
        self.db
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The team key changed (a device was revoked): connections are wrapped in this one now.
    pub fn rekey(&self, team_key: &[u8; 32]) -> Result<()> {
        self.db.execute(
            "UPDATE team SET team_key = ?1 WHERE id = 1",
            [team_key.as_slice()],
        )?;
        Ok(())
    }

    /// Joins another team (paired into it): refused once this device's team has changes from
    /// other devices, which leaving would drop.
    pub fn join_team(&mut self, me: &DeviceKey, t: &Team, now_ms: u64) -> Result<()> {
        let others: i64 = self.db.query_row(
            "SELECT count(*) FROM ops WHERE origin != ?1",
            [me.as_slice()],
            |r| r.get(0),
        )?;
        if others > 0
            && self
                .team_if_any()?
                .is_some_and(|cur| cur.founder != t.founder)
        {
            bail!(
                "this device is in a team with {others} changes from other devices; joining \
                 another would drop them here (fieldkit mesh leave first, if that is meant)"
            );
        }
        let tx = self.db.transaction()?;
        // Changes made for a team of one go: they were never shared.
        tx.execute("DELETE FROM ops", [])?;
        tx.execute("DELETE FROM invites", [])?;
        tx.commit()?;
        self.set_team(t, now_ms)
    }

    /// The changes held, as a replica for this device.
    pub fn replica(&self, me: DeviceKey, founder: DeviceKey) -> Result<Replica> {
        let mut r = Replica::new(me, founder);
        let mut st = self.db.prepare("SELECT op FROM ops ORDER BY origin, seq")?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        for blob in rows {
            let op: Op = crate::engine::mesh::wire::decode(&blob?)
                .map_err(|e| anyhow::anyhow!("mesh.db holds a change that does not read: {e}"))?;
            r.restore(op);
        }
        Ok(r)
    }

    /// Keeps changes (new ones; those held already are left as they are).
    pub fn keep(&mut self, ops: &[Op]) -> Result<()> {
        let tx = self.db.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO ops (origin, seq, op) VALUES (?1, ?2, ?3)
                 ON CONFLICT (origin, seq) DO NOTHING",
            )?;
            for op in ops {
                let blob = crate::engine::mesh::wire::encode(op).map_err(anyhow::Error::msg)?;
                st.execute(params![op.origin.as_slice(), op.seq as i64, blob])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn add_invite(&self, inv: &Invite) -> Result<()> {
        self.db.execute(
            "INSERT INTO invites (code, role, expires, used) VALUES (?1, ?2, ?3, ?4)",
            params![inv.code, inv.role.name(), inv.expires_ms as i64, inv.used],
        )?;
        Ok(())
    }

    /// Open and spent invites not yet expired (an expired one goes).
    pub fn invites(&self, now_ms: u64) -> Result<Vec<Invite>> {
        self.db
            .execute("DELETE FROM invites WHERE expires < ?1", [now_ms as i64])?;
        let mut st = self
            .db
            .prepare("SELECT code, role, expires, used FROM invites ORDER BY expires")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (code, role, expires, used) = row?;
            out.push(Invite {
                code,
                role: Role::parse(&role).unwrap_or(Role::Guest),
                expires_ms: expires.max(0) as u64,
                used,
            });
        }
        Ok(out)
    }

    /// Marks an invite spent (a joiner tried it, rightly or not).
    pub fn spend(&self, code: &str) -> Result<()> {
        self.db
            .execute("UPDATE invites SET used = 1 WHERE code = ?1", [code])?;
        Ok(())
    }

    /// Where a peer was reached, and when it last synced.
    pub fn saw_peer(&self, key: &DeviceKey, addrs: &str, now_ms: u64, synced: bool) -> Result<()> {
        self.db.execute(
            "INSERT INTO peers (key, addrs, last_seen, last_sync) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET addrs = CASE WHEN excluded.addrs = '' THEN addrs
                 ELSE excluded.addrs END, last_seen = excluded.last_seen,
                 last_sync = coalesce(excluded.last_sync, last_sync)",
            params![
                key.as_slice(),
                addrs,
                now_ms as i64,
                synced.then_some(now_ms as i64)
            ],
        )?;
        Ok(())
    }

    /// Each known peer: its addresses, when last seen and last synced (ms).
    pub fn peers(&self) -> Result<Vec<Peer>> {
        let mut st = self
            .db
            .prepare("SELECT key, addrs, last_seen, last_sync FROM peers ORDER BY key")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (k, a, s, y) = row?;
            out.push((
                key32(k, "peer key")?,
                a,
                s.map(|v| v.max(0) as u64),
                y.map(|v| v.max(0) as u64),
            ));
        }
        Ok(out)
    }

    /// A line in the sync log (the oldest go past `LOG_LINES`).
    pub fn log(&self, now_ms: u64, line: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO log (at, line) VALUES (?1, ?2)",
            params![now_ms as i64, line],
        )?;
        self.db.execute(
            "DELETE FROM log WHERE id <= (SELECT max(id) FROM log) - ?1",
            [LOG_LINES],
        )?;
        Ok(())
    }

    /// The newest `n` lines of the sync log, oldest first.
    pub fn log_lines(&self, n: usize) -> Result<Vec<(u64, String)>> {
        let mut st = self
            .db
            .prepare("SELECT at, line FROM log ORDER BY id DESC LIMIT ?1")?;
        let rows = st.query_map([n as i64], |r| {
            Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, String>(1)?))
        })?;
        let mut v = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        v.reverse();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldkit_messages::mesh::{Kind, Value};

    const T0: u64 = 1_790_000_000_000;

    #[test]
    fn the_device_key_is_made_once_private_and_refused_when_others_may_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mesh.key");
        let k = device_key(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(device_key(&p).unwrap().to_bytes(), k.to_bytes());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(device_key(&p)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
        std::fs::write(dir.path().join("short.key"), [1, 2, 3]).unwrap();
        std::fs::set_permissions(
            dir.path().join("short.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        assert!(device_key(&dir.path().join("short.key"))
            .unwrap_err()
            .to_string()
            .contains("not a device key"));
    }

    #[test]
    fn changes_team_invites_peers_and_log_outlive_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mesh.db");
        let key = crate::engine::mesh::op::new_key().unwrap();
        let me = key.verifying_key().to_bytes();
        let mut s = MeshStore::open(&db).unwrap();
        let team = s.team(&me, T0).unwrap();
        assert_eq!(team.founder, me, "a device alone founds its own team");
        assert_eq!(s.team(&me, T0 + 1).unwrap(), team, "once");
        let mut r = s.replica(me, team.founder).unwrap();
        let ops: Vec<Op> = (0..100)
            .map(|i| {
                r.write(
                    &key,
                    Kind::Item,
                    &format!("i{i}"),
                    "title",
                    Value::Text(format!("item {i}")),
                    T0 + i,
                )
            })
            .collect();
        s.keep(&ops).unwrap();
        s.keep(&ops[..10]).unwrap();
        s.add_invite(&Invite {
            code: "K7M2Q9XRTA".into(),
            role: Role::Member,
            expires_ms: T0 + 600_000,
            used: false,
        })
        .unwrap();
        s.add_invite(&Invite {
            code: "AAM2Q9XRTA".into(),
            role: Role::Guest,
            expires_ms: T0 - 1,
            used: false,
        })
        .unwrap();
        s.spend("K7M2Q9XRTA").unwrap();
        s.saw_peer(&[9; 32], "127.0.0.1:4100", T0, false).unwrap();
        s.saw_peer(&[9; 32], "", T0 + 5, true).unwrap();
        for i in 0..(LOG_LINES + 5) {
            s.log(T0 + i as u64, &format!("line {i}")).unwrap();
        }
        drop(s);

        let s = MeshStore::open(&db).unwrap();
        let back = s.replica(me, team.founder).unwrap();
        assert_eq!(back.len(), 100);
        assert_eq!(back.state_hash(), r.state_hash());
        assert!(back.clock() >= r.clock(), "the clock never goes back");
        let inv = s.invites(T0).unwrap();
        assert_eq!(inv.len(), 1, "the expired one went");
        assert!(inv[0].used);
        assert_eq!(
            s.peers().unwrap(),
            vec![(
                [9; 32],
                "127.0.0.1:4100".to_string(),
                Some(T0 + 5),
                Some(T0 + 5)
            )]
        );
        let lines = s.log_lines(3).unwrap();
        assert_eq!(lines.last().unwrap().1, format!("line {}", LOG_LINES + 4));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn joining_another_team_is_refused_once_others_changes_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MeshStore::open(&dir.path().join("mesh.db")).unwrap();
        let me = [1; 32];
        s.team(&me, T0).unwrap();
        let other = Team {
            founder: [2; 32],
            team_key: Zeroizing::new([3; 32]),
            vault_key: Zeroizing::new([4; 32]),
        };
        // A team of one: joining replaces it.
        s.join_team(&me, &other, T0).unwrap();
        assert_eq!(s.team(&me, T0).unwrap().founder, [2; 32]);
        // Holding a change from another device, joining a third team is refused.
        let k = crate::engine::mesh::op::new_key().unwrap();
        let mut r = Replica::new(k.verifying_key().to_bytes(), [2; 32]);
        let op = r.write(&k, Kind::Item, "i", "t", Value::Int(1), T0);
        s.keep(&[op]).unwrap();
        let third = Team {
            founder: [5; 32],
            ..other.clone()
        };
        assert!(s
            .join_team(&me, &third, T0)
            .unwrap_err()
            .to_string()
            .contains("would drop them"));
    }
}
