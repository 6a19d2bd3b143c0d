//! `gatekeeper backtest` (issue 14): the backtest agrees with the daemon
//! stepped through the same month; a diff between two policies known by
//! hand; every format's snapshot; nothing is written anywhere.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{gatekeeper, log_rows, run_once, stderr_of, stdout_of};
use gatekeeper::backtest;
use gatekeeper::config::Config;
use gatekeeper::team::Team;

const MEMBERS: [&str; 3] = ["ana@example.com", "bo@example.com", "chen@example.com"];

/// A small deterministic generator (the test must fail the same way twice).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

const POLICY: &str = r#"
[team]
name = "gen"
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
kind = "working_hours"
action = "annotate"

[fairness]
window_weeks = 4

[[rule]]
kind = "outside_hours_budget"
action = "decline"
minutes_per_week = 60

[exceptions]
organizers = ["ceo@example.com"]
external_guests = "never_decline"

[exceptions.urgent]
keyword = "urgent"
per_organizer_per_month = 2
"#;

fn config_text() -> String {
    let mut c = String::from(
        "policies = [\"policies\"]\nmode = \"enforce\"\nhorizon_days = 60\n\n[store]\nsqlite = \"state/gatekeeper.db\"\n",
    );
    for m in MEMBERS {
        let short = m.split('@').next().unwrap();
        c.push_str(&format!(
            "\n[[source]]\nkind = \"vdir\"\nname = \"{short}-local\"\nmember = \"{m}\"\npath = \"calendars/{short}\"\n"
        ));
    }
    c
}

/// One member's copy of one generated invite.
struct Copy {
    member: &'static str,
    file: PathBuf,
    bytes: String,
    /// The member accepts it after the pass that screened it, unless
    /// gatekeeper declined it for them.
    accepts: bool,
    uid: String,
}

/// A team folder: config, policy, empty calendars.
fn team_dir(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gatekeeper.toml"), config_text()).unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/team.toml"), policy).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    for m in MEMBERS {
        let short = m.split('@').next().unwrap();
        std::fs::create_dir_all(dir.path().join(format!("calendars/{short}/work"))).unwrap();
    }
    dir
}

const FROM: (i32, u32, u32) = (2026, 11, 2);
const DAYS: i64 = 28;

fn from() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(FROM.0, FROM.1, FROM.2, 0, 0, 0)
        .unwrap()
}

/// A month of invites: by arrival time, every member's copy.
fn month(dir: &Path, seed: u64) -> BTreeMap<DateTime<Utc>, Vec<Copy>> {
    let mut rng = Lcg(seed);
    let organizers = [
        "ana@example.com",
        "bo@example.com",
        "chen@example.com",
        "ceo@example.com",
        "pat@acme.test",
    ];
    let mut out: BTreeMap<DateTime<Utc>, Vec<Copy>> = BTreeMap::new();
    let mut n = 0;
    for day in 0..DAYS {
        for hour in [8, 15] {
            let at = from() + Duration::days(day) + Duration::hours(hour);
            for _ in 0..rng.next(3) {
                n += 1;
                let uid = format!("gen-{n}@example.com");
                let organizer = organizers[rng.next(5) as usize];
                let mut attendees: Vec<&'static str> = MEMBERS
                    .iter()
                    .copied()
                    .filter(|m| *m == organizer || rng.next(3) > 0)
                    .collect();
                if attendees.iter().all(|m| *m == organizer) {
                    attendees.push(MEMBERS[(n % 3) as usize]);
                    attendees.dedup();
                }
                let start = (at + Duration::days(1 + rng.next(9) as i64))
                    .date_naive()
                    .and_hms_opt(5 + rng.next(16) as u32, 30 * rng.next(2) as u32, 0)
                    .unwrap()
                    .and_utc();
                let minutes = 30 * (1 + rng.next(3) as i64);
                let urgent = rng.next(8) == 0;
                let summary = if urgent {
                    format!("URGENT: incident {n}")
                } else {
                    format!("Meeting {n}")
                };
                let description = if rng.next(2) == 0 {
                    "Decide the rollout plan and agree who owns each step"
                } else {
                    ""
                };
                let rrule = if rng.next(5) == 0 {
                    "RRULE:FREQ=WEEKLY;COUNT=3\r\n"
                } else {
                    ""
                };
                let accepts: Vec<bool> = attendees.iter().map(|_| rng.next(3) == 0).collect();
                for (i, member) in attendees.iter().enumerate() {
                    let mut lines = format!(
                        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gen//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{s}\r\nCREATED:{s}\r\nLAST-MODIFIED:{s}\r\nDTSTART:{}\r\nDTEND:{}\r\n{rrule}SUMMARY:{summary}\r\n",
                        stamp(start),
                        stamp(start + Duration::minutes(minutes)),
                        s = stamp(at)
                    );
                    if !description.is_empty() {
                        lines.push_str(&format!("DESCRIPTION:{description}\r\n"));
                    }
                    lines.push_str(&format!("ORGANIZER:mailto:{organizer}\r\n"));
                    for a in &attendees {
                        let ps = if *a == organizer {
                            "ACCEPTED"
                        } else {
                            "NEEDS-ACTION"
                        };
                        lines.push_str(&format!(
                            "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT={ps}:mailto:{a}\r\n"
                        ));
                    }
                    lines.push_str("STATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
                    let short = member.split('@').next().unwrap();
                    out.entry(at).or_default().push(Copy {
                        member,
                        file: dir.join(format!("calendars/{short}/work/gen-{n}.ics")),
                        bytes: lines,
                        accepts: accepts[i] && *member != organizer,
                        uid: uid.clone(),
                    });
                }
            }
        }
    }
    out
}

/// What must agree: when, for whom, which invite, what and why.
type Row = (String, String, String, String, String, Vec<String>, String);

fn row_of_json(r: &serde_json::Value) -> Row {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let mut rules: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["rule"].as_str().unwrap(),
                f["action"].as_str().unwrap()
            )
        })
        .collect();
    rules.sort();
    // `run --once --now` lets its clock run on from `--now` (milliseconds
    // into the pass); the backtest's passes are at the arrival itself.
    let decided = DateTime::parse_from_rfc3339(&s("decided_at"))
        .unwrap()
        .with_timezone(&Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    (
        decided,
        s("member"),
        s("uid"),
        s("recurrence_id"),
        s("action"),
        rules,
        s("response"),
    )
}

/// Step the daemon through the month as the invites arrive; the members
/// accept some after the pass that screened them.
fn step_daemon(dir: &Path, month: &BTreeMap<DateTime<Utc>, Vec<Copy>>) -> Vec<Row> {
    let config = dir.join("gatekeeper.toml");
    for (at, copies) in month {
        for c in copies {
            std::fs::write(&c.file, &c.bytes).unwrap();
        }
        let (code, _out, err) = run_once(&config, &at.to_rfc3339());
        assert_eq!(code, 0, "run at {at}: {err}");
        let declined: BTreeSet<(String, String)> = log_rows(&config)
            .iter()
            .filter(|r| r["response"] == "DECLINED")
            .map(|r| {
                (
                    r["member"].as_str().unwrap().to_string(),
                    r["uid"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for c in copies.iter().filter(|c| c.accepts) {
            if declined.contains(&(c.member.to_string(), c.uid.clone())) {
                continue;
            }
            let accepted = c.bytes.replace(
                &format!("PARTSTAT=NEEDS-ACTION:mailto:{}", c.member),
                &format!("PARTSTAT=ACCEPTED:mailto:{}", c.member),
            );
            std::fs::write(&c.file, accepted).unwrap();
        }
    }
    let mut rows: Vec<Row> = log_rows(&config).iter().map(row_of_json).collect();
    rows.sort();
    rows
}

fn backtest_rows(dir: &Path) -> (Vec<Row>, usize) {
    let config = Config::load(&dir.join("gatekeeper.toml")).unwrap();
    let team = Team::load(&config.policies).unwrap();
    let built = gatekeeper::source::build(&config, &team.members());
    let to = from() + Duration::days(DAYS);
    let calendars = backtest::read(
        &built.sources,
        from() - backtest::warm_up(&team),
        to,
        config.horizon_days,
        &[],
    );
    let replayed = backtest::replay(&config, team, &calendars, &mut |_, _| {}).unwrap();
    let mut rows: Vec<Row> = replayed
        .decisions
        .iter()
        .map(|d| row_of_json(&serde_json::to_value(d).unwrap()))
        .collect();
    rows.sort();
    (rows, replayed.writes.len())
}

/// The property that makes the numbers trustworthy: a backtest of a month
/// decides what the daemon decided when stepped through it, invite by
/// invite (when, for whom, the action, every rule and its action, the
/// answer written), with the members' later answers and the burden ledger
/// and urgent allowances evolving in both.
#[test]
fn backtest_agrees_with_the_daemon() {
    for seed in [1, 7] {
        let dir = team_dir(POLICY);
        let month = month(dir.path(), seed);
        let daemon = step_daemon(dir.path(), &month);
        // The backtest reads the calendars as the daemon left them (its own
        // answers and the members' in them): it must see through both.
        let (backtest, writes) = backtest_rows(dir.path());
        assert!(daemon.len() > 40, "seed {seed}: a month worth comparing");
        let actions: BTreeSet<&str> = daemon.iter().map(|r| r.4.as_str()).collect();
        assert_eq!(
            actions,
            BTreeSet::from(["allow", "annotate", "decline"]),
            "seed {seed}: every action appears"
        );
        assert!(writes > 0);
        if daemon != backtest {
            let only_daemon: Vec<_> = daemon.iter().filter(|r| !backtest.contains(r)).collect();
            let only_backtest: Vec<_> = backtest.iter().filter(|r| !daemon.contains(r)).collect();
            panic!(
                "seed {seed}: the backtest disagrees with the daemon\nonly the daemon: {only_daemon:#?}\nonly the backtest: {only_backtest:#?}"
            );
        }
    }
}

/// Every file under `dir`, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn backtest_demo(config: &Path, extra: &[&str]) -> std::process::Output {
    gatekeeper()
        .args([
            "backtest",
            "--from",
            "2026-11-30",
            "--to",
            "2026-12-06",
            "--config",
        ])
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

/// Nothing is written: not the calendars (byte for byte), not the state
/// database, whether it exists or not, in every format and with a
/// candidate policy.
#[test]
fn backtest_writes_nothing() {
    let fresh = common::demo_copy();
    let before = tree(fresh.path());
    let config = fresh.path().join("gatekeeper.toml");
    let candidate = common::repo().join("examples/demo/candidate.toml");
    for format in ["md", "html", "json", "csv"] {
        let out = backtest_demo(&config, &["--format", format]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let out = backtest_demo(
            &config,
            &["--format", format, "--policy", candidate.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    assert_eq!(
        tree(fresh.path()),
        before,
        "a backtest changed the demo folder"
    );

    // Over a daemon's state and answers: the same.
    let (code, _, err) = run_once(&config, common::DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    let before = tree(fresh.path());
    let out = backtest_demo(&config, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        tree(fresh.path()),
        before,
        "a backtest changed the state or calendars"
    );
    // And it sees through the daemon's answers: the same figures as before
    // the daemon ran.
    let again = common::demo_copy();
    let clean = backtest_demo(&again.path().join("gatekeeper.toml"), &["--format", "json"]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(a["outcomes"], b["outcomes"]);
}

/// The demo policy against a candidate that annotates a missing agenda
/// instead of declining it and has no meeting-free Wednesday: by hand,
/// the six declines become annotations on the remaining rules, and the
/// retro, declined only for Wednesday, is allowed. Nothing else differs.
#[test]
fn diff_between_two_policies_known_by_hand() {
    let config = common::repo().join("examples/demo/gatekeeper.toml");
    let candidate = common::repo().join("examples/demo/candidate.toml");
    let out = backtest_demo(
        &config,
        &["--format", "json", "--policy", candidate.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = v["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}: {} {} -> {} {}",
                d["member"].as_str().unwrap(),
                d["title"].as_str().unwrap(),
                d["current"].as_str().unwrap(),
                d["current_rules"],
                d["candidate"].as_str().unwrap(),
                d["candidate_rules"],
            )
        })
        .collect();
    let mut got = got;
    got.sort();
    let expected = [
        r#"ana@example.com Coffee chat: decline ["agenda","working_hours"] -> annotate ["agenda","working_hours"]"#,
        r#"ana@example.com Q1 planning: decline ["meeting_free_days","working_hours"] -> annotate ["working_hours"]"#,
        r#"ana@example.com Sync: decline ["agenda","working_hours"] -> annotate ["agenda","working_hours"]"#,
        r#"ana@example.com Team retro: decline ["meeting_free_days"] -> allow []"#,
        r#"bo@example.com Hiring sync: decline ["agenda","meeting_free_days","purpose","working_hours"] -> annotate ["agenda","purpose","working_hours"]"#,
        r#"chen@example.com Sync: decline ["agenda","working_hours"] -> annotate ["agenda","working_hours"]"#,
    ];
    assert_eq!(got, expected);
    let totals = |i: usize| v["outcomes"][i]["totals"].clone();
    assert_eq!(totals(0)["declined"], 6);
    assert_eq!(totals(1)["declined"], 0);
    // Five of the declines become annotations; the retro is allowed.
    assert_eq!(
        totals(1)["annotated"].as_u64().unwrap(),
        totals(0)["annotated"].as_u64().unwrap() + 5
    );
    assert_eq!(
        totals(1)["allowed"].as_u64().unwrap(),
        totals(0)["allowed"].as_u64().unwrap() + 1
    );
}

/// The shipped candidate is the demo policy with exactly the two changes
/// the diff test reasons about: when the demo policy changes, copy it
/// again and make them.
#[test]
fn the_demo_candidate_differs_from_the_demo_policy_by_two_rules() {
    let demo =
        std::fs::read_to_string(common::repo().join("examples/demo/policies/demo.toml")).unwrap();
    let candidate =
        std::fs::read_to_string(common::repo().join("examples/demo/candidate.toml")).unwrap();
    let body = |s: &str| -> String {
        s.lines()
            .skip_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let expected = body(&demo)
        .replace(
            "kind = \"agenda\"\naction = \"decline\"",
            "kind = \"agenda\"\naction = \"annotate\"",
        )
        .replace(
            "[[rule]]\nkind = \"meeting_free_days\"\naction = \"decline\"\ndays = [\"wednesday\"]\n\n",
            "",
        );
    assert_eq!(body(&candidate), expected);
}

/// Every format, on the shipped demo with the candidate beside it.
#[test]
fn formats_snapshots() {
    let config = common::repo().join("examples/demo/gatekeeper.toml");
    let candidate = common::repo().join("examples/demo/candidate.toml");
    for format in ["md", "html", "json", "csv"] {
        let out = backtest_demo(
            &config,
            &["--format", format, "--policy", candidate.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
        insta::assert_snapshot!(format!("demo_{format}"), stdout_of(&out));
    }
}

#[test]
fn bad_arguments() {
    let config = common::repo().join("examples/demo/gatekeeper.toml");
    let out = gatekeeper()
        .args([
            "backtest",
            "--from",
            "2026-12-06",
            "--to",
            "2026-11-30",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let out = backtest_demo(&config, &["--team", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no team named `nope`"));
}

/// Headless Chromium, or `None` after saying loudly that the test skips
/// (as `tests/report.rs` does; GATEKEEPER_REQUIRE_CHROMIUM=1 fails instead).
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    use std::io::Write;
    let found = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/lib/chromium/chromium",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("GATEKEEPER_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("GATEKEEPER_REQUIRE_CHROMIUM=1 but chromium is not installed");
        }
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n!!! SKIPPED {test}: chromium not found (apt-get install -y chromium) !!!\n"
        );
    }
    found
}

/// Headless Chromium renders the backtest page with its charts.
#[test]
fn html_renders_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip("html_renders_in_headless_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("backtest.html");
    let config = common::repo().join("examples/demo/gatekeeper.toml");
    let out = backtest_demo(
        &config,
        &["--format", "html", "--out", html.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg("--window-size=412,900")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Backtest: demo"),
        "page did not render: {dom:.500}"
    );
    assert_eq!(dom.matches("<svg").count(), 1, "the chart is missing");
    assert!(dom.contains("<title>After-hours burden by time zone, before and after</title>"));
}

/// With fairness on, a would-be decline lists the fairer times gatekeeper's
/// comment would have offered; the figures add up.
#[test]
fn declines_carry_the_fairer_times_and_the_figures_add_up() {
    let dir = team_dir(POLICY);
    for copies in month(dir.path(), 3).values() {
        for c in copies {
            std::fs::write(&c.file, &c.bytes).unwrap();
        }
    }
    let out = gatekeeper()
        .args([
            "backtest",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-29",
            "--format",
            "json",
            "--config",
        ])
        .arg(dir.path().join("gatekeeper.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v["outcomes"][0];
    let declines = o["declines"].as_array().unwrap();
    assert!(!declines.is_empty());
    assert!(
        declines
            .iter()
            .any(|d| !d["suggestions"].as_array().unwrap().is_empty()),
        "no decline suggests a fairer time: {declines:#?}"
    );
    let t = &o["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(n("allowed") + n("annotated") + n("declined"), n("screened"));
    assert_eq!(n("declined"), declines.len() as u64);
    let by_person: u64 = o["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["declined"].as_u64().unwrap())
        .sum();
    assert_eq!(by_person, n("declined"));
    let zones = o["zones"].as_array().unwrap();
    let before: u64 = zones.iter().map(|z| z["before"].as_u64().unwrap()).sum();
    let after: u64 = zones.iter().map(|z| z["after"].as_u64().unwrap()).sum();
    assert!(
        after < before,
        "declines take burden off: {before} -> {after}"
    );
}

/// Every backend: calendars on a CalDAV server (Radicale) are read, not
/// written (every item's etag unchanged), the member's own answer is
/// ignored as the daemon ignores gatekeeper's, and no state is created.
#[test]
fn backtest_reads_caldav_and_writes_nothing() {
    use common::radicale::{DELEGATE, Radicale};
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/team.toml"),
        "[team]\nname = \"t\"\ndomains = [\"example.com\"]\n\n\
         [[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n\
         [[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n",
    )
    .unwrap();
    server.password_file(DELEGATE, dir.path());
    let config = dir.path().join("gatekeeper.toml");
    std::fs::write(
        &config,
        format!(
            "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"{}/\"\nuser = \"{DELEGATE}\"\n\
             password_file = \"{DELEGATE}.password\"\nprincipal_url = \"/{{user}}/\"\n\
             members = [\"ana@example.com\"]\n",
            server.base_url()
        ),
    )
    .unwrap();
    let invite = |uid: &str, partstat: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\nBEGIN:VEVENT\r\n\
             UID:{uid}\r\nDTSTAMP:20261128T100000Z\r\nDTSTART:20261201T100000Z\r\n\
             DTEND:20261201T103000Z\r\nSUMMARY:Sync\r\nORGANIZER:mailto:bo@example.com\r\n\
             ATTENDEE;PARTSTAT={partstat}:mailto:ana@example.com\r\n\
             ATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\n\
             ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:cy@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let a = format!("{cal}a.ics");
    let b = format!("{cal}b.ics");
    let etag_a = server.put_ok(
        "ana",
        &a,
        invite("a@example.com", "NEEDS-ACTION").as_bytes(),
    );
    // Ana accepted this one herself: the backtest still screens it.
    let etag_b = server.put_ok("ana", &b, invite("b@example.com", "ACCEPTED").as_bytes());
    let out = gatekeeper()
        .args([
            "backtest",
            "--from",
            "2026-11-28",
            "--to",
            "2026-11-28",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr_of(&out),
        server.log()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let totals = &v["outcomes"][0]["totals"];
    assert_eq!(totals["screened"], 2, "{v:#}");
    assert_eq!(totals["declined"], 2, "{v:#}");
    assert_eq!(server.get_ok("ana", &a).1, etag_a);
    assert_eq!(server.get_ok("ana", &b).1, etag_b);
    assert!(!dir.path().join("state.db").exists());
}
