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
    /// Markdown, for documentation and chat.
    Md,
    /// One self-contained HTML page with charts.
    Html,
    /// Every figure, for tools.
    Json,
    /// One row per member, for spreadsheets.
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
/// sentence): every human-readable format says it the same way. What
/// gatekeeper did this week (screened, annotated, declined, only logged)
/// and the time its standing declines free this week (which may have been
/// decided earlier) are told apart, so the two never seem to disagree.
pub fn headline(r: &WeeklyReport) -> (String, String) {
    let t = &r.totals;
    let did = if t.screened == 0 {
        "gatekeeper screened no invites this week".to_string()
    } else {
        format!(
            "gatekeeper screened {} invite{} this week: annotated {}, declined {}{}",
            t.screened,
            if t.screened == 1 { "" } else { "s" },
            t.annotated,
            t.declined,
            if t.observed > 0 {
                format!(", and only logged {} (observe mode)", t.observed)
            } else {
                String::new()
            }
        )
    };
    let given_back = if t.given_back.minutes > 0 {
        format!(
            " Meetings it declined that still stand free {} h this week.",
            hours(u64::from(t.given_back.minutes))
        )
    } else {
        String::new()
    };
    (
        format!("{} h in {} meetings", hours(t.meeting_minutes), t.meetings),
        format!(
            " ({} distinct) across {} of {} members; meetings inside working hours took {} of working time on average; {} h of focus time left (blocks of {} min or more). {did}.{given_back}",
            t.distinct_meetings,
            t.members_with_calendar,
            t.members,
            percent(t.mean_share_of_working_hours),
            hours(t.focus_minutes),
            r.focus_block_minutes,
        ),
    )
}

/// The fairness paragraph's sentence, the same in every human format:
/// what burden is, the bounded evenness in words, and who carries most.
pub fn fairness_sentence(r: &WeeklyReport) -> String {
    let f = &r.fairness;
    let worst = f
        .figures
        .members
        .first()
        .filter(|s| s.burden > 0)
        .map(|s| {
            format!(
                "; the worst-off member ({}) carries {:.1}× the mean",
                s.member, f.figures.worst_to_mean
            )
        })
        .unwrap_or_default();
    format!(
        "Burden is the minutes each member spends in meetings outside their working hours, weighted by how early or late they fall (from the {}). Evenness {:.2}, where 1 means everyone carries the same and 0 means one person carries it all (1 − Gini; Gini {:.2}){worst}.",
        f.source, f.evenness, f.figures.gini,
    )
}

/// Column names the human formats share, so they say the same thing.
pub const IN_HOURS_SHARE: &str = "in-hours meetings, % of working time";
pub const BURDEN: &str = "burden (weighted min)";

/// A 0–1 share as a whole percentage.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}
