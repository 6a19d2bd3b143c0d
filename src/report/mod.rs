//! The weekly meeting-load report (issue 5): where a team's meeting time
//! went and who paid for it.
//!
//! `stats` is the pure core (events, a policy, decision-log rows and burden
//! totals in; a `WeeklyReport` out). One formatter per output format
//! renders that struct and nothing else: `markdown`, `html` (with `charts`
//! for the SVG), `json`, `csv`. `collect` is the I/O that reads the local
//! calendars and the store; `schedule` decides when the daemon produces a
//! report and writes it; `chat` posts the Markdown summary to a webhook.

pub mod charts;
pub mod chat;
pub mod collect;
pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod schedule;
pub mod stats;

pub use stats::{IsoWeek, WeeklyReport, weekly_report};

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Md,
    Html,
    Json,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    pub fn render(self, report: &WeeklyReport) -> String {
        match self {
            Format::Md => markdown::render(report),
            Format::Html => html::render(report),
            Format::Json => json::render(report),
            Format::Csv => csv::render(report),
        }
    }
}

/// Minutes as hours with one decimal, the way every human-readable format
/// shows them.
pub fn hours(minutes: u64) -> String {
    format!("{:.1}", minutes as f64 / 60.0)
}

/// The week's headline, as (the lead to emphasise, the rest of the
/// sentence): every human-readable format says it the same way.
pub fn headline(r: &WeeklyReport) -> (String, String) {
    let t = &r.totals;
    (
        format!("{} h in {} meetings", hours(t.meeting_minutes), t.meetings),
        format!(
            " ({} distinct) across {} of {} members; {} of working hours on average; {} h of focus time left (blocks of {} min or more). gatekeeper screened {} invites, annotated {}, declined {}, and gave back {} h.",
            t.distinct_meetings,
            t.members_with_calendar,
            t.members,
            percent(t.mean_share_of_working_hours),
            hours(t.focus_minutes),
            r.focus_block_minutes,
            t.screened,
            t.annotated,
            t.declined,
            hours(u64::from(t.given_back.minutes)),
        ),
    )
}

/// A 0–1 share as a whole percentage.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}
