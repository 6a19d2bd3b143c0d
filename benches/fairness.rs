//! Benchmarks of time-zone fairness: slot search (8 attendees in 6 zones,
//! 7 days at 15-minute steps, with busy times), a failing invite screened
//! with suggestions, and the burden ledger for a 200-person team over 4
//! weeks (scoring, SQLite upserts and totals, figures). A plain program
//! like `benches/core.rs`: each figure is the median of several rounds.
//!
//! Run with `cargo bench --bench fairness`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::fairness::{
    Burden, BurdenSnapshot, BusyTime, Curve, Grid, Profile, Search, SearchAttendee, figures, score,
};
use gatekeeper::policy::model::WorkingHours;
use gatekeeper::policy::{Context, Invite, Span, evaluate, parse_policy};
use gatekeeper::store::sqlite::SqliteStore;
use gatekeeper::store::{BurdenEntry, Store};

const ZONES: [&str; 6] = [
    "Europe/Lisbon",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Australia/Adelaide",
];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Median, fastest and slowest per-call time over `rounds` rounds of
/// `iters` calls.
fn bench(name: &str, rounds: usize, iters: usize, mut f: impl FnMut()) {
    for _ in 0..iters.min(10) {
        f();
    }
    let mut per_call: Vec<StdDuration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters as u32
        })
        .collect();
    per_call.sort();
    let us = |d: StdDuration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<62} median {:>10.1} µs  (min {:.1}, max {:.1})",
        us(per_call[rounds / 2]),
        us(per_call[0]),
        us(per_call[rounds - 1])
    );
}

fn policy_text(n: usize) -> String {
    let mut s = String::from("[team]\nname = \"bench\"\ndomains = [\"example.com\"]\n\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[member]]\nemail = \"m{i}@example.com\"\ntime_zone = \"{}\"\nworking_hours = \"09:00-17:00\"\n\n",
            ZONES[i % ZONES.len()]
        ));
    }
    s.push_str(
        "[fairness]\n\n[[rule]]\nkind = \"working_hours\"\naction = \"annotate\"\n\n\
         [[rule]]\nkind = \"meeting_free_days\"\naction = \"decline\"\ndays = [\"wednesday\"]\n\n\
         [[rule]]\nkind = \"outside_hours_budget\"\naction = \"decline\"\nminutes_per_week = 120\n",
    );
    s
}

fn main() {
    let now = t("2026-11-30T08:00:00Z");
    let (policy, diags) = parse_policy(&policy_text(8), "bench.toml");
    let policy = policy.unwrap_or_else(|| panic!("{diags:?}"));
    let curve = Curve::default();

    // Busy: each attendee has three one-hour blocks a day, staggered.
    let busy: Vec<BusyTime> = policy
        .members
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            (0..7 * 3).map(move |k| {
                let start = now + Duration::hours(k as i64 * 8 + i as i64);
                BusyTime {
                    member: m.email.clone(),
                    span: Span {
                        start,
                        end: start + Duration::hours(1),
                    },
                }
            })
        })
        .collect();
    let attendees: Vec<SearchAttendee> = policy
        .members
        .iter()
        .map(|m| SearchAttendee::for_member(m, &curve, Default::default()))
        .collect();
    let search = Search {
        attendees: &attendees,
        curve: &curve,
        from: now,
        until: now + Duration::days(7),
        duration: Duration::minutes(30),
        busy: &busy,
    };
    bench(
        "suggest: 8 attendees, 6 zones, 7 days, 15-min steps, busy",
        15,
        50,
        || {
            black_box(Grid::new(black_box(search)).suggest(3, None));
        },
    );
    bench("rotation: same attendees, one week", 15, 50, || {
        black_box(Grid::new(black_box(search)).rotation(0.5));
    });

    let people: Vec<Attendee> = policy
        .members
        .iter()
        .map(|m| Attendee {
            email: m.email.clone(),
            name: None,
            role: Role::Required,
            partstat: PartStat::NeedsAction,
            is_resource: false,
        })
        .collect();
    let occ = [Span {
        start: t("2026-12-01T22:00:00Z"),
        end: t("2026-12-01T22:30:00Z"),
    }];
    let invite = Invite {
        title: "Late sync",
        description: "Decide the release plan",
        organizer: Some("m0@example.com"),
        attendees: &people,
        occurrences: &occ,
        sent_at: None,
        all_day: false,
        categories: &[],
    };
    let ctx = Context::new(now, "m1@example.com").with_busy(&busy);
    bench(
        "evaluate: failing invite, 8 attendees, with 3 suggestions",
        15,
        50,
        || {
            black_box(evaluate(black_box(&invite), &policy, &ctx));
        },
    );

    // The working_hours rule's reading (issue 9): minute by minute on the
    // wall clock, stretch by stretch, against the start/end comparison with
    // one window it replaced (copied here as `old_within`), run side by side
    // so that a loaded machine slows both alike.
    fn old_within(o: &Span, tz: chrono_tz::Tz, hours: &WorkingHours) -> bool {
        use chrono::Datelike;
        let start = o.start.with_timezone(&tz).naive_local();
        let end = o.end.with_timezone(&tz).naive_local();
        let day = start.date();
        [day.pred_opt(), Some(day)].into_iter().flatten().any(|d| {
            if !hours.days.contains(d.weekday()) {
                return false;
            }
            let ws = d.and_time(hours.start);
            let we = if hours.crosses_midnight() {
                match d.succ_opt() {
                    Some(n) => n.and_time(hours.end),
                    None => return false,
                }
            } else {
                d.and_time(hours.end)
            };
            start >= ws && end <= we
        })
    }
    let judged: Vec<Span> = (0..48)
        .map(|k| {
            let s = t("2026-12-01T00:00:00Z") + Duration::minutes(k * 30);
            Span {
                start: s,
                end: s + Duration::minutes(45),
            }
        })
        .collect();
    bench(
        "working_hours reading, before: start/end vs one window (8 × 48)",
        15,
        200,
        || {
            let mut n = 0;
            for m in &policy.members {
                for o in &judged {
                    n += usize::from(old_within(black_box(o), m.tz, &m.hours));
                }
            }
            black_box(n);
        },
    );
    bench(
        "working_hours reading, after: minute by minute (8 × 48)",
        15,
        200,
        || {
            let mut n = 0;
            for m in &policy.members {
                for o in &judged {
                    n += usize::from(gatekeeper::policy::evaluate::within_working_hours(
                        black_box(o),
                        m.tz,
                        &m.hours,
                    ));
                }
            }
            black_box(n);
        },
    );

    // Hostile length (issue 9): the same failing invite, ever longer. Its
    // cost must stop growing once the meeting is longer than the judged
    // horizon. `GK_BENCH_MAX_DAYS` caps the lengths measured (to measure a
    // build where the cost still grows with length without running out of
    // memory).
    let max_days: i64 = std::env::var("GK_BENCH_MAX_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MAX);
    for (label, days) in [
        ("1 day", 1),
        ("30 days", 30),
        ("1 year", 365),
        ("until 3026 (1,000 years)", 365_250),
        ("P999999W (19,000 years)", 6_999_993),
    ] {
        if days > max_days {
            println!(
                "{:<62} skipped (GK_BENCH_MAX_DAYS={max_days})",
                format!("evaluate: meeting of {label}")
            );
            continue;
        }
        let long = [Span {
            start: t("2026-12-01T22:00:00Z"),
            end: t("2026-12-01T22:00:00Z") + Duration::days(days),
        }];
        let invite = Invite {
            occurrences: &long,
            ..invite
        };
        let rounds = if days > 300 { 3 } else { 7 };
        bench(
            &format!("evaluate: meeting of {label}, 8 attendees"),
            rounds,
            1,
            || {
                black_box(evaluate(black_box(&invite), &policy, &ctx));
            },
        );
        let m = &policy.members[1];
        let p = Profile::new(&m.hours, curve.shoulder_minutes);
        bench(
            &format!("burden: score one member, meeting of {label}"),
            rounds,
            1,
            || {
                black_box(score(long[0].start, long[0].end, m.tz, &p, &curve));
            },
        );
    }

    // A 200-person team, 4 weeks: each member in 10 one-hour meetings a
    // week at times that walk around the clock.
    let (team, _) = parse_policy(&policy_text(200), "team.toml");
    let team = team.unwrap();
    let start = t("2026-11-02T00:00:00Z");
    let meetings: Vec<Span> = (0..40)
        .map(|k| {
            let s = start + Duration::minutes(k * (4 * 7 * 24 * 60 / 40) + k * 37);
            Span {
                start: s,
                end: s + Duration::hours(1),
            }
        })
        .collect();
    let profiles: Vec<(Profile, &WorkingHours)> = team
        .members
        .iter()
        .map(|m| (Profile::new(&m.hours, curve.shoulder_minutes), &m.hours))
        .collect();
    bench(
        "burden: score 200 members × 40 meetings (8000 occurrences)",
        7,
        3,
        || {
            let mut total = 0u64;
            for (m, (p, _)) in team.members.iter().zip(&profiles) {
                for o in &meetings {
                    total += u64::from(score(o.start, o.end, m.tz, p, &curve).inconvenience);
                }
            }
            black_box(total);
        },
    );
    let entries: Vec<BurdenEntry> = team
        .members
        .iter()
        .zip(&profiles)
        .flat_map(|(m, (p, _))| {
            meetings.iter().enumerate().map(move |(k, o)| {
                let s = score(o.start, o.end, m.tz, p, &Curve::default());
                BurdenEntry {
                    source: "bench".into(),
                    calendar: "work".into(),
                    uid: format!("meeting-{k}"),
                    recurrence_id: String::new(),
                    member: m.email.clone(),
                    occurrence_start: o.start,
                    occurrence_end: o.end,
                    inconvenience: s.inconvenience,
                    outside_minutes: s.outside_minutes,
                    status: "accepted".into(),
                }
            })
        })
        .collect();
    let mut store = SqliteStore::in_memory().unwrap();
    bench(
        "ledger: upsert 8000 rows into SQLite (in memory), all rows",
        5,
        1,
        || {
            for e in &entries {
                store.upsert_burden(e).unwrap();
            }
        },
    );
    let window = gatekeeper::fairness::window(t("2026-11-16T00:00:00Z"), 4);
    bench("ledger: totals for 200 members over 4 weeks", 7, 20, || {
        black_box(store.burden_totals(window.start, window.end).unwrap());
    });
    let totals: HashMap<String, Burden> = store.burden_totals(window.start, window.end).unwrap();
    bench(
        "figures: snapshot + share/index/Gini, 200 members",
        7,
        200,
        || {
            let snap = BurdenSnapshot::for_policy(&team, t("2026-11-16T00:00:00Z"), &totals);
            black_box(figures(
                snap.members()
                    .into_iter()
                    .map(|(m, b)| (m, b.inconvenience)),
            ));
        },
    );
}
