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
use crate::calendar::{Attendee, PartStat};

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
}

#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: DateTime<Utc>,
    /// The member whose calendar holds the invite (lowercase).
    pub member: &'a str,
    /// Urgent exceptions this invite's organizer has used this month.
    pub urgent_uses_this_month: u32,
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

    /// How to fix it.
    pub fn fix(&self) -> &'static str {
        match self {
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
}

impl Verdict {
    fn exempt(exemption: Exemption, findings: Vec<Finding>) -> Verdict {
        Verdict {
            decision: Decision::Allow,
            findings,
            exemption: Some(exemption),
            uses_urgent: false,
            urgent_exhausted: false,
        }
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
        if self.urgent_exhausted
            && let Some(u) = &policy.exceptions.urgent
        {
            reasons.push_str(&format!(
                "\n- the organizer has used this month's {} `{}` exceptions",
                u.per_organizer_per_month, u.keyword
            ));
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
        };
        if let Some(problem) = problem {
            findings.push(Finding {
                rule: rule.spec.kind(),
                action: rule.action,
                problem,
            });
        }
    }

    let acting = findings.iter().any(|f| f.action != Action::Observe);
    if !acting {
        return Verdict {
            decision: Decision::Allow,
            findings,
            exemption: None,
            uses_urgent: false,
            urgent_exhausted: false,
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
    Verdict {
        decision,
        findings,
        exemption: None,
        uses_urgent: false,
        urgent_exhausted,
    }
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

/// Whether the occurrence lies inside one working window of the member, in
/// their wall-clock time. A window that crosses midnight belongs to the day
/// it starts on.
pub fn within_working_hours(o: &Span, tz: Tz, hours: &WorkingHours) -> bool {
    let start = o.start.with_timezone(&tz).naive_local();
    let end = o.end.with_timezone(&tz).naive_local();
    let day = start.date();
    let candidates = [day.pred_opt(), Some(day)];
    candidates.into_iter().flatten().any(|d| {
        if !hours.days.contains(d.weekday()) {
            return false;
        }
        let window_start = d.and_time(hours.start);
        let window_end = if hours.crosses_midnight() {
            match d.succ_opt() {
                Some(next) => next.and_time(hours.end),
                None => return false,
            }
        } else {
            d.and_time(hours.end)
        };
        start >= window_start && end <= window_end
    })
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
    let mut d = start.date();
    while d <= last.date() {
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
