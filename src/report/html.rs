//! The report as one self-contained HTML page: inline CSS, the SVG charts
//! from `charts`, no scripts and no external requests, readable on a phone
//! (viewport meta, charts scale by their `viewBox`, wide tables scroll in
//! their own box). Renders `WeeklyReport` only. Every piece of text that
//! comes from calendars, policies or the log goes through `escape`.

use std::fmt::Write;

use super::charts;
use super::stats::WeeklyReport;
use super::text::{escape, hours, percent};

// The page is as wide as the people table needs at desktop widths (84rem);
// header cells wrap so the table fits, and on a phone it scrolls in its
// own box. Charts keep their drawn size at most, so their text stays the
// size it was drawn at.
pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:84rem;padding:1rem;color:#222;line-height:1.4}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}\
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\
table{border-collapse:collapse;font-size:.85rem;min-width:100%}\
th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:right;white-space:nowrap}\
th{white-space:normal;vertical-align:bottom;min-width:4rem}\
th:first-child,td:first-child{text-align:left}\
figure{margin:1rem 0;max-width:30rem}svg{width:100%;height:auto;display:block}\
.headline{font-size:1.05rem;background:#f4f6fa;padding:.8rem;border-radius:.4rem}\
.note{color:#555;font-size:.9rem}";

pub(crate) fn chart(out: &mut String, svg: Result<String, String>, caption: &str) {
    let _ = writeln!(out, "<figure>");
    match svg {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(&e));
        }
    }
    let _ = writeln!(
        out,
        "<figcaption class=\"note\">{}</figcaption>",
        escape(caption)
    );
    let _ = writeln!(out, "</figure>");
}

pub(crate) fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

pub fn render(r: &WeeklyReport) -> String {
    let mut o = String::new();
    let title = format!("Meeting load: {} — {}", r.team, r.week);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        o,
        "<p class=\"note\">{} ({}).</p>",
        escape(&r.dates),
        escape(&r.time_zone)
    );
    let (lead, rest) = super::text::headline(r);
    let _ = writeln!(
        o,
        "<p class=\"headline\"><strong>{}</strong>{}</p>",
        escape(&lead),
        escape(&rest)
    );

    let _ = writeln!(o, "<h2>People</h2>");
    chart(
        &mut o,
        charts::hours_by_person(r),
        &format!(
            "Hours in meetings by kind; at most {} people, most first.",
            charts::MAX_PEOPLE_CHARTED
        ),
    );
    table(
        &mut o,
        &[
            "member",
            "zone",
            "meetings",
            "hours",
            super::text::IN_HOURS_SHARE,
            "focus h",
            "outside hours",
            "meeting-free days",
            "screened",
            "annotated",
            "declined",
            "given back h",
            super::text::BURDEN,
        ],
        r.members.iter().map(|m| {
            if !m.has_calendar {
                return vec![
                    m.email.clone(),
                    m.time_zone.clone(),
                    "no calendar".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    m.screened.to_string(),
                    m.annotated.to_string(),
                    m.declined.to_string(),
                    String::new(),
                    String::new(),
                ];
            }
            vec![
                m.email.clone(),
                m.time_zone.clone(),
                m.meetings.to_string(),
                hours(u64::from(m.meeting_minutes)),
                percent(m.share_of_working_hours),
                hours(u64::from(m.focus_minutes)),
                format!(
                    "{} ({} h)",
                    m.outside_hours.count,
                    hours(u64::from(m.outside_hours.minutes))
                ),
                format!(
                    "{} ({} h)",
                    m.meeting_free_days.count,
                    hours(u64::from(m.meeting_free_days.minutes))
                ),
                m.screened.to_string(),
                m.annotated.to_string(),
                m.declined.to_string(),
                hours(u64::from(m.given_back.minutes)),
                m.burden.to_string(),
            ]
        }),
    );
    let notable: Vec<Vec<String>> = r
        .members
        .iter()
        .flat_map(|m| {
            m.notable.iter().map(move |n| {
                vec![
                    m.email.clone(),
                    n.title.clone(),
                    n.local_start.clone(),
                    n.minutes.to_string(),
                    n.why.replace(',', ", ").replace('_', " "),
                ]
            })
        })
        .collect();
    if !notable.is_empty() {
        let _ = writeln!(o, "<h2>Outside working hours or on meeting-free days</h2>");
        table(
            &mut o,
            &["member", "meeting", "local start", "minutes", "why"],
            notable,
        );
    }

    let _ = writeln!(o, "<h2>Fairness across time zones</h2>");
    let _ = writeln!(o, "<p>{}</p>", escape(&super::text::fairness_sentence(r)));
    chart(
        &mut o,
        charts::burden_by_zone(r),
        "Weighted minutes outside working hours per time zone.",
    );
    let _ = writeln!(
        o,
        "<h2>Whose working hours the meetings fall in</h2>\n<p class=\"note\">Share of the team's meeting time inside each member's working hours: one office setting everyone's day shows as one zone near 100%.</p>"
    );
    table(
        &mut o,
        &["member", "zone", "share"],
        r.hours_of
            .iter()
            .map(|h| vec![h.member.clone(), h.time_zone.clone(), percent(h.share)]),
    );
    chart(
        &mut o,
        charts::heatmap(r),
        "Person-minutes of meetings per hour of the week; darker is busier.",
    );

    let _ = writeln!(o, "<h2>Invites that fell short</h2>");
    if r.organizers.is_empty() {
        let _ = writeln!(o, "<p>No invite was annotated or declined this week.</p>");
    } else {
        table(
            &mut o,
            &[
                "organizer",
                "annotated",
                "declined",
                "only logged (observe mode)",
                "rules",
            ],
            r.organizers.iter().map(|g| {
                vec![
                    g.organizer.clone(),
                    g.annotated.to_string(),
                    g.declined.to_string(),
                    g.observed.to_string(),
                    g.rules
                        .iter()
                        .map(|c| format!("{} ×{}", c.rule, c.count))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            }),
        );
    }

    if let Some(p) = &r.purposes {
        let _ = writeln!(o, "<h2>Meeting purposes</h2>");
        let _ = writeln!(o, "<p>{}</p>", escape(&super::text::purpose_sentence(p)));
        table(
            &mut o,
            &["purpose", "meetings", "hours"],
            p.by_purpose
                .iter()
                .map(|t| vec![t.purpose.clone(), t.meetings.to_string(), hours(t.minutes)]),
        );
        if !p.decisions.is_empty() {
            table(
                &mut o,
                &["decision meeting", "organizer", "starts", "record"],
                p.decisions.iter().map(|d| {
                    vec![
                        d.title.clone(),
                        d.organizer.clone().unwrap_or_default(),
                        d.local_start.clone(),
                        match (&d.record, d.has_record) {
                            (Some(link), _) => link.clone(),
                            (None, true) => "has a record".to_string(),
                            (None, false) => "no record".to_string(),
                        },
                    ]
                }),
            );
        }
    }

    let _ = writeln!(o, "<h2>Trend</h2>");
    chart(
        &mut o,
        charts::trend(r),
        "The previous four weeks and this one, computed the same way.",
    );
    table(
        &mut o,
        &[
            "week",
            "meetings",
            "hours",
            super::text::IN_HOURS_SHARE,
            "focus h",
            "declined",
            "given back h",
            "evenness",
        ],
        r.trend.iter().map(|p| {
            vec![
                p.week.clone(),
                p.meetings.to_string(),
                hours(p.meeting_minutes),
                percent(p.mean_share_of_working_hours),
                hours(p.focus_minutes),
                p.declined.to_string(),
                hours(u64::from(p.given_back_minutes)),
                format!("{:.2}", p.evenness),
            ]
        }),
    );

    let _ = writeln!(o, "<h2>What counts</h2>\n<p>{}</p>", escape(r.definition));
    if !r.notes.is_empty() {
        o.push_str("<ul class=\"note\">\n");
        for n in &r.notes {
            let _ = writeln!(o, "<li>{}</li>", escape(n));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}
