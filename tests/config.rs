//! The config file: lint-quality diagnostics, `config check`, `init`, and a
//! reference that matches the code.

mod common;

use common::*;
use gatekeeper::config::Config;
use gatekeeper::config::lint::{KEYS, reference_markdown};

/// Run `gatekeeper ARGS` in `dir` (so paths in messages are short).
fn in_dir(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    gatekeeper().current_dir(dir).args(args).output().unwrap()
}

const MANY_PROBLEMS: &str = r#"policies = ["policies", "nope"]
poll_second = 30
horizon_days = 4000000000
mode = "observ"

[store]
sqlite = "state/x.db"

[[source]]
kind = "vdir"
name = "a"
member = "ana@example.com"
path = "calendars/ana"

[[source]]
kind = "vdir"
name = "a"
member = "bo"
path = "calendars/missing"

[[source]]
kind = "gogle"
name = "g"

[webhook]
listen = "localhost"
public_url = "https://gatekeeper.example.com/google/notify"

[report]
weekday = "mon"
time_zone = "Lisbon"
formats = ["md", "pdf"]
"#;

#[test]
fn every_config_problem_is_reported_at_once_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::create_dir_all(dir.path().join("calendars/ana")).unwrap();
    std::fs::write(dir.path().join("gatekeeper.toml"), MANY_PROBLEMS).unwrap();
    let out = in_dir(dir.path(), &["config", "check"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr_of(&out);
    assert!(!err.contains("panicked"), "{err}");
    insta::assert_snapshot!("config_many_problems", err);
}

#[test]
fn each_config_problem_points_at_its_line() {
    fn check(text: &str, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        std::fs::write(dir.path().join("gatekeeper.toml"), text).unwrap();
        let out = in_dir(dir.path(), &["log", "--config", "gatekeeper.toml"]);
        assert_eq!(out.status.code(), Some(4), "{text}");
        let err = stderr_of(&out);
        assert!(err.contains(expect), "{text}\nwanted {expect:?} in:\n{err}");
    }
    let base = "policies = [\"policies\"]\n[store]\nsqlite = \"s.db\"\n";
    check(
        &format!("{base}sqllite = 1\n"),
        "gatekeeper.toml:4:1\n  |\n4 | sqllite = 1",
    );
    check(
        &format!("horizon_days = 4000000000\n{base}"),
        "`horizon_days` must be between 1 and 3660",
    );
    check(
        &format!("poll_seconds = -1\n{base}"),
        "gatekeeper.toml:1:16",
    );
    check(
        "policies = [\"policies\"]\n",
        "error[missing-key]: the config has no `[store]` table",
    );
    check(
        &format!(
            "{base}[[source]]\nkind = \"vdir\"\nname = \"x\"\nmember = \"a@example.com\"\npath = \"cal\"\n"
        ),
        "error[missing-path]: `cal` does not exist\n --> gatekeeper.toml:8:8",
    );
    check(
        &format!(
            "{base}[[source]]\nkind = \"google\"\nname = \"g\"\nservice_account_key = \"k.json\"\nclient_secret = \"c.json\"\n"
        ),
        "gatekeeper.toml:7:23",
    );
    check(
        &format!(
            "{base}[[source]]\nkind = \"google\"\nname = \"g\"\nservice_account_key = \"k\"\nsend_updates = \"externalonly\"\n"
        ),
        "did you mean `externalOnly`?",
    );
    check(
        &format!("{base}[webhook]\nlisten = \"127.0.0.1:1\"\n"),
        "the config has no `public_url` in `[webhook]`",
    );
    check("policies = [\"policies\"\n", "error[toml-syntax]");
}

#[test]
fn the_shipped_configs_pass_config_check() {
    for example in [
        "examples/demo/gatekeeper.toml",
        "examples/google-fake/gatekeeper.toml",
    ] {
        let out = gatekeeper()
            .args(["config", "check", "--config"])
            .arg(repo().join(example))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{example}: {}", stderr_of(&out));
        assert!(stdout_of(&out).contains("no errors"), "{}", stdout_of(&out));
    }
}

#[test]
fn config_check_reports_a_broken_policy_with_exit_3() {
    let dir = demo_copy();
    std::fs::write(dir.path().join("policies/demo.toml"), "[team\n").unwrap();
    let out = in_dir(dir.path(), &["config", "check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("demo.toml:1:"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn init_writes_files_that_pass_config_check_as_written() {
    for source in ["vdir", "google"] {
        let dir = tempfile::tempdir().unwrap();
        let out = in_dir(
            dir.path(),
            &[
                "init",
                "--member",
                "ana@example.com",
                "--member",
                "Bo@Example.com",
                "--source",
                source,
                "--team",
                "platform",
                "--time-zone",
                "Europe/Lisbon",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{source}: {}", stderr_of(&out));
        let out = in_dir(dir.path(), &["config", "check"]);
        assert_eq!(out.status.code(), Some(0), "{source}: {}", stderr_of(&out));
        assert!(
            stdout_of(&out).contains("policies: 2 member(s), no errors"),
            "{source}: {}",
            stdout_of(&out)
        );
        let lint = in_dir(dir.path(), &["policy", "lint"]);
        assert_eq!(
            lint.status.code(),
            Some(0),
            "{source}: {}",
            stderr_of(&lint)
        );
        let config = std::fs::read_to_string(dir.path().join("gatekeeper.toml")).unwrap();
        assert!(
            config.contains("mode = \"observe\""),
            "a new team starts observing"
        );
        assert!(config.contains("bo@example.com"), "{config}");

        // A second init does not overwrite what is there.
        let again = in_dir(dir.path(), &["init", "--member", "x@example.com"]);
        assert_eq!(again.status.code(), Some(1));
        assert!(
            stderr_of(&again).contains("--force"),
            "{}",
            stderr_of(&again)
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("gatekeeper.toml")).unwrap(),
            config
        );
    }
}

#[test]
fn init_rejects_bad_arguments_as_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["init", "--member", "ana"][..],
        &["init", "--member", "a@example.com", "--time-zone", "Lisbon"],
        &["init"],
    ] {
        let out = in_dir(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// The fields serde knows in one section, read from its "unknown field"
/// message, which lists them all.
fn serde_fields(text: &str) -> Vec<String> {
    let err = toml::from_str::<Config>(text).unwrap_err().to_string();
    let list = err
        .split("expected one of ")
        .nth(1)
        .or_else(|| err.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("no field list in {err}"));
    let mut fields: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    fields.sort();
    fields
}

#[test]
fn the_key_table_knows_exactly_the_keys_serde_does() {
    let base = "policies = [\"p\"]\n[store]\nsqlite = \"s.db\"\n";
    let cases = [
        ("the top level", format!("zz_unknown = 1\n{base}")),
        (
            "[store]",
            "policies = [\"p\"]\n[store]\nsqlite = \"s\"\nzz_unknown = 1\n".to_string(),
        ),
        ("[webhook]", format!("{base}[webhook]\nzz_unknown = 1\n")),
        ("[report]", format!("{base}[report]\nzz_unknown = 1\n")),
        ("[metrics]", format!("{base}[metrics]\nzz_unknown = 1\n")),
        ("[limits]", format!("{base}[limits]\nzz_unknown = 1\n")),
        (
            "[[source]] kind = \"vdir\"",
            format!("{base}[[source]]\nkind = \"vdir\"\nzz_unknown = 1\n"),
        ),
        (
            "[[source]] kind = \"google\"",
            format!("{base}[[source]]\nkind = \"google\"\nzz_unknown = 1\n"),
        ),
    ];
    for (section, text) in cases {
        let mut table: Vec<String> = KEYS
            .iter()
            .filter(|k| k.section == section)
            .map(|k| k.name.to_string())
            .filter(|k| !(section.starts_with("[[source]]") && k == "kind"))
            .collect();
        table.sort();
        let serde = serde_fields(&text);
        assert_eq!(table, serde, "{section}");
    }
}

#[test]
fn the_readme_reference_is_the_key_table() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = "<!-- config-reference:start -->\n";
    let end = "<!-- config-reference:end -->";
    let got = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table)
        .expect("README has the config reference markers");
    let want = reference_markdown();
    if std::env::var_os("UPDATE_README").is_some() && got != want {
        std::fs::write(repo().join("README.md"), readme.replace(got, &want)).unwrap();
        return;
    }
    assert_eq!(
        got, want,
        "README's config reference is out of date: run with UPDATE_README=1"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// No config text makes the checker panic, and an error always comes
    /// with a place inside the text.
    #[test]
    fn config_checking_never_panics(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("policies = [\"p\"]".to_string()),
                proptest::strategy::Just("[store]".to_string()),
                proptest::strategy::Just("sqlite = \"s\"".to_string()),
                proptest::strategy::Just("[[source]]".to_string()),
                proptest::strategy::Just("kind = \"google\"".to_string()),
                proptest::strategy::Just("[report]".to_string()),
                proptest::strategy::Just("[webhook]".to_string()),
                "[a-z_]{1,20} = -?[0-9]{1,25}",
                "[a-z_]{1,20} = \"[^\"\\\\]{0,20}\"",
                "\\PC{0,30}",
            ],
            0..12,
        )
    ) {
        let text = lines.join("\n");
        if let Err(gatekeeper::config::ConfigError::Invalid { diagnostics, .. }) = Config::parse(&text) {
            proptest::prop_assert!(!diagnostics.is_empty());
            for d in diagnostics {
                if let Some(s) = d.span {
                    proptest::prop_assert!(s.end <= text.len(), "{:?} beyond the text", s);
                }
            }
        }
    }
}

/// A config that is not UTF-8 gets the error a policy gets: file, line and
/// column, from `config check` and `run` alike (issue 9).
#[test]
fn a_config_that_is_not_utf8_is_an_error_with_its_place_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/demo"), dir.path());
    let config = dir.path().join("gatekeeper.toml");
    let mut bytes = std::fs::read(&config).unwrap();
    let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(&config, bytes).unwrap();
    let place = format!("gatekeeper.toml:{line}:6");
    for args in [
        &["config", "check"][..],
        &["run", "--once", "--now", "2026-11-30T08:00:00Z"][..],
    ] {
        let mut all = args.to_vec();
        all.extend(["--config", "gatekeeper.toml"]);
        let out = in_dir(dir.path(), &all);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains("not UTF-8"), "{args:?}: {err}");
        assert!(
            err.contains(&place),
            "{args:?} should point at {place}: {err}"
        );
    }
}
