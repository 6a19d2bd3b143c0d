//! The invariant of issue 8 as a property, through the real engine on
//! local folders: screen every member's copy of an invite, apply
//! gatekeeper's writes (in the member's copy, and propagated into every
//! colleague's copy as the organizer's server would), screen again: the
//! same verdicts and not one write, whatever the policy and the invite.

use std::path::Path;

use chrono::{DateTime, Utc};
use gatekeeper::config::Config;
use gatekeeper::daemon::Engine;
use gatekeeper::store::Outcome;
use gatekeeper::store::sqlite::SqliteStore;
use gatekeeper::team::Team;
use proptest::prelude::*;

const MEMBERS: [&str; 3] = ["ana@example.com", "bo@example.com", "kai@example.com"];
const ZONES: [&str; 3] = ["Europe/Lisbon", "America/New_York", "Asia/Tokyo"];
const HOURS: [&str; 3] = ["09:00-17:00", "08:00-16:00", "10:00-18:00"];
const ACTIONS: [&str; 3] = ["decline", "annotate", "observe"];
const ANSWERS: [&str; 4] = ["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"];

#[derive(Debug, Clone)]
struct Case {
    /// Per member: (zone, hours) indices.
    members: Vec<(usize, usize)>,
    /// Per rule kind below: the action index, or none.
    rules: Vec<Option<usize>>,
    max_attendees: u32,
    budget_minutes: u32,
    never_decline_external: bool,
    exempt_one_to_one: bool,
    /// Which members are invited, and whether as optional.
    invited: Vec<Option<bool>>,
    /// Outsiders: (external?, answer index).
    others: Vec<(bool, usize)>,
    external_organizer: bool,
    start_hour: u32,
    minutes: u32,
    agenda_words: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0..3usize, 0..3usize), 3),
        prop::collection::vec(prop::option::of(0..3usize), 7),
        2..6u32,
        prop::sample::select(vec![1u32, 30, 120]),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(prop::option::of(any::<bool>()), 3),
        prop::collection::vec((any::<bool>(), 0..4usize), 0..4),
        any::<bool>(),
        0..24u32,
        prop::sample::select(vec![30u32, 60, 150]),
        0..12usize,
    )
        .prop_map(
            |(
                members,
                rules,
                max_attendees,
                budget_minutes,
                never_decline_external,
                exempt_one_to_one,
                invited,
                others,
                external_organizer,
                start_hour,
                minutes,
                agenda_words,
            )| Case {
                members,
                rules,
                max_attendees,
                budget_minutes,
                never_decline_external,
                exempt_one_to_one,
                invited,
                others,
                external_organizer,
                start_hour,
                minutes,
                agenda_words,
            },
        )
}

fn policy(c: &Case) -> String {
    let mut p = String::from("[team]\nname = \"p\"\ndomains = [\"example.com\"]\n");
    for (i, (z, h)) in c.members.iter().enumerate() {
        p.push_str(&format!(
            "\n[[member]]\nemail = \"{}\"\ntime_zone = \"{}\"\nworking_hours = \"{}\"\n",
            MEMBERS[i], ZONES[*z], HOURS[*h]
        ));
    }
    let kinds = [
        ("working_hours", String::new()),
        ("max_attendees", format!("count = {}\n", c.max_attendees)),
        ("agenda", "min_words = 6\n".to_string()),
        ("max_duration", "minutes = 60\n".to_string()),
        ("meeting_free_days", "days = [\"wednesday\"]\n".to_string()),
        (
            "outside_hours_budget",
            format!("minutes_per_week = {}\n", c.budget_minutes),
        ),
        ("burden_cap", "ratio = 1.3\n".to_string()),
    ];
    for (rule, (kind, extra)) in c.rules.iter().zip(kinds) {
        if let Some(a) = rule {
            p.push_str(&format!(
                "\n[[rule]]\nkind = \"{kind}\"\naction = \"{}\"\n{extra}",
                ACTIONS[*a]
            ));
        }
    }
    p.push_str(&format!(
        "\n[exceptions]\none_to_one = \"{}\"\nexternal_guests = \"{}\"\n",
        if c.exempt_one_to_one {
            "exempt"
        } else {
            "screen"
        },
        if c.never_decline_external {
            "never_decline"
        } else {
            "screen"
        },
    ));
    p
}

fn invite(c: &Case) -> String {
    let organizer = if c.external_organizer {
        "olga@partner.org"
    } else {
        "carol@example.com"
    };
    let start = format!("20261202T{:02}0000Z", c.start_hour);
    let end_t = DateTime::parse_from_rfc3339(&format!("2026-12-02T{:02}:00:00Z", c.start_hour))
        .unwrap()
        + chrono::Duration::minutes(i64::from(c.minutes));
    let end = end_t.format("%Y%m%dT%H%M%SZ").to_string();
    let description = vec!["word"; c.agenda_words].join(" ");
    let mut s = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//p//EN\r\nBEGIN:VEVENT\r\nUID:prop@example.com\r\nDTSTAMP:20261120T000000Z\r\nCREATED:20261120T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Prop\r\nDESCRIPTION:{description}\r\nORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}\r\n"
    );
    for (i, inv) in c.invited.iter().enumerate() {
        if let Some(optional) = inv {
            let role = if *optional {
                "ROLE=OPT-PARTICIPANT;"
            } else {
                ""
            };
            s.push_str(&format!(
                "ATTENDEE;{role}PARTSTAT=NEEDS-ACTION:mailto:{}\r\n",
                MEMBERS[i]
            ));
        }
    }
    for (i, (external, answer)) in c.others.iter().enumerate() {
        let domain = if *external {
            "guest.org"
        } else {
            "example.com"
        };
        s.push_str(&format!(
            "ATTENDEE;PARTSTAT={}:mailto:other{i}@{domain}\r\n",
            ANSWERS[*answer]
        ));
    }
    s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    s
}

/// The PARTSTAT parameter of `who`'s ATTENDEE line (unfolded text).
fn partstat_of(ics: &str, who: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "");
    let line = unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with(&format!("mailto:{who}")))?
        .to_string();
    line.split("PARTSTAT=")
        .nth(1)?
        .split([';', ':'])
        .next()
        .map(str::to_string)
}

fn set_partstat(ics: &str, who: &str, to: &str) -> String {
    match partstat_of(ics, who) {
        Some(from) => ics.replace(
            &format!("PARTSTAT={from}:mailto:{who}"),
            &format!("PARTSTAT={to}:mailto:{who}"),
        ),
        None => ics.to_string(),
    }
}

fn copy_of(root: &Path, member: &str) -> std::path::PathBuf {
    root.join(member.split('@').next().unwrap_or(member))
        .join("work/prop.ics")
}

/// Run the case: two passes around the organizer's server propagating
/// every member's answer. Returns the problem, if any.
fn check(c: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::write(root.join("policies/p.toml"), policy(c)).unwrap();
    let mut config = String::from("policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n");
    let invited: Vec<&str> = c
        .invited
        .iter()
        .enumerate()
        .filter(|(_, i)| i.is_some())
        .map(|(n, _)| MEMBERS[n])
        .collect();
    let text = invite(c);
    for m in MEMBERS {
        let name = m.split('@').next().unwrap();
        std::fs::create_dir_all(root.join(name).join("work")).unwrap();
        config.push_str(&format!(
            "\n[[source]]\nkind = \"vdir\"\nname = \"{name}\"\nmember = \"{m}\"\npath = \"{name}\"\n"
        ));
        if invited.contains(&m) {
            std::fs::write(copy_of(root, m), &text).unwrap();
        }
    }
    std::fs::write(root.join("gatekeeper.toml"), config).unwrap();
    let config = Config::load(&root.join("gatekeeper.toml")).map_err(|e| e.to_string())?;
    let team = Team::load(&config.policies).map_err(|e| e.render(false))?;
    let store = SqliteStore::in_memory().map_err(|e| e.to_string())?;
    let mut engine = Engine::new(config, store, team);
    let now: DateTime<Utc> = "2026-11-30T08:00:00Z".parse().unwrap();

    let first = engine.run_once(now).map_err(|e| e.to_string())?;
    let verdicts: Vec<(String, gatekeeper::store::LoggedAction)> = first
        .decisions
        .iter()
        .map(|d| (d.member.clone(), d.action.clone()))
        .collect();

    // The organizer's server: each member's answer, as their own copy now
    // says, reaches every colleague's copy.
    let answers: Vec<(&str, String)> = invited
        .iter()
        .map(|m| {
            let own = std::fs::read_to_string(copy_of(root, m)).unwrap();
            (*m, partstat_of(&own, m).unwrap_or_default())
        })
        .collect();
    for m in &invited {
        let path = copy_of(root, m);
        let mut copy = std::fs::read_to_string(&path).unwrap();
        for (who, answer) in &answers {
            if who != m {
                copy = set_partstat(&copy, who, answer);
            }
        }
        std::fs::write(&path, copy).unwrap();
    }
    let before: Vec<String> = invited
        .iter()
        .map(|m| std::fs::read_to_string(copy_of(root, m)).unwrap())
        .collect();

    // Screen again with the store the first pass left, and once more from
    // a fresh store (a lost database): that one re-reads and re-decides
    // every copy, so the verdicts are really computed again.
    let second = engine.run_once(now).map_err(|e| e.to_string())?;
    let config = engine.config.clone();
    let team = Team::load(&config.policies).map_err(|e| e.render(false))?;
    let mut fresh = Engine::new(
        config,
        SqliteStore::in_memory().map_err(|e| e.to_string())?,
        team,
    );
    let third = fresh.run_once(now).map_err(|e| e.to_string())?;
    // (A standing answer the fresh store recognises is not logged again:
    // a changed verdict shows as a write, which is what is checked.)
    for d in second.decisions.iter().chain(&third.decisions) {
        if d.outcome == Outcome::Applied || d.outcome == Outcome::Failed {
            return Err(format!(
                "second pass wrote for {}: {} {:?} ({:?})\nfirst: {verdicts:?}",
                d.member, d.action, d.response, d.findings
            ));
        }
        if let Some((_, action)) = verdicts.iter().find(|(m, _)| *m == d.member)
            && *action != d.action
        {
            return Err(format!(
                "verdict for {} changed: {action} → {}",
                d.member, d.action
            ));
        }
    }
    let after: Vec<String> = invited
        .iter()
        .map(|m| std::fs::read_to_string(copy_of(root, m)).unwrap())
        .collect();
    if before != after {
        return Err("a copy changed on the second pass".into());
    }
    Ok(())
}

proptest! {
    // Each case runs the whole engine twice on real files: a few dozen
    // cases keep CI fast and still cover every rule and exception.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn gatekeepers_own_answers_never_change_a_verdict(c in case()) {
        if let Err(e) = check(&c) {
            prop_assert!(false, "{}\npolicy:\n{}\ninvite:\n{}", e, policy(&c), invite(&c));
        }
    }
}
