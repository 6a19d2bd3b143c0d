//! One week's point on the trend line.

use super::{TrendPoint, WeeklyReport};

pub(super) fn trend_point(r: &WeeklyReport) -> TrendPoint {
    TrendPoint {
        week: r.week.clone(),
        meetings: r.totals.meetings,
        meeting_minutes: r.totals.meeting_minutes,
        mean_share_of_working_hours: r.totals.mean_share_of_working_hours,
        focus_minutes: r.totals.focus_minutes,
        declined: r.totals.declined,
        given_back_minutes: r.totals.given_back.minutes,
        fairness_index: r.fairness.figures.index,
        evenness: r.fairness.evenness,
    }
}
