//! `gatekeeper backtest`: what the team's policy (or a candidate, or both
//! side by side) would have done to a past period of its calendars. Reads
//! the calendars through every configured source, read-only; writes nothing
//! to any calendar or to the state database (see `crate::backtest`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Exit;
use crate::backtest::summary::Period;
use crate::backtest::{Request, backtest, render};
use crate::config::Config;
use crate::report::Format;
use crate::team::{Team, policy_files};

#[derive(clap::Args)]
pub struct Args {
    /// The config file: the team's policies and calendars.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// The team (its policy's `[team] name`); needed when there are several.
    #[arg(long)]
    team: Option<String>,
    /// The first day (`2026-11-02`, from midnight UTC) or instant (RFC 3339)
    /// of the period: invites that arrived from then on are screened.
    #[arg(long, value_parser = super::parse_instant)]
    from: DateTime<Utc>,
    /// The last day of the period (a date includes that whole day, UTC) or
    /// the instant it ends (RFC 3339, excluded).
    #[arg(long, value_parser = parse_end)]
    to: DateTime<Utc>,
    /// A candidate policy for the team: compared with the current one, with
    /// the invites the two treat differently and why.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// `md` (Markdown), `html` (one page with a chart), `json` or `csv`.
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The end of the period: a date includes its whole day.
fn parse_end(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::days(1));
    }
    super::parse_instant(s)
}

fn load(paths: &[PathBuf]) -> Result<Team, Exit> {
    Team::load(paths).map_err(|e| {
        eprint!("{}", e.render(super::use_color()));
        Exit::PolicyInvalid
    })
}

/// The policy set with the team's own files replaced by `candidate`.
fn candidate_team(config: &Config, team: &str, candidate: &Path) -> Result<Team, Exit> {
    let files = policy_files(&config.policies).map_err(|e| {
        super::err(e);
        Exit::Failure
    })?;
    let mut paths = Vec::new();
    for f in files {
        let theirs = load(std::slice::from_ref(&f))?
            .policies()
            .iter()
            .any(|p| p.team == team);
        if !theirs {
            paths.push(f);
        }
    }
    paths.push(candidate.to_path_buf());
    load(&paths)
}

pub fn run(args: Args) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return super::config_failed(&e),
    };
    if args.to <= args.from {
        super::err("`--to` must come after `--from`");
        return Exit::Usage;
    }
    let team = match load(&config.policies) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut names: Vec<String> = team.policies().iter().map(|p| p.team.clone()).collect();
    names.sort();
    names.dedup();
    let name = match (&args.team, names.len()) {
        (Some(n), _) if names.contains(n) => n.clone(),
        (Some(n), _) => {
            super::err(format!(
                "no team named `{n}`; the policies name: {}",
                names.join(", ")
            ));
            return Exit::Usage;
        }
        (None, 1) => names[0].clone(),
        (None, 0) => {
            super::err("the policies name no team, so there is nothing to backtest");
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
    let candidate = match &args.policy {
        Some(path) => match candidate_team(&config, &name, path) {
            Ok(t) => {
                if !t.policies().iter().any(|p| p.team == name) {
                    super::err(format!(
                        "`{}` is not a policy for team `{name}`",
                        path.display()
                    ));
                    return Exit::Usage;
                }
                let label = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |f| f.to_string_lossy().into(),
                );
                Some((label, t))
            }
            Err(code) => return code,
        },
        None => None,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("replaying arrivals {bar:40} {pos}/{len}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let request = Request {
        config: &config,
        team_name: &name,
        current: team,
        candidate,
        period: Period {
            from: args.from,
            to: args.to,
        },
    };
    let result = backtest(request, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            super::err(format!("backtest store: {e}"));
            return Exit::Failure;
        }
    };
    let text = render::render(args.format, &result);
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
