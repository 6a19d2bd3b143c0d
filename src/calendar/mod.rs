//! The calendar domain model: events, attendees, times and occurrences as
//! gatekeeper sees them once the wire format (iCalendar, Google JSON) has been
//! mapped at the edge.
//!
//! This module and its children are pure: they parse text handed to them and
//! expand recurrences, but never read files, talk to a network or read the
//! clock. Callers pass `now` and windows explicitly.

pub mod edit;
pub mod ical;
pub mod recurrence;
pub mod tz;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A point in time as an iCalendar file states it. The kind matters: a
/// floating time means "this wall-clock time wherever the reader is", an
/// all-day date is a whole day in the reader's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// `DTSTART:20261201T090000Z`
    Utc(DateTime<Utc>),
    /// `DTSTART;TZID=Europe/Berlin:20261201T090000`, resolved to an IANA zone.
    Zoned(DateTime<Tz>),
    /// `DTSTART:20261201T090000` with no zone: wall-clock time of the reader.
    Floating(NaiveDateTime),
    /// `DTSTART;VALUE=DATE:20261201`: an all-day date.
    Date(NaiveDate),
}

impl EventTime {
    /// The instant this time denotes for a reader in `reader_tz` (the
    /// calendar owner's zone). Floating times and dates are read as wall-clock
    /// times in that zone; a wall-clock time that falls into a DST gap is moved
    /// forward by the gap, as RFC 5545 §3.3.5 prescribes.
    pub fn to_utc(&self, reader_tz: Tz) -> DateTime<Utc> {
        match *self {
            EventTime::Utc(t) => t,
            EventTime::Zoned(t) => t.with_timezone(&Utc),
            EventTime::Floating(naive) => local_to_utc(reader_tz, naive),
            EventTime::Date(d) => local_to_utc(reader_tz, d.and_time(chrono::NaiveTime::MIN)),
        }
    }

    pub fn is_date(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }

    /// RFC 3339 with offset for UTC and zoned times, `YYYY-MM-DDTHH:MM:SS`
    /// for floating times, `YYYY-MM-DD` for dates.
    pub fn to_display_string(&self) -> String {
        match self {
            EventTime::Utc(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            EventTime::Zoned(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            EventTime::Floating(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            EventTime::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Resolve a wall-clock time in `tz` to an instant: ambiguous times (the
/// repeated hour in autumn) take the first occurrence, times in a gap (the
/// skipped hour in spring) are moved forward by the length of the gap.
pub fn local_to_utc(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Step forward until the wall clock exists again. Gaps are at most
            // a few hours in every zone of the tz database, so this ends.
            let mut probe = naive;
            for _ in 0..(26 * 4) {
                probe += chrono::Duration::minutes(15);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    let shift = probe - naive;
                    return t.with_timezone(&Utc) - shift + gap_length(tz, t.with_timezone(&Utc));
                }
            }
            // Unreachable with the tz database; fall back to reading as UTC.
            Utc.from_utc_datetime(&naive)
        }
    }
}

fn gap_length(tz: Tz, after_gap: DateTime<Utc>) -> chrono::Duration {
    use chrono::Offset;
    let before = tz
        .offset_from_utc_datetime(&(after_gap - chrono::Duration::hours(6)).naive_utc())
        .fix()
        .local_minus_utc();
    let after = tz
        .offset_from_utc_datetime(&after_gap.naive_utc())
        .fix()
        .local_minus_utc();
    chrono::Duration::seconds(i64::from(after - before).max(0))
}

/// An attendee's participation status (RFC 5545 PARTSTAT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
    Delegated,
    Other(String),
}

impl PartStat {
    pub fn parse(s: &str) -> PartStat {
        match s.to_ascii_uppercase().as_str() {
            "NEEDS-ACTION" => PartStat::NeedsAction,
            "ACCEPTED" => PartStat::Accepted,
            "DECLINED" => PartStat::Declined,
            "TENTATIVE" => PartStat::Tentative,
            "DELEGATED" => PartStat::Delegated,
            other => PartStat::Other(other.to_string()),
        }
    }

    pub fn as_ical(&self) -> &str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
            PartStat::Delegated => "DELEGATED",
            PartStat::Other(s) => s,
        }
    }
}

/// An attendee's role (RFC 5545 ROLE). A missing ROLE means required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Chair,
    Required,
    Optional,
    NonParticipant,
}

impl Role {
    pub fn is_required(self) -> bool {
        matches!(self, Role::Chair | Role::Required)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// Lowercased address without the `mailto:` prefix.
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub partstat: PartStat,
    /// CUTYPE=ROOM or RESOURCE: a room is not a person and never counts as
    /// one.
    pub is_resource: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Tentative,
    Cancelled,
}

/// The recurrence properties of a master event, kept as the file states them
/// so expansion can hand them to the `rrule` crate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recurrence {
    /// The value of each RRULE property, e.g. `FREQ=WEEKLY;BYDAY=MO;COUNT=10`.
    pub rrules: Vec<String>,
    pub rdates: Vec<EventTime>,
    pub exdates: Vec<EventTime>,
    /// `RDATE;VALUE=PERIOD` values as (start, end): an instance starting at
    /// one of these starts has this end instead of the master's length.
    pub periods: Vec<(EventTime, EventTime)>,
    /// On an override: its RECURRENCE-ID has `RANGE=THISANDFUTURE`, so it
    /// also moves every later instance of the series (RFC 5545 §3.8.4.4).
    pub this_and_future: bool,
}

impl Recurrence {
    pub fn is_empty(&self) -> bool {
        self.rrules.is_empty() && self.rdates.is_empty()
    }
}

/// One VEVENT: a single event, the master of a series, or an override of one
/// occurrence (then `recurrence_id` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub uid: String,
    pub recurrence_id: Option<EventTime>,
    pub summary: String,
    /// Unescaped DESCRIPTION text (newlines are real newlines).
    pub description: String,
    /// Lowercased organizer address without `mailto:`.
    pub organizer: Option<String>,
    pub attendees: Vec<Attendee>,
    pub start: EventTime,
    /// From DTEND, or DTSTART + DURATION, or the RFC 5545 default (one day
    /// for a date, zero length for a date-time).
    pub end: EventTime,
    pub recurrence: Recurrence,
    pub status: Status,
    /// CLASS:PRIVATE or CLASS:CONFIDENTIAL: the title never leaves the
    /// owner's own view.
    pub private: bool,
    /// TRANSP:TRANSPARENT: does not block time.
    pub transparent: bool,
    pub sequence: i64,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    pub dtstamp: Option<DateTime<Utc>>,
    /// X-GATEKEEPER-PARTSTAT: the response gatekeeper itself wrote into this
    /// copy of the event, if any. Compared with the member's current PARTSTAT
    /// it tells gatekeeper's own answer from the member's.
    pub gatekeeper_partstat: Option<PartStat>,
    /// The comment gatekeeper's answer carries in this copy, as the calendar
    /// holds it now (a vdir file's `COMMENT;X-GATEKEEPER=TRUE`, the member's
    /// attendee comment on Google). Compared with the comment gatekeeper
    /// would write, it makes a repeated write unnecessary even when the
    /// store was lost or another instance wrote it.
    pub gatekeeper_comment: Option<String>,
    /// The acting rules gatekeeper's answer in this copy stands on (the
    /// marker's `X-GATEKEEPER-RULES` parameter on local calendars), if the
    /// copy records them. A fresh store compares a new verdict against
    /// these, so standing answers are not rewritten after a lost database.
    pub gatekeeper_rules: Option<Vec<String>>,
    pub event_type: EventType,
    /// CATEGORIES values, unescaped and trimmed, in file order (at most
    /// `MAX_CATEGORIES`); Google events have none.
    pub categories: Vec<String>,
}

/// An event keeps at most this many categories: the purpose rule reads
/// them for every invite, and a hostile file may list thousands.
pub const MAX_CATEGORIES: usize = 64;

/// Google's `eventType`; iCalendar events are `Default`. Focus time and
/// out-of-office blocks are the owner's protected time, not meetings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventType {
    #[default]
    Default,
    FocusTime,
    OutOfOffice,
    WorkingLocation,
    Other,
}

impl Event {
    pub fn attendee(&self, email: &str) -> Option<&Attendee> {
        self.attendees.iter().find(|a| a.email == email)
    }

    pub fn is_all_day(&self) -> bool {
        self.start.is_date()
    }

    /// How state is keyed for this event: empty for a single event or a
    /// series, the original start for a changed occurrence.
    pub fn recurrence_key(&self) -> String {
        self.recurrence_id
            .map(|r| r.to_display_string())
            .unwrap_or_default()
    }
}

/// One occurrence of an event after recurrence expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub uid: String,
    pub start: EventTime,
    pub end: EventTime,
    /// Set for every occurrence of a recurring series (the original start of
    /// the occurrence), and for overrides.
    pub recurrence_id: Option<EventTime>,
    /// Index into the slice of events that was expanded: the master or the
    /// override this occurrence takes its properties from.
    pub event_index: usize,
}
