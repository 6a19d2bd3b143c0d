//! The local-calendar side of a pass: list a vdir source's items, read
//! the changed ones, screen their events, write answers back into the file,
//! and remember each item's etag and events as its cursor.

use super::*;

impl<S: Store> Engine<S> {
    pub(super) fn sync_source(
        &mut self,
        cfg: &SourceConfig,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let SourceConfig::Vdir {
            name, member, mode, ..
        } = cfg
        else {
            return Ok(());
        };
        let mode = mode.unwrap_or(self.config.mode);
        if self.team.policy_for(member).is_none() {
            report.fail(name, Some(member), "not a member in any policy; skipped");
            return Ok(());
        }
        let items = match backend.list() {
            Ok(items) => items,
            Err(e) => {
                report.fail(name, Some(member), e.to_string());
                return Ok(());
            }
        };
        let cursors = self.store.cursors(name)?;
        let mut listed = HashSet::new();
        for item in &items {
            listed.insert((item.calendar.clone(), item.href.clone()));
            let seen = cursors.get(&(item.calendar.clone(), item.href.clone()));
            if seen.is_some_and(|c| VdirCursor::parse(c).etag == item.etag) {
                continue;
            }
            if self.interrupted(report) {
                // Unfinished items keep their old cursors; files that
                // vanished are dealt with by the pass that gets there.
                return Ok(());
            }
            let unit = Unit {
                source: name,
                member,
                mode,
                item,
            };
            if let Some(cursor) = self.screen_item(&unit, backend, now, report)? {
                self.store
                    .set_cursor(name, &item.calendar, &item.href, &cursor.to_string())?;
            }
        }
        for ((calendar, href), cursor) in &cursors {
            if !listed.contains(&(calendar.clone(), href.clone())) {
                // The file is gone (vdirsyncer deletes it when the server
                // does): its meetings come off the member's burden ledger.
                for (uid, recurrence_id) in VdirCursor::parse(cursor).events {
                    let item = BurdenItem {
                        source: name.clone(),
                        calendar: calendar.clone(),
                        uid,
                        recurrence_id,
                    };
                    self.store.replace_burden(&item, member, now, &[])?;
                }
                self.store.remove_cursor(name, calendar, href)?;
            }
        }
        Ok(())
    }

    /// Bring the burden ledger up to date from every changed item of a
    /// local source before anything is decided, so the pass's snapshot
    /// already counts meetings accepted in files it has not screened yet,
    /// whatever the order of the sources. Only the ledger is written.
    pub(super) fn prime_ledger(
        &mut self,
        cfg: &SourceConfig,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let SourceConfig::Vdir {
            name, member, mode, ..
        } = cfg
        else {
            return Ok(());
        };
        let Some(policy) = self.team.policy_for(member).cloned() else {
            return Ok(());
        };
        if !policy.fairness.enabled {
            return Ok(());
        }
        let tz = policy.member(member).map_or(Tz::UTC, |m| m.tz);
        let Ok(items) = backend.list() else {
            return Ok(());
        };
        let cursors = self.store.cursors(name)?;
        for item in &items {
            let seen = cursors.get(&(item.calendar.clone(), item.href.clone()));
            if seen.is_some_and(|c| VdirCursor::parse(c).etag == item.etag) {
                continue;
            }
            if self.interrupted(report) {
                return Ok(());
            }
            let Ok(text) = backend.read(item) else {
                continue;
            };
            let Ok(parsed) = parse_ics_bytes_with(&text, &self.config.limits.ical()) else {
                continue;
            };
            let unit = Unit {
                source: name,
                member,
                mode: mode.unwrap_or(self.config.mode),
                item,
            };
            for group in group_by_uid(parsed.events) {
                for idx in 0..group.len() {
                    self.record_burden(&unit, &policy, tz, &group, idx, now)?;
                }
            }
        }
        Ok(())
    }

    /// Screen every invite in one item. Returns the cursor to remember, or
    /// `None` when something must be retried on the next pass.
    pub(super) fn screen_item(
        &mut self,
        unit: &Unit<'_>,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<Option<VdirCursor>, StoreError> {
        let path = item_path(unit);
        let text = match backend.read(unit.item) {
            Ok(t) => t,
            Err(e @ crate::source::SourceError::TooLarge { .. }) => {
                report.problems.push(format!("{path}: {e}; skipped"));
                // Remember the etag: the file is looked at again only when
                // it changes, so later passes do not trip on it.
                return Ok(Some(VdirCursor::new(unit.item.etag.clone())));
            }
            Err(e) => {
                report.fail(unit.source, Some(unit.member), e.to_string());
                return Ok(None);
            }
        };
        report.items_read += 1;
        let parsed = match parse_ics_bytes_with(&text, &self.config.limits.ical()) {
            Ok(p) => p,
            Err(e) => {
                report.problems.push(format!("{path}: {e}; skipped"));
                // Remember the etag: the file is read again when it changes.
                return Ok(Some(VdirCursor::new(unit.item.etag.clone())));
            }
        };
        for p in &parsed.problems {
            report.problems.push(format!("{path}: {p}"));
        }
        let Some(policy) = self.team.policy_for(unit.member).cloned() else {
            return Ok(Some(VdirCursor::new(unit.item.etag.clone())));
        };
        let tz = policy.member(unit.member).map_or(Tz::UTC, |m| m.tz);

        // One parse of the item for all the answers written into it.
        let editor = match ItemEditor::new(&text) {
            Ok(e) => e,
            Err(e) => {
                report.problems.push(format!("{path}: {e}; skipped"));
                return Ok(Some(VdirCursor::new(unit.item.etag.clone())));
            }
        };
        let mut current = CurrentItem {
            editor,
            item: unit.item.clone(),
        };
        let mut complete = true;
        let mut events = Vec::new();
        // Events without UID are each their own event, and nothing in the
        // file says which of several an answer belongs to: such a file is
        // read (warned about once, its version remembered) but answered
        // for none of them, rather than failing a write every pass.
        let without_uid = parsed.events.iter().filter(|e| e.uid.is_empty()).count();
        if without_uid > 1 {
            report.problems.push(format!(
                "{path}: {without_uid} events without UID in one file; gatekeeper cannot tell which one an answer belongs to, so it answers none of them"
            ));
        }
        for group in group_by_uid(parsed.events) {
            for idx in 0..group.len() {
                let e = &group[idx];
                if e.uid.is_empty() && without_uid > 1 {
                    continue;
                }
                events.push((unit.uid_of(e), e.recurrence_key()));
                let mut responder = |event: &Event, w: &Write| {
                    apply(&mut current, &mut *backend, event, unit.member, w)
                };
                match self.screen_event(unit, &policy, tz, &group, idx, &mut responder, now)? {
                    Screened::Skipped => {}
                    Screened::Decided(record) => {
                        if record.outcome == Outcome::Failed {
                            complete = false;
                        }
                        self.emit(report, *record);
                    }
                }
            }
        }
        Ok(complete.then_some(VdirCursor {
            etag: current.item.etag,
            events,
        }))
    }
}

/// Make every item of a local source look changed (its etag forgotten,
/// the events it held kept), so the next pass reads it again.
pub(super) fn stale_cursors<S: Store>(store: &mut S, source: &str) -> Result<(), StoreError> {
    for ((calendar, href), cursor) in store.cursors(source)? {
        let mut c = VdirCursor::parse(&cursor);
        c.etag.clear();
        store.set_cursor(source, &calendar, &href, &c.to_string())?;
    }
    Ok(())
}

/// What the store remembers of a local calendar file: its etag, and the
/// events it held (so a deleted file's meetings can leave the burden
/// ledger). Stored as one string, fields split by control characters that
/// never appear in an etag or a UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VdirCursor {
    etag: String,
    /// (UID, recurrence id or "").
    events: Vec<(String, String)>,
}

impl VdirCursor {
    pub(super) fn new(etag: String) -> VdirCursor {
        VdirCursor {
            etag,
            events: Vec::new(),
        }
    }

    pub(super) fn parse(s: &str) -> VdirCursor {
        let mut parts = s.split('\u{1f}');
        let etag = parts.next().unwrap_or_default().to_string();
        let events = parts
            .map(|p| match p.split_once('\u{1e}') {
                Some((uid, rid)) => (uid.to_string(), rid.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        VdirCursor { etag, events }
    }
}

impl std::fmt::Display for VdirCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.etag)?;
        for (uid, rid) in &self.events {
            write!(f, "\u{1f}{uid}\u{1e}{rid}")?;
        }
        Ok(())
    }
}

/// The item's bytes and etag as they stand after gatekeeper's own writes.
pub(super) struct CurrentItem<'a> {
    editor: ItemEditor<'a>,
    item: ItemRef,
}

pub(super) fn apply(
    current: &mut CurrentItem<'_>,
    backend: &mut dyn CalendarSource,
    event: &Event,
    member: &str,
    w: &Write,
) -> Result<(), String> {
    let edit = ResponseEdit {
        uid: &event.uid,
        recurrence_id: event.recurrence_id,
        attendee: member,
        partstat: w.partstat.clone(),
        comment: w.comment.as_deref(),
        marker: w.marker.clone(),
        marker_rules: &w.rules,
    };
    let pending = current.editor.edit(&edit).map_err(|e| e.to_string())?;
    let etag = backend
        .write(&current.item, pending.bytes())
        .map_err(|e| e.to_string())?;
    // Only a written answer becomes the editor's state.
    current.editor.commit(pending);
    current.item.etag = etag;
    Ok(())
}

pub(super) fn item_path(unit: &Unit<'_>) -> String {
    if unit.item.calendar.is_empty() {
        format!("{}:{}", unit.source, unit.item.href)
    } else {
        format!("{}:{}/{}", unit.source, unit.item.calendar, unit.item.href)
    }
}
