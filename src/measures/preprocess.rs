//! The canonical preprocessing of a sway series: centre, resample to a fixed rate by
//! sliding-window averaging, low-pass with zero phase.

use serde::{Deserialize, Serialize};

use super::filter::{butterworth_lowpass, filtfilt};

/// Names [`Preprocessing::CANONICAL`]; results carry it, and it changes whenever the
/// preprocessing can move a measure.
pub const PREPROCESSING_VERSION: &str = "swarii25-bw4lp10-1";

/// How a series is prepared for the measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Output rate, Hz.
    pub rate_hz: f64,
    /// Averaging window, s.
    pub window_s: f64,
    /// Low-pass cut-off, Hz (4th-order Butterworth, forward and backward).
    pub cutoff_hz: f64,
}

impl Preprocessing {
    /// Quijoux et al.'s published pipeline: 25 Hz by SWARII (a 0.08 s window), then a 10 Hz
    /// low-pass. Window averaging copes with the irregular rates of load-cell boards and BLE
    /// links, and 25 Hz keeps everything of standing sway (under 5 Hz).
    pub const CANONICAL: Preprocessing = Preprocessing {
        rate_hz: 25.0,
        window_s: 0.08,
        cutoff_hz: 10.0,
    };
}

/// SWARII (Sliding Window Average Resampling with Interpolation): at every output time from the
/// first sample's, the samples within ± half the window averaged with weights equal to the time
/// each stands for (half-way to its neighbours, clipped to the window and the data); a window
/// with no sample is filled by linear interpolation between its neighbours. `t_s` must be
/// increasing. Returns the values on the grid `t_s[0] + k / rate_hz`.
pub fn swarii(t_s: &[f64], values: &[f64], rate_hz: f64, window_s: f64) -> Vec<f64> {
    let n = t_s.len().min(values.len());
    if n == 0 || rate_hz.is_nan() || rate_hz <= 0.0 || window_s.is_nan() || window_s <= 0.0 {
        return Vec::new();
    }
    let (first, last) = (t_s[0], t_s[n - 1]);
    // A sample exactly half a window away belongs to neither side.
    let half = (window_s - 1e-6) / 2.0;
    let mut out: Vec<Option<f64>> = Vec::new();
    let mut lo = 0;
    let mut k = 0u64;
    loop {
        let centre = first + k as f64 / rate_hz;
        if centre >= last {
            break;
        }
        while lo < n && t_s[lo] <= centre - half {
            lo += 1;
        }
        let mut hi = lo;
        while hi < n && t_s[hi] < centre + half {
            hi += 1;
        }
        out.push(match hi - lo {
            0 => None,
            1 => Some(values[lo]),
            _ => {
                let (mut sum, mut weight) = (0.0, 0.0);
                for i in lo..hi {
                    let left = if i == lo {
                        first.max(centre - half)
                    } else {
                        0.5 * (t_s[i - 1] + t_s[i])
                    };
                    let right = if i + 1 == hi {
                        last.min(centre + half)
                    } else {
                        0.5 * (t_s[i] + t_s[i + 1])
                    };
                    sum += values[i] * (right - left);
                    weight += right - left;
                }
                Some(if weight > 0.0 {
                    sum / weight
                } else {
                    values[lo]
                })
            }
        });
        k += 1;
    }
    fill_gaps(&out)
}

/// Linear interpolation over `None`s; ends take the nearest value.
fn fill_gaps(v: &[Option<f64>]) -> Vec<f64> {
    let known: Vec<(usize, f64)> = v
        .iter()
        .enumerate()
        .filter_map(|(i, x)| x.map(|x| (i, x)))
        .collect();
    if known.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(v.len());
    let mut next = 0;
    for i in 0..v.len() {
        while next < known.len() && known[next].0 < i {
            next += 1;
        }
        out.push(
            match (next.checked_sub(1).map(|p| known[p]), known.get(next)) {
                (_, Some(&(j, x))) if j == i => x,
                (Some((i0, x0)), Some(&(i1, x1))) => {
                    x0 + (x1 - x0) * (i - i0) as f64 / (i1 - i0) as f64
                }
                (Some((_, x0)), None) => x0,
                (None, Some(&(_, x1))) => x1,
                (None, None) => 0.0,
            },
        );
    }
    out
}

/// The first this long of a series is left out of the resampling, s, and so is its last
/// sample: the published pipeline's convention (its grid, and so its Welch segments, follow).
const LEAD_IN_S: f64 = 0.1;

/// The canonical preparation of a two-axis series sampled at times `t_s`: both axes centred on
/// their mean, resampled (from 0.1 s in, up to the last sample) and low-passed by `p`.
/// Returns (ML, AP) at `p.rate_hz`.
pub fn preprocess(t_s: &[f64], ml: &[f64], ap: &[f64], p: &Preprocessing) -> (Vec<f64>, Vec<f64>) {
    let n = t_s.len().min(ml.len()).min(ap.len());
    let first = t_s.first().copied().unwrap_or(0.0);
    let kept: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&i| t_s[i] - first >= LEAD_IN_S - 1e-9)
        .collect();
    let times: Vec<f64> = kept.iter().map(|&i| t_s[i]).collect();
    let prepare = |values: &[f64]| {
        let mean = values[..n].iter().sum::<f64>() / n.max(1) as f64;
        let centred: Vec<f64> = kept.iter().map(|&i| values[i] - mean).collect();
        let resampled = swarii(&times, &centred, p.rate_hz, p.window_s);
        match butterworth_lowpass(4, p.cutoff_hz, p.rate_hz) {
            Some(filter) => filtfilt(&filter, &resampled),
            // A cut-off at or above Nyquist: nothing to remove.
            None => resampled,
        }
    };
    (prepare(ml), prepare(ap))
}

/// Samples per second over a series sampled at times `t_s` (its mean rate); NaN below two
/// samples.
pub fn mean_rate_hz(t_s: &[f64]) -> f64 {
    match (t_s.first(), t_s.last()) {
        (Some(first), Some(last)) if t_s.len() >= 2 => (t_s.len() - 1) as f64 / (last - first),
        _ => f64::NAN,
    }
}

/// A two-axis series sampled at times `t_s`, ready for the kernels: preprocessed by
/// `preprocessing` (at its rate), or centred as given (at the mean rate). Returns (ML, AP,
/// rate in Hz).
pub fn prepare(
    t_s: &[f64],
    ml: &[f64],
    ap: &[f64],
    preprocessing: Option<&Preprocessing>,
) -> (Vec<f64>, Vec<f64>, f64) {
    match preprocessing {
        Some(p) => {
            let (ml, ap) = preprocess(t_s, ml, ap, p);
            (ml, ap, p.rate_hz)
        }
        None => {
            let centre = |v: &[f64]| {
                let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
                v.iter().map(|x| x - mean).collect::<Vec<f64>>()
            };
            (centre(ml), centre(ap), mean_rate_hz(t_s))
        }
    }
}

/// The samples of increasing times `t_s` from `from_s` to `to_s` (both included, with a
/// nanosecond's slack for times rebuilt from microseconds).
pub fn span_within(t_s: &[f64], from_s: f64, to_s: f64) -> std::ops::Range<usize> {
    t_s.partition_point(|t| *t < from_s - 1e-9)..t_s.partition_point(|t| *t <= to_s + 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarii_averages_a_regular_series_and_fills_holes() {
        // 100 Hz ramp with a 0.3 s hole: the 25 Hz output follows the ramp throughout.
        let t: Vec<f64> = (0..300)
            .map(|i| i as f64 / 100.0)
            .filter(|t| !(1.0..1.3).contains(t))
            .collect();
        let v: Vec<f64> = t.iter().map(|t| 2.0 * t).collect();
        let out = swarii(&t, &v, 25.0, 0.08);
        assert_eq!(out.len(), 75);
        for (k, y) in out.iter().enumerate().skip(1) {
            let want = 2.0 * k as f64 / 25.0;
            assert!((y - want).abs() < 0.05, "{k}: {y} vs {want}");
        }
    }
}
