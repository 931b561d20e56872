//! Drawing the live view: one frame as a function of the [`UiState`] (ratatui; no terminal
//! here, so it is tested on ratatui's test backend).
//!
//! From the top: the title; the big block (the headline, coloured by its tone); the gauge of
//! the drill's controlled quantity beside the big numbers (countdown, score); the drill's
//! measures; the latest event marks; the connection line; and, always on the last row, the keys.
//! On a small terminal the block shrinks and the numbers become one line of text; the keys
//! stay.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Circle, Context, Line as CanvasLine, Points};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::model::{BigNumber, Gauge, Outline, Tone, UiState, KEYS, MARKS_SHOWN};

/// Below this many rows or columns the view is compact (no big digits, a thin block).
pub const ROOMY_ROWS: u16 = 22;
/// See [`ROOMY_ROWS`].
pub const ROOMY_COLUMNS: u16 = 64;
/// The big numbers' column, characters.
const NUMBERS_WIDTH: u16 = 28;
/// Rows of a big digit.
pub const DIGIT_ROWS: usize = 5;

/// Draws the whole view.
pub fn render(frame: &mut Frame, ui: &UiState) {
    let area = frame.area();
    let [body, keys] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    frame.render_widget(keys_line(&KEYS), keys);
    let roomy = body.height >= ROOMY_ROWS && body.width >= ROOMY_COLUMNS;
    let block_rows = if roomy {
        5
    } else if body.height >= 12 {
        3
    } else {
        1
    };
    let marks_rows = if body.height >= 12 {
        MARKS_SHOWN as u16
    } else {
        0
    };
    let [title, block, middle, stats, marks, connection] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(block_rows),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(marks_rows),
        Constraint::Length(1),
    ])
    .areas(body);

    frame.render_widget(
        Paragraph::new(ui.title()).style(Style::default().add_modifier(Modifier::BOLD)),
        title,
    );
    render_headline(frame, ui, block);

    let numbers = ui.numbers();
    let gauge_area = if roomy {
        let [gauge_area, numbers_area] =
            Layout::horizontal([Constraint::Min(10), Constraint::Length(NUMBERS_WIDTH)])
                .areas(middle);
        render_big_numbers(frame.buffer_mut(), numbers_area, &numbers);
        gauge_area
    } else {
        middle
    };
    render_gauge(frame, ui, gauge_area);

    // On a small screen the numbers join the measures' line.
    let mut stats_text = ui.stats();
    if !roomy {
        let captions: Vec<String> = numbers.into_iter().map(|n| n.caption).collect();
        stats_text = format!("{} · {stats_text}", captions.join(" · "));
    }
    frame.render_widget(Paragraph::new(stats_text), stats);

    let lines: Vec<Line> = ui
        .marks()
        .map(|(age_s, mark)| {
            let age = if age_s == 0 {
                "   now".to_string()
            } else {
                format!("{age_s:>4} s")
            };
            Line::from(vec![
                Span::styled(format!("{age}  "), Style::default().fg(Color::DarkGray)),
                Span::styled(mark.text.clone(), Style::default().fg(colour(mark.tone))),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), marks);

    let (tone, text) = ui.connection();
    let style = match tone {
        Tone::Plain => Style::default().fg(Color::Gray),
        tone => Style::default()
            .fg(colour(tone))
            .add_modifier(Modifier::BOLD),
    };
    frame.render_widget(Paragraph::new(text).style(style), connection);
}

/// The keys, on one line: the pain stop (the first) loudest (also the guided session's).
pub fn keys_line(keys: &[(&str, &str)]) -> Paragraph<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        let style = if i == 0 {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        };
        spans.push(Span::styled(format!(" {key}: {what} "), style));
        spans.push(Span::raw("   "));
    }
    Paragraph::new(Line::from(spans))
}

/// The colour of a tone.
fn colour(tone: Tone) -> Color {
    match tone {
        Tone::Good => Color::Green,
        Tone::Bad => Color::Red,
        Tone::Corrected => Color::Cyan,
        Tone::Prompt => Color::Yellow,
        Tone::Paused => Color::Magenta,
        Tone::Plain => Color::Gray,
    }
}

/// The big block: the headline on its tone's colour, the word spaced out and bold.
fn render_headline(frame: &mut Frame, ui: &UiState, area: Rect) {
    let headline = ui.headline();
    let style = Style::default().bg(colour(headline.tone)).fg(Color::Black);
    let big = Span::styled(
        spaced(&headline.big),
        Style::default().add_modifier(Modifier::BOLD),
    );
    let lines = match area.height {
        0 => return,
        1 | 2 => vec![Line::from(vec![
            big,
            Span::raw(format!("  {}", headline.detail)),
        ])],
        height => {
            // The word in the middle, what to do below it.
            let mut lines = vec![Line::raw(""); usize::from((height - 2) / 2)];
            lines.push(Line::from(big));
            lines.push(Line::raw(headline.detail));
            lines
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .style(style),
        area,
    );
}

/// `IN BAND` as `I N   B A N D`: wider, so it reads from further away.
fn spaced(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c == ' ' {
                "  ".to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The gauge of the controlled quantity, or nothing while there is no reading.
fn render_gauge(frame: &mut Frame, ui: &UiState, area: Rect) {
    let visual = ui.cues().visual;
    let Some(gauge) = ui.gauge() else {
        return;
    };
    if area.height < 2 || area.width < 8 {
        return;
    }
    let [view, caption] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let caption_text = match &gauge {
        Gauge::Line { caption, .. } | Gauge::Plane { caption, .. } | Gauge::Cop { caption, .. } => {
            caption.clone()
        }
    };
    frame.render_widget(Paragraph::new(caption_text), caption);
    match gauge {
        Gauge::Line {
            value,
            band,
            limit,
            ends,
            in_band,
            ..
        } => line_gauge(
            frame.buffer_mut(),
            view,
            LineReading {
                value,
                band,
                limit,
                ends,
                marker: marker_colour(in_band, visual),
            },
        ),
        Gauge::Plane {
            point,
            band,
            limit,
            in_band,
            ..
        } => {
            let side = limit * 1.1;
            let marker = marker_colour(in_band, visual);
            let canvas = Canvas::default()
                .marker(Marker::Braille)
                .x_bounds([-side, side])
                .y_bounds([-side, side])
                .paint(move |ctx| {
                    axes(ctx, [-side, side], [-side, side]);
                    ctx.draw(&Circle {
                        x: 0.0,
                        y: 0.0,
                        radius: limit,
                        color: Color::Red,
                    });
                    ctx.draw(&Circle {
                        x: 0.0,
                        y: 0.0,
                        radius: band,
                        color: Color::Green,
                    });
                    ctx.print(-side, side, "front");
                    ctx.layer();
                    dot(ctx, clamp_to_circle(point, limit), limit / 8.0, marker);
                });
            frame.render_widget(canvas, square_area(view, [2.0 * side, 2.0 * side]));
        }
        Gauge::Cop {
            point,
            outline,
            ring,
            on_ring,
            ..
        } => {
            let (x_range, y_range) = match outline {
                Outline::Square(half) => ([-half * 1.1, half * 1.1], [-half * 1.1, half * 1.1]),
                Outline::Limits {
                    forward_mm,
                    back_mm,
                    side_mm,
                } => (
                    [-side_mm * 1.1, side_mm * 1.1],
                    [-back_mm * 1.1, forward_mm * 1.1],
                ),
            };
            let marker = marker_colour(on_ring, visual);
            let canvas = Canvas::default()
                .marker(Marker::Braille)
                .x_bounds(x_range)
                .y_bounds(y_range)
                .paint(move |ctx| {
                    axes(ctx, x_range, y_range);
                    match outline {
                        Outline::Square(half) => {
                            for [x1, y1, x2, y2] in [
                                [-half, -half, half, -half],
                                [half, -half, half, half],
                                [half, half, -half, half],
                                [-half, half, -half, -half],
                            ] {
                                ctx.draw(&CanvasLine::new(x1, y1, x2, y2, Color::DarkGray));
                            }
                        }
                        Outline::Limits {
                            forward_mm,
                            back_mm,
                            side_mm,
                        } => limits_outline(ctx, forward_mm, back_mm, side_mm),
                    }
                    if let Some(([x, y], radius)) = ring {
                        ctx.draw(&Circle {
                            x,
                            y,
                            radius,
                            color: Color::Green,
                        });
                    }
                    ctx.print(x_range[0], y_range[1], "front");
                    ctx.layer();
                    if let Some([x, y]) = point {
                        let x = x.clamp(x_range[0], x_range[1]);
                        let y = y.clamp(y_range[0], y_range[1]);
                        dot(ctx, [x, y], (x_range[1] - x_range[0]) / 28.0, marker);
                    }
                });
            let size = [x_range[1] - x_range[0], y_range[1] - y_range[0]];
            frame.render_widget(canvas, square_area(view, size));
        }
    }
}

/// Green in the band, red out of it; white when the user turned the visual cue off.
fn marker_colour(in_band: bool, visual: bool) -> Color {
    match (visual, in_band) {
        (false, _) => Color::White,
        (true, true) => Color::Green,
        (true, false) => Color::Red,
    }
}

/// The cross through the origin.
fn axes(ctx: &mut Context, x_range: [f64; 2], y_range: [f64; 2]) {
    ctx.draw(&CanvasLine::new(
        x_range[0],
        0.0,
        x_range[1],
        0.0,
        Color::DarkGray,
    ));
    ctx.draw(&CanvasLine::new(
        0.0,
        y_range[0],
        0.0,
        y_range[1],
        Color::DarkGray,
    ));
}

/// A filled dot: concentric circles and its centre.
fn dot(ctx: &mut Context, [x, y]: [f64; 2], radius: f64, color: Color) {
    for share in [1.0, 0.75, 0.5, 0.25] {
        ctx.draw(&Circle {
            x,
            y,
            radius: radius * share,
            color,
        });
    }
    ctx.draw(&Points {
        coords: &[(x, y)],
        color,
    });
}

/// The limits of stability: half ellipses forward and back of the centre.
fn limits_outline(ctx: &mut Context, forward_mm: f64, back_mm: f64, side_mm: f64) {
    const STEPS: usize = 72;
    let at = |i: usize| {
        let angle = i as f64 / STEPS as f64 * std::f64::consts::TAU;
        let (sin, cos) = angle.sin_cos();
        let reach = if cos >= 0.0 { forward_mm } else { back_mm };
        [side_mm * sin, reach * cos]
    };
    for i in 0..STEPS {
        let ([x1, y1], [x2, y2]) = (at(i), at(i + 1));
        ctx.draw(&CanvasLine::new(x1, y1, x2, y2, Color::DarkGray));
    }
}

/// A point kept on the view: at most a little past the outer circle.
fn clamp_to_circle([x, y]: [f64; 2], limit: f64) -> [f64; 2] {
    let size = x.hypot(y);
    let most = limit * 1.05;
    if size > most {
        [x * most / size, y * most / size]
    } else {
        [x, y]
    }
}

/// The largest area inside `area` whose shape is that of a `size` (width, height) plane,
/// centred: a terminal cell is about twice as tall as wide, so circles stay round.
fn square_area(area: Rect, [width, height]: [f64; 2]) -> Rect {
    let cells_per_unit =
        (f64::from(area.width) / (2.0 * width)).min(f64::from(area.height) / height);
    let w = ((2.0 * width * cells_per_unit).floor() as u16).clamp(1, area.width);
    let h = ((height * cells_per_unit).floor() as u16).clamp(1, area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y,
        width: w,
        height: h,
    }
}

/// A signed reading on a line, for [`line_gauge`].
#[derive(Debug, Clone, Copy)]
struct LineReading {
    value: f64,
    band: f64,
    limit: f64,
    ends: [&'static str; 2],
    marker: Color,
}

/// The column of `value` on a line of `width` columns from −`limit` to +`limit`.
pub fn gauge_column(value: f64, limit: f64, width: u16) -> u16 {
    let share = ((value / limit).clamp(-1.0, 1.0) + 1.0) / 2.0;
    (share * f64::from(width.saturating_sub(1))).round() as u16
}

/// The line gauge: every row of `area` but the last is the bar (the band on green, the centre
/// line, the reading as a block three columns wide); the last row has the scale.
fn line_gauge(buf: &mut Buffer, area: Rect, r: LineReading) {
    if area.width < 8 || area.height < 2 {
        return;
    }
    let bar_rows = area.height - 1;
    let (band_lo, band_hi) = (
        gauge_column(-r.band, r.limit, area.width),
        gauge_column(r.band, r.limit, area.width),
    );
    let centre = gauge_column(0.0, r.limit, area.width);
    let marker = gauge_column(r.value, r.limit, area.width);
    for row in 0..bar_rows {
        for col in 0..area.width {
            let (symbol, style) = if col.abs_diff(marker) <= 1 {
                ("█", Style::default().fg(r.marker))
            } else if col == band_lo || col == band_hi {
                ("┃", Style::default().fg(Color::Green))
            } else if col == centre {
                (
                    "│",
                    Style::default().fg(Color::Gray).bg(Color::Rgb(0, 60, 0)),
                )
            } else if col > band_lo && col < band_hi {
                (" ", Style::default().bg(Color::Rgb(0, 60, 0)))
            } else {
                ("·", Style::default().fg(Color::DarkGray))
            };
            if let Some(cell) = buf.cell_mut((area.x + col, area.y + row)) {
                cell.set_symbol(symbol).set_style(style);
            }
        }
    }
    // The scale: the ends, the band's edges, the centre.
    let y = area.y + bar_rows;
    let label_style = Style::default().fg(Color::Gray);
    let left_end = format!("−{:.0}° {}", r.limit, r.ends[0]);
    let right_end = format!("{} +{:.0}°", r.ends[1], r.limit);
    buf.set_string(area.x, y, left_end.trim_end(), label_style);
    let right_width = Line::raw(right_end.trim_start()).width() as u16;
    buf.set_string(
        area.x + area.width.saturating_sub(right_width),
        y,
        right_end.trim_start(),
        label_style,
    );
    let band_label = format!("±{:.0}°", r.band);
    let band_style = Style::default().fg(Color::Green);
    let band_width = Line::raw(band_label.as_str()).width() as u16;
    if band_hi + 1 + band_width < area.width.saturating_sub(right_width) {
        buf.set_string(area.x + band_hi + 1, y, &band_label, band_style);
    }
    buf.set_string(area.x + centre, y, "0", label_style);
}

/// The glyph of `c` in the big digits: rows of `#` and spaces, three columns wide.
fn glyph(c: char) -> [&'static str; DIGIT_ROWS] {
    match c {
        '0' => ["###", "# #", "# #", "# #", "###"],
        '1' => ["## ", " # ", " # ", " # ", "###"],
        '2' => ["###", "  #", "###", "#  ", "###"],
        '3' => ["###", "  #", "###", "  #", "###"],
        '4' => ["# #", "# #", "###", "  #", "  #"],
        '5' => ["###", "#  ", "###", "  #", "###"],
        '6' => ["###", "#  ", "###", "# #", "###"],
        '7' => ["###", "  #", "  #", "  #", "  #"],
        '8' => ["###", "# #", "###", "# #", "###"],
        '9' => ["###", "# #", "###", "  #", "###"],
        '-' => ["   ", "   ", "###", "   ", "   "],
        _ => ["   ", "   ", "   ", "   ", "   "],
    }
}

/// `text` in big digits: each glyph's columns doubled (a cell is twice as tall as wide), one
/// blank column between glyphs.
pub fn big_text(text: &str) -> [String; DIGIT_ROWS] {
    let mut rows: [String; DIGIT_ROWS] = Default::default();
    for (i, c) in text.chars().enumerate() {
        for (row, pattern) in rows.iter_mut().zip(glyph(c)) {
            if i > 0 {
                row.push(' ');
            }
            for dot in pattern.chars() {
                row.push_str(if dot == '#' { "██" } else { "  " });
            }
        }
    }
    rows
}

/// The big numbers, one under the other with their captions; those that do not fit in big
/// digits are their captions only.
fn render_big_numbers(buf: &mut Buffer, area: Rect, numbers: &[BigNumber]) {
    let mut y = area.y;
    let bottom = area.y + area.height;
    for number in numbers {
        let rows = big_text(&number.value);
        let fits = rows[0].chars().count() < usize::from(area.width);
        let big = fits && bottom.saturating_sub(y) >= DIGIT_ROWS as u16 + 2;
        if big {
            for row in rows {
                buf.set_string(area.x + 1, y, &row, Style::default().fg(Color::White));
                y += 1;
            }
        }
        if y >= bottom {
            break;
        }
        buf.set_string(
            area.x + 1,
            y,
            &number.caption,
            Style::default().add_modifier(Modifier::BOLD),
        );
        y += if big { 2 } else { 1 };
    }
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::super::model::tests::{rocker, status};
    use super::*;
    use crate::cues::CueKinds;
    use crate::drill::WobbleHoldLive;
    use crate::session::DrillLive;

    /// `ui` drawn on a `width` × `height` test terminal: the buffer and its rows as text.
    fn screen(ui: &UiState, width: u16, height: u16) -> (Buffer, Vec<String>) {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(frame, ui)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let rows = (0..height)
            .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
            .collect();
        (buffer, rows)
    }

    fn find(rows: &[String], text: &str) -> Option<usize> {
        rows.iter().position(|row| row.contains(text))
    }

    #[test]
    fn a_roomy_screen_shows_title_block_gauge_band_countdown_score_and_keys() {
        let ui = UiState::new("simulator".into(), CueKinds::default(), rocker(2.0), 0);
        let (_, rows) = screen(&ui, 100, 30);
        let text = rows.join("\n");
        for expected in [
            "proprio · rocker-board hold · level 1 · band ±7°",
            "I N    B A N D",
            "board tilt +2.0° · band ±7°",
            "TIME LEFT 18 s",
            "SCORE 42",
            "in band 61 %",
            "simulator · connected",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(
            rows[29].contains("p: STOP, IT HURTS"),
            "keys on the last row"
        );
        assert!(rows[29].contains("q / Esc: stop"));
        // The countdown and the score in big digits above their captions.
        let caption = find(&rows, "TIME LEFT 18 s").unwrap();
        let digits = big_text("18");
        for (i, row) in digits.iter().enumerate() {
            assert!(
                rows[caption - DIGIT_ROWS + i].contains(row.as_str()),
                "big 18, row {i}"
            );
        }
    }

    #[test]
    fn the_gauge_puts_the_reading_where_it_is_between_the_edges() {
        let width: u16 = 100;
        // The gauge's columns: the screen less the numbers' column.
        let gauge_width = width - NUMBERS_WIDTH;
        assert_eq!(gauge_width, 72);
        // −15° (the left edge) at column 0, +15° at the last (71), 0 half way: 35.5, rounded.
        for (tilt_deg, column) in [(-15.0, 0u16), (0.0, 36), (15.0, 71)] {
            assert_eq!(gauge_column(tilt_deg, 15.0, gauge_width), column);
            let ui = UiState::new("sim".into(), CueKinds::default(), rocker(tilt_deg), 0);
            let (buffer, rows) = screen(&ui, width, 30);
            let bar_row = find(&rows, "┃").expect("the band's edges") as u16;
            assert_eq!(buffer[(column, bar_row)].symbol(), "█", "tilt {tilt_deg}");
            let colour = buffer[(column, bar_row)].fg;
            let expected = if tilt_deg.abs() <= 7.0 {
                Color::Green
            } else {
                Color::Red
            };
            assert_eq!(colour, expected, "tilt {tilt_deg}");
        }
        // The band's edges at ±7° of ±15°.
        let ui = UiState::new("sim".into(), CueKinds::default(), rocker(0.0), 0);
        let (buffer, rows) = screen(&ui, width, 30);
        let bar_row = find(&rows, "┃").unwrap() as u16;
        for band_deg in [-7.0, 7.0] {
            let column = gauge_column(band_deg, 15.0, gauge_width);
            assert_eq!(buffer[(column, bar_row)].symbol(), "┃");
        }
    }

    #[test]
    fn a_small_screen_keeps_the_keys_and_the_numbers_as_text() {
        let ui = UiState::new("simulator".into(), CueKinds::default(), rocker(2.0), 0);
        let (_, rows) = screen(&ui, 60, 16);
        let text = rows.join("\n");
        assert!(text.contains("TIME LEFT 18 s · SCORE 42"), "{text}");
        assert!(rows[15].contains("p: STOP, IT HURTS"), "{text}");
        // Tiny: still the keys, and no panic.
        let (_, rows) = screen(&ui, 30, 4);
        assert!(rows[3].contains("p: STOP, IT HURTS"), "{rows:?}");
    }

    #[test]
    fn a_wobble_board_is_drawn_on_a_plane_with_its_band_circle() {
        let live = status(DrillLive::WobbleHold {
            live: WobbleHoldLive {
                tilt_ap_deg: 3.0,
                tilt_ml_deg: 4.0,
                in_band: true,
                ..WobbleHoldLive::default()
            },
            band_deg: 8.0,
            edge_limit_deg: 15.0,
        });
        let ui = UiState::new("simulator".into(), CueKinds::default(), live, 0);
        let (buffer, rows) = screen(&ui, 100, 30);
        let text = rows.join("\n");
        assert!(text.contains("board tilt 5.0° towards"), "{text}");
        assert!(text.contains("front"), "{text}");
        // The band's circle is green braille; the reading a dot of the in-band colour.
        let braille = |c: &str| c.chars().all(|ch| ('\u{2800}'..='\u{28ff}').contains(&ch));
        let cells = (0..100u16).flat_map(|x| (0..30u16).map(move |y| (x, y)));
        let greens = cells
            .filter(|&p| braille(buffer[p].symbol()) && buffer[p].fg == Color::Green)
            .count();
        assert!(greens > 20, "only {greens} green braille cells");
    }

    #[test]
    fn big_digits_are_five_rows_and_tell_every_digit_apart() {
        let all: Vec<[String; DIGIT_ROWS]> =
            ('0'..='9').map(|c| big_text(&c.to_string())).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.iter().all(|row| row.chars().count() == 6),
                "{i}: 3 doubled columns"
            );
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Two glyphs: a blank column between them.
        assert!(big_text("42").iter().all(|row| row.chars().count() == 13));
    }
}
