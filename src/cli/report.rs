//! `gatekeeper report`: the weekly meeting-load report for one team, in
//! Markdown, HTML, JSON or CSV, to stdout or a file.

use std::path::PathBuf;

use super::Exit;
use crate::config::Config;
use crate::report::{Format, IsoWeek, collect, stats, weekly_report};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::team::Team;

#[derive(clap::Args)]
pub struct Args {
    /// The config file: the team's policies, calendars and decision log.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// The team (its policy's `[team] name`); needed when there are several.
    #[arg(long)]
    team: Option<String>,
    /// The ISO week, e.g. `2026-W49`; default: the last complete week in
    /// the team's time zone.
    #[arg(long, value_parser = parse_week)]
    week: Option<IsoWeek>,
    /// `md` (Markdown), `html` (one page with charts), `json` or `csv`.
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Pretend the clock reads this time (picks the default week).
    #[arg(long, value_parser = super::parse_instant)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_week(s: &str) -> Result<IsoWeek, String> {
    IsoWeek::parse(s).ok_or_else(|| format!("`{s}` is not an ISO week such as `2026-W49`"))
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
            eprint!("{}", e.render(super::use_color()));
            return Exit::PolicyInvalid;
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut policies = Vec::new();
    for m in team.members() {
        if let Some(p) = team.policy_for(&m)
            && !names.contains(&p.team)
        {
            names.push(p.team.clone());
            policies.push(p.clone());
        }
    }
    names.sort();
    let policy = match (&args.team, policies.len()) {
        (Some(name), _) => match policies.iter().find(|p| &p.team == name) {
            Some(p) => p.clone(),
            None => {
                super::err(format!(
                    "no team named `{name}`; the policies name: {}",
                    names.join(", ")
                ));
                return Exit::Usage;
            }
        },
        (None, 1) => policies[0].clone(),
        (None, 0) => {
            super::err("the policies have no members, so there is nothing to report");
            return Exit::Failure;
        }
        (None, _) => {
            super::err(format!(
                "several teams ({}): choose one with `--team`",
                names.join(", ")
            ));
            return Exit::Usage;
        }
    };
    let settings = collect::settings(&config);
    let tz = settings
        .time_zone
        .unwrap_or_else(|| stats::main_zone(&policy));
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let week = args.week.unwrap_or_else(|| IsoWeek::last_complete(now, tz));

    // Read the decision log only if it exists: a report must not create an
    // empty state database as a side effect.
    let db = &config.store.sqlite;
    let store = if db.exists() {
        match SqliteStore::open(db) {
            Ok(s) => Some(s),
            Err(e) => {
                super::err(e);
                return Exit::Failure;
            }
        }
    } else {
        None
    };
    let collected = match collect::collect(
        &config,
        &policy,
        store.as_ref().map(|s| s as &dyn Store),
        week,
        true,
    ) {
        Ok(c) => c,
        Err(e) => {
            super::err(format!("state database: {e}"));
            return Exit::Failure;
        }
    };
    for p in &collected.problems {
        eprintln!("warning: {p}");
    }
    let mut report = weekly_report(&collected.input(&policy, settings), week);
    if store.is_none() {
        report.notes.push(format!(
            "no decision log at `{}` yet: screening figures are zero",
            db.display()
        ));
    }
    let text = args.format.render(&report);
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                super::err(format!("cannot write `{}`: {e}", path.display()));
                return Exit::Failure;
            }
        }
        None => print!("{text}"),
    }
    Exit::Ok
}
