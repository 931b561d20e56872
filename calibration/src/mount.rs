//! How a sensor sits on the body or the board, from two still poses.
//!
//! Standing upright (or with the board level) the accelerometer reads the world's up in sensor
//! axes. Bending forward (or tipping the board forward, along its rocking direction) turns the
//! body's top forward, so the world's up, seen from the body, leans backward: the part of the
//! second reading perpendicular to the first points backward. Up and forward fix the frame:
//! x forward, y left, z up, whichever way the sensor was strapped on.

use nalgebra::{Rotation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use crate::CalibrationError;

/// Least angle between the two poses: smaller bends leave the forward direction to noise.
pub const MIN_BEND_DEG: f64 = 15.0;
/// Largest angle between the two poses: past this the second pose is not a forward bend.
pub const MAX_BEND_DEG: f64 = 100.0;

/// A mounting: the rotation from sensor axes to body (or board) axes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mounting {
    /// `body_from_imu`: a vector in sensor axes turned into body axes (x forward, y left,
    /// z up).
    pub body_from_imu: UnitQuaternion<f64>,
    /// The angle between the two poses, degrees (the quality: larger fixes forward better).
    pub bend_deg: f64,
}

/// The mounting from the mean accelerometer readings upright (`upright_m_s2`) and bent
/// forward (`bent_m_s2`), in sensor axes. Refuses readings without a length, a bend under
/// [`MIN_BEND_DEG`] or over [`MAX_BEND_DEG`].
pub fn mounting_from_poses(
    upright_m_s2: &Vector3<f64>,
    bent_m_s2: &Vector3<f64>,
) -> Result<Mounting, CalibrationError> {
    mounting_from_poses_between(upright_m_s2, bent_m_s2, MIN_BEND_DEG, MAX_BEND_DEG)
}

/// [`mounting_from_poses`] accepting an angle between the poses from `min_bend_deg` to
/// `max_bend_deg`: a board that tips only to its stop (a rocker's 15°) needs a smaller least
/// angle than a person bending, and is steady enough there for it.
pub fn mounting_from_poses_between(
    upright_m_s2: &Vector3<f64>,
    bent_m_s2: &Vector3<f64>,
    min_bend_deg: f64,
    max_bend_deg: f64,
) -> Result<Mounting, CalibrationError> {
    if !(upright_m_s2
        .iter()
        .chain(bent_m_s2.iter())
        .all(|x| x.is_finite()))
    {
        return Err(CalibrationError::NotFinite);
    }
    let (Some(up), Some(bent)) = (
        upright_m_s2.try_normalize(1e-6),
        bent_m_s2.try_normalize(1e-6),
    ) else {
        return Err(CalibrationError::NotFinite);
    };
    let bend_deg = up.angle(&bent).to_degrees();
    if !(min_bend_deg..=max_bend_deg).contains(&bend_deg) {
        return Err(CalibrationError::Bend {
            bend_deg,
            min_deg: min_bend_deg,
            max_deg: max_bend_deg,
        });
    }
    // Parallel poses (a caller's minimum of 0°) fix no forward direction.
    let forward = -(bent - up * bent.dot(&up))
        .try_normalize(1e-9)
        .ok_or(CalibrationError::NoFit)?;
    let left = up.cross(&forward);
    // Rows: the body's axes in sensor coordinates.
    let body_from_imu = Rotation3::from_matrix_unchecked(nalgebra::Matrix3::from_rows(&[
        forward.transpose(),
        left.transpose(),
        up.transpose(),
    ]));
    Ok(Mounting {
        body_from_imu: UnitQuaternion::from_rotation_matrix(&body_from_imu),
        bend_deg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body pose (pitch forward θ about the body's left axis), seen by a sensor strapped on
    /// as `imu_from_body`: the accelerometer's reading, g along the world's up.
    fn reading(imu_from_body: &UnitQuaternion<f64>, bend_deg: f64) -> Vector3<f64> {
        // Leaning forward turns the body's x down: a rotation about +y.
        let world_from_body =
            UnitQuaternion::from_axis_angle(&Vector3::y_axis(), bend_deg.to_radians());
        let up_in_body = world_from_body.inverse() * Vector3::z() * 9.81;
        imu_from_body * up_in_body
    }

    #[test]
    fn a_sensor_strapped_on_any_way_is_found() {
        for (roll, pitch, yaw) in [
            (0.0, 0.0, 0.0),
            (90.0, 0.0, 180.0),
            (12.0, -70.0, 35.0),
            (180.0, 20.0, -100.0),
        ] {
            let imu_from_body = UnitQuaternion::from_euler_angles(
                f64::to_radians(roll),
                f64::to_radians(pitch),
                f64::to_radians(yaw),
            );
            let m = mounting_from_poses(
                &reading(&imu_from_body, 0.0),
                &reading(&imu_from_body, 40.0),
            )
            .unwrap();
            assert!((m.bend_deg - 40.0).abs() < 1e-9);
            let error_deg = m
                .body_from_imu
                .angle_to(&imu_from_body.inverse())
                .to_degrees();
            assert!(error_deg < 1e-9, "{roll} {pitch} {yaw}: {error_deg}°");
            // A trunk bent 30° forward and 10° to the left comes out in body axes.
            let world_from_body =
                UnitQuaternion::from_axis_angle(&Vector3::y_axis(), 30f64.to_radians())
                    * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -10f64.to_radians());
            let up_seen =
                m.body_from_imu * (imu_from_body * (world_from_body.inverse() * Vector3::z()));
            let flexion_deg = (-up_seen.x).atan2(up_seen.z).to_degrees();
            assert!((flexion_deg - 30.0).abs() < 0.5, "{flexion_deg}");
        }
    }

    #[test]
    fn too_small_a_bend_or_no_reading_is_refused() {
        let q = UnitQuaternion::identity();
        let e = mounting_from_poses(&reading(&q, 0.0), &reading(&q, 5.0)).unwrap_err();
        assert!(matches!(e, CalibrationError::Bend { .. }), "{e}");
        assert!(e.to_string().contains("bend"), "{e}");
        assert!(mounting_from_poses(&Vector3::zeros(), &reading(&q, 30.0)).is_err());
        assert!(
            mounting_from_poses(&Vector3::new(f64::NAN, 0.0, 9.8), &reading(&q, 30.0)).is_err()
        );
    }
}
