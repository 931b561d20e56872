//! Weight shift (target tracking) on a balance board: lean to move your centre of pressure
//! (COP) onto targets around you, hold each, and come back to the middle. A limits-of-stability
//! style task (cf. the NeuroCom / Balance Master LOS test and its rhythmic weight shift).
//!
//! # How a trial runs
//! 1. The board tares, the user steps on and stands steadily: the standing drills' rules
//!    ([`StepOn`]: the load steady for [`STEADY_S`]). The drill's clock starts then and runs
//!    only while data arrives ([`DrillClock`]).
//! 2. **Centre**: the user stands still for [`CENTRE_S`]; the mean COP over that time is their
//!    centre. Targets are placed relative to it, so where the feet stand on the board does not
//!    matter.
//! 3. **Targets**, one at a time, in the level's order ([`WeightShiftConfig::target`]): a
//!    target appears; the user has the level's time allowed to bring the COP within its radius
//!    and keep it there for the level's dwell. Inside means within the radius; once inside, the
//!    COP counts as out only beyond the radius plus [`EXIT_MARGIN_MM`] (so sway at the edge
//!    does not chatter). A hold that breaks starts again on the next entry.
//!    - **reached** (`target-reached`) once the dwell is held within the time allowed;
//!    - **missed** (`target-missed`, the failure event) when the time allowed runs out first.
//! 4. **Back to the middle**: after each target the centre is shown; the next target appears
//!    once the COP has been within the radius of the centre for [`RETURN_DWELL_S`], or after
//!    [`RETURN_ALLOWED_S`] whatever happens. After the last target the trial is `completed`.
//! 5. A **step-off** (the load under [`STEP_OFF_SHARE`] of standing for [`STEP_OFF_S`]) ends it
//!    as `stepped-off`; nobody standing steadily within 2 minutes ends it as `not-started`.
//!
//! # Targets
//! A target lies in one of eight directions (forward, the diagonals, sideways, back) at the
//! level's share of the **limits of stability** in that direction: the theoretical limits the
//! LOS test uses, 8° of lean forward and sideways and 4.5° back, for a centre of mass about
//! 0.86 m above the ankles (0.86 m · tan 8° ≈ [`LOS_FORWARD_MM`] forward and
//! [`LOS_SIDEWAYS_MM`] sideways, 0.86 m · tan 4.5° ≈ [`LOS_BACK_MM`] back; diagonals on the
//! ellipse through them). proprio does not know the user's height, so these are an average
//! adult's (provisional). The order is a shuffle of the level's directions drawn from
//! `schedule_seed` (the level's number by default): deterministic, recorded in the session's
//! header, so the drill, its replay and the simulator agree on it.
//!
//! # Measures (per target, then the mean over targets)
//! - **time to reach**: from the target appearing to the COP's first entry within its radius,
//!   s (reached targets);
//! - **path efficiency**: the straight distance from where the COP was when the target appeared
//!   to where it entered the radius, divided by the length of the path it took, 0–1 (1 = a
//!   straight line; reached targets). The path runs from that first COP through the COP
//!   averaged in 25 Hz windows from the target's appearance (half the board's rate below
//!   50 Hz; the window average is the fixed low-pass, as for the standing drills' sway path) to
//!   the COP at the entry; a gap counts as the straight line across it;
//! - **misses**: targets not held within the time allowed;
//! - **reaction time**: from the target appearing until the COP has covered [`ONSET_SHARE`] of
//!   the way towards it (at least [`ONSET_MIN_MM`], beyond sway), s;
//! - **maximum excursion**: the furthest the COP got towards the target, along its direction
//!   from the centre, in % of the target's distance (100 % = on the target; missed targets
//!   show how far the user got).
//!
//! # Score (provisional)
//! `100 · (reached / targets) · ½ · (s_t + s_e)`, with `s_t = ln(3·t_ref / t) / ln 3` for the
//! mean time to reach t and `s_e = ln(3·(w_ref + 0.01) / (w + 0.01)) / ln 3` for the wasted
//! path `w = 1 − path efficiency`, each clamped to 0–1: 1 at the level's reference or better
//! ([`WeightShiftConfig::reference_time_to_reach_s`], [`REFERENCE_PATH_EFFICIENCY`]), 0 at three
//! times the reference, log-linear between. No target reached scores 0.

use serde::{Deserialize, Serialize};

use super::quiet_stance::analysis_rate_hz;
use super::standing::{DrillClock, PreStart, StepOffWatch, StepOn, StepOnState};
#[cfg(doc)]
use super::standing::{STEADY_S, STEP_OFF_S};
use super::{DrillEvent, DrillOutcome, EndReason, EventLog, ANALYSIS_RATE_HZ, STEP_OFF_SHARE};
use crate::pipeline::{CopSample, WindowResampler};
use crate::G_M_S2;

/// The user stands still this long after the drill starts; the mean COP is their centre, s.
pub const CENTRE_S: f64 = 2.0;
/// Once inside a target's radius, the COP counts as out only beyond the radius plus this, mm.
pub const EXIT_MARGIN_MM: f64 = 3.0;
/// Back in the middle for this long (within the level's radius of the centre), the next target
/// appears, s.
pub const RETURN_DWELL_S: f64 = 0.5;
/// The next target appears this long after the previous one ended at the latest, s.
pub const RETURN_ALLOWED_S: f64 = 5.0;
/// Movement onset: the COP has covered this share of the way towards the target…
pub const ONSET_SHARE: f64 = 0.1;
/// …and at least this far, mm (more than sway moves it in a reaction time).
pub const ONSET_MIN_MM: f64 = 5.0;
/// The limit of stability forward of the centre, mm (8° of lean; see the module docs).
pub const LOS_FORWARD_MM: f64 = 120.0;
/// The limit of stability backward of the centre, mm (4.5° of lean).
pub const LOS_BACK_MM: f64 = 70.0;
/// The limit of stability to either side of the centre, mm (8° of lean).
pub const LOS_SIDEWAYS_MM: f64 = 120.0;
/// The healthy reference path efficiency (provisional; see docs/scoring.md).
pub const REFERENCE_PATH_EFFICIENCY: f64 = 0.85;
/// The healthy reference time to reach is this reaction…
const REFERENCE_REACTION_S: f64 = 0.6;
/// …plus the way to the target's radius at this mean COP speed, mm/s (provisional).
const REFERENCE_SPEED_MM_S: f64 = 100.0;
/// A sub-score reaches 0 at this multiple of its reference.
const SCORE_SPAN: f64 = 3.0;
/// Added to the wasted path (1 − efficiency) before its logarithm.
const WASTE_OFFSET: f64 = 0.01;

/// Where a target lies from the user's centre, seen from above, facing forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Straight forward.
    Forward,
    /// Forward and to the right.
    ForwardRight,
    /// To the right.
    Right,
    /// Back and to the right.
    BackRight,
    /// Straight back.
    Back,
    /// Back and to the left.
    BackLeft,
    /// To the left.
    Left,
    /// Forward and to the left.
    ForwardLeft,
}

impl Direction {
    /// The four straight directions.
    pub const STRAIGHT: [Direction; 4] = [
        Direction::Forward,
        Direction::Right,
        Direction::Back,
        Direction::Left,
    ];
    /// All eight, clockwise from forward.
    pub const ALL: [Direction; 8] = [
        Direction::Forward,
        Direction::ForwardRight,
        Direction::Right,
        Direction::BackRight,
        Direction::Back,
        Direction::BackLeft,
        Direction::Left,
        Direction::ForwardLeft,
    ];

    /// The unit vector `[x ML, y AP]` (x + right, y + forward).
    pub fn unit(self) -> [f64; 2] {
        let d = std::f64::consts::FRAC_1_SQRT_2;
        match self {
            Direction::Forward => [0.0, 1.0],
            Direction::ForwardRight => [d, d],
            Direction::Right => [1.0, 0.0],
            Direction::BackRight => [d, -d],
            Direction::Back => [0.0, -1.0],
            Direction::BackLeft => [-d, -d],
            Direction::Left => [-1.0, 0.0],
            Direction::ForwardLeft => [-d, d],
        }
    }

    /// The limit of stability in this direction, mm: on the ellipse through the forward (or
    /// back) and sideways limits.
    pub fn limit_of_stability_mm(self) -> f64 {
        let [x, y] = self.unit();
        let ap = if y >= 0.0 {
            LOS_FORWARD_MM
        } else {
            LOS_BACK_MM
        };
        1.0 / ((y / ap).powi(2) + (x / LOS_SIDEWAYS_MM).powi(2)).sqrt()
    }

    /// For people.
    pub fn words(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::ForwardRight => "forward right",
            Direction::Right => "right",
            Direction::BackRight => "back right",
            Direction::Back => "back",
            Direction::BackLeft => "back left",
            Direction::Left => "left",
            Direction::ForwardLeft => "forward left",
        }
    }
}

/// One level of the weight shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShiftLevel {
    /// Targets in the trial.
    pub targets: u8,
    /// Also the diagonals (else only forward, back and the sides).
    pub diagonals: bool,
    /// Each target's distance as a share of the limit of stability in its direction.
    pub distance_share: f64,
    /// Within this of the target counts as on it, mm.
    pub radius_mm: f64,
    /// Hold on the target this long, s.
    pub dwell_s: f64,
    /// Time allowed to reach and hold a target, s.
    pub time_allowed_s: f64,
    /// What the level asks, for people.
    pub note: &'static str,
}

/// The weight shift's levels, 1..=5: further targets, smaller radii, longer holds, less time.
pub const SHIFT_LEVELS: [ShiftLevel; 5] = [
    ShiftLevel {
        targets: 4,
        diagonals: false,
        distance_share: 0.5,
        radius_mm: 15.0,
        dwell_s: 1.0,
        time_allowed_s: 8.0,
        note: "forward, back and to each side, half-way to your limits",
    },
    ShiftLevel {
        targets: 8,
        diagonals: true,
        distance_share: 0.55,
        radius_mm: 15.0,
        dwell_s: 1.0,
        time_allowed_s: 7.0,
        note: "eight directions, a little further",
    },
    ShiftLevel {
        targets: 8,
        diagonals: true,
        distance_share: 0.6,
        radius_mm: 12.0,
        dwell_s: 1.5,
        time_allowed_s: 6.0,
        note: "eight directions, smaller targets, longer holds",
    },
    ShiftLevel {
        targets: 8,
        diagonals: true,
        distance_share: 0.7,
        radius_mm: 12.0,
        dwell_s: 1.5,
        time_allowed_s: 6.0,
        note: "eight directions, further out",
    },
    ShiftLevel {
        targets: 8,
        diagonals: true,
        distance_share: 0.8,
        radius_mm: 10.0,
        dwell_s: 2.0,
        time_allowed_s: 5.0,
        note: "eight directions near your limits, small targets, 2 s holds",
    },
];

/// How a weight-shift trial is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightShiftConfig {
    /// Level, 1..=5.
    pub level: u8,
    /// Targets in the trial.
    pub targets: u8,
    /// Also the diagonals.
    pub diagonals: bool,
    /// Each target's distance as a share of the limit of stability in its direction.
    pub distance_share: f64,
    /// Within this of the target counts as on it, mm.
    pub radius_mm: f64,
    /// Hold on the target this long, s.
    pub dwell_s: f64,
    /// Time allowed to reach and hold a target, s.
    pub time_allowed_s: f64,
    /// Seeds the order of the targets.
    pub schedule_seed: u64,
}

/// One target of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Its number, from 1.
    pub number: u8,
    /// Its direction from the centre.
    pub direction: Direction,
    /// Where it lies from the user's centre `[x ML, y AP]`, mm.
    pub offset_mm: [f64; 2],
}

impl Target {
    /// Its distance from the centre, mm.
    pub fn distance_mm(&self) -> f64 {
        self.offset_mm[0].hypot(self.offset_mm[1])
    }
}

impl WeightShiftConfig {
    /// The setup of `level`; `None` for a level that does not exist.
    pub fn for_level(level: u8) -> Option<Self> {
        let l = SHIFT_LEVELS.get(usize::from(level).checked_sub(1)?)?;
        Some(WeightShiftConfig {
            level,
            targets: l.targets,
            diagonals: l.diagonals,
            distance_share: l.distance_share,
            radius_mm: l.radius_mm,
            dwell_s: l.dwell_s,
            time_allowed_s: l.time_allowed_s,
            schedule_seed: u64::from(level),
        })
    }

    /// The order of directions: each of the level's directions once, shuffled by the seed
    /// (Fisher–Yates), then again as often as the targets need.
    fn order(&self) -> Vec<Direction> {
        let set: &[Direction] = if self.diagonals {
            &Direction::ALL
        } else {
            &Direction::STRAIGHT
        };
        let mut state = self.schedule_seed;
        let mut order = Vec::with_capacity(usize::from(self.targets));
        while order.len() < usize::from(self.targets) {
            let mut round = set.to_vec();
            for i in (1..round.len()).rev() {
                let j = (crate::sim::splitmix64(&mut state) % (i as u64 + 1)) as usize;
                round.swap(i, j);
            }
            order.extend(round);
        }
        order.truncate(usize::from(self.targets));
        order
    }

    /// Target `number` (from 1), if the trial has it.
    pub fn target(&self, number: u8) -> Option<Target> {
        let direction = *self.order().get(usize::from(number).checked_sub(1)?)?;
        let distance_mm = self.distance_share * direction.limit_of_stability_mm();
        let [x, y] = direction.unit();
        Some(Target {
            number,
            direction,
            offset_mm: [x * distance_mm, y * distance_mm],
        })
    }

    /// Every target of the trial, in order.
    pub fn schedule(&self) -> Vec<Target> {
        (1..=self.targets).filter_map(|n| self.target(n)).collect()
    }

    /// The longest a trial can take after the drill starts, s: the centre, then each target's
    /// time allowed and the way back.
    pub fn time_limit_s(&self) -> f64 {
        CENTRE_S + f64::from(self.targets) * (self.time_allowed_s + RETURN_ALLOWED_S)
    }

    /// The healthy reference mean time to reach at this level, s (provisional): a reaction of
    /// 0.6 s plus the mean way to the targets' radius (distance − radius) at 100 mm/s.
    pub fn reference_time_to_reach_s(&self) -> f64 {
        let schedule = self.schedule();
        let mean_mm = if schedule.is_empty() {
            0.0
        } else {
            schedule
                .iter()
                .map(|t| (t.distance_mm() - self.radius_mm).max(0.0))
                .sum::<f64>()
                / schedule.len() as f64
        };
        REFERENCE_REACTION_S + mean_mm / REFERENCE_SPEED_MM_S
    }

    /// The task score for `reached` of the targets with mean time to reach `time_s` and mean
    /// path efficiency `efficiency` (see the module docs).
    pub fn score(&self, reached: u32, time_s: Option<f64>, efficiency: Option<f64>) -> f64 {
        let (Some(t), Some(e)) = (time_s, efficiency) else {
            return 0.0;
        };
        if reached == 0 || self.targets == 0 {
            return 0.0;
        }
        let s_t = super::log_share(t, SCORE_SPAN * self.reference_time_to_reach_s(), SCORE_SPAN);
        let waste = (1.0 - e).max(0.0) + WASTE_OFFSET;
        let waste_ref = 1.0 - REFERENCE_PATH_EFFICIENCY + WASTE_OFFSET;
        let s_e = super::log_share(waste, SCORE_SPAN * waste_ref, SCORE_SPAN);
        let share = (f64::from(reached) / f64::from(self.targets)).min(1.0);
        (100.0 * share * 0.5 * (s_t + s_e)).clamp(0.0, 100.0)
    }
}

/// The drill's measures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WeightShiftMetrics {
    /// Targets in the level's schedule.
    pub targets_planned: u32,
    /// Targets shown.
    pub targets_shown: u32,
    /// Targets reached and held.
    pub reached: u32,
    /// Targets missed (not held within the time allowed): the failure events.
    pub misses: u32,
    /// Mean time from a target appearing to the COP entering its radius, s (reached targets).
    pub time_to_reach_s: Option<f64>,
    /// Mean path efficiency (straight distance / path taken, 0–1; reached targets).
    pub path_efficiency: Option<f64>,
    /// Mean reaction time (to [`ONSET_SHARE`] of the way), s.
    pub reaction_time_s: Option<f64>,
    /// Mean maximum excursion towards the targets, % of their distance (targets ended).
    pub max_excursion_percent: Option<f64>,
    /// The user's centre `[x ML, y AP]`, mm in the board's frame.
    pub centre_mm: Option<[f64; 2]>,
    /// The standing load, kg, when the board's scale is known.
    pub weight_kg: Option<f64>,
    /// Rate of the series the paths are measured on, Hz.
    pub analysis_rate_hz: f64,
    /// Time covered by data since the drill started (gaps excluded), s.
    pub measured_s: f64,
    /// Board samples since the drill started.
    pub samples: u64,
}

/// The result of one weight-shift trial (it starts when the user stands steadily).
pub type WeightShiftOutcome = DrillOutcome<WeightShiftMetrics>;

/// Where the user is in the trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShiftPhase {
    /// The board is taring: stay off it.
    Taring,
    /// Tared: step on.
    StepOn,
    /// On the board, waiting for a steady load.
    Settling,
    /// Standing still while the centre is found.
    Centring,
    /// A target is shown: move to it and hold.
    Target,
    /// Back to the middle.
    Return,
    /// The trial has ended.
    Ended,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightShiftLive {
    /// Where the user is in the trial.
    pub phase: ShiftPhase,
    /// The target shown (in [`ShiftPhase::Target`]).
    pub target: Option<Target>,
    /// Where to go now `[x, y]`, mm in the board's frame: the target, or the centre on the
    /// way back.
    pub goal_mm: Option<[f64; 2]>,
    /// Targets in the trial.
    pub targets: u8,
    /// The COP's offset from the centre (once found), mm.
    pub cop_offset_mm: Option<[f64; 2]>,
    /// Latest COP `[x ML, y AP]`, mm in the board's frame.
    pub cop_mm: Option<[f64; 2]>,
    /// True while the COP is within the goal's radius.
    pub on_goal: bool,
    /// The goal's radius (the target's, or the centre's on the way back), mm.
    pub goal_radius_mm: f64,
    /// Time left for this target, s.
    pub time_left_s: f64,
    /// Latest load, kg, when the scale is known.
    pub load_kg: Option<f64>,
    /// Targets reached so far.
    pub reached: u32,
    /// Targets missed so far.
    pub misses: u32,
    /// Seconds since the drill started.
    pub elapsed_s: f64,
    /// Score of the targets so far.
    pub score: f64,
}

/// A target being tracked.
#[derive(Debug, Clone)]
struct TargetRun {
    target: Target,
    /// In the board's frame, mm.
    position_mm: [f64; 2],
    /// Measured time when it appeared, s.
    shown_s: f64,
    /// The COP then.
    start_mm: [f64; 2],
    /// The path until the first entry: windows from the target's appearance…
    resampler: WindowResampler,
    /// …the COP then, and the windows closed since.
    path: Vec<Option<[f64; 2]>>,
    /// First entry: measured time, and the path efficiency to it.
    entered: Option<(f64, f64)>,
    /// Inside (with the exit margin) since this measured time.
    inside_since_s: Option<f64>,
    /// Reaction time, s.
    onset_s: Option<f64>,
    /// Furthest along the target's direction from the centre, mm.
    max_along_mm: f64,
}

/// Where the trial is.
#[derive(Debug, Clone)]
enum Stage {
    /// Before the start.
    Waiting,
    /// Finding the centre: sums of x, y and the count.
    Centring { sums: [f64; 2], n: u32 },
    /// A target is shown.
    Target(Box<TargetRun>),
    /// Back to the middle before target `next`.
    Return {
        next: u8,
        since_s: f64,
        inside_since_s: Option<f64>,
    },
    /// Over.
    Done,
}

/// Sums of the per-target measures.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    shown: u32,
    reached: u32,
    misses: u32,
    time_sum_s: f64,
    efficiency_sum: f64,
    onsets: u32,
    onset_sum_s: f64,
    ended: u32,
    excursion_sum_percent: f64,
}

impl Tally {
    fn mean(sum: f64, n: u32) -> Option<f64> {
        (n > 0).then(|| sum / f64::from(n))
    }
}

/// The running trial: COP samples in, events out.
#[derive(Debug, Clone)]
pub struct WeightShift {
    config: WeightShiftConfig,
    schedule: Vec<Target>,
    analysis_rate_hz: f64,
    step_on: StepOn,
    t0_us: Option<u64>,
    standing_counts: f64,
    standing_n: Option<f64>,
    clock: DrillClock,
    step_off: StepOffWatch,
    last_t_s: f64,
    samples: u64,
    latest: Option<CopSample>,
    centre_mm: Option<[f64; 2]>,
    stage: Stage,
    tally: Tally,
    events: EventLog,
    end: Option<(EndReason, f64)>,
}

/// Distance between two points, mm.
fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Path efficiency over `points` (a gap is crossed in a straight line): straight distance
/// from the first point to the last over the path's length, 0–1; `None` without two points.
pub fn path_efficiency(points: &[Option<[f64; 2]>]) -> Option<f64> {
    let mut present = points.iter().flatten();
    let first = *present.next()?;
    let mut last = first;
    let mut path = 0.0;
    let mut count = 1;
    for &p in present {
        path += dist(last, p);
        last = p;
        count += 1;
    }
    if count < 2 {
        return None;
    }
    let straight = dist(first, last);
    Some(if path > 0.0 {
        (straight / path).min(1.0)
    } else {
        1.0
    })
}

impl WeightShift {
    /// A trial waiting for the board to tare and the user to step on.
    pub fn new(config: WeightShiftConfig) -> Self {
        WeightShift {
            schedule: config.schedule(),
            config,
            analysis_rate_hz: ANALYSIS_RATE_HZ,
            step_on: StepOn::default(),
            t0_us: None,
            standing_counts: 0.0,
            standing_n: None,
            clock: DrillClock::default(),
            step_off: StepOffWatch::default(),
            last_t_s: 0.0,
            samples: 0,
            latest: None,
            centre_mm: None,
            stage: Stage::Waiting,
            tally: Tally::default(),
            events: EventLog::default(),
            end: None,
        }
    }

    /// Its setup.
    pub fn config(&self) -> &WeightShiftConfig {
        &self.config
    }

    /// True once it has ended.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// The device's nominal sample rate (see
    /// [`QuietStance::set_device_rate_hz`](super::QuietStance::set_device_rate_hz)); fixed
    /// once the drill has started.
    pub fn set_device_rate_hz(&mut self, rate_hz: f64) {
        if self.t0_us.is_none() {
            self.analysis_rate_hz = analysis_rate_hz(rate_hz, self.analysis_rate_hz);
        }
    }

    /// The user's centre, mm in the board's frame, once found.
    pub fn centre_mm(&self) -> Option<[f64; 2]> {
        self.centre_mm
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
        let t0_us = match self.t0_us {
            Some(t0_us) => t0_us,
            None => match self.step_on.update(sample) {
                StepOnState::Waiting => return,
                StepOnState::TimedOut => return self.end_at(EndReason::NotStarted, 0.0, out),
                StepOnState::Standing(standing) => {
                    self.standing_counts = standing.standing_counts;
                    self.standing_n = standing.standing_n;
                    self.t0_us = Some(standing.t0_us);
                    self.stage = Stage::Centring {
                        sums: [0.0; 2],
                        n: 0,
                    };
                    standing.t0_us
                }
            },
        };
        let t_us = sample.t_us;
        let t_s = t_us.saturating_sub(t0_us) as f64 * 1e-6;
        self.clock.tick(t_us);
        self.last_t_s = t_s;
        self.samples += 1;
        let now_s = self.clock.measured_s;
        let off = StepOffWatch::is_off(sample, self.standing_counts, STEP_OFF_SHARE);
        if let Some((since_us, _)) = self.step_off.update(t_us, off, now_s) {
            let off_s = since_us.saturating_sub(t0_us) as f64 * 1e-6;
            self.emit(DrillEvent::SteppedOff { t_s: off_s }, out);
            return self.end_at(EndReason::SteppedOff, t_s, out);
        }
        let Some(cop) = sample.cop_mm.filter(|_| !off) else {
            return; // a foot off the board: not the user's balance
        };
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        self.stage = match stage {
            Stage::Centring { sums, n } => {
                let (sums, n) = ([sums[0] + cop[0], sums[1] + cop[1]], n + 1);
                if now_s >= CENTRE_S {
                    let centre = [sums[0] / f64::from(n), sums[1] / f64::from(n)];
                    self.centre_mm = Some(centre);
                    self.show(1, cop, t_us, now_s, t_s, out)
                } else {
                    Stage::Centring { sums, n }
                }
            }
            Stage::Target(run) => self.track(run, cop, t_us, now_s, t_s, out),
            Stage::Return {
                next,
                since_s,
                inside_since_s,
            } => {
                let centre = self.centre_mm.unwrap_or(cop);
                let inside_since_s = self.inside(
                    dist(cop, centre),
                    self.config.radius_mm,
                    inside_since_s,
                    now_s,
                );
                let settled = inside_since_s.is_some_and(|s| now_s - s >= RETURN_DWELL_S);
                if settled || now_s - since_s >= RETURN_ALLOWED_S {
                    self.show(next, cop, t_us, now_s, t_s, out)
                } else {
                    Stage::Return {
                        next,
                        since_s,
                        inside_since_s,
                    }
                }
            }
            stage @ (Stage::Waiting | Stage::Done) => stage,
        };
        if matches!(self.stage, Stage::Done) {
            self.end_at(EndReason::Completed, t_s, out);
        }
    }

    /// The inside state for a COP `distance_mm` from a goal of `radius_mm`: since when it has
    /// been inside (entering within the radius, leaving beyond it plus [`EXIT_MARGIN_MM`]).
    fn inside(
        &self,
        distance_mm: f64,
        radius_mm: f64,
        since_s: Option<f64>,
        now_s: f64,
    ) -> Option<f64> {
        match since_s {
            Some(since) if distance_mm <= radius_mm + EXIT_MARGIN_MM => Some(since),
            _ if distance_mm <= radius_mm => Some(now_s),
            _ => None,
        }
    }

    /// Shows target `number` (or ends the trial when there is none).
    fn show(
        &mut self,
        number: u8,
        cop: [f64; 2],
        t_us: u64,
        now_s: f64,
        t_s: f64,
        out: &mut Vec<DrillEvent>,
    ) -> Stage {
        let (Some(target), Some(centre)) = (
            self.schedule
                .get(usize::from(number).saturating_sub(1))
                .copied(),
            self.centre_mm,
        ) else {
            return Stage::Done;
        };
        self.tally.shown += 1;
        self.emit(
            DrillEvent::TargetShown {
                t_s,
                target: number,
                direction: target.direction,
                offset_mm: target.offset_mm,
            },
            out,
        );
        let position_mm = [
            centre[0] + target.offset_mm[0],
            centre[1] + target.offset_mm[1],
        ];
        let mut run = TargetRun {
            target,
            position_mm,
            shown_s: now_s,
            start_mm: cop,
            resampler: WindowResampler::new(t_us, self.analysis_rate_hz),
            path: vec![Some(cop)],
            entered: None,
            inside_since_s: None,
            onset_s: None,
            max_along_mm: f64::NEG_INFINITY,
        };
        self.follow(&mut run, cop, t_us, now_s);
        Stage::Target(Box::new(run))
    }

    /// Updates a target's onset, excursion, path, entry and hold with one COP at `t_us`.
    fn follow(&self, run: &mut TargetRun, cop: [f64; 2], t_us: u64, now_s: f64) {
        let centre = self.centre_mm.unwrap_or(run.start_mm);
        let unit = run.target.direction.unit();
        let along = (cop[0] - centre[0]) * unit[0] + (cop[1] - centre[1]) * unit[1];
        run.max_along_mm = run.max_along_mm.max(along);
        if run.onset_s.is_none() {
            let way = [
                run.position_mm[0] - run.start_mm[0],
                run.position_mm[1] - run.start_mm[1],
            ];
            let way_mm = way[0].hypot(way[1]);
            if way_mm > 0.0 {
                let moved = ((cop[0] - run.start_mm[0]) * way[0]
                    + (cop[1] - run.start_mm[1]) * way[1])
                    / way_mm;
                if moved >= (ONSET_SHARE * way_mm).max(ONSET_MIN_MM) {
                    run.onset_s = Some(now_s - run.shown_s);
                }
            }
        }
        let distance_mm = dist(cop, run.position_mm);
        if run.entered.is_none() {
            // The windows closed before this sample's, then the COP where it entered.
            run.resampler.push(t_us, cop, &mut run.path);
            if distance_mm <= self.config.radius_mm {
                run.path.push(Some(cop));
                let efficiency = path_efficiency(&run.path).unwrap_or(1.0);
                run.entered = Some((now_s - run.shown_s, efficiency));
                run.path = Vec::new();
            }
        }
        run.inside_since_s = self.inside(
            distance_mm,
            self.config.radius_mm,
            run.inside_since_s,
            now_s,
        );
    }

    /// One COP while a target is shown.
    fn track(
        &mut self,
        mut run: Box<TargetRun>,
        cop: [f64; 2],
        t_us: u64,
        now_s: f64,
        t_s: f64,
        out: &mut Vec<DrillEvent>,
    ) -> Stage {
        self.follow(&mut run, cop, t_us, now_s);
        let held = run
            .inside_since_s
            .is_some_and(|since| now_s - since >= self.config.dwell_s - 1e-9);
        let number = run.target.number;
        if let (true, Some((time_to_reach_s, efficiency))) = (held, run.entered) {
            self.tally.reached += 1;
            self.tally.time_sum_s += time_to_reach_s;
            self.tally.efficiency_sum += efficiency;
            self.end_target(&run);
            self.emit(
                DrillEvent::TargetReached {
                    t_s,
                    target: number,
                    time_to_reach_s,
                    path_efficiency: efficiency,
                },
                out,
            );
        } else if now_s - run.shown_s >= self.config.time_allowed_s {
            self.tally.misses += 1;
            let excursion = self.end_target(&run);
            self.emit(
                DrillEvent::TargetMissed {
                    t_s,
                    target: number,
                    max_excursion_percent: excursion,
                },
                out,
            );
        } else {
            return Stage::Target(run);
        }
        if usize::from(number) >= self.schedule.len() {
            return Stage::Done;
        }
        Stage::Return {
            next: number + 1,
            since_s: now_s,
            inside_since_s: None,
        }
    }

    /// Counts an ended target's reaction time and excursion; returns the excursion, %.
    fn end_target(&mut self, run: &TargetRun) -> f64 {
        if let Some(onset_s) = run.onset_s {
            self.tally.onsets += 1;
            self.tally.onset_sum_s += onset_s;
        }
        let distance = run.target.distance_mm();
        let excursion = if distance > 0.0 {
            100.0 * run.max_along_mm.max(0.0) / distance
        } else {
            0.0
        };
        self.tally.ended += 1;
        self.tally.excursion_sum_percent += excursion;
        excursion
    }

    /// Ends the trial now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_none() {
            self.end_at(reason, self.last_t_s, out);
        }
    }

    fn end_at(&mut self, reason: EndReason, t_s: f64, out: &mut Vec<DrillEvent>) {
        self.end = Some((reason, t_s));
        self.stage = Stage::Done;
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    fn phase(&self) -> ShiftPhase {
        if self.end.is_some() {
            return ShiftPhase::Ended;
        }
        match &self.stage {
            Stage::Waiting => match StepOn::phase(self.latest.as_ref()) {
                PreStart::Taring => ShiftPhase::Taring,
                PreStart::StepOn => ShiftPhase::StepOn,
                PreStart::Settling => ShiftPhase::Settling,
            },
            Stage::Centring { .. } => ShiftPhase::Centring,
            Stage::Target(_) => ShiftPhase::Target,
            Stage::Return { .. } => ShiftPhase::Return,
            Stage::Done => ShiftPhase::Ended,
        }
    }

    fn metrics(&self) -> WeightShiftMetrics {
        let t = &self.tally;
        WeightShiftMetrics {
            targets_planned: u32::from(self.config.targets),
            targets_shown: t.shown,
            reached: t.reached,
            misses: t.misses,
            time_to_reach_s: Tally::mean(t.time_sum_s, t.reached),
            path_efficiency: Tally::mean(t.efficiency_sum, t.reached),
            reaction_time_s: Tally::mean(t.onset_sum_s, t.onsets),
            max_excursion_percent: Tally::mean(t.excursion_sum_percent, t.ended),
            centre_mm: self.centre_mm,
            weight_kg: self.standing_n.map(|n| n / G_M_S2),
            analysis_rate_hz: self.analysis_rate_hz,
            measured_s: self.clock.measured_s,
            samples: self.samples,
        }
    }

    /// What the live view shows now.
    pub fn live(&self) -> WeightShiftLive {
        let cop_mm = self.latest.and_then(|s| s.cop_mm);
        let now_s = self.clock.measured_s;
        let (target, goal_mm, time_left_s) = match &self.stage {
            Stage::Target(run) => (
                Some(run.target),
                Some(run.position_mm),
                (self.config.time_allowed_s - (now_s - run.shown_s)).max(0.0),
            ),
            Stage::Return { since_s, .. } => (
                None,
                self.centre_mm,
                (RETURN_ALLOWED_S - (now_s - *since_s)).max(0.0),
            ),
            _ => (None, None, 0.0),
        };
        let m = self.metrics();
        WeightShiftLive {
            phase: self.phase(),
            target,
            goal_mm,
            targets: self.config.targets,
            cop_offset_mm: cop_mm
                .zip(self.centre_mm)
                .map(|(c, o)| [c[0] - o[0], c[1] - o[1]]),
            cop_mm,
            on_goal: cop_mm
                .zip(goal_mm)
                .is_some_and(|(c, g)| dist(c, g) <= self.config.radius_mm),
            goal_radius_mm: self.config.radius_mm,
            time_left_s,
            load_kg: self.latest.and_then(|s| s.total_n).map(|n| n / G_M_S2),
            reached: m.reached,
            misses: m.misses,
            elapsed_s: self.last_t_s,
            score: self
                .config
                .score(m.reached, m.time_to_reach_s, m.path_efficiency),
        }
    }

    /// Ends the trial (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> WeightShiftOutcome {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        let metrics = self.metrics();
        WeightShiftOutcome {
            score: self.config.score(
                metrics.reached,
                metrics.time_to_reach_s,
                metrics.path_efficiency,
            ),
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
    use crate::pipeline::BoardPhase;

    fn sample(t_us: u64, cop: [f64; 2]) -> CopSample {
        CopSample {
            t_us,
            phase: BoardPhase::OnBoard,
            total_counts: 700.0,
            total_n: Some(700.0),
            cop_mm: Some(cop),
            cells_n: None,
        }
    }

    #[test]
    fn every_level_has_targets_well_beyond_their_radius_inside_the_limits() {
        for level in 1..=SHIFT_LEVELS.len() as u8 {
            let config = WeightShiftConfig::for_level(level).unwrap();
            let schedule = config.schedule();
            assert_eq!(schedule.len(), usize::from(config.targets));
            for t in &schedule {
                let d = t.distance_mm();
                // Sway alone must not carry the COP into a target.
                assert!(d >= config.radius_mm + 15.0, "level {level}: {t:?}");
                assert!(d <= 0.8 * LOS_FORWARD_MM + 1e-9, "level {level}: {t:?}");
            }
            // Each direction of the level once.
            let mut directions: Vec<usize> = schedule
                .iter()
                .map(|t| {
                    Direction::ALL
                        .iter()
                        .position(|d| *d == t.direction)
                        .unwrap()
                })
                .collect();
            directions.sort_unstable();
            directions.dedup();
            assert_eq!(directions.len(), schedule.len());
            // The same level gives the same order.
            assert_eq!(
                WeightShiftConfig::for_level(level).unwrap().schedule(),
                schedule
            );
        }
        assert!(WeightShiftConfig::for_level(0).is_none());
        assert!(WeightShiftConfig::for_level(6).is_none());
        // The back-right diagonal lies on the ellipse through 70 mm back and 120 mm right:
        // 1 / √(½/70² + ½/120²) = 85.5 mm.
        let r = Direction::BackRight.limit_of_stability_mm();
        assert!((r - 85.51).abs() < 0.01, "{r}");
    }

    #[test]
    fn path_efficiency_by_hand() {
        // Three sides of a 3-4-5 triangle's detour: straight 5, path 3 + 4.
        let points = [Some([0.0, 0.0]), Some([3.0, 0.0]), Some([3.0, 4.0])];
        assert!((path_efficiency(&points).unwrap() - 5.0 / 7.0).abs() < 1e-12);
        // A gap is crossed in a straight line.
        let gap = [Some([0.0, 0.0]), None, Some([3.0, 4.0])];
        assert_eq!(path_efficiency(&gap), Some(1.0));
        assert_eq!(path_efficiency(&[Some([1.0, 1.0])]), None);
    }

    /// Drives a trial on a scripted COP at 80 Hz: steady at (10, −20) mm from the start (so
    /// the drill starts at 1 s and has its centre by 3 s), then at the offset `script` gives
    /// for the time since the current phase began (it sees the drill's live state, as a user
    /// sees the screen).
    fn drive(
        config: WeightShiftConfig,
        mut script: impl FnMut(&WeightShiftLive, f64) -> [f64; 2],
    ) -> (WeightShiftOutcome, Vec<DrillEvent>) {
        let mut drill = WeightShift::new(config);
        let mut events = Vec::new();
        let mut t_us: u64 = 0;
        let mut shown: Option<(ShiftPhase, Option<u8>, u64)> = None;
        while !drill.is_done() && t_us < 200_000_000 {
            let live = drill.live();
            let now = (live.phase, live.target.map(|t| t.number));
            if shown.is_none_or(|(phase, number, _)| (phase, number) != now) {
                // It changed with the previous sample.
                shown = Some((now.0, now.1, t_us.saturating_sub(12_500)));
            }
            let since_s = shown.map_or(0.0, |s| t_us.saturating_sub(s.2) as f64 * 1e-6);
            let p = script(&live, since_s);
            drill.update(&sample(t_us, [10.0 + p[0], -20.0 + p[1]]), &mut events);
            t_us += 12_500;
        }
        (drill.finish(), events)
    }

    /// The offset of the current goal (target, else the centre) from the centre, mm.
    fn goal_offset(live: &WeightShiftLive) -> [f64; 2] {
        live.target.map_or([0.0, 0.0], |t| t.offset_mm)
    }

    #[test]
    fn a_straight_quick_mover_reaches_every_target() {
        let config = WeightShiftConfig::for_level(1).unwrap();
        let schedule = config.schedule();
        // Each target: 0.5 s after it appears, a straight 1 s ramp out, then stay; on the way
        // back a 1 s ramp home from the target just left.
        let mut last = [0.0, 0.0];
        let (out, events) = drive(config, |live, u| {
            let ramp = ((u - 0.5) / 1.0).clamp(0.0, 1.0);
            match live.phase {
                ShiftPhase::Target => {
                    last = goal_offset(live);
                    [last[0] * ramp, last[1] * ramp]
                }
                ShiftPhase::Return => [last[0] * (1.0 - ramp), last[1] * (1.0 - ramp)],
                _ => [0.0, 0.0],
            }
        });
        let m = out.metrics;
        assert_eq!(out.end, EndReason::Completed, "{events:?}");
        assert_eq!((m.reached, m.misses, m.targets_shown), (4, 0, 4));
        let centre = m.centre_mm.unwrap();
        assert!((centre[0] - 10.0).abs() < 1e-9 && (centre[1] + 20.0).abs() < 1e-9);
        // Entering a 15 mm radius on a 1 s straight ramp over distance D: (D − 15)/D s after
        // it starts; the first sample inside comes up to one sample (12.5 ms) later.
        let mut count = 0;
        for e in &events {
            if let DrillEvent::TargetReached {
                target,
                time_to_reach_s,
                path_efficiency,
                ..
            } = e
            {
                let d = schedule[usize::from(*target) - 1].distance_mm();
                let expected = 0.5 + (d - 15.0) / d;
                let error = time_to_reach_s - expected;
                assert!((-1e-9..0.0126).contains(&error), "{target}: {error}");
                assert!(*path_efficiency > 0.999, "{path_efficiency}");
                count += 1;
            }
        }
        assert_eq!(count, 4);
        // Reaction: 10 % of the way (at least 5 mm) 0.5 s + 0.1 s (or 5/D) after it appears.
        let rt = m.reaction_time_s.unwrap();
        assert!((0.6..0.65).contains(&rt), "{rt}");
        assert!((m.max_excursion_percent.unwrap() - 100.0).abs() < 1e-6);
        assert!(out.score > 50.0, "{}", out.score);
    }

    #[test]
    fn falling_short_is_a_miss_and_the_next_target_follows() {
        let config = WeightShiftConfig::for_level(1).unwrap();
        // Only ever half-way out, and straight back: every target is missed when its 8 s
        // are up.
        let (out, events) = drive(config, |live, u| match live.phase {
            ShiftPhase::Target if u >= 1.0 => {
                let g = goal_offset(live);
                [0.5 * g[0], 0.5 * g[1]]
            }
            _ => [0.0, 0.0],
        });
        let m = out.metrics;
        assert_eq!(out.end, EndReason::Completed);
        assert_eq!((m.reached, m.misses, m.targets_shown), (0, 4, 4));
        assert_eq!((m.time_to_reach_s, m.path_efficiency), (None, None));
        assert!((m.max_excursion_percent.unwrap() - 50.0).abs() < 1e-6);
        assert_eq!(out.score, 0.0);
        // Each miss comes 8 s (to the sample) after its target appeared.
        let mut shown_s = None;
        let mut misses = 0;
        for e in &events {
            match e {
                DrillEvent::TargetShown { t_s, .. } => shown_s = Some(*t_s),
                DrillEvent::TargetMissed { t_s, .. } => {
                    let waited = t_s - shown_s.unwrap();
                    assert!((waited - 8.0).abs() < 0.013, "{waited}");
                    misses += 1;
                }
                _ => {}
            }
        }
        assert_eq!(misses, 4);
    }

    #[test]
    fn stepping_off_ends_the_trial() {
        let config = WeightShiftConfig::for_level(2).unwrap();
        let mut drill = WeightShift::new(config);
        let mut events = Vec::new();
        for i in 0..400u64 {
            drill.update(&sample(i * 12_500, [0.0, 0.0]), &mut events);
        }
        let mut off = sample(400 * 12_500, [0.0, 0.0]);
        off.total_counts = 300.0;
        for i in 400..430u64 {
            off.t_us = i * 12_500;
            drill.update(&off, &mut events);
        }
        assert!(drill.is_done());
        let out = drill.finish();
        assert_eq!(out.end, EndReason::SteppedOff);
        assert_eq!(out.metrics.targets_shown, 1);
    }

    #[test]
    fn results_read_back_as_the_weight_shifts() {
        // Results carry any drill's measures untagged: these must not read as another's.
        let m = WeightShiftMetrics {
            targets_planned: 8,
            targets_shown: 8,
            reached: 7,
            misses: 1,
            time_to_reach_s: Some(1.2),
            path_efficiency: Some(0.8),
            measured_s: 40.0,
            ..WeightShiftMetrics::default()
        };
        let json = serde_json::to_string(&super::super::DrillMetrics::WeightShift(m)).unwrap();
        let back: super::super::DrillMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back.weight_shift(), Some(&m));
    }

    #[test]
    fn reference_times_by_hand() {
        // Level 1: 60 mm forward, left and right, 35 mm back; 15 mm radius: (3·45 + 20) / 4 =
        // 38.75 mm at 100 mm/s after 0.6 s.
        let t = |level| {
            WeightShiftConfig::for_level(level)
                .unwrap()
                .reference_time_to_reach_s()
        };
        assert!((t(1) - 0.9875).abs() < 1e-9, "{}", t(1));
        // Level 5: the eight limits' mean, (5·120 + 2·85.51 + 70) / 8 = 105.13 mm, at 80 %
        // less 10 mm: 74.10 mm.
        assert!((t(5) - 1.341).abs() < 0.001, "{}", t(5));
        assert!(t(2) < t(3) && t(3) < t(4) && t(4) < t(5));
    }

    #[test]
    fn scores_by_hand() {
        let config = WeightShiftConfig::for_level(1).unwrap();
        let t_ref = config.reference_time_to_reach_s();
        assert_eq!(
            config.score(4, Some(t_ref), Some(REFERENCE_PATH_EFFICIENCY)),
            100.0
        );
        assert_eq!(config.score(4, Some(3.0 * t_ref), Some(0.0)), 0.0);
        // Half-way on both log scales, half the targets: 25.
        let waste = (1.0 - REFERENCE_PATH_EFFICIENCY + WASTE_OFFSET) * 3f64.sqrt() - WASTE_OFFSET;
        let s = config.score(2, Some(t_ref * 3f64.sqrt()), Some(1.0 - waste));
        assert!((s - 25.0).abs() < 1e-9, "{s}");
        assert_eq!(config.score(0, None, None), 0.0);
    }
}
