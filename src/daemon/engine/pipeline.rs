//! The pass over one source: take what changed since the stored cursors,
//! remember protected time and what is gone, screen each group of events,
//! write answers through the source (conditional on the version decided
//! on: a refused write is read again and decided again), and store the
//! batch's cursor only once all of it is done. Nothing here knows which
//! backend it talks to.

use super::*;
use crate::calendar::EventType;
use crate::policy::evaluate::{ProtectedBlock, ProtectedKind};
use crate::source::{Batch, Change, Entry, Reread, SourceError, SyncRequest, Target};

/// How often one invite is decided in a pass when its copy keeps changing
/// under gatekeeper's conditional writes.
const MAX_DECISION_ROUNDS: u32 = 3;

/// When gatekeeper last wrote to each event shared between members' copies
/// this pass: every participant's copy changed then (their attendee lists
/// show the answer), so a copy read before is stale and its write would
/// only be refused.
type Written = HashMap<String, std::time::Instant>;

impl<S: Store> Engine<S> {
    /// Sync one source (only `only`'s members when given) and screen what
    /// changed.
    pub(super) fn sync(
        &mut self,
        source: &dyn CalendarSource,
        only: Option<&[String]>,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let name = source.name();
        let mode = source.mode().unwrap_or(self.config.mode);
        let mut members = Vec::new();
        for m in source.members() {
            if only.is_some_and(|o| !o.contains(m)) || !self.serves(m) {
                continue;
            }
            if self.team.policy_for(m).is_none() {
                report.fail(name, Some(m), "not a member in any policy; skipped");
                continue;
            }
            members.push(m.clone());
        }
        if members.is_empty() {
            return Ok(());
        }
        let cursors = self.store.cursors(name)?;
        let request = SyncRequest {
            members: Some(&members),
            now,
            horizon_days: self.config.horizon_days,
        };
        let mut written = Written::new();
        let mut result = Ok(());
        for change in source.changes(&cursors, request) {
            report.api_calls += source.take_calls();
            match change {
                Change::Cursor(op) => {
                    result = apply_cursor(&mut self.store, name, &op);
                }
                Change::Failed { member, error } => {
                    report.fail(name, member.as_deref(), error.to_string());
                }
                Change::Batch(mut batch) => {
                    if self.interrupted(report) {
                        // Unfinished batches keep their old cursors: the
                        // next pass sees them again.
                        break;
                    }
                    if !self.serves(&batch.member) {
                        // The lease ran out mid-pass: its cursor stays, and
                        // whoever holds the member now reads it again.
                        continue;
                    }
                    result = self
                        .screen_batch(source, &mut batch, mode, now, &mut written, report)
                        .and_then(|complete| {
                            if complete {
                                for op in source.finish(&batch) {
                                    apply_cursor(&mut self.store, name, &op)?;
                                }
                            }
                            Ok(())
                        });
                }
            }
            if result.is_err() {
                break;
            }
        }
        report.api_calls += source.take_calls();
        result
    }

    /// Bring the burden ledger up to date from every changed item of a
    /// source that can look at its changes without consuming them, before
    /// anything is decided, so the pass's snapshot already counts meetings
    /// accepted in items it has not screened yet, whatever the order of the
    /// sources. Only the ledger is written.
    pub(super) fn prime_ledger(
        &mut self,
        source: &dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let fair = |m: &String| self.team.policy_for(m).is_some_and(|p| p.fairness.enabled);
        if !source.can_peek() || !source.members().iter().any(fair) {
            return Ok(());
        }
        let name = source.name();
        let mode = source.mode().unwrap_or(self.config.mode);
        let cursors = self.store.cursors(name)?;
        let request = SyncRequest {
            members: None,
            now,
            horizon_days: self.config.horizon_days,
        };
        for change in source.changes(&cursors, request) {
            let Change::Batch(mut batch) = change else {
                continue;
            };
            if !self.serves(&batch.member) {
                continue;
            }
            if self.interrupted(report) {
                return Ok(());
            }
            let Some(policy) = self
                .team
                .policy_for(&batch.member)
                .filter(|p| p.fairness.enabled)
                .cloned()
            else {
                continue;
            };
            let tz = policy.member(&batch.member).map_or(Tz::UTC, |m| m.tz);
            let series = std::mem::take(&mut batch.series);
            let unit = Unit {
                source: name,
                member: &batch.member,
                mode,
                item: &batch.item,
            };
            for group in series {
                let events: Vec<Event> = group.into_iter().map(|e| e.event).collect();
                for idx in 0..events.len() {
                    self.record_burden(&unit, &policy, tz, &events, idx, now)?;
                }
            }
        }
        Ok(())
    }

    /// Screen every event of one batch. Returns whether all of it is done
    /// (then its cursor may move).
    fn screen_batch(
        &mut self,
        source: &dyn CalendarSource,
        batch: &mut Batch,
        mode: Mode,
        now: DateTime<Utc>,
        written: &mut Written,
        report: &mut RunReport,
    ) -> Result<bool, StoreError> {
        let name = source.name();
        report.items_read += batch.items_read;
        report.problems.append(&mut batch.problems);
        let Some(policy) = self.team.policy_for(&batch.member).cloned() else {
            return Ok(true);
        };
        let tz = policy.member(&batch.member).map_or(Tz::UTC, |m| m.tz);
        let series = std::mem::take(&mut batch.series);
        let member = batch.member.clone();
        let unit = Unit {
            source: name,
            member: &member,
            mode,
            item: &batch.item,
        };
        self.remember_protected(&unit, tz, &series, now)?;
        self.forget_gone(&unit, batch, now)?;
        // Events without UID are each their own event, and nothing in the
        // item says which of several an answer belongs to: such an item is
        // read (warned about once, its version remembered) but answered
        // for none of them, rather than failing a write every pass.
        let without_uid = series
            .iter()
            .flatten()
            .filter(|e| e.event.uid.is_empty())
            .count();
        if without_uid > 1 {
            report.problems.push(format!(
                "{}: {without_uid} events without UID in one file; gatekeeper cannot tell which one an answer belongs to, so it answers none of them",
                item_path(&unit)
            ));
        }
        let scope = Scope {
            source,
            unit,
            policy: &policy,
            tz,
            now,
        };
        let mut complete = true;
        for group in series {
            if self.interrupted(report) {
                return Ok(false);
            }
            let (events, targets) = group.into_iter().map(|e| (e.event, e.target)).unzip();
            let mut series = Series { events, targets };
            for idx in 0..series.events.len() {
                if series.events[idx].uid.is_empty() && without_uid > 1 {
                    continue;
                }
                // A copy read before gatekeeper wrote to the same event
                // through another member's copy is read again first.
                if let Some(id) = &series.targets[idx].shared_id
                    && written.get(id).is_some_and(|at| *at > batch.read_at)
                    && let Ok(Reread::Copy(fresh)) = source.reread(&series.targets[idx])
                {
                    series.replace(idx, *fresh);
                }
                complete &= self.decide(&scope, &mut series, idx, written, report)?;
            }
        }
        Ok(complete)
    }

    /// Screen one event and write its answer. A refused write (the copy
    /// changed since it was read) is decided again on a fresh copy: a
    /// member's own answer that arrived meanwhile then wins by the usual
    /// ownership rules. Bounded: a copy that keeps changing is left to the
    /// next pass. Returns whether the event is done.
    fn decide(
        &mut self,
        scope: &Scope<'_>,
        series: &mut Series,
        idx: usize,
        written: &mut Written,
        report: &mut RunReport,
    ) -> Result<bool, StoreError> {
        let (source, unit) = (scope.source, &scope.unit);
        let mut rounds = 0;
        // The row of a refused write, until a later round settles it.
        let mut refused: Option<Box<DecisionRecord>> = None;
        loop {
            // Several instances: a lease that ran out during a long batch
            // means another instance may hold the member now. Stop before
            // deciding; the batch stays unfinished and its cursor where it
            // was, so the holder decides it.
            if !self.serves(unit.member) {
                return Ok(false);
            }
            rounds += 1;
            let target = series.targets[idx].clone();
            let mut conflict = false;
            let mut landed = false;
            let mut responder = |event: &Event, w: &Write| -> Result<(), String> {
                match source.write(&target, event, w) {
                    Ok(()) => {
                        landed = true;
                        Ok(())
                    }
                    Err(e) => {
                        conflict = matches!(e, SourceError::Conflict { .. });
                        Err(e.to_string())
                    }
                }
            };
            let screen = Screen {
                unit,
                policy: scope.policy,
                tz: scope.tz,
                group: &series.events,
                idx,
                now: scope.now,
            };
            let outcome = self.screen_event(&screen, &mut responder)?;
            report.api_calls += source.take_calls();
            if landed && let Some(id) = &target.shared_id {
                written.insert(id.clone(), std::time::Instant::now());
            }
            let Screened::Decided(record) = outcome else {
                // Decided again and nothing is to be written (the member
                // answered meanwhile): the refused write's row says so
                // instead of "failed".
                if let Some(r) = refused.take() {
                    self.settle_refused(&r)?;
                }
                return Ok(true);
            };
            if conflict && rounds < MAX_DECISION_ROUNDS {
                match source.reread(&target) {
                    Ok(Reread::Copy(fresh)) => {
                        tracing::info!(
                            "source `{}`: `{}`: event `{}` changed while it was being answered; deciding again",
                            unit.source,
                            unit.member,
                            target.href
                        );
                        series.replace(idx, *fresh);
                        refused = Some(record);
                        continue;
                    }
                    // Deleted meanwhile: nothing left to answer.
                    Ok(Reread::Gone) => {
                        self.settle_refused(&record)?;
                        return Ok(true);
                    }
                    // Read again with its batch next pass.
                    Ok(Reread::NextPass) => {}
                    Err(e) => report.fail(
                        unit.source,
                        Some(unit.member),
                        format!("cannot read event `{}` again: {e}", target.href),
                    ),
                }
            }
            let done = record.outcome != Outcome::Failed;
            // `emit` counts a failed write as a failure of the pass.
            self.emit(report, *record);
            return Ok(done);
        }
    }

    /// The member's own focus time and out-of-office blocks are remembered:
    /// later invites are checked against them, and an incremental sync
    /// will not send them again.
    fn remember_protected(
        &mut self,
        unit: &Unit<'_>,
        tz: Tz,
        series: &[Vec<Entry>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for e in series.iter().flatten() {
            let kind = match e.event.event_type {
                EventType::FocusTime => ProtectedKind::FocusTime,
                EventType::OutOfOffice => ProtectedKind::OutOfOffice,
                _ => continue,
            };
            let spans = upcoming_spans(
                std::slice::from_ref(&e.event),
                0,
                tz,
                now,
                self.config.horizon_days,
                500,
            );
            let blocks: Vec<ProtectedBlock> = spans
                .into_iter()
                .map(|span| ProtectedBlock { span, kind })
                .collect();
            self.store.replace_protected(
                unit.source,
                &unit.item.calendar,
                &e.target.href,
                &blocks,
            )?;
        }
        Ok(())
    }

    /// A deleted event or occurrence comes off the member's protected time
    /// and burden ledger.
    fn forget_gone(
        &mut self,
        unit: &Unit<'_>,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for g in &batch.gone {
            if let Some(id) = &g.protected_id {
                self.store
                    .replace_protected(unit.source, &unit.item.calendar, id, &[])?;
            }
            let item = BurdenItem {
                source: unit.source.to_string(),
                calendar: unit.item.calendar.clone(),
                uid: g.uid.clone(),
                recurrence_id: g.recurrence_id.clone(),
            };
            match g.occurrence {
                Some(start) => self.store.remove_burden(&item, start, unit.member)?,
                None => self.store.replace_burden(&item, unit.member, now, &[])?,
            }
        }
        Ok(())
    }

    /// Finish the log row of a refused write once deciding again on the
    /// fresh copy found nothing to write: it is `no_change` with the
    /// reason, not `failed`, and its screening stays as the second
    /// decision left it.
    fn settle_refused(&mut self, record: &DecisionRecord) -> Result<(), StoreError> {
        let key = ScreeningKey {
            source: record.source.clone(),
            calendar: record.calendar.clone(),
            uid: record.uid.clone(),
            recurrence_id: record.recurrence_id.clone(),
            member: record.member.clone(),
        };
        let Some(screening) = self.store.screening(&key)? else {
            return Ok(());
        };
        // Only a row the second decision did not take over.
        if screening.decision_id.is_some_and(|id| id != record.id) || !screening.complete {
            return Ok(());
        }
        self.store.finish_decision(
            record.id,
            Outcome::NoChange,
            Some("the event changed before gatekeeper's answer landed; decided again on the new version, nothing to write"),
            &screening,
        )
    }
}

/// A batch being screened: where it comes from and what decides it.
struct Scope<'a> {
    source: &'a dyn CalendarSource,
    unit: Unit<'a>,
    policy: &'a Policy,
    tz: Tz,
    now: DateTime<Utc>,
}

/// One series of a batch as it stands: its events (as a source groups
/// them) and where each one's answer goes.
struct Series {
    events: Vec<Event>,
    targets: Vec<Target>,
}

impl Series {
    /// Put a fresh copy of event `idx` in place of the one read before.
    fn replace(&mut self, idx: usize, fresh: Entry) {
        self.events[idx] = fresh.event;
        self.targets[idx] = fresh.target;
    }
}

/// How an item is named in problems: `source:calendar/item`.
fn item_path(unit: &Unit<'_>) -> String {
    if unit.item.calendar.is_empty() {
        format!("{}:{}", unit.source, unit.item.href)
    } else {
        format!("{}:{}/{}", unit.source, unit.item.calendar, unit.item.href)
    }
}
