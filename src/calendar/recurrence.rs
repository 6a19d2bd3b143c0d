//! Bounded expansion of one event series (the VEVENTs sharing a UID) into
//! the occurrences that overlap a time window.
//!
//! This module owns the RFC 5545 rules around the `rrule` crate: DTSTART as
//! the first instance, EXDATE and RECURRENCE-ID matching, RDATE, moved and
//! cancelled overrides, the master's duration, and hard bounds on work. It
//! must not do calendar arithmetic itself (wall-clock steps are chrono's and
//! the rule is the `rrule` crate's), must not read the clock, and must not
//! panic or loop without bound on any input.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

use super::{Event, EventTime, Occurrence, Status, local_to_utc};

/// At most this many instances are drawn from the rule iterator per series,
/// whatever the window: an old `FREQ=MINUTELY` series must not run away.
pub const MAX_RAW_ITERATIONS: usize = 100_000;

/// The occurrences of one series in a window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// Sorted by start instant (as read in the reader's zone).
    pub occurrences: Vec<Occurrence>,
    /// True when expansion stopped early (the iteration bound or
    /// `max_occurrences` was hit), so later occurrences in the window may be
    /// missing.
    pub truncated: bool,
    /// What was wrong with the series, e.g. a RRULE the `rrule` crate
    /// rejects (the master is then treated as a single event).
    pub problems: Vec<String>,
}

/// Group events by UID, keeping the order in which UIDs first appear and
/// the order of events within a UID.
pub fn group_by_uid(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<Event>> = Vec::new();
    for event in events {
        match index.get(&event.uid) {
            Some(i) => groups[*i].push(event),
            None => {
                index.insert(event.uid.clone(), groups.len());
                groups.push(vec![event]);
            }
        }
    }
    groups
}

/// `events`: the VEVENTs sharing one UID (master and overrides, any order).
/// Returns the occurrences that overlap `[from, to)` (an occurrence overlaps
/// when `start < to && end > from`; a zero-length event at `from` counts),
/// sorted by start instant. Floating times and dates are read in
/// `reader_tz`.
///
/// Overrides are matched to instances by their RECURRENCE-ID; each override
/// that is not cancelled is listed at its own DTSTART/DTEND (which may lie
/// anywhere), and the instance it replaces is never listed. An override
/// whose master is missing is listed as its own occurrence whatever its
/// status, so a caller sees it and can check `Status` itself.
pub fn expand(
    events: &[Event],
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_occurrences: usize,
) -> Expansion {
    let mut out = Expansion::default();
    let master_index = events.iter().position(|e| e.recurrence_id.is_none());
    let override_indices: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.recurrence_id.is_some())
        .map(|(i, _)| i)
        .collect();

    let Some(master_index) = master_index else {
        // Only exceptions of a series whose master this file does not hold.
        for i in override_indices {
            let e = &events[i];
            push_if_overlaps(
                &mut out.occurrences,
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
    for extra in events
        .iter()
        .enumerate()
        .filter(|(i, e)| e.recurrence_id.is_none() && *i != master_index)
    {
        out.problems.push(format!(
            "UID {:?}: more than one VEVENT without RECURRENCE-ID; only the first is used",
            extra.1.uid
        ));
    }

    let master = &events[master_index];
    let frame = Frame::of(&master.start, reader_tz);

    // Overrides: their times in the series frame, and their own occurrence.
    let mut overridden: Vec<Key> = Vec::new();
    for &i in &override_indices {
        let e = &events[i];
        let Some(rid) = e.recurrence_id else { continue };
        let key = frame.key(&rid);
        overridden.push(key);
        if e.status != Status::Cancelled {
            let rid_as_master = frame.instant(&rid).map(|t| frame.back(t)).unwrap_or(rid);
            push_if_overlaps(
                &mut out.occurrences,
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
    }

    let set = if master.recurrence.is_empty() {
        None
    } else {
        match build_set(master, &frame) {
            Ok(set) => Some(set),
            Err(why) => {
                out.problems.push(format!(
                    "UID {:?}: recurrence ignored, the event is treated as a single occurrence: {why}",
                    master.uid
                ));
                None
            }
        }
    };

    let Some(set) = set else {
        if !frame.is_listed(&overridden, &master.start) {
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
        finish(&mut out, reader_tz, max_occurrences);
        return out;
    };

    let excluded: Vec<Key> = master
        .recurrence
        .exdates
        .iter()
        .map(|t| frame.key(t))
        .collect();
    let dtstart = set.get_dt_start().with_timezone(&Utc);
    let mut series = SeriesState {
        master,
        master_index,
        frame: &frame,
        excluded: &excluded,
        overridden: &overridden,
        reader_tz,
        from,
        to,
        max: max_occurrences,
        emitted: 0,
        seen: HashSet::new(),
        stop: false,
        hit_max: false,
    };
    let mut dtstart_pending = true;
    let mut iterations = 0usize;
    let mut exhausted = true;
    for instant in &set {
        iterations += 1;
        if iterations > MAX_RAW_ITERATIONS {
            out.truncated = true;
            exhausted = false;
            break;
        }
        let instant = instant.with_timezone(&Utc);
        // RFC 5545: DTSTART is the first instance even when the rule does not
        // produce it. RDATEs before DTSTART come first, so insert it in order.
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
    finish(&mut out, reader_tz, max_occurrences);
    out
}

/// Sort, and cut to `max` results.
fn finish(out: &mut Expansion, reader_tz: Tz, max: usize) {
    out.occurrences
        .sort_by_key(|o| (o.start.to_utc(reader_tz), o.event_index));
    if out.occurrences.len() > max {
        out.occurrences.truncate(max);
        out.truncated = true;
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

/// The per-series iteration state.
struct SeriesState<'a> {
    master: &'a Event,
    master_index: usize,
    frame: &'a Frame,
    excluded: &'a [Key],
    overridden: &'a [Key],
    reader_tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
    emitted: usize,
    seen: HashSet<DateTime<Utc>>,
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
        let start = self.frame.back(instant);
        let start_utc = start.to_utc(self.reader_tz);
        if start_utc >= self.to {
            self.stop = true;
            return;
        }
        if self.frame.is_listed(self.excluded, &start)
            || self.frame.is_listed(self.overridden, &start)
        {
            return;
        }
        let Some(end) = self.frame.end_for(self.master, &start, self.reader_tz) else {
            return;
        };
        let before = into.len();
        push_if_overlaps(
            into,
            self.master,
            start,
            end,
            Some(start),
            self.master_index,
            self.reader_tz,
            self.from,
            self.to,
        );
        if into.len() > before {
            self.emitted += 1;
            // One more than `max` proves that something is cut off; `finish`
            // drops the extra one.
            if self.emitted > self.max {
                self.stop = true;
                self.hit_max = true;
            }
        }
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
    Date(Tz),
}

/// An instance or exception in the series frame: an instant, or for
/// DATE-valued exceptions against a date-time series, a whole local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl Frame {
    /// Whether an instance starting at `start` (of the master's kind) is
    /// named by one of `keys`: the same instant, or for a DATE key the same
    /// local date.
    fn is_listed(&self, keys: &[Key], start: &EventTime) -> bool {
        let instant = self.instant(start);
        let day = self.wall(start).date();
        keys.iter().any(|k| match k {
            Key::At(a) => Some(*a) == instant,
            Key::Day(d) => *d == day,
        })
    }

    /// The frame of a master's DTSTART. The reader zone is kept for
    /// floating and date series to read absolute exceptions in.
    fn of(start: &EventTime, reader_tz: Tz) -> Frame {
        match start {
            EventTime::Zoned(t) => Frame::Zoned(t.timezone()),
            EventTime::Utc(_) => Frame::Utc,
            EventTime::Floating(_) => Frame::Floating(reader_tz),
            EventTime::Date(_) => Frame::Date(reader_tz),
        }
    }

    /// The zone handed to `rrule`.
    fn rrule_tz(&self) -> rrule::Tz {
        match self {
            Frame::Zoned(tz) => rrule::Tz::Tz(*tz),
            Frame::Utc | Frame::Floating(_) | Frame::Date(_) => rrule::Tz::UTC,
        }
    }

    /// The wall clock of a time as this series reads it: for a zoned or UTC
    /// series the local time in that zone, for floating and date series the
    /// wall clock itself (absolute times are read in the reader's zone).
    fn wall(&self, t: &EventTime) -> NaiveDateTime {
        let zone = match self {
            Frame::Zoned(tz) => *tz,
            Frame::Utc => chrono_tz::UTC,
            Frame::Floating(reader) | Frame::Date(reader) => *reader,
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
            (Frame::Date(_), _) => Some(self.wall(t).and_utc()),
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
            (Frame::Date(_), _) => Key::Day(self.wall(t).date()),
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
            Frame::Date(_) => EventTime::Date(instant.date_naive()),
        }
    }

    /// The end of an instance starting at `start`: the master's duration,
    /// measured on the wall clock when start and end share a kind and zone
    /// (so a 1-day all-day event stays one day and a 09:00-10:00 meeting
    /// stays 09:00-10:00 across DST), otherwise as an exact span.
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

/// Rewrite the UNTIL part of a RRULE value so the `rrule` crate accepts it:
/// the crate reads an UNTIL without `Z` in the machine's local zone and then
/// rejects it for zoned starts. UNTIL is inclusive; a DATE until means the
/// whole day.
fn normalize_until(rule: &str, frame: &Frame) -> Result<String, String> {
    let parts: Vec<String> = rule
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return Ok(part.to_string());
            };
            if !key.trim().eq_ignore_ascii_case("UNTIL") {
                return Ok(part.to_string());
            }
            let value = value.trim();
            let is_date = value.len() == 8;
            let until = super::ical::parse_time_value(value, is_date, None)?;
            let until = match until {
                EventTime::Date(d) => {
                    let end_of_day = d.and_hms_opt(23, 59, 59).ok_or("bad UNTIL")?;
                    frame.instant(&EventTime::Floating(end_of_day))
                }
                EventTime::Utc(u) if matches!(frame, Frame::Floating(_) | Frame::Date(_)) => {
                    frame.instant(&EventTime::Utc(u))
                }
                other => frame.instant(&other),
            }
            .ok_or("bad UNTIL")?;
            Ok(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")))
        })
        .collect::<Result<_, String>>()?;
    Ok(parts.join(";"))
}

/// Build the `rrule` set for a master in its frame. RDATEs go into the set;
/// EXDATEs and overrides are matched by the caller, who must also see
/// DTSTART even when it is excluded.
fn build_set(master: &Event, frame: &Frame) -> Result<RRuleSet, String> {
    let start_instant = frame
        .instant(&master.start)
        .ok_or("DTSTART has no instant")?;
    let dtstart = start_instant.with_timezone(&frame.rrule_tz());
    let mut rules = Vec::new();
    for value in &master.recurrence.rrules {
        let normalized =
            normalize_until(value, frame).map_err(|e| format!("RRULE {value:?}: {e}"))?;
        let rule = RRule::<Unvalidated>::from_str(&normalized)
            .map_err(|e| format!("RRULE {value:?}: {e}"))?;
        rules.push(
            rule.validate(dtstart)
                .map_err(|e| format!("RRULE {value:?}: {e}"))?,
        );
    }
    let start_wall = frame.wall(&master.start);
    let rdates = master
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
    Ok(RRuleSet::new(dtstart)
        .limit()
        .set_rrules(rules)
        .set_rdates(rdates))
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
    fn group_by_uid_is_stable() {
        let evs = events(&format!(
            "{SINGLE}{POINT}{}",
            SINGLE.replace("DTSTART:20260302", "DTSTART:20260303")
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
        assert_eq!(
            shape,
            vec![
                vec![
                    ("s", "2026-03-02T09:00:00Z".to_string()),
                    ("s", "2026-03-03T09:00:00Z".to_string())
                ],
                vec![("p", "2026-03-02T09:00:00Z".to_string())],
            ]
        );
    }
}
