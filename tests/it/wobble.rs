//! The wobble-board hold on the simulated wearable (a person on a board that tips every way,
//! its rim touching the floor at the edge limit): edge contacts and time off balance against
//! the simulator's true contacts, tilt RMS and time in band against the true tilt, a better
//! person scoring better, and the result replayed to the bit, in process and from the
//! command line.

use proprio::drill::{DrillEvent, EndReason, WobbleHoldConfig, WobbleHoldMetrics};
use proprio::recording::{Record, RecordingReader, RecordingWriter};
use proprio::session::{DrillSetup, Session, SessionMeta, SessionReport};
use proprio::sim::{EdgeContacts, SampleTruth, SimConfig, SimDevice, Stall};

use crate::board::stance_and_replay;
use crate::cmd::{json, proprio};
use crate::common::{run_session, sim_meta, streaming};

/// A simulated wobble board with a person of `skill` on it.
fn wobble_sim(seed: u64, skill: f64) -> SimConfig {
    let mut sim = SimConfig::new(seed);
    sim.skill = skill;
    sim.device = SimDevice::WobbleWearable;
    sim
}

/// The session's header for a hold of `level` lasting `duration_s` on `sim`.
fn wobble_meta(sim: SimConfig, level: u8, duration_s: f64) -> SessionMeta {
    let mut config = WobbleHoldConfig::for_level(level, sim.board.limit_deg).unwrap();
    config.duration_s = duration_s;
    sim_meta(sim, DrillSetup::WobbleHold(config))
}

/// Runs a hold on `sim` in process, as the app does: the report, the records fed and the
/// truth.
fn run_on(
    sim: SimConfig,
    level: u8,
    duration_s: f64,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    run_session(
        &mut streaming(sim),
        Session::new(wobble_meta(sim, level, duration_s)),
    )
}

/// Runs a hold of `level` for `duration_s` by a person of `skill`.
fn run_hold(
    seed: u64,
    skill: f64,
    level: u8,
    duration_s: f64,
) -> (SessionReport, Vec<Record>, Vec<SampleTruth>) {
    run_on(wobble_sim(seed, skill), level, duration_s)
}

fn wobble(report: &SessionReport) -> WobbleHoldMetrics {
    *report.metrics.wobble_hold().expect("wobble-hold metrics")
}

/// The truth of the drill's window: each sample's time from the drill's start (s) and truth.
fn window<'a>(truth: &'a [SampleTruth], report: &SessionReport) -> Vec<(f64, &'a SampleTruth)> {
    let first = truth[0].t_device_us;
    truth
        .iter()
        .map(|t| {
            let t_s = f64::from(t.t_device_us.wrapping_sub(first)) * 1e-6 - report.start_s;
            (t_s, t)
        })
        .filter(|(t_s, _)| *t_s >= -1e-9 && *t_s <= report.duration_s + 1e-9)
        .collect()
}

/// True edge contacts that began in the window: the counts (with their strict and lenient
/// bounds), each contact's start (s from the drill's start, by the drill's definition) and the
/// time off balance (zero-order hold of "a contact is under way" over the window's samples, as
/// the drill weights time).
fn true_contacts(truth: &[SampleTruth], report: &SessionReport) -> (EdgeContacts, Vec<f64>, f64) {
    let samples = window(truth, report);
    let on_edge = |t: &SampleTruth| t.wobble.expect("wobble truth").on_edge;
    let before = truth
        .iter()
        .take_while(|t| !std::ptr::eq(*t, samples[0].1))
        .last()
        .map(|t| t.edge_contacts)
        .unwrap_or_default();
    let last = samples.last().unwrap().1.edge_contacts;
    let counts = EdgeContacts {
        at_least: last.at_least - before.at_least,
        nominal: last.nominal - before.nominal,
        at_most: last.at_most - before.at_most,
    };
    let mut starts = Vec::new();
    let mut off_s = 0.0;
    for pair in samples.windows(2) {
        let ((t0, a), (t1, b)) = (pair[0], pair[1]);
        if on_edge(a) {
            off_s += t1 - t0;
        }
        if on_edge(b) && !on_edge(a) {
            starts.push(t1);
        }
    }
    (counts, starts, off_s)
}

/// RMS of the true tilt's size and per axis, the share within `band_deg`, and the mean tilt.
fn true_tilt(truth: &[SampleTruth], report: &SessionReport, band_deg: f64) -> [f64; 6] {
    let samples = window(truth, report);
    let n = samples.len() as f64;
    let tilts: Vec<[f64; 2]> = samples
        .iter()
        .map(|(_, t)| t.wobble.unwrap().tilt_deg)
        .collect();
    let mean_sq =
        |f: &dyn Fn(&[f64; 2]) -> f64| tilts.iter().map(|t| f(t).powi(2)).sum::<f64>() / n;
    let rms = mean_sq(&|t| t[0].hypot(t[1])).sqrt();
    let rms_ap = mean_sq(&|t| t[0]).sqrt();
    let rms_ml = mean_sq(&|t| t[1]).sqrt();
    let in_band = tilts
        .iter()
        .filter(|t| t[0].hypot(t[1]) <= band_deg)
        .count() as f64
        / n;
    let mean_ap = tilts.iter().map(|t| t[0]).sum::<f64>() / n;
    let mean_ml = tilts.iter().map(|t| t[1]).sum::<f64>() / n;
    [rms, rms_ap, rms_ml, 100.0 * in_band, mean_ap, mean_ml]
}

/// The drill's edge-contact events, s from its start.
fn contact_events(report: &SessionReport) -> Vec<f64> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            DrillEvent::EdgeContact { t_s, .. } => Some(*t_s),
            _ => None,
        })
        .collect()
}

/// A detected contact begins within this of the true one: its impact shows in the sample
/// after it at the latest (10 ms at 100 Hz), s.
const START_TOLERANCE_S: f64 = 0.015;
/// Time off balance within this of the truth in a clean run (no faults, the truth
/// unambiguous), s.
const OFF_BALANCE_TOLERANCE_S: f64 = 0.1;

/// Edge contacts against the simulator's truth over 24 holds of 30 s (skills 0.4, 0.5, 0.6, 8
/// seeds each): counted exactly wherever the truth is unambiguous (a contact at the threshold
/// speed, or a release at the release line within a sensor's error, may go either way; every
/// count lies within the truth's bounds), each one beginning within 15 ms of the true
/// contact, with a release event for each, and the time off balance within 0.1 s of the
/// truth's. A wobble board often reaches its rim at a grazing angle, so impacts near the
/// threshold speed are common: about half the runs hold one that could go either way (on a
/// rocker, 15 of 80).
#[test]
fn edge_contacts_and_time_off_balance_match_the_truth() {
    let (mut runs, mut clean_runs, mut true_total, mut detected_total) = (0, 0, 0, 0);
    let (mut clean_contacts, mut ambiguous_total) = (0, 0);
    let (mut worst_start_s, mut worst_off_s, mut off_total_s) = (0.0f64, 0.0f64, 0.0);
    for skill in [0.4, 0.5, 0.6] {
        for seed in 1..=8 {
            let (report, _, truth) = run_hold(seed, skill, 2, 30.0);
            assert_eq!(report.end, EndReason::Completed);
            let m = wobble(&report);
            let (counts, starts, off_s) = true_contacts(&truth, &report);
            let events = contact_events(&report);
            let releases = report
                .events
                .iter()
                .filter(|e| matches!(e, DrillEvent::EdgeReleased { .. }))
                .count() as u64;
            eprintln!(
                "skill {skill} seed {seed}: {} contacts, true {counts:?}; off balance {:.3} s, \
                 true {off_s:.3} s",
                m.edge_contacts, m.time_off_balance_s
            );
            assert_eq!(events.len() as u64, m.edge_contacts);
            // Every contact is released, but one still under way when the hold ends.
            assert!(releases == m.edge_contacts || releases + 1 == m.edge_contacts);
            assert!(
                counts.at_least <= m.edge_contacts && m.edge_contacts <= counts.at_most,
                "skill {skill} seed {seed}: {} outside {counts:?}",
                m.edge_contacts
            );
            runs += 1;
            true_total += counts.nominal;
            detected_total += m.edge_contacts;
            ambiguous_total += counts.at_most - counts.at_least;
            if counts.at_least != counts.at_most {
                continue;
            }
            clean_runs += 1;
            clean_contacts += counts.nominal;
            assert_eq!(m.edge_contacts, counts.nominal, "skill {skill} seed {seed}");
            for (detected, truth) in events.iter().zip(&starts) {
                let error_s = detected - truth;
                worst_start_s = worst_start_s.max(error_s.abs());
                assert!(
                    error_s.abs() <= START_TOLERANCE_S,
                    "skill {skill} seed {seed}: contact at {detected:.3} s, true {truth:.3} s"
                );
            }
            let error_s = m.time_off_balance_s - off_s;
            worst_off_s = worst_off_s.max(error_s.abs());
            off_total_s += off_s;
            assert!(
                error_s.abs() <= OFF_BALANCE_TOLERANCE_S,
                "skill {skill} seed {seed}: off balance {:.3} s, true {off_s:.3} s",
                m.time_off_balance_s
            );
        }
    }
    eprintln!(
        "{detected_total} contacts detected, {true_total} true over {runs} runs, \
         {ambiguous_total} could go either way; {clean_runs} runs unambiguous ({clean_contacts} \
         contacts): every count exact, starts within {worst_start_s:.3} s, time off balance \
         within {worst_off_s:.3} s (of {off_total_s:.1} s in all)"
    );
    // Enough unambiguous contacts for the exact checks to mean something.
    assert!(
        clean_runs >= 10 && clean_contacts >= 40,
        "{clean_runs} of {runs} runs clean, {clean_contacts} contacts"
    );
}

/// The drill's tilt measures are the true board's: over 9 holds (skills 0.1, 0.5, 0.9) the
/// RMS of the tilt's size and of each axis within 0.1° + 2 %, the time within the band within
/// 2 points and the mean tilt within 0.25° per axis.
#[test]
fn tilt_rms_and_time_in_band_follow_the_true_tilt() {
    let (mut worst_rms, mut worst_in_band, mut worst_mean) = (0.0f64, 0.0f64, 0.0f64);
    for skill in [0.1, 0.5, 0.9] {
        for seed in 1..=3 {
            let (report, _, truth) = run_hold(seed, skill, 2, 30.0);
            let m = wobble(&report);
            let band_deg = WobbleHoldConfig::for_level(2, 15.0).unwrap().band_deg;
            let [rms, rms_ap, rms_ml, in_band, mean_ap, mean_ml] =
                true_tilt(&truth, &report, band_deg);
            for (measured, truth) in [
                (m.tilt_rms_deg, rms),
                (m.tilt_rms_ap_deg, rms_ap),
                (m.tilt_rms_ml_deg, rms_ml),
            ] {
                worst_rms = worst_rms.max((measured - truth).abs());
                assert!(
                    (measured - truth).abs() <= 0.1 + 0.02 * truth,
                    "skill {skill} seed {seed}: RMS {measured:.3}° vs true {truth:.3}°"
                );
            }
            worst_in_band = worst_in_band.max((m.time_in_band_percent - in_band).abs());
            assert!(
                (m.time_in_band_percent - in_band).abs() <= 2.0,
                "skill {skill} seed {seed}: in band {:.2} % vs true {in_band:.2} %",
                m.time_in_band_percent
            );
            for (measured, truth) in [(m.mean_tilt_ap_deg, mean_ap), (m.mean_tilt_ml_deg, mean_ml)]
            {
                worst_mean = worst_mean.max((measured - truth).abs());
                assert!(
                    (measured - truth).abs() <= 0.25,
                    "skill {skill} seed {seed}: mean {measured:.3}° vs true {truth:.3}°"
                );
            }
        }
    }
    eprintln!(
        "tilt RMS (size, AP, ML) within {worst_rms:.3}°, time in band within {worst_in_band:.2} \
         points, mean tilt within {worst_mean:.3}° of the truth"
    );
}

/// A steadier person tilts less, touches the rim less and scores higher: level 1 (20 s, 8°
/// band), means of four seeds at skills 0.1, 0.5 and 0.9.
#[test]
fn a_better_person_scores_better() {
    let mut by_skill = Vec::new();
    for skill in [0.1, 0.5, 0.9] {
        let runs: Vec<SessionReport> = (1..=4)
            .map(|seed| run_hold(seed, skill, 1, 20.0).0)
            .collect();
        let mean = |f: &dyn Fn(&SessionReport) -> f64| runs.iter().map(f).sum::<f64>() / 4.0;
        by_skill.push([
            mean(&|r| r.score),
            mean(&|r| wobble(r).tilt_rms_deg),
            mean(&|r| wobble(r).edge_contacts as f64),
            mean(&|r| wobble(r).time_off_balance_s),
        ]);
    }
    eprintln!(
        "wobble-hold level 1 at skill 0.1 / 0.5 / 0.9, means of 4 seeds [score, tilt RMS °, \
         edge contacts, time off balance s]: {by_skill:.2?}"
    );
    for pair in by_skill.windows(2) {
        assert!(
            pair[1][0] > pair[0][0],
            "scores must rise with skill: {by_skill:?}"
        );
        assert!(
            pair[1][1] < pair[0][1],
            "tilt must fall with skill: {by_skill:?}"
        );
        assert!(
            pair[1][2] <= pair[0][2],
            "contacts must not rise: {by_skill:?}"
        );
    }
    assert!(by_skill[2][0] > 75.0, "{by_skill:?}");
}

/// A hold written to a recording and replayed gives the live result to the bit, also over a
/// lossy, noisy link with a stall.
#[test]
fn replay_gives_the_live_result_to_the_bit() {
    let mut faulty = wobble_sim(8, 0.4);
    faulty.faults.drop_prob = 0.01;
    faulty.faults.corrupt_prob = 0.01;
    faulty.faults.garbage_prob = 0.01;
    faulty.faults.stall = Some(Stall {
        at_s: 12.0,
        duration_s: 2.0,
    });
    for sim in [wobble_sim(7, 0.4), faulty] {
        let (live, records, _) = run_on(sim, 2, 30.0);
        let mut writer = RecordingWriter::new(Vec::new(), &wobble_meta(sim, 2, 30.0)).unwrap();
        for record in &records {
            writer.write(record).unwrap();
        }
        let bytes = std::mem::take(writer.get_mut());
        let mut reader = RecordingReader::new(&bytes[..]).unwrap();
        let mut session = Session::new(reader.meta().clone());
        let mut events = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            session.handle(&record, &mut events);
        }
        let replayed = session.finish();
        assert_eq!(
            serde_json::to_string(&live).unwrap(),
            serde_json::to_string(&replayed).unwrap()
        );
        assert_eq!(live.score.to_bits(), replayed.score.to_bits());
        let (a, b) = (wobble(&live), wobble(&replayed));
        assert_eq!(a.tilt_rms_deg.to_bits(), b.tilt_rms_deg.to_bits());
        assert_eq!(
            a.time_off_balance_s.to_bits(),
            b.time_off_balance_s.to_bits()
        );
        assert!(live.events_total > 0);
    }
}

/// `proprio drill wobble-hold` on the simulator, then its replay (equal, checked by the
/// helper); the plan reads the result back as a baseline trial; bad input is one sentence.
#[test]
fn wobble_hold_on_the_command_line_then_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let live = stance_and_replay(
        dir.path(),
        "wobble-hold",
        &["--source", "sim", "--seed", "3"],
    );
    assert_eq!(live["drill"], "wobble-hold");
    assert_eq!(live["level"], 1);
    assert_eq!(live["end"], "completed");
    assert_eq!(live["target_duration_s"], 20.0);
    assert_eq!(live["device"]["kind"], "wearable");
    assert_eq!(
        live["pipeline_version"],
        proprio::pipeline::PIPELINE_VERSION
    );
    let m = &live["metrics"];
    for key in [
        "tilt_rms_deg",
        "tilt_rms_ap_deg",
        "tilt_rms_ml_deg",
        "mean_tilt_ap_deg",
        "mean_tilt_ml_deg",
        "mean_tilt_direction_deg",
        "time_in_band_percent",
        "time_off_balance_s",
        "longest_in_band_s",
        "measured_s",
    ] {
        assert!(m[key].is_number(), "{key} in {m}");
    }
    assert!(m["edge_contacts"].is_u64(), "{m}");
    // The history reads the result back as the wobble hold's: the first baseline trial.
    let plan = json(&proprio(dir.path(), &["plan", "--json"]));
    let wobble_plan = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["drill"] == "wobble-hold")
        .expect("the plan lists wobble-hold");
    assert_eq!(wobble_plan["levels"], 5);
    assert_eq!(wobble_plan["baseline_trials"], 1, "{wobble_plan}");
    for (args, says) in [
        (
            &["drill", "wobble-hold", "--level", "9"][..],
            "9 is not in 1..=5",
        ),
        (
            &["drill", "wobble-hold", "--source", "hx711-text:/dev/null"][..],
            "wobble-hold needs an IMU on the board",
        ),
    ] {
        let out = proprio(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(
            stderr.lines().filter(|l| !l.trim().is_empty()).count(),
            if args.contains(&"--level") { 2 } else { 1 },
            "{stderr}"
        );
    }
}
