//! The person on the balance board doing the weight-shift drill: they watch the screen, lean
//! to each target as it appears and come back to the middle.
//!
//! **The screen.** The person sees what the drill shows: the simulated board runs the drill
//! itself ([`WeightShift`]) on the samples it sends, as the host would see them with perfect
//! load cells (the forces it converted, the board empty below [`MIN_LOAD_N`], taring for the
//! first [`TARE_S`]). So the person finds the same centre, the same targets in the same order
//! (the level's schedule) at the same moments as the drill on the host, whatever the board's
//! errors, and a target appears only once the previous one has ended, as on the host.
//!
//! **The movement.** When a target appears, the person reacts after a reaction time, then
//! moves their COP towards it along a minimum-jerk profile (`10τ³ − 15τ⁴ + 6τ⁵`) at a
//! skill-dependent speed, with a sideways bow (the path's curvature) and an overshoot that
//! settles back over 0.4 s, and stays there. The voluntary shift adds to the standing person's
//! postural sway ([`BalanceWorld`](super::BalanceWorld)'s pendulums), which goes on all the
//! while. On the way back to the middle the same, without misses. Lower skill: slower
//! reactions and movements, more curvature and overshoot, more misses.
//!
//! **Misses** (about 27 % of targets at skill 0.1, 10 % at 0.5, 2 % at 0.9): the person either
//! **falls short**, stopping 35–70 % of the way and at least [`MISS_MARGIN_MM`] outside the
//! target's radius, or, where the target is too close for that, **freezes** and does not move
//! before its time runs out. A beginner's sway can also break holds on small targets: that is
//! part of the truth too.
//!
//! **The truth** ([`ShiftTargetTruth`]) of each target: what the person meant to do (the
//! attempt, reaction and movement times), and what their COP did, followed every 1 ms
//! physics step: when it first came within the target's radius, whether it was held there
//! for the dwell (leaving only beyond the radius plus the drill's exit margin) within the time
//! allowed, and the path efficiency from the target's appearance to that entry on the COP
//! averaged in 40 ms windows (the drill's 25 Hz series).

use super::rng::SimRng;
use crate::drill::{
    Direction, DrillEvent, ShiftPhase, WeightShift, WeightShiftConfig, EXIT_MARGIN_MM,
};
use crate::pipeline::{BoardGeometry, BoardPhase, CopSample, MIN_LOAD_N, TARE_S};

#[cfg(doc)]
use super::BalanceWorld;

/// A falling-short miss stops at least this far outside the target's radius, mm (several
/// times a beginner's sway, so that sway does not carry the COP in).
pub const MISS_MARGIN_MM: f64 = 20.0;
/// An overshoot settles back over this long, s.
const SETTLE_S: f64 = 0.4;
/// The truth's path windows, s (the drill's 25 Hz series).
const WINDOW_S: f64 = 0.04;
/// The truth's verdict is also worked out with the target's radius (and its exit line) this
/// much smaller and larger, mm…
pub const VERDICT_SLACK_MM: f64 = 0.5;
/// …and the dwell and the time allowed this much stricter and more lenient, s: a verdict
/// that changes within these is one a board sampling every 12.5 ms can read either way.
pub const VERDICT_SLACK_S: f64 = 0.03;

/// What the person meant to do with a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShiftAttempt {
    /// Go to it and hold.
    Reach,
    /// Stop this share of the way there (a miss).
    FallShort {
        /// Share of the way, 0–1.
        share: f64,
    },
    /// Not move before its time is up (a miss).
    Freeze,
}

/// The simulator's truth of one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftTargetTruth {
    /// The target's number, from 1.
    pub number: u8,
    /// Its direction.
    pub direction: Direction,
    /// Where it was `[x, y]`, mm in the board's frame (the centre the screen found, plus the
    /// target's offset).
    pub target_mm: [f64; 2],
    /// When it appeared, s after the board started streaming (true time).
    pub shown_s: f64,
    /// When it appeared on the drill's clock: s of device time since the drill started.
    pub shown_drill_s: f64,
    /// What the person meant to do.
    pub attempt: ShiftAttempt,
    /// Their reaction time, s (none for a freeze).
    pub reaction_s: Option<f64>,
    /// Their movement's duration, s (none for a freeze).
    pub movement_s: Option<f64>,
    /// When the COP first came within the target's radius, s after it appeared.
    pub entered_after_s: Option<f64>,
    /// Whether the COP was held on the target for the dwell within the time allowed (`None`
    /// while undecided: the trial ended first).
    pub reached: Option<bool>,
    /// The same with the rule made stricter and more lenient by [`VERDICT_SLACK_MM`] and
    /// [`VERDICT_SLACK_S`]: where they differ, the verdict could go either way.
    pub reached_bounds: [Option<bool>; 2],
    /// When the hold was complete, s after the target appeared.
    pub held_after_s: Option<f64>,
    /// The path efficiency from the target's appearance to the first entry (through 40 ms
    /// windows).
    pub path_efficiency: Option<f64>,
}

/// A planned shift of the COP (relative to where the person stands), mm.
#[derive(Debug, Clone, Copy)]
struct Movement {
    start_s: f64,
    from: [f64; 2],
    to: [f64; 2],
    duration_s: f64,
    /// Beyond `to`, as a share of the way.
    overshoot: f64,
    /// Sideways at the middle of the way, mm (signed, to the left of the way).
    bow_mm: f64,
}

/// Minimum-jerk progress (0 to 1, at rest at both ends) at `tau` (0 to 1) of the way.
pub(super) fn min_jerk(tau: f64) -> f64 {
    let t = tau.clamp(0.0, 1.0);
    t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)
}

impl ShiftTargetTruth {
    /// True when the strict and lenient rules disagree (or are undecided).
    pub fn is_ambiguous(&self) -> bool {
        self.reached_bounds[0] != self.reached_bounds[1] || self.reached_bounds[0].is_none()
    }
}

/// One version of the hold rule, followed every physics step.
#[derive(Debug, Clone, Copy)]
struct HoldRule {
    radius_mm: f64,
    dwell_s: f64,
    time_allowed_s: f64,
    inside_since_s: Option<f64>,
    /// Reached (and when), or missed, once decided.
    verdict: Option<(bool, f64)>,
}

impl HoldRule {
    fn new(config: &WeightShiftConfig, slack: f64) -> Self {
        HoldRule {
            radius_mm: config.radius_mm + slack * VERDICT_SLACK_MM,
            dwell_s: config.dwell_s - slack * VERDICT_SLACK_S,
            time_allowed_s: config.time_allowed_s + slack * VERDICT_SLACK_S,
            inside_since_s: None,
            verdict: None,
        }
    }

    /// The COP is `distance_mm` from the target, `since_s` after it appeared.
    fn step(&mut self, distance_mm: f64, since_s: f64) {
        if self.verdict.is_some() {
            return;
        }
        self.inside_since_s = match self.inside_since_s {
            Some(since) if distance_mm <= self.radius_mm + EXIT_MARGIN_MM => Some(since),
            _ if distance_mm <= self.radius_mm => Some(since_s),
            _ => None,
        };
        if self
            .inside_since_s
            .is_some_and(|since| since_s - since >= self.dwell_s)
        {
            self.verdict = Some((true, since_s));
        } else if since_s >= self.time_allowed_s {
            self.verdict = Some((false, since_s));
        }
    }
}

impl Movement {
    fn still(at: [f64; 2]) -> Self {
        Movement {
            start_s: 0.0,
            from: at,
            to: at,
            duration_s: 1.0,
            overshoot: 0.0,
            bow_mm: 0.0,
        }
    }

    /// The shift at `t_s`, mm.
    fn at(&self, t_s: f64) -> [f64; 2] {
        let way = [self.to[0] - self.from[0], self.to[1] - self.from[1]];
        let tau = (t_s - self.start_s) / self.duration_s;
        if tau <= 0.0 {
            return self.from;
        }
        let s = min_jerk(tau);
        let back = min_jerk((t_s - self.start_s - self.duration_s) / SETTLE_S);
        let along = s * (1.0 + self.overshoot) - self.overshoot * back;
        let length = way[0].hypot(way[1]);
        let side = if length > 0.0 {
            [-way[1] / length, way[0] / length]
        } else {
            [0.0, 0.0]
        };
        let bow = self.bow_mm * 4.0 * s * (1.0 - s);
        [
            self.from[0] + along * way[0] + bow * side[0],
            self.from[1] + along * way[1] + bow * side[1],
        ]
    }
}

/// A movement decided, waiting for the reaction time.
#[derive(Debug, Clone, Copy)]
struct Pending {
    start_s: f64,
    goal: [f64; 2],
    share: f64,
    duration_s: f64,
    overshoot: f64,
    bow_share: f64,
}

/// The truth of the target shown now, followed every physics step.
#[derive(Debug, Clone)]
struct Tracker {
    /// Index into the truths.
    index: usize,
    radius_mm: f64,
    /// The hold rule: strict, as the drill's, lenient.
    rules: [HoldRule; 3],
    /// The open 40 ms window: sums and count; its end, s.
    window: ([f64; 2], u32),
    window_end_s: f64,
    /// The COP when the target appeared, then the closed windows' means, until the entry.
    points: Vec<[f64; 2]>,
}

/// The person doing the weight shift (see the module docs).
#[derive(Debug, Clone)]
pub struct ShiftPerson {
    screen: WeightShift,
    geometry: BoardGeometry,
    skill: f64,
    rng: SimRng,
    first_device_us: Option<u64>,
    screen_on_board: bool,
    /// What the screen showed last: its phase and target.
    seen: (ShiftPhase, Option<u8>),
    pending: Option<Pending>,
    movement: Movement,
    truths: Vec<ShiftTargetTruth>,
    tracker: Option<Tracker>,
    /// Where the person stands (their sway's centre), mm in the board's frame.
    stance_mm: [f64; 2],
    /// When the board started streaming, s of true time.
    stream_start_s: Option<f64>,
}

impl ShiftPerson {
    /// A person of `skill` standing at `stance_mm` on a board of `geometry`, doing the drill of
    /// `config`.
    pub fn new(
        config: WeightShiftConfig,
        skill: f64,
        stance_mm: [f64; 2],
        geometry: BoardGeometry,
        rng: SimRng,
    ) -> Self {
        ShiftPerson {
            screen: WeightShift::new(config),
            geometry,
            skill: skill.clamp(0.0, 1.0),
            rng,
            first_device_us: None,
            screen_on_board: false,
            seen: (ShiftPhase::Taring, None),
            pending: None,
            movement: Movement::still([0.0, 0.0]),
            truths: Vec::new(),
            tracker: None,
            stance_mm,
            stream_start_s: None,
        }
    }

    /// The truth of every target shown so far.
    pub fn truths(&self) -> &[ShiftTargetTruth] {
        &self.truths
    }

    /// The screen: the drill as the person sees it.
    pub fn screen(&self) -> &WeightShift {
        &self.screen
    }

    /// The person's voluntary shift of the COP at true time `t_s`, mm.
    pub fn displacement_mm(&mut self, t_s: f64) -> [f64; 2] {
        if let Some(p) = self.pending.filter(|p| t_s >= p.start_s) {
            self.pending = None;
            let from = self.movement.at(t_s);
            let to = [
                from[0] + p.share * (p.goal[0] - from[0]),
                from[1] + p.share * (p.goal[1] - from[1]),
            ];
            let length = (to[0] - from[0]).hypot(to[1] - from[1]);
            self.movement = Movement {
                start_s: t_s,
                from,
                to,
                duration_s: p.duration_s,
                overshoot: p.overshoot,
                bow_mm: p.bow_share * length,
            };
        }
        self.movement.at(t_s)
    }

    /// The board sent a sample converted at true time `t_s` and device time `device_us`, from
    /// the corner `forces_n`; the board started streaming at `stream_start_s`. The screen
    /// updates; the person reacts to what it shows.
    pub fn observe(&mut self, t_s: f64, stream_start_s: f64, device_us: u64, forces_n: [f64; 4]) {
        self.stream_start_s.get_or_insert(stream_start_s);
        let first = *self.first_device_us.get_or_insert(device_us);
        let t_us = device_us.saturating_sub(first);
        let total_n: f64 = forces_n.iter().sum();
        self.screen_on_board = if self.screen_on_board {
            total_n >= 0.5 * MIN_LOAD_N
        } else {
            total_n >= MIN_LOAD_N
        };
        let phase = if (t_us as f64) * 1e-6 <= TARE_S {
            BoardPhase::Taring
        } else if self.screen_on_board {
            BoardPhase::OnBoard
        } else {
            BoardPhase::Empty
        };
        let sample = CopSample {
            t_us,
            phase,
            total_counts: if phase == BoardPhase::Taring {
                0.0
            } else {
                total_n
            },
            total_n: (phase != BoardPhase::Taring).then_some(total_n),
            cop_mm: (phase == BoardPhase::OnBoard)
                .then(|| self.geometry.cop_mm(forces_n))
                .flatten(),
            cells_n: (phase != BoardPhase::Taring).then_some(forces_n),
        };
        let mut events = Vec::new();
        self.screen.update(&sample, &mut events);
        let shown_drill_s = events.iter().find_map(|e| match e {
            DrillEvent::TargetShown { t_s, .. } => Some(*t_s),
            _ => None,
        });
        let live = self.screen.live();
        let now = (live.phase, live.target.map(|t| t.number));
        if now == self.seen {
            return;
        }
        self.seen = now;
        match (live.phase, live.target, live.goal_mm) {
            (ShiftPhase::Target, Some(target), Some(goal_mm)) => {
                self.new_target(t_s, target.number, target.direction, goal_mm, shown_drill_s)
            }
            // The target's truth is followed until it is decided, whatever the screen shows.
            (ShiftPhase::Return, _, Some(centre_mm)) => self.plan_return(t_s, centre_mm),
            _ => {}
        }
    }

    /// Where the person aims the COP for a goal in the board's frame: their own shift, mm.
    fn shift_for(&self, goal_mm: [f64; 2]) -> [f64; 2] {
        [
            goal_mm[0] - self.stance_mm[0],
            goal_mm[1] - self.stance_mm[1],
        ]
    }

    /// A skill-dependent movement of `length_mm`: (duration, overshoot share, bow share).
    fn kinematics(&mut self, length_mm: f64, radius_mm: f64) -> (f64, f64, f64) {
        let s = self.skill;
        let speed_mm_s = (60.0 + 70.0 * s) * self.rng.range(0.85, 1.15);
        let duration_s = (length_mm / speed_mm_s).max(0.5);
        // The overshoot stays within half the radius (it comes back onto the target).
        let overshoot = self.rng.range(0.0, 0.04 + 0.16 * (1.0 - s));
        let overshoot = overshoot.min(0.5 * radius_mm / length_mm.max(1.0));
        let side = if self.rng.chance(0.5) { 1.0 } else { -1.0 };
        let bow = side * self.rng.range(0.02, 0.05 + 0.25 * (1.0 - s));
        (duration_s, overshoot, bow)
    }

    fn new_target(
        &mut self,
        t_s: f64,
        number: u8,
        direction: Direction,
        goal_mm: [f64; 2],
        shown_drill_s: Option<f64>,
    ) {
        let config = *self.screen.config();
        let radius_mm = config.radius_mm;
        let s = self.skill;
        let now = self.movement.at(t_s);
        let goal = self.shift_for(goal_mm);
        let length = (goal[0] - now[0]).hypot(goal[1] - now[1]);
        let miss = self.rng.chance(0.02 + 0.3 * (1.0 - s) * (1.0 - s));
        let reaction_s = self.rng.range(0.35, 0.55) + 0.35 * (1.0 - s);
        let attempt = if !miss {
            ShiftAttempt::Reach
        } else {
            let most = (length - radius_mm - MISS_MARGIN_MM) / length.max(1.0);
            if most >= 0.35 {
                ShiftAttempt::FallShort {
                    share: self.rng.range(0.35, most.min(0.7)),
                }
            } else {
                ShiftAttempt::Freeze
            }
        };
        let share = match attempt {
            ShiftAttempt::Reach => Some(1.0),
            ShiftAttempt::FallShort { share } => Some(share),
            ShiftAttempt::Freeze => None,
        };
        let mut movement_s = None;
        self.pending = share.map(|share| {
            let (duration_s, overshoot, bow_share) = self.kinematics(share * length, radius_mm);
            movement_s = Some(duration_s);
            Pending {
                start_s: t_s + reaction_s,
                goal,
                share,
                duration_s,
                // Falling short is stopping, not overshooting.
                overshoot: if share < 1.0 { 0.0 } else { overshoot },
                bow_share,
            }
        });
        let stream_start_s = self.stream_start_s.unwrap_or(0.0);
        self.truths.push(ShiftTargetTruth {
            number,
            direction,
            target_mm: goal_mm,
            shown_s: t_s - stream_start_s,
            shown_drill_s: shown_drill_s.unwrap_or(f64::NAN),
            attempt,
            reaction_s: share.map(|_| reaction_s),
            movement_s,
            entered_after_s: None,
            reached: None,
            reached_bounds: [None; 2],
            held_after_s: None,
            path_efficiency: None,
        });
        self.tracker = Some(Tracker {
            index: self.truths.len() - 1,
            radius_mm,
            rules: [-1.0, 0.0, 1.0].map(|slack| HoldRule::new(&config, slack)),
            window: ([0.0; 2], 0),
            window_end_s: WINDOW_S,
            points: Vec::new(),
        });
    }

    fn plan_return(&mut self, t_s: f64, centre_mm: [f64; 2]) {
        let radius_mm = self.screen.config().radius_mm;
        let now = self.movement.at(t_s);
        let goal = self.shift_for(centre_mm);
        let length = (goal[0] - now[0]).hypot(goal[1] - now[1]);
        let reaction_s = self.rng.range(0.3, 0.45) + 0.2 * (1.0 - self.skill);
        let (duration_s, overshoot, bow_share) = self.kinematics(length, radius_mm);
        self.pending = Some(Pending {
            start_s: t_s + reaction_s,
            goal,
            share: 1.0,
            duration_s,
            overshoot,
            bow_share,
        });
    }

    /// Follows the true COP at true time `t_s` (every physics step) for the truth of the target
    /// shown now.
    pub fn track(&mut self, t_s: f64, cop_mm: [f64; 2]) {
        let Some(tracker) = self.tracker.as_mut() else {
            return;
        };
        let truth = &mut self.truths[tracker.index];
        let since_s = t_s - (truth.shown_s + self.stream_start_s.unwrap_or(0.0));
        let distance = (cop_mm[0] - truth.target_mm[0]).hypot(cop_mm[1] - truth.target_mm[1]);
        // The path until the first entry: the COP when the target appeared, the 40 ms windows
        // since that closed before the entry's, then the COP where it entered.
        if truth.entered_after_s.is_none() {
            if tracker.points.is_empty() {
                tracker.points.push(cop_mm);
            }
            if since_s > tracker.window_end_s {
                let (sums, n) = std::mem::take(&mut tracker.window);
                if n > 0 {
                    let n = f64::from(n);
                    tracker.points.push([sums[0] / n, sums[1] / n]);
                }
                tracker.window_end_s += WINDOW_S;
            }
            tracker.window.0[0] += cop_mm[0];
            tracker.window.0[1] += cop_mm[1];
            tracker.window.1 += 1;
            if distance <= tracker.radius_mm {
                truth.entered_after_s = Some(since_s);
                tracker.points.push(cop_mm);
                let points: Vec<Option<[f64; 2]>> = tracker.points.drain(..).map(Some).collect();
                truth.path_efficiency = crate::drill::path_efficiency(&points);
            }
        }
        for rule in &mut tracker.rules {
            rule.step(distance, since_s);
        }
        let [strict, rule, lenient] = tracker.rules.map(|r| r.verdict);
        truth.reached = rule.map(|(reached, _)| reached);
        truth.held_after_s = rule.and_then(|(reached, at_s)| reached.then_some(at_s));
        truth.reached_bounds = [strict, lenient].map(|v| v.map(|(reached, _)| reached));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movement_goes_where_it_is_sent_and_settles_its_overshoot() {
        let m = Movement {
            start_s: 1.0,
            from: [0.0, 0.0],
            to: [0.0, 60.0],
            duration_s: 0.8,
            overshoot: 0.1,
            bow_mm: 6.0,
        };
        assert_eq!(m.at(0.5), [0.0, 0.0]);
        // Half-way in time: half-way along (min-jerk is symmetric) plus the overshoot's share,
        // and the full bow to the side (to the left of the way: −x going forward).
        let mid = m.at(1.4);
        assert!((mid[1] - 0.5 * 1.1 * 60.0).abs() < 1e-9, "{mid:?}");
        assert!((mid[0] + 6.0).abs() < 1e-9, "{mid:?}");
        // At the end of the movement: 10 % beyond; settled back after 0.4 s more.
        assert!((m.at(1.8)[1] - 66.0).abs() < 1e-9);
        let end = m.at(2.3);
        assert!(
            end[0].abs() < 1e-9 && (end[1] - 60.0).abs() < 1e-9,
            "{end:?}"
        );
        assert_eq!(min_jerk(0.0), 0.0);
        assert_eq!(min_jerk(1.0), 1.0);
    }
}
