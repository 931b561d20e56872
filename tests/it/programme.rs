//! A simulated 12-week programme and its progress report: three rocker-board sessions a week,
//! dated Monday, Wednesday and Friday at 9:00 (`PROPRIO_NOW`), by a simulated person whose
//! skill slowly improves; then `proprio report --progress`. The report's trend must rise
//! beyond the minimal detectable change, and the level changes it marks must be the plan's
//! rules (applied here independently, by the plan test's `expected_level`) over the results
//! the sessions printed.
//!
//! To keep and look at the report: `PROPRIO_PROGRAMME_OUT=DIR cargo test -j 1 --test it
//! programme` writes the data directory and the report (`DIR/report/`) there.

use std::path::PathBuf;

use serde_json::Value;

use crate::cmd::{json, proprio, proprio_command};
use crate::plan::expected_level;

/// Weeks of the programme and sessions a week.
const WEEKS: u32 = 12;
const DAYS: [u32; 3] = [0, 2, 4];

/// The day `n` days after 2026-01-05 (a Monday), as `YYYY-MM-DD` (January to March 2026).
fn date(n: u32) -> String {
    let lengths = [31, 28, 31, 30];
    let (mut month, mut day) = (0, 5 + n);
    while day > lengths[month] {
        day -= lengths[month];
        month += 1;
    }
    format!("2026-{:02}-{day:02}", month + 1)
}

/// Least-squares slope of `points` (x, y).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

#[test]
fn a_twelve_week_programme_rises_and_follows_the_plan() {
    let keep = std::env::var_os("PROPRIO_PROGRAMME_OUT").map(PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let root = keep.unwrap_or_else(|| temp.path().to_path_buf());
    let data = root.join("data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();

    let sessions = WEEKS as usize * DAYS.len();
    let mut results: Vec<Value> = Vec::new();
    for week in 0..WEEKS {
        for day in DAYS {
            let k = results.len();
            // Skill grows fast at first, then slower: 0.45 to 0.95 over the programme.
            let skill = 0.45 + 0.5 * (k as f64 / (sessions - 1) as f64).sqrt();
            let now = format!("{}T09:00:00Z", date(week * 7 + day));
            let (seed, skill) = ((100 + k).to_string(), format!("{skill:.3}"));
            let out = proprio_command(&data)
                .env("PROPRIO_NOW", &now)
                .args([
                    "drill",
                    "rocker-hold",
                    "--source",
                    "sim",
                    "--no-live",
                    "--json",
                    "--seed",
                    &seed,
                    "--skill",
                    &skill,
                ])
                .output()
                .unwrap();
            let result = json(&out);
            // Run at the plan's level, as `proprio drill` without --level does.
            assert_eq!(
                result["level"].as_u64(),
                Some(expected_level(&results, 5)),
                "session {k} on {now}"
            );
            results.push(result);
        }
    }

    let report = root.join("report");
    let out = proprio(
        &data,
        &["report", "--progress", "--out", report.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("progress.json")).unwrap())
            .unwrap();
    let drill = &progress.as_array().unwrap()[0];
    assert_eq!(drill["drill"], "rocker-hold");
    let points = drill["points"].as_array().unwrap();
    assert_eq!(points.len(), sessions);
    // Dated over the 12 weeks.
    let last_week = points.last().unwrap()["week"].as_f64().unwrap();
    assert!((last_week - (11.0 + 4.0 / 7.0)).abs() < 1e-9, "{last_week}");

    // The level changes marked are where the plan's rules move the level.
    let expected: Vec<(usize, u64, u64)> = (0..sessions)
        .filter_map(|i| {
            let (before, after) = (
                expected_level(&results[..i], 5),
                expected_level(&results[..=i], 5),
            );
            (before != after).then_some((i, before, after))
        })
        .collect();
    let marked: Vec<(usize, u64, u64)> = drill["level_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["after_point"].as_u64().unwrap() as usize,
                c["from"].as_u64().unwrap(),
                c["to"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(marked, expected);
    assert!(
        !marked.is_empty(),
        "the improving user moves up at least once"
    );

    // The trend at the first level rises: the change from the baseline grows (slope > 0) and
    // the last sessions there are better than the baseline beyond the MDC band.
    let first_change = marked[0].0;
    let level1: Vec<&Value> = points[..=first_change]
        .iter()
        .filter(|p| p["baseline_trial"] == false)
        .collect();
    let trend: Vec<(f64, f64)> = level1
        .iter()
        .map(|p| {
            (
                p["week"].as_f64().unwrap(),
                p["improvement_percent"].as_f64().unwrap(),
            )
        })
        .collect();
    let per_week = slope(&trend);
    eprintln!(
        "programme: level changes {marked:?} (after session, from, to); at level 1 the change \
         from baseline rises {per_week:.1} points/week over {} sessions",
        trend.len()
    );
    assert!(per_week > 0.0, "slope {per_week} %/week");
    for p in &level1[level1.len() - 3..] {
        let high = p["mdc_band_percent"][1].as_f64().unwrap();
        let change = p["improvement_percent"].as_f64().unwrap();
        assert!(
            change > high,
            "{change} % is not beyond the MDC band's {high} %"
        );
    }
    let scores: Vec<(f64, f64)> = level1
        .iter()
        .filter_map(|p| Some((p["week"].as_f64()?, p["progress_score"].as_f64()?)))
        .collect();
    assert!(slope(&scores) > 0.0, "the progress score rises");

    // The files: SVG, PNG and the page with the plot inline.
    let png = std::fs::read(report.join("progress-rocker-hold-wearable.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(report.join("progress-rocker-hold-wearable.svg")).unwrap();
    assert!(svg.contains("weeks since the first session"));
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("level 1→2"));
}
