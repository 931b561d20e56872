//! The balance board end to end: the simulated person's COP and weight recovered through
//! decode → tare → COP, irregular sampling, the quiet-stance measures, replay to the bit, and
//! the command line on a pseudo-terminal (HX711 text with unplugs and line noise, proprio's
//! protocol), with one sentence for every bad input.

use std::collections::HashMap;
use std::path::Path;

use proprio::decode::{SampleClock, StreamDecoder};
use proprio::devices::{DeviceFormat, Hx711Format, LoadUnit};
use proprio::drill::{
    cop_sway, DrillEvent, EndReason, QuietStance, QuietStanceConfig, QuietStanceMetrics,
    StanceTask, SwayMeasures,
};
use proprio::measures::Stretch;
use proprio::pipeline::{BoardPhase, CopConfig, CopPipeline, CopSample};
use proprio::quality::{DataQuality, TimestampSource};
use proprio::recording::{Record, RecordingReader, RecordingWriter};
use proprio::session::{DrillSetup, Session, SessionMeta, SessionReport, STANCE_PIPELINE_VERSION};
use proprio::sim::{
    BalanceWorld, SampleTruth, SimConfig, SimDevice, SimOutput, SimTransport, Stall, STEP_US,
};
use proprio_protocol::{DeviceMessage, HostMessage};
use serde_json::Value;

use crate::cmd::{json, proprio, sim_device};
use crate::common::{run_session, send};

// Helpers --------------------------------------------------------------------------------------

/// A simulated balance board with a person of `skill`.
pub(crate) fn board(seed: u64, skill: f64) -> SimConfig {
    let mut sim = SimConfig::new(seed);
    sim.skill = skill;
    sim.device = SimDevice::BalanceBoard;
    sim
}

/// A quiet-stance session header.
fn quiet_meta(sim: SimConfig, format: DeviceFormat, duration_s: f64) -> SessionMeta {
    stance_meta(sim, format, quiet_setup(duration_s))
}

fn quiet_setup(duration_s: f64) -> DrillSetup {
    let mut config = QuietStanceConfig::for_level(StanceTask::Quiet, 1).unwrap();
    config.duration_s = duration_s;
    DrillSetup::QuietStance(config)
}

/// A standing drill's session header.
pub(crate) fn stance_meta(sim: SimConfig, format: DeviceFormat, setup: DrillSetup) -> SessionMeta {
    SessionMeta::new(
        setup,
        "sim".into(),
        format,
        Some(sim),
        "2026-11-21T00:00:00Z".into(),
    )
}

/// Runs a quiet-stance session on the simulated board in process, as the app does; returns
/// the report, the records fed and the truth.
fn run_board(
    sim: SimConfig,
    hx711: Option<Hx711Format>,
    duration_s: f64,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    run_stance(sim, hx711, quiet_setup(duration_s))
}

/// Runs a standing drill's session on the simulated board in process, as the app does;
/// returns the report, the records fed and the truth.
pub(crate) fn run_stance(
    sim: SimConfig,
    hx711: Option<Hx711Format>,
    setup: DrillSetup,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    let mut transport = SimTransport::new(sim);
    let format = match &hx711 {
        Some(f) => {
            transport.device_mut().set_hx711_format(f.clone());
            DeviceFormat::Hx711Text(f.clone())
        }
        None => {
            send(&mut transport, HostMessage::GetInfo);
            send(&mut transport, HostMessage::Start { rate_hz: 100 });
            DeviceFormat::Proprio
        }
    };
    run_session(
        &mut transport,
        Session::new(stance_meta(sim, format, setup)),
    )
}

pub(crate) fn quiet(report: &SessionReport) -> QuietStanceMetrics {
    *report.metrics.quiet_stance().expect("quiet-stance metrics")
}

/// The truth's COP of each sample the board took, over a hold of `duration_s` from `start_s`
/// (device time since the first sample), measured as the drill measures (one stretch).
pub(crate) fn truth_sway(truth: &[SampleTruth], start_s: f64, duration_s: f64) -> SwayMeasures {
    let first = truth[0].t_device_us;
    let start_us = (start_s * 1e6).round() as u64;
    let end_us = ((start_s + duration_s) * 1e6).round() as u64;
    let mut stretch = Stretch::default();
    for t in truth {
        let t_us = u64::from(t.t_device_us.wrapping_sub(first));
        let cop = t.board.and_then(|b| b.cop_mm);
        if let (Some(cop), true) = (cop, (start_us..=end_us).contains(&t_us)) {
            stretch.push(t_us as f64 * 1e-6, cop[0], cop[1]);
        }
    }
    cop_sway(&[stretch])
}

pub(crate) fn relative_error(measured: f64, truth: f64) -> f64 {
    (measured - truth).abs() / truth.abs()
}

/// One sample through the chain, by sequence number.
struct Chained {
    seq: u32,
    cop: CopSample,
}

/// Decodes `seconds` of a proprio-protocol board through clock and COP chain by hand.
fn chain(
    sim: SimConfig,
    seconds: f64,
    tare_first: bool,
) -> (Vec<Chained>, Vec<SampleTruth>, CopPipeline) {
    let mut transport = SimTransport::new(sim);
    if tare_first {
        send(&mut transport, HostMessage::Tare);
    }
    send(&mut transport, HostMessage::Start { rate_hz: 100 });
    let mut decoder = StreamDecoder::new();
    let mut clock = SampleClock::new();
    let mut pipeline = CopPipeline::new(CopConfig::default());
    let mut quality = DataQuality::default();
    let (mut truth, mut out) = (Vec::new(), Vec::new());
    while (transport.now_us() as f64) < seconds * 1e6 {
        for delivery in transport.next_deliveries(Some(&mut truth)) {
            decoder.push(&delivery.bytes);
            while let Some(outcome) = decoder.next() {
                match outcome {
                    Ok(DeviceMessage::Hello(info)) => {
                        clock.set_rate_hz(f64::from(info.sample_rate_hz));
                        pipeline.set_device_info(&info);
                    }
                    Ok(DeviceMessage::Load(s)) => {
                        if let Some(timed) = clock.observe(s.seq, s.t_us, &mut quality) {
                            if let Some(cop) = pipeline.push(&s, timed.t_us) {
                                out.push(Chained { seq: s.seq, cop });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (out, truth, pipeline)
}

// The chain against the simulator's truth ------------------------------------------------------

/// Measured (30 s, seeds 1–3, skills 0.3 and 0.9, about 2 200 samples on the board each): COP
/// error RMS 0.03–0.40 mm, max 0.46 mm, nearly all of it a constant bias from the cells'
/// ±0.5 % gain errors (the error about its mean: RMS 0.012–0.037 mm); load error RMS
/// 0.17–1.66 N. Print with `cargo test --test it cop_is_recovered -- --nocapture`.
#[test]
fn cop_is_recovered_against_the_simulators_truth() {
    for seed in [1, 2, 3] {
        for skill in [0.3, 0.9] {
            let (chained, truth, _) = chain(board(seed, skill), 30.0, false);
            let truth: HashMap<u32, SampleTruth> = truth.into_iter().map(|t| (t.seq, t)).collect();
            let mut errors = Vec::new();
            let mut load_errors = Vec::new();
            for c in &chained {
                let t = truth[&c.seq].board.unwrap();
                if let (Some(cop), Some(true_cop), true) =
                    (c.cop.cop_mm, t.cop_mm, t.total_n > 500.0)
                {
                    errors.push([cop[0] - true_cop[0], cop[1] - true_cop[1]]);
                    load_errors.push(c.cop.total_n.unwrap() - t.total_n);
                }
            }
            let n = errors.len() as f64;
            let rms = (errors
                .iter()
                .map(|e| e[0] * e[0] + e[1] * e[1])
                .sum::<f64>()
                / n)
                .sqrt();
            let max = errors.iter().map(|e| e[0].hypot(e[1])).fold(0.0, f64::max);
            let bias = [0, 1].map(|i| errors.iter().map(|e| e[i]).sum::<f64>() / n);
            let sway_rms = (errors
                .iter()
                .map(|e| (e[0] - bias[0]).powi(2) + (e[1] - bias[1]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
            let load_rms =
                (load_errors.iter().map(|e| e * e).sum::<f64>() / load_errors.len() as f64).sqrt();
            eprintln!(
                "seed {seed} skill {skill}: COP error RMS {rms:.3} mm, max {max:.3} mm, about its \
                 mean {sway_rms:.3} mm over {n} samples; load error RMS {load_rms:.2} N"
            );
            assert!(n > 1_800.0, "too few samples on the board: {n}");
            assert!(
                rms < 0.8,
                "seed {seed} skill {skill}: COP RMS error {rms} mm"
            );
            assert!(
                max < 1.0,
                "seed {seed} skill {skill}: COP max error {max} mm"
            );
            assert!(sway_rms < 0.06, "seed {seed} skill {skill}: {sway_rms} mm");
            assert!(load_rms < 3.0, "seed {seed} skill {skill}: {load_rms} N");
        }
    }
}

/// The tare finds each cell's true zero (offsets of up to ±250 000 counts) to within a few
/// noise standard deviations of the mean; a board tared by its own firmware first (zeroes
/// near 0) is tared as well; nobody is on the board before the tare, and no COP before them.
#[test]
fn the_tare_finds_each_cells_true_zero() {
    for tare_first in [false, true] {
        let (chained, truth, pipeline) = chain(board(4, 0.6), 10.0, tare_first);
        let tare = pipeline.tare_counts().expect("tared");
        let zero = truth[0].board.unwrap().zero_counts;
        for i in 0..4 {
            // 40 counts of noise averaged over ≥ 80 samples: σ ≈ 4.5 counts.
            assert!(
                (tare[i] - zero[i]).abs() < 20.0,
                "device tare {tare_first}: cell {i}: {} vs {}",
                tare[i],
                zero[i]
            );
        }
        if tare_first {
            assert!(zero.iter().all(|z| z.abs() < 1.0), "{zero:?}");
        } else {
            assert!(zero.iter().any(|z| z.abs() > 10_000.0), "{zero:?}");
        }
        assert_eq!(pipeline.retares(), 0);
        // The person steps on 2 s after the board starts: taring, then empty, then on it.
        let phases: Vec<BoardPhase> = chained.iter().map(|c| c.cop.phase).collect();
        let first_empty = phases.iter().position(|p| *p == BoardPhase::Empty).unwrap();
        let first_on = phases
            .iter()
            .position(|p| *p == BoardPhase::OnBoard)
            .unwrap();
        assert!(phases[..first_empty]
            .iter()
            .all(|p| *p == BoardPhase::Taring));
        assert!(first_on > first_empty);
        let t_on = chained[first_on].cop.t_us as f64 * 1e-6;
        assert!((2.0..2.5).contains(&t_on), "on the board at {t_on} s");
        assert!(chained[..first_on].iter().all(|c| c.cop.cop_mm.is_none()));
    }
}

/// The person's continuous COP (every 1 ms physics step of the same simulated world) over the
/// hold, measured as the drill measures: what a perfect, regularly sampled board would give.
/// `t0_true_us` is the true time of the stream's first sample (the session's time 0).
fn continuous_sway(sim: SimConfig, t0_true_us: u64, start_s: f64, duration_s: f64) -> SwayMeasures {
    let mut world = BalanceWorld::for_config(&sim);
    world.start_script(); // the device started it on `Start`, before its first step
    let start_us = t0_true_us + (start_s * 1e6).round() as u64;
    let end_us = start_us + (duration_s * 1e6).round() as u64;
    let mut stretch = Stretch::default();
    let mut t_us = 0;
    while t_us < end_us {
        t_us += STEP_US;
        let load = world.step();
        if t_us >= start_us {
            stretch.push(t_us as f64 * 1e-6, load.cop_mm[0], load.cop_mm[1]);
        }
    }
    cop_sway(&[stretch])
}

/// The board samples irregularly (80 Hz nominal on a ±2 % oscillator, reads up to 1 ms late,
/// 3 % of them 2–8 ms late, 1 % of conversions missed). The quiet-stance measures from those
/// samples match those of the person's continuous COP in exact regular windows. Measured over
/// seeds 5–7 (2 600–3 200 intervals each, 78–101 late, 23–35 missed): mean velocity, ellipse
/// area and RMS per axis all within 0.15 % of the reference. The pipeline reproduces the truth
/// of its own samples through the same windows to 0.05 %.
/// Print with `cargo test --test it irregular -- --nocapture`.
#[test]
fn irregular_sampling_is_handled() {
    for seed in [5, 6, 7] {
        let sim = board(seed, 0.6);
        let (chained, truth, _) = chain(sim, 40.0, false);
        // The intervals, from the device's own timestamps.
        let dts: Vec<f64> = truth
            .windows(2)
            .map(|w| f64::from(w[1].t_device_us.wrapping_sub(w[0].t_device_us)) * 1e-3)
            .collect();
        let period_ms = dts.iter().sum::<f64>() / dts.len() as f64;
        let late = dts.iter().filter(|&&dt| dt > 1.3 * period_ms).count();
        let missed = dts.iter().filter(|&&dt| dt > 1.8 * period_ms).count();
        let spread = dts
            .iter()
            .fold(0.0f64, |m, dt| m.max((dt - period_ms).abs()));
        eprintln!(
            "seed {seed}: mean interval {period_ms:.2} ms, {late} late, {missed} missed, \
             largest deviation {spread:.1} ms of {} intervals",
            dts.len()
        );
        assert!((12.0..13.0).contains(&period_ms), "{period_ms}");
        assert!(
            late > 20 && missed > 5,
            "not irregular enough: {late} late, {missed} missed"
        );

        let mut drill = QuietStance::new(QuietStanceConfig {
            task: StanceTask::Quiet,
            level: 1,
            duration_s: 30.0,
        });
        let mut events = Vec::new();
        for c in &chained {
            drill.update(&c.cop, &mut events);
        }
        let out = drill.finish();
        assert_eq!(out.end, EndReason::Completed);
        let m = out.metrics.sway;
        let reference = continuous_sway(sim, truth[0].t_true_us, out.start_s, out.duration_s);
        let errors = [
            (m.mean_velocity_mm_s - reference.mean_velocity_mm_s) / reference.mean_velocity_mm_s,
            (m.ellipse_area_95_mm2 - reference.ellipse_area_95_mm2) / reference.ellipse_area_95_mm2,
            (m.rms_ap_mm - reference.rms_ap_mm) / reference.rms_ap_mm,
            (m.rms_ml_mm - reference.rms_ml_mm) / reference.rms_ml_mm,
        ];
        // The same samples' truth through the same windows.
        let own_truth = truth_sway(&truth, out.start_s, out.duration_s);
        let own_error = relative_error(m.mean_velocity_mm_s, own_truth.mean_velocity_mm_s);
        eprintln!(
            "seed {seed}: velocity {:.2} vs continuous {:.2} mm/s, ellipse {:.0} vs {:.0} mm², \
             RMS AP {:.2} vs {:.2} mm; relative errors {errors:+.4?}; vs its own samples' truth \
             {own_error:.4}",
            m.mean_velocity_mm_s,
            reference.mean_velocity_mm_s,
            m.ellipse_area_95_mm2,
            reference.ellipse_area_95_mm2,
            m.rms_ap_mm,
            reference.rms_ap_mm
        );
        assert!(errors[0].abs() < 0.01, "velocity {errors:?}");
        assert!(errors[1].abs() < 0.01, "ellipse {errors:?}");
        assert!(
            errors[2].abs() < 0.005 && errors[3].abs() < 0.005,
            "RMS {errors:?}"
        );
        assert!(own_error < 0.002, "{own_error}");
        assert!((out.metrics.analysis_rate_hz - 25.0).abs() < 1e-12);
        assert!(m.points > 700, "{}", m.points);
    }
}

/// A DIY board printing `ms;TR;TL;BR;BL` in kilograms, and one printing bare `TL,TR,BR,BL`
/// counts (no clock: sample times from the host's receive times), give the measures of the
/// truth too; the weight is the person's. Measured (seed 8): kilograms with the board's clock
/// within 0.1 %; host times 1.2 % on velocity, 0.2 % on the ellipse.
#[test]
fn hx711_text_boards_give_the_same_measures() {
    let kg = Hx711Format {
        columns: Hx711Format::parse_columns("ms,TR,TL,BR,BL").unwrap(),
        delimiter: Some(';'),
        unit: LoadUnit::Kilograms,
        rate_hz: 80.0,
    };
    for (format, tolerance) in [(kg, 0.01), (Hx711Format::default(), 0.03)] {
        let mut sim = board(8, 0.6);
        sim.output = SimOutput::Hx711Text;
        let (report, _, truth) = run_board(sim, Some(format.clone()), 30.0);
        assert_eq!(report.end, EndReason::Completed, "{format:?}");
        let m = quiet(&report);
        assert_eq!(m.analysis_rate_hz, 25.0);
        let expected = truth_sway(&truth, report.start_s, report.duration_s);
        let velocity_error = relative_error(m.sway.mean_velocity_mm_s, expected.mean_velocity_mm_s);
        let area_error = relative_error(m.sway.ellipse_area_95_mm2, expected.ellipse_area_95_mm2);
        eprintln!(
            "{:?} {:?}: velocity {:.2} vs {:.2} mm/s, ellipse {:.0} vs {:.0} mm², weight {:?} kg",
            format.columns,
            format.unit,
            m.sway.mean_velocity_mm_s,
            expected.mean_velocity_mm_s,
            m.sway.ellipse_area_95_mm2,
            expected.ellipse_area_95_mm2,
            m.weight_kg
        );
        assert!(velocity_error < tolerance, "{velocity_error}");
        assert!(area_error < tolerance, "{area_error}");
        let on_board: Vec<f64> = truth
            .iter()
            .filter_map(|t| t.board)
            .filter(|b| b.total_n > 300.0)
            .map(|b| b.total_n)
            .collect();
        let true_kg = on_board.iter().sum::<f64>() / on_board.len() as f64 / 9.806_65;
        match format.unit {
            LoadUnit::Kilograms => {
                assert_eq!(report.quality.timestamps, TimestampSource::Device);
                let weight = m.weight_kg.expect("kilograms: a known scale");
                assert!((weight - true_kg).abs() < 1.0, "{weight} vs {true_kg}");
            }
            LoadUnit::Counts => {
                assert_eq!(report.quality.timestamps, TimestampSource::Host);
                assert_eq!(m.weight_kg, None, "raw counts have no scale");
            }
        }
    }
}

// The measures on known traces -----------------------------------------------------------------

/// A COP circling at 0.5 Hz with radius 8 mm, sampled at jittered times (9–16 ms apart) around
/// a stance at (10, −20) mm: the drill's measures are the circle's (velocity 2π·8·0.5 = 25.13
/// mm/s, mean distance 8 mm, RMS per axis 8/√2, ellipse π·5.99·8²/2 ≈ 602 mm² for many points),
/// whatever the spacing.
#[test]
fn measures_of_an_irregularly_sampled_circle() {
    let mut drill = QuietStance::new(QuietStanceConfig {
        task: StanceTask::Quiet,
        level: 1,
        duration_s: 20.0,
    });
    let mut events = Vec::new();
    let mut jitter = 12345u64;
    let mut t_us = 0u64;
    while !drill.is_done() {
        let t = t_us as f64 * 1e-6;
        let a = 2.0 * std::f64::consts::PI * 0.5 * t;
        let sample = CopSample {
            t_us,
            phase: BoardPhase::OnBoard,
            total_counts: 700.0,
            total_n: Some(700.0),
            cop_mm: Some([10.0 + 8.0 * a.cos(), -20.0 + 8.0 * a.sin()]),
            cells_n: None,
        };
        drill.update(&sample, &mut events);
        jitter = jitter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        t_us += 9_000 + (jitter >> 33) % 7_000;
    }
    let out = drill.finish();
    let s = out.metrics.sway;
    eprintln!("{s:?}");
    // Window averaging shrinks the circle by sinc(f·Δ) = 0.9974 at 0.5 Hz in 40 ms windows.
    assert!(relative_error(s.mean_velocity_mm_s, 2.0 * std::f64::consts::PI * 4.0) < 0.01);
    assert!(relative_error(s.mean_distance_mm, 8.0) < 0.01);
    assert!(relative_error(s.rms_ml_mm, 8.0 / 2f64.sqrt()) < 0.01);
    assert!(relative_error(s.rms_ap_mm, 8.0 / 2f64.sqrt()) < 0.01);
    assert!(relative_error(s.mean_cop_x_mm, 10.0) < 0.01);
    assert!(relative_error(s.ellipse_area_95_mm2, std::f64::consts::PI * 5.9915 * 32.0) < 0.02);
    assert!(relative_error(s.range_ml_mm, 16.0) < 0.01);
    assert_eq!(out.end, EndReason::Completed);
}

/// Stepping off mid-hold ends the trial as `stepped-off`, with the event, and scores little.
#[test]
fn stepping_off_is_a_failure_event() {
    let mut sim = board(9, 0.6);
    sim.balance_board.step_off_s = Some(10.0);
    let (report, _, _) = run_board(sim, None, 30.0);
    assert_eq!(report.end, EndReason::SteppedOff);
    let off: Vec<f64> = report
        .events
        .iter()
        .filter_map(|e| match e {
            DrillEvent::SteppedOff { t_s } => Some(*t_s),
            _ => None,
        })
        .collect();
    assert_eq!(off.len(), 1);
    // Stepping on at 2 s, steady about 1.2 s later plus a second: the hold starts near 4.2 s.
    let left_at_s = report.start_s + off[0];
    assert!((10.0..10.8).contains(&left_at_s), "{left_at_s}");
    let m = quiet(&report);
    assert!(m.measured_s < 7.0, "{}", m.measured_s);
    assert!(report.score < 30.0, "{}", report.score);
}

#[test]
fn a_steadier_person_scores_higher() {
    let mean_score = |skill: f64| {
        let scores: Vec<f64> = (1..=3)
            .map(|seed| run_board(board(seed, skill), None, 30.0).0.score)
            .collect();
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    let scores: Vec<f64> = [0.0, 0.4, 0.8, 1.0].into_iter().map(mean_score).collect();
    eprintln!("mean quiet-stance scores by skill 0 / 0.4 / 0.8 / 1: {scores:.0?}");
    for pair in scores.windows(2) {
        assert!(pair[1] > pair[0], "score must rise with skill: {scores:?}");
    }
    assert!(scores[0] < 40.0 && scores[3] > 85.0, "{scores:?}");
}

// Replay ---------------------------------------------------------------------------------------

pub(crate) fn replay(bytes: &[u8]) -> SessionReport {
    let mut reader = RecordingReader::new(bytes).unwrap();
    let mut session = Session::new(reader.meta().clone());
    let mut events = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        session.handle(&record, &mut events);
    }
    session.finish()
}

#[test]
fn quiet_stance_replays_to_the_bit_even_with_faults() {
    let mut faulty = board(10, 0.5);
    faulty.faults.drop_prob = 0.01;
    faulty.faults.corrupt_prob = 0.01;
    faulty.faults.garbage_prob = 0.01;
    faulty.faults.stall = Some(Stall {
        at_s: 8.0,
        duration_s: 1.0,
    });
    for sim in [board(11, 0.7), faulty] {
        let (live, records, _) = run_board(sim, None, 20.0);
        let mut writer =
            RecordingWriter::new(Vec::new(), &quiet_meta(sim, DeviceFormat::Proprio, 20.0))
                .unwrap();
        for r in &records {
            writer.write(r).unwrap();
        }
        let replayed = replay(writer.get_mut());
        assert_eq!(
            serde_json::to_string(&live).unwrap(),
            serde_json::to_string(&replayed).unwrap()
        );
        assert_eq!(live.score.to_bits(), replayed.score.to_bits());
        assert_eq!(live.pipeline_version, STANCE_PIPELINE_VERSION);
        assert_eq!(live.end, EndReason::Completed);
    }
}

// The command line -----------------------------------------------------------------------------

/// `proprio drill quiet-stance ARGS… --no-live --json`, then its replay, which must match.
fn drill_and_replay(data_dir: &Path, args: &[&str]) -> Value {
    stance_and_replay(data_dir, "quiet-stance", args)
}

/// `proprio drill DRILL ARGS… --no-live --json`, then its replay, which must match.
pub(crate) fn stance_and_replay(data_dir: &Path, drill: &str, args: &[&str]) -> Value {
    let args = [&["drill", drill], args, &["--no-live", "--json"]].concat();
    let live = json(&proprio(data_dir, &args));
    let recording = live["recording"].as_str().expect("names its recording");
    let replayed = json(&proprio(data_dir, &["replay", recording, "--json"]));
    assert_eq!(live, replayed);
    live
}

#[test]
fn quiet_stance_on_the_simulator_then_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let live = drill_and_replay(
        dir.path(),
        &["--source", "sim", "--seed", "3", "--duration", "10"],
    );
    assert_eq!(live["drill"], "quiet-stance");
    assert_eq!(live["end"], "completed");
    assert_eq!(live["device"]["kind"], "balance-board");
    assert_eq!(live["pipeline_version"], STANCE_PIPELINE_VERSION);
    let m = &live["metrics"];
    for key in [
        "mean_velocity_mm_s",
        "mean_velocity_ml_mm_s",
        "mean_velocity_ap_mm_s",
        "ellipse_area_95_mm2",
        "rms_ml_mm",
        "rms_ap_mm",
        "mean_distance_mm",
        "path_mm",
        "range_ml_mm",
        "weight_kg",
        "measured_s",
    ] {
        assert!(m[key].is_number(), "{key} in {m}");
    }
    // Another geometry reaches both the simulated board and the pipeline: the same sway.
    let wide = drill_and_replay(
        dir.path(),
        &[
            "--seed",
            "3",
            "--duration",
            "10",
            "--board-geometry",
            "500x300",
        ],
    );
    // It is what the pipeline was set up with (an ignored flag would pass the sway check too).
    let path = wide["recording"].as_str().unwrap();
    let reader = RecordingReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let geometry = reader.meta().pipeline.cop.geometry;
    assert_eq!((geometry.width_mm, geometry.depth_mm), (500.0, 300.0));
    let v = |r: &Value| r["metrics"]["mean_velocity_mm_s"].as_f64().unwrap();
    assert!(
        relative_error(v(&wide), v(&live)) < 0.02,
        "{} vs {}",
        v(&wide),
        v(&live)
    );
}

/// A DIY HX711 board (simulated on a pseudo-terminal) printing `ms;TR;TL;BR;BL#`-style lines in
/// kilograms, with line noise, unplugged for a second mid-trial (the person steps on 5 s after
/// the board starts, the hold starts about 2 s later): proprio reconnects, the hold pauses and
/// completes, the noise is counted, and the replay matches.
#[cfg(unix)]
#[test]
fn hx711_text_board_on_a_pty_with_noise_and_an_unplug() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("board");
    let link_arg = link.to_str().unwrap();
    let layout = [
        "--hx711-columns",
        "ms,TR,TL,BR,BL",
        "--hx711-delimiter",
        ";",
        "--hx711-unit",
        "kg",
    ];
    let device_args = [
        &layout[..],
        &[
            "--format",
            "hx711-text",
            "--seed",
            "6",
            "--sim-garbage",
            "0.02",
            "--unplug",
            "9:1",
            "--link",
            link_arg,
        ],
    ]
    .concat();
    let (_device, shown) = sim_device(&device_args);
    assert_eq!(shown, link_arg);
    let source = format!("hx711-text:{link_arg}");
    let live = drill_and_replay(
        dir.path(),
        &[
            &["--source", source.as_str(), "--duration", "5"],
            &layout[..],
        ]
        .concat(),
    );
    assert_eq!(live["end"], "completed");
    let q = &live["quality"];
    assert_eq!(q["disconnects"], 1, "{q}");
    assert_eq!(q["reconnects"], 1, "{q}");
    assert_eq!(
        q["timestamps"], "device",
        "the ms column is the board's clock"
    );
    assert!(
        q["malformed_frames"].as_u64().unwrap() > 0,
        "garbage lines: {q}"
    );
    let m = &live["metrics"];
    assert!(
        (m["measured_s"].as_f64().unwrap() - 5.0).abs() < 0.05,
        "{m}"
    );
    let paused_s = live["duration_s"].as_f64().unwrap() - 5.0;
    assert!(
        paused_s > 0.8,
        "the hold pauses while unplugged: {paused_s} s"
    );
    assert!(q["longest_gap_s"].as_f64().unwrap() > 0.9, "{q}");
    let weight = m["weight_kg"].as_f64().unwrap();
    assert!((60.0..90.0).contains(&weight), "{weight}");
    let velocity = m["mean_velocity_mm_s"].as_f64().unwrap();
    assert!((5.0..30.0).contains(&velocity), "{velocity}");
}

/// A board speaking proprio's protocol on a pseudo-terminal drives quiet stance; raw HX711
/// counts without a clock work too (host timestamps, no weight).
#[cfg(unix)]
#[test]
fn boards_on_a_pty_proprio_protocol_and_raw_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (_board, port) = sim_device(&["--format", "proprio-board", "--seed", "7"]);
    let live = drill_and_replay(
        dir.path(),
        &["--source", &format!("serial:{port}"), "--duration", "4"],
    );
    assert_eq!(live["end"], "completed");
    assert_eq!(live["device"]["kind"], "balance-board");
    assert_eq!(live["device"]["sample_rate_hz"], 80.0);
    assert!(live["metrics"]["weight_kg"].is_number());

    let (_text, port) = sim_device(&["--format", "hx711-text", "--seed", "8"]);
    let live = drill_and_replay(
        dir.path(),
        &["--source", &format!("hx711-text:{port}"), "--duration", "4"],
    );
    assert_eq!(live["end"], "completed");
    assert_eq!(live["quality"]["timestamps"], "host");
    assert!(live["metrics"]["weight_kg"].is_null());
}

/// A board for the rocker hold, or an IMU for quiet stance, is refused in one sentence, before
/// anything starts when the source says what it is, at its `Hello` otherwise; bad board and
/// HX711 flags are one sentence each.
#[cfg(unix)]
#[test]
fn wrong_devices_and_bad_board_flags_get_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let one_sentence = |args: &[&str], expected: &str, code: i32| {
        let out = proprio(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{args:?} -> {}", stderr.lines().next().unwrap_or(""));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.contains(expected), "{args:?}: {stderr}");
        if code == 1 {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    };
    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        [&["drill", "quiet-stance", "--no-live"][..], extra].concat()
    }
    // Quiet stance runs on a wearable too; single-leg stance does not.
    one_sentence(
        &[
            "drill",
            "single-leg",
            "--no-live",
            "--source",
            "witmotion-serial:/dev/ttyUSB9",
        ],
        "single-leg needs a balance board; 'witmotion-serial:/dev/ttyUSB9' is an IMU wearable",
        1,
    );
    one_sentence(
        &[
            "drill",
            "rocker-hold",
            "--source",
            "hx711-text:/dev/ttyUSB9",
        ],
        "rocker-hold needs an IMU on the board; 'hx711-text:/dev/ttyUSB9' is a balance board",
        1,
    );
    one_sentence(
        &with(&["--hx711-columns", "TL,TR"]),
        "the column list \"TL,TR\" has no BR column",
        2,
    );
    one_sentence(
        &with(&["--hx711-delimiter", "5"]),
        "'5' is not a delimiter",
        2,
    );
    one_sentence(
        &with(&["--hx711-unit", "pounds"]),
        "invalid value 'pounds'",
        2,
    );
    one_sentence(&with(&["--hx711-rate", "0"]), "'0' is not a sample rate", 2);
    one_sentence(
        &with(&["--board-geometry", "433"]),
        "'433' is not a board geometry WIDTHxDEPTH in mm",
        2,
    );
    one_sentence(
        &with(&["--board-geometry", "10x10"]),
        "is not a board geometry",
        2,
    );
    one_sentence(&with(&["--level", "6"]), "6 is not in 1..=5", 2);

    // Known only from the Hello: a wearable for single-leg stance, a board for the rocker
    // hold.
    let (_wearable, port) = sim_device(&["--seed", "2"]);
    one_sentence(
        &[
            "drill",
            "single-leg",
            "--no-live",
            "--source",
            &format!("serial:{port}"),
        ],
        "single-leg needs a balance board; the device is an IMU wearable",
        1,
    );
    let (_board, port) = sim_device(&["--format", "proprio-board", "--seed", "2"]);
    one_sentence(
        &[
            "drill",
            "rocker-hold",
            "--no-live",
            "--source",
            &format!("serial:{port}"),
        ],
        "rocker-hold needs an IMU on the board; the device is a balance board",
        1,
    );
}
