//! Digital low-pass filters: Butterworth design and zero-phase (forward–backward) filtering,
//! with the same edge handling as SciPy's `filtfilt`, so that results agree with published code;
//! and the equiripple (Parks–McClellan) design of linear-phase FIR low-passes.

use nalgebra::{Complex, DMatrix, DVector};

/// A digital filter `b(z) / a(z)`, `a[0]` = 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Iir {
    /// Numerator coefficients.
    pub b: Vec<f64>,
    /// Denominator coefficients, `a[0]` = 1.
    pub a: Vec<f64>,
}

/// A Butterworth low-pass of `order` with its −3 dB point at `cutoff_hz` for a signal sampled at
/// `rate_hz` (analogue prototype, pre-warped bilinear transform); `None` unless
/// 0 < cutoff < rate / 2 and 1 ≤ order ≤ 12.
pub fn butterworth_lowpass(order: usize, cutoff_hz: f64, rate_hz: f64) -> Option<Iir> {
    let wn = cutoff_hz / (rate_hz / 2.0);
    if !(wn > 0.0 && wn < 1.0 && (1..=12).contains(&order)) {
        return None;
    }
    let n = order as f64;
    // Bilinear transform at a sampling rate of 2 (normalised frequencies), pre-warped.
    let fs2 = 4.0;
    let warped = fs2 * (std::f64::consts::PI * wn / 2.0).tan();
    let poles: Vec<Complex<f64>> = (0..order)
        .map(|k| {
            let m = -(n - 1.0) + 2.0 * k as f64;
            -Complex::from_polar(1.0, std::f64::consts::PI * m / (2.0 * n)) * warped
        })
        .collect();
    let digital: Vec<Complex<f64>> = poles.iter().map(|p| (fs2 + p) / (fs2 - p)).collect();
    let gain_analogue = warped.powi(order as i32);
    let denominator: Complex<f64> = poles.iter().map(|p| fs2 - p).product();
    let gain = gain_analogue / denominator.re;
    // Zeros: all at z = −1, so b is the binomial row times the gain.
    let mut b = vec![0.0; order + 1];
    for (k, coefficient) in b.iter_mut().enumerate() {
        *coefficient = gain * binomial(order, k);
    }
    let mut a = vec![Complex::new(1.0, 0.0)];
    for p in &digital {
        let mut next = vec![Complex::new(0.0, 0.0); a.len() + 1];
        for (i, c) in a.iter().enumerate() {
            next[i] += c;
            next[i + 1] -= c * p;
        }
        a = next;
    }
    Some(Iir {
        b,
        a: a.into_iter().map(|c| c.re).collect(),
    })
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

impl Iir {
    fn order(&self) -> usize {
        self.a.len().max(self.b.len()) - 1
    }

    fn coefficient(v: &[f64], i: usize) -> f64 {
        v.get(i).copied().unwrap_or(0.0)
    }

    /// Runs the filter over `x` (direct form II transposed) from the state `state`.
    fn run(&self, x: &mut [f64], mut state: Vec<f64>) {
        let order = self.order();
        let (b, a) = (&self.b, &self.a);
        for v in x.iter_mut() {
            let input = *v;
            let y = Self::coefficient(b, 0) * input + state.first().copied().unwrap_or(0.0);
            for i in 0..order {
                let carry = if i + 1 < order { state[i + 1] } else { 0.0 };
                state[i] =
                    Self::coefficient(b, i + 1) * input + carry - Self::coefficient(a, i + 1) * y;
            }
            *v = y;
        }
    }

    /// The state that makes a constant input give a constant output from the first sample
    /// (SciPy's `lfilter_zi`): solve (I − Aᵀ)·z = b[1..] − a[1..]·b[0].
    fn steady_state(&self) -> Vec<f64> {
        let order = self.order();
        let (b, a) = (&self.b, &self.a);
        let mut m = DMatrix::<f64>::identity(order, order);
        for i in 0..order {
            // Companion matrix transposed: first column −a[1..], superdiagonal ones.
            m[(i, 0)] += Self::coefficient(a, i + 1);
            if i + 1 < order {
                m[(i, i + 1)] -= 1.0;
            }
        }
        let rhs = DVector::from_fn(order, |i, _| {
            Self::coefficient(b, i + 1) - Self::coefficient(a, i + 1) * Self::coefficient(b, 0)
        });
        m.lu()
            .solve(&rhs)
            .map(|z| z.iter().copied().collect())
            .unwrap_or_else(|| vec![0.0; order])
    }
}

/// Zero-phase filtering: forward, then backward, over the signal extended at both ends by its
/// odd reflection (3 × (order + 1) samples), each pass started from the steady state of its
/// first value, as SciPy's `filtfilt` does by default. A signal no longer than the extension is
/// returned unfiltered.
pub fn filtfilt(filter: &Iir, x: &[f64]) -> Vec<f64> {
    let edge = 3 * (filter.order() + 1);
    if x.len() <= edge {
        return x.to_vec();
    }
    let n = x.len();
    let mut ext = Vec::with_capacity(n + 2 * edge);
    ext.extend((1..=edge).rev().map(|i| 2.0 * x[0] - x[i]));
    ext.extend_from_slice(x);
    ext.extend((2..=edge + 1).map(|i| 2.0 * x[n - 1] - x[n - i]));
    let zi = filter.steady_state();
    let start = ext[0];
    filter.run(&mut ext, zi.iter().map(|z| z * start).collect());
    ext.reverse();
    let start = ext[0];
    filter.run(&mut ext, zi.iter().map(|z| z * start).collect());
    ext.reverse();
    ext[edge..edge + n].to_vec()
}

/// A linear-phase FIR low-pass of even length `taps` (symmetric coefficients), equiripple in the
/// minimax sense (Parks–McClellan's Remez exchange): gain 1 from 0 to `pass_hz`, gain 0 from
/// `stop_hz` to the Nyquist frequency, the stopband's error weighted `stop_weight` times the
/// passband's (so the passband ripple is `stop_weight` times the stopband's). `None` unless
/// `taps` is even and at least 4 and 0 < pass < stop < rate / 2, weight > 0.
pub fn equiripple_lowpass(
    taps: usize,
    pass_hz: f64,
    stop_hz: f64,
    rate_hz: f64,
    stop_weight: f64,
) -> Option<Vec<f64>> {
    use std::f64::consts::PI;
    let nyquist = rate_hz / 2.0;
    if !(taps >= 4
        && taps.is_multiple_of(2)
        && pass_hz > 0.0
        && pass_hz < stop_hz
        && stop_hz < nyquist
        && stop_weight > 0.0)
    {
        return None;
    }
    // An even-length symmetric filter's amplitude is cos(ω/2)·P(ω), P a cosine polynomial with
    // `terms` coefficients: approximating D with weight W is approximating D / cos(ω/2) with
    // weight W·cos(ω/2) by P, a plain Chebyshev problem on cos ω.
    let terms = taps / 2;
    let to_omega = |f_hz: f64| 2.0 * PI * f_hz / rate_hz;
    // The grid: about 32 points per extremum, spread over both bands by their widths; the
    // stopband stops short of the Nyquist frequency, where cos(ω/2) vanishes.
    let points = 32 * (terms + 1);
    let step_hz = (pass_hz + nyquist - stop_hz) / points as f64;
    let band = |from: f64, to: f64| {
        let n = ((to - from) / step_hz).ceil().max(1.0) as usize;
        (0..=n).map(move |i| from + (to - from) * i as f64 / n as f64)
    };
    // (ω, desired, weight, band) of each grid point.
    let mut grid: Vec<(f64, f64, f64, usize)> = Vec::with_capacity(points + 4);
    for f in band(0.0, pass_hz) {
        let c = (to_omega(f) / 2.0).cos();
        grid.push((to_omega(f), 1.0 / c, c, 0));
    }
    for f in band(stop_hz, nyquist - step_hz / 2.0) {
        let c = (to_omega(f) / 2.0).cos();
        grid.push((to_omega(f), 0.0, stop_weight * c, 1));
    }
    let n = grid.len();
    let sign = |i: usize| if i.is_multiple_of(2) { 1.0 } else { -1.0 };
    // Barycentric weights of the nodes xs (scaled by 2 per factor to stay within range).
    let barycentric = |xs: &[f64]| -> Vec<f64> {
        (0..xs.len())
            .map(|i| {
                1.0 / (0..xs.len())
                    .filter(|&j| j != i)
                    .map(|j| 2.0 * (xs[i] - xs[j]))
                    .product::<f64>()
            })
            .collect()
    };
    // P through the first `terms` extremal points, as (nodes, values, weights).
    let mut extremal: Vec<usize> = (0..=terms).map(|i| i * (n - 1) / terms).collect();
    let mut fit = (Vec::new(), Vec::new(), Vec::new());
    let evaluate = |fit: &(Vec<f64>, Vec<f64>, Vec<f64>), x: f64| -> f64 {
        let (nodes, values, weights) = fit;
        let (mut num, mut den) = (0.0, 0.0);
        for ((node, value), weight) in nodes.iter().zip(values).zip(weights) {
            let d = x - node;
            if d.abs() < 1e-15 {
                return *value;
            }
            num += weight / d * value;
            den += weight / d;
        }
        num / den
    };
    for _ in 0..200 {
        let xs: Vec<f64> = extremal.iter().map(|&i| grid[i].0.cos()).collect();
        let gamma = barycentric(&xs);
        let (mut num, mut den) = (0.0, 0.0);
        for (k, &i) in extremal.iter().enumerate() {
            num += gamma[k] * grid[i].1;
            den += sign(k) * gamma[k] / grid[i].2;
        }
        let delta = num / den;
        let nodes = xs[..terms].to_vec();
        let values = extremal[..terms]
            .iter()
            .enumerate()
            .map(|(k, &i)| grid[i].1 - sign(k) * delta / grid[i].2)
            .collect();
        let weights = barycentric(&nodes);
        fit = (nodes, values, weights);
        let error: Vec<f64> = grid
            .iter()
            .map(|&(w, d, wt, _)| wt * (d - evaluate(&fit, w.cos())))
            .collect();
        // Local extrema of the error (within a band) at least as large as |δ|, alternating
        // in sign (of two neighbours with one sign, the larger stays).
        let mut next: Vec<usize> = Vec::with_capacity(terms + 4);
        for i in 0..n {
            let e = error[i];
            // As far from zero as its neighbour, in its own direction.
            let beats = |j: usize| grid[j].3 != grid[i].3 || (e - error[j]) * e.signum() >= 0.0;
            let extremum = (i == 0 || beats(i - 1)) && (i + 1 == n || beats(i + 1));
            if !extremum || e.abs() < delta.abs() * (1.0 - 1e-9) {
                continue;
            }
            match next.last_mut() {
                Some(last) if error[*last].signum() == e.signum() => {
                    if e.abs() > error[*last].abs() {
                        *last = i;
                    }
                }
                _ => next.push(i),
            }
        }
        // Too many: drop the smaller end (which keeps the alternation).
        while next.len() > terms + 1 {
            if error[next[0]].abs() < error[next[next.len() - 1]].abs() {
                next.remove(0);
            } else {
                next.pop();
            }
        }
        if next.len() < terms + 1 || next == extremal {
            break;
        }
        extremal = next;
    }
    // The coefficients from the amplitude cos(ω/2)·P(ω) = Σ b_m cos((m + ½)ω), at `terms`
    // frequencies; h[terms − 1 − m] = h[terms + m] = b_m / 2.
    let mut system = DMatrix::<f64>::zeros(terms, terms);
    let mut amplitude = DVector::<f64>::zeros(terms);
    for k in 0..terms {
        let w = PI * (k as f64 + 0.5) / terms as f64;
        amplitude[k] = (w / 2.0).cos() * evaluate(&fit, w.cos());
        for m in 0..terms {
            system[(k, m)] = (w * (m as f64 + 0.5)).cos();
        }
    }
    let b = system.lu().solve(&amplitude)?;
    let mut h = vec![0.0; taps];
    for m in 0..terms {
        h[terms + m] = b[m] / 2.0;
        h[terms - 1 - m] = b[m] / 2.0;
    }
    h.iter().all(|c| c.is_finite()).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designs_scipys_fourth_order_low_pass() {
        // scipy.signal.butter(4, 10 / 12.5): the coefficients Quijoux et al.'s pipeline uses.
        let f = butterworth_lowpass(4, 10.0, 25.0).unwrap();
        let b = [0.432847, 1.731387, 2.597080, 1.731387, 0.432847];
        let a = [1.0, 2.369513, 2.313988, 1.054665, 0.187379];
        for (got, want) in f.b.iter().zip(b).chain(f.a.iter().zip(a)) {
            assert!((got - want).abs() < 1e-6, "{f:?}");
        }
    }

    #[test]
    fn a_constant_passes_unchanged_and_noise_is_smoothed() {
        let f = butterworth_lowpass(4, 2.0, 100.0).unwrap();
        let y = filtfilt(&f, &[3.0; 200]);
        assert!(y.iter().all(|v| (v - 3.0).abs() < 1e-9));
        // Alternating ±1 (the Nyquist frequency): gone, away from the edges' start-up.
        let x: Vec<f64> = (0..800)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let y = filtfilt(&f, &x);
        assert!(
            y[200..600].iter().all(|v| v.abs() < 1e-3),
            "{:?}",
            &y[200..210]
        );
    }

    /// The amplitude of a symmetric FIR at `f_hz`.
    fn amplitude(h: &[f64], f_hz: f64, rate_hz: f64) -> f64 {
        let centre = (h.len() - 1) as f64 / 2.0;
        h.iter()
            .enumerate()
            .map(|(k, c)| {
                c * (2.0 * std::f64::consts::PI * f_hz / rate_hz * (k as f64 - centre)).cos()
            })
            .sum()
    }

    /// The minimax optimum is recognised by its equal ripple: the same largest weighted error
    /// in both bands, reached with alternating signs at least `taps / 2 + 1` times.
    #[test]
    fn the_equiripple_low_pass_has_equal_alternating_ripple() {
        let (taps, pass, stop, rate, weight) = (102, 3.0, 4.0, 40.0, 573.0);
        let h = equiripple_lowpass(taps, pass, stop, rate, weight).unwrap();
        assert_eq!(h.len(), taps);
        assert!(h
            .iter()
            .zip(h.iter().rev())
            .all(|(a, b)| (a - b).abs() < 1e-15));
        let fine =
            |from: f64, to: f64| (0..=4000).map(move |i| from + (to - from) * i as f64 / 4000.0);
        let pass_error: Vec<f64> = fine(0.0, pass)
            .map(|f| amplitude(&h, f, rate) - 1.0)
            .collect();
        let stop_error: Vec<f64> = fine(stop, rate / 2.0)
            .map(|f| weight * amplitude(&h, f, rate))
            .collect();
        let largest = |e: &[f64]| e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (dp, ds) = (largest(&pass_error), largest(&stop_error));
        assert!((dp / ds - 1.0).abs() < 0.01, "{dp} {ds}");
        assert!((0.05..0.1).contains(&dp), "{dp}");
        // Alternations: sign changes between the successive extremes of the error.
        let mut alternations = 0;
        let mut last_sign = 0.0;
        for e in pass_error.iter().chain(&stop_error) {
            if e.abs() > 0.99 * dp && e.signum() != last_sign {
                alternations += 1;
                last_sign = e.signum();
            }
        }
        assert!(alternations > taps / 2, "{alternations}");
        // Gait frequencies pass, step harmonics above 4 Hz are gone.
        assert!((amplitude(&h, 1.8, rate) - 1.0).abs() <= dp + 1e-9);
        assert!(amplitude(&h, 5.0, rate).abs() < 2e-4);
    }

    #[test]
    fn refuses_impossible_designs() {
        assert!(equiripple_lowpass(101, 3.0, 4.0, 40.0, 1.0).is_none());
        assert!(equiripple_lowpass(102, 4.0, 3.0, 40.0, 1.0).is_none());
        assert!(equiripple_lowpass(102, 3.0, 20.0, 40.0, 1.0).is_none());
        assert!(butterworth_lowpass(4, 30.0, 50.0).is_none());
        assert!(butterworth_lowpass(0, 1.0, 50.0).is_none());
        assert!(butterworth_lowpass(4, f64::NAN, 50.0).is_none());
    }
}
