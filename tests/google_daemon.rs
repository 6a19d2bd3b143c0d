//! The whole daemon against the in-process fake of Google's Calendar API:
//! the real `google-calendar3` client, the service-account JWT flow, sync
//! tokens, patches, push notifications and injected failures.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatekeeper::config::Config;
use gatekeeper::daemon::Engine;
use gatekeeper::store::sqlite::SqliteStore;
use gatekeeper::team::Team;
use gatekeeper_google_fake::{Failure, FailureKind, FakeGoogle};
use serde_json::{Value, json};

const NOW: &str = "2026-11-30T08:00:00Z";

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

struct World {
    dir: tempfile::TempDir,
    fake: FakeGoogle,
    /// Keeps the fake serving for as long as the world lives.
    _rt: tokio::runtime::Runtime,
}

impl World {
    /// A fake with `members` (all in Lisbon) plus the organizer bo, a
    /// policy for them, a service-account key pointing at the fake, and a
    /// config. `extra` is appended to the Google source's table.
    fn new(members: &[&str], extra: &str) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let repo = common::repo();
        let public =
            std::fs::read(repo.join("tests/fixtures/google/service-account-public.der")).unwrap();
        let fake = FakeGoogle::new(public);
        fake.start(rt.handle(), "127.0.0.1:0".parse().unwrap())
            .unwrap();
        fake.add_user("bo@example.com", "America/New_York");
        let dir = tempfile::tempdir().unwrap();
        let mut policy = String::from("[team]\nname = \"g\"\ndomains = [\"example.com\"]\n\n");
        for m in members {
            fake.add_user(m, "Europe/Lisbon");
            policy.push_str(&format!(
                "[[member]]\nemail = \"{m}\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"09:00-17:30\"\n\n"
            ));
        }
        policy.push_str(
            "[[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n\n[exceptions]\none_to_one = \"screen\"\n",
        );
        std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
        let mut key: Value = serde_json::from_str(
            &std::fs::read_to_string(repo.join("tests/fixtures/google/service-account.json"))
                .unwrap(),
        )
        .unwrap();
        key["token_uri"] = json!(fake.token_uri());
        let key_path = dir.path().join("key.json");
        std::fs::write(&key_path, key.to_string()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let members_list = members
            .iter()
            .map(|m| format!("\"{m}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            dir.path().join("gatekeeper.toml"),
            format!(
                "policies = [\"policy.toml\"]\npoll_seconds = 3600\n\n[store]\nsqlite = \"state.db\"\n\n[[source]]\nkind = \"google\"\nname = \"google\"\nservice_account_key = \"key.json\"\nmembers = [{members_list}]\napi_base = \"{}\"\n{extra}\n",
                fake.api_base()
            ),
        )
        .unwrap();
        World { dir, fake, _rt: rt }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("gatekeeper.toml")
    }

    fn engine(&self) -> Engine<SqliteStore> {
        let config = Config::load(&self.config()).unwrap();
        let team = Team::load(&config.policies).unwrap();
        let store = SqliteStore::open(&config.store.sqlite).unwrap();
        Engine::new(config, store, team)
    }

    fn invite(&self, summary: &str, description: &str, attendees: &[&str]) -> String {
        let attendees: Vec<Value> = std::iter::once("bo@example.com")
            .chain(attendees.iter().copied())
            .map(|a| json!({"email": a}))
            .collect();
        self.fake.insert_event(
            "bo@example.com",
            json!({
                "summary": summary,
                "description": description,
                "start": {"dateTime": "2026-12-01T10:00:00Z", "timeZone": "Europe/Lisbon"},
                "end": {"dateTime": "2026-12-01T10:30:00Z", "timeZone": "Europe/Lisbon"},
                "attendees": attendees,
            }),
        )
    }

    /// The member's own attendee entry and gatekeeper's marker on their copy.
    fn answer(&self, member: &str, id: &str) -> (String, String, String) {
        let e = self
            .fake
            .event_as(member, id)
            .unwrap_or_else(|| panic!("{member} has no copy of {id}"));
        let me = e["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == member)
            .unwrap()
            .clone();
        (
            me["responseStatus"].as_str().unwrap_or("").to_string(),
            me["comment"].as_str().unwrap_or("").to_string(),
            e.pointer("/extendedProperties/private/gatekeeperResponse")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    }
}

const AGENDA: &str = "Agree the rollout order for the three payment regions and name the owners";

#[test]
fn declines_takes_back_and_leaves_a_persons_answer_alone() {
    let w = World::new(&["ana@example.com", "dev@example.com"], "");
    let no_agenda = w.invite("Sync", "", &["ana@example.com", "dev@example.com"]);
    let answered = w.invite("Catch-up", "", &["ana@example.com"]);
    w.fake.respond_as("ana@example.com", &answered, "accepted");
    let mut engine = w.engine();

    let report = engine.run_once(now()).unwrap();
    let declined: Vec<_> = report
        .decisions
        .iter()
        .filter(|d| d.action == "decline")
        .collect();
    assert_eq!(declined.len(), 2, "{:#?}", report.decisions);
    let (status, comment, marker) = w.answer("ana@example.com", &no_agenda);
    assert_eq!((status.as_str(), marker.as_str()), ("declined", "declined"));
    assert!(comment.contains("the invite has no agenda"), "{comment}");
    // The rules the answer stands on travel with the marker, so a lost
    // state database can still tell a new problem from an old one.
    let copy = w.fake.event_as("ana@example.com", &no_agenda).unwrap();
    assert_eq!(
        copy.pointer("/extendedProperties/private/gatekeeperRules"),
        Some(&json!("agenda"))
    );
    // Only Ana's own entry changed: Bo's answer on her copy is untouched.
    let bo_on_ana = w.fake.event_as("ana@example.com", &no_agenda).unwrap()["attendees"][0].clone();
    assert_eq!(bo_on_ana["email"], "bo@example.com");
    // A person's own answer stays.
    assert_eq!(w.answer("ana@example.com", &answered).0, "accepted");
    assert!(
        !report
            .decisions
            .iter()
            .any(|d| d.uid == answered && d.member == "ana@example.com")
    );

    // Nothing changed: no new decision, no new patch.
    let patches = w.fake.stats().total("events.patch");
    let again = engine.run_once(now()).unwrap();
    assert!(again.decisions.is_empty(), "{:#?}", again.decisions);
    assert_eq!(w.fake.stats().total("events.patch"), patches);

    // The organizer adds an agenda: gatekeeper takes its decline back.
    w.fake
        .update_event("bo@example.com", &no_agenda, json!({"description": AGENDA}));
    let fixed = engine.run_once(now()).unwrap();
    let ana = fixed
        .decisions
        .iter()
        .find(|d| d.member == "ana@example.com")
        .unwrap();
    assert_eq!(
        (
            ana.action.as_str(),
            ana.response.as_ref().map(|p| p.as_ical())
        ),
        ("allow", Some("NEEDS-ACTION"))
    );
    let (status, _, marker) = w.answer("ana@example.com", &no_agenda);
    assert_eq!((status.as_str(), marker.as_str()), ("needsAction", ""));

    // Ana declines it herself afterwards; a later edit does not touch it.
    w.fake.respond_as("ana@example.com", &no_agenda, "declined");
    w.fake
        .update_event("bo@example.com", &no_agenda, json!({"description": ""}));
    let later = engine.run_once(now()).unwrap();
    assert!(
        !later
            .decisions
            .iter()
            .any(|d| d.member == "ana@example.com"),
        "{:#?}",
        later.decisions
    );
    assert_eq!(
        w.answer("ana@example.com", &no_agenda).2,
        "",
        "no marker: the decline is Ana's own"
    );
}

#[test]
fn an_expired_sync_token_resyncs_without_acting_twice() {
    let w = World::new(&["ana@example.com"], "");
    let id = w.invite("Sync", "", &["ana@example.com"]);
    let mut engine = w.engine();
    assert_eq!(engine.run_once(now()).unwrap().decisions.len(), 1);
    let patches = w.fake.stats().total("events.patch");
    w.fake.expire_sync_tokens("ana@example.com");
    let after = engine.run_once(now()).unwrap();
    assert!(after.decisions.is_empty(), "{:#?}", after.decisions);
    assert_eq!(w.fake.stats().total("events.patch"), patches);
    assert_eq!(w.answer("ana@example.com", &id).0, "declined");

    // A second instance with an empty store (or a lost one) sees the
    // marker and the comment already there and writes nothing either.
    std::fs::remove_file(w.dir.path().join("state.db")).unwrap();
    let mut fresh = w.engine();
    let report = fresh.run_once(now()).unwrap();
    assert_eq!(
        w.fake.stats().total("events.patch"),
        patches,
        "{:#?}",
        report.decisions
    );
}

#[test]
fn a_token_that_expires_mid_run_is_refreshed() {
    let w = World::new(&["ana@example.com"], "");
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    let tokens = w.fake.stats().total("token");
    w.fake.expire_access_tokens();
    let id = w.invite("Sync", "", &["ana@example.com"]);
    let report = engine.run_once(now()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(w.answer("ana@example.com", &id).0, "declined");
    assert!(
        w.fake.stats().total("token") > tokens,
        "a new token was fetched"
    );
}

#[test]
fn a_revoked_member_stops_with_a_message_while_others_go_on() {
    let w = World::new(&["ana@example.com", "dev@example.com"], "");
    w.fake.revoke("dev@example.com");
    let id = w.invite("Sync", "", &["ana@example.com", "dev@example.com"]);
    let mut engine = w.engine();
    let report = engine.run_once(now()).unwrap();
    assert_eq!(w.answer("ana@example.com", &id).0, "declined");
    assert_eq!(w.answer("dev@example.com", &id).0, "needsAction");
    // A failure of the pass, tagged with the member (run --once exits 6).
    let failure = report
        .failures
        .iter()
        .find(|f| f.member.as_deref() == Some("dev@example.com"))
        .expect("a failure for dev");
    assert!(
        failure.reason.contains("domain-wide delegation"),
        "{failure}"
    );
    let (code, _, err) = common::run_once(&w.config(), NOW);
    assert_ne!(code, 0, "a member that cannot be synced fails `run --once`");
    assert!(err.contains("dev@example.com"), "{err}");
}

#[test]
fn with_a_fifth_of_calls_failing_every_invite_is_decided_exactly_once() {
    let members: Vec<String> = (0..6).map(|i| format!("m{i}@example.com")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let w = World::new(&refs, "");
    let ids: Vec<String> = (0..4)
        .map(|i| w.invite(&format!("Sync {i}"), "", &refs))
        .collect();
    w.fake.inject(Failure {
        probability: Some(0.2),
        ..Failure::new(FailureKind::BackendError)
    });
    let mut engine = w.engine();
    for _ in 0..5 {
        engine.run_once(now()).unwrap();
    }
    w.fake.clear_failures();
    engine.run_once(now()).unwrap();
    let rows: Vec<Value> = common::log_rows(&w.config());
    for m in &refs {
        for id in &ids {
            assert_eq!(w.answer(m, id).0, "declined", "{m} {id}");
            let decided: Vec<_> = rows
                .iter()
                .filter(|r| r["member"] == *m && r["uid"] == id.as_str())
                .collect();
            assert_eq!(decided.len(), 1, "{m} {id}: {decided:#?}");
            assert_eq!(decided[0]["outcome"], "applied");
        }
    }
    // One write that landed per member and invite: a retried request never
    // landed twice.
    let stats = w.fake.stats();
    assert_eq!(stats.answered("events.patch", 200), 24);
    // `/metrics` counts each failed attempt under its kind: every 500 the
    // fake answered is a `server` failure, and nothing else failed.
    let served_500: u64 = ["events.list", "events.patch", "events.get"]
        .iter()
        .map(|m| stats.answered(m, 500))
        .sum();
    let api = engine.api_stats();
    let kind = |k: &str| {
        let i = gatekeeper::source::google::stats::KINDS
            .iter()
            .position(|x| *x == k)
            .unwrap();
        api.failures[i]
    };
    assert!(served_500 > 0);
    assert_eq!(kind("server"), served_500, "{api:?}");
    assert_eq!(api.failures.iter().sum::<u64>(), served_500, "{api:?}");
    assert!(api.backoff_wait_seconds > 0.0, "{api:?}");
}

#[test]
fn fifty_members_sync_concurrently_within_the_configured_rates() {
    let members: Vec<String> = (0..50).map(|i| format!("p{i:02}@example.com")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    // Each member lists, patches, and, when a colleague's answer landed on
    // the shared invite after their calendar was read, reads it again
    // first: at most 3.
    let w = World::new(
        &refs,
        "rate_per_user_per_minute = 4\nrate_per_project_per_minute = 200",
    );
    for chunk in refs.chunks(10) {
        w.invite("Sync", "", chunk);
    }
    let mut engine = w.engine();
    let report = engine.run_once(now()).unwrap();
    assert_eq!(report.decisions.len(), 50);
    let stats = w.fake.stats();
    assert!(stats.max_per_minute_project <= 200, "{stats:?}");
    assert_eq!(stats.answered("events.patch", 200), 50, "{stats:?}");
    // A copy known to be stale (gatekeeper wrote to the invite after it was
    // read) is read again before the write, not refused.
    assert_eq!(stats.answered("events.patch", 412), 0, "{stats:?}");
    assert!(
        stats.max_per_minute_by_user.values().all(|n| *n <= 4),
        "{stats:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn spawn_daemon(config: &Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("gatekeeper"))
        .args(["run", "--now", NOW, "--config"])
        .arg(config)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_push_notification_gets_a_new_invite_declined_and_channels_are_stopped() {
    let port = free_port();
    let w = World::new(&["ana@example.com"], "");
    let config = std::fs::read_to_string(w.config()).unwrap()
        + &format!(
            "\n[webhook]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/google/notify\"\n"
        );
    std::fs::write(w.config(), config).unwrap();
    let mut daemon = spawn_daemon(&w.config());
    // The channel's `sync` message was accepted: the daemon knows the
    // channel (counting the watch request would not say that).
    assert!(
        wait_until(|| w.fake.stats().delivered("sync", 200) >= 1),
        "a channel was opened and registered"
    );
    let lists = w.fake.stats().total("events.list");

    // Polling is hourly: only the push notification can bring this in.
    let sent = Instant::now();
    let id = w.invite("Sync", "", &["ana@example.com"]);
    assert!(
        wait_until(|| w.answer("ana@example.com", &id).0 == "declined"),
        "declined after the notification"
    );
    eprintln!("push to decision: {:?}", sent.elapsed());
    assert!(w.fake.stats().total("events.list") > lists);

    let pid = daemon.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(daemon.wait().unwrap().success());
    assert!(
        w.fake.stats().total("channels.stop") >= 1,
        "the channel was stopped on shutdown"
    );
    assert_eq!(
        w.fake.stats().undelivered(),
        0,
        "every notification got 200"
    );
}

#[test]
fn a_daemon_killed_mid_sync_and_restarted_declines_nothing_twice_and_misses_nothing() {
    let members: Vec<String> = (0..8).map(|i| format!("k{i}@example.com")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let w = World::new(&refs, "");
    let ids: Vec<String> = (0..3)
        .map(|i| w.invite(&format!("Sync {i}"), "", &refs))
        .collect();
    w.fake.inject(Failure {
        method: Some("events.patch".into()),
        ..Failure::new(FailureKind::Slow(Duration::from_millis(150)))
    });
    let mut daemon = spawn_daemon(&w.config());
    assert!(
        wait_until(|| w.fake.stats().total("events.patch") >= 5),
        "the daemon started answering"
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // A patch already sent still lands (slowly, here), possibly after the
    // restart read the event: the restart's write and the late one carry
    // the same If-Match, so whichever comes second is refused (412), and a
    // refused restart reads again and finds the answer there. No waiting
    // for in-flight requests to settle.
    let before_restart = w.fake.stats().total("events.patch");
    assert!(
        before_restart < 24,
        "killed before it finished ({before_restart} patches)"
    );
    w.fake.clear_failures();

    let (code, _, err) = common::run_once(&w.config(), NOW);
    assert_eq!(code, 0, "{err}");
    for m in &refs {
        for id in &ids {
            assert_eq!(w.answer(m, id).0, "declined", "{m} {id}");
        }
    }
    // One write that landed per invite per member, whichever process sent
    // it: a patch in flight when the daemon died still lands (as at
    // Google), and the restart either sees gatekeeper's marker and comment
    // on it and sends nothing, or sends a conditional write of which only
    // one lands.
    let stats = w.fake.stats();
    assert_eq!(stats.answered("events.patch", 200), 24, "{stats:?}");
    let rows = common::log_rows(&w.config());
    for m in &refs {
        for id in &ids {
            let n = rows
                .iter()
                .filter(|r| r["member"] == *m && r["uid"] == id.as_str())
                .count();
            assert_eq!(n, 1, "{m} {id}");
        }
    }
}

#[test]
fn an_invite_over_the_members_focus_time_is_declined() {
    let w = World::new(&["ana@example.com"], "");
    let policy = w.dir.path().join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        format!("{text}\n[[rule]]\nkind = \"protected_time\"\naction = \"decline\"\n"),
    )
    .unwrap();
    w.fake.insert_event(
        "ana@example.com",
        json!({
            "summary": "Deep work", "eventType": "focusTime",
            "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T11:00:00Z"},
        }),
    );
    let mut engine = w.engine();
    assert!(
        engine.run_once(now()).unwrap().decisions.is_empty(),
        "a focus block is not an invite"
    );

    // Later syncs only bring the invites; the block is remembered.
    let over = w.invite("Pricing review", AGENDA, &["ana@example.com"]);
    let clear = w.fake.insert_event(
        "bo@example.com",
        json!({
            "summary": "Pricing follow-up", "description": AGENDA,
            "start": {"dateTime": "2026-12-01T14:00:00Z"}, "end": {"dateTime": "2026-12-01T14:30:00Z"},
            "attendees": [{"email": "bo@example.com"}, {"email": "ana@example.com"}],
        }),
    );
    let report = engine.run_once(now()).unwrap();
    let over_row = report
        .decisions
        .iter()
        .find(|d| d.uid == over)
        .expect("decided");
    assert_eq!(over_row.action, "decline");
    assert_eq!(
        over_row.findings.iter().next().map(|f| f.rule.as_str()),
        Some("protected_time")
    );
    let (status, comment, _) = w.answer("ana@example.com", &over);
    assert_eq!(status, "declined");
    assert!(comment.contains("it falls in ana@example.com's focus time (Tue 01 Dec 10:00 Europe/Lisbon): move it to another time"), "{comment}");
    assert_eq!(
        report
            .decisions
            .iter()
            .find(|d| d.uid == clear)
            .unwrap()
            .action,
        "allow"
    );
}

#[test]
fn a_member_without_a_zone_in_the_policy_gets_their_calendars_setting() {
    let w = World::new(&["kai@example.com"], "");
    // Kai's Google calendar says Tokyo; the policy names no zone for Kai.
    w.fake.add_user("kai@example.com", "Asia/Tokyo");
    std::fs::write(
        w.dir.path().join("policy.toml"),
        "[team]\nname = \"g\"\n\n[[member]]\nemail = \"kai@example.com\"\nworking_hours = \"09:00-17:30\"\n\n[[rule]]\nkind = \"working_hours\"\naction = \"annotate\"\n\n[exceptions]\none_to_one = \"screen\"\n",
    )
    .unwrap();
    // 10:00 UTC is inside 09:00-17:30 in UTC, but 19:00 in Tokyo.
    let id = w.invite("Pricing review", AGENDA, &["kai@example.com"]);
    let mut engine = w.engine();
    let report = engine.run_once(now()).unwrap();
    let row = report
        .decisions
        .iter()
        .find(|d| d.uid == id)
        .expect("decided");
    assert_eq!(row.action, "annotate", "{row:#?}");
    assert!(
        row.findings
            .iter()
            .next()
            .unwrap()
            .message
            .contains("Tue 19:00 Asia/Tokyo"),
        "{row:#?}"
    );
    assert_eq!(w.fake.stats().count("kai@example.com", "settings.get"), 1);
}

#[test]
fn the_weekly_report_reads_google_members_calendars() {
    let w = World::new(&["ana@example.com", "dev@example.com"], "");
    let id = w.invite(
        "Pricing review",
        AGENDA,
        &["ana@example.com", "dev@example.com"],
    );
    w.fake.respond_as("ana@example.com", &id, "accepted");
    w.fake.respond_as("dev@example.com", &id, "declined");
    let out = common::gatekeeper()
        .args([
            "report", "--week", "2026-W49", "--format", "json", "--config",
        ])
        .arg(w.config())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let member = |email: &str| {
        report["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap()
            .clone()
    };
    let ana = member("ana@example.com");
    assert_eq!(ana["has_calendar"], true);
    assert_eq!(
        (ana["meetings"].as_u64(), ana["meeting_minutes"].as_u64()),
        (Some(1), Some(30))
    );
    // Dev declined: not a meeting for Dev, but Dev's calendar was read.
    let dev = member("dev@example.com");
    assert_eq!(
        (dev["has_calendar"].as_bool(), dev["meetings"].as_u64()),
        (Some(true), Some(0))
    );
    assert!(w.fake.stats().count("ana@example.com", "events.list") >= 1);
}

/// A team with Ana in Lisbon and Kai in Tokyo whose policy uses fairness.
fn fair_world() -> World {
    let w = World::new(&["ana@example.com", "kai@example.com"], "");
    w.fake.add_user("kai@example.com", "Asia/Tokyo");
    std::fs::write(
        w.dir.path().join("policy.toml"),
        "[team]\nname = \"g\"\ndomains = [\"example.com\"]\n\n[[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"09:00-17:30\"\n\n[[member]]\nemail = \"kai@example.com\"\ntime_zone = \"Asia/Tokyo\"\nworking_hours = \"09:00-17:30\"\n\n[[rule]]\nkind = \"working_hours\"\naction = \"decline\"\n\n[fairness]\nwindow_weeks = 4\n",
    )
    .unwrap();
    w
}

fn insert(
    w: &World,
    organizer: &str,
    summary: &str,
    start: &str,
    end: &str,
    attendees: &[&str],
    extra: Value,
) -> String {
    let mut e = json!({
        "summary": summary, "description": AGENDA,
        "start": {"dateTime": start}, "end": {"dateTime": end},
        "attendees": std::iter::once(organizer).chain(attendees.iter().copied()).map(|a| json!({"email": a})).collect::<Vec<_>>(),
    });
    if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    w.fake.insert_event(organizer, e)
}

#[test]
fn suggested_times_avoid_google_members_busy_times() {
    let w = fair_world();
    // With nothing else in the way the fairest hour for Lisbon and Tokyo
    // starts at 08:15 UTC (Lisbon 08:15, Tokyo 17:15: the shoulder hours
    // split evenly). Kai has accepted meetings from 08:00 to 09:30 UTC
    // every weekday, so no suggestion may start in that span.
    for day in ["11-30", "12-01", "12-02", "12-03", "12-04"] {
        let id = insert(
            &w,
            "bo@example.com",
            "Kai's standing call",
            &format!("2026-{day}T08:00:00Z"),
            &format!("2026-{day}T09:30:00Z"),
            &["kai@example.com"],
            json!({}),
        );
        w.fake.respond_as("kai@example.com", &id, "accepted");
    }
    // An invite at 19:00 in Tokyo fails working hours for Kai.
    let late = insert(
        &w,
        "bo@example.com",
        "Late review",
        "2026-12-02T10:00:00Z",
        "2026-12-02T11:00:00Z",
        &["ana@example.com", "kai@example.com"],
        json!({}),
    );
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    let (status, comment, _) = w.answer("kai@example.com", &late);
    assert_eq!(status, "declined");
    let suggestions: Vec<&str> = comment
        .lines()
        .filter(|l| l.starts_with("- ") && l.contains(" UTC: "))
        .collect();
    assert_eq!(suggestions.len(), 3, "{comment}");
    for s in &suggestions {
        for busy in ["08:00", "08:15", "08:30", "08:45", "09:00", "09:15"] {
            assert!(
                !s.contains(&format!(" {busy}–")),
                "{s} starts while Kai is busy\n{comment}"
            );
        }
    }
}

#[test]
fn a_cancelled_occurrence_comes_off_the_burden_ledger() {
    use gatekeeper::store::Store;
    let w = fair_world();
    // A weekly series at 19:00 in Tokyo that Kai accepted: burden for Kai.
    let series = insert(
        &w,
        "bo@example.com",
        "Weekly sync",
        "2026-12-01T10:00:00Z",
        "2026-12-01T11:00:00Z",
        &["kai@example.com"],
        json!({"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]}),
    );
    w.fake.respond_as("kai@example.com", &series, "accepted");
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let outside = |engine: &Engine<SqliteStore>| {
        engine
            .store
            .burden_totals(t("2026-11-16T00:00:00Z"), t("2026-12-14T00:00:00Z"))
            .unwrap()["kai@example.com"]
            .outside_minutes
    };
    // The ledger looks two weeks ahead: 1 and 8 December, 60 minutes each.
    assert_eq!(outside(&engine), 120);

    // Bo cancels the 8 December occurrence.
    let occurrence = insert(
        &w,
        "bo@example.com",
        "Weekly sync",
        "2026-12-08T10:00:00Z",
        "2026-12-08T11:00:00Z",
        &["kai@example.com"],
        json!({"recurringEventId": series, "originalStartTime": {"dateTime": "2026-12-08T10:00:00Z"}}),
    );
    w.fake.cancel_event("bo@example.com", &occurrence);
    engine.run_once(now()).unwrap();
    assert_eq!(outside(&engine), 60);
}

impl World {
    /// Adds a `[webhook]` section listening on `port`.
    fn with_webhook(self, port: u16) -> World {
        let config = std::fs::read_to_string(self.config()).unwrap()
            + &format!(
                "\n[webhook]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/google/notify\"\n"
            );
        std::fs::write(self.config(), config).unwrap();
        self
    }
}

#[test]
fn a_member_accepting_during_a_429_backoff_keeps_their_answer() {
    let w = World::new(&["ana@example.com"], "");
    let id = w.invite("Sync", "", &["ana@example.com"]);
    // Gatekeeper's first patch is answered 429; while it waits, Ana
    // accepts in Google's UI.
    w.fake.inject(
        Failure::new(FailureKind::TooManyRequests {
            retry_after_secs: 1,
        })
        .method("events.patch")
        .times(1),
    );
    let hook_id = id.clone();
    w.fake.on_request("events.patch", move |f| {
        f.respond_as("ana@example.com", &hook_id, "accepted");
    });
    let mut engine = w.engine();
    let report = engine.run_once(now()).unwrap();
    assert_eq!(
        w.answer("ana@example.com", &id),
        ("accepted".into(), String::new(), String::new()),
        "Ana's own answer stands"
    );
    let stats = w.fake.stats();
    assert_eq!(stats.answered("events.patch", 429), 1, "{stats:?}");
    assert_eq!(
        stats.answered("events.patch", 412),
        1,
        "the retry kept its If-Match"
    );
    assert_eq!(
        stats.answered("events.patch", 200),
        0,
        "nothing was written"
    );
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // The log says what happened: decided, refused, nothing written.
    let rows = common::log_rows(&w.config());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["outcome"], "no_change", "{rows:#?}");
    assert!(
        rows[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("decided again")),
        "{rows:#?}"
    );

    // Nothing changed since: nothing more is sent.
    let again = engine.run_once(now()).unwrap();
    assert!(again.decisions.is_empty(), "{:#?}", again.decisions);
    assert_eq!(w.fake.stats().total("events.patch"), 2);
}

#[test]
fn an_applied_patch_whose_answer_was_lost_is_read_again_not_sent_again() {
    // A 500 after the write was applied, and a connection dropped after it
    // was applied: either way gatekeeper cannot tell, reads, and finds its
    // answer there.
    let check = |kind: FailureKind, lost: u16| {
        let w = World::new(&["ana@example.com"], "");
        let id = w.invite("Sync", "", &["ana@example.com"]);
        w.fake
            .inject(Failure::new(kind.clone()).method("events.patch").times(1));
        let mut engine = w.engine();
        let report = engine.run_once(now()).unwrap();
        assert_eq!(w.answer("ana@example.com", &id).0, "declined", "{kind:?}");
        let stats = w.fake.stats();
        assert_eq!(stats.total("events.patch"), 1, "no second patch: {stats:?}");
        assert_eq!(stats.answered("events.patch", lost), 1, "{stats:?}");
        assert!(stats.total("events.get") >= 1, "the event was read again");
        assert!(
            report.failures.is_empty(),
            "{kind:?}: {:?}",
            report.failures
        );
        let rows = common::log_rows(&w.config());
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0]["outcome"], "applied", "{kind:?}");

        let again = engine.run_once(now()).unwrap();
        assert!(again.decisions.is_empty(), "{:#?}", again.decisions);
        assert_eq!(w.fake.stats().total("events.patch"), 1, "{kind:?}");
    };
    check(FailureKind::BackendErrorAfterApplying, 500);
    check(FailureKind::DropConnectionAfterApplying, 0);
}

#[test]
fn a_refused_sync_token_leads_to_one_full_resync_in_either_form() {
    type Refuse = fn(&FakeGoogle, &str);
    let check = |refuse: Refuse, status: u16| {
        let w = World::new(&["ana@example.com"], "");
        let first = w.invite("Sync", "", &["ana@example.com"]);
        let mut engine = w.engine();
        assert_eq!(engine.run_once(now()).unwrap().decisions.len(), 1);
        refuse(&w.fake, "ana@example.com");
        let second = w.invite("Retro", "", &["ana@example.com"]);
        let report = engine.run_once(now()).unwrap();
        assert!(
            report.failures.is_empty(),
            "{status}: {:?}",
            report.failures
        );
        assert!(
            report.problems.is_empty(),
            "{status}: {:?}",
            report.problems
        );
        let decided: Vec<&str> = report.decisions.iter().map(|d| d.uid.as_str()).collect();
        assert_eq!(decided, vec![second.as_str()], "{status}");
        // The next pass syncs incrementally again: the token was refused
        // once and never sent again.
        let again = engine.run_once(now()).unwrap();
        assert!(
            again.decisions.is_empty(),
            "{status}: {:#?}",
            again.decisions
        );
        let stats = w.fake.stats();
        assert_eq!(stats.answered("events.list", status), 1, "{stats:?}");
        assert_eq!(stats.answered("events.patch", 200), 2, "{stats:?}");
        for id in [&first, &second] {
            assert_eq!(w.answer("ana@example.com", id).0, "declined");
        }
    };
    check(|f, m| f.refuse_sync_tokens(m), 400);
    check(|f, m| f.expire_sync_tokens(m), 410);
}

#[test]
fn a_restarted_fake_that_forgot_every_token_is_recovered_from_once() {
    let w = World::new(&["ana@example.com", "dev@example.com"], "");
    w.invite("Sync", "", &["ana@example.com", "dev@example.com"]);
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    w.fake.forget_sync_tokens();
    for _ in 0..3 {
        let report = engine.run_once(now()).unwrap();
        assert!(report.decisions.is_empty(), "{:#?}", report.decisions);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }
    let stats = w.fake.stats();
    assert_eq!(
        stats.answered("events.list", 410),
        2,
        "once per member: {stats:?}"
    );
    assert_eq!(stats.answered("events.patch", 200), 2, "{stats:?}");
}

#[test]
fn a_spent_quota_or_a_long_retry_after_for_one_member_does_not_hold_up_the_others() {
    let check = |kind: FailureKind| {
        let w = World::new(&["ana@example.com", "dev@example.com"], "");
        let id = w.invite("Sync", "", &["ana@example.com", "dev@example.com"]);
        w.fake
            .inject(Failure::new(kind.clone()).user("dev@example.com"));
        let mut engine = w.engine();
        let report = engine.run_once(now()).unwrap();
        assert_eq!(w.answer("ana@example.com", &id).0, "declined", "{kind:?}");
        assert_eq!(
            w.answer("dev@example.com", &id).0,
            "needsAction",
            "{kind:?}"
        );
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.member.as_deref() == Some("dev@example.com")
                    && f.reason.contains("later pass")),
            "{kind:?}: {:?}",
            report.failures
        );
        // One request for Dev in the pass: the wait is not sat out, and a
        // spent quota is not hammered.
        assert_eq!(
            w.fake.stats().count("dev@example.com", "events.list"),
            1,
            "{kind:?}"
        );
        let (code, _, err) = common::run_once(&w.config(), NOW);
        assert_ne!(code, 0, "{kind:?}: {err}");
        assert!(err.contains("dev@example.com"), "{kind:?}: {err}");

        // The quota comes back: the next pass answers for Dev.
        w.fake.clear_failures();
        engine.run_once(now()).unwrap();
        assert_eq!(w.answer("dev@example.com", &id).0, "declined", "{kind:?}");
    };
    check(FailureKind::QuotaExceeded);
    // An hour's Retry-After is far over the 60 s an in-pass wait may take.
    check(FailureKind::TooManyRequests {
        retry_after_secs: 3600,
    });
}

#[test]
fn a_sync_message_before_the_watch_answer_is_accepted() {
    let port = free_port();
    let w = World::new(&["ana@example.com"], "").with_webhook(port);
    // The fake opens the channel and sends `sync` at once, then takes a
    // while to answer `events.watch`.
    w.fake.inject(
        Failure::new(FailureKind::SlowAnswer(Duration::from_millis(800)))
            .method("events.watch")
            .times(1),
    );
    let log = w.dir.path().join("daemon.log");
    let mut daemon = std::process::Command::new(assert_cmd::cargo::cargo_bin("gatekeeper"))
        .args(["run", "--now", NOW, "--config"])
        .arg(w.config())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    assert!(
        wait_until(|| w.fake.stats().answered("events.watch", 200) >= 1),
        "the watch was answered"
    );
    assert!(
        wait_until(|| w.fake.stats().deliveries.values().sum::<u64>() >= 1),
        "the sync message was delivered"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(daemon.wait().unwrap().success());
    let stats = w.fake.stats();
    assert_eq!(stats.delivered("sync", 200), 1, "{stats:?}");
    assert_eq!(stats.undelivered(), 0, "{stats:?}");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(!err.contains("wrong token"), "{err}");
}

#[test]
fn a_policy_edit_keeps_the_push_channel_and_leaks_none() {
    let w = World::new(&["ana@example.com"], "").with_webhook(free_port());
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    assert!(engine.maintain_channels(now()).unwrap().is_empty());
    assert_eq!(w.fake.stats().total("events.watch"), 1);

    let policy = w.dir.path().join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace("min_words = 6", "min_words = 5")).unwrap();
    let config = Config::load(&w.config()).unwrap();
    engine.set_team(Team::load(&config.policies).unwrap());
    engine.run_once(now()).unwrap();
    assert!(engine.maintain_channels(now()).unwrap().is_empty());
    let stats = w.fake.stats();
    assert_eq!(
        stats.total("events.watch"),
        1,
        "no second channel: {stats:?}"
    );
    assert_eq!(stats.total("channels.stop"), 0);

    engine.stop_channels().unwrap();
    assert_eq!(w.fake.stats().answered("channels.stop", 204), 1);
}

#[test]
fn a_policy_edit_rescreens_google_members_with_one_windowed_read() {
    let w = World::new(&["ana@example.com"], "");
    let id = w.invite("Sync", "", &["ana@example.com"]);
    let mut engine = w.engine();
    engine.run_once(now()).unwrap();
    assert_eq!(w.answer("ana@example.com", &id).0, "declined");
    let lists = |w: &World| w.fake.stats().total("events.list");
    // An unchanged calendar costs one incremental list call per pass.
    let before = lists(&w);
    engine.run_once(now()).unwrap();
    let per_pass = lists(&w) - before;

    // The agenda rule only annotates now: the decline becomes a tentative
    // although nothing changed in the calendar (the sync token alone would
    // never bring the invite back).
    let policy = w.dir.path().join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        text.replace("action = \"decline\"", "action = \"annotate\""),
    )
    .unwrap();
    let config = Config::load(&w.config()).unwrap();
    engine.set_team(Team::load(&config.policies).unwrap());
    let before = lists(&w);
    engine.run_once(now()).unwrap();
    assert_eq!(w.answer("ana@example.com", &id).0, "tentative");
    assert_eq!(lists(&w) - before, per_pass + 1, "one windowed read more");
    // Once only.
    let before = lists(&w);
    engine.run_once(now()).unwrap();
    assert_eq!(lists(&w) - before, per_pass);
}

/// `config check` signs in as every member of a Google source and reads
/// their calendar's zone: a refused grant fails the check, naming the
/// member, and the others are still reported reachable.
#[test]
fn config_check_reaches_every_google_member_and_names_a_refused_one() {
    let w = World::new(&["ana@example.com", "dev@example.com"], "");
    let check = || {
        common::gatekeeper()
            .args(["config", "check", "--config"])
            .arg(w.config())
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = common::stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr_of(&out));
    for m in ["ana@example.com", "dev@example.com"] {
        assert!(stdout.contains(&format!("`{m}`: reachable")), "{stdout}");
    }
    w.fake.revoke("dev@example.com");
    let out = check();
    let (stdout, stderr) = (common::stdout_of(&out), common::stderr_of(&out));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("`ana@example.com`: reachable"), "{stdout}");
    assert!(
        stderr.contains("`dev@example.com`") && stderr.contains("domain-wide delegation"),
        "{stderr}"
    );
}
