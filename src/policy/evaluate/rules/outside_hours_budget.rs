//! `outside_hours_budget`: a counted member's minutes outside working hours
//! in the fairness window, this meeting included, stay within a weekly
//! budget.

use crate::policy::evaluate::Problem;
use crate::policy::evaluate::fairness::FairnessInputs;

pub(super) fn check(fair: &mut FairnessInputs<'_>, minutes_per_week: u32) -> Option<Problem> {
    let weeks = fair.policy.fairness.window_weeks;
    let budget = minutes_per_week.saturating_mul(weeks);
    let burden = fair.ctx.burden;
    fair.added_in_window().into_iter().find_map(|(m, added)| {
        let so_far = burden.map_or(0, |b| b.of(&m.email).outside_minutes);
        (added.outside_minutes > 0 && so_far.saturating_add(added.outside_minutes) > budget).then(
            || Problem::OverBudget {
                attendee: m.email.clone(),
                adds: added.outside_minutes,
                so_far,
                minutes_per_week,
                weeks,
            },
        )
    })
}
