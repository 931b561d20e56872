//! `proprio calibrate imu|…`: a guided calibration flow on a live link. The device's samples go
//! through the stored calibrations the flow builds on into the flow's [`Routine`]; its
//! instructions and progress are shown as they change; when the data is complete the profile
//! is stored for the device (and, for a profile of a person, the user), and every later session
//! on that device applies it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use proprio_protocol::{DeviceInfo, DeviceMessage, HostMessage};

use super::db::Db;
use super::link::{Link, LinkEvent, Source};
use super::run::{INFO_RETRY_US, INFO_TRIES};
use super::signals::StopSignals;
use super::{board_args, store, SimArgs};
use crate::calibrate::board::{MAX_MASS_KG, MIN_MASS_KG};
use crate::calibrate::{
    BoardRoutine, ImuRoutine, MountRoutine, NeutralRoutine, Profile, ProfileKind, Routine,
    RoutineInput, RoutineProgress, StoredProfile,
};
use crate::devices::{DeviceFormat, FormatDecoder};
use crate::pipeline::{Pipeline, PipelineConfig, Placement};
use crate::session::DeviceSummary;
use crate::sim::SimDevice;

/// Which calibration to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Flow {
    /// The wearable's IMU: lay it still, turn it onto nine more sides, then (with a magnetometer)
    /// turn it every way: gyroscope bias, accelerometer offset, scale and cross-axis terms,
    /// magnetometer hard and soft iron.
    Imu,
    /// How the wearable is strapped on (`--on back`, the default: stand upright and still,
    /// then bend forward and hold; `--on board`: hold the board level, then tip it onto its
    /// right edge and hold), so that the drills see body (or board) axes whichever way it sits.
    Mount,
    /// Your comfortable neutral posture, with the wearable on your lower back: stand tall and
    /// still for five seconds. The neutral-spine hold then measures from it (stored for you).
    Neutral,
    /// A balance board: empty, then a known mass (`--mass-kg`) on each corner in turn and at
    /// the centre: each load cell's gain, and a check of the COP.
    Board,
}

/// Where the wearable is for `calibrate mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(super) enum On {
    /// Worn on the lower back.
    #[default]
    Back,
    /// Strapped to a rocker or wobble board.
    Board,
}

impl Flow {
    /// The profile it makes, with the wearable `on` the back or a board (for `mount`).
    pub(super) fn kind(self, on: On) -> ProfileKind {
        match self {
            Flow::Imu => ProfileKind::Imu,
            Flow::Mount if on == On::Board => ProfileKind::MountBoard,
            Flow::Mount => ProfileKind::Mount,
            Flow::Neutral => ProfileKind::Neutral,
            Flow::Board => ProfileKind::Board,
        }
    }

    /// The simulated device that does this flow's routine.
    pub(super) fn sim_device(self, on: On) -> SimDevice {
        match self {
            Flow::Imu => SimDevice::CalibrationWearable,
            // A person standing up, then bending forward; a hand tipping a rocker board.
            Flow::Mount if on == On::Board => SimDevice::MountBoard,
            Flow::Mount => SimDevice::MountWearable,
            // A person standing in their neutral posture before a hold.
            Flow::Neutral => SimDevice::PostureWearable,
            // Someone putting a known mass on each corner, then at the centre.
            Flow::Board => SimDevice::CalibrationBoard,
        }
    }
}

/// `proprio calibrate`'s options.
#[derive(Debug, Args)]
pub(super) struct CalibrateArgs {
    /// Which calibration.
    #[arg(value_enum)]
    flow: Flow,
    /// Where the data comes from, as for `proprio drill` (`sim`: a simulated person doing the
    /// routine with a simulated device; `serial:PATH[@BAUD]`, `ble:…`, …).
    #[arg(long, default_value = "sim", value_name = "SOURCE")]
    source: String,
    /// Don't show the progress bar: print each instruction as a line; with `--source sim`, run
    /// as fast as the computer can (also when standard error is not a terminal).
    #[arg(long)]
    no_live: bool,
    /// Print the stored profile as one JSON object.
    #[arg(long)]
    json: bool,
    /// mount: where the wearable is.
    #[arg(long, value_enum, default_value = "back")]
    on: On,
    /// imu: leave the magnetometer out (no tumble), even if the device has one.
    #[arg(long)]
    no_mag: bool,
    /// board: the known mass put on the board, kg (with `--source sim`, the simulated one's:
    /// 10 kg unless given).
    #[arg(long, value_name = "KG", value_parser = parse_mass_kg)]
    mass_kg: Option<f64>,
    /// board: the distances between its load cells, WIDTHxDEPTH in mm (left–right x
    /// front–back).
    #[arg(long, default_value = "433x238", value_name = "WxD", value_parser = board_args::parse_board_geometry)]
    board_geometry: crate::pipeline::BoardGeometry,
    /// Give up when the routine has not finished after this long, s (the profile is not
    /// stored).
    #[arg(long, default_value_t = 300.0, value_name = "S", value_parser = super::parse_duration_s)]
    timeout: f64,
    #[command(flatten)]
    hx711: board_args::Hx711Args,
    #[command(flatten)]
    sim: SimArgs,
}

/// `proprio calibrate …` for `user`.
pub(super) fn calibrate(
    data_dir: Option<PathBuf>,
    user: &str,
    args: &CalibrateArgs,
) -> Result<ExitCode> {
    let data_dir = store::data_dir(data_dir)?;
    let source = Source::parse(&args.source)?;
    let kind = args.flow.kind(args.on);
    let format = source.format(args.sim.rate, &args.hx711.format());
    if let Some(device) = format.device_kind().filter(|d| *d != kind.device()) {
        bail!(
            "calibrate {} needs {}; '{}' is {}",
            kind.name(),
            device_words(kind.device()),
            args.source,
            device_words(device)
        );
    }
    let mut db = Db::open(&data_dir, user)?;
    let stored = db.profiles(user)?;
    let mut sim = args.sim.config(15.0);
    sim.device = args.flow.sim_device(args.on);
    sim.balance_board.geometry = args.board_geometry;
    let mass_kg = match (kind, args.mass_kg, &source) {
        (ProfileKind::Board, Some(mass_kg), _) => Some(mass_kg),
        (ProfileKind::Board, None, Source::Sim) => Some(sim.balance_board.calibration_mass_kg),
        (ProfileKind::Board, None, _) => {
            bail!("calibrate board needs the known mass you will put on the board: --mass-kg KG")
        }
        _ => None,
    };
    if let Some(mass_kg) = mass_kg {
        if !(MIN_MASS_KG..=MAX_MASS_KG).contains(&mass_kg) {
            bail!(
                "--mass-kg {mass_kg} is not a mass to calibrate a board with: use a known mass \
                 of {MIN_MASS_KG} to {MAX_MASS_KG} kg"
            );
        }
        sim.balance_board.calibration_mass_kg = mass_kg;
    }
    let live = !args.no_live && std::io::stderr().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (info, mut profile) = runtime.block_on(async {
        let mut signals = StopSignals::new()?;
        let mut link = Link::open(&source, sim, live)?;
        let flow = FlowRun {
            kind,
            format,
            rate_hz: args.sim.rate,
            with_mag: !args.no_mag,
            mass_kg,
            geometry: args.board_geometry,
            builds_on: stored.only(kind.builds_on()),
            timeout_us: (args.timeout * 1e6) as u64,
        };
        flow.run(&mut link, &mut signals, live).await
    })?;
    // The back's mounting the samples came through: a neutral is applied only with it.
    let mount_in_force = stored
        .only(&[ProfileKind::Mount])
        .for_device(info.kind, info.device_id)
        .first()
        .map(|mount| mount.created_utc.clone());
    if let Profile::Neutral(neutral) = &mut profile {
        if mount_in_force.is_none() {
            eprintln!(
                "proprio: note: the wearable's mounting on the back is not calibrated, so this \
                 neutral is in the sensor's own axes (fine if it is strapped on straight; \
                 `proprio calibrate mount` first if not)"
            );
        }
        neutral.mount_created_utc = mount_in_force;
    }
    let neutral_kept = stored.0.iter().any(|s| {
        s.device_id == info.device_id
            && s.user.as_deref() == Some(user)
            && s.profile.kind() == ProfileKind::Neutral
    });
    if kind == ProfileKind::Mount && neutral_kept {
        eprintln!(
            "proprio: note: your stored neutral posture was captured through the earlier \
             mounting, so it is no longer applied: capture it again with `proprio calibrate \
             neutral`"
        );
    }
    let (created_utc, _) = store::utc_now()?;
    let stored = StoredProfile {
        device_kind: info.kind,
        device_id: info.device_id,
        user: kind.per_user().then(|| user.to_string()),
        created_utc,
        profile,
    };
    db.insert_profile(&DeviceSummary::from(&info), &stored)?;
    if args.json {
        out!(
            "{}",
            serde_json::to_string(&stored).context("cannot format the profile")?
        );
    } else {
        out!(
            "{} calibration of {} {} stored ({}); sessions on it apply it from now on.",
            kind.name(),
            device_words(info.kind),
            info.device_id,
            stored.created_utc
        );
        for line in stored.profile.summary() {
            out!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `proprio calibrations`: the stored profiles that apply to `user`, oldest first; the latest
/// of each kind for a device is marked as the one in force.
pub(super) fn list(data_dir: Option<PathBuf>, user: &str, json: bool) -> Result<ExitCode> {
    let data_dir = store::data_dir(data_dir)?;
    let profiles = Db::open(&data_dir, user)?.profiles(user)?;
    if json {
        out!(
            "{}",
            serde_json::to_string(&profiles).context("cannot format the profiles")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if profiles.is_empty() {
        out!("no calibrations stored; run `proprio calibrate imu` (see `proprio help calibrate`)");
        return Ok(ExitCode::SUCCESS);
    }
    for (stored, in_force) in profiles.0.iter().zip(profiles.in_force()) {
        out!(
            "{}  {} of {} {}{}{}",
            stored.created_utc,
            stored.profile.kind().name(),
            device_words(stored.device_kind),
            stored.device_id,
            stored
                .user
                .as_ref()
                .map_or(String::new(), |u| format!(", {u}'s")),
            if in_force { " (in force)" } else { "" }
        );
        for line in stored.profile.summary() {
            out!("    {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn device_words(kind: proprio_protocol::DeviceKind) -> &'static str {
    match kind {
        proprio_protocol::DeviceKind::Wearable => "an IMU wearable",
        proprio_protocol::DeviceKind::BalanceBoard => "a balance board",
    }
}

/// One run of a flow: what it needs to know besides the link.
struct FlowRun {
    kind: ProfileKind,
    format: DeviceFormat,
    rate_hz: u16,
    with_mag: bool,
    /// The known mass on a board, kg (a board's flow only).
    mass_kg: Option<f64>,
    /// The board's geometry.
    geometry: crate::pipeline::BoardGeometry,
    /// The stored profiles the routine's samples go through.
    builds_on: crate::calibrate::Profiles,
    timeout_us: u64,
}

impl FlowRun {
    /// Runs the routine on `link` until its data is complete; the device and the profile.
    async fn run(
        self,
        link: &mut Link,
        signals: &mut StopSignals,
        live: bool,
    ) -> Result<(DeviceInfo, Profile)> {
        let speaks_proprio = self.format == DeviceFormat::Proprio;
        let mut decoder = FormatDecoder::new(&self.format);
        let mut device: Option<(DeviceInfo, Pipeline)> = None;
        let mut routine: Option<Box<dyn Routine>> = None;
        let mut display = Display::new(live);
        let started_us = link.now_us();
        let start = |link: &mut Link| -> Result<()> {
            if speaks_proprio {
                link.send(&HostMessage::GetInfo)?;
                link.send(&HostMessage::Start {
                    rate_hz: self.rate_hz,
                })?;
            }
            Ok(())
        };
        start(link)?;
        let (mut info_requests, mut last_request_us) = (1, link.now_us());
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                event = link.next() => match event {
                    LinkEvent::Bytes { t_host_us, bytes } => {
                        decoder.push(&bytes, t_host_us);
                        while let Some(outcome) = decoder.next() {
                            let Ok(message) = outcome else { continue };
                            self.on_message(message, &mut device, &mut routine)?;
                        }
                    }
                    LinkEvent::Connected { .. } => {
                        display.note("the link is back; carry on");
                        start(link)?;
                    }
                    LinkEvent::Disconnected { reason, .. } => {
                        decoder.resync();
                        display.note(&format!("the link dropped ({reason}); reconnecting…"));
                    }
                    LinkEvent::Lost { reason, .. } => bail!(
                        "the link was lost ({reason}) before the calibration finished; nothing was stored"
                    ),
                },
                signal = signals.recv() => bail!(
                    "stopped ({signal}) before the calibration finished; nothing was stored"
                ),
                _ = tick.tick() => {}
            }
            if let Some(routine) = &routine {
                let progress = routine.progress();
                display.show(&progress);
                if progress.done {
                    display.finish();
                    let profile = routine.finish().with_context(|| {
                        format!(
                            "the {} calibration's data fits no calibration",
                            self.kind.name()
                        )
                    })?;
                    let (info, _) = device.context("no device")?;
                    // Best effort: the device may already be gone.
                    if speaks_proprio {
                        let _ = link.send(&HostMessage::Stop);
                    }
                    return Ok((info, profile));
                }
            }
            let waited_us = link.now_us().saturating_sub(started_us);
            if waited_us > self.timeout_us {
                let step = routine
                    .as_ref()
                    .map_or("the device sent no samples".to_string(), |r| {
                        let p = r.progress();
                        format!(
                            "step {} of {} was not done ({})",
                            p.step, p.steps, p.instruction
                        )
                    });
                bail!(
                    "the calibration did not finish in {:.0} s: {step}; nothing was stored",
                    self.timeout_us as f64 / 1e6
                );
            }
            if speaks_proprio
                && device.is_none()
                && link.now_us().saturating_sub(last_request_us) > INFO_RETRY_US
            {
                if info_requests >= INFO_TRIES {
                    bail!("the device did not identify itself (no Hello after {INFO_TRIES} requests); is it running proprio's firmware?");
                }
                link.send(&HostMessage::GetInfo)?;
                info_requests += 1;
                last_request_us = link.now_us();
            }
        }
    }

    /// One decoded message: the device's hello sets up its pipeline (with the profiles the
    /// routine builds on); its first sample starts the routine; every sample feeds it.
    fn on_message(
        &self,
        message: DeviceMessage,
        device: &mut Option<(DeviceInfo, Pipeline)>,
        routine: &mut Option<Box<dyn Routine>>,
    ) -> Result<()> {
        match message {
            DeviceMessage::Hello(info) => {
                if info.kind != self.kind.device() {
                    bail!(
                        "calibrate {} needs {}; the device is {}",
                        self.kind.name(),
                        device_words(self.kind.device()),
                        device_words(info.kind)
                    );
                }
                if device
                    .as_ref()
                    .is_some_and(|(known, _)| known.device_id != info.device_id)
                {
                    bail!("another device introduced itself during the calibration; nothing was stored");
                }
                let (mut config, _) =
                    self.builds_on
                        .apply(info.kind, info.device_id, &PipelineConfig::default());
                // A profile of the worn wearable (the neutral posture) is taken in body axes;
                // the others in the sensor's.
                if self.kind.builds_on().contains(&ProfileKind::Mount) {
                    config = config.placed(Placement::Back);
                }
                let mut pipeline = Pipeline::new(config);
                pipeline.set_device_info(info);
                *device = Some((info, pipeline));
            }
            DeviceMessage::Imu(sample) => self.on_imu(&[sample], device, routine)?,
            DeviceMessage::ImuBatch(batch) => self.on_imu(&batch.samples, device, routine)?,
            DeviceMessage::Load(sample) => {
                if let Some((info, _)) = device.as_ref() {
                    if routine.is_none() {
                        *routine = Some(self.routine(info, false)?);
                    }
                    if let Some(routine) = routine.as_mut() {
                        routine.push(RoutineInput::Load(&sample));
                    }
                }
            }
            DeviceMessage::Status(_) | DeviceMessage::Ack(_) => {}
        }
        Ok(())
    }

    fn on_imu(
        &self,
        samples: &[proprio_protocol::ImuSample],
        device: &Option<(DeviceInfo, Pipeline)>,
        routine: &mut Option<Box<dyn Routine>>,
    ) -> Result<()> {
        let Some((info, pipeline)) = device else {
            return Ok(());
        };
        for sample in samples {
            let Some(si) = pipeline.to_si(sample) else {
                continue;
            };
            if routine.is_none() {
                *routine = Some(self.routine(info, self.with_mag && si.mag_ut.is_some())?);
            }
            if let Some(routine) = routine.as_mut() {
                routine.push(RoutineInput::Imu(&si));
            }
        }
        Ok(())
    }

    /// The flow's routine for `info`'s device (`with_mag`: it has a magnetometer to calibrate).
    fn routine(&self, info: &DeviceInfo, with_mag: bool) -> Result<Box<dyn Routine>> {
        let rate_hz = f64::from(info.sample_rate_hz);
        Ok(match self.kind {
            ProfileKind::Imu => Box::new(ImuRoutine::new(rate_hz, with_mag)),
            ProfileKind::Mount => Box::new(MountRoutine::new(Placement::Back, rate_hz)),
            ProfileKind::MountBoard => Box::new(MountRoutine::new(Placement::Board, rate_hz)),
            ProfileKind::Neutral => Box::new(NeutralRoutine::new(rate_hz)),
            ProfileKind::Board => Box::new(
                BoardRoutine::new(info, self.mass_kg.unwrap_or_default(), self.geometry)
                    .context("cannot calibrate the board")?,
            ),
        })
    }
}

/// Where the user sees the routine: a progress bar on a terminal, else a line for each new
/// instruction.
struct Display {
    bar: Option<indicatif::ProgressBar>,
    /// The step shown, and the instructions shown in it.
    shown: (usize, Vec<String>),
}

impl Display {
    fn new(live: bool) -> Self {
        let bar = live.then(|| {
            let bar = indicatif::ProgressBar::new(100);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{prefix} {bar:30} {percent:>3}%  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Display {
            bar,
            shown: (0, Vec::new()),
        }
    }

    fn show(&mut self, progress: &RoutineProgress) {
        if self.shown.0 != progress.step {
            self.shown = (progress.step, Vec::new());
        }
        // Each instruction once per step: a pose routine goes back and forth between "turn"
        // and "hold", which a log does not need to repeat.
        let new = !self.shown.1.contains(&progress.instruction);
        if new {
            self.shown.1.push(progress.instruction.clone());
        }
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(format!("step {}/{}", progress.step, progress.steps));
                bar.set_position((progress.step_fraction * 100.0).round() as u64);
                bar.set_message(progress.instruction.clone());
            }
            // On standard error, so that `--json` leaves standard output to the profile.
            None if new => eprintln!(
                "step {} of {}: {}",
                progress.step, progress.steps, progress.instruction
            ),
            None => {}
        }
    }

    /// Something that happened (the link dropped), shown above the bar or as a line.
    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn parse_mass_kg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("'{s}' is not a mass in kilograms")),
    }
}
