//! `purpose`: the invite must state one of the purposes the team accepts
//! (recognised in `policy::purpose`).

use super::Case;
use crate::policy::evaluate::Problem;
use crate::policy::purpose::{PurposeRule, check_purpose};

pub(super) fn check(case: &Case<'_>, rule: &PurposeRule) -> Option<Problem> {
    let invite = case.invite;
    check_purpose(invite.title, invite.description, invite.categories, rule).map(Problem::NoPurpose)
}
