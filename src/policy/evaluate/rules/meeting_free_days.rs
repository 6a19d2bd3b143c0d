//! `meeting_free_days`: no meetings on these days in the member's own zone.

use chrono::{Datelike, Duration, Weekday};
use chrono_tz::Tz;

use super::Case;
use crate::policy::evaluate::Problem;
use crate::policy::invite::Span;
use crate::policy::model::WeekdaySet;

pub(super) fn check(case: &Case<'_>, days: WeekdaySet) -> Option<Problem> {
    let invite = case.invite;
    let mut hit: Option<Weekday> = None;
    let mut count = 0;
    for o in invite.occurrences {
        if let Some(d) = touched_day(o, case.member.tz, |d| days.contains(d)) {
            hit.get_or_insert(d);
            count += 1;
        }
    }
    hit.map(|day| Problem::MeetingFreeDay {
        day,
        occurrences: count,
        of: invite.occurrences.len() as u32,
    })
}

/// The first local date the occurrence touches for which `pred` holds.
fn touched_day(o: &Span, tz: Tz, pred: impl Fn(Weekday) -> bool) -> Option<Weekday> {
    let start = o.start.with_timezone(&tz).naive_local();
    // The end instant itself is exclusive: a meeting ending at midnight does
    // not touch the next day.
    let last = (o.end - Duration::seconds(1))
        .max(o.start)
        .with_timezone(&tz)
        .naive_local();
    // Seven consecutive dates hold every weekday: a meeting that runs for
    // months is looked at for a week, not day by day to its end.
    let mut d = start.date();
    for _ in 0..7 {
        if d > last.date() {
            break;
        }
        if pred(d.weekday()) {
            return Some(d.weekday());
        }
        d = d.succ_opt()?;
    }
    None
}
