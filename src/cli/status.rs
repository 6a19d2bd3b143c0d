//! `gatekeeper status`: the instances sharing a PostgreSQL store, the
//! members each holds, their lease ages and last pass, read from the
//! database (any machine that can reach it, no running instance needed).
//! Must not: change the lease table (only heartbeats do).

use std::path::PathBuf;

use super::{Exit, Format};
use crate::config::Config;
use crate::store::lease::{self, InstanceStatus};
use crate::store::postgres::Target;

#[derive(clap::Args)]
pub struct Args {
    /// The config file naming the store.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// How to print: `human` for people, `json` for scripts and tools.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: Args) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return super::config_failed(&e),
    };
    if let Some(db) = &config.store.sqlite {
        println!(
            "one instance on SQLite (`{}`): instances split members only on a PostgreSQL store (`[store] url`)",
            db.display()
        );
        return Exit::Ok;
    }
    let instances = match Target::from_config(&config.store).and_then(|t| lease::status(&t)) {
        Ok(i) => i,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&instances) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                super::err(e);
                return Exit::Failure;
            }
        },
        Format::Human => print!("{}", render(&instances)),
    }
    Exit::Ok
}

/// The human form: one block per instance, its members indented.
pub fn render(instances: &[InstanceStatus]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if instances.is_empty() {
        out.push_str("no instance has joined yet\n");
        return out;
    }
    for i in instances {
        let last_pass = i
            .last_pass_age_seconds
            .map_or("no pass yet".to_string(), |s| {
                format!("last pass {} ago", age(s))
            });
        let _ = writeln!(
            out,
            "{} on {}{}: {} member(s), heartbeat {} ago, {last_pass}",
            i.id,
            i.host,
            if i.alive { "" } else { " (lease expired)" },
            i.members.len(),
            age(i.heartbeat_age_seconds),
        );
        for m in &i.members {
            let _ = writeln!(
                out,
                "  {}  held {}, expires in {}",
                m.member,
                age(m.held_for_seconds),
                age(m.expires_in_seconds.max(0.0))
            );
        }
    }
    out
}

fn age(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lease::MemberLease;

    #[test]
    fn renders_instances_with_their_members() {
        let at = "2026-11-29T10:00:00Z".parse().unwrap();
        let instances = vec![
            InstanceStatus {
                id: "gk-a-101".into(),
                host: "a".into(),
                started_at: at,
                heartbeat_age_seconds: 2.4,
                last_pass_age_seconds: Some(75.0),
                alive: true,
                members: vec![MemberLease {
                    member: "ana@example.com".into(),
                    held_for_seconds: 3720.0,
                    expires_in_seconds: 27.6,
                }],
            },
            InstanceStatus {
                id: "gk-b-7".into(),
                host: "b".into(),
                started_at: at,
                heartbeat_age_seconds: 95.0,
                last_pass_age_seconds: None,
                alive: false,
                members: vec![],
            },
        ];
        assert_eq!(
            render(&instances),
            "gk-a-101 on a: 1 member(s), heartbeat 2s ago, last pass 1m15s ago\n  \
             ana@example.com  held 1h02m, expires in 28s\n\
             gk-b-7 on b (lease expired): 0 member(s), heartbeat 1m35s ago, no pass yet\n"
        );
        assert_eq!(render(&[]), "no instance has joined yet\n");
    }
}
