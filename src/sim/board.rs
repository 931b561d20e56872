//! The virtual person on a balance board, and the board: four load cells read by HX711s.
//!
//! **The person.** Quiet-stance sway is modelled as two independent inverted pendulums about
//! the ankles, antero-posterior (AP) and medio-lateral (ML), linearised:
//! `ẍ = ω²·(x − p)` with `ω² = g/h`, x the centre of mass (COM) and p the centre of pressure
//! (COP) relative to the ankles, h the COM height. The person sets p through the ankle torque:
//! a passive stiffness and damping acting at once, plus a delayed PD controller acting on what
//! they felt `delay` ago (Peterka-type; total stiffness just above the `mgh` that gravity
//! takes), plus motor noise (an Ornstein–Uhlenbeck process through a short low-pass, so the
//! COP path is smooth). The COP is therefore `p = x − ẍ/ω²`, the classic relation. Lower
//! `skill` means a longer delay and more noise: more sway, faster sway.
//!
//! **The script.** The board is empty until the person steps on, [`BalanceBoardSim::step_on_s`]
//! after the board starts streaming (so that the host can tare): first one foot takes about
//! 45 % of the weight, then the second foot, the COP moving from the first foot to where they
//! stand. If [`BalanceBoardSim::step_off_s`] is set, they step off then: weight onto one foot,
//! then off the board.
//!
//! **A known mass instead.** For [`SimDevice::CalibrationBoard`] the person stays off the
//! board and a hand puts a known mass on each corner, then the centre ([`CalibrationMass`],
//! `sim/board_mass.rs`), for the board's calibration routine.
//!
//! **Weight shift.** With [`BalanceBoardSim::shift`] set, the person also does the weight-shift
//! drill: they watch the screen and lean to each target ([`ShiftPerson`], `sim/shift.rs`); the
//! voluntary shift of the COP adds to the sway, and the truth of every target is kept
//! ([`BalanceWorld::shift_truth`]).
//!
//! **The board.** The total vertical force and COP become four corner forces by the bilinear
//! distribution that the Wii formula inverts exactly ([`BoardGeometry::corner_forces`]). Each
//! cell has its own zero offset and gain (nominal plus a small error), white noise, rounding
//! to counts and the HX711's 24-bit range. An HX711 integrates over its conversion period, so a
//! sample is the mean force since the previous conversion. Conversions run on the HX711's own
//! oscillator (a fixed error of up to ±2 %), at 80 or 10 Hz; the microcontroller reads each one
//! up to 1 ms late, sometimes 2–8 ms late ([`LATE_PROB`]), and sometimes misses one
//! ([`MISSED_PROB`]), so samples arrive irregularly, as from real cheap boards.
//!
//! **The device** speaks either proprio's protocol (a `Hello` with kind `BalanceBoard` and its
//! newtons per count, `Load` samples after `Start`, `Ack`s; `Tare` zeroes each cell at its
//! current, noise-free reading, as firmware does, so a tare with someone on the board zeroes
//! them away; `Vibrate` is unsupported; a USB-powered board sends no `Status`) or HX711 text
//! lines from power-on in a configurable layout ([`Hx711Format`]): raw counts, or kilograms
//! from a sketch that tared itself at power-on with the board empty.

use std::collections::VecDeque;

use crate::G_M_S2;

use proprio_protocol::{
    encode_frame, Ack, AckStatus, Decoder, DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion,
    HostMessage, LoadSample, MAX_FRAME_LEN,
};
use serde::{Deserialize, Serialize};

use super::board_mass::CalibrationMass;
use super::imu::is_zero;
use super::rng::SimRng;
use super::shift::{ShiftPerson, ShiftTargetTruth};
use super::{stream, EdgeContacts, SampleTruth, SimConfig, SimDevice, SimOutput, STEP_US};
use crate::devices::hx711::{format_line, Hx711Format, LoadUnit};
use crate::drill::{Feet, StanceCondition, WeightShiftConfig};
use crate::pipeline::BoardGeometry;

const STEP_S: f64 = STEP_US as f64 * 1e-6;
/// Newtons per gram-force (what an HX711 sketch's kilograms are made of).
const N_PER_GRAM: f64 = 0.009_806_65;
/// The HX711's 24-bit output range.
const COUNTS_MAX: f64 = 8_388_607.0;
/// Probability that the microcontroller reads a conversion 2–8 ms late.
pub const LATE_PROB: f64 = 0.03;
/// Probability that it misses a conversion altogether.
pub const MISSED_PROB: f64 = 0.01;

/// The simulated balance board's setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BalanceBoardSim {
    /// Where its load cells are.
    pub geometry: BoardGeometry,
    /// The person steps on this long after the board starts streaming, s.
    pub step_on_s: f64,
    /// The person steps off this long after the board starts streaming, s, if ever.
    pub step_off_s: Option<f64>,
    /// The load cells' errors.
    pub cells: LoadCellErrors,
    /// How the person stands: feet, eyes, surface.
    #[serde(default)]
    pub condition: StanceCondition,
    /// The weight-shift drill the person does (watching its screen), if any.
    #[serde(default)]
    pub shift: Option<WeightShiftConfig>,
    /// The known mass of a [`SimDevice::CalibrationBoard`](super::SimDevice), kg.
    #[serde(
        default = "default_calibration_mass_kg",
        skip_serializing_if = "is_default_calibration_mass"
    )]
    pub calibration_mass_kg: f64,
}

/// The calibration mass unless set: 10 kg.
const CALIBRATION_MASS_KG: f64 = 10.0;

fn default_calibration_mass_kg() -> f64 {
    CALIBRATION_MASS_KG
}

/// Left out of headers at its default, so a seed still makes the same bytes.
fn is_default_calibration_mass(mass_kg: &f64) -> bool {
    *mass_kg == CALIBRATION_MASS_KG
}

impl Default for BalanceBoardSim {
    /// A Wii-sized board; the person steps on 2 s after it starts streaming and stays.
    fn default() -> Self {
        BalanceBoardSim {
            geometry: BoardGeometry::default(),
            step_on_s: 2.0,
            step_off_s: None,
            cells: LoadCellErrors::default(),
            condition: StanceCondition::default(),
            shift: None,
            calibration_mass_kg: CALIBRATION_MASS_KG,
        }
    }
}

/// Error magnitudes of the four load cells and their HX711s; each board draws its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadCellErrors {
    /// Nominal gain, counts per newton (the `Hello` says its inverse).
    pub counts_per_n: f64,
    /// Largest gain error per cell, as a share of the nominal (drawn uniformly within ±).
    pub gain_error: f64,
    /// Largest zero offset per cell, counts (drawn uniformly within ±).
    pub max_offset_counts: f64,
    /// White noise per sample, counts (1σ).
    pub noise_counts: f64,
    /// A board straight off the reel: each cell's further gain error, as a share (drawn
    /// uniformly within ± from its own seed stream); 0 for a board trimmed at the factory.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reel_gain_error: f64,
}

impl Default for LoadCellErrors {
    /// 50 kg half-bridge cells on HX711s at gain 128: about 4000 counts per newton, offsets up
    /// to ±250 000 counts, gains within ±0.5 %, 40 counts of noise at 80 Hz.
    fn default() -> Self {
        LoadCellErrors {
            counts_per_n: 4000.0,
            gain_error: 0.005,
            max_offset_counts: 250_000.0,
            noise_counts: 40.0,
            reel_gain_error: 0.0,
        }
    }
}

impl LoadCellErrors {
    /// The cells of a board straight off the reel, before any calibration: the default cells
    /// (offsets up to ±250 000 counts, gains within ±0.5 %) each a further ±3 % off (the
    /// simulator's board for the calibration routine).
    pub fn uncalibrated() -> Self {
        LoadCellErrors {
            reel_gain_error: 0.03,
            ..LoadCellErrors::default()
        }
    }
}

/// The simulator's ground truth of one board sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardTruth {
    /// Total vertical force over the sample's conversion, N.
    pub total_n: f64,
    /// The COP of that force `[x ML, y AP]`, mm in the board's frame; `None` below 1 N.
    pub cop_mm: Option<[f64; 2]>,
    /// Each cell's output with the board empty, noise-free, in the units the device sends
    /// (counts; grams for HX711 text in kilograms): what a perfect tare finds.
    pub zero_counts: [f64; 4],
    /// True while the person has any weight on the board.
    pub on_board: bool,
}

/// The standing person's parameters, drawn from a skill in [0, 1] and the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StandingPerson {
    /// Body mass, kg (60–90).
    pub mass_kg: f64,
    /// Height of the centre of mass above the ankles, m (0.85–1.0).
    pub com_height_m: f64,
    /// Feedback delay, s.
    pub delay_s: f64,
    /// Passive (immediate) ankle stiffness, as a share of the gravitational `mgh`.
    pub passive_stiffness: f64,
    /// Passive ankle damping, s (per `mgh`).
    pub passive_damping_s: f64,
    /// Delayed proportional gain, as a share of `mgh`.
    pub kp: f64,
    /// Delayed derivative gain, s (per `mgh`).
    pub kd_s: f64,
    /// Motor noise, standard deviation of its COP effect, m (AP; ML is `ml_noise_share` of it).
    pub motor_noise_m: f64,
    /// Motor noise correlation time, s.
    pub motor_noise_tau_s: f64,
    /// ML motor noise as a share of AP (feet apart: less ML sway).
    pub ml_noise_share: f64,
    /// Where they stand on the board: mean COP `[x, y]`, mm.
    pub stance_mm: [f64; 2],
    /// Half the distance between their feet, mm.
    pub foot_half_width_mm: f64,
    /// How far the COP can go from the ankles' centre, medio-lateral and antero-posterior, m
    /// (the base of support the feet make).
    pub base_of_support_m: [f64; 2],
    /// The passive (immediate) stiffness and damping per axis, medio-lateral and
    /// antero-posterior, as multiples of `passive_stiffness` and `passive_damping_s` (a
    /// narrow base is held by co-contraction: stiffer, with no delay to destabilise it).
    pub passive_gain: [f64; 2],
}

impl StandingPerson {
    /// A person of the given skill (0 = very unsteady, 1 = a steady young adult) standing as
    /// `condition` says, their build and stance drawn from `rng`.
    ///
    /// The condition changes the control, not the physics: a narrower base of support (feet
    /// together, heel to toe, one leg) limits the COP and is held by co-contraction (more
    /// passive stiffness medio-laterally, which adds no delay), with more motor noise on one
    /// leg; closed eyes leave slower, noisier feedback; foam absorbs the ankles' passive
    /// stiffness and blurs the feet's sense of the ground. Mean COP velocity relative to feet
    /// apart, eyes open, at skill 0.5 (`cargo test --lib sim::board`, four seeds): eyes closed
    /// about 1.5×, foam 1.4×, tandem 1.5×, one leg 1.8×, the direction of healthy adults'
    /// ratios (eyes closed 1.2–1.6×, one leg 2–3×) if on the gentle side.
    pub fn with_skill(skill: f64, condition: StanceCondition, rng: &mut SimRng) -> Self {
        let mut person = Self::feet_apart(skill, rng);
        let (ml_share, noise, base, gain) = match condition.feet {
            Feet::Apart => (0.7, 1.0, [0.08, 0.08], [1.0, 1.0]),
            Feet::Together => (1.0, 1.05, [0.05, 0.08], [1.5, 1.0]),
            Feet::Tandem => (1.2, 1.2, [0.035, 0.12], [4.0, 1.0]),
            Feet::SingleLeg => (1.3, 1.4, [0.035, 0.08], [5.0, 2.0]),
        };
        person.ml_noise_share = ml_share;
        person.motor_noise_m *= noise;
        person.base_of_support_m = base;
        person.passive_gain = gain;
        if condition.eyes_closed {
            person.motor_noise_m *= 1.35;
            person.delay_s += 0.02;
        }
        if condition.foam {
            person.motor_noise_m *= 1.4;
            person.passive_stiffness = 0.1;
        }
        person
    }

    fn feet_apart(skill: f64, rng: &mut SimRng) -> Self {
        let s = skill.clamp(0.0, 1.0);
        StandingPerson {
            mass_kg: rng.range(60.0, 90.0),
            com_height_m: rng.range(0.85, 1.0),
            delay_s: 0.20 - 0.06 * s,
            passive_stiffness: 0.2,
            passive_damping_s: 0.02,
            kp: 1.0,
            kd_s: 0.3 + 0.05 * s,
            motor_noise_m: 0.0012 * (2.0 - s),
            motor_noise_tau_s: 0.5,
            ml_noise_share: 0.7,
            stance_mm: [rng.range(-15.0, 15.0), rng.range(-25.0, 25.0)],
            foot_half_width_mm: rng.range(80.0, 110.0),
            base_of_support_m: [0.08, 0.08],
            passive_gain: [1.0, 1.0],
        }
    }
}

/// One axis of sway: the COM as an inverted pendulum, and the person's control of it.
#[derive(Debug, Clone)]
struct SwayAxis {
    com_m: f64,
    com_m_s: f64,
    felt: VecDeque<(f64, f64)>,
    noise_ou_m: f64,
    noise_m: f64,
    noise_sigma_m: f64,
    /// The COP cannot leave the feet: ± this from the ankles, m.
    base_m: f64,
    /// The passive stiffness and damping's gain on this axis.
    gain: f64,
}

/// Motor noise is smoothed with this time constant, s (muscles do not twitch in 1 ms).
const NOISE_SMOOTHING_S: f64 = 0.1;
/// A COM further than this from the ankles would be a fall; the person catches it, m.
const COM_CATCH_M: f64 = 0.15;

impl SwayAxis {
    fn new(
        person: &StandingPerson,
        noise_sigma_m: f64,
        [base_m, gain]: [f64; 2],
        rng: &mut SimRng,
    ) -> Self {
        let com_m = rng.range(-0.003, 0.003);
        let delay_steps = ((person.delay_s / STEP_S).round() as usize).max(1);
        SwayAxis {
            com_m,
            com_m_s: 0.0,
            felt: VecDeque::from(vec![(com_m, 0.0); delay_steps]),
            noise_ou_m: 0.0,
            noise_m: 0.0,
            noise_sigma_m,
            base_m,
            gain,
        }
    }

    /// One physics step; returns the COP relative to the ankles, m.
    fn step(&mut self, person: &StandingPerson, rng: &mut SimRng) -> f64 {
        let omega2 = G_M_S2 / person.com_height_m;
        let (felt_m, felt_m_s) = self.felt.pop_front().unwrap_or((0.0, 0.0));
        // Ornstein–Uhlenbeck, exact discretisation, then a first-order smoothing.
        let decay = (-STEP_S / person.motor_noise_tau_s).exp();
        self.noise_ou_m = self.noise_ou_m * decay
            + self.noise_sigma_m * (1.0 - decay * decay).sqrt() * rng.normal();
        self.noise_m += (self.noise_ou_m - self.noise_m) * (STEP_S / NOISE_SMOOTHING_S);
        let cop_m = (self.gain
            * (person.passive_stiffness * self.com_m + person.passive_damping_s * self.com_m_s)
            + person.kp * felt_m
            + person.kd_s * felt_m_s
            + self.noise_m)
            .clamp(-self.base_m, self.base_m);
        let accel = omega2 * (self.com_m - cop_m);
        self.com_m_s += accel * STEP_S;
        self.com_m += self.com_m_s * STEP_S;
        if self.com_m.abs() > COM_CATCH_M {
            self.com_m = COM_CATCH_M.copysign(self.com_m);
            self.com_m_s = 0.0;
        }
        self.felt.push_back((self.com_m, self.com_m_s));
        cop_m
    }
}

/// What the person puts on the board at one physics step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardLoad {
    /// Total vertical force, N.
    pub total_n: f64,
    /// Its COP `[x, y]`, mm in the board's frame.
    pub cop_mm: [f64; 2],
}

/// The person and the board's script, stepped at [`STEP_US`].
#[derive(Debug, Clone)]
pub struct BalanceWorld {
    person: StandingPerson,
    setup: BalanceBoardSim,
    ap: SwayAxis,
    ml: SwayAxis,
    vertical_ou_n: f64,
    first_foot: f64,
    last_foot: f64,
    t_us: u64,
    stream_start_us: Option<u64>,
    touch_downs: Vec<TouchDownTruth>,
    shift: Option<Box<ShiftPerson>>,
    rng: SimRng,
}

/// A touch-down of the free foot in single-leg stance: the script's truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TouchDownTruth {
    /// When the foot touched the floor, s after the board started streaming.
    pub start_s: f64,
    /// When it was lifted again (it leaves the floor over [`TOUCH_DOWN_RAMP_S`] from then), s.
    pub end_s: f64,
    /// The share of the weight it took off the board.
    pub share: f64,
}

/// The free foot loads and unloads over this long, s.
pub const TOUCH_DOWN_RAMP_S: f64 = 0.08;
/// No touch-down before this long after the step-on (the hold has started by then), s.
const FIRST_TOUCH_DOWN_AFTER_S: f64 = 3.5;
/// Touch-downs are scripted over this long after the first possible one, s.
const TOUCH_DOWN_HORIZON_S: f64 = 180.0;

/// Vertical force fluctuation while standing (breathing, heartbeat), N (1σ)…
const VERTICAL_NOISE_N: f64 = 2.0;
/// …and its correlation time, s.
const VERTICAL_NOISE_TAU_S: f64 = 0.1;

/// 0 → 1 smoothly over s in [0, 1].
pub(super) fn smoothstep(s: f64) -> f64 {
    let s = s.clamp(0.0, 1.0);
    s * s * (3.0 - 2.0 * s)
}

fn lerp(a: [f64; 2], b: [f64; 2], s: f64) -> [f64; 2] {
    [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s]
}

impl BalanceWorld {
    /// A person of `skill` next to the board, drawn from `rng`.
    pub fn new(skill: f64, setup: BalanceBoardSim, mut rng: SimRng) -> Self {
        let mut person = StandingPerson::with_skill(skill, setup.condition, &mut rng);
        let [base_ml_m, base_ap_m] = person.base_of_support_m;
        let [gain_ml, gain_ap] = person.passive_gain;
        let ap = SwayAxis::new(
            &person,
            person.motor_noise_m,
            [base_ap_m, gain_ap],
            &mut rng,
        );
        let ml = SwayAxis::new(
            &person,
            person.motor_noise_m * person.ml_noise_share,
            [base_ml_m, gain_ml],
            &mut rng,
        );
        let side = |rng: &mut SimRng| if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
        let first_foot = side(&mut rng);
        let last_foot = side(&mut rng);
        let mut touch_downs = Vec::new();
        if setup.condition.feet == Feet::SingleLeg {
            // They stand on the foot they stepped on with.
            person.stance_mm[0] = person.first_foot_mm(first_foot);
            touch_downs = touch_down_script(skill, setup.step_on_s, &mut rng);
        }
        // Its own stream, so that the standing drills' people stay as they were.
        let shift = setup.shift.map(|config| {
            let shift_rng = SimRng::new(rng.next_u64(), stream::SHIFT);
            Box::new(ShiftPerson::new(
                config,
                skill,
                person.stance_mm,
                setup.geometry,
                shift_rng,
            ))
        });
        BalanceWorld {
            person,
            setup,
            ap,
            ml,
            vertical_ou_n: 0.0,
            first_foot,
            last_foot,
            t_us: 0,
            stream_start_us: None,
            touch_downs,
            shift,
            rng,
        }
    }

    /// The weight shift's truth of every target shown so far (none without a weight shift).
    pub fn shift_truth(&self) -> &[ShiftTargetTruth] {
        self.shift.as_ref().map_or(&[], |s| s.truths())
    }

    /// The person doing the weight shift, if they are.
    pub fn shift_person(&self) -> Option<&ShiftPerson> {
        self.shift.as_deref()
    }

    /// The board sent a sample converted from `forces_n` at device time `device_us` (now, in
    /// the world's time): a person doing the weight shift sees it on the screen.
    pub fn observe_sample(&mut self, device_us: u64, forces_n: [f64; 4]) {
        if let (Some(shift), Some(start_us)) = (self.shift.as_mut(), self.stream_start_us) {
            shift.observe(
                self.t_us as f64 * 1e-6,
                start_us as f64 * 1e-6,
                device_us,
                forces_n,
            );
        }
    }

    /// The free foot's touch-downs (single-leg stance; none otherwise).
    pub fn touch_downs(&self) -> &[TouchDownTruth] {
        &self.touch_downs
    }

    /// The world a simulated board of `config` runs: the same person, the same sway, step
    /// for step (for tests that need the person's COP at every physics step).
    pub fn for_config(config: &SimConfig) -> Self {
        BalanceWorld::new(
            config.skill,
            config.balance_board,
            SimRng::new(config.seed, stream::PERSON),
        )
    }

    /// The person.
    pub fn person(&self) -> &StandingPerson {
        &self.person
    }

    /// The board has started streaming now: the script's clock starts (once).
    pub fn start_script(&mut self) {
        self.stream_start_us.get_or_insert(self.t_us);
    }

    /// Advances one physics step; returns the load on the board.
    pub fn step(&mut self) -> BoardLoad {
        self.t_us += STEP_US;
        let p = self.person;
        let cop_ap_m = self.ap.step(&p, &mut self.rng);
        let cop_ml_m = self.ml.step(&p, &mut self.rng);
        let decay = (-STEP_S / VERTICAL_NOISE_TAU_S).exp();
        self.vertical_ou_n = self.vertical_ou_n * decay
            + VERTICAL_NOISE_N * (1.0 - decay * decay).sqrt() * self.rng.normal();

        let shift_mm = self
            .shift
            .as_mut()
            .map_or([0.0; 2], |s| s.displacement_mm(self.t_us as f64 * 1e-6));
        let standing = [
            p.stance_mm[0] + cop_ml_m * 1000.0 + shift_mm[0],
            p.stance_mm[1] + cop_ap_m * 1000.0 + shift_mm[1],
        ];
        let Some(start_us) = self.stream_start_us else {
            return BoardLoad {
                total_n: 0.0,
                cop_mm: standing,
            };
        };
        let t_s = self.t_us.saturating_sub(start_us) as f64 * 1e-6;
        let first = [p.first_foot_mm(self.first_foot), p.stance_mm[1]];
        let on = t_s - self.setup.step_on_s;
        let (mut share, mut cop_mm) = if on < 0.0 {
            (0.0, first)
        } else if on < 0.5 {
            (0.45 * smoothstep(on / 0.5), first)
        } else {
            let b = smoothstep((on - 0.5) / 0.7);
            (0.45 + 0.55 * b, lerp(first, standing, b))
        };
        if let Some(td) = self
            .touch_downs
            .iter()
            .find(|td| t_s >= td.start_s && t_s < td.end_s + TOUCH_DOWN_RAMP_S)
        {
            let on = smoothstep((t_s - td.start_s) / TOUCH_DOWN_RAMP_S);
            let off = smoothstep((t_s - td.end_s) / TOUCH_DOWN_RAMP_S);
            share *= 1.0 - td.share * on * (1.0 - off);
        }
        if let Some(off_s) = self.setup.step_off_s {
            let off = t_s - off_s;
            let last = [p.first_foot_mm(self.last_foot), p.stance_mm[1]];
            if off >= 0.9 {
                share = 0.0;
            } else if off >= 0.4 {
                cop_mm = last;
                share *= 1.0 - smoothstep((off - 0.4) / 0.5);
            } else if off >= 0.0 {
                cop_mm = lerp(cop_mm, last, smoothstep(off / 0.4));
            }
        }
        if let Some(shift) = self.shift.as_mut() {
            shift.track(self.t_us as f64 * 1e-6, cop_mm);
        }
        BoardLoad {
            total_n: share * (p.mass_kg * G_M_S2 + self.vertical_ou_n),
            cop_mm,
        }
    }
}

/// Touch-downs of a person of `skill` on one leg: a Poisson process (about 2 in 30 s at skill
/// 0.2, one in 5 minutes at 1), each 0.6–1.6 s long and taking 25–50 % of the weight, at least
/// 2.5 s apart.
fn touch_down_script(skill: f64, step_on_s: f64, rng: &mut SimRng) -> Vec<TouchDownTruth> {
    let rate_per_s = 0.1 * (1.0 - skill.clamp(0.0, 1.0)).powf(1.5) + 0.003;
    let first_s = step_on_s + FIRST_TOUCH_DOWN_AFTER_S;
    let mut script = Vec::new();
    let mut t_s = first_s;
    loop {
        t_s += -(1.0 - rng.uniform()).ln() / rate_per_s;
        if t_s > first_s + TOUCH_DOWN_HORIZON_S {
            return script;
        }
        let duration_s = rng.range(0.6, 1.6);
        script.push(TouchDownTruth {
            start_s: t_s,
            end_s: t_s + duration_s,
            share: rng.range(0.25, 0.5),
        });
        t_s += duration_s + 2.5;
    }
}

impl StandingPerson {
    fn first_foot_mm(&self, side: f64) -> f64 {
        self.stance_mm[0] + side * self.foot_half_width_mm
    }
}

/// One load cell with its HX711.
#[derive(Debug, Clone, Copy)]
struct LoadCell {
    offset_counts: f64,
    counts_per_n: f64,
}

/// A conversion waiting to be read by the microcontroller.
#[derive(Debug, Clone, Copy)]
struct Conversion {
    read_at_us: f64,
    forces_n: [f64; 4],
}

/// The virtual balance board (see the module docs).
pub struct VirtualBoard {
    config: SimConfig,
    hx711: Hx711Format,
    world: BalanceWorld,
    /// The calibration routine's mass, for a [`SimDevice::CalibrationBoard`] (the person then
    /// stays off the board).
    mass: Option<CalibrationMass>,
    cells: [LoadCell; 4],
    device_zero_counts: [f64; 4],
    sensor_rng: SimRng,
    schedule_rng: SimRng,
    fault_rng: SimRng,
    commands: Decoder<HostMessage>,
    device_id: u32,
    clock_start_us: u32,
    t_true_us: u64,
    streaming: bool,
    rate_hz: u16,
    oscillator_error: f64,
    next_conversion_us: f64,
    force_sums_n: [f64; 4],
    force_steps: u32,
    last_forces_n: [f64; 4],
    waiting: Option<Conversion>,
    seq: u32,
    pending_replies: Vec<DeviceMessage>,
}

/// The HX711's rates: 80 Hz, or 10 Hz when asked for less than this, Hz.
const FAST_RATE_FROM_HZ: u16 = 45;

fn hx711_rate(asked_hz: u16) -> u16 {
    if asked_hz >= FAST_RATE_FROM_HZ {
        80
    } else {
        10
    }
}

impl VirtualBoard {
    /// A powered-on board. With proprio's protocol it waits for `Start`; as an HX711 text
    /// device it streams from power-on.
    pub fn new(config: SimConfig) -> Self {
        let mut device_rng = SimRng::new(config.seed, stream::DEVICE);
        let clock_start_us = config
            .device_clock_start_us
            .unwrap_or_else(|| device_rng.next_u64() as u32);
        let device_id = device_rng.next_u64() as u32;
        let mut sensor_rng = SimRng::new(config.seed, stream::SENSOR);
        let errors = config.balance_board.cells;
        let mut cells = [(); 4].map(|()| LoadCell {
            offset_counts: sensor_rng
                .range(-errors.max_offset_counts, errors.max_offset_counts)
                .round(),
            counts_per_n: errors.counts_per_n
                * (1.0 + sensor_rng.range(-errors.gain_error, errors.gain_error)),
        });
        if errors.reel_gain_error > 0.0 {
            // Its own stream, so that a trimmed board of the same seed stays as it was.
            let mut reel_rng = SimRng::new(config.seed, stream::BOARD_REEL);
            for cell in &mut cells {
                cell.counts_per_n *=
                    1.0 + reel_rng.range(-errors.reel_gain_error, errors.reel_gain_error);
            }
        }
        let mut schedule_rng = SimRng::new(config.seed, stream::BOARD_SCHEDULE);
        let oscillator_error = schedule_rng.range(-0.02, 0.02);
        let free_running = config.output == SimOutput::Hx711Text;
        let mut world = BalanceWorld::for_config(&config);
        let mut mass = (config.device == SimDevice::CalibrationBoard).then(|| {
            CalibrationMass::new(
                config.balance_board.calibration_mass_kg,
                config.balance_board.geometry,
            )
        });
        if free_running {
            world.start_script();
            if let Some(mass) = mass.as_mut() {
                mass.start_script();
            }
        }
        let rate_hz = hx711_rate(config.rate_hz);
        VirtualBoard {
            hx711: Hx711Format::default(),
            world,
            mass,
            cells,
            device_zero_counts: [0.0; 4],
            sensor_rng,
            schedule_rng,
            fault_rng: SimRng::new(config.seed, stream::FAULTS),
            commands: Decoder::new(),
            device_id,
            clock_start_us,
            t_true_us: 0,
            streaming: free_running,
            rate_hz,
            oscillator_error,
            next_conversion_us: 1e6 / f64::from(rate_hz),
            force_sums_n: [0.0; 4],
            force_steps: 0,
            last_forces_n: [0.0; 4],
            waiting: None,
            seq: 0,
            pending_replies: Vec::new(),
            config,
        }
    }

    /// The person and the board's script.
    pub fn world(&self) -> &BalanceWorld {
        &self.world
    }

    /// Each cell's true gain, newtons per count of what the device sends over proprio's
    /// protocol (raw counts): what a perfect calibration finds.
    pub fn cell_n_per_count(&self) -> [f64; 4] {
        self.cells.map(|c| 1.0 / c.counts_per_n)
    }

    /// The line layout of an HX711 text device (default: `TL,TR,BR,BL` in counts).
    pub fn set_hx711_format(&mut self, format: Hx711Format) {
        self.hx711 = format;
    }

    /// Takes bytes the host wrote (any chunking); commands take effect at the current time.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.config.output != SimOutput::Proprio {
            return; // an HX711 sketch ignores its input
        }
        for command in super::decode_commands(&mut self.commands, bytes) {
            self.handle(command);
        }
    }

    fn handle(&mut self, command: HostMessage) {
        let ack = |status| {
            DeviceMessage::Ack(Ack {
                command: command.kind(),
                status,
            })
        };
        match command {
            HostMessage::GetInfo => self.pending_replies.push(DeviceMessage::Hello(self.info())),
            HostMessage::Start { rate_hz } => {
                let rate_hz = hx711_rate(rate_hz);
                if !self.streaming || rate_hz != self.rate_hz {
                    self.rate_hz = rate_hz;
                    self.next_conversion_us = self.t_true_us as f64 + self.period_us();
                    self.force_sums_n = [0.0; 4];
                    self.force_steps = 0;
                    self.waiting = None;
                }
                self.streaming = true;
                self.world.start_script();
                if let Some(mass) = self.mass.as_mut() {
                    mass.start_script();
                }
                self.pending_replies.push(DeviceMessage::Hello(self.info()));
            }
            HostMessage::Stop => {
                self.streaming = false;
                self.pending_replies.push(ack(AckStatus::Ok));
            }
            HostMessage::Tare => {
                for (i, zero) in self.device_zero_counts.iter_mut().enumerate() {
                    let cell = self.cells[i];
                    *zero = cell.offset_counts + cell.counts_per_n * self.last_forces_n[i];
                }
                self.pending_replies.push(ack(AckStatus::Ok));
            }
            HostMessage::Vibrate { .. } => self.pending_replies.push(ack(AckStatus::Unsupported)),
        }
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            kind: DeviceKind::BalanceBoard,
            firmware: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
            device_id: self.device_id,
            sample_rate_hz: f32::from(self.rate_hz),
            acc_m_s2_per_lsb: 0.0,
            gyr_rad_s_per_lsb: 0.0,
            mag_ut_per_lsb: 0.0,
            load_n_per_count: (1.0 / self.config.balance_board.cells.counts_per_n) as f32,
        }
    }

    fn period_us(&self) -> f64 {
        1e6 / f64::from(self.rate_hz) * (1.0 + self.oscillator_error)
    }

    /// The device's own clock (drifting, not wrapped), µs.
    fn device_clock_us(&self) -> u64 {
        let drifted = self.t_true_us as f64 * (1.0 + self.config.clock_drift_ppm * 1e-6);
        u64::from(self.clock_start_us) + drifted as u64
    }

    fn stalled(&self) -> bool {
        self.config.faults.stall.is_some_and(|s| {
            let t_s = self.t_true_us as f64 * 1e-6;
            t_s >= s.at_s && t_s < s.at_s + s.duration_s
        })
    }

    /// Each cell's noise-free empty-board output in the units the device sends.
    fn zero_counts(&self) -> [f64; 4] {
        match (self.config.output, self.hx711.unit) {
            (SimOutput::Hx711Text, LoadUnit::Kilograms) => [0.0; 4],
            _ => [0, 1, 2, 3].map(|i| self.cells[i].offset_counts - self.device_zero_counts[i]),
        }
    }

    /// Runs the world up to true time `t_true_us`, appending every byte the device sends to
    /// `out` and, if given, the truth of every sample it takes to `truth`.
    pub fn advance_to(
        &mut self,
        t_true_us: u64,
        out: &mut Vec<u8>,
        mut truth: Option<&mut Vec<SampleTruth>>,
    ) {
        for reply in std::mem::take(&mut self.pending_replies) {
            self.emit(&reply, out);
        }
        let geometry = self.config.balance_board.geometry;
        while self.t_true_us + STEP_US <= t_true_us {
            self.t_true_us += STEP_US;
            let load = match self.mass.as_mut() {
                Some(mass) => mass.step(),
                None => self.world.step(),
            };
            let forces = geometry.corner_forces(load.total_n, load.cop_mm);
            self.last_forces_n = forces;
            if !self.streaming {
                continue;
            }
            for (sum, f) in self.force_sums_n.iter_mut().zip(forces) {
                *sum += f;
            }
            self.force_steps += 1;
            let now_us = self.t_true_us as f64;
            if now_us >= self.next_conversion_us {
                self.next_conversion_us += self.period_us();
                let n = f64::from(self.force_steps.max(1));
                let forces_n = std::mem::take(&mut self.force_sums_n).map(|s| s / n);
                self.force_steps = 0;
                if !self.schedule_rng.chance(MISSED_PROB) {
                    let mut delay_us = self.schedule_rng.range(0.0, 1_000.0);
                    if self.schedule_rng.chance(LATE_PROB) {
                        delay_us += self.schedule_rng.range(2_000.0, 8_000.0);
                    }
                    // A conversion not read before the next one is overwritten (missed).
                    self.waiting = Some(Conversion {
                        read_at_us: now_us + delay_us,
                        forces_n,
                    });
                }
            }
            if let Some(conversion) = self.waiting.filter(|c| now_us >= c.read_at_us) {
                self.waiting = None;
                self.read(conversion, out, truth.as_deref_mut());
            }
        }
    }

    /// The microcontroller reads a conversion and sends it.
    fn read(
        &mut self,
        conversion: Conversion,
        out: &mut Vec<u8>,
        truth: Option<&mut Vec<SampleTruth>>,
    ) {
        let noise = self.config.balance_board.cells.noise_counts;
        let mut raw = [0.0; 4];
        for (i, value) in raw.iter_mut().enumerate() {
            let cell = self.cells[i];
            let counts = cell.offset_counts - self.device_zero_counts[i]
                + cell.counts_per_n * conversion.forces_n[i]
                + noise * self.sensor_rng.normal();
            *value = counts.round().clamp(-COUNTS_MAX, COUNTS_MAX);
        }
        let device_us = self.device_clock_us();
        self.world.observe_sample(device_us, conversion.forces_n);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let lost = self.stalled() || self.fault_rng.chance(self.config.faults.drop_prob);
        if let Some(truth) = truth {
            let total_n: f64 = conversion.forces_n.iter().sum();
            let geometry = self.config.balance_board.geometry;
            truth.push(SampleTruth {
                seq,
                t_true_us: self.t_true_us,
                t_device_us: device_us as u32,
                tilt_deg: 0.0,
                edge_contacts: EdgeContacts::default(),
                lost,
                walk: None,
                posture_deg: None,
                wobble: None,
                stance: None,
                board: Some(BoardTruth {
                    total_n,
                    cop_mm: (total_n >= 1.0)
                        .then(|| geometry.cop_mm(conversion.forces_n))
                        .flatten(),
                    zero_counts: self.zero_counts(),
                    on_board: total_n > 0.0,
                }),
            });
        }
        if lost {
            return;
        }
        match self.config.output {
            SimOutput::Hx711Text => {
                let values = match self.hx711.unit {
                    LoadUnit::Counts => raw,
                    // The sketch tared itself at power-on (empty board) and divides by its
                    // calibration factor: grams, printed as kilograms.
                    LoadUnit::Kilograms => [0, 1, 2, 3].map(|i| {
                        (raw[i] - self.cells[i].offset_counts)
                            / self.config.balance_board.cells.counts_per_n
                            / N_PER_GRAM
                    }),
                };
                let millis = (device_us / 1000) as u32;
                let line = format_line(&self.hx711, millis, values.map(|v| v.round() as i32));
                self.emit_bytes(line.as_bytes(), out);
            }
            _ => {
                let sample = LoadSample {
                    seq,
                    t_us: device_us as u32,
                    counts: raw.map(|v| v as i32),
                };
                self.emit(&DeviceMessage::Load(sample), out);
            }
        }
    }

    /// Frames one message, applying the link faults.
    fn emit(&mut self, message: &DeviceMessage, out: &mut Vec<u8>) {
        if self.config.output != SimOutput::Proprio {
            return;
        }
        let mut frame = [0u8; MAX_FRAME_LEN];
        let Ok(n) = encode_frame(message, &mut frame) else {
            return; // every message the board builds fits
        };
        self.emit_bytes(&frame[..n], out);
    }

    /// Appends bytes as sent, applying the link faults (garbage, bit flips).
    fn emit_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let faults = self.config.faults;
        if self.fault_rng.chance(faults.garbage_prob) {
            let len = 1 + self.fault_rng.below(24) as usize;
            out.extend((0..len).map(|_| self.fault_rng.next_u64() as u8));
        }
        let start = out.len();
        out.extend_from_slice(bytes);
        if self.fault_rng.chance(faults.corrupt_prob) && !bytes.is_empty() {
            let bit = self.fault_rng.below(bytes.len() as u64 * 8) as usize;
            out[start + bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean COP velocity (mm/s) and RMS per axis (mm) of 30 s of standing, over four seeds.
    fn sway_of(condition: StanceCondition, skill: f64) -> (f64, [f64; 2]) {
        let (mut velocity, mut rms) = (0.0, [0.0; 2]);
        for seed in 0..4 {
            let setup = BalanceBoardSim {
                condition,
                step_on_s: 0.0,
                ..BalanceBoardSim::default()
            };
            let mut world = BalanceWorld::new(skill, setup, SimRng::new(seed, 1));
            world.start_script();
            // 25 Hz points after 10 s of settling.
            let points: Vec<[f64; 2]> = (0..40_000)
                .map(|_| world.step().cop_mm)
                .skip(10_000)
                .step_by(40)
                .collect();
            let n = points.len() as f64;
            for (axis, sum) in rms.iter_mut().enumerate() {
                let mean = points.iter().map(|p| p[axis]).sum::<f64>() / n;
                let ss = points.iter().map(|p| (p[axis] - mean).powi(2)).sum::<f64>();
                *sum += (ss / n).sqrt() / 4.0;
            }
            let path: f64 = points
                .windows(2)
                .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
                .sum();
            velocity += path / 30.0 / 4.0;
        }
        (velocity, rms)
    }

    #[test]
    fn harder_stances_sway_more_and_nobody_falls_against_the_edge_of_the_feet() {
        let apart = StanceCondition::default();
        let with = |feet, eyes_closed, foam| StanceCondition {
            feet,
            eyes_closed,
            foam,
        };
        let (base, _) = sway_of(apart, 0.5);
        let mut ratios = Vec::new();
        for condition in [
            with(Feet::Apart, true, false),
            with(Feet::Apart, false, true),
            with(Feet::Tandem, false, false),
            with(Feet::SingleLeg, false, false),
        ] {
            let (velocity, rms) = sway_of(condition, 0.5);
            ratios.push(velocity / base);
            // A person pinned at the edge of the base of support (a fall the model catches)
            // would have next to no sway on that axis.
            assert!(rms.iter().all(|&r| r > 2.0), "{condition:?}: RMS {rms:?}");
            // A beginner sways more than an expert in every condition.
            assert!(sway_of(condition, 0.1).0 > sway_of(condition, 0.9).0);
        }
        println!(
            "velocity / feet apart, eyes open (closed eyes, foam, tandem, one leg): {ratios:.2?}"
        );
        assert!(ratios.iter().all(|&r| r > 1.2), "{ratios:?}");
    }

    #[test]
    fn the_person_steps_on_after_the_board_starts_and_weighs_what_they_weigh() {
        let mut world = BalanceWorld::new(0.6, BalanceBoardSim::default(), SimRng::new(1, 0));
        let mass = world.person().mass_kg;
        assert!((60.0..90.0).contains(&mass));
        for _ in 0..5_000 {
            assert_eq!(
                world.step().total_n,
                0.0,
                "nobody steps on before streaming"
            );
        }
        world.start_script();
        let mut loads = Vec::new();
        for _ in 0..10_000 {
            loads.push(world.step().total_n);
        }
        assert!(loads[..2_000].iter().all(|&f| f == 0.0), "empty for 2 s");
        let standing = &loads[4_000..];
        let mean = standing.iter().sum::<f64>() / standing.len() as f64;
        assert!(
            (mean - mass * G_M_S2).abs() < 3.0,
            "{mean} vs {}",
            mass * G_M_S2
        );
    }

    #[test]
    fn stepping_off_unloads_the_board() {
        let setup = BalanceBoardSim {
            step_off_s: Some(6.0),
            ..BalanceBoardSim::default()
        };
        let mut world = BalanceWorld::new(0.6, setup, SimRng::new(2, 0));
        world.start_script();
        let loads: Vec<f64> = (0..8_000).map(|_| world.step().total_n).collect();
        assert!(loads[5_900] > 500.0);
        assert!(loads[6_950..].iter().all(|&f| f == 0.0));
    }

    /// The person's own COP (every 1 ms step) from 5 s to `end_s` of streaming, measured as
    /// the drill measures a board's.
    fn sway(skill: f64, seed: u64, end_s: u64) -> crate::drill::SwayMeasures {
        let mut world = BalanceWorld::new(skill, BalanceBoardSim::default(), SimRng::new(seed, 1));
        world.start_script();
        let mut stretch = crate::measures::Stretch::default();
        for k in 0..end_s * 1_000 {
            let load = world.step();
            if k >= 5_000 {
                stretch.push(k as f64 * 1e-3, load.cop_mm[0], load.cop_mm[1]);
            }
        }
        crate::drill::cop_sway(&[stretch])
    }

    /// Measured (200 s runs, seeds 1–3): skill 1 sways 8.6–8.7 mm/s with an RMS of 3.7–4.1 mm
    /// AP and 2.8–2.9 mm ML; skill 0.6 13.3–13.5 mm/s, 5.8–6.4 mm AP; skill 0 23–24 mm/s.
    #[test]
    fn sway_is_that_of_healthy_adults_and_grows_as_skill_falls() {
        for seed in 1..=3 {
            let expert = sway(1.0, seed, 200);
            let middle = sway(0.6, seed, 200);
            let beginner = sway(0.0, seed, 200);
            assert!(
                (7.0..11.0).contains(&expert.mean_velocity_mm_s),
                "{expert:?}"
            );
            assert!((3.0..5.0).contains(&expert.rms_ap_mm), "{expert:?}");
            assert!(
                expert.rms_ml_mm < expert.rms_ap_mm,
                "feet apart: less ML sway"
            );
            assert!(
                (11.0..16.0).contains(&middle.mean_velocity_mm_s),
                "{middle:?}"
            );
            assert!(beginner.mean_velocity_mm_s > 2.0 * expert.mean_velocity_mm_s);
            assert!(beginner.ellipse_area_95_mm2 > 4.0 * expert.ellipse_area_95_mm2);
        }
    }
}
