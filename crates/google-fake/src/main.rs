//! `gatekeeper-google-fake`: the fake of Google's Calendar API as a
//! development program, so a person can watch gatekeeper work against it
//! without a Google account. The throwaway service-account key, the demo
//! seed and the example config and policy are built in, so it runs from
//! any folder: `--write-example DIR` makes a folder that
//! `gatekeeper run --config DIR/gatekeeper.toml` runs from, and
//! `invite` adds an invite to a running fake, to watch a push notification
//! reach the daemon. Not part of what gatekeeper ships.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use gatekeeper_google_fake::demo::{self, Written};
use gatekeeper_google_fake::invite::{self, Invite};
use gatekeeper_google_fake::{FakeGoogle, Stats};

/// Start a fake of Google's Calendar API and token endpoint on this
/// machine, with seeded users and events, for trying gatekeeper without an
/// account.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<FakeCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum FakeCommand {
    /// Add an invite to a running fake, as if the organizer made it in
    /// Google Calendar; members' calendars get their copies and watching
    /// daemons a push notification.
    Invite(InviteArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address the fake listens on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: std::net::SocketAddr,
    /// Users and events to start with [default: the demo seed built in, the
    /// same as examples/google-fake/seed.json]
    #[arg(long)]
    seed: Option<PathBuf>,
    /// The service account key to hand the daemon [default: the throwaway
    /// test key built in]
    #[arg(long)]
    key: Option<PathBuf>,
    /// The public half of `--key` (DER), which the fake's token endpoint
    /// checks sign-ins against [default: the built-in test key's]
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Make DIR ready for `gatekeeper run --config DIR/gatekeeper.toml`:
    /// the example config pointed at this fake and its policy (both kept
    /// if already there), and the key (rewritten, mode 0600).
    #[arg(long, value_name = "DIR")]
    write_example: Option<PathBuf>,
    /// Write only the key, pointed at this fake (mode 0600), here.
    #[arg(long, value_name = "PATH")]
    write_key: Option<PathBuf>,
}

#[derive(clap::Args)]
struct InviteArgs {
    /// The running fake's address.
    #[arg(long, default_value = "http://127.0.0.1:8085")]
    fake: String,
    /// Who sends the invite.
    #[arg(long, value_name = "EMAIL")]
    organizer: String,
    /// An invited person; repeat for each.
    #[arg(long = "attendee", value_name = "EMAIL", required = true)]
    attendees: Vec<String>,
    /// The invite's title.
    #[arg(long)]
    summary: String,
    /// The invite's description (its agenda).
    #[arg(long, default_value = "")]
    description: String,
    /// When it starts: RFC 3339, e.g. `2026-03-04T15:00:00Z`.
    #[arg(long, value_parser = parse_instant)]
    start: chrono::DateTime<chrono::Utc>,
    /// How long it lasts, in minutes.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1440))]
    minutes: u32,
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("`{s}` is not an RFC 3339 time such as `2026-03-04T15:00:00Z`"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match cli.command {
        Some(FakeCommand::Invite(a)) => add_invite(a),
        None => serve(cli.serve),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let public = match &args.public_key {
        Some(p) => read(p)?,
        None => demo::TEST_PUBLIC_KEY.to_vec(),
    };
    let (seed_name, seed_text) = match &args.seed {
        Some(p) => (
            p.display().to_string(),
            String::from_utf8_lossy(&read(p)?).into_owned(),
        ),
        None => ("the built-in seed".to_string(), demo::SEED.to_string()),
    };
    let seed: serde_json::Value =
        serde_json::from_str(&seed_text).map_err(|e| format!("`{seed_name}`: {e}"))?;
    let key_text = match &args.key {
        Some(p) => String::from_utf8_lossy(&read(p)?).into_owned(),
        None => demo::TEST_KEY.to_string(),
    };
    // Registered before the server starts, so an early Ctrl-C still ends
    // with the summary rather than killing the process.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let fake = FakeGoogle::new(public);
    fake.load_seed(&seed)
        .map_err(|e| format!("`{seed_name}`: {e}"))?;
    let addr = fake
        .start(rt.handle(), args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!("fake Google Calendar API on http://{addr}");
    println!("  api_base  = \"{}\"", fake.api_base());
    println!("  token_uri = \"{}\"", fake.token_uri());
    if let Some(dir) = &args.write_example {
        for written in demo::write_example(dir, &fake, &key_text)? {
            match written {
                Written::Created(p) => println!("  wrote {}", p.display()),
                Written::Kept(p) => println!("  kept {} (already there)", p.display()),
            }
        }
        println!(
            "  run gatekeeper: gatekeeper run --config {} --now 2026-03-01T08:00:00Z",
            dir.join("gatekeeper.toml").display()
        );
    }
    if let Some(path) = &args.write_key {
        demo::write_key(path, &demo::key_for(&fake, &key_text)?)?;
        println!("  service account key for the daemon: {}", path.display());
    }
    if args.write_example.is_none() && args.write_key.is_none() {
        println!("  (no key written: --write-example DIR makes a folder gatekeeper can run from)");
    }
    println!(
        "  add an invite: gatekeeper-google-fake invite --fake http://{addr} --organizer bo@example.com --attendee ana@example.com --summary Sync --start 2026-03-04T15:00:00Z"
    );
    println!("press Ctrl-C to stop");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    eprint!("{}", summary(&fake.stats()));
    Ok(())
}

/// What the fake served, for people: requests per method, then per member,
/// and the busiest minute measured the way Google's quotas are.
fn summary(stats: &Stats) -> String {
    use std::collections::BTreeMap;
    let total: u64 = stats.requests.values().sum();
    let mut out = format!("google-fake: stopped after {total} request(s)\n");
    let mut by_method: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_member: BTreeMap<&str, u64> = BTreeMap::new();
    for ((member, method), n) in &stats.requests {
        *by_method.entry(method).or_default() += n;
        *by_member.entry(member).or_default() += n;
    }
    let list = |m: &BTreeMap<&str, u64>| {
        m.iter()
            .map(|(k, n)| {
                let k = if k.is_empty() { "(no valid token)" } else { k };
                format!("{k} {n}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if total > 0 {
        out.push_str(&format!("  by method: {}\n", list(&by_method)));
        out.push_str(&format!("  by member: {}\n", list(&by_member)));
        out.push_str(&format!(
            "  busiest minute: {} Calendar API request(s) for the project\n",
            stats.max_per_minute_project
        ));
    }
    out
}

fn add_invite(args: InviteArgs) -> Result<(), String> {
    let invite = Invite {
        organizer: args.organizer,
        attendees: args.attendees,
        summary: args.summary,
        description: args.description,
        start: args.start,
        minutes: args.minutes,
    };
    let id = invite::post(&args.fake, &invite)?;
    println!(
        "invite `{id}` added: {:?} from {}",
        invite.summary, invite.organizer
    );
    Ok(())
}
