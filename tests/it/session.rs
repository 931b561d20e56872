//! `proprio session` unattended (no terminal): the check-in from the command line, today's
//! drills by the documented rule (docs: README, "Guided session"), each recorded with the
//! check-in, the summary file, and the refusal at high pain.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use proprio::recording::{Record, RecordingReader};
use serde_json::Value;

use crate::cmd::proprio;

/// The one session summary in `dir`.
fn the_summary(dir: &Path) -> Value {
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("sessions"))
        .expect("a sessions directory")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the summary is private");
    }
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).expect("JSON")
}

#[test]
fn an_unattended_session_runs_todays_drills_and_records_the_check_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = proprio(
        dir.path(),
        &[
            "session",
            "--source",
            "sim",
            "--no-live",
            "--pain",
            "2",
            "--feeling",
            "same",
            "--rest",
            "0",
            "--seed",
            "4",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    let summary = the_summary(dir.path());
    let id = summary["id"].as_str().unwrap();
    assert_eq!(summary["check_in"]["pain_nrs"], 2);
    assert_eq!(summary["check_in"]["feeling"], "same");
    assert_eq!(summary["end"], "completed");
    assert!(summary["pain_stop"].is_null());
    // On the wearable (the simulator's default), easiest first: the rule in the README.
    let drills: Vec<&str> = summary["drills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["drill"].as_str().unwrap())
        .collect();
    assert_eq!(drills, ["neutral-spine", "quiet-stance", "tandem-walk"]);
    for (i, drill) in summary["drills"].as_array().unwrap().iter().enumerate() {
        let name = drill["drill"].as_str().unwrap();
        let kind = proprio::drill::DrillKind::from_name(name).unwrap();
        // Each drill's purpose and instructions went out before it ran.
        assert!(stderr.contains(kind.purpose()), "{name}: {stderr}");
        assert!(stderr.contains(kind.summary()), "{name}: {stderr}");
        assert_eq!(drill["level"], 1, "a first session is at level 1");
        assert!(!drill["end"].is_null());
        let path = drill["recording"].as_str().unwrap();
        let mut reader = RecordingReader::new(BufReader::new(File::open(path).unwrap())).unwrap();
        let guided = reader
            .meta()
            .guided
            .clone()
            .expect("the check-in in the header");
        assert_eq!(guided.session, id);
        assert_eq!(guided.pain_nrs, 2);
        assert_eq!(guided.feeling, proprio::guided::Feeling::Same);
        assert_eq!(
            (guided.drill_number, guided.drills_planned),
            (i as u8 + 1, 3)
        );
        // The summary's end and score are the recording's result's.
        let mut result = None;
        while let Some(record) = reader.next_record().unwrap() {
            if let Record::Result(json) = record {
                result = Some(serde_json::from_str::<Value>(&json).unwrap());
            }
        }
        let result = result.expect("a result record");
        assert_eq!(result["end"], drill["end"]);
        if result["refused"].is_null() {
            assert_eq!(result["score"], drill["score"]);
        }
    }
    assert!(stdout.contains(&format!("guided session {id}")), "{stdout}");
    assert!(stdout.contains("Check-in: pain 2 of 10"), "{stdout}");

    // A second session on the balance board with moderate pain: its two easiest drills.
    let out = proprio(
        dir.path(),
        &[
            "session",
            "--source",
            "sim",
            "--sensor",
            "board",
            "--no-live",
            "--pain",
            "5",
            "--feeling",
            "worse",
            "--rest",
            "0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("quiet-stance level 1"), "{stdout}");
    assert!(stdout.contains("weight-shift level 1"), "{stdout}");
    assert!(!stdout.contains("tandem-stance level"), "{stdout}");
}

#[test]
fn high_pain_refuses_the_drills_and_advises_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = proprio(
        dir.path(),
        &[
            "session",
            "--source",
            "sim",
            "--no-live",
            "--pain",
            "8",
            "--feeling",
            "worse",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no drills today"), "{stdout}");
    assert!(!dir.path().join("recordings").exists(), "no drill ran");
    let summary = the_summary(dir.path());
    assert_eq!(summary["end"], "rest-advised");
    assert_eq!(summary["check_in"]["pain_nrs"], 8);
    assert_eq!(summary["check_in"]["allowance"], "rest");
    assert_eq!(summary["drills"].as_array().map(Vec::len), Some(0));
}

#[test]
fn without_a_terminal_the_check_in_must_be_given() {
    let dir = tempfile::tempdir().unwrap();
    for (args, names) in [
        (&["session", "--no-live"][..], "--pain"),
        (&["session", "--no-live", "--pain", "3"][..], "--feeling"),
        (
            &["session", "--no-live", "--pain", "3", "--feeling", "meh"][..],
            "better, same or worse",
        ),
        (&["session", "--pain", "11", "--feeling", "same"][..], "11"),
        (
            &[
                "session",
                "--no-live",
                "--pain",
                "1",
                "--feeling",
                "same",
                "--drills",
                "weight-shift",
            ][..],
            "weight-shift needs the balance board",
        ),
    ] {
        let out = proprio(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!dir.path().join("sessions").exists());
}
