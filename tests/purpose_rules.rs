//! The `purpose` and `decision_record` rules (issue 15) in the core: what
//! lint says about them, what the evaluator decides, the exceptions the
//! other rules share, and the comments organizers read (snapshots).

use chrono::{DateTime, Utc};
use gatekeeper::calendar::{Attendee, PartStat, Role};
use gatekeeper::policy::diagnostic::render_human;
use gatekeeper::policy::evaluate::Exemption;
use gatekeeper::policy::{
    Context, Decision, Diagnostic, Invite, Policy, RuleKind, Span, evaluate, parse_policy,
};

const FILE: &str = "policies/team.toml";

const TEAM: &str = r#"[team]
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
"#;

const RULES: &str = r#"
[[rule]]
kind = "purpose"
action = "decline"
purposes = [
  { name = "decision", words = ["decide", "sign-off"], categories = ["decisions"] },
  "feedback",
  { name = "relationships", words = ["team lunch", "offsite"] },
]
alternatives = [
  { name = "a document", link = "https://wiki.example.com/new" },
  { name = "a recorded video", link = "https://video.example.com/record" },
  "an email",
]

[[rule]]
kind = "decision_record"
action = "annotate"
hosts = ["wiki.example.com", "github.com/example"]

[exceptions]
organizers = ["ceo@example.com"]

[exceptions.urgent]
keyword = "urgent"
per_organizer_per_month = 1
"#;

fn policy_text(rules: &str) -> String {
    format!("{TEAM}{rules}")
}

fn diags(text: &str) -> Vec<Diagnostic> {
    parse_policy(text, FILE).1
}

fn lint(text: &str) -> String {
    let text = text.to_string();
    render_human(&diags(&text), &|_| Some(text.clone()), false)
}

fn policy(rules: &str) -> Policy {
    let text = policy_text(rules);
    let (p, _) = parse_policy(&text, FILE);
    p.unwrap_or_else(|| panic!("policy does not parse:\n{}", lint(&text)))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn person(email: &str) -> Attendee {
    Attendee {
        email: email.into(),
        name: None,
        role: Role::Required,
        partstat: PartStat::NeedsAction,
        is_resource: false,
    }
}

/// Screen an invite from `organizer` to ana, bo and pat (three people,
/// so not a one-to-one unless `attendees` says otherwise).
fn screen(
    policy: &Policy,
    organizer: &str,
    title: &str,
    description: &str,
    categories: &[&str],
    attendees: &[&str],
) -> gatekeeper::policy::Verdict {
    let attendees: Vec<Attendee> = attendees.iter().map(|a| person(a)).collect();
    let categories: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    let spans = [Span {
        start: t("2026-12-08T10:00:00Z"),
        end: t("2026-12-08T10:30:00Z"),
    }];
    let invite = Invite {
        title,
        description,
        organizer: Some(organizer),
        attendees: &attendees,
        occurrences: &spans,
        sent_at: None,
        all_day: false,
        categories: &categories,
    };
    evaluate(
        &invite,
        policy,
        &Context::new(t("2026-12-01T10:00:00Z"), "ana@example.com"),
    )
}

const THREE: &[&str] = &["ana@example.com", "bo@example.com", "pat@example.com"];

/// `(title, description, categories) -> (decision, rules that fired)`.
fn check(title: &str, description: &str, categories: &[&str], expect: (Decision, &[RuleKind])) {
    let p = policy(RULES);
    let v = screen(&p, "pat@example.com", title, description, categories, THREE);
    let rules: Vec<RuleKind> = v.findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        (v.decision, rules.as_slice()),
        expect,
        "{title:?} / {description:?} / {categories:?}: {v:#?}"
    );
}

#[test]
fn which_invites_the_rules_catch() {
    use Decision::*;
    use RuleKind::{DecisionRecord as Record, Purpose};
    check(
        "Weekly status",
        "Round the table",
        &[],
        (Decline, &[Purpose]),
    );
    check("Q3 plan", "Purpose: feedback", &[], (Allow, &[]));
    check("Q3 plan", "Purpose: decison", &[], (Decline, &[Purpose]));
    check("Q3 plan", "> Purpose: feedback", &[], (Decline, &[Purpose]));
    check("Q3 plan", "", &["Feedback"], (Allow, &[]));
    check("Team lunch", "", &[], (Allow, &[]));
    // A decision needs its record, on a host the team accepts.
    check("Q3 plan", "Purpose: decision", &[], (Annotate, &[Record]));
    check("Decide Q3", "", &[], (Annotate, &[Record]));
    check("Q3 plan", "", &["decisions"], (Annotate, &[Record]));
    check(
        "Q3 plan",
        "Purpose: decision\nRecord: https://wiki.example.com/decisions/q3",
        &[],
        (Allow, &[]),
    );
    check(
        "Q3 plan",
        "Purpose: decision\nhttps://github.com/example/decisions/issues/4",
        &[],
        (Allow, &[]),
    );
    check(
        "Q3 plan",
        "Purpose: decision\nhttps://github.com/someone-else/x",
        &[],
        (Annotate, &[Record]),
    );
    // Without a purpose the record rule has nothing to ask for.
    check(
        "Weekly status",
        "https://wiki.example.com/x",
        &[],
        (Decline, &[Purpose]),
    );
}

#[test]
fn exceptions_work_as_for_the_other_rules() {
    let p = policy(RULES);
    let one_to_one = screen(
        &p,
        "pat@example.com",
        "Chat",
        "",
        &[],
        &["ana@example.com", "pat@example.com"],
    );
    assert_eq!(one_to_one.decision, Decision::Allow);
    assert_eq!(one_to_one.exemption, Some(Exemption::OneToOne));

    let ceo = screen(&p, "ceo@example.com", "All hands", "", &[], THREE);
    assert_eq!(ceo.exemption, Some(Exemption::OrganizerAllowed));

    let urgent = screen(&p, "pat@example.com", "URGENT: outage", "", &[], THREE);
    assert!(
        matches!(urgent.exemption, Some(Exemption::Urgent { .. })),
        "{urgent:?}"
    );
    // The findings are still logged for the report.
    assert_eq!(urgent.findings[0].rule, RuleKind::Purpose);
}

#[test]
fn default_purposes_and_alternatives() {
    let p = policy("[[rule]]\nkind = \"purpose\"\naction = \"annotate\"\n");
    let v = screen(
        &p,
        "pat@example.com",
        "Sync",
        "Purpose: relationships",
        &[],
        THREE,
    );
    assert_eq!(v.decision, Decision::Allow);
    let v = screen(&p, "pat@example.com", "Sync", "", &[], THREE);
    assert_eq!(v.decision, Decision::Annotate);
    insta::assert_snapshot!(v.findings[0].problem.message(), @"it does not say which purpose it serves; this team meets only for `decision`, `feedback` or `relationships`, and everything else goes to a document, an email or a recorded video");
    // `decision_record` alone recognises the default purposes.
    let p = policy(
        "[[rule]]\nkind = \"decision_record\"\naction = \"annotate\"\nhosts = [\"wiki.example.com\"]\n",
    );
    let v = screen(
        &p,
        "pat@example.com",
        "Sync",
        "Purpose: decision",
        &[],
        THREE,
    );
    assert_eq!(v.decision, Decision::Annotate);
    let v = screen(
        &p,
        "pat@example.com",
        "Sync",
        "Purpose: feedback",
        &[],
        THREE,
    );
    assert_eq!(v.decision, Decision::Allow);
}

fn comment(title: &str, description: &str) -> String {
    let p = policy(RULES);
    let attendees: Vec<Attendee> = THREE.iter().map(|a| person(a)).collect();
    let spans = [Span {
        start: t("2026-12-08T10:00:00Z"),
        end: t("2026-12-08T10:30:00Z"),
    }];
    let invite = Invite {
        title,
        description,
        organizer: Some("pat@example.com"),
        attendees: &attendees,
        occurrences: &spans,
        sent_at: None,
        all_day: false,
        categories: &[],
    };
    let v = evaluate(
        &invite,
        &p,
        &Context::new(t("2026-12-01T10:00:00Z"), "ana@example.com"),
    );
    v.comment(&invite, &p, "ana@example.com", false)
        .expect("a comment")
}

#[test]
fn comment_when_no_purpose_is_stated() {
    insta::assert_snapshot!(comment("Weekly status", "Round the table"));
}

#[test]
fn comment_when_the_purpose_line_is_a_near_miss() {
    insta::assert_snapshot!(comment("Q3 plan", "Purpose: decison"));
}

#[test]
fn comment_when_a_decision_has_no_record() {
    insta::assert_snapshot!(comment(
        "Q3 plan",
        "Purpose: decision\nDraft: https://docs.example.org/q3"
    ));
}

// ---- lint -------------------------------------------------------------------

#[test]
fn the_example_rules_lint_clean() {
    let text = policy_text(RULES);
    assert!(diags(&text).is_empty(), "{}", lint(&text));
}

const BAD: &str = r#"
[[rule]]
kind = "purpose"
action = "decline"
purposes = ["decison", "feedback", "relationships", { name = "feedback" }, { name = "x", words = [""], colour = "red" }]
alternatives = [{ name = "a document", link = "wiki.example.com/new" }]

[[rule]]
kind = "decision_record"
action = "annotate"
purpose = "relationship"
hosts = ["wiki example.com", "github.com/example"]
"#;

#[test]
fn bad_purposes_are_all_reported_with_near_misses() {
    let text = policy_text(BAD);
    let d = diags(&text);
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "similar-purpose",
            "duplicate-purpose",
            "impossible-value",
            "unknown-key",
            "invalid-link",
            // The record's `relationship` is not judged while the purpose
            // rule has errors: those come first.
            "invalid-host",
        ],
        "{}",
        lint(&text)
    );
    insta::assert_snapshot!(lint(&text));
}

#[test]
fn a_record_purpose_must_be_one_of_the_purpose_rules() {
    let text = policy_text(&RULES.replace(
        "hosts = [\"wiki.example.com\"",
        "purpose = \"relationship\"\nhosts = [\"wiki.example.com\"",
    ));
    let d = diags(&text);
    assert_eq!(d.len(), 1, "{}", lint(&text));
    assert_eq!(d[0].code, "unknown-purpose");
    insta::assert_snapshot!(lint(&text));
}

#[test]
fn a_record_purpose_is_checked_against_the_defaults_without_a_purpose_rule() {
    let text = policy_text(
        "[[rule]]\nkind = \"decision_record\"\naction = \"annotate\"\npurpose = \"decisions\"\nhosts = [\"wiki.example.com\"]\n",
    );
    let d = diags(&text);
    assert_eq!(d.len(), 1, "{}", lint(&text));
    assert_eq!(d[0].code, "unknown-purpose");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `decision`?"));
}

#[test]
fn a_plural_is_a_choice_not_a_near_miss() {
    let text = policy_text(
        "[[rule]]\nkind = \"purpose\"\naction = \"annotate\"\npurposes = [\"decisions\", \"feedback\"]\n",
    );
    assert!(diags(&text).is_empty(), "{}", lint(&text));
}

#[test]
fn the_rules_need_their_keys() {
    let text = policy_text("[[rule]]\nkind = \"decision_record\"\naction = \"annotate\"\n");
    let d = diags(&text);
    assert_eq!(d.len(), 1, "{}", lint(&text));
    assert_eq!(d[0].code, "missing-key");
    let text = policy_text("[[rule]]\nkind = \"purpose\"\naction = \"annotate\"\npurposes = []\n");
    let d = diags(&text);
    assert_eq!(d.len(), 1, "{}", lint(&text));
    assert_eq!(d[0].code, "impossible-value");
}
