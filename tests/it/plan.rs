//! Scores and the progression plan end to end: a simulated programme of sessions in one data
//! directory, checked against the plan's rules as docs/scoring.md states them (the rules are
//! applied here independently, to the results the sessions printed).

use std::path::{Path, PathBuf};

use proprio::drill::DrillKind;
use proprio::recording::{Control, Record, RecordingReader, RecordingWriter};
use proprio::session::{Session, SessionReport};
use serde_json::Value;

use crate::cmd::{json, proprio};

/// `proprio drill DRILL --source sim --no-live --json --seed N --skill S EXTRA…`, parsed.
fn drill(dir: &Path, drill: &str, seed: u64, skill: f64, extra: &[&str]) -> Value {
    let (seed, skill) = (seed.to_string(), skill.to_string());
    let mut args = vec![
        "drill",
        drill,
        "--source",
        "sim",
        "--no-live",
        "--json",
        "--seed",
        &seed,
        "--skill",
        &skill,
    ];
    args.extend_from_slice(extra);
    json(&proprio(dir, &args))
}

/// `proprio plan --json`, the entry for `drill`.
fn plan_of(dir: &Path, drill: &str) -> Value {
    let plans = json(&proprio(dir, &["plan", "--json"]));
    plans
        .as_array()
        .expect("an array of drills")
        .iter()
        .find(|p| p["drill"] == drill)
        .cloned()
        .expect("the drill is in the plan")
}

/// The plan's rules, applied to one drill's results (oldest first): the level they lead to.
pub(crate) fn expected_level(results: &[Value], top: u64) -> u64 {
    let (mut level, mut good, mut failed) = (1, 0, 0);
    for r in results {
        if r["end"] == "pain-stop" {
            (level, good, failed) = ((level - 1).max(1), 0, 0);
            continue;
        }
        if r["level"].as_u64() != Some(level) {
            continue;
        }
        if r["end"] != "completed" || !r["refused"].is_null() {
            (good, failed) = (0, failed + 1);
            if failed == 2 {
                (level, good, failed) = ((level - 1).max(1), 0, 0);
            }
            continue;
        }
        failed = 0;
        let p = &r["progress"];
        let real = p["verdict"] == "better" || p["mode"] == "maintenance";
        good = if p["score"].as_f64().is_some_and(|s| s >= 80.0) && real {
            good + 1
        } else {
            0
        };
        if good == 3 && level < top {
            (level, good, failed) = (level + 1, 0, 0);
        }
    }
    level
}

/// Runs a session, keeps its result, and checks that the plan agrees with the rules.
fn session(dir: &Path, results: &mut Vec<Value>, seed: u64, skill: f64, extra: &[&str]) -> Value {
    let result = drill(dir, "rocker-hold", seed, skill, extra);
    results.push(result.clone());
    let plan = plan_of(dir, "rocker-hold");
    assert_eq!(
        plan["level"].as_u64(),
        Some(expected_level(results, 5)),
        "after {} sessions: {plan}",
        results.len()
    );
    result
}

/// Adds a pain stop `at_s` seconds (host time) into the recording at `path`, as if the user had
/// pressed the pain key then, and writes it back with the result of that session.
fn add_pain_stop(path: &Path, at_s: f64) -> SessionReport {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = RecordingReader::new(&bytes[..]).unwrap();
    let meta = reader.meta().clone();
    let mut session = Session::new(meta.clone());
    let mut out = Vec::new();
    let mut writer = RecordingWriter::new(&mut out, &meta).unwrap();
    let mut events = Vec::new();
    let mut stopped = false;
    while let Some(record) = reader.next_record().unwrap() {
        if matches!(record, Record::Result(_)) {
            continue;
        }
        if let Record::Received { t_host_us, .. } = &record {
            if !stopped && *t_host_us as f64 >= at_s * 1e6 {
                let stop = Record::Control {
                    t_host_us: *t_host_us,
                    control: Control::PainStop,
                };
                session.handle(&stop, &mut events);
                writer.write(&stop).unwrap();
                stopped = true;
            }
        }
        session.handle(&record, &mut events);
        writer.write(&record).unwrap();
    }
    let report = session.finish();
    let result = serde_json::to_string(&report).unwrap();
    writer.write(&Record::Result(result)).unwrap();
    drop(writer);
    std::fs::write(path, out).unwrap();
    report
}

fn recording(result: &Value) -> PathBuf {
    PathBuf::from(result["recording"].as_str().expect("a recording"))
}

/// The acceptance run of the plan: baseline, progress, moving up, a pain stop, refused sessions.
#[test]
fn a_programme_climbs_the_ladder_and_steps_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut results = Vec::new();

    // A fresh data directory: level 1, as before there was a plan. Three baseline trials of a
    // beginner have no progress score.
    for seed in 1..=3 {
        let r = session(d, &mut results, seed, 0.3, &[]);
        assert_eq!(r["level"], 1);
        assert!(r["refused"].is_null(), "{}", r["refused"]);
        assert!(
            r["progress"].is_null(),
            "a baseline trial has no progress score"
        );
    }
    let plan = plan_of(d, "rocker-hold");
    assert_eq!(plan["baseline_trials"], 3);
    assert_eq!(plan["baseline"].as_array().unwrap().len(), 2);

    // Then a better session, and three of an expert: scored against the baseline, better skill
    // giving a better score; three in a row at 80 or more with a real change move up.
    let middle = session(d, &mut results, 4, 0.6, &[]);
    let mut expert_scores = Vec::new();
    for seed in 5..=7 {
        let r = session(d, &mut results, seed, 0.95, &[]);
        let p = &r["progress"];
        assert_eq!(p["verdict"], "better", "{p}");
        expert_scores.push(p["score"].as_f64().unwrap());
    }
    let middle_score = middle["progress"]["score"].as_f64().unwrap();
    assert!(
        expert_scores.iter().all(|&s| s > middle_score && s >= 80.0),
        "skill 0.6: {middle_score}, 0.95: {expert_scores:?}"
    );
    let plan = plan_of(d, "rocker-hold");
    assert_eq!(plan["level"], 2, "{plan}");
    assert_eq!(plan["last_change"]["kind"], "advanced");

    // Without --level the drill runs at the plan's level; `proprio plan` says so in words.
    let at_two = session(d, &mut results, 8, 0.95, &[]);
    assert_eq!(at_two["level"], 2);
    let words = String::from_utf8(proprio(d, &["plan"]).stdout).unwrap();
    assert!(words.contains("rocker-hold: level 2 of 5"), "{words}");
    assert!(words.contains("sessions at this level: 1"), "{words}");

    // A pain stop during that session steps the plan back at once.
    let report = add_pain_stop(&recording(&at_two), 6.0);
    assert_eq!(report.end, proprio::drill::EndReason::PainStop);
    let replayed = json(&proprio(
        d,
        &["replay", recording(&at_two).to_str().unwrap(), "--json"],
    ));
    assert_eq!(replayed["end"], "pain-stop");
    *results.last_mut().unwrap() = replayed;
    // The history database took the session as it was closed: re-scoring brings the edited
    // recording's result in (as a new result of the same session).
    let rescored = proprio(d, &["rescore"]);
    assert!(rescored.status.success());
    assert!(String::from_utf8_lossy(&rescored.stdout).contains("1 changed"));
    let stops = proprio::app::db::Db::open(d, "default")
        .unwrap()
        .pain_stops("default")
        .unwrap();
    assert_eq!(stops.len(), 1);
    assert_eq!((stops[0].1, stops[0].2), (DrillKind::RockerHold, 2));
    let plan = plan_of(d, "rocker-hold");
    assert_eq!(plan["level"].as_u64(), Some(expected_level(&results, 5)));
    assert_eq!(plan["level"], 1);
    let words = String::from_utf8(proprio(d, &["plan"]).stdout).unwrap();
    assert!(words.contains("pain stop"), "{words}");

    // Back up (the level-1 baseline stands), then two sessions refused for heavy loss step
    // back again.
    for seed in 9..=11 {
        session(d, &mut results, seed, 0.95, &[]);
    }
    assert_eq!(plan_of(d, "rocker-hold")["level"], 2);
    for seed in 12..=13 {
        let r = session(d, &mut results, seed, 0.95, &["--sim-drop", "0.2"]);
        let why = r["refused"].as_str().expect("refused by the gate");
        assert!(why.contains("of the samples were lost"), "{why}");
        assert!(r["progress"].is_null());
    }
    assert_eq!(plan_of(d, "rocker-hold")["level"], 1);
}

/// A result scored against a baseline replays to the same result, progress and verdict
/// included (the baseline travels in the recording's header).
#[test]
fn a_scored_session_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut scores = Vec::new();
    for (seed, skill) in [(1, 0.2), (2, 0.2), (3, 0.2), (4, 0.5), (5, 0.9)] {
        let r = drill(d, "quiet-stance", seed, skill, &[]);
        if seed > 3 {
            scores.push(r["progress"]["score"].as_f64().expect("scored"));
            let replayed = json(&proprio(
                d,
                &["replay", recording(&r).to_str().unwrap(), "--json"],
            ));
            assert_eq!(r, replayed);
        } else {
            assert!(r["progress"].is_null());
        }
    }
    assert!(scores[1] > scores[0], "skill 0.5 and 0.9: {scores:?}");
    // A hold too short to score is refused, in one sentence, and kept.
    let short = drill(d, "quiet-stance", 6, 0.9, &["--duration", "5"]);
    let why = short["refused"].as_str().expect("refused");
    assert!(why.starts_with("Only 5.0 s were measured"), "{why}");
    assert!(short["progress"].is_null());
    assert!(recording(&short).is_file());
}

/// A corrupt file and a cut-off one in the data directory are skipped with one warning each.
#[test]
fn unreadable_recordings_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = drill(d, "rocker-hold", 1, 0.5, &[]);
    let recordings = d.join("recordings");
    std::fs::write(recordings.join("junk.prec"), b"not a recording at all").unwrap();
    let bytes = std::fs::read(recording(&r)).unwrap();
    std::fs::write(recordings.join("cut.prec"), &bytes[..bytes.len() / 2]).unwrap();
    let out = proprio(d, &["plan", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    for name in ["junk.prec", "cut.prec"] {
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.contains("warning") && l.contains(name))
                .count(),
            1,
            "{stderr}"
        );
    }
    let plans = json(&out);
    let rocker = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "rocker-hold")
        .unwrap();
    assert_eq!(rocker["sessions_at_level"], 1, "only the good file counts");
    // The drill itself reads the same history and still runs.
    let again = drill(d, "rocker-hold", 2, 0.5, &[]);
    assert_eq!(again["level"], 1);
}
