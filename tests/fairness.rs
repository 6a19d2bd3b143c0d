//! Time-zone fairness, table-driven against chrono-tz: what a meeting costs
//! each attendee (DST weeks, half- and quarter-hour zones, the date line,
//! working hours across midnight, a meeting across a DST change), the
//! fairness figures, the rules, the policy lint, and `gatekeeper suggest`.
//!
//! Default curve throughout: 2 shoulder hours either side of the working
//! window at 1 per minute, a non-working day's daytime at 2, the night at 3.

mod common;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::fairness::{
    Burden, BurdenSnapshot, Curve, Grid, Profile, Search, SearchAttendee, figures, score,
};
use gatekeeper::policy::evaluate::within_working_hours;
use gatekeeper::policy::model::{WeekdaySet, WorkingHours};
use gatekeeper::policy::{
    Context, Decision, Invite, Problem, RuleKind, Span, evaluate, parse_policy,
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn hours(spec: &str, days: &[chrono::Weekday]) -> WorkingHours {
    let (a, b) = spec.split_once('-').unwrap();
    let mut set = WeekdaySet::default();
    for d in days {
        set.insert(*d);
    }
    WorkingHours {
        start: NaiveTime::parse_from_str(a, "%H:%M").unwrap(),
        end: NaiveTime::parse_from_str(b, "%H:%M").unwrap(),
        days: set,
    }
}

use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
const WORKWEEK: &[chrono::Weekday] = &[Mon, Tue, Wed, Thu, Fri];
const EVERY_DAY: &[chrono::Weekday] = &[Mon, Tue, Wed, Thu, Fri, Sat, Sun];

/// (case, zone, working hours, working days, start UTC, minutes,
///  expected inconvenience, expected minutes outside hours)
type CostRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [chrono::Weekday],
    &'static str,
    i64,
    u32,
    u32,
);

fn check_costs(rows: &[CostRow]) {
    let curve = Curve::default();
    for (name, zone, spec, days, start, minutes, want_cost, want_out) in rows {
        let tz: Tz = zone.parse().unwrap();
        let h = hours(spec, days);
        let profile = Profile::new(&h, curve.shoulder_minutes);
        let s = t(start);
        let e = s + Duration::minutes(*minutes);
        let got = score(s, e, tz, &profile, &curve);
        assert_eq!(
            (got.inconvenience, got.outside_minutes),
            (*want_cost, *want_out),
            "case `{name}`"
        );
        // One definition of inside working hours: the rule's reading
        // agrees with the curve's minutes outside hours, both ways.
        assert_eq!(
            within_working_hours(&Span { start: s, end: e }, tz, &h),
            *want_out == 0,
            "case `{name}`: the working_hours rule disagrees"
        );
    }
}

#[test]
fn spring_weeks_when_only_one_side_of_the_atlantic_has_changed_clocks() {
    // 2026: the US springs forward on 8 March, the EU on 29 March.
    check_costs(&[
        // 3 Mar: New York on EST (−5): 13:00Z is 08:00–09:00, all shoulder.
        (
            "ny before US change",
            "America/New_York",
            "09:00-17:00",
            WORKWEEK,
            "2026-03-03T13:00:00Z",
            60,
            60,
            60,
        ),
        // 10 Mar: EDT (−4): 09:00–10:00, in hours.
        (
            "ny after US change",
            "America/New_York",
            "09:00-17:00",
            WORKWEEK,
            "2026-03-10T13:00:00Z",
            60,
            0,
            0,
        ),
        // 10 Mar: Berlin still CET (+1): 14:00–15:00.
        (
            "berlin in the gap weeks",
            "Europe/Berlin",
            "09:00-17:00",
            WORKWEEK,
            "2026-03-10T13:00:00Z",
            60,
            0,
            0,
        ),
        // 24 Mar 15:30Z: CET 16:30–17:30, the last 30 min in the shoulder.
        (
            "berlin before EU change",
            "Europe/Berlin",
            "09:00-17:00",
            WORKWEEK,
            "2026-03-24T15:30:00Z",
            60,
            30,
            30,
        ),
        // 31 Mar 15:30Z: CEST (+2) 17:30–18:30, all shoulder.
        (
            "berlin after EU change",
            "Europe/Berlin",
            "09:00-17:00",
            WORKWEEK,
            "2026-03-31T15:30:00Z",
            60,
            60,
            60,
        ),
    ]);
}

#[test]
fn autumn_weeks_when_only_one_side_has_changed_clocks() {
    // 2026: the EU falls back on 25 October, the US on 1 November.
    check_costs(&[
        // 27 Oct 12:30Z: New York still EDT (−4): 08:30–09:30, 30 shoulder.
        (
            "ny in the gap week",
            "America/New_York",
            "09:00-17:00",
            WORKWEEK,
            "2026-10-27T12:30:00Z",
            60,
            30,
            30,
        ),
        // 3 Nov 12:30Z: EST (−5): 07:30–08:30, all shoulder.
        (
            "ny after US change",
            "America/New_York",
            "09:00-17:00",
            WORKWEEK,
            "2026-11-03T12:30:00Z",
            60,
            60,
            60,
        ),
        // 20 Oct 16:30Z: London BST (+1): 17:30–18:30, all shoulder.
        (
            "london before EU change",
            "Europe/London",
            "09:00-17:00",
            WORKWEEK,
            "2026-10-20T16:30:00Z",
            60,
            60,
            60,
        ),
        // 27 Oct 16:30Z: GMT: 16:30–17:30, half in hours.
        (
            "london after EU change",
            "Europe/London",
            "09:00-17:00",
            WORKWEEK,
            "2026-10-27T16:30:00Z",
            60,
            30,
            30,
        ),
    ]);
}

#[test]
fn half_and_quarter_hour_offsets() {
    check_costs(&[
        // Kolkata +05:30: 03:00Z is 08:30–09:30 IST; hours 09:00–17:30.
        (
            "kolkata morning",
            "Asia/Kolkata",
            "09:00-17:30",
            WORKWEEK,
            "2026-02-03T03:00:00Z",
            60,
            30,
            30,
        ),
        // 12:00Z is 17:30–18:30 IST: all shoulder.
        (
            "kolkata evening",
            "Asia/Kolkata",
            "09:00-17:30",
            WORKWEEK,
            "2026-02-03T12:00:00Z",
            60,
            60,
            60,
        ),
        // Kathmandu +05:45: 04:00Z is 09:45–10:45; hours from 10:00.
        (
            "kathmandu",
            "Asia/Kathmandu",
            "10:00-18:00",
            WORKWEEK,
            "2026-02-03T04:00:00Z",
            60,
            15,
            15,
        ),
        // Adelaide ACDT +10:30 in February: Mon 22:00Z is Tue 08:30–09:30.
        (
            "adelaide summer",
            "Australia/Adelaide",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-02T22:00:00Z",
            60,
            30,
            30,
        ),
        // ACST +09:30 in July: Tue 07:30–08:30.
        (
            "adelaide winter",
            "Australia/Adelaide",
            "09:00-17:00",
            WORKWEEK,
            "2026-07-06T22:00:00Z",
            60,
            60,
            60,
        ),
        // Lord Howe +11 in summer: Tue 09:00–10:00.
        (
            "lord howe summer",
            "Australia/Lord_Howe",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-02T22:00:00Z",
            60,
            0,
            0,
        ),
        // +10:30 in winter (a half-hour DST): Tue 08:30–09:30.
        (
            "lord howe winter",
            "Australia/Lord_Howe",
            "09:00-17:00",
            WORKWEEK,
            "2026-07-06T22:00:00Z",
            60,
            30,
            30,
        ),
        // Lord Howe's clocks go back half an hour at 02:00 on Sun 5 Apr
        // (15:00Z on the 4th). 14:30–15:30Z is 01:30–02:00 twice, a
        // Sunday night: 60 real minutes at 3.
        (
            "lord howe across its half-hour change",
            "Australia/Lord_Howe",
            "09:00-17:00",
            WORKWEEK,
            "2026-04-04T14:30:00Z",
            60,
            180,
            60,
        ),
    ]);
}

#[test]
fn across_the_date_line() {
    check_costs(&[
        // Tue 19:00Z: Kiritimati (+14) Wed 09:00, Apia (+13) Wed 08:00,
        // Honolulu (−10) Tue 09:00.
        (
            "kiritimati",
            "Pacific/Kiritimati",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-03T19:00:00Z",
            60,
            0,
            0,
        ),
        (
            "apia",
            "Pacific/Apia",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-03T19:00:00Z",
            60,
            60,
            60,
        ),
        (
            "honolulu",
            "Pacific/Honolulu",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-03T19:00:00Z",
            60,
            0,
            0,
        ),
        // Fri 19:00Z is already Saturday 09:00 in Kiritimati: a non-working
        // day's daytime, 2 per minute; Honolulu is at work on Friday.
        (
            "kiritimati saturday",
            "Pacific/Kiritimati",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-06T19:00:00Z",
            60,
            120,
            60,
        ),
        (
            "honolulu friday",
            "Pacific/Honolulu",
            "09:00-17:00",
            WORKWEEK,
            "2026-02-06T19:00:00Z",
            60,
            0,
            0,
        ),
    ]);
}

#[test]
fn working_hours_that_cross_midnight() {
    // Lisbon is on UTC in February. A 22:00–06:00 shift belongs to the day
    // it starts: Friday's runs into Saturday morning.
    check_costs(&[
        (
            "friday's shift on saturday",
            "Europe/Lisbon",
            "22:00-06:00",
            WORKWEEK,
            "2026-02-07T02:00:00Z",
            60,
            0,
            0,
        ),
        // Sat 06:30–07:30: after Friday's shift, shoulder.
        (
            "after the last shift",
            "Europe/Lisbon",
            "22:00-06:00",
            WORKWEEK,
            "2026-02-07T06:30:00Z",
            60,
            60,
            60,
        ),
        // Mon 02:00: Sunday's shift would be here, but Sunday is off: 2.
        (
            "sunday's shift that does not exist",
            "Europe/Lisbon",
            "22:00-06:00",
            WORKWEEK,
            "2026-02-02T02:00:00Z",
            60,
            120,
            60,
        ),
        // Tue 12:00: the middle of this worker's night: 3.
        (
            "midday is their night",
            "Europe/Lisbon",
            "22:00-06:00",
            WORKWEEK,
            "2026-02-03T12:00:00Z",
            60,
            180,
            60,
        ),
        // Tue 21:30–22:30: half shoulder, half at work.
        (
            "into the shift",
            "Europe/Lisbon",
            "22:00-06:00",
            WORKWEEK,
            "2026-02-03T21:30:00Z",
            60,
            30,
            30,
        ),
    ]);
}

#[test]
fn meetings_that_span_a_dst_change() {
    check_costs(&[
        // New York springs forward on Sun 8 Mar 2026 at 07:00Z (02:00 EST
        // becomes 03:00 EDT). 06:30–07:30Z is 01:30–02:00 EST then
        // 03:00–03:30 EDT: 60 real minutes. Hours 02:30–10:00 every day:
        // 30 min of shoulder, then 30 in hours. Reading the wall clock
        // 01:30–02:30 would say 60.
        (
            "spring forward",
            "America/New_York",
            "02:30-10:00",
            EVERY_DAY,
            "2026-03-08T06:30:00Z",
            60,
            30,
            30,
        ),
        // Falls back on Sun 1 Nov at 06:00Z (02:00 EDT becomes 01:00 EST).
        // 05:00–07:00Z is 01:00–02:00 EDT then 01:00–02:00 EST. Hours
        // 01:30–09:00: 01:00–01:30 is shoulder both times: 60 in all.
        (
            "fall back",
            "America/New_York",
            "01:30-09:00",
            EVERY_DAY,
            "2026-11-01T05:00:00Z",
            120,
            60,
            60,
        ),
    ]);
}

#[test]
fn figures_are_defined_for_no_burden_and_match_hand_computation() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-3;
    // (burdens, mean, worst/mean, index, gini)
    let rows: &[(&[u32], f64, f64, f64, f64)] = &[
        (&[], 0.0, 1.0, 1.0, 0.0),
        (&[0, 0, 0], 0.0, 1.0, 1.0, 0.0),
        (&[100, 100], 100.0, 1.0, 1.0, 0.0),
        // mean 75, σ = √16875 ≈ 129.904: index 1 − 1.732; Gini 2−5/4.
        (&[0, 0, 0, 300], 75.0, 4.0, -0.732, 0.75),
        // mean 2, σ = √(2/3) ≈ 0.8165: index 1 − 0.408 ≈ 0.5918; Gini
        // 28/18 − 4/3 ≈ 0.2222.
        (&[1, 2, 3], 2.0, 1.5, 0.5918, 0.2222),
    ];
    for (burdens, mean, worst, index, gini) in rows {
        let names: Vec<String> = (0..burdens.len()).map(|i| format!("m{i}@x.com")).collect();
        let f = figures(
            names
                .iter()
                .map(|n| n.as_str())
                .zip(burdens.iter().copied()),
        );
        assert!(
            close(f.mean, *mean)
                && close(f.worst_to_mean, *worst)
                && close(f.index, *index)
                && close(f.gini, *gini),
            "{burdens:?}: {f:?}"
        );
        let shares: f64 = f.members.iter().map(|s| s.share).sum();
        assert!(f.total == 0 || close(shares, 1.0));
    }
}

#[test]
fn slot_search_across_the_date_line_finds_everyones_hours() {
    // Hours 09:00–17:00 Mon–Fri in all three zones. Everyone is at work
    // from 20:00Z (Honolulu 10:00, Apia 09:00 next day, Kiritimati 10:00
    // next day) to 03:00Z, on UTC Monday to Thursday evenings.
    let curve = Curve::default();
    let h = hours("09:00-17:00", WORKWEEK);
    let people: Vec<SearchAttendee> = ["Pacific/Kiritimati", "Pacific/Apia", "Pacific/Honolulu"]
        .iter()
        .map(|z| SearchAttendee {
            email: format!("{}@x.com", z.rsplit('/').next().unwrap().to_lowercase()),
            tz: z.parse().unwrap(),
            profile: Profile::new(&h, curve.shoulder_minutes),
            meeting_free: WeekdaySet::default(),
        })
        .collect();
    let busy = [gatekeeper::fairness::BusyTime {
        member: "apia@x.com".into(),
        span: Span {
            start: t("2026-02-02T20:00:00Z"),
            end: t("2026-02-02T21:00:00Z"),
        },
    }];
    let grid = Grid::new(Search {
        attendees: &people,
        curve: &curve,
        from: t("2026-02-02T00:00:00Z"),
        until: t("2026-02-09T00:00:00Z"),
        duration: Duration::minutes(30),
        busy: &busy,
    });
    let slots = grid.suggest(3, None);
    let starts: Vec<String> = slots.iter().map(|s| s.start.to_rfc3339()).collect();
    // Apia is busy 20:00–21:00Z on Monday: the first free slot is 21:00Z.
    // Each later pick is on another UTC day: Tue 00:00Z is Mon 14:00 in
    // Honolulu and Tue 13:00/14:00 across the line.
    assert_eq!(
        starts,
        [
            "2026-02-02T21:00:00+00:00",
            "2026-02-03T00:00:00+00:00",
            "2026-02-04T00:00:00+00:00"
        ]
    );
    assert!(slots.iter().all(|s| s.in_hours && s.worst == 0));
    let first = &slots[0];
    let local: Vec<String> = first
        .attendees
        .iter()
        .map(|a| a.local_start.format("%a %H:%M").to_string())
        .collect();
    assert_eq!(local, ["Tue 11:00", "Tue 10:00", "Mon 11:00"]);
}

const TEAM: &str = r#"
[team]
name = "globe"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:00"

[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"

[[member]]
email = "chen@example.com"
time_zone = "Asia/Singapore"
working_hours = "09:00-17:00"
"#;

fn people(emails: &[&str]) -> Vec<Attendee> {
    emails
        .iter()
        .map(|e| Attendee {
            email: e.to_string(),
            name: None,
            role: Role::Required,
            partstat: PartStat::NeedsAction,
            is_resource: false,
        })
        .collect()
}

fn weekly(first: &str, minutes: i64, n: i64) -> Vec<Span> {
    (0..n)
        .map(|i| {
            let s = t(first) + Duration::weeks(i);
            Span {
                start: s,
                end: s + Duration::minutes(minutes),
            }
        })
        .collect()
}

#[test]
fn fairness_rules_fire_with_their_figures_and_suggest_times() {
    let text = format!(
        "{TEAM}\n[fairness]\nwindow_weeks = 4\n\n[[rule]]\nkind = \"outside_hours_budget\"\naction = \"decline\"\nminutes_per_week = 60\n\n[[rule]]\nkind = \"burden_cap\"\naction = \"annotate\"\nratio = 1.3\n\n[[rule]]\nkind = \"series_rotation\"\naction = \"annotate\"\nmax_share = 0.5\n"
    );
    let (policy, d) = parse_policy(&text, "globe.toml");
    let policy = policy.unwrap_or_else(|| panic!("{d:#?}"));
    let attendees = people(&["ana@example.com", "bo@example.com", "chen@example.com"]);
    let now = t("2026-02-02T00:00:00Z");

    // Tue 3 Feb 14:00–15:00Z: Lisbon 14:00, New York 09:00, Singapore
    // 22:00 (60 min outside, night: 180). chen already has 200 minutes
    // outside hours in the window: 200 + 60 > 60 × 4.
    let single = weekly("2026-02-03T14:00:00Z", 60, 1);
    let invite = Invite {
        title: "Roadmap",
        description: "Decide the roadmap for the next quarter together",
        organizer: Some("ana@example.com"),
        attendees: &attendees,
        occurrences: &single,
        sent_at: None,
        all_day: false,
        categories: &[],
    };
    let totals = [
        (
            "chen@example.com".to_string(),
            Burden {
                inconvenience: 600,
                outside_minutes: 200,
            },
        ),
        (
            "bo@example.com".to_string(),
            Burden {
                inconvenience: 60,
                outside_minutes: 60,
            },
        ),
    ]
    .into_iter()
    .collect();
    let snapshot = BurdenSnapshot::for_policy(&policy, now, &totals);
    assert!((snapshot.mean - 220.0).abs() < 1e-9);
    let v = evaluate(
        &invite,
        &policy,
        &Context::new(now, "bo@example.com").with_burden(&snapshot),
    );
    let fired: Vec<RuleKind> = v.findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        fired,
        [RuleKind::OutsideHoursBudget, RuleKind::BurdenCap],
        "{v:#?}"
    );
    assert_eq!(
        v.findings[0].problem,
        Problem::OverBudget {
            attendee: "chen@example.com".into(),
            adds: 60,
            so_far: 200,
            minutes_per_week: 60,
            weeks: 4
        }
    );
    assert_eq!(v.decision, Decision::Decline);
    assert_eq!(v.suggestions.len(), 3);
    // No time puts all of Lisbon, New York and Singapore inside 09–17, so
    // the best slots are the ones with the smallest worst inconvenience.
    // Every hour of the day is someone's night (Lisbon 09–17Z, New York
    // 14–22Z, Singapore 01–09Z, two shoulder hours each), so the best a
    // slot can do is one person's night hour (180) with the others at
    // work: worst 180, total 180, never the proposed time itself.
    assert!(
        v.suggestions
            .iter()
            .all(|s| s.worst == 180 && s.total == 180 && s.start != single[0].start),
        "{:#?}",
        v.suggestions
    );
    let comment = v
        .comment(&invite, &policy, "bo@example.com", false)
        .unwrap();
    assert!(
        comment.contains("Times that would be fairer (UTC, then local times):"),
        "{comment}"
    );
    assert!(
        comment.contains("Lisbon") && comment.contains("Singapore"),
        "{comment}"
    );

    // Without a burden snapshot, one hour is within the 240-minute budget
    // and burden_cap has nothing to compare with: allowed, no suggestions.
    let v = evaluate(&invite, &policy, &Context::new(now, "bo@example.com"));
    assert_eq!(
        (v.decision, v.findings.len(), v.suggestions.len()),
        (Decision::Allow, 0, 0)
    );

    // A weekly series at the same time, 4 occurrences: chen is outside
    // hours in 4 of 4 > 50%: a rotation is proposed in which nobody is
    // outside in more than 1 of 2 (or of 3) times.
    let series = weekly("2026-02-03T14:00:00Z", 60, 4);
    let invite = Invite {
        occurrences: &series,
        ..invite
    };
    let v = evaluate(&invite, &policy, &Context::new(now, "bo@example.com"));
    let rotation = v
        .findings
        .iter()
        .find(|f| f.rule == RuleKind::SeriesRotation)
        .expect("rotation finding");
    assert_eq!(
        rotation.problem,
        Problem::NeedsRotation {
            attendee: "chen@example.com".into(),
            occurrences: 4,
            of: 4,
            max_share_percent: 50
        }
    );
    let times = v.rotation.as_ref().expect("a rotation");
    assert!((2..=3).contains(&times.len()));
    for email in ["ana@example.com", "bo@example.com", "chen@example.com"] {
        let outside = times
            .iter()
            .filter(|s| {
                s.attendees
                    .iter()
                    .any(|a| a.email == email && a.outside_minutes > 0)
            })
            .count();
        assert!(
            outside * 2 <= times.len(),
            "{email} outside in {outside} of {}",
            times.len()
        );
    }
}

#[test]
fn fairness_lint_reports_every_problem_in_one_pass() {
    let text = format!(
        "{TEAM}\n[fairness]\nwindow_weeks = 0\nshoulder_hour = 2\nnight_weight = \"high\"\ncount_optional = \"yes\"\n\n[[rule]]\nkind = \"burden_caps\"\naction = \"annotate\"\n\n[[rule]]\nkind = \"burden_cap\"\naction = \"annotate\"\nratio = 0.5\n\n[[rule]]\nkind = \"series_rotation\"\naction = \"annotate\"\nmax_share = 1.0\n\n[[rule]]\nkind = \"outside_hours_budget\"\naction = \"decline\"\nminutes_per_week = 0\n"
    );
    let (policy, diags) = parse_policy(&text, "globe.toml");
    assert!(policy.is_none());
    let got: Vec<(String, String, Option<String>)> = diags
        .iter()
        .map(|d| (d.code.to_string(), d.message.clone(), d.help.clone()))
        .collect();
    let want = [
        (
            "impossible-value",
            "`window_weeks` must be between 1 and 52",
            None,
        ),
        (
            "unknown-key",
            "unknown key `shoulder_hour` in `[fairness]`",
            Some("did you mean `shoulder_hours`?"),
        ),
        ("wrong-type", "`night_weight` must be a whole number", None),
        (
            "wrong-type",
            "`count_optional` must be `true` or `false`",
            None,
        ),
        (
            "unknown-rule",
            "unknown rule kind `burden_caps`",
            Some("did you mean `burden_cap`?"),
        ),
        ("impossible-value", "`ratio` must be between 1 and 10", None),
        (
            "impossible-value",
            "`max_share` must be between 0.1 and 0.9",
            None,
        ),
        (
            "impossible-value",
            "`minutes_per_week` must be between 1 and 10080",
            None,
        ),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((code, msg, help), (wc, wm, wh)) in got.iter().zip(want) {
        assert_eq!((code.as_str(), msg.as_str()), (wc, wm), "{got:#?}");
        if let Some(wh) = wh {
            assert_eq!(help.as_deref(), Some(wh));
        }
    }
}

#[test]
fn suggest_prints_local_times_and_inconvenience() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("globe.toml");
    std::fs::write(&file, format!("{TEAM}\n[[rule]]\nkind = \"meeting_free_days\"\naction = \"decline\"\ndays = [\"wednesday\"]\n")).unwrap();
    let out = common::gatekeeper()
        .args([
            "suggest",
            "--attendees",
            "ana@example.com,bo@example.com",
            "--duration",
            "30m",
            "--within",
            "3d",
            "--now",
            "2026-02-02T00:00:00Z",
            "--format",
            "json",
            "--policy",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slots = json["slots"].as_array().unwrap();
    // Lisbon (UTC in February) and New York (−5) are both at work from
    // 14:00Z to 17:00Z; Wednesday is meeting-free, so Mon, Tue and Thu
    // leaves Mon and Tue in a 3-day window: one slot each, then a
    // non-overlapping second slot on Monday; equally good slots are listed
    // earliest first.
    let starts: Vec<&str> = slots.iter().map(|s| s["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        [
            "2026-02-02T14:00:00Z",
            "2026-02-02T14:30:00Z",
            "2026-02-03T14:00:00Z"
        ]
    );
    assert_eq!(
        slots[0]["attendees"][1]["local_start"],
        "2026-02-02T09:00:00"
    );
    assert_eq!(slots[0]["attendees"][1]["inconvenience"], 0);

    let out = common::gatekeeper()
        .args([
            "suggest",
            "--attendees",
            "ana@example.com,chen@example.com",
            "--duration",
            "1h",
            "--within",
            "1d",
            "--now",
            "2026-02-02T00:00:00Z",
            "--policy",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let text = common::stdout_of(&out);
    // Lisbon 09:00–17:00 (UTC) and Singapore 09:00–17:00 (+8, 01:00–09:00Z)
    // overlap 09:00–09:00Z: not at all; the best hour costs 60 in shoulder.
    assert!(text.starts_with("1. Mon 2026-02-02 "), "{text}");
    assert!(
        text.contains("ana@example.com") && text.contains("Singapore"),
        "{text}"
    );
    assert!(text.contains("inconvenience"), "{text}");

    let out = common::gatekeeper()
        .args([
            "suggest",
            "--attendees",
            "nobody@example.com",
            "--duration",
            "30m",
            "--policy",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---- one definition of inside working hours (issue 9) ------------------

/// `WorkingHours` from a `09:00-17:00` / `00:00-24:00` spec and a day mask
/// written Sunday..Monday (as the zoneinfo table writes it).
fn hours_bits(spec: &str, bits: &str) -> WorkingHours {
    let (a, b) = spec.split_once('-').unwrap();
    let end = if b == "24:00" {
        NaiveTime::MIN
    } else {
        NaiveTime::parse_from_str(b, "%H:%M").unwrap()
    };
    WorkingHours {
        start: NaiveTime::parse_from_str(a, "%H:%M").unwrap(),
        end,
        days: WeekdaySet::from_bits(u8::from_str_radix(bits, 2).unwrap()),
    }
}

/// What the slot search (`gatekeeper suggest`, the suggestions in comments)
/// says a meeting at exactly `start` costs in minutes outside hours.
fn search_outside(tz: Tz, h: &WorkingHours, start: DateTime<Utc>, minutes: i64) -> u32 {
    let curve = Curve::default();
    let people = [SearchAttendee {
        email: "m@x.com".into(),
        tz,
        profile: Profile::new(h, curve.shoulder_minutes),
        meeting_free: WeekdaySet::default(),
    }];
    let grid = Grid::new(Search {
        attendees: &people,
        curve: &curve,
        from: start,
        until: start,
        duration: Duration::minutes(minutes),
        busy: &[],
    });
    let slots = grid.suggest(1, None);
    assert_eq!(slots.len(), 1, "one candidate at {start}");
    assert_eq!(slots[0].start, start);
    slots[0].attendees[0].outside_minutes
}

/// The table `scripts/zoneinfo-working-hours.py` generated with Python's
/// `zoneinfo`, independently of gatekeeper: meetings around every clock
/// change of 2026 in odd zones (Kathmandu, Lord Howe, Chatham, Kiritimati,
/// Apia, St John's, Berlin, New York). The curve, the `working_hours` rule
/// and the slot search each agree with it on every row.
#[test]
fn curve_rule_and_search_agree_with_zoneinfo() {
    let table = include_str!("fixtures/zoneinfo-working-hours.tsv");
    let curve = Curve::default();
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let [zone, spec, bits, start, minutes, want] = f[..] else {
            panic!("bad row `{line}`");
        };
        let tz: Tz = zone.parse().unwrap();
        let h = hours_bits(spec, bits);
        let s = t(start);
        let minutes: i64 = minutes.parse().unwrap();
        let want: u32 = want.parse().unwrap();
        let e = s + Duration::minutes(minutes);
        let profile = Profile::new(&h, curve.shoulder_minutes);
        assert_eq!(
            score(s, e, tz, &profile, &curve).outside_minutes,
            want,
            "curve: {line}"
        );
        assert_eq!(
            within_working_hours(&Span { start: s, end: e }, tz, &h),
            want == 0,
            "working_hours rule: {line}"
        );
        assert_eq!(search_outside(tz, &h, s, minutes), want, "search: {line}");
        rows += 1;
    }
    assert!(rows > 5000, "the table has {rows} rows");
}

/// `check` and `suggest` agree: for generated meetings around DST changes
/// and odd offsets, the `working_hours` rule (through `evaluate`, as
/// `gatekeeper check` and the daemon run it) fires iff the slot search
/// counts minutes outside hours at that very time.
#[test]
fn check_and_suggest_agree_around_dst_and_odd_offsets() {
    let zones = [
        ("Asia/Kathmandu", "2026-02-02T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
        ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
        ("Pacific/Chatham", "2026-04-04T14:00:00Z"),
        ("Pacific/Chatham", "2026-09-26T14:00:00Z"),
        ("Pacific/Kiritimati", "2026-02-01T10:00:00Z"),
        ("Pacific/Apia", "2026-02-01T11:00:00Z"),
        ("Europe/Berlin", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "2026-10-25T01:00:00Z"),
        ("America/New_York", "2026-03-08T07:00:00Z"),
        ("America/New_York", "2026-11-01T06:00:00Z"),
    ];
    let specs = [
        (
            "09:00-17:00",
            "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
        ),
        (
            "22:00-06:00",
            "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]",
        ),
        (
            "00:00-24:00",
            "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
        ),
        ("22:00-02:30", "[\"sat\", \"sun\"]"),
    ];
    let mut fired_and_not = (0, 0);
    for (zone, anchor) in zones {
        for (spec, days) in specs {
            let text = format!(
                "[team]\nname = \"t\"\n\n[[member]]\nemail = \"org@x.com\"\ntime_zone = \"UTC\"\nworking_hours = \"00:00-24:00\"\n\n\
                 [[member]]\nemail = \"m@x.com\"\ntime_zone = \"{zone}\"\nworking_hours = \"{spec}\"\nworking_days = {days}\n\n\
                 [[rule]]\nkind = \"working_hours\"\naction = \"decline\"\n"
            );
            let (policy, d) = parse_policy(&text, "t.toml");
            let policy = policy.unwrap_or_else(|| panic!("{d:#?}"));
            let m = policy.member("m@x.com").unwrap();
            let attendees = [
                Attendee {
                    email: "org@x.com".into(),
                    name: None,
                    role: Role::Chair,
                    partstat: PartStat::Accepted,
                    is_resource: false,
                },
                Attendee {
                    email: "m@x.com".into(),
                    name: None,
                    role: Role::Required,
                    partstat: PartStat::NeedsAction,
                    is_resource: false,
                },
            ];
            for k in -16..=16 {
                let start = t(anchor) + Duration::minutes(45 * k);
                for minutes in [15, 60, 150, 600] {
                    let occ = [Span {
                        start,
                        end: start + Duration::minutes(minutes),
                    }];
                    let invite = Invite {
                        title: "t",
                        description: "",
                        organizer: Some("org@x.com"),
                        attendees: &attendees,
                        occurrences: &occ,
                        sent_at: None,
                        all_day: false,
                        categories: &[],
                    };
                    let v = evaluate(
                        &invite,
                        &policy,
                        &Context::new(t("2026-01-01T00:00:00Z"), "m@x.com"),
                    );
                    let fired = v.findings.iter().any(|f| f.rule == RuleKind::WorkingHours);
                    let outside = search_outside(m.tz, &m.hours, start, minutes);
                    assert_eq!(
                        fired,
                        outside > 0,
                        "{zone} {spec} {days} {start} +{minutes}m: rule {fired}, search {outside} min outside"
                    );
                    if fired {
                        fired_and_not.0 += 1;
                    } else {
                        fired_and_not.1 += 1;
                    }
                }
            }
        }
    }
    // Both answers occur often: the table is not one-sided.
    assert!(
        fired_and_not.0 > 200 && fired_and_not.1 > 200,
        "{fired_and_not:?}"
    );
}

/// `suggest` keeps every start inside its window: after the notice the
/// policy asks for and no later than `now + within` (inclusive), whatever
/// `within` is, also when it is not a multiple of 15 minutes.
#[test]
fn suggest_starts_stay_between_notice_and_within() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("globe.toml");
    std::fs::write(
        &file,
        format!("{TEAM}\n[[rule]]\nkind = \"min_notice\"\naction = \"decline\"\nhours = 2\n"),
    )
    .unwrap();
    // (within, now, expected latest start or None for "no candidates")
    let check = |within: &str, now: &str, count: &str| {
        let out = common::gatekeeper()
            .args([
                "suggest",
                "--attendees",
                "ana@example.com,bo@example.com",
                "--duration",
                "15m",
                "--within",
                within,
                "--now",
                now,
                "--count",
                count,
                "--format",
                "json",
                "--policy",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr_of(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| t(s["start"].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let now = "2026-02-02T00:07:00Z";
    for (within, minutes) in [
        ("2h20m", 140),
        ("2h29m", 149),
        ("2h30m", 150),
        ("3h", 180),
        ("26h7m", 1567),
    ] {
        let starts = check(within, now, "500");
        let (earliest, latest) = (
            t(now) + Duration::hours(2),
            t(now) + Duration::minutes(minutes),
        );
        for s in &starts {
            assert!(
                *s >= earliest && *s <= latest,
                "--within {within}: {s} is outside [{earliest}, {latest}]"
            );
        }
        // The quarter hours in the window are all candidates (nobody is
        // busy): from 02:15 to the last quarter hour <= the bound.
        let want = (minutes - 128) / 15 + 1;
        assert_eq!(starts.len() as i64, want, "--within {within}: {starts:?}");
    }
    // A window shorter than the notice holds no start at all.
    assert!(check("1h", now, "3").is_empty());
}

mod one_definition {
    use super::*;
    use proptest::prelude::*;

    fn any_hours() -> impl Strategy<Value = WorkingHours> {
        (0u32..96, 0u32..96, 1u8..128).prop_map(|(s, e, days)| WorkingHours {
            start: NaiveTime::from_hms_opt(s / 4, (s % 4) * 15, 0).unwrap(),
            end: NaiveTime::from_hms_opt(e / 4, (e % 4) * 15, 0).unwrap(),
            days: WeekdaySet::from_bits(days),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The curve's `Working` minutes are exactly the minutes the
        /// `working_hours` rule calls inside, for any hours and days.
        #[test]
        fn the_curve_and_the_rule_read_the_same_windows(h in any_hours(), from in 0i64..10080, len in 1i64..3000) {
            let profile = Profile::new(&h, 120);
            for m in 0..10080usize {
                prop_assert_eq!(
                    profile.at(m) == gatekeeper::fairness::Category::Working,
                    h.covers(m as i64, 1),
                    "minute {} of {:?}", m, h
                );
            }
            let all = (from..from + len)
                .all(|m| profile.at(m.rem_euclid(10080) as usize) == gatekeeper::fairness::Category::Working);
            prop_assert_eq!(h.covers(from, len), all);
        }
    }
}
