//! `gatekeeper config check`: the config file, every policy it names, and
//! whether each source's calendars can be reached, in one pass. Reads only:
//! it never writes a file or opens the store. A Google source signs in as
//! each member and reads their calendar's time zone (one read-only call
//! per member, the least a working grant must allow).

use std::path::PathBuf;

use super::Exit;
use crate::config::{Config, Mode, SourceConfig};
use crate::source::vdir::VdirSource;
use crate::team::Team;

#[derive(clap::Args)]
pub struct Args {
    /// The config file to check.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
}

pub fn run(args: Args) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return super::config_failed(&e),
    };
    println!(
        "config `{}`: no errors ({} source{}, mode {})",
        args.config.display(),
        config.sources.len(),
        if config.sources.len() == 1 { "" } else { "s" },
        match config.mode {
            Mode::Enforce => "enforce",
            Mode::Observe => "observe",
        }
    );
    let team = match Team::load(&config.policies) {
        Ok(t) => t,
        Err(e) => {
            eprint!("{}", e.render(super::use_color()));
            return Exit::PolicyInvalid;
        }
    };
    let members = team.members();
    println!("policies: {} member(s), no errors", members.len());

    let mut unreachable = 0;
    let warn = |msg: String| eprintln!("warning: {msg}");
    for s in &config.sources {
        match s {
            SourceConfig::Vdir {
                name, member, path, ..
            } => {
                if !members.contains(member) {
                    warn(format!(
                        "source `{name}`: `{member}` is in no policy, so nothing of theirs is screened"
                    ));
                }
                match VdirSource::new(path.clone()).list() {
                    Ok(items) => {
                        let mut calendars: Vec<&str> =
                            items.iter().map(|i| i.calendar.as_str()).collect();
                        calendars.sort_unstable();
                        calendars.dedup();
                        println!(
                            "source `{name}` (vdir, {member}): {} calendar(s), {} item(s) in `{}`",
                            calendars.len(),
                            items.len(),
                            path.display()
                        );
                        if items.is_empty() {
                            warn(format!(
                                "source `{name}`: no calendars in `{}` yet; point `path` at the folder vdirsyncer keeps",
                                path.display()
                            ));
                        }
                    }
                    Err(e) => {
                        unreachable += 1;
                        super::err(format!("source `{name}`: {e}"));
                    }
                }
            }
            SourceConfig::Google {
                name,
                service_account_key,
                members: listed,
                client_secret,
                ..
            } => {
                let mut missing_key = false;
                for key in [service_account_key, client_secret].into_iter().flatten() {
                    if let Err(e) = std::fs::metadata(key) {
                        missing_key = true;
                        warn(format!(
                            "source `{name}`: cannot read `{}` ({e}); gatekeeper needs it to sign in",
                            key.display()
                        ));
                    }
                }
                for m in listed.iter().flatten() {
                    if !members.contains(m) {
                        warn(format!("source `{name}`: `{m}` is in no policy"));
                    }
                }
                if missing_key {
                    // A config written by `init` before the key is in
                    // place is still a good config; signing in waits for
                    // the key.
                    println!(
                        "source `{name}` (google): {} member(s); not contacted until the key file is in place",
                        listed.as_ref().map_or(members.len(), Vec::len)
                    );
                } else {
                    unreachable += check_google(s, name, &members);
                }
            }
            SourceConfig::Caldav { name, .. } => {
                unreachable += check_caldav(s, name, &members, config.limits.max_item_bytes);
            }
        }
    }
    if unreachable > 0 {
        Exit::Failure
    } else {
        Exit::Ok
    }
}

/// Sign in as each of a Google source's members and read their calendar's
/// time zone. Prints one line per member; returns how many failed.
fn check_google(source: &SourceConfig, name: &str, team: &[String]) -> usize {
    let (settings, members) = crate::source::google::google_settings_for(source, team);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            super::err(format!(
                "source `{name}`: cannot start the async runtime: {e}"
            ));
            return 1;
        }
    };
    let google = runtime.block_on(crate::source::google::GoogleSource::connect(
        settings, &members,
    ));
    println!("source `{name}` (google): {} member(s)", members.len());
    let mut failed = 0;
    for m in &members {
        match runtime.block_on(google.time_zone(m)) {
            Ok(zone) => println!("  `{m}`: reachable (calendar zone {zone})"),
            Err(e) => {
                failed += 1;
                super::err(format!("source `{name}`: `{m}`: {e}"));
            }
        }
    }
    failed
}

/// Log in to a CalDAV source and find each member's calendars; returns 1
/// when the source cannot be used.
fn check_caldav(s: &SourceConfig, name: &str, members: &[String], max_item_bytes: usize) -> usize {
    use crate::source::caldav::{CaldavSettings, CaldavSource, own_runtime};
    let settings = match CaldavSettings::from_config(s, members, max_item_bytes) {
        Ok(settings) => settings,
        Err(e) => {
            super::err(e.to_string());
            return 1;
        }
    };
    let runtime = match own_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            super::err(format!(
                "source `{name}`: cannot start the async runtime: {e}"
            ));
            return 1;
        }
    };
    let source = match CaldavSource::new(settings, runtime) {
        Ok(source) => source,
        Err(e) => {
            super::err(e.to_string());
            return 1;
        }
    };
    let mut failed = 0;
    for member in source.settings().members() {
        if !members.contains(&member) {
            eprintln!("warning: source `{name}`: `{member}` is in no policy");
        }
        match source.discover(&member) {
            Ok(calendars) => println!(
                "source `{name}` (caldav, {member}): {} calendar(s)",
                calendars.len()
            ),
            Err(e) => {
                failed = 1;
                super::err(format!("source `{name}`, `{member}`: {e}"));
            }
        }
    }
    failed
}
