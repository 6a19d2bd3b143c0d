//! The words and numbers every format shares: hours and percentages as
//! shown, the headline, the fairness sentence, column names, and HTML/XML
//! escaping (the page and its SVG charts). Formatters sit above this file;
//! it knows nothing of them.

use super::stats::WeeklyReport;

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

/// The purpose section's sentence, the same in every human format: how
/// many meetings stated a purpose, and how many decisions have a record.
pub fn purpose_sentence(p: &super::stats::PurposeSection) -> String {
    let stated = format!(
        "{} of {} meeting{} ({}) stated a purpose the team accepts",
        p.stated,
        p.meetings,
        if p.meetings == 1 { "" } else { "s" },
        percent(p.share_stated)
    );
    let decisions = match (p.decisions_total, p.decisions_without_record) {
        (0, _) => "; no decision meeting".to_string(),
        (n, 0) => format!(
            "; {n} decision meeting{}, every one with a written record",
            if n == 1 { "" } else { "s" }
        ),
        (n, w) => format!(
            "; {n} decision meeting{}, {w} without a written record",
            if n == 1 { "" } else { "s" }
        ),
    };
    format!("{stated}{decisions}.")
}

/// A 0–1 share as a whole percentage.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}
