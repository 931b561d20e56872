//! Gyroscope bias from a still period, and the stillness detector that refuses motion.
//!
//! A still IMU's gyroscope reads its bias plus noise, so the bias is the mean reading. "Still"
//! is judged from the data: the spread (standard deviation) of every gyroscope axis and every
//! accelerometer axis must stay under [`StillnessLimits`]; a slow, steady turn that keeps the
//! gyroscope's spread small still swings the accelerometer's direction, so both are checked.

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use crate::CalibrationError;

/// How still "still" is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StillnessLimits {
    /// Largest standard deviation of any gyroscope axis, rad/s. A resting consumer MEMS
    /// gyroscope's noise is 0.001–0.005 rad/s at 100 Hz; a hand holding a sensor moves it by
    /// 0.02 rad/s or more.
    pub max_gyr_std_rad_s: f64,
    /// Largest standard deviation of any accelerometer axis, m/s² (resting noise is
    /// 0.005–0.03 m/s²).
    pub max_acc_std_m_s2: f64,
    /// Fewest samples for a still period.
    pub min_samples: usize,
}

impl Default for StillnessLimits {
    fn default() -> Self {
        StillnessLimits {
            max_gyr_std_rad_s: 0.01,
            max_acc_std_m_s2: 0.05,
            min_samples: 100,
        }
    }
}

/// The per-axis mean and standard deviation of a set of vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    mean: Vector3<f64>,
    std: Vector3<f64>,
}

fn spread(values: &[Vector3<f64>]) -> Spread {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<Vector3<f64>>() / n;
    let var = values
        .iter()
        .map(|v| (v - mean).component_mul(&(v - mean)))
        .sum::<Vector3<f64>>()
        / n;
    Spread {
        mean,
        std: var.map(f64::sqrt),
    }
}

/// A gyroscope bias and how well it is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GyroBias {
    /// The bias: the mean reading at rest, rad/s.
    pub bias_rad_s: Vector3<f64>,
    /// The readings' standard deviation per axis at rest (the noise), rad/s.
    pub noise_rad_s: Vector3<f64>,
    /// Standard error of the bias (largest axis): noise / √samples, rad/s. White noise only;
    /// a drifting bias is known less well.
    pub standard_error_rad_s: f64,
    /// Samples averaged.
    pub samples: usize,
}

/// The gyroscope bias from a still period: gyroscope and accelerometer readings taken together
/// (rad/s, m/s², sensor axes). Refuses too few samples, non-finite readings, and motion.
pub fn gyro_bias(
    gyr_rad_s: &[Vector3<f64>],
    acc_m_s2: &[Vector3<f64>],
    limits: &StillnessLimits,
) -> Result<GyroBias, CalibrationError> {
    let samples = gyr_rad_s.len().min(acc_m_s2.len());
    if samples < limits.min_samples.max(2) {
        return Err(CalibrationError::TooFewSamples {
            got: samples,
            need: limits.min_samples.max(2),
        });
    }
    let (gyr, acc) = (&gyr_rad_s[..samples], &acc_m_s2[..samples]);
    if gyr
        .iter()
        .chain(acc)
        .any(|v| !v.iter().all(|x| x.is_finite()))
    {
        return Err(CalibrationError::NotFinite);
    }
    let (g, a) = (spread(gyr), spread(acc));
    if g.std.max() > limits.max_gyr_std_rad_s {
        return Err(CalibrationError::Moving {
            sensor: "gyroscope",
            spread: g.std.max(),
            limit: limits.max_gyr_std_rad_s,
            unit: "rad/s",
        });
    }
    if a.std.max() > limits.max_acc_std_m_s2 {
        return Err(CalibrationError::Moving {
            sensor: "accelerometer",
            spread: a.std.max(),
            limit: limits.max_acc_std_m_s2,
            unit: "m/s²",
        });
    }
    Ok(GyroBias {
        bias_rad_s: g.mean,
        noise_rad_s: g.std,
        standard_error_rad_s: g.std.max() / (samples as f64).sqrt(),
        samples,
    })
}

/// A running stillness check over the last `window` samples, for guided flows that advance
/// when the sensor has been still long enough.
#[derive(Debug, Clone)]
pub struct StillnessDetector {
    limits: StillnessLimits,
    window: usize,
    gyr: std::collections::VecDeque<Vector3<f64>>,
    acc: std::collections::VecDeque<Vector3<f64>>,
}

impl StillnessDetector {
    /// A detector judging the last `window` samples (at least 2) by `limits`.
    pub fn new(limits: StillnessLimits, window: usize) -> Self {
        let window = window.max(2);
        StillnessDetector {
            limits,
            window,
            gyr: std::collections::VecDeque::with_capacity(window),
            acc: std::collections::VecDeque::with_capacity(window),
        }
    }

    /// Takes one sample; true when the window is full and still. A non-finite reading empties
    /// the window.
    pub fn push(&mut self, gyr_rad_s: Vector3<f64>, acc_m_s2: Vector3<f64>) -> bool {
        if !(gyr_rad_s
            .iter()
            .chain(acc_m_s2.iter())
            .all(|x| x.is_finite()))
        {
            self.gyr.clear();
            self.acc.clear();
            return false;
        }
        if self.gyr.len() == self.window {
            self.gyr.pop_front();
            self.acc.pop_front();
        }
        self.gyr.push_back(gyr_rad_s);
        self.acc.push_back(acc_m_s2);
        self.is_still()
    }

    /// True when the window is full and still.
    pub fn is_still(&self) -> bool {
        if self.gyr.len() < self.window {
            return false;
        }
        let (gyr, acc): (Vec<_>, Vec<_>) = (
            self.gyr.iter().copied().collect(),
            self.acc.iter().copied().collect(),
        );
        spread(&gyr).std.max() <= self.limits.max_gyr_std_rad_s
            && spread(&acc).std.max() <= self.limits.max_acc_std_m_s2
    }

    /// The samples in the window: gyroscope, accelerometer.
    pub fn window(&self) -> (Vec<Vector3<f64>>, Vec<Vector3<f64>>) {
        (
            self.gyr.iter().copied().collect(),
            self.acc.iter().copied().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Noise;

    fn still(
        n: usize,
        bias: Vector3<f64>,
        noise: f64,
        seed: u64,
    ) -> (Vec<Vector3<f64>>, Vec<Vector3<f64>>) {
        let mut rng = Noise::new(seed);
        let gyr = (0..n).map(|_| bias + rng.vector(noise)).collect();
        let acc = (0..n)
            .map(|_| Vector3::new(0.1, -0.2, 9.8) + rng.vector(0.02))
            .collect();
        (gyr, acc)
    }

    #[test]
    fn the_bias_of_a_still_gyroscope_is_recovered_within_its_standard_error() {
        let bias = Vector3::new(0.012, -0.007, 0.02);
        let (gyr, acc) = still(2000, bias, 0.003, 1);
        let b = gyro_bias(&gyr, &acc, &StillnessLimits::default()).unwrap();
        // 3 mrad/s noise over 2000 samples: standard error 0.067 mrad/s; allow 4 of them.
        assert!((b.standard_error_rad_s - 0.003 / 2000f64.sqrt()).abs() < 1e-5);
        assert!(
            (b.bias_rad_s - bias).amax() < 4.0 * b.standard_error_rad_s,
            "{b:?}"
        );
        assert!((b.noise_rad_s.max() - 0.003).abs() < 0.0003, "{b:?}");
    }

    #[test]
    fn motion_and_bad_input_are_refused_by_name() {
        let limits = StillnessLimits::default();
        // A hand-held sensor turning back and forth at 0.5 rad/s.
        let (mut gyr, acc) = still(500, Vector3::zeros(), 0.003, 2);
        for (k, g) in gyr.iter_mut().enumerate() {
            g.z += 0.5 * (k as f64 * 0.05).sin();
        }
        let e = gyro_bias(&gyr, &acc, &limits).unwrap_err();
        assert!(
            matches!(
                e,
                CalibrationError::Moving {
                    sensor: "gyroscope",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("gyroscope"), "{e}");
        // A steady slow turn: the gyroscope is steady, the accelerometer's direction swings.
        let (gyr, _) = still(500, Vector3::new(0.0, 0.2, 0.0), 0.003, 3);
        let acc: Vec<_> = (0..500)
            .map(|k| {
                let a = 0.2 * k as f64 * 0.01;
                Vector3::new(9.8 * a.sin(), 0.0, 9.8 * a.cos())
            })
            .collect();
        let e = gyro_bias(&gyr, &acc, &limits).unwrap_err();
        assert!(
            matches!(
                e,
                CalibrationError::Moving {
                    sensor: "accelerometer",
                    ..
                }
            ),
            "{e}"
        );
        let (gyr, acc) = still(50, Vector3::zeros(), 0.003, 4);
        assert!(matches!(
            gyro_bias(&gyr, &acc, &limits),
            Err(CalibrationError::TooFewSamples { got: 50, need: 100 })
        ));
        let (mut gyr, acc) = still(200, Vector3::zeros(), 0.003, 5);
        gyr[7].x = f64::NAN;
        assert!(matches!(
            gyro_bias(&gyr, &acc, &limits),
            Err(CalibrationError::NotFinite)
        ));
    }

    #[test]
    fn the_detector_waits_for_a_full_still_window() {
        let mut detector = StillnessDetector::new(StillnessLimits::default(), 50);
        let (gyr, acc) = still(200, Vector3::zeros(), 0.003, 6);
        let mut first_still = None;
        for (k, (g, a)) in gyr.iter().zip(&acc).enumerate() {
            // Moving for the first 60 samples.
            let g = if k < 60 {
                g + Vector3::new(0.0, 0.0, 0.3) * (k as f64).sin()
            } else {
                *g
            };
            if detector.push(g, *a) && first_still.is_none() {
                first_still = Some(k);
            }
        }
        // Still once the window holds only still samples: from sample 60 + 50 − 1.
        assert_eq!(first_still, Some(109));
    }
}
