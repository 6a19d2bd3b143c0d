//! What the core judges: an invite and its occurrences as instants.
//!
//! These types sit below both the evaluator and `fairness`, which read them
//! and must not depend on each other in a circle. Nothing here does I/O.

use chrono::{DateTime, Utc};

use crate::calendar::Attendee;

/// One occurrence to judge, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What the core needs to know about an invite. The shell maps events from
/// any source into this; addresses are lowercase.
#[derive(Debug, Clone, Copy)]
pub struct Invite<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub organizer: Option<&'a str>,
    pub attendees: &'a [Attendee],
    /// The occurrences to judge, in order: the event itself, or the next
    /// occurrences of a series (the caller bounds how many).
    pub occurrences: &'a [Span],
    /// When the invite (or its last change) was sent, if known. Notice is
    /// counted from here, or from `now` when it is unknown or later.
    pub sent_at: Option<DateTime<Utc>>,
    pub all_day: bool,
    /// The event's CATEGORIES (the purpose rules read them).
    pub categories: &'a [String],
}

impl<'a> Invite<'a> {
    /// The invite an event makes, judged on `occurrences`. Notice counts
    /// from when the event was created (else stamped, else last changed):
    /// a later edit such as an added agenda is not a new invite.
    pub fn of_event(event: &'a crate::calendar::Event, occurrences: &'a [Span]) -> Invite<'a> {
        Invite {
            title: &event.summary,
            description: &event.description,
            organizer: event.organizer.as_deref(),
            attendees: &event.attendees,
            occurrences,
            sent_at: event.created.or(event.dtstamp).or(event.last_modified),
            all_day: event.is_all_day(),
            categories: &event.categories,
        }
    }
}
