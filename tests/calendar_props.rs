//! Invariants of the calendar layer as properties over generated input
//! (issue 9, "fuzzed"): parsing never panics on any bytes, expansion stays
//! bounded on any RRULE, and an edit changes only its own lines, keeps
//! every other byte (any encoding, folding, line ending) and is a no-op the
//! second time. Case counts are bounded so the suite stays fast; the
//! `fuzz/` targets run the same entry points for as long as one likes.

use chrono::{DateTime, TimeZone, Utc};
use gatekeeper::calendar::EventTime;
use gatekeeper::calendar::PartStat;
use gatekeeper::calendar::edit::{ItemEditor, ResponseEdit, set_response_bytes};
use gatekeeper::calendar::ical::parse_ics_bytes;
use gatekeeper::calendar::recurrence::{expand, group_by_uid};
use proptest::prelude::*;

/// The rules a marker names (issue 8 writes them into the marker).
static RULES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["agenda".to_string(), "working_hours".to_string()]);

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid")
}

/// Lines that look like iCalendar, in any order and nesting, with junk.
fn ical_ish() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"BEGIN:VCALENDAR".to_vec()),
        Just(b"END:VCALENDAR".to_vec()),
        Just(b"BEGIN:VEVENT".to_vec()),
        Just(b"END:VEVENT".to_vec()),
        Just(b"BEGIN:VALARM".to_vec()),
        Just(b"END:VALARM".to_vec()),
        Just(b"END:VTODDO".to_vec()),
        Just(b"UID:x".to_vec()),
        Just(b"DTSTART:20260302T090000Z".to_vec()),
        Just(b"DTSTART;VALUE=DATE:20260302".to_vec()),
        Just(b"DTSTART;TZID=Europe/Berlin:20260302T090000".to_vec()),
        Just(b"DTEND:30260302T090000Z".to_vec()),
        Just(b"DURATION:P999999W".to_vec()),
        Just(b"RRULE:FREQ=DAILY;COUNT=-1;UNTIL=20260320".to_vec()),
        Just(b"RRULE:FREQ=MINUTELY".to_vec()),
        Just(b"RECURRENCE-ID;RANGE=THISANDFUTURE:20260303T090000Z".to_vec()),
        Just(b"EXDATE:20260303T090000Z,nonsense".to_vec()),
        Just(b"RDATE;VALUE=PERIOD:20260305T090000Z/PT3H".to_vec()),
        Just(b"ATTENDEE;CN=\"a:b\";PARTSTAT=ACCEPTED:mailto:me@example.com".to_vec()),
        Just(b" folded continuation".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    (
        proptest::collection::vec(line, 0..60),
        prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..])],
    )
        .prop_map(|(lines, eol)| {
            let mut out = Vec::new();
            for l in lines {
                out.extend_from_slice(&l);
                out.extend_from_slice(eol);
            }
            out
        })
}

/// An RRULE assembled from parts, valid or not.
fn rrule() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        prop_oneof![
            Just("SECONDLY"),
            Just("MINUTELY"),
            Just("HOURLY"),
            Just("DAILY"),
            Just("WEEKLY"),
            Just("MONTHLY"),
            Just("YEARLY"),
            Just("SOMETIMES"),
        ]
        .prop_map(|f| format!("FREQ={f}")),
        (-3i64..5000).prop_map(|n| format!("COUNT={n}")),
        (-2i64..400).prop_map(|n| format!("INTERVAL={n}")),
        (-40i32..40).prop_map(|n| format!("BYMONTHDAY={n}")),
        (-400i32..400).prop_map(|n| format!("BYYEARDAY={n}")),
        (-5i32..6).prop_map(|n| format!("BYDAY={n}MO,FR")),
        (0u32..14).prop_map(|n| format!("BYMONTH={n}")),
        (-3i32..4).prop_map(|n| format!("BYSETPOS={n}")),
        (0u32..25).prop_map(|n| format!("BYHOUR={n}")),
        (1990i32..2100).prop_map(|y| format!("UNTIL={y}0101T000000Z")),
        Just("WKST=XX".to_string()),
        "[A-Z=;,0-9-]{0,12}",
    ];
    proptest::collection::vec(part, 0..7).prop_map(|p| p.join(";"))
}

/// A run of bytes that is not a line break: ASCII, Latin-1, broken UTF-8.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no line break", |b| *b != b'\n' && *b != b'\r'),
        0..90,
    )
}

/// Fold `line` at the given byte positions (anywhere, even inside a UTF-8
/// character), as a sloppy client might.
fn folded(line: &[u8], cuts: &[usize], eol: &[u8]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .map(|c| c % (line.len() + 1))
        .filter(|c| *c > 0 && *c < line.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.extend_from_slice(&line[prev..c]);
        out.extend_from_slice(eol);
        out.push(b' ');
        prev = c;
    }
    out.extend_from_slice(&line[prev..]);
    out.extend_from_slice(eol);
    out
}

/// A calendar around one invite to `me@example.com`, with arbitrary bytes in
/// other people's lines and arbitrary folding.
fn invite() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((line_bytes(), proptest::collection::vec(any::<usize>(), 0..3)), 0..6),
        proptest::collection::vec(any::<usize>(), 0..3),
        prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..])],
        any::<bool>(),
    )
        .prop_map(|(junk, attendee_cuts, eol, existing_comment)| {
            let mut out = Vec::new();
            let mut push = |line: &[u8], cuts: &[usize]| out.extend(folded(line, cuts, eol));
            push(b"BEGIN:VCALENDAR", &[]);
            push(b"X-WR-CALNAME:Cal\xe9ndrier", &[]);
            push(b"BEGIN:VEVENT", &[]);
            push(b"UID:inv", &[]);
            push(b"DTSTART:20260302T090000Z", &[]);
            for (i, (bytes, cuts)) in junk.iter().enumerate() {
                let mut line = format!("X-JUNK-{i}:").into_bytes();
                line.extend_from_slice(bytes);
                push(&line, cuts);
                // Another attendee with the junk in a quoted parameter.
                let mut other_line = b"ATTENDEE;X-NOTE=\"".to_vec();
                other_line.extend(bytes.iter().filter(|b| **b != b'"'));
                other_line.extend_from_slice(format!("\";CN=O{i}:mailto:o{i}@example.com").as_bytes());
                push(&other_line, cuts);
            }
            let mut me = b"ATTENDEE;CN=\"M\xf6ller, \xc3".to_vec();
            me.extend_from_slice(b"\xa9\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:me@example.com");
            push(&me, &attendee_cuts);
            if existing_comment {
                push(b"COMMENT;X-GATEKEEPER=TRUE:old answer", &[20]);
            }
            push(b"SUMMARY:Caf\xe9 \xff\xfe", &[]);
            push(b"END:VEVENT", &[]);
            push(b"END:VCALENDAR", &[]);
            out.extend_from_slice(b"trailing \xe9 bytes");
            out
        })
}

/// Logical lines with their raw bytes (continuations included), minus the
/// ones an edit of `me@example.com` owns.
fn foreign_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut groups: Vec<Vec<u8>> = Vec::new();
    for physical in bytes.split_inclusive(|b| *b == b'\n') {
        match (physical.first(), groups.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.extend_from_slice(physical),
            _ => groups.push(physical.to_vec()),
        }
    }
    let unfolded = |g: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < g.len() {
            if g[i] == b'\r' || g[i] == b'\n' {
                let next = if g[i] == b'\r' && g.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                if matches!(g.get(next), Some(b' ' | b'\t')) {
                    i = next + 1;
                    continue;
                }
                break;
            }
            out.push(g[i]);
            i += 1;
        }
        out
    };
    groups
        .into_iter()
        .filter(|g| {
            let u = unfolded(g);
            let ours = u.starts_with(b"COMMENT;X-GATEKEEPER=TRUE")
                || u.starts_with(b"X-GATEKEEPER-PARTSTAT")
                || (u.starts_with(b"ATTENDEE") && u.ends_with(b"mailto:me@example.com"));
            !ours
        })
        .collect()
}

/// Inputs the fuzz targets found to crash, kept so they never come back
/// (`tests/fixtures/fuzz-regressions/`).
#[test]
fn fuzz_regressions_parse_and_expand() {
    let dir = format!(
        "{}/tests/fixtures/fuzz-regressions",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixture folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("readable");
        if let Ok(parsed) = parse_ics_bytes(&bytes) {
            for group in group_by_uid(parsed.events) {
                let exp = expand(
                    &group,
                    chrono_tz::Europe::Berlin,
                    utc(2026, 1, 1),
                    utc(2027, 1, 1),
                    200,
                );
                assert!(exp.occurrences.len() <= 200);
            }
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {dir}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse_ics_bytes(&bytes);
    }

    #[test]
    fn parsing_and_expanding_never_panic_on_ical_like_lines(bytes in ical_ish()) {
        if let Ok(parsed) = parse_ics_bytes(&bytes) {
            for group in group_by_uid(parsed.events) {
                let exp = expand(&group, chrono_tz::Europe::Berlin, utc(2026, 1, 1), utc(2027, 1, 1), 100);
                prop_assert!(exp.occurrences.len() <= 100);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn expansion_is_bounded_for_any_rrule(rule in rrule(), all_day in any::<bool>(), exdate in any::<bool>()) {
        let start = if all_day { "DTSTART;VALUE=DATE:20260105" } else { "DTSTART;TZID=America/New_York:20260105T093000" };
        let text = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:r\r\n{start}\r\nDURATION:P999999W\r\nRRULE:{rule}\r\n{}END:VEVENT\r\nEND:VCALENDAR\r\n",
            if exdate { "EXDATE;TZID=Europe/Paris:20260112T000000\r\n" } else { "" }
        );
        let parsed = parse_ics_bytes(text.as_bytes()).expect("a calendar");
        prop_assert_eq!(parsed.events.len(), 1);
        let group = group_by_uid(parsed.events);
        let exp = expand(&group[0], chrono_tz::UTC, utc(2026, 1, 1), utc(2026, 3, 1), 50);
        prop_assert!(exp.occurrences.len() <= 50);
        // DTSTART is always an instance unless excluded: never nothing.
        prop_assert!(!exp.occurrences.is_empty());
        for w in exp.occurrences.windows(2) {
            prop_assert!(w[0].start.to_utc(chrono_tz::UTC) <= w[1].start.to_utc(chrono_tz::UTC));
        }
    }

    #[test]
    fn an_edit_changes_only_its_own_lines_and_is_idempotent(
        input in invite(),
        answer in prop_oneof![Just(PartStat::Accepted), Just(PartStat::Declined), Just(PartStat::NeedsAction)],
        comment in proptest::option::of("[ -~\u{e9}\u{1F600}]{0,120}"),
        marker in any::<bool>(),
    ) {
        let edit = ResponseEdit {
            uid: "inv",
            recurrence_id: None,
            attendee: "ME@example.com",
            partstat: answer.clone(),
            comment: comment.as_deref(),
            marker: marker.then(|| answer.clone()),
            marker_rules: &RULES,
        };
        let once = set_response_bytes(&input, &edit).expect("edit applies");
        prop_assert_eq!(foreign_lines(&input), foreign_lines(&once));
        let twice = set_response_bytes(&once, &edit).expect("edit applies");
        prop_assert_eq!(&once, &twice, "a second identical edit changes nothing");
        let parsed = parse_ics_bytes(&once).expect("still a calendar");
        let e = &parsed.events[0];
        prop_assert_eq!(&e.attendee("me@example.com").expect("attendee").partstat, &answer);
        let expected_comment = comment.as_deref().map(|c| c.replace('\r', ""));
        prop_assert_eq!(e.gatekeeper_comment.as_deref(), expected_comment.as_deref());
    }

    /// The daemon's editor (one parse per item) gives byte for byte what
    /// editing the previous result from scratch gives, for any sequence of
    /// answers, including a VEVENT answered twice and answers that change
    /// nothing.
    #[test]
    fn the_item_editor_equals_editing_from_scratch(
        steps in proptest::collection::vec((0usize..4, 0usize..3, any::<bool>(), any::<bool>()), 1..12),
    ) {
        let src: &[u8] = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTART:20260302T090000Z\r\nRRULE:FREQ=DAILY\r\nATTENDEE;CN=M\xf6:mailto:me@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260303T090000Z\r\nDTSTART:20260303T100000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\nBEGIN:VALARM\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260304T090000Z\r\nDTSTART:20260304T100000Z\r\nATTENDEE:mailto:me@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:t\r\nDTSTART:20260305T090000Z\r\nATTENDEE:mailto:me@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let rid = |d| Some(EventTime::Utc(utc(2026, 3, d) + chrono::Duration::hours(9)));
        let targets = [("s", None), ("s", rid(3)), ("s", rid(4)), ("t", None)];
        let answers = [PartStat::Accepted, PartStat::Declined, PartStat::NeedsAction];
        let mut editor = ItemEditor::new(src).expect("parses");
        let mut scratch = src.to_vec();
        for (target, answer, comment, committed) in steps {
            let (uid, recurrence_id) = targets[target];
            let edit = ResponseEdit {
                uid,
                recurrence_id,
                attendee: "me@example.com",
                partstat: answers[answer].clone(),
                comment: comment.then_some("Outside working hours"),
                marker: comment.then(|| answers[answer].clone()),
                marker_rules: if answer == 1 { &RULES } else { &[] },
            };
            let pending = editor.edit(&edit).expect("edit applies");
            let expected = set_response_bytes(&scratch, &edit).expect("edit applies");
            prop_assert_eq!(pending.bytes(), &expected[..]);
            // A failed write is not committed: the editor stays where the
            // item is.
            if committed {
                editor.commit(pending);
                scratch = expected;
            }
            prop_assert_eq!(editor.bytes(), &scratch[..]);
        }
    }

    /// Which revision counts never depends on the order of the VEVENTs in
    /// the file: the same revisions in any order give the same occurrences.
    #[test]
    fn revisions_decide_the_same_in_any_file_order(
        sequences in proptest::collection::hash_set(0i64..50, 1..5),
        stamps in proptest::collection::hash_set(1u32..28, 1..4),
        order in proptest::collection::vec(any::<u32>(), 8),
    ) {
        let mut vevents: Vec<String> = sequences
            .iter()
            .map(|seq| format!(
                "BEGIN:VEVENT\r\nUID:r\r\nSEQUENCE:{seq}\r\nDTSTART:20260302T{:02}0000Z\r\nDTEND:20260302T{:02}3000Z\r\nRRULE:FREQ=DAILY;COUNT={}\r\nEND:VEVENT\r\n",
                seq % 10 + 8, seq % 10 + 8, seq % 7 + 2
            ))
            .collect();
        vevents.extend(stamps.iter().map(|d| format!(
            "BEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID:20260303T{:02}0000Z\r\nDTSTAMP:202601{d:02}T000000Z\r\nDTSTART:202603{d:02}T180000Z\r\nDTEND:202603{d:02}T190000Z\r\nEND:VEVENT\r\n",
            sequences.iter().max().map_or(8, |m| m % 10 + 8)
        )));
        let render = |vevents: &[String]| {
            let text = format!("BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n", vevents.concat());
            let parsed = parse_ics_bytes(text.as_bytes()).expect("parses");
            let group = group_by_uid(parsed.events);
            let exp = expand(&group[0], chrono_tz::UTC, utc(2026, 3, 1), utc(2026, 4, 1), 100);
            exp.occurrences
                .iter()
                .map(|o| (o.start.to_display_string(), o.end.to_display_string()))
                .collect::<Vec<_>>()
        };
        let first = render(&vevents);
        let mut shuffled = vevents.clone();
        for (i, r) in order.iter().enumerate() {
            let n = shuffled.len();
            shuffled.swap(i % n, (*r as usize) % n);
        }
        prop_assert_eq!(first, render(&shuffled));
    }
}
