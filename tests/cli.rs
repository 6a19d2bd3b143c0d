//! The CLI on the real binary: lint, check, events, log, and exit codes.

mod common;

use common::*;

fn demo_policy() -> std::path::PathBuf {
    repo().join("examples/demo/policies/demo.toml")
}

#[test]
fn lint_accepts_the_shipped_policies() {
    for path in ["examples/demo/policies", "policies"] {
        let out = gatekeeper()
            .current_dir(repo())
            .args(["policy", "lint", path])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{path}: {}", stderr_of(&out));
        assert!(stdout_of(&out).contains("no errors"));
    }
}

#[test]
fn lint_reports_every_problem_with_place_and_help_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("team.toml");
    std::fs::write(
        &bad,
        r#"[team]
name = "t"

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisboa"
working_hours = "09:00-17:00"
working_days = ["monday", "wedensday"]

[[rule]]
kind = "max_attendees"
action = "decilne"
count = 1
"#,
    )
    .unwrap();
    let out = gatekeeper()
        .args(["policy", "lint"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    let path = bad.display().to_string();
    for expected in [
        format!("{path}:6:13"),
        "did you mean `Europe/Lisbon`?".to_string(),
        format!("{path}:8:27"),
        "did you mean `wednesday`?".to_string(),
        "did you mean `decline`?".to_string(),
        "`count` must be between 2 and 10000".to_string(),
        "error: 4 error(s) in 1 file(s)".to_string(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    // The underline sits under the offending value.
    assert!(
        err.contains(
            "working_days = [\"monday\", \"wedensday\"]\n  |                           ^^^^^^^^^^^"
        ),
        "{err}"
    );

    let out = gatekeeper()
        .args(["policy", "lint", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let diags: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "unknown-time-zone",
            "unknown-day",
            "unknown-value",
            "impossible-value"
        ]
    );
    assert_eq!(
        (diags[1]["line"].as_u64(), diags[1]["column"].as_u64()),
        (Some(8), Some(27))
    );
}

#[test]
fn lint_catches_a_member_in_two_teams() {
    let dir = tempfile::tempdir().unwrap();
    let team = |name: &str| {
        format!(
            "[team]\nname = \"{name}\"\n\n[[member]]\nemail = \"ana@example.com\"\ntime_zone = \"UTC\"\nworking_hours = \"09:00-17:00\"\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), team("a")).unwrap();
    std::fs::write(dir.path().join("b.toml"), team("b")).unwrap();
    let out = gatekeeper()
        .args(["policy", "lint"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert!(
        err.contains("`ana@example.com` is a member of two teams"),
        "{err}"
    );
    assert!(err.contains("a.toml") && err.contains("b.toml"), "{err}");
}

#[test]
fn check_explains_a_decline_with_the_comment() {
    let invite = repo().join("examples/demo/calendars/ana/work/sync-1.ics");
    let out = gatekeeper()
        .args(["check", "--policy"])
        .arg(demo_policy())
        .args(["--as", "ana@example.com", "--now", DEMO_NOW])
        .arg(&invite)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.starts_with("decline: \"Sync\" from bo@example.com, screened for ana@example.com"),
        "{text}"
    );
    assert!(
        text.contains("decline   agenda             the invite has no agenda"),
        "{text}"
    );
    assert!(
        text.contains(
            "chen@example.com's working hours (Tue 23:00 Asia/Singapore; works 10:00–18:00 Mon–Fri)"
        ),
        "{text}"
    );
    assert!(text.contains("  | gatekeeper declined this invite for ana@example.com under the demo team's meeting policy."), "{text}");

    let out = gatekeeper()
        .args(["check", "--format", "json", "--now", DEMO_NOW, "--policy"])
        .arg(demo_policy())
        .arg(&invite)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "decline");
    // Without --as the first invited member who is not the organizer.
    assert_eq!(v["member"], "ana@example.com");
    let rules: Vec<(&str, &str)> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rules,
        [("agenda", "decline"), ("working_hours", "annotate")]
    );
    assert!(
        v["comment"]
            .as_str()
            .unwrap()
            .contains("- the invite has no agenda: add a description")
    );
}

#[test]
fn check_allows_a_good_invite_and_reports_an_own_answer() {
    let good = repo().join("examples/demo/calendars/ana/work/design-review.ics");
    let out = gatekeeper()
        .args(["check", "--format", "json", "--now", DEMO_NOW, "--policy"])
        .arg(demo_policy())
        .arg(&good)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "allow");
    assert_eq!(v["rules"], serde_json::json!([]));
    assert_eq!(v["comment"], serde_json::Value::Null);

    let answered = repo().join("examples/demo/calendars/ana/work/coffee.ics");
    let out = gatekeeper()
        .args([
            "check",
            "--as",
            "ana@example.com",
            "--now",
            DEMO_NOW,
            "--policy",
        ])
        .arg(demo_policy())
        .arg(&answered)
        .output()
        .unwrap();
    assert!(
        stdout_of(&out).contains("has already answered (ACCEPTED)"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn check_rejects_a_broken_invite_and_a_broken_policy() {
    let broken = repo().join("examples/demo/calendars/ana/work/broken.ics");
    let out = gatekeeper()
        .args(["check", "--policy"])
        .arg(demo_policy())
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr_of(&out).contains("broken.ics"));

    let dir = tempfile::tempdir().unwrap();
    let bad_policy = dir.path().join("p.toml");
    std::fs::write(&bad_policy, "[team\nname=").unwrap();
    let out = gatekeeper()
        .args(["check", "--policy"])
        .arg(&bad_policy)
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("p.toml:1:"), "{}", stderr_of(&out));
}

#[test]
fn events_lists_occurrences_with_recurrences_expanded() {
    let out = gatekeeper()
        .args([
            "events",
            "--format",
            "json",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--ics",
        ])
        .arg(repo().join("tests/fixtures/ics/weekly_series.ics"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let starts: Vec<&str> = v.iter().map(|o| o["start"].as_str().unwrap()).collect();
    // Mondays 09:00 Berlin; 9 March excluded; the RDATE on the 12th; the
    // 16th moved to the 17th at 14:00; the 23rd cancelled (listed, with its
    // status); the 30th after the DST change is still 09:00 local (+02:00).
    assert_eq!(
        starts,
        [
            "2026-03-02T09:00:00+01:00",
            "2026-03-12T15:00:00+01:00",
            "2026-03-17T14:00:00+01:00",
            "2026-03-23T09:00:00+01:00",
            "2026-03-30T09:00:00+02:00",
        ]
    );
    let statuses: Vec<&str> = v.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "confirmed",
            "confirmed",
            "confirmed",
            "cancelled",
            "confirmed"
        ]
    );
    assert_eq!(v[2]["summary"], "Weekly sync (moved)");
    assert_eq!(v[2]["recurrence_id"], "2026-03-16T09:00:00+01:00");
    assert!(
        v.iter()
            .all(|o| o["uid"] == "weekly-sync@example.com" && o["all_day"] == false)
    );
}

#[test]
fn events_prints_floating_and_all_day_times_as_specified() {
    let out = gatekeeper()
        .args([
            "events",
            "--format",
            "json",
            "--from",
            "2020-01-01",
            "--to",
            "2030-12-31",
            "--ics",
        ])
        .arg(repo().join("tests/fixtures/ics/all_day_duration_floating.ics"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v.is_empty());
    for o in &v {
        let start = o["start"].as_str().unwrap();
        if o["all_day"] == true {
            assert_eq!(start.len(), 10, "all-day start is a date: {start}");
        } else {
            assert!(
                start.len() == 19 || start.ends_with('Z') || start[19..].starts_with(['+', '-']),
                "floating times have no offset, others do: {start}"
            );
        }
    }
    assert!(v.iter().any(|o| o["all_day"] == true));
    assert!(
        v.iter().any(|o| o["start"].as_str().unwrap().len() == 19),
        "a floating time"
    );
}

#[test]
fn events_reports_unparsable_files_and_goes_on() {
    let out = gatekeeper()
        .args([
            "events",
            "--from",
            "2026-11-30",
            "--to",
            "2026-12-31",
            "--ics",
        ])
        .arg(repo().join("examples/demo/calendars/ana"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr_of(&out).contains("broken.ics"));
    assert!(stdout_of(&out).contains("Design review: billing exports"));
}

#[test]
fn log_shows_decisions_since_a_date() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let out = gatekeeper()
        .args(["log", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no log before the first run");
    run_once(&config, DEMO_NOW);
    let out = gatekeeper()
        .args(["log", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        stdout_of(&out).contains("decline   ana@example.com  \"Sync\""),
        "{}",
        stdout_of(&out)
    );
    let out = gatekeeper()
        .args([
            "log",
            "--since",
            "2026-12-01",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.is_empty(), "every decision was made on 2026-11-30");
}

/// gatekeeper talks plain `http://` only to this machine: a Google
/// endpoint or a chat webhook elsewhere is refused at config check, at its
/// place in the file, in a message that does not carry the webhook's path.
#[test]
fn plain_http_to_another_machine_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("p")).unwrap();
    let config = dir.path().join("gatekeeper.toml");
    std::fs::write(
        &config,
        "policies = [\"p\"]\n[store]\nsqlite = \"x.db\"\n\
         [report]\nchat_webhook_url = \"http://hooks.example.com/services/SECRET\"\n\
         [[source]]\nkind = \"google\"\nname = \"g\"\nservice_account_key = \"k.json\"\n\
         api_base = \"http://calendar.example.com/calendar/v3/\"\n\
         token_uri = \"http://127.0.0.1:9/token\"\n",
    )
    .unwrap();
    let out = gatekeeper()
        .args(["config", "check", "--config"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr_of(&out);
    assert!(
        err.contains("gatekeeper.toml:5:20")
            && err.contains("plain `http://` to `hooks.example.com`"),
        "{err}"
    );
    // The message names the host only, and the snippet under it shows the
    // line with the secret's value masked: a webhook URL is its password,
    // and diagnostics end up in terminals, tickets and CI logs.
    assert!(!err.contains("SECRET"), "{err}");
    assert!(
        err.contains("chat_webhook_url = \"*****"),
        "the snippet still shows the line: {err}"
    );
    assert!(
        err.contains("gatekeeper.toml:10:12")
            && err.contains("plain `http://` to `calendar.example.com`"),
        "{err}"
    );
    assert!(!err.contains("`127.0.0.1`"), "{err}");
}

#[test]
fn bad_config_exits_4_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gatekeeper.toml");
    std::fs::write(
        &config,
        "policies = [\"p\"]\n[store]\nsqlite = \"x.db\"\nsqllite = 1\n",
    )
    .unwrap();
    let out = gatekeeper()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr_of(&out);
    assert!(
        err.contains("gatekeeper.toml:4:1") && err.contains("unknown key `sqllite` in `[store]`"),
        "{err}"
    );
}

#[test]
fn the_shipped_config_parses_and_every_key_is_documented() {
    for example in [
        "examples/demo/gatekeeper.toml",
        "examples/google-fake/gatekeeper.toml",
    ] {
        let text = std::fs::read_to_string(repo().join(example)).unwrap();
        gatekeeper::config::Config::parse(&text).unwrap_or_else(|e| panic!("{example}: {e}"));
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for key in [
        "policies",
        "mode",
        "poll_seconds",
        "series_occurrences",
        "horizon_days",
        "sqlite",
        "kind",
        "name",
        "member",
        "path",
        "service_account_key",
        "members",
        "client_secret",
        "token_file",
        "api_base",
        "token_uri",
        "send_updates",
        "rate_per_user_per_minute",
        "rate_per_project_per_minute",
        "listen",
        "public_url",
        "channel_ttl_hours",
        "folder",
        "weekday",
        "time",
        "time_zone",
        "focus_block_minutes",
        "formats",
        "chat_webhook_url",
    ] {
        assert!(
            readme.contains(&format!("`{key}`")),
            "README does not document config key `{key}`"
        );
    }
}

/// Reads the first line of a command's output, then closes the pipe the
/// way `| head -1` does, and returns how the command ended.
fn first_line_then_close(args: &[&str]) -> (String, std::process::ExitStatus, String) {
    use std::io::{BufRead, Read};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gatekeeper"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (first, child.wait().unwrap(), err)
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    // Ten years of a daily meeting: far more than a pipe buffers, so the
    // command is still writing when the reader goes away.
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("daily.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:daily@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\nDTEND:20260101T091500Z\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Standup with a long title to fill the pipe quickly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let ics = ics.display().to_string();
    for format in ["human", "json"] {
        let (first, status, err) = first_line_then_close(&[
            "events",
            "--from",
            "2026-01-01",
            "--to",
            "2036-01-01",
            "--format",
            format,
            "--ics",
            &ics,
        ]);
        assert!(!first.is_empty(), "{format}: printed nothing; {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{format}: {err}"
        );
        assert_ne!(status.code(), Some(101), "{format}: a panic");
    }
}

#[test]
fn check_leaves_an_own_answer_alone_and_says_no_comment() {
    let answered = repo().join("examples/demo/calendars/ana/work/coffee.ics");
    let run = |format: &str| {
        gatekeeper()
            .args(["check", "--as", "ana@example.com", "--now", DEMO_NOW])
            .args(["--format", format, "--policy"])
            .arg(demo_policy())
            .arg(&answered)
            .output()
            .unwrap()
    };
    let out = run("human");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.starts_with("leave: \"Coffee chat\""), "{text}");
    assert!(!text.contains("decline:"), "{text}");
    assert!(!text.contains("comment gatekeeper would send"), "{text}");
    assert!(text.contains("unanswered, it would decline"), "{text}");

    let v: serde_json::Value = serde_json::from_slice(&run("json").stdout).unwrap();
    assert_eq!(v["action"], "leave");
    assert_eq!(v["verdict"], "decline");
    assert_eq!(v["already_answered"], "ACCEPTED");
    assert_eq!(v["comment"], serde_json::Value::Null);
}

#[test]
fn check_takes_a_policy_folder_as_lint_does() {
    let invite = repo().join("examples/demo/calendars/ana/work/design-review.ics");
    let out = gatekeeper()
        .args(["check", "--format", "json", "--now", DEMO_NOW, "--policy"])
        .arg(repo().join("examples/demo/policies"))
        .arg(&invite)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "allow");
}

#[test]
fn check_as_a_non_member_is_a_usage_error_with_a_suggestion() {
    let invite = repo().join("examples/demo/calendars/ana/work/design-review.ics");
    let out = gatekeeper()
        .args(["check", "--as", "anna@example.com", "--policy"])
        .arg(demo_policy())
        .arg(&invite)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("`anna@example.com` is not a member")
            && err.contains("did you mean `ana@example.com`?"),
        "{err}"
    );
}

fn events(args: &[&str]) -> std::process::Output {
    gatekeeper()
        .arg("events")
        .args(args)
        .arg("--ics")
        .arg(repo().join("examples/demo/calendars"))
        .output()
        .unwrap()
}

#[test]
fn events_rejects_a_window_that_ends_before_it_starts() {
    let out = events(&["--from", "2026-12-30", "--to", "2026-12-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("the window ends (`--to 2026-12-01`) before it starts"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn events_suggests_a_time_zone() {
    fn check(input: &str, expect: &str) {
        let out = events(&["--from", "2026-12-01", "--to", "2026-12-01", "--tz", input]);
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!("unknown time zone `{input}`")),
            "{err}"
        );
        assert!(err.contains(expect), "{input}: {err}");
    }
    check("Lisbon", "did you mean `Europe/Lisbon`?");
    check("new york", "did you mean `America/New_York`?");
    check("Europe/Lisbn", "did you mean `Europe/Lisbon`?");
    check("Xyzzy", "use an IANA name such as `Europe/Lisbon`");
}

#[test]
fn events_shows_times_in_the_chosen_zone_with_a_calendar_column() {
    let window = ["--from", "2026-12-01", "--to", "2026-12-01"];
    let utc = events(&window);
    assert_eq!(utc.status.code(), Some(0), "{}", stderr_of(&utc));
    let ny = events(&[&window[..], &["--tz", "America/New_York"]].concat());
    assert_eq!(ny.status.code(), Some(0), "{}", stderr_of(&ny));
    let (utc, ny) = (stdout_of(&utc), stdout_of(&ny));
    assert_ne!(utc, ny, "--tz must change the displayed times");
    // One form per column: no `Z`, no offsets, no bare `T`.
    for line in utc.lines().chain(ny.lines()).skip(1) {
        let start = &line[..16];
        assert!(!start.contains(['T', 'Z', '+']), "{line}");
    }
    insta::assert_snapshot!("events_utc", utc);
    insta::assert_snapshot!("events_new_york", ny);
    let v: Vec<serde_json::Value> =
        serde_json::from_slice(&events(&[&window[..], &["--format", "json"]].concat()).stdout)
            .unwrap();
    let calendars: std::collections::BTreeSet<&str> =
        v.iter().map(|o| o["calendar"].as_str().unwrap()).collect();
    assert_eq!(
        calendars.into_iter().collect::<Vec<_>>(),
        ["ana/work", "bo/work", "chen/work"]
    );
}

/// A child process whose output lines are collected as they come, so a
/// test can wait for a line instead of sleeping.
struct Running {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    err: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::start_logging(args, None)
    }

    /// Like `start`, with `GATEKEEPER_LOG` set to `level` when given, so a
    /// test can wait for what the daemon logs.
    fn start_logging(args: &[&str], level: Option<&str>) -> Running {
        use std::io::BufRead;
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("gatekeeper"));
        command.env_remove("GATEKEEPER_LOG");
        if let Some(level) = level {
            command.env("GATEKEEPER_LOG", level);
        }
        let mut child = command
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |r: Box<dyn std::io::Read + Send>| {
            let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(l);
                }
            });
            lines
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Running { child, out, err }
    }

    /// The first stdout line containing `needle`, waiting up to a minute.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(l) = self.out.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no line with {needle:?}; stdout: {:?}; stderr: {:?}",
                self.out.lock().unwrap(),
                self.err.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The first stderr line containing `needle`, waiting up to a minute.
    fn wait_for_err(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(l) = self.err.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no stderr line with {needle:?}; stderr: {:?}",
                self.err.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Ctrl-C, then everything it wrote to stderr.
    fn interrupt(mut self) -> String {
        // SAFETY: sending a signal to our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        // The reader threads end at EOF; give them a bounded moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline && std::sync::Arc::strong_count(&self.err) > 1 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.err.lock().unwrap().join("\n")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Google walkthrough from a folder outside the repository: the fake
/// (the dev crate's, in this process; its own binary is tested in
/// `crates/google-fake/tests/`) writes the example folder with its built-in
/// key, config and policy, the daemon screens the seeded invites, and an
/// invite added the way `gatekeeper-google-fake invite` adds it reaches the
/// daemon by push notification and is screened.
#[test]
fn google_walkthrough_works_from_any_folder_and_an_added_invite_is_pushed() {
    use gatekeeper_google_fake::{FakeGoogle, demo, invite};
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeGoogle::new(demo::TEST_PUBLIC_KEY.to_vec());
    fake.load_seed(&serde_json::from_str(demo::SEED).unwrap())
        .unwrap();
    fake.start(rt.handle(), ([127, 0, 0, 1], 0).into()).unwrap();
    demo::write_example(dir.path(), &fake, demo::TEST_KEY).unwrap();
    let config = dir.path().join("gatekeeper.toml");
    // Another port for the push listener, so tests can run side by side, and
    // polling an hour away, so only a push can bring the new invite soon.
    let hook = free_port();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:8086", &format!("127.0.0.1:{hook}"))
        .replace("poll_seconds = 300", "poll_seconds = 3600");
    assert!(text.contains(&format!("127.0.0.1:{hook}")) && text.contains("3600"));
    std::fs::write(&config, text).unwrap();
    let daemon = Running::start_logging(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--now",
            "2026-03-01T08:00:00Z",
        ],
        Some("gatekeeper=info"),
    );
    daemon.wait_for("Weekly standup");
    // Channels are opened after the first pass: an invite added before
    // the attendees' channels exist would wait for the hourly poll.
    daemon.wait_for_err("`ana@example.com`: push channel open");
    daemon.wait_for_err("`chen@example.com`: push channel open");
    let fake_url = fake.root_url();
    let added = invite::post(
        &fake_url,
        &invite::Invite {
            organizer: "bo@example.com".to_string(),
            attendees: vec![
                "ana@example.com".to_string(),
                "chen@example.com".to_string(),
            ],
            summary: "Pushed without an agenda".to_string(),
            description: String::new(),
            start: "2026-03-05T15:00:00Z".parse().unwrap(),
            minutes: 30,
        },
    );
    assert!(added.is_ok(), "{added:?}");
    let line = daemon.wait_for("Pushed without an agenda");
    assert!(
        line.contains("  decline ") && line.contains("[agenda"),
        "{line}"
    );
    daemon.interrupt();
    assert!(fake.stats().count("ana@example.com", "events.watch") >= 1);
}

/// The fake of Google's API is development infrastructure: no command of
/// the product runs it.
#[test]
fn the_product_has_no_google_fake_command() {
    let out = gatekeeper().arg("--help").output().unwrap();
    assert!(!stdout_of(&out).contains("fake"), "{}", stdout_of(&out));
    let out = gatekeeper().arg("google-fake").output().unwrap();
    assert!(!out.status.success());
}

/// Every flag of every command, as `(command path, --flag, help text)`.
fn every_flag() -> Vec<(String, String, String)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, String)>) {
        for a in cmd.get_arguments() {
            let Some(long) = a.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            out.push((path.to_string(), format!("--{long}"), help));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(&gatekeeper::cli::command(), "gatekeeper", &mut out);
    out
}

#[test]
fn every_flag_has_help_text() {
    let missing: Vec<String> = every_flag()
        .into_iter()
        .filter(|(_, _, help)| help.trim().is_empty())
        .map(|(cmd, flag, _)| format!("{cmd} {flag}"))
        .collect();
    assert!(missing.is_empty(), "flags without help: {missing:#?}");
}

#[test]
fn every_flag_appears_in_the_readme() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let missing: Vec<String> = every_flag()
        .into_iter()
        .filter(|(_, flag, _)| !readme.contains(flag.as_str()))
        .map(|(cmd, flag, _)| format!("{cmd} {flag}"))
        .collect();
    assert!(
        missing.is_empty(),
        "flags the README never mentions: {missing:#?}"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    fn check(shell: &str, expect: &[&str]) {
        let out = gatekeeper().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr_of(&out));
        let text = stdout_of(&out);
        for e in expect {
            assert!(text.contains(e), "{shell}: no {e:?}");
        }
    }
    check(
        "bash",
        &["_gatekeeper()", "--urgent-used", "config__subcmd__check"],
    );
    check("zsh", &["#compdef gatekeeper", "--urgent-used"]);
    check("fish", &["complete -c gatekeeper", "urgent-used"]);
    assert_eq!(
        gatekeeper()
            .args(["completions", "tcsh"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );

    let out = gatekeeper().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout_of(&out).starts_with(".ie"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains(".TH gatekeeper 1"));
    let dir = tempfile::tempdir().unwrap();
    let out = gatekeeper()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    for page in [
        "gatekeeper.1",
        "gatekeeper-run.1",
        "gatekeeper-config-check.1",
        "gatekeeper-init.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(
            text.contains(".SH OPTIONS") || text.contains(".SH SUBCOMMANDS"),
            "{page}"
        );
    }
    let run = std::fs::read_to_string(dir.path().join("gatekeeper-run.1")).unwrap();
    assert!(run.contains("\\-\\-once"), "{run}");
}

/// `systemctl reload` sends SIGHUP: the daemon re-reads its policies and
/// keeps running.
#[test]
fn sighup_reloads_the_policies_and_the_daemon_goes_on() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let daemon = Running::start(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--now",
        DEMO_NOW,
    ]);
    daemon.wait_for("Sync");
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_err("gatekeeper: policies reloaded");
    daemon.signal(libc::SIGHUP);
    let err = daemon.interrupt();
    assert!(err.contains("gatekeeper: shutting down"), "{err}");
}

/// The two commands a newcomer runs first stay the first thing the README
/// shows, unchanged.
#[test]
fn the_readme_starts_with_the_two_newcomer_commands() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = "# gatekeeper\n\n```sh\n# 1. Screen the shipped example team (local calendars, SQLite, no credentials), on a scratch copy:\nrm -rf /tmp/gk-demo && cp -r examples/demo /tmp/gk-demo && cargo run -q -- run --once --config /tmp/gk-demo/gatekeeper.toml --now 2026-11-30T08:00:00Z\n\n# 2. Run the whole test suite:\ncargo test\n```\n";
    assert!(readme.starts_with(start), "the README's opening changed");
    for guide in [
        "## Quick start",
        "### Install",
        "### The local demo",
        "### Set up your own team",
        "### Deploy for a Google Workspace team",
        "### Try Google without an account",
        "### Run it as a service",
        "### Read the weekly report",
        "### Commands",
        "### Exit status",
        "#### Configuration reference",
    ] {
        assert!(
            readme.contains(&format!("\n{guide}\n")),
            "README lacks `{guide}`"
        );
    }
}

/// `GET path` on `addr`: (status code, body). Plain HTTP/1.0 over a socket.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn the_daemon_serves_metrics_health_and_readiness() {
    let dir = demo_copy();
    let port = free_port();
    let config = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let daemon = Running::start(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--now",
        DEMO_NOW,
    ]);
    daemon.wait_for_err("metrics on http://");
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(http_get(&addr, "/healthz").0, 200);
    // Ready once the first pass is done: wait for it, with a bound.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while http_get(&addr, "/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The first pass, and at most one more woken by its own answers in
    // the watched folders (which finds nothing to do).
    let passes = settled_passes(&addr);
    assert!((1..=2).contains(&passes), "{passes} passes");
    let (status, body) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "gatekeeper_decisions_total{action=\"decline\",rule=\"agenda\"}",
        "gatekeeper_sync_lag_seconds{source=\"ana-local\"}",
        "gatekeeper_skipped_items_total 1",
        "gatekeeper_ready 1",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(
        !body.contains("example.com"),
        "addresses leak into labels:\n{body}"
    );
    assert_eq!(http_get(&addr, "/nope").0, 404);
    daemon.interrupt();
}

/// `gatekeeper_passes_total` as `/metrics` says it.
fn passes(addr: &str) -> u64 {
    let (_, body) = http_get(addr, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix("gatekeeper_passes_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pass counter in\n{body}"))
}

/// The pass count once it has stopped moving: unchanged over a quiet
/// stretch, looked for within a minute. A daemon that wakes itself for
/// ever never gets there; a slow machine only makes the stretch quieter.
fn settled_passes(addr: &str) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = passes(addr);
    let mut quiet = 0;
    while quiet < 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "passes never stop: {last}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = passes(addr);
        if now == last {
            quiet += 1;
        } else {
            (last, quiet) = (now, 0);
        }
    }
    last
}

/// With an hour's poll, a new invite file in a member's folder is screened
/// and answered at once (inotify wakes the loop), and then the daemon is
/// idle again: its own answer wakes it at most once, and that pass writes
/// nothing that would wake it again.
#[test]
fn a_new_invite_file_wakes_the_daemon_and_it_settles_after_answering() {
    let dir = demo_copy();
    let port = free_port();
    let config = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("poll_seconds = 30", "poll_seconds = 3600");
    assert!(text.contains("poll_seconds = 3600"));
    std::fs::write(
        &config,
        format!("{text}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let daemon = Running::start(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--now",
        DEMO_NOW,
    ]);
    daemon.wait_for_err("metrics on http://");
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while http_get(&addr, "/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The first pass answered the demo's invites; those answers wake it
    // at most once more.
    let before = settled_passes(&addr);
    assert!(before <= 2, "{before} passes before anything changed");

    let work = dir.path().join("calendars/ana/work");
    let invite = std::fs::read_to_string(work.join("sync-1.ics"))
        .unwrap()
        .replace("UID:sync-1@example.com", "UID:watched-1@example.com")
        .replace("SUMMARY:Sync", "SUMMARY:Watched without an agenda")
        .replace("DTSTART:20261201T150000Z", "DTSTART:20261202T150000Z")
        .replace("DTEND:20261201T153000Z", "DTEND:20261202T153000Z");
    // Written beside the folder and renamed in: the daemon never sees it
    // half written.
    let staged = dir.path().join("watched.ics.part");
    std::fs::write(&staged, invite).unwrap();
    std::fs::rename(&staged, work.join("watched.ics")).unwrap();

    let line = daemon.wait_for("Watched without an agenda");
    assert!(line.contains("decline"), "{line}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ics = std::fs::read_to_string(work.join("watched.ics")).unwrap();
        if ics.contains("PARTSTAT=DECLINED") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never answered:\n{ics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The new file woke one pass, its answer at most one more; then quiet.
    let after = settled_passes(&addr);
    assert!(
        after > before && after <= before + 2,
        "{before} passes before the invite, {after} after"
    );
    let err = daemon.interrupt();
    assert!(!err.contains("WARN"), "{err}");
}

#[test]
fn logs_can_be_json_lines_for_log_shippers() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let out = gatekeeper()
        .env("GATEKEEPER_LOG_FORMAT", "json")
        .env("GATEKEEPER_LOG", "info")
        .args(["run", "--once", "--now", DEMO_NOW, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            l["timestamp"].is_string() && l["level"].is_string() && l["message"].is_string(),
            "{l}"
        );
    }
    assert!(
        lines.iter().any(|l| l["level"] == "WARN"
            && l["message"]
                .as_str()
                .unwrap()
                .contains("ana-local:work/broken.ics")),
        "{err}"
    );
    // Decision lines on stdout are data and stay as they are.
    assert!(
        stdout_of(&out).contains("  decline   ana@example.com  \"Sync\""),
        "{}",
        stdout_of(&out)
    );

    // A config error is one JSON line whose message is the whole rendering.
    std::fs::write(
        &config,
        "policies = [\"policies\"]\npoll_second = 3\n[store]\nsqlite = \"s.db\"\n",
    )
    .unwrap();
    let out = gatekeeper()
        .env("GATEKEEPER_LOG_FORMAT", "json")
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(v["level"], "ERROR");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `poll_seconds`?"),
        "{v}"
    );
}

/// Policies, the config and `events --tz` share one zone suggestion.
#[test]
fn a_bare_city_gets_its_zone_suggested_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("team.toml");
    std::fs::write(
        &policy,
        "[team]\nname = \"t\"\n[[member]]\nemail = \"a@example.com\"\ntime_zone = \"Lisbon\"\nworking_hours = \"09:00-17:00\"\n",
    )
    .unwrap();
    let out = gatekeeper()
        .args(["policy", "lint"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("did you mean `Europe/Lisbon`?"),
        "{}",
        stderr_of(&out)
    );
    let err = gatekeeper::config::Config::parse(
        "policies = [\"p\"]\n[store]\nsqlite = \"s\"\n[report]\ntime_zone = \"new york\"\n",
    )
    .unwrap_err()
    .render(false);
    assert!(err.contains("did you mean `America/New_York`?"), "{err}");
}
