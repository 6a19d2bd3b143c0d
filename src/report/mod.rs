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
pub mod text;

pub use stats::{IsoWeek, WeeklyReport, weekly_report};
pub use text::{BURDEN, IN_HOURS_SHARE, fairness_sentence, headline, hours, percent};

// The formats are named in the config's `[report] formats`, so the enum is
// defined with the config, below this module; rendering is this module's.
pub use crate::config::ReportFormat as Format;

impl Format {
    pub fn render(self, report: &WeeklyReport) -> String {
        match self {
            Format::Md => markdown::render(report),
            Format::Html => html::render(report),
            Format::Json => json::render(report),
            Format::Csv => csv::render(report),
        }
    }
}
