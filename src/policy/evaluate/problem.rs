//! What a rule found wrong with an invite, in words the organizer can act
//! on: the message and the fix for every kind of problem.

use chrono::{NaiveDateTime, Weekday};
use chrono_tz::Tz;

use super::ProtectedKind;
use crate::policy::model::long_day;
use crate::policy::purpose::{NoDecisionRecord, NoPurpose};

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
