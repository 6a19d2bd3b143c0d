//! `min_notice`: the invite must arrive some hours before the meeting.

use chrono::Duration;

use super::Case;
use crate::policy::evaluate::Problem;

pub(super) fn check(case: &Case<'_>, hours: u32) -> Option<Problem> {
    let (invite, ctx) = (case.invite, case.ctx);
    let sent = invite.sent_at.map_or(ctx.now, |s| s.min(ctx.now));
    let notice = case.first.start - sent;
    (notice < Duration::hours(i64::from(hours))).then(|| Problem::ShortNotice {
        notice_minutes: notice.num_minutes(),
        needed_hours: hours,
    })
}
