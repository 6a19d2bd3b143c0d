//! Bounded expansion of one event series (the VEVENTs sharing a UID) into
//! the occurrences that overlap a time window.
//!
//! This module owns the RFC 5545 rules around the `rrule` crate: DTSTART as
//! the first instance, EXDATE and RECURRENCE-ID matching, RDATE (with a
//! period's own length), moved, cancelled and `RANGE=THISANDFUTURE`
//! overrides, which revision of a master or override counts, the master's
//! duration, and hard bounds on work. It must not do calendar arithmetic
//! itself (wall-clock steps are chrono's and the rule is the `rrule`
//! crate's), must not read the clock, and must not panic or loop without
//! bound on any input: the cost is at most [`MAX_RAW_ITERATIONS`] rule
//! instances per series plus a hash lookup per instance and override,
//! whatever the length of a meeting or the number of overrides.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

use super::{Event, EventTime, Occurrence, Status, local_to_utc};

/// At most this many instances are drawn from the rule iterator per series,
/// whatever the window: an old `FREQ=MINUTELY` series must not run away.
pub const MAX_RAW_ITERATIONS: usize = 100_000;

/// At most this many `;`-separated parts of a RRULE are looked at; a
/// hostile rule with thousands of parts is cut (with a problem).
const MAX_RRULE_PARTS: usize = 32;

/// The occurrences of one series in a window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// Sorted by start instant (as read in the reader's zone).
    pub occurrences: Vec<Occurrence>,
    /// Instances in the window that a `STATUS:CANCELLED` override cancels,
    /// at the override's own times, sorted like `occurrences`. They are
    /// not part of the series' schedule; they are listed so a user can see
    /// what was cancelled.
    pub cancelled: Vec<Occurrence>,
    /// True when expansion stopped early (the iteration bound or
    /// `max_occurrences` was hit), so later occurrences in the window may be
    /// missing.
    pub truncated: bool,
    /// What was wrong with the series, e.g. a RRULE part the `rrule` crate
    /// rejects (the part is dropped), or an override of an instance the
    /// series does not have (the override is dropped).
    pub problems: Vec<String>,
}

/// The order of revisions of one VEVENT (the same UID and RECURRENCE-ID):
/// the highest SEQUENCE wins, then the latest LAST-MODIFIED, then the
/// latest DTSTAMP, then the later one in the file (`position`).
pub fn revision_rank(
    e: &Event,
    position: usize,
) -> (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, usize) {
    (e.sequence, e.last_modified, e.dtstamp, position)
}

/// How two RECURRENCE-IDs are told apart when grouping revisions: the
/// instant for absolute times, the wall clock for floating times, the date
/// for dates.
fn rid_identity(t: &EventTime) -> (u8, i64) {
    match t {
        EventTime::Utc(u) => (0, u.timestamp()),
        EventTime::Zoned(z) => (0, z.timestamp()),
        EventTime::Floating(n) => (1, n.and_utc().timestamp()),
        EventTime::Date(d) => (2, d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()),
    }
}

/// Group events by UID, keeping the order in which UIDs first appear and
/// the order of events within a UID, and keep only the winning revision
/// (see [`revision_rank`]) of the master and of each override. An event
/// without UID (`uid` "") is a group of its own: two of them are never
/// merged.
pub fn group_by_uid(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<(usize, Event)>> = Vec::new();
    for (position, event) in events.into_iter().enumerate() {
        if event.uid.is_empty() {
            groups.push(vec![(position, event)]);
            continue;
        }
        match index.get(&event.uid) {
            Some(i) => groups[*i].push((position, event)),
            None => {
                index.insert(event.uid.clone(), groups.len());
                groups.push(vec![(position, event)]);
            }
        }
    }
    groups.into_iter().map(keep_winning_revisions).collect()
}

/// Keep one revision per RECURRENCE-ID (none for the master), in file
/// order.
fn keep_winning_revisions(group: Vec<(usize, Event)>) -> Vec<Event> {
    if group.len() == 1 {
        return group.into_iter().map(|(_, e)| e).collect();
    }
    let mut best: HashMap<Option<(u8, i64)>, (usize, usize)> = HashMap::new();
    for (i, (position, e)) in group.iter().enumerate() {
        let id = e.recurrence_id.as_ref().map(rid_identity);
        match best.get(&id) {
            Some(&(j, _))
                if revision_rank(&group[j].1, group[j].0) >= revision_rank(e, *position) => {}
            _ => {
                best.insert(id, (i, *position));
            }
        }
    }
    let keep: HashSet<usize> = best.values().map(|(i, _)| *i).collect();
    group
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, (_, e))| e)
        .collect()
}

/// `events`: the VEVENTs sharing one UID (master and overrides, any order;
/// revisions are chosen as [`group_by_uid`] does). Returns the occurrences
/// that overlap `[from, to)` (an occurrence overlaps when `start < to &&
/// end > from`; a zero-length event at `from` counts), sorted by start
/// instant. Floating times and dates are read in `reader_tz`.
///
/// Overrides are matched to instances by their RECURRENCE-ID; each override
/// that is not cancelled is listed at its own DTSTART/DTEND (which may lie
/// anywhere), and the instance it replaces is never listed. An override of
/// an instance the series does not have (excluded, or no longer generated
/// by the current master) is dropped with a problem. A
/// `RANGE=THISANDFUTURE` override also moves every later instance by the
/// same shift and gives it the override's length and properties. An
/// override whose master is missing is listed as its own occurrence.
///
/// The cost does not grow with the series' age: a rule without COUNT is
/// iterated from a whole number of its periods before the window instead
/// of from DTSTART (see [`fast_forward`]), and gives the same occurrences.
pub fn expand(
    events: &[Event],
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_occurrences: usize,
) -> Expansion {
    expand_from(events, reader_tz, from, to, max_occurrences, true)
}

/// [`expand`], with the fast-forward optional: the tests compare both.
fn expand_from(
    events: &[Event],
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_occurrences: usize,
    may_fast_forward: bool,
) -> Expansion {
    let mut out = Expansion::default();
    // The winning revision of the master and of each override.
    let mut master_index: Option<usize> = None;
    let mut by_rid: HashMap<(u8, i64), usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let slot = match &e.recurrence_id {
            None => &mut master_index,
            Some(rid) => {
                let id = rid_identity(rid);
                match by_rid.get(&id) {
                    Some(&j) if revision_rank(&events[j], j) >= revision_rank(e, i) => {}
                    _ => {
                        by_rid.insert(id, i);
                    }
                }
                continue;
            }
        };
        if slot.is_none_or(|j| revision_rank(&events[j], j) < revision_rank(e, i)) {
            *slot = Some(i);
        }
    }
    let mut override_indices: Vec<usize> = by_rid.into_values().collect();
    override_indices.sort_unstable();

    let Some(master_index) = master_index else {
        // Only exceptions of a series whose master this file does not hold.
        for i in override_indices {
            let e = &events[i];
            let into = if e.status == Status::Cancelled {
                &mut out.cancelled
            } else {
                &mut out.occurrences
            };
            push_if_overlaps(
                into,
                e,
                e.start,
                e.end,
                e.recurrence_id,
                i,
                reader_tz,
                from,
                to,
            );
        }
        finish(&mut out, reader_tz, max_occurrences);
        return out;
    };

    let master = &events[master_index];
    let frame = Frame::of(&master.start, reader_tz);

    // Overrides by the key of the instance they replace.
    let mut overrides: HashMap<Key, usize> = HashMap::new();
    // RANGE=THISANDFUTURE overrides: (RID instant in the frame, index),
    // sorted, for the shift of later instances.
    let mut this_and_future: Vec<(DateTime<Utc>, usize)> = Vec::new();
    let mut last_rid: Option<DateTime<Utc>> = None;
    for &i in &override_indices {
        let Some(rid) = events[i].recurrence_id else {
            continue;
        };
        overrides.insert(frame.key(&rid), i);
        if let Some(at) = frame.instant(&rid) {
            last_rid = Some(last_rid.map_or(at, |l| l.max(at)));
            if events[i].recurrence.this_and_future {
                this_and_future.push((at, i));
            }
        }
    }
    this_and_future.sort_unstable();
    let mut matched: HashSet<usize> = HashSet::new();

    let set = if master.recurrence.is_empty() {
        None
    } else {
        build_set(master, &frame, &mut out.problems)
    };

    // How far the series was looked at: an override of an instance up to
    // here that was not matched is stale. `None`: the whole series.
    let mut seen_until: Option<DateTime<Utc>> = None;
    // Where iteration started when it did not start at DTSTART: an
    // override of an instance before it was not looked at either.
    let mut seen_from: Option<DateTime<Utc>> = None;
    match &set {
        None => {
            // A single event: its one instance is DTSTART.
            let key = frame.key(&master.start);
            if let Some(&i) = overrides.get(&key) {
                matched.insert(i);
            } else {
                push_if_overlaps(
                    &mut out.occurrences,
                    master,
                    master.start,
                    master.end,
                    None,
                    master_index,
                    reader_tz,
                    from,
                    to,
                );
            }
        }
        Some(set) => {
            let exceptions = Exceptions::of(master, &frame);
            let periods: HashMap<Key, EventTime> = master
                .recurrence
                .periods
                .iter()
                .map(|(s, e)| (frame.key(s), *e))
                .collect();
            // An instance may be shifted earlier by a THISANDFUTURE override:
            // look that much past the window, and far enough to see every
            // override's instance (so a stale one can be told).
            let earliest_shift = this_and_future
                .iter()
                .filter_map(|(at, i)| {
                    Some(frame.instant(&events[*i].start)? - *at).filter(|d| *d < TimeDelta::zero())
                })
                .min()
                .unwrap_or_default();
            let mut look_until = to.checked_sub_signed(earliest_shift).unwrap_or(to);
            if let Some(l) = last_rid {
                // The RID instant is in the series frame; for floating and
                // date series that is the wall clock as if UTC, so allow for
                // any zone offset.
                // Not further than a year past the window, so one far-future
                // override cannot make every expansion walk the series up
                // to the iteration bound; an override beyond that is kept
                // (listed only if it moves into the window), not judged.
                let cap = to.checked_add_signed(TimeDelta::days(366)).unwrap_or(to);
                look_until = look_until.max((l + TimeDelta::days(2)).min(cap));
            }
            let mut series = SeriesState {
                master,
                master_index,
                events,
                frame: &frame,
                exceptions: &exceptions,
                overrides: &overrides,
                this_and_future: &this_and_future,
                periods: &periods,
                matched: &mut matched,
                reader_tz,
                from,
                to,
                look_until,
                max: max_occurrences,
                emitted: 0,
                seen: HashSet::new(),
                furthest: None,
                stop: false,
                hit_max: false,
            };
            let dtstart = set.get_dt_start().with_timezone(&Utc);
            let forwarded = if may_fast_forward && this_and_future.is_empty() {
                fast_forward(
                    set,
                    master,
                    events,
                    &override_indices,
                    &frame,
                    reader_tz,
                    from,
                    to,
                )
            } else {
                None
            };
            // DTSTART, the first instance whatever the rule says, lies
            // before where a fast-forwarded iteration starts.
            let mut dtstart_pending = forwarded.is_none();
            let set = match &forwarded {
                Some((set, start)) => {
                    seen_from = Some(*start);
                    set
                }
                None => set,
            };
            let mut iterations = 0usize;
            let mut exhausted = true;
            for instant in set {
                iterations += 1;
                if iterations > MAX_RAW_ITERATIONS {
                    out.truncated = true;
                    exhausted = false;
                    break;
                }
                let instant = instant.with_timezone(&Utc);
                // RFC 5545: DTSTART is the first instance even when the rule
                // does not produce it. RDATEs before DTSTART come first, so
                // insert it in order.
                if dtstart_pending && instant >= dtstart {
                    dtstart_pending = false;
                    if instant != dtstart {
                        series.offer(dtstart, &mut out.occurrences);
                    }
                }
                if !series.stop {
                    series.offer(instant, &mut out.occurrences);
                }
                if series.stop {
                    exhausted = false;
                    break;
                }
            }
            if dtstart_pending && exhausted {
                series.offer(dtstart, &mut out.occurrences);
            }
            if series.hit_max {
                out.truncated = true;
            }
            // Stopped before the series ended: an override of an instance
            // past where it stopped cannot be called stale.
            if !exhausted {
                seen_until = Some(series.furthest.unwrap_or(DateTime::<Utc>::MIN_UTC));
            }
        }
    }

    for &i in &override_indices {
        let e = &events[i];
        let Some(rid) = e.recurrence_id else { continue };
        let rid_at = frame
            .instant(&rid)
            .unwrap_or_else(|| frame.wall(&rid).and_utc());
        let looked_at = seen_until.is_none_or(|until| rid_at <= until)
            && seen_from.is_none_or(|start| rid_at >= start);
        if !matched.contains(&i) && looked_at {
            out.problems.push(format!(
                "UID {:?}: the override of {} is dropped: the series has no such instance (excluded or no longer generated)",
                e.uid,
                rid.to_display_string()
            ));
            continue;
        }
        let rid_as_master = frame.instant(&rid).map(|t| frame.back(t)).unwrap_or(rid);
        let into = if e.status == Status::Cancelled {
            &mut out.cancelled
        } else {
            &mut out.occurrences
        };
        push_if_overlaps(
            into,
            e,
            e.start,
            e.end,
            Some(rid_as_master),
            i,
            reader_tz,
            from,
            to,
        );
    }
    finish(&mut out, reader_tz, max_occurrences);
    out
}

/// How far before a window iteration starts: the length of an instance
/// is added to this, which covers DST steps and, for floating and date
/// series (expanded as if in UTC), any zone offset.
const FAST_FORWARD_MARGIN_DAYS: i64 = 7;

/// A set equal to `set` but iterated from a start a whole number of the
/// rule's periods after DTSTART and at least an instance's length plus a
/// margin before the window, with that start (an instant in the series
/// frame); `None` when iteration must start at DTSTART.
///
/// This is exact when the rule is one RRULE without COUNT (COUNT numbers
/// instances from DTSTART) and of a frequency whose periods are whole days,
/// weeks, months or years: `rrule` has already filled in every BY* part
/// DTSTART implies (weekday, day of month, time of day) when it validated
/// the rule, so from a start on the same grid of periods it draws the same
/// instances, less those before the start. Sub-daily rules keep DTSTART
/// (their grid is not wall-clock days across DST). RDATE periods and
/// THISANDFUTURE overrides (which can carry an early instance into the
/// window) keep it too, and so does an override of an instance before the
/// start that shows in the window at its own time: whether the series has
/// that instance (or the override is stale) is only known by iterating to
/// it. Any other override before the start is not in the window and is
/// neither matched nor called stale.
#[allow(clippy::too_many_arguments)]
fn fast_forward(
    set: &RRuleSet,
    master: &Event,
    events: &[Event],
    override_indices: &[usize],
    frame: &Frame,
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(RRuleSet, DateTime<Utc>)> {
    use rrule::Frequency;
    let [rule] = set.get_rrule().as_slice() else {
        return None;
    };
    if rule.get_count().is_some()
        || !set.get_exrule().is_empty()
        || !master.recurrence.periods.is_empty()
    {
        return None;
    }
    let length =
        (master.end.to_utc(reader_tz) - master.start.to_utc(reader_tz)).max(TimeDelta::zero());
    let target = from
        .checked_sub_signed(length)?
        .checked_sub_signed(TimeDelta::days(FAST_FORWARD_MARGIN_DAYS))?;
    let dtstart = frame.instant(&master.start)?;
    if target <= dtstart {
        return None;
    }
    let start_wall = frame.wall(&master.start);
    let target_day = frame.wall(&EventTime::Utc(target)).date();
    let interval = i64::from(rule.get_interval().max(1));
    // One period less than fits, so the new start is surely before the
    // target whatever the time of day.
    let start_wall = match rule.get_freq() {
        Frequency::Daily | Frequency::Weekly => {
            let days = if rule.get_freq() == Frequency::Daily {
                interval
            } else {
                7 * interval
            };
            let periods = (target_day - start_wall.date()).num_days() / days - 1;
            if periods <= 0 {
                return None;
            }
            start_wall.checked_add_signed(TimeDelta::days(periods.checked_mul(days)?))?
        }
        Frequency::Monthly | Frequency::Yearly => {
            let months_per = if rule.get_freq() == Frequency::Monthly {
                interval
            } else {
                12 * interval
            };
            let month_of = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
            let periods = (month_of(target_day) - month_of(start_wall.date())) / months_per - 1;
            if periods <= 0 {
                return None;
            }
            // The first day of the period's first month: every BY* part
            // is explicit, so the start's own day only cuts instances
            // before it in that period.
            let month = month_of(start_wall.date()) + periods.checked_mul(months_per)?;
            let day = NaiveDate::from_ymd_opt(
                i32::try_from(month.div_euclid(12)).ok()?,
                u32::try_from(month.rem_euclid(12)).ok()? + 1,
                1,
            )?;
            day.and_time(start_wall.time())
        }
        _ => return None,
    };
    let start = frame.instant(&EventTime::Floating(start_wall))?;
    if start <= dtstart || start > target {
        return None;
    }
    for &i in override_indices {
        let e = &events[i];
        let Some(rid) = e.recurrence_id else { continue };
        let rid_at = frame
            .instant(&rid)
            .unwrap_or_else(|| frame.wall(&rid).and_utc());
        if rid_at < start && overlaps(e.start.to_utc(reader_tz), e.end.to_utc(reader_tz), from, to)
        {
            return None;
        }
    }
    let forwarded = RRuleSet::new(start.with_timezone(&frame.rrule_tz()))
        .limit()
        .set_rrules(vec![rule.clone()])
        .set_rdates(set.get_rdate().clone());
    Some((forwarded, start))
}

/// Sort, and cut to `max` results.
fn finish(out: &mut Expansion, reader_tz: Tz, max: usize) {
    for list in [&mut out.occurrences, &mut out.cancelled] {
        list.sort_by_key(|o| (o.start.to_utc(reader_tz), o.event_index));
        if list.len() > max {
            list.truncate(max);
            out.truncated = true;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn push_if_overlaps(
    into: &mut Vec<Occurrence>,
    event: &Event,
    start: EventTime,
    end: EventTime,
    recurrence_id: Option<EventTime>,
    event_index: usize,
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    if overlaps(start.to_utc(reader_tz), end.to_utc(reader_tz), from, to) {
        into.push(Occurrence {
            uid: event.uid.clone(),
            start,
            end,
            recurrence_id,
            event_index,
        });
    }
}

/// `[start, end)` overlaps `[from, to)`; a zero-length event counts when it
/// lies in `[from, to)`. An end before the start is read as zero length.
fn overlaps(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    let end = end.max(start);
    start < to && (end > from || (start == end && start >= from))
}

/// EXDATEs as sets: instants, and whole dates (a DATE exception, or any
/// exception of an all-day series).
struct Exceptions {
    at: HashSet<DateTime<Utc>>,
    days: HashSet<NaiveDate>,
}

impl Exceptions {
    fn of(master: &Event, frame: &Frame) -> Exceptions {
        let mut out = Exceptions {
            at: HashSet::new(),
            days: HashSet::new(),
        };
        for t in &master.recurrence.exdates {
            match frame.key(t) {
                Key::At(a) => out.at.insert(a),
                Key::Day(d) => out.days.insert(d),
            };
        }
        out
    }
}

/// The per-series iteration state.
struct SeriesState<'a> {
    master: &'a Event,
    master_index: usize,
    events: &'a [Event],
    frame: &'a Frame,
    exceptions: &'a Exceptions,
    overrides: &'a HashMap<Key, usize>,
    this_and_future: &'a [(DateTime<Utc>, usize)],
    periods: &'a HashMap<Key, EventTime>,
    matched: &'a mut HashSet<usize>,
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Instances are looked at up to here (past `to` while overrides or
    /// THISANDFUTURE shifts may still need them).
    look_until: DateTime<Utc>,
    max: usize,
    emitted: usize,
    seen: HashSet<DateTime<Utc>>,
    /// The latest instance looked at: overrides of instances up to here
    /// that were not matched are stale.
    furthest: Option<DateTime<Utc>>,
    stop: bool,
    hit_max: bool,
}

impl SeriesState<'_> {
    /// Consider one instance (an instant in the series frame).
    fn offer(&mut self, instant: DateTime<Utc>, into: &mut Vec<Occurrence>) {
        // RDATEs may repeat rule instances; list each instant once.
        if !self.seen.insert(instant) {
            return;
        }
        self.furthest = Some(self.furthest.map_or(instant, |f| f.max(instant)));
        let start = self.frame.back(instant);
        let start_utc = start.to_utc(self.reader_tz);
        if start_utc >= self.look_until {
            self.stop = true;
            return;
        }
        let day = self.frame.wall(&start).date();
        let key = self.frame.key(&start);
        if self.exceptions.days.contains(&day)
            || matches!(key, Key::At(a) if self.exceptions.at.contains(&a))
        {
            return;
        }
        let own = self
            .overrides
            .get(&key)
            .or_else(|| self.overrides.get(&Key::Day(day)));
        if let Some(&i) = own {
            self.matched.insert(i);
            return;
        }
        if self.hit_max {
            return;
        }
        // The latest THISANDFUTURE override before this instance moves it
        // and lends it its length and properties.
        let shifted = self
            .this_and_future
            .partition_point(|(at, _)| *at < instant)
            .checked_sub(1)
            .and_then(|k| self.this_and_future.get(k))
            .and_then(|&(at, i)| self.shift(instant, at, &self.events[i]).map(|s| (s, i)));
        let (start, end, index) = match shifted {
            Some(((s, e), i)) => (s, e, i),
            None => {
                let end = match self.periods.get(&key) {
                    Some(e) => Some(*e),
                    None => self.frame.end_for(self.master, &start, self.reader_tz),
                };
                let Some(end) = end else {
                    return;
                };
                (start, end, self.master_index)
            }
        };
        let before = into.len();
        push_if_overlaps(
            into,
            &self.events[index],
            start,
            end,
            Some(self.frame.back(instant)),
            index,
            self.reader_tz,
            self.from,
            self.to,
        );
        if into.len() > before {
            self.emitted += 1;
            // One more than `max` proves that something is cut off; `finish`
            // drops the extra one. Iteration goes on only as far as needed
            // to match the remaining overrides.
            if self.emitted > self.max {
                self.hit_max = true;
            }
        }
        if self.hit_max && start_utc >= self.to {
            self.stop = true;
        }
    }

    /// An instance at `instant` moved by a THISANDFUTURE override of the
    /// instance at `rid`: the same shift, the override's length.
    fn shift(
        &self,
        instant: DateTime<Utc>,
        rid: DateTime<Utc>,
        by: &Event,
    ) -> Option<(EventTime, EventTime)> {
        let new_start = self.frame.instant(&by.start)?;
        let length = self.frame.instant(&by.end)? - new_start;
        let start = instant.checked_add_signed(new_start - rid)?;
        let end = start.checked_add_signed(length)?;
        Some((self.frame.back(start), self.frame.back(end)))
    }
}

/// How a series' times map to `rrule`'s zoned date-times and back. Zoned
/// and UTC series expand in their own zone, so a 09:00 meeting stays at 09:00
/// across DST. Floating and date series expand their wall-clock values as if
/// they were UTC (a zone without DST), which keeps wall-clock semantics exact.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Zoned(Tz),
    Utc,
    Floating(Tz),
    Date,
}

/// An instance or exception in the series frame: an instant, or for
/// DATE-valued exceptions against a date-time series (and anything against
/// a date series), a whole date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl Frame {
    /// The frame of a master's DTSTART. The reader zone is kept for
    /// floating and date series to read absolute exceptions in.
    fn of(start: &EventTime, reader_tz: Tz) -> Frame {
        match start {
            EventTime::Zoned(t) => Frame::Zoned(t.timezone()),
            EventTime::Utc(_) => Frame::Utc,
            EventTime::Floating(_) => Frame::Floating(reader_tz),
            EventTime::Date(_) => Frame::Date,
        }
    }

    /// The zone handed to `rrule`.
    fn rrule_tz(&self) -> rrule::Tz {
        match self {
            Frame::Zoned(tz) => rrule::Tz::Tz(*tz),
            Frame::Utc | Frame::Floating(_) | Frame::Date => rrule::Tz::UTC,
        }
    }

    /// The wall clock of a time as this series reads it: for a zoned or UTC
    /// series the local time in that zone, for a floating series the wall
    /// clock itself (absolute times are read in the reader's zone), for a
    /// date series a time's own wall clock (a zoned RECURRENCE-ID or EXDATE
    /// names its own date, whatever the reader's zone).
    fn wall(&self, t: &EventTime) -> NaiveDateTime {
        let zone = match self {
            Frame::Zoned(tz) => *tz,
            Frame::Utc => chrono_tz::UTC,
            Frame::Floating(reader) => *reader,
            Frame::Date => {
                return match t {
                    EventTime::Utc(u) => u.naive_utc(),
                    EventTime::Zoned(z) => z.naive_local(),
                    EventTime::Floating(n) => *n,
                    EventTime::Date(d) => d.and_time(chrono::NaiveTime::MIN),
                };
            }
        };
        match t {
            EventTime::Utc(u) => u.with_timezone(&zone).naive_local(),
            EventTime::Zoned(z) => z.with_timezone(&zone).naive_local(),
            EventTime::Floating(n) => *n,
            EventTime::Date(d) => d.and_time(chrono::NaiveTime::MIN),
        }
    }

    /// A time as an instant on the series' time line (what `rrule` yields).
    /// A date against a date-time series has no single instant.
    fn instant(&self, t: &EventTime) -> Option<DateTime<Utc>> {
        match (self, t) {
            (Frame::Date, _) => Some(self.wall(t).and_utc()),
            (_, EventTime::Date(_)) => None,
            (Frame::Zoned(_) | Frame::Utc, EventTime::Utc(u)) => Some(*u),
            (Frame::Zoned(_) | Frame::Utc, EventTime::Zoned(z)) => Some(z.with_timezone(&Utc)),
            (Frame::Zoned(tz), EventTime::Floating(n)) => Some(local_to_utc(*tz, *n)),
            (Frame::Utc, EventTime::Floating(n)) => Some(n.and_utc()),
            (Frame::Floating(_), _) => Some(self.wall(t).and_utc()),
        }
    }

    /// The matching key of an exception, override or instance.
    fn key(&self, t: &EventTime) -> Key {
        match (self, t) {
            (Frame::Date, _) => Key::Day(self.wall(t).date()),
            (_, EventTime::Date(d)) => Key::Day(*d),
            _ => match self.instant(t) {
                Some(i) => Key::At(i),
                None => Key::Day(self.wall(t).date()),
            },
        }
    }

    /// An instant on the series' time line back as the master's kind.
    fn back(&self, instant: DateTime<Utc>) -> EventTime {
        match self {
            Frame::Zoned(tz) => EventTime::Zoned(instant.with_timezone(tz)),
            Frame::Utc => EventTime::Utc(instant),
            Frame::Floating(_) => EventTime::Floating(instant.naive_utc()),
            Frame::Date => EventTime::Date(instant.date_naive()),
        }
    }

    /// The end of an instance starting at `start`: the master's duration,
    /// measured on the wall clock when start and end share a kind and zone
    /// (so a 1-day all-day event stays one day and a 09:00-10:00 meeting
    /// stays 09:00-10:00 across DST), otherwise as an exact span. O(1)
    /// whatever the length.
    fn end_for(&self, master: &Event, start: &EventTime, reader_tz: Tz) -> Option<EventTime> {
        Some(match (master.start, master.end, start) {
            (EventTime::Date(s), EventTime::Date(e), EventTime::Date(d)) => {
                EventTime::Date(d.checked_add_signed(e - s)?)
            }
            (EventTime::Floating(s), EventTime::Floating(e), EventTime::Floating(n)) => {
                EventTime::Floating(n.checked_add_signed(e - s)?)
            }
            (EventTime::Zoned(s), EventTime::Zoned(e), EventTime::Zoned(z))
                if s.timezone() == e.timezone() =>
            {
                let tz = z.timezone();
                let wall = z
                    .naive_local()
                    .checked_add_signed(e.naive_local() - s.naive_local())?;
                EventTime::Zoned(local_to_utc(tz, wall).with_timezone(&tz))
            }
            (s, e, start) => {
                let span = e.to_utc(reader_tz) - s.to_utc(reader_tz);
                let end = start.to_utc(reader_tz).checked_add_signed(span)?;
                match e {
                    EventTime::Zoned(z) => EventTime::Zoned(end.with_timezone(&z.timezone())),
                    _ => EventTime::Utc(end),
                }
            }
        })
    }
}

/// Rewrite an UNTIL value so the `rrule` crate accepts it: the crate reads
/// an UNTIL without `Z` in the machine's local zone and then rejects it for
/// zoned starts. UNTIL is inclusive; a DATE until means the whole day.
fn normalize_until(value: &str, frame: &Frame) -> Result<String, String> {
    let value = value.trim();
    let is_date = value.len() == 8;
    let until = super::ical::parse_time_value(value, is_date, None)?;
    let until = match until {
        EventTime::Date(d) => {
            let end_of_day = d.and_hms_opt(23, 59, 59).ok_or("bad UNTIL")?;
            frame.instant(&EventTime::Floating(end_of_day))
        }
        EventTime::Utc(u) if matches!(frame, Frame::Floating(_) | Frame::Date) => {
            frame.instant(&EventTime::Utc(u))
        }
        other => frame.instant(&other),
    }
    .ok_or("bad UNTIL")?;
    Ok(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")))
}

/// Parse and validate one RRULE value. A rule the `rrule` crate rejects as
/// a whole is rebuilt part by part: FREQ first, then each other part kept
/// only if the rule still holds with it, so one bad part (`COUNT=-1`, a
/// misspelt BYDAY) costs only itself. Every dropped part is a problem.
fn parse_rule(
    value: &str,
    frame: &Frame,
    dtstart: DateTime<rrule::Tz>,
    problems: &mut Vec<String>,
    uid: &str,
) -> Option<RRule> {
    let mut parts: Vec<String> = Vec::new();
    for (n, part) in value
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .enumerate()
    {
        if n >= MAX_RRULE_PARTS {
            problems.push(format!(
                "UID {uid:?}: RRULE {value:?} has more than {MAX_RRULE_PARTS} parts; the rest are dropped"
            ));
            break;
        }
        let part = part.trim();
        // The `rrule` crate slices BYDAY values by byte and panics inside a
        // multi-byte character (found by fuzzing); a rule is ASCII anyway.
        if !part.is_ascii() {
            problems.push(format!(
                "UID {uid:?}: RRULE part {part:?} dropped: not ASCII"
            ));
            continue;
        }
        match part.split_once('=') {
            Some((key, v)) if key.trim().eq_ignore_ascii_case("UNTIL") => {
                match normalize_until(v, frame) {
                    Ok(p) => parts.push(p),
                    Err(e) => {
                        problems.push(format!("UID {uid:?}: RRULE part {part:?} dropped: {e}"))
                    }
                }
            }
            _ => parts.push(part.to_string()),
        }
    }
    let attempt = |parts: &[&str]| -> Result<RRule, String> {
        let rule = RRule::<Unvalidated>::from_str(&parts.join(";")).map_err(|e| e.to_string())?;
        rule.validate(dtstart).map_err(|e| e.to_string())
    };
    let all: Vec<&str> = parts.iter().map(String::as_str).collect();
    if let Ok(rule) = attempt(&all) {
        return Some(rule);
    }
    let Some(freq) = all.iter().find(|p| {
        p.split('=')
            .next()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("FREQ"))
    }) else {
        problems.push(format!(
            "UID {uid:?}: RRULE {value:?} has no FREQ; recurrence ignored, the event is treated as a single occurrence"
        ));
        return None;
    };
    let mut kept: Vec<&str> = vec![freq];
    if let Err(e) = attempt(&kept) {
        problems.push(format!(
            "UID {uid:?}: RRULE {value:?}: {e}; recurrence ignored, the event is treated as a single occurrence"
        ));
        return None;
    }
    for part in all.iter().filter(|p| !std::ptr::eq(**p, *freq)) {
        kept.push(part);
        if let Err(e) = attempt(&kept) {
            kept.pop();
            problems.push(format!(
                "UID {uid:?}: RRULE part {part:?} dropped, the rest of the rule kept: {e}"
            ));
        }
    }
    attempt(&kept).ok()
}

/// Build the `rrule` set for a master in its frame. RDATEs go into the set;
/// EXDATEs and overrides are matched by the caller, who must also see
/// DTSTART even when it is excluded. `None` (with a problem) when the
/// recurrence cannot be used at all: the master is then a single event.
fn build_set(master: &Event, frame: &Frame, problems: &mut Vec<String>) -> Option<RRuleSet> {
    let Some(start_instant) = frame.instant(&master.start) else {
        problems.push(format!(
            "UID {:?}: DTSTART has no instant; recurrence ignored",
            master.uid
        ));
        return None;
    };
    let dtstart = start_instant.with_timezone(&frame.rrule_tz());
    let rules: Vec<RRule> = master
        .recurrence
        .rrules
        .iter()
        .filter_map(|value| parse_rule(value, frame, dtstart, problems, &master.uid))
        .collect();
    let start_wall = frame.wall(&master.start);
    let rdates: Vec<_> = master
        .recurrence
        .rdates
        .iter()
        .filter_map(|r| match (frame, r) {
            // A DATE rdate against a date-time series: that date at the
            // series' time of day.
            (Frame::Zoned(_) | Frame::Utc | Frame::Floating(_), EventTime::Date(d)) => {
                frame.instant(&EventTime::Floating(d.and_time(start_wall.time())))
            }
            _ => frame.instant(r),
        })
        .map(|i| i.with_timezone(&frame.rrule_tz()))
        .collect();
    if rules.is_empty() && rdates.is_empty() {
        return None;
    }
    Some(
        RRuleSet::new(dtstart)
            .limit()
            .set_rrules(rules)
            .set_rdates(rdates),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ical::parse_ics;
    use chrono::TimeZone;

    fn events(vevents: &str) -> Vec<Event> {
        let text = format!("BEGIN:VCALENDAR\nVERSION:2.0\n{vevents}END:VCALENDAR\n");
        let parsed = parse_ics(&text).expect("parses");
        assert_eq!(parsed.problems, Vec::<String>::new());
        parsed.events
    }

    fn utc(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, h, min, 0)
            .single()
            .expect("valid")
    }

    /// Start instants of the occurrences, as `MM-DD HH:MM` in UTC.
    fn starts(exp: &Expansion, reader: Tz) -> Vec<String> {
        exp.occurrences
            .iter()
            .map(|o| o.start.to_utc(reader).format("%m-%d %H:%M").to_string())
            .collect()
    }

    fn check(vevents: &str, from: DateTime<Utc>, to: DateTime<Utc>, expect: &[&str]) {
        let evs = events(vevents);
        let exp = expand(&evs, chrono_tz::UTC, from, to, 1000);
        assert_eq!(exp.problems, Vec::<String>::new());
        assert!(!exp.truncated);
        assert_eq!(starts(&exp, chrono_tz::UTC), expect, "{vevents}");
    }

    const SINGLE: &str =
        "BEGIN:VEVENT\nUID:s\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nEND:VEVENT\n";
    const POINT: &str = "BEGIN:VEVENT\nUID:p\nDTSTART:20260302T090000Z\nEND:VEVENT\n";

    #[test]
    fn window_edges() {
        check(SINGLE, utc(3, 2, 10, 0), utc(3, 3, 0, 0), &[]); // ends exactly at `from`
        check(SINGLE, utc(3, 2, 9, 59), utc(3, 3, 0, 0), &["03-02 09:00"]);
        check(SINGLE, utc(3, 1, 0, 0), utc(3, 2, 9, 0), &[]); // starts exactly at `to`
        check(SINGLE, utc(3, 1, 0, 0), utc(3, 2, 9, 1), &["03-02 09:00"]);
        check(POINT, utc(3, 2, 9, 0), utc(3, 2, 10, 0), &["03-02 09:00"]); // zero length at `from`
        check(POINT, utc(3, 2, 8, 0), utc(3, 2, 9, 0), &[]);
    }

    #[test]
    fn non_recurring_event_has_no_recurrence_id() {
        let evs = events(SINGLE);
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(3, 3, 0, 0), 10);
        assert_eq!(exp.occurrences[0].recurrence_id, None);
        assert_eq!(exp.occurrences[0].event_index, 0);
    }

    #[test]
    fn dtstart_not_matching_the_rule_is_still_the_first_instance() {
        // 2026-03-03 is a Tuesday; the rule only yields Mondays.
        check(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260303T090000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2\nEND:VEVENT\n",
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &["03-03 09:00", "03-09 09:00", "03-16 09:00"],
        );
    }

    #[test]
    fn exdate_in_another_zone_than_dtstart() {
        // 09:00 Berlin on 2026-03-09 is 04:00 in New York (EDT from 03-08).
        check(
            "BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Europe/Berlin:20260302T090000\nDTEND;TZID=Europe/Berlin:20260302T100000\nRRULE:FREQ=WEEKLY;COUNT=3\nEXDATE;TZID=America/New_York:20260309T040000\nEND:VEVENT\n",
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &["03-02 08:00", "03-16 08:00"],
        );
        // A DATE exdate against a date-time series removes that day.
        check(
            "BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Europe/Berlin:20260302T090000\nRRULE:FREQ=WEEKLY;COUNT=3\nEXDATE;VALUE=DATE:20260316\nEND:VEVENT\n",
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &["03-02 08:00", "03-09 08:00"],
        );
        // DTSTART itself can be excluded.
        check(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE:20260302T090000Z\nEND:VEVENT\n",
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &["03-03 09:00", "03-04 09:00"],
        );
    }

    #[test]
    fn all_day_series_keeps_dates_and_length() {
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART;VALUE=DATE:20260302\nDTEND;VALUE=DATE:20260304\nRRULE:FREQ=WEEKLY;COUNT=2\nEXDATE;VALUE=DATE:20260309\nRDATE;VALUE=DATE:20260320\nEND:VEVENT\n",
        );
        let exp = expand(
            &evs,
            chrono_tz::Europe::Berlin,
            utc(2, 1, 0, 0),
            utc(5, 1, 0, 0),
            10,
        );
        let got: Vec<_> = exp
            .occurrences
            .iter()
            .map(|o| (o.start.to_display_string(), o.end.to_display_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-03-02".into(), "2026-03-04".into()),
                ("2026-03-20".into(), "2026-03-22".into())
            ]
        );
        assert_eq!(
            exp.occurrences[1].recurrence_id,
            Some(EventTime::Date(
                NaiveDate::from_ymd_opt(2026, 3, 20).expect("valid")
            ))
        );
    }

    #[test]
    fn floating_series_follows_the_reader_zone() {
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000\nDTEND:20260302T100000\nRRULE:FREQ=DAILY;UNTIL=20260303T090000\nEND:VEVENT\n",
        );
        let exp = expand(
            &evs,
            chrono_tz::America::New_York,
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            10,
        );
        assert_eq!(
            starts(&exp, chrono_tz::America::New_York),
            vec!["03-02 14:00", "03-03 14:00"]
        );
        assert!(matches!(exp.occurrences[0].start, EventTime::Floating(_)));
    }

    #[test]
    fn minutely_since_1970_is_bounded() {
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:19700101T000000Z\nRRULE:FREQ=MINUTELY\nEND:VEVENT\n",
        );
        let exp = expand(
            &evs,
            chrono_tz::UTC,
            utc(3, 1, 0, 0),
            utc(3, 2, 0, 0),
            10_000,
        );
        assert!(exp.truncated);
        assert!(exp.occurrences.is_empty());
    }

    #[test]
    fn max_occurrences_truncates() {
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260301T000000Z\nRRULE:FREQ=HOURLY\nEND:VEVENT\n",
        );
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(3, 2, 0, 0), 5);
        assert!(exp.truncated);
        assert_eq!(exp.occurrences.len(), 5);
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(3, 1, 5, 0), 5);
        assert!(!exp.truncated, "exactly max results, none missing");
    }

    #[test]
    fn invalid_rrule_falls_back_to_a_single_event() {
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nRRULE:FREQ=SOMETIMES;COUNT=3\nEND:VEVENT\n",
        );
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(4, 1, 0, 0), 10);
        assert_eq!(starts(&exp, chrono_tz::UTC), vec!["03-02 09:00"]);
        assert_eq!(exp.problems.len(), 1);
        assert!(
            exp.problems[0].contains("FREQ=SOMETIMES"),
            "{:?}",
            exp.problems
        );
    }

    #[test]
    fn overrides_move_into_and_out_of_the_window() {
        let series = "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nRRULE:FREQ=WEEKLY;COUNT=4\nEND:VEVENT\n\
            BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260323T090000Z\nDTSTART:20260305T090000Z\nDTEND:20260305T100000Z\nEND:VEVENT\n\
            BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260309T090000Z\nDTSTART:20260330T090000Z\nDTEND:20260330T100000Z\nEND:VEVENT\n";
        // The window holds the first two weeks: 03-09 moved out, 03-23 moved in.
        let evs = events(series);
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(3, 15, 0, 0), 10);
        assert_eq!(
            starts(&exp, chrono_tz::UTC),
            vec!["03-02 09:00", "03-05 09:00"]
        );
        assert_eq!(exp.occurrences[1].event_index, 1);
        assert_eq!(
            exp.occurrences[1].recurrence_id,
            Some(EventTime::Utc(utc(3, 23, 9, 0)))
        );
    }

    #[test]
    fn group_by_uid_keeps_order_one_revision_each_and_events_without_uid_apart() {
        let evs = events(concat!(
            "BEGIN:VEVENT\nUID:s\nSEQUENCE:2\nDTSTART:20260302T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nDTSTART:20260302T100000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:p\nDTSTART:20260302T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:s\nSEQUENCE:1\nDTSTART:20260303T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nDTSTART:20260302T110000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:p\nDTSTART:20260304T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:p\nRECURRENCE-ID:20260302T090000Z\nDTSTAMP:20260101T000000Z\nDTSTART:20260305T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:p\nRECURRENCE-ID:20260302T090000Z\nDTSTAMP:20260102T000000Z\nDTSTART:20260306T090000Z\nEND:VEVENT\n",
            "BEGIN:VEVENT\nUID:p\nRECURRENCE-ID:20260302T090000Z\nDTSTAMP:20251231T000000Z\nDTSTART:20260307T090000Z\nEND:VEVENT\n",
        ));
        let groups = group_by_uid(evs);
        let shape: Vec<Vec<(&str, String)>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|e| (e.uid.as_str(), e.start.to_display_string()))
                    .collect()
            })
            .collect();
        // The highest SEQUENCE wins whatever the order; equal SEQUENCE: the
        // later in the file; overrides: the latest DTSTAMP.
        assert_eq!(
            shape,
            vec![
                vec![("s", "2026-03-02T09:00:00Z".to_string())],
                vec![("", "2026-03-02T10:00:00Z".to_string())],
                vec![
                    ("p", "2026-03-04T09:00:00Z".to_string()),
                    ("p", "2026-03-06T09:00:00Z".to_string())
                ],
                vec![("", "2026-03-02T11:00:00Z".to_string())],
            ]
        );
    }

    #[test]
    fn overrides_and_exceptions_table() {
        let series = "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nRRULE:FREQ=DAILY;COUNT=5\nEND:VEVENT\n";
        // THISANDFUTURE in the middle, then a single override after it
        // that wins over the shift for its own instance.
        check(
            &format!(
                "{series}BEGIN:VEVENT\nUID:x\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260304T090000Z\nDTSTART:20260304T070000Z\nDTEND:20260304T073000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260306T090000Z\nDTSTART:20260306T120000Z\nDTEND:20260306T130000Z\nEND:VEVENT\n"
            ),
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &[
                "03-02 09:00",
                "03-03 09:00",
                "03-04 07:00",
                "03-05 07:00",
                "03-06 12:00",
            ],
        );
        // A zoned EXDATE against a floating series is read in the reader's
        // zone (UTC here).
        check(
            "BEGIN:VEVENT\nUID:f\nDTSTART:20260302T090000\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;TZID=Europe/Berlin:20260303T100000\nEND:VEVENT\n",
            utc(3, 1, 0, 0),
            utc(4, 1, 0, 0),
            &["03-02 09:00", "03-04 09:00"],
        );
        // An override of an instance past the window still removes nothing
        // and is listed only when it moves into the window.
        check(
            &format!(
                "{series}BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260306T090000Z\nDTSTART:20260302T120000Z\nDTEND:20260302T130000Z\nEND:VEVENT\n"
            ),
            utc(3, 2, 0, 0),
            utc(3, 3, 0, 0),
            &["03-02 09:00", "03-02 12:00"],
        );
    }

    #[test]
    fn an_override_from_beyond_a_full_window_is_not_called_stale() {
        // Two results asked for; the instance of 03-10 is moved into the
        // window. Expansion stops listing at the maximum but still finds
        // the override's instance.
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY;COUNT=20\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260310T090000Z\nDTSTART:20260302T120000Z\nEND:VEVENT\n",
        );
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 2, 0, 0), utc(3, 5, 0, 0), 2);
        assert_eq!(exp.problems, Vec::<String>::new());
        assert!(exp.truncated);
        assert_eq!(starts(&exp, chrono_tz::UTC), ["03-02 09:00", "03-02 12:00"]);
    }

    #[test]
    fn a_non_ascii_rrule_part_is_dropped_not_a_panic() {
        // Found by the `parse` fuzz target: the `rrule` crate panics on a
        // BYDAY value with a multi-byte character.
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY;COUNT=2;BYDAY=-\u{e9}SU\nEND:VEVENT\n",
        );
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 1, 0, 0), utc(4, 1, 0, 0), 10);
        assert_eq!(starts(&exp, chrono_tz::UTC), ["03-02 09:00", "03-03 09:00"]);
        assert_eq!(
            exp.problems,
            ["UID \"x\": RRULE part \"BYDAY=-\u{e9}SU\" dropped: not ASCII"]
        );
    }

    #[test]
    fn a_far_future_override_does_not_walk_the_series_and_is_kept() {
        // An endless daily series with one override in 2090: expansion over
        // March stops a year past the window, keeps the override unjudged,
        // and still drops a stale one inside the looked-at span.
        let evs = events(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260302T090000Z\nRRULE:FREQ=DAILY\nEXDATE:20260303T090000Z\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20900101T090000Z\nDTSTART:20260304T120000Z\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:x\nRECURRENCE-ID:20260303T090000Z\nDTSTART:20260305T120000Z\nEND:VEVENT\n",
        );
        let exp = expand(&evs, chrono_tz::UTC, utc(3, 2, 0, 0), utc(3, 6, 0, 0), 100);
        assert_eq!(
            starts(&exp, chrono_tz::UTC),
            ["03-02 09:00", "03-04 09:00", "03-04 12:00", "03-05 09:00"]
        );
        assert_eq!(exp.problems.len(), 1, "{:?}", exp.problems);
        assert!(exp.problems[0].contains("2026-03-03T09:00:00Z"));
        assert!(!exp.truncated);
    }

    #[test]
    fn many_overrides_cost_a_lookup_each() {
        // 2,000 instances, 1,500 of them moved: every instance is matched
        // through the hash maps, and every override is used once.
        let mut text = String::from(
            "BEGIN:VEVENT\nUID:m\nDTSTART:20260101T090000Z\nDTEND:20260101T100000Z\nRRULE:FREQ=HOURLY;COUNT=2000\nEND:VEVENT\n",
        );
        let start = utc(1, 1, 9, 0);
        for k in 0..1500 {
            let rid = start + chrono::Duration::hours(k);
            let moved = rid + chrono::Duration::minutes(30);
            text.push_str(&format!(
                "BEGIN:VEVENT\nUID:m\nRECURRENCE-ID:{}\nDTSTART:{}\nDTEND:{}\nEND:VEVENT\n",
                rid.format("%Y%m%dT%H%M%SZ"),
                moved.format("%Y%m%dT%H%M%SZ"),
                (moved + chrono::Duration::minutes(10)).format("%Y%m%dT%H%M%SZ"),
            ));
        }
        let evs = events(&text);
        let exp = expand(
            &evs,
            chrono_tz::UTC,
            utc(1, 1, 0, 0),
            utc(12, 1, 0, 0),
            5000,
        );
        assert_eq!(exp.problems, Vec::<String>::new());
        assert_eq!(exp.occurrences.len(), 2000);
        assert_eq!(
            exp.occurrences.iter().filter(|o| o.event_index > 0).count(),
            1500
        );
    }

    /// Fast-forwarding gives exactly the occurrences (and cancellations)
    /// that iterating from DTSTART gives, for rules of every frequency it
    /// applies to, in zones with DST, floating and all-day series, with
    /// exceptions and moved or cancelled instances before, in and after the
    /// window.
    mod fast_forward_props {
        use super::*;
        use proptest::prelude::*;

        fn series() -> impl Strategy<Value = (String, DateTime<Utc>, i64)> {
            let freq = prop_oneof![
                Just("DAILY"),
                Just("WEEKLY"),
                Just("MONTHLY"),
                Just("YEARLY")
            ];
            let byday = prop_oneof![
                Just(""),
                Just(";BYDAY=MO,WE,FR"),
                Just(";BYDAY=TU"),
                Just(";BYDAY=SA,SU")
            ];
            let extra = prop_oneof![
                Just(""),
                Just(";BYMONTHDAY=31"),
                Just(";BYMONTHDAY=1,15"),
                Just(";BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR"),
                Just(";BYMONTH=3,10"),
                Just(";UNTIL=20270301T000000Z"),
                Just(";UNTIL=20200101T000000Z"),
                Just(";WKST=SU"),
            ];
            let zone = prop_oneof![
                Just((
                    "DTSTART;TZID=Europe/Berlin:",
                    "DTEND;TZID=Europe/Berlin:",
                    ""
                )),
                Just((
                    "DTSTART;TZID=America/New_York:",
                    "DTEND;TZID=America/New_York:",
                    ""
                )),
                Just(("DTSTART:", "DTEND:", "Z")),
                Just(("DTSTART:", "DTEND:", "")),
                Just(("DTSTART;VALUE=DATE:", "DTEND;VALUE=DATE:", "date")),
            ];
            (
                freq,
                1u16..4,
                byday,
                extra,
                zone,
                (2012i32..2027, 1u32..13, 1u32..29, 0u32..24, 0u32..4),
                15i64..(3 * 24 * 60),
                (0i64..900, 1i64..70),
                proptest::collection::vec((0i64..2000, 0i64..3, -3000i64..3000), 0..4),
            )
                .prop_map(
                    |(freq, interval, byday, extra, (ds, de, suffix), (y, mo, d, h, q), minutes, (from_days, window_days), changes)| {
                        let start = chrono::NaiveDate::from_ymd_opt(y, mo, d)
                            .expect("valid")
                            .and_hms_opt(h, q * 15, 0)
                            .expect("valid");
                        let fmt = |t: NaiveDateTime| -> String {
                            if suffix == "date" {
                                t.format("%Y%m%d").to_string()
                            } else {
                                format!("{}{suffix}", t.format("%Y%m%dT%H%M%S"))
                            }
                        };
                        let minutes = if suffix == "date" { 24 * 60 * (1 + minutes % 3) } else { minutes };
                        let end = start + TimeDelta::minutes(minutes);
                        let rid_prefix = ds.replace("DTSTART", "RECURRENCE-ID");
                        let ex_prefix = ds.replace("DTSTART", "EXDATE");
                        let mut text = format!(
                            "BEGIN:VEVENT\nUID:x\n{ds}{}\n{de}{}\nRRULE:FREQ={freq};INTERVAL={interval}{byday}{extra}\n",
                            fmt(start),
                            fmt(end)
                        );
                        // Exceptions and overrides of instances on the
                        // series' grid (a whole number of days after
                        // DTSTART, at its time), some of them not instances.
                        let mut overrides = String::new();
                        for (k, (days, kind, moved_hours)) in changes.into_iter().enumerate() {
                            let at = start + TimeDelta::days(days);
                            match kind {
                                0 => text.push_str(&format!("{ex_prefix}{}\n", fmt(at))),
                                _ => {
                                    let s = at + TimeDelta::hours(moved_hours);
                                    overrides.push_str(&format!(
                                        "BEGIN:VEVENT\nUID:x\n{rid_prefix}{}\n{ds}{}\n{de}{}\n{}SUMMARY:o{k}\nEND:VEVENT\n",
                                        fmt(at),
                                        fmt(s),
                                        fmt(s + TimeDelta::minutes(minutes)),
                                        if kind == 2 { "STATUS:CANCELLED\n" } else { "" }
                                    ));
                                }
                            }
                        }
                        text.push_str("END:VEVENT\n");
                        text.push_str(&overrides);
                        let from = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().expect("valid")
                            + TimeDelta::days(from_days)
                            + TimeDelta::hours(from_days % 24);
                        (text, from, window_days)
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            #[test]
            fn fast_forward_changes_no_occurrence((text, from, days) in series()) {
                let text = format!("BEGIN:VCALENDAR\nVERSION:2.0\n{text}END:VCALENDAR\n");
                let evs = parse_ics(&text).expect("parses").events;
                let to = from + TimeDelta::days(days);
                for tz in [chrono_tz::UTC, chrono_tz::Asia::Kolkata, chrono_tz::America::Los_Angeles] {
                    let fast = expand_from(&evs, tz, from, to, 10_000, true);
                    let full = expand_from(&evs, tz, from, to, 10_000, false);
                    prop_assert_eq!(&fast.occurrences, &full.occurrences, "{} in {}", text, tz);
                    prop_assert_eq!(&fast.cancelled, &full.cancelled, "{} in {}", text, tz);
                    prop_assert_eq!(fast.truncated, full.truncated);
                }
            }
        }

        #[test]
        fn an_old_daily_series_is_not_walked_from_dtstart() {
            // Started in 1700: from DTSTART the window is past the
            // iteration bound, so only the fast-forward reaches it.
            let evs = events(
                "BEGIN:VEVENT\nUID:x\nDTSTART:17000101T090000Z\nDTEND:17000101T093000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\n",
            );
            let exp = expand(&evs, chrono_tz::UTC, utc(3, 2, 0, 0), utc(3, 4, 0, 0), 10);
            assert!(!exp.truncated);
            assert_eq!(
                starts(&exp, chrono_tz::UTC),
                vec!["03-02 09:00", "03-03 09:00"]
            );
            let full = expand_from(
                &evs,
                chrono_tz::UTC,
                utc(3, 2, 0, 0),
                utc(3, 4, 0, 0),
                10,
                false,
            );
            assert!(full.truncated);
        }
    }
}
