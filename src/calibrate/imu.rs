//! [`ImuRoutine`], the IMU's routine (uncalibrated SI samples in):
//! 1. **Keep still** ([`IMU_STILL_S`] of unbroken stillness): the gyroscope's bias; the
//!    accelerometer's mean there is the first pose.
//! 2. **Poses**: the sensor is turned and held still in new orientations; each hold of
//!    [`POSE_HOLD_S`] whose gravity direction is at least [`NEW_POSE_DEG`] from every earlier
//!    pose's counts. [`IMU_POSES`] poses (six faces and four oblique) give the accelerometer's
//!    offset, scales and cross-axis terms.
//! 3. **Tumble** (when the magnetometer is calibrated too): the sensor is turned every way until
//!    the magnetometer's readings cover the sphere ([`MAG_COVERAGE`]); hard and soft iron.

use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};

use proprio_calibration::sphere::{self, SphereFit};
use proprio_calibration::still::{self, GyroBias, StillnessDetector, StillnessLimits};
use proprio_calibration::{AffineCorrection, CalibrationError, ImuCalibration};

use crate::pipeline::ImuSi;
use crate::G_M_S2;

/// Unbroken stillness the gyroscope's bias is taken from, s.
pub const IMU_STILL_S: f64 = 4.0;
/// Stillness that makes a pose, s.
pub const POSE_HOLD_S: f64 = 1.5;
/// A pose counts when its gravity direction is this far from every earlier pose's, degrees.
pub const NEW_POSE_DEG: f64 = 25.0;
/// Poses the routine asks for: enough for the cross-axis terms.
pub const IMU_POSES: usize = 10;
/// The magnetometer's coverage at which the tumble is enough (1 = the whole sphere).
pub const MAG_COVERAGE: f64 = 0.5;
/// The stillness detector's window, s.
const STILL_WINDOW_S: f64 = 0.5;
/// The tumble keeps at most one magnetometer reading per this long, s (neighbours add nothing).
const MAG_EVERY_S: f64 = 0.05;

/// Where an IMU routine stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum ImuStep {
    /// Lay the sensor flat and keep it still.
    KeepStill {
        /// Unbroken stillness so far, s.
        still_s: f64,
        /// Stillness needed, s.
        need_s: f64,
    },
    /// Turn the sensor onto a new side and hold it still.
    Poses {
        /// Poses taken.
        done: usize,
        /// Poses needed.
        need: usize,
        /// The sensor is being held still now.
        holding: bool,
    },
    /// Turn the sensor slowly every way.
    Tumble {
        /// The magnetometer's coverage so far, 0–1.
        coverage: f64,
        /// Coverage needed.
        need: f64,
    },
    /// The data is complete: call [`ImuRoutine::finish`].
    Done,
}

impl ImuStep {
    /// What the user should do now, in one sentence.
    pub fn instruction(&self) -> &'static str {
        match self {
            ImuStep::KeepStill { .. } => "Lay the sensor flat on a table and do not touch it.",
            ImuStep::Poses { holding: true, .. } => "Hold it still in this position.",
            ImuStep::Poses { .. } => {
                "Turn the sensor onto another side (each of its six faces, then resting on an \
                 edge or a corner) and hold it still for two seconds each time."
            }
            ImuStep::Tumble { .. } => {
                "Away from metal, turn the sensor slowly every way, as if drawing a figure eight \
                 in the air."
            }
            ImuStep::Done => "Done: you can put the sensor down.",
        }
    }
}

/// The IMU routine's result: the calibration and how far to trust each part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImuRoutineResult {
    /// The calibration: corrects raw SI readings.
    pub calibration: ImuCalibration,
    /// The gyroscope's bias and noise.
    pub gyro: GyroBias,
    /// The accelerometer's fit (residual, coverage, poses).
    pub accelerometer: SphereFit,
    /// The magnetometer's fit, when it was calibrated.
    pub magnetometer: Option<SphereFit>,
}

/// The IMU routine (see the module docs): push uncalibrated samples, read [`ImuRoutine::step`],
/// and [`ImuRoutine::finish`] when it says [`ImuStep::Done`] (or earlier, to learn what the
/// data cannot support).
#[derive(Debug, Clone)]
pub struct ImuRoutine {
    rate_hz: f64,
    with_mag: bool,
    detector: StillnessDetector,
    /// Samples of the current unbroken still stretch: gyroscope, accelerometer.
    still_gyr: Vec<Vector3<f64>>,
    still_acc: Vec<Vector3<f64>>,
    gyro: Option<GyroBias>,
    poses_m_s2: Vec<Vector3<f64>>,
    /// The current hold has been counted (or refused as an earlier pose) already.
    hold_taken: bool,
    mag_ut: Vec<Vector3<f64>>,
    since_mag_s: f64,
}

impl ImuRoutine {
    /// A routine for samples arriving at `rate_hz`; `with_mag` adds the magnetometer's tumble.
    pub fn new(rate_hz: f64, with_mag: bool) -> Self {
        let rate_hz = if rate_hz.is_finite() && rate_hz > 0.0 {
            rate_hz
        } else {
            100.0
        };
        let window = (STILL_WINDOW_S * rate_hz).round() as usize;
        ImuRoutine {
            rate_hz,
            with_mag,
            detector: StillnessDetector::new(StillnessLimits::default(), window),
            still_gyr: Vec::new(),
            still_acc: Vec::new(),
            gyro: None,
            poses_m_s2: Vec::new(),
            hold_taken: false,
            mag_ut: Vec::new(),
            since_mag_s: f64::INFINITY,
        }
    }

    /// Where the routine stands.
    pub fn step(&self) -> ImuStep {
        let still_s = self.still_acc.len() as f64 / self.rate_hz;
        if self.gyro.is_none() {
            return ImuStep::KeepStill {
                still_s,
                need_s: IMU_STILL_S,
            };
        }
        if self.poses_m_s2.len() < IMU_POSES {
            return ImuStep::Poses {
                done: self.poses_m_s2.len(),
                need: IMU_POSES,
                // Held still, and not yet taken (or refused as an earlier pose's side).
                holding: !self.still_acc.is_empty() && !self.hold_taken,
            };
        }
        if self.with_mag {
            let coverage = sphere::coverage(&self.mag_ut);
            if coverage < MAG_COVERAGE || self.mag_ut.len() < 50 {
                return ImuStep::Tumble {
                    coverage,
                    need: MAG_COVERAGE,
                };
            }
        }
        ImuStep::Done
    }

    /// Takes one uncalibrated sample and returns the step after it.
    pub fn push(&mut self, imu: &ImuSi) -> ImuStep {
        let before = self.step();
        let still = self.detector.push(imu.gyr_rad_s, imu.acc_m_s2);
        if still {
            if self.still_acc.is_empty() {
                // The window that proved stillness belongs to the stretch.
                let (gyr, acc) = self.detector.window();
                self.still_gyr = gyr;
                self.still_acc = acc;
            } else {
                self.still_gyr.push(imu.gyr_rad_s);
                self.still_acc.push(imu.acc_m_s2);
            }
        } else {
            self.still_gyr.clear();
            self.still_acc.clear();
            self.hold_taken = false;
        }
        let still_s = self.still_acc.len() as f64 / self.rate_hz;
        match before {
            ImuStep::KeepStill { .. } if still_s >= IMU_STILL_S => {
                if let Ok(bias) = still::gyro_bias(
                    &self.still_gyr,
                    &self.still_acc,
                    &StillnessLimits::default(),
                ) {
                    self.gyro = Some(bias);
                    self.poses_m_s2.push(mean(&self.still_acc));
                    self.hold_taken = true;
                }
            }
            ImuStep::Poses { .. } if still_s >= POSE_HOLD_S && !self.hold_taken => {
                self.hold_taken = true;
                let pose = mean(&self.still_acc);
                let new = self
                    .poses_m_s2
                    .iter()
                    .all(|p| p.angle(&pose).to_degrees() >= NEW_POSE_DEG);
                if new {
                    self.poses_m_s2.push(pose);
                }
            }
            ImuStep::Tumble { .. } => {
                self.since_mag_s += 1.0 / self.rate_hz;
                if let Some(mag) = imu.mag_ut.filter(|m| m.iter().all(|x| x.is_finite())) {
                    if self.since_mag_s >= MAG_EVERY_S {
                        self.mag_ut.push(mag);
                        self.since_mag_s = 0.0;
                    }
                }
            }
            _ => {}
        }
        self.step()
    }

    /// The fit of what the data supports; an error names what is missing.
    pub fn finish(&self) -> Result<ImuRoutineResult, CalibrationError> {
        let gyro = self.gyro.ok_or(CalibrationError::TooFewSamples {
            got: self.still_acc.len(),
            need: (IMU_STILL_S * self.rate_hz).round() as usize,
        })?;
        let accelerometer = sphere::fit_accelerometer(&self.poses_m_s2, G_M_S2)?;
        let magnetometer = if self.with_mag {
            Some(sphere::fit_magnetometer(&self.mag_ut, None)?)
        } else {
            None
        };
        // The sphere fit fixes M only up to a rotation (its upper-triangular form turns the
        // accelerometer's axes by up to the cross-axis terms); of all the Ms with the same MᵀM the
        // symmetric one turns them least, keeping them on the package's (the gyroscope's) axes.
        let accelerometer = SphereFit {
            correction: AffineCorrection {
                matrix: symmetric(&accelerometer.correction.matrix),
                ..accelerometer.correction
            },
            ..accelerometer
        };
        let magnetometer = magnetometer.map(|m| SphereFit {
            correction: AffineCorrection {
                matrix: symmetric(&m.correction.matrix),
                ..m.correction
            },
            ..m
        });
        // The bias was read in raw gyroscope units; the gyroscope needs no scale from a routine
        // without a turntable.
        let calibration = ImuCalibration {
            acc: accelerometer.correction,
            gyr: AffineCorrection::offset_only(gyro.bias_rad_s),
            mag: magnetometer.map_or_else(AffineCorrection::identity, |m| m.correction),
        };
        Ok(ImuRoutineResult {
            calibration,
            gyro,
            accelerometer,
            magnetometer,
        })
    }
}

impl ImuRoutineResult {
    /// What the routine found, a line per sensor (see [`super::Profile::summary`]).
    pub fn summary(&self) -> Vec<String> {
        let scale_percent = |m: &Matrix3<f64>| {
            let d = m.diagonal();
            [d.x, d.y, d.z].map(|s| (1.0 / s - 1.0) * 100.0)
        };
        let acc = &self.accelerometer;
        let [sx, sy, sz] = scale_percent(&acc.correction.matrix);
        let mut lines = vec![
            format!(
                "gyroscope bias {:.3} °/s (±{:.4} °/s, {} still samples)",
                self.gyro.bias_rad_s.norm().to_degrees(),
                self.gyro.standard_error_rad_s.to_degrees(),
                self.gyro.samples
            ),
            format!(
                "accelerometer offset {:.3} m/s², scale error {sx:+.2} / {sy:+.2} / {sz:+.2} % \
                 (x / y / z); fit residual {:.4} m/s² over {} poses, coverage {:.2}",
                acc.correction.offset.norm(),
                acc.residual_rms,
                acc.readings,
                acc.coverage
            ),
        ];
        lines.push(match &self.magnetometer {
            Some(mag) => format!(
                "magnetometer hard iron {:.1} µT; fit residual {:.2} µT over {} readings, \
                 coverage {:.2}",
                mag.correction.offset.norm(),
                mag.residual_rms,
                mag.readings,
                mag.coverage
            ),
            None => "magnetometer not calibrated (none, or --no-mag)".to_string(),
        });
        lines
    }
}

/// The symmetric positive-definite matrix with the same MᵀM as `m`: √(MᵀM), the polar
/// decomposition's stretch.
fn symmetric(m: &Matrix3<f64>) -> Matrix3<f64> {
    let eigen = (m.transpose() * m).symmetric_eigen();
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    eigen.eigenvectors * Matrix3::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

fn mean(values: &[Vector3<f64>]) -> Vector3<f64> {
    values.iter().sum::<Vector3<f64>>() / values.len().max(1) as f64
}

impl super::Routine for ImuRoutine {
    fn push(&mut self, input: super::RoutineInput<'_>) {
        if let super::RoutineInput::Imu(imu) = input {
            ImuRoutine::push(self, imu);
        }
    }

    fn progress(&self) -> super::RoutineProgress {
        let step = self.step();
        let steps = if self.with_mag { 3 } else { 2 };
        let (number, step_fraction) = match step {
            ImuStep::KeepStill { still_s, need_s } => (1, still_s / need_s),
            ImuStep::Poses { done, need, .. } => (2, done as f64 / need as f64),
            ImuStep::Tumble { coverage, need } => (3, coverage / need),
            ImuStep::Done => (steps, 1.0),
        };
        super::RoutineProgress {
            instruction: step.instruction().to_string(),
            step: number,
            steps,
            step_fraction: step_fraction.clamp(0.0, 1.0),
            done: step == ImuStep::Done,
        }
    }

    fn finish(&self) -> Result<super::Profile, CalibrationError> {
        ImuRoutine::finish(self).map(|r| super::Profile::Imu(Box::new(r)))
    }
}
