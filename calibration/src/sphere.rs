//! Fitting `corrected = M · (raw − offset)` so that every corrected reading has one known
//! length: the accelerometer's poses (length g) and the magnetometer's rotation sequence (the
//! local field) both lie on an ellipsoid that the correction maps onto a sphere.
//!
//! Only lengths are known, so M is determined up to a rotation; it is fitted upper triangular
//! with a positive diagonal (x stays along the sensor's x, y in its x–y plane), which also
//! makes a symmetric soft-iron matrix and a misaligned accelerometer comparable through MᵀM,
//! the part lengths do fix. Levenberg–Marquardt on the residuals |M·(raw − offset)| − length.

use nalgebra::{DMatrix, DVector, Matrix3, SymmetricEigen, Vector3};
use serde::{Deserialize, Serialize};

use crate::{AffineCorrection, CalibrationError};

/// Which terms of M are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FitModel {
    /// Offset and one scale per axis (6 parameters; 6 poses suffice).
    PerAxis,
    /// Offset, scales and cross-axis terms (9 parameters; needs 9 readings or more).
    CrossAxis,
}

impl FitModel {
    /// Parameters fitted.
    pub fn parameters(self) -> usize {
        match self {
            FitModel::PerAxis => 6,
            FitModel::CrossAxis => 9,
        }
    }
}

/// A fitted correction and how far to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SphereFit {
    /// The correction.
    pub correction: AffineCorrection,
    /// The terms fitted.
    pub model: FitModel,
    /// RMS of |corrected| − length over the readings, in the readings' unit.
    pub residual_rms: f64,
    /// How evenly the readings surround their centre: √(λmin / λmax) of their scatter
    /// matrix; 1 for readings spread over a whole sphere (or the six faces of a cube), 0 for
    /// readings in one plane.
    pub coverage: f64,
    /// Readings used.
    pub readings: usize,
}

/// Least coverage a fit accepts: readings much flatter than this do not fix all three axes.
pub const MIN_COVERAGE: f64 = 0.2;

/// √(λmin / λmax) of the scatter of `readings` about their mean (0 for fewer than 2).
pub fn coverage(readings: &[Vector3<f64>]) -> f64 {
    if readings.len() < 2 {
        return 0.0;
    }
    let mean = readings.iter().sum::<Vector3<f64>>() / readings.len() as f64;
    let scatter: Matrix3<f64> = readings
        .iter()
        .map(|r| (r - mean) * (r - mean).transpose())
        .sum();
    let eigen = SymmetricEigen::new(scatter).eigenvalues;
    let (lo, hi) = (eigen.min(), eigen.max());
    if hi > 0.0 {
        (lo.max(0.0) / hi).sqrt()
    } else {
        0.0
    }
}

/// Fits `model` so that every reading's corrected length is `length`. Refuses too few readings
/// for the model, non-finite readings, readings that do not surround a centre
/// ([`MIN_COVERAGE`]) and a fit that does not converge.
pub fn fit_to_sphere(
    readings: &[Vector3<f64>],
    length: f64,
    model: FitModel,
) -> Result<SphereFit, CalibrationError> {
    let need = model.parameters();
    if readings.len() < need {
        return Err(CalibrationError::TooFewReadings {
            got: readings.len(),
            need,
        });
    }
    if readings.iter().any(|r| !r.iter().all(|x| x.is_finite()))
        || !length.is_finite()
        || length <= 0.0
    {
        return Err(CalibrationError::NotFinite);
    }
    let coverage = coverage(readings);
    if coverage < MIN_COVERAGE {
        return Err(CalibrationError::PoorCoverage {
            coverage,
            min: MIN_COVERAGE,
        });
    }
    // Start: the centre of the readings, one scale that maps their mean distance to `length`.
    let centre = readings.iter().sum::<Vector3<f64>>() / readings.len() as f64;
    let radius = readings.iter().map(|r| (r - centre).norm()).sum::<f64>() / readings.len() as f64;
    if radius.is_nan() || radius <= 0.0 {
        return Err(CalibrationError::PoorCoverage {
            coverage: 0.0,
            min: MIN_COVERAGE,
        });
    }
    let mut p = Params::start(centre, length / radius, model);
    let mut lambda = 1e-3;
    let mut cost = p.cost(readings, length);
    let mut converged = false;
    for _ in 0..200 {
        let (jacobian, residuals) = p.linearise(readings, length);
        let jtj = jacobian.transpose() * &jacobian;
        let gradient = jacobian.transpose() * &residuals;
        let mut improved = false;
        for _ in 0..20 {
            let mut damped = jtj.clone();
            for i in 0..damped.nrows() {
                damped[(i, i)] += lambda * jtj[(i, i)].max(1e-12);
            }
            let Some(step) = damped.cholesky().map(|c| c.solve(&(-&gradient))) else {
                lambda *= 10.0;
                continue;
            };
            let trial = p.stepped(&step);
            let trial_cost = trial.cost(readings, length);
            if trial_cost.is_finite() && trial_cost <= cost {
                let relative = (cost - trial_cost) / cost.max(1e-300);
                p = trial;
                cost = trial_cost;
                lambda = (lambda / 10.0).max(1e-12);
                improved = true;
                if relative < 1e-14 || step.amax() < 1e-13 {
                    converged = true;
                }
                break;
            }
            lambda *= 10.0;
        }
        if converged || !improved {
            converged = true;
            break;
        }
    }
    let matrix = p.matrix();
    if !converged || !matrix.iter().all(|x| x.is_finite()) || matrix.determinant() <= 0.0 {
        return Err(CalibrationError::NoFit);
    }
    Ok(SphereFit {
        correction: AffineCorrection {
            offset: p.offset,
            matrix,
        },
        model,
        residual_rms: (2.0 * cost / readings.len() as f64).sqrt(),
        coverage,
        readings: readings.len(),
    })
}

/// An accelerometer's offset, scale and (from 9 poses on) cross-axis terms from the mean
/// readings of still poses in different orientations (m/s²), each of length `gravity_m_s2`.
pub fn fit_accelerometer(
    pose_means_m_s2: &[Vector3<f64>],
    gravity_m_s2: f64,
) -> Result<SphereFit, CalibrationError> {
    let model = if pose_means_m_s2.len() >= FitModel::CrossAxis.parameters() {
        FitModel::CrossAxis
    } else {
        FitModel::PerAxis
    };
    fit_to_sphere(pose_means_m_s2, gravity_m_s2, model)
}

/// Hard iron (the offset) and soft iron (the matrix) from a magnetometer's readings while the
/// sensor is turned every way (µT): the ellipsoid they lie on mapped onto a sphere of radius
/// `field_ut` (the local field's strength, if known) or else of the ellipsoid's geometric-mean
/// radius, so that the corrected field keeps the readings' overall strength.
pub fn fit_magnetometer(
    readings_ut: &[Vector3<f64>],
    field_ut: Option<f64>,
) -> Result<SphereFit, CalibrationError> {
    let mut fit = fit_to_sphere(readings_ut, 1.0, FitModel::CrossAxis)?;
    let radius_ut = match field_ut {
        Some(field) if field > 0.0 && field.is_finite() => field,
        Some(_) => return Err(CalibrationError::NotFinite),
        None => fit.correction.matrix.determinant().powf(-1.0 / 3.0),
    };
    fit.correction.matrix *= radius_ut;
    fit.residual_rms *= radius_ut;
    Ok(fit)
}

/// The fitted parameters: the offset and M's upper triangle.
#[derive(Debug, Clone, Copy)]
struct Params {
    offset: Vector3<f64>,
    /// M₀₀, M₁₁, M₂₂, then M₀₁, M₀₂, M₁₂ (cross-axis only).
    m: [f64; 6],
    model: FitModel,
}

impl Params {
    fn start(offset: Vector3<f64>, scale: f64, model: FitModel) -> Self {
        Params {
            offset,
            m: [scale, scale, scale, 0.0, 0.0, 0.0],
            model,
        }
    }

    fn matrix(&self) -> Matrix3<f64> {
        let m = &self.m;
        Matrix3::new(m[0], m[3], m[4], 0.0, m[1], m[5], 0.0, 0.0, m[2])
    }

    fn count(&self) -> usize {
        self.model.parameters()
    }

    fn stepped(&self, step: &DVector<f64>) -> Self {
        let mut next = *self;
        for i in 0..3 {
            next.offset[i] += step[i];
        }
        for i in 3..self.count() {
            next.m[i - 3] += step[i];
        }
        next
    }

    /// ½ Σ residual².
    fn cost(&self, readings: &[Vector3<f64>], length: f64) -> f64 {
        let matrix = self.matrix();
        0.5 * readings
            .iter()
            .map(|r| ((matrix * (r - self.offset)).norm() - length).powi(2))
            .sum::<f64>()
    }

    /// The residuals and their Jacobian at these parameters.
    fn linearise(&self, readings: &[Vector3<f64>], length: f64) -> (DMatrix<f64>, DVector<f64>) {
        let matrix = self.matrix();
        let mut jacobian = DMatrix::zeros(readings.len(), self.count());
        let mut residuals = DVector::zeros(readings.len());
        for (row, r) in readings.iter().enumerate() {
            let d = r - self.offset;
            let c = matrix * d;
            let norm = c.norm().max(1e-300);
            residuals[row] = norm - length;
            let u = c / norm;
            // ∂|c|/∂offset = −uᵀM.
            let by_offset = -(matrix.transpose() * u);
            for i in 0..3 {
                jacobian[(row, i)] = by_offset[i];
            }
            // ∂|c|/∂M_ij = u_i d_j for the fitted entries.
            let entries = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)];
            for (k, &(i, j)) in entries.iter().enumerate().take(self.count() - 3) {
                jacobian[(row, 3 + k)] = u[i] * d[j];
            }
        }
        (jacobian, residuals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sphere_directions, Noise};

    /// A sensor reading `raw = S·truth + offset`, S with scale and cross-axis errors.
    fn sensor() -> (Matrix3<f64>, Vector3<f64>) {
        (
            Matrix3::new(1.04, 0.015, -0.01, 0.02, 0.97, 0.012, -0.008, 0.01, 1.02),
            Vector3::new(0.25, -0.15, 0.4),
        )
    }

    /// MᵀM, the part of a correction that lengths determine.
    fn metric(m: &Matrix3<f64>) -> Matrix3<f64> {
        m.transpose() * m
    }

    #[test]
    fn a_cross_axis_sensor_is_recovered_from_poses() {
        let (s, offset) = sensor();
        let g = 9.80665;
        let mut noise = Noise::new(7);
        let readings: Vec<_> = sphere_directions(14)
            .iter()
            .map(|u| s * (u * g) + offset + noise.vector(0.005))
            .collect();
        let fit = fit_accelerometer(&readings, g).unwrap();
        assert_eq!(fit.model, FitModel::CrossAxis);
        let truth = s.try_inverse().unwrap();
        // 5 mm/s² of noise per pose: the offset within 10 mm/s², MᵀM within 0.3 %.
        assert!((fit.correction.offset - offset).amax() < 0.01, "{fit:?}");
        let error = (metric(&fit.correction.matrix) - metric(&truth)).amax();
        assert!(error < 3e-3, "{error} {fit:?}");
        assert!(fit.residual_rms < 0.01 && fit.coverage > 0.8, "{fit:?}");
        // New orientations come out at length g.
        for u in sphere_directions(30) {
            let raw = s * (u * g) + offset;
            let corrected = fit.correction.apply(&raw).norm();
            assert!((corrected - g).abs() < 0.01, "{corrected}");
        }
    }

    #[test]
    fn six_faces_give_offset_and_scale() {
        let (scale, offset) = (Vector3::new(1.03, 0.98, 1.01), Vector3::new(0.2, -0.1, 0.3));
        let g = 9.80665;
        let faces = [
            Vector3::x(),
            -Vector3::x(),
            Vector3::y(),
            -Vector3::y(),
            Vector3::z(),
            -Vector3::z(),
        ];
        let readings: Vec<_> = faces
            .iter()
            .map(|u| (u * g).component_mul(&scale) + offset)
            .collect();
        let fit = fit_accelerometer(&readings, g).unwrap();
        assert_eq!(fit.model, FitModel::PerAxis);
        assert!((fit.correction.offset - offset).amax() < 1e-9, "{fit:?}");
        for i in 0..3 {
            assert!(
                (fit.correction.matrix[(i, i)] * scale[i] - 1.0).abs() < 1e-9,
                "{fit:?}"
            );
        }
        assert!(fit.residual_rms < 1e-9);
        // Six readings cannot fix nine parameters.
        assert!(matches!(
            fit_to_sphere(&readings, g, FitModel::CrossAxis),
            Err(CalibrationError::TooFewReadings { got: 6, need: 9 })
        ));
    }

    #[test]
    fn hard_and_soft_iron_are_removed() {
        // A 48 µT field seen through soft iron (a symmetric distortion) and hard iron.
        let soft = Matrix3::new(1.1, 0.05, -0.03, 0.05, 0.92, 0.04, -0.03, 0.04, 1.0);
        let hard = Vector3::new(12.0, -30.0, 7.5);
        let mut noise = Noise::new(9);
        let readings: Vec<_> = sphere_directions(200)
            .iter()
            .map(|u| soft * (u * 48.0) + hard + noise.vector(0.3))
            .collect();
        let fit = fit_magnetometer(&readings, Some(48.0)).unwrap();
        assert!((fit.correction.offset - hard).amax() < 0.1, "{fit:?}");
        let truth = soft.try_inverse().unwrap();
        let error = (metric(&fit.correction.matrix) - metric(&truth)).amax();
        assert!(error < 5e-3, "{error}");
        assert!((fit.residual_rms - 0.3).abs() < 0.1, "{fit:?}");
        // Without the field's strength, the sphere keeps the readings' geometric-mean radius:
        // 48 · ∛det(soft).
        let free = fit_magnetometer(&readings, None).unwrap();
        let radius = free
            .correction
            .apply(&(soft * Vector3::x() * 48.0 + hard))
            .norm();
        assert!(
            (radius - 48.0 * soft.determinant().cbrt()).abs() < 0.2,
            "{radius}"
        );
    }

    #[test]
    fn coplanar_and_bad_readings_are_refused() {
        // A magnetometer turned about one axis only: a circle, not an ellipsoid.
        let circle: Vec<_> = (0..36)
            .map(|k| {
                let a = k as f64 * 10f64.to_radians();
                Vector3::new(40.0 * a.cos() + 5.0, 40.0 * a.sin() - 3.0, 12.0)
            })
            .collect();
        let e = fit_to_sphere(&circle, 1.0, FitModel::CrossAxis).unwrap_err();
        assert!(matches!(e, CalibrationError::PoorCoverage { .. }), "{e}");
        assert!(e.to_string().contains("plane"), "{e}");
        let mut readings: Vec<_> = sphere_directions(12).iter().map(|u| u * 9.8).collect();
        readings[3].y = f64::NAN;
        assert!(matches!(
            fit_to_sphere(&readings, 9.8, FitModel::CrossAxis),
            Err(CalibrationError::NotFinite)
        ));
    }
}
