//! One member's meeting load in the week: meetings and their minutes, in
//! and outside working hours and on meeting-free days, focus time, the
//! meetings worth naming, and the burden scored from the calendar.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc, Weekday};
use chrono_tz::Tz;

use super::meetings::MemberOccurrences;
use super::{Input, MemberStats, NOTABLE_PER_MEMBER, Notable, Tally};
use crate::calendar::Event;
use crate::fairness::curve::{Category, Profile, for_each_local_minute, score};
use crate::policy::model::{Member, Policy, RuleSpec, WeekdaySet};

/// What the team's week gathers from every member's.
pub(super) struct TeamMinutes<'e> {
    /// Distinct meetings over the team: (uid, start) -> minute span.
    pub(super) distinct: HashMap<(&'e str, DateTime<Utc>), (usize, usize)>,
    /// Person-minutes in meetings per minute of the week (a difference
    /// array: +1 at the start, −1 at the end of each person's busy run).
    pub(super) person_diff: Vec<i32>,
}

impl TeamMinutes<'_> {
    pub(super) fn new(n: usize) -> Self {
        TeamMinutes {
            distinct: HashMap::new(),
            person_diff: vec![0i32; n + 1],
        }
    }
}

/// One member's week.
pub(super) struct MemberWeek {
    pub(super) stats: MemberStats,
    /// Burden scored from the calendar (weighted minutes).
    pub(super) burden: u32,
    /// Which minutes of the week are inside their working hours.
    pub(super) working: Vec<bool>,
}

/// The week `[ws, we)` (`n` minutes) of member `m`, whose meeting
/// occurrences are `occ` (`None`: no calendar).
pub(super) fn member_week<'e>(
    input: &Input<'_>,
    m: &Member,
    occ: Option<&'e MemberOccurrences<'e>>,
    (ws, we): (DateTime<Utc>, DateTime<Utc>),
    n: usize,
    team: &mut TeamMinutes<'e>,
) -> MemberWeek {
    let policy = input.policy;
    let curve = policy.fairness.curve;
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
    let mut stats = empty_stats(m, working_minutes);
    let mut busy = vec![false; n];
    let mut burden = 0u32;
    if let Some(occ) = occ {
        stats.has_calendar = true;
        let counted = counted_in_week(occ, (ws, we), n, &mut stats.given_back);
        for c in &counted {
            let (outside, free) = mark_busy(c, &mut busy, &working, &on_free_day);
            count_meeting(&mut stats, c, m, outside, free);
            team.distinct
                .entry((c.uid, c.start))
                .or_insert((c.from_min, c.to_min));
            let (s, e) = (
                ws + Duration::minutes(c.from_min as i64),
                ws + Duration::minutes(c.to_min as i64),
            );
            burden = burden.saturating_add(score(s, e, m.tz, &profile, &curve).inconvenience);
        }
    }
    let focus_block = input.settings.focus_block_minutes.max(1) as usize;
    walk_week(
        &mut stats,
        &busy,
        &working,
        &on_free_day,
        focus_block,
        &mut team.person_diff,
    );
    if !stats.has_calendar {
        // Unknown, not free: a member without a calendar has no focus
        // time the report can vouch for.
        stats.focus_minutes = 0;
        stats.focus_blocks = 0;
    }
    stats.share_of_working_hours = if working_minutes == 0 {
        0.0
    } else {
        f64::from(stats.meeting_minutes - stats.outside_hours.minutes) / f64::from(working_minutes)
    };
    MemberWeek {
        stats,
        burden,
        working,
    }
}

fn empty_stats(m: &Member, working_minutes: u32) -> MemberStats {
    MemberStats {
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
    }
}

/// The member's meetings that fall in the week, clipped to it, in order of
/// their minutes; what gatekeeper declined goes to `given_back` instead.
fn counted_in_week<'e>(
    occ: &'e MemberOccurrences<'e>,
    (ws, we): (DateTime<Utc>, DateTime<Utc>),
    n: usize,
    given_back: &mut Tally,
) -> Vec<Counted<'e>> {
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
            given_back.count += 1;
            given_back.minutes += (tm - fm) as u32;
        }
    }
    counted.sort_by_key(|c| (c.from_min, c.to_min));
    counted
}

/// Marks the meeting's minutes busy; whether any of them is outside working
/// hours, and whether any is on a meeting-free day.
fn mark_busy(
    c: &Counted<'_>,
    busy: &mut [bool],
    working: &[bool],
    on_free_day: &[bool],
) -> (bool, bool) {
    let mut outside = false;
    let mut free = false;
    for i in c.from_min..c.to_min {
        busy[i] = true;
        outside |= !working[i];
        free |= on_free_day[i];
    }
    (outside, free)
}

/// Counts one meeting, and names it if it is outside hours or on a
/// meeting-free day (the first `NOTABLE_PER_MEMBER` of them).
fn count_meeting(stats: &mut MemberStats, c: &Counted<'_>, m: &Member, outside: bool, free: bool) {
    stats.meetings += 1;
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
}

/// Walks the week once: meeting minutes by kind, focus stretches, and the
/// member's busy runs into the team's difference array.
fn walk_week(
    stats: &mut MemberStats,
    busy: &[bool],
    working: &[bool],
    on_free_day: &[bool],
    focus_block: usize,
    person_diff: &mut [i32],
) {
    let n = busy.len();
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
pub(super) fn local_minutes(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> Vec<u16> {
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
