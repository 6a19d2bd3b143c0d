//! `gatekeeper google-fake`: start the in-process fake of Google's Calendar
//! API with seeded data, so a person can watch the daemon work against it
//! without a Google account. The fake is the one the tests use. Its
//! throwaway service-account key and the demo seed are built into the
//! binary, so it runs from any folder. `google-fake invite` adds an invite
//! to a running fake, to watch a push notification reach the daemon.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::Exit;
use crate::source::google::fake::FakeGoogle;
use crate::source::google::fake::Stats;

/// The test service account: a throwaway key that only the fake trusts.
const TEST_KEY: &str = include_str!("../../tests/fixtures/google/service-account.json");
const TEST_PUBLIC_KEY: &[u8] =
    include_bytes!("../../tests/fixtures/google/service-account-public.der");
const DEMO_SEED: &str = include_str!("../../examples/google-fake/seed.json");

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<FakeCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
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
    /// Users and events to start with [default: the demo seed built into
    /// gatekeeper, the same as examples/google-fake/seed.json]
    #[arg(long)]
    seed: Option<PathBuf>,
    /// The service account key to hand the daemon [default: the throwaway
    /// test key built into gatekeeper]
    #[arg(long)]
    key: Option<PathBuf>,
    /// The public half of `--key` (DER), which the fake's token endpoint
    /// checks sign-ins against [default: the built-in test key's]
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Write a copy of the key pointing at this fake (mode 0600) here, for
    /// the daemon's config to use.
    #[arg(
        long,
        default_value = "examples/google-fake/state/service-account.json"
    )]
    write_key: PathBuf,
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
    #[arg(long, value_parser = super::parse_instant)]
    start: chrono::DateTime<chrono::Utc>,
    /// How long it lasts, in minutes.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1440))]
    minutes: u32,
}

pub fn run(args: Args) -> Exit {
    match args.command {
        Some(FakeCommand::Invite(a)) => invite(a),
        None => serve(args.serve),
    }
}

fn serve(args: ServeArgs) -> Exit {
    let fail = |e: String| {
        super::err(e);
        Exit::Failure
    };
    let public = match &args.public_key {
        Some(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => return fail(format!("cannot read `{}`: {e}", p.display())),
        },
        None => TEST_PUBLIC_KEY.to_vec(),
    };
    let seed_text = match &args.seed {
        Some(p) => match super::read_file(p) {
            Ok(t) => t,
            Err(e) => return fail(e),
        },
        None => DEMO_SEED.to_string(),
    };
    let seed_name = args
        .seed
        .as_ref()
        .map_or("the built-in seed".to_string(), |p| p.display().to_string());
    let seed: serde_json::Value = match serde_json::from_str(&seed_text) {
        Ok(v) => v,
        Err(e) => return fail(format!("`{seed_name}`: {e}")),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e.to_string()),
    };
    let fake = FakeGoogle::new(public);
    if let Err(e) = fake.load_seed(&seed) {
        return fail(format!("`{seed_name}`: {e}"));
    }
    let addr = match fake.start(rt.handle(), args.listen) {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let key_text = match &args.key {
        Some(p) => match super::read_file(p) {
            Ok(t) => t,
            Err(e) => return fail(e),
        },
        None => TEST_KEY.to_string(),
    };
    let mut key: serde_json::Value = match serde_json::from_str(&key_text) {
        Ok(v) => v,
        Err(e) => return fail(format!("the service account key: {e}")),
    };
    key["token_uri"] = serde_json::Value::String(fake.token_uri());
    if let Some(dir) = args.write_key.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return fail(format!("cannot create `{}`: {e}", dir.display()));
    }
    let written = std::fs::write(&args.write_key, key.to_string()).and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&args.write_key, std::fs::Permissions::from_mode(0o600))
    });
    if let Err(e) = written {
        return fail(format!("cannot write `{}`: {e}", args.write_key.display()));
    }
    println!("fake Google Calendar API on http://{addr}");
    println!("  api_base  = \"{}\"", fake.api_base());
    println!("  token_uri = \"{}\"", fake.token_uri());
    println!(
        "  service account key for the daemon: {}",
        args.write_key.display()
    );
    println!(
        "  add an invite: gatekeeper google-fake invite --fake http://{addr} --organizer bo@example.com --attendee ana@example.com --summary Sync --start 2026-03-04T15:00:00Z"
    );
    println!("press Ctrl-C to stop");
    let flag = match crate::daemon::shutdown_flag() {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    while !flag.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    eprint!("{}", summary(&fake.stats()));
    Exit::Ok
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

fn invite(args: InviteArgs) -> Exit {
    let end = args.start + chrono::Duration::minutes(i64::from(args.minutes));
    let mut attendees: Vec<serde_json::Value> = vec![serde_json::json!({
        "email": args.organizer, "responseStatus": "accepted"
    })];
    attendees.extend(
        args.attendees
            .iter()
            .map(|a| serde_json::json!({ "email": a })),
    );
    let mut event = serde_json::json!({
        "summary": args.summary,
        "start": {"dateTime": args.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
        "end": {"dateTime": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
        "attendees": attendees,
    });
    if !args.description.is_empty() {
        event["description"] = serde_json::json!(args.description);
    }
    let body = serde_json::json!({ "organizer": args.organizer, "event": event });
    let url = format!("{}/fake/invite", args.fake.trim_end_matches('/'));
    let posted = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                let resp = reqwest::Client::new()
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await
                    .map_err(|e| format!("cannot reach the fake at {}: {e}", args.fake))?;
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                if status.is_success() {
                    Ok(text)
                } else {
                    Err(format!("the fake answered {status}: {text}"))
                }
            })
        });
    match posted {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            println!(
                "invite `{}` added: {:?} from {}",
                v["id"].as_str().unwrap_or("?"),
                args.summary,
                args.organizer
            );
            Exit::Ok
        }
        Err(e) => {
            super::err(e);
            Exit::Failure
        }
    }
}
