//! What the drills on a balance board share: waiting for the user to step on and stand
//! steadily ([`StepOn`]), the drill's clock that runs only while data arrives ([`DrillClock`]),
//! and the step-off rule ([`StepOffWatch`]). Quiet, tandem and single-leg stance
//! ([`QuietStance`](super::QuietStance)) and the weight shift
//! ([`WeightShift`](super::WeightShift)) all start and stop by these rules.

use std::collections::VecDeque;

use super::{MAX_HELD_S, START_WITHIN_S};
use crate::pipeline::{BoardPhase, CopSample};

/// The load must be steady this long before the drill starts, s.
pub const STEADY_S: f64 = 1.0;
/// "Steady": every total within this share of the stretch's mean.
pub const STEADY_TOLERANCE: f64 = 0.10;
/// Below this share of the standing load for [`STEP_OFF_S`], a foot has left the board.
pub const STEP_OFF_SHARE: f64 = 0.7;
/// …for at least this long, s (a quick dip from a bounce is not a step).
pub const STEP_OFF_S: f64 = 0.25;

/// The user stands steadily on the board: the drill starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// Device time of the sample that completed the steady stretch, µs: the drill's start.
    pub t0_us: u64,
    /// The standing load: the stretch's mean total, counts.
    pub standing_counts: f64,
    /// The same in newtons, when the board's scale is known.
    pub standing_n: Option<f64>,
}

/// What [`StepOn::update`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOnState {
    /// Not yet standing steadily.
    Waiting,
    /// Nobody stood steadily within [`START_WITHIN_S`] of the first sample: not started.
    TimedOut,
    /// Standing steadily: the drill starts now.
    Standing(Standing),
}

/// Before a board drill starts: the user steps on, and the drill starts once the load has been
/// steady for [`STEADY_S`] (every total in that stretch within ±[`STEADY_TOLERANCE`] of its
/// mean, no gap longer than [`MAX_HELD_S`]). Those first seconds on the board (the step-on and
/// settling) are never measured.
#[derive(Debug, Clone, Default)]
pub struct StepOn {
    /// (t_us, total counts, total N) of the recent stretch on the board.
    steady: VecDeque<(u64, f64, Option<f64>)>,
    /// Device time of the first sample, µs.
    first_t_us: Option<u64>,
}

impl StepOn {
    /// Takes one sample before the drill has started.
    pub fn update(&mut self, sample: &CopSample) -> StepOnState {
        let first_t_us = *self.first_t_us.get_or_insert(sample.t_us);
        if sample.t_us.saturating_sub(first_t_us) as f64 * 1e-6 > START_WITHIN_S {
            return StepOnState::TimedOut;
        }
        if sample.phase != BoardPhase::OnBoard {
            self.steady.clear();
            return StepOnState::Waiting;
        }
        let t_us = sample.t_us;
        if self
            .steady
            .back()
            .is_some_and(|&(last, _, _)| t_us.saturating_sub(last) as f64 * 1e-6 > MAX_HELD_S)
        {
            self.steady.clear();
        }
        self.steady
            .push_back((t_us, sample.total_counts, sample.total_n));
        let span_us = (STEADY_S * 1e6) as u64;
        // Keep the shortest stretch that still spans STEADY_S.
        while self
            .steady
            .get(1)
            .is_some_and(|&(second, _, _)| t_us.saturating_sub(second) >= span_us)
        {
            self.steady.pop_front();
        }
        let Some(&(first, _, _)) = self.steady.front() else {
            return StepOnState::Waiting;
        };
        if t_us.saturating_sub(first) < span_us {
            return StepOnState::Waiting;
        }
        let n = self.steady.len() as f64;
        let mean = self.steady.iter().map(|s| s.1).sum::<f64>() / n;
        let steady = mean > 0.0
            && self
                .steady
                .iter()
                .all(|s| (s.1 - mean).abs() <= STEADY_TOLERANCE * mean);
        if !steady {
            return StepOnState::Waiting;
        }
        let standing_n = sample
            .total_n
            .map(|_| self.steady.iter().filter_map(|s| s.2).sum::<f64>() / n);
        self.steady.clear();
        StepOnState::Standing(Standing {
            t0_us: t_us,
            standing_counts: mean,
            standing_n,
        })
    }

    /// Where the user is before the drill starts, from the latest sample (`None`: nothing
    /// yet, the board is taring).
    pub fn phase(latest: Option<&CopSample>) -> PreStart {
        match latest.map(|s| s.phase) {
            None | Some(BoardPhase::Taring) => PreStart::Taring,
            Some(BoardPhase::Empty) => PreStart::StepOn,
            Some(BoardPhase::OnBoard) => PreStart::Settling,
        }
    }
}

/// Where the user is before a board drill starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreStart {
    /// The board is taring: stay off it.
    Taring,
    /// Tared: step on.
    StepOn,
    /// On the board, waiting for a steady load.
    Settling,
}

/// A drill's clock in device time: intervals between samples add up, except those longer than
/// [`MAX_HELD_S`] (gaps count for nothing).
#[derive(Debug, Clone, Copy, Default)]
pub struct DrillClock {
    prev_t_us: Option<u64>,
    /// Time covered by data so far, s.
    pub measured_s: f64,
}

impl DrillClock {
    /// A sample at `t_us` arrived.
    pub fn tick(&mut self, t_us: u64) {
        if let Some(prev) = self.prev_t_us {
            let dt_s = t_us.saturating_sub(prev) as f64 * 1e-6;
            if dt_s <= MAX_HELD_S {
                self.measured_s += dt_s;
            }
        }
        self.prev_t_us = Some(t_us);
    }

    /// Device time of the latest sample, µs.
    pub fn last_t_us(&self) -> Option<u64> {
        self.prev_t_us
    }
}

/// The step-off rule: the load below a share of the standing load (or the board empty) for
/// [`STEP_OFF_S`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOffWatch {
    /// Since when (µs, and the measured time then) the load has been below the share.
    since: Option<(u64, f64)>,
}

impl StepOffWatch {
    /// True when `sample` is off the board: not on it, or its total below `share` of
    /// `standing_counts`.
    pub fn is_off(sample: &CopSample, standing_counts: f64, share: f64) -> bool {
        sample.phase != BoardPhase::OnBoard || sample.total_counts / standing_counts < share
    }

    /// Follows whether the user is `off` the board at `t_us`, with `measured_s` measured so
    /// far; once they have been off for [`STEP_OFF_S`], returns when it began (µs) and the
    /// measured time then.
    pub fn update(&mut self, t_us: u64, off: bool, measured_s: f64) -> Option<(u64, f64)> {
        if !off {
            self.since = None;
            return None;
        }
        let (since_us, measured_then_s) = *self.since.get_or_insert((t_us, measured_s));
        (t_us.saturating_sub(since_us) as f64 * 1e-6 >= STEP_OFF_S)
            .then_some((since_us, measured_then_s))
    }
}
