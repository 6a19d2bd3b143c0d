//! The synthetic organisation of issue 12, and what gatekeeper costs on it.
//!
//! One command writes an organisation of N people in 10 time zones as local
//! calendar folders (one `.ics` file per event per attendee, as vdirsyncer
//! keeps them): teams of eight in one zone with a weekly team meeting, a
//! daily stand-up and weekly one-to-ones with their manager (series started
//! when the history starts), two-hour focus blocks three times a week, and
//! single meetings of two to five people, a third of them across zones, for
//! K weeks of history up to the reported week 2026-W49 and two weeks after
//! it (those invites still wait for an answer). The same seed gives the
//! same files, byte for byte.
//!
//! Then it runs the release `gatekeeper` binary on it as a child process
//! and prints, for each step, wall time, CPU time, peak memory (the child's
//! `getrusage` maxrss) and bytes written (the change of this process's
//! `/proc/self/io` across the child, which the kernel adds to its parent
//! when it is reaped: `write_bytes` is what reached the block layer,
//! `wchar` what was passed to `write`), and the store's size:
//!
//! - `gatekeeper report` for 2026-W49 (Markdown; the first run warms the
//!   page cache and is not counted, the median of three is printed);
//! - a first pass, `gatekeeper run --once` on an empty store (enforce mode:
//!   answers are written into the calendars), then a second pass (which
//!   reads back the files gatekeeper wrote) and an idle pass (nothing
//!   changed).
//!
//! ```sh
//! cargo bench --bench org                        # 1,000 people, 6 weeks
//! cargo bench --bench org -- --people 5000
//! cargo bench --bench org -- --weeks 26 --only report
//! cargo bench --bench org -- --generate-only --dir /tmp/org   # files only
//! cargo bench --bench org -- --only report --python   # and the Python script
//! GK_BIN=/path/to/other/gatekeeper cargo bench --bench org   # another build
//! ```
//!
//! The organisation is written under `target/tmp/org-<people>-<weeks>` and
//! kept (writing 125,000 files takes a while); a folder that has its
//! `generated` stamp is reused. `--fresh` writes it again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Datelike, Duration as Days, NaiveDate, NaiveDateTime};

/// Ten zones with each one's working hours (local time).
const ZONES: [(&str, &str, u32); 10] = [
    ("America/Los_Angeles", "09:00-17:00", 9),
    ("America/Chicago", "09:00-17:00", 9),
    ("America/New_York", "09:00-17:00", 9),
    ("America/Sao_Paulo", "09:00-18:00", 9),
    ("Europe/Lisbon", "09:00-17:30", 9),
    ("Europe/Berlin", "09:00-17:00", 9),
    ("Asia/Kolkata", "10:00-18:30", 10),
    ("Asia/Singapore", "10:00-18:00", 10),
    ("Asia/Tokyo", "09:00-18:00", 9),
    ("Australia/Sydney", "08:30-17:00", 9),
];

/// The reported week, 2026-W49, starts on this Monday; the passes run on
/// the Monday after it, 07:00 UTC.
const REPORT_WEEK: &str = "2026-W49";
const NOW: &str = "2026-12-07T07:00:00Z";
const TEAM_SIZE: usize = 8;
/// Single meetings each person organises per week.
const SINGLES_PER_PERSON_WEEK: usize = 3;
/// Weeks after the reported one that hold meetings (pending invites).
const WEEKS_AHEAD: i64 = 2;

fn report_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid")
}

fn email(i: usize) -> String {
    format!("p{i:05}@example.com")
}

/// xorshift64: a deterministic generator, so every run sees the same files.
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

struct Org {
    people: usize,
    weeks: i64,
    root: PathBuf,
}

impl Org {
    fn zone_of(&self, p: usize) -> usize {
        // Whole teams share a zone: zones are contiguous blocks of teams.
        let team = p / TEAM_SIZE;
        let teams = self.people.div_ceil(TEAM_SIZE);
        (team * ZONES.len() / teams).min(ZONES.len() - 1)
    }

    fn first_monday(&self) -> NaiveDate {
        report_monday() - Days::weeks(self.weeks - 1)
    }

    fn dir(&self, p: usize) -> PathBuf {
        self.root.join(format!("calendars/{}/work", email(p)))
    }
}

/// One event in its organiser's zone; `pending` leaves every attendee but
/// the organiser at NEEDS-ACTION.
struct Meeting<'a> {
    uid: String,
    zone: &'a str,
    start: NaiveDateTime,
    minutes: i64,
    rrule: Option<&'a str>,
    title: &'a str,
    description: Option<&'a str>,
    people: &'a [usize],
    pending: bool,
}

impl Meeting<'_> {
    fn ics(&self) -> String {
        let mut s = String::with_capacity(1024);
        s.push_str("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gatekeeper//org bench//EN\r\nBEGIN:VEVENT\r\n");
        let end = self.start + Days::minutes(self.minutes);
        let _ = write!(
            s,
            "UID:{}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;TZID={z}:{}\r\nDTEND;TZID={z}:{}\r\nSUMMARY:{}\r\n",
            self.uid,
            self.start.format("%Y%m%dT%H%M%S"),
            end.format("%Y%m%dT%H%M%S"),
            self.title,
            z = self.zone,
        );
        if let Some(d) = self.description {
            let _ = write!(s, "DESCRIPTION:{d}\r\n");
        }
        if let Some(r) = self.rrule {
            let _ = write!(s, "RRULE:{r}\r\n");
        }
        let _ = write!(s, "ORGANIZER:mailto:{}\r\n", email(self.people[0]));
        for (k, p) in self.people.iter().enumerate() {
            if self.people.len() == 1 {
                break;
            }
            let partstat = if self.pending && k > 0 {
                "NEEDS-ACTION"
            } else {
                "ACCEPTED"
            };
            let _ = write!(
                s,
                "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}:mailto:{}\r\n",
                email(*p)
            );
        }
        s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
        s
    }

    /// One copy per attendee; returns the number of files.
    fn write(&self, org: &Org) -> usize {
        let text = self.ics();
        for p in self.people {
            std::fs::write(org.dir(*p).join(format!("{}.ics", self.uid)), &text)
                .expect("write an event");
        }
        self.people.len()
    }
}

const AGENDA: &str = "Decide the plan for the next quarter and who owns each part of it";

/// Writes the organisation; returns the number of files.
fn generate(org: &Org) -> usize {
    let mut policy = String::from(
        "[team]\nname = \"org\"\ndomains = [\"example.com\"]\n\n\
         [[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n\n\
         [[rule]]\nkind = \"meeting_free_days\"\naction = \"decline\"\ndays = [\"wednesday\"]\n\n\
         [[rule]]\nkind = \"max_duration\"\naction = \"annotate\"\nminutes = 50\n\n\
         [[rule]]\nkind = \"working_hours\"\naction = \"annotate\"\n\n",
    );
    let mut config = String::from(
        "policies = [\"policies\"]\nmode = \"enforce\"\nseries_occurrences = 10\nhorizon_days = 180\n\n[store]\nsqlite = \"state/gatekeeper.db\"\n\n",
    );
    for p in 0..org.people {
        let (tz, hours, _) = ZONES[org.zone_of(p)];
        let _ = write!(
            policy,
            "[[member]]\nemail = \"{}\"\ntime_zone = \"{tz}\"\nworking_hours = \"{hours}\"\n\n",
            email(p)
        );
        let _ = write!(
            config,
            "[[source]]\nkind = \"vdir\"\nname = \"{e}\"\nmember = \"{e}\"\npath = \"calendars/{e}\"\n\n",
            e = email(p)
        );
        std::fs::create_dir_all(org.dir(p)).expect("calendar folder");
    }
    std::fs::create_dir_all(org.root.join("policies")).expect("policies folder");
    std::fs::create_dir_all(org.root.join("state")).expect("state folder");
    std::fs::write(org.root.join("policies/org.toml"), policy).expect("policy");
    std::fs::write(org.root.join("gatekeeper.toml"), config).expect("config");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut files = 0;
    let first = org.first_monday();
    let at = |day: NaiveDate, hour: u32, minute: u32| {
        day.and_hms_opt(hour, minute, 0).expect("valid time")
    };
    // Series, started when the history starts.
    for team in 0..org.people.div_ceil(TEAM_SIZE) {
        let members: Vec<usize> =
            (team * TEAM_SIZE..((team + 1) * TEAM_SIZE).min(org.people)).collect();
        let (zone, _, open) = ZONES[org.zone_of(members[0])];
        files += Meeting {
            uid: format!("team-{team}"),
            zone,
            start: at(first + Days::days(1), open + 1, 0),
            minutes: 45,
            rrule: Some("FREQ=WEEKLY"),
            title: "Team meeting",
            description: Some(AGENDA),
            people: &members,
            pending: false,
        }
        .write(org);
        files += Meeting {
            uid: format!("standup-{team}"),
            zone,
            start: at(first, open, 15),
            minutes: 15,
            rrule: Some("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"),
            title: "Stand-up",
            description: Some("Each of us says what we did, what we will do and what blocks us"),
            people: &members,
            pending: false,
        }
        .write(org);
        for (k, &report) in members.iter().enumerate().skip(1) {
            files += Meeting {
                uid: format!("one-to-one-{report}"),
                zone,
                start: at(first + Days::days(3), open + 2 + (k as u32 % 5), 0),
                minutes: 30,
                rrule: Some("FREQ=WEEKLY"),
                title: "One-to-one",
                description: None,
                people: &[members[0], report],
                pending: false,
            }
            .write(org);
        }
    }
    for p in 0..org.people {
        let (zone, _, open) = ZONES[org.zone_of(p)];
        files += Meeting {
            uid: format!("focus-{p}"),
            zone,
            start: at(first, open + 4, 0),
            minutes: 120,
            rrule: Some("FREQ=WEEKLY;BYDAY=MO,WE,FR"),
            title: "Focus",
            description: None,
            people: &[p],
            pending: false,
        }
        .write(org);
    }
    // Single meetings, week by week.
    let now_day = report_monday() + Days::weeks(1);
    let mut n = 0;
    for week in 0..org.weeks + WEEKS_AHEAD {
        let monday = first + Days::weeks(week);
        for p in 0..org.people {
            for _ in 0..SINGLES_PER_PERSON_WEEK {
                let size = 2 + rng.below(4);
                let mut people = vec![p];
                while people.len() < size {
                    let q = if rng.below(3) == 0 {
                        rng.below(org.people)
                    } else {
                        // Someone in a nearby team, mostly the same zone.
                        (p + org.people - 16 + rng.below(33)) % org.people
                    };
                    if !people.contains(&q) {
                        people.push(q);
                    }
                }
                let (zone, _, open) = ZONES[org.zone_of(p)];
                let day = monday + Days::days(rng.below(5) as i64);
                let start = at(day, open + rng.below(8) as u32, 30 * rng.below(2) as u32);
                files += Meeting {
                    uid: format!("m{n}"),
                    zone,
                    start,
                    minutes: [30, 45, 60, 90][rng.below(4)],
                    rrule: None,
                    title: "Project sync",
                    description: (rng.below(5) != 0).then_some(AGENDA),
                    people: &people,
                    pending: day >= now_day,
                }
                .write(org);
                n += 1;
            }
        }
    }
    debug_assert_eq!(first.weekday(), chrono::Weekday::Mon);
    files
}

/// What one child process cost.
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    write_bytes: u64,
    wchar: u64,
    status: i32,
}

/// This process's I/O counters, which include its reaped children's.
fn io_counters() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("write_bytes:"), field("wchar:"))
}

fn run(cmd: &mut Command) -> Cost {
    let (wb0, wc0) = io_counters();
    let t = Instant::now();
    let child = cmd.spawn().expect("spawn gatekeeper");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose pid std gave us; the pointers
    // are to live locals. Dropping a `Child` neither waits nor kills, so
    // std never touches the reaped pid again.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    drop(child);
    assert_eq!(
        got,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let (wb1, wc1) = io_counters();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Cost {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        write_bytes: wb1 - wb0,
        wchar: wc1 - wc0,
        status,
    }
}

fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}

fn store_size(root: &Path) -> u64 {
    ["gatekeeper.db", "gatekeeper.db-wal", "gatekeeper.db-shm"]
        .iter()
        .map(|f| size_of(&root.join("state").join(f)))
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn row(step: &str, c: &Cost, files: usize, extra: &str) {
    println!(
        "| {step} | {:.2} s | {:.2} s | {:.1} MiB | {:.1} MiB ({:.0} B/file) | {:.1} MiB | {extra} |",
        c.wall.as_secs_f64(),
        c.cpu.as_secs_f64(),
        c.max_rss_kib as f64 / 1024.0,
        mib(c.write_bytes),
        c.write_bytes as f64 / files.max(1) as f64,
        mib(c.wchar),
    );
    if c.status != 0 {
        println!("|   (exit status {:#x}) | | | | | | |", c.status);
    }
}

fn main() {
    let mut people = 1000;
    let mut weeks = 6;
    let mut dir: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut fresh = false;
    let mut generate_only = false;
    let mut python = false;
    let mut now = NOW.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--people" => {
                people = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--people N")
            }
            "--weeks" => weeks = args.next().and_then(|v| v.parse().ok()).expect("--weeks K"),
            "--dir" => dir = args.next().map(PathBuf::from),
            "--only" => only = args.next(),
            "--fresh" => fresh = true,
            "--generate-only" => generate_only = true,
            "--python" => python = true,
            // A later clock: every meeting is over, nothing is decided, and
            // a first pass costs what unchanged files cost.
            "--now" => now = args.next().expect("--now INSTANT"),
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    assert!(
        people >= TEAM_SIZE * ZONES.len() && weeks >= 1,
        "at least 80 people, 1 week"
    );
    let root = dir.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("org-{people}-{weeks}"))
    });
    let org = Org {
        people,
        weeks,
        root: root.clone(),
    };
    let stamp = root.join("generated");
    // A pass writes answers into the calendars: a first pass needs them
    // as generated.
    let answered = root.join("answered");
    let runs = only.as_deref().is_none_or(|o| o == "run");
    if fresh || !stamp.exists() || (runs && answered.exists()) {
        let _ = std::fs::remove_dir_all(&root);
        let t = Instant::now();
        let files = generate(&org);
        std::fs::write(&stamp, files.to_string()).expect("stamp");
        eprintln!(
            "generated {people} people, {weeks} weeks of history (+{WEEKS_AHEAD} ahead), {files} files, {:.0} MiB of calendars, in {:.1?} at {}",
            mib(size_of(&root.join("calendars"))),
            t.elapsed(),
            root.display()
        );
    }
    if generate_only {
        return;
    }
    let files: usize = std::fs::read_to_string(&stamp)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    // `GK_BIN` measures another build (e.g. main's, for a before/after).
    let exe =
        std::env::var("GK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_gatekeeper").to_string());
    let exe = exe.as_str();
    let config = root.join("gatekeeper.toml");
    println!(
        "\nsynthetic organisation: {people} people in 10 zones, {weeks} weeks of history + {WEEKS_AHEAD} ahead, {files} files ({:.0} MiB)",
        mib(size_of(&root.join("calendars")))
    );
    println!(
        "| step | wall | CPU (user+sys) | peak RSS | written to disk (write_bytes) | passed to write() (wchar) | notes |"
    );
    println!("|---|---|---|---|---|---|---|");
    let want = |step: &str| only.as_deref().is_none_or(|o| o == step);
    if want("report") {
        let report = || {
            let mut c = Command::new(exe);
            c.args([
                "report",
                "--week",
                REPORT_WEEK,
                "--format",
                "md",
                "--now",
                NOW,
            ])
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::null());
            run(&mut c)
        };
        let _warm = report();
        let mut costs: Vec<Cost> = (0..3).map(|_| report()).collect();
        costs.sort_by_key(|c| c.wall);
        row(
            &format!("`report --week {REPORT_WEEK}` (median of 3, warm cache)"),
            &costs[1],
            files,
            &format!(
                "walls {:.2?} / {:.2?} / {:.2?}",
                costs[0].wall, costs[1].wall, costs[2].wall
            ),
        );
    }
    if python {
        // The script a user would write instead (see report_python.py).
        let mut c = Command::new("python3");
        c.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/report_python.py"
        ))
        .arg(&root)
        .arg("2026-11-30");
        let cost = run(&mut c);
        row(
            "Python: `icalendar` + `recurring_ical_events`, the same week",
            &cost,
            files,
            "",
        );
    }
    if want("run") {
        // A first pass starts from an empty store and untouched calendars.
        let _ = std::fs::remove_dir_all(root.join("state"));
        std::fs::create_dir_all(root.join("state")).expect("state folder");
        let pass = || {
            let mut c = Command::new(exe);
            c.args(["run", "--once", "--now", &now])
                .arg("--config")
                .arg(&config)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            run(&mut c)
        };
        for step in [
            "first pass",
            "second pass (reads its own answers)",
            "idle pass",
        ] {
            let c = pass();
            row(
                &format!("`run --once --now {now}`: {step}"),
                &c,
                files,
                &format!("store {:.1} MiB after", mib(store_size(&root))),
            );
        }
        // The calendars now hold gatekeeper's answers: the next run of this
        // folder would not be a first pass.
        let _ = std::fs::write(&answered, "");
    }
}
