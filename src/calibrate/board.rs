//! [`BoardRoutine`], the balance board's routine (raw load-cell counts in), with a known mass:
//! 1. **Empty board** ([`BOARD_TARE_S`] over which no cell moves more than the tare allows):
//!    the tare, each cell's zero and noise ([`board::tare`]).
//! 2. **The mass on each corner** in turn (steps 2–5), front left, front right, back right,
//!    back left, right over the corner's load cell: taken once the load has been steady (each
//!    cell within [`STEADY_NOISE_FACTOR`] times its tare noise) for [`BOARD_STEADY_S`] and its
//!    COP (with the device's nominal, equal gains) is near the corner; then the mass must be
//!    lifted off before the next corner.
//! 3. **The mass at the centre** (step 6): the check. With the new gains its COP must come out
//!    within [`CHECK_MAX_COP_MM`] of the centre and its force within
//!    [`CHECK_MAX_FORCE_PERCENT`] of m·g.
//!
//! The four corner placements fix each cell's gain ([`board::board_gains`], least squares over
//! the force and moment equations); the centre is kept out of the fit so the check is
//! independent. A load that goes clearly negative after the tare means the tare was taken with
//! something on the board: the routine starts again from the tare.
//!
//! The profile's tare is for the record and the check only: the balance-board chain tares
//! again at the start of every drill, as load cells drift ([`crate::pipeline::CopPipeline`]);
//! only the gains (and the geometry they were fitted with) are applied.

use std::collections::VecDeque;

use proprio_calibration::board::{self, BoardGains, Placement, Tare, GRAVITY_M_S2};
use proprio_calibration::CalibrationError;
use proprio_protocol::{DeviceInfo, LoadSample};
use serde::{Deserialize, Serialize};

use crate::pipeline::{BoardGeometry, MIN_LOAD_FLOOR_COUNTS};

/// The empty board's stretch the tare is taken from, s.
pub const BOARD_TARE_S: f64 = 2.0;
/// A placement is taken from this long of steady load, s.
pub const BOARD_STEADY_S: f64 = 2.0;
/// The lightest calibration mass accepted, kg (lighter ones are lost in the cells' noise
/// and the load that counts as placed).
pub const MIN_MASS_KG: f64 = 2.0;
/// The heaviest calibration mass accepted, kg.
pub const MAX_MASS_KG: f64 = 200.0;
/// A steady load: each cell's standard deviation over the stretch is at most this many times
/// its noise on the empty board (4×: pure noise over 160 samples stays within about 1.3×).
pub const STEADY_NOISE_FACTOR: f64 = 4.0;
/// With the new gains, the centre placement's COP is at most this far from the centre, mm
/// (half of it is what a corner placement 30 mm off its cell does to it).
pub const CHECK_MAX_COP_MM: f64 = 15.0;
/// …and its force at most this far from m·g, %.
pub const CHECK_MAX_FORCE_PERCENT: f64 = 3.0;
/// With the device's nominal scale, a placement weighing more than this share off the given
/// mass is refused as the wrong mass (cheap load cells' rated output is within about ±15 %;
/// a wrong mass is usually off by far more).
pub const WRONG_MASS_SHARE: f64 = 0.25;
/// The empty board may move this much per cell during the tare, N (about 50 g)…
const TARE_MAX_SPREAD_N: f64 = 0.5;
/// …or, on a board that does not say its scale, this many counts.
const TARE_MAX_SPREAD_COUNTS: f64 = 1_000.0;
/// A load counts as placed from this many times the empty board's noise (its total's)…
const PLACED_NOISE_FACTOR: f64 = 200.0;
/// …and at least this, N (on a board that does not say its scale, the balance-board chain's
/// [`MIN_LOAD_FLOOR_COUNTS`]).
const PLACED_MIN_N: f64 = 5.0;
/// A placement counts at a spot when its nominal COP is within this share of the board's
/// smaller side of it.
const SPOT_RADIUS_SHARE: f64 = 0.25;

/// Where the routine asks for the mass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoardSpot {
    /// Over the front left load cell.
    FrontLeft,
    /// Over the front right load cell.
    FrontRight,
    /// Over the back right load cell.
    BackRight,
    /// Over the back left load cell.
    BackLeft,
    /// The board's middle.
    Centre,
}

impl BoardSpot {
    /// The spots in the routine's order: the corners in [`proprio_protocol::Corner`] order,
    /// then the centre.
    pub const ALL: [BoardSpot; 5] = [
        BoardSpot::FrontLeft,
        BoardSpot::FrontRight,
        BoardSpot::BackRight,
        BoardSpot::BackLeft,
        BoardSpot::Centre,
    ];

    /// Its name in a sentence, e.g. "front left corner".
    pub fn name(self) -> &'static str {
        match self {
            BoardSpot::FrontLeft => "front left corner",
            BoardSpot::FrontRight => "front right corner",
            BoardSpot::BackRight => "back right corner",
            BoardSpot::BackLeft => "back left corner",
            BoardSpot::Centre => "centre",
        }
    }

    /// Where it is (x right, y forward), mm from the board's middle: a corner is its load
    /// cell's position.
    pub fn at_mm(self, geometry: BoardGeometry) -> [f64; 2] {
        let cells = board::cell_positions_mm(geometry.width_mm, geometry.depth_mm);
        match self {
            BoardSpot::FrontLeft => cells[0],
            BoardSpot::FrontRight => cells[1],
            BoardSpot::BackRight => cells[2],
            BoardSpot::BackLeft => cells[3],
            BoardSpot::Centre => [0.0, 0.0],
        }
    }
}

/// Where a board routine stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum BoardStep {
    /// Leave the board empty and still.
    Tare {
        /// Samples of the empty board so far, s.
        empty_s: f64,
        /// Needed, s.
        need_s: f64,
    },
    /// Place the mass on `spot` and leave it there.
    Place {
        /// Where.
        spot: BoardSpot,
        /// The load has been on the board this long, s (the step takes the first
        /// [`BOARD_STEADY_S`] of it that is steady).
        loaded_s: f64,
        /// Needed, s.
        need_s: f64,
        /// A steady load stands somewhere else: its COP (nominal gains), mm.
        elsewhere_mm: Option<[f64; 2]>,
    },
    /// Lift the mass off `spot`.
    LiftOff {
        /// Where it stands.
        spot: BoardSpot,
    },
    /// The data is complete: call [`BoardRoutine::finish`].
    Done,
}

impl BoardStep {
    /// What the user should do now, in one sentence.
    pub fn instruction(&self) -> String {
        match self {
            BoardStep::Tare { .. } => {
                "Leave the board empty and do not touch it while it tares.".to_string()
            }
            BoardStep::Place {
                spot: BoardSpot::Centre,
                elsewhere_mm: None,
                ..
            } => "Put the mass in the centre of the board and leave it there.".to_string(),
            BoardStep::Place {
                spot,
                elsewhere_mm: None,
                ..
            } => format!(
                "Put the mass on the {}, right over its foot, and leave it there.",
                spot.name()
            ),
            BoardStep::Place {
                spot,
                elsewhere_mm: Some(at),
                ..
            } => format!(
                "The mass stands at x {:+.0} mm, y {:+.0} mm from the middle (x right, y \
                 forward), not on the {}: move it there.",
                at[0],
                at[1],
                spot.name()
            ),
            BoardStep::LiftOff { spot } => {
                format!("Lift the mass off the {}.", spot.name())
            }
            BoardStep::Done => "Done: you can lift the mass off.".to_string(),
        }
    }
}

/// The known placement at the centre, with the new gains.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardCheck {
    /// The mass's weight, N.
    pub weight_n: f64,
    /// The total force the new gains give, N.
    pub force_n: f64,
    /// Its COP, mm from the board's middle.
    pub cop_mm: [f64; 2],
    /// The COP's distance from the centre, mm.
    pub cop_error_mm: f64,
}

/// The board routine's result: the gains that go into the COP chain, and what they rest on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardRoutineResult {
    /// The known mass, kg.
    pub mass_kg: f64,
    /// Where the load cells are (the gains are fitted for it).
    pub geometry: BoardGeometry,
    /// The empty board's zero and noise (for the record and the check; drills tare anew).
    pub tare: Tare,
    /// Each cell's newtons per count, from the corner placements.
    pub gains: BoardGains,
    /// The check at the centre.
    pub check: BoardCheck,
}

impl BoardRoutineResult {
    /// What the routine found, for people (see [`super::Profile::summary`]).
    pub fn summary(&self) -> Vec<String> {
        let mean = self.gains.n_per_count.iter().sum::<f64>() / 4.0;
        let [fl, fr, br, bl] = self.gains.n_per_count.map(|g| (g / mean - 1.0) * 100.0);
        vec![
            format!(
                "cell gains against their mean: front left {fl:+.2} %, front right {fr:+.2} %, \
                 back right {br:+.2} %, back left {bl:+.2} % ({:.0}×{:.0} mm board, {:.1} kg \
                 mass; corner fit: COP {:.1} mm, force {:.2} N RMS)",
                self.geometry.width_mm,
                self.geometry.depth_mm,
                self.mass_kg,
                self.gains.cop_error_rms_mm,
                self.gains.force_error_rms_n
            ),
            format!(
                "check at the centre: COP {:.1} mm from it, force {:.1} N for a weight of {:.1} N",
                self.check.cop_error_mm, self.check.force_n, self.check.weight_n
            ),
        ]
    }
}

/// The board routine (see the module docs): push raw load samples, read
/// [`BoardRoutine::step`], and [`BoardRoutine::finish`] when it says [`BoardStep::Done`] (or
/// earlier, to learn what is missing).
#[derive(Debug, Clone)]
pub struct BoardRoutine {
    mass_kg: f64,
    geometry: BoardGeometry,
    rate_hz: f64,
    /// The device's nominal newtons per count, when it says.
    nominal_n_per_count: Option<f64>,
    /// The current stretch's raw counts: the empty board, or a load in place.
    window: VecDeque<[f64; 4]>,
    tare: Option<Tare>,
    /// Why the last full stretch of the empty board was not a tare.
    tare_refusal: Option<CalibrationError>,
    /// The placements taken, in [`BoardSpot::ALL`] order.
    placements: Vec<Placement>,
    /// Waiting for the mass to be lifted off.
    lifting: bool,
    elsewhere_mm: Option<[f64; 2]>,
}

impl BoardRoutine {
    /// A routine for the board that said `info` in its `Hello` (its rate and nominal scale),
    /// with the known mass `mass_kg` and the cells at `geometry`.
    pub fn new(
        info: &DeviceInfo,
        mass_kg: f64,
        geometry: BoardGeometry,
    ) -> Result<Self, CalibrationError> {
        if !(MIN_MASS_KG..=MAX_MASS_KG).contains(&mass_kg) {
            return Err(CalibrationError::BadMass {
                mass_kg,
                min_kg: MIN_MASS_KG,
                max_kg: MAX_MASS_KG,
            });
        }
        let sides = [geometry.width_mm, geometry.depth_mm];
        if !sides.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(CalibrationError::NotFinite);
        }
        let rate_hz = f64::from(info.sample_rate_hz);
        let scale = f64::from(info.load_n_per_count);
        Ok(BoardRoutine {
            mass_kg,
            geometry,
            // A board that does not say its rate: the HX711's fast rate.
            rate_hz: if rate_hz.is_finite() && rate_hz > 0.0 {
                rate_hz
            } else {
                80.0
            },
            nominal_n_per_count: (scale.is_finite() && scale > 0.0).then_some(scale),
            window: VecDeque::new(),
            tare: None,
            tare_refusal: None,
            placements: Vec::new(),
            lifting: false,
            elsewhere_mm: None,
        })
    }

    /// Samples in a stretch of `seconds`.
    fn samples_in(&self, seconds: f64) -> usize {
        ((seconds * self.rate_hz).round() as usize).max(2)
    }

    /// Where the routine stands.
    pub fn step(&self) -> BoardStep {
        if self.tare.is_none() {
            return BoardStep::Tare {
                empty_s: self.window.len() as f64 / self.rate_hz,
                need_s: BOARD_TARE_S,
            };
        }
        match (self.placements.len(), self.lifting) {
            (n, _) if n >= BoardSpot::ALL.len() => BoardStep::Done,
            (n, true) => BoardStep::LiftOff {
                spot: BoardSpot::ALL[n - 1],
            },
            (n, false) => BoardStep::Place {
                spot: BoardSpot::ALL[n],
                loaded_s: self.window.len() as f64 / self.rate_hz,
                need_s: BOARD_STEADY_S,
                elsewhere_mm: self.elsewhere_mm,
            },
        }
    }

    /// Takes one raw sample and returns the step after it.
    pub fn push(&mut self, sample: &LoadSample) -> BoardStep {
        let counts = sample.counts.map(f64::from);
        match self.tare {
            None => self.push_empty(counts),
            Some(tare) => self.push_loaded(counts, tare),
        }
        self.step()
    }

    fn push_empty(&mut self, counts: [f64; 4]) {
        let need = self.samples_in(BOARD_TARE_S);
        self.window.push_back(counts);
        if self.window.len() < need {
            return;
        }
        let samples: Vec<[f64; 4]> = self.window.iter().copied().collect();
        let limit = self
            .nominal_n_per_count
            .map_or(TARE_MAX_SPREAD_COUNTS, |s| TARE_MAX_SPREAD_N / s);
        match board::tare(&samples, need, limit) {
            Ok(tare) => {
                self.tare = Some(tare);
                self.tare_refusal = None;
                self.window.clear();
            }
            Err(refusal) => {
                // Slide on: the board may yet come to rest.
                self.tare_refusal = Some(refusal);
                self.window.pop_front();
            }
        }
    }

    /// The least tared total that counts as a load placed, counts.
    fn placed_counts(tare: &Tare, nominal_n_per_count: Option<f64>) -> f64 {
        // Quantisation: a cell that reads the same count throughout still has one count of it.
        let noise_total = tare
            .noise_counts
            .iter()
            .map(|n| n.max(1.0).powi(2))
            .sum::<f64>()
            .sqrt();
        let floor = nominal_n_per_count.map_or(MIN_LOAD_FLOOR_COUNTS, |s| PLACED_MIN_N / s);
        (PLACED_NOISE_FACTOR * noise_total).max(floor)
    }

    fn push_loaded(&mut self, counts: [f64; 4], tare: Tare) {
        let placed = Self::placed_counts(&tare, self.nominal_n_per_count);
        let total: f64 = (0..4).map(|i| counts[i] - tare.counts[i]).sum();
        if total < -placed {
            // Something was on the board while it tared, and has gone: start again.
            self.tare = None;
            self.placements.clear();
            self.lifting = false;
            self.elsewhere_mm = None;
            self.window.clear();
            self.window.push_back(counts);
            return;
        }
        if self.lifting {
            if total < placed / 2.0 {
                self.lifting = false;
                self.window.clear();
            }
            return;
        }
        if total < placed {
            self.window.clear();
            self.elsewhere_mm = None;
            return;
        }
        let need = self.samples_in(BOARD_STEADY_S);
        self.window.push_back(counts);
        if self.window.len() > need {
            self.window.pop_front();
        }
        if self.window.len() < need {
            return;
        }
        let n = self.window.len() as f64;
        let mean: [f64; 4] =
            std::array::from_fn(|i| self.window.iter().map(|c| c[i]).sum::<f64>() / n);
        let steady = (0..4).all(|i| {
            let spread = (self
                .window
                .iter()
                .map(|c| (c[i] - mean[i]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
            spread <= STEADY_NOISE_FACTOR * tare.noise_counts[i].max(1.0)
        });
        if !steady {
            return;
        }
        let tared_counts: [f64; 4] = std::array::from_fn(|i| mean[i] - tare.counts[i]);
        // With equal gains: a board off the reel is within a few per cent, far inside the spot.
        let Some(cop_mm) = self.geometry.cop_mm(tared_counts) else {
            return;
        };
        let spot = BoardSpot::ALL[self.placements.len()];
        let at_mm = spot.at_mm(self.geometry);
        let radius_mm = SPOT_RADIUS_SHARE * self.geometry.width_mm.min(self.geometry.depth_mm);
        if (cop_mm[0] - at_mm[0]).hypot(cop_mm[1] - at_mm[1]) > radius_mm {
            self.elsewhere_mm = Some(cop_mm);
            return;
        }
        self.placements.push(Placement {
            mass_kg: self.mass_kg,
            at_mm,
            tared_counts,
        });
        self.elsewhere_mm = None;
        self.window.clear();
        // The centre is the last placement: the mass may stay.
        self.lifting = spot != BoardSpot::Centre;
    }

    /// The placements taken so far, in [`BoardSpot::ALL`] order.
    pub fn placements(&self) -> &[Placement] {
        &self.placements
    }

    /// The gains and the check the data supports; an error names what is missing.
    pub fn finish(&self) -> Result<BoardRoutineResult, CalibrationError> {
        let tare = match (self.tare, &self.tare_refusal) {
            (Some(tare), _) => tare,
            (None, Some(refusal)) => return Err(refusal.clone()),
            (None, None) => {
                return Err(CalibrationError::TooFewSamples {
                    got: self.window.len(),
                    need: self.samples_in(BOARD_TARE_S),
                })
            }
        };
        if let Some(missing) = BoardSpot::ALL.get(self.placements.len()) {
            return Err(CalibrationError::MassNotPlaced {
                spot: missing.name(),
            });
        }
        let weight_n = self.mass_kg * GRAVITY_M_S2;
        if let Some(scale) = self.nominal_n_per_count {
            for (placement, spot) in self.placements.iter().zip(BoardSpot::ALL) {
                let measured_kg = placement.tared_counts.iter().sum::<f64>() * scale / GRAVITY_M_S2;
                if (measured_kg / self.mass_kg - 1.0).abs() > WRONG_MASS_SHARE {
                    return Err(CalibrationError::WrongMass {
                        spot: spot.name(),
                        measured_kg,
                        given_kg: self.mass_kg,
                    });
                }
            }
        }
        let (corners, centre) = self.placements.split_at(4);
        let (width_mm, depth_mm) = (self.geometry.width_mm, self.geometry.depth_mm);
        let gains = board::board_gains(corners, width_mm, depth_mm)?;
        if !gains.per_cell {
            return Err(CalibrationError::GainsNotFixed);
        }
        if gains.n_per_count.iter().any(|g| *g <= 0.0) {
            return Err(CalibrationError::NoFit);
        }
        let centre = centre[0];
        let (force_n, cop_mm) =
            board::force_and_cop(&centre.tared_counts, &gains.n_per_count, width_mm, depth_mm);
        let cop_mm = cop_mm.ok_or(CalibrationError::NoFit)?;
        let cop_error_mm = (cop_mm[0] - centre.at_mm[0]).hypot(cop_mm[1] - centre.at_mm[1]);
        let force_error_percent = (force_n / weight_n - 1.0) * 100.0;
        if !(cop_error_mm <= CHECK_MAX_COP_MM
            && force_error_percent.abs() <= CHECK_MAX_FORCE_PERCENT)
        {
            return Err(CalibrationError::CheckFailed {
                spot: BoardSpot::Centre.name(),
                cop_error_mm,
                force_error_percent,
                max_cop_mm: CHECK_MAX_COP_MM,
                max_force_percent: CHECK_MAX_FORCE_PERCENT,
            });
        }
        Ok(BoardRoutineResult {
            mass_kg: self.mass_kg,
            geometry: self.geometry,
            tare,
            gains,
            check: BoardCheck {
                weight_n,
                force_n,
                cop_mm,
                cop_error_mm,
            },
        })
    }
}

impl super::Routine for BoardRoutine {
    fn push(&mut self, input: super::RoutineInput<'_>) {
        if let super::RoutineInput::Load(sample) = input {
            BoardRoutine::push(self, sample);
        }
    }

    fn progress(&self) -> super::RoutineProgress {
        let step = self.step();
        let steps = 1 + BoardSpot::ALL.len();
        let (number, step_fraction) = match step {
            BoardStep::Tare { empty_s, need_s } => (1, empty_s / need_s),
            BoardStep::Place {
                loaded_s, need_s, ..
            } => (1 + self.placements.len() + 1, loaded_s / need_s),
            // Lifting off finishes the corner's step.
            BoardStep::LiftOff { .. } => (1 + self.placements.len(), 1.0),
            BoardStep::Done => (steps, 1.0),
        };
        super::RoutineProgress {
            instruction: step.instruction(),
            step: number,
            steps,
            step_fraction: step_fraction.clamp(0.0, 1.0),
            done: step == BoardStep::Done,
        }
    }

    fn finish(&self) -> Result<super::Profile, CalibrationError> {
        BoardRoutine::finish(self).map(super::Profile::Board)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::{Profile, Routine, RoutineInput};
    use crate::sim::SimRng;
    use proprio_protocol::{DeviceKind, FirmwareVersion};

    const RATE_HZ: f64 = 80.0;
    const NOISE_COUNTS: f64 = 40.0;

    fn info(n_per_count: f32) -> DeviceInfo {
        DeviceInfo {
            kind: DeviceKind::BalanceBoard,
            firmware: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
            device_id: 3,
            sample_rate_hz: RATE_HZ as f32,
            acc_m_s2_per_lsb: 0.0,
            gyr_rad_s_per_lsb: 0.0,
            mag_ut_per_lsb: 0.0,
            load_n_per_count: n_per_count,
        }
    }

    /// A board whose cell i reads `offset_i + force_i / gain_i + noise`, a load shared
    /// bilinearly ([`BoardGeometry::corner_forces`]).
    struct Synthetic {
        gains_n_per_count: [f64; 4],
        offsets_counts: [f64; 4],
        rng: SimRng,
        seq: u32,
    }

    impl Synthetic {
        fn new() -> Self {
            Synthetic {
                // Nominal 1/4000 N per count, each off by a few per cent.
                gains_n_per_count: [1.03, 0.975, 1.01, 0.99].map(|k| k / 4000.0),
                offsets_counts: [120_000.0, -85_000.0, 40_000.0, 250_000.0],
                rng: SimRng::new(7, 0),
                seq: 0,
            }
        }

        /// `seconds` of `mass_kg` at `at_mm` (no mass: empty), into `routine`.
        fn feed(&mut self, routine: &mut dyn Routine, mass_kg: f64, at_mm: [f64; 2], seconds: f64) {
            let geometry = BoardGeometry::default();
            let forces = geometry.corner_forces(mass_kg * GRAVITY_M_S2, at_mm);
            for _ in 0..(seconds * RATE_HZ) as usize {
                let counts: [i32; 4] = std::array::from_fn(|i| {
                    (self.offsets_counts[i]
                        + forces[i] / self.gains_n_per_count[i]
                        + NOISE_COUNTS * self.rng.normal())
                    .round() as i32
                });
                let sample = LoadSample {
                    seq: self.seq,
                    t_us: 0,
                    counts,
                };
                self.seq += 1;
                routine.push(RoutineInput::Load(&sample));
            }
        }
    }

    #[test]
    fn the_routine_recovers_each_cells_gain_from_synthetic_counts() {
        let geometry = BoardGeometry::default();
        let mut routine = BoardRoutine::new(&info(1.0 / 4000.0), 10.0, geometry).unwrap();
        let mut board = Synthetic::new();
        board.feed(&mut routine, 0.0, [0.0, 0.0], 3.0);
        assert_eq!(routine.progress().step, 2, "{:?}", routine.progress());
        for spot in BoardSpot::ALL {
            assert!(routine
                .progress()
                .instruction
                .contains(spot.name().split(' ').next().unwrap()));
            board.feed(&mut routine, 10.0, spot.at_mm(geometry), 3.0);
            board.feed(&mut routine, 0.0, [0.0, 0.0], 1.0);
        }
        assert!(routine.progress().done, "{:?}", routine.progress());
        let Ok(Profile::Board(result)) = Routine::finish(&routine) else {
            panic!("{:?}", routine.finish());
        };
        // 10 kg on one cell is about 392 000 counts; 160 samples of 40 counts of noise give
        // its mean to 3 counts, the tare's likewise: 1e-5. 1e-4 leaves room for the corner's
        // own neighbours' noise through the least squares.
        for cell in 0..4 {
            let error = result.gains.n_per_count[cell] / board.gains_n_per_count[cell] - 1.0;
            assert!(error.abs() < 1e-4, "cell {cell}: {error:+.6}");
            assert!((result.tare.counts[cell] - board.offsets_counts[cell]).abs() < 20.0);
        }
        assert!(result.gains.per_cell);
        assert!(result.check.cop_error_mm < 0.1, "{:?}", result.check);
        assert!((result.check.force_n / result.check.weight_n - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_placement_is_taken_only_where_asked_and_once_lifted() {
        let geometry = BoardGeometry::default();
        let mut routine = BoardRoutine::new(&info(1.0 / 4000.0), 10.0, geometry).unwrap();
        let mut board = Synthetic::new();
        board.feed(&mut routine, 0.0, [0.0, 0.0], 3.0);
        // On the back right corner when the front left is asked for: not taken, and said so.
        board.feed(
            &mut routine,
            10.0,
            BoardSpot::BackRight.at_mm(geometry),
            4.0,
        );
        let step = routine.step();
        assert!(
            matches!(
                step,
                BoardStep::Place {
                    spot: BoardSpot::FrontLeft,
                    elsewhere_mm: Some(_),
                    ..
                }
            ),
            "{step:?}"
        );
        assert!(
            step.instruction().contains("front left"),
            "{}",
            step.instruction()
        );
        // Moved to the front left: taken; then it must come off before the next corner.
        board.feed(
            &mut routine,
            10.0,
            BoardSpot::FrontLeft.at_mm(geometry),
            3.0,
        );
        assert_eq!(
            routine.step(),
            BoardStep::LiftOff {
                spot: BoardSpot::FrontLeft
            }
        );
        board.feed(
            &mut routine,
            10.0,
            BoardSpot::FrontRight.at_mm(geometry),
            4.0,
        );
        assert_eq!(
            routine.step(),
            BoardStep::LiftOff {
                spot: BoardSpot::FrontLeft
            }
        );
        assert_eq!(routine.placements().len(), 1);
        let error = routine.finish().unwrap_err();
        assert_eq!(
            error,
            CalibrationError::MassNotPlaced {
                spot: "front right corner"
            }
        );
    }

    #[test]
    fn a_mass_out_of_range_is_refused() {
        for mass_kg in [0.0, -5.0, 1.0, 500.0, f64::NAN] {
            let error = BoardRoutine::new(&info(0.00025), mass_kg, BoardGeometry::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("between 2 and 200 kg"), "{error}");
        }
    }
}
