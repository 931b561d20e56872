//! The `proprio` command end to end: sim drills, replay, the serial link on a pseudo-terminal,
//! and one clear sentence for every bad input.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cmd::{json, proprio, sim_device, KillOnDrop};

/// `proprio drill rocker-hold --source SOURCE --duration S --no-live --json`, parsed.
fn drill_json(data_dir: &Path, source: &str, duration_s: &str) -> Value {
    let args = [
        "drill",
        "rocker-hold",
        "--source",
        source,
        "--duration",
        duration_s,
    ];
    json(&proprio(
        data_dir,
        &[&args[..], &["--no-live", "--json"]].concat(),
    ))
}

/// Replays the recording `live` names and checks that it prints the same result.
fn assert_replay_matches(data_dir: &Path, live: &Value) {
    let recording = live["recording"]
        .as_str()
        .expect("the result names its recording");
    let replayed = json(&proprio(data_dir, &["replay", recording, "--json"]));
    assert_eq!(*live, replayed);
}

/// The acceptance run: a 30 s sim drill, then its replay, print the same result.
#[test]
fn sim_drill_then_replay_print_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "drill",
        "rocker-hold",
        "--source",
        "sim",
        "--seed",
        "7",
        "--duration",
        "30",
        "--no-live",
        "--json",
    ];
    let live = json(&proprio(dir.path(), &args));
    for key in [
        "drill",
        "level",
        "source",
        "duration_s",
        "score",
        "metrics",
        "events",
        "quality",
        "recording",
        "pipeline_version",
    ] {
        assert!(live.get(key).is_some(), "missing {key} in {live}");
    }
    assert_eq!(live["drill"], "rocker-hold");
    assert_eq!(live["end"], "completed");
    let path = live["recording"].as_str().unwrap().to_string();
    let replayed = json(&proprio(dir.path(), &["replay", &path, "--json"]));
    assert_eq!(live, replayed);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "recordings are private");
        let dir_mode = std::fs::metadata(Path::new(&path).parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    // Same seed: the same recording, byte for byte after the header (which holds the start time).
    let again = json(&proprio(dir.path(), &args));
    let body = |p: &str| {
        let bytes = std::fs::read(p).unwrap();
        let header_len =
            16 + 5 + u32::from_le_bytes(bytes[17..21].try_into().unwrap()) as usize + 4;
        bytes[header_len..].to_vec()
    };
    let again_path = again["recording"].as_str().unwrap();
    assert_ne!(again_path, path);
    assert_eq!(body(&path), body(again_path));
}

#[test]
fn bad_input_gets_one_sentence_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.prec");
    std::fs::write(&junk, b"this is not a recording").unwrap();
    let missing = dir.path().join("missing.prec");
    let cases: Vec<Vec<String>> = vec![
        vec!["drill".into(), "cartwheel".into()],
        vec![
            "drill".into(),
            "rocker-hold".into(),
            "--level".into(),
            "9".into(),
        ],
        vec![
            "drill".into(),
            "rocker-hold".into(),
            "--duration".into(),
            "-3".into(),
        ],
        vec![
            "drill".into(),
            "rocker-hold".into(),
            "--skill".into(),
            "2".into(),
        ],
        vec![
            "drill".into(),
            "rocker-hold".into(),
            "--source".into(),
            "bluetooth".into(),
        ],
        vec![
            "drill".into(),
            "rocker-hold".into(),
            "--source".into(),
            "serial:/dev/proprio-no-such-port".into(),
            "--no-live".into(),
        ],
        vec!["replay".into(), missing.display().to_string()],
        vec!["replay".into(), junk.display().to_string()],
        vec![
            "sim-device".into(),
            "--stdio".into(),
            "--unplug".into(),
            "1:1".into(),
        ],
        vec![
            "sim-device".into(),
            "--serial".into(),
            "--format".into(),
            "witmotion-ble".into(),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = proprio(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.trim().is_empty(), "{args:?}: no message");
        eprintln!("{args:?} -> {}", stderr.lines().next().unwrap_or(""));
    }
    let out = proprio(
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "serial:/dev/proprio-no-such-port",
            "--no-live",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    // Cues: an unknown kind is a usage error; `none` with others is one sentence.
    let out = proprio(
        dir.path(),
        &["drill", "rocker-hold", "--cues", "visual,smell"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = proprio(
        dir.path(),
        &["drill", "rocker-hold", "--cues", "none,sound", "--no-live"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "proprio: --cues none cannot be combined with other cues"
    );
}

#[test]
fn a_cut_off_recording_replays_what_it_holds_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let live = json(&proprio(
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--seed",
            "2",
            "--duration",
            "20",
            "--no-live",
            "--json",
        ],
    ));
    let path = live["recording"].as_str().unwrap();
    let bytes = std::fs::read(path).unwrap();
    let cut = dir.path().join("cut.prec");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = proprio(dir.path(), &["replay", cut.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partial: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(partial["end"], "data-ended");
    assert!(partial["duration_s"].as_f64().unwrap() < 20.0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut off"));
    // A newer format version is refused with a sentence saying so.
    let mut newer = bytes.clone();
    newer[12] = 9;
    let newer_path = dir.path().join("newer.prec");
    std::fs::write(&newer_path, newer).unwrap();
    let out = proprio(dir.path(), &["replay", newer_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer"));
}

/// The first real link: the simulator as a device on a pseudo-terminal, read through
/// serialport, with a replay that matches.
#[cfg(unix)]
#[test]
fn serial_drill_against_the_simulated_device_on_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    let (_device, port) = sim_device(&["--seed", "3"]);
    assert!(port.starts_with("/dev/"), "sim-device printed {port:?}");
    let source = format!("serial:{port}");
    let live = drill_json(dir.path(), &source, "5");
    assert_eq!(live["end"], "completed");
    let q = &live["quality"];
    assert!(q["samples_received"].as_u64().unwrap() >= 480, "{q}");
    assert_eq!(q["crc_errors"], 0);
    assert_eq!(live["device"]["kind"], "wearable");
    assert_replay_matches(dir.path(), &live);
    // The device keeps running: a second session on the same port works too.
    let second = drill_json(dir.path(), &source, "2");
    assert_eq!(second["end"], "completed");
}

/// A session killed mid-drill (SIGKILL: no chance to clean up) leaves a recording that replays.
#[cfg(unix)]
#[test]
fn a_killed_session_leaves_a_replayable_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (_device, port) = sim_device(&["--seed", "4"]);
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
    std::thread::sleep(std::time::Duration::from_secs(3));
    drill.0.kill().unwrap(); // SIGKILL
    drill.0.wait().unwrap();
    let recordings: Vec<_> = std::fs::read_dir(dir.path().join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recordings.len(), 1);
    let out = proprio(
        dir.path(),
        &["replay", recordings[0].to_str().unwrap(), "--json"],
    );
    // No result record: the replay says the recording was cut off (exit 3), and the data is
    // there.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let replayed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replayed["end"], "data-ended");
    // Flushed every quarter second: nearly all of about 3 s of 100 Hz data survive.
    let samples = replayed["quality"]["samples_received"].as_u64().unwrap();
    assert!(samples >= 100, "only {samples} samples survived the kill");
}

/// The device is unplugged twice mid-drill (its pseudo-terminal closed, a new one behind the
/// same path): proprio reconnects, the drill pauses and completes, and the replay matches.
#[cfg(unix)]
#[test]
fn serial_drill_survives_unplugging() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("device");
    let link_arg = link.to_str().unwrap();
    let (_device, shown) = sim_device(&[
        "--seed", "5", "--unplug", "6:1.5", "--unplug", "9:1", "--link", link_arg,
    ]);
    assert_eq!(shown, link_arg);
    let source = format!("serial:{}", link.display());
    let live = drill_json(dir.path(), &source, "6");
    assert_eq!(live["end"], "completed");
    let q = &live["quality"];
    assert_eq!(q["disconnects"], 2, "{q}");
    assert_eq!(q["reconnects"], 2, "{q}");
    assert!(
        q["frames_lost"].as_u64().unwrap() >= 200,
        "2.5 s unplugged at 100 Hz: {q}"
    );
    assert!(
        live["duration_s"].as_f64().unwrap() > 8.0,
        "the drill pauses while unplugged"
    );
    let measured = live["metrics"]["measured_s"].as_f64().unwrap();
    assert!((measured - 6.0).abs() < 0.05, "{measured}");
    assert_replay_matches(dir.path(), &live);
}

/// A WitMotion WT901C (simulated on a pseudo-terminal, with line noise and corrupted frames)
/// drives the same drill; times come from the host and the quality record says so.
#[cfg(unix)]
#[test]
fn witmotion_serial_drill_with_noise_on_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_device, port) = sim_device(&[
        "--format",
        "witmotion-serial",
        "--seed",
        "6",
        "--sim-corrupt",
        "0.02",
        "--sim-garbage",
        "0.02",
    ]);
    let source = format!("witmotion-serial:{port}");
    let live = drill_json(dir.path(), &source, "4");
    assert_eq!(live["end"], "completed");
    let q = &live["quality"];
    assert_eq!(q["timestamps"], "host");
    assert!(q["crc_errors"].as_u64().unwrap() > 0, "{q}");
    assert!(q["samples_received"].as_u64().unwrap() >= 380, "{q}");
    assert_replay_matches(dir.path(), &live);
    // A balance board cannot drive a board-tilt drill: one sentence, before anything starts.
    let out = proprio(
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "hx711-text:/dev/ttyUSB9",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("balance board"));
}

/// A port where nothing arrives, and one where only noise arrives (a baud-rate mismatch looks
/// like this): each ends the drill with one sentence after 10 s.
#[cfg(unix)]
#[test]
fn a_silent_or_garbled_device_gets_one_sentence() {
    // A pseudo-terminal whose device end writes `noise` bytes every 10 ms (none if 0).
    const FAKE_PORT: &str = "import os, pty, sys, time\n\
        m, s = pty.openpty()\n\
        print(os.ttyname(s), flush=True)\n\
        n = int(sys.argv[1])\n\
        while True:\n\
        \x20   os.write(m, os.urandom(n)) if n else None\n\
        \x20   time.sleep(0.01)\n";
    let run = |noise: &str| {
        let mut port = KillOnDrop(
            Command::new("python3")
                .args(["-c", FAKE_PORT, noise])
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 runs"),
        );
        let mut path = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(port.0.stdout.take().unwrap()),
            &mut path,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = format!("witmotion-serial:{}", path.trim());
        let out = proprio(dir.path(), &["drill", "rocker-hold", "--source", &source]);
        (out, port)
    };
    let silent = std::thread::spawn(move || run("0").0);
    let (garbled, _port) = run("7");
    let silent = silent.join().unwrap();
    for (out, expected) in [(silent, "no data from"), (garbled, "none of it decodes")] {
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A reader that goes away (`proprio drill … | head -1`) ends the program quietly: no panic.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::cmd::proprio_command(dir.path())
        .args(["drill", "rocker-hold", "--duration", "5", "--no-live"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proprio");
    // Closed long before the simulated drill has a result to print.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
