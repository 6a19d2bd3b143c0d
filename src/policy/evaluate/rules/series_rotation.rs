//! `series_rotation`: a series does not put the same member outside their
//! hours in more than a share of its judged occurrences.

use crate::policy::evaluate::fairness::FairnessInputs;
use crate::policy::evaluate::{Problem, within_working_hours};

pub(super) fn check(fair: &mut FairnessInputs<'_>, max_share: f64) -> Option<Problem> {
    let occurrences = fair.invite.occurrences;
    let of = occurrences.len() as u32;
    if of < 2 {
        return None;
    }
    fair.scored().iter().find_map(|s| {
        let misses = occurrences
            .iter()
            .filter(|o| !within_working_hours(o, s.member.tz, &s.member.hours))
            .count() as u32;
        (f64::from(misses) > max_share * f64::from(of)).then(|| Problem::NeedsRotation {
            attendee: s.member.email.clone(),
            occurrences: misses,
            of,
            max_share_percent: (max_share * 100.0).round() as u32,
        })
    })
}
