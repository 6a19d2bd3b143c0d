//! `decision_record`: a meeting of the rule's purpose (a decision) must
//! link where the decision will be written, on a host the team accepts.

use super::Case;
use crate::policy::evaluate::Problem;
use crate::policy::purpose::{DecisionRecordRule, check_decision_record};

pub(super) fn check(case: &Case<'_>, rule: &DecisionRecordRule) -> Option<Problem> {
    let invite = case.invite;
    check_decision_record(
        invite.title,
        invite.description,
        invite.categories,
        &case.policy.purposes_for(case.ctx.member),
        rule,
    )
    .map(Problem::NoDecisionRecord)
}
