//! The mounting routine against the simulator's crooked strap: decode → SI → `MountRoutine`,
//! the path the `calibrate mount` command takes; then drills on the same crooked sensor, with
//! and without the profile, against the simulator's truth.

use nalgebra::UnitQuaternion;
use proprio::calibrate::{
    AppliedProfile, MountRoutine, Profile, ProfileKind, Profiles, Routine, RoutineInput,
    StoredProfile,
};
use proprio::decode::StreamDecoder;
use proprio::drill::{EndReason, QuietStanceConfig, StanceTask};
use proprio::pipeline::{Pipeline, PipelineConfig, Placement};
use proprio::session::{DrillSetup, Session};
use proprio::sim::{
    MountWorld, SensorErrors, SimConfig, SimDevice, Strap, CROOKED_STRAP_MAX_TILT_DEG,
};
use proprio_calibration::mount::Mounting;
use proprio_calibration::CalibrationError;
use proprio_protocol::{DeviceKind, DeviceMessage};

use crate::common::{run_session, sim_meta, streaming};
use crate::imu_stance::{rms, truth_of_hold};
use crate::sim_truth::tilt_error_with;

/// The simulated mounting routine of `seed` at `placement`, the sensor strapped on crooked.
fn mount_sim(seed: u64, placement: Placement) -> SimConfig {
    let mut sim = SimConfig::new(seed).with_crooked_strap();
    sim.device = match placement {
        Placement::Back => SimDevice::MountWearable,
        Placement::Board => SimDevice::MountBoard,
    };
    sim
}

/// Runs the routine on the simulated device until it is done (the routine made from the
/// device's Hello, as the command makes it); the profile (or the routine's error) and the
/// strap's truth.
fn calibrate(
    sim: SimConfig,
    placement: Placement,
) -> (Result<Profile, CalibrationError>, Option<Strap>) {
    let mut transport = streaming(sim);
    let mut decoder = StreamDecoder::new();
    // No IMU profile: the simulated sensor is factory-trimmed (biases only).
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let mut routine: Option<Box<dyn Routine>> = None;
    let limit_us = ((MountWorld::back(&sim).duration_s() + 10.0) * 1e6) as u64;
    while !routine.as_ref().is_some_and(|r| r.progress().done) && transport.now_us() < limit_us {
        for delivery in transport.next_deliveries(None) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                let samples = match outcome {
                    Ok(DeviceMessage::Hello(info)) => {
                        pipeline.set_device_info(info);
                        routine.get_or_insert_with(|| {
                            Box::new(MountRoutine::new(placement, f64::from(info.sample_rate_hz)))
                        });
                        continue;
                    }
                    Ok(DeviceMessage::Imu(s)) => vec![s],
                    Ok(DeviceMessage::ImuBatch(b)) => b.samples.to_vec(),
                    _ => continue,
                };
                for s in &samples {
                    if let (Some(si), Some(routine)) = (pipeline.to_si(s), routine.as_mut()) {
                        routine.push(RoutineInput::Imu(&si));
                    }
                }
            }
        }
    }
    let routine = routine.expect("the device said hello");
    (routine.finish(), transport.device().strap())
}

fn mounting(profile: &Profile) -> Mounting {
    match profile {
        Profile::Mount(r) | Profile::MountBoard(r) => r.mounting,
        other => panic!("not a mounting: {other:?}"),
    }
}

/// Worst case of the standing sway the routine averages over (`sim/walker.rs`, `Sway::draw`):
/// three parts per axis, each up to 0.15° + 0.3° × (1 − skill).
fn sway_max_deg(skill: f64) -> f64 {
    3.0 * (0.15 + 0.3 * (1.0 - skill))
}

/// The factory-trimmed accelerometer's bias (up to 0.03 m/s² per axis, `SensorErrors`) turns
/// a reading of gravity by up to this, degrees.
fn bias_tilt_deg() -> f64 {
    let bias = SensorErrors::default().acc_bias_m_s2 * 3f64.sqrt();
    (bias / proprio::G_M_S2).atan().to_degrees()
}

#[test]
fn the_routine_recovers_a_crooked_strap_on_the_back_and_on_a_board() {
    for seed in 1..=5 {
        let sim = mount_sim(seed, Placement::Back);
        let (profile, strap) = calibrate(sim, Placement::Back);
        let profile = profile.expect("the routine's data fits");
        assert_eq!(profile.kind(), ProfileKind::Mount);
        let truth = strap.expect("a crooked strap").body_from_imu;
        let found = mounting(&profile);
        let error_deg = found.body_from_imu.angle_to(&truth).to_degrees();
        // Up is read through the sway (both axes) and the bias; forward from the sideways part
        // of the two poses' difference (the roll sway in each, and the bias) over sin(bend),
        // the bend being at least 30°. The sway's worst case, not its typical size.
        let up_deg = 2f64.sqrt() * sway_max_deg(sim.skill) + bias_tilt_deg();
        let forward_deg =
            (2.0 * sway_max_deg(sim.skill) + bias_tilt_deg()) / 30f64.to_radians().sin();
        let tolerance_deg = up_deg.hypot(forward_deg);
        println!(
            "back seed {seed}: strap turned {:.1}°, found within {error_deg:.2}° (tolerance \
             {tolerance_deg:.2}°), bend {:.1}°",
            truth.angle().to_degrees(),
            found.bend_deg
        );
        assert!(error_deg < tolerance_deg, "back seed {seed}: {error_deg}°");
        // The scripted bend (30–40°) give or take the sway in each pose.
        let sway_deg = 2.0 * 2f64.sqrt() * sway_max_deg(sim.skill);
        assert!(
            (30.0 - sway_deg..=40.0 + sway_deg).contains(&found.bend_deg),
            "{}",
            found.bend_deg
        );

        let sim = mount_sim(seed, Placement::Board);
        let (profile, strap) = calibrate(sim, Placement::Board);
        let profile = profile.expect("the routine's data fits");
        assert_eq!(profile.kind(), ProfileKind::MountBoard);
        let truth = strap.expect("a crooked strap").body_from_imu;
        let found = mounting(&profile);
        let error_deg = found.body_from_imu.angle_to(&truth).to_degrees();
        // Level is read through the hand's wobble (three parts of up to 0.1°, about the
        // fulcrum only) and the bias; the tip rests on the stop (15°), so the side that went
        // down is known to the bias over sin 15°.
        let level_deg = 3.0 * 0.1 + bias_tilt_deg();
        let side_deg = 2.0 * bias_tilt_deg() / sim.board.limit_deg.to_radians().sin();
        let tolerance_deg = level_deg.hypot(side_deg);
        println!(
            "board seed {seed}: strap turned {:.1}°, found within {error_deg:.2}° (tolerance \
             {tolerance_deg:.2}°), tip {:.1}°",
            truth.angle().to_degrees(),
            found.bend_deg
        );
        assert!(error_deg < tolerance_deg, "board seed {seed}: {error_deg}°");
    }
}

#[test]
fn a_crooked_strap_stays_within_what_a_person_could_strap_on() {
    for seed in 0..50 {
        let strap = SimConfig::new(seed).with_crooked_strap().strap.unwrap();
        // The sensor's z axis off the body's up by the tilt alone.
        let z_in_body = strap.body_from_imu * nalgebra::Vector3::z();
        let tilt_deg = z_in_body.angle(&nalgebra::Vector3::z()).to_degrees();
        assert!(
            tilt_deg <= CROOKED_STRAP_MAX_TILT_DEG + 1e-9,
            "seed {seed}: {tilt_deg}°"
        );
    }
    // A straight sensor is left out of the configuration (old recordings stay the same).
    let straight = serde_json::to_string(&SimConfig::new(1)).unwrap();
    assert!(!straight.contains("strap"), "{straight}");
    let crooked = serde_json::to_string(&SimConfig::new(1).with_crooked_strap()).unwrap();
    assert!(crooked.contains("strap"), "{crooked}");
}

#[test]
fn a_person_who_does_not_bend_is_told_and_refused_by_name() {
    // A person who only stands (the quiet-stance wearable): the routine takes the upright
    // pose, then waits for a bend that never comes.
    let mut sim = SimConfig::new(4).with_crooked_strap();
    sim.device = SimDevice::StanceWearable;
    let (result, _) = calibrate(sim, Placement::Back);
    let error = result.unwrap_err();
    assert!(
        matches!(error, CalibrationError::Bend { bend_deg, .. } if bend_deg < 5.0),
        "{error}"
    );
    assert!(error.to_string().contains("bend forward"), "{error}");
}

/// `config` with the mounting of `profile` in force at `placement`, as a session applies it.
fn applied(profile: &Profile, placement: Placement, config: PipelineConfig) -> PipelineConfig {
    let mut config = config;
    profile.apply(&mut config);
    config.placed(placement)
}

#[test]
fn a_rocker_hold_with_a_crooked_sensor_is_closer_to_the_truth_after_mount_calibration() {
    for seed in 1..=3 {
        let (profile, _) = calibrate(mount_sim(seed, Placement::Board), Placement::Board);
        let profile = profile.expect("the routine's data fits");
        // The same person's rocker with the same sensor strapped the same way.
        let rocker = SimConfig::new(seed).with_crooked_strap();
        let before = tilt_error_with(rocker, PipelineConfig::default(), 40.0);
        let after = tilt_error_with(
            rocker,
            applied(&profile, Placement::Board, PipelineConfig::default()),
            40.0,
        );
        let straight = tilt_error_with(SimConfig::new(seed), PipelineConfig::default(), 40.0);
        println!(
            "seed {seed}: tilt RMS error {:.3}° crooked, {:.3}° after mount calibration, {:.3}° \
             strapped straight",
            before.0, after.0, straight.0
        );
        assert!(after.0 < before.0, "seed {seed}: not closer to the truth");
        // A board mounting known to the tolerance asserted above (2.4°) leaves the tilt about
        // the fulcrum within the straight sensor's error plus that angle's share of a ±15°
        // rock (sin 2.4° × 15° = 0.63°).
        assert!(
            after.0 < straight.0 + 0.63,
            "seed {seed}: {after:?} vs {straight:?}"
        );
    }
}

#[test]
fn quiet_stance_on_a_crooked_wearable_reads_the_true_trunk_after_mount_calibration() {
    let config = QuietStanceConfig::for_level(StanceTask::Quiet, 1).unwrap();
    for seed in 1..=3 {
        let (profile, _) = calibrate(mount_sim(seed, Placement::Back), Placement::Back);
        let profile = profile.expect("the routine's data fits");
        let mut sim = SimConfig::new(seed).with_crooked_strap();
        sim.device = SimDevice::StanceWearable;
        sim.stance.condition = config.level_spec().unwrap().condition;
        let run = |calibrations: Profiles| {
            let mut meta = sim_meta(sim, DrillSetup::QuietStance(config));
            meta.calibrations = calibrations;
            let (report, _, truth) = run_session(&mut streaming(sim), Session::new(meta));
            assert_eq!(report.end, EndReason::Completed, "seed {seed}");
            let m = *report.metrics.wearable_stance().expect("on the wearable");
            let hold = truth_of_hold(&report, &truth);
            // Shares by which the trunk-angle RMS (ML, AP) miss the truth's.
            let errors = [
                m.trunk_rms_ml_deg / rms(&hold, |t| t.trunk_deg[0]) - 1.0,
                m.trunk_rms_ap_deg / rms(&hold, |t| t.trunk_deg[1]) - 1.0,
            ];
            (report, errors)
        };
        let (uncalibrated, before) = run(Profiles::default());
        assert!(uncalibrated.calibrations.is_empty());
        let stored = StoredProfile {
            device_kind: DeviceKind::Wearable,
            device_id: uncalibrated.device.as_ref().expect("a device").device_id,
            user: None,
            created_utc: "2026-11-20T00:00:00Z".into(),
            profile,
        };
        let (calibrated, after) = run(Profiles(vec![stored]));
        assert_eq!(
            calibrated.calibrations,
            vec![AppliedProfile {
                kind: ProfileKind::Mount,
                created_utc: "2026-11-20T00:00:00Z".into()
            }]
        );
        println!(
            "seed {seed}: trunk RMS (ML, AP) off the truth's by {:+.1} %, {:+.1} % crooked; \
             {:+.1} %, {:+.1} % after mount calibration",
            100.0 * before[0],
            100.0 * before[1],
            100.0 * after[0],
            100.0 * after[1]
        );
        let worst = |e: [f64; 2]| e[0].abs().max(e[1].abs());
        assert!(worst(after) < worst(before), "seed {seed}: not closer");
        // Within the straight wearable's tolerance (imu_stance.rs: 20 %).
        assert!(worst(after) < 0.2, "seed {seed}: {after:?}");
    }
}

#[test]
fn an_identity_mounting_changes_nothing() {
    // A sensor strapped on straight and calibrated as such gives exactly today's numbers.
    let sim = SimConfig::new(2);
    let straight = tilt_error_with(sim, PipelineConfig::default(), 20.0);
    let mut config = PipelineConfig::default();
    config.mounting.board = Some(UnitQuaternion::identity());
    let same = tilt_error_with(sim, config.placed(Placement::Board), 20.0);
    assert_eq!(straight, same);
}

/// `proprio calibrate mount` end to end on the simulator, for both placements: with the
/// wearable strapped on crooked (`--sim-crooked-strap`), a drill reads the person wrongly; after
/// the mounting calibration of that placement it reads them as it does with the wearable
/// strapped on straight (the same seed: the same person, the same sway), and says which
/// calibration it applied.
#[test]
fn calibrate_mount_on_the_command_line_brings_the_drills_back_to_the_straight_strap() {
    use crate::cmd::{json, proprio};
    /// The flow's options, the drill's, the profile's kind, and the measure compared.
    type Case = (
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
        fn(&serde_json::Value) -> f64,
    );
    let cases: [Case; 2] = [
        (&["--on", "board"], &["rocker-hold"], "mount-board", |r| {
            r["metrics"]["tilt_rms_deg"].as_f64().unwrap()
        }),
        (
            &[],
            &["quiet-stance", "--sensor", "wearable"],
            "mount",
            |r| r["metrics"]["trunk_rms_ml_deg"].as_f64().unwrap(),
        ),
    ];
    for (on, drill, kind, measure) in cases {
        let dir = tempfile::tempdir().unwrap();
        let sim = ["--source", "sim", "--seed", "2", "--no-live", "--json"];
        let run = |extra: &[&str]| {
            json(&proprio(
                dir.path(),
                &[
                    &["drill"][..],
                    drill,
                    &sim[..],
                    extra,
                    &["--duration", "20"][..],
                ]
                .concat(),
            ))
        };
        let straight = run(&[]);
        let crooked = run(&["--sim-crooked-strap"]);
        let stored = json(&proprio(
            dir.path(),
            &[
                &["calibrate", "mount"][..],
                on,
                &sim[..],
                &["--sim-crooked-strap"][..],
            ]
            .concat(),
        ));
        assert_eq!(stored["profile"]["kind"], kind);
        let calibrated = run(&["--sim-crooked-strap"]);
        assert_eq!(
            calibrated["calibrations"],
            serde_json::json!([{"kind": kind, "created_utc": stored["created_utc"]}])
        );
        let (s, c, k) = (measure(&straight), measure(&crooked), measure(&calibrated));
        println!(
            "{kind}: {s:.3} strapped straight, {c:.3} crooked, {k:.3} crooked after calibration"
        );
        assert!(
            (k - s).abs() < 0.25 * (c - s).abs(),
            "{kind}: {k:.3} after calibration is not close to {s:.3} (crooked: {c:.3})"
        );
    }
}
