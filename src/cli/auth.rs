//! `gatekeeper auth google`: run the installed-app consent flow once for a
//! person trying gatekeeper on their own calendar, and store the token in a
//! file only its owner can read.

use std::path::PathBuf;

use super::Exit;
use crate::config::{Config, SourceConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Which provider (only `google`).
    #[arg(value_parser = ["google"])]
    provider: String,
    /// The config file naming the Google source and its `token_file`.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// The Google source to sign in for [default: the only one with
    /// `client_secret`]
    #[arg(long)]
    source: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            return super::config_failed(&e);
        }
    };
    let candidates: Vec<_> = config
        .sources
        .iter()
        .filter_map(|s| match s {
            SourceConfig::Google {
                name,
                client_secret: Some(secret),
                token_file: Some(token),
                member: Some(member),
                ..
            } if args.source.as_deref().is_none_or(|n| n == name) => {
                Some((secret.clone(), token.clone(), member.clone()))
            }
            _ => None,
        })
        .collect();
    let [(secret, token, member)] = candidates.as_slice() else {
        super::err(if candidates.is_empty() {
            "no Google source with `client_secret`, `token_file` and `member` in the config (service accounts need no sign-in)"
        } else {
            "several Google sources sign in as a person: pick one with `--source NAME`"
        });
        return Exit::ConfigInvalid;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    eprintln!("gatekeeper: signing in as {member}; open the address below in a browser");
    match rt.block_on(crate::source::google::auth::consent(secret, token, member)) {
        Ok(()) => {
            println!("token stored in {} (readable by you only)", token.display());
            Exit::Ok
        }
        Err(e) => {
            super::err(e);
            Exit::Failure
        }
    }
}
