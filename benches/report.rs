//! Benchmark of the weekly report (issue 5 target: 1,000 people, about
//! 30,000 meeting occurrences in the week, recurrences included, from
//! local calendars, in under a second). A plain program like `core.rs`.
//!
//! It writes a team of 1,000 members in six zones with vdir calendars to a
//! temporary folder (or to `$REPORT_BENCH_DIR`, kept, so the binary can be
//! measured on it with `/usr/bin/time -v`), then times reading and parsing
//! every file plus computing the report with its four-week trend, and
//! rendering it as HTML.
//!
//! Run with `cargo bench --bench report`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use gatekeeper::config::Config;
use gatekeeper::report::{Format, IsoWeek, collect, weekly_report};
use gatekeeper::team::Team;

const MEMBERS: usize = 1000;
const ZONES: [(&str, &str); 6] = [
    ("Europe/Lisbon", "09:00-17:30"),
    ("America/New_York", "09:00-17:00"),
    ("Asia/Singapore", "10:00-18:00"),
    ("America/Los_Angeles", "08:00-16:00"),
    ("Europe/Berlin", "09:00-17:00"),
    ("Asia/Kolkata", "10:00-18:30"),
];

fn email(i: usize) -> String {
    format!("m{i:04}@example.com")
}

/// A small deterministic generator (xorshift), so every run sees the same
/// calendars.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn vevent(uid: &str, start: &str, minutes: u32, rrule: Option<&str>, people: &[usize]) -> String {
    let mut s =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n");
    let _ = write!(
        s,
        "UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT{minutes}M\r\nSUMMARY:Meeting {uid}\r\nDESCRIPTION:Decide the plan for the next quarter together\r\n"
    );
    if let Some(r) = rrule {
        let _ = write!(s, "RRULE:{r}\r\n");
    }
    let _ = write!(s, "ORGANIZER:mailto:{}\r\n", email(people[0]));
    for p in people {
        let _ = write!(s, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:{}\r\n", email(*p));
    }
    s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    s
}

fn write_meeting(root: &Path, uid: &str, text: &str, people: &[usize]) -> usize {
    for p in people {
        let dir = root.join(format!("calendars/m{p:04}/work"));
        std::fs::write(dir.join(format!("{uid}.ics")), text).unwrap();
    }
    people.len()
}

/// Writes the team; returns the number of person-occurrences in the week.
fn generate(root: &Path) -> usize {
    let mut policy = String::from("[team]\nname = \"bench\"\ndomains = [\"example.com\"]\n\n");
    let mut config = String::from(
        "policies = [\"policies\"]\nmode = \"observe\"\n\n[store]\nsqlite = \"state/gatekeeper.db\"\n\n",
    );
    for i in 0..MEMBERS {
        let (tz, hours) = ZONES[i % ZONES.len()];
        let _ = write!(
            policy,
            "[[member]]\nemail = \"{}\"\ntime_zone = \"{tz}\"\nworking_hours = \"{hours}\"\n\n",
            email(i)
        );
        let _ = write!(
            config,
            "[[source]]\nkind = \"vdir\"\nname = \"m{i:04}\"\nmember = \"{}\"\npath = \"calendars/m{i:04}\"\n\n",
            email(i)
        );
        std::fs::create_dir_all(root.join(format!("calendars/m{i:04}/work"))).unwrap();
    }
    policy.push_str(
        "[[rule]]\nkind = \"meeting_free_days\"\naction = \"decline\"\ndays = [\"wednesday\"]\n",
    );
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join("state")).unwrap();
    std::fs::write(root.join("policies/bench.toml"), policy).unwrap();
    std::fs::write(root.join("gatekeeper.toml"), config).unwrap();

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut occurrences = 0;
    // Daily stand-ups of five, running since January 2024: 5 a week each.
    for g in 0..MEMBERS / 5 {
        let people: Vec<usize> = (0..5).map(|k| g * 5 + k).collect();
        let text = vevent(
            &format!("standup-{g}"),
            &format!("20240101T{:02}0000Z", 8 + g % 8),
            15,
            Some("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"),
            &people,
        );
        occurrences += 5 * write_meeting(root, &format!("standup-{g}"), &text, &people);
    }
    // Weekly series of five across groups: four per person.
    for s in 0..(MEMBERS * 4 / 5) {
        let people: Vec<usize> = (0..5).map(|k| (s * 5 + k * 211) % MEMBERS).collect();
        let day = 30 + s % 5; // Mon 30 Nov .. Fri 4 Dec 2026
        let start = if day <= 30 {
            format!("202611{day:02}T{:02}0000Z", 7 + rng.below(10))
        } else {
            format!("202612{:02}T{:02}0000Z", day - 30, 7 + rng.below(10))
        };
        let text = vevent(
            &format!("weekly-{s}"),
            &start,
            45,
            Some("FREQ=WEEKLY;COUNT=20"),
            &people,
        );
        occurrences += write_meeting(root, &format!("weekly-{s}"), &text, &people);
    }
    // Single meetings of three in the week: the rest, to about 30,000.
    let mut n = 0;
    while occurrences < 30_000 {
        let a = rng.below(MEMBERS);
        let people = [
            a,
            (a + 1 + rng.below(MEMBERS - 1)) % MEMBERS,
            (a + 500) % MEMBERS,
        ];
        if people[1] == people[2] {
            continue;
        }
        let day = rng.below(5);
        let start = if day == 0 {
            format!(
                "20261130T{:02}{:02}00Z",
                6 + rng.below(14),
                30 * rng.below(2)
            )
        } else {
            format!(
                "202612{:02}T{:02}{:02}00Z",
                day,
                6 + rng.below(14),
                30 * rng.below(2)
            )
        };
        let minutes = [30, 45, 60][rng.below(3)];
        let text = vevent(&format!("single-{n}"), &start, minutes, None, &people);
        occurrences += write_meeting(root, &format!("single-{n}"), &text, &people);
        n += 1;
    }
    occurrences
}

fn main() {
    let kept = std::env::var_os("REPORT_BENCH_DIR");
    let tmp = tempfile::tempdir().unwrap();
    let root = kept
        .as_ref()
        .map_or(tmp.path().to_path_buf(), std::path::PathBuf::from);
    let t = Instant::now();
    let occurrences = generate(&root);
    let files: usize = walk(&root.join("calendars"));
    eprintln!(
        "generated {MEMBERS} members, {files} files, {occurrences} person-occurrences in 2026-W49 in {:.1?} at {}",
        t.elapsed(),
        root.display()
    );
    let config = Config::load(&root.join("gatekeeper.toml")).unwrap();
    let team = Team::load(&config.policies).unwrap();
    let policy = team.policy_for(&email(0)).unwrap().clone();
    let week = IsoWeek::parse("2026-W49").unwrap();

    let mut rounds: Vec<(Duration, Duration, Duration)> = Vec::new();
    let mut meetings = 0;
    for _ in 0..4 {
        let t0 = Instant::now();
        let collected = collect::collect(&config, &policy, None, week, false).unwrap();
        let t1 = Instant::now();
        let report = weekly_report(&collected.input(&policy, collect::settings(&config)), week);
        let t2 = Instant::now();
        let html = Format::Html.render(&report);
        let t3 = Instant::now();
        std::hint::black_box(html);
        meetings = report.totals.meetings;
        rounds.push((t1 - t0, t2 - t1, t3 - t2));
    }
    // The first round warms the page cache; the median of the other three.
    let mut rest = rounds[1..].to_vec();
    rest.sort_by_key(|r| r.0 + r.1 + r.2);
    let (read, stats, html) = rest[1];
    println!("report for {MEMBERS} people, {meetings} meeting occurrences counted in the week");
    println!("| step | median of 3 (after a warm-up) |");
    println!("|---|---|");
    println!(
        "| read + parse {files} files (rayon, {} threads) | {read:.1?} |",
        rayon::current_num_threads()
    );
    println!("| statistics: the week + 4 trend weeks | {stats:.1?} |");
    println!("| render HTML with 4 SVG charts | {html:.1?} |");
    println!("| total | {:.1?} |", read + stats + html);
}

fn walk(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += walk(&p);
        } else {
            n += 1;
        }
    }
    n
}
