//! The inconvenience curve: how much a minute of meeting costs an attendee,
//! from the wall-clock time in their own zone and their working hours, and
//! the integral of that curve over a meeting.
//!
//! Pure: no I/O, no clock. Times come in as UTC instants and are read in the
//! attendee's zone minute by minute, so a meeting that spans midnight or a
//! DST change is scored by the wall clock the attendee actually lives.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::policy::model::WorkingHours;

pub const MINUTES_PER_DAY: i64 = 1440;
pub const MINUTES_PER_WEEK: i64 = 7 * MINUTES_PER_DAY;

/// Weights per minute of meeting, by where the minute falls in the
/// attendee's week. Whole numbers so that burdens add up exactly.
///
/// Precedence, for a minute outside the attendee's working hours:
/// 1. within `shoulder_minutes` before a working window starts or after one
///    ends: `shoulder`;
/// 2. on a non-working day, at a time that would be working or shoulder
///    time on a working day: `non_working_day`;
/// 3. anything else (the night): `night`.
///
/// Inside working hours a minute costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curve {
    pub shoulder_minutes: u32,
    pub shoulder: u32,
    pub non_working_day: u32,
    pub night: u32,
}

impl Default for Curve {
    /// Two shoulder hours either side of the working day at 1 per minute,
    /// non-working days at 2, the night at 3: an hour at 22:00 for someone
    /// who works 09:00–17:00 costs 180, an hour at 18:00 costs 60.
    fn default() -> Self {
        Curve {
            shoulder_minutes: 120,
            shoulder: 1,
            non_working_day: 2,
            night: 3,
        }
    }
}

impl Curve {
    pub fn weight(&self, c: Category) -> u32 {
        match c {
            Category::Working => 0,
            Category::Shoulder => self.shoulder,
            Category::NonWorkingDay => self.non_working_day,
            Category::Night => self.night,
        }
    }
}

/// Where a minute falls in an attendee's week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Category {
    Working = 0,
    Shoulder = 1,
    NonWorkingDay = 2,
    Night = 3,
}

/// An attendee's week in their own wall-clock time: one category per minute,
/// Monday 00:00 first. Built once per attendee, then looked up per minute.
#[derive(Debug, Clone)]
pub struct Profile {
    minutes: Box<[Category]>,
}

impl Profile {
    pub fn new(hours: &WorkingHours, shoulder_minutes: u32) -> Profile {
        let mut minutes = vec![Category::Night; MINUTES_PER_WEEK as usize].into_boxed_slice();
        let sh = i64::from(shoulder_minutes);
        let start = minute_of_day(hours.start);
        let end = minute_of_day(hours.end);
        // A window belongs to the day it starts on; one that crosses
        // midnight (end <= start, "00:00-24:00" included) ends the next day.
        let window = |d: i64| {
            let ws = d * MINUTES_PER_DAY + start;
            let we = if hours.crosses_midnight() {
                (d + 1) * MINUTES_PER_DAY + end
            } else {
                d * MINUTES_PER_DAY + end
            };
            (ws, we)
        };
        let working =
            |d: i64| chrono::Weekday::try_from(d as u8).is_ok_and(|wd| hours.days.contains(wd));
        // Paint from the lowest precedence up: the week is cyclic, so a
        // Sunday night shift runs into Monday morning.
        let mut paint = |from: i64, to: i64, c: Category| {
            for m in from..to {
                minutes[m.rem_euclid(MINUTES_PER_WEEK) as usize] = c;
            }
        };
        for d in (0..7).filter(|d| !working(*d)) {
            let (ws, we) = window(d);
            paint(ws - sh, we + sh, Category::NonWorkingDay);
        }
        for d in (0..7).filter(|d| working(*d)) {
            let (ws, we) = window(d);
            paint(ws - sh, ws, Category::Shoulder);
            paint(we, we + sh, Category::Shoulder);
        }
        for d in (0..7).filter(|d| working(*d)) {
            let (ws, we) = window(d);
            paint(ws, we, Category::Working);
        }
        Profile { minutes }
    }

    /// The category of a minute of the week (0 = Monday 00:00).
    pub fn at(&self, minute_of_week: usize) -> Category {
        self.minutes[minute_of_week % MINUTES_PER_WEEK as usize]
    }
}

fn minute_of_day(t: chrono::NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

/// What one meeting (or one stretch of minutes) costs one attendee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Score {
    /// Weighted minutes: the curve integrated over the meeting.
    pub inconvenience: u32,
    /// Plain minutes outside working hours, whatever their weight.
    pub outside_minutes: u32,
}

impl std::ops::AddAssign for Score {
    fn add_assign(&mut self, o: Score) {
        self.inconvenience = self.inconvenience.saturating_add(o.inconvenience);
        self.outside_minutes = self.outside_minutes.saturating_add(o.outside_minutes);
    }
}

/// Score `[start, end)` for an attendee: every whole minute is read in their
/// zone and weighed by the curve.
pub fn score(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    profile: &Profile,
    curve: &Curve,
) -> Score {
    let mut s = Score::default();
    for_each_local_minute(start, end, tz, |mow| {
        let c = profile.at(mow);
        if c != Category::Working {
            s.inconvenience = s.inconvenience.saturating_add(curve.weight(c));
            s.outside_minutes += 1;
        }
    });
    s
}

/// Seconds east of UTC in `tz` at instant `t`.
pub fn offset_seconds(tz: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// Call `f` with the local minute of the week (0 = Monday 00:00) of every
/// whole minute in `[start, end)`, in order. The zone is asked for its
/// offset a handful of times per stretch, not per minute: a stretch of at
/// most 12 hours with the same offset at both ends has one offset
/// throughout (no zone changes its clocks twice in 12 hours); otherwise the
/// change is found by bisection.
pub fn for_each_local_minute(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    mut f: impl FnMut(usize),
) {
    const CHUNK: i64 = 12 * 60;
    let total = (end - start).num_minutes();
    let mut done = 0;
    while done < total {
        let at = start + chrono::Duration::minutes(done);
        let chunk = CHUNK.min(total - done);
        let off = offset_seconds(tz, at);
        let mut len = chunk;
        if offset_seconds(tz, at + chrono::Duration::minutes(chunk - 1)) != off {
            // The first minute with another offset lies in (0, chunk).
            let (mut lo, mut hi) = (0, chunk - 1);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset_seconds(tz, at + chrono::Duration::minutes(mid)) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            len = hi;
        }
        // 1970-01-01 was a Thursday: day 3 of a week that starts on Monday.
        let local_minute = (at.timestamp() + off).div_euclid(60) + 3 * MINUTES_PER_DAY;
        let mut mow = local_minute.rem_euclid(MINUTES_PER_WEEK) as usize;
        for _ in 0..len {
            f(mow);
            mow += 1;
            if mow == MINUTES_PER_WEEK as usize {
                mow = 0;
            }
        }
        done += len;
    }
}
