//! A person doing the mounting routine that `proprio::calibrate::MountRoutine` follows, with
//! the wearable on the lower back ([`SimDevice::MountWearable`](super::SimDevice)) or strapped
//! to a rocker board ([`SimDevice::MountBoard`](super::SimDevice)). The sensor sits on the
//! body (or board) straight unless [`SimConfig::strap`] says otherwise: the rotation the
//! routine has to find.
//!
//! **On the back**: the person stands upright for [`UPRIGHT_S`], bends forward from the hips
//! over [`BEND_S`] (minimum jerk) to a bend drawn from the seed (30–40°), holds it for
//! [`BENT_S`], comes back up over [`BEND_S`] and stands. The slow sway of standing (the
//! walker's, [`Sway`]) runs throughout, so neither pose is exactly still: it sets how well the
//! routine can do. The sensor sits [`SENSOR_ABOVE_HIPS_M`] above the hips and moves with the
//! trunk.
//!
//! **On a board**: a hand holds the board level (a slow wobble of up to [`HAND_SWAY_DEG`] per
//! part about the fulcrum) for [`UPRIGHT_S`], tips it onto its right edge (the stop,
//! [`BoardGeometry::limit_deg`](super::BoardGeometry)) over [`TIP_S`], where it rests still for
//! [`BENT_S`], then brings it back level. The sensor sits
//! [`BoardGeometry::imu_height_m`](super::BoardGeometry) above the fulcrum.
//!
//! Signals are exact kinematics ([`kinematic_signals`]), as for the walker.

use nalgebra::{Rotation3, Vector3};

use super::posture::{HIPS_M, SENSOR_ABOVE_HIPS_M};
use super::rng::SimRng;
use super::shift::min_jerk;
use super::walker::{kinematic_signals, Pose, ScriptClock, Sway};
use super::SimConfig;

/// The first pose (upright, or the board level) lasts this long, s.
pub const UPRIGHT_S: f64 = 5.0;
/// Bending forward (and back up) takes this long, s.
pub const BEND_S: f64 = 2.0;
/// Tipping the board (and back) takes this long, s.
pub const TIP_S: f64 = 1.0;
/// The second pose (bent, or the board on its edge) is held this long, s.
pub const BENT_S: f64 = 5.0;
/// Each part of the hand's slow wobble holding a board level, up to, degrees.
pub const HAND_SWAY_DEG: f64 = 0.1;

/// Which routine the person does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Script {
    /// Bend forward by this much, radians.
    Back { bend_rad: f64 },
    /// Tip the board onto its stop at this angle, radians; the sensor this high above the
    /// fulcrum, m.
    Board { stop_rad: f64, imu_height_m: f64 },
}

/// The mounting routine's world (see the module docs).
#[derive(Debug, Clone)]
pub struct MountWorld {
    script: Script,
    sway: Sway,
    clock: ScriptClock,
}

impl MountWorld {
    /// The person with the wearable on the lower back, drawn from `config`'s seed.
    pub fn back(config: &SimConfig) -> Self {
        let mut rng = SimRng::new(config.seed, super::stream::PERSON);
        let bend_deg = rng.range(30.0, 40.0);
        MountWorld {
            script: Script::Back {
                bend_rad: bend_deg.to_radians(),
            },
            sway: Sway::draw(config.skill, &mut rng),
            clock: ScriptClock::default(),
        }
    }

    /// The person tipping `config`'s board.
    pub fn board(config: &SimConfig) -> Self {
        let mut rng = SimRng::new(config.seed, super::stream::PERSON);
        MountWorld {
            script: Script::Board {
                stop_rad: config.board.limit_deg.to_radians(),
                imu_height_m: config.board.imu_height_m,
            },
            sway: Sway::draw_in(HAND_SWAY_DEG, [0.2, 1.0], &mut rng),
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

    /// How far along the way to the second pose and back the script is at `t`: 0 in the first
    /// pose, 1 in the second.
    fn progress(&self, t: f64) -> f64 {
        let turn_s = match self.script {
            Script::Back { .. } => BEND_S,
            Script::Board { .. } => TIP_S,
        };
        let back_from_s = UPRIGHT_S + turn_s + BENT_S;
        min_jerk((t - UPRIGHT_S) / turn_s) - min_jerk((t - back_from_s) / turn_s)
    }

    /// The body's (or board's) `world_from_body` at `t`.
    fn world_from_body(&self, t: f64) -> Rotation3<f64> {
        let s = self.progress(t);
        match self.script {
            // Flexion turns the trunk about its left axis (+y); the sway rolls and pitches it.
            Script::Back { bend_rad } => Rotation3::from_euler_angles(
                self.sway.at(0, t),
                s * bend_rad + self.sway.at(1, t),
                0.0,
            ),
            // Right edge down is a turn about +x; on its edge the board rests, still.
            Script::Board { stop_rad, .. } => Rotation3::from_axis_angle(
                &Vector3::x_axis(),
                s * stop_rad + (1.0 - s) * self.sway.at(0, t),
            ),
        }
    }

    fn pose(&self, t: f64) -> Pose {
        let world_from_body = self.world_from_body(t);
        let position_m = match self.script {
            Script::Back { .. } => {
                Vector3::new(0.0, 0.0, HIPS_M)
                    + world_from_body * Vector3::new(0.0, 0.0, SENSOR_ABOVE_HIPS_M)
            }
            Script::Board { imu_height_m, .. } => {
                world_from_body * Vector3::new(0.0, 0.0, imu_height_m)
            }
        };
        Pose {
            position_m,
            world_from_imu: world_from_body,
        }
    }

    /// Specific force (m/s²) and angular rate (rad/s) in the body's (board's) axes now, for
    /// a sensor sitting on it straight.
    pub fn signals(&self) -> (Vector3<f64>, Vector3<f64>) {
        kinematic_signals(|t| self.pose(t), self.script_t_s())
    }

    /// The body's (board's) `world_from_body` now: the sensor's `world_from_imu` when it sits
    /// straight.
    pub fn world_from_imu(&self) -> Rotation3<f64> {
        self.world_from_body(self.script_t_s())
    }

    /// The trunk's flexion (the board's tilt, right edge down) now, sway included, degrees.
    pub fn bend_deg(&self) -> f64 {
        let up = self.world_from_imu().inverse() * Vector3::z();
        match self.script {
            Script::Back { .. } => (-up.x).atan2(up.z).to_degrees(),
            Script::Board { .. } => up.y.atan2(up.z).to_degrees(),
        }
    }

    /// The scripted bend (the board's stop), degrees.
    pub fn target_bend_deg(&self) -> f64 {
        match self.script {
            Script::Back { bend_rad } => bend_rad.to_degrees(),
            Script::Board { stop_rad, .. } => stop_rad.to_degrees(),
        }
    }

    /// How long the scripted part lasts (the person then stands, the board lies level), s.
    pub fn duration_s(&self) -> f64 {
        let turn_s = match self.script {
            Script::Back { .. } => BEND_S,
            Script::Board { .. } => TIP_S,
        };
        UPRIGHT_S + 2.0 * turn_s + BENT_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::G_M_S2;

    #[test]
    fn the_holds_read_gravity_at_the_scripted_bend() {
        let config = SimConfig::new(3);
        for world in [MountWorld::back(&config), MountWorld::board(&config)] {
            let mut world = world;
            world.clock_mut().start();
            let at = |world: &MountWorld, t: f64| kinematic_signals(|t| world.pose(t), t);
            // Upright: gravity along z within the sway (under 1.5° for any skill).
            let (force, _) = at(&world, UPRIGHT_S / 2.0);
            assert!(force.angle(&Vector3::z()).to_degrees() < 1.5, "{force:?}");
            // Mid-hold: gravity turned by the bend, about the body's y (the board's x).
            let t = UPRIGHT_S + BEND_S + BENT_S / 2.0;
            let (force, rate) = at(&world, t);
            let bend_deg = force.angle(&Vector3::z()).to_degrees();
            assert!(
                (bend_deg - world.target_bend_deg()).abs() < 1.5,
                "{bend_deg} vs {}",
                world.target_bend_deg()
            );
            assert!((force.norm() - G_M_S2).abs() < 0.05, "{force:?}");
            assert!(rate.norm() < 0.05, "{rate:?}");
            // Back upright at the end.
            let (force, _) = at(&world, world.duration_s() + 1.0);
            assert!(force.angle(&Vector3::z()).to_degrees() < 1.5, "{force:?}");
        }
    }
}
