//! The live terminal view, redrawn in place: for the rocker-board hold a gauge of the board's
//! tilt with the target band; for the wobble-board hold a gauge of the tilt's size from level
//! to the rim, with the band and the way the board leans; for quiet stance what to do (stay
//! off while the board tares, step on, stand still), then the centre of pressure (a
//! side-to-side gauge and x/y in mm); for the weight shift where the current target is (its
//! direction and offset from the user's centre, a gauge of how far along the way to it the COP
//! is); the time left and the live score. Keys: `q` or Esc stops, `p` stops because it hurts.

use std::io::{self, Write};
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor};
use crossterm::{cursor, queue, terminal};

use super::output::direction_words;
use crate::drill::{
    direction_deg, DrillEvent, QuietStanceLive, ShiftPhase, Side, StancePhase, StanceTask,
    WalkPhase, WeightShiftLive, LATERAL_MISSTEP_DEG,
};
use crate::session::{DrillLive, LiveStatus};

/// A key the user pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Stop the drill.
    Stop,
    /// Stop the drill: it hurts.
    Pain,
}

const GAUGE_WIDTH: usize = 61;
const LINES: u16 = 5;
/// Quiet stance's gauge: side-to-side COP offset, ± mm shown, and the "steady" band.
const COP_GAUGE_LIMIT_MM: f64 = 30.0;
const COP_GAUGE_BAND_MM: f64 = 10.0;
/// The weight shift's gauge: the way from the centre to a target, columns.
const SHIFT_GAUGE_WIDTH: usize = 25;
/// The walk gauge's ends: the trunk's lateral lean, degrees.
const WALK_GAUGE_LIMIT_DEG: f64 = 15.0;

/// The live view; restores the terminal when dropped.
pub struct LiveView {
    link: String,
    note: String,
    drawn: bool,
}

impl LiveView {
    /// Takes over the terminal (raw mode for single keys, cursor hidden).
    pub fn start(link: String) -> io::Result<LiveView> {
        terminal::enable_raw_mode()?;
        let view = LiveView {
            link,
            note: String::new(),
            drawn: false,
        };
        queue!(io::stdout(), cursor::Hide)?;
        Ok(view)
    }

    /// Keys pressed since the last call (never blocks).
    pub fn keys(&mut self) -> Vec<Key> {
        let mut keys = Vec::new();
        while event::poll(Duration::ZERO).unwrap_or(false) {
            let Ok(Event::Key(KeyEvent {
                code,
                modifiers,
                kind,
                ..
            })) = event::read()
            else {
                continue;
            };
            if kind != KeyEventKind::Press {
                continue;
            }
            match code {
                KeyCode::Char('p') | KeyCode::Char('P') => keys.push(Key::Pain),
                KeyCode::Char('q') | KeyCode::Esc => keys.push(Key::Stop),
                KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => {
                    keys.push(Key::Stop)
                }
                _ => {}
            }
        }
        keys
    }

    /// Shows a message under the gauge.
    pub fn note(&mut self, text: &str) {
        self.note = text.to_string();
    }

    /// Redraws with the session's state and the events since the last draw.
    pub fn draw(
        &mut self,
        live: &LiveStatus,
        events: &[DrillEvent],
        now_us: u64,
    ) -> io::Result<()> {
        for event in events {
            match event {
                DrillEvent::LeftBand {
                    direction_deg: Some(direction),
                    ..
                } => {
                    self.note = format!(
                        "out of the band towards {}: bring that side up",
                        direction_words(*direction)
                    )
                }
                DrillEvent::LeftBand { side, .. } => {
                    self.note = format!("out of the band: bring the {} side up", side_word(*side))
                }
                DrillEvent::Corrected { .. } => self.note = "corrected: back in the band".into(),
                DrillEvent::EdgeContact {
                    direction_deg: Some(direction),
                    ..
                } => {
                    self.note = format!(
                        "the rim touched the floor at {}",
                        direction_words(*direction)
                    )
                }
                DrillEvent::EdgeContact { .. } => self.note = "edge touched the floor".into(),
                DrillEvent::EdgeReleased { .. } => {
                    self.note = "off the floor again: bring it level".into()
                }
                DrillEvent::Stabilised { .. } => self.note = "stable: keep it there".into(),
                DrillEvent::SteppedOff { .. } => self.note = "stepped off the board".into(),
                DrillEvent::TouchDown { .. } => {
                    self.note = "foot down: lift it again when you are ready".into()
                }
                DrillEvent::FootUp { .. } => self.note = "back on one leg: hold it".into(),
                DrillEvent::HoldBroken { .. } => {
                    self.note = "hold broken: ease back to your neutral".into()
                }
                DrillEvent::TargetShown {
                    target, direction, ..
                } => self.note = format!("target {target}: lean {}", direction.words()),
                DrillEvent::TargetReached {
                    target,
                    time_to_reach_s,
                    ..
                } => {
                    self.note = format!(
                        "target {target} reached in {time_to_reach_s:.1} s: back to the middle"
                    )
                }
                DrillEvent::TargetMissed { target, .. } => {
                    self.note = format!("target {target} missed: back to the middle")
                }
                // A walk's steps are judged when it ends; the live count is in the status line.
                DrillEvent::Step { .. }
                | DrillEvent::Misstep { .. }
                | DrillEvent::Stopped { .. }
                | DrillEvent::Ended { .. } => {}
            }
        }
        let mut out = io::stdout();
        if self.drawn {
            queue!(out, cursor::MoveUp(LINES), cursor::MoveToColumn(0))?;
        }
        self.drawn = true;
        let line = |out: &mut io::Stdout, text: &str| -> io::Result<()> {
            queue!(
                out,
                terminal::Clear(terminal::ClearType::CurrentLine),
                Print(text),
                Print("\r\n")
            )
        };
        line(
            &mut out,
            &format!(
                "proprio · {} · q stop · p it hurts (stops at once)",
                title(&live.drill, live.level)
            ),
        )?;
        queue!(out, terminal::Clear(terminal::ClearType::CurrentLine))?;
        let status = match &live.drill {
            DrillLive::RockerHold {
                live: d,
                band_deg,
                edge_limit_deg,
            } => {
                if d.settling || !live.device_known {
                    queue!(out, Print(SETTLING))?;
                } else {
                    draw_gauge(&mut out, d.tilt_deg, *band_deg, *edge_limit_deg)?;
                    print_reading(&mut out, d.in_band, &format!("  {:+5.1}°", d.tilt_deg))?;
                }
                if d.waiting {
                    BOARD_WAITING.to_string()
                } else {
                    format!(
                        "time left {:4.0} s   in band {:3.0} %   edge contacts {}   score {:3.0}",
                        d.remaining_s, d.time_in_band_percent, d.edge_contacts, d.score
                    )
                }
            }
            DrillLive::WobbleHold {
                live: d,
                band_deg,
                edge_limit_deg,
            } => {
                if d.settling || !live.device_known {
                    queue!(out, Print(SETTLING))?;
                } else {
                    let tilt = [d.tilt_ap_deg, d.tilt_ml_deg];
                    let size = tilt[0].hypot(tilt[1]);
                    draw_radial_gauge(&mut out, size, *band_deg, *edge_limit_deg)?;
                    print_reading(
                        &mut out,
                        d.in_band,
                        &format!(
                            "  {size:4.1}° towards {}",
                            direction_words(direction_deg(tilt))
                        ),
                    )?;
                }
                if d.waiting {
                    BOARD_WAITING.to_string()
                } else {
                    format!(
                        "time left {:4.0} s   in band {:3.0} %   edge contacts {}   off balance {:4.1} s   score {:3.0}",
                        d.remaining_s,
                        d.time_in_band_percent,
                        d.edge_contacts,
                        d.time_off_balance_s,
                        d.score
                    )
                }
            }
            DrillLive::QuietStance(d) => {
                draw_stance(&mut out, d, live.device_known)?;
                let touch_downs = if d.task == StanceTask::SingleLeg {
                    format!("   touch-downs {}", d.touch_downs)
                } else {
                    String::new()
                };
                format!(
                    "time left {:4.0} s   sway {:5.1} mm/s   ellipse {:5.0} mm²{touch_downs}   score {:3.0}",
                    d.remaining_s, d.mean_velocity_mm_s, d.ellipse_area_95_mm2, d.score
                )
            }
            DrillLive::WearableStance(d) => {
                match (d.phase, d.lean_deg) {
                    _ if !live.device_known => queue!(out, Print("  waiting for the sensor…"))?,
                    (StancePhase::Settling, _) => {
                        queue!(out, Print("  stand still, as the level says…"))?
                    }
                    (_, Some([ml, ap])) => queue!(
                        out,
                        Print(format!("  trunk {ap:+5.1}° forward  {ml:+5.1}° right"))
                    )?,
                    (_, None) => {}
                }
                format!(
                    "time left {:4.0} s   trunk sway {:4.2}°   acceleration {:5.3} m/s²   score {:3.0}",
                    d.remaining_s, d.trunk_rms_deg, d.acc_rms_m_s2, d.score
                )
            }
            DrillLive::WeightShift(d) => {
                draw_shift(&mut out, d, live.device_known)?;
                format!(
                    "reached {}   missed {}   of {} targets   score {:3.0}",
                    d.reached, d.misses, d.targets, d.score
                )
            }
            DrillLive::TandemWalk(d) => {
                match (d.phase, d.lateral_deg) {
                    _ if !live.device_known => queue!(out, Print("  waiting for the sensor…"))?,
                    (WalkPhase::Waiting, _) => {
                        queue!(out, Print("  stand still, one foot in front of the other…"))?
                    }
                    (_, Some(lateral_deg)) => {
                        // The trunk's lean to the side: the band is where a lean is no misstep.
                        draw_gauge(
                            &mut out,
                            lateral_deg,
                            LATERAL_MISSTEP_DEG,
                            WALK_GAUGE_LIMIT_DEG,
                        )?;
                        queue!(
                            out,
                            Print(format!("  trunk {lateral_deg:+5.1}° to the side"))
                        )?;
                    }
                    (_, None) => queue!(out, Print("  walk heel to toe"))?,
                }
                format!(
                    "steps {:2} of {}   time left {:4.0} s",
                    d.steps, d.target_steps, d.remaining_s
                )
            }
            DrillLive::NeutralSpine { live: d, band_deg } => {
                match d.deviation_deg {
                    _ if !live.device_known => queue!(out, Print("  waiting for the sensor…"))?,
                    Some([flexion, lateral]) if !d.capturing => {
                        // Forward–back on the gauge: the drift the drill is about.
                        draw_gauge(&mut out, flexion, *band_deg, WALK_GAUGE_LIMIT_DEG)?;
                        let colour = if d.in_band { Color::Green } else { Color::Red };
                        queue!(
                            out,
                            SetForegroundColor(colour),
                            Print(format!("  forward {flexion:+5.1}°  side {lateral:+5.1}°")),
                            ResetColor
                        )?;
                    }
                    _ => queue!(
                        out,
                        Print("  find your neutral and stand still: capturing it…")
                    )?,
                }
                format!(
                    "time left {:4.0} s   in band {:3.0} %   score {:3.0}",
                    d.remaining_s, d.time_in_band_percent, d.score
                )
            }
        };
        queue!(out, Print("\r\n"))?;
        line(&mut out, &status)?;
        let battery = live
            .battery_percent
            .map_or(String::new(), |b| format!(" · battery {b} %"));
        let link_state = match (live.link_down_since_us, live.last_data_host_us) {
            (Some(since), _) => format!(
                "RECONNECTING ({:.0} s, drill paused)",
                now_us.saturating_sub(since) as f64 * 1e-6
            ),
            (None, Some(last)) => format!(
                "connected, data age {} ms",
                now_us.saturating_sub(last) / 1000
            ),
            (None, None) => "waiting for data".into(),
        };
        line(
            &mut out,
            &format!(
                "{} · {link_state} · {} samples · {} lost · {} bad frames{}",
                self.link, live.samples, live.frames_lost, live.bad_frames, battery
            ),
        )?;
        line(&mut out, &self.note)?;
        out.flush()
    }

    /// Draws the last state and gives the terminal back.
    pub fn finish(mut self, live: &LiveStatus, now_us: u64) -> io::Result<()> {
        self.draw(live, &[], now_us)?;
        Ok(())
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        let _ = queue!(io::stdout(), cursor::Show, ResetColor);
        let _ = io::stdout().flush();
        let _ = terminal::disable_raw_mode();
    }
}

fn side_word(side: Side) -> &'static str {
    // Positive tilt is the sensor's −y side going down: bring that side back up.
    match side {
        Side::Positive => "right",
        Side::Negative => "left",
    }
}

/// `·····|────●────|·····` from −limit to +limit.
fn draw_gauge(
    out: &mut io::Stdout,
    tilt_deg: f64,
    band_deg: f64,
    limit_deg: f64,
) -> io::Result<()> {
    let column = |deg: f64| -> usize {
        let x = (deg / limit_deg).clamp(-1.0, 1.0);
        ((x + 1.0) / 2.0 * (GAUGE_WIDTH - 1) as f64).round() as usize
    };
    let (band_lo, band_hi, centre, marker) = (
        column(-band_deg),
        column(band_deg),
        column(0.0),
        column(tilt_deg),
    );
    let in_band = tilt_deg.abs() <= band_deg;
    queue!(out, Print("  "))?;
    for c in 0..GAUGE_WIDTH {
        if c == marker {
            let colour = if in_band { Color::Green } else { Color::Red };
            queue!(out, SetForegroundColor(colour), Print('●'), ResetColor)?;
            continue;
        }
        let glyph = if c == band_lo || c == band_hi {
            '|'
        } else if c == centre {
            '┼'
        } else if c > band_lo && c < band_hi {
            '─'
        } else {
            '·'
        };
        queue!(out, Print(glyph))?;
    }
    Ok(())
}

/// `┼────●───|·········` from level to the board's limit: the tilt's size, whichever way.
fn draw_radial_gauge(
    out: &mut io::Stdout,
    size_deg: f64,
    band_deg: f64,
    limit_deg: f64,
) -> io::Result<()> {
    let column = |deg: f64| -> usize {
        let x = (deg / limit_deg).clamp(0.0, 1.0);
        (x * (GAUGE_WIDTH - 1) as f64).round() as usize
    };
    let (band, marker) = (column(band_deg), column(size_deg));
    queue!(out, Print("  "))?;
    for c in 0..GAUGE_WIDTH {
        if c == marker {
            let colour = if size_deg <= band_deg {
                Color::Green
            } else {
                Color::Red
            };
            queue!(out, SetForegroundColor(colour), Print('●'), ResetColor)?;
            continue;
        }
        let glyph = match c {
            0 => '┼',
            c if c == band => '|',
            c if c < band => '─',
            _ => '·',
        };
        queue!(out, Print(glyph))?;
    }
    Ok(())
}

/// A standing drill's name in the title line.
/// What a board hold shows until the sensor's estimate has settled.
const SETTLING: &str = "  waiting for the sensor to settle…";
/// A board hold's status line until it starts.
const BOARD_WAITING: &str = "step on and bring the board level to start";

/// The drill's name (and level or band) in the title line.
fn title(drill: &DrillLive, level: u8) -> String {
    match drill {
        DrillLive::RockerHold { band_deg, .. } => {
            format!("rocker-board hold · band ±{band_deg:.0}°")
        }
        DrillLive::WobbleHold { band_deg, .. } => {
            format!("wobble-board hold · band {band_deg:.0}° any way")
        }
        DrillLive::QuietStance(d) => format!("{} · level {level}", stance_title(d.task)),
        DrillLive::WearableStance(_) => format!("quiet stance on the wearable · level {level}"),
        DrillLive::WeightShift(_) => format!("weight shift · level {level}"),
        DrillLive::TandemWalk(_) => format!("heel-to-toe walk · level {level}"),
        DrillLive::NeutralSpine { band_deg, .. } => {
            format!("neutral-spine hold · band ±{band_deg:.0}°")
        }
    }
}

/// A reading in bold, green inside the band and red outside.
fn print_reading(out: &mut io::Stdout, in_band: bool, text: &str) -> io::Result<()> {
    let colour = if in_band { Color::Green } else { Color::Red };
    queue!(
        out,
        SetForegroundColor(colour),
        SetAttribute(Attribute::Bold),
        Print(text),
        SetAttribute(Attribute::Reset),
        ResetColor
    )
}

fn stance_title(task: StanceTask) -> &'static str {
    match task {
        StanceTask::Quiet => "quiet stance",
        StanceTask::Tandem => "tandem stance",
        StanceTask::SingleLeg => "single-leg stance",
    }
}

/// A standing drill's second line: what to do now, or the COP once the hold runs.
fn draw_stance(out: &mut io::Stdout, d: &QuietStanceLive, device_known: bool) -> io::Result<()> {
    let load = d
        .load_kg
        .map_or(String::new(), |kg| format!(" ({kg:.0} kg on the board)"));
    let prompt = match d.phase {
        _ if !device_known => Some("  waiting for the board…".to_string()),
        StancePhase::Taring => Some("  stay off the board: taring…".to_string()),
        StancePhase::StepOn => Some("  step onto the board, feet as the level says".to_string()),
        StancePhase::Settling => Some(format!("  stand still…{load}")),
        StancePhase::Holding if d.foot_down => {
            Some("  foot down: lift it again when you are ready".to_string())
        }
        StancePhase::Holding | StancePhase::Ended => None,
    };
    if let Some(prompt) = prompt {
        return queue!(out, Print(prompt));
    }
    let Some([x_mm, y_mm]) = d.cop_mm else {
        return queue!(out, Print("  no one on the board"));
    };
    // Side to side from where the hold started: the sway, not where the feet are.
    let offset_x_mm = d.cop_offset_mm.map_or(0.0, |o| o[0]);
    draw_gauge(out, offset_x_mm, COP_GAUGE_BAND_MM, COP_GAUGE_LIMIT_MM)?;
    queue!(
        out,
        Print(format!("  COP x {x_mm:+6.1} mm  y {y_mm:+6.1} mm"))
    )
}

/// The weight shift's second line: what to do now; with a target, where it is from the
/// centre, a gauge of the way to it (the COP's progress along the target's direction, the
/// target's radius marked) and the time left.
fn draw_shift(out: &mut io::Stdout, d: &WeightShiftLive, device_known: bool) -> io::Result<()> {
    let load = d
        .load_kg
        .map_or(String::new(), |kg| format!(" ({kg:.0} kg on the board)"));
    let you = d.cop_offset_mm.map_or(String::new(), |[x, y]| {
        format!("  you x {x:+4.0} y {y:+4.0} mm")
    });
    let prompt = match d.phase {
        _ if !device_known => "  waiting for the board…".to_string(),
        ShiftPhase::Taring => "  stay off the board: taring…".to_string(),
        ShiftPhase::StepOn => "  step onto the board, feet hip-width apart".to_string(),
        ShiftPhase::Settling => format!("  stand still…{load}"),
        ShiftPhase::Centring => "  stand still in the middle: finding your centre…".to_string(),
        ShiftPhase::Return => format!("  back to the middle{you}  {:3.1} s", d.time_left_s),
        ShiftPhase::Ended => "  done".to_string(),
        ShiftPhase::Target => String::new(),
    };
    let (Some(target), ShiftPhase::Target) = (d.target, d.phase) else {
        return queue!(out, Print(prompt));
    };
    let [tx, ty] = target.offset_mm;
    let distance = target.distance_mm();
    let unit = target.direction.unit();
    let along = d
        .cop_offset_mm
        .map_or(0.0, |[x, y]| x * unit[0] + y * unit[1]);
    // From the centre (0) to 125 % of the way; the target's centre at 100 %.
    let column = |mm: f64| -> usize {
        let share = (mm / (1.25 * distance)).clamp(0.0, 1.0);
        (share * (SHIFT_GAUGE_WIDTH - 1) as f64).round() as usize
    };
    let (marker, goal) = (column(along), column(distance));
    queue!(
        out,
        Print(format!(
            "  {} of {}: {:<13} x {tx:+4.0} y {ty:+4.0} mm ",
            target.number,
            d.targets,
            target.direction.words()
        ))
    )?;
    for c in 0..SHIFT_GAUGE_WIDTH {
        if c == marker {
            let colour = if d.on_goal {
                Color::Green
            } else {
                Color::Yellow
            };
            queue!(out, SetForegroundColor(colour), Print('●'), ResetColor)?;
        } else {
            queue!(out, Print(if c == goal { '◎' } else { '─' }))?;
        }
    }
    queue!(out, Print(format!("{you}  {:3.1} s left", d.time_left_s)))
}
