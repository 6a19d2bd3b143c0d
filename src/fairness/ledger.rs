//! The burden ledger's arithmetic: which meetings count toward a member's
//! burden, what each occurrence adds, and the snapshot of every member's
//! burden over the rolling window that the decision core reads.
//!
//! Pure: no I/O, no clock. The store keeps the rows; the daemon passes them
//! in and out; `now` always comes from the caller.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::curve::{Profile, Score, score};
use crate::calendar::PartStat;
use crate::policy::invite::{Invite, Span};
use crate::policy::model::{Member, Policy};

/// A member's accumulated inconvenience in the window.
pub type Burden = Score;

/// The rolling window around `now`: `window_weeks` long, centred on now, so
/// that both what a member has lived through and what they have already
/// accepted ahead count. With the default of 4 weeks: 2 weeks back, 2 ahead.
pub fn window(now: DateTime<Utc>, window_weeks: u32) -> Span {
    let half = Duration::hours(i64::from(window_weeks) * 7 * 24 / 2);
    Span {
        start: now - half,
        end: now + half,
    }
}

/// Every member's burden over one window, and the team mean. Built by the
/// caller from the store (`Store::burden_totals`) for a policy's members.
#[derive(Debug, Clone, PartialEq)]
pub struct BurdenSnapshot {
    pub window: Span,
    burdens: HashMap<String, Burden>,
    /// Mean inconvenience over every member of the team, those with no
    /// burden included.
    pub mean: f64,
}

impl BurdenSnapshot {
    /// `members` are the team's members (lowercase); `totals` what the store
    /// holds for the window. Totals for people who are not members are
    /// ignored, and members without a total have no burden.
    pub fn new<'a>(
        window: Span,
        members: impl IntoIterator<Item = &'a str>,
        totals: &HashMap<String, Burden>,
    ) -> BurdenSnapshot {
        let burdens: HashMap<String, Burden> = members
            .into_iter()
            .map(|m| (m.to_string(), totals.get(m).copied().unwrap_or_default()))
            .collect();
        let mean = if burdens.is_empty() {
            0.0
        } else {
            burdens
                .values()
                .map(|b| f64::from(b.inconvenience))
                .sum::<f64>()
                / burdens.len() as f64
        };
        BurdenSnapshot {
            window,
            burdens,
            mean,
        }
    }

    /// The snapshot for a policy at `now`: its window and its members.
    pub fn for_policy(
        policy: &Policy,
        now: DateTime<Utc>,
        totals: &HashMap<String, Burden>,
    ) -> BurdenSnapshot {
        BurdenSnapshot::new(
            window(now, policy.fairness.window_weeks),
            policy.members.iter().map(|m| m.email.as_str()),
            totals,
        )
    }

    pub fn of(&self, member: &str) -> Burden {
        self.burdens.get(member).copied().unwrap_or_default()
    }

    /// Members and their burdens, sorted by address.
    pub fn members(&self) -> Vec<(&str, Burden)> {
        let mut v: Vec<(&str, Burden)> =
            self.burdens.iter().map(|(k, b)| (k.as_str(), *b)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }
}

/// What one occurrence adds to one member's burden: the row the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub occurrence: Span,
    pub burden: Burden,
    /// `accepted` (also for the organizer) or `tentative`.
    pub status: &'static str,
}

/// How a member stands toward a meeting, as the daemon sees it in their
/// calendar.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    /// The member's PARTSTAT on the invite (ignored when they organize it).
    pub partstat: &'a PartStat,
    /// What gatekeeper itself wrote (`X-GATEKEEPER-PARTSTAT`), if anything:
    /// gatekeeper's own tentative is not the member's commitment.
    pub gatekeeper_partstat: Option<&'a PartStat>,
    /// The event (or this occurrence) is cancelled.
    pub cancelled: bool,
}

/// The ledger rows a meeting gives a member: one per occurrence in
/// `occurrences` that costs them anything. An empty list means "nothing
/// counts" (declined, cancelled, not answered, not a member, or not counted
/// under the policy): the caller replaces the member's rows for this item
/// from `now` on with the result, so a decline or a cancellation removes
/// them and a moved series is re-recorded.
pub fn ledger_entries(
    policy: &Policy,
    member: &str,
    invite: &Invite<'_>,
    standing: Standing<'_>,
) -> Vec<LedgerEntry> {
    let Some(m) = policy.member(member) else {
        return Vec::new();
    };
    if standing.cancelled || invite.all_day {
        return Vec::new();
    }
    let f = &policy.fairness;
    if !f.count_external && invite_has_external(invite, policy) {
        return Vec::new();
    }
    let status = if invite.organizer == Some(member) {
        "accepted"
    } else {
        let Some(a) = invite.attendees.iter().find(|a| a.email == member) else {
            return Vec::new();
        };
        if a.is_resource || !role_counts(a.role, f.count_optional) {
            return Vec::new();
        }
        let own_answer = standing.gatekeeper_partstat != Some(standing.partstat);
        match standing.partstat {
            PartStat::Accepted => "accepted",
            PartStat::Tentative if own_answer => "tentative",
            _ => return Vec::new(),
        }
    };
    let profile = Profile::new(&m.hours, f.curve.shoulder_minutes);
    invite
        .occurrences
        .iter()
        .filter_map(|o| {
            let burden = occurrence_burden(o, m, &profile, policy);
            (burden.inconvenience > 0 || burden.outside_minutes > 0).then_some(LedgerEntry {
                occurrence: *o,
                burden,
                status,
            })
        })
        .collect()
}

/// Whether an attendee's role makes the meeting count toward their burden:
/// CHAIR and REQ-PARTICIPANT always, OPT-PARTICIPANT when the policy counts
/// optional attendees, NON-PARTICIPANT (copied for information, RFC 5545)
/// never.
pub fn role_counts(role: crate::calendar::Role, count_optional: bool) -> bool {
    use crate::calendar::Role;
    match role {
        Role::Chair | Role::Required => true,
        Role::Optional => count_optional,
        Role::NonParticipant => false,
    }
}

pub(crate) fn occurrence_burden(
    o: &Span,
    m: &Member,
    profile: &Profile,
    policy: &Policy,
) -> Burden {
    score(o.start, o.end, m.tz, profile, &policy.fairness.curve)
}

pub(crate) fn invite_has_external(invite: &Invite<'_>, policy: &Policy) -> bool {
    invite
        .organizer
        .into_iter()
        .chain(
            invite
                .attendees
                .iter()
                .filter(|a| !a.is_resource)
                .map(|a| a.email.as_str()),
        )
        .any(|e| policy.is_external(e))
}
