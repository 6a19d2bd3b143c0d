//! The decision core's four cases from `benches/core.rs` (same policy,
//! same invites), called a fixed number of times and nothing else: for
//! instruction counts under callgrind and whole-process A/B runs of two
//! builds, where the bench's own rounds and clock would only add noise.
//!
//! ```sh
//! cargo build --release --example evaluate_n
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/evaluate_n passing 30000
//! ```
//!
//! Cases: `passing`, `failing`, `mixed`, `weekly`. Instructions per call
//! are the difference between two counts over the difference in calls.
use chrono::{DateTime, Utc};
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::policy::{Context, Invite, Span, evaluate, parse_policy};
use std::hint::black_box;

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

fn main() {
    const USAGE: &str = "usage: evaluate_n passing|failing|mixed|weekly CALLS";
    let args: Vec<String> = std::env::args().collect();
    let (Some(case), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<u64>())) else {
        panic!("{USAGE}");
    };
    let (policy, diags) = parse_policy(POLICY, "bench.toml");
    let policy = policy.unwrap_or_else(|| panic!("bench policy invalid: {diags:?}"));
    let people = attendees();
    let now = t("2026-11-30T08:00:00Z");
    let ctx = Context::new(now, "ana@example.com");
    let agenda = "Decide which of the three export formats we ship first and who owns the migration.\n\nJoin with Google Meet: https://meet.google.com/abc-defg-hij";
    let good_slot = vec![Span {
        start: t("2026-12-03T16:00:00Z"),
        end: t("2026-12-03T16:45:00Z"),
    }];
    let bad_slot = vec![Span {
        start: t("2026-12-02T15:00:00Z"),
        end: t("2026-12-02T16:30:00Z"),
    }];
    let weekly: Vec<Span> = (0..10)
        .map(|i| Span {
            start: t("2026-12-03T16:00:00Z") + chrono::Duration::weeks(i),
            end: t("2026-12-03T16:45:00Z") + chrono::Duration::weeks(i),
        })
        .collect();
    let (title, description, spans) = match case.as_str() {
        "passing" => ("Export formats", agenda, &good_slot),
        "failing" => ("Export formats", "sync", &bad_slot),
        "mixed" => ("Export formats", agenda, &bad_slot),
        "weekly" => ("Weekly export review", agenda, &weekly),
        _ => panic!("{USAGE}"),
    };
    let invite = Invite {
        title,
        description,
        organizer: Some("bo@example.com"),
        attendees: &people,
        occurrences: spans,
        sent_at: Some(t("2026-11-27T10:00:00Z")),
        all_day: false,
        categories: &[],
    };
    for _ in 0..n {
        black_box(evaluate(black_box(&invite), &policy, &ctx));
    }
}
