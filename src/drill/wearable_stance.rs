//! Quiet stance (Romberg-type) measured with the wearable on the lower back: the balance board's
//! quiet-stance drill and levels ([`STANCE_LEVELS`]: eyes open or closed, feet apart or
//! together, firm floor or foam), with the trunk's sway instead of the centre of pressure
//! (ISway, Mancini et al. 2012).
//!
//! # How a trial runs
//! 1. The user stands as the level says and keeps still. The hold starts once the wearable has
//!    been still (turning slower than 6 °/s, its specific force within 0.6 m/s² of gravity, the
//!    live estimate settled) for [`STANCE_SETTLE_S`]; that settling is not measured. Its mean trunk
//!    angles are the posture a loss of balance is measured from.
//! 2. The hold's clock runs only while data arrives ([`DrillClock`]: intervals over
//!    [`MAX_HELD_S`](super::MAX_HELD_S) count for nothing); the hold ends once the target
//!    duration has been measured.
//! 3. **Loss of balance** (the failure event, a step out of the stance, reported as
//!    [`DrillEvent::SteppedOff`]): on the live estimate, the trunk's horizontal acceleration
//!    above [`LOSS_ACC_M_S2`], or its lean more than [`LOSS_LEAN_DEG`] from the posture, for
//!    [`LOSS_S`] without a break. The trial ends at its onset as `stepped-off`: the time held
//!    and the measures stop there. Quiet stance stays far below both (the simulator's
//!    unsteadiest people on foam with eyes closed: an acceleration RMS around 0.2 m/s², a
//!    trunk sway RMS around 1°), while a step that catches the balance moves the pelvis some 0.2–0.4 m in
//!    under a second (the simulator's: 0.3 m in 0.7 s, 3.5 m/s² at its peak, above the limit
//!    for about 0.25 s). A slow lean that is caught without a step, or a tiny shuffle of the
//!    feet, is not detected.
//!
//! # Measures
//! When the trial ends, the ISway measures of the hold ([`imu_sway_over`], the function
//! `proprio measure` uses, so a recording measured again gives the same numbers): the offline
//! orientation over every sample (the settling makes the gyroscope's bias known), the
//! tilt-corrected horizontal acceleration and trunk angles of the hold for a wearable worn x
//! forward, z up, the canonical preprocessing (25 Hz, 10 Hz low-pass), then the sway kernels,
//! JERK and the trunk-angle RMS, named as docs/measures.md names them.
//!
//! # Score (provisional; the trusted score is the progress score, see docs/scoring.md)
//! `100 · completion · ½ (s_trunk + s_acc)`, where completion is the share of the target
//! duration held, and `s = clamp(ln(4 · ref / x) / ln 4, 0, 1)` for the trunk-angle RMS and the
//! acceleration RMS (resultants): 1 at the healthy reference or better, 0 at four times it,
//! log-linear between. The references ([`reference_trunk_rms_deg`],
//! [`reference_acc_rms_m_s2`]) are those for eyes open, feet apart, firm floor, times the
//! level's sway allowance. Less than [`MIN_SCORED_S`] measured (or than the target, if that is
//! shorter) or too few samples score 0.

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use super::quiet_stance::MIN_SCORED_S;
#[cfg(doc)]
use super::quiet_stance::STANCE_LEVELS;
use super::standing::DrillClock;
use super::tandem_walk::is_still;
use super::{
    DrillEvent, DrillOutcome, EndReason, EventLog, QuietStanceConfig, StancePhase, START_WITHIN_S,
};
use crate::measures::imu_sway::{imu_sway_over, ImuMounting, ImuSwayMeasures, MountingAxes};
use crate::measures::{span_within, Preprocessing};
use crate::pipeline::{BoardTilt, ImuSi};

/// The wearable must be still this long before the hold starts, s (the first seconds of a
/// trial are not measured).
pub const STANCE_SETTLE_S: f64 = 2.0;
/// A horizontal acceleration of the trunk above this is a loss of balance…, m/s²
pub const LOSS_ACC_M_S2: f64 = 1.5;
/// …and so is a lean this far from the posture at the start…, °
pub const LOSS_LEAN_DEG: f64 = 10.0;
/// …when it lasts this long without a break, s (a cough or a bump is shorter).
pub const LOSS_S: f64 = 0.1;
/// Healthy reference trunk-angle RMS (resultant; eyes open, feet apart, firm), °.
const REFERENCE_TRUNK_RMS_DEG: f64 = 0.3;
/// Healthy reference horizontal-acceleration RMS (resultant), m/s².
const REFERENCE_ACC_RMS_M_S2: f64 = 0.04;
/// A measure at this many times its reference scores 0.
const SPAN: f64 = 4.0;

/// The healthy reference trunk-angle RMS (resultant) at `config`'s level, ° (provisional):
/// 0.3° for eyes open, feet apart, firm floor, times the level's sway allowance.
pub fn reference_trunk_rms_deg(config: &QuietStanceConfig) -> f64 {
    REFERENCE_TRUNK_RMS_DEG * config.sway_allowance()
}

/// The healthy reference horizontal-acceleration RMS (resultant) at `config`'s level, m/s²
/// (provisional): 0.04 m/s² for eyes open, feet apart, firm floor, times the level's sway
/// allowance.
pub fn reference_acc_rms_m_s2(config: &QuietStanceConfig) -> f64 {
    REFERENCE_ACC_RMS_M_S2 * config.sway_allowance()
}

/// The measures of quiet stance on the wearable, named as docs/measures.md names the ISway
/// measures. Trunk angles are in the wearable's axes (x forward, z up): the mean angles are
/// the posture and the mounting together.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WearableStanceMetrics {
    /// Trunk-angle RMS about the mean angle, resultant, °.
    pub trunk_rms_distance_deg: f64,
    /// Trunk-angle RMS about the mean angle, medio-lateral, °.
    pub trunk_rms_ml_deg: f64,
    /// Trunk-angle RMS about the mean angle, antero-posterior, °.
    pub trunk_rms_ap_deg: f64,
    /// Mean trunk angle, medio-lateral (+ leaning right), °.
    pub trunk_mean_ml_deg: f64,
    /// Mean trunk angle, antero-posterior (+ leaning forward), °.
    pub trunk_mean_ap_deg: f64,
    /// Range of the trunk angle, medio-lateral, °.
    pub trunk_range_ml_deg: f64,
    /// Range of the trunk angle, antero-posterior, °.
    pub trunk_range_ap_deg: f64,
    /// Mean angular velocity of the trunk's sway (path · rate / points), °/s.
    pub trunk_mean_velocity_deg_s: f64,
    /// 95 % prediction ellipse of the trunk angles, °².
    pub trunk_ellipse_area_95_deg2: f64,
    /// Horizontal-acceleration RMS, resultant, m/s².
    pub acc_rms_distance_m_s2: f64,
    /// Horizontal-acceleration RMS, medio-lateral, m/s².
    pub acc_rms_ml_m_s2: f64,
    /// Horizontal-acceleration RMS, antero-posterior, m/s².
    pub acc_rms_ap_m_s2: f64,
    /// Mean "velocity" of the acceleration's trace, m/s³.
    pub acc_mean_velocity_m_s3: f64,
    /// 95 % prediction ellipse of the acceleration, m²/s⁴.
    pub acc_ellipse_area_95_m2_s4: f64,
    /// JERK = ½ ∫ (ȧ_AP² + ȧ_ML²) dt over the hold, m²/s⁵.
    pub jerk_m2_s5: f64,
    /// Rate of the series the measures come from, Hz.
    pub analysis_rate_hz: f64,
    /// Time covered by data during the hold (gaps excluded), s.
    pub measured_s: f64,
    /// IMU samples of the hold.
    pub samples: u64,
    /// Measured time before a loss of balance (or the whole hold), at most the target, s.
    pub time_held_s: f64,
}

impl WearableStanceMetrics {
    /// The measures of `m` (the ISway measures of the hold) at `rate_hz`, with the hold's
    /// time and samples.
    fn of(m: &ImuSwayMeasures, rate_hz: f64, measured_s: f64, samples: u64, held_s: f64) -> Self {
        WearableStanceMetrics {
            trunk_rms_distance_deg: m.trunk.rms[0],
            trunk_rms_ml_deg: m.trunk_rms_deg[0],
            trunk_rms_ap_deg: m.trunk_rms_deg[1],
            trunk_mean_ml_deg: m.trunk_mean_deg[0],
            trunk_mean_ap_deg: m.trunk_mean_deg[1],
            trunk_range_ml_deg: m.trunk.range[1],
            trunk_range_ap_deg: m.trunk.range[2],
            trunk_mean_velocity_deg_s: m.trunk.mean_velocity[0],
            trunk_ellipse_area_95_deg2: m.trunk.ellipse_area_95,
            acc_rms_distance_m_s2: m.acc.rms[0],
            acc_rms_ml_m_s2: m.acc.rms[1],
            acc_rms_ap_m_s2: m.acc.rms[2],
            acc_mean_velocity_m_s3: m.acc.mean_velocity[0],
            acc_ellipse_area_95_m2_s4: m.acc.ellipse_area_95,
            jerk_m2_s5: m.jerk_m2_s5,
            analysis_rate_hz: rate_hz,
            measured_s,
            samples,
            time_held_s: held_s,
        }
    }
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WearableStanceLive {
    /// Where the user is in the trial: settling (stand still), holding, or ended.
    pub phase: StancePhase,
    /// The trunk's lean from the posture at the start now `[ML, AP]`, ° (the live estimate).
    pub lean_deg: Option<[f64; 2]>,
    /// Seconds since the hold started.
    pub elapsed_s: f64,
    /// Seconds of the hold left.
    pub remaining_s: f64,
    /// Trunk-angle RMS so far (live estimate), °.
    pub trunk_rms_deg: f64,
    /// Horizontal-acceleration RMS so far (live estimate), m/s².
    pub acc_rms_m_s2: f64,
    /// Score of the data so far (as if the trial ended well now).
    pub score: f64,
}

/// The result of one trial (it starts when the hold does).
pub type WearableStanceOutcome = DrillOutcome<WearableStanceMetrics>;

/// Running mean and mean square of a vector, for the live RMS about the mean.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    n: u64,
    sum: Vector3<f64>,
    sum_squares: f64,
}

impl Running {
    fn push(&mut self, v: Vector3<f64>) {
        self.n += 1;
        self.sum += v;
        self.sum_squares += v.norm_squared();
    }

    fn mean(&self) -> Option<Vector3<f64>> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// RMS about the mean (0 when empty).
    fn rms(&self) -> f64 {
        self.mean().map_or(0.0, |mean| {
            (self.sum_squares / self.n as f64 - mean.norm_squared())
                .max(0.0)
                .sqrt()
        })
    }
}

/// The running trial: IMU samples with the live estimate in, events out.
#[derive(Debug, Clone)]
pub struct WearableStance {
    config: QuietStanceConfig,
    axes: MountingAxes,
    first_us: Option<u64>,
    still_since_us: Option<u64>,
    /// The trunk angles while settling, for the posture.
    settling: Running,
    posture_deg: Option<[f64; 2]>,
    t0_us: Option<u64>,
    clock: DrillClock,
    /// Since when (µs, and the measured time then) the trunk has been beyond the loss limits.
    loss_since: Option<(u64, f64)>,
    /// Measured time before the loss of balance, s.
    held_s: Option<f64>,
    /// The end of the hold's span, µs of device time.
    end_us: Option<u64>,
    trunk: Running,
    acc: Running,
    latest_lean_deg: Option<[f64; 2]>,
    /// Every sample handed in, with its device time (µs), also after the end (the rest of the
    /// last chunk): the offline estimate is then over exactly the samples `proprio measure`
    /// reads from the recording.
    buffer: Vec<(u64, ImuSi)>,
    events: EventLog,
    end: Option<(EndReason, f64)>,
}

impl WearableStance {
    /// A trial waiting for the user to stand still.
    pub fn new(config: QuietStanceConfig) -> Self {
        WearableStance {
            config,
            axes: ImuMounting::default()
                .axes()
                .expect("proprio's wearable mounting (x forward, z up) has perpendicular axes"),
            first_us: None,
            still_since_us: None,
            settling: Running::default(),
            posture_deg: None,
            t0_us: None,
            clock: DrillClock::default(),
            loss_since: None,
            held_s: None,
            end_us: None,
            trunk: Running::default(),
            acc: Running::default(),
            latest_lean_deg: None,
            buffer: Vec::new(),
            events: EventLog::default(),
            end: None,
        }
    }

    /// Its setup.
    pub fn config(&self) -> &QuietStanceConfig {
        &self.config
    }

    /// True once it has ended.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.events.emit(event, out);
    }

    /// Takes one sample with the live estimate `tilt` at the same device time (µs since the
    /// stream's first sample); events go to `out`.
    pub fn update(&mut self, sample: &ImuSi, tilt: &BoardTilt, out: &mut Vec<DrillEvent>) {
        let t_us = tilt.t_us;
        self.buffer.push((t_us, *sample));
        if self.end.is_some() {
            return;
        }
        let first_us = *self.first_us.get_or_insert(t_us);
        let angles = self.axes.trunk_angles_deg(&tilt.up_in_imu);
        if !angles.iter().all(|a| a.is_finite()) {
            return;
        }
        match self.t0_us {
            None => {
                self.settle(t_us, sample, tilt, angles);
                if self.t0_us.is_none() && (t_us - first_us) as f64 * 1e-6 >= START_WITHIN_S {
                    self.end_at(EndReason::NotStarted, 0.0, out);
                }
            }
            Some(t0_us) => self.hold(t_us, t0_us, sample, tilt, angles, out),
        }
    }

    /// Before the hold: the wearable must be still for [`STANCE_SETTLE_S`]; the mean angles of that
    /// stretch are the posture.
    fn settle(&mut self, t_us: u64, sample: &ImuSi, tilt: &BoardTilt, [ml, ap]: [f64; 2]) {
        if !is_still(sample, tilt) {
            self.still_since_us = None;
            self.settling = Running::default();
            return;
        }
        let since = *self.still_since_us.get_or_insert(t_us);
        self.settling.push(Vector3::new(ml, ap, 0.0));
        if (t_us - since) as f64 * 1e-6 >= STANCE_SETTLE_S {
            let posture = self.settling.mean().unwrap_or_default();
            self.posture_deg = Some([posture.x, posture.y]);
            self.t0_us = Some(t_us);
            self.clock.tick(t_us);
        }
    }

    fn hold(
        &mut self,
        t_us: u64,
        t0_us: u64,
        sample: &ImuSi,
        tilt: &BoardTilt,
        [ml, ap]: [f64; 2],
        out: &mut Vec<DrillEvent>,
    ) {
        self.clock.tick(t_us);
        let measured_s = self.clock.measured_s;
        let [posture_ml, posture_ap] = self.posture_deg.unwrap_or_default();
        let lean = [ml - posture_ml, ap - posture_ap];
        self.latest_lean_deg = Some(lean);
        // The specific force less its vertical part: the horizontal acceleration (gravity is
        // vertical), in sensor axes.
        let up = tilt.up_in_imu;
        let horizontal = sample.acc_m_s2 - sample.acc_m_s2.dot(&up) * up;
        let beyond = horizontal.norm() > LOSS_ACC_M_S2 || lean[0].hypot(lean[1]) > LOSS_LEAN_DEG;
        if beyond {
            let (since_us, held_s) = *self.loss_since.get_or_insert((t_us, measured_s));
            if (t_us - since_us) as f64 * 1e-6 >= LOSS_S {
                self.held_s = Some(held_s);
                self.end_us = Some(since_us);
                let t_s = since_us.saturating_sub(t0_us) as f64 * 1e-6;
                self.emit(DrillEvent::SteppedOff { t_s }, out);
                self.end_at(EndReason::SteppedOff, t_s, out);
                return;
            }
        } else {
            self.loss_since = None;
        }
        if horizontal.iter().all(|v| v.is_finite()) {
            self.trunk.push(Vector3::new(ml, ap, 0.0));
            self.acc.push(horizontal);
        }
        if measured_s >= self.config.duration_s {
            self.end_us = Some(t_us);
            let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
            self.end_at(EndReason::Completed, t_s, out);
        }
    }

    /// Ends the trial now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_some() {
            return;
        }
        let t_s = match (self.t0_us, self.clock.last_t_us()) {
            (Some(t0_us), Some(last_us)) => {
                self.end_us = Some(last_us);
                last_us.saturating_sub(t0_us) as f64 * 1e-6
            }
            _ => 0.0,
        };
        self.end_at(reason, t_s, out);
    }

    fn end_at(&mut self, reason: EndReason, t_s: f64, out: &mut Vec<DrillEvent>) {
        self.end = Some((reason, t_s));
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    /// The score for a trunk-angle RMS and an acceleration RMS (resultants), with `measured_s`
    /// measured and `held_s` of the target held (see the module docs).
    pub fn score(
        &self,
        trunk_rms_deg: f64,
        acc_rms_m_s2: f64,
        measured_s: f64,
        held_s: f64,
    ) -> f64 {
        if measured_s < MIN_SCORED_S.min(self.config.duration_s) {
            return 0.0;
        }
        let sub = |x: f64, reference: f64| super::log_share(x, SPAN * reference, SPAN);
        let s_trunk = sub(trunk_rms_deg, reference_trunk_rms_deg(&self.config));
        let s_acc = sub(acc_rms_m_s2, reference_acc_rms_m_s2(&self.config));
        let completion = (held_s / self.config.duration_s).clamp(0.0, 1.0);
        (100.0 * completion * 0.5 * (s_trunk + s_acc)).clamp(0.0, 100.0)
    }

    fn phase(&self) -> StancePhase {
        match (self.end, self.t0_us) {
            (Some(_), _) => StancePhase::Ended,
            (None, Some(_)) => StancePhase::Holding,
            (None, None) => StancePhase::Settling,
        }
    }

    /// What the live view shows now.
    pub fn live(&self) -> WearableStanceLive {
        let elapsed_s = match (self.t0_us, self.clock.last_t_us()) {
            (Some(t0_us), Some(last_us)) => last_us.saturating_sub(t0_us) as f64 * 1e-6,
            _ => 0.0,
        };
        let (trunk_rms_deg, acc_rms_m_s2) = (self.trunk.rms(), self.acc.rms());
        let measured_s = self.clock.measured_s;
        WearableStanceLive {
            phase: self.phase(),
            lean_deg: self.latest_lean_deg,
            elapsed_s,
            remaining_s: (self.config.duration_s - measured_s).max(0.0),
            trunk_rms_deg,
            acc_rms_m_s2,
            score: if self.trunk.n < 3 {
                0.0 // nothing measured yet
            } else {
                let done_s = self.config.duration_s.max(measured_s);
                let held_s = self.held_s.unwrap_or(done_s);
                self.score(trunk_rms_deg, acc_rms_m_s2, done_s, held_s)
            },
        }
    }

    /// The ISway measures of the hold (see the module docs); `None` before it started or
    /// with too few samples.
    fn measures(&self, start_s: f64, duration_s: f64) -> Option<(ImuSwayMeasures, f64, u64)> {
        self.t0_us?;
        let t_s: Vec<f64> = self.buffer.iter().map(|e| e.0 as f64 * 1e-6).collect();
        let samples: Vec<ImuSi> = self.buffer.iter().map(|e| e.1).collect();
        // The span as `proprio measure` finds it from the result's start and duration.
        let span = span_within(&t_s, start_s, start_s + duration_s);
        let count = span.len() as u64;
        let (measures, rate_hz) = imu_sway_over(
            &t_s,
            &samples,
            span,
            &ImuMounting::default(),
            Some(&Preprocessing::CANONICAL),
        )
        .ok()?;
        Some((measures, rate_hz, count))
    }

    /// Ends the trial (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> WearableStanceOutcome {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        let start_s = self.t0_us.unwrap_or(0) as f64 * 1e-6;
        // After a loss of balance the hold is measured up to its onset.
        let measured_s = self.held_s.unwrap_or(self.clock.measured_s);
        let held_s = measured_s.min(self.config.duration_s);
        let (metrics, score) = match self.measures(start_s, duration_s) {
            Some((m, rate_hz, samples)) => {
                let metrics = WearableStanceMetrics::of(&m, rate_hz, measured_s, samples, held_s);
                let score = self.score(
                    metrics.trunk_rms_distance_deg,
                    metrics.acc_rms_distance_m_s2,
                    measured_s,
                    held_s,
                );
                (metrics, score)
            }
            None => (
                WearableStanceMetrics {
                    measured_s,
                    time_held_s: held_s,
                    ..WearableStanceMetrics::default()
                },
                0.0,
            ),
        };
        WearableStanceOutcome {
            score,
            start_s,
            end,
            duration_s,
            metrics,
            events: self.events.kept,
            events_total: self.events.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::StanceTask;

    fn config(level: u8) -> QuietStanceConfig {
        QuietStanceConfig::for_level(StanceTask::Quiet, level).unwrap()
    }

    #[test]
    fn a_steadier_stance_scores_higher() {
        let d = WearableStance::new(config(1));
        assert_eq!(d.score(0.3, 0.04, 30.0, 30.0), 100.0);
        assert_eq!(d.score(1.2, 0.16, 30.0, 30.0), 0.0);
        // Halfway on both log scales (twice the references), then half the hold.
        assert!((d.score(0.6, 0.08, 30.0, 30.0) - 50.0).abs() < 1e-9);
        assert!((d.score(0.3, 0.04, 15.0, 15.0) - 50.0).abs() < 1e-9);
        assert_eq!(d.score(0.3, 0.04, 4.0, 4.0), 0.0, "too short to score");
        // Level 5 (eyes closed, feet together, foam) allows twice the sway.
        let hard = WearableStance::new(config(5));
        assert_eq!(hard.score(0.6, 0.08, 60.0, 60.0), 100.0);
    }

    /// A sensor worn x forward, z up, leaning by `[ml, ap]` degrees: up in its axes.
    fn up_leaning([ml, ap]: [f64; 2]) -> Vector3<f64> {
        let lean = nalgebra::Rotation3::from_euler_angles(ml.to_radians(), ap.to_radians(), 0.0);
        lean.inverse() * Vector3::z()
    }

    fn tilt(t_us: u64, up: Vector3<f64>) -> BoardTilt {
        BoardTilt {
            t_us,
            tilt_deg: 0.0,
            rate_deg_s: 0.0,
            pitch_deg: 0.0,
            roll_deg: 0.0,
            pitch_rate_deg_s: 0.0,
            roll_rate_deg_s: 0.0,
            converging: false,
            acc_rejected: false,
            at_rest: false,
            mag_disturbed: false,
            up_in_imu: up,
        }
    }

    fn still(up: Vector3<f64>, horizontal_m_s2: f64) -> ImuSi {
        ImuSi {
            acc_m_s2: up * crate::G_M_S2 + Vector3::x() * horizontal_m_s2,
            gyr_rad_s: Vector3::zeros(),
            mag_ut: None,
        }
    }

    /// Runs `level` at 100 Hz on samples from `at(t_s)` = (lean `[ml, ap]` °, horizontal
    /// acceleration m/s²) until it ends or 120 s pass.
    fn run(level: u8, at: impl Fn(f64) -> ([f64; 2], f64)) -> WearableStanceOutcome {
        let mut drill = WearableStance::new(config(level));
        let mut events = Vec::new();
        let mut t_us = 0;
        while !drill.is_done() && t_us < 120_000_000 {
            let (lean, acc) = at(t_us as f64 * 1e-6);
            let up = up_leaning(lean);
            drill.update(&still(up, acc), &tilt(t_us, up), &mut events);
            t_us += 10_000;
        }
        drill.finish()
    }

    #[test]
    fn the_hold_starts_after_the_settling_and_ends_on_time() {
        // ±0.5° of forward sway at 0.25 Hz.
        let out = run(1, |t| {
            ([0.0, 0.5 * (std::f64::consts::FRAC_PI_2 * t).sin()], 0.0)
        });
        assert_eq!(out.end, EndReason::Completed);
        assert!(
            (out.start_s - STANCE_SETTLE_S).abs() < 0.011,
            "{}",
            out.start_s
        );
        assert!((out.metrics.measured_s - 30.0).abs() < 0.011);
        assert!((out.metrics.time_held_s - 30.0).abs() < 0.011);
        // The signals here are the live estimate's, not the offline one's: the angle RMS is
        // only checked on the simulator. Samples: 30 s at 100 Hz, both ends included.
        assert_eq!(out.metrics.samples, 3001);
    }

    #[test]
    fn a_step_ends_the_trial_at_its_onset_and_a_bump_does_not() {
        // Standing still; a 50 ms bump of 3 m/s² at 10 s; a step from 20 s: 2 m/s² for 0.3 s.
        let out = run(1, |t| {
            let acc = if (10.0..10.05).contains(&t) || (20.0..20.3).contains(&t) {
                if t < 20.0 {
                    3.0
                } else {
                    2.0
                }
            } else {
                0.0
            };
            ([0.0, 0.0], acc)
        });
        assert_eq!(out.end, EndReason::SteppedOff);
        let onset_s = 20.0 - STANCE_SETTLE_S;
        assert!(
            (out.duration_s - onset_s).abs() < 0.011,
            "{}",
            out.duration_s
        );
        assert!((out.metrics.time_held_s - onset_s).abs() < 0.011);
        let stepped: Vec<f64> = out
            .events
            .iter()
            .filter_map(|e| match e {
                DrillEvent::SteppedOff { t_s } => Some(*t_s),
                _ => None,
            })
            .collect();
        assert_eq!(stepped.len(), 1);
        assert!((stepped[0] - onset_s).abs() < 0.011);
        // So does a lean of 12° from the posture, held.
        let out = run(1, |t| ([0.0, if t > 15.0 { 12.0 } else { 0.0 }], 0.0));
        assert_eq!(out.end, EndReason::SteppedOff);
        assert!((out.metrics.time_held_s - (15.0 - STANCE_SETTLE_S)).abs() < 0.011);
    }

    #[test]
    fn results_read_back_as_quiet_stance_on_the_wearable() {
        // Results carry any drill's measures untagged: these must not read as another's, nor
        // another's as these.
        use crate::drill::{DrillMetrics, NeutralSpineMetrics, QuietStanceMetrics};
        let m = WearableStanceMetrics {
            trunk_rms_distance_deg: 0.4,
            jerk_m2_s5: 2.0,
            measured_s: 30.0,
            samples: 3001,
            ..WearableStanceMetrics::default()
        };
        let json = serde_json::to_string(&DrillMetrics::WearableStance(m)).unwrap();
        let back: DrillMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back.wearable_stance(), Some(&m));
        for other in [
            DrillMetrics::QuietStance(QuietStanceMetrics::default()),
            DrillMetrics::NeutralSpine(NeutralSpineMetrics::default()),
        ] {
            let json = serde_json::to_string(&other).unwrap();
            assert_eq!(serde_json::from_str::<DrillMetrics>(&json).unwrap(), other);
        }
    }

    #[test]
    fn a_hold_cut_short_is_not_scored() {
        // The data ends half a second into the hold.
        let mut drill = WearableStance::new(config(1));
        let mut events = Vec::new();
        for i in 0..=250u64 {
            let up = up_leaning([0.0, 0.1 * (i as f64 * 0.1).sin()]);
            drill.update(&still(up, 0.0), &tilt(i * 10_000, up), &mut events);
        }
        let out = drill.finish();
        assert_eq!(out.end, EndReason::DataEnded);
        assert!((out.metrics.measured_s - 0.5).abs() < 0.011);
        assert_eq!(out.score, 0.0);
    }

    #[test]
    fn moving_wearables_do_not_start_and_time_out() {
        // Turning all the time: never still.
        let mut drill = WearableStance::new(config(1));
        let mut events = Vec::new();
        let mut t_us = 0u64;
        while !drill.is_done() {
            let up = Vector3::z();
            let mut sample = still(up, 0.0);
            sample.gyr_rad_s = Vector3::z() * 0.5;
            drill.update(&sample, &tilt(t_us, up), &mut events);
            t_us += 10_000;
            assert!(t_us <= 121_000_000);
        }
        let out = drill.finish();
        assert_eq!(out.end, EndReason::NotStarted);
        assert_eq!((out.score, out.metrics.samples), (0.0, 0));
    }
}
