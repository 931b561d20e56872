//! A session's core: records in (bytes from the link, link events, the user's stop), a result
//! out. The live run and the replay feed the same records through the same [`Session`], which
//! is why a replay gives the live result to the bit. When the device introduces itself, the
//! chain is built again (before its first sample) with the calibrations stored for that device
//! and carried in the header ([`SessionMeta::calibrations`]): the same in the replay.
//!
//! A rocker-board or wobble-board hold runs IMU samples through the orientation
//! [`Pipeline`], and so does the tandem walk (which also keeps the samples for its step
//! detection); the standing drills and the weight shift run balance-board samples through the
//! [`CopPipeline`]. Samples of the other kind of device are not used (the live run refuses
//! such a device as soon as it introduces itself). Quiet stance runs on either: it starts on
//! the device the header expects ([`SessionMeta::expected_device`]) and, if the device that
//! introduces itself is of the other kind, switches to it before its first sample.

use proprio_protocol::{DeviceInfo, DeviceKind, DeviceMessage, ImuSample, LoadSample};
use serde::{Deserialize, Serialize};

use crate::calibrate::{AppliedProfile, Profiles};
use crate::cues::CueKinds;
use crate::decode::SampleClock;
use crate::devices::{DeviceFormat, FormatDecoder};
use crate::drill::{
    DrillEvent, DrillKind, DrillMetrics, EndReason, NeutralSpine, NeutralSpineConfig,
    NeutralSpineLive, QuietStance, QuietStanceConfig, QuietStanceLive, RockerHold,
    RockerHoldConfig, RockerHoldLive, StanceTask, TandemWalk, TandemWalkConfig, TandemWalkLive,
    WearableStance, WearableStanceLive, WeightShift, WeightShiftConfig, WeightShiftLive,
    WobbleHold, WobbleHoldConfig, WobbleHoldLive,
};
use crate::guided::GuidedInfo;
use crate::measures::Stretch;
use crate::pipeline::{
    BoardTilt, CopPipeline, CopSample, ImuSi, Pipeline, PipelineConfig, Placement, RockingAxis,
    COP_PIPELINE_VERSION, PIPELINE_VERSION,
};
use crate::quality::{DataQuality, TimestampSource};
use crate::recording::{Control, LinkEventKind, Record};
use crate::scoring::{self, Baseline, DeviceClass, Progress};
use crate::sim::SimConfig;

impl SessionMeta {
    /// The header of a new session: the current pipeline (default setup; set
    /// `pipeline.cop.geometry` for a board of another size) and versions.
    pub fn new(
        drill: DrillSetup,
        source: String,
        format: DeviceFormat,
        sim: Option<SimConfig>,
        created_utc: String,
    ) -> Self {
        let mut meta = SessionMeta {
            drill,
            source,
            format,
            sim,
            pipeline: PipelineConfig::default(),
            pipeline_version: String::new(),
            proprio_version: env!("CARGO_PKG_VERSION").to_string(),
            created_utc,
            baseline: None,
            cues: None,
            guided: None,
            imported: None,
            user: None,
            calibrations: Profiles::default(),
        };
        meta.pipeline_version = pipeline_version_on(drill.kind(), meta.expected_device()).into();
        meta
    }

    /// The kind of device the session expects: what the source's format says, else the
    /// simulated device's, else the drill's default. Quiet stance follows the device that
    /// introduces itself, whatever was expected.
    pub fn expected_device(&self) -> DeviceClass {
        if let Some(kind) = self.format.device_kind() {
            return DeviceClass::of_kind(kind);
        }
        match &self.sim {
            Some(sim) => DeviceClass::of_kind(sim.device.kind()),
            None => DeviceClass::of_drill(self.drill.kind()),
        }
    }
}

/// A drill with its setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum DrillSetup {
    /// The rocker-board hold.
    RockerHold(RockerHoldConfig),
    /// The wobble-board hold.
    WobbleHold(WobbleHoldConfig),
    /// Quiet stance on a balance board.
    QuietStance(QuietStanceConfig),
    /// Single-leg stance on a balance board.
    SingleLeg(QuietStanceConfig),
    /// Tandem stance on a balance board.
    TandemStance(QuietStanceConfig),
    /// The heel-to-toe walk.
    TandemWalk(TandemWalkConfig),
    /// The neutral-spine hold.
    NeutralSpine(NeutralSpineConfig),
    /// The weight shift on a balance board.
    WeightShift(WeightShiftConfig),
}

impl DrillSetup {
    /// Which drill.
    pub fn kind(&self) -> DrillKind {
        match self {
            DrillSetup::RockerHold(_) => DrillKind::RockerHold,
            DrillSetup::WobbleHold(_) => DrillKind::WobbleHold,
            DrillSetup::QuietStance(_) => DrillKind::QuietStance,
            DrillSetup::SingleLeg(_) => DrillKind::SingleLeg,
            DrillSetup::TandemStance(_) => DrillKind::TandemStance,
            DrillSetup::TandemWalk(_) => DrillKind::TandemWalk,
            DrillSetup::NeutralSpine(_) => DrillKind::NeutralSpine,
            DrillSetup::WeightShift(_) => DrillKind::WeightShift,
        }
    }

    /// Its level.
    pub fn level(&self) -> u8 {
        match self {
            DrillSetup::RockerHold(c) => c.level,
            DrillSetup::WobbleHold(c) => c.level,
            DrillSetup::QuietStance(c) | DrillSetup::SingleLeg(c) | DrillSetup::TandemStance(c) => {
                c.level
            }
            DrillSetup::TandemWalk(c) => c.level,
            DrillSetup::NeutralSpine(c) => c.level,
            DrillSetup::WeightShift(c) => c.level,
        }
    }

    /// Its target duration (a walk's time limit; the weight shift's longest), s.
    pub fn duration_s(&self) -> f64 {
        match self {
            DrillSetup::RockerHold(c) => c.duration_s,
            DrillSetup::WobbleHold(c) => c.duration_s,
            DrillSetup::QuietStance(c) | DrillSetup::SingleLeg(c) | DrillSetup::TandemStance(c) => {
                c.duration_s
            }
            DrillSetup::TandemWalk(c) => c.time_limit_s,
            DrillSetup::NeutralSpine(c) => c.duration_s,
            DrillSetup::WeightShift(c) => c.time_limit_s(),
        }
    }

    /// The setup of a standing drill on the balance board.
    pub fn for_stance(config: QuietStanceConfig) -> Self {
        match config.task {
            StanceTask::Quiet => DrillSetup::QuietStance(config),
            StanceTask::SingleLeg => DrillSetup::SingleLeg(config),
            StanceTask::Tandem => DrillSetup::TandemStance(config),
        }
    }
}

/// The version of the signal chain a drill uses on its default sensor.
pub fn pipeline_version(drill: DrillKind) -> &'static str {
    pipeline_version_on(drill, DeviceClass::of_drill(drill))
}

/// The version of the signal chain a drill uses on `device` (a drill that runs on one kind of
/// sensor has one chain).
pub fn pipeline_version_on(drill: DrillKind, device: DeviceClass) -> &'static str {
    if drill == DrillKind::QuietStance && device == DeviceClass::Imu {
        return WEARABLE_STANCE_PIPELINE_VERSION;
    }
    match drill {
        DrillKind::RockerHold | DrillKind::WobbleHold => PIPELINE_VERSION,
        DrillKind::NeutralSpine => NEUTRAL_SPINE_PIPELINE_VERSION,
        DrillKind::QuietStance | DrillKind::SingleLeg | DrillKind::TandemStance => {
            STANCE_PIPELINE_VERSION
        }
        DrillKind::WeightShift => COP_PIPELINE_VERSION,
        DrillKind::TandemWalk => WALK_PIPELINE_VERSION,
    }
}

/// The standing drills' chain: the balance board's ([`COP_PIPELINE_VERSION`]) and the
/// canonical preprocessing of their sway measures
/// ([`PREPROCESSING_VERSION`](crate::measures::PREPROCESSING_VERSION)).
pub const STANCE_PIPELINE_VERSION: &str = "cop-1+swarii25-bw4lp10-1";

/// The walk's chain: the IMU pipeline ([`PIPELINE_VERSION`]), the offline orientation
/// ([`OFFLINE_ORIENTATION_VERSION`](crate::pipeline::OFFLINE_ORIENTATION_VERSION)) its trunk
/// sway and heel-to-toe steps are measured on, and the step detection
/// ([`STEP_DETECTION_VERSION`](crate::measures::gait::STEP_DETECTION_VERSION)).
pub const WALK_PIPELINE_VERSION: &str = "4+offline-2+mccamley-ionescu-2";

/// The neutral-spine hold's chain: the IMU pipeline ([`PIPELINE_VERSION`]), its result measured
/// on the offline orientation estimate
/// ([`OFFLINE_ORIENTATION_VERSION`](crate::pipeline::OFFLINE_ORIENTATION_VERSION)).
pub const NEUTRAL_SPINE_PIPELINE_VERSION: &str = "4+offline-2";

/// Quiet stance on the wearable: the IMU pipeline ([`PIPELINE_VERSION`]) for the start and the
/// loss of balance, the result's ISway measures on the offline orientation estimate after the
/// canonical preprocessing
/// ([`PREPROCESSING_VERSION`](crate::measures::PREPROCESSING_VERSION)).
pub const WEARABLE_STANCE_PIPELINE_VERSION: &str = "4+isway-1";

/// Everything needed to run (or re-run) a session; the recording's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// The drill and its setup.
    pub drill: DrillSetup,
    /// Where the data came from, as given on the command line (`sim`, `serial:/dev/ttyACM0`).
    pub source: String,
    /// The byte format the source speaks.
    #[serde(default)]
    pub format: DeviceFormat,
    /// The simulator's setup, when the source is the simulator.
    pub sim: Option<SimConfig>,
    /// The signal chain's setup.
    pub pipeline: PipelineConfig,
    /// [`PIPELINE_VERSION`] when recorded.
    pub pipeline_version: String,
    /// proprio's version when recorded.
    pub proprio_version: String,
    /// When the session started, UTC, RFC 3339.
    pub created_utc: String,
    /// The user's baseline for this drill and level when the session started (from earlier
    /// sessions), against which the result is scored; absent until there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// The cues the user chose for a live run; absent where nobody chose (older recordings,
    /// sessions run in code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cues: Option<CueKinds>,
    /// Set when the drill was run in a guided session (`proprio session`): the session's id
    /// and the check-in; absent for a drill run on its own (and in older recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided: Option<GuidedInfo>,
    /// Where an imported session came from (`proprio import`); absent for sessions proprio
    /// recorded itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedFrom>,
    /// Whose session it is (`--user`); absent in recordings made before there were users,
    /// which belong to whoever first opens the history database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The stored calibration profiles when the session started (`proprio calibrate`); the
    /// session applies those of the device that introduces itself (see
    /// [`crate::calibrate::Profiles`]), so the recording replays with the calibration it was
    /// made with. Absent when there were none.
    #[serde(default, skip_serializing_if = "Profiles::is_empty")]
    pub calibrations: Profiles,
}

/// The origin of a session that another tool recorded (see `proprio import`): its samples were
/// encoded in proprio's wire protocol as a wearable would have sent them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedFrom {
    /// The file imported, as given.
    pub file: String,
    /// Its format: `fusion`, `witmotion` or `generic`.
    pub format: String,
    /// The columns read, in words (time, accelerometer, gyroscope, magnetometer and units).
    pub columns: String,
    /// Samples imported.
    pub samples: u64,
    /// When it was imported, UTC, RFC 3339.
    pub imported_utc: String,
}

/// The device as it introduced itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// Kind: "wearable" or "balance-board".
    pub kind: String,
    /// Serial number.
    pub device_id: u32,
    /// Firmware version, "major.minor.patch".
    pub firmware: [u8; 3],
    /// Sample rate it reported, Hz.
    pub sample_rate_hz: f32,
}

impl From<&DeviceInfo> for DeviceSummary {
    fn from(info: &DeviceInfo) -> Self {
        DeviceSummary {
            kind: match info.kind {
                proprio_protocol::DeviceKind::Wearable => "wearable",
                proprio_protocol::DeviceKind::BalanceBoard => "balance-board",
            }
            .to_string(),
            device_id: info.device_id,
            firmware: [
                info.firmware.major,
                info.firmware.minor,
                info.firmware.patch,
            ],
            sample_rate_hz: info.sample_rate_hz,
        }
    }
}

/// The result of a session, exactly as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    /// Drill name.
    pub drill: DrillKind,
    /// Level.
    pub level: u8,
    /// Data source.
    pub source: String,
    /// When the drill started, s of device time since the stream's first sample (the drill's
    /// clock starts once the orientation estimate has settled, or, on a balance board, once
    /// the user stands steadily on it).
    pub start_s: f64,
    /// Seconds from start to end, device time.
    pub duration_s: f64,
    /// The drill's target duration, s.
    pub target_duration_s: f64,
    /// Why it ended.
    pub end: EndReason,
    /// 0–100: the drill's own task score (provisional; the trusted score is `progress`).
    pub score: f64,
    /// Why the quality gates refused to score the trial, in one sentence; absent when scored.
    #[serde(default)]
    pub refused: Option<String>,
    /// The trusted score against the user's baseline (see [`crate::scoring`]); absent while
    /// there is no baseline for this drill and level, or when the trial was refused.
    #[serde(default)]
    pub progress: Option<Progress>,
    /// The measures (the drill's own).
    pub metrics: DrillMetrics,
    /// Events, in order (the first 1000).
    pub events: Vec<DrillEvent>,
    /// All events, including any beyond those listed.
    pub events_total: u64,
    /// What the data was like.
    pub quality: DataQuality,
    /// The device.
    pub device: Option<DeviceSummary>,
    /// The stored calibrations applied to the device's data (from the header's
    /// [`SessionMeta::calibrations`]); empty when it was uncalibrated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrations: Vec<AppliedProfile>,
    /// The recording file (set by whoever wrote or read it).
    pub recording: Option<String>,
    /// Version of the signal chain that produced it.
    pub pipeline_version: String,
}

/// A drill's live state, for the live view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DrillLive {
    /// The rocker-board hold.
    RockerHold {
        /// The drill's state.
        live: RockerHoldLive,
        /// Band, ± degrees.
        band_deg: f64,
        /// The board's edge limit, degrees.
        edge_limit_deg: f64,
    },
    /// The wobble-board hold.
    WobbleHold {
        /// The drill's state.
        live: WobbleHoldLive,
        /// Band (the tilt's size), degrees.
        band_deg: f64,
        /// The board's edge limit, degrees.
        edge_limit_deg: f64,
    },
    /// Quiet stance.
    QuietStance(QuietStanceLive),
    /// Quiet stance on the wearable.
    WearableStance(WearableStanceLive),
    /// The tandem walk.
    TandemWalk(TandemWalkLive),
    /// The neutral-spine hold.
    NeutralSpine {
        /// The drill's state.
        live: NeutralSpineLive,
        /// Band, ± degrees.
        band_deg: f64,
    },
    /// The weight shift.
    WeightShift(WeightShiftLive),
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveStatus {
    /// The drill's state.
    pub drill: DrillLive,
    /// The drill's level.
    pub level: u8,
    /// Samples used so far.
    pub samples: u64,
    /// Samples lost so far.
    pub frames_lost: u64,
    /// Corrupted frames so far.
    pub bad_frames: u64,
    /// Battery, percent.
    pub battery_percent: Option<u8>,
    /// Host time of the last bytes, µs.
    pub last_data_host_us: Option<u64>,
    /// Host time since which the link has been down, µs.
    pub link_down_since_us: Option<u64>,
    /// True once the device has introduced itself.
    pub device_known: bool,
}

/// A drill with the signal chain that feeds it.
enum Chain {
    /// IMU samples → orientation → tilt → rocker-board hold.
    RockerHold {
        pipeline: Box<Pipeline>,
        drill: RockerHold,
    },
    /// IMU samples → orientation → two-axis tilt → wobble-board hold.
    WobbleHold {
        pipeline: Box<Pipeline>,
        drill: WobbleHold,
    },
    /// Load samples → tare → COP → quiet stance.
    QuietStance {
        pipeline: CopPipeline,
        drill: Box<QuietStance>,
    },
    /// IMU samples (and the live trunk angle) → tandem walk.
    TandemWalk {
        pipeline: Box<Pipeline>,
        drill: Box<TandemWalk>,
    },
    /// IMU samples (and the live estimate's up) → neutral-spine hold.
    NeutralSpine {
        pipeline: Box<Pipeline>,
        drill: Box<NeutralSpine>,
    },
    /// Load samples → tare → COP → weight shift.
    WeightShift {
        pipeline: CopPipeline,
        drill: Box<WeightShift>,
    },
    /// IMU samples (and the live estimate's up) → quiet stance on the wearable.
    WearableStance {
        pipeline: Box<Pipeline>,
        drill: Box<WearableStance>,
    },
}

impl Chain {
    /// The chain of `meta`'s drill on `device` (which matters only to quiet stance), with the
    /// pipeline set up as `pipeline` says (the header's, with the device's calibrations).
    fn new(meta: &SessionMeta, pipeline: &PipelineConfig, device: DeviceClass) -> Self {
        // The IMU's samples come in the axes of the drill's placement, when its mounting is
        // calibrated: the board's for the board holds, the body's for the worn drills.
        let (on_board, worn) = (
            pipeline.placed(Placement::Board),
            pipeline.placed(Placement::Back),
        );
        match meta.drill {
            DrillSetup::RockerHold(config) => Chain::RockerHold {
                pipeline: Box::new(Pipeline::new(on_board)),
                drill: RockerHold::new(config),
            },
            DrillSetup::WobbleHold(config) => Chain::WobbleHold {
                pipeline: Box::new(Pipeline::new(on_board)),
                drill: WobbleHold::new(config),
            },
            DrillSetup::QuietStance(config) if device == DeviceClass::Imu => {
                Chain::WearableStance {
                    pipeline: Box::new(Pipeline::new(worn)),
                    drill: Box::new(WearableStance::new(QuietStanceConfig {
                        task: StanceTask::Quiet,
                        ..config
                    })),
                }
            }
            DrillSetup::QuietStance(config)
            | DrillSetup::SingleLeg(config)
            | DrillSetup::TandemStance(config) => Chain::QuietStance {
                pipeline: CopPipeline::new(pipeline.cop),
                drill: Box::new(QuietStance::new(QuietStanceConfig {
                    task: meta.drill.kind().stance_task().unwrap_or_default(),
                    ..config
                })),
            },
            DrillSetup::TandemWalk(config) => Chain::TandemWalk {
                // The trunk's lateral angle is the tilt about the sensor's forward (x) axis.
                pipeline: Box::new(Pipeline::new(PipelineConfig {
                    rocking_axis: RockingAxis::X,
                    ..worn
                })),
                drill: Box::new(TandemWalk::new(config)),
            },
            DrillSetup::NeutralSpine(config) => Chain::NeutralSpine {
                pipeline: Box::new(Pipeline::new(worn)),
                drill: Box::new(NeutralSpine::new(config).with_stored_neutral(worn.neutral_up)),
            },
            DrillSetup::WeightShift(config) => Chain::WeightShift {
                pipeline: CopPipeline::new(pipeline.cop),
                drill: Box::new(WeightShift::new(config)),
            },
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Chain::RockerHold { drill, .. } => drill.is_done(),
            Chain::WobbleHold { drill, .. } => drill.is_done(),
            Chain::QuietStance { drill, .. } => drill.is_done(),
            Chain::TandemWalk { drill, .. } => drill.is_done(),
            Chain::NeutralSpine { drill, .. } => drill.is_done(),
            Chain::WeightShift { drill, .. } => drill.is_done(),
            Chain::WearableStance { drill, .. } => drill.is_done(),
        }
    }

    fn stop(&mut self, reason: EndReason, events: &mut Vec<DrillEvent>) {
        match self {
            Chain::RockerHold { drill, .. } => drill.stop(reason, events),
            Chain::WobbleHold { drill, .. } => drill.stop(reason, events),
            Chain::QuietStance { drill, .. } => drill.stop(reason, events),
            Chain::TandemWalk { drill, .. } => drill.stop(reason, events),
            Chain::NeutralSpine { drill, .. } => drill.stop(reason, events),
            Chain::WeightShift { drill, .. } => drill.stop(reason, events),
            Chain::WearableStance { drill, .. } => drill.stop(reason, events),
        }
    }
}

/// The samples a session's chain used, as it saw them (decoded, timed by the sample clock, in SI
/// units or as COP): what `proprio measure` measures a recording on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedSamples {
    /// IMU samples: device time (µs since the stream's first sample) and the calibrated sample.
    pub imu: Vec<(u64, ImuSi)>,
    /// The live estimate's tilt at each IMU sample (as the drill saw it), for reports.
    pub tilt: Vec<BoardTilt>,
    /// Balance-board samples (with the COP while someone is on the board).
    pub cop: Vec<CopSample>,
    /// A standing drill's measured COP, in the stretches its measures come from (time since
    /// the hold started, s; mm); empty for other drills.
    pub measured_cop: Vec<Stretch>,
}

impl DecodedSamples {
    /// The COP of the samples from `from_s` to `to_s` (device time, s; 1 ns of slack for the
    /// µs clock) with someone on the board, as one stretch.
    pub fn cop_between(&self, from_s: f64, to_s: f64) -> Stretch {
        let mut stretch = Stretch::default();
        for s in &self.cop {
            let t = s.t_us as f64 * 1e-6;
            if let (Some([ml, ap]), true) = (s.cop_mm, t >= from_s - 1e-9 && t <= to_s + 1e-9) {
                stretch.push(t, ml, ap);
            }
        }
        stretch
    }
}

/// The running session.
pub struct Session {
    /// The samples kept for [`Session::finish_with_samples`], when asked for.
    kept: Option<DecodedSamples>,
    /// The data quality when the drill ended, once samples after its end are kept.
    quality_at_end: Option<DataQuality>,
    meta: SessionMeta,
    decoder: FormatDecoder,
    clock: SampleClock,
    chain: Chain,
    /// The sensor the chain is for.
    device_class: DeviceClass,
    info: Option<DeviceInfo>,
    quality: DataQuality,
    device: Option<DeviceSummary>,
    last_data_host_us: Option<u64>,
    link_down_since_us: Option<u64>,
    /// The stored calibrations in force.
    applied: Vec<AppliedProfile>,
}

impl Session {
    /// A session set up as `meta` says.
    pub fn new(meta: SessionMeta) -> Self {
        let device_class = meta.expected_device();
        let chain = Chain::new(&meta, &meta.pipeline, device_class);
        let mut quality = DataQuality::default();
        if !meta.format.has_device_clock() {
            quality.timestamps = TimestampSource::Host;
        }
        Session {
            kept: None,
            quality_at_end: None,
            decoder: FormatDecoder::new(&meta.format),
            clock: SampleClock::new(),
            chain,
            device_class,
            info: None,
            quality,
            device: None,
            last_data_host_us: None,
            link_down_since_us: None,
            applied: Vec::new(),
            meta,
        }
    }

    /// Keeps every sample the chain uses from now on, and those after the drill's end
    /// (memory grows with the recording).
    pub fn keep_samples(&mut self) {
        self.kept.get_or_insert_with(DecodedSamples::default);
    }

    /// [`Session::finish`], and the samples kept since [`Session::keep_samples`].
    pub fn finish_with_samples(mut self) -> (SessionReport, DecodedSamples) {
        let mut kept = self.kept.take().unwrap_or_default();
        if let Chain::QuietStance { drill, .. } = &self.chain {
            kept.measured_cop = drill.stretches().to_vec();
        }
        (self.finish(), kept)
    }

    /// True once the drill has ended; later records change nothing.
    pub fn is_done(&self) -> bool {
        self.chain.is_done()
    }

    /// The kind of device, once it has introduced itself.
    pub fn device_kind(&self) -> Option<DeviceKind> {
        self.info.map(|info| info.kind)
    }

    /// True once the device has sent its `Hello`.
    pub fn has_device_info(&self) -> bool {
        self.info.is_some()
    }

    /// True once a sample has been decoded.
    pub fn has_samples(&self) -> bool {
        self.samples_used() > 0
    }

    /// Samples the drill has used so far (the count [`LiveStatus::samples`] shows, without
    /// building the whole status).
    pub fn samples_used(&self) -> u64 {
        self.quality.samples_received
    }

    /// Takes one record; appends the drill events it causes to `events`.
    pub fn handle(&mut self, record: &Record, events: &mut Vec<DrillEvent>) {
        if self.is_done() {
            if self.kept.is_some() {
                self.keep_after_end(record);
            }
            return;
        }
        match record {
            Record::Received { t_host_us, bytes } => {
                self.last_data_host_us = Some(*t_host_us);
                self.decoder.push(bytes, *t_host_us);
                while let Some(outcome) = self.decoder.next() {
                    if let Ok(message) = outcome {
                        self.on_message(message, events);
                    }
                }
            }
            Record::Link {
                t_host_us, event, ..
            } => self.on_link(*t_host_us, *event, events),
            Record::Control { control, .. } => {
                let reason = match control {
                    Control::UserStop => EndReason::UserStop,
                    Control::PainStop => EndReason::PainStop,
                };
                self.chain.stop(reason, events);
            }
            Record::Header(_) | Record::Sent { .. } | Record::Result(_) => {}
        }
    }

    fn on_link(&mut self, t_host_us: u64, event: LinkEventKind, events: &mut Vec<DrillEvent>) {
        match event {
            LinkEventKind::Connected => {
                if let Some(down_at) = self.link_down_since_us.take() {
                    self.quality.reconnects += 1;
                    self.quality.disconnected_s += t_host_us.saturating_sub(down_at) as f64 * 1e-6;
                }
            }
            LinkEventKind::Disconnected => {
                // What arrives after the link comes back starts at an unknown point of the
                // device's stream, and the frame cut off here never ends.
                self.decoder.resync();
                if self.link_down_since_us.is_none() {
                    self.quality.disconnects += 1;
                    self.link_down_since_us = Some(t_host_us);
                }
            }
            LinkEventKind::Lost => {
                if let Some(down_at) = self.link_down_since_us.take() {
                    self.quality.disconnected_s += t_host_us.saturating_sub(down_at) as f64 * 1e-6;
                }
                self.chain.stop(EndReason::LinkLost, events);
            }
        }
    }

    /// Host time since which the link has been down, µs, if it is down.
    pub fn link_down_since_us(&self) -> Option<u64> {
        self.link_down_since_us
    }

    fn on_message(&mut self, message: DeviceMessage, events: &mut Vec<DrillEvent>) {
        match message {
            DeviceMessage::Hello(info) => {
                let class = DeviceClass::of_kind(info.kind);
                let drill = self.meta.drill.kind();
                let switch =
                    class != self.device_class && DeviceClass::for_drill(drill).contains(&class);
                let (pipeline, applied) =
                    self.meta
                        .calibrations
                        .apply(info.kind, info.device_id, &self.meta.pipeline);
                // Before the first sample the chain starts again: on the device that is there
                // (quiet stance, see the module docs), with its calibrations. A device that
                // introduces itself again later keeps the chain it has.
                if (switch || applied != self.applied) && !self.has_samples() {
                    if switch {
                        self.device_class = class;
                    }
                    self.chain = Chain::new(&self.meta, &pipeline, self.device_class);
                    self.applied = applied;
                }
                self.clock.set_rate_hz(f64::from(info.sample_rate_hz));
                self.clock.expect_possible_restart();
                self.device = Some(DeviceSummary::from(&info));
                self.info = Some(info);
                match &mut self.chain {
                    Chain::RockerHold { pipeline, .. } | Chain::WobbleHold { pipeline, .. } => {
                        pipeline.set_device_info(info)
                    }
                    Chain::QuietStance { pipeline, drill } => {
                        pipeline.set_device_info(&info);
                        drill.set_device_rate_hz(f64::from(info.sample_rate_hz));
                    }
                    Chain::TandemWalk { pipeline, drill } => {
                        pipeline.set_device_info(info);
                        drill.set_device_rate_hz(f64::from(info.sample_rate_hz));
                    }
                    Chain::NeutralSpine { pipeline, drill } => {
                        pipeline.set_device_info(info);
                        drill.set_device_rate_hz(f64::from(info.sample_rate_hz));
                    }
                    Chain::WearableStance { pipeline, .. } => pipeline.set_device_info(info),
                    Chain::WeightShift { pipeline, drill } => {
                        pipeline.set_device_info(&info);
                        drill.set_device_rate_hz(f64::from(info.sample_rate_hz));
                    }
                }
            }
            DeviceMessage::Imu(sample) => self.on_imu(&sample, events),
            DeviceMessage::ImuBatch(batch) => {
                for sample in &batch.samples {
                    self.on_imu(sample, events);
                    if self.is_done() {
                        // The rest of the batch is not decoded, kept samples or not: the
                        // result's quality counts are the live run's.
                        break;
                    }
                }
            }
            DeviceMessage::Status(status) => {
                self.quality.battery_percent = Some(status.battery_percent)
            }
            DeviceMessage::Load(sample) => self.on_load(&sample, events),
            DeviceMessage::Ack(_) => {}
        }
    }

    fn on_imu(&mut self, sample: &ImuSample, events: &mut Vec<DrillEvent>) {
        let Some((si, tilt)) = self.decode_imu(sample) else {
            return;
        };
        match &mut self.chain {
            Chain::RockerHold { drill, .. } => drill.update(&tilt, events),
            Chain::WobbleHold { drill, .. } => drill.update(&tilt, events),
            Chain::TandemWalk { drill, .. } => drill.update(&si, &tilt, events),
            Chain::NeutralSpine { drill, .. } => drill.update(&si, &tilt, events),
            Chain::WearableStance { drill, .. } => drill.update(&si, &tilt, events),
            Chain::QuietStance { .. } | Chain::WeightShift { .. } => {}
        }
    }

    /// An IMU sample through the clock and the pipeline (counted, and kept if asked), not yet
    /// given to the drill.
    fn decode_imu(&mut self, sample: &ImuSample) -> Option<(ImuSi, BoardTilt)> {
        let pipeline = match &mut self.chain {
            Chain::RockerHold { pipeline, .. }
            | Chain::WobbleHold { pipeline, .. }
            | Chain::TandemWalk { pipeline, .. }
            | Chain::NeutralSpine { pipeline, .. }
            | Chain::WearableStance { pipeline, .. } => pipeline,
            Chain::QuietStance { .. } | Chain::WeightShift { .. } => return None, // not this drill's sensor
        };
        let timed = self
            .clock
            .observe(sample.seq, sample.t_us, &mut self.quality)?;
        let Some(si) = pipeline.to_si(sample) else {
            self.quality.samples_before_info += 1;
            return None;
        };
        let tilt = pipeline.push_si(&si, timed.t_us, timed.dt_us);
        if let Some(kept) = self.kept.as_mut() {
            kept.imu.push((timed.t_us, si));
            kept.tilt.push(tilt);
        }
        let q = &mut self.quality;
        q.samples_received += 1;
        q.acc_rejected_samples += u64::from(tilt.acc_rejected);
        q.at_rest_samples += u64::from(tilt.at_rest);
        q.mag_disturbed_samples += u64::from(tilt.mag_disturbed);
        Some((si, tilt))
    }

    fn on_load(&mut self, sample: &LoadSample, events: &mut Vec<DrillEvent>) {
        let Some(cop) = self.decode_load(sample) else {
            return;
        };
        match &mut self.chain {
            Chain::QuietStance { drill, .. } => drill.update(&cop, events),
            Chain::WeightShift { drill, .. } => drill.update(&cop, events),
            _ => {}
        }
    }

    /// A balance-board sample through the clock and the pipeline (counted, and kept if asked),
    /// not yet given to the drill.
    fn decode_load(&mut self, sample: &LoadSample) -> Option<CopSample> {
        let pipeline = match &mut self.chain {
            Chain::QuietStance { pipeline, .. } | Chain::WeightShift { pipeline, .. } => pipeline,
            _ => return None, // not this drill's sensor
        };
        let timed = self
            .clock
            .observe(sample.seq, sample.t_us, &mut self.quality)?;
        let Some(cop) = pipeline.push(sample, timed.t_us) else {
            self.quality.samples_before_info += 1;
            return None;
        };
        self.quality.samples_received += 1;
        if let Some(kept) = self.kept.as_mut() {
            kept.cop.push(cop);
        }
        Some(cop)
    }

    /// After the drill's end, with samples kept: the rest of the recording's samples are
    /// decoded and kept too (an export holds all of them), while the result's data quality
    /// stays as it was at the end.
    fn keep_after_end(&mut self, record: &Record) {
        let Record::Received { t_host_us, bytes } = record else {
            return;
        };
        self.freeze_quality();
        self.decoder.push(bytes, *t_host_us);
        while let Some(outcome) = self.decoder.next() {
            match outcome {
                Ok(DeviceMessage::Imu(sample)) => {
                    self.decode_imu(&sample);
                }
                Ok(DeviceMessage::ImuBatch(batch)) => {
                    for sample in &batch.samples {
                        self.decode_imu(sample);
                    }
                }
                Ok(DeviceMessage::Load(sample)) => {
                    self.decode_load(&sample);
                }
                _ => {}
            }
        }
    }

    /// Keeps the data quality as it is (the first time), for the result: what is decoded after
    /// the drill's end is kept as samples but does not count.
    fn freeze_quality(&mut self) {
        if self.quality_at_end.is_none() {
            let mut quality = self.quality.clone();
            self.decoder.fill_quality(&mut quality);
            self.quality_at_end = Some(quality);
        }
    }

    /// What the live view shows now.
    pub fn live(&self) -> LiveStatus {
        let drill = match &self.chain {
            Chain::RockerHold { drill, .. } => DrillLive::RockerHold {
                live: drill.live(),
                band_deg: drill.config().band_deg,
                edge_limit_deg: drill.config().edge_limit_deg,
            },
            Chain::WobbleHold { drill, .. } => DrillLive::WobbleHold {
                live: drill.live(),
                band_deg: drill.config().band_deg,
                edge_limit_deg: drill.config().edge_limit_deg,
            },
            Chain::QuietStance { drill, .. } => DrillLive::QuietStance(drill.live()),
            Chain::TandemWalk { drill, .. } => DrillLive::TandemWalk(drill.live()),
            Chain::NeutralSpine { drill, .. } => DrillLive::NeutralSpine {
                live: drill.live(),
                band_deg: drill.config().band_deg,
            },
            Chain::WeightShift { drill, .. } => DrillLive::WeightShift(drill.live()),
            Chain::WearableStance { drill, .. } => DrillLive::WearableStance(drill.live()),
        };
        LiveStatus {
            drill,
            level: self.meta.drill.level(),
            samples: self.quality.samples_received,
            frames_lost: self.quality.frames_lost,
            bad_frames: self.decoder.frames_rejected(),
            battery_percent: self.quality.battery_percent,
            last_data_host_us: self.last_data_host_us,
            link_down_since_us: self.link_down_since_us,
            device_known: self.has_device_info(),
        }
    }

    /// Ends the session and returns its result.
    pub fn finish(mut self) -> SessionReport {
        match self.quality_at_end.take() {
            Some(quality) => self.quality = quality,
            None => self.decoder.fill_quality(&mut self.quality),
        }
        self.quality.update_loss();
        let drill = self.meta.drill.kind();
        let outcome = match self.chain {
            Chain::RockerHold { drill, .. } => drill.finish().map_metrics(DrillMetrics::RockerHold),
            Chain::WobbleHold { drill, .. } => drill.finish().map_metrics(DrillMetrics::WobbleHold),
            Chain::QuietStance { drill, .. } => {
                drill.finish().map_metrics(DrillMetrics::QuietStance)
            }
            Chain::TandemWalk { drill, .. } => drill.finish().map_metrics(DrillMetrics::TandemWalk),
            Chain::NeutralSpine { drill, .. } => {
                drill.finish().map_metrics(DrillMetrics::NeutralSpine)
            }
            Chain::WeightShift { drill, .. } => {
                drill.finish().map_metrics(DrillMetrics::WeightShift)
            }
            Chain::WearableStance { drill, .. } => {
                drill.finish().map_metrics(DrillMetrics::WearableStance)
            }
        };
        let mut report = SessionReport {
            drill,
            level: self.meta.drill.level(),
            source: self.meta.source.clone(),
            start_s: outcome.start_s,
            duration_s: outcome.duration_s,
            target_duration_s: self.meta.drill.duration_s(),
            end: outcome.end,
            score: outcome.score,
            refused: None,
            progress: None,
            metrics: outcome.metrics,
            events: outcome.events,
            events_total: outcome.events_total,
            quality: self.quality,
            device: self.device,
            calibrations: self.applied,
            recording: None,
            pipeline_version: pipeline_version_on(drill, self.device_class).to_string(),
        };
        report.refused = scoring::gate(&self.meta, &report);
        if report.refused.is_none() {
            report.progress = self
                .meta
                .baseline
                .as_ref()
                .and_then(|baseline| scoring::assess(&report, baseline));
        }
        report
    }
}
