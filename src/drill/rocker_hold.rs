//! The rocker-board hold.
//!
//! The drill starts when the board is first level within the band with a settled estimate
//! (the user has stepped on and lifted the board off its edge); if that does not happen
//! within [`START_WITHIN_S`](super::START_WITHIN_S) it ends as [`EndReason::NotStarted`].
//! Measures, all in device time from the start:
//! - **tilt RMS** (degrees): root mean square of the tilt over time, level = 0;
//! - **time in band** (%): share of the time with |tilt| ≤ the target band;
//! - **edge contacts**: the board's edge hit the floor: within
//!   [`EDGE_ZONE_DEG`](super::EDGE_ZONE_DEG) of the board's limit, its rate towards the edge
//!   collapsed within two samples (an impact stops a board at once, and a sensor averaging
//!   over its interval spreads that over two samples; a person catching it cannot decelerate
//!   it that fast). The impact must come at
//!   [`impact_speed_threshold_deg_s`](super::impact_speed_threshold_deg_s) or faster: a
//!   slower touch cannot be told from a catch at the limit, and is a graze, not a loss of
//!   balance. It counts once until the board is brought back
//!   [`EDGE_RELEASE_DEG`](super::EDGE_RELEASE_DEG) off the limit;
//! - **longest in band** (s): the longest stretch continuously within the band;
//! - **time to stabilise** (s): when the first stretch of [`STABLE_S`](super::STABLE_S)
//!   within the band began.
//!
//! Each sample's tilt holds until the next sample (zero-order hold); intervals longer than
//! [`MAX_HELD_S`](super::MAX_HELD_S) are gaps in the data and count for nothing. The drill's
//! clock runs only while data arrives: during a gap or a lost link it pauses, and it ends once
//! the target duration has been measured. All of this is the board holds' shared core
//! (`drill/tilt_hold.rs`), which the wobble-board hold runs on two axes.
//!
//! **Score** (0–100, [`hold_score`](super::hold_score)): `100 · completion · (½ · in_band +
//! ½ · steadiness) − 5 per edge contact`, clamped to 0–100, where `completion` is the share of
//! the target duration done, `in_band` the time-in-band share, and `steadiness` =
//! `ln(2b / rms) / ln(10)` clamped to 0–1 for a band of ±b degrees: 1 at an RMS of b/5 or
//! less, 0 at 2b or more, log-linear between (sway measures are multiplicative).

use serde::{Deserialize, Serialize};

use super::tilt_hold::{hold_score, level_of, Axes, TiltHold, TiltSample};
use super::{BoardLevel, DrillEvent, DrillOutcome, EndReason};
use crate::pipeline::BoardTilt;

/// One level of the rocker hold (the board holds share their levels' shape).
pub type RockerLevel = BoardLevel;

/// Levels 1..=5.
pub const ROCKER_LEVELS: [RockerLevel; 5] = [
    RockerLevel {
        band_deg: 7.0,
        duration_s: 20.0,
        note: "hold a rail or the wall lightly",
    },
    RockerLevel {
        band_deg: 5.0,
        duration_s: 30.0,
        note: "hands free, near the wall",
    },
    RockerLevel {
        band_deg: 4.0,
        duration_s: 30.0,
        note: "hands free, arms crossed",
    },
    RockerLevel {
        band_deg: 3.0,
        duration_s: 45.0,
        note: "arms crossed, slow head turns",
    },
    RockerLevel {
        band_deg: 3.0,
        duration_s: 45.0,
        note: "eyes closed, someone within reach",
    },
];

/// How a rocker-hold drill is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RockerHoldConfig {
    /// Level, 1..=5.
    pub level: u8,
    /// Target band, ± degrees.
    pub band_deg: f64,
    /// Target duration, s.
    pub duration_s: f64,
    /// Tilt at which the board's edge touches the floor, degrees.
    pub edge_limit_deg: f64,
}

impl RockerHoldConfig {
    /// The setup of `level` (1..=5) on a board whose edge touches at `edge_limit_deg`; `None`
    /// for a level that does not exist.
    pub fn for_level(level: u8, edge_limit_deg: f64) -> Option<Self> {
        let l = level_of(&ROCKER_LEVELS, level)?;
        Some(RockerHoldConfig {
            level,
            band_deg: l.band_deg,
            duration_s: l.duration_s,
            edge_limit_deg,
        })
    }
}

/// The drill's measures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RockerHoldMetrics {
    /// Tilt RMS about level, degrees.
    pub tilt_rms_deg: f64,
    /// Share of the time within the band, percent.
    pub time_in_band_percent: f64,
    /// Edge contacts.
    pub edge_contacts: u64,
    /// Longest continuous stretch within the band, s.
    pub longest_in_band_s: f64,
    /// When the first 2 s stretch within the band began, s; `None` if it never happened.
    pub time_to_stabilise_s: Option<f64>,
    /// Times the user came back into the band after leaving it.
    pub corrections: u64,
    /// Time covered by data (gaps excluded), s.
    pub measured_s: f64,
    /// Samples used.
    pub samples: u64,
}

/// What the live view shows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RockerHoldLive {
    /// Latest tilt, degrees.
    pub tilt_deg: f64,
    /// Latest tilt is within the band.
    pub in_band: bool,
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// Seconds left.
    pub remaining_s: f64,
    /// Score of the data so far (as if the drill ended well now).
    pub score: f64,
    /// Time in band so far, percent.
    pub time_in_band_percent: f64,
    /// Edge contacts so far.
    pub edge_contacts: u64,
    /// No settled estimate yet: the tilt is not worth showing.
    pub settling: bool,
    /// The drill has not started: waiting for the board to be brought level.
    pub waiting: bool,
}

/// The result of one rocker-hold drill (it starts once the board is level).
pub type RockerHoldOutcome = DrillOutcome<RockerHoldMetrics>;

/// The running drill: signals in, events out.
#[derive(Debug, Clone)]
pub struct RockerHold {
    config: RockerHoldConfig,
    hold: TiltHold,
}

impl RockerHold {
    /// A drill waiting for its first settled sample.
    pub fn new(config: RockerHoldConfig) -> Self {
        RockerHold {
            hold: TiltHold::new(
                Axes::One,
                config.band_deg,
                config.duration_s,
                config.edge_limit_deg,
            ),
            config,
        }
    }

    /// Its setup.
    pub fn config(&self) -> &RockerHoldConfig {
        &self.config
    }

    /// True once it has ended.
    pub fn is_done(&self) -> bool {
        self.hold.is_done()
    }

    /// Takes one tilt sample; appends the events it causes to `out`.
    pub fn update(&mut self, tilt: &BoardTilt, out: &mut Vec<DrillEvent>) {
        let sample = TiltSample {
            t_us: tilt.t_us,
            converging: tilt.converging,
            tilt_deg: [tilt.tilt_deg, 0.0],
            rate_deg_s: [tilt.rate_deg_s, 0.0],
        };
        self.hold.update(&sample, out);
    }

    /// Ends the drill now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        self.hold.stop(reason, out);
    }

    fn metrics(&self) -> RockerHoldMetrics {
        let h = &self.hold;
        let sums = h.sums();
        RockerHoldMetrics {
            tilt_rms_deg: sums.rms(sums.sq_deg2_s),
            time_in_band_percent: sums.time_in_band_percent(),
            edge_contacts: h.edge_contacts(),
            longest_in_band_s: h.longest_in_band_s(),
            time_to_stabilise_s: h.time_to_stabilise_s(),
            corrections: h.corrections(),
            measured_s: sums.measured_s,
            samples: h.samples(),
        }
    }

    /// The score for `metrics` with `done_s` seconds of the drill measured.
    pub fn score(&self, metrics: &RockerHoldMetrics, done_s: f64) -> f64 {
        hold_score(
            self.config.band_deg,
            self.config.duration_s,
            done_s,
            metrics.measured_s,
            metrics.time_in_band_percent,
            metrics.tilt_rms_deg,
            metrics.edge_contacts,
        )
    }

    /// What the live view shows now.
    pub fn live(&self) -> RockerHoldLive {
        let metrics = self.metrics();
        let latest = self.hold.latest_tilt_deg();
        RockerHoldLive {
            tilt_deg: latest.map_or(0.0, |t| t[0]),
            in_band: self.hold.latest_in_band(),
            elapsed_s: self.hold.elapsed_s(),
            remaining_s: (self.config.duration_s - metrics.measured_s).max(0.0),
            score: self.score(&metrics, self.config.duration_s),
            time_in_band_percent: metrics.time_in_band_percent,
            edge_contacts: metrics.edge_contacts,
            settling: latest.is_none(),
            waiting: !self.hold.started(),
        }
    }

    /// Ends the drill (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> RockerHoldOutcome {
        let (end, duration_s, start_s, events, events_total) = self.hold.finish();
        let metrics = self.metrics();
        RockerHoldOutcome {
            score: self.score(&metrics, metrics.measured_s),
            start_s,
            end,
            duration_s,
            metrics,
            events,
            events_total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::START_WITHIN_S;

    fn run(
        tilts: impl IntoIterator<Item = (u64, f64)>,
        config: RockerHoldConfig,
    ) -> RockerHoldOutcome {
        run_with_rate(tilts.into_iter().map(|(t, v)| (t, v, 0.0)), config)
    }

    fn run_with_rate(
        tilts: impl IntoIterator<Item = (u64, f64, f64)>,
        config: RockerHoldConfig,
    ) -> RockerHoldOutcome {
        let mut drill = RockerHold::new(config);
        let mut events = Vec::new();
        for (t_us, tilt_deg, rate_deg_s) in tilts {
            let s = BoardTilt {
                t_us,
                tilt_deg,
                rate_deg_s,
                pitch_deg: 0.0,
                roll_deg: tilt_deg,
                pitch_rate_deg_s: 0.0,
                roll_rate_deg_s: rate_deg_s,
                converging: false,
                acc_rejected: false,
                at_rest: false,
                mag_disturbed: false,
                up_in_imu: nalgebra::Vector3::z(),
            };
            drill.update(&s, &mut events);
        }
        drill.finish()
    }

    fn config() -> RockerHoldConfig {
        RockerHoldConfig {
            level: 2,
            band_deg: 5.0,
            duration_s: 10.0,
            edge_limit_deg: 15.0,
        }
    }

    #[test]
    fn measures_a_known_signal() {
        // 100 Hz; 0–4 s at 2°, 4–6 s at 10°, 6–10 s at −3°.
        let signal = (0..=1000).map(|i| {
            let t = i as f64 / 100.0;
            let v = if t < 4.0 {
                2.0
            } else if t < 6.0 {
                10.0
            } else {
                -3.0
            };
            (i * 10_000, v)
        });
        let out = run(signal, config());
        let m = out.metrics;
        assert_eq!(out.end, EndReason::Completed);
        assert!((m.measured_s - 10.0).abs() < 1e-9);
        assert!(
            (m.time_in_band_percent - 80.0).abs() < 1e-6,
            "{}",
            m.time_in_band_percent
        );
        let rms = ((4.0 * 4.0 + 2.0 * 100.0 + 4.0 * 9.0) / 10.0f64).sqrt();
        assert!((m.tilt_rms_deg - rms).abs() < 1e-9);
        assert!((m.longest_in_band_s - 4.0).abs() < 1e-9);
        assert_eq!(m.time_to_stabilise_s, Some(0.0));
        assert_eq!(m.corrections, 1);
        assert_eq!(m.edge_contacts, 0);
    }

    #[test]
    fn counts_edge_contacts_once_per_touch() {
        // (tilt °, rate °/s) at 100 Hz.
        let path = [
            (0.0, 0.0),
            (13.0, 40.0),
            (14.4, 45.0),
            (15.0, 0.0), // impact: contact 1
            (14.6, -20.0),
            (14.9, 25.0),
            (15.0, 0.0), // rocking on the edge: the same contact
            (13.5, -60.0),
            (14.8, 40.0),
            (15.0, 0.0), // not back 2° off the limit yet: the same contact
            (11.0, -100.0),
            (14.0, 20.0),
            (14.2, 18.0),
            (14.3, 16.0), // a near miss: caught, decelerating as a person can
            (13.0, -10.0),
            (-14.0, -50.0),
            (-15.0, 0.0), // impact on the other edge: contact 2
            (-12.0, 30.0),
            (0.0, 0.0),
        ];
        let signal = path
            .iter()
            .enumerate()
            .map(|(i, &(v, r))| (i as u64 * 10_000, v, r));
        let out = run_with_rate(signal, config());
        assert_eq!(out.metrics.edge_contacts, 2);
        assert_eq!(out.end, EndReason::DataEnded);
    }

    #[test]
    fn the_drill_starts_once_the_board_is_level() {
        // On its edge, lifted, through the band (the start), then onto the edge again.
        let path = [
            (15.0, 0.0),
            (15.0, 0.0),
            (14.0, -40.0),
            (9.0, -80.0),
            (4.0, -60.0),
            (10.0, 60.0),
            (14.5, 60.0),
            (15.0, 0.0),
        ];
        let signal = path
            .iter()
            .enumerate()
            .map(|(i, &(v, r))| (i as u64 * 10_000, v, r));
        let out = run_with_rate(signal, config());
        assert_eq!(out.metrics.edge_contacts, 1);
        assert!((out.start_s - 0.04).abs() < 1e-9, "{}", out.start_s);
        assert_eq!(out.metrics.samples, 4);
    }

    #[test]
    fn a_board_never_brought_level_ends_as_not_started() {
        let signal = (0..=(START_WITHIN_S as u64 + 1) * 10).map(|i| (i * 100_000, 15.0));
        let out = run(signal, config());
        assert_eq!(out.end, EndReason::NotStarted);
        assert_eq!(out.metrics.samples, 0);
    }

    #[test]
    fn gaps_count_for_nothing_and_break_stretches() {
        // 2 s in band, a 1 s gap, 2 s in band.
        let mut signal: Vec<(u64, f64)> = (0..=200).map(|i| (i * 10_000, 1.0)).collect();
        signal.extend((300..=500).map(|i| (i * 10_000, 1.0)));
        let out = run(signal, config());
        assert!((out.metrics.measured_s - 4.0).abs() < 1e-9);
        assert!((out.metrics.longest_in_band_s - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_clock_pauses_while_no_data_arrives() {
        // A 10 s drill with a 3 s hole in the data ends after 13 s, with 10 s measured.
        let mut signal: Vec<(u64, f64)> = (0..=400).map(|i| (i * 10_000, 1.0)).collect();
        signal.extend((700..=1400).map(|i| (i * 10_000, 1.0)));
        let out = run(signal, config());
        assert_eq!(out.end, EndReason::Completed);
        assert!((out.metrics.measured_s - 10.0).abs() < 1e-9);
        assert!((out.duration_s - 13.0).abs() < 1e-9, "{}", out.duration_s);
    }

    #[test]
    fn score_rewards_steadier_holds() {
        let steady = run(
            (0..=1000).map(|i| (i * 10_000, 1.0 * (i as f64 * 0.1).sin())),
            config(),
        );
        let shaky = run(
            (0..=1000).map(|i| (i * 10_000, 6.0 * (i as f64 * 0.1).sin())),
            config(),
        );
        assert!(steady.score > 90.0, "{}", steady.score);
        assert!(
            shaky.score < steady.score - 30.0,
            "{} vs {}",
            shaky.score,
            steady.score
        );
    }
}
