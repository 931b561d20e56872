//! Step detection against another algorithm's answers: Mobilise-D's reference implementation of
//! McCamley/Ionescu initial-contact detection on lumbar IMU walks (../shared/data/gait-lowback).

use std::path::{Path, PathBuf};

use nalgebra::Vector3;
use proprio::measures::gait::{
    cadence_steps_per_min, initial_contacts, vertical_acceleration, walking_bouts_of,
    world_vertical_acceleration, Gait,
};
use proprio::pipeline::ImuSi;
use proprio::G_M_S2;
use serde_json::Value;

use crate::common::shared_data;

const RATE_HZ: f64 = 100.0;

fn gait_dir() -> PathBuf {
    shared_data("gait-lowback", "data_csv/participant_metadata.json")
}

/// One trial's samples: acc in g and gyr in °/s in the file, x vertical.
fn read_trial(path: &Path) -> Vec<ImuSi> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
            ImuSi {
                acc_m_s2: Vector3::new(v[1], v[2], v[3]) * G_M_S2,
                gyr_rad_s: Vector3::new(v[4], v[5], v[6]).map(f64::to_radians),
                mag_ut: None,
            }
        })
        .collect()
}

/// The original's gait sequences for a trial: (start s, end s, contacts s).
fn original(cohort: &str, id: &str, test: &str, trial: &str) -> Vec<(f64, f64, Vec<f64>)> {
    sequences("icd_ionescu", "SD", cohort, id, test, trial)
        .iter()
        .map(|s| {
            let ic = s["IC"].as_array().unwrap();
            (
                s["Start"].as_f64().unwrap(),
                s["End"].as_f64().unwrap(),
                ic.iter().map(|t| t.as_f64().unwrap()).collect(),
            )
        })
        .collect()
}

/// The walking that Mobilise-D's own gait-sequence detector (adaptive Ionescu) found in a
/// trial: (start s, end s).
fn detector(cohort: &str, id: &str, test: &str, trial: &str) -> Vec<(f64, f64)> {
    sequences("gsd_adaptive_ionescu", "GSD", cohort, id, test, trial)
        .iter()
        .map(|s| (s["Start"].as_f64().unwrap(), s["End"].as_f64().unwrap()))
        .collect()
}

/// One algorithm's list of sequences (`SD` or `GSD` entries) for a trial.
fn sequences(
    algorithm: &str,
    key: &str,
    cohort: &str,
    id: &str,
    test: &str,
    trial: &str,
) -> Vec<Value> {
    let dir = gait_dir().join(format!("original_results/{algorithm}/lab/{cohort}/{id}"));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap_or_else(|| panic!("no results in {}", dir.display()));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let root = json.as_object().unwrap().values().next().unwrap();
    let sd = &root["TimeMeasure1"][test][trial]["SU"]["LowerBack"][key];
    match sd {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![sd.clone()],
        _ => Vec::new(),
    }
}

const TRIALS: [(&str, &str, &str, &str); 9] = [
    ("HA", "001", "Test5", "Trial1"),
    ("HA", "001", "Test5", "Trial2"),
    ("HA", "001", "Test11", "Trial1"),
    ("HA", "002", "Test5", "Trial1"),
    ("HA", "002", "Test5", "Trial2"),
    ("HA", "002", "Test11", "Trial1"),
    ("MS", "001", "Test5", "Trial1"),
    ("MS", "001", "Test5", "Trial2"),
    ("MS", "001", "Test11", "Trial1"),
];

/// Contacts found in each of the original's gait sequences, as the original was run: on that
/// stretch of the recording only, along the sensor's vertical axis (x here).
///
/// Issue 5 asks for 90 % of the original's contacts within 50 ms of ours and every sequence's
/// cadence within 5 %. Asserted, over all 19 sequences (straight walks and the slow, turning
/// walks of the simulated daily activities): at least 90 % of the contacts, every sequence's
/// cadence, and all 28 contacts of the straight walks (Test5). With the reference's processing
/// (`src/measures/gait.rs`) all 215 agree, and 214 are reported at the very same time; along
/// the world's vertical (gravity-aligned by the orientation filter) instead of the sensor's
/// axis, fewer agree (`cargo test --test it gait -- --nocapture` prints both).
#[test]
fn initial_contacts_agree_with_the_reference_implementation() {
    let (mut matched, mut total, mut ours_total, mut same_sample) = (0, 0, 0, 0);
    // The same along the world's vertical instead (printed only).
    let mut matched_world = 0;
    let mut cadence_errors = Vec::new();
    // Straight walks: (contacts agreeing, contacts, worst cadence error).
    let mut straight = (0, 0, 0.0f64);
    for (cohort, id, test, trial) in TRIALS {
        let path = gait_dir().join(format!(
            "data_csv/{cohort}/{id}/TimeMeasure1_{test}_{trial}.csv"
        ));
        let samples = read_trial(&path);
        let vertical = vertical_acceleration(&samples);
        let world = world_vertical_acceleration(&samples, RATE_HZ);
        for (start_s, end_s, original) in original(cohort, id, test, trial) {
            // The stretch the original analysed: its samples round(rate × start) to
            // round(rate × end), counted from one.
            let first = ((start_s * RATE_HZ).round() as usize).saturating_sub(1);
            let last = ((end_s * RATE_HZ).round() as usize).min(vertical.len());
            let ours: Vec<f64> = initial_contacts(&vertical[first..last], RATE_HZ)
                .iter()
                .map(|c| first as f64 / RATE_HZ + c.t_s)
                .collect();
            let agreeing = original
                .iter()
                .filter(|t| ours.iter().any(|o| (o - *t).abs() <= 0.05))
                .count();
            same_sample += original
                .iter()
                .filter(|t| ours.iter().any(|o| (o - *t).abs() < 0.001))
                .count();
            let ours_world: Vec<f64> = initial_contacts(&world[first..last], RATE_HZ)
                .iter()
                .map(|c| first as f64 / RATE_HZ + c.t_s)
                .collect();
            matched_world += original
                .iter()
                .filter(|t| ours_world.iter().any(|o| (o - *t).abs() <= 0.05))
                .count();
            let cadence = (
                cadence_steps_per_min(&original).unwrap(),
                cadence_steps_per_min(&ours).unwrap_or(0.0),
            );
            let cadence_error = (cadence.1 / cadence.0 - 1.0).abs();
            println!(
                "{cohort}/{id} {test} {trial} {start_s:>6.2}–{end_s:>6.2} s: {agreeing:>2}/{:>2} \
                 contacts within 50 ms ({} ours); cadence {:.1} vs {:.1} steps/min ({:+.1} %)",
                original.len(),
                ours.len(),
                cadence.1,
                cadence.0,
                (cadence.1 / cadence.0 - 1.0) * 100.0
            );
            cadence_errors.push(cadence_error);
            if test == "Test5" {
                straight.0 += agreeing;
                straight.1 += original.len();
                straight.2 = straight.2.max(cadence_error);
            }
            matched += agreeing;
            total += original.len();
            ours_total += ours.len();
        }
    }
    let share = matched as f64 / total as f64;
    let cadence_ok = cadence_errors.iter().filter(|e| **e <= 0.05).count();
    println!(
        "{matched}/{total} contacts ({:.1} %) within 50 ms ({same_sample} at the same time); \
         {ours_total} found; cadence within 5 % in {cadence_ok} of {} sequences",
        share * 100.0,
        cadence_errors.len()
    );
    println!("along the world's vertical instead: {matched_world}/{total} within 50 ms");
    assert_eq!(total, 215, "the reference results changed");
    assert_eq!(straight.1, 28, "the reference results changed");
    assert!(
        share >= 0.9,
        "only {:.1} % of the original's contacts agree",
        share * 100.0
    );
    assert_eq!(
        cadence_ok,
        cadence_errors.len(),
        "cadence off by more than 5 %: {cadence_errors:.3?}"
    );
    assert_eq!(
        straight.0, straight.1,
        "straight walks: a contact disagrees"
    );
    assert!(
        straight.2 <= 0.05,
        "straight walks: cadence off by {:.1} %",
        straight.2 * 100.0
    );
}

/// How far outside a reference sequence a heel strike of ours may lie and still belong to it,
/// s: about one step (the references' sequence ends are themselves about a step from their
/// outermost contacts).
const SEQUENCE_MARGIN_S: f64 = 0.75;

/// Walking bouts over whole recordings (standing, sitting and turning included), against the
/// original's gait sequences and Mobilise-D's own gait-sequence detector (`Gait::Everyday`).
///
/// Asserted: (1) no bout where neither the original nor the detector found walking: every heel
/// strike of every bout lies within one of their sequences (± [`SEQUENCE_MARGIN_S`]); the long
/// standing and sitting stretches of the daily-activity trials (Test11) give none. (2) Over all
/// the original's sequences, at least 90 % of its contacts within 50 ms of a bout's heel strike;
/// in the straight walks (Test5) all of them, and each sequence's cadence (from the bout's heel
/// strikes within it) within 5 %.
///
/// Not asserted, printed (`cargo test --test it walking_bouts -- --nocapture`): the cadence of
/// the other sequences, and HA/002's two straight walks, which have no sequence in the
/// original's output, yet hold 5–6 strong, regular steps that the detector also calls walking,
/// and the bouts find them. The contacts the bouts miss are at the ends of walks (the bouts
/// leave out a walk's first heel strike and last two, as the original's sequences do on the
/// straight walks, but the original's sequences in the daily activities start and end anywhere)
/// and in the original's slow, turning stretches between two walks.
#[test]
fn walking_bouts_are_found_only_where_someone_walked() {
    let mut outside = Vec::new();
    let (mut straight_matched, mut straight_total, mut worst_cadence) = (0, 0, 0.0f64);
    let (mut matched, mut total, mut sequences, mut cadence_ok) = (0, 0, 0, 0);
    for (cohort, id, test, trial) in TRIALS {
        let path = gait_dir().join(format!(
            "data_csv/{cohort}/{id}/TimeMeasure1_{test}_{trial}.csv"
        ));
        let bouts = walking_bouts_of(&read_trial(&path), RATE_HZ, Gait::Everyday);
        let original = original(cohort, id, test, trial);
        let detector = detector(cohort, id, test, trial);
        let spans: Vec<(f64, f64)> = bouts.iter().map(|b| (b.start_s(), b.end_s())).collect();
        println!(
            "{cohort}/{id} {test} {trial}: bouts {spans:.2?}; original {:?}; detector {detector:?}",
            original.iter().map(|o| (o.0, o.1)).collect::<Vec<_>>()
        );
        let ours: Vec<f64> = bouts
            .iter()
            .flat_map(|b| b.contacts.iter().map(|c| c.t_s))
            .collect();
        let within = |t: f64, (start, end): (f64, f64)| {
            t >= start - SEQUENCE_MARGIN_S && t <= end + SEQUENCE_MARGIN_S
        };
        for &t in &ours {
            let someone_walked = original.iter().any(|o| within(t, (o.0, o.1)))
                || detector.iter().any(|d| within(t, *d));
            if !someone_walked {
                outside.push(format!("{cohort}/{id} {test} {trial} at {t:.2} s"));
            }
        }
        if original.is_empty() && !ours.is_empty() {
            println!(
                "  the original found no walking here; the bouts hold {} heel strikes",
                ours.len()
            );
        }
        for (start_s, end_s, contacts) in &original {
            let agreeing = contacts
                .iter()
                .filter(|t| ours.iter().any(|o| (o - *t).abs() <= 0.05))
                .count();
            let in_sequence: Vec<f64> = ours
                .iter()
                .copied()
                .filter(|t| (start_s - 0.05..=end_s + 0.05).contains(t))
                .collect();
            let theirs = cadence_steps_per_min(contacts).unwrap();
            let cadence_error =
                cadence_steps_per_min(&in_sequence).map_or(1.0, |c| (c / theirs - 1.0).abs());
            println!(
                "  {start_s:>6.2}–{end_s:>6.2} s: {agreeing:>2}/{:>2} contacts within 50 ms; cadence \
                 off by {:.1} %",
                contacts.len(),
                cadence_error * 100.0
            );
            matched += agreeing;
            total += contacts.len();
            sequences += 1;
            cadence_ok += usize::from(cadence_error <= 0.05);
            if test == "Test5" {
                straight_matched += agreeing;
                straight_total += contacts.len();
                worst_cadence = worst_cadence.max(cadence_error);
            }
        }
    }
    println!(
        "all sequences: {matched}/{total} contacts ({:.1} %) within 50 ms, cadence within 5 % in \
         {cadence_ok} of {sequences}; straight walks: {straight_matched}/{straight_total}, worst \
         cadence error {:.1} %",
        matched as f64 / total as f64 * 100.0,
        worst_cadence * 100.0
    );
    assert!(
        outside.is_empty(),
        "walking found where neither the original nor the detector found any: {outside:?}"
    );
    assert_eq!(straight_total, 28, "the reference results changed");
    assert!(
        matched as f64 >= 0.9 * total as f64,
        "only {matched}/{total} of the original's contacts agree"
    );
    assert_eq!(
        straight_matched, straight_total,
        "straight walks: a contact disagrees"
    );
    assert!(
        worst_cadence <= 0.05,
        "straight walks: cadence off by {:.1} %",
        worst_cadence * 100.0
    );
}
