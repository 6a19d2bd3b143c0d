//! `gatekeeper run --once` on temporary vdir folders: the whole slice from
//! files to decisions, file edits and the decision log.

mod common;

use common::*;

fn member_line<'a>(ics: &'a str, email: &str) -> &'a str {
    ics.lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with(&format!("mailto:{email}")))
        .unwrap_or_else(|| panic!("no ATTENDEE line for {email} in:\n{ics}"))
}

fn read(dir: &std::path::Path, rel: &str) -> String {
    unfold(&std::fs::read_to_string(dir.join(rel)).unwrap())
}

#[test]
fn demo_team_is_screened_once_and_files_are_answered_like_a_client() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let pristine_coffee = std::fs::read(dir.path().join("calendars/ana/work/coffee.ics")).unwrap();
    let pristine_own = std::fs::read(dir.path().join("calendars/ana/work/ana-own.ics")).unwrap();

    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
            .to_string()
    };
    assert!(find("ana@example.com  \"Sync\"").contains("decline"));
    assert!(find("ana@example.com  \"Sync\"").contains("[agenda, working_hours]"));
    assert!(find("\"Q1 planning\"").contains("meeting_free_days"));
    assert!(find("\"All hands\"").contains("allowed: the organizer is always allowed"));
    assert!(find("\"Ana / Bo\"").contains("allowed: one-to-ones are exempt"));
    assert!(find("URGENT").contains("marked urgent (use 1 of 2 this month)"));
    // External guests: the agenda rule declines, but never_decline softens it.
    assert!(find("\"Acme check-in\"").contains("annotate"));
    assert!(find("\"Acme check-in\"").contains("TENTATIVE"));
    // The series is declined, its moved occurrence (Thursday) is decided on its own.
    assert!(find("\"Team retro\" from").contains("decline"));
    assert!(find("moved to Thursday").starts_with("2026-11-30T08:00:00Z  allow"));
    // Chen's source is in observe mode: logged, not written.
    assert!(find("chen@example.com").contains("observed (would write DECLINED)"));
    // Ana's own answer and her own event are never touched or logged.
    assert!(!out.contains("Coffee chat"));
    assert!(!out.contains("ana@example.com  \"Hiring sync\""));
    assert_eq!(
        std::fs::read(dir.path().join("calendars/ana/work/coffee.ics")).unwrap(),
        pristine_coffee
    );
    assert_eq!(
        std::fs::read(dir.path().join("calendars/ana/work/ana-own.ics")).unwrap(),
        pristine_own
    );
    // The broken file is reported with its path, and the rest went on.
    assert!(err.contains("work/broken.ics"), "stderr: {err}");

    // The member's copy now says DECLINED with gatekeeper's comment and marker.
    let sync = read(dir.path(), "calendars/ana/work/sync-1.ics");
    assert!(member_line(&sync, "ana@example.com").contains("PARTSTAT=DECLINED"));
    assert!(member_line(&sync, "chen@example.com").contains("PARTSTAT=NEEDS-ACTION"));
    // The marker records the acting rules the answer stands on.
    assert!(
        sync.contains("X-GATEKEEPER-PARTSTAT;X-GATEKEEPER-RULES=agenda,working_hours:DECLINED")
    );
    assert!(
        sync.contains(
            "COMMENT;X-GATEKEEPER=TRUE:gatekeeper declined this invite for ana@example.com"
        )
    );
    assert!(sync.contains("the invite has no agenda"));
    let chen = read(dir.path(), "calendars/chen/work/sync-1.ics");
    assert!(member_line(&chen, "chen@example.com").contains("PARTSTAT=NEEDS-ACTION"));
    assert!(!chen.contains("X-GATEKEEPER"));

    let first_log = log_rows(&config);
    assert_eq!(
        first_log.len(),
        lines.len(),
        "one log row per printed decision"
    );
    let sync_row = first_log
        .iter()
        .find(|r| r["uid"] == "sync-1@example.com" && r["member"] == "ana@example.com")
        .unwrap();
    assert_eq!(sync_row["action"], "decline");
    assert_eq!(sync_row["outcome"], "applied");
    assert_eq!(sync_row["organizer"], "bo@example.com");
    assert_eq!(sync_row["calendar"], "work");
    assert_eq!(sync_row["policy_hash"].as_str().unwrap().len(), 64);
    let rules: Vec<&str> = sync_row["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["agenda", "working_hours"]);

    // Unchanged calendars: no new action, no new log row.
    let before: Vec<String> = ["sync-1", "planning", "retro", "customer"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.path().join(format!("calendars/ana/work/{f}.ics"))).unwrap()
        })
        .collect();
    let (code, out, _) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0);
    assert_eq!(out, "", "a second pass decides nothing");
    assert_eq!(log_rows(&config).len(), first_log.len());
    let after: Vec<String> = ["sync-1", "planning", "retro", "customer"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.path().join(format!("calendars/ana/work/{f}.ics"))).unwrap()
        })
        .collect();
    assert_eq!(before, after);
}

#[test]
fn a_fixed_invite_gets_its_decline_taken_back() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    run_once(&config, DEMO_NOW);
    let path = dir.path().join("calendars/ana/work/sync-1.ics");
    let declined = std::fs::read_to_string(&path).unwrap();
    assert!(unfold(&declined).contains("PARTSTAT=DECLINED"));

    // The organizer adds an agenda and moves it into Chen's hours; the
    // server keeps Ana's copy as it was (with gatekeeper's marker).
    let fixed = declined
        .replace("SUMMARY:Sync\r\n", "SUMMARY:Sync\r\nDESCRIPTION:Agree the rollout order for the three payment regions and name owners\r\n")
        .replace("DTSTART:20261201T150000Z", "DTSTART:20261201T090000Z")
        .replace("DTEND:20261201T153000Z", "DTEND:20261201T093000Z")
        .replace("SEQUENCE:0", "SEQUENCE:1");
    assert_ne!(fixed, declined);
    std::fs::write(&path, &fixed).unwrap();

    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("ana@example.com  \"Sync\""))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("allow"), "{line}");
    assert!(line.contains("NEEDS-ACTION"), "{line}");
    let now = unfold(&std::fs::read_to_string(&path).unwrap());
    assert!(member_line(&now, "ana@example.com").contains("PARTSTAT=NEEDS-ACTION"));
    assert!(
        !now.contains("X-GATEKEEPER"),
        "marker and comment removed:\n{now}"
    );
    assert!(now.contains("DESCRIPTION:Agree the rollout order"));
}

#[test]
fn a_persons_own_answer_is_never_overwritten() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    run_once(&config, DEMO_NOW);
    let path = dir.path().join("calendars/ana/work/planning.ics");
    let declined = std::fs::read_to_string(&path).unwrap();
    // Ana accepts it herself in her calendar client (which keeps unknown
    // properties, so gatekeeper's marker stays behind), then the organizer
    // edits the description.
    let accepted = unfold(&declined)
        .replace(
            "PARTSTAT=DECLINED;RSVP=TRUE:mailto:ana@example.com",
            "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ana@example.com",
        )
        .replace("Decide the three bets", "Decide the two bets");
    assert!(accepted.contains("PARTSTAT=ACCEPTED"));
    std::fs::write(&path, &accepted).unwrap();

    let (code, out, _) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0);
    assert!(
        !out.contains("Q1 planning"),
        "no decision on a person's own answer:\n{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        accepted,
        "file untouched"
    );
}

#[test]
fn a_failed_write_is_retried_and_decided_exactly_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let bo_work = dir.path().join("calendars/bo/work");
    // Bo's calendar folder is read-only: gatekeeper cannot write its answer.
    std::fs::set_permissions(&bo_work, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = bo_work.join(".probe");
    let mut immutable = false;
    if std::fs::write(&probe, "x").is_ok() {
        // Running as root: permissions do not stop writes. Make the folder
        // immutable instead (root cannot create files in it either).
        std::fs::remove_file(&probe).unwrap();
        std::fs::set_permissions(&bo_work, std::fs::Permissions::from_mode(0o755)).unwrap();
        immutable = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&bo_work)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            immutable,
            "running as root without `chattr`: cannot stage a failed write"
        );
    }
    let (code, out, err) = run_once(&config, DEMO_NOW);
    if immutable {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&bo_work)
            .status();
    }
    assert_eq!(code, 6, "a failed action makes the run fail:\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains("bo@example.com  \"Hiring sync\""))
        .unwrap();
    assert!(line.contains("failed"), "{line}");
    assert!(
        err.contains("error: source `bo-local`: `bo@example.com`: cannot write the answer"),
        "the failure is named: {err}"
    );

    // Fix the folder; the next run finishes the job.
    if immutable {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&bo_work)
            .status();
    }
    std::fs::set_permissions(&bo_work, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("bo@example.com  \"Hiring sync\""))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("applied → DECLINED"), "{line}");
    let (_, out, _) = run_once(&config, DEMO_NOW);
    assert_eq!(out, "");

    // One log row for the invite: the failed attempt was finished, not repeated.
    let rows: Vec<_> = log_rows(&config)
        .into_iter()
        .filter(|r| r["member"] == "bo@example.com" && r["uid"] == "own-1@example.com")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["outcome"], "applied");
    let text = unfold(&std::fs::read_to_string(bo_work.join("ana-own.ics")).unwrap());
    assert_eq!(text.matches("X-GATEKEEPER-PARTSTAT").count(), 1);
    assert!(
        text.lines()
            .any(|l| l.starts_with("X-GATEKEEPER-PARTSTAT") && l.trim_end().ends_with(":DECLINED")),
        "{text}"
    );
}

#[test]
fn a_policy_change_rescreens_and_softens_earlier_declines() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    run_once(&config, DEMO_NOW);
    let policy = dir.path().join("policies/demo.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    let relaxed = text.replace(
        "kind = \"agenda\"\naction = \"decline\"",
        "kind = \"agenda\"\naction = \"observe\"",
    );
    assert_ne!(text, relaxed);
    std::fs::write(&policy, relaxed).unwrap();

    let (code, out, _) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0);
    // Sync still fails working hours (annotate): the decline becomes tentative.
    let line = out
        .lines()
        .find(|l| l.contains("ana@example.com  \"Sync\""))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("annotate") && line.contains("agenda(observe)") && line.contains("TENTATIVE"),
        "{line}"
    );
    let sync =
        unfold(&std::fs::read_to_string(dir.path().join("calendars/ana/work/sync-1.ics")).unwrap());
    assert!(member_line(&sync, "ana@example.com").contains("PARTSTAT=TENTATIVE"));
    assert!(sync.contains("X-GATEKEEPER-PARTSTAT;X-GATEKEEPER-RULES=working_hours:TENTATIVE"));
    assert_eq!(sync.matches("COMMENT;X-GATEKEEPER").count(), 1);
}

#[test]
fn a_broken_policy_stops_run_with_file_line_and_column() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let policy = dir.path().join("policies/demo.toml");
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("days = [\"wednesday\"]", "days = [\"wedensday\"]");
    std::fs::write(&policy, text).unwrap();
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("`wedensday` is not a day of the week"),
        "{err}"
    );
    assert!(err.contains("did you mean `wednesday`?"), "{err}");
    assert!(err.contains("demo.toml:42:9"), "{err}");
}

#[test]
fn the_daemon_keeps_the_last_good_policy_and_stops_on_sigterm() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("poll_seconds = 30", "poll_seconds = 1");
    std::fs::write(&config, text).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("gatekeeper");
    let child = std::process::Command::new(bin)
        .args(["run", "--now", DEMO_NOW, "--config"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let db = dir.path().join("state/gatekeeper.db");
    let wait_for = |what: &dyn Fn() -> bool| {
        for _ in 0..300 {
            if what() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    assert!(wait_for(&|| db.exists()), "daemon started");
    // Break the policy while it runs, then add a new invite.
    let policy = dir.path().join("policies/demo.toml");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&policy, "this is = not [valid").unwrap();
    // Give the daemon a moment to notice the broken file before the new
    // invite arrives, so the log below is written under the kept policy.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let sync = std::fs::read_to_string(dir.path().join("calendars/chen/work/sync-1.ics")).unwrap();
    let second = sync.replace("sync-1@example.com", "sync-2@example.com");
    std::fs::write(dir.path().join("calendars/chen/work/sync-2.ics"), second).unwrap();
    let log_has_sync2 = || {
        let out = common::gatekeeper()
            .args(["log", "--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("sync-2@example.com")
    };
    assert!(
        wait_for(&log_has_sync2),
        "the daemon kept screening with the last good policy"
    );

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("keeping the last good policies"), "{err}");
    assert!(err.contains("demo.toml"), "{err}");
    assert!(err.contains("shutting down"), "{err}");
}

/// A write that failed leaves nothing of gatekeeper's standing: when the
/// member then gives that very answer themselves (no marker), the next pass
/// must take it as theirs, not finish gatekeeper's logged answer over it.
#[test]
fn a_members_own_answer_after_a_failed_write_is_not_written_over() {
    use std::os::unix::fs::PermissionsExt;
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let bo_work = dir.path().join("calendars/bo/work");
    let file = bo_work.join("ana-own.ics");
    let lock = |on: bool| {
        // As root permissions do not stop writes: the folder is made
        // immutable too (and mutable again before its mode can change).
        let chattr = |flag: &str| {
            let _ = std::process::Command::new("chattr")
                .arg(flag)
                .arg(&bo_work)
                .status();
        };
        if !on {
            chattr("-i");
        }
        std::fs::set_permissions(
            &bo_work,
            std::fs::Permissions::from_mode(if on { 0o555 } else { 0o755 }),
        )
        .unwrap();
        if on {
            chattr("+i");
        }
    };
    lock(true);
    let (code, out, _) = run_once(&config, DEMO_NOW);
    lock(false);
    assert_eq!(code, 6, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("bo@example.com  \"Hiring sync\"") && l.contains("failed")),
        "{out}"
    );

    // Bo declines the invite himself, as his calendar app writes it.
    let text = std::fs::read_to_string(&file).unwrap();
    let own = text.replacen(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bo@example.com",
        "PARTSTAT=DECLINED;RSVP=TRUE:mailto:bo@example.com",
        1,
    );
    assert_ne!(own, text, "the fixture has Bo's attendee line");
    std::fs::write(&file, &own).unwrap();

    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{out}{err}");
    // (Bo's other invites, whose writes failed too, are answered now.)
    assert!(
        !out.lines()
            .any(|l| l.contains("\"Hiring sync\"") && l.contains("applied")),
        "nothing is written over Bo's answer: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        own,
        "Bo's own answer stands, byte for byte"
    );
    let rows: Vec<_> = log_rows(&config)
        .into_iter()
        .filter(|r| r["member"] == "bo@example.com" && r["uid"] == "own-1@example.com")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_ne!(rows[0]["outcome"], "applied", "{rows:#?}");
    assert_ne!(
        rows[0]["outcome"], "failed",
        "the failed row is closed: {rows:#?}"
    );
}

/// An urgent use keeps its number: re-screening the same invite after a
/// policy edit must not count its own earlier use ("use 2 of 2").
#[test]
fn an_urgent_use_keeps_its_number_when_the_policy_is_edited() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains("URGENT")).unwrap();
    assert!(line.contains("use 1 of 2"), "{line}");

    let policy = dir.path().join("policies/demo.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n# edited: the team looks at everything again\n");
    std::fs::write(&policy, text).unwrap();
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("use 2 of 2"), "{out}");
    for row in log_rows(&config)
        .iter()
        .filter(|r| r["title"].as_str().is_some_and(|t| t.starts_with("URGENT")))
    {
        let exemption = row["exemption"].as_str().unwrap_or_default();
        assert!(exemption.contains("use 1 of 2"), "{row:#?}");
    }
}
