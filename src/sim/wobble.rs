//! The virtual person on a wobble board: a disc on a hemisphere, tilting both ways until its
//! rim touches the floor.
//!
//! The rocker world's model ([`RockerWorld`](super::RockerWorld)) on a tilt *vector*: body and
//! board are one inverted pendulum about the board's pivot, `θ̈ = (g/ℓ)·sin|θ|·θ/|θ| + u + n`,
//! where θ = [AP, ML] is the board's tilt (front edge down and right edge down positive), `u`
//! the person's corrective angular acceleration and `n` motor noise (an Ornstein–Uhlenbeck
//! process per axis). The person is the rocker's delayed PD controller on each axis (same
//! [`Person`] for a skill, and a small lean of their own: where they feel level), whose push
//! is bounded in size, `|u| ≤ u_max`, whichever way (the base of support). The person's motor
//! and sensory noise are the rocker's in total, shared between the axes (each axis gets 1/√2
//! of the standard deviation): the same person, not twice as clumsy because the board has two
//! axes. Without noise and with one axis at 0 this is the rocker world.
//!
//! The edge is a circle: the rim touches the floor when the tilt's **size** reaches the
//! board's limit, in any direction, so a contact couples the axes. The impact is plastic in
//! the radial direction (the tilt's size stops growing) with Coulomb friction at the rim
//! (the rate along the rim loses up to [`RIM_FRICTION`] × the radial rate); the rim then
//! stays on the floor while the person's push and gravity press it there, or while the board
//! rolls along its rim faster than the person pulls it in, and rolling friction slows that
//! ([`RIM_ROLL_TAU_S`]). Only a rim that was off the floor can hit it. Before the person
//! steps on, the board lies still on its rim in a direction drawn from the seed.
//!
//! The board's orientation is the rotation by the tilt vector about the horizontal axes
//! (`world_from_imu` = exp([ML, AP, 0]), the sensor x forward, y left, z up): the tilt vector
//! the pipeline reads back ([`BoardTilt`](crate::pipeline::BoardTilt)'s pitch and roll). The
//! sensor sits `imu_height_m` above the pivot; its specific force and angular rate come from
//! exact differences of its pose over each physics step, so averaged over a sample interval
//! they are the interval's true means.

use std::collections::VecDeque;

use nalgebra::{Rotation3, Vector3};

use super::rng::SimRng;
use super::rocker::{BoardGeometry, Person, STEP_US};
use super::SimConfig;
use crate::G_M_S2;

const STEP_S: f64 = STEP_US as f64 * 1e-6;
/// Friction coefficient of the rim on the floor at an impact: the rate along the rim loses up
/// to this share of the radial rate the impact stops.
pub const RIM_FRICTION: f64 = 0.8;
/// Rolling along the rim on the floor slows with this time constant, s.
pub const RIM_ROLL_TAU_S: f64 = 0.15;
/// The largest lean (where a person feels level) per axis, degrees, for skill 0; it shrinks
/// with skill. The delayed controller amplifies it about 3–4 times in the mean tilt.
const LEAN_DEG: f64 = 0.25;

/// True state of the wobble board at one physics step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WobbleState {
    /// Tilt vector `[AP, ML]`, rad: front edge down and right edge down positive.
    pub tilt_rad: [f64; 2],
    /// Its rate, rad/s.
    pub rate_rad_s: [f64; 2],
    /// True while the rim rests on the floor.
    pub at_edge: bool,
}

impl WobbleState {
    /// The tilt's size, rad.
    pub fn magnitude_rad(&self) -> f64 {
        self.tilt_rad[0].hypot(self.tilt_rad[1])
    }
}

/// The person-on-wobble-board world, stepped at [`STEP_US`].
#[derive(Debug, Clone)]
pub struct WobbleWorld {
    person: Person,
    board: BoardGeometry,
    lean_rad: [f64; 2],
    state: WobbleState,
    perceived: VecDeque<([f64; 2], [f64; 2])>,
    motor_noise: [f64; 2],
    /// Physics steps left before the person steps on.
    idle_steps: u64,
    rng: SimRng,
    /// The sensor's pose at the last step, its velocity over that step, and what it felt.
    world_from_imu: Rotation3<f64>,
    position_m: Vector3<f64>,
    velocity_m_s: Vector3<f64>,
    signals: (Vector3<f64>, Vector3<f64>),
}

/// `world_from_imu` of a board at `tilt_rad` = [AP, ML] (sensor x forward, y left, z up).
pub fn wobble_orientation(tilt_rad: [f64; 2]) -> Rotation3<f64> {
    let [ap, ml] = tilt_rad;
    // Roll about x (ML: the −y, right, side down) and pitch about y (AP: +x, front, down).
    Rotation3::new(Vector3::new(ml, ap, 0.0))
}

impl WobbleWorld {
    /// A world whose person, of `skill` (0 = first time on a board, 1 = expert), steps on
    /// after `step_on_s` (the board lies still on its rim until then); with 0, the person
    /// starts on the board within a few degrees of level.
    pub fn new(skill: f64, board: BoardGeometry, step_on_s: f64, mut rng: SimRng) -> Self {
        let person = Person::with_skill(skill);
        let skill = skill.clamp(0.0, 1.0);
        let heading = rng.range(-std::f64::consts::PI, std::f64::consts::PI);
        let size0 = rng.range(0.0, 2.0).to_radians();
        let lean_max = (LEAN_DEG * (1.2 - skill)).to_radians();
        let lean_rad = [
            rng.range(-lean_max, lean_max),
            rng.range(-lean_max, lean_max),
        ];
        let idle_steps = (step_on_s.max(0.0) / STEP_S).round() as u64;
        let direction = [heading.cos(), heading.sin()];
        let (size, at_edge) = if idle_steps > 0 {
            (board.limit_deg.to_radians(), true)
        } else {
            (size0, false)
        };
        let tilt_rad = [size * direction[0], size * direction[1]];
        let delay_steps = ((person.delay_s / STEP_S).round() as usize).max(1);
        let world_from_imu = wobble_orientation(tilt_rad);
        let position_m = world_from_imu * Vector3::new(0.0, 0.0, board.imu_height_m);
        let at_rest = world_from_imu.inverse() * Vector3::new(0.0, 0.0, G_M_S2);
        WobbleWorld {
            person,
            board,
            lean_rad,
            state: WobbleState {
                tilt_rad,
                rate_rad_s: [0.0; 2],
                at_edge,
            },
            perceived: VecDeque::from(vec![(tilt_rad, [0.0; 2]); delay_steps]),
            motor_noise: [0.0; 2],
            idle_steps,
            rng,
            world_from_imu,
            position_m,
            velocity_m_s: Vector3::zeros(),
            signals: (at_rest, Vector3::zeros()),
        }
    }

    /// The world a simulated wearable of `config` runs (the same person and board, for tests).
    pub fn for_config(config: &SimConfig) -> Self {
        WobbleWorld::new(
            config.skill,
            config.board,
            config.step_on_s,
            SimRng::new(config.seed, super::stream::PERSON),
        )
    }

    /// The current true state.
    pub fn state(&self) -> WobbleState {
        self.state
    }

    /// The true tilt `[AP, ML]`, degrees.
    pub fn tilt_deg(&self) -> [f64; 2] {
        self.state.tilt_rad.map(f64::to_degrees)
    }

    /// The true tilt's size, degrees.
    pub fn magnitude_deg(&self) -> f64 {
        self.state.magnitude_rad().to_degrees()
    }

    /// Where the person feels level `[AP, ML]`, degrees.
    pub fn lean_deg(&self) -> [f64; 2] {
        self.lean_rad.map(f64::to_degrees)
    }

    /// The sensor's `world_from_imu` now.
    pub fn world_from_imu(&self) -> Rotation3<f64> {
        self.world_from_imu
    }

    /// What the sensor felt over the last step, before any error: specific force (m/s²) and
    /// angular rate (rad/s), sensor frame.
    pub fn signals(&self) -> (Vector3<f64>, Vector3<f64>) {
        self.signals
    }

    /// Advances one physics step; returns the speed (°/s of the tilt's size) at which the rim
    /// hit the floor, if it did in this step.
    pub fn step(&mut self) -> Option<f64> {
        if self.idle_steps > 0 {
            self.idle_steps -= 1;
            return None;
        }
        let p = self.person;
        let limit = self.board.limit_deg.to_radians();
        let per_axis = std::f64::consts::FRAC_1_SQRT_2;
        let (seen_tilt, seen_rate) = self.perceived.pop_front().unwrap_or_default();
        let mut u = [0.0; 2];
        for (i, u) in u.iter_mut().enumerate() {
            let perceived = seen_tilt[i] + per_axis * p.sensory_noise_rad * self.rng.normal();
            *u = -(p.kp * (perceived - self.lean_rad[i]) + p.kd * seen_rate[i]);
        }
        let push = u[0].hypot(u[1]);
        if push > p.u_max {
            u = u.map(|c| c * p.u_max / push);
        }
        // Ornstein–Uhlenbeck motor noise per axis, exact discretisation.
        let decay = (-STEP_S / p.motor_noise_tau_s).exp();
        for n in &mut self.motor_noise {
            *n = *n * decay
                + per_axis * p.motor_noise * (1.0 - decay * decay).sqrt() * self.rng.normal();
        }
        let s = &mut self.state;
        let was_at_edge = s.at_edge;
        let size = s.magnitude_rad();
        let outward = if size > 0.0 {
            [s.tilt_rad[0] / size, s.tilt_rad[1] / size]
        } else {
            [0.0; 2]
        };
        let gravity = G_M_S2 / p.length_m * size.sin();
        let mut accel = [0, 1].map(|i| gravity * outward[i] + u[i] + self.motor_noise[i]);
        if s.at_edge {
            let pressing = dot(accel, outward);
            if pressing > 0.0 {
                // Pressed onto the floor: only the motion along the rim is left.
                accel = [0, 1].map(|i| accel[i] - pressing * outward[i]);
            } else {
                s.at_edge = false;
            }
        }
        for (i, a) in accel.iter().enumerate() {
            s.rate_rad_s[i] += a * STEP_S;
            s.tilt_rad[i] += s.rate_rad_s[i] * STEP_S;
        }
        let mut impact_deg_s = None;
        let size = s.magnitude_rad();
        if size >= limit {
            let outward = [s.tilt_rad[0] / size, s.tilt_rad[1] / size];
            let radial = dot(s.rate_rad_s, outward);
            s.tilt_rad = outward.map(|c| c * limit);
            s.rate_rad_s = [0, 1].map(|i| s.rate_rad_s[i] - radial * outward[i]);
            if !was_at_edge {
                impact_deg_s = Some(radial.max(0.0).to_degrees());
                let along = s.rate_rad_s[0].hypot(s.rate_rad_s[1]);
                if along > 0.0 {
                    let kept = (along - RIM_FRICTION * radial.max(0.0)).max(0.0) / along;
                    s.rate_rad_s = s.rate_rad_s.map(|c| c * kept);
                }
            }
            s.at_edge = true;
        }
        if s.at_edge {
            let kept = (-STEP_S / RIM_ROLL_TAU_S).exp();
            s.rate_rad_s = s.rate_rad_s.map(|c| c * kept);
        }
        self.perceived.push_back((s.tilt_rad, s.rate_rad_s));
        self.follow_sensor();
        impact_deg_s
    }

    /// The sensor's motion over the step just taken.
    fn follow_sensor(&mut self) {
        let world_from_imu = wobble_orientation(self.state.tilt_rad);
        let position_m = world_from_imu * Vector3::new(0.0, 0.0, self.board.imu_height_m);
        let velocity_m_s = (position_m - self.position_m) / STEP_S;
        let acc_world = (velocity_m_s - self.velocity_m_s) / STEP_S;
        let turn = self.world_from_imu.inverse() * world_from_imu;
        let rate = turn.scaled_axis() / STEP_S;
        let specific_force =
            world_from_imu.inverse() * (acc_world + Vector3::new(0.0, 0.0, G_M_S2));
        self.signals = (specific_force, rate);
        self.world_from_imu = world_from_imu;
        self.position_m = position_m;
        self.velocity_m_s = velocity_m_s;
    }
}

fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::tilt_vector_rad;
    use crate::sim::EdgeContactCounter;

    /// (RMS of the tilt's size °, nominal contacts) over `seconds` for a person of `skill`.
    fn sway(skill: f64, seed: u64, seconds: u64) -> (f64, u64) {
        let mut w = WobbleWorld::new(skill, BoardGeometry::default(), 0.0, SimRng::new(seed, 0));
        let mut contacts = EdgeContactCounter::new(15.0, false);
        let n = seconds * 1_000;
        let mut sum_sq = 0.0;
        for _ in 0..n {
            let impact = w.step();
            contacts.observe(w.magnitude_deg(), impact, 100.0);
            sum_sq += w.magnitude_deg().powi(2);
        }
        ((sum_sq / n as f64).sqrt(), contacts.counts().nominal)
    }

    #[test]
    fn the_tilt_stays_within_the_rim_and_a_beginner_hits_it() {
        let mut w = WobbleWorld::new(0.0, BoardGeometry::default(), 0.0, SimRng::new(3, 0));
        let (mut impacts, mut both_ways) = (0, [false; 2]);
        for _ in 0..60_000 {
            impacts += u32::from(w.step().is_some());
            assert!(w.magnitude_deg() <= 15.0 + 1e-9);
            let [ap, ml] = w.tilt_deg();
            both_ways[0] |= ap.abs() > 5.0;
            both_ways[1] |= ml.abs() > 5.0;
        }
        assert!(impacts > 0, "a beginner should hit the rim in a minute");
        assert_eq!(both_ways, [true, true], "it tilts both ways");
    }

    #[test]
    fn lies_on_its_rim_until_the_person_steps_on_and_levels_it() {
        for seed in 0..6 {
            let mut w = WobbleWorld::new(0.3, BoardGeometry::default(), 2.0, SimRng::new(seed, 0));
            for step in 0..2_000 {
                w.step();
                assert!(
                    (w.magnitude_deg() - 15.0).abs() < 1e-9,
                    "seed {seed} {step}"
                );
                assert!(w.state().at_edge);
            }
            let lifted = (0..5_000).any(|_| {
                w.step();
                w.magnitude_deg() < 5.0
            });
            assert!(lifted, "seed {seed}: never levelled");
        }
    }

    #[test]
    fn more_skill_means_less_tilt_and_fewer_contacts() {
        let mean = |skill: f64| -> (f64, f64) {
            let runs: Vec<(f64, u64)> = (0..4).map(|seed| sway(skill, seed, 30)).collect();
            let rms = runs.iter().map(|r| r.0).sum::<f64>() / 4.0;
            let contacts = runs.iter().map(|r| r.1 as f64).sum::<f64>() / 4.0;
            (rms, contacts)
        };
        let levels: Vec<(f64, f64)> = [0.1, 0.5, 0.9].into_iter().map(mean).collect();
        eprintln!("(RMS °, contacts in 30 s) at skill 0.1 / 0.5 / 0.9: {levels:.2?}");
        for pair in levels.windows(2) {
            assert!(
                pair[1].0 < pair[0].0,
                "RMS should fall with skill: {levels:?}"
            );
            assert!(
                pair[1].1 <= pair[0].1,
                "contacts should fall with skill: {levels:?}"
            );
        }
        assert!(levels[0].1 > levels[2].1, "{levels:?}");
    }

    #[test]
    fn the_pipeline_reads_the_tilt_vector_back_from_the_orientation() {
        for tilt in [[0.1, 0.0], [0.0, -0.2], [0.15, 0.12], [-0.2, 0.05]] {
            let up = wobble_orientation(tilt).inverse() * Vector3::z();
            let back = tilt_vector_rad(&up);
            assert!((back[0] - tilt[0]).abs() < 1e-12, "{back:?} {tilt:?}");
            assert!((back[1] - tilt[1]).abs() < 1e-12, "{back:?} {tilt:?}");
        }
        // One axis: the rocker's tilt about x is the ML tilt.
        let up = wobble_orientation([0.0, 0.2]).inverse() * Vector3::z();
        assert!((up.y.atan2(up.z) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_steady_tilt_reads_gravity_and_no_rate() {
        let mut w = WobbleWorld::new(1.0, BoardGeometry::default(), 0.0, SimRng::new(1, 0));
        // Moving: the rate is the body rate that turns the last orientation into this one.
        w.step();
        let before = w.world_from_imu();
        w.step();
        let (_, rate) = w.signals();
        let turn = before.inverse() * w.world_from_imu();
        assert!((turn.scaled_axis() / STEP_S - rate).norm() < 1e-9);
        // Lying on the rim: gravity only.
        let mut idle = WobbleWorld::new(1.0, BoardGeometry::default(), 1.0, SimRng::new(1, 0));
        idle.step();
        let (force, rate) = idle.signals();
        assert!(rate.norm() < 1e-12);
        assert!((force.norm() - G_M_S2).abs() < 1e-9);
        assert!((force.z / G_M_S2 - 15f64.to_radians().cos()).abs() < 1e-9);
    }
}
