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
use crate::calendar::{EventTime, Occurrence};
use crate::policy::diagnostic::time_zone_help;

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
    /// Zone for reading dates, floating times and the window's days, and
    /// for showing times.
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// At most this many occurrences per event.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
    /// How to print: `human` for people, `json` for scripts and tools.
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
            eprintln!("  = help: {}", time_zone_help(&args.tz));
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
    if to <= from {
        super::err(format!(
            "the window ends (`--to {}`) before it starts (`--from {}`)",
            args.to, args.from
        ));
        return Exit::Usage;
    }
    let mut files = Vec::new();
    if let Err(e) = ics_files(&args.ics, &mut files) {
        super::err(format!("cannot read `{}`: {e}", args.ics.display()));
        return Exit::Failure;
    }
    let mut rows: Vec<Row> = Vec::new();
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
        let calendar = calendar_name(&args.ics, f);
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
                rows.push(Row::new(&o, &e.summary, &calendar, status, tz));
            }
        }
    }
    rows.sort_by(|a, b| (a.instant, &a.uid, &a.calendar).cmp(&(b.instant, &b.uid, &b.calendar)));
    match args.format {
        Format::Json => {
            let arr: Vec<_> = rows.into_iter().map(|r| r.json).collect();
            println!("{}", serde_json::to_string_pretty(&arr).unwrap_or_default());
        }
        Format::Human => print!("{}", human_table(&rows, tz)),
    }
    if bad > 0 && bad == files.len() {
        Exit::InputInvalid
    } else {
        Exit::Ok
    }
}

/// One listed occurrence: what sorts it, and how it is shown.
struct Row {
    instant: DateTime<Utc>,
    uid: String,
    calendar: String,
    start: String,
    end: String,
    summary: String,
    note: String,
    json: serde_json::Value,
}

impl Row {
    /// `status`: `confirmed`, `tentative` or `cancelled` (listed so a
    /// user can tell what was cancelled).
    fn new(o: &Occurrence, summary: &str, calendar: &str, status: &str, tz: Tz) -> Row {
        let mut json = json!({
            "uid": o.uid,
            "calendar": calendar,
            "summary": summary,
            "start": o.start.to_display_string(),
            "end": o.end.to_display_string(),
            "local_start": in_zone(&o.start, tz),
            "local_end": in_zone(&o.end, tz),
            "all_day": o.start.is_date(),
            "status": status,
        });
        if let Some(r) = &o.recurrence_id {
            json["recurrence_id"] = json!(r.to_display_string());
        }
        let mut note = o
            .recurrence_id
            .map(|r| format!("  (occurrence of {})", in_zone(&r, tz)))
            .unwrap_or_default();
        if status != "confirmed" {
            note.push_str(&format!("  [{status}]"));
        }
        Row {
            instant: o.start.to_utc(tz),
            uid: o.uid.clone(),
            calendar: calendar.to_string(),
            start: in_zone(&o.start, tz),
            end: in_zone(&o.end, tz),
            summary: summary.to_string(),
            note,
            json,
        }
    }
}

/// A time as a reader in `tz` sees it, in one form for every kind of time:
/// `YYYY-MM-DD HH:MM` on that zone's clock, or `YYYY-MM-DD` for all-day
/// dates, so a column never mixes `Z`, `+00:00` and bare times.
fn in_zone(t: &EventTime, tz: Tz) -> String {
    match t {
        EventTime::Date(d) => d.format("%Y-%m-%d").to_string(),
        _ => t
            .to_utc(tz)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    }
}

/// The calendar a file belongs to: its folder relative to `--ics` (a vdir
/// has one folder per calendar), or the file's own name when `--ics` names
/// a file (a calendar export).
fn calendar_name(root: &Path, file: &Path) -> String {
    if root.is_file() {
        return file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let folder = file.parent().unwrap_or(root);
    match folder.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into()),
    }
}

/// The human listing: a header naming the zone, then aligned columns.
fn human_table(rows: &[Row], tz: Tz) -> String {
    let start_h = format!("start ({tz})");
    let sw = rows
        .iter()
        .map(|r| r.start.len())
        .chain([start_h.len()])
        .max()
        .unwrap_or(0);
    let ew = rows
        .iter()
        .map(|r| r.end.len())
        .chain([3])
        .max()
        .unwrap_or(0);
    let cw = rows
        .iter()
        .map(|r| r.calendar.len())
        .chain([8])
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "{start_h:<sw$}  {:<ew$}  {:<cw$}  title\n",
        "end", "calendar"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<sw$}  {:<ew$}  {:<cw$}  {}{}\n",
            r.start, r.end, r.calendar, r.summary, r.note
        ));
    }
    out
}
