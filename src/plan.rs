//! The progression plan: per drill, a ladder of its levels, climbed and descended by the
//! rules of docs/scoring.md, from the results of past sessions (oldest first).
//!
//! - **Advance** one level after [`ADVANCE_AFTER`] sessions in a row at the current level that
//!   were each scored [`ADVANCE_SCORE`] or more with a real change: the verdict "better"
//!   (beyond the minimal detectable change), or the maintenance mode (the baseline was already
//!   at the healthy reference, so there is no change left to show).
//! - **Step back** one level after [`STEP_BACK_AFTER`] sessions in a row at the current level
//!   with task failure (an end other than `completed`, or refused by the quality gates), and at
//!   once after any pain stop, at whatever level it happened.
//! - A session at another level than the plan's (chosen with `--level`) counts towards that
//!   level's baseline but does not move the plan, unless it was a pain stop.
//! - A drill that runs on two kinds of sensor (quiet stance, on a board or the wearable) has a
//!   ladder on each: each is climbed by the sessions on its own sensor, scored on its own
//!   references.
//!
//! Sans-IO: the caller reads the history (see `app::db`).

use serde::Serialize;

use crate::drill::{DrillKind, EndReason};
use crate::scoring::{self, Baseline, DeviceClass, MeasureBaseline, ScoreMode, Verdict};
use crate::session::SessionReport;

/// A session counts towards moving up with a progress score of at least this.
pub const ADVANCE_SCORE: f64 = 80.0;
/// Good sessions in a row that move the plan up a level.
pub const ADVANCE_AFTER: u32 = 3;
/// Failed sessions in a row that move the plan down a level.
pub const STEP_BACK_AFTER: u32 = 2;

/// What the plan last did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Moved up after enough good sessions.
    Advanced {
        /// The level left.
        from: u8,
        /// The level now.
        to: u8,
    },
    /// Moved down (or stayed at level 1) after failed sessions or a pain stop.
    SteppedBack {
        /// The level left.
        from: u8,
        /// The level now.
        to: u8,
        /// Because of a pain stop (else: failed sessions).
        pain: bool,
    },
}

/// The latest session of a drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastSession {
    /// Its level.
    pub level: u8,
    /// Why it ended.
    pub end: EndReason,
    /// Its progress score, if it had one.
    pub score: Option<f64>,
    /// Its verdict against the baseline, if it had one.
    pub verdict: Option<Verdict>,
    /// Why it was not scored, if it was refused.
    pub refused: Option<String>,
}

/// Where the user stands on one drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillPlan {
    /// The drill.
    pub drill: DrillKind,
    /// The sensor this ladder is for.
    pub device: DeviceClass,
    /// The level to do next.
    pub level: u8,
    /// The ladder's top level.
    pub levels: u8,
    /// Sessions at this level since the plan arrived at it.
    pub sessions_at_level: u32,
    /// Good sessions in a row at this level (see [`ADVANCE_AFTER`]).
    pub good_in_a_row: u32,
    /// Failed sessions in a row at this level (see [`STEP_BACK_AFTER`]).
    pub failed_in_a_row: u32,
    /// Scored trials of the baseline at this level so far (complete at 3).
    pub baseline_trials: usize,
    /// The baseline at this level with its MDC, once complete.
    pub baseline: Vec<MeasureBaseline>,
    /// The latest session of this drill, at any level.
    pub last: Option<LastSession>,
    /// What the plan last did.
    pub last_change: Option<Change>,
    /// What is next and why, for people.
    pub next: String,
}

/// True when a session failed its task: it did not complete, or the gates refused it.
pub fn failed(report: &SessionReport) -> bool {
    report.end != EndReason::Completed || report.refused.is_some()
}

/// True when a session counts towards moving up (see the module docs).
pub fn good(report: &SessionReport) -> bool {
    !failed(report)
        && report.progress.as_ref().is_some_and(|p| {
            p.score >= ADVANCE_SCORE
                && (p.verdict == Verdict::Better || p.mode == ScoreMode::Maintenance)
        })
}

/// The baseline of `drill` on `device` at `level` from `history` (complete or not).
pub fn baseline_on(
    drill: DrillKind,
    device: DeviceClass,
    level: u8,
    history: &[SessionReport],
) -> Option<Baseline> {
    let spec = scoring::scoring_for(drill, device)?;
    Some(Baseline::collect(spec, level, history))
}

/// Where the user stands on `drill` on its default sensor, from `history` (every drill's
/// results, oldest first).
pub fn plan(drill: DrillKind, history: &[SessionReport]) -> DrillPlan {
    plan_on(drill, DeviceClass::of_drill(drill), history)
}

/// Where the plan stands after a history: the ladder's state.
struct Climb<'a> {
    level: u8,
    at_level: u32,
    good_run: u32,
    failed_run: u32,
    last_change: Option<Change>,
    last: Option<&'a SessionReport>,
}

/// Climbs the ladder of `drill` on `device` over `history` (oldest first; results of other
/// drills and sensors are passed over) by the rules of the module docs; `on_change` hears each
/// change with the index in `history` of the session that made it.
fn climb<'a>(
    drill: DrillKind,
    device: DeviceClass,
    history: &'a [SessionReport],
    mut on_change: impl FnMut(usize, Change),
) -> Climb<'a> {
    let levels = scoring::levels(drill);
    let mut c = Climb {
        level: 1,
        at_level: 0,
        good_run: 0,
        failed_run: 0,
        last_change: None,
        last: None,
    };
    let on_device =
        |(_, r): &(usize, &SessionReport)| r.drill == drill && DeviceClass::of_report(r) == device;
    for (index, report) in history.iter().enumerate().filter(on_device) {
        c.last = Some(report);
        let mut step = |change: Change, c: &mut Climb| {
            c.level = match change {
                Change::Advanced { to, .. } | Change::SteppedBack { to, .. } => to,
            };
            c.last_change = Some(change);
            (c.at_level, c.good_run, c.failed_run) = (0, 0, 0);
            on_change(index, change);
        };
        let down = c.level.saturating_sub(1).max(1);
        if report.end == EndReason::PainStop {
            let change = Change::SteppedBack {
                from: c.level,
                to: down,
                pain: true,
            };
            step(change, &mut c);
            continue;
        }
        if report.level != c.level {
            continue;
        }
        c.at_level += 1;
        if failed(report) {
            c.good_run = 0;
            c.failed_run += 1;
            if c.failed_run >= STEP_BACK_AFTER {
                let change = Change::SteppedBack {
                    from: c.level,
                    to: down,
                    pain: false,
                };
                step(change, &mut c);
            }
            continue;
        }
        c.failed_run = 0;
        c.good_run = if good(report) { c.good_run + 1 } else { 0 };
        if c.good_run >= ADVANCE_AFTER && c.level < levels {
            let change = Change::Advanced {
                from: c.level,
                to: c.level + 1,
            };
            step(change, &mut c);
        }
    }
    c
}

/// Every change of the plan of `drill` on `device` over `history` (oldest first), in order,
/// each with the index in `history` of the session that made it.
pub fn level_changes(
    drill: DrillKind,
    device: DeviceClass,
    history: &[SessionReport],
) -> Vec<(usize, Change)> {
    let mut changes = Vec::new();
    climb(drill, device, history, |index, change| {
        changes.push((index, change))
    });
    changes
}

/// Where the user stands on `drill` on `device`, from `history` (every drill's results,
/// oldest first; those on other sensors are left out).
pub fn plan_on(drill: DrillKind, device: DeviceClass, history: &[SessionReport]) -> DrillPlan {
    let levels = scoring::levels(drill);
    let Climb {
        level,
        at_level,
        good_run,
        failed_run,
        last_change,
        last,
    } = climb(drill, device, history, |_, _| {});
    let spec = scoring::scoring_for(drill, device);
    let base = baseline_on(drill, device, level, history);
    let baseline_trials = base.as_ref().map_or(0, |b| b.trials.len());
    let stats = spec
        .zip(base.as_ref())
        .and_then(|(spec, b)| b.stats(spec, level))
        .map(|s| s.measures)
        .unwrap_or_default();
    let mut plan = DrillPlan {
        drill,
        device,
        level,
        levels,
        sessions_at_level: at_level,
        good_in_a_row: good_run,
        failed_in_a_row: failed_run,
        baseline_trials,
        baseline: stats,
        last: last.map(|r| LastSession {
            level: r.level,
            end: r.end,
            score: r.progress.as_ref().map(|p| p.score),
            verdict: r.progress.as_ref().map(|p| p.verdict),
            refused: r.refused.clone(),
        }),
        last_change,
        next: String::new(),
    };
    plan.next = next_words(&plan, spec.is_some());
    plan
}

/// The change of plan `report` makes when it follows `history` (every drill's results, oldest
/// first), on the sensor `device`: a pain stop always steps back; a session at the plan's level
/// may complete a run that advances or steps back; any other session changes nothing.
pub fn change_by(
    device: DeviceClass,
    history: &[SessionReport],
    report: &SessionReport,
) -> Option<Change> {
    if DeviceClass::of_report(report) != device {
        return None;
    }
    let mut with = history.to_vec();
    with.push(report.clone());
    level_changes(report.drill, device, &with)
        .into_iter()
        .find(|&(index, _)| index == history.len())
        .map(|(_, change)| change)
}

/// What is next and why, in words.
fn next_words(plan: &DrillPlan, scored: bool) -> String {
    let level = plan.level;
    let mut words = match plan.last_change {
        Some(Change::SteppedBack { pain: true, .. }) if plan.sessions_at_level == 0 => format!(
            "After the pain stop the plan is at level {level}: rest, start again gently, and \
             stop at once if it hurts; see your clinician if the pain persists. "
        ),
        Some(Change::SteppedBack { pain: false, .. }) if plan.sessions_at_level == 0 => {
            format!("Back at level {level} after {STEP_BACK_AFTER} failed sessions in a row. ")
        }
        Some(Change::Advanced { to, .. }) if plan.sessions_at_level == 0 => format!(
            "Moved up to level {to} after {ADVANCE_AFTER} sessions in a row at \
             {ADVANCE_SCORE:.0} or more with a real change. "
        ),
        _ => String::new(),
    };
    if !scored {
        words.push_str(&format!(
            "Level {level}: this drill has no progress score yet."
        ));
        return words;
    }
    let missing = scoring::BASELINE_TRIALS.saturating_sub(plan.baseline_trials);
    if missing > 0 {
        words.push_str(&format!(
            "Do {missing} more scored trial{} at level {level} to set your baseline; then \
             {ADVANCE_AFTER} sessions in a row at {ADVANCE_SCORE:.0} or more with a real change \
             move you up.",
            if missing == 1 { "" } else { "s" }
        ));
    } else if level >= plan.levels {
        words.push_str(&format!(
            "Top level: keep your score at {ADVANCE_SCORE:.0} or more (maintenance)."
        ));
    } else {
        let left = ADVANCE_AFTER.saturating_sub(plan.good_in_a_row);
        words.push_str(&format!(
            "{left} more session{} in a row at {ADVANCE_SCORE:.0} or more with a real change \
             (beyond the MDC) move{} you up to level {}.",
            if left == 1 { "" } else { "s" },
            if left == 1 { "s" } else { "" },
            level + 1
        ));
    }
    if plan.failed_in_a_row + 1 >= STEP_BACK_AFTER && level > 1 {
        words.push_str(&format!(
            " One more failed session steps back to level {}.",
            level - 1
        ));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::{DrillMetrics, RockerHoldMetrics};
    use crate::quality::DataQuality;
    use crate::scoring::Progress;

    fn report(level: u8, end: EndReason, progress: Option<(f64, Verdict)>) -> SessionReport {
        SessionReport {
            drill: DrillKind::RockerHold,
            level,
            source: "sim".into(),
            start_s: 0.0,
            duration_s: 20.0,
            target_duration_s: 20.0,
            end,
            score: 50.0,
            refused: None,
            progress: progress.map(|(score, verdict)| Progress {
                score,
                mode: ScoreMode::Progress,
                verdict,
                change_log: 0.0,
                mdc_log: 0.1,
                completion: 1.0,
                failures: 0,
                measures: Vec::new(),
            }),
            metrics: DrillMetrics::RockerHold(RockerHoldMetrics::default()),
            events: Vec::new(),
            events_total: 0,
            quality: DataQuality::default(),
            device: None,
            calibrations: Vec::new(),
            recording: None,
            pipeline_version: crate::pipeline::PIPELINE_VERSION.into(),
        }
    }

    fn done(level: u8, score: f64, verdict: Verdict) -> SessionReport {
        report(level, EndReason::Completed, Some((score, verdict)))
    }

    #[test]
    fn three_good_sessions_in_a_row_move_up() {
        let mut history = vec![report(1, EndReason::Completed, None); 3];
        history.push(done(1, 85.0, Verdict::Better));
        history.push(done(1, 90.0, Verdict::Better));
        let p = plan(DrillKind::RockerHold, &history);
        assert_eq!((p.level, p.good_in_a_row), (1, 2));
        // 80 but no real change breaks the run.
        history.push(done(1, 95.0, Verdict::NoRealChange));
        assert_eq!(plan(DrillKind::RockerHold, &history).good_in_a_row, 0);
        history.push(done(1, 80.0, Verdict::Better));
        history.push(done(1, 81.0, Verdict::Better));
        history.push(done(1, 79.9, Verdict::Better));
        assert_eq!(plan(DrillKind::RockerHold, &history).level, 1);
        for _ in 0..3 {
            history.push(done(1, 80.0, Verdict::Better));
        }
        let p = plan(DrillKind::RockerHold, &history);
        assert_eq!(p.level, 2);
        assert_eq!(p.sessions_at_level, 0);
        assert_eq!(p.last_change, Some(Change::Advanced { from: 1, to: 2 }));
    }

    #[test]
    fn two_failures_in_a_row_or_one_pain_stop_step_back() {
        let mut history: Vec<SessionReport> =
            (0..3).map(|_| done(1, 90.0, Verdict::Better)).collect();
        assert_eq!(plan(DrillKind::RockerHold, &history).level, 2);
        history.push(report(2, EndReason::UserStop, None));
        history.push(report(2, EndReason::Completed, None));
        history.push(report(2, EndReason::SteppedOff, None));
        assert_eq!(plan(DrillKind::RockerHold, &history).level, 2);
        let mut refused = report(2, EndReason::Completed, None);
        refused.refused = Some("Lost.".into());
        history.push(refused);
        let p = plan(DrillKind::RockerHold, &history);
        assert_eq!(p.level, 1);
        assert_eq!(
            p.last_change,
            Some(Change::SteppedBack {
                from: 2,
                to: 1,
                pain: false
            })
        );
        // Back up, then a pain stop at another level still steps back.
        history.extend((0..3).map(|_| done(1, 90.0, Verdict::Better)));
        assert_eq!(plan(DrillKind::RockerHold, &history).level, 2);
        history.push(report(4, EndReason::PainStop, None));
        let p = plan(DrillKind::RockerHold, &history);
        assert_eq!(p.level, 1);
        assert!(p.next.contains("pain"), "{}", p.next);
    }

    #[test]
    fn the_change_a_session_makes() {
        let imu = DeviceClass::Imu;
        let good: Vec<SessionReport> = (0..2).map(|_| done(1, 90.0, Verdict::Better)).collect();
        // The third good session in a row advances; the second does not.
        assert_eq!(change_by(imu, &good[..1], &good[1]), None);
        assert_eq!(
            change_by(imu, &good, &done(1, 90.0, Verdict::Better)),
            Some(Change::Advanced { from: 1, to: 2 })
        );
        // A pain stop steps back at once, even at level 1 and twice in a row.
        let pain = report(1, EndReason::PainStop, None);
        let stepped = Some(Change::SteppedBack {
            from: 1,
            to: 1,
            pain: true,
        });
        assert_eq!(change_by(imu, &[], &pain), stepped);
        assert_eq!(change_by(imu, std::slice::from_ref(&pain), &pain), stepped);
        // A failure at another level than the plan's changes nothing.
        assert_eq!(
            change_by(imu, &[], &report(3, EndReason::UserStop, None)),
            None
        );
    }

    #[test]
    fn level_changes_name_the_sessions_that_made_them() {
        // Three good sessions at level 1 (indexes 0-2) move up at the third; a pain stop at
        // index 4 steps back; another drill's session (index 3) is passed over.
        let mut history: Vec<SessionReport> =
            (0..3).map(|_| done(1, 90.0, Verdict::Better)).collect();
        let mut other = done(2, 90.0, Verdict::Better);
        other.drill = DrillKind::WobbleHold;
        history.push(other);
        history.push(report(2, EndReason::PainStop, None));
        let changes = level_changes(DrillKind::RockerHold, DeviceClass::Imu, &history);
        assert_eq!(
            changes,
            vec![
                (2, Change::Advanced { from: 1, to: 2 }),
                (
                    4,
                    Change::SteppedBack {
                        from: 2,
                        to: 1,
                        pain: true
                    }
                )
            ]
        );
    }

    #[test]
    fn the_ladder_has_a_top_and_a_bottom() {
        let history: Vec<SessionReport> = (1..=5)
            .flat_map(|level| (0..4).map(move |_| done(level, 100.0, Verdict::Better)))
            .collect();
        let p = plan(DrillKind::RockerHold, &history);
        assert_eq!(p.level, 5);
        let history = vec![report(1, EndReason::PainStop, None); 2];
        assert_eq!(plan(DrillKind::RockerHold, &history).level, 1);
    }
}
