//! The report's I/O: reads the members' local calendars from the config's
//! vdir sources (files are read and parsed in parallel) and the decision
//! log and burden ledger from the store, and hands them to `stats`.
//!
//! Must not compute any figure itself. A file that cannot be read or parsed
//! is reported and skipped, like the daemon does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::stats::{self, IsoWeek, MemberCalendar, Settings, TREND_WEEKS};
use crate::calendar::ical::{Limits, parse_ics_bytes_with};
use crate::calendar::recurrence::group_by_uid;
use crate::config::{Config, SourceConfig};
use crate::fairness::Burden;
use crate::policy::model::Policy;
use crate::source::CalendarSource;
use crate::source::vdir::VdirSource;
use crate::store::{DecisionRecord, Store};

/// The series of one file, or why it was skipped.
type FileSeries = Result<Vec<Vec<crate::calendar::Event>>, String>;
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

/// Read every vdir calendar of `policy`'s members. A progress bar is drawn
/// on stderr when it is a terminal and `progress` is set.
pub fn read_calendars(
    config: &Config,
    policy: &Policy,
    progress: bool,
) -> (Vec<MemberCalendar>, Vec<String>) {
    let mut problems = Vec::new();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut members: Vec<String> = Vec::new();
    for s in &config.sources {
        let SourceConfig::Vdir { member, path, .. } = s else {
            continue;
        };
        if policy.member(member).is_none() {
            continue;
        }
        if !members.contains(member) {
            members.push(member.clone());
        }
        let mut src = VdirSource::new(path.clone());
        match src.list() {
            Ok(items) => files.extend(items.into_iter().map(|i| {
                let p = if i.calendar.is_empty() {
                    path.join(&i.href)
                } else {
                    path.join(&i.calendar).join(&i.href)
                };
                (member.clone(), p)
            })),
            Err(e) => problems.push(format!("{e}; skipped")),
        }
    }
    let bar = progress_bar(files.len() as u64, progress);
    let parsed: Vec<(String, FileSeries)> = files
        .par_iter()
        .map(|(member, path)| {
            let r = read_one(path, &config.limits.ical());
            bar.inc(1);
            (member.clone(), r)
        })
        .collect();
    bar.finish_and_clear();
    let mut by_member: HashMap<String, MemberCalendar> = members
        .iter()
        .map(|m| {
            (
                m.clone(),
                MemberCalendar {
                    email: m.clone(),
                    series: Vec::new(),
                },
            )
        })
        .collect();
    for (member, r) in parsed {
        match r {
            Ok(groups) => {
                if let Some(c) = by_member.get_mut(&member) {
                    c.series.extend(groups);
                }
            }
            Err(e) => problems.push(e),
        }
    }
    let calendars = members.iter().filter_map(|m| by_member.remove(m)).collect();
    (calendars, problems)
}

fn read_one(path: &Path, limits: &Limits) -> FileSeries {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}; skipped", path.display()))?
        .len();
    if size > limits.max_item_bytes as u64 {
        return Err(format!(
            "{}: {size} bytes, over the limit of {} (`[limits] max_item_bytes`); skipped",
            path.display(),
            limits.max_item_bytes
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}; skipped", path.display()))?;
    let parsed = parse_ics_bytes_with(&bytes, limits)
        .map_err(|e| format!("{}: {e}; skipped", path.display()))?;
    Ok(group_by_uid(parsed.events))
}

fn progress_bar(len: u64, wanted: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("reading calendars {bar:40} {pos}/{len} files")
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

/// Read the Google members' calendars over `window` through the API (the
/// daemon keeps no copy of them). A member whose calendar cannot be read is
/// reported and left out, like a member without a calendar.
pub fn read_google(
    config: &Config,
    policy: &Policy,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> (Vec<MemberCalendar>, Vec<String>) {
    let mut calendars = Vec::new();
    let mut problems = Vec::new();
    let sources: Vec<&SourceConfig> = config
        .sources
        .iter()
        .filter(|s| matches!(s, SourceConfig::Google { .. }))
        .collect();
    if sources.is_empty() {
        return (calendars, problems);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            problems.push(format!("cannot start the async runtime: {e}"));
            return (calendars, problems);
        }
    };
    let team = policy
        .members
        .iter()
        .map(|m| m.email.clone())
        .collect::<Vec<_>>();
    for s in sources {
        let (settings, members) = crate::daemon::engine::google_settings_for(s, &team);
        let members: Vec<String> = members
            .into_iter()
            .filter(|m| policy.member(m).is_some())
            .collect();
        let google = rt.block_on(crate::source::google::GoogleSource::connect(
            settings, &members,
        ));
        for m in &members {
            match rt.block_on(google.events_between(m, window.0, window.1)) {
                Ok(batch) => {
                    problems.extend(batch.problems);
                    let events = batch.events.into_iter().map(|g| g.event).collect();
                    calendars.push(MemberCalendar {
                        email: m.clone(),
                        series: crate::calendar::recurrence::group_by_uid(events),
                    });
                }
                Err(e) => problems.push(format!("source `{}`: `{m}`: {e}", s.name())),
            }
        }
    }
    (calendars, problems)
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
    let (mut calendars, mut problems) = read_calendars(config, policy, progress);
    // The window the report and its trend read: the week and the four
    // before it.
    let first = (0..TREND_WEEKS).fold(week, |w, _| w.previous());
    let window = (first.bounds(tz).0, week.bounds(tz).1);
    let (google, google_problems) = read_google(config, policy, window);
    calendars.extend(google);
    problems.extend(google_problems);
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
