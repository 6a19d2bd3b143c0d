//! `gatekeeper events`: the event occurrences gatekeeper sees in a file or
//! folder, recurrences expanded, for checking what it makes of a calendar.
//! Files are read as bytes (any encoding); every occurrence is listed with
//! its status, cancelled ones too, so a user can tell what was cancelled.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::{Exit, Format};
use crate::calendar::Status;
use crate::calendar::ical::parse_ics_bytes;
use crate::calendar::local_to_utc;
use crate::calendar::recurrence::{expand, group_by_uid};

#[derive(clap::Args)]
pub struct Args {
    /// An .ics file, or a folder searched recursively (a vdir).
    #[arg(long)]
    ics: PathBuf,
    /// First day of the window (or an RFC 3339 time).
    #[arg(long)]
    from: String,
    /// Last day of the window, inclusive (or an RFC 3339 time, exclusive).
    #[arg(long)]
    to: String,
    /// Zone for reading dates, floating times and the window's days.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// At most this many occurrences per event.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn bound(s: &str, tz: Tz, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date such as `2026-12-01` or an RFC 3339 time"))?;
    let d = if end {
        d.succ_opt().ok_or("date out of range")?
    } else {
        d
    };
    Ok(local_to_utc(tz, d.and_time(chrono::NaiveTime::MIN)))
}

fn ics_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            ics_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ics")) {
            out.push(p);
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Exit {
    let tz: Tz = match args.tz.parse() {
        Ok(t) => t,
        Err(_) => {
            super::err(format!("unknown time zone `{}`", args.tz));
            return Exit::Usage;
        }
    };
    let (from, to) = match (bound(&args.from, tz, false), bound(&args.to, tz, true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            super::err(e);
            return Exit::Usage;
        }
    };
    let mut files = Vec::new();
    if let Err(e) = ics_files(&args.ics, &mut files) {
        super::err(format!("cannot read `{}`: {e}", args.ics.display()));
        return Exit::Failure;
    }
    // (start instant, uid, json, human line)
    let mut rows: Vec<(DateTime<Utc>, String, serde_json::Value, String)> = Vec::new();
    let mut bad = 0;
    for f in &files {
        let bytes = match std::fs::read(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("warning: cannot read `{}`: {e}; skipped", f.display());
                bad += 1;
                continue;
            }
        };
        let parsed = match parse_ics_bytes(&bytes) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: {}: {e}; skipped", f.display());
                bad += 1;
                continue;
            }
        };
        for p in &parsed.problems {
            eprintln!("warning: {}: {p}", f.display());
        }
        for group in group_by_uid(parsed.events) {
            let expansion = expand(&group, tz, from, to, args.limit);
            for p in &expansion.problems {
                eprintln!("warning: {}: {p}", f.display());
            }
            if expansion.truncated {
                eprintln!(
                    "warning: {}: `{}` has more occurrences than gatekeeper expands; the list is cut short",
                    f.display(),
                    group[0].uid
                );
            }
            let listed = expansion.occurrences.into_iter().map(|o| (o, false));
            let cancelled = expansion.cancelled.into_iter().map(|o| (o, true));
            for (o, cancelled) in listed.chain(cancelled) {
                let e = &group[o.event_index];
                let status = match (cancelled, e.status) {
                    (true, _) | (_, Status::Cancelled) => "cancelled",
                    (_, Status::Tentative) => "tentative",
                    (_, Status::Confirmed) => "confirmed",
                };
                let mut obj = json!({
                    "uid": o.uid,
                    "summary": e.summary,
                    "start": o.start.to_display_string(),
                    "end": o.end.to_display_string(),
                    "all_day": o.start.is_date(),
                    "status": status,
                });
                if let Some(r) = &o.recurrence_id {
                    obj["recurrence_id"] = json!(r.to_display_string());
                }
                let line = format!(
                    "{}  {}  {}{}{}",
                    o.start.to_display_string(),
                    o.end.to_display_string(),
                    e.summary,
                    o.recurrence_id
                        .map(|r| format!("  (occurrence {})", r.to_display_string()))
                        .unwrap_or_default(),
                    if status == "confirmed" {
                        String::new()
                    } else {
                        format!("  [{status}]")
                    }
                );
                rows.push((o.start.to_utc(tz), o.uid.clone(), obj, line));
            }
        }
    }
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    match args.format {
        Format::Json => {
            let arr: Vec<_> = rows.into_iter().map(|r| r.2).collect();
            println!("{}", serde_json::to_string_pretty(&arr).unwrap_or_default());
        }
        Format::Human => {
            for r in rows {
                println!("{}", r.3);
            }
        }
    }
    if bad > 0 && bad == files.len() {
        Exit::InputInvalid
    } else {
        Exit::Ok
    }
}
