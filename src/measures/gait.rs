//! Step detection for walking drills from a lumbar IMU.
//!
//! The method is McCamley et al. 2012 ("An enhanced estimate of initial contact and final
//! contact instants of time using lower trunk inertial sensor data", Gait & Posture) as
//! modified by Ionescu et al. 2020 and used by Mobilise-D, with the reference implementation's
//! processing (Mobilise-D's ICDA, also in mobgap), so that its contacts can be compared one by
//! one:
//! 1. the vertical acceleration along the sensor's own vertical axis ([`vertical_acceleration`],
//!    [`upright_axis`]: the sensor axis nearest to gravity on average), as the reference takes
//!    it (a gravity-aligned signal agrees less with the reference's contacts: see
//!    `tests/it/gait.rs`); or, for slow heel-to-toe walking, whose trunk leans far sideways and
//!    tilts the sensor's axis with it, the world's vertical ([`world_vertical_acceleration`]):
//!    see [`Gait`];
//! 2. resampled to [`PROCESSING_RATE_HZ`] by linear interpolation from the first sample;
//! 3. extended at both ends by wrapping around (the series is treated as periodic), then a
//!    drift removal (first-order high-pass, pole [`DEDRIFT_POLE`]) and an equiripple FIR
//!    low-pass (passband to [`LOW_PASS_PASS_HZ`], stopband from [`LOW_PASS_STOP_HZ`]), both
//!    forward and backward (zero phase);
//! 4. integrated (trapezoids) to vertical velocity, then a continuous wavelet transform with the
//!    second derivative of a Gaussian at scale [`WAVELET_SCALE`] (σ = [`WAVELET_SIGMA_S`]):
//!    together, minus the derivative of the Gaussian-smoothed acceleration, m/s³; its mean
//!    removed;
//! 5. an initial contact at the lowest sample of each negative lobe of that signal (between a
//!    downward and an upward zero crossing), reported as the reference reports it
//!    ([`REPORTED_DELAY_S`] and one input sample period later).
//!
//! Like the reference, [`initial_contacts`] has no threshold and no least step time: it is meant
//! for a stretch known to be walking. For a recording that also holds standing, sitting or
//! stillness, [`walking_bouts`] keeps only stretches of regular steps (never two heel strikes
//! within [`MIN_STEP_TIME_S`]), by rules that depend on the [`Gait`]; a still recording gives
//! none. The comparison with the reference's results is in `tests/it/gait.rs`
//! (../shared/data/gait-lowback); the simulated heel-to-toe walks are in `tests/it/walk.rs` and
//! `tests/it/measure.rs`.

use std::sync::OnceLock;

use nalgebra::{UnitQuaternion, Vector3};

use super::filter::equiripple_lowpass;
use crate::pipeline::{smooth_orientation, AhrsParams, ImuSi};
use crate::G_M_S2;

/// Named and versioned like the posturography preprocessing: results carry it.
pub const STEP_DETECTION_VERSION: &str = "mccamley-ionescu-2";

/// The rate the detection works at, Hz: the reference's filters are designed for it.
pub const PROCESSING_RATE_HZ: f64 = 40.0;

/// Pole of the drift removal `(1 − z⁻¹) / (1 − p z⁻¹)` at [`PROCESSING_RATE_HZ`] (a corner
/// near 0.16 Hz): the reference's.
pub const DEDRIFT_POLE: f64 = 0.9748;

/// Length of the FIR low-pass, taps at [`PROCESSING_RATE_HZ`].
pub const LOW_PASS_TAPS: usize = 102;

/// The low-pass passes 0 to this, Hz (gain 1 within its ripple) ...
pub const LOW_PASS_PASS_HZ: f64 = 3.0;

/// ... and stops this and above, Hz.
pub const LOW_PASS_STOP_HZ: f64 = 4.0;

/// Weight of the stopband's error against the passband's in the equiripple design: the
/// reference filter's passband ripple (±0.073) is this many times its stopband's (1.27·10⁻⁴,
/// −78 dB). With these four numbers the design reproduces the reference's coefficients to within
/// 10⁻⁵.
pub const LOW_PASS_STOP_WEIGHT: f64 = 573.0;

/// Scale of the wavelet, in samples at [`PROCESSING_RATE_HZ`]: the reference's `gaus2` at scale
/// 9, that is exp(−(t·40/9)²) under the second derivative.
pub const WAVELET_SCALE: f64 = 9.0;

/// Width (σ) of the Gaussian whose second derivative is the wavelet, s: 9 / (40 √2).
pub const WAVELET_SIGMA_S: f64 = WAVELET_SCALE / (PROCESSING_RATE_HZ * std::f64::consts::SQRT_2);

/// The reference implementation reports each contact 2.5 samples at 40 Hz after the instant its
/// wavelet marks (its transform, which works on the integral of the wavelet sample by sample,
/// marks an instant half a sample before the lobe's lowest sample; it keeps one sample of its
/// wrap-around padding when it trims it; its indices are one-based), and its clock puts a
/// stretch's first sample one input sample in. Contacts here are reported the same way: this
/// much, plus one input sample period, after the instant the wavelet marks (where the vertical
/// acceleration rises fastest).
pub const REPORTED_DELAY_S: f64 = 2.5 / PROCESSING_RATE_HZ;

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
fn cadence_of_steps(steps: Vec<f64>) -> Option<f64> {
    if steps.is_empty() {
        return None;
    }
    let median = median(steps);
    (median > 0.0).then(|| 60.0 / median)
}

/// The sensor's vertical axis: of ±x, ±y and ±z, the one nearest to the mean specific force
/// (gravity, up) over `samples`. A lumbar sensor is strapped on with one axis about vertical
/// (Mobilise-D's x, proprio's wearable's z); z if no sample is usable.
pub fn upright_axis(samples: &[ImuSi]) -> Vector3<f64> {
    let mean: Vector3<f64> = samples
        .iter()
        .map(|s| s.acc_m_s2)
        .filter(|a| a.iter().all(|x| x.is_finite()))
        .sum();
    let k = mean.iamax();
    if mean[k] == 0.0 {
        return Vector3::z();
    }
    let mut axis = Vector3::zeros();
    axis[k] = mean[k].signum();
    axis
}

/// The acceleration along the sensor's [`upright_axis`] less gravity, m/s² (up positive).
pub fn vertical_acceleration(samples: &[ImuSi]) -> Vec<f64> {
    axial_acceleration(samples, &upright_axis(samples))
}

/// The acceleration along the sensor axis `axis` (a unit vector in sensor axes) less gravity,
/// m/s². An unusable reading repeats the one before (none before: no acceleration).
pub fn axial_acceleration(samples: &[ImuSi], axis: &Vector3<f64>) -> Vec<f64> {
    let mut last = 0.0;
    samples
        .iter()
        .map(|s| {
            let along = s.acc_m_s2.dot(axis) - G_M_S2;
            if along.is_finite() {
                last = along;
            }
            last
        })
        .collect()
}

/// The world's vertical acceleration less gravity, m/s² (up positive): the specific force turned
/// into the world frame with the offline orientation (6D), so that trunk leans do not tilt the
/// axis.
pub fn world_vertical_acceleration(samples: &[ImuSi], rate_hz: f64) -> Vec<f64> {
    let world_from_imu = smooth_orientation(samples, 1.0 / rate_hz, &AhrsParams::tilt_only());
    world_vertical_acceleration_in(samples, &world_from_imu)
}

/// [`world_vertical_acceleration`] given each sample's `world_from_imu`. An unusable reading
/// repeats the one before (none before: no acceleration).
pub fn world_vertical_acceleration_in(
    samples: &[ImuSi],
    world_from_imu: &[UnitQuaternion<f64>],
) -> Vec<f64> {
    let mut last = 0.0;
    samples
        .iter()
        .zip(world_from_imu)
        .map(|(s, q)| {
            let up = (q * s.acc_m_s2).z - G_M_S2;
            if up.is_finite() {
                last = up;
            }
            last
        })
        .collect()
}

/// The low-pass's coefficients (designed once).
fn low_pass() -> &'static [f64] {
    static COEFFICIENTS: OnceLock<Vec<f64>> = OnceLock::new();
    COEFFICIENTS.get_or_init(|| {
        equiripple_lowpass(
            LOW_PASS_TAPS,
            LOW_PASS_PASS_HZ,
            LOW_PASS_STOP_HZ,
            PROCESSING_RATE_HZ,
            LOW_PASS_STOP_WEIGHT,
        )
        .expect("the low-pass's specification is a possible design")
    })
}

/// The wavelet's weights: the transform at a sample is Σₖ v[i + k]·w[k] for k in −45..45, each
/// weight the integral of the wavelet over one sample's cell [k, k + 1) (the reference's
/// integrate-then-difference transform), scaled so that the result is minus the derivative of
/// the Gaussian-smoothed acceleration, m/s³, for v the velocity in m/s.
fn wavelet_weights() -> &'static [f64] {
    static WEIGHTS: OnceLock<Vec<f64>> = OnceLock::new();
    WEIGHTS.get_or_init(|| {
        let half = (5.0 * WAVELET_SCALE).round() as i64;
        let scale_s = WAVELET_SCALE / PROCESSING_RATE_HZ;
        let sigma_s = WAVELET_SIGMA_S;
        // −G''(τ) = (1 − 2x²)·e^(−x²) / (σ³√(2π)) with x = τ / scale; its integral over a cell is
        // scale·[F(x₁) − F(x₀)] with F(x) = x·e^(−x²).
        let norm = scale_s / (sigma_s.powi(3) * (2.0 * std::f64::consts::PI).sqrt());
        let integral = |k: i64| {
            let x = k as f64 / WAVELET_SCALE;
            x * (-x * x).exp()
        };
        (-half..half)
            .map(|k| norm * (integral(k + 1) - integral(k)))
            .collect()
    })
}

/// Initial contacts in a vertical acceleration series sampled at `rate_hz` (steps 2–5 of the
/// module docs), times since its first sample.
pub fn initial_contacts(vertical_acc_m_s2: &[f64], rate_hz: f64) -> Vec<InitialContact> {
    if !(rate_hz.is_finite() && rate_hz > 0.0) || vertical_acc_m_s2.len() < 2 {
        return Vec::new();
    }
    let wavelet = wavelet_signal(&resample(vertical_acc_m_s2, rate_hz));
    // The instant the lowest sample's transform marks is half a sample before it.
    let delay_s = REPORTED_DELAY_S + 1.0 / rate_hz - 0.5 / PROCESSING_RATE_HZ;
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
                    t_s: lowest as f64 / PROCESSING_RATE_HZ + delay_s,
                    strength_m_s3: -value,
                });
            }
        }
    }
    contacts
}

/// `x` (sampled at `rate_hz`) at [`PROCESSING_RATE_HZ`] from its first sample, by linear
/// interpolation, up to its last sample.
fn resample(x: &[f64], rate_hz: f64) -> Vec<f64> {
    let step = rate_hz / PROCESSING_RATE_HZ;
    let last = (x.len() - 1) as f64;
    let count = (last / step + 1e-9).floor() as usize + 1;
    (0..count)
        .map(|k| {
            let position = k as f64 * step;
            let i = (position.floor() as usize).min(x.len() - 1);
            let fraction = position - i as f64;
            match x.get(i + 1) {
                Some(next) if fraction > 0.0 => x[i] + (next - x[i]) * fraction,
                _ => x[i],
            }
        })
        .collect()
}

/// Steps 3–4 of the module docs on a series at [`PROCESSING_RATE_HZ`]: the wavelet signal, m/s³.
fn wavelet_signal(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let taps = low_pass();
    // Wrapped around by four filter lengths each side: the filters settle well within that.
    let pad = 4 * taps.len();
    let wrapped = |k: usize| x[(k + n - pad % n) % n];
    let mut y: Vec<f64> = (0..n + 2 * pad).map(wrapped).collect();
    // Drift removal, forward then backward.
    let dedrift = |y: &mut Vec<f64>| {
        let (mut x_before, mut y_before) = (0.0, 0.0);
        for v in y.iter_mut() {
            let out = *v - x_before + DEDRIFT_POLE * y_before;
            x_before = *v;
            y_before = out;
            *v = out;
        }
    };
    dedrift(&mut y);
    y.reverse();
    dedrift(&mut y);
    y.reverse();
    // The FIR forward then backward is one convolution with its autocorrelation.
    let reach = taps.len() - 1;
    let kernel: Vec<f64> = (0..=2 * reach)
        .map(|j| {
            // Lag j − reach: Σₖ h[k]·h[k + lag].
            (0..taps.len())
                .filter_map(|k| {
                    let other = (k + j).checked_sub(reach)?;
                    taps.get(other).map(|t| t * taps[k])
                })
                .sum()
        })
        .collect();
    let filtered: Vec<f64> = (pad..pad + n)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .map(|(j, c)| c * y[i + j - reach])
                .sum()
        })
        .collect();
    // Velocity by trapezoids, m/s.
    let mut velocity = Vec::with_capacity(n);
    let mut v = 0.0;
    for (i, a) in filtered.iter().enumerate() {
        if i > 0 {
            v += (a + filtered[i - 1]) / 2.0 / PROCESSING_RATE_HZ;
        }
        velocity.push(v);
    }
    // The wavelet transform; beyond the ends the nearest velocity holds (closer to the
    // reference's contacts near a stretch's ends than zeros).
    let weights = wavelet_weights();
    let half = (weights.len() / 2) as isize;
    let last = n as isize - 1;
    let mut wavelet: Vec<f64> = (0..n as isize)
        .map(|i| {
            weights
                .iter()
                .enumerate()
                .map(|(j, w)| w * velocity[(i + j as isize - half).clamp(0, last) as usize])
                .sum()
        })
        .collect();
    let mean = wavelet.iter().sum::<f64>() / n as f64;
    wavelet.iter_mut().for_each(|w| *w -= mean);
    wavelet
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
    merge_close(lobes.iter().filter(|c| c.strength_m_s3 >= threshold))
}

/// `lobes` (in time order) with any two closer than [`MIN_STEP_TIME_S`] merged into the
/// stronger.
fn merge_close<'a>(lobes: impl Iterator<Item = &'a InitialContact>) -> Vec<InitialContact> {
    let mut kept: Vec<InitialContact> = Vec::new();
    for lobe in lobes {
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

/// What kind of walking a recording holds. Telling walking from standing, sitting and other
/// movement takes different rules for each (see [`walking_bouts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gait {
    /// Everyday walking, compared with Mobilise-D's reference: the sensor's vertical axis
    /// ([`vertical_acceleration`]), as the reference uses.
    Everyday,
    /// Slow heel-to-toe (tandem) walking, as the tandem-walk drill measures it: the world's
    /// vertical ([`world_vertical_acceleration`]), since a tandem walker's trunk leans far
    /// sideways (10–14° in a lateral excursion) and tilts the sensor's axis with it.
    HeelToToe,
}

impl Gait {
    /// The vertical acceleration this gait's steps are found in, m/s².
    pub fn vertical_acceleration(self, samples: &[ImuSi], rate_hz: f64) -> Vec<f64> {
        match self {
            Gait::Everyday => vertical_acceleration(samples),
            Gait::HeelToToe => world_vertical_acceleration(samples, rate_hz),
        }
    }
}

/// Everyday walking: a step of a walk reaches this, m/s³ (standing and sitting make lobes up
/// to about 0.7 now and then, but never seven in a row).
pub const EVERYDAY_MIN_STEP_STRENGTH_M_S3: f64 = 0.45;

/// Everyday walking: longest time between two steps of one walk, s.
pub const EVERYDAY_MAX_STEP_TIME_S: f64 = 2.0;

/// Everyday walking: fewest steps in a walk (after [`EVERYDAY_RHYTHM_FACTOR`]'s trimming).
pub const EVERYDAY_MIN_STEPS: usize = 7;

/// Everyday walking: a step at either end of a walk that took more than this many times its
/// median step time is out of its rhythm (a shuffle or weight shift before or after it): it is
/// dropped, and so on inwards.
pub const EVERYDAY_RHYTHM_FACTOR: f64 = 1.7;

/// Everyday walking: heel strikes left out at the start and at the end of a walk. Mobilise-D's
/// reference bouts leave out a walk's initiation and termination: on the straight walks of
/// ../shared/data/gait-lowback they start at its second heel strike and end three before its
/// last.
pub const EVERYDAY_LEFT_OUT: (usize, usize) = (1, 2);

/// Heel-to-toe walking: heel strikes ([`heel_strikes`]) weaker than this never count, m/s³.
pub const HEEL_TO_TOE_MIN_STRENGTH_M_S3: f64 = 0.3;

/// Heel-to-toe walking: longest time between two heel strikes of one bout, s (a slow
/// heel-to-toe step takes up to 1.5 s, a hesitation more than twice as long; a stop is
/// longer).
pub const HEEL_TO_TOE_MAX_STEP_TIME_S: f64 = 3.5;

/// Heel-to-toe walking: fewest steps in a bout (two strides).
pub const HEEL_TO_TOE_MIN_STEPS: usize = 4;

/// A stretch of walking.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkingBout {
    /// Its heel strikes, in time order.
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

    /// Steps: each heel strike ends one (the first, a step from standing or the step before
    /// the bout).
    pub fn steps(&self) -> usize {
        self.contacts.len()
    }
}

/// The walking bouts among the lobes of [`initial_contacts`] over a whole recording of `gait`;
/// standing, sitting and stillness give none.
///
/// [`Gait::Everyday`], after Mobilise-D (whose reference finds a contact at every lobe within a
/// walk, weak steps while turning included): a walk is a run of at least
/// [`EVERYDAY_MIN_STEPS`] lobes of [`EVERYDAY_MIN_STEP_STRENGTH_M_S3`] or more, none more than
/// [`EVERYDAY_MAX_STEP_TIME_S`] after the one before, trimmed at both ends while its outermost
/// step is out of rhythm ([`EVERYDAY_RHYTHM_FACTOR`]); its bout holds every lobe (never two
/// within [`MIN_STEP_TIME_S`]) from its second heel strike to its third last
/// ([`EVERYDAY_LEFT_OUT`]).
///
/// [`Gait::HeelToToe`], as the tandem-walk drill counts steps: the [`heel_strikes`] of at least
/// [`HEEL_TO_TOE_MIN_STRENGTH_M_S3`], split wherever two are more than
/// [`HEEL_TO_TOE_MAX_STEP_TIME_S`] apart, runs of at least [`HEEL_TO_TOE_MIN_STEPS`] kept, every
/// heel strike in.
pub fn walking_bouts(lobes: &[InitialContact], gait: Gait) -> Vec<WalkingBout> {
    match gait {
        Gait::Everyday => everyday_bouts(lobes),
        Gait::HeelToToe => runs(
            heel_strikes(lobes)
                .into_iter()
                .filter(|c| c.strength_m_s3 >= HEEL_TO_TOE_MIN_STRENGTH_M_S3),
            HEEL_TO_TOE_MAX_STEP_TIME_S,
        )
        .into_iter()
        .filter(|run| run.len() >= HEEL_TO_TOE_MIN_STEPS)
        .map(|contacts| WalkingBout { contacts })
        .collect(),
    }
}

/// `strikes` (in time order) split wherever two are more than `max_step_s` apart.
fn runs(
    strikes: impl Iterator<Item = InitialContact>,
    max_step_s: f64,
) -> Vec<Vec<InitialContact>> {
    let mut runs: Vec<Vec<InitialContact>> = Vec::new();
    for strike in strikes {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|l| strike.t_s - l.t_s <= max_step_s) => {
                run.push(strike)
            }
            _ => runs.push(vec![strike]),
        }
    }
    runs
}

/// [`walking_bouts`] of [`Gait::Everyday`].
fn everyday_bouts(lobes: &[InitialContact]) -> Vec<WalkingBout> {
    let all = merge_close(lobes.iter());
    let steps = all
        .iter()
        .copied()
        .filter(|c| c.strength_m_s3 >= EVERYDAY_MIN_STEP_STRENGTH_M_S3);
    let (left_out_first, left_out_last) = EVERYDAY_LEFT_OUT;
    runs(steps, EVERYDAY_MAX_STEP_TIME_S)
        .into_iter()
        .filter_map(|mut walk| {
            if walk.len() < EVERYDAY_MIN_STEPS {
                return None;
            }
            let step_times: Vec<f64> = walk.windows(2).map(|w| w[1].t_s - w[0].t_s).collect();
            let rhythm_s = EVERYDAY_RHYTHM_FACTOR * median(step_times);
            while walk.len() >= 2 && walk[1].t_s - walk[0].t_s > rhythm_s {
                walk.remove(0);
            }
            while walk.len() >= 2 && walk[walk.len() - 1].t_s - walk[walk.len() - 2].t_s > rhythm_s
            {
                walk.pop();
            }
            if walk.len() < EVERYDAY_MIN_STEPS {
                return None;
            }
            let from = walk[left_out_first].t_s;
            let to = walk[walk.len() - 1 - left_out_last].t_s;
            let contacts = all
                .iter()
                .copied()
                .filter(|c| c.t_s >= from && c.t_s <= to)
                .collect();
            Some(WalkingBout { contacts })
        })
        .collect()
}

/// The median of `values` (not empty).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The walking bouts of a lumbar IMU recording of `gait` sampled at `rate_hz`: the gait's
/// vertical acceleration, [`initial_contacts`] over all of it, then [`walking_bouts`].
pub fn walking_bouts_of(samples: &[ImuSi], rate_hz: f64, gait: Gait) -> Vec<WalkingBout> {
    walking_bouts(
        &initial_contacts(&gait.vertical_acceleration(samples, rate_hz), rate_hz),
        gait,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady 1.8 Hz vertical bounce: one contact per cycle, each where the acceleration rises
    /// fastest (its upward zero crossing), reported `REPORTED_DELAY_S` and one sample later (within
    /// half a 40 Hz sample: contacts fall on the 40 Hz grid).
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
            let cycles = (t - REPORTED_DELAY_S - 1.0 / rate) * f;
            assert!((cycles - cycles.round()).abs() * (1.0 / f) <= 0.0126, "{t}");
        }
        // Contacts fall on the 40 Hz grid, so the median step is within one of its samples.
        let cadence = cadence_steps_per_min(&inner).unwrap();
        assert!((60.0 / cadence - 1.0 / f).abs() <= 0.0251, "{cadence}");
        // Strength: the acceleration's fastest rise A·ω, less the Gaussian's smoothing
        // exp(−(ωσ)²/2), within the low-pass's ripple (±0.073, twice over).
        let omega = 2.0 * std::f64::consts::PI * f;
        let expected = 2.0 * omega * (-(omega * WAVELET_SIGMA_S).powi(2) / 2.0).exp();
        for c in contacts.iter().filter(|c| (2.0..18.0).contains(&c.t_s)) {
            let ratio = c.strength_m_s3 / expected;
            assert!(
                (0.85..1.16).contains(&ratio),
                "{} vs {expected}",
                c.strength_m_s3
            );
        }
    }

    #[test]
    fn the_walk_pipeline_carries_this_version() {
        assert!(crate::session::WALK_PIPELINE_VERSION.ends_with(STEP_DETECTION_VERSION));
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

    /// Standing lobes (0.3 m/s³ every 0.7 s), then a walk of ten steps 0.6 s apart whose first
    /// step comes 1.5 s after a weight shift, a 3 s pause, and three more steps.
    fn standing_then_walking() -> Vec<InitialContact> {
        let lobe = |t_s, strength_m_s3| InitialContact { t_s, strength_m_s3 };
        let mut lobes: Vec<InitialContact> = (0..10).map(|i| lobe(i as f64 * 0.7, 0.3)).collect();
        lobes.push(lobe(7.5, 1.0));
        lobes.extend((0..10).map(|i| lobe(9.0 + i as f64 * 0.6, 4.0)));
        // Weak steps while turning, within the walk.
        lobes.insert(14, lobe(10.5, 0.1));
        lobes.extend((0..3).map(|i| lobe(17.4 + i as f64 * 0.6, 4.0)));
        lobes.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        lobes
    }

    #[test]
    fn everyday_bouts_keep_the_walk_in_rhythm_less_its_ends() {
        let lobes = standing_then_walking();
        let bouts = walking_bouts(&lobes, Gait::Everyday);
        assert_eq!(bouts.len(), 1, "{bouts:?}");
        // The weight shift is out of rhythm; of the ten steps the first and the last two are
        // left out; the weak lobe within the walk is a step. The three steps after the pause
        // are too few.
        let times: Vec<f64> = bouts[0].contacts.iter().map(|c| c.t_s).collect();
        let mut expected: Vec<f64> = (1..8).map(|i| 9.0 + i as f64 * 0.6).collect();
        expected.insert(2, 10.5);
        assert_eq!(times.len(), expected.len(), "{times:?}");
        assert!(
            times
                .iter()
                .zip(&expected)
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{times:?}"
        );
        assert_eq!(bouts[0].steps(), 8);
        // Standing and stillness: nothing at all.
        assert!(walking_bouts(&lobes[..10], Gait::Everyday).is_empty());
        assert!(
            walking_bouts(&initial_contacts(&vec![0.0; 3000], 100.0), Gait::Everyday).is_empty()
        );
    }

    #[test]
    fn heel_to_toe_bouts_keep_every_heel_strike_of_a_slow_walk() {
        let lobe = |t_s, strength_m_s3| InitialContact { t_s, strength_m_s3 };
        // Quiet standing, ten slow steps (1.2 s; the sixth a 2.6 s hesitation), ringing after
        // the last, and quiet standing.
        let mut lobes: Vec<InitialContact> = (0..5).map(|i| lobe(i as f64 * 0.8, 0.05)).collect();
        let mut t = 5.0;
        for i in 0..10 {
            t += if i == 5 { 2.6 } else { 1.2 };
            lobes.push(lobe(t, 0.8 + 0.05 * (i % 3) as f64));
        }
        lobes.push(lobe(t + 0.6, 0.25));
        lobes.extend((0..5).map(|i| lobe(t + 2.0 + i as f64 * 0.8, 0.05)));
        let bouts = walking_bouts(&lobes, Gait::HeelToToe);
        assert_eq!(bouts.len(), 1, "{bouts:?}");
        assert_eq!(bouts[0].steps(), 10);
        // A stop longer than a hesitation splits the walk; three steps alone are no bout.
        let mut stopped = lobes.clone();
        for c in stopped.iter_mut().filter(|c| c.t_s > 15.0) {
            c.t_s += 3.0;
        }
        let bouts = walking_bouts(&stopped, Gait::HeelToToe);
        assert_eq!(
            bouts.iter().map(WalkingBout::steps).collect::<Vec<_>>(),
            [7]
        );
        assert!(walking_bouts(&lobes[..5], Gait::HeelToToe).is_empty());
    }
}
