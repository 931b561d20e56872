//! The guided session's screens between drills, as text ([`Screen`], tested without a
//! terminal) and drawn with ratatui. Every screen's last row holds the keys, the pain stop
//! first and loudest, as in the live view.

use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::flow::{SessionFlow, Step};
use super::DrillRecord;
use crate::app::output::{end_words, progress_lines, worn_on_the_back};
use crate::app::view::{big_text, keys_line, DIGIT_ROWS, KEYS};
use crate::drill::EndReason;
use crate::guided::{Allowance, REST_FROM_NRS};
use crate::plan::Change;
use crate::session::SessionReport;

/// One screen, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// The top line.
    pub title: String,
    /// Shown large (a countdown's seconds), if anything.
    pub big: Option<String>,
    /// The text, a paragraph a line.
    pub lines: Vec<String>,
    /// The keys: (key, what it does), the pain stop first.
    pub keys: Vec<(&'static str, &'static str)>,
}

/// What the screens need besides the flow.
pub struct Context<'a> {
    /// The drills done so far, as the summary keeps them.
    pub done: &'a [DrillRecord],
    /// The last drill's full result.
    pub last: Option<&'a SessionReport>,
    /// The clock, µs.
    pub now_us: u64,
    /// Time since the session started, s.
    pub elapsed_s: f64,
}

/// The screen for the flow's step now.
pub fn screen(flow: &SessionFlow, cx: &Context) -> Screen {
    let pain_key = KEYS[0];
    let total = flow.planned().len();
    let mut keys = vec![pain_key];
    let (title, big, lines) = match flow.step() {
        Step::Pain => {
            keys.extend([("0-9", "your pain"), ("Enter", "confirm"), ("q", "end")]);
            let typed = if flow.typed().is_empty() {
                "_"
            } else {
                flow.typed()
            };
            (
                "proprio · guided session · check-in".to_string(),
                None,
                vec![
                    "How much does your back hurt right now?".to_string(),
                    "0 = no pain, 10 = the worst pain imaginable. Type the number, then Enter."
                        .to_string(),
                    format!("Pain: {typed}"),
                    format!("From {REST_FROM_NRS} up there are no drills today: rest comes first."),
                ],
            )
        }
        Step::Feeling => {
            keys.extend([
                ("b / s / w", "better / same / worse"),
                ("Backspace", "back"),
            ]);
            (
                "proprio · guided session · check-in".to_string(),
                None,
                vec![
                    format!("Pain: {}", flow.pain_nrs().unwrap_or(0)),
                    "How do you feel compared with last time?".to_string(),
                    "b: better    s: about the same    w: worse".to_string(),
                ],
            )
        }
        Step::Instructions(i) => {
            keys.extend([("Enter", "I'm ready: start"), ("q", "end the session")]);
            let (title, lines) = instructions(flow, i);
            (title, None, lines)
        }
        Step::Countdown { drill, until_us } => {
            keys.push(("q", "end the session"));
            let p = flow.planned()[drill];
            (
                format!(
                    "proprio · drill {} of {total}: {}",
                    drill + 1,
                    p.drill.name()
                ),
                Some(seconds_left(until_us, cx.now_us)),
                vec![
                    "Get ready: the drill starts when the count reaches 0.".to_string(),
                    p.drill.summary().to_string(),
                ],
            )
        }
        Step::Drill(drill) => {
            let p = flow.planned()[drill];
            (
                format!(
                    "proprio · drill {} of {total}: {}",
                    drill + 1,
                    p.drill.name()
                ),
                None,
                vec!["Connecting to the device…".to_string()],
            )
        }
        Step::Rest { drill, until_us } => {
            keys.extend([("Enter", "skip the rest"), ("q", "end the session")]);
            let mut lines = vec!["Rest: stand or sit comfortably and breathe easily.".to_string()];
            if let Some(record) = cx.done.get(drill) {
                lines.push(format!(
                    "{} done: {}",
                    record.drill.name(),
                    record.score_words()
                ));
            }
            (
                "proprio · rest".to_string(),
                Some(seconds_left(until_us, cx.now_us)),
                lines,
            )
        }
        Step::Result(drill) => {
            let next = if drill + 1 < total && !flow.ends().contains(&EndReason::UserStop) {
                "next drill"
            } else {
                "the summary"
            };
            keys.push(("Enter", next));
            (
                format!("proprio · result of drill {} of {total}", drill + 1),
                None,
                cx.last
                    .map_or_else(Vec::new, |report| result_lines(report, cx.done.get(drill))),
            )
        }
        Step::Summary => {
            keys.push(("Enter / q", "close"));
            (
                "proprio · guided session · summary".to_string(),
                None,
                summary_lines(flow, cx.done, cx.elapsed_s),
            )
        }
    };
    Screen {
        title,
        big,
        lines,
        keys,
    }
}

/// Drill `i`'s instructions: its title, and what it trains and why, how to do it, its safety
/// note and level.
pub fn instructions(flow: &SessionFlow, i: usize) -> (String, Vec<String>) {
    let p = flow.planned()[i];
    let mut lines = Vec::new();
    if i == 0 {
        if let Some(allowance) = flow.allowance() {
            lines.push(allowance.words());
        }
    }
    lines.extend([
        format!("What it trains: {}", p.drill.purpose()),
        format!("How: {}", p.drill.summary()),
        format!("Safety: {}", p.drill.safety()),
        level_words(p.level, p.plan_level),
        "Start when you are ready; take your time.".to_string(),
    ]);
    let title = format!(
        "proprio · drill {} of {}: {} · level {}",
        i + 1,
        flow.planned().len(),
        p.drill.name(),
        p.level
    );
    (title, lines)
}

fn seconds_left(until_us: u64, now_us: u64) -> String {
    until_us
        .saturating_sub(now_us)
        .div_ceil(1_000_000)
        .to_string()
}

/// The level, and why when it is not the plan's.
fn level_words(level: u8, plan_level: u8) -> String {
    if level == plan_level {
        format!("Level {level}, your plan's level.")
    } else {
        format!("Level {level}: one easier than your plan's {plan_level}, because of today's pain.")
    }
}

/// A drill's result: how it ended and its score, the verdict against the baseline ("real
/// change or not", the same lines as `proprio drill` prints), and the plan's change.
pub fn result_lines(report: &SessionReport, record: Option<&DrillRecord>) -> Vec<String> {
    let score = match report.refused {
        Some(_) => "not scored".to_string(),
        None => format!("score {:.0} / 100", report.score),
    };
    let mut lines = vec![format!(
        "{} level {}: {score} ({})",
        report.drill.name(),
        report.level,
        end_words(report.end, worn_on_the_back(report))
    )];
    let progress = progress_lines(report);
    if progress.is_empty() {
        lines.push(
            "No verdict yet: your first scored trials at a level set your baseline.".to_string(),
        );
    }
    lines.extend(progress);
    if let Some(change) = record.and_then(|r| r.plan_change) {
        lines.push(change_words(change));
    }
    lines
}

/// A change of plan, for people.
pub fn change_words(change: Change) -> String {
    match change {
        Change::Advanced { from, to } => format!("The plan moves you up: level {from} → {to}."),
        Change::SteppedBack {
            from: 1,
            to: 1,
            pain: true,
        } => "After the pain stop the plan stays at level 1, the easiest: start again gently \
              next time."
            .to_string(),
        Change::SteppedBack {
            from,
            to,
            pain: true,
        } => format!("The plan steps back after the pain stop: level {from} → {to}."),
        Change::SteppedBack { from, to, .. } => {
            format!("The plan steps back after failed sessions: level {from} → {to}.")
        }
    }
}

/// The closing summary: the check-in, each drill's score and verdict, pain stops, plan
/// changes, the time spent, and a kind word after a pain stop.
pub fn summary_lines(flow: &SessionFlow, done: &[DrillRecord], elapsed_s: f64) -> Vec<String> {
    let mut lines = Vec::new();
    if let (Some(pain), Some(feeling)) = (flow.pain_nrs(), flow.feeling()) {
        lines.push(format!(
            "Check-in: pain {pain} of 10, feeling {}.",
            feeling.words()
        ));
    }
    if flow.allowance() == Some(Allowance::Rest) {
        lines.push(Allowance::Rest.words());
    }
    for record in done {
        let mut line = format!(
            "{} level {}: {}",
            record.drill.name(),
            record.level,
            record.score_words()
        );
        if let Some(during) = record.pain_stop_during {
            line.push_str(&format!(" (the pain key, during the {during})"));
        }
        lines.push(line);
        if let Some(change) = record.plan_change {
            lines.push(format!("  {}", change_words(change)));
        }
    }
    let seconds = elapsed_s.max(0.0).round() as u64;
    lines.push(format!("Time: {} min {} s.", seconds / 60, seconds % 60));
    if flow.pain_press().is_some() {
        lines.push(
            "You stopped because it hurt: that was the right thing to do. The session ends \
             here and the plan steps back. Rest, move gently as is comfortable, and see your \
             clinician if the pain stays."
                .to_string(),
        );
    } else if !done.is_empty() {
        lines.push("Well done. See `proprio plan` for what is next.".to_string());
    }
    lines
}

/// Draws `screen`.
pub fn render(frame: &mut Frame, screen: &Screen) {
    let [title, body, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(screen.title.clone()).style(Style::default().add_modifier(Modifier::BOLD)),
        title,
    );
    let big_rows = if screen.big.is_some() && body.height > DIGIT_ROWS as u16 + 4 {
        DIGIT_ROWS as u16 + 2
    } else {
        0
    };
    let [big, text] =
        Layout::vertical([Constraint::Length(big_rows), Constraint::Min(0)]).areas(body);
    if let Some(digits) = &screen.big {
        if big_rows > 0 {
            let rows: Vec<Line> = big_text(digits).into_iter().map(Line::from).collect();
            frame.render_widget(
                Paragraph::new(rows)
                    .alignment(Alignment::Center)
                    .style(Style::default().fg(Color::Yellow)),
                big,
            );
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    if big_rows == 0 {
        if let Some(digits) = &screen.big {
            lines.push(Line::from(format!("{digits} s")));
        }
    }
    for text in &screen.lines {
        lines.push(Line::from(text.clone()));
        lines.push(Line::from(""));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    frame.render_widget(keys_line(&screen.keys), keys);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::view::Key;
    use crate::drill::DrillKind;

    const S: u64 = 1_000_000;

    fn shown(flow: &SessionFlow, now_us: u64) -> Screen {
        let cx = Context {
            done: &[],
            last: None,
            now_us,
            elapsed_s: 75.0,
        };
        screen(flow, &cx)
    }

    #[test]
    fn the_pain_key_is_first_on_every_screen_and_each_says_what_it_should() {
        let mut flow = SessionFlow::new(
            vec![(DrillKind::QuietStance, 2), (DrillKind::WeightShift, 1)],
            5 * S,
            30 * S,
        );
        let mut seen = Vec::new();
        let mut check = |flow: &SessionFlow, now_us: u64| {
            let screen = shown(flow, now_us);
            assert_eq!(screen.keys[0], ("p", "STOP, IT HURTS"), "{screen:?}");
            seen.push(flow.step().name());
            screen
        };
        assert!(check(&flow, 0)
            .lines
            .iter()
            .any(|l| l.contains("0 = no pain")));
        flow.key(Key::Digit(1), 0);
        assert!(check(&flow, 0).lines.contains(&"Pain: 1".to_string()));
        flow.key(Key::Enter, 0);
        check(&flow, 0);
        flow.key(Key::Letter('b'), 0);
        let instructions = check(&flow, 0);
        assert!(instructions
            .title
            .contains("drill 1 of 2: quiet-stance · level 2"));
        let text = instructions.lines.join("\n");
        assert!(text.contains(DrillKind::QuietStance.purpose()), "{text}");
        assert!(text.contains(DrillKind::QuietStance.summary()), "{text}");
        flow.key(Key::Enter, 10 * S);
        // 5 s to go at the start, 1 s in its last second.
        assert_eq!(check(&flow, 10 * S).big.as_deref(), Some("5"));
        assert_eq!(check(&flow, 14 * S + 1).big.as_deref(), Some("1"));
        flow.tick(15 * S);
        check(&flow, 15 * S);
        flow.drill_ended(EndReason::Completed, 40 * S);
        let rest = check(&flow, 41 * S);
        assert_eq!(rest.big.as_deref(), Some("29"));
        assert!(rest.keys.contains(&("Enter", "skip the rest")));
        flow.key(Key::Enter, 42 * S);
        assert!(check(&flow, 42 * S).keys.contains(&("Enter", "next drill")));
        flow.key(Key::Pain, 43 * S);
        let summary = check(&flow, 43 * S);
        let text = summary.lines.join("\n");
        assert!(text.contains("pain 1 of 10, feeling better"), "{text}");
        assert!(text.contains("You stopped because it hurt"), "{text}");
        assert!(text.contains("Time: 1 min 15 s."), "{text}");
        assert_eq!(
            seen,
            [
                "check-in",
                "check-in",
                "check-in",
                "instructions",
                "countdown",
                "countdown",
                "drill",
                "rest",
                "result",
                "summary"
            ]
        );
    }

    #[test]
    fn high_pain_advises_rest() {
        let mut flow = SessionFlow::new(vec![(DrillKind::NeutralSpine, 1)], 5 * S, 0);
        flow.check_in(7, crate::guided::Feeling::Worse, 0);
        let text = shown(&flow, 0).lines.join("\n");
        assert!(text.contains("no drills today"), "{text}");
        assert!(!text.contains("Well done"), "{text}");
    }
}
