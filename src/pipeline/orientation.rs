//! Orientation estimation behind a small seam: a filter is a plain state object that takes one
//! calibrated sample at a time and returns its estimate.

use nalgebra::{UnitQuaternion, Vector3};

use super::ImuSi;

/// What a filter says about one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrientationEstimate {
    /// Rotation from the sensor's frame to the world frame (z up; heading arbitrary in 6D).
    pub world_from_imu: UnitQuaternion<f64>,
    /// Angular rate with the estimated gyroscope bias removed, sensor frame, rad/s.
    pub gyr_unbiased_rad_s: Vector3<f64>,
    /// True when the accelerometer was not trusted for this sample (not ≈ 1 g: impact, jump).
    pub acc_rejected: bool,
    /// True while the filter is still converging after a (re)start.
    pub converging: bool,
    /// True while the sensor is at rest (the gyroscope bias is being learned).
    pub at_rest: bool,
    /// True when the magnetometer was not trusted for this sample (a disturbed field).
    pub mag_disturbed: bool,
}

/// An orientation filter: plain state, one sample in, one estimate out.
pub trait OrientationFilter {
    /// Takes one sample, `dt_s` after the previous one (0 for the first).
    fn update(&mut self, imu: &ImuSi, dt_s: f64) -> OrientationEstimate;
    /// Forgets the orientation (e.g. after a long gap) but keeps learned biases.
    fn restart(&mut self);
}
