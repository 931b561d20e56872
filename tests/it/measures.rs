//! The measure kernels and the canonical preprocessing against third-party results: Quijoux et
//! al. 2021's own code on a force-plate recording (../shared/data/cop-amti).

use std::path::PathBuf;

use proprio::measures::{
    preprocess, spectral_measures, sway_measures, Preprocessing, SpectralMeasures,
};
use serde_json::Value;

use crate::common::shared_data;

fn cop_amti_dir() -> PathBuf {
    shared_data("cop-amti", "reference_features.json")
}

/// (t_s, ml_cm, ap_cm) of the 30 s segment.
fn segment() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(cop_amti_dir().join("cop_30s_cm.csv")).unwrap();
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        columns.0.push(v[0]);
        columns.1.push(v[1]);
        columns.2.push(v[2]);
    }
    columns
}

fn reference(set: &str) -> Value {
    let text = std::fs::read_to_string(cop_amti_dir().join("reference_features.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[set].clone()
}

/// Every measure the reference has, with ours; `bin_hz` is the spectra's resolution.
fn compare(set: &str, ml: &[f64], ap: &[f64], rate_hz: f64, tolerance: f64) {
    let r = reference(set);
    let m = sway_measures(ml, ap, rate_hz);
    let axes = [("ML_AND_AP", "Radius", 0), ("ML", "ML", 1), ("AP", "AP", 2)];
    let mut checks: Vec<(String, f64)> = Vec::new();
    for (plane, radius, i) in axes {
        checks.push((format!("mean_distance_{radius}"), m.mean_distance[i]));
        checks.push((format!("rms_{radius}"), m.rms[i]));
        checks.push((format!("maximal_distance_{radius}"), m.max_distance[i]));
        checks.push((format!("range_{plane}"), m.range[i]));
        checks.push((format!("mean_velocity_{plane}"), m.mean_velocity[i]));
        checks.push((format!("mean_frequency_{plane}"), m.mean_frequency_hz[i]));
    }
    checks.push((
        "confidence_ellipse_area_ML_AND_AP".into(),
        m.ellipse_area_95,
    ));
    checks.push(("sway_area_per_second_ML_AND_AP".into(), m.sway_area_per_s));
    let mut spectral: Vec<(String, f64, f64)> = Vec::new();
    for (axis, x) in [("ML", ml), ("AP", ap)] {
        let s: SpectralMeasures = spectral_measures(x, rate_hz);
        let key = |name: &str| format!("{name}_Power_Spectrum_Density_{axis}");
        checks.push((key("total_power"), s.total_power));
        checks.push((key("frequency_dispersion"), s.frequency_dispersion));
        for (name, value) in [
            ("power_frequency_50", s.power_frequency_50_hz),
            ("power_frequency_95", s.power_frequency_95_hz),
            ("centroid_frequency", s.centroid_frequency_hz),
            ("frequency_mode", s.frequency_mode_hz),
        ] {
            spectral.push((key(name), value, s.bin_hz));
        }
    }
    let mut failures = Vec::new();
    for (key, ours) in &checks {
        let theirs = r[key.as_str()]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key}"));
        let error = (ours - theirs).abs() / theirs.abs();
        eprintln!(
            "{set} {key}: ours {ours:.6}, theirs {theirs:.6}, {:.3} %",
            100.0 * error
        );
        if error > tolerance {
            failures.push(key.clone());
        }
    }
    for (key, ours, bin_hz) in &spectral {
        let theirs = r[key.as_str()]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key}"));
        let bins = (ours - theirs).abs() / bin_hz;
        eprintln!("{set} {key}: ours {ours:.4} Hz, theirs {theirs:.4} Hz, {bins:.2} bins");
        if bins > 1.0 {
            failures.push(key.clone());
        }
    }
    assert!(failures.is_empty(), "{set}: {failures:?} disagree");
}

#[test]
fn kernels_reproduce_the_reference_on_the_raw_signal() {
    let (_, ml, ap) = segment();
    let centre = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| x - mean).collect::<Vec<f64>>()
    };
    // Kernels alone: the reference's own computation agrees to rounding, so 1e-9 would do;
    // the tolerance is 1 %.
    compare(
        "raw_100Hz_nofilter",
        &centre(&ml),
        &centre(&ap),
        100.0,
        0.01,
    );
}

#[test]
fn canonical_preprocessing_reproduces_the_published_pipeline() {
    let (t, ml, ap) = segment();
    let (ml25, ap25) = preprocess(&t, &ml, &ap, &Preprocessing::CANONICAL);
    compare("paper_pipeline_25Hz_lp10", &ml25, &ap25, 25.0, 0.01);
}
