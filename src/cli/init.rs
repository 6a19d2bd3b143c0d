//! `gatekeeper init`: write a commented config and a starter policy for a
//! named team and a source kind, ready for `gatekeeper config check`. Must
//! not overwrite a file that is already there unless told to.

use std::path::{Path, PathBuf};

use super::Exit;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// Local calendar folders (vdirsyncer, khal): one folder per member.
    Vdir,
    /// Google Workspace with a service account and domain-wide delegation.
    Google,
}

#[derive(clap::Args)]
pub struct Args {
    /// A team member's email; repeat for each member.
    #[arg(long = "member", required = true, value_name = "EMAIL")]
    members: Vec<String>,
    /// Where the members' calendars come from.
    #[arg(long, value_enum, default_value = "vdir")]
    source: SourceKind,
    /// The team's name, as reports and decline comments show it.
    #[arg(long, default_value = "team")]
    team: String,
    /// The members' time zone (edit each member's in the policy later).
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// The folder to write into; created when missing.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Replace files that are already there.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Exit {
    if args.time_zone.parse::<chrono_tz::Tz>().is_err() {
        super::err(format!("unknown time zone `{}`", args.time_zone));
        eprintln!(
            "  = help: {}",
            crate::policy::diagnostic::time_zone_help(&args.time_zone)
        );
        return Exit::Usage;
    }
    let mut members = Vec::new();
    for m in &args.members {
        let m = m.trim().to_lowercase();
        if m.split_once('@')
            .is_none_or(|(a, d)| a.is_empty() || !d.contains('.'))
        {
            super::err(format!("`{m}` is not an email address"));
            return Exit::Usage;
        }
        if !members.contains(&m) {
            members.push(m);
        }
    }
    let files = plan(&args, &members);
    if !args.force
        && let Some(f) = files.iter().find(|(p, _)| args.dir.join(p).exists())
    {
        super::err(format!(
            "`{}` is already there; pass `--force` to replace it",
            args.dir.join(&f.0).display()
        ));
        return Exit::Failure;
    }
    let mut folders = vec![PathBuf::from("state"), PathBuf::from("policies")];
    if args.source == SourceKind::Vdir {
        folders.extend(members.iter().map(|m| calendar_folder(m)));
    }
    for f in &folders {
        if let Err(e) = std::fs::create_dir_all(args.dir.join(f)) {
            super::err(format!(
                "cannot create `{}`: {e}",
                args.dir.join(f).display()
            ));
            return Exit::Failure;
        }
    }
    for (path, text) in &files {
        let path = args.dir.join(path);
        if let Err(e) = std::fs::write(&path, text) {
            super::err(format!("cannot write `{}`: {e}", path.display()));
            return Exit::Failure;
        }
        println!("wrote {}", path.display());
    }
    let config = args.dir.join("gatekeeper.toml");
    println!(
        "\nnext: edit the policy, then run `gatekeeper config check --config {}`",
        config.display()
    );
    if args.source == SourceKind::Google {
        println!(
            "then put the service account key at `{}` (mode 0600); the README's Google guide says how to make one",
            args.dir.join("secrets/service-account.json").display()
        );
    }
    Exit::Ok
}

/// Each vdir member's calendar folder, named after their address.
fn calendar_folder(member: &str) -> PathBuf {
    Path::new("calendars").join(member.replace(['/', '\\'], "_"))
}

/// The files `init` writes, relative to `--dir`. Pure, so tests can read it.
fn plan(args: &Args, members: &[String]) -> Vec<(PathBuf, String)> {
    vec![
        (PathBuf::from("gatekeeper.toml"), config_text(args, members)),
        (
            PathBuf::from("policies/team.toml"),
            policy_text(&args.team, &args.time_zone, members),
        ),
    ]
}

fn config_text(args: &Args, members: &[String]) -> String {
    let mut s = String::from(
        "# gatekeeper's config, written by `gatekeeper init`. Paths are relative to\n\
         # this file. Check it with `gatekeeper config check --config gatekeeper.toml`;\n\
         # every key is listed in the README's configuration reference.\n\n\
         # Policy files or folders of them.\n\
         policies = [\"policies\"]\n\n\
         # Start in `observe`: gatekeeper logs what it would do and answers nothing.\n\
         # Read `gatekeeper log` for a week, then switch to `enforce`.\n\
         mode = \"observe\"\n\n\
         # Seconds between rescans when running without --once.\n\
         poll_seconds = 30\n\n\
         [store]\n\
         # The state database (decision log, screenings); created on first run.\n\
         sqlite = \"state/gatekeeper.db\"\n",
    );
    match args.source {
        SourceKind::Vdir => {
            s.push_str(
                "\n# One source per member: a folder of calendar folders, one .ics file\n\
                 # per event, as vdirsyncer and khal keep them.\n",
            );
            for m in members {
                let local = m.split('@').next().unwrap_or(m);
                s.push_str(&format!(
                    "[[source]]\nkind = \"vdir\"\nname = \"{local}-local\"\nmember = \"{m}\"\npath = \"{}\"\n\n",
                    calendar_folder(m).display()
                ));
            }
        }
        SourceKind::Google => {
            let list = members
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ");
            s.push_str(&format!(
                "\n# Google Workspace: a service account with domain-wide delegation reads\n\
                 # and answers each member's primary calendar. Keep the key mode 0600.\n\
                 [[source]]\n\
                 kind = \"google\"\n\
                 name = \"google\"\n\
                 service_account_key = \"secrets/service-account.json\"\n\
                 # Members to impersonate; every policy member when left out.\n\
                 members = [{list}]\n\
                 # Who Google emails about gatekeeper's answers: `all`, `externalOnly`, `none`.\n\
                 send_updates = \"all\"\n\n\
                 # Push notifications need an HTTPS address that reaches `listen`, e.g. a\n\
                 # reverse proxy. Without this table gatekeeper polls every `poll_seconds`.\n\
                 # [webhook]\n\
                 # listen = \"127.0.0.1:8443\"\n\
                 # public_url = \"https://gatekeeper.example.com/google/notify\"\n"
            ));
        }
    }
    s
}

fn policy_text(team: &str, tz: &str, members: &[String]) -> String {
    let domains: Vec<String> = {
        let mut d: Vec<String> = members
            .iter()
            .filter_map(|m| m.split_once('@').map(|(_, d)| format!("\"{d}\"")))
            .collect();
        d.sort();
        d.dedup();
        d
    };
    let mut s = format!(
        "# The team's meeting policy, written by `gatekeeper init`. Check it with\n\
         # `gatekeeper policy lint`; policies/example.toml in gatekeeper's repository\n\
         # explains every key.\n\n\
         [team]\n\
         name = \"{team}\"\n\
         # Addresses in these domains are colleagues; others are external guests.\n\
         domains = [{}]\n\n\
         # One table per person: their zone and working hours.\n",
        domains.join(", ")
    );
    for m in members {
        s.push_str(&format!(
            "[[member]]\nemail = \"{m}\"\ntime_zone = \"{tz}\"\nworking_hours = \"09:00-17:00\"\n\n"
        ));
    }
    s.push_str(
        "# Rules: `decline` answers no with a comment that says how to fix the\n\
         # invite, `annotate` only explains, `observe` only logs.\n\
         [[rule]]\n\
         kind = \"agenda\"\n\
         action = \"decline\"\n\
         min_words = 6\n\n\
         [[rule]]\n\
         kind = \"working_hours\"\n\
         action = \"annotate\"\n",
    );
    s
}
