//! Orientation accuracy against optical ground truth, on data in the BROAD layout.
//!
//! BROAD (the Berlin Robust Orientation Estimation Assessment Dataset) stores each trial as
//! rows of 14 little-endian `f32`: gyroscope (rad/s), accelerometer (m/s²) and magnetometer
//! (µT), each x, y, z in the sensor frame; the reference orientation as a quaternion w, x, y, z
//! (world from sensor, world = east, north, up; NaN where the optical tracking dropped out);
//! and a movement flag. An `index.json` names the trials and their sampling rate.
//!
//! This module is sans-IO like the rest of the core: callers read the files and hand over the
//! text and bytes.
//!
//! # Brief overview
//! - [`parse_index`] reads `index.json` into [`TrialInfo`]s; [`parse_trial`] turns one trial's
//!   bytes into a [`Trial`] of [`Sample`]s.
//! - [`decimate`] brings a trial to a lower rate by window means (see there for the exact rule).
//! - [`error_angles`] is BROAD's per-sample error measure and [`rmse`] its per-trial RMSE over
//!   the evaluated samples (movement, and a reference). For 6D estimates, whose heading is
//!   arbitrary, [`rmse_6d`] first removes one constant heading offset per trial
//!   ([`heading_offset_rad`], [`remove_heading_offset`]).

use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use serde::Deserialize;

use crate::pipeline::ImuSi;

/// Columns per row of a trial file.
pub const COLUMNS: usize = 14;

/// Bytes per row of a trial file (14 `f32`).
pub const ROW_BYTES: usize = COLUMNS * 4;

/// The column names an `index.json` may list, in file order.
pub const COLUMN_NAMES: [&str; COLUMNS] = [
    "gyr_x", "gyr_y", "gyr_z", "acc_x", "acc_y", "acc_z", "mag_x", "mag_y", "mag_z", "quat_w",
    "quat_x", "quat_y", "quat_z", "movement",
];

/// Why BROAD-format input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `index.json` is not the expected JSON.
    #[error("the index is not valid BROAD index JSON: {0}")]
    Index(#[from] serde_json::Error),
    /// `index.json` lists columns other than BROAD's 14.
    #[error("the index lists columns {found:?}, not BROAD's 14 columns")]
    Columns {
        /// The columns the index lists.
        found: Vec<String>,
    },
    /// `index.json` lists no trials.
    #[error("the index lists no trials")]
    NoTrials,
    /// A trial name that is empty or could reach outside its directory.
    #[error("the index has a trial name {0:?} that is not a plain file name")]
    TrialName(String),
    /// A sampling rate that is not a positive finite number.
    #[error("trial {name} has sampling rate {rate_hz}, which is not a positive number of Hz")]
    Rate {
        /// The trial.
        name: String,
        /// The rate it claims.
        rate_hz: f64,
    },
    /// A trial file whose length is not a whole number of rows.
    #[error(
        "trial {name} has {len} bytes, which is not a whole number of {ROW_BYTES}-byte rows \
         (14 little-endian f32)"
    )]
    Length {
        /// The trial.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A trial file with another number of rows than the index says.
    #[error("trial {name} has {found} samples but the index says {expected}")]
    SampleCount {
        /// The trial.
        name: String,
        /// Samples according to the index.
        expected: usize,
        /// Samples in the file.
        found: usize,
    },
    /// A sensor value that is NaN or infinite.
    #[error("trial {name} has a non-finite sensor value in sample {row}")]
    NotFinite {
        /// The trial.
        name: String,
        /// The row (0-based).
        row: usize,
    },
    /// A rate the data cannot be brought to.
    #[error(
        "cannot resample {name} from {from_hz} Hz to {to_hz} Hz (only decimation is possible)"
    )]
    Decimation {
        /// The trial.
        name: String,
        /// Its rate.
        from_hz: f64,
        /// The rate asked for.
        to_hz: f64,
    },
}

/// One trial as the index lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TrialInfo {
    /// The trial's name; its data is `<name>.f32` next to the index.
    #[serde(rename = "trial")]
    pub name: String,
    /// Number of samples (rows) in its data.
    pub samples: usize,
    /// Sampling rate, Hz.
    pub rate_hz: f64,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    columns: Option<Vec<String>>,
    trials: Vec<TrialInfo>,
}

/// Parses the text of an `index.json`: the trials, each with its sample count and rate.
pub fn parse_index(text: &str) -> Result<Vec<TrialInfo>, EvalError> {
    let raw: RawIndex = serde_json::from_str(text)?;
    if let Some(columns) = raw.columns {
        if columns.iter().map(String::as_str).ne(COLUMN_NAMES) {
            return Err(EvalError::Columns { found: columns });
        }
    }
    if raw.trials.is_empty() {
        return Err(EvalError::NoTrials);
    }
    for t in &raw.trials {
        let plain = !t.name.is_empty()
            && t.name != "."
            && t.name != ".."
            && !t.name.contains(['/', '\\', '\0']);
        if !plain {
            return Err(EvalError::TrialName(t.name.clone()));
        }
        if !(t.rate_hz.is_finite() && t.rate_hz > 0.0) {
            return Err(EvalError::Rate {
                name: t.name.clone(),
                rate_hz: t.rate_hz,
            });
        }
    }
    Ok(raw.trials)
}

/// One sample of a trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Angular rate, sensor frame, rad/s.
    pub gyr_rad_s: Vector3<f64>,
    /// Specific force, sensor frame, m/s².
    pub acc_m_s2: Vector3<f64>,
    /// Magnetic field, sensor frame, µT.
    pub mag_ut: Vector3<f64>,
    /// Reference orientation, world (east, north, up) from sensor; `None` where the optical
    /// tracking dropped out.
    pub reference: Option<UnitQuaternion<f64>>,
    /// The sample belongs to a movement phase (the phases the benchmark evaluates).
    pub movement: bool,
}

impl Sample {
    /// The sample as the pipeline's SI input, with or without the magnetometer (9D or 6D).
    pub fn imu_si(&self, with_mag: bool) -> ImuSi {
        ImuSi {
            acc_m_s2: self.acc_m_s2,
            gyr_rad_s: self.gyr_rad_s,
            mag_ut: with_mag.then_some(self.mag_ut),
        }
    }

    /// True when the benchmark evaluates this sample: in a movement phase, with a reference.
    pub fn evaluated(&self) -> bool {
        self.movement && self.reference.is_some()
    }
}

/// A trial: its samples at a fixed rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The trial's name.
    pub name: String,
    /// Sampling rate, Hz.
    pub rate_hz: f64,
    /// The samples, `1 / rate_hz` apart.
    pub samples: Vec<Sample>,
}

/// Parses one trial's `.f32` bytes; the index entry gives its name, rate and expected length.
///
/// A reference quaternion with any NaN component (or a zero norm) becomes `None`; it is
/// normalised otherwise. The movement flag is true for any value above 0.5.
pub fn parse_trial(info: &TrialInfo, bytes: &[u8]) -> Result<Trial, EvalError> {
    if !bytes.len().is_multiple_of(ROW_BYTES) {
        return Err(EvalError::Length {
            name: info.name.clone(),
            len: bytes.len(),
        });
    }
    let rows = bytes.len() / ROW_BYTES;
    if rows != info.samples {
        return Err(EvalError::SampleCount {
            name: info.name.clone(),
            expected: info.samples,
            found: rows,
        });
    }
    let mut samples = Vec::with_capacity(rows);
    for (row, chunk) in bytes.chunks_exact(ROW_BYTES).enumerate() {
        let mut v = [0f64; COLUMNS];
        for (value, b) in v.iter_mut().zip(chunk.chunks_exact(4)) {
            *value = f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        if v[..9].iter().any(|x| !x.is_finite()) {
            return Err(EvalError::NotFinite {
                name: info.name.clone(),
                row,
            });
        }
        let q = Quaternion::new(v[9], v[10], v[11], v[12]);
        let reference = (q.coords.iter().all(|c| c.is_finite()) && q.norm() > 0.0)
            .then(|| UnitQuaternion::from_quaternion(q));
        samples.push(Sample {
            gyr_rad_s: Vector3::new(v[0], v[1], v[2]),
            acc_m_s2: Vector3::new(v[3], v[4], v[5]),
            mag_ut: Vector3::new(v[6], v[7], v[8]),
            reference,
            movement: v[13] > 0.5,
        });
    }
    Ok(Trial {
        name: info.name.clone(),
        rate_hz: info.rate_hz,
        samples,
    })
}

/// Brings a trial down to `rate_hz` by window means with fractional weights.
///
/// Original sample `i` is taken to cover the time interval `((i − 1)/fs, i/fs]` (what an IMU
/// that averages over its sample period reports). Output sample `k` is at `t_k = k / rate_hz`
/// and covers `(t_k − 1/rate_hz, t_k]`; its gyroscope, accelerometer and magnetometer are the
/// means of the original samples weighted by how much of each one's interval falls into the
/// window. So the rate can be any fraction of the original (285.714 Hz to 100 Hz, say), and
/// the integral of the angular rate over the record is kept exactly: a filter integrating the
/// decimated gyroscope turns through the same angle. The first output sample, whose window
/// starts before the data, is the mean over the part that exists (sample 0 itself).
///
/// The reference of output `k` is the spherical interpolation at `t_k` between the two
/// original samples at either side of it (the original itself when `t_k` falls on one); it is
/// `None` when either is `None`. Output `k` is in a movement phase when both are. Output
/// samples run while `t_k` is within the original record.
///
/// A rate within 1e-9 relative of the trial's own gives the trial unchanged; a higher rate is
/// an error.
pub fn decimate(trial: &Trial, rate_hz: f64) -> Result<Trial, EvalError> {
    let fs = trial.rate_hz;
    if !(rate_hz.is_finite() && rate_hz > 0.0 && rate_hz <= fs * (1.0 + 1e-9)) {
        return Err(EvalError::Decimation {
            name: trial.name.clone(),
            from_hz: fs,
            to_hz: rate_hz,
        });
    }
    if (rate_hz - fs).abs() <= fs * 1e-9 {
        return Ok(trial.clone());
    }
    let src = &trial.samples;
    let mut out = Vec::new();
    if src.is_empty() {
        return Ok(Trial {
            name: trial.name.clone(),
            rate_hz,
            samples: out,
        });
    }
    let last = src.len() - 1;
    // Everything in units of the original sample period: sample i covers (i − 1, i].
    let step = fs / rate_hz;
    // A hair of tolerance so that an output landing on the last sample is not lost to rounding.
    let n_out = (last as f64 / step + 1e-9).floor() as usize + 1;
    out.reserve(n_out);
    for k in 0..n_out {
        let b = k as f64 * step;
        let a = b - step;
        let first = ((a.floor() as i64) + 1).max(0) as usize;
        let end = (b.ceil() as usize).min(last);
        let (mut gyr, mut acc, mut mag) = (Vector3::zeros(), Vector3::zeros(), Vector3::zeros());
        let mut weight = 0.0;
        for (i, s) in src.iter().enumerate().take(end + 1).skip(first) {
            let i = i as f64;
            let w = (b.min(i) - a.max(i - 1.0)).max(0.0);
            if w > 0.0 {
                gyr += s.gyr_rad_s * w;
                acc += s.acc_m_s2 * w;
                mag += s.mag_ut * w;
                weight += w;
            }
        }
        if weight <= 0.0 {
            // Only k = 0 can lack overlap (b = 0): it is sample 0 itself.
            gyr = src[0].gyr_rad_s;
            acc = src[0].acc_m_s2;
            mag = src[0].mag_ut;
            weight = 1.0;
        }
        let lo = (b.floor() as usize).min(last);
        let frac = b - lo as f64;
        let (reference, movement) = if frac <= 1e-9 || lo == last {
            (src[lo].reference, src[lo].movement)
        } else {
            let (s0, s1) = (&src[lo], &src[lo + 1]);
            let reference = match (s0.reference, s1.reference) {
                (Some(q0), Some(q1)) => Some(
                    q0.try_slerp(&q1, frac, 1e-12)
                        .unwrap_or(if frac < 0.5 { q0 } else { q1 }),
                ),
                _ => None,
            };
            (reference, s0.movement && s1.movement)
        };
        out.push(Sample {
            gyr_rad_s: gyr / weight,
            acc_m_s2: acc / weight,
            mag_ut: mag / weight,
            reference,
            movement,
        });
    }
    Ok(Trial {
        name: trial.name.clone(),
        rate_hz,
        samples: out,
    })
}

/// Error angles of one estimate, or the RMSEs of a trial, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct AngleErrors {
    /// The whole rotation between estimate and reference.
    pub total_deg: f64,
    /// Its part about the world's vertical.
    pub heading_deg: f64,
    /// Its part about a horizontal axis (the tilt error).
    pub inclination_deg: f64,
}

/// BROAD's error measure for one sample, in degrees.
///
/// `q_err = q_est · conj(q_ref)` (both world from sensor, normalised), with components
/// `w, x, y, z`: total = 2 acos |w|, heading = 2 atan(|z| / |w|), inclination =
/// 2 acos √(w² + z²). They are computed in the algebraically identical forms
/// 2 atan2(√(x² + y² + z²), |w|) and 2 atan2(√(x² + y²), √(w² + z²)), which keep full precision
/// near zero where `acos` does not.
pub fn error_angles(q_est: &UnitQuaternion<f64>, q_ref: &UnitQuaternion<f64>) -> AngleErrors {
    let e = q_est * q_ref.conjugate();
    let q = e.quaternion().normalize();
    let (w, x, y, z) = (q.w.abs(), q.i, q.j, q.k.abs());
    let total = 2.0 * (x * x + y * y + z * z).sqrt().atan2(w);
    let heading = 2.0 * z.atan2(w);
    let inclination = 2.0 * (x * x + y * y).sqrt().atan2((w * w + z * z).sqrt());
    AngleErrors {
        total_deg: total.to_degrees(),
        heading_deg: heading.to_degrees(),
        inclination_deg: inclination.to_degrees(),
    }
}

/// Root mean square of [`error_angles`] over a trial's evaluated samples (in a movement phase
/// and with a reference), degrees. `estimates[i]` is the estimate at `trial.samples[i]`, world
/// (east, north, up) from sensor. No alignment is applied: this is the measure for 9D
/// estimates. `None` when no sample is evaluated or the lengths differ.
pub fn rmse(trial: &Trial, estimates: &[UnitQuaternion<f64>]) -> Option<AngleErrors> {
    if estimates.len() != trial.samples.len() {
        return None;
    }
    let mut sum = [0.0; 3];
    let mut n = 0usize;
    for (s, q) in trial.samples.iter().zip(estimates) {
        let Some(r) = s.reference.filter(|_| s.movement) else {
            continue;
        };
        let e = error_angles(q, &r);
        sum[0] += e.total_deg * e.total_deg;
        sum[1] += e.heading_deg * e.heading_deg;
        sum[2] += e.inclination_deg * e.inclination_deg;
        n += 1;
    }
    (n > 0).then(|| {
        let n = n as f64;
        AngleErrors {
            total_deg: (sum[0] / n).sqrt(),
            heading_deg: (sum[1] / n).sqrt(),
            inclination_deg: (sum[2] / n).sqrt(),
        }
    })
}

/// The constant heading offset between a trial's estimates and its reference, radians: the
/// circular mean, over the evaluated samples, of the signed heading angle 2 atan2(z, w) of
/// `q_est · conj(q_ref)`. `None` when no sample is evaluated, the lengths differ, or the
/// angles cancel out (no mean direction).
pub fn heading_offset_rad(trial: &Trial, estimates: &[UnitQuaternion<f64>]) -> Option<f64> {
    if estimates.len() != trial.samples.len() {
        return None;
    }
    let (mut s, mut c) = (0.0, 0.0);
    for (sample, q) in trial.samples.iter().zip(estimates) {
        let Some(r) = sample.reference.filter(|_| sample.movement) else {
            continue;
        };
        let e = q * r.conjugate();
        let psi = 2.0 * e.k.atan2(e.w);
        s += psi.sin();
        c += psi.cos();
    }
    (s.hypot(c) > 0.0).then(|| s.atan2(c))
}

/// The estimates turned about the world's vertical by `−offset_rad`, which takes a heading
/// offset of `offset_rad` out of every sample's error and leaves its inclination as it was.
pub fn remove_heading_offset(
    estimates: &[UnitQuaternion<f64>],
    offset_rad: f64,
) -> Vec<UnitQuaternion<f64>> {
    let turn = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), -offset_rad);
    estimates.iter().map(|q| turn * q).collect()
}

/// [`rmse`] for 6D estimates, whose heading is arbitrary: one constant heading offset per
/// trial ([`heading_offset_rad`]) is removed first, so total and heading are what is left
/// after the best constant heading alignment; inclination is unaffected.
pub fn rmse_6d(trial: &Trial, estimates: &[UnitQuaternion<f64>]) -> Option<AngleErrors> {
    let offset = heading_offset_rad(trial, estimates)?;
    rmse(trial, &remove_heading_offset(estimates, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: [f32; COLUMNS]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn info(name: &str, samples: usize, rate_hz: f64) -> TrialInfo {
        TrialInfo {
            name: name.to_owned(),
            samples,
            rate_hz,
        }
    }

    fn sample(gyr_z: f64, reference: Option<UnitQuaternion<f64>>, movement: bool) -> Sample {
        Sample {
            gyr_rad_s: Vector3::new(0.0, 0.0, gyr_z),
            acc_m_s2: Vector3::new(0.0, 0.0, 9.81),
            mag_ut: Vector3::new(0.0, 20.0, -40.0),
            reference,
            movement,
        }
    }

    #[test]
    fn index_parses_and_rejects_bad_entries() {
        let text = r#"{"columns": ["gyr_x","gyr_y","gyr_z","acc_x","acc_y","acc_z","mag_x",
            "mag_y","mag_z","quat_w","quat_x","quat_y","quat_z","movement"],
            "trials": [{"trial": "a", "samples": 3, "rate_hz": 285.7142857142857}]}"#;
        assert_eq!(
            parse_index(text).unwrap(),
            vec![info("a", 3, 285.714_285_714_285_7)]
        );
        assert!(matches!(
            parse_index(r#"{"trials": []}"#),
            Err(EvalError::NoTrials)
        ));
        assert!(matches!(
            parse_index(r#"{"trials": [{"trial": "../x", "samples": 1, "rate_hz": 100}]}"#),
            Err(EvalError::TrialName(_))
        ));
        assert!(matches!(
            parse_index(r#"{"trials": [{"trial": "x", "samples": 1, "rate_hz": 0}]}"#),
            Err(EvalError::Rate { .. })
        ));
        assert!(matches!(
            parse_index(r#"{"columns": ["a"], "trials": []}"#),
            Err(EvalError::Columns { .. })
        ));
        assert!(matches!(parse_index("{"), Err(EvalError::Index(_))));
    }

    #[test]
    fn trial_round_trip() {
        let nan = f32::NAN;
        let q = UnitQuaternion::from_euler_angles(0.1, -0.2, 0.3);
        let qc = q.coords.map(|c| c as f32);
        let mut bytes = row([
            0.5, -0.25, 1.0, 0.0, 0.0, 9.81, 20.0, 0.0, -40.0, qc.w, qc.x, qc.y, qc.z, 1.0,
        ]);
        bytes.extend(row([
            -1.0, 2.0, 0.125, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, nan, nan, nan, nan, 0.0,
        ]));
        let trial = parse_trial(&info("t", 2, 100.0), &bytes).unwrap();
        assert_eq!(trial.name, "t");
        assert_eq!(trial.rate_hz, 100.0);
        let [a, b] = trial.samples[..] else {
            panic!("two samples expected")
        };
        assert_eq!(a.gyr_rad_s, Vector3::new(0.5, -0.25, 1.0));
        assert_eq!(a.acc_m_s2, Vector3::new(0.0, 0.0, f64::from(9.81f32)));
        assert_eq!(a.mag_ut, Vector3::new(20.0, 0.0, -40.0));
        assert!(a.reference.unwrap().angle_to(&q) < 1e-6);
        assert!(a.movement && a.evaluated());
        assert_eq!(b.gyr_rad_s, Vector3::new(-1.0, 2.0, 0.125));
        assert_eq!(b.acc_m_s2, Vector3::new(1.0, 2.0, 3.0));
        assert_eq!(b.mag_ut, Vector3::new(4.0, 5.0, 6.0));
        assert_eq!(b.reference, None);
        assert!(!b.movement && !b.evaluated());
        assert_eq!(b.imu_si(false).mag_ut, None);
        assert_eq!(b.imu_si(true).mag_ut, Some(b.mag_ut));
    }

    #[test]
    fn trial_errors_are_reported() {
        let one = row([0.0; COLUMNS]);
        assert!(matches!(
            parse_trial(&info("t", 1, 100.0), &one[..ROW_BYTES - 1]),
            Err(EvalError::Length { len: 55, .. })
        ));
        assert!(matches!(
            parse_trial(&info("t", 2, 100.0), &one),
            Err(EvalError::SampleCount {
                expected: 2,
                found: 1,
                ..
            })
        ));
        let mut bad = [0.0; COLUMNS];
        bad[4] = f32::INFINITY;
        assert!(matches!(
            parse_trial(&info("t", 1, 100.0), &row(bad)),
            Err(EvalError::NotFinite { row: 0, .. })
        ));
        let e = parse_trial(&info("t", 1, 100.0), &one[..10]).unwrap_err();
        assert!(e.to_string().contains("not a whole number of 56-byte rows"));
    }

    #[test]
    fn decimation_keeps_the_gyro_integral_of_a_ramp() {
        let fs = 2000.0 / 7.0;
        let n = 2858; // a little over 10 s
        let slope = 0.3; // rad/s²
        let samples: Vec<Sample> = (0..n)
            .map(|i| sample(slope * i as f64 / fs, None, true))
            .collect();
        let trial = Trial {
            name: "ramp".into(),
            rate_hz: fs,
            samples,
        };
        for rate in [100.0, 50.0, 33.3] {
            let d = decimate(&trial, rate).unwrap();
            assert_eq!(d.rate_hz, rate);
            let k_last = d.samples.len() - 1;
            let t_end = k_last as f64 / rate;
            assert!(t_end <= (n - 1) as f64 / fs + 1e-12);
            assert!(t_end + 1.0 / rate > (n - 1) as f64 / fs);
            // The decimated rate integrated over (0, t_end] ...
            let decimated: f64 = d.samples[1..].iter().map(|s| s.gyr_rad_s.z / rate).sum();
            // ... equals the original's: whole samples up to t_end, plus the covered part of the
            // sample whose interval holds t_end.
            let u_end = t_end * fs;
            let whole = u_end.floor() as usize;
            let mut original: f64 = trial.samples[1..=whole]
                .iter()
                .map(|s| s.gyr_rad_s.z / fs)
                .sum();
            if u_end > whole as f64 {
                original += trial.samples[whole + 1].gyr_rad_s.z * (u_end - whole as f64) / fs;
            }
            assert!(
                (decimated - original).abs() < 1e-9 * original,
                "{rate} Hz: {decimated} vs {original}"
            );
            // A ramp's window mean is the ramp at the window's centre (half a period late, for
            // the original's sample-and-hold), up to the staircase's share in a window that is
            // not a whole number of samples long (at most 1/8 sample over the window).
            let step = fs / rate;
            for k in [1, 300, k_last] {
                let centre_u = (k as f64 - 0.5) * step;
                let expected = slope * (centre_u + 0.5) / fs;
                let bound = slope / fs * 0.125 / step + 1e-12;
                assert!(
                    (d.samples[k].gyr_rad_s.z - expected).abs() <= bound,
                    "k = {k}"
                );
            }
        }
        assert!(decimate(&trial, fs * 2.0).is_err());
        assert_eq!(decimate(&trial, fs).unwrap(), trial);
    }

    #[test]
    fn decimation_interpolates_the_reference_and_joins_flags() {
        let fs = 300.0;
        let about_z = |a: f64| UnitQuaternion::from_axis_angle(&Vector3::z_axis(), a);
        let samples: Vec<Sample> = (0..31)
            .map(|i| {
                let reference = (i != 21).then(|| about_z(0.01 * i as f64));
                sample(0.0, reference, i < 12)
            })
            .collect();
        let trial = Trial {
            name: "r".into(),
            rate_hz: fs,
            samples,
        };
        // 70 Hz: t_k = k/70, in original samples u = k · 300/70.
        let d = decimate(&trial, 70.0).unwrap();
        assert_eq!(d.samples.len(), 8); // u up to 30
        for (k, s) in d.samples.iter().enumerate() {
            let u = k as f64 * (fs / 70.0);
            let (lo, hi) = (u.floor() as usize, u.ceil() as usize);
            if lo == 21 || hi == 21 {
                assert_eq!(s.reference, None, "k = {k}");
            } else {
                let r = s.reference.unwrap();
                assert!((r.angle() - 0.01 * u).abs() < 1e-12, "k = {k}");
            }
            assert_eq!(s.movement, hi < 12, "k = {k}");
        }
    }

    #[test]
    fn errors_are_zero_for_identical_orientations() {
        let q = UnitQuaternion::from_euler_angles(0.4, -1.1, 2.5);
        let e = error_angles(&q, &q);
        assert!(e.total_deg.abs() < 1e-9);
        assert!(e.heading_deg.abs() < 1e-9);
        assert!(e.inclination_deg.abs() < 1e-9);
        // The sign of a quaternion does not matter.
        let minus = UnitQuaternion::new_unchecked(-q.into_inner());
        let e = error_angles(&minus, &q);
        assert!(e.total_deg.abs() < 1e-9 && e.heading_deg.abs() < 1e-9);
    }

    #[test]
    fn errors_are_the_known_angles() {
        let r = UnitQuaternion::from_euler_angles(0.3, 0.2, -1.0);
        // A pure tilt of 5° about world x.
        let tilt = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), 5f64.to_radians());
        let e = error_angles(&(tilt * r), &r);
        assert!((e.total_deg - 5.0).abs() < 1e-9);
        assert!(e.heading_deg.abs() < 1e-9);
        assert!((e.inclination_deg - 5.0).abs() < 1e-9);
        // A pure heading error of −30° about world z.
        let turn = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), (-30f64).to_radians());
        let e = error_angles(&(turn * r), &r);
        assert!((e.total_deg - 30.0).abs() < 1e-9);
        assert!((e.heading_deg - 30.0).abs() < 1e-9);
        assert!(e.inclination_deg.abs() < 1e-9);
        // Heading 40° after a tilt of 10° about world y: the tilt part is still 10°.
        let tilt = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), 10f64.to_radians());
        let turn = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 40f64.to_radians());
        let e = error_angles(&(turn * tilt * r), &r);
        assert!((e.heading_deg - 40.0).abs() < 1e-9);
        assert!((e.inclination_deg - 10.0).abs() < 1e-9);
        let expected_total = (turn * tilt).angle().to_degrees();
        assert!((e.total_deg - expected_total).abs() < 1e-9);
    }

    #[test]
    fn rmse_counts_only_evaluated_samples_and_6d_removes_one_heading_offset() {
        let refs: Vec<UnitQuaternion<f64>> = (0..6)
            .map(|i| UnitQuaternion::from_euler_angles(0.1 * i as f64, -0.05 * i as f64, 0.2))
            .collect();
        let samples = refs
            .iter()
            .enumerate()
            .map(|(i, r)| sample(0.0, (i != 4).then_some(*r), i != 5))
            .collect();
        let trial = Trial {
            name: "e".into(),
            rate_hz: 100.0,
            samples,
        };
        // Heading off by 90° throughout, plus a 3° or 4° tilt on the evaluated samples 0..4.
        let turn = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 90f64.to_radians());
        let tilts = [3.0, 4.0, 3.0, 4.0, 50.0, 50.0];
        let est: Vec<UnitQuaternion<f64>> = refs
            .iter()
            .zip(tilts)
            .map(|(r, t)| {
                let tilt = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), f64::to_radians(t));
                turn * tilt * r
            })
            .collect();
        let expected_incl = (12.5f64).sqrt(); // √((9 + 16 + 9 + 16) / 4)
        let e9 = rmse(&trial, &est).unwrap();
        assert!((e9.inclination_deg - expected_incl).abs() < 1e-9);
        assert!((e9.heading_deg - 90.0).abs() < 1e-9);
        let offset = heading_offset_rad(&trial, &est).unwrap();
        assert!((offset.to_degrees() - 90.0).abs() < 1e-9);
        let e6 = rmse_6d(&trial, &est).unwrap();
        assert!((e6.inclination_deg - expected_incl).abs() < 1e-9);
        assert!(e6.heading_deg.abs() < 1e-9);
        assert!((e6.total_deg - expected_incl).abs() < 1e-9);
        assert_eq!(rmse(&trial, &est[1..]), None);
    }
}
