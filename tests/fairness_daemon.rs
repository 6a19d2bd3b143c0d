//! Time-zone fairness through the daemon: the burden ledger follows what
//! members accept, and a decline for an over-budget member carries fairer
//! times that avoid everyone's busy calendar.

mod common;

use chrono::{DateTime, Utc};
use gatekeeper::store::Store;
use gatekeeper::store::sqlite::SqliteStore;

const POLICY: &str = r#"
[team]
name = "fair"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:00"

[[member]]
email = "kai@example.com"
time_zone = "Asia/Tokyo"
working_hours = "09:00-17:00"

[[rule]]
kind = "outside_hours_budget"
action = "decline"
minutes_per_week = 20

[fairness]
window_weeks = 4

[exceptions]
one_to_one = "screen"
"#;

fn event(uid: &str, start: &str, end: &str, kai: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T000000Z\r\nCREATED:20261120T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\nDESCRIPTION:Decide the data retention plan for the analytics warehouse\r\nORGANIZER:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\nATTENDEE;PARTSTAT={kai}:mailto:kai@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A team folder: the policy above and a config with Kai's local calendar
/// (`kai/work`).
fn team_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::write(root.join("policies/fair.toml"), POLICY).unwrap();
    std::fs::write(
        root.join("gatekeeper.toml"),
        "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n[[source]]\nkind = \"vdir\"\nname = \"kai\"\nmember = \"kai@example.com\"\npath = \"kai\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("kai/work")).unwrap();
    dir
}

/// Kai's accepted meetings 07:00-08:00 UTC (16:00 in Tokyo), Monday 30
/// November to Friday 4 December: the hour the slot search would otherwise
/// suggest for Lisbon and Tokyo.
fn write_kai_busy_mornings(cal: &std::path::Path) {
    for (i, date) in ["20261130", "20261201", "20261202", "20261203", "20261204"]
        .iter()
        .enumerate()
    {
        std::fs::write(
            cal.join(format!("busy-{i}.ics")),
            event(
                &format!("busy-{i}"),
                &format!("{date}T070000Z"),
                &format!("{date}T080000Z"),
                "ACCEPTED",
            ),
        )
        .unwrap();
    }
}

#[test]
fn an_over_budget_member_is_protected_and_fairer_times_are_suggested() {
    let dir = team_dir();
    let root = dir.path();
    let cal = root.join("kai/work");
    // Already accepted: Monday 10:00-11:00 UTC = 19:00-20:00 in Tokyo, two
    // hours outside Kai's day. Busy for suggestions too.
    std::fs::write(
        cal.join("a.ics"),
        event("late-1", "20261130T100000Z", "20261130T110000Z", "ACCEPTED"),
    )
    .unwrap();
    // A new invite: Wednesday 10:00-11:00 UTC, again 19:00 in Tokyo. Alone
    // it fits the budget (60 of 4 × 20 minutes); only with the meeting Kai
    // already accepted does it go over, so the decline proves the ledger
    // is read.
    std::fs::write(
        cal.join("b.ics"),
        event(
            "late-2",
            "20261202T100000Z",
            "20261202T110000Z",
            "NEEDS-ACTION",
        ),
    )
    .unwrap();

    // Without other commitments the fairest hour is 07:00-08:00 UTC (Lisbon
    // 07:00, Tokyo 16:00). Kai has accepted meetings then every weekday, so
    // no suggestion may start in that hour.
    write_kai_busy_mornings(&cal);
    let (code, out, err) = common::run_once(&root.join("gatekeeper.toml"), "2026-11-30T06:00:00Z");
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("late-2"))
        .unwrap_or_else(|| panic!("{out}\n{err}"));
    assert!(
        line.contains("decline") && line.contains("outside_hours_budget"),
        "{line}"
    );

    // The accepted meeting is on the ledger; the declined one is not.
    let store = SqliteStore::open(&root.join("state.db")).unwrap();
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let totals = store
        .burden_totals(t("2026-11-16T00:00:00Z"), t("2026-12-14T00:00:00Z"))
        .unwrap();
    let kai = totals.get("kai@example.com").copied().unwrap_or_default();
    assert_eq!(kai.outside_minutes, 60, "{totals:?}");
    drop(store);

    // The comment names three other times, none while Kai is busy.
    let text = common::unfold(&std::fs::read_to_string(cal.join("b.ics")).unwrap());
    let comment = text
        .lines()
        .find(|l| l.starts_with("COMMENT;X-GATEKEEPER=TRUE"))
        .expect("a comment");
    let suggestions: Vec<&str> = comment
        .split("\\n")
        .filter(|l| l.starts_with("- ") && l.contains(" UTC: "))
        .collect();
    assert_eq!(suggestions.len(), 3, "three fairer times: {comment}");
    for s in &suggestions {
        for busy in ["07:00", "07:15", "07:30", "07:45"] {
            assert!(!s.contains(&format!(" {busy}–")), "{s}: Kai is busy then");
        }
    }

    // The accepted meeting's file is deleted (the server deleted the
    // event): it comes off Kai's ledger on the next pass.
    std::fs::remove_file(cal.join("a.ics")).unwrap();
    let (code, _, err) = common::run_once(&root.join("gatekeeper.toml"), "2026-11-30T06:00:00Z");
    assert_eq!(code, 0, "{err}");
    let store = SqliteStore::open(&root.join("state.db")).unwrap();
    let totals = store
        .burden_totals(t("2026-11-16T00:00:00Z"), t("2026-12-14T00:00:00Z"))
        .unwrap();
    assert_eq!(
        totals
            .get("kai@example.com")
            .copied()
            .unwrap_or_default()
            .outside_minutes,
        0,
        "{totals:?}"
    );
}

#[test]
fn suggest_with_a_config_avoids_the_attendees_busy_times() {
    let dir = team_dir();
    let root = dir.path();
    let cal = root.join("kai/work");
    write_kai_busy_mornings(&cal);
    let suggest = |with_config: bool| -> Vec<String> {
        let mut cmd = common::gatekeeper();
        cmd.args([
            "suggest",
            "--attendees",
            "ana@example.com,kai@example.com",
            "--duration",
            "60m",
            "--within",
            "5d",
        ])
        .args([
            "--now",
            "2026-11-30T06:00:00Z",
            "--format",
            "json",
            "--policy",
        ])
        .arg(root.join("policies/fair.toml"));
        if with_config {
            cmd.arg("--config").arg(root.join("gatekeeper.toml"));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", common::stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_string())
            .collect()
    };
    // Without calendars the fairest hour is 07:00 UTC, when Kai is busy...
    let blind = suggest(false);
    assert!(blind[0].contains("T07:00:00"), "{blind:?}");
    // ...with them, no suggestion starts while Kai is busy.
    let informed = suggest(true);
    assert_eq!(informed.len(), 3);
    for s in &informed {
        assert!(
            !s.contains("T07:"),
            "{s} is while Kai is busy: {informed:?}"
        );
    }
}
