//! The I/O around the decision core: read changed items from each source,
//! map events into invites, ask the core, write the answer, log it.
//!
//! **Invariant:** every action is logged as pending before it is taken and
//! finished after, and an item's sync cursor moves only once everything in
//! it is done. A crash at any point therefore leads the next run to finish
//! the job, never to act twice or to forget an invite.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::screen::{self, Ownership, Write};
use super::team::Team;
use crate::calendar::edit::{ResponseEdit, set_response};
use crate::calendar::ical::parse_ics;
use crate::calendar::recurrence::{expand, group_by_uid};
use crate::calendar::{Event, EventTime, Status};
use crate::config::{Config, Mode, SourceConfig};
use crate::policy::{Context, Invite, Policy, Span, evaluate};
use crate::source::vdir::VdirSource;
use crate::source::{CalendarSource, ItemRef};
use crate::store::{DecisionRecord, Outcome, Screening, ScreeningKey, Store, StoreError};

pub struct Engine<S: Store> {
    pub config: Config,
    pub store: S,
    pub team: Team,
    sources: Vec<(SourceConfig, Box<dyn CalendarSource>)>,
}

/// What one pass over every source did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// New decision-log entries, in order.
    pub decisions: Vec<DecisionRecord>,
    /// Files and events that were skipped, each with its path and reason.
    pub problems: Vec<String>,
    /// Items read and parsed (unchanged items are not read).
    pub items_read: usize,
}

/// The invite's place in a source, for log rows and edits.
struct Unit<'a> {
    source: &'a str,
    member: &'a str,
    mode: Mode,
    item: &'a ItemRef,
}

impl<S: Store> Engine<S> {
    pub fn new(config: Config, store: S, team: Team) -> Engine<S> {
        let sources = config
            .sources
            .iter()
            .map(|s| {
                let backend: Box<dyn CalendarSource> = match s {
                    SourceConfig::Vdir { path, .. } => Box::new(VdirSource::new(path.clone())),
                };
                (s.clone(), backend)
            })
            .collect();
        Engine {
            config,
            store,
            team,
            sources,
        }
    }

    /// Replace the policies (after a reload). The next pass re-reads every
    /// item so the new rules apply to invites already seen.
    pub fn set_team(&mut self, team: Team) {
        self.team = team;
    }

    /// One pass over every source.
    pub fn run_once(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        let team_hash = self.team.combined_hash();
        if self.store.meta("policy_hash")?.as_deref() != Some(team_hash.as_str()) {
            // Different rules may decide differently: look at everything.
            self.store.clear_cursors()?;
            self.store.set_meta("policy_hash", &team_hash)?;
        }
        let mut sources = std::mem::take(&mut self.sources);
        for (cfg, backend) in &mut sources {
            if let Err(e) = self.sync_source(cfg, backend.as_mut(), now, &mut report) {
                self.sources = sources;
                return Err(e);
            }
        }
        self.sources = sources;
        Ok(report)
    }

    fn sync_source(
        &mut self,
        cfg: &SourceConfig,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let SourceConfig::Vdir {
            name, member, mode, ..
        } = cfg;
        let mode = mode.unwrap_or(self.config.mode);
        if self.team.policy_for(member).is_none() {
            report.problems.push(format!(
                "source `{name}`: `{member}` is not a member in any policy; skipped"
            ));
            return Ok(());
        }
        let items = match backend.list() {
            Ok(items) => items,
            Err(e) => {
                report.problems.push(format!("source `{name}`: {e}"));
                return Ok(());
            }
        };
        let cursors = self.store.cursors(name)?;
        let mut listed = HashSet::new();
        for item in &items {
            listed.insert((item.calendar.clone(), item.href.clone()));
            if cursors.get(&(item.calendar.clone(), item.href.clone())) == Some(&item.etag) {
                continue;
            }
            let unit = Unit {
                source: name,
                member,
                mode,
                item,
            };
            if let Some(final_etag) = self.screen_item(&unit, backend, now, report)? {
                self.store
                    .set_cursor(name, &item.calendar, &item.href, &final_etag)?;
            }
        }
        for (calendar, href) in cursors.keys() {
            if !listed.contains(&(calendar.clone(), href.clone())) {
                self.store.remove_cursor(name, calendar, href)?;
            }
        }
        Ok(())
    }

    /// Screen every invite in one item. Returns the etag to remember, or
    /// `None` when something must be retried on the next pass.
    fn screen_item(
        &mut self,
        unit: &Unit<'_>,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
        report: &mut RunReport,
    ) -> Result<Option<String>, StoreError> {
        let path = item_path(unit);
        let text = match backend.read(unit.item) {
            Ok(t) => t,
            Err(e) => {
                report.problems.push(format!("{e}"));
                return Ok(None);
            }
        };
        report.items_read += 1;
        let parsed = match parse_ics(&text) {
            Ok(p) => p,
            Err(e) => {
                report.problems.push(format!("{path}: {e}; skipped"));
                // Remember the etag: the file is read again when it changes.
                return Ok(Some(unit.item.etag.clone()));
            }
        };
        for p in &parsed.problems {
            report.problems.push(format!("{path}: {p}"));
        }
        let Some(policy) = self.team.policy_for(unit.member).cloned() else {
            return Ok(Some(unit.item.etag.clone()));
        };
        let tz = policy.member(unit.member).map_or(Tz::UTC, |m| m.tz);

        let mut current = CurrentItem {
            text,
            item: unit.item.clone(),
        };
        let mut complete = true;
        for group in group_by_uid(parsed.events) {
            for idx in 0..group.len() {
                match self.screen_event(
                    unit,
                    &policy,
                    tz,
                    &group,
                    idx,
                    &mut current,
                    backend,
                    now,
                )? {
                    Screened::Skipped => {}
                    Screened::Decided(record) => {
                        if record.outcome == Outcome::Failed {
                            complete = false;
                        }
                        report.decisions.push(*record);
                    }
                }
            }
        }
        Ok(complete.then_some(current.item.etag))
    }

    #[allow(clippy::too_many_arguments)]
    fn screen_event(
        &mut self,
        unit: &Unit<'_>,
        policy: &Policy,
        tz: Tz,
        group: &[Event],
        idx: usize,
        current: &mut CurrentItem,
        backend: &mut dyn CalendarSource,
        now: DateTime<Utc>,
    ) -> Result<Screened, StoreError> {
        let event = &group[idx];
        let member = unit.member;
        let Some(attendee) = event.attendee(member) else {
            return Ok(Screened::Skipped);
        };
        if event.organizer.as_deref() == Some(member) || event.status == Status::Cancelled {
            return Ok(Screened::Skipped);
        }
        let key = ScreeningKey {
            source: unit.source.to_string(),
            calendar: unit.item.calendar.clone(),
            uid: event.uid.clone(),
            recurrence_id: event
                .recurrence_id
                .map(|r| r.to_display_string())
                .unwrap_or_default(),
            member: member.to_string(),
        };
        let fingerprint = screen::fingerprint(event, member);
        let prev = self.store.screening(&key)?;
        if let Some(p) = &prev
            && p.complete
            && p.fingerprint == fingerprint
            && p.policy_hash == policy.hash
        {
            return Ok(Screened::Skipped);
        }
        let applied = prev.as_ref().and_then(|p| p.applied_partstat.as_deref());
        let owner = screen::ownership(
            &attendee.partstat,
            event.gatekeeper_partstat.as_ref(),
            applied,
        );
        let mut screening = Screening {
            key: key.clone(),
            fingerprint,
            policy_hash: policy.hash.clone(),
            applied_partstat: None,
            applied_comment: None,
            decision_id: prev.as_ref().and_then(|p| p.decision_id),
            complete: true,
        };
        if owner == Ownership::Member {
            // The member answered: remember that we looked, log nothing.
            self.store.put_screening(&screening)?;
            return Ok(Screened::Skipped);
        }

        let spans = upcoming_spans(
            group,
            idx,
            tz,
            now,
            self.config.horizon_days,
            self.config.series_occurrences,
        );
        let month = now.format("%Y-%m").to_string();
        let urgent_uses = match &event.organizer {
            Some(o) => self.store.urgent_uses(o, &month)?,
            None => 0,
        };
        let invite = Invite {
            title: &event.summary,
            description: &event.description,
            organizer: event.organizer.as_deref(),
            attendees: &event.attendees,
            occurrences: &spans,
            sent_at: event.created.or(event.dtstamp).or(event.last_modified),
            all_day: event.is_all_day(),
        };
        let ctx = Context {
            now,
            member,
            urgent_uses_this_month: urgent_uses,
            ..Context::default()
        };
        let verdict = evaluate(&invite, policy, &ctx);
        if matches!(
            verdict.exemption,
            Some(crate::policy::evaluate::Exemption::Past)
        ) {
            self.store.put_screening(&screening)?;
            return Ok(Screened::Skipped);
        }
        let comment = verdict.comment(&invite, policy, member, event.private);
        let previous_comment = prev.as_ref().and_then(|p| p.applied_comment.as_deref());
        let write = screen::plan(
            verdict.decision,
            owner,
            &attendee.partstat,
            comment.clone(),
            previous_comment,
        );

        let mut record = DecisionRecord {
            id: 0,
            decided_at: now,
            source: unit.source.to_string(),
            calendar: unit.item.calendar.clone(),
            member: member.to_string(),
            uid: event.uid.clone(),
            recurrence_id: key.recurrence_id.clone(),
            title: if event.private {
                "(private event)".into()
            } else {
                event.summary.clone()
            },
            organizer: event.organizer.clone().unwrap_or_default(),
            action: verdict.decision.as_str().to_string(),
            response: write.as_ref().map(|w| w.partstat.as_ical().to_string()),
            findings: findings_json(&verdict),
            exemption: verdict.exemption.as_ref().map(|e| e.describe()),
            comment: comment.clone(),
            policy_hash: policy.hash.clone(),
            outcome: Outcome::Pending,
            error: None,
        };
        // What the calendar will say once the write lands.
        let (applied_partstat, applied_comment) = match &write {
            Some(w) => (
                w.marker.as_ref().map(|m| m.as_ical().to_string()),
                w.comment.clone(),
            ),
            None if owner == Ownership::Gatekeeper => (
                Some(attendee.partstat.as_ical().to_string()),
                previous_comment.map(str::to_string),
            ),
            None => (None, None),
        };
        screening.applied_partstat = applied_partstat;
        screening.applied_comment = applied_comment;
        screening.complete = false;

        // A pending row from an interrupted run is finished, not repeated.
        let resumed = prev
            .as_ref()
            .filter(|p| !p.complete)
            .and_then(|p| p.decision_id);
        let id = match resumed {
            Some(id) => id,
            None => self.store.begin_decision(&record, &screening)?,
        };
        record.id = id;

        let (outcome, error) = match (&write, unit.mode) {
            (None, _) => (Outcome::NoChange, None),
            (Some(_), Mode::Observe) => {
                // Nothing was written, so nothing of ours stands.
                screening.applied_partstat = prev.as_ref().and_then(|p| p.applied_partstat.clone());
                screening.applied_comment = previous_comment.map(str::to_string);
                (Outcome::Observed, None)
            }
            (Some(w), Mode::Enforce) => match apply(current, backend, event, member, w) {
                Ok(()) => (Outcome::Applied, None),
                Err(e) => (Outcome::Failed, Some(e)),
            },
        };
        screening.complete = outcome != Outcome::Failed;
        self.store
            .finish_decision(id, outcome, error.as_deref(), &screening)?;
        if verdict.uses_urgent
            && outcome != Outcome::Failed
            && let Some(o) = &event.organizer
        {
            self.store
                .record_urgent_use(o, &month, &event.uid, &key.recurrence_id, now)?;
        }
        record.outcome = outcome;
        record.error = error;
        Ok(Screened::Decided(Box::new(record)))
    }
}

enum Screened {
    Skipped,
    Decided(Box<DecisionRecord>),
}

/// The item's text and etag as they stand after gatekeeper's own writes.
struct CurrentItem {
    text: String,
    item: ItemRef,
}

fn apply(
    current: &mut CurrentItem,
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
    };
    let new_text = set_response(&current.text, &edit).map_err(|e| e.to_string())?;
    let etag = backend
        .write(&current.item, &new_text)
        .map_err(|e| e.to_string())?;
    current.text = new_text;
    current.item.etag = etag;
    Ok(())
}

fn item_path(unit: &Unit<'_>) -> String {
    if unit.item.calendar.is_empty() {
        format!("{}:{}", unit.source, unit.item.href)
    } else {
        format!("{}:{}/{}", unit.source, unit.item.calendar, unit.item.href)
    }
}

/// The occurrences to judge: the event itself, or the next occurrences of a
/// series that still follow the series (moved occurrences are decided on
/// their own).
pub fn upcoming_spans(
    group: &[Event],
    idx: usize,
    tz: Tz,
    now: DateTime<Utc>,
    horizon_days: u32,
    max: usize,
) -> Vec<Span> {
    let event = &group[idx];
    let to_span = |start: &EventTime, end: &EventTime| Span {
        start: start.to_utc(tz),
        end: end.to_utc(tz),
    };
    if event.recurrence_id.is_some() || event.recurrence.is_empty() {
        return vec![to_span(&event.start, &event.end)];
    }
    let horizon = now + Duration::days(i64::from(horizon_days));
    let expansion = expand(group, tz, now, horizon, max.saturating_mul(4).max(1));
    expansion
        .occurrences
        .iter()
        .filter(|o| o.event_index == idx)
        .take(max)
        .map(|o| to_span(&o.start, &o.end))
        .collect()
}

fn findings_json(verdict: &crate::policy::Verdict) -> serde_json::Value {
    serde_json::Value::Array(
        verdict
            .findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "rule": f.rule.as_str(),
                    "action": f.action.as_str(),
                    "message": f.problem.message(),
                    "fix": f.problem.fix(),
                    "problem": f.problem,
                })
            })
            .collect(),
    )
}
