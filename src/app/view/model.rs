//! What the live view shows, and when: a model of the screen, updated from the session's live
//! status, the drill's events, the link's news and the host clock, with no terminal in it.
//! `draw.rs` turns it into a frame; both are tested without a terminal.
//!
//! The rules it keeps:
//! - The headline (the big block) says, in order of precedence: the drill has ended; the link
//!   is lost for good; the drill is paused while the link is down (and why); the device has not
//!   introduced itself; the controlled quantity is out of its band (out of the band, foot down,
//!   trunk leaning); a moment of "corrected" (or a target reached or missed); what to do before
//!   the hold runs; the good state (in band, hold still, on target).
//! - Out and back come from the drill's own events where it has them (their hysteresis keeps
//!   the cues from flickering at the band's edge); the walk's lean is judged on its live value
//!   here, with the same kind of hysteresis.
//! - Sound: one bell on leaving the band (or a foot down, a trunk leaning, a target missed),
//!   two bells [`BELL_GAP_US`] apart on coming back (or a target reached); only with the sound
//!   cue on. Without the visual cue the headline shows what to do but not in or out.

use std::collections::VecDeque;

use crate::app::output::{direction_words, end_words};
use crate::cues::CueKinds;
use crate::drill::{
    direction_deg, DrillEvent, EndReason, MisstepReason, ShiftPhase, Side, StancePhase, StanceTask,
    WalkPhase, LATERAL_MISSTEP_DEG, LOS_BACK_MM, LOS_FORWARD_MM, LOS_SIDEWAYS_MM,
};
use crate::session::{DrillLive, LiveStatus};

/// How long "corrected" (or a target's verdict) stays up, µs.
pub const CORRECTED_FLASH_US: u64 = 1_500_000;
/// With the link up, data older than this is flagged on the connection line, µs.
pub const DATA_AGE_WARN_US: u64 = 500_000;
/// The second bell of "back in the band" follows the first after this, µs (two bells rung at
/// once sound as one).
pub const BELL_GAP_US: u64 = 200_000;
/// Event marks kept on the screen, newest first.
pub const MARKS_SHOWN: usize = 3;
/// The standing drills' sway view: ± this from where the hold started, mm.
pub const SWAY_VIEW_MM: f64 = 30.0;
/// …with a ring this wide around the start, as a guide to standing still, mm.
pub const STEADY_RING_MM: f64 = 10.0;
/// The trunk's views (neutral spine, walk): ± this, degrees.
pub const TRUNK_VIEW_DEG: f64 = 15.0;
/// Quiet stance on the wearable: the "steady" ring around the starting posture, degrees.
pub const STEADY_LEAN_DEG: f64 = 2.0;
/// A walker's lean is over once it is this far back inside the band, degrees.
pub const WALK_HYSTERESIS_DEG: f64 = 0.5;

/// The keys, always on the screen.
pub const KEYS: [(&str, &str); 2] = [("p", "STOP, IT HURTS"), ("q / Esc", "stop")];

/// The tone of what is shown: its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// In the band, on target.
    Good,
    /// Out of the band; a fault.
    Bad,
    /// Back in the band, for a moment.
    Corrected,
    /// Something to do: get ready, go to a target.
    Prompt,
    /// The drill waits for the link.
    Paused,
    /// Information.
    Plain,
}

/// The big block: the state of the controlled quantity, readable from two steps away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    /// Its colour.
    pub tone: Tone,
    /// A word or two, in capitals.
    pub big: String,
    /// What to do, in a sentence.
    pub detail: String,
}

impl Headline {
    fn new(tone: Tone, big: &str, detail: impl Into<String>) -> Self {
        Headline {
            tone,
            big: big.to_string(),
            detail: detail.into(),
        }
    }
}

/// The outline of a COP view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outline {
    /// A square of ± this many mm (the sway view).
    Square(f64),
    /// The limits of stability around the user's centre: forward, back, either side, mm (the
    /// part of the base of support the weight can be leaned over).
    Limits {
        /// Forward of the centre, mm.
        forward_mm: f64,
        /// Backward of the centre, mm.
        back_mm: f64,
        /// To either side, mm.
        side_mm: f64,
    },
}

/// The large gauge of the drill's controlled quantity.
#[derive(Debug, Clone, PartialEq)]
pub enum Gauge {
    /// A signed reading on a line from −`limit` to +`limit`, the band ±`band` around 0.
    Line {
        /// The reading.
        value: f64,
        /// The band's half-width.
        band: f64,
        /// The line's ends.
        limit: f64,
        /// What the two ends mean (left, right), or empty.
        ends: [&'static str; 2],
        /// The reading in words and numbers.
        caption: String,
        /// The reading is inside the band.
        in_band: bool,
    },
    /// A point `[x right, y forward]` on a plane, with the band's circle and the outer limit's.
    Plane {
        /// The point.
        point: [f64; 2],
        /// The band's radius.
        band: f64,
        /// The outer circle's radius (a wobble board's rim; the view's edge).
        limit: f64,
        /// The reading in words and numbers.
        caption: String,
        /// The point is inside the band.
        in_band: bool,
    },
    /// The centre of pressure's offset `[x right, y forward]`, mm, in an outline, with a ring
    /// (the target; the steady ring; the middle on the way back).
    Cop {
        /// The COP's offset, while someone stands on the board.
        point: Option<[f64; 2]>,
        /// The outline.
        outline: Outline,
        /// A ring: centre `[x, y]` and radius, mm.
        ring: Option<([f64; 2], f64)>,
        /// The reading in words and numbers.
        caption: String,
        /// The COP is inside the ring.
        on_ring: bool,
    },
}

/// A number shown large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigNumber {
    /// Digits.
    pub value: String,
    /// What it is, with the number and its unit (also the small screen's form).
    pub caption: String,
}

/// Something that happened, shown for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Host time when it was noted, µs.
    pub at_us: u64,
    /// Its colour.
    pub tone: Tone,
    /// What happened.
    pub text: String,
}

/// The controlled quantity's state, from the drill's events.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Band {
    In,
    Out { big: &'static str, hint: String },
}

/// A headline shown for a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flash {
    headline: Headline,
    until_us: u64,
}

/// The live view's model.
#[derive(Debug, Clone)]
pub struct UiState {
    link: String,
    cues: CueKinds,
    live: LiveStatus,
    now_us: u64,
    band: Band,
    flash: Option<Flash>,
    marks: VecDeque<Mark>,
    /// Why the link went down, while it is down.
    down_reason: Option<String>,
    /// Why the link was lost for good.
    lost: Option<String>,
    ended: Option<EndReason>,
    /// Host times at which to ring the bell.
    bells_due_us: Vec<u64>,
    walk_leaning: bool,
}

impl UiState {
    /// The model of a drill whose status is `live` now, on the link described as `link`.
    pub fn new(link: String, cues: CueKinds, live: LiveStatus, now_us: u64) -> Self {
        UiState {
            link,
            cues,
            live,
            now_us,
            band: Band::In,
            flash: None,
            marks: VecDeque::new(),
            down_reason: None,
            lost: None,
            ended: None,
            bells_due_us: Vec::new(),
            walk_leaning: false,
        }
    }

    /// Takes the session's status now and the drill's events since the last update.
    pub fn update(&mut self, live: LiveStatus, events: &[DrillEvent], now_us: u64) {
        self.live = live;
        self.now_us = now_us;
        for event in events {
            self.on_event(event);
        }
        self.follow_walk_lean();
        if self.flash.as_ref().is_some_and(|f| now_us >= f.until_us) {
            self.flash = None;
        }
    }

    /// The link went down (the drill pauses until it is back).
    pub fn link_down(&mut self, reason: &str, now_us: u64) {
        self.now_us = now_us;
        self.down_reason = Some(reason.to_string());
        self.mark(Tone::Paused, format!("link lost ({reason}): reconnecting"));
    }

    /// The link is back.
    pub fn link_up(&mut self, now_us: u64) {
        self.now_us = now_us;
        if self.down_reason.take().is_some() {
            self.mark(Tone::Good, "reconnected: carry on".into());
        }
    }

    /// The link is lost for good.
    pub fn link_lost(&mut self, reason: &str, now_us: u64) {
        self.now_us = now_us;
        self.lost = Some(reason.to_string());
        self.mark(Tone::Bad, format!("link lost for good: {reason}"));
    }

    /// How many times to ring the bell now (and forgets them).
    pub fn take_bells(&mut self) -> usize {
        let now_us = self.now_us;
        let before = self.bells_due_us.len();
        self.bells_due_us.retain(|&due| due > now_us);
        before - self.bells_due_us.len()
    }

    /// True when the drill runs with the wearable on the lower back (no board to step off).
    fn worn(&self) -> bool {
        matches!(
            self.live.drill,
            DrillLive::WearableStance(_)
                | DrillLive::TandemWalk(_)
                | DrillLive::NeutralSpine { .. }
        )
    }

    /// The cues the user chose.
    pub fn cues(&self) -> CueKinds {
        self.cues
    }

    fn on_event(&mut self, event: &DrillEvent) {
        match *event {
            DrillEvent::LeftBand {
                side,
                direction_deg,
                ..
            } => {
                let hint = match (&self.live.drill, direction_deg) {
                    (_, Some(direction)) => format!(
                        "leaning towards {}: bring that side up",
                        direction_words(direction)
                    ),
                    (DrillLive::NeutralSpine { .. }, None) => {
                        "ease back to your neutral".to_string()
                    }
                    (_, None) => format!("bring the {} side up", side_word(side)),
                };
                self.mark(Tone::Bad, format!("out of the band: {hint}"));
                self.go_out("OUT OF BAND", hint);
            }
            DrillEvent::Corrected { .. } => {
                self.mark(Tone::Corrected, "corrected: back in the band".into());
                self.come_back("CORRECTED", "back in the band: keep it there");
            }
            DrillEvent::TouchDown { .. } => {
                self.mark(Tone::Bad, "touch-down: the free foot is down".into());
                self.go_out("FOOT DOWN", "lift it again when you are ready".into());
            }
            DrillEvent::FootUp { .. } => {
                self.mark(Tone::Corrected, "foot up: back on one leg".into());
                self.come_back("FOOT UP", "back on one leg: hold it");
            }
            DrillEvent::EdgeContact {
                direction_deg: Some(direction),
                ..
            } => self.mark(
                Tone::Bad,
                format!(
                    "edge contact: the rim touched at {}",
                    direction_words(direction)
                ),
            ),
            DrillEvent::EdgeContact { side, .. } => self.mark(
                Tone::Bad,
                format!(
                    "edge contact: the {} edge touched the floor",
                    side_word(side)
                ),
            ),
            DrillEvent::EdgeReleased { .. } => {
                self.mark(Tone::Plain, "off the rim again: bring it level".into())
            }
            DrillEvent::Stabilised { .. } => self.mark(Tone::Good, "stable: keep it there".into()),
            DrillEvent::SteppedOff { .. } => {
                let what = if self.worn() {
                    "lost balance: you stepped"
                } else {
                    "stepped off the board"
                };
                self.mark(Tone::Bad, what.into());
                self.ring(1);
            }
            DrillEvent::HoldBroken { .. } => self.mark(
                Tone::Bad,
                "hold broken (out over a second): ease back to your neutral".into(),
            ),
            DrillEvent::Misstep { reason, .. } => {
                let why = match reason {
                    MisstepReason::LateralExcursion => "the trunk leaned to the side",
                    MisstepReason::SlowStep => "a slow step",
                };
                self.mark(Tone::Bad, format!("misstep: {why}"));
            }
            DrillEvent::Stopped { .. } => self.mark(Tone::Bad, "stopped walking".into()),
            DrillEvent::TargetShown {
                target, direction, ..
            } => self.mark(
                Tone::Prompt,
                format!("target {target}: lean {}", direction.words()),
            ),
            DrillEvent::TargetReached {
                target,
                time_to_reach_s,
                ..
            } => {
                self.mark(
                    Tone::Good,
                    format!("target {target} reached in {time_to_reach_s:.1} s"),
                );
                self.flash(Tone::Corrected, "REACHED", "back to the middle");
                self.ring(2);
            }
            DrillEvent::TargetMissed { target, .. } => {
                self.mark(Tone::Bad, format!("target {target} missed"));
                self.flash(Tone::Bad, "MISSED", "back to the middle");
                self.ring(1);
            }
            DrillEvent::Ended { reason, .. } => {
                self.ended = Some(reason);
                self.mark(Tone::Plain, end_words(reason, self.worn()).to_string());
            }
            // A walk's steps are counted on the big number; the rest are the result's.
            DrillEvent::Step { .. } => {}
        }
    }

    /// The walker's trunk leaning past the misstep line, and back.
    fn follow_walk_lean(&mut self) {
        let DrillLive::TandemWalk(walk) = &self.live.drill else {
            return;
        };
        let (WalkPhase::Walking, Some(lateral_deg)) = (walk.phase, walk.lateral_deg) else {
            return;
        };
        if !self.walk_leaning && lateral_deg.abs() > LATERAL_MISSTEP_DEG {
            self.walk_leaning = true;
            self.mark(
                Tone::Bad,
                format!("trunk leaning {lateral_deg:+.0}° to the side"),
            );
            self.go_out("LEANING", "straighten up over your feet".into());
        } else if self.walk_leaning
            && lateral_deg.abs() <= LATERAL_MISSTEP_DEG - WALK_HYSTERESIS_DEG
        {
            self.walk_leaning = false;
            self.mark(Tone::Corrected, "trunk upright again".into());
            self.come_back("UPRIGHT", "trunk upright again: walk on");
        }
    }

    fn go_out(&mut self, big: &'static str, hint: String) {
        self.band = Band::Out { big, hint };
        self.flash = None;
        self.ring(1);
    }

    fn come_back(&mut self, big: &str, detail: &str) {
        self.band = Band::In;
        self.flash(Tone::Corrected, big, detail);
        self.ring(2);
    }

    fn flash(&mut self, tone: Tone, big: &str, detail: &str) {
        self.flash = Some(Flash {
            headline: Headline::new(tone, big, detail),
            until_us: self.now_us + CORRECTED_FLASH_US,
        });
    }

    fn ring(&mut self, times: u64) {
        if self.cues.sound {
            let now_us = self.now_us;
            self.bells_due_us
                .extend((0..times).map(|i| now_us + i * BELL_GAP_US));
        }
    }

    fn mark(&mut self, tone: Tone, text: String) {
        self.marks.push_front(Mark {
            at_us: self.now_us,
            tone,
            text,
        });
        self.marks.truncate(MARKS_SHOWN);
    }

    /// The title line: the drill, its level, its band.
    pub fn title(&self) -> String {
        let level = self.live.level;
        let drill = match &self.live.drill {
            DrillLive::RockerHold { band_deg, .. } => {
                format!("rocker-board hold · level {level} · band ±{band_deg:.0}°")
            }
            DrillLive::WobbleHold { band_deg, .. } => {
                format!("wobble-board hold · level {level} · band {band_deg:.0}° any way")
            }
            DrillLive::QuietStance(d) => format!("{} · level {level}", stance_title(d.task)),
            DrillLive::WearableStance(_) => format!("quiet stance on the wearable · level {level}"),
            DrillLive::WeightShift(_) => format!("weight shift · level {level}"),
            DrillLive::TandemWalk(_) => format!("heel-to-toe walk · level {level}"),
            DrillLive::NeutralSpine { band_deg, .. } => {
                format!("neutral-spine hold · level {level} · band ±{band_deg:.0}°")
            }
        };
        format!("proprio · {drill}")
    }

    /// The big block.
    pub fn headline(&self) -> Headline {
        if let Some(reason) = self.ended {
            let big = match reason {
                EndReason::Completed => "DONE",
                EndReason::PainStop => "PAIN STOP",
                _ => "STOPPED",
            };
            return Headline::new(Tone::Plain, big, end_words(reason, self.worn()));
        }
        if let Some(reason) = &self.lost {
            return Headline::new(Tone::Bad, "LINK LOST", reason.clone());
        }
        if let Some(since_us) = self.live.link_down_since_us {
            let down_s = self.now_us.saturating_sub(since_us) as f64 * 1e-6;
            let why = self.down_reason.as_deref().unwrap_or("no data");
            return Headline::new(
                Tone::Paused,
                "PAUSED",
                format!("link lost ({why}); reconnecting for {down_s:.0} s, the drill waits"),
            );
        }
        if !self.live.device_known {
            return Headline::new(
                Tone::Prompt,
                "WAIT",
                "waiting for the device to introduce itself…",
            );
        }
        if self.cues.visual {
            if let Band::Out { big, hint } = &self.band {
                return Headline::new(Tone::Bad, big, hint.clone());
            }
            if let Some(flash) = &self.flash {
                return flash.headline.clone();
            }
        }
        let headline = self.drill_headline();
        if !self.cues.visual && matches!(headline.tone, Tone::Good) {
            // Without the visual cue the block says what to do, not whether it is done.
            return Headline::new(Tone::Plain, "HOLD", headline.detail);
        }
        headline
    }

    /// The drill's own state: what to do before the hold, or the good state.
    fn drill_headline(&self) -> Headline {
        match &self.live.drill {
            DrillLive::RockerHold { live: d, .. } => board_headline(d.settling, d.waiting),
            DrillLive::WobbleHold { live: d, .. } => board_headline(d.settling, d.waiting),
            DrillLive::QuietStance(d) => {
                let load = d
                    .load_kg
                    .map_or(String::new(), |kg| format!(" ({kg:.0} kg on the board)"));
                match d.phase {
                    StancePhase::Taring => {
                        Headline::new(Tone::Prompt, "STAY OFF", "stay off the board: taring…")
                    }
                    StancePhase::StepOn => Headline::new(
                        Tone::Prompt,
                        "STEP ON",
                        "step onto the board, feet as the level says",
                    ),
                    StancePhase::Settling => {
                        Headline::new(Tone::Prompt, "STAND STILL", format!("stand still…{load}"))
                    }
                    StancePhase::Holding | StancePhase::Ended => match d.task {
                        StanceTask::SingleLeg => {
                            Headline::new(Tone::Good, "HOLD", "on one leg, as still as you can")
                        }
                        _ => Headline::new(Tone::Good, "HOLD STILL", "as still as you can"),
                    },
                }
            }
            DrillLive::WearableStance(d) => match d.phase {
                StancePhase::Holding | StancePhase::Ended => {
                    Headline::new(Tone::Good, "HOLD STILL", "as still as you can")
                }
                _ => Headline::new(
                    Tone::Prompt,
                    "STAND STILL",
                    "stand still, as the level says: the hold starts when you are steady",
                ),
            },
            DrillLive::WeightShift(d) => match d.phase {
                ShiftPhase::Taring => {
                    Headline::new(Tone::Prompt, "STAY OFF", "stay off the board: taring…")
                }
                ShiftPhase::StepOn => Headline::new(
                    Tone::Prompt,
                    "STEP ON",
                    "step onto the board, feet hip-width apart",
                ),
                ShiftPhase::Settling => Headline::new(Tone::Prompt, "STAND STILL", "stand still…"),
                ShiftPhase::Centring => Headline::new(
                    Tone::Prompt,
                    "STAND STILL",
                    "in the middle: finding your centre…",
                ),
                ShiftPhase::Target => match d.target {
                    Some(_) if d.on_goal => Headline::new(Tone::Good, "ON TARGET", "hold it there"),
                    Some(t) => Headline::new(
                        Tone::Prompt,
                        &format!("TARGET {}", t.number),
                        format!("lean {}, both feet flat", t.direction.words()),
                    ),
                    None => Headline::new(Tone::Prompt, "TARGET", "lean to the target"),
                },
                ShiftPhase::Return if d.on_goal => {
                    Headline::new(Tone::Good, "IN THE MIDDLE", "stand still")
                }
                ShiftPhase::Return => Headline::new(
                    Tone::Prompt,
                    "BACK TO THE MIDDLE",
                    "come back to your centre",
                ),
                ShiftPhase::Ended => Headline::new(Tone::Plain, "DONE", "all targets shown"),
            },
            DrillLive::TandemWalk(d) => match d.phase {
                WalkPhase::Waiting => Headline::new(
                    Tone::Prompt,
                    "STAND STILL",
                    "one foot in front of the other, then walk heel to toe",
                ),
                WalkPhase::Walking => {
                    Headline::new(Tone::Good, "WALK", "heel to toe, trunk upright")
                }
                WalkPhase::Done => Headline::new(Tone::Plain, "DONE", "the walk is over"),
            },
            DrillLive::NeutralSpine { live: d, .. } => {
                if d.capturing || d.deviation_deg.is_none() {
                    Headline::new(
                        Tone::Prompt,
                        "FIND NEUTRAL",
                        "stand still in your neutral: capturing it…",
                    )
                } else {
                    Headline::new(Tone::Good, "IN BAND", "hold your neutral")
                }
            }
        }
    }

    /// The large gauge, once there is a reading worth showing.
    pub fn gauge(&self) -> Option<Gauge> {
        if !self.live.device_known {
            return None;
        }
        match &self.live.drill {
            DrillLive::RockerHold {
                live: d,
                band_deg,
                edge_limit_deg,
            } => (!d.settling).then(|| Gauge::Line {
                value: d.tilt_deg,
                band: *band_deg,
                limit: *edge_limit_deg,
                ends: ["left side down", "right side down"],
                caption: format!(
                    "board tilt {:+.1}° · band ±{band_deg:.0}° · edge at ±{edge_limit_deg:.0}°",
                    d.tilt_deg
                ),
                in_band: d.in_band,
            }),
            DrillLive::WobbleHold {
                live: d,
                band_deg,
                edge_limit_deg,
            } => (!d.settling).then(|| {
                let size = d.tilt_ap_deg.hypot(d.tilt_ml_deg);
                Gauge::Plane {
                    point: [d.tilt_ml_deg, d.tilt_ap_deg],
                    band: *band_deg,
                    limit: *edge_limit_deg,
                    caption: format!(
                        "board tilt {size:.1}° towards {} · band {band_deg:.0}° · rim at {edge_limit_deg:.0}°",
                        direction_words(direction_deg([d.tilt_ap_deg, d.tilt_ml_deg]))
                    ),
                    in_band: d.in_band,
                }
            }),
            DrillLive::NeutralSpine { live: d, band_deg } => {
                let [flexion, lateral] = d.deviation_deg.filter(|_| !d.capturing)?;
                Some(Gauge::Plane {
                    point: [lateral, flexion],
                    band: *band_deg,
                    limit: TRUNK_VIEW_DEG,
                    caption: format!(
                        "trunk from neutral: forward {flexion:+.1}° · to the right {lateral:+.1}° · band {band_deg:.0}°"
                    ),
                    in_band: d.in_band,
                })
            }
            DrillLive::TandemWalk(d) => {
                let lateral_deg = d.lateral_deg.filter(|_| d.phase == WalkPhase::Walking)?;
                Some(Gauge::Line {
                    value: lateral_deg,
                    band: LATERAL_MISSTEP_DEG,
                    limit: TRUNK_VIEW_DEG,
                    ends: ["", ""],
                    caption: format!(
                        "trunk sway {lateral_deg:+.1}° to the side · a misstep past ±{LATERAL_MISSTEP_DEG:.0}°"
                    ),
                    in_band: lateral_deg.abs() <= LATERAL_MISSTEP_DEG,
                })
            }
            DrillLive::WearableStance(d) => {
                let [ml, ap] = d.lean_deg.filter(|_| d.phase == StancePhase::Holding)?;
                Some(Gauge::Plane {
                    point: [ml, ap],
                    band: STEADY_LEAN_DEG,
                    limit: TRUNK_VIEW_DEG,
                    caption: format!(
                        "trunk from where you started: forward {ap:+.1}° · to the right {ml:+.1}°"
                    ),
                    in_band: ml.hypot(ap) <= STEADY_LEAN_DEG,
                })
            }
            DrillLive::QuietStance(d) => {
                if d.phase != StancePhase::Holding {
                    return None;
                }
                let point = d.cop_offset_mm;
                Some(Gauge::Cop {
                    point,
                    outline: Outline::Square(SWAY_VIEW_MM),
                    ring: Some(([0.0, 0.0], STEADY_RING_MM)),
                    caption: match point {
                        Some([x, y]) => format!(
                            "centre of pressure from where you started: {x:+.0} mm to the right, {y:+.0} mm forward"
                        ),
                        None => "no one on the board".to_string(),
                    },
                    on_ring: point.is_some_and(|[x, y]| x.hypot(y) <= STEADY_RING_MM),
                })
            }
            DrillLive::WeightShift(d) => {
                let ring = match (d.phase, d.target) {
                    (ShiftPhase::Target, Some(t)) => Some((t.offset_mm, d.goal_radius_mm)),
                    (ShiftPhase::Return, _) => Some(([0.0, 0.0], d.goal_radius_mm)),
                    _ => None,
                };
                let point = d.cop_offset_mm?;
                let [x, y] = point;
                Some(Gauge::Cop {
                    point: Some(point),
                    outline: Outline::Limits {
                        forward_mm: LOS_FORWARD_MM,
                        back_mm: LOS_BACK_MM,
                        side_mm: LOS_SIDEWAYS_MM,
                    },
                    ring,
                    caption: format!(
                        "you: {x:+.0} mm right, {y:+.0} mm forward of your centre, in your limits of stability"
                    ),
                    on_ring: d.on_goal,
                })
            }
        }
    }

    /// The numbers shown large: the countdown first, the score last.
    pub fn numbers(&self) -> Vec<BigNumber> {
        let time_left = |s: f64| {
            let s = s.max(0.0).ceil();
            BigNumber {
                value: format!("{s:.0}"),
                caption: format!("TIME LEFT {s:.0} s"),
            }
        };
        let score = |score: f64| BigNumber {
            value: format!("{:.0}", score.clamp(0.0, 100.0)),
            caption: format!("SCORE {:.0}", score.clamp(0.0, 100.0)),
        };
        match &self.live.drill {
            DrillLive::RockerHold { live: d, .. } => vec![time_left(d.remaining_s), score(d.score)],
            DrillLive::WobbleHold { live: d, .. } => vec![time_left(d.remaining_s), score(d.score)],
            DrillLive::QuietStance(d) => vec![time_left(d.remaining_s), score(d.score)],
            DrillLive::WearableStance(d) => vec![time_left(d.remaining_s), score(d.score)],
            DrillLive::NeutralSpine { live: d, .. } => {
                vec![time_left(d.remaining_s), score(d.score)]
            }
            DrillLive::TandemWalk(d) => vec![
                BigNumber {
                    value: d.steps.to_string(),
                    caption: format!("STEPS {} of {}", d.steps, d.target_steps),
                },
                time_left(d.remaining_s),
            ],
            DrillLive::WeightShift(d) => {
                let shown = d
                    .target
                    .map_or(d.reached + d.misses, |t| u32::from(t.number));
                let mut numbers = vec![BigNumber {
                    value: shown.to_string(),
                    caption: format!("TARGET {shown} of {}", d.targets),
                }];
                if matches!(d.phase, ShiftPhase::Target | ShiftPhase::Return) {
                    numbers.push(time_left(d.time_left_s));
                }
                numbers.push(score(d.score));
                numbers
            }
        }
    }

    /// The drill's measures so far, in one line.
    pub fn stats(&self) -> String {
        match &self.live.drill {
            DrillLive::RockerHold { live: d, .. } => format!(
                "in band {:.0} % · edge contacts {}",
                d.time_in_band_percent, d.edge_contacts
            ),
            DrillLive::WobbleHold { live: d, .. } => format!(
                "in band {:.0} % · edge contacts {} · off balance {:.1} s",
                d.time_in_band_percent, d.edge_contacts, d.time_off_balance_s
            ),
            DrillLive::QuietStance(d) => {
                let touch_downs = if d.task == StanceTask::SingleLeg {
                    format!(" · touch-downs {}", d.touch_downs)
                } else {
                    String::new()
                };
                format!(
                    "sway {:.1} mm/s · ellipse {:.0} mm²{touch_downs}",
                    d.mean_velocity_mm_s, d.ellipse_area_95_mm2
                )
            }
            DrillLive::WearableStance(d) => format!(
                "trunk sway {:.2}° · acceleration {:.3} m/s²",
                d.trunk_rms_deg, d.acc_rms_m_s2
            ),
            DrillLive::WeightShift(d) => format!(
                "reached {} · missed {} · of {} targets",
                d.reached, d.misses, d.targets
            ),
            DrillLive::TandemWalk(d) => match d.lateral_deg {
                Some(lateral_deg) => format!("trunk {lateral_deg:+.1}° to the side"),
                None => String::new(),
            },
            DrillLive::NeutralSpine { live: d, .. } => {
                format!("in band {:.0} %", d.time_in_band_percent)
            }
        }
    }

    /// The latest marks, newest first, with their age in whole seconds.
    pub fn marks(&self) -> impl Iterator<Item = (u64, &Mark)> {
        self.marks
            .iter()
            .map(|m| (self.now_us.saturating_sub(m.at_us) / 1_000_000, m))
    }

    /// The connection line: link state, data age, counts, battery.
    pub fn connection(&self) -> (Tone, String) {
        let live = &self.live;
        let battery = live
            .battery_percent
            .map_or(String::new(), |b| format!(" · battery {b} %"));
        let counts = format!(
            "{} samples · {} lost · {} bad frames{battery}",
            live.samples, live.frames_lost, live.bad_frames
        );
        let (tone, state) = if let Some(reason) = &self.lost {
            (Tone::Bad, format!("link lost: {reason}"))
        } else if let Some(since_us) = live.link_down_since_us {
            let down_s = self.now_us.saturating_sub(since_us) as f64 * 1e-6;
            (
                Tone::Paused,
                format!("RECONNECTING for {down_s:.0} s (drill paused)"),
            )
        } else {
            match live.last_data_host_us {
                None => (Tone::Prompt, "waiting for data".to_string()),
                Some(last_us) => {
                    let age_us = self.now_us.saturating_sub(last_us);
                    if age_us > DATA_AGE_WARN_US {
                        (
                            Tone::Bad,
                            format!("connected, NO DATA for {:.1} s", age_us as f64 * 1e-6),
                        )
                    } else {
                        (
                            Tone::Plain,
                            format!("connected · data age {} ms", age_us / 1000),
                        )
                    }
                }
            }
        };
        (tone, format!("{} · {state} · {counts}", self.link))
    }

    /// The whole state in one line, for a progress line where there is no screen.
    pub fn progress_line(&self) -> String {
        let headline = self.headline();
        let numbers: Vec<String> = self.numbers().into_iter().map(|n| n.caption).collect();
        let (_, connection) = self.connection();
        format!(
            "{} · {} · {} · {connection}",
            self.title(),
            headline.big,
            numbers.join(" · ").to_lowercase()
        )
    }
}

fn board_headline(settling: bool, waiting: bool) -> Headline {
    if settling {
        Headline::new(Tone::Prompt, "WAIT", "waiting for the sensor to settle…")
    } else if waiting {
        Headline::new(
            Tone::Prompt,
            "GET READY",
            "step on and bring the board level to start",
        )
    } else {
        Headline::new(Tone::Good, "IN BAND", "keep it level")
    }
}

fn side_word(side: Side) -> &'static str {
    // Positive tilt is the sensor's −y side going down: bring that side back up.
    match side {
        Side::Positive => "right",
        Side::Negative => "left",
    }
}

fn stance_title(task: StanceTask) -> &'static str {
    match task {
        StanceTask::Quiet => "quiet stance",
        StanceTask::Tandem => "tandem stance",
        StanceTask::SingleLeg => "single-leg stance",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::drill::{
        Direction, QuietStanceLive, RockerHoldLive, TandemWalkLive, Target, WeightShiftLive,
    };

    const S: u64 = 1_000_000;

    /// A rocker hold under way: band ±7°, edge at 15°, in the band.
    pub(in crate::app::view) fn rocker(tilt_deg: f64) -> LiveStatus {
        status(DrillLive::RockerHold {
            live: RockerHoldLive {
                tilt_deg,
                in_band: tilt_deg.abs() <= 7.0,
                elapsed_s: 2.0,
                remaining_s: 17.2,
                score: 41.6,
                time_in_band_percent: 61.0,
                edge_contacts: 0,
                settling: false,
                waiting: false,
            },
            band_deg: 7.0,
            edge_limit_deg: 15.0,
        })
    }

    /// The status of `drill`, connected, data just in.
    pub(in crate::app::view) fn status(drill: DrillLive) -> LiveStatus {
        LiveStatus {
            drill,
            level: 1,
            samples: 500,
            frames_lost: 0,
            bad_frames: 0,
            battery_percent: Some(92),
            last_data_host_us: Some(0),
            link_down_since_us: None,
            device_known: true,
        }
    }

    fn ui(live: LiveStatus, cues: CueKinds) -> UiState {
        UiState::new("simulator".into(), cues, live, 0)
    }

    fn left(t_s: f64) -> DrillEvent {
        DrillEvent::LeftBand {
            t_s,
            side: Side::Positive,
            direction_deg: None,
        }
    }

    /// The status as time goes on: data keeps arriving.
    fn at(mut live: LiveStatus, now_us: u64) -> LiveStatus {
        live.last_data_host_us = Some(now_us);
        live
    }

    #[test]
    fn out_of_the_band_then_corrected_with_its_flash_and_bells() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        ui.update(rocker(2.0), &[], 0);
        assert_eq!(ui.headline().big, "IN BAND");
        assert_eq!(ui.headline().tone, Tone::Good);
        assert_eq!(ui.take_bells(), 0);

        ui.update(at(rocker(8.0), S), &[left(1.0)], S);
        let out = ui.headline();
        assert_eq!((out.tone, out.big.as_str()), (Tone::Bad, "OUT OF BAND"));
        // Positive tilt is the right side down.
        assert!(out.detail.contains("right side up"), "{}", out.detail);
        assert_eq!(ui.take_bells(), 1, "one bell on leaving");
        assert_eq!(ui.take_bells(), 0, "rung once");

        // Back inside: "corrected" at once, two bells apart, then the good state again.
        let back_us = 2 * S;
        ui.update(
            at(rocker(3.0), back_us),
            &[DrillEvent::Corrected { t_s: 2.0 }],
            back_us,
        );
        let corrected = ui.headline();
        assert_eq!(
            (corrected.tone, corrected.big.as_str()),
            (Tone::Corrected, "CORRECTED")
        );
        assert_eq!(ui.take_bells(), 1);
        ui.update(
            at(rocker(3.0), back_us + BELL_GAP_US - 1),
            &[],
            back_us + BELL_GAP_US - 1,
        );
        assert_eq!(ui.take_bells(), 0, "the second bell waits its gap");
        ui.update(
            at(rocker(3.0), back_us + BELL_GAP_US),
            &[],
            back_us + BELL_GAP_US,
        );
        assert_eq!(ui.take_bells(), 1, "the second bell");
        let flash_end_us = back_us + CORRECTED_FLASH_US;
        ui.update(at(rocker(3.0), flash_end_us - 1), &[], flash_end_us - 1);
        assert_eq!(ui.headline().big, "CORRECTED");
        ui.update(at(rocker(3.0), flash_end_us), &[], flash_end_us);
        assert_eq!(ui.headline().big, "IN BAND");

        let marks: Vec<&str> = ui.marks().map(|(_, m)| m.text.as_str()).collect();
        assert_eq!(marks.len(), 2);
        assert!(marks[0].starts_with("corrected"), "newest first: {marks:?}");
        assert!(marks[1].starts_with("out of the band"), "{marks:?}");
        let ages: Vec<u64> = ui.marks().map(|(age_s, _)| age_s).collect();
        // Noted at 2 s and 1 s; now is 3.5 s.
        assert_eq!(ages, [1, 2]);
    }

    #[test]
    fn a_step_on_the_wearable_is_a_loss_of_balance_not_a_step_off_the_board() {
        let worn = status(DrillLive::WearableStance(
            crate::drill::WearableStanceLive {
                phase: StancePhase::Holding,
                lean_deg: Some([0.5, -0.3]),
                elapsed_s: 12.0,
                remaining_s: 18.0,
                trunk_rms_deg: 0.4,
                acc_rms_m_s2: 0.05,
                score: 70.0,
            },
        ));
        let mut ui = ui(worn, CueKinds::default());
        let ended = [
            DrillEvent::SteppedOff { t_s: 12.0 },
            DrillEvent::Ended {
                t_s: 12.0,
                reason: EndReason::SteppedOff,
            },
        ];
        ui.update(worn, &ended, S);
        let marks: Vec<&str> = ui.marks().map(|(_, m)| m.text.as_str()).collect();
        assert!(
            marks.iter().any(|m| m.contains("lost balance")),
            "{marks:?}"
        );
        let all = format!("{marks:?} {}", ui.headline().detail);
        assert!(!all.contains("board"), "{all}");
        // On the balance board it is a step off.
        let mut board = ui_board();
        board.update(board_status(), &ended, S);
        let marks: Vec<&str> = board.marks().map(|(_, m)| m.text.as_str()).collect();
        assert!(
            marks.iter().any(|m| m.contains("stepped off the board")),
            "{marks:?}"
        );
    }

    fn board_status() -> LiveStatus {
        let mut live = single_leg(false);
        if let DrillLive::QuietStance(stance) = &mut live.drill {
            stance.task = StanceTask::Quiet;
        }
        live
    }

    fn ui_board() -> UiState {
        ui(board_status(), CueKinds::default())
    }

    #[test]
    fn leaving_again_ends_the_flash() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        ui.update(
            rocker(8.0),
            &[left(1.0), DrillEvent::Corrected { t_s: 1.2 }],
            S,
        );
        assert_eq!(ui.headline().big, "CORRECTED");
        ui.update(rocker(8.0), &[left(1.4)], S + 100_000);
        assert_eq!(ui.headline().big, "OUT OF BAND");
    }

    #[test]
    fn cue_kinds_switch_the_bell_and_the_in_or_out_display() {
        let quiet = CueKinds {
            visual: true,
            sound: false,
            haptic: true,
        };
        let mut ui_quiet = ui(rocker(2.0), quiet);
        ui_quiet.update(rocker(8.0), &[left(1.0)], S);
        assert_eq!(ui_quiet.take_bells(), 0, "no sound cue");
        assert_eq!(ui_quiet.headline().big, "OUT OF BAND");

        let blind = CueKinds {
            visual: false,
            sound: true,
            haptic: true,
        };
        let mut ui_blind = ui(rocker(2.0), blind);
        ui_blind.update(rocker(8.0), &[left(1.0)], S);
        assert_eq!(ui_blind.take_bells(), 1, "the bell still rings");
        let h = ui_blind.headline();
        assert_eq!((h.tone, h.big.as_str()), (Tone::Plain, "HOLD"));
        ui_blind.update(rocker(3.0), &[DrillEvent::Corrected { t_s: 1.5 }], 2 * S);
        assert_eq!(ui_blind.headline().big, "HOLD", "no corrected flash");
        // A prompt is an instruction, not a cue: it stays.
        let mut waiting = rocker(0.0);
        if let DrillLive::RockerHold { live, .. } = &mut waiting.drill {
            live.waiting = true;
        }
        ui_blind.update(waiting, &[], 3 * S);
        assert_eq!(ui_blind.headline().big, "GET READY");
    }

    #[test]
    fn before_the_hold_says_what_to_do_and_shows_no_gauge_until_settled() {
        let mut live = rocker(0.0);
        live.device_known = false;
        let mut ui = ui(live, CueKinds::default());
        assert_eq!(ui.headline().big, "WAIT");
        assert!(ui.gauge().is_none());
        live.device_known = true;
        if let DrillLive::RockerHold { live: d, .. } = &mut live.drill {
            d.settling = true;
            d.waiting = true;
        }
        ui.update(live, &[], S);
        assert_eq!(ui.headline().big, "WAIT");
        assert!(ui.gauge().is_none(), "an unsettled tilt is not shown");
        if let DrillLive::RockerHold { live: d, .. } = &mut live.drill {
            d.settling = false;
        }
        ui.update(live, &[], 2 * S);
        assert_eq!(ui.headline().big, "GET READY");
        assert!(
            matches!(ui.gauge(), Some(Gauge::Line { band, limit, .. }) if band == 7.0 && limit == 15.0)
        );
    }

    #[test]
    fn a_lost_link_pauses_with_its_reason_and_comes_back() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        ui.link_down("no data for 2 s", 10 * S);
        let mut down = rocker(2.0);
        down.link_down_since_us = Some(10 * S);
        down.last_data_host_us = Some(8 * S);
        ui.update(down, &[], 13 * S);
        let h = ui.headline();
        assert_eq!((h.tone, h.big.as_str()), (Tone::Paused, "PAUSED"));
        assert!(h.detail.contains("no data for 2 s"), "{}", h.detail);
        assert!(h.detail.contains("reconnecting for 3 s"), "{}", h.detail);
        let (tone, line) = ui.connection();
        assert_eq!(tone, Tone::Paused);
        assert!(line.contains("RECONNECTING for 3 s"), "{line}");

        ui.link_up(14 * S);
        ui.update(at(rocker(2.0), 14 * S), &[], 14 * S);
        assert_eq!(ui.headline().big, "IN BAND");
        assert_eq!(
            ui.marks().next().map(|(_, m)| m.text.as_str()),
            Some("reconnected: carry on")
        );

        ui.link_lost("the port is gone", 20 * S);
        let h = ui.headline();
        assert_eq!((h.tone, h.big.as_str()), (Tone::Bad, "LINK LOST"));
        assert_eq!(h.detail, "the port is gone");
    }

    #[test]
    fn old_data_is_flagged_on_the_connection_line() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        let mut live = rocker(2.0);
        live.last_data_host_us = Some(S);
        ui.update(live, &[], S + DATA_AGE_WARN_US);
        let (tone, line) = ui.connection();
        assert_eq!(tone, Tone::Plain);
        assert!(line.contains("data age 500 ms"), "{line}");
        assert!(line.contains("battery 92 %"), "{line}");
        ui.update(live, &[], S + DATA_AGE_WARN_US + 100_000);
        let (tone, line) = ui.connection();
        assert_eq!(tone, Tone::Bad);
        assert!(line.contains("NO DATA for 0.6 s"), "{line}");
    }

    #[test]
    fn the_countdown_rounds_up_and_the_score_to_the_nearest() {
        let ui = ui(rocker(2.0), CueKinds::default());
        let numbers = ui.numbers();
        // 17.2 s left is 18 s until the end; 41.6 shows as 42.
        assert_eq!(numbers[0].value, "18");
        assert_eq!(numbers[0].caption, "TIME LEFT 18 s");
        assert_eq!(numbers[1].value, "42");
        assert_eq!(numbers[1].caption, "SCORE 42");
    }

    #[test]
    fn the_end_is_shown_with_its_reason() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        ui.update(
            rocker(2.0),
            &[DrillEvent::Ended {
                t_s: 3.0,
                reason: EndReason::PainStop,
            }],
            S,
        );
        assert_eq!(ui.headline().big, "PAIN STOP");
    }

    #[test]
    fn only_the_latest_marks_are_kept() {
        let mut ui = ui(rocker(2.0), CueKinds::default());
        let events: Vec<DrillEvent> = (0..5)
            .flat_map(|i| [left(f64::from(i)), DrillEvent::Corrected { t_s: 0.5 }])
            .collect();
        ui.update(rocker(2.0), &events, S);
        assert_eq!(ui.marks().count(), MARKS_SHOWN);
    }

    fn walk(lateral_deg: f64) -> LiveStatus {
        status(DrillLive::TandemWalk(TandemWalkLive {
            phase: WalkPhase::Walking,
            elapsed_s: 3.0,
            remaining_s: 50.0,
            steps: 4,
            target_steps: 10,
            lateral_deg: Some(lateral_deg),
        }))
    }

    #[test]
    fn a_walkers_lean_is_out_past_the_misstep_line_and_back_inside_its_hysteresis() {
        let mut ui = ui(walk(0.0), CueKinds::default());
        ui.update(walk(LATERAL_MISSTEP_DEG), &[], S);
        assert_eq!(ui.headline().big, "WALK", "on the line is not past it");
        ui.update(walk(-(LATERAL_MISSTEP_DEG + 0.2)), &[], 2 * S);
        assert_eq!(ui.headline().big, "LEANING");
        assert_eq!(ui.take_bells(), 1);
        // Back under the line but not by the hysteresis: still leaning.
        ui.update(walk(LATERAL_MISSTEP_DEG - 0.2), &[], 3 * S);
        assert_eq!(ui.headline().big, "LEANING");
        ui.update(
            walk(LATERAL_MISSTEP_DEG - WALK_HYSTERESIS_DEG - 0.1),
            &[],
            4 * S,
        );
        assert_eq!(ui.headline().big, "UPRIGHT");
        assert_eq!(ui.take_bells(), 1, "the first of two");
        let numbers = ui.numbers();
        assert_eq!(numbers[0].caption, "STEPS 4 of 10");
        assert!(
            matches!(ui.gauge(), Some(Gauge::Line { band, .. }) if band == LATERAL_MISSTEP_DEG)
        );
    }

    fn single_leg(foot_down: bool) -> LiveStatus {
        status(DrillLive::QuietStance(QuietStanceLive {
            task: StanceTask::SingleLeg,
            touch_downs: u32::from(foot_down),
            foot_down,
            phase: StancePhase::Holding,
            cop_mm: Some([10.0, 20.0]),
            cop_offset_mm: Some([4.0, -3.0]),
            load_kg: Some(70.0),
            elapsed_s: 5.0,
            remaining_s: 10.0,
            mean_velocity_mm_s: 20.0,
            ellipse_area_95_mm2: 300.0,
            score: 80.0,
        }))
    }

    #[test]
    fn a_touch_down_is_out_and_lifting_the_foot_is_the_correction() {
        let mut ui = ui(single_leg(false), CueKinds::default());
        ui.update(single_leg(true), &[DrillEvent::TouchDown { t_s: 4.0 }], S);
        assert_eq!(ui.headline().big, "FOOT DOWN");
        ui.update(single_leg(false), &[DrillEvent::FootUp { t_s: 4.5 }], 2 * S);
        assert_eq!(ui.headline().big, "FOOT UP");
        ui.update(single_leg(false), &[], 2 * S + CORRECTED_FLASH_US);
        assert_eq!(ui.headline().big, "HOLD");
        // The COP from where the hold started, inside the steady ring (5 mm from it).
        match ui.gauge() {
            Some(Gauge::Cop { point, on_ring, .. }) => {
                assert_eq!(point, Some([4.0, -3.0]));
                assert!(on_ring);
            }
            other => panic!("a COP view, not {other:?}"),
        }
        assert!(ui.stats().contains("touch-downs 0"), "{}", ui.stats());
    }

    fn shift(phase: ShiftPhase, on_goal: bool) -> LiveStatus {
        status(DrillLive::WeightShift(WeightShiftLive {
            phase,
            target: (phase == ShiftPhase::Target).then_some(Target {
                number: 2,
                direction: Direction::Right,
                offset_mm: [84.0, 0.0],
            }),
            goal_mm: Some([84.0, 0.0]),
            targets: 4,
            cop_offset_mm: Some([80.0, 2.0]),
            cop_mm: Some([80.0, 2.0]),
            on_goal,
            goal_radius_mm: 15.0,
            time_left_s: 6.4,
            load_kg: Some(70.0),
            // Target 1 reached before; target 2 too, once on the way back.
            reached: if phase == ShiftPhase::Return { 2 } else { 1 },
            misses: 0,
            elapsed_s: 12.0,
            score: 64.0,
        }))
    }

    #[test]
    fn a_target_is_a_prompt_then_on_target_then_reached() {
        let mut ui = ui(shift(ShiftPhase::Target, false), CueKinds::default());
        let h = ui.headline();
        assert_eq!((h.tone, h.big.as_str()), (Tone::Prompt, "TARGET 2"));
        assert!(h.detail.starts_with("lean right"), "{}", h.detail);
        match ui.gauge() {
            Some(Gauge::Cop { ring, .. }) => assert_eq!(ring, Some(([84.0, 0.0], 15.0))),
            other => panic!("a COP view, not {other:?}"),
        }
        ui.update(shift(ShiftPhase::Target, true), &[], S);
        assert_eq!(ui.headline().big, "ON TARGET");
        let reached = DrillEvent::TargetReached {
            t_s: 13.0,
            target: 2,
            time_to_reach_s: 1.1,
            path_efficiency: 0.9,
        };
        ui.update(shift(ShiftPhase::Return, false), &[reached], 2 * S);
        assert_eq!(ui.headline().big, "REACHED");
        assert_eq!(ui.take_bells(), 1);
        ui.update(
            shift(ShiftPhase::Return, false),
            &[],
            2 * S + CORRECTED_FLASH_US,
        );
        assert_eq!(ui.headline().big, "BACK TO THE MIDDLE");
        let captions: Vec<String> = ui.numbers().into_iter().map(|n| n.caption).collect();
        // Back from target 2 (2 done); 6.4 s left shows as 7.
        assert_eq!(captions, ["TARGET 2 of 4", "TIME LEFT 7 s", "SCORE 64"]);
    }
}
