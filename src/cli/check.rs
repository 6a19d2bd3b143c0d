//! `gatekeeper check`: what gatekeeper would do with one invite, and why.
//! Reads the files, asks the same decision core the daemon uses, prints.

use std::path::PathBuf;

use serde_json::json;

use super::{Exit, Format};
use crate::calendar::PartStat;
use crate::calendar::ical::parse_ics;
use crate::calendar::recurrence::group_by_uid;
use crate::daemon::engine::upcoming_spans;
use crate::policy::diagnostic::render_human;
use crate::policy::{Context, Invite, evaluate, parse_policy_bytes};

#[derive(clap::Args)]
pub struct Args {
    /// The team's policy file.
    #[arg(long)]
    policy: PathBuf,
    /// Screen for this member [default: the first invited member of the
    /// policy who is not the organizer]
    #[arg(long = "as")]
    member: Option<String>,
    /// The time to judge at [default: now]
    #[arg(long, value_parser = super::parse_instant)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    /// Urgent exceptions the organizer has already used this month.
    #[arg(long, default_value_t = 0)]
    urgent_used: u32,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// The invite, as an .ics file.
    invite: PathBuf,
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
    let (policy_text, policy, diags) = parse_policy_bytes(bytes, &path);
    let Some(policy) = policy else {
        let errors: Vec<_> = diags.into_iter().filter(|d| d.is_error()).collect();
        eprint!(
            "{}",
            render_human(&errors, &|_| Some(policy_text.clone()), super::use_color())
        );
        return Exit::PolicyInvalid;
    };
    let text = match super::read_file(&args.invite) {
        Ok(t) => t,
        Err(e) => {
            super::err(e);
            return Exit::Failure;
        }
    };
    let parsed = match parse_ics(&text) {
        Ok(p) => p,
        Err(e) => {
            super::err(format!("{}: {e}", args.invite.display()));
            return Exit::InputInvalid;
        }
    };
    for p in &parsed.problems {
        eprintln!("warning: {}: {p}", args.invite.display());
    }
    let Some(group) = group_by_uid(parsed.events).into_iter().next() else {
        super::err(format!("{}: no event in the file", args.invite.display()));
        return Exit::InputInvalid;
    };
    let idx = group
        .iter()
        .position(|e| e.recurrence_id.is_none())
        .unwrap_or(0);
    let event = &group[idx];
    let member = match &args.member {
        Some(m) => m.trim().to_lowercase(),
        None => match event.attendees.iter().find(|a| {
            Some(&a.email) != event.organizer.as_ref() && policy.member(&a.email).is_some()
        }) {
            Some(a) => a.email.clone(),
            None => {
                super::err(
                    "none of the invite's attendees is a member of this policy: pass `--as EMAIL`",
                );
                return Exit::Failure;
            }
        },
    };
    let Some(m) = policy.member(&member) else {
        super::err(format!("`{member}` is not a member of `{}`", path));
        return Exit::Failure;
    };
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let spans = upcoming_spans(&group, idx, m.tz, now, 180, 10);
    let invite = Invite::of_event(event, &spans);
    let ctx = Context::new(now, &member).with_urgent_uses(args.urgent_used);
    let verdict = evaluate(&invite, &policy, &ctx);
    let comment = verdict.comment(&invite, &policy, &member, event.private);
    let answered = event
        .attendee(&member)
        .map(|a| &a.partstat)
        .filter(|p| **p != PartStat::NeedsAction && event.gatekeeper_partstat.as_ref() != Some(*p));

    match args.format {
        Format::Json => {
            let rules: Vec<_> = verdict
                .findings
                .iter()
                .map(|f| json!({"rule": f.rule.as_str(), "action": f.action.as_str(), "message": f.problem.message(), "fix": f.problem.fix()}))
                .collect();
            let out = json!({
                "action": verdict.decision.as_str(),
                "member": member,
                "organizer": event.organizer,
                "title": event.summary,
                "uid": event.uid,
                "rules": rules,
                "exemption": verdict.exemption.as_ref().map(|e| e.describe()),
                "judged_first_days": verdict.judged_first_days,
                "already_answered": answered.map(|p| p.as_ical()),
                "comment": comment,
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Human => {
            println!(
                "{}: {:?} from {}, screened for {member}",
                verdict.decision.as_str(),
                event.summary,
                event.organizer.as_deref().unwrap_or("(no organizer)")
            );
            if verdict.findings.is_empty() {
                println!("\nno rule fired");
            } else {
                println!("\nrules that fired:");
                for f in &verdict.findings {
                    println!(
                        "  {:<9} {:<18} {}",
                        f.action.as_str(),
                        f.rule.as_str(),
                        f.problem.message()
                    );
                    println!("  {:<9} {:<18} fix: {}", "", "", f.problem.fix());
                }
            }
            if let Some(note) = verdict.horizon_note() {
                println!("\nnote: {note}");
            }
            if let Some(e) = &verdict.exemption {
                println!("\nallowed: {}", e.describe());
            }
            if let Some(p) = answered {
                println!(
                    "\n{member} has already answered ({}); gatekeeper leaves a person's own answer alone",
                    p.as_ical()
                );
            }
            if let Some(c) = &comment {
                println!("\ncomment gatekeeper would send:");
                for line in c.lines() {
                    println!("  | {line}");
                }
            }
        }
    }
    Exit::Ok
}
