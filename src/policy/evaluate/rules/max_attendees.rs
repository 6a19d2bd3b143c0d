//! `max_attendees`: no more people than the team allows (the organizer and
//! every attendee who is a person, not a room).

use super::Case;
use crate::policy::evaluate::{Problem, people_count};

pub(super) fn check(case: &Case<'_>, count: u32) -> Option<Problem> {
    let people = people_count(case.invite);
    (people > count).then_some(Problem::TooManyPeople {
        count: people,
        max: count,
    })
}
