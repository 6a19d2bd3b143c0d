//! The decision core: `evaluate(&Invite, &Policy, &Context) -> Verdict`.
//!
//! Pure and allocation-light: no clock (the caller passes `now`), no store
//! (the caller passes how many urgent uses an organizer has had), no I/O.
//! A verdict names every rule that fired, in words an organizer can act on;
//! that list is what the decision log stores.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;

use super::agenda::meaningful_words;
use super::comment::CommentValues;
use super::model::{
    Action, ExternalGuests, Member, OneToOne, Policy, RuleKind, RuleSpec, WorkingHours, long_day,
};
use super::purpose::{NoDecisionRecord, NoPurpose, check_decision_record, check_purpose};
use crate::calendar::{Attendee, PartStat};
use crate::fairness::{
    BurdenSnapshot, BusyTime, Grid, Profile, Score, Search, SearchAttendee, Slot,
};

/// One occurrence to judge, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What the core needs to know about an invite. The shell maps events from
/// any source into this; addresses are lowercase.
#[derive(Debug, Clone, Copy)]
pub struct Invite<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub organizer: Option<&'a str>,
    pub attendees: &'a [Attendee],
    /// The occurrences to judge, in order: the event itself, or the next
    /// occurrences of a series (the caller bounds how many).
    pub occurrences: &'a [Span],
    /// When the invite (or its last change) was sent, if known. Notice is
    /// counted from here, or from `now` when it is unknown or later.
    pub sent_at: Option<DateTime<Utc>>,
    pub all_day: bool,
    /// The event's CATEGORIES (the purpose rule reads them).
    pub categories: &'a [String],
}

impl<'a> Invite<'a> {
    /// The invite an event makes, judged on `occurrences`. Notice counts
    /// from when the event was created (else stamped, else last changed):
    /// a later edit such as an added agenda is not a new invite.
    pub fn of_event(event: &'a crate::calendar::Event, occurrences: &'a [Span]) -> Invite<'a> {
        Invite {
            title: &event.summary,
            description: &event.description,
            organizer: event.organizer.as_deref(),
            attendees: &event.attendees,
            occurrences,
            sent_at: event.created.or(event.dtstamp).or(event.last_modified),
            all_day: event.is_all_day(),
            categories: &event.categories,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub now: DateTime<Utc>,
    /// The member whose calendar holds the invite (lowercase).
    pub member: &'a str,
    /// Urgent exceptions this invite's organizer has used this month.
    pub urgent_uses_this_month: u32,
    /// Every member's burden over the fairness window, from the store. When
    /// unknown, `outside_hours_budget` counts only this meeting and
    /// `burden_cap` does not fire.
    pub burden: Option<&'a BurdenSnapshot>,
    /// Times attendees are already busy, from the synced calendars (without
    /// the invite being screened): other times are never suggested there.
    pub busy: &'a [BusyTime],
    /// The member's own focus-time and out-of-office blocks.
    pub protected: &'a [ProtectedBlock],
}

/// A block the member set aside for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectedBlock {
    pub span: Span,
    pub kind: ProtectedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectedKind {
    FocusTime,
    OutOfOffice,
}

impl ProtectedKind {
    pub fn describe(self) -> &'static str {
        match self {
            ProtectedKind::FocusTime => "focus time",
            ProtectedKind::OutOfOffice => "out of office",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtectedKind::FocusTime => "focus_time",
            ProtectedKind::OutOfOffice => "out_of_office",
        }
    }

    pub fn parse(s: &str) -> Option<ProtectedKind> {
        match s {
            "focus_time" => Some(ProtectedKind::FocusTime),
            "out_of_office" => Some(ProtectedKind::OutOfOffice),
            _ => None,
        }
    }
}

impl<'a> Context<'a> {
    pub fn new(now: DateTime<Utc>, member: &'a str) -> Context<'a> {
        Context {
            now,
            member,
            ..Context::default()
        }
    }

    pub fn with_urgent_uses(mut self, n: u32) -> Context<'a> {
        self.urgent_uses_this_month = n;
        self
    }

    pub fn with_burden(mut self, burden: &'a BurdenSnapshot) -> Context<'a> {
        self.burden = Some(burden);
        self
    }

    pub fn with_busy(mut self, busy: &'a [BusyTime]) -> Context<'a> {
        self.busy = busy;
        self
    }

    pub fn with_protected(mut self, protected: &'a [ProtectedBlock]) -> Context<'a> {
        self.protected = protected;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Annotate,
    Decline,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Annotate => "annotate",
            Decision::Decline => "decline",
        }
    }

    pub fn partstat(self) -> Option<PartStat> {
        match self {
            Decision::Allow => None,
            Decision::Annotate => Some(PartStat::Tentative),
            Decision::Decline => Some(PartStat::Declined),
        }
    }
}

/// Why an invite was allowed regardless of the rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Exemption {
    /// The member organizes it: gatekeeper never touches their own events.
    OwnEvent,
    /// All-day events are not meetings.
    AllDay,
    /// No occurrence is still ahead.
    Past,
    NotAMember,
    OrganizerAllowed,
    OneToOne,
    ExternalGuests,
    Urgent {
        use_number: u32,
        limit: u32,
    },
}

impl Exemption {
    pub fn describe(&self) -> String {
        match self {
            Exemption::OwnEvent => "the member organizes this event".into(),
            Exemption::AllDay => "all-day events are not meetings".into(),
            Exemption::Past => "the event is over".into(),
            Exemption::NotAMember => "the calendar's owner is not in this policy".into(),
            Exemption::OrganizerAllowed => "the organizer is always allowed".into(),
            Exemption::OneToOne => "one-to-ones are exempt".into(),
            Exemption::ExternalGuests => "invites with external guests are exempt".into(),
            Exemption::Urgent { use_number, limit } => {
                format!("marked urgent (use {use_number} of {limit} this month)")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Problem {
    ConflictsWithProtectedTime {
        attendee: String,
        block: ProtectedKind,
        #[serde(serialize_with = "ser_local")]
        local_start: NaiveDateTime,
        #[serde(serialize_with = "ser_tz")]
        time_zone: Tz,
        occurrences: u32,
        of: u32,
    },
    MissingAgenda {
        words: u32,
        needed: u32,
    },
    ShortNotice {
        notice_minutes: i64,
        needed_hours: u32,
    },
    MeetingFreeDay {
        #[serde(serialize_with = "ser_weekday")]
        day: Weekday,
        occurrences: u32,
        of: u32,
    },
    TooLong {
        minutes: i64,
        max: u32,
    },
    TooManyPeople {
        count: u32,
        max: u32,
    },
    OutsideWorkingHours {
        attendee: String,
        #[serde(serialize_with = "ser_local")]
        local_start: NaiveDateTime,
        #[serde(serialize_with = "ser_tz")]
        time_zone: Tz,
        working_hours: String,
        occurrences: u32,
        of: u32,
    },
    OverBudget {
        attendee: String,
        /// Minutes outside hours this meeting adds within the window.
        adds: u32,
        /// Minutes outside hours already in the window.
        so_far: u32,
        minutes_per_week: u32,
        weeks: u32,
    },
    OverBurdenCap {
        attendee: String,
        /// Weighted minutes already in the window.
        burden: u32,
        team_mean: u32,
        /// The cap as a percentage of the mean (130 for 1.3).
        cap_percent: u32,
        adds: u32,
    },
    NeedsRotation {
        attendee: String,
        occurrences: u32,
        of: u32,
        max_share_percent: u32,
    },
    /// The `purpose` rule: no accepted purpose stated.
    NoPurpose(NoPurpose),
    /// The `decision_record` rule: a decision meeting links no record.
    NoDecisionRecord(NoDecisionRecord),
}

fn ser_weekday<S: serde::Serializer>(d: &Weekday, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(long_day(*d))
}
fn ser_local<S: serde::Serializer>(d: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.format("%Y-%m-%dT%H:%M").to_string())
}
fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Problem {
    /// What is wrong, in words the organizer can act on.
    pub fn message(&self) -> String {
        match self {
            Problem::OverBudget { .. }
            | Problem::OverBurdenCap { .. }
            | Problem::NeedsRotation { .. } => self.fairness_message().unwrap_or_default(),
            Problem::NoPurpose(p) => p.message(),
            Problem::NoDecisionRecord(p) => p.message(),
            Problem::ConflictsWithProtectedTime {
                attendee,
                block: kind,
                local_start,
                time_zone,
                occurrences,
                of,
            } => {
                let when = format!(
                    "{} {}",
                    local_start.format("%a %d %b %H:%M"),
                    time_zone.name()
                );
                if *of > 1 {
                    format!(
                        "{occurrences} of the next {of} occurrences fall in {attendee}'s {} (e.g. {when})",
                        kind.describe()
                    )
                } else {
                    format!("it falls in {attendee}'s {} ({when})", kind.describe())
                }
            }
            Problem::MissingAgenda { words, needed } => match words {
                0 => "the invite has no agenda".to_string(),
                _ => format!(
                    "the description does not say what the meeting is for ({words} meaningful word{}, {needed} needed)",
                    plural(*words)
                ),
            },
            Problem::ShortNotice {
                notice_minutes,
                needed_hours,
            } => format!(
                "it was sent {} before it starts; this team asks for {needed_hours} hour{} notice",
                human_minutes(*notice_minutes),
                plural(*needed_hours)
            ),
            Problem::MeetingFreeDay {
                day,
                occurrences,
                of,
            } => {
                if *of > 1 {
                    format!(
                        "{occurrences} of the next {of} occurrences fall on {}, a meeting-free day",
                        long_day(*day)
                    )
                } else {
                    format!("it falls on {}, a meeting-free day", long_day(*day))
                }
            }
            Problem::TooLong { minutes, max } => {
                format!(
                    "it lasts {}; this team keeps meetings to {}",
                    human_minutes(*minutes),
                    human_minutes(i64::from(*max))
                )
            }
            Problem::TooManyPeople { count, max } => {
                format!("it invites {count} people; this team keeps meetings to {max}")
            }
            Problem::OutsideWorkingHours {
                attendee,
                local_start,
                time_zone,
                working_hours,
                occurrences,
                of,
            } => {
                let when = format!("{} {}", local_start.format("%a %H:%M"), time_zone.name());
                if *of > 1 && occurrences == of {
                    format!(
                        "all {of} upcoming occurrences are outside {attendee}'s working hours (e.g. {when}; works {working_hours})"
                    )
                } else if *of > 1 {
                    format!(
                        "{occurrences} of the next {of} occurrences are outside {attendee}'s working hours (e.g. {when}; works {working_hours})"
                    )
                } else {
                    format!(
                        "it is outside {attendee}'s working hours ({when}; works {working_hours})"
                    )
                }
            }
        }
    }

    fn fairness_message(&self) -> Option<String> {
        Some(match self {
            Problem::OverBudget {
                attendee,
                adds,
                so_far,
                minutes_per_week,
                weeks,
            } => format!(
                "it adds {} outside {attendee}'s working hours, on top of {} already in the {weeks}-week window; this team allows {} a week ({} in the window)",
                human_minutes(i64::from(*adds)),
                human_minutes(i64::from(*so_far)),
                human_minutes(i64::from(*minutes_per_week)),
                human_minutes(i64::from(*minutes_per_week) * i64::from(*weeks)),
            ),
            Problem::OverBurdenCap {
                attendee,
                burden,
                team_mean,
                cap_percent,
                adds,
            } => format!(
                "{attendee} already carries more than {}.{:02}× the team's mean out-of-hours burden ({burden} against a mean of {team_mean}), and this adds {adds} more although another time spreads it better",
                cap_percent / 100,
                cap_percent % 100,
            ),
            Problem::NeedsRotation {
                attendee,
                occurrences,
                of,
                max_share_percent,
            } => format!(
                "{occurrences} of the next {of} occurrences are outside {attendee}'s working hours; this team allows at most {max_share_percent}% for one person"
            ),
            _ => return None,
        })
    }

    /// How to fix it.
    pub fn fix(&self) -> &'static str {
        match self {
            Problem::ConflictsWithProtectedTime { .. } => "move it to another time",
            Problem::NoPurpose(p) => p.fix(),
            Problem::NoDecisionRecord(p) => p.fix(),
            Problem::MissingAgenda { .. } => {
                "add a description that says what the meeting should decide or produce"
            }
            Problem::ShortNotice { .. } => "move it later, or handle it in writing",
            Problem::MeetingFreeDay { .. } => "move it to another day",
            Problem::TooLong { .. } => "shorten it, or split it",
            Problem::TooManyPeople { .. } => {
                "invite only the people who must decide, and share notes with the rest"
            }
            Problem::OutsideWorkingHours { .. } => {
                "move it to a time inside everyone's working hours"
            }
            Problem::OverBudget { .. } => {
                "move it inside their working hours, or to a time that falls on someone with less burden"
            }
            Problem::OverBurdenCap { .. } => "move it to a time that spreads the burden better",
            Problem::NeedsRotation { .. } => {
                "rotate the meeting time so that the early or late slot moves around the team"
            }
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn human_minutes(m: i64) -> String {
    let m = m.max(0);
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub rule: RuleKind,
    /// The rule's own action; `Annotate` when a decline was softened
    /// because external guests are invited.
    pub action: Action,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Every rule that fired, `observe` ones included.
    pub findings: Vec<Finding>,
    pub exemption: Option<Exemption>,
    /// The urgent allowance was spent on this invite; the caller counts it.
    pub uses_urgent: bool,
    /// Set when the title carries the urgent keyword but the organizer has
    /// used up the month's allowance.
    pub urgent_exhausted: bool,
    /// Fairer times for an invite a time rule failed (up to three, best
    /// first), when the policy enables fairness. Empty otherwise.
    pub suggestions: Vec<Slot>,
    /// Two or three times to rotate a series between, when it failed
    /// `series_rotation` and such a rotation exists.
    pub rotation: Option<Vec<Slot>>,
    /// Set (to `JUDGED_DAYS`) when an occurrence lasts longer than what is
    /// judged of it: the time rules read only its first days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_first_days: Option<i64>,
}

impl Verdict {
    fn exempt(exemption: Exemption, findings: Vec<Finding>) -> Verdict {
        Verdict {
            decision: Decision::Allow,
            findings,
            exemption: Some(exemption),
            uses_urgent: false,
            urgent_exhausted: false,
            suggestions: Vec::new(),
            rotation: None,
            judged_first_days: None,
        }
    }

    /// "it lasts more than 7 days: the time rules judged its first 7", when
    /// that is what happened.
    pub fn horizon_note(&self) -> Option<String> {
        self.judged_first_days.map(|d| {
            format!("it lasts more than {d} days: gatekeeper judged its time against working hours on its first {d} days only")
        })
    }

    /// The findings that decided the outcome (not observe-only ones).
    pub fn acting_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.action != Action::Observe)
    }

    /// The comment sent with an annotation or a decline; `None` for allow.
    pub fn comment(
        &self,
        invite: &Invite<'_>,
        policy: &Policy,
        member: &str,
        private: bool,
    ) -> Option<String> {
        let response = match self.decision {
            Decision::Allow => return None,
            Decision::Annotate => "tentatively accepted",
            Decision::Decline => "declined",
        };
        let mut reasons = String::new();
        for f in self.acting_findings() {
            if !reasons.is_empty() {
                reasons.push('\n');
            }
            reasons.push_str("- ");
            reasons.push_str(&f.problem.message());
            reasons.push_str(": ");
            reasons.push_str(f.problem.fix());
        }
        if let Some(note) = self.horizon_note() {
            reasons.push_str("\n- ");
            reasons.push_str(&note);
        }
        if self.urgent_exhausted
            && let Some(u) = &policy.exceptions.urgent
        {
            reasons.push_str(&format!(
                "\n- the organizer has used this month's {} `{}` exceptions",
                u.per_organizer_per_month, u.keyword
            ));
        }
        let suggestions = self.suggestions_text();
        if !suggestions.is_empty() && !policy.comment.uses("suggestions") {
            reasons.push_str("\n\n");
            reasons.push_str(&suggestions);
        }
        let title = if private {
            "(private event)"
        } else {
            invite.title
        };
        Some(
            policy.comment.render(&CommentValues {
                member,
                organizer: invite.organizer.unwrap_or("the organizer"),
                title,
                response,
                reasons: &reasons,
                suggestions: &suggestions,
                team: &policy.team,
                urgent_keyword: policy
                    .exceptions
                    .urgent
                    .as_ref()
                    .map_or("", |u| u.keyword.as_str()),
            }),
        )
    }
}

impl Verdict {
    /// The suggested times and the rotation, in words each reader can use:
    /// UTC, then the local time in every attendee's zone. Empty when there
    /// is nothing to suggest.
    pub fn suggestions_text(&self) -> String {
        let mut out = String::new();
        if !self.suggestions.is_empty() {
            out.push_str("Times that would be fairer (UTC, then local times):");
            for s in &self.suggestions {
                out.push_str("\n- ");
                out.push_str(&s.describe());
            }
        }
        if let Some(r) = &self.rotation {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&format!(
                "A rotation that shares the out-of-hours slot: use these {} times in turn:",
                r.len()
            ));
            for s in r {
                out.push_str("\n- ");
                out.push_str(&s.describe());
            }
        }
        out
    }
}

/// Screen one invite for one member.
pub fn evaluate(invite: &Invite<'_>, policy: &Policy, ctx: &Context<'_>) -> Verdict {
    if invite.organizer == Some(ctx.member) {
        return Verdict::exempt(Exemption::OwnEvent, Vec::new());
    }
    let Some(member) = policy.member(ctx.member) else {
        return Verdict::exempt(Exemption::NotAMember, Vec::new());
    };
    if invite.all_day {
        return Verdict::exempt(Exemption::AllDay, Vec::new());
    }
    let Some(first) = invite.occurrences.first() else {
        return Verdict::exempt(Exemption::Past, Vec::new());
    };
    if invite.occurrences.last().is_some_and(|o| o.end <= ctx.now) {
        return Verdict::exempt(Exemption::Past, Vec::new());
    }

    let mut findings = Vec::new();
    let mut fair = FairnessInputs::new(invite, policy, ctx);
    for rule in policy.rules.iter().filter(|r| r.applies_to(ctx.member)) {
        let problem = match &rule.spec {
            RuleSpec::Agenda { min_words } => {
                let words = meaningful_words(invite.description, *min_words);
                (words < *min_words).then_some(Problem::MissingAgenda {
                    words,
                    needed: *min_words,
                })
            }
            RuleSpec::MinNotice { hours } => {
                let sent = invite.sent_at.map_or(ctx.now, |s| s.min(ctx.now));
                let notice = first.start - sent;
                (notice < Duration::hours(i64::from(*hours))).then(|| Problem::ShortNotice {
                    notice_minutes: notice.num_minutes(),
                    needed_hours: *hours,
                })
            }
            RuleSpec::MeetingFreeDays { days } => {
                let mut hit: Option<Weekday> = None;
                let mut count = 0;
                for o in invite.occurrences {
                    if let Some(d) = touched_day(o, member.tz, |d| days.contains(d)) {
                        hit.get_or_insert(d);
                        count += 1;
                    }
                }
                hit.map(|day| Problem::MeetingFreeDay {
                    day,
                    occurrences: count,
                    of: invite.occurrences.len() as u32,
                })
            }
            RuleSpec::MaxDuration { minutes } => {
                let longest = invite
                    .occurrences
                    .iter()
                    .map(|o| (o.end - o.start).num_minutes())
                    .max()
                    .unwrap_or(0);
                (longest > i64::from(*minutes)).then_some(Problem::TooLong {
                    minutes: longest,
                    max: *minutes,
                })
            }
            RuleSpec::MaxAttendees { count } => {
                let people = people_count(invite);
                (people > *count).then_some(Problem::TooManyPeople {
                    count: people,
                    max: *count,
                })
            }
            RuleSpec::WorkingHours => {
                // One finding per rule: the first required member outside
                // their hours, with how many occurrences are affected.
                required_members(invite, policy).find_map(|(a, m)| {
                    let mut first_miss: Option<NaiveDateTime> = None;
                    let mut misses = 0;
                    for o in invite.occurrences {
                        if !within_working_hours(o, m.tz, &m.hours) {
                            first_miss
                                .get_or_insert_with(|| o.start.with_timezone(&m.tz).naive_local());
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
            RuleSpec::ProtectedTime => {
                let mut first: Option<(ProtectedKind, NaiveDateTime)> = None;
                let mut count = 0;
                for o in invite.occurrences {
                    if let Some(block) = ctx
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
            RuleSpec::OutsideHoursBudget { minutes_per_week } => {
                fair.over_budget(*minutes_per_week)
            }
            RuleSpec::BurdenCap { ratio } => fair.over_cap(*ratio),
            RuleSpec::SeriesRotation { max_share } => fair.needs_rotation(*max_share),
            RuleSpec::Purpose(rule) => {
                check_purpose(invite.title, invite.description, invite.categories, rule)
                    .map(Problem::NoPurpose)
            }
            RuleSpec::DecisionRecord(rule) => check_decision_record(
                invite.title,
                invite.description,
                invite.categories,
                &policy.purposes_for(ctx.member),
                rule,
            )
            .map(Problem::NoDecisionRecord),
        };
        if let Some(problem) = problem {
            findings.push(Finding {
                rule: rule.spec.kind(),
                action: rule.action,
                problem,
            });
        }
    }

    let judged_first_days = invite
        .occurrences
        .iter()
        .any(|o| crate::fairness::curve::is_cut_short(o.start, o.end))
        .then_some(crate::fairness::curve::JUDGED_DAYS);
    let acting = findings.iter().any(|f| f.action != Action::Observe);
    if !acting {
        return Verdict {
            decision: Decision::Allow,
            findings,
            exemption: None,
            uses_urgent: false,
            urgent_exhausted: false,
            suggestions: Vec::new(),
            rotation: None,
            judged_first_days,
        };
    }

    let ex = &policy.exceptions;
    if let Some(org) = invite.organizer
        && ex.organizers.iter().any(|o| o == org)
    {
        return Verdict::exempt(Exemption::OrganizerAllowed, findings);
    }
    if ex.one_to_one == OneToOne::Exempt && people_count(invite) == 2 {
        return Verdict::exempt(Exemption::OneToOne, findings);
    }
    let has_external = people(invite).any(|e| policy.is_external(e));
    if has_external && ex.external_guests == ExternalGuests::Exempt {
        return Verdict::exempt(Exemption::ExternalGuests, findings);
    }
    let mut urgent_exhausted = false;
    if let Some(u) = &ex.urgent
        && contains_word(invite.title, &u.keyword)
    {
        if ctx.urgent_uses_this_month < u.per_organizer_per_month {
            let mut v = Verdict::exempt(
                Exemption::Urgent {
                    use_number: ctx.urgent_uses_this_month + 1,
                    limit: u.per_organizer_per_month,
                },
                findings,
            );
            v.uses_urgent = true;
            return v;
        }
        urgent_exhausted = true;
    }
    if has_external && ex.external_guests == ExternalGuests::NeverDecline {
        for f in &mut findings {
            if f.action == Action::Decline {
                f.action = Action::Annotate;
            }
        }
    }
    let decision = match findings.iter().map(|f| f.action).max() {
        Some(Action::Decline) => Decision::Decline,
        Some(Action::Annotate) => Decision::Annotate,
        _ => Decision::Allow,
    };
    let (mut suggestions, mut rotation) = (Vec::new(), None);
    if policy.fairness.enabled && decision != Decision::Allow {
        let acting = |pred: &dyn Fn(RuleKind) -> bool| {
            findings
                .iter()
                .any(|f| f.action != Action::Observe && pred(f.rule))
        };
        if acting(&|k| k.is_about_time()) {
            suggestions = fair.suggestions(first);
        }
        if acting(&|k| k == RuleKind::SeriesRotation) {
            rotation = fair.rotation(first);
        }
    }
    Verdict {
        decision,
        findings,
        exemption: None,
        uses_urgent: false,
        urgent_exhausted,
        suggestions,
        rotation,
        judged_first_days,
    }
}

/// What the fairness rules and the suggestions share for one invite, worked
/// out on first use: most invites never need it.
struct FairnessInputs<'a> {
    invite: &'a Invite<'a>,
    policy: &'a Policy,
    ctx: &'a Context<'a>,
    scored: Option<Vec<Scored<'a>>>,
}

/// A counted member of the meeting and what each occurrence costs them.
struct Scored<'a> {
    member: &'a Member,
    profile: Profile,
    per_occurrence: Vec<Score>,
}

impl<'a> FairnessInputs<'a> {
    fn new(invite: &'a Invite<'a>, policy: &'a Policy, ctx: &'a Context<'a>) -> Self {
        FairnessInputs {
            invite,
            policy,
            ctx,
            scored: None,
        }
    }

    fn window(&self) -> Span {
        self.ctx.burden.map_or_else(
            || crate::fairness::window(self.ctx.now, self.policy.fairness.window_weeks),
            |b| b.window,
        )
    }

    /// Counted members: required (and optional, if the policy says so)
    /// people who are members and have not declined, without the
    /// organizer. None at all when the policy does not count meetings with
    /// external guests and this is one.
    fn scored(&mut self) -> &[Scored<'a>] {
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
    fn added_in_window(&mut self) -> Vec<(&'a Member, Score)> {
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

    fn over_budget(&mut self, minutes_per_week: u32) -> Option<Problem> {
        let weeks = self.policy.fairness.window_weeks;
        let budget = minutes_per_week.saturating_mul(weeks);
        let burden = self.ctx.burden;
        self.added_in_window().into_iter().find_map(|(m, added)| {
            let so_far = burden.map_or(0, |b| b.of(&m.email).outside_minutes);
            (added.outside_minutes > 0 && so_far.saturating_add(added.outside_minutes) > budget)
                .then(|| Problem::OverBudget {
                    attendee: m.email.clone(),
                    adds: added.outside_minutes,
                    so_far,
                    minutes_per_week,
                    weeks,
                })
        })
    }

    fn over_cap(&mut self, ratio: f64) -> Option<Problem> {
        let snapshot = self.ctx.burden?;
        if snapshot.mean <= 0.0 {
            return None;
        }
        let first = *self.invite.occurrences.first()?;
        let added = self.added_in_window();
        let over: Vec<(&Member, Score)> = added
            .into_iter()
            .filter(|(m, a)| {
                a.inconvenience > 0
                    && f64::from(snapshot.of(&m.email).inconvenience) > ratio * snapshot.mean
            })
            .collect();
        if over.is_empty() {
            return None;
        }
        let attendees = self.search_attendees();
        let grid = Grid::new(self.suggestion_search(&attendees, first));
        // The proposed time as the search sees it: what it costs the
        // over-cap member, and the worst it costs anyone.
        let cost_now = |email: &str| {
            attendees.iter().find(|a| a.email == email).map_or(0, |a| {
                crate::fairness::score(
                    first.start,
                    first.end,
                    a.tz,
                    &a.profile,
                    &self.policy.fairness.curve,
                )
                .inconvenience
            })
        };
        let worst_now = attendees
            .iter()
            .map(|a| cost_now(&a.email))
            .max()
            .unwrap_or(0);
        over.into_iter().find_map(|(m, a)| {
            let i = attendees.iter().position(|x| x.email == m.email)?;
            grid.better_for(i, cost_now(&m.email), worst_now)?;
            Some(Problem::OverBurdenCap {
                attendee: m.email.clone(),
                burden: snapshot.of(&m.email).inconvenience,
                team_mean: snapshot.mean.round() as u32,
                cap_percent: (ratio * 100.0).round() as u32,
                adds: a.inconvenience,
            })
        })
    }

    fn needs_rotation(&mut self, max_share: f64) -> Option<Problem> {
        let occurrences = self.invite.occurrences;
        let of = occurrences.len() as u32;
        if of < 2 {
            return None;
        }
        self.scored().iter().find_map(|s| {
            let misses = occurrences
                .iter()
                .filter(|o| !within_working_hours(o, s.member.tz, &s.member.hours))
                .count() as u32;
            (f64::from(misses) > max_share * f64::from(of)).then(|| Problem::NeedsRotation {
                attendee: s.member.email.clone(),
                occurrences: misses,
                of,
                max_share_percent: (max_share * 100.0).round() as u32,
            })
        })
    }

    /// Everyone the search must seat: the organizer, if a member, and the
    /// counted members, each with the meeting-free days that apply to them.
    fn search_attendees(&mut self) -> Vec<SearchAttendee> {
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
    fn suggest_from(&self, attendees: &[SearchAttendee]) -> DateTime<Utc> {
        let people =
            std::iter::once(self.ctx.member).chain(attendees.iter().map(|a| a.email.as_str()));
        earliest_suggestion(self.policy, people, self.ctx.now)
    }

    fn search<'s>(
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
    fn suggestion_search<'s>(&'s self, attendees: &'s [SearchAttendee], first: Span) -> Search<'s> {
        let until = self.ctx.now + Duration::days(i64::from(self.policy.fairness.suggest_days));
        self.search(attendees, self.suggest_from(attendees), until, first)
    }

    fn suggestions(&mut self, first: &Span) -> Vec<Slot> {
        let attendees = self.search_attendees();
        if attendees.is_empty() {
            return Vec::new();
        }
        Grid::new(self.suggestion_search(&attendees, *first)).suggest(3, Some(first.start))
    }

    /// A rotation over the week of the series' next occurrence.
    fn rotation(&mut self, first: &Span) -> Option<Vec<Slot>> {
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

/// The earliest time gatekeeper suggests for a meeting of `people`: `now`
/// plus the longest `min_notice` any rule asks for any of them, so that a
/// suggested time never fails the notice rule of someone it seats. Shared
/// by the suggestions in comments and `gatekeeper suggest`.
pub fn earliest_suggestion<'p>(
    policy: &Policy,
    people: impl IntoIterator<Item = &'p str>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let people: Vec<&str> = people.into_iter().collect();
    let notice = policy
        .rules
        .iter()
        .filter(|r| people.iter().any(|p| r.applies_to(p)))
        .filter_map(|r| match r.spec {
            RuleSpec::MinNotice { hours } => Some(hours),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    now + Duration::hours(i64::from(notice))
}

/// The organizer and every attendee who is a person, without duplicates
/// (the organizer usually appears among the attendees too).
fn people<'a>(invite: &'a Invite<'a>) -> impl Iterator<Item = &'a str> {
    let organizer = invite
        .organizer
        .filter(|o| !invite.attendees.iter().any(|a| a.email == *o));
    organizer.into_iter().chain(
        invite
            .attendees
            .iter()
            .filter(|a| !a.is_resource)
            .map(|a| a.email.as_str()),
    )
}

fn people_count(invite: &Invite<'_>) -> u32 {
    people(invite).count() as u32
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

/// Whether every minute of the occurrence (of its judged first
/// `JUDGED_DAYS`) lies inside the member's working hours, read minute by
/// minute on their own wall clock: the same reading as the fairness curve,
/// the burden and `suggest` (`fairness::curve::outside_hours`). Back-to-back
/// windows (`00:00-24:00` on consecutive working days) join at midnight; a
/// minute that a DST change skips is never read, and a repeated hour is
/// read twice.
pub fn within_working_hours(o: &Span, tz: Tz, hours: &WorkingHours) -> bool {
    !crate::fairness::curve::outside_hours(o.start, o.end, tz, hours)
}

/// The first local date the occurrence touches for which `pred` holds.
fn touched_day(o: &Span, tz: Tz, pred: impl Fn(Weekday) -> bool) -> Option<Weekday> {
    let start = o.start.with_timezone(&tz).naive_local();
    // The end instant itself is exclusive: a meeting ending at midnight does
    // not touch the next day.
    let last = (o.end - Duration::seconds(1))
        .max(o.start)
        .with_timezone(&tz)
        .naive_local();
    // Seven consecutive dates hold every weekday: a meeting that runs for
    // months is looked at for a week, not day by day to its end.
    let mut d = start.date();
    for _ in 0..7 {
        if d > last.date() {
            break;
        }
        if pred(d.weekday()) {
            return Some(d.weekday());
        }
        d = d.succ_opt()?;
    }
    None
}

/// Case-insensitive whole-word match: `urgent` matches "URGENT: db down" and
/// "[urgent] fix", not "urgently".
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    let w = word.as_bytes();
    if bytes.len() < w.len() {
        return false;
    }
    (0..=bytes.len() - w.len()).any(|i| {
        bytes[i..i + w.len()].eq_ignore_ascii_case(w)
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes
                .get(i + w.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}
