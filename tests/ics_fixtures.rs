//! Fixture tests: realistic .ics files as Google, Outlook/Exchange, Apple
//! and Thunderbird write them, parsed, expanded and edited through the
//! public calendar API.

use chrono::{DateTime, TimeZone, Utc};
use gatekeeper::calendar::edit::{ResponseEdit, set_response};
use gatekeeper::calendar::ical::{ParsedCalendar, parse_ics};
use gatekeeper::calendar::recurrence::{expand, group_by_uid};
use gatekeeper::calendar::{EventTime, PartStat, Role, Status};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/ics/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parsed(name: &str) -> ParsedCalendar {
    let p = parse_ics(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(p.problems, Vec::<String>::new(), "{name}");
    p
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid")
}

/// Occurrence starts of every series in a file, as UTC `MM-DD HH:MM`.
fn starts(name: &str, uid: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let group = group_by_uid(parsed(name).events)
        .into_iter()
        .find(|g| g[0].uid == uid)
        .expect("uid present");
    let exp = expand(&group, chrono_tz::UTC, from, to, 100);
    assert!(exp.problems.is_empty() && !exp.truncated, "{exp:?}");
    exp.occurrences
        .iter()
        .map(|o| {
            o.start
                .to_utc(chrono_tz::UTC)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .collect()
}

#[test]
fn google_invite() {
    let p = parsed("google_invite.ics");
    assert_eq!(p.default_tz, Some(chrono_tz::Europe::Berlin));
    let e = &p.events[0];
    assert_eq!(e.summary, "Q2 planning");
    assert_eq!(e.organizer.as_deref(), Some("alice@example.com"));
    assert_eq!(e.start.to_utc(chrono_tz::UTC), utc(2026, 4, 15, 8, 0));
    assert!(
        e.description
            .starts_with("Quarterly planning. Agenda:\n1. Numbers, targets\n2. Hiring<br><br>")
    );
    assert!(e.description.contains(
        "<a href=\"https://meet.google.com/abc-defg-hij\">https://meet.google.com/abc-defg-hij</a>"
    ));
    let people: Vec<_> = e
        .attendees
        .iter()
        .map(|a| {
            (
                a.email.as_str(),
                a.name.as_deref(),
                a.role,
                a.partstat.clone(),
                a.is_resource,
            )
        })
        .collect();
    assert_eq!(
        people,
        vec![
            (
                "alice@example.com",
                Some("Alice Organizer"),
                Role::Required,
                PartStat::Accepted,
                false
            ),
            (
                "bob@example.com",
                Some("bob@example.com"),
                Role::Required,
                PartStat::NeedsAction,
                false
            ),
            (
                "jane.doe@example.com",
                Some("Doe, Jane"),
                Role::Optional,
                PartStat::Tentative,
                false
            ),
            (
                "c_1883abc@resource.calendar.google.com",
                Some("Berlin-4-Spree (8)"),
                Role::Required,
                PartStat::Accepted,
                true
            ),
        ]
    );
    // X-WR-TIMEZONE is the zone of the calendar's floating times, as
    // Google Calendar and Apple Calendar read them.
    assert!(
        matches!(p.events[1].start, EventTime::Zoned(t) if t.timezone() == chrono_tz::Europe::Berlin)
    );
}

#[test]
fn outlook_invite_with_windows_zone() {
    let p = parsed("outlook_invite.ics");
    let e = &p.events[0];
    assert!(e.uid.starts_with("040000008200E00074C5B7101A82E008") && e.uid.ends_with("F3A4"));
    assert!(matches!(e.start, EventTime::Zoned(t) if t.timezone() == chrono_tz::Europe::Berlin));
    assert_eq!(e.start.to_utc(chrono_tz::UTC), utc(2026, 3, 27, 13, 0));
    assert_eq!(e.attendees[0].email, "dave.member@contoso.com");
    assert_eq!(e.attendees[1].name.as_deref(), Some("Müller, Erika"));
    assert!(e.attendees[2].is_resource);
    assert_eq!(e.sequence, 2);
    assert!(e.description.contains("Microsoft Teams meeting"));
}

#[test]
fn apple_and_thunderbird_events() {
    let apple = parsed("apple_event.ics");
    assert_eq!(
        apple.events[0].start.to_utc(chrono_tz::UTC),
        utc(2026, 3, 5, 14, 30)
    );
    assert_eq!(
        apple.events[0].end.to_utc(chrono_tz::UTC),
        utc(2026, 3, 5, 15, 0)
    );
    let tb = parsed("thunderbird_event.ics");
    let e = &tb.events[0];
    assert!(matches!(e.start, EventTime::Zoned(t) if t.timezone() == chrono_tz::Europe::Vienna));
    assert!(e.private);
    assert_eq!(e.status, Status::Tentative);
    assert_eq!(e.attendees[0].email, "hans@example.at");
    let prefixed = &tb.events[1];
    assert!(
        matches!(prefixed.start, EventTime::Zoned(t) if t.timezone() == chrono_tz::Europe::Berlin)
    );
    assert_eq!(
        prefixed.end.to_utc(chrono_tz::UTC),
        utc(2026, 3, 21, 10, 30)
    );
}

#[test]
fn weekly_series_with_exdate_rdate_moved_and_cancelled() {
    // Mondays 09:00 Berlin (08:00 UTC until 03-29, 07:00 after): 03-09 is
    // excluded (EXDATE in UTC), RDATE adds Thu 03-12 15:00, 03-16 moves to
    // Tue 03-17 14:00, 03-23 is cancelled.
    assert_eq!(
        starts(
            "weekly_series.ics",
            "weekly-sync@example.com",
            utc(2026, 3, 1, 0, 0),
            utc(2026, 4, 7, 0, 0)
        ),
        vec![
            "03-02 08:00",
            "03-12 14:00",
            "03-17 13:00",
            "03-30 07:00",
            "04-06 07:00"
        ]
    );
}

#[test]
fn count_and_until() {
    let w = (utc(2026, 3, 1, 0, 0), utc(2026, 4, 1, 0, 0));
    assert_eq!(
        starts("count_until.ics", "count@example.com", w.0, w.1),
        vec!["03-02 12:00", "03-03 12:00", "03-04 12:00"]
    );
    assert_eq!(
        starts("count_until.ics", "until@example.com", w.0, w.1),
        vec!["03-02 14:00", "03-03 14:00", "03-04 14:00", "03-05 14:00"]
    );
    assert_eq!(
        starts("count_until.ics", "until-date@example.com", w.0, w.1),
        vec!["03-02 00:00", "03-03 00:00", "03-04 00:00"]
    );
}

#[test]
fn all_day_duration_and_floating() {
    let p = parsed("all_day_duration_floating.ics");
    let got: Vec<_> = p
        .events
        .iter()
        .map(|e| (e.start.to_display_string(), e.end.to_display_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2026-04-06".to_string(), "2026-04-07".to_string()),
            (
                "2026-04-07T13:00:00Z".to_string(),
                "2026-04-07T15:30:00Z".to_string()
            ),
            (
                "2026-04-08T12:00:00".to_string(),
                "2026-04-08T13:00:00".to_string()
            ),
        ]
    );
    assert!(p.events[0].transparent);
}

#[test]
fn dst_changes_keep_local_time() {
    // Berlin switches on 2026-03-29: 09:00 local is 08:00 UTC, then 07:00.
    assert_eq!(
        starts(
            "dst_series.ics",
            "berlin-weekly@example.com",
            utc(2026, 3, 1, 0, 0),
            utc(2026, 5, 1, 0, 0)
        ),
        vec!["03-23 08:00", "03-30 07:00", "04-06 07:00"]
    );
    // New York switches on 2026-03-08: 14:00 UTC, then 13:00.
    assert_eq!(
        starts(
            "dst_series.ics",
            "ny-weekly@example.com",
            utc(2026, 3, 1, 0, 0),
            utc(2026, 5, 1, 0, 0)
        ),
        vec!["03-02 14:00", "03-09 13:00", "03-16 13:00"]
    );
}

#[test]
fn override_without_master_is_listed() {
    let p = parsed("override_only.ics");
    let exp = expand(
        &p.events,
        chrono_tz::UTC,
        utc(2026, 3, 1, 0, 0),
        utc(2026, 4, 1, 0, 0),
        10,
    );
    assert_eq!(exp.occurrences.len(), 1);
    assert_eq!(
        exp.occurrences[0].start,
        EventTime::Utc(utc(2026, 3, 10, 11, 0))
    );
    assert_eq!(
        exp.occurrences[0].recurrence_id,
        Some(EventTime::Utc(utc(2026, 3, 10, 9, 0)))
    );
}

#[test]
fn edit_round_trip_on_fixtures() {
    for (name, uid, attendee) in [
        (
            "google_invite.ics",
            "7kukuqrfedlm2f9t2vr42q2hbm@google.com",
            "jane.doe@example.com",
        ),
        ("outlook_invite.ics", "", "DAVE.MEMBER@contoso.com"),
        (
            "thunderbird_event.ics",
            "3c9b2a4e-0f1d-4c8e-9a7b-6e5d4c3b2a10",
            "hans@example.at",
        ),
        (
            "weekly_series.ics",
            "weekly-sync@example.com",
            "member@example.com",
        ),
    ] {
        let text = fixture(name);
        let before = parsed(name);
        let uid = if uid.is_empty() {
            before.events[0].uid.clone()
        } else {
            uid.to_string()
        };
        let edit = ResponseEdit {
            uid: &uid,
            recurrence_id: None,
            attendee,
            partstat: PartStat::Declined,
            comment: Some("Declined by gatekeeper: focus day"),
            marker: Some(PartStat::Declined),
            marker_rules: &[],
        };
        let out = set_response(&text, &edit).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            text.contains("\r\n"),
            out.contains("\r\n"),
            "{name}: line endings kept"
        );
        let after = parse_ics(&out).expect("edited file parses");
        let mut expected = before.events.clone();
        let index = expected
            .iter()
            .position(|e| e.uid == uid && e.recurrence_id.is_none())
            .expect("event");
        let wanted = attendee.to_lowercase();
        for a in expected[index]
            .attendees
            .iter_mut()
            .filter(|a| a.email == wanted)
        {
            a.partstat = PartStat::Declined;
        }
        expected[index].gatekeeper_partstat = Some(PartStat::Declined);
        expected[index].gatekeeper_comment = Some("Declined by gatekeeper: focus day".into());
        assert_eq!(after.events, expected, "{name}");
        assert!(out.contains("COMMENT;X-GATEKEEPER=TRUE:Declined by gatekeeper: focus day"));
    }
}

#[test]
fn not_icalendar_is_an_error() {
    let err = parse_ics("{\"kind\": \"calendar#events\"}\n").expect_err("JSON is not iCalendar");
    assert!(err.to_string().contains("line 1"), "{err}");
}
