//! `proprio history`, `proprio progress` and `proprio rescore`: the history database read for
//! people, and the stored recordings re-run through today's signal chain.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::db::{self, Db, HistoryEntry};
use super::{store, DrillName};
use crate::drill::DrillKind;
use crate::plan::{self, Change};
use crate::scoring::{DeviceClass, MeasureBaseline};
use crate::session::SessionReport;

/// `proprio history` and `proprio progress`'s flags.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this drill.
    #[arg(long, value_enum)]
    drill: Option<DrillName>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `proprio rescore`'s flags.
#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// Only this drill.
    #[arg(long, value_enum)]
    drill: Option<DrillName>,
    /// Show what would change without storing the new results.
    #[arg(long)]
    dry_run: bool,
    /// Recordings re-run at once [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: Option<u16>,
    /// Print the changes as one JSON array.
    #[arg(long)]
    json: bool,
}

/// "2026-11-21T10:11:12Z" as "2026-11-21 10:11".
fn minute(utc: &str) -> String {
    utc.get(..16).unwrap_or(utc).replacen('T', " ", 1)
}

/// `proprio history`: the sessions of `user`, oldest first.
pub fn history(data_dir: Option<PathBuf>, user: &str, args: &HistoryArgs) -> Result<ExitCode> {
    let db = Db::open(&store::data_dir(data_dir)?, user)?;
    let entries = db.history(user, args.drill.map(DrillKind::from))?;
    if args.json {
        out!(
            "{}",
            serde_json::to_string(&entries).context("cannot format the history")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        out!("No sessions yet for {user}: start with `proprio drill rocker-hold --source sim`.");
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{:<16}  {:<13}  {:>5}  {:<13}  {:>7}  {:<12}  {:>5}  {:<14}  recording",
        "date (UTC)",
        "drill",
        "level",
        "sensor",
        "time s",
        "end",
        "score",
        "verdict"
    );
    for e in &entries {
        let name = e
            .recording
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let Some(r) = &e.result else {
            out!(
                "{:<16}  {:<13}  {:>5}  {:<13}  {:>7}  {:<12}  {:>5}  {:<14}  {name}  ({})",
                minute(&e.created_utc),
                e.drill.name(),
                e.level,
                e.sensor.words(),
                "-",
                "no result",
                "-",
                "-",
                e.note.as_deref().unwrap_or("no result")
            );
            continue;
        };
        let score = r.score.map_or("-".to_string(), |s| format!("{s:.0}"));
        let verdict = match (&r.refused, &r.verdict) {
            (Some(_), _) => "not scored".to_string(),
            (None, Some(v)) => v.replace('-', " "),
            (None, None) => "baseline".to_string(),
        };
        out!(
            "{:<16}  {:<13}  {:>5}  {:<13}  {:>7.1}  {:<12}  {:>5}  {:<14}  {name}",
            minute(&e.created_utc),
            e.drill.name(),
            e.level,
            e.sensor.words(),
            r.duration_s,
            r.end,
            score,
            verdict
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The least-squares line through `(x, y)` points: its slope, `None` with fewer than two
/// distinct x.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The trend of the progress score at one level (each level has its own baseline, so scores
/// compare within a level only).
#[derive(Debug, Serialize)]
struct LevelTrend {
    level: u8,
    /// Sessions at this level with a result.
    sessions: usize,
    /// Of which scored against the baseline.
    scored: usize,
    first_score: Option<f64>,
    last_score: Option<f64>,
    /// Least-squares slope of the score, points per week.
    slope_per_week: Option<f64>,
}

/// A level change of the plan, dated.
#[derive(Debug, Serialize)]
struct DatedChange {
    at_utc: String,
    change: Change,
}

/// One drill's progress on one sensor.
#[derive(Debug, Serialize)]
struct DrillProgress {
    drill: DrillKind,
    sensor: DeviceClass,
    sessions: usize,
    first_utc: String,
    last_utc: String,
    /// The plan's level now.
    level: u8,
    levels: Vec<LevelTrend>,
    /// The baseline at the current level with its MDC band (`better_below`,
    /// `worse_above`), once complete.
    baseline: Vec<MeasureBaseline>,
    /// The latest scored session's composite change against the baseline and its MDC (log
    /// scale; negative is better).
    last_change_log: Option<f64>,
    last_mdc_log: Option<f64>,
    /// The level of that session.
    last_scored_level: Option<u8>,
    level_changes: Vec<DatedChange>,
}

/// Seconds per week.
const WEEK_S: f64 = 7.0 * 86_400.0;

/// Per drill and sensor: the trend at each level, the baseline's MDC band, the level changes.
fn progress_of(entries: &[HistoryEntry]) -> Result<Vec<DrillProgress>> {
    let with_result: Vec<&HistoryEntry> = entries.iter().filter(|e| e.result.is_some()).collect();
    let reports = db::reports(entries)?;
    let mut out = Vec::new();
    for drill in DrillKind::ALL {
        for &sensor in DeviceClass::for_drill(drill) {
            let mine: Vec<(usize, &SessionReport)> = reports
                .iter()
                .enumerate()
                .filter(|(_, r)| r.drill == drill && DeviceClass::of_report(r) == sensor)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let when = |i: usize| with_result[i].created_utc.clone();
            let mut levels: Vec<LevelTrend> = Vec::new();
            let mut level_numbers: Vec<u8> = mine.iter().map(|(_, r)| r.level).collect();
            level_numbers.sort_unstable();
            level_numbers.dedup();
            for level in level_numbers {
                let at: Vec<&(usize, &SessionReport)> =
                    mine.iter().filter(|(_, r)| r.level == level).collect();
                let scored: Vec<(f64, f64)> = at
                    .iter()
                    .filter_map(|(i, r)| {
                        let t_s = store::parse_utc(&with_result[*i].created_utc)? as f64;
                        Some((t_s / WEEK_S, r.progress.as_ref()?.score))
                    })
                    .collect();
                levels.push(LevelTrend {
                    level,
                    sessions: at.len(),
                    scored: scored.len(),
                    first_score: scored.first().map(|p| p.1),
                    last_score: scored.last().map(|p| p.1),
                    slope_per_week: slope(&scored),
                });
            }
            let p = plan::plan_on(drill, sensor, &reports);
            let last_scored = mine
                .iter()
                .rev()
                .find_map(|(_, r)| Some((r.level, r.progress.as_ref()?)));
            out.push(DrillProgress {
                drill,
                sensor,
                sessions: mine.len(),
                first_utc: when(mine[0].0),
                last_utc: when(mine[mine.len() - 1].0),
                level: p.level,
                levels,
                baseline: p.baseline,
                last_change_log: last_scored.map(|(_, p)| p.change_log),
                last_mdc_log: last_scored.map(|(_, p)| p.mdc_log),
                last_scored_level: last_scored.map(|(level, _)| level),
                level_changes: plan::level_changes(drill, sensor, &reports)
                    .into_iter()
                    .map(|(i, change)| DatedChange {
                        at_utc: when(i),
                        change,
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// A number for people, or "-".
fn or_dash(x: Option<f64>, decimals: usize) -> String {
    x.map_or("-".to_string(), |x| format!("{x:.decimals$}"))
}

/// `proprio progress`: per drill, the trend, the MDC band and the level changes.
pub fn progress(data_dir: Option<PathBuf>, user: &str, args: &HistoryArgs) -> Result<ExitCode> {
    let db = Db::open(&store::data_dir(data_dir)?, user)?;
    // The plan of a drill reads that drill's sessions only.
    let entries = db.history(user, args.drill.map(DrillKind::from))?;
    let all = progress_of(&entries)?;
    if args.json {
        out!(
            "{}",
            serde_json::to_string(&all).context("cannot format the progress")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        out!("No scored sessions yet for {user}.");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &all {
        let on = if DeviceClass::for_drill(p.drill).len() > 1 {
            format!(" on the {}", p.sensor.words())
        } else {
            String::new()
        };
        out!(
            "{}{on}: {} sessions from {} to {}; the plan is at level {}",
            p.drill.name(),
            p.sessions,
            minute(&p.first_utc),
            minute(&p.last_utc),
            p.level
        );
        for l in &p.levels {
            out!(
                "  level {}: {} sessions, {} scored; score first {}, last {}, trend {} points/week",
                l.level,
                l.sessions,
                l.scored,
                or_dash(l.first_score, 0),
                or_dash(l.last_score, 0),
                l.slope_per_week
                    .map_or("-".to_string(), |s| format!("{s:+.1}"))
            );
        }
        for m in &p.baseline {
            out!("  level {}: {}", p.level, super::plan::band_words(m));
        }
        if let (Some(change), Some(mdc)) = (p.last_change_log, p.last_mdc_log) {
            let words = if change <= -mdc {
                "better, beyond the MDC"
            } else if change >= mdc {
                "worse, beyond the MDC"
            } else {
                "within the MDC"
            };
            out!(
                "  last scored session (level {}): change {change:+.3} against an MDC of {mdc:.3} \
                 (log scale): {words}",
                p.last_scored_level.unwrap_or(p.level)
            );
        }
        for c in &p.level_changes {
            let words = match c.change {
                Change::Advanced { from, to } => format!("up from level {from} to {to}"),
                Change::SteppedBack {
                    from,
                    to,
                    pain: false,
                } => format!("back from level {from} to {to} after failed sessions"),
                Change::SteppedBack {
                    from,
                    to,
                    pain: true,
                } => format!("back from level {from} to {to} after a pain stop"),
            };
            out!("  {}: {words}", minute(&c.at_utc));
        }
        out!();
    }
    Ok(ExitCode::SUCCESS)
}

/// What re-scoring one session changed.
#[derive(Debug, Serialize)]
struct Rescored {
    session_id: i64,
    recording: String,
    old_version: String,
    new_version: String,
    old_task_score: f64,
    new_task_score: f64,
    old_score: Option<f64>,
    new_score: Option<f64>,
    /// Measures whose value changed: name, old, new.
    measures: Vec<(String, f64, f64)>,
    /// Re-scoring gave exactly the stored result.
    unchanged: bool,
    /// The recording was cut off (the result covers what it held).
    cut_off: Option<String>,
}

/// Every number in a JSON value, by its path (`time_out_of_band_s`, `phases.0.rms_deg`).
fn numbers(value: &Value, path: &str, out: &mut Vec<(String, f64)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Number(n) => out.push((path.to_string(), n.as_f64().unwrap_or(f64::NAN))),
        Value::Object(map) => map.iter().for_each(|(k, v)| numbers(v, &join(k), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| numbers(v, &join(&i.to_string()), out)),
        _ => {}
    }
}

/// The measures (the drill's metrics) that differ between two results, as JSON text (parsed
/// alike, so that equal text is equal numbers).
fn changed_measures(old_json: &str, new_json: &str) -> Result<Vec<(String, f64, f64)>> {
    let (old, new): (Value, Value) = (
        serde_json::from_str(old_json)?,
        serde_json::from_str(new_json)?,
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    numbers(&old["metrics"], "", &mut a);
    numbers(&new["metrics"], "", &mut b);
    let b: std::collections::HashMap<String, f64> = b.into_iter().collect();
    Ok(a.into_iter()
        .filter_map(|(k, x)| {
            let y = *b.get(&k)?;
            (x != y).then_some((k, x, y))
        })
        .collect())
}

/// `proprio rescore`: every recording of `user` (of one drill) re-run through today's code,
/// on one worker per core; new results stored beside the old ones unless `--dry-run`.
pub fn rescore(data_dir: Option<PathBuf>, user: &str, args: &RescoreArgs) -> Result<ExitCode> {
    let mut db = Db::open(&store::data_dir(data_dir)?, user)?;
    let entries: Vec<HistoryEntry> = db
        .history(user, args.drill.map(DrillKind::from))?
        .into_iter()
        .filter(|e| e.result.is_some())
        .collect();
    if entries.is_empty() {
        out!("No recorded results to re-score for {user}.");
        return Ok(ExitCode::SUCCESS);
    }
    let workers = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(entries.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "re-scoring {bar:40} {pos}/{len} recordings, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut replayed: Vec<Option<Result<super::run::Replayed>>> =
        (0..entries.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(entries.len()) {
            let tx = tx.clone();
            let (next, entries) = (&next, &entries);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(entry) = entries.get(i) else { break };
                if tx
                    .send((i, super::run::replay_file(&entry.recording)))
                    .is_err()
                {
                    break;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            replayed[i] = Some(result);
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut changes = Vec::new();
    let mut to_store = Vec::new();
    let mut failed = 0;
    for (entry, replayed) in entries.iter().zip(replayed) {
        let old_row = entry
            .result
            .as_ref()
            .context("only sessions with a result")?;
        let replayed = match replayed.context("every recording was handed to a worker")? {
            Ok(r) => r,
            Err(error) => {
                eprintln!("proprio: warning: {error:#}");
                failed += 1;
                continue;
            }
        };
        let old = old_row.report()?;
        let mut new = replayed.report.clone();
        // Stored results keep no path (see `db`): compare like with like, as text.
        new.recording = None;
        let new_json = serde_json::to_string(&new).context("cannot format the result")?;
        let unchanged = new_json == old_row.report_json;
        changes.push(Rescored {
            session_id: entry.session_id,
            recording: entry.recording.display().to_string(),
            old_version: old.pipeline_version.clone(),
            new_version: new.pipeline_version.clone(),
            old_task_score: old.score,
            new_task_score: new.score,
            old_score: old.progress.as_ref().map(|p| p.score),
            new_score: new.progress.as_ref().map(|p| p.score),
            measures: changed_measures(&old_row.report_json, &new_json)?,
            unchanged,
            cut_off: replayed.cut_off_words(),
        });
        if !unchanged && !args.dry_run {
            to_store.push((entry.session_id, replayed.report));
        }
    }
    let stored: Vec<(i64, &SessionReport)> = to_store.iter().map(|(id, r)| (*id, r)).collect();
    if !stored.is_empty() {
        db.add_results(&stored)?;
    }
    let changed = changes.iter().filter(|c| !c.unchanged).count();
    if args.json {
        out!(
            "{}",
            serde_json::to_string(&changes).context("cannot format the changes")?
        );
    } else {
        for c in changes.iter().filter(|c| !c.unchanged) {
            let name = PathBuf::from(&c.recording);
            let name = name
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            out!(
                "{name}: signal chain {} -> {}, task score {:.1} -> {:.1}, score {} -> {}",
                c.old_version,
                c.new_version,
                c.old_task_score,
                c.new_task_score,
                or_dash(c.old_score, 1),
                or_dash(c.new_score, 1)
            );
            for (measure, old, new) in c.measures.iter().take(8) {
                out!("  {measure}: {old} -> {new}");
            }
            if c.measures.len() > 8 {
                out!("  … and {} more measures", c.measures.len() - 8);
            }
            if let Some(words) = &c.cut_off {
                out!("  ({words})");
            }
        }
        let stored = if args.dry_run {
            "nothing stored (--dry-run)".to_string()
        } else {
            format!("{changed} new results stored beside the old ones")
        };
        out!(
            "Re-scored {} recordings on {} workers: {changed} changed, {} unchanged; {stored}.",
            changes.len(),
            workers.min(entries.len()),
            changes.len() - changed
        );
    }
    if failed > 0 {
        bail!("{failed} recordings could not be re-run (see the warnings above)");
    }
    Ok(ExitCode::SUCCESS)
}
