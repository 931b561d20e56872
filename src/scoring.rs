//! Scores that can be trusted: quality gates, a personal baseline with its minimal detectable
//! change, a 0–100 progress score and a verdict that does not celebrate noise.
//!
//! `docs/scoring.md` gives the formulas with their sources. In brief:
//! - each drill has a few **primary measures** ([`DRILLS`], one row per drill and device
//!   class), all oriented so that lower is better and compared on a log scale (sway measures
//!   are skewed and multiplicative): `y = ln(x + offset)`;
//! - the **baseline** of a drill and level is its first [`BASELINE_TRIALS`] scored trials. The
//!   within-person SD of `y` over them is the standard error of measurement (SEM; at least
//!   [`MIN_SEM_LOG`]), and the minimal detectable change is `MDC95 = 1.96·√2·SEM`;
//! - a measure's **sub-score** is where the trial lies between the baseline (0) and the healthy
//!   reference (1) on the log scale; a measure whose baseline is already within its MDC of the
//!   reference is in **maintenance**: 1 while it stays there, 0 once it is a factor
//!   [`MAINTENANCE_SPAN`] worse;
//! - **progress** = `100 · completion · mean(sub-scores) − points per failure event`, 0–100;
//! - the **verdict** compares the trial's composite (the mean of `y − y_ref` over the measures)
//!   with the baseline trials' composites: "better" or "worse" only beyond their MDC, and only
//!   a completed trial can be better;
//! - **gates** ([`gate`]) refuse to score a trial, in one sentence, when it is too short, lost
//!   more than [`MAX_LOSS_PERCENT`] of its samples, or its signal is implausible.
//!
//! Everything here is a pure function of a result, its header and the baseline the header
//! carries, so a replay gives the same verdict as the live run.

use proprio_protocol::DeviceKind;
use serde::{Deserialize, Serialize};

use crate::drill::{
    reference_acc_rms_m_s2, reference_trunk_rms_deg, BoardLevel, DrillKind, EndReason,
    QuietStanceConfig, StanceTask, WeightShiftConfig, WeightShiftMetrics, MIN_SCORED_S,
    NEUTRAL_SPINE_LEVELS, REFERENCE_PATH_EFFICIENCY, ROCKER_LEVELS, SHIFT_LEVELS,
    SINGLE_LEG_LEVELS, STANCE_LEVELS, TANDEM_STANCE_LEVELS, WALK_LEVELS, WOBBLE_LEVELS,
};
use crate::session::{pipeline_version_on, SessionMeta, SessionReport};

/// Scored trials of a drill and level that make its baseline.
pub const BASELINE_TRIALS: usize = 3;
/// A trial that lost more than this share of its samples is not scored, %.
pub const MAX_LOSS_PERCENT: f64 = 5.0;
/// A trial with more than this share of unusable (saturated, zero, NaN) accelerometer readings
/// is not scored, %.
pub const MAX_UNUSABLE_PERCENT: f64 = 5.0;
/// The smallest standard error of measurement on the log scale (2 %): three nearly equal
/// baseline trials must not make every rounding a "real change".
pub const MIN_SEM_LOG: f64 = 0.02;
/// MDC95 = this × SEM: 1.96 (two-sided 95 %) × √2 (two measurements, each with its error).
pub const MDC95_FACTOR: f64 = 1.96 * std::f64::consts::SQRT_2;
/// In maintenance, a measure's sub-score falls from 1 to 0 as it becomes this factor worse
/// than its reference (beyond the MDC).
pub const MAINTENANCE_SPAN: f64 = 2.0;

/// The kind of sensor a result came from: references depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceClass {
    /// An IMU (on a board, or worn on the lower back, as the drill says).
    Imu,
    /// A balance board with load cells.
    BalanceBoard,
}

impl DeviceClass {
    /// The sensor a drill uses by default.
    pub fn of_drill(drill: DrillKind) -> DeviceClass {
        if drill.needs_balance_board() {
            DeviceClass::BalanceBoard
        } else {
            DeviceClass::Imu
        }
    }

    /// Every sensor a drill can run on, the default first.
    pub fn for_drill(drill: DrillKind) -> &'static [DeviceClass] {
        match (drill.runs_on_board(), drill.runs_on_imu()) {
            (true, true) => &[DeviceClass::BalanceBoard, DeviceClass::Imu],
            (true, false) => &[DeviceClass::BalanceBoard],
            (false, _) => &[DeviceClass::Imu],
        }
    }

    /// The class of a device of `kind`.
    pub fn of_kind(kind: DeviceKind) -> DeviceClass {
        match kind {
            DeviceKind::Wearable => DeviceClass::Imu,
            DeviceKind::BalanceBoard => DeviceClass::BalanceBoard,
        }
    }

    /// Its name for people: "balance board" or "IMU wearable".
    pub fn words(self) -> &'static str {
        match self {
            DeviceClass::Imu => "IMU wearable",
            DeviceClass::BalanceBoard => "balance board",
        }
    }

    /// The sensor a result came from: the device as it introduced itself, else the one its
    /// measures are of (a wearable quiet stance stopped before the device said hello), else
    /// the drill's.
    pub fn of_report(report: &SessionReport) -> DeviceClass {
        match report.device.as_ref().map(|d| d.kind.as_str()) {
            Some("balance-board") => DeviceClass::BalanceBoard,
            Some("wearable") => DeviceClass::Imu,
            _ if matches!(
                report.metrics,
                crate::drill::DrillMetrics::WearableStance(_)
            ) =>
            {
                DeviceClass::Imu
            }
            _ => DeviceClass::of_drill(report.drill),
        }
    }
}

/// One primary measure of a drill, oriented so that lower is better.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// Name in results (snake case, with its unit).
    pub name: &'static str,
    /// Name for people.
    pub label: &'static str,
    /// Unit for people.
    pub unit: &'static str,
    /// The measure of a result, in `unit`; `None` when the result has none.
    pub value: fn(&SessionReport) -> Option<f64>,
    /// Added before the logarithm, in `unit` (1 for counts and shares that can be 0).
    pub offset: f64,
    /// The healthy reference at a level, in `unit` (see docs/scoring.md for sources).
    pub reference: fn(u8) -> f64,
    /// Below this a person cannot be: the signal is flat (a stuck or loose sensor).
    pub flat_below: f64,
    /// Above this a person cannot be: the values are impossible.
    pub impossible_above: f64,
}

impl Measure {
    /// The measure on the log scale.
    pub fn log(&self, value: f64) -> f64 {
        (value + self.offset).ln()
    }

    /// Back from the log scale to the unit.
    pub fn unlog(&self, y: f64) -> f64 {
        y.exp() - self.offset
    }
}

/// How one drill on one kind of sensor is scored: one row of [`DRILLS`].
#[derive(Debug, Clone, Copy)]
pub struct DrillScoring {
    /// The drill.
    pub drill: DrillKind,
    /// The sensor the references are for.
    pub device: DeviceClass,
    /// Levels of the drill's ladder (1..=levels).
    pub levels: u8,
    /// A trial with less time measured than this is too short to score, s.
    pub min_measured_s: f64,
    /// The primary measures.
    pub measures: &'static [Measure],
    /// The share of the task done, 0–1 (time held / target, steps taken / target).
    pub completion: fn(&SessionReport) -> f64,
    /// Failure events (edge contacts, step-offs, stops).
    pub failures: fn(&SessionReport) -> u32,
    /// Points taken off the progress score per failure event.
    pub points_per_failure: f64,
    /// A drill's own plausibility check (e.g. the COP on the board), one sentence if it fails.
    pub check: fn(&SessionMeta, &SessionReport) -> Option<String>,
}

/// Share of a held drill's target duration measured, 0–1.
fn held_share(report: &SessionReport) -> f64 {
    if report.target_duration_s > 0.0 {
        (report.metrics.measured_s() / report.target_duration_s).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn no_check(_: &SessionMeta, _: &SessionReport) -> Option<String> {
    None
}

/// The COP must lie on the board: its mean inside the cells' rectangle, its range within it.
fn cop_on_board(meta: &SessionMeta, report: &SessionReport) -> Option<String> {
    let m = report.metrics.quiet_stance()?;
    let g = meta.pipeline.cop.geometry;
    let s = &m.sway;
    let outside = s.mean_cop_x_mm.abs() > g.width_mm / 2.0
        || s.mean_cop_y_mm.abs() > g.depth_mm / 2.0
        || s.range_ml_mm > g.width_mm
        || s.range_ap_mm > g.depth_mm;
    outside.then(|| {
        format!(
            "The centre of pressure was outside the board (mean at x {:+.0} mm, y {:+.0} mm on a \
             {:.0} × {:.0} mm board): check the board's load cells and their wiring.",
            s.mean_cop_x_mm, s.mean_cop_y_mm, g.width_mm, g.depth_mm
        )
    })
}

/// The weight shift's centre must lie on the board, inside the cells' rectangle.
fn centre_on_board(meta: &SessionMeta, report: &SessionReport) -> Option<String> {
    let [x, y] = report.metrics.weight_shift()?.centre_mm?;
    let g = meta.pipeline.cop.geometry;
    (x.abs() > g.width_mm / 2.0 || y.abs() > g.depth_mm / 2.0).then(|| {
        format!(
            "The centre of pressure was outside the board (your centre at x {x:+.0} mm, y \
             {y:+.0} mm on a {:.0} × {:.0} mm board): check the board's load cells and their \
             wiring.",
            g.width_mm, g.depth_mm
        )
    })
}

/// The band of a board hold's `level` (clamped to its ladder), degrees.
fn band_deg(levels: &[BoardLevel], level: u8) -> f64 {
    let i = usize::from(level.clamp(1, levels.len() as u8)) - 1;
    levels[i].band_deg
}

fn rocker_band_deg(level: u8) -> f64 {
    band_deg(&ROCKER_LEVELS, level)
}

fn wobble_band_deg(level: u8) -> f64 {
    band_deg(&WOBBLE_LEVELS, level)
}

fn neutral_band_deg(level: u8) -> f64 {
    let i = usize::from(level.clamp(1, NEUTRAL_SPINE_LEVELS.len() as u8)) - 1;
    NEUTRAL_SPINE_LEVELS[i].band_deg
}

/// A standing drill's setup at `level` (the nearest level that exists).
fn stance_config(task: StanceTask, level: u8) -> QuietStanceConfig {
    let top = task.levels().len() as u8;
    QuietStanceConfig::for_level(task, level.clamp(1, top)).unwrap_or(QuietStanceConfig {
        task,
        level: 1,
        duration_s: 30.0,
    })
}

/// A standing drill's mean COP velocity, the first of its measures.
const fn stance_velocity(reference: fn(u8) -> f64) -> Measure {
    Measure {
        name: "mean_velocity_mm_s",
        label: "mean COP velocity",
        unit: "mm/s",
        value: |r| Some(r.metrics.quiet_stance()?.sway.mean_velocity_mm_s),
        offset: 0.0,
        reference,
        flat_below: 1.0,
        impossible_above: 500.0,
    }
}

/// A standing drill's 95 % ellipse area.
const fn stance_area(reference: fn(u8) -> f64) -> Measure {
    Measure {
        name: "ellipse_area_95_mm2",
        label: "95 % ellipse area",
        unit: "mm²",
        value: |r| Some(r.metrics.quiet_stance()?.sway.ellipse_area_95_mm2),
        offset: 0.0,
        reference,
        flat_below: 1.0,
        impossible_above: 100_000.0,
    }
}

/// Provisional healthy JERK for 30 s of quiet stance on the wearable (eyes open, feet apart,
/// firm floor), m²/s⁵: JERK grows with the trial's length and with the square of the sway.
const REFERENCE_JERK_30_S_M2_S5: f64 = 1.0;

/// Quiet stance on the wearable at `level`: the JERK reference, m²/s⁵ (provisional), for the
/// level's duration and sway allowance.
fn wearable_jerk_reference(level: u8) -> f64 {
    let config = stance_config(StanceTask::Quiet, level);
    let allowance = config.sway_allowance();
    REFERENCE_JERK_30_S_M2_S5 * config.duration_s / 30.0 * allowance * allowance
}

/// A held drill's time out of its band, from its time in band.
const fn time_out_of_band(time_in_band_percent: fn(&SessionReport) -> Option<f64>) -> Measure {
    Measure {
        name: "time_out_of_band_percent",
        label: "time out of the band",
        unit: "%",
        value: time_in_band_percent,
        offset: 1.0,
        // Provisional: a healthy adult hardly leaves the band.
        reference: |_| 1.0,
        flat_below: 0.0,
        impossible_above: 100.0 + 1e-9,
    }
}

/// 100 − a time in band, never below 0 from rounding, %.
fn out_of_band_percent(time_in_band_percent: f64) -> f64 {
    (100.0 - time_in_band_percent).max(0.0)
}

/// Provisional: a healthy adult holds the eyes-open levels without putting the foot down,
/// and eyes closed about one touch-down per 20 s.
fn single_leg_touch_downs_reference(level: u8) -> f64 {
    let config = stance_config(StanceTask::SingleLeg, level);
    match config.level_spec() {
        Some(l) if l.condition.eyes_closed => config.duration_s / 20.0,
        _ => 0.0,
    }
}

fn stepped_off(report: &SessionReport) -> u32 {
    u32::from(report.end == EndReason::SteppedOff)
}

fn shift_config(level: u8) -> Option<WeightShiftConfig> {
    WeightShiftConfig::for_level(level.clamp(1, SHIFT_LEVELS.len() as u8))
}

/// The weight shift's measures of a result that showed at least one target.
fn shifted(report: &SessionReport) -> Option<&WeightShiftMetrics> {
    report
        .metrics
        .weight_shift()
        .filter(|m| m.targets_shown > 0)
}

/// Every drill's scoring, one row per drill and device class: add a row for a new drill.
pub static DRILLS: &[DrillScoring] = &[
    DrillScoring {
        drill: DrillKind::RockerHold,
        device: DeviceClass::Imu,
        levels: ROCKER_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            Measure {
                name: "tilt_rms_deg",
                label: "tilt RMS",
                unit: "°",
                value: |r| Some(r.metrics.rocker_hold()?.tilt_rms_deg),
                offset: 0.0,
                // Provisional: a fifth of the level's band (where the drill's own steadiness
                // term is full).
                reference: |level| rocker_band_deg(level) / 5.0,
                flat_below: 0.05,
                impossible_above: 45.0,
            },
            time_out_of_band(|r| {
                Some(out_of_band_percent(
                    r.metrics.rocker_hold()?.time_in_band_percent,
                ))
            }),
        ],
        completion: held_share,
        failures: |r| {
            r.metrics
                .rocker_hold()
                .map_or(0, |m| m.edge_contacts as u32)
        },
        points_per_failure: 5.0,
        check: no_check,
    },
    DrillScoring {
        drill: DrillKind::WobbleHold,
        device: DeviceClass::Imu,
        levels: WOBBLE_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            Measure {
                name: "tilt_rms_deg",
                label: "tilt RMS",
                unit: "°",
                value: |r| Some(r.metrics.wobble_hold()?.tilt_rms_deg),
                offset: 0.0,
                // Provisional, as the rocker's: a fifth of the level's band.
                reference: |level| wobble_band_deg(level) / 5.0,
                flat_below: 0.05,
                impossible_above: 45.0,
            },
            Measure {
                name: "time_out_of_band_percent",
                label: "time out of the band",
                unit: "%",
                value: |r| Some((100.0 - r.metrics.wobble_hold()?.time_in_band_percent).max(0.0)),
                offset: 1.0,
                // Provisional: a healthy adult hardly leaves the band.
                reference: |_| 1.0,
                flat_below: 0.0,
                impossible_above: 100.0 + 1e-9,
            },
            Measure {
                name: "time_off_balance_s",
                label: "time off balance",
                unit: "s",
                value: |r| Some(r.metrics.wobble_hold()?.time_off_balance_s),
                offset: 1.0,
                // The wobble-board tests' normal: the rim never on the floor.
                reference: |_| 0.0,
                flat_below: 0.0,
                impossible_above: 86_400.0,
            },
        ],
        completion: held_share,
        failures: |r| {
            r.metrics
                .wobble_hold()
                .map_or(0, |m| m.edge_contacts as u32)
        },
        points_per_failure: 5.0,
        check: no_check,
    },
    DrillScoring {
        drill: DrillKind::QuietStance,
        device: DeviceClass::BalanceBoard,
        levels: STANCE_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            stance_velocity(|l| stance_config(StanceTask::Quiet, l).reference_velocity_mm_s()),
            stance_area(|l| stance_config(StanceTask::Quiet, l).reference_area_mm2()),
        ],
        completion: held_share,
        failures: stepped_off,
        points_per_failure: 5.0,
        check: cop_on_board,
    },
    DrillScoring {
        drill: DrillKind::QuietStance,
        device: DeviceClass::Imu,
        levels: STANCE_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            Measure {
                name: "trunk_rms_distance_deg",
                label: "trunk sway RMS",
                unit: "°",
                value: |r| Some(r.metrics.wearable_stance()?.trunk_rms_distance_deg),
                offset: 0.0,
                reference: |l| reference_trunk_rms_deg(&stance_config(StanceTask::Quiet, l)),
                flat_below: 0.02,
                impossible_above: 30.0,
            },
            Measure {
                name: "acc_rms_distance_m_s2",
                label: "trunk acceleration RMS",
                unit: "m/s²",
                value: |r| Some(r.metrics.wearable_stance()?.acc_rms_distance_m_s2),
                offset: 0.0,
                reference: |l| reference_acc_rms_m_s2(&stance_config(StanceTask::Quiet, l)),
                flat_below: 0.002,
                impossible_above: 10.0,
            },
            Measure {
                name: "jerk_m2_s5",
                label: "JERK",
                unit: "m²/s⁵",
                value: |r| Some(r.metrics.wearable_stance()?.jerk_m2_s5),
                offset: 0.0,
                reference: wearable_jerk_reference,
                // The sensor's own noise gives some; the two sway measures catch a flat signal.
                flat_below: 0.0,
                impossible_above: 1e6,
            },
        ],
        completion: held_share,
        failures: stepped_off,
        points_per_failure: 5.0,
        check: no_check,
    },
    DrillScoring {
        drill: DrillKind::TandemStance,
        device: DeviceClass::BalanceBoard,
        levels: TANDEM_STANCE_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            stance_velocity(|l| stance_config(StanceTask::Tandem, l).reference_velocity_mm_s()),
            stance_area(|l| stance_config(StanceTask::Tandem, l).reference_area_mm2()),
        ],
        completion: held_share,
        failures: stepped_off,
        points_per_failure: 5.0,
        check: cop_on_board,
    },
    DrillScoring {
        drill: DrillKind::SingleLeg,
        device: DeviceClass::BalanceBoard,
        levels: SINGLE_LEG_LEVELS.len() as u8,
        // The eyes-closed levels are short (10 s).
        min_measured_s: MIN_SCORED_S,
        measures: &[
            stance_velocity(|l| stance_config(StanceTask::SingleLeg, l).reference_velocity_mm_s()),
            Measure {
                name: "touch_downs",
                label: "touch-downs of the free foot",
                unit: "touch-downs",
                value: |r| Some(f64::from(r.metrics.quiet_stance()?.touch_downs?.count)),
                offset: 1.0,
                reference: single_leg_touch_downs_reference,
                flat_below: 0.0,
                impossible_above: 1_000.0,
            },
        ],
        completion: held_share,
        failures: stepped_off,
        points_per_failure: 5.0,
        check: cop_on_board,
    },
    DrillScoring {
        drill: DrillKind::WeightShift,
        device: DeviceClass::BalanceBoard,
        levels: SHIFT_LEVELS.len() as u8,
        // A trial is as long as its targets take: its measures need one target shown.
        min_measured_s: 0.0,
        measures: &[
            Measure {
                name: "time_to_reach_s",
                label: "mean time to reach a target",
                unit: "s",
                // No target reached: the time allowed (the worst it can be).
                value: |r| {
                    let m = shifted(r)?;
                    m.time_to_reach_s
                        .or_else(|| Some(shift_config(r.level)?.time_allowed_s))
                },
                offset: 0.0,
                // Provisional: a 0.6 s reaction and the level's mean distance at 100 mm/s.
                reference: |level| {
                    shift_config(level).map_or(1.0, |c| c.reference_time_to_reach_s())
                },
                flat_below: 0.1,
                impossible_above: 60.0,
            },
            Measure {
                name: "path_waste_percent",
                label: "path wasted (100 − path efficiency)",
                unit: "%",
                // No target reached: all of it.
                value: |r| {
                    Some(100.0 * (1.0 - shifted(r)?.path_efficiency.unwrap_or(0.0)).max(0.0))
                },
                offset: 1.0,
                // Provisional: a path efficiency of 0.85.
                reference: |_| 100.0 * (1.0 - REFERENCE_PATH_EFFICIENCY),
                flat_below: 0.0,
                impossible_above: 100.0 + 1e-9,
            },
        ],
        // Targets ended (reached or missed) of the level's.
        completion: |r| {
            r.metrics.weight_shift().map_or(0.0, |m| {
                if m.targets_planned == 0 {
                    0.0
                } else {
                    (f64::from(m.reached + m.misses) / f64::from(m.targets_planned)).min(1.0)
                }
            })
        },
        failures: |r| r.metrics.weight_shift().map_or(0, |m| m.misses),
        points_per_failure: 5.0,
        check: centre_on_board,
    },
    DrillScoring {
        drill: DrillKind::TandemWalk,
        device: DeviceClass::Imu,
        levels: WALK_LEVELS.len() as u8,
        min_measured_s: 0.0, // a walk is as long as its steps: its sway needs two of them
        measures: &[
            Measure {
                name: "missed_steps",
                label: "steps that were not correct",
                unit: "steps",
                value: |r| {
                    let m = r.metrics.tandem_walk()?;
                    Some(f64::from(m.target_steps.saturating_sub(m.correct_steps)))
                },
                offset: 1.0,
                // The Functional Gait Assessment's normal: every heel-to-toe step correct.
                reference: |_| 0.0,
                flat_below: 0.0,
                impossible_above: 1_000.0,
            },
            Measure {
                name: "ml_sway_rms_deg",
                label: "trunk side-to-side sway RMS",
                unit: "°",
                value: |r| r.metrics.tandem_walk()?.ml_sway_rms_deg,
                offset: 0.0,
                // Provisional (see docs/scoring.md).
                reference: |_| 1.5,
                flat_below: 0.05,
                impossible_above: 30.0,
            },
        ],
        completion: |r| {
            r.metrics.tandem_walk().map_or(0.0, |m| {
                if m.target_steps == 0 {
                    0.0
                } else {
                    (f64::from(m.steps) / f64::from(m.target_steps)).min(1.0)
                }
            })
        },
        failures: |r| r.metrics.tandem_walk().map_or(0, |m| m.stops),
        points_per_failure: 5.0,
        check: no_check,
    },
    DrillScoring {
        drill: DrillKind::NeutralSpine,
        device: DeviceClass::Imu,
        levels: NEUTRAL_SPINE_LEVELS.len() as u8,
        min_measured_s: 10.0,
        measures: &[
            Measure {
                name: "rms_deviation_deg",
                label: "RMS deviation from neutral",
                unit: "°",
                value: |r| Some(r.metrics.neutral_spine()?.rms_deviation_deg),
                offset: 0.0,
                // Provisional: a fifth of the level's band, as for the rocker hold.
                reference: |level| neutral_band_deg(level) / 5.0,
                flat_below: 0.02,
                impossible_above: 90.0,
            },
            time_out_of_band(|r| {
                Some(out_of_band_percent(
                    r.metrics.neutral_spine()?.time_in_band_percent,
                ))
            }),
        ],
        completion: held_share,
        failures: |r| r.metrics.neutral_spine().map_or(0, |m| m.holds_broken),
        points_per_failure: 5.0,
        check: no_check,
    },
];

/// The scoring of a drill on a kind of sensor, if it has one.
pub fn scoring_for(drill: DrillKind, device: DeviceClass) -> Option<&'static DrillScoring> {
    DRILLS
        .iter()
        .find(|s| s.drill == drill && s.device == device)
}

/// The scoring that applies to a result, if any.
pub fn scoring_of(report: &SessionReport) -> Option<&'static DrillScoring> {
    scoring_for(report.drill, DeviceClass::of_report(report))
}

/// Levels of a drill's ladder (1 for a drill that has no scoring yet).
pub fn levels(drill: DrillKind) -> u8 {
    scoring_for(drill, DeviceClass::of_drill(drill)).map_or(1, |s| s.levels)
}

/// The quality gates: `None` when the trial may be scored, else why not, in one sentence.
pub fn gate(meta: &SessionMeta, report: &SessionReport) -> Option<String> {
    let q = &report.quality;
    if q.loss_percent > MAX_LOSS_PERCENT {
        return Some(format!(
            "{:.1} % of the samples were lost on the way, more than the {MAX_LOSS_PERCENT:.0} % a \
             score allows.",
            q.loss_percent
        ));
    }
    let unusable_percent = if q.samples_received > 0 {
        100.0 * q.acc_rejected_samples as f64 / q.samples_received as f64
    } else {
        0.0
    };
    if unusable_percent > MAX_UNUSABLE_PERCENT {
        return Some(format!(
            "{unusable_percent:.1} % of the accelerometer readings were saturated or unusable, \
             more than the {MAX_UNUSABLE_PERCENT:.0} % a score allows."
        ));
    }
    let spec = scoring_of(report)?;
    let measured_s = report.metrics.measured_s();
    if !measured_s.is_finite() || measured_s < spec.min_measured_s || q.samples_received == 0 {
        return Some(format!(
            "Only {:.1} s were measured; a score needs at least {:.0} s.",
            if measured_s.is_finite() {
                measured_s
            } else {
                0.0
            },
            spec.min_measured_s
        ));
    }
    for m in spec.measures {
        match (m.value)(report) {
            None => {
                return Some(format!(
                    "The trial was too short to give its {} (too little data or too few steps).",
                    m.label
                ))
            }
            Some(x) if !x.is_finite() || x > m.impossible_above || x < 0.0 => {
                return Some(format!(
                    "A {} of {x:.2} {} is impossible for a person: is the sensor fixed as the \
                     drill says?",
                    m.label, m.unit
                ))
            }
            Some(x) if x < m.flat_below => {
                return Some(format!(
                    "The signal is flat (a {} of {x:.2} {}, less than any person shows): is the \
                     sensor on, and fixed as the drill says?",
                    m.label, m.unit
                ))
            }
            Some(_) => {}
        }
    }
    (spec.check)(meta, report)
}

/// A trial's primary measures in the row's order, when it was scored and has them all.
pub fn trial_values(spec: &DrillScoring, report: &SessionReport) -> Option<Vec<f64>> {
    if report.refused.is_some() {
        return None;
    }
    spec.measures
        .iter()
        .map(|m| (m.value)(report).filter(|x| x.is_finite() && x + m.offset > 0.0))
        .collect()
}

/// The baseline of a drill and level: the primary measures of its first scored trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The measures' names, in the order of each trial's values.
    pub measures: Vec<String>,
    /// Each baseline trial's measures, in their units, oldest first.
    pub trials: Vec<Vec<f64>>,
}

impl Baseline {
    /// The scored trials so far (at most [`BASELINE_TRIALS`]) of `level` among `history`
    /// (oldest first): same drill, sensor and signal-chain version as `spec` today.
    pub fn collect<'a>(
        spec: &DrillScoring,
        level: u8,
        history: impl IntoIterator<Item = &'a SessionReport>,
    ) -> Baseline {
        let version = pipeline_version_on(spec.drill, spec.device);
        let trials = history
            .into_iter()
            .filter(|r| {
                r.drill == spec.drill
                    && r.level == level
                    && DeviceClass::of_report(r) == spec.device
                    && r.pipeline_version == version
            })
            .filter_map(|r| trial_values(spec, r))
            .take(BASELINE_TRIALS)
            .collect();
        Baseline {
            measures: spec.measures.iter().map(|m| m.name.to_string()).collect(),
            trials,
        }
    }

    /// True once it holds [`BASELINE_TRIALS`] trials.
    pub fn is_complete(&self) -> bool {
        self.trials.len() >= BASELINE_TRIALS
    }

    /// Its statistics for `spec` at `level`; `None` while incomplete, or when it was made for
    /// other measures.
    pub fn stats(&self, spec: &DrillScoring, level: u8) -> Option<BaselineStats> {
        let names_match = self.measures.len() == spec.measures.len()
            && self
                .measures
                .iter()
                .zip(spec.measures)
                .all(|(a, m)| a == m.name);
        if !self.is_complete()
            || !names_match
            || self.trials.iter().any(|t| t.len() != spec.measures.len())
        {
            return None;
        }
        let measures = spec
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let ys: Vec<f64> = self.trials.iter().map(|t| m.log(t[i])).collect();
                let (mean_log, sd_log) = mean_sd(&ys);
                let sem_log = sd_log.max(MIN_SEM_LOG);
                let mdc_log = MDC95_FACTOR * sem_log;
                MeasureBaseline {
                    name: m.name.to_string(),
                    label: m.label.to_string(),
                    unit: m.unit.to_string(),
                    baseline: m.unlog(mean_log),
                    reference: (m.reference)(level),
                    sem_log,
                    mdc_log,
                    mdc_ratio: mdc_log.exp(),
                    better_below: m.unlog(mean_log - mdc_log),
                    worse_above: m.unlog(mean_log + mdc_log),
                    mean_log,
                }
            })
            .collect::<Vec<_>>();
        let composites: Vec<f64> = self
            .trials
            .iter()
            .map(|t| composite(spec, level, t))
            .collect();
        let (composite_mean_log, sd) = mean_sd(&composites);
        let composite_sem_log = sd.max(MIN_SEM_LOG);
        Some(BaselineStats {
            measures,
            composite_mean_log,
            composite_mdc_log: MDC95_FACTOR * composite_sem_log,
        })
    }
}

/// Mean and sample SD (divisor n − 1; 0 below two values).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The composite of a trial's measures: the mean log distance from the references (0 at the
/// references, negative below them).
fn composite(spec: &DrillScoring, level: u8, values: &[f64]) -> f64 {
    let sum: f64 = spec
        .measures
        .iter()
        .zip(values)
        .map(|(m, &x)| m.log(x) - m.log((m.reference)(level)))
        .sum();
    sum / spec.measures.len().max(1) as f64
}

/// One measure's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureBaseline {
    /// The measure's name.
    pub name: String,
    /// Its name for people.
    pub label: String,
    /// Its unit.
    pub unit: String,
    /// The baseline (the geometric mean of the baseline trials), in the unit.
    pub baseline: f64,
    /// The healthy reference, in the unit.
    pub reference: f64,
    /// Mean of the baseline trials on the log scale.
    pub mean_log: f64,
    /// Standard error of measurement on the log scale (the within-person SD).
    pub sem_log: f64,
    /// Minimal detectable change (95 %) on the log scale.
    pub mdc_log: f64,
    /// The MDC as a ratio: a real change multiplies or divides the measure (plus its offset)
    /// by at least this.
    pub mdc_ratio: f64,
    /// A value below this is a real improvement, in the unit.
    pub better_below: f64,
    /// A value above this is a real decline, in the unit.
    pub worse_above: f64,
}

/// A complete baseline's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineStats {
    /// Each measure's.
    pub measures: Vec<MeasureBaseline>,
    /// Mean composite of the baseline trials.
    pub composite_mean_log: f64,
    /// The composite's MDC95, log scale.
    pub composite_mdc_log: f64,
}

/// How a trial compares with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Better by more than the minimal detectable change.
    Better,
    /// Worse by more than the minimal detectable change.
    Worse,
    /// The change is within the measurement noise.
    NoRealChange,
}

impl Verdict {
    /// For people.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoRealChange => "no real change",
        }
    }
}

/// What the score measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreMode {
    /// Progress from the baseline (0) to the healthy reference (100).
    Progress,
    /// The baseline was already at the reference: keeping it there is 100.
    Maintenance,
}

/// One measure of a scored trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureScore {
    /// The measure's name.
    pub name: String,
    /// This trial's value, in the measure's unit.
    pub value: f64,
    /// The baseline, in the unit.
    pub baseline: f64,
    /// The healthy reference, in the unit.
    pub reference: f64,
    /// The MDC as a ratio (see [`MeasureBaseline::mdc_ratio`]).
    pub mdc_ratio: f64,
    /// Sub-score, 0–100.
    pub sub_score: f64,
    /// True when this measure is scored for maintenance.
    pub maintenance: bool,
}

/// The trusted score of a trial against the user's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// 0–100.
    pub score: f64,
    /// Progress or maintenance.
    pub mode: ScoreMode,
    /// Against the baseline.
    pub verdict: Verdict,
    /// The composite's change from the baseline, log scale (negative is better).
    pub change_log: f64,
    /// The composite's MDC95, log scale.
    pub mdc_log: f64,
    /// Share of the task done, 0–1.
    pub completion: f64,
    /// Failure events.
    pub failures: u32,
    /// Each primary measure.
    pub measures: Vec<MeasureScore>,
}

/// Scores a trial that passed the gates against a complete baseline; `None` when the drill
/// has no scoring, the baseline is incomplete or the trial lacks a measure.
pub fn assess(report: &SessionReport, baseline: &Baseline) -> Option<Progress> {
    let spec = scoring_of(report)?;
    let stats = baseline.stats(spec, report.level)?;
    let values = trial_values(spec, report)?;
    let mut measures = Vec::with_capacity(values.len());
    for ((m, b), &x) in spec.measures.iter().zip(&stats.measures).zip(&values) {
        let y = m.log(x);
        let y_ref = m.log(b.reference);
        let maintenance = b.mean_log - y_ref <= b.mdc_log;
        let sub = if maintenance {
            1.0 - (y - y_ref - b.mdc_log).max(0.0) / MAINTENANCE_SPAN.ln()
        } else {
            (b.mean_log - y) / (b.mean_log - y_ref)
        };
        measures.push(MeasureScore {
            name: b.name.clone(),
            value: x,
            baseline: b.baseline,
            reference: b.reference,
            mdc_ratio: b.mdc_ratio,
            sub_score: 100.0 * sub.clamp(0.0, 1.0),
            maintenance,
        });
    }
    let mean_sub = measures.iter().map(|m| m.sub_score).sum::<f64>() / measures.len() as f64;
    let completion = (spec.completion)(report);
    let failures = (spec.failures)(report);
    let score =
        (completion * mean_sub - spec.points_per_failure * f64::from(failures)).clamp(0.0, 100.0);
    let change_log = composite(spec, report.level, &values) - stats.composite_mean_log;
    let mdc_log = stats.composite_mdc_log;
    let verdict = verdict(change_log, mdc_log, report.end == EndReason::Completed);
    let mode = if measures.iter().all(|m| m.maintenance) {
        ScoreMode::Maintenance
    } else {
        ScoreMode::Progress
    };
    Some(Progress {
        score,
        mode,
        verdict,
        change_log,
        mdc_log,
        completion,
        failures,
        measures,
    })
}

/// The verdict for a change on the log scale (negative is better) against its MDC; a trial
/// not completed is not like with like, so it is never called better.
pub fn verdict(change_log: f64, mdc_log: f64, completed: bool) -> Verdict {
    if change_log <= -mdc_log && completed {
        Verdict::Better
    } else if change_log >= mdc_log {
        Verdict::Worse
    } else {
        Verdict::NoRealChange
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::pipeline_version;

    #[test]
    fn every_drill_is_scored_on_its_sensor_once() {
        for drill in DrillKind::ALL {
            for &device in DeviceClass::for_drill(drill) {
                let rows = DRILLS
                    .iter()
                    .filter(|s| s.drill == drill && s.device == device)
                    .count();
                assert_eq!(
                    rows,
                    1,
                    "{} on {device:?}: {rows} scoring rows",
                    drill.name()
                );
                let spec = scoring_for(drill, device).unwrap();
                assert!(spec.levels >= 2, "{} has no ladder", drill.name());
            }
            assert!(levels(drill) >= 2, "{} has no ladder", drill.name());
        }
        // Quiet stance runs on both sensors; its wearable row is the ISway one.
        assert_eq!(
            DeviceClass::for_drill(DrillKind::QuietStance),
            [DeviceClass::BalanceBoard, DeviceClass::Imu]
        );
        let imu = scoring_for(DrillKind::QuietStance, DeviceClass::Imu).unwrap();
        assert_eq!(imu.measures[0].name, "trunk_rms_distance_deg");
        // Rows on a device no drill runs on would never be used.
        for spec in DRILLS {
            assert!(DeviceClass::for_drill(spec.drill).contains(&spec.device));
        }
    }

    #[test]
    fn mdc_from_three_trials_by_hand() {
        // Log values 0, 0.1, 0.2: mean 0.1, SD 0.1, MDC = 1.96·√2·0.1 = 0.277186.
        let spec = scoring_for(DrillKind::QuietStance, DeviceClass::BalanceBoard).unwrap();
        let v = |y: f64| y.exp();
        let baseline = Baseline {
            measures: spec.measures.iter().map(|m| m.name.to_string()).collect(),
            trials: vec![
                vec![v(0.0) * 10.0, 200.0],
                vec![v(0.1) * 10.0, 200.0],
                vec![v(0.2) * 10.0, 200.0],
            ],
        };
        let stats = baseline.stats(spec, 1).unwrap();
        let velocity = &stats.measures[0];
        assert!(
            (velocity.sem_log - 0.1).abs() < 1e-12,
            "{}",
            velocity.sem_log
        );
        assert!(
            (velocity.mdc_log - 0.277_186).abs() < 1e-6,
            "{}",
            velocity.mdc_log
        );
        assert!((velocity.mdc_ratio - 1.319_412).abs() < 1e-6);
        assert!((velocity.baseline - 10.0 * 0.1f64.exp()).abs() < 1e-9);
        assert!((velocity.better_below - 10.0 * (0.1f64 - 0.277_186).exp()).abs() < 1e-5);
        // Three equal areas: the SEM is the floor, 0.02.
        assert!((stats.measures[1].sem_log - MIN_SEM_LOG).abs() < 1e-12);
        // Composite: the mean of the two log distances, so its SD is half the velocity's.
        assert!((stats.composite_mdc_log - MDC95_FACTOR * 0.05).abs() < 1e-9);
    }

    #[test]
    fn verdicts_only_beyond_the_mdc() {
        let mdc = 0.277_186;
        assert_eq!(verdict(-0.30, mdc, true), Verdict::Better);
        assert_eq!(verdict(-0.25, mdc, true), Verdict::NoRealChange);
        assert_eq!(verdict(0.25, mdc, true), Verdict::NoRealChange);
        assert_eq!(verdict(0.30, mdc, true), Verdict::Worse);
        // A trial not completed is never called better.
        assert_eq!(verdict(-0.30, mdc, false), Verdict::NoRealChange);
        assert_eq!(verdict(0.30, mdc, false), Verdict::Worse);
    }

    #[test]
    fn mean_and_sd_by_hand() {
        let (mean, sd) = mean_sd(&[2.0, 4.0, 9.0]);
        assert!((mean - 5.0).abs() < 1e-12);
        // ((−3)² + (−1)² + 4²) / 2 = 13.
        assert!((sd - 13f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
    }

    /// A quiet-stance result at level 1 (references 10 mm/s, 200 mm²).
    fn stance(velocity_mm_s: f64, area_mm2: f64, measured_s: f64, end: EndReason) -> SessionReport {
        let mut metrics = crate::drill::QuietStanceMetrics::default();
        metrics.sway.mean_velocity_mm_s = velocity_mm_s;
        metrics.sway.ellipse_area_95_mm2 = area_mm2;
        metrics.measured_s = measured_s;
        SessionReport {
            drill: DrillKind::QuietStance,
            level: 1,
            source: "sim".into(),
            start_s: 0.0,
            duration_s: measured_s,
            target_duration_s: 30.0,
            end,
            score: 0.0,
            refused: None,
            progress: None,
            metrics: crate::drill::DrillMetrics::QuietStance(metrics),
            events: Vec::new(),
            events_total: 0,
            quality: crate::quality::DataQuality {
                samples_received: 2_400,
                ..Default::default()
            },
            device: None,
            calibrations: Vec::new(),
            recording: None,
            pipeline_version: pipeline_version(DrillKind::QuietStance).into(),
        }
    }

    fn stance_baseline(velocities: [f64; 3], areas: [f64; 3]) -> Baseline {
        Baseline {
            measures: vec!["mean_velocity_mm_s".into(), "ellipse_area_95_mm2".into()],
            trials: (0..3).map(|i| vec![velocities[i], areas[i]]).collect(),
        }
    }

    #[test]
    fn progress_by_hand() {
        // Velocity baseline 40·e^{0, 0.1, 0.2} (log mean ln 40 + 0.1), reference 10; area
        // baseline 800 (SEM at the floor), reference 200.
        let e = |y: f64| y.exp();
        let baseline = stance_baseline([40.0, 40.0 * e(0.1), 40.0 * e(0.2)], [800.0; 3]);
        // Halfway on the log scale for both: velocity 10·e^{(ln 4 + 0.1)/2}, area 400.
        let v_half = 10.0 * e((4f64.ln() + 0.1) / 2.0);
        let p = assess(
            &stance(v_half, 400.0, 30.0, EndReason::Completed),
            &baseline,
        )
        .unwrap();
        assert!((p.measures[0].sub_score - 50.0).abs() < 1e-9);
        assert!((p.measures[1].sub_score - 50.0).abs() < 1e-9);
        assert!((p.score - 50.0).abs() < 1e-9, "{}", p.score);
        assert_eq!(p.mode, ScoreMode::Progress);
        // Composite baseline SD 0.05 (MDC 0.1386); the change is −(ln 4 + 0.1)/4 − ln 2 / 2.
        let change = -(4f64.ln() + 0.1) / 4.0 - 2f64.ln() / 2.0;
        assert!((p.change_log - change).abs() < 1e-9, "{}", p.change_log);
        assert!((p.mdc_log - MDC95_FACTOR * 0.05).abs() < 1e-9);
        assert_eq!(p.verdict, Verdict::Better);
        // Half the hold and a step-off: 50 × 0.5 − 5 = 20; not completed, so not "better".
        let p = assess(
            &stance(v_half, 400.0, 15.0, EndReason::SteppedOff),
            &baseline,
        )
        .unwrap();
        assert!((p.score - 20.0).abs() < 1e-9, "{}", p.score);
        assert_eq!(p.verdict, Verdict::NoRealChange);
        // At the reference or better: 100; worse than the baseline: 0.
        let p = assess(&stance(8.0, 150.0, 30.0, EndReason::Completed), &baseline).unwrap();
        assert!((p.score - 100.0).abs() < 1e-9);
        let p = assess(
            &stance(60.0, 1_000.0, 30.0, EndReason::Completed),
            &baseline,
        )
        .unwrap();
        assert_eq!(p.score, 0.0);
        assert_eq!(p.verdict, Verdict::Worse);
    }

    #[test]
    fn maintenance_when_the_baseline_is_at_the_reference() {
        // Velocity baseline 10·e^{0, 0.1, 0.2}: 0.1 above the reference, within its MDC
        // (0.277); area baseline at the reference.
        let e = |y: f64| y.exp();
        let baseline = stance_baseline([10.0, 10.0 * e(0.1), 10.0 * e(0.2)], [200.0; 3]);
        let mdc_v = MDC95_FACTOR * 0.1;
        let mdc_a = MDC95_FACTOR * MIN_SEM_LOG;
        let p = assess(&stance(10.0, 200.0, 30.0, EndReason::Completed), &baseline).unwrap();
        assert_eq!(p.mode, ScoreMode::Maintenance);
        assert!((p.score - 100.0).abs() < 1e-9);
        // Half a factor 2 beyond reference × MDC: 50 each.
        let v = 10.0 * e(mdc_v + 0.5 * 2f64.ln());
        let a = 200.0 * e(mdc_a + 0.5 * 2f64.ln());
        let p = assess(&stance(v, a, 30.0, EndReason::Completed), &baseline).unwrap();
        assert!((p.score - 50.0).abs() < 1e-9, "{}", p.score);
    }

    #[test]
    fn gates_refuse_with_one_sentence() {
        let meta = SessionMeta::new(
            crate::session::DrillSetup::QuietStance(
                QuietStanceConfig::for_level(StanceTask::Quiet, 1).unwrap(),
            ),
            "sim".into(),
            crate::devices::DeviceFormat::Proprio,
            None,
            "2026-11-21T00:00:00Z".into(),
        );
        let ok = stance(12.0, 300.0, 30.0, EndReason::Completed);
        assert_eq!(gate(&meta, &ok), None);
        let mut lossy = ok.clone();
        lossy.quality.frames_lost = 200;
        lossy.quality.update_loss(); // 200 of 2600: 7.7 %
        assert!(gate(&meta, &lossy)
            .unwrap()
            .contains("7.7 % of the samples were lost"));
        let short = stance(12.0, 300.0, 9.0, EndReason::UserStop);
        assert!(gate(&meta, &short).unwrap().contains("Only 9.0 s"));
        let flat = stance(0.2, 300.0, 30.0, EndReason::Completed);
        assert!(gate(&meta, &flat).unwrap().contains("flat"));
        let wild = stance(f64::NAN, 300.0, 30.0, EndReason::Completed);
        assert!(gate(&meta, &wild).unwrap().contains("impossible"));
        let mut off_board = ok.clone();
        if let crate::drill::DrillMetrics::QuietStance(m) = &mut off_board.metrics {
            m.sway.mean_cop_x_mm = 250.0;
        }
        assert!(gate(&meta, &off_board)
            .unwrap()
            .contains("outside the board"));
        for refused in [&lossy, &short, &flat, &wild, &off_board] {
            let why = gate(&meta, refused).unwrap();
            assert_eq!(
                why.matches(". ").count() + why.matches("? ").count(),
                0,
                "{why}"
            );
        }
    }

    /// A wobble-hold result at `level` with these measures.
    fn wobble(level: u8, rms_deg: f64, in_band: f64, off_s: f64, contacts: u64) -> SessionReport {
        let metrics = crate::drill::WobbleHoldMetrics {
            tilt_rms_deg: rms_deg,
            time_in_band_percent: in_band,
            time_off_balance_s: off_s,
            edge_contacts: contacts,
            measured_s: 30.0,
            ..Default::default()
        };
        SessionReport {
            drill: DrillKind::WobbleHold,
            level,
            target_duration_s: 30.0,
            metrics: crate::drill::DrillMetrics::WobbleHold(metrics),
            pipeline_version: pipeline_version(DrillKind::WobbleHold).into(),
            ..stance(10.0, 200.0, 30.0, EndReason::Completed)
        }
    }

    #[test]
    fn wobble_hold_by_hand() {
        let spec = scoring_for(DrillKind::WobbleHold, DeviceClass::Imu).unwrap();
        // Level 2: band 6°, tilt RMS reference 1.2°; 1 % out of band; 0 s off balance.
        let r = wobble(2, 4.8, 79.0, 3.0, 2);
        assert_eq!(
            trial_values(spec, &r).unwrap(),
            vec![4.8, 21.0, 3.0],
            "tilt RMS, time out of band, time off balance"
        );
        // Baseline at those values (SEM at its floor); a trial halfway on the log scale on
        // each: RMS 2.4° (half of ln 4), out of band e^{(ln 22 + ln 2)/2} − 1, off balance 1 s.
        let baseline = Baseline {
            measures: spec.measures.iter().map(|m| m.name.to_string()).collect(),
            trials: vec![vec![4.8, 21.0, 3.0]; 3],
        };
        let out = (22f64.ln() / 2.0 + 2f64.ln() / 2.0).exp() - 1.0;
        let p = assess(&wobble(2, 2.4, 100.0 - out, 1.0, 1), &baseline).unwrap();
        for m in &p.measures {
            assert!((m.sub_score - 50.0).abs() < 1e-9, "{m:?}");
        }
        // 50 − 5 for the one edge contact.
        assert!((p.score - 45.0).abs() < 1e-9, "{}", p.score);
        assert_eq!(p.failures, 1);
    }

    /// A quiet-stance result on the wearable at level 1 (references 0.3°, 0.04 m/s², 1 m²/s⁵).
    fn on_wearable(trunk_deg: f64, acc_m_s2: f64, jerk: f64, end: EndReason) -> SessionReport {
        let metrics = crate::drill::WearableStanceMetrics {
            trunk_rms_distance_deg: trunk_deg,
            acc_rms_distance_m_s2: acc_m_s2,
            jerk_m2_s5: jerk,
            measured_s: 30.0,
            ..Default::default()
        };
        SessionReport {
            metrics: crate::drill::DrillMetrics::WearableStance(metrics),
            device: Some(crate::session::DeviceSummary {
                kind: "wearable".into(),
                device_id: 1,
                firmware: [0, 1, 0],
                sample_rate_hz: 100.0,
            }),
            pipeline_version: crate::session::WEARABLE_STANCE_PIPELINE_VERSION.into(),
            ..stance(10.0, 200.0, 30.0, end)
        }
    }

    #[test]
    fn quiet_stance_on_the_wearable_by_hand() {
        let r = on_wearable(1.2, 0.16, 9.0, EndReason::Completed);
        // The device said "wearable": the IMU row, whatever the drill's default.
        let spec = scoring_of(&r).unwrap();
        assert_eq!(spec.device, DeviceClass::Imu);
        assert_eq!(trial_values(spec, &r).unwrap(), vec![1.2, 0.16, 9.0]);
        let reference: Vec<f64> = spec.measures.iter().map(|m| (m.reference)(1)).collect();
        assert_eq!(reference, vec![0.3, 0.04, 1.0]);
        // Level 5: twice the sway allowed, 60 s: JERK 1 × 60/30 × 2².
        assert!(((spec.measures[2].reference)(5) - 8.0).abs() < 1e-12);
        // Baseline at four, four and nine times the references (SEM at its floor); a trial
        // halfway on each log scale (twice, twice and three times) scores 50; a step out of
        // the stance with half the hold takes 50 × 0.5 − 5.
        let baseline = Baseline {
            measures: spec.measures.iter().map(|m| m.name.to_string()).collect(),
            trials: vec![vec![1.2, 0.16, 9.0]; 3],
        };
        let p = assess(
            &on_wearable(0.6, 0.08, 3.0, EndReason::Completed),
            &baseline,
        )
        .unwrap();
        for m in &p.measures {
            assert!((m.sub_score - 50.0).abs() < 1e-9, "{m:?}");
        }
        assert!((p.score - 50.0).abs() < 1e-9, "{}", p.score);
        let mut stepped = on_wearable(0.6, 0.08, 3.0, EndReason::SteppedOff);
        if let crate::drill::DrillMetrics::WearableStance(m) = &mut stepped.metrics {
            m.measured_s = 15.0;
        }
        let p = assess(&stepped, &baseline).unwrap();
        assert!((p.score - 20.0).abs() < 1e-9, "{}", p.score);
        assert_eq!(p.failures, 1);
        // A sensor that does not move is refused as flat.
        let meta = SessionMeta::new(
            crate::session::DrillSetup::QuietStance(
                QuietStanceConfig::for_level(StanceTask::Quiet, 1).unwrap(),
            ),
            "sim".into(),
            crate::devices::DeviceFormat::Proprio,
            None,
            "2026-11-21T00:00:00Z".into(),
        );
        let flat = on_wearable(0.01, 0.001, 0.5, EndReason::Completed);
        assert!(gate(&meta, &flat).unwrap().contains("flat"));
        assert_eq!(
            gate(&meta, &on_wearable(0.3, 0.04, 1.0, EndReason::Completed)),
            None
        );
    }

    #[test]
    fn every_row_is_sound() {
        for spec in DRILLS {
            assert!(spec.levels >= 1);
            assert!(!spec.measures.is_empty());
            for level in 1..=spec.levels {
                for m in spec.measures {
                    let r = (m.reference)(level);
                    assert!(r.is_finite() && r + m.offset > 0.0, "{} {level}", m.name);
                    assert!(r >= m.flat_below && r < m.impossible_above, "{}", m.name);
                }
            }
        }
    }
}
