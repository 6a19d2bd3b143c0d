//! The I/O around the decision core: read changed items from each source,
//! map events into invites, ask the core, write the answer, log it.
//!
//! **Invariant:** every action is logged as pending before it is taken and
//! finished after, and an item's sync cursor moves only once everything in
//! it is done. A crash at any point therefore leads the next run to finish
//! the job, never to act twice or to forget an invite.

mod google;
mod vdir;

pub use google::google_settings_for;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::screen::{self, Ownership, Write};
use super::team::Team;
use crate::calendar::edit::{ResponseEdit, set_response};
use crate::calendar::ical::parse_ics;
use crate::calendar::recurrence::{expand, group_by_uid};
use crate::calendar::{Event, EventTime, EventType, PartStat, Status};
use crate::config::{Config, Mode, SourceConfig};
use crate::fairness::{BurdenSnapshot, BusyTime, Standing, ledger_entries};
use crate::policy::evaluate::{ProtectedBlock, ProtectedKind};
use crate::policy::{Context, Invite, Policy, RuleKind, Span, evaluate};
use crate::source::google::auth::Credentials;
use crate::source::google::retry::Backoff;
use crate::source::google::{
    CHANNEL_ITEM, CallError, ChannelRegistry, GoogleSettings, GoogleSource, SYNC_TOKEN_ITEM,
    WatchChannel,
};
use crate::source::vdir::VdirSource;
use crate::source::{CalendarSource, ItemRef};
use crate::store::{BurdenEntry, BurdenItem};
use crate::store::{DecisionRecord, Outcome, Screening, ScreeningKey, Store, StoreError};

pub struct Engine<S: Store> {
    pub config: Config,
    pub store: S,
    pub team: Team,
    sources: Vec<(SourceConfig, Backend)>,
    /// Runs the Google client; created only when a Google source exists.
    runtime: Option<tokio::runtime::Runtime>,
    /// Open push channels: which channel belongs to which member.
    pub channels: ChannelRegistry,
    /// Problems already reported, so a daemon does not repeat them every
    /// pass.
    reported: HashSet<String>,
    /// Per pass: each policy's burden snapshot (by policy hash) and each
    /// member's busy times, computed when first needed.
    burdens: HashMap<String, Arc<BurdenSnapshot>>,
    busy: HashMap<String, Arc<Vec<BusyTime>>>,
    /// Time zones read from members' Google calendar settings.
    calendar_zones: HashMap<String, Tz>,
    /// How to read each member's calendar outside a sync (busy times for
    /// suggestions): kept apart from `sources`, which a pass moves out.
    readers: Vec<CalendarReader>,
    /// Where decisions go as they are made (the CLI prints them); without
    /// one they are collected in the pass's report. A sink keeps memory flat
    /// on a first sync of a large team.
    sink: Option<DecisionSink>,
}

/// Receives each decision as it is made.
pub type DecisionSink = Box<dyn FnMut(&DecisionRecord)>;

/// Reads a member's calendar over a window, outside a sync.
enum CalendarReader {
    Vdir {
        member: String,
        path: std::path::PathBuf,
    },
    Google {
        source: Arc<GoogleSource>,
        members: Vec<String>,
    },
}

enum Backend {
    Vdir(Box<dyn CalendarSource>),
    Google {
        source: Arc<GoogleSource>,
        members: Vec<String>,
    },
}

/// What one pass over every source did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Google API calls made (list, patch), retries included.
    pub api_calls: u32,
    /// New decision-log entries, in order (empty when a decision sink is
    /// set: then each one went to the sink as it was made).
    pub decisions: Vec<DecisionRecord>,
    /// How many decisions this pass made.
    pub decided: usize,
    /// How many of them failed to be written (retried next pass).
    pub failed: usize,
    /// Files and events that were skipped, each with its path and reason.
    pub problems: Vec<String>,
    /// Sources and members that could not be synced or acted on this pass
    /// (a refused key, a revoked grant, a spent quota, a write that
    /// failed), each naming the source and member: `run --once` exits
    /// non-zero when there are any.
    pub failures: Vec<String>,
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
        let needs_runtime = config
            .sources
            .iter()
            .any(|s| matches!(s, SourceConfig::Google { .. }));
        let runtime = needs_runtime
            .then(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
            })
            .and_then(|r| {
                r.map_err(|e| tracing::error!("cannot start the async runtime: {e}"))
                    .ok()
            });
        let mut sources = Vec::new();
        for s in &config.sources {
            let backend = match s {
                SourceConfig::Vdir { path, .. } => {
                    Backend::Vdir(Box::new(VdirSource::new(path.clone())))
                }
                SourceConfig::Google { .. } => {
                    let Some(rt) = &runtime else { continue };
                    let (settings, members) = google::google_settings(s, &team);
                    let source = rt.block_on(GoogleSource::connect(settings, &members));
                    Backend::Google {
                        source: Arc::new(source),
                        members,
                    }
                }
            };
            sources.push((s.clone(), backend));
        }
        let readers = sources
            .iter()
            .filter_map(
                |(cfg, backend): &(SourceConfig, Backend)| match (cfg, backend) {
                    (_, Backend::Google { source, members }) => Some(CalendarReader::Google {
                        source: Arc::clone(source),
                        members: members.clone(),
                    }),
                    (SourceConfig::Vdir { member, path, .. }, _) => Some(CalendarReader::Vdir {
                        member: member.clone(),
                        path: path.clone(),
                    }),
                    _ => None,
                },
            )
            .collect();
        let mut engine = Engine {
            config,
            store,
            team,
            sources,
            readers,
            runtime,
            channels: ChannelRegistry::default(),
            reported: HashSet::new(),
            burdens: HashMap::new(),
            busy: HashMap::new(),
            calendar_zones: HashMap::new(),
            sink: None,
        };
        engine.apply_calendar_zones();
        engine
    }

    /// Send each decision to `sink` as it is made instead of collecting it.
    pub fn set_decision_sink(&mut self, sink: DecisionSink) {
        self.sink = Some(sink);
    }

    fn emit(&mut self, report: &mut RunReport, record: DecisionRecord) {
        report.decided += 1;
        if record.outcome == Outcome::Failed {
            report.failed += 1;
        }
        match &mut self.sink {
            Some(sink) => sink(&record),
            None => report.decisions.push(record),
        }
    }

    /// The async runtime Google sources run on (for the webhook listener).
    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.runtime.as_ref()
    }

    fn report_once(&mut self, report: &mut RunReport, problem: String) {
        if self.reported.insert(problem.clone()) {
            report.problems.push(problem);
        }
    }

    /// Replace the policies (after a reload). The next pass re-reads every
    /// item so the new rules apply to invites already seen.
    pub fn set_team(&mut self, team: Team) {
        self.team = team;
        self.apply_calendar_zones();
    }

    /// One pass over every source.
    pub fn run_once(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        self.burdens.clear();
        self.busy.clear();
        let team_hash = self.team.combined_hash();
        if self.store.meta("policy_hash")?.as_deref() != Some(team_hash.as_str()) {
            // Different rules may decide differently: look at everything.
            self.store.clear_cursors()?;
            self.store.set_meta("policy_hash", &team_hash)?;
        }
        let mut sources = std::mem::take(&mut self.sources);
        let mut result = Ok(());
        for (cfg, backend) in &mut sources {
            result = match backend {
                Backend::Vdir(b) => self.sync_source(cfg, b.as_mut(), now, &mut report),
                Backend::Google { source, members } => {
                    let members = members.clone();
                    self.sync_google(cfg, source, &members, now, &mut report)
                }
            };
            if result.is_err() {
                break;
            }
        }
        self.sources = sources;
        result.map(|()| report)
    }

    /// Keep the member's burden ledger in step with how they stand toward
    /// this event: accepted meetings (and ones they organize) count from
    /// `now` on; a decline, a cancellation or no answer takes them off.
    fn record_burden(
        &mut self,
        unit: &Unit<'_>,
        policy: &Policy,
        tz: Tz,
        group: &[Event],
        idx: usize,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let event = &group[idx];
        let member = unit.member;
        let accepted = PartStat::Accepted;
        let partstat = match event.attendee(member) {
            Some(a) => &a.partstat,
            None if event.organizer.as_deref() == Some(member) => &accepted,
            None => return Ok(()),
        };
        // The ledger looks half a window ahead: that is the part of the
        // rolling window still to come.
        let days = (policy.fairness.window_weeks * 7 / 2).max(1);
        let spans = upcoming_spans(group, idx, tz, now, days, 200);
        let invite = Invite::of_event(event, &spans);
        let standing = Standing {
            partstat,
            gatekeeper_partstat: event.gatekeeper_partstat.as_ref(),
            cancelled: event.status == Status::Cancelled,
        };
        let item = BurdenItem {
            source: unit.source.to_string(),
            calendar: unit.item.calendar.clone(),
            uid: event.uid.clone(),
            recurrence_id: event.recurrence_key(),
        };
        let entries: Vec<BurdenEntry> = ledger_entries(policy, member, &invite, standing)
            .into_iter()
            .map(|e| BurdenEntry {
                source: item.source.clone(),
                calendar: item.calendar.clone(),
                uid: item.uid.clone(),
                recurrence_id: item.recurrence_id.clone(),
                member: member.to_string(),
                occurrence_start: e.occurrence.start,
                occurrence_end: e.occurrence.end,
                inconvenience: e.burden.inconvenience,
                outside_minutes: e.burden.outside_minutes,
                status: e.status.to_string(),
            })
            .collect();
        self.store.replace_burden(&item, member, now, &entries)
    }

    /// The policy's burden snapshot for this pass.
    fn burden_snapshot(
        &mut self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Arc<BurdenSnapshot>, StoreError> {
        if let Some(b) = self.burdens.get(&policy.hash) {
            return Ok(Arc::clone(b));
        }
        let w = crate::fairness::window(now, policy.fairness.window_weeks);
        let totals = self.store.burden_totals(w.start, w.end)?;
        let snap = Arc::new(BurdenSnapshot::for_policy(policy, now, &totals));
        self.burdens.insert(policy.hash.clone(), Arc::clone(&snap));
        Ok(snap)
    }

    /// Busy times of the invite's attendees who are members, from their
    /// local or Google calendars, read once per pass, so suggested times
    /// avoid them.
    fn busy_of(&mut self, event: &Event, policy: &Policy, now: DateTime<Utc>) -> Vec<BusyTime> {
        let to = now + Duration::days(i64::from(policy.fairness.suggest_days) + 1);
        let mut out = Vec::new();
        for a in &event.attendees {
            let Some(m) = policy.member(&a.email) else {
                continue;
            };
            let busy = match self.busy.get(&a.email) {
                Some(b) => Arc::clone(b),
                None => {
                    let b = Arc::new(self.read_busy(&a.email, m.tz, now, to));
                    self.busy.insert(a.email.clone(), Arc::clone(&b));
                    b
                }
            };
            out.extend(busy.iter().filter(|b| b.span.start < to).cloned());
        }
        // The invite being screened is not a reason to move itself.
        let own: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            vec![(event.start.to_utc(Tz::UTC), event.end.to_utc(Tz::UTC))];
        out.retain(|b| !own.contains(&(b.span.start, b.span.end)));
        out
    }

    /// A member's busy times in `[from, to)`, read from their calendars
    /// (local folders and Google) as the daemon reads them.
    pub fn busy_times(
        &self,
        member: &str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<BusyTime> {
        self.read_busy(member, tz, from, to)
    }

    fn read_busy(
        &self,
        member: &str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<BusyTime> {
        let mut groups = Vec::new();
        let rt = self.runtime.as_ref().map(|r| r.handle().clone());
        for reader in &self.readers {
            match reader {
                CalendarReader::Vdir {
                    member: owner,
                    path,
                } if owner == member => {
                    let mut b = VdirSource::new(path.clone());
                    let Ok(items) = b.list() else { continue };
                    for item in &items {
                        if let Ok(text) = b.read(item)
                            && let Ok(parsed) = parse_ics(&text)
                        {
                            groups.extend(group_by_uid(parsed.events));
                        }
                    }
                }
                // Google's copy is read over the window: the daemon keeps
                // no events of its own.
                CalendarReader::Google { source, members }
                    if members.iter().any(|m| m == member) =>
                {
                    let Some(rt) = &rt else { continue };
                    match rt.block_on(source.events_between(member, from, to)) {
                        Ok(batch) => groups.extend(group_by_uid(
                            batch.events.into_iter().map(|g| g.event).collect(),
                        )),
                        Err(e) => tracing::warn!("`{member}`: cannot read busy times: {e}"),
                    }
                }
                _ => {}
            }
        }
        crate::fairness::busy::busy_times(member, &groups, tz, from, to, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn screen_event(
        &mut self,
        unit: &Unit<'_>,
        policy: &Policy,
        tz: Tz,
        group: &[Event],
        idx: usize,
        responder: &mut dyn FnMut(&Event, &Write) -> Result<(), String>,
        now: DateTime<Utc>,
    ) -> Result<Screened, StoreError> {
        let event = &group[idx];
        let member = unit.member;
        if policy.fairness.enabled {
            self.record_burden(unit, policy, tz, group, idx, now)?;
        }
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
            recurrence_id: event.recurrence_key(),
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
        // Only a policy with an urgent exception needs the count.
        let urgent_uses = match (&event.organizer, &policy.exceptions.urgent) {
            (Some(o), Some(_)) => self.store.urgent_uses(o, &month)?,
            _ => 0,
        };
        let invite = Invite::of_event(event, &spans);
        let mut ctx = Context::new(now, member).with_urgent_uses(urgent_uses);
        let protected;
        if policy
            .rules
            .iter()
            .any(|r| r.spec.kind() == RuleKind::ProtectedTime)
        {
            let horizon = now + Duration::days(i64::from(self.config.horizon_days));
            protected = self.store.protected_blocks(
                unit.source,
                &unit.item.calendar,
                now - Duration::days(1),
                horizon,
            )?;
            ctx = ctx.with_protected(&protected);
        }
        let (burden, busy);
        if policy.fairness.enabled {
            burden = self.burden_snapshot(policy, now)?;
            busy = self.busy_of(event, policy, now);
            ctx = ctx.with_burden(&burden).with_busy(&busy);
        }
        let verdict = evaluate(&invite, policy, &ctx);
        if matches!(
            verdict.exemption,
            Some(crate::policy::evaluate::Exemption::Past)
        ) {
            self.store.put_screening(&screening)?;
            return Ok(Screened::Skipped);
        }
        let comment = verdict.comment(&invite, policy, member, event.private);
        // What the calendar holds now wins over what the store remembers: it
        // is right even when the store was lost or another instance wrote.
        let previous_comment = event
            .gatekeeper_comment
            .as_deref()
            .or_else(|| prev.as_ref().and_then(|p| p.applied_comment.as_deref()));
        let previous_decision = match prev.as_ref().and_then(|p| p.decision_id) {
            Some(id) => self.store.decision(id)?,
            None => None,
        };
        let new_problems = match &previous_decision {
            Some(old) => {
                let before = acting_rules(&old.findings);
                acting_rules(&findings_json(&verdict))
                    .iter()
                    .any(|r| !before.contains(r))
            }
            None => true,
        };
        let write = screen::plan(
            verdict.decision,
            owner,
            &attendee.partstat,
            comment.clone(),
            previous_comment,
            new_problems,
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

        // The invite changed (another attendee answered, say) but the
        // outcome did not: remember the new version without a new log row.
        if write.is_none()
            && let Some(p) = prev.as_ref().filter(|p| p.complete)
            && let Some(old) = p
                .decision_id
                .map(|id| self.store.decision(id))
                .transpose()?
                .flatten()
            && old.action == record.action
            && old.findings == record.findings
            && old.exemption == record.exemption
        {
            screening.complete = true;
            screening.decision_id = Some(old.id);
            // The calendar still carries the earlier comment.
            screening.applied_comment = previous_comment.map(str::to_string);
            self.store.put_screening(&screening)?;
            return Ok(Screened::Skipped);
        }
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
            (Some(w), Mode::Enforce) => match responder(event, w) {
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

/// The rules that decided (not observe-only ones) in a logged findings list.
fn acting_rules(findings: &serde_json::Value) -> Vec<String> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["action"] != "observe")
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
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
