//! The data-quality record that goes with every result: what arrived, what was lost, and why.

use proprio_protocol::DecodeStats;
use serde::{Deserialize, Serialize};

/// How good the data behind a result was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Sensor samples decoded and used.
    pub samples_received: u64,
    /// Samples the device sent that never arrived (from gaps in the sequence numbers).
    pub frames_lost: u64,
    /// `frames_lost` as a share of all samples sent, in percent.
    pub loss_percent: f64,
    /// Frames rejected for a CRC mismatch (corrupted in transit).
    pub crc_errors: u64,
    /// Frames rejected as malformed (bad COBS, too short, unknown content).
    pub malformed_frames: u64,
    /// Frames from an unknown protocol version.
    pub unknown_version: u64,
    /// Over-long frames discarded.
    pub oversize_frames: u64,
    /// Bytes thrown away while resynchronising.
    pub bytes_discarded: u64,
    /// Samples whose timestamp or sequence number went backwards (duplicates, reordering).
    pub out_of_order: u64,
    /// Times the device restarted (its counters began again after it re-introduced itself).
    pub device_restarts: u64,
    /// Samples that arrived before the device said who it is (no scale factors yet).
    pub samples_before_info: u64,
    /// Intervals between consecutive samples longer than 2.5 sample periods.
    pub gaps: u64,
    /// The longest interval between consecutive samples, s (device time).
    pub longest_gap_s: f64,
    /// Times the link was lost.
    pub disconnects: u64,
    /// Times it came back.
    pub reconnects: u64,
    /// Time without a link, s (host time).
    pub disconnected_s: f64,
    /// Where sample times came from: the device's clock, or the host's receive times.
    pub timestamps: TimestampSource,
    /// Last battery level the device reported, percent.
    pub battery_percent: Option<u8>,
    /// IMU samples whose accelerometer reading the orientation filter could not use
    /// (saturated, zero, NaN).
    #[serde(default)]
    pub acc_rejected_samples: u64,
    /// IMU samples taken while the sensor was at rest (its gyroscope bias was being learned).
    #[serde(default)]
    pub at_rest_samples: u64,
    /// IMU samples whose magnetic field was disturbed (not used for heading).
    #[serde(default)]
    pub mag_disturbed_samples: u64,
}

/// Where sample times come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimestampSource {
    /// The device's own clock (exact sample spacing; lost samples seen from sequence numbers).
    #[default]
    Device,
    /// Receive times on the host (the device has no clock; spacing is estimated).
    Host,
}

impl DataQuality {
    /// Copies the frame counters from the decoder's statistics.
    pub fn set_frame_stats(&mut self, stats: &DecodeStats) {
        self.crc_errors = stats.crc_errors;
        self.malformed_frames = stats.cobs_errors + stats.too_short + stats.malformed;
        self.unknown_version = stats.unknown_version;
        self.oversize_frames = stats.oversize;
        self.bytes_discarded = stats.bytes_discarded;
    }

    /// Recomputes `loss_percent` from the counts.
    pub fn update_loss(&mut self) {
        let sent = self.samples_received + self.frames_lost;
        self.loss_percent = if sent == 0 {
            0.0
        } else {
            100.0 * self.frames_lost as f64 / sent as f64
        };
    }
}
