//! The report as CSV: one row per member with the week's figures, for
//! spreadsheets. Renders `WeeklyReport` only. Fields are quoted per
//! RFC 4180, and a field that a spreadsheet would read as a formula is
//! prefixed with `'`.

use super::stats::WeeklyReport;

const HEADER: [&str; 22] = [
    "team",
    "week",
    "member",
    "time_zone",
    "has_calendar",
    "meetings",
    "meeting_minutes",
    "in_hours_minutes",
    "working_minutes",
    "share_of_working_hours",
    "focus_minutes",
    "focus_blocks",
    "outside_hours_meetings",
    "outside_hours_minutes",
    "meeting_free_day_meetings",
    "meeting_free_day_minutes",
    "screened",
    "annotated",
    "declined",
    "given_back_meetings",
    "given_back_minutes",
    "burden",
];

pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn render(r: &WeeklyReport) -> String {
    let mut out = HEADER.join(",");
    // With a purpose section: each member's meeting minutes by purpose.
    let purposes = r.purposes.as_ref();
    if let Some(p) = purposes {
        for t in &p.by_purpose {
            let name = if t.purpose == super::stats::NONE_STATED {
                "no_purpose_minutes".to_string()
            } else {
                format!("purpose_{}_minutes", t.purpose.replace(' ', "_"))
            };
            out.push(',');
            out.push_str(&field(&name));
        }
    }
    out.push_str("\r\n");
    for m in &r.members {
        let row = [
            field(&r.team),
            field(&r.week),
            field(&m.email),
            field(&m.time_zone),
            m.has_calendar.to_string(),
            m.meetings.to_string(),
            m.meeting_minutes.to_string(),
            m.in_hours_minutes.to_string(),
            m.working_minutes.to_string(),
            format!("{:.4}", m.share_of_working_hours),
            m.focus_minutes.to_string(),
            m.focus_blocks.to_string(),
            m.outside_hours.count.to_string(),
            m.outside_hours.minutes.to_string(),
            m.meeting_free_days.count.to_string(),
            m.meeting_free_days.minutes.to_string(),
            m.screened.to_string(),
            m.annotated.to_string(),
            m.declined.to_string(),
            m.given_back.count.to_string(),
            m.given_back.minutes.to_string(),
            m.burden.to_string(),
        ];
        out.push_str(&row.join(","));
        if let Some(p) = purposes {
            let mine = p.members.iter().find(|x| x.email == m.email);
            for i in 0..p.by_purpose.len() {
                out.push(',');
                if let Some(minutes) = mine.and_then(|x| x.minutes.get(i)) {
                    out.push_str(&minutes.to_string());
                }
            }
        }
        out.push_str("\r\n");
    }
    out
}
