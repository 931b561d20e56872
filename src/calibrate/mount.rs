//! [`MountRoutine`], the mounting routine: how the sensor sits on the body or on a board, from
//! two still poses ([`proprio_calibration::mount`]). It is fed IMU samples with the device's
//! IMU calibration applied, in sensor axes ([`ProfileKind::builds_on`](super::ProfileKind)).
//!
//! **On the back** ([`Placement::Back`], the `mount` profile):
//! 1. **Stand upright** and still ([`MOUNT_STILL_S`] of unbroken stillness): the accelerometer's
//!    mean is the body's up.
//! 2. **Bend forward** from the hips and hold still ([`MOUNT_HOLD_S`]): a hold counts when it is
//!    at least [`MIN_BEND_DEG`] (and at most [`MAX_BEND_DEG`]) from the first pose; the part of
//!    gravity that moved tells forward. A hold short of it (or past it) is not taken, and the
//!    instruction says so.
//!
//! **On a board** ([`Placement::Board`], the `mount-board` profile): the board held level and
//! still, then tipped onto its right edge (a rocker's stop) and held there; a hold counts from
//! [`MIN_TIP_DEG`] (a rocker tips only to its stop, often 15°, and rests on it steadily, so less
//! than a person's bend is enough) to [`MAX_TIP_DEG`]. The side that went down is the board's
//! right (−y), so the result is `board_from_imu` in the board's axes (x along the fulcrum,
//! y left, z up): those of [`BoardTilt`](crate::pipeline::BoardTilt), where a sensor strapped on
//! straight gives the identity.
//!
//! Stillness is a standing person's ([`PERSON_STILL`]): the slow sway of standing (a few tenths
//! of a degree at 0.1–0.6 Hz) is still, a bend is not. Which way the user bends (or tips) cannot
//! be seen in the data: a sideways bend would be taken for forward, so the instruction names
//! the direction.

use nalgebra::{UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use proprio_calibration::mount::{self, Mounting, MAX_BEND_DEG, MIN_BEND_DEG};
use proprio_calibration::still::{self, StillnessDetector, StillnessLimits};
use proprio_calibration::CalibrationError;

use super::{Profile, Routine, RoutineInput, RoutineProgress};
use crate::pipeline::{ImuSi, Placement};

/// Unbroken stillness that makes the first pose (upright, or the board level), s.
pub const MOUNT_STILL_S: f64 = 3.0;
/// Stillness that makes the second pose (bent forward, or the board tipped), s.
pub const MOUNT_HOLD_S: f64 = 2.0;
/// Least tip of a board from level, degrees.
pub const MIN_TIP_DEG: f64 = 8.0;
/// Largest tip of a board from level, degrees (no board tips further; more is not a tip).
pub const MAX_TIP_DEG: f64 = 45.0;
/// A still hold this far from the first pose, short of the least bend, is an attempt to bend
/// (the user is told to go further); nearer, the user has not started, degrees.
const TRIED_DEG: f64 = 5.0;
/// The stillness detector's window, s.
const STILL_WINDOW_S: f64 = 0.5;

/// Stillness of a person standing or holding a board: the slow sway of standing turns the
/// trunk at up to about 0.02 rad/s (standard deviation), a bend at 0.3 rad/s or more.
pub const PERSON_STILL: StillnessLimits = StillnessLimits {
    max_gyr_std_rad_s: 0.05,
    max_acc_std_m_s2: 0.2,
    min_samples: 2,
};

/// Where a mounting routine stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum MountStep {
    /// Stand upright (or hold the board level) and keep still.
    Upright {
        /// Unbroken stillness so far, s.
        still_s: f64,
        /// Stillness needed, s.
        need_s: f64,
    },
    /// Bend forward (or tip the board onto its right edge) and hold still.
    Bend {
        /// The current still hold's angle from the first pose, degrees (while moving, that of
        /// the last hold of [`MOUNT_HOLD_S`]).
        held_deg: Option<f64>,
        /// Stillness of the current hold so far, s (0 while moving).
        still_s: f64,
    },
    /// The data is complete: call [`Routine::finish`].
    Done,
}

/// The mounting routine's result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MountRoutineResult {
    /// The rotation from sensor axes to the body's (`body_from_imu`; for a board, to the
    /// board's: `board_from_imu`) and the angle between the poses (the quality: the larger, the
    /// better forward is known).
    pub mounting: Mounting,
    /// The mean accelerometer reading of the first pose, sensor axes, m/s².
    pub upright_m_s2: Vector3<f64>,
    /// The mean accelerometer reading of the second pose, sensor axes, m/s².
    pub bent_m_s2: Vector3<f64>,
}

impl MountRoutineResult {
    /// What the routine found, for people (see [`super::Profile::summary`]).
    pub fn summary(&self) -> Vec<String> {
        let (roll, pitch, yaw) = self.mounting.body_from_imu.euler_angles();
        vec![format!(
            "the sensor sits {:.1}° from straight (turned {:+.1}° about up, tilted {:+.1}° / \
             {:+.1}°); the two poses were {:.1}° apart",
            self.mounting.body_from_imu.angle().to_degrees(),
            yaw.to_degrees(),
            roll.to_degrees(),
            pitch.to_degrees(),
            self.mounting.bend_deg
        )]
    }
}

/// The mounting routine (see the module docs).
#[derive(Debug, Clone)]
pub struct MountRoutine {
    placement: Placement,
    rate_hz: f64,
    detector: StillnessDetector,
    /// The current unbroken still stretch's accelerometer readings: sum, count.
    stretch_sum_m_s2: Vector3<f64>,
    stretch_samples: usize,
    upright_m_s2: Option<Vector3<f64>>,
    bent_m_s2: Option<Vector3<f64>>,
    /// The angle from the first pose of the latest hold of [`MOUNT_HOLD_S`], degrees.
    held_deg: Option<f64>,
}

impl MountRoutine {
    /// A routine for the sensor at `placement`, samples arriving at `rate_hz` (the device's
    /// `DeviceInfo::sample_rate_hz`).
    pub fn new(placement: Placement, rate_hz: f64) -> Self {
        let rate_hz = if rate_hz.is_finite() && rate_hz > 0.0 {
            rate_hz
        } else {
            100.0
        };
        let window = (STILL_WINDOW_S * rate_hz).round() as usize;
        MountRoutine {
            placement,
            rate_hz,
            detector: StillnessDetector::new(PERSON_STILL, window),
            stretch_sum_m_s2: Vector3::zeros(),
            stretch_samples: 0,
            upright_m_s2: None,
            bent_m_s2: None,
            held_deg: None,
        }
    }

    /// The angles the second pose must lie between, degrees.
    fn bend_range_deg(&self) -> (f64, f64) {
        match self.placement {
            Placement::Back => (MIN_BEND_DEG, MAX_BEND_DEG),
            Placement::Board => (MIN_TIP_DEG, MAX_TIP_DEG),
        }
    }

    fn still_s(&self) -> f64 {
        self.stretch_samples as f64 / self.rate_hz
    }

    fn stretch_mean_m_s2(&self) -> Vector3<f64> {
        self.stretch_sum_m_s2 / self.stretch_samples.max(1) as f64
    }

    /// Where the routine stands.
    pub fn step(&self) -> MountStep {
        if self.upright_m_s2.is_none() {
            MountStep::Upright {
                still_s: self.still_s(),
                need_s: MOUNT_STILL_S,
            }
        } else if let (None, Some(upright)) = (self.bent_m_s2, self.upright_m_s2) {
            let holding = self.stretch_samples > 0;
            MountStep::Bend {
                held_deg: if holding {
                    Some(upright.angle(&self.stretch_mean_m_s2()).to_degrees())
                } else {
                    self.held_deg
                },
                still_s: self.still_s(),
            }
        } else {
            MountStep::Done
        }
    }

    /// Takes one sample (IMU-calibrated, sensor axes) and returns the step after it.
    pub fn push(&mut self, imu: &ImuSi) -> MountStep {
        if self.step() == MountStep::Done {
            return MountStep::Done;
        }
        if self.detector.push(imu.gyr_rad_s, imu.acc_m_s2) {
            if self.stretch_samples == 0 {
                // The window that proved stillness belongs to the stretch.
                let (_, acc) = self.detector.window();
                self.stretch_sum_m_s2 = acc.iter().sum();
                self.stretch_samples = acc.len();
            } else {
                self.stretch_sum_m_s2 += imu.acc_m_s2;
                self.stretch_samples += 1;
            }
        } else {
            self.stretch_sum_m_s2 = Vector3::zeros();
            self.stretch_samples = 0;
        }
        let still_s = self.still_s();
        match self.upright_m_s2 {
            None if still_s >= MOUNT_STILL_S => self.upright_m_s2 = Some(self.stretch_mean_m_s2()),
            Some(upright) if still_s >= MOUNT_HOLD_S => {
                let pose = self.stretch_mean_m_s2();
                let held_deg = upright.angle(&pose).to_degrees();
                self.held_deg = Some(held_deg);
                let (min_deg, max_deg) = self.bend_range_deg();
                if (min_deg..=max_deg).contains(&held_deg) {
                    self.bent_m_s2 = Some(pose);
                }
            }
            _ => {}
        }
        self.step()
    }

    /// What the user should do now, in one sentence.
    pub fn instruction(&self) -> String {
        let back = self.placement == Placement::Back;
        let (min_deg, max_deg) = self.bend_range_deg();
        match self.step() {
            MountStep::Upright { .. } if back => {
                "Stand upright, looking straight ahead, and keep still.".into()
            }
            MountStep::Upright { .. } => {
                "Hold the board level, its edges off the floor, and keep it still.".into()
            }
            MountStep::Bend {
                held_deg: Some(d), ..
            } if (TRIED_DEG..min_deg).contains(&d) => {
                if back {
                    format!(
                        "That is only {d:.0}°: bend further forward from the hips, to about \
                         30–40°, and hold still there."
                    )
                } else {
                    format!(
                        "That is only {d:.0}°: tip the board further, until its right edge \
                         touches the floor, and hold it there."
                    )
                }
            }
            MountStep::Bend {
                held_deg: Some(d), ..
            } if d > max_deg => {
                if back {
                    format!(
                        "That is {d:.0}°, too far: come up to about 30–40° forward and hold \
                         still there."
                    )
                } else {
                    format!(
                        "That is {d:.0}°, more than a board tips: put the board level, then \
                         tip it onto its right edge."
                    )
                }
            }
            MountStep::Bend { .. } if back => {
                "Now bend forward from the hips, to about 30–40°, and hold still there.".into()
            }
            MountStep::Bend { .. } => {
                "Now tip the board to the right until its right edge touches the floor, and \
                 hold it there."
                    .into()
            }
            MountStep::Done if back => "Done: you can stand up straight again.".into(),
            MountStep::Done => "Done: you can let go of the board.".into(),
        }
    }

    /// Why the data has no still pose: the motion in the stillness window, by name, or too
    /// short a still stretch (`need_s`).
    fn not_still(&self, need_s: f64) -> CalibrationError {
        let (gyr, acc) = self.detector.window();
        let limits = StillnessLimits {
            min_samples: 2,
            ..PERSON_STILL
        };
        match still::gyro_bias(&gyr, &acc, &limits) {
            Err(moving @ CalibrationError::Moving { .. }) if self.stretch_samples == 0 => moving,
            _ => CalibrationError::TooFewSamples {
                got: self.stretch_samples,
                need: (need_s * self.rate_hz).round() as usize,
            },
        }
    }

    /// The mounting the data supports; an error names what is missing.
    pub fn finish(&self) -> Result<MountRoutineResult, CalibrationError> {
        let Some(upright_m_s2) = self.upright_m_s2 else {
            return Err(self.not_still(MOUNT_STILL_S));
        };
        let (min_deg, max_deg) = self.bend_range_deg();
        let Some(bent_m_s2) = self.bent_m_s2 else {
            return Err(match self.held_deg {
                Some(bend_deg) => CalibrationError::Bend {
                    bend_deg,
                    min_deg,
                    max_deg,
                },
                None => self.not_still(MOUNT_HOLD_S),
            });
        };
        let mounting =
            mount::mounting_from_poses_between(&upright_m_s2, &bent_m_s2, min_deg, max_deg)?;
        let mounting = match self.placement {
            Placement::Back => mounting,
            // The math calls the side that went down "forward": on a board that is its right
            // (−y), so the board's axes are those turned −90° about up.
            Placement::Board => Mounting {
                body_from_imu: UnitQuaternion::from_axis_angle(
                    &Vector3::z_axis(),
                    -std::f64::consts::FRAC_PI_2,
                ) * mounting.body_from_imu,
                ..mounting
            },
        };
        Ok(MountRoutineResult {
            mounting,
            upright_m_s2,
            bent_m_s2,
        })
    }
}

impl Routine for MountRoutine {
    fn push(&mut self, input: RoutineInput<'_>) {
        if let RoutineInput::Imu(imu) = input {
            MountRoutine::push(self, imu);
        }
    }

    fn progress(&self) -> RoutineProgress {
        let (min_deg, max_deg) = self.bend_range_deg();
        let (step, step_fraction) = match self.step() {
            MountStep::Upright { still_s, need_s } => (1, still_s / need_s),
            // The hold counts only at a usable angle.
            MountStep::Bend { held_deg, still_s } => (
                2,
                match held_deg {
                    Some(d) if !(min_deg..=max_deg).contains(&d) => 0.0,
                    _ => still_s / MOUNT_HOLD_S,
                },
            ),
            MountStep::Done => (2, 1.0),
        };
        RoutineProgress {
            instruction: self.instruction(),
            step,
            steps: 2,
            step_fraction: step_fraction.clamp(0.0, 1.0),
            done: self.step() == MountStep::Done,
        }
    }

    fn finish(&self) -> Result<Profile, CalibrationError> {
        let result = MountRoutine::finish(self)?;
        Ok(match self.placement {
            Placement::Back => Profile::Mount(result),
            Placement::Board => Profile::MountBoard(result),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::ProfileKind;
    use crate::sim::SimRng;
    use crate::G_M_S2;
    use nalgebra::Rotation3;

    /// Accelerometer and gyroscope noise of the synthetic sensor (the simulator's defaults,
    /// rounded up), m/s² and rad/s.
    const ACC_NOISE_M_S2: f64 = 0.015;
    const GYR_NOISE_RAD_S: f64 = 0.003;

    /// Feeds a body (board) that turns about `axis` (body axes) through `legs` of (angle from
    /// the first pose in degrees, seconds to get there from the previous angle, seconds held),
    /// seen by a sensor strapped on as `body_from_imu`, at 100 Hz with white noise.
    fn feed(
        routine: &mut MountRoutine,
        body_from_imu: &UnitQuaternion<f64>,
        axis: Vector3<f64>,
        legs: &[(f64, f64, f64)],
        seed: u64,
    ) {
        let mut rng = SimRng::new(seed, 0);
        let mut noise = |sigma: f64| Vector3::from_fn(|_, _| rng.normal() * sigma);
        let imu_from_body = body_from_imu.inverse();
        let dt = 0.01;
        let mut angle_deg = 0.0;
        for &(to_deg, turn_s, hold_s) in legs {
            let turn_samples = (turn_s / dt).round() as usize;
            let rate_deg_s = if turn_samples > 0 {
                (to_deg - angle_deg) / turn_s
            } else {
                0.0
            };
            let samples = turn_samples + (hold_s / dt).round() as usize;
            for k in 0..samples {
                let rate = if k < turn_samples { rate_deg_s } else { 0.0 };
                angle_deg += rate * dt;
                let world_from_body = Rotation3::new(axis * angle_deg.to_radians());
                let acc_body = world_from_body.inverse() * Vector3::z() * G_M_S2;
                let gyr_body = axis * rate.to_radians();
                routine.push(&ImuSi {
                    acc_m_s2: imu_from_body * acc_body + noise(ACC_NOISE_M_S2),
                    gyr_rad_s: imu_from_body * gyr_body + noise(GYR_NOISE_RAD_S),
                    mag_ut: None,
                });
            }
            angle_deg = to_deg;
        }
    }

    fn strapped(roll_deg: f64, pitch_deg: f64, yaw_deg: f64) -> UnitQuaternion<f64> {
        UnitQuaternion::from_euler_angles(
            roll_deg.to_radians(),
            pitch_deg.to_radians(),
            yaw_deg.to_radians(),
        )
    }

    #[test]
    fn a_crooked_sensor_is_found_on_the_back_and_on_a_board() {
        // Each pose's mean over 200+ samples of 0.015 m/s² noise is known to 0.001 m/s², a
        // direction to 0.0001 rad (0.006°); forward, from a 35° (12°) turn, to 0.006°/sin 35°
        // (sin 12°) = 0.01° (0.03°). 0.1° leaves room for the turns' edges in the holds.
        for (k, body_from_imu) in [
            UnitQuaternion::identity(),
            strapped(0.0, 0.0, 180.0),
            strapped(12.0, -8.0, 95.0),
            strapped(-15.0, 10.0, -140.0),
        ]
        .into_iter()
        .enumerate()
        {
            let mut back = MountRoutine::new(Placement::Back, 100.0);
            // Flexion turns the trunk about its left axis (+y).
            let legs = [(0.0, 0.0, 4.0), (35.0, 1.5, 3.0)];
            feed(&mut back, &body_from_imu, Vector3::y(), &legs, k as u64);
            assert_eq!(back.step(), MountStep::Done, "back {k}");
            let result = back.finish().unwrap();
            let error_deg = result
                .mounting
                .body_from_imu
                .angle_to(&body_from_imu)
                .to_degrees();
            assert!(error_deg < 0.1, "back {k}: {error_deg}°");
            assert!((result.mounting.bend_deg - 35.0).abs() < 0.1);

            let mut board = MountRoutine::new(Placement::Board, 100.0);
            // The right edge goes down: a turn about the board's +x (its fulcrum).
            let legs = [(0.0, 0.0, 4.0), (12.0, 1.0, 3.0)];
            feed(
                &mut board,
                &body_from_imu,
                Vector3::x(),
                &legs,
                10 + k as u64,
            );
            let result = board.finish().unwrap();
            let error_deg = result
                .mounting
                .body_from_imu
                .angle_to(&body_from_imu)
                .to_degrees();
            assert!(error_deg < 0.1, "board {k}: {error_deg}°");
        }
    }

    #[test]
    fn too_small_a_bend_too_large_a_bend_and_motion_are_named() {
        let q = strapped(5.0, 0.0, 60.0);
        // Standing still throughout: asked to bend, and the error says the bend is missing.
        let mut routine = MountRoutine::new(Placement::Back, 100.0);
        feed(&mut routine, &q, Vector3::y(), &[(0.0, 0.0, 10.0)], 1);
        assert!(matches!(routine.step(), MountStep::Bend { .. }));
        assert!(routine
            .progress()
            .instruction
            .starts_with("Now bend forward"));
        let e = routine.finish().unwrap_err();
        assert!(
            matches!(e, CalibrationError::Bend { bend_deg, .. } if bend_deg < 1.0),
            "{e}"
        );
        assert!(e.to_string().contains("bend forward"), "{e}");
        // A 10° bend: told it is not enough, and refused by name.
        let mut routine = MountRoutine::new(Placement::Back, 100.0);
        feed(
            &mut routine,
            &q,
            Vector3::y(),
            &[(0.0, 0.0, 4.0), (10.0, 1.0, 3.0)],
            2,
        );
        let progress = routine.progress();
        assert!(!progress.done);
        assert!(progress.instruction.contains("only 10°"), "{progress:?}");
        let e = routine.finish().unwrap_err();
        assert!(
            matches!(e, CalibrationError::Bend { bend_deg, .. } if (bend_deg - 10.0).abs() < 0.5),
            "{e}"
        );
        // Bent double (120°): too far.
        let mut routine = MountRoutine::new(Placement::Back, 100.0);
        feed(
            &mut routine,
            &q,
            Vector3::y(),
            &[(0.0, 0.0, 4.0), (120.0, 2.0, 3.0)],
            3,
        );
        assert!(routine.progress().instruction.contains("too far"));
        let e = routine.finish().unwrap_err();
        assert!(e.to_string().starts_with("the second pose is 120°"), "{e}");
        // A board tipped only 4°: still waiting for the tip.
        let mut routine = MountRoutine::new(Placement::Board, 100.0);
        feed(
            &mut routine,
            &q,
            Vector3::x(),
            &[(0.0, 0.0, 4.0), (4.0, 1.0, 3.0)],
            4,
        );
        assert!(routine
            .progress()
            .instruction
            .starts_with("Now tip the board"));
        assert!(matches!(
            routine.finish(),
            Err(CalibrationError::Bend { .. })
        ));
        // Never still: rocking back and forth by ±10° every 2 s names the motion.
        let mut routine = MountRoutine::new(Placement::Back, 100.0);
        let legs: Vec<_> = (0..10)
            .map(|i| (if i % 2 == 0 { 10.0 } else { -10.0 }, 1.0, 0.0))
            .collect();
        feed(&mut routine, &q, Vector3::y(), &legs, 5);
        assert!(matches!(routine.step(), MountStep::Upright { .. }));
        let e = routine.finish().unwrap_err();
        assert!(matches!(e, CalibrationError::Moving { .. }), "{e}");
        assert!(e.to_string().contains("moved"), "{e}");
        // Readings that are not numbers: an error, not a NaN mounting.
        let mut routine = MountRoutine::new(Placement::Back, 100.0);
        for _ in 0..1000 {
            routine.push(&ImuSi {
                acc_m_s2: Vector3::repeat(f64::NAN),
                gyr_rad_s: Vector3::zeros(),
                mag_ut: None,
            });
        }
        assert!(routine.finish().is_err());
    }

    #[test]
    fn the_routine_reports_its_kind_and_progress_and_its_profile_applies() {
        let q = strapped(0.0, 0.0, 90.0);
        for (placement, kind, axis, tip_deg) in [
            (Placement::Back, ProfileKind::Mount, Vector3::y(), 35.0),
            (
                Placement::Board,
                ProfileKind::MountBoard,
                Vector3::x(),
                15.0,
            ),
        ] {
            let mut routine: Box<dyn Routine> = Box::new(MountRoutine::new(placement, 100.0));
            assert_eq!(kind.builds_on(), &[ProfileKind::Imu]);
            let start = routine.progress();
            assert_eq!((start.step, start.steps, start.done), (1, 2, false));
            let mut inner = MountRoutine::new(placement, 100.0);
            feed(
                &mut inner,
                &q,
                axis,
                &[(0.0, 0.0, 4.0), (tip_deg, 1.5, 3.0)],
                7,
            );
            routine = Box::new(inner);
            assert!(routine.progress().done);
            let profile = routine.finish().unwrap();
            assert_eq!(profile.kind(), kind);
            let mut config = crate::pipeline::PipelineConfig::default();
            profile.apply(&mut config);
            let applied = match placement {
                Placement::Back => (config.mounting.back, config.mounting.board),
                Placement::Board => (config.mounting.board, config.mounting.back),
            };
            assert!(applied.0.unwrap().angle_to(&q).to_degrees() < 0.1);
            assert!(
                applied.1.is_none(),
                "one placement's profile leaves the other's alone"
            );
            // A profile survives storage.
            let json = serde_json::to_string(&profile).unwrap();
            assert!(
                json.contains(&format!("\"kind\":\"{}\"", kind.name())),
                "{json}"
            );
            let parsed: Profile = serde_json::from_str(&json).unwrap();
            assert_eq!(parsed.kind(), kind);
            let (Profile::Mount(stored) | Profile::MountBoard(stored)) = parsed else {
                panic!("not a mounting: {json}");
            };
            // JSON keeps the numbers to their last digit or so.
            assert!(stored.mounting.body_from_imu.angle_to(&q).to_degrees() < 0.1);
        }
    }
}
