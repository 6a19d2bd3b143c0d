//! `gatekeeper completions SHELL` and `gatekeeper man`: shell completions
//! and manual pages generated from the command line itself (`clap_complete`,
//! `clap_mangen`), so they never drift from `--help`. Writes to stdout, or
//! man pages into a folder; reads nothing.

use std::path::PathBuf;

use super::Exit;

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `gatekeeper.1` and one page per subcommand (`gatekeeper-run.1`,
    /// …) into this folder instead of printing `gatekeeper.1`.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn completions(args: CompletionArgs) -> Exit {
    let mut cmd = super::command();
    clap_complete::generate(args.shell, &mut cmd, "gatekeeper", &mut std::io::stdout());
    Exit::Ok
}

pub fn man(args: ManArgs) -> Exit {
    let result = match &args.dir {
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(super::command(), dir)),
        None => clap_mangen::Man::new(super::command()).render(&mut std::io::stdout()),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            super::err(format!("cannot write the manual pages: {e}"));
            Exit::Failure
        }
    }
}
