//! `gatekeeper google-fake`: start the in-process fake of Google's Calendar
//! API with seeded data, so a person can watch the daemon work against it
//! without a Google account. The fake is the one the tests use.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::Exit;
use crate::source::google::fake::FakeGoogle;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: std::net::SocketAddr,
    /// Users and events to start with.
    #[arg(long, default_value = "examples/google-fake/seed.json")]
    seed: PathBuf,
    /// The test service account (a throwaway key that only the fake trusts).
    #[arg(long, default_value = "tests/fixtures/google/service-account.json")]
    key: PathBuf,
    /// Its public key, which the fake's token endpoint checks JWTs against.
    #[arg(
        long,
        default_value = "tests/fixtures/google/service-account-public.der"
    )]
    public_key: PathBuf,
    /// Write a copy of the key pointing at this fake (mode 0600) here, for
    /// the daemon's config to use.
    #[arg(
        long,
        default_value = "examples/google-fake/state/service-account.json"
    )]
    write_key: PathBuf,
}

pub fn run(args: Args) -> Exit {
    let fail = |e: String| {
        super::err(e);
        Exit::Failure
    };
    let public = match std::fs::read(&args.public_key) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot read `{}`: {e}", args.public_key.display())),
    };
    let seed: serde_json::Value = match super::read_file(&args.seed).and_then(|t| {
        serde_json::from_str(&t).map_err(|e| format!("`{}`: {e}", args.seed.display()))
    }) {
        Ok(v) => v,
        Err(e) => return fail(e),
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
        return fail(format!("`{}`: {e}", args.seed.display()));
    }
    let addr = match fake.start(rt.handle(), args.listen) {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let mut key: serde_json::Value = match super::read_file(&args.key)
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    key["token_uri"] = serde_json::Value::String(fake.token_uri());
    if let Some(dir) = args.write_key.parent() {
        let _ = std::fs::create_dir_all(dir);
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
    println!("press Ctrl-C to stop");
    let flag = match crate::daemon::shutdown_flag() {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    while !flag.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let stats = fake.stats();
    eprintln!("google-fake: stopped; {stats:?}");
    Exit::Ok
}
