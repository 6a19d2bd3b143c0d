//! `config check` as a whole: what it prints for each kind of source,
//! reachable or not, on stdout and stderr, and its exit code. The lines
//! are what an operator reads after `init`, so they are held by snapshots;
//! the per-backend checks behind them live in each backend's own folder.

mod common;

use common::radicale::{DELEGATE, Radicale};
use common::*;

/// stdout, stderr and the exit code of `config check` in `dir`, with
/// `redact` replaced by a fixed word (a server's changing port).
fn config_check(dir: &std::path::Path, redact: &[(&str, &str)]) -> String {
    let out = gatekeeper()
        .current_dir(dir)
        .args(["config", "check", "--config", "gatekeeper.toml"])
        .output()
        .unwrap();
    let mut all = format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout_of(&out),
        stderr_of(&out)
    );
    for (from, to) in redact {
        all = all.replace(from, to);
    }
    all
}

/// Local folders (one empty, one not a folder), a Google source whose key
/// is not in place yet and a CalDAV source whose token file is missing:
/// members in no policy are warnings, an empty folder is a warning, a
/// missing key is a good config not contacted yet, and a folder that
/// cannot be listed or a CalDAV source that cannot log in fails the check.
#[test]
fn local_sources_and_sources_not_ready_yet() {
    let dir = demo_copy();
    let root = dir.path();
    std::fs::create_dir_all(root.join("calendars/empty")).unwrap();
    std::fs::write(root.join("calendars/afile"), "").unwrap();
    let mut config = std::fs::read_to_string(root.join("gatekeeper.toml")).unwrap();
    config.push_str(
        "\n[[source]]\nkind = \"vdir\"\nname = \"empty\"\nmember = \"zed@example.com\"\npath = \"calendars/empty\"\n\
         \n[[source]]\nkind = \"vdir\"\nname = \"notafolder\"\nmember = \"ana@example.com\"\npath = \"calendars/afile\"\n\
         \n[[source]]\nkind = \"google\"\nname = \"g\"\nservice_account_key = \"missing-key.json\"\n\
         members = [\"ana@example.com\", \"yul@example.com\"]\n\
         \n[[source]]\nkind = \"google\"\nname = \"everyone\"\nservice_account_key = \"missing-key.json\"\n\
         \n[[source]]\nkind = \"google\"\nname = \"own\"\nclient_secret = \"missing-secret.json\"\n\
         token_file = \"token.json\"\nmember = \"zed@example.com\"\n\
         \n[[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"http://127.0.0.1:1/\"\n\
         token_file = \"missing-token\"\nmember = \"bo@example.com\"\n",
    );
    std::fs::write(root.join("gatekeeper.toml"), config).unwrap();
    insta::assert_snapshot!(config_check(root, &[]));

    // Without the failing sources the same config passes, warnings and all.
    let config = std::fs::read_to_string(root.join("gatekeeper.toml")).unwrap();
    let passing: String = config
        .split("\n[[source]]")
        .filter(|s| !s.contains("\"notafolder\"") && !s.contains("\"dav\""))
        .collect::<Vec<_>>()
        .join("\n[[source]]");
    std::fs::write(root.join("gatekeeper.toml"), passing).unwrap();
    insta::assert_snapshot!(config_check(root, &[]));
}

/// A CalDAV source on Radicale through the delegated login: each member's
/// calendars are found and counted; a member the server has no principal
/// for fails the check, naming them, and the others are still reported.
#[test]
fn caldav_members_reachable_and_not() {
    let server = Radicale::start(&[("ana", "ana-pw"), ("bo", "bo-pw")]);
    server.mkcalendar("ana", "work");
    server.mkcalendar("ana", "home");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("policies")).unwrap();
    std::fs::write(
        root.join("policies/team.toml"),
        "[team]\nname = \"t\"\ndomains = [\"example.com\"]\n\n\
         [[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n\
         [[member]]\nemail = \"bo@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n",
    )
    .unwrap();
    server.password_file(DELEGATE, root);
    let source = |members: &str| {
        format!(
            "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"{}/\"\nuser = \"{DELEGATE}\"\n\
             password_file = \"{DELEGATE}.password\"\nprincipal_url = \"/{{user}}/\"\n{members}",
            server.base_url()
        )
    };
    let port = server.port().to_string();
    let redact = [(port.as_str(), "PORT")];

    std::fs::write(root.join("gatekeeper.toml"), source("")).unwrap();
    insta::assert_snapshot!(config_check(root, &redact));

    std::fs::write(
        root.join("gatekeeper.toml"),
        source("members = [\"ana@example.com\", \"xi@example.com\", \"bo@example.com\"]\n"),
    )
    .unwrap();
    insta::assert_snapshot!(config_check(root, &redact));
}

/// A Google source against the fake API: each member is signed in as and
/// their calendar's zone read; a member whose grant is revoked fails the
/// check, naming them, and a member in no policy is a warning.
#[test]
fn google_members_reachable_and_not() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let public =
        std::fs::read(repo().join("tests/fixtures/google/service-account-public.der")).unwrap();
    let fake = gatekeeper_google_fake::FakeGoogle::new(public);
    fake.start(rt.handle(), "127.0.0.1:0".parse().unwrap())
        .unwrap();
    fake.add_user("ana@example.com", "Europe/Lisbon");
    fake.add_user("bo@example.com", "America/New_York");
    fake.add_user("yul@example.com", "Asia/Tokyo");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("policy.toml"),
        "[team]\nname = \"g\"\ndomains = [\"example.com\"]\n\n\
         [[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"09:00-17:30\"\n\n\
         [[member]]\nemail = \"bo@example.com\"\ntime_zone = \"America/New_York\"\nworking_hours = \"09:00-17:30\"\n",
    )
    .unwrap();
    let mut key: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/google/service-account.json"))
            .unwrap(),
    )
    .unwrap();
    key["token_uri"] = serde_json::json!(fake.token_uri());
    std::fs::write(root.join("key.json"), key.to_string()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            root.join("key.json"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let config = |members: &str| {
        format!(
            "policies = [\"policy.toml\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"google\"\nname = \"google\"\nservice_account_key = \"key.json\"\n\
             api_base = \"{}\"\n{members}",
            fake.api_base()
        )
    };
    std::fs::write(root.join("gatekeeper.toml"), config("")).unwrap();
    insta::assert_snapshot!(config_check(root, &[]));

    fake.revoke("bo@example.com");
    std::fs::write(
        root.join("gatekeeper.toml"),
        config("members = [\"yul@example.com\", \"bo@example.com\", \"ana@example.com\"]\n"),
    )
    .unwrap();
    insta::assert_snapshot!(config_check(root, &[]));
}
