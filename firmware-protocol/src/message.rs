//! The messages. Every enum here is append-only: postcard encodes a variant by its index, so
//! reordering or removing a variant silently changes the meaning of bytes already in the field.

use serde::{Deserialize, Serialize};

use crate::MAX_BATCH;

/// Everything a device sends to the host.
// `ImuBatch` makes every message as large as a full batch (about 240 bytes). Without an
// allocator there is nothing to box it in, and messages are decoded one at a time anyway.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceMessage {
    /// Who the device is and how to scale its raw counts (answer to [`HostMessage::GetInfo`],
    /// and sent again on every [`HostMessage::Start`]).
    Hello(DeviceInfo),
    /// One IMU sample.
    Imu(ImuSample),
    /// Several IMU samples in one frame (fewer frames over BLE).
    ImuBatch(ImuBatch),
    /// One balance-board sample: four load-cell counts.
    Load(LoadSample),
    /// Battery and charging state, sent about once a second while streaming.
    Status(Status),
    /// Answer to a host command that has no other answer.
    Ack(Ack),
}

/// Everything the host sends to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostMessage {
    /// Ask for [`DeviceMessage::Hello`].
    GetInfo,
    /// Start streaming samples at `rate_hz` (the device may pick the nearest rate it supports
    /// and reports it in the `Hello` it sends back).
    Start {
        /// Requested sample rate in Hz.
        rate_hz: u16,
    },
    /// Stop streaming.
    Stop,
    /// Zero the load cells with the board empty.
    Tare,
    /// Run the vibration motor for `duration_ms` milliseconds.
    Vibrate {
        /// How long to vibrate, in milliseconds.
        duration_ms: u16,
    },
}

impl HostMessage {
    /// Which command this is, as named in an [`Ack`].
    pub fn kind(&self) -> HostCommandKind {
        match self {
            HostMessage::GetInfo => HostCommandKind::GetInfo,
            HostMessage::Start { .. } => HostCommandKind::Start,
            HostMessage::Stop => HostCommandKind::Stop,
            HostMessage::Tare => HostCommandKind::Tare,
            HostMessage::Vibrate { .. } => HostCommandKind::Vibrate,
        }
    }
}

/// What kind of device is talking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKind {
    /// An IMU worn on the body (lower back) or strapped to a board.
    Wearable,
    /// A balance board with four load cells.
    BalanceBoard,
}

/// Firmware version, semantic-versioning style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareVersion {
    /// Incompatible changes.
    pub major: u8,
    /// Compatible additions.
    pub minor: u8,
    /// Fixes.
    pub patch: u8,
}

/// The device's identity and the scale factors that turn its raw counts into SI units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// What the device is.
    pub kind: DeviceKind,
    /// Its firmware version.
    pub firmware: FirmwareVersion,
    /// A serial number, unique per device of a kind.
    pub device_id: u32,
    /// The sample rate the device is actually running at, in Hz.
    pub sample_rate_hz: f32,
    /// Accelerometer: m/s² per count.
    pub acc_m_s2_per_lsb: f32,
    /// Gyroscope: rad/s per count.
    pub gyr_rad_s_per_lsb: f32,
    /// Magnetometer: µT per count (0 when there is none).
    pub mag_ut_per_lsb: f32,
    /// Load cells: newtons per count (0 when there are none).
    pub load_n_per_count: f32,
}

/// One IMU sample in raw sensor counts, in the sensor's own axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImuSample {
    /// Sample counter, +1 per sample, wrapping; a jump means samples were lost.
    pub seq: u32,
    /// Device clock at the sample, in µs, wrapping every 2³² µs (about 71.6 minutes).
    pub t_us: u32,
    /// Specific force, x y z, counts (see [`DeviceInfo::acc_m_s2_per_lsb`]).
    pub acc: [i16; 3],
    /// Angular rate, x y z, counts (see [`DeviceInfo::gyr_rad_s_per_lsb`]).
    pub gyr: [i16; 3],
    /// Magnetic field, x y z, counts, when the device has a magnetometer.
    pub mag: Option<[i16; 3]>,
}

/// Up to [`MAX_BATCH`] consecutive IMU samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImuBatch {
    /// The samples, oldest first.
    pub samples: heapless::Vec<ImuSample, MAX_BATCH>,
}

/// Index of each load cell in [`LoadSample::counts`], seen from above with the user facing
/// forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Front left.
    FrontLeft = 0,
    /// Front right.
    FrontRight = 1,
    /// Back right.
    BackRight = 2,
    /// Back left.
    BackLeft = 3,
}

/// One balance-board sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSample {
    /// Sample counter, +1 per sample, wrapping.
    pub seq: u32,
    /// Device clock at the sample, in µs, wrapping.
    pub t_us: u32,
    /// Raw 24-bit load-cell counts in [`Corner`] order.
    pub counts: [i32; 4],
}

/// Power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Estimated charge, 0–100 %.
    pub battery_percent: u8,
    /// Battery voltage in mV.
    pub battery_mv: u16,
    /// True while on a charger.
    pub charging: bool,
}

/// The host command an [`Ack`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostCommandKind {
    /// [`HostMessage::GetInfo`].
    GetInfo,
    /// [`HostMessage::Start`].
    Start,
    /// [`HostMessage::Stop`].
    Stop,
    /// [`HostMessage::Tare`].
    Tare,
    /// [`HostMessage::Vibrate`].
    Vibrate,
}

/// Outcome of a host command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckStatus {
    /// Done.
    Ok,
    /// This device cannot do that (e.g. `Vibrate` on a board without a motor).
    Unsupported,
    /// An argument is out of range.
    InvalidArgument,
}

/// A device's answer to a host command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Which command.
    pub command: HostCommandKind,
    /// What came of it.
    pub status: AckStatus,
}
