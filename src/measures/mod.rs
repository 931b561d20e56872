//! Posturography measures: sans-IO kernels over a regular sway series, and the one canonical
//! preprocessing that feeds them.
//!
//! # Brief overview
//! - [`sway_measures`]: the standard positional and dynamic set over a centred two-axis series
//!   (ML, AP): mean and RMS distance, range, path, mean velocity, 95 % prediction-ellipse area
//!   and axes, sway area per second, mean frequency.
//! - [`spectral_measures`]: one axis's Welch power spectrum and the measures on it (total power,
//!   50 % and 95 % power frequencies, centroid frequency, frequency dispersion).
//! - [`preprocess`]: [`PREPROCESSING_VERSION`]: resampling to a fixed rate by sliding-window
//!   averaging, then a zero-phase low-pass; [`prepare`] does it for a series in [`Stretch`]es
//!   (a break is never bridged), as the standing drills and `proprio measure` both use it.
//! - [`gait`]: initial contacts and walking bouts from a lumbar IMU, for walking drills.
//! - [`imu_sway`]: a lumbar IMU in quiet stance (ISway): tilt-corrected horizontal
//!   acceleration and trunk angles, the kernels on them, JERK and trunk-angle RMS.
//!
//! The definitions are those of Quijoux et al. 2021 ("A review of center of pressure (COP)
//! variables to quantify standing balance in elderly people", Physiological Reports), whose
//! published code computes the reference values these kernels are tested against
//! (`tests/it/measures.rs`, on ../shared/data/cop-amti). Units follow the input: a series in
//! cm gives cm, cm/s and cm².

mod filter;
pub mod gait;
pub mod imu_sway;
mod preprocess;
mod spectrum;

pub use filter::{butterworth_lowpass, equiripple_lowpass, filtfilt, Iir};
pub use preprocess::{
    centre_stretches, join_stretches, mean_rate_hz, prepare, prepare_series, preprocess,
    preprocess_stretches, span_within, stretch_means, swarii, Prepared, Preprocessing, Stretch,
    PREPROCESSING_VERSION,
};
pub use spectrum::{spectral_measures, welch_psd, Psd, SpectralMeasures, SPECTRAL_BAND_HZ};

use serde::{Deserialize, Serialize};

/// Positional and dynamic sway measures of a two-axis series (ML, AP), in the series' units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SwayMeasures {
    /// Mean distance from the centre: resultant, ML, AP.
    pub mean_distance: [f64; 3],
    /// RMS distance from the centre: resultant, ML, AP.
    pub rms: [f64; 3],
    /// Largest distance from the centre: resultant, ML, AP.
    pub max_distance: [f64; 3],
    /// Range: the largest distance between two points (resultant), max − min (ML, AP).
    pub range: [f64; 3],
    /// Sway path: the length of the trace: resultant, ML, AP.
    pub path: [f64; 3],
    /// Mean velocity, path · rate / points: resultant, ML, AP.
    pub mean_velocity: [f64; 3],
    /// Area of the 95 % prediction ellipse.
    pub ellipse_area_95: f64,
    /// Semi-axes of that ellipse (major, minor).
    pub ellipse_semi_axes_95: [f64; 2],
    /// Direction of that ellipse's major axis, degrees from +ML towards +AP (−90 to 90).
    #[serde(default)]
    pub ellipse_major_axis_deg: f64,
    /// Area swept per second: the triangles from the centre to each step, summed, per second.
    pub sway_area_per_s: f64,
    /// Mean frequency, Hz: resultant (velocity / (2π · mean distance)), ML and AP (velocity /
    /// (4√2 · mean distance)).
    pub mean_frequency_hz: [f64; 3],
    /// Points in the series.
    pub points: usize,
}

/// The measures of a centred series (`ml`, `ap` of equal length) sampled at `rate_hz`.
///
/// The series is taken as it is: centre it first (the kernels measure distances from 0). A
/// point that is not finite on either axis is a gap (see [`join_stretches`]): it is no point,
/// and no step of the path crosses it. Without gaps the definitions are Quijoux et al.'s; with
/// gaps the per-step averages divide by the steps taken.
pub fn sway_measures(ml: &[f64], ap: &[f64], rate_hz: f64) -> SwayMeasures {
    let n_all = ml.len().min(ap.len());
    let (ml, ap) = (&ml[..n_all], &ap[..n_all]);
    let finite = |i: usize| ml[i].is_finite() && ap[i].is_finite();
    let points: Vec<usize> = (0..n_all).filter(|&i| finite(i)).collect();
    let n = points.len();
    if n < 3 || rate_hz.is_nan() || rate_hz <= 0.0 {
        return SwayMeasures {
            points: n,
            ..SwayMeasures::default()
        };
    }
    let nf = n as f64;
    let radius = |i: usize| ml[i].hypot(ap[i]);
    let mean = |f: &dyn Fn(usize) -> f64| points.iter().map(|&i| f(i)).sum::<f64>() / nf;
    let max = |f: &dyn Fn(usize) -> f64| points.iter().map(|&i| f(i)).fold(0.0f64, f64::max);

    let mean_distance = [
        mean(&radius),
        mean(&|i| ml[i].abs()),
        mean(&|i| ap[i].abs()),
    ];
    let var_ml = mean(&|i| ml[i] * ml[i]);
    let var_ap = mean(&|i| ap[i] * ap[i]);
    let cov = mean(&|i| ml[i] * ap[i]);
    let rms = [(var_ml + var_ap).sqrt(), var_ml.sqrt(), var_ap.sqrt()];
    let max_distance = [max(&radius), max(&|i| ml[i].abs()), max(&|i| ap[i].abs())];
    let (ml_points, ap_points): (Vec<f64>, Vec<f64>) =
        points.iter().map(|&i| (ml[i], ap[i])).unzip();
    let span = |s: &[f64]| {
        let (lo, hi) = s
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        hi - lo
    };
    let range = [
        largest_distance(&ml_points, &ap_points),
        span(&ml_points),
        span(&ap_points),
    ];

    let mut path = [0.0; 3];
    let mut swept = 0.0;
    let mut steps = 0usize;
    for i in (0..n_all - 1).filter(|&i| finite(i) && finite(i + 1)) {
        let (dx, dy) = (ml[i + 1] - ml[i], ap[i + 1] - ap[i]);
        path[0] += dx.hypot(dy);
        path[1] += dx.abs();
        path[2] += dy.abs();
        swept += (ml[i + 1] * ap[i] - ap[i + 1] * ml[i]).abs();
        steps += 1;
    }
    let mean_velocity = path.map(|p| p * rate_hz / nf);
    let per_step = |v: f64| if steps > 0 { v / steps as f64 } else { 0.0 };
    let sway_area_per_s = per_step(swept) * rate_hz / 2.0;
    // The mean of the step speeds, as the reference defines it.
    let step_speed = path.map(|p| per_step(p) * rate_hz);
    let ratio = |v: f64, d: f64| if d > 0.0 { v / d } else { 0.0 };
    let mean_frequency_hz = [
        ratio(step_speed[0], 2.0 * std::f64::consts::PI * mean_distance[0]),
        ratio(
            step_speed[1],
            4.0 * std::f64::consts::SQRT_2 * mean_distance[1],
        ),
        ratio(
            step_speed[2],
            4.0 * std::f64::consts::SQRT_2 * mean_distance[2],
        ),
    ];

    // 95 % prediction ellipse, covariance about 0 with denominator n.
    let scale = prediction_ellipse_95_scale(n);
    let ellipse_area_95 = ellipse_area_95(n, var_ml, var_ap, cov);
    // Eigenvalues of the covariance give the axes.
    let half_trace = 0.5 * (var_ml + var_ap);
    let spread = (0.25 * (var_ml - var_ap).powi(2) + cov * cov).sqrt();
    let ellipse_semi_axes_95 = [
        (scale * (half_trace + spread)).max(0.0).sqrt(),
        (scale * (half_trace - spread)).max(0.0).sqrt(),
    ];

    SwayMeasures {
        mean_distance,
        rms,
        max_distance,
        range,
        path,
        mean_velocity,
        ellipse_area_95,
        ellipse_semi_axes_95,
        // The covariance's principal direction.
        ellipse_major_axis_deg: (0.5 * (2.0 * cov).atan2(var_ml - var_ap)).to_degrees(),
        sway_area_per_s,
        mean_frequency_hz,
        points: n,
    }
}

/// The area of the 95 % prediction ellipse of `n` points (`n` ≥ 3; 0 below) whose covariance
/// (divisor n, about the centre the kernels measure from) is `var_ml`, `var_ap`, `cov`:
/// π·k·√det C with k from [`prediction_ellipse_95_scale`].
pub fn ellipse_area_95(n: usize, var_ml: f64, var_ap: f64, cov: f64) -> f64 {
    if n < 3 {
        return 0.0;
    }
    let det = (var_ml * var_ap - cov * cov).max(0.0);
    std::f64::consts::PI * prediction_ellipse_95_scale(n) * det.sqrt()
}

/// The factor `k` of a 95 % prediction ellipse from `n` points (`n` ≥ 3): the ellipse is
/// xᵀ·C⁻¹·x = k for their covariance C, so its area is π·k·√det C. `k` = 2·F₉₅(2, n − 2)·
/// (n + 1)(n − 1) / (n(n − 2)), with F(2, ν)'s quantile in closed form (its CDF is
/// 1 − (1 + 2f/ν)^(−ν/2)).
pub fn prediction_ellipse_95_scale(n: usize) -> f64 {
    let n = n as f64;
    let nu = n - 2.0;
    let f95 = nu / 2.0 * (0.05f64.powf(-2.0 / nu) - 1.0);
    2.0 * f95 * (n - 1.0) * (n + 1.0) / (n * (n - 2.0))
}

/// The largest distance between two points of the trace: the diameter of its convex hull,
/// found on the hull (monotone chain, then every hull pair; hulls of sway traces are small).
fn largest_distance(ml: &[f64], ap: &[f64]) -> f64 {
    let mut points: Vec<(f64, f64)> = ml.iter().copied().zip(ap.iter().copied()).collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 2 {
        return 0.0;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    // Andrew's monotone chain: the lower hull left to right, then the upper back again.
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(points.len() + 1);
    let add = |hull: &mut Vec<(f64, f64)>, p: (f64, f64), floor: usize| {
        while hull.len() >= floor && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    };
    for &p in &points {
        add(&mut hull, p, 2);
    }
    let floor = hull.len() + 1;
    for &p in points.iter().rev().skip(1) {
        add(&mut hull, p, floor);
    }
    hull.pop(); // the first point again
    let mut best = 0.0f64;
    for (i, a) in hull.iter().enumerate() {
        for b in &hull[i + 1..] {
            best = best.max((a.0 - b.0).hypot(a.1 - b.1));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn a_circle_by_hand() {
        // 100 points on a circle of radius 10 around the centre, 25 Hz.
        let (n, r) = (100usize, 10.0);
        let angle = |k: usize| 2.0 * PI * k as f64 / n as f64;
        let ml: Vec<f64> = (0..n).map(|k| r * angle(k).cos()).collect();
        let ap: Vec<f64> = (0..n).map(|k| r * angle(k).sin()).collect();
        let m = sway_measures(&ml, &ap, 25.0);
        assert!(close(m.mean_distance[0], r, 1e-12) && close(m.rms[0], r, 1e-12));
        assert!(close(m.rms[1], r / 2f64.sqrt(), 1e-12) && close(m.rms[2], r / 2f64.sqrt(), 1e-12));
        assert!(close(m.range[1], 2.0 * r, 1e-12) && close(m.range[0], 2.0 * r, 1e-12));
        // 99 chords of 2r·sin(π/100) = 0.628215: 62.1933; velocity = path · 25 / 100 points.
        let chord = 2.0 * r * (PI / n as f64).sin();
        assert!(close(m.path[0], 99.0 * chord, 1e-12));
        assert!(close(m.path[0], 62.193_3, 1e-6));
        assert!(close(
            m.mean_velocity[0],
            99.0 * chord * 25.0 / 100.0,
            1e-12
        ));
        // Covariance r²/2 on each axis (divisor n), none across: √det = 50;
        // F₀.₉₅(2, 98) = 49·(0.05^(−1/49) − 1) = 3.0892; k = 2·3.0892·99·101/(100·98) = 6.3039;
        // area = π · 6.3039 · 50 = 990.2.
        let f = 49.0 * (0.05f64.powf(-1.0 / 49.0) - 1.0);
        assert!(close(f, 3.0892, 1e-4), "{f}");
        let k = 2.0 * f * 99.0 * 101.0 / (100.0 * 98.0);
        assert!(close(prediction_ellipse_95_scale(n), k, 1e-12));
        assert!(close(m.ellipse_area_95, PI * k * 50.0, 1e-12));
        assert!(
            close(m.ellipse_area_95, 990.2, 1e-4),
            "{}",
            m.ellipse_area_95
        );
        // Each step sweeps the triangle ½·r²·sin(2π/100) from the centre.
        let per_s = 0.5 * r * r * angle(1).sin() * 25.0;
        assert!(close(m.sway_area_per_s, per_s, 1e-12));
        assert_eq!(m.points, 100);
    }

    #[test]
    fn a_line_with_a_gap_by_hand() {
        // ML = −2, −1, 0 | gap | 1, 2 at 10 Hz; AP = 0.
        let ml = [-2.0, -1.0, 0.0, f64::NAN, 1.0, 2.0];
        let ap = [0.0, 0.0, 0.0, f64::NAN, 0.0, 0.0];
        let m = sway_measures(&ml, &ap, 10.0);
        assert_eq!(m.points, 5);
        // Mean distance 6/5, RMS √2, range 4.
        assert!(close(m.mean_distance[0], 1.2, 1e-12) && close(m.rms[1], 2f64.sqrt(), 1e-12));
        assert_eq!((m.rms[2], m.range[2]), (0.0, 0.0));
        assert!(close(m.range[1], 4.0, 1e-12));
        // Three steps of 1 (none across the gap): velocity 3 · 10 / 5 points.
        assert!(close(m.path[0], 3.0, 1e-12) && close(m.path[1], 3.0, 1e-12));
        assert!(close(m.mean_velocity[0], 6.0, 1e-12));
        assert_eq!(m.mean_velocity[2], 0.0);
        // Mean frequency from the mean step speed, 10 per s: 10 / (2π · 1.2).
        assert!(close(
            m.mean_frequency_hz[0],
            10.0 / (2.0 * PI * 1.2),
            1e-12
        ));
        assert_eq!(m.ellipse_area_95, 0.0, "a line has no area");
    }

    #[test]
    fn the_ellipse_constant_tends_to_chi_square() {
        // For large n, k → χ²₂(0.95) = 5.9915: area → π·5.9915·σx·σy for independent axes.
        let area = ellipse_area_95(1_000_000, 4.0, 9.0, 0.0);
        assert!(close(area, PI * 5.991_46 * 6.0, 1e-4), "{area}");
        assert_eq!(ellipse_area_95(2, 1.0, 1.0, 0.0), 0.0);
        assert_eq!(sway_measures(&[], &[], 25.0), SwayMeasures::default());
    }

    #[test]
    fn the_range_is_the_widest_pair_whatever_lies_inside() {
        // A 3 × 4 rectangle's corners, points inside and on its edges: the diagonal, 5.
        let ml = [0.0, 3.0, 3.0, 0.0, 1.0, 1.5, 3.0, 2.0];
        let ap = [0.0, 0.0, 4.0, 4.0, 1.0, 2.0, 2.0, 4.0];
        assert!((largest_distance(&ml, &ap) - 5.0).abs() < 1e-12);
        assert_eq!(largest_distance(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
        assert!((largest_distance(&[0.0, 1.0, 2.0], &[0.0, 1.0, 2.0]) - 8f64.sqrt()).abs() < 1e-12);
    }
}
