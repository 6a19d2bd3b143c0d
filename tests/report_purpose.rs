//! The weekly report's purpose section (issue 15): meeting hours by
//! purpose, the share of meetings that stated one, and the decision
//! meetings with their record links, in every format; absent for a team
//! without purpose rules.

use std::collections::HashMap;

use gatekeeper::calendar::ical::parse_ics;
use gatekeeper::calendar::recurrence::group_by_uid;
use gatekeeper::policy::model::Policy;
use gatekeeper::report::stats::{Input, MemberCalendar, Settings};
use gatekeeper::report::{Format, IsoWeek, WeeklyReport, weekly_report};

const TEAM: &str = r#"
[team]
name = "core"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:00"

[[member]]
email = "bo@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:00"
"#;

const RULES: &str = r#"
[[rule]]
kind = "purpose"
action = "annotate"
purposes = [{ name = "decision", words = ["decide"] }, "feedback", "relationships"]

[[rule]]
kind = "decision_record"
action = "annotate"
hosts = ["wiki.example.com"]
"#;

fn policy(rules: &str) -> Policy {
    let src = format!("{TEAM}{rules}");
    let (p, diags) = gatekeeper::policy::parse::parse_policy(&src, "core.toml");
    p.unwrap_or_else(|| panic!("{diags:?}"))
}

/// A VEVENT from ana to bo on `day` (of 2026-11-30 .. 2026-12-04) at 10:00
/// UTC for `minutes`, with extra lines.
fn event(uid: &str, day: u32, minutes: u32, summary: &str, extra: &str) -> String {
    let end_h = 10 + minutes / 60;
    let end_m = minutes % 60;
    let date = if day == 30 {
        "20261130".to_string()
    } else {
        format!("202612{day:02}")
    };
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{date}T100000Z\r\nDTEND:{date}T{end_h:02}{end_m:02}00Z\r\nSUMMARY:{summary}\r\nORGANIZER:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\n{extra}END:VEVENT\r\n"
    )
}

fn calendar(email: &str, events: &[String]) -> MemberCalendar {
    let mut series = Vec::new();
    for e in events {
        let text = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{e}END:VCALENDAR\r\n");
        series.extend(group_by_uid(parse_ics(&text).unwrap().events));
    }
    MemberCalendar {
        email: email.into(),
        series,
    }
}

/// Week 2026-W49 (Monday 30 November).
fn report(policy: &Policy) -> WeeklyReport {
    let pricing = event(
        "pricing",
        30,
        60,
        "Q1 pricing",
        "DESCRIPTION:Purpose: decision\\nRecord: https://wiki.example.com/decisions/pricing\r\n",
    );
    let ana = calendar(
        "ana@example.com",
        &[
            pricing.clone(),
            event("ci", 1, 30, "Decide the CI provider", ""),
            event("retro", 2, 60, "Retro", "CATEGORIES:Feedback\r\n"),
            event("status", 3, 45, "Status", "DESCRIPTION:Round the table\r\n"),
            event(
                "secret",
                4,
                30,
                "Reorg",
                "CLASS:PRIVATE\r\nDESCRIPTION:Purpose: decision\\nhttps://wiki.example.com/private/reorg\r\n",
            ),
        ],
    );
    // Bo's copy of the same pricing meeting counts once for the team.
    let bo = calendar(
        "bo@example.com",
        &[
            pricing,
            event("status", 3, 45, "Status", "DESCRIPTION:Round the table\r\n"),
        ],
    );
    let ledger = HashMap::new();
    let input = Input {
        policy,
        calendars: &[ana, bo],
        decisions: &[],
        ledger: &ledger,
        settings: Settings::default(),
    };
    weekly_report(&input, IsoWeek::parse("2026-W49").unwrap())
}

#[test]
fn hours_by_purpose_share_stated_and_decisions_with_their_records() {
    let r = report(&policy(RULES));
    let p = r.purposes.as_ref().expect("a purpose section");
    assert_eq!((p.meetings, p.stated), (5, 4));
    assert!((p.share_stated - 0.8).abs() < 1e-9, "{}", p.share_stated);
    let by: Vec<(&str, u32, u64)> = p
        .by_purpose
        .iter()
        .map(|t| (t.purpose.as_str(), t.meetings, t.minutes))
        .collect();
    assert_eq!(
        by,
        [
            ("decision", 3, 120),
            ("feedback", 1, 60),
            ("relationships", 0, 0),
            ("none stated", 1, 45),
        ]
    );
    // Per member: ana has all five, bo pricing and status.
    let minutes: Vec<(&str, &[u32])> = p
        .members
        .iter()
        .map(|m| (m.email.as_str(), m.minutes.as_slice()))
        .collect();
    assert_eq!(
        minutes,
        [
            ("ana@example.com", &[120, 60, 0, 45][..]),
            ("bo@example.com", &[60, 0, 0, 45][..]),
        ]
    );
    assert_eq!((p.decisions_total, p.decisions_without_record), (3, 1));
    let d: Vec<(&str, Option<&str>, bool)> = p
        .decisions
        .iter()
        .map(|d| (d.title.as_str(), d.record.as_deref(), d.has_record))
        .collect();
    assert_eq!(
        d,
        [
            (
                "Q1 pricing",
                Some("https://wiki.example.com/decisions/pricing"),
                true
            ),
            ("Decide the CI provider", None, false),
            // A private event's title and link stay private.
            ("(private event)", None, true),
        ]
    );
}

#[test]
fn a_team_without_purpose_rules_gets_no_section() {
    let r = report(&policy(""));
    assert!(r.purposes.is_none());
    let json: serde_json::Value = serde_json::from_str(&Format::Json.render(&r)).unwrap();
    assert!(json.get("purposes").is_none(), "{json}");
    assert!(!Format::Md.render(&r).contains("Meeting purposes"));
    assert!(!Format::Html.render(&r).contains("Meeting purposes"));
    assert!(!Format::Csv.render(&r).contains("purpose"));
}

/// The part of a text from the line starting with `from` up to (not
/// including) the next line starting with `until`.
fn part<'a>(text: &'a str, from: &str, until: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} in:\n{text}"));
    let rest = &text[start..];
    let end = rest[from.len()..]
        .find(until)
        .map_or(rest.len(), |i| i + from.len());
    &rest[..end]
}

#[test]
fn the_section_in_every_format() {
    let r = report(&policy(RULES));
    let md = Format::Md.render(&r);
    insta::assert_snapshot!(
        "purpose_markdown",
        part(&md, "## Meeting purposes", "\n## ")
    );
    let html = Format::Html.render(&r);
    insta::assert_snapshot!("purpose_html", part(&html, "<h2>Meeting purposes", "<h2>"));
    insta::assert_snapshot!("purpose_csv", Format::Csv.render(&r));
    let json: serde_json::Value = serde_json::from_str(&Format::Json.render(&r)).unwrap();
    insta::assert_snapshot!(
        "purpose_json",
        serde_json::to_string_pretty(&json["purposes"]).unwrap()
    );
    let chat = gatekeeper::report::markdown::summary(&r);
    assert!(
        chat.contains(
            "4 of 5 meetings (80%) stated a purpose the team accepts; 3 decision meetings, 1 without a written record."
        ),
        "{chat}"
    );
}
