//! The heel-to-toe (tandem) walk, measured with the wearable on the lower back.
//!
//! The user stands still with one foot in front of the other; once the sensor has been still
//! for [`STILL_S`] the drill starts (that second also gives the upright trunk's lateral angle,
//! the baseline). The user then walks heel to toe. Heel strikes are found with the step
//! detection of [`crate::measures::gait`] (McCamley/Ionescu on the world's vertical
//! acceleration, as for [`Gait::HeelToToe`](crate::measures::gait::Gait::HeelToToe), then
//! [`heel_strikes`]) over the whole walk so far: every [`DETECT_EVERY_S`] for the live count
//! (with the live orientation estimate), and once more when the drill ends (with the offline
//! estimate, which gives the result). The drill is done when the level's steps have been counted (and the last has been
//! followed by [`SETTLE_S`] of data), when its time limit passes, or when the user stops.
//!
//! When it ends, each step is judged against the usual step time, the lower quartile of the
//! times between heel strikes (robust when a beginner hesitates or stops often):
//! - a **stop** is a pause: more than [`STOP_FACTOR`] usual step times since the previous heel
//!   strike;
//! - a **slow step** (a hesitation) took more than [`SLOW_STEP_FACTOR`] usual step times;
//! - a **lateral excursion**: the trunk leaned sideways more than [`LATERAL_MISSTEP_DEG`] from
//!   the upright baseline during the step (the usual step time before its heel strike);
//! - a misstep is a slow step or a lateral excursion; the correct steps are the level's first
//!   steps that were not missteps.
//!
//! The lateral angle is the trunk's roll about the sensor's x axis (worn with x forward, z up;
//! the mounting calibration maps other mountings), from the offline orientation estimate.
//!
//! Score (0–100): `100 × correct/target × (0.6 + 0.25 × sway + 0.15 × pauses)`, where
//! `sway = clamp((5° − ML sway RMS) / 4°, 0, 1)` and `pauses = clamp(1 − stops / 3, 0, 1)`.

use nalgebra::UnitQuaternion;
use serde::{Deserialize, Serialize};

use super::{on_regular_grid, DrillEvent, DrillOutcome, EndReason, EventLog, START_WITHIN_S};
use crate::measures::gait::{
    cadence_steps_per_min, heel_strikes, initial_contacts, world_vertical_acceleration_in,
};
use crate::pipeline::{smooth_orientation, AhrsParams, BoardTilt, ImuSi};
use crate::G_M_S2;

/// The sensor must be still this long before the drill starts, s.
pub const STILL_S: f64 = 1.0;
/// Still: angular rate below this, °/s ...
pub const STILL_GYR_DEG_S: f64 = 6.0;
/// ... and the specific force within this of gravity, m/s².
pub const STILL_ACC_M_S2: f64 = 0.6;
/// True when the wearable is still: turning slower than [`STILL_GYR_DEG_S`], its specific
/// force within [`STILL_ACC_M_S2`] of gravity, and the live estimate settled (`tilt`).
pub(crate) fn is_still(sample: &ImuSi, tilt: &BoardTilt) -> bool {
    sample.gyr_rad_s.norm().to_degrees() < STILL_GYR_DEG_S
        && (sample.acc_m_s2.norm() - G_M_S2).abs() < STILL_ACC_M_S2
        && !tilt.converging
}

/// The live step count is brought up to date this often, s of device time.
pub const DETECT_EVERY_S: f64 = 1.0;
/// The last step counts once this much data has followed it (the detection looks a little
/// ahead), s.
pub const SETTLE_S: f64 = 1.0;
/// A trunk lean beyond this from the upright baseline during a step makes it a misstep, °.
pub const LATERAL_MISSTEP_DEG: f64 = 5.0;
/// A step taking more than this many usual step times is a slow step (a misstep) ...
pub const SLOW_STEP_FACTOR: f64 = 1.6;
/// ... and more than this many, a stop.
pub const STOP_FACTOR: f64 = 3.0;

/// One level of the drill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WalkLevel {
    /// Heel-to-toe steps to take.
    pub steps: u8,
    /// Time limit, s.
    pub time_limit_s: f64,
    /// What to do differently at this level.
    pub note: &'static str,
}

/// Levels 1..=4.
pub const WALK_LEVELS: [WalkLevel; 4] = [
    WalkLevel {
        steps: 5,
        time_limit_s: 60.0,
        note: "fingertips along a wall if you need them",
    },
    WalkLevel {
        steps: 10,
        time_limit_s: 60.0,
        note: "hands free, beside a wall",
    },
    WalkLevel {
        steps: 10,
        time_limit_s: 60.0,
        note: "arms crossed, eyes on a point ahead",
    },
    WalkLevel {
        steps: 20,
        time_limit_s: 90.0,
        note: "arms crossed, along a hallway",
    },
];

/// How a tandem-walk drill is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TandemWalkConfig {
    /// Level, 1..=4.
    pub level: u8,
    /// Steps to take.
    pub steps: u8,
    /// Time limit from the start, s.
    pub time_limit_s: f64,
}

impl TandemWalkConfig {
    /// The setup of `level`; `None` for a level that does not exist.
    pub fn for_level(level: u8) -> Option<Self> {
        let l = WALK_LEVELS.get(usize::from(level).checked_sub(1)?)?;
        Some(TandemWalkConfig {
            level,
            steps: l.steps,
            time_limit_s: l.time_limit_s,
        })
    }
}

/// Why a step was a misstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MisstepReason {
    /// The trunk leaned sideways beyond [`LATERAL_MISSTEP_DEG`].
    LateralExcursion,
    /// The step took more than [`SLOW_STEP_FACTOR`] usual step times.
    SlowStep,
}

/// The walk's measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TandemWalkMetrics {
    /// Steps the level asks for.
    pub target_steps: u32,
    /// Heel strikes found.
    pub steps: u32,
    /// Of the first `target_steps` steps, those that were not missteps.
    pub correct_steps: u32,
    /// Steps that were missteps (a step can be both kinds; it counts once).
    pub missteps: u32,
    /// Steps with a lateral trunk excursion.
    pub lateral_excursions: u32,
    /// Slow steps (hesitations).
    pub slow_steps: u32,
    /// Stops between steps.
    pub stops: u32,
    /// From the first step's start (its heel strike less one usual step time) to the last
    /// heel strike, s.
    pub walk_time_s: Option<f64>,
    /// Steps per minute (60 over the median step time).
    pub cadence_steps_per_min: Option<f64>,
    /// Mean step time, stops left out, s.
    pub step_time_mean_s: Option<f64>,
    /// Step-time variability: standard deviation over mean, stops left out, %.
    pub step_time_cv_percent: Option<f64>,
    /// RMS of the trunk's lateral angle from upright while walking, °.
    pub ml_sway_rms_deg: Option<f64>,
    /// Largest lateral angle from upright while walking, °.
    pub ml_sway_max_deg: Option<f64>,
    /// Time covered by data since the start, s.
    pub measured_s: f64,
    /// Samples used since the start.
    pub samples: u64,
}

/// Where the drill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkPhase {
    /// Waiting for the user to stand still.
    Waiting,
    /// Walking.
    Walking,
    /// Over.
    Done,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TandemWalkLive {
    /// Where the drill is.
    pub phase: WalkPhase,
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// Seconds left before the time limit.
    pub remaining_s: f64,
    /// Heel strikes counted so far.
    pub steps: u32,
    /// Steps to take.
    pub target_steps: u32,
    /// The trunk's lateral angle from upright now, ° (the live estimate).
    pub lateral_deg: Option<f64>,
}

/// The drill's result.
pub type TandemWalkOutcome = DrillOutcome<TandemWalkMetrics>;

/// The running drill (see the module docs).
pub struct TandemWalk {
    config: TandemWalkConfig,
    rate_hz: f64,
    /// Samples with their device time (µs) and vertical acceleration from the live estimate
    /// (m/s²): the still second before the start, then all.
    buffer: Vec<(u64, ImuSi, f64)>,
    first_us: Option<u64>,
    still_since_us: Option<u64>,
    t0_us: Option<u64>,
    latest_us: Option<u64>,
    /// The live lateral angle's upright value (the live estimate, averaged while still).
    live_baseline_deg: Option<f64>,
    latest_lateral_deg: Option<f64>,
    next_detect_us: u64,
    steps_so_far: u32,
    metrics: Option<TandemWalkMetrics>,
    end: Option<(EndReason, f64)>,
    events: EventLog,
}

impl TandemWalk {
    /// A drill waiting for its first sample.
    pub fn new(config: TandemWalkConfig) -> Self {
        TandemWalk {
            config,
            rate_hz: 100.0,
            buffer: Vec::new(),
            first_us: None,
            still_since_us: None,
            t0_us: None,
            latest_us: None,
            live_baseline_deg: None,
            latest_lateral_deg: None,
            next_detect_us: 0,
            steps_so_far: 0,
            metrics: None,
            end: None,
            events: EventLog::default(),
        }
    }

    /// The device's nominal sample rate (from its `Hello`): the walk is analysed on that grid.
    pub fn set_device_rate_hz(&mut self, rate_hz: f64) {
        if rate_hz.is_finite() && rate_hz > 0.0 {
            self.rate_hz = rate_hz;
        }
    }

    /// The setup.
    pub fn config(&self) -> &TandemWalkConfig {
        &self.config
    }

    /// True once the drill has ended.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    fn seconds_since_start(&self, t_us: u64) -> f64 {
        self.t0_us
            .map_or(0.0, |t0| t_us.saturating_sub(t0) as f64 * 1e-6)
    }

    /// Takes one sample with the live estimate's `tilt` about the sensor's x axis (the trunk's
    /// lateral angle) at the same device time (µs since the stream's first sample); drill
    /// events go to `out`.
    pub fn update(&mut self, sample: &ImuSi, tilt: &BoardTilt, out: &mut Vec<DrillEvent>) {
        if self.end.is_some() {
            return;
        }
        let t_us = tilt.t_us;
        self.latest_us = Some(t_us);
        let first_us = *self.first_us.get_or_insert(t_us);
        let vertical = tilt.up_in_imu.dot(&sample.acc_m_s2) - G_M_S2;
        let vertical = if vertical.is_finite() { vertical } else { 0.0 };
        self.buffer.push((t_us, *sample, vertical));
        let Some(t0_us) = self.t0_us else {
            self.wait_for_stillness(t_us, first_us, sample, tilt, out);
            return;
        };
        if let Some(baseline) = self.live_baseline_deg {
            self.latest_lateral_deg = Some(tilt.tilt_deg - baseline);
        }
        if t_us >= self.next_detect_us {
            self.next_detect_us = t_us + (DETECT_EVERY_S * 1e6) as u64;
            let (vertical, grid_us) = self.regular_series(t_us, |e| e.2);
            let strikes = self.strikes_in(&vertical, grid_us);
            self.steps_so_far = strikes.len() as u32;
            let settled = strikes
                .get(usize::from(self.config.steps).wrapping_sub(1))
                .is_some_and(|t| self.seconds_since_start(t_us) - t >= SETTLE_S);
            if settled {
                return self.end_at(EndReason::Completed, t_us, out);
            }
        }
        if t_us.saturating_sub(t0_us) as f64 * 1e-6 >= self.config.time_limit_s {
            self.end_at(EndReason::TimeUp, t_us, out);
        }
    }

    fn wait_for_stillness(
        &mut self,
        t_us: u64,
        first_us: u64,
        sample: &ImuSi,
        tilt: &BoardTilt,
        out: &mut Vec<DrillEvent>,
    ) {
        // Keep only the last still second: the baseline and the walk's lead-in.
        let keep_from = t_us.saturating_sub((STILL_S * 1e6) as u64);
        let stale = self.buffer.partition_point(|e| e.0 < keep_from);
        self.buffer.drain(..stale);
        if !is_still(sample, tilt) {
            self.still_since_us = None;
            self.live_baseline_deg = None;
        } else {
            let since = *self.still_since_us.get_or_insert(t_us);
            // A running mean of the live lateral angle over the still stretch.
            let n = ((t_us - since) as f64 * 1e-6 * self.rate_hz).max(0.0) + 1.0;
            let mean = self.live_baseline_deg.unwrap_or(tilt.tilt_deg);
            self.live_baseline_deg = Some(mean + (tilt.tilt_deg - mean) / n);
            if (t_us - since) as f64 * 1e-6 >= STILL_S {
                self.t0_us = Some(t_us);
                self.next_detect_us = t_us;
                return;
            }
        }
        if (t_us - first_us) as f64 * 1e-6 >= START_WITHIN_S {
            self.end = Some((EndReason::NotStarted, 0.0));
            self.emit(
                DrillEvent::Ended {
                    t_s: 0.0,
                    reason: EndReason::NotStarted,
                },
                out,
            );
        }
    }

    /// What `pick` takes from each buffered sample up to `until_us`, on a regular grid at the
    /// device's rate (a lost sample holds the one before), with the grid's first time, µs.
    fn regular_series<T: Copy>(
        &self,
        until_us: u64,
        pick: impl Fn(&(u64, ImuSi, f64)) -> T,
    ) -> (Vec<T>, u64) {
        on_regular_grid(&self.buffer, |e| e.0, pick, self.rate_hz, until_us)
    }

    /// Heel strikes in a vertical acceleration series on the grid that starts at `grid_us`,
    /// s since the start (only those after it).
    fn strikes_in(&self, vertical_m_s2: &[f64], grid_us: u64) -> Vec<f64> {
        let Some(t0_us) = self.t0_us else {
            return Vec::new();
        };
        let offset_s = (grid_us as f64 - t0_us as f64) * 1e-6;
        heel_strikes(&initial_contacts(vertical_m_s2, self.rate_hz))
            .iter()
            .map(|c| c.t_s + offset_s)
            .filter(|t| *t > 0.0)
            .collect()
    }

    /// Ends the drill now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_none() {
            let t_us = self.latest_us.unwrap_or(0);
            if self.t0_us.is_some() {
                self.end_at(reason, t_us, out);
            } else {
                self.end = Some((reason, 0.0));
                self.emit(DrillEvent::Ended { t_s: 0.0, reason }, out);
            }
        }
    }

    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.events.emit(event, out);
    }

    /// Analyses the walk up to `t_us`, emits its steps, missteps and stops in time order, then
    /// the end.
    fn end_at(&mut self, reason: EndReason, t_us: u64, out: &mut Vec<DrillEvent>) {
        let t_s = self.seconds_since_start(t_us);
        let (metrics, mut walk_events) = self.analyse(t_us);
        walk_events.sort_by(|a, b| event_time(a).total_cmp(&event_time(b)));
        for event in walk_events {
            self.emit(event, out);
        }
        self.steps_so_far = metrics.steps;
        self.metrics = Some(metrics);
        self.end = Some((reason, t_s));
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    fn analyse(&self, until_us: u64) -> (TandemWalkMetrics, Vec<DrillEvent>) {
        let t0_us = self.t0_us.unwrap_or(0);
        let (grid, grid_us) = self.regular_series(until_us, |e| e.1);
        let world_from_imu: Vec<UnitQuaternion<f64>> =
            smooth_orientation(&grid, 1.0 / self.rate_hz, &AhrsParams::tilt_only());
        let strikes = self.strikes_in(
            &world_vertical_acceleration_in(&grid, &world_from_imu),
            grid_us,
        );
        // Lateral angle of each grid sample, and its time since the start.
        let offset_s = (grid_us as f64 - t0_us as f64) * 1e-6;
        let times: Vec<f64> = (0..grid.len())
            .map(|k| offset_s + k as f64 / self.rate_hz)
            .collect();
        let roll_deg: Vec<f64> = world_from_imu
            .iter()
            .map(|q| {
                let up = q.inverse_transform_vector(&nalgebra::Vector3::z());
                up.y.atan2(up.z).to_degrees()
            })
            .collect();
        let upright: Vec<f64> = roll_deg
            .iter()
            .zip(&times)
            .filter(|(_, t)| **t <= 0.0)
            .map(|(r, _)| *r)
            .collect();
        let baseline = if upright.is_empty() {
            roll_deg.first().copied().unwrap_or(0.0)
        } else {
            upright.iter().sum::<f64>() / upright.len() as f64
        };
        let lateral = |from: f64, to: f64| {
            times
                .iter()
                .zip(&roll_deg)
                .filter(move |(t, _)| **t > from && **t <= to)
                .map(move |(_, r)| r - baseline)
        };

        let intervals: Vec<f64> = strikes.windows(2).map(|w| w[1] - w[0]).collect();
        let usual_step_s = lower_quartile(&intervals);
        let mut events: Vec<DrillEvent> = Vec::new();
        let (mut lateral_excursions, mut slow_steps, mut stops, mut missteps) = (0, 0, 0, 0);
        let mut correct_steps = 0;
        let mut step_times = Vec::new();
        for (i, &t_s) in strikes.iter().enumerate() {
            events.push(DrillEvent::Step { t_s });
            let interval = i.checked_sub(1).map(|j| t_s - strikes[j]);
            let typical = usual_step_s.unwrap_or(1.0);
            let stop = interval.is_some_and(|dt| dt > STOP_FACTOR * typical);
            let slow = !stop && interval.is_some_and(|dt| dt > SLOW_STEP_FACTOR * typical);
            if stop {
                stops += 1;
                events.push(DrillEvent::Stopped {
                    t_s: strikes[i - 1],
                });
            } else if let Some(dt) = interval {
                step_times.push(dt);
            }
            let window_s = interval.map_or(typical, |dt| dt.min(typical));
            let leaned = lateral(t_s - window_s, t_s).any(|d| d.abs() > LATERAL_MISSTEP_DEG);
            if leaned {
                lateral_excursions += 1;
                events.push(DrillEvent::Misstep {
                    t_s,
                    reason: MisstepReason::LateralExcursion,
                });
            }
            if slow {
                slow_steps += 1;
                events.push(DrillEvent::Misstep {
                    t_s,
                    reason: MisstepReason::SlowStep,
                });
            }
            let misstep = leaned || slow;
            missteps += u32::from(misstep);
            if i < usize::from(self.config.steps) && !misstep {
                correct_steps += 1;
            }
        }
        let walk = strikes
            .first()
            .zip(strikes.last())
            .filter(|_| strikes.len() >= 2)
            .map(|(first, last)| (first - usual_step_s.unwrap_or(0.0), *last));
        let (ml_sway_rms_deg, ml_sway_max_deg) = match walk {
            Some((from, to)) => {
                let values: Vec<f64> = lateral(from, to).collect();
                let n = values.len().max(1) as f64;
                (
                    Some((values.iter().map(|d| d * d).sum::<f64>() / n).sqrt()),
                    values.iter().map(|d| d.abs()).reduce(f64::max),
                )
            }
            None => (None, None),
        };
        let step_time_mean_s = (!step_times.is_empty())
            .then(|| step_times.iter().sum::<f64>() / step_times.len() as f64);
        let step_time_cv_percent = step_time_mean_s
            .filter(|_| step_times.len() >= 2)
            .map(|mean| {
                let var = step_times.iter().map(|d| (d - mean).powi(2)).sum::<f64>()
                    / (step_times.len() - 1) as f64;
                100.0 * var.sqrt() / mean
            });
        let samples = self
            .buffer
            .iter()
            .filter(|e| e.0 > t0_us && e.0 <= until_us)
            .count();
        let metrics = TandemWalkMetrics {
            target_steps: u32::from(self.config.steps),
            steps: strikes.len() as u32,
            correct_steps,
            missteps,
            lateral_excursions,
            slow_steps,
            stops,
            walk_time_s: walk.map(|(from, to)| to - from),
            cadence_steps_per_min: cadence_steps_per_min(&strikes),
            step_time_mean_s,
            step_time_cv_percent,
            ml_sway_rms_deg,
            ml_sway_max_deg,
            measured_s: samples as f64 / self.rate_hz,
            samples: samples as u64,
        };
        (metrics, events)
    }

    /// The score for `metrics` (see the module docs).
    pub fn score(metrics: &TandemWalkMetrics) -> f64 {
        if metrics.target_steps == 0 {
            return 0.0;
        }
        let completion = f64::from(metrics.correct_steps) / f64::from(metrics.target_steps);
        let sway = metrics
            .ml_sway_rms_deg
            .map_or(0.0, |rms| ((5.0 - rms) / 4.0).clamp(0.0, 1.0));
        let pauses = (1.0 - f64::from(metrics.stops) / 3.0).clamp(0.0, 1.0);
        (100.0 * completion.min(1.0) * (0.6 + 0.25 * sway + 0.15 * pauses)).clamp(0.0, 100.0)
    }

    /// What the live view shows now.
    pub fn live(&self) -> TandemWalkLive {
        let elapsed_s = self.latest_us.map_or(0.0, |t| self.seconds_since_start(t));
        let phase = if self.end.is_some() {
            WalkPhase::Done
        } else if self.t0_us.is_some() {
            WalkPhase::Walking
        } else {
            WalkPhase::Waiting
        };
        TandemWalkLive {
            phase,
            elapsed_s,
            remaining_s: (self.config.time_limit_s - elapsed_s).max(0.0),
            steps: self.steps_so_far,
            target_steps: u32::from(self.config.steps),
            lateral_deg: self.latest_lateral_deg,
        }
    }

    /// Ends the drill (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> TandemWalkOutcome {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        let metrics = self.metrics.unwrap_or(TandemWalkMetrics {
            target_steps: u32::from(self.config.steps),
            steps: 0,
            correct_steps: 0,
            missteps: 0,
            lateral_excursions: 0,
            slow_steps: 0,
            stops: 0,
            walk_time_s: None,
            cadence_steps_per_min: None,
            step_time_mean_s: None,
            step_time_cv_percent: None,
            ml_sway_rms_deg: None,
            ml_sway_max_deg: None,
            measured_s: 0.0,
            samples: 0,
        });
        TandemWalkOutcome {
            score: Self::score(&metrics),
            start_s: self.t0_us.unwrap_or(0) as f64 * 1e-6,
            end,
            duration_s,
            metrics,
            events: self.events.kept,
            events_total: self.events.total,
        }
    }
}

fn event_time(event: &DrillEvent) -> f64 {
    match *event {
        DrillEvent::Step { t_s }
        | DrillEvent::Stopped { t_s }
        | DrillEvent::Misstep { t_s, .. } => t_s,
        _ => f64::INFINITY,
    }
}

/// The lower quartile (linear interpolation between order statistics), `None` when empty.
fn lower_quartile(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let position = 0.25 * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let weight = position - below as f64;
    Some(sorted[below] * (1.0 - weight) + sorted[above] * weight)
}
