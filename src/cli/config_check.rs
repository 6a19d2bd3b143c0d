//! `gatekeeper config check`: the config file, every policy it names, and
//! whether each source's calendars can be reached, in one pass. Reads only:
//! it never writes a file or opens the store. What reaching a source means
//! is each backend's own (`source::check`, next to `source::build`); this
//! file knows no backend and prints what they find.

use std::path::PathBuf;

use super::Exit;
use crate::config::{Config, Mode};
use crate::source::{self, Reach};
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

    // Printed as found, so a slow source shows how far it got.
    let mut unreachable = 0;
    for s in &config.sources {
        source::check(&config, s, &members, &mut |found| match found {
            Reach::Found(line) => println!("{line}"),
            Reach::Warning(line) => eprintln!("warning: {line}"),
            Reach::Unreachable(line) => {
                unreachable += 1;
                super::err(line);
            }
        });
    }
    if unreachable > 0 {
        Exit::Failure
    } else {
        Exit::Ok
    }
}
