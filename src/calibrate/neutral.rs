//! [`NeutralRoutine`], the user's comfortable neutral posture (samples with the wearable's IMU
//! calibration and mounting applied, so in body axes once the mounting is calibrated): the
//! user stands tall in the neutral they found with their clinician and keeps still; after
//! [`NEUTRAL_CAPTURE_S`] of unbroken stillness, the mean direction of up is their neutral.
//!
//! The neutral-spine hold then measures the trunk's deviation from this stored neutral instead
//! of from whatever posture the user happens to start in, so a slouch at the start shows (see
//! [`crate::drill::NeutralSpine`]). It is a profile of a person, stored per user (and device:
//! the strap sits where it sits).

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use proprio_calibration::CalibrationError;

use super::{Profile, Routine, RoutineInput, RoutineProgress};
use crate::drill::{STILL_ACC_M_S2, STILL_GYR_DEG_S};
use crate::G_M_S2;

/// Unbroken stillness in neutral the capture takes, s.
pub const NEUTRAL_CAPTURE_S: f64 = 5.0;
/// While it is captured, up must stay within this of its mean so far, °: a person standing
/// still sways a little, a person settling into a posture more.
pub const NEUTRAL_CAPTURE_STEADY_DEG: f64 = 1.5;

/// A stored neutral posture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeutralPosture {
    /// Up (a unit vector) in the wearable's axes, after its calibration and mounting.
    pub up_in_body: Vector3<f64>,
    /// Its angle from the body's (the sensor's, without a mounting) z axis, °: lordosis and the
    /// strap's lean together.
    pub from_vertical_deg: f64,
    /// RMS angle of the samples from it during the capture (the sway), °.
    pub sway_rms_deg: f64,
    /// Samples averaged.
    pub samples: usize,
    /// When the back's mounting it was captured through was made (`None`: captured in the
    /// sensor's axes, without one). It is applied only with that same mounting in force: a new
    /// mounting calibration asks for the neutral again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_created_utc: Option<String>,
}

impl NeutralPosture {
    /// What it is, for people.
    pub fn summary(&self) -> Vec<String> {
        vec![format!(
            "neutral posture {:.1}° from the sensor's vertical; sway while captured {:.2}° RMS \
             over {} samples",
            self.from_vertical_deg, self.sway_rms_deg, self.samples
        )]
    }
}

/// The neutral-posture routine (see the module docs).
#[derive(Debug, Clone)]
pub struct NeutralRoutine {
    rate_hz: f64,
    /// Up directions of the current still stretch.
    ups: Vec<Vector3<f64>>,
    up_sum: Vector3<f64>,
}

impl NeutralRoutine {
    /// A routine for samples arriving at `rate_hz`.
    pub fn new(rate_hz: f64) -> Self {
        NeutralRoutine {
            rate_hz: if rate_hz.is_finite() && rate_hz > 0.0 {
                rate_hz
            } else {
                100.0
            },
            ups: Vec::new(),
            up_sum: Vector3::zeros(),
        }
    }

    fn still_s(&self) -> f64 {
        self.ups.len() as f64 / self.rate_hz
    }

    fn restart(&mut self) {
        self.ups.clear();
        self.up_sum = Vector3::zeros();
    }
}

impl Routine for NeutralRoutine {
    fn push(&mut self, input: RoutineInput<'_>) {
        let RoutineInput::Imu(imu) = input else {
            return;
        };
        if self.still_s() >= NEUTRAL_CAPTURE_S {
            return;
        }
        let still = imu.gyr_rad_s.norm().to_degrees() < STILL_GYR_DEG_S
            && (imu.acc_m_s2.norm() - G_M_S2).abs() < STILL_ACC_M_S2;
        let Some(up) = imu.acc_m_s2.try_normalize(1e-6).filter(|_| still) else {
            self.restart();
            return;
        };
        // Still settling into the posture: start again from here.
        if let Some(mean) = self.up_sum.try_normalize(1e-9) {
            if mean.angle(&up).to_degrees() > NEUTRAL_CAPTURE_STEADY_DEG {
                self.restart();
            }
        }
        self.ups.push(up);
        self.up_sum += up;
    }

    fn progress(&self) -> RoutineProgress {
        let done = self.still_s() >= NEUTRAL_CAPTURE_S;
        RoutineProgress {
            instruction: if done {
                "Done: your neutral posture is captured; relax.".into()
            } else {
                "Stand tall in your comfortable neutral posture (the one your clinician showed \
                 you), arms by your sides, and keep still."
                    .into()
            },
            step: 1,
            steps: 1,
            step_fraction: (self.still_s() / NEUTRAL_CAPTURE_S).clamp(0.0, 1.0),
            done,
        }
    }

    fn finish(&self) -> Result<Profile, CalibrationError> {
        let need = (NEUTRAL_CAPTURE_S * self.rate_hz).round() as usize;
        if self.ups.len() < need {
            return Err(CalibrationError::TooFewSamples {
                got: self.ups.len(),
                need,
            });
        }
        let up = self
            .up_sum
            .try_normalize(1e-9)
            .ok_or(CalibrationError::NoFit)?;
        let sway_rms_deg = (self
            .ups
            .iter()
            .map(|u| up.angle(u).to_degrees().powi(2))
            .sum::<f64>()
            / self.ups.len() as f64)
            .sqrt();
        Ok(Profile::Neutral(NeutralPosture {
            up_in_body: up,
            from_vertical_deg: up.angle(&Vector3::z()).to_degrees(),
            sway_rms_deg,
            samples: self.ups.len(),
            // The app knows the mounting the samples came through.
            mount_created_utc: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ImuSi;

    fn standing(up: Vector3<f64>, gyr: f64) -> ImuSi {
        ImuSi {
            acc_m_s2: up.normalize() * G_M_S2,
            gyr_rad_s: Vector3::new(gyr, 0.0, 0.0),
            mag_ut: None,
        }
    }

    #[test]
    fn the_neutral_is_the_mean_up_of_a_still_stretch() {
        let mut routine = NeutralRoutine::new(100.0);
        // Moving (turning at 20°/s) never counts; settling 5° away restarts the stretch.
        for _ in 0..300 {
            routine.push(RoutineInput::Imu(&standing(Vector3::z(), 0.35)));
        }
        assert_eq!(routine.progress().step_fraction, 0.0);
        for _ in 0..200 {
            routine.push(RoutineInput::Imu(&standing(
                Vector3::new(0.09, 0.0, 1.0),
                0.0,
            )));
        }
        let leaning = Vector3::new(0.0, 0.14, 1.0).normalize();
        for k in 0..499 {
            // A sway of ±0.3°.
            let sway = 0.005 * (k as f64 * 0.1).sin();
            routine.push(RoutineInput::Imu(&standing(
                leaning + Vector3::x() * sway,
                0.0,
            )));
        }
        assert!(!routine.progress().done);
        assert!(routine.finish().is_err(), "4.99 s is not enough");
        routine.push(RoutineInput::Imu(&standing(leaning, 0.0)));
        assert!(routine.progress().done);
        let Profile::Neutral(neutral) = routine.finish().unwrap() else {
            panic!("not a neutral");
        };
        assert!(neutral.up_in_body.angle(&leaning).to_degrees() < 0.05);
        let expected_deg = 0.14f64.atan().to_degrees();
        assert!((neutral.from_vertical_deg - expected_deg).abs() < 0.05);
        assert!(neutral.sway_rms_deg > 0.05 && neutral.sway_rms_deg < 0.3);
    }
}
