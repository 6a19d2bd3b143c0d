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

fn finish(mut svg: String, title: &str) -> String {
    // Give the chart an accessible name and a tooltip: the `<title>` goes
    // first inside the root element.
    let t = format!("<title>{}</title>\n", super::html::escape(title));
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
    // Three empty rows on top hold the legend, so it never covers a bar;
    // the person with the most hours is the top row under it.
    let rows = n + 3;
    let height = 100 + 34 * rows as u32;
    let mut svg = String::new();
    {
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (600, height)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&area)
            .caption("Hours in meetings per person", ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..max_h, (0..rows).into_segmented())
            .map_err(err)?;
        let names: Vec<String> = people.iter().map(|m| label(&m.email)).collect();
        chart
            .configure_mesh()
            .label_style(("sans-serif", 15))
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(row) if *row < n => {
                    names.get(n - 1 - *row).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_desc("hours")
            .draw()
            .map_err(err)?;
        let kinds: [(&str, RGBColor); 4] = [
            ("in working hours", IN_HOURS),
            ("working hours on meeting-free days", FREE_DAY),
            ("outside working hours", OUTSIDE),
            ("declined by gatekeeper", GIVEN_BACK),
        ];
        for (k, (name, color)) in kinds.iter().enumerate() {
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
                bar.set_margin(3, 3, 0, 0);
                bar
            });
            let color = *color;
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
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
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (600, 380)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&area)
            .caption("Burden by time zone", ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..max_b)
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
            .label_style(("sans-serif", 15))
            .disable_x_mesh()
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
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (600, 340)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let caption = format!("Meeting load by weekday and hour ({})", r.time_zone);
        let mut chart = ChartBuilder::on(&area)
            .caption(caption, ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0i32..24, 0i32..7)
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 15))
            .disable_mesh()
            .x_labels(12)
            .y_labels(7)
            .x_label_formatter(&|h| format!("{h:02}"))
            // Monday at the top: row 6 is Monday.
            .y_label_formatter(&|y| {
                DAYS.get((6 - *y).clamp(0, 6) as usize)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            })
            .draw()
            .map_err(err)?;
        let cells = r.heatmap.iter().enumerate().flat_map(|(d, hours)| {
            hours.iter().enumerate().map(move |(h, v)| {
                let t = f64::from(*v) / f64::from(max);
                let shade = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
                let color = RGBColor(shade(IN_HOURS.0), shade(IN_HOURS.1), shade(IN_HOURS.2));
                let row = 6 - d as i32;
                let mut cell =
                    Rectangle::new([(h as i32, row), (h as i32 + 1, row + 1)], color.filled());
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
        let area: Area<'_> = SVGBackend::with_string(&mut svg, (600, 380)).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&area)
            .caption("Trend", ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..max)
            .map_err(err)?;
        let weeks: Vec<String> = points.iter().map(|p| p.week.clone()).collect();
        chart
            .configure_mesh()
            .label_style(("sans-serif", 15))
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    weeks.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("hours")
            .draw()
            .map_err(err)?;
        for (name, color, values) in &series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                    color.stroke_width(3),
                ))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
                });
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Circle::new((i as f64, *v), 4, color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        area.present().map_err(err)?;
    }
    Ok(finish(svg, "Trend over the last five weeks"))
}
