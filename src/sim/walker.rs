//! A person walking heel to toe with the wearable on the lower back (the tandem-walk drill).
//!
//! The person stands still, then takes a scripted number of heel-to-toe steps and stands still
//! again. Everything about the walk is drawn from the seed and the skill before it starts (the
//! [`WalkScript`], which is also the ground truth): slow, short steps whose times vary more for
//! a beginner (up to ±12 %), missteps (a lateral trunk excursion of 10–14°, or a hesitation: a
//! step that takes 2.1–2.3 times as long) and stops (standing still for 2.6–3.5 step times
//! between two steps). The kinds are kept apart by clear margins, so that a drill's count can
//! be checked exactly.
//!
//! The lumbar sensor's motion is written as smooth functions of time, so the specific force
//! and angular rate come from exact kinematics (central differences at the physics step):
//! - the trunk rolls towards the stance side each step (a beginner more), pitches and yaws a
//!   little, and sways slightly when standing;
//! - the sensor, `LUMBAR_HEIGHT_M` above the feet, moves sideways and forwards with that lean;
//!   the pelvis rises and falls once per step (lowest at each contact) and moves forward by a
//!   foot length with zero speed at contacts (tandem walking is slow);
//! - each heel strike adds the loading response: an upward acceleration peak
//!   `IMPACT_DELAY_S` after the contact with zero net velocity change (the second derivative
//!   of a Gaussian dip in height).
//!
//! Sensor frame = body frame when upright: x forward, y left, z up.

use nalgebra::{Rotation3, Vector3};
use serde::{Deserialize, Serialize};

use super::rng::SimRng;
use super::SimConfig;
use crate::G_M_S2;

/// Height of the lumbar sensor above the feet: the lever of the trunk's lean, m.
pub const LUMBAR_HEIGHT_M: f64 = 1.0;
/// The loading-response acceleration peaks this long after each heel strike, s.
pub const IMPACT_DELAY_S: f64 = 0.12;
/// Width (σ) of the loading-response dip in height, s.
const IMPACT_SIGMA_S: f64 = 0.06;
/// Step length of a heel-to-toe step (one foot length), m.
const STEP_LENGTH_M: f64 = 0.26;
/// Pelvis rise at mid-step, m.
const BOUNCE_M: f64 = 0.012;
/// Lever of the pelvis's sideways shift in a lateral excursion, m.
const HIP_LEVER_M: f64 = 0.2;
/// Finite-difference step for the kinematics, s.
const DIFF_S: f64 = 1e-3;

/// The simulated walk's setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WalkSim {
    /// Heel-to-toe steps to take.
    pub steps: u8,
    /// Standing still before the first step, s after the wearable starts streaming.
    pub stand_before_s: f64,
}

impl Default for WalkSim {
    /// Ten steps after 4 s of standing.
    fn default() -> Self {
        WalkSim {
            steps: 10,
            stand_before_s: 4.0,
        }
    }
}

/// What went wrong in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MisstepKind {
    /// The trunk swung far to one side (catching the balance).
    LateralExcursion,
    /// The step took about twice as long as usual (hesitating on one leg).
    Hesitation,
}

/// One scripted step: the ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptedStep {
    /// The swing starts, s after streaming started.
    pub swing_start_s: f64,
    /// The heel touches down (the initial contact), s after streaming started.
    pub contact_s: f64,
    /// The person stood still before this step (a stop), s; 0 if not.
    pub stop_before_s: f64,
    /// What went wrong, if anything.
    pub misstep: Option<MisstepKind>,
    /// Peak trunk roll of an ordinary step, degrees (signed: the stance side).
    pub roll_peak_deg: f64,
    /// Peak extra roll of a lateral excursion, degrees (signed), 0 if none.
    pub excursion_deg: f64,
}

/// The whole walk, drawn from the seed: the simulator's ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkScript {
    /// The steps in order.
    pub steps: Vec<ScriptedStep>,
    /// The person's usual step time, s.
    pub step_time_s: f64,
    /// Peak trunk roll of an ordinary step, degrees.
    pub roll_amplitude_deg: f64,
}

impl WalkScript {
    /// Draws the walk of a person of `skill` (0–1).
    pub fn draw(skill: f64, setup: WalkSim, rng: &mut SimRng) -> Self {
        let skill = skill.clamp(0.0, 1.0);
        let step_time_s = 1.3 - 0.5 * skill;
        let variation = 0.12 - 0.08 * skill;
        let roll_amplitude_deg = 1.0 + 2.0 * (1.0 - skill);
        let misstep_prob = 0.04 + 0.3 * (1.0 - skill);
        let stop_prob = 0.03 + 0.15 * (1.0 - skill);
        let mut steps = Vec::with_capacity(usize::from(setup.steps));
        let mut t = setup.stand_before_s;
        let mut side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        for i in 0..setup.steps {
            let stop_before_s = if i > 0 && rng.chance(stop_prob) {
                step_time_s * rng.range(2.6, 3.5)
            } else {
                0.0
            };
            t += stop_before_s;
            let misstep = rng.chance(misstep_prob).then(|| {
                // A slow first step is only a later start, and a slow step after a stop only a
                // longer stop: neither step is a hesitation.
                if i == 0 || stop_before_s > 0.0 || rng.chance(0.6) {
                    MisstepKind::LateralExcursion
                } else {
                    MisstepKind::Hesitation
                }
            });
            let mut duration = step_time_s * (1.0 + variation * rng.range(-1.0, 1.0));
            let mut excursion_deg = 0.0;
            match misstep {
                Some(MisstepKind::LateralExcursion) => {
                    let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
                    excursion_deg = sign * rng.range(10.0, 14.0);
                    duration *= rng.range(1.0, 1.1);
                }
                Some(MisstepKind::Hesitation) => duration *= rng.range(2.1, 2.3),
                None => {}
            }
            steps.push(ScriptedStep {
                swing_start_s: t,
                contact_s: t + duration,
                stop_before_s,
                misstep,
                roll_peak_deg: side * roll_amplitude_deg,
                excursion_deg,
            });
            t += duration;
            side = -side;
        }
        WalkScript {
            steps,
            step_time_s,
            roll_amplitude_deg,
        }
    }

    /// Initial contacts, s after streaming started.
    pub fn contacts_s(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.contact_s).collect()
    }

    /// Steps that went wrong.
    pub fn missteps(&self) -> usize {
        self.steps.iter().filter(|s| s.misstep.is_some()).count()
    }

    /// Stops between steps.
    pub fn stops(&self) -> usize {
        self.steps.iter().filter(|s| s.stop_before_s > 0.0).count()
    }
}

/// The simulator's ground truth of one walking sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalkTruth {
    /// Trunk roll (lateral lean), degrees, positive: rolled about the forward axis.
    pub roll_deg: f64,
    /// Initial contacts so far.
    pub contacts: u32,
}

/// Slow standing sway: a sum of sinusoids per axis.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sway {
    /// (amplitude rad, frequency Hz, phase rad) for roll then pitch.
    parts: [[(f64, f64, f64); 3]; 2],
}

impl Sway {
    /// The slow sway of standing (0.1–0.6 Hz) of a person of `skill`: each part up to
    /// 0.15° + 0.3° × (1 − skill).
    pub(super) fn draw(skill: f64, rng: &mut SimRng) -> Self {
        Self::draw_in(0.15 + 0.3 * (1.0 - skill), [0.1, 0.6], rng)
    }

    /// Three parts per axis, each of amplitude `amplitude_deg` × U(0.5, 1), frequency
    /// U(`frequency_hz`) and a random phase.
    pub(super) fn draw_in(
        amplitude_deg: f64,
        [low_hz, high_hz]: [f64; 2],
        rng: &mut SimRng,
    ) -> Self {
        let amplitude = amplitude_deg.to_radians();
        let mut part = |_| {
            (
                amplitude * rng.range(0.5, 1.0),
                rng.range(low_hz, high_hz),
                rng.range(0.0, std::f64::consts::TAU),
            )
        };
        Sway {
            parts: [[part(0), part(1), part(2)], [part(0), part(1), part(2)]],
        }
    }

    /// The same sway with each axis's amplitudes multiplied by `[roll, pitch]`.
    pub(super) fn scaled(mut self, factors: [f64; 2]) -> Self {
        for (axis, factor) in self.parts.iter_mut().zip(factors) {
            for part in axis.iter_mut() {
                part.0 *= factor;
            }
        }
        self
    }

    pub(super) fn at(&self, axis: usize, t_s: f64) -> f64 {
        self.parts[axis]
            .iter()
            .map(|(a, f, p)| a * (std::f64::consts::TAU * f * t_s + p).sin())
            .sum()
    }
}

/// The walking person (see the module docs).
#[derive(Debug, Clone)]
pub struct WalkWorld {
    script: WalkScript,
    sway: Sway,
    impact_m_s2: f64,
    clock: ScriptClock,
}

/// The sensor's pose at one instant.
pub(super) struct Pose {
    pub(super) position_m: Vector3<f64>,
    pub(super) world_from_imu: Rotation3<f64>,
}

/// Specific force (m/s²) and angular rate (rad/s) in the sensor frame at `t`, from exact
/// kinematics of the sensor's `pose` (central differences at [`DIFF_S`]).
pub(super) fn kinematic_signals(
    pose: impl Fn(f64) -> Pose,
    t: f64,
) -> (Vector3<f64>, Vector3<f64>) {
    let (before, now, after) = (pose(t - DIFF_S), pose(t), pose(t + DIFF_S));
    let acc_world =
        (after.position_m - 2.0 * now.position_m + before.position_m) / (DIFF_S * DIFF_S);
    let imu_from_world = now.world_from_imu.inverse();
    let specific_force = imu_from_world * (acc_world + Vector3::new(0.0, 0.0, G_M_S2));
    let turn = before.world_from_imu.inverse() * after.world_from_imu;
    let rate = turn.scaled_axis() / (2.0 * DIFF_S);
    (specific_force, rate)
}

impl WalkWorld {
    /// The walk of a person of `skill` drawn from `rng`.
    pub fn new(skill: f64, setup: WalkSim, mut rng: SimRng) -> Self {
        let script = WalkScript::draw(skill, setup, &mut rng);
        let sway = Sway::draw(skill, &mut rng);
        WalkWorld {
            script,
            sway,
            impact_m_s2: 2.0 + 2.0 * skill.clamp(0.0, 1.0),
            clock: ScriptClock::default(),
        }
    }

    /// The world a simulated wearable of `config` runs (the same walk, for tests).
    pub fn for_config(config: &SimConfig) -> Self {
        WalkWorld::new(
            config.skill,
            config.walk,
            SimRng::new(config.seed, super::stream::PERSON),
        )
    }

    /// The walk: the ground truth.
    pub fn script(&self) -> &WalkScript {
        &self.script
    }

    /// Its script's clock: started when the wearable streams, stepped with the physics.
    pub(super) fn clock_mut(&mut self) -> &mut ScriptClock {
        &mut self.clock
    }

    fn script_t_s(&self) -> Option<f64> {
        self.clock.script_t_s()
    }

    /// Specific force (m/s²) and angular rate (rad/s) in the sensor frame now.
    pub fn signals(&self) -> (Vector3<f64>, Vector3<f64>) {
        kinematic_signals(|t| self.pose(t), self.script_t_s().unwrap_or(0.0))
    }

    /// The truth now.
    pub fn truth(&self) -> WalkTruth {
        let t = self.script_t_s().unwrap_or(0.0);
        WalkTruth {
            roll_deg: self.orientation_at(t).euler_angles().0.to_degrees(),
            contacts: self
                .script
                .steps
                .iter()
                .filter(|s| s.contact_s <= t)
                .count() as u32,
        }
    }

    /// The step under way at `t` and its phase in [0, 1], if any.
    fn stepping(&self, t: f64) -> Option<(usize, f64)> {
        let i = self
            .script
            .steps
            .partition_point(|s| s.swing_start_s <= t)
            .checked_sub(1)?;
        let s = &self.script.steps[i];
        (t < s.contact_s).then(|| (i, (t - s.swing_start_s) / (s.contact_s - s.swing_start_s)))
    }

    /// Roll, pitch, yaw of the whole body leaning over the feet, rad; and the extra roll of
    /// a lateral excursion.
    fn lean_rad(&self, t: f64) -> ([f64; 3], f64) {
        let mut angles = [self.sway.at(0, t), self.sway.at(1, t), 0.0];
        let mut excursion = 0.0;
        if let Some((i, phase)) = self.stepping(t) {
            let bump = (1.0 - (std::f64::consts::TAU * phase).cos()) / 2.0;
            let step = &self.script.steps[i];
            let side = step.roll_peak_deg.signum();
            angles[0] += step.roll_peak_deg.to_radians() * bump;
            angles[1] += 1.5f64.to_radians() * bump;
            angles[2] += side * 1.0f64.to_radians() * bump;
            excursion = step.excursion_deg.to_radians() * bump;
        }
        (angles, excursion)
    }

    /// The sensor's `world_from_imu` at script time `t`.
    fn orientation_at(&self, t: f64) -> Rotation3<f64> {
        let ([roll, pitch, yaw], excursion) = self.lean_rad(t);
        Rotation3::from_euler_angles(roll + excursion, pitch, yaw)
    }

    /// The sensor's `world_from_imu` now.
    pub fn world_from_imu(&self) -> Rotation3<f64> {
        self.orientation_at(self.script_t_s().unwrap_or(0.0))
    }

    fn pose(&self, t: f64) -> Pose {
        let ([roll, pitch, yaw], excursion) = self.lean_rad(t);
        let body = Rotation3::from_euler_angles(roll, pitch, yaw);
        let world_from_imu = self.orientation_at(t);
        let steps = &self.script.steps;
        let done = steps.partition_point(|s| s.contact_s <= t);
        let mut forward_m = done as f64 * STEP_LENGTH_M;
        let mut up_m = 0.0;
        if let Some((_, phase)) = self.stepping(t) {
            let turn = std::f64::consts::TAU * phase;
            forward_m += STEP_LENGTH_M * (phase - turn.sin() / std::f64::consts::TAU);
            up_m += BOUNCE_M * (1.0 - turn.cos()) / 2.0;
        }
        // The loading response after each heel strike nearby: −A σ² · Gaussian, whose second
        // derivative peaks at +A.
        let first = steps.partition_point(|s| s.contact_s < t - 0.5);
        for s in steps[first..].iter().take_while(|s| s.contact_s < t + 0.5) {
            let u = (t - s.contact_s - IMPACT_DELAY_S) / IMPACT_SIGMA_S;
            up_m -= self.impact_m_s2 * IMPACT_SIGMA_S * IMPACT_SIGMA_S * (-0.5 * u * u).exp();
        }
        // The sensor sits LUMBAR_HEIGHT_M above the feet on the leaning body. A lateral
        // excursion bends the trunk sideways at the hips: the pelvis under the sensor shifts
        // the other way, by a hip-width lever, without dropping.
        let lean = body * Vector3::new(0.0, 0.0, LUMBAR_HEIGHT_M);
        let hip_shift = Vector3::new(0.0, HIP_LEVER_M * excursion.sin(), 0.0);
        Pose {
            position_m: Vector3::new(forward_m, 0.0, up_m) + lean + hip_shift,
            world_from_imu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_still_reads_gravity_and_no_rotation_in_the_mean() {
        let mut world = WalkWorld::new(1.0, WalkSim::default(), SimRng::new(3, 1));
        world.clock_mut().start();
        let mut force_sum = Vector3::zeros();
        let mut rate_sum = Vector3::zeros();
        for _ in 0..3000 {
            world.clock_mut().step(1000);
            let (f, w) = world.signals();
            force_sum += f;
            rate_sum += w;
        }
        let mean_force = force_sum / 3000.0;
        assert!((mean_force.norm() - G_M_S2).abs() < 0.01, "{mean_force}");
        assert!(rate_sum.norm() / 3000.0 < 0.01);
        assert_eq!(world.truth().contacts, 0);
    }

    #[test]
    fn skill_sets_pace_and_trouble() {
        let mut novice = (0.0, 0usize);
        let mut expert = (0.0, 0usize);
        for seed in 0..40 {
            for (skill, acc) in [(0.0, &mut novice), (1.0, &mut expert)] {
                let script = WalkScript::draw(skill, WalkSim::default(), &mut SimRng::new(seed, 1));
                assert_eq!(script.steps.len(), 10);
                acc.0 += script.steps.last().unwrap().contact_s;
                acc.1 += script.missteps();
            }
        }
        assert!(
            novice.0 > expert.0 && novice.1 > expert.1,
            "{novice:?} {expert:?}"
        );
    }
}

/// A wearable person's clock: physics time, and the time since the wearable started
/// streaming (when the person's script starts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct ScriptClock {
    t_us: u64,
    stream_start_us: Option<u64>,
}

impl ScriptClock {
    /// The wearable has started streaming now (only the first call counts).
    pub(super) fn start(&mut self) {
        self.stream_start_us.get_or_insert(self.t_us);
    }

    /// Advances one physics step of `step_us`.
    pub(super) fn step(&mut self, step_us: u64) {
        self.t_us += step_us;
    }

    /// Seconds since streaming started, if it has.
    pub(super) fn script_t_s(&self) -> Option<f64> {
        let start = self.stream_start_us?;
        Some(self.t_us.saturating_sub(start) as f64 * 1e-6)
    }
}
