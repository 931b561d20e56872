//! The offline (acausal) orientation estimate for replays and reports, where latency does not
//! matter.
//!
//! Three causal passes of [`AhrsFilter`] (forward, backward in time, forward again, each
//! starting from the bias the previous pass ended with) give a gyroscope bias for every sample
//! that has seen the whole recording. The gyroscope is integrated once more with that bias; the
//! accelerometer, rotated into this inertial frame, is low-passed forwards and backwards
//! (zero phase, so the correction has no lag), and the filtered vector is turned up at each
//! sample. With a magnetometer, the heading correction towards north is smoothed the same way,
//! leaving out samples where the field was disturbed.

use nalgebra::{UnitQuaternion, Vector3};

use super::ahrs::{acc_usable, turn_up, wrap_pi, Butterworth3};
use super::{AhrsFilter, AhrsParams, ImuSi, OrientationFilter};

/// Orientation (`world_from_imu`, z up; ENU with a magnetometer) for every sample of a
/// recording sampled every `dt_s`. Stretches separated by unusable samples are not special:
/// unusable readings are held over from the last usable one.
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
    let mut q = UnitQuaternion::identity();
    let mut last_acc = None;
    for (i, s) in samples.iter().enumerate() {
        if i > 0 && s.gyr_rad_s.iter().all(|x| x.is_finite()) {
            q *= UnitQuaternion::from_scaled_axis((s.gyr_rad_s - bias[i]) * dt_s);
        }
        if acc_usable(&s.acc_m_s2, params) {
            last_acc = Some(s.acc_m_s2);
        }
        inertial_from_imu.push(q);
        acc_inertial.push(last_acc.map(|a| q * a));
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
        apply_heading(samples, &mag_disturbed, &mut world6_from_imu, dt_s, params);
    }
    world6_from_imu
}

/// The gyroscope bias at every sample, from three causal passes; and, from the first pass, the
/// samples whose magnetic field the causal filter judged disturbed.
fn smoothed_bias(
    samples: &[ImuSi],
    dt_s: f64,
    params: &AhrsParams,
) -> (Vec<Vector3<f64>>, Vec<bool>) {
    let n = samples.len();
    let mut mag_disturbed = vec![false; n];
    let pass = |forward: bool,
                start_bias: Vector3<f64>,
                mut flags: Option<&mut [bool]>|
     -> Vec<Vector3<f64>> {
        let mut filter = AhrsFilter::new(*params);
        filter.set_gyr_bias_rad_s(start_bias);
        let mut out = vec![Vector3::zeros(); n];
        for k in 0..n {
            let i = if forward { k } else { n - 1 - k };
            let mut s = samples[i];
            if !forward {
                // Time reversed: the rotation runs backwards, and so does the bias.
                s.gyr_rad_s = -s.gyr_rad_s;
            }
            let estimate = filter.update(&s, if k == 0 { 0.0 } else { dt_s });
            if let Some(flags) = flags.as_deref_mut() {
                flags[i] = estimate.mag_disturbed;
            }
            let b = filter.gyr_bias_rad_s();
            out[i] = if forward { b } else { -b };
        }
        out
    };
    let first = pass(true, Vector3::zeros(), Some(&mut mag_disturbed));
    let backward = pass(false, -first[n - 1], None);
    let forward = pass(true, backward[0], None);
    let bias = forward
        .iter()
        .zip(&backward)
        .map(|(f, b)| (f + b) / 2.0)
        .collect();
    (bias, mag_disturbed)
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
    dt_s: f64,
    params: &AhrsParams,
) {
    // Per sample: weight · (cos, sin) of the heading that turns the field north, and weight.
    let mut weighted = Vec::with_capacity(samples.len());
    for ((s, q), &disturbed) in samples
        .iter()
        .zip(world6_from_imu.iter())
        .zip(mag_disturbed)
    {
        let usable = s.mag_ut.filter(|m| m.iter().all(|x| x.is_finite()));
        let entry = match usable {
            Some(mag) if !disturbed => {
                let m = q * mag;
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
    let smooth = zero_phase(&weighted, params.tau_mag_s, dt_s);
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
