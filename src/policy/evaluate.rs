//! The decision core: `evaluate(&Invite, &Policy, &Context) -> Verdict`.
//!
//! Pure and allocation-light: no clock (the caller passes `now`), no store
//! (the caller passes how many urgent uses an organizer has had), no I/O.
//! A verdict names every rule that fired, in words an organizer can act on;
//! that list is what the decision log stores.

mod fairness;
mod problem;
mod rules;
mod verdict;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use self::fairness::FairnessInputs;
use super::model::{Action, ExternalGuests, OneToOne, Policy, RuleKind, RuleSpec, WorkingHours};
use crate::fairness::{BurdenSnapshot, BusyTime};

// `Span` and `Invite` live below both this module and `fairness`, which
// reads them; they stay reachable here, where callers have always found them.
pub use super::invite::{Invite, Span};
pub use problem::Problem;
pub use verdict::{Decision, Exemption, Finding, Verdict};

#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub now: DateTime<Utc>,
    /// The member whose calendar holds the invite (lowercase).
    pub member: &'a str,
    /// Urgent exceptions this invite's organizer has used this month.
    pub urgent_uses_this_month: u32,
    /// Every member's burden over the fairness window, from the store. When
    /// unknown, `outside_hours_budget` counts only this meeting and
    /// `burden_cap` does not fire.
    pub burden: Option<&'a BurdenSnapshot>,
    /// Times attendees are already busy, from the synced calendars (without
    /// the invite being screened): other times are never suggested there.
    pub busy: &'a [BusyTime],
    /// The member's own focus-time and out-of-office blocks.
    pub protected: &'a [ProtectedBlock],
}

/// A block the member set aside for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectedBlock {
    pub span: Span,
    pub kind: ProtectedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectedKind {
    FocusTime,
    OutOfOffice,
}

impl ProtectedKind {
    pub fn describe(self) -> &'static str {
        match self {
            ProtectedKind::FocusTime => "focus time",
            ProtectedKind::OutOfOffice => "out of office",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtectedKind::FocusTime => "focus_time",
            ProtectedKind::OutOfOffice => "out_of_office",
        }
    }

    pub fn parse(s: &str) -> Option<ProtectedKind> {
        match s {
            "focus_time" => Some(ProtectedKind::FocusTime),
            "out_of_office" => Some(ProtectedKind::OutOfOffice),
            _ => None,
        }
    }
}

impl<'a> Context<'a> {
    pub fn new(now: DateTime<Utc>, member: &'a str) -> Context<'a> {
        Context {
            now,
            member,
            ..Context::default()
        }
    }

    pub fn with_urgent_uses(mut self, n: u32) -> Context<'a> {
        self.urgent_uses_this_month = n;
        self
    }

    pub fn with_burden(mut self, burden: &'a BurdenSnapshot) -> Context<'a> {
        self.burden = Some(burden);
        self
    }

    pub fn with_busy(mut self, busy: &'a [BusyTime]) -> Context<'a> {
        self.busy = busy;
        self
    }

    pub fn with_protected(mut self, protected: &'a [ProtectedBlock]) -> Context<'a> {
        self.protected = protected;
        self
    }
}

/// Screen one invite for one member.
pub fn evaluate(invite: &Invite<'_>, policy: &Policy, ctx: &Context<'_>) -> Verdict {
    if invite.organizer == Some(ctx.member) {
        return Verdict::exempt(Exemption::OwnEvent, Vec::new());
    }
    let Some(member) = policy.member(ctx.member) else {
        return Verdict::exempt(Exemption::NotAMember, Vec::new());
    };
    if invite.all_day {
        return Verdict::exempt(Exemption::AllDay, Vec::new());
    }
    let Some(first) = invite.occurrences.first() else {
        return Verdict::exempt(Exemption::Past, Vec::new());
    };
    if invite.occurrences.last().is_some_and(|o| o.end <= ctx.now) {
        return Verdict::exempt(Exemption::Past, Vec::new());
    }

    let mut findings = Vec::new();
    let mut case = rules::Case {
        invite,
        policy,
        ctx,
        member,
        first,
        fair: FairnessInputs::new(invite, policy, ctx),
    };
    for rule in policy.rules.iter().filter(|r| r.applies_to(ctx.member)) {
        if let Some(problem) = rules::check(&rule.spec, &mut case) {
            findings.push(Finding {
                rule: rule.spec.kind(),
                action: rule.action,
                problem,
            });
        }
    }
    let mut fair = case.fair;

    let judged_first_days = invite
        .occurrences
        .iter()
        .any(|o| crate::fairness::curve::is_cut_short(o.start, o.end))
        .then_some(crate::fairness::curve::JUDGED_DAYS);
    let acting = findings.iter().any(|f| f.action != Action::Observe);
    if !acting {
        return Verdict {
            decision: Decision::Allow,
            findings,
            exemption: None,
            uses_urgent: false,
            urgent_exhausted: false,
            suggestions: Vec::new(),
            rotation: None,
            judged_first_days,
        };
    }

    let ex = &policy.exceptions;
    if let Some(org) = invite.organizer
        && ex.organizers.iter().any(|o| o == org)
    {
        return Verdict::exempt(Exemption::OrganizerAllowed, findings);
    }
    if ex.one_to_one == OneToOne::Exempt && people_count(invite) == 2 {
        return Verdict::exempt(Exemption::OneToOne, findings);
    }
    let has_external = people(invite).any(|e| policy.is_external(e));
    if has_external && ex.external_guests == ExternalGuests::Exempt {
        return Verdict::exempt(Exemption::ExternalGuests, findings);
    }
    let mut urgent_exhausted = false;
    if let Some(u) = &ex.urgent
        && contains_word(invite.title, &u.keyword)
    {
        if ctx.urgent_uses_this_month < u.per_organizer_per_month {
            let mut v = Verdict::exempt(
                Exemption::Urgent {
                    use_number: ctx.urgent_uses_this_month + 1,
                    limit: u.per_organizer_per_month,
                },
                findings,
            );
            v.uses_urgent = true;
            return v;
        }
        urgent_exhausted = true;
    }
    if has_external && ex.external_guests == ExternalGuests::NeverDecline {
        for f in &mut findings {
            if f.action == Action::Decline {
                f.action = Action::Annotate;
            }
        }
    }
    let decision = match findings.iter().map(|f| f.action).max() {
        Some(Action::Decline) => Decision::Decline,
        Some(Action::Annotate) => Decision::Annotate,
        _ => Decision::Allow,
    };
    let (mut suggestions, mut rotation) = (Vec::new(), None);
    if policy.fairness.enabled && decision != Decision::Allow {
        let acting = |pred: &dyn Fn(RuleKind) -> bool| {
            findings
                .iter()
                .any(|f| f.action != Action::Observe && pred(f.rule))
        };
        if acting(&|k| k.is_about_time()) {
            suggestions = fair.suggestions(first);
        }
        if acting(&|k| k == RuleKind::SeriesRotation) {
            rotation = fair.rotation(first);
        }
    }
    Verdict {
        decision,
        findings,
        exemption: None,
        uses_urgent: false,
        urgent_exhausted,
        suggestions,
        rotation,
        judged_first_days,
    }
}

/// The earliest time gatekeeper suggests for a meeting of `people`: `now`
/// plus the longest `min_notice` any rule asks for any of them, so that a
/// suggested time never fails the notice rule of someone it seats. Shared
/// by the suggestions in comments and `gatekeeper suggest`.
pub fn earliest_suggestion<'p>(
    policy: &Policy,
    people: impl IntoIterator<Item = &'p str>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let people: Vec<&str> = people.into_iter().collect();
    let notice = policy
        .rules
        .iter()
        .filter(|r| people.iter().any(|p| r.applies_to(p)))
        .filter_map(|r| match r.spec {
            RuleSpec::MinNotice { hours } => Some(hours),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    now + Duration::hours(i64::from(notice))
}

/// The organizer and every attendee who is a person, without duplicates
/// (the organizer usually appears among the attendees too).
fn people<'a>(invite: &'a Invite<'a>) -> impl Iterator<Item = &'a str> {
    let organizer = invite
        .organizer
        .filter(|o| !invite.attendees.iter().any(|a| a.email == *o));
    organizer.into_iter().chain(
        invite
            .attendees
            .iter()
            .filter(|a| !a.is_resource)
            .map(|a| a.email.as_str()),
    )
}

fn people_count(invite: &Invite<'_>) -> u32 {
    people(invite).count() as u32
}

/// Whether every minute of the occurrence (of its judged first
/// `JUDGED_DAYS`) lies inside the member's working hours, read minute by
/// minute on their own wall clock: the same reading as the fairness curve,
/// the burden and `suggest` (`fairness::curve::outside_hours`). Back-to-back
/// windows (`00:00-24:00` on consecutive working days) join at midnight; a
/// minute that a DST change skips is never read, and a repeated hour is
/// read twice.
pub fn within_working_hours(o: &Span, tz: Tz, hours: &WorkingHours) -> bool {
    !crate::fairness::curve::outside_hours(o.start, o.end, tz, hours)
}

/// Case-insensitive whole-word match: `urgent` matches "URGENT: db down" and
/// "[urgent] fix", not "urgently".
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    let w = word.as_bytes();
    if bytes.len() < w.len() {
        return false;
    }
    (0..=bytes.len() - w.len()).any(|i| {
        bytes[i..i + w.len()].eq_ignore_ascii_case(w)
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes
                .get(i + w.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}
