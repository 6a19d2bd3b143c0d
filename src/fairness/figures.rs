//! Fairness figures for a set of burdens (a team over the window, or the
//! members of one recurring series): each member's share, the worst-off
//! member against the mean, the fairness index 1 − σ/μ and the Gini
//! coefficient.
//!
//! Pure arithmetic: no I/O, no clock.
//!
//! With no burden at all (μ = 0, or nobody to measure) the team is
//! perfectly fair by definition: index 1, Gini 0, worst/mean 1, every share
//! 0. The index uses the population standard deviation and is not clamped:
//! a burden carried by one person in a large team drives it below 0, which
//! is the point.

use super::curve::Profile;
use super::ledger::occurrence_burden;
use crate::policy::invite::Invite;
use crate::policy::model::Policy;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Share {
    pub member: String,
    /// Weighted minutes of inconvenience.
    pub burden: u32,
    /// This member's part of the total, 0–1.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Figures {
    /// Sorted by burden, heaviest first, then by address.
    pub members: Vec<Share>,
    pub total: u64,
    pub mean: f64,
    /// The heaviest burden divided by the mean.
    pub worst_to_mean: f64,
    /// 1 − σ/μ: 1 when everyone carries the same.
    pub index: f64,
    /// 0 when everyone carries the same, approaching 1 when one person
    /// carries everything.
    pub gini: f64,
}

pub fn figures<'a>(burdens: impl IntoIterator<Item = (&'a str, u32)>) -> Figures {
    let mut members: Vec<Share> = burdens
        .into_iter()
        .map(|(m, b)| Share {
            member: m.to_string(),
            burden: b,
            share: 0.0,
        })
        .collect();
    let n = members.len();
    let total: u64 = members.iter().map(|s| u64::from(s.burden)).sum();
    members.sort_by(|a, b| {
        b.burden
            .cmp(&a.burden)
            .then_with(|| a.member.cmp(&b.member))
    });
    if n == 0 || total == 0 {
        return Figures {
            members,
            total,
            mean: 0.0,
            worst_to_mean: 1.0,
            index: 1.0,
            gini: 0.0,
        };
    }
    let nf = n as f64;
    let mean = total as f64 / nf;
    for s in &mut members {
        s.share = f64::from(s.burden) / total as f64;
    }
    let variance = members
        .iter()
        .map(|s| (f64::from(s.burden) - mean).powi(2))
        .sum::<f64>()
        / nf;
    let worst = f64::from(members[0].burden);
    // Gini over the burdens in ascending order (rank i from 1):
    // G = 2·Σ i·x_i / (n·Σ x) − (n + 1)/n.
    let weighted: f64 = members
        .iter()
        .rev()
        .enumerate()
        .map(|(i, s)| (i as f64 + 1.0) * f64::from(s.burden))
        .sum();
    let gini = 2.0 * weighted / (nf * total as f64) - (nf + 1.0) / nf;
    Figures {
        members,
        total,
        mean,
        worst_to_mean: worst / mean,
        index: 1.0 - variance.sqrt() / mean,
        gini,
    }
}

/// Figures for one recurring series: each attendee who is a member of the
/// policy (counted as the policy's `[fairness]` says) and the burden the
/// given occurrences put on them.
pub fn series_figures(invite: &Invite<'_>, policy: &Policy) -> Figures {
    let f = &policy.fairness;
    let mut rows: Vec<(&str, u32)> = Vec::new();
    for a in invite.attendees {
        if a.is_resource || !super::ledger::role_counts(a.role, f.count_optional) {
            continue;
        }
        let Some(m) = policy.member(&a.email) else {
            continue;
        };
        if rows.iter().any(|(e, _)| *e == m.email) {
            continue;
        }
        let profile = Profile::new(&m.hours, f.curve.shoulder_minutes);
        let b = invite
            .occurrences
            .iter()
            .map(|o| occurrence_burden(o, m, &profile, policy).inconvenience)
            .fold(0u32, u32::saturating_add);
        rows.push((m.email.as_str(), b));
    }
    figures(rows)
}
