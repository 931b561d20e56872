//! Orientation estimation behind a small seam: a filter is a plain state object that takes one
//! calibrated sample at a time and returns its estimate.

use nalgebra::{UnitQuaternion, Vector3};

use super::ImuSi;

const G_M_S2: f64 = 9.806_65;

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
}

/// An orientation filter: plain state, one sample in, one estimate out.
pub trait OrientationFilter {
    /// Takes one sample, `dt_s` after the previous one (0 for the first).
    fn update(&mut self, imu: &ImuSi, dt_s: f64) -> OrientationEstimate;
    /// Forgets the orientation (e.g. after a long gap) but keeps learned biases.
    fn restart(&mut self);
}

/// Parameters of [`ComplementaryFilter`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ComplementaryParams {
    /// Accelerometer correction gain, 1/s (the crossover between gyro and accelerometer).
    pub kp: f64,
    /// Gyroscope bias learning gain, 1/s².
    pub ki: f64,
    /// Gain used while converging, 1/s.
    pub kp_converging: f64,
    /// How long converging lasts after a (re)start, s.
    pub converging_s: f64,
    /// Accelerometer readings further than this from 1 g (m/s²) are not used for correction.
    pub acc_reject_m_s2: f64,
    /// Largest bias estimate, rad/s (keeps a bad stretch of data from running it away).
    pub max_bias_rad_s: f64,
}

impl Default for ComplementaryParams {
    fn default() -> Self {
        ComplementaryParams {
            kp: 1.0,
            ki: 0.1,
            kp_converging: 10.0,
            converging_s: 1.0,
            acc_reject_m_s2: 1.5,
            max_bias_rad_s: 5f64.to_radians(),
        }
    }
}

/// A Mahony-type complementary filter (Mahony, Hamel & Pflimlin 2008): the gyroscope is
/// integrated, and the accelerometer's view of gravity pulls the estimate back with a
/// proportional term (drift) and an integral term (gyroscope bias). Accelerometer readings far
/// from 1 g are skipped. Six-axis: heading is not observed.
#[derive(Debug, Clone)]
pub struct ComplementaryFilter {
    params: ComplementaryParams,
    world_from_imu: UnitQuaternion<f64>,
    gyr_bias_rad_s: Vector3<f64>,
    initialised: bool,
    converging_left_s: f64,
}

impl ComplementaryFilter {
    /// A filter that initialises from its first accelerometer reading.
    pub fn new(params: ComplementaryParams) -> Self {
        ComplementaryFilter {
            params,
            world_from_imu: UnitQuaternion::identity(),
            gyr_bias_rad_s: Vector3::zeros(),
            initialised: false,
            converging_left_s: params.converging_s,
        }
    }

    /// The current gyroscope bias estimate, rad/s.
    pub fn gyr_bias_rad_s(&self) -> Vector3<f64> {
        self.gyr_bias_rad_s
    }
}

impl OrientationFilter for ComplementaryFilter {
    fn update(&mut self, imu: &ImuSi, dt_s: f64) -> OrientationEstimate {
        let p = self.params;
        let acc = imu.acc_m_s2;
        let acc_norm = acc.norm();
        let acc_usable = acc_norm.is_finite() && (acc_norm - G_M_S2).abs() <= p.acc_reject_m_s2;
        let gyr = imu.gyr_rad_s;
        let gyr_usable = gyr.iter().all(|x| x.is_finite());
        let dt_s = if dt_s.is_finite() && dt_s > 0.0 {
            dt_s
        } else {
            0.0
        };

        if !self.initialised && acc_usable {
            // Level from gravity alone: the shortest rotation taking "up" to the measured up.
            let up_in_imu = acc / acc_norm;
            self.world_from_imu =
                UnitQuaternion::rotation_between(&up_in_imu, &Vector3::z()).unwrap_or_default();
            self.initialised = true;
        } else if self.initialised && gyr_usable {
            let converging = self.converging_left_s > 0.0;
            let mut correction = Vector3::zeros();
            if acc_usable {
                let up_estimated = self.world_from_imu.inverse_transform_vector(&Vector3::z());
                let error = (acc / acc_norm).cross(&up_estimated);
                let kp = if converging { p.kp_converging } else { p.kp };
                correction = kp * error;
                if !converging {
                    self.gyr_bias_rad_s -= p.ki * error * dt_s;
                    let m = p.max_bias_rad_s;
                    self.gyr_bias_rad_s = self.gyr_bias_rad_s.map(|b| b.clamp(-m, m));
                }
            }
            let omega = gyr - self.gyr_bias_rad_s + correction;
            self.world_from_imu *= UnitQuaternion::from_scaled_axis(omega * dt_s);
            self.world_from_imu.renormalize();
            self.converging_left_s -= dt_s;
        }
        OrientationEstimate {
            world_from_imu: self.world_from_imu,
            gyr_unbiased_rad_s: if gyr_usable {
                gyr - self.gyr_bias_rad_s
            } else {
                Vector3::zeros()
            },
            acc_rejected: !acc_usable,
            converging: !self.initialised || self.converging_left_s > 0.0,
        }
    }

    fn restart(&mut self) {
        self.initialised = false;
        self.converging_left_s = self.params.converging_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(acc: Vector3<f64>, gyr: Vector3<f64>) -> ImuSi {
        ImuSi {
            acc_m_s2: acc,
            gyr_rad_s: gyr,
            mag_ut: None,
        }
    }

    #[test]
    fn learns_gyro_bias_and_holds_a_static_tilt() {
        let tilt = 10f64.to_radians();
        let up = Vector3::new(0.0, tilt.sin(), tilt.cos()) * G_M_S2;
        let bias = Vector3::new(0.01, -0.008, 0.0);
        let mut f = ComplementaryFilter::new(ComplementaryParams::default());
        let mut est = f.update(&sample(up, bias), 0.0);
        for _ in 0..100 * 120 {
            est = f.update(&sample(up, bias), 0.01);
        }
        let up_est = est.world_from_imu.inverse_transform_vector(&Vector3::z());
        let tilt_est = up_est.y.atan2(up_est.z);
        assert!(
            (tilt_est - tilt).abs().to_degrees() < 0.01,
            "{}",
            tilt_est.to_degrees()
        );
        // Only the bias perpendicular to gravity is observable from the accelerometer.
        let up_unit = up.normalize();
        let error = f.gyr_bias_rad_s() - bias;
        let observable_error = error - up_unit * error.dot(&up_unit);
        assert!(observable_error.norm() < 1e-5, "{observable_error}");
    }

    #[test]
    fn survives_degenerate_input_without_nan() {
        let mut f = ComplementaryFilter::new(ComplementaryParams::default());
        let bad = [
            sample(Vector3::zeros(), Vector3::zeros()),
            sample(
                Vector3::new(f64::NAN, 0.0, 9.8),
                Vector3::new(f64::NAN, 0.0, 0.0),
            ),
            sample(Vector3::new(0.0, 0.0, 9.8), Vector3::zeros()),
            sample(Vector3::new(1e6, 0.0, 0.0), Vector3::new(1e3, 0.0, 0.0)),
        ];
        for (i, s) in bad.iter().cycle().take(40).enumerate() {
            let dt = [0.01, 0.0, -1.0, 10.0][i % 4];
            let est = f.update(s, dt);
            assert!(est.world_from_imu.coords.iter().all(|x| x.is_finite()));
        }
    }
}
