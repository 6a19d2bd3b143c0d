//! A period of a team's calendars replayed as it arrived: a
//! [`CalendarSource`] over copies held in memory, that hands the engine each
//! item once its arrival time has come and takes gatekeeper's writes into
//! those copies (nothing reaches the real calendars). The daemon's own
//! engine screens it, so a backtest cannot disagree with the daemon.
//!
//! Each copy is handed over as it arrived: the member's own answer and
//! gatekeeper's marker taken out (the member had not answered yet). After
//! the pass that screened it, the member answers as they really did, unless
//! gatekeeper declined it for them: the burden ledger then counts the
//! meetings they would still have accepted.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::calendar::{Event, PartStat};
use crate::config::Mode;
use crate::source::{
    Answer, Batch, CalendarSource, Change, CursorOp, Cursors, Entry, SourceError, SyncRequest,
    Target, Window,
};

/// One item of a member's calendar and when it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: DateTime<Utc>,
    pub batch: Batch,
    /// What the member really answered, per event of the batch (flattened
    /// in the batch's order); `NeedsAction` when they had not, or when the
    /// answer there was gatekeeper's own.
    pub answers: Vec<PartStat>,
    /// The source's place in the config: items that arrive together are
    /// screened in the daemon's order (sources in config order, then items).
    pub rank: usize,
}

/// When an event arrived: CREATED, else DTSTAMP, else LAST-MODIFIED.
pub fn arrival_of(event: &Event) -> Option<DateTime<Utc>> {
    event.created.or(event.dtstamp).or(event.last_modified)
}

/// The copy as it arrived: the member's answer and gatekeeper's marker,
/// comment and rules taken out. Returns the member's real answer.
pub fn as_arrived(event: &mut Event, member: &str) -> PartStat {
    let own = event.gatekeeper_partstat.take();
    event.gatekeeper_comment = None;
    event.gatekeeper_rules = None;
    match event.attendees.iter_mut().find(|a| a.email == member) {
        Some(a) => {
            let real = std::mem::replace(&mut a.partstat, PartStat::NeedsAction);
            if own.as_ref() == Some(&real) {
                PartStat::NeedsAction
            } else {
                real
            }
        }
        None => PartStat::NeedsAction,
    }
}

/// A write gatekeeper would have made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedWrite {
    pub at: DateTime<Utc>,
    pub member: String,
    pub uid: String,
    pub answer: PartStat,
}

struct Item {
    arrival: Arrival,
    version: u64,
    /// The member's real answer was applied (or is not to be).
    settled: bool,
    /// gatekeeper declined something in this item.
    declined: bool,
}

struct State {
    clock: DateTime<Utc>,
    /// Sorted by arrival.
    items: Vec<Item>,
    /// Items whose current version was not yet finished by the engine:
    /// a pass looks only at these, so a long period costs what changes,
    /// not the whole calendar at every arrival.
    dirty: std::collections::BTreeSet<usize>,
    by_key: HashMap<(String, String), usize>,
    /// Where an answer to a target goes: (calendar, href) of the target
    /// (a Google event id is not its batch's item).
    by_target: HashMap<(String, String), usize>,
    /// Each member's items, in arrival order (busy times).
    by_member: HashMap<String, Vec<usize>>,
    writes: Vec<CapturedWrite>,
}

/// One configured source's items, replayed.
pub struct ReplaySource {
    name: String,
    members: Vec<String>,
    zones: HashMap<String, String>,
    state: Mutex<State>,
}

fn cursor_value(version: u64) -> String {
    format!("replay-{version}")
}

impl ReplaySource {
    pub fn new(
        name: &str,
        members: Vec<String>,
        mut arrivals: Vec<Arrival>,
        zones: HashMap<String, String>,
    ) -> ReplaySource {
        arrivals.sort_by(|a, b| {
            (a.at, a.rank, &a.batch.item.calendar, &a.batch.item.href).cmp(&(
                b.at,
                b.rank,
                &b.batch.item.calendar,
                &b.batch.item.href,
            ))
        });
        let mut by_key = HashMap::new();
        let mut by_target = HashMap::new();
        let mut by_member: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, a) in arrivals.iter().enumerate() {
            by_member.entry(a.batch.member.clone()).or_default().push(i);
            for e in a.batch.series.iter().flatten() {
                by_target.insert((e.target.calendar.clone(), e.target.href.clone()), i);
            }
        }
        let dirty = (0..arrivals.len()).collect();
        let items = arrivals
            .into_iter()
            .enumerate()
            .map(|(i, arrival)| {
                by_key.insert(
                    (
                        arrival.batch.item.calendar.clone(),
                        arrival.batch.item.href.clone(),
                    ),
                    i,
                );
                Item {
                    arrival,
                    version: 1,
                    settled: false,
                    declined: false,
                }
            })
            .collect();
        ReplaySource {
            name: name.to_string(),
            members,
            zones,
            state: Mutex::new(State {
                clock: DateTime::<Utc>::MIN_UTC,
                items,
                dirty,
                by_key,
                by_target,
                by_member,
                writes: Vec::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every arrival time, for the caller's passes.
    pub fn arrival_times(&self) -> Vec<DateTime<Utc>> {
        self.state().items.iter().map(|i| i.arrival.at).collect()
    }

    /// What `events_between` sees: items that arrived by `clock`.
    pub fn set_clock(&self, clock: DateTime<Utc>) {
        self.state().clock = clock;
    }

    /// After the pass at `now`: members answer what arrived by then as they
    /// really did, unless gatekeeper declined it for them.
    pub fn settle(&self, now: DateTime<Utc>) {
        let mut state = self.state();
        let mut changed_items = Vec::new();
        for (i, item) in state.items.iter_mut().enumerate() {
            if item.arrival.at > now {
                break;
            }
            if item.settled {
                continue;
            }
            item.settled = true;
            if item.declined {
                continue;
            }
            let member = item.arrival.batch.member.clone();
            let mut changed = false;
            let events = item.arrival.batch.series.iter_mut().flatten();
            for (entry, real) in events.zip(item.arrival.answers.iter()) {
                if *real == PartStat::NeedsAction {
                    continue;
                }
                if let Some(a) = entry.event.attendees.iter_mut().find(|a| a.email == member) {
                    a.partstat = real.clone();
                    changed = true;
                }
            }
            if changed {
                item.version += 1;
                changed_items.push(i);
            }
        }
        state.dirty.extend(changed_items);
    }

    /// The writes gatekeeper would have made, in order.
    pub fn writes(&self) -> Vec<CapturedWrite> {
        self.state().writes.clone()
    }

    fn handed(item: &Item) -> Batch {
        let mut batch = item.arrival.batch.clone();
        let etag = cursor_value(item.version);
        batch.item.etag = etag.clone();
        for e in batch.series.iter_mut().flatten() {
            e.target.etag = Some(etag.clone());
        }
        batch.read_at = std::time::Instant::now();
        batch.cursor = Vec::new();
        batch
    }
}

impl CalendarSource for ReplaySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn members(&self) -> &[String] {
        &self.members
    }

    /// A backtest shows what the policy does when it is on.
    fn mode(&self) -> Option<Mode> {
        Some(Mode::Enforce)
    }

    fn can_peek(&self) -> bool {
        true
    }

    fn changes<'s>(
        &'s self,
        _cursors: &Cursors,
        request: SyncRequest<'_>,
    ) -> Box<dyn Iterator<Item = Change> + 's> {
        let state = self.state();
        let batches: Vec<Change> = state
            .dirty
            .iter()
            .map(|&i| &state.items[i])
            .take_while(|i| i.arrival.at <= request.now)
            .filter(|i| {
                request
                    .members
                    .is_none_or(|m| m.contains(&i.arrival.batch.member))
            })
            .map(|i| Change::Batch(Box::new(Self::handed(i))))
            .collect();
        Box::new(batches.into_iter())
    }

    /// The replay is its own cursor (the items not yet finished): nothing
    /// goes into the store's cursor table, so a pass does not read a table
    /// that grows with the period.
    fn finish(&self, batch: &Batch) -> Vec<CursorOp> {
        let mut state = self.state();
        let key = (batch.item.calendar.clone(), batch.item.href.clone());
        if let Some(i) = state.by_key.get(&key).copied()
            && batch.item.etag == cursor_value(state.items[i].version)
        {
            state.dirty.remove(&i);
        }
        Vec::new()
    }

    fn write(&self, target: &Target, event: &Event, answer: &Answer) -> Result<(), SourceError> {
        let mut state = self.state();
        let key = (target.calendar.clone(), target.href.clone());
        let path = format!("{}/{}", target.calendar, target.href);
        let Some(&i) = state.by_target.get(&key) else {
            return Err(SourceError::Conflict { path });
        };
        let clock = state.clock;
        let item = &mut state.items[i];
        if target.etag.as_deref() != Some(cursor_value(item.version).as_str()) {
            return Err(SourceError::Conflict { path });
        }
        let member = target.member.clone();
        let copy = item
            .arrival
            .batch
            .series
            .iter_mut()
            .flatten()
            .find(|e| e.event.uid == event.uid && e.event.recurrence_id == event.recurrence_id);
        let Some(copy) = copy else {
            return Err(SourceError::Conflict { path });
        };
        if let Some(a) = copy.event.attendees.iter_mut().find(|a| a.email == member) {
            a.partstat = answer.partstat.clone();
        }
        copy.event.gatekeeper_partstat = answer.marker.clone();
        copy.event.gatekeeper_comment = answer.comment.clone();
        copy.event.gatekeeper_rules = answer.marker.as_ref().map(|_| answer.rules.clone());
        if answer.partstat == PartStat::Declined {
            item.declined = true;
        }
        item.version += 1;
        state.dirty.insert(i);
        state.writes.push(CapturedWrite {
            at: clock,
            member,
            uid: event.uid.clone(),
            answer: answer.partstat.clone(),
        });
        Ok(())
    }

    /// The real calendar's setting, read once before the replay.
    fn time_zone(&self, member: &str) -> Option<Result<String, SourceError>> {
        self.zones.get(member).cloned().map(Ok)
    }

    fn rescreen(&self, _cursors: &Cursors, _members: &[&str]) -> Vec<CursorOp> {
        Vec::new()
    }

    fn events_between(
        &self,
        member: &str,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Window, SourceError> {
        let state = self.state();
        let mine = state.by_member.get(member).map_or(&[][..], Vec::as_slice);
        let series = mine
            .iter()
            .map(|&i| &state.items[i])
            .take_while(|i| i.arrival.at <= state.clock)
            .flat_map(|i| i.arrival.batch.series.iter())
            .map(|group| group.iter().map(|e: &Entry| e.event.clone()).collect())
            .collect();
        Ok(Window {
            series,
            problems: Vec::new(),
        })
    }
}
