//! `protected_time`: not over the member's focus time or time off.

use chrono::NaiveDateTime;

use super::Case;
use crate::policy::evaluate::{Problem, ProtectedKind};

pub(super) fn check(case: &Case<'_>) -> Option<Problem> {
    let (invite, member) = (case.invite, case.member);
    let mut first: Option<(ProtectedKind, NaiveDateTime)> = None;
    let mut count = 0;
    for o in invite.occurrences {
        if let Some(block) = case
            .ctx
            .protected
            .iter()
            .find(|b| b.span.start < o.end && o.start < b.span.end)
        {
            first.get_or_insert_with(|| {
                (block.kind, o.start.with_timezone(&member.tz).naive_local())
            });
            count += 1;
        }
    }
    first.map(|(block, local_start)| Problem::ConflictsWithProtectedTime {
        attendee: member.email.clone(),
        block,
        local_start,
        time_zone: member.tz,
        occurrences: count,
        of: invite.occurrences.len() as u32,
    })
}
