//! The balance board's calibration against the simulator's known cell gains: decode →
//! `BoardRoutine`, the path a calibration command will take; then a drill with the profile
//! applied by the session, closer to the simulator's truth than without it.

use proprio::calibrate::{
    BoardRoutine, BoardRoutineResult, BoardSpot, BoardStep, Profile, Profiles, StoredProfile,
};
use proprio::decode::StreamDecoder;
use proprio::devices::DeviceFormat;
use proprio::drill::{QuietStanceConfig, StanceTask};
use proprio::pipeline::BoardGeometry;
use proprio::session::{DrillSetup, Session, SessionReport};
use proprio::sim::{
    CalibrationMass, LoadCellErrors, SampleTruth, SimConfig, SimDevice, SimRng, SimTransport,
};
use proprio::G_M_S2;
use proprio_calibration::CalibrationError;
use proprio_protocol::{
    DeviceInfo, DeviceKind, DeviceMessage, FirmwareVersion, HostMessage, LoadSample,
};

use crate::board::{stance_meta, truth_sway};
use crate::common::{run_session, send};

/// A board straight off the reel (each cell's gain a further ±3 % off) with the routine's
/// 10 kg mass put on it by hand.
fn routine_config(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(seed).with_uncalibrated_board();
    config.device = SimDevice::CalibrationBoard;
    config
}

/// Runs the routine told `mass_kg` on the simulated board until it is done (or the script
/// is over); its result, the board's `Hello` and the cells' true gains.
fn calibrate(
    config: SimConfig,
    mass_kg: f64,
) -> (
    Result<BoardRoutineResult, CalibrationError>,
    DeviceInfo,
    [f64; 4],
    Vec<SampleTruth>,
) {
    let mut transport = SimTransport::new(config);
    send(&mut transport, HostMessage::GetInfo);
    send(&mut transport, HostMessage::Start { rate_hz: 100 });
    let mut decoder = StreamDecoder::new();
    let mut routine: Option<(BoardRoutine, DeviceInfo)> = None;
    let mut truth = Vec::new();
    let limit_us = ((CalibrationMass::duration_s() + 5.0) * 1e6) as u64;
    while transport.now_us() < limit_us
        && routine
            .as_ref()
            .is_none_or(|(r, _)| r.step() != BoardStep::Done)
    {
        for delivery in transport.next_deliveries(Some(&mut truth)) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                match outcome {
                    // What the command knows after the board's Hello.
                    Ok(DeviceMessage::Hello(info)) if routine.is_none() => {
                        let made = BoardRoutine::new(&info, mass_kg, BoardGeometry::default());
                        routine = Some((made.expect("a mass in range"), info));
                    }
                    Ok(DeviceMessage::Load(sample)) => {
                        if let Some((r, _)) = routine.as_mut() {
                            r.push(&sample);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let (routine, info) = routine.expect("the board said hello");
    let gains = transport
        .device()
        .board_cell_n_per_count()
        .expect("a balance board");
    (routine.finish(), info, gains, truth)
}

/// Measured (`cargo test -j 1 --test it calibrate_board -- --nocapture`, seeds 1–4, cells off
/// the nominal gain by up to 2.6 %): each gain within 4.8e-5 of the truth, the tare within 7
/// counts, the check at the centre 0.001–0.012 mm and under 0.014 % off.
#[test]
fn board_routine_recovers_the_simulated_cells_gains() {
    let nominal = 1.0 / LoadCellErrors::default().counts_per_n;
    for seed in [1, 2, 3, 4] {
        let (result, _, truth_gains, truth) = calibrate(routine_config(seed), 10.0);
        let result = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let errors: [f64; 4] =
            std::array::from_fn(|i| result.gains.n_per_count[i] / truth_gains[i] - 1.0);
        let off_reel: [f64; 4] = std::array::from_fn(|i| truth_gains[i] / nominal - 1.0);
        let zero = truth[0].board.expect("board truth").zero_counts;
        let tare_errors: [f64; 4] = std::array::from_fn(|i| result.tare.counts[i] - zero[i]);
        println!(
            "seed {seed}: cells off the nominal gain by {off_reel:+.4?}; after calibration \
             {errors:+.6?}; tare error {tare_errors:.1?} counts; check at the centre: COP \
             {:.3} mm off, force {:+.4} %",
            result.check.cop_error_mm,
            (result.check.force_n / result.check.weight_n - 1.0) * 100.0
        );
        // Closer to the truth than the nominal gain by at least ten times (a calibration
        // that changed nothing would fail here).
        let largest = |e: &[f64; 4]| e.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        assert!(
            largest(&errors) < largest(&off_reel) / 10.0,
            "seed {seed}: {errors:?} vs {off_reel:?}"
        );
        // 10 kg on one cell is about 392 000 counts. Its mean over 2 s (160 samples of 40
        // counts of noise) is known to 3 counts, the tare's too: 1e-5. What the steadiness
        // test lets through is larger: a settling left within 4 noise deviations (160 counts)
        // shifts a mean by at most that, 4e-4. Hence 1e-3.
        for (cell, error) in errors.iter().enumerate() {
            assert!(error.abs() < 1e-3, "seed {seed} cell {cell}: {error:+.6}");
        }
        // The tare: a mean of 160 samples of 40 counts of noise, 3 counts' standard error.
        for (cell, error) in tare_errors.iter().enumerate() {
            assert!(
                error.abs() < 20.0,
                "seed {seed} cell {cell}: {error} counts"
            );
        }
        // The mass stands exactly at the centre in the simulator: the gains' 1e-3 moves the
        // COP by at most 1e-3 of a half-width (0.2 mm) and the force by 0.1 %.
        assert!(result.check.cop_error_mm < 0.5, "{:?}", result.check);
        assert!((result.check.force_n / result.check.weight_n - 1.0).abs() < 1e-3);
    }
}

#[test]
fn the_wrong_mass_is_named() {
    // The simulator puts 10 kg on the board; the routine was told 20.
    let (result, _, _, _) = calibrate(routine_config(5), 20.0);
    match result {
        Err(CalibrationError::WrongMass {
            spot,
            measured_kg,
            given_kg,
        }) => {
            assert_eq!(spot, "front left corner");
            // The nominal scale: 10 kg within the cells' 3.5 % gain errors.
            assert!((measured_kg - 10.0).abs() < 0.5, "{measured_kg}");
            assert_eq!(given_kg, 20.0);
        }
        other => panic!("not refused as the wrong mass: {other:?}"),
    }
}

/// A drill's quiet stance on the board of `seed` (uncalibrated cells), with `calibrations`
/// in its header; the report and the truth.
fn stance(seed: u64, calibrations: Profiles) -> (SessionReport, Vec<SampleTruth>) {
    let mut sim = SimConfig::new(seed).with_uncalibrated_board();
    sim.device = SimDevice::BalanceBoard;
    let mut config = QuietStanceConfig::for_level(StanceTask::Quiet, 1).expect("level 1");
    config.duration_s = 20.0;
    let mut meta = stance_meta(sim, DeviceFormat::Proprio, DrillSetup::QuietStance(config));
    meta.calibrations = calibrations;
    let mut transport = SimTransport::new(sim);
    send(&mut transport, HostMessage::GetInfo);
    send(&mut transport, HostMessage::Start { rate_hz: 100 });
    let (report, _, truth) = run_session(&mut transport, Session::new(meta));
    (report, truth)
}

/// The mean COP's distance from the truth's over the hold, mm. (The drill's weight is the
/// load at the step-on, breathing and all, so it is not compared here; the check at the
/// centre above compares the force.)
fn cop_error_mm(report: &SessionReport, truth: &[SampleTruth]) -> f64 {
    let m = report.metrics.quiet_stance().expect("quiet-stance metrics");
    let expected = truth_sway(truth, report.start_s, report.duration_s);
    (m.sway.mean_cop_x_mm - expected.mean_cop_x_mm)
        .hypot(m.sway.mean_cop_y_mm - expected.mean_cop_y_mm)
}

/// Measured (same command, seeds 1–3, 20 s holds): the mean COP 0.30–2.67 mm from the truth
/// before calibration, 0.002–0.003 mm after; the sway velocity 0.007–0.033 mm/s off before,
/// 0.001–0.002 mm/s after.
#[test]
fn a_quiet_stance_after_calibration_is_closer_to_the_truth() {
    for seed in [1, 2, 3] {
        let (result, info, _, _) = calibrate(routine_config(seed), 10.0);
        let result = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // The same board (same seed, same cells) with a person on it.
        let (before, truth_before) = stance(seed, Profiles::default());
        let stored = StoredProfile {
            device_kind: DeviceKind::BalanceBoard,
            device_id: info.device_id,
            user: None,
            created_utc: "2026-11-22T00:00:00Z".into(),
            profile: Profile::Board(result),
        };
        let (after, truth_after) = stance(seed, Profiles(vec![stored]));
        assert!(before.calibrations.is_empty());
        assert_eq!(after.calibrations.len(), 1, "the profile was applied");
        let cop_before = cop_error_mm(&before, &truth_before);
        let cop_after = cop_error_mm(&after, &truth_after);
        let m = |r: &SessionReport| *r.metrics.quiet_stance().expect("quiet-stance metrics");
        println!(
            "seed {seed}: mean COP {cop_before:.3} mm from the truth before calibration, \
             {cop_after:.3} mm after; sway velocity {:.3} / {:.3} mm/s (truth {:.3}); weight \
             {:.2} / {:.2} kg",
            m(&before).sway.mean_velocity_mm_s,
            m(&after).sway.mean_velocity_mm_s,
            truth_sway(&truth_after, after.start_s, after.duration_s).mean_velocity_mm_s,
            m(&before).weight_kg.unwrap_or(f64::NAN),
            m(&after).weight_kg.unwrap_or(f64::NAN),
        );
        assert!(
            cop_after < cop_before,
            "seed {seed}: the COP did not come closer ({cop_before:.3} mm before, {cop_after:.3} mm after)"
        );
        // The sway's speed too: each cell's own gain scales its share of every excursion.
        let truth_velocity =
            truth_sway(&truth_after, after.start_s, after.duration_s).mean_velocity_mm_s;
        let velocity_error =
            |r: &SessionReport| (m(r).sway.mean_velocity_mm_s - truth_velocity).abs();
        assert!(
            velocity_error(&after) < velocity_error(&before),
            "seed {seed}: the sway velocity did not come closer"
        );
        // Gains within 1e-3 (above) move the COP by at most about 2e-3 of a half-width
        // (0.4 mm); the chain's own error on a calibrated board is a small fraction of that.
        assert!(cop_after < 0.5, "seed {seed}: {cop_after} mm");
    }
}

// Degenerate input, on synthetic counts -------------------------------------------------------

/// A board at 80 Hz with cells of 1/4000 N per count and 40 counts of noise.
struct Synthetic {
    routine: BoardRoutine,
    rng: SimRng,
    seq: u32,
}

impl Synthetic {
    fn new() -> Self {
        let info = DeviceInfo {
            kind: DeviceKind::BalanceBoard,
            firmware: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
            device_id: 9,
            sample_rate_hz: 80.0,
            acc_m_s2_per_lsb: 0.0,
            gyr_rad_s_per_lsb: 0.0,
            mag_ut_per_lsb: 0.0,
            load_n_per_count: 0.00025,
        };
        Synthetic {
            routine: BoardRoutine::new(&info, 10.0, BoardGeometry::default()).unwrap(),
            rng: SimRng::new(3, 0),
            seq: 0,
        }
    }

    /// `seconds` of `mass_kg` at `at_mm`, plus `drift(t_s)` counts on the first cell.
    fn feed(&mut self, mass_kg: f64, at_mm: [f64; 2], seconds: f64, drift: impl Fn(f64) -> f64) {
        let forces = BoardGeometry::default().corner_forces(mass_kg * G_M_S2, at_mm);
        for k in 0..(seconds * 80.0) as usize {
            let extra = drift(k as f64 / 80.0);
            let counts: [i32; 4] = std::array::from_fn(|i| {
                let moved = if i == 0 { extra } else { 0.0 };
                (50_000.0 + forces[i] * 4000.0 + moved + 40.0 * self.rng.normal()).round() as i32
            });
            self.routine.push(&LoadSample {
                seq: self.seq,
                t_us: 0,
                counts,
            });
            self.seq += 1;
        }
    }
}

#[test]
fn a_load_moving_during_the_tare_is_refused() {
    let mut board = Synthetic::new();
    // Someone leaning on a corner on and off: 8 000 counts (2 N) swinging at 0.3 Hz, a
    // standard deviation of 5 700 counts (1.4 N), over the tare's 0.5 N.
    board.feed(0.0, [0.0, 0.0], 15.0, |t| {
        8_000.0 * (std::f64::consts::TAU * 0.3 * t).sin()
    });
    assert!(matches!(board.routine.step(), BoardStep::Tare { .. }));
    let error = board.routine.finish().unwrap_err();
    assert!(
        matches!(error, CalibrationError::BoardNotSteady { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("moved during the tare"),
        "{error}"
    );
    // Once it is left alone, the tare is taken.
    board.feed(0.0, [0.0, 0.0], 3.0, |_| 0.0);
    assert!(
        matches!(
            board.routine.step(),
            BoardStep::Place {
                spot: BoardSpot::FrontLeft,
                ..
            }
        ),
        "{:?}",
        board.routine.step()
    );
}

#[test]
fn a_mass_never_placed_or_only_at_the_centre_is_named() {
    // Nothing is ever put on the board.
    let mut board = Synthetic::new();
    board.feed(0.0, [0.0, 0.0], 30.0, |_| 0.0);
    let error = board.routine.finish().unwrap_err();
    assert_eq!(
        error,
        CalibrationError::MassNotPlaced {
            spot: "front left corner"
        }
    );
    assert!(error.to_string().contains("front left corner"), "{error}");
    // Only the centre: not a corner; the step says where the mass is instead.
    let mut board = Synthetic::new();
    board.feed(0.0, [0.0, 0.0], 3.0, |_| 0.0);
    board.feed(10.0, [0.0, 0.0], 10.0, |_| 0.0);
    match board.routine.step() {
        BoardStep::Place {
            spot: BoardSpot::FrontLeft,
            elsewhere_mm: Some(at),
            ..
        } => assert!(at[0].hypot(at[1]) < 5.0, "{at:?}"),
        other => panic!("{other:?}"),
    }
    let error = board.routine.finish().unwrap_err();
    assert!(
        matches!(
            error,
            CalibrationError::MassNotPlaced {
                spot: "front left corner"
            }
        ),
        "{error:?}"
    );
    // Nothing was NaN along the way: the error is a sentence, and no placement was taken.
    assert!(board.routine.placements().is_empty());
}

#[test]
fn headers_without_the_new_settings_are_as_they_were() {
    // Recordings made before these settings existed must serialise to the same bytes.
    let config = serde_json::to_string(&SimConfig::new(1)).unwrap();
    assert!(!config.contains("reel_gain_error"), "{config}");
    assert!(!config.contains("calibration_mass_kg"), "{config}");
    let pipeline = serde_json::to_string(&proprio::pipeline::PipelineConfig::default()).unwrap();
    assert!(!pipeline.contains("cell_n_per_count"), "{pipeline}");
    // …and read back with the defaults.
    let back: SimConfig = serde_json::from_str(&config).unwrap();
    assert_eq!(back, SimConfig::new(1));
    let off_reel = serde_json::to_string(&SimConfig::new(1).with_uncalibrated_board()).unwrap();
    assert!(off_reel.contains("\"reel_gain_error\":0.03"), "{off_reel}");
}

/// `proprio calibrate board` on the simulator, then a quiet stance on the same simulated board
/// (`--sim-uncalibrated`, same seed): the stored gains are the board's true ones, the drill
/// applies them by itself and says so, and its replay gives the same result.
#[test]
fn calibrate_board_on_the_command_line_is_stored_applied_and_replayed() {
    use crate::cmd::{json, proprio};
    let dir = tempfile::tempdir().unwrap();
    let seed = "3";
    let common = [
        "--source",
        "sim",
        "--seed",
        seed,
        "--sim-uncalibrated",
        "--no-live",
        "--json",
    ];
    let stored = json(&proprio(
        dir.path(),
        &[&["calibrate", "board"][..], &common[..]].concat(),
    ));
    let gains: [f64; 4] =
        serde_json::from_value(stored["profile"]["gains"]["n_per_count"].clone()).unwrap();
    let truth = SimTransport::new(routine_config(3))
        .device()
        .board_cell_n_per_count()
        .expect("a board");
    for (cell, (g, t)) in gains.iter().zip(truth).enumerate() {
        // As the in-process routine above (its tolerance derived there): within 1e-3.
        assert!((g / t - 1.0).abs() < 1e-3, "cell {cell}: {g} against {t}");
    }
    let drill = json(&proprio(
        dir.path(),
        &[
            &["drill", "quiet-stance", "--duration", "10"][..],
            &common[..],
        ]
        .concat(),
    ));
    assert_eq!(
        drill["calibrations"],
        serde_json::json!([{"kind": "board", "created_utc": stored["created_utc"]}])
    );
    assert_eq!(drill["device"]["device_id"], stored["device_id"]);
    let recording = drill["recording"].as_str().unwrap();
    let mut replayed = json(&proprio(dir.path(), &["replay", recording, "--json"]));
    replayed["recording"] = drill["recording"].clone();
    assert_eq!(replayed, drill);
    // A real board needs the mass said.
    let out = proprio(
        dir.path(),
        &[
            "calibrate",
            "board",
            "--source",
            "serial:/dev/null",
            "--no-live",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mass-kg"));
}
