//! What the backends whose items are iCalendar bytes (local folders,
//! CalDAV) share: an item read into the entries a batch screens, and an
//! answer written into the bytes that were read, byte-preserving
//! (`calendar::edit`). Pure: the backend reads and writes.

use super::{Answer, Entry, SourceError, Target, uid_key};
use crate::calendar::Event;
use crate::calendar::edit::{ItemEditor, ResponseEdit};
use crate::calendar::ical::{Limits, parse_ics_bytes_with};
use crate::calendar::recurrence::group_by_uid;

/// An iCalendar item read for screening.
#[derive(Debug, Default)]
pub struct IcsItem {
    /// Its events grouped by UID (a series with its overrides), each with
    /// the target the answer goes to.
    pub series: Vec<Vec<Entry>>,
    /// The keys (`uid_key`, recurrence id) of the events that can be
    /// answered: what leaves the burden ledger when the item goes.
    pub keys: Vec<(String, String)>,
    /// Problems with the item or single events, `path: problem`; an item
    /// that cannot be read at all has no series and says why.
    pub problems: Vec<String>,
}

/// Read one item's bytes: `path` names it in problems, and every event's
/// answer goes to `target` (the item, at the version read). Several events
/// without UID cannot be told apart by an answer, so their keys are left
/// out (the engine answers none of them). An item the parser or the editor
/// cannot read gives no events, only the problem.
pub fn read_item(bytes: &[u8], limits: &Limits, path: &str, target: &Target) -> IcsItem {
    let mut item = IcsItem::default();
    let parsed = match parse_ics_bytes_with(bytes, limits) {
        Ok(p) => p,
        Err(e) => {
            item.problems.push(format!("{path}: {e}; skipped"));
            return item;
        }
    };
    item.problems = parsed
        .problems
        .iter()
        .map(|p| format!("{path}: {p}"))
        .collect();
    // Answers are edited into these bytes: an item the editor cannot read
    // is not answered at all.
    if let Err(e) = ItemEditor::new(bytes) {
        item.problems.push(format!("{path}: {e}; skipped"));
        return item;
    }
    let without_uid = parsed.events.iter().filter(|e| e.uid.is_empty()).count();
    let mut keys = Vec::new();
    item.series = group_by_uid(parsed.events)
        .into_iter()
        .map(|group| {
            group
                .into_iter()
                .map(|event| {
                    if !(event.uid.is_empty() && without_uid > 1) {
                        keys.push((uid_key(&event.uid, &target.href), event.recurrence_key()));
                    }
                    Entry {
                        event,
                        target: target.clone(),
                    }
                })
                .collect()
        })
        .collect();
    item.keys = keys;
    item
}

/// The item's bytes with `member`'s answer to `event` written in: their
/// PARTSTAT, gatekeeper's comment and marker; every other byte as it was.
/// The same result as editing the bytes after each earlier answer
/// (`ItemEditor`), so a backend only keeps the item's current bytes.
pub fn answer_bytes(
    bytes: &[u8],
    event: &Event,
    member: &str,
    answer: &Answer,
) -> Result<Vec<u8>, SourceError> {
    let edit = ResponseEdit {
        uid: &event.uid,
        recurrence_id: event.recurrence_id,
        attendee: member,
        partstat: answer.partstat.clone(),
        comment: answer.comment.as_deref(),
        marker: answer.marker.clone(),
        marker_rules: &answer.rules,
    };
    Ok(ItemEditor::new(bytes)?.edit(&edit)?.bytes().to_vec())
}

/// What the store remembers of an iCalendar item (a local file, a CalDAV
/// resource): its etag, and the events it held (so a deleted item's
/// meetings can leave the burden ledger). Stored as one string, fields
/// split by control characters that never appear in an etag or a UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCursor {
    pub etag: String,
    /// (UID, recurrence id or "").
    pub events: Vec<(String, String)>,
}

impl ItemCursor {
    pub fn new(etag: String) -> ItemCursor {
        ItemCursor {
            etag,
            events: Vec::new(),
        }
    }

    pub fn parse(s: &str) -> ItemCursor {
        let mut parts = s.split('\u{1f}');
        let etag = parts.next().unwrap_or_default().to_string();
        let events = parts
            .map(|p| match p.split_once('\u{1e}') {
                Some((uid, rid)) => (uid.to_string(), rid.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        ItemCursor { etag, events }
    }
}

impl std::fmt::Display for ItemCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.etag)?;
        for (uid, rid) in &self.events {
            write!(f, "\u{1f}{uid}\u{1e}{rid}")?;
        }
        Ok(())
    }
}
