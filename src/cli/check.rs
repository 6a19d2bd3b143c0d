//! `gatekeeper check`: what gatekeeper would do with one invite, and why.
//! Reads the files, asks the same decision core the daemon uses, prints.

use std::path::PathBuf;

use serde_json::json;

use super::{Exit, Format};
use crate::calendar::PartStat;
use crate::calendar::ical::parse_ics;
use crate::calendar::recurrence::group_by_uid;
use crate::daemon::engine::upcoming_spans;
use crate::policy::diagnostic::did_you_mean_help;
use crate::policy::{Context, Invite, Policy, evaluate};
use crate::team::Team;

#[derive(clap::Args)]
pub struct Args {
    /// The team's policy file, or a folder of them (as `policy lint` takes).
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
    /// How to print: `human` for people, `json` for scripts and tools.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// The invite, as an .ics file.
    invite: PathBuf,
}

pub fn run(args: Args) -> Exit {
    // A file or a folder of them, as `policy lint` and the config take.
    if !args.policy.exists() {
        super::err(format!(
            "cannot read `{}`: no such file or folder",
            args.policy.display()
        ));
        return Exit::Failure;
    }
    let path = args.policy.display().to_string();
    let team = match Team::load(std::slice::from_ref(&args.policy)) {
        Ok(t) => t,
        Err(e) => {
            eprint!("{}", e.render(super::use_color()));
            return Exit::PolicyInvalid;
        }
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
            Some(&a.email) != event.organizer.as_ref() && team.policy_for(&a.email).is_some()
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
    let Some((policy, m)) = team
        .policy_for(&member)
        .and_then(|p| p.member(&member).map(|m| (p, m)))
    else {
        super::err(format!("`{member}` is not a member of `{path}`"));
        let members = team.members();
        if let Some(help) = did_you_mean_help(&member, members.iter().map(String::as_str)) {
            eprintln!("  = help: {help}");
        }
        return Exit::Usage;
    };
    let policy: &Policy = policy;
    let now = args.now.unwrap_or_else(chrono::Utc::now);
    let spans = upcoming_spans(&group, idx, m.tz, now, 180, 10);
    let invite = Invite::of_event(event, &spans);
    let ctx = Context::new(now, &member).with_urgent_uses(args.urgent_used);
    let verdict = evaluate(&invite, policy, &ctx);
    // What the purpose rules read, so an organizer learns the exact word.
    let purpose = if policy.screens_purposes(&member) {
        let purposes = policy.purposes_for(&member);
        let r = crate::policy::purpose::recognise(
            invite.title,
            invite.description,
            invite.categories,
            &purposes,
        );
        crate::policy::purpose::describe(&r, &purposes)
    } else {
        Vec::new()
    };
    let comment = verdict.comment(&invite, policy, &member, event.private);
    let answered = event
        .attendee(&member)
        .map(|a| &a.partstat)
        .filter(|p| **p != PartStat::NeedsAction && event.gatekeeper_partstat.as_ref() != Some(*p));
    // The daemon leaves a person's own answer alone and sends nothing, so
    // neither does the report of what it would do.
    let comment = if answered.is_some() { None } else { comment };
    let action = if answered.is_some() {
        "leave"
    } else {
        verdict.decision.as_str()
    };

    match args.format {
        Format::Json => {
            let rules: Vec<_> = verdict
                .findings
                .iter()
                .map(|f| json!({"rule": f.rule.as_str(), "action": f.action.as_str(), "message": f.problem.message(), "fix": f.problem.fix()}))
                .collect();
            let out = json!({
                "action": action,
                "verdict": verdict.decision.as_str(),
                "member": member,
                "organizer": event.organizer,
                "title": event.summary,
                "uid": event.uid,
                "rules": rules,
                "exemption": verdict.exemption.as_ref().map(|e| e.describe()),
                "judged_first_days": verdict.judged_first_days,
                "purpose": purpose,
                "already_answered": answered.map(|p| p.as_ical()),
                "comment": comment,
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Human => {
            println!(
                "{action}: {:?} from {}, screened for {member}",
                event.summary,
                event.organizer.as_deref().unwrap_or("(no organizer)")
            );
            if let Some(p) = answered {
                println!(
                    "\n{member} has already answered ({}); gatekeeper leaves a person's own answer alone and sends nothing",
                    p.as_ical()
                );
            }
            if verdict.findings.is_empty() {
                println!("\nno rule fired");
            } else {
                if answered.is_some() {
                    println!(
                        "\nunanswered, it would {}; rules that fired:",
                        verdict.decision.as_str()
                    );
                } else {
                    println!("\nrules that fired:");
                }
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
            if !purpose.is_empty() {
                println!();
                for p in &purpose {
                    println!("purpose: {p}");
                }
            }
            if let Some(note) = verdict.horizon_note() {
                println!("\nnote: {note}");
            }
            if let Some(e) = &verdict.exemption {
                println!("\nallowed: {}", e.describe());
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
