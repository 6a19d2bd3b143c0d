//! `[limits]`: an item over a configured bound is skipped with a warning
//! naming it, the other invites are decided, and later passes do not trip
//! on it again until it changes (issue 9).

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
