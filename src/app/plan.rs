//! `proprio plan`, and the plan's level and baseline for a new session.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::db::Db;
use super::store;
use crate::drill::DrillKind;
use crate::plan::{self, Change, DrillPlan};
use crate::scoring::{Baseline, DeviceClass, MeasureBaseline};
use crate::session::SessionReport;

/// `proprio plan [--json]`: where `user` stands on each drill, and what is next.
pub fn show(data_dir: Option<PathBuf>, user: &str, json: bool) -> Result<ExitCode> {
    let history = Db::open(&store::data_dir(data_dir)?, user)?.results(user)?;
    // One ladder per drill and sensor it runs on.
    let plans: Vec<DrillPlan> = DrillKind::ALL
        .into_iter()
        .flat_map(|drill| {
            DeviceClass::for_drill(drill)
                .iter()
                .map(move |&device| (drill, device))
        })
        .map(|(drill, device)| plan::plan_on(drill, device, &history))
        .collect();
    if json {
        out!(
            "{}",
            serde_json::to_string(&plans).context("cannot format the plan")?
        );
    } else {
        for p in &plans {
            print_plan(p);
        }
        out!("proprio is a training aid, not a diagnosis. Stop at once if a drill hurts.");
    }
    Ok(ExitCode::SUCCESS)
}

/// What a new session of `drill` needs from the history: its level (`level` if given, else
/// the plan's), the baseline at that level once complete, and the scored trials of that
/// baseline so far.
pub struct NextSession {
    /// The level to run.
    pub level: u8,
    /// The complete baseline at that level, if there is one.
    pub baseline: Option<Baseline>,
    /// Scored baseline trials at that level so far (up to 3).
    pub baseline_trials: usize,
    /// The user's results this came from, oldest first.
    pub history: Vec<SessionReport>,
}

/// The level and baseline for `user`'s new session of `drill` on `device` (see
/// [`NextSession`]).
pub fn next_session(
    db: &Db,
    user: &str,
    drill: DrillKind,
    device: DeviceClass,
    level: Option<u8>,
) -> Result<NextSession> {
    let history: Vec<SessionReport> = db.results(user)?;
    let level = level.unwrap_or_else(|| plan::plan_on(drill, device, &history).level);
    let baseline = plan::baseline_on(drill, device, level, &history);
    Ok(NextSession {
        level,
        baseline_trials: baseline.as_ref().map_or(0, |b| b.trials.len()),
        baseline: baseline.filter(Baseline::is_complete),
        history,
    })
}

/// A measure for people: one decimal, or as many as two significant digits need (an
/// acceleration RMS of 0.03 m/s² is not "0.0").
fn readable(x: f64) -> String {
    let decimals = if x == 0.0 || !x.is_finite() {
        1
    } else {
        (1 - x.abs().log10().floor() as i32).clamp(1, 6) as usize
    };
    format!("{x:.decimals$}")
}

/// A measure's baseline and its MDC band, for people: "baseline tilt RMS: 6.4 ° (healthy
/// 2.0); a real change is below 4.3 or above 9.6 (MDC ×1.49)".
pub(super) fn band_words(m: &MeasureBaseline) -> String {
    // A measure that cannot go below 0 (a count, a share) may have no better value that is
    // beyond the noise.
    let change = if m.better_below >= 0.0 {
        format!(
            "below {} or above {}",
            readable(m.better_below),
            readable(m.worse_above)
        )
    } else {
        format!("only above {} (worse)", readable(m.worse_above))
    };
    format!(
        "baseline {}: {} {} (healthy {}); a real change is {change} (MDC ×{:.2})",
        m.label,
        readable(m.baseline),
        m.unit,
        readable(m.reference),
        m.mdc_ratio
    )
}

fn print_plan(p: &DrillPlan) {
    // A drill on two kinds of sensor says which ladder this is.
    let on = if DeviceClass::for_drill(p.drill).len() > 1 {
        format!(" on the {}", p.device.words())
    } else {
        String::new()
    };
    out!("{}{on}: level {} of {}", p.drill.name(), p.level, p.levels);
    out!("  sessions at this level: {}", p.sessions_at_level);
    match &p.last {
        None => out!("  last session: none yet"),
        Some(last) => {
            let score = match (&last.refused, last.score) {
                (Some(why), _) => format!("not scored ({why})"),
                (None, Some(score)) => format!("score {score:.0}"),
                (None, None) => "no progress score (baseline trial)".to_string(),
            };
            let verdict = last
                .verdict
                .map_or(String::new(), |v| format!(", {}", v.words()));
            out!(
                "  last session: level {}, {}, {score}{verdict}",
                last.level,
                serde_json::to_value(last.end)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
        }
    }
    if p.baseline.is_empty() {
        out!(
            "  baseline: {} of {} scored trials",
            p.baseline_trials,
            crate::scoring::BASELINE_TRIALS
        );
    }
    for m in &p.baseline {
        out!("  {}", band_words(m));
    }
    if let Some(Change::SteppedBack { pain: true, .. }) = p.last_change {
        out!("  stepped back after a pain stop");
    }
    out!("  next: {}", p.next);
    out!();
}
