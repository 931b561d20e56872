//! The virtual IMU: true motion in, raw i16 counts out, with the errors of a real MEMS part.

use nalgebra::{Matrix3, Rotation3, Vector3};

use crate::G_M_S2;

use super::rng::SimRng;
use super::rocker::BoardState;

/// Accelerometer full scale ±8 g in i16.
pub const ACC_M_S2_PER_LSB: f64 = 8.0 * G_M_S2 / 32_768.0;
/// Gyroscope full scale ±500 °/s in i16.
pub const GYR_RAD_S_PER_LSB: f64 = 500.0 / 32_768.0 * std::f64::consts::PI / 180.0;
/// Magnetometer 0.15 µT per count.
pub const MAG_UT_PER_LSB: f64 = 0.15;

/// Error magnitudes of the virtual sensor; each device draws its own biases from them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SensorErrors {
    /// Accelerometer white noise per sample, m/s² (1σ).
    pub acc_noise_m_s2: f64,
    /// Largest accelerometer bias per axis, m/s² (drawn uniformly within ±).
    pub acc_bias_m_s2: f64,
    /// Gyroscope white noise per sample, rad/s (1σ).
    pub gyr_noise_rad_s: f64,
    /// Largest gyroscope bias per axis, rad/s (drawn uniformly within ±).
    pub gyr_bias_rad_s: f64,
    /// Magnetometer white noise per sample, µT (1σ).
    pub mag_noise_ut: f64,
    /// Largest accelerometer scale error per axis, as a fraction (drawn uniformly within ±);
    /// 0 for a factory-trimmed part.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub acc_scale_max: f64,
    /// Largest accelerometer cross-axis sensitivity, as a fraction (each off-diagonal term
    /// drawn uniformly within ±).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub acc_cross_axis_max: f64,
    /// Largest magnetometer hard-iron offset per axis, µT (drawn uniformly within ±): the field
    /// of magnetised parts near the sensor, which turns with it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mag_hard_iron_max_ut: f64,
    /// Largest magnetometer soft-iron term, as a fraction: each element of the matrix that
    /// distorts the field is the identity's plus a term drawn uniformly within ±.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mag_soft_iron_max: f64,
}

/// Error kinds added after recordings existed are left out of their headers while zero, so a
/// seed still makes the same bytes.
pub(super) fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl SensorErrors {
    /// The errors of a part straight off the reel, before any calibration: the default noise
    /// and biases with 2 % scale errors, 1 % cross-axis sensitivity, 20 µT of hard iron and 5 %
    /// of soft iron (the simulator's device for the calibration routines).
    pub fn uncalibrated() -> Self {
        SensorErrors {
            acc_scale_max: 0.02,
            acc_cross_axis_max: 0.01,
            mag_hard_iron_max_ut: 20.0,
            mag_soft_iron_max: 0.05,
            ..SensorErrors::default()
        }
    }
}

/// One virtual sensor's drawn errors: what a perfect calibration would undo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorTruth {
    /// Accelerometer: `raw = acc_matrix · specific_force + acc_bias_m_s2` (before noise).
    pub acc_matrix: Matrix3<f64>,
    /// Accelerometer bias, m/s².
    pub acc_bias_m_s2: Vector3<f64>,
    /// Gyroscope bias, rad/s (`raw = rate + bias`).
    pub gyr_bias_rad_s: Vector3<f64>,
    /// Magnetometer: `raw = soft_iron · field + hard_iron_ut`.
    pub soft_iron: Matrix3<f64>,
    /// Magnetometer hard iron, µT.
    pub hard_iron_ut: Vector3<f64>,
    /// The local field's strength, µT.
    pub field_ut: f64,
}

impl Default for SensorErrors {
    /// A factory-trimmed consumer IMU: 0.15 °/s-class gyro noise, biases up to 0.5 °/s and 3 mg.
    fn default() -> Self {
        SensorErrors {
            acc_noise_m_s2: 0.015,
            acc_bias_m_s2: 0.03,
            gyr_noise_rad_s: 0.15f64.to_radians(),
            gyr_bias_rad_s: 0.5f64.to_radians(),
            mag_noise_ut: 0.3,
            acc_scale_max: 0.0,
            acc_cross_axis_max: 0.0,
            mag_hard_iron_max_ut: 0.0,
            mag_soft_iron_max: 0.0,
        }
    }
}

/// Raw counts of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawImu {
    /// Accelerometer counts.
    pub acc: [i16; 3],
    /// Gyroscope counts.
    pub gyr: [i16; 3],
    /// Magnetometer counts.
    pub mag: [i16; 3],
}

/// One device's sensor, with its biases drawn once.
#[derive(Debug, Clone)]
pub struct VirtualImu {
    errors: SensorErrors,
    acc_bias: Vector3<f64>,
    gyr_bias: Vector3<f64>,
    acc_matrix: Matrix3<f64>,
    soft_iron: Matrix3<f64>,
    hard_iron_ut: Vector3<f64>,
    imu_height_m: f64,
    rng: SimRng,
}

/// Earth's field where the simulated person lives, in the board's level frame, µT.
const EARTH_FIELD_UT: [f64; 3] = [18.0, 8.0, -44.0];

impl VirtualImu {
    /// A sensor mounted `imu_height_m` above the fulcrum, x along the rocking axis, z up.
    /// Biases are drawn from `rng`; scale, cross-axis and iron errors from `gain_rng` (a stream
    /// of their own, so that adding them left every earlier device's biases as they were).
    pub fn new(
        errors: SensorErrors,
        imu_height_m: f64,
        mut rng: SimRng,
        mut gain_rng: SimRng,
    ) -> Self {
        let mut draw = |max: f64| Vector3::from_fn(|_, _| rng.range(-max, max));
        let acc_bias = draw(errors.acc_bias_m_s2);
        let gyr_bias = draw(errors.gyr_bias_rad_s);
        let mut range = |max: f64| {
            if max > 0.0 {
                gain_rng.range(-max, max)
            } else {
                0.0
            }
        };
        let acc_matrix = Matrix3::from_fn(|i, j| {
            if i == j {
                1.0 + range(errors.acc_scale_max)
            } else {
                range(errors.acc_cross_axis_max)
            }
        });
        let hard_iron_ut = Vector3::from_fn(|_, _| range(errors.mag_hard_iron_max_ut));
        let soft = Matrix3::from_fn(|_, _| range(errors.mag_soft_iron_max));
        // Soft iron is a symmetric distortion (a field-induced magnetisation).
        let soft_iron = Matrix3::identity() + (soft + soft.transpose()) / 2.0;
        VirtualImu {
            errors,
            acc_bias,
            gyr_bias,
            acc_matrix,
            soft_iron,
            hard_iron_ut,
            imu_height_m,
            rng,
        }
    }

    /// The errors this sensor was drawn with.
    pub fn truth(&self) -> SensorTruth {
        SensorTruth {
            acc_matrix: self.acc_matrix,
            acc_bias_m_s2: self.acc_bias,
            gyr_bias_rad_s: self.gyr_bias,
            soft_iron: self.soft_iron,
            hard_iron_ut: self.hard_iron_ut,
            field_ut: Vector3::from(EARTH_FIELD_UT).norm(),
        }
    }

    /// The board's orientation, `world_from_imu`, at `tilt_rad`.
    pub fn board_orientation(tilt_rad: f64) -> Rotation3<f64> {
        Rotation3::from_axis_angle(&Vector3::x_axis(), tilt_rad)
    }

    /// The board's true motion as the sensor feels it, before any error: specific force (m/s²)
    /// and angular rate (rad/s), sensor frame.
    pub fn true_signals(&self, board: &BoardState) -> (Vector3<f64>, Vector3<f64>) {
        let (th, w, a, h) = (
            board.tilt_rad,
            board.rate_rad_s,
            board.accel_rad_s2,
            self.imu_height_m,
        );
        // The sensor sits at world_from_board·(0, 0, h): it moves on a circle as the board tilts.
        let acc_world = Vector3::new(
            0.0,
            -h * (a * th.cos() - w * w * th.sin()),
            -h * (a * th.sin() + w * w * th.cos()),
        );
        let imu_from_world = Self::board_orientation(th).inverse();
        let specific_force = imu_from_world * (acc_world + Vector3::new(0.0, 0.0, G_M_S2));
        (specific_force, Vector3::new(w, 0.0, 0.0))
    }

    /// One output sample from the true signals averaged over the sample interval (as a real
    /// sensor's decimation filter does), with bias, noise, quantisation and saturation; the
    /// magnetometer reads the field at the sensor's orientation at the end of the interval.
    pub fn measure(
        &mut self,
        mean_specific_force: &Vector3<f64>,
        mean_rate: &Vector3<f64>,
        world_from_imu: &Rotation3<f64>,
    ) -> RawImu {
        let e = self.errors;
        let imu_from_world = world_from_imu.inverse();
        let acc =
            self.acc_matrix * mean_specific_force + self.acc_bias + self.noise(e.acc_noise_m_s2);
        let gyr = mean_rate + self.gyr_bias + self.noise(e.gyr_noise_rad_s);
        let field = imu_from_world * Vector3::from(EARTH_FIELD_UT);
        let mag = self.soft_iron * field + self.hard_iron_ut + self.noise(e.mag_noise_ut);
        RawImu {
            acc: quantise(&acc, ACC_M_S2_PER_LSB),
            gyr: quantise(&gyr, GYR_RAD_S_PER_LSB),
            mag: quantise(&mag, MAG_UT_PER_LSB),
        }
    }

    fn noise(&mut self, sigma: f64) -> Vector3<f64> {
        Vector3::new(self.rng.normal(), self.rng.normal(), self.rng.normal()) * sigma
    }
}

/// Rounds to counts and saturates at the i16 range, as a real ADC does.
fn quantise(v: &Vector3<f64>, unit_per_lsb: f64) -> [i16; 3] {
    let count = |x: f64| {
        (x / unit_per_lsb)
            .round()
            .clamp(i16::MIN as f64, i16::MAX as f64) as i16
    };
    [count(v.x), count(v.y), count(v.z)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_board_at_rest_reads_one_g_up() {
        let errors = SensorErrors {
            acc_noise_m_s2: 0.0,
            acc_bias_m_s2: 0.0,
            gyr_noise_rad_s: 0.0,
            gyr_bias_rad_s: 0.0,
            mag_noise_ut: 0.0,
            ..SensorErrors::default()
        };
        let mut imu = VirtualImu::new(errors, 0.07, SimRng::new(1, 0), SimRng::new(1, 1));
        let rest = BoardState {
            tilt_rad: 0.0,
            rate_rad_s: 0.0,
            accel_rad_s2: 0.0,
            at_edge: false,
        };
        let sample = |imu: &mut VirtualImu, state: &BoardState| {
            let (f, w) = imu.true_signals(state);
            imu.measure(&f, &w, &VirtualImu::board_orientation(state.tilt_rad))
        };
        let raw = sample(&mut imu, &rest);
        assert_eq!(raw.acc[0], 0);
        assert_eq!(raw.acc[1], 0);
        assert_eq!(raw.acc[2], 4096); // 1 g at 4096 counts per g
        assert_eq!(raw.gyr, [0, 0, 0]);
        // Tilted by +10° about x (right edge down): gravity appears on +y.
        let tilted = BoardState {
            tilt_rad: 10f64.to_radians(),
            ..rest
        };
        let raw = sample(&mut imu, &tilted);
        let expected_y = (10f64.to_radians().sin() * 4096.0).round() as i16;
        assert_eq!(raw.acc[1], expected_y);
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        assert_eq!(
            quantise(&Vector3::new(1e9, -1e9, 0.0), 1.0),
            [i16::MAX, i16::MIN, 0]
        );
    }
}
