//! The progress of each drill over a history of sessions: per session its progress score and
//! its change from the baseline of its level with that baseline's minimal detectable change
//! (docs/scoring.md), and where the plan moved a level. Source-agnostic: it takes the history
//! as dated results, oldest first, wherever they were read from.

use serde::Serialize;

use crate::drill::{DrillKind, EndReason};
use crate::plan;
use crate::scoring::{self, Baseline, DeviceClass, Verdict};
use crate::session::SessionReport;

/// One session of a history: when it started and its result.
#[derive(Debug, Clone)]
pub struct Dated {
    /// The session's ID.
    pub session: String,
    /// When it started, UTC, RFC 3339.
    pub created_utc: String,
    /// Its result.
    pub report: SessionReport,
}

/// One session on a drill's progress plot.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressPoint {
    /// The session's ID.
    pub session: String,
    /// When it started, UTC.
    pub created_utc: String,
    /// Weeks since the drill's first session.
    pub week: f64,
    /// The level it ran at.
    pub level: u8,
    /// Why it ended.
    pub end: EndReason,
    /// True when the quality gates refused to score it.
    pub refused: bool,
    /// Its progress score (0 baseline, 100 healthy reference), as recorded; absent for a
    /// baseline trial or a refused one.
    pub progress_score: Option<f64>,
    /// Its verdict, as recorded.
    pub verdict: Option<Verdict>,
    /// True when it is one of its level's baseline trials.
    pub baseline_trial: bool,
    /// How much lower (better) its measures are than its level's baseline, % (the
    /// composite's change on the log scale, `(1 − e^change) · 100`); absent until the level's
    /// baseline is complete, or when it was not scored.
    pub improvement_percent: Option<f64>,
    /// The level's minimal detectable change as the same percentage: a session above `high`
    /// is better than the baseline beyond the measurement noise, below `low` worse.
    pub mdc_band_percent: Option<[f64; 2]>,
}

/// A level change of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelChange {
    /// Weeks since the drill's first session, at the session that caused it.
    pub week: f64,
    /// Index of that session among the drill's points.
    pub after_point: usize,
    /// The level left.
    pub from: u8,
    /// The level the plan moved to.
    pub to: u8,
}

/// A drill's progress on one sensor.
#[derive(Debug, Clone, Serialize)]
pub struct DrillProgress {
    /// The drill.
    pub drill: DrillKind,
    /// The sensor.
    pub device: DeviceClass,
    /// Its sessions, oldest first.
    pub points: Vec<ProgressPoint>,
    /// Where the plan moved, by its rules (`plan::plan_on` after each session).
    pub level_changes: Vec<LevelChange>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970 of an RFC 3339 UTC time (`2026-01-05T09:00:00Z`); `None` if it is not one.
pub fn days_of(rfc3339: &str) -> Option<f64> {
    let parts: Vec<f64> = rfc3339
        .trim_end_matches('Z')
        .split(['-', 'T', ':'])
        .map(|p| p.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let [y, m, d, hh, mm, ss] = parts[..] else {
        return None;
    };
    let days = days_from_civil(y as i64, m as u32, d as u32) as f64;
    Some(days + (hh * 3600.0 + mm * 60.0 + ss) / 86_400.0)
}

/// Every drill's progress over `history` (oldest first), one per drill and sensor that has a
/// session.
pub fn progress(history: &[Dated]) -> Vec<DrillProgress> {
    let reports: Vec<SessionReport> = history.iter().map(|d| d.report.clone()).collect();
    let mut ladders: Vec<(DrillKind, DeviceClass)> = Vec::new();
    for r in &reports {
        let key = (r.drill, DeviceClass::of_report(r));
        if !ladders.contains(&key) {
            ladders.push(key);
        }
    }
    ladders
        .into_iter()
        .map(|(drill, device)| drill_progress(drill, device, history, &reports))
        .collect()
}

fn drill_progress(
    drill: DrillKind,
    device: DeviceClass,
    history: &[Dated],
    reports: &[SessionReport],
) -> DrillProgress {
    let spec = scoring::scoring_for(drill, device);
    let mine: Vec<usize> = (0..history.len())
        .filter(|&i| reports[i].drill == drill && DeviceClass::of_report(&reports[i]) == device)
        .collect();
    let first_day = mine
        .first()
        .and_then(|&i| days_of(&history[i].created_utc))
        .unwrap_or(0.0);
    // This ladder's sessions alone: the plan and the baselines look at no others.
    let ladder: Vec<SessionReport> = mine.iter().map(|&i| reports[i].clone()).collect();
    let mut baselines: Vec<(u8, Baseline)> = Vec::new();
    let mut points = Vec::new();
    let mut level_changes = Vec::new();
    let mut level = 1;
    for (n, &i) in mine.iter().enumerate() {
        let d = &history[i];
        let r = &d.report;
        let week = days_of(&d.created_utc).map_or(n as f64, |day| (day - first_day) / 7.0);
        let baseline = spec.map(|s| match baselines.iter().find(|(l, _)| *l == r.level) {
            Some((_, b)) => b.clone(),
            None => {
                let b = Baseline::collect(s, r.level, &ladder);
                baselines.push((r.level, b.clone()));
                b
            }
        });
        // Scored, but without a progress score: the level's baseline was not complete yet.
        let baseline_trial = r.progress.is_none()
            && r.refused.is_none()
            && spec.is_some_and(|s| scoring::trial_values(s, r).is_some());
        // The change against the level's complete baseline, by the scoring's own assessment.
        let assessed = baseline
            .as_ref()
            .filter(|_| r.refused.is_none())
            .and_then(|b| scoring::assess(r, b));
        let pct = |log: f64| (1.0 - log.exp()) * 100.0;
        points.push(ProgressPoint {
            session: d.session.clone(),
            created_utc: d.created_utc.clone(),
            week,
            level: r.level,
            end: r.end,
            refused: r.refused.is_some(),
            progress_score: r.progress.as_ref().map(|p| p.score),
            verdict: r.progress.as_ref().map(|p| p.verdict),
            baseline_trial,
            improvement_percent: assessed.as_ref().map(|p| pct(p.change_log)),
            mdc_band_percent: assessed.as_ref().map(|p| [pct(p.mdc_log), pct(-p.mdc_log)]),
        });
        // The plan after this session, by its rules over the history so far.
        let now = plan::plan_on(drill, device, &ladder[..=n]).level;
        if now != level {
            level_changes.push(LevelChange {
                week,
                after_point: n,
                from: level,
                to: now,
            });
            level = now;
        }
    }
    DrillProgress {
        drill,
        device,
        points,
        level_changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days() {
        assert_eq!(days_of("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(days_of("2000-03-01T12:00:00Z"), Some(11_017.5));
        assert_eq!(days_of("2026-11-21T00:00:00Z"), Some(20_778.0));
        assert_eq!(days_of("yesterday"), None);
    }
}
