//! Sway measures from a lumbar IMU in quiet stance (ISway: Mancini et al. 2012, "ISway: a
//! sensitive, valid and reliable measure of postural control", J NeuroEng Rehabil 9:59).
//!
//! # Signals
//! The offline orientation ([`smooth_orientation`], 6D: the heading does not matter) gives
//! `world_from_imu` at every sample. With the sensor's forward axis `f` and up axis `u` (the
//! [`ImuMounting`]; `f` is made perpendicular to `u`) and its right axis `r = f × u`:
//! - **tilt-corrected horizontal acceleration**: the specific force turned into the world frame,
//!   gravity removed (`a = q·f_imu − g·ẑ`), projected on the horizontal AP direction (the mean
//!   horizontal direction of the sensor's forward axis over the trial) and on ML = AP × ẑ
//!   (+ to the right), m/s²;
//! - **trunk angles**: with `v` the world's up seen in sensor axes, AP = atan2(−v·f, v·u)
//!   (+ leaning forward) and ML = atan2(−v·r, v·u) (+ leaning right), degrees, relative to the
//!   mounting's axes (so the mean angle is the posture if the sensor sits as the mounting says).
//!
//! # Measures
//! [`imu_sway_measures`] applies the posturography kernels ([`sway_measures`],
//! [`spectral_measures`]) to the centred acceleration (ML, AP) and to the centred trunk angles,
//! and adds
//! - JERK = ½ ∫ (ȧ_AP² + ȧ_ML²) dt, m²/s⁵, the derivatives as differences between consecutive
//!   samples: ½ Σ ((Δa_AP)² + (Δa_ML)²) / Δt (Mancini's smoothness measure; it grows with the
//!   trial's length and with the signal's bandwidth, so compare it only at one duration and
//!   preprocessing);
//! - trunk-angle RMS about the mean angle, AP and ML, degrees, and the mean angles.

use nalgebra::{UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use super::{
    mean_rate_hz, prepare_series, spectral_measures, sway_measures, Preprocessing,
    SpectralMeasures, SwayMeasures,
};
use crate::pipeline::{smooth_orientation, AhrsParams, ImuSi};
use crate::G_M_S2;

/// How the sensor sits on the body: which of its axes (unit vectors in sensor axes) point
/// forward and up when the person stands upright.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImuMounting {
    /// The sensor axis pointing forward.
    pub forward: Vector3<f64>,
    /// The sensor axis pointing up.
    pub up: Vector3<f64>,
}

impl ImuMounting {
    /// Its forward, up and right axes as unit vectors (forward made perpendicular to up,
    /// right = forward × up).
    pub fn axes(&self) -> Result<MountingAxes, ImuSwayError> {
        let up = self
            .up
            .try_normalize(1e-9)
            .ok_or(ImuSwayError::BadMounting)?;
        let forward = (self.forward - self.forward.dot(&up) * up)
            .try_normalize(1e-3)
            .ok_or(ImuSwayError::BadMounting)?;
        Ok(MountingAxes {
            forward,
            up,
            right: forward.cross(&up),
        })
    }
}

/// A mounting's axes as unit vectors in sensor axes ([`ImuMounting::axes`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MountingAxes {
    /// Forward.
    pub forward: Vector3<f64>,
    /// Up.
    pub up: Vector3<f64>,
    /// Right.
    pub right: Vector3<f64>,
}

impl MountingAxes {
    /// The trunk angles `[ML, AP]`, degrees, when the world's up is `v` in sensor axes:
    /// AP = atan2(−v·f, v·u) (+ leaning forward), ML = atan2(−v·r, v·u) (+ leaning right).
    pub fn trunk_angles_deg(&self, v: &Vector3<f64>) -> [f64; 2] {
        let up = v.dot(&self.up);
        [
            (-v.dot(&self.right)).atan2(up).to_degrees(),
            (-v.dot(&self.forward)).atan2(up).to_degrees(),
        ]
    }
}

impl Default for ImuMounting {
    /// proprio's wearable: x forward, z up.
    fn default() -> Self {
        ImuMounting {
            forward: Vector3::x(),
            up: Vector3::z(),
        }
    }
}

/// The signals the measures are taken on, one value per input sample.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImuSwaySignals {
    /// Horizontal acceleration, antero-posterior (+ forward), m/s².
    pub acc_ap_m_s2: Vec<f64>,
    /// Horizontal acceleration, medio-lateral (+ right), m/s².
    pub acc_ml_m_s2: Vec<f64>,
    /// Trunk angle, antero-posterior (+ leaning forward), degrees.
    pub trunk_ap_deg: Vec<f64>,
    /// Trunk angle, medio-lateral (+ leaning right), degrees.
    pub trunk_ml_deg: Vec<f64>,
}

/// Why the signals could not be formed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ImuSwayError {
    /// The mounting's forward and up axes are (nearly) parallel, or one is zero.
    #[error("the sensor's forward and up axes must be different, perpendicular directions")]
    BadMounting,
    /// The forward axis pointed (nearly) straight up or down throughout.
    #[error("the sensor's forward axis points up or down, so it gives no horizontal direction")]
    NoForwardDirection,
    /// Fewer than three samples to measure, or a span beyond the samples.
    #[error("there are too few samples to measure the sway")]
    TooFewSamples,
}

/// The tilt-corrected horizontal acceleration and the trunk angles of samples taken every
/// `dt_s` (see the module docs).
pub fn imu_sway_signals(
    samples: &[ImuSi],
    dt_s: f64,
    mounting: &ImuMounting,
) -> Result<ImuSwaySignals, ImuSwayError> {
    let world_from_imu = smooth_orientation(samples, dt_s, &AhrsParams::tilt_only());
    imu_sway_signals_in(samples, &world_from_imu, mounting)
}

/// [`imu_sway_signals`] given each sample's `world_from_imu`.
pub fn imu_sway_signals_in(
    samples: &[ImuSi],
    world_from_imu: &[UnitQuaternion<f64>],
    mounting: &ImuMounting,
) -> Result<ImuSwaySignals, ImuSwayError> {
    let axes = mounting.axes()?;
    let forward = axes.forward;
    // The AP direction: where the forward axis points, horizontally, on average.
    let forward_world: Vector3<f64> = world_from_imu.iter().map(|q| q * forward).sum();
    let ap = Vector3::new(forward_world.x, forward_world.y, 0.0)
        .try_normalize(1e-6 * world_from_imu.len().max(1) as f64)
        .ok_or(ImuSwayError::NoForwardDirection)?;
    let ml = ap.cross(&Vector3::z());
    let mut signals = ImuSwaySignals::default();
    let mut last_acc = Vector3::zeros();
    for (s, q) in samples.iter().zip(world_from_imu) {
        // An unusable reading repeats the last usable one rather than poisoning the kernels.
        if s.acc_m_s2.iter().all(|x| x.is_finite()) {
            last_acc = q * s.acc_m_s2 - Vector3::z() * G_M_S2;
        }
        signals.acc_ap_m_s2.push(last_acc.dot(&ap));
        signals.acc_ml_m_s2.push(last_acc.dot(&ml));
        let [ml, ap] = axes.trunk_angles_deg(&q.inverse_transform_vector(&Vector3::z()));
        signals.trunk_ml_deg.push(ml);
        signals.trunk_ap_deg.push(ap);
    }
    Ok(signals)
}

/// The ISway measures of a lumbar IMU's `samples`, taken at the increasing times `t_s` (s),
/// over the samples of `span`: the orientation is estimated over all the samples at their
/// mean rate (the still stretch before a hold makes the gyroscope's bias known), the signals
/// of `span` prepared as `preprocessing` says ([`prepare_series`]: the canonical preprocessing, or
/// centred as given), then [`imu_sway_measures`]; the mean trunk angles are those of the
/// signals before centring (the posture). Returns the measures and the rate of the series
/// they come from, Hz. `proprio measure` and the quiet-stance drill on the wearable both
/// measure with it, so they give the same numbers for the same recording.
pub fn imu_sway_over(
    t_s: &[f64],
    samples: &[ImuSi],
    span: std::ops::Range<usize>,
    mounting: &ImuMounting,
    preprocessing: Option<&Preprocessing>,
) -> Result<(ImuSwayMeasures, f64), ImuSwayError> {
    if span.len() < 3 || span.end > t_s.len().min(samples.len()) {
        return Err(ImuSwayError::TooFewSamples);
    }
    let world_from_imu =
        smooth_orientation(samples, 1.0 / mean_rate_hz(t_s), &AhrsParams::tilt_only());
    let signals = imu_sway_signals_in(
        &samples[span.clone()],
        &world_from_imu[span.clone()],
        mounting,
    )?;
    let t_s = &t_s[span];
    let (acc_ml, acc_ap, rate_hz) = prepare_series(
        t_s,
        &signals.acc_ml_m_s2,
        &signals.acc_ap_m_s2,
        preprocessing,
    );
    let (trunk_ml, trunk_ap, _) = prepare_series(
        t_s,
        &signals.trunk_ml_deg,
        &signals.trunk_ap_deg,
        preprocessing,
    );
    let prepared = ImuSwaySignals {
        acc_ap_m_s2: acc_ap,
        acc_ml_m_s2: acc_ml,
        trunk_ap_deg: trunk_ap,
        trunk_ml_deg: trunk_ml,
    };
    let mut measures = imu_sway_measures(&prepared, rate_hz);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    measures.trunk_mean_deg = [mean(&signals.trunk_ml_deg), mean(&signals.trunk_ap_deg)];
    Ok((measures, rate_hz))
}

/// JERK = ½ ∫ (ȧ_AP² + ȧ_ML²) dt of a series sampled at `rate_hz`, m²/s⁵ for accelerations in
/// m/s²: ½ Σ ((Δa_AP)² + (Δa_ML)²)·rate over consecutive samples. 0 below two samples.
pub fn jerk_m2_s5(acc_ap_m_s2: &[f64], acc_ml_m_s2: &[f64], rate_hz: f64) -> f64 {
    let squared = |a: &[f64]| a.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>();
    0.5 * (squared(acc_ap_m_s2) + squared(acc_ml_m_s2)) * rate_hz
}

/// The measures of one lumbar-IMU quiet-stance trial.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ImuSwayMeasures {
    /// The sway kernels on the centred horizontal acceleration (ML, AP): m/s², m/s³ (mean
    /// velocity), (m/s²)² (areas).
    pub acc: SwayMeasures,
    /// Spectral measures of the acceleration, ML then AP.
    pub acc_spectral: [SpectralMeasures; 2],
    /// JERK = ½ ∫ (ȧ_AP² + ȧ_ML²) dt, m²/s⁵.
    pub jerk_m2_s5: f64,
    /// The sway kernels on the centred trunk angles (ML, AP): degrees, °/s, degrees².
    pub trunk: SwayMeasures,
    /// Spectral measures of the trunk angles, ML then AP.
    pub trunk_spectral: [SpectralMeasures; 2],
    /// Mean trunk angle, ML then AP, degrees.
    pub trunk_mean_deg: [f64; 2],
    /// Trunk-angle RMS about the mean angle, ML then AP, degrees.
    pub trunk_rms_deg: [f64; 2],
}

/// The measures of signals sampled regularly at `rate_hz` (preprocessed or as given; each
/// series is centred here, the mean trunk angles are kept).
pub fn imu_sway_measures(signals: &ImuSwaySignals, rate_hz: f64) -> ImuSwayMeasures {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let centre = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| x - m).collect::<Vec<f64>>()
    };
    let (acc_ml, acc_ap) = (centre(&signals.acc_ml_m_s2), centre(&signals.acc_ap_m_s2));
    let (trunk_ml, trunk_ap) = (centre(&signals.trunk_ml_deg), centre(&signals.trunk_ap_deg));
    let trunk = sway_measures(&trunk_ml, &trunk_ap, rate_hz);
    ImuSwayMeasures {
        acc: sway_measures(&acc_ml, &acc_ap, rate_hz),
        acc_spectral: [
            spectral_measures(&acc_ml, rate_hz),
            spectral_measures(&acc_ap, rate_hz),
        ],
        jerk_m2_s5: jerk_m2_s5(&acc_ap, &acc_ml, rate_hz),
        trunk,
        trunk_spectral: [
            spectral_measures(&trunk_ml, rate_hz),
            spectral_measures(&trunk_ap, rate_hz),
        ],
        trunk_mean_deg: [mean(&signals.trunk_ml_deg), mean(&signals.trunk_ap_deg)],
        trunk_rms_deg: [trunk.rms[1], trunk.rms[2]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn jerk_of_sinusoids_is_known() {
        // a_AP = A sin ωt, a_ML = B cos 2ωt over whole cycles: ∫ȧ² dt = A²ω²T/2 and
        // B²(2ω)²T/2, so JERK = ¼ T ω² (A² + 4B²).
        let (rate, f, t_s) = (200.0, 0.5, 20.0);
        let (a, b) = (0.1, 0.03);
        let w = 2.0 * PI * f;
        let n = (t_s * rate) as usize + 1;
        let ap: Vec<f64> = (0..n).map(|i| a * (w * i as f64 / rate).sin()).collect();
        let ml: Vec<f64> = (0..n)
            .map(|i| b * (2.0 * w * i as f64 / rate).cos())
            .collect();
        let want = 0.25 * t_s * w * w * (a * a + 4.0 * b * b);
        let got = jerk_m2_s5(&ap, &ml, rate);
        // Differences shrink a sine's derivative by sin(ωΔt/2)/(ωΔt/2): 3e-5 here.
        assert!((got / want - 1.0).abs() < 1e-4, "{got} vs {want}");
    }

    /// The sensor (x forward, z up) rocks forward and back by Θ sin ωt about its right axis
    /// while its mount moves sideways with a = A sin ω₂t: the trunk-angle RMS is Θ/√2, the ML
    /// acceleration's RMS A/√2, the AP acceleration nil, and JERK ¼ T ω₂² A².
    #[test]
    fn a_rocking_sensor_on_a_moving_mount() {
        let (rate, t_s) = (100.0, 60.0);
        let (theta, w) = (3f64.to_radians(), 2.0 * PI * 0.4);
        let (amp, w2) = (0.05, 2.0 * PI * 1.5);
        let n = (t_s * rate) as usize;
        let samples: Vec<ImuSi> = (0..n)
            .map(|i| {
                let t = i as f64 / rate;
                // Leaning forward turns x down: a rotation about the sensor's +y (left) axis.
                let pitch = theta * (w * t).sin();
                let q = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), pitch);
                // Right is −y in the world; specific force = motion + gravity, in sensor axes.
                let a_world = Vector3::new(0.0, -amp * (w2 * t).sin(), G_M_S2);
                ImuSi {
                    acc_m_s2: q.inverse_transform_vector(&a_world),
                    gyr_rad_s: Vector3::y() * theta * w * (w * t).cos(),
                    mag_ut: None,
                }
            })
            .collect();
        let signals = imu_sway_signals(&samples, 1.0 / rate, &ImuMounting::default()).unwrap();
        let m = imu_sway_measures(&signals, rate);
        let rms_deg = theta.to_degrees() / 2f64.sqrt();
        assert!((m.trunk_rms_deg[1] / rms_deg - 1.0).abs() < 0.01, "{m:?}");
        assert!(m.trunk_rms_deg[0] < 0.02, "{m:?}");
        assert!(m.trunk_mean_deg[1].abs() < 0.05, "{m:?}");
        assert!(
            (m.acc.rms[1] / (amp / 2f64.sqrt()) - 1.0).abs() < 0.02,
            "{m:?}"
        );
        assert!(m.acc.rms[2] < 0.1 * amp, "{m:?}");
        let jerk = 0.25 * t_s * w2 * w2 * amp * amp;
        assert!(
            (m.jerk_m2_s5 / jerk - 1.0).abs() < 0.05,
            "{} vs {jerk}",
            m.jerk_m2_s5
        );
        // Its trunk sways at 0.4 Hz: the spectrum says so.
        assert!((m.trunk_spectral[1].frequency_mode_hz - 0.4).abs() <= m.trunk_spectral[1].bin_hz);
    }

    #[test]
    fn a_forward_axis_along_up_is_refused() {
        let mounting = ImuMounting {
            forward: Vector3::z(),
            up: Vector3::z(),
        };
        let still = vec![
            ImuSi {
                acc_m_s2: Vector3::z() * G_M_S2,
                gyr_rad_s: Vector3::zeros(),
                mag_ut: None,
            };
            100
        ];
        assert_eq!(
            imu_sway_signals(&still, 0.01, &mounting),
            Err(ImuSwayError::BadMounting)
        );
    }
}
