//! A session's core: records in (bytes from the link, link events, the user's stop), a result
//! out. The live run and the replay feed the same records through the same [`Session`], which
//! is why a replay gives the live result to the bit.

use proprio_protocol::{DeviceInfo, DeviceMessage, ImuSample};
use serde::{Deserialize, Serialize};

use crate::decode::SampleClock;
use crate::devices::{DeviceFormat, FormatDecoder};
use crate::drill::{
    DrillEvent, DrillKind, EndReason, RockerHold, RockerHoldConfig, RockerHoldLive,
    RockerHoldMetrics,
};
use crate::pipeline::{Pipeline, PipelineConfig, PIPELINE_VERSION};
use crate::quality::{DataQuality, TimestampSource};
use crate::recording::{Control, LinkEventKind, Record};
use crate::sim::SimConfig;

impl SessionMeta {
    /// The header of a new session: the current pipeline (default setup) and versions.
    pub fn new(
        drill: DrillSetup,
        source: String,
        format: DeviceFormat,
        sim: Option<SimConfig>,
        created_utc: String,
    ) -> Self {
        SessionMeta {
            drill,
            source,
            format,
            sim,
            pipeline: PipelineConfig::default(),
            pipeline_version: PIPELINE_VERSION.to_string(),
            proprio_version: env!("CARGO_PKG_VERSION").to_string(),
            created_utc,
        }
    }
}

/// A drill with its setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum DrillSetup {
    /// The rocker-board hold.
    RockerHold(RockerHoldConfig),
}

impl DrillSetup {
    /// Which drill.
    pub fn kind(&self) -> DrillKind {
        match self {
            DrillSetup::RockerHold(_) => DrillKind::RockerHold,
        }
    }
}

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
    /// clock starts once the orientation estimate has settled).
    pub start_s: f64,
    /// Seconds from start to end, device time.
    pub duration_s: f64,
    /// The drill's target duration, s.
    pub target_duration_s: f64,
    /// Why it ended.
    pub end: EndReason,
    /// 0–100.
    pub score: f64,
    /// The measures.
    pub metrics: RockerHoldMetrics,
    /// Events, in order (the first 1000).
    pub events: Vec<DrillEvent>,
    /// All events, including any beyond those listed.
    pub events_total: u64,
    /// What the data was like.
    pub quality: DataQuality,
    /// The device.
    pub device: Option<DeviceSummary>,
    /// The recording file (set by whoever wrote or read it).
    pub recording: Option<String>,
    /// Version of the signal chain that produced it.
    pub pipeline_version: String,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveStatus {
    /// The drill's state.
    pub drill: RockerHoldLive,
    /// Band, ± degrees.
    pub band_deg: f64,
    /// The board's edge limit, degrees.
    pub edge_limit_deg: f64,
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

/// The running session.
pub struct Session {
    meta: SessionMeta,
    decoder: FormatDecoder,
    clock: SampleClock,
    pipeline: Pipeline,
    drill: RockerHold,
    quality: DataQuality,
    device: Option<DeviceSummary>,
    last_data_host_us: Option<u64>,
    link_down_since_us: Option<u64>,
}

impl Session {
    /// A session set up as `meta` says.
    pub fn new(meta: SessionMeta) -> Self {
        let DrillSetup::RockerHold(config) = meta.drill;
        let mut quality = DataQuality::default();
        if !meta.format.has_device_clock() {
            quality.timestamps = TimestampSource::Host;
        }
        Session {
            decoder: FormatDecoder::new(&meta.format),
            clock: SampleClock::new(),
            pipeline: Pipeline::new(meta.pipeline),
            drill: RockerHold::new(config),
            quality,
            device: None,
            last_data_host_us: None,
            link_down_since_us: None,
            meta,
        }
    }

    /// True once the drill has ended; later records change nothing.
    pub fn is_done(&self) -> bool {
        self.drill.is_done()
    }

    /// The kind of device, once it has introduced itself.
    pub fn device_kind(&self) -> Option<proprio_protocol::DeviceKind> {
        self.pipeline.device_info().map(|info| info.kind)
    }

    /// True once the device has sent its `Hello`.
    pub fn has_device_info(&self) -> bool {
        self.pipeline.device_info().is_some()
    }

    /// Takes one record; appends the drill events it causes to `events`.
    pub fn handle(&mut self, record: &Record, events: &mut Vec<DrillEvent>) {
        if self.is_done() {
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
                self.drill.stop(reason, events);
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
                if self.link_down_since_us.is_none() {
                    self.quality.disconnects += 1;
                    self.link_down_since_us = Some(t_host_us);
                }
            }
            LinkEventKind::Lost => {
                if let Some(down_at) = self.link_down_since_us.take() {
                    self.quality.disconnected_s += t_host_us.saturating_sub(down_at) as f64 * 1e-6;
                }
                self.drill.stop(EndReason::LinkLost, events);
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
                self.clock.set_rate_hz(f64::from(info.sample_rate_hz));
                self.clock.expect_possible_restart();
                self.device = Some(DeviceSummary::from(&info));
                self.pipeline.set_device_info(info);
            }
            DeviceMessage::Imu(sample) => self.on_imu(&sample, events),
            DeviceMessage::ImuBatch(batch) => {
                for sample in &batch.samples {
                    self.on_imu(sample, events);
                    if self.is_done() {
                        break;
                    }
                }
            }
            DeviceMessage::Status(status) => {
                self.quality.battery_percent = Some(status.battery_percent)
            }
            DeviceMessage::Load(_) | DeviceMessage::Ack(_) => {}
        }
    }

    fn on_imu(&mut self, sample: &ImuSample, events: &mut Vec<DrillEvent>) {
        let Some(timed) = self
            .clock
            .observe(sample.seq, sample.t_us, &mut self.quality)
        else {
            return;
        };
        match self.pipeline.push(sample, timed.t_us, timed.dt_us) {
            Some(tilt) => {
                self.quality.samples_received += 1;
                self.drill.update(&tilt, events);
            }
            None => self.quality.samples_before_info += 1,
        }
    }

    /// What the live view shows now.
    pub fn live(&self) -> LiveStatus {
        let config = self.drill.config();
        LiveStatus {
            drill: self.drill.live(),
            band_deg: config.band_deg,
            edge_limit_deg: config.edge_limit_deg,
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
        self.decoder.fill_quality(&mut self.quality);
        self.quality.update_loss();
        let config = *self.drill.config();
        let outcome = self.drill.finish();
        SessionReport {
            drill: self.meta.drill.kind(),
            level: config.level,
            source: self.meta.source,
            start_s: outcome.start_s,
            duration_s: outcome.duration_s,
            target_duration_s: config.duration_s,
            end: outcome.end,
            score: outcome.score,
            metrics: outcome.metrics,
            events: outcome.events,
            events_total: outcome.events_total,
            quality: self.quality,
            device: self.device,
            recording: None,
            pipeline_version: PIPELINE_VERSION.to_string(),
        }
    }
}
