//! Busy times from calendars gatekeeper already syncs: the occurrences a
//! member has committed to (organizes, accepted or tentatively accepted),
//! which slot search must not propose.
//!
//! Pure: the caller hands over parsed events and the window; nothing here
//! reads files or the clock.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::search::BusyTime;
use crate::calendar::recurrence::expand;
use crate::calendar::{Event, PartStat, Status};
use crate::policy::invite::Span;

/// At most this many occurrences of one series are read for busy times.
const MAX_OCCURRENCES_PER_SERIES: usize = 500;

/// The busy times of `member` in `[from, to)` from one calendar's events,
/// grouped by UID (`calendar::recurrence::group_by_uid`). Skipped: the item
/// with `skip_uid` (the invite being screened), transparent, cancelled and
/// all-day events, and invites the member declined or has not answered.
pub fn busy_times(
    member: &str,
    groups: &[Vec<Event>],
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    skip_uid: Option<&str>,
) -> Vec<BusyTime> {
    let committed = |e: &Event| {
        if e.transparent || e.status == Status::Cancelled || e.is_all_day() {
            return false;
        }
        if e.organizer.as_deref() == Some(member) {
            return true;
        }
        match e.attendee(member) {
            // gatekeeper's own tentative is not the member's commitment (and
            // must not make suggestions depend on what gatekeeper wrote).
            Some(a) => {
                matches!(a.partstat, PartStat::Accepted | PartStat::Tentative)
                    && e.gatekeeper_partstat.as_ref() != Some(&a.partstat)
            }
            // An event in the member's own calendar without attendees is
            // their own appointment.
            None => e.attendees.is_empty(),
        }
    };
    let mut out = Vec::new();
    for group in groups {
        if group
            .first()
            .is_some_and(|e| Some(e.uid.as_str()) == skip_uid)
        {
            continue;
        }
        let expansion = expand(group, reader_tz, from, to, MAX_OCCURRENCES_PER_SERIES);
        for o in &expansion.occurrences {
            let Some(e) = group.get(o.event_index) else {
                continue;
            };
            if !committed(e) {
                continue;
            }
            let span = Span {
                start: o.start.to_utc(reader_tz),
                end: o.end.to_utc(reader_tz),
            };
            if span.end > from && span.start < to && span.end > span.start {
                out.push(BusyTime {
                    member: member.to_string(),
                    span,
                });
            }
        }
    }
    out.sort_by_key(|b| b.span.start);
    out
}
