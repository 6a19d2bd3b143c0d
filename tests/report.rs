//! The weekly meeting-load report: statistics on small inline calendars,
//! private titles, escaping, snapshots of Markdown, CSV and a trimmed
//! HTML, the schedule across DST changes, the chat webhook against a local
//! server, the config section, the CLI on the demo, and the HTML rendered
//! in headless Chromium.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use gatekeeper::calendar::ical::parse_ics;
use gatekeeper::calendar::recurrence::group_by_uid;
use gatekeeper::policy::model::Policy;
use gatekeeper::report::stats::{Input, MemberCalendar, Settings, main_zone};
use gatekeeper::report::{Format, IsoWeek, WeeklyReport, weekly_report};
use gatekeeper::store::{DecisionRecord, Findings, LoggedAction, Outcome};

fn policy(extra_members: &str) -> Policy {
    let src = format!(
        r#"
[team]
name = "core"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:00"

[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"
{extra_members}
[[rule]]
kind = "meeting_free_days"
action = "decline"
days = ["wednesday"]
"#
    );
    let (p, diags) = gatekeeper::policy::parse::parse_policy(&src, "core.toml");
    p.unwrap_or_else(|| panic!("{diags:?}"))
}

/// A VEVENT between ana (organizer) and bo, with the given extra lines.
fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Meeting {uid}\r\nORGANIZER:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\n{extra}END:VEVENT\r\n"
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

fn decision(
    member: &str,
    action: &str,
    at: &str,
    organizer: &str,
    rules: &[&str],
) -> DecisionRecord {
    DecisionRecord {
        id: 0,
        decided_at: at.parse().unwrap(),
        source: "s".into(),
        calendar: "work".into(),
        member: member.into(),
        uid: "gone@x".into(),
        recurrence_id: String::new(),
        title: "(private event)".into(),
        organizer: organizer.into(),
        action: LoggedAction::parse(action),
        response: None,
        // Read from the stored form, as the report reads the log.
        findings: Findings::from_stored(
            &serde_json::Value::Array(
                rules
                    .iter()
                    .map(|r| serde_json::json!({"rule": r, "action": action}))
                    .collect(),
            )
            .to_string(),
        ),
        exemption: None,
        comment: None,
        policy_hash: "h".into(),
        outcome: Outcome::Applied,
        error: None,
    }
}

fn build(
    policy: &Policy,
    cals: &[MemberCalendar],
    decisions: &[DecisionRecord],
    week: &str,
) -> WeeklyReport {
    let ledger = HashMap::new();
    let input = Input {
        policy,
        calendars: cals,
        decisions,
        ledger: &ledger,
        settings: Settings::default(),
    };
    weekly_report(&input, IsoWeek::parse(week).unwrap())
}

/// Week 2026-W49: Monday 30 November 2026. Lisbon is UTC+0 then, New York
/// UTC−5.
fn sample() -> (Policy, Vec<MemberCalendar>, Vec<DecisionRecord>) {
    let p = policy("");
    let ana = calendar(
        "ana@example.com",
        &[
            // Mon 10:00–11:00 Lisbon: in ana's hours, 05:00 for bo.
            event("a", "20261130T100000Z", "20261130T110000Z", ""),
            // Daily 15:00–15:30 UTC from Tue, 3 times: in both people's hours.
            event("d", "20261201T150000Z", "20261201T153000Z", "RRULE:FREQ=DAILY;COUNT=3\r\n"),
            // Wed (meeting-free) 14:00–15:00, private.
            event(
                "p",
                "20261202T140000Z",
                "20261202T150000Z",
                "CLASS:PRIVATE\r\nSUMMARY:Secret <script>alert(1)</script> plan\r\n",
            ),
            // All-day: never a meeting.
            "BEGIN:VEVENT\r\nUID:ad\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261203\r\nSUMMARY:Offsite\r\nORGANIZER:mailto:ana@example.com\r\nATTENDEE:mailto:bo@example.com\r\nEND:VEVENT\r\n".into(),
            // Declined by gatekeeper: Thu 09:00–10:00, given back.
            "BEGIN:VEVENT\r\nUID:g\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261203T090000Z\r\nDTEND:20261203T100000Z\r\nSUMMARY:Sync\r\nORGANIZER:mailto:bo@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\nATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.com\r\nX-GATEKEEPER-PARTSTAT:DECLINED\r\nEND:VEVENT\r\n".into(),
            // One person alone: not a meeting.
            "BEGIN:VEVENT\r\nUID:solo\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261204T090000Z\r\nDTEND:20261204T120000Z\r\nSUMMARY:Write\r\nEND:VEVENT\r\n".into(),
            // Two weeks earlier, for the trend.
            event("old", "20261116T100000Z", "20261116T120000Z", ""),
        ],
    );
    let bo = calendar(
        "bo@example.com",
        &[
            event("a", "20261130T100000Z", "20261130T110000Z", ""),
            event(
                "d",
                "20261201T150000Z",
                "20261201T153000Z",
                "RRULE:FREQ=DAILY;COUNT=3\r\n",
            ),
        ],
    );
    let decisions = vec![
        decision(
            "ana@example.com",
            "decline",
            "2026-12-01T08:00:00Z",
            "bo@example.com",
            &["agenda", "working_hours"],
        ),
        decision(
            "ana@example.com",
            "annotate",
            "2026-12-01T08:00:00Z",
            "bo@example.com",
            &["min_notice"],
        ),
        decision(
            "bo@example.com",
            "allow",
            "2026-12-01T08:00:00Z",
            "ana@example.com",
            &[],
        ),
        // Outside the week: not counted.
        decision(
            "ana@example.com",
            "decline",
            "2026-11-20T08:00:00Z",
            "bo@example.com",
            &["agenda"],
        ),
    ];
    (p, vec![ana, bo], decisions)
}

#[test]
fn main_zone_is_the_most_shared_then_the_first_members() {
    let p = policy("");
    assert_eq!(main_zone(&p), Tz::Europe__Lisbon);
    let p = policy(
        "[[member]]\nemail = \"cy@example.com\"\ntime_zone = \"America/New_York\"\nworking_hours = \"09:00-17:00\"\n",
    );
    assert_eq!(main_zone(&p), Tz::America__New_York);
}

#[test]
fn iso_weeks_parse_and_bound_in_the_zone() {
    let w = IsoWeek::parse("2026-W49").unwrap();
    assert_eq!(w.to_string(), "2026-W49");
    let (s, e) = w.bounds(Tz::America__New_York);
    assert_eq!(s.to_rfc3339(), "2026-11-30T05:00:00+00:00");
    assert_eq!(e.to_rfc3339(), "2026-12-07T05:00:00+00:00");
    assert!(IsoWeek::parse("2026-W54").is_none());
    assert!(IsoWeek::parse("2026-49").is_none());
    assert_eq!(w.previous().to_string(), "2026-W48");
    assert_eq!(
        IsoWeek::parse("2027-W01").unwrap().previous().to_string(),
        "2026-W53"
    );
    let now: DateTime<Utc> = "2026-12-07T09:00:00Z".parse().unwrap();
    assert_eq!(
        IsoWeek::last_complete(now, Tz::Europe__Lisbon).to_string(),
        "2026-W49"
    );
}

#[test]
fn per_person_figures() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    let ana = &r.members[0];
    assert_eq!(ana.email, "ana@example.com");
    // 60 + 3 × 30 + 60 (private, Wednesday) minutes; the all-day event,
    // the solo block and the declined one do not count.
    assert_eq!((ana.meetings, ana.meeting_minutes), (5, 210));
    assert_eq!(
        ana.meeting_free_days,
        gatekeeper::report::stats::Tally {
            count: 2,
            minutes: 90
        }
    );
    assert_eq!(ana.outside_hours.count, 0);
    assert_eq!(ana.working_minutes, 5 * 8 * 60);
    assert_eq!(
        ana.given_back,
        gatekeeper::report::stats::Tally {
            count: 1,
            minutes: 60
        }
    );
    assert_eq!((ana.screened, ana.annotated, ana.declined), (2, 1, 1));
    assert_eq!(ana.declines_unknown_length, 1);
    // Bo: the Monday meeting is 05:00 in New York, outside his hours.
    let bo = &r.members[1];
    assert_eq!((bo.meetings, bo.meeting_minutes), (4, 150));
    assert_eq!(
        bo.outside_hours,
        gatekeeper::report::stats::Tally {
            count: 1,
            minutes: 60
        }
    );
    assert!(bo.burden > 0);
    assert_eq!(r.totals.distinct_meetings, 5);
    assert_eq!(r.organizers[0].organizer, "bo@example.com");
    assert_eq!(r.organizers[0].rules.len(), 3);
    // Bo's hours hold only the daily meeting; ana's hold every meeting.
    assert_eq!(r.hours_of[0].member, "ana@example.com");
    assert!((r.hours_of[0].share - 1.0).abs() < 1e-9);
    // Trend: four weeks before, oldest first; W47 has the old meeting
    // (only in ana's calendar).
    let weeks: Vec<&str> = r.trend.iter().map(|t| t.week.as_str()).collect();
    assert_eq!(
        weeks,
        ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    );
    assert_eq!(r.trend[2].meeting_minutes, 120);
    // The heat map holds every person-minute.
    let heat: u32 = r.heatmap.iter().flat_map(|d| d.iter()).sum();
    assert_eq!(heat, 210 + 150);
}

#[test]
fn focus_time_counts_free_working_stretches_of_the_block_length() {
    let p = policy("");
    // Ana: Monday 11:00–12:00 busy splits 09–17 into 2 h and 5 h.
    let ana = calendar(
        "ana@example.com",
        &[event("m", "20261130T110000Z", "20261130T120000Z", "")],
    );
    let r = build(&p, &[ana], &[], "2026-W49");
    let m = &r.members[0];
    assert_eq!(m.focus_blocks, 6);
    assert_eq!(m.focus_minutes, 7 * 60 + 4 * 8 * 60);
    // Bo has no calendar: unknown, not free.
    assert!(!r.members[1].has_calendar);
    assert_eq!(r.members[1].focus_minutes, 0);
    assert!(r.notes.iter().any(|n| n.contains("bo@example.com")));
}

#[test]
fn private_titles_never_appear_in_any_format() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    assert!(
        r.members[0]
            .notable
            .iter()
            .any(|n| n.title == "(private event)")
    );
    for f in [Format::Md, Format::Html, Format::Json, Format::Csv] {
        let text = f.render(&r);
        assert!(!text.contains("Secret"), "{f:?} leaks a private title");
        assert!(!text.contains("alert(1)"), "{f:?} leaks a private title");
    }
}

#[test]
fn user_text_is_escaped_in_html_and_markdown() {
    let p = policy("");
    let ana = calendar(
        "ana@example.com",
        &[
            event("x", "20261202T100000Z", "20261202T110000Z", "").replace(
                "SUMMARY:Meeting x",
                "SUMMARY:<script>alert('x')</script> | *bold*",
            ),
        ],
    );
    let mut d = decision(
        "ana@example.com",
        "decline",
        "2026-12-01T08:00:00Z",
        "<img src=x onerror=alert(1)>@evil",
        &["agenda"],
    );
    d.uid = "x".into();
    let r = build(&p, &[ana], &[d], "2026-W49");
    let html = Format::Html.render(&r);
    assert!(!html.contains("<script"), "unescaped script in HTML");
    assert!(!html.contains("<img"), "unescaped img in HTML");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "external request"
    );
    let md = Format::Md.render(&r);
    assert!(!md.contains("<script"), "unescaped script in Markdown");
    assert!(md.contains("\\| \\*bold\\*"));
    let csv = Format::Csv.render(&r);
    assert_eq!(
        gatekeeper::report::csv::field("=HYPERLINK(1)"),
        "'=HYPERLINK(1)"
    );
    assert_eq!(gatekeeper::report::csv::field("a,\"b\""), "\"a,\"\"b\"\"\"");
    assert!(csv.starts_with("team,week,member"));
}

/// The HTML without its SVG bodies, which are long and belong to plotters.
fn trimmed_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("</svg>").map_or(rest.len(), |j| i + j + 6);
        let svg = &rest[i..end];
        let title = svg
            .split_once("<title>")
            .and_then(|(_, t)| t.split_once("</title>"))
            .map_or("", |(t, _)| t);
        out.push_str(&format!("<svg …>{title}</svg>"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn snapshots_of_markdown_csv_and_trimmed_html() {
    // SAFETY: tests in this file do not read NO_COLOR concurrently in a way
    // that matters; the formats never colour anyway.
    unsafe { std::env::set_var("NO_COLOR", "1") };
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    insta::assert_snapshot!("report_markdown", Format::Md.render(&r));
    insta::assert_snapshot!("report_csv", Format::Csv.render(&r));
    insta::assert_snapshot!(
        "report_html_trimmed",
        trimmed_html(&Format::Html.render(&r))
    );
    insta::assert_snapshot!(
        "report_chat_summary",
        gatekeeper::report::markdown::summary(&r)
    );
    let json: serde_json::Value = serde_json::from_str(&Format::Json.render(&r)).unwrap();
    assert_eq!(json["week"], "2026-W49");
    assert_eq!(json["members"][0]["meeting_minutes"], 210);
    assert_eq!(json["trend"].as_array().unwrap().len(), 5);
}

#[test]
fn html_is_self_contained_and_responsive() {
    let (p, cals, decisions) = sample();
    let html = Format::Html.render(&build(&p, &cals, &decisions, "2026-W49"));
    assert!(html.contains("<meta name=\"viewport\""));
    assert_eq!(html.matches("<svg").count(), 4);
    assert_eq!(html.matches("viewBox=").count(), 4);
    for bad in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "page is not self-contained: {bad}");
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn next_due_across_dst_changes() {
    use gatekeeper::report::schedule::next_due;
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    let half_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
    let cases: &[(&str, Tz, Weekday, NaiveTime, &str)] = &[
        // Plain: the next Monday 09:00 in Lisbon (UTC+0 in winter).
        (
            "2026-12-01T12:00:00Z",
            Tz::Europe__Lisbon,
            Weekday::Mon,
            nine,
            "2026-12-07T09:00:00Z",
        ),
        // Exactly at the due time: the next one, a week later.
        (
            "2026-12-07T09:00:00Z",
            Tz::Europe__Lisbon,
            Weekday::Mon,
            nine,
            "2026-12-14T09:00:00Z",
        ),
        // Just before it: today.
        (
            "2026-12-07T08:59:00Z",
            Tz::Europe__Lisbon,
            Weekday::Mon,
            nine,
            "2026-12-07T09:00:00Z",
        ),
        // Across spring forward (Lisbon 29 March 2026): 09:00 is UTC+1.
        (
            "2026-03-25T12:00:00Z",
            Tz::Europe__Lisbon,
            Weekday::Mon,
            nine,
            "2026-03-30T08:00:00Z",
        ),
        // Across fall back in New York (1 November 2026): UTC−5 after.
        (
            "2026-10-28T12:00:00Z",
            Tz::America__New_York,
            Weekday::Mon,
            nine,
            "2026-11-02T14:00:00Z",
        ),
        // 02:30 on the Sunday of the New York spring gap (8 March 2026) does
        // not exist: moved forward by the gap to 03:30 EDT.
        (
            "2026-03-02T00:00:00Z",
            Tz::America__New_York,
            Weekday::Sun,
            half_two,
            "2026-03-08T07:30:00Z",
        ),
        // 01:30 on the fall-back Sunday exists twice: the first (EDT).
        (
            "2026-10-26T00:00:00Z",
            Tz::America__New_York,
            Weekday::Sun,
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
            "2026-11-01T05:30:00Z",
        ),
        // East of UTC: Monday 09:00 in Singapore is Monday 01:00 UTC.
        (
            "2026-12-06T12:00:00Z",
            Tz::Asia__Singapore,
            Weekday::Mon,
            nine,
            "2026-12-07T01:00:00Z",
        ),
        // Sunday 19:00 UTC is already Monday 08:00 in Auckland (UTC+13 in
        // December): due the same UTC evening.
        (
            "2026-12-06T19:00:00Z",
            Tz::Pacific__Auckland,
            Weekday::Mon,
            nine,
            "2026-12-06T20:00:00Z",
        ),
    ];
    for (after, tz, day, time, want) in cases {
        assert_eq!(
            next_due(t(after), *tz, *day, *time),
            t(want),
            "after {after} in {tz}"
        );
    }
}

#[test]
fn report_config_section_parses_with_defaults_and_hides_the_webhook() {
    let base = "policies = [\"p\"]\n[store]\nsqlite = \"s.db\"\n";
    let c = gatekeeper::config::Config::parse(&format!("{base}[report]\n")).unwrap();
    let r = c.report.unwrap();
    assert_eq!(r.weekday, Weekday::Mon);
    assert_eq!(r.time, NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    assert_eq!(r.focus_block_minutes, 120);
    assert_eq!(r.formats, vec![Format::Md, Format::Html]);
    assert!(r.time_zone.is_none());
    let c = gatekeeper::config::Config::parse(&format!(
        "{base}[report]\nfolder = \"out\"\nweekday = \"friday\"\ntime = \"17:30\"\ntime_zone = \"Asia/Singapore\"\nfocus_block_minutes = 90\nformats = [\"json\", \"csv\"]\nchat_webhook_url = \"https://hooks.example.test/T000/B000/XXXXSECRET\"\n"
    ))
    .unwrap();
    let r = c.report.clone().unwrap();
    assert_eq!(r.weekday, Weekday::Fri);
    assert_eq!(r.time_zone, Some(Tz::Asia__Singapore));
    assert_eq!(r.formats, vec![Format::Json, Format::Csv]);
    assert!(
        !format!("{c:?}").contains("XXXXSECRET"),
        "the webhook URL leaks through Debug"
    );
    for bad in [
        "weekday = \"mon\"",
        "time = \"9am\"",
        "time_zone = \"Mars/Base\"",
        "formats = [\"pdf\"]",
        "colour = true",
    ] {
        assert!(
            gatekeeper::config::Config::parse(&format!("{base}[report]\n{bad}\n")).is_err(),
            "{bad} should be rejected"
        );
    }
}

/// A one-shot HTTP server on 127.0.0.1 that records the request body and
/// answers with `status`.
fn serve_once(
    status: u16,
) -> (
    String,
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<()>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    tx.send(format!("{head}\r\n\r\n{body}")).unwrap();
                    break;
                }
            }
        }
        let reason = if status == 200 { "OK" } else { "Error" };
        let _ = write!(
            s,
            "HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        );
    });
    (
        format!("http://{addr}/services/T000/B000/XXXXSECRET"),
        rx,
        handle,
    )
}

#[test]
fn chat_webhook_posts_the_summary_as_json() {
    let (url, rx, handle) = serve_once(200);
    let secret = gatekeeper::config::Secret::new(url);
    gatekeeper::report::chat::post(&secret, "*Meeting load* <&>").unwrap();
    let req = rx.recv().unwrap();
    handle.join().unwrap();
    assert!(
        req.starts_with("POST /services/T000/B000/XXXXSECRET HTTP/1.1"),
        "{req}"
    );
    assert!(
        req.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    let body: serde_json::Value =
        serde_json::from_str(req.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["text"], "*Meeting load* <&>");
}

#[test]
fn chat_webhook_errors_never_show_the_url() {
    let (url, _rx, handle) = serve_once(500);
    let err =
        gatekeeper::report::chat::post(&gatekeeper::config::Secret::new(url), "x").unwrap_err();
    handle.join().unwrap();
    assert!(err.contains("500"), "{err}");
    assert!(!err.contains("XXXXSECRET"), "{err}");
    // Nothing listens here: a connection error, still without the URL.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook/XXXXSECRET", l.local_addr().unwrap());
    drop(l);
    let err =
        gatekeeper::report::chat::post(&gatekeeper::config::Secret::new(dead), "x").unwrap_err();
    assert!(!err.contains("XXXXSECRET"), "{err}");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn cli_report_on_the_demo_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/demo"), dir.path());
    let config = dir.path().join("gatekeeper.toml");
    // Screen first so the log has decisions.
    let out = assert_cmd::Command::cargo_bin("gatekeeper")
        .unwrap()
        .args(["run", "--once", "--now", "2026-11-30T08:00:00Z", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("gatekeeper")
            .unwrap()
            .env("NO_COLOR", "1")
            .arg("report")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--week", "2026-W49"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("# Meeting load: demo — 2026-W49"), "{md}");
    // Default week from --now: the last complete week in Lisbon.
    let out = run(&["--now", "2026-12-08T10:00:00Z", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["week"], "2026-W49");
    assert!(json["totals"]["declined"].as_u64().unwrap() > 0);
    assert_eq!(json["organizers"][0]["organizer"], "bo@example.com");
    let html = dir.path().join("r.html");
    let out = run(&[
        "--week",
        "2026-W49",
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let out = run(&["--week", "2026-W49", "--format", "csv"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("team,week,member"));
    // Bad arguments: exit 2.
    assert_eq!(run(&["--week", "2026-49"]).status.code(), Some(2));
    assert_eq!(run(&["--team", "nope"]).status.code(), Some(2));
}

#[test]
fn scheduled_report_is_written_once_per_week() {
    use gatekeeper::store::Store;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/demo"), dir.path());
    let path = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\n[report]\nfolder = \"reports\"\nformats = [\"md\", \"json\"]\n"),
    )
    .unwrap();
    let config = gatekeeper::config::Config::load(&path).unwrap();
    let team = gatekeeper::team::Team::load(&config.policies).unwrap();
    let mut store = gatekeeper::store::sqlite::SqliteStore::in_memory().unwrap();
    // Sunday: not due yet for this week's Monday; the previous Monday's
    // report (W48) is.
    let now = t("2026-12-06T12:00:00Z");
    let due = gatekeeper::report::schedule::next_due_for(&config, &team, now).unwrap();
    assert_eq!(due, t("2026-12-07T09:00:00Z"));
    let (done, problems) =
        gatekeeper::report::schedule::run_scheduled(&config, &mut store, &team, due);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(dir.path().join("reports/demo-2026-W49.md").exists());
    assert!(dir.path().join("reports/demo-2026-W49.json").exists());
    assert_eq!(
        store.meta("report.last_week.demo").unwrap().as_deref(),
        Some("2026-W49")
    );
    // A restart an hour later produces nothing new.
    let (done, _) = gatekeeper::report::schedule::run_scheduled(
        &config,
        &mut store,
        &team,
        due + chrono::Duration::hours(1),
    );
    assert!(done.is_empty(), "{done:?}");
}

/// Headless Chromium, or `None` after saying loudly that the test skips.
/// The message goes straight to the terminal: libtest hides `eprintln!`
/// output of a passing test, which made a skip look like a pass. With
/// GATEKEEPER_REQUIRE_CHROMIUM=1 (which `.ci/run` sets after installing
/// it) a missing Chromium fails the test instead.
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

/// Chromium's DOM of `html` after layout, in a window `width` wide.
fn dump_dom(chromium: &Path, html: &Path, width: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},900"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page as people see it: at desktop width the people table fits
/// without scrolling, and on a phone no chart text is smaller than 11 px.
/// A script added to a copy of the page measures the laid-out page and
/// writes the figures into the DOM Chromium dumps.
#[test]
fn html_layout_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip("html_layout_in_headless_chromium") else {
        return;
    };
    let (p, cals, decisions) = sample();
    let page = Format::Html.render(&build(&p, &cals, &decisions, "2026-W49"));
    let probe = r#"<script>
const wrap = document.querySelector('.scroll');
let minText = 1e9;
for (const svg of document.querySelectorAll('svg')) {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  for (const t of svg.querySelectorAll('text')) {
    minText = Math.min(minText, parseFloat(t.getAttribute('font-size')) * scale);
  }
}
document.body.setAttribute('data-overflow', String(wrap.scrollWidth - wrap.clientWidth));
document.body.setAttribute('data-min-text', minText.toFixed(1));
</script></body>"#;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    std::fs::write(&html, page.replace("</body>", probe)).unwrap();
    let attr = |dom: &str, name: &str| -> f64 {
        dom.split_once(&format!("{name}=\""))
            .and_then(|(_, r)| r.split_once('"'))
            .and_then(|(v, _)| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {dom:.300}"))
    };
    let desktop = dump_dom(&chromium, &html, 1366);
    assert!(
        attr(&desktop, "data-overflow") <= 1.0,
        "the people table is cut off at 1366 px: {} px hidden",
        attr(&desktop, "data-overflow")
    );
    let phone = dump_dom(&chromium, &html, 412);
    assert!(
        attr(&phone, "data-min-text") >= 11.0,
        "chart text is {} px on a phone",
        attr(&phone, "data-min-text")
    );
}

/// Headless Chromium renders the page and the charts are in its DOM.
#[test]
fn html_renders_in_headless_chromium() {
    let Some(chromium) = chromium_or_skip("html_renders_in_headless_chromium") else {
        return;
    };
    let (p, cals, decisions) = sample();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    std::fs::write(
        &html,
        Format::Html.render(&build(&p, &cals, &decisions, "2026-W49")),
    )
    .unwrap();
    let dom = dump_dom(&chromium, &html, 412);
    assert!(
        dom.contains("Meeting load: core — 2026-W49"),
        "page did not render: {dom:.500}"
    );
    assert_eq!(
        dom.matches("<svg").count(),
        4,
        "charts missing from the DOM"
    );
    for title in [
        "Hours in meetings per person, by kind",
        "Burden by time zone",
        "Meeting load by weekday and hour",
        "Trend over the last five weeks",
    ] {
        assert!(
            dom.contains(&format!("<title>{title}</title>")),
            "chart `{title}` missing"
        );
    }
    assert!(!dom.contains("<script"), "a script got into the page");
}

#[test]
fn organizers_table_agrees_with_the_headline_in_observe_mode() {
    let (p, cals, mut decisions) = sample();
    let mut observed = decision(
        "bo@example.com",
        "decline",
        "2026-12-02T08:00:00Z",
        "pat@acme.test",
        &["agenda"],
    );
    observed.outcome = Outcome::Observed;
    decisions.push(observed);
    let r = build(&p, &cals, &decisions, "2026-W49");
    let acted: (u32, u32) = r
        .organizers
        .iter()
        .fold((0, 0), |(a, d), g| (a + g.annotated, d + g.declined));
    assert_eq!(acted, (r.totals.annotated, r.totals.declined));
    let only_logged: u32 = r.organizers.iter().map(|g| g.observed).sum();
    assert_eq!(only_logged, r.totals.observed);
    assert_eq!(only_logged, 1);
    let pat = r
        .organizers
        .iter()
        .find(|g| g.organizer == "pat@acme.test")
        .unwrap();
    assert_eq!((pat.annotated, pat.declined, pat.observed), (0, 0, 1));
    let md = Format::Md.render(&r);
    assert!(md.contains("and only logged 1 (observe mode)"), "{md}");
    assert!(
        md.contains("| pat@acme.test | 0 | 0 | 1 | agenda ×1 |"),
        "{md}"
    );
}

#[test]
fn a_week_with_nothing_screened_does_not_claim_a_screening() {
    // The sample's gatekeeper decline of ana's Thursday sync still stands,
    // but nothing was decided this week.
    let (p, cals, _) = sample();
    let r = build(&p, &cals, &[], "2026-W49");
    assert_eq!(r.totals.screened, 0);
    assert!(r.totals.given_back.minutes > 0);
    let (_, rest) = gatekeeper::report::headline(&r);
    assert!(
        rest.contains("gatekeeper screened no invites this week."),
        "{rest}"
    );
    assert!(
        rest.contains("Meetings it declined that still stand free 1.0 h this week."),
        "{rest}"
    );
    assert!(!rest.contains("gave back"), "{rest}");
}

#[test]
fn every_figure_says_what_it_measures() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    for text in [Format::Md.render(&r), Format::Html.render(&r)] {
        for label in [
            "in-hours meetings, % of working time",
            "burden (weighted min)",
            "where 1 means everyone carries the same and 0 means one person carries it all",
            "evenness",
        ] {
            assert!(text.contains(label), "missing {label:?}");
        }
        assert!(
            !text.contains("fairness index"),
            "the unbounded index is shown"
        );
    }
}

#[test]
fn evenness_is_bounded() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(
            &proptest::collection::vec(0u32..100_000, 1..12),
            |burdens| {
                let names: Vec<String> = (0..burdens.len()).map(|i| format!("m{i}")).collect();
                let f = gatekeeper::fairness::figures(
                    names
                        .iter()
                        .map(String::as_str)
                        .zip(burdens.iter().copied()),
                );
                let evenness = (1.0 - f.gini).clamp(0.0, 1.0);
                prop_assert!((0.0..=1.0).contains(&evenness));
                prop_assert!(f.gini >= -1e-9 && f.gini <= 1.0 + 1e-9, "gini {}", f.gini);
                Ok(())
            },
        )
        .unwrap();
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    assert!((0.0..=1.0).contains(&r.fairness.evenness));
    assert!(r.trend.iter().all(|t| (0.0..=1.0).contains(&t.evenness)));
}

#[test]
fn the_chat_summary_has_no_backslash_escapes() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    let s = gatekeeper::report::markdown::summary(&r);
    assert!(s.contains("America/New_York"), "{s}");
    assert!(!s.contains('\\'), "Slack shows backslashes as typed: {s}");
    assert_eq!(
        gatekeeper::report::markdown::escape_slack("a <b> & c_d *e*"),
        "a &lt;b&gt; &amp; c_d *e*"
    );
    // The full Markdown leaves in-word underscores alone, and still escapes
    // one that could start emphasis.
    assert_eq!(
        gatekeeper::report::markdown::escape("America/New_York _x_"),
        "America/New_York \\_x\\_"
    );
}

/// `(y, text)` of every `<text>` element of an SVG, in order.
fn svg_texts(svg: &str) -> Vec<(f64, String)> {
    svg.split("<text ")
        .skip(1)
        .map(|t| {
            let y = t
                .split_once(" y=\"")
                .and_then(|(_, r)| r.split_once('"'))
                .and_then(|(y, _)| y.parse().ok())
                .unwrap_or(f64::NAN);
            let body = t
                .split_once('>')
                .and_then(|(_, r)| r.split_once("</text>"))
                .map_or("", |(b, _)| b.trim());
            (y, body.to_string())
        })
        .collect()
}

/// `(y, height)` of every filled `<rect>`.
fn svg_rects(svg: &str) -> Vec<(f64, f64)> {
    let attr = |t: &str, name: &str| {
        t.split_once(&format!(" {name}=\""))
            .and_then(|(_, r)| r.split_once('"'))
            .and_then(|(v, _)| v.parse::<f64>().ok())
    };
    svg.split("<rect")
        .skip(1)
        .filter_map(|t| Some((attr(t, "y")?, attr(t, "height")?)))
        .collect()
}

#[test]
fn the_heat_map_has_seven_day_labels_centred_on_their_rows() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    let svg = gatekeeper::report::charts::heatmap(&r).unwrap();
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut labels: Vec<(f64, String)> = svg_texts(&svg)
        .into_iter()
        .filter(|(_, t)| days.contains(&t.as_str()))
        .collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(
        labels.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
        days,
        "one label per day, Monday at the top"
    );
    // Cells are 1 px inside their row on each side; rows are the cells'
    // distinct vertical bands.
    let mut rows: Vec<(f64, f64)> = svg_rects(&svg)
        .into_iter()
        .filter(|(_, h)| *h < 100.0)
        .map(|(y, h)| (y, y + h))
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.dedup();
    assert_eq!(rows.len(), 7, "seven rows of cells: {rows:?}");
    for ((y, day), (top, bottom)) in labels.iter().zip(&rows) {
        let middle = (top + bottom) / 2.0;
        assert!(
            (y - middle).abs() <= (bottom - top) / 4.0,
            "{day} at y={y} is not centred on its row {top}..{bottom}"
        );
    }
}

#[test]
fn the_hours_chart_has_a_row_per_person_and_a_clear_axis_title() {
    let (p, cals, decisions) = sample();
    let r = build(&p, &cals, &decisions, "2026-W49");
    let svg = gatekeeper::report::charts::hours_by_person(&r).unwrap();
    let texts = svg_texts(&svg);
    let people: Vec<&(f64, String)> = texts
        .iter()
        .filter(|(_, t)| t == "ana" || t == "bo")
        .collect();
    assert_eq!(people.len(), 2, "{texts:?}");
    // The axis title sits below every tick label, not on one.
    let title_y = texts.iter().find(|(_, t)| t == "hours").unwrap().0;
    let tick_ys: Vec<f64> = texts
        .iter()
        .filter(|(_, t)| t.parse::<f64>().is_ok())
        .map(|(y, _)| *y)
        .collect();
    assert!(!tick_ys.is_empty());
    assert!(
        tick_ys.iter().all(|y| title_y > y + 20.0),
        "axis title at {title_y} collides with ticks at {tick_ys:?}"
    );
    // No empty rows: the people's rows fill the plot; the gap between the
    // top label and the plot's top is at most one row.
    let row = (people[0].0 - people[1].0).abs();
    let top_label = people.iter().map(|(y, _)| *y).fold(f64::MAX, f64::min);
    let legend_bottom = texts
        .iter()
        .filter(|(_, t)| t == "declined by gatekeeper")
        .map(|(y, _)| *y)
        .next()
        .unwrap();
    assert!(
        top_label - legend_bottom < 2.0 * row + 40.0,
        "empty rows between the legend ({legend_bottom}) and the first person ({top_label}), row {row}"
    );
}
