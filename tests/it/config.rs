//! The configuration file: its values are the flags' defaults (flag > environment > file >
//! built-in), and a bad file is one sentence naming it and the line.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use proprio::recording::RecordingReader;
use serde_json::Value;

/// `proprio ARGS…` with `env` and nothing else of proprio's environment.
fn run(env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proprio"));
    command
        .env_remove("PROPRIO_DATA_DIR")
        .env_remove("PROPRIO_USER")
        .env_remove("PROPRIO_CONFIG")
        .stdin(Stdio::null())
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run proprio")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The users of the sessions in a data directory's history, as `--user NAME` finds them.
fn sessions_of(data: &Path, user: &str) -> usize {
    let out = run(
        &[],
        &[
            "history",
            "--json",
            "--data-dir",
            data.to_str().unwrap(),
            "--user",
            user,
        ],
    );
    ok_json(&out).as_array().unwrap().len()
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (from_file, from_env, from_flag) = (
        dir.path().join("f"),
        dir.path().join("e"),
        dir.path().join("g"),
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "# proprio's defaults\nuser = \"carol\"\ndata_dir = \"{}\"\nboard_geometry = \"500x300\"\ncues = [\"visual\"]\n",
            from_file.display()
        ),
    )
    .unwrap();
    let drill = [
        "drill",
        "quiet-stance",
        "--no-live",
        "--json",
        "--duration",
        "10",
    ];
    // The file alone: its user, data directory and board.
    let out = run(&[("PROPRIO_CONFIG", &config)], &drill);
    let result = ok_json(&out);
    let recording = result["recording"].as_str().unwrap();
    assert!(
        recording.starts_with(from_file.to_str().unwrap()),
        "{recording}"
    );
    let reader = RecordingReader::new(std::fs::File::open(recording).unwrap()).unwrap();
    let meta = reader.meta();
    assert_eq!(
        (
            meta.pipeline.cop.geometry.width_mm,
            meta.pipeline.cop.geometry.depth_mm
        ),
        (500.0, 300.0)
    );
    assert_eq!(meta.user.as_deref(), Some("carol"));
    let cues = meta.cues.unwrap();
    assert!(cues.visual && !cues.sound && !cues.haptic);
    assert_eq!(sessions_of(&from_file, "carol"), 1);

    // The environment beats the file.
    let user_env = Path::new("dave");
    let out = run(
        &[
            ("PROPRIO_CONFIG", &config),
            ("PROPRIO_DATA_DIR", &from_env),
            ("PROPRIO_USER", user_env),
        ],
        &drill,
    );
    ok_json(&out);
    assert_eq!(sessions_of(&from_env, "dave"), 1);
    assert_eq!(sessions_of(&from_env, "carol"), 0);

    // Flags beat both (--config names the file as PROPRIO_CONFIG does).
    let mut args = drill.to_vec();
    let (flag_dir, config_arg) = (from_flag.to_str().unwrap(), config.to_str().unwrap());
    args.extend([
        "--data-dir",
        flag_dir,
        "--user",
        "erin",
        "--board-geometry",
        "433x238",
    ]);
    args.extend(["--config", config_arg]);
    let out = run(
        &[("PROPRIO_DATA_DIR", &from_env), ("PROPRIO_USER", user_env)],
        &args,
    );
    let result = ok_json(&out);
    assert_eq!(sessions_of(&from_flag, "erin"), 1);
    let reader =
        RecordingReader::new(std::fs::File::open(result["recording"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(reader.meta().pipeline.cop.geometry.width_mm, 433.0);
}

#[test]
fn a_bad_configuration_file_is_one_sentence_naming_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("user = \"carol\"\n\ncolour = \"red\"\n", "line 3", "colour"),
        (
            "user = \"carol\"\nboard_geometry = \"big\"\n",
            "line 2",
            "board_geometry",
        ),
        ("[source\n", "line 1", ""),
        ("cues = [\"visual\", \"smell\"]\n", "line 1", "smell"),
        ("board_limit_deg = 90\n", "line 1", "board limit"),
        ("user = \"no body\"\n", "line 1", "not a user name"),
    ];
    for (i, (text, line, words)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = run(
            &[("PROPRIO_DATA_DIR", dir.path())],
            &["plan", "--config", path.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{}, {line}", path.display())),
            "{err}"
        );
        assert!(err.contains(words), "{err}");
    }
    // A file named but missing is an error too.
    let out = run(
        &[("PROPRIO_CONFIG", &dir.path().join("none.toml"))],
        &["drills"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.toml"));
}

/// The file's source is the default of every command that reads a device: a drill, a guided
/// session and a calibration (a board's source, which a calibration of the IMU refuses).
#[test]
fn the_files_source_reaches_the_session_and_calibrate_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "source = \"hx711-text:/nonexistent/board\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let env = [("PROPRIO_CONFIG", config.as_path())];
    for args in [
        &[
            "session",
            "--no-live",
            "--pain",
            "2",
            "--feeling",
            "same",
            "--rest",
            "0",
        ][..],
        &["drill", "quiet-stance", "--no-live"][..],
    ] {
        let out = run(&env, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("/nonexistent/board"), "{args:?}: {err}");
    }
    let out = run(&env, &["calibrate", "imu", "--no-live"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("'hx711-text:/nonexistent/board' is a balance board"),
        "{err}"
    );
}
