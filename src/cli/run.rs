//! `gatekeeper run`: the daemon. `--once` does one pass and exits; without
//! it the daemon keeps watching until SIGINT/SIGTERM, reloading policies
//! when they change and keeping the last good one when a change breaks a
//! file.

use std::path::PathBuf;
use std::time::Duration;

use super::Exit;
use crate::config::Config;
use crate::daemon::team::Team;
use crate::daemon::{
    Clock, DaemonEvent, Engine, OffsetClock, SystemClock, next_event, shutdown_flag,
};
use crate::store::DecisionRecord;
use crate::store::sqlite::SqliteStore;

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
    // One state, one writer: held until this process ends, however it ends.
    let _lock = match crate::store::lock::acquire(&config.store.sqlite) {
        Ok(l) => l,
        Err(e @ crate::store::lock::LockError::Held { .. }) => {
            super::err(e);
            return Exit::StateLocked;
        }
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    let store = match SqliteStore::open(&config.store.sqlite) {
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
    let policy_paths = config.policies.clone();
    let poll = Duration::from_secs(config.poll_seconds.max(1));
    let mut engine = Engine::new(config, store, team);

    let shutdown = if args.once {
        None
    } else {
        match shutdown_flag() {
            Ok(f) => Some(f),
            Err(e) => {
                super::err(format!("cannot install signal handlers: {e}"));
                return Exit::Failure;
            }
        }
    };
    // `systemctl reload` sends SIGHUP: re-read the policy files now, as a
    // change on disk would (the daemon also notices that within a second).
    // Without a handler SIGHUP would end the process.
    let reload = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if !args.once
        && let Err(e) =
            signal_hook::flag::register(signal_hook::consts::SIGHUP, std::sync::Arc::clone(&reload))
    {
        super::err(format!("cannot install signal handlers: {e}"));
        return Exit::Failure;
    }
    // Channels an earlier run left open are known to the listener before
    // it starts: Google keeps posting to them.
    if let Err(e) = engine.register_channels() {
        super::err(format!("state database: {e}"));
        return Exit::Failure;
    }
    let (tx, raw_notifications) = std::sync::mpsc::channel();
    // Push notifications pass through here on their way to the loop, and
    // raise `wake` so a long pass stops at the next item to let the loop
    // act on them.
    let wake = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (forward, notifications) = std::sync::mpsc::channel();
    {
        let wake = std::sync::Arc::clone(&wake);
        std::thread::spawn(move || {
            for n in raw_notifications {
                wake.store(true, std::sync::atomic::Ordering::SeqCst);
                if forward.send(n).is_err() {
                    break;
                }
            }
        });
    }
    if let Some(flag) = &shutdown {
        // Between items a pass asks whether to stop: a signal, a push
        // notification, or an edited policy file (looked at once a second)
        // is then noticed within about a second however long the pass.
        let flag = std::sync::Arc::clone(flag);
        let wake = std::sync::Arc::clone(&wake);
        let reload = std::sync::Arc::clone(&reload);
        let paths = policy_paths.clone();
        let mut seen = crate::daemon::team::policy_stamps(&paths);
        let mut last_look = std::time::Instant::now();
        engine.set_interrupt(Box::new(move || {
            use std::sync::atomic::Ordering;
            // SIGHUP's flag is left for the loop, which reloads.
            if flag.load(Ordering::Relaxed)
                || reload.load(Ordering::Relaxed)
                || wake.swap(false, Ordering::SeqCst)
            {
                return true;
            }
            if last_look.elapsed() < Duration::from_secs(1) {
                return false;
            }
            last_look = std::time::Instant::now();
            let now = crate::daemon::team::policy_stamps(&paths);
            // Each edit stops one pass; the loop then reloads.
            now != std::mem::replace(&mut seen, now.clone())
        }));
    }
    if !args.once
        && let (Some(webhook), Some(rt)) = (engine.config.webhook.clone(), engine.runtime())
    {
        let path = crate::daemon::webhook::path_of(&webhook.public_url);
        match crate::daemon::webhook::spawn(
            rt.handle(),
            &webhook.listen,
            path,
            engine.channels.clone(),
            tx,
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
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
    if !args.once
        && let Some(m) = &engine.config.metrics
    {
        match crate::metrics::serve(&m.listen, std::sync::Arc::clone(&metrics)) {
            Ok(addr) => super::logging::info(format!("metrics on http://{addr}/metrics")),
            Err(e) => {
                super::err(format!("cannot listen on `{}`: {e}", m.listen));
                return Exit::Failure;
            }
        }
    }
    let sources: Vec<String> = engine
        .config
        .sources
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    // Decisions are printed as they are made: a first sync of a large team
    // makes hundreds of thousands, which need not sit in memory.
    let sink_metrics = std::sync::Arc::clone(&metrics);
    engine.set_decision_sink(Box::new(move |r| {
        println!("{}", decision_line(r));
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
        sink_metrics.record_decision(r.action.as_str(), &rules);
    }));
    // A failure that lasts from pass to pass is printed once, and again
    // when it comes back after a pass without it.
    let mut standing_failures: std::collections::HashSet<String> = Default::default();
    let mut print = |report: &crate::daemon::RunReport| {
        for p in &report.problems {
            super::logging::warn(p);
        }
        let now: std::collections::HashSet<String> =
            report.failures.iter().map(|f| f.to_string()).collect();
        for f in &report.failures {
            let line = f.to_string();
            if !standing_failures.contains(&line) {
                super::logging::error(&line);
            }
        }
        let failed = !report.failures.is_empty();
        standing_failures = now;
        failed
    };
    let record = |report: &crate::daemon::RunReport, started: std::time::Instant, all: bool| {
        metrics.record_pass(
            started.elapsed().as_secs_f64(),
            report.api_calls,
            report.failed,
            report.problems.len(),
            if all { &sources } else { &[] },
            chrono::Utc::now().timestamp(),
        );
    };
    let mut failed = false;
    // The weekly report: the latest scheduled time that passed while the
    // daemon was down is due at once (the store's meta table makes a week
    // produced before a restart a no-op).
    let mut report_due = crate::report::schedule::next_due_for(
        &engine.config,
        &engine.team,
        clock.now() - chrono::Duration::days(7),
    );
    loop {
        let started = std::time::Instant::now();
        let resume = match engine.run_once(clock.now()) {
            Ok(report) => {
                failed |= print(&report);
                record(&report, started, true);
                metrics.set_api_stats(engine.api_stats());
                report.interrupted
            }
            Err(e) => {
                super::err(format!("state database: {e}"));
                return Exit::Failure;
            }
        };
        let Some(flag) = &shutdown else { break };
        // Open or renew push channels; polling goes on as the backstop.
        match engine.maintain_channels(clock.now()) {
            Ok(problems) => problems.iter().for_each(super::logging::warn),
            Err(e) => {
                super::err(format!("state database: {e}"));
                return Exit::Failure;
            }
        }
        loop {
            let mut changed = || {
                reload.swap(false, std::sync::atomic::Ordering::Relaxed)
                    || engine.team.changed_on_disk(&policy_paths)
            };
            let report_in = report_due.map(|t| (t - clock.now()).to_std().unwrap_or_default());
            match next_event(flag, &mut changed, poll, &notifications, report_in) {
                DaemonEvent::ReportDue => {
                    let now = clock.now();
                    let (done, problems) = crate::report::schedule::run_scheduled(
                        &engine.config,
                        &mut engine.store,
                        &engine.team,
                        now,
                    );
                    done.iter().for_each(super::logging::info);
                    problems.iter().for_each(super::logging::warn);
                    report_due =
                        crate::report::schedule::next_due_for(&engine.config, &engine.team, now);
                    if resume {
                        break;
                    }
                }
                DaemonEvent::Shutdown => {
                    super::logging::info("shutting down");
                    if let Err(e) = engine.stop_channels() {
                        super::err(format!("state database: {e}"));
                    }
                    return Exit::Ok;
                }
                DaemonEvent::SyncDue => break,
                DaemonEvent::CalendarChanged(n) => {
                    // This notification is being handled: it no longer
                    // needs to cut a pass short.
                    wake.store(false, std::sync::atomic::Ordering::SeqCst);
                    let started = std::time::Instant::now();
                    match engine.sync_member(&n.source, &n.member, clock.now()) {
                        Ok(report) => {
                            // Printed as it is, not through `print`: one
                            // member's report does not say which of the
                            // pass's failures still stand.
                            for p in &report.problems {
                                super::logging::warn(p);
                            }
                            for f in &report.failures {
                                super::logging::error(f);
                            }
                            record(&report, started, false);
                            // A pass cut short for this notification
                            // goes on now, not at the next poll.
                            if resume {
                                break;
                            }
                        }
                        Err(e) => {
                            super::err(format!("state database: {e}"));
                            return Exit::Failure;
                        }
                    }
                }
                DaemonEvent::PolicyChanged => match Team::load(&policy_paths) {
                    Ok(team) => {
                        super::logging::info("policies reloaded");
                        engine.set_team(team);
                        break;
                    }
                    Err(e) => {
                        super::logging::rendered(&e.render(super::use_color()));
                        super::logging::info(
                            "keeping the last good policies until the files are fixed",
                        );
                        // Remember the broken state so the same error is
                        // not printed every second.
                        engine.team.mark_seen(&policy_paths);
                    }
                },
            }
        }
    }
    if failed { Exit::SyncFailed } else { Exit::Ok }
}
