//! The daemon's loop: a pass over every source, then a wait for the next
//! event from a closed set (`DaemonEvent`), each handled in one `match`.
//!
//! The loop owns the order of things and nothing else: what a pass does is
//! the `Screener`'s (the engine), where events come from and how waiting
//! works is the `EventSource`'s (signals, push notifications and policy
//! files in production: `live`), and what is said about it goes to an
//! `Observer` (the command line's log and metrics). Time is the injected
//! `Clock`'s. Nothing here reads the wall clock, sleeps, installs a signal
//! handler or prints, so tests drive the loop with a clock they move and a
//! script of events.
//!
//! **Invariant:** a pass is cut short only between items (the screener asks
//! the event source's interrupter), and the event that cut it is handled
//! before anything else; a stop ends the loop without starting another
//! pass.
//! **Invariant:** a weekly report comes due once per scheduled time; the
//! store's record of the week (`report::schedule`) keeps a restart from
//! producing it twice.

use chrono::{DateTime, Duration, Utc};

use super::clock::Clock;
use super::engine::{Engine, Interrupt, RunReport};
use super::webhook::Notification;
use crate::source::ApiStatsSnapshot;
use crate::store::{Store, StoreError};
use crate::team::{Team, TeamError};

/// The events the daemon loop reacts to. The loop is a `match` over this
/// closed set rather than a web of callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonEvent {
    /// Time to look at every source again.
    SyncDue,
    /// A policy file changed on disk, or SIGHUP asked for a reload.
    PolicyChanged,
    /// Google said a member's calendar changed.
    CalendarChanged(Notification),
    /// Something changed in a watched local calendar folder: a pass now.
    FoldersChanged,
    /// The weekly report's scheduled time has come (see
    /// `report::schedule`).
    ReportDue,
    /// SIGINT or SIGTERM.
    Shutdown,
}

/// What can arrive from outside while the daemon waits or works. The
/// loop turns these and the times it keeps into `DaemonEvent`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// SIGINT or SIGTERM.
    Stop,
    /// The policy files changed on disk, or SIGHUP asked for a reload.
    PoliciesEdited,
    /// A push notification for one member's calendar.
    Push(Notification),
    /// Something changed in a watched local calendar folder.
    FoldersChanged,
}

/// Where the loop's outside events come from, and how it waits for them.
pub trait EventSource {
    /// Wait until something arrives or `clock` reads `until`, whichever
    /// comes first; `None` when the time is up. A stop is looked for before
    /// anything else, and stops and policy edits are looked for even when
    /// `until` has already passed.
    fn wait(&mut self, clock: &dyn Clock, until: DateTime<Utc>) -> Option<Arrival>;

    /// What a pass asks between items: whether something arrived that the
    /// loop should see before the pass goes on. It must not take the
    /// arrival (`wait` still returns it), and may say so once per arrival.
    fn interrupter(&self) -> Interrupt;
}

/// What the loop drives: the engine in production, a fake in tests.
pub trait Screener {
    /// One pass over every source.
    fn pass(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError>;
    /// One member's calendar, after a push notification.
    fn sync_member(
        &mut self,
        push: &Notification,
        now: DateTime<Utc>,
    ) -> Result<RunReport, StoreError>;
    /// Open or renew push channels; the problems met.
    fn maintain_channels(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError>;
    /// Stop every open push channel (at shutdown).
    fn stop_channels(&mut self) -> Result<(), StoreError>;
    /// Read the policy files again; on an error the policies in force stay.
    fn reload_policies(&mut self) -> Result<(), TeamError>;
    /// When the weekly report is next due after `after`, if one is
    /// configured.
    fn report_due_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>>;
    /// Produce every report due at `now`: the lines to tell and the
    /// problems met.
    fn produce_reports(&mut self, now: DateTime<Utc>) -> (Vec<String>, Vec<String>);
    /// Let passes stop early, between items, when `interrupt` says so.
    fn set_interrupt(&mut self, interrupt: Interrupt);
    /// What the API calls have met since the start, for metrics.
    fn api_stats(&self) -> ApiStatsSnapshot;
}

/// Where the loop says what happened.
pub trait Observer {
    /// What the daemon is doing.
    fn info(&mut self, line: &str);
    /// A problem with one item, source or report; the rest goes on.
    fn warn(&mut self, line: &str);
    /// Something failed.
    fn error(&mut self, line: &str);
    /// Edited policy files that cannot be loaded.
    fn policies_rejected(&mut self, error: &TeamError);
    /// A pass ended: over every source (`whole`), or over one member's
    /// calendar after a push.
    fn pass_done(&mut self, report: &RunReport, took: std::time::Duration, whole: bool);
    /// The API figures after a whole pass.
    fn api_stats(&mut self, stats: ApiStatsSnapshot);
}

/// A failure that lasts from pass to pass is told once, and again when it
/// comes back after a pass without it.
#[derive(Debug, Default)]
struct StandingFailures(std::collections::HashSet<String>);

impl StandingFailures {
    /// Tell the pass's problems and new failures; whether it had failures.
    fn tell(&mut self, report: &RunReport, observer: &mut dyn Observer) -> bool {
        for p in &report.problems {
            observer.warn(p);
        }
        let now: std::collections::HashSet<String> =
            report.failures.iter().map(|f| f.to_string()).collect();
        for f in &report.failures {
            let line = f.to_string();
            if !self.0.contains(&line) {
                observer.error(&line);
            }
        }
        self.0 = now;
        !report.failures.is_empty()
    }
}

fn since(clock: &dyn Clock, started: DateTime<Utc>) -> std::time::Duration {
    (clock.now() - started).to_std().unwrap_or_default()
}

/// A pass over every source, told; whether it failed somewhere and
/// whether it was cut short.
fn whole_pass(
    screener: &mut dyn Screener,
    clock: &dyn Clock,
    observer: &mut dyn Observer,
    standing: &mut StandingFailures,
) -> Result<(bool, bool), StoreError> {
    let started = clock.now();
    let report = screener.pass(started)?;
    let failed = standing.tell(&report, observer);
    observer.pass_done(&report, since(clock, started), true);
    observer.api_stats(screener.api_stats());
    Ok((failed, report.interrupted))
}

/// `run --once`: one pass over every source. `Ok(false)` when a source or
/// member could not be synced or acted on.
pub fn once(
    screener: &mut dyn Screener,
    clock: &dyn Clock,
    observer: &mut dyn Observer,
) -> Result<bool, StoreError> {
    let (failed, _) = whole_pass(screener, clock, observer, &mut Default::default())?;
    Ok(!failed)
}

/// Wait for the next event: a stop, a policy edit or a push as they
/// arrive; otherwise the report when it is due (it comes before a sync
/// due at the same time), or the next sync.
fn next_event(
    events: &mut dyn EventSource,
    clock: &dyn Clock,
    sync_at: DateTime<Utc>,
    report_at: Option<DateTime<Utc>>,
) -> DaemonEvent {
    loop {
        let until = report_at.map_or(sync_at, |r| r.min(sync_at));
        match events.wait(clock, until) {
            Some(Arrival::Stop) => return DaemonEvent::Shutdown,
            Some(Arrival::PoliciesEdited) => return DaemonEvent::PolicyChanged,
            Some(Arrival::Push(n)) => return DaemonEvent::CalendarChanged(n),
            Some(Arrival::FoldersChanged) => return DaemonEvent::FoldersChanged,
            None => {}
        }
        let now = clock.now();
        if report_at.is_some_and(|r| r <= now) {
            return DaemonEvent::ReportDue;
        }
        if sync_at <= now {
            return DaemonEvent::SyncDue;
        }
        // Woken before the time: wait for the rest of it.
    }
}

/// The daemon: a pass over every source every `poll`, push channels kept
/// open, pushes, policy edits and the weekly report handled as they come,
/// until a stop. Returns `Ok` after a stop, an error when the state
/// database fails.
pub fn watch(
    screener: &mut dyn Screener,
    clock: &dyn Clock,
    events: &mut dyn EventSource,
    observer: &mut dyn Observer,
    poll: Duration,
) -> Result<(), StoreError> {
    screener.set_interrupt(events.interrupter());
    let mut standing = StandingFailures::default();
    // The latest scheduled time that passed while the daemon was down is
    // due at once (the store's record of the week makes a week produced
    // before a restart a no-op).
    let mut report_at = screener.report_due_after(clock.now() - Duration::days(7));
    loop {
        let (_, resume) = whole_pass(screener, clock, observer, &mut standing)?;
        // Open or renew push channels; polling goes on as the backstop.
        for p in screener.maintain_channels(clock.now())? {
            observer.warn(&p);
        }
        let sync_at = clock.now() + poll;
        loop {
            match next_event(events, clock, sync_at, report_at) {
                // The poll is the backstop: a watched folder's change is
                // looked at now. A pass after gatekeeper's own writes
                // finds nothing to do and writes nothing, so it settles.
                DaemonEvent::SyncDue | DaemonEvent::FoldersChanged => break,
                DaemonEvent::ReportDue => {
                    let now = clock.now();
                    let (done, problems) = screener.produce_reports(now);
                    done.iter().for_each(|l| observer.info(l));
                    problems.iter().for_each(|l| observer.warn(l));
                    report_at = screener.report_due_after(now);
                    // A pass cut short goes on now, not at the next poll.
                    if resume {
                        break;
                    }
                }
                DaemonEvent::Shutdown => {
                    observer.info("shutting down");
                    if let Err(e) = screener.stop_channels() {
                        observer.error(&format!("state database: {e}"));
                    }
                    return Ok(());
                }
                DaemonEvent::CalendarChanged(n) => {
                    let started = clock.now();
                    let report = screener.sync_member(&n, started)?;
                    // Told as it is, not through `standing`: one member's
                    // report does not say which of the pass's failures
                    // still stand.
                    for p in &report.problems {
                        observer.warn(p);
                    }
                    for f in &report.failures {
                        observer.error(&f.to_string());
                    }
                    observer.pass_done(&report, since(clock, started), false);
                    if resume {
                        break;
                    }
                }
                DaemonEvent::PolicyChanged => match screener.reload_policies() {
                    // The next pass re-screens the teams whose policy
                    // changed, and only those.
                    Ok(()) => {
                        observer.info("policies reloaded");
                        break;
                    }
                    Err(e) => {
                        observer.policies_rejected(&e);
                        observer.info("keeping the last good policies until the files are fixed");
                    }
                },
            }
        }
    }
}

impl<S: Store> Screener for Engine<S> {
    fn pass(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
        self.run_once(now)
    }

    fn sync_member(
        &mut self,
        push: &Notification,
        now: DateTime<Utc>,
    ) -> Result<RunReport, StoreError> {
        Engine::sync_member(self, &push.source, &push.member, now)
    }

    fn maintain_channels(&mut self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Engine::maintain_channels(self, now)
    }

    fn stop_channels(&mut self) -> Result<(), StoreError> {
        Engine::stop_channels(self)
    }

    fn reload_policies(&mut self) -> Result<(), TeamError> {
        let team = Team::load(&self.config.policies)?;
        self.set_team(team);
        Ok(())
    }

    fn report_due_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        crate::report::schedule::next_due_for(&self.config, &self.team, after)
    }

    fn produce_reports(&mut self, now: DateTime<Utc>) -> (Vec<String>, Vec<String>) {
        crate::report::schedule::run_scheduled(&self.config, &mut self.store, &self.team, now)
    }

    fn set_interrupt(&mut self, interrupt: Interrupt) {
        Engine::set_interrupt(self, interrupt)
    }

    fn api_stats(&self) -> ApiStatsSnapshot {
        Engine::api_stats(self)
    }
}

#[cfg(test)]
mod tests {
    //! The loop driven by a clock the test moves and a script of arrivals:
    //! time passes only while the loop waits (up to its deadline or the
    //! next arrival) and while a pass works through its items.

    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::rc::Rc;

    use super::*;
    use crate::daemon::engine::SyncFailure;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(minutes: f64) -> DateTime<Utc> {
        t0() + Duration::milliseconds((minutes * 60_000.0) as i64)
    }

    /// Minutes since `t0`, as the logs show them.
    fn mins(t: DateTime<Utc>) -> String {
        let s = (t - t0()).num_seconds();
        if s % 60 == 0 {
            format!("{}m", s / 60)
        } else {
            format!("{}m{}s", s / 60, s % 60)
        }
    }

    #[derive(Clone)]
    struct FakeClock(Rc<Cell<DateTime<Utc>>>);

    impl Clock for FakeClock {
        fn now(&self) -> DateTime<Utc> {
            self.0.get()
        }
    }

    impl FakeClock {
        fn move_to(&self, t: DateTime<Utc>) {
            assert!(t >= self.0.get(), "time never goes back");
            self.0.set(t);
        }
    }

    type Script = Rc<RefCell<VecDeque<(DateTime<Utc>, Arrival)>>>;

    /// Arrivals at given times.
    struct ScriptedEvents {
        clock: FakeClock,
        script: Script,
        /// How many arrivals `wait` has returned: the front one's number.
        taken: Rc<Cell<usize>>,
        /// How many the interrupter has told of (it tells of each once, as
        /// the live one does of a push).
        told: Rc<Cell<usize>>,
    }

    impl EventSource for ScriptedEvents {
        fn wait(&mut self, clock: &dyn Clock, until: DateTime<Utc>) -> Option<Arrival> {
            let mut script = self.script.borrow_mut();
            let Some((when, _)) = script.front() else {
                panic!("the script ran out at {}", mins(clock.now()));
            };
            if *when <= until {
                let (when, arrival) = script.pop_front().unwrap();
                self.taken.set(self.taken.get() + 1);
                self.clock.move_to(when.max(clock.now()));
                return Some(arrival);
            }
            self.clock.move_to(until.max(clock.now()));
            None
        }

        fn interrupter(&self) -> Interrupt {
            let script = Rc::clone(&self.script);
            let clock = self.clock.clone();
            let taken = Rc::clone(&self.taken);
            let told = Rc::clone(&self.told);
            Box::new(move || {
                let due = script
                    .borrow()
                    .front()
                    .is_some_and(|(when, _)| *when <= clock.now());
                if due && told.get() <= taken.get() {
                    told.set(taken.get() + 1);
                    return true;
                }
                false
            })
        }
    }

    /// A screener that writes down what it was asked to do and when. A
    /// pass works through `items` items of `item_minutes` each and asks
    /// the interrupter after each one.
    struct FakeScreener {
        clock: FakeClock,
        log: Vec<String>,
        items: usize,
        item_minutes: f64,
        interrupt: Option<Interrupt>,
        /// Each reload's outcome in turn (a reload past the end succeeds).
        reloads: VecDeque<bool>,
        /// Each pass's failures in turn (none past the end).
        failures: VecDeque<Vec<&'static str>>,
        /// The weekly report's scheduled times.
        reports: Vec<DateTime<Utc>>,
    }

    impl FakeScreener {
        fn new(clock: &FakeClock, items: usize) -> FakeScreener {
            FakeScreener {
                clock: clock.clone(),
                log: Vec::new(),
                items,
                item_minutes: 1.0,
                interrupt: None,
                reloads: VecDeque::new(),
                failures: VecDeque::new(),
                reports: Vec::new(),
            }
        }

        fn note(&mut self, what: impl std::fmt::Display) {
            assert!(self.log.len() < 1000, "the loop does not stop");
            self.log.push(format!("{} {what}", mins(self.clock.now())));
        }
    }

    impl Screener for FakeScreener {
        fn pass(&mut self, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
            assert_eq!(now, self.clock.now());
            assert!(self.log.len() < 1000, "the loop does not stop");
            let mut report = RunReport::default();
            let mut done = 0;
            while done < self.items {
                let t = self.clock.now() + Duration::seconds((self.item_minutes * 60.0) as i64);
                self.clock.move_to(t);
                done += 1;
                if done < self.items && self.interrupt.as_mut().is_some_and(|f| f()) {
                    report.interrupted = true;
                    break;
                }
            }
            report.failures = self
                .failures
                .pop_front()
                .unwrap_or_default()
                .into_iter()
                .map(|s| SyncFailure {
                    source: s.to_string(),
                    member: None,
                    reason: "unreachable".to_string(),
                })
                .collect();
            self.log.push(format!(
                "{} pass {done}/{}{}",
                mins(now),
                self.items,
                if report.interrupted { " cut short" } else { "" }
            ));
            Ok(report)
        }

        fn sync_member(
            &mut self,
            push: &Notification,
            _now: DateTime<Utc>,
        ) -> Result<RunReport, StoreError> {
            self.note(format!("sync {}", push.member));
            Ok(RunReport::default())
        }

        fn maintain_channels(&mut self, _now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
            self.note("channels");
            Ok(Vec::new())
        }

        fn stop_channels(&mut self) -> Result<(), StoreError> {
            self.note("stop channels");
            Ok(())
        }

        fn reload_policies(&mut self) -> Result<(), TeamError> {
            let ok = self.reloads.pop_front().unwrap_or(true);
            self.note(if ok { "reload" } else { "reload refused" });
            if ok {
                Ok(())
            } else {
                Err(TeamError {
                    files: Vec::new(),
                    io: vec!["broken".to_string()],
                })
            }
        }

        fn report_due_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
            self.reports.iter().copied().find(|t| *t > after)
        }

        fn produce_reports(&mut self, now: DateTime<Utc>) -> (Vec<String>, Vec<String>) {
            self.note("report");
            (vec![format!("report {}", mins(now))], Vec::new())
        }

        fn set_interrupt(&mut self, interrupt: Interrupt) {
            self.interrupt = Some(interrupt);
        }

        fn api_stats(&self) -> ApiStatsSnapshot {
            ApiStatsSnapshot::default()
        }
    }

    /// What the loop said, one line per thing.
    #[derive(Default)]
    struct Said(Vec<String>);

    impl Observer for Said {
        fn info(&mut self, line: &str) {
            self.0.push(format!("info: {line}"));
        }
        fn warn(&mut self, line: &str) {
            self.0.push(format!("warning: {line}"));
        }
        fn error(&mut self, line: &str) {
            self.0.push(format!("error: {line}"));
        }
        fn policies_rejected(&mut self, error: &TeamError) {
            self.0.push(format!("rejected: {}", error.io.join(", ")));
        }
        fn pass_done(&mut self, _: &RunReport, _: std::time::Duration, _: bool) {}
        fn api_stats(&mut self, _: ApiStatsSnapshot) {}
    }

    /// Run the daemon loop over `script` (minutes, arrival) with a poll of
    /// five minutes; the screener's log and what was said.
    fn drive(
        screener: impl FnOnce(&FakeClock) -> FakeScreener,
        script: &[(f64, Arrival)],
    ) -> (Vec<String>, Vec<String>) {
        let clock = FakeClock(Rc::new(Cell::new(t0())));
        let mut screener = screener(&clock);
        let script: Script = Rc::new(RefCell::new(
            script.iter().map(|(m, a)| (at(*m), a.clone())).collect(),
        ));
        let mut events = ScriptedEvents {
            clock: clock.clone(),
            script: Rc::clone(&script),
            taken: Rc::default(),
            told: Rc::default(),
        };
        let mut said = Said::default();
        watch(
            &mut screener,
            &clock,
            &mut events,
            &mut said,
            Duration::minutes(5),
        )
        .unwrap();
        assert!(script.borrow().is_empty(), "the loop stopped early");
        (screener.log, said.0)
    }

    fn push(member: &str) -> Arrival {
        Arrival::Push(Notification {
            source: "google".to_string(),
            member: member.to_string(),
        })
    }

    #[test]
    fn a_pass_every_poll_counted_from_the_end_of_the_last() {
        let (log, said) = drive(|c| FakeScreener::new(c, 2), &[(20.0, Arrival::Stop)]);
        assert_eq!(
            log,
            [
                "0m pass 2/2",
                "2m channels",
                "7m pass 2/2",
                "9m channels",
                "14m pass 2/2",
                "16m channels",
                "20m stop channels",
            ]
        );
        assert_eq!(said, ["info: shutting down"]);
    }

    #[test]
    fn a_folder_change_passes_at_once_and_the_poll_counts_from_that_pass() {
        let (log, _) = drive(
            |c| FakeScreener::new(c, 2),
            &[(3.0, Arrival::FoldersChanged), (12.0, Arrival::Stop)],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/2",
                "2m channels",
                // The change does not wait for the poll.
                "3m pass 2/2",
                "5m channels",
                "10m pass 2/2",
                "12m channels",
                "12m stop channels",
            ]
        );
    }

    #[test]
    fn a_policy_edit_rescreens_at_once_and_a_broken_one_keeps_the_last_good() {
        let (log, said) = drive(
            |c| {
                let mut s = FakeScreener::new(c, 2);
                s.reloads = [true, false].into();
                s
            },
            &[
                (3.0, Arrival::PoliciesEdited),
                (6.0, Arrival::PoliciesEdited),
                (12.0, Arrival::Stop),
            ],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/2",
                "2m channels",
                // The edit does not wait for the poll.
                "3m reload",
                "3m pass 2/2",
                "5m channels",
                // A broken edit changes nothing: the pass stays due at
                // the poll.
                "6m reload refused",
                "10m pass 2/2",
                "12m channels",
                "12m stop channels",
            ]
        );
        assert_eq!(
            said,
            [
                "info: policies reloaded",
                "rejected: broken",
                "info: keeping the last good policies until the files are fixed",
                "info: shutting down",
            ]
        );
    }

    #[test]
    fn a_report_comes_due_exactly_once_at_its_time() {
        let (log, said) = drive(
            |c| {
                let mut s = FakeScreener::new(c, 2);
                s.reports = vec![at(4.0), at(4.0) + Duration::days(7)];
                s
            },
            &[(30.0, Arrival::Stop)],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/2",
                "2m channels",
                "4m report",
                "7m pass 2/2",
                "9m channels",
                "14m pass 2/2",
                "16m channels",
                "21m pass 2/2",
                "23m channels",
                "28m pass 2/2",
                "30m channels",
                "30m stop channels",
            ]
        );
        assert_eq!(said, ["info: report 4m", "info: shutting down"]);
    }

    #[test]
    fn a_report_missed_while_down_is_produced_after_the_first_pass() {
        let (log, _) = drive(
            |c| {
                let mut s = FakeScreener::new(c, 2);
                s.reports = vec![at(-60.0), at(-60.0) + Duration::days(7)];
                s
            },
            &[(4.0, Arrival::Stop)],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/2",
                "2m channels",
                "2m report",
                "4m stop channels"
            ]
        );
    }

    #[test]
    fn a_stop_ends_the_loop_after_the_item_in_hand() {
        let (log, said) = drive(|c| FakeScreener::new(c, 10), &[(2.5, Arrival::Stop)]);
        // The third item was in hand when the stop came: it is finished,
        // nothing after it is started.
        assert_eq!(
            log,
            ["0m pass 3/10 cut short", "3m channels", "3m stop channels"]
        );
        assert_eq!(said, ["info: shutting down"]);
    }

    #[test]
    fn a_push_syncs_its_member_then_the_cut_short_pass_goes_on() {
        let (log, _) = drive(
            |c| FakeScreener::new(c, 4),
            &[
                (1.5, push("ana@example.com")),
                (8.0, push("bo@example.com")),
                (16.0, Arrival::Stop),
            ],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/4 cut short",
                "2m channels",
                "2m sync ana@example.com",
                "2m pass 4/4",
                "6m channels",
                // A push between passes does not move the next poll.
                "8m sync bo@example.com",
                "11m pass 4/4",
                "15m channels",
                "16m stop channels",
            ]
        );
    }

    #[test]
    fn a_report_due_during_a_cut_short_pass_comes_first_then_the_pass_goes_on() {
        let (log, _) = drive(
            |c| {
                let mut s = FakeScreener::new(c, 6);
                s.reports = vec![at(1.2), at(1.2) + Duration::days(7)];
                s
            },
            &[(1.5, push("ana@example.com")), (10.0, Arrival::Stop)],
        );
        assert_eq!(
            log,
            [
                "0m pass 2/6 cut short",
                "2m channels",
                "2m report",
                "2m pass 6/6",
                "8m channels",
                "8m sync ana@example.com",
                "10m stop channels",
            ]
        );
    }

    #[test]
    fn a_standing_failure_is_told_once_and_again_when_it_comes_back() {
        let (_, said) = drive(
            |c| {
                let mut s = FakeScreener::new(c, 1);
                s.failures = [vec!["a"], vec!["a", "b"], vec![], vec!["a"]].into();
                s
            },
            &[(20.0, Arrival::Stop)],
        );
        assert_eq!(
            said,
            [
                "error: source `a`: unreachable",
                "error: source `b`: unreachable",
                "error: source `a`: unreachable",
                "info: shutting down",
            ]
        );
    }

    #[test]
    fn once_is_one_pass_and_says_whether_it_failed() {
        let clock = FakeClock(Rc::new(Cell::new(t0())));
        for (failures, clean) in [(vec![], true), (vec!["a"], false)] {
            let mut screener = FakeScreener::new(&clock, 2);
            screener.failures = [failures].into();
            screener.reports = vec![at(-60.0)];
            let mut said = Said::default();
            assert_eq!(once(&mut screener, &clock, &mut said).unwrap(), clean);
            // No channels, no report, no waiting.
            assert_eq!(screener.log.len(), 1, "{:?}", screener.log);
            assert!(screener.log[0].ends_with("pass 2/2"), "{:?}", screener.log);
        }
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    /// The engine under the loop, on a copy of the demo team: a pass,
    /// then a reload at one minute and a stop at two. How many decisions
    /// the pass after the reload made.
    fn decisions_after_a_reload(edit: impl FnOnce(&str) -> String) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
        for part in ["calendars", "policies"] {
            copy_dir(&demo.join(part), &dir.path().join(part));
        }
        std::fs::copy(
            demo.join("gatekeeper.toml"),
            dir.path().join("gatekeeper.toml"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let config = crate::config::Config::load(&dir.path().join("gatekeeper.toml")).unwrap();
        let team = Team::load(&config.policies).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let store =
            crate::store::sqlite::SqliteStore::open(config.store.sqlite.as_deref().unwrap())
                .unwrap();
        let mut engine = Engine::new(config, store, team);
        let decided = Rc::new(Cell::new(0));
        {
            let decided = Rc::clone(&decided);
            engine.set_decision_sink(Box::new(move |_| decided.set(decided.get() + 1)));
        }
        // Read at the reload, after the first pass.
        let policy = dir.path().join("policies/demo.toml");
        let text = std::fs::read_to_string(&policy).unwrap();
        std::fs::write(&policy, edit(&text)).unwrap();

        let now = DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = FakeClock(Rc::new(Cell::new(now)));
        let script: Script = Rc::new(RefCell::new(
            [
                (now + Duration::minutes(1), Arrival::PoliciesEdited),
                (now + Duration::minutes(2), Arrival::Stop),
            ]
            .into(),
        ));
        let mut events = ScriptedEvents {
            clock: clock.clone(),
            script,
            taken: Rc::default(),
            told: Rc::default(),
        };
        let mut said = Said::default();
        // Count only what the pass after the reload decides.
        let first = Rc::new(Cell::new(None));
        struct Counting<'a> {
            said: &'a mut Said,
            decided: Rc<Cell<usize>>,
            first: Rc<Cell<Option<usize>>>,
        }
        impl Observer for Counting<'_> {
            fn info(&mut self, line: &str) {
                self.said.info(line);
            }
            fn warn(&mut self, line: &str) {
                self.said.warn(line);
            }
            fn error(&mut self, line: &str) {
                self.said.error(line);
            }
            fn policies_rejected(&mut self, error: &TeamError) {
                self.said.policies_rejected(error);
            }
            fn pass_done(&mut self, _: &RunReport, _: std::time::Duration, _: bool) {
                if self.first.get().is_none() {
                    self.first.set(Some(self.decided.get()));
                }
            }
            fn api_stats(&mut self, _: ApiStatsSnapshot) {}
        }
        let mut observer = Counting {
            said: &mut said,
            decided: Rc::clone(&decided),
            first: Rc::clone(&first),
        };
        watch(
            &mut engine,
            &clock,
            &mut events,
            &mut observer,
            Duration::minutes(5),
        )
        .unwrap();
        let first = first.get().unwrap();
        assert!(first > 0, "the demo has invites to decide");
        let told: Vec<&String> = said.0.iter().filter(|l| l.starts_with("info:")).collect();
        assert_eq!(told, ["info: policies reloaded", "info: shutting down"]);
        decided.get() - first
    }

    #[test]
    fn through_the_engine_a_policy_edit_rescreens_and_an_unchanged_reload_does_not() {
        assert_eq!(decisions_after_a_reload(str::to_string), 0);
        let edited = decisions_after_a_reload(|text| {
            let edited = text.replacen("min_words = 6", "min_words = 1", 1);
            assert_ne!(edited, text);
            edited
        });
        assert!(
            edited > 0,
            "the edited policy re-screened the team's invites"
        );
    }
}
