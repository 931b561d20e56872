//! `proprio report` on single sessions: the plots are written as SVG and PNG, show what the
//! result says (the stabilogram's ellipse is the result's ellipse, the rocker's band is the
//! level's), and bad input is one sentence.

use std::path::Path;

use serde_json::Value;

use crate::cmd::{json, proprio};

/// Runs a simulated drill in `dir`; returns its result.
fn drill(dir: &Path, args: &[&str]) -> Value {
    json(&proprio(
        dir,
        &[&["drill"][..], args, &["--no-live", "--json"]].concat(),
    ))
}

/// The rocker hold's band at `level`, degrees.
fn rocker_band_deg(level: u8) -> f64 {
    proprio::drill::RockerHoldConfig::for_level(level, 15.0)
        .unwrap()
        .band_deg
}

/// `proprio report` for the session of `result`, into `dir/out`; returns the session's ID.
fn report(dir: &Path, result: &Value) -> String {
    let recording = Path::new(result["recording"].as_str().unwrap());
    let id = recording.file_stem().unwrap().to_str().unwrap().to_string();
    let out = proprio(
        dir,
        &[
            "report",
            "--session",
            &id,
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    id
}

/// The SVG and PNG of `name` exist and are what they say.
fn plot(dir: &Path, name: &str) -> String {
    let png = std::fs::read(dir.join("out").join(format!("{name}.png"))).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
    std::fs::read_to_string(dir.join("out").join(format!("{name}.svg"))).unwrap()
}

#[test]
fn a_stabilogram_shows_the_results_ellipse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let result = drill(d, &["quiet-stance", "--seed", "3"]);
    let id = report(d, &result);
    let svg = plot(d, &format!("{id}-stabilogram"));
    // The legend gives the drawn ellipse's area, π·a·b, to the mm².
    let drawn: f64 = svg
        .split("95 % prediction ellipse, ")
        .nth(1)
        .and_then(|rest| rest.split(" mm").next())
        .and_then(|n| n.parse().ok())
        .expect("the ellipse's legend");
    let reported = result["metrics"]["ellipse_area_95_mm2"].as_f64().unwrap();
    assert!(
        (drawn - reported).abs() <= 0.5,
        "drawn {drawn} mm², result {reported} mm²"
    );
    let html = std::fs::read_to_string(d.join("out/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains(&id));
    assert!(
        !html.contains("<?xml"),
        "the SVG is inline, without its XML declaration"
    );

    // A weight shift's path with its targets, reached and missed as the result counts them.
    let shift = drill(
        d,
        &[
            "weight-shift",
            "--level",
            "2",
            "--skill",
            "0.2",
            "--seed",
            "3",
        ],
    );
    let id = report(d, &shift);
    let svg = plot(d, &format!("{id}-stabilogram"));
    let m = &shift["metrics"];
    for (count, legend) in [
        (&m["reached"], "target reached"),
        (&m["misses"], "target missed"),
    ] {
        assert_eq!(
            svg.contains(legend),
            count.as_u64().unwrap() > 0,
            "{legend}: {count}"
        );
    }
    assert!(
        !svg.contains("prediction ellipse"),
        "no ellipse for a weight shift"
    );
}

#[test]
fn wearable_sessions_show_their_band_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rocker = drill(
        d,
        &[
            "rocker-hold",
            "--seed",
            "4",
            "--skill",
            "0.4",
            "--level",
            "2",
        ],
    );
    let id = report(d, &rocker);
    let svg = plot(d, &format!("{id}-tilt"));
    // Level 2's band (`RockerHoldConfig::for_level`), and the result's events.
    let band = svg.split("target band ±").nth(1).unwrap();
    let band_deg: f64 = band.split('°').next().unwrap().parse().unwrap();
    assert_eq!(band_deg, rocker_band_deg(2));
    let kinds: Vec<&str> = rocker["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for (kind, legend) in [
        ("left-band", "left the band"),
        ("corrected", "back in the band"),
        ("edge-contact", "edge touched the floor"),
    ] {
        assert_eq!(
            svg.contains(legend),
            kinds.contains(&kind),
            "{kind} events and the '{legend}' marks"
        );
    }
    assert!(kinds.contains(&"left-band"), "a beginner leaves the band");

    let walk = drill(
        d,
        &[
            "tandem-walk",
            "--seed",
            "4",
            "--level",
            "2",
            "--skill",
            "0.3",
        ],
    );
    let id = report(d, &walk);
    let svg = plot(d, &format!("{id}-steps"));
    assert!(svg.contains("heel strike"));

    let spine = drill(d, &["neutral-spine", "--seed", "2"]);
    let id = report(d, &spine);
    assert!(plot(d, &format!("{id}-deviation")).contains("from neutral"));
}

#[test]
fn a_report_needs_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [vec!["report"], vec!["report", "--session", "nope"]] {
        let out = proprio(d, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
