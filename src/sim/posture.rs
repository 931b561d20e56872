//! A person holding a neutral spine with the wearable on the lower back (the neutral-spine
//! drill): the trunk drifts into flexion now and then, and the person corrects.
//!
//! The person stands in their own neutral posture (a lordosis and a mounting that leave the
//! sensor up to 8° off vertical forward or back and 4° sideways) for
//! [`PostureSim::stand_before_s`], then holds it while the trunk drifts: each drift is an
//! episode drawn from the seed and the skill before it starts (the [`PostureScript`], the
//! ground truth), mostly forward (within ±30° of straight ahead):
//! - **inside**: a slow drift to 30–70 % of the band, noticed and corrected within it;
//! - **brief**: a quick wobble 1.5–3° beyond the band and straight back (out under 0.6 s);
//! - **broken**: a drift 2–6° beyond the band, out for 1.5–3 s before it is corrected.
//!
//! A beginner has more brief and broken episodes. Drifts rise as a raised cosine over 3–8 s
//! (a wobble over 0.5 s) and come back over 1 s (0.5 s). Between episodes the person stands
//! with the slow sway of standing. The sensor sits [`SENSOR_ABOVE_HIPS_M`] above the hips and
//! turns with the trunk about them, so the signals are exact kinematics, as for the walker.
//!
//! Sensor frame = body frame in the neutral posture apart from the mounting: x forward, y
//! left, z up.

use nalgebra::{Rotation3, Vector3};
use serde::{Deserialize, Serialize};

use super::rng::SimRng;
use super::walker::{kinematic_signals, Pose, ScriptClock, Sway};
use super::SimConfig;

/// Height of the lumbar sensor above the hip joints, about which the trunk bends, m.
pub const SENSOR_ABOVE_HIPS_M: f64 = 0.15;
/// Height of the hips above the floor, m.
pub(super) const HIPS_M: f64 = 0.95;
/// The first drift starts this long after the neutral stretch, s.
const FIRST_DRIFT_AFTER_S: f64 = 1.5;
/// Drifts are scripted over this long, s.
const HORIZON_S: f64 = 300.0;

/// The simulated posture hold's setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PostureSim {
    /// The drill's band, ± degrees from neutral: the cue the person reacts to.
    pub band_deg: f64,
    /// Standing still in neutral before the first drift, s after streaming starts.
    pub stand_before_s: f64,
}

impl Default for PostureSim {
    /// A ±5° band after 8 s in neutral (time for the estimate to settle and the neutral to
    /// be captured).
    fn default() -> Self {
        PostureSim {
            band_deg: 5.0,
            stand_before_s: 8.0,
        }
    }
}

/// How a drift episode went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Corrected inside the band.
    Inside,
    /// A quick wobble out of the band and back (under 0.6 s out).
    Brief,
    /// Out of the band for 1.5–3 s: the hold was broken.
    Broken,
}

/// One scripted drift: the ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// It starts, s after streaming started.
    pub start_s: f64,
    /// Rise to the peak, s.
    pub rise_s: f64,
    /// Held at the peak, s.
    pub hold_s: f64,
    /// Back to neutral, s.
    pub fall_s: f64,
    /// Deviation at the peak, degrees.
    pub peak_deg: f64,
    /// Direction: 0 straight forward (flexion), positive towards the right, radians.
    pub direction_rad: f64,
    /// Its kind.
    pub kind: DriftKind,
}

impl Drift {
    fn end_s(&self) -> f64 {
        self.start_s + self.rise_s + self.hold_s + self.fall_s
    }

    /// Deviation from neutral at `t`, degrees (0 outside the episode).
    fn deviation_deg(&self, t: f64) -> f64 {
        let u = t - self.start_s;
        let raised = |x: f64| (1.0 - (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos()) / 2.0;
        if u <= 0.0 || t >= self.end_s() {
            0.0
        } else if u < self.rise_s {
            self.peak_deg * raised(u / self.rise_s)
        } else if u < self.rise_s + self.hold_s {
            self.peak_deg
        } else {
            self.peak_deg * (1.0 - raised((u - self.rise_s - self.hold_s) / self.fall_s))
        }
    }
}

/// The drifts of one hold.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureScript {
    /// The sensor's neutral orientation, `world_from_imu`.
    pub world_from_neutral: Rotation3<f64>,
    /// The drifts, in time order, never overlapping.
    pub drifts: Vec<Drift>,
}

impl PostureScript {
    /// The drifts of a person of `skill` drawn from `rng`.
    pub fn draw(skill: f64, setup: PostureSim, rng: &mut SimRng) -> Self {
        let s = skill.clamp(0.0, 1.0);
        let world_from_neutral = Rotation3::from_euler_angles(
            rng.range(-4.0, 4.0).to_radians(),
            rng.range(-8.0, 8.0).to_radians(),
            rng.range(-3.0, 3.0).to_radians(),
        );
        let band = setup.band_deg;
        let p_broken = 0.45 * (1.0 - s);
        let p_brief = 0.1 + 0.3 * (1.0 - s);
        let mut drifts = Vec::new();
        let mut t = setup.stand_before_s + FIRST_DRIFT_AFTER_S;
        while t < setup.stand_before_s + HORIZON_S {
            let pick = rng.uniform();
            let direction_rad = rng.range(-30.0, 30.0).to_radians();
            let drift = if pick < p_broken {
                let peak_deg = band + rng.range(2.0, 6.0);
                let fall_s = 1.0;
                // Out from the rise's crossing of the band (at x of the rise) to the fall's
                // (at 1 − x of the fall): a drift too slow for the time out rises faster.
                let out_s = rng.range(1.5, 3.0);
                let x = (1.0 - 2.0 * band / peak_deg).acos() / std::f64::consts::PI;
                let rise_s = rng
                    .range(3.0, 8.0)
                    .min((out_s - fall_s * (1.0 - x)) / (1.0 - x));
                let hold_s = (out_s - rise_s * (1.0 - x) - fall_s * (1.0 - x)).max(0.0);
                Drift {
                    start_s: t,
                    rise_s,
                    hold_s,
                    fall_s,
                    peak_deg,
                    direction_rad,
                    kind: DriftKind::Broken,
                }
            } else if pick < p_broken + p_brief {
                Drift {
                    start_s: t,
                    rise_s: 0.5,
                    hold_s: 0.0,
                    fall_s: 0.5,
                    peak_deg: band + rng.range(1.5, 3.0),
                    direction_rad,
                    kind: DriftKind::Brief,
                }
            } else {
                Drift {
                    start_s: t,
                    rise_s: rng.range(3.0, 8.0),
                    hold_s: rng.range(0.0, 2.0),
                    fall_s: 1.0,
                    peak_deg: band * rng.range(0.3, 0.7),
                    direction_rad,
                    kind: DriftKind::Inside,
                }
            };
            t = drift.end_s() + rng.range(2.0, 6.0);
            drifts.push(drift);
        }
        PostureScript {
            world_from_neutral,
            drifts,
        }
    }

    /// The trunk's deviation from neutral at `t` (s after streaming started), degrees:
    /// `[flexion (forward +), lateral (to the right +)]`, without the standing sway.
    pub fn deviation_deg(&self, t: f64) -> [f64; 2] {
        let i = self.drifts.partition_point(|d| d.start_s <= t);
        let Some(drift) = i.checked_sub(1).map(|i| &self.drifts[i]) else {
            return [0.0; 2];
        };
        let d = drift.deviation_deg(t);
        [d * drift.direction_rad.cos(), d * drift.direction_rad.sin()]
    }
}

/// The person holding their posture (see the module docs).
#[derive(Debug, Clone)]
pub struct PostureWorld {
    script: PostureScript,
    sway: Sway,
    clock: ScriptClock,
}

impl PostureWorld {
    /// The hold of a person of `skill` drawn from `rng`.
    pub fn new(skill: f64, setup: PostureSim, mut rng: SimRng) -> Self {
        let script = PostureScript::draw(skill, setup, &mut rng);
        let sway = Sway::draw(skill, &mut rng);
        PostureWorld {
            script,
            sway,
            clock: ScriptClock::default(),
        }
    }

    /// The world a simulated wearable of `config` runs (the same hold, for tests).
    pub fn for_config(config: &SimConfig) -> Self {
        PostureWorld::new(
            config.skill,
            config.posture,
            SimRng::new(config.seed, super::stream::PERSON),
        )
    }

    /// The drifts: the ground truth.
    pub fn script(&self) -> &PostureScript {
        &self.script
    }

    /// Its script's clock: started when the wearable streams, stepped with the physics.
    pub(super) fn clock_mut(&mut self) -> &mut ScriptClock {
        &mut self.clock
    }

    fn script_t_s(&self) -> f64 {
        self.clock.script_t_s().unwrap_or(0.0)
    }

    /// The trunk's rotation from neutral at `t`: the drift (flexion about the body's left
    /// axis, lateral bend about its forward axis) and the standing sway.
    fn trunk_at(&self, t: f64) -> Rotation3<f64> {
        let [flexion, lateral] = self.script.deviation_deg(t);
        Rotation3::from_euler_angles(
            lateral.to_radians() + self.sway.at(0, t),
            flexion.to_radians() + self.sway.at(1, t),
            0.0,
        )
    }

    fn pose(&self, t: f64) -> Pose {
        let trunk = self.trunk_at(t);
        Pose {
            position_m: Vector3::new(0.0, 0.0, HIPS_M)
                + trunk * Vector3::new(0.0, 0.0, SENSOR_ABOVE_HIPS_M),
            world_from_imu: trunk * self.script.world_from_neutral,
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

    /// The trunk's true deviation from neutral now, sway included, degrees: `[flexion,
    /// lateral]`.
    pub fn deviation_deg(&self) -> [f64; 2] {
        let (lateral, flexion, _) = self.trunk_at(self.script_t_s()).euler_angles();
        [flexion.to_degrees(), lateral.to_degrees()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifts_keep_their_margins_and_beginners_break_the_hold_more() {
        let broken = |skill: f64| {
            let mut count = 0;
            for seed in 0..20 {
                let script =
                    PostureScript::draw(skill, PostureSim::default(), &mut SimRng::new(seed, 1));
                for d in &script.drifts {
                    // Time out of the ±5° band, sampled every millisecond.
                    let out_s = (0..((d.end_s() - d.start_s) * 1000.0) as usize)
                        .filter(|i| d.deviation_deg(d.start_s + *i as f64 * 1e-3) > 5.0)
                        .count() as f64
                        * 1e-3;
                    match d.kind {
                        DriftKind::Inside => assert!(d.peak_deg <= 3.5 && out_s == 0.0),
                        DriftKind::Brief => assert!(out_s > 0.0 && out_s < 0.6, "{out_s}"),
                        DriftKind::Broken => {
                            assert!((1.45..3.05).contains(&out_s), "{out_s} {d:?}");
                            count += 1;
                        }
                    }
                }
                assert!(script
                    .drifts
                    .windows(2)
                    .all(|w| w[1].start_s > w[0].end_s()));
            }
            count
        };
        assert!(broken(0.1) > 2 * broken(0.8));
    }
}
