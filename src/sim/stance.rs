//! A person standing still with the wearable on the lower back (quiet stance on the wearable).
//!
//! The body sways as an inverted pendulum about the ankles: the sensor sits
//! [`LUMBAR_HEIGHT_M`] above the feet and leans with the body, so its motion is the walker's
//! exact kinematics ([`kinematic_signals`]) of two sways ([`Sway`]) per axis, medio-lateral
//! (roll) and antero-posterior (pitch):
//! - the **slow sway** of standing (0.1–0.6 Hz), the walker's and the posture hold's, which
//!   carries the trunk angle;
//! - **quick corrections** (0.8–2 Hz, each part up to 0.01° + 0.03° × (1 − skill)), too small
//!   to move the angle much but the main part of the trunk's acceleration and its jerk.
//!
//! A beginner sways more (both sways grow as skill falls). The level's condition scales them
//! ([`sway_factors`]): feet apart sway less side to side than front to back; feet together
//! double the side-to-side sway; closed eyes and foam add to both, the quick corrections more
//! than the slow sway (they raise the sway's speed more than its size). These are the
//! directions of the balance-board simulator (`sim/board.rs`: closed eyes about 1.5× the mean
//! COP velocity, foam 1.4×) and of healthy adults' ratios (eyes closed 1.2–1.6× the velocity).
//! There are no flexion drifts (that is the neutral-spine hold, `sim/posture.rs`).
//!
//! The sensor's mounting on the back (lordosis and belt) leaves it up to 8° off vertical
//! forward or back, 4° sideways and 3° turned, drawn from the seed. With
//! [`StanceSim::step_at_s`] the person loses their balance then and takes a step forward: the
//! pelvis moves [`STEP_LENGTH_M`] forward in [`STEP_DURATION_S`] (minimum jerk), the trunk
//! leaning [`STEP_LEAN_DEG`] into it and back; then they stand again, where they stepped to.
//!
//! Sensor frame = body frame when upright apart from the mounting: x forward, y left, z up.

use nalgebra::{Rotation3, Vector3};
use serde::{Deserialize, Serialize};

use super::rng::SimRng;
use super::walker::{kinematic_signals, Pose, ScriptClock, Sway, LUMBAR_HEIGHT_M};
use super::SimConfig;
use crate::drill::{Feet, StanceCondition};
use crate::G_M_S2;

/// How far the pelvis moves in a step that catches a loss of balance, m.
pub const STEP_LENGTH_M: f64 = 0.3;
/// How long that step takes, s.
pub const STEP_DURATION_S: f64 = 0.7;
/// How far the trunk leans into that step (and back), degrees.
pub const STEP_LEAN_DEG: f64 = 3.0;

/// The simulated stance's setup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StanceSim {
    /// How the person stands: feet, eyes, surface (the drill's level says).
    pub condition: StanceCondition,
    /// The person loses their balance and steps forward at this time, s after the wearable
    /// started streaming; `None`: they keep their stance.
    #[serde(default)]
    pub step_at_s: Option<f64>,
}

/// The simulator's ground truth of one standing sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StanceTruth {
    /// The trunk's lean `[ML (+ right), AP (+ forward)]`, degrees: the body's roll and pitch,
    /// without the sensor's mounting.
    pub trunk_deg: [f64; 2],
    /// The sensor's horizontal acceleration `[ML (+ right), AP (+ forward)]`, m/s².
    pub acc_m_s2: [f64; 2],
    /// The step that catches a loss of balance is under way.
    pub stepping: bool,
}

/// How much the condition scales the sway, `([ML, AP] slow sway, [ML, AP] quick
/// corrections)`, relative to the front-to-back sway with feet apart, eyes open, on a firm
/// floor (see the module docs).
pub fn sway_factors(condition: StanceCondition) -> ([f64; 2], [f64; 2]) {
    let base = match condition.feet {
        Feet::Apart => [0.7, 1.0],
        Feet::Together => [1.4, 1.05],
        Feet::Tandem => [2.0, 1.1],
        Feet::SingleLeg => [2.2, 1.4],
    };
    let (mut slow, mut quick) = (1.0, 1.0);
    if condition.eyes_closed {
        slow *= 1.2;
        quick *= 1.4;
    }
    if condition.foam {
        slow *= 1.4;
        quick *= 1.5;
    }
    (base.map(|b| b * slow), base.map(|b| b * quick))
}

/// The standing person (see the module docs).
#[derive(Debug, Clone)]
pub struct StanceWorld {
    world_from_mount: Rotation3<f64>,
    slow: Sway,
    quick: Sway,
    step_at_s: Option<f64>,
    clock: ScriptClock,
}

impl StanceWorld {
    /// A person of `skill` standing as `setup` says, drawn from `rng`.
    pub fn new(skill: f64, setup: StanceSim, mut rng: SimRng) -> Self {
        let s = skill.clamp(0.0, 1.0);
        let world_from_mount = Rotation3::from_euler_angles(
            rng.range(-4.0, 4.0).to_radians(),
            rng.range(-8.0, 8.0).to_radians(),
            rng.range(-3.0, 3.0).to_radians(),
        );
        let (slow_factors, quick_factors) = sway_factors(setup.condition);
        // Roll is the sway's axis 0 (ML), pitch its axis 1 (AP).
        let slow = Sway::draw(s, &mut rng).scaled(slow_factors);
        let quick =
            Sway::draw_in(0.01 + 0.03 * (1.0 - s), [0.8, 2.0], &mut rng).scaled(quick_factors);
        StanceWorld {
            world_from_mount,
            slow,
            quick,
            step_at_s: setup.step_at_s,
            clock: ScriptClock::default(),
        }
    }

    /// The world a simulated wearable of `config` runs (the same person, for tests).
    pub fn for_config(config: &SimConfig) -> Self {
        StanceWorld::new(
            config.skill,
            config.stance,
            SimRng::new(config.seed, super::stream::PERSON),
        )
    }

    /// Its script's clock: started when the wearable streams, stepped with the physics.
    pub(super) fn clock_mut(&mut self) -> &mut ScriptClock {
        &mut self.clock
    }

    fn script_t_s(&self) -> f64 {
        self.clock.script_t_s().unwrap_or(0.0)
    }

    /// Progress through the step at `t`, 0–1, if it has started.
    fn step_phase(&self, t: f64) -> Option<f64> {
        let at = self.step_at_s?;
        (t >= at).then(|| ((t - at) / STEP_DURATION_S).min(1.0))
    }

    /// The body's lean `[roll, pitch]` at `t`, rad.
    fn lean_rad(&self, t: f64) -> [f64; 2] {
        // 64 u³ (1 − u)³ rises from rest to 1 and comes back to rest: no jump in
        // acceleration.
        let lean = self.step_phase(t).map_or(0.0, |u| {
            STEP_LEAN_DEG.to_radians() * 64.0 * (u * (1.0 - u)).powi(3)
        });
        [
            self.slow.at(0, t) + self.quick.at(0, t),
            self.slow.at(1, t) + self.quick.at(1, t) + lean,
        ]
    }

    fn pose(&self, t: f64) -> Pose {
        let [roll, pitch] = self.lean_rad(t);
        let body = Rotation3::from_euler_angles(roll, pitch, 0.0);
        // Minimum jerk: at rest before and after, no jump in acceleration.
        let forward_m = self.step_phase(t).map_or(0.0, |u| {
            STEP_LENGTH_M * u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)
        });
        Pose {
            position_m: Vector3::new(forward_m, 0.0, 0.0)
                + body * Vector3::new(0.0, 0.0, LUMBAR_HEIGHT_M),
            world_from_imu: body * self.world_from_mount,
        }
    }

    /// Specific force (m/s²) and angular rate (rad/s) in the sensor frame now.
    pub fn signals(&self) -> (Vector3<f64>, Vector3<f64>) {
        kinematic_signals(|t| self.pose(t), self.script_t_s())
    }

    /// The sensor's `world_from_imu` now.
    pub fn world_from_imu(&self) -> Rotation3<f64> {
        self.pose(self.script_t_s()).world_from_imu
    }

    /// The truth now.
    pub fn truth(&self) -> StanceTruth {
        let t = self.script_t_s();
        let [roll, pitch] = self.lean_rad(t);
        let (force, _) = self.signals();
        // The acceleration is the specific force turned into the world, gravity taken off;
        // the world's x is forward and y left.
        let acc = self.world_from_imu() * force - Vector3::z() * G_M_S2;
        StanceTruth {
            trunk_deg: [roll.to_degrees(), pitch.to_degrees()],
            acc_m_s2: [-acc.y, acc.x],
            stepping: self.step_phase(t).is_some_and(|u| u > 0.0 && u < 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RMS of the true trunk angle `[ML, AP]` and of the horizontal acceleration over 60 s.
    fn rms(skill: f64, condition: StanceCondition, seed: u64) -> ([f64; 2], [f64; 2]) {
        let setup = StanceSim {
            condition,
            step_at_s: None,
        };
        let mut world = StanceWorld::new(skill, setup, SimRng::new(seed, 1));
        world.clock_mut().start();
        let truths: Vec<StanceTruth> = (0..6_000)
            .map(|_| {
                world.clock_mut().step(10_000);
                world.truth()
            })
            .collect();
        let n = truths.len() as f64;
        let of = |f: &dyn Fn(&StanceTruth) -> f64| {
            let mean = truths.iter().map(f).sum::<f64>() / n;
            (truths.iter().map(|t| (f(t) - mean).powi(2)).sum::<f64>() / n).sqrt()
        };
        (
            [of(&|t| t.trunk_deg[0]), of(&|t| t.trunk_deg[1])],
            [of(&|t| t.acc_m_s2[0]), of(&|t| t.acc_m_s2[1])],
        )
    }

    #[test]
    fn harder_conditions_and_less_skill_sway_more() {
        let with = |feet, eyes_closed, foam| StanceCondition {
            feet,
            eyes_closed,
            foam,
        };
        let apart = with(Feet::Apart, false, false);
        for seed in 1..=3 {
            let (angle, acc) = rms(0.5, apart, seed);
            assert!(angle[0] < angle[1], "feet apart: less ML sway: {angle:?}");
            for harder in [
                with(Feet::Together, false, false),
                with(Feet::Apart, true, false),
                with(Feet::Together, true, true),
            ] {
                let (harder_angle, harder_acc) = rms(0.5, harder, seed);
                let sum = |v: [f64; 2]| v[0] + v[1];
                assert!(sum(harder_angle) > sum(angle), "{harder:?}");
                assert!(sum(harder_acc) > sum(acc), "{harder:?}");
            }
            let sum = |v: [f64; 2]| v[0] + v[1];
            assert!(sum(rms(0.1, apart, seed).0) > sum(rms(0.9, apart, seed).0));
            assert!(sum(rms(0.1, apart, seed).1) > sum(rms(0.9, apart, seed).1));
        }
    }

    #[test]
    fn a_step_moves_the_pelvis_forward_and_comes_to_rest() {
        let setup = StanceSim {
            condition: StanceCondition::default(),
            step_at_s: Some(2.0),
        };
        let mut world = StanceWorld::new(0.9, setup, SimRng::new(4, 1));
        world.clock_mut().start();
        let mut peak = 0.0f64;
        let mut stepping_s = 0.0;
        for _ in 0..4_000 {
            world.clock_mut().step(1_000);
            let truth = world.truth();
            peak = peak.max(truth.acc_m_s2[1]);
            if truth.stepping {
                stepping_s += 1e-3;
            }
        }
        // Minimum jerk: the peak acceleration is 10/√3 · L / T² (5.77 · 0.3 / 0.49 = 3.5 m/s²);
        // the lean's 64 u³(1 − u)³ adds at most 24 · h · lean / T² (1.5 m/s² at 1 m).
        let t2 = STEP_DURATION_S * STEP_DURATION_S;
        let pelvis = 10.0 / 3f64.sqrt() * STEP_LENGTH_M / t2;
        let lean = 24.0 * LUMBAR_HEIGHT_M * STEP_LEAN_DEG.to_radians() / t2;
        assert!(peak > 0.9 * pelvis && peak < pelvis + lean, "{peak}");
        assert!((stepping_s - STEP_DURATION_S).abs() < 2e-3, "{stepping_s}");
        assert!(world.truth().acc_m_s2[1].abs() < 0.2, "standing again");
    }
}
