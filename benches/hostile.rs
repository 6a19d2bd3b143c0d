//! The calendar layer on hostile and unusually large input (issue 9): the
//! worst cases the issue names, generated here so the figures can be
//! reproduced. Each case runs the parts gatekeeper runs for an item: parse,
//! expand every series over a year, and write one member's answer into
//! every VEVENT they are invited to (each edit on the previous edit's
//! output, as the daemon does, through `edit::ItemEditor`; before that
//! existed, through `set_response` on the previous result).
//!
//! Run with `cargo bench --bench hostile` (all cases) or
//! `cargo bench --bench hostile -- CASE` for one of `big-file`,
//! `moved-800`, `long`, `nested`, `huge-invite`. Peak memory is read from
//! `/proc/self/status` (VmHWM), so run a memory case on its own.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatekeeper::calendar::PartStat;
use gatekeeper::calendar::edit::{ItemEditor, ResponseEdit};
use gatekeeper::calendar::ical::parse_ics;
use gatekeeper::calendar::recurrence::{expand, group_by_uid};

const ME: &str = "me@example.com";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// 3,000 ordinary invites in one file, about 1.2 MB.
fn big_file(n: usize) -> String {
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n");
    for i in 0..n {
        let day = 1 + i % 28;
        let hour = 8 + i % 9;
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:event-{i}@example.com\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:202603{day:02}T{hour:02}0000Z\r\nDTEND:202603{day:02}T{hour:02}3000Z\r\n\
             SUMMARY:Meeting number {i} about the quarterly numbers\r\n\
             DESCRIPTION:Agenda: review the numbers\\, decide on the plan\\, assign owners.\r\n\
             ORGANIZER;CN=Organizer:mailto:boss@example.com\r\n\
             ATTENDEE;CN=Boss;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:boss@example.com\r\n\
             ATTENDEE;CN=Me;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{ME}\r\n\
             ATTENDEE;CN=Other;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:other@example.com\r\n\
             END:VEVENT\r\n"
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// A weekly series of 1,000 with 800 of its occurrences moved by an hour.
fn moved(n_moved: usize) -> String {
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:series@example.com\r\n\
         DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=DAILY;COUNT=1000\r\n\
         SUMMARY:Daily sync\r\nORGANIZER:mailto:boss@example.com\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:me@example.com\r\nEND:VEVENT\r\n",
    );
    let start = t("2026-01-05T09:00:00Z");
    for k in 0..n_moved {
        let rid = start + chrono::Duration::days(k as i64);
        let moved = rid + chrono::Duration::hours(1);
        let f = |x: DateTime<Utc>| x.format("%Y%m%dT%H%M%SZ").to_string();
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:series@example.com\r\nRECURRENCE-ID:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n\
             SUMMARY:Daily sync (moved)\r\nORGANIZER:mailto:boss@example.com\r\n\
             ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:me@example.com\r\nEND:VEVENT\r\n",
            f(rid),
            f(moved),
            f(moved + chrono::Duration::hours(1)),
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// Meetings of absurd length: `DURATION:P999999W`, a DTEND in 3026, and a
/// daily series whose every occurrence lasts a thousand years.
fn long() -> String {
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:weeks\r\nDTSTART:20260302T090000Z\r\nDURATION:P999999W\r\n\
     ATTENDEE:mailto:me@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:millennium\r\n\
     DTSTART:20260302T090000Z\r\nDTEND:30260302T090000Z\r\nATTENDEE:mailto:me@example.com\r\n\
     END:VEVENT\r\nBEGIN:VEVENT\r\nUID:daily-millennium\r\nDTSTART:20260302T090000Z\r\n\
     DTEND:30260302T090000Z\r\nRRULE:FREQ=DAILY\r\nATTENDEE:mailto:me@example.com\r\n\
     END:VEVENT\r\nEND:VCALENDAR\r\n"
        .to_string()
}

/// 300,000 nested components around one ordinary event.
fn nested(depth: usize) -> String {
    let mut s = String::from("BEGIN:VCALENDAR\r\n");
    for _ in 0..depth {
        s.push_str("BEGIN:X-NEST\r\n");
    }
    for _ in 0..depth {
        s.push_str("END:X-NEST\r\n");
    }
    s.push_str(
        "BEGIN:VEVENT\r\nUID:inner\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n\
         ATTENDEE:mailto:me@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    s
}

/// One 12 MB invite: 100,000 attendees and a long description.
fn huge_invite() -> String {
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:huge\r\nDTSTART:20260302T090000Z\r\n\
         DTEND:20260302T100000Z\r\nSUMMARY:All hands\r\nDESCRIPTION:",
    );
    for _ in 0..20_000 {
        s.push_str("All hands agenda\\, read it.\r\n ");
    }
    s.push_str("end\r\n");
    for i in 0..100_000 {
        s.push_str(&format!(
            "ATTENDEE;CN=Person {i};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:person{i}@example.com\r\n"
        ));
    }
    s.push_str(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:me@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    s
}

/// Parse, expand every series over 2026, and answer every VEVENT `ME`
/// attends. Returns (occurrences, edits).
fn answer_all(text: &str) -> (usize, usize) {
    let Ok(parsed) = parse_ics(text) else {
        return (0, 0);
    };
    let from = t("2026-01-01T00:00:00Z");
    let to = t("2027-01-01T00:00:00Z");
    let mut occurrences = 0;
    let mut targets = Vec::new();
    for group in group_by_uid(parsed.events) {
        occurrences += expand(&group, chrono_tz::UTC, from, to, 10_000)
            .occurrences
            .len();
        for e in &group {
            if e.attendee(ME).is_some() {
                targets.push((e.uid.clone(), e.recurrence_id));
            }
        }
    }
    // As the daemon does: one editor per item, each answer written (here:
    // kept) before the next.
    let Ok(mut editor) = ItemEditor::new(text.as_bytes()) else {
        return (occurrences, 0);
    };
    let mut edits = 0;
    for (uid, recurrence_id) in &targets {
        let edit = ResponseEdit {
            uid,
            recurrence_id: *recurrence_id,
            attendee: ME,
            partstat: PartStat::Declined,
            comment: Some("Declined by gatekeeper: outside working hours"),
            marker: Some(PartStat::Declined),
            marker_rules: &[],
        };
        if let Ok(pending) = editor.edit(&edit) {
            black_box(pending.bytes());
            editor.commit(pending);
            edits += 1;
        }
    }
    black_box(editor.bytes());
    (occurrences, edits)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn run(name: &str, text: &str, rounds: usize) {
    let mut times: Vec<Duration> = Vec::new();
    let mut shape = (0, 0);
    for _ in 0..rounds {
        let started = Instant::now();
        shape = answer_all(black_box(text));
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "{name:<12} {:>9} bytes  {:>6} occ.  {:>5} edits  median {:>10.1?}  (min {:.1?}, max {:.1?})",
        text.len(),
        shape.0,
        shape.1,
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
    );
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if wanted("big-file") {
        run("big-file", &big_file(3_000), 3);
    }
    if wanted("moved-800") {
        run("moved-800", &moved(800), 3);
    }
    if wanted("long") {
        run("long", &long(), 3);
    }
    if wanted("nested") {
        run("nested", &nested(300_000), 1);
    }
    if wanted("huge-invite") {
        let text = huge_invite();
        let before = peak_rss_mib();
        run("huge-invite", &text, 1);
        if let (Some(before), Some(after)) = (before, peak_rss_mib()) {
            println!(
                "huge-invite  peak RSS {after:.0} MiB (input {:.1} MiB, {before:.0} MiB before parsing)",
                text.len() as f64 / (1024.0 * 1024.0)
            );
        }
    }
}
