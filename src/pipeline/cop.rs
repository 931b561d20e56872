//! The balance-board chain: four load-cell counts → tare → forces → centre of pressure (COP).
//!
//! # Brief overview
//! - [`CopPipeline`] takes each timed [`LoadSample`] and returns a [`CopSample`]: the board's
//!   phase ([`BoardPhase`]: taring, empty, someone on it), the total load and, when someone is
//!   on the board, the COP in millimetres in the board's frame.
//! - [`BoardGeometry`]: where the four load cells are (default: the Wii Balance Board's
//!   433 × 238 mm).
//! - [`WindowResampler`]: a regular series from irregular samples by averaging fixed windows.
//!
//! # Rules
//! - **Units.** Counts become newtons with the device's `load_n_per_count` (its `Hello`; for
//!   HX711 text in kilograms, newtons per gram). A calibrated board
//!   ([`CopConfig::cell_n_per_count`], from [`crate::calibrate::BoardRoutine`]) has a gain per
//!   cell instead: cell i's force is `gain_i · (counts_i − zero_i)`; the chain works in counts
//!   of the cells' mean gain (each cell's tared counts weighed by its gain over the mean), so
//!   the thresholds below and the COP formula are unchanged, and a board without a scale of
//!   its own gets one. A device that sends raw counts without a scale
//!   (HX711 text in counts) is handled in tared counts: the COP needs only ratios of the four
//!   forces, so it is the same; only the thresholds below change. Counts must grow with the
//!   load: a cell wired the other way round reads a negative load (swap its signal wires).
//! - **Tare.** The board must be empty when the stream starts. The tare (each cell's zero) is
//!   the mean of each cell over the first [`TARE_S`] of samples (device time, at least
//!   [`TARE_MIN_SAMPLES`]). With a known scale the stretch must be steady: a sample whose total
//!   differs from the stretch's first by more than [`TARE_STEADY_N`] starts the stretch again
//!   (someone stepping on while the board tares). If after taring the total goes below minus
//!   the minimum load, someone was on the board while it tared: the pipeline tares again.
//!   A calibrated board's stored tare is not used: load cells drift, so every drill tares
//!   anew and only the calibration's gains apply.
//!   A device's own tare (`HostMessage::Tare`) is not needed and not sent: proprio's tare
//!   works on any board and never zeroes a person away after a reconnection.
//! - **Someone on the board.** With a known scale: a total of at least [`MIN_LOAD_N`]
//!   (about 20 kg). Without a scale: at least [`MIN_LOAD_NOISE_FACTOR`] times the standard
//!   deviation of the empty board's total while it tared, and at least
//!   [`MIN_LOAD_FLOOR_COUNTS`]. The board counts as empty again below half that (hysteresis).
//!   Below the minimum load there is no COP: a few kilograms on a corner give a COP that
//!   means nothing.
//! - **COP** (x medio-lateral, + to the right; y antero-posterior, + forward; the board's
//!   centre is 0): `x = (W/2)·((FR+BR) − (FL+BL))/ΣF`, `y = (D/2)·((FL+FR) − (BL+BR))/ΣF`,
//!   W and D the distances between the cells left–right and front–back.
//! - **Time.** Each sample keeps the time it was delivered with; nothing here differentiates.
//!   Measures that need a regular series use [`WindowResampler`] (averages of fixed windows;
//!   a window without samples is a gap, never bridged).

use proprio_protocol::{DeviceInfo, LoadSample};
use serde::{Deserialize, Serialize};

/// Version of the balance-board chain (tare rule, thresholds, COP formula, resampling).
/// Bump it whenever a change can move a result.
pub const COP_PIPELINE_VERSION: &str = "cop-1";

/// The tare averages this long of the empty board, s of device time.
pub const TARE_S: f64 = 1.0;
/// …and at least this many samples (a 10 Hz board gives 10).
pub const TARE_MIN_SAMPLES: usize = 5;
/// With a known scale, a tare stretch whose total moves more than this is not an empty,
/// still board, N (about 2 kg); without one, [`MIN_LOAD_FLOOR_COUNTS`] is the limit.
pub const TARE_STEADY_N: f64 = 20.0;
/// Least total load that counts as someone on the board, N (about 20 kg).
pub const MIN_LOAD_N: f64 = 200.0;
/// Without a scale: the least load, in multiples of the empty board's noise (its total's
/// standard deviation while taring)…
pub const MIN_LOAD_NOISE_FACTOR: f64 = 1000.0;
/// …and never less than this many counts.
pub const MIN_LOAD_FLOOR_COUNTS: f64 = 5000.0;
/// The board counts as empty again below this share of the minimum load.
const EMPTY_AGAIN_SHARE: f64 = 0.5;

/// Where a balance board's four load cells are, seen from above (user facing forward).
///
/// Not to be confused with [`crate::sim::BoardGeometry`], the simulated rocker board.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardGeometry {
    /// Distance between the left and right cells' centres, mm.
    pub width_mm: f64,
    /// Distance between the front and back cells' centres, mm.
    pub depth_mm: f64,
}

impl Default for BoardGeometry {
    /// The Wii Balance Board: 433 mm left–right, 238 mm front–back.
    fn default() -> Self {
        BoardGeometry {
            width_mm: 433.0,
            depth_mm: 238.0,
        }
    }
}

impl BoardGeometry {
    /// Parses `WxD` in millimetres, e.g. `433x238` (each 50–2000 mm).
    pub fn parse(text: &str) -> Result<BoardGeometry, String> {
        let parsed = text
            .split_once(['x', 'X', '×'])
            .and_then(|(w, d)| Some((w.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?)))
            .filter(|&(w, d)| (50.0..=2000.0).contains(&w) && (50.0..=2000.0).contains(&d));
        match parsed {
            Some((width_mm, depth_mm)) => Ok(BoardGeometry { width_mm, depth_mm }),
            None => Err(format!(
                "'{text}' is not a board geometry WIDTHxDEPTH in mm (each 50 to 2000, e.g. 433x238)"
            )),
        }
    }

    /// The COP of four corner forces (any one unit, [`proprio_protocol::Corner`] order), mm;
    /// `None` when their total is not positive.
    pub fn cop_mm(&self, forces: [f64; 4]) -> Option<[f64; 2]> {
        let [fl, fr, br, bl] = forces;
        let total = fl + fr + br + bl;
        // NaN fails `is_finite`; zero and negative totals have no COP.
        if !total.is_finite() || total <= 0.0 {
            return None;
        }
        Some([
            self.width_mm / 2.0 * ((fr + br) - (fl + bl)) / total,
            self.depth_mm / 2.0 * ((fl + fr) - (bl + br)) / total,
        ])
    }

    /// The corner forces ([`proprio_protocol::Corner`] order) that a total `total` with its
    /// COP at `cop_mm` puts on the cells, distributed bilinearly: the exact inverse of
    /// [`BoardGeometry::cop_mm`]. A COP outside the cells' rectangle is moved onto its edge
    /// (the board would tip).
    pub fn corner_forces(&self, total: f64, cop_mm: [f64; 2]) -> [f64; 4] {
        let u = (cop_mm[0] / (self.width_mm / 2.0)).clamp(-1.0, 1.0);
        let v = (cop_mm[1] / (self.depth_mm / 2.0)).clamp(-1.0, 1.0);
        let q = total / 4.0;
        [
            q * (1.0 - u) * (1.0 + v),
            q * (1.0 + u) * (1.0 + v),
            q * (1.0 + u) * (1.0 - v),
            q * (1.0 - u) * (1.0 - v),
        ]
    }
}

/// How the balance-board chain is set up; recorded with the session.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CopConfig {
    /// Where the load cells are.
    pub geometry: BoardGeometry,
    /// Each cell's newtons per count ([`proprio_protocol::Corner`] order), from a board
    /// calibration ([`crate::calibrate::BoardRoutine`]), in place of the device's single
    /// scale; `None`: the device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_n_per_count: Option<[f64; 4]>,
}

/// What the board is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoardPhase {
    /// Measuring the empty board's zero: nobody should be on it.
    Taring,
    /// Tared; nobody on it.
    Empty,
    /// Someone is on it: the COP is valid.
    OnBoard,
}

/// The chain's output for one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopSample {
    /// Device time, µs since the stream's first sample (as delivered; irregular).
    pub t_us: u64,
    /// What the board is doing.
    pub phase: BoardPhase,
    /// Total load after the tare, counts (0 while taring). Ratios of it are unit-free.
    pub total_counts: f64,
    /// Total load after the tare, N, when the device's scale is known.
    pub total_n: Option<f64>,
    /// Centre of pressure `[x ML, y AP]`, mm in the board's frame, when someone is on the board.
    pub cop_mm: Option<[f64; 2]>,
    /// Each load cell's force after the tare, N, in [`proprio_protocol::Corner`] order, when
    /// tared and the device's scale is known (for exports).
    pub cells_n: Option<[f64; 4]>,
}

/// Counts in, COP out. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct CopPipeline {
    config: CopConfig,
    n_per_count: Option<f64>,
    /// With calibrated cells: their mean gain (the chain's scale) and each cell's gain as a
    /// share of it, which weighs its tared counts.
    cells: Option<(f64, [f64; 4])>,
    info_known: bool,
    tare: Tare,
    on_board: bool,
    retares: u64,
}

/// The tare's state.
#[derive(Debug, Clone)]
enum Tare {
    /// Collecting: the stretch's first time and total, per-cell sums, sum and sum of squares
    /// of the total, sample count.
    Collecting {
        first: Option<(u64, f64)>,
        sums: [f64; 4],
        total_sum: f64,
        total_sum_sq: f64,
        n: usize,
    },
    /// Done: each cell's zero and the least load that counts as someone on the board, counts.
    Done {
        zero_counts: [f64; 4],
        min_load_counts: f64,
    },
}

impl Tare {
    fn start() -> Tare {
        Tare::Collecting {
            first: None,
            sums: [0.0; 4],
            total_sum: 0.0,
            total_sum_sq: 0.0,
            n: 0,
        }
    }
}

impl CopPipeline {
    /// A chain waiting for the device's scale and then the empty board.
    pub fn new(config: CopConfig) -> Self {
        let cells = config
            .cell_n_per_count
            .filter(|g| g.iter().all(|g| g.is_finite() && *g > 0.0))
            .map(|g| {
                let mean = g.iter().sum::<f64>() / 4.0;
                (mean, g.map(|g| g / mean))
            });
        CopPipeline {
            config,
            n_per_count: None,
            cells,
            info_known: false,
            tare: Tare::start(),
            on_board: false,
            retares: 0,
        }
    }

    /// Takes the device's `Hello`: its newtons per count (0 or not finite: unknown scale). With
    /// calibrated cells their mean gain is the scale instead.
    pub fn set_device_info(&mut self, info: &DeviceInfo) {
        let scale = f64::from(info.load_n_per_count);
        self.n_per_count = match self.cells {
            Some((mean, _)) => Some(mean),
            None => (scale.is_finite() && scale > 0.0).then_some(scale),
        };
        self.info_known = true;
    }

    /// Newtons per count, if the device said (with calibrated cells, their mean gain).
    pub fn n_per_count(&self) -> Option<f64> {
        self.n_per_count
    }

    /// Each cell's zero, counts, once tared.
    pub fn tare_counts(&self) -> Option<[f64; 4]> {
        match self.tare {
            Tare::Done { zero_counts, .. } => Some(zero_counts),
            Tare::Collecting { .. } => None,
        }
    }

    /// The least tared total that counts as someone on the board, counts, once tared.
    pub fn min_load_counts(&self) -> Option<f64> {
        match self.tare {
            Tare::Done {
                min_load_counts, ..
            } => Some(min_load_counts),
            Tare::Collecting { .. } => None,
        }
    }

    /// Times the pipeline had to tare again (someone was on the board while it tared).
    pub fn retares(&self) -> u64 {
        self.retares
    }

    /// The board's configuration.
    pub fn config(&self) -> &CopConfig {
        &self.config
    }

    /// Runs one sample (accepted by the clock, at device time `t_us`). `None` until the device
    /// info is known.
    pub fn push(&mut self, sample: &LoadSample, t_us: u64) -> Option<CopSample> {
        if !self.info_known {
            return None;
        }
        let counts = sample.counts.map(f64::from);
        let raw_total: f64 = counts.iter().sum();
        let taring = CopSample {
            t_us,
            phase: BoardPhase::Taring,
            total_counts: 0.0,
            total_n: None,
            cop_mm: None,
            cells_n: None,
        };
        match &mut self.tare {
            Tare::Collecting {
                first,
                sums,
                total_sum,
                total_sum_sq,
                n,
            } => {
                // Without a scale, a move by the smallest load that counts as someone on the
                // board is unsteady (far above an empty board's noise on any HX711 board).
                let steady_counts = self
                    .n_per_count
                    .map_or(MIN_LOAD_FLOOR_COUNTS, |s| TARE_STEADY_N / s);
                let restart = first.is_some_and(|(_, first_total)| {
                    (raw_total - first_total).abs() > steady_counts
                });
                if first.is_none() || restart {
                    *first = Some((t_us, raw_total));
                    *sums = [0.0; 4];
                    *total_sum = 0.0;
                    *total_sum_sq = 0.0;
                    *n = 0;
                }
                for (sum, c) in sums.iter_mut().zip(counts) {
                    *sum += c;
                }
                *total_sum += raw_total;
                *total_sum_sq += raw_total * raw_total;
                *n += 1;
                let span_s = first.map_or(0.0, |(t0, _)| t_us.saturating_sub(t0) as f64 * 1e-6);
                if span_s >= TARE_S && *n >= TARE_MIN_SAMPLES {
                    let count = *n as f64;
                    let zero_counts = sums.map(|s| s / count);
                    let mean = *total_sum / count;
                    let variance = (*total_sum_sq / count - mean * mean).max(0.0);
                    let min_load_counts = match self.n_per_count {
                        Some(scale) => MIN_LOAD_N / scale,
                        None => {
                            (MIN_LOAD_NOISE_FACTOR * variance.sqrt()).max(MIN_LOAD_FLOOR_COUNTS)
                        }
                    };
                    self.tare = Tare::Done {
                        zero_counts,
                        min_load_counts,
                    };
                    self.on_board = false;
                }
                Some(taring)
            }
            Tare::Done {
                zero_counts,
                min_load_counts,
            } => {
                let mut forces = [0, 1, 2, 3].map(|i| counts[i] - zero_counts[i]);
                if let Some((_, weights)) = self.cells {
                    // In counts of the mean gain, so the thresholds and the scale hold as they are.
                    forces = [0, 1, 2, 3].map(|i| forces[i] * weights[i]);
                }
                let total_counts: f64 = forces.iter().sum();
                if total_counts < -*min_load_counts {
                    // Someone was on the board while it tared: they have stepped off now.
                    self.retares += 1;
                    self.tare = Tare::start();
                    self.on_board = false;
                    return self.push(sample, t_us);
                }
                self.on_board = if self.on_board {
                    total_counts >= EMPTY_AGAIN_SHARE * *min_load_counts
                } else {
                    total_counts >= *min_load_counts
                };
                let (phase, cop_mm) = if self.on_board {
                    (BoardPhase::OnBoard, self.config.geometry.cop_mm(forces))
                } else {
                    (BoardPhase::Empty, None)
                };
                Some(CopSample {
                    t_us,
                    phase,
                    total_counts,
                    total_n: self.n_per_count.map(|s| total_counts * s),
                    cop_mm,
                    cells_n: self.n_per_count.map(|s| forces.map(|f| f * s)),
                })
            }
        }
    }
}

/// A regular series from irregular samples: the mean of the samples in each window of
/// `1/rate_hz` seconds, windows aligned to an origin, each window's point standing for its
/// centre. The boxcar average is also the series' fixed low-pass (a 40 ms window at 25 Hz is
/// −3 dB at about 11 Hz). A run of windows without samples becomes one gap (`None`): a series
/// is never interpolated or differentiated across one.
#[derive(Debug, Clone)]
pub struct WindowResampler {
    origin_us: u64,
    period_us: f64,
    /// The open window: its index and the sums of x, y and the count.
    open: Option<(u64, [f64; 2], u32)>,
}

impl WindowResampler {
    /// Windows of `1/rate_hz` s from `origin_us` (device time).
    pub fn new(origin_us: u64, rate_hz: f64) -> Self {
        let rate_hz = if rate_hz.is_finite() && rate_hz > 0.0 {
            rate_hz
        } else {
            25.0
        };
        WindowResampler {
            origin_us,
            period_us: 1e6 / rate_hz,
            open: None,
        }
    }

    /// Adds the point `xy` at `t_us`; appends the windows it closes to `out`. Points before the
    /// origin, or before the open window (out of order), are ignored.
    pub fn push(&mut self, t_us: u64, xy: [f64; 2], out: &mut Vec<Option<[f64; 2]>>) {
        let Some(since) = t_us.checked_sub(self.origin_us) else {
            return;
        };
        let index = (since as f64 / self.period_us).floor() as u64;
        match &mut self.open {
            Some((open_index, sums, n)) if *open_index == index => {
                sums[0] += xy[0];
                sums[1] += xy[1];
                *n += 1;
            }
            Some((open_index, _, _)) if index < *open_index => {}
            _ => {
                if let Some((open_index, sums, n)) = self.open.take() {
                    out.push(Some(mean(sums, n)));
                    if index > open_index + 1 {
                        out.push(None);
                    }
                }
                self.open = Some((index, xy, 1));
            }
        }
    }

    /// Closes the open window (if it has samples) into `out`.
    pub fn flush(&mut self, out: &mut Vec<Option<[f64; 2]>>) {
        if let Some((_, sums, n)) = self.open.take() {
            out.push(Some(mean(sums, n)));
        }
    }

    /// Starts over after a gap the caller knows of: the open window is closed into `out` and a
    /// gap marked.
    pub fn break_series(&mut self, out: &mut Vec<Option<[f64; 2]>>) {
        if self.open.is_some() {
            self.flush(out);
            out.push(None);
        }
    }
}

fn mean(sums: [f64; 2], n: u32) -> [f64; 2] {
    let n = f64::from(n.max(1));
    [sums[0] / n, sums[1] / n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proprio_protocol::{DeviceKind, FirmwareVersion};

    fn info(n_per_count: f32) -> DeviceInfo {
        DeviceInfo {
            kind: DeviceKind::BalanceBoard,
            firmware: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
            device_id: 1,
            sample_rate_hz: 80.0,
            acc_m_s2_per_lsb: 0.0,
            gyr_rad_s_per_lsb: 0.0,
            mag_ut_per_lsb: 0.0,
            load_n_per_count: n_per_count,
        }
    }

    fn sample(seq: u32, counts: [i32; 4]) -> LoadSample {
        LoadSample {
            seq,
            t_us: 0,
            counts,
        }
    }

    #[test]
    fn the_wii_formula_inverts_the_bilinear_distribution() {
        let g = BoardGeometry::default();
        for cop in [[0.0, 0.0], [12.5, -30.0], [-200.0, 100.0], [216.5, -119.0]] {
            let forces = g.corner_forces(700.0, cop);
            assert!((forces.iter().sum::<f64>() - 700.0).abs() < 1e-9);
            let back = g.cop_mm(forces).unwrap();
            assert!((back[0] - cop[0]).abs() < 1e-9 && (back[1] - cop[1]).abs() < 1e-9);
        }
        // Hand-worked: all on the front right cell is the front right corner.
        assert_eq!(g.cop_mm([0.0, 10.0, 0.0, 0.0]), Some([216.5, 119.0]));
        // Twice as much on the right as on the left: x = 216.5 · (2 − 1)/3.
        let [x, y] = g.cop_mm([1.0, 2.0, 2.0, 1.0]).unwrap();
        assert!((x - 216.5 / 3.0).abs() < 1e-12 && y.abs() < 1e-12);
        assert_eq!(g.cop_mm([0.0; 4]), None);
        assert_eq!(g.cop_mm([1.0, -1.0, 0.0, 0.0]), None);
    }

    #[test]
    fn geometry_parses_and_rejects_in_one_sentence() {
        assert_eq!(
            BoardGeometry::parse("433x238"),
            Ok(BoardGeometry::default())
        );
        assert_eq!(
            BoardGeometry::parse("500X300").map(|g| (g.width_mm, g.depth_mm)),
            Ok((500.0, 300.0))
        );
        for bad in [
            "",
            "433",
            "433x",
            "x238",
            "0x238",
            "433x-1",
            "433x238x1",
            "wide x deep",
        ] {
            let err = BoardGeometry::parse(bad).unwrap_err();
            assert!(
                err.contains("433x238") && !err.contains('\n'),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn tares_on_the_empty_board_then_finds_the_person() {
        let scale = 0.001; // N per count
        let mut p = CopPipeline::new(CopConfig::default());
        assert_eq!(p.push(&sample(0, [0; 4]), 0), None, "no info yet");
        p.set_device_info(&info(scale as f32));
        let zero = [1000, -2000, 3000, 500];
        let mut t_us = 0;
        for seq in 0..=80 {
            assert!(p.tare_counts().is_none(), "not 1 s yet at {t_us} µs");
            let out = p.push(&sample(seq, zero), t_us).unwrap();
            assert_eq!(out.phase, BoardPhase::Taring);
            t_us += 12_500;
        }
        let out = p.push(&sample(81, zero), t_us).unwrap();
        assert_eq!(out.phase, BoardPhase::Empty);
        assert_eq!(p.tare_counts(), Some(zero.map(f64::from)));
        // 100 N, below the minimum load: empty, no COP.
        let light = [25_000, 25_000, 25_000, 25_000];
        let loaded = |l: [i32; 4]| [0, 1, 2, 3].map(|i| zero[i] + l[i]);
        let out = p.push(&sample(82, loaded(light)), t_us).unwrap();
        assert_eq!((out.phase, out.cop_mm), (BoardPhase::Empty, None));
        assert!((out.total_n.unwrap() - 100.0).abs() < 1e-4); // the scale is an f32
                                                              // 700 N, all on the right: on the board, COP at x = +216.5.
        let right = [0, 350_000, 350_000, 0];
        let out = p.push(&sample(83, loaded(right)), t_us).unwrap();
        assert_eq!(out.phase, BoardPhase::OnBoard);
        assert_eq!(out.cop_mm, Some([216.5, 0.0]));
        // 150 N is still on the board (hysteresis); 90 N is not.
        let out = p.push(&sample(84, loaded([37_500; 4])), t_us).unwrap();
        assert_eq!(out.phase, BoardPhase::OnBoard);
        let out = p.push(&sample(85, loaded([22_500; 4])), t_us).unwrap();
        assert_eq!(out.phase, BoardPhase::Empty);
    }

    #[test]
    fn calibrated_cells_weigh_each_cells_counts_by_its_own_gain() {
        let config = CopConfig {
            cell_n_per_count: Some([2e-3, 1e-3, 1e-3, 1e-3]),
            ..CopConfig::default()
        };
        let mut p = CopPipeline::new(config);
        // The device's own scale gives way to the cells' mean gain.
        p.set_device_info(&info(0.001));
        assert_eq!(p.n_per_count(), Some(1.25e-3));
        for seq in 0..=90u32 {
            p.push(&sample(seq, [0; 4]), u64::from(seq) * 12_500);
        }
        // Hand-worked: forces 200, 200, 200, 100 N: 700 N; x = 216.5 · (400 − 300)/700,
        // y = 119 · (400 − 300)/700.
        let out = p
            .push(
                &sample(91, [100_000, 200_000, 200_000, 100_000]),
                91 * 12_500,
            )
            .unwrap();
        assert_eq!(out.phase, BoardPhase::OnBoard);
        let cells = out.cells_n.unwrap();
        for (cell, expected) in cells.iter().zip([200.0, 200.0, 200.0, 100.0]) {
            assert!((cell - expected).abs() < 1e-9, "{cells:?}");
        }
        assert!((out.total_n.unwrap() - 700.0).abs() < 1e-9);
        let [x, y] = out.cop_mm.unwrap();
        assert!(
            (x - 216.5 / 7.0).abs() < 1e-9 && (y - 17.0).abs() < 1e-9,
            "{x} {y}"
        );
    }

    #[test]
    fn a_person_on_the_board_while_it_tares_is_found_out() {
        let mut p = CopPipeline::new(CopConfig::default());
        p.set_device_info(&info(0.001));
        let person = [200_000; 4]; // 800 N on the board from the start
        for seq in 0..=90u32 {
            p.push(&sample(seq, person), u64::from(seq) * 12_500);
        }
        assert_eq!(p.tare_counts(), Some([200_000.0; 4]));
        // They step off: the total is −800 N: tare again.
        let out = p.push(&sample(91, [0; 4]), 91 * 12_500).unwrap();
        assert_eq!(out.phase, BoardPhase::Taring);
        assert_eq!(p.retares(), 1);
        for seq in 92..=180u32 {
            p.push(&sample(seq, [0; 4]), u64::from(seq) * 12_500);
        }
        assert_eq!(p.tare_counts(), Some([0.0; 4]));
    }

    #[test]
    fn stepping_on_while_taring_restarts_the_tare() {
        let mut p = CopPipeline::new(CopConfig::default());
        p.set_device_info(&info(0.001));
        // 0.5 s empty, then 300 N arrives: the stretch starts again with the load.
        for seq in 0..40u32 {
            p.push(&sample(seq, [0; 4]), u64::from(seq) * 12_500);
        }
        for seq in 40..200u32 {
            p.push(&sample(seq, [75_000; 4]), u64::from(seq) * 12_500);
        }
        assert_eq!(p.tare_counts(), Some([75_000.0; 4]));
    }

    #[test]
    fn without_a_scale_the_threshold_follows_the_noise() {
        let mut p = CopPipeline::new(CopConfig::default());
        p.set_device_info(&info(0.0));
        for seq in 0..100u32 {
            let wobble = if seq % 2 == 0 { 10 } else { -10 };
            p.push(&sample(seq, [wobble, 0, 0, 0]), u64::from(seq) * 12_500);
        }
        // σ ≈ 10 counts (81 samples of ±10): 1000 σ ≈ 10 000 counts.
        let min_load = p.min_load_counts().unwrap();
        assert!((min_load - 10_000.0).abs() < 10.0, "{min_load}");
        let out = p
            .push(&sample(100, [0, 6_000, 6_000, 0]), 1_250_000)
            .unwrap();
        assert_eq!(out.phase, BoardPhase::OnBoard);
        assert_eq!(out.total_n, None);
        // The zero of cell 0 is the mean of ±10: 10/81, a hair off 0.
        let [x, y] = out.cop_mm.unwrap();
        assert!((x - 216.5).abs() < 0.01 && y.abs() < 0.01, "{x} {y}");
    }

    #[test]
    fn windows_average_and_mark_gaps_once() {
        let mut r = WindowResampler::new(1_000, 25.0); // 40 ms windows from 1 ms
        let mut out = Vec::new();
        r.push(500, [9.0, 9.0], &mut out); // before the origin: ignored
        r.push(1_000, [1.0, 2.0], &mut out);
        r.push(30_000, [3.0, 4.0], &mut out);
        r.push(41_000, [5.0, 5.0], &mut out); // second window
        assert_eq!(out, vec![Some([2.0, 3.0])]);
        r.push(30_000, [7.0, 7.0], &mut out); // out of order: ignored
        r.push(400_000, [1.0, 1.0], &mut out); // many empty windows: one gap
        assert_eq!(out, vec![Some([2.0, 3.0]), Some([5.0, 5.0]), None]);
        r.flush(&mut out);
        assert_eq!(out.last(), Some(&Some([1.0, 1.0])));
    }
}
