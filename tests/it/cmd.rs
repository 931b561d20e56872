//! Running the `proprio` binary: the helpers every command-line test shares.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// `proprio` with its data in `data_dir` and no terminal on standard input.
pub fn proprio_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proprio"));
    command
        .env("PROPRIO_DATA_DIR", data_dir)
        .stdin(Stdio::null());
    command
}

/// Runs `proprio ARGS…` to the end.
pub fn proprio(data_dir: &Path, args: &[&str]) -> Output {
    proprio_command(data_dir)
        .args(args)
        .output()
        .expect("run proprio")
}

/// The one JSON object a successful `--json` run printed.
pub fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "proprio failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// A process killed when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `proprio sim-device --serial ARGS…`; returns it (killed when dropped) and the port
/// path it printed.
pub fn sim_device(args: &[&str]) -> (KillOnDrop, String) {
    let mut device = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_proprio"))
            .args(["sim-device", "--serial"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sim-device"),
    );
    let mut port = String::new();
    BufReader::new(device.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    (device, port.trim().to_string())
}
