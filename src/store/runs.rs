/*!
Workflow runs, in queue.db beside the work items they create and wait on (one file to back up,
and a human step's item and its run change in one place).

A run is one row: its state, its cursor, a copy of the definition it started with, its trigger
and its steps' states and outputs as JSON (small: outputs are capped). Each try of a step is a
row of its own with its log, written when it starts (outcome `running`) and again when it ends,
so a try cut short by a `kill -9` is found, still `running`, by the next server. Every write is
one transaction, made before the runner acts on it. Schedules keep the last slot they dealt
with, file triggers the files they have seen (so a file that landed while the server was down
starts its run when the server is back, and an old file never starts one twice).
*/

use crate::engine::workflow::{Run, RunState, StepRec, TryRec, Workflow};
use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

pub struct RunStore {
    db: Connection,
}

/// Runs kept: the newest this many (finished ones beyond it are deleted, with their tries).
pub const KEEP_RUNS: i64 = 5_000;

impl RunStore {
    pub fn open(path: &Path) -> Result<RunStore> {
        let db = super::open_wal(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                 id TEXT PRIMARY KEY,
                 workflow TEXT NOT NULL,
                 state TEXT NOT NULL,
                 created INTEGER NOT NULL,
                 started INTEGER,
                 ended INTEGER,
                 error TEXT NOT NULL DEFAULT '',
                 cursor INTEGER NOT NULL DEFAULT 0,
                 handling INTEGER,
                 def TEXT NOT NULL,
                 trigger TEXT NOT NULL,
                 steps TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
             CREATE INDEX IF NOT EXISTS runs_state ON runs(state);
             CREATE TABLE IF NOT EXISTS tries (
                 run TEXT NOT NULL,
                 step INTEGER NOT NULL,
                 n INTEGER NOT NULL,
                 started INTEGER NOT NULL,
                 ended INTEGER,
                 outcome TEXT NOT NULL,
                 stdout TEXT NOT NULL DEFAULT '',
                 stderr TEXT NOT NULL DEFAULT '',
                 PRIMARY KEY (run, step, n)
             );
             CREATE TABLE IF NOT EXISTS schedules (
                 workflow TEXT NOT NULL,
                 cron TEXT NOT NULL,
                 last INTEGER NOT NULL,
                 PRIMARY KEY (workflow, cron)
             );
             CREATE TABLE IF NOT EXISTS seen_files (
                 workflow TEXT NOT NULL,
                 path TEXT NOT NULL,
                 mtime INTEGER NOT NULL,
                 size INTEGER NOT NULL,
                 PRIMARY KEY (workflow, path)
             );",
        )?;
        Ok(RunStore { db })
    }

    /// A new run, and (for a schedule) the slot it is for, in one transaction: a slot is
    /// fired exactly once.
    pub fn insert(&mut self, run: &Run, slot: Option<(&str, i64)>) -> Result<()> {
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO runs (id, workflow, state, created, started, ended, error, cursor,
                 handling, def, trigger, steps)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                run.id,
                run.workflow,
                run.state.name(),
                run.created,
                run.started,
                run.ended,
                run.error,
                run.cursor as i64,
                run.handling.map(|h| h as i64),
                serde_json::to_string(&run.def)?,
                serde_json::to_string(&run.trigger)?,
                serde_json::to_string(&steps_only(&run.steps))?,
            ],
        )?;
        if let Some((cron, last)) = slot {
            tx.execute(
                "INSERT INTO schedules (workflow, cron, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workflow, cron) DO UPDATE SET last = excluded.last",
                params![run.workflow, cron, last],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The run's state, cursor and steps (not its tries' logs).
    pub fn save(&mut self, run: &Run) -> Result<()> {
        self.save_with_try(run, None)
    }

    /// The run and one try of step `step`, in one transaction.
    pub fn save_with_try(&mut self, run: &Run, t: Option<(usize, &TryRec)>) -> Result<()> {
        let tx = self.db.transaction()?;
        let n = tx.execute(
            "UPDATE runs SET state = ?2, started = ?3, ended = ?4, error = ?5, cursor = ?6,
                 handling = ?7, steps = ?8 WHERE id = ?1",
            params![
                run.id,
                run.state.name(),
                run.started,
                run.ended,
                run.error,
                run.cursor as i64,
                run.handling.map(|h| h as i64),
                serde_json::to_string(&steps_only(&run.steps))?,
            ],
        )?;
        if n != 1 {
            anyhow::bail!("run {} is not in queue.db", run.id);
        }
        if let Some((step, t)) = t {
            tx.execute(
                "INSERT INTO tries (run, step, n, started, ended, outcome, stdout, stderr)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (run, step, n) DO UPDATE SET ended = excluded.ended,
                     outcome = excluded.outcome, stdout = excluded.stdout,
                     stderr = excluded.stderr",
                params![
                    run.id,
                    step as i64,
                    t.n,
                    t.started,
                    t.ended,
                    t.outcome,
                    t.stdout,
                    t.stderr
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(row: &rusqlite::Row) -> rusqlite::Result<Result<Run>> {
        let state: String = row.get(2)?;
        let def: String = row.get(9)?;
        let trigger: String = row.get(10)?;
        let steps: String = row.get(11)?;
        let cursor: i64 = row.get(7)?;
        let handling: Option<i64> = row.get(8)?;
        let id: String = row.get(0)?;
        let workflow: String = row.get(1)?;
        let created: i64 = row.get(3)?;
        let started: Option<i64> = row.get(4)?;
        let ended: Option<i64> = row.get(5)?;
        let error: String = row.get(6)?;
        Ok((|| -> Result<Run> {
            Ok(Run {
                state: RunState::parse(&state)
                    .with_context(|| format!("run {id}: unknown state {state:?}"))?,
                def: serde_json::from_str::<Workflow>(&def)
                    .with_context(|| format!("run {id}: its definition does not read"))?,
                trigger: serde_json::from_str(&trigger)
                    .with_context(|| format!("run {id}: its trigger does not read"))?,
                steps: serde_json::from_str::<Vec<StepRec>>(&steps)
                    .with_context(|| format!("run {id}: its steps do not read"))?,
                cursor: cursor.max(0) as usize,
                handling: handling.map(|h| h.max(0) as usize),
                id,
                workflow,
                created,
                started,
                ended,
                error,
            })
        })())
    }

    const COLS: &'static str = "id, workflow, state, created, started, ended, error, cursor,
        handling, def, trigger, steps";

    /// Runs not over (to resume), oldest first. Runs that do not read are returned apart,
    /// by id and why, so one damaged row never stops the others.
    pub fn unfinished(&self) -> Result<(Vec<Run>, Vec<String>)> {
        let mut st = self.db.prepare(&format!(
            "SELECT {} FROM runs WHERE state IN ('queued', 'running') ORDER BY created",
            Self::COLS
        ))?;
        let rows = st.query_map([], Self::read)?;
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for r in rows {
            match r? {
                Ok(run) => good.push(run),
                Err(e) => bad.push(format!("{e:#}")),
            }
        }
        Ok((good, bad))
    }

    /// The newest `limit` runs (of `workflow`, when given), without logs.
    pub fn recent(&self, workflow: Option<&str>, limit: usize) -> Result<Vec<Run>> {
        let mut st = self.db.prepare(&format!(
            "SELECT {} FROM runs WHERE (?1 IS NULL OR workflow = ?1)
             ORDER BY created DESC, id LIMIT ?2",
            Self::COLS
        ))?;
        let rows = st.query_map(params![workflow, limit as i64], Self::read)?;
        let mut out = Vec::new();
        for r in rows {
            match r? {
                Ok(run) => out.push(run),
                Err(e) => tracing::warn!("workflow run not read: {e:#}"),
            }
        }
        Ok(out)
    }

    /// One run with every try's log, by id or a unique prefix of it.
    pub fn get(&self, prefix: &str) -> Result<Option<Run>> {
        let ids: Vec<String> = {
            let mut st = self
                .db
                .prepare("SELECT id FROM runs WHERE id LIKE ?1 || '%' LIMIT 2")?;
            let r = st
                .query_map([prefix.replace(['%', '_'], "")], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            r
        };
        if ids.len() > 1 {
            anyhow::bail!("{prefix:?} is the start of more than one run id; give more of it");
        }
        let Some(id) = ids.into_iter().next() else {
            return Ok(None);
        };
        let run = self
            .db
            .query_row(
                &format!("SELECT {} FROM runs WHERE id = ?1", Self::COLS),
                [&id],
                Self::read,
            )
            .optional()?;
        let Some(run) = run else { return Ok(None) };
        let mut run = run?;
        let mut st = self.db.prepare(
            "SELECT step, n, started, ended, outcome, stdout, stderr FROM tries
             WHERE run = ?1 ORDER BY step, n",
        )?;
        let tries = st.query_map([&id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                TryRec {
                    n: r.get(1)?,
                    started: r.get(2)?,
                    ended: r.get(3)?,
                    outcome: r.get(4)?,
                    stdout: r.get(5)?,
                    stderr: r.get(6)?,
                },
            ))
        })?;
        for t in tries {
            let (step, t) = t?;
            if let Some(s) = run.steps.get_mut(step.max(0) as usize) {
                s.log.push(t);
            }
        }
        Ok(Some(run))
    }

    /// The last slot schedule `cron` of `workflow` dealt with.
    pub fn schedule_last(&self, workflow: &str, cron: &str) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT last FROM schedules WHERE workflow = ?1 AND cron = ?2",
                params![workflow, cron],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_schedule_last(&self, workflow: &str, cron: &str, last: i64) -> Result<()> {
        self.db.execute(
            "INSERT INTO schedules (workflow, cron, last) VALUES (?1, ?2, ?3)
             ON CONFLICT (workflow, cron) DO UPDATE SET last = excluded.last",
            params![workflow, cron, last],
        )?;
        Ok(())
    }

    /// Whether file trigger of `workflow` has seen `path` as it is now; records it if not.
    /// `None` when the workflow has never seen any file (its first look records, never fires).
    pub fn file_seen(&self, workflow: &str, path: &str, mtime: i64, size: i64) -> Result<bool> {
        let was: Option<(i64, i64)> = self
            .db
            .query_row(
                "SELECT mtime, size FROM seen_files WHERE workflow = ?1 AND path = ?2",
                params![workflow, path],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if was == Some((mtime, size)) {
            return Ok(true);
        }
        self.db.execute(
            "INSERT INTO seen_files (workflow, path, mtime, size) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workflow, path) DO UPDATE SET mtime = excluded.mtime,
                 size = excluded.size",
            params![workflow, path, mtime, size],
        )?;
        Ok(false)
    }

    /// Whether the file trigger of `workflow` has looked at its folder before.
    pub fn has_seen_any(&self, workflow: &str) -> Result<bool> {
        Ok(self
            .db
            .query_row(
                "SELECT 1 FROM seen_files WHERE workflow = ?1 LIMIT 1",
                [workflow],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Deletes the oldest finished runs beyond `KEEP_RUNS`.
    pub fn trim(&mut self) -> Result<usize> {
        let tx = self.db.transaction()?;
        let cut: Option<i64> = tx
            .query_row(
                "SELECT created FROM runs ORDER BY created DESC LIMIT 1 OFFSET ?1",
                [KEEP_RUNS],
                |r| r.get(0),
            )
            .optional()?;
        let Some(cut) = cut else { return Ok(0) };
        tx.execute(
            "DELETE FROM tries WHERE run IN (SELECT id FROM runs WHERE created <= ?1
                 AND state IN ('done', 'failed', 'cancelled'))",
            [cut],
        )?;
        let n = tx.execute(
            "DELETE FROM runs WHERE created <= ?1 AND state IN ('done', 'failed', 'cancelled')",
            [cut],
        )?;
        tx.commit()?;
        Ok(n)
    }
}

/// Steps without their logs (the logs are rows of `tries`).
fn steps_only(steps: &[StepRec]) -> Vec<StepRec> {
    steps
        .iter()
        .map(|s| StepRec {
            log: Vec::new(),
            ..s.clone()
        })
        .collect()
}
