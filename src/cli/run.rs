//! `gatekeeper run`: the daemon. `--once` does one pass and exits; without
//! it the daemon keeps watching until SIGINT/SIGTERM, reloading policies
//! when they change and keeping the last good one when a change breaks a
//! file. This file reads the arguments, builds the engine, the listeners
//! and the log, and hands them to `daemon::event_loop`, which owns the
//! loop.

use std::path::PathBuf;
use std::sync::Arc;

use super::Exit;
use crate::config::Config;
use crate::daemon::event_loop::{self, Observer};
use crate::daemon::live::{LiveEvents, SignalFlags};
use crate::daemon::{Clock, Engine, OffsetClock, RunReport, SystemClock};
use crate::metrics::Metrics;
use crate::source::ApiStatsSnapshot;
use crate::store::DecisionRecord;
use crate::team::{Team, TeamError};

#[derive(clap::Args)]
pub struct Args {
    /// The config file: policies, sources, state (see the README's
    /// configuration reference).
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// One pass over every source, then exit.
    #[arg(long)]
    once: bool,
    /// Pretend the clock reads this time (for demos and replaying a day);
    /// the clock moves on from it.
    #[arg(long, value_parser = super::parse_instant)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

/// One line per decision, as `run` prints and `log` shows it.
pub fn decision_line(r: &DecisionRecord) -> String {
    let rules: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            if f.acts() {
                f.rule.as_str().to_string()
            } else {
                format!("{}(observe)", f.rule.as_str())
            }
        })
        .collect();
    let mut why = if !r.findings.is_readable() {
        "rules unreadable in this log row".to_string()
    } else if rules.is_empty() {
        "no rule fired".to_string()
    } else {
        rules.join(", ")
    };
    if let Some(e) = &r.exemption {
        why = format!("{why}; allowed: {e}");
    }
    let occurrence = if r.recurrence_id.is_empty() {
        String::new()
    } else {
        format!(" @{}", r.recurrence_id)
    };
    let mut line = format!(
        "{}  {:<8}  {}  {:?}{} from {}  [{}]  {}",
        r.decided_at.format("%Y-%m-%dT%H:%M:%SZ"),
        r.action,
        r.member,
        r.title,
        occurrence,
        if r.organizer.is_empty() {
            "(no organizer)"
        } else {
            &r.organizer
        },
        why,
        r.outcome.as_str(),
    );
    match (&r.response, r.outcome) {
        (Some(resp), crate::store::Outcome::Observed) => {
            line.push_str(&format!(" (would write {})", resp.as_ical()))
        }
        (Some(resp), _) => line.push_str(&format!(" → {}", resp.as_ical())),
        (None, _) => {}
    }
    if let Some(e) = &r.error {
        line.push_str(&format!(" ({e})"));
    }
    line
}

/// What the loop says goes to the log on stderr, and its figures to
/// `/metrics`.
struct Narration {
    metrics: Arc<Metrics>,
    /// Every source's name, for the sync lag a whole pass sets.
    sources: Vec<String>,
}

impl Observer for Narration {
    fn info(&mut self, line: &str) {
        super::logging::info(line);
    }

    fn warn(&mut self, line: &str) {
        super::logging::warn(line);
    }

    fn error(&mut self, line: &str) {
        super::err(line);
    }

    fn policies_rejected(&mut self, error: &TeamError) {
        super::logging::rendered(&error.render(super::use_color()));
    }

    fn pass_done(&mut self, report: &RunReport, took: std::time::Duration, whole: bool) {
        self.metrics.record_pass(
            took.as_secs_f64(),
            report.api_calls,
            report.failed,
            report.problems.len(),
            if whole { &self.sources } else { &[] },
            chrono::Utc::now().timestamp(),
        );
    }

    fn api_stats(&mut self, stats: ApiStatsSnapshot) {
        self.metrics.set_api_stats(stats);
    }
}

pub fn run(args: Args) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            return super::config_failed(&e);
        }
    };
    let team = match Team::load(&config.policies) {
        Ok(t) => t,
        Err(e) => {
            super::logging::rendered(&e.render(super::use_color()));
            return Exit::PolicyInvalid;
        }
    };
    // One SQLite state, one writer: held until this process ends, however
    // it ends. PostgreSQL is shared by design (instances split the members
    // with `store::lease`).
    let _lock = match &config.store.sqlite {
        None => None,
        Some(db) => match crate::store::lock::acquire(db) {
            Ok(l) => Some(l),
            Err(e @ crate::store::lock::LockError::Held { .. }) => {
                super::err(e);
                return Exit::StateLocked;
            }
            Err(e) => {
                super::err(e);
                return Exit::Failure;
            }
        },
    };
    let store = match crate::store::open(&config.store) {
        Ok(s) => s,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    let clock: Box<dyn Clock> = match args.now {
        Some(t) => Box::new(OffsetClock::starting_at(t)),
        None => Box::new(SystemClock),
    };
    // Edits made after this team was read are noticed from here on.
    let policies = team.watch(&config.policies);
    // Within the config's checked range (1 to 86,400), so the cast is exact.
    let poll = chrono::Duration::seconds(config.poll_seconds.clamp(1, 86_400) as i64);
    let mut engine = Engine::new(config, store, team);
    // Several instances on one PostgreSQL split the members with leases:
    // this one works only on those it holds, renewed before each pass.
    match join_leases(&engine.config, engine.members()) {
        Ok(Some(leases)) => engine.set_gate(Box::new(leases)),
        Ok(None) => {}
        Err(e) => {
            super::err(format!("state database: {e}"));
            return Exit::Failure;
        }
    }

    let signals = if args.once {
        None
    } else {
        match SignalFlags::install() {
            Ok(f) => Some(f),
            Err(e) => {
                super::err(format!("cannot install signal handlers: {e}"));
                return Exit::Failure;
            }
        }
    };
    // Channels an earlier run left open are known to the listener before
    // it starts: Google keeps posting to them.
    if let Err(e) = engine.register_channels() {
        super::err(format!("state database: {e}"));
        return Exit::Failure;
    }
    let metrics = Arc::new(Metrics::new());
    // Decisions are printed as they are made: a first sync of a large team
    // makes hundreds of thousands, which need not sit in memory.
    let sink_metrics = Arc::clone(&metrics);
    engine.set_decision_sink(Box::new(move |r| {
        println!("{}", decision_line(r));
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
        sink_metrics.record_decision(r.action.as_str(), &rules);
    }));
    let mut narration = Narration {
        metrics: Arc::clone(&metrics),
        sources: engine
            .config
            .sources
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
    };
    let Some(signals) = signals else {
        return match event_loop::once(&mut engine, &*clock, &mut narration) {
            Ok(true) => Exit::Ok,
            Ok(false) => Exit::SyncFailed,
            Err(e) => {
                super::err(format!("state database: {e}"));
                Exit::Failure
            }
        };
    };
    let (mut events, pushes) = LiveEvents::new(signals, policies);
    // Local calendar folders wake the loop as they change; the poll stays
    // the backstop.
    let folders = crate::source::local_folders(&engine.config);
    if !folders.is_empty() {
        let warn = Box::new(|line: String| super::logging::warn(line));
        if let Some(changed) = crate::daemon::folder_watch::spawn(
            &folders,
            crate::daemon::folder_watch::MAX_WATCHES,
            warn,
        ) {
            events.watch_folders(changed);
        }
    }
    if let (Some(webhook), Some(rt)) = (engine.config.webhook.clone(), engine.runtime()) {
        // On PostgreSQL a push may reach an instance that does not hold its
        // member: it goes round every instance, and the holder acts.
        let pushes = match relay_pushes(&engine.config, pushes) {
            Ok(p) => p,
            Err(e) => {
                super::err(format!("state database: {e}"));
                return Exit::Failure;
            }
        };
        let path = crate::daemon::webhook::path_of(&webhook.public_url);
        match crate::daemon::webhook::spawn(
            rt.handle(),
            &webhook.listen,
            path,
            engine.channels.clone(),
            pushes,
        ) {
            Ok(addr) => {
                super::logging::info(format!("listening for Google push notifications on {addr}"))
            }
            Err(e) => {
                super::err(format!("cannot listen on `{}`: {e}", webhook.listen));
                return Exit::Failure;
            }
        }
    }
    // Operational figures on their own address, when configured.
    if let Some(m) = &engine.config.metrics {
        match crate::metrics::serve(&m.listen, Arc::clone(&metrics)) {
            Ok(addr) => super::logging::info(format!("metrics on http://{addr}/metrics")),
            Err(e) => {
                super::err(format!("cannot listen on `{}`: {e}", m.listen));
                return Exit::Failure;
            }
        }
    }
    match event_loop::watch(&mut engine, &*clock, &mut events, &mut narration, poll) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            super::err(format!("state database: {e}"));
            Exit::Failure
        }
    }
}

/// This instance's seat at the lease table and what it holds; leaving
/// (however `run` ends: the engine owns it) gives the members back at once.
struct Leases {
    board: crate::store::lease::LeaseBoard,
    /// Everyone the deployment serves (every instance reads the same
    /// config), split among the instances.
    members: Vec<String>,
    held: Option<crate::store::lease::Held>,
    /// A sixth of the TTL (10 s of the default minute).
    margin: std::time::Duration,
}

/// How long a lease lasts unless renewed: a few polls, and never under a
/// minute. A pass longer than this stops at the members it has not reached
/// yet (the gate asks the deadline), and gets them back next pass.
fn lease_ttl(config: &Config) -> std::time::Duration {
    let default = config.poll_seconds.saturating_mul(3).max(60);
    std::time::Duration::from_secs(config.store.lease_seconds.unwrap_or(default))
}

fn join_leases(config: &Config, members: Vec<String>) -> crate::store::Result<Option<Leases>> {
    if config.store.url.is_none() {
        return Ok(None);
    }
    let target = crate::store::postgres::Target::from_config(&config.store)?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    let instance = format!("{host}-{}", std::process::id());
    let board =
        crate::store::lease::LeaseBoard::join(&target, &instance, &host, lease_ttl(config))?;
    super::logging::info(format!("joined the store's lease table as `{instance}`"));
    Ok(Some(Leases {
        board,
        members,
        held: None,
        margin: lease_ttl(config) / 6,
    }))
}

impl crate::daemon::engine::PassGate for Leases {
    /// Renew and rebalance; on failure keep what was held (it runs out on
    /// its own deadline) and say so.
    fn before_pass(&mut self) {
        match self.board.heartbeat(&self.members) {
            Ok(h) => self.held = Some(h),
            Err(e) => super::logging::warn(format!("leases: {e}")),
        }
    }

    fn after_pass(&mut self) {
        if let Err(e) = self.board.finished_pass() {
            super::logging::warn(format!("leases: {e}"));
        }
    }

    /// Held, and for long enough to screen a batch: a lease about to run
    /// out is left for the next holder (a write is conditional anyway, so
    /// an overlap could not answer twice, but it would do the work twice).
    fn serves(&self, member: &str) -> bool {
        let margin = self.margin;
        self.held
            .as_ref()
            .is_some_and(|h| h.holds(member, std::time::Instant::now() + margin))
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        if let Err(e) = self.board.leave() {
            super::logging::warn(format!("leases: {e}"));
        }
    }
}

/// With a PostgreSQL store, what the webhook accepts is published to every
/// instance (`store::lease::PushRelay`) and what is heard goes to this
/// instance's loop, whose gate drops members it does not hold. Without
/// one, the webhook feeds the loop directly.
fn relay_pushes(
    config: &Config,
    local: std::sync::mpsc::Sender<crate::daemon::webhook::Notification>,
) -> crate::store::Result<std::sync::mpsc::Sender<crate::daemon::webhook::Notification>> {
    use crate::daemon::webhook::Notification;
    use crate::store::lease::PushRelay;
    if config.store.url.is_none() {
        return Ok(local);
    }
    let target = crate::store::postgres::Target::from_config(&config.store)?;
    let heard = local.clone();
    PushRelay::listen(&target, move |source, member| {
        heard.send(Notification { source, member }).is_ok()
    })?;
    let mut relay = PushRelay::connect(&target)?;
    let (tx, rx) = std::sync::mpsc::channel::<Notification>();
    std::thread::spawn(move || {
        for n in rx {
            if let Err(e) = relay.publish(&n.source, &n.member) {
                // Not lost: handled here if this instance holds the member,
                // and polling is the backstop for the others.
                super::logging::warn(format!("cannot pass a push on to the other instances: {e}"));
                if local.send(n).is_err() {
                    break;
                }
            }
        }
    });
    Ok(tx)
}
