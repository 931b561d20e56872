//! Calibration math for proprio's sensors. Pure functions and plain data: no I/O, no clock,
//! nothing about the wire.
//!
//! # Brief overview
//! - [`ImuCalibration`] maps raw SI readings of an IMU (`acc_m_s2`, `gyr_rad_s`, `mag_ut` in the
//!   sensor's axes) to corrected ones. [`ImuCalibration::identity`] is what a device has until
//!   it has been calibrated.
//! - [`AffineCorrection`] is the per-sensor model `corrected = matrix · (raw − offset)`: the
//!   offset is the bias (or hard iron), the matrix holds per-axis scale and cross-axis terms
//!   (or soft iron).
//! - [`still`]: the gyroscope's bias from a still period, and the stillness detector that
//!   refuses motion.
//! - [`sphere`]: accelerometer offset, scale and cross-axis terms from still poses, and
//!   magnetometer hard and soft iron from a rotation sequence: both fit a correction that maps
//!   the readings onto a sphere.
//! - [`mount`]: `body_from_imu` from two poses (upright, then bent forward).
//! - [`board`]: a balance board's tare, its cells' gains from a known mass, and the COP check.
//!
//! Every fit reports a quality figure (residual, coverage, spread) and refuses, with a
//! [`CalibrationError`] naming the problem, data that cannot support it.

#![deny(missing_docs)]

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

pub mod board;
pub mod mount;
pub mod sphere;
pub mod still;
#[cfg(test)]
mod testing;

/// Why a calibration was refused. Each message is one sentence a user can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// Too short a still period.
    #[error("only {got} samples; a still period needs at least {need}")]
    TooFewSamples {
        /// Samples given.
        got: usize,
        /// Samples needed.
        need: usize,
    },
    /// Too few poses or readings for the fit.
    #[error("only {got} poses or readings; this fit needs at least {need}")]
    TooFewReadings {
        /// Readings given.
        got: usize,
        /// Readings needed.
        need: usize,
    },
    /// A reading was NaN or infinite, or a setting out of range.
    #[error("a reading is not a number (NaN or infinite) or a setting is out of range")]
    NotFinite,
    /// The sensor moved during a still period.
    #[error("the sensor moved: the {sensor} varied by {spread:.4} {unit}, more than the {limit} {unit} a still period allows; keep it still")]
    Moving {
        /// Which sensor showed it.
        sensor: &'static str,
        /// The largest axis's standard deviation.
        spread: f64,
        /// The limit.
        limit: f64,
        /// Their unit.
        unit: &'static str,
    },
    /// The readings do not surround a centre.
    #[error("the readings lie too close to one plane (coverage {coverage:.2}, at least {min} needed); turn the sensor through more directions")]
    PoorCoverage {
        /// √(λmin/λmax) of the readings' scatter.
        coverage: f64,
        /// The least accepted.
        min: f64,
    },
    /// The fit did not converge or gave a correction that is no correction.
    #[error("the readings fit no calibration; repeat the routine, holding each pose still")]
    NoFit,
    /// The second pose of a mounting routine was not a usable forward bend.
    #[error("the second pose is {bend_deg:.0}° from the first; bend forward (or tip the board onto its edge) by at least {min_deg}° and at most {max_deg}°")]
    Bend {
        /// The angle between the poses.
        bend_deg: f64,
        /// The least accepted.
        min_deg: f64,
        /// The most accepted.
        max_deg: f64,
    },
    /// The empty board's load moved during the tare.
    #[error("the board's load moved during the tare (a cell varied by {spread_counts:.0} counts, at most {limit_counts:.0} allowed); keep the board empty and still")]
    BoardNotSteady {
        /// The largest cell's standard deviation.
        spread_counts: f64,
        /// The limit.
        limit_counts: f64,
    },
    /// A board routine's mass was never placed (and held still) where a step asked for it.
    #[error("the mass was never placed and left still on the board's {spot}; put it there and leave it for a few seconds")]
    MassNotPlaced {
        /// Where it should have been, e.g. "front left corner".
        spot: &'static str,
    },
    /// A placement's load is far from the given mass's weight by the board's nominal scale.
    #[error("the load on the board's {spot} weighs {measured_kg:.1} kg by the board's nominal scale, not the {given_kg:.1} kg given; give the mass that was placed")]
    WrongMass {
        /// Where the mass stood.
        spot: &'static str,
        /// What the board's nominal scale made of it, kg.
        measured_kg: f64,
        /// The mass given, kg.
        given_kg: f64,
    },
    /// The placements do not tell the cells' gains apart.
    #[error("the placements do not tell the four load cells apart; place the mass on each corner in turn")]
    GainsNotFixed,
    /// The known placement does not come out right with the new gains.
    #[error("with the new gains the mass at the board's {spot} reads {cop_error_mm:.1} mm from it and {force_error_percent:+.1} % off its weight (at most {max_cop_mm} mm and {max_force_percent} % allowed); repeat the routine, placing the mass exactly")]
    CheckFailed {
        /// Where the mass stood.
        spot: &'static str,
        /// The COP's distance from where it stood, mm.
        cop_error_mm: f64,
        /// The total force's error, % of the mass's weight.
        force_error_percent: f64,
        /// The largest COP error accepted, mm.
        max_cop_mm: f64,
        /// The largest force error accepted, %.
        max_force_percent: f64,
    },
    /// A calibration mass out of range.
    #[error("the calibration mass must be between {min_kg} and {max_kg} kg, not {mass_kg}")]
    BadMass {
        /// The mass given, kg.
        mass_kg: f64,
        /// The least accepted, kg.
        min_kg: f64,
        /// The most accepted, kg.
        max_kg: f64,
    },
}

/// `corrected = matrix · (raw − offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AffineCorrection {
    /// Subtracted first: bias, zero offset or hard-iron field, in the sensor's unit.
    pub offset: Vector3<f64>,
    /// Applied second: scale on the diagonal, cross-axis sensitivity off it (or soft iron).
    pub matrix: Matrix3<f64>,
}

impl AffineCorrection {
    /// No correction.
    pub fn identity() -> Self {
        AffineCorrection {
            offset: Vector3::zeros(),
            matrix: Matrix3::identity(),
        }
    }

    /// A pure offset correction (e.g. a gyroscope bias).
    pub fn offset_only(offset: Vector3<f64>) -> Self {
        AffineCorrection {
            offset,
            matrix: Matrix3::identity(),
        }
    }

    /// Applies the correction to one reading.
    pub fn apply(&self, raw: &Vector3<f64>) -> Vector3<f64> {
        self.matrix * (raw - self.offset)
    }

    /// True when applying it changes nothing.
    pub fn is_identity(&self) -> bool {
        *self == Self::identity()
    }
}

impl Default for AffineCorrection {
    fn default() -> Self {
        Self::identity()
    }
}

/// Corrections for the three sensors of one IMU, in the sensor's own axes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ImuCalibration {
    /// Accelerometer (m/s²).
    pub acc: AffineCorrection,
    /// Gyroscope (rad/s).
    pub gyr: AffineCorrection,
    /// Magnetometer (µT).
    pub mag: AffineCorrection,
}

impl ImuCalibration {
    /// The uncalibrated state: every reading passes through unchanged.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Corrected accelerometer reading, m/s².
    pub fn acc_m_s2(&self, raw: &Vector3<f64>) -> Vector3<f64> {
        self.acc.apply(raw)
    }

    /// Corrected gyroscope reading, rad/s.
    pub fn gyr_rad_s(&self, raw: &Vector3<f64>) -> Vector3<f64> {
        self.gyr.apply(raw)
    }

    /// Corrected magnetometer reading, µT.
    pub fn mag_ut(&self, raw: &Vector3<f64>) -> Vector3<f64> {
        self.mag.apply(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_passes_readings_through() {
        let cal = ImuCalibration::identity();
        let v = Vector3::new(0.1, -9.7, 3.0);
        assert_eq!(cal.acc_m_s2(&v), v);
        assert_eq!(cal.gyr_rad_s(&v), v);
        assert_eq!(cal.mag_ut(&v), v);
        assert!(cal.acc.is_identity());
    }

    #[test]
    fn affine_correction_inverts_a_known_sensor_error() {
        // A sensor that reads scale·truth + bias, with 2 % cross-axis coupling x→y.
        let bias = Vector3::new(0.3, -0.2, 0.1);
        let sensor = Matrix3::new(1.05, 0.0, 0.0, 0.02, 0.97, 0.0, 0.0, 0.0, 1.01);
        let truth = Vector3::new(1.0, -2.0, 9.81);
        let raw = sensor * truth + bias;
        let correction = AffineCorrection {
            offset: bias,
            matrix: sensor.try_inverse().unwrap(),
        };
        assert!((correction.apply(&raw) - truth).norm() < 1e-12);
    }
}
