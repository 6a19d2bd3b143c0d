//! Items gatekeeper cannot or must not act on: one over a configured
//! `[limits]` bound, a file of several events without UID. Each is skipped
//! with a warning naming it, the other invites are decided, and later
//! passes do not trip on it again until it changes (issue 9).

mod common;

use common::*;

#[test]
fn an_item_over_max_item_bytes_is_skipped_once_and_the_rest_go_on() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[limits]\nmax_item_bytes = 4096\n");
    std::fs::write(&config, text).unwrap();
    // One of Ana's invites padded past the limit with a long description.
    let big = dir.path().join("calendars/ana/work/retro.ics");
    let original = std::fs::read(&big).unwrap();
    let padded = String::from_utf8(original).unwrap().replacen(
        "END:VEVENT",
        &format!("X-PADDING:{}\r\nEND:VEVENT", "x".repeat(5000)),
        1,
    );
    std::fs::write(&big, &padded).unwrap();

    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("retro.ics") && err.contains("over the limit of 4096"),
        "the skipped item is named: {err}"
    );
    assert!(
        out.contains("\"Sync\""),
        "the other invites are decided: {out}"
    );
    assert!(
        !out.contains("Team retro"),
        "the big item is not decided: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(&big).unwrap(),
        padded,
        "the skipped item is left as it was"
    );

    // Marked done: the next pass neither reads it nor warns again.
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(!err.contains("over the limit"), "{err}");

    // Under the limit again (the organizer's update), it is decided.
    std::fs::write(&big, padded.replace(&"x".repeat(5000), "x")).unwrap();
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("over the limit"), "{err}");
    assert!(out.contains("Team retro"), "{out}");
}

fn without_uid(summary: &str, day: u32) -> String {
    format!(
        "BEGIN:VEVENT\r\nDTSTAMP:20261130T070000Z\r\nDTSTART:202612{day:02}T150000Z\r\n\
         DTEND:202612{day:02}T153000Z\r\nSUMMARY:{summary}\r\nORGANIZER:mailto:bo@example.com\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ana@example.com\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:chen@example.com\r\nEND:VEVENT\r\n"
    )
}

fn calendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//a script//EN\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

/// Events without UID: one per file is answered, each file on its own
/// (their state is kept apart); several in one file cannot be told apart,
/// so that file is warned about once and left alone, never failing a write
/// on every pass.
#[test]
fn events_without_uid_are_answered_one_per_file_and_never_fail_every_pass() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let work = dir.path().join("calendars/ana/work");
    let both = calendar(&[without_uid("No UID one", 1), without_uid("No UID two", 2)]);
    std::fs::write(work.join("both.ics"), &both).unwrap();
    std::fs::write(
        work.join("alone-a.ics"),
        calendar(&[without_uid("Alone A", 1)]),
    )
    .unwrap();
    std::fs::write(
        work.join("alone-b.ics"),
        calendar(&[without_uid("Alone B", 2)]),
    )
    .unwrap();

    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("both.ics: 2 events without UID in one file"),
        "{err}"
    );
    assert!(!out.contains("No UID"), "{out}");
    assert_eq!(
        std::fs::read_to_string(work.join("both.ics")).unwrap(),
        both
    );
    for (file, summary) in [("alone-a.ics", "Alone A"), ("alone-b.ics", "Alone B")] {
        let line = out
            .lines()
            .find(|l| l.contains(summary))
            .unwrap_or_else(|| panic!("{summary} decided: {out}"));
        assert!(line.contains("applied → DECLINED"), "{line}");
        let text = unfold(&std::fs::read_to_string(work.join(file)).unwrap());
        assert!(
            text.contains("PARTSTAT=DECLINED") && text.contains("X-GATEKEEPER-PARTSTAT"),
            "{file}: {text}"
        );
    }

    // Nothing left to do, nothing failing, nothing repeated.
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "");
    assert!(!err.contains("without UID"), "{err}");
}
