//! Drills: what the user does, how it is measured and scored.
//!
//! # Brief overview
//! - [`DrillKind`] names a drill and says, in plain words, what it trains and why it helps the
//!   back ([`DrillKind::purpose`]).
//! - [`RockerHold`] is the rocker-board hold: it consumes [`BoardTilt`](crate::pipeline::BoardTilt)
//!   signals in device time, emits [`DrillEvent`]s as they happen, and ends with a
//!   [`RockerHoldOutcome`]: metrics and a 0–100 score.
//! - [`WobbleHold`] is the wobble-board hold: the same drill on the board's two-axis tilt
//!   (the board holds share their core: start, band cues, edge contacts, levels, score), with
//!   time off balance; it ends with a [`WobbleHoldOutcome`].
//! - [`QuietStance`] runs the standing drills on a balance board (quiet stance, tandem stance,
//!   single-leg stance: [`StanceTask`]): it consumes
//!   [`CopSample`](crate::pipeline::CopSample)s, waits for the user to step on and stand
//!   steady, measures the standard COP sway measures over the hold, and ends with a
//!   [`QuietStanceOutcome`]; stepping off is its failure event, and on one leg the free foot's
//!   touch-downs are counted.
//! - [`WearableStance`] is quiet stance with the wearable on the lower back instead of the
//!   board: the same levels, IMU samples in, the trunk's sway (ISway) out, in a
//!   [`WearableStanceOutcome`]; a step out of the stance is its failure event.
//! - [`TandemWalk`] is the heel-to-toe walk with the wearable on the lower back: it consumes
//!   IMU samples, counts heel strikes, and ends with a [`TandemWalkOutcome`]: steps, missteps,
//!   stops, lateral trunk sway.
//! - [`NeutralSpine`] is the neutral-spine hold with the wearable on the lower back: it
//!   captures the user's neutral posture, then follows the trunk's deviation from it, and ends
//!   with a [`NeutralSpineOutcome`]: RMS deviation, time in band, holds broken.
//! - [`WeightShift`] is the weight shift on a balance board: it consumes
//!   [`CopSample`](crate::pipeline::CopSample)s, starts as the standing drills do, finds the
//!   user's centre, shows targets around it one by one and ends with a [`WeightShiftOutcome`]:
//!   time to reach, path efficiency, misses, reaction time, excursion.
//! - The board drills share their start and stop rules ([`StepOn`], [`DrillClock`],
//!   [`StepOffWatch`]).
//! - [`DrillMetrics`] holds any drill's measures, as results carry them.

mod neutral_spine;
mod quiet_stance;
mod rocker_hold;
mod standing;
mod tandem_walk;
mod tilt_hold;
mod wearable_stance;
mod weight_shift;
mod wobble_hold;

use serde::{Deserialize, Serialize};

pub use rocker_hold::{
    RockerHold, RockerHoldConfig, RockerHoldLive, RockerHoldMetrics, RockerHoldOutcome,
    RockerLevel, ROCKER_LEVELS,
};

pub use tilt_hold::{
    direction_deg, hold_score, impact_speed_threshold_deg_s, BoardLevel, EDGE_RELEASE_DEG,
    EDGE_ZONE_DEG, STABLE_S,
};

pub use wobble_hold::{
    WobbleHold, WobbleHoldConfig, WobbleHoldLive, WobbleHoldMetrics, WobbleHoldOutcome,
    WobbleLevel, WOBBLE_LEVELS,
};

pub use neutral_spine::{
    deviation_deg, NeutralSpine, NeutralSpineConfig, NeutralSpineLevel, NeutralSpineLive,
    NeutralSpineMetrics, NeutralSpineOutcome, BAND_HYSTERESIS_DEG, HOLD_BROKEN_S, NEUTRAL_S,
    NEUTRAL_SPINE_LEVELS,
};

pub use quiet_stance::{
    cop_sway, Feet, QuietStance, QuietStanceConfig, QuietStanceLive, QuietStanceMetrics,
    QuietStanceOutcome, StanceCondition, StanceLevel, StancePhase, StanceTask, SwayMeasures,
    TouchDowns, ANALYSIS_RATE_HZ, FOOT_UP_SHARE, MIN_SCORED_S, SINGLE_LEG_LEVELS,
    SINGLE_LEG_STEP_OFF_SHARE, STANCE_LEVELS, TANDEM_STANCE_LEVELS, TOUCH_DOWN_S, TOUCH_DOWN_SHARE,
};

pub use wearable_stance::{
    reference_acc_rms_m_s2, reference_trunk_rms_deg, WearableStance, WearableStanceLive,
    WearableStanceMetrics, WearableStanceOutcome, LOSS_ACC_M_S2, LOSS_LEAN_DEG, LOSS_S,
    STANCE_SETTLE_S,
};

pub use standing::{
    DrillClock, PreStart, Standing, StepOffWatch, StepOn, StepOnState, STEADY_S, STEADY_TOLERANCE,
    STEP_OFF_S, STEP_OFF_SHARE,
};

pub use weight_shift::{
    path_efficiency, Direction, ShiftLevel, ShiftPhase, Target, WeightShift, WeightShiftConfig,
    WeightShiftLive, WeightShiftMetrics, WeightShiftOutcome, CENTRE_S, EXIT_MARGIN_MM, LOS_BACK_MM,
    LOS_FORWARD_MM, LOS_SIDEWAYS_MM, ONSET_MIN_MM, ONSET_SHARE, REFERENCE_PATH_EFFICIENCY,
    RETURN_ALLOWED_S, RETURN_DWELL_S, SHIFT_LEVELS,
};

pub use tandem_walk::{
    MisstepReason, TandemWalk, TandemWalkConfig, TandemWalkLive, TandemWalkMetrics,
    TandemWalkOutcome, WalkLevel, WalkPhase, DETECT_EVERY_S, LATERAL_MISSTEP_DEG, SETTLE_S,
    SLOW_STEP_FACTOR, STILL_ACC_M_S2, STILL_GYR_DEG_S, STILL_S, STOP_FACTOR, WALK_LEVELS,
};

/// A log-scale sub-score of a measure where smaller is better: 0 at `zero_at` or above, 1 at
/// `zero_at / span` or below, linear in the logarithm between (sway measures are
/// multiplicative, so a halving counts the same wherever it happens).
pub fn log_share(value: f64, zero_at: f64, span: f64) -> f64 {
    ((zero_at / value.max(1e-9)).ln() / span.ln()).clamp(0.0, 1.0)
}

/// The longest interval between samples that is still data, s: a longer one is a gap, and
/// counts for nothing in any drill's clock or time-weighted sums.
pub const MAX_HELD_S: f64 = 0.25;

/// A drill that has not started this long after its first usable sample ends as
/// [`EndReason::NotStarted`] (nobody got onto the board), s of device time.
pub const START_WITHIN_S: f64 = 120.0;

/// Every drill proprio knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillKind {
    /// Stand on a rocker board (one axis) and keep it level.
    RockerHold,
    /// Stand on a wobble board (both axes) and keep it level.
    WobbleHold,
    /// Stand still (Romberg-type quiet stance), on a balance board or with the wearable on the
    /// lower back.
    QuietStance,
    /// Stand on one leg on a balance board.
    SingleLeg,
    /// Stand heel to toe on a balance board.
    TandemStance,
    /// Walk heel to toe with the wearable on the lower back.
    TandemWalk,
    /// Hold a neutral spine with the wearable on the lower back.
    NeutralSpine,
    /// Move your centre of pressure to targets on a balance board (weight shift).
    WeightShift,
}

impl DrillKind {
    /// All drills, in the order they are listed.
    pub const ALL: [DrillKind; 8] = [
        DrillKind::QuietStance,
        DrillKind::SingleLeg,
        DrillKind::TandemStance,
        DrillKind::WeightShift,
        DrillKind::TandemWalk,
        DrillKind::RockerHold,
        DrillKind::WobbleHold,
        DrillKind::NeutralSpine,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            DrillKind::RockerHold => "rocker-hold",
            DrillKind::WobbleHold => "wobble-hold",
            DrillKind::QuietStance => "quiet-stance",
            DrillKind::SingleLeg => "single-leg",
            DrillKind::TandemStance => "tandem-stance",
            DrillKind::TandemWalk => "tandem-walk",
            DrillKind::NeutralSpine => "neutral-spine",
            DrillKind::WeightShift => "weight-shift",
        }
    }

    /// True when the drill runs on a balance board by default; false when on an IMU (quiet
    /// stance runs on either: [`DrillKind::runs_on_board`], [`DrillKind::runs_on_imu`]).
    pub fn needs_balance_board(self) -> bool {
        match self {
            DrillKind::RockerHold
            | DrillKind::WobbleHold
            | DrillKind::TandemWalk
            | DrillKind::NeutralSpine => false,
            DrillKind::QuietStance
            | DrillKind::SingleLeg
            | DrillKind::TandemStance
            | DrillKind::WeightShift => true,
        }
    }

    /// True when the drill can run on a balance board.
    pub fn runs_on_board(self) -> bool {
        self.needs_balance_board()
    }

    /// True when the drill can run on an IMU (on a board, or worn on the lower back): the IMU
    /// drills, and quiet stance with the wearable on the lower back.
    pub fn runs_on_imu(self) -> bool {
        !self.needs_balance_board() || self == DrillKind::QuietStance
    }

    /// The standing drill on the balance board this is, if it is one.
    pub fn stance_task(self) -> Option<StanceTask> {
        match self {
            DrillKind::QuietStance => Some(StanceTask::Quiet),
            DrillKind::SingleLeg => Some(StanceTask::SingleLeg),
            DrillKind::TandemStance => Some(StanceTask::Tandem),
            DrillKind::RockerHold
            | DrillKind::WobbleHold
            | DrillKind::TandemWalk
            | DrillKind::NeutralSpine
            | DrillKind::WeightShift => None,
        }
    }

    /// A drill by its command-line name.
    pub fn from_name(name: &str) -> Option<DrillKind> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// What you do, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Stand on a rocker board with feet either side of the middle and keep it level."
            }
            DrillKind::WobbleHold => {
                "Stand on a wobble board with feet either side of the middle, lift its rim off \
                 the floor, and keep it level whichever way it tips."
            }
            DrillKind::QuietStance => {
                "Step onto the balance board when told (or, with the wearable on your lower \
                 back, stand on the floor), then stand as still as you can."
            }
            DrillKind::SingleLeg => {
                "Step onto the middle of the balance board, lift one foot, and stand on the other \
                 leg as still as you can. If you need to, put the free foot down on the floor \
                 beside the board, then lift it again."
            }
            DrillKind::TandemStance => {
                "Step onto the balance board with one foot directly in front of the other, heel \
                 touching toes, and stand as still as you can."
            }
            DrillKind::TandemWalk => {
                "Stand still with one foot in front of the other, then walk heel to toe in a \
                 straight line, the heel of each step touching the toes of the other foot."
            }
            DrillKind::NeutralSpine => {
                "Find your comfortable neutral spine (the gentle hollow of your lower back, \
                 neither arched nor flattened) and stand still while it is captured, then hold \
                 it as the level says."
            }
            DrillKind::WeightShift => {
                "Step onto the balance board with your feet hip-width apart and stand still while \
                 your centre is found. Then shift your weight, both feet flat, to move your dot \
                 onto each target as it appears, smoothly and in a straight line; hold it there \
                 until it is ticked off, then come back to the middle."
            }
        }
    }

    /// What it trains and why that helps the back.
    pub fn purpose(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Trains the small, quick corrections of the ankles, hips and deep trunk muscles \
                 that keep you balanced. Those automatic reactions are slowed by back pain, and \
                 retraining them is what keeps the back stable and the pain from returning."
            }
            DrillKind::WobbleHold => {
                "Trains the quick corrections of the ankles, hips and deep trunk muscles in \
                 every direction at once, forwards, backwards and to the sides, as on uneven \
                 ground. Back pain slows those reactions; restoring them keeps the spine \
                 protected when you lose your balance."
            }
            DrillKind::QuietStance => {
                "Trains the steady, low-effort control of the ankles and trunk that keeps you \
                 upright without thinking, and shows how much you sway. People with back pain \
                 often sway more and stiffen the trunk; a calmer, smaller sway means the \
                 stabilising muscles are doing their job again."
            }
            DrillKind::SingleLeg => {
                "Trains the hip and deep trunk muscles that keep the pelvis level over one leg, \
                 as in every step you take. Back pain weakens that control; holding longer with \
                 fewer touch-downs shows it returning."
            }
            DrillKind::TandemStance => {
                "Trains side-to-side balance on a narrow base, which the hips and trunk muscles \
                 must supply when the feet cannot. That sideways control is often poor after \
                 back pain, and it is what keeps you steady on stairs and uneven ground."
            }
            DrillKind::TandemWalk => {
                "Trains balance on a narrow base while moving: the hips and the deep trunk \
                 muscles must hold the pelvis level over one foot at a time. Back pain makes \
                 the trunk stiff or wobbly when walking; a steady, upright trunk over neat \
                 steps shows that control coming back."
            }
            DrillKind::NeutralSpine => {
                "Trains the deep trunk muscles to hold the lower back in its neutral, \
                 least-loaded position without thinking about it. That is lumbar stabilisation: \
                 the basis of every other exercise, and of sitting, standing and lifting \
                 without strain."
            }
            DrillKind::WeightShift => {
                "Trains controlled movement of your weight over your feet, with the hips and \
                 trunk steering it, to the edges of your balance and back. Back pain makes \
                 people stiffen and avoid leaning; reaching further, sooner and more directly \
                 shows the trunk moving freely and safely again."
            }
        }
    }

    /// When to stop.
    pub fn safety(self) -> &'static str {
        match self {
            DrillKind::RockerHold => {
                "Stand next to a wall or a sturdy chair you can hold. Stop at once if it hurts: \
                 mild effort is fine, pain is not."
            }
            DrillKind::WobbleHold => {
                "A wobble board can tip any way: put it on a non-slip floor in a corner or next \
                 to a sturdy rail you can hold, step off whenever you need to, and stop at once \
                 if it hurts."
            }
            DrillKind::QuietStance => {
                "Stand on a firm floor (or put the board there) next to a wall or a sturdy \
                 chair. With eyes closed, have someone within reach. Step off or out whenever \
                 you need to, and stop at once if it hurts."
            }
            DrillKind::SingleLeg | DrillKind::TandemStance => {
                "Put the board on a firm floor next to a wall or a sturdy chair you can hold. Put \
                 a foot down whenever you need to, and stop at once if it hurts."
            }
            DrillKind::TandemWalk => {
                "Walk along a wall or a kitchen counter on a clear, non-slip floor, in flat \
                 shoes or barefoot. Step out of the line whenever you need to, and stop at once \
                 if it hurts."
            }
            DrillKind::NeutralSpine => {
                "Neutral is where it feels comfortable, not where it looks straight. Keep \
                 breathing, and stop at once if it hurts."
            }
            DrillKind::WeightShift => {
                "Put the board on a firm floor next to a wall or a sturdy chair you can hold. \
                 Lean only as far as feels safe, keep your heels and toes down, step off \
                 whenever you need to, and stop at once if it hurts."
            }
        }
    }

    /// What the sensor measures in this drill.
    pub fn sensor(self) -> &'static str {
        match self {
            DrillKind::RockerHold => "IMU strapped to the board, x axis along the rocker",
            DrillKind::WobbleHold => {
                "IMU strapped to the middle of the board, x forward (towards your toes), z up"
            }
            DrillKind::QuietStance => {
                "balance board with four load cells (e.g. four HX711s), or the IMU wearable on \
                 the lower back, x forward, z up"
            }
            DrillKind::SingleLeg | DrillKind::TandemStance | DrillKind::WeightShift => {
                "balance board with four load cells (e.g. four HX711s)"
            }
            DrillKind::TandemWalk | DrillKind::NeutralSpine => {
                "IMU wearable on the lower back, x forward, z up"
            }
        }
    }
}

/// The result of one drill, with its own measures `M`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillOutcome<M> {
    /// 0–100, see the drill's module docs.
    pub score: f64,
    /// When the drill started on the stream's device time line, s.
    pub start_s: f64,
    /// Why it ended.
    pub end: EndReason,
    /// Seconds from start to end (device time).
    pub duration_s: f64,
    /// The measures.
    pub metrics: M,
    /// Events in time order (the first 1000).
    pub events: Vec<DrillEvent>,
    /// Events that happened, including any beyond those kept.
    pub events_total: u64,
}

impl<M> DrillOutcome<M> {
    /// The same outcome with its measures converted (e.g. into [`DrillMetrics`]).
    pub fn map_metrics<N>(self, convert: impl FnOnce(M) -> N) -> DrillOutcome<N> {
        DrillOutcome {
            score: self.score,
            start_s: self.start_s,
            end: self.end,
            duration_s: self.duration_s,
            metrics: convert(self.metrics),
            events: self.events,
            events_total: self.events_total,
        }
    }
}

/// Events kept in a result; later ones are counted only (memory stays bounded).
pub(crate) const MAX_EVENTS: usize = 1_000;

/// A drill's events as its result keeps them: the first [`MAX_EVENTS`], and the count of all.
#[derive(Debug, Clone, Default)]
struct EventLog {
    kept: Vec<DrillEvent>,
    total: u64,
}

impl EventLog {
    /// Logs `event` and hands it on to `out` (the caller's live feed).
    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.total += 1;
        if self.kept.len() < MAX_EVENTS {
            self.kept.push(event);
        }
        out.push(event);
    }
}

/// Why a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The full duration was done.
    Completed,
    /// The user stopped it.
    UserStop,
    /// The user stopped it because it hurt.
    PainStop,
    /// The link was lost and not recovered.
    LinkLost,
    /// The data ended before the drill did (e.g. a recording of a session that was cut off).
    DataEnded,
    /// The user stepped off the balance board during the hold, or (on the wearable) out of
    /// the stance: a step that caught a loss of balance.
    SteppedOff,
    /// The drill never started within [`START_WITHIN_S`]: nobody stood steadily on the
    /// balance board, or nobody brought the rocker or wobble board level, or nobody stood
    /// still before a walk.
    NotStarted,
    /// The time limit passed before all the steps were taken.
    TimeUp,
}

/// Which way the board tipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Tilt was positive.
    Positive,
    /// Tilt was negative.
    Negative,
}

impl Side {
    /// The side of a signed value.
    pub fn of(value: f64) -> Side {
        if value >= 0.0 {
            Side::Positive
        } else {
            Side::Negative
        }
    }
}

/// Something that happened during a drill, at a time in seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DrillEvent {
    /// The board's edge touched the floor.
    EdgeContact {
        /// Seconds from the start.
        t_s: f64,
        /// Which edge (on a wobble board: the sign of the tilt's larger component).
        side: Side,
        /// On a wobble board, which way it leans, degrees clockwise from forward seen from
        /// above (0 forward, 90 right, ±180 back, −90 left).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction_deg: Option<f64>,
    },
    /// A wobble board came back off its edge ([`EDGE_RELEASE_DEG`] off the limit): the edge
    /// contact is over.
    EdgeReleased {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The tilt left the target band.
    LeftBand {
        /// Seconds from the start.
        t_s: f64,
        /// Which way (on a wobble board: the sign of the tilt's larger component).
        side: Side,
        /// On a wobble board, which way it leans, degrees clockwise from forward seen from
        /// above (0 forward, 90 right, ±180 back, −90 left).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction_deg: Option<f64>,
    },
    /// The tilt came back into the band: the user corrected.
    Corrected {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The board stayed in the band long enough to count as stabilised, for the first time.
    Stabilised {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The user stepped off the balance board (a foot went to the floor), or, on the
    /// wearable, out of the stance (a loss of balance).
    SteppedOff {
        /// Seconds from the start, when the load first dropped.
        t_s: f64,
    },
    /// Single-leg stance: the free foot touched down on the floor (bears weight).
    TouchDown {
        /// Seconds from the start, when the load first dropped.
        t_s: f64,
    },
    /// Single-leg stance: the free foot is lifted again after a touch-down.
    FootUp {
        /// Seconds from the start.
        t_s: f64,
    },
    /// Neutral-spine hold: out of the band for longer than [`HOLD_BROKEN_S`].
    HoldBroken {
        /// Seconds from the start.
        t_s: f64,
    },
    /// A heel strike (a walk's step).
    Step {
        /// Seconds from the start.
        t_s: f64,
    },
    /// The step whose heel strike this is was a misstep.
    Misstep {
        /// Seconds from the start (the step's heel strike).
        t_s: f64,
        /// Why.
        reason: MisstepReason,
    },
    /// The walker stopped after the heel strike at this time.
    Stopped {
        /// Seconds from the start.
        t_s: f64,
    },
    /// Weight shift: a target appeared.
    TargetShown {
        /// Seconds from the start.
        t_s: f64,
        /// Its number, from 1.
        target: u8,
        /// Its direction from the user's centre.
        direction: Direction,
        /// Where it lies from the user's centre `[x ML, y AP]`, mm.
        offset_mm: [f64; 2],
    },
    /// Weight shift: the target was reached and held for the level's dwell.
    TargetReached {
        /// Seconds from the start, when the hold was complete.
        t_s: f64,
        /// Its number, from 1.
        target: u8,
        /// From the target appearing to the COP's first entry within its radius, s.
        time_to_reach_s: f64,
        /// Straight distance over the path taken to it, 0–1.
        path_efficiency: f64,
    },
    /// Weight shift: the time allowed ran out before the target was held (the failure event).
    TargetMissed {
        /// Seconds from the start.
        t_s: f64,
        /// Its number, from 1.
        target: u8,
        /// How far the COP got towards it, % of its distance.
        max_excursion_percent: f64,
    },
    /// The drill ended.
    Ended {
        /// Seconds from the start.
        t_s: f64,
        /// Why.
        reason: EndReason,
    },
}

impl DrillEvent {
    /// When it happened, s from the start.
    pub fn t_s(&self) -> f64 {
        match *self {
            DrillEvent::EdgeContact { t_s, .. }
            | DrillEvent::EdgeReleased { t_s }
            | DrillEvent::LeftBand { t_s, .. }
            | DrillEvent::Corrected { t_s }
            | DrillEvent::Stabilised { t_s }
            | DrillEvent::SteppedOff { t_s }
            | DrillEvent::TouchDown { t_s }
            | DrillEvent::FootUp { t_s }
            | DrillEvent::HoldBroken { t_s }
            | DrillEvent::Step { t_s }
            | DrillEvent::Misstep { t_s, .. }
            | DrillEvent::Stopped { t_s }
            | DrillEvent::TargetShown { t_s, .. }
            | DrillEvent::TargetReached { t_s, .. }
            | DrillEvent::TargetMissed { t_s, .. }
            | DrillEvent::Ended { t_s, .. } => t_s,
        }
    }
}

/// What `pick` takes from each of `entries` (in time order, stamped by `time_us`) up to
/// `until_us`, on a regular grid at `rate_hz` starting at the first entry's time, which is
/// returned too: each entry goes to its nearest grid point (the first of several wins), and
/// points without one hold the previous value (the offline filters need a regular series).
pub(crate) fn on_regular_grid<E, T: Copy>(
    entries: &[E],
    time_us: impl Fn(&E) -> u64,
    pick: impl Fn(&E) -> T,
    rate_hz: f64,
    until_us: u64,
) -> (Vec<T>, u64) {
    let Some(first) = entries.first() else {
        return (Vec::new(), 0);
    };
    let first_us = time_us(first);
    let period_us = 1e6 / rate_hz;
    let mut grid: Vec<T> = Vec::with_capacity(entries.len());
    for entry in entries.iter().take_while(|e| time_us(e) <= until_us) {
        let k = (time_us(entry).saturating_sub(first_us) as f64 / period_us).round() as usize;
        if k >= grid.len() {
            let hold = grid.last().copied().unwrap_or_else(|| pick(first));
            grid.resize(k, hold);
            grid.push(pick(entry));
        }
    }
    (grid, first_us)
}

/// A drill's measures, as a result carries them (serialised as the drill's own measures; the
/// result's `drill` says which).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DrillMetrics {
    /// The wobble-board hold's. Before the rocker hold's: the metrics are read back without
    /// a tag, and the wobble hold's have every field of the rocker hold's (and more).
    WobbleHold(WobbleHoldMetrics),
    /// The rocker-board hold's.
    RockerHold(RockerHoldMetrics),
    /// Quiet stance's.
    QuietStance(QuietStanceMetrics),
    /// The tandem walk's.
    TandemWalk(TandemWalkMetrics),
    /// The neutral-spine hold's.
    NeutralSpine(NeutralSpineMetrics),
    /// The weight shift's.
    WeightShift(WeightShiftMetrics),
    /// Quiet stance's on the wearable. Last: its fields are none of the others'.
    WearableStance(WearableStanceMetrics),
}

impl DrillMetrics {
    /// Time covered by data, s.
    pub fn measured_s(&self) -> f64 {
        match self {
            DrillMetrics::RockerHold(m) => m.measured_s,
            DrillMetrics::WobbleHold(m) => m.measured_s,
            DrillMetrics::QuietStance(m) => m.measured_s,
            DrillMetrics::TandemWalk(m) => m.measured_s,
            DrillMetrics::NeutralSpine(m) => m.measured_s,
            DrillMetrics::WeightShift(m) => m.measured_s,
            DrillMetrics::WearableStance(m) => m.measured_s,
        }
    }

    /// Quiet stance's measures on the wearable, if these are.
    pub fn wearable_stance(&self) -> Option<&WearableStanceMetrics> {
        match self {
            DrillMetrics::WearableStance(m) => Some(m),
            _ => None,
        }
    }

    /// The rocker-board hold's measures, if these are.
    pub fn rocker_hold(&self) -> Option<&RockerHoldMetrics> {
        match self {
            DrillMetrics::RockerHold(m) => Some(m),
            _ => None,
        }
    }

    /// The wobble-board hold's measures, if these are.
    pub fn wobble_hold(&self) -> Option<&WobbleHoldMetrics> {
        match self {
            DrillMetrics::WobbleHold(m) => Some(m),
            _ => None,
        }
    }

    /// Quiet stance's measures, if these are.
    pub fn quiet_stance(&self) -> Option<&QuietStanceMetrics> {
        match self {
            DrillMetrics::QuietStance(m) => Some(m),
            _ => None,
        }
    }

    /// The neutral-spine hold's measures, if these are.
    pub fn neutral_spine(&self) -> Option<&NeutralSpineMetrics> {
        match self {
            DrillMetrics::NeutralSpine(m) => Some(m),
            _ => None,
        }
    }

    /// The weight shift's measures, if these are.
    pub fn weight_shift(&self) -> Option<&WeightShiftMetrics> {
        match self {
            DrillMetrics::WeightShift(m) => Some(m),
            _ => None,
        }
    }

    /// The tandem walk's measures, if these are.
    pub fn tandem_walk(&self) -> Option<&TandemWalkMetrics> {
        match self {
            DrillMetrics::TandemWalk(m) => Some(m),
            _ => None,
        }
    }
}
