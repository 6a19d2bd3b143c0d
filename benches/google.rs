//! Google Calendar figures against the in-process fake (see BENCHMARKS.md):
//! API calls per screened invite in steady state, time from a push
//! notification to the decision, API calls for one invite shared by ten
//! members (conditional writes meet each other's 412s), and full-sync time
//! and peak memory for 1,000 calendars with 500 events each.
//!
//! Run with `cargo bench --bench google` (add `-- --quick` for 100
//! calendars). The daemon runs as the real `gatekeeper` binary, measured by
//! `/usr/bin/time -v` for peak memory.

use std::path::Path;
use std::time::{Duration, Instant};

use gatekeeper_google_fake::FakeGoogle;
use serde_json::{Value, json};

const NOW: &str = "2026-11-30T08:00:00Z";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

struct Setup {
    dir: tempfile::TempDir,
    fake: FakeGoogle,
    _rt: tokio::runtime::Runtime,
}

fn setup(members: &[String], webhook_port: Option<u16>) -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeGoogle::new(
        std::fs::read(repo().join("tests/fixtures/google/service-account-public.der")).unwrap(),
    );
    fake.start(rt.handle(), "127.0.0.1:0".parse().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut policy = String::from("[team]\nname = \"bench\"\ndomains = [\"example.com\"]\n\n");
    for m in members {
        fake.add_user(m, "Europe/Lisbon");
        policy.push_str(&format!("[[member]]\nemail = \"{m}\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n"));
    }
    policy.push_str("[[rule]]\nkind = \"agenda\"\naction = \"decline\"\n\n[exceptions]\none_to_one = \"screen\"\n");
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let mut key: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/google/service-account.json"))
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
    let webhook = webhook_port.map_or(String::new(), |p| {
        format!("\n[webhook]\nlisten = \"127.0.0.1:{p}\"\npublic_url = \"http://127.0.0.1:{p}/google/notify\"\n")
    });
    std::fs::write(
        dir.path().join("gatekeeper.toml"),
        format!(
            "policies = [\"policy.toml\"]\npoll_seconds = 3600\n\n[store]\nsqlite = \"state.db\"\n\n[[source]]\nkind = \"google\"\nname = \"google\"\nservice_account_key = \"key.json\"\napi_base = \"{}\"\nrate_per_user_per_minute = 100000\nrate_per_project_per_minute = 1000000\n{webhook}",
            fake.api_base()
        ),
    )
    .unwrap();
    Setup { dir, fake, _rt: rt }
}

fn event(i: usize, organizer: &str, attendee: &str, description: &str) -> Value {
    // Spread over the coming weeks, on the hour, 30 minutes long.
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z").unwrap()
        + chrono::Duration::hours((i % 600) as i64);
    let end = start + chrono::Duration::minutes(30);
    json!({
        "summary": format!("Meeting {i}"),
        "description": description,
        "start": {"dateTime": start.to_rfc3339(), "timeZone": "Europe/Lisbon"},
        "end": {"dateTime": end.to_rfc3339(), "timeZone": "Europe/Lisbon"},
        "attendees": [{"email": organizer}, {"email": attendee}],
    })
}

const AGENDA: &str = "Agree the rollout order for the three payment regions and name the owners";

/// `gatekeeper run --once` under `/usr/bin/time -v`: (wall seconds, peak RSS in MiB, stdout lines).
fn run_once_measured(config: &Path) -> (f64, f64, usize) {
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_gatekeeper"))
        .args(["run", "--once", "--now", NOW, "--config"])
        .arg(config)
        .output()
        .expect("/usr/bin/time runs");
    let err = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
            .unwrap_or("0")
            .to_string()
    };
    let rss_kib: f64 = field("Maximum resident set size (kbytes):")
        .parse()
        .unwrap_or(0.0);
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):");
    let secs = wall
        .split(':')
        .fold(0.0, |acc, p| acc * 60.0 + p.parse::<f64>().unwrap_or(0.0));
    (
        secs,
        rss_kib / 1024.0,
        String::from_utf8_lossy(&out.stdout).lines().count(),
    )
}

fn full_sync(calendars: usize, per_calendar: usize) {
    let members: Vec<String> = (0..calendars)
        .map(|i| format!("u{i:04}@example.com"))
        .collect();
    let s = setup(&members, None);
    // Each event has an organizer and one attendee, so every calendar holds
    // `per_calendar` copies: half it organizes, half it is invited to.
    let seeding = Instant::now();
    for i in 0..calendars * per_calendar / 2 {
        let organizer = &members[i % calendars];
        let attendee = &members[(i + 1) % calendars];
        // One invite in twenty fails the policy, as in a team that has
        // mostly adopted it; the rest are screened and allowed.
        let description = if i % 20 == 0 { "" } else { AGENDA };
        s.fake
            .insert_event(organizer, event(i, organizer, attendee, description));
    }
    eprintln!(
        "seeded {} events in {:.1?}",
        calendars * per_calendar / 2,
        seeding.elapsed()
    );
    let (secs, rss, decisions) = run_once_measured(&s.dir.path().join("gatekeeper.toml"));
    let stats = s.fake.stats();
    println!(
        "full sync: {calendars} calendars x {per_calendar} events: {secs:.1} s wall, peak RSS {rss:.0} MiB, {decisions} decisions, {} list + {} patch calls",
        stats.total("events.list"),
        stats.total("events.patch")
    );
}

fn steady_state_and_push() {
    let members: Vec<String> = (0..20).map(|i| format!("s{i:02}@example.com")).collect();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = setup(&members, Some(port));
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
        .args(["run", "--now", NOW, "--config"])
        .arg(s.dir.path().join("gatekeeper.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait = |what: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !what() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        start.elapsed()
    };
    wait(&|| s.fake.stats().total("events.watch") >= members.len() as u64);
    std::thread::sleep(Duration::from_millis(300));
    let before = s.fake.stats();
    let mut latencies = Vec::new();
    let n = 40;
    for i in 0..n {
        let organizer = &members[i % members.len()];
        let attendee = &members[(i + 1) % members.len()];
        let id = s
            .fake
            .insert_event(organizer, event(i, organizer, attendee, ""));
        let took =
            wait(&|| {
                s.fake.event_as(attendee, &id).is_some_and(|e| {
                    e["attendees"].as_array().into_iter().flatten().any(|a| {
                        a["email"] == attendee.as_str() && a["responseStatus"] == "declined"
                    })
                })
            });
        latencies.push(took);
        // Let the organizer's own notification (its copy changed too) settle.
        std::thread::sleep(Duration::from_millis(150));
    }
    let after = s.fake.stats();
    let calls = |m: &str| after.total(m) - before.total(m);
    latencies.sort();
    println!(
        "push to decision over {n} invites: median {:.1?}, max {:.1?}",
        latencies[n / 2],
        latencies[n - 1]
    );
    println!(
        "steady state over {n} declined invites: {} list + {} patch calls = {:.2} calls per screened invite (floor: 1 list per notification + 1 patch per decision)",
        calls("events.list"),
        calls("events.patch"),
        (calls("events.list") + calls("events.patch")) as f64 / n as f64
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
}

/// One invite shared by `n` members that fails the policy for all of them:
/// every member's answer changes every other member's copy, so with
/// conditional writes all but the first answer can meet a 412 and a re-read.
fn shared_invite(n: usize) {
    let members: Vec<String> = (0..n).map(|i| format!("t{i:02}@example.com")).collect();
    let s = setup(&members, None);
    let mut attendees: Vec<Value> = vec![json!({"email": "org@example.com"})];
    attendees.extend(members.iter().map(|m| json!({"email": m})));
    s.fake.add_user("org@example.com", "Europe/Lisbon");
    s.fake.insert_event(
        "org@example.com",
        json!({
            "summary": "All hands", "description": "",
            "start": {"dateTime": "2026-12-01T10:00:00Z"}, "end": {"dateTime": "2026-12-01T10:30:00Z"},
            "attendees": attendees,
        }),
    );
    let (secs, _, decisions) = run_once_measured(&s.dir.path().join("gatekeeper.toml"));
    let st = s.fake.stats();
    println!(
        "one invite shared by {n} members: {decisions} decisions in {secs:.1} s; {} list + {} patch ({} applied, {} answered 412) + {} get calls = {:.1} calls per member",
        st.total("events.list"),
        st.total("events.patch"),
        st.answered("events.patch", 200),
        st.answered("events.patch", 412),
        st.total("events.get"),
        (st.total("events.list") + st.total("events.patch") + st.total("events.get")) as f64
            / n as f64
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    shared_invite(10);
    steady_state_and_push();
    if quick {
        full_sync(100, 500);
    } else {
        full_sync(1000, 500);
    }
}
