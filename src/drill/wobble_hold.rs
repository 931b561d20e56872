//! The wobble-board hold: a disc on a hemisphere, which tilts both ways until its rim touches
//! the floor.
//!
//! The wearable is strapped to the middle of the board, x forward (towards the toes), z up,
//! so the pipeline's tilt vector ([`BoardTilt`]) is the board's tilt in its own axes: the
//! **AP** component (pitch: the front edge down is positive) and the **ML** component (roll:
//! the right edge down is positive); its length is the tilt's size whichever way the board
//! leans, and the rim touches the floor at the same size (the board's edge limit) in every
//! direction.
//!
//! It is the rocker-board hold on two axes (the board holds' shared core, `drill/tilt_hold.rs`):
//! it starts when the board is first within the band with a settled estimate (the user has
//! stepped on and lifted the rim off the floor), or ends as [`EndReason::NotStarted`] after
//! [`START_WITHIN_S`](super::START_WITHIN_S). Measures, in device time from the start, each
//! sample's tilt held until the next (zero-order hold; gaps over
//! [`MAX_HELD_S`](super::MAX_HELD_S) count for nothing):
//! - **tilt RMS** (degrees): the RMS of the tilt's size about level, and per axis (AP, ML);
//! - **mean tilt** (degrees) per axis, and its direction (clockwise from forward): where the
//!   user keeps the board on average;
//! - **time in band** (%): share of the time with the tilt's size ≤ the band;
//! - **edge contacts**: the rim hit the floor (the rocker's impact rule on the tilt's size:
//!   within [`EDGE_ZONE_DEG`](super::EDGE_ZONE_DEG) of the limit, the rate towards the edge
//!   collapsing within two samples, from
//!   [`impact_speed_threshold_deg_s`](super::impact_speed_threshold_deg_s) or faster); a
//!   contact lasts until the board is brought [`EDGE_RELEASE_DEG`](super::EDGE_RELEASE_DEG)
//!   back off the limit ([`DrillEvent::EdgeReleased`]);
//! - **time off balance** (s): the total time of the edge contacts, from each impact to its
//!   release (wobble-board tests count "time off balance");
//! - **longest in band**, **time to stabilise**, **corrections**, as for the rocker hold.
//!
//! Events: left the band and corrected (back 0.5° inside it), edge contact and edge released,
//! stabilised, ended; a wobble board's band and edge events carry the direction the board
//! leans.
//!
//! **Score** (0–100): the rocker hold's ([`hold_score`](super::hold_score)) on the tilt's
//! size: `100 · completion · (½ · in_band + ½ · steadiness) − 5 per edge contact`, with
//! `steadiness = ln(2b / rms) / ln(10)` clamped to 0–1 for a band of b degrees. Time at the
//! edge is time out of the band, so time off balance lowers `in_band` too.

use serde::{Deserialize, Serialize};

use super::tilt_hold::{direction_deg, hold_score, level_of, Axes, TiltHold, TiltSample};
use super::{BoardLevel, DrillEvent, DrillOutcome, EndReason};
use crate::pipeline::BoardTilt;

/// One level of the wobble hold (the board holds share their levels' shape).
pub type WobbleLevel = BoardLevel;

/// Levels 1..=5: a narrower band, a longer hold, less help.
pub const WOBBLE_LEVELS: [WobbleLevel; 5] = [
    WobbleLevel {
        band_deg: 8.0,
        duration_s: 20.0,
        note: "hold a rail or the wall lightly",
    },
    WobbleLevel {
        band_deg: 6.0,
        duration_s: 30.0,
        note: "hands free, near the wall",
    },
    WobbleLevel {
        band_deg: 5.0,
        duration_s: 30.0,
        note: "hands free, arms crossed",
    },
    WobbleLevel {
        band_deg: 4.0,
        duration_s: 45.0,
        note: "arms crossed, slow head turns",
    },
    WobbleLevel {
        band_deg: 4.0,
        duration_s: 45.0,
        note: "eyes closed, someone within reach",
    },
];

/// How a wobble-hold drill is set up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WobbleHoldConfig {
    /// Level, 1..=5.
    pub level: u8,
    /// Target band: the tilt's size, whichever way, at most this many degrees.
    pub band_deg: f64,
    /// Target duration, s.
    pub duration_s: f64,
    /// Tilt (its size) at which the board's rim touches the floor, degrees.
    pub edge_limit_deg: f64,
}

impl WobbleHoldConfig {
    /// The setup of `level` (1..=5) on a board whose rim touches at `edge_limit_deg`; `None`
    /// for a level that does not exist.
    pub fn for_level(level: u8, edge_limit_deg: f64) -> Option<Self> {
        let l = level_of(&WOBBLE_LEVELS, level)?;
        Some(WobbleHoldConfig {
            level,
            band_deg: l.band_deg,
            duration_s: l.duration_s,
            edge_limit_deg,
        })
    }
}

/// The drill's measures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WobbleHoldMetrics {
    /// RMS of the tilt's size about level (the resultant of both axes), degrees.
    pub tilt_rms_deg: f64,
    /// RMS of the front–back (AP) tilt, degrees.
    pub tilt_rms_ap_deg: f64,
    /// RMS of the side-to-side (ML) tilt, degrees.
    pub tilt_rms_ml_deg: f64,
    /// Mean AP tilt (front edge down +), degrees.
    pub mean_tilt_ap_deg: f64,
    /// Mean ML tilt (right edge down +), degrees.
    pub mean_tilt_ml_deg: f64,
    /// Which way the mean tilt points, degrees clockwise from forward (0 forward, 90 right,
    /// ±180 back, −90 left).
    pub mean_tilt_direction_deg: f64,
    /// Share of the time with the tilt's size within the band, percent.
    pub time_in_band_percent: f64,
    /// Edge contacts (the rim hit the floor).
    pub edge_contacts: u64,
    /// Time off balance: the edge contacts' total time, from each impact until the board came
    /// back off the edge, s.
    pub time_off_balance_s: f64,
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
pub struct WobbleHoldLive {
    /// Latest AP tilt (front edge down +), degrees.
    pub tilt_ap_deg: f64,
    /// Latest ML tilt (right edge down +), degrees.
    pub tilt_ml_deg: f64,
    /// The latest tilt's size is within the band.
    pub in_band: bool,
    /// An edge contact is under way.
    pub on_edge: bool,
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
    /// Time off balance so far, s.
    pub time_off_balance_s: f64,
    /// No settled estimate yet: the tilt is not worth showing.
    pub settling: bool,
    /// The drill has not started: waiting for the board to be brought level.
    pub waiting: bool,
}

/// The result of one wobble-hold drill (it starts once the board is level).
pub type WobbleHoldOutcome = DrillOutcome<WobbleHoldMetrics>;

/// The running drill: tilt samples in, events out.
#[derive(Debug, Clone)]
pub struct WobbleHold {
    config: WobbleHoldConfig,
    hold: TiltHold,
}

impl WobbleHold {
    /// A drill waiting for its first settled sample.
    pub fn new(config: WobbleHoldConfig) -> Self {
        WobbleHold {
            hold: TiltHold::new(
                Axes::Two,
                config.band_deg,
                config.duration_s,
                config.edge_limit_deg,
            ),
            config,
        }
    }

    /// Its setup.
    pub fn config(&self) -> &WobbleHoldConfig {
        &self.config
    }

    /// True once it has ended.
    pub fn is_done(&self) -> bool {
        self.hold.is_done()
    }

    /// Takes one tilt sample (its tilt vector: AP is the pitch, ML the roll); appends the
    /// events it causes to `out`.
    pub fn update(&mut self, tilt: &BoardTilt, out: &mut Vec<DrillEvent>) {
        let sample = TiltSample {
            t_us: tilt.t_us,
            converging: tilt.converging,
            tilt_deg: [tilt.pitch_deg, tilt.roll_deg],
            rate_deg_s: [tilt.pitch_rate_deg_s, tilt.roll_rate_deg_s],
        };
        self.hold.update(&sample, out);
    }

    /// Ends the drill now (user stop, pain stop, link lost).
    pub fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        self.hold.stop(reason, out);
    }

    fn metrics(&self) -> WobbleHoldMetrics {
        let h = &self.hold;
        let sums = h.sums();
        let mean = [sums.mean(sums.axis_deg_s[0]), sums.mean(sums.axis_deg_s[1])];
        WobbleHoldMetrics {
            tilt_rms_deg: sums.rms(sums.sq_deg2_s),
            tilt_rms_ap_deg: sums.rms(sums.sq_axis_deg2_s[0]),
            tilt_rms_ml_deg: sums.rms(sums.sq_axis_deg2_s[1]),
            mean_tilt_ap_deg: mean[0],
            mean_tilt_ml_deg: mean[1],
            mean_tilt_direction_deg: direction_deg(mean),
            time_in_band_percent: sums.time_in_band_percent(),
            edge_contacts: h.edge_contacts(),
            time_off_balance_s: sums.on_edge_s,
            longest_in_band_s: h.longest_in_band_s(),
            time_to_stabilise_s: h.time_to_stabilise_s(),
            corrections: h.corrections(),
            measured_s: sums.measured_s,
            samples: h.samples(),
        }
    }

    /// The score for `metrics` with `done_s` seconds of the drill measured.
    pub fn score(&self, metrics: &WobbleHoldMetrics, done_s: f64) -> f64 {
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
    pub fn live(&self) -> WobbleHoldLive {
        let metrics = self.metrics();
        let latest = self.hold.latest_tilt_deg();
        let [tilt_ap_deg, tilt_ml_deg] = latest.unwrap_or_default();
        WobbleHoldLive {
            tilt_ap_deg,
            tilt_ml_deg,
            in_band: self.hold.latest_in_band(),
            on_edge: self.hold.on_edge(),
            elapsed_s: self.hold.elapsed_s(),
            remaining_s: (self.config.duration_s - metrics.measured_s).max(0.0),
            score: self.score(&metrics, self.config.duration_s),
            time_in_band_percent: metrics.time_in_band_percent,
            edge_contacts: metrics.edge_contacts,
            time_off_balance_s: metrics.time_off_balance_s,
            settling: latest.is_none(),
            waiting: !self.hold.started(),
        }
    }

    /// Ends the drill (as [`EndReason::DataEnded`] if it had not ended) and returns its outcome.
    pub fn finish(mut self) -> WobbleHoldOutcome {
        let (end, duration_s, start_s, events, events_total) = self.hold.finish();
        let metrics = self.metrics();
        WobbleHoldOutcome {
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
    use crate::drill::{Side, START_WITHIN_S};

    /// (t µs, [AP, ML] °, [AP, ML] °/s) samples through a drill.
    fn run(
        samples: impl IntoIterator<Item = (u64, [f64; 2], [f64; 2])>,
        config: WobbleHoldConfig,
    ) -> WobbleHoldOutcome {
        let mut drill = WobbleHold::new(config);
        let mut events = Vec::new();
        for (t_us, [ap, ml], [ap_rate, ml_rate]) in samples {
            let tilt = BoardTilt {
                t_us,
                tilt_deg: ml,
                rate_deg_s: ml_rate,
                pitch_deg: ap,
                roll_deg: ml,
                pitch_rate_deg_s: ap_rate,
                roll_rate_deg_s: ml_rate,
                converging: false,
                acc_rejected: false,
                at_rest: false,
                mag_disturbed: false,
                up_in_imu: nalgebra::Vector3::z(),
            };
            drill.update(&tilt, &mut events);
        }
        drill.finish()
    }

    fn config() -> WobbleHoldConfig {
        WobbleHoldConfig {
            level: 2,
            band_deg: 5.0,
            duration_s: 10.0,
            edge_limit_deg: 15.0,
        }
    }

    #[test]
    fn measures_a_known_signal() {
        // 100 Hz; 0–4 s at (3, 4)° (size 5: in band), 4–6 s at (−6, 8)° (size 10), 6–10 s at
        // (0, −3)°.
        let signal = (0..=1000).map(|i| {
            let t = i as f64 / 100.0;
            let v = if t < 4.0 {
                [3.0, 4.0]
            } else if t < 6.0 {
                [-6.0, 8.0]
            } else {
                [0.0, -3.0]
            };
            (i * 10_000, v, [0.0, 0.0])
        });
        let out = run(signal, config());
        let m = out.metrics;
        assert_eq!(out.end, EndReason::Completed);
        assert!((m.measured_s - 10.0).abs() < 1e-9);
        assert!((m.time_in_band_percent - 80.0).abs() < 1e-6);
        let rms = ((4.0 * 25.0 + 2.0 * 100.0 + 4.0 * 9.0) / 10.0f64).sqrt();
        assert!((m.tilt_rms_deg - rms).abs() < 1e-9, "{}", m.tilt_rms_deg);
        let rms_ap = ((4.0 * 9.0 + 2.0 * 36.0) / 10.0f64).sqrt();
        let rms_ml = ((4.0 * 16.0 + 2.0 * 64.0 + 4.0 * 9.0) / 10.0f64).sqrt();
        assert!((m.tilt_rms_ap_deg - rms_ap).abs() < 1e-9);
        assert!((m.tilt_rms_ml_deg - rms_ml).abs() < 1e-9);
        // Mean (0, (4·4 + 2·8 − 4·3) / 10) = (0, 2)°: to the right.
        assert!(m.mean_tilt_ap_deg.abs() < 1e-9, "{}", m.mean_tilt_ap_deg);
        assert!((m.mean_tilt_ml_deg - 2.0).abs() < 1e-9);
        assert!((m.mean_tilt_direction_deg - 90.0).abs() < 1e-6);
        assert!((m.longest_in_band_s - 4.0).abs() < 1e-9);
        assert_eq!(m.corrections, 1);
        assert_eq!(m.edge_contacts, 0);
        assert_eq!(m.time_off_balance_s, 0.0);
        let left = out
            .events
            .iter()
            .find_map(|e| match e {
                DrillEvent::LeftBand {
                    side,
                    direction_deg,
                    ..
                } => Some((*side, *direction_deg)),
                _ => None,
            })
            .unwrap();
        // (−6, 8): ML is the larger part, to the right; the direction is back-right.
        assert_eq!(left.0, Side::Positive);
        let expected = 8f64.atan2(-6.0).to_degrees();
        assert!((left.1.unwrap() - expected).abs() < 1e-9);
    }

    /// A board falling onto its rim diagonally, rocking on it, released, then hitting the rim
    /// on the other side: two contacts, their time on the edge and a release event each. The
    /// second impact already shows in the sample before it is confirmed (60 → 50 °/s, faster
    /// than a person slows a board), so that contact begins there.
    #[test]
    fn counts_rim_contacts_and_their_time_on_the_edge() {
        let d = std::f64::consts::FRAC_1_SQRT_2;
        // (tilt's size °, rate of size °/s, direction) at 100 Hz.
        let along = |size: f64, rate: f64, dir: [f64; 2]| {
            (
                [size * dir[0], size * dir[1]],
                [rate * dir[0], rate * dir[1]],
            )
        };
        let front_left = [d, -d];
        let back = [-1.0, 0.0];
        let path = [
            along(0.0, 0.0, front_left),
            along(13.0, 40.0, front_left),
            along(14.4, 45.0, front_left),
            along(15.0, 0.0, front_left), // impact: contact 1 at 0.03 s
            along(14.6, -20.0, front_left),
            along(14.9, 25.0, front_left),
            along(15.0, 0.0, front_left), // rocking on the rim: the same contact
            along(12.5, -100.0, front_left), // released at 0.07 s
            along(10.0, -100.0, front_left),
            along(13.0, 60.0, back),
            along(14.5, 50.0, back), // the impact begins: contact 2 from 0.10 s
            along(15.0, 0.0, back),  // confirmed
            along(15.0, 0.0, back),
            along(12.0, -80.0, back), // released at 0.13 s
            along(0.0, 0.0, back),
        ];
        let signal = path
            .iter()
            .enumerate()
            .map(|(i, &(v, r))| (i as u64 * 10_000, v, r));
        let out = run(signal, config());
        let m = out.metrics;
        assert_eq!(m.edge_contacts, 2);
        // 0.03–0.07 s and 0.10–0.13 s.
        assert!(
            (m.time_off_balance_s - 0.07).abs() < 1e-9,
            "{}",
            m.time_off_balance_s
        );
        let edge_events: Vec<_> = out
            .events
            .iter()
            .filter_map(|e| match e {
                DrillEvent::EdgeContact {
                    t_s, direction_deg, ..
                } => Some(("contact", *t_s, *direction_deg)),
                DrillEvent::EdgeReleased { t_s } => Some(("released", *t_s, None)),
                _ => None,
            })
            .collect();
        assert_eq!(edge_events.len(), 4, "{edge_events:?}");
        assert_eq!(edge_events[0].0, "contact");
        assert!((edge_events[0].1 - 0.03).abs() < 1e-9);
        assert!((edge_events[0].2.unwrap() + 45.0).abs() < 1e-6);
        assert_eq!(edge_events[1].0, "released");
        assert!((edge_events[1].1 - 0.07).abs() < 1e-9);
        assert!((edge_events[2].1 - 0.10).abs() < 1e-9);
        assert!((edge_events[2].2.unwrap().abs() - 180.0).abs() < 1e-6);
        assert!((edge_events[3].1 - 0.13).abs() < 1e-9);
    }

    #[test]
    fn starts_once_the_board_is_level_and_not_before() {
        // On its rim to the right, lifted, through the band (the start at 0.04 s).
        let path = [
            [0.0, 15.0],
            [0.0, 15.0],
            [1.0, 14.0],
            [2.0, 9.0],
            [1.0, 4.0],
        ];
        let signal = path
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64 * 10_000, v, [0.0, 0.0]));
        let out = run(signal, config());
        assert!((out.start_s - 0.04).abs() < 1e-9, "{}", out.start_s);
        assert_eq!(out.metrics.samples, 1);
        assert_eq!(out.metrics.edge_contacts, 0);
        let never = (0..=(START_WITHIN_S as u64 + 1) * 10)
            .map(|i| (i * 100_000, [10.0, -11.0], [0.0, 0.0]));
        assert_eq!(run(never, config()).end, EndReason::NotStarted);
    }

    #[test]
    fn metrics_read_back_as_the_wobble_holds_not_the_rockers() {
        use crate::drill::{DrillMetrics, RockerHoldMetrics};
        let wobble = DrillMetrics::WobbleHold(WobbleHoldMetrics {
            time_off_balance_s: 1.5,
            time_to_stabilise_s: Some(0.5),
            ..Default::default()
        });
        let json = serde_json::to_string(&wobble).unwrap();
        assert_eq!(serde_json::from_str::<DrillMetrics>(&json).unwrap(), wobble);
        let rocker = DrillMetrics::RockerHold(RockerHoldMetrics::default());
        let json = serde_json::to_string(&rocker).unwrap();
        assert_eq!(serde_json::from_str::<DrillMetrics>(&json).unwrap(), rocker);
    }

    #[test]
    fn score_rewards_steadier_holds() {
        let circle = |r: f64| {
            (0..=1000).map(move |i| {
                let a = i as f64 * 0.1;
                (i * 10_000, [r * a.sin(), r * a.cos()], [0.0, 0.0])
            })
        };
        let steady = run(circle(0.8), config());
        let shaky = run(circle(6.0), config());
        assert!(steady.score > 90.0, "{}", steady.score);
        assert!(shaky.score < steady.score - 30.0);
    }
}
