//! The IMU calibration routine against the simulator's known sensor errors: decode → SI →
//! `ImuRoutine`, as `proprio calibrate imu` runs it; and the command end to end: the profile
//! stored, applied to the next drill on the same device, recorded with it and replayed.

use nalgebra::{Matrix3, Vector3};
use proprio::calibrate::{ImuRoutine, ImuRoutineResult, ImuStep};
use proprio::decode::StreamDecoder;
use proprio::pipeline::{Pipeline, PipelineConfig};
use proprio::sim::{RoutineWorld, SensorErrors, SensorTruth, SimConfig, SimDevice, SimTransport};
use proprio_protocol::{DeviceMessage, HostMessage};

use crate::cmd::{json, proprio};
use crate::common::send;
use crate::sim_truth::tilt_error_with;

/// A wearable straight off the reel (scale, cross-axis and iron errors) in the calibration
/// routine's hands.
fn routine_config(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(seed);
    config.device = SimDevice::CalibrationWearable;
    config.sensor = SensorErrors::uncalibrated();
    config
}

/// Runs the routine on the simulated device until it is done; the result and the sensor's truth.
fn calibrate(config: SimConfig, with_mag: bool) -> (ImuRoutineResult, SensorTruth) {
    let mut transport = SimTransport::new(config);
    send(&mut transport, HostMessage::GetInfo);
    send(
        &mut transport,
        HostMessage::Start {
            rate_hz: config.rate_hz,
        },
    );
    let mut decoder = StreamDecoder::new();
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let mut routine = ImuRoutine::new(f64::from(config.rate_hz), with_mag);
    let limit_us = ((RoutineWorld::duration_s() + 5.0) * 1e6) as u64;
    while routine.step() != ImuStep::Done {
        assert!(
            transport.now_us() < limit_us,
            "the routine never finished: {:?}",
            routine.step()
        );
        for delivery in transport.next_deliveries(None) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                let samples = match outcome {
                    Ok(DeviceMessage::Hello(info)) => {
                        pipeline.set_device_info(info);
                        continue;
                    }
                    Ok(DeviceMessage::Imu(s)) => vec![s],
                    Ok(DeviceMessage::ImuBatch(b)) => b.samples.to_vec(),
                    _ => continue,
                };
                for s in &samples {
                    if let Some(si) = pipeline.to_si(s) {
                        routine.push(&si);
                    }
                }
            }
        }
    }
    let truth = transport.device().sensor_truth();
    (routine.finish().expect("the routine's data fits"), truth)
}

/// MᵀM of a correction matrix scaled to unit determinant: what lengths fix (the rotation part
/// is a mounting question, see the sphere fit's docs).
fn shape(m: &Matrix3<f64>) -> Matrix3<f64> {
    let mtm = m.transpose() * m;
    mtm / mtm.determinant().cbrt()
}

#[test]
fn imu_routine_recovers_the_simulated_sensor_errors() {
    for seed in [1, 2, 3] {
        let (result, truth) = calibrate(routine_config(seed), true);
        let cal = result.calibration;
        // Gyroscope: 400 samples of 0.0026 rad/s noise give a 0.00013 rad/s standard error;
        // with quantisation (0.00027 rad/s per count) 0.001 rad/s (0.06 °/s) is generous.
        let gyr_error = (cal.gyr.offset - truth.gyr_bias_rad_s).norm();
        // Accelerometer: raw = A·f + b, so the perfect correction is offset b, matrix A⁻¹.
        let acc_offset_error = (cal.acc.offset - truth.acc_bias_m_s2).norm();
        let acc_inverse = truth.acc_matrix.try_inverse().expect("invertible");
        let acc_shape_error = (shape(&cal.acc.matrix) - shape(&acc_inverse)).abs().max();
        let acc_scale_error =
            (cal.acc.matrix.determinant() / acc_inverse.determinant() - 1.0).abs();
        // Magnetometer: raw = S·m + h; offset h, matrix ∝ S⁻¹ (scaled to the field's strength).
        let mag_offset_error = (cal.mag.offset - truth.hard_iron_ut).norm();
        let soft_inverse = truth.soft_iron.try_inverse().expect("invertible");
        let mag_shape_error = (shape(&cal.mag.matrix) - shape(&soft_inverse)).abs().max();
        println!(
            "seed {seed}: gyro bias error {:.5} rad/s; accelerometer offset error {:.4} m/s², \
             shape {:.5}, scale {:.5} (residual {:.4} m/s² over {} poses); magnetometer hard \
             iron error {:.3} µT (of {:.1}), shape {:.5} (coverage {:.2})",
            gyr_error,
            acc_offset_error,
            acc_shape_error,
            acc_scale_error,
            result.accelerometer.residual_rms,
            result.accelerometer.readings,
            mag_offset_error,
            truth.hard_iron_ut.norm(),
            mag_shape_error,
            result.magnetometer.map_or(0.0, |m| m.coverage),
        );
        assert!(gyr_error < 0.001, "seed {seed}: gyroscope bias");
        // Each pose's mean over 150 samples of 0.015 m/s² noise is known to 0.0012 m/s²; the
        // errors to undo are up to 0.03 m/s² of bias, 2 % of scale and 1 % cross-axis.
        assert!(
            acc_offset_error < 0.006,
            "seed {seed}: accelerometer offset"
        );
        assert!(
            acc_shape_error < 0.002,
            "seed {seed}: accelerometer scale and cross-axis"
        );
        assert!(
            acc_scale_error < 0.002,
            "seed {seed}: accelerometer overall scale"
        );
        // Up to 20 µT of hard iron and 5 % of soft iron, read with 0.3 µT of noise; the tumble
        // stops at half coverage, where offset and shape trade off a little: within 5 % of the
        // largest hard iron and under half the soft iron.
        assert!(mag_offset_error < 1.0, "seed {seed}: hard iron");
        assert!(mag_shape_error < 0.02, "seed {seed}: soft iron");
    }
}

#[test]
fn a_rocker_hold_after_calibration_is_closer_to_the_truth() {
    for seed in [1, 2, 3] {
        let (result, _) = calibrate(routine_config(seed), false);
        // The same device (same seed, same errors) strapped to the rocker board.
        let mut rocker = SimConfig::new(seed);
        rocker.sensor = SensorErrors::uncalibrated();
        let before = tilt_error_with(rocker, PipelineConfig::default(), 40.0);
        let calibrated = PipelineConfig {
            calibration: result.calibration,
            ..PipelineConfig::default()
        };
        let after = tilt_error_with(rocker, calibrated, 40.0);
        println!(
            "seed {seed}: tilt RMS error {:.3}° before calibration, {:.3}° after (max {:.2}° / {:.2}°)",
            before.0, after.0, before.1, after.1
        );
        assert!(
            after.0 < before.0,
            "seed {seed}: calibration did not bring the tilt closer to the truth ({:.3}° before, {:.3}° after)",
            before.0,
            after.0
        );
    }
}

#[test]
fn the_routine_waits_for_stillness_and_new_poses() {
    let mut routine = ImuRoutine::new(100.0, false);
    let g = Vector3::new(0.0, 0.0, 9.8);
    let si = |gyr: Vector3<f64>, acc: Vector3<f64>| proprio::pipeline::ImuSi {
        acc_m_s2: acc,
        gyr_rad_s: gyr,
        mag_ut: None,
    };
    // A hand that keeps moving the sensor never finishes the still step.
    for i in 0..1000 {
        let wobble = Vector3::new((i as f64 * 0.3).sin() * 0.2, 0.0, 0.0);
        routine.push(&si(wobble, g));
    }
    assert!(matches!(routine.step(), ImuStep::KeepStill { .. }));
    assert!(routine.finish().is_err(), "no still period: no calibration");
    // Still: the first pose after IMU_STILL_S.
    for _ in 0..450 {
        routine.push(&si(Vector3::zeros(), g));
    }
    assert!(matches!(routine.step(), ImuStep::Poses { done: 1, .. }));
    // The same face again is not a new pose.
    for _ in 0..20 {
        routine.push(&si(Vector3::new(1.0, 0.0, 0.0), g));
    }
    for _ in 0..300 {
        routine.push(&si(Vector3::zeros(), g));
    }
    assert!(matches!(routine.step(), ImuStep::Poses { done: 1, .. }));
    // Too few poses: the fit names it.
    let error = routine.finish().unwrap_err().to_string();
    assert!(error.contains("poses"), "{error}");
}

/// `proprio calibrate imu` on the simulator, then a rocker hold on the same simulated device:
/// the drill applies the stored profile by itself, says so, keeps it in its recording (a replay
/// gives the same result), and its tilt is closer to the simulator's truth than the same drill
/// on an uncalibrated device.
#[test]
fn calibrate_imu_is_stored_applied_recorded_and_brings_the_drill_closer_to_the_truth() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let seed = "2";
    // The same simulated device, straight off the reel, in every command.
    let sim = [
        "--source",
        "sim",
        "--seed",
        seed,
        "--sim-uncalibrated",
        "--no-live",
        "--json",
    ];
    let hold = [&["drill", "rocker-hold", "--duration", "30"][..], &sim[..]].concat();
    let uncalibrated = json(&proprio(dir, &hold));
    assert!(
        uncalibrated.get("calibrations").is_none(),
        "nothing stored yet"
    );

    let stored = json(&proprio(
        dir,
        &[&["calibrate", "imu"][..], &sim[..]].concat(),
    ));
    // The profile is the simulated device's: its serial, and the bias it was drawn with.
    let device_id = uncalibrated["device"]["device_id"].as_u64().unwrap();
    assert_eq!(stored["device_id"].as_u64(), Some(device_id));
    let mut config = SimConfig::new(seed.parse().unwrap());
    config.sensor = SensorErrors::uncalibrated();
    let truth = SimTransport::new(config).device().sensor_truth();
    let bias: Vec<f64> =
        serde_json::from_value(stored["profile"]["calibration"]["gyr"]["offset"].clone()).unwrap();
    let bias_error = (Vector3::from_vec(bias) - truth.gyr_bias_rad_s).norm();
    assert!(
        bias_error < 0.001,
        "gyroscope bias error {bias_error} rad/s"
    );

    let calibrated = json(&proprio(dir, &hold));
    assert_eq!(
        calibrated["calibrations"],
        serde_json::json!([{"kind": "imu", "created_utc": stored["created_utc"]}]),
        "the drill says which calibration it applied"
    );
    // The recording carries the profile: its replay applies it again, to the bit.
    let recording = calibrated["recording"].as_str().unwrap();
    let replayed = json(&proprio(dir, &["replay", recording, "--json"]));
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("recording");
        v
    };
    assert_eq!(strip(replayed), strip(calibrated.clone()));

    // Closer to the truth: the pipeline the drill ran (its header's, with the profile its device
    // got) against the header's own, on the same simulated world.
    let file = std::fs::File::open(recording).unwrap();
    let meta = proprio::recording::RecordingReader::new(std::io::BufReader::new(file))
        .unwrap()
        .meta()
        .clone();
    let (applied, _) = meta.calibrations.apply(
        proprio_protocol::DeviceKind::Wearable,
        device_id as u32,
        &meta.pipeline,
    );
    let sim = meta.sim.expect("a simulated session");
    let before = tilt_error_with(sim, meta.pipeline, 30.0);
    let after = tilt_error_with(sim, applied, 30.0);
    println!(
        "seed {seed}: tilt RMS error {:.3}° uncalibrated, {:.3}° with the stored profile",
        before.0, after.0
    );
    assert!(after.0 < before.0, "{after:?} not closer than {before:?}");
}

#[test]
fn calibrate_refuses_what_it_cannot_do_in_one_sentence() {
    let data = tempfile::tempdir().unwrap();
    // The routine cannot finish in 5 s: it says which step was left, and stores nothing.
    let out = proprio(
        data.path(),
        &[
            "calibrate",
            "imu",
            "--source",
            "sim",
            "--no-live",
            "--timeout",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not finish in 5 s: step 2 of 3"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    // A board source for the IMU's calibration.
    let out = proprio(
        data.path(),
        &["calibrate", "imu", "--source", "hx711-text:/dev/null"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs an IMU wearable"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Nothing was stored: the next drill on that device is uncalibrated.
    let drill = json(&proprio(
        data.path(),
        &[
            "drill",
            "rocker-hold",
            "--source",
            "sim",
            "--no-live",
            "--json",
            "--duration",
            "5",
        ],
    ));
    assert!(drill.get("calibrations").is_none(), "{drill}");
}
