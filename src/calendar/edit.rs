//! Writing a member's response into their copy of an event, the way a
//! calendar client answers an invitation, changing as few bytes as possible.
//!
//! This module owns the in-place edit of one VEVENT: the attendee's PARTSTAT
//! parameter, gatekeeper's own COMMENT (`COMMENT;X-GATEKEEPER=TRUE`) and the
//! `X-GATEKEEPER-PARTSTAT` marker. It works on bytes: every other byte of
//! the item stays as it was, whatever its encoding (Latin-1, broken UTF-8),
//! folding or line endings: other events and lines, unknown properties,
//! trailing text, even the other parameters and the value of the attendee's
//! own line, which are copied byte for byte from the unfolded original. An
//! edit that is already in place changes nothing. It must not re-serialize
//! the calendar, read or write files, or read the clock.

use std::ops::Range;

use super::ical::{self, Comp, Document, Limits, Prop, RawLine};
use super::{EventTime, PartStat};

/// What to write, and where.
#[derive(Debug, Clone)]
pub struct ResponseEdit<'a> {
    /// The UID of the series or event ("" for a VEVENT without UID).
    pub uid: &'a str,
    /// `None` edits the VEVENT without RECURRENCE-ID (the master or a single
    /// event); `Some` edits the override with that RECURRENCE-ID (compared as
    /// times, not as text).
    pub recurrence_id: Option<EventTime>,
    /// The attendee's address; compared without `mailto:` and ignoring case.
    pub attendee: &'a str,
    pub partstat: PartStat,
    /// Gatekeeper's comment; `None` removes an existing one.
    pub comment: Option<&'a str>,
    /// The `X-GATEKEEPER-PARTSTAT` marker; `None` removes an existing one.
    pub marker: Option<PartStat>,
    /// The acting rules the answer stands on, written as the marker's
    /// `X-GATEKEEPER-RULES` parameter (none: no parameter).
    pub marker_rules: &'a [String],
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    #[error("cannot edit: {0}")]
    Ics(#[from] ical::IcsError),
    #[error("no VEVENT with UID {uid:?} and {}", describe(.recurrence_id))]
    EventNotFound {
        uid: String,
        recurrence_id: Option<String>,
    },
    #[error("{count} VEVENTs with UID {uid:?} and {}; refusing to guess", describe(.recurrence_id))]
    AmbiguousEvent {
        uid: String,
        recurrence_id: Option<String>,
        count: usize,
    },
    #[error("VEVENT {uid:?} has no ATTENDEE {attendee:?}")]
    AttendeeNotFound { uid: String, attendee: String },
}

fn describe(recurrence_id: &Option<String>) -> String {
    match recurrence_id {
        Some(r) => format!("RECURRENCE-ID {r}"),
        None => "no RECURRENCE-ID".to_string(),
    }
}

/// Byte changes to an item: a range of the source and what replaces it.
type Changes = Vec<(Range<usize>, Vec<u8>)>;

/// Intact VEVENTs by UID (as calendar and child index), with their
/// RECURRENCE-ID.
type UidIndex = std::collections::HashMap<String, Vec<((usize, usize), Option<EventTime>)>>;

/// The gatekeeper marker property.
const MARKER: &str = "X-GATEKEEPER-PARTSTAT";

/// Set the attendee's response in the VEVENT named by `edit` and return the
/// new text. A thin wrapper of [`set_response_bytes`] for callers holding a
/// `&str`; the result is UTF-8 because everything it adds is.
pub fn set_response(ics: &str, edit: &ResponseEdit) -> Result<String, EditError> {
    let out = set_response_bytes(ics.as_bytes(), edit)?;
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Set the attendee's response in the VEVENT named by `edit` and return the
/// new bytes. See [`ResponseEdit`] for what each field does. When several
/// revisions of the VEVENT are in the item, the one the parser reads (see
/// `recurrence::revision_rank`) is edited.
pub fn set_response_bytes(src: &[u8], edit: &ResponseEdit) -> Result<Vec<u8>, EditError> {
    let doc = ical::document(src, &Limits::DEFAULT)?;
    let zones = doc.zones();
    let vevents: Vec<(&Comp, Option<EventTime>)> = doc
        .vevents()
        .filter(|ev| ev.intact)
        .filter(|ev| doc.first(ev, "UID").map_or("", |p| p.value.trim()) == edit.uid)
        .filter_map(|ev| Some((ev, identity(&doc, ev, &zones)?)))
        .collect();
    let vevent = find_vevent(&doc, &zones, &vevents, edit)?;
    let changes = changes_for(&doc, vevent, edit)?;
    Ok(splice(src, changes.iter()))
}

/// A VEVENT's RECURRENCE-ID as the edit compares it: `Some(None)` for a
/// master, `None` when the RECURRENCE-ID cannot be read (such a VEVENT is
/// never edited).
fn identity(doc: &Document, ev: &Comp, zones: &ical::Zones) -> Option<Option<EventTime>> {
    match doc.first(ev, "RECURRENCE-ID") {
        None => Some(None),
        Some(p) => ical::parse_time_prop(p, zones).ok().map(Some),
    }
}

/// The one VEVENT to edit among the item's VEVENTs with the edit's UID.
fn find_vevent<'c>(
    doc: &Document,
    zones: &ical::Zones,
    same_uid: &[(&'c Comp, Option<EventTime>)],
    edit: &ResponseEdit,
) -> Result<&'c Comp, EditError> {
    let rid_text = edit.recurrence_id.map(|r| r.to_display_string());
    let candidates: Vec<&Comp> = same_uid
        .iter()
        .filter(|(_, rid)| match (rid, &edit.recurrence_id) {
            (None, None) => true,
            (Some(found), Some(wanted)) => same_time(found, wanted),
            _ => false,
        })
        .map(|(ev, _)| *ev)
        .collect();
    Ok(match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(EditError::EventNotFound {
                uid: edit.uid.to_string(),
                recurrence_id: rid_text,
            });
        }
        many if edit.uid.is_empty() => {
            // Events without UID are each their own event; nothing tells
            // which one is meant.
            return Err(EditError::AmbiguousEvent {
                uid: edit.uid.to_string(),
                recurrence_id: rid_text,
                count: many.len(),
            });
        }
        many => latest_revision(doc, many, zones),
    })
}

/// The byte changes (range of the source → new bytes) that make `edit`
/// true of `vevent`; empty when it already is.
fn changes_for(doc: &Document, vevent: &Comp, edit: &ResponseEdit) -> Result<Changes, EditError> {
    let src = doc.src;
    let eol: &[u8] = if doc.lines[vevent.begin].range.end >= 2
        && src.get(doc.lines[vevent.begin].range.end - 2) == Some(&b'\r')
    {
        b"\r\n"
    } else if doc.lines[vevent.begin].has_eol {
        b"\n"
    } else {
        b"\r\n"
    };
    let wanted = ical::address(edit.attendee);
    let mut changes: Changes = Vec::new();

    // The attendee line(s): only the VEVENT's own properties, not an email
    // VALARM's ATTENDEE.
    let mut found = false;
    for (index, prop) in doc.each_uncached(vevent, "ATTENDEE") {
        if ical::address(&prop.value) == wanted {
            found = true;
            let current: Vec<&String> = prop
                .params
                .iter()
                .filter(|p| p.key == "PARTSTAT")
                .flat_map(|p| &p.values)
                .collect();
            if let [only] = current.as_slice()
                && only.eq_ignore_ascii_case(edit.partstat.as_ical())
            {
                // Already the answer: keep the line and its folding as they are.
                continue;
            }
            let line = &doc.lines[index];
            // Rebuild from the raw bytes, not the lossy text, so a Latin-1
            // CN or value survives.
            let raw = ical::unfold(&src[line.range.clone()]);
            let Some(raw_prop) = ical::parse_prop(&raw) else {
                continue;
            };
            changes.push((
                line.range.clone(),
                finish_line(&attendee_line(&raw, &raw_prop, &edit.partstat), line, eol),
            ));
        }
    }
    if !found {
        return Err(EditError::AttendeeNotFound {
            uid: edit.uid.to_string(),
            attendee: edit.attendee.to_string(),
        });
    }

    let insert_at = vevent
        .children
        .iter()
        .map(|c| c.begin)
        .min()
        .map_or(doc.end_offset(vevent), |i| doc.lines[i].range.start);

    let comment_line = edit
        .comment
        .map(|c| format!("COMMENT;X-GATEKEEPER=TRUE:{}", ical::escape_text(c)));
    let comment_lines = own_lines(doc, vevent, "COMMENT", |p| {
        p.name == "COMMENT"
            && p.params.iter().any(|q| {
                q.key == "X-GATEKEEPER" && q.values.iter().any(|v| v.eq_ignore_ascii_case("TRUE"))
            })
    });
    replace_or_insert(
        &mut changes,
        src,
        &doc.lines,
        &comment_lines,
        comment_line,
        insert_at,
        eol,
    );

    let marker_line = edit
        .marker
        .as_ref()
        .map(|m| match rules_param(edit.marker_rules) {
            rules if rules.is_empty() => format!("{MARKER}:{}", m.as_ical()),
            rules => format!("{MARKER};X-GATEKEEPER-RULES={rules}:{}", m.as_ical()),
        });
    let marker_lines = own_lines(doc, vevent, MARKER, |p| p.name == MARKER);
    replace_or_insert(
        &mut changes,
        src,
        &doc.lines,
        &marker_lines,
        marker_line,
        insert_at,
        eol,
    );

    // In order of position. Insertions share one position; a stable sort
    // keeps them in the order they were added.
    changes.sort_by_key(|(range, _)| (range.start, range.end));
    Ok(changes)
}

/// `src` with non-overlapping changes, sorted by position, applied.
fn splice<'c>(src: &[u8], changes: impl Iterator<Item = &'c (Range<usize>, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + 256);
    let mut pos = 0;
    for (range, text) in changes {
        out.extend_from_slice(&src[pos..range.start]);
        out.extend_from_slice(text);
        pos = range.end;
    }
    out.extend_from_slice(&src[pos..]);
    out
}

/// Several answers written into one item in turn, as the daemon writes
/// them (each answer is a write of its own), at the cost of one parse of
/// the item in all rather than one per answer: the item is parsed once,
/// each edit's changes are computed against that parse, and the bytes after
/// every edit are the original with all changes so far applied. The result
/// of each [`ItemEditor::apply`] is byte for byte what
/// [`set_response_bytes`] gives on the previous result. A second edit of a
/// VEVENT already edited in this session (rare: the daemon answers each
/// VEVENT once per pass) goes through [`set_response_bytes`] on the
/// current bytes, and so do all later ones.
pub struct ItemEditor<'a> {
    state: EditorState<'a>,
    /// The item as it stands after the edits so far.
    current: Vec<u8>,
}

enum EditorState<'a> {
    Indexed {
        doc: Box<Document<'a>>,
        zones: Box<ical::Zones>,
        /// Intact VEVENTs by UID (as calendar and child index), with their
        /// RECURRENCE-ID.
        by_uid: UidIndex,
        /// Changes so far, keyed by the VEVENT's BEGIN line.
        edited: std::collections::BTreeMap<usize, Changes>,
    },
    Plain,
}

impl<'a> ItemEditor<'a> {
    pub fn new(src: &'a [u8]) -> Result<ItemEditor<'a>, EditError> {
        let doc = ical::document(src, &Limits::DEFAULT)?;
        let zones = doc.zones();
        let mut by_uid: UidIndex = UidIndex::new();
        let vevents = doc.calendars.iter().enumerate().flat_map(|(c, cal)| {
            cal.children
                .iter()
                .enumerate()
                .map(move |(k, ev)| ((c, k), ev))
        });
        for (i, ev) in vevents {
            if ev.name != "VEVENT" || !ev.intact {
                continue;
            }
            let uid = doc
                .first(ev, "UID")
                .map_or(String::new(), |p| p.value.trim().to_string());
            if let Some(rid) = identity(&doc, ev, &zones) {
                by_uid.entry(uid).or_default().push((i, rid));
            }
        }
        Ok(ItemEditor {
            state: EditorState::Indexed {
                doc: Box::new(doc),
                zones: Box::new(zones),
                by_uid,
                edited: std::collections::BTreeMap::new(),
            },
            current: src.to_vec(),
        })
    }

    /// The item's bytes after the edits committed so far.
    pub fn bytes(&self) -> &[u8] {
        &self.current
    }

    /// What the item becomes with one more edit, without committing it:
    /// the caller writes [`PendingEdit::bytes`] and, only when the write
    /// succeeded, [`ItemEditor::commit`]s it, so a failed write leaves the
    /// editor where the item is.
    pub fn edit(&self, edit: &ResponseEdit) -> Result<PendingEdit, EditError> {
        let EditorState::Indexed {
            doc,
            zones,
            by_uid,
            edited,
        } = &self.state
        else {
            return Ok(PendingEdit {
                bytes: set_response_bytes(&self.current, edit)?,
                change: None,
                leave_index: false,
            });
        };
        let same_uid: Vec<(&Comp, Option<EventTime>)> = by_uid
            .get(edit.uid)
            .map(|list| {
                list.iter()
                    .map(|((c, k), rid)| (&doc.calendars[*c].children[*k], *rid))
                    .collect()
            })
            .unwrap_or_default();
        let vevent = find_vevent(doc, zones, &same_uid, edit)?;
        if edited.contains_key(&vevent.begin) {
            return Ok(PendingEdit {
                bytes: set_response_bytes(&self.current, edit)?,
                change: None,
                leave_index: true,
            });
        }
        let changes = changes_for(doc, vevent, edit)?;
        if changes.is_empty() {
            return Ok(PendingEdit {
                bytes: self.current.clone(),
                change: None,
                leave_index: false,
            });
        }
        let before = edited.range(..vevent.begin).flat_map(|(_, c)| c);
        let after = edited.range(vevent.begin..).flat_map(|(_, c)| c);
        let bytes = splice(doc.src, before.chain(changes.iter()).chain(after));
        Ok(PendingEdit {
            bytes,
            change: Some((vevent.begin, changes)),
            leave_index: false,
        })
    }

    /// Make a pending edit the item's state (its bytes were written).
    pub fn commit(&mut self, pending: PendingEdit) {
        if pending.leave_index {
            self.state = EditorState::Plain;
        }
        if let (EditorState::Indexed { edited, .. }, Some((at, changes))) =
            (&mut self.state, pending.change)
        {
            edited.insert(at, changes);
        }
        self.current = pending.bytes;
    }
}

/// An edit computed by [`ItemEditor::edit`], not yet committed.
pub struct PendingEdit {
    bytes: Vec<u8>,
    /// The VEVENT (BEGIN line) and its changes, in the indexed state.
    change: Option<(usize, Changes)>,
    /// The edit went through `set_response_bytes`: later ones must too.
    leave_index: bool,
}

impl PendingEdit {
    /// The item's bytes with this edit.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Among revisions of one VEVENT, the one the parser reads: highest
/// SEQUENCE, then LAST-MODIFIED, then DTSTAMP, then the later in the file.
fn latest_revision<'a>(doc: &Document, many: &[&'a Comp], zones: &ical::Zones) -> &'a Comp {
    let stamp = |ev: &Comp, name: &str| {
        doc.first(ev, name)
            .and_then(|p| ical::parse_time_prop(p, zones).ok())
            .map(|t| t.to_utc(chrono_tz::UTC))
    };
    let rank = |ev: &Comp| {
        (
            doc.first(ev, "SEQUENCE")
                .and_then(|p| p.value.trim().parse::<i64>().ok())
                .unwrap_or(0),
            stamp(ev, "LAST-MODIFIED"),
            stamp(ev, "DTSTAMP"),
            ev.begin,
        )
    };
    let mut best = many[0];
    for ev in &many[1..] {
        if rank(ev) >= rank(best) {
            best = ev;
        }
    }
    best
}

/// Rule names as one parameter value list. Rule names are snake_case words;
/// anything else is dropped rather than risk breaking the line.
fn rules_param(rules: &[String]) -> String {
    rules
        .iter()
        .filter(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Indices of the VEVENT's own `name` lines that satisfy `pred`. Other
/// lines are told apart by their name bytes, not parsed.
fn own_lines(
    doc: &Document,
    vevent: &Comp,
    name: &str,
    pred: impl Fn(&Prop) -> bool,
) -> Vec<usize> {
    vevent
        .props
        .iter()
        .copied()
        .filter(|i| doc.is_named(*i, name) && doc.prop(*i).is_some_and(&pred))
        .collect()
}

/// Replace the first of `existing` by `new` (or remove it), remove the
/// others, and insert `new` at `insert_at` when there was none. A line that
/// already says `new` is left as it is, folding included.
fn replace_or_insert(
    changes: &mut Changes,
    src: &[u8],
    lines: &[RawLine],
    existing: &[usize],
    new: Option<String>,
    insert_at: usize,
    eol: &[u8],
) {
    let mut new = new;
    for &index in existing {
        let line = &lines[index];
        match new.take() {
            Some(n) if ical::unfold(&src[line.range.clone()]) == n.as_bytes() => {}
            Some(n) => changes.push((line.range.clone(), finish_line(n.as_bytes(), line, eol))),
            None => changes.push((line.range.clone(), Vec::new())),
        }
    }
    if let Some(n) = new {
        let mut text = fold(n.as_bytes(), eol);
        text.extend_from_slice(eol);
        changes.push((insert_at..insert_at, text));
    }
}

/// A rewritten line, folded, with a line break when the original had one.
fn finish_line(text: &[u8], original: &RawLine, eol: &[u8]) -> Vec<u8> {
    let mut s = fold(text, eol);
    if original.has_eol {
        s.extend_from_slice(eol);
    }
    s
}

/// The ATTENDEE line with PARTSTAT set: every other parameter is copied as
/// written (quotes and bytes included), a PARTSTAT parameter is replaced in
/// place or appended at the end of the parameters. `line` is the raw
/// unfolded line and `prop` its parse.
fn attendee_line(line: &[u8], prop: &Prop, partstat: &PartStat) -> Vec<u8> {
    let mut out = line[prop.name_raw.clone()].to_vec();
    let mut replaced = false;
    for param in &prop.params {
        if param.key == "PARTSTAT" {
            if replaced {
                // A duplicate PARTSTAT would contradict the new one.
                continue;
            }
            out.extend_from_slice(b";PARTSTAT=");
            out.extend_from_slice(partstat.as_ical().as_bytes());
            replaced = true;
        } else {
            out.push(b';');
            out.extend_from_slice(&line[param.raw.clone()]);
        }
    }
    if !replaced {
        out.extend_from_slice(b";PARTSTAT=");
        out.extend_from_slice(partstat.as_ical().as_bytes());
    }
    out.push(b':');
    out.extend_from_slice(&line[prop.value_start..]);
    out
}

/// Fold a content line at 75 octets without splitting a UTF-8 character
/// (a fold never goes before a continuation byte, unless a run of them is
/// longer than any character, as in non-UTF-8 text); continuation lines
/// start with one space (RFC 5545 §3.1).
fn fold(line: &[u8], eol: &[u8]) -> Vec<u8> {
    const LIMIT: usize = 75;
    let mut out = Vec::with_capacity(line.len() + line.len() / 70 * 3);
    let mut used = 0;
    let mut i = 0;
    while i < line.len() {
        // The next unit: a byte and the continuation bytes after it (at
        // most three).
        let mut j = i + 1;
        while j < line.len() && j - i < 4 && (line[j] & 0xC0) == 0x80 {
            j += 1;
        }
        let width = j - i;
        if used + width > LIMIT {
            out.extend_from_slice(eol);
            out.push(b' ');
            used = 1;
        }
        out.extend_from_slice(&line[i..j]);
        used += width;
        i = j;
    }
    out
}

/// Two RECURRENCE-ID values name the same instance: equal instants, equal
/// wall-clock times for floating values, equal dates when either is a date.
fn same_time(a: &EventTime, b: &EventTime) -> bool {
    use EventTime as T;
    let wall = |t: &EventTime| match t {
        T::Utc(u) => u.naive_utc(),
        T::Zoned(z) => z.naive_local(),
        T::Floating(n) => *n,
        T::Date(d) => d.and_time(chrono::NaiveTime::MIN),
    };
    match (a, b) {
        (T::Date(_), _) | (_, T::Date(_)) => wall(a).date() == wall(b).date(),
        (T::Floating(_), _) | (_, T::Floating(_)) => wall(a) == wall(b),
        _ => a.to_utc(chrono_tz::UTC) == b.to_utc(chrono_tz::UTC),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ical::parse_ics;
    use chrono::TimeZone;

    /// Physical lines removed (`-`) and added (`+`), line breaks included,
    /// from a longest-common-subsequence line diff.
    fn diff(a: &str, b: &str) -> Vec<String> {
        let a: Vec<&str> = a.split_inclusive('\n').collect();
        let b: Vec<&str> = b.split_inclusive('\n').collect();
        let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                i += 1;
                j += 1;
            } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
                out.push(format!("-{}", a[i]));
                i += 1;
            } else {
                out.push(format!("+{}", b[j]));
                j += 1;
            }
        }
        out
    }

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART:20260302T090000Z\r\nSUMMARY:Series\r\nRRULE:FREQ=DAILY;COUNT=3\r\nATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\nATTENDEE;CN=Bob:mailto:bob@example.com\r\nX-UNKNOWN;X-P=\"a:b\":keep me\r\nBEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE:mailto:jane@example.com\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20260303T090000Z\r\nDTSTART:20260303T100000Z\r\nSUMMARY:Moved\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:jane@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\ntrailing bytes";

    fn edit<'a>(
        recurrence_id: Option<EventTime>,
        attendee: &'a str,
        partstat: PartStat,
    ) -> ResponseEdit<'a> {
        ResponseEdit {
            uid: "u1",
            recurrence_id,
            attendee,
            partstat,
            comment: None,
            marker: None,
            marker_rules: &[],
        }
    }

    /// Apply an edit and compare the line diff.
    fn check(input: &str, e: &ResponseEdit, expect: &[&str]) -> String {
        let out = set_response(input, e).expect("edit applies");
        assert_eq!(diff(input, &out), expect);
        out
    }

    #[test]
    fn partstat_replaced_keeping_other_params_and_quotes() {
        let out = check(
            CAL,
            &edit(None, "MAILTO:JANE@example.com", PartStat::Accepted),
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:ma\r\n",
                "+ ilto:Jane@Example.com\r\n",
            ],
        );
        let before = parse_ics(CAL).expect("parses");
        let after = parse_ics(&out).expect("parses");
        let mut expected = before.events.clone();
        expected[0].attendees[0].partstat = PartStat::Accepted;
        assert_eq!(after.events, expected, "only the partstat changed");
    }

    #[test]
    fn partstat_appended_when_missing() {
        check(
            CAL,
            &edit(None, "bob@example.com", PartStat::Declined),
            &[
                "-ATTENDEE;CN=Bob:mailto:bob@example.com\r\n",
                "+ATTENDEE;CN=Bob;PARTSTAT=DECLINED:mailto:bob@example.com\r\n",
            ],
        );
    }

    #[test]
    fn override_edited_without_touching_the_master() {
        let rid = Some(EventTime::Zoned(
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 3, 3, 10, 0, 0)
                .single()
                .expect("valid"),
        ));
        let out = check(
            CAL,
            &edit(rid, "jane@example.com", PartStat::Tentative),
            &[
                "-ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:jane@example.com\r\n",
                "+ATTENDEE;PARTSTAT=TENTATIVE:mailto:jane@example.com\r\n",
            ],
        );
        let after = parse_ics(&out).expect("parses");
        assert_eq!(after.events[0], parse_ics(CAL).expect("parses").events[0]);
        assert_eq!(after.events[1].attendees[0].partstat, PartStat::Tentative);
    }

    #[test]
    fn the_marker_carries_the_rules_the_answer_stands_on() {
        let rules = vec![
            "agenda".to_string(),
            "working_hours".to_string(),
            // Not a rule name: dropped rather than break the line.
            "bad,name:x".to_string(),
        ];
        let mut e = edit(None, "jane@example.com", PartStat::Declined);
        e.marker = Some(PartStat::Declined);
        e.marker_rules = &rules;
        let out = set_response(CAL, &e).expect("edit applies");
        assert!(
            out.contains(
                "X-GATEKEEPER-PARTSTAT;X-GATEKEEPER-RULES=agenda,working_hours:DECLINED\r\n"
            ),
            "{out}"
        );
        let event = &parse_ics(&out).expect("parses").events[0];
        assert_eq!(event.gatekeeper_partstat, Some(PartStat::Declined));
        assert_eq!(
            event.gatekeeper_rules,
            Some(vec!["agenda".to_string(), "working_hours".to_string()])
        );
        // A marker written without rules (an older gatekeeper) says nothing
        // about them.
        e.marker_rules = &[];
        let plain = set_response(CAL, &e).expect("edit applies");
        assert_eq!(
            parse_ics(&plain).expect("parses").events[0].gatekeeper_rules,
            None
        );
    }

    #[test]
    fn comment_and_marker_add_replace_remove() {
        let mut e = edit(None, "jane@example.com", PartStat::Declined);
        e.comment = Some("Busy; focus time, sorry\nnext week?");
        e.marker = Some(PartStat::Declined);
        let added = check(
            CAL,
            &e,
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;RSVP=TRUE:ma\r\n",
                "+ ilto:Jane@Example.com\r\n",
                "+COMMENT;X-GATEKEEPER=TRUE:Busy\\; focus time\\, sorry\\nnext week?\r\n",
                "+X-GATEKEEPER-PARTSTAT:DECLINED\r\n",
            ],
        );
        // New lines go before the VALARM, inside the master.
        assert!(added.contains("X-GATEKEEPER-PARTSTAT:DECLINED\r\nBEGIN:VALARM"));
        assert_eq!(
            parse_ics(&added).expect("parses").events[0].gatekeeper_partstat,
            Some(PartStat::Declined)
        );

        e.comment = Some("Replaced");
        e.marker = Some(PartStat::Accepted);
        e.partstat = PartStat::Accepted;
        check(
            &added,
            &e,
            &[
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;RSVP=TRUE:ma\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:ma\r\n",
                "-COMMENT;X-GATEKEEPER=TRUE:Busy\\; focus time\\, sorry\\nnext week?\r\n",
                "-X-GATEKEEPER-PARTSTAT:DECLINED\r\n",
                "+COMMENT;X-GATEKEEPER=TRUE:Replaced\r\n",
                "+X-GATEKEEPER-PARTSTAT:ACCEPTED\r\n",
            ],
        );

        e.comment = None;
        e.marker = None;
        e.partstat = PartStat::NeedsAction;
        // Removing comment and marker restores the original bytes except for
        // the refolded attendee line.
        let removed = set_response(&added, &e).expect("edit applies");
        assert_eq!(
            diff(CAL, &removed),
            [
                "-ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:Jane@Example.com\r\n",
                "+ATTENDEE;CN=\"Doe, Jane\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRU\r\n",
                "+ E:mailto:Jane@Example.com\r\n",
            ]
        );
        assert_eq!(
            parse_ics(&removed).expect("parses"),
            parse_ics(CAL).expect("parses")
        );
    }

    #[test]
    fn unchanged_response_leaves_the_bytes_alone() {
        let e = edit(None, "jane@example.com", PartStat::NeedsAction);
        assert_eq!(set_response(CAL, &e).expect("edit applies"), CAL);
    }

    #[test]
    fn long_comment_is_folded_without_splitting_characters() {
        let lf = CAL.replace("\r\n", "\n");
        let mut e = edit(None, "bob@example.com", PartStat::Accepted);
        let comment = "Ünïcödé ".repeat(12);
        e.comment = Some(&comment);
        let out = set_response(&lf, &e).expect("edit applies");
        assert!(!out.contains('\r'), "LF file stays LF");
        let added: Vec<String> = diff(&lf, &out)
            .into_iter()
            .filter(|l| l.starts_with('+'))
            .collect();
        for line in &added {
            // One for the `+` of the diff and one for the line break.
            assert!(line.len() <= 77, "{line:?} is {} octets", line.len() - 2);
        }
        assert!(
            added.iter().filter(|l| l.starts_with("+ ")).count() >= 2,
            "{added:?}"
        );
        let doc = ical::document(out.as_bytes(), &Limits::DEFAULT).expect("parses");
        let comment_text = (0..doc.lines.len())
            .filter_map(|i| doc.prop(i))
            .find(|p| p.name == "COMMENT")
            .map(|p| ical::unescape_text(&p.value));
        assert_eq!(comment_text, Some(comment.clone()));
    }

    #[test]
    fn errors() {
        let e = ResponseEdit {
            uid: "nope",
            ..edit(None, "jane@example.com", PartStat::Accepted)
        };
        assert!(matches!(
            set_response(CAL, &e),
            Err(EditError::EventNotFound { .. })
        ));
        let e = edit(
            Some(EventTime::Utc(
                chrono::Utc
                    .with_ymd_and_hms(2026, 3, 4, 9, 0, 0)
                    .single()
                    .expect("valid"),
            )),
            "jane@example.com",
            PartStat::Accepted,
        );
        assert!(matches!(
            set_response(CAL, &e),
            Err(EditError::EventNotFound { .. })
        ));
        let e = edit(None, "carol@example.com", PartStat::Accepted);
        assert_eq!(
            set_response(CAL, &e)
                .expect_err("no such attendee")
                .to_string(),
            "VEVENT \"u1\" has no ATTENDEE \"carol@example.com\""
        );
        assert!(matches!(set_response("hello", &e), Err(EditError::Ics(_))));
    }
}
