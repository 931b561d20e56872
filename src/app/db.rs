//! The history database: `<data>/proprio.sqlite` (SQLite, WAL, foreign keys on), the index of
//! the recordings and everything learnt from them.
//!
//! Recordings stay files (`<data>/recordings/*.prec`, the source of truth); the database indexes
//! them by path and keeps what is asked of the history often: each session's key columns, its
//! results with their signal-chain version (a re-scoring adds a row, never overwrites), the
//! users, devices, calibration records, check-ins, pain stops and the plan's level changes.
//!
//! # Schema and migrations
//! `PRAGMA user_version` is the schema's version: [`MIGRATIONS`]`[i]` takes version `i` to
//! `i + 1`, each in one transaction. Version 0 is the file-only layout every user had before the
//! database: opening it creates the schema and indexes the recordings in the data directory
//! (one warning line for each that cannot be read). Each later open indexes recordings the
//! database does not know yet (a session killed before it was closed, say; not one still being
//! written, whose recording is locked), so the history reports them with what could be
//! recovered.
//!
//! Check-ins ([`Db::insert_checkin`], [`Db::checkins`]) are written by the guided sessions;
//! calibration profiles ([`Db::insert_profile`], [`Db::profiles`]) by `proprio calibrate`, and
//! every new session's header carries those that apply to its user.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use proprio_protocol::DeviceKind;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::store;
use crate::calibrate::{Profiles, StoredProfile};
use crate::drill::DrillKind;
use crate::plan::{self, Change};
use crate::scoring::DeviceClass;
use crate::session::{DeviceSummary, SessionMeta, SessionReport};

/// The database's file name in the data directory.
pub const DB_FILE: &str = "proprio.sqlite";

/// The schema's migrations, in order: step `i` takes `user_version` `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: what the file-only layout held, indexed: people, devices, sessions and their results.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_utc TEXT NOT NULL
    );
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        serial INTEGER NOT NULL,
        firmware TEXT NOT NULL,
        UNIQUE (kind, serial, firmware)
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        recording TEXT NOT NULL UNIQUE,
        created_utc TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        device_id INTEGER REFERENCES devices(id),
        drill TEXT NOT NULL,
        level INTEGER NOT NULL,
        sensor TEXT NOT NULL,
        source TEXT NOT NULL,
        pipeline_version TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX sessions_by_user ON sessions (user_id, created_utc, id);
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        origin TEXT NOT NULL CHECK (origin IN ('recorded', 'rescored')),
        computed_utc TEXT NOT NULL,
        pipeline_version TEXT NOT NULL,
        end_reason TEXT NOT NULL,
        duration_s REAL NOT NULL,
        task_score REAL NOT NULL,
        score REAL,
        verdict TEXT,
        refused TEXT,
        report TEXT NOT NULL
    );
    CREATE INDEX results_by_session ON results (session_id, id);",
    // 2: what the plan and the guided sessions add: calibrations, check-ins, pain stops, the
    // plan's level changes, and recordings that could not be read (warned about once).
    "CREATE TABLE calibrations (
        id INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id),
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        created_utc TEXT NOT NULL
    );
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        guided_session TEXT NOT NULL,
        at_utc TEXT NOT NULL,
        pain INTEGER NOT NULL CHECK (pain BETWEEN 0 AND 10),
        feeling TEXT NOT NULL
    );
    CREATE INDEX checkins_by_user ON checkins (user_id, at_utc);
    CREATE TABLE pain_stops (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
        at_s REAL NOT NULL,
        level INTEGER NOT NULL
    );
    CREATE TABLE plan_levels (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        drill TEXT NOT NULL,
        sensor TEXT NOT NULL,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at_utc TEXT NOT NULL,
        from_level INTEGER NOT NULL,
        to_level INTEGER NOT NULL,
        change TEXT NOT NULL
    );
    CREATE INDEX plan_levels_by_user ON plan_levels (user_id, drill, sensor, id);
    CREATE TABLE unreadable (
        recording TEXT PRIMARY KEY,
        reason TEXT NOT NULL
    );",
    // 3: calibration profiles of a person (the neutral posture) as well as of a device.
    "ALTER TABLE calibrations ADD COLUMN user_id INTEGER REFERENCES users(id);",
];

/// The history database, open.
pub struct Db {
    conn: Connection,
    data_dir: PathBuf,
}

/// One session of the history, with its latest result's key columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// The session's row id.
    pub session_id: i64,
    /// When it started, UTC, RFC 3339.
    pub created_utc: String,
    /// Whose it is.
    pub user: String,
    /// The drill.
    pub drill: DrillKind,
    /// Its level.
    pub level: u8,
    /// The sensor it ran on.
    pub sensor: DeviceClass,
    /// The recording file.
    pub recording: PathBuf,
    /// What could be recovered of a recording without a result (cut off, or ended before the
    /// drill); absent for a complete session.
    pub note: Option<String>,
    /// Its latest result (the re-scored one, if it was re-scored), if it has one.
    pub result: Option<ResultRow>,
}

/// One result of a session: the recording's own, or a re-scoring's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    /// The row id.
    pub result_id: i64,
    /// `recorded` (the recording's own result) or `rescored`.
    pub origin: String,
    /// When it was computed, UTC.
    pub computed_utc: String,
    /// The signal chain's version that computed it.
    pub pipeline_version: String,
    /// Why the drill ended (kebab-case, as the JSON result says).
    pub end: String,
    /// The drill's duration, s.
    pub duration_s: f64,
    /// The drill's own task score, 0–100.
    pub task_score: f64,
    /// The progress score against the baseline, 0–100, if there was one.
    pub score: Option<f64>,
    /// The verdict against the baseline, if there was one.
    pub verdict: Option<String>,
    /// Why the quality gates refused to score it, if they did.
    pub refused: Option<String>,
    /// The whole result, JSON.
    #[serde(skip)]
    pub report_json: String,
}

impl ResultRow {
    /// The whole result.
    pub fn report(&self) -> Result<SessionReport> {
        serde_json::from_str(&self.report_json).context("a stored result cannot be read")
    }
}

/// A check-in before a guided session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckIn {
    /// The guided session's id.
    pub guided_session: String,
    /// When, UTC, RFC 3339.
    pub at_utc: String,
    /// Pain, 0 (none) to 10 (worst imaginable).
    pub pain_0_10: u8,
    /// How the user feels, in their words or the flow's choice.
    pub feeling: String,
}

/// A change of the plan's level, with the session that made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelChange {
    /// The drill.
    pub drill: DrillKind,
    /// The ladder's sensor.
    pub sensor: DeviceClass,
    /// When the session that made it started, UTC.
    pub at_utc: String,
    /// The change.
    pub change: Change,
}

/// A session to put in the database.
pub struct NewSession<'a> {
    /// Whose.
    pub user: &'a str,
    /// The recording's header.
    pub meta: &'a SessionMeta,
    /// Its result, if it has one.
    pub report: Option<&'a SessionReport>,
    /// What could be recovered, for a recording without a result.
    pub note: Option<String>,
    /// The recording file.
    pub recording: &'a Path,
}

/// An enum's kebab-case name, as the JSON result writes it.
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn sensor_from(name: &str) -> Result<DeviceClass> {
    serde_json::from_value(serde_json::Value::String(name.into()))
        .with_context(|| format!("the database names an unknown sensor '{name}'"))
}

impl Db {
    /// Opens (creating or migrating it) `<data_dir>/proprio.sqlite`, and indexes the recordings
    /// it does not know yet; those without a user in their header are `user`'s.
    pub fn open(data_dir: &Path, user: &str) -> Result<Db> {
        store::create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        // SQLite gives its -wal and -shm files the database file's permissions.
        if !path.exists() {
            store::create_private_file(&path)
                .with_context(|| format!("cannot create the database {}", path.display()))?;
        }
        let conn = Connection::open(&path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        let mut db = Db {
            conn,
            data_dir: data_dir.to_path_buf(),
        };
        db.configure()
            .and_then(|()| db.migrate())
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        db.index_recordings(user)?;
        Ok(db)
    }

    /// WAL (readers do not block the writer; a killed writer leaves the database whole),
    /// foreign keys, and waiting for another proprio's transaction instead of failing.
    fn configure(&self) -> Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!("the file system does not allow its write-ahead log (journal mode {mode})");
        }
        // NORMAL in WAL mode: every commit survives the process being killed.
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        Ok(())
    }

    /// The schema's version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    }

    /// Runs the migrations the database has not had, each in its own transaction.
    fn migrate(&mut self) -> Result<()> {
        let from = self.schema_version()?;
        if from > MIGRATIONS.len() {
            bail!(
                "it has schema version {from}, newer than this proprio knows ({}); \
                 use a newer proprio",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)
                .with_context(|| format!("schema migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when the database is sound).
    pub fn integrity_check(&self) -> Result<String> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.join("; "))
    }

    /// Indexes the recordings in `<data>/recordings` the database does not know: each with its
    /// result, or with what could be recovered (one warning line for a cut-off one); one that
    /// cannot be read at all is reported with one warning line, once, and skipped.
    fn index_recordings(&mut self, user: &str) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(self.data_dir.join("recordings")) else {
            return Ok(()); // no sessions yet
        };
        let mut known: HashSet<String> = HashSet::new();
        for sql in [
            "SELECT recording FROM sessions",
            "SELECT recording FROM unreadable",
        ] {
            let mut stmt = self.conn.prepare(sql)?;
            for path in stmt.query_map([], |r| r.get::<_, String>(0))? {
                known.insert(path?);
            }
        }
        // A live session holds a lock on its recording (see `store::RecordingFile`): it is
        // indexed when closed, or by a later open if the session dies.
        let being_written = |path: &Path| {
            std::fs::File::open(path).is_ok_and(|f| {
                matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
            })
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "prec"))
            .filter(|p| !known.contains(&stored_path(&self.data_dir, p)) && !being_written(p))
            .collect();
        if paths.is_empty() {
            return Ok(());
        }
        paths.sort_by_key(|p| store::stem_and_attempt(p));
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        for path in paths {
            match read_for_index(&path) {
                Ok(item) => found.push((path, item)),
                Err(error) => {
                    eprintln!("proprio: warning: skipped {}: {error:#}", path.display());
                    unreadable.push((stored_path(&self.data_dir, &path), format!("{error:#}")));
                }
            }
        }
        // Oldest first, as the plan reads them.
        found.sort_by(|a, b| a.1 .0.created_utc.cmp(&b.1 .0.created_utc));
        let new: Vec<NewSession> = found
            .iter()
            .map(|(path, (meta, report, note))| NewSession {
                user: meta.user.as_deref().unwrap_or(user),
                meta,
                report: report.as_ref(),
                note: note.clone(),
                recording: path,
            })
            .collect();
        // One transaction: a kill leaves all of it or none (the next open starts again).
        let tx = self.conn.transaction()?;
        insert_sessions(&tx, &self.data_dir, &new)?;
        for (path, reason) in unreadable {
            tx.execute(
                "INSERT OR REPLACE INTO unreadable (recording, reason) VALUES (?1, ?2)",
                params![path, reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts a closed session in the database (its recording's path, its result and what
    /// follows from it), in one transaction; returns its row id.
    pub fn record_session(&mut self, session: &NewSession) -> Result<i64> {
        let ids = self.record_sessions(std::slice::from_ref(session))?;
        Ok(ids[0])
    }

    /// Puts sessions in the database in one transaction (see [`Db::record_session`]); a
    /// recording already indexed (say, as cut off while it was still being written) is
    /// completed, not duplicated. Returns their row ids.
    pub fn record_sessions(&mut self, sessions: &[NewSession]) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids = insert_sessions(&tx, &self.data_dir, sessions)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Adds re-scorings' results to their sessions (`(session id, result)`; the earlier
    /// results are kept), in one transaction; returns the new results' row ids.
    pub fn add_results(&mut self, results: &[(i64, &SessionReport)]) -> Result<Vec<i64>> {
        let now = store::utc_now()?.0;
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(results.len());
        let mut ladders: Vec<(i64, DrillKind, DeviceClass)> = Vec::new();
        for &(session_id, report) in results {
            ids.push(insert_result(&tx, session_id, "rescored", &now, report)?);
            note_pain_stop(&tx, session_id, report)?;
            let (user_id, sensor): (i64, String) = tx.query_row(
                "SELECT user_id, sensor FROM sessions WHERE id = ?1",
                [session_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let ladder = (user_id, report.drill, sensor_from(&sensor)?);
            if !ladders.contains(&ladder) {
                ladders.push(ladder);
            }
        }
        // Once per ladder, not per result: each replays the ladder's whole history.
        for (user_id, drill, sensor) in ladders {
            sync_plan_levels(&tx, user_id, drill, sensor)?;
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The sessions of `user` (of `drill` only, if given), oldest first, each with its latest
    /// result: the one history every command reads (history, progress, the plan, rescore).
    pub fn history(&self, user: &str, drill: Option<DrillKind>) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id, s.created_utc, u.name, s.drill, s.level, s.sensor, s.recording, s.note,
                    r.id, r.origin, r.computed_utc, r.pipeline_version, r.end_reason,
                    r.duration_s, r.task_score, r.score, r.verdict, r.refused, r.report
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN results r ON r.id =
                 (SELECT max(id) FROM results WHERE session_id = s.id)
             WHERE u.name = ?1 AND (?2 IS NULL OR s.drill = ?2)
             ORDER BY s.created_utc, s.id",
        )?;
        let rows = stmt.query_map(params![user, drill.map(DrillKind::name)], |r| {
            let result = match r.get::<_, Option<i64>>(8)? {
                None => None,
                Some(result_id) => Some(ResultRow {
                    result_id,
                    origin: r.get(9)?,
                    computed_utc: r.get(10)?,
                    pipeline_version: r.get(11)?,
                    end: r.get(12)?,
                    duration_s: r.get(13)?,
                    task_score: r.get(14)?,
                    score: r.get(15)?,
                    verdict: r.get(16)?,
                    refused: r.get(17)?,
                    report_json: r.get(18)?,
                }),
            };
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u8>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                result,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (session_id, created_utc, user, drill, level, sensor, recording, note, result) =
                row?;
            out.push(HistoryEntry {
                session_id,
                created_utc,
                user,
                drill: DrillKind::from_name(&drill)
                    .with_context(|| format!("the database names an unknown drill '{drill}'"))?,
                level,
                sensor: sensor_from(&sensor)?,
                recording: self.data_dir.join(recording),
                note,
                result,
            });
        }
        Ok(out)
    }

    /// The results of `user`'s sessions, oldest first (each its latest result, with the
    /// recording's path): what the plan reads.
    pub fn results(&self, user: &str) -> Result<Vec<SessionReport>> {
        reports(&self.history(user, None)?)
    }

    /// Every result of a session, oldest first: the recording's own, then each re-scoring's.
    pub fn result_versions(&self, session_id: i64) -> Result<Vec<ResultRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, origin, computed_utc, pipeline_version, end_reason, duration_s,
                    task_score, score, verdict, refused, report
             FROM results WHERE session_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([session_id], |r| {
            Ok(ResultRow {
                result_id: r.get(0)?,
                origin: r.get(1)?,
                computed_utc: r.get(2)?,
                pipeline_version: r.get(3)?,
                end: r.get(4)?,
                duration_s: r.get(5)?,
                task_score: r.get(6)?,
                score: r.get(7)?,
                verdict: r.get(8)?,
                refused: r.get(9)?,
                report_json: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The plan's level changes of `user` (for `drill` only, if given), oldest first, as
    /// stored when sessions were recorded.
    pub fn level_changes(&self, user: &str, drill: Option<DrillKind>) -> Result<Vec<LevelChange>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.drill, p.sensor, p.at_utc, p.from_level, p.to_level, p.change
             FROM plan_levels p JOIN users u ON u.id = p.user_id
             WHERE u.name = ?1 AND (?2 IS NULL OR p.drill = ?2) ORDER BY p.id",
        )?;
        let rows = stmt.query_map(params![user, drill.map(DrillKind::name)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u8>(3)?,
                r.get::<_, u8>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (drill, sensor, at_utc, from, to, change) = row?;
            let change = match change.as_str() {
                "advanced" => Change::Advanced { from, to },
                "stepped-back" => Change::SteppedBack {
                    from,
                    to,
                    pain: false,
                },
                "stepped-back-pain" => Change::SteppedBack {
                    from,
                    to,
                    pain: true,
                },
                other => bail!("the history database holds an unknown plan change '{other}'"),
            };
            out.push(LevelChange {
                drill: DrillKind::from_name(&drill)
                    .with_context(|| format!("the database names an unknown drill '{drill}'"))?,
                sensor: sensor_from(&sensor)?,
                at_utc,
                change,
            });
        }
        Ok(out)
    }

    /// Records a check-in before a guided session; returns its row id. A pain outside 0–10 is
    /// refused.
    pub fn insert_checkin(&mut self, user: &str, checkin: &CheckIn) -> Result<i64> {
        if checkin.pain_0_10 > 10 {
            bail!("pain is rated 0 to 10, not {}", checkin.pain_0_10);
        }
        let tx = self.conn.transaction()?;
        let user_id = user_id(&tx, user)?;
        tx.execute(
            "INSERT INTO checkins (user_id, guided_session, at_utc, pain, feeling)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                user_id,
                checkin.guided_session,
                checkin.at_utc,
                checkin.pain_0_10,
                checkin.feeling
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// The check-ins of `user`, oldest first.
    pub fn checkins(&self, user: &str) -> Result<Vec<CheckIn>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.guided_session, c.at_utc, c.pain, c.feeling
             FROM checkins c JOIN users u ON u.id = c.user_id
             WHERE u.name = ?1 ORDER BY c.at_utc, c.id",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(CheckIn {
                guided_session: r.get(0)?,
                at_utc: r.get(1)?,
                pain_0_10: r.get(2)?,
                feeling: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The pain stops of `user`: each session's start (UTC), drill, level and the time into
    /// the drill it was stopped, s; oldest first.
    pub fn pain_stops(&self, user: &str) -> Result<Vec<(String, DrillKind, u8, f64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.created_utc, s.drill, p.level, p.at_s
             FROM pain_stops p JOIN sessions s ON s.id = p.session_id
             JOIN users u ON u.id = s.user_id
             WHERE u.name = ?1 ORDER BY s.created_utc, s.id",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u8>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, drill, level, at_s) = row?;
            let drill = DrillKind::from_name(&drill)
                .with_context(|| format!("the database names an unknown drill '{drill}'"))?;
            out.push((at, drill, level, at_s));
        }
        Ok(out)
    }

    /// Stores a calibration profile made on `device` (its serial and kind must be the
    /// profile's); returns its row id.
    pub fn insert_profile(
        &mut self,
        device: &DeviceSummary,
        stored: &StoredProfile,
    ) -> Result<i64> {
        if device.device_id != stored.device_id
            || device_kind(&device.kind) != Some(stored.device_kind)
        {
            bail!("a calibration profile can only be stored for the device it was made on");
        }
        let data = serde_json::to_string(&stored.profile).context("cannot format the profile")?;
        let tx = self.conn.transaction()?;
        let device_id = device_row(&tx, device)?;
        let user_id = match &stored.user {
            Some(user) => Some(user_id(&tx, user)?),
            None => None,
        };
        tx.execute(
            "INSERT INTO calibrations (device_id, kind, data, created_utc, user_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device_id,
                stored.profile.kind().name(),
                data,
                stored.created_utc,
                user_id
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// The stored calibration profiles that apply to `user`'s sessions: every device's own and
    /// `user`'s, oldest first.
    pub fn profiles(&self, user: &str) -> Result<Profiles> {
        let mut stmt = self.conn.prepare(
            "SELECT d.kind, d.serial, u.name, c.created_utc, c.data FROM calibrations c
             JOIN devices d ON d.id = c.device_id
             LEFT JOIN users u ON u.id = c.user_id
             WHERE c.user_id IS NULL OR u.name = ?1
             ORDER BY c.created_utc, c.id",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut profiles = Vec::new();
        for row in rows {
            let (kind, device_id, user, created_utc, data) = row?;
            // A profile this proprio cannot read (a newer one's, say) must not stop every drill:
            // it is left out, with one line.
            let (Some(device_kind), Ok(profile)) =
                (device_kind(&kind), serde_json::from_str(&data))
            else {
                eprintln!(
                    "proprio: warning: the calibration of {kind} {device_id} made {created_utc} \
                     cannot be read by this proprio; it is not applied"
                );
                continue;
            };
            profiles.push(StoredProfile {
                device_kind,
                device_id,
                user,
                created_utc,
                profile,
            });
        }
        Ok(Profiles(profiles))
    }
}

/// The kind of device a [`DeviceSummary`] names ("wearable", "balance-board").
fn device_kind(name: &str) -> Option<DeviceKind> {
    match name {
        "wearable" => Some(DeviceKind::Wearable),
        "balance-board" => Some(DeviceKind::BalanceBoard),
        _ => None,
    }
}

/// A recording's path as stored: relative to the data directory when inside it (the data
/// directory can move).
fn stored_path(data_dir: &Path, recording: &Path) -> String {
    recording
        .strip_prefix(data_dir)
        .unwrap_or(recording)
        .to_string_lossy()
        .into_owned()
}

/// The results of history entries that have one, with their recording's path.
pub fn reports(entries: &[HistoryEntry]) -> Result<Vec<SessionReport>> {
    entries
        .iter()
        .filter_map(|e| e.result.as_ref().map(|r| (e, r)))
        .map(|(e, r)| {
            let mut report = r.report()?;
            report.recording = Some(e.recording.display().to_string());
            Ok(report)
        })
        .collect()
}

/// The header, the result (if any) and what could be recovered (if no result) of a recording
/// being indexed.
fn read_for_index(path: &Path) -> Result<(SessionMeta, Option<SessionReport>, Option<String>)> {
    match store::read_result(path) {
        Ok(Some((meta, mut report))) => {
            report.recording = Some(path.display().to_string());
            Ok((meta, Some(report), None))
        }
        // No result, or cut off: what replaying it recovers.
        Ok(None) | Err(_) => {
            let replayed = super::run::replay_file(path)?;
            if replayed.meta.imported.is_some() && replayed.cut_off_words().is_none() {
                // An imported recording has no result record: its replay is its result.
                return Ok((replayed.meta, Some(replayed.report), None));
            }
            let note = replayed
                .cut_off_words()
                .context("its result cannot be read")?;
            eprintln!("proprio: warning: {}: {note}", path.display());
            Ok((replayed.meta, None, Some(note)))
        }
    }
}

/// The row id of the user `name`, created if new.
fn user_id(tx: &Transaction, name: &str) -> Result<i64> {
    let found: Option<i64> = tx
        .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO users (name, created_utc) VALUES (?1, ?2)",
        params![name, store::utc_now()?.0],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The row id of a device, created if new (a firmware update is a new row).
fn device_row(tx: &Transaction, device: &DeviceSummary) -> Result<i64> {
    let [a, b, c] = device.firmware;
    let firmware = format!("{a}.{b}.{c}");
    tx.execute(
        "INSERT OR IGNORE INTO devices (kind, serial, firmware) VALUES (?1, ?2, ?3)",
        params![device.kind, device.device_id, firmware],
    )?;
    Ok(tx.query_row(
        "SELECT id FROM devices WHERE kind = ?1 AND serial = ?2 AND firmware = ?3",
        params![device.kind, device.device_id, firmware],
        |r| r.get(0),
    )?)
}

/// Puts sessions in the database within `tx` (see [`Db::record_sessions`]).
fn insert_sessions(tx: &Transaction, data_dir: &Path, sessions: &[NewSession]) -> Result<Vec<i64>> {
    let now = store::utc_now()?.0;
    let mut ids = Vec::with_capacity(sessions.len());
    let mut ladders: Vec<(i64, DrillKind, DeviceClass)> = Vec::new();
    for s in sessions {
        let user_id = user_id(tx, s.user)?;
        let device_id = match s.report.and_then(|r| r.device.as_ref()) {
            Some(device) => Some(device_row(tx, device)?),
            None => None,
        };
        let drill = s.meta.drill.kind();
        let sensor = s
            .report
            .map_or(s.meta.expected_device(), DeviceClass::of_report);
        let recording = stored_path(data_dir, s.recording);
        let session_id: i64 = tx.query_row(
            "INSERT INTO sessions (recording, created_utc, user_id, device_id, drill, level,
                 sensor, source, pipeline_version, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (recording) DO UPDATE SET device_id = excluded.device_id,
                 sensor = excluded.sensor, note = excluded.note
             RETURNING id",
            params![
                recording,
                s.meta.created_utc,
                user_id,
                device_id,
                drill.name(),
                s.meta.drill.level(),
                name_of(&sensor),
                s.meta.source,
                s.meta.pipeline_version,
                s.note,
            ],
            |r| r.get(0),
        )?;
        if let Some(report) = s.report {
            let has_own: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM results WHERE session_id = ?1 AND origin = 'recorded')",
                [session_id],
                |r| r.get(0),
            )?;
            if !has_own {
                insert_result(tx, session_id, "recorded", &now, report)?;
            }
            note_pain_stop(tx, session_id, report)?;
            if !ladders.contains(&(user_id, drill, sensor)) {
                ladders.push((user_id, drill, sensor));
            }
        }
        ids.push(session_id);
    }
    for (user_id, drill, sensor) in ladders {
        sync_plan_levels(tx, user_id, drill, sensor)?;
    }
    Ok(ids)
}

/// Keeps a pain stop of a session's result in `pain_stops` (once per session).
fn note_pain_stop(tx: &Transaction, session_id: i64, report: &SessionReport) -> Result<()> {
    if report.end == crate::drill::EndReason::PainStop {
        tx.execute(
            "INSERT OR IGNORE INTO pain_stops (session_id, at_s, level) VALUES (?1, ?2, ?3)",
            params![session_id, report.duration_s, report.level],
        )?;
    }
    Ok(())
}

fn insert_result(
    tx: &Transaction,
    session_id: i64,
    origin: &str,
    computed_utc: &str,
    report: &SessionReport,
) -> Result<i64> {
    // The stored result keeps no path: the session's row has it.
    let mut stored = report.clone();
    stored.recording = None;
    let json = serde_json::to_string(&stored).context("cannot format the result")?;
    tx.execute(
        "INSERT INTO results (session_id, origin, computed_utc, pipeline_version, end_reason,
             duration_s, task_score, score, verdict, refused, report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            session_id,
            origin,
            computed_utc,
            report.pipeline_version,
            name_of(&report.end),
            report.duration_s,
            report.score,
            report.progress.as_ref().map(|p| p.score),
            report.progress.as_ref().map(|p| name_of(&p.verdict)),
            report.refused,
            json,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Rewrites the stored level changes of one ladder from the plan's rules replayed over the
/// user's history (`plan::level_changes`: the rules live there only).
fn sync_plan_levels(
    tx: &Transaction,
    user_id: i64,
    drill: DrillKind,
    sensor: DeviceClass,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT s.id, s.created_utc, r.report FROM sessions s
         JOIN results r ON r.id = (SELECT max(id) FROM results WHERE session_id = s.id)
         WHERE s.user_id = ?1 AND s.drill = ?2
         ORDER BY s.created_utc, s.id",
    )?;
    let rows: Vec<(i64, String, String)> = stmt
        .query_map(params![user_id, drill.name()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut history = Vec::with_capacity(rows.len());
    for (_, _, json) in &rows {
        history.push(serde_json::from_str::<SessionReport>(json)?);
    }
    let sensor_name = name_of(&sensor);
    tx.execute(
        "DELETE FROM plan_levels WHERE user_id = ?1 AND drill = ?2 AND sensor = ?3",
        params![user_id, drill.name(), sensor_name],
    )?;
    for (index, change) in plan::level_changes(drill, sensor, &history) {
        let (from, to, kind) = match change {
            Change::Advanced { from, to } => (from, to, "advanced"),
            Change::SteppedBack {
                from,
                to,
                pain: false,
            } => (from, to, "stepped-back"),
            Change::SteppedBack {
                from,
                to,
                pain: true,
            } => (from, to, "stepped-back-pain"),
        };
        let (session_id, at_utc, _) = &rows[index];
        tx.execute(
            "INSERT INTO plan_levels (user_id, drill, sensor, session_id, at_utc, from_level,
                 to_level, change) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                user_id,
                drill.name(),
                sensor_name,
                session_id,
                at_utc,
                from,
                to,
                kind
            ],
        )?;
    }
    Ok(())
}
