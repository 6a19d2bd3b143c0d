//! The outcome of screening one invite: the decision, the findings that
//! led to it (the decision log stores them), an exemption if one applied,
//! suggested times, and the comment sent with an annotation or a decline.

use super::Problem;
use crate::calendar::PartStat;
use crate::fairness::Slot;
use crate::policy::comment::CommentValues;
use crate::policy::invite::Invite;
use crate::policy::model::{Action, Policy, RuleKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Annotate,
    Decline,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Annotate => "annotate",
            Decision::Decline => "decline",
        }
    }

    pub fn partstat(self) -> Option<PartStat> {
        match self {
            Decision::Allow => None,
            Decision::Annotate => Some(PartStat::Tentative),
            Decision::Decline => Some(PartStat::Declined),
        }
    }
}

/// Why an invite was allowed regardless of the rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Exemption {
    /// The member organizes it: gatekeeper never touches their own events.
    OwnEvent,
    /// All-day events are not meetings.
    AllDay,
    /// No occurrence is still ahead.
    Past,
    NotAMember,
    OrganizerAllowed,
    OneToOne,
    ExternalGuests,
    Urgent {
        use_number: u32,
        limit: u32,
    },
}

impl Exemption {
    pub fn describe(&self) -> String {
        match self {
            Exemption::OwnEvent => "the member organizes this event".into(),
            Exemption::AllDay => "all-day events are not meetings".into(),
            Exemption::Past => "the event is over".into(),
            Exemption::NotAMember => "the calendar's owner is not in this policy".into(),
            Exemption::OrganizerAllowed => "the organizer is always allowed".into(),
            Exemption::OneToOne => "one-to-ones are exempt".into(),
            Exemption::ExternalGuests => "invites with external guests are exempt".into(),
            Exemption::Urgent { use_number, limit } => {
                format!("marked urgent (use {use_number} of {limit} this month)")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub rule: RuleKind,
    /// The rule's own action; `Annotate` when a decline was softened
    /// because external guests are invited.
    pub action: Action,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Every rule that fired, `observe` ones included.
    pub findings: Vec<Finding>,
    pub exemption: Option<Exemption>,
    /// The urgent allowance was spent on this invite; the caller counts it.
    pub uses_urgent: bool,
    /// Set when the title carries the urgent keyword but the organizer has
    /// used up the month's allowance.
    pub urgent_exhausted: bool,
    /// Fairer times for an invite a time rule failed (up to three, best
    /// first), when the policy enables fairness. Empty otherwise.
    pub suggestions: Vec<Slot>,
    /// Two or three times to rotate a series between, when it failed
    /// `series_rotation` and such a rotation exists.
    pub rotation: Option<Vec<Slot>>,
    /// Set (to `JUDGED_DAYS`) when an occurrence lasts longer than what is
    /// judged of it: the time rules read only its first days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_first_days: Option<i64>,
}

impl Verdict {
    pub(super) fn exempt(exemption: Exemption, findings: Vec<Finding>) -> Verdict {
        Verdict {
            decision: Decision::Allow,
            findings,
            exemption: Some(exemption),
            uses_urgent: false,
            urgent_exhausted: false,
            suggestions: Vec::new(),
            rotation: None,
            judged_first_days: None,
        }
    }

    /// "it lasts more than 7 days: the time rules judged its first 7", when
    /// that is what happened.
    pub fn horizon_note(&self) -> Option<String> {
        self.judged_first_days.map(|d| {
            format!("it lasts more than {d} days: gatekeeper judged its time against working hours on its first {d} days only")
        })
    }

    /// The findings that decided the outcome (not observe-only ones).
    pub fn acting_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.action != Action::Observe)
    }

    /// The comment sent with an annotation or a decline; `None` for allow.
    pub fn comment(
        &self,
        invite: &Invite<'_>,
        policy: &Policy,
        member: &str,
        private: bool,
    ) -> Option<String> {
        let response = match self.decision {
            Decision::Allow => return None,
            Decision::Annotate => "tentatively accepted",
            Decision::Decline => "declined",
        };
        let mut reasons = String::new();
        for f in self.acting_findings() {
            if !reasons.is_empty() {
                reasons.push('\n');
            }
            reasons.push_str("- ");
            reasons.push_str(&f.problem.message());
            reasons.push_str(": ");
            reasons.push_str(f.problem.fix());
        }
        if let Some(note) = self.horizon_note() {
            reasons.push_str("\n- ");
            reasons.push_str(&note);
        }
        if self.urgent_exhausted
            && let Some(u) = &policy.exceptions.urgent
        {
            reasons.push_str(&format!(
                "\n- the organizer has used this month's {} `{}` exceptions",
                u.per_organizer_per_month, u.keyword
            ));
        }
        let suggestions = self.suggestions_text();
        if !suggestions.is_empty() && !policy.comment.uses("suggestions") {
            reasons.push_str("\n\n");
            reasons.push_str(&suggestions);
        }
        let title = if private {
            "(private event)"
        } else {
            invite.title
        };
        Some(
            policy.comment.render(&CommentValues {
                member,
                organizer: invite.organizer.unwrap_or("the organizer"),
                title,
                response,
                reasons: &reasons,
                suggestions: &suggestions,
                team: &policy.team,
                urgent_keyword: policy
                    .exceptions
                    .urgent
                    .as_ref()
                    .map_or("", |u| u.keyword.as_str()),
            }),
        )
    }
}

impl Verdict {
    /// The suggested times and the rotation, in words each reader can use:
    /// UTC, then the local time in every attendee's zone. Empty when there
    /// is nothing to suggest.
    pub fn suggestions_text(&self) -> String {
        let mut out = String::new();
        if !self.suggestions.is_empty() {
            out.push_str("Times that would be fairer (UTC, then local times):");
            for s in &self.suggestions {
                out.push_str("\n- ");
                out.push_str(&s.describe());
            }
        }
        if let Some(r) = &self.rotation {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&format!(
                "A rotation that shares the out-of-hours slot: use these {} times in turn:",
                r.len()
            ));
            for s in r {
                out.push_str("\n- ");
                out.push_str(&s.describe());
            }
        }
        out
    }
}
