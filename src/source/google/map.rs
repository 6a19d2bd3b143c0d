//! Google Calendar JSON (as `google_calendar3::api::Event`) mapped into the
//! calendar domain at the edge: the core never sees a Google type.
//!
//! Pure: no I/O, no clock.

use std::collections::HashMap;

use chrono_tz::Tz;
use google_calendar3::api;

use crate::calendar::ical::parse_ics;
use crate::calendar::{Attendee, Event, EventTime, EventType, PartStat, Recurrence, Role, Status};

/// The key under the member's `extendedProperties.private` where gatekeeper
/// records the answer it wrote ("declined", "tentative").
pub const MARKER_KEY: &str = "gatekeeperResponse";
/// Next to the marker: the acting rules gatekeeper's answer stands on,
/// comma-separated, so a fresh store can tell whether a later verdict names
/// a new problem (the calendar keeps it when the state database is lost).
pub const RULES_KEY: &str = "gatekeeperRules";

/// A Google event mapped into the domain, with what is needed to act on it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleEvent {
    /// The id to patch (an instance has its own id).
    pub id: String,
    /// The series id for instances, the event's own id otherwise: events
    /// of one series share it, like a UID.
    pub series_id: String,
    pub etag: Option<String>,
    pub event: Event,
}

/// A deleted event or deleted occurrence of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub id: String,
    /// For one occurrence of a series: the series id and the occurrence's
    /// original start, which is how the ledger keys it.
    pub occurrence: Option<(String, chrono::DateTime<chrono::Utc>)>,
}

/// Why an event could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A deleted event: nothing to screen, but state about it may go.
    Cancelled(Cancelled),
    Unmappable {
        id: String,
        reason: String,
    },
}

pub fn partstat_from_google(s: &str) -> PartStat {
    match s {
        "needsAction" => PartStat::NeedsAction,
        "accepted" => PartStat::Accepted,
        "declined" => PartStat::Declined,
        "tentative" => PartStat::Tentative,
        other => PartStat::Other(other.to_string()),
    }
}

pub fn partstat_to_google(p: &PartStat) -> &str {
    match p {
        PartStat::NeedsAction => "needsAction",
        PartStat::Accepted => "accepted",
        PartStat::Declined => "declined",
        PartStat::Tentative => "tentative",
        PartStat::Delegated => "needsAction",
        PartStat::Other(s) => s,
    }
}

fn time(t: &api::EventDateTime) -> Option<EventTime> {
    if let Some(d) = t.date {
        return Some(EventTime::Date(d));
    }
    let instant = t.date_time?;
    match t
        .time_zone
        .as_deref()
        .and_then(crate::calendar::tz::resolve_name)
    {
        Some(tz) => Some(EventTime::Zoned(instant.with_timezone(&tz))),
        None => Some(EventTime::Utc(instant)),
    }
}

/// Google keeps recurrence as iCalendar lines (`RRULE:...`, `EXDATE;TZID=...:...`).
/// They are read by the same iCalendar code as local files, by wrapping them
/// in a minimal VEVENT whose DTSTART is the event's start.
fn recurrence(lines: &[String], start: &EventTime) -> Result<Recurrence, String> {
    let dtstart = match start {
        EventTime::Date(d) => format!("DTSTART;VALUE=DATE:{}", d.format("%Y%m%d")),
        EventTime::Utc(t) => format!("DTSTART:{}", t.format("%Y%m%dT%H%M%SZ")),
        EventTime::Zoned(t) => format!(
            "DTSTART;TZID={}:{}",
            t.timezone().name(),
            t.format("%Y%m%dT%H%M%S")
        ),
        EventTime::Floating(t) => format!("DTSTART:{}", t.format("%Y%m%dT%H%M%S")),
    };
    let mut text =
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:r\r\n{dtstart}\r\n");
    for l in lines {
        // A line break inside a value would inject a property: refuse it.
        if l.contains(['\r', '\n']) {
            return Err("a recurrence line contains a line break".into());
        }
        text.push_str(l);
        text.push_str("\r\n");
    }
    text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    let parsed = parse_ics(&text).map_err(|e| e.to_string())?;
    match parsed.events.into_iter().next() {
        Some(e) => Ok(e.recurrence),
        None => Err(parsed.problems.join("; ")),
    }
}

/// Map one event from a member's calendar. `member` is the calendar's owner
/// (lowercase); `default_tz` reads all-day dates when needed.
pub fn map_event(g: &api::Event) -> Result<GoogleEvent, Skip> {
    let id = g.id.clone().unwrap_or_default();
    if g.status.as_deref() == Some("cancelled") {
        let occurrence = match (
            &g.recurring_event_id,
            g.original_start_time.as_ref().and_then(time),
        ) {
            (Some(series), Some(start)) => Some((series.clone(), start.to_utc(Tz::UTC))),
            _ => None,
        };
        return Err(Skip::Cancelled(Cancelled { id, occurrence }));
    }
    let unmappable = |reason: &str| Skip::Unmappable {
        id: id.clone(),
        reason: reason.to_string(),
    };
    if id.is_empty() {
        return Err(unmappable("no id"));
    }
    let start = g
        .start
        .as_ref()
        .and_then(time)
        .ok_or_else(|| unmappable("no start time"))?;
    let end = g.end.as_ref().and_then(time).unwrap_or(start);
    let recurrence = match &g.recurrence {
        Some(lines) if !lines.is_empty() => {
            recurrence(lines, &start).map_err(|e| unmappable(&format!("recurrence: {e}")))?
        }
        _ => Recurrence::default(),
    };
    let lower = |s: &Option<String>| s.as_deref().map(|e| e.trim().to_lowercase());
    let attendees = g
        .attendees
        .iter()
        .flatten()
        .filter_map(|a| {
            Some(Attendee {
                email: lower(&a.email)?,
                name: a.display_name.clone(),
                role: if a.optional == Some(true) {
                    Role::Optional
                } else {
                    Role::Required
                },
                partstat: a
                    .response_status
                    .as_deref()
                    .map_or(PartStat::NeedsAction, partstat_from_google),
                is_resource: a.resource == Some(true),
            })
        })
        .collect();
    let me = g.attendees.iter().flatten().find(|a| a.self_ == Some(true));
    let private: Option<&HashMap<String, String>> = g
        .extended_properties
        .as_ref()
        .and_then(|p| p.private.as_ref());
    let marker = private
        .and_then(|p| p.get(MARKER_KEY))
        .filter(|v| !v.is_empty())
        .map(|v| partstat_from_google(v));
    // Only next to a marker: without one, the answer is not gatekeeper's.
    let gatekeeper_rules: Option<Vec<String>> = marker.as_ref().and_then(|_| {
        private.and_then(|p| p.get(RULES_KEY)).map(|v| {
            v.split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect()
        })
    });
    let event = Event {
        uid: g.recurring_event_id.clone().unwrap_or_else(|| id.clone()),
        recurrence_id: g.original_start_time.as_ref().and_then(time),
        summary: g.summary.clone().unwrap_or_default(),
        description: g.description.clone().unwrap_or_default(),
        organizer: g.organizer.as_ref().and_then(|o| lower(&o.email)),
        attendees,
        start,
        end,
        recurrence,
        status: match g.status.as_deref() {
            Some("tentative") => Status::Tentative,
            _ => Status::Confirmed,
        },
        private: matches!(g.visibility.as_deref(), Some("private" | "confidential")),
        transparent: g.transparency.as_deref() == Some("transparent"),
        sequence: i64::from(g.sequence.unwrap_or(0)),
        created: g.created,
        last_modified: g.updated,
        dtstamp: None,
        gatekeeper_comment: marker.as_ref().and(me.and_then(|a| a.comment.clone())),
        gatekeeper_partstat: marker,
        gatekeeper_rules,
        event_type: match g.event_type.as_deref() {
            None | Some("default") => EventType::Default,
            Some("focusTime") => EventType::FocusTime,
            Some("outOfOffice") => EventType::OutOfOffice,
            Some("workingLocation") => EventType::WorkingLocation,
            Some(_) => EventType::Other,
        },
        // Google Calendar has no categories.
        categories: Vec::new(),
    };
    Ok(GoogleEvent {
        series_id: event.uid.clone(),
        id,
        etag: g.etag.clone(),
        event,
    })
}

/// Whether the member's copy already shows gatekeeper's write `w`: their
/// answer, the comment and the marker all as `w` would leave them. Used
/// after a write whose answer was lost, to tell "it landed" from "it did
/// not".
pub fn shows_write(g: &api::Event, member: &str, w: &crate::source::Answer) -> bool {
    let me = g.attendees.iter().flatten().find(|a| {
        a.self_ == Some(true)
            || a.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(member))
    });
    let Some(me) = me else { return false };
    let marker = g
        .extended_properties
        .as_ref()
        .and_then(|x| x.private.as_ref())
        .and_then(|p| p.get(MARKER_KEY))
        .map_or("", String::as_str);
    let want_marker = w.marker.as_ref().map_or("", partstat_to_google);
    me.response_status.as_deref() == Some(partstat_to_google(&w.partstat))
        && me.comment.as_deref().unwrap_or("") == w.comment.as_deref().unwrap_or("")
        && marker == want_marker
}

/// The reader's zone for a member on Google: the policy's, else the
/// calendar's own setting.
pub fn member_zone(policy_tz: Option<Tz>, calendar_setting: Option<&str>) -> Tz {
    policy_tz
        .or_else(|| calendar_setting.and_then(crate::calendar::tz::resolve_name))
        .unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> api::Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn tells_a_landed_write_from_one_that_did_not_land() {
        use crate::source::Answer as Write;
        let copy = |status: &str, comment: Option<&str>, marker: Option<&str>| {
            let mut me = serde_json::json!({"email": "ana@example.com", "self": true, "responseStatus": status});
            if let Some(c) = comment {
                me["comment"] = c.into();
            }
            let mut e = serde_json::json!({"id": "e", "attendees": [{"email": "bo@example.com", "responseStatus": "accepted"}, me]});
            if let Some(m) = marker {
                e["extendedProperties"] = serde_json::json!({"private": {MARKER_KEY: m}});
            }
            parse(e)
        };
        let decline = Write {
            partstat: PartStat::Declined,
            comment: Some("no agenda".into()),
            marker: Some(PartStat::Declined),
            rules: vec!["agenda".into()],
        };
        let withdraw = Write {
            partstat: PartStat::NeedsAction,
            comment: None,
            marker: None,
            rules: Vec::new(),
        };
        let check = |g: &api::Event, w: &Write, expect: bool| {
            assert_eq!(shows_write(g, "ana@example.com", w), expect, "{g:?} {w:?}");
        };
        check(
            &copy("declined", Some("no agenda"), Some("declined")),
            &decline,
            true,
        );
        // Ana declined herself: no marker, not gatekeeper's write.
        check(&copy("declined", Some("no agenda"), None), &decline, false);
        check(&copy("accepted", None, None), &decline, false);
        check(
            &copy("declined", Some("older reason"), Some("declined")),
            &decline,
            false,
        );
        check(&copy("needsAction", None, None), &withdraw, true);
        check(&copy("needsAction", Some(""), Some("")), &withdraw, true);
        check(
            &copy("needsAction", None, Some("declined")),
            &withdraw,
            false,
        );
    }

    #[test]
    fn maps_an_invite_with_self_and_marker() {
        let g = parse(serde_json::json!({
            "id": "abc", "status": "confirmed", "summary": "Sync", "etag": "\"1\"",
            "start": {"dateTime": "2026-12-01T15:00:00Z", "timeZone": "Europe/Lisbon"},
            "end": {"dateTime": "2026-12-01T15:30:00Z", "timeZone": "Europe/Lisbon"},
            "organizer": {"email": "Bo@Example.com"},
            "attendees": [
                {"email": "bo@example.com", "organizer": true, "responseStatus": "accepted"},
                {"email": "ana@example.com", "self": true, "responseStatus": "declined", "comment": "no agenda"},
                {"email": "room@resource.calendar.google.com", "resource": true, "responseStatus": "accepted"},
                {"email": "cy@example.com", "optional": true}
            ],
            "extendedProperties": {"private": {"gatekeeperResponse": "declined", "gatekeeperRules": "agenda, working_hours"}},
            "visibility": "private", "sequence": 2, "eventType": "default"
        }));
        let m = map_event(&g).unwrap();
        assert_eq!((m.id.as_str(), m.series_id.as_str()), ("abc", "abc"));
        let e = m.event;
        assert_eq!(e.organizer.as_deref(), Some("bo@example.com"));
        assert_eq!(e.attendees.len(), 4);
        assert_eq!(e.attendees[1].partstat, PartStat::Declined);
        assert!(e.attendees[2].is_resource);
        assert_eq!(e.attendees[3].role, Role::Optional);
        assert_eq!(e.attendees[3].partstat, PartStat::NeedsAction);
        assert_eq!(e.gatekeeper_partstat, Some(PartStat::Declined));
        assert_eq!(e.gatekeeper_comment.as_deref(), Some("no agenda"));
        assert_eq!(
            e.gatekeeper_rules,
            Some(vec!["agenda".to_string(), "working_hours".to_string()])
        );
        assert!(e.private);
        match e.start {
            EventTime::Zoned(t) => assert_eq!(t.to_rfc3339(), "2026-12-01T15:00:00+00:00"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maps_series_instances_all_day_and_cancellations() {
        let master = parse(serde_json::json!({
            "id": "s1", "summary": "Retro",
            "start": {"dateTime": "2026-12-02T15:00:00Z", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-02T16:00:00Z", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=8", "EXDATE;TZID=Europe/Berlin:20261209T160000"]
        }));
        let m = map_event(&master).unwrap().event;
        assert_eq!(m.recurrence.rrules, ["FREQ=WEEKLY;BYDAY=WE;COUNT=8"]);
        assert_eq!(m.recurrence.exdates.len(), 1);

        let instance = parse(serde_json::json!({
            "id": "s1_20261216T150000Z", "recurringEventId": "s1", "summary": "Retro (moved)",
            "originalStartTime": {"dateTime": "2026-12-16T15:00:00Z", "timeZone": "Europe/Berlin"},
            "start": {"dateTime": "2026-12-17T15:00:00Z"}, "end": {"dateTime": "2026-12-17T16:00:00Z"}
        }));
        let i = map_event(&instance).unwrap();
        assert_eq!(i.series_id, "s1");
        assert_eq!(i.event.uid, "s1");
        assert!(i.event.recurrence_id.is_some());
        assert!(matches!(i.event.start, EventTime::Utc(_)));

        let all_day = parse(
            serde_json::json!({"id": "d", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-25"}}),
        );
        assert!(map_event(&all_day).unwrap().event.is_all_day());

        let focus = parse(
            serde_json::json!({"id": "f", "eventType": "focusTime", "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T11:00:00Z"}}),
        );
        assert_eq!(
            map_event(&focus).unwrap().event.event_type,
            EventType::FocusTime
        );

        let gone = parse(serde_json::json!({"id": "x", "status": "cancelled"}));
        assert_eq!(
            map_event(&gone),
            Err(Skip::Cancelled(Cancelled {
                id: "x".into(),
                occurrence: None
            }))
        );
        let gone_once = parse(serde_json::json!({
            "id": "s1_20261216T150000Z", "status": "cancelled", "recurringEventId": "s1",
            "originalStartTime": {"dateTime": "2026-12-16T15:00:00Z", "timeZone": "Europe/Berlin"}
        }));
        let Err(Skip::Cancelled(c)) = map_event(&gone_once) else {
            panic!("cancelled")
        };
        assert_eq!(
            c.occurrence.map(|(s, t)| (s, t.to_rfc3339())),
            Some(("s1".into(), "2026-12-16T15:00:00+00:00".into()))
        );
        let broken = parse(serde_json::json!({"id": "y", "summary": "no start"}));
        assert!(matches!(map_event(&broken), Err(Skip::Unmappable { .. })));
        let injected = parse(
            serde_json::json!({"id": "z", "start": {"date": "2026-12-24"}, "recurrence": ["RRULE:FREQ=DAILY\r\nATTENDEE:mailto:x@y"]}),
        );
        assert!(matches!(map_event(&injected), Err(Skip::Unmappable { .. })));
    }
}
