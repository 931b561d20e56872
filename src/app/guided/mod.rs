//! `proprio session`: the guided session. A check-in (pain 0–10, how the user feels), today's
//! drills from the plan (the rule is [`crate::guided`]'s), each with its instructions and
//! purpose, a get-ready countdown, the drill itself in the live view, a rest and the result
//! with its verdict, then a summary.
//!
//! - `flow`: [`flow::SessionFlow`], what is shown when; no terminal.
//! - `screen`: the screens between drills, as text, and drawn.
//! - here: running it. Each drill goes through `run::prepare_drill`, `PreparedDrill::open`
//!   and `OpenDrill::run`, the code of `proprio drill`, so every source works; the terminal is
//!   taken once for the whole session. Without a terminal (or with `--no-live`) it runs
//!   unattended, printing plain text.
//!
//! The pain key `p` works on every screen: during a drill it ends the drill as a pain stop; on
//! another screen about a drill (instructions, countdown, rest, result) it is recorded as a
//! pain stop of that drill, in a recording of its own that holds no data; either way the plan
//! steps back and the session ends. At the check-in no drill has begun: the session ends and
//! its summary file says so. Each drill's recording header holds the check-in and the
//! session's id ([`GuidedInfo`]); the summary is `<data>/sessions/<id>.json`.

mod flow;
mod screen;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use self::flow::{SessionEnd, SessionFlow, Step, COUNTDOWN_US};
use super::db::{self, Db};
use super::link::Source;
use super::run::{prepare_drill, PreparedDrill};
use super::signals::StopSignals;
use super::store::{self, RecordingFile, SessionFile};
use super::view::{Key, LiveView};
use super::{output, DrillArgs, SensorArg, SessionArgs};
use crate::drill::{DrillKind, EndReason};
use crate::guided::{drills_for, Allowance, Feeling, GuidedInfo, PlannedDrill};
use crate::plan::{self, Change};
use crate::recording::{Control, Record};
use crate::scoring::{DeviceClass, Verdict};
use crate::session::{Session, SessionReport};

/// How often the screens between drills are redrawn and the keys read.
const TICK: Duration = Duration::from_millis(50);

/// One drill of the session, as the summary file keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct DrillRecord {
    /// The drill.
    pub drill: DrillKind,
    /// The level it ran at.
    pub level: u8,
    /// The plan's level for it (higher when the check-in eased the session).
    pub plan_level: u8,
    /// Why it ended.
    pub end: EndReason,
    /// The drill's score, 0–100 (absent when the quality gates refused it).
    pub score: Option<f64>,
    /// The progress score against the baseline, 0–100, once there is a baseline.
    pub progress_score: Option<f64>,
    /// Better, worse, or no real change (within the minimal detectable change).
    pub verdict: Option<Verdict>,
    /// Why it was not scored, if the gates refused it.
    pub refused: Option<String>,
    /// Its recording.
    pub recording: Option<String>,
    /// What it changed in the plan.
    pub plan_change: Option<Change>,
    /// Set when the pain key was pressed outside the drill itself: the step ("instructions",
    /// "countdown", "rest", "result"); the recording then holds the pain stop and no data.
    pub pain_stop_during: Option<&'static str>,
    /// Run with the wearable on the lower back (for the words of its end).
    #[serde(skip)]
    on_wearable: bool,
}

impl DrillRecord {
    fn new(
        planned: PlannedDrill,
        report: &SessionReport,
        plan_change: Option<Change>,
        pain_stop_during: Option<&'static str>,
    ) -> Self {
        DrillRecord {
            drill: planned.drill,
            level: report.level,
            plan_level: planned.plan_level,
            end: report.end,
            score: report.refused.is_none().then_some(report.score),
            progress_score: report.progress.as_ref().map(|p| p.score),
            verdict: report.progress.as_ref().map(|p| p.verdict),
            refused: report.refused.clone(),
            recording: report.recording.clone(),
            plan_change,
            pain_stop_during,
            on_wearable: output::worn_on_the_back(report),
        }
    }

    /// Its score and verdict, or how it ended, in a few words.
    pub fn score_words(&self) -> String {
        if self.end == EndReason::PainStop || self.pain_stop_during.is_some() {
            return "pain stop".to_string();
        }
        let score = self
            .score
            .map_or("not scored".to_string(), |s| format!("score {s:.0}"));
        let verdict = self
            .verdict
            .map_or("no verdict yet (baseline trial)", Verdict::words);
        let end = if self.end == EndReason::Completed {
            String::new()
        } else {
            format!(", {}", output::end_words(self.end, self.on_wearable))
        };
        format!("{score}, {verdict}{end}")
    }
}

/// The check-in, as the summary file keeps it.
#[derive(Debug, Clone, Serialize)]
struct CheckIn {
    pain_nrs: u8,
    feeling: Feeling,
    allowance: Allowance,
}

/// The summary file, `<data>/sessions/<id>.json`.
#[derive(Debug, Clone, Serialize)]
struct SessionSummary<'a> {
    id: String,
    started_utc: &'a str,
    source: &'a str,
    sensor: DeviceClass,
    check_in: Option<CheckIn>,
    drills: &'a [DrillRecord],
    /// The step the pain key was pressed on, if it was.
    pain_stop: Option<&'static str>,
    end: SessionEnd,
    time_s: f64,
    /// Set when the session ended on a failure (a lost device, a bad file).
    error: Option<String>,
}

/// `proprio session …`, for `user`.
pub fn session(data_dir: Option<PathBuf>, user: &str, args: &SessionArgs) -> Result<ExitCode> {
    let data_dir = store::data_dir(data_dir)?;
    let source = Source::parse(&args.source)?;
    let template = drill_args(args, DrillKind::QuietStance, 1, None);
    template.cue_kinds()?;
    let known = source
        .format(args.sim.rate, &args.hx711.format())
        .device_kind();
    let device = match (args.sensor.map(DeviceClass::from), known) {
        (Some(wanted), Some(kind)) if DeviceClass::of_kind(kind) != wanted => bail!(
            "--sensor asks for the {}, but '{}' is the {}",
            wanted.words(),
            args.source,
            DeviceClass::of_kind(kind).words()
        ),
        (Some(wanted), _) => wanted,
        (None, Some(kind)) => DeviceClass::of_kind(kind),
        (None, None) => DeviceClass::Imu,
    };
    let drills: Vec<DrillKind> = if args.drills.is_empty() {
        drills_for(device).to_vec()
    } else {
        args.drills.iter().map(|&d| DrillKind::from(d)).collect()
    };
    for drill in &drills {
        if !DeviceClass::for_drill(*drill).contains(&device) {
            bail!(
                "{} needs the {}; this session is on the {} (see --sensor)",
                drill.name(),
                DeviceClass::for_drill(*drill)[0].words(),
                device.words()
            );
        }
    }
    let live = !args.no_live && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let check_in = match (args.pain, args.feeling) {
        (Some(pain), Some(feeling)) => Some((pain, feeling)),
        (None, None) if live => None,
        (None, None) => bail!(
            "without a terminal the session runs unattended: give the check-in with --pain 0-10 \
             and --feeling better|same|worse"
        ),
        _ => bail!("give both --pain and --feeling, or neither (and answer on the screen)"),
    };
    let history = Db::open(&data_dir, user)?.results(user)?;
    let candidates: Vec<(DrillKind, u8)> = drills
        .iter()
        .map(|&d| (d, plan::plan_on(d, device, &history).level))
        .collect();
    // The simulator unattended runs as fast as it can: nobody needs to get ready.
    let countdown_us = if !live && source == Source::Sim {
        0
    } else {
        COUNTDOWN_US
    };
    let rest_us = (args.rest * 1e6).round() as u64;
    let flow = match check_in {
        Some((pain, feeling)) if !live => {
            SessionFlow::unattended(candidates, countdown_us, rest_us, pain, feeling, 0)
        }
        Some((pain, feeling)) => {
            let mut flow = SessionFlow::new(candidates, countdown_us, rest_us);
            flow.check_in(pain, feeling, 0);
            flow
        }
        None => SessionFlow::new(candidates, countdown_us, rest_us),
    };
    let (started_utc, stamp) = store::utc_now()?;
    let file = SessionFile::create(&data_dir, &stamp)?;
    let mut guided = Guided {
        args,
        user,
        data_dir,
        device,
        flow,
        done: Vec::new(),
        last: None,
        file,
        started_utc,
        started: Instant::now(),
        live,
        error: None,
    };
    guided.save()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(guided.run());
    if let Err(error) = &outcome {
        guided.error = Some(format!("{error:#}"));
    }
    guided.save()?;
    guided.record_check_in()?;
    outcome?;
    guided.print_summary();
    Ok(ExitCode::SUCCESS)
}

/// The arguments of one drill of the session, as `proprio drill` would take them.
fn drill_args(
    args: &SessionArgs,
    drill: DrillKind,
    level: u8,
    sensor: Option<SensorArg>,
) -> DrillArgs {
    let name = super::DrillName::from_kind(drill);
    DrillArgs {
        drill: name,
        source: args.source.clone(),
        level: Some(level),
        duration: None,
        // Only a drill that runs on either sensor takes --sensor; the others refuse it.
        sensor: (DeviceClass::for_drill(drill).len() > 1)
            .then_some(sensor)
            .flatten(),
        json: false,
        no_live: args.no_live,
        cues: args.cues.clone(),
        no_haptics: false,
        board_limit: args.board_limit,
        board_geometry: args.board_geometry,
        hx711: args.hx711.clone(),
        sim: args.sim.clone(),
    }
}

/// A session under way.
struct Guided<'a> {
    args: &'a SessionArgs,
    /// Whose session it is.
    user: &'a str,
    data_dir: PathBuf,
    device: DeviceClass,
    flow: SessionFlow,
    done: Vec<DrillRecord>,
    last: Option<SessionReport>,
    file: SessionFile,
    started_utc: String,
    started: Instant,
    live: bool,
    error: Option<String>,
}

impl Guided<'_> {
    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Runs the flow to its summary (and, live, until the summary is closed).
    async fn run(&mut self) -> Result<()> {
        let mut signals = StopSignals::new()?;
        let mut view = if self.live {
            Some(LiveView::start().context("cannot take over the terminal for the session")?)
        } else {
            None
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut shown = None;
        loop {
            self.flow.tick(self.now_us());
            let step = self.flow.step();
            if !self.live && shown != Some(step) {
                shown = Some(step);
                self.print_step(step);
            }
            match step {
                Step::Drill(i) => {
                    if let Some(view) = view.as_mut() {
                        self.draw(view)?;
                    }
                    self.run_drill(i, view.as_mut(), &mut signals).await?;
                    continue;
                }
                Step::Summary => {
                    self.record_pain_outside_a_drill()?;
                    self.save()?;
                    // After a signal nobody may be at the keys (a closed terminal): done.
                    let Some(view) = view.as_mut().filter(|_| signals.received().is_none()) else {
                        return Ok(());
                    };
                    self.draw(view)?;
                    if view
                        .keys()
                        .into_iter()
                        .any(|k| matches!(k, Key::Enter | Key::Stop | Key::Letter('q')))
                    {
                        return Ok(());
                    }
                }
                _ => {
                    if let Some(view) = view.as_mut() {
                        for key in view.keys() {
                            self.flow.key(key, self.now_us());
                        }
                        self.flow.tick(self.now_us());
                        self.draw(view)?;
                    }
                }
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = signals.recv() => self.flow.key(Key::Stop, self.now_us()),
            }
        }
    }

    /// Drill `i` set up as `proprio drill` would set it up, with the session's check-in.
    fn prepare(&self, i: usize) -> Result<PreparedDrill> {
        let planned = self.flow.planned()[i];
        prepare_drill(
            &self.data_dir,
            self.user,
            &self.drill_args(planned),
            Some(self.info(i)),
        )
    }

    /// Runs drill `i` through the same code as `proprio drill`.
    async fn run_drill(
        &mut self,
        i: usize,
        view: Option<&mut LiveView>,
        signals: &mut StopSignals,
    ) -> Result<()> {
        let planned = self.flow.planned()[i];
        let prepared = self.prepare(i)?;
        let history = prepared.history().to_vec();
        let progress = view.is_none() && !self.args.no_live;
        let opened = prepared.open(view.is_some())?;
        let report = opened.run(view, progress, signals).await?;
        let change = plan::change_by(DeviceClass::of_report(&report), &history, &report);
        self.done
            .push(DrillRecord::new(planned, &report, change, None));
        self.flow.drill_ended(report.end, self.now_us());
        if signals.received().is_some() {
            // Stopped from outside: straight to the summary.
            self.flow.key(Key::Stop, self.now_us());
        }
        if !self.live {
            output::print_report(&report);
            if let Some(change) = change {
                out!("  {}", screen::change_words(change));
            }
        }
        self.last = Some(report);
        self.save()
    }

    /// The pain key pressed on a screen about drill `i` but not during it: a recording of that
    /// drill holding the pain stop and no data, so that the plan steps back as after any pain
    /// stop. Once.
    fn record_pain_outside_a_drill(&mut self) -> Result<()> {
        let Some(press) = self.flow.pain_press() else {
            return Ok(());
        };
        let Some(i) = press.step.drill() else {
            return Ok(());
        };
        if matches!(press.step, Step::Drill(_))
            || self.done.iter().any(|d| d.pain_stop_during.is_some())
        {
            return Ok(());
        }
        let planned = self.flow.planned()[i];
        let prepared = self.prepare(i)?;
        let history = prepared.history().to_vec();
        let mut recording =
            RecordingFile::create(&prepared.data_dir, &prepared.stamp, &prepared.meta)?;
        let mut session = Session::new(prepared.meta.clone());
        let stop = Record::Control {
            t_host_us: 0,
            control: Control::PainStop,
        };
        recording.append(&stop)?;
        session.handle(&stop, &mut Vec::new());
        let mut report = session.finish();
        let stored = serde_json::to_string(&report).context("cannot format the result")?;
        recording.append(&Record::Result(stored))?;
        report.recording = Some(recording.close()?.display().to_string());
        let change = plan::change_by(self.device, &history, &report);
        self.done.push(DrillRecord::new(
            planned,
            &report,
            change,
            Some(press.step.name()),
        ));
        Ok(())
    }

    fn drill_args(&self, planned: PlannedDrill) -> DrillArgs {
        let sensor = match self.device {
            DeviceClass::Imu => SensorArg::Wearable,
            DeviceClass::BalanceBoard => SensorArg::Board,
        };
        drill_args(self.args, planned.drill, planned.level, Some(sensor))
    }

    fn info(&self, i: usize) -> GuidedInfo {
        GuidedInfo {
            session: self.file.id(),
            pain_nrs: self.flow.pain_nrs().unwrap_or(0),
            feeling: self.flow.feeling().unwrap_or(Feeling::Same),
            drill_number: (i + 1) as u8,
            drills_planned: self.flow.planned().len() as u8,
        }
    }

    fn screen(&self) -> screen::Screen {
        let cx = screen::Context {
            done: &self.done,
            last: self.last.as_ref(),
            now_us: self.now_us(),
            elapsed_s: self.started.elapsed().as_secs_f64(),
        };
        screen::screen(&self.flow, &cx)
    }

    fn draw(&self, view: &mut LiveView) -> Result<()> {
        let shown = self.screen();
        view.draw_with(|frame| screen::render(frame, &shown))?;
        Ok(())
    }

    /// Unattended: a step's text, once, as plain lines (standard error for the steps, the
    /// results on standard output).
    fn print_step(&self, step: Step) {
        let (title, lines) = match step {
            // Unattended, the instructions are passed at once: shown as the drill starts.
            Step::Drill(i) => screen::instructions(&self.flow, i),
            Step::Countdown { .. } | Step::Rest { .. } => {
                let shown = self.screen();
                (shown.title, shown.lines)
            }
            _ => return,
        };
        eprintln!("{title}");
        for line in lines {
            eprintln!("  {line}");
        }
    }

    /// The summary on standard output (after the terminal is given back).
    fn print_summary(&self) {
        out!("guided session {}", self.file.id());
        for line in
            screen::summary_lines(&self.flow, &self.done, self.started.elapsed().as_secs_f64())
        {
            out!("  {line}");
        }
        out!("summary: {}", self.file.path().display());
    }

    /// Puts the check-in, once answered, in the history database.
    fn record_check_in(&self) -> Result<()> {
        let Some((pain, feeling)) = self.flow.pain_nrs().zip(self.flow.feeling()) else {
            return Ok(());
        };
        let check_in = db::CheckIn {
            guided_session: self.file.id(),
            at_utc: self.started_utc.clone(),
            pain_0_10: pain,
            feeling: feeling.words().to_string(),
        };
        Db::open(&self.data_dir, self.user)?.insert_checkin(self.user, &check_in)?;
        Ok(())
    }

    /// Rewrites the summary file.
    fn save(&self) -> Result<()> {
        let check_in = self
            .flow
            .pain_nrs()
            .zip(self.flow.feeling())
            .map(|(pain_nrs, feeling)| CheckIn {
                pain_nrs,
                feeling,
                allowance: Allowance::for_pain(pain_nrs),
            });
        let summary = SessionSummary {
            id: self.file.id(),
            started_utc: &self.started_utc,
            source: &self.args.source,
            sensor: self.device,
            check_in,
            drills: &self.done,
            pain_stop: self.flow.pain_press().map(|p| p.step.name()),
            end: self.flow.end(),
            time_s: self.started.elapsed().as_secs_f64(),
            error: self.error.clone(),
        };
        let json = serde_json::to_string_pretty(&summary).context("cannot format the session")?;
        self.file.write(&json)
    }
}
