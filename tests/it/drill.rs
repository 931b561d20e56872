//! Drill measures against the simulator's truth, and scores against skill.

use proprio::drill::{DrillEvent, EndReason};
use proprio::sim::{SampleTruth, SimConfig};

use crate::common::run_sim;

/// True edge contacts that began inside the drill's window.
fn true_contacts_in_window(truth: &[SampleTruth], start_s: f64, duration_s: f64) -> u64 {
    let first = truth[0].t_device_us;
    let mut before = None;
    let mut last = 0;
    for t in truth {
        let s = t.t_device_us.wrapping_sub(first) as f64 * 1e-6;
        if s < start_s {
            before = Some(t.edge_contacts);
        } else if s <= start_s + duration_s {
            last = t.edge_contacts;
        }
    }
    last - before.unwrap_or(0)
}

#[test]
fn edge_contacts_match_the_simulators_truth() {
    let (mut runs, mut exact, mut detected_total, mut true_total) = (0, 0, 0, 0);
    for skill in [0.2, 0.3, 0.5, 0.7, 0.8] {
        for seed in 1..=16 {
            let mut sim = SimConfig::new(seed);
            sim.skill = skill;
            let (report, _, truth) = run_sim(sim, 2, 30.0);
            let detected = report.metrics.rocker_hold().unwrap().edge_contacts;
            let expected = true_contacts_in_window(&truth, report.start_s, report.duration_s);
            eprintln!("skill {skill} seed {seed}: detected {detected}, true {expected}");
            assert!(
                detected.abs_diff(expected) <= 2,
                "skill {skill} seed {seed}: {detected} vs {expected}"
            );
            let events = report
                .events
                .iter()
                .filter(|e| matches!(e, DrillEvent::EdgeContact { .. }));
            assert_eq!(events.count() as u64, detected);
            runs += 1;
            exact += u32::from(detected == expected);
            detected_total += detected;
            true_total += expected;
        }
    }
    eprintln!("exact in {exact} of {runs} runs; {detected_total} detected, {true_total} true");
    assert!(
        true_total > 100,
        "the scenarios should contain many contacts: {true_total}"
    );
    // Measured: exact in 74 of 80 runs, 651 detected for 656 true. The misses are touches
    // slower than about 3 °/s, which no rate signature tells from a catch at the limit.
    assert!(
        exact * 10 >= runs * 9,
        "exact in only {exact} of {runs} runs"
    );
    assert!(
        detected_total.abs_diff(true_total) * 100 <= true_total,
        "{detected_total} vs {true_total}"
    );
}

#[test]
fn a_steadier_board_means_less_tilt_and_more_time_in_band() {
    // Truth-based: the drill's RMS follows the true RMS.
    let mut sim = SimConfig::new(4);
    sim.skill = 0.8;
    let (report, _, truth) = run_sim(sim, 2, 30.0);
    let first = truth[0].t_device_us;
    let window: Vec<f64> = truth
        .iter()
        .filter(|t| {
            let s = t.t_device_us.wrapping_sub(first) as f64 * 1e-6;
            s >= report.start_s && s <= report.start_s + report.duration_s
        })
        .map(|t| t.tilt_deg)
        .collect();
    let true_rms = (window.iter().map(|x| x * x).sum::<f64>() / window.len() as f64).sqrt();
    let m = *report.metrics.rocker_hold().unwrap();
    assert!(
        (m.tilt_rms_deg - true_rms).abs() < 0.1 + 0.03 * true_rms,
        "{} vs {true_rms}",
        m.tilt_rms_deg
    );
    let true_in_band =
        window.iter().filter(|x| x.abs() <= 5.0).count() as f64 / window.len() as f64;
    assert!(
        (m.time_in_band_percent / 100.0 - true_in_band).abs() < 0.03,
        "{} vs {true_in_band}",
        m.time_in_band_percent
    );
    assert_eq!(report.end, EndReason::Completed);
    assert!((report.duration_s - 30.0).abs() < 0.02);
}

#[test]
fn better_skill_gives_a_better_score() {
    let mean_score = |skill: f64| {
        let scores: Vec<f64> = (1..=4)
            .map(|seed| {
                let mut sim = SimConfig::new(seed);
                sim.skill = skill;
                run_sim(sim, 2, 30.0).0.score
            })
            .collect();
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    let scores: Vec<f64> = [0.5, 0.65, 0.8, 0.9, 1.0]
        .into_iter()
        .map(mean_score)
        .collect();
    eprintln!("mean scores by skill: {scores:?}");
    for pair in scores.windows(2) {
        assert!(pair[1] > pair[0], "score must rise with skill: {scores:?}");
    }
    assert!(scores[0] < 40.0 && scores[4] > 85.0, "{scores:?}");
}
