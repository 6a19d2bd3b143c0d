//! What people read when a policy file is wrong: the rustc-style report and
//! the JSON for editors, snapshotted, plus exact facts (codes, positions,
//! counts) asserted directly so a snapshot update cannot hide a regression.

mod common;

use gatekeeper::policy::diagnostic::{render_human, render_json};
use gatekeeper::policy::{Diagnostic, Severity, lint_sources, parse_policy};
use serde_json::Value;

const FILE: &str = "policies/team.toml";

fn source_for<'a>(files: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |p: &str| {
        files
            .iter()
            .find(|(path, _)| *path == p)
            .map(|(_, s)| s.to_string())
    }
}

/// Diagnostics of one file, parsed on its own.
fn diags(text: &str) -> Vec<Diagnostic> {
    parse_policy(text, FILE).1
}

/// The human report for one file, without colour.
fn lint(text: &str) -> String {
    let files = [(FILE, text)];
    render_human(&diags(text), &source_for(&files), false)
}

/// The human report for several files linted together.
fn lint_many(files: &[(&str, &str)]) -> String {
    let all: Vec<Diagnostic> = lint_sources(
        files
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect(),
    )
    .into_iter()
    .flat_map(|f| f.diagnostics)
    .collect();
    render_human(&all, &source_for(files), false)
}

fn json(text: &str) -> Value {
    let files = [(FILE, text)];
    serde_json::from_str(&render_json(&diags(text), &source_for(&files))).expect("valid JSON")
}

fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
    d.iter().map(|d| d.code).collect()
}

/// The text a JSON diagnostic's 1-based (line, column)..(end_line,
/// end_column) range covers (columns count characters).
fn covered(source: &str, d: &Value) -> String {
    let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("{k} in {d}")) as usize;
    let (line, col, end_line, end_col) = (n("line"), n("column"), n("end_line"), n("end_column"));
    assert_eq!(line, end_line, "single-line span expected: {d}");
    let text: Vec<char> = source
        .lines()
        .nth(line - 1)
        .expect("line")
        .chars()
        .collect();
    text[col - 1..end_col - 1].iter().collect()
}

const TEAM: &str = r#"[team]
name = "platform"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:30"

[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"

[[member]]
email = "chen@example.com"
time_zone = "Asia/Tokyo"
working_hours = "10:00-18:00"
"#;

/// One file with many different mistakes; every one must be reported in one
/// pass, and nothing else.
const MANY_PROBLEMS: &str = r#"[team]
name = "platform"
domains = ["example.com"]

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisbon"
working_hours = "09:00-17:30"

[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"

[[member]]
email = "chen@example.com"
time_zone = "Asia/Tokyo"
working_hours = "10:00-18:00"
working_hour = "10:00-18:00"

[[member]]
email = "dev@example.com"
time_zone = "Europe/Lisboa"
working_hours = "09:00-09:00"
working_days = ["monday", "wedensday"]

[[member]]
email = "eve.example.com"
time_zone = "UTC"
working_hours = "09:00-17:00"

[[rule]]
kind = "max_attendees"
action = "decline"
count = 1

[[rule]]
kind = "min_notice"
action = "annotate"
hours = 0

[[rule]]
kind = "meeting_free_days"
action = "decline"
days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

[[rule]]
kind = "stand_up"
action = "decline"

[[rule]]
kind = "agenda"
action = "decilne"

[[rule]]
kind = "max_attendees"
action = "annotate"
count = 8
members = ["ana@example.com", "anna@example.com"]

[[rule]]
kind = "max_duration"
action = "annotate"
minutes = 60

[[rule]]
kind = "max_duration"
action = "decline"
minutes = 90

[[rule]]
kind = "working_hours"
action = "annotate"
members = ["ana@example.com", "bo@example.com"]

[[rule]]
kind = "working_hours"
action = "decline"
members = ["bo@example.com", "chen@example.com"]

[[rule]]
kind = "min_notice"
action = "decline"
hours = 4
members = ["ana@example.com"]

[[rule]]
kind = "min_notice"
action = "annotate"
hours = 24
members = ["bo@example.com", "chen@example.com"]

[comment]
template = "Hi {organiser}, {member} {response} this: {reasons}"
"#;

#[test]
fn every_problem_is_reported_in_one_pass() {
    let d = diags(MANY_PROBLEMS);
    // In file order, one per planted problem.
    assert_eq!(
        codes(&d),
        vec![
            "unknown-key",         // working_hour
            "unknown-time-zone",   // Europe/Lisboa
            "impossible-value",    // 09:00-09:00
            "unknown-day",         // wedensday
            "invalid-email",       // eve.example.com
            "impossible-value",    // count = 1
            "impossible-value",    // hours = 0
            "impossible-value",    // all seven days meeting-free
            "unknown-rule",        // stand_up
            "unknown-value",       // decilne
            "unknown-member",      // anna@example.com
            "overlapping-rules",   // second max_duration for everyone
            "overlapping-rules",   // working_hours rules sharing bo
            "unknown-placeholder", // {organiser}
        ],
        "{d:#?}"
    );
    assert!(d.iter().all(|d| d.severity == Severity::Error));
    assert!(d.iter().all(|d| d.file == FILE));
    // The two min_notice rules scoped to different members are accepted:
    // no diagnostic points into the last rule.
    let last_rule = MANY_PROBLEMS.rfind("[[rule]]").unwrap();
    let comment = MANY_PROBLEMS.find("[comment]").unwrap();
    assert!(
        d.iter().all(|d| d
            .span
            .clone()
            .is_none_or(|s| !(last_rule..comment).contains(&s.start))),
        "{d:#?}"
    );

    let helps: Vec<Option<&str>> = d.iter().map(|d| d.help.as_deref()).collect();
    assert_eq!(helps[0], Some("did you mean `working_hours`?"));
    assert_eq!(helps[1], Some("did you mean `Europe/Lisbon`?"));
    assert_eq!(helps[3], Some("did you mean `wednesday`?"));
    assert_eq!(helps[9], Some("did you mean `decline`?"));
    assert_eq!(helps[10], Some("did you mean `ana@example.com`?"));
    assert_eq!(helps[13], Some("did you mean `{organizer}`?"));

    assert!(parse_policy(MANY_PROBLEMS, FILE).0.is_none());
    insta::assert_snapshot!(lint(MANY_PROBLEMS));
}

#[test]
fn many_problems_as_json() {
    let v = json(MANY_PROBLEMS);
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 14);
    let texts: Vec<(String, String)> = items
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                covered(MANY_PROBLEMS, d),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("unknown-key", "working_hour"),
            ("unknown-time-zone", "\"Europe/Lisboa\""),
            ("impossible-value", "\"09:00-09:00\""),
            ("unknown-day", "\"wedensday\""),
            ("invalid-email", "\"eve.example.com\""),
            ("impossible-value", "1"),
            ("impossible-value", "0"),
            (
                "impossible-value",
                "[\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\", \"saturday\", \"sunday\"]"
            ),
            ("unknown-rule", "\"stand_up\""),
            ("unknown-value", "\"decilne\""),
            ("unknown-member", "\"anna@example.com\""),
            ("overlapping-rules", "\"max_duration\""),
            ("overlapping-rules", "\"working_hours\""),
            ("unknown-placeholder", "{organiser}"),
        ]
    );
    // Exact positions for a few (1-based, columns in characters).
    let pos = |i: usize| {
        (
            items[i]["line"].as_u64().unwrap(),
            items[i]["column"].as_u64().unwrap(),
        )
    };
    assert_eq!(pos(0), (19, 1)); // working_hour = ...
    assert_eq!(pos(1), (23, 13)); // time_zone = "Europe/Lisboa"
    assert_eq!(pos(3), (25, 27)); // "wedensday"
    assert_eq!(items[0]["severity"], "error");
    assert_eq!(items[0]["file"], FILE);
    assert_eq!(items[1]["help"], "did you mean `Europe/Lisbon`?");
    insta::assert_snapshot!(render_json(
        &diags(MANY_PROBLEMS),
        &source_for(&[(FILE, MANY_PROBLEMS)])
    ));
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let text = "[team]\nname = \"platform\"\n\n[[member]]\nemail = \"ana@example.com\nworking_hours = \"09:00-17:00\"\n";
    let (policy, d) = parse_policy(text, FILE);
    assert!(policy.is_none());
    assert_eq!(codes(&d), vec!["toml-syntax"]);
    let v = json(text);
    assert_eq!(v[0]["line"], 5, "{v}");
    assert!(v[0]["column"].as_u64().unwrap() >= 9, "{v}");
    insta::assert_snapshot!(lint(text));
}

#[test]
fn member_listed_twice_points_at_both() {
    let text = format!(
        "{TEAM}\n[[member]]\nemail = \"Ana@Example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"10:00-18:00\"\n"
    );
    let (policy, d) = parse_policy(&text, FILE);
    assert!(policy.is_none());
    assert_eq!(codes(&d), vec!["duplicate-member"]);
    let first = text.find("\"ana@example.com\"").unwrap();
    let again = text.find("\"Ana@Example.com\"").unwrap();
    assert_eq!(d[0].span.as_ref().unwrap().start, again);
    assert_eq!(d[0].related.len(), 1);
    assert_eq!(d[0].related[0].span.start, first);
    assert_eq!(d[0].message, "`ana@example.com` is listed twice");
    insta::assert_snapshot!(lint(&text));
}

#[test]
fn member_in_two_teams_points_at_both_files() {
    let other = r#"[team]
name = "sales"

[[member]]
email = "zoe@example.com"
time_zone = "Europe/Paris"
working_hours = "09:00-17:00"

[[member]]
email = "BO@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"
"#;
    let files = [
        ("policies/platform.toml", TEAM),
        ("policies/sales.toml", other),
    ];
    let linted = lint_sources(
        files
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect(),
    );
    // The first file keeps its policy; the second is refused.
    assert!(linted[0].policy.is_some());
    assert!(linted[0].diagnostics.is_empty());
    assert!(linted[1].policy.is_none());
    assert_eq!(codes(&linted[1].diagnostics), vec!["member-in-two-teams"]);
    let d = &linted[1].diagnostics[0];
    assert_eq!(d.file, "policies/sales.toml");
    assert_eq!(
        &other[d.span.clone().unwrap()],
        "\"BO@example.com\"",
        "points at the second listing"
    );
    assert_eq!(d.related[0].file, "policies/platform.toml");
    assert_eq!(&TEAM[d.related[0].span.clone()], "\"bo@example.com\"");
    insta::assert_snapshot!(lint_many(&files));
}

#[test]
fn demo_policy_is_clean() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo/policies/demo.toml"
    );
    let text = std::fs::read_to_string(path).expect("demo policy");
    let (policy, d) = parse_policy(&text, path);
    assert!(d.is_empty(), "{d:#?}");
    let policy = policy.expect("a policy");
    assert_eq!(policy.team, "demo");
    assert_eq!(policy.members.len(), 4);
    assert_eq!(policy.rules.len(), 8);
    assert_eq!(lint(&text), "");
    assert_eq!(json(&text), serde_json::json!([]));
}

#[test]
fn warnings_alone_do_not_withhold_the_policy() {
    // No check in the parser emits a warning today, so this pins the
    // contract on the rendering side and on a clean file: a warning renders
    // as `warning[...]`, and `parse_policy` returns the policy whenever no
    // diagnostic is an error.
    let (policy, d) = parse_policy(TEAM, FILE);
    assert!(policy.is_some());
    assert!(d.iter().all(|d| !d.is_error()));

    let at = TEAM.find("\"Asia/Tokyo\"").unwrap();
    let w = Diagnostic::warning("example-warning", "this is only a warning")
        .at(at..at + "\"Asia/Tokyo\"".len(), "looked at here")
        .help("nothing to do");
    let mut w = w;
    w.file = FILE.into();
    let files = [(FILE, TEAM)];
    let human = render_human(std::slice::from_ref(&w), &source_for(&files), false);
    assert!(human.starts_with("warning[example-warning]"), "{human}");
    let v: Value = serde_json::from_str(&render_json(&[w], &source_for(&files))).unwrap();
    assert_eq!(v[0]["severity"], "warning");
    assert_eq!(covered(TEAM, &v[0]), "\"Asia/Tokyo\"");
    insta::assert_snapshot!(human);
}

#[test]
fn scoped_rules_that_share_no_member_are_accepted() {
    let text = format!(
        "{TEAM}
[[rule]]
kind = \"working_hours\"
action = \"annotate\"
members = [\"ana@example.com\"]

[[rule]]
kind = \"working_hours\"
action = \"decline\"
members = [\"bo@example.com\", \"chen@example.com\"]
"
    );
    let (policy, d) = parse_policy(&text, FILE);
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(policy.expect("a policy").rules.len(), 2);

    // A rule for everyone overlaps any scoped rule of the same kind.
    let text = format!(
        "{text}
[[rule]]
kind = \"working_hours\"
action = \"observe\"
"
    );
    assert_eq!(codes(&diags(&text)), vec!["overlapping-rules"]);
}

#[test]

fn a_member_with_a_mistake_is_still_a_member_for_rule_scopes() {
    // One mistake, one diagnostic: a typo in a member's time zone must not
    // also make every rule scoped to that member say "not a member".
    let text = r#"[team]
name = "platform"

[[member]]
email = "ana@example.com"
time_zone = "Europe/Lisboa"
working_hours = "09:00-17:30"

[[member]]
email = "bo@example.com"
time_zone = "America/New_York"
working_hours = "09:00-17:00"

[[rule]]
kind = "working_hours"
action = "annotate"
members = ["ana@example.com"]
"#;
    assert_eq!(codes(&diags(text)), vec!["unknown-time-zone"]);
}

#[test]

fn unknown_member_gets_no_suggestion_for_an_unrelated_person() {
    let text = format!(
        "{TEAM}
[[rule]]
kind = \"working_hours\"
action = \"annotate\"
members = [\"zed@example.com\"]
"
    );
    let d = diags(&text);
    assert_eq!(codes(&d), vec!["unknown-member"]);
    // `zed` is not a typo of `chen`, `ana` or `bo`.
    assert_eq!(d[0].help, None, "{d:#?}");
}

#[test]

fn round_the_clock_hours_are_accepted() {
    let text = TEAM.replace("\"10:00-18:00\"", "\"00:00-24:00\"");
    let (policy, d) = parse_policy(&text, FILE);
    assert!(d.is_empty(), "{d:#?}");
    assert!(policy.is_some());
}

#[test]
fn numbers_are_read_in_any_toml_notation() {
    let text = format!(
        "{TEAM}
[[rule]]
kind = \"min_notice\"
action = \"annotate\"
hours = 0x18

[[rule]]
kind = \"max_duration\"
action = \"annotate\"
minutes = 1_440
"
    );
    let (policy, d) = parse_policy(&text, FILE);
    assert!(d.is_empty(), "{d:#?}");
    let specs: Vec<String> = policy
        .expect("a policy")
        .rules
        .iter()
        .map(|r| format!("{:?}", r.spec))
        .collect();
    assert_eq!(
        specs,
        vec!["MinNotice { hours: 24 }", "MaxDuration { minutes: 1440 }"]
    );

    let neg = TEAM.to_string()
        + "\n[[rule]]\nkind = \"max_attendees\"\naction = \"observe\"\ncount = -3\n";
    let d = diags(&neg);
    assert_eq!(codes(&d), vec!["impossible-value"]);
    assert_eq!(d[0].message, "`count` must be between 2 and 10000");
}

#[test]
fn a_template_naming_an_absent_urgent_keyword_is_a_warning_not_an_error() {
    let text = "[team]\nname = \"t\"\n\n[[member]]\nemail = \"a@example.com\"\ntime_zone = \"UTC\"\nworking_hours = \"09:00-17:00\"\n\n[comment]\ntemplate = \"{reasons} or say {urgent_keyword}\"\n";
    let (policy, diags) = parse_policy(text, "t.toml");
    assert!(policy.is_some(), "warnings keep the policy: {diags:#?}");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].severity, gatekeeper::policy::Severity::Warning);
    assert_eq!(diags[0].code, "unused-placeholder");
    let span = diags[0].span.clone().unwrap();
    assert_eq!(&text[span], "\"{reasons} or say {urgent_keyword}\"");
    let with_urgent = text.replace(
        "[comment]",
        "[exceptions.urgent]\nkeyword = \"urgent\"\nper_organizer_per_month = 1\n\n[comment]",
    );
    assert!(parse_policy(&with_urgent, "t.toml").1.is_empty());
}

/// A policy that is not UTF-8 (a Latin-1 `é`, byte 0xE9, on line 5) is one
/// error with file, line and column from every reader: `policy lint`,
/// `check`, `suggest` and `run` read policy files the same way.
#[test]
fn a_policy_that_is_not_utf8_is_an_error_with_its_place_everywhere() {
    let dir = common::demo_copy();
    let policy = dir.path().join("policies/demo.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    let mut bytes = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == 4 {
            assert_eq!(line, "name = \"demo\"\n");
            bytes.extend_from_slice(b"name = \"d\xE9mo\"\n");
        } else {
            bytes.extend_from_slice(line.as_bytes());
        }
    }
    std::fs::write(&policy, &bytes).unwrap();
    let place = format!("{}:5:10", policy.display());
    let invite = dir.path().join("calendars/ana/work/planning.ics");
    let config = dir.path().join("gatekeeper.toml");
    let p = policy.to_str().unwrap();
    let runs: [(&str, Vec<&str>); 4] = [
        ("lint", vec!["policy", "lint", p]),
        (
            "check",
            vec!["check", "--policy", p, invite.to_str().unwrap()],
        ),
        (
            "suggest",
            vec![
                "suggest",
                "--policy",
                p,
                "--attendees",
                "ana@example.com",
                "--duration",
                "30m",
            ],
        ),
        (
            "run",
            vec!["run", "--once", "--config", config.to_str().unwrap()],
        ),
    ];
    for (name, args) in runs {
        let out = common::gatekeeper().args(&args).output().unwrap();
        let err = common::stderr_of(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains("error[not-utf8]: the file is not UTF-8: byte `0xE9` cannot be read"),
            "{name}: {err}"
        );
        assert!(err.contains(&place), "{name}: no `{place}` in {err}");
    }
    // JSON for editors carries the same place.
    let out = common::gatekeeper()
        .args(["policy", "lint", "--format", "json", p])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "not-utf8")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(5), Some(10))
    );
}

/// 8,000 problems are 8,000 diagnostics, each rendered with its own place
/// (lint is linear in the diagnostics: see BENCHMARKS.md; this test checks
/// the count and the places, never the time). Kinds: unknown keys, an
/// unknown member on one very long line, and a member listed again far
/// from the first listing.
#[test]
fn eight_thousand_problems_are_all_reported_in_place() {
    let mut text = String::from(
        "[team]\nname = \"t\"\n\n[[member]]\nemail = \"ana@example.com\"\ntime_zone = \"UTC\"\nworking_hours = \"09:00-17:00\"\n\n",
    );
    for i in 0..3000 {
        text.push_str(&format!(
            "[[member]]\nemail = \"ana@example.com\"\ntime_zone = \"UTC\"\nworking_hours = \"09:00-17:00\"\nkey{i} = 1\n\n"
        ));
    }
    text.push_str("[[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmembers = [");
    for i in 0..2000 {
        text.push_str(&format!("\"x{i}@example.com\", "));
    }
    text.push_str("]\n");
    let d = diags(&text);
    let count = |code: &str| d.iter().filter(|d| d.code == code).count();
    assert_eq!(
        (
            count("unknown-key"),
            count("duplicate-member"),
            count("unknown-member")
        ),
        (3000, 3000, 2000)
    );
    let files = [(FILE, text.as_str())];
    let v: Value = serde_json::from_str(&render_json(&d, &source_for(&files))).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 8000);
    let lines: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
    for item in items {
        let (line, col) = (
            item["line"].as_u64().unwrap(),
            item["column"].as_u64().unwrap(),
        );
        assert!(col as usize <= lines[line as usize - 1] + 1, "{item}");
    }
    // Every diagnostic reaches the human report with its own place.
    let human = render_human(&d, &source_for(&files), false);
    assert_eq!(human.matches("error[").count(), 8000);
    let long_line = text.lines().count();
    assert!(
        human.contains(&format!("{FILE}:{long_line}:"))
            && human.contains("the line is too long to show"),
        "{}",
        &human[human.len().saturating_sub(2000)..]
    );
}

// ---- fuzzed policy parsing (issue 9) -----------------------------------

mod fuzz {
    use super::*;
    use gatekeeper::policy::{lint_bytes, parse_policy_bytes};
    use proptest::prelude::*;

    /// TOML-ish lines built from the policy's own vocabulary, so that the
    /// parser's deeper paths (members, rules, fairness) are reached, with
    /// odd values, duplicates and broken syntax mixed in.
    fn tomlish() -> impl Strategy<Value = String> {
        let header = prop::sample::select(vec![
            "[team]",
            "[[member]]",
            "[[rule]]",
            "[exceptions]",
            "[exceptions.urgent]",
            "[comment]",
            "[fairness]",
            "[[team]]",
            "[member]",
            "[",
            "[[rule",
        ])
        .prop_map(str::to_string);
        let key = prop::sample::select(vec![
            "name",
            "domains",
            "email",
            "time_zone",
            "working_hours",
            "working_days",
            "kind",
            "action",
            "members",
            "min_words",
            "hours",
            "days",
            "minutes",
            "count",
            "ratio",
            "max_share",
            "minutes_per_week",
            "organizers",
            "keyword",
            "per_organizer_per_month",
            "one_to_one",
            "external_guests",
            "template",
            "window_weeks",
            "suggest_days",
            "shoulder_hours",
            "night_weight",
            "count_optional",
            "bogus",
            "émail",
        ]);
        let value = prop_oneof![
            "\"[a-z@.é{}_ -]{0,12}\"".prop_map(|s| s),
            prop::sample::select(vec![
                "\"ana@example.com\"",
                "\"Europe/Lisbon\"",
                "\"Pacific/Chatham\"",
                "\"09:00-17:00\"",
                "\"22:00-24:00\"",
                "\"00:00-24:00\"",
                "\"24:00-24:00\"",
                "\"working_hours\"",
                "\"outside_hours_budget\"",
                "\"series_rotation\"",
                "\"decline\"",
                "[\"monday\", \"sun\"]",
                "[]",
                "[\"ana@example.com\"]",
                "{ a = 1 }",
                "true",
                "1e400",
                "-0",
                "9223372036854775807",
                "99999999999999999999",
                "0.5",
                "nan",
                "\"\"\"\n\"\"\"",
                "'lit'",
            ])
            .prop_map(str::to_string),
            any::<i64>().prop_map(|n| n.to_string()),
        ];
        let line = prop_oneof![
            2 => header,
            6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
            1 => "[^\n]{0,20}".prop_map(|s| s),
        ];
        prop::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
    }

    /// Every diagnostic points inside its file, JSON places are real lines
    /// and columns, and both renderings finish.
    fn check_diagnostics(source: &str, diags: &[Diagnostic]) {
        for d in diags {
            if let Some(span) = &d.span {
                assert!(
                    span.start <= span.end && span.end <= source.len(),
                    "{d:?} outside a file of {} bytes",
                    source.len()
                );
            }
        }
        let files = [(FILE, source)];
        let json: Value = serde_json::from_str(&render_json(diags, &source_for(&files))).unwrap();
        let lines: Vec<usize> = source.split('\n').map(|l| l.chars().count()).collect();
        for item in json.as_array().unwrap() {
            if let (Some(line), Some(col)) = (item["line"].as_u64(), item["column"].as_u64()) {
                let len = lines
                    .get(line as usize - 1)
                    .unwrap_or_else(|| panic!("{item}"));
                assert!(col as usize <= len + 1, "{item}");
            }
        }
        render_human(diags, &source_for(&files), false);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn parsing_tomlish_text_never_panics(text in tomlish()) {
            let (policy, diags) = parse_policy(&text, FILE);
            prop_assert_eq!(policy.is_none(), diags.iter().any(|d| d.is_error()));
            check_diagnostics(&text, &diags);
        }

        #[test]
        fn parsing_any_bytes_never_panics(
            prefix in tomlish(),
            bytes in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut input = prefix.into_bytes();
            input.extend_from_slice(&bytes);
            let (text, policy, diags) = parse_policy_bytes(input.clone(), FILE);
            let utf8 = std::str::from_utf8(&input).is_ok();
            prop_assert_eq!(utf8, !diags.iter().any(|d| d.code == "not-utf8"));
            prop_assert!(policy.is_none() || utf8);
            check_diagnostics(&text, &diags);
            // Linting the same bytes with another file finds the same.
            let linted = lint_bytes(vec![(FILE.to_string(), input)]);
            prop_assert_eq!(linted[0].diagnostics.len(), diags.len());
        }
    }
}
