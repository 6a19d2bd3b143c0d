//! The purpose rules on the real daemon over local folders (issue 15): an
//! invite without a purpose is declined; the organizer states
//! `Purpose: decision`, so the decline becomes a note asking for the
//! record; the organizer links the record and gatekeeper takes its answer
//! back. Unchanged calendars change nothing in between.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const NOW: &str = "2026-11-30T08:00:00Z";

const CONFIG: &str = r#"policies = ["policies"]
mode = "enforce"

[store]
sqlite = "state/gatekeeper.db"

[[source]]
kind = "vdir"
name = "ana-local"
member = "ana@example.com"
path = "calendars/ana"
"#;

const POLICY: &str = r#"[team]
name = "platform"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:30"

[[member]]
email = "bo@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:30"

[[rule]]
kind = "purpose"
action = "decline"
alternatives = [{ name = "a document", link = "https://wiki.example.com/new" }]

[[rule]]
kind = "decision_record"
action = "annotate"
hosts = ["wiki.example.com"]
"#;

/// A three-person invite from bo to ana (so not a one-to-one), in Ana's
/// calendar, with `extra` lines (DESCRIPTION, CATEGORIES) after SUMMARY.
fn invite(uid: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n\
UID:{uid}\r\nDTSTAMP:20261130T070000Z\r\nCREATED:20261130T070000Z\r\n\
DTSTART:20261203T100000Z\r\nDTEND:20261203T103000Z\r\nSUMMARY:{summary}\r\n{extra}\
ORGANIZER:mailto:bo@example.com\r\n\
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\n\
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:ana@example.com\r\n\
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:pat@example.com\r\n\
SEQUENCE:0\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

struct Team {
    _dir: tempfile::TempDir,
    config: PathBuf,
    work: PathBuf,
}

fn team(invites: &[(&str, String)]) -> Team {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join("state")).unwrap();
    let work = root.join("calendars/ana/work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(root.join("gatekeeper.toml"), CONFIG).unwrap();
    std::fs::write(root.join("policies/team.toml"), POLICY).unwrap();
    for (name, text) in invites {
        std::fs::write(work.join(name), text).unwrap();
    }
    Team {
        config: root.join("gatekeeper.toml"),
        work,
        _dir: dir,
    }
}

fn run(t: &Team) -> String {
    let (code, out, err) = run_once(&t.config, NOW);
    assert_eq!(code, 0, "{out}{err}");
    out
}

fn line<'a>(out: &'a str, title: &str) -> &'a str {
    let needle = format!("\"{title}\"");
    out.lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no line for {title:?} in:\n{out}"))
}

fn read(path: &Path) -> String {
    unfold(&std::fs::read_to_string(path).unwrap())
}

fn ana_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with("mailto:ana@example.com"))
        .unwrap_or_else(|| panic!("no attendee line for ana in:\n{text}"))
}

/// Replace `from` with `to` in the file, as the organizer's server would
/// deliver the updated invite (Ana's copy keeps gatekeeper's marker).
fn organizer_edits(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let edited = text
        .replacen(from, to, 1)
        .replacen("SEQUENCE:0", "SEQUENCE:1", 1);
    assert_ne!(edited, text, "{from:?} not found in:\n{text}");
    std::fs::write(path, edited).unwrap();
}

#[test]
fn the_organizer_states_the_purpose_and_links_the_record_and_the_answer_is_taken_back() {
    let t = team(&[(
        "plan.ics",
        invite(
            "plan-1@example.com",
            "Q1 plan",
            "DESCRIPTION:Go through the Q1 plan for the platform team together\r\n",
        ),
    )]);
    let path = t.work.join("plan.ics");

    // 1. No purpose: declined, and the comment offers the async way.
    let out = run(&t);
    let l = line(&out, "Q1 plan");
    assert!(
        l.contains("decline") && l.contains("[purpose]") && l.contains("applied → DECLINED"),
        "{l}"
    );
    let text = read(&path);
    assert!(ana_line(&text).contains("PARTSTAT=DECLINED"), "{text}");
    assert!(
        text.contains("a document at https://wiki.example.com/new"),
        "{text}"
    );
    assert_eq!(run(&t), "", "nothing changed, nothing is decided");

    // 2. The organizer states the purpose: a decision, with no record yet.
    organizer_edits(
        &path,
        "DESCRIPTION:Go through",
        "DESCRIPTION:Purpose: decision\\nGo through",
    );
    let out = run(&t);
    let l = line(&out, "Q1 plan");
    assert!(
        l.contains("annotate") && l.contains("[decision_record]") && l.contains("TENTATIVE"),
        "{l}"
    );
    let text = read(&path);
    assert!(ana_line(&text).contains("PARTSTAT=TENTATIVE"), "{text}");
    assert!(
        text.contains("does not link where the decision will be written"),
        "{text}"
    );
    assert_eq!(text.matches("COMMENT;X-GATEKEEPER").count(), 1, "{text}");
    assert_eq!(run(&t), "", "nothing changed, nothing is decided");

    // 3. A link elsewhere is not a record.
    organizer_edits(
        &path,
        "Go through",
        "Draft: https://docs.example.org/q1\\nGo through",
    );
    let out = run(&t);
    assert!(
        out.is_empty() || !line(&out, "Q1 plan").contains("allow"),
        "{out}"
    );
    assert!(ana_line(&read(&path)).contains("PARTSTAT=TENTATIVE"));

    // 4. The record link: gatekeeper takes its answer back.
    organizer_edits(
        &path,
        "Go through",
        "Record: https://wiki.example.com/decisions/q1-plan\\nGo through",
    );
    let out = run(&t);
    let l = line(&out, "Q1 plan");
    assert!(l.contains("allow") && l.contains("NEEDS-ACTION"), "{l}");
    let text = read(&path);
    assert!(ana_line(&text).contains("PARTSTAT=NEEDS-ACTION"), "{text}");
    assert!(
        !text.contains("X-GATEKEEPER"),
        "marker and comment removed:\n{text}"
    );
    assert!(text.contains("Record: https://wiki.example.com/decisions/q1-plan"));
    assert_eq!(run(&t), "", "nothing changed, nothing is decided");
}

#[test]
fn categories_state_a_purpose_and_quoted_replies_do_not() {
    let t = team(&[
        (
            "retro.ics",
            invite(
                "retro-1@example.com",
                "Sprint retro",
                "CATEGORIES:Work,Feedback\r\n",
            ),
        ),
        (
            "fwd.ics",
            invite(
                "fwd-1@example.com",
                "Fwd: vendor call",
                "DESCRIPTION:Can we talk about this?\\n> Purpose: decision\\n> Record: https://wiki.example.com/x\r\n",
            ),
        ),
        (
            "typo.ics",
            invite(
                "typo-1@example.com",
                "Pricing",
                "DESCRIPTION:Purpose: decison\\nRecord: https://wiki.example.com/decisions/pricing\r\n",
            ),
        ),
    ]);
    let out = run(&t);
    assert!(line(&out, "Sprint retro").contains("allow"), "{out}");
    assert!(read(&t.work.join("retro.ics")).contains("PARTSTAT=NEEDS-ACTION"));
    assert!(
        line(&out, "Fwd: vendor call").contains("[purpose]"),
        "{out}"
    );
    let l = line(&out, "Pricing");
    assert!(l.contains("decline") && l.contains("[purpose]"), "{l}");
    // The comment teaches the exact word.
    let typo = read(&t.work.join("typo.ics"));
    assert!(typo.contains("did you mean `decision`?"), "{typo}");

    // `check` says the same to an organizer before they send it.
    let out = gatekeeper()
        .args(["check", "--now", NOW, "--policy"])
        .arg(t.config.parent().unwrap().join("policies"))
        .arg(t.work.join("typo.ics"))
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert!(
        text.contains(
            "purpose: `Purpose: decison` names none of this team's purposes: did you mean `decision`?"
        ),
        "{text}"
    );
}
