//! `proprio measure` end to end: other people's files against their own results, a proprio
//! recording against its drill's result, and one sentence for every bad input.

use std::path::Path;

use serde_json::Value;

use crate::cmd::{json, proprio};
use crate::common::shared_data;

/// Runs `proprio measure ARGS… --json`, parsed.
fn measure(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    json(&proprio(
        dir.path(),
        &[&["measure"][..], args, &["--json"]].concat(),
    ))
}

/// Our COP measures (mm) against Quijoux et al.'s reference set (cm): within 1 %, spectral
/// frequencies within one bin.
fn compare_with_reference(ours: &Value, set: &str) {
    let dir = shared_data("cop-amti", "reference_features.json");
    let text = std::fs::read_to_string(dir.join("reference_features.json")).unwrap();
    let reference = &serde_json::from_str::<Value>(&text).unwrap()[set];
    let m = &ours["measures"];
    // (ours, theirs, scale from ours to theirs: mm → cm, mm² → cm², Hz → Hz).
    let mut pairs: Vec<(String, String, f64)> = vec![
        (
            "ellipse_area_95_mm2".into(),
            "confidence_ellipse_area_ML_AND_AP".into(),
            0.01,
        ),
        (
            "sway_area_per_s_mm2_s".into(),
            "sway_area_per_second_ML_AND_AP".into(),
            0.01,
        ),
    ];
    for (axis, plane, radius) in [
        ("", "ML_AND_AP", "Radius"),
        ("_ml", "ML", "ML"),
        ("_ap", "AP", "AP"),
    ] {
        let rms = if axis.is_empty() {
            "rms_distance_mm".to_string()
        } else {
            format!("rms{axis}_mm")
        };
        pairs.extend([
            (
                format!("mean_distance{axis}_mm"),
                format!("mean_distance_{radius}"),
                0.1,
            ),
            (rms, format!("rms_{radius}"), 0.1),
            (
                format!("max_distance{axis}_mm"),
                format!("maximal_distance_{radius}"),
                0.1,
            ),
            (format!("range{axis}_mm"), format!("range_{plane}"), 0.1),
            (
                format!("mean_velocity{axis}_mm_s"),
                format!("mean_velocity_{plane}"),
                0.1,
            ),
            (
                format!("mean_frequency{axis}_hz"),
                format!("mean_frequency_{plane}"),
                1.0,
            ),
        ]);
    }
    for (axis, upper) in [("ml", "ML"), ("ap", "AP")] {
        pairs.push((
            format!("total_power_{axis}_mm2_hz"),
            format!("total_power_Power_Spectrum_Density_{upper}"),
            0.01,
        ));
        pairs.push((
            format!("frequency_dispersion_{axis}"),
            format!("frequency_dispersion_Power_Spectrum_Density_{upper}"),
            1.0,
        ));
    }
    let mut failures = Vec::new();
    for (name, key, scale) in &pairs {
        let ours = m[name.as_str()]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {m}"))
            * scale;
        let theirs = reference[key.as_str()]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key}"));
        let error = (ours / theirs - 1.0).abs();
        eprintln!(
            "{set} {name}: {ours:.6} vs {theirs:.6} ({:.3} %)",
            error * 100.0
        );
        if error > 0.01 {
            failures.push(name.clone());
        }
    }
    let bin_hz = m["spectrum_bin_hz"].as_f64().unwrap();
    for (axis, upper) in [("ml", "ML"), ("ap", "AP")] {
        for (name, key) in [
            ("power_frequency_50", "power_frequency_50"),
            ("power_frequency_95", "power_frequency_95"),
            ("centroid_frequency", "centroid_frequency"),
            ("frequency_mode", "frequency_mode"),
        ] {
            let ours = m[format!("{name}_{axis}_hz").as_str()].as_f64().unwrap();
            let theirs = reference[format!("{key}_Power_Spectrum_Density_{upper}").as_str()]
                .as_f64()
                .unwrap();
            let bins = (ours - theirs).abs() / bin_hz;
            eprintln!("{set} {name}_{axis}: {ours:.4} vs {theirs:.4} Hz ({bins:.2} bins)");
            if bins > 1.0 {
                failures.push(format!("{name}_{axis}"));
            }
        }
    }
    assert!(failures.is_empty(), "{set}: {failures:?} disagree");
}

fn cop_csv() -> String {
    let dir = shared_data("cop-amti", "cop_30s_cm.csv");
    dir.join("cop_30s_cm.csv").display().to_string()
}

/// The force-plate segment as its CSV stands (t_s, ml_cm, ap_cm), the kernels on the raw signal.
#[test]
fn measure_reproduces_the_reference_on_the_raw_cop() {
    let ours = measure(&[&cop_csv(), "--cop-unit", "cm", "--no-preprocess"]);
    assert_eq!(ours["preprocessing"], "none");
    compare_with_reference(&ours, "raw_100Hz_nofilter");
}

/// The same file through the canonical preprocessing, against the published pipeline.
#[test]
fn measure_reproduces_the_published_pipeline() {
    let ours = measure(&[&cop_csv(), "--cop-unit", "cm"]);
    assert_eq!(
        ours["preprocessing"],
        proprio::measures::PREPROCESSING_VERSION
    );
    compare_with_reference(&ours, "paper_pipeline_25Hz_lp10");
}

/// A straight walk from gait-lowback (acc in g, no time column, 100 Hz) through `--kind walk`
/// (everyday walking, the default for a CSV; the sensor's vertical axis, x here, found from the
/// data): the original's contacts (Mobilise-D's McCamley/Ionescu) within 50 ms for ≥ 90 %,
/// cadence within 5 %. This trial's bout covers the original's sequence and one step more, so
/// the command's own cadence is comparable with the original's.
#[test]
fn measure_finds_the_original_steps_of_a_walk() {
    let dir = shared_data("gait-lowback", "data_csv/participant_metadata.json");
    let file = dir.join("data_csv/MS/001/TimeMeasure1_Test5_Trial1.csv");
    let ours = measure(&[
        &file.display().to_string(),
        "--kind",
        "walk",
        "--acc-unit",
        "g",
        "--rate",
        "100",
    ]);
    let text =
        std::fs::read_to_string(dir.join("original_results/icd_ionescu/lab/MS/001/SD_Output.json"))
            .unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let sd = &json["SD_Output"]["TimeMeasure1"]["Test5"]["Trial1"]["SU"]["LowerBack"]["SD"];
    let theirs: Vec<f64> = sd["IC"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let contacts: Vec<f64> = ours["initial_contacts_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let agreeing = theirs
        .iter()
        .filter(|t| contacts.iter().any(|o| (o - *t).abs() <= 0.05))
        .count();
    assert!(
        agreeing as f64 >= 0.9 * theirs.len() as f64,
        "{agreeing}/{} contacts within 50 ms: {contacts:?} vs {theirs:?}",
        theirs.len()
    );
    let their_cadence = proprio::measures::gait::cadence_steps_per_min(&theirs).unwrap();
    let cadence = ours["cadence_steps_per_min"].as_f64().unwrap();
    assert!(
        (cadence / their_cadence - 1.0).abs() <= 0.05,
        "cadence {cadence} vs {their_cadence}"
    );
}

/// Standing drills recorded on the simulator, measured again from their recordings: the
/// command measures the stretches the drill measured, with the same preprocessing and kernels,
/// so every measure both give is the same number (to the JSON's printing). The single-leg
/// stance (seed 1) has a touch-down, whose samples split the hold into two stretches.
#[test]
fn measure_of_a_standing_drill_recording_is_the_drills_own() {
    let dir = tempfile::tempdir().unwrap();
    for (drill, seed, stretches) in [("quiet-stance", "3", 1), ("single-leg", "1", 2)] {
        let result = json(&proprio(
            dir.path(),
            &[
                "drill",
                drill,
                "--source",
                "sim",
                "--seed",
                seed,
                "--no-live",
                "--json",
            ],
        ));
        let recording = result["recording"].as_str().unwrap();
        let ours = json(&proprio(dir.path(), &["measure", recording, "--json"]));
        assert_eq!(ours["kind"], "cop");
        assert_eq!(ours["stretches"], stretches, "{drill}");
        let metrics = &result["metrics"];
        for name in [
            "rms_ml_mm",
            "rms_ap_mm",
            "rms_distance_mm",
            "mean_distance_mm",
            "range_ml_mm",
            "range_ap_mm",
            "path_mm",
            "mean_velocity_mm_s",
            "mean_velocity_ml_mm_s",
            "mean_velocity_ap_mm_s",
            "ellipse_area_95_mm2",
            "sway_area_per_s_mm2_s",
            "mean_frequency_hz",
        ] {
            let (a, b) = (
                ours["measures"][name].as_f64().unwrap(),
                metrics[name].as_f64().unwrap(),
            );
            assert!(
                (a / b - 1.0).abs() <= 1e-12,
                "{drill} {name}: measure {a} vs the drill's {b}"
            );
        }
    }
}

/// A simulated heel-to-toe walk recorded by the drill, measured again from its recording:
/// `proprio measure` (walk, heel-to-toe, the default for a tandem-walk recording) counts the
/// simulator's steps exactly. The truth is the walk the recording's simulator drew
/// (`WalkWorld`, from the recording's header): its heel strikes, in runs of at least
/// `HEEL_TO_TOE_MIN_STEPS` with no pause longer than `HEEL_TO_TOE_MAX_STEP_TIME_S` (a stop splits
/// a walk; a few steps alone are no bout). Each measured contact lies within 0.08 s of its
/// scripted one (the detector reports contacts 72.5 ms after the acceleration rises fastest, on
/// a 40 Hz grid, as Mobilise-D's reference does; see tests/it/walk.rs).
#[test]
fn measure_of_a_tandem_walk_recording_counts_the_simulated_steps() {
    use proprio::measures::gait::{HEEL_TO_TOE_MAX_STEP_TIME_S, HEEL_TO_TOE_MIN_STEPS};
    use proprio::recording::RecordingReader;
    use proprio::sim::WalkWorld;

    let dir = tempfile::tempdir().unwrap();
    let (mut walks, mut whole_walks, mut steps_total) = (0, 0, 0);
    for (seed, skill) in [
        (1, "0.6"),
        (2, "0.6"),
        (3, "0.3"),
        (4, "0.9"),
        (5, "0.6"),
        (6, "0.2"),
    ] {
        let seed = seed.to_string();
        let drill = json(&proprio(
            dir.path(),
            &[
                "drill",
                "tandem-walk",
                "--seed",
                &seed,
                "--skill",
                skill,
                "--level",
                "2",
                "--no-live",
                "--json",
            ],
        ));
        let recording = drill["recording"].as_str().unwrap();
        let file = std::fs::File::open(recording).unwrap();
        let reader = RecordingReader::new(std::io::BufReader::new(file)).unwrap();
        let sim = reader.meta().sim.expect("a simulated session");
        let truth = WalkWorld::for_config(&sim).script().contacts_s();
        // The truth's steps in bouts: split at pauses, short runs left out.
        let mut runs: Vec<Vec<f64>> = Vec::new();
        for &t in &truth {
            match runs.last_mut() {
                Some(run) if t - run[run.len() - 1] <= HEEL_TO_TOE_MAX_STEP_TIME_S => run.push(t),
                _ => runs.push(vec![t]),
            }
        }
        let expected: Vec<f64> = runs
            .iter()
            .filter(|run| run.len() >= HEEL_TO_TOE_MIN_STEPS)
            .flatten()
            .copied()
            .collect();

        let ours = json(&proprio(dir.path(), &["measure", recording, "--json"]));
        assert_eq!(ours["kind"], "walk");
        assert_eq!(ours["gait"], "heel-to-toe");
        let contacts: Vec<f64> = ours["initial_contacts_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        let case = format!("seed {seed} skill {skill}: {contacts:.2?} vs {truth:.2?}");
        assert_eq!(
            ours["steps"].as_u64().unwrap() as usize,
            expected.len(),
            "{case}"
        );
        assert_eq!(contacts.len(), expected.len(), "{case}");
        for (found, scripted) in contacts.iter().zip(&expected) {
            assert!((found - scripted).abs() <= 0.08, "{case}");
        }
        walks += 1;
        whole_walks += usize::from(expected.len() == truth.len());
        steps_total += expected.len();
    }
    eprintln!("{walks} simulated tandem walks, {steps_total} steps counted; {whole_walks} walks one bout of all 10");
    assert!(whole_walks >= 3, "too few walks without a stop were tried");
}

/// Every bad input: one sentence on standard error, a failure exit, never a panic.
#[test]
fn bad_inputs_get_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let rows = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "{},{},{}\n",
                    i as f64 * 0.01,
                    (i as f64).sin(),
                    (i as f64).cos()
                )
            })
            .collect()
    };
    let good = format!("t_s,ml,ap\n{}", rows(100));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![dir.path().join("nothing.csv").display().to_string()],
            "cannot",
        ),
        (vec![file("no_header.csv", &rows(100))], "no header"),
        (
            vec![file(
                "no_column.csv",
                &format!("t_s,ml,pressure\n{}", rows(100)),
            )],
            "no accelerometer x, y, z columns nor COP",
        ),
        (
            vec![file("cell.csv", &format!("{good}1.5,abc,2\n"))],
            "not a number",
        ),
        (
            vec![file("short.csv", &format!("t_s,ml,ap\n{}", rows(3)))],
            "at least",
        ),
        (
            vec![file("backwards.csv", &format!("{good}0.5,1,1\n"))],
            "does not increase",
        ),
        (vec![file("empty.csv", "")], "empty"),
        (
            vec![file("good.csv", &good), "--kind".into(), "walk".into()],
            "accelerometer",
        ),
        (
            vec![
                file("good2.csv", &good),
                "--cop-unit".into(),
                "furlong".into(),
            ],
            "not a COP unit",
        ),
        (
            vec![file("fake.prec", "proprio-rec\ngarbage")],
            "cannot read",
        ),
    ];
    for (args, words) in cases {
        let args: Vec<&str> = [
            &["measure"][..],
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat();
        let out = proprio(Path::new(dir.path()), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.contains(words), "{args:?}: {stderr}");
        // Our own sentences are one line; clap adds a hint line after a bad flag value.
        if !words.contains("unit") {
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        }
        eprintln!("{args:?} -> {first}");
    }
}
