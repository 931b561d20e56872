//! The report's plots, drawn with plotters on any backend (the report draws each twice: SVG
//! for the HTML page, PNG for files). Text uses the bundled DejaVu Sans (assets/fonts), so
//! PNGs need no system fonts.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::progress::DrillProgress;

/// The font every plot's text is drawn in.
const FONT: &str = "sans-serif";
static FONT_ONCE: Once = Once::new();

/// Registers the bundled font under [`FONT`] (once).
pub fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bundled file is a valid font: this cannot fail but is not worth a panic.
            let _ = plotters::style::register_font(FONT, style, bytes);
        }
    });
}

/// A drawing error as one sentence.
pub fn draw_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw a plot: {error:?}")
}

type Drawn = anyhow::Result<()>;

const BAND: RGBColor = RGBColor(46, 160, 67);
const TRACE: RGBColor = RGBColor(31, 90, 180);
const SECOND: RGBColor = RGBColor(200, 110, 20);
const BAD: RGBColor = RGBColor(210, 40, 40);
const GOOD: RGBColor = RGBColor(30, 150, 60);
const GREY: RGBColor = RGBColor(120, 120, 120);

fn title_style() -> TextStyle<'static> {
    (FONT, 22).into_font().into()
}
fn label_style() -> TextStyle<'static> {
    (FONT, 15).into_font().into()
}
fn axis_style() -> TextStyle<'static> {
    (FONT, 17).into_font().into()
}

/// A centred COP trace (mm) with its 95 % prediction ellipse (semi-axes, major-axis direction).
pub struct Stabilogram<'a> {
    /// Title.
    pub title: &'a str,
    /// Medio-lateral, mm.
    pub ml_mm: &'a [f64],
    /// Antero-posterior, mm.
    pub ap_mm: &'a [f64],
    /// The ellipse: semi-axes (major, minor) mm and the major axis's angle from +ML, degrees.
    pub ellipse: Option<([f64; 2], f64)>,
    /// Drawn relative to the trace's mean (true), or as given in the board's frame.
    pub centred: bool,
    /// A weight shift's targets: where (mm, the board's frame), their radius (mm) and whether
    /// each was reached (`None`: neither reached nor missed).
    pub targets: Vec<([f64; 2], f64, Option<bool>)>,
}

impl Stabilogram<'_> {
    /// Draws it on `root`.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(draw_error)?;
        let finite = |v: &&f64| v.is_finite();
        let mut extent = self
            .ml_mm
            .iter()
            .chain(self.ap_mm)
            .filter(finite)
            .fold(1.0f64, |m, v| m.max(v.abs()));
        if let Some(([a, _], _)) = self.ellipse {
            extent = extent.max(a);
        }
        for ([x, y], radius, _) in &self.targets {
            extent = extent.max(x.abs() + radius).max(y.abs() + radius);
        }
        let r = extent * 1.1;
        let (x_desc, y_desc) = if self.centred {
            (
                "side to side (ML) from the mean, mm",
                "front–back (AP) from the mean, mm",
            )
        } else {
            ("side to side (ML), mm", "front–back (AP), mm")
        };
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, title_style())
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(65)
            .build_cartesian_2d(-r..r, -r..r)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;
        let path: Vec<(f64, f64)> = self
            .ml_mm
            .iter()
            .zip(self.ap_mm)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (*x, *y))
            .collect();
        chart
            .draw_series(LineSeries::new(path, TRACE.stroke_width(1)))
            .map_err(draw_error)?
            .label("centre of pressure")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TRACE.stroke_width(2)));
        let circle = |[x, y]: [f64; 2], radius: f64| -> Vec<(f64, f64)> {
            (0..=90)
                .map(|k| {
                    let t = k as f64 / 90.0 * std::f64::consts::TAU;
                    (x + radius * t.cos(), y + radius * t.sin())
                })
                .collect()
        };
        for (reached, label, colour) in [
            (Some(true), "target reached", GOOD),
            (Some(false), "target missed", BAD),
            (None, "target", GREY),
        ] {
            let outlines: Vec<PathElement<(f64, f64)>> = self
                .targets
                .iter()
                .filter(|t| t.2 == reached)
                .map(|(at, radius, _)| {
                    PathElement::new(circle(*at, *radius), colour.stroke_width(3))
                })
                .collect();
            if !outlines.is_empty() {
                chart
                    .draw_series(outlines)
                    .map_err(draw_error)?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 6, colour.stroke_width(3)));
            }
        }
        if let Some(([a, b], angle_deg)) = self.ellipse {
            let (s, c) = angle_deg.to_radians().sin_cos();
            let outline: Vec<(f64, f64)> = (0..=180)
                .map(|k| {
                    let t = k as f64 / 180.0 * std::f64::consts::TAU;
                    let (x, y) = (a * t.cos(), b * t.sin());
                    (x * c - y * s, x * s + y * c)
                })
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    outline,
                    BAD.stroke_width(3),
                )))
                .map_err(draw_error)?
                .label(format!(
                    "95 % prediction ellipse, {:.0} mm²",
                    std::f64::consts::PI * a * b
                ))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BAD.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .label_font(label_style())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)
    }
}

/// A line of a trace.
pub struct Line {
    /// Legend text.
    pub label: String,
    /// (time s, value).
    pub points: Vec<(f64, f64)>,
    /// Second colour (a second line of the same plot).
    pub second: bool,
}

/// An event mark on a trace.
pub struct Mark {
    /// Time, s.
    pub t_s: f64,
    /// Its kind, for the legend.
    pub kind: &'static str,
    /// Good (green), bad (red) or neutral (grey).
    pub tone: Tone,
}

/// How an event reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Good news (back in the band, a step taken).
    Good,
    /// Bad news (out of the band, a misstep).
    Bad,
    /// The worst news: the board's edge or rim hit the floor (black).
    Contact,
    /// Neither.
    Neutral,
}

/// A quantity over time with its target band, limits and the drill's events.
pub struct Trace<'a> {
    /// Title.
    pub title: String,
    /// The x axis's description, with its unit.
    pub x_desc: &'a str,
    /// The y axis's description, with its unit.
    pub y_desc: &'a str,
    /// The lines.
    pub lines: Vec<Line>,
    /// The target band (low, high) and its legend text.
    pub band: Option<(f64, f64, String)>,
    /// Dashed limit lines (value) and their legend text.
    pub limits: Option<(Vec<f64>, String)>,
    /// The events.
    pub marks: Vec<Mark>,
    /// The x range, s.
    pub x_range: (f64, f64),
}

impl Trace<'_> {
    /// Draws it on `root`.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(draw_error)?;
        let values = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
        let limits = self.limits.iter().flat_map(|(v, _)| v.iter().copied());
        let band = self.band.iter().flat_map(|(lo, hi, _)| [*lo, *hi]);
        let (lo, hi) = values
            .chain(limits)
            .chain(band)
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.08).max(0.5);
        let (y0, y1) = (lo - pad, hi + pad);
        let (x0, x1) = self.x_range;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, title_style())
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;
        if let Some((lo, hi, label)) = &self.band {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, *lo), (x1, *hi)],
                    BAND.mix(0.18).filled(),
                )))
                .map_err(draw_error)?
                .label(label.clone())
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], BAND.mix(0.3).filled())
                });
        }
        if let Some((values, label)) = &self.limits {
            for (k, v) in values.iter().enumerate() {
                let dashes: Vec<PathElement<(f64, f64)>> = dashed(x0, x1, *v);
                let series = chart.draw_series(dashes).map_err(draw_error)?;
                if k == 0 {
                    series.label(label.clone()).legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2))
                    });
                }
            }
        }
        // Events as ticks along the top and bottom, one legend entry per kind.
        let mut shown: Vec<&str> = Vec::new();
        for mark in &self.marks {
            let colour = match mark.tone {
                Tone::Good => GOOD,
                Tone::Bad => BAD,
                Tone::Contact => BLACK,
                Tone::Neutral => GREY,
            };
            let tick = (y1 - y0) * 0.07;
            let series = chart
                .draw_series([
                    PathElement::new(
                        vec![(mark.t_s, y1), (mark.t_s, y1 - tick)],
                        colour.stroke_width(3),
                    ),
                    PathElement::new(
                        vec![(mark.t_s, y0), (mark.t_s, y0 + tick)],
                        colour.stroke_width(3),
                    ),
                ])
                .map_err(draw_error)?;
            if !shown.contains(&mark.kind) {
                shown.push(mark.kind);
                series.label(mark.kind).legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x + 10, y - 7), (x + 10, y + 7)],
                        colour.stroke_width(3),
                    )
                });
            }
        }
        for line in &self.lines {
            let colour = if line.second { SECOND } else { TRACE };
            chart
                .draw_series(LineSeries::new(
                    thin(&line.points, MAX_LINE_POINTS),
                    // A thinned line's spikes are drawn clean only one pixel wide.
                    colour.stroke_width(if line.points.len() > MAX_LINE_POINTS {
                        1
                    } else {
                        2
                    }),
                ))
                .map_err(draw_error)?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font(label_style())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)
    }
}

/// Most points a trace's line is drawn with: more than a plot's width in pixels shows nothing
/// more, and an hour's recording would make the page's SVG tens of megabytes.
const MAX_LINE_POINTS: usize = 4000;

/// `points` (in time order) thinned to at most about `max`: each bucket of consecutive points
/// gives its lowest and highest, in their order, so peaks (an edge contact) stay drawn.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(max / 2);
    points
        .chunks(bucket)
        .flat_map(|chunk| {
            let lowest = chunk.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
            let highest = chunk.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            match (lowest, highest) {
                (Some(lo), Some(hi)) if lo.0 <= hi.0 => [lo, hi],
                (Some(lo), Some(hi)) => [hi, lo],
                _ => [(f64::NAN, f64::NAN); 2],
            }
        })
        .filter(|p| p.0.is_finite())
        .collect()
}

/// A dashed horizontal line at `y` from `x0` to `x1`.
fn dashed(x0: f64, x1: f64, y: f64) -> Vec<PathElement<(f64, f64)>> {
    let n = 60;
    let step = (x1 - x0) / n as f64;
    (0..n)
        .step_by(2)
        .map(|k| {
            let a = x0 + k as f64 * step;
            PathElement::new(vec![(a, y), (a + step, y)], BLACK.stroke_width(2))
        })
        .collect()
}

/// A drill's progress over weeks: the progress score on top (with the plan's 80-point line),
/// the change from the level's baseline with its MDC band below; level changes marked on both.
pub struct ProgressPlot<'a> {
    /// The drill's progress.
    pub progress: &'a DrillProgress,
    /// Title.
    pub title: String,
}

impl ProgressPlot<'_> {
    /// Draws it on `root`.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(draw_error)?;
        let p = self.progress;
        let title_height = 40;
        let (title_area, body) = root.split_vertically(title_height);
        title_area
            .titled(&self.title, title_style())
            .map_err(draw_error)?;
        let (top, bottom) = body.split_vertically((body.dim_in_pixel().1 as f64 * 0.45) as u32);
        let last_week = p.points.iter().map(|q| q.week).fold(0.0, f64::max);
        let (x0, x1) = (-0.3, (last_week + 0.3).max(1.0));

        // Top: the progress score, 0 at the baseline, 100 at the healthy reference.
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, -5.0..105.0)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .y_desc("progress score (0–100)")
            .x_label_formatter(&|w| format!("{w:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(dashed(x0, x1, crate::plan::ADVANCE_SCORE))
            .map_err(draw_error)?
            .label("80: a good session (3 in a row move you up)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        self.level_lines(&mut chart, -5.0, 105.0)?;
        let scored: Vec<(f64, f64)> = p
            .points
            .iter()
            .filter_map(|q| q.progress_score.map(|s| (q.week, s)))
            .collect();
        chart
            .draw_series(scored.iter().map(|&xy| Circle::new(xy, 5, TRACE.filled())))
            .map_err(draw_error)?
            .label("a session's progress score")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, TRACE.filled()));
        chart
            .configure_series_labels()
            .label_font(label_style())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(draw_error)?;

        // Bottom: the change from the level's baseline with its MDC band.
        let changes = p.points.iter().filter_map(|q| q.improvement_percent);
        let bands = p
            .points
            .iter()
            .filter_map(|q| q.mdc_band_percent)
            .flat_map(|b| b.into_iter());
        let (lo, hi) = changes
            .chain(bands)
            .fold((-10.0f64, 10.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (y0, y1) = (lo - 5.0, hi + 5.0);
        let mut chart = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("weeks since the first session")
            .y_desc("better than baseline, %")
            .x_label_formatter(&|w| format!("{w:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(label_style())
            .axis_desc_style(axis_style())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_error)?;
        // The band of each level's stretch of sessions, from its first to its last session.
        let mut first_band = true;
        let mut k = 0;
        while k < p.points.len() {
            let level = p.points[k].level;
            let mut end = k;
            while end + 1 < p.points.len() && p.points[end + 1].level == level {
                end += 1;
            }
            if let Some(band) = p.points[k..=end].iter().find_map(|q| q.mdc_band_percent) {
                let (a, b) = (p.points[k].week - 0.15, p.points[end].week + 0.15);
                let series = chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, band[0]), (b, band[1])],
                        GREY.mix(0.25).filled(),
                    )))
                    .map_err(draw_error)?;
                if first_band {
                    first_band = false;
                    series
                        .label("baseline ± minimal detectable change")
                        .legend(|(x, y)| {
                            Rectangle::new([(x, y - 6), (x + 20, y + 6)], GREY.mix(0.4).filled())
                        });
                }
            }
            k = end + 1;
        }
        self.level_lines(&mut chart, y0, y1)?;
        let better: Vec<(f64, f64)> = p
            .points
            .iter()
            .filter(|q| !q.baseline_trial)
            .filter_map(|q| q.improvement_percent.map(|c| (q.week, c)))
            .collect();
        let baseline: Vec<(f64, f64)> = p
            .points
            .iter()
            .filter(|q| q.baseline_trial)
            .filter_map(|q| q.improvement_percent.map(|c| (q.week, c)))
            .collect();
        chart
            .draw_series(better.iter().map(|&xy| Circle::new(xy, 5, TRACE.filled())))
            .map_err(draw_error)?
            .label("a session")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, TRACE.filled()));
        chart
            .draw_series(
                baseline
                    .iter()
                    .map(|&xy| Circle::new(xy, 5, TRACE.stroke_width(2))),
            )
            .map_err(draw_error)?
            .label("a baseline trial")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, TRACE.stroke_width(2)));
        chart
            .configure_series_labels()
            .label_font(label_style())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)
    }

    /// The plan's level changes: a vertical line each, labelled.
    fn level_lines<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        y0: f64,
        y1: f64,
    ) -> Drawn {
        for change in &self.progress.level_changes {
            let colour = if change.to > change.from { GOOD } else { BAD };
            // Between the session that caused it and the next.
            let next = self
                .progress
                .points
                .get(change.after_point + 1)
                .map_or(change.week + 0.3, |q| q.week);
            let x = (change.week + next) / 2.0;
            chart
                .draw_series([PathElement::new(
                    vec![(x, y0), (x, y1)],
                    colour.stroke_width(2),
                )])
                .map_err(draw_error)?;
            chart
                .draw_series([Text::new(
                    format!(" level {}→{}", change.from, change.to),
                    (x, y1 - (y1 - y0) * 0.02),
                    label_style().color(&colour),
                )])
                .map_err(draw_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_peaks_in_order() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|k| (k as f64, if k == 7_777 { 50.0 } else { (k as f64).sin() }))
            .collect();
        let thinned = thin(&points, 1000);
        assert!(thinned.len() <= 1000, "{}", thinned.len());
        assert!(thinned.contains(&(7777.0, 50.0)), "the peak is kept");
        assert!(
            thinned.windows(2).all(|w| w[0].0 <= w[1].0),
            "in time order"
        );
        assert_eq!(thin(&points[..10], 1000), points[..10].to_vec());
    }
}
