//! Standing drills on a balance board: quiet stance (Romberg-type), tandem stance and single-leg
//! stance. Stand still, feet placed as the drill and level say, for the level's duration.
//!
//! # How a trial runs
//! 1. The board tares while nobody is on it (the pipeline's rule: its first second).
//! 2. The user steps on. The hold starts once the load has been steady for [`STEADY_S`]: every
//!    total in that stretch within ±[`STEADY_TOLERANCE`] of its mean, no gap longer than
//!    [`MAX_HELD_S`](super::MAX_HELD_S). That mean is the standing load; those first seconds on the board (the
//!    step-on and settling) are not measured.
//! 3. The hold's clock runs only while data arrives (intervals over [`MAX_HELD_S`](super::MAX_HELD_S) count for
//!    nothing) and the hold ends once the target duration has been measured.
//! 4. **Step-off** (the failure event; a step-out of tandem stance): the total stays below
//!    [`STEP_OFF_SHARE`] of the standing load (a foot went to the floor; for single-leg stance
//!    [`SINGLE_LEG_STEP_OFF_SHARE`]: the standing foot left the board too) or the board is
//!    empty, for [`STEP_OFF_S`]. It ends the trial as `stepped-off`. Samples below that share
//!    never enter the measures.
//! 5. **Touch-down** (single-leg stance): the total stays below [`TOUCH_DOWN_SHARE`] of the
//!    standing load for [`TOUCH_DOWN_S`]: the free foot is bearing weight on the floor beside
//!    the board. The trial goes on; the touch-down lasts until the load is back above
//!    [`FOOT_UP_SHARE`], and its samples never enter the measures. The **time held** is the
//!    measured time before the first touch-down (or step-off), at most the target.
//!
//! # Measures (posturography, Prieto et al. 1996; definitions in [`crate::measures`])
//! The COP samples of the hold that enter the measures (not those below the step-off share,
//! not a touch-down's) form stretches; a stretch breaks where samples are left out or data
//! stops for more than [`MAX_HELD_S`](super::MAX_HELD_S). [`cop_sway`] measures them the way
//! `proprio measure` does: the canonical preprocessing
//! ([`Preprocessing::CANONICAL`](crate::measures::Preprocessing::CANONICAL): centred, SWARII to
//! 25 Hz, zero-phase 10 Hz low-pass) of each stretch, then the kernels
//! ([`crate::measures::sway_measures`]) over the stretches joined, no step crossing a break.
//! With x medio-lateral (ML, + right) and y antero-posterior (AP, + forward): mean and RMS
//! distance, RMS and range per axis, sway path, mean velocity (path · rate / points, also per
//! axis), the 95 % **prediction** ellipse's area, the sway area per second and the mean
//! frequency. The live view's velocity and ellipse are running values over 25 Hz window
//! averages ([`WindowResampler`]), close to the result's but not the same numbers.
//!
//! # Score (provisional; issue 5 validates scores against people)
//! `100 · completion · ½ · (s_v + s_a) · 0.9^(touch-downs after the first)`, where completion
//! is the share of the target duration held, `s_v = ln(4·v_ref / v) / ln 4` for the mean velocity v and `s_a = ln(10·a_ref / a) /
//! ln 10` for the ellipse area a, each clamped to 0–1: 1 at a healthy reference or better
//! (v_ref = 10 mm/s, a_ref = 200 mm² for eyes open, feet apart, firm surface), 0 at four times
//! that velocity or ten times that area, log-linear between (sway measures are
//! multiplicative). Harder levels and stances allow more sway: both references are multiplied
//! by the level's `sway_allowance` (the area by its square). Less than [`MIN_SCORED_S`] of
//! measured standing (or than the target, if that is shorter) or fewer than 3 points score 0.

use serde::{Deserialize, Serialize};

use crate::G_M_S2;

use super::standing::{DrillClock, PreStart, StepOffWatch, StepOn, StepOnState};
#[cfg(doc)]
use super::standing::{STEADY_S, STEADY_TOLERANCE, STEP_OFF_S};
use super::{DrillEvent, DrillOutcome, EndReason, EventLog, STEP_OFF_SHARE};
use crate::measures::{ellipse_area_95, prepare, stretch_means, Preprocessing, Stretch};
use crate::pipeline::{CopSample, WindowResampler};

/// On one leg, below this share the standing foot has left the board too.
pub const SINGLE_LEG_STEP_OFF_SHARE: f64 = 0.3;
/// On one leg, below this share of the standing load the free foot is bearing weight on the
/// floor (a touch-down; a light touch takes 10–15 %, well above the load's noise)…
pub const TOUCH_DOWN_SHARE: f64 = 0.85;
/// …for at least this long, s (a bounce is shorter).
pub const TOUCH_DOWN_S: f64 = 0.1;
/// A touch-down ends once the load is back above this share (hysteresis against chatter).
pub const FOOT_UP_SHARE: f64 = 0.9;
/// Each touch-down after the first multiplies the single-leg score by this.
const TOUCH_DOWN_FACTOR: f64 = 0.9;
/// The series' rate for devices at 50 Hz or more, Hz.
pub const ANALYSIS_RATE_HZ: f64 = 25.0;
/// Holds shorter than this are not scored, s.
pub const MIN_SCORED_S: f64 = 5.0;
/// Healthy reference mean velocity (eyes open, feet apart, firm), mm/s.
const REFERENCE_VELOCITY_MM_S: f64 = 10.0;
/// Healthy reference 95 % ellipse area, mm².
const REFERENCE_AREA_MM2: f64 = 200.0;
/// Velocity at which `s_v` reaches 0, in multiples of the reference.
const VELOCITY_SPAN: f64 = 4.0;
/// Area at which `s_a` reaches 0, in multiples of the reference.
const AREA_SPAN: f64 = 10.0;

/// The rate of the COP series for a board of nominal `device_rate_hz`: [`ANALYSIS_RATE_HZ`]
/// for boards of 50 Hz or more, half the device's rate below (at least two samples per
/// window); `current_hz` when the rate is not a usable number.
pub(crate) fn analysis_rate_hz(device_rate_hz: f64, current_hz: f64) -> f64 {
    if device_rate_hz.is_finite() && device_rate_hz > 0.0 {
        ANALYSIS_RATE_HZ.min(device_rate_hz / 2.0).max(0.5)
    } else {
        current_hz
    }
}

/// Which standing drill runs on the board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StanceTask {
    /// Quiet stance / Romberg: feet apart or together.
    #[default]
    Quiet,
    /// Tandem stance: one foot directly in front of the other.
    Tandem,
    /// Single-leg stance.
    SingleLeg,
}

impl StanceTask {
    /// The task's levels, 1 first.
    pub fn levels(self) -> &'static [StanceLevel] {
        match self {
            StanceTask::Quiet => &STANCE_LEVELS,
            StanceTask::Tandem => &TANDEM_STANCE_LEVELS,
            StanceTask::SingleLeg => &SINGLE_LEG_LEVELS,
        }
    }

    /// Below this share of the standing load the user has stepped off.
    pub fn step_off_share(self) -> f64 {
        match self {
            StanceTask::SingleLeg => SINGLE_LEG_STEP_OFF_SHARE,
            StanceTask::Quiet | StanceTask::Tandem => STEP_OFF_SHARE,
        }
    }
}

/// How the feet are placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feet {
    /// Hip-width apart.
    #[default]
    Apart,
    /// Side by side, touching.
    Together,
    /// One directly in front of the other, heel to toe.
    Tandem,
    /// On one leg, the other foot lifted.
    SingleLeg,
}

/// A level's condition: the feet, the eyes, the surface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StanceCondition {
    /// How the feet are placed.
    pub feet: Feet,
    /// Eyes closed.
    pub eyes_closed: bool,
    /// On a foam pad on the board.
    pub foam: bool,
}

/// One level of a standing drill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StanceLevel {
    /// Duration (single-leg: the time to hold), s.
    pub duration_s: f64,
    /// How to stand, eyes open or closed.
    pub note: &'static str,
    /// Feet, eyes and surface.
    pub condition: StanceCondition,
    /// How much more sway than the healthy eyes-open, feet-apart reference is still a full
    /// score.
    pub sway_allowance: f64,
}

const fn condition(feet: Feet, eyes_closed: bool, foam: bool) -> StanceCondition {
    StanceCondition {
        feet,
        eyes_closed,
        foam,
    }
}

/// Quiet stance, levels 1..=5.
pub const STANCE_LEVELS: [StanceLevel; 5] = [
    StanceLevel {
        duration_s: 30.0,
        note: "eyes open, feet hip-width apart, arms by your sides",
        condition: condition(Feet::Apart, false, false),
        sway_allowance: 1.0,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes open, feet together",
        condition: condition(Feet::Together, false, false),
        sway_allowance: 1.2,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes closed, feet hip-width apart, someone within reach",
        condition: condition(Feet::Apart, true, false),
        sway_allowance: 1.4,
    },
    StanceLevel {
        duration_s: 45.0,
        note: "eyes closed, feet together, someone within reach",
        condition: condition(Feet::Together, true, false),
        sway_allowance: 1.7,
    },
    StanceLevel {
        duration_s: 60.0,
        note: "eyes closed, feet together on a foam pad on the board, someone within reach",
        condition: condition(Feet::Together, true, true),
        sway_allowance: 2.0,
    },
];

/// Tandem stance, levels 1..=4 (the sway allowances follow the larger medio-lateral sway of
/// a narrow base).
pub const TANDEM_STANCE_LEVELS: [StanceLevel; 4] = [
    StanceLevel {
        duration_s: 20.0,
        note: "eyes open, one foot directly in front of the other, heel touching toes",
        condition: condition(Feet::Tandem, false, false),
        sway_allowance: 1.8,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes open, heel to toe, arms crossed on your chest",
        condition: condition(Feet::Tandem, false, false),
        sway_allowance: 1.8,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes closed, heel to toe, someone within reach",
        condition: condition(Feet::Tandem, true, false),
        sway_allowance: 2.6,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes open, heel to toe on a foam pad on the board, someone within reach",
        condition: condition(Feet::Tandem, false, true),
        sway_allowance: 2.8,
    },
];

/// Single-leg stance, levels 1..=5: the time to hold on one leg.
pub const SINGLE_LEG_LEVELS: [StanceLevel; 5] = [
    StanceLevel {
        duration_s: 15.0,
        note: "eyes open, on your stronger leg, the other foot lifted beside the ankle",
        condition: condition(Feet::SingleLeg, false, false),
        sway_allowance: 2.5,
    },
    StanceLevel {
        duration_s: 30.0,
        note: "eyes open, the other foot lifted beside the ankle",
        condition: condition(Feet::SingleLeg, false, false),
        sway_allowance: 2.5,
    },
    StanceLevel {
        duration_s: 45.0,
        note: "eyes open, the other foot lifted, arms crossed on your chest",
        condition: condition(Feet::SingleLeg, false, false),
        sway_allowance: 2.5,
    },
    // Eyes closed, healthy adults hold one leg for a fraction of their eyes-open time
    // (Springer et al. 2007), so these levels are short.
    StanceLevel {
        duration_s: 10.0,
        note: "eyes closed, the other foot lifted, someone within reach",
        condition: condition(Feet::SingleLeg, true, false),
        sway_allowance: 4.0,
    },
    StanceLevel {
        duration_s: 20.0,
        note: "eyes closed, the other foot lifted, someone within reach",
        condition: condition(Feet::SingleLeg, true, false),
        sway_allowance: 4.0,
    },
];

/// How a standing trial is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuietStanceConfig {
    /// Which standing drill.
    #[serde(default)]
    pub task: StanceTask,
    /// Level, 1.. (see [`StanceTask::levels`]).
    pub level: u8,
    /// Target duration of the hold, s.
    pub duration_s: f64,
}

impl QuietStanceConfig {
    /// The setup of `task` at `level`; `None` for a level that does not exist.
    pub fn for_level(task: StanceTask, level: u8) -> Option<Self> {
        let l = task.levels().get(usize::from(level).checked_sub(1)?)?;
        Some(QuietStanceConfig {
            task,
            level,
            duration_s: l.duration_s,
        })
    }

    /// The level, if it exists.
    pub fn level_spec(&self) -> Option<&'static StanceLevel> {
        self.task
            .levels()
            .get(usize::from(self.level).checked_sub(1)?)
    }

    /// The level's sway allowance (1 for a level that does not exist).
    pub fn sway_allowance(&self) -> f64 {
        self.level_spec().map_or(1.0, |l| l.sway_allowance)
    }

    /// The healthy reference mean velocity at this level, mm/s: the eyes-open, feet-apart,
    /// firm-surface reference times the level's sway allowance.
    pub fn reference_velocity_mm_s(&self) -> f64 {
        REFERENCE_VELOCITY_MM_S * self.sway_allowance()
    }

    /// The healthy reference 95 % ellipse area at this level, mm² (an area: the allowance
    /// squared).
    pub fn reference_area_mm2(&self) -> f64 {
        let allowance = self.sway_allowance();
        REFERENCE_AREA_MM2 * allowance * allowance
    }
}

/// The standard COP sway measures of a hold (see the module docs), from [`cop_sway`]. All zero
/// below 3 points.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SwayMeasures {
    /// Mean COP position, ML, mm in the board's frame (where the user stood).
    pub mean_cop_x_mm: f64,
    /// Mean COP position, AP, mm in the board's frame.
    pub mean_cop_y_mm: f64,
    /// Mean distance from the mean COP, mm.
    pub mean_distance_mm: f64,
    /// RMS distance from the mean COP, mm.
    pub rms_distance_mm: f64,
    /// RMS about the mean, medio-lateral, mm.
    pub rms_ml_mm: f64,
    /// RMS about the mean, antero-posterior, mm.
    pub rms_ap_mm: f64,
    /// Range (max − min), medio-lateral, mm.
    pub range_ml_mm: f64,
    /// Range (max − min), antero-posterior, mm.
    pub range_ap_mm: f64,
    /// Sway path: the length of the COP's trace, mm.
    #[serde(alias = "sway_path_mm")]
    pub path_mm: f64,
    /// Mean velocity: path / time, mm/s.
    pub mean_velocity_mm_s: f64,
    /// Mean velocity, medio-lateral, mm/s.
    pub mean_velocity_ml_mm_s: f64,
    /// Mean velocity, antero-posterior, mm/s.
    pub mean_velocity_ap_mm_s: f64,
    /// Area of the 95 % prediction ellipse, mm².
    pub ellipse_area_95_mm2: f64,
    /// Area swept per second, mm²/s.
    pub sway_area_per_s_mm2_s: f64,
    /// Mean frequency (resultant), Hz.
    pub mean_frequency_hz: f64,
    /// Points of the 25 Hz series measured.
    pub points: u64,
}

/// The sway measures of a hold's COP `stretches` (mm, in the board's frame; see the module
/// docs): the same preprocessing and kernels as `proprio measure`.
pub fn cop_sway(stretches: &[Stretch]) -> SwayMeasures {
    let prepared = prepare(stretches, Some(&Preprocessing::CANONICAL));
    let m = crate::measures::sway_measures(&prepared.ml, &prepared.ap, prepared.rate_hz);
    if m.points < 3 {
        return SwayMeasures::default();
    }
    let [mean_cop_x_mm, mean_cop_y_mm] = stretch_means(stretches);
    SwayMeasures {
        mean_cop_x_mm,
        mean_cop_y_mm,
        mean_distance_mm: m.mean_distance[0],
        rms_distance_mm: m.rms[0],
        rms_ml_mm: m.rms[1],
        rms_ap_mm: m.rms[2],
        range_ml_mm: m.range[1],
        range_ap_mm: m.range[2],
        path_mm: m.path[0],
        mean_velocity_mm_s: m.mean_velocity[0],
        mean_velocity_ml_mm_s: m.mean_velocity[1],
        mean_velocity_ap_mm_s: m.mean_velocity[2],
        ellipse_area_95_mm2: m.ellipse_area_95,
        sway_area_per_s_mm2_s: m.sway_area_per_s,
        mean_frequency_hz: m.mean_frequency_hz[0],
        points: m.points as u64,
    }
}

/// The drill's measures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QuietStanceMetrics {
    /// The sway measures of the hold.
    #[serde(flatten)]
    pub sway: SwayMeasures,
    /// The standing load, kg, when the board's scale is known.
    pub weight_kg: Option<f64>,
    /// Rate of the series the live view's running measures come from, Hz (the result's
    /// series is always 25 Hz).
    pub analysis_rate_hz: f64,
    /// Time covered by data during the hold (gaps excluded), s.
    pub measured_s: f64,
    /// Board samples during the hold.
    pub samples: u64,
    /// Measured time before the first touch-down or step-off (or the whole hold), at most
    /// the target, s.
    #[serde(default)]
    pub time_held_s: f64,
    /// Single-leg stance: the free foot's touch-downs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_downs: Option<TouchDowns>,
}

/// The touch-downs of a single-leg stance.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TouchDowns {
    /// How many.
    pub count: u32,
    /// Time with the free foot down, s.
    pub total_s: f64,
}

/// Where the user is in the trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StancePhase {
    /// The board is taring: stay off it.
    Taring,
    /// Tared: step on.
    StepOn,
    /// On the board, waiting for a steady load.
    Settling,
    /// The hold is running.
    Holding,
    /// The trial has ended.
    Ended,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietStanceLive {
    /// Which standing drill.
    pub task: StanceTask,
    /// Single-leg stance: touch-downs so far.
    pub touch_downs: u32,
    /// Single-leg stance: the free foot is down now.
    pub foot_down: bool,
    /// Where the user is in the trial.
    pub phase: StancePhase,
    /// Latest COP `[x ML, y AP]`, mm in the board's frame.
    pub cop_mm: Option<[f64; 2]>,
    /// The COP's offset from where the user stood when the hold started, mm.
    pub cop_offset_mm: Option<[f64; 2]>,
    /// Latest load, kg, when the scale is known.
    pub load_kg: Option<f64>,
    /// Seconds since the hold started.
    pub elapsed_s: f64,
    /// Seconds of the hold left.
    pub remaining_s: f64,
    /// Mean velocity so far, mm/s.
    pub mean_velocity_mm_s: f64,
    /// 95 % ellipse area so far, mm².
    pub ellipse_area_95_mm2: f64,
    /// Score of the data so far (as if the trial ended well now).
    pub score: f64,
}

/// The result of one quiet-stance trial (it starts when the hold does).
pub type QuietStanceOutcome = DrillOutcome<QuietStanceMetrics>;

/// Running sums for the live view: mean velocity and ellipse area as the kernels define them,
/// updated point by point over the window averages (deviations taken from the first point,
/// for precision).
#[derive(Debug, Clone, Copy, Default)]
struct RunningSway {
    origin: Option<[f64; 2]>,
    n: u64,
    sums: [f64; 5],
    path_mm: f64,
    steps: u64,
    last: Option<[f64; 2]>,
}

impl RunningSway {
    fn push(&mut self, point: Option<[f64; 2]>) {
        let Some(p) = point else {
            self.last = None;
            return;
        };
        if let Some(last) = self.last {
            self.path_mm += (p[0] - last[0]).hypot(p[1] - last[1]);
            self.steps += 1;
        }
        self.last = Some(p);
        let origin = *self.origin.get_or_insert(p);
        let (x, y) = (p[0] - origin[0], p[1] - origin[1]);
        self.n += 1;
        for (sum, value) in self.sums.iter_mut().zip([x, y, x * x, y * y, x * y]) {
            *sum += value;
        }
    }

    fn mean_velocity_mm_s(&self, rate_hz: f64) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            self.path_mm * rate_hz / self.steps as f64
        }
    }

    fn ellipse_area_95_mm2(&self) -> f64 {
        let n = self.n as f64;
        let [sx, sy, sxx, syy, sxy] = self.sums;
        let (mx, my) = (sx / n, sy / n);
        ellipse_area_95(
            self.n as usize,
            sxx / n - mx * mx,
            syy / n - my * my,
            sxy / n - mx * my,
        )
    }
}

/// The running trial: COP samples in, events out.
#[derive(Debug, Clone)]
pub struct QuietStance {
    config: QuietStanceConfig,
    analysis_rate_hz: f64,
    /// Before the hold: waiting for a steady load.
    step_on: StepOn,
    t0_us: Option<u64>,
    standing_counts: f64,
    standing_n: Option<f64>,
    clock: DrillClock,
    last_t_s: f64,
    measured_s: f64,
    /// The step-off rule.
    step_off: StepOffWatch,
    /// Since when the load has been below the touch-down share (single-leg stance).
    low_since: Option<(u64, f64)>,
    /// The free foot is down (a confirmed touch-down that has not ended).
    foot_down: bool,
    touch_downs: TouchDowns,
    /// Measured time before the first touch-down or step-off, s.
    held_s: Option<f64>,
    resampler: Option<WindowResampler>,
    series: Vec<Option<[f64; 2]>>,
    running: RunningSway,
    /// The samples that enter the measures, in stretches (see the module docs).
    stretches: Vec<Stretch>,
    /// The last sample entered the measures: the next one may continue its stretch.
    in_stretch: bool,
    samples: u64,
    latest: Option<CopSample>,
    events: EventLog,
    end: Option<(EndReason, f64)>,
}

impl QuietStance {
    /// A trial waiting for the board to tare and the user to step on.
    pub fn new(config: QuietStanceConfig) -> Self {
        QuietStance {
            config,
            analysis_rate_hz: ANALYSIS_RATE_HZ,
            step_on: StepOn::default(),
            t0_us: None,
            standing_counts: 0.0,
            standing_n: None,
            clock: DrillClock::default(),
            last_t_s: 0.0,
            measured_s: 0.0,
            step_off: StepOffWatch::default(),
            low_since: None,
            foot_down: false,
            touch_downs: TouchDowns::default(),
            held_s: None,
            resampler: None,
            series: Vec::new(),
            running: RunningSway::default(),
            stretches: Vec::new(),
            in_stretch: false,
            samples: 0,
            latest: None,
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

    /// The device's nominal sample rate: the series is 25 Hz for boards of 50 Hz or more,
    /// half the device's rate below (at least two samples per window). Fixed once the hold has
    /// started.
    pub fn set_device_rate_hz(&mut self, rate_hz: f64) {
        if self.t0_us.is_none() {
            self.analysis_rate_hz = analysis_rate_hz(rate_hz, self.analysis_rate_hz);
        }
    }

    /// The samples that enter the measures so far, in stretches (see the module docs).
    pub fn stretches(&self) -> &[Stretch] {
        &self.stretches
    }

    /// The rate of the series the live view's running measures use, Hz.
    pub fn analysis_rate_hz(&self) -> f64 {
        self.analysis_rate_hz
    }

    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.events.emit(event, out);
    }

    /// Takes one COP sample; appends the events it causes to `out`.
    pub fn update(&mut self, sample: &CopSample, out: &mut Vec<DrillEvent>) {
        if self.end.is_some() {
            return;
        }
        self.latest = Some(*sample);
        match self.t0_us {
            None => match self.step_on.update(sample) {
                StepOnState::Waiting => {}
                StepOnState::TimedOut => self.end_at(EndReason::NotStarted, 0.0, out),
                StepOnState::Standing(standing) => {
                    self.standing_counts = standing.standing_counts;
                    self.standing_n = standing.standing_n;
                    self.t0_us = Some(standing.t0_us);
                    self.resampler =
                        Some(WindowResampler::new(standing.t0_us, self.analysis_rate_hz));
                    self.hold(sample, standing.t0_us, out);
                }
            },
            Some(t0_us) => self.hold(sample, t0_us, out),
        }
    }

    fn hold(&mut self, sample: &CopSample, t0_us: u64, out: &mut Vec<DrillEvent>) {
        let t_us = sample.t_us;
        let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
        self.clock.tick(t_us);
        self.measured_s = self.clock.measured_s;
        self.last_t_s = t_s;
        self.samples += 1;

        let share = sample.total_counts / self.standing_counts;
        let off = StepOffWatch::is_off(
            sample,
            self.standing_counts,
            self.config.task.step_off_share(),
        );
        if let Some((since_us, held_s)) = self.step_off.update(t_us, off, self.measured_s) {
            self.held_s.get_or_insert(held_s);
            let off_s = since_us.saturating_sub(t0_us) as f64 * 1e-6;
            self.emit(DrillEvent::SteppedOff { t_s: off_s }, out);
            self.end_at(EndReason::SteppedOff, t_s, out);
            return;
        }
        let foot_down =
            self.config.task == StanceTask::SingleLeg && self.touch_down(t_us, t0_us, share, out);
        match (off || foot_down, sample.cop_mm, self.resampler.as_mut()) {
            (false, Some(cop), Some(resampler)) => {
                let before = self.series.len();
                resampler.push(t_us, cop, &mut self.series);
                for &point in &self.series[before..] {
                    self.running.push(point);
                }
                let continues = self.in_stretch
                    && self
                        .stretches
                        .last()
                        .and_then(|s| s.t_s.last())
                        .is_some_and(|last| t_s - last <= super::MAX_HELD_S);
                if !continues {
                    self.stretches.push(Stretch::default());
                }
                if let Some(stretch) = self.stretches.last_mut() {
                    stretch.push(t_s, cop[0], cop[1]);
                }
                self.in_stretch = true;
            }
            _ => self.in_stretch = false,
        }
        if self.measured_s >= self.config.duration_s {
            self.end_at(EndReason::Completed, t_s, out);
        }
    }

    /// Single-leg stance: follows the free foot at load `share`; true while it is down or may
    /// be (those samples are not the one-leg stance).
    fn touch_down(&mut self, t_us: u64, t0_us: u64, share: f64, out: &mut Vec<DrillEvent>) -> bool {
        if share < TOUCH_DOWN_SHARE {
            let (since_us, held_s) = *self.low_since.get_or_insert((t_us, self.measured_s));
            if !self.foot_down && t_us.saturating_sub(since_us) as f64 * 1e-6 >= TOUCH_DOWN_S {
                self.foot_down = true;
                self.touch_downs.count += 1;
                self.held_s.get_or_insert(held_s);
                let t_s = since_us.saturating_sub(t0_us) as f64 * 1e-6;
                self.emit(DrillEvent::TouchDown { t_s }, out);
            }
            return true;
        }
        if share < FOOT_UP_SHARE && self.foot_down {
            return true;
        }
        if let Some((since_us, _)) = self.low_since.take() {
            if self.foot_down {
                self.foot_down = false;
                self.touch_downs.total_s += t_us.saturating_sub(since_us) as f64 * 1e-6;
                let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
                self.emit(DrillEvent::FootUp { t_s }, out);
            }
        }
        false
    }

    /// Ends the trial now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_none() {
            self.end_at(reason, self.last_t_s, out);
        }
    }

    fn end_at(&mut self, reason: EndReason, t_s: f64, out: &mut Vec<DrillEvent>) {
        self.end = Some((reason, t_s));
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    /// The score for sway `velocity_mm_s` and `area_mm2`, with `measured_s` of standing
    /// measured, `held_s` of the target held and `touch_downs` (see the module docs).
    pub fn score(
        &self,
        velocity_mm_s: f64,
        area_mm2: f64,
        measured_s: f64,
        held_s: f64,
        touch_downs: u32,
    ) -> f64 {
        if measured_s < MIN_SCORED_S.min(self.config.duration_s) {
            return 0.0;
        }
        let v_ref = self.config.reference_velocity_mm_s();
        let a_ref = self.config.reference_area_mm2();
        let s_v = super::log_share(velocity_mm_s, VELOCITY_SPAN * v_ref, VELOCITY_SPAN);
        let s_a = super::log_share(area_mm2, AREA_SPAN * a_ref, AREA_SPAN);
        let completion = (held_s / self.config.duration_s).clamp(0.0, 1.0);
        let touch_downs = TOUCH_DOWN_FACTOR.powi(touch_downs.saturating_sub(1) as i32);
        (100.0 * completion * 0.5 * (s_v + s_a) * touch_downs).clamp(0.0, 100.0)
    }

    /// Measured time before the first touch-down or step-off, at most the target, s.
    fn time_held_s(&self) -> f64 {
        self.held_s
            .unwrap_or(self.measured_s)
            .min(self.config.duration_s)
    }

    fn phase(&self) -> StancePhase {
        if self.end.is_some() {
            return StancePhase::Ended;
        }
        if self.t0_us.is_some() {
            return StancePhase::Holding;
        }
        match StepOn::phase(self.latest.as_ref()) {
            PreStart::Taring => StancePhase::Taring,
            PreStart::StepOn => StancePhase::StepOn,
            PreStart::Settling => StancePhase::Settling,
        }
    }

    /// What the live view shows now.
    pub fn live(&self) -> QuietStanceLive {
        let cop_mm = self.latest.and_then(|s| s.cop_mm);
        let velocity = self.running.mean_velocity_mm_s(self.analysis_rate_hz);
        let area = self.running.ellipse_area_95_mm2();
        let origin = self.running.origin;
        QuietStanceLive {
            task: self.config.task,
            touch_downs: self.touch_downs.count,
            foot_down: self.foot_down,
            phase: self.phase(),
            cop_mm,
            cop_offset_mm: cop_mm.zip(origin).map(|(c, o)| [c[0] - o[0], c[1] - o[1]]),
            load_kg: self.latest.and_then(|s| s.total_n).map(|n| n / G_M_S2),
            elapsed_s: self.last_t_s,
            remaining_s: (self.config.duration_s - self.measured_s).max(0.0),
            mean_velocity_mm_s: velocity,
            ellipse_area_95_mm2: area,
            score: if self.running.n < 3 {
                0.0 // nothing measured yet
            } else {
                let done_s = self.config.duration_s.max(self.measured_s);
                let held_s = self.held_s.unwrap_or(done_s);
                self.score(velocity, area, done_s, held_s, self.touch_downs.count)
            },
        }
    }

    /// Ends the trial (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> QuietStanceOutcome {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        if let (true, Some((since_us, _)), Some(last)) =
            (self.foot_down, self.low_since, self.clock.last_t_us())
        {
            // Still down when the trial ended.
            self.touch_downs.total_s += last.saturating_sub(since_us) as f64 * 1e-6;
        }
        let sway = cop_sway(&self.stretches);
        let metrics = QuietStanceMetrics {
            sway,
            weight_kg: self.standing_n.map(|n| n / G_M_S2),
            analysis_rate_hz: self.analysis_rate_hz,
            measured_s: self.measured_s,
            samples: self.samples,
            time_held_s: self.time_held_s(),
            touch_downs: (self.config.task == StanceTask::SingleLeg).then_some(self.touch_downs),
        };
        QuietStanceOutcome {
            // Fewer than 3 points have no ellipse: nothing to score.
            score: if sway.points < 3 {
                0.0
            } else {
                self.score(
                    sway.mean_velocity_mm_s,
                    sway.ellipse_area_95_mm2,
                    self.measured_s,
                    self.time_held_s(),
                    self.touch_downs.count,
                )
            },
            start_s: self.t0_us.unwrap_or(0) as f64 * 1e-6,
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
    use crate::drill::START_WITHIN_S;
    use crate::pipeline::BoardPhase;
    use std::f64::consts::PI;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn a_slow_sway_is_measured_through_the_canonical_preprocessing() {
        // 0.25 Hz sway of ±8 mm ML around (5, −3) at 100 Hz for 40 s, with a 4 s break: the
        // 10 Hz low-pass leaves it whole, so RMS = 8/√2, range 16, and the mean frequency is
        // the sine's (its mean speed 4·A·f over 2π times its mean distance 2A/π).
        let (amplitude_mm, f_hz) = (8.0, 0.25);
        let mut stretches = vec![Stretch::default(), Stretch::default()];
        for k in 0..4000 {
            let t = k as f64 / 100.0;
            if (20.0..24.0).contains(&t) {
                continue;
            }
            let x = 5.0 + amplitude_mm * (2.0 * PI * f_hz * t).sin();
            stretches[usize::from(t >= 24.0)].push(t, x, -3.0);
        }
        let m = cop_sway(&stretches);
        assert!(close(m.mean_cop_x_mm, 5.0, 0.01) && close(m.mean_cop_y_mm, -3.0, 1e-9));
        assert!(
            close(m.rms_ml_mm, amplitude_mm / 2f64.sqrt(), 0.005),
            "{m:?}"
        );
        assert!(m.rms_ap_mm < 1e-9 && m.ellipse_area_95_mm2 < 1e-6, "{m:?}");
        assert!(close(m.range_ml_mm, 2.0 * amplitude_mm, 0.005), "{m:?}");
        // The path: 4A per cycle over the 36 s measured (less the 0.1 s lead-ins).
        let speed = 4.0 * amplitude_mm * f_hz;
        assert!(close(m.mean_velocity_mm_s, speed, 0.01), "{m:?}");
        assert!(close(m.mean_velocity_ml_mm_s, speed, 0.01), "{m:?}");
        assert_eq!(m.mean_velocity_ap_mm_s, 0.0);
        assert!(close(m.mean_frequency_hz, f_hz, 0.01), "{m:?}");
        // About 900 points at 25 Hz (two stretches, each from 0.1 s in).
        assert!((890..=900).contains(&m.points), "{}", m.points);
        assert_eq!(cop_sway(&[]), SwayMeasures::default());
    }

    fn sample(t_us: u64, total: f64, cop: Option<[f64; 2]>) -> CopSample {
        CopSample {
            t_us,
            phase: if cop.is_some() {
                BoardPhase::OnBoard
            } else {
                BoardPhase::Empty
            },
            total_counts: total,
            total_n: Some(total),
            cop_mm: cop,
            cells_n: None,
        }
    }

    fn config(duration_s: f64) -> QuietStanceConfig {
        QuietStanceConfig {
            task: StanceTask::Quiet,
            level: 1,
            duration_s,
        }
    }

    #[test]
    fn starts_after_a_steady_second_and_ends_on_time() {
        let mut drill = QuietStance::new(config(10.0));
        let mut events = Vec::new();
        // Empty for 1 s, stepping on (rising load) for 1 s, then 700 N with a slow sway.
        let mut t_us = 0;
        while t_us < 20_000_000 && !drill.is_done() {
            let t = t_us as f64 * 1e-6;
            let s = if t < 1.0 {
                sample(t_us, 0.0, None)
            } else if t < 2.0 {
                sample(t_us, 700.0 * (t - 1.0), Some([0.0, 0.0]))
            } else {
                sample(t_us, 700.0, Some([5.0 * (PI * t).sin(), 0.0]))
            };
            drill.update(&s, &mut events);
            t_us += 12_500;
        }
        let out = drill.finish();
        assert_eq!(out.end, EndReason::Completed);
        // The last second must stay within ±10 % of its mean: with the ramp's end in it, that
        // holds from u = T − 2 s where u ≥ 0.9·((1 − u²)/2 + u), u = 0.895: start ≈ 2.9 s.
        assert!((out.start_s - 2.895).abs() < 0.013, "{}", out.start_s);
        assert!((out.metrics.measured_s - 10.0).abs() < 0.013);
        // The standing load is the steady second's mean, the ramp's last samples in it.
        let weight_kg = out.metrics.weight_kg.unwrap();
        assert!(
            (weight_kg / (700.0 / G_M_S2) - 0.995).abs() < 0.003,
            "{weight_kg}"
        );
        // x = 5 sin πt over 5 whole periods: mean speed 4·A·f = 10 mm/s, RMS 5/√2. The
        // velocity reads up to 2.5 % low: the preprocessing leaves out the first 0.1 s (9.9 s
        // are not whole periods), its window averaging takes 0.3 % off, and the kernels divide
        // the path by the points, not the steps.
        let v = out.metrics.sway.mean_velocity_ml_mm_s;
        assert!((v - 10.0).abs() < 0.25, "{v}");
        assert!((out.metrics.sway.rms_ml_mm - 5.0 / 2f64.sqrt()).abs() < 0.05);
        assert!(out.score > 0.0);
    }

    #[test]
    fn stepping_off_ends_the_trial_and_a_bounce_does_not() {
        let mut drill = QuietStance::new(config(30.0));
        let mut events = Vec::new();
        let mut t_us = 0;
        let mut push = |drill: &mut QuietStance, total: f64, n: u32| {
            for _ in 0..n {
                let cop = (total > 200.0).then_some([0.0, 0.0]);
                drill.update(&sample(t_us, total, cop), &mut events);
                t_us += 12_500;
            }
        };
        push(&mut drill, 700.0, 160); // on the board, steady: the hold starts at 1 s
        push(&mut drill, 400.0, 10); // a 0.125 s dip: not a step
        push(&mut drill, 700.0, 80);
        assert!(!drill.is_done());
        push(&mut drill, 350.0, 30); // a foot on the floor for 0.375 s
        assert!(drill.is_done());
        let out = drill.finish();
        assert_eq!(out.end, EndReason::SteppedOff);
        let off = out
            .events
            .iter()
            .find_map(|e| match e {
                DrillEvent::SteppedOff { t_s } => Some(*t_s),
                _ => None,
            })
            .unwrap();
        // The hold started at 80 · 12.5 ms = 1.0 s; the foot left at (160 + 10 + 80) · 12.5 ms.
        assert!((out.start_s - 1.0).abs() < 1e-9, "{}", out.start_s);
        assert!((off - (250.0 * 0.0125 - 1.0)).abs() < 1e-9, "{off}");
        assert!(out.score < 20.0, "{}", out.score);
    }

    #[test]
    fn on_one_leg_a_touch_down_is_counted_and_a_bounce_is_not() {
        let mut drill = QuietStance::new(QuietStanceConfig {
            task: StanceTask::SingleLeg,
            level: 1,
            duration_s: 10.0,
        });
        let mut events = Vec::new();
        let mut t_us = 0;
        let mut push = |drill: &mut QuietStance, total: f64, n: u32| {
            for _ in 0..n {
                drill.update(&sample(t_us, total, Some([0.0, 0.0])), &mut events);
                t_us += 12_500;
            }
        };
        push(&mut drill, 700.0, 160); // steady: the hold starts at 1 s
        push(&mut drill, 560.0, 4); // a 50 ms dip: a bounce
        push(&mut drill, 700.0, 80); // 2 s held
        push(&mut drill, 420.0, 40); // the free foot down for 0.5 s (40 % off; no step-off)
        push(&mut drill, 610.0, 8); // lifting: still down between 85 % and 90 %
        push(&mut drill, 700.0, 800);
        let out = drill.finish();
        assert_eq!(out.end, EndReason::Completed);
        let td = out.metrics.touch_downs.unwrap();
        assert_eq!(td.count, 1);
        // Down from the first low sample to the first one above 90 %: 48 samples.
        assert!((td.total_s - 48.0 * 0.0125).abs() < 1e-9, "{}", td.total_s);
        // Held from the start (sample 80) to the touch-down (sample 244): 164 intervals.
        assert!((out.metrics.time_held_s - 164.0 * 0.0125).abs() < 1e-9);
        let kinds: Vec<_> = out
            .events
            .iter()
            .map(|e| match e {
                DrillEvent::TouchDown { t_s } => ("down", *t_s),
                DrillEvent::FootUp { t_s } => ("up", *t_s),
                DrillEvent::Ended { t_s, .. } => ("end", *t_s),
                _ => ("other", 0.0),
            })
            .collect();
        assert_eq!(kinds[0].0, "down");
        assert!((kinds[0].1 - 164.0 * 0.0125).abs() < 1e-9);
        assert_eq!((kinds[1].0, kinds[2].0), ("up", "end"));
    }

    #[test]
    fn a_trial_nobody_stands_on_ends_as_not_started() {
        let mut drill = QuietStance::new(config(30.0));
        let mut events = Vec::new();
        let period_us = 12_500;
        let last = (START_WITHIN_S * 1e6) as u64 / period_us;
        for i in 0..=last {
            drill.update(&sample(i * period_us, 0.0, None), &mut events);
        }
        assert!(!drill.is_done(), "not before {START_WITHIN_S} s");
        drill.update(&sample((last + 1) * period_us, 0.0, None), &mut events);
        assert!(drill.is_done());
        assert_eq!(drill.finish().end, EndReason::NotStarted);
    }

    #[test]
    fn gaps_count_for_nothing() {
        let mut drill = QuietStance::new(config(5.0));
        let mut events = Vec::new();
        // 2 s steady, a 1 s hole, then enough to finish.
        let times = (0..=160u64).chain(240..=700u64);
        for i in times {
            let t = i * 12_500;
            let x = (i as f64 * 0.05).sin();
            drill.update(&sample(t, 700.0, Some([x, 0.0])), &mut events);
        }
        let out = drill.finish();
        assert_eq!(out.end, EndReason::Completed);
        assert!((out.metrics.measured_s - 5.0).abs() < 0.013);
        // Started at 1 s; 1 s measured before the hole, 4 s after: ends at 6 s of hold time.
        assert!((out.duration_s - 6.0).abs() < 0.013, "{}", out.duration_s);
    }

    #[test]
    fn a_steadier_stance_scores_higher() {
        let d = QuietStance::new(config(30.0));
        assert_eq!(d.score(10.0, 200.0, 30.0, 30.0, 0), 100.0);
        assert_eq!(d.score(40.0, 2000.0, 30.0, 30.0, 0), 0.0);
        // Halfway on both log scales.
        assert!((d.score(20.0, 200.0 * 10f64.sqrt(), 30.0, 30.0, 0) - 50.0).abs() < 1e-9);
        assert!(
            (d.score(10.0, 200.0, 15.0, 15.0, 0) - 50.0).abs() < 1e-9,
            "half done"
        );
        assert_eq!(d.score(10.0, 200.0, 4.0, 4.0, 0), 0.0, "too short to score");
        let eyes_closed =
            QuietStance::new(QuietStanceConfig::for_level(StanceTask::Quiet, 5).unwrap());
        assert_eq!(eyes_closed.score(20.0, 800.0, 60.0, 60.0, 0), 100.0);
        // One leg: held half the target, then two more touch-downs.
        let one_leg =
            QuietStance::new(QuietStanceConfig::for_level(StanceTask::SingleLeg, 2).unwrap());
        assert!((one_leg.score(25.0, 1250.0, 28.0, 15.0, 3) - 50.0 * 0.81).abs() < 1e-9);
    }
}
