//! Benchmarks of the hot paths: the decision core (invites screened per
//! second) and recurrence expansion. A plain program rather than criterion
//! to keep the dependency tree small; each figure is the median of several
//! rounds, with the spread printed beside it.
//!
//! Run with `cargo bench --bench core`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatekeeper::calendar::ical::parse_ics;
use gatekeeper::calendar::recurrence::{expand, group_by_uid};
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::policy::{Context, Invite, Span, evaluate, parse_policy};

const POLICY: &str = r#"
[team]
name = "bench"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:30"
[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"
[[member]]
email = "chen@example.com"
time_zone = "Asia/Singapore"
working_hours = "10:00-18:00"
[[member]]
email = "dev@example.com"
time_zone = "America/Los_Angeles"
working_hours = "08:00-16:00"
[[member]]
email = "eva@example.com"
time_zone = "Europe/Lisbon"
working_hours = "08:00-16:00"
[[member]]
email = "fay@example.com"
time_zone = "America/New_York"
working_hours = "10:00-18:00"

[[rule]]
kind = "agenda"
action = "decline"
min_words = 6
[[rule]]
kind = "min_notice"
action = "annotate"
hours = 24
[[rule]]
kind = "meeting_free_days"
action = "decline"
days = ["wednesday"]
[[rule]]
kind = "max_duration"
action = "annotate"
minutes = 60
[[rule]]
kind = "max_attendees"
action = "observe"
count = 8
[[rule]]
kind = "working_hours"
action = "annotate"

[exceptions]
organizers = ["ceo@example.com"]
external_guests = "never_decline"
[exceptions.urgent]
keyword = "urgent"
per_organizer_per_month = 2
"#;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn attendees() -> Vec<Attendee> {
    ["ana", "bo", "chen", "dev", "eva", "fay"]
        .iter()
        .map(|n| Attendee {
            email: format!("{n}@example.com"),
            name: None,
            role: Role::Required,
            partstat: PartStat::NeedsAction,
            is_resource: false,
        })
        .collect()
}

/// Times each round of `iters` calls of `f`; returns per-call durations
/// (min, median, max) over `rounds`.
fn measure(rounds: usize, iters: u64, mut f: impl FnMut()) -> (Duration, Duration, Duration) {
    for _ in 0..iters / 10 {
        f();
    }
    let mut per_call: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters as u32
        })
        .collect();
    per_call.sort();
    (per_call[0], per_call[rounds / 2], per_call[rounds - 1])
}

fn report(name: &str, unit: &str, (min, med, max): (Duration, Duration, Duration)) {
    let per_sec = 1.0 / med.as_secs_f64();
    println!(
        "{name:<58} median {:>9.3} µs  (min {:.3}, max {:.3})  = {:>12.0} {unit}/s",
        med.as_secs_f64() * 1e6,
        min.as_secs_f64() * 1e6,
        max.as_secs_f64() * 1e6,
        per_sec
    );
}

fn main() {
    let (policy, diags) = parse_policy(POLICY, "bench.toml");
    let policy = policy.unwrap_or_else(|| panic!("bench policy invalid: {diags:?}"));
    let people = attendees();
    let now = t("2026-11-30T08:00:00Z");
    let ctx = Context::new(now, "ana@example.com");
    let agenda = "Decide which of the three export formats we ship first and who owns the migration.\n\nJoin with Google Meet: https://meet.google.com/abc-defg-hij";
    // Thursday 15:00 UTC: inside everyone's hours except Singapore (23:00).
    let good_slot = [Span {
        start: t("2026-12-03T16:00:00Z"),
        end: t("2026-12-03T16:45:00Z"),
    }];
    let bad_slot = [Span {
        start: t("2026-12-02T15:00:00Z"),
        end: t("2026-12-02T16:30:00Z"),
    }];
    let cases: [(&str, &str, &[Span]); 3] = [
        ("passing invite (agenda, in hours)", agenda, &good_slot),
        (
            "failing invite (no agenda, Wednesday, too long)",
            "sync",
            &bad_slot,
        ),
        ("mixed: agenda, Wednesday, 90 min", agenda, &bad_slot),
    ];
    println!("decision core: realistic policy (6 rules + exceptions), 6 attendees in 4 time zones");
    for (name, description, spans) in cases {
        let invite = Invite {
            title: "Export formats",
            description,
            organizer: Some("bo@example.com"),
            attendees: &people,
            occurrences: spans,
            sent_at: Some(t("2026-11-27T10:00:00Z")),
            all_day: false,
            categories: &[],
        };
        report(
            &format!("evaluate: {name}"),
            "invites",
            measure(7, 200_000, || {
                black_box(evaluate(black_box(&invite), &policy, &ctx));
            }),
        );
    }
    let weekly: Vec<Span> = (0..10)
        .map(|i| Span {
            start: t("2026-12-03T16:00:00Z") + chrono::Duration::weeks(i),
            end: t("2026-12-03T16:45:00Z") + chrono::Duration::weeks(i),
        })
        .collect();
    let series = Invite {
        title: "Weekly export review",
        description: agenda,
        organizer: Some("bo@example.com"),
        attendees: &people,
        occurrences: &weekly,
        sent_at: Some(t("2026-11-27T10:00:00Z")),
        all_day: false,
        categories: &[],
    };
    report(
        "evaluate: weekly series, 10 occurrences judged",
        "invites",
        measure(7, 50_000, || {
            black_box(evaluate(black_box(&series), &policy, &ctx));
        }),
    );

    // A series as the daemon judges it: from its parsed events, its next
    // occurrences over the horizon (as `upcoming_spans` takes them), then
    // the verdict. Expansion used to start at DTSTART, so the cost grew
    // with the series' age; it now starts a whole number of weeks before
    // `now` (issue 12).
    let weekly_ics = |dtstart: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w@x\r\nDTSTART;TZID=Europe/Berlin:{dtstart}T170000\r\nDTEND;TZID=Europe/Berlin:{dtstart}T174500\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Weekly export review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    for (age, dtstart) in [
        ("started last month", "20261029"),
        ("started 3 years ago", "20231130"),
        ("started 10 years ago", "20161201"),
    ] {
        let group = group_by_uid(parse_ics(&weekly_ics(dtstart)).unwrap().events).remove(0);
        let horizon = now + chrono::Duration::days(180);
        report(
            &format!("expand + evaluate: weekly series {age}, next 10 judged"),
            "invites",
            measure(7, 20_000, || {
                let exp = expand(black_box(&group), chrono_tz::Tz::UTC, now, horizon, 40);
                let spans: Vec<Span> = exp
                    .occurrences
                    .iter()
                    .take(10)
                    .map(|o| Span {
                        start: o.start.to_utc(chrono_tz::Tz::UTC),
                        end: o.end.to_utc(chrono_tz::Tz::UTC),
                    })
                    .collect();
                let invite = Invite {
                    occurrences: &spans,
                    ..series
                };
                black_box(evaluate(black_box(&invite), &policy, &ctx));
            }),
        );
    }

    println!("\nrecurrence expansion (rrule crate, bounded)");
    let series_ics = |dtstart: &str, rule: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:s@x\r\nDTSTART;TZID=Europe/Berlin:{dtstart}\r\nDTEND;TZID=Europe/Berlin:{}\r\nRRULE:{rule}\r\nEXDATE;TZID=Europe/Berlin:20261208T090000\r\nSUMMARY:s\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s@x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261210T090000\r\nDTSTART;TZID=Europe/Berlin:20261210T140000\r\nDTEND;TZID=Europe/Berlin:20261210T150000\r\nSUMMARY:moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            dtstart.replace("T09", "T10")
        )
    };
    let from = t("2026-12-01T00:00:00Z");
    let to = t("2026-12-29T00:00:00Z");
    for (name, dtstart, rule) in [
        (
            "weekly series, started this year, 4-week window",
            "20260105T090000",
            "FREQ=WEEKLY;BYDAY=MO,TH",
        ),
        (
            "daily series, started 3 years ago, 4-week window",
            "20231204T090000",
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        ),
        (
            "monthly series with COUNT, 4-week window",
            "20260115T090000",
            "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=24",
        ),
    ] {
        let text = series_ics(dtstart, rule);
        let group = group_by_uid(parse_ics(&text).unwrap().events).remove(0);
        let n = expand(&group, chrono_tz::Tz::UTC, from, to, 1000)
            .occurrences
            .len();
        report(
            &format!("expand: {name} ({n} occ.)"),
            "series",
            measure(7, 5_000, || {
                black_box(expand(
                    black_box(&group),
                    chrono_tz::Tz::UTC,
                    from,
                    to,
                    1000,
                ));
            }),
        );
    }
    let minutely = series_ics("19700101T000000", "FREQ=MINUTELY");
    let group = group_by_uid(parse_ics(&minutely).unwrap().events).remove(0);
    report(
        "expand: FREQ=MINUTELY since 1970 (hits the iteration cap)",
        "series",
        measure(3, 5, || {
            black_box(expand(
                black_box(&group),
                chrono_tz::Tz::UTC,
                from,
                to,
                1000,
            ));
        }),
    );

    println!("\nparsing");
    let google = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ics/google_invite.ics"
    ))
    .unwrap();
    report(
        &format!("parse_ics: Google invite ({} bytes)", google.len()),
        "files",
        measure(7, 20_000, || {
            black_box(parse_ics(black_box(&google)).ok());
        }),
    );
}
