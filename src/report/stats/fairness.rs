//! Fairness in the week: each member's burden (from the ledger when it has
//! the week, else scored from the calendars), the team's figures and the
//! burden by time zone.

use std::collections::{BTreeMap, HashMap};

use super::{FairnessSection, Input, IsoWeek, MemberStats, ZoneBurden};
use crate::fairness::figures;

/// Sets each member's burden and returns the section; `calendar_burden` is
/// what the calendars show for the members who have one.
pub(super) fn section(
    input: &Input<'_>,
    week: IsoWeek,
    members: &mut [MemberStats],
    calendar_burden: Vec<(String, u32)>,
) -> FairnessSection {
    let policy = input.policy;
    // Fairness: the ledger when it has the week, else the calendars.
    let ledger = input.ledger.get(&week).filter(|t| !t.is_empty());
    let (source, burdens): (&'static str, Vec<(String, u32)>) = match ledger {
        Some(totals) => (
            "ledger",
            policy
                .members
                .iter()
                .map(|m| {
                    (
                        m.email.clone(),
                        totals.get(&m.email).map_or(0, |b| b.inconvenience),
                    )
                })
                .collect(),
        ),
        None => ("calendars", calendar_burden),
    };
    // The first burden listed for an address, as a map: one pass, not one
    // search of the list per member.
    let mut by_email: HashMap<&str, u32> = HashMap::with_capacity(burdens.len());
    for (e, b) in &burdens {
        by_email.entry(e.as_str()).or_insert(*b);
    }
    for s in members.iter_mut() {
        if let Some(b) = by_email.get(s.email.as_str()) {
            s.burden = *b;
        }
    }
    let fig = figures(burdens.iter().map(|(e, b)| (e.as_str(), *b)));
    let mut zones: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for (email, b) in &burdens {
        if let Some(m) = policy.member(email) {
            let z = zones.entry(m.tz.name().to_string()).or_default();
            z.0 += 1;
            z.1 += u64::from(*b);
        }
    }
    let mut by_zone: Vec<ZoneBurden> = zones
        .into_iter()
        .map(|(time_zone, (members, burden))| ZoneBurden {
            time_zone,
            members,
            burden,
            mean: burden as f64 / f64::from(members.max(1)),
        })
        .collect();
    by_zone.sort_by(|a, b| {
        b.burden
            .cmp(&a.burden)
            .then_with(|| a.time_zone.cmp(&b.time_zone))
    });
    FairnessSection {
        source,
        evenness: (1.0 - fig.gini).clamp(0.0, 1.0),
        figures: fig,
        by_zone,
    }
}
