//! `gatekeeper run`, `log` and `status` on a PostgreSQL store: the demo
//! team screened by two instances started at the same moment, every invite
//! decided once; the log read back from the database; a stopped instance
//! gives its members back.

mod common;
mod postgres;

use std::collections::BTreeMap;

use common::*;

/// The demo with its `[store]` pointed at a scratch schema.
fn demo_on(scratch: &postgres::Scratch) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let url = format!(
        "{}&options=-c%20search_path%3D{}",
        postgres::url(),
        scratch.schema
    );
    let text = text.replace(
        "sqlite = \"state/gatekeeper.db\"",
        &format!("url = \"{url}\""),
    );
    assert!(text.contains("url = "), "the demo config changed");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

#[test]
fn two_instances_at_once_decide_each_invite_once() {
    let scratch = postgres::Scratch::new("daemon");
    let (dir, config) = demo_on(&scratch);

    // A single instance first, on a copy, for the expected decisions.
    let solo = postgres::Scratch::new("daemon_solo");
    let (_solo_dir, solo_config) = demo_on(&solo);
    let (code, _, err) = run_once(&solo_config, DEMO_NOW);
    assert!(code == 0 || code == 6, "stderr: {err}");
    let expected = decided(&log_rows(&solo_config));
    assert!(!expected.is_empty());

    let runs: Vec<_> = (0..2)
        .map(|_| {
            let config = config.clone();
            std::thread::spawn(move || run_once(&config, DEMO_NOW))
        })
        .collect();
    for r in runs {
        let (code, _, err) = r.join().unwrap();
        assert!(code == 0 || code == 6, "stderr: {err}");
        assert!(!err.contains("password"), "{err}");
    }
    let rows = log_rows(&config);
    let got = decided(&rows);
    assert_eq!(
        got, expected,
        "each invite decided once, as one instance does"
    );
    for ((member, uid, rid), n) in &got {
        assert_eq!(*n, 1, "{member} {uid} {rid} decided {n} times");
    }

    // Both left: nobody holds anything, and status says so.
    let out = gatekeeper()
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "no instance has joined yet\n");

    // A second pass changes nothing: no new decision, no second write.
    let (code, _, err) = run_once(&config, DEMO_NOW);
    assert!(code == 0 || code == 6, "stderr: {err}");
    assert_eq!(log_rows(&config).len(), rows.len());
    drop(dir);
}

/// How many decisions each (member, uid, recurrence id) got.
fn decided(rows: &[serde_json::Value]) -> BTreeMap<(String, String, String), usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        let key = (
            r["member"].as_str().unwrap().to_string(),
            r["uid"].as_str().unwrap().to_string(),
            r["recurrence_id"].as_str().unwrap().to_string(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[test]
fn a_password_file_readable_by_others_is_refused_without_showing_it() {
    let scratch = postgres::Scratch::new("secret");
    let (dir, config) = demo_on(&scratch);
    let pw = dir.path().join("pg-password");
    std::fs::write(&pw, "hunter2-secret\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("url = ", "password_file = \"pg-password\"\nurl = ", 1),
    )
    .unwrap();
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("readable by others"), "{err}");
    assert!(!err.contains("hunter2") && !out.contains("hunter2"));
}

#[test]
fn store_migrate_moves_a_sqlite_state_and_its_log() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let (code, _, err) = run_once(&config, DEMO_NOW);
    assert!(code == 0 || code == 6, "stderr: {err}");
    let sqlite_log = log_rows(&config);
    assert!(!sqlite_log.is_empty());

    let scratch = postgres::Scratch::new("migrate_cli");
    let url = format!(
        "{}&options=-c%20search_path%3D{}",
        postgres::url(),
        scratch.schema
    );
    let db = dir.path().join("state/gatekeeper.db");
    let migrate = |to: &str| {
        gatekeeper()
            .args(["store", "migrate", "--from"])
            .arg(format!("sqlite:{}", db.display()))
            .args(["--to", to])
            .output()
            .unwrap()
    };
    let out = migrate(&format!("postgres:{url}"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains(&format!("copied {} decision(s)", sqlite_log.len())),
        "{}",
        stdout_of(&out)
    );
    // Twice would mix two histories: refused, nothing changed.
    let again = migrate(&url);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr_of(&again).contains("already holds decisions"));

    // The same config on PostgreSQL: the same log, ids included, and a
    // pass that finds nothing new to decide.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "sqlite = \"state/gatekeeper.db\"",
            &format!("url = \"{url}\""),
        ),
    )
    .unwrap();
    assert_eq!(log_rows(&config), sqlite_log);
    let (code, out, err) = run_once(&config, DEMO_NOW);
    assert!(code == 0 || code == 6, "stderr: {err}");
    assert_eq!(log_rows(&config), sqlite_log, "new lines: {out}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let dir = demo_copy();
    let config = dir.path().join("gatekeeper.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &config,
        text.replace(
            "sqlite = \"state/gatekeeper.db\"",
            "url = \"postgres://gk:s3cret-pw@127.0.0.1:1/gk?sslmode=disable&connect_timeout=5\"",
        ),
    )
    .unwrap();
    for args in [
        vec!["run", "--once", "--now", DEMO_NOW],
        vec!["log"],
        vec!["status"],
    ] {
        let out = gatekeeper()
            .args(&args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("postgres://gk@127.0.0.1:1/gk"),
            "{args:?} names the database: {err}"
        );
        assert!(
            !err.contains("s3cret") && !stdout_of(&out).contains("s3cret"),
            "{args:?}: {err}"
        );
    }
}

/// Who holds which member now, by instance id (live leases only).
fn lease_holders(scratch: &postgres::Scratch) -> BTreeMap<String, String> {
    // Nothing yet while the first instance is still creating the schema.
    let mut c = scratch.target().connect().unwrap();
    c.query(
        "SELECT member, instance FROM leases WHERE expires_at > now()",
        &[],
    )
    .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    .unwrap_or_default()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while !done() {
        assert!(std::time::Instant::now() < give_up, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_killed_instances_members_are_taken_over_and_nothing_is_decided_twice() {
    let scratch = postgres::Scratch::new("kill");
    let (_dir, config) = demo_on(&scratch);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace("poll_seconds = 30", "poll_seconds = 1")
        .replacen("url = ", "lease_seconds = 5\nurl = ", 1);
    std::fs::write(&config, text).unwrap();

    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
            .args(["run", "--now", DEMO_NOW, "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut instances: Vec<_> = (0..3).map(|_| start()).collect();
    let id_of = |child: &std::process::Child| format!("-{}", child.id());
    let members = ["ana@example.com", "bo@example.com", "chen@example.com"];

    // All three members held, one each.
    wait_for("the three instances split the three members", || {
        let h = lease_holders(&scratch);
        h.len() == 3
            && instances
                .iter()
                .all(|c| h.values().filter(|i| i.ends_with(&id_of(c))).count() == 1)
    });
    // SIGKILL: no goodbye; its member is free once its lease runs out.
    let mut killed = instances.remove(0);
    let gone = id_of(&killed);
    killed.kill().unwrap();
    killed.wait().unwrap();
    wait_for("the killed instance's member taken over", || {
        let h = lease_holders(&scratch);
        members
            .iter()
            .all(|m| h.get(*m).is_some_and(|i| !i.ends_with(&gone)))
    });
    // A new instance takes its share without the others restarting.
    instances.push(start());
    wait_for("the new instance holds a member", || {
        let h = lease_holders(&scratch);
        let newest = id_of(instances.last().unwrap());
        h.len() == 3 && h.values().any(|i| i.ends_with(&newest))
    });

    for mut c in instances {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let got = decided(&log_rows(&config));
    assert!(!got.is_empty());
    for ((member, uid, rid), n) in &got {
        assert_eq!(*n, 1, "{member} {uid} {rid} decided {n} times");
    }
}

#[test]
fn store_table_problems_point_at_their_line() {
    fn check(store: &str, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        let text = format!("policies = [\"policies\"]\n[store]\n{store}");
        std::fs::write(dir.path().join("gatekeeper.toml"), &text).unwrap();
        let out = gatekeeper()
            .current_dir(dir.path())
            .args(["config", "check", "--config", "gatekeeper.toml"])
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(4), "{text}\n{err}");
        assert!(err.contains(expect), "{text}\nwanted {expect:?} in:\n{err}");
    }
    check(
        "sqlite = \"s.db\"\nurl = \"postgres://db/gk\"\n",
        "error[store]: `[store]` sets both `sqlite` and `url`\n --> gatekeeper.toml:4:7",
    );
    check("", "error[store]: `[store]` names no database");
    check(
        "url = \"mysql://db/gk\"\n",
        "`url` in `[store]` is not a PostgreSQL URL",
    );
    check(
        "sqlite = \"s.db\"\npassword_env = \"PW\"\n",
        "a password is set for `[store]` but it has no `url`",
    );
    check(
        "url = \"postgres://db/gk\"\npassword_env = \"PW\"\npassword_file = \"pw\"\n",
        "`[store]` sets both `password_file` and `password_env`",
    );
    check(
        "url = \"postgres://db/gk\"\nlease_seconds = 1\n",
        "`lease_seconds` must be between 5 and 3600",
    );
}
