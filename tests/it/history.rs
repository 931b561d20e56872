//! The history database: migrations, the plan read from it, `history`, `progress`, `rescore`,
//! and a session killed mid-drill.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proprio::app::db::{CheckIn, Db, MIGRATIONS};
use proprio::drill::DrillKind;
use proprio::recording::{Record, RecordingReader, RecordingWriter};
use proprio::scoring::DeviceClass;
use proprio::session::SessionReport;
use serde_json::Value;

use crate::cmd::{json, proprio, proprio_command, sim_device, KillOnDrop};

/// `proprio drill rocker-hold --source sim --no-live --json` at `now` (PROPRIO_NOW).
fn rocker(dir: &Path, now: &str, seed: u64, skill: f64, extra: &[&str]) -> Value {
    let (seed, skill) = (seed.to_string(), skill.to_string());
    let mut args = vec![
        "drill",
        "rocker-hold",
        "--source",
        "sim",
        "--no-live",
        "--json",
        "--duration",
        "10",
        "--seed",
        &seed,
        "--skill",
        &skill,
    ];
    args.extend_from_slice(extra);
    let out = proprio_command(dir)
        .env("PROPRIO_NOW", now)
        .args(&args)
        .output()
        .expect("run proprio");
    json(&out)
}

fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}

/// The results in the recordings themselves (the file-only history), oldest first.
fn results_in_files(dir: &Path) -> Vec<SessionReport> {
    let mut found: Vec<(String, SessionReport)> = Vec::new();
    for path in recordings(dir) {
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let Ok(mut reader) = RecordingReader::new(file) else {
            continue; // not a recording
        };
        let created = reader.meta().created_utc.clone();
        while let Ok(Some(record)) = reader.next_record() {
            if let Record::Result(text) = record {
                let mut report: SessionReport = serde_json::from_str(&text).unwrap();
                report.recording = Some(path.display().to_string());
                found.push((created.clone(), report));
            }
        }
    }
    // Names start with the time and the sessions here are days apart: name order is time order.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, r)| r).collect()
}

/// Equal JSON, numbers to 1e-12 relative (parsing printed numbers back may be a bit off in
/// the last place).
fn assert_close(a: &Value, b: &Value) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * x.abs().max(y.abs()), "{x} vs {y}");
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            x.iter().for_each(|(k, v)| assert_close(v, &y[k]));
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).for_each(|(v, w)| assert_close(v, w));
        }
        _ => assert_eq!(a, b),
    }
}

/// A short programme: three baseline trials at low skill, then good ones (the simulated person
/// improved), three days apart from 2026-01-03.
fn programme(dir: &Path, sessions: usize) -> Vec<(String, Value)> {
    (0..sessions)
        .map(|i| {
            let now = format!("2026-01-{:02}T10:00:00Z", 3 + 3 * i);
            let skill = if i < 3 { 0.2 } else { 0.9 };
            let result = rocker(dir, &now, i as u64 + 1, skill, &[]);
            (now, result)
        })
        .collect()
}

#[test]
fn plan_from_the_database_equals_the_plan_from_the_files_and_progress_dates_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = programme(dir.path(), 9);
    // The plan's level after each session, as `proprio plan` tells it.
    let plan_level = |dir: &Path| -> u64 {
        let plans = json(&proprio(dir, &["plan", "--json"]));
        plans
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["drill"] == "rocker-hold")
            .unwrap()["level"]
            .as_u64()
            .unwrap()
    };
    // Each session ran at the level the plan gave; where the level changes from one session to
    // the next, the session before made the change.
    let mut expected_changes = Vec::new();
    for pair in sessions.windows(2) {
        let (from, to) = (pair[0].1["level"].as_u64(), pair[1].1["level"].as_u64());
        if from != to {
            expected_changes.push((pair[0].0.clone(), from.unwrap(), to.unwrap()));
        }
    }
    assert!(
        !expected_changes.is_empty(),
        "the programme should move the plan: {:?}",
        sessions
            .iter()
            .map(|s| &s.1["progress"])
            .collect::<Vec<_>>()
    );

    // The plan from the files, computed here from the recordings alone.
    let from_files = results_in_files(dir.path());
    assert_eq!(from_files.len(), 9);
    let files_plan = proprio::plan::plan_on(DrillKind::RockerHold, DeviceClass::Imu, &from_files);
    let db_plan = json(&proprio(dir.path(), &["plan", "--json"]));
    let db_rocker = db_plan
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "rocker-hold" && p["device"] == "imu")
        .unwrap();
    assert_close(db_rocker, &serde_json::to_value(&files_plan).unwrap());
    // And the database read in process gives the same results as the files.
    let db = Db::open(dir.path(), "default").unwrap();
    assert_eq!(db.results("default").unwrap(), from_files);
    assert_eq!(plan_level(dir.path()), u64::from(files_plan.level));

    // `progress`: the level changes, dated by the sessions that made them.
    let progress = json(&proprio(dir.path(), &["progress", "--json"]));
    let rocker = &progress.as_array().unwrap()[0];
    assert_eq!(rocker["drill"], "rocker-hold");
    assert_eq!(rocker["sessions"], 9);
    let changes: Vec<(String, u64, u64)> = rocker["level_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["at_utc"].as_str().unwrap().to_string(),
                c["change"]["from"].as_u64().unwrap(),
                c["change"]["to"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, expected_changes);
    // The stored plan levels say the same.
    let stored: Vec<(String, u64, u64)> = db
        .level_changes("default", None)
        .unwrap()
        .into_iter()
        .map(|c| {
            let (from, to) = match c.change {
                proprio::plan::Change::Advanced { from, to }
                | proprio::plan::Change::SteppedBack { from, to, .. } => (from, to),
            };
            (c.at_utc, u64::from(from), u64::from(to))
        })
        .collect();
    assert_eq!(stored, expected_changes);
    // Level 1's scored sessions: first and last as the drills printed them, and a slope that
    // is the least-squares line through them (computed here).
    let level1 = &rocker["levels"][0];
    let scored: Vec<(f64, f64)> = sessions
        .iter()
        .filter(|(_, r)| r["level"] == 1 && !r["progress"].is_null())
        .map(|(now, r)| {
            let day: f64 = now[8..10].parse().unwrap();
            (day / 7.0, r["progress"]["score"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(level1["scored"].as_u64().unwrap() as usize, scored.len());
    assert_eq!(level1["first_score"].as_f64().unwrap(), scored[0].1);
    assert_eq!(
        level1["last_score"].as_f64().unwrap(),
        scored[scored.len() - 1].1
    );
    let n = scored.len() as f64;
    let (mx, my) = (
        scored.iter().map(|p| p.0).sum::<f64>() / n,
        scored.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = scored.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / scored.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    let got = level1["slope_per_week"].as_f64().unwrap();
    assert!((got - slope).abs() < 1e-6, "slope {got} vs {slope}");
    // The MDC band is the plan's baseline at the current level.
    assert_close(
        &rocker["baseline"],
        &serde_json::to_value(&files_plan.baseline).unwrap(),
    );

    // `history`: one row per session, in order, with its date, level and score.
    let history = json(&proprio(dir.path(), &["history", "--json"]));
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    for ((now, result), row) in sessions.iter().zip(rows) {
        assert_eq!(&row["created_utc"], now);
        assert_eq!(row["level"], result["level"]);
        assert_eq!(row["result"]["score"], result["progress"]["score"]);
        assert_eq!(row["recording"], result["recording"]);
    }
    let table = proprio(dir.path(), &["history", "--drill", "rocker-hold"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert_eq!(text.lines().count(), 10, "{text}");
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("2026-01-03 10:00  rocker-hold"));
    let none = proprio(dir.path(), &["history", "--drill", "wobble-hold", "--json"]);
    assert_eq!(json(&none), serde_json::json!([]));
}

#[test]
fn users_have_their_own_history_and_plan() {
    let dir = tempfile::tempdir().unwrap();
    rocker(
        dir.path(),
        "2026-02-01T09:00:00Z",
        1,
        0.5,
        &["--user", "alice"],
    );
    rocker(
        dir.path(),
        "2026-02-01T10:00:00Z",
        2,
        0.5,
        &["--user", "bob"],
    );
    rocker(
        dir.path(),
        "2026-02-02T10:00:00Z",
        3,
        0.5,
        &["--user", "bob"],
    );
    let of = |user: &str| {
        json(&proprio(dir.path(), &["history", "--json", "--user", user]))
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((of("alice"), of("bob"), of("default")), (1, 2, 0));
    // The environment names the user too.
    let out = proprio_command(dir.path())
        .env("PROPRIO_USER", "bob")
        .args(["plan", "--json"])
        .output()
        .unwrap();
    let plans = json(&out);
    let rocker = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "rocker-hold")
        .unwrap();
    assert_eq!(rocker["baseline_trials"], 2);
    let bad = proprio(dir.path(), &["history", "--user", "no body"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a user name"));
    let bad_now = proprio_command(dir.path())
        .env("PROPRIO_NOW", "yesterday")
        .args(["drill", "rocker-hold", "--no-live"])
        .output()
        .unwrap();
    assert_eq!(bad_now.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad_now.stderr);
    assert!(
        err.contains("PROPRIO_NOW='yesterday' is not a UTC time"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Rows of a table, through SQLite directly.
fn count(path: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn migrations_from_an_empty_database_and_from_each_earlier_schema() {
    // Empty: every migration runs.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), "default").unwrap();
    assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len());
    assert_eq!(db.integrity_check().unwrap(), "ok");
    drop(db);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("proprio.sqlite"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Each earlier schema, built with its own SQL and holding a session, migrates with the
    // session kept.
    for version in 1..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proprio.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..version] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", version as i64)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO users (name, created_utc) VALUES ('ann', '2026-01-01T00:00:00Z');
                 INSERT INTO sessions (recording, created_utc, user_id, drill, level, sensor,
                     source, pipeline_version)
                 VALUES ('recordings/x.prec', '2026-01-01T00:00:00Z', 1, 'rocker-hold', 2,
                     'imu', 'sim', '4');",
            )
            .unwrap();
        }
        let mut db = Db::open(dir.path(), "ann").unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len());
        let history = db.history("ann", None).unwrap();
        assert_eq!(history.len(), 1, "from schema {version}");
        assert_eq!(history[0].level, 2);
        assert_eq!(history[0].recording, dir.path().join("recordings/x.prec"));
        // The tables of later schemas work.
        let checkin = CheckIn {
            guided_session: "g1".into(),
            at_utc: "2026-01-02T08:00:00Z".into(),
            pain_0_10: 3,
            feeling: "stiff".into(),
        };
        db.insert_checkin("ann", &checkin).unwrap();
        assert_eq!(db.checkins("ann").unwrap(), vec![checkin.clone()]);
        let too_much = CheckIn {
            pain_0_10: 11,
            ..checkin
        };
        assert!(db.insert_checkin("ann", &too_much).is_err());
        assert_eq!(db.integrity_check().unwrap(), "ok");
    }

    // A database from a newer proprio is refused in a sentence.
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("proprio.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = proprio(dir.path(), &["history"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer than this proprio knows"));
}

#[test]
fn the_file_only_layout_is_indexed_on_first_open() {
    let dir = tempfile::tempdir().unwrap();
    programme(dir.path(), 4);
    // Schema 0: recordings only (as every data directory was before the database), plus a cut-off
    // recording and one that is not a recording at all.
    for name in ["proprio.sqlite", "proprio.sqlite-wal", "proprio.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(name));
    }
    let files = recordings(dir.path());
    let bytes = std::fs::read(&files[1]).unwrap();
    let cut = dir
        .path()
        .join("recordings/20260201-100000-rocker-hold.prec");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.path().join("recordings/junk.prec"), b"not a recording").unwrap();

    let out = proprio(dir.path(), &["history", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let history = json(&out);
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 5, "4 sessions and the cut-off one: {stderr}");
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings.iter().any(|l| l.contains("junk.prec")));
    let cut_row = rows.iter().find(|r| r["result"].is_null()).unwrap();
    let note = cut_row["note"].as_str().unwrap();
    assert!(note.starts_with("cut off after "), "{note}");
    assert!(note.ends_with("samples recovered, no result"), "{note}");
    // The warning gives the same words.
    assert!(warnings.iter().any(|l| l.contains(note)), "{stderr}");
    // The samples the note gives are those `replay` recovers from the cut file: some, and
    // fewer than the whole recording's.
    let recovered: u64 = note
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in {note:?}"));
    let samples = |path: &Path| {
        // A cut-off recording replays with exit 3 and its result on standard output.
        let out = proprio(dir.path(), &["replay", path.to_str().unwrap(), "--json"]);
        let replayed: Value = serde_json::from_slice(&out.stdout).expect("a replay result");
        replayed["quality"]["samples_received"].as_u64().unwrap()
    };
    assert_eq!(recovered, samples(&cut));
    assert!(recovered > 0 && recovered < samples(&files[1]), "{note}");
    // Indexed once: the next open warns no more.
    let again = proprio(dir.path(), &["history"]);
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let db = Db::open(dir.path(), "default").unwrap();
    assert_eq!(db.results("default").unwrap(), results_in_files(dir.path()));
}

#[test]
fn rescore_adds_result_versions_and_leaves_the_recordings_alone() {
    let dir = tempfile::tempdir().unwrap();
    programme(dir.path(), 4);
    let files = recordings(dir.path());
    // A recording made by an older signal chain: its own result says version "3" and a task
    // score today's code does not give (written here, as an older proprio would have).
    let old_path = dir
        .path()
        .join("recordings/20251201-100000-rocker-hold.prec");
    {
        let mut reader = RecordingReader::new(std::io::BufReader::new(
            std::fs::File::open(&files[0]).unwrap(),
        ))
        .unwrap();
        let mut meta = reader.meta().clone();
        meta.created_utc = "2025-12-01T10:00:00Z".into();
        meta.pipeline_version = "3".into();
        let mut writer =
            RecordingWriter::new(std::fs::File::create(&old_path).unwrap(), &meta).unwrap();
        while let Ok(Some(record)) = reader.next_record() {
            let record = match record {
                Record::Result(text) => {
                    let mut result: Value = serde_json::from_str(&text).unwrap();
                    result["pipeline_version"] = "3".into();
                    result["score"] = 12.5.into();
                    Record::Result(result.to_string())
                }
                other => other,
            };
            writer.write(&record).unwrap();
        }
    }
    let before: Vec<Vec<u8>> = recordings(dir.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let db_path = dir.path().join("proprio.sqlite");

    let dry = proprio(dir.path(), &["rescore", "--dry-run", "--json"]);
    let changes = json(&dry);
    let changed: Vec<&Value> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["unchanged"] == false)
        .collect();
    assert_eq!(changed.len(), 1, "{changes}");
    assert_eq!(changed[0]["old_version"], "3");
    assert_eq!(changed[0]["new_version"], "4");
    assert_eq!(changed[0]["old_task_score"], 12.5);
    assert_eq!(count(&db_path, "results"), 5, "--dry-run stores nothing");

    let out = proprio(dir.path(), &["rescore", "--jobs", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("signal chain 3 -> 4"), "{text}");
    assert!(text.contains("1 changed, 4 unchanged"), "{text}");
    // One new row; the old result kept; the recordings untouched.
    assert_eq!(count(&db_path, "results"), 6);
    assert_eq!(count(&db_path, "sessions"), 5);
    let db = Db::open(dir.path(), "default").unwrap();
    let history = db.history("default", None).unwrap();
    let old = history.iter().find(|e| e.recording == old_path).unwrap();
    let versions = db.result_versions(old.session_id).unwrap();
    let described: Vec<(&str, &str)> = versions
        .iter()
        .map(|v| (v.origin.as_str(), v.pipeline_version.as_str()))
        .collect();
    assert_eq!(described, vec![("recorded", "3"), ("rescored", "4")]);
    assert_eq!(versions[0].task_score, 12.5);
    // The latest result is the history's.
    assert_eq!(old.result.as_ref().unwrap().pipeline_version, "4");
    let after: Vec<Vec<u8>> = recordings(dir.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(before == after, "re-scoring must not touch a recording");
    // Nothing left to change.
    let again = proprio(dir.path(), &["rescore"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 changed, 5 unchanged"));
}

/// A live session killed with SIGKILL loses at most its last second, and the database stays
/// sound.
#[cfg(unix)]
#[test]
fn kill_9_loses_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap();
    // The simulated device in real time, on a pseudo-terminal: the drill runs at wall-clock pace.
    let (_device, port) = sim_device(&["--seed", "7"]);
    let source = format!("serial:{port}");
    let mut drill = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_proprio"))
            .args([
                "drill",
                "rocker-hold",
                "--source",
                &source,
                "--duration",
                "60",
                "--no-live",
            ])
            .env("PROPRIO_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the drill"),
    );
    // The session's clock starts as its recording is created: wait for the file.
    let spawned = Instant::now();
    let recording = loop {
        if let Some(path) = std::fs::read_dir(dir.path().join("recordings"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path())
        {
            break path;
        }
        assert!(spawned.elapsed() < Duration::from_secs(10), "no recording");
        std::thread::sleep(Duration::from_millis(5));
    };
    let created = Instant::now();
    std::thread::sleep(Duration::from_millis(4300));
    drill.0.kill().unwrap(); // SIGKILL
    let ran_s = created.elapsed().as_secs_f64();
    drill.0.wait().unwrap();

    // The last complete record's host time, read here from the file.
    let mut reader = RecordingReader::new(std::io::BufReader::new(
        std::fs::File::open(&recording).unwrap(),
    ))
    .unwrap();
    let mut last_us = 0;
    while let Ok(Some(record)) = reader.next_record() {
        if let Record::Received { t_host_us, .. } = record {
            last_us = last_us.max(t_host_us);
        }
    }
    let covered_s = last_us as f64 / 1e6;
    assert!(
        covered_s >= ran_s - 1.0,
        "the recording covers {covered_s:.2} s of {ran_s:.2} s"
    );

    let out = proprio(
        dir.path(),
        &["replay", recording.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replayed["end"], "data-ended");
    // 100 samples a second while the device streamed (it starts within the first half second).
    let samples = replayed["quality"]["samples_received"].as_u64().unwrap() as f64;
    assert!(
        samples >= 100.0 * (ran_s - 1.5),
        "{samples} samples in {ran_s:.2} s"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut off after"));

    let db = Db::open(dir.path(), "default").unwrap();
    assert_eq!(db.integrity_check().unwrap(), "ok");
    // Indexed as cut off (the killed process's lock on it is gone).
    let history = json(&proprio(dir.path(), &["history", "--json"]));
    let note = history[0]["note"].as_str().unwrap_or_default().to_string();
    assert!(note.starts_with("cut off after"), "{history}");
}

#[test]
fn calibration_profiles_are_kept_per_device_and_user() {
    use nalgebra::{Matrix3, Vector3};
    use proprio::calibrate::{ImuRoutineResult, Profile, StoredProfile};
    use proprio::session::DeviceSummary;
    use proprio_calibration::sphere::{FitModel, SphereFit};
    use proprio_calibration::still::GyroBias;
    use proprio_calibration::{AffineCorrection, ImuCalibration};
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path(), "default").unwrap();
    let device = |firmware| DeviceSummary {
        kind: "wearable".into(),
        device_id: 0x1a2b,
        firmware,
        sample_rate_hz: 100.0,
    };
    let profile = |bias_rad_s: f64, user: Option<&str>, created: &str| StoredProfile {
        device_kind: proprio_protocol::DeviceKind::Wearable,
        device_id: 0x1a2b,
        user: user.map(str::to_string),
        created_utc: created.into(),
        profile: Profile::Imu(Box::new(ImuRoutineResult {
            calibration: ImuCalibration {
                gyr: AffineCorrection::offset_only(Vector3::new(bias_rad_s, 0.0, 0.0)),
                ..ImuCalibration::identity()
            },
            gyro: GyroBias {
                bias_rad_s: Vector3::new(bias_rad_s, 0.0, 0.0),
                noise_rad_s: Vector3::repeat(0.002),
                standard_error_rad_s: 0.0001,
                samples: 400,
            },
            accelerometer: SphereFit {
                correction: AffineCorrection {
                    offset: Vector3::zeros(),
                    matrix: Matrix3::identity(),
                },
                model: FitModel::CrossAxis,
                residual_rms: 0.001,
                coverage: 0.8,
                readings: 10,
            },
            magnetometer: None,
        })),
    };
    let first = profile(0.01, None, "2026-01-01T10:00:00Z");
    let second = profile(0.02, None, "2026-01-02T10:00:00Z");
    let alices = profile(0.03, Some("alice"), "2026-01-03T10:00:00Z");
    db.insert_profile(&device([1, 0, 0]), &first).unwrap();
    // After a firmware update the device is a new row; its profiles are still its own.
    db.insert_profile(&device([1, 1, 0]), &second).unwrap();
    db.insert_profile(&device([1, 1, 0]), &alices).unwrap();
    // The device's own profiles for everyone; a person's for that person only.
    let default = db.profiles("default").unwrap();
    assert_eq!(default.0, vec![first.clone(), second.clone()]);
    assert_eq!(default.latest().0, vec![second.clone()]);
    let alice = db.profiles("alice").unwrap();
    assert_eq!(alice.0, vec![first, second.clone(), alices.clone()]);
    // The latest of each kind for the device, whoever made it.
    assert_eq!(alice.latest().0, vec![alices]);
    assert_eq!(db.integrity_check().unwrap(), "ok");
}

/// Killed while indexing (one transaction for the lot), the database keeps all or none of it
/// and stays sound; the next run indexes what is missing.
#[cfg(unix)]
#[test]
fn kill_9_while_indexing_leaves_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    rocker(dir.path(), "2026-03-01T10:00:00Z", 1, 0.5, &[]);
    let original = recordings(dir.path()).remove(0);
    const COPIES: usize = 400;
    for i in 0..COPIES {
        let name = format!("recordings/20260302-1000{:02}-rocker-hold-{i}.prec", i % 60);
        std::fs::copy(&original, dir.path().join(name)).unwrap();
    }
    let forget = |dir: &Path| {
        for name in ["proprio.sqlite", "proprio.sqlite-wal", "proprio.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
    };
    // How long indexing them all takes here, uninterrupted. Its transaction is at the end:
    // kills at 30 % and 60 % of that land before it, and kills closely spaced over the last
    // fifth land before, during or after it (which, is up to the scheduler).
    forget(dir.path());
    let started = Instant::now();
    json(&proprio(dir.path(), &["history", "--json"]));
    let full_ms = started.elapsed().as_millis() as u64;
    let fractions = [30, 60, 80, 83, 86, 89, 92, 95, 98, 101, 104, 110];
    for delay_ms in fractions.map(|percent| full_ms * percent / 100) {
        forget(dir.path());
        let mut child = KillOnDrop(
            proprio_command(dir.path())
                .args(["history", "--json"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.0.kill().unwrap(); // SIGKILL, or nothing if it finished
        child.0.wait().unwrap();
        let path = dir.path().join("proprio.sqlite");
        if path.exists() {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let ok: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(ok, "ok", "killed after {delay_ms} ms");
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'sessions'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            if tables == 1 {
                let n: i64 = conn
                    .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
                    .unwrap();
                assert!(
                    n == 0 || n == COPIES as i64 + 1,
                    "{n} sessions after a kill at {delay_ms} ms"
                );
            }
        }
        let history = json(&proprio(dir.path(), &["history", "--json"]));
        assert_eq!(history.as_array().unwrap().len(), COPIES + 1);
    }
}

/// An imported recording has no result record: the history takes its replay as its result.
#[test]
fn an_imported_session_is_in_the_history_with_its_replayed_result() {
    let csv =
        crate::common::shared_data("imu-fusion-example", "sensor_data.csv").join("sensor_data.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = proprio(dir.path(), &["import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = proprio(dir.path(), &["history", "--json"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = json(&out);
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["note"].is_null(), "{history}");
    assert_eq!(rows[0]["drill"], "quiet-stance");
    // Its result is what `proprio replay` gives.
    let recording = rows[0]["recording"].as_str().unwrap();
    let replayed = json(&proprio(dir.path(), &["replay", recording, "--json"]));
    assert_eq!(rows[0]["result"]["end"], replayed["end"]);
    assert_eq!(rows[0]["result"]["duration_s"], replayed["duration_s"]);
}
