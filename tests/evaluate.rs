//! The pure decision core, table-driven: a realistic team spread over five
//! time zones, invites built from plain values, and for every case the
//! decision, the rules that fired with their actions, and the exemption.

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::policy::evaluate::Exemption;
use gatekeeper::policy::{
    Action, Context, Decision, Invite, Policy, Problem, RuleKind, Span, Verdict, evaluate,
    parse_policy,
};

use Action::{Annotate as A, Decline as D, Observe as O};
use PartStat::{Accepted, Declined, NeedsAction};
use Role::{Optional, Required};
use RuleKind::*;

/// Lisbon is on UTC in winter (WET), so February dates read the same in
/// UTC and in Lisbon. 2026-02-02 is a Monday.
const TEAM: &str = r#"
[team]
name = "platform"
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
email = "chitra@example.com"
time_zone = "Asia/Kolkata"
working_hours = "09:00-17:30"

[[member]]
email = "kenji@example.com"
time_zone = "Asia/Tokyo"
working_hours = "09:00-18:00"

[[member]]
email = "nox@example.com"
time_zone = "Europe/Lisbon"
working_hours = "22:00-06:00"
"#;

fn policy(rest: &str) -> Policy {
    let text = format!("{TEAM}\n{rest}");
    let (p, d) = parse_policy(&text, "team.toml");
    assert!(d.is_empty(), "{d:#?}");
    p.expect("a policy")
}

fn rule(kind: &str, action: &str, extra: &str) -> String {
    format!("[[rule]]\nkind = \"{kind}\"\naction = \"{action}\"\n{extra}\n")
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

const AGENDA: &str = "Decide the Q3 hiring plan for the search team";

#[derive(Clone)]
struct Case {
    name: &'static str,
    /// Rules and exceptions appended to `TEAM`.
    policy: String,
    title: &'static str,
    description: &'static str,
    organizer: Option<&'static str>,
    attendees: Vec<(&'static str, Role, PartStat)>,
    rooms: Vec<&'static str>,
    spans: Vec<(&'static str, &'static str)>,
    sent_at: Option<&'static str>,
    all_day: bool,
    now: &'static str,
    member: &'static str,
    urgent_uses: u32,
}

/// A three-person meeting on Tuesday 2026-02-03 14:00–14:30 UTC (14:00 in
/// Lisbon, 09:00 in New York), with an agenda, sent long before.
fn base(name: &'static str, policy: String) -> Case {
    Case {
        name,
        policy,
        title: "Hiring plan",
        description: AGENDA,
        organizer: Some("pat@example.com"),
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
            ("bo@example.com", Required, NeedsAction),
        ],
        rooms: vec![],
        spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T14:30:00Z")],
        sent_at: None,
        all_day: false,
        now: "2026-01-20T12:00:00Z",
        member: "ana@example.com",
        urgent_uses: 0,
    }
}

struct Built {
    policy: Policy,
    attendees: Vec<Attendee>,
    spans: Vec<Span>,
}

fn build(c: &Case) -> Built {
    let mut attendees: Vec<Attendee> = c
        .attendees
        .iter()
        .map(|(email, role, partstat)| Attendee {
            email: email.to_string(),
            name: None,
            role: *role,
            partstat: partstat.clone(),
            is_resource: false,
        })
        .collect();
    attendees.extend(c.rooms.iter().map(|email| Attendee {
        email: email.to_string(),
        name: None,
        role: Required,
        partstat: Accepted,
        is_resource: true,
    }));
    Built {
        policy: policy(&c.policy),
        attendees,
        spans: c
            .spans
            .iter()
            .map(|(s, e)| Span {
                start: t(s),
                end: t(e),
            })
            .collect(),
    }
}

fn invite<'a>(c: &'a Case, b: &'a Built) -> Invite<'a> {
    Invite {
        title: c.title,
        description: c.description,
        organizer: c.organizer,
        attendees: &b.attendees,
        occurrences: &b.spans,
        sent_at: c.sent_at.map(t),
        all_day: c.all_day,
        categories: &[],
    }
}

fn run(c: &Case) -> (Built, Verdict) {
    let b = build(c);
    let v = evaluate(
        &invite(c, &b),
        &b.policy,
        &Context::new(t(c.now), c.member).with_urgent_uses(c.urgent_uses),
    );
    (b, v)
}

/// Evaluate and assert the decision, the rules that fired with their
/// (possibly softened) actions, and the exemption.
fn check(
    c: &Case,
    decision: Decision,
    fired: &[(RuleKind, Action)],
    exemption: Option<Exemption>,
) -> Verdict {
    let (_, v) = run(c);
    let got: Vec<(RuleKind, Action)> = v.findings.iter().map(|f| (f.rule, f.action)).collect();
    assert_eq!(
        (v.decision, got.as_slice(), &v.exemption),
        (decision, fired, &exemption),
        "case `{}`: {v:#?}",
        c.name
    );
    v
}

type Row = (Case, Decision, Vec<(RuleKind, Action)>, Option<Exemption>);

fn check_all(rows: Vec<Row>) {
    for (c, d, fired, ex) in rows {
        check(&c, d, &fired, ex);
    }
}

fn problem(v: &Verdict, kind: RuleKind) -> &Problem {
    &v.findings
        .iter()
        .find(|f| f.rule == kind)
        .unwrap_or_else(|| panic!("no {kind:?} finding in {v:#?}"))
        .problem
}

// ---- agenda ------------------------------------------------------------

#[test]
fn agenda() {
    let p = rule("agenda", "decline", "min_words = 4");
    let c = |name, description| Case {
        description,
        ..base(name, p.clone())
    };
    check_all(vec![
        (c("empty", ""), Decision::Decline, vec![(Agenda, D)], None),
        (
            c("sync", "sync"),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (c("real agenda", AGENDA), Decision::Allow, vec![], None),
        (
            c(
                "zoom boilerplate only",
                "Join Zoom Meeting\nhttps://zoom.us/j/123456789?pwd=abc\n\nMeeting ID: 123 456 789\nPasscode: 4242",
            ),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            c(
                "google meet block only",
                "-::~:~::~:~:~:~:~:~:~:~:~::~:~::-\nJoin with Google Meet: https://meet.google.com/abc-defg-hij\nLearn more about Meet at: https://support.google.com/a/users/answer/9282720\n-::~:~::~:~:~:~:~:~:~:~:~::~:~::-",
            ),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            c(
                "agenda above the zoom block",
                "Agree the rollback plan for billing\n\nJoin Zoom Meeting\nhttps://zoom.us/j/1",
            ),
            Decision::Allow,
            vec![],
            None,
        ),
    ]);
    let (_, v) = run(&c("words", "Quick sync on billing"));
    assert_eq!(
        problem(&v, Agenda),
        &Problem::MissingAgenda {
            words: 1,
            needed: 4
        }
    );
}

// ---- min_notice ----------------------------------------------------------

#[test]
fn min_notice() {
    let p = rule("min_notice", "annotate", "hours = 24");
    // The meeting starts Tuesday 2026-02-03 14:00 UTC.
    let c = |name, now, sent_at| Case {
        now,
        sent_at,
        ..base(name, p.clone())
    };
    check_all(vec![
        (
            c("exactly 24 h from now", "2026-02-02T14:00:00Z", None),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c("one minute short", "2026-02-02T14:01:00Z", None),
            Decision::Annotate,
            vec![(MinNotice, A)],
            None,
        ),
        (
            c(
                "sent earlier than now: counted from sent_at",
                "2026-02-03T10:00:00Z",
                Some("2026-02-01T10:00:00Z"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "sent_at exactly at the boundary",
                "2026-02-03T10:00:00Z",
                Some("2026-02-02T14:00:00Z"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "sent late, judged later",
                "2026-02-03T10:00:00Z",
                Some("2026-02-03T09:00:00Z"),
            ),
            Decision::Annotate,
            vec![(MinNotice, A)],
            None,
        ),
        (
            c(
                "sent_at in the future: counted from now",
                "2026-02-02T12:00:00Z",
                Some("2026-02-03T00:00:00Z"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
    ]);
    let (_, v) = run(&c(
        "minutes",
        "2026-02-03T10:00:00Z",
        Some("2026-02-03T09:00:00Z"),
    ));
    assert_eq!(
        problem(&v, MinNotice),
        &Problem::ShortNotice {
            notice_minutes: 300,
            needed_hours: 24
        }
    );
    assert_eq!(
        problem(&v, MinNotice).message(),
        "it was sent 5 h before it starts; this team asks for 24 hours notice"
    );
    let (_, v) = run(&c("one minute", "2026-02-02T14:01:00Z", None));
    assert_eq!(
        problem(&v, MinNotice),
        &Problem::ShortNotice {
            notice_minutes: 23 * 60 + 59,
            needed_hours: 24
        }
    );
}

// ---- meeting_free_days ---------------------------------------------------

#[test]
fn meeting_free_days_in_the_members_own_zone() {
    let p = rule("meeting_free_days", "decline", "days = [\"wednesday\"]");
    let c = |name, member, start, end| Case {
        member,
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
            ("kenji@example.com", Required, NeedsAction),
        ],
        spans: vec![(start, end)],
        ..base(name, p.clone())
    };
    check_all(vec![
        (
            c(
                "Tue 23:30 UTC is Wednesday in Tokyo",
                "kenji@example.com",
                "2026-02-03T23:30:00Z",
                "2026-02-03T23:55:00Z",
            ),
            Decision::Decline,
            vec![(MeetingFreeDays, D)],
            None,
        ),
        (
            c(
                "Tue 23:30 UTC is still Tuesday in Lisbon",
                "ana@example.com",
                "2026-02-03T23:30:00Z",
                "2026-02-03T23:55:00Z",
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "ends exactly at midnight: does not touch Wednesday",
                "ana@example.com",
                "2026-02-03T23:00:00Z",
                "2026-02-04T00:00:00Z",
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "ends one minute into Wednesday",
                "ana@example.com",
                "2026-02-03T23:00:00Z",
                "2026-02-04T00:01:00Z",
            ),
            Decision::Decline,
            vec![(MeetingFreeDays, D)],
            None,
        ),
        (
            c(
                "Wed 16:00 UTC is Thursday 01:00 in Tokyo",
                "kenji@example.com",
                "2026-02-04T16:00:00Z",
                "2026-02-04T16:30:00Z",
            ),
            Decision::Allow,
            vec![],
            None,
        ),
    ]);
    let (_, v) = run(&c(
        "day",
        "kenji@example.com",
        "2026-02-03T23:30:00Z",
        "2026-02-03T23:55:00Z",
    ));
    assert_eq!(
        problem(&v, MeetingFreeDays),
        &Problem::MeetingFreeDay {
            day: Weekday::Wed,
            occurrences: 1,
            of: 1
        }
    );
}

// ---- max_duration, max_attendees -----------------------------------------

#[test]
fn max_duration() {
    let p = rule("max_duration", "annotate", "minutes = 60");
    let c = |name, end| Case {
        spans: vec![("2026-02-03T14:00:00Z", end)],
        ..base(name, p.clone())
    };
    check_all(vec![
        (
            c("60 min", "2026-02-03T15:00:00Z"),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c("61 min", "2026-02-03T15:01:00Z"),
            Decision::Annotate,
            vec![(MaxDuration, A)],
            None,
        ),
    ]);
    let (_, v) = run(&c("90 min", "2026-02-03T15:30:00Z"));
    assert_eq!(
        problem(&v, MaxDuration),
        &Problem::TooLong {
            minutes: 90,
            max: 60
        }
    );
    assert_eq!(
        problem(&v, MaxDuration).message(),
        "it lasts 1 h 30 min; this team keeps meetings to 1 h"
    );
}

#[test]
fn max_attendees_counts_people_not_rooms() {
    let p = rule("max_attendees", "decline", "count = 4");
    let four = vec![
        ("ana@example.com", Required, NeedsAction),
        ("bo@example.com", Required, NeedsAction),
        ("chitra@example.com", Optional, NeedsAction),
    ];
    let c = |name, organizer_listed: bool, rooms: Vec<&'static str>, extra: bool| {
        let mut attendees = four.clone();
        if organizer_listed {
            attendees.insert(0, ("pat@example.com", Required, Accepted));
        }
        if extra {
            attendees.push(("kenji@example.com", Required, NeedsAction));
        }
        Case {
            attendees,
            rooms,
            ..base(name, p.clone())
        }
    };
    check_all(vec![
        (
            c("organizer + 3", false, vec![], false),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "organizer also an attendee counts once",
                true,
                vec![],
                false,
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "rooms do not count",
                true,
                vec!["room-lisbon@example.com", "room-nyc@example.com"],
                false,
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c("five people", true, vec!["room-lisbon@example.com"], true),
            Decision::Decline,
            vec![(MaxAttendees, D)],
            None,
        ),
    ]);
    let (_, v) = run(&c("five", true, vec!["room-lisbon@example.com"], true));
    assert_eq!(
        problem(&v, MaxAttendees),
        &Problem::TooManyPeople { count: 5, max: 4 }
    );
}

// ---- working_hours ---------------------------------------------------------

fn wh() -> String {
    rule("working_hours", "annotate", "")
}

/// pat organizes, ana (the calendar's owner) is optional, `who` is required.
fn with(name: &'static str, who: &'static str, start: &'static str, end: &'static str) -> Case {
    Case {
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Optional, NeedsAction),
            (who, Required, NeedsAction),
        ],
        spans: vec![(start, end)],
        ..base(name, wh())
    }
}

#[test]
fn working_hours_only_judges_required_team_members() {
    let c = |name, chitra: (Role, PartStat), organizer| Case {
        organizer,
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
            ("bo@example.com", Required, Accepted),
            ("chitra@example.com", chitra.0, chitra.1),
            ("guest@client.io", Required, NeedsAction),
        ],
        // 14:00 UTC: Lisbon 14:00, New York 09:00, Kolkata 19:30.
        ..base(name, wh())
    };
    check_all(vec![
        (
            c(
                "required member outside",
                (Required, NeedsAction),
                Some("pat@example.com"),
            ),
            Decision::Annotate,
            vec![(WorkingHours, A)],
            None,
        ),
        (
            c(
                "chair counts as required",
                (Role::Chair, Accepted),
                Some("pat@example.com"),
            ),
            Decision::Annotate,
            vec![(WorkingHours, A)],
            None,
        ),
        (
            c(
                "optional does not count",
                (Optional, NeedsAction),
                Some("pat@example.com"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "declined does not count",
                (Required, Declined),
                Some("pat@example.com"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
        (
            c(
                "the organizer's own hours are not judged",
                (Required, Accepted),
                Some("chitra@example.com"),
            ),
            Decision::Allow,
            vec![],
            None,
        ),
    ]);
    let (_, v) = run(&c(
        "problem",
        (Required, NeedsAction),
        Some("pat@example.com"),
    ));
    assert_eq!(
        problem(&v, WorkingHours),
        &Problem::OutsideWorkingHours {
            attendee: "chitra@example.com".into(),
            local_start: NaiveDate::from_ymd_opt(2026, 2, 3)
                .unwrap()
                .and_hms_opt(19, 30, 0)
                .unwrap(),
            time_zone: chrono_tz::Asia::Kolkata,
            working_hours: "09:00–17:30 Mon–Fri".into(),
            occurrences: 1,
            of: 1,
        }
    );
    assert_eq!(
        problem(&v, WorkingHours).message(),
        "it is outside chitra@example.com's working hours (Tue 19:30 Asia/Kolkata; works 09:00–17:30 Mon–Fri)"
    );
}

#[test]
fn working_hours_across_midnight_half_hour_offsets_and_dst() {
    let nox = "nox@example.com";
    let chitra = "chitra@example.com";
    let bo = "bo@example.com";
    let ana = "ana@example.com";
    let ok = |c: Case| (c, Decision::Allow, vec![], None);
    let out = |c: Case| (c, Decision::Annotate, vec![(WorkingHours, A)], None);
    check_all(vec![
        // Night shift 22:00-06:00 Mon–Fri, Lisbon (UTC in February).
        ok(with(
            "night: Tue 23:00",
            nox,
            "2026-02-03T23:00:00Z",
            "2026-02-03T23:30:00Z",
        )),
        ok(with(
            "night: Wed 05:00 belongs to Tuesday's shift",
            nox,
            "2026-02-04T05:00:00Z",
            "2026-02-04T05:30:00Z",
        )),
        ok(with(
            "night: across midnight",
            nox,
            "2026-02-03T23:30:00Z",
            "2026-02-04T00:30:00Z",
        )),
        out(with(
            "night: Wed 07:00",
            nox,
            "2026-02-04T07:00:00Z",
            "2026-02-04T07:30:00Z",
        )),
        out(with(
            "night: 05:30-06:30 runs past the shift",
            nox,
            "2026-02-04T05:30:00Z",
            "2026-02-04T06:30:00Z",
        )),
        out(with(
            "night: Mon 05:00, no Sunday shift",
            nox,
            "2026-02-02T05:00:00Z",
            "2026-02-02T05:30:00Z",
        )),
        ok(with(
            "night: Sat 05:00 belongs to Friday's shift",
            nox,
            "2026-02-07T05:00:00Z",
            "2026-02-07T05:30:00Z",
        )),
        // Kolkata is UTC+05:30: 09:00 IST is 03:30 UTC.
        ok(with(
            "Kolkata 09:00 exactly",
            chitra,
            "2026-02-03T03:30:00Z",
            "2026-02-03T04:00:00Z",
        )),
        out(with(
            "Kolkata 08:59",
            chitra,
            "2026-02-03T03:29:00Z",
            "2026-02-03T04:00:00Z",
        )),
        ok(with(
            "Kolkata ends 17:30 exactly",
            chitra,
            "2026-02-03T11:30:00Z",
            "2026-02-03T12:00:00Z",
        )),
        // New York moved to EDT on 2026-03-08, Lisbon moves on 2026-03-29.
        ok(with(
            "DST gap week: 13:00 UTC is 09:00 in New York",
            bo,
            "2026-03-10T13:00:00Z",
            "2026-03-10T13:30:00Z",
        )),
        out(with(
            "week before: 13:00 UTC is 08:00 in New York",
            bo,
            "2026-03-03T13:00:00Z",
            "2026-03-03T13:30:00Z",
        )),
        out(with(
            "New York 16:30-17:30 EDT runs past 17:00",
            bo,
            "2026-03-27T20:30:00Z",
            "2026-03-27T21:30:00Z",
        )),
        ok(with(
            "Lisbon still on WET: 17:00 UTC is 17:00",
            ana,
            "2026-03-27T17:00:00Z",
            "2026-03-27T17:30:00Z",
        )),
        out(with(
            "Lisbon on WEST: 17:00 UTC is 18:00",
            ana,
            "2026-03-31T17:00:00Z",
            "2026-03-31T17:30:00Z",
        )),
    ]);

    let (_, v) = run(&with(
        "local start",
        bo,
        "2026-03-03T13:00:00Z",
        "2026-03-03T13:30:00Z",
    ));
    match problem(&v, WorkingHours) {
        Problem::OutsideWorkingHours {
            attendee,
            local_start,
            ..
        } => {
            assert_eq!(attendee, bo);
            assert_eq!(local_start.to_string(), "2026-03-03 08:00:00");
        }
        p => panic!("{p:?}"),
    }
}

// ---- series -------------------------------------------------------------

#[test]
fn series_findings_count_occurrences() {
    // Every weekday for two weeks at 14:00 UTC: two of ten are Wednesdays.
    let mut spans = Vec::new();
    for day in [2, 3, 4, 5, 6, 9, 10, 11, 12, 13] {
        let s: &'static str = format!("2026-02-{day:02}T14:00:00Z").leak();
        let e: &'static str = format!("2026-02-{day:02}T14:30:00Z").leak();
        spans.push((s, e));
    }
    let c = Case {
        spans,
        ..base(
            "daily",
            rule("meeting_free_days", "decline", "days = [\"wednesday\"]"),
        )
    };
    let v = check(&c, Decision::Decline, &[(MeetingFreeDays, D)], None);
    assert_eq!(
        problem(&v, MeetingFreeDays),
        &Problem::MeetingFreeDay {
            day: Weekday::Wed,
            occurrences: 2,
            of: 10
        }
    );
    assert_eq!(
        problem(&v, MeetingFreeDays).message(),
        "2 of the next 10 occurrences fall on Wednesday, a meeting-free day"
    );

    // Weekly at 13:00 UTC across New York's switch to EDT: only the first
    // occurrence (08:00 EST) is outside bo's hours.
    let c = Case {
        spans: vec![
            ("2026-03-03T13:00:00Z", "2026-03-03T13:30:00Z"),
            ("2026-03-10T13:00:00Z", "2026-03-10T13:30:00Z"),
            ("2026-03-17T13:00:00Z", "2026-03-17T13:30:00Z"),
            ("2026-03-24T13:00:00Z", "2026-03-24T13:30:00Z"),
        ],
        ..with("weekly", "bo@example.com", "", "")
    };
    let v = check(&c, Decision::Annotate, &[(WorkingHours, A)], None);
    assert_eq!(
        problem(&v, WorkingHours).message(),
        "1 of the next 4 occurrences are outside bo@example.com's working hours (e.g. Tue 08:00 America/New_York; works 09:00–17:00 Mon–Fri)"
    );
}

// ---- exceptions ------------------------------------------------------------

fn exceptions_policy(one_to_one: &str, external: &str) -> String {
    format!(
        "{}{}
[exceptions]
organizers = [\"ceo@example.com\"]
one_to_one = \"{one_to_one}\"
external_guests = \"{external}\"

[exceptions.urgent]
keyword = \"urgent\"
per_organizer_per_month = 2
",
        rule("agenda", "decline", "min_words = 4"),
        rule("max_duration", "annotate", "minutes = 60"),
    )
}

#[test]
fn exceptions() {
    let std = exceptions_policy("exempt", "never_decline");
    // No agenda: the agenda rule (decline) fires unless something exempts.
    let c = |name, policy: &String| Case {
        description: "",
        ..base(name, policy.clone())
    };
    let external = |name, policy: &String, guest: &'static str| Case {
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
            (guest, Required, NeedsAction),
        ],
        ..c(name, policy)
    };
    let one_to_one = |name, policy: &String| Case {
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
        ],
        rooms: vec!["room-lisbon@example.com"],
        ..c(name, policy)
    };
    check_all(vec![
        (
            c("no exception applies", &std),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            Case {
                organizer: Some("ceo@example.com"),
                ..c("always-allowed organizer", &std)
            },
            Decision::Allow,
            vec![(Agenda, D)],
            Some(Exemption::OrganizerAllowed),
        ),
        (
            Case {
                organizer: Some("ceo@example.com"),
                description: AGENDA,
                ..c("allowed organizer, nothing fired", &std)
            },
            Decision::Allow,
            vec![],
            None,
        ),
        (
            one_to_one("one-to-one exempt (a room is not a person)", &std),
            Decision::Allow,
            vec![(Agenda, D)],
            Some(Exemption::OneToOne),
        ),
        (
            one_to_one(
                "one-to-one screened",
                &exceptions_policy("screen", "never_decline"),
            ),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            external(
                "external guest, never_decline softens a decline",
                &std,
                "guest@client.io",
            ),
            Decision::Annotate,
            vec![(Agenda, A)],
            None,
        ),
        (
            external(
                "external guests exempt",
                &exceptions_policy("exempt", "exempt"),
                "guest@client.io",
            ),
            Decision::Allow,
            vec![(Agenda, D)],
            Some(Exemption::ExternalGuests),
        ),
        (
            external(
                "external guests screened",
                &exceptions_policy("exempt", "screen"),
                "guest@client.io",
            ),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            external(
                "a colleague at the team's domain is not external",
                &exceptions_policy("exempt", "exempt"),
                "ops@example.com",
            ),
            Decision::Decline,
            vec![(Agenda, D)],
            None,
        ),
        (
            Case {
                organizer: Some("guest@client.io"),
                attendees: vec![
                    ("guest@client.io", Required, Accepted),
                    ("ana@example.com", Required, NeedsAction),
                    ("bo@example.com", Required, NeedsAction),
                ],
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c(
                    "external organizer, decline and annotate both annotate",
                    &std,
                )
            },
            Decision::Annotate,
            vec![(Agenda, A), (MaxDuration, A)],
            None,
        ),
    ]);
}

#[test]
fn urgent_keyword() {
    let std = exceptions_policy("exempt", "never_decline");
    let c = |name, title, uses| Case {
        title,
        description: "",
        urgent_uses: uses,
        ..base(name, std.clone())
    };
    let cases = [
        (
            c("URGENT: first use", "URGENT: db failover plan", 0),
            Decision::Allow,
            Some(Exemption::Urgent {
                use_number: 1,
                limit: 2,
            }),
            true,
            false,
        ),
        (
            c("[urgent] last use", "[urgent] fix login", 1),
            Decision::Allow,
            Some(Exemption::Urgent {
                use_number: 2,
                limit: 2,
            }),
            true,
            false,
        ),
        (
            c("at the limit", "Urgent - db failover", 2),
            Decision::Decline,
            None,
            false,
            true,
        ),
        (
            c("not a whole word", "Urgently needed sync", 0),
            Decision::Decline,
            None,
            false,
            false,
        ),
        (
            c("no keyword", "Sync", 0),
            Decision::Decline,
            None,
            false,
            false,
        ),
    ];
    for (case, decision, exemption, uses_urgent, exhausted) in cases {
        let v = check(&case, decision, &[(Agenda, D)], exemption);
        assert_eq!(
            (v.uses_urgent, v.urgent_exhausted),
            (uses_urgent, exhausted),
            "case `{}`",
            case.name
        );
    }
}

// ---- observe, own event, all-day, past ---------------------------------------

#[test]
fn observe_and_early_exemptions() {
    let observe = format!(
        "{}{}",
        rule("agenda", "observe", "min_words = 4"),
        rule("max_duration", "annotate", "minutes = 60"),
    );
    let c = |name| Case {
        description: "",
        ..base(name, observe.clone())
    };
    check_all(vec![
        (
            c("observe fires but does not decide"),
            Decision::Allow,
            vec![(Agenda, O)],
            None,
        ),
        (
            Case {
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c("observe next to an annotate")
            },
            Decision::Annotate,
            vec![(Agenda, O), (MaxDuration, A)],
            None,
        ),
        (
            Case {
                organizer: Some("ana@example.com"),
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c("organized by the member")
            },
            Decision::Allow,
            vec![],
            Some(Exemption::OwnEvent),
        ),
        (
            Case {
                all_day: true,
                spans: vec![("2026-02-03T00:00:00Z", "2026-02-05T00:00:00Z")],
                ..c("all-day")
            },
            Decision::Allow,
            vec![],
            Some(Exemption::AllDay),
        ),
        (
            Case {
                now: "2026-02-03T15:30:00Z",
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c("ended exactly now")
            },
            Decision::Allow,
            vec![],
            Some(Exemption::Past),
        ),
        (
            Case {
                now: "2026-03-01T00:00:00Z",
                spans: vec![
                    ("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z"),
                    ("2026-02-10T14:00:00Z", "2026-02-10T15:30:00Z"),
                ],
                ..c("series wholly in the past")
            },
            Decision::Allow,
            vec![],
            Some(Exemption::Past),
        ),
        (
            Case {
                now: "2026-02-03T14:15:00Z",
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c("still running")
            },
            Decision::Annotate,
            vec![(Agenda, O), (MaxDuration, A)],
            None,
        ),
        (
            Case {
                member: "zoe@example.com",
                spans: vec![("2026-02-03T14:00:00Z", "2026-02-03T15:30:00Z")],
                ..c("calendar owner not in the policy")
            },
            Decision::Allow,
            vec![],
            Some(Exemption::NotAMember),
        ),
    ]);
}

// ---- the comment -------------------------------------------------------------

fn two_reasons(template: &str) -> Case {
    let mut p = format!(
        "{}{}",
        rule("agenda", "decline", "min_words = 4"),
        rule("meeting_free_days", "decline", "days = [\"wednesday\"]"),
    );
    p.push_str("[exceptions.urgent]\nkeyword = \"urgent\"\nper_organizer_per_month = 2\n");
    if !template.is_empty() {
        p.push_str(&format!("[comment]\ntemplate = '''{template}'''\n"));
    }
    Case {
        title: "Roadmap shuffle",
        description: "sync",
        spans: vec![("2026-02-04T14:00:00Z", "2026-02-04T14:30:00Z")],
        ..base("comment", p)
    }
}

fn comment(c: &Case, private: bool) -> String {
    let (b, v) = run(c);
    assert_eq!(v.decision, Decision::Decline);
    v.comment(&invite(c, &b), &b.policy, c.member, private)
        .expect("a comment for a decline")
}

#[test]
fn comment_with_the_default_template() {
    let c = two_reasons("");
    let text = comment(&c, false);
    assert_eq!(text.lines().filter(|l| l.starts_with("- ")).count(), 2);
    insta::assert_snapshot!(text);
}

const CUSTOM: &str = "Hi {organizer}, {member} {response} \"{title}\" ({team} team).
{reasons}
Mark it {urgent_keyword} if it cannot wait.";

#[test]
fn comment_with_a_custom_template() {
    let c = two_reasons(CUSTOM);
    let text = comment(&c, false);
    assert!(
        text.starts_with(
            "Hi pat@example.com, ana@example.com declined \"Roadmap shuffle\" (platform team)."
        ),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_private_title_never_reaches_the_comment() {
    let c = two_reasons(CUSTOM);
    let text = comment(&c, true);
    assert!(!text.contains("Roadmap"), "{text}");
    assert!(text.contains("\"(private event)\""), "{text}");
    // The default template has no {title}; it must not leak it either.
    let c = two_reasons("");
    assert!(!comment(&c, true).contains("Roadmap"));
}

#[test]
fn comment_when_the_urgent_allowance_is_spent() {
    let mut c = two_reasons("");
    c.title = "URGENT roadmap shuffle";
    c.urgent_uses = 2;
    let text = comment(&c, false);
    assert!(
        text.contains("\n- the organizer has used this month's 2 `urgent` exceptions\n"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn no_comment_for_an_allow_and_tentative_wording_for_annotate() {
    let c = base("allow", rule("agenda", "decline", "min_words = 4"));
    let (b, v) = run(&c);
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.comment(&invite(&c, &b), &b.policy, c.member, false), None);

    let c = Case {
        description: "",
        ..base("annotate", rule("agenda", "annotate", "min_words = 4"))
    };
    let (b, v) = run(&c);
    let text = v
        .comment(&invite(&c, &b), &b.policy, c.member, false)
        .unwrap();
    assert!(
        text.starts_with("gatekeeper tentatively accepted this invite for ana@example.com under the platform team's meeting policy."),
        "{text}"
    );
    assert!(
        text.contains("- the invite has no agenda: add a description"),
        "{text}"
    );
}

// ---- one definition of inside working hours (issue 9) ------------------

/// Members whose hours meet DST nights and midnight: Berlin changes clocks
/// at 01:00 UTC (29 Mar 2026 02:00 CET → 03:00 CEST; 25 Oct 2026 03:00
/// CEST → 02:00 CET), New York at 07:00 UTC on 8 Mar and 06:00 UTC on
/// 1 Nov 2026.
const NIGHTS: &str = r#"
[[member]]
email = "shift@example.com"
time_zone = "Europe/Berlin"
working_hours = "22:00-02:30"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[member]]
email = "late@example.com"
time_zone = "Europe/Berlin"
working_hours = "22:00-02:00"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[member]]
email = "round@example.com"
time_zone = "Europe/Lisbon"
working_hours = "00:00-24:00"

[[member]]
email = "ny@example.com"
time_zone = "America/New_York"
working_hours = "22:00-06:00"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"#;

fn night(name: &'static str, who: &'static str, start: &'static str, end: &'static str) -> Case {
    Case {
        policy: format!("{NIGHTS}\n{}", wh()),
        ..with(name, who, start, end)
    }
}

#[test]
fn working_hours_read_minute_by_minute_on_dst_nights_and_at_midnight() {
    let ok = |c: Case| (c, Decision::Allow, vec![], None);
    let out = |c: Case| (c, Decision::Annotate, vec![(WorkingHours, A)], None);
    let (shift, late, round, ny) = (
        "shift@example.com",
        "late@example.com",
        "round@example.com",
        "ny@example.com",
    );
    check_all(vec![
        // Fall back in Berlin: 22:00 CEST to 02:15 CET (the second 02:15)
        // lives through 02:30–02:59 CEST, after the 02:30 end of the shift,
        // although both ends read inside it.
        out(night(
            "fall back: runs past the shift's end in the first 02:xx hour",
            shift,
            "2026-10-24T20:00:00Z",
            "2026-10-25T01:15:00Z",
        )),
        ok(night(
            "fall back: ends 02:15 CEST, before the repeated hour",
            shift,
            "2026-10-24T20:00:00Z",
            "2026-10-25T00:15:00Z",
        )),
        // Spring forward in Berlin: ending at 01:00Z is ending at the jump
        // (02:00 CET = 03:00 CEST): every minute lived is inside 22:00-02:00.
        ok(night(
            "spring forward: ends exactly at the jump",
            late,
            "2026-03-28T21:00:00Z",
            "2026-03-29T01:00:00Z",
        )),
        out(night(
            "spring forward: runs a quarter hour past the jump",
            late,
            "2026-03-28T21:00:00Z",
            "2026-03-29T01:15:00Z",
        )),
        // New York night shift 22:00-06:00 on its DST nights.
        ok(night(
            "NY fall back: 22:00 EDT to 06:00 EST, nine hours",
            ny,
            "2026-11-01T02:00:00Z",
            "2026-11-01T11:00:00Z",
        )),
        out(night(
            "NY fall back: to 06:15 EST",
            ny,
            "2026-11-01T02:00:00Z",
            "2026-11-01T11:15:00Z",
        )),
        ok(night(
            "NY spring forward: 22:00 EST to 06:00 EDT, seven hours",
            ny,
            "2026-03-08T03:00:00Z",
            "2026-03-08T10:00:00Z",
        )),
        out(night(
            "NY spring forward: to 06:30 EDT",
            ny,
            "2026-03-08T03:00:00Z",
            "2026-03-08T10:30:00Z",
        )),
        // 00:00-24:00 on back-to-back working days: midnight is no gap.
        ok(night(
            "00:00-24:00: Mon 23:00 to Tue 01:00",
            round,
            "2026-02-02T23:00:00Z",
            "2026-02-03T01:00:00Z",
        )),
        ok(night(
            "00:00-24:00: Mon 00:00 to Sat 00:00, the whole working week",
            round,
            "2026-02-02T00:00:00Z",
            "2026-02-07T00:00:00Z",
        )),
        out(night(
            "00:00-24:00: Fri 23:00 to Sat 01:00",
            round,
            "2026-02-06T23:00:00Z",
            "2026-02-07T01:00:00Z",
        )),
        out(night(
            "00:00-24:00: Sun 23:00 to Mon 01:00",
            round,
            "2026-02-08T23:00:00Z",
            "2026-02-09T01:00:00Z",
        )),
    ]);
    let (_, v) = run(&night(
        "24:00 in the message",
        round,
        "2026-02-06T23:00:00Z",
        "2026-02-07T01:00:00Z",
    ));
    assert_eq!(
        problem(&v, WorkingHours).message(),
        "it is outside round@example.com's working hours (Fri 23:00 Europe/Lisbon; works 00:00–24:00 Mon–Fri)"
    );
}

#[test]
fn a_meeting_of_any_length_is_judged_on_its_first_days() {
    // Runs from Tue 3 Feb 14:00 UTC until the year 3026 (DTEND 3026...):
    // judged on its first 7 days, and the verdict and comment say so.
    let policy = format!(
        "{}\n[fairness]\n\n{}",
        wh(),
        rule("outside_hours_budget", "decline", "minutes_per_week = 60")
    );
    let c = Case {
        spans: vec![("2026-02-03T14:00:00Z", "3026-02-03T14:00:00Z")],
        now: "2026-02-01T12:00:00Z",
        ..base("a thousand years", policy)
    };
    let v = check(
        &c,
        Decision::Decline,
        &[(WorkingHours, A), (OutsideHoursBudget, D)],
        None,
    );
    assert_eq!(v.judged_first_days, Some(7));
    match problem(&v, OutsideHoursBudget) {
        // One week of a Mon–Fri 09:00–17:30 member: 7 × 24 h minus five
        // working days of 8.5 h.
        Problem::OverBudget { adds, .. } => assert_eq!(*adds, 7 * 1440 - 5 * 510),
        p => panic!("{p:?}"),
    }
    // Suggestions are still offered, for the whole meeting's length.
    assert!(!v.suggestions.is_empty(), "{v:#?}");
    let text = comment(&c, false);
    assert!(
        text.contains("it lasts more than 7 days: gatekeeper judged its time against working hours on its first 7 days only"),
        "{text}"
    );
    // A meeting inside the horizon carries no note.
    let (_, v) = run(&base("an hour", wh()));
    assert_eq!(v.judged_first_days, None);
}

/// How roles count (README, "What each rule looks at"): CHAIR is required;
/// NON-PARTICIPANT is copied for information and never judged nor burdened,
/// even when the policy counts optional attendees.
#[test]
fn chair_counts_as_required_and_non_participants_never_count() {
    let policy = format!(
        "[fairness]\ncount_optional = true\n\n{}\n{}",
        wh(),
        rule("outside_hours_budget", "decline", "minutes_per_week = 1")
    );
    // 14:00 UTC is 19:30 in Kolkata, outside chitra's hours.
    let c = |name, role| Case {
        attendees: vec![
            ("pat@example.com", Required, Accepted),
            ("ana@example.com", Required, NeedsAction),
            ("chitra@example.com", role, NeedsAction),
        ],
        now: "2026-02-01T12:00:00Z",
        ..base(name, policy.clone())
    };
    check_all(vec![
        (
            c("chair", Role::Chair),
            Decision::Decline,
            vec![(WorkingHours, A), (OutsideHoursBudget, D)],
            None,
        ),
        (
            c("optional, counted by the policy", Optional),
            Decision::Decline,
            vec![(OutsideHoursBudget, D)],
            None,
        ),
        (
            c("non-participant", Role::NonParticipant),
            Decision::Allow,
            vec![],
            None,
        ),
    ]);
}
