//! The weekly meeting-load report's statistics: events, a policy, decision
//! log rows and burden totals go in, a `WeeklyReport` comes out.
//!
//! Pure: no I/O and no clock. The week is handed in; `collect` reads the
//! calendars and the store, and the formatters only render the struct this
//! module builds. Titles of private events never enter the struct.
//!
//! Definitions (the report states them too):
//! - The **week** is ISO Monday 00:00 to the next Monday 00:00 in the
//!   team's main time zone: the zone most members share, ties going to the
//!   zone of the first member (in policy order) among the tied ones; the
//!   config's `[report] time_zone` overrides it.
//! - A **meeting** is an occurrence in a member's own calendar with at
//!   least two people (the organizer and attendees, rooms not counted, each
//!   address once) that the member organizes or attends without having
//!   declined it, that is not all-day, not cancelled, and not a focus-time,
//!   out-of-office or working-location block. Occurrences are clipped to
//!   the week; overlapping meetings count once toward a person's hours (a
//!   person is in one meeting at a time) but each toward the count.
//! - **Focus time** is the sum of free stretches inside working hours of at
//!   least `focus_block_minutes` (a stretch ends at the end of the working
//!   window or at a meeting).
//! - **Given back**: occurrences in the week of meetings that the member's
//!   calendar shows as declined *by gatekeeper* (its `X-GATEKEEPER-PARTSTAT`
//!   marker equals the member's `DECLINED`), i.e. declines that still stand.
//!   A decline in the log whose event is gone from the calendar has no
//!   known length; it is counted in `declines_unknown_length`.

mod decisions;
mod fairness;
mod load;
mod meetings;
mod purposes;
mod team_time;
mod totals;
mod trend;
mod week;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use rayon::prelude::*;

use self::meetings::{MemberOccurrences, member_occurrences};
pub use self::purposes::{
    DecisionMeeting, MemberPurposes, NONE_STATED, PurposeSection, PurposeTime,
};
use self::trend::trend_point;
use self::week::week_report;
use crate::calendar::{Event, local_to_utc};
use crate::fairness::{Burden, Figures};
use crate::policy::model::Policy;
use crate::store::DecisionRecord;

/// At most this many occurrences of one series are expanded over the five
/// weeks the report looks at; more than this is a runaway rule.
const MAX_OCCURRENCES_PER_SERIES: usize = 10_000;
/// How many meetings outside hours or on meeting-free days are listed per
/// person (all of them are counted).
const NOTABLE_PER_MEMBER: usize = 5;
/// How many organizers are listed.
const TOP_ORGANIZERS: usize = 10;
/// How many previous weeks the trend covers.
pub const TREND_WEEKS: u32 = 4;

/// An ISO week, e.g. `2026-W49`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    /// Parse `YYYY-Www`.
    pub fn parse(s: &str) -> Option<IsoWeek> {
        let (y, w) = s.split_once("-W").or_else(|| s.split_once("-w"))?;
        let year: i32 = y.parse().ok()?;
        let week: u32 = w.parse().ok()?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        Some(IsoWeek { year, week })
    }

    pub fn of(date: NaiveDate) -> IsoWeek {
        let w = date.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    pub fn monday(self) -> NaiveDate {
        // Only built through `parse` or `of`, both of which produce weeks
        // that exist; the fallback is never taken.
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default()
    }

    pub fn previous(self) -> IsoWeek {
        IsoWeek::of(self.monday() - Duration::days(7))
    }

    /// The week's instants: Monday 00:00 to the next Monday 00:00 in `tz`.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let mon = self.monday();
        let start = local_to_utc(tz, mon.and_time(chrono::NaiveTime::MIN));
        let end = local_to_utc(
            tz,
            (mon + Duration::days(7)).and_time(chrono::NaiveTime::MIN),
        );
        (start, end)
    }

    /// The last week that is over at `now` in `tz`.
    pub fn last_complete(now: DateTime<Utc>, tz: Tz) -> IsoWeek {
        IsoWeek::of(now.with_timezone(&tz).date_naive()).previous()
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// The team's main zone: the one most members share; on a tie, the zone of
/// the first member (in policy order) among the tied zones. UTC for a team
/// without members.
pub fn main_zone(policy: &Policy) -> Tz {
    let mut counts: Vec<(Tz, usize)> = Vec::new();
    for m in &policy.members {
        match counts.iter_mut().find(|(tz, _)| *tz == m.tz) {
            Some((_, n)) => *n += 1,
            None => counts.push((m.tz, 1)),
        }
    }
    // `counts` is in order of first appearance, so the first maximum is the
    // tie-break the docs promise.
    let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map_or(Tz::UTC, |(tz, _)| tz)
}

/// One member's calendars as read from their sources: each inner list is
/// the VEVENTs of one series (sharing a UID within one file).
#[derive(Debug, Clone, Default)]
pub struct MemberCalendar {
    pub email: String,
    pub series: Vec<Vec<Event>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The report's zone; `None` means the team's main zone.
    pub time_zone: Option<Tz>,
    pub focus_block_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            time_zone: None,
            focus_block_minutes: 120,
        }
    }
}

/// Everything a report is computed from.
pub struct Input<'a> {
    pub policy: &'a Policy,
    /// Members without an entry have no local calendar the report can read.
    pub calendars: &'a [MemberCalendar],
    /// The decision log (any span; rows are filtered by week here).
    pub decisions: &'a [DecisionRecord],
    /// The burden ledger's totals per member for each week, keyed by the
    /// week; a week that is missing or empty falls back to scoring the
    /// calendars.
    pub ledger: &'a HashMap<IsoWeek, HashMap<String, Burden>>,
    pub settings: Settings,
}

/// What the report says counts as a meeting, word for word.
pub const DEFINITION: &str = "A meeting is an occurrence in a member's own calendar with at least two people (organizer and attendees, rooms not counted) that the member organizes or attends and has not declined, that is not all-day, not cancelled, and not focus time, out of office or a working-location block. Private events count toward their owner's hours; their titles never appear. Overlapping meetings count once toward a person's hours. The in-hours share counts only meeting minutes inside a member's working hours, divided by their working minutes; meetings outside hours are counted apart. Given back is the time this week of meetings gatekeeper declined and that stay declined, whenever it declined them. Burden is in weighted minutes: a minute outside working hours counts more the further it is from them.";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeeklyReport {
    pub team: String,
    /// `YYYY-Www`.
    pub week: String,
    pub time_zone: String,
    /// RFC 3339 in the report's zone.
    pub from: String,
    pub to: String,
    /// The week for people: "Mon 30 Nov – Sun 6 Dec 2026".
    pub dates: String,
    pub definition: &'static str,
    pub focus_block_minutes: u32,
    pub members: Vec<MemberStats>,
    pub totals: Totals,
    pub fairness: FairnessSection,
    /// Whose working hours the team's meetings fall in, most first.
    pub hours_of: Vec<HoursOf>,
    /// Organizers whose invites gatekeeper annotated or declined this week,
    /// most first.
    pub organizers: Vec<OrganizerStats>,
    /// Person-minutes of meetings per weekday (Monday first) and hour of
    /// the day, in the report's zone.
    pub heatmap: Vec<[u32; 24]>,
    /// The previous four weeks, oldest first, then this week.
    pub trend: Vec<TrendPoint>,
    /// What the report could not know.
    pub notes: Vec<String>,
    /// Which purposes the week's meetings served, when the policy has a
    /// `purpose` or `decision_record` rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purposes: Option<PurposeSection>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberStats {
    pub email: String,
    pub time_zone: String,
    /// False when no local calendar of this member was configured: their
    /// figures are then unknown, not zero.
    pub has_calendar: bool,
    pub meetings: u32,
    pub meeting_minutes: u32,
    /// Meeting minutes inside working hours, on days that are not
    /// meeting-free. `meeting_minutes` is this, plus `outside_hours`
    /// minutes, plus the working-hour minutes on meeting-free days.
    pub in_hours_minutes: u32,
    pub working_minutes: u32,
    /// Meeting minutes inside working hours (meeting-free days included)
    /// divided by working minutes.
    pub share_of_working_hours: f64,
    pub focus_minutes: u32,
    pub focus_blocks: u32,
    pub outside_hours: Tally,
    pub meeting_free_days: Tally,
    pub screened: u32,
    pub annotated: u32,
    pub declined: u32,
    /// Decisions only logged (observe mode).
    pub observed: u32,
    pub given_back: Tally,
    pub declines_unknown_length: u32,
    /// Weighted inconvenience minutes (see `fairness::curve`).
    pub burden: u32,
    /// Meetings outside hours or on meeting-free days, earliest first, at
    /// most five.
    pub notable: Vec<Notable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    pub count: u32,
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notable {
    /// "(private event)" for private events.
    pub title: String,
    /// Local start in the member's zone, `Tue 22:00`.
    pub local_start: String,
    pub minutes: u32,
    /// `outside_hours`, `meeting_free_day` or both, comma-separated.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Totals {
    pub members: u32,
    pub members_with_calendar: u32,
    pub meetings: u32,
    /// Distinct meetings (the same occurrence in several calendars once).
    pub distinct_meetings: u32,
    pub meeting_minutes: u64,
    pub working_minutes: u64,
    pub mean_share_of_working_hours: f64,
    pub focus_minutes: u64,
    pub outside_hours: Tally,
    pub meeting_free_days: Tally,
    pub screened: u32,
    pub annotated: u32,
    pub declined: u32,
    pub observed: u32,
    pub given_back: Tally,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairnessSection {
    /// `ledger` when the store's burden ledger has rows for the week,
    /// otherwise `calendars` (scored from the meetings above).
    pub source: &'static str,
    pub figures: Figures,
    /// 1 − Gini, in 0–1: 1 when everyone carries the same burden, near 0
    /// when one person carries it all. The figure people read; the
    /// unbounded `figures.index` (1 − σ/μ) stays for tools.
    pub evenness: f64,
    pub by_zone: Vec<ZoneBurden>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneBurden {
    pub time_zone: String,
    pub members: u32,
    pub burden: u64,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoursOf {
    pub member: String,
    pub time_zone: String,
    /// Share of the team's distinct meeting minutes inside this member's
    /// working hours, 0–1.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganizerStats {
    pub organizer: String,
    /// Acted on: the same decisions the headline counts.
    pub annotated: u32,
    pub declined: u32,
    /// Annotations and declines only logged (observe mode): counted apart,
    /// so this table and the headline agree.
    pub observed: u32,
    /// Rules that fired with an acting (not observe) action, most first.
    pub rules: Vec<RuleCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub week: String,
    pub meetings: u32,
    pub meeting_minutes: u64,
    pub mean_share_of_working_hours: f64,
    pub focus_minutes: u64,
    pub declined: u32,
    pub given_back_minutes: u32,
    pub fairness_index: f64,
    /// See `FairnessSection::evenness`.
    pub evenness: f64,
}

/// Build the report for `week`, with the trend over the previous four
/// weeks computed the same way from the same calendars and log. Every
/// series is expanded once over the five weeks.
pub fn weekly_report(input: &Input<'_>, week: IsoWeek) -> WeeklyReport {
    let tz = input
        .settings
        .time_zone
        .unwrap_or_else(|| main_zone(input.policy));
    let mut weeks = vec![week];
    for _ in 0..TREND_WEEKS {
        let prev = weeks[weeks.len() - 1].previous();
        weeks.push(prev);
    }
    let span = (weeks[weeks.len() - 1].bounds(tz).0, week.bounds(tz).1);
    let by_email: HashMap<&str, &MemberCalendar> = input
        .calendars
        .iter()
        .map(|c| (c.email.as_str(), c))
        .collect();
    let occurrences: Vec<Option<MemberOccurrences<'_>>> = input
        .policy
        .members
        .par_iter()
        .map(|m| {
            by_email
                .get(m.email.as_str())
                .map(|c| member_occurrences(c, &m.email, m.tz, span))
        })
        .collect();
    // The five weeks are independent: compute them side by side.
    let mut reports: Vec<WeeklyReport> = weeks
        .par_iter()
        .map(|w| week_report(input, *w, tz, &occurrences))
        .collect();
    let trend: Vec<TrendPoint> = reports.iter().rev().map(trend_point).collect();
    let mut report = reports.swap_remove(0);
    report.trend = trend;
    report
}
