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

/// A stretch of a two-axis sway series with no break in it: sample times (increasing) and
/// values. A series with breaks (a touch-down left out, a long loss of data) is a list of
/// stretches: nothing is interpolated across a break.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stretch {
    /// Sample times, s.
    pub t_s: Vec<f64>,
    /// Medio-lateral values.
    pub ml: Vec<f64>,
    /// Antero-posterior values.
    pub ap: Vec<f64>,
}

impl Stretch {
    /// Samples in the stretch.
    pub fn len(&self) -> usize {
        self.t_s.len().min(self.ml.len()).min(self.ap.len())
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a sample.
    pub fn push(&mut self, t_s: f64, ml: f64, ap: f64) {
        self.t_s.push(t_s);
        self.ml.push(ml);
        self.ap.push(ap);
    }
}

/// The canonical preparation of a two-axis series sampled at times `t_s`: both axes centred on
/// their mean, resampled (from 0.1 s in, up to the last sample) and low-passed by `p`.
/// Returns (ML, AP) at `p.rate_hz`.
pub fn preprocess(t_s: &[f64], ml: &[f64], ap: &[f64], p: &Preprocessing) -> (Vec<f64>, Vec<f64>) {
    let n = t_s.len().min(ml.len()).min(ap.len());
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n.max(1) as f64;
    (
        prepare_axis(&t_s[..n], &ml[..n], mean(ml), p),
        prepare_axis(&t_s[..n], &ap[..n], mean(ap), p),
    )
}

/// [`preprocess`] for a series in stretches: centred on the mean of all their samples, each
/// stretch then resampled and low-passed on its own. Returns each stretch's (ML, AP) at
/// `p.rate_hz` (empty for a stretch too short to give a point); [`join_stretches`] makes them
/// one series for the kernels.
pub fn preprocess_stretches(stretches: &[Stretch], p: &Preprocessing) -> Vec<(Vec<f64>, Vec<f64>)> {
    let [mean_ml, mean_ap] = stretch_means(stretches);
    stretches
        .iter()
        .map(|s| {
            let n = s.len();
            (
                prepare_axis(&s.t_s[..n], &s.ml[..n], mean_ml, p),
                prepare_axis(&s.t_s[..n], &s.ap[..n], mean_ap, p),
            )
        })
        .collect()
}

/// Stretches as given, centred on the mean of all their samples (for measuring without the
/// preprocessing).
pub fn centre_stretches(stretches: &[Stretch]) -> Vec<(Vec<f64>, Vec<f64>)> {
    let [mean_ml, mean_ap] = stretch_means(stretches);
    let centre = |v: &[f64], m: f64| v.iter().map(|x| x - m).collect::<Vec<f64>>();
    stretches
        .iter()
        .map(|s| {
            let n = s.len();
            (centre(&s.ml[..n], mean_ml), centre(&s.ap[..n], mean_ap))
        })
        .collect()
}

/// Prepared stretches as one series: a gap (NaN), which the kernels neither count nor cross,
/// between consecutive non-empty stretches.
pub fn join_stretches(parts: &[(Vec<f64>, Vec<f64>)]) -> (Vec<f64>, Vec<f64>) {
    let (mut ml, mut ap) = (Vec::new(), Vec::new());
    for (part_ml, part_ap) in parts.iter().filter(|(m, a)| !m.is_empty() && !a.is_empty()) {
        if !ml.is_empty() {
            ml.push(f64::NAN);
            ap.push(f64::NAN);
        }
        let n = part_ml.len().min(part_ap.len());
        ml.extend_from_slice(&part_ml[..n]);
        ap.extend_from_slice(&part_ap[..n]);
    }
    (ml, ap)
}

/// A series made ready for the kernels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prepared {
    /// Each stretch's (ML, AP), centred; the spectra take the longest.
    pub parts: Vec<(Vec<f64>, Vec<f64>)>,
    /// The parts joined ([`join_stretches`]): what [`sway_measures`](super::sway_measures)
    /// takes.
    pub ml: Vec<f64>,
    /// See `ml`.
    pub ap: Vec<f64>,
    /// The series' rate, Hz.
    pub rate_hz: f64,
}

impl Prepared {
    /// The longest part (ML, AP), for the spectral measures (a spectrum needs one unbroken
    /// series); empty without parts.
    pub fn longest_part(&self) -> (&[f64], &[f64]) {
        self.parts
            .iter()
            .max_by_key(|(ml, _)| ml.len())
            .map_or((&[][..], &[][..]), |(ml, ap)| (&ml[..], &ap[..]))
    }
}

/// Stretches ready for the kernels: by `preprocessing` (at its rate), or, without, centred as
/// given at their mean sample rate (samples less one over time spanned, summed over the
/// stretches; 0 when that is not defined).
pub fn prepare(stretches: &[Stretch], preprocessing: Option<&Preprocessing>) -> Prepared {
    let (parts, rate_hz) = match preprocessing {
        Some(p) => (preprocess_stretches(stretches, p), p.rate_hz),
        None => {
            let (steps, span_s) = stretches
                .iter()
                .filter(|s| s.len() >= 2)
                .fold((0usize, 0.0), |(steps, span_s), s| {
                    (steps + s.len() - 1, span_s + s.t_s[s.len() - 1] - s.t_s[0])
                });
            let rate_hz = if span_s > 0.0 {
                steps as f64 / span_s
            } else {
                0.0
            };
            (centre_stretches(stretches), rate_hz)
        }
    };
    let (ml, ap) = join_stretches(&parts);
    Prepared {
        parts,
        ml,
        ap,
        rate_hz,
    }
}

/// The mean (ML, AP) over every sample of the stretches, in their units (0 without samples).
pub fn stretch_means(stretches: &[Stretch]) -> [f64; 2] {
    let n: usize = stretches.iter().map(Stretch::len).sum();
    let sum = |axis: fn(&Stretch) -> &[f64]| {
        stretches
            .iter()
            .map(|s| axis(s)[..s.len()].iter().sum::<f64>())
            .sum::<f64>()
    };
    let n = n.max(1) as f64;
    [sum(|s| &s.ml) / n, sum(|s| &s.ap) / n]
}

/// One axis of [`preprocess`]: `values` at `t_s` less `mean`, resampled and low-passed.
fn prepare_axis(t_s: &[f64], values: &[f64], mean: f64, p: &Preprocessing) -> Vec<f64> {
    let n = t_s.len();
    let first = t_s.first().copied().unwrap_or(0.0);
    let kept: Vec<usize> = (1..n.saturating_sub(1))
        .filter(|&i| t_s[i] - first >= LEAD_IN_S - 1e-9)
        .collect();
    let times: Vec<f64> = kept.iter().map(|&i| t_s[i]).collect();
    let centred: Vec<f64> = kept.iter().map(|&i| values[i] - mean).collect();
    let resampled = swarii(&times, &centred, p.rate_hz, p.window_s);
    match butterworth_lowpass(4, p.cutoff_hz, p.rate_hz) {
        Some(filter) => filtfilt(&filter, &resampled),
        // A cut-off at or above Nyquist: nothing to remove.
        None => resampled,
    }
}

/// Samples per second over a series sampled at times `t_s` (its mean rate); NaN below two
/// samples.
pub fn mean_rate_hz(t_s: &[f64]) -> f64 {
    match (t_s.first(), t_s.last()) {
        (Some(first), Some(last)) if t_s.len() >= 2 => (t_s.len() - 1) as f64 / (last - first),
        _ => f64::NAN,
    }
}

/// One two-axis series sampled at times `t_s`, ready for the kernels: [`prepare`] of it as
/// one stretch. Returns (ML, AP, rate in Hz).
pub fn prepare_series(
    t_s: &[f64],
    ml: &[f64],
    ap: &[f64],
    preprocessing: Option<&Preprocessing>,
) -> (Vec<f64>, Vec<f64>, f64) {
    let stretch = Stretch {
        t_s: t_s.to_vec(),
        ml: ml.to_vec(),
        ap: ap.to_vec(),
    };
    let prepared = prepare(&[stretch], preprocessing);
    (prepared.ml, prepared.ap, prepared.rate_hz)
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
    fn the_standing_drills_name_this_preprocessing() {
        assert_eq!(
            crate::session::STANCE_PIPELINE_VERSION,
            format!(
                "{}+{PREPROCESSING_VERSION}",
                crate::pipeline::COP_PIPELINE_VERSION
            )
        );
    }

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
