//! `gatekeeper log`: the decision log, newest last.

use std::path::PathBuf;

use super::{Exit, Format};
use crate::config::Config;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

#[derive(clap::Args)]
pub struct Args {
    /// The config file naming the state database.
    #[arg(long, default_value = "gatekeeper.toml")]
    config: PathBuf,
    /// Read this SQLite database instead of the config's.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Only decisions from this date or time on.
    #[arg(long, value_parser = super::parse_instant)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// How to print: `human` for people, `json` for scripts and tools.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: Args) -> Exit {
    let db = match args.db {
        Some(db) => db,
        None => match Config::load(&args.config) {
            Ok(c) => c.store.sqlite,
            Err(e) => {
                return super::config_failed(&e);
            }
        },
    };
    if !db.exists() {
        super::err(format!(
            "no decision log at `{}` yet: run `gatekeeper run` first",
            db.display()
        ));
        return Exit::Failure;
    }
    let store = match SqliteStore::open(&db) {
        Ok(s) => s,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    let records = match store.decisions(args.since) {
        Ok(r) => r,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&records) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                super::err(e);
                return Exit::Failure;
            }
        },
        Format::Human => {
            for r in &records {
                println!("{}", super::run::decision_line(r));
            }
            if records.is_empty() {
                eprintln!(
                    "no decisions logged{}",
                    if args.since.is_some() {
                        " in that period"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use crate::calendar::PartStat;
    use crate::store::{DecisionRecord, Findings, LoggedAction, Outcome};

    fn row(action: LoggedAction, findings: &str, outcome: Outcome) -> DecisionRecord {
        DecisionRecord {
            id: 1,
            decided_at: "2026-11-20T10:00:00Z".parse().unwrap(),
            source: "s".into(),
            calendar: "work".into(),
            member: "ana@example.com".into(),
            uid: "u".into(),
            recurrence_id: String::new(),
            title: "Sync".into(),
            organizer: "bo@example.com".into(),
            action,
            response: Some(PartStat::Declined),
            findings: Findings::from_stored(findings),
            exemption: None,
            comment: None,
            policy_hash: "h".into(),
            outcome,
            error: None,
        }
    }

    #[test]
    fn log_lines_read_typed_rows_and_say_what_cannot_be_read() {
        let check = |r: DecisionRecord, expect: &str| {
            assert_eq!(super::super::run::decision_line(&r), expect);
        };
        check(
            row(
                LoggedAction::Decline,
                r#"[{"rule":"agenda","action":"decline"},{"rule":"max_attendees","action":"observe"}]"#,
                Outcome::Applied,
            ),
            r#"2026-11-20T10:00:00Z  decline   ana@example.com  "Sync" from bo@example.com  [agenda, max_attendees(observe)]  applied → DECLINED"#,
        );
        check(
            row(LoggedAction::Annotate, "[]", Outcome::Observed),
            r#"2026-11-20T10:00:00Z  annotate  ana@example.com  "Sync" from bo@example.com  [no rule fired]  observed (would write DECLINED)"#,
        );
        check(
            row(
                LoggedAction::Unknown("escalate".into()),
                "{not json",
                Outcome::Failed,
            ),
            r#"2026-11-20T10:00:00Z  escalate  ana@example.com  "Sync" from bo@example.com  [rules unreadable in this log row]  failed → DECLINED"#,
        );
    }
}
