//! Plots of the reports as SVG and PNG: the overhead distribution per group (boxes from the
//! exact percentiles) and a session's decision timeline with its context pressure.
//!
//! Text in PNGs is drawn with Noto Sans (Apache-2.0), shipped by the `notosans` crate, so no
//! system font is needed; SVG text names `sans-serif` and the viewer's font draws it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{overhead, rca};
use crate::{Error, Result};

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics.
    Svg,
    /// A PNG raster at twice the nominal size.
    Png,
}

impl ImageFormat {
    /// The format a file name's extension names (`.svg` or `.png`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "svg" => Some(Self::Svg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 540;

/// Colours for decisions (Okabe-Ito, readable by colour-blind readers).
fn decision_colour(decision: &str) -> RGBColor {
    match decision {
        "allow" => RGBColor(0, 158, 115),
        "deny" => RGBColor(213, 94, 0),
        "ask" => RGBColor(0, 114, 178),
        "warn" => RGBColor(230, 159, 0),
        "escalate" => RGBColor(204, 121, 167),
        "error" => RGBColor(0, 0, 0),
        _ => RGBColor(153, 153, 153),
    }
}

const DECISIONS: [&str; 8] = [
    "allow", "deny", "ask", "warn", "escalate", "defer", "info", "error",
];

fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Registering the same bytes cannot fail after the first success; a font that does
        // not parse shows as an error when text is drawn.
        let _ =
            plotters::style::register_font("sans-serif", FontStyle::Normal, notosans::REGULAR_TTF);
    });
}

type DrawResult = std::result::Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Something drawable on any backend at a scale (1 for SVG, 2 for PNG).
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: u32) -> DrawResult;
}

/// Renders `fig` in `format`.
fn render(format: ImageFormat, fig: &impl Figure) -> Result<Vec<u8>> {
    render_inner(format, fig).map_err(|message| Error::Plot { message })
}

fn render_inner(format: ImageFormat, fig: &impl Figure) -> std::result::Result<Vec<u8>, String> {
    fonts();
    match format {
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
                fig.draw(&root, 1)?;
                root.present().map_err(err)?;
            }
            Ok(svg.into_bytes())
        }
        ImageFormat::Png => {
            let (w, h) = (WIDTH * 2, HEIGHT * 2);
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                fig.draw(&root, 2)?;
                root.present().map_err(err)?;
            }
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, w, h);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(err)?;
                writer.write_image_data(&buf).map_err(err)?;
            }
            Ok(out)
        }
    }
}

/// The overhead distribution per group: a box from p25 to p75 with the median, whiskers from
/// p5 to p95, and a dot at p99, in milliseconds.
pub fn overhead(report: &overhead::Report, format: ImageFormat) -> Result<Vec<u8>> {
    let mut groups: Vec<(String, &overhead::Stats)> = report
        .groups
        .iter()
        .filter(|s| s.measured > 0)
        .map(|s| {
            let label = s
                .group
                .iter()
                .map(|g| g.clone().unwrap_or_else(|| "(none)".into()))
                .collect::<Vec<_>>()
                .join(" / ");
            (label, s)
        })
        .collect();
    if groups.is_empty() && report.total.measured > 0 {
        groups.push(("all decisions".into(), &report.total));
    }
    // A comparison draws each group under A and under B, one box above the other.
    if let Some(c) = &report.comparison {
        let short = |r: &str| r.chars().take(16).collect::<String>();
        let (a, b) = (short(&c.a), short(&c.b));
        groups = c
            .groups
            .iter()
            .flat_map(|g| {
                let label = g
                    .group
                    .iter()
                    .map(|v| v.clone().unwrap_or_else(|| "(none)".into()))
                    .collect::<Vec<_>>()
                    .join(" / ");
                let label = if label.is_empty() {
                    "all".to_owned()
                } else {
                    label
                };
                [
                    (format!("{label} · A {a}"), g.a.as_ref()),
                    (format!("{label} · B {b}"), g.b.as_ref()),
                ]
            })
            .filter_map(|(l, s)| s.filter(|s| s.measured > 0).map(|s| (l, s)))
            .collect();
    }
    let title = if let Some(c) = &report.comparison {
        format!(
            "Governance overhead: rule set B ({}) against A ({})",
            c.b.chars().take(16).collect::<String>(),
            c.a.chars().take(16).collect::<String>()
        )
    } else if report.group_by.is_empty() {
        "Governance overhead per decision".to_owned()
    } else {
        format!(
            "Governance overhead per decision by {}",
            report
                .group_by
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(" / ")
        )
    };
    let x_max = groups
        .iter()
        .filter_map(|(_, s)| s.p99_us.or(s.p99_approx_us).or(s.max_us.map(|m| m as f64)))
        .fold(0.0f64, f64::max)
        / 1000.0
        * 1.5;
    render(
        format,
        &Boxes {
            title,
            groups,
            x_max,
        },
    )
}

struct Boxes<'a> {
    title: String,
    groups: Vec<(String, &'a overhead::Stats)>,
    x_max: f64,
}

impl Figure for Boxes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: u32) -> DrawResult {
        draw_boxes(root, s, &self.title, &self.groups, self.x_max)
    }
}

fn draw_boxes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: u32,
    title: &str,
    groups: &[(String, &overhead::Stats)],
    x_max: f64,
) -> DrawResult {
    let n = groups.len().max(1);
    root.fill(&WHITE).map_err(err)?;
    let ms = |v: Option<f64>| v.unwrap_or(0.0) / 1000.0;
    // A log axis: overheads span microseconds (in-process evaluators) to hundreds of
    // milliseconds (Node.js hooks) in one trail.
    let x_min = groups
        .iter()
        .map(|(_, st)| ms(st.p5_us.or(st.p5_approx_us).or(st.min_us.map(|m| m as f64))))
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let x_min = if x_min.is_finite() {
        x_min / 2.0
    } else {
        0.001
    };
    let x_max = x_max.max(x_min * 10.0);
    let clamp = |v: f64| v.max(x_min);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20 * s))
        .margin(12 * s)
        .x_label_area_size(50 * s)
        .y_label_area_size(260 * s)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_label_formatter(&|_| String::new())
        .x_desc("overhead (ms, log scale): box p25–p75, line p50, whiskers p5–p95, dot p99")
        .label_style(("sans-serif", 13 * s))
        .axis_desc_style(("sans-serif", 14 * s))
        .draw()
        .map_err(err)?;
    let blue = RGBColor(0, 114, 178);
    for (i, (label, st)) in groups.iter().enumerate() {
        // The first group at the top.
        let y = (n - 1 - i) as f64 + 0.5;
        let (px, py) = chart.backend_coord(&(x_min, y));
        let style = TextStyle::from(("sans-serif", 13 * s).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(
            format!("{label} (n={})", st.measured),
            (px - 8 * s as i32, py),
            style,
        ))
        .map_err(err)?;
        let (p5, p25, p50, p75, p95, p99) = (
            clamp(ms(st.p5_us.or(st.p5_approx_us))),
            clamp(ms(st.p25_us.or(st.p25_approx_us))),
            clamp(ms(st.p50_us.or(st.p50_approx_us))),
            clamp(ms(st.p75_us.or(st.p75_approx_us))),
            clamp(ms(st.p95_us.or(st.p95_approx_us))),
            clamp(ms(st.p99_us.or(st.p99_approx_us))),
        );
        let h = 0.3;
        chart
            .draw_series([Rectangle::new(
                [(p25, y - h), (p75, y + h)],
                blue.mix(0.25).filled(),
            )])
            .map_err(err)?;
        chart
            .draw_series([Rectangle::new(
                [(p25, y - h), (p75, y + h)],
                blue.stroke_width(s),
            )])
            .map_err(err)?;
        chart
            .draw_series([PathElement::new(
                vec![(p50, y - h), (p50, y + h)],
                BLACK.stroke_width(2 * s),
            )])
            .map_err(err)?;
        for seg in [
            vec![(p25, y), (p5, y)],
            vec![(p75, y), (p95, y)],
            vec![(p5, y - h / 2.0), (p5, y + h / 2.0)],
            vec![(p95, y - h / 2.0), (p95, y + h / 2.0)],
        ] {
            chart
                .draw_series([PathElement::new(seg, blue.stroke_width(s))])
                .map_err(err)?;
        }
        chart
            .draw_series([Circle::new((p99, y), 3 * s, RGBColor(213, 94, 0).filled())])
            .map_err(err)?;
    }
    Ok(())
}

/// A session's timeline: one lane per service, a dot per decision coloured by decision (a ring
/// when the effective outcome diverged), and the context pressure below when recorded.
pub fn rca(report: &rca::Report, format: ImageFormat) -> Result<Vec<u8>> {
    let title = format!("Session {}: decisions over time", report.session_id);
    render(format, &Timeline { title, report })
}

struct Timeline<'a> {
    title: String,
    report: &'a rca::Report,
}

impl Figure for Timeline<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: u32) -> DrawResult {
        draw_timeline(root, s, &self.title, self.report)
    }
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: u32,
    title: &str,
    report: &rca::Report,
) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let t0 = report.timeline.first().map_or(0, |st| st.ts_us);
    // The axis in the unit that suits the session's span (a day-long one in hours, not in
    // tens of thousands of seconds).
    let span = report
        .timeline
        .iter()
        .map(|st| (st.ts_us - t0) as f64 / 1e6)
        .fold(0.0f64, f64::max);
    let (unit, per) = match span {
        x if x <= 120.0 => ("seconds", 1.0),
        x if x <= 2.0 * 3600.0 => ("minutes", 60.0),
        x if x <= 2.0 * 86400.0 => ("hours", 3600.0),
        _ => ("days", 86400.0),
    };
    let secs = |st: &rca::Step| (st.ts_us - t0) as f64 / 1e6 / per;
    // 20% on the right for the legend.
    let t_max = report
        .timeline
        .iter()
        .map(secs)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.2;
    let x_desc = format!("{unit} since the first decision");
    let mut lanes: Vec<String> = Vec::new();
    for st in &report.timeline {
        let lane = st.service.clone().unwrap_or_else(|| "(none)".into());
        if !lanes.contains(&lane) {
            lanes.push(lane);
        }
    }
    let has_pressure = report.pressure.is_some();
    let (top, bottom) = if has_pressure {
        root.split_vertically(HEIGHT * s * 2 / 3)
    } else {
        (root.clone(), root.clone())
    };
    let n = lanes.len().max(1);
    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 20 * s))
        .margin(12 * s)
        .x_label_area_size(40 * s)
        .y_label_area_size(190 * s)
        .build_cartesian_2d(0f64..t_max, 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_label_formatter(&|_| String::new())
        .x_label_formatter(&axis_number)
        .x_desc(x_desc.as_str())
        .label_style(("sans-serif", 13 * s))
        .axis_desc_style(("sans-serif", 14 * s))
        .draw()
        .map_err(err)?;
    for (i, lane) in lanes.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, i as f64 + 0.5));
        let style = TextStyle::from(("sans-serif", 13 * s).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        top.draw(&Text::new(lane.clone(), (x - 8 * s as i32, y), style))
            .map_err(err)?;
    }
    let lane_of = |st: &rca::Step| {
        let l = st.service.clone().unwrap_or_else(|| "(none)".into());
        lanes.iter().position(|x| *x == l).unwrap_or(0) as f64 + 0.5
    };
    for d in DECISIONS {
        let colour = decision_colour(d);
        let points: Vec<(f64, f64)> = report
            .timeline
            .iter()
            .filter(|st| st.decision == d)
            .map(|st| (secs(st), lane_of(st)))
            .collect();
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new(*p, 5 * s, colour.filled())),
            )
            .map_err(err)?
            .label(d)
            .legend(move |(x, y)| Circle::new((x, y), 5 * s, colour.filled()));
    }
    let diverged: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .filter(|st| st.divergent)
        .map(|st| (secs(st), lane_of(st)))
        .collect();
    if !diverged.is_empty() {
        chart
            .draw_series(
                diverged
                    .iter()
                    .map(|p| Circle::new(*p, 9 * s, BLACK.stroke_width(2 * s))),
            )
            .map_err(err)?
            .label("outcome ≠ decision")
            .legend(move |(x, y)| Circle::new((x, y), 6 * s, BLACK.stroke_width(2 * s)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13 * s))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    if has_pressure {
        let mut p = ChartBuilder::on(&bottom)
            .margin(12 * s)
            .x_label_area_size(30 * s)
            .y_label_area_size(190 * s)
            .build_cartesian_2d(0f64..t_max, 0f64..1f64)
            .map_err(err)?;
        p.configure_mesh()
            .y_desc("context pressure")
            .y_labels(3)
            .label_style(("sans-serif", 13 * s))
            .axis_desc_style(("sans-serif", 14 * s))
            .draw()
            .map_err(err)?;
        let points: Vec<(f64, f64)> = report
            .timeline
            .iter()
            .filter_map(|st| st.pressure.map(|v| (secs(st), v.clamp(0.0, 1.0))))
            .collect();
        p.draw_series(LineSeries::new(
            points.iter().copied(),
            RGBColor(213, 94, 0).stroke_width(2 * s),
        ))
        .map_err(err)?;
        p.draw_series(
            points
                .iter()
                .map(|pt| Circle::new(*pt, 3 * s, RGBColor(213, 94, 0).filled())),
        )
        .map_err(err)?;
    }
    Ok(())
}

/// An axis number as people write it: `35`, `2.5`, never `35000000.0`.
fn axis_number(v: &f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_owned()
}
