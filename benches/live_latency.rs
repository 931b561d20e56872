//! The live view's latency, by the app's own timing (no criterion: a few runs, side by side).
//!
//! `cargo bench --bench live_latency` runs `proprio drill … --source sim` with the live view
//! in a tmux terminal (the simulator paced in real time, as a device streams) with
//! `PROPRIO_LATENCY_REPORT` set, so that the app records, for every decoded sample, the time
//! until the frame that draws it has been written to the terminal, and for every frame the age
//! of the newest sample in it and the time the frame took (from the model's update to the
//! terminal write). It prints their distributions for a rocker hold at 100 and 400 Hz and a
//! wobble hold (the heavier, 2-D view) at 100 Hz, against the frame interval.
//!
//! Needs tmux; says so and stops without it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The drill's length: long enough for a few hundred frames.
const DURATION_S: &str = "20";

fn main() {
    if !Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("live_latency needs tmux (apt-get install tmux)");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "live view latency: decoded sample → frame written to the terminal (tmux), one {DURATION_S} s drill each"
    );
    println!(
        "{:<12} {:>6} {:>8} {:>7}  {:<33} {:<26} {:<20}",
        "drill",
        "rate",
        "samples",
        "frames",
        "sample→frame ms p50/p90/p99/max",
        "newest age ms p50/p99/max",
        "frame ms p50/p99/max"
    );
    let mut interval_ms = 0.0;
    let mut worst_newest_ms: f64 = 0.0;
    let mut worst_sample_ms: f64 = 0.0;
    for (drill, rate) in [
        ("rocker-hold", "100"),
        ("rocker-hold", "400"),
        ("wobble-hold", "100"),
    ] {
        let report = run(dir.path(), drill, rate);
        let ms = |key: &str, q: &str| report[key][q].as_f64().expect("a number");
        interval_ms = report["frame_interval_ms"].as_f64().expect("the interval");
        worst_newest_ms = worst_newest_ms.max(ms("newest_sample_age_ms", "max"));
        worst_sample_ms = worst_sample_ms.max(ms("sample_to_frame_ms", "max"));
        println!(
            "{:<12} {:>3} Hz {:>8} {:>7}  {:<33} {:<26} {:<20}",
            drill,
            rate,
            report["sample_to_frame_ms"]["count"],
            report["draw_ms"]["count"],
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1}",
                ms("sample_to_frame_ms", "p50"),
                ms("sample_to_frame_ms", "p90"),
                ms("sample_to_frame_ms", "p99"),
                ms("sample_to_frame_ms", "max")
            ),
            format!(
                "{:.1} / {:.1} / {:.1}",
                ms("newest_sample_age_ms", "p50"),
                ms("newest_sample_age_ms", "p99"),
                ms("newest_sample_age_ms", "max")
            ),
            format!(
                "{:.2} / {:.2} / {:.2}",
                ms("draw_ms", "p50"),
                ms("draw_ms", "p99"),
                ms("draw_ms", "max")
            ),
        );
    }
    println!(
        "frame interval {interval_ms:.0} ms: the newest sample a frame drew was at most {worst_newest_ms:.1} ms old ({}); \
         a sample waited at most {worst_sample_ms:.1} ms for its frame ({})",
        verdict(worst_newest_ms, interval_ms),
        verdict(worst_sample_ms, interval_ms)
    );
}

fn verdict(ms: f64, interval_ms: f64) -> &'static str {
    if ms < interval_ms {
        "under one frame interval"
    } else {
        "NOT under one frame interval"
    }
}

/// Runs one drill in a fresh tmux server; returns the app's latency report.
fn run(dir: &Path, drill: &str, rate: &str) -> Value {
    let report = dir.join(format!("{drill}-{rate}.json"));
    let data_dir = dir.join(format!("data-{drill}-{rate}"));
    let socket = format!("proprio-latency-{}", std::process::id());
    let command = format!(
        "env PROPRIO_DATA_DIR='{}' PROPRIO_LATENCY_REPORT='{}' '{}' drill {drill} --source sim \
         --rate {rate} --duration {DURATION_S} --seed 3",
        data_dir.display(),
        report.display(),
        env!("CARGO_BIN_EXE_proprio")
    );
    let started = Command::new("tmux")
        .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
        .args(["-x", "100", "-y", "30", &command])
        .env_remove("TMUX")
        .status()
        .expect("run tmux");
    assert!(started.success(), "tmux new-session failed");
    // The drill ends by itself; the app writes its report as it does.
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&report) {
            if text.ends_with('\n') {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "no latency report from {drill}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Gone already, as a rule: the session ends with the drill.
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .stderr(std::process::Stdio::null())
        .status();
    serde_json::from_str(&text).expect("the report is JSON")
}
