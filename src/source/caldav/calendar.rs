//! The CalDAV source behind the engine's one `CalendarSource` trait.
//!
//! **Cursors** (the store's rows for this source, keyed by the calendar's
//! decoded path):
//! - `(calendar, "")`: where the calendar's sync stands (`sync <token>`,
//!   `ctag <ctag>` or `etags`, see `sync`) and whose calendar it is: a
//!   calendar that is no longer found for its member has its items' meetings
//!   taken off the ledger and its rows removed;
//! - `(calendar, item name)`: the item's etag as last finished, and the
//!   events it held (so a deleted item's meetings leave the burden ledger),
//!   in the layout local folders use.
//!
//! **Batches**: one per changed or deleted item, like a local folder's
//! files. The calendar's new sync cursor is stored only when the last batch
//! of its delta is finished (`finish`): an item whose answer failed keeps
//! the old token, so the next pass asks again from there and reads what is
//! not finished (the finished items' etags match and are not read again).
//! A token the server refuses is dropped at once and the calendar listed
//! in full; the screenings make that answer nothing twice.
//!
//! **Reads**: new and changed items with `calendar-multiget`, 100 per
//! request, a chunk at a time as the pass reaches it; an item the multiget
//! does not bring is read with its own GET.
//!
//! **Writes**: the member's copy as read, edited with
//! `ItemEditor` (their PARTSTAT, gatekeeper's comment and marker; every
//! other byte as it was), sent with `If-Match` of the version read. The
//! etag the server gives back is the new version; gatekeeper's own write,
//! listed by the next sync with that etag, is not read again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use reqwest::Url;

use super::discovery::CalendarInfo;
use super::{CaldavSettings, CaldavSource, Item, MemberSync, WriteError};
use crate::calendar::Event;
use crate::calendar::ical::{Limits, parse_ics_bytes_with};
use crate::calendar::recurrence::group_by_uid;
use crate::config::{Mode, SourceConfig};
use crate::source::ics::ItemCursor;
use crate::source::{
    Answer, Batch, CalendarSource, Change, CursorOp, Cursors, Gone, ItemRef, SourceError,
    SyncRequest, Target, Window,
};

/// Items fetched per `calendar-multiget` (the most hrefs one request names).
const MULTIGET_CHUNK: usize = 100;

/// The cursor row that holds a calendar's sync state.
pub const SYNC_ITEM: &str = "";

pub struct CaldavCalendar {
    source: CaldavSource,
    members: Vec<String>,
    limits: Limits,
    /// The item being answered, as it stands after gatekeeper's own
    /// writes. One at a time: a pass answers an item's events before it
    /// reads the next.
    open: Mutex<Option<OpenItem>>,
    /// Per calendar: the sync cursor to store once every batch of the
    /// current delta is finished, and the items still to finish.
    pending: Mutex<HashMap<String, Pending>>,
    /// Requests already reported through `take_calls`.
    reported: AtomicU64,
    /// Item versions (calendar, name, etag) whose write the server refused
    /// for good (a precondition such as `attendee-allowed`): not handed
    /// over again until the item changes, so a refusal is not a write
    /// that fails every pass. Kept for the process's life: a restart tries
    /// each once more.
    refused: Mutex<HashSet<(String, String, String)>>,
}

struct OpenItem {
    calendar: Url,
    /// As listed and read: what targets name.
    read: ItemRef,
    bytes: Vec<u8>,
    etag: String,
}

struct Pending {
    /// The calendar's sync row to store (`None`: to remove, the calendar
    /// is gone).
    value: Option<String>,
    items: HashSet<String>,
}

impl CaldavCalendar {
    /// A CalDAV source of the config; `None` (logged) when its settings or
    /// credentials are unusable: the other sources go on.
    pub fn from_config(
        s: &SourceConfig,
        team: &[String],
        limits: Limits,
        runtime: &mut Option<Arc<tokio::runtime::Runtime>>,
    ) -> Option<CaldavCalendar> {
        let runtime = crate::source::runtime(runtime)?;
        let settings = match CaldavSettings::from_config(s, team, limits.max_item_bytes) {
            Ok(settings) => settings,
            Err(e) => {
                tracing::error!("{e}");
                return None;
            }
        };
        match CaldavSource::new(settings, runtime) {
            Ok(source) => Some(CaldavCalendar::new(source, limits)),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    }

    pub fn new(source: CaldavSource, limits: Limits) -> CaldavCalendar {
        CaldavCalendar {
            members: source.settings().members(),
            source,
            limits,
            open: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            reported: AtomicU64::new(0),
            refused: Mutex::new(HashSet::new()),
        }
    }

    /// The client underneath (tests, `config check`).
    pub fn client(&self) -> &CaldavSource {
        &self.source
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Option<OpenItem>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refused(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String, String)>> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn item_path(&self, item: &ItemRef) -> String {
        format!("{}:{}{}", self.source.name(), item.calendar, item.href)
    }

    fn batch(&self, member: &str, item: ItemRef) -> Batch {
        Batch {
            member: member.to_string(),
            cursor: vec![CursorOp::Set {
                calendar: item.calendar.clone(),
                item: item.href.clone(),
                value: ItemCursor::new(item.etag.clone()).to_string(),
            }],
            item,
            series: Vec::new(),
            gone: Vec::new(),
            problems: Vec::new(),
            items_read: 0,
            read_at: std::time::Instant::now(),
        }
    }

    /// A batch for an item that is gone: its meetings leave the ledger and
    /// its row goes.
    fn gone_batch(
        &self,
        member: &str,
        calendar: &str,
        name: &str,
        cursor: Option<&String>,
    ) -> Batch {
        let item = ItemRef {
            calendar: calendar.to_string(),
            href: name.to_string(),
            etag: String::new(),
        };
        let mut batch = self.batch(member, item);
        batch.gone = cursor
            .map(|c| ItemCursor::parse(c).events)
            .unwrap_or_default()
            .into_iter()
            .map(|(uid, recurrence_id)| Gone {
                uid,
                recurrence_id,
                occurrence: None,
                protected_id: None,
            })
            .collect();
        batch.cursor = vec![CursorOp::Remove {
            calendar: calendar.to_string(),
            item: name.to_string(),
        }];
        batch
    }

    /// What changed in one member's calendars, as changes in order: the
    /// cursor rows to store at once, then one batch per item (read when
    /// the caller gets to it).
    fn member_changes<'s>(
        &'s self,
        member: String,
        synced: MemberSync,
        cursors: &Cursors,
    ) -> Box<dyn Iterator<Item = Change> + 's> {
        let calendars = match synced {
            Ok(c) => c,
            Err(e) => {
                return Box::new(std::iter::once(Change::Failed {
                    member: Some(member),
                    error: SourceError::Backend(Box::new(e)),
                }));
            }
        };
        let mut first: Vec<Change> = Vec::new();
        let mut reads: Vec<(CalendarInfo, ItemRef)> = Vec::new();
        let mut gone: Vec<Change> = Vec::new();
        // Calendars whose sync report came back (or failed): the member's
        // others are gone.
        let mut seen: HashSet<String> = HashSet::new();
        for (calendar, delta) in calendars {
            let row = cursors.get(&(calendar.path.clone(), SYNC_ITEM.to_string()));
            let state = row.map(|v| SyncRow::parse(v).cursor);
            let delta = match delta {
                Ok(d) => d,
                Err(e) => {
                    // A calendar deleted or moved since discovery: find
                    // them again next pass.
                    if e.status() == Some(404) {
                        self.source.forget_calendars(&member);
                    }
                    first.push(Change::Failed {
                        member: Some(member.clone()),
                        error: SourceError::Backend(Box::new(e)),
                    });
                    seen.insert(calendar.path.clone());
                    continue;
                }
            };
            if delta.complete && state.as_deref().is_some_and(|s| s.starts_with("sync ")) {
                // The refused (or forgotten) token is dropped whatever the
                // full listing brings: it must never be sent again.
                first.push(Change::Cursor(CursorOp::Remove {
                    calendar: calendar.path.clone(),
                    item: SYNC_ITEM.to_string(),
                }));
            }
            let known: HashMap<&str, &String> = cursors
                .iter()
                .filter(|((c, i), _)| *c == calendar.path && i != SYNC_ITEM)
                .map(|((_, i), v)| (i.as_str(), v))
                .collect();
            let mut waiting = HashSet::new();
            let listed: HashSet<&str> = delta.changed.iter().map(|e| e.name.as_str()).collect();
            for entry in &delta.changed {
                let unchanged = known
                    .get(entry.name.as_str())
                    .is_some_and(|c| ItemCursor::parse(c).etag == entry.etag);
                let refused = self.refused().contains(&(
                    calendar.path.clone(),
                    entry.name.clone(),
                    entry.etag.clone(),
                ));
                if unchanged || refused {
                    continue;
                }
                waiting.insert(entry.name.clone());
                reads.push((
                    calendar.clone(),
                    ItemRef {
                        calendar: calendar.path.clone(),
                        href: entry.name.clone(),
                        etag: entry.etag.clone(),
                    },
                ));
            }
            let deleted: Vec<&str> = if delta.complete {
                known
                    .keys()
                    .copied()
                    .filter(|name| !listed.contains(name))
                    .collect()
            } else {
                delta
                    .deleted
                    .iter()
                    .map(String::as_str)
                    .filter(|name| known.contains_key(name))
                    .collect()
            };
            for name in deleted {
                waiting.insert(name.to_string());
                gone.push(Change::Batch(Box::new(self.gone_batch(
                    &member,
                    &calendar.path,
                    name,
                    known.get(name).copied(),
                ))));
            }
            let value = SyncRow {
                cursor: delta.cursor,
                member: member.clone(),
            }
            .to_string();
            if waiting.is_empty() {
                if row != Some(&value) {
                    first.push(Change::Cursor(CursorOp::Set {
                        calendar: calendar.path.clone(),
                        item: SYNC_ITEM.to_string(),
                        value,
                    }));
                }
            } else {
                self.pending().insert(
                    calendar.path.clone(),
                    Pending {
                        value: Some(value),
                        items: waiting,
                    },
                );
            }
            seen.insert(calendar.path.clone());
        }
        // Calendars of this member that are no longer there (deleted, or
        // no longer shared with the delegate): their items' meetings leave
        // the ledger, then their rows go.
        let orphans: Vec<&String> = cursors
            .iter()
            .filter(|((c, i), v)| {
                i == SYNC_ITEM && !seen.contains(c) && SyncRow::parse(v).member == member
            })
            .map(|((c, _), _)| c)
            .collect();
        for calendar in orphans {
            let items: Vec<(&String, &String)> = cursors
                .iter()
                .filter(|((c, i), _)| c == calendar && i != SYNC_ITEM)
                .map(|((_, i), v)| (i, v))
                .collect();
            if items.is_empty() {
                first.push(Change::Cursor(CursorOp::Remove {
                    calendar: calendar.clone(),
                    item: SYNC_ITEM.to_string(),
                }));
                continue;
            }
            let mut waiting = HashSet::new();
            for (name, value) in items {
                waiting.insert(name.clone());
                gone.push(Change::Batch(Box::new(self.gone_batch(
                    &member,
                    calendar,
                    name,
                    Some(value),
                ))));
            }
            self.pending().insert(
                calendar.clone(),
                Pending {
                    value: None,
                    items: waiting,
                },
            );
        }
        reads.sort_by(|a, b| (&a.1.calendar, &a.1.href).cmp(&(&b.1.calendar, &b.1.href)));
        // Items are fetched a chunk at a time with `calendar-multiget`
        // when the caller gets to the chunk (one chunk's bytes in memory,
        // one response bounded by `max_item_bytes`), not one GET each.
        let mut chunks: Vec<(CalendarInfo, Vec<ItemRef>)> = Vec::new();
        for (calendar, item) in reads {
            match chunks.last_mut() {
                Some((c, items)) if c.path == calendar.path && items.len() < MULTIGET_CHUNK => {
                    items.push(item);
                }
                _ => chunks.push((calendar, vec![item])),
            }
        }
        Box::new(
            first
                .into_iter()
                .chain(chunks.into_iter().flat_map(move |(calendar, items)| {
                    let mut fetched = self.prefetch(&calendar, &items);
                    let member = member.clone();
                    items.into_iter().map(move |item| {
                        let prefetched = fetched.remove(&item.href);
                        self.read_item(&member, &calendar, item, prefetched)
                    })
                }))
                .chain(gone),
        )
    }

    /// The items of one chunk with their data and etags, in one
    /// `calendar-multiget`. Whatever it does not bring (the report refused
    /// or over the size limit, an item missing from the answer or without
    /// its etag) is left to a GET of its own in `read_item`: each etag
    /// stays paired with the bytes it came with.
    fn prefetch(&self, calendar: &CalendarInfo, items: &[ItemRef]) -> HashMap<String, Item> {
        if items.is_empty() {
            return HashMap::new();
        }
        let names: Vec<String> = items.iter().map(|i| i.href.clone()).collect();
        match self.source.multiget(&calendar.url, &names) {
            Ok(fetched) => fetched
                .into_iter()
                .filter(|f| !f.etag.is_empty() && names.contains(&f.name))
                .map(|f| {
                    (
                        f.name,
                        Item {
                            bytes: f.data,
                            etag: f.etag,
                        },
                    )
                })
                .collect(),
            Err(e) => {
                tracing::debug!(
                    "{}: calendar-multiget failed ({e}); reading items one by one",
                    calendar.url
                );
                HashMap::new()
            }
        }
    }

    /// Read one changed item into a batch: `prefetched` is its bytes and
    /// etag from its chunk's multiget; without it, a GET. An item over the
    /// size limit or that cannot be parsed is skipped with a problem, its
    /// version remembered, so later passes do not trip on it again.
    fn read_item(
        &self,
        member: &str,
        calendar: &CalendarInfo,
        item: ItemRef,
        prefetched: Option<Item>,
    ) -> Change {
        let path = self.item_path(&item);
        let mut batch = self.batch(member, item);
        let got = match prefetched {
            Some(i) => Ok(Some(i)),
            None => self.source.get(&calendar.url, &batch.item.href),
        };
        let fetched = match got {
            Ok(Some(i)) => i,
            // Deleted since it was listed: the next sync says so.
            Ok(None) => {
                let name = batch.item.href.clone();
                let mut b = self.gone_batch(member, &calendar.path, &name, None);
                b.cursor.clear();
                return Change::Batch(Box::new(b));
            }
            Err(e @ super::client::DavError::TooLarge { .. }) => {
                batch.problems.push(format!("{path}: {e}; skipped"));
                return Change::Batch(Box::new(batch));
            }
            Err(e) => {
                return Change::Failed {
                    member: Some(member.to_string()),
                    error: SourceError::Backend(Box::new(e)),
                };
            }
        };
        // The version read is the one answers are conditional on, whatever
        // the listing said a moment before.
        batch.item.etag = fetched.etag.clone();
        batch.items_read = 1;
        let target = Target {
            member: member.to_string(),
            calendar: batch.item.calendar.clone(),
            href: batch.item.href.clone(),
            // Each member's copy is its own resource; on a scheduling
            // server the organizer's copy follows on the server side.
            shared_id: None,
            etag: Some(fetched.etag.clone()),
        };
        let read = crate::source::ics::read_item(&fetched.bytes, &self.limits, &path, &target);
        batch.problems = read.problems;
        batch.series = read.series;
        // The events the item holds, so its meetings leave the ledger when
        // it goes; an item that cannot be read is remembered at its version
        // so later passes do not trip on it again.
        let cursor = ItemCursor {
            etag: fetched.etag.clone(),
            events: read.keys,
        };
        batch.cursor = vec![CursorOp::Set {
            calendar: batch.item.calendar.clone(),
            item: batch.item.href.clone(),
            value: cursor.to_string(),
        }];
        *self.open() = Some(OpenItem {
            calendar: calendar.url.clone(),
            read: batch.item.clone(),
            etag: fetched.etag,
            bytes: fetched.bytes,
        });
        Change::Batch(Box::new(batch))
    }
}

impl CalendarSource for CaldavCalendar {
    fn name(&self) -> &str {
        self.source.name()
    }

    fn members(&self) -> &[String] {
        &self.members
    }

    fn mode(&self) -> Option<Mode> {
        self.source.settings().mode
    }

    fn changes<'s>(
        &'s self,
        cursors: &Cursors,
        request: SyncRequest<'_>,
    ) -> Box<dyn Iterator<Item = Change> + 's> {
        self.pending().clear();
        let members: Vec<String> = self
            .members
            .iter()
            .filter(|m| request.members.is_none_or(|only| only.contains(m)))
            .cloned()
            .collect();
        let states: HashMap<String, String> = cursors
            .iter()
            .filter(|((_, item), _)| item == SYNC_ITEM)
            .map(|((calendar, _), value)| (calendar.clone(), SyncRow::parse(value).cursor))
            .collect();
        // Every member's sync report first, concurrently; items are read
        // one by one as the engine gets to them.
        let synced = self.source.sync_members(&members, &states);
        let cursors = cursors.clone();
        Box::new(
            synced
                .into_iter()
                .flat_map(move |(m, r)| self.member_changes(m, r, &cursors)),
        )
    }

    fn finish(&self, batch: &Batch) -> Vec<CursorOp> {
        let mut ops: Vec<CursorOp> = {
            let open = self.open();
            match open.as_ref().filter(|o| {
                o.read.calendar == batch.item.calendar && o.read.href == batch.item.href
            }) {
                // The version after gatekeeper's own writes is the one seen.
                Some(o) => batch
                    .cursor
                    .iter()
                    .map(|op| match op {
                        CursorOp::Set {
                            calendar,
                            item,
                            value,
                        } => {
                            let mut c = ItemCursor::parse(value);
                            c.etag = o.etag.clone();
                            CursorOp::Set {
                                calendar: calendar.clone(),
                                item: item.clone(),
                                value: c.to_string(),
                            }
                        }
                        other => other.clone(),
                    })
                    .collect(),
                None => batch.cursor.clone(),
            }
        };
        let mut pending = self.pending();
        if let Some(p) = pending.get_mut(&batch.item.calendar) {
            p.items.remove(&batch.item.href);
            if p.items.is_empty() {
                let calendar = batch.item.calendar.clone();
                let item = SYNC_ITEM.to_string();
                ops.push(match p.value.clone() {
                    Some(value) => CursorOp::Set {
                        calendar,
                        item,
                        value,
                    },
                    None => CursorOp::Remove { calendar, item },
                });
                pending.remove(&batch.item.calendar);
            }
        }
        ops
    }

    fn write(&self, target: &Target, event: &Event, answer: &Answer) -> Result<(), SourceError> {
        let mut open = self.open();
        let conflict = || SourceError::Conflict {
            path: format!("{}:{}{}", self.source.name(), target.calendar, target.href),
        };
        let Some(o) = open.as_mut().filter(|o| {
            o.read.calendar == target.calendar
                && o.read.href == target.href
                && target.etag.as_deref() == Some(o.read.etag.as_str())
        }) else {
            return Err(conflict());
        };
        // Each answer applies to the bytes as they stand after gatekeeper's
        // earlier writes to this item in the pass.
        let bytes = crate::source::ics::answer_bytes(&o.bytes, event, &target.member, answer)?;
        match self
            .source
            .put_if_match(&o.calendar, &o.read.href, &o.etag, &bytes)
        {
            Ok(etag) => {
                // Only a written answer becomes the item's state. The
                // server may have rewritten the bytes; the next edit in
                // this pass works on what gatekeeper sent, under the
                // server's etag, and any rewrite is read with the next
                // change.
                o.bytes = bytes;
                o.etag = etag;
                Ok(())
            }
            Err(WriteError::Conflict { .. }) => Err(conflict()),
            Err(e @ WriteError::Refused { .. }) => {
                self.refused().insert((
                    o.read.calendar.clone(),
                    o.read.href.clone(),
                    o.etag.clone(),
                ));
                Err(SourceError::Backend(Box::new(e)))
            }
            Err(e) => Err(SourceError::Backend(Box::new(e))),
        }
    }

    // `reread` keeps the default (`NextPass`): a target names an item, not
    // which of its events, and the item is read again with its batch on
    // the next pass (its cursor and the calendar's token did not move).

    fn rescreen(&self, cursors: &Cursors, members: &[&str]) -> Vec<CursorOp> {
        let mut paths: HashSet<String> = HashSet::new();
        for m in members
            .iter()
            .filter(|m| self.members.iter().any(|x| x == *m))
        {
            match self.source.calendars(m) {
                Ok(cals) => paths.extend(cals.into_iter().map(|c| c.path)),
                Err(e) => tracing::warn!(
                    "source `{}`: `{m}`: cannot find the calendars to screen again: {e}",
                    self.source.name()
                ),
            }
        }
        // Every item looks changed (its etag forgotten, the events it held
        // kept) and the calendar is listed in full, so the next pass reads
        // each item again.
        cursors
            .iter()
            .filter(|((calendar, _), _)| paths.contains(calendar))
            .map(|((calendar, item), value)| {
                if item == SYNC_ITEM {
                    CursorOp::Remove {
                        calendar: calendar.clone(),
                        item: item.clone(),
                    }
                } else {
                    let mut c = ItemCursor::parse(value);
                    c.etag.clear();
                    CursorOp::Set {
                        calendar: calendar.clone(),
                        item: item.clone(),
                        value: c.to_string(),
                    }
                }
            })
            .collect()
    }

    fn events_between(
        &self,
        member: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Window, SourceError> {
        if !self.members.iter().any(|m| m == member) {
            return Ok(Window::default());
        }
        let fetched = self
            .source
            .events_between(member, from, to)
            .map_err(|e| SourceError::Backend(Box::new(e)))?;
        let mut window = Window::default();
        for f in fetched {
            match parse_ics_bytes_with(&f.data, &self.limits) {
                Ok(parsed) => window.series.extend(group_by_uid(parsed.events)),
                Err(e) => window.problems.push(format!(
                    "{}: {}: {e}; skipped",
                    self.source.name(),
                    f.name
                )),
            }
        }
        Ok(window)
    }

    fn take_calls(&self) -> u32 {
        let now = self.source.requests();
        let before = self.reported.swap(now, Ordering::Relaxed);
        u32::try_from(now.saturating_sub(before)).unwrap_or(u32::MAX)
    }
}

/// A calendar's sync row: where its sync stands (see `sync`) and whose
/// calendar it is (so a calendar that disappears is known to be that
/// member's).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SyncRow {
    cursor: String,
    member: String,
}

impl SyncRow {
    fn parse(s: &str) -> SyncRow {
        let (cursor, member) = s.split_once('\u{1f}').unwrap_or((s, ""));
        SyncRow {
            cursor: cursor.to_string(),
            member: member.to_string(),
        }
    }
}

impl std::fmt::Display for SyncRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\u{1f}{}", self.cursor, self.member)
    }
}
