//! What every backend offers the scenarios, and what the scenarios share:
//! the team's policy, the invites, running the binary, reading the
//! decision log, and stalling a run at an exact point.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common;

/// The moment every run believes it is: a Monday morning.
pub const NOW: &str = "2026-11-30T08:00:00Z";

/// The organizer of every invite: a colleague gatekeeper does not answer for.
pub const ORGANIZER: &str = "bo@example.com";

/// What the agenda rule says when an invite has none: the text the
/// organizer and the member read in the member's answer.
pub const NO_AGENDA: &str = "the invite has no agenda";

/// An agenda the rule accepts (at least six words).
pub const AGENDA: &str =
    "Agree the rollout order for the three payment regions and name the owners";

/// The team every world starts with: all its members.
pub const TEAM: &str = "s";

/// The config's first line: every file in the `policies` folder.
pub const POLICIES: &str = "policies = [\"policies\"]\n";

/// A team's policy: every member in Lisbon, working 09:00-17:30; an invite
/// without an agenda of six words or more is declined (`action`).
pub fn policy(team: &str, members: &[String], action: &str) -> String {
    let mut p = format!("[team]\nname = \"{team}\"\ndomains = [\"example.com\"]\n\n");
    for m in members {
        p.push_str(&format!(
            "[[member]]\nemail = \"{m}\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"09:00-17:30\"\n\n"
        ));
    }
    p.push_str(&format!(
        "[[rule]]\nkind = \"agenda\"\naction = \"{action}\"\nmin_words = 6\n\n[exceptions]\none_to_one = \"screen\"\n"
    ));
    p
}

/// Writes `dir/policies/<team>.toml`.
pub fn write_policy(dir: &Path, team: &str, members: &[String], action: &str) {
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(
        dir.join(format!("policies/{team}.toml")),
        policy(team, members, action),
    )
    .unwrap();
}

/// `n` members: `m0@example.com`, `m1@example.com`, …
pub fn members(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}@example.com")).collect()
}

/// A meeting as its organizer (`ORGANIZER`) makes it: Tuesday 10:00-10:30
/// UTC (inside everyone's day), every attendee yet to answer.
#[derive(Clone, Debug)]
pub struct Invite {
    /// Short and unique within a scenario; backends derive names from it.
    pub name: String,
    pub summary: String,
    /// Empty: no agenda.
    pub description: String,
    pub attendees: Vec<String>,
}

impl Invite {
    pub fn new(name: &str, description: &str, attendees: &[String]) -> Invite {
        Invite {
            name: name.to_string(),
            summary: format!("Sync {name}"),
            description: description.to_string(),
            attendees: attendees.to_vec(),
        }
    }
}

/// An invite as the decision log names it (its `uid` column).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

/// A member's answer, in iCalendar's words.
pub const NEEDS_ACTION: &str = "NEEDS-ACTION";
pub const ACCEPTED: &str = "ACCEPTED";
pub const DECLINED: &str = "DECLINED";
pub const TENTATIVE: &str = "TENTATIVE";

/// One backend with a team on it: the calendars, the config that points
/// gatekeeper at them, and the hands of the organizer and the members.
pub trait World: Sized {
    /// A fresh world with these members (all in the policy, `action` for
    /// the agenda rule) and their empty calendars.
    fn new(members: &[String], action: &str) -> Self;
    /// The folder that holds the config, the policy and the state.
    fn dir(&self) -> &Path;
    /// The organizer sends an invite: every attendee's copy appears.
    fn add_invite(&mut self, invite: &Invite) -> Id {
        self.add_invites_read_together(std::slice::from_ref(invite))
            .remove(0)
    }
    /// The organizer sends several invites that gatekeeper reads in one go
    /// (one file on local folders, one sync batch elsewhere): it decides
    /// them one after the other on the versions it read.
    fn add_invites_read_together(&mut self, invites: &[Invite]) -> Vec<Id>;
    /// The organizer changes the invite's description; the server passes
    /// it on to every copy, keeping each attendee's answer and gatekeeper's
    /// lines as the copy has them.
    fn edit_description(&mut self, id: &Id, description: &str);
    /// The organizer's server passes every attendee's answer on to every
    /// other attendee's copy (gatekeeper's declines included, where nothing
    /// says whose they were). Where the backend does this itself, nothing
    /// is left to do.
    fn pass_answers_on(&mut self, id: &Id);
    /// The member answers in their own calendar app.
    fn member_answers(&mut self, member: &str, id: &Id, partstat: &str);
    /// The member's answer as their copy shows it (iCalendar's words).
    fn partstat_of(&self, member: &str, id: &Id) -> String;
    /// gatekeeper's comment on the member's copy, as a person reads it.
    fn comment_of(&self, member: &str, id: &Id) -> Option<String>;
    /// Everything of the member's copy a write of gatekeeper's could change
    /// (bytes and identity, or the server's version and content, or the
    /// member's own entry and the writes sent for them): equal before and
    /// after a run means that run wrote nothing there.
    fn copy_state(&self, member: &str, id: &Id) -> String;
    /// gatekeeper's writes that landed, counted by the backend itself where
    /// it can (the fake counts its 200s); `None` where only the copies can
    /// tell.
    fn writes_landed(&self) -> Option<u64>;

    /// One run in which the member answers one of `ids` (invites read
    /// together) after gatekeeper read their copy and before its write to
    /// it lands. Returns the run and the invite the member answered.
    ///
    /// The default holds the run after its first decision (`Stalled`): the
    /// others are read, decided on the versions read, and not yet written.
    /// A backend that reads each item just before deciding it catches the
    /// write itself instead.
    fn run_with_member_answering_during_write(
        &mut self,
        member: &str,
        ids: &[Id],
        partstat: &str,
    ) -> (Run, Id) {
        let stalled = Stalled::start(self);
        let first = Id(stalled.first.0.clone());
        assert!(ids.contains(&first), "{first:?} is one of {ids:?}");
        let other = ids.iter().find(|i| **i != first).unwrap().clone();
        assert_eq!(
            self.partstat_of(member, &other),
            NEEDS_ACTION,
            "the second is not written yet"
        );
        self.member_answers(member, &other, partstat);
        (stalled.release(), other)
    }

    fn config(&self) -> PathBuf {
        self.dir().join("gatekeeper.toml")
    }

    /// Write (or rewrite) a team's policy file.
    fn set_policy(&self, team: &str, members: &[String], action: &str) {
        write_policy(self.dir(), team, members, action);
    }

    fn db(&self) -> PathBuf {
        self.dir().join("state.db")
    }
}

/// What one `gatekeeper run --once` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// Decision lines whose answer landed (`applied`).
    pub fn applied(&self) -> usize {
        self.out.lines().filter(|l| l.contains("  applied")).count()
    }

    /// The run succeeded and decided nothing.
    #[track_caller]
    pub fn assert_quiet(&self) {
        assert_eq!(
            (self.code, self.out.as_str()),
            (0, ""),
            "a run with nothing new decides nothing\nstderr: {}",
            self.err
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.out, self.err);
    }
}

pub fn run<W: World>(w: &W) -> Run {
    let (code, out, err) = common::run_once(&w.config(), NOW);
    Run { code, out, err }
}

/// One row of the decision log.
#[derive(Clone, Debug)]
pub struct Row {
    pub uid: String,
    pub member: String,
    pub outcome: String,
    pub response: Option<String>,
}

/// The decision log, read through `gatekeeper log --format json`.
pub fn log<W: World>(w: &W) -> Vec<Row> {
    common::log_rows(&w.config())
        .into_iter()
        .map(|r| Row {
            uid: r["uid"].as_str().unwrap_or_default().to_string(),
            member: r["member"].as_str().unwrap_or_default().to_string(),
            outcome: r["outcome"].as_str().unwrap_or_default().to_string(),
            response: r["response"].as_str().map(str::to_string),
        })
        .collect()
}

/// The rows for one invite and member.
pub fn rows_for<'a>(rows: &'a [Row], id: &Id, member: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.uid == id.0 && r.member == member)
        .collect()
}

/// Rows finished as `applied`, read straight from the store while a run
/// may hold it (WAL: a reader never blocks the writer).
fn applied_rows(db: &Path) -> Vec<(String, String)> {
    use rusqlite::OpenFlags;
    if !db.exists() {
        return Vec::new();
    }
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return Vec::new();
    };
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    let Ok(mut stmt) = conn.prepare("SELECT uid, member FROM decisions WHERE outcome = 'applied'")
    else {
        // The tables are not there yet.
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Polls `what` until it holds, a bounded number of times: the condition,
/// not the clock, ends the wait (the bound only turns a hang into a failure).
pub fn wait_for(what: impl Fn() -> bool) -> bool {
    for _ in 0..12_000 {
        if what() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// A `gatekeeper run --once` held at an exact point: its stdout is a pipe
/// filled to the brim before it started, so it blocks printing its first
/// decision line. That line is printed right after the decision is
/// finished in the store (its answer written), and before the next invite
/// is decided, so while it is held: one decision is done, every other
/// invite read in the same go is decided but not yet written, and no
/// cursor has moved past them.
pub struct Stalled {
    child: Child,
    stdout: std::fs::File,
    filler: usize,
    stderr: std::thread::JoinHandle<String>,
    /// The (uid, member) of the decision it stopped after.
    pub first: (String, String),
}

impl Stalled {
    /// Starts the run and waits until it holds after its first applied
    /// decision.
    pub fn start<W: World>(w: &W) -> Stalled {
        let (read, write, filler) = full_pipe();
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gatekeeper"));
        cmd.args(["run", "--once", "--now", NOW, "--config"])
            .arg(w.config())
            .env("NO_COLOR", "1")
            .env_remove("GATEKEEPER_LOG")
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // The parent's copy of the write end goes with the command, so the
        // pipe ends when the child does.
        drop(cmd);
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let db = w.db();
        let child = std::cell::RefCell::new(child);
        let exited = || child.borrow_mut().try_wait().ok().flatten().is_some();
        let decided = wait_for(|| !applied_rows(&db).is_empty() || exited());
        let mut child = child.into_inner();
        if !decided || applied_rows(&db).is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the run never finished a decision: {}",
                stderr.join().unwrap()
            );
        }
        // The seam must really hold: a thread of the run sleeps writing to
        // the pipe. If the decision lines stopped being printed one by one
        // as decisions finish, this says so instead of a scenario passing
        // without its race.
        let pid = child.id();
        assert!(
            wait_for(|| blocked_on_pipe(pid) != Some(false)),
            "the run did not block printing its first decision: the stall seam is gone"
        );
        let first = applied_rows(&db).remove(0);
        Stalled {
            child,
            stdout: read,
            filler,
            stderr,
            first,
        }
    }

    /// Lets the run go on to its end.
    pub fn release(mut self) -> Run {
        let mut bytes = Vec::new();
        self.stdout.read_to_end(&mut bytes).unwrap();
        let status = self.child.wait().unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&bytes[self.filler..]).into_owned(),
            err: self.stderr.join().unwrap(),
        }
    }

    /// Kills the run where it stands (SIGKILL: no chance to tidy up).
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = self.stderr.join();
    }
}

/// Whether a thread of `pid` sleeps writing to a pipe; `None` where the
/// kernel does not say (`wchan` hidden).
fn blocked_on_pipe(pid: u32) -> Option<bool> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut known = false;
    for t in tasks.filter_map(Result::ok) {
        let Ok(wchan) = std::fs::read_to_string(t.path().join("wchan")) else {
            continue;
        };
        if wchan.contains("pipe_write") {
            return Some(true);
        }
        known |= wchan.chars().any(|c| c.is_ascii_alphabetic());
    }
    known.then_some(false)
}

/// A pipe whose buffer is full: (read end, write end, bytes in it).
fn full_pipe() -> (std::fs::File, OwnedFd, usize) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2");
    let (r, w) = (fds[0], fds[1]);
    // SAFETY: both are fresh descriptors owned by nobody else.
    let (read, write) = unsafe { (std::fs::File::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
    // A small pipe fills quickly; the kernel may keep a larger one.
    // SAFETY: plain fcntl calls on a descriptor this function owns.
    let flags = unsafe {
        libc::fcntl(w, libc::F_SETPIPE_SZ, 4096);
        let flags = libc::fcntl(w, libc::F_GETFL);
        libc::fcntl(w, libc::F_SETFL, flags | libc::O_NONBLOCK);
        flags
    };
    let mut filled = 0usize;
    for chunk in [4096usize, 1] {
        let buf = vec![b'#'; chunk];
        loop {
            // SAFETY: `buf` is valid for `chunk` bytes.
            let n = unsafe { libc::write(w, buf.as_ptr().cast(), chunk) };
            if n <= 0 {
                break;
            }
            filled += n as usize;
        }
    }
    // The child must block on the full pipe, not fail with EAGAIN: the
    // flag belongs to the open file, which the child shares.
    // SAFETY: as above.
    unsafe { libc::fcntl(w, libc::F_SETFL, flags) };
    assert!(filled > 0, "the pipe took no bytes");
    (read, write, filled)
}

/// The text of a content line's value, iCalendar escapes undone.
pub fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// An iCalendar object for `invite` with `uid`, as the organizer's server
/// hands each attendee their copy. Lines are short enough never to fold
/// except the description, which is written unfolded as many servers do.
pub fn vevent(invite: &Invite, uid: &str) -> String {
    let mut s = format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T000000Z\r\nCREATED:20261120T000000Z\r\nSEQUENCE:0\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T103000Z\r\nSUMMARY:{}\r\n",
        invite.summary
    );
    if !invite.description.is_empty() {
        s.push_str(&format!("DESCRIPTION:{}\r\n", invite.description));
    }
    s.push_str(&format!(
        "ORGANIZER:mailto:{ORGANIZER}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{ORGANIZER}\r\n"
    ));
    for a in &invite.attendees {
        s.push_str(&format!(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}\r\n"
        ));
    }
    s.push_str("END:VEVENT\r\n");
    s
}

pub fn vcalendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gatekeeper scenarios//EN\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

/// iCalendar text helpers for backends whose copies are iCalendar (local
/// folders, CalDAV): the copies are edited as a client or server would.
pub mod ics {
    use super::*;

    /// The byte range of the VEVENT with `uid` in `text` (unfolded).
    fn event_range(text: &str, uid: &str) -> std::ops::Range<usize> {
        let begin = "BEGIN:VEVENT";
        let mut from = 0;
        while let Some(at) = text[from..].find(begin) {
            let start = from + at;
            let end = text[start..]
                .find("END:VEVENT")
                .map_or(text.len(), |e| start + e);
            let block = &text[start..end];
            if block.lines().any(|l| l.trim_end() == format!("UID:{uid}")) {
                return start..end;
            }
            from = end;
        }
        panic!("no VEVENT with UID {uid} in:\n{text}")
    }

    fn attendee_line<'a>(event: &'a str, member: &str) -> &'a str {
        event
            .lines()
            .find(|l| {
                l.starts_with("ATTENDEE") && l.trim_end().ends_with(&format!(":mailto:{member}"))
            })
            .unwrap_or_else(|| panic!("no ATTENDEE line for {member} in:\n{event}"))
    }

    pub fn partstat(text: &str, uid: &str, member: &str) -> String {
        let text = common::unfold(text);
        let event = &text[event_range(&text, uid)];
        let line = attendee_line(event, member);
        let (params, _) = line.split_once(":mailto:").unwrap();
        params
            .split(';')
            .find_map(|p| p.strip_prefix("PARTSTAT="))
            .unwrap_or(NEEDS_ACTION)
            .to_string()
    }

    /// gatekeeper's `COMMENT;X-GATEKEEPER=TRUE` in the event, unescaped.
    pub fn comment(text: &str, uid: &str) -> Option<String> {
        let text = common::unfold(text);
        let event = &text[event_range(&text, uid)];
        event
            .lines()
            .find(|l| l.starts_with("COMMENT") && l.contains("X-GATEKEEPER"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| unescape(v.trim_end_matches('\r')))
    }

    /// How many of gatekeeper's markers the event carries.
    pub fn markers(text: &str, uid: &str) -> usize {
        let text = common::unfold(text);
        text[event_range(&text, uid)]
            .matches("X-GATEKEEPER-PARTSTAT")
            .count()
    }

    /// The member answers in a calendar app: it rewrites their PARTSTAT
    /// (unfolding the text as many apps do) and keeps what it does not
    /// know, gatekeeper's marker included.
    pub fn answer(text: &str, uid: &str, member: &str, partstat: &str) -> String {
        let text = common::unfold(text);
        let range = event_range(&text, uid);
        let event = &text[range.clone()];
        let line = attendee_line(event, member);
        let (params, addr) = line.split_once(":mailto:").unwrap();
        let mut params: Vec<String> = params
            .split(';')
            .filter(|p| !p.starts_with("PARTSTAT="))
            .map(str::to_string)
            .collect();
        params.insert(1, format!("PARTSTAT={partstat}"));
        let new_line = format!("{}:mailto:{addr}", params.join(";"));
        let new_event = event.replacen(line, &new_line, 1);
        format!(
            "{}{}{}",
            &text[..range.start],
            new_event,
            &text[range.end..]
        )
    }

    /// The organizer's server passes on a new description: the DESCRIPTION
    /// line replaced (or added after SUMMARY) and SEQUENCE moved on; every
    /// other byte of the copy kept.
    pub fn set_description(text: &str, uid: &str, description: &str) -> String {
        let range = event_range(text, uid);
        let event = &text[range.clone()];
        let mut lines: Vec<String> = Vec::new();
        // Where the copy has a description, it is replaced in place.
        let mut done = event.lines().any(|l| l.starts_with("DESCRIPTION"));
        let mut in_description = false;
        for line in event.split_inclusive('\n') {
            if in_description && (line.starts_with(' ') || line.starts_with('\t')) {
                continue;
            }
            in_description = false;
            if line.starts_with("DESCRIPTION") {
                in_description = true;
                if !description.is_empty() {
                    lines.push(format!("DESCRIPTION:{description}\r\n"));
                }
            } else if let Some(n) = line.strip_prefix("SEQUENCE:") {
                let n: u32 = n.trim().parse().unwrap_or(0);
                lines.push(format!("SEQUENCE:{}\r\n", n + 1));
            } else {
                lines.push(line.to_string());
                if line.starts_with("SUMMARY") && !done && !description.is_empty() {
                    lines.push(format!("DESCRIPTION:{description}\r\n"));
                    done = true;
                }
            }
        }
        format!(
            "{}{}{}",
            &text[..range.start],
            lines.concat(),
            &text[range.end..]
        )
    }
}
