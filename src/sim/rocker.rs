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
//!
//! Before the person steps on, the unloaded board lies still on one of its edges, as a real
//! one does while its user gets ready (and as the sensor's bias is learned at rest).

use std::collections::VecDeque;

use crate::G_M_S2;

use super::rng::SimRng;
// Ground truth counts edge contacts by the drill's own definition of one.
use crate::drill::{impact_speed_threshold_deg_s, EDGE_RELEASE_DEG};

/// Physics step. The sensor samples on this grid.
pub const STEP_US: u64 = 1_000;
const STEP_S: f64 = STEP_US as f64 * 1e-6;

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
    /// Physics steps left before the person steps on.
    idle_steps: u64,
    rng: SimRng,
}

impl RockerWorld {
    /// A world whose person steps on after `step_on_s` (the board lies still on one of its
    /// edges until then); with 0, the person starts on the board within a few degrees of level.
    pub fn new(person: Person, board: BoardGeometry, step_on_s: f64, mut rng: SimRng) -> Self {
        let tilt0 = rng.range(-2.0, 2.0).to_radians();
        let idle_steps = (step_on_s.max(0.0) / STEP_S).round() as u64;
        let (tilt_rad, at_edge) = if idle_steps > 0 {
            (board.limit_deg.to_radians().copysign(tilt0), true)
        } else {
            (tilt0, false)
        };
        let delay_steps = ((person.delay_s / STEP_S).round() as usize).max(1);
        RockerWorld {
            person,
            board,
            state: BoardState {
                tilt_rad,
                rate_rad_s: 0.0,
                accel_rad_s2: 0.0,
                at_edge,
            },
            perceived: VecDeque::from(vec![(tilt_rad, 0.0); delay_steps]),
            motor_noise: 0.0,
            idle_steps,
            rng,
        }
    }

    /// The current true state.
    pub fn state(&self) -> BoardState {
        self.state
    }

    /// Advances one physics step; returns the speed (°/s) at which the edge hit the floor, if
    /// it did in this step.
    pub fn step(&mut self) -> Option<f64> {
        if self.idle_steps > 0 {
            self.idle_steps -= 1;
            return None;
        }
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
        let mut impact_deg_s = None;
        if s.tilt_rad.abs() >= limit {
            if !s.at_edge {
                impact_deg_s = Some(s.rate_rad_s.abs().to_degrees());
            }
            s.tilt_rad = limit.copysign(s.tilt_rad);
            s.rate_rad_s = 0.0;
            s.at_edge = true;
        }
        s.accel_rad_s2 = (s.rate_rad_s - rate_before) / STEP_S;
        self.perceived.push_back((s.tilt_rad, s.rate_rad_s));
        impact_deg_s
    }
}

/// True edge contacts, counted by the drill's definition (an impact at the drill's threshold
/// speed or faster; one per touch until the board comes [`EDGE_RELEASE_DEG`] back off the
/// limit), and with that definition made a little stricter and a little more lenient.
///
/// A contact at the threshold speed, or a release within a sensor's error of the release
/// line, is one that no estimate can call with certainty either way: a detector is right when
/// its count lies within `[at_least, at_most]`, and exact when the three agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EdgeContacts {
    /// Contacts under the strict reading: faster than the threshold by
    /// [`speed_margin_deg_s`], released further than the line by [`RELEASE_MARGIN_DEG`].
    pub at_least: u64,
    /// Contacts by the drill's definition.
    pub nominal: u64,
    /// Contacts under the lenient reading.
    pub at_most: u64,
}

/// How far (°/s) the impact speed must clear the drill's threshold to be certain at
/// `sample_rate_hz`: the mean rate over the sample interval before the impact differs from
/// the speed at it by up to the board's acceleration (about 300 °/s² at most) over half an
/// interval.
pub fn speed_margin_deg_s(sample_rate_hz: f64) -> f64 {
    const MAX_BOARD_ACCEL_DEG_S2: f64 = 300.0;
    MAX_BOARD_ACCEL_DEG_S2 / (2.0 * sample_rate_hz)
}
/// How far a release must clear the release line to be certain, degrees: a sensor's
/// uncalibrated inclination error (3 mg of accelerometer bias is 0.17°) and then some.
pub const RELEASE_MARGIN_DEG: f64 = 0.25;

/// Counts [`EdgeContacts`] from the board's true motion (a rocker's tilt, or a wobble board's
/// tilt size with the rate of that size at its impacts).
#[derive(Debug, Clone)]
pub struct EdgeContactCounter {
    limit_deg: f64,
    /// Released flags of the strict, nominal and lenient readings.
    released: [bool; 3],
    /// A contact counted by the nominal reading is under way.
    in_contact: bool,
    counts: EdgeContacts,
}

impl EdgeContactCounter {
    /// A counter for a board whose edge touches at `limit_deg`, starting on an edge (a board
    /// lying on its edge is not a contact until it has been lifted off) or not.
    pub fn new(limit_deg: f64, starts_on_edge: bool) -> Self {
        EdgeContactCounter {
            limit_deg,
            released: [!starts_on_edge; 3],
            in_contact: false,
            counts: EdgeContacts::default(),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> EdgeContacts {
        self.counts
    }

    /// True while a contact counted by the drill's definition (the nominal reading) is under
    /// way: from its impact until the board is [`EDGE_RELEASE_DEG`] back off the limit.
    pub fn in_contact(&self) -> bool {
        self.in_contact
    }

    /// Takes one physics step's tilt and impact (from [`RockerWorld::step`]), for a device
    /// sampling at `sample_rate_hz` (the drill's threshold depends on it).
    pub fn observe(&mut self, tilt_deg: f64, impact_deg_s: Option<f64>, sample_rate_hz: f64) {
        let threshold = impact_speed_threshold_deg_s(sample_rate_hz);
        let margin = speed_margin_deg_s(sample_rate_hz);
        let readings = [
            (threshold + margin, EDGE_RELEASE_DEG + RELEASE_MARGIN_DEG),
            (threshold, EDGE_RELEASE_DEG),
            (threshold - margin, EDGE_RELEASE_DEG - RELEASE_MARGIN_DEG),
        ];
        let counts = [
            &mut self.counts.at_least,
            &mut self.counts.nominal,
            &mut self.counts.at_most,
        ];
        for (i, ((released, count), (min_speed, release_deg))) in self
            .released
            .iter_mut()
            .zip(counts)
            .zip(readings)
            .enumerate()
        {
            let nominal = i == 1;
            if let Some(speed) = impact_deg_s {
                if *released && speed >= min_speed {
                    *count += 1;
                    *released = false;
                    self.in_contact |= nominal;
                }
            }
            if tilt_deg.abs() < self.limit_deg - release_deg {
                *released = true;
                self.in_contact &= !nominal;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sway(skill: f64, seed: u64) -> (f64, u64) {
        let mut w = RockerWorld::new(
            Person::with_skill(skill),
            BoardGeometry::default(),
            0.0,
            SimRng::new(seed, 0),
        );
        let mut contacts = EdgeContactCounter::new(15.0, false);
        let n = 30_000;
        let mut sum_sq = 0.0;
        for _ in 0..n {
            let impact = w.step();
            let tilt_deg = w.state().tilt_rad.to_degrees();
            contacts.observe(tilt_deg, impact, 100.0);
            sum_sq += tilt_deg.powi(2);
        }
        ((sum_sq / n as f64).sqrt(), contacts.counts().nominal)
    }

    #[test]
    fn tilt_never_exceeds_the_board_limit() {
        let mut w = RockerWorld::new(
            Person::with_skill(0.0),
            BoardGeometry::default(),
            0.0,
            SimRng::new(3, 0),
        );
        let mut impacts = 0;
        for _ in 0..60_000 {
            impacts += u32::from(w.step().is_some());
            assert!(w.state().tilt_rad.to_degrees().abs() <= 15.0 + 1e-9);
        }
        assert!(impacts > 0, "a beginner should hit the edge in a minute");
    }

    #[test]
    fn the_board_lies_on_its_edge_until_the_person_steps_on_and_lifts_it() {
        for seed in 0..8 {
            let mut w = RockerWorld::new(
                Person::with_skill(0.3),
                BoardGeometry::default(),
                2.0,
                SimRng::new(seed, 0),
            );
            let mut contacts = EdgeContactCounter::new(15.0, true);
            for step in 0..10_000 {
                let impact = w.step();
                let tilt_deg = w.state().tilt_rad.to_degrees();
                contacts.observe(tilt_deg, impact, 100.0);
                if step < 2_000 {
                    assert!(
                        (tilt_deg.abs() - 15.0).abs() < 1e-9,
                        "seed {seed} step {step}"
                    );
                    assert!(w.state().at_edge);
                }
            }
            let lifted = (0..5_000).any(|_| {
                w.step();
                w.state().tilt_rad.to_degrees().abs() < 5.0
            });
            assert!(lifted, "seed {seed}: the person never levelled the board");
        }
    }

    #[test]
    fn contact_bounds_bracket_the_nominal_count() {
        let mut w = RockerWorld::new(
            Person::with_skill(0.2),
            BoardGeometry::default(),
            0.0,
            SimRng::new(5, 0),
        );
        let mut contacts = EdgeContactCounter::new(15.0, false);
        for _ in 0..120_000 {
            let impact = w.step();
            contacts.observe(w.state().tilt_rad.to_degrees(), impact, 100.0);
        }
        let c = contacts.counts();
        assert!(c.nominal > 10, "{c:?}");
        assert!(c.at_least <= c.nominal && c.nominal <= c.at_most, "{c:?}");
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
