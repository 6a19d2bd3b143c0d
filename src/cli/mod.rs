//! The command line: argument parsing and one file per subcommand. This is
//! the outermost shell: it reads files, opens the store, prints, and turns
//! errors into messages that name the file, calendar or event, and into the
//! exit codes the README lists.

mod auth;
mod backtest;
mod check;
mod completions;
mod config_check;
mod events;
mod init;
mod lint;
mod log;
mod logging;
mod report;
mod run;
mod suggest;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit statuses. The README lists them; scripts rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    /// Something failed at run time: a file, the store, a source.
    Failure = 1,
    /// Bad arguments (clap's own code).
    Usage = 2,
    /// A policy file has errors.
    PolicyInvalid = 3,
    /// The config file has errors.
    ConfigInvalid = 4,
    /// An input file (an invite, a calendar) cannot be read as iCalendar.
    InputInvalid = 5,
    /// `run`: a source or member could not be synced or acted on (a
    /// calendar folder that cannot be read, a refused key, an answer that
    /// could not be written). stderr names which; the rest was done.
    SyncFailed = 6,
    /// `run`: another gatekeeper process holds the state database.
    StateLocked = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// JSON for scripts and tools.
    Json,
}

#[derive(Parser)]
#[command(
    name = "gatekeeper",
    version,
    about = "Keeps meetings rare, fair and purposeful"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented config and a starter policy for a new team.
    Init(init::Args),
    /// Work with the config file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Say what gatekeeper would do with one invite, and why.
    Check(check::Args),
    /// Sync every source, screen new invites, act and log.
    Run(run::Args),
    /// List the event occurrences gatekeeper sees, recurrences expanded.
    Events(events::Args),
    /// Show the decision log.
    Log(log::Args),
    /// Sign in to a calendar provider once (Google installed-app OAuth).
    Auth(auth::Args),
    /// Suggest the fairest times for a meeting across time zones.
    Suggest(suggest::Args),
    /// The weekly meeting-load report: where the time went, who paid for it.
    Report(report::Args),
    /// What a policy would have done to a past period, before it touches anyone's calendar.
    Backtest(backtest::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionArgs),
    /// Print the manual page, or write every page into a folder.
    Man(completions::ManArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the config, every policy it names, and that calendars are there.
    Check(config_check::Args),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check policy files and report every problem at once.
    Lint(lint::Args),
}

/// The whole command line as clap sees it: for the help-text and README
/// tests, and for generating completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            };
        }
    };
    init_logging();
    if !matches!(cli.command, Command::Run(_)) {
        exit_quietly_on_closed_pipe();
    }
    let exit = match cli.command {
        Command::Policy {
            command: PolicyCommand::Lint(a),
        } => lint::run(a),
        Command::Init(a) => init::run(a),
        Command::Config {
            command: ConfigCommand::Check(a),
        } => config_check::run(a),
        Command::Check(a) => check::run(a),
        Command::Run(a) => run::run(a),
        Command::Events(a) => events::run(a),
        Command::Log(a) => log::run(a),
        Command::Auth(a) => auth::run(a),
        Command::Suggest(a) => suggest::run(a),
        Command::Report(a) => report::run(a),
        Command::Backtest(a) => backtest::run(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    };
    exit.into()
}

/// A one-shot command whose reader goes away (`gatekeeper log | head -1`)
/// ends quietly, as other Unix tools do, instead of panicking in `println!`
/// with "Broken pipe": Rust ignores SIGPIPE by default, so it is restored
/// here once for every command that prints and exits. The daemon keeps
/// Rust's default so a closed stdout cannot kill a server.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: `signal` with `SIG_DFL` installs no Rust code as a handler; it
    // runs at start-up before any other thread exists, so nothing races it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("GATEKEEPER_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    if logging::json() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(logging::JsonEvents)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color())
        .without_time()
        .try_init();
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    !logging::json()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal()
}

/// Parse `--now`: RFC 3339, or a date meaning its midnight UTC.
pub fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "`{s}` is not an RFC 3339 time such as `2026-12-01T09:00:00Z` or a date such as `2026-12-01`"
    ))
}

/// Print every problem in a config file the way `policy lint` prints a
/// policy's, and give the config's exit status.
fn config_failed(e: &crate::config::ConfigError) -> Exit {
    logging::rendered(&e.render(use_color() && !logging::json()));
    Exit::ConfigInvalid
}

fn err(msg: impl std::fmt::Display) {
    logging::error(msg);
}

/// A file's bytes, for readers that decode (and report bad encoding)
/// themselves, like the policy readers.
fn read_bytes(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn read_file(path: &PathBuf) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}
