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
use crate::calendar::edit::{ItemEditor, ResponseEdit};
use crate::calendar::ical::parse_ics_bytes_with;
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
use crate::store::{DecisionRecord, Findings, Outcome, Screening, ScreeningKey, Store, StoreError};

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
    /// Asked between items whether the pass should stop early (a signal,
    /// a push notification, a policy edit wants the loop's attention).
    interrupt: Option<Interrupt>,
}

/// Receives each decision as it is made.
pub type DecisionSink = Box<dyn FnMut(&DecisionRecord)>;

/// Says whether a pass should stop at the next item boundary.
pub type Interrupt = Box<dyn FnMut() -> bool>;

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
    /// Items read and parsed (unchanged items are not read).
    pub items_read: usize,
    /// Sources and members that could not be synced or acted on this pass
    /// (retried next pass). `run --once` exits non-zero when this is not
    /// empty; the daemon logs them and goes on.
    pub failures: Vec<SyncFailure>,
    /// The pass stopped early (a shutdown or another event asked for the
    /// loop's attention); what it did not reach is done next pass.
    pub interrupted: bool,
}

/// A source, or one member of it, that could not be synced or acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFailure {
    pub source: String,
    /// The member, when only their calendar failed.
    pub member: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.member {
            Some(m) => write!(f, "source `{}`: `{m}`: {}", self.source, self.reason),
            None => write!(f, "source `{}`: {}", self.source, self.reason),
        }
    }
}

impl RunReport {
    fn fail(&mut self, source: &str, member: Option<&str>, reason: impl Into<String>) {
        self.failures.push(SyncFailure {
            source: source.to_string(),
            member: member.map(str::to_string),
            reason: reason.into(),
        });
    }
}

/// The invite's place in a source, for log rows and edits.
struct Unit<'a> {
    source: &'a str,
    member: &'a str,
    mode: Mode,
    item: &'a ItemRef,
}

impl Unit<'_> {
    /// The UID an event's state (screening, ledger, log) is kept under. An
    /// event without UID is known by the item that holds it, so two such
    /// files in one calendar never share a screening or ledger rows (an
    /// item holds at most one: see `vdir::screen_item`).
    fn uid_of(&self, event: &Event) -> String {
        if event.uid.is_empty() {
            format!("(no UID) {}", self.item.href)
        } else {
            event.uid.clone()
        }
    }
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
                    let source = VdirSource::new(path.clone())
                        .with_max_item_bytes(config.limits.max_item_bytes);
                    // Temporary files of gatekeeper processes that died
                    // mid-write are not anyone's calendar.
                    for f in source.clean_stale_temps() {
                        tracing::info!("removed a stale temporary file `{}`", f.display());
                    }
                    Backend::Vdir(Box::new(source))
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
            interrupt: None,
        };
        engine.apply_calendar_zones();
        engine
    }

    /// Send each decision to `sink` as it is made instead of collecting it.
    pub fn set_decision_sink(&mut self, sink: DecisionSink) {
        self.sink = Some(sink);
    }

    /// Let a pass stop early, between items, when `interrupt` says so. An
    /// item's cursor moves only when it is finished, so a cut-short pass is
    /// simply resumed by the next one.
    pub fn set_interrupt(&mut self, interrupt: Interrupt) {
        self.interrupt = Some(interrupt);
    }

    /// Whether the pass should stop now (and remember that it did).
    fn interrupted(&mut self, report: &mut RunReport) -> bool {
        if report.interrupted {
            return true;
        }
        report.interrupted = self.interrupt.as_mut().is_some_and(|f| f());
        report.interrupted
    }

    fn emit(&mut self, report: &mut RunReport, record: DecisionRecord) {
        report.decided += 1;
        if record.outcome == Outcome::Failed {
            report.failed += 1;
            report.fail(
                &record.source,
                Some(&record.member),
                format!(
                    "cannot write the answer to {:?}: {}",
                    record.title,
                    record.error.as_deref().unwrap_or("unknown error")
                ),
            );
        }
        match &mut self.sink {
            Some(sink) => sink(&record),
            None => report.decisions.push(record),
        }
    }

    /// What every Google source's calls have met since the daemon started
    /// (failures by kind, waits), for `/metrics`.
    pub fn api_stats(&self) -> crate::source::google::stats::ApiStatsSnapshot {
        let mut total = crate::source::google::stats::ApiStatsSnapshot::default();
        for reader in &self.readers {
            if let CalendarReader::Google { source, .. } = reader {
                total.add(&source.api_stats());
            }
        }
        total
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

    /// Replace the policies (after a reload). The next pass re-screens the
    /// invites of each team whose policy changed, and only those (see
    /// `rescreen_changed_teams`).
    pub fn set_team(&mut self, team: Team) {
        self.team = team;
        self.apply_calendar_zones();
    }

    /// One pass over every source.
    pub fn run_once(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        self.rescreen_changed_teams()?;
        let mut sources = std::mem::take(&mut self.sources);
        // The ledger first, from every local source, then the snapshot every
        // decision of this pass reads.
        let mut result = Ok(());
        for (cfg, backend) in &mut sources {
            if let Backend::Vdir(b) = backend {
                result = self.prime_ledger(cfg, b.as_mut(), now, &mut report);
                if result.is_err() {
                    break;
                }
            }
        }
        if let Err(e) = result.and_then(|()| self.begin_pass(now)) {
            self.sources = sources;
            return Err(e);
        }
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

    /// A team whose policy changed since its invites were screened has
    /// them screened again from what is already known: its members' local
    /// items are read again (their cursors go stale, nothing else is
    /// forgotten), and its Google members' calendars are read over the
    /// screening window once, without touching sync tokens or push
    /// channels. Other teams are left alone. Each team's hash is kept in
    /// the store's meta table (`policy_hash.team.<name>`), so a restart
    /// with edited files does the same, and only once.
    fn rescreen_changed_teams(&mut self) -> Result<(), StoreError> {
        let policies: Vec<Arc<Policy>> = self.team.policies().to_vec();
        for p in policies {
            let key = format!("policy_hash.team.{}", p.team);
            if self.store.meta(&key)?.as_deref() == Some(p.hash.as_str()) {
                continue;
            }
            let members: HashSet<&str> = p.members.iter().map(|m| m.email.as_str()).collect();
            for (cfg, backend) in &self.sources {
                match (cfg, backend) {
                    (SourceConfig::Vdir { name, member, .. }, _)
                        if members.contains(member.as_str()) =>
                    {
                        vdir::stale_cursors(&mut self.store, name)?;
                    }
                    (_, Backend::Google { members: of, .. }) => {
                        // A member not synced yet gets everything in the
                        // first full sync anyway.
                        let cursors = self.store.cursors(cfg.name())?;
                        for m in of.iter().filter(|m| members.contains(m.as_str())) {
                            if cursors.contains_key(&(m.clone(), SYNC_TOKEN_ITEM.to_string())) {
                                self.store
                                    .set_cursor(cfg.name(), m, google::RESCREEN_ITEM, "1")?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            self.store.set_meta(&key, &p.hash)?;
        }
        Ok(())
    }

    /// Fix what every decision of a pass reads before the pass writes
    /// anything: each fairness-enabled policy's burden snapshot is taken
    /// now, so the ledger rows this pass writes cannot change the figures
    /// a later invite of the same pass is judged on (source order does not
    /// matter), and busy times are read afresh.
    pub(super) fn begin_pass(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.burdens.clear();
        self.busy.clear();
        let policies: Vec<Arc<Policy>> = self
            .team
            .policies()
            .iter()
            .filter(|p| p.fairness.enabled)
            .cloned()
            .collect();
        for p in policies {
            self.burden_snapshot(&p, now)?;
        }
        Ok(())
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
            uid: unit.uid_of(event),
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
                    let limits = self.config.limits.ical();
                    let mut b =
                        VdirSource::new(path.clone()).with_max_item_bytes(limits.max_item_bytes);
                    let Ok(items) = b.list() else { continue };
                    for item in &items {
                        if let Ok(bytes) = b.read(item)
                            && let Ok(parsed) = parse_ics_bytes_with(&bytes, &limits)
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
            uid: unit.uid_of(event),
            recurrence_id: event.recurrence_key(),
            member: member.to_string(),
        };
        let fingerprint = {
            let team = &self.team;
            screen::fingerprint(event, member, &|e| team.governs(e))
        };
        let prev = self.store.screening(&key)?;
        if let Some(p) = &prev
            && p.complete
            && p.fingerprint == fingerprint
            && p.policy_hash == policy.hash
        {
            return Ok(Screened::Skipped);
        }
        // What the store says gatekeeper's standing answer is, only from a
        // finished row: an unfinished one records what was *planned*, and a
        // member who gave that same answer themselves meanwhile (no marker)
        // must not be taken for gatekeeper and written over.
        let applied = prev
            .as_ref()
            .filter(|p| p.complete)
            .and_then(|p| p.applied_partstat.as_deref());
        let owner = screen::ownership(
            &attendee.partstat,
            event.gatekeeper_partstat.as_ref(),
            applied,
        );
        // A row an interrupted pass logged as pending (or a write that
        // failed): finished with the answer it was logged with while the
        // invite is the version it was decided on, never recomputed (the
        // burden figures or the clock may have moved since).
        let unfinished = match prev
            .as_ref()
            .filter(|p| !p.complete)
            .and_then(|p| p.decision_id)
        {
            Some(id) => self
                .store
                .decision(id)?
                .filter(|d| matches!(d.outcome, Outcome::Pending | Outcome::Failed)),
            None => None,
        };
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
            // The member answered: remember that we looked. A row left
            // unfinished is closed: the member's answer came first.
            match &unfinished {
                Some(row) => self.store.finish_decision(
                    row.id,
                    Outcome::NoChange,
                    Some("the member answered themselves first"),
                    &screening,
                )?,
                None => self.store.put_screening(&screening)?,
            }
            return Ok(Screened::Skipped);
        }
        let resumable = unfinished.clone().filter(|_| {
            prev.as_ref().is_some_and(|p| {
                p.fingerprint == screening.fingerprint && p.policy_hash == policy.hash
            })
        });
        if resumable.is_none()
            && let Some(row) = &unfinished
        {
            // The invite (or the policy) changed before the logged answer
            // was written: that row is closed, and this version is decided
            // on its own below. The screening stays unfinished until then,
            // so a crash in between leaves this version to be decided, not
            // taken as done.
            self.store.finish_decision(
                row.id,
                Outcome::NoChange,
                Some("superseded: the invite changed before this answer was written"),
                &Screening {
                    complete: false,
                    ..screening.clone()
                },
            )?;
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
            (Some(o), Some(_)) => {
                self.store
                    .urgent_uses(o, &month, &key.uid, &key.recurrence_id)?
            }
            _ => 0,
        };
        // The core sees the invite as its organizer wrote it and as people
        // gatekeeper does not answer for answered it: never an answer
        // gatekeeper may have written (see `screen::neutral_attendees`).
        let attendees = {
            let team = &self.team;
            screen::neutral_attendees(&event.attendees, &|e| team.governs(e))
        };
        let mut invite = Invite::of_event(event, &spans);
        invite.attendees = &attendees;
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
        if resumable.is_none()
            && matches!(
                verdict.exemption,
                Some(crate::policy::evaluate::Exemption::Past)
            )
        {
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
        // The rules the standing answer stands on: the calendar's own
        // record first (it survives a lost store), then the log.
        let previous_rules: Option<Vec<String>> = match &event.gatekeeper_rules {
            Some(r) if owner == Ownership::Gatekeeper => Some(r.clone()),
            _ => previous_decision
                .as_ref()
                .map(|old| acting_rules(&old.findings)),
        };
        let new_problems = screen::new_problems(previous_rules.as_deref(), &verdict);
        let mut write = match &resumable {
            Some(row) => logged_write(row),
            None => screen::plan(
                verdict.decision,
                owner,
                &attendee.partstat,
                comment.clone(),
                previous_comment,
                new_problems,
            ),
        };
        if let Some(w) = &mut write
            && w.marker.is_some()
            && resumable.is_none()
        {
            w.rules = screen::acting_rules(&verdict);
        }

        let mut record = match &resumable {
            Some(row) => row.clone(),
            None => DecisionRecord {
                id: 0,
                decided_at: now,
                source: unit.source.to_string(),
                calendar: unit.item.calendar.clone(),
                member: member.to_string(),
                uid: key.uid.clone(),
                recurrence_id: key.recurrence_id.clone(),
                title: if event.private {
                    "(private event)".into()
                } else {
                    event.summary.clone()
                },
                organizer: event.organizer.clone().unwrap_or_default(),
                action: verdict.decision.into(),
                response: write.as_ref().map(|w| w.partstat.clone()),
                findings: Findings::from_verdict(&verdict),
                exemption: verdict.exemption.as_ref().map(|e| e.describe()),
                comment: comment.clone(),
                policy_hash: policy.hash.clone(),
                outcome: Outcome::Pending,
                error: None,
            },
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
        // Likewise when the calendar already carries the very answer this
        // verdict would write (a fresh store over standing answers).
        if write.is_none() && resumable.is_none() {
            let unchanged = match prev.as_ref().filter(|p| p.complete) {
                Some(_) => previous_decision.as_ref().is_some_and(|old| {
                    old.action == record.action
                        && old.findings == record.findings
                        && old.exemption == record.exemption
                }),
                None => false,
            };
            let recognised = owner == Ownership::Gatekeeper
                && previous_decision.is_none()
                && verdict.decision.partstat().as_ref() == Some(&attendee.partstat);
            if unchanged || recognised {
                screening.complete = true;
                screening.decision_id = previous_decision.as_ref().map(|old| old.id);
                // The calendar still carries the earlier comment.
                screening.applied_comment = previous_comment.map(str::to_string);
                self.store.put_screening(&screening)?;
                return Ok(Screened::Skipped);
            }
        }
        let id = match &resumable {
            Some(row) => row.id,
            None => self.store.begin_decision(&record, &screening)?,
        };
        record.id = id;
        // The write of an interrupted pass may have landed before the
        // crash: when the calendar already shows it, it is finished as
        // applied without writing again.
        let already_there = resumable.is_some()
            && write.as_ref().is_some_and(|w| {
                w.partstat == attendee.partstat
                    && w.marker.as_ref() == event.gatekeeper_partstat.as_ref()
                    && w.comment.as_deref() == event.gatekeeper_comment.as_deref()
            });

        let (outcome, error) = match (&write, unit.mode) {
            (None, _) => (Outcome::NoChange, None),
            (Some(_), Mode::Observe) => {
                // Nothing was written, so nothing of ours stands.
                screening.applied_partstat = prev.as_ref().and_then(|p| p.applied_partstat.clone());
                screening.applied_comment = previous_comment.map(str::to_string);
                (Outcome::Observed, None)
            }
            (Some(_), Mode::Enforce) if already_there => (Outcome::Applied, None),
            (Some(w), Mode::Enforce) => match responder(event, w) {
                Ok(()) => (Outcome::Applied, None),
                Err(e) => {
                    // Nothing was written: what stands is what stood.
                    screening.applied_partstat =
                        prev.as_ref().and_then(|p| p.applied_partstat.clone());
                    screening.applied_comment = previous_comment.map(str::to_string);
                    (Outcome::Failed, Some(e))
                }
            },
        };
        screening.complete = outcome != Outcome::Failed;
        // The use is recorded before the row is finished (recording is
        // idempotent): a crash in between must not lose it.
        if verdict.uses_urgent
            && outcome != Outcome::Failed
            && let Some(o) = &event.organizer
        {
            self.store
                .record_urgent_use(o, &month, &key.uid, &key.recurrence_id, now)?;
        }
        self.store
            .finish_decision(id, outcome, error.as_deref(), &screening)?;
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

/// The rules that decided (not observe-only ones) in a logged findings
/// list, sorted as `screen::acting_rules` gives them.
fn acting_rules(findings: &Findings) -> Vec<String> {
    findings.acting_rules()
}

/// The write a logged row planned: what an interrupted pass finishes.
fn logged_write(row: &DecisionRecord) -> Option<Write> {
    let partstat = row.response.clone()?;
    let marker = (partstat != PartStat::NeedsAction).then(|| partstat.clone());
    let rules = if marker.is_some() {
        acting_rules(&row.findings)
    } else {
        Vec::new()
    };
    Some(Write {
        partstat,
        comment: if marker.is_some() {
            row.comment.clone()
        } else {
            None
        },
        marker,
        rules,
    })
}
