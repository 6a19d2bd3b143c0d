//! The report's charts as SVG strings, drawn by `plotters` (its SVG backend
//! only: no fonts, no C toolchain, nothing read at run time). Renders
//! `WeeklyReport` figures only; computes no statistic of its own beyond
//! picking what fits on a chart.
//!
//! Every chart carries a `viewBox`, so the page scales it to the screen,
//! and a `<title>`; text is escaped by the backend and again here for the
//! title.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::stats::WeeklyReport;

/// Most people drawn on the hours chart; the tables list everyone.
pub const MAX_PEOPLE_CHARTED: usize = 25;

const IN_HOURS: RGBColor = RGBColor(66, 114, 196);
const FREE_DAY: RGBColor = RGBColor(237, 150, 52);
const OUTSIDE: RGBColor = RGBColor(200, 60, 60);
const GIVEN_BACK: RGBColor = RGBColor(170, 170, 170);
const FOCUS: RGBColor = RGBColor(70, 160, 90);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Every chart is drawn this wide; pages scale it to the screen by its
/// `viewBox`. Narrow enough, with fonts large enough, that text stays
/// readable (about 12 px) when a phone shrinks the chart to ~380 px.
const WIDTH: u32 = 480;
/// Font sizes requested from plotters (its SVG output is about 0.8 of
/// these in pixels).
const TEXT: u32 = 20;
const CAPTION: u32 = 24;
const LEGEND_ROW: i32 = 28;

/// A legend in its own strip above the plot, so it never covers a bar or
/// a line and needs no empty rows in the plot.
fn legend_strip(area: &Area<'_>, entries: &[(&str, RGBColor)]) -> Result<(), String> {
    for (i, (name, color)) in entries.iter().enumerate() {
        let y = 6 + i as i32 * LEGEND_ROW;
        area.draw(&Rectangle::new([(20, y + 4), (38, y + 20)], color.filled()))
            .map_err(err)?;
        area.draw(&Text::new(
            name.to_string(),
            (48, y + 2),
            ("sans-serif", TEXT).into_font(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn legend_height(entries: usize) -> u32 {
    12 + entries as u32 * LEGEND_ROW as u32
}

fn finish(mut svg: String, title: &str) -> String {
    // Give the chart an accessible name and a tooltip: the `<title>` goes
    // first inside the root element.
    let t = format!("<title>{}</title>\n", super::text::escape(title));
    if let Some(end) = svg.find('>') {
        svg.insert_str(end + 1, &format!("\n{t}"));
        svg.insert_str(4, " role=\"img\"");
    }
    svg
}

fn err(e: impl std::fmt::Display) -> String {
    format!("chart could not be drawn: {e}")
}

fn label(email: &str) -> String {
    email.split('@').next().unwrap_or(email).to_string()
}

/// Hours in meetings per person, stacked by kind: in working hours, on a
/// meeting-free day, outside working hours, and declined by gatekeeper.
pub fn hours_by_person(r: &WeeklyReport) -> Result<String, String> {
    let mut people: Vec<_> = r.members.iter().filter(|m| m.has_calendar).collect();
    people.sort_by(|a, b| {
        (b.meeting_minutes + b.given_back.minutes)
            .cmp(&(a.meeting_minutes + a.given_back.minutes))
            .then_with(|| a.email.cmp(&b.email))
    });
    people.truncate(MAX_PEOPLE_CHARTED);
    let n = people.len().max(1);
    let max_h = people
        .iter()
        .map(|m| f64::from(m.meeting_minutes + m.given_back.minutes) / 60.0)
        .fold(1.0f64, f64::max)
        * 1.1;
    let kinds: [(&str, RGBColor); 4] = [
        ("in working hours", IN_HOURS),
        ("working hours on meeting-free days", FREE_DAY),
        ("outside working hours", OUTSIDE),
        ("declined by gatekeeper", GIVEN_BACK),
    ];
    // The legend has its own strip under the caption: every row of the
    // plot is a person, the one with the most hours on top.
    let rows = n;
    let plot_height = 110 + 40 * rows as u32;
    let strip = legend_height(kinds.len());
    let mut svg = String::new();
    {
        let area: Area<'_> =
            SVGBackend::with_string(&mut svg, (WIDTH, strip + plot_height)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let area = area
            .titled("Hours in meetings per person", ("sans-serif", CAPTION))
            .map_err(err)?;
        let (top, plot) = area.split_vertically(strip);
        legend_strip(&top, &kinds)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(24)
            .x_label_area_size(64)
            .y_label_area_size(90)
            // plotters' integer ranges include their end: `0..rows - 1` is
            // exactly `rows` segments, with no empty one on top.
            .build_cartesian_2d(0f64..max_h, (0..rows - 1).into_segmented())
            .map_err(err)?;
        let names: Vec<String> = people.iter().map(|m| label(&m.email)).collect();
        chart
            .configure_mesh()
            .label_style(("sans-serif", TEXT))
            .axis_desc_style(("sans-serif", TEXT))
            .disable_y_mesh()
            .y_labels(rows)
            .x_labels(5)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(row) if *row < n => {
                    names.get(n - 1 - *row).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc("hours")
            .draw()
            .map_err(err)?;
        for (k, (_, color)) in kinds.iter().enumerate() {
            let bars = people.iter().enumerate().map(|(i, m)| {
                let parts = [
                    m.in_hours_minutes,
                    m.meeting_minutes - m.in_hours_minutes - m.outside_hours.minutes,
                    m.outside_hours.minutes,
                    m.given_back.minutes,
                ];
                let from: u32 = parts[..k].iter().sum();
                let to = from + parts[k];
                let row = n - 1 - i;
                let mut bar = Rectangle::new(
                    [
                        (f64::from(from) / 60.0, SegmentValue::Exact(row)),
                        (f64::from(to) / 60.0, SegmentValue::Exact(row + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bar
            });
            chart.draw_series(bars).map_err(err)?;
        }
        area.present().map_err(err)?;
    }
    Ok(finish(svg, "Hours in meetings per person, by kind"))
}

/// Burden by time zone: the weighted minutes outside working hours carried
/// by each zone's members.
pub fn burden_by_zone(r: &WeeklyReport) -> Result<String, String> {
    let zones = &r.fairness.by_zone;
    let n = zones.len().max(1);
    let max_b = zones.iter().map(|z| z.burden).max().unwrap_or(0).max(1) as f64 * 1.15;
    let mut svg = String::new();
    {
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&area)
            .caption("Burden by time zone", ("sans-serif", CAPTION))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..max_b)
            .map_err(err)?;
        let names: Vec<String> = zones
            .iter()
            .map(|z| {
                z.time_zone
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .replace('_', " ")
            })
            .collect();
        chart
            .configure_mesh()
            .label_style(("sans-serif", TEXT))
            .axis_desc_style(("sans-serif", TEXT))
            .disable_x_mesh()
            .y_labels(5)
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("weighted minutes")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(zones.iter().enumerate().map(|(i, z)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), z.burden as f64),
                    ],
                    OUTSIDE.filled(),
                );
                bar.set_margin(0, 0, 12, 12);
                bar
            }))
            .map_err(err)?;
        area.present().map_err(err)?;
    }
    Ok(finish(svg, "Burden by time zone"))
}

/// Meeting load by weekday and hour in the report's zone: darker cells hold
/// more person-minutes of meetings.
pub fn heatmap(r: &WeeklyReport) -> Result<String, String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let max = r
        .heatmap
        .iter()
        .flat_map(|d| d.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    {
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let area = area
            .titled(
                &format!("Meetings by weekday and hour ({})", r.time_zone),
                ("sans-serif", CAPTION),
            )
            .map_err(err)?;
        // Days are segments, not points: seven labels, each centred on its
        // row, Monday at the top (row 6).
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(36)
            .y_label_area_size(56)
            // Inclusive: `0..6` is the seven day rows.
            .build_cartesian_2d(0i32..24, (0i32..6).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", TEXT))
            .disable_mesh()
            .x_labels(9)
            .y_labels(7)
            .x_label_formatter(&|h| format!("{h:02}"))
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(row) if (0..7).contains(row) => {
                    DAYS[(6 - *row) as usize].to_string()
                }
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        let cells = r.heatmap.iter().enumerate().flat_map(|(d, hours)| {
            hours.iter().enumerate().map(move |(h, v)| {
                let t = f64::from(*v) / f64::from(max);
                let shade = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
                let color = RGBColor(shade(IN_HOURS.0), shade(IN_HOURS.1), shade(IN_HOURS.2));
                let row = 6 - d as i32;
                let mut cell = Rectangle::new(
                    [
                        (h as i32, SegmentValue::Exact(row)),
                        (h as i32 + 1, SegmentValue::Exact(row + 1)),
                    ],
                    color.filled(),
                );
                cell.set_margin(1, 1, 1, 1);
                cell
            })
        });
        chart.draw_series(cells).map_err(err)?;
        area.present().map_err(err)?;
    }
    Ok(finish(svg, "Meeting load by weekday and hour"))
}

/// The trend over the previous weeks and this one: meeting hours, focus
/// hours and hours given back per week, team-wide.
pub fn trend(r: &WeeklyReport) -> Result<String, String> {
    let points = &r.trend;
    let n = points.len().max(1);
    let series: [(&str, RGBColor, Vec<f64>); 3] = [
        (
            "meeting hours",
            IN_HOURS,
            points
                .iter()
                .map(|p| p.meeting_minutes as f64 / 60.0)
                .collect(),
        ),
        (
            "focus hours",
            FOCUS,
            points
                .iter()
                .map(|p| p.focus_minutes as f64 / 60.0)
                .collect(),
        ),
        (
            "hours given back",
            GIVEN_BACK,
            points
                .iter()
                .map(|p| f64::from(p.given_back_minutes) / 60.0)
                .collect(),
        ),
    ];
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut svg = String::new();
    {
        let entries: Vec<(&str, RGBColor)> = series.iter().map(|(n, c, _)| (*n, *c)).collect();
        let strip = legend_height(entries.len());
        let area: Area<'_> =
            SVGBackend::with_string(&mut svg, (WIDTH, strip + 380)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let area = area.titled("Trend", ("sans-serif", CAPTION)).map_err(err)?;
        let (top, plot) = area.split_vertically(strip);
        legend_strip(&top, &entries)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..max)
            .map_err(err)?;
        let weeks: Vec<String> = points.iter().map(|p| p.week.clone()).collect();
        chart
            .configure_mesh()
            .label_style(("sans-serif", TEXT))
            .axis_desc_style(("sans-serif", TEXT))
            .x_labels(n)
            .y_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round();
                // Week numbers only (`W49`): five full `2026-W49` labels do
                // not fit a phone-sized chart.
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    weeks
                        .get(i as usize)
                        .map(|w| w.rsplit('-').next().unwrap_or(w).to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("hours")
            .draw()
            .map_err(err)?;
        for (_, color, values) in &series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                    color.stroke_width(3),
                ))
                .map_err(err)?;
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Circle::new((i as f64, *v), 4, color.filled())),
                )
                .map_err(err)?;
        }
        area.present().map_err(err)?;
    }
    Ok(finish(svg, "Trend over the last five weeks"))
}
