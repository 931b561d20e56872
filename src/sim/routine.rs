//! A person calibrating the wearable by hand: the IMU routine that
//! `proprio::calibrate::ImuRoutine` follows.
//!
//! The script (the ground truth, the same for every seed; only the sensor differs):
//! 1. the sensor lies flat and still, z up, for [`STILL_S`];
//! 2. it is turned onto each of its six faces and then four oblique poses (45° and 135° about
//!    the two horizontal diagonals), each turn taking [`TURN_S`] and each pose held still for
//!    [`HOLD_S`]: ten poses, enough for the accelerometer's cross-axis terms;
//! 3. it is turned slowly through [`TUMBLE_ORIENTATIONS`] orientations whose "up" directions
//!    spread evenly over the sphere ([`TUMBLE_TURN_S`] each, without stopping), for the
//!    magnetometer;
//! 4. it lies still again in its last orientation.
//!
//! The hand turns the sensor about its own centre, so the specific force is gravity alone
//! apart from the turns' small centripetal terms; signals are exact kinematics, as for the
//! walker.

use nalgebra::{Rotation3, Unit, Vector3};

use super::walker::{kinematic_signals, Pose, ScriptClock};

/// The first still period, s.
pub const STILL_S: f64 = 6.0;
/// A turn from one pose to the next, s.
pub const TURN_S: f64 = 2.0;
/// A pose held still, s.
pub const HOLD_S: f64 = 3.0;
/// Orientations of the magnetometer's tumble.
pub const TUMBLE_ORIENTATIONS: usize = 14;
/// A turn of the tumble, s.
pub const TUMBLE_TURN_S: f64 = 1.5;
/// Height of the sensor above the table, m (it turns about its own centre).
const HEIGHT_M: f64 = 0.8;

/// The accelerometer poses, `world_from_imu`: six faces up, then four oblique.
pub fn poses() -> Vec<Rotation3<f64>> {
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    let about = |axis: Vector3<f64>, angle: f64| {
        Rotation3::from_axis_angle(&Unit::new_normalize(axis), angle)
    };
    let (x, y) = (Vector3::x(), Vector3::y());
    vec![
        Rotation3::identity(),         // +z up
        about(x, FRAC_PI_2),           // +y up
        about(x, PI),                  // −z up
        about(x, -FRAC_PI_2),          // −y up
        about(y, -FRAC_PI_2),          // +x up
        about(y, FRAC_PI_2),           // −x up
        about(x + y, FRAC_PI_4),       // oblique
        about(x - y, FRAC_PI_4),       //
        about(x + y, 3.0 * FRAC_PI_4), //
        about(x - y, 3.0 * FRAC_PI_4), //
    ]
}

/// The tumble's orientations: the sensor's "up" (z) pointed along a golden-angle spiral over
/// the sphere, each also turned about that direction, so the field sweeps every way.
fn tumble() -> Vec<Rotation3<f64>> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..TUMBLE_ORIENTATIONS)
        .map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / TUMBLE_ORIENTATIONS as f64;
            let azimuth = golden * k as f64;
            let tip = Rotation3::from_axis_angle(&Vector3::x_axis(), z.acos());
            // Also turned about its own z, so its x and y point every way too.
            let spin = Rotation3::from_axis_angle(&Vector3::z_axis(), 2.0 * azimuth);
            Rotation3::from_axis_angle(&Vector3::z_axis(), azimuth) * tip * spin
        })
        .collect()
}

/// One leg of the script: from the previous orientation to `to`, turning over `turn_s`, then
/// holding for `hold_s`.
#[derive(Debug, Clone, Copy)]
struct Leg {
    to: Rotation3<f64>,
    turn_s: f64,
    hold_s: f64,
}

/// The routine's world.
#[derive(Debug, Clone)]
pub struct RoutineWorld {
    legs: Vec<Leg>,
    clock: ScriptClock,
}

impl Default for RoutineWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl RoutineWorld {
    /// The routine described in the module docs.
    pub fn new() -> Self {
        let mut legs = vec![Leg {
            to: Rotation3::identity(),
            turn_s: 0.0,
            hold_s: STILL_S,
        }];
        legs.extend(poses().into_iter().skip(1).map(|to| Leg {
            to,
            turn_s: TURN_S,
            hold_s: HOLD_S,
        }));
        legs.extend(tumble().into_iter().map(|to| Leg {
            to,
            turn_s: TUMBLE_TURN_S,
            hold_s: 0.0,
        }));
        if let Some(last) = legs.last_mut() {
            last.hold_s = f64::INFINITY;
        }
        RoutineWorld {
            legs,
            clock: ScriptClock::default(),
        }
    }

    /// Its script's clock: started when the wearable streams, stepped with the physics.
    pub(super) fn clock_mut(&mut self) -> &mut ScriptClock {
        &mut self.clock
    }

    fn script_t_s(&self) -> f64 {
        self.clock.script_t_s().unwrap_or(0.0)
    }

    /// The sensor's orientation at `t` s into the script.
    fn orientation(&self, t: f64) -> Rotation3<f64> {
        let mut from = Rotation3::identity();
        let mut start = 0.0;
        for leg in &self.legs {
            let end_of_turn = start + leg.turn_s;
            if t < end_of_turn {
                let u = ((t - start) / leg.turn_s).clamp(0.0, 1.0);
                // Minimum jerk: at rest at both ends of the turn.
                let s = u * u * u * (10.0 - 15.0 * u + 6.0 * u * u);
                let step = from.inverse() * leg.to;
                return from * Rotation3::new(step.scaled_axis() * s);
            }
            if t < end_of_turn + leg.hold_s {
                return leg.to;
            }
            from = leg.to;
            start = end_of_turn + leg.hold_s;
        }
        from
    }

    fn pose(&self, t: f64) -> Pose {
        Pose {
            position_m: Vector3::new(0.0, 0.0, HEIGHT_M),
            world_from_imu: self.orientation(t),
        }
    }

    /// Specific force (m/s²) and angular rate (rad/s) in the sensor frame now.
    pub fn signals(&self) -> (Vector3<f64>, Vector3<f64>) {
        kinematic_signals(|t| self.pose(t), self.script_t_s())
    }

    /// The sensor's `world_from_imu` now.
    pub fn world_from_imu(&self) -> Rotation3<f64> {
        self.orientation(self.script_t_s())
    }

    /// How long the scripted part lasts (the sensor lies still after it), s.
    pub fn duration_s() -> f64 {
        STILL_S
            + (poses().len() - 1) as f64 * (TURN_S + HOLD_S)
            + TUMBLE_ORIENTATIONS as f64 * TUMBLE_TURN_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::G_M_S2;

    #[test]
    fn holds_read_gravity_along_each_face_and_turns_are_smooth() {
        let mut world = RoutineWorld::new();
        world.clock_mut().start();
        let poses = poses();
        for (i, pose) in poses.iter().enumerate() {
            // The middle of the i-th hold.
            let t = if i == 0 {
                STILL_S / 2.0
            } else {
                STILL_S + i as f64 * (TURN_S + HOLD_S) - HOLD_S / 2.0
            };
            let (force, rate) = kinematic_signals(|t| world.pose(t), t);
            let expected = pose.inverse() * Vector3::new(0.0, 0.0, G_M_S2);
            assert!((force - expected).norm() < 1e-6, "pose {i}: {force:?}");
            assert!(rate.norm() < 1e-9, "pose {i} still");
        }
        // Mid-turn, the sensor turns; the turn's rate integrates to the pose change.
        let (_, rate) = kinematic_signals(|t| world.pose(t), STILL_S + TURN_S / 2.0);
        assert!(rate.norm() > 0.5, "{rate:?}");
    }
}
