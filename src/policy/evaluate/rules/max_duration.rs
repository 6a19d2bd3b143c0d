//! `max_duration`: no occurrence longer than the team allows.

use super::Case;
use crate::policy::evaluate::Problem;

pub(super) fn check(case: &Case<'_>, minutes: u32) -> Option<Problem> {
    let longest = case
        .invite
        .occurrences
        .iter()
        .map(|o| (o.end - o.start).num_minutes())
        .max()
        .unwrap_or(0);
    (longest > i64::from(minutes)).then_some(Problem::TooLong {
        minutes: longest,
        max: minutes,
    })
}
