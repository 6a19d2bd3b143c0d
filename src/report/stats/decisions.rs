//! What gatekeeper decided in the week: each member's tally and the
//! organizers whose invites it annotated or declined most.

use std::collections::HashMap;

use super::meetings::MemberOccurrences;
use super::{MemberStats, OrganizerStats, RuleCount, TOP_ORGANIZERS};
use crate::store::{DecisionRecord, Outcome};

/// The week's decisions per member, each list in log order: one pass over
/// the log instead of one per member.
pub(super) fn by_member<'d>(
    decisions: &[&'d DecisionRecord],
) -> HashMap<&'d str, Vec<&'d DecisionRecord>> {
    let mut out: HashMap<&str, Vec<&DecisionRecord>> = HashMap::new();
    for d in decisions {
        out.entry(d.member.as_str()).or_default().push(d);
    }
    out
}

/// Counts a member's screened, annotated, declined and only-logged invites.
pub(super) fn tally(
    stats: &mut MemberStats,
    decisions: &[&DecisionRecord],
    occ: Option<&MemberOccurrences<'_>>,
) {
    for d in decisions {
        if d.outcome == Outcome::Failed || d.outcome == Outcome::Pending {
            continue;
        }
        stats.screened += 1;
        if d.outcome == Outcome::Observed {
            stats.observed += 1;
            continue;
        }
        match d.action.as_str() {
            "annotate" => stats.annotated += 1,
            "decline" => {
                stats.declined += 1;
                if occ.is_some_and(|o| !o.uids.contains(d.uid.as_str())) {
                    stats.declines_unknown_length += 1;
                }
            }
            _ => {}
        }
    }
}

pub(super) fn organizer_stats(decisions: &[&DecisionRecord]) -> Vec<OrganizerStats> {
    /// annotated, declined, only logged, and the rules that fired.
    type Counts = (u32, u32, u32, HashMap<String, u32>);
    let mut by: HashMap<&str, Counts> = HashMap::new();
    for d in decisions {
        if d.outcome == Outcome::Failed || d.outcome == Outcome::Pending {
            continue;
        }
        if !matches!(d.action.as_str(), "annotate" | "decline") {
            continue;
        }
        let organizer = if d.organizer.is_empty() {
            "(no organizer)"
        } else {
            d.organizer.as_str()
        };
        let e = by.entry(organizer).or_default();
        match (d.outcome == Outcome::Observed, d.action.as_str()) {
            (true, _) => e.2 += 1,
            (false, "annotate") => e.0 += 1,
            (false, _) => e.1 += 1,
        }
        for f in d.findings.iter().filter(|f| f.acts()) {
            *e.3.entry(f.rule.as_str().to_string()).or_default() += 1;
        }
    }
    let mut out: Vec<OrganizerStats> = by
        .into_iter()
        .map(|(organizer, (annotated, declined, observed, rules))| {
            let mut rules: Vec<RuleCount> = rules
                .into_iter()
                .map(|(rule, count)| RuleCount { rule, count })
                .collect();
            rules.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.rule.cmp(&b.rule)));
            OrganizerStats {
                organizer: organizer.to_string(),
                annotated,
                declined,
                observed,
                rules,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.annotated + b.declined + b.observed)
            .cmp(&(a.annotated + a.declined + a.observed))
            .then_with(|| a.organizer.cmp(&b.organizer))
    });
    out.truncate(TOP_ORGANIZERS);
    out
}
