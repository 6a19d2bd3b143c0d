//! `working_hours`: every required member inside their working hours.

use chrono::NaiveDateTime;

use super::Case;
use crate::calendar::{Attendee, PartStat};
use crate::policy::evaluate::{Problem, within_working_hours};
use crate::policy::invite::Invite;
use crate::policy::model::{Member, Policy};

pub(super) fn check(case: &Case<'_>) -> Option<Problem> {
    let invite = case.invite;
    // One finding per rule: the first required member outside their hours,
    // with how many occurrences are affected.
    required_members(invite, case.policy).find_map(|(a, m)| {
        let mut first_miss: Option<NaiveDateTime> = None;
        let mut misses = 0;
        for o in invite.occurrences {
            if !within_working_hours(o, m.tz, &m.hours) {
                first_miss.get_or_insert_with(|| o.start.with_timezone(&m.tz).naive_local());
                misses += 1;
            }
        }
        first_miss.map(|local_start| Problem::OutsideWorkingHours {
            attendee: a.email.clone(),
            local_start,
            time_zone: m.tz,
            working_hours: m.hours.describe(),
            occurrences: misses,
            of: invite.occurrences.len() as u32,
        })
    })
}

/// Team members who must attend: required role, a person, has not declined,
/// and not the organizer (who picked the time themselves).
fn required_members<'a>(
    invite: &'a Invite<'a>,
    policy: &'a Policy,
) -> impl Iterator<Item = (&'a Attendee, &'a Member)> {
    invite
        .attendees
        .iter()
        .filter(move |a| {
            a.role.is_required()
                && !a.is_resource
                && a.partstat != PartStat::Declined
                && Some(a.email.as_str()) != invite.organizer
        })
        .filter_map(move |a| policy.member(&a.email).map(|m| (a, m)))
}
