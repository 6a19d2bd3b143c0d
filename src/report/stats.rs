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

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::recurrence::expand;
use rayon::prelude::*;

use crate::calendar::{Event, EventType, PartStat, Status, local_to_utc};
use crate::fairness::curve::{Category, Profile, for_each_local_minute, score};
use crate::fairness::{Burden, Figures, figures};
use crate::policy::model::{Policy, RuleSpec, WeekdaySet};
use crate::store::{DecisionRecord, Outcome};

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

/// A member's meeting occurrences (and gatekeeper's standing declines) over
/// the whole span the report looks at, sorted by start.
struct MemberOccurrences<'e> {
    occurrences: Vec<Occ<'e>>,
    /// UIDs in the member's calendar, to tell a decline whose event is gone.
    uids: HashSet<&'e str>,
}

struct Occ<'e> {
    event: &'e Event,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// False: declined by gatekeeper (the time it gave back).
    counts: bool,
}

fn member_occurrences<'e>(
    cal: &'e MemberCalendar,
    member: &str,
    tz: Tz,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> MemberOccurrences<'e> {
    let mut out = MemberOccurrences {
        occurrences: Vec::new(),
        uids: HashSet::new(),
    };
    for group in &cal.series {
        if let Some(e) = group.first() {
            out.uids.insert(e.uid.as_str());
        }
        if !group.iter().any(is_meeting_kind) {
            continue;
        }
        let exp = expand(group, tz, from, to, MAX_OCCURRENCES_PER_SERIES);
        for o in &exp.occurrences {
            let event = &group[o.event_index];
            if !is_meeting_kind(event) {
                continue;
            }
            let counts = match standing(event, member) {
                Stand::Counts => true,
                Stand::DeclinedByGatekeeper => false,
                Stand::No => continue,
            };
            let (start, end) = (o.start.to_utc(tz), o.end.to_utc(tz));
            if end > start {
                out.occurrences.push(Occ {
                    event,
                    start,
                    end,
                    counts,
                });
            }
        }
    }
    out.occurrences.sort_by_key(|o| (o.start, o.end));
    out
}

fn trend_point(r: &WeeklyReport) -> TrendPoint {
    TrendPoint {
        week: r.week.clone(),
        meetings: r.totals.meetings,
        meeting_minutes: r.totals.meeting_minutes,
        mean_share_of_working_hours: r.totals.mean_share_of_working_hours,
        focus_minutes: r.totals.focus_minutes,
        declined: r.totals.declined,
        given_back_minutes: r.totals.given_back.minutes,
        fairness_index: r.fairness.figures.index,
        evenness: r.fairness.evenness,
    }
}

/// A meeting occurrence in a member's week, as indices of minutes from the
/// week's start.
struct Counted<'e> {
    event: &'e Event,
    uid: &'e str,
    start: DateTime<Utc>,
    from_min: usize,
    to_min: usize,
}

/// One member's minutes in the week: the local minute of the week
/// (0 = Monday 00:00 in their zone) of every real minute.
fn local_minutes(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> Vec<u16> {
    let mut v = Vec::with_capacity((end - start).num_minutes().max(0) as usize);
    for_each_local_minute(start, end, tz, |mow| v.push(mow as u16));
    v
}

fn minute_index(t: DateTime<Utc>, start: DateTime<Utc>, n: usize, round_up: bool) -> usize {
    let secs = (t - start).num_seconds();
    let m = if round_up {
        (secs + 59).div_euclid(60)
    } else {
        secs.div_euclid(60)
    };
    m.clamp(0, n as i64) as usize
}

fn people(event: &Event) -> usize {
    let mut seen: HashSet<&str> = HashSet::new();
    if let Some(o) = &event.organizer {
        seen.insert(o.as_str());
    }
    for a in event.attendees.iter().filter(|a| !a.is_resource) {
        seen.insert(a.email.as_str());
    }
    seen.len()
}

/// Whether an event is a meeting at all, whoever looks at it.
fn is_meeting_kind(event: &Event) -> bool {
    !event.is_all_day()
        && event.status != Status::Cancelled
        && matches!(event.event_type, EventType::Default | EventType::Other)
        && people(event) >= 2
}

#[derive(PartialEq, Eq)]
enum Stand {
    Counts,
    DeclinedByGatekeeper,
    No,
}

fn standing(event: &Event, member: &str) -> Stand {
    let attendee = event.attendee(member);
    if let Some(a) = attendee
        && a.partstat == PartStat::Declined
    {
        return if event.gatekeeper_partstat == Some(PartStat::Declined) {
            Stand::DeclinedByGatekeeper
        } else {
            Stand::No
        };
    }
    if event.organizer.as_deref() == Some(member) {
        return Stand::Counts;
    }
    match attendee {
        Some(a) if a.partstat != PartStat::Delegated => Stand::Counts,
        _ => Stand::No,
    }
}

fn title_of(event: &Event) -> String {
    if event.private {
        "(private event)".to_string()
    } else if event.summary.trim().is_empty() {
        "(no title)".to_string()
    } else {
        event.summary.clone()
    }
}

fn meeting_free_days(policy: &Policy, member: &str) -> WeekdaySet {
    let mut days = WeekdaySet::default();
    for r in &policy.rules {
        if let RuleSpec::MeetingFreeDays { days: d } = &r.spec
            && r.applies_to(member)
        {
            for day in d.iter() {
                days.insert(day);
            }
        }
    }
    days
}

fn weekday_of(mow: u16) -> Weekday {
    Weekday::try_from((mow / 1440) as u8).unwrap_or(Weekday::Mon)
}

/// The report for one week, without the trend.
fn week_report(
    input: &Input<'_>,
    week: IsoWeek,
    tz: Tz,
    occurrences: &[Option<MemberOccurrences<'_>>],
) -> WeeklyReport {
    let policy = input.policy;
    let (ws, we) = week.bounds(tz);
    let n = (we - ws).num_minutes().max(0) as usize;
    let team_minutes = local_minutes(ws, we, tz);
    let week_decisions: Vec<&DecisionRecord> = input
        .decisions
        .iter()
        .filter(|d| d.decided_at >= ws && d.decided_at < we)
        .collect();
    let curve = policy.fairness.curve;

    // Distinct meetings over the team: (uid, start) -> minute span.
    let mut distinct: HashMap<(&str, DateTime<Utc>), (usize, usize)> = HashMap::new();
    // Person-minutes in meetings per minute of the week (a difference
    // array: +1 at the start, −1 at the end of each person's busy run).
    let mut person_diff = vec![0i32; n + 1];
    let mut members = Vec::with_capacity(policy.members.len());
    let mut calendar_burden: Vec<(String, u32)> = Vec::new();
    let mut working_masks: Vec<Vec<bool>> = Vec::with_capacity(policy.members.len());

    for (idx, m) in policy.members.iter().enumerate() {
        let profile = Profile::new(&m.hours, curve.shoulder_minutes);
        let local = local_minutes(ws, we, m.tz);
        let working: Vec<bool> = local
            .iter()
            .map(|&mow| profile.at(mow as usize) == Category::Working)
            .collect();
        let free_days = meeting_free_days(policy, &m.email);
        let on_free_day: Vec<bool> = local
            .iter()
            .map(|&mow| free_days.contains(weekday_of(mow)))
            .collect();
        let working_minutes = working.iter().filter(|w| **w).count() as u32;
        let mut stats = MemberStats {
            email: m.email.clone(),
            time_zone: m.tz.name().to_string(),
            has_calendar: false,
            meetings: 0,
            meeting_minutes: 0,
            in_hours_minutes: 0,
            working_minutes,
            share_of_working_hours: 0.0,
            focus_minutes: 0,
            focus_blocks: 0,
            outside_hours: Tally::default(),
            meeting_free_days: Tally::default(),
            screened: 0,
            annotated: 0,
            declined: 0,
            observed: 0,
            given_back: Tally::default(),
            declines_unknown_length: 0,
            burden: 0,
            notable: Vec::new(),
        };
        let mut busy = vec![false; n];
        let mut burden = 0u32;
        let occ = occurrences.get(idx).and_then(Option::as_ref);
        if let Some(occ) = occ {
            stats.has_calendar = true;
            let mut counted: Vec<Counted<'_>> = Vec::new();
            for o in occ
                .occurrences
                .iter()
                .take_while(|o| o.start < we)
                .filter(|o| o.end > ws)
            {
                let (s, e) = (o.start.max(ws), o.end.min(we));
                let (fm, tm) = (minute_index(s, ws, n, false), minute_index(e, ws, n, true));
                if tm <= fm {
                    continue;
                }
                if o.counts {
                    counted.push(Counted {
                        event: o.event,
                        uid: &o.event.uid,
                        start: o.start,
                        from_min: fm,
                        to_min: tm,
                    });
                } else {
                    stats.given_back.count += 1;
                    stats.given_back.minutes += (tm - fm) as u32;
                }
            }
            counted.sort_by_key(|c| (c.from_min, c.to_min));
            for c in &counted {
                stats.meetings += 1;
                let mut outside = false;
                let mut free = false;
                for i in c.from_min..c.to_min {
                    busy[i] = true;
                    outside |= !working[i];
                    free |= on_free_day[i];
                }
                if outside {
                    stats.outside_hours.count += 1;
                }
                if free {
                    stats.meeting_free_days.count += 1;
                }
                if (outside || free) && stats.notable.len() < NOTABLE_PER_MEMBER {
                    let why = match (outside, free) {
                        (true, true) => "outside_hours,meeting_free_day",
                        (true, false) => "outside_hours",
                        _ => "meeting_free_day",
                    };
                    stats.notable.push(Notable {
                        title: title_of(c.event),
                        local_start: c.start.with_timezone(&m.tz).format("%a %H:%M").to_string(),
                        minutes: (c.to_min - c.from_min) as u32,
                        why: why.to_string(),
                    });
                }
                distinct
                    .entry((c.uid, c.start))
                    .or_insert((c.from_min, c.to_min));
                let (s, e) = (
                    ws + Duration::minutes(c.from_min as i64),
                    ws + Duration::minutes(c.to_min as i64),
                );
                burden = burden.saturating_add(score(s, e, m.tz, &profile, &curve).inconvenience);
            }
        }
        // Walk the week once: hours by kind, focus stretches, busy runs.
        let focus_block = input.settings.focus_block_minutes.max(1) as usize;
        let mut free_run = 0usize;
        let mut prev_busy = false;
        for i in 0..n {
            if busy[i] {
                stats.meeting_minutes += 1;
                if !working[i] {
                    stats.outside_hours.minutes += 1;
                } else if !on_free_day[i] {
                    stats.in_hours_minutes += 1;
                }
                if on_free_day[i] {
                    stats.meeting_free_days.minutes += 1;
                }
            }
            if busy[i] != prev_busy {
                person_diff[i] += if busy[i] { 1 } else { -1 };
                prev_busy = busy[i];
            }
            if working[i] && !busy[i] {
                free_run += 1;
            } else {
                if free_run >= focus_block {
                    stats.focus_minutes += free_run as u32;
                    stats.focus_blocks += 1;
                }
                free_run = 0;
            }
        }
        if prev_busy {
            person_diff[n] -= 1;
        }
        if free_run >= focus_block {
            stats.focus_minutes += free_run as u32;
            stats.focus_blocks += 1;
        }
        if !stats.has_calendar {
            // Unknown, not free: a member without a calendar has no focus
            // time the report can vouch for.
            stats.focus_minutes = 0;
            stats.focus_blocks = 0;
        }
        stats.share_of_working_hours = if working_minutes == 0 {
            0.0
        } else {
            f64::from(stats.meeting_minutes - stats.outside_hours.minutes)
                / f64::from(working_minutes)
        };
        for d in week_decisions.iter().filter(|d| d.member == m.email) {
            if d.outcome == Outcome::Failed || d.outcome == Outcome::Pending {
                continue;
            }
            stats.screened += 1;
            if d.outcome == Outcome::Observed {
                stats.observed += 1;
                continue;
            }
            match d.action.as_str() {
                "annotate" => stats.annotated += 1,
                "decline" => {
                    stats.declined += 1;
                    if occ.is_some_and(|o| !o.uids.contains(d.uid.as_str())) {
                        stats.declines_unknown_length += 1;
                    }
                }
                _ => {}
            }
        }
        if stats.has_calendar {
            calendar_burden.push((m.email.clone(), burden));
        }
        working_masks.push(working);
        members.push(stats);
    }

    // Fairness: the ledger when it has the week, else the calendars.
    let ledger = input.ledger.get(&week).filter(|t| !t.is_empty());
    let (source, burdens): (&'static str, Vec<(String, u32)>) = match ledger {
        Some(totals) => (
            "ledger",
            policy
                .members
                .iter()
                .map(|m| {
                    (
                        m.email.clone(),
                        totals.get(&m.email).map_or(0, |b| b.inconvenience),
                    )
                })
                .collect(),
        ),
        None => ("calendars", calendar_burden),
    };
    for s in &mut members {
        if let Some((_, b)) = burdens.iter().find(|(e, _)| *e == s.email) {
            s.burden = *b;
        }
    }
    let fig = figures(burdens.iter().map(|(e, b)| (e.as_str(), *b)));
    let mut zones: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for (email, b) in &burdens {
        if let Some(m) = policy.member(email) {
            let z = zones.entry(m.tz.name().to_string()).or_default();
            z.0 += 1;
            z.1 += u64::from(*b);
        }
    }
    let mut by_zone: Vec<ZoneBurden> = zones
        .into_iter()
        .map(|(time_zone, (members, burden))| ZoneBurden {
            time_zone,
            members,
            burden,
            mean: burden as f64 / f64::from(members.max(1)),
        })
        .collect();
    by_zone.sort_by(|a, b| {
        b.burden
            .cmp(&a.burden)
            .then_with(|| a.time_zone.cmp(&b.time_zone))
    });

    // Whose hours: distinct meeting minutes inside each member's hours.
    let mut meeting_diff = vec![0i32; n + 1];
    for (fm, tm) in distinct.values() {
        meeting_diff[*fm] += 1;
        meeting_diff[*tm] -= 1;
    }
    let mut per_minute = vec![0u32; n];
    let mut run = 0i32;
    for i in 0..n {
        run += meeting_diff[i];
        per_minute[i] = run.max(0) as u32;
    }
    let distinct_minutes: u64 = per_minute.iter().map(|x| u64::from(*x)).sum();
    let mut hours_of: Vec<HoursOf> = policy
        .members
        .iter()
        .zip(&working_masks)
        .map(|(m, mask)| {
            let inside: u64 = per_minute
                .iter()
                .zip(mask)
                .filter(|(_, w)| **w)
                .map(|(x, _)| u64::from(*x))
                .sum();
            HoursOf {
                member: m.email.clone(),
                time_zone: m.tz.name().to_string(),
                share: if distinct_minutes == 0 {
                    0.0
                } else {
                    inside as f64 / distinct_minutes as f64
                },
            }
        })
        .collect();
    hours_of.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then_with(|| a.member.cmp(&b.member))
    });

    // Heat map in the report's zone.
    let mut heatmap = vec![[0u32; 24]; 7];
    let mut people_now = 0i32;
    for (i, d) in person_diff.iter().take(n).enumerate() {
        people_now += d;
        if people_now > 0 {
            let mow = team_minutes.get(i).copied().unwrap_or(0) as usize;
            heatmap[(mow / 1440) % 7][(mow % 1440) / 60] += people_now as u32;
        }
    }

    let organizers = organizer_stats(&week_decisions);

    let mut totals = Totals {
        members: members.len() as u32,
        distinct_meetings: distinct.len() as u32,
        ..Totals::default()
    };
    let mut share_sum = 0.0;
    for s in members.iter().filter(|s| s.has_calendar) {
        totals.members_with_calendar += 1;
        totals.meetings += s.meetings;
        totals.meeting_minutes += u64::from(s.meeting_minutes);
        totals.working_minutes += u64::from(s.working_minutes);
        totals.focus_minutes += u64::from(s.focus_minutes);
        share_sum += s.share_of_working_hours;
        for (t, x) in [
            (&mut totals.outside_hours, s.outside_hours),
            (&mut totals.meeting_free_days, s.meeting_free_days),
            (&mut totals.given_back, s.given_back),
        ] {
            t.count += x.count;
            t.minutes += x.minutes;
        }
    }
    for s in &members {
        totals.screened += s.screened;
        totals.annotated += s.annotated;
        totals.declined += s.declined;
        totals.observed += s.observed;
    }
    if totals.members_with_calendar > 0 {
        totals.mean_share_of_working_hours = share_sum / f64::from(totals.members_with_calendar);
    }

    let mut notes = Vec::new();
    let without: Vec<&str> = members
        .iter()
        .filter(|s| !s.has_calendar)
        .map(|s| s.email.as_str())
        .collect();
    if !without.is_empty() {
        notes.push(format!(
            "no local calendar for {} member(s) ({}): their hours are unknown and left out of the totals",
            without.len(),
            abbreviate(&without, 5)
        ));
    }
    let unknown: u32 = members.iter().map(|s| s.declines_unknown_length).sum();
    if unknown > 0 {
        notes.push(format!(
            "{unknown} decline(s) in the log are for events no longer in the calendar: their length is unknown and not in the hours given back"
        ));
    }
    if source == "calendars" {
        notes.push(
            "the burden ledger has no rows for this week: burden is scored from the calendars above"
                .to_string(),
        );
    }

    let fmt = |t: DateTime<Utc>| {
        tz.from_utc_datetime(&t.naive_utc())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    WeeklyReport {
        team: policy.team.clone(),
        week: week.to_string(),
        time_zone: tz.name().to_string(),
        from: fmt(ws),
        to: fmt(we),
        dates: format!(
            "{} – {}",
            week.monday().format("%a %-d %b"),
            (week.monday() + chrono::Duration::days(6)).format("%a %-d %b %Y")
        ),
        definition: DEFINITION,
        focus_block_minutes: input.settings.focus_block_minutes,
        members,
        totals,
        fairness: FairnessSection {
            source,
            evenness: (1.0 - fig.gini).clamp(0.0, 1.0),
            figures: fig,
            by_zone,
        },
        hours_of,
        organizers,
        heatmap,
        trend: Vec::new(),
        notes,
    }
}

fn abbreviate(items: &[&str], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!(
            "{}, and {} more",
            items[..max].join(", "),
            items.len() - max
        )
    }
}

fn organizer_stats(decisions: &[&DecisionRecord]) -> Vec<OrganizerStats> {
    /// annotated, declined, only logged, and the rules that fired.
    type Counts = (u32, u32, u32, HashMap<String, u32>);
    let mut by: HashMap<&str, Counts> = HashMap::new();
    for d in decisions {
        if d.outcome == Outcome::Failed || d.outcome == Outcome::Pending {
            continue;
        }
        if !matches!(d.action.as_str(), "annotate" | "decline") {
            continue;
        }
        let organizer = if d.organizer.is_empty() {
            "(no organizer)"
        } else {
            d.organizer.as_str()
        };
        let e = by.entry(organizer).or_default();
        match (d.outcome == Outcome::Observed, d.action.as_str()) {
            (true, _) => e.2 += 1,
            (false, "annotate") => e.0 += 1,
            (false, _) => e.1 += 1,
        }
        for f in d.findings.iter().filter(|f| f.acts()) {
            *e.3.entry(f.rule.as_str().to_string()).or_default() += 1;
        }
    }
    let mut out: Vec<OrganizerStats> = by
        .into_iter()
        .map(|(organizer, (annotated, declined, observed, rules))| {
            let mut rules: Vec<RuleCount> = rules
                .into_iter()
                .map(|(rule, count)| RuleCount { rule, count })
                .collect();
            rules.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.rule.cmp(&b.rule)));
            OrganizerStats {
                organizer: organizer.to_string(),
                annotated,
                declined,
                observed,
                rules,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.annotated + b.declined + b.observed)
            .cmp(&(a.annotated + a.declined + a.observed))
            .then_with(|| a.organizer.cmp(&b.organizer))
    });
    out.truncate(TOP_ORGANIZERS);
    out
}
