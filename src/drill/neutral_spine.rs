//! The neutral-spine hold, measured with the wearable on the lower back.
//!
//! The user finds their comfortable neutral posture and stands still; once the sensor has been
//! still for [`NEUTRAL_S`], up staying within [`NEUTRAL_STEADY_DEG`] of its mean, the hold
//! starts. Its neutral is the user's stored one (`proprio calibrate neutral`, given with
//! [`NeutralSpine::with_stored_neutral`]), so a posture away from it at the start shows; without
//! one, the posture of that still stretch is captured as the neutral (the mean direction of up
//! in the sensor's axes, from the live orientation estimate). From then on the drill follows
//! the trunk's **deviation from that neutral**: the angle between up now and up in
//! neutral, split into flexion (about the sensor's y axis; forward +) and lateral bend (about
//! its x axis; to the right +), for a wearable worn with x forward and z up, or in body axes
//! whichever way it is worn once its mounting is calibrated (`proprio calibrate mount`).
//!
//! - The deviation leaving the level's band (± `band_deg`) is [`DrillEvent::LeftBand`] (side
//!   positive when the larger part is forward flexion or a bend to the right); coming back
//!   within [`BAND_HYSTERESIS_DEG`] inside it is [`DrillEvent::Corrected`], so the user hears
//!   that they corrected, not only that they drifted.
//! - Out of the band for more than [`HOLD_BROKEN_S`] breaks the hold
//!   ([`DrillEvent::HoldBroken`]); the drill goes on.
//! - Time is weighted by zero-order hold on device time; intervals over [`MAX_HELD_S`] (gaps)
//!   count for nothing. The hold ends when the level's duration has been measured.
//! - Live, the drill follows the live (causal) orientation estimate: its band events are the
//!   cues the user gets as it happens. When the hold ends it is followed again, sample by
//!   sample, on the offline (forward–backward) estimate of the same samples
//!   ([`smooth_orientation`]), a captured neutral taken over the same still stretch; the result's
//!   measures and band events come from that pass, since the live estimate lags slow drifts
//!   (it read one about 10 % short on the simulator).
//!
//! Score (0–100): `100 × completion × ½ (s_rms + in_band) × 0.85^broken`, where completion is
//! the share of the target measured, `in_band` the share of time inside the band, and
//! `s_rms = clamp(ln(2·band / RMS deviation) / ln 8, 0, 1)`: 1 at a quarter of the band or
//! less, 0 at twice the band, log-linear between.

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use super::tandem_walk::is_still;
use super::{
    on_regular_grid, DrillEvent, DrillOutcome, EndReason, EventLog, Side, MAX_EVENTS, MAX_HELD_S,
    START_WITHIN_S,
};
use crate::pipeline::{smooth_orientation, AhrsParams, BoardTilt, ImuSi};

/// The sensor must be still this long in neutral before the hold starts, s.
pub const NEUTRAL_S: f64 = 2.0;
/// While the neutral is captured, up must stay within this of its mean so far, °.
pub const NEUTRAL_STEADY_DEG: f64 = 0.75;
/// Back within this far inside the band counts as corrected (no chatter at its edge), °.
pub const BAND_HYSTERESIS_DEG: f64 = 0.3;
/// Out of the band for longer than this breaks the hold, s.
pub const HOLD_BROKEN_S: f64 = 1.0;

/// One level of the drill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeutralSpineLevel {
    /// Duration, s.
    pub duration_s: f64,
    /// The band, ± degrees from neutral.
    pub band_deg: f64,
    /// How to do it.
    pub note: &'static str,
}

/// Levels 1..=4.
pub const NEUTRAL_SPINE_LEVELS: [NeutralSpineLevel; 4] = [
    NeutralSpineLevel {
        duration_s: 30.0,
        band_deg: 5.0,
        note: "standing, hands on your hips",
    },
    NeutralSpineLevel {
        duration_s: 60.0,
        band_deg: 5.0,
        note: "standing, arms by your sides, breathing normally",
    },
    NeutralSpineLevel {
        duration_s: 60.0,
        band_deg: 4.0,
        note: "standing, slowly raising and lowering your arms in front of you",
    },
    NeutralSpineLevel {
        duration_s: 60.0,
        band_deg: 3.0,
        note: "standing, slowly raising and lowering your arms, eyes closed",
    },
];

/// How a hold is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeutralSpineConfig {
    /// Level, 1..=4.
    pub level: u8,
    /// Target duration, s.
    pub duration_s: f64,
    /// The band, ± degrees from neutral.
    pub band_deg: f64,
}

impl NeutralSpineConfig {
    /// The setup of `level`; `None` for a level that does not exist.
    pub fn for_level(level: u8) -> Option<Self> {
        let l = NEUTRAL_SPINE_LEVELS.get(usize::from(level).checked_sub(1)?)?;
        Some(NeutralSpineConfig {
            level,
            duration_s: l.duration_s,
            band_deg: l.band_deg,
        })
    }
}

/// The hold's measures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct NeutralSpineMetrics {
    /// RMS of the deviation from neutral, °.
    pub rms_deviation_deg: f64,
    /// RMS of its flexion part, °.
    pub rms_flexion_deg: f64,
    /// RMS of its lateral part, °.
    pub rms_lateral_deg: f64,
    /// Mean flexion (forward +): a posture that settles away from neutral, °.
    pub mean_flexion_deg: f64,
    /// Largest deviation, °.
    pub max_deviation_deg: f64,
    /// Time within the band, % of the time measured.
    pub time_in_band_percent: f64,
    /// Times the deviation left the band.
    pub band_exits: u32,
    /// Times it was out for more than [`HOLD_BROKEN_S`].
    pub holds_broken: u32,
    /// Mean time out of the band per exit (the time to correct), s.
    pub mean_time_to_correct_s: Option<f64>,
    /// The neutral posture's angle from vertical in the sensor's axes (mounting and posture
    /// together), °.
    pub neutral_from_vertical_deg: f64,
    /// Time covered by data since the start, s.
    pub measured_s: f64,
    /// Samples used since the start.
    pub samples: u64,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NeutralSpineLive {
    /// The hold has not started: stand still in your neutral posture.
    pub capturing: bool,
    /// Deviation from neutral now `[flexion, lateral]`, °.
    pub deviation_deg: Option<[f64; 2]>,
    /// Inside the band now.
    pub in_band: bool,
    /// Seconds of the hold left.
    pub remaining_s: f64,
    /// Time in band so far, %.
    pub time_in_band_percent: f64,
    /// Score of the data so far.
    pub score: f64,
}

/// The drill's result.
pub type NeutralSpineOutcome = DrillOutcome<NeutralSpineMetrics>;

/// Running sums over the hold, time-weighted.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    time_s: f64,
    in_band_s: f64,
    deviation2: f64,
    flexion2: f64,
    lateral2: f64,
    flexion: f64,
    max_deg: f64,
    out_total_s: f64,
}

/// A hold followed one deviation at a time: the band, its exits and broken holds, and the
/// time sums. The drill runs one on the live estimate (the cues) and, at the end, one on the
/// offline estimate (the result).
#[derive(Debug, Clone, Default)]
struct Hold {
    band_deg: f64,
    prev: Option<(u64, [f64; 2])>,
    out_since_us: Option<u64>,
    broken_now: bool,
    exits: u32,
    broken: u32,
    /// Band events emitted (exits, corrections, broken holds).
    band_events: u64,
    sums: Sums,
    samples: u64,
}

impl Hold {
    fn new(band_deg: f64) -> Self {
        Hold {
            band_deg,
            ..Hold::default()
        }
    }

    /// Takes the deviation at `t_us` (the hold started at `t0_us`); band events go to `out`.
    fn step(&mut self, t_us: u64, t0_us: u64, deviation: [f64; 2], out: &mut Vec<DrillEvent>) {
        if let Some((prev_us, prev_deviation)) = self.prev {
            let dt_s = t_us.saturating_sub(prev_us) as f64 * 1e-6;
            if dt_s <= MAX_HELD_S {
                self.accumulate(prev_deviation, dt_s);
            }
        }
        self.prev = Some((t_us, deviation));
        self.samples += 1;
        let before = out.len();
        self.follow_band(t_us, t0_us, deviation, out);
        self.band_events += (out.len() - before) as u64;
    }

    fn accumulate(&mut self, [flexion, lateral]: [f64; 2], dt_s: f64) {
        let s = &mut self.sums;
        let magnitude = flexion.hypot(lateral);
        s.time_s += dt_s;
        s.deviation2 += magnitude * magnitude * dt_s;
        s.flexion2 += flexion * flexion * dt_s;
        s.lateral2 += lateral * lateral * dt_s;
        s.flexion += flexion * dt_s;
        s.max_deg = s.max_deg.max(magnitude);
        if self.out_since_us.is_none() {
            s.in_band_s += dt_s;
        } else {
            s.out_total_s += dt_s;
        }
    }

    fn follow_band(
        &mut self,
        t_us: u64,
        t0_us: u64,
        [flexion, lateral]: [f64; 2],
        out: &mut Vec<DrillEvent>,
    ) {
        let magnitude = flexion.hypot(lateral);
        let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
        match self.out_since_us {
            None if magnitude > self.band_deg => {
                self.out_since_us = Some(t_us);
                self.exits += 1;
                let side = if flexion.abs() >= lateral.abs() {
                    Side::of(flexion)
                } else {
                    Side::of(lateral)
                };
                out.push(DrillEvent::LeftBand {
                    t_s,
                    side,
                    direction_deg: None,
                });
            }
            Some(_) if magnitude < self.band_deg - BAND_HYSTERESIS_DEG => {
                self.out_since_us = None;
                self.broken_now = false;
                out.push(DrillEvent::Corrected { t_s });
            }
            Some(since) if !self.broken_now && (t_us - since) as f64 * 1e-6 > HOLD_BROKEN_S => {
                self.broken_now = true;
                self.broken += 1;
                out.push(DrillEvent::HoldBroken { t_s });
            }
            _ => {}
        }
    }

    /// The measures so far, with the neutral they are measured from.
    fn metrics(&self, neutral_up: Option<Vector3<f64>>) -> NeutralSpineMetrics {
        let s = &self.sums;
        let per_s = |x: f64| if s.time_s > 0.0 { x / s.time_s } else { 0.0 };
        NeutralSpineMetrics {
            rms_deviation_deg: per_s(s.deviation2).sqrt(),
            rms_flexion_deg: per_s(s.flexion2).sqrt(),
            rms_lateral_deg: per_s(s.lateral2).sqrt(),
            mean_flexion_deg: per_s(s.flexion),
            max_deviation_deg: s.max_deg,
            time_in_band_percent: 100.0 * per_s(s.in_band_s),
            band_exits: self.exits,
            holds_broken: self.broken,
            mean_time_to_correct_s: (self.exits > 0).then(|| s.out_total_s / f64::from(self.exits)),
            neutral_from_vertical_deg: neutral_up
                .map_or(0.0, |up| up.angle(&Vector3::z()).to_degrees()),
            measured_s: s.time_s,
            samples: self.samples,
        }
    }
}

/// The running hold (see the module docs).
pub struct NeutralSpine {
    config: NeutralSpineConfig,
    first_us: Option<u64>,
    still_since_us: Option<u64>,
    up_sum: Vector3<f64>,
    neutral_up: Option<Vector3<f64>>,
    /// The still stretch the neutral was captured over, µs of device time.
    capture_us: Option<(u64, u64)>,
    live: Hold,
    latest: Option<[f64; 2]>,
    end: Option<(EndReason, f64)>,
    events: EventLog,
    /// Device rate, Hz: the offline estimate's grid.
    rate_hz: f64,
    /// Every sample since the first, for the offline estimate.
    buffer: Vec<(u64, ImuSi)>,
    /// The user's stored neutral, if any: up in the sensor's axes.
    stored_neutral: Option<Vector3<f64>>,
}

impl NeutralSpine {
    /// A hold waiting for the user to stand still in neutral.
    pub fn new(config: NeutralSpineConfig) -> Self {
        NeutralSpine {
            config,
            first_us: None,
            still_since_us: None,
            up_sum: Vector3::zeros(),
            neutral_up: None,
            capture_us: None,
            live: Hold::new(config.band_deg),
            latest: None,
            end: None,
            events: EventLog::default(),
            rate_hz: 100.0,
            buffer: Vec::new(),
            stored_neutral: None,
        }
    }

    /// Measures from the user's stored neutral posture (up in the sensor's axes, as the
    /// pipeline delivers them) instead of capturing one; `None` (or a vector without a length)
    /// leaves the hold capturing it.
    pub fn with_stored_neutral(mut self, up: Option<Vector3<f64>>) -> Self {
        self.stored_neutral = up.and_then(|u| u.try_normalize(1e-9));
        self
    }

    /// The setup.
    pub fn config(&self) -> &NeutralSpineConfig {
        &self.config
    }

    /// True once it has ended.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// The device's sample rate, Hz, once it has introduced itself.
    pub fn set_device_rate_hz(&mut self, rate_hz: f64) {
        if rate_hz.is_finite() && rate_hz > 0.0 {
            self.rate_hz = rate_hz;
        }
    }

    /// The neutral measured from (stored, or captured on the live estimate): up in the
    /// sensor's axes.
    pub fn neutral_up(&self) -> Option<Vector3<f64>> {
        self.neutral_up
    }

    fn t0_us(&self) -> Option<u64> {
        self.capture_us.map(|(_, t0_us)| t0_us)
    }

    /// Takes one sample with the live estimate `tilt` at the same device time; events go to
    /// `out`.
    pub fn update(&mut self, sample: &ImuSi, tilt: &BoardTilt, out: &mut Vec<DrillEvent>) {
        if self.end.is_some() {
            return;
        }
        let t_us = tilt.t_us;
        self.buffer.push((t_us, *sample));
        let first_us = *self.first_us.get_or_insert(t_us);
        let (Some(neutral), Some(t0_us)) = (self.neutral_up, self.t0_us()) else {
            self.capture_neutral(t_us, sample, tilt);
            if self.t0_us().is_none() && (t_us - first_us) as f64 * 1e-6 >= START_WITHIN_S {
                self.end_at(EndReason::NotStarted, 0.0, out);
            }
            return;
        };
        let deviation = deviation_deg(&neutral, &tilt.up_in_imu);
        let mut band_events = Vec::new();
        self.live.step(t_us, t0_us, deviation, &mut band_events);
        for event in band_events {
            self.emit(event, out);
        }
        self.latest = Some(deviation);
        if self.live.sums.time_s >= self.config.duration_s {
            let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
            self.end_at(EndReason::Completed, t_s, out);
        }
    }

    /// Before the hold: averages up while the sensor is still; after [`NEUTRAL_S`] that is
    /// the neutral and the hold starts.
    fn capture_neutral(&mut self, t_us: u64, sample: &ImuSi, tilt: &BoardTilt) {
        let still = is_still(sample, tilt) && tilt.up_in_imu.iter().all(|v| v.is_finite());
        if !still {
            self.still_since_us = None;
            self.up_sum = Vector3::zeros();
            return;
        }
        // Still settling into neutral (or the estimate still settling): start again.
        if let Some(mean) = self.up_sum.try_normalize(1e-9) {
            if mean.angle(&tilt.up_in_imu).to_degrees() > NEUTRAL_STEADY_DEG {
                self.still_since_us = None;
                self.up_sum = Vector3::zeros();
            }
        }
        let since = *self.still_since_us.get_or_insert(t_us);
        self.up_sum += tilt.up_in_imu;
        if (t_us - since) as f64 * 1e-6 >= NEUTRAL_S {
            if let Some(up) = self.stored_neutral.or(self.up_sum.try_normalize(1e-9)) {
                self.neutral_up = Some(up);
                self.capture_us = Some((since, t_us));
            }
        }
    }

    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.events.emit(event, out);
    }

    fn end_at(&mut self, reason: EndReason, t_s: f64, out: &mut Vec<DrillEvent>) {
        self.end = Some((reason, t_s));
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    /// Ends the hold now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_none() {
            let t_s = match (self.live.prev, self.t0_us()) {
                (Some((t_us, _)), Some(t0)) => t_us.saturating_sub(t0) as f64 * 1e-6,
                _ => 0.0,
            };
            self.end_at(reason, t_s, out);
        }
    }

    /// The hold followed again on the offline (forward–backward) orientation estimate, which
    /// does not lag slow drifts as the live one does: the same samples, the stored neutral or
    /// one captured over the same still stretch. `None` when the hold never started.
    fn offline(&self) -> Option<(Hold, Vector3<f64>, Vec<DrillEvent>)> {
        let (capture_from_us, t0_us) = self.capture_us?;
        let (end_us, _) = self.live.prev?;
        let (grid, grid_us) = on_regular_grid(&self.buffer, |e| e.0, |e| e.1, self.rate_hz, end_us);
        let world_from_imu =
            smooth_orientation(&grid, 1.0 / self.rate_hz, &AhrsParams::tilt_only());
        let period_us = 1e6 / self.rate_hz;
        let up_at = |t_us: u64| {
            let k = (t_us.saturating_sub(grid_us) as f64 / period_us).round() as usize;
            world_from_imu
                .get(k)
                .map(|q| q.inverse_transform_vector(&Vector3::z()))
        };
        let neutral = match self.stored_neutral {
            Some(stored) => stored,
            None => self
                .buffer
                .iter()
                .filter(|e| e.0 >= capture_from_us && e.0 <= t0_us)
                .filter_map(|e| up_at(e.0))
                .sum::<Vector3<f64>>()
                .try_normalize(1e-9)?,
        };
        let mut hold = Hold::new(self.config.band_deg);
        let mut band_events = Vec::new();
        for &(t_us, _) in self.buffer.iter().filter(|e| e.0 > t0_us && e.0 <= end_us) {
            hold.step(
                t_us,
                t0_us,
                deviation_deg(&neutral, &up_at(t_us)?),
                &mut band_events,
            );
        }
        Some((hold, neutral, band_events))
    }

    /// The score of `metrics` (see the module docs).
    pub fn score(&self, m: &NeutralSpineMetrics) -> f64 {
        if m.measured_s <= 0.0 {
            return 0.0;
        }
        let band = self.config.band_deg;
        let s_rms = super::log_share(m.rms_deviation_deg, 2.0 * band, 8.0);
        let completion = (m.measured_s / self.config.duration_s).clamp(0.0, 1.0);
        let in_band = m.time_in_band_percent / 100.0;
        (100.0 * completion * 0.5 * (s_rms + in_band) * 0.85f64.powi(m.holds_broken as i32))
            .clamp(0.0, 100.0)
    }

    /// What the live view shows now.
    pub fn live(&self) -> NeutralSpineLive {
        let m = self.live.metrics(self.neutral_up);
        NeutralSpineLive {
            capturing: self.t0_us().is_none(),
            deviation_deg: self.latest,
            in_band: self.live.out_since_us.is_none(),
            remaining_s: (self.config.duration_s - m.measured_s).max(0.0),
            time_in_band_percent: m.time_in_band_percent,
            score: self.score(&NeutralSpineMetrics {
                measured_s: self.config.duration_s,
                ..m
            }),
        }
    }

    /// Ends the hold (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome:
    /// the measures and band events of the offline estimate (see the module docs).
    pub fn finish(mut self) -> NeutralSpineOutcome {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        let start_s = self.t0_us().unwrap_or(0) as f64 * 1e-6;
        let Some((hold, neutral, band_events)) = self.offline() else {
            let metrics = self.live.metrics(self.neutral_up);
            return NeutralSpineOutcome {
                score: self.score(&metrics),
                start_s,
                end,
                duration_s,
                metrics,
                events: self.events.kept,
                events_total: self.events.total,
            };
        };
        let metrics = hold.metrics(Some(neutral));
        let score = self.score(&metrics);
        let events_total = self.events.total - self.live.band_events + hold.band_events;
        // The band events first, so that one at the end's time comes before the end.
        let mut events: Vec<DrillEvent> = band_events
            .into_iter()
            .chain(self.events.kept.into_iter().filter(|e| !is_band_event(e)))
            .collect();
        events.sort_by(|a, b| a.t_s().total_cmp(&b.t_s()));
        events.truncate(MAX_EVENTS);
        NeutralSpineOutcome {
            score,
            start_s,
            end,
            duration_s,
            metrics,
            events,
            events_total,
        }
    }
}

fn is_band_event(event: &DrillEvent) -> bool {
    matches!(
        event,
        DrillEvent::LeftBand { .. } | DrillEvent::Corrected { .. } | DrillEvent::HoldBroken { .. }
    )
}

/// The deviation of `up` from `neutral` (both unit vectors in the sensor's axes), °:
/// `[flexion (about y, forward +), lateral (about x, to the right +)]`, the rotation angle
/// split by its axis.
pub fn deviation_deg(neutral: &Vector3<f64>, up: &Vector3<f64>) -> [f64; 2] {
    let axis = neutral.cross(up);
    let sin = axis.norm();
    if sin.is_nan() || sin <= 1e-12 {
        return [0.0; 2];
    }
    let angle_deg = sin.atan2(neutral.dot(up)).to_degrees();
    [-angle_deg * axis.y / sin, -angle_deg * axis.x / sin]
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    #[test]
    fn flexion_and_lateral_bend_have_their_signs() {
        let neutral = Vector3::z();
        // Bending forward by 10° (x, the forward axis, turns down): up moves to −x in the
        // sensor's axes.
        let forward = Rotation3::from_euler_angles(0.0, 10f64.to_radians(), 0.0);
        let up = forward.inverse() * Vector3::z();
        let [flexion, lateral] = deviation_deg(&neutral, &up);
        assert!((flexion - 10.0).abs() < 1e-9 && lateral.abs() < 1e-9);
        // Leaning 6° to the right (y, the left axis, turns up).
        let right = Rotation3::from_euler_angles(6f64.to_radians(), 0.0, 0.0);
        let [flexion, lateral] = deviation_deg(&neutral, &(right.inverse() * Vector3::z()));
        assert!(flexion.abs() < 1e-9 && (lateral - 6.0).abs() < 1e-9);
        assert_eq!(deviation_deg(&neutral, &neutral), [0.0, 0.0]);
    }
}
