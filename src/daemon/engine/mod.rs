//! The I/O around the decision core, as a pipeline over every
//! `dyn CalendarSource`: sync (what changed since the stored cursors), plan
//! (map events into invites, ask the core, decide what to write), act
//! (write the answer, conditional on the version decided on), log. No
//! backend is named here: what differs between local folders, Google and
//! CalDAV is behind the trait (`source`).
//!
//! **Invariant:** every action is logged as pending before it is taken and
//! finished after, and a batch's sync cursor moves only once everything in
//! it is done. A crash at any point therefore leads the next run to finish
//! the job, never to act twice or to forget an invite.

mod channels;
mod pipeline;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::screen::{self, Ownership, Write};
use crate::calendar::recurrence::expand;
use crate::calendar::{Event, EventTime, PartStat, Status};
use crate::config::{Config, Mode};
use crate::fairness::{BurdenSnapshot, BusyTime, Standing, ledger_entries};
use crate::policy::{Context, Invite, Policy, RuleKind, Span, evaluate};
use crate::source::{ApiStatsSnapshot, CalendarSource, ChannelRegistry, CursorOp, ItemRef};
use crate::store::{BurdenEntry, BurdenItem};
use crate::store::{DecisionRecord, Findings, Outcome, Screening, ScreeningKey, Store, StoreError};
use crate::team::Team;

pub struct Engine<S: Store> {
    pub config: Config,
    pub store: S,
    pub team: Team,
    /// Every configured source (`source::build`), shared so a pass can
    /// read busy times from one while it syncs another.
    sources: Vec<Arc<dyn CalendarSource>>,
    /// The async runtime sources that need one run on.
    runtime: Option<Arc<tokio::runtime::Runtime>>,
    /// Open push channels: which channel belongs to which member.
    pub channels: ChannelRegistry,
    /// Per pass: each policy's burden snapshot (by policy hash) and each
    /// member's busy times, computed when first needed.
    burdens: HashMap<String, Arc<BurdenSnapshot>>,
    busy: HashMap<String, Arc<Vec<BusyTime>>>,
    /// Time zones read from members' calendar settings.
    calendar_zones: HashMap<String, Tz>,
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

/// What one pass over every source did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// API calls made (list, patch), retries included.
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
    /// The UID an event's state (screening, ledger, log) is kept under
    /// (`source::uid_key`).
    fn uid_of(&self, event: &Event) -> String {
        crate::source::uid_key(&event.uid, &self.item.href)
    }
}

impl<S: Store> Engine<S> {
    pub fn new(config: Config, store: S, team: Team) -> Engine<S> {
        let built = crate::source::build(&config, &team.members());
        let sources = built.sources.into_iter().map(Arc::from).collect();
        Engine::with_sources(config, store, team, sources, built.runtime)
    }

    /// An engine over sources the caller made (the backtest's replay of a
    /// period, whose writes land in memory), instead of the config's.
    pub fn with_sources(
        config: Config,
        store: S,
        team: Team,
        sources: Vec<Arc<dyn CalendarSource>>,
        runtime: Option<Arc<tokio::runtime::Runtime>>,
    ) -> Engine<S> {
        let mut engine = Engine {
            config,
            store,
            team,
            sources,
            runtime,
            channels: ChannelRegistry::default(),
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

    /// What every source's calls have met since the daemon started
    /// (failures by kind, waits), for `/metrics`.
    pub fn api_stats(&self) -> ApiStatsSnapshot {
        let mut total = ApiStatsSnapshot::default();
        for source in &self.sources {
            total.add(&source.api_stats());
        }
        total
    }

    /// The async runtime sources run on (for the webhook listener), if any
    /// source needs one.
    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.runtime.as_deref()
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
        let sources = self.sources.clone();
        // The ledger first, from every source that can look at its changes
        // without consuming them, then the snapshot every decision of this
        // pass reads.
        for source in &sources {
            self.prime_ledger(source.as_ref(), now, &mut report)?;
        }
        self.begin_pass(now)?;
        for source in &sources {
            self.sync(source.as_ref(), None, now, &mut report)?;
        }
        Ok(report)
    }

    /// One pass over one member of one source: what a push notification
    /// triggers.
    pub fn sync_member(
        &mut self,
        source_name: &str,
        member: &str,
        now: DateTime<Utc>,
    ) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        self.begin_pass(now)?;
        let sources = self.sources.clone();
        // One member's incremental batch is short, and the notification
        // that asked for it would otherwise interrupt it at once.
        let interrupt = self.interrupt.take();
        let only = [member.to_string()];
        let mut result = Ok(());
        for source in sources.iter().filter(|s| s.name() == source_name) {
            result = self.sync(source.as_ref(), Some(&only), now, &mut report);
            if result.is_err() {
                break;
            }
        }
        self.interrupt = interrupt;
        result.map(|()| report)
    }

    /// A team whose policy changed since its invites were screened has
    /// them screened again from what is already known: each source makes
    /// its members' events be handed over once more (local items' cursors
    /// go stale, Google members get one windowed read), without forgetting
    /// sync tokens or push channels. Other teams are left alone. Each
    /// team's hash is kept in the store's meta table
    /// (`policy_hash.team.<name>`), so a restart with edited files does the
    /// same, and only once.
    fn rescreen_changed_teams(&mut self) -> Result<(), StoreError> {
        let policies: Vec<Arc<Policy>> = self.team.policies().to_vec();
        for p in policies {
            let key = format!("policy_hash.team.{}", p.team);
            if self.store.meta(&key)?.as_deref() == Some(p.hash.as_str()) {
                continue;
            }
            let members: Vec<&str> = p.members.iter().map(|m| m.email.as_str()).collect();
            for source in &self.sources {
                if !source
                    .members()
                    .iter()
                    .any(|m| members.contains(&m.as_str()))
                {
                    continue;
                }
                let cursors = self.store.cursors(source.name())?;
                for op in source.rescreen(&cursors, &members) {
                    apply_cursor(&mut self.store, source.name(), &op)?;
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
        for source in &self.sources {
            if !source.members().iter().any(|m| m == member) {
                continue;
            }
            match source.events_between(member, from, to) {
                Ok(window) => groups.extend(window.series),
                Err(e) => tracing::warn!("`{member}`: cannot read busy times: {e}"),
            }
        }
        crate::fairness::busy::busy_times(member, &groups, tz, from, to, None)
    }

    /// Screen one event for one member: keep the ledger in step, skip
    /// what is unchanged or the member's own answer, judge, plan the
    /// write, then log it as pending, write it through `responder`, and
    /// finish the log row. Each step is one function below.
    fn screen_event(
        &mut self,
        s: &Screen<'_>,
        responder: &mut dyn FnMut(&Event, &Write) -> Result<(), String>,
    ) -> Result<Screened, StoreError> {
        let event = s.event();
        if s.policy.fairness.enabled {
            self.record_burden(s.unit, s.policy, s.tz, s.group, s.idx, s.now)?;
        }
        let Some(attendee) = event.attendee(s.member()) else {
            return Ok(Screened::Skipped);
        };
        if event.organizer.as_deref() == Some(s.member()) || event.status == Status::Cancelled {
            return Ok(Screened::Skipped);
        }
        let Some(mut known) = self.known(s, &attendee.partstat)? else {
            return Ok(Screened::Skipped);
        };
        if known.owner == Ownership::Member {
            self.member_answered(&known)?;
            return Ok(Screened::Skipped);
        }
        let resumable = self.resumable(s, &known)?;
        let verdict = self.judge(s)?;
        if resumable.is_none()
            && matches!(
                verdict.verdict.exemption,
                Some(crate::policy::evaluate::Exemption::Past)
            )
        {
            self.store.put_screening(&known.screening)?;
            return Ok(Screened::Skipped);
        }
        let plan = self.plan(s, &known, &attendee.partstat, verdict, resumable)?;
        let mut record = plan.record(s, &known.key);
        if self.standing(&mut known, &attendee.partstat, &plan, &record)? {
            return Ok(Screened::Skipped);
        }
        let id = match &plan.resumable {
            Some(row) => row.id,
            None => self.store.begin_decision(&record, &known.screening)?,
        };
        record.id = id;
        let (outcome, error) = act(s, &mut known, &attendee.partstat, &plan, responder);
        known.screening.complete = outcome != Outcome::Failed;
        // The use is recorded before the row is finished (recording is
        // idempotent): a crash in between must not lose it.
        if plan.verdict.uses_urgent
            && outcome != Outcome::Failed
            && let Some(o) = &event.organizer
        {
            self.store.record_urgent_use(
                o,
                &plan.month,
                &known.key.uid,
                &known.key.recurrence_id,
                s.now,
            )?;
        }
        self.store
            .finish_decision(id, outcome, error.as_deref(), &known.screening)?;
        record.outcome = outcome;
        record.error = error;
        Ok(Screened::Decided(Box::new(record)))
    }

    /// What is known of the event before it is judged, or `None` when it is
    /// the version already screened under this policy.
    fn known(&mut self, s: &Screen<'_>, current: &PartStat) -> Result<Option<Known>, StoreError> {
        let event = s.event();
        let key = ScreeningKey {
            source: s.unit.source.to_string(),
            calendar: s.unit.item.calendar.clone(),
            uid: s.unit.uid_of(event),
            recurrence_id: event.recurrence_key(),
            member: s.member().to_string(),
        };
        let fingerprint = {
            let team = &self.team;
            screen::fingerprint(event, s.member(), &|e| team.governs(e))
        };
        let prev = self.store.screening(&key)?;
        if let Some(p) = &prev
            && p.complete
            && p.fingerprint == fingerprint
            && p.policy_hash == s.policy.hash
        {
            return Ok(None);
        }
        // What the store says gatekeeper's standing answer is, only from a
        // finished row: an unfinished one records what was *planned*, and a
        // member who gave that same answer themselves meanwhile (no marker)
        // must not be taken for gatekeeper and written over.
        let applied = prev
            .as_ref()
            .filter(|p| p.complete)
            .and_then(|p| p.applied_partstat.as_deref());
        let owner = screen::ownership(current, event.gatekeeper_partstat.as_ref(), applied);
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
        let screening = Screening {
            key: key.clone(),
            fingerprint,
            policy_hash: s.policy.hash.clone(),
            applied_partstat: None,
            applied_comment: None,
            decision_id: prev.as_ref().and_then(|p| p.decision_id),
            complete: true,
        };
        Ok(Some(Known {
            key,
            prev,
            owner,
            unfinished,
            screening,
        }))
    }

    /// The member answered: remember that we looked. A row left unfinished
    /// is closed: the member's answer came first.
    fn member_answered(&mut self, known: &Known) -> Result<(), StoreError> {
        match &known.unfinished {
            Some(row) => self.store.finish_decision(
                row.id,
                Outcome::NoChange,
                Some("the member answered themselves first"),
                &known.screening,
            ),
            None => self.store.put_screening(&known.screening),
        }
    }

    /// The unfinished row to finish as logged, if the invite and policy
    /// are still the ones it was decided on. Otherwise that row is closed,
    /// and this version is decided on its own; the screening stays
    /// unfinished until then, so a crash in between leaves this version to
    /// be decided, not taken as done.
    fn resumable(
        &mut self,
        s: &Screen<'_>,
        known: &Known,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        let resumable = known.unfinished.clone().filter(|_| {
            known.prev.as_ref().is_some_and(|p| {
                p.fingerprint == known.screening.fingerprint && p.policy_hash == s.policy.hash
            })
        });
        if resumable.is_none()
            && let Some(row) = &known.unfinished
        {
            self.store.finish_decision(
                row.id,
                Outcome::NoChange,
                Some("superseded: the invite changed before this answer was written"),
                &Screening {
                    complete: false,
                    ..known.screening.clone()
                },
            )?;
        }
        Ok(resumable)
    }

    /// Ask the core. It sees the invite as its organizer wrote it and as
    /// people gatekeeper does not answer for answered it: never an answer
    /// gatekeeper may have written (see `screen::neutral_attendees`).
    fn judge(&mut self, s: &Screen<'_>) -> Result<Judged, StoreError> {
        let (event, policy, now) = (s.event(), s.policy, s.now);
        let spans = upcoming_spans(
            s.group,
            s.idx,
            s.tz,
            now,
            self.config.horizon_days,
            self.config.series_occurrences,
        );
        let month = now.format("%Y-%m").to_string();
        // Only a policy with an urgent exception needs the count.
        let urgent_uses = match (&event.organizer, &policy.exceptions.urgent) {
            (Some(o), Some(_)) => {
                self.store
                    .urgent_uses(o, &month, &s.unit.uid_of(event), &event.recurrence_key())?
            }
            _ => 0,
        };
        let attendees = {
            let team = &self.team;
            screen::neutral_attendees(&event.attendees, &|e| team.governs(e))
        };
        let mut invite = Invite::of_event(event, &spans);
        invite.attendees = &attendees;
        let mut ctx = Context::new(now, s.member()).with_urgent_uses(urgent_uses);
        let protected;
        if policy
            .rules
            .iter()
            .any(|r| r.spec.kind() == RuleKind::ProtectedTime)
        {
            let horizon = now + Duration::days(i64::from(self.config.horizon_days));
            protected = self.store.protected_blocks(
                s.unit.source,
                &s.unit.item.calendar,
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
        let comment = verdict.comment(&invite, policy, s.member(), event.private);
        Ok(Judged {
            verdict,
            comment,
            month,
        })
    }

    /// What to write: the logged answer of a resumable row, or the plan
    /// for this verdict given whose the current answer is and what the
    /// standing answer stands on.
    fn plan(
        &mut self,
        s: &Screen<'_>,
        known: &Known,
        current: &PartStat,
        judged: Judged,
        resumable: Option<DecisionRecord>,
    ) -> Result<Plan, StoreError> {
        let event = s.event();
        let Judged {
            verdict,
            comment,
            month,
        } = judged;
        // What the calendar holds now wins over what the store remembers: it
        // is right even when the store was lost or another instance wrote.
        let previous_comment = event
            .gatekeeper_comment
            .clone()
            .or_else(|| known.prev.as_ref().and_then(|p| p.applied_comment.clone()));
        let previous_decision = match known.prev.as_ref().and_then(|p| p.decision_id) {
            Some(id) => self.store.decision(id)?,
            None => None,
        };
        // The rules the standing answer stands on: the calendar's own
        // record first (it survives a lost store), then the log.
        let previous_rules: Option<Vec<String>> = match &event.gatekeeper_rules {
            Some(r) if known.owner == Ownership::Gatekeeper => Some(r.clone()),
            _ => previous_decision
                .as_ref()
                .map(|old| acting_rules(&old.findings)),
        };
        let new_problems = screen::new_problems(previous_rules.as_deref(), &verdict);
        let mut write = match &resumable {
            Some(row) => logged_write(row),
            None => screen::plan(
                verdict.decision,
                known.owner,
                current,
                comment.clone(),
                previous_comment.as_deref(),
                new_problems,
            ),
        };
        if let Some(w) = &mut write
            && w.marker.is_some()
            && resumable.is_none()
        {
            w.rules = screen::acting_rules(&verdict);
        }
        Ok(Plan {
            verdict,
            comment,
            month,
            previous_comment,
            previous_decision,
            write,
            resumable,
        })
    }

    /// The invite changed (another attendee answered, say) but the outcome
    /// did not: remember the new version without a new log row. Likewise
    /// when the calendar already carries the very answer this verdict
    /// would write (a fresh store over standing answers). True when that
    /// is so and the event is done. Otherwise the screening is set to what
    /// the calendar will say once the write lands, unfinished.
    fn standing(
        &mut self,
        known: &mut Known,
        current: &PartStat,
        plan: &Plan,
        record: &DecisionRecord,
    ) -> Result<bool, StoreError> {
        let screening = &mut known.screening;
        (screening.applied_partstat, screening.applied_comment) = match &plan.write {
            Some(w) => (
                w.marker.as_ref().map(|m| m.as_ical().to_string()),
                w.comment.clone(),
            ),
            None if known.owner == Ownership::Gatekeeper => (
                Some(current.as_ical().to_string()),
                plan.previous_comment.clone(),
            ),
            None => (None, None),
        };
        screening.complete = false;
        if plan.write.is_some() || plan.resumable.is_some() {
            return Ok(false);
        }
        let unchanged = match known.prev.as_ref().filter(|p| p.complete) {
            Some(_) => plan.previous_decision.as_ref().is_some_and(|old| {
                old.action == record.action
                    && old.findings == record.findings
                    && old.exemption == record.exemption
            }),
            None => false,
        };
        let recognised = known.owner == Ownership::Gatekeeper
            && plan.previous_decision.is_none()
            && plan.verdict.decision.partstat().as_ref() == Some(current);
        if !(unchanged || recognised) {
            return Ok(false);
        }
        screening.complete = true;
        screening.decision_id = plan.previous_decision.as_ref().map(|old| old.id);
        // The calendar still carries the earlier comment.
        screening.applied_comment = plan.previous_comment.clone();
        self.store.put_screening(screening)?;
        Ok(true)
    }
}

/// Carry out the plan: nothing to write, observe only, already there (an
/// interrupted pass's write landed before the crash: finished as applied
/// without writing again), or write through `responder`. What stands
/// after a write that did not happen is what stood.
fn act(
    s: &Screen<'_>,
    known: &mut Known,
    current: &PartStat,
    plan: &Plan,
    responder: &mut dyn FnMut(&Event, &Write) -> Result<(), String>,
) -> (Outcome, Option<String>) {
    let event = s.event();
    let already_there = plan.resumable.is_some()
        && plan.write.as_ref().is_some_and(|w| {
            w.partstat == *current
                && w.marker.as_ref() == event.gatekeeper_partstat.as_ref()
                && w.comment.as_deref() == event.gatekeeper_comment.as_deref()
        });
    let stood = |known: &mut Known| {
        known.screening.applied_partstat =
            known.prev.as_ref().and_then(|p| p.applied_partstat.clone());
        known.screening.applied_comment = plan.previous_comment.clone();
    };
    match (&plan.write, s.unit.mode) {
        (None, _) => (Outcome::NoChange, None),
        (Some(_), Mode::Observe) => {
            // Nothing was written, so nothing of ours stands.
            stood(known);
            (Outcome::Observed, None)
        }
        (Some(_), Mode::Enforce) if already_there => (Outcome::Applied, None),
        (Some(w), Mode::Enforce) => match responder(event, w) {
            Ok(()) => (Outcome::Applied, None),
            Err(e) => {
                // Nothing was written: what stands is what stood.
                stood(known);
                (Outcome::Failed, Some(e))
            }
        },
    }
}

/// One event being screened for one member, and where it comes from.
struct Screen<'a> {
    unit: &'a Unit<'a>,
    policy: &'a Policy,
    tz: Tz,
    /// The event's series (as a source groups it) and its place in it.
    group: &'a [Event],
    idx: usize,
    now: DateTime<Utc>,
}

impl Screen<'_> {
    fn event(&self) -> &Event {
        &self.group[self.idx]
    }

    fn member(&self) -> &str {
        self.unit.member
    }
}

/// What is known of an event before it is judged.
struct Known {
    key: ScreeningKey,
    /// The screening the store holds.
    prev: Option<Screening>,
    /// Whose the attendee's current answer is.
    owner: Ownership,
    /// A logged row an earlier pass did not finish.
    unfinished: Option<DecisionRecord>,
    /// The screening this decision leaves.
    screening: Screening,
}

/// The core's verdict on an event.
struct Judged {
    verdict: crate::policy::Verdict,
    comment: Option<String>,
    /// The month urgent uses are counted in.
    month: String,
}

/// The verdict and what it comes to.
struct Plan {
    verdict: crate::policy::Verdict,
    comment: Option<String>,
    month: String,
    /// The comment gatekeeper's standing answer carries.
    previous_comment: Option<String>,
    previous_decision: Option<DecisionRecord>,
    write: Option<Write>,
    /// The unfinished row this decision finishes as logged.
    resumable: Option<DecisionRecord>,
}

impl Plan {
    /// The log row: the resumable one, or a new pending one.
    fn record(&self, s: &Screen<'_>, key: &ScreeningKey) -> DecisionRecord {
        let event = s.event();
        match &self.resumable {
            Some(row) => row.clone(),
            None => DecisionRecord {
                id: 0,
                decided_at: s.now,
                source: s.unit.source.to_string(),
                calendar: s.unit.item.calendar.clone(),
                member: s.member().to_string(),
                uid: key.uid.clone(),
                recurrence_id: key.recurrence_id.clone(),
                title: if event.private {
                    "(private event)".into()
                } else {
                    event.summary.clone()
                },
                organizer: event.organizer.clone().unwrap_or_default(),
                action: self.verdict.decision.into(),
                response: self.write.as_ref().map(|w| w.partstat.clone()),
                findings: Findings::from_verdict(&self.verdict),
                exemption: self.verdict.exemption.as_ref().map(|e| e.describe()),
                comment: self.comment.clone(),
                policy_hash: s.policy.hash.clone(),
                outcome: Outcome::Pending,
                error: None,
            },
        }
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

/// Store one cursor change of `source`.
fn apply_cursor<S: Store>(store: &mut S, source: &str, op: &CursorOp) -> Result<(), StoreError> {
    match op {
        CursorOp::Set {
            calendar,
            item,
            value,
        } => store.set_cursor(source, calendar, item, value),
        CursorOp::Remove { calendar, item } => store.remove_cursor(source, calendar, item),
    }
}
