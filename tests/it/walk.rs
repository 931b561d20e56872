//! The heel-to-toe walk end to end on the simulated walker (wearable on the lower back): the
//! scripted steps, missteps and stops recovered exactly; heel strikes on time; a better walker
//! scores better; the command line's result replays to the bit.

use proprio::drill::{DrillEvent, EndReason, MisstepReason, TandemWalkConfig, TandemWalkMetrics};
use proprio::recording::Record;
use proprio::session::{DrillSetup, Session, SessionMeta, SessionReport};
use proprio::sim::{MisstepKind, SimConfig, SimDevice, WalkScript, WalkWorld};

use crate::cmd::{json, proprio};
use crate::common::{run_session, sim_meta, streaming};

/// Heel strikes must be found this close to the scripted contacts, s. The simulated loading
/// response peaks 0.12 s after the contact; the detector reports contacts as Mobilise-D's
/// reference does, 72.5 ms after the instant where the acceleration rises fastest, on a 40 Hz
/// grid (±12.5 ms): on these walks 28 ms late on average, 73 ms at worst (`step_detection`
/// mccamley-ionescu-2; before it, reported 50 ms on at 100 Hz: 5 ms and 43 ms).
const CONTACT_TOLERANCE_S: f64 = 0.08;

/// A simulated walker of `skill` and the walk the level asks for.
fn walker(seed: u64, skill: f64, level: u8) -> (SimConfig, TandemWalkConfig) {
    let config = TandemWalkConfig::for_level(level).unwrap();
    let mut sim = SimConfig::new(seed);
    sim.skill = skill;
    sim.device = SimDevice::LumbarWearable;
    sim.walk.steps = config.steps;
    (sim, config)
}

/// The walk's session header.
fn walk_meta(seed: u64, skill: f64, level: u8) -> SessionMeta {
    let (sim, config) = walker(seed, skill, level);
    sim_meta(sim, DrillSetup::TandemWalk(config))
}

/// Runs the walk in process, as the app does: the report, the records fed, the walk's script.
fn run_walk(seed: u64, skill: f64, level: u8) -> (SessionReport, Vec<Record>, WalkScript) {
    let (sim, _) = walker(seed, skill, level);
    let meta = walk_meta(seed, skill, level);
    let (report, records, _) = run_session(&mut streaming(sim), Session::new(meta));
    let script = WalkWorld::for_config(&sim).script().clone();
    (report, records, script)
}

fn walk(report: &SessionReport) -> TandemWalkMetrics {
    *report.metrics.tandem_walk().expect("tandem-walk metrics")
}

/// Heel strikes found, s since the stream's first sample.
fn strikes(report: &SessionReport) -> Vec<f64> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            DrillEvent::Step { t_s } => Some(report.start_s + t_s),
            _ => None,
        })
        .collect()
}

#[test]
fn steps_missteps_and_stops_match_the_simulated_walk() {
    let (mut walks, mut worst_s, mut sum_s, mut contacts) = (0, 0.0f64, 0.0, 0);
    let mut troubles = (0, 0, 0);
    for seed in 1..=6 {
        for skill in [0.1, 0.5, 0.9] {
            let (report, _, script) = run_walk(seed, skill, 2);
            let m = walk(&report);
            let case = format!(
                "seed {seed} skill {skill}: {m:?}\nscript {:#?}\nevents {:?}",
                script.steps, report.events
            );
            assert_eq!(report.end, EndReason::Completed, "{case}");
            assert_eq!(m.steps as usize, script.steps.len(), "{case}");
            let lateral = script
                .steps
                .iter()
                .filter(|s| s.misstep == Some(MisstepKind::LateralExcursion))
                .count();
            let slow = script
                .steps
                .iter()
                .filter(|s| s.misstep == Some(MisstepKind::Hesitation))
                .count();
            assert_eq!(m.lateral_excursions as usize, lateral, "{case}");
            assert_eq!(m.slow_steps as usize, slow, "{case}");
            assert_eq!(m.missteps as usize, script.missteps(), "{case}");
            assert_eq!(m.stops as usize, script.stops(), "{case}");
            assert_eq!(m.correct_steps as usize, 10 - script.missteps(), "{case}");
            // Each misstep event names the step the script says went wrong.
            for event in &report.events {
                if let DrillEvent::Misstep { t_s, reason } = event {
                    let t = report.start_s + t_s;
                    let step = script
                        .steps
                        .iter()
                        .min_by(|a, b| (a.contact_s - t).abs().total_cmp(&(b.contact_s - t).abs()))
                        .unwrap();
                    let expected = match reason {
                        MisstepReason::LateralExcursion => MisstepKind::LateralExcursion,
                        MisstepReason::SlowStep => MisstepKind::Hesitation,
                    };
                    assert_eq!(step.misstep, Some(expected), "{case} at {t:.2} s");
                }
            }
            for (found, truth) in strikes(&report).iter().zip(script.contacts_s()) {
                let error = found - truth;
                assert!(
                    error.abs() <= CONTACT_TOLERANCE_S,
                    "{case}: {found} vs {truth}"
                );
                worst_s = worst_s.max(error.abs());
                sum_s += error;
                contacts += 1;
            }
            walks += 1;
            troubles.0 += lateral;
            troubles.1 += slow;
            troubles.2 += script.stops();
        }
    }
    // The scripts must have exercised every kind of trouble.
    assert!(
        troubles.0 > 3 && troubles.1 > 3 && troubles.2 > 3,
        "{troubles:?}"
    );
    eprintln!(
        "{walks} walks, {contacts} heel strikes: mean error {:+.0} ms, worst {:.0} ms; \
         {} lateral excursions, {} hesitations, {} stops, all counted",
        1e3 * sum_s / contacts as f64,
        1e3 * worst_s,
        troubles.0,
        troubles.1,
        troubles.2
    );
}

#[test]
fn a_steadier_walker_scores_better() {
    let mean_score = |skill: f64| {
        (11..=16)
            .map(|seed| run_walk(seed, skill, 2).0.score)
            .sum::<f64>()
            / 6.0
    };
    let scores = [mean_score(0.1), mean_score(0.5), mean_score(0.9)];
    eprintln!("mean tandem-walk scores by skill 0.1 / 0.5 / 0.9: {scores:.0?}");
    assert!(scores[0] < scores[1] && scores[1] < scores[2], "{scores:?}");
}

#[test]
fn the_walk_replays_identically_and_stops_in_pain() {
    let (report, records, _) = run_walk(4, 0.5, 1);
    assert_eq!(walk(&report).target_steps, 5);
    let meta = walk_meta(4, 0.5, 1);
    let mut replay = Session::new(meta.clone());
    let mut events = Vec::new();
    for record in &records {
        replay.handle(record, &mut events);
    }
    assert_eq!(replay.finish(), report);

    // A pain stop halfway through ends the walk there, with the steps taken so far.
    let mut stopped = Session::new(meta);
    for record in &records[..records.len() / 2] {
        stopped.handle(record, &mut events);
    }
    stopped.handle(
        &Record::Control {
            t_host_us: 0,
            control: proprio::recording::Control::PainStop,
        },
        &mut events,
    );
    let stopped = stopped.finish();
    assert_eq!(stopped.end, EndReason::PainStop);
    assert!(walk(&stopped).steps < walk(&report).steps, "{stopped:?}");
}

#[test]
fn the_command_line_walk_replays_to_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["drill", "tandem-walk", "--seed", "5", "--level", "2"];
    let live = json(&proprio(
        dir.path(),
        &[&args[..], &["--no-live", "--json"]].concat(),
    ));
    assert_eq!(live["drill"], "tandem-walk");
    assert_eq!(live["end"], "completed");
    assert_eq!(live["metrics"]["steps"], 10);
    let recording = live["recording"].as_str().unwrap();
    let replayed = json(&proprio(dir.path(), &["replay", recording, "--json"]));
    assert_eq!(live, replayed);
}
