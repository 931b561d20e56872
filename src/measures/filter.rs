//! Digital IIR low-pass: Butterworth design and zero-phase (forward–backward) filtering, with
//! the same edge handling as SciPy's `filtfilt`, so that results agree with published code.

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

    #[test]
    fn refuses_impossible_designs() {
        assert!(butterworth_lowpass(4, 30.0, 50.0).is_none());
        assert!(butterworth_lowpass(0, 1.0, 50.0).is_none());
        assert!(butterworth_lowpass(4, f64::NAN, 50.0).is_none());
    }
}
