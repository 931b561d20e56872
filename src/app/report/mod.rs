//! `proprio report`: plots of sessions and of progress over weeks, as SVG and PNG files and a
//! self-contained HTML page (the plots inline, a summary table, a sentence on what each plot
//! shows) that a user can hand to a clinician.
//!
//! Per session: a **stabilogram** for the balance-board drills (the centre of pressure's path
//! after the canonical preprocessing, with the 95 % prediction ellipse whose area the result
//! reports; the weight shift's path with its targets); for the wearable drills the **controlled quantity over time** with the target band
//! and the drill's events (the rocker's tilt, the wobble board's tilt, the trunk's deviation
//! from neutral, the trunk's sway in quiet stance), and for a walk the **step timeline** (each
//! heel strike, missteps and stops over the trunk's sideways lean). Over the history
//! (`--progress`): per drill, the progress score of each session, its change from its level's
//! baseline with the minimal detectable change as a band, and the plan's level changes
//! ([`progress`]); `progress.json` holds the same numbers.

mod plots;
pub mod progress;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use serde_json::Value;

use super::db::{self, Db};
use super::exchange::{decode, resolve_sessions, Decoded};
use crate::drill::{DrillEvent, LATERAL_MISSTEP_DEG};
use crate::measures::{prepare, sway_measures, Preprocessing};
use crate::scoring::DeviceClass;
use crate::session::DrillSetup;
use plots::{Line, Mark, ProgressPlot, Stabilogram, Tone, Trace};
use progress::{Dated, DrillProgress};

/// `proprio report`'s flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Recordings (`.prec`) to report on.
    files: Vec<PathBuf>,
    /// A session to report on, by ID (its recording's name without `.prec`; repeatable)
    /// [default: the latest session, unless --progress alone is asked for].
    #[arg(long = "session", value_name = "ID")]
    sessions: Vec<String>,
    /// Add the progress report over every session in the data directory.
    #[arg(long)]
    progress: bool,
    /// The directory to write to [default: `<data dir>/reports`].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Size of a session's plots, pixels.
const PLOT_SIZE: (u32, u32) = (1000, 560);
/// Size of a stabilogram, pixels (square: both axes in mm).
const STABILOGRAM_SIZE: (u32, u32) = (720, 720);
/// Size of a progress plot, pixels.
const PROGRESS_SIZE: (u32, u32) = (1100, 820);

/// Draws `$plot` as `$base.svg` and `$base.png`; evaluates to the SVG text.
macro_rules! render {
    ($plot:expr, $base:expr, $size:expr) => {{
        let base: &Path = $base;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, $size).into_drawing_area();
            $plot.draw(&root)?;
        }
        // Appended, not `with_extension`: a session's name may hold dots.
        let png = PathBuf::from(format!("{}.png", base.display()));
        {
            let root = BitMapBackend::new(&png, $size).into_drawing_area();
            $plot.draw(&root)?;
        }
        let svg_path = PathBuf::from(format!("{}.svg", base.display()));
        std::fs::write(&svg_path, &svg)
            .with_context(|| format!("cannot write {}", svg_path.display()))?;
        svg
    }};
}

/// A plot in the HTML page.
struct Figure {
    svg: String,
    file: String,
    caption: String,
}

/// `proprio report`.
pub fn report(data_dir: &Path, user: &str, args: &ReportArgs) -> Result<ExitCode> {
    plots::register_font();
    let out = args.out.clone().unwrap_or_else(|| data_dir.join("reports"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let named = !args.files.is_empty() || !args.sessions.is_empty();
    let paths = if named {
        resolve_sessions(data_dir, &args.sessions, &args.files, false)?
    } else if !args.progress {
        // The user's latest session.
        let latest = Db::open(data_dir, user)?
            .history(user, None)?
            .pop()
            .context("no sessions to report on yet: run a drill first, or name a recording")?;
        vec![latest.recording]
    } else {
        Vec::new()
    };
    let mut html = String::new();
    let mut figures = 0;
    for path in &paths {
        let decoded = decode(path)?;
        let section = session_section(&decoded, &out)?;
        figures += section.1;
        html.push_str(&section.0);
    }
    if args.progress || !named {
        let history = history(data_dir, user)?;
        let drills = progress::progress(&history);
        let json = serde_json::to_string_pretty(&drills).context("cannot format the progress")?;
        let json_path = out.join("progress.json");
        std::fs::write(&json_path, json)
            .with_context(|| format!("cannot write {}", json_path.display()))?;
        let (section, n) = progress_section(&drills, &out)?;
        figures += n;
        html.push_str(&section);
    }
    let page = page(&html);
    let html_path = out.join("report.html");
    std::fs::write(&html_path, page)
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    out!(
        "wrote {} plot(s) as SVG and PNG and {} to {}",
        figures,
        html_path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `user`'s history as dated results, oldest first, from the history database.
fn history(data_dir: &Path, user: &str) -> Result<Vec<Dated>> {
    let entries = Db::open(data_dir, user)?.history(user, None)?;
    let reports = db::reports(&entries)?;
    let with_result = entries.iter().filter(|e| e.result.is_some());
    Ok(with_result
        .zip(reports)
        .map(|(entry, report)| Dated {
            session: super::exchange::session_id(&entry.recording),
            created_utc: entry.created_utc.clone(),
            report,
        })
        .collect())
}

/// A session's section of the page and its figure count; its plots written to `out`.
fn session_section(d: &Decoded, out: &Path) -> Result<(String, usize)> {
    let r = &d.report;
    let mut figures = Vec::new();
    let on_board = DeviceClass::of_report(r) == DeviceClass::BalanceBoard;
    let base = |what: &str| out.join(format!("{}-{what}", d.id));
    if on_board {
        if let Some(figure) = stabilogram(d, &base("stabilogram"))? {
            figures.push(figure);
        }
    } else if let Some(trace) = trace(d) {
        let (trace, caption, name) = trace;
        let svg = render!(trace, &base(name), PLOT_SIZE);
        figures.push(Figure {
            svg,
            file: format!("{}-{name}.png", d.id),
            caption,
        });
    }
    let mut html = String::new();
    let _ = write!(
        html,
        "<section><h2>{} — level {} — {}</h2>",
        esc(r.drill.name()),
        r.level,
        esc(&d.meta.created_utc)
    );
    html.push_str("<table>");
    let progress = r.progress.as_ref();
    let rows: Vec<(&str, String)> = vec![
        ("session", d.id.clone()),
        ("sensor", DeviceClass::of_report(r).words().to_string()),
        ("source", r.source.clone()),
        (
            "duration",
            format!("{:.1} s of {:.0} s", r.duration_s, r.target_duration_s),
        ),
        ("ended", value_text(&serde_json::to_value(r.end)?)),
        ("task score (0–100)", format!("{:.0}", r.score)),
        (
            "progress score (0 baseline, 100 healthy reference)",
            progress.map_or("— (baseline trial or not scored)".into(), |p| {
                format!("{:.0}", p.score)
            }),
        ),
        (
            "against your baseline",
            progress.map_or("—".into(), |p| p.verdict.words().to_string()),
        ),
        (
            "not scored because",
            r.refused.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "data",
            format!(
                "{} samples, {:.1} % lost",
                r.quality.samples_received, r.quality.loss_percent
            ),
        ),
        ("signal chain", r.pipeline_version.clone()),
    ];
    for (name, value) in rows {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(name),
            esc(&value)
        );
    }
    html.push_str("</table>");
    if let Value::Object(metrics) = serde_json::to_value(r.metrics)? {
        html.push_str("<details><summary>All measures</summary><table>");
        for (name, value) in metrics {
            if !matches!(value, Value::Array(_) | Value::Object(_)) {
                let _ = write!(
                    html,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(&name),
                    esc(&value_text(&value))
                );
            }
        }
        html.push_str("</table></details>");
    }
    let n = figures.len();
    for f in figures {
        push_figure(&mut html, &f);
    }
    html.push_str("</section>");
    Ok((html, n))
}

/// A JSON value for people.
fn value_text(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.3}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The stabilogram of a board session: the standing drills' measured COP after the canonical
/// preprocessing with its ellipse; the weight shift's raw path (its ellipse means nothing).
fn stabilogram(d: &Decoded, base: &Path) -> Result<Option<Figure>> {
    let r = &d.report;
    let standing = r.drill.stance_task().is_some();
    let (ml, ap, ellipse, centred, caption);
    if standing {
        let prepared = prepare(&d.samples.measured_cop, Some(&Preprocessing::CANONICAL));
        let m = sway_measures(&prepared.ml, &prepared.ap, prepared.rate_hz);
        if m.points < 3 {
            return Ok(None);
        }
        ellipse = Some((m.ellipse_semi_axes_95, m.ellipse_major_axis_deg));
        (ml, ap, centred) = (prepared.ml, prepared.ap, true);
        caption = format!(
            "Stabilogram: the path of the centre of pressure (where your weight rests on the \
             board) during the hold, seen from above, after the standard preprocessing (25 Hz, \
             10 Hz low-pass). The red ellipse would hold 95 % of your positions; its area, \
             {:.0} mm², is the result's ellipse area. Smaller and rounder is steadier.",
            m.ellipse_area_95
        );
    } else {
        let stretch = d.samples.cop_between(r.start_s, r.start_s + r.duration_s);
        if stretch.len() < 3 {
            return Ok(None);
        }
        (ml, ap, centred, ellipse) = (stretch.ml, stretch.ap, false, None);
        caption = "The path of the centre of pressure during the weight shift, seen from above \
                   in the board's frame, with the targets (green: reached and held, red: \
                   missed): each excursion is a lean towards a target and back."
            .to_string();
    }
    let plot = Stabilogram {
        title: &format!("{} — centre of pressure", d.report.drill.name()),
        ml_mm: &ml,
        ap_mm: &ap,
        ellipse,
        centred,
        targets: targets(d),
    };
    let svg = render!(plot, base, STABILOGRAM_SIZE);
    Ok(Some(Figure {
        svg,
        file: format!(
            "{}.png",
            base.file_name().unwrap_or_default().to_string_lossy()
        ),
        caption,
    }))
}

/// A weight shift's targets in the board's frame (the user's centre plus each target's
/// offset), their radius, and whether each was reached or missed.
fn targets(d: &Decoded) -> Vec<([f64; 2], f64, Option<bool>)> {
    let (DrillSetup::WeightShift(config), crate::drill::DrillMetrics::WeightShift(m)) =
        (d.meta.drill, d.report.metrics)
    else {
        return Vec::new();
    };
    let Some([cx, cy]) = m.centre_mm else {
        return Vec::new();
    };
    let outcome = |target: u8| {
        d.report.events.iter().find_map(|e| match e {
            DrillEvent::TargetReached { target: t, .. } if *t == target => Some(true),
            DrillEvent::TargetMissed { target: t, .. } if *t == target => Some(false),
            _ => None,
        })
    };
    d.report
        .events
        .iter()
        .filter_map(|e| match e {
            DrillEvent::TargetShown {
                target, offset_mm, ..
            } => Some((
                [cx + offset_mm[0], cy + offset_mm[1]],
                config.radius_mm,
                outcome(*target),
            )),
            _ => None,
        })
        .collect()
}

/// Mean of `values` over the samples whose time is within [from, to]; 0 when none are.
fn mean_between(points: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let inside: Vec<f64> = points
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .map(|p| p.1)
        .collect();
    if inside.is_empty() {
        0.0
    } else {
        inside.iter().sum::<f64>() / inside.len() as f64
    }
}

/// The trace of a wearable session: what the drill controls over time, its band and events;
/// with a caption and a file name.
fn trace(d: &Decoded) -> Option<(Trace<'static>, String, &'static str)> {
    let r = &d.report;
    let last_s = d.samples.tilt.last()?.t_us as f64 * 1e-6;
    // Time from the drill's start, a little of the lead-in shown; an imported recording's
    // drill is nominal, so all of it from its first sample.
    let imported = d.meta.imported.is_some();
    let (origin, x_range) = if imported {
        (0.0, (0.0, last_s))
    } else {
        (r.start_s, (-r.start_s.min(5.0), r.duration_s + 1.0))
    };
    let series = |f: &dyn Fn(&crate::pipeline::BoardTilt) -> f64| -> Vec<(f64, f64)> {
        d.samples
            .tilt
            .iter()
            .map(|t| (t.t_us as f64 * 1e-6 - origin, f(t)))
            .filter(|(t, _)| *t >= x_range.0 && *t <= x_range.1)
            .collect()
    };
    let x_desc = if imported {
        "time from the start of the recording, s"
    } else {
        "time from the start of the drill, s"
    };
    let mut marks = Vec::new();
    for e in &r.events {
        let (kind, tone) = match e {
            DrillEvent::LeftBand { .. } => ("left the band", Tone::Bad),
            DrillEvent::Corrected { .. } => ("back in the band", Tone::Good),
            DrillEvent::EdgeContact { .. } => ("edge touched the floor", Tone::Contact),
            DrillEvent::HoldBroken { .. } => ("hold broken (out over 1 s)", Tone::Bad),
            DrillEvent::SteppedOff { .. } => ("stepped out", Tone::Bad),
            DrillEvent::Step { .. } => ("heel strike", Tone::Good),
            DrillEvent::Misstep { .. } => ("misstep", Tone::Bad),
            DrillEvent::Stopped { .. } => ("stop", Tone::Neutral),
            _ => continue,
        };
        marks.push(Mark {
            t_s: e.t_s() + r.start_s - origin,
            kind,
            tone,
        });
    }
    let name = r.drill.name();
    let title = |what: &str| format!("{name} — {what}");
    match d.meta.drill {
        DrillSetup::RockerHold(c) => Some((
            Trace {
                title: title("board tilt"),
                x_desc,
                y_desc: "tilt, degrees",
                lines: vec![Line {
                    label: "board tilt".into(),
                    points: series(&|t| t.tilt_deg),
                    second: false,
                }],
                band: Some((
                    -c.band_deg,
                    c.band_deg,
                    format!("target band ±{}°", c.band_deg),
                )),
                limits: Some((
                    vec![-c.edge_limit_deg, c.edge_limit_deg],
                    format!("edge on the floor (±{}°)", c.edge_limit_deg),
                )),
                marks,
                x_range,
            },
            "The rocker board's tilt over the drill (0 is level), with the target band in green \
             and the board's edges at the dashed lines; ticks mark leaving the band (red) and \
             coming back (green)."
                .into(),
            "tilt",
        )),
        DrillSetup::WobbleHold(c) => Some((
            Trace {
                title: title("board tilt"),
                x_desc,
                y_desc: "tilt whichever way, degrees",
                lines: vec![Line {
                    label: "board tilt".into(),
                    points: series(&|t| t.tilt_magnitude_deg()),
                    second: false,
                }],
                band: Some((
                    0.0,
                    c.band_deg,
                    format!("target band, under {}°", c.band_deg),
                )),
                limits: Some((
                    vec![c.edge_limit_deg],
                    format!("rim on the floor ({}°)", c.edge_limit_deg),
                )),
                marks,
                x_range,
            },
            "How far the wobble board tilts, whichever way, over the drill (0 is level), with the \
             target band in green and the rim touching the floor at the dashed line; ticks mark \
             leaving the band, coming back and rim contacts."
                .into(),
            "tilt",
        )),
        DrillSetup::NeutralSpine(c) => {
            let pitch = series(&|t| t.pitch_deg);
            let roll = series(&|t| t.roll_deg);
            // The drill takes the neutral while the user is still just before the hold.
            let (p0, r0) = (
                mean_between(&pitch, -2.0, 0.0),
                mean_between(&roll, -2.0, 0.0),
            );
            Some((
                Trace {
                    title: title("trunk deviation from neutral"),
                    x_desc,
                    y_desc: "deviation, degrees",
                    lines: vec![
                        Line {
                            label: "forward (+) / back (−)".into(),
                            points: pitch.iter().map(|(t, v)| (*t, v - p0)).collect(),
                            second: false,
                        },
                        Line {
                            label: "side bend".into(),
                            points: roll.iter().map(|(t, v)| (*t, v - r0)).collect(),
                            second: true,
                        },
                    ],
                    band: Some((
                        -c.band_deg,
                        c.band_deg,
                        format!("target band ±{}°", c.band_deg),
                    )),
                    limits: None,
                    marks,
                    x_range,
                },
                "The lower back's deviation from your neutral posture (your posture in the 2 s \
                 before the hold started) over the drill, forward–back and sideways, with the \
                 target band in green; ticks mark leaving the band, coming back and holds broken."
                    .into(),
                "deviation",
            ))
        }
        DrillSetup::TandemWalk(_) => {
            let roll = series(&|t| t.roll_deg);
            let r0 = mean_between(&roll, -1.0, 0.0);
            Some((
                Trace {
                    title: title("step timeline"),
                    x_desc,
                    y_desc: "trunk lean sideways, degrees",
                    lines: vec![Line {
                        label: "trunk lean sideways".into(),
                        points: roll.iter().map(|(t, v)| (*t, v - r0)).collect(),
                        second: false,
                    }],
                    band: Some((
                        -LATERAL_MISSTEP_DEG,
                        LATERAL_MISSTEP_DEG,
                        format!("within ±{LATERAL_MISSTEP_DEG}° of upright"),
                    )),
                    limits: None,
                    marks,
                    x_range,
                },
                "The walk's step timeline: each heel strike (green tick), missteps (red) and \
                 stops (grey), over the trunk's sideways lean from upright; a lean beyond the \
                 green band makes a step a misstep."
                    .into(),
                "steps",
            ))
        }
        _ => {
            let pitch = series(&|t| t.pitch_deg);
            let roll = series(&|t| t.roll_deg);
            let (p0, r0) = (
                mean_between(&pitch, x_range.0, x_range.1),
                mean_between(&roll, x_range.0, x_range.1),
            );
            Some((
                Trace {
                    title: title(if imported {
                        "sensor tilt"
                    } else {
                        "trunk sway"
                    }),
                    x_desc,
                    y_desc: if imported {
                        "tilt from its mean, degrees"
                    } else {
                        "trunk angle from its mean, degrees"
                    },
                    lines: vec![
                        Line {
                            label: "forward–back".into(),
                            points: pitch.iter().map(|(t, v)| (*t, v - p0)).collect(),
                            second: false,
                        },
                        Line {
                            label: "side to side".into(),
                            points: roll.iter().map(|(t, v)| (*t, v - r0)).collect(),
                            second: true,
                        },
                    ],
                    band: None,
                    limits: None,
                    marks,
                    x_range,
                },
                if imported {
                    "The sensor's tilt over the whole imported recording, forward–back and side \
                     to side (about its y and x axes), from its mean."
                        .into()
                } else {
                    "The lower back's sway while standing, forward–back and side to side, from \
                     its mean over the hold; a tick marks stepping out of the stance."
                        .into()
                },
                "sway",
            ))
        }
    }
}

/// The progress section of the page and its figure count; its plots written to `out`.
fn progress_section(drills: &[DrillProgress], out: &Path) -> Result<(String, usize)> {
    let mut html = String::from("<section><h2>Progress over the weeks</h2>");
    if drills.is_empty() {
        html.push_str("<p>No sessions yet.</p></section>");
        return Ok((html, 0));
    }
    for p in drills {
        let sensor = match p.device {
            DeviceClass::Imu => "wearable",
            DeviceClass::BalanceBoard => "board",
        };
        let name = format!("progress-{}-{sensor}", p.drill.name());
        let plot = ProgressPlot {
            progress: p,
            title: format!(
                "{} on the {}: {} sessions",
                p.drill.name(),
                p.device.words(),
                p.points.len()
            ),
        };
        let svg = render!(plot, &out.join(&name), PROGRESS_SIZE);
        push_figure(
            &mut html,
            &Figure {
                svg,
                file: format!("{name}.png"),
                caption: "Top: each session's progress score (0 is your baseline, 100 the healthy \
                          reference; three sessions in a row at 80 or more with a real change \
                          move you up a level). Bottom: how much better each session's measures \
                          are than your baseline at that level, with the grey band of the minimal \
                          detectable change (inside it, a change may be measurement noise); \
                          hollow points are the baseline trials. Vertical lines mark the plan's \
                          level changes (green up, red down)."
                    .into(),
            },
        );
        html.push_str(
            "<table><tr><th>date</th><th>level</th><th>ended</th><th>progress score</th>\
             <th>verdict</th><th>better than baseline</th></tr>",
        );
        for q in &p.points {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&q.created_utc),
                q.level,
                esc(&value_text(&serde_json::to_value(q.end)?)),
                q.progress_score.map_or("—".into(), |s| format!("{s:.0}")),
                q.verdict.map_or(
                    if q.baseline_trial {
                        "baseline trial"
                    } else {
                        "—"
                    }
                    .to_string(),
                    |v| v.words().to_string()
                ),
                q.improvement_percent
                    .map_or("—".into(), |c| format!("{c:+.0} %")),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>");
    Ok((html, drills.len()))
}

fn push_figure(html: &mut String, f: &Figure) {
    let _ = write!(
        html,
        "<figure>{}<figcaption>{} <a href=\"{}\">PNG</a></figcaption></figure>",
        // The SVG's own XML declaration is not allowed inside HTML.
        f.svg
            .trim_start_matches(|c| c != '<')
            .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", ""),
        esc(&f.caption),
        esc(&f.file)
    );
}

/// Text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page around `body`.
fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>proprio report</title><style>\
         body{{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}th,td{{border:1px solid #ccc;\
         padding:4px 8px;text-align:left}}th{{background:#f3f3f3}}figure{{margin:1.5em 0}}\
         figure svg{{max-width:100%;height:auto}}figcaption{{max-width:60em}}\
         section{{border-top:2px solid #888;margin-top:2em}}</style></head><body>\
         <h1>proprio report</h1><p>proprio is a training aid, not a diagnosis. Scores are \
         explained in proprio's docs/scoring.md; measures in docs/measures.md.</p>{body}\
         </body></html>\n"
    )
}
