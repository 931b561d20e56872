//! Welch power spectra of a sway axis and the frequency measures on them.

use serde::{Deserialize, Serialize};

/// The band every spectral measure is taken over, Hz (inclusive): below it is drift, above
/// it noise for standing balance.
pub const SPECTRAL_BAND_HZ: (f64, f64) = (0.15, 5.0);
/// Welch segment length, s (50 % overlap).
const SEGMENT_S: f64 = 10.0;

/// A one-sided power spectral density.
#[derive(Debug, Clone, PartialEq)]
pub struct Psd {
    /// Bin frequencies, Hz.
    pub freq_hz: Vec<f64>,
    /// Density, (units)² per Hz.
    pub density: Vec<f64>,
}

/// Welch's estimate: segments of `segment_len` points with 50 % overlap, each linearly
/// detrended and Hann-windowed (periodic), zero-padded to the signal's length (so the bins are
/// rate / length apart), density scaling, averaged; a trailing partial segment is left out.
/// Empty when the signal is shorter than one segment.
pub fn welch_psd(x: &[f64], rate_hz: f64, segment_len: usize) -> Psd {
    let n = x.len();
    if segment_len < 2 || n < segment_len || rate_hz.is_nan() || rate_hz <= 0.0 {
        return Psd {
            freq_hz: Vec::new(),
            density: Vec::new(),
        };
    }
    let step = segment_len - segment_len / 2;
    let segments = (n - segment_len / 2) / step;
    let nfft = n;
    let bins = nfft / 2 + 1;
    let window: Vec<f64> = (0..segment_len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / segment_len as f64).cos())
        .collect();
    let window_power: f64 = window.iter().map(|w| w * w).sum();
    // Twiddles e^(−2πi·m/nfft) for every m: the DFT only needs products k·j mod nfft.
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..nfft)
        .map(|m| {
            let angle = 2.0 * std::f64::consts::PI * m as f64 / nfft as f64;
            (angle.cos(), angle.sin())
        })
        .unzip();
    let mut density = vec![0.0; bins];
    let mut segment = vec![0.0; segment_len];
    for s in 0..segments {
        let start = s * step;
        segment.copy_from_slice(&x[start..start + segment_len]);
        detrend_linear(&mut segment);
        for (v, w) in segment.iter_mut().zip(&window) {
            *v *= w;
        }
        for (k, d) in density.iter_mut().enumerate() {
            let (mut re, mut im) = (0.0, 0.0);
            let mut m = 0;
            for v in &segment {
                re += v * cos[m];
                im -= v * sin[m];
                m += k;
                if m >= nfft {
                    m -= nfft;
                }
            }
            *d += re * re + im * im;
        }
    }
    let scale = 1.0 / (rate_hz * window_power * segments as f64);
    let last_doubled = if nfft.is_multiple_of(2) {
        bins - 1
    } else {
        bins
    };
    for (k, d) in density.iter_mut().enumerate() {
        *d *= scale;
        if k > 0 && k < last_doubled {
            *d *= 2.0;
        }
    }
    Psd {
        freq_hz: (0..bins)
            .map(|k| k as f64 * rate_hz / nfft as f64)
            .collect(),
        density,
    }
}

/// Removes the least-squares line.
fn detrend_linear(v: &mut [f64]) {
    let n = v.len() as f64;
    let mean_i = (n - 1.0) / 2.0;
    let mean_v = v.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let di = i as f64 - mean_i;
        sxy += di * (y - mean_v);
        sxx += di * di;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    for (i, y) in v.iter_mut().enumerate() {
        *y -= mean_v + slope * (i as f64 - mean_i);
    }
}

/// Frequency measures of one axis, over [`SPECTRAL_BAND_HZ`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SpectralMeasures {
    /// Sum of the density over the band's bins (as the reference code sums it).
    pub total_power: f64,
    /// First bin at which the cumulative power reaches 50 %, Hz.
    pub power_frequency_50_hz: f64,
    /// First bin at which the cumulative power reaches 95 %, Hz.
    pub power_frequency_95_hz: f64,
    /// √(m2 / m0), Hz.
    pub centroid_frequency_hz: f64,
    /// √(1 − m1² / (m0·m2)): 0 for a pure tone, towards 1 for a broad spectrum.
    pub frequency_dispersion: f64,
    /// The bin of largest power, Hz.
    pub frequency_mode_hz: f64,
    /// Spacing of the bins, Hz: the measures' resolution.
    pub bin_hz: f64,
}

/// Welch spectrum (10 s segments) of one centred axis sampled at `rate_hz`, and its measures.
/// All zero when the signal is shorter than a segment or has no power in the band.
pub fn spectral_measures(x: &[f64], rate_hz: f64) -> SpectralMeasures {
    let segment_len = (SEGMENT_S * rate_hz).round() as usize;
    let psd = welch_psd(x, rate_hz, segment_len);
    let band: Vec<(f64, f64)> = psd
        .freq_hz
        .iter()
        .zip(&psd.density)
        .filter(|(f, _)| **f >= SPECTRAL_BAND_HZ.0 && **f <= SPECTRAL_BAND_HZ.1)
        .map(|(f, p)| (*f, *p))
        .collect();
    let moment = |k: i32| band.iter().map(|(f, p)| f.powi(k) * p).sum::<f64>();
    let (m0, m1, m2) = (moment(0), moment(1), moment(2));
    if band.is_empty() || m0.is_nan() || m0 <= 0.0 {
        return SpectralMeasures::default();
    }
    let share_frequency = |share: f64| {
        let mut cumulative = 0.0;
        for (f, p) in &band {
            cumulative += p;
            if cumulative >= share * m0 {
                return *f;
            }
        }
        band[band.len() - 1].0
    };
    let mode = band
        .iter()
        .fold((0.0, f64::NEG_INFINITY), |best, &(f, p)| {
            if p > best.1 {
                (f, p)
            } else {
                best
            }
        })
        .0;
    SpectralMeasures {
        total_power: m0,
        power_frequency_50_hz: share_frequency(0.5),
        power_frequency_95_hz: share_frequency(0.95),
        centroid_frequency_hz: (m2 / m0).sqrt(),
        frequency_dispersion: (1.0 - m1 * m1 / (m0 * m2)).max(0.0).sqrt(),
        frequency_mode_hz: mode,
        bin_hz: rate_hz / x.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_has_its_power_at_its_frequency() {
        let rate = 25.0;
        let x: Vec<f64> = (0..750)
            .map(|i| (2.0 * std::f64::consts::PI * 1.0 * i as f64 / rate).sin())
            .collect();
        let m = spectral_measures(&x, rate);
        assert!((m.frequency_mode_hz - 1.0).abs() <= m.bin_hz, "{m:?}");
        assert!((m.centroid_frequency_hz - 1.0).abs() < 0.05, "{m:?}");
        assert!(m.frequency_dispersion < 0.2, "{m:?}");
        // Parseval: a unit sine has variance ½; the density integrates to it.
        let psd = welch_psd(&x, rate, 250);
        let variance: f64 = psd.density.iter().sum::<f64>() * rate / x.len() as f64;
        assert!((variance - 0.5).abs() < 0.02, "{variance}");
    }

    #[test]
    fn too_short_a_signal_gives_nothing() {
        assert_eq!(
            spectral_measures(&[1.0; 10], 25.0),
            SpectralMeasures::default()
        );
    }
}
