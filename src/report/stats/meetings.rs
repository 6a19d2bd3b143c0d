//! What counts as a meeting for a member, and each member's meeting
//! occurrences over the five weeks the report looks at.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{MAX_OCCURRENCES_PER_SERIES, MemberCalendar};
use crate::calendar::recurrence::expand;
use crate::calendar::{Event, EventType, PartStat, Status};

/// A member's meeting occurrences (and gatekeeper's standing declines) over
/// the whole span the report looks at, sorted by start.
pub(super) struct MemberOccurrences<'e> {
    pub(super) occurrences: Vec<Occ<'e>>,
    /// UIDs in the member's calendar, to tell a decline whose event is gone.
    pub(super) uids: HashSet<&'e str>,
}

pub(super) struct Occ<'e> {
    pub(super) event: &'e Event,
    pub(super) start: DateTime<Utc>,
    pub(super) end: DateTime<Utc>,
    /// False: declined by gatekeeper (the time it gave back).
    pub(super) counts: bool,
}

pub(super) fn member_occurrences<'e>(
    cal: &'e MemberCalendar,
    member: &str,
    tz: Tz,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> MemberOccurrences<'e> {
    let mut out = MemberOccurrences {
        occurrences: Vec::new(),
        uids: HashSet::new(),
    };
    for group in &cal.series {
        if let Some(e) = group.first() {
            out.uids.insert(e.uid.as_str());
        }
        if !group.iter().any(is_meeting_kind) {
            continue;
        }
        let exp = expand(group, tz, from, to, MAX_OCCURRENCES_PER_SERIES);
        for o in &exp.occurrences {
            let event = &group[o.event_index];
            if !is_meeting_kind(event) {
                continue;
            }
            let counts = match standing(event, member) {
                Stand::Counts => true,
                Stand::DeclinedByGatekeeper => false,
                Stand::No => continue,
            };
            let (start, end) = (o.start.to_utc(tz), o.end.to_utc(tz));
            if end > start {
                out.occurrences.push(Occ {
                    event,
                    start,
                    end,
                    counts,
                });
            }
        }
    }
    out.occurrences.sort_by_key(|o| (o.start, o.end));
    out
}

pub(super) fn people(event: &Event) -> usize {
    let mut seen: HashSet<&str> = HashSet::new();
    if let Some(o) = &event.organizer {
        seen.insert(o.as_str());
    }
    for a in event.attendees.iter().filter(|a| !a.is_resource) {
        seen.insert(a.email.as_str());
    }
    seen.len()
}

/// Whether an event is a meeting at all, whoever looks at it.
pub(super) fn is_meeting_kind(event: &Event) -> bool {
    !event.is_all_day()
        && event.status != Status::Cancelled
        && matches!(event.event_type, EventType::Default | EventType::Other)
        && people(event) >= 2
}

#[derive(PartialEq, Eq)]
pub(super) enum Stand {
    Counts,
    DeclinedByGatekeeper,
    No,
}

pub(super) fn standing(event: &Event, member: &str) -> Stand {
    let attendee = event.attendee(member);
    if let Some(a) = attendee
        && a.partstat == PartStat::Declined
    {
        return if event.gatekeeper_partstat == Some(PartStat::Declined) {
            Stand::DeclinedByGatekeeper
        } else {
            Stand::No
        };
    }
    if event.organizer.as_deref() == Some(member) {
        return Stand::Counts;
    }
    match attendee {
        Some(a) if a.partstat != PartStat::Delegated => Stand::Counts,
        _ => Stand::No,
    }
}
