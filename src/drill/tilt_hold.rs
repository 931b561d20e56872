//! What the board holds share: the rocker-board hold (one axis) and the wobble-board hold (two
//! axes) are the same drill on a tilt of one or two components.
//!
//! [`TiltHold`] is that drill's running state: it waits for the board to be brought level
//! within the band (a settled estimate), then weights each sample's tilt by zero-order hold on
//! device time ([`MAX_HELD_S`]: longer intervals are gaps and count for nothing), follows the
//! stretches within the band, detects edge contacts ([`EdgeDetector`]), gives the band cues
//! with hysteresis ([`BandCues`]) and ends once the target duration has been measured. The
//! tilt's size is its magnitude: `|tilt|` on a rocker, the tilt vector's length on a wobble
//! board, whose edge (its rim) touches the floor at the same tilt whichever way it leans.
//!
//! [`hold_score`] is their task score and [`BoardLevel`] one step of their ladders.

use serde::{Deserialize, Serialize};

use super::{DrillEvent, EndReason, EventLog, Side, MAX_HELD_S, START_WITHIN_S};

/// How far (degrees) the board must come back off its limit before another touch counts as a
/// new edge contact; a contact lasts until then (the board is "off balance").
pub const EDGE_RELEASE_DEG: f64 = 2.0;
/// The board stays this long in the band to count as stabilised, s.
pub const STABLE_S: f64 = 2.0;
/// The tilt must come this far back inside the band before a "corrected" cue, degrees (no
/// flicker of cues at the band's edge).
const BAND_HYSTERESIS_DEG: f64 = 0.5;
/// An impact counts as an edge contact within this distance of the board's limit, degrees.
pub const EDGE_ZONE_DEG: f64 = 1.0;
/// An impact: the rate towards the edge was at least this (°/s)…
const IMPACT_RATE_DEG_S: f64 = 2.5;
/// …and dropped to at most this share of it within two samples…
const IMPACT_RATE_KEPT: f64 = 0.3;
/// …a deceleration of at least this (°/s²), more than a person can produce on a board near
/// its edge (a push-off of about 4.5 rad/s², i.e. 260 °/s², with gravity against it, plus
/// motor noise).
const IMPACT_DECEL_DEG_S2: f64 = 350.0;

/// The slowest impact (°/s) the board holds count as an edge contact at `sample_rate_hz`: the
/// rate before it must be at least 2.5 °/s, and its loss within two samples more than a person
/// can decelerate a board in that time (350 °/s²): 7 °/s at 100 Hz.
pub fn impact_speed_threshold_deg_s(sample_rate_hz: f64) -> f64 {
    IMPACT_RATE_DEG_S.max(2.0 * IMPACT_DECEL_DEG_S2 / sample_rate_hz)
}

/// One level of a board hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoardLevel {
    /// Target band, ± degrees (on a wobble board: the tilt's size in any direction).
    pub band_deg: f64,
    /// Duration, s.
    pub duration_s: f64,
    /// What to do differently at this level.
    pub note: &'static str,
}

/// The level `level` (1-based) of `levels`, if it exists.
pub(super) fn level_of(levels: &[BoardLevel], level: u8) -> Option<&BoardLevel> {
    levels.get(usize::from(level).checked_sub(1)?)
}

/// A board hold's task score (0–100) for a band of ±`band_deg` held for `duration_s`, with
/// `done_s` of it done: `100 · completion · (½ · in_band + ½ · steadiness) − 5 per edge
/// contact`, clamped to 0–100, where `steadiness` = `ln(2b / rms) / ln(10)` clamped to 0–1: 1
/// at an RMS of b/5 or less, 0 at 2b or more, log-linear between (sway measures are
/// multiplicative). 0 when nothing was measured.
pub fn hold_score(
    band_deg: f64,
    duration_s: f64,
    done_s: f64,
    measured_s: f64,
    time_in_band_percent: f64,
    tilt_rms_deg: f64,
    edge_contacts: u64,
) -> f64 {
    if measured_s <= 0.0 {
        return 0.0;
    }
    let b = band_deg;
    let completion = (done_s / duration_s).clamp(0.0, 1.0);
    let in_band = time_in_band_percent / 100.0;
    let steadiness = super::log_share(tilt_rms_deg, 2.0 * b, 10.0);
    let raw = 100.0 * completion * (0.5 * in_band + 0.5 * steadiness) - 5.0 * edge_contacts as f64;
    raw.clamp(0.0, 100.0)
}

/// What a sample did at the board's edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum EdgeChange {
    /// A new edge contact was found; it began at `since_s` (this sample, or the one before
    /// when that one already showed the impact's collapse).
    Contact {
        /// When it began, s.
        since_s: f64,
    },
    /// The contact under way ended: the board came [`EDGE_RELEASE_DEG`] back off the limit.
    Released,
}

/// Edge contacts: the board's edge hit the floor. Within [`EDGE_ZONE_DEG`] of the board's
/// limit, the tilt's rate towards the edge collapsed within two samples (an impact stops a
/// board at once, and a sensor averaging over its interval spreads that over two samples; a
/// person catching it cannot decelerate it that fast), from
/// [`impact_speed_threshold_deg_s`] or faster. It counts once, and lasts, until the board is
/// brought back [`EDGE_RELEASE_DEG`] off the limit.
///
/// The rate towards the edge is the rate of the tilt's size: on a rocker the rate with the
/// tilt's sign, on a wobble board the rate vector's component along the way the board leans
/// at that sample (exactly the rate of the tilt vector's length).
///
/// A contact begins at the sample where its collapse began: the one before when that one
/// already lost speed faster than a person can slow a board (the impact fell in its interval),
/// else the sample that confirms it.
#[derive(Debug, Clone)]
pub(super) struct EdgeDetector {
    limit_deg: f64,
    /// (time s, rate towards the edge °/s) of the last two samples, oldest first, while the
    /// data is continuous.
    recent_rates: [Option<(f64, f64)>; 2],
    released: bool,
}

impl EdgeDetector {
    /// A detector for a board whose edge touches the floor at `limit_deg`, not in contact.
    pub(super) fn new(limit_deg: f64) -> Self {
        EdgeDetector {
            limit_deg,
            recent_rates: [None; 2],
            released: true,
        }
    }

    /// True while a contact is under way (not yet released).
    pub(super) fn in_contact(&self) -> bool {
        !self.released
    }

    /// Takes one sample at `t_s`: the tilt's size `magnitude_deg` and its rate towards the
    /// edge; `continuous` is false after a gap.
    pub(super) fn update(
        &mut self,
        t_s: f64,
        continuous: bool,
        magnitude_deg: f64,
        towards_edge_deg_s: f64,
    ) -> Option<EdgeChange> {
        if !continuous {
            self.recent_rates = [None; 2];
        }
        let towards_edge = towards_edge_deg_s;
        let (impact, since_s) = match self.recent_rates {
            [Some((t_oldest, r_oldest)), Some((t_last, r_last))] => {
                let was_towards_edge = r_oldest.max(r_last);
                let impact = was_towards_edge >= IMPACT_RATE_DEG_S
                    && towards_edge <= IMPACT_RATE_KEPT * was_towards_edge
                    && (was_towards_edge - towards_edge) >= IMPACT_DECEL_DEG_S2 * (t_s - t_oldest);
                let began_last = r_oldest - r_last >= IMPACT_DECEL_DEG_S2 * (t_last - t_oldest);
                (impact, if began_last { t_last } else { t_s })
            }
            _ => (false, t_s),
        };
        self.recent_rates = [self.recent_rates[1], Some((t_s, towards_edge))];
        if self.released && impact && magnitude_deg >= self.limit_deg - EDGE_ZONE_DEG {
            self.released = false;
            Some(EdgeChange::Contact { since_s })
        } else if magnitude_deg < self.limit_deg - EDGE_RELEASE_DEG && !self.released {
            self.released = true;
            Some(EdgeChange::Released)
        } else {
            None
        }
    }
}

/// Leaving and coming back into the band, for cues: out as soon as the tilt's size passes the
/// band, back once it is [`BAND_HYSTERESIS_DEG`] inside it (no flicker of cues at its edge).
#[derive(Debug, Clone)]
pub(super) struct BandCues {
    shown_in_band: bool,
    corrections: u64,
}

/// A band cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BandChange {
    /// The tilt left the band.
    Left,
    /// It came back: the user corrected.
    Corrected,
}

impl BandCues {
    /// Cues for a hold that starts in the band.
    pub(super) fn new() -> Self {
        BandCues {
            shown_in_band: true,
            corrections: 0,
        }
    }

    /// Times the user came back into the band after leaving it.
    pub(super) fn corrections(&self) -> u64 {
        self.corrections
    }

    /// Takes the tilt's size now against a band of ±`band_deg`.
    pub(super) fn update(&mut self, magnitude_deg: f64, band_deg: f64) -> Option<BandChange> {
        if self.shown_in_band && magnitude_deg > band_deg {
            self.shown_in_band = false;
            Some(BandChange::Left)
        } else if !self.shown_in_band && magnitude_deg <= band_deg - BAND_HYSTERESIS_DEG {
            self.shown_in_band = true;
            self.corrections += 1;
            Some(BandChange::Corrected)
        } else {
            None
        }
    }
}

/// How many components the tilt has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Axes {
    /// A rocker: `[tilt, 0]`; events carry the tilt's side.
    One,
    /// A wobble board: `[AP, ML]`; events also carry the direction, and a contact's end is an
    /// event.
    Two,
}

/// One tilt sample for a hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TiltSample {
    /// Device time, µs.
    pub t_us: u64,
    /// The estimate is still settling.
    pub converging: bool,
    /// The tilt, degrees (`[tilt, 0]` on a rocker).
    pub tilt_deg: [f64; 2],
    /// Its rate, °/s.
    pub rate_deg_s: [f64; 2],
}

/// Time-weighted sums over the hold.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HoldSums {
    /// Time covered by data (gaps excluded), s.
    pub measured_s: f64,
    /// Of it within the band, s.
    pub in_band_s: f64,
    /// ∫ |tilt|² dt, deg²·s.
    pub sq_deg2_s: f64,
    /// ∫ tilt_i² dt per component, deg²·s.
    pub sq_axis_deg2_s: [f64; 2],
    /// ∫ tilt_i dt per component, deg·s.
    pub axis_deg_s: [f64; 2],
    /// Time during edge contacts, s.
    pub on_edge_s: f64,
}

impl HoldSums {
    /// √(∫x² / T), 0 when nothing was measured.
    pub fn rms(&self, sq: f64) -> f64 {
        if self.measured_s > 0.0 {
            (sq / self.measured_s).sqrt()
        } else {
            0.0
        }
    }

    /// ∫x / T, 0 when nothing was measured.
    pub fn mean(&self, sum: f64) -> f64 {
        if self.measured_s > 0.0 {
            sum / self.measured_s
        } else {
            0.0
        }
    }

    /// Share of the time within the band, %.
    pub fn time_in_band_percent(&self) -> f64 {
        if self.measured_s > 0.0 {
            100.0 * self.in_band_s / self.measured_s
        } else {
            0.0
        }
    }
}

/// The running board hold (see the module docs): tilt samples in, events out.
#[derive(Debug, Clone)]
pub(super) struct TiltHold {
    axes: Axes,
    band_deg: f64,
    duration_s: f64,
    first_settled_us: Option<u64>,
    t0_us: Option<u64>,
    latest_tilt_deg: Option<[f64; 2]>,
    prev: Option<(f64, [f64; 2])>,
    sums: HoldSums,
    samples: u64,
    run_start_s: Option<f64>,
    longest_run_s: f64,
    time_to_stabilise_s: Option<f64>,
    edge: EdgeDetector,
    edge_contacts: u64,
    band: BandCues,
    events: EventLog,
    end: Option<(EndReason, f64)>,
}

impl TiltHold {
    /// A hold of ±`band_deg` for `duration_s` on a board whose edge touches at
    /// `edge_limit_deg`, waiting for its first settled sample.
    pub(super) fn new(axes: Axes, band_deg: f64, duration_s: f64, edge_limit_deg: f64) -> Self {
        TiltHold {
            axes,
            band_deg,
            duration_s,
            first_settled_us: None,
            t0_us: None,
            latest_tilt_deg: None,
            prev: None,
            sums: HoldSums::default(),
            samples: 0,
            run_start_s: None,
            longest_run_s: 0.0,
            time_to_stabilise_s: None,
            edge: EdgeDetector::new(edge_limit_deg),
            edge_contacts: 0,
            band: BandCues::new(),
            events: EventLog::default(),
            end: None,
        }
    }

    /// The tilt's size.
    fn magnitude(&self, tilt_deg: [f64; 2]) -> f64 {
        match self.axes {
            Axes::One => tilt_deg[0].abs(),
            Axes::Two => tilt_deg[0].hypot(tilt_deg[1]),
        }
    }

    /// The side of a tilt (on a wobble board, of its larger component) and, on a wobble
    /// board, its direction.
    fn side_and_direction(&self, tilt_deg: [f64; 2]) -> (Side, Option<f64>) {
        match self.axes {
            Axes::One => (Side::of(tilt_deg[0]), None),
            Axes::Two => {
                let [ap, ml] = tilt_deg;
                let side = Side::of(if ap.abs() >= ml.abs() { ap } else { ml });
                (side, Some(direction_deg(tilt_deg)))
            }
        }
    }

    /// True once it has ended.
    pub(super) fn is_done(&self) -> bool {
        self.end.is_some()
    }

    fn emit(&mut self, event: DrillEvent, out: &mut Vec<DrillEvent>) {
        self.events.emit(event, out);
    }

    /// Takes one tilt sample; appends the events it causes to `out`.
    pub(super) fn update(&mut self, sample: &TiltSample, out: &mut Vec<DrillEvent>) {
        if self.end.is_some() {
            return;
        }
        if sample.converging && self.t0_us.is_none() {
            return;
        }
        self.latest_tilt_deg = Some(sample.tilt_deg);
        let value = sample.tilt_deg;
        let magnitude = self.magnitude(value);
        let band = self.band_deg;
        let t0_us = match self.t0_us {
            Some(t0) => t0,
            None => {
                let first = *self.first_settled_us.get_or_insert(sample.t_us);
                if sample.t_us.saturating_sub(first) as f64 * 1e-6 > START_WITHIN_S {
                    self.end_at(EndReason::NotStarted, 0.0, out);
                    return;
                }
                if magnitude > band {
                    return;
                }
                *self.t0_us.insert(sample.t_us)
            }
        };
        let t_s = sample.t_us.saturating_sub(t0_us) as f64 * 1e-6;
        let inside = magnitude <= band;
        self.samples += 1;

        let mut continuous = false;
        if let Some((prev_t, prev_value)) = self.prev {
            let dt = t_s - prev_t;
            if dt <= MAX_HELD_S {
                continuous = true;
                let prev_magnitude = self.magnitude(prev_value);
                let s = &mut self.sums;
                s.measured_s += dt;
                s.sq_deg2_s += prev_magnitude * prev_magnitude * dt;
                for (i, v) in prev_value.iter().enumerate() {
                    s.sq_axis_deg2_s[i] += v * v * dt;
                    s.axis_deg_s[i] += v * dt;
                }
                if prev_magnitude <= band {
                    s.in_band_s += dt;
                }
                if self.edge.in_contact() {
                    s.on_edge_s += dt;
                }
            }
        }
        self.prev = Some((t_s, value));

        // Stretches within the band.
        if !inside {
            self.run_start_s = None;
        } else if !continuous || self.run_start_s.is_none() {
            self.run_start_s = Some(t_s);
        }
        if let Some(start) = self.run_start_s {
            let run = t_s - start;
            self.longest_run_s = self.longest_run_s.max(run);
            if run >= STABLE_S && self.time_to_stabilise_s.is_none() {
                self.time_to_stabilise_s = Some(start);
                self.emit(DrillEvent::Stabilised { t_s }, out);
            }
        }

        // Edge contacts: the rate of the tilt's size, along the way the board leans.
        let rate = sample.rate_deg_s;
        let towards_edge = match self.axes {
            Axes::One => rate[0] * value[0].signum(),
            Axes::Two if magnitude > 0.0 => (rate[0] * value[0] + rate[1] * value[1]) / magnitude,
            Axes::Two => 0.0,
        };
        match self.edge.update(t_s, continuous, magnitude, towards_edge) {
            Some(EdgeChange::Contact { since_s }) => {
                self.edge_contacts += 1;
                // Off balance from the impact's sample; a wobble board's event is dated there
                // too (the rocker's stays at the sample that confirmed it).
                self.sums.on_edge_s += t_s - since_s;
                let (side, direction_deg) = self.side_and_direction(value);
                let t_s = match self.axes {
                    Axes::One => t_s,
                    Axes::Two => since_s,
                };
                self.emit(
                    DrillEvent::EdgeContact {
                        t_s,
                        side,
                        direction_deg,
                    },
                    out,
                );
            }
            Some(EdgeChange::Released) if self.axes == Axes::Two => {
                self.emit(DrillEvent::EdgeReleased { t_s }, out);
            }
            Some(EdgeChange::Released) | None => {}
        }

        // Leaving and coming back into the band, for cues.
        match self.band.update(magnitude, band) {
            Some(BandChange::Left) => {
                let (side, direction_deg) = self.side_and_direction(value);
                self.emit(
                    DrillEvent::LeftBand {
                        t_s,
                        side,
                        direction_deg,
                    },
                    out,
                );
            }
            Some(BandChange::Corrected) => self.emit(DrillEvent::Corrected { t_s }, out),
            None => {}
        }

        if self.sums.measured_s >= self.duration_s {
            self.end_at(EndReason::Completed, t_s, out);
        }
    }

    /// Ends the hold now (user stop, pain stop, link lost).
    pub(super) fn stop(&mut self, reason: EndReason, out: &mut Vec<DrillEvent>) {
        if self.end.is_none() {
            let t_s = self.prev.map_or(0.0, |(t, _)| t);
            self.end_at(reason, t_s, out);
        }
    }

    fn end_at(&mut self, reason: EndReason, t_s: f64, out: &mut Vec<DrillEvent>) {
        self.end = Some((reason, t_s));
        self.emit(DrillEvent::Ended { t_s, reason }, out);
    }

    /// The time-weighted sums so far.
    pub(super) fn sums(&self) -> &HoldSums {
        &self.sums
    }

    /// Samples used since the start.
    pub(super) fn samples(&self) -> u64 {
        self.samples
    }

    /// Edge contacts so far.
    pub(super) fn edge_contacts(&self) -> u64 {
        self.edge_contacts
    }

    /// True while an edge contact is under way.
    pub(super) fn on_edge(&self) -> bool {
        self.edge.in_contact()
    }

    /// Times the user came back into the band.
    pub(super) fn corrections(&self) -> u64 {
        self.band.corrections()
    }

    /// The longest continuous stretch within the band, s.
    pub(super) fn longest_in_band_s(&self) -> f64 {
        self.longest_run_s
    }

    /// When the first [`STABLE_S`] stretch within the band began, s.
    pub(super) fn time_to_stabilise_s(&self) -> Option<f64> {
        self.time_to_stabilise_s
    }

    /// The latest settled tilt, if any.
    pub(super) fn latest_tilt_deg(&self) -> Option<[f64; 2]> {
        self.latest_tilt_deg
    }

    /// The latest tilt is within the band (also before any).
    pub(super) fn latest_in_band(&self) -> bool {
        self.magnitude(self.latest_tilt_deg.unwrap_or_default()) <= self.band_deg
    }

    /// Seconds since the start (of the latest sample).
    pub(super) fn elapsed_s(&self) -> f64 {
        self.prev.map_or(0.0, |(t, _)| t)
    }

    /// True once the hold has started (the board was brought level).
    pub(super) fn started(&self) -> bool {
        self.t0_us.is_some()
    }

    /// Ends the hold (as [`EndReason::DataEnded`] if it had not ended); returns why and when it
    /// ended, when it started on the stream's time line (s), and its events (kept, total).
    pub(super) fn finish(&mut self) -> (EndReason, f64, f64, Vec<DrillEvent>, u64) {
        let mut sink = Vec::new();
        self.stop(EndReason::DataEnded, &mut sink);
        let (end, duration_s) = self.end.unwrap_or((EndReason::DataEnded, 0.0));
        let events = std::mem::take(&mut self.events);
        (
            end,
            duration_s,
            self.t0_us.unwrap_or(0) as f64 * 1e-6,
            events.kept,
            events.total,
        )
    }
}

/// The direction a tilt `[AP, ML]` leans, degrees clockwise from forward seen from above: 0
/// forward, 90 right, ±180 back, −90 left.
pub fn direction_deg([ap, ml]: [f64; 2]) -> f64 {
    ml.atan2(ap).to_degrees()
}
