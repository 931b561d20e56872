//! Step detection for walking drills from a lumbar IMU.
//!
//! The method is McCamley et al. 2012 ("An enhanced estimate of initial contact and final
//! contact instants of time using lower trunk inertial sensor data", Gait & Posture) as
//! modified by Ionescu et al. 2020 and used by Mobilise-D:
//! 1. vertical acceleration in the world frame (gravity-aligned with the offline orientation,
//!    so the sensor may be strapped on at any angle), gravity removed;
//! 2. band-pass: a first-order drift removal at [`DEDRIFT_HZ`] and a low-pass at
//!    [`LOW_PASS_HZ`], both forward and backward (zero phase);
//! 3. integration to vertical velocity, then a continuous-wavelet differentiation with the
//!    second derivative of a Gaussian (width [`WAVELET_SIGMA_S`]): together, minus the
//!    derivative of the Gaussian-smoothed acceleration;
//! 4. an initial contact at the lowest point of each negative lobe of that signal (between a
//!    downward and an upward zero crossing), reported [`REPORTED_DELAY_S`] later, as the
//!    reference implementation reports it.
//!
//! Like the reference, [`initial_contacts`] has no threshold: it is meant for a stretch known to
//! be walking. For a recording that also holds standing, sitting or stillness,
//! [`walking_bouts`] keeps only stretches of regular steps (at least [`MIN_BOUT_STEPS`] steps
//! of [`MIN_BOUT_STRENGTH_M_S3`] or more, none longer than [`MAX_BOUT_STEP_TIME_S`]); a still
//! recording gives none. The comparison with the reference's results is in `tests/it/gait.rs`
//! (../shared/data/gait-lowback).

use nalgebra::UnitQuaternion;

use super::filter::{butterworth_lowpass, filtfilt, Iir};
use crate::pipeline::{smooth_orientation, AhrsParams, ImuSi};
use crate::G_M_S2;

/// Named and versioned like the posturography preprocessing: results carry it.
pub const STEP_DETECTION_VERSION: &str = "mccamley-ionescu-1";

/// Drift removal: a first-order high-pass, Hz (the reference's filter at 40 Hz has its pole at
/// 0.9748, which is this corner).
pub const DEDRIFT_HZ: f64 = 0.16;

/// Low-pass corner, Hz: the reference's FIR passes gait frequencies up to about 3.1 Hz.
pub const LOW_PASS_HZ: f64 = 3.2;

/// Order of the Butterworth low-pass (run forward and backward).
const LOW_PASS_ORDER: usize = 4;

/// Width (σ) of the Gaussian whose second derivative is the wavelet, s: the reference's `gaus2`
/// wavelet at scale 9 on a 40 Hz signal is that of exp(−(t·40/9)²), so σ = 9 / (40 √2). With
/// its sign, the wavelet coefficient of the integrated signal is minus the derivative of the
/// smoothed acceleration: a contact is where the vertical acceleration rises fastest.
pub const WAVELET_SIGMA_S: f64 = 9.0 / (40.0 * std::f64::consts::SQRT_2);

/// The reference implementation reports each contact two 40 Hz samples after the lobe's lowest
/// point (it keeps one padding sample when it trims its filter padding, and its indices are
/// one-based). The method was validated against reference heel strikes with this timing, so
/// contacts keep it.
pub const REPORTED_DELAY_S: f64 = 2.0 / 40.0;

/// One initial contact (heel strike).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InitialContact {
    /// Time since the first sample, s.
    pub t_s: f64,
    /// How far below zero its lobe reached, m/s³.
    pub strength_m_s3: f64,
}

/// Steps per minute: 60 over the median step time between consecutive `contacts_s` (the
/// median, so that one missed or extra contact does not move it); `None` for fewer than two.
pub fn cadence_steps_per_min(contacts_s: &[f64]) -> Option<f64> {
    cadence_of_steps(contacts_s.windows(2).map(|w| w[1] - w[0]).collect())
}

/// [`cadence_steps_per_min`] over the steps within each bout (never across the gap between
/// two bouts).
pub fn bouts_cadence_steps_per_min(bouts: &[WalkingBout]) -> Option<f64> {
    cadence_of_steps(
        bouts
            .iter()
            .flat_map(|b| b.contacts.windows(2).map(|w| w[1].t_s - w[0].t_s))
            .collect(),
    )
}

/// 60 over the median of `steps` (step times, s).
fn cadence_of_steps(mut steps: Vec<f64>) -> Option<f64> {
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    let mid = steps.len() / 2;
    let median = if steps.len() % 2 == 0 {
        (steps[mid - 1] + steps[mid]) / 2.0
    } else {
        steps[mid]
    };
    (median > 0.0).then(|| 60.0 / median)
}

/// Vertical acceleration in the world frame with gravity removed, m/s² (up positive), from the
/// offline orientation (6D: the heading does not matter here).
pub fn vertical_acceleration(samples: &[ImuSi], rate_hz: f64) -> Vec<f64> {
    let world_from_imu = smooth_orientation(samples, 1.0 / rate_hz, &step_detection_ahrs());
    vertical_acceleration_in(samples, &world_from_imu)
}

/// The orientation filter's setup for step detection: 6D, as the heading does not matter.
pub fn step_detection_ahrs() -> AhrsParams {
    AhrsParams {
        use_mag: false,
        ..AhrsParams::default()
    }
}

/// Vertical acceleration with gravity removed, m/s², given each sample's `world_from_imu`.
pub fn vertical_acceleration_in(
    samples: &[ImuSi],
    world_from_imu: &[UnitQuaternion<f64>],
) -> Vec<f64> {
    samples
        .iter()
        .zip(world_from_imu)
        .map(|(s, q)| {
            // An unusable reading counts as no acceleration rather than poisoning the filters.
            if s.acc_m_s2.iter().all(|x| x.is_finite()) {
                (q * s.acc_m_s2).z - G_M_S2
            } else {
                0.0
            }
        })
        .collect()
}

/// Initial contacts in a vertical acceleration series sampled at `rate_hz` (steps 2–4 of the
/// module docs).
pub fn initial_contacts(vertical_acc_m_s2: &[f64], rate_hz: f64) -> Vec<InitialContact> {
    let Some(low_pass) = butterworth_lowpass(LOW_PASS_ORDER, LOW_PASS_HZ, rate_hz) else {
        return Vec::new();
    };
    let pole = (-2.0 * std::f64::consts::PI * DEDRIFT_HZ / rate_hz).exp();
    let dedrift = Iir {
        b: vec![1.0, -1.0],
        a: vec![1.0, -pole],
    };
    let filtered = filtfilt(&low_pass, &filtfilt(&dedrift, vertical_acc_m_s2));
    let mut wavelet = gaussian_derivative(&filtered, rate_hz);
    let mean = wavelet.iter().sum::<f64>() / wavelet.len().max(1) as f64;
    wavelet.iter_mut().for_each(|w| *w -= mean);

    let mut contacts = Vec::new();
    // The start of the current negative lobe, once a downward crossing has been seen.
    let mut lobe_start = None;
    for i in 1..wavelet.len() {
        let (before, now) = (wavelet[i - 1] >= 0.0, wavelet[i] >= 0.0);
        if before && !now {
            lobe_start = Some(i);
        } else if !before && now {
            if let Some(start) = lobe_start.take() {
                let (lowest, value) = (start..i)
                    .map(|k| (k, wavelet[k]))
                    .fold((start, f64::INFINITY), |m, c| if c.1 < m.1 { c } else { m });
                contacts.push(InitialContact {
                    t_s: lowest as f64 / rate_hz + REPORTED_DELAY_S,
                    strength_m_s3: -value,
                });
            }
        }
    }
    contacts
}

/// A lobe must reach this share of the walk's typical contact strength (the median of the
/// stronger half of the lobes above [`NOISE_FLOOR_M_S3`]) to count as a heel strike.
pub const MIN_RELATIVE_STRENGTH: f64 = 0.5;

/// Lobes weaker than this are noise whatever the walk, m/s³.
pub const NOISE_FLOOR_M_S3: f64 = 0.1;

/// Two heel strikes closer than this are one (the stronger is kept), s.
pub const MIN_STEP_TIME_S: f64 = 0.25;

/// The physiological checks for a stretch that holds one walk among standing: the lobes of
/// [`initial_contacts`] that are strong enough to be heel strikes (the filters ring after
/// each step and sway makes small lobes while standing: they stay well under half a real heel
/// strike's), and never two closer than [`MIN_STEP_TIME_S`].
pub fn heel_strikes(lobes: &[InitialContact]) -> Vec<InitialContact> {
    let mut strengths: Vec<f64> = lobes
        .iter()
        .map(|c| c.strength_m_s3)
        .filter(|s| *s >= NOISE_FLOOR_M_S3)
        .collect();
    if strengths.is_empty() {
        return Vec::new();
    }
    strengths.sort_by(|a, b| b.total_cmp(a));
    let stronger = &strengths[..strengths.len().div_ceil(2)];
    let typical = stronger[stronger.len() / 2];
    let threshold = (MIN_RELATIVE_STRENGTH * typical).max(NOISE_FLOOR_M_S3);
    let mut kept: Vec<InitialContact> = Vec::new();
    for lobe in lobes.iter().filter(|c| c.strength_m_s3 >= threshold) {
        match kept.last_mut() {
            Some(last) if lobe.t_s - last.t_s < MIN_STEP_TIME_S => {
                if lobe.strength_m_s3 > last.strength_m_s3 {
                    *last = *lobe;
                }
            }
            _ => kept.push(*lobe),
        }
    }
    kept
}

/// A heel strike weaker than this never starts or continues a walking bout, m/s³: on the
/// gait-lowback recordings, lobes while standing or sitting stay under 1 and steps of straight
/// walks reach 2–10.
pub const MIN_BOUT_STRENGTH_M_S3: f64 = 1.0;

/// Longest time between two heel strikes of one bout, s (a cadence of 40 steps/min; slow
/// heel-to-toe steps take about 1 s).
pub const MAX_BOUT_STEP_TIME_S: f64 = 1.5;

/// Fewest steps (intervals between heel strikes) in a bout: two strides, the smallest walking
/// bout of Mobilise-D's consensus definition (Kluge et al. 2021).
pub const MIN_BOUT_STEPS: usize = 4;

/// A stretch of regular steps.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkingBout {
    /// Its heel strikes, in time order (at least [`MIN_BOUT_STEPS`] + 1).
    pub contacts: Vec<InitialContact>,
}

impl WalkingBout {
    /// Time of the first heel strike, s.
    pub fn start_s(&self) -> f64 {
        self.contacts.first().map_or(0.0, |c| c.t_s)
    }

    /// Time of the last heel strike, s.
    pub fn end_s(&self) -> f64 {
        self.contacts.last().map_or(0.0, |c| c.t_s)
    }

    /// Steps: intervals between its heel strikes.
    pub fn steps(&self) -> usize {
        self.contacts.len().saturating_sub(1)
    }
}

/// The walking bouts among the lobes of [`initial_contacts`] over a whole recording: the
/// [`heel_strikes`] of at least [`MIN_BOUT_STRENGTH_M_S3`], split wherever two are more than
/// [`MAX_BOUT_STEP_TIME_S`] apart, and the runs of at least [`MIN_BOUT_STEPS`] steps kept.
/// Standing, sitting and stillness make only weak lobes: no bout.
pub fn walking_bouts(lobes: &[InitialContact]) -> Vec<WalkingBout> {
    let mut bouts = Vec::new();
    let mut run: Vec<InitialContact> = Vec::new();
    let mut close = |run: &mut Vec<InitialContact>| {
        if run.len() > MIN_BOUT_STEPS {
            bouts.push(WalkingBout {
                contacts: std::mem::take(run),
            });
        }
        run.clear();
    };
    for strike in heel_strikes(lobes)
        .into_iter()
        .filter(|c| c.strength_m_s3 >= MIN_BOUT_STRENGTH_M_S3)
    {
        if run
            .last()
            .is_some_and(|last| strike.t_s - last.t_s > MAX_BOUT_STEP_TIME_S)
        {
            close(&mut run);
        }
        run.push(strike);
    }
    close(&mut run);
    bouts
}

/// The walking bouts of a lumbar IMU recording sampled at `rate_hz`: [`vertical_acceleration`],
/// [`initial_contacts`] over all of it, then [`walking_bouts`].
pub fn walking_bouts_of(samples: &[ImuSi], rate_hz: f64) -> Vec<WalkingBout> {
    walking_bouts(&initial_contacts(
        &vertical_acceleration(samples, rate_hz),
        rate_hz,
    ))
}

/// Minus the derivative of the Gaussian-smoothed signal (σ = [`WAVELET_SIGMA_S`]), per second,
/// by direct convolution over ±5 σ·√2 (the reference wavelet's support); the ends use the
/// nearest sample.
fn gaussian_derivative(x: &[f64], rate_hz: f64) -> Vec<f64> {
    let sigma = WAVELET_SIGMA_S * rate_hz; // samples
    let half = (5.0 * sigma * std::f64::consts::SQRT_2).round() as isize;
    // −d/dt G(t) = t/σ² G(t), with G normalised to sum to 1.
    let gauss: Vec<f64> = (-half..=half)
        .map(|k| (-(k as f64).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f64 = gauss.iter().sum();
    let kernel: Vec<f64> = (-half..=half)
        .zip(&gauss)
        .map(|(k, g)| (k as f64) / (sigma * sigma) * g / norm * rate_hz)
        .collect();
    let n = x.len() as isize;
    (0..n)
        .map(|i| {
            (-half..=half)
                .zip(&kernel)
                // Convolution: y(i) = Σ x(i − k) · kernel(k).
                .map(|(k, w)| x[(i - k).clamp(0, n - 1) as usize] * w)
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady 1.8 Hz vertical bounce: one contact per cycle, each where the acceleration rises
    /// fastest (its upward zero crossing), reported `REPORTED_DELAY_S` later.
    #[test]
    fn a_steady_bounce_gives_one_contact_per_cycle_at_the_fastest_rise() {
        let (rate, f) = (100.0, 1.8);
        let acc: Vec<f64> = (0..2000)
            .map(|i| 2.0 * (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin())
            .collect();
        let contacts = initial_contacts(&acc, rate);
        let inner: Vec<f64> = contacts
            .iter()
            .map(|c| c.t_s)
            .filter(|t| (2.0..18.0).contains(t))
            .collect();
        assert_eq!(inner.len(), 29, "{inner:?}");
        for t in &inner {
            let cycles = (t - REPORTED_DELAY_S) * f;
            assert!((cycles - cycles.round()).abs() * (1.0 / f) < 0.015, "{t}");
        }
        // Contacts fall on whole samples, so the median step is within one sample (10 ms).
        let cadence = cadence_steps_per_min(&inner).unwrap();
        assert!((60.0 / cadence - 1.0 / f).abs() <= 0.0101, "{cadence}");
    }

    #[test]
    fn heel_strikes_drop_weak_lobes_and_merge_close_ones() {
        let lobe = |t_s, strength_m_s3| InitialContact { t_s, strength_m_s3 };
        let lobes = [
            lobe(0.5, 0.05), // noise while standing
            lobe(1.0, 1.0),
            lobe(1.4, 0.3), // ringing after a step
            lobe(2.0, 1.2),
            lobe(2.1, 0.9), // within 0.25 s of a stronger one
            lobe(3.0, 0.8),
            lobe(4.0, 1.1),
        ];
        let kept: Vec<f64> = heel_strikes(&lobes).iter().map(|c| c.t_s).collect();
        assert_eq!(kept, [1.0, 2.0, 3.0, 4.0]);
        assert!(heel_strikes(&[lobe(1.0, 0.05)]).is_empty());
    }

    #[test]
    fn bouts_need_regular_strong_steps() {
        let lobe = |t_s, strength_m_s3| InitialContact { t_s, strength_m_s3 };
        // Standing: weak lobes only. Then 6 steps 0.6 s apart, a 3 s pause, 3 steps (too few).
        let mut lobes: Vec<InitialContact> = (0..10).map(|i| lobe(i as f64 * 0.7, 0.3)).collect();
        lobes.extend((0..6).map(|i| lobe(8.0 + i as f64 * 0.6, 4.0)));
        lobes.extend((0..3).map(|i| lobe(14.0 + i as f64 * 0.6, 4.0)));
        let bouts = walking_bouts(&lobes);
        assert_eq!(bouts.len(), 1, "{bouts:?}");
        assert_eq!(bouts[0].steps(), 5);
        assert!(
            (bouts[0].start_s() - 8.0).abs() < 1e-12 && (bouts[0].end_s() - 11.0).abs() < 1e-12
        );
        // Still: nothing at all.
        assert!(walking_bouts(&lobes[..10]).is_empty());
        assert!(walking_bouts(&initial_contacts(&vec![0.0; 3000], 100.0)).is_empty());
    }
}
