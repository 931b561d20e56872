//! The Bluetooth link end to end without a radio: a private D-Bus daemon, a fake BlueZ
//! (`tests/fake_bluez.py`, Python with dbus-python) carrying `proprio sim-device --stdio`, and
//! the unmodified btleplug code inside `proprio` talking to it as it would to BlueZ.
//!
//! Needs `dbus-daemon`, and `/usr/bin/python3` with the `dbus` and `gi` modules (Debian:
//! dbus, python3-dbus, python3-gi). Without them these tests say so and pass, unless
//! `PROPRIO_REQUIRE_BLE_TESTS=1` (set by `.ci/run`) makes that a failure.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use proprio::recording::{Record, RecordingReader};
use serde_json::Value;

use crate::cmd::{json, proprio_command, KillOnDrop};

const PYTHON: &str = "/usr/bin/python3";

/// A private D-Bus daemon standing in for the system bus.
struct Bus {
    address: String,
    pid: String,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// Why the BLE tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    if Command::new("dbus-daemon")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("dbus-daemon is not installed (Debian: dbus)".into());
    }
    let modules = Command::new(PYTHON)
        .args(["-c", "import dbus, gi.repository.GLib"])
        .output();
    match modules {
        Ok(out) if out.status.success() => None,
        _ => Some(format!(
            "{PYTHON} lacks the dbus and gi modules (Debian: python3-dbus python3-gi)"
        )),
    }
}

/// True when the test may go on; otherwise says why it is skipped (or fails, in CI).
fn can_run(test: &str) -> bool {
    let Some(missing) = missing_prerequisite() else {
        return true;
    };
    if std::env::var_os("PROPRIO_REQUIRE_BLE_TESTS").is_some() {
        panic!("{test} must run here but cannot: {missing}");
    }
    eprintln!("skipping {test}: {missing}");
    false
}

fn start_bus() -> Bus {
    let out = Command::new("dbus-daemon")
        .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
        .output()
        .expect("start dbus-daemon");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let address = lines.next().expect("bus address").to_string();
    let pid = lines.next().expect("bus pid").to_string();
    Bus { address, pid }
}

/// The fake BlueZ on `bus`, carrying `proprio sim-device --stdio DEVICE_ARGS…`, once it is ready.
fn start_fake_bluez(bus: &Bus, log: &Path, fake_args: &[&str], device_args: &[&str]) -> KillOnDrop {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_bluez.py");
    let mut fake = KillOnDrop(
        Command::new(PYTHON)
            .arg(script)
            .args(fake_args)
            .arg("--log")
            .arg(log)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_proprio"))
            .args(["sim-device", "--stdio"])
            .args(device_args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the fake BlueZ"),
    );
    let mut line = String::new();
    BufReader::new(fake.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the fake BlueZ did not start");
    fake
}

fn proprio(bus: &Bus, data_dir: &Path, args: &[&str]) -> Output {
    proprio_command(data_dir)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .expect("run proprio")
}

/// The fake's log, one entry per line: `notify` and `write` with their bytes, any other
/// line whole (`connect`, `disconnect forced`) with none.
fn log_lines(log: &Path) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(log).expect("the fake BlueZ wrote its log");
    text.lines()
        .map(|line| match line.split_once(' ') {
            Some((event @ ("notify" | "write"), hex)) => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                (event.to_string(), bytes)
            }
            _ => (line.to_string(), Vec::new()),
        })
        .collect()
}

/// The bytes of every `Received` record, one entry per record.
fn received_chunks(recording: &Path) -> Vec<Vec<u8>> {
    let mut reader = RecordingReader::new(BufReader::new(File::open(recording).unwrap())).unwrap();
    let mut chunks = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        if let Record::Received { bytes, .. } = record {
            chunks.push(bytes);
        }
    }
    chunks
}

fn recording_of(live: &Value) -> PathBuf {
    PathBuf::from(
        live["recording"]
            .as_str()
            .expect("the result names its recording"),
    )
}

/// The acceptance run: a rocker-hold over BLE with three forced link losses. proprio
/// reconnects each time, the drill completes and reports three reconnects, and every
/// notification the device sent while connected is in the recording, in order.
#[test]
fn ble_drill_survives_three_link_losses() {
    if !can_run("ble_drill_survives_three_link_losses") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fake-bluez.log");
    let bus = start_bus();
    let _fake = start_fake_bluez(
        &bus,
        &log,
        &[
            "--name",
            "proprio-sim",
            "--address",
            "C0:FF:EE:00:00:01",
            "--profile",
            "proprio",
            "--chunk",
            "20",
            "--disconnect-after",
            "2,4,6",
        ],
        &["--seed", "8"],
    );
    let live = json(&proprio(
        &bus,
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "ble:proprio-sim",
            "--duration",
            "6",
            "--no-live",
            "--json",
        ],
    ));
    assert_eq!(live["end"], "completed", "{live}");
    let q = &live["quality"];
    assert_eq!(q["disconnects"], 3, "{q}");
    assert_eq!(q["reconnects"], 3, "{q}");
    assert_eq!(q["crc_errors"], 0, "{q}");
    let measured = live["metrics"]["measured_s"].as_f64().unwrap();
    assert!((measured - 6.0).abs() < 0.05, "{measured}");

    let events = log_lines(&log);
    let forced = events
        .iter()
        .filter(|(e, _)| e == "disconnect forced")
        .count();
    assert_eq!(forced, 3, "the fake forced three link losses");
    let sent: Vec<Vec<u8>> = events
        .iter()
        .filter(|(e, _)| e == "notify")
        .map(|(_, b)| b.clone())
        .collect();
    assert!(sent.iter().all(|n| !n.is_empty() && n.len() <= 20));
    let recorded = received_chunks(&recording_of(&live));
    assert!(
        recorded.len() > 100,
        "{} notifications recorded",
        recorded.len()
    );
    // The recording holds the notifications exactly as sent, in order, with none missing; only
    // those that came after the drill had ended (before the link closed) are not in it.
    assert!(recorded.len() <= sent.len());
    assert_eq!(
        recorded,
        sent[..recorded.len()],
        "recording differs from what was sent"
    );
    let last_connect = events.iter().rposition(|(e, _)| e == "connect").unwrap();
    let first_unrecorded = events
        .iter()
        .enumerate()
        .filter(|(_, (e, _))| e == "notify")
        .nth(recorded.len())
        .map(|(i, _)| i);
    if let Some(i) = first_unrecorded {
        assert!(
            i > last_connect,
            "a notification before the last reconnect is missing"
        );
    }
    // The host's commands reached the device through RX writes: a Start after each connection.
    let writes = events.iter().filter(|(e, _)| e == "write").count();
    assert!(writes >= 4 * 2, "{writes} writes");

    let replayed = json(&proprio(
        &bus,
        dir.path(),
        &["replay", recording_of(&live).to_str().unwrap(), "--json"],
    ));
    assert_eq!(live, replayed);
}

/// A WitMotion WT901BLECL (its 20-byte packets, cut wherever the notifications fall) drives
/// the same drill; proprio sets its rate with WitMotion's own register commands.
#[test]
fn witmotion_ble_drill() {
    if !can_run("witmotion_ble_drill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fake-bluez.log");
    let bus = start_bus();
    let _fake = start_fake_bluez(
        &bus,
        &log,
        &[
            "--name",
            "WT901BLE68",
            "--address",
            "C0:FF:EE:00:00:02",
            "--profile",
            "witmotion",
            "--chunk",
            "17",
        ],
        &["--format", "witmotion-ble", "--rate", "50", "--seed", "9"],
    );
    let live = json(&proprio(
        &bus,
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "witmotion-ble:c0:ff:ee:00:00:02",
            "--rate",
            "50",
            "--duration",
            "3",
            "--no-live",
            "--json",
        ],
    ));
    assert_eq!(live["end"], "completed", "{live}");
    let q = &live["quality"];
    assert_eq!(q["timestamps"], "host", "{q}");
    assert!(q["samples_received"].as_u64().unwrap() >= 140, "{q}");
    let writes: Vec<Vec<u8>> = log_lines(&log)
        .into_iter()
        .filter(|(e, _)| e == "write")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        writes[..2],
        [
            vec![0xFF, 0xAA, 0x69, 0x88, 0xB5],
            vec![0xFF, 0xAA, 0x03, 0x08, 0x00]
        ],
        "unlock, then 50 Hz"
    );
}

/// `proprio devices` lists what the (fake) adapter sees and recognises proprio's wearable; a bus
/// without BlueZ and the wrong kind of device each get one sentence.
#[test]
fn devices_and_ble_errors() {
    if !can_run("devices_and_ble_errors") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fake-bluez.log");
    let bus = start_bus();

    // A bus without BlueZ.
    let out = proprio(&bus, dir.path(), &["devices", "--scan", "0.5"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Serial ports:"), "{text}");
    assert!(text.contains("BlueZ is not running"), "{text}");
    let out = proprio(
        &bus,
        dir.path(),
        &["drill", "rocker-hold", "--source", "ble:x"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BlueZ is not running"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let _fake = start_fake_bluez(
        &bus,
        &log,
        &[
            "--name",
            "proprio-sim",
            "--address",
            "C0:FF:EE:00:00:03",
            "--profile",
            "proprio",
        ],
        &["--seed", "10"],
    );
    let out = proprio(&bus, dir.path(), &["devices", "--scan", "1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("C0:FF:EE:00:00:03"), "{text}");
    assert!(text.contains("proprio-sim"), "{text}");
    assert!(text.contains("proprio wearable"), "{text}");

    // A proprio wearable is not a WitMotion.
    let out = proprio(
        &bus,
        dir.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "witmotion-ble:proprio-sim",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a WitMotion"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
