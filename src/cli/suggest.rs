//! `gatekeeper suggest`: the fairest times for a meeting of some members of
//! a policy, with each attendee's local time and inconvenience. Reads the
//! policy, asks the same slot search the decision core uses, prints.

use std::path::PathBuf;

use chrono::Duration;

use super::{Exit, Format};
use crate::fairness::search::city;
use crate::fairness::{Grid, Search, SearchAttendee, Slot};
use crate::policy::diagnostic::render_human;
use crate::policy::evaluate::earliest_suggestion;
use crate::policy::model::RuleSpec;
use crate::policy::parse_policy_bytes;

#[derive(clap::Args)]
pub struct Args {
    /// The team's policy file.
    #[arg(long)]
    policy: PathBuf,
    /// Members to seat, comma-separated: `ana@example.com,bo@example.com`.
    #[arg(long, value_delimiter = ',', required = true)]
    attendees: Vec<String>,
    /// How long the meeting is: `30m`, `1h`, `1h30m`.
    #[arg(long, value_parser = parse_duration)]
    duration: Duration,
    /// How far ahead to look: `7d`, `48h`.
    #[arg(long, value_parser = parse_duration, default_value = "7d")]
    within: Duration,
    /// Start looking from this time [default: now]
    #[arg(long, value_parser = super::parse_instant)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    /// How many times to list.
    #[arg(long, default_value_t = 3)]
    count: usize,
    /// Read the attendees' busy times from the calendars this config names
    /// (local folders and Google), as the daemon does; without it, busy
    /// times are unknown.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How to print: `human` for people, `json` for scripts and tools.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// The attendees' busy times from the calendars a config names, read the
/// way the daemon reads them.
fn busy_times(
    config: &std::path::Path,
    attendees: &[SearchAttendee],
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::fairness::BusyTime>, String> {
    let config = crate::config::Config::load(config).map_err(|e| e.to_string())?;
    let team = crate::team::Team::load(&config.policies).map_err(|e| e.render(false))?;
    // An in-memory store: suggesting reads calendars but records nothing.
    let store = crate::store::sqlite::SqliteStore::in_memory().map_err(|e| e.to_string())?;
    let engine = crate::daemon::Engine::new(config, store, team);
    Ok(attendees
        .iter()
        .flat_map(|a| engine.busy_times(&a.email, a.tz, from, to))
        .collect())
}

/// `30m`, `1h`, `1h30m`, `2d`, or plain minutes (`45`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration such as `30m`, `1h30m` or `7d`");
    let t = s.trim();
    if let Ok(m) = t.parse::<i64>() {
        return (m > 0).then(|| Duration::minutes(m)).ok_or_else(bad);
    }
    let mut total = 0i64;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total += match c {
            'm' => n,
            'h' => n * 60,
            'd' => n * 24 * 60,
            'w' => n * 7 * 24 * 60,
            _ => return Err(bad()),
        };
    }
    if !digits.is_empty() || total <= 0 || total > 366 * 24 * 60 {
        return Err(bad());
    }
    Ok(Duration::minutes(total))
}

pub fn run(args: Args) -> Exit {
    let bytes = match super::read_bytes(&args.policy) {
        Ok(b) => b,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    let path = args.policy.display().to_string();
    let (text, policy, diags) = parse_policy_bytes(bytes, &path);
    let Some(policy) = policy else {
        let errors: Vec<_> = diags.into_iter().filter(|d| d.is_error()).collect();
        eprint!(
            "{}",
            render_human(&errors, &|_| Some(text.clone()), super::use_color())
        );
        return Exit::PolicyInvalid;
    };
    if args.duration > Duration::hours(24) {
        super::err("`--duration` is at most 24h");
        return Exit::Usage;
    }
    if args.within > Duration::days(60) {
        super::err("`--within` is at most 60d");
        return Exit::Usage;
    }
    let curve = policy.fairness.curve;
    let mut attendees: Vec<SearchAttendee> = Vec::new();
    for a in &args.attendees {
        let email = a.trim().to_lowercase();
        let Some(m) = policy.member(&email) else {
            super::err(format!("`{email}` is not a member of `{path}`"));
            return Exit::Usage;
        };
        if attendees.iter().any(|x| x.email == email) {
            continue;
        }
        let meeting_free = policy
            .rules
            .iter()
            .filter(|r| r.applies_to(&email))
            .find_map(|r| match r.spec {
                RuleSpec::MeetingFreeDays { days } => Some(days),
                _ => None,
            })
            .unwrap_or_default();
        attendees.push(SearchAttendee::for_member(m, &curve, meeting_free));
    }
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let busy = match &args.config {
        Some(path) => match busy_times(path, &attendees, now, now + args.within + args.duration) {
            Ok(b) => b,
            Err(e) => {
                super::err(e);
                return Exit::ConfigInvalid;
            }
        },
        None => Vec::new(),
    };
    // Starts lie in [now + the longest notice any attendee's rules ask,
    // now + within], both ends inclusive.
    let from = earliest_suggestion(&policy, attendees.iter().map(|a| a.email.as_str()), now);
    let grid = Grid::new(Search {
        attendees: &attendees,
        curve: &curve,
        from,
        until: now + args.within,
        duration: args.duration,
        busy: &busy,
    });
    let slots = grid.suggest(args.count, None);
    match args.format {
        Format::Json => {
            let out = serde_json::json!({
                "from": from,
                "duration_minutes": args.duration.num_minutes(),
                "slots": slots,
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Human => print!("{}", human(&slots)),
    }
    Exit::Ok
}

fn human(slots: &[Slot]) -> String {
    if slots.is_empty() {
        return "no free time found: every start in the window is busy or on a meeting-free day, or the window ends before the notice period does\n".into();
    }
    let mut out = String::new();
    for (i, s) in slots.iter().enumerate() {
        let verdict = if s.in_hours {
            "inside everyone's working hours".to_string()
        } else {
            format!("worst {}, total {}", s.worst, s.total)
        };
        out.push_str(&format!(
            "{}. {}–{} UTC  ({verdict})\n",
            i + 1,
            s.start.format("%a %Y-%m-%d %H:%M"),
            s.end.format("%H:%M"),
        ));
        let width = s.attendees.iter().map(|a| a.email.len()).max().unwrap_or(0);
        for a in &s.attendees {
            out.push_str(&format!(
                "   {:<width$}  {} {:<14}  inconvenience {:>4}{}\n",
                a.email,
                a.local_start.format("%a %H:%M"),
                city(&a.time_zone),
                a.inconvenience,
                if a.outside_minutes > 0 {
                    format!("  ({} min outside hours)", a.outside_minutes)
                } else {
                    String::new()
                },
            ));
        }
        if i + 1 < slots.len() {
            out.push('\n');
        }
    }
    out
}
