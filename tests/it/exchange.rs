//! `proprio export` and `proprio import` end to end: a session's samples survive export then
//! import within the wire format's quantisation; another tool's files become sessions that
//! replay and measure; bad files are one sentence and a non-zero exit.

use std::path::{Path, PathBuf};

use nalgebra::{UnitQuaternion, Vector3};
use serde_json::Value;

use crate::cmd::{json, proprio};
use crate::common::shared_data;

/// A CSV file's header and rows (numbers; `None` for an empty cell).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.parse::<f64>().ok()).collect())
        .collect();
    (header, rows)
}

/// Runs `proprio ARGS…` and checks it succeeded; returns standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = proprio(dir, args);
    assert!(
        out.status.success(),
        "proprio {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The recording `proprio import` said it wrote.
fn imported_recording(stdout: &str) -> PathBuf {
    PathBuf::from(stdout.trim().rsplit(" as ").next().unwrap())
}

/// The only `*-samples.csv` in `dir`.
fn samples_csv(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-samples.csv"))
        .collect();
    assert_eq!(found.len(), 1, "one samples file in {}", dir.display());
    found[0].clone()
}

/// The largest |value| of columns `cols` over `rows`.
fn largest(rows: &[Vec<Option<f64>>], cols: std::ops::Range<usize>) -> f64 {
    rows.iter()
        .flat_map(|r| r[cols.clone()].iter().flatten())
        .fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn export_then_import_gives_back_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A simulated wearable with a magnetometer (neutral spine on the lower back).
    let result = json(&proprio(
        d,
        &[
            "drill",
            "neutral-spine",
            "--seed",
            "5",
            "--no-live",
            "--json",
        ],
    ));
    let recording = result["recording"].as_str().unwrap().to_string();
    let first = d.join("first");
    ok(
        d,
        &[
            "export",
            &recording,
            "--format",
            "csv",
            "--out",
            first.to_str().unwrap(),
        ],
    );
    let (header, original) = read_csv(&samples_csv(&first));
    assert_eq!(header[0], "t_s");
    assert!(original.len() > 2000, "{} samples", original.len());
    assert!(original[0][7].is_some(), "the simulator has a magnetometer");

    let stdout = ok(d, &["import", samples_csv(&first).to_str().unwrap()]);
    let imported = imported_recording(&stdout);
    let second = d.join("second");
    ok(
        d,
        &[
            "export",
            imported.to_str().unwrap(),
            "--format",
            "csv",
            "--out",
            second.to_str().unwrap(),
        ],
    );
    let (header2, back) = read_csv(&samples_csv(&second));
    assert_eq!(header2, header);
    assert_eq!(back.len(), original.len(), "every sample comes back");

    // The import scales each sensor so that its largest value is 32000 counts: a sample
    // comes back within half a count (plus float rounding).
    let half_count = |cols| largest(&original, cols) / 32_000.0 * 0.5 * 1.000_01 + 1e-12;
    let tolerances = [
        (1..4, half_count(1..4)),
        (4..7, half_count(4..7)),
        (7..10, half_count(7..10)),
    ];
    let mut worst_counts = [0.0f64; 3];
    for (k, (a, b)) in original.iter().zip(&back).enumerate() {
        // Device times are whole microseconds on both sides.
        let (ta, tb) = (a[0].unwrap(), b[0].unwrap());
        assert!(
            (ta - tb).abs() < 0.5e-6,
            "sample {k}: time {ta} came back as {tb}"
        );
        for (s, (cols, tol)) in tolerances.iter().enumerate() {
            for c in cols.clone() {
                let (x, y) = (a[c].unwrap(), b[c].unwrap());
                worst_counts[s] = worst_counts[s].max((x - y).abs() / (2.0 * tol));
                assert!(
                    (x - y).abs() <= *tol,
                    "sample {k}, {}: {x} came back as {y} (tolerance {tol})",
                    header[c]
                );
            }
        }
    }
    // The orientation is estimated again from the quantised samples: the same within 0.5°.
    let q = |r: &Vec<Option<f64>>| {
        UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            r[10].unwrap(),
            r[11].unwrap(),
            r[12].unwrap(),
            r[13].unwrap(),
        ))
    };
    let worst_deg = original
        .iter()
        .zip(&back)
        .map(|(a, b)| q(a).angle_to(&q(b)).to_degrees())
        .fold(0.0, f64::max);
    assert!(worst_deg < 0.5, "orientation differs by up to {worst_deg}°");
    eprintln!(
        "round trip of {} samples: worst error {:.3} / {:.3} / {:.3} counts (acc / gyro / mag), \
         orientation within {worst_deg:.4}°",
        back.len(),
        worst_counts[0],
        worst_counts[1],
        worst_counts[2]
    );

    // The JSON export holds the same samples, and the header says where the import came from.
    let js = d.join("json");
    ok(
        d,
        &[
            "export",
            imported.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            js.to_str().unwrap(),
        ],
    );
    let name = imported.file_stem().unwrap().to_str().unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(js.join(format!("{name}.json"))).unwrap())
            .unwrap();
    assert_eq!(doc["samples"]["t_s"].as_array().unwrap().len(), back.len());
    assert_eq!(doc["samples"]["acc_x_m_s2"][5].as_f64(), back[5][1]);
    assert_eq!(doc["header"]["imported"]["format"], "generic");
    assert_eq!(
        doc["header"]["imported"]["samples"].as_u64(),
        Some(back.len() as u64)
    );
}

#[test]
fn the_fusion_example_imports_replays_and_measures() {
    let data = shared_data("imu-fusion-example", "sensor_data.csv");
    let csv = data.join("sensor_data.csv");
    // What the file holds, read here: rows, first and last time.
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let span_s = rows.last().unwrap()[0] - rows[0][0];

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stdout = ok(d, &["import", csv.to_str().unwrap()]);
    assert!(
        stdout.contains("fusion"),
        "recognised as Fusion's: {stdout}"
    );
    let recording = imported_recording(&stdout);
    let replay = json(&proprio(
        d,
        &["replay", recording.to_str().unwrap(), "--json"],
    ));
    assert_eq!(replay["drill"], "quiet-stance");
    assert_eq!(replay["device"]["kind"], "wearable");
    let measured = json(&proprio(
        d,
        &["measure", recording.to_str().unwrap(), "--json"],
    ));
    assert_eq!(measured["kind"], "sway");
    assert_eq!(measured["samples"].as_u64(), Some(rows.len() as u64));
    let duration_s = measured["duration_s"].as_f64().unwrap();
    assert!(
        (duration_s - span_s).abs() < 1e-5,
        "{duration_s} s of {span_s} s"
    );

    // The orientation is sane: wherever the sensor has been still for a while (|acc| within
    // 2 % of 1 g and under 5 °/s for 0.25 s either side), the accelerometer reads gravity, so
    // the estimated up must point where it does. The offline estimate smooths over seconds, so
    // right after a movement it may lag by a few degrees: the median and 99th percentile.
    let out = d.join("export");
    ok(
        d,
        &[
            "export",
            recording.to_str().unwrap(),
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (_, exported) = read_csv(&samples_csv(&out));
    assert_eq!(exported.len(), rows.len());
    let still: Vec<bool> = rows
        .iter()
        .map(|r| {
            let acc_g = Vector3::new(r[4], r[5], r[6]);
            (acc_g.norm() - 1.0).abs() <= 0.02 && Vector3::new(r[1], r[2], r[3]).norm() <= 5.0
        })
        .collect();
    let w = 25;
    let mut errors_deg: Vec<f64> = (w..rows.len() - w)
        .filter(|&k| still[k - w..=k + w].iter().all(|&s| s))
        .map(|k| {
            let e = &exported[k];
            let q = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
                e[10].unwrap(),
                e[11].unwrap(),
                e[12].unwrap(),
                e[13].unwrap(),
            ));
            let up = q.inverse_transform_vector(&Vector3::z());
            up.angle(&Vector3::new(rows[k][4], rows[k][5], rows[k][6]))
                .to_degrees()
        })
        .collect();
    errors_deg.sort_by(f64::total_cmp);
    let n = errors_deg.len();
    assert!(n > 3000, "{n} still samples");
    let (median, p99) = (errors_deg[n / 2], errors_deg[n * 99 / 100]);
    eprintln!(
        "Fusion example: {} samples over {duration_s:.3} s; up vs gravity at {n} still samples: \
         median {median:.2}°, 99th percentile {p99:.2}°, worst {:.2}°",
        rows.len(),
        errors_deg[n - 1]
    );
    assert!(
        median < 0.5 && p99 < 2.5,
        "up vs gravity when still: median {median}°, 99th percentile {p99}°"
    );
}

/// A WitMotion export as its PC software writes it: tab-separated, `Time(s)` and `ChipTime`
/// (the sensor's clock, `YYYY-MM-DD hh:mm:ss.fff`), `ax(g)`…, `wx(deg/s)`…, `AngleX(deg)`…,
/// `hx`… and `q0`…. Column names as parsed by telemetry-parser (AdrianEddy/telemetry-parser,
/// src/witmotion/txt.rs) and written by WitMotion's Python SDK samples; the values here are
/// made: a sensor lying still, rolled `roll_deg` about x, at 50 Hz for 5 s.
fn witmotion_fixture(roll_deg: f64) -> String {
    let mut text = String::from(
        "Time(s)\tChipTime\tax(g)\tay(g)\taz(g)\twx(deg/s)\twy(deg/s)\twz(deg/s)\t\
         AngleX(deg)\tAngleY(deg)\tAngleZ(deg)\tT(°)\thx\thy\thz\tq0\tq1\tq2\tq3\n",
    );
    let r = roll_deg.to_radians();
    for k in 0..250 {
        let t_ms = 20 * k;
        let chip = format!(
            "2024-01-05 10:20:{:02}.{:03}",
            30 + t_ms / 1000,
            t_ms % 1000
        );
        text.push_str(&format!(
            "{:.3}\t{chip}\t0.000\t{:.4}\t{:.4}\t0.061\t-0.061\t0.000\t{roll_deg:.3}\t0.000\t\
             0.000\t25.1\t120\t-45\t310\t{:.4}\t{:.4}\t0.0000\t0.0000\n",
            t_ms as f64 / 1000.0,
            r.sin(),
            r.cos(),
            (r / 2.0).cos(),
            (r / 2.0).sin(),
        ));
    }
    text
}

#[test]
fn a_witmotion_export_imports_on_the_chip_clock() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("witmotion.txt");
    std::fs::write(&file, witmotion_fixture(10.0)).unwrap();
    let stdout = ok(d, &["import", file.to_str().unwrap()]);
    assert!(
        stdout.contains("witmotion"),
        "recognised as WitMotion's: {stdout}"
    );
    assert!(stdout.contains("250 samples"), "{stdout}");
    let recording = imported_recording(&stdout);
    let out = d.join("export");
    ok(
        d,
        &[
            "export",
            recording.to_str().unwrap(),
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (_, rows) = read_csv(&samples_csv(&out));
    assert_eq!(rows.len(), 250);
    // The chip clock's 20 ms steps, from 0.
    assert!((rows[249][0].unwrap() - 4.98).abs() < 1e-6);
    // g and deg/s became m/s² and rad/s; the magnetometer (unit undocumented) is left out.
    let g = 9.806_65;
    assert!((rows[0][3].unwrap() - 10f64.to_radians().cos() * g).abs() < 1e-3);
    assert!((rows[0][4].unwrap() - 0.061f64.to_radians()).abs() < 1e-5);
    assert!(rows[0][7].is_none());
    // Lying still rolled 10° about x: the estimated up is 10° from the sensor's z, towards +y.
    let last = &rows[249];
    let q = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
        last[10].unwrap(),
        last[11].unwrap(),
        last[12].unwrap(),
        last[13].unwrap(),
    ));
    let up = q.inverse_transform_vector(&Vector3::z());
    let roll_deg = up.y.atan2(up.z).to_degrees();
    assert!((roll_deg - 10.0).abs() < 0.5, "roll {roll_deg}°");
}

#[test]
fn bad_files_are_one_sentence_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&str, &str, &str); 4] = [
        (
            "short.csv",
            "t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.01,0,0\n",
            "line 3 has 3 fields",
        ),
        (
            "nan.csv",
            "t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.01,0,zero,1,0,0,0\n",
            "is not a number",
        ),
        (
            "nogyro.csv",
            "t,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n",
            "no gyroscope columns",
        ),
        (
            "back.csv",
            "t,ax,ay,az,gx,gy,gz\n0.02,0,0,1,0,0,0\n0.01,0,0,1,0,0,0\n",
            "does not increase",
        ),
    ];
    for (name, content, says) in cases {
        let file = d.join(name);
        std::fs::write(&file, content).unwrap();
        let out = proprio(d, &["import", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name}: one sentence: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = proprio(
        d,
        &[
            "export",
            "--session",
            "nope",
            "--format",
            "csv",
            "--out",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session 'nope'"));
}
