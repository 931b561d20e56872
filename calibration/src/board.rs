//! A four-cell balance board: its tare, each cell's gain, and a check of the centre of
//! pressure against a known placement.
//!
//! Cells are in the wire protocol's order, front left, front right, back right, back left, at
//! the corners of a `width_mm` × `depth_mm` rectangle centred on the board's middle (x to the
//! right, y forward). A cell's force is `gain · (counts − tare)`, N.
//!
//! **Gains.** A known mass m at a known spot (x, y) loads the cells so that their forces sum to
//! m·g and their moments put the COP at (x, y): three equations, linear in the four gains.
//! Placements at different corners fix every gain (least squares); placements at the centre
//! only fix one gain common to all cells (a rigid board on four supports shares a load in a
//! way statics cannot tell), which [`BoardGains::per_cell`] says.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::CalibrationError;

/// Below this share of the largest singular value the placements do not tell the cells'
/// gains apart (placements at the centre only, or all along one line).
const SINGULAR: f64 = 1e-2;

/// Standard gravity, m/s².
pub const GRAVITY_M_S2: f64 = 9.80665;

/// The cells' positions (x right, y forward), mm, in protocol order (FL, FR, BR, BL).
pub fn cell_positions_mm(width_mm: f64, depth_mm: f64) -> [[f64; 2]; 4] {
    let (x, y) = (width_mm / 2.0, depth_mm / 2.0);
    [[-x, y], [x, y], [x, -y], [-x, -y]]
}

/// The empty board's zero, and its noise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tare {
    /// Each cell's mean counts with nothing on the board.
    pub counts: [f64; 4],
    /// Each cell's standard deviation over the tare, counts.
    pub noise_counts: [f64; 4],
}

/// The tare from samples of the empty board. Refuses fewer than `min_samples` and a load that
/// moved: any cell whose spread exceeds `max_noise_counts`.
pub fn tare(
    samples: &[[f64; 4]],
    min_samples: usize,
    max_noise_counts: f64,
) -> Result<Tare, CalibrationError> {
    if samples.len() < min_samples.max(2) {
        return Err(CalibrationError::TooFewSamples {
            got: samples.len(),
            need: min_samples.max(2),
        });
    }
    if samples.iter().flatten().any(|x| !x.is_finite()) {
        return Err(CalibrationError::NotFinite);
    }
    let n = samples.len() as f64;
    let mut counts = [0.0; 4];
    let mut noise_counts = [0.0; 4];
    for cell in 0..4 {
        counts[cell] = samples.iter().map(|s| s[cell]).sum::<f64>() / n;
        noise_counts[cell] = (samples
            .iter()
            .map(|s| (s[cell] - counts[cell]).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
    }
    let worst = noise_counts.iter().copied().fold(0.0, f64::max);
    if worst > max_noise_counts {
        return Err(CalibrationError::BoardNotSteady {
            spread_counts: worst,
            limit_counts: max_noise_counts,
        });
    }
    Ok(Tare {
        counts,
        noise_counts,
    })
}

/// A known mass at a known spot, and the cells' mean tared counts under it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The mass, kg.
    pub mass_kg: f64,
    /// Where it stands (x right, y forward), mm from the board's middle.
    pub at_mm: [f64; 2],
    /// Each cell's mean counts minus its tare.
    pub tared_counts: [f64; 4],
}

/// Each cell's gain and how well the placements agree with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardGains {
    /// N per count, protocol order.
    pub n_per_count: [f64; 4],
    /// True when the placements fixed every cell's gain; false when they only fixed one
    /// common gain (placements at the centre only).
    pub per_cell: bool,
    /// RMS over the placements of the COP's distance from where the mass stood, mm.
    pub cop_error_rms_mm: f64,
    /// RMS over the placements of the total force's error, N.
    pub force_error_rms_n: f64,
}

/// The cells' gains from `placements` on a board of `width_mm` × `depth_mm`.
pub fn board_gains(
    placements: &[Placement],
    width_mm: f64,
    depth_mm: f64,
) -> Result<BoardGains, CalibrationError> {
    if placements.is_empty() {
        return Err(CalibrationError::TooFewReadings { got: 0, need: 1 });
    }
    let finite = placements.iter().all(|p| {
        p.mass_kg.is_finite()
            && p.mass_kg > 0.0
            && p.at_mm.iter().chain(&p.tared_counts).all(|x| x.is_finite())
    }) && width_mm > 0.0
        && depth_mm > 0.0;
    if !finite {
        return Err(CalibrationError::NotFinite);
    }
    let cells = cell_positions_mm(width_mm, depth_mm);
    // Rows per placement: Σ g·c = m·G, Σ g·c·x / (W/2) = m·G·x / (W/2), likewise y, so that
    // the three equations weigh alike.
    let (half_w, half_d) = (width_mm / 2.0, depth_mm / 2.0);
    let mut a = DMatrix::zeros(3 * placements.len(), 4);
    let mut b = DVector::zeros(3 * placements.len());
    for (k, p) in placements.iter().enumerate() {
        let weight_n = p.mass_kg * GRAVITY_M_S2;
        for (cell, position) in cells.iter().enumerate() {
            let c = p.tared_counts[cell];
            a[(3 * k, cell)] = c;
            a[(3 * k + 1, cell)] = c * position[0] / half_w;
            a[(3 * k + 2, cell)] = c * position[1] / half_d;
        }
        b[3 * k] = weight_n;
        b[3 * k + 1] = weight_n * p.at_mm[0] / half_w;
        b[3 * k + 2] = weight_n * p.at_mm[1] / half_d;
    }
    let svd = a.clone().svd(true, true);
    let largest = svd.singular_values.max();
    let smallest = svd.singular_values.min();
    let (gains, per_cell) = if largest > 0.0 && smallest > SINGULAR * largest {
        let solved = svd
            .solve(&b, 1e-12 * largest)
            .map_err(|_| CalibrationError::NoFit)?;
        ([solved[0], solved[1], solved[2], solved[3]], true)
    } else {
        // One common gain: Σ c·g = m·G over the placements, least squares.
        let (num, den) = placements.iter().fold((0.0, 0.0), |(num, den), p| {
            let total: f64 = p.tared_counts.iter().sum();
            (num + total * p.mass_kg * GRAVITY_M_S2, den + total * total)
        });
        if den <= 0.0 {
            return Err(CalibrationError::NoFit);
        }
        ([num / den; 4], false)
    };
    if gains.iter().any(|g| !g.is_finite() || *g == 0.0) {
        return Err(CalibrationError::NoFit);
    }
    let (mut cop_sq, mut force_sq) = (0.0, 0.0);
    for p in placements {
        let (total, cop) = force_and_cop(&p.tared_counts, &gains, width_mm, depth_mm);
        force_sq += (total - p.mass_kg * GRAVITY_M_S2).powi(2);
        cop_sq += cop.map_or(f64::INFINITY, |c| {
            (c[0] - p.at_mm[0]).hypot(c[1] - p.at_mm[1]).powi(2)
        });
    }
    let n = placements.len() as f64;
    Ok(BoardGains {
        n_per_count: gains,
        per_cell,
        cop_error_rms_mm: (cop_sq / n).sqrt(),
        force_error_rms_n: (force_sq / n).sqrt(),
    })
}

/// The total force (N) and the COP (mm; `None` without a load) of tared counts.
pub fn force_and_cop(
    tared_counts: &[f64; 4],
    n_per_count: &[f64; 4],
    width_mm: f64,
    depth_mm: f64,
) -> (f64, Option<[f64; 2]>) {
    let forces: Vec<f64> = tared_counts
        .iter()
        .zip(n_per_count)
        .map(|(c, g)| c * g)
        .collect();
    let total: f64 = forces.iter().sum();
    if total.abs() < 1e-9 {
        return (total, None);
    }
    let cells = cell_positions_mm(width_mm, depth_mm);
    let x = forces
        .iter()
        .zip(&cells)
        .map(|(f, p)| f * p[0])
        .sum::<f64>()
        / total;
    let y = forces
        .iter()
        .zip(&cells)
        .map(|(f, p)| f * p[1])
        .sum::<f64>()
        / total;
    (total, Some([x, y]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Noise;

    const W: f64 = 433.0;
    const D: f64 = 238.0;

    /// A board whose cells read `counts = force / gain + offset + noise`; a mass at (x, y) is
    /// shared by the cells as a rigid plate on four supports shares it (bilinearly).
    struct Board {
        gains: [f64; 4],
        offsets: [f64; 4],
        noise: Noise,
    }

    impl Board {
        fn counts(&mut self, mass_kg: f64, at_mm: [f64; 2]) -> [f64; 4] {
            let (u, v) = (0.5 + at_mm[0] / W, 0.5 + at_mm[1] / D);
            let shares = [(1.0 - u) * v, u * v, u * (1.0 - v), (1.0 - u) * (1.0 - v)];
            let mut counts = [0.0; 4];
            for cell in 0..4 {
                let force = mass_kg * GRAVITY_M_S2 * shares[cell];
                counts[cell] =
                    force / self.gains[cell] + self.offsets[cell] + self.noise.normal() * 20.0;
            }
            counts
        }

        fn mean_counts(&mut self, mass_kg: f64, at_mm: [f64; 2], n: usize) -> [f64; 4] {
            let mut sum = [0.0; 4];
            for _ in 0..n {
                let c = self.counts(mass_kg, at_mm);
                for cell in 0..4 {
                    sum[cell] += c[cell] / n as f64;
                }
            }
            sum
        }
    }

    fn board() -> Board {
        Board {
            gains: [2.1e-4, 1.95e-4, 2.05e-4, 2.0e-4],
            offsets: [120_000.0, -85_000.0, 40_000.0, 250_000.0],
            noise: Noise::new(11),
        }
    }

    #[test]
    fn tare_gains_and_cop_are_recovered_from_a_known_mass() {
        let mut b = board();
        let empty: Vec<[f64; 4]> = (0..400).map(|_| b.counts(0.0, [0.0, 0.0])).collect();
        let t = tare(&empty, 200, 100.0).unwrap();
        for cell in 0..4 {
            // 20 counts of noise over 400 samples: the mean within 4 standard errors.
            assert!(
                (t.counts[cell] - b.offsets[cell]).abs() < 4.0 * 20.0 / 400f64.sqrt(),
                "{t:?}"
            );
        }
        // 20 kg near each corner (a quarter of the way in).
        let spots = [
            [-W / 4.0, D / 4.0],
            [W / 4.0, D / 4.0],
            [W / 4.0, -D / 4.0],
            [-W / 4.0, -D / 4.0],
        ];
        let placements: Vec<Placement> = spots
            .iter()
            .map(|&at_mm| {
                let counts = b.mean_counts(20.0, at_mm, 200);
                Placement {
                    mass_kg: 20.0,
                    at_mm,
                    tared_counts: std::array::from_fn(|cell| counts[cell] - t.counts[cell]),
                }
            })
            .collect();
        let gains = board_gains(&placements, W, D).unwrap();
        assert!(gains.per_cell);
        for cell in 0..4 {
            let error = gains.n_per_count[cell] / b.gains[cell] - 1.0;
            assert!(error.abs() < 0.002, "cell {cell}: {error:+.4} {gains:?}");
        }
        assert!(
            gains.cop_error_rms_mm < 0.5 && gains.force_error_rms_n < 0.2,
            "{gains:?}"
        );
        // The check: a 35 kg load elsewhere lands where it stands.
        let counts = b.mean_counts(35.0, [60.0, -30.0], 200);
        let tared = std::array::from_fn(|cell| counts[cell] - t.counts[cell]);
        let (force, cop) = force_and_cop(&tared, &gains.n_per_count, W, D);
        let cop = cop.unwrap();
        assert!((force - 35.0 * GRAVITY_M_S2).abs() < 0.5, "{force}");
        assert!(
            (cop[0] - 60.0).abs() < 0.5 && (cop[1] + 30.0).abs() < 0.5,
            "{cop:?}"
        );
    }

    #[test]
    fn the_centre_alone_gives_one_common_gain() {
        let mut b = board();
        b.gains = [2.0e-4; 4];
        let placements: Vec<Placement> = (0..2)
            .map(|_| {
                let counts = b.mean_counts(25.0, [0.0, 0.0], 200);
                Placement {
                    mass_kg: 25.0,
                    at_mm: [0.0, 0.0],
                    tared_counts: std::array::from_fn(|cell| counts[cell] - b.offsets[cell]),
                }
            })
            .collect();
        let gains = board_gains(&placements, W, D).unwrap();
        assert!(!gains.per_cell);
        assert!(
            (gains.n_per_count[0] / 2.0e-4 - 1.0).abs() < 0.002,
            "{gains:?}"
        );
    }

    #[test]
    fn a_moving_board_and_bad_placements_are_refused() {
        let mut b = board();
        let mut samples: Vec<[f64; 4]> = (0..300).map(|_| b.counts(0.0, [0.0, 0.0])).collect();
        for s in &mut samples[150..] {
            s[2] += 5_000.0; // someone leaned on it
        }
        let e = tare(&samples, 200, 100.0).unwrap_err();
        assert!(matches!(e, CalibrationError::BoardNotSteady { .. }), "{e}");
        assert!(matches!(
            tare(&samples[..50], 200, 100.0),
            Err(CalibrationError::TooFewSamples { .. })
        ));
        assert!(board_gains(&[], W, D).is_err());
        let bad = Placement {
            mass_kg: -1.0,
            at_mm: [0.0, 0.0],
            tared_counts: [1.0; 4],
        };
        assert!(matches!(
            board_gains(&[bad], W, D),
            Err(CalibrationError::NotFinite)
        ));
    }
}
