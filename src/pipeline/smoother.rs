//! The offline (acausal) orientation estimate for replays and reports, where latency does not
//! matter.
//!
//! - **Bias.** Two causal passes of [`AhrsFilter`] over the whole recording, one forward and one
//!   backward in time, each from scratch, give every sample two independent gyroscope bias
//!   estimates with their covariances: one from everything before it, one from everything after
//!   it. They are combined by their uncertainties (the product of the two Gaussians), so a rest
//!   on either side counts for what it measured, and a pass that has only seen fast motion
//!   counts for little. Over a whole recording the bias is taken to wander slowly
//!   (`bias_forgetting_offline_s` instead of the live filter's `bias_forgetting_s`).
//! - **Inclination.** The gyroscope is integrated once more with that bias (the inertial
//!   frame); each accelerometer reading is rotated into it with the orientation halfway through
//!   its sample interval, since a sample is the mean over its interval (as the simulator's and a
//!   real sensor's decimation filter make it, and as the gyroscope integration takes it); the
//!   vectors are low-passed forwards and backwards (zero phase, time constant
//!   `tau_acc_offline_s`, so the correction has no lag), and the filtered vector is turned up at
//!   each sample. Accelerations are not weighted by their size: a body's accelerations average
//!   out in the inertial frame because its velocity stays bounded, while down-weighting samples
//!   by |a| − g or by the rotation rate keeps the samples whose acceleration is sideways and so
//!   biases the mean (tried on BROAD: it made the errors worse).
//! - **Heading.** With a magnetometer (its reading also taken halfway through its interval), the
//!   heading correction towards north is smoothed the same way with `tau_mag_offline_s`, longer
//!   than the live filter's since the gyroscope's heading hardly drifts with a bias known from
//!   the whole recording, leaving out samples where both passes judged the field disturbed (a
//!   passing magnet; a new steady field is accepted by each pass from its own side).
//!
//! The structure is the offline VQF's (Laidig & Seel 2023); the formulation is our own.

use nalgebra::{Matrix3, UnitQuaternion, Vector3};

/// Names this estimate; results measured on it carry it, and it changes whenever the estimate
/// can move a result.
pub const OFFLINE_ORIENTATION_VERSION: &str = "offline-2";

use super::ahrs::{acc_usable, turn_up, wrap_pi, Butterworth3};
use super::{AhrsFilter, AhrsParams, ImuSi, OrientationFilter};

/// Orientation (`world_from_imu`, z up; ENU with a magnetometer) for every sample of a
/// recording sampled every `dt_s`. Stretches separated by unusable samples are not special:
/// an unusable accelerometer reading is replaced by the last usable one (in the inertial
/// frame, where gravity stands still), unusable rates by no rotation.
pub fn smooth_orientation(
    samples: &[ImuSi],
    dt_s: f64,
    params: &AhrsParams,
) -> Vec<UnitQuaternion<f64>> {
    if samples.is_empty() || !(dt_s.is_finite() && dt_s > 0.0) {
        return vec![UnitQuaternion::identity(); samples.len()];
    }
    let n = samples.len();
    let (bias, mag_disturbed) = smoothed_bias(samples, dt_s, params);

    // Inertial frame from the gyroscope with the smoothed bias; gravity in it.
    let mut inertial_from_imu = Vec::with_capacity(n);
    let mut acc_inertial = Vec::with_capacity(n);
    // Per sample, the sensor's frame halfway through its interval as seen from its frame at the
    // end: a reading is the mean over its interval, so it belongs to the middle.
    let mut imu_end_from_imu_mid = Vec::with_capacity(n);
    let mut q = UnitQuaternion::identity();
    let mut last_acc = None;
    for (i, s) in samples.iter().enumerate() {
        let mut end_from_mid = UnitQuaternion::identity();
        if i > 0 && s.gyr_rad_s.iter().all(|x| x.is_finite()) {
            let step = (s.gyr_rad_s - bias[i]) * dt_s;
            q *= UnitQuaternion::from_scaled_axis(step);
            end_from_mid = UnitQuaternion::from_scaled_axis(-step / 2.0);
        }
        if acc_usable(&s.acc_m_s2, params) {
            last_acc = Some(q * end_from_mid * s.acc_m_s2);
        }
        inertial_from_imu.push(q);
        imu_end_from_imu_mid.push(end_from_mid);
        acc_inertial.push(last_acc);
    }
    // Before the first usable reading, use the first one.
    let first = acc_inertial
        .iter()
        .flatten()
        .next()
        .copied()
        .unwrap_or(Vector3::z());
    let acc_inertial: Vec<Vector3<f64>> = acc_inertial.iter().map(|a| a.unwrap_or(first)).collect();
    let up_inertial = zero_phase(&acc_inertial, params.tau_acc_offline_s, dt_s);

    let mut world6_from_imu: Vec<UnitQuaternion<f64>> = up_inertial
        .iter()
        .zip(&inertial_from_imu)
        .map(|(up, q)| turn_up(up) * q)
        .collect();

    if params.use_mag {
        apply_heading(
            samples,
            &mag_disturbed,
            &mut world6_from_imu,
            &imu_end_from_imu_mid,
            dt_s,
            params,
        );
    }
    world6_from_imu
}

/// The gyroscope bias at every sample, from a forward and a backward causal pass combined by
/// their covariances; and the samples whose magnetic field both passes judged disturbed.
fn smoothed_bias(
    samples: &[ImuSi],
    dt_s: f64,
    params: &AhrsParams,
) -> (Vec<Vector3<f64>>, Vec<bool>) {
    let n = samples.len();
    let pass_params = AhrsParams {
        bias_forgetting_s: params.bias_forgetting_offline_s,
        ..*params
    };
    let pass = |forward: bool| -> Vec<(Vector3<f64>, Matrix3<f64>, bool)> {
        let mut filter = AhrsFilter::new(pass_params);
        let mut out = vec![(Vector3::zeros(), Matrix3::zeros(), false); n];
        for k in 0..n {
            let i = if forward { k } else { n - 1 - k };
            let mut s = samples[i];
            if !forward {
                // Time reversed: the rotation runs backwards, and so does the bias.
                s.gyr_rad_s = -s.gyr_rad_s;
            }
            let estimate = filter.update(&s, if k == 0 { 0.0 } else { dt_s });
            let b = filter.gyr_bias_rad_s();
            out[i] = (
                if forward { b } else { -b },
                filter.gyr_bias_covariance_rad2_s2(),
                estimate.mag_disturbed,
            );
        }
        out
    };
    let forward = pass(true);
    let backward = pass(false);
    forward
        .iter()
        .zip(&backward)
        .map(|(&(b1, p1, d1), &(b2, p2, d2))| (combine(&b1, &p1, &b2, &p2), d1 && d2))
        .unzip()
}

/// The mean of the product of two Gaussian estimates `(b1, p1)` and `(b2, p2)`:
/// `p2 (p1 + p2)⁻¹ b1 + p1 (p1 + p2)⁻¹ b2`, which needs no inverse of either covariance (one may
/// be zero); their plain mean when the sum cannot be inverted.
fn combine(
    b1: &Vector3<f64>,
    p1: &Matrix3<f64>,
    b2: &Vector3<f64>,
    p2: &Matrix3<f64>,
) -> Vector3<f64> {
    match (p1 + p2).try_inverse() {
        Some(sum_inv) => {
            let b = b1 + p1 * sum_inv * (b2 - b1);
            if b.iter().all(|x| x.is_finite()) {
                b
            } else {
                (b1 + b2) / 2.0
            }
        }
        None => (b1 + b2) / 2.0,
    }
}

/// Forward–backward Butterworth low-pass (zero phase), each direction started in steady state.
fn zero_phase(x: &[Vector3<f64>], tau_s: f64, dt_s: f64) -> Vec<Vector3<f64>> {
    let mut lp = Butterworth3::new(tau_s);
    lp.set_dt(dt_s);
    let mut y: Vec<Vector3<f64>> = x.iter().map(|v| lp.step(*v)).collect();
    let mut lp = Butterworth3::new(tau_s);
    lp.set_dt(dt_s);
    for v in y.iter_mut().rev() {
        *v = lp.step(*v);
    }
    y
}

/// Smooths the heading towards north (zero phase, disturbed samples left out) and applies it.
fn apply_heading(
    samples: &[ImuSi],
    mag_disturbed: &[bool],
    world6_from_imu: &mut [UnitQuaternion<f64>],
    imu_end_from_imu_mid: &[UnitQuaternion<f64>],
    dt_s: f64,
    params: &AhrsParams,
) {
    // Per sample: weight · (cos, sin) of the heading that turns the field north, and weight.
    let mut weighted = Vec::with_capacity(samples.len());
    for (((s, world6_from_imu_end), &disturbed), end_from_mid) in samples
        .iter()
        .zip(world6_from_imu.iter())
        .zip(mag_disturbed)
        .zip(imu_end_from_imu_mid)
    {
        let usable = s.mag_ut.filter(|m| m.iter().all(|x| x.is_finite()));
        let entry = match usable {
            Some(mag) if !disturbed => {
                let m = world6_from_imu_end * (end_from_mid * mag);
                if m.xy().norm() > 1e-6 {
                    let target = std::f64::consts::FRAC_PI_2 - m.y.atan2(m.x);
                    Vector3::new(target.cos(), target.sin(), 1.0)
                } else {
                    Vector3::zeros()
                }
            }
            _ => Vector3::zeros(),
        };
        weighted.push(entry);
    }
    if weighted.iter().all(|w| w.z == 0.0) {
        return;
    }
    let smooth = zero_phase(&weighted, params.tau_mag_offline_s, dt_s);
    // The heading correction where enough of the window had an undisturbed field; through
    // disturbed stretches the gyroscope carries the heading, so the correction is interpolated
    // between the trusted stretches on either side.
    let trusted: Vec<Option<f64>> = smooth
        .iter()
        .map(|w| (w.z >= MIN_TRUSTED_SHARE).then(|| w.y.atan2(w.x)))
        .collect();
    let heading = fill_gaps(&trusted);
    for (q, h) in world6_from_imu.iter_mut().zip(heading) {
        *q = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), h) * *q;
    }
}

/// Share of a heading window's samples with an undisturbed field for the window to count.
const MIN_TRUSTED_SHARE: f64 = 0.5;

/// Angles with gaps → angles without: linear interpolation (the short way round) inside a gap,
/// the nearest value at the ends, 0 if nothing is known.
fn fill_gaps(angles: &[Option<f64>]) -> Vec<f64> {
    let mut out = vec![0.0; angles.len()];
    let mut last: Option<(usize, f64)> = None;
    for (i, a) in angles.iter().enumerate() {
        let Some(a) = *a else { continue };
        match last {
            Some((j, b)) if i > j + 1 => {
                let step = wrap_pi(a - b) / (i - j) as f64;
                for (k, o) in out.iter_mut().enumerate().take(i).skip(j + 1) {
                    *o = wrap_pi(b + step * (k - j) as f64);
                }
            }
            None => out[..i].fill(a),
            _ => {}
        }
        out[i] = a;
        last = Some((i, a));
    }
    if let Some((j, b)) = last {
        out[j + 1..].fill(b);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chains_measured_on_it_name_this_version() {
        use crate::session::{NEUTRAL_SPINE_PIPELINE_VERSION, WALK_PIPELINE_VERSION};
        let chain = format!(
            "{}+{}",
            crate::pipeline::PIPELINE_VERSION,
            super::OFFLINE_ORIENTATION_VERSION
        );
        assert_eq!(NEUTRAL_SPINE_PIPELINE_VERSION, chain);
        assert!(WALK_PIPELINE_VERSION.starts_with(&format!("{chain}+")));
    }

    use super::*;

    #[test]
    fn estimates_combine_by_their_uncertainties() {
        let b1 = Vector3::new(1.0, 2.0, 3.0);
        let b2 = Vector3::new(5.0, -2.0, 7.0);
        // Per axis, two independent Gaussians give (p2·b1 + p1·b2) / (p1 + p2).
        let p1 = Matrix3::from_diagonal(&Vector3::new(1.0, 4.0, 1.0));
        let p2 = Matrix3::from_diagonal(&Vector3::new(3.0, 4.0, 0.0));
        let b = combine(&b1, &p1, &b2, &p2);
        let expected = Vector3::new((3.0 * 1.0 + 5.0) / 4.0, 0.0, 7.0);
        assert!((b - expected).norm() < 1e-12, "{b}");
        // A certain estimate wins; two certain ones (no inverse) give their mean.
        let zero = Matrix3::zeros();
        assert!((combine(&b1, &zero, &b2, &p1) - b1).norm() < 1e-12);
        assert!((combine(&b1, &p1, &b2, &zero) - b2).norm() < 1e-12);
        assert_eq!(combine(&b1, &zero, &b2, &zero), (b1 + b2) / 2.0);
    }
}
