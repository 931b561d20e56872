//! proprio's orientation filter: gyroscope strapdown integration, corrected by gravity and
//! (optionally) the magnetic field, each through a low-pass filter in a slowly rotating frame.
//!
//! The estimate is the product of three rotations,
//! `world_from_imu = heading · world6_from_inertial · inertial_from_imu`:
//! - `inertial_from_imu` integrates the bias-corrected gyroscope and nothing else, so it is
//!   smooth and drifts only with the residual gyroscope bias;
//! - the accelerometer is rotated into that inertial frame and low-pass filtered there (a
//!   second-order Butterworth with time constant `tau_acc_s`). In the inertial frame gravity
//!   stands still while accelerations of the body (steps, taps, a rocking board) come and go, so
//!   the filter removes them without delaying the orientation itself; `world6_from_inertial` is the
//!   smallest rotation that turns the filtered vector up. The idea is VQF's (Laidig & Seel 2023);
//!   this is our own formulation.
//! - the gyroscope bias is a three-state Kalman filter: while the sensor is still (a rest
//!   detector) the mean rate measures it directly; in motion a residual bias shows as a steady
//!   inclination correction, which measures the bias through the rotation into sensor axes, both
//!   seen through the same low-pass (only the horizontal axes are observed at any moment);
//! - with a magnetometer, the heading about the vertical is pulled to magnetic north with time
//!   constant `tau_mag_s`, unless the field's strength or dip departs from the learned reference
//!   (a magnet, a steel frame); a different field that stays steady in the world (same strength,
//!   dip and direction while the sensor turns) for `mag_new_reference_s` becomes the new
//!   reference, a magnet carried with the sensor never does.
//!
//! Inputs that cannot be used (NaN, zero or wildly wrong accelerations, a zero field, a negative
//! or zero dt) are skipped with a flag; more than `max_dt_s` without a usable gyroscope sample
//! (a gap, NaN rates) restarts the orientation and keeps the learned bias.

use nalgebra::{Matrix2, Matrix2x3, Matrix3, Matrix3x2, SVector, UnitQuaternion, Vector2, Vector3};
use serde::{Deserialize, Serialize};

use crate::G_M_S2;

use super::{ImuSi, OrientationEstimate, OrientationFilter};

/// Parameters of [`AhrsFilter`]. One set serves every recording; see the README's filter section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AhrsParams {
    /// Time constant of the accelerometer low-pass in the inertial frame, s.
    pub tau_acc_s: f64,
    /// Time constant of the offline estimate's zero-phase accelerometer low-pass, s (see
    /// [`super::smooth_orientation`]).
    pub tau_acc_offline_s: f64,
    /// Time constant of the heading correction towards magnetic north, s.
    pub tau_mag_s: f64,
    /// Time constant of the offline estimate's zero-phase heading correction, s (see
    /// [`super::smooth_orientation`]): offline the gyroscope's heading drifts little (its bias
    /// is known from the whole recording), so the field is averaged over more orientations.
    pub tau_mag_offline_s: f64,
    /// Prior uncertainty of the gyroscope bias (1σ), rad/s; also the most it is allowed to
    /// grow back to without measurements.
    pub bias_sigma_init_rad_s: f64,
    /// Time in which the bias uncertainty grows from zero back to `bias_sigma_init_rad_s`
    /// without measurements (how fast the bias may wander), s.
    pub bias_forgetting_s: f64,
    /// The same for the offline estimate's passes over a whole recording, s (see
    /// [`super::smooth_orientation`]): a recording is minutes long and its rests, at either end
    /// or between movements, measure the bias best, so the bias is held far more steadily.
    pub bias_forgetting_offline_s: f64,
    /// Noise of the bias seen in the inclination correction while moving, as the 1σ of its
    /// one-second mean, rad/s.
    pub bias_sigma_motion_rad_s: f64,
    /// Noise of the bias seen at rest (the mean rate), as the 1σ of its one-second mean, rad/s.
    pub bias_sigma_rest_rad_s: f64,
    /// At rest: the gyroscope stays within this of its recent mean, rad/s…
    pub rest_gyr_rad_s: f64,
    /// …and the accelerometer within this of its recent mean, m/s²…
    pub rest_acc_m_s2: f64,
    /// …for at least this long, s.
    pub rest_min_s: f64,
    /// Largest gyroscope bias estimate, rad/s.
    pub max_bias_rad_s: f64,
    /// The field counts as disturbed when its strength departs from the reference by more
    /// than this share…
    pub mag_norm_tolerance: f64,
    /// …or its dip angle by more than this, rad.
    pub mag_dip_tolerance_rad: f64,
    /// A different but steady field becomes the new reference after this long, s.
    pub mag_new_reference_s: f64,
    /// Use the magnetometer when the samples carry one (9D); false: 6D, heading free.
    pub use_mag: bool,
    /// Accelerations further than this from 1 g are not used (saturation, impacts), m/s².
    pub acc_reject_m_s2: f64,
    /// Samples more than this after the previous one restart the orientation, s.
    pub max_dt_s: f64,
    /// The estimate is reported as converging for this long after a (re)start, s.
    pub converging_s: f64,
}

impl AhrsParams {
    /// The defaults without the magnetometer (6D): for tilt and posture, where the heading
    /// does not matter.
    pub fn tilt_only() -> Self {
        AhrsParams {
            use_mag: false,
            ..AhrsParams::default()
        }
    }
}

impl Default for AhrsParams {
    fn default() -> Self {
        AhrsParams {
            tau_acc_s: 3.0,
            tau_acc_offline_s: 3.0,
            tau_mag_s: 9.0,
            tau_mag_offline_s: 30.0,
            bias_sigma_init_rad_s: 0.5f64.to_radians(),
            bias_forgetting_s: 100.0,
            bias_forgetting_offline_s: 1000.0,
            bias_sigma_motion_rad_s: 0.1f64.to_radians(),
            bias_sigma_rest_rad_s: 0.03f64.to_radians(),
            rest_gyr_rad_s: 2f64.to_radians(),
            rest_acc_m_s2: 0.5,
            rest_min_s: 1.5,
            max_bias_rad_s: 5f64.to_radians(),
            mag_norm_tolerance: 0.1,
            mag_dip_tolerance_rad: 10f64.to_radians(),
            mag_new_reference_s: 20.0,
            use_mag: true,
            acc_reject_m_s2: 4.0 * G_M_S2,
            max_dt_s: 0.5,
            converging_s: 1.0,
        }
    }
}

/// A second-order Butterworth low-pass for N-vectors, with coefficients for the current dt.
#[derive(Debug, Clone)]
pub(super) struct Butterworth<const N: usize> {
    tau_s: f64,
    dt_s: f64,
    b0: f64,
    a1: f64,
    a2: f64,
    s1: SVector<f64, N>,
    s2: SVector<f64, N>,
    primed: bool,
}

/// The low-pass for 3-vectors.
pub(super) type Butterworth3 = Butterworth<3>;

impl<const N: usize> Butterworth<N> {
    pub(super) fn new(tau_s: f64) -> Self {
        Butterworth {
            tau_s,
            dt_s: 0.0,
            b0: 1.0,
            a1: 0.0,
            a2: 0.0,
            s1: SVector::zeros(),
            s2: SVector::zeros(),
            primed: false,
        }
    }

    pub(super) fn set_dt(&mut self, dt_s: f64) {
        if dt_s == self.dt_s {
            return;
        }
        self.dt_s = dt_s;
        // Cut-off √2/(2π τ): its step response settles like a first-order filter with time
        // constant τ. Bilinear transform with pre-warping.
        let omega = std::f64::consts::SQRT_2 / self.tau_s;
        let k = (omega * dt_s / 2.0).min(1.5).tan();
        let norm = 1.0 / (1.0 + std::f64::consts::SQRT_2 * k + k * k);
        self.b0 = k * k * norm;
        self.a1 = 2.0 * (k * k - 1.0) * norm;
        self.a2 = (1.0 - std::f64::consts::SQRT_2 * k + k * k) * norm;
    }

    /// Starts in steady state at `x`.
    fn prime(&mut self, x: SVector<f64, N>) {
        let (b1, b2) = (2.0 * self.b0, self.b0);
        self.s2 = (b2 - self.a2) * x;
        self.s1 = (b1 - self.a1) * x + self.s2;
        self.primed = true;
    }

    pub(super) fn step(&mut self, x: SVector<f64, N>) -> SVector<f64, N> {
        if !self.primed {
            self.prime(x);
        }
        let (b0, b1, b2) = (self.b0, 2.0 * self.b0, self.b0);
        let y = b0 * x + self.s1;
        self.s1 = b1 * x - self.a1 * y + self.s2;
        self.s2 = b2 * x - self.a2 * y;
        y
    }
}

/// The gyroscope bias as a small Kalman filter: a random walk, seen at rest as the mean rate and
/// in motion through the inclination correction.
#[derive(Debug, Clone)]
struct BiasEstimator {
    bias_rad_s: Vector3<f64>,
    covariance: Matrix3<f64>,
    /// Low-passed `world6_from_imu` (its two horizontal rows) and low-passed R·b̂: the
    /// correction answers to the bias through the same low-pass as the accelerometer.
    rotation_lp: Butterworth<6>,
    rotated_bias_lp: Butterworth<2>,
}

impl BiasEstimator {
    fn new(p: &AhrsParams) -> Self {
        BiasEstimator {
            bias_rad_s: Vector3::zeros(),
            covariance: Matrix3::identity() * p.bias_sigma_init_rad_s.powi(2),
            rotation_lp: Butterworth::new(p.tau_acc_s),
            rotated_bias_lp: Butterworth::new(p.tau_acc_s),
        }
    }

    /// The uncertainty grows with time (the bias wanders), up to its prior.
    fn predict(&mut self, dt_s: f64, p: &AhrsParams) {
        let prior = p.bias_sigma_init_rad_s.powi(2);
        let growth = prior * dt_s / p.bias_forgetting_s;
        for i in 0..3 {
            if self.covariance[(i, i)] < prior {
                self.covariance[(i, i)] += growth;
            }
        }
    }

    /// At rest: the mean rate is the bias.
    fn update_rest(&mut self, mean_rate: &Vector3<f64>, dt_s: f64, p: &AhrsParams) {
        let noise = p.bias_sigma_rest_rad_s.powi(2) / dt_s;
        let gain = self.covariance
            * (self.covariance + Matrix3::identity() * noise)
                .try_inverse()
                .unwrap_or_else(Matrix3::zeros);
        let innovation = clip(mean_rate - self.bias_rad_s, p.max_bias_rad_s);
        self.bias_rad_s += gain * innovation;
        self.covariance -= gain * self.covariance;
        self.clamp(p);
    }

    /// In motion: `correction_rate` (horizontal, world frame, rad/s) is the inclination correction
    /// that undid the drift of a residual bias, seen through the accelerometer's low-pass.
    fn update_motion(
        &mut self,
        world6_from_imu: &UnitQuaternion<f64>,
        correction_rate: &Vector2<f64>,
        dt_s: f64,
        p: &AhrsParams,
    ) {
        let r = world6_from_imu.to_rotation_matrix();
        let r = r.matrix();
        let rows = SVector::<f64, 6>::from_column_slice(&[
            r[(0, 0)],
            r[(0, 1)],
            r[(0, 2)],
            r[(1, 0)],
            r[(1, 1)],
            r[(1, 2)],
        ]);
        self.rotation_lp.set_dt(dt_s);
        self.rotated_bias_lp.set_dt(dt_s);
        let rows_lp = self.rotation_lp.step(rows);
        let h = Matrix2x3::new(
            rows_lp[0], rows_lp[1], rows_lp[2], rows_lp[3], rows_lp[4], rows_lp[5],
        );
        let rb = Vector2::new(
            rows.fixed_rows::<3>(0).dot(&self.bias_rad_s),
            rows.fixed_rows::<3>(3).dot(&self.bias_rad_s),
        );
        let rb_lp = self.rotated_bias_lp.step(rb);
        // LP(R)·b ≈ LP(R·b̂) − correction rate.
        let measured = rb_lp - correction_rate;
        let innovation = measured - h * self.bias_rad_s;
        let m = p.max_bias_rad_s;
        let innovation = innovation.map(|x| x.clamp(-m, m));
        let noise = p.bias_sigma_motion_rad_s.powi(2) / dt_s;
        let s = h * self.covariance * h.transpose() + Matrix2::identity() * noise;
        let Some(s_inv) = s.try_inverse() else {
            return;
        };
        let gain: Matrix3x2<f64> = self.covariance * h.transpose() * s_inv;
        self.bias_rad_s += gain * innovation;
        self.covariance -= gain * h * self.covariance;
        self.clamp(p);
    }

    fn clamp(&mut self, p: &AhrsParams) {
        self.bias_rad_s = clip(self.bias_rad_s, p.max_bias_rad_s);
    }
}

fn clip(v: Vector3<f64>, limit: f64) -> Vector3<f64> {
    v.map(|x| {
        if x.is_finite() {
            x.clamp(-limit, limit)
        } else {
            0.0
        }
    })
}

/// Detects rest: gyroscope and accelerometer close to their recent means for long enough.
#[derive(Debug, Clone)]
struct RestDetector {
    gyr_mean: Vector3<f64>,
    acc_mean: Vector3<f64>,
    still_s: f64,
    primed: bool,
}

/// Time constant of the recent means that rest is judged against, s.
const REST_MEAN_TAU_S: f64 = 0.5;

impl RestDetector {
    fn new() -> Self {
        RestDetector {
            gyr_mean: Vector3::zeros(),
            acc_mean: Vector3::zeros(),
            still_s: 0.0,
            primed: false,
        }
    }

    /// Returns the recent mean rate while at rest.
    fn update(
        &mut self,
        gyr: &Vector3<f64>,
        acc: &Vector3<f64>,
        dt_s: f64,
        p: &AhrsParams,
    ) -> Option<Vector3<f64>> {
        if !self.primed {
            self.gyr_mean = *gyr;
            self.acc_mean = *acc;
            self.primed = true;
        }
        let k = (dt_s / REST_MEAN_TAU_S).min(1.0);
        self.gyr_mean += k * (gyr - self.gyr_mean);
        self.acc_mean += k * (acc - self.acc_mean);
        let still = (gyr - self.gyr_mean).norm() < p.rest_gyr_rad_s
            && (acc - self.acc_mean).norm() < p.rest_acc_m_s2;
        self.still_s = if still { self.still_s + dt_s } else { 0.0 };
        (self.still_s >= p.rest_min_s).then_some(self.gyr_mean)
    }

    fn reset(&mut self) {
        *self = RestDetector::new();
    }
}

/// The magnetometer's heading correction with disturbance rejection.
#[derive(Debug, Clone, Default)]
struct HeadingCorrection {
    /// Rotation about world z applied last, rad.
    heading_rad: f64,
    /// Reference field strength (µT) and dip (rad), once learned.
    reference: Option<(f64, f64)>,
    /// A candidate new reference field.
    candidate: Option<Candidate>,
    /// Time since the heading was last corrected, s (fast convergence after a long time).
    uncorrected_s: f64,
    /// Time left of fast convergence, s.
    fast_left_s: f64,
    disturbed: bool,
}

/// A field that differs from the reference, watched to see whether it is a new steady one.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    norm_ut: f64,
    dip_rad: f64,
    /// The heading it points to: a field fixed in the world keeps it while the sensor turns;
    /// a magnet carried with the sensor does not.
    heading_rad: f64,
    held_s: f64,
}

/// The heading converges this much faster at the start and after a long disturbance.
const MAG_FAST_FACTOR: f64 = 10.0;
/// How long the fast convergence lasts, s; also the time without correction that starts it.
const MAG_FAST_S: f64 = 2.0;
/// Time constant with which an undisturbed field's reference follows slow changes, s.
const MAG_REFERENCE_TAU_S: f64 = 10.0;

impl HeadingCorrection {
    /// Takes the field in the inclination-corrected frame (z up).
    fn update(&mut self, mag_world6: &Vector3<f64>, dt_s: f64, p: &AhrsParams) {
        let norm = mag_world6.norm();
        let horizontal = mag_world6.xy().norm();
        if !(norm > 1e-6 && horizontal > 1e-6 && norm.is_finite()) {
            self.disturbed = true;
            self.uncorrected_s += dt_s;
            return;
        }
        let dip = (mag_world6.z / norm).asin();
        let matches = |(n, d): (f64, f64)| {
            (norm - n).abs() <= p.mag_norm_tolerance * n
                && (dip - d).abs() <= p.mag_dip_tolerance_rad
        };
        // The heading that turns the horizontal field to +y (north in ENU).
        let target = std::f64::consts::FRAC_PI_2 - mag_world6.y.atan2(mag_world6.x);
        let first = self.reference.is_none();
        let reference = *self.reference.get_or_insert((norm, dip));
        self.disturbed = !matches(reference);
        if self.disturbed {
            // A field that stays different but steady in the world (a new room, not a passing
            // or a carried magnet) becomes the reference.
            match self.candidate {
                Some(c)
                    if matches((c.norm_ut, c.dip_rad))
                        && wrap_pi(target - c.heading_rad).abs() <= p.mag_dip_tolerance_rad =>
                {
                    let k = (dt_s / MAG_REFERENCE_TAU_S).min(1.0);
                    self.candidate = Some(Candidate {
                        norm_ut: c.norm_ut + k * (norm - c.norm_ut),
                        dip_rad: c.dip_rad + k * (dip - c.dip_rad),
                        heading_rad: c.heading_rad,
                        held_s: c.held_s + dt_s,
                    });
                }
                _ => {
                    self.candidate = Some(Candidate {
                        norm_ut: norm,
                        dip_rad: dip,
                        heading_rad: target,
                        held_s: 0.0,
                    })
                }
            }
            if let Some(c) = self.candidate.filter(|c| c.held_s >= p.mag_new_reference_s) {
                self.reference = Some((c.norm_ut, c.dip_rad));
                self.candidate = None;
                self.disturbed = false;
            }
        }
        if self.disturbed {
            self.uncorrected_s += dt_s;
            return;
        }
        self.candidate = None;
        if let Some((n, d)) = self.reference {
            let k = (dt_s / MAG_REFERENCE_TAU_S).min(1.0);
            self.reference = Some((n + k * (norm - n), d + k * (dip - d)));
        }
        if first {
            self.heading_rad = target;
        }
        if first || self.uncorrected_s >= MAG_FAST_S {
            self.fast_left_s = MAG_FAST_S;
        }
        let tau = if self.fast_left_s > 0.0 {
            p.tau_mag_s / MAG_FAST_FACTOR
        } else {
            p.tau_mag_s
        };
        let error = wrap_pi(target - self.heading_rad);
        self.heading_rad = wrap_pi(self.heading_rad + error * (dt_s / tau).min(1.0));
        self.fast_left_s -= dt_s;
        self.uncorrected_s = 0.0;
    }
}

/// True when an accelerometer reading can be used: finite, not near zero (free fall, a dead
/// sensor), within `acc_reject_m_s2` of 1 g (not saturated).
pub(super) fn acc_usable(acc: &Vector3<f64>, p: &AhrsParams) -> bool {
    let norm = acc.norm();
    norm.is_finite() && norm > 0.1 * G_M_S2 && (norm - G_M_S2).abs() <= p.acc_reject_m_s2
}

/// The smallest rotation taking `v` up (+z); a half turn about x when `v` points straight down.
pub(super) fn turn_up(v: &Vector3<f64>) -> UnitQuaternion<f64> {
    UnitQuaternion::rotation_between(v, &Vector3::z()).unwrap_or_else(|| {
        if v.z < 0.0 {
            UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI)
        } else {
            UnitQuaternion::identity()
        }
    })
}

pub(super) fn wrap_pi(a: f64) -> f64 {
    let two_pi = std::f64::consts::TAU;
    a - two_pi * ((a + std::f64::consts::PI) / two_pi).floor()
}

/// proprio's orientation filter (see the module docs): a plain state object.
#[derive(Debug, Clone)]
pub struct AhrsFilter {
    params: AhrsParams,
    inertial_from_imu: UnitQuaternion<f64>,
    world6_from_inertial: UnitQuaternion<f64>,
    acc_inertial_lp: Butterworth3,
    bias: BiasEstimator,
    rest: RestDetector,
    heading: HeadingCorrection,
    initialised: bool,
    since_start_s: f64,
    /// Time since the last sample that was integrated, s.
    uncovered_s: f64,
    at_rest: bool,
}

impl AhrsFilter {
    /// A filter that initialises from its first usable accelerometer reading.
    pub fn new(params: AhrsParams) -> Self {
        AhrsFilter {
            params,
            inertial_from_imu: UnitQuaternion::identity(),
            world6_from_inertial: UnitQuaternion::identity(),
            acc_inertial_lp: Butterworth3::new(params.tau_acc_s),
            bias: BiasEstimator::new(&params),
            rest: RestDetector::new(),
            heading: HeadingCorrection::default(),
            initialised: false,
            since_start_s: 0.0,
            uncovered_s: 0.0,
            at_rest: false,
        }
    }

    /// Its parameters.
    pub fn params(&self) -> &AhrsParams {
        &self.params
    }

    /// The current gyroscope bias estimate, sensor frame, rad/s.
    pub fn gyr_bias_rad_s(&self) -> Vector3<f64> {
        self.bias.bias_rad_s
    }

    /// The uncertainty of [`AhrsFilter::gyr_bias_rad_s`]: its covariance, (rad/s)².
    pub fn gyr_bias_covariance_rad2_s2(&self) -> Matrix3<f64> {
        self.bias.covariance
    }

    /// Starts from a known bias (e.g. a stored calibration or another pass over the data).
    pub fn set_gyr_bias_rad_s(&mut self, bias: Vector3<f64>) {
        self.bias.bias_rad_s = clip(bias, self.params.max_bias_rad_s);
    }

    /// The orientation now: world (z up; ENU with a magnetometer) from sensor.
    pub fn world_from_imu(&self) -> UnitQuaternion<f64> {
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.heading.heading_rad)
            * self.world6_from_inertial
            * self.inertial_from_imu
    }

    fn estimate(&self, gyr: Option<Vector3<f64>>, acc_rejected: bool) -> OrientationEstimate {
        OrientationEstimate {
            world_from_imu: self.world_from_imu(),
            gyr_unbiased_rad_s: gyr.map_or_else(Vector3::zeros, |g| g - self.bias.bias_rad_s),
            acc_rejected,
            converging: !self.initialised || self.since_start_s < self.params.converging_s,
            at_rest: self.at_rest,
            mag_disturbed: self.heading.disturbed,
        }
    }

    /// Aligns the inclination to one accelerometer reading.
    fn start(&mut self, acc: &Vector3<f64>) {
        self.inertial_from_imu = UnitQuaternion::identity();
        self.world6_from_inertial = turn_up(acc);
        self.acc_inertial_lp = Butterworth3::new(self.params.tau_acc_s);
        self.initialised = true;
        self.since_start_s = 0.0;
        self.uncovered_s = 0.0;
    }
}

impl OrientationFilter for AhrsFilter {
    fn update(&mut self, imu: &ImuSi, dt_s: f64) -> OrientationEstimate {
        let p = self.params;
        let acc = imu.acc_m_s2;
        let acc_usable = acc_usable(&acc, &p);
        let gyr = imu.gyr_rad_s;
        let gyr = gyr.iter().all(|x| x.is_finite()).then_some(gyr);
        let dt_usable = dt_s.is_finite() && dt_s > 0.0;

        // Time the gyroscope did not cover (a gap, or unusable rates) cannot be bridged for long.
        if dt_usable {
            self.uncovered_s += dt_s;
        }
        if self.initialised && self.uncovered_s > p.max_dt_s {
            self.restart();
        }
        if !self.initialised {
            if acc_usable {
                self.start(&acc);
            }
            return self.estimate(gyr, !acc_usable);
        }
        let (Some(gyr), true) = (gyr, dt_usable) else {
            return self.estimate(gyr, !acc_usable);
        };
        self.uncovered_s = 0.0;
        self.since_start_s += dt_s;

        // Bias learned at rest.
        self.bias.predict(dt_s, &p);
        self.at_rest = false;
        if acc_usable {
            if let Some(mean_rate) = self.rest.update(&gyr, &acc, dt_s, &p) {
                self.at_rest = true;
                self.bias.update_rest(&mean_rate, dt_s, &p);
            }
        } else {
            self.rest.reset();
        }

        // Strapdown integration of the bias-corrected rate.
        let omega = gyr - self.bias.bias_rad_s;
        self.inertial_from_imu *= UnitQuaternion::from_scaled_axis(omega * dt_s);

        // Inclination: gravity low-passed in the inertial frame, turned up.
        if acc_usable {
            self.acc_inertial_lp.set_dt(dt_s);
            let acc_inertial = self.inertial_from_imu * acc;
            let acc_lp = self.acc_inertial_lp.step(acc_inertial);
            let up = self.world6_from_inertial * acc_lp;
            let up_norm = up.norm();
            if up_norm > 1e-9 {
                let up = up / up_norm;
                // Rotation taking `up` to z: axis up × z (horizontal), angle acos(up.z).
                let axis = Vector3::new(up.y, -up.x, 0.0);
                let sin_angle = axis.norm();
                if sin_angle > 1e-12 {
                    let angle = sin_angle.atan2(up.z);
                    let correction = axis * (angle / sin_angle);
                    self.world6_from_inertial =
                        UnitQuaternion::from_scaled_axis(correction) * self.world6_from_inertial;
                    if !self.at_rest {
                        let world6_from_imu = self.world6_from_inertial * self.inertial_from_imu;
                        let rate = correction.xy() / dt_s;
                        self.bias.update_motion(&world6_from_imu, &rate, dt_s, &p);
                    }
                }
            }
        }

        // Heading from the magnetometer.
        if p.use_mag {
            if let Some(mag) = imu.mag_ut.filter(|m| m.iter().all(|x| x.is_finite())) {
                let world6_from_imu = self.world6_from_inertial * self.inertial_from_imu;
                self.heading.update(&(world6_from_imu * mag), dt_s, &p);
            }
        }

        // Keep both quaternions unit length (rounding accumulates over hours).
        self.inertial_from_imu.renormalize_fast();
        self.world6_from_inertial.renormalize_fast();
        self.estimate(Some(gyr), !acc_usable)
    }

    fn restart(&mut self) {
        self.initialised = false;
        self.rest.reset();
        self.at_rest = false;
        self.heading.uncorrected_s = MAG_FAST_S;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(acc: Vector3<f64>, gyr: Vector3<f64>) -> ImuSi {
        ImuSi {
            acc_m_s2: acc,
            gyr_rad_s: gyr,
            mag_ut: None,
        }
    }

    #[test]
    fn learns_gyro_bias_and_holds_a_static_tilt() {
        let tilt = 10f64.to_radians();
        let up = Vector3::new(0.0, tilt.sin(), tilt.cos()) * G_M_S2;
        let bias = Vector3::new(0.01, -0.008, 0.0);
        let mut f = AhrsFilter::new(AhrsParams::default());
        let mut est = f.update(&sample(up, bias), 0.0);
        for _ in 0..100 * 120 {
            est = f.update(&sample(up, bias), 0.01);
        }
        let up_est = est.world_from_imu.inverse_transform_vector(&Vector3::z());
        let tilt_est = up_est.y.atan2(up_est.z);
        assert!(
            (tilt_est - tilt).abs().to_degrees() < 0.01,
            "{}",
            tilt_est.to_degrees()
        );
        // At rest the whole bias is learned, the vertical component too.
        let error = f.gyr_bias_rad_s() - bias;
        assert!(error.norm() < 1e-5, "{error}");
    }

    #[test]
    fn survives_degenerate_input_without_nan() {
        let mut f = AhrsFilter::new(AhrsParams::default());
        let bad = [
            sample(Vector3::zeros(), Vector3::zeros()),
            sample(
                Vector3::new(f64::NAN, 0.0, 9.8),
                Vector3::new(f64::NAN, 0.0, 0.0),
            ),
            sample(Vector3::new(0.0, 0.0, 9.8), Vector3::zeros()),
            sample(Vector3::new(1e6, 0.0, 0.0), Vector3::new(1e3, 0.0, 0.0)),
        ];
        for (i, s) in bad.iter().cycle().take(40).enumerate() {
            let dt = [0.01, 0.0, -1.0, 10.0][i % 4];
            let est = f.update(s, dt);
            assert!(est.world_from_imu.coords.iter().all(|x| x.is_finite()));
        }
    }
}
