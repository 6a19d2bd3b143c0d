//! The report's I/O: reads the members' calendars through the configured
//! sources (`source::build`, in parallel) and the decision log and burden
//! ledger from the store, and hands them to `stats`.
//!
//! Must not compute any figure itself. A file that cannot be read or parsed
//! is reported and skipped, like the daemon does.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::stats::{self, IsoWeek, MemberCalendar, Settings, TREND_WEEKS};
use crate::config::Config;
use crate::fairness::Burden;
use crate::policy::model::Policy;
use crate::source::{CalendarSource, Window};
use crate::store::{DecisionRecord, Store};

/// The decision log and each week's burden ledger totals.
type StoreRows = (
    Vec<DecisionRecord>,
    HashMap<IsoWeek, HashMap<String, Burden>>,
);

/// What `stats` needs, read from disk and the store.
#[derive(Debug, Default)]
pub struct Collected {
    pub calendars: Vec<MemberCalendar>,
    pub decisions: Vec<DecisionRecord>,
    pub ledger: HashMap<IsoWeek, HashMap<String, Burden>>,
    /// Files skipped, with why.
    pub problems: Vec<String>,
}

impl Collected {
    pub fn input<'a>(&'a self, policy: &'a Policy, settings: Settings) -> stats::Input<'a> {
        stats::Input {
            policy,
            calendars: &self.calendars,
            decisions: &self.decisions,
            ledger: &self.ledger,
            settings,
        }
    }
}

/// The report settings a config gives.
pub fn settings(config: &Config) -> Settings {
    let r = config.report.clone().unwrap_or_default();
    Settings {
        time_zone: r.time_zone,
        focus_block_minutes: r.focus_block_minutes,
    }
}

/// Read the calendars of `policy`'s members over `window` from every
/// configured source (`source::build`), the sources in parallel (and a
/// local folder's files in parallel too). A member's series from several
/// sources are one calendar; a member without a source has none. A
/// calendar or file that cannot be read is reported and left out. A
/// progress bar is drawn on stderr when it is a terminal and `progress` is
/// set.
pub fn read_calendars(
    config: &Config,
    policy: &Policy,
    window: (DateTime<Utc>, DateTime<Utc>),
    progress: bool,
) -> (Vec<MemberCalendar>, Vec<String>) {
    let team: Vec<String> = policy.members.iter().map(|m| m.email.clone()).collect();
    let built = crate::source::build(config, &team);
    // Every (source, member) to read, in the config's order.
    let jobs: Vec<(&dyn CalendarSource, &String)> = built
        .sources
        .iter()
        .flat_map(|s| {
            s.members()
                .iter()
                .filter(|m| policy.member(m).is_some())
                .map(move |m| (s.as_ref(), m))
        })
        .collect();
    let bar = progress_bar(jobs.len() as u64, progress);
    let read: Vec<(String, Result<Window, String>)> = jobs
        .par_iter()
        .map(|(source, member)| {
            let r = source
                .events_between(member, window.0, window.1)
                .map_err(|e| format!("source `{}`: `{member}`: {e}", source.name()));
            bar.inc(1);
            ((*member).clone(), r)
        })
        .collect();
    bar.finish_and_clear();
    let mut problems = Vec::new();
    let mut calendars: Vec<MemberCalendar> = Vec::new();
    for (member, r) in read {
        let w = match r {
            Ok(w) => w,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        problems.extend(w.problems);
        match calendars.iter_mut().find(|c| c.email == member) {
            Some(c) => c.series.extend(w.series),
            None => calendars.push(MemberCalendar {
                email: member,
                series: w.series,
            }),
        }
    }
    (calendars, problems)
}

fn progress_bar(len: u64, wanted: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("reading calendars {bar:40} {pos}/{len}")
    {
        bar.set_style(style);
    }
    bar
}

/// The decision log from the start of the trend's first week, and the
/// burden ledger's totals for each of the five weeks.
pub fn read_store(
    store: &dyn Store,
    week: IsoWeek,
    tz: chrono_tz::Tz,
) -> crate::store::Result<StoreRows> {
    let mut weeks = vec![week];
    for _ in 0..TREND_WEEKS {
        let prev = weeks[weeks.len() - 1].previous();
        weeks.push(prev);
    }
    let since: DateTime<Utc> = weeks[weeks.len() - 1].bounds(tz).0;
    let decisions = store.decisions(Some(since))?;
    let mut ledger = HashMap::new();
    for w in weeks {
        let (from, to) = w.bounds(tz);
        ledger.insert(w, store.burden_totals(from, to)?);
    }
    Ok((decisions, ledger))
}

/// Everything for one policy's report: calendars, and the store when there
/// is one.
pub fn collect(
    config: &Config,
    policy: &Policy,
    store: Option<&dyn Store>,
    week: IsoWeek,
    progress: bool,
) -> Result<Collected, crate::store::StoreError> {
    let tz = settings(config)
        .time_zone
        .unwrap_or_else(|| stats::main_zone(policy));
    // The window the report and its trend read: the week and the four
    // before it.
    let first = (0..TREND_WEEKS).fold(week, |w, _| w.previous());
    let window = (first.bounds(tz).0, week.bounds(tz).1);
    let (calendars, problems) = read_calendars(config, policy, window, progress);
    let (decisions, ledger) = match store {
        Some(s) => read_store(s, week, tz)?,
        None => Default::default(),
    };
    Ok(Collected {
        calendars,
        decisions,
        ledger,
        problems,
    })
}
