//! The rules, one file per kind. Each reads the invite being judged (a
//! `Case`) and returns the problem it finds, if any. What is common to every
//! rule stays in the evaluator: which rules apply to the member, the
//! exceptions (always-allowed organizers, one-to-ones, external guests, the
//! urgent allowance), the rule's action and the verdict.
//!
//! Adding a rule kind: its `RuleSpec` and `RuleKind` (parsed and linted in
//! `policy::parse`), its `Problem` with a message and a fix, a file here
//! with its `check`, and one line in `check` below.

mod agenda;
mod burden_cap;
mod decision_record;
mod max_attendees;
mod max_duration;
mod meeting_free_days;
mod min_notice;
mod outside_hours_budget;
mod protected_time;
mod purpose;
mod series_rotation;
mod working_hours;

use super::fairness::FairnessInputs;
use super::{Context, Problem};
use crate::policy::invite::{Invite, Span};
use crate::policy::model::{Member, Policy, RuleSpec};

/// What every rule reads about the invite it judges.
pub(super) struct Case<'a> {
    pub invite: &'a Invite<'a>,
    pub policy: &'a Policy,
    pub ctx: &'a Context<'a>,
    /// The member whose calendar holds the invite.
    pub member: &'a Member,
    /// The first occurrence still to judge.
    pub first: &'a Span,
    /// What the fairness rules share, worked out on first use.
    pub fair: FairnessInputs<'a>,
}

/// The problem `spec` finds with the case, if any: the table of rules.
pub(super) fn check(spec: &RuleSpec, case: &mut Case<'_>) -> Option<Problem> {
    match *spec {
        RuleSpec::Agenda { min_words } => agenda::check(case, min_words),
        RuleSpec::MinNotice { hours } => min_notice::check(case, hours),
        RuleSpec::MeetingFreeDays { days } => meeting_free_days::check(case, days),
        RuleSpec::MaxDuration { minutes } => max_duration::check(case, minutes),
        RuleSpec::MaxAttendees { count } => max_attendees::check(case, count),
        RuleSpec::WorkingHours => working_hours::check(case),
        RuleSpec::ProtectedTime => protected_time::check(case),
        RuleSpec::OutsideHoursBudget { minutes_per_week } => {
            outside_hours_budget::check(&mut case.fair, minutes_per_week)
        }
        RuleSpec::BurdenCap { ratio } => burden_cap::check(&mut case.fair, ratio),
        RuleSpec::SeriesRotation { max_share } => series_rotation::check(&mut case.fair, max_share),
        RuleSpec::Purpose(ref rule) => purpose::check(case, rule),
        RuleSpec::DecisionRecord(ref rule) => decision_record::check(case, rule),
    }
}
