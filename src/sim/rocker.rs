//! The virtual person on a rocker board.
//!
//! Body and board are lumped into one inverted pendulum about the rocker's fulcrum:
//! `θ̈ = (g/ℓ)·sin θ + u + n`, where θ is the board's tilt about its rocking axis, `u` the
//! person's corrective angular acceleration (weight shifts over the feet and hips) and `n`
//! motor noise (an Ornstein–Uhlenbeck process). The person is a delayed PD controller that acts
//! on what they perceived `delay` ago, with sensory noise, and cannot push harder than
//! `u_max` (the base of support is finite). The board stops at ±`limit` (the edge touches
//! the floor): a plastic impact, and it stays there until the person pushes it back up.
//! This is the classic model of human balance as delayed feedback control of an unstable
//! plant (e.g. Milton & Insperger's work on postural sway); its parameters are chosen so that
//! sway amplitude and edge contacts span beginners to experts as `skill` goes from 0 to 1.

use std::collections::VecDeque;

use super::rng::SimRng;
// Ground truth counts edge contacts by the drill's own definition of one.
use crate::drill::EDGE_RELEASE_DEG;

/// Physics step. The sensor samples on this grid.
pub const STEP_US: u64 = 1_000;
const STEP_S: f64 = STEP_US as f64 * 1e-6;
const G_M_S2: f64 = 9.806_65;

/// The rocker board's geometry.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoardGeometry {
    /// Tilt at which the board's edge touches the floor, degrees.
    pub limit_deg: f64,
    /// Height of the IMU above the fulcrum, metres.
    pub imu_height_m: f64,
}

impl Default for BoardGeometry {
    fn default() -> Self {
        BoardGeometry {
            limit_deg: 15.0,
            imu_height_m: 0.07,
        }
    }
}

/// The person's control parameters, derived from a skill in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person {
    /// Feedback delay, s.
    pub delay_s: f64,
    /// Proportional gain, rad/s² per rad.
    pub kp: f64,
    /// Derivative gain, rad/s² per rad/s.
    pub kd: f64,
    /// Largest corrective acceleration, rad/s².
    pub u_max: f64,
    /// Motor noise standard deviation, rad/s².
    pub motor_noise: f64,
    /// Motor noise correlation time, s.
    pub motor_noise_tau_s: f64,
    /// Standard deviation of the perceived tilt's error, rad.
    pub sensory_noise_rad: f64,
    /// Effective pendulum length (fulcrum to centre of mass), m.
    pub length_m: f64,
}

impl Person {
    /// A person of the given skill: 0 = first time on a board, 1 = expert.
    /// Higher skill means a shorter delay, better-tuned gains and less noise.
    pub fn with_skill(skill: f64) -> Self {
        let s = skill.clamp(0.0, 1.0);
        Person {
            delay_s: 0.22 - 0.08 * s,
            kp: 12.0 + 3.0 * s,
            kd: 3.5 + 1.5 * s,
            u_max: 4.5,
            motor_noise: 1.5 * (1.1 - s),
            motor_noise_tau_s: 0.3,
            sensory_noise_rad: (0.5 * (1.2 - s)).to_radians(),
            length_m: 1.0,
        }
    }
}

/// True state of the board at one physics step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardState {
    /// Tilt about the rocking axis, rad (positive: right edge down).
    pub tilt_rad: f64,
    /// Tilt rate, rad/s.
    pub rate_rad_s: f64,
    /// Tilt acceleration over the last step, rad/s².
    pub accel_rad_s2: f64,
    /// True while the edge rests on the floor.
    pub at_edge: bool,
}

/// The person-on-board world, stepped at [`STEP_US`].
#[derive(Debug, Clone)]
pub struct RockerWorld {
    person: Person,
    board: BoardGeometry,
    state: BoardState,
    perceived: VecDeque<(f64, f64)>,
    motor_noise: f64,
    released: bool,
    edge_contacts: u64,
    rng: SimRng,
}

impl RockerWorld {
    /// A world whose person starts within a few degrees of level.
    pub fn new(person: Person, board: BoardGeometry, mut rng: SimRng) -> Self {
        let tilt0 = rng.range(-2.0, 2.0).to_radians();
        let delay_steps = ((person.delay_s / STEP_S).round() as usize).max(1);
        RockerWorld {
            person,
            board,
            state: BoardState {
                tilt_rad: tilt0,
                rate_rad_s: 0.0,
                accel_rad_s2: 0.0,
                at_edge: false,
            },
            perceived: VecDeque::from(vec![(tilt0, 0.0); delay_steps]),
            motor_noise: 0.0,
            released: true,
            edge_contacts: 0,
            rng,
        }
    }

    /// The current true state.
    pub fn state(&self) -> BoardState {
        self.state
    }

    /// Edge contacts so far (touches separated by coming back [`EDGE_RELEASE_DEG`] off the limit,
    /// the drill's definition).
    pub fn edge_contacts(&self) -> u64 {
        self.edge_contacts
    }

    /// Advances one physics step; returns true if an edge contact started in it.
    pub fn step(&mut self) -> bool {
        let p = &self.person;
        let limit = self.board.limit_deg.to_radians();
        let (seen_tilt, seen_rate) = self.perceived.pop_front().unwrap_or((0.0, 0.0));
        let perceived_tilt = seen_tilt + p.sensory_noise_rad * self.rng.normal();
        let u = (-(p.kp * perceived_tilt + p.kd * seen_rate)).clamp(-p.u_max, p.u_max);
        // Ornstein–Uhlenbeck motor noise, exact discretisation.
        let decay = (-STEP_S / p.motor_noise_tau_s).exp();
        self.motor_noise = self.motor_noise * decay
            + p.motor_noise * (1.0 - decay * decay).sqrt() * self.rng.normal();
        let s = &mut self.state;
        let mut accel = G_M_S2 / p.length_m * s.tilt_rad.sin() + u + self.motor_noise;
        if s.at_edge {
            if accel * s.tilt_rad.signum() > 0.0 {
                accel = 0.0; // pressed onto the floor
            } else {
                s.at_edge = false;
            }
        }
        let rate_before = s.rate_rad_s;
        s.rate_rad_s += accel * STEP_S;
        s.tilt_rad += s.rate_rad_s * STEP_S;
        let mut contact_started = false;
        if s.tilt_rad.abs() >= limit {
            s.tilt_rad = limit.copysign(s.tilt_rad);
            s.rate_rad_s = 0.0;
            if !s.at_edge && self.released {
                self.edge_contacts += 1;
                self.released = false;
                contact_started = true;
            }
            s.at_edge = true;
        }
        if s.tilt_rad.abs() < limit - EDGE_RELEASE_DEG.to_radians() {
            self.released = true;
        }
        s.accel_rad_s2 = (s.rate_rad_s - rate_before) / STEP_S;
        self.perceived.push_back((s.tilt_rad, s.rate_rad_s));
        contact_started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sway(skill: f64, seed: u64) -> (f64, u64) {
        let mut w = RockerWorld::new(
            Person::with_skill(skill),
            BoardGeometry::default(),
            SimRng::new(seed, 0),
        );
        let n = 30_000;
        let mut sum_sq = 0.0;
        for _ in 0..n {
            w.step();
            sum_sq += w.state().tilt_rad.to_degrees().powi(2);
        }
        ((sum_sq / n as f64).sqrt(), w.edge_contacts())
    }

    #[test]
    fn tilt_never_exceeds_the_board_limit() {
        let mut w = RockerWorld::new(
            Person::with_skill(0.0),
            BoardGeometry::default(),
            SimRng::new(3, 0),
        );
        for _ in 0..60_000 {
            w.step();
            assert!(w.state().tilt_rad.to_degrees().abs() <= 15.0 + 1e-9);
        }
        assert!(
            w.edge_contacts() > 0,
            "a beginner should hit the edge in a minute"
        );
    }

    #[test]
    fn more_skill_means_less_sway() {
        let mean = |skill: f64| -> (f64, f64) {
            let runs: Vec<(f64, u64)> = (0..4).map(|seed| sway(skill, seed)).collect();
            let rms = runs.iter().map(|r| r.0).sum::<f64>() / 4.0;
            let contacts = runs.iter().map(|r| r.1 as f64).sum::<f64>() / 4.0;
            (rms, contacts)
        };
        let levels: Vec<(f64, f64)> = [0.2, 0.5, 0.8, 1.0].into_iter().map(mean).collect();
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
        assert!(levels[3].0 < 3.0 && levels[0].0 > 6.0, "{levels:?}");
    }
}
