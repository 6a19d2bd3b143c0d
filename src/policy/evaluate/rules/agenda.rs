//! `agenda`: the description must say what the meeting is for.

use super::Case;
use crate::policy::agenda::meaningful_words;
use crate::policy::evaluate::Problem;

pub(super) fn check(case: &Case<'_>, min_words: u32) -> Option<Problem> {
    let words = meaningful_words(case.invite.description, min_words);
    (words < min_words).then_some(Problem::MissingAgenda {
        words,
        needed: min_words,
    })
}
