//! When the daemon produces the weekly report, and producing it: the pure
//! `next_due` (the next configured weekday and local time in a zone, DST
//! included), and `run_scheduled`, the I/O that writes each team's report
//! to the configured folder, posts the summary to chat, and records the
//! week in the store's `meta` table so a restart never produces or posts
//! the same week twice.
//!
//! Must not read the clock: `now` comes from the daemon's injected clock.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::collect;
use super::stats::{IsoWeek, main_zone, weekly_report};
use crate::calendar::local_to_utc;
use crate::config::{Config, ReportConfig};
use crate::policy::model::Policy;
use crate::store::Store;
use crate::team::Team;

/// The first instant strictly after `after` whose wall-clock time in `tz`
/// is `time` on `weekday`. A time that does not exist that day (a DST gap)
/// is moved forward by the gap; a time that exists twice (the repeated
/// autumn hour) is the first of the two.
pub fn next_due(after: DateTime<Utc>, tz: Tz, weekday: Weekday, time: NaiveTime) -> DateTime<Utc> {
    let today = after.with_timezone(&tz).date_naive();
    for d in 0..=8 {
        let date = today + Duration::days(d);
        if date.weekday() != weekday {
            continue;
        }
        let t = local_to_utc(tz, date.and_time(time));
        if t > after {
            return t;
        }
    }
    // Unreachable: within nine days the weekday comes round at least once
    // after `after`. A week later is the safe answer if it ever were.
    after + Duration::days(7)
}

/// Each policy once, in the order of their members.
fn policies(team: &Team) -> Vec<Arc<Policy>> {
    let mut out: Vec<Arc<Policy>> = Vec::new();
    for m in team.members() {
        if let Some(p) = team.policy_for(&m)
            && !out.iter().any(|q| Arc::ptr_eq(p, q))
        {
            out.push(Arc::clone(p));
        }
    }
    out.sort_by(|a, b| a.team.cmp(&b.team));
    out
}

fn zone(report: &ReportConfig, policy: &Policy) -> Tz {
    report.time_zone.unwrap_or_else(|| main_zone(policy))
}

/// When the daemon should next wake for a report: the earliest team's next
/// due time after `after`. `None` without a `[report]` section.
pub fn next_due_for(config: &Config, team: &Team, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let r = config.report.as_ref()?;
    policies(team)
        .iter()
        .map(|p| next_due(after, zone(r, p), r.weekday, r.time))
        .min()
}

/// The meta key holding the last week produced for a team.
pub fn meta_key(team: &str) -> String {
    format!("report.last_week.{team}")
}

/// Produce every team's report whose scheduled time has come at `now` and
/// whose week was not produced yet. Returns one line per report written or
/// posted, and the problems met (a team's failure does not stop the
/// others). The week is recorded once its files are written; a failed chat
/// post is reported and not retried, so nothing is ever posted twice.
pub fn run_scheduled(
    config: &Config,
    store: &mut dyn Store,
    team: &Team,
    now: DateTime<Utc>,
) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut problems = Vec::new();
    let Some(r) = &config.report else {
        return (done, problems);
    };
    for policy in policies(team) {
        let tz = zone(r, &policy);
        // The latest scheduled time at or before now, and the week before it.
        let due = next_due(now - Duration::days(7), tz, r.weekday, r.time);
        if due > now {
            continue;
        }
        let week = IsoWeek::last_complete(due, tz);
        let key = meta_key(&policy.team);
        match store.meta(&key) {
            Ok(Some(w)) if w == week.to_string() => continue,
            Ok(_) => {}
            Err(e) => {
                problems.push(format!("report for `{}`: state database: {e}", policy.team));
                continue;
            }
        }
        match produce(config, r, &policy, &*store, week) {
            Ok((paths, summary)) => {
                for p in &paths {
                    done.push(format!(
                        "report for `{}` {week} written to {}",
                        policy.team,
                        p.display()
                    ));
                }
                if let Err(e) = store.set_meta(&key, &week.to_string()) {
                    problems.push(format!("report for `{}`: state database: {e}", policy.team));
                    continue;
                }
                if let Some(url) = &r.chat_webhook_url {
                    match super::chat::post(url, &summary) {
                        Ok(()) => done.push(format!(
                            "report for `{}` {week} posted to chat",
                            policy.team
                        )),
                        Err(e) => problems.push(format!("report for `{}`: {e}", policy.team)),
                    }
                }
            }
            Err(e) => problems.push(format!("report for `{}`: {e}", policy.team)),
        }
    }
    (done, problems)
}

/// A file name made of the team name: letters, digits, `-` and `_` kept,
/// anything else becomes `_`.
pub fn file_stem(team: &str, week: IsoWeek) -> String {
    let safe: String = team
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{week}")
}

fn produce(
    config: &Config,
    r: &ReportConfig,
    policy: &Policy,
    store: &dyn Store,
    week: IsoWeek,
) -> Result<(Vec<PathBuf>, String), String> {
    let collected = collect::collect(config, policy, Some(store), week, false)
        .map_err(|e| format!("state database: {e}"))?;
    let report = weekly_report(&collected.input(policy, collect::settings(config)), week);
    std::fs::create_dir_all(&r.folder)
        .map_err(|e| format!("cannot create `{}`: {e}", r.folder.display()))?;
    let mut paths = Vec::new();
    for f in &r.formats {
        let path = r.folder.join(format!(
            "{}.{}",
            file_stem(&policy.team, week),
            f.extension()
        ));
        std::fs::write(&path, f.render(&report))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        paths.push(path);
    }
    Ok((paths, super::markdown::summary(&report)))
}
