//! `burden_cap`: no more burden on a member already above the cap × the
//! team's mean, when another time spreads it better.

use crate::fairness::{Grid, Score};
use crate::policy::evaluate::Problem;
use crate::policy::evaluate::fairness::FairnessInputs;
use crate::policy::model::Member;

pub(super) fn check(fair: &mut FairnessInputs<'_>, ratio: f64) -> Option<Problem> {
    let snapshot = fair.ctx.burden?;
    if snapshot.mean <= 0.0 {
        return None;
    }
    let first = *fair.invite.occurrences.first()?;
    let added = fair.added_in_window();
    let over: Vec<(&Member, Score)> = added
        .into_iter()
        .filter(|(m, a)| {
            a.inconvenience > 0
                && f64::from(snapshot.of(&m.email).inconvenience) > ratio * snapshot.mean
        })
        .collect();
    if over.is_empty() {
        return None;
    }
    let attendees = fair.search_attendees();
    let grid = Grid::new(fair.suggestion_search(&attendees, first));
    // The proposed time as the search sees it: what it costs the
    // over-cap member, and the worst it costs anyone.
    let cost_now = |email: &str| {
        attendees.iter().find(|a| a.email == email).map_or(0, |a| {
            crate::fairness::score(
                first.start,
                first.end,
                a.tz,
                &a.profile,
                &fair.policy.fairness.curve,
            )
            .inconvenience
        })
    };
    let worst_now = attendees
        .iter()
        .map(|a| cost_now(&a.email))
        .max()
        .unwrap_or(0);
    over.into_iter().find_map(|(m, a)| {
        let i = attendees.iter().position(|x| x.email == m.email)?;
        grid.better_for(i, cost_now(&m.email), worst_now)?;
        Some(Problem::OverBurdenCap {
            attendee: m.email.clone(),
            burden: snapshot.of(&m.email).inconvenience,
            team_mean: snapshot.mean.round() as u32,
            cap_percent: (ratio * 100.0).round() as u32,
            adds: a.inconvenience,
        })
    })
}
