//! Slot search: the fairest times for a meeting in the coming days, and a
//! rotation of two or three times for a recurring series that would
//! otherwise keep putting the same people outside their hours.
//!
//! Pure: no I/O, no clock. The caller passes where to start, the attendees
//! with their zones and curves, and their busy times.
//!
//! Candidate starts are every 15 minutes in UTC. Each attendee's cost, time
//! outside hours and blocked time (busy, or a meeting-free day in their own
//! zone) are worked out once per minute of the horizon as prefix sums, so a
//! candidate of any length costs a handful of subtractions per attendee.

use chrono::{DateTime, Duration, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;

use super::curve::{
    Category, Curve, JUDGED_MINUTES, MINUTES_PER_DAY, Profile, for_each_local_minute,
};
use crate::policy::invite::Span;
use crate::policy::model::{Member, WeekdaySet};

/// Candidate starts are this far apart, aligned to the UTC quarter hour.
pub const STEP_MINUTES: i64 = 15;

/// The furthest ahead of `from` a search looks, whatever the caller asks:
/// with the judged part of a meeting capped at `JUDGED_DAYS`, a search
/// holds at most (60 + 7) days of minutes per attendee.
pub const MAX_SEARCH_DAYS: i64 = 60;

/// A time a member cannot meet: an event already in their calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyTime {
    /// Lowercase address.
    pub member: String,
    pub span: Span,
}

/// One person the search must seat.
#[derive(Debug, Clone)]
pub struct SearchAttendee {
    pub email: String,
    pub tz: Tz,
    pub profile: Profile,
    /// Days (in this person's zone) on which no meeting may be placed.
    pub meeting_free: WeekdaySet,
}

impl SearchAttendee {
    pub fn for_member(m: &Member, curve: &Curve, meeting_free: WeekdaySet) -> SearchAttendee {
        SearchAttendee {
            email: m.email.clone(),
            tz: m.tz,
            profile: Profile::new(&m.hours, curve.shoulder_minutes),
            meeting_free,
        }
    }
}

/// What to search.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub attendees: &'a [SearchAttendee],
    pub curve: &'a Curve,
    /// The earliest start; rounded up to the next quarter hour.
    pub from: DateTime<Utc>,
    /// The latest start, inclusive: no candidate starts after it, whatever
    /// the step. At most `MAX_SEARCH_DAYS` after `from` is searched.
    pub until: DateTime<Utc>,
    /// How long the meeting is. Only its first `JUDGED_DAYS` are scored;
    /// a slot still lasts the whole duration.
    pub duration: Duration,
    pub busy: &'a [BusyTime],
}

/// One attendee at one candidate time.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttendeeTime {
    pub email: String,
    pub time_zone: String,
    pub local_start: NaiveDateTime,
    pub local_end: NaiveDateTime,
    pub inconvenience: u32,
    pub outside_minutes: u32,
}

/// A candidate time with what it costs each attendee.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Inside everyone's working hours.
    pub in_hours: bool,
    /// The heaviest inconvenience any one attendee bears.
    pub worst: u32,
    pub total: u32,
    pub attendees: Vec<AttendeeTime>,
}

/// Per-attendee prefix sums over every minute of the horizon.
struct Lane {
    cost: Vec<u32>,
    outside: Vec<u32>,
    blocked: Vec<u32>,
}

/// The precomputed horizon of one search.
pub struct Grid<'a> {
    search: Search<'a>,
    base: DateTime<Utc>,
    /// The judged minutes of the meeting (its first `JUDGED_DAYS`).
    duration_min: usize,
    /// The whole meeting, for the slots' end.
    full_duration: Duration,
    starts: usize,
    lanes: Vec<Lane>,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    worst: u32,
    total: u32,
    /// Bit i: attendee i is outside their hours (first 64 attendees).
    outside_mask: u64,
}

fn ceil_to_step(t: DateTime<Utc>) -> DateTime<Utc> {
    let step = STEP_MINUTES * 60;
    let secs = t.timestamp();
    let up = secs.div_euclid(step) * step + if secs.rem_euclid(step) == 0 { 0 } else { step };
    DateTime::from_timestamp(up, 0).unwrap_or(t)
}

impl<'a> Grid<'a> {
    pub fn new(search: Search<'a>) -> Grid<'a> {
        let base = ceil_to_step(search.from);
        let until = search.until.min(
            search
                .from
                .checked_add_signed(Duration::days(MAX_SEARCH_DAYS))
                .unwrap_or(search.until),
        );
        // Every quarter hour from `base` up to and including `until`.
        let starts = if until < base {
            0
        } else {
            ((until - base).num_minutes() / STEP_MINUTES) as usize + 1
        };
        let duration_min = search.duration.num_minutes().clamp(1, JUDGED_MINUTES) as usize;
        let horizon = starts * STEP_MINUTES as usize + duration_min;
        let end = base + Duration::minutes(horizon as i64);
        let lanes = search
            .attendees
            .iter()
            .map(|a| {
                let mut cost = Vec::with_capacity(horizon + 1);
                let mut outside = Vec::with_capacity(horizon + 1);
                let mut blocked_minute = vec![false; horizon];
                let (mut c, mut o) = (0u32, 0u32);
                cost.push(0);
                outside.push(0);
                let mut i = 0;
                for_each_local_minute(base, end, a.tz, |mow| {
                    let cat = a.profile.at(mow);
                    c = c.saturating_add(search.curve.weight(cat));
                    o += u32::from(cat != Category::Working);
                    cost.push(c);
                    outside.push(o);
                    let day = (mow as i64 / MINUTES_PER_DAY) as u8;
                    if Weekday::try_from(day).is_ok_and(|d| a.meeting_free.contains(d)) {
                        blocked_minute[i] = true;
                    }
                    i += 1;
                });
                for b in search.busy.iter().filter(|b| b.member == a.email) {
                    let from = (b.span.start - base).num_minutes().clamp(0, horizon as i64);
                    let to = (b.span.end - base).num_minutes().clamp(0, horizon as i64);
                    // A busy time that ends mid-minute still takes that minute.
                    let to = if base + Duration::minutes(to) < b.span.end {
                        (to + 1).min(horizon as i64)
                    } else {
                        to
                    };
                    for m in &mut blocked_minute[from as usize..to.max(from) as usize] {
                        *m = true;
                    }
                }
                let mut blocked = Vec::with_capacity(horizon + 1);
                let mut n = 0u32;
                blocked.push(0);
                for b in blocked_minute {
                    n += u32::from(b);
                    blocked.push(n);
                }
                Lane {
                    cost,
                    outside,
                    blocked,
                }
            })
            .collect();
        Grid {
            search,
            base,
            duration_min,
            full_duration: search.duration.max(Duration::minutes(1)),
            starts,
            lanes,
        }
    }

    fn start_of(&self, index: usize) -> DateTime<Utc> {
        self.base + Duration::minutes(index as i64 * STEP_MINUTES)
    }

    /// Every candidate nobody is blocked at, unranked.
    fn candidates(&self) -> Vec<Candidate> {
        let mut out = Vec::with_capacity(self.starts);
        'start: for index in 0..self.starts {
            let s = index * STEP_MINUTES as usize;
            let e = s + self.duration_min;
            let (mut worst, mut total, mut mask) = (0u32, 0u32, 0u64);
            for (i, l) in self.lanes.iter().enumerate() {
                if l.blocked[e] != l.blocked[s] {
                    continue 'start;
                }
                let c = l.cost[e] - l.cost[s];
                worst = worst.max(c);
                total = total.saturating_add(c);
                if i < 64 && l.outside[e] != l.outside[s] {
                    mask |= 1 << i;
                }
            }
            out.push(Candidate {
                index,
                worst,
                total,
                outside_mask: mask,
            });
        }
        out
    }

    fn slot(&self, c: &Candidate) -> Slot {
        let start = self.start_of(c.index);
        let end = start
            .checked_add_signed(self.full_duration)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let s = c.index * STEP_MINUTES as usize;
        let e = s + self.duration_min;
        let attendees: Vec<AttendeeTime> = self
            .search
            .attendees
            .iter()
            .zip(&self.lanes)
            .map(|(a, l)| AttendeeTime {
                email: a.email.clone(),
                time_zone: a.tz.name().to_string(),
                local_start: start.with_timezone(&a.tz).naive_local(),
                local_end: end.with_timezone(&a.tz).naive_local(),
                inconvenience: l.cost[e] - l.cost[s],
                outside_minutes: l.outside[e] - l.outside[s],
            })
            .collect();
        Slot {
            start,
            end,
            in_hours: attendees.iter().all(|a| a.outside_minutes == 0),
            worst: c.worst,
            total: c.total,
            attendees,
        }
    }

    /// The `count` fairest slots: inside everyone's hours first, then the
    /// smallest worst individual inconvenience, then the smallest total,
    /// then the earliest. The picks are spread out: each on its own UTC day
    /// while that is possible, and never overlapping one another.
    /// `exclude` (the time already proposed) is never suggested.
    pub fn suggest(&self, count: usize, exclude: Option<DateTime<Utc>>) -> Vec<Slot> {
        let mut all = self.candidates();
        all.retain(|c| Some(self.start_of(c.index)) != exclude);
        all.sort_by_key(|c| (c.outside_mask != 0, c.worst, c.total, c.index));
        let step = STEP_MINUTES as usize;
        let overlaps = |a: usize, b: usize| a.abs_diff(b) * step < self.duration_min;
        let mut picked: Vec<Candidate> = Vec::new();
        for c in &all {
            if picked.len() == count {
                break;
            }
            let day = self.start_of(c.index).date_naive();
            if picked
                .iter()
                .all(|p| self.start_of(p.index).date_naive() != day)
            {
                picked.push(*c);
            }
        }
        for c in &all {
            if picked.len() == count {
                break;
            }
            if picked.iter().all(|p| !overlaps(p.index, c.index)) {
                picked.push(*c);
            }
        }
        picked.sort_by_key(|c| (c.outside_mask != 0, c.worst, c.total, c.index));
        picked.iter().map(|c| self.slot(c)).collect()
    }

    /// The cost, to attendee `i`, of the best slot where attendee `i` bears
    /// less than `than` and nobody bears more than `worst`; `None` if no
    /// such slot exists. This is "a slot that spreads it better".
    pub fn better_for(&self, i: usize, than: u32, worst: u32) -> Option<Slot> {
        let l = self.lanes.get(i)?;
        self.candidates()
            .into_iter()
            .filter(|c| {
                let s = c.index * STEP_MINUTES as usize;
                l.cost[s + self.duration_min] - l.cost[s] < than && c.worst <= worst
            })
            .min_by_key(|c| (c.worst, c.total, c.index))
            .map(|c| self.slot(&c))
    }

    /// A rotation of two (else three) times, used in turn, such that no
    /// attendee is outside their hours in more than `max_share` of the
    /// occurrences. Among the rotations that achieve it, the one with the
    /// smallest worst inconvenience, then the smallest total, then the
    /// earliest. `None` when no rotation of three times achieves it, or the
    /// meeting has more than 64 attendees.
    pub fn rotation(&self, max_share: f64) -> Option<Vec<Slot>> {
        if self.lanes.len() > 64 {
            return None;
        }
        // The best candidate for each pattern of who is outside their hours:
        // a rotation only cares about the patterns.
        let mut best: std::collections::BTreeMap<u64, Candidate> = Default::default();
        for c in self.candidates() {
            best.entry(c.outside_mask)
                .and_modify(|b| {
                    if (c.worst, c.total, c.index) < (b.worst, b.total, b.index) {
                        *b = c;
                    }
                })
                .or_insert(c);
        }
        let patterns: Vec<Candidate> = best.into_values().collect();
        let n = self.lanes.len();
        let fits = |combo: &[&Candidate]| {
            let allowed = (max_share * combo.len() as f64 + 1e-9).floor() as usize;
            (0..n).all(|i| {
                combo
                    .iter()
                    .filter(|c| c.outside_mask & (1 << i) != 0)
                    .count()
                    <= allowed
            })
        };
        let key = |combo: &[&Candidate]| {
            (
                combo.iter().map(|c| c.worst).max().unwrap_or(0),
                combo.iter().map(|c| c.total).sum::<u32>(),
                combo.iter().map(|c| c.index).min().unwrap_or(0),
            )
        };
        let mut chosen: Option<Vec<&Candidate>> = None;
        for (i, a) in patterns.iter().enumerate() {
            for b in &patterns[i + 1..] {
                let combo = [a, b];
                if fits(&combo) && chosen.as_ref().is_none_or(|c| key(&combo) < key(c)) {
                    chosen = Some(combo.to_vec());
                }
            }
        }
        if chosen.is_none() {
            for (i, a) in patterns.iter().enumerate() {
                for (j, b) in patterns.iter().enumerate().skip(i + 1) {
                    for c in &patterns[j + 1..] {
                        let combo = [a, b, c];
                        if fits(&combo) && chosen.as_ref().is_none_or(|x| key(&combo) < key(x)) {
                            chosen = Some(combo.to_vec());
                        }
                    }
                }
            }
        }
        let mut combo = chosen?;
        combo.sort_by_key(|c| c.index);
        Some(combo.into_iter().map(|c| self.slot(c)).collect())
    }
}

impl Slot {
    /// One line for a comment: the UTC time, then the local time in each
    /// attendee zone (each zone once), then who would be outside hours.
    /// "Tue 1 Dec 14:00–14:30 UTC: Lisbon Tue 14:00, New York Tue 09:00"
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}–{} UTC: ",
            self.start.format("%a %-d %b %H:%M"),
            self.end.format("%H:%M")
        );
        let mut seen: Vec<&str> = Vec::new();
        for a in &self.attendees {
            if seen.contains(&a.time_zone.as_str()) {
                continue;
            }
            if !seen.is_empty() {
                out.push_str(", ");
            }
            seen.push(&a.time_zone);
            out.push_str(&format!(
                "{} {}",
                city(&a.time_zone),
                a.local_start.format("%a %H:%M")
            ));
        }
        let outside: Vec<&str> = self
            .attendees
            .iter()
            .filter(|a| a.outside_minutes > 0)
            .map(|a| a.email.as_str())
            .collect();
        if !outside.is_empty() {
            out.push_str(&format!(" (outside hours for {})", outside.join(", ")));
        }
        out
    }
}

/// "America/New_York" → "New York"; "UTC" stays.
pub fn city(zone: &str) -> String {
    zone.rsplit('/').next().unwrap_or(zone).replace('_', " ")
}
