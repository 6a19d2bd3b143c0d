//! `gatekeeper store migrate --from sqlite:PATH --to postgres://…`: move
//! one instance's SQLite state into an empty PostgreSQL store, keeping the
//! decision log (with its ids), what was screened, urgent uses, cursors,
//! the burden ledger and protected time, in one transaction. Must not:
//! write to the SQLite file, or print the password.

use std::path::PathBuf;

use super::Exit;
use crate::store::postgres::{PostgresStore, Target};

#[derive(clap::Args)]
pub struct Args {
    /// The SQLite state to copy: `sqlite:PATH` (or the path alone).
    #[arg(long)]
    from: String,
    /// The PostgreSQL store to fill: `postgres://user@host/db` (also
    /// `postgres:postgres://…`). It must hold no decisions yet.
    #[arg(long)]
    to: String,
    /// An environment variable holding the PostgreSQL password.
    #[arg(long)]
    password_env: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let from = PathBuf::from(args.from.strip_prefix("sqlite:").unwrap_or(&args.from));
    if !from.exists() {
        super::err(format!("no SQLite state at `{}`", from.display()));
        return Exit::Failure;
    }
    let url = args
        .to
        .strip_prefix("postgres:")
        .filter(|u| u.contains("://"))
        .unwrap_or(&args.to);
    let password = match &args.password_env {
        Some(var) => match std::env::var(var) {
            Ok(p) => Some(p),
            Err(_) => {
                super::err(format!("the environment variable `{var}` is not set"));
                return Exit::Failure;
            }
        },
        None => None,
    };
    let imported = Target::new(url, password.as_deref())
        .and_then(|t| PostgresStore::open(&t))
        .and_then(|mut s| s.import_sqlite(&from));
    match imported {
        Ok(n) => {
            println!(
                "copied {} decision(s), {} screening(s), {} urgent use(s), {} cursor(s), {} meta row(s), {} burden row(s), {} protected block(s) from `{}` to {}",
                n.decisions,
                n.screenings,
                n.urgent_uses,
                n.sync_cursors,
                n.meta,
                n.burden,
                n.protected_time,
                from.display(),
                crate::store::postgres::redact(url),
            );
            println!("now set `[store] url` in the config (and remove `sqlite`)");
            Exit::Ok
        }
        Err(e) => {
            super::err(e);
            Exit::Failure
        }
    }
}
