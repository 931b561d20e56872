//! The live view as a person meets it: `proprio drill` in a terminal (tmux: keys in with
//! send-keys, the screen read with capture-pane), on the simulator in real time.
//!
//! Needs tmux. Without it these tests say so and pass, unless `PROPRIO_REQUIRE_TMUX_TESTS=1`
//! (set by `.ci/run`, which installs tmux) makes that a failure.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use proprio::recording::{Control, Record, RecordingReader};
use serde_json::Value;

/// How long to wait for something to appear on the screen.
const PATIENCE: Duration = Duration::from_secs(30);

/// True when the test may go on; otherwise says why it is skipped (or fails, in CI).
fn can_run(test: &str) -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|out| out.status.success());
    if found {
        return true;
    }
    if std::env::var_os("PROPRIO_REQUIRE_TMUX_TESTS").is_some() {
        panic!("{test} must run here but cannot: tmux is not installed");
    }
    eprintln!("skipping {test}: tmux is not installed");
    false
}

/// A private tmux server with one window running `sh`, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("proprio-{name}-{}", std::process::id()),
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "env PS1='$ ' sh",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Types `keys` (tmux key names: "Enter", or literal text).
    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys: {out:?}");
    }

    /// Types a line into the shell.
    fn type_line(&self, line: &str) {
        self.send(&["-l", line]);
        self.send(&["Enter"]);
    }

    /// The screen as text.
    fn screen(&self) -> String {
        // Wrapped lines joined: a long line reads as one.
        let out = self.run(&["capture-pane", "-p", "-J", "-t", "t"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tmux format of the pane (`#{alternate_on}`…).
    fn pane(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "t", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `ready` says yes; fails naming `what` after [`PATIENCE`].
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The number after `label` on the screen (`TIME LEFT 23 s` → 23).
fn number_after(screen: &str, label: &str) -> Option<u32> {
    let rest = &screen[screen.find(label)? + label.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The exit status the shell printed after proprio (`EXIT=0` on a line of its own; the typed
/// command holds `EXIT=$?` within its line).
fn exit_status(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find_map(|line| line.trim().strip_prefix("EXIT="))
}

/// A shell line that runs proprio with its data in `data_dir`, then prints its exit status.
fn proprio_line(data_dir: &Path, args: &str) -> String {
    format!(
        "PROPRIO_DATA_DIR='{}' '{}' {args}; echo \"EXIT=$?\"",
        data_dir.display(),
        env!("CARGO_BIN_EXE_proprio")
    )
}

fn the_recording(data_dir: &Path) -> PathBuf {
    let recordings: Vec<PathBuf> = std::fs::read_dir(data_dir.join("recordings"))
        .expect("a recordings directory")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    recordings[0].clone()
}

/// The acceptance run: a simulated rocker hold shows its gauge, band, countdown and score; it
/// survives a resize; the pain key ends it at once; the recording holds the pain stop and a
/// result that says so; the terminal is the shell's again.
#[test]
fn a_simulated_drill_in_a_terminal_shows_the_drill_and_stops_on_the_pain_key() {
    if !can_run("a_simulated_drill_in_a_terminal_shows_the_drill_and_stops_on_the_pain_key") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("pain", 100, 30);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        "drill rocker-hold --source sim --seed 3 --duration 60",
    ));

    // The hold runs once the simulated person has stepped on and levelled the board.
    let running = tmux.wait_for("the countdown to run", |s| {
        number_after(s, "TIME LEFT").is_some_and(|left| left < 60)
    });
    assert_eq!(
        tmux.pane("#{alternate_on}"),
        "1",
        "the view has its own screen"
    );
    for expected in [
        "rocker-board hold",
        "band ±", // the band in the title and under the gauge
        "┃",      // the band's edges on the gauge
        "█",      // the reading on the gauge, the big digits
        "board tilt",
        "SCORE",
        "p: STOP, IT HURTS",
    ] {
        assert!(
            running.contains(expected),
            "{expected:?} not on the screen:\n{running}"
        );
    }
    let first_left = number_after(&running, "TIME LEFT").unwrap();
    let later = tmux.wait_for("the countdown to count down", |s| {
        number_after(s, "TIME LEFT").is_some_and(|left| left < first_left)
    });
    assert!(number_after(&later, "SCORE").is_some_and(|score| score <= 100));

    // Resized small: the compact form, the keys still on the last row; then back.
    tmux.run(&["resize-window", "-t", "t", "-x", "60", "-y", "16"]);
    let small = tmux.wait_for("the compact view", |s| s.contains(" · SCORE "));
    let last_row = small.lines().rfind(|l| !l.trim().is_empty());
    assert!(
        last_row.is_some_and(|row| row.contains("p: STOP, IT HURTS")),
        "{small}"
    );
    tmux.run(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    tmux.wait_for("the roomy view again", |s| {
        s.contains("SCORE") && !s.contains(" · SCORE ")
    });

    tmux.send(&["p"]);
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert!(after.contains("stopped because it hurt"), "{after}");

    // The terminal is the shell's again: the normal screen, the cursor shown, lines read.
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert_eq!(tmux.pane("#{cursor_flag}"), "1");
    tmux.type_line("echo \"shell-$((6 * 7))\"");
    tmux.wait_for("the shell to answer", |s| s.contains("shell-42"));

    // The recording holds the key as a pain stop, and its result says so.
    let path = the_recording(dir.path());
    let mut reader = RecordingReader::new(BufReader::new(File::open(&path).unwrap())).unwrap();
    assert_eq!(
        reader.meta().cues.map(|c| (c.visual, c.sound, c.haptic)),
        Some((true, true, true)),
        "the default cues are recorded"
    );
    let (mut pain_stops, mut result) = (0, None);
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            Record::Control {
                control: Control::PainStop,
                ..
            } => pain_stops += 1,
            Record::Result(json) => result = Some(json),
            _ => {}
        }
    }
    assert_eq!(pain_stops, 1);
    let result: Value = serde_json::from_str(&result.expect("a result record")).unwrap();
    assert_eq!(result["end"], "pain-stop");
}

/// `q` stops the drill as the user's stop, with the cues chosen on the command line recorded,
/// and the terminal given back alike.
#[test]
fn the_stop_key_ends_the_drill_and_the_chosen_cues_are_recorded() {
    if !can_run("the_stop_key_ends_the_drill_and_the_chosen_cues_are_recorded") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("stop", 90, 26);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        "drill neutral-spine --source sim --duration 30 --cues visual,sound --json",
    ));
    tmux.wait_for("the neutral-spine view", |s| {
        s.contains("neutral-spine hold") && s.contains("p: STOP, IT HURTS")
    });
    tmux.send(&["q"]);
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert!(after.contains("\"end\":\"user-stop\""), "{after}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert_eq!(tmux.pane("#{cursor_flag}"), "1");
    let reader = RecordingReader::new(BufReader::new(
        File::open(the_recording(dir.path())).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        reader.meta().cues.map(|c| (c.visual, c.sound, c.haptic)),
        Some((true, true, false))
    );
}

/// Standard output to a file, standard error on the terminal: no live view, but a progress
/// line on standard error while the drill runs (the simulator unpaced: 150 s take a few
/// seconds), cleared at the end; the file holds the result.
#[test]
fn with_the_output_in_a_file_a_progress_line_goes_to_the_terminal() {
    if !can_run("with_the_output_in_a_file_a_progress_line_goes_to_the_terminal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("result.json");
    let tmux = Tmux::start("progress", 200, 20);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        &format!(
            "drill rocker-hold --source sim --duration 150 --json > '{}'",
            out_file.display()
        ),
    ));
    let progress = tmux.wait_for("the progress line", |s| {
        s.contains("proprio · rocker-board hold · level") || exit_status(s).is_some()
    });
    assert!(
        exit_status(&progress).is_none(),
        "no progress line seen:\n{progress}"
    );
    assert!(progress.contains("time left"), "{progress}");
    assert!(progress.contains("score"), "{progress}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0", "no live view");
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert!(
        !after.contains("proprio · rocker-board hold · level"),
        "the progress line is cleared:\n{after}"
    );
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(result["end"], "completed");
}

/// A serial device unplugged mid-drill (the simulator on a pseudo-terminal): the view says
/// PAUSED with the reason while the link is down, then carries on.
#[cfg(unix)]
#[test]
fn an_unplugged_device_pauses_the_view_with_the_reason_until_it_is_back() {
    if !can_run("an_unplugged_device_pauses_the_view_with_the_reason_until_it_is_back") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("device");
    let link_arg = link.to_str().unwrap();
    let (_device, shown) =
        crate::cmd::sim_device(&["--seed", "5", "--unplug", "5:3", "--link", link_arg]);
    assert_eq!(shown, link_arg);
    let tmux = Tmux::start("unplug", 100, 30);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        &format!("drill rocker-hold --source serial:{link_arg} --duration 30"),
    ));
    let paused = tmux.wait_for("the pause", |s| s.contains("P A U S E D"));
    assert!(paused.contains("link lost ("), "the reason:\n{paused}");
    assert!(paused.contains("RECONNECTING"), "{paused}");
    let back = tmux.wait_for("the link back", |s| s.contains("reconnected: carry on"));
    assert!(!back.contains("P A U S E D"), "{back}");
    tmux.send(&["q"]);
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
}

/// The guided session in a terminal: the check-in answered with keys, the first drill's
/// purpose and instructions, the countdown, the drill's gauge; the pain key during the drill
/// ends the drill as a pain stop and the session with a kind word; the session file, the
/// recording and the plan all say so; the terminal is the shell's again.
#[test]
fn a_guided_session_checks_in_and_the_pain_key_ends_it_and_steps_the_plan_back() {
    if !can_run("a_guided_session_checks_in_and_the_pain_key_ends_it_and_steps_the_plan_back") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("session", 100, 30);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        "session --source sim --seed 3 --rest 0",
    ));
    let check_in = tmux.wait_for("the check-in", |s| {
        s.contains("How much does your back hurt")
    });
    assert!(check_in.contains("p: STOP, IT HURTS"), "{check_in}");
    assert_eq!(tmux.pane("#{alternate_on}"), "1");
    tmux.send(&["3"]);
    tmux.wait_for("the pain typed", |s| s.contains("Pain: 3"));
    tmux.send(&["Enter"]);
    tmux.wait_for("the feeling question", |s| {
        s.contains("How do you feel compared with last time?")
    });
    tmux.send(&["s"]);

    // The wearable's first drill, the easiest: neutral spine, with what it trains.
    let instructions = tmux.wait_for("the first drill's instructions", |s| {
        s.contains("drill 1 of 3: neutral-spine · level 1")
    });
    for expected in [
        "What it trains: Trains the deep trunk muscles",
        "How: Find your",
        "p: STOP, IT HURTS",
        "Enter: I'm ready: start",
    ] {
        assert!(
            instructions.contains(expected),
            "{expected:?}:\n{instructions}"
        );
    }
    tmux.send(&["Enter"]);
    let countdown = tmux.wait_for("the countdown", |s| s.contains("Get ready"));
    assert!(countdown.contains("██"), "big digits:\n{countdown}");
    assert!(countdown.contains("p: STOP, IT HURTS"), "{countdown}");
    let drill = tmux.wait_for("the drill's live view", |s| {
        s.contains("neutral-spine hold · level 1") && s.contains("TIME LEFT")
    });
    assert!(drill.contains("p: STOP, IT HURTS"), "{drill}");

    tmux.send(&["p"]);
    let summary = tmux.wait_for("the summary", |s| s.contains("guided session · summary"));
    assert!(
        summary.contains("neutral-spine level 1: pain stop"),
        "{summary}"
    );
    assert!(summary.contains("You stopped because it hurt"), "{summary}");
    tmux.send(&["Enter"]);
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert!(
        after.contains("You stopped because it hurt"),
        "the summary stays:\n{after}"
    );
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert_eq!(tmux.pane("#{cursor_flag}"), "1");
    tmux.type_line("echo \"shell-$((6 * 7))\"");
    tmux.wait_for("the shell to answer", |s| s.contains("shell-42"));

    // The session's file: the check-in, the one drill ended by the pain key, the plan's step.
    let sessions: Vec<PathBuf> = std::fs::read_dir(dir.path().join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sessions.len(), 1);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&sessions[0]).unwrap()).unwrap();
    assert_eq!(summary["check_in"]["pain_nrs"], 3);
    assert_eq!(summary["check_in"]["feeling"], "same");
    assert_eq!(summary["end"], "pain-stop");
    assert_eq!(summary["pain_stop"], "drill");
    let drills = summary["drills"].as_array().unwrap();
    assert_eq!(drills.len(), 1, "no drill after the pain stop");
    assert_eq!(drills[0]["end"], "pain-stop");
    assert_eq!(drills[0]["plan_change"]["kind"], "stepped-back");
    assert_eq!(drills[0]["plan_change"]["pain"], true);

    // The recording: the check-in in its header, the key as a pain stop, a result saying so.
    let path = the_recording(dir.path());
    assert_eq!(drills[0]["recording"], path.display().to_string());
    let mut reader = RecordingReader::new(BufReader::new(File::open(&path).unwrap())).unwrap();
    let guided = reader
        .meta()
        .guided
        .clone()
        .expect("the session in the header");
    assert_eq!(guided.session, summary["id"].as_str().unwrap());
    assert_eq!(guided.pain_nrs, 3);
    let (mut pain_stops, mut result) = (0, None);
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            Record::Control {
                control: Control::PainStop,
                ..
            } => pain_stops += 1,
            Record::Result(json) => result = Some(json),
            _ => {}
        }
    }
    assert_eq!(pain_stops, 1);
    let result: Value = serde_json::from_str(&result.expect("a result record")).unwrap();
    assert_eq!(result["end"], "pain-stop");

    // The plan: neutral spine stepped back after the pain stop (at level 1 it stays at 1).
    let plans = crate::cmd::json(&crate::cmd::proprio(dir.path(), &["plan", "--json"]));
    let spine = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "neutral-spine")
        .unwrap();
    assert_eq!(spine["level"], 1);
    assert_eq!(spine["last"]["end"], "pain-stop");
    assert_eq!(spine["last_change"]["kind"], "stepped-back");
    assert_eq!(spine["last_change"]["pain"], true);
}

/// The pain key before a drill has begun (on its countdown) ends the session too, and is
/// recorded as a pain stop of that drill, in a recording that holds no data, so the plan steps
/// back all the same.
#[test]
fn the_pain_key_on_a_countdown_is_recorded_as_that_drills_pain_stop() {
    if !can_run("the_pain_key_on_a_countdown_is_recorded_as_that_drills_pain_stop") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("countdown", 100, 30);
    tmux.wait_for("the shell's prompt", |s| s.contains('$'));
    tmux.type_line(&proprio_line(
        dir.path(),
        "session --source sim --sensor board --pain 1 --feeling better",
    ));
    // The check-in came from the command line: straight to the first drill.
    tmux.wait_for("the first drill's instructions", |s| {
        s.contains("drill 1 of 4: quiet-stance · level 1")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the countdown", |s| s.contains("Get ready"));
    tmux.send(&["p"]);
    let summary = tmux.wait_for("the summary", |s| s.contains("guided session · summary"));
    assert!(
        summary.contains("quiet-stance level 1: pain stop (the pain key, during the countdown)"),
        "{summary}"
    );
    tmux.send(&["q"]);
    let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
    assert_eq!(exit_status(&after), Some("0"), "{after}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0");

    let mut reader = RecordingReader::new(BufReader::new(
        File::open(the_recording(dir.path())).unwrap(),
    ))
    .unwrap();
    assert_eq!(reader.meta().guided.as_ref().map(|g| g.pain_nrs), Some(1));
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        records.push(record);
    }
    assert!(
        !records.iter().any(|r| matches!(r, Record::Received { .. })),
        "no data: the drill never began"
    );
    let result = records.iter().find_map(|r| match r {
        Record::Result(json) => Some(serde_json::from_str::<Value>(json).unwrap()),
        _ => None,
    });
    assert_eq!(result.expect("a result")["end"], "pain-stop");
    let plans = crate::cmd::json(&crate::cmd::proprio(dir.path(), &["plan", "--json"]));
    let stance = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "quiet-stance" && p["device"] == "balance-board")
        .unwrap();
    assert_eq!(stance["last_change"]["pain"], true, "{stance}");
}

#[cfg(unix)]
/// The process ids of the shell's children in `tmux`'s pane (from /proc: no `ps` needed).
fn children_of_the_shell(tmux: &Tmux) -> Vec<String> {
    let shell = tmux.pane("#{pane_pid}");
    let entries = std::fs::read_dir("/proc").expect("/proc");
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().into_owned();
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …: comm may hold spaces, so read after its ')'.
            let ppid = stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?;
            (ppid == shell).then_some(pid)
        })
        .collect()
}

/// SIGTERM and SIGHUP, like Ctrl-C, end the drill as the user's stop: the recording gets its
/// result and the terminal is given back.
#[cfg(unix)]
#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    if !can_run("sigterm_and_sighup_give_the_terminal_back") {
        return;
    }
    for signal in ["TERM", "HUP"] {
        let dir = tempfile::tempdir().unwrap();
        let tmux = Tmux::start(&format!("sig{signal}"), 100, 30);
        tmux.wait_for("the shell's prompt", |s| s.contains('$'));
        tmux.type_line(&proprio_line(
            dir.path(),
            "drill rocker-hold --source sim --seed 3 --duration 60",
        ));
        tmux.wait_for("the live view", |s| s.contains("TIME LEFT"));
        assert_eq!(tmux.pane("#{alternate_on}"), "1");
        let pids = children_of_the_shell(&tmux);
        assert_eq!(pids.len(), 1, "proprio alone: {pids:?}");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pids[0]])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let after = tmux.wait_for("proprio to end", |s| exit_status(s).is_some());
        assert_eq!(tmux.pane("#{alternate_on}"), "0", "SIG{signal}: {after}");
        assert_eq!(tmux.pane("#{cursor_flag}"), "1");
        assert!(after.contains("stopped by you"), "SIG{signal}: {after}");
        let mut reader = RecordingReader::new(BufReader::new(
            File::open(the_recording(dir.path())).unwrap(),
        ))
        .unwrap();
        let mut result = None;
        while let Some(record) = reader.next_record().unwrap() {
            if let Record::Result(json) = record {
                result = Some(serde_json::from_str::<Value>(&json).unwrap());
            }
        }
        assert_eq!(result.expect("a result")["end"], "user-stop", "SIG{signal}");
    }
}
