//! Devices proprio can read besides its own firmware: their byte formats, decoded into the same
//! [`DeviceMessage`]s that firmware-protocol carries, so that everything above the decoder
//! (clock tracking, pipeline, drills, recording and replay) is shared.
//!
//! # Brief overview
//! - [`DeviceFormat`]: which format a source speaks; recorded in the session header so a replay
//!   decodes the same way.
//! - [`FormatDecoder`]: `push(bytes, t_host_us)` then `next()` for any format.
//! - `witmotion`: WitMotion WT901BLECL (BLE, 20-byte `55 61` packets) and WT901C / JY901
//!   (serial, 11-byte checksummed frames).
//! - `hx711`: DIY four-load-cell boards that print one text line per sample.
//!
//! Formats without a device clock get sample times from the host's receive times, spaced at the
//! nominal rate (see [`HostClock`]); the quality record says so.

pub mod hx711;
mod stream;
pub mod witmotion;

use proprio_protocol::{DeviceKind, DeviceMessage, FrameError};
use serde::{Deserialize, Serialize};

use crate::decode::StreamDecoder;
use crate::quality::DataQuality;

pub use hx711::{Hx711Column, Hx711Format, Hx711TextDecoder, LoadUnit};
pub use stream::MAX_QUEUED_BYTES;
pub use witmotion::{WitmotionBleDecoder, WitmotionSerialDecoder};

/// The byte format a source speaks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum DeviceFormat {
    /// proprio's own firmware protocol (COBS frames).
    #[default]
    Proprio,
    /// WitMotion WT901BLECL over BLE.
    WitmotionBle {
        /// The output rate the device was set to, Hz.
        rate_hz: f32,
    },
    /// WitMotion WT901C / JY901 over serial.
    WitmotionSerial {
        /// The output rate the device was set to, Hz.
        rate_hz: f32,
    },
    /// Text lines of four load-cell readings.
    Hx711Text(Hx711Format),
}

impl DeviceFormat {
    /// What kind of device speaks this format, when the format alone says (proprio's
    /// protocol says it in the device's `Hello`).
    pub fn device_kind(&self) -> Option<DeviceKind> {
        match self {
            DeviceFormat::Proprio => None,
            DeviceFormat::WitmotionBle { .. } | DeviceFormat::WitmotionSerial { .. } => {
                Some(DeviceKind::Wearable)
            }
            DeviceFormat::Hx711Text(_) => Some(DeviceKind::BalanceBoard),
        }
    }

    /// True when sample times come from the device's own clock.
    pub fn has_device_clock(&self) -> bool {
        match self {
            DeviceFormat::Proprio => true,
            DeviceFormat::Hx711Text(format) => format.columns.contains(&Hx711Column::Millis),
            DeviceFormat::WitmotionBle { .. } | DeviceFormat::WitmotionSerial { .. } => false,
        }
    }
}

/// Why bytes of a non-protocol format were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// A checksummed frame whose checksum is wrong.
    Checksum,
    /// A frame or line that does not parse (wrong length, wrong field count, not a number).
    Malformed,
    /// A line longer than any valid one; discarded up to the next newline.
    Oversize,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FormatError::Checksum => "checksum mismatch",
            FormatError::Malformed => "malformed frame or line",
            FormatError::Oversize => "over-long line",
        })
    }
}

/// Counts of what a format decoder accepted and rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatStats {
    /// Frames or lines decoded.
    pub frames_ok: u64,
    /// Rejected for a bad checksum.
    pub checksum_errors: u64,
    /// Rejected as malformed.
    pub malformed: u64,
    /// Over-long lines discarded.
    pub oversize: u64,
    /// Bytes skipped while looking for the next frame or line.
    pub bytes_discarded: u64,
}

/// Sample times for devices without a clock: receive times, spaced at the nominal rate.
///
/// Several samples often arrive in one read with one receive time; giving them all that time
/// would make them simultaneous. Instead each sample is placed one nominal period after the
/// previous one, as long as that stays within `max_skew_us` of its receive time; otherwise the
/// clock re-anchors at the receive time after a gap, or, when samples come faster than the
/// nominal rate, places them 1 µs apart until the receive times catch up. Times never go back.
#[derive(Debug, Clone)]
pub struct HostClock {
    period_us: f64,
    max_skew_us: f64,
    last_us: Option<f64>,
}

impl HostClock {
    /// A clock for a device sampling at `rate_hz`.
    pub fn new(rate_hz: f32) -> Self {
        let rate = if rate_hz.is_finite() && rate_hz > 0.0 {
            f64::from(rate_hz)
        } else {
            100.0
        };
        HostClock {
            period_us: 1e6 / rate,
            max_skew_us: 100_000.0,
            last_us: None,
        }
    }

    /// The time of a sample received at `t_host_us`, µs.
    pub fn sample_time_us(&mut self, t_host_us: u64) -> u64 {
        let received = t_host_us as f64;
        let t = match self.last_us {
            None => received,
            Some(last) => {
                let next = last + self.period_us;
                if (next - received).abs() <= self.max_skew_us {
                    next
                } else if received > next {
                    received // after a gap: re-anchor
                } else {
                    // Arriving faster than the nominal rate (a backlog, or a faster device):
                    // never go back in time; crowd them until the receive times catch up.
                    last + 1.0
                }
            }
        };
        self.last_us = Some(t);
        t.round() as u64
    }
}

/// One decoder for whichever format a source speaks.
pub enum FormatDecoder {
    /// proprio's protocol (boxed: its frame buffer is large).
    Proprio(Box<StreamDecoder>),
    /// WitMotion over BLE.
    WitmotionBle(WitmotionBleDecoder),
    /// WitMotion over serial.
    WitmotionSerial(WitmotionSerialDecoder),
    /// HX711 text lines.
    Hx711Text(Hx711TextDecoder),
}

/// A rejected frame, from whichever decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A firmware-protocol frame.
    Frame(FrameError),
    /// Another format's frame or line.
    Format(FormatError),
}

impl FormatDecoder {
    /// The decoder for `format`.
    pub fn new(format: &DeviceFormat) -> Self {
        match format {
            DeviceFormat::Proprio => FormatDecoder::Proprio(Box::default()),
            DeviceFormat::WitmotionBle { rate_hz } => {
                FormatDecoder::WitmotionBle(WitmotionBleDecoder::new(*rate_hz))
            }
            DeviceFormat::WitmotionSerial { rate_hz } => {
                FormatDecoder::WitmotionSerial(WitmotionSerialDecoder::new(*rate_hz))
            }
            DeviceFormat::Hx711Text(f) => {
                FormatDecoder::Hx711Text(Hx711TextDecoder::new(f.clone()))
            }
        }
    }

    /// Queues bytes received at `t_host_us` (µs since the session started).
    pub fn push(&mut self, bytes: &[u8], t_host_us: u64) {
        match self {
            FormatDecoder::Proprio(d) => d.push(bytes),
            FormatDecoder::WitmotionBle(d) => d.push(bytes, t_host_us),
            FormatDecoder::WitmotionSerial(d) => d.push(bytes, t_host_us),
            FormatDecoder::Hx711Text(d) => d.push(bytes, t_host_us),
        }
    }

    /// The stream was interrupted (the link dropped): drops the partial frame or line and
    /// resumes at the next boundary, without counting an error. Call after draining
    /// [`FormatDecoder::next`].
    pub fn resync(&mut self) {
        match self {
            FormatDecoder::Proprio(d) => d.resync(),
            FormatDecoder::WitmotionBle(d) => d.resync(),
            FormatDecoder::WitmotionSerial(d) => d.resync(),
            FormatDecoder::Hx711Text(d) => d.resync(),
        }
    }

    /// Copies the decoder's counters into the quality record.
    pub fn fill_quality(&self, quality: &mut DataQuality) {
        let stats = match self {
            FormatDecoder::Proprio(d) => return quality.set_frame_stats(d.stats()),
            FormatDecoder::WitmotionBle(d) => d.stats(),
            FormatDecoder::WitmotionSerial(d) => d.stats(),
            FormatDecoder::Hx711Text(d) => d.stats(),
        };
        quality.crc_errors = stats.checksum_errors;
        quality.malformed_frames = stats.malformed;
        quality.oversize_frames = stats.oversize;
        quality.bytes_discarded = stats.bytes_discarded;
    }

    /// Frames or lines rejected so far.
    pub fn frames_rejected(&self) -> u64 {
        let stats = match self {
            FormatDecoder::Proprio(d) => return d.stats().frames_rejected(),
            FormatDecoder::WitmotionBle(d) => d.stats(),
            FormatDecoder::WitmotionSerial(d) => d.stats(),
            FormatDecoder::Hx711Text(d) => d.stats(),
        };
        stats.checksum_errors + stats.malformed + stats.oversize
    }

    /// The next decoded message or rejection; `None` when the queued bytes hold no more.
    #[allow(clippy::should_implement_trait)] // not an Iterator: pushing more bytes revives it
    pub fn next(&mut self) -> Option<Result<DeviceMessage, DecodeError>> {
        match self {
            FormatDecoder::Proprio(d) => d.next().map(|r| r.map_err(DecodeError::Frame)),
            FormatDecoder::WitmotionBle(d) => d.next().map(|r| r.map_err(DecodeError::Format)),
            FormatDecoder::WitmotionSerial(d) => d.next().map(|r| r.map_err(DecodeError::Format)),
            FormatDecoder::Hx711Text(d) => d.next().map(|r| r.map_err(DecodeError::Format)),
        }
    }
}
