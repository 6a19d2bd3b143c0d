//! `gatekeeper backtest`: what a policy would have done to a past period of
//! the team's calendars. The calendars are read once through every
//! configured source (`source::build`, read-only: `changes` with no cursors
//! is a listing, and nothing is written back), each item is given its
//! arrival time (the event's CREATED, else DTSTAMP, else LAST-MODIFIED),
//! and the daemon's own engine screens the items in arrival order, one pass
//! per arrival time with `now` = that time, over a [`replay::ReplaySource`]
//! that keeps gatekeeper's answers in memory, against an in-memory store:
//! the burden ledger and the urgent allowances evolve as they would have.
//! Nothing is written to any calendar or to the configured store.
//!
//! A warm-up before `--from` (as long as the longest fairness window, at
//! least a month) is replayed too, so the ledger and the allowances stand
//! at `--from` as they would have; only decisions made in the period are
//! counted. `summary` turns the decisions into a [`summary::Backtest`]
//! (pure), `render` formats it.

pub mod render;
pub mod replay;
pub mod summary;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::calendar::Event;
use crate::config::Config;
use crate::daemon::Engine;
use crate::source::{Batch, CalendarSource, Change, Cursors, SyncRequest};
use crate::store::sqlite::SqliteStore;
use crate::store::{DecisionRecord, StoreError};
use crate::team::Team;
use replay::{Arrival, ReplaySource, arrival_of, as_arrived};

/// Every item the sources hold, with its arrival time, per source.
pub struct Calendars {
    pub sources: Vec<SourceItems>,
    /// Items skipped, with why (no date to place them, unreadable).
    pub problems: Vec<String>,
}

pub struct SourceItems {
    pub name: String,
    pub members: Vec<String>,
    pub arrivals: Vec<Arrival>,
    /// Calendar time zone settings of members whose policy leaves their
    /// zone to the calendar (Google), as the daemon reads them.
    pub zones: HashMap<String, String>,
}

/// How long before `from` is replayed so the ledger and the allowances
/// stand as they did.
pub fn warm_up(team: &Team) -> Duration {
    let weeks = team
        .policies()
        .iter()
        .map(|p| i64::from(p.fairness.window_weeks))
        .max()
        .unwrap_or(0);
    Duration::days((weeks * 7).max(31))
}

/// Read every item of `sources` that arrived in `[from, to)`, read-only,
/// and the calendar time zones of the members in `needing_zone`.
pub fn read(
    sources: &[Box<dyn CalendarSource>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    horizon_days: u32,
    needing_zone: &[String],
) -> Calendars {
    let mut out = Calendars {
        sources: Vec::new(),
        problems: Vec::new(),
    };
    let days = u32::try_from((to - from).num_days().max(0))
        .unwrap_or(u32::MAX)
        .saturating_add(horizon_days);
    for source in sources {
        let request = SyncRequest {
            members: None,
            now: from,
            horizon_days: days,
        };
        let mut arrivals = Vec::new();
        for change in source.changes(&Cursors::new(), request) {
            match change {
                Change::Cursor(_) => {}
                Change::Failed { member, error } => out.problems.push(match member {
                    Some(m) => format!("source `{}`: `{m}`: {error}", source.name()),
                    None => format!("source `{}`: {error}", source.name()),
                }),
                Change::Batch(mut batch) => {
                    out.problems.append(&mut batch.problems);
                    batch.gone.clear();
                    // A member-wide sync (Google) hands a member's whole
                    // calendar as one batch: each series is an item of its
                    // own, with its own arrival.
                    let parts: Vec<Batch> = if batch.item.href.is_empty() {
                        std::mem::take(&mut batch.series)
                            .into_iter()
                            .filter_map(|group| {
                                let href = group.first()?.target.href.clone();
                                let mut b = (*batch).clone();
                                b.item.href = href;
                                b.series = vec![group];
                                Some(b)
                            })
                            .collect()
                    } else {
                        vec![*batch]
                    };
                    for mut batch in parts {
                        let at = batch
                            .series
                            .iter()
                            .flatten()
                            .filter_map(|e| arrival_of(&e.event))
                            .min();
                        let Some(at) = at else {
                            if !batch.series.is_empty() {
                                out.problems.push(format!(
                                    "source `{}`: {}/{}: no CREATED, DTSTAMP or LAST-MODIFIED, so no arrival time; left out",
                                    source.name(),
                                    batch.item.calendar,
                                    batch.item.href
                                ));
                            }
                            continue;
                        };
                        if at < from || at >= to {
                            continue;
                        }
                        let member = batch.member.clone();
                        let answers = batch
                            .series
                            .iter_mut()
                            .flatten()
                            .map(|e| as_arrived(&mut e.event, &member))
                            .collect();
                        arrivals.push(Arrival {
                            at,
                            batch,
                            answers,
                            rank: 0,
                        });
                    }
                }
            }
        }
        let zones = source
            .members()
            .iter()
            .filter(|m| needing_zone.contains(m))
            .filter_map(|m| match source.time_zone(m)? {
                Ok(z) => Some((m.clone(), z)),
                Err(e) => {
                    out.problems.push(format!(
                        "source `{}`: `{m}`: cannot read the calendar's time zone: {e}; using UTC",
                        source.name()
                    ));
                    None
                }
            })
            .collect();
        out.sources.push(SourceItems {
            name: source.name().to_string(),
            members: source.members().to_vec(),
            arrivals,
            zones,
        });
    }
    out
}

/// What a replay decided.
pub struct Replay {
    /// Every decision, in the order the engine made them.
    pub decisions: Vec<DecisionRecord>,
    /// The writes gatekeeper would have made (kept in memory).
    pub writes: Vec<replay::CapturedWrite>,
    pub problems: Vec<String>,
}

/// Screen `calendars` under `team` as the daemon would have, one pass per
/// arrival time. `progress(done, total)` is called after each pass.
pub fn replay(
    config: &Config,
    team: Team,
    calendars: &Calendars,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Replay, StoreError> {
    // One replay source for every configured one: a pass then costs what
    // arrived, not a visit to every source (1,000 members are 1,000
    // sources). Calendars are named `source/calendar` so state the store
    // keeps per source and calendar (protected time, the ledger) stays
    // each member's own.
    let mut members: Vec<String> = Vec::new();
    let mut zones = HashMap::new();
    let mut arrivals = Vec::new();
    for (rank, s) in calendars.sources.iter().enumerate() {
        members.extend(s.members.iter().cloned());
        zones.extend(s.zones.clone());
        for a in &s.arrivals {
            let mut a = a.clone();
            a.rank = rank;
            a.batch.item.calendar = format!("{}/{}", s.name, a.batch.item.calendar);
            for e in a.batch.series.iter_mut().flatten() {
                e.target.calendar = format!("{}/{}", s.name, e.target.calendar);
            }
            arrivals.push(a);
        }
    }
    members.sort();
    members.dedup();
    let sources = vec![Arc::new(ReplaySource::new(
        "backtest", members, arrivals, zones,
    ))];
    let mut times: Vec<DateTime<Utc>> = sources.iter().flat_map(|s| s.arrival_times()).collect();
    times.sort();
    times.dedup();
    let store = SqliteStore::in_memory()?;
    let dyn_sources: Vec<Arc<dyn CalendarSource>> = sources
        .iter()
        .map(|s| Arc::clone(s) as Arc<dyn CalendarSource>)
        .collect();
    let mut engine = Engine::with_sources(config.clone(), store, team, dyn_sources, None);
    let decisions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&decisions);
    engine.set_decision_sink(Box::new(move |r: &DecisionRecord| {
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r.clone());
    }));
    let mut problems = Vec::new();
    for (i, &now) in times.iter().enumerate() {
        for s in &sources {
            s.set_clock(now);
        }
        let report = engine.run_once(now)?;
        problems.extend(report.problems);
        problems.extend(report.failures.iter().map(ToString::to_string));
        for s in &sources {
            s.settle(now);
        }
        progress(i + 1, times.len());
    }
    let decisions = std::mem::take(&mut *decisions.lock().unwrap_or_else(|p| p.into_inner()));
    let writes = sources.iter().flat_map(|s| s.writes()).collect();
    Ok(Replay {
        decisions,
        writes,
        problems,
    })
}

/// The events of the period by where their state is kept (member, UID key,
/// recurrence key), for the summary: the copy as it arrived, its series,
/// and the member's real answer.
pub fn events_by_key(calendars: &Calendars) -> HashMap<summary::Key, summary::Known> {
    let mut out = HashMap::new();
    for s in &calendars.sources {
        for a in &s.arrivals {
            let mut answers = a.answers.iter();
            for group in &a.batch.series {
                let events: Vec<Event> = group.iter().map(|e| e.event.clone()).collect();
                for (idx, e) in events.iter().enumerate() {
                    let answer = answers
                        .next()
                        .cloned()
                        .unwrap_or(crate::calendar::PartStat::NeedsAction);
                    let key = summary::Key {
                        member: a.batch.member.clone(),
                        uid: crate::source::uid_key(&e.uid, &a.batch.item.href),
                        recurrence_id: e.recurrence_key(),
                    };
                    out.insert(
                        key,
                        summary::Known {
                            group: events.clone(),
                            idx,
                            answer,
                            arrived: a.at,
                        },
                    );
                }
            }
        }
    }
    out
}

/// What to backtest: the team, its policy set now, and a candidate set
/// (the team's policy replaced) to compare with.
pub struct Request<'a> {
    pub config: &'a Config,
    pub team_name: &'a str,
    pub current: Team,
    pub candidate: Option<(String, Team)>,
    pub period: summary::Period,
}

/// Read the calendars once, replay them under each policy set, and sum up.
pub fn backtest(
    req: Request<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<summary::Backtest, StoreError> {
    let warm = req
        .candidate
        .as_ref()
        .map_or(warm_up(&req.current), |(_, t)| {
            warm_up(t).max(warm_up(&req.current))
        });
    let built = crate::source::build(req.config, &req.current.members());
    let calendars = read(
        &built.sources,
        req.period.from - warm,
        req.period.to,
        req.config.horizon_days,
        &req.current.members_needing_zone(),
    );
    let known = events_by_key(&calendars);
    // Invites: copies of events the member was invited to, not their own.
    let invites = known
        .iter()
        .filter(|(key, k)| {
            k.arrived >= req.period.from
                && k.arrived < req.period.to
                && k.group[k.idx].organizer.as_deref() != Some(key.member.as_str())
        })
        .count();
    let mut notes = calendars.problems.clone();
    let policy_of = |t: &Team| {
        t.policies()
            .iter()
            .find(|p| p.team == req.team_name)
            .cloned()
    };
    let current_policy = policy_of(&req.current);
    let passes = if req.candidate.is_some() { 2 } else { 1 };
    let mut runs = Vec::new();
    let mut sets = vec![("current".to_string(), req.current)];
    if let Some(c) = req.candidate {
        sets.push(c);
    }
    for (n, (label, team)) in sets.into_iter().enumerate() {
        let policy = policy_of(&team).or_else(|| current_policy.clone());
        let replayed = replay(req.config, team, &calendars, &mut |done, total| {
            progress(n * total + done, passes * total)
        })?;
        notes.extend(replayed.problems.iter().cloned());
        runs.push((label, policy, replayed));
    }
    notes.sort();
    notes.dedup();
    let outcomes = runs
        .iter()
        .filter_map(|(label, policy, r)| {
            let policy = policy.as_ref()?;
            Some(summary::outcome(
                label,
                policy,
                &r.decisions,
                &known,
                req.period,
            ))
        })
        .collect();
    let differences = (runs.len() == 2).then(|| {
        summary::differences(
            &runs[0].2.decisions,
            &runs[1].2.decisions,
            &known,
            req.period,
        )
    });
    Ok(summary::Backtest {
        team: req.team_name.to_string(),
        from: req.period.from,
        to: req.period.to,
        invites,
        outcomes,
        differences,
        notes,
    })
}
