//! What the fairness rules and the suggestions share for one invite: the
//! counted members, what each occurrence costs them, and the searches for
//! fairer times. Worked out on first use: most invites never need it.

use chrono::{DateTime, Duration, Utc};

use super::{Context, earliest_suggestion};
use crate::calendar::PartStat;
use crate::fairness::{Grid, Profile, Score, Search, SearchAttendee, Slot};
use crate::policy::invite::{Invite, Span};
use crate::policy::model::{Member, Policy, RuleSpec};

/// What the fairness rules and the suggestions share for one invite, worked
/// out on first use: most invites never need it.
pub(super) struct FairnessInputs<'a> {
    pub(super) invite: &'a Invite<'a>,
    pub(super) policy: &'a Policy,
    pub(super) ctx: &'a Context<'a>,
    scored: Option<Vec<Scored<'a>>>,
}

/// A counted member of the meeting and what each occurrence costs them.
pub(super) struct Scored<'a> {
    pub(super) member: &'a Member,
    pub(super) profile: Profile,
    pub(super) per_occurrence: Vec<Score>,
}

impl<'a> FairnessInputs<'a> {
    pub(super) fn new(invite: &'a Invite<'a>, policy: &'a Policy, ctx: &'a Context<'a>) -> Self {
        FairnessInputs {
            invite,
            policy,
            ctx,
            scored: None,
        }
    }

    pub(super) fn window(&self) -> Span {
        self.ctx.burden.map_or_else(
            || crate::fairness::window(self.ctx.now, self.policy.fairness.window_weeks),
            |b| b.window,
        )
    }

    /// Counted members: required (and optional, if the policy says so)
    /// people who are members and have not declined, without the
    /// organizer. None at all when the policy does not count meetings with
    /// external guests and this is one.
    pub(super) fn scored(&mut self) -> &[Scored<'a>] {
        let (invite, policy) = (self.invite, self.policy);
        self.scored.get_or_insert_with(|| {
            let f = &policy.fairness;
            if !f.count_external && crate::fairness::ledger::invite_has_external(invite, policy) {
                return Vec::new();
            }
            let mut out: Vec<Scored<'a>> = Vec::new();
            for a in invite.attendees {
                if a.is_resource
                    || a.partstat == PartStat::Declined
                    || !crate::fairness::ledger::role_counts(a.role, f.count_optional)
                    || Some(a.email.as_str()) == invite.organizer
                {
                    continue;
                }
                let Some(m) = policy.member(&a.email) else {
                    continue;
                };
                if out.iter().any(|s| s.member.email == m.email) {
                    continue;
                }
                let profile = Profile::new(&m.hours, f.curve.shoulder_minutes);
                let per_occurrence = invite
                    .occurrences
                    .iter()
                    .map(|o| crate::fairness::score(o.start, o.end, m.tz, &profile, &f.curve))
                    .collect();
                out.push(Scored {
                    member: m,
                    profile,
                    per_occurrence,
                });
            }
            out
        })
    }

    /// What the occurrences inside the window add for each counted member.
    pub(super) fn added_in_window(&mut self) -> Vec<(&'a Member, Score)> {
        let w = self.window();
        let occurrences = self.invite.occurrences;
        self.scored()
            .iter()
            .map(|s| {
                let mut total = Score::default();
                for (o, sc) in occurrences.iter().zip(&s.per_occurrence) {
                    if o.start < w.end && o.end > w.start {
                        total += *sc;
                    }
                }
                (s.member, total)
            })
            .collect()
    }

    /// Everyone the search must seat: the organizer, if a member, and the
    /// counted members, each with the meeting-free days that apply to them.
    pub(super) fn search_attendees(&mut self) -> Vec<SearchAttendee> {
        let policy = self.policy;
        let curve = policy.fairness.curve;
        let meeting_free = |email: &str| {
            policy
                .rules
                .iter()
                .filter(|r| r.applies_to(email))
                .find_map(|r| match r.spec {
                    RuleSpec::MeetingFreeDays { days } => Some(days),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let organizer = self.invite.organizer.and_then(|o| policy.member(o));
        let mut out: Vec<SearchAttendee> = organizer
            .map(|m| SearchAttendee {
                email: m.email.clone(),
                tz: m.tz,
                profile: Profile::new(&m.hours, curve.shoulder_minutes),
                meeting_free: meeting_free(&m.email),
            })
            .into_iter()
            .collect();
        for s in self.scored() {
            out.push(SearchAttendee {
                email: s.member.email.clone(),
                tz: s.member.tz,
                profile: s.profile.clone(),
                meeting_free: meeting_free(&s.member.email),
            });
        }
        out
    }

    /// Suggestions start no earlier than the notice this team asks of the
    /// member and of everyone the search seats.
    pub(super) fn suggest_from(&self, attendees: &[SearchAttendee]) -> DateTime<Utc> {
        let people =
            std::iter::once(self.ctx.member).chain(attendees.iter().map(|a| a.email.as_str()));
        earliest_suggestion(self.policy, people, self.ctx.now)
    }

    pub(super) fn search<'s>(
        &'s self,
        attendees: &'s [SearchAttendee],
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        first: Span,
    ) -> Search<'s> {
        Search {
            attendees,
            curve: &self.policy.fairness.curve,
            from,
            until,
            duration: first.end - first.start,
            busy: self.ctx.busy,
        }
    }

    /// Starts from the end of the notice period up to `suggest_days` after
    /// now, both inclusive.
    pub(super) fn suggestion_search<'s>(
        &'s self,
        attendees: &'s [SearchAttendee],
        first: Span,
    ) -> Search<'s> {
        let until = self.ctx.now + Duration::days(i64::from(self.policy.fairness.suggest_days));
        self.search(attendees, self.suggest_from(attendees), until, first)
    }

    pub(super) fn suggestions(&mut self, first: &Span) -> Vec<Slot> {
        let attendees = self.search_attendees();
        if attendees.is_empty() {
            return Vec::new();
        }
        Grid::new(self.suggestion_search(&attendees, *first)).suggest(3, Some(first.start))
    }

    /// A rotation over the week of the series' next occurrence.
    pub(super) fn rotation(&mut self, first: &Span) -> Option<Vec<Slot>> {
        let attendees = self.search_attendees();
        let max_share = self.policy.rules.iter().find_map(|r| match r.spec {
            RuleSpec::SeriesRotation { max_share } if r.applies_to(self.ctx.member) => {
                Some(max_share)
            }
            _ => None,
        })?;
        let from = first.start.max(self.suggest_from(&attendees));
        let search = self.search(&attendees, from, from + Duration::days(7), *first);
        Grid::new(search).rotation(max_share)
    }
}
