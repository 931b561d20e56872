//! Running a drill live, and replaying a recording, through the same [`Session`].

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use proprio_protocol::{DeviceKind, HostMessage};

use super::db::{Db, NewSession};
use super::link::{Link, LinkEvent, Source};
use super::output;
use super::plan::NextSession;
use super::signals::StopSignals;
use super::store::{self, RecordingFile};
use super::view::{Key, LatencyProbe, LiveView, ProgressLine, UiState};
use super::{DrillArgs, SensorArg, EXIT_INCOMPLETE};
use crate::cues::{CueKinds, HapticCues};
use crate::devices::{witmotion, DeviceFormat};
use crate::drill::{
    DrillEvent, DrillKind, NeutralSpineConfig, QuietStanceConfig, RockerHoldConfig,
    TandemWalkConfig, WeightShiftConfig, WobbleHoldConfig,
};
use crate::guided::GuidedInfo;
use crate::recording::{Control, LinkEventKind, Record, RecordingError, RecordingReader};
use crate::scoring::DeviceClass;
use crate::session::{DrillSetup, LiveStatus, Session, SessionMeta, SessionReport};
use crate::sim::{SimConfig, SimDevice};

/// Host time between `GetInfo` requests while the device has not introduced itself, µs.
pub(super) const INFO_RETRY_US: u64 = 1_000_000;
/// Requests before giving up on a device that never introduces itself.
pub(super) const INFO_TRIES: u32 = 5;
/// A device that has sent no samples this long after the drill started is not streaming, or not
/// in the format the source names, µs.
const FIRST_SAMPLES_WITHIN_US: u64 = 10_000_000;
/// Live view refresh interval: the frame rate, whatever the sample rate.
const REDRAW: Duration = Duration::from_millis(50);

/// `proprio drill …` (and `proprio demo`), for `user`.
pub fn drill(data_dir: Option<PathBuf>, user: &str, args: &DrillArgs) -> Result<ExitCode> {
    let data_dir = store::data_dir(data_dir)?;
    let prepared = prepare_drill(&data_dir, user, args, None)?;
    let live = !args.no_live && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let baseline_trials = prepared.next.baseline_trials;
    let report = runtime.block_on(async {
        let mut signals = StopSignals::new()?;
        // The link first: a failure to connect is a sentence on the normal screen.
        let opened = prepared.open(live)?;
        let mut view = if live {
            Some(LiveView::start().context("cannot take over the terminal for the live view")?)
        } else {
            None
        };
        let progress = !live && !args.no_live;
        opened.run(view.as_mut(), progress, &mut signals).await
        // The view is dropped here: the terminal back before the result is printed.
    })?;
    let json = serde_json::to_string(&report).context("cannot format the result")?;
    if args.json {
        out!("{json}");
    } else {
        output::print_report(&report);
        if report.progress.is_none() && report.refused.is_none() {
            let trial = baseline_trials + 1;
            if trial <= crate::scoring::BASELINE_TRIALS {
                out!(
                    "  baseline trial {trial} of {} at this level: progress is scored against \
                     your first {0} scored trials",
                    crate::scoring::BASELINE_TRIALS
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A drill ready to run: its recording's header, where its data comes from, and what the plan
/// said for it.
pub(super) struct PreparedDrill {
    source: Source,
    sim: SimConfig,
    /// The recording's header.
    pub(super) meta: SessionMeta,
    /// The plan's level and baseline for it.
    pub(super) next: NextSession,
    /// When it was prepared, for the recording's name.
    pub(super) stamp: String,
    /// The data directory.
    pub(super) data_dir: PathBuf,
    rate_hz: u16,
    cues: CueKinds,
    /// Whose session it is, and the history it goes into.
    user: String,
    db: Db,
}

/// Checks `args` and sets up the drill they ask for (level, baseline, the simulated person,
/// the recording's header, with `guided` when run in a guided session); opens nothing yet.
pub(super) fn prepare_drill(
    data_dir: &Path,
    user: &str,
    args: &DrillArgs,
    guided: Option<GuidedInfo>,
) -> Result<PreparedDrill> {
    let source = Source::parse(&args.source)?;
    let cues = args.cue_kinds()?;
    let kind = DrillKind::from(args.drill);
    let mut sim = args.sim.config(args.board_limit);
    let format = source.format(args.sim.rate, &args.hx711.format());
    // A source whose format says what it is must be the drill's sensor.
    if let Some(device_kind) = format.device_kind() {
        refuse_wrong_device(kind, device_kind, &format!("'{}'", args.source))?;
    }
    let device = choose_sensor(kind, args.sensor, format.device_kind(), &args.source)?;
    let db = Db::open(data_dir, user)?;
    let next = super::plan::next_session(&db, user, kind, device, args.level)?;
    let level = next.level;
    let no_level = || format!("level {level} does not exist");
    let setup = match kind {
        DrillKind::RockerHold => {
            let mut config =
                RockerHoldConfig::for_level(level, args.board_limit).with_context(no_level)?;
            if let Some(duration_s) = args.duration {
                config.duration_s = duration_s;
            }
            DrillSetup::RockerHold(config)
        }
        DrillKind::WobbleHold => {
            let mut config =
                WobbleHoldConfig::for_level(level, args.board_limit).with_context(no_level)?;
            if let Some(duration_s) = args.duration {
                config.duration_s = duration_s;
            }
            sim.device = SimDevice::WobbleWearable;
            DrillSetup::WobbleHold(config)
        }
        DrillKind::QuietStance | DrillKind::SingleLeg | DrillKind::TandemStance => {
            let task = kind.stance_task().unwrap_or_default();
            let mut config = QuietStanceConfig::for_level(task, level).with_context(no_level)?;
            if let Some(duration_s) = args.duration {
                config.duration_s = duration_s;
            }
            // The simulated person stands as the level says, on the board or wearing the IMU.
            let condition = config.level_spec().map(|l| l.condition).unwrap_or_default();
            if device == DeviceClass::Imu {
                sim.device = SimDevice::StanceWearable;
                sim.stance.condition = condition;
            } else {
                sim.device = SimDevice::BalanceBoard;
                sim.balance_board.geometry = args.board_geometry;
                sim.balance_board.condition = condition;
            }
            DrillSetup::for_stance(config)
        }
        DrillKind::WeightShift => {
            let config = WeightShiftConfig::for_level(level).with_context(no_level)?;
            if args.duration.is_some() {
                bail!("--duration does not apply to weight-shift: a trial lasts as long as its level's targets take");
            }
            sim.device = SimDevice::BalanceBoard;
            sim.balance_board.geometry = args.board_geometry;
            // The simulated person watches the drill's screen and leans to its targets.
            sim.balance_board.shift = Some(config);
            DrillSetup::WeightShift(config)
        }
        DrillKind::TandemWalk => {
            let mut config = TandemWalkConfig::for_level(level).with_context(no_level)?;
            if let Some(time_limit_s) = args.duration {
                config.time_limit_s = time_limit_s;
            }
            sim.device = SimDevice::LumbarWearable;
            sim.walk.steps = config.steps;
            DrillSetup::TandemWalk(config)
        }
        DrillKind::NeutralSpine => {
            let mut config = NeutralSpineConfig::for_level(level).with_context(no_level)?;
            if let Some(duration_s) = args.duration {
                config.duration_s = duration_s;
            }
            sim.device = SimDevice::PostureWearable;
            sim.posture.band_deg = config.band_deg;
            DrillSetup::NeutralSpine(config)
        }
    };
    let (created_utc, stamp) = store::utc_now()?;
    let mut meta = SessionMeta::new(
        setup,
        args.source.clone(),
        format,
        (source == Source::Sim).then_some(sim),
        created_utc,
    );
    if kind.needs_balance_board() {
        meta.pipeline.cop.geometry = args.board_geometry;
    }
    meta.baseline = next.baseline.clone();
    meta.cues = Some(cues);
    meta.guided = guided;
    meta.user = Some(user.to_string());
    meta.calibrations = db.profiles(user)?.latest();
    Ok(PreparedDrill {
        source,
        sim,
        meta,
        next,
        stamp,
        data_dir: data_dir.to_path_buf(),
        rate_hz: args.sim.rate,
        cues,
        user: user.to_string(),
        db,
    })
}

impl PreparedDrill {
    /// The user's results so far, oldest first (the history this drill's plan came from).
    pub(super) fn history(&self) -> &[SessionReport] {
        &self.next.history
    }

    /// Opens the link (the simulator paced for a live view) and creates the recording.
    pub(super) fn open(self, live: bool) -> Result<OpenDrill> {
        let link = Link::open(&self.source, self.sim, live)?;
        let recording = RecordingFile::create(&self.data_dir, &self.stamp, &self.meta)?;
        Ok(OpenDrill {
            link,
            recording,
            meta: self.meta,
            rate_hz: self.rate_hz,
            cues: self.cues,
            user: self.user,
            db: self.db,
        })
    }
}

/// A drill whose link and recording are open.
pub(super) struct OpenDrill {
    link: Link,
    recording: RecordingFile,
    meta: SessionMeta,
    rate_hz: u16,
    cues: CueKinds,
    user: String,
    db: Db,
}

impl OpenDrill {
    /// Runs the live loop (drawing on `view` if given; `progress`: a progress line on standard
    /// error instead), appends the result to the recording and puts the session in the
    /// history. Returns the result with the recording's path.
    pub(super) async fn run(
        self,
        view: Option<&mut LiveView>,
        progress: bool,
        signals: &mut StopSignals,
    ) -> Result<SessionReport> {
        let OpenDrill {
            mut link,
            mut recording,
            meta,
            rate_hz,
            cues,
            user,
            mut db,
        } = self;
        let options = LiveOptions {
            rate_hz,
            cues,
            progress,
        };
        let outcome = run_live(
            &mut link,
            &mut recording,
            meta.clone(),
            view,
            options,
            signals,
        )
        .await;
        let report = match outcome {
            Ok(report) => report,
            Err(error) => {
                // Keep what was recorded; say where it is; the history lists it without a result.
                let path = recording.close()?;
                let new = NewSession {
                    user: &user,
                    meta: &meta,
                    report: None,
                    note: Some(format!("ended without a result: {error:#}")),
                    recording: &path,
                };
                // Best effort: the error is what to say; a recording the database missed is
                // indexed on the next run.
                let _ = db.record_session(&new);
                anyhow::bail!("{error:#} (what arrived is kept in {})", path.display());
            }
        };
        // The file keeps the result without its own path (so the same seed gives the same bytes).
        let stored = serde_json::to_string(&report).context("cannot format the result")?;
        recording.append(&Record::Result(stored))?;
        let mut report = report;
        let path = recording.close()?;
        report.recording = Some(path.display().to_string());
        let new = NewSession {
            user: &user,
            meta: &meta,
            report: Some(&report),
            note: None,
            recording: &path,
        };
        if let Err(error) = db.record_session(&new) {
            // The recording is safe: the next run indexes it.
            eprintln!(
                "proprio: warning: the history database did not take this session ({error:#}); \
                 it will be indexed from its recording on the next run"
            );
        }
        Ok(report)
    }
}

async fn run_live(
    link: &mut Link,
    recording: &mut RecordingFile,
    meta: SessionMeta,
    mut view: Option<&mut LiveView>,
    options: LiveOptions,
    signals: &mut StopSignals,
) -> Result<SessionReport> {
    let speaks_proprio = meta.format == DeviceFormat::Proprio;
    let drill_kind = meta.drill.kind();
    let witmotion = matches!(
        meta.format,
        DeviceFormat::WitmotionBle { .. } | DeviceFormat::WitmotionSerial { .. }
    );
    let mut run = Runner {
        link,
        recording,
        speaks_proprio,
        witmotion,
        session: Session::new(meta),
        events: Vec::new(),
        haptics: options.cues.haptic.then(HapticCues::default),
    };
    // A BLE link's clock starts before its scan and connection: count from here.
    let loop_started_us = run.link.now_us();
    run.start_device(options.rate_hz)?;
    let mut info_requests = 1;
    let mut last_info_request_us = run.link.now_us();

    let mut ui = UiState::new(
        run.link.describe(),
        options.cues,
        run.session.live(),
        run.link.now_us(),
    );
    let mut progress = options.progress.then(ProgressLine::on_stderr).flatten();
    let mut latency = if view.is_some() {
        LatencyProbe::from_env(REDRAW)
    } else {
        None
    };
    let mut tick = tokio::time::interval(REDRAW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    while !run.session.is_done() {
        tokio::select! {
            event = run.link.next() => match event {
                LinkEvent::Bytes { t_host_us, bytes } => {
                    let before = run.session.samples_used();
                    run.feed(Record::Received { t_host_us, bytes })?;
                    if let Some(latency) = latency.as_mut() {
                        latency.decoded(run.session.samples_used() - before);
                    }
                }
                LinkEvent::Connected { t_host_us } => {
                    run.feed(Record::Link { t_host_us, event: LinkEventKind::Connected, detail: String::new() })?;
                    run.start_device(options.rate_hz)?;
                    ui.link_up(t_host_us);
                }
                LinkEvent::Disconnected { t_host_us, reason } => {
                    ui.link_down(&reason, t_host_us);
                    run.feed(Record::Link { t_host_us, event: LinkEventKind::Disconnected, detail: reason })?;
                }
                LinkEvent::Lost { t_host_us, reason } => {
                    ui.link_lost(&reason, t_host_us);
                    run.feed(Record::Link { t_host_us, event: LinkEventKind::Lost, detail: reason })?;
                }
            },
            _ = signals.recv() => {
                let t_host_us = run.link.now_us();
                run.feed(Record::Control { t_host_us, control: Control::UserStop })?;
            }
            _ = tick.tick() => {
                run.recording.flush_if_due()?;
                if let Some(view) = view.as_mut() {
                    for key in view.keys() {
                        let control = match key {
                            Key::Stop => Control::UserStop,
                            Key::Pain => Control::PainStop,
                            // The guided session's keys mean nothing during a drill.
                            _ => continue,
                        };
                        let t_host_us = run.link.now_us();
                        run.feed(Record::Control { t_host_us, control })?;
                    }
                    // The frame is drawn here, on the tick, from the session's state now:
                    // samples arriving meanwhile wait in the link's queue for the frame's time.
                    let frame_started = Instant::now();
                    ui.update(run.session.live(), &run.events, run.link.now_us());
                    run.events.clear();
                    view.draw(&mut ui)?;
                    if let Some(latency) = latency.as_mut() {
                        latency.drawn(frame_started);
                    }
                }
            }
        }
        // Not on the tick: an unpaced simulator never lets the runtime's timers fire.
        if let Some(progress) = progress.as_mut().filter(|p| p.due()) {
            ui.update(run.session.live(), &run.events, run.link.now_us());
            progress.print(&ui);
        }
        if view.is_none() {
            // Shown (by the progress line) or not, they are done with.
            run.events.clear();
        }
        if let Some(kind) = run.session.device_kind() {
            refuse_wrong_device(drill_kind, kind, "the device")?;
        }
        let waited_us = run.link.now_us().saturating_sub(loop_started_us);
        if waited_us >= FIRST_SAMPLES_WITHIN_US && !run.session.has_samples() {
            return Err(no_samples(&run.session.live(), &run.link.describe()));
        }
        let link_up = run.session.link_down_since_us().is_none();
        if speaks_proprio
            && link_up
            && !run.session.has_device_info()
            && run.link.now_us().saturating_sub(last_info_request_us) > INFO_RETRY_US
        {
            if info_requests >= INFO_TRIES {
                bail!("the device did not identify itself (no Hello after {INFO_TRIES} requests); is it running proprio's firmware?");
            }
            run.send(HostMessage::GetInfo)?;
            info_requests += 1;
            last_info_request_us = run.link.now_us();
        }
    }
    // Standard error's line cleared before the result is printed.
    drop(progress);
    if let Some(latency) = latency.as_mut() {
        latency.write().with_context(|| {
            format!(
                "cannot write the latency report {}",
                latency.path().display()
            )
        })?;
    }
    // Best effort: the device may already be gone.
    let _ = run.send(HostMessage::Stop);
    Ok(run.session.finish())
}

/// Refuses a device that is not the drill's sensor, in one sentence naming `what` (the
/// source, or "the device").
fn refuse_wrong_device(drill: DrillKind, device: DeviceKind, what: &str) -> Result<()> {
    match device {
        DeviceKind::BalanceBoard if !drill.runs_on_board() => bail!(
            "{} needs an IMU on the board; {what} is a balance board",
            drill.name()
        ),
        DeviceKind::Wearable if !drill.runs_on_imu() => bail!(
            "{} needs a balance board; {what} is an IMU wearable",
            drill.name()
        ),
        _ => Ok(()),
    }
}

/// The sensor to run `drill` on: `sensor` (`--sensor`) if given, else the kind of device the
/// source says it is (`known`), else the drill's default. A `sensor` the drill cannot run on,
/// or that the source is not, is refused in one sentence.
fn choose_sensor(
    drill: DrillKind,
    sensor: Option<SensorArg>,
    known: Option<DeviceKind>,
    source: &str,
) -> Result<DeviceClass> {
    let known = known.map(DeviceClass::of_kind);
    let Some(wanted) = sensor.map(DeviceClass::from) else {
        return Ok(known.unwrap_or(DeviceClass::of_drill(drill)));
    };
    let classes = DeviceClass::for_drill(drill);
    if !classes.contains(&wanted) {
        bail!(
            "{} runs on the {} only: --sensor does not apply to it",
            drill.name(),
            classes[0].words()
        );
    }
    match known {
        Some(known) if known != wanted => bail!(
            "--sensor asks for the {}, but '{source}' is the {}",
            wanted.words(),
            known.words()
        ),
        _ => Ok(wanted),
    }
}

/// The sentence for a drill that has decoded no sample [`FIRST_SAMPLES_WITHIN_US`] after it
/// started: nothing arrived, or nothing that decodes (a baud-rate mismatch, or a device of
/// another kind than the source says).
fn no_samples(live: &LiveStatus, link: &str) -> anyhow::Error {
    let waited_s = FIRST_SAMPLES_WITHIN_US / 1_000_000;
    match live.last_data_host_us {
        None => {
            anyhow::anyhow!("no data from {link} in {waited_s} s: is the device on and streaming?")
        }
        Some(_) if live.bad_frames > 0 || !live.device_known => anyhow::anyhow!(
            "data arrives from {link} but none of it decodes after {waited_s} s: \
             wrong baud rate, or a device of another kind than --source says?"
        ),
        Some(_) => anyhow::anyhow!(
            "{link} is connected but sent no samples in {waited_s} s: is the sensor streaming?"
        ),
    }
}

/// What the live loop needs besides the session.
#[derive(Debug, Clone, Copy)]
struct LiveOptions {
    /// Sample rate to ask of the device.
    rate_hz: u16,
    /// The cues the user chose (haptic: buzz the wearable on leaving the band).
    cues: CueKinds,
    /// No live view, but a progress line on standard error if it is a terminal (standard output
    /// is not).
    progress: bool,
}

/// The live loop's state: every record goes to the recording first, then to the session.
struct Runner<'a> {
    link: &'a mut Link,
    recording: &'a mut RecordingFile,
    /// The device understands proprio's host commands (others just stream).
    speaks_proprio: bool,
    /// The device takes WitMotion register commands.
    witmotion: bool,
    session: Session,
    /// Drill events since the last redraw.
    events: Vec<DrillEvent>,
    haptics: Option<HapticCues>,
}

impl Runner<'_> {
    fn feed(&mut self, record: Record) -> Result<()> {
        self.recording.append(&record)?;
        let first_new = self.events.len();
        self.session.handle(&record, &mut self.events);
        if let Some(haptics) = self.haptics.as_mut() {
            let commands: Vec<HostMessage> = self.events[first_new..]
                .iter()
                .filter_map(|e| haptics.on_event(e))
                .collect();
            for command in commands {
                self.send(command)?;
            }
        }
        Ok(())
    }

    fn send(&mut self, message: HostMessage) -> Result<()> {
        if !self.speaks_proprio {
            return Ok(());
        }
        let (t_host_us, bytes) = self.link.send(&message)?;
        self.recording.append(&Record::Sent { t_host_us, bytes })
    }

    /// Asks the device who it is and to stream (again, after a reconnection); a WitMotion
    /// sensor is only set to the rate, when it offers it (it streams anyway).
    fn start_device(&mut self, rate_hz: u16) -> Result<()> {
        if self.witmotion {
            if let Some(rate) = witmotion::rate_command(f32::from(rate_hz)) {
                for command in [witmotion::unlock_command(), rate] {
                    let (t_host_us, bytes) = self.link.send_bytes(&command)?;
                    self.recording.append(&Record::Sent { t_host_us, bytes })?;
                }
            }
            return Ok(());
        }
        self.send(HostMessage::GetInfo)?;
        self.send(HostMessage::Start { rate_hz })
    }
}

/// What feeding a recording to a session found besides the session's result.
pub(super) struct Fed {
    /// The error that cut the file short, if one did (the records before it were fed).
    pub cut_off: Option<RecordingError>,
    /// The host time of the last complete record, µs from the session's start.
    pub last_t_host_us: u64,
    /// The result the recording holds (its last record), as written.
    pub result: Option<String>,
}

/// Feeds every record of `reader` to `session`; says whether an error cut the file short (the
/// records before it are fed), and fails on any other error.
pub(super) fn feed_recording<R: std::io::Read>(
    reader: &mut RecordingReader<R>,
    session: &mut Session,
) -> Result<Fed, RecordingError> {
    let mut events = Vec::new();
    let mut fed = Fed {
        cut_off: None,
        last_t_host_us: 0,
        result: None,
    };
    loop {
        match reader.next_record() {
            Ok(Some(Record::Result(json))) => fed.result = Some(json),
            Ok(Some(record)) => {
                if let Some(t_host_us) = record_time_us(&record) {
                    fed.last_t_host_us = fed.last_t_host_us.max(t_host_us);
                }
                session.handle(&record, &mut events);
                events.clear();
            }
            Ok(None) => return Ok(fed),
            Err(error @ RecordingError::Truncated { .. }) => {
                fed.cut_off = Some(error);
                return Ok(fed);
            }
            Err(error) => return Err(error),
        }
    }
}

/// A record's host time, µs (the header and the result have none).
fn record_time_us(record: &Record) -> Option<u64> {
    match record {
        Record::Received { t_host_us, .. }
        | Record::Sent { t_host_us, .. }
        | Record::Link { t_host_us, .. }
        | Record::Control { t_host_us, .. } => Some(*t_host_us),
        Record::Header(_) | Record::Result(_) => None,
    }
}

/// A recording re-run through the current decoding, pipeline and drill.
pub(super) struct Replayed {
    /// Its header.
    pub meta: SessionMeta,
    /// The result today's code gives (its `recording` set to the file).
    pub report: SessionReport,
    /// What feeding it found: where it was cut off, its last time, the result it holds.
    pub fed: Fed,
}

impl Replayed {
    /// What an incomplete recording held, for people: "cut off after 12.3 s: 3,456 samples
    /// recovered, no result"; `None` when it is complete (it ends with its result, or it was
    /// imported: its result is its replay's). A recording of proprio's own without its result
    /// was cut off too, between records (the session never finished).
    pub fn cut_off_words(&self) -> Option<String> {
        let whole = self.fed.result.is_some() || self.meta.imported.is_some();
        if self.fed.cut_off.is_none() && whole {
            return None;
        }
        Some(format!(
            "cut off after {:.1} s: {} samples recovered, {}",
            self.fed.last_t_host_us as f64 / 1e6,
            thousands(self.report.quality.samples_received),
            if self.fed.result.is_some() {
                "its result kept"
            } else {
                "no result"
            }
        ))
    }
}

/// 3456 as "3,456".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Re-runs the recording at `path` (`proprio replay`, `proprio rescore`, the history's
/// indexing of a recording without a result: one code path).
pub(super) fn replay_file(path: &Path) -> Result<Replayed> {
    let file =
        File::open(path).with_context(|| format!("cannot open recording {}", path.display()))?;
    let mut reader = RecordingReader::new(BufReader::new(file))
        .with_context(|| format!("cannot replay {}", path.display()))?;
    let meta = reader.meta().clone();
    let mut session = Session::new(meta.clone());
    let fed = feed_recording(&mut reader, &mut session)
        .with_context(|| format!("cannot replay {}", path.display()))?;
    let mut report = session.finish();
    report.recording = Some(path.display().to_string());
    Ok(Replayed { meta, report, fed })
}

/// `proprio replay FILE`.
pub fn replay(path: &Path, json: bool) -> Result<ExitCode> {
    let replayed = replay_file(path)?;
    let meta = &replayed.meta;
    let recorded_with = &meta.pipeline_version;
    let current = crate::session::pipeline_version_on(meta.drill.kind(), meta.expected_device());
    if recorded_with != current {
        eprintln!(
            "proprio: note: recorded with signal chain {recorded_with}, replayed with {current}; \
             the result may differ from the one recorded"
        );
    }
    let report = &replayed.report;
    if json {
        out!(
            "{}",
            serde_json::to_string(report).context("cannot format the result")?
        );
    } else {
        output::print_report(report);
    }
    match (&replayed.fed.cut_off, replayed.cut_off_words()) {
        (Some(error), Some(words)) => {
            eprintln!(
                "proprio: {error}; the result covers the complete records before it ({words})"
            );
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
        (None, Some(words)) => {
            eprintln!(
                "proprio: the recording ends without its result (the session never finished): \
                 {words}; the result covers its records"
            );
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
        (_, None) => Ok(ExitCode::SUCCESS),
    }
}
