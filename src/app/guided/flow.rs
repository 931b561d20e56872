//! What the guided session shows when, with no terminal in it: [`SessionFlow`], moved on by
//! keys, the clock and the end of each drill; drawn by `screen.rs`, run by `mod.rs`.
//!
//! check-in (pain, then feeling) → for each of today's drills: instructions → countdown →
//! drill → rest (not after the last) → result → … → summary. The pain key goes from any step
//! straight to the summary, remembering where it was pressed; `q` ends the session (during a
//! drill, after that drill's result). A pain of `guided::REST_FROM_NRS` or more at the check-in goes
//! to the summary with rest advised, before any drill.

use crate::app::view::Key;
use crate::drill::{DrillKind, EndReason};
use crate::guided::{todays_drills, Allowance, Feeling, PlannedDrill, MAX_NRS};

/// The get-ready countdown before each drill, µs.
pub const COUNTDOWN_US: u64 = 5_000_000;

/// A step of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The check-in: pain now, 0–10, typed as digits, Enter to confirm.
    Pain,
    /// The check-in: better, same or worse than last time.
    Feeling,
    /// Drill `i`: what it trains and why, how to do it, its level; Enter starts.
    Instructions(usize),
    /// Drill `i` starts when the clock reaches `until_us`.
    Countdown {
        /// Which drill.
        drill: usize,
        /// When it starts, µs.
        until_us: u64,
    },
    /// Drill `i` runs (the live view).
    Drill(usize),
    /// A rest after drill `i` until `until_us` (Enter skips).
    Rest {
        /// The drill just done.
        drill: usize,
        /// When the rest is over, µs.
        until_us: u64,
    },
    /// Drill `i`'s result; Enter goes on.
    Result(usize),
    /// The closing summary.
    Summary,
}

impl Step {
    /// Its name in the session's summary file.
    pub fn name(self) -> &'static str {
        match self {
            Step::Pain | Step::Feeling => "check-in",
            Step::Instructions(_) => "instructions",
            Step::Countdown { .. } => "countdown",
            Step::Drill(_) => "drill",
            Step::Rest { .. } => "rest",
            Step::Result(_) => "result",
            Step::Summary => "summary",
        }
    }

    /// The drill the step is about, if any.
    pub fn drill(self) -> Option<usize> {
        match self {
            Step::Instructions(i)
            | Step::Countdown { drill: i, .. }
            | Step::Drill(i)
            | Step::Rest { drill: i, .. }
            | Step::Result(i) => Some(i),
            Step::Pain | Step::Feeling | Step::Summary => None,
        }
    }
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionEnd {
    /// Every drill of today's plan was done.
    Completed,
    /// The pain key was pressed.
    PainStop,
    /// The user ended it (`q`, or a signal).
    Stopped,
    /// The check-in's pain was too high: rest advised, no drill.
    RestAdvised,
}

/// Where the pain key was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PainPress {
    /// The step it was pressed on.
    pub step: Step,
}

/// The guided session's state.
#[derive(Debug, Clone)]
pub struct SessionFlow {
    step: Step,
    /// Today's candidate drills with the plan's level for each, easiest first.
    candidates: Vec<(DrillKind, u8)>,
    planned: Vec<PlannedDrill>,
    typed: String,
    pain_nrs: Option<u8>,
    feeling: Option<Feeling>,
    ends: Vec<EndReason>,
    pain: Option<PainPress>,
    stop_asked: bool,
    countdown_us: u64,
    rest_us: u64,
    attended: bool,
}

impl SessionFlow {
    /// A session over `candidates` (drill, plan's level), easiest first, with `rest_us`
    /// between drills and `countdown_us` before each; at the check-in.
    pub fn new(candidates: Vec<(DrillKind, u8)>, countdown_us: u64, rest_us: u64) -> Self {
        SessionFlow {
            step: Step::Pain,
            candidates,
            planned: Vec::new(),
            typed: String::new(),
            pain_nrs: None,
            feeling: None,
            ends: Vec::new(),
            pain: None,
            stop_asked: false,
            countdown_us,
            rest_us,
            attended: true,
        }
    }

    /// The same, run without a person at the keys: the check-in given, every step that waits
    /// for a key goes on by itself.
    pub fn unattended(
        candidates: Vec<(DrillKind, u8)>,
        countdown_us: u64,
        rest_us: u64,
        pain_nrs: u8,
        feeling: Feeling,
        now_us: u64,
    ) -> Self {
        let mut flow = SessionFlow::new(candidates, countdown_us, rest_us);
        flow.attended = false;
        flow.check_in(pain_nrs, feeling, now_us);
        flow
    }

    /// The check-in given at once (on the command line).
    pub fn check_in(&mut self, pain_nrs: u8, feeling: Feeling, now_us: u64) {
        self.pain_nrs = Some(pain_nrs.min(MAX_NRS));
        self.set_feeling(feeling, now_us);
    }

    /// The step now.
    pub fn step(&self) -> Step {
        self.step
    }

    /// Today's drills (known once the pain is in).
    pub fn planned(&self) -> &[PlannedDrill] {
        &self.planned
    }

    /// The pain typed so far at the check-in.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// The check-in's pain, once given.
    pub fn pain_nrs(&self) -> Option<u8> {
        self.pain_nrs
    }

    /// The check-in's feeling, once given.
    pub fn feeling(&self) -> Option<Feeling> {
        self.feeling
    }

    /// What the check-in allows, once the pain is in.
    pub fn allowance(&self) -> Option<Allowance> {
        self.pain_nrs.map(Allowance::for_pain)
    }

    /// Where the pain key was pressed, if it was.
    pub fn pain_press(&self) -> Option<PainPress> {
        self.pain
    }

    /// How the drills done so far ended.
    pub fn ends(&self) -> &[EndReason] {
        &self.ends
    }

    /// How the session ended (in the summary), or how it stands.
    pub fn end(&self) -> SessionEnd {
        if self.pain.is_some() {
            SessionEnd::PainStop
        } else if self.allowance() == Some(Allowance::Rest) {
            SessionEnd::RestAdvised
        } else if self.ends.len() == self.planned.len() && !self.planned.is_empty() {
            SessionEnd::Completed
        } else {
            SessionEnd::Stopped
        }
    }

    /// A key pressed at `now_us`.
    pub fn key(&mut self, key: Key, now_us: u64) {
        match (key, self.step) {
            (_, Step::Summary) => {}
            (Key::Pain, step) => {
                self.pain = Some(PainPress { step });
                self.step = Step::Summary;
            }
            // During a drill the live loop has the keys.
            (_, Step::Drill(_)) => {}
            (Key::Stop, _) => self.step = Step::Summary,
            (Key::Digit(d), Step::Pain) => {
                let typed = format!("{}{d}", self.typed);
                if typed.parse::<u8>().is_ok_and(|p| p <= MAX_NRS) {
                    self.typed = typed.trim_start_matches('0').to_string();
                    if self.typed.is_empty() {
                        self.typed.push('0');
                    }
                }
            }
            (Key::Back, Step::Pain) => {
                self.typed.pop();
            }
            (Key::Enter, Step::Pain) => {
                if let Ok(pain) = self.typed.parse::<u8>() {
                    self.pain_nrs = Some(pain);
                    self.step = Step::Feeling;
                }
            }
            (Key::Back, Step::Feeling) => self.step = Step::Pain,
            (Key::Letter(c), Step::Feeling) => {
                let feeling = match c {
                    'b' => Feeling::Better,
                    's' => Feeling::Same,
                    'w' => Feeling::Worse,
                    _ => return,
                };
                self.set_feeling(feeling, now_us);
            }
            (Key::Enter, Step::Instructions(i)) => self.count_down(i, now_us),
            (Key::Enter, Step::Rest { drill, .. }) => self.step = Step::Result(drill),
            (Key::Enter, Step::Result(i)) => self.after_result(i, now_us),
            _ => {}
        }
    }

    /// The clock reads `now_us`: countdowns and rests end; unattended, steps that wait for a
    /// key go on.
    pub fn tick(&mut self, now_us: u64) {
        match self.step {
            Step::Countdown { drill, until_us } if now_us >= until_us => {
                self.step = Step::Drill(drill)
            }
            Step::Rest { drill, until_us } if now_us >= until_us => self.step = Step::Result(drill),
            Step::Instructions(i) if !self.attended => self.count_down(i, now_us),
            Step::Result(i) if !self.attended => self.after_result(i, now_us),
            _ => {}
        }
    }

    /// The drill under way ended with `end` at `now_us`.
    pub fn drill_ended(&mut self, end: EndReason, now_us: u64) {
        let Step::Drill(i) = self.step else {
            return;
        };
        self.ends.push(end);
        if end == EndReason::PainStop {
            self.pain = Some(PainPress { step: self.step });
            self.step = Step::Summary;
        } else if end == EndReason::UserStop {
            // The stop key ends the session: the result, then the summary.
            self.stop_asked = true;
            self.step = Step::Result(i);
        } else if i + 1 < self.planned.len() && !self.stop_asked && self.rest_us > 0 {
            self.step = Step::Rest {
                drill: i,
                until_us: now_us + self.rest_us,
            };
        } else {
            self.step = Step::Result(i);
        }
    }

    fn set_feeling(&mut self, feeling: Feeling, now_us: u64) {
        self.feeling = Some(feeling);
        let allowance = self.allowance().unwrap_or(Allowance::Rest);
        let levels: Vec<(DrillKind, u8)> = self.candidates.clone();
        let drills: Vec<DrillKind> = levels.iter().map(|(d, _)| *d).collect();
        let level_of = |drill: DrillKind| {
            levels
                .iter()
                .find(|(d, _)| *d == drill)
                .map_or(1, |(_, level)| *level)
        };
        self.planned = todays_drills(&drills, allowance, level_of);
        self.step = if self.planned.is_empty() {
            Step::Summary
        } else {
            Step::Instructions(0)
        };
        self.tick(now_us);
    }

    fn count_down(&mut self, i: usize, now_us: u64) {
        self.step = if self.countdown_us == 0 {
            Step::Drill(i)
        } else {
            Step::Countdown {
                drill: i,
                until_us: now_us + self.countdown_us,
            }
        };
    }

    fn after_result(&mut self, i: usize, now_us: u64) {
        self.step = if self.stop_asked || i + 1 >= self.planned.len() {
            Step::Summary
        } else {
            Step::Instructions(i + 1)
        };
        self.tick(now_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn flow() -> SessionFlow {
        SessionFlow::new(
            vec![
                (DrillKind::NeutralSpine, 2),
                (DrillKind::QuietStance, 1),
                (DrillKind::TandemWalk, 3),
            ],
            5 * S,
            30 * S,
        )
    }

    fn check_in(flow: &mut SessionFlow, pain: &[u8], feeling: char) {
        for &d in pain {
            flow.key(Key::Digit(d), 0);
        }
        flow.key(Key::Enter, 0);
        flow.key(Key::Letter(feeling), 0);
    }

    #[test]
    fn a_whole_session_goes_through_every_step_in_order() {
        let mut f = flow();
        assert_eq!(f.step(), Step::Pain);
        // Enter with nothing typed waits for a number.
        f.key(Key::Enter, 0);
        assert_eq!(f.step(), Step::Pain);
        check_in(&mut f, &[2], 's');
        assert_eq!((f.pain_nrs(), f.feeling()), (Some(2), Some(Feeling::Same)));
        assert_eq!(f.planned().len(), 3);
        assert_eq!(f.planned()[2].level, 3, "the plan's level");
        for i in 0..3 {
            assert_eq!(f.step(), Step::Instructions(i));
            // Nothing starts by itself while a person is there.
            f.tick(1_000 * S);
            assert_eq!(f.step(), Step::Instructions(i));
            f.key(Key::Enter, 10 * S);
            f.tick(14 * S);
            assert!(matches!(f.step(), Step::Countdown { drill, .. } if drill == i));
            f.tick(15 * S);
            assert_eq!(f.step(), Step::Drill(i));
            f.drill_ended(EndReason::Completed, 50 * S);
            if i < 2 {
                assert!(matches!(
                    f.step(),
                    Step::Rest { drill, until_us } if drill == i && until_us == 80 * S
                ));
                f.tick(79 * S);
                assert!(matches!(f.step(), Step::Rest { .. }));
                f.tick(80 * S);
            }
            assert_eq!(f.step(), Step::Result(i));
            f.key(Key::Enter, 81 * S);
        }
        assert_eq!(f.step(), Step::Summary);
        assert_eq!(f.end(), SessionEnd::Completed);
        assert_eq!(f.ends().len(), 3);
    }

    #[test]
    fn the_pain_key_ends_the_session_from_any_step_and_says_where() {
        let mut at_check_in = flow();
        at_check_in.key(Key::Digit(3), 0);
        at_check_in.key(Key::Pain, 0);
        assert_eq!(at_check_in.step(), Step::Summary);
        assert_eq!(at_check_in.pain_press().map(|p| p.step), Some(Step::Pain));

        let mut f = flow();
        check_in(&mut f, &[1], 'b');
        f.key(Key::Enter, 0);
        let countdown = f.step();
        f.key(Key::Pain, S);
        assert_eq!(f.step(), Step::Summary);
        assert_eq!(f.pain_press().map(|p| p.step), Some(countdown));
        assert_eq!(f.end(), SessionEnd::PainStop);
        // Later keys change nothing.
        f.key(Key::Enter, 2 * S);
        assert_eq!(f.step(), Step::Summary);

        // During a drill, the drill's own end says so.
        let mut f = flow();
        check_in(&mut f, &[1], 'b');
        f.key(Key::Enter, 0);
        f.tick(5 * S);
        f.drill_ended(EndReason::PainStop, 9 * S);
        assert_eq!(f.step(), Step::Summary);
        assert_eq!(f.pain_press().map(|p| p.step), Some(Step::Drill(0)));
        assert_eq!(f.ends(), &[EndReason::PainStop]);

        // And on a rest.
        let mut f = flow();
        check_in(&mut f, &[1], 'b');
        f.key(Key::Enter, 0);
        f.tick(5 * S);
        f.drill_ended(EndReason::Completed, 9 * S);
        f.key(Key::Pain, 10 * S);
        assert!(matches!(
            f.pain_press().map(|p| p.step),
            Some(Step::Rest { drill: 0, .. })
        ));
    }

    #[test]
    fn high_pain_refuses_and_moderate_pain_eases_the_plan() {
        let mut f = flow();
        check_in(&mut f, &[8], 'w');
        assert_eq!(f.step(), Step::Summary);
        assert!(f.planned().is_empty());
        assert_eq!(f.end(), SessionEnd::RestAdvised);

        let mut f = flow();
        check_in(&mut f, &[5], 'w');
        assert_eq!(f.step(), Step::Instructions(0));
        let levels: Vec<(DrillKind, u8)> = f.planned().iter().map(|p| (p.drill, p.level)).collect();
        assert_eq!(
            levels,
            vec![(DrillKind::NeutralSpine, 1), (DrillKind::QuietStance, 1)]
        );
    }

    #[test]
    fn pain_is_typed_as_a_number_from_0_to_10() {
        let mut f = flow();
        for (key, typed) in [
            (Key::Digit(1), "1"),
            (Key::Digit(1), "1"), // 11 is off the scale
            (Key::Digit(0), "10"),
            (Key::Digit(0), "10"),
            (Key::Back, "1"),
            (Key::Back, ""),
            (Key::Digit(0), "0"),
            (Key::Digit(0), "0"),
            (Key::Digit(7), "7"),
        ] {
            f.key(key, 0);
            assert_eq!(f.typed(), typed);
        }
        // Unknown feelings are ignored; Backspace goes back to the pain.
        f.key(Key::Enter, 0);
        f.key(Key::Letter('x'), 0);
        assert_eq!(f.step(), Step::Feeling);
        f.key(Key::Back, 0);
        assert_eq!(f.step(), Step::Pain);
    }

    #[test]
    fn stop_ends_the_session_after_the_drill_and_rest_can_be_skipped() {
        let mut f = flow();
        check_in(&mut f, &[0], 's');
        f.key(Key::Enter, 0);
        f.tick(5 * S);
        f.drill_ended(EndReason::Completed, 6 * S);
        f.key(Key::Enter, 7 * S); // skip the rest
        assert_eq!(f.step(), Step::Result(0));
        f.key(Key::Enter, 8 * S);
        f.key(Key::Enter, 8 * S);
        f.tick(13 * S);
        f.drill_ended(EndReason::UserStop, 20 * S);
        assert_eq!(f.step(), Step::Result(1), "the stopped drill's result");
        f.key(Key::Enter, 21 * S);
        assert_eq!(f.step(), Step::Summary);
        assert_eq!(f.end(), SessionEnd::Stopped);
        // q on an instructions screen ends at once.
        let mut f = flow();
        check_in(&mut f, &[0], 's');
        f.key(Key::Stop, 0);
        assert_eq!(f.step(), Step::Summary);
    }

    #[test]
    fn unattended_it_runs_through_without_keys() {
        let candidates = vec![(DrillKind::QuietStance, 1), (DrillKind::WeightShift, 2)];
        let mut f = SessionFlow::unattended(candidates.clone(), 0, 0, 2, Feeling::Same, 0);
        assert_eq!(f.step(), Step::Drill(0));
        f.drill_ended(EndReason::Completed, S);
        f.tick(S);
        assert_eq!(f.step(), Step::Drill(1));
        f.drill_ended(EndReason::SteppedOff, 2 * S);
        f.tick(2 * S);
        assert_eq!(f.step(), Step::Summary);
        assert_eq!(f.end(), SessionEnd::Completed);
        let refused = SessionFlow::unattended(candidates, 0, 0, 8, Feeling::Worse, 0);
        assert_eq!(refused.step(), Step::Summary);
        assert_eq!(refused.end(), SessionEnd::RestAdvised);
    }
}
