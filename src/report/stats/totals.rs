//! The team's totals over its members, and the notes on what the figures
//! leave out.

use super::{MemberStats, Totals};

pub(super) fn totals(members: &[MemberStats], distinct_meetings: usize) -> Totals {
    let mut totals = Totals {
        members: members.len() as u32,
        distinct_meetings: distinct_meetings as u32,
        ..Totals::default()
    };
    let mut share_sum = 0.0;
    for s in members.iter().filter(|s| s.has_calendar) {
        totals.members_with_calendar += 1;
        totals.meetings += s.meetings;
        totals.meeting_minutes += u64::from(s.meeting_minutes);
        totals.working_minutes += u64::from(s.working_minutes);
        totals.focus_minutes += u64::from(s.focus_minutes);
        share_sum += s.share_of_working_hours;
        for (t, x) in [
            (&mut totals.outside_hours, s.outside_hours),
            (&mut totals.meeting_free_days, s.meeting_free_days),
            (&mut totals.given_back, s.given_back),
        ] {
            t.count += x.count;
            t.minutes += x.minutes;
        }
    }
    for s in members {
        totals.screened += s.screened;
        totals.annotated += s.annotated;
        totals.declined += s.declined;
        totals.observed += s.observed;
    }
    if totals.members_with_calendar > 0 {
        totals.mean_share_of_working_hours = share_sum / f64::from(totals.members_with_calendar);
    }
    totals
}

/// `source`: where the burden came from (`ledger` or `calendars`).
pub(super) fn notes(members: &[MemberStats], source: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let without: Vec<&str> = members
        .iter()
        .filter(|s| !s.has_calendar)
        .map(|s| s.email.as_str())
        .collect();
    if !without.is_empty() {
        notes.push(format!(
            "no local calendar for {} member(s) ({}): their hours are unknown and left out of the totals",
            without.len(),
            abbreviate(&without, 5)
        ));
    }
    let unknown: u32 = members.iter().map(|s| s.declines_unknown_length).sum();
    if unknown > 0 {
        notes.push(format!(
            "{unknown} decline(s) in the log are for events no longer in the calendar: their length is unknown and not in the hours given back"
        ));
    }
    if source == "calendars" {
        notes.push(
            "the burden ledger has no rows for this week: burden is scored from the calendars above"
                .to_string(),
        );
    }
    notes
}

fn abbreviate(items: &[&str], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!(
            "{}, and {} more",
            items[..max].join(", "),
            items.len() - max
        )
    }
}
