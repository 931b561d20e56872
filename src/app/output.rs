//! Human-readable output.

use crate::drill::{
    BoardLevel, DrillKind, DrillMetrics, EndReason, StanceTask, NEUTRAL_SPINE_LEVELS,
    ROCKER_LEVELS, SHIFT_LEVELS, WALK_LEVELS, WOBBLE_LEVELS,
};
use crate::scoring::ScoreMode;
use crate::session::SessionReport;

/// `proprio drills`.
pub fn print_drills() {
    for drill in DrillKind::ALL {
        out!("{}", drill.name());
        out!("  {}", drill.summary());
        out!("  Why: {}", drill.purpose());
        out!("  Safety: {}", drill.safety());
        out!("  Sensor: {}", drill.sensor());
        out!("  Levels:");
        match drill {
            DrillKind::RockerHold => print_board_levels(&ROCKER_LEVELS, "keep within ±"),
            DrillKind::WobbleHold => {
                print_board_levels(&WOBBLE_LEVELS, "keep the tilt, whichever way, within ")
            }
            DrillKind::QuietStance | DrillKind::SingleLeg | DrillKind::TandemStance => {
                let task = drill.stance_task().unwrap_or_default();
                let what = if task == StanceTask::SingleLeg {
                    "hold on one leg"
                } else {
                    "stand still"
                };
                for (i, level) in task.levels().iter().enumerate() {
                    out!(
                        "    {}: {what} for {:.0} s, {}",
                        i + 1,
                        level.duration_s,
                        level.note
                    );
                }
            }
            DrillKind::NeutralSpine => {
                for (i, level) in NEUTRAL_SPINE_LEVELS.iter().enumerate() {
                    out!(
                        "    {}: hold within ±{:.0}° of your neutral for {:.0} s, {}",
                        i + 1,
                        level.band_deg,
                        level.duration_s,
                        level.note
                    );
                }
            }
            DrillKind::WeightShift => {
                for (i, level) in SHIFT_LEVELS.iter().enumerate() {
                    out!(
                        "    {}: {} targets at {:.0} % of your limits, each within {:.0} mm held {:.1} s, {:.0} s allowed; {}",
                        i + 1,
                        level.targets,
                        100.0 * level.distance_share,
                        level.radius_mm,
                        level.dwell_s,
                        level.time_allowed_s,
                        level.note
                    );
                }
            }
            DrillKind::TandemWalk => {
                for (i, level) in WALK_LEVELS.iter().enumerate() {
                    out!(
                        "    {}: {} heel-to-toe steps within {:.0} s, {}",
                        i + 1,
                        level.steps,
                        level.time_limit_s,
                        level.note
                    );
                }
            }
        }
        out!();
    }
    out!("proprio is a training aid, not a diagnosis. Check with your clinician before starting.");
}

/// A board hold's levels: band and duration.
fn print_board_levels(levels: &[BoardLevel], keep: &str) {
    for (i, level) in levels.iter().enumerate() {
        out!(
            "    {}: {keep}{:.0}° for {:.0} s, {}",
            i + 1,
            level.band_deg,
            level.duration_s,
            level.note
        );
    }
}

/// Why a drill ended, in words (the result's, the live view's and the guided session's);
/// `on_wearable`: the drill ran with the wearable on the lower back, where a step ends a
/// stance as a loss of balance (there is no board to step off).
pub(super) fn end_words(end: EndReason, on_wearable: bool) -> &'static str {
    match end {
        EndReason::SteppedOff if on_wearable => {
            "ended: you lost your balance and took a step, which ends the stance"
        }
        EndReason::Completed => "completed",
        EndReason::UserStop => "stopped by you",
        EndReason::PainStop => {
            "stopped because it hurt (recorded; rest, and do not push through pain)"
        }
        EndReason::LinkLost => "ended: the device link was lost",
        EndReason::DataEnded => "ended: the data stopped before the drill was over",
        EndReason::SteppedOff => "ended: you stepped off the board, or out of your stance",
        EndReason::NotStarted => {
            "ended: the drill never started (nobody stood steadily on the board, brought the board level, or stood still before walking)"
        }
        EndReason::TimeUp => "ended: the time limit passed before all the steps were taken",
    }
}

/// True when `report`'s drill ran with the wearable on the lower back (quiet stance on the
/// wearable; the walk and the neutral-spine hold), not on a board.
pub(super) fn worn_on_the_back(report: &SessionReport) -> bool {
    matches!(
        report.metrics,
        DrillMetrics::WearableStance(_)
            | DrillMetrics::TandemWalk(_)
            | DrillMetrics::NeutralSpine(_)
    )
}

/// The result of a drill, for people.
pub fn print_report(report: &SessionReport) {
    let measured_s = report.metrics.measured_s();
    let q = &report.quality;
    // The drill's clock pauses without data, so the time measured can be less than elapsed.
    let paused_s = report.duration_s - measured_s;
    let pauses = if paused_s > 0.05 {
        format!(", paused {paused_s:.1} s without data")
    } else {
        String::new()
    };
    let score = match report.refused {
        Some(_) => "not scored".to_string(),
        None => format!("score {:.0} / 100", report.score),
    };
    // The weight shift's length is its targets': its target duration is only its longest.
    let of = if report.drill == DrillKind::WeightShift {
        String::new()
    } else {
        format!(" of {:.0}", report.target_duration_s)
    };
    out!(
        "{} level {}: {score} ({}, {:.1}{of} s measured{pauses})",
        report.drill.name(),
        report.level,
        end_words(report.end, worn_on_the_back(report)),
        measured_s,
    );
    match &report.metrics {
        DrillMetrics::RockerHold(m) => {
            let stabilised = m
                .time_to_stabilise_s
                .map_or("never stabilised for 2 s".to_string(), |t| {
                    format!("stable after {t:.1} s")
                });
            out!(
                "  tilt RMS {:.1}°, in band {:.0} %, edge contacts {}, longest in band {:.1} s, {}",
                m.tilt_rms_deg,
                m.time_in_band_percent,
                m.edge_contacts,
                m.longest_in_band_s,
                stabilised
            );
        }
        DrillMetrics::WobbleHold(m) => {
            let stabilised = m
                .time_to_stabilise_s
                .map_or("never stabilised for 2 s".to_string(), |t| {
                    format!("stable after {t:.1} s")
                });
            out!(
                "  tilt RMS {:.1}° (front–back {:.1}°, side to side {:.1}°), in band {:.0} %, longest in band {:.1} s, {}",
                m.tilt_rms_deg,
                m.tilt_rms_ap_deg,
                m.tilt_rms_ml_deg,
                m.time_in_band_percent,
                m.longest_in_band_s,
                stabilised
            );
            out!(
                "  edge contacts {}, time off balance {:.1} s; on average tilted {:.1}° towards {} ({:+.0}°)",
                m.edge_contacts,
                m.time_off_balance_s,
                m.mean_tilt_ap_deg.hypot(m.mean_tilt_ml_deg),
                direction_words(m.mean_tilt_direction_deg),
                m.mean_tilt_direction_deg
            );
        }
        DrillMetrics::QuietStance(m) => {
            let s = &m.sway;
            out!(
                "  sway: mean velocity {:.1} mm/s (ML {:.1}, AP {:.1}), 95 % ellipse {:.0} mm², \
                 RMS ML {:.1} mm, AP {:.1} mm, path {:.0} mm",
                s.mean_velocity_mm_s,
                s.mean_velocity_ml_mm_s,
                s.mean_velocity_ap_mm_s,
                s.ellipse_area_95_mm2,
                s.rms_ml_mm,
                s.rms_ap_mm,
                s.path_mm
            );
            let weight = m
                .weight_kg
                .map_or(String::new(), |kg| format!("{kg:.1} kg, "));
            if let Some(t) = m.touch_downs {
                out!(
                    "  held on one leg {:.1} s of {:.0} s; {} touch-down(s), foot down {:.1} s in all",
                    m.time_held_s,
                    report.target_duration_s,
                    t.count,
                    t.total_s
                );
            } else if report.end == EndReason::SteppedOff {
                out!("  held {:.1} s before stepping off", m.time_held_s);
            }
            out!(
                "  stood at x {:+.0} mm, y {:+.0} mm on the board ({weight}series at {:.0} Hz)",
                s.mean_cop_x_mm,
                s.mean_cop_y_mm,
                m.analysis_rate_hz
            );
        }
        DrillMetrics::WearableStance(m) => {
            out!(
                "  trunk sway: RMS {:.2}° (side to side {:.2}°, front–back {:.2}°), range {:.1}° \
                 by {:.1}°, mean speed {:.2} °/s",
                m.trunk_rms_distance_deg,
                m.trunk_rms_ml_deg,
                m.trunk_rms_ap_deg,
                m.trunk_range_ml_deg,
                m.trunk_range_ap_deg,
                m.trunk_mean_velocity_deg_s
            );
            out!(
                "  trunk acceleration: RMS {:.3} m/s² (side to side {:.3}, front–back {:.3}), \
                 JERK {:.2} m²/s⁵",
                m.acc_rms_distance_m_s2,
                m.acc_rms_ml_m_s2,
                m.acc_rms_ap_m_s2,
                m.jerk_m2_s5
            );
            if report.end == EndReason::SteppedOff {
                out!("  held {:.1} s before a step", m.time_held_s);
            }
            out!(
                "  wearable at {:+.1}° forward, {:+.1}° right (posture and mounting; series at \
                 {:.0} Hz)",
                m.trunk_mean_ap_deg,
                m.trunk_mean_ml_deg,
                m.analysis_rate_hz
            );
        }
        DrillMetrics::NeutralSpine(m) => {
            let correct = m
                .mean_time_to_correct_s
                .map_or(String::new(), |t| format!(", {t:.1} s out each time"));
            out!(
                "  deviation from neutral: RMS {:.1}° (forward–back {:.1}°, side {:.1}°), largest {:.1}°, mean forward {:+.1}°",
                m.rms_deviation_deg,
                m.rms_flexion_deg,
                m.rms_lateral_deg,
                m.max_deviation_deg,
                m.mean_flexion_deg
            );
            out!(
                "  in band {:.0} % of the time; left it {} time(s){correct}; hold broken {} time(s)",
                m.time_in_band_percent,
                m.band_exits,
                m.holds_broken
            );
        }
        DrillMetrics::WeightShift(m) => {
            let opt = |v: Option<f64>, unit: &str, digits: usize| {
                v.map_or("–".to_string(), |v| format!("{v:.digits$}{unit}"))
            };
            out!(
                "  targets: {} reached of {} ({} shown), {} missed",
                m.reached,
                m.targets_planned,
                m.targets_shown,
                m.misses
            );
            out!(
                "  time to reach {}, path efficiency {}, reaction {}, furthest {} of the way",
                opt(m.time_to_reach_s, " s", 2),
                opt(m.path_efficiency, "", 2),
                opt(m.reaction_time_s, " s", 2),
                opt(m.max_excursion_percent, " %", 0)
            );
            let weight = m
                .weight_kg
                .map_or(String::new(), |kg| format!("{kg:.1} kg, "));
            if let Some([x, y]) = m.centre_mm {
                out!(
                    "  your centre at x {x:+.0} mm, y {y:+.0} mm on the board ({weight}paths at {:.0} Hz)",
                    m.analysis_rate_hz
                );
            }
        }
        DrillMetrics::TandemWalk(m) => {
            let opt = |v: Option<f64>, unit: &str| {
                v.map_or("–".to_string(), |v| format!("{v:.1}{unit}"))
            };
            out!(
                "  {} correct steps of {} ({} steps, {} missteps: {} lateral, {} slow; {} stops)",
                m.correct_steps,
                m.target_steps,
                m.steps,
                m.missteps,
                m.lateral_excursions,
                m.slow_steps,
                m.stops
            );
            out!(
                "  trunk side to side: RMS {}, largest {}; time {}, cadence {}, step time {} (variability {})",
                opt(m.ml_sway_rms_deg, "°"),
                opt(m.ml_sway_max_deg, "°"),
                opt(m.walk_time_s, " s"),
                opt(m.cadence_steps_per_min, " steps/min"),
                opt(m.step_time_mean_s, " s"),
                opt(m.step_time_cv_percent, " %")
            );
        }
    }
    print_progress(report);
    out!(
        "  data: {} samples, {} lost ({:.1} %), {} corrupted frames, longest gap {:.2} s",
        q.samples_received,
        q.frames_lost,
        q.loss_percent,
        q.crc_errors + q.malformed_frames,
        q.longest_gap_s
    );
    if q.disconnects > 0 {
        out!(
            "  link: lost {} time(s), reconnected {} time(s), {:.1} s disconnected",
            q.disconnects,
            q.reconnects,
            q.disconnected_s
        );
    }
    if !report.calibrations.is_empty() {
        let applied: Vec<String> = report
            .calibrations
            .iter()
            .map(|c| format!("{} ({})", c.kind.name(), c.created_utc))
            .collect();
        out!("  calibration applied: {}", applied.join(", "));
    }
    if let Some(path) = &report.recording {
        out!("recording: {path}");
        out!("  replay it with: proprio replay {path}");
    }
}

/// A direction on a board, degrees clockwise from forward, in words ("the front-left").
pub fn direction_words(direction_deg: f64) -> &'static str {
    const WORDS: [&str; 8] = [
        "the front",
        "the front-right",
        "the right",
        "the back-right",
        "the back",
        "the back-left",
        "the left",
        "the front-left",
    ];
    let sector = (direction_deg.rem_euclid(360.0) / 45.0).round() as usize % 8;
    WORDS[sector]
}

/// The gates' refusal, or the progress score and verdict against the baseline.
fn print_progress(report: &SessionReport) {
    for line in progress_lines(report) {
        out!("  {line}");
    }
}

/// The gates' refusal, or the progress score and the verdict against the baseline ("better",
/// "worse", or "no real change" within the minimal detectable change) with each measure's
/// part: lines for people, without indentation (the result's and the guided session's).
pub(super) fn progress_lines(report: &SessionReport) -> Vec<String> {
    if let Some(why) = &report.refused {
        return vec![format!("not scored (the recording is kept): {why}")];
    }
    let Some(p) = &report.progress else {
        return Vec::new();
    };
    let mode = match p.mode {
        ScoreMode::Progress => "progress from your baseline to the healthy reference",
        ScoreMode::Maintenance => "maintenance: your baseline was already at the reference",
    };
    let mut lines = vec![format!(
        "progress {:.0} / 100 ({mode}); against your baseline: {}",
        p.score,
        p.verdict.words()
    )];
    for m in &p.measures {
        lines.push(format!(
            "  {}: {:.2} (baseline {:.2}, healthy {:.2}, a real change is ×{:.2}), sub-score {:.0}",
            m.name, m.value, m.baseline, m.reference, m.mdc_ratio, m.sub_score
        ));
    }
    lines
}
