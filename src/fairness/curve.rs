//! The inconvenience curve: how much a minute of meeting costs an attendee,
//! from the wall-clock time in their own zone and their working hours, and
//! the integral of that curve over a meeting.
//!
//! Pure: no I/O, no clock. Times come in as UTC instants and are read in the
//! attendee's zone minute by minute, so a meeting that spans midnight or a
//! DST change is scored by the wall clock the attendee actually lives.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

// The curve's weights are part of a policy's `[fairness]` section, so they
// are defined with the policy's model, below this module.
pub use crate::policy::model::Curve;
use crate::policy::model::WorkingHours;

pub const MINUTES_PER_DAY: i64 = 1440;
pub const MINUTES_PER_WEEK: i64 = 7 * MINUTES_PER_DAY;

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
        // The windows are `WorkingHours::window`'s, the same the
        // `working_hours` rule reads: a window belongs to the day it starts
        // on, and one that crosses midnight ("00:00-24:00" included) ends
        // the next day. A non-working day's would-be window marks its
        // daytime.
        let would_be = |d: u8| {
            let mut every_day = *hours;
            every_day.days = crate::policy::model::WeekdaySet::from_bits(0b0111_1111);
            every_day.window(d)
        };
        // Paint from the lowest precedence up: the week is cyclic, so a
        // Sunday night shift runs into Monday morning.
        let mut paint = |from: i64, to: i64, c: Category| {
            for m in from..to {
                minutes[m.rem_euclid(MINUTES_PER_WEEK) as usize] = c;
            }
        };
        for d in (0..7).filter(|d| hours.window(*d).is_none()) {
            if let Some((ws, we)) = would_be(d) {
                paint(ws - sh, we + sh, Category::NonWorkingDay);
            }
        }
        for (ws, we) in (0..7).filter_map(|d| hours.window(d)) {
            paint(ws - sh, ws, Category::Shoulder);
            paint(we, we + sh, Category::Shoulder);
        }
        for (ws, we) in (0..7).filter_map(|d| hours.window(d)) {
            paint(ws, we, Category::Working);
        }
        Profile { minutes }
    }

    /// The category of a minute of the week (0 = Monday 00:00).
    pub fn at(&self, minute_of_week: usize) -> Category {
        self.minutes[minute_of_week % MINUTES_PER_WEEK as usize]
    }
}

/// How much of one meeting is judged: its first 7 days. Scoring, the
/// burden, the `working_hours` rule and the slot search read at most this
/// many minutes of any one meeting, so a meeting that runs until the year
/// 3026 costs what a week-long one costs. A week reads every minute of an
/// attendee's weekly working pattern (a DST change skips at most one hour
/// of it), so whether a meeting is ever outside someone's hours is decided
/// the same; what a longer meeting adds to a burden counts its first week.
pub const JUDGED_DAYS: i64 = 7;
pub const JUDGED_MINUTES: i64 = JUDGED_DAYS * MINUTES_PER_DAY;

/// The end of the part of `[start, end)` that is judged.
pub fn judged_end(start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    // The common case first, without date arithmetic: the decision core
    // asks this for every required member of every invite.
    if (end - start).num_minutes() <= JUDGED_MINUTES {
        return end;
    }
    start
        .checked_add_signed(chrono::Duration::minutes(JUDGED_MINUTES))
        .map_or(end, |cap| end.min(cap))
}

/// Whether a meeting is longer than what is judged of it.
pub fn is_cut_short(start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    judged_end(start, end) < end
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

/// Score `[start, end)` for an attendee: every whole minute of its judged
/// part (the first `JUDGED_DAYS`) is read in their zone and weighed by the
/// curve.
pub fn score(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    profile: &Profile,
    curve: &Curve,
) -> Score {
    let mut s = Score::default();
    for_each_local_minute(start, judged_end(start, end), tz, |mow| {
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

/// Whether some whole minute of the judged part of `[start, end)`, read on
/// the attendee's wall clock, lies outside their working hours: the
/// `working_hours` rule. It reads the same minutes as `score` (a minute is
/// outside exactly when the curve does not call it `Working`), stretch by
/// stretch instead of minute by minute.
pub fn outside_hours(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    hours: &WorkingHours,
) -> bool {
    let mut outside = false;
    for_each_local_stretch(start, judged_end(start, end), tz, |mow, len| {
        outside = outside || !hours.covers(mow as i64, len);
    });
    outside
}

/// Call `f` with the local minute of the week (0 = Monday 00:00) of every
/// whole minute in `[start, end)`, in order.
pub fn for_each_local_minute(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    mut f: impl FnMut(usize),
) {
    for_each_local_stretch(start, end, tz, |first, len| {
        let mut mow = first;
        for _ in 0..len {
            f(mow);
            mow += 1;
            if mow == MINUTES_PER_WEEK as usize {
                mow = 0;
            }
        }
    });
}

/// Split the whole minutes of `[start, end)` into stretches with one UTC
/// offset and call `f` with each stretch's first local minute of the week
/// (0 = Monday 00:00) and its length in minutes (at most 12 hours). The
/// zone is asked for its offset a handful of times per stretch, not per
/// minute: a stretch of at most 12 hours with the same offset at both ends
/// has one offset throughout (no zone changes its clocks twice in 12
/// hours); otherwise the change is found by bisection.
pub fn for_each_local_stretch(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    mut f: impl FnMut(usize, i64),
) {
    const CHUNK: i64 = 12 * 60;
    let total = (end - start).num_minutes();
    let mut done = 0;
    while done < total {
        let at = if done == 0 {
            start
        } else {
            start + chrono::Duration::minutes(done)
        };
        let chunk = CHUNK.min(total - done);
        let off = offset_seconds(tz, at);
        let mut len = chunk;
        if chunk > 1 && offset_seconds(tz, at + chrono::Duration::minutes(chunk - 1)) != off {
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
        f(local_minute.rem_euclid(MINUTES_PER_WEEK) as usize, len);
        done += len;
    }
}
