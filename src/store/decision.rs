//! The decision log's row in typed form and its stored shape.
//!
//! The log outlives the code that wrote it: a row written by an older
//! gatekeeper must read back as the same typed value, and a row this code
//! cannot make sense of (a newer rule, a hand-edited database) must read
//! back as a typed "unknown", never as a panic or a failed `gatekeeper log`.
//! So every stored name here is spelled out (`as_str`/`parse`, explicit
//! serde names), never derived from a Rust identifier that a rename would
//! change. The stored findings are the JSON array gatekeeper has always
//! written (`rule`, `action`, `message`, `fix`, `problem`), so databases
//! need no migration.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::PartStat;
use crate::policy::{Action, Decision, Finding, RuleKind, Verdict};

/// What gatekeeper decided for an invite: the verdict's decision, as the
/// log's `action` column holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoggedAction {
    Allow,
    Annotate,
    Decline,
    /// A value this build does not know (a newer gatekeeper, a hand edit),
    /// kept as it was stored.
    Unknown(String),
}

impl LoggedAction {
    pub fn as_str(&self) -> &str {
        match self {
            LoggedAction::Allow => "allow",
            LoggedAction::Annotate => "annotate",
            LoggedAction::Decline => "decline",
            LoggedAction::Unknown(s) => s,
        }
    }

    pub fn parse(s: &str) -> LoggedAction {
        match s {
            "allow" => LoggedAction::Allow,
            "annotate" => LoggedAction::Annotate,
            "decline" => LoggedAction::Decline,
            other => LoggedAction::Unknown(other.to_string()),
        }
    }
}

impl From<Decision> for LoggedAction {
    fn from(d: Decision) -> LoggedAction {
        match d {
            Decision::Allow => LoggedAction::Allow,
            Decision::Annotate => LoggedAction::Annotate,
            Decision::Decline => LoggedAction::Decline,
        }
    }
}

impl fmt::Display for LoggedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<str> for LoggedAction {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for LoggedAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for LoggedAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LoggedAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LoggedAction, D::Error> {
        Ok(LoggedAction::parse(&String::deserialize(d)?))
    }
}

/// One rule that fired, as the log keeps it: the core's rule and action,
/// and the words the organizer was given.
///
/// Fields are declared in the order of their stored names so the JSON
/// written (and printed by `gatekeeper log --format json`) keeps the key
/// order older versions printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedFinding {
    /// The rule's own action (`observe` ones never decided anything).
    #[serde(rename = "action", with = "action_name")]
    pub action: Action,
    #[serde(rename = "fix", default, skip_serializing_if = "String::is_empty")]
    pub fix: String,
    #[serde(rename = "message", default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The core's structured problem as it was when logged. It is for
    /// tools that read the log; gatekeeper decides nothing on it, and its
    /// shape follows the core's, so it stays opaque here.
    #[serde(
        rename = "problem",
        default,
        skip_serializing_if = "serde_json::Value::is_null"
    )]
    pub problem: serde_json::Value,
    #[serde(rename = "rule", with = "rule_name")]
    pub rule: RuleKind,
}

impl LoggedFinding {
    /// Whether the rule decided the outcome (it was not observe-only).
    pub fn acts(&self) -> bool {
        self.action != Action::Observe
    }
}

/// The rules that fired for one decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Findings {
    Logged(Vec<LoggedFinding>),
    /// The stored text is not a findings list this build can read (not
    /// JSON, or a rule it does not know). Kept as stored so nothing is
    /// lost; read as "the reasons cannot be told".
    Unreadable {
        stored: String,
    },
}

impl Default for Findings {
    fn default() -> Findings {
        Findings::Logged(Vec::new())
    }
}

impl Findings {
    /// Every rule that fired, observe-only ones included, from the verdict.
    pub fn from_verdict(verdict: &Verdict) -> Findings {
        Findings::from_core(&verdict.findings)
    }

    /// The core's findings as the log keeps them.
    pub fn from_core(findings: &[Finding]) -> Findings {
        Findings::Logged(
            findings
                .iter()
                .map(|f| LoggedFinding {
                    rule: f.rule,
                    action: f.action,
                    message: f.problem.message(),
                    fix: f.problem.fix().to_string(),
                    // Serializing a plain data enum cannot fail; a null
                    // problem only loses detail for tools.
                    problem: serde_json::to_value(&f.problem).unwrap_or_default(),
                })
                .collect(),
        )
    }

    /// Read the stored text; never fails (see `Unreadable`).
    pub fn from_stored(stored: &str) -> Findings {
        match serde_json::from_str::<Vec<LoggedFinding>>(stored) {
            Ok(list) => Findings::Logged(list),
            Err(_) => Findings::Unreadable {
                stored: stored.to_string(),
            },
        }
    }

    /// The stored text: a JSON array, or the unreadable text unchanged.
    pub fn to_stored(&self) -> String {
        match self {
            // Serializing strings, names and a JSON value cannot fail.
            Findings::Logged(list) => {
                serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
            }
            Findings::Unreadable { stored } => stored.clone(),
        }
    }

    /// The findings this build could read; none when unreadable.
    pub fn iter(&self) -> std::slice::Iter<'_, LoggedFinding> {
        match self {
            Findings::Logged(list) => list.iter(),
            Findings::Unreadable { .. } => [].iter(),
        }
    }

    pub fn is_readable(&self) -> bool {
        matches!(self, Findings::Logged(_))
    }

    /// The rules that decided (not observe-only ones), sorted and without
    /// duplicates, as `daemon::screen::acting_rules` gives them for a
    /// verdict. Empty when unreadable.
    pub fn acting_rules(&self) -> Vec<String> {
        let mut rules: Vec<String> = self
            .iter()
            .filter(|f| f.acts())
            .map(|f| f.rule.as_str().to_string())
            .collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

impl Serialize for Findings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Findings::Logged(list) => list.serialize(s),
            // What older versions printed for a row they could not parse.
            Findings::Unreadable { .. } => s.serialize_none(),
        }
    }
}

mod rule_name {
    use super::*;

    pub fn serialize<S: Serializer>(r: &RuleKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RuleKind, D::Error> {
        let name = String::deserialize(d)?;
        RuleKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rule `{name}`")))
    }
}

mod action_name {
    use super::*;

    pub fn serialize<S: Serializer>(a: &Action, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let name = String::deserialize(d)?;
        Action::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown action `{name}`")))
    }
}

/// `Option<PartStat>` as its iCalendar text (`DECLINED`), or null.
pub(crate) fn serialize_response<S: Serializer>(
    r: &Option<PartStat>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Some(p) => s.serialize_some(p.as_ical()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A findings column exactly as gatekeeper wrote it before the log was
    /// typed (the `json!` object of `findings_json`, keys sorted).
    const TODAYS_ROW: &str = r#"[{"action":"decline","fix":"add a description that says what the meeting should decide or produce","message":"it has no agenda","problem":{"kind":"missing_agenda","needed":10,"words":0},"rule":"agenda"},{"action":"observe","fix":"shorten it, or split it","message":"it is too long","problem":{"kind":"too_long","max":60,"minutes":90},"rule":"max_duration"}]"#;

    #[test]
    fn a_row_in_todays_format_reads_as_typed_findings_and_writes_back_unchanged() {
        let f = Findings::from_stored(TODAYS_ROW);
        let list: Vec<&LoggedFinding> = f.iter().collect();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].rule, RuleKind::Agenda);
        assert_eq!(list[0].action, Action::Decline);
        assert_eq!(list[0].message, "it has no agenda");
        assert_eq!(list[1].action, Action::Observe);
        assert_eq!(f.acting_rules(), vec!["agenda".to_string()]);
        assert_eq!(f.to_stored(), TODAYS_ROW);
        // The JSON `gatekeeper log` prints is the stored array itself.
        let printed = serde_json::to_value(&f).unwrap();
        let stored: serde_json::Value = serde_json::from_str(TODAYS_ROW).unwrap();
        assert_eq!(printed, stored);
    }

    /// What gatekeeper wrote before the log was typed (the engine's
    /// `findings_json`, verbatim): an upgraded daemon must read it back as
    /// equal to what it computes now, or every standing decision would look
    /// changed and be logged again.
    fn old_findings_json(findings: &[Finding]) -> serde_json::Value {
        serde_json::Value::Array(
            findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "rule": f.rule.as_str(),
                        "action": f.action.as_str(),
                        "message": f.problem.message(),
                        "fix": f.problem.fix(),
                        "problem": f.problem,
                    })
                })
                .collect(),
        )
    }

    #[test]
    fn findings_logged_by_the_old_code_equal_the_same_findings_now() {
        use crate::policy::Problem;
        let core = vec![
            Finding {
                rule: RuleKind::Agenda,
                action: Action::Decline,
                problem: Problem::MissingAgenda {
                    words: 2,
                    needed: 10,
                },
            },
            Finding {
                rule: RuleKind::MaxAttendees,
                action: Action::Observe,
                problem: Problem::TooManyPeople { count: 12, max: 8 },
            },
            Finding {
                rule: RuleKind::OutsideHoursBudget,
                action: Action::Annotate,
                problem: Problem::OverBudget {
                    attendee: "ana@example.com".into(),
                    adds: 60,
                    so_far: 120,
                    minutes_per_week: 90,
                    weeks: 4,
                },
            },
        ];
        let old = old_findings_json(&core).to_string();
        let now = Findings::from_core(&core);
        assert_eq!(Findings::from_stored(&old), now);
        assert_eq!(now.to_stored(), old, "the stored text is unchanged");
        assert_eq!(
            now.acting_rules(),
            vec!["agenda".to_string(), "outside_hours_budget".to_string()]
        );
    }

    #[test]
    fn what_cannot_be_read_is_a_typed_unknown_kept_as_stored() {
        for stored in [
            "not json",
            "{}",
            r#"[{"rule":"no_such_rule","action":"decline"}]"#,
            r#"[{"rule":"agenda","action":"shout"}]"#,
            r#"[{"action":"decline"}]"#,
        ] {
            let f = Findings::from_stored(stored);
            assert!(!f.is_readable(), "{stored}");
            assert_eq!(f.iter().count(), 0);
            assert!(f.acting_rules().is_empty());
            assert_eq!(f.to_stored(), stored);
            assert_eq!(serde_json::to_value(&f).unwrap(), serde_json::Value::Null);
        }
        // Only the words are optional: older test fixtures left them out.
        let bare = Findings::from_stored(r#"[{"rule":"agenda","action":"annotate"}]"#);
        assert_eq!(bare.acting_rules(), vec!["agenda".to_string()]);
    }

    #[test]
    fn actions_keep_their_stored_names() {
        for (a, s) in [
            (LoggedAction::Allow, "allow"),
            (LoggedAction::Annotate, "annotate"),
            (LoggedAction::Decline, "decline"),
        ] {
            assert_eq!(a.as_str(), s);
            assert_eq!(LoggedAction::parse(s), a);
        }
        assert_eq!(
            LoggedAction::parse("escalate"),
            LoggedAction::Unknown("escalate".into())
        );
        assert_eq!(LoggedAction::from(Decision::Decline), "decline");
        assert_eq!(LoggedAction::Unknown("x".into()).to_string(), "x");
    }
}
