//! What the CalDAV source costs against a real Radicale on 127.0.0.1, the
//! way an operator runs it: the release `gatekeeper` binary, `run --once`,
//! on a config with one CalDAV source reaching every member's calendars
//! through a delegated account.
//!
//! The team: 20 members, 10 calendars each (200 calendars), 50 events per
//! calendar (10,000 items): 45 the member organises or already answered,
//! 5 invites still to screen (2 that pass, 2 without an agenda, declined,
//! 1 too long, annotated). Radicale's storage is filled directly on disk
//! (10,000 PUTs would take minutes of Radicale's time and are not what is
//! measured), then every calendar is listed once so Radicale has parsed
//! and cached its items, as a server in use would have.
//!
//! gatekeeper talks to Radicale through a counting TCP proxy in this
//! process: the requests (HTTP request lines sent) and the bytes each way
//! are counted on the wire, independently of gatekeeper's own counters.
//! Wall time and peak RSS are the `gatekeeper` process's (`wait4`).
//!
//! Figures: the first full sync (discovery, one sync report per calendar,
//! every invite read, decided and answered), an idle second pass, one new
//! invite among the 200 calendars, requests per decided invite.
//!
//! Run with `cargo bench --bench caldav` (`-- --quick` for 2 members, 20
//! calendars). Needs `radicale` on PATH (`pip install radicale`).

#[path = "../tests/common/radicale.rs"]
mod radicale;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use radicale::{DELEGATE, Radicale};

const CALENDARS_PER_MEMBER: usize = 10;
const EVENTS_PER_CALENDAR: usize = 50;
/// Of the 50: invites still waiting for the member's answer.
const INVITES_PER_CALENDAR: usize = 5;
const NOW: &str = "2026-11-30T08:00:00Z";

const AGENDA: &str = "Decide which of the three export formats we ship first and who owns the migration. Notes in the shared folder.";

/// What the proxy saw.
#[derive(Default)]
struct Wire {
    connections: AtomicU64,
    requests: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
    /// Connections by their first request's method (Radicale speaks
    /// HTTP/1.0: one request per connection).
    methods: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Default)]
struct Counts {
    methods: BTreeMap<String, u64>,
    connections: u64,
    requests: u64,
    up: u64,
    down: u64,
}

impl Wire {
    fn take(&self) -> Counts {
        Counts {
            methods: std::mem::take(&mut *self.methods.lock().unwrap()),
            connections: self.connections.swap(0, Ordering::SeqCst),
            requests: self.requests.swap(0, Ordering::SeqCst),
            up: self.up.swap(0, Ordering::SeqCst),
            down: self.down.swap(0, Ordering::SeqCst),
        }
    }
}

/// Count the request lines (`... HTTP/1.x\r\n`) in a client's stream,
/// `carry` holding the tail of the previous chunk so a line split across
/// reads is counted once.
fn request_lines(carry: &mut Vec<u8>, chunk: &[u8]) -> u64 {
    const MARK: &[u8] = b" HTTP/1.";
    let keep = carry.len();
    carry.extend_from_slice(chunk);
    let mut n = 0;
    let mut i = 0;
    while i + MARK.len() + 3 <= carry.len() {
        if &carry[i..i + MARK.len()] == MARK
            && carry[i + MARK.len()].is_ascii_digit()
            && &carry[i + MARK.len() + 1..i + MARK.len() + 3] == b"\r\n"
            // Ends past the carried tail: not counted last time.
            && i + MARK.len() + 3 > keep
        {
            n += 1;
        }
        i += 1;
    }
    let tail = carry.len().saturating_sub(MARK.len() + 2);
    carry.drain(..tail);
    n
}

/// A TCP proxy on 127.0.0.1 to `upstream`, counting what passes.
fn proxy(upstream: u16, wire: Arc<Wire>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let wire = Arc::clone(&wire);
            wire.connections.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let up_wire = Arc::clone(&wire);
                let up = std::thread::spawn(move || {
                    let mut buf = vec![0; 64 * 1024];
                    let mut carry = Vec::new();
                    let mut first = true;
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if first {
                            first = false;
                            let method = buf[..n].split(|b| *b == b' ').next().unwrap_or_default();
                            *up_wire
                                .methods
                                .lock()
                                .unwrap()
                                .entry(String::from_utf8_lossy(method).into_owned())
                                .or_default() += 1;
                        }
                        up_wire.up.fetch_add(n as u64, Ordering::SeqCst);
                        up_wire
                            .requests
                            .fetch_add(request_lines(&mut carry, &buf[..n]), Ordering::SeqCst);
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    wire.down.fetch_add(n as u64, Ordering::SeqCst);
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_write.shutdown(std::net::Shutdown::Write);
                let _ = up.join();
            });
        }
    });
    port
}

fn member(m: usize) -> String {
    format!("u{m:02}")
}

fn email(m: usize) -> String {
    format!("{}@example.com", member(m))
}

/// Day `d` of December 2026 at `hour`:00 UTC, as iCalendar text.
fn at(d: usize, hour: usize) -> String {
    format!("202612{:02}T{hour:02}0000Z", d)
}

/// One calendar item. `answer` is the member's PARTSTAT on it; `organizer`
/// another member (the member's own event when it is the member).
#[allow(clippy::too_many_arguments)]
fn item(
    uid: &str,
    summary: &str,
    description: &str,
    day: usize,
    hour: usize,
    minutes: usize,
    organizer: &str,
    member: &str,
    answer: &str,
    weekly: bool,
) -> String {
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\nBEGIN:VEVENT\r\n",
    );
    let _ = write!(
        s,
        "UID:{uid}\r\nDTSTAMP:20261120T090000Z\r\nDTSTART:{}\r\nDURATION:PT{minutes}M\r\nSUMMARY:{summary}\r\n",
        at(day, hour)
    );
    if !description.is_empty() {
        let _ = write!(s, "DESCRIPTION:{description}\r\n");
    }
    if weekly {
        s.push_str("RRULE:FREQ=WEEKLY;COUNT=12\r\n");
    }
    let _ = write!(s, "ORGANIZER;CN=Organizer:mailto:{organizer}\r\n");
    let _ = write!(
        s,
        "ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:{organizer}\r\n"
    );
    if member != organizer {
        let _ = write!(
            s,
            "ATTENDEE;CN=Member;PARTSTAT={answer};RSVP=TRUE:mailto:{member}\r\n"
        );
    }
    if member == organizer {
        // The member's own meetings have a guest from outside; invites to
        // screen a colleague instead (a meeting of two is always allowed,
        // and an outside guest softens a decline).
        s.push_str("ATTENDEE;PARTSTAT=ACCEPTED:mailto:guest@example.org\r\n");
    } else {
        s.push_str("ATTENDEE;PARTSTAT=ACCEPTED:mailto:pat@example.com\r\n");
    }
    s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    s
}

/// Calendar `c` of member `m`: (file name, text) for its 50 items.
fn calendar_items(m: usize, c: usize, members: usize) -> Vec<(String, String)> {
    let me = email(m);
    let other = email((m + 1) % members.max(2));
    let mut items = Vec::new();
    for i in 0..EVENTS_PER_CALENDAR {
        let uid = format!("{}-c{c}-e{i}@example.com", member(m));
        // Working days of the first four weeks of December, 09:00-16:00 UTC.
        let day = 1 + (i * 3) % 28;
        let hour = 9 + i % 7;
        let text = if i < INVITES_PER_CALENDAR {
            // The invites to screen (weekdays, in Lisbon's working hours).
            let (summary, desc, minutes) = match i {
                0 | 1 => ("Export formats", AGENDA, 45),
                2 | 3 => ("Sync", "", 30),
                _ => ("Planning", AGENDA, 90),
            };
            item(
                &uid,
                summary,
                desc,
                3 + i,
                10,
                minutes,
                &other,
                &me,
                "NEEDS-ACTION",
                false,
            )
        } else if i % 2 == 0 {
            item(
                &uid,
                "Own meeting",
                AGENDA,
                day,
                hour,
                30,
                &me,
                &me,
                "ACCEPTED",
                i % 10 == 0,
            )
        } else {
            item(
                &uid,
                "Answered",
                AGENDA,
                day,
                hour,
                60,
                &other,
                &me,
                "ACCEPTED",
                i % 10 == 5,
            )
        };
        items.push((format!("e{i}.ics"), text));
    }
    items
}

struct Run {
    wall: Duration,
    /// gatekeeper's own CPU time, user + system.
    cpu: Duration,
    max_rss_kib: i64,
    code: i32,
    stdout: String,
    stderr: String,
    wire: Counts,
}

/// `gatekeeper run --once` under `dir`, timed, its peak RSS from `wait4`.
fn run_once(binary: &Path, dir: &Path, wire: &Wire) -> Run {
    let out = dir.join("run.out");
    let err = dir.join("run.err");
    wire.take();
    let started = Instant::now();
    let child = Command::new(binary)
        .args(["run", "--once", "--config", "gatekeeper.toml", "--now", NOW])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start gatekeeper");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `pid` is our own child, not yet reaped (the `Child` handle is
    // never waited on); `status` and `usage` are valid, writable and live
    // for the call; `rusage` is plain data, valid when zeroed.
    let got = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    let wall = started.elapsed();
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    // SAFETY: zero-initialised above and filled by a successful wait4.
    let usage = unsafe { usage.assume_init() };
    drop(child);
    // The proxy's last bytes may still be in flight after the exit: the
    // counts settle once every connection's threads have finished.
    let mut counts = wire.take();
    let settle = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let more = wire.take();
        if more.connections + more.requests + more.up + more.down == 0 || Instant::now() > settle {
            break;
        }
        for (m, n) in more.methods {
            *counts.methods.entry(m).or_default() += n;
        }
        counts.connections += more.connections;
        counts.requests += more.requests;
        counts.up += more.up;
        counts.down += more.down;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        wire: counts,
    }
}

/// Decision lines by action, and those whose answer was written.
fn decisions(stdout: &str) -> (usize, usize, usize, usize) {
    let (mut allow, mut annotate, mut decline, mut written) = (0, 0, 0, 0);
    for line in stdout.lines() {
        let mut fields = line.split_whitespace();
        let _time = fields.next();
        match fields.next() {
            Some("allow") => allow += 1,
            Some("annotate") => annotate += 1,
            Some("decline") => decline += 1,
            _ => continue,
        }
        if line.contains("applied") {
            written += 1;
        }
    }
    (allow, annotate, decline, written)
}

/// "1000 GET, 60 PUT, …; 1084 connections".
fn methods(wire: &Counts) -> String {
    let list: Vec<String> = wire
        .methods
        .iter()
        .map(|(m, n)| format!("{n} {m}"))
        .collect();
    format!("{}; {} connections", list.join(", "), wire.connections)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn row(name: &str, run: &Run) -> (usize, String) {
    let (allow, annotate, decline, written) = decisions(&run.stdout);
    let decided = allow + annotate + decline;
    let per = if decided == 0 {
        "—".to_string()
    } else {
        format!("{:.2}", run.wire.requests as f64 / decided as f64)
    };
    (
        decided,
        format!(
            "| {name} | {:.2} s | {:.2} s | {} MiB | {} ({}) | {per} | {decided} ({allow} allow, {annotate} annotate, {decline} decline; {written} written) | {} | {} |",
            run.wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            run.max_rss_kib / 1024,
            run.wire.requests,
            methods(&run.wire),
            mib(run.wire.down),
            mib(run.wire.up),
        ),
    )
}

fn check(name: &str, run: &Run, server: &Radicale) {
    assert_eq!(
        run.code,
        0,
        "{name}: gatekeeper exited {}\nstderr:\n{}\nRadicale:\n{}",
        run.code,
        run.stderr,
        server.log()
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let members = if quick { 2 } else { 20 };
    let calendars = members * CALENDARS_PER_MEMBER;
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_gatekeeper"));

    let users: Vec<(String, String)> = (0..members)
        .map(|m| (member(m), format!("pw-{m}")))
        .collect();
    let pairs: Vec<(&str, &str)> = users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let server = Radicale::start(&pairs);
    let t = Instant::now();
    let root = server.folder().join("collections/collection-root");
    for m in 0..members {
        for c in 0..CALENDARS_PER_MEMBER {
            let path = server.mkcalendar(&member(m), &format!("cal{c}"));
            let folder = root.join(path.trim_matches('/'));
            assert!(folder.is_dir(), "Radicale's storage layout: no {folder:?}");
            for (name, text) in calendar_items(m, c, members) {
                std::fs::write(folder.join(name), text).unwrap();
            }
        }
    }
    // Let Radicale read and cache every item once (a server in use has).
    for m in 0..members {
        for c in 0..CALENDARS_PER_MEMBER {
            let r = server.request(
                DELEGATE,
                "PROPFIND",
                &format!("/{}/cal{c}/", member(m)),
                &[("Depth", "1")],
                Some(b"<propfind xmlns=\"DAV:\"><prop><getetag/></prop></propfind>".to_vec()),
            );
            assert_eq!(r.status, 207, "{}", r.text());
        }
    }
    eprintln!(
        "filled {calendars} calendars, {} items, in {:.1?}",
        calendars * EVENTS_PER_CALENDAR,
        t.elapsed()
    );

    let wire = Arc::new(Wire::default());
    let port = proxy(server.port(), Arc::clone(&wire));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    let mut policy = String::from("[team]\nname = \"bench\"\ndomains = [\"example.com\"]\n\n");
    for m in 0..members {
        let _ = write!(
            policy,
            "[[member]]\nemail = \"{}\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n",
            email(m)
        );
    }
    policy.push_str(
        "[[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n\n\
         [[rule]]\nkind = \"max_duration\"\naction = \"annotate\"\nminutes = 60\n",
    );
    std::fs::write(dir.path().join("policies/team.toml"), policy).unwrap();
    server.password_file(DELEGATE, dir.path());
    let list: Vec<String> = (0..members).map(|m| format!("\"{}\"", email(m))).collect();
    std::fs::write(
        dir.path().join("gatekeeper.toml"),
        format!(
            "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             user = \"{DELEGATE}\"\npassword_file = \"{DELEGATE}.password\"\n\
             principal_url = \"/{{user}}/\"\nmembers = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();

    let mut rows = Vec::new();
    let first = run_once(&binary, dir.path(), &wire);
    check("first pass", &first, &server);
    let (decided, r) = row(
        &format!(
            "first full sync: {calendars} calendars, {} items",
            calendars * EVENTS_PER_CALENDAR
        ),
        &first,
    );
    assert!(
        decided > 0,
        "nothing decided:\n{}\n{}",
        first.stdout,
        first.stderr
    );
    rows.push(r);

    let idle = run_once(&binary, dir.path(), &wire);
    check("idle pass", &idle, &server);
    rows.push(row("second pass, nothing changed", &idle).1);

    // One new invite in one calendar, from the organizer's side.
    let text = item(
        "new@example.com",
        "Sync",
        "",
        10,
        10,
        30,
        &email(1 % members),
        &email(0),
        "NEEDS-ACTION",
        false,
    );
    server.put_ok(&member(0), "/u00/cal0/new.ics", text.as_bytes());
    let one = run_once(&binary, dir.path(), &wire);
    check("one new invite", &one, &server);
    rows.push(row(&format!("one new invite among {calendars} calendars"), &one).1);

    println!(
        "CalDAV against Radicale {} on 127.0.0.1, {members} members through a delegated account, release `gatekeeper run --once`",
        radicale_version()
    );
    println!(
        "| pass | wall | gatekeeper's CPU | peak RSS | HTTP requests | requests per decided invite | decided | read (server → gatekeeper) | sent |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

fn radicale_version() -> String {
    Command::new("radicale")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
