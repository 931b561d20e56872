//! The filtering pipelines: for an IMU, raw counts → SI units → calibration → mounting (body or
//! board axes, [`Mountings`]) → orientation → board tilt; for a balance board, load-cell
//! counts → tare → centre of pressure.
//!
//! # Brief overview
//! - [`Pipeline`] holds the device's scale factors (from its `Hello`), its
//!   [`proprio_calibration::ImuCalibration`] and an [`OrientationFilter`], and
//!   turns each timed sample into a [`BoardTilt`]: the tilt about a rocker's axis, and the
//!   two-axis tilt vector (pitch and roll) of a board that tilts both ways.
//! - [`CopPipeline`] turns each timed load sample into a [`CopSample`] (tare, someone on the
//!   board, COP in mm for a [`BoardGeometry`]); [`WindowResampler`] makes a regular series.
//! - [`PIPELINE_VERSION`] and [`COP_PIPELINE_VERSION`] name these exact chains; results carry
//!   them so that only like is compared with like.

mod ahrs;
mod cop;
mod mounting;
mod orientation;
mod smoother;

use nalgebra::{Rotation3, Vector3};
use proprio_calibration::ImuCalibration;
use proprio_protocol::{DeviceInfo, ImuSample};
use serde::{Deserialize, Serialize};

pub use ahrs::{AhrsFilter, AhrsParams};
pub use cop::{
    BoardGeometry, BoardPhase, CopConfig, CopPipeline, CopSample, WindowResampler,
    COP_PIPELINE_VERSION, MIN_LOAD_FLOOR_COUNTS, MIN_LOAD_N, MIN_LOAD_NOISE_FACTOR,
    TARE_MIN_SAMPLES, TARE_S, TARE_STEADY_N,
};
pub use mounting::{Mountings, Placement};
pub use orientation::{OrientationEstimate, OrientationFilter};
pub use smoother::{smooth_orientation, OFFLINE_ORIENTATION_VERSION};

/// Version of the signal chain (decoding, units, calibration, filter, its parameters, tilt
/// extraction). Bump it whenever a change can move a result. 2: the decoder resyncs at each
/// link loss. 3: [`AhrsFilter`] replaces the complementary filter. 4: the rocker hold starts
/// once the board is level and looks for impacts across two samples.
pub const PIPELINE_VERSION: &str = "4";

/// One IMU sample in SI units, sensor frame (the body's or board's once a mounting is in
/// force, [`PipelineConfig::placed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImuSi {
    /// Specific force, m/s².
    pub acc_m_s2: Vector3<f64>,
    /// Angular rate, rad/s.
    pub gyr_rad_s: Vector3<f64>,
    /// Magnetic field, µT, if the device has a magnetometer.
    pub mag_ut: Option<Vector3<f64>>,
}

/// Which sensor axis the board rocks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RockingAxis {
    /// The sensor's x axis (the default mounting: x along the rocker's fulcrum).
    #[default]
    X,
    /// The sensor's y axis.
    Y,
}

/// How the pipeline is set up for a session; recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// The board's rocking axis in sensor axes.
    pub rocking_axis: RockingAxis,
    /// The IMU calibration in force (identity until calibrated).
    pub calibration: ImuCalibration,
    /// Orientation filter parameters (recordings made with older filters get the defaults).
    #[serde(default)]
    pub filter: AhrsParams,
    /// The balance-board chain's setup (recordings from before it existed get the default).
    #[serde(default)]
    pub cop: CopConfig,
    /// The user's stored neutral posture (`proprio calibrate neutral`): up in the wearable's
    /// axes, which the neutral-spine hold measures the trunk's deviation from; `None`: the
    /// hold takes the posture the user starts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutral_up: Option<Vector3<f64>>,
    /// How the sensor is strapped on (body and board), and which of the two applies
    /// ([`PipelineConfig::placed`]); recordings from before the mounting calibration existed,
    /// and setups without one, leave it out.
    #[serde(default, skip_serializing_if = "Mountings::is_empty")]
    pub mounting: Mountings,
}

/// The board's tilt at one sample.
///
/// For a board that rocks about one axis, `tilt_deg` is the tilt about that axis. For a board
/// that tilts both ways (a wobble board), `[pitch_deg, roll_deg]` is the **tilt vector** in
/// the sensor's (the board's) axes: its length is the angle between the sensor's z axis and
/// vertical ([`BoardTilt::tilt_magnitude_deg`]), its direction the way the board leans. It is
/// the rotation vector that tips a level board into this attitude (no turn about vertical),
/// so a tilt about one axis gives that axis's angle exactly, and the two components are the
/// pitch and roll of a small tilt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardTilt {
    /// Device time, µs since the stream's first sample.
    pub t_us: u64,
    /// Tilt about the rocking axis, degrees (positive: the side of the sensor's −y, or +x, down).
    pub tilt_deg: f64,
    /// Tilt rate, degrees per second.
    pub rate_deg_s: f64,
    /// The tilt vector's component about the sensor's y axis (pitch), degrees; positive: the
    /// sensor's +x side down.
    pub pitch_deg: f64,
    /// The tilt vector's component about the sensor's x axis (roll), degrees; positive: the
    /// sensor's −y side down.
    pub roll_deg: f64,
    /// Rate of pitch (the unbiased gyroscope's y), °/s.
    pub pitch_rate_deg_s: f64,
    /// Rate of roll (the unbiased gyroscope's x), °/s.
    pub roll_rate_deg_s: f64,
    /// The estimate is still settling (first second, or after a gap).
    pub converging: bool,
    /// The accelerometer was not used for this sample.
    pub acc_rejected: bool,
    /// The sensor was at rest.
    pub at_rest: bool,
    /// The magnetic field was disturbed (not used for heading).
    pub mag_disturbed: bool,
    /// Up (a unit vector) in sensor axes, from the live estimate.
    pub up_in_imu: Vector3<f64>,
}

impl BoardTilt {
    /// The tilt's size whichever way the board leans: the angle between the sensor's z axis
    /// and vertical, degrees.
    pub fn tilt_magnitude_deg(&self) -> f64 {
        self.pitch_deg.hypot(self.roll_deg)
    }
}

/// The tilt vector `[pitch, roll]` (radians) of a sensor whose up, in its own axes, is `up`
/// (a unit vector): see [`BoardTilt`].
pub fn tilt_vector_rad(up: &Vector3<f64>) -> [f64; 2] {
    let horizontal = up.x.hypot(up.y);
    if horizontal <= 0.0 {
        return [0.0, 0.0];
    }
    let angle = horizontal.atan2(up.z);
    [angle * -up.x / horizontal, angle * up.y / horizontal]
}

/// Raw samples in, board tilt out.
pub struct Pipeline {
    config: PipelineConfig,
    /// `body_from_imu` (or `board_from_imu`) in force: [`Mountings::in_force`].
    mounting: Option<Rotation3<f64>>,
    info: Option<DeviceInfo>,
    filter: AhrsFilter,
}

impl Pipeline {
    /// A pipeline waiting for the device's scale factors.
    pub fn new(config: PipelineConfig) -> Self {
        Pipeline {
            filter: AhrsFilter::new(config.filter),
            mounting: config.mounting.in_force(),
            config,
            info: None,
        }
    }

    /// Takes the device's `Hello`.
    pub fn set_device_info(&mut self, info: DeviceInfo) {
        self.info = Some(info);
    }

    /// The device's info, once known.
    pub fn device_info(&self) -> Option<&DeviceInfo> {
        self.info.as_ref()
    }

    /// Converts raw counts to calibrated SI units, turned into the body's (or board's) axes
    /// when a mounting is in force ([`PipelineConfig::placed`]); `None` until the device info
    /// is known.
    pub fn to_si(&self, raw: &ImuSample) -> Option<ImuSi> {
        let info = self.info?;
        let scale = |v: [i16; 3], s: f32| {
            Vector3::new(f64::from(v[0]), f64::from(v[1]), f64::from(v[2])) * f64::from(s)
        };
        let cal = &self.config.calibration;
        let si = ImuSi {
            acc_m_s2: cal.acc_m_s2(&scale(raw.acc, info.acc_m_s2_per_lsb)),
            gyr_rad_s: cal.gyr_rad_s(&scale(raw.gyr, info.gyr_rad_s_per_lsb)),
            mag_ut: raw.mag.map(|m| cal.mag_ut(&scale(m, info.mag_ut_per_lsb))),
        };
        // The calibration corrects the sensor in its own axes; the mounting comes after it.
        let Some(body_from_imu) = self.mounting else {
            return Some(si);
        };
        Some(ImuSi {
            acc_m_s2: body_from_imu * si.acc_m_s2,
            gyr_rad_s: body_from_imu * si.gyr_rad_s,
            mag_ut: si.mag_ut.map(|m| body_from_imu * m),
        })
    }

    /// Runs one sample (already accepted by the clock, at device time `t_us`, `dt_us` after the
    /// previous one) through the chain. `None` until the device info is known.
    pub fn push(&mut self, raw: &ImuSample, t_us: u64, dt_us: u64) -> Option<BoardTilt> {
        let si = self.to_si(raw)?;
        Some(self.push_si(&si, t_us, dt_us))
    }

    /// [`Pipeline::push`] for a sample already in SI units ([`Pipeline::to_si`]).
    pub fn push_si(&mut self, si: &ImuSi, t_us: u64, dt_us: u64) -> BoardTilt {
        let dt_s = dt_us as f64 * 1e-6;
        let estimate = self.filter.update(si, dt_s);
        let up = estimate
            .world_from_imu
            .inverse_transform_vector(&Vector3::z());
        let w = estimate.gyr_unbiased_rad_s;
        let (tilt_rad, rate_rad_s) = match self.config.rocking_axis {
            RockingAxis::X => (up.y.atan2(up.z), w.x),
            RockingAxis::Y => ((-up.x).atan2(up.z), w.y),
        };
        let [pitch_rad, roll_rad] = tilt_vector_rad(&up);
        BoardTilt {
            t_us,
            tilt_deg: tilt_rad.to_degrees(),
            rate_deg_s: rate_rad_s.to_degrees(),
            pitch_deg: pitch_rad.to_degrees(),
            roll_deg: roll_rad.to_degrees(),
            pitch_rate_deg_s: w.y.to_degrees(),
            roll_rate_deg_s: w.x.to_degrees(),
            converging: estimate.converging,
            acc_rejected: estimate.acc_rejected,
            at_rest: estimate.at_rest,
            mag_disturbed: estimate.mag_disturbed,
            up_in_imu: up,
        }
    }
}
