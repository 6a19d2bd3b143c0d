//! The rules around a verdict that keep gatekeeper polite: whose answer an
//! attendee's PARTSTAT is, what to write, and what makes two versions of an
//! invite the same. Pure functions; the engine does the I/O.
//!
//! **Invariant:** an answer the member gave themselves is never
//! overwritten. gatekeeper changes a PARTSTAT only when it is NEEDS-ACTION
//! or is the very answer gatekeeper wrote (its marker still matches).
//!
//! **Invariant:** a verdict never depends on an answer gatekeeper wrote.
//! The core never sees the PARTSTAT of an attendee gatekeeper governs (a
//! member of any loaded policy): [`neutral_attendees`] treats their answers
//! as not yet given, because a colleague's copy cannot tell whether a
//! colleague's DECLINED was the colleague's own or gatekeeper's. Everyone
//! else's answer counts as given.

use crate::calendar::{Attendee, Event, PartStat};
use crate::policy::{Action, Decision, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Nobody has answered yet.
    Unanswered,
    /// The current answer is the one gatekeeper wrote.
    Gatekeeper,
    /// The member answered themselves.
    Member,
}

/// Who owns the attendee's current PARTSTAT. `marker` is the answer the file
/// says gatekeeper wrote; `applied` the one the store says it wrote.
pub fn ownership(
    current: &PartStat,
    marker: Option<&PartStat>,
    applied: Option<&str>,
) -> Ownership {
    match current {
        PartStat::NeedsAction => Ownership::Unanswered,
        PartStat::Declined | PartStat::Tentative
            if marker == Some(current)
                || (marker.is_none() && applied == Some(current.as_ical())) =>
        {
            Ownership::Gatekeeper
        }
        _ => Ownership::Member,
    }
}

/// A response to write into the member's copy: the backend-neutral
/// [`Answer`](crate::source::Answer) each source applies its own way.
pub use crate::source::Answer as Write;

/// The attendees as the decision core may see them: the answer of anyone
/// `governed` says gatekeeper answers for is reset to NEEDS-ACTION, so a
/// verdict is the same before and after gatekeeper's own writes, in this
/// member's copy and in every colleague's.
pub fn neutral_attendees(attendees: &[Attendee], governed: &dyn Fn(&str) -> bool) -> Vec<Attendee> {
    attendees
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if governed(&a.email) {
                a.partstat = PartStat::NeedsAction;
            }
            a
        })
        .collect()
}

/// The rules that decided (not observe-only ones), sorted and without
/// duplicates: what a standing answer is recorded as standing on.
pub fn acting_rules(verdict: &Verdict) -> Vec<String> {
    let mut rules: Vec<String> = verdict
        .findings
        .iter()
        .filter(|f| f.action != Action::Observe)
        .map(|f| f.rule.as_str().to_string())
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// Whether `verdict` names an acting rule that the standing answer did not
/// stand on. `previous` is that answer's rule set, from the calendar's
/// marker or the decision log; unknown (`None`) counts as new, so an answer
/// whose reasons cannot be told is brought up to date once. Both the local
/// and the Google engine call this.
pub fn new_problems(previous: Option<&[String]>, verdict: &Verdict) -> bool {
    match previous {
        Some(before) => acting_rules(verdict).iter().any(|r| !before.contains(r)),
        None => true,
    }
}

/// What to write, given the verdict and who owns the current answer.
/// `previous_comment` is the comment gatekeeper's answer carries now, if
/// any. `new_problems` says whether the verdict names a rule the standing
/// answer did not: only then is a standing answer rewritten for its comment
/// alone, because every rewrite emails the organizer again (a colleague's
/// decline that removes one reason is not worth an email).
pub fn plan(
    decision: Decision,
    ownership: Ownership,
    current: &PartStat,
    comment: Option<String>,
    previous_comment: Option<&str>,
    new_problems: bool,
) -> Option<Write> {
    match (decision.partstat(), ownership) {
        (_, Ownership::Member) => None,
        (None, Ownership::Unanswered) => None,
        // The invite passes now: take gatekeeper's own answer back.
        (None, Ownership::Gatekeeper) => Some(Write {
            partstat: PartStat::NeedsAction,
            comment: None,
            marker: None,
            rules: Vec::new(),
        }),
        (Some(wanted), _) => {
            if *current == wanted && (comment.as_deref() == previous_comment || !new_problems) {
                None
            } else {
                Some(Write {
                    partstat: wanted.clone(),
                    comment,
                    marker: Some(wanted),
                    rules: Vec::new(),
                })
            }
        }
    }
}

/// A hash of what a decision depends on. The PARTSTATs of the member and
/// of everyone else gatekeeper governs, and gatekeeper's marker, are left
/// out (the core never reads them), so gatekeeper's own writes do not make
/// an invite look changed.
pub fn fingerprint(event: &Event, member: &str, governed: &dyn Fn(&str) -> bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "{}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{:?}",
        event.uid,
        event.recurrence_id,
        event.summary,
        event.description,
        event.organizer,
        event.start,
        event.end,
        event.recurrence,
        event.status,
        event.sequence,
        event.private,
    );
    let mut attendees: Vec<_> = event.attendees.iter().collect();
    attendees.sort_by(|a, b| a.email.cmp(&b.email));
    for a in attendees {
        let partstat = if a.email == member || governed(&a.email) {
            "-"
        } else {
            a.partstat.as_ical()
        };
        let _ = write!(
            s,
            "\u{1e}{}|{:?}|{}|{}",
            a.email, a.role, partstat, a.is_resource
        );
    }
    crate::policy::model::content_hash(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_table() {
        use PartStat::*;
        let d = Declined;
        let t = Tentative;
        let cases: &[(PartStat, Option<&PartStat>, Option<&str>, Ownership)] = &[
            (NeedsAction, None, None, Ownership::Unanswered),
            (
                NeedsAction,
                Some(&d),
                Some("DECLINED"),
                Ownership::Unanswered,
            ),
            (Declined, Some(&d), None, Ownership::Gatekeeper),
            (Declined, None, Some("DECLINED"), Ownership::Gatekeeper),
            (
                Tentative,
                Some(&t),
                Some("TENTATIVE"),
                Ownership::Gatekeeper,
            ),
            // The member changed gatekeeper's tentative into a decline.
            (Declined, Some(&t), Some("TENTATIVE"), Ownership::Member),
            (Declined, None, None, Ownership::Member),
            (Accepted, Some(&d), Some("DECLINED"), Ownership::Member),
            (Accepted, None, None, Ownership::Member),
        ];
        for (current, marker, applied, expect) in cases {
            assert_eq!(
                ownership(current, *marker, *applied),
                *expect,
                "{current:?} {marker:?} {applied:?}"
            );
        }
    }

    #[test]
    fn governed_answers_are_hidden_from_the_core_and_others_count() {
        use crate::calendar::Role;
        let a = |email: &str, p: PartStat| Attendee {
            email: email.into(),
            name: None,
            role: Role::Required,
            partstat: p,
            is_resource: false,
        };
        let attendees = [
            a("ana@t", PartStat::Declined),
            a("bo@t", PartStat::Tentative),
            a("guest@x", PartStat::Declined),
            a("carol@t", PartStat::Accepted),
        ];
        let governed = |e: &str| e == "ana@t" || e == "bo@t";
        let seen: Vec<(String, PartStat)> = neutral_attendees(&attendees, &governed)
            .into_iter()
            .map(|a| (a.email, a.partstat))
            .collect();
        assert_eq!(
            seen,
            [
                ("ana@t".to_string(), PartStat::NeedsAction),
                ("bo@t".to_string(), PartStat::NeedsAction),
                ("guest@x".to_string(), PartStat::Declined),
                ("carol@t".to_string(), PartStat::Accepted),
            ]
        );
    }

    #[test]
    fn new_problems_table() {
        use crate::policy::evaluate::{Finding, Problem};
        use crate::policy::{Action, RuleKind};
        let verdict = |rules: &[(RuleKind, Action)]| Verdict {
            decision: Decision::Decline,
            findings: rules
                .iter()
                .map(|(rule, action)| Finding {
                    rule: *rule,
                    action: *action,
                    problem: Problem::MissingAgenda {
                        words: 0,
                        needed: 6,
                    },
                })
                .collect(),
            exemption: None,
            uses_urgent: false,
            urgent_exhausted: false,
            suggestions: Vec::new(),
            rotation: None,
            judged_first_days: None,
        };
        let s = |v: &[&str]| v.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let agenda = (RuleKind::Agenda, Action::Decline);
        let hours = (RuleKind::WorkingHours, Action::Annotate);
        let observed = (RuleKind::MaxAttendees, Action::Observe);
        // (rules the standing answer stands on, findings now, new problems?)
        type Case = (Option<Vec<String>>, Vec<(RuleKind, Action)>, bool);
        let cases: Vec<Case> = vec![
            // Nothing known about the standing answer: bring it up to date.
            (None, vec![agenda], true),
            (Some(s(&["agenda"])), vec![agenda], false),
            // A reason that went away is not worth an email.
            (Some(s(&["agenda", "working_hours"])), vec![agenda], false),
            (Some(s(&["agenda"])), vec![agenda, hours], true),
            // Observe-only findings never count.
            (Some(s(&["agenda"])), vec![agenda, observed], false),
        ];
        for (previous, rules, expect) in cases {
            assert_eq!(
                new_problems(previous.as_deref(), &verdict(&rules)),
                expect,
                "{previous:?} {rules:?}"
            );
        }
    }

    /// (decision, ownership, current, comment, previous comment, new
    /// problems, expected write)
    type PlanCase = (
        Decision,
        Ownership,
        PartStat,
        Option<String>,
        Option<&'static str>,
        bool,
        Option<Write>,
    );

    #[test]
    fn plan_table() {
        use Decision::*;
        let c = || Some("why".to_string());
        let write = |p: PartStat, comment: Option<String>, marker: Option<PartStat>| {
            Some(Write {
                partstat: p,
                comment,
                marker,
                rules: Vec::new(),
            })
        };
        // (decision, ownership, current, comment, previous comment, new problems, expected)
        let cases: Vec<PlanCase> = vec![
            // A member's own answer is never touched.
            (
                Decline,
                Ownership::Member,
                PartStat::Accepted,
                c(),
                None,
                true,
                None,
            ),
            // Allow on an unanswered invite writes nothing.
            (
                Allow,
                Ownership::Unanswered,
                PartStat::NeedsAction,
                None,
                None,
                true,
                None,
            ),
            // Allow after gatekeeper declined takes the decline back.
            (
                Allow,
                Ownership::Gatekeeper,
                PartStat::Declined,
                None,
                Some("why"),
                false,
                write(PartStat::NeedsAction, None, None),
            ),
            // A decline on an unanswered invite, with the marker.
            (
                Decline,
                Ownership::Unanswered,
                PartStat::NeedsAction,
                c(),
                None,
                true,
                write(PartStat::Declined, c(), Some(PartStat::Declined)),
            ),
            // The same decline again is a no-op.
            (
                Decline,
                Ownership::Gatekeeper,
                PartStat::Declined,
                c(),
                Some("why"),
                true,
                None,
            ),
            // A new problem updates the comment...
            (
                Decline,
                Ownership::Gatekeeper,
                PartStat::Declined,
                Some("more".into()),
                Some("why"),
                true,
                write(
                    PartStat::Declined,
                    Some("more".into()),
                    Some(PartStat::Declined),
                ),
            ),
            // ...a reason that went away does not email the organizer again.
            (
                Decline,
                Ownership::Gatekeeper,
                PartStat::Declined,
                Some("less".into()),
                Some("why"),
                false,
                None,
            ),
            // Agenda fixed but still too long: the decline becomes tentative.
            (
                Annotate,
                Ownership::Gatekeeper,
                PartStat::Declined,
                c(),
                Some("why"),
                false,
                write(PartStat::Tentative, c(), Some(PartStat::Tentative)),
            ),
        ];
        for (decision, owner, current, comment, previous, new_problems, expect) in cases {
            assert_eq!(
                plan(
                    decision,
                    owner,
                    &current,
                    comment.clone(),
                    previous,
                    new_problems
                ),
                expect,
                "{decision:?} {owner:?} {current:?} {comment:?} {previous:?} {new_problems}"
            );
        }
    }
}
