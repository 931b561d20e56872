//! A known mass put on a balance board by hand, as the board's calibration routine asks
//! ([`crate::calibrate::BoardRoutine`]): the board is empty for [`EMPTY_S`] after it starts
//! streaming, then the mass goes on each corner in turn (front left, front right, back right,
//! back left, right over the corner's load cell), each time set down ([`PLACING_S`]: the load
//! comes on and the mass rocks a little as it settles), left still for [`HOLD_S`], lifted off
//! ([`LIFTING_S`]) and kept off for [`GAP_S`]; last it is set down at the centre and left there.

use proprio_calibration::board::cell_positions_mm;

use super::board::{smoothstep, BoardLoad};
use super::STEP_US;
use crate::pipeline::BoardGeometry;
use crate::G_M_S2;

/// The board is empty this long after it starts streaming, s.
pub const EMPTY_S: f64 = 3.0;
/// Setting the mass down takes this long, s.
pub const PLACING_S: f64 = 0.5;
/// The mass is left still on a corner this long, s.
pub const HOLD_S: f64 = 3.0;
/// Lifting it off takes this long, s.
pub const LIFTING_S: f64 = 0.3;
/// It is kept off the board this long before the next corner, s.
pub const GAP_S: f64 = 1.5;
/// The load comes on over this share of the setting down; the rest is its settling.
const RAMP_SHARE: f64 = 0.6;
/// The mass is set down this far from its spot, towards the centre, and slid into place, mm.
const SLIDE_MM: f64 = 15.0;
/// The settling rock: its size (share of the weight), frequency and decay time.
const ROCK_SHARE: f64 = 0.03;
const ROCK_HZ: f64 = 6.0;
const ROCK_DECAY_S: f64 = 0.08;

/// The spots in order (x right, y forward), mm: the four cells' positions in
/// [`proprio_protocol::Corner`] order, then the centre.
pub fn spots_mm(geometry: BoardGeometry) -> [[f64; 2]; 5] {
    let [fl, fr, br, bl] = cell_positions_mm(geometry.width_mm, geometry.depth_mm);
    [fl, fr, br, bl, [0.0, 0.0]]
}

/// The mass and its script, stepped at [`STEP_US`].
#[derive(Debug, Clone)]
pub struct CalibrationMass {
    mass_kg: f64,
    geometry: BoardGeometry,
    t_us: u64,
    stream_start_us: Option<u64>,
}

impl CalibrationMass {
    /// `mass_kg` next to a board with its cells at `geometry`.
    pub fn new(mass_kg: f64, geometry: BoardGeometry) -> Self {
        CalibrationMass {
            mass_kg,
            geometry,
            t_us: 0,
            stream_start_us: None,
        }
    }

    /// Time from the board's first sample until the mass stands still at the centre for
    /// its 3 s hold, s: a run this long holds the whole routine.
    pub fn duration_s() -> f64 {
        EMPTY_S + 4.0 * (PLACING_S + HOLD_S + LIFTING_S + GAP_S) + PLACING_S + HOLD_S
    }

    /// The board has started streaming now: the script's clock starts (once).
    pub fn start_script(&mut self) {
        self.stream_start_us.get_or_insert(self.t_us);
    }

    /// Advances one physics step; returns the load on the board.
    pub fn step(&mut self) -> BoardLoad {
        self.t_us += STEP_US;
        let empty = BoardLoad {
            total_n: 0.0,
            cop_mm: [0.0, 0.0],
        };
        let Some(start_us) = self.stream_start_us else {
            return empty;
        };
        let t_s = (self.t_us - start_us) as f64 * 1e-6 - EMPTY_S;
        if t_s < 0.0 {
            return empty;
        }
        let period_s = PLACING_S + HOLD_S + LIFTING_S + GAP_S;
        let index = ((t_s / period_s).floor() as usize).min(4);
        let s = t_s - index as f64 * period_s;
        let spot = spots_mm(self.geometry)[index];
        let weight_n = self.mass_kg * G_M_S2;
        if s < PLACING_S {
            let on = smoothstep(s / (RAMP_SHARE * PLACING_S));
            let rock = ROCK_SHARE
                * (-s / ROCK_DECAY_S).exp()
                * (std::f64::consts::TAU * ROCK_HZ * s).sin();
            // Set down a little towards the centre, then slid onto the spot (the centre's own
            // direction is nil: set down in place).
            let towards_centre = [-spot[0], -spot[1]];
            let length = towards_centre[0].hypot(towards_centre[1]).max(1e-9);
            let off = SLIDE_MM * (1.0 - on);
            return BoardLoad {
                total_n: weight_n * on * (1.0 + rock),
                cop_mm: [
                    spot[0] + off * towards_centre[0] / length,
                    spot[1] + off * towards_centre[1] / length,
                ],
            };
        }
        // The centre is the last spot: the mass stays there.
        if index == 4 || s < PLACING_S + HOLD_S {
            return BoardLoad {
                total_n: weight_n,
                cop_mm: spot,
            };
        }
        let lifted = s - PLACING_S - HOLD_S;
        if lifted < LIFTING_S {
            return BoardLoad {
                total_n: weight_n * (1.0 - smoothstep(lifted / LIFTING_S)),
                cop_mm: spot,
            };
        }
        empty
    }
}
