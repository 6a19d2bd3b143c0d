//! What the CalDAV source costs against a real Radicale on 127.0.0.1:
//! requests per decided invite (sync report, read, conditional write), a
//! full first sync of 200 calendars, and an incremental pass over them
//! with nothing changed. A plain program that prints figures for
//! BENCHMARKS.md; it needs `radicale` on PATH (`pip install radicale`).
//!
//! Run with `cargo bench --bench caldav`.

#[path = "../tests/common/radicale.rs"]
mod radicale;

use std::collections::HashMap;
use std::time::Instant;

use gatekeeper::calendar::PartStat;
use gatekeeper::calendar::ical::Limits;
use gatekeeper::config::SourceConfig;
use gatekeeper::source::caldav::calendar::CaldavCalendar;
use gatekeeper::source::caldav::{CaldavSettings, CaldavSource, own_runtime};
use gatekeeper::source::{Answer, CalendarSource, Change, CursorOp, Cursors, SyncRequest};
use radicale::{DELEGATE, Radicale};

const USERS: usize = 20;
const CALENDARS_PER_USER: usize = 10;
const ITEMS_PER_CALENDAR: usize = 5;

fn invite(uid: &str, member: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T000000Z\r\nDTSTART:20261202T100000Z\r\nDTEND:20261202T110000Z\r\nSUMMARY:Bench\r\nORGANIZER:mailto:carol@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{member}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn apply(cursors: &mut Cursors, ops: Vec<CursorOp>) {
    for op in ops {
        match op {
            CursorOp::Set {
                calendar,
                item,
                value,
            } => {
                cursors.insert((calendar, item), value);
            }
            CursorOp::Remove { calendar, item } => {
                cursors.remove(&(calendar, item));
            }
        }
    }
}

/// One pass the way the engine drives it: every batch, every event
/// answered (`answer`), cursors stored after each finished batch. Returns
/// (items read, answers written).
fn pass(
    source: &CaldavCalendar,
    cursors: &mut Cursors,
    members: &[String],
    answer: bool,
) -> (usize, usize) {
    let request = SyncRequest {
        members: Some(members),
        now: chrono::Utc::now(),
        horizon_days: 180,
    };
    let (mut read, mut written) = (0, 0);
    // Lazily, as the engine does: an item is answered before the next is
    // read.
    let changes = source.changes(cursors, request);
    for change in changes {
        match change {
            Change::Cursor(op) => apply(cursors, vec![op]),
            Change::Failed { error, .. } => panic!("{error}"),
            Change::Batch(batch) => {
                read += batch.items_read;
                if answer {
                    for entry in batch.series.iter().flatten() {
                        let a = Answer {
                            partstat: PartStat::Declined,
                            comment: Some("bench".into()),
                            marker: Some(PartStat::Declined),
                            rules: vec!["agenda".into()],
                        };
                        source.write(&entry.target, &entry.event, &a).unwrap();
                        written += 1;
                    }
                }
                apply(cursors, source.finish(&batch));
            }
        }
    }
    (read, written)
}

fn main() {
    let users: Vec<(String, String)> = (0..USERS)
        .map(|i| (format!("u{i:02}"), format!("pw{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let server = Radicale::start(&pairs);
    let started = Instant::now();
    for (u, _) in &users {
        for c in 0..CALENDARS_PER_USER {
            let cal = server.mkcalendar(u, &format!("cal{c}"));
            for i in 0..ITEMS_PER_CALENDAR {
                let uid = format!("{u}-{c}-{i}@example.org");
                server.put_ok(
                    u,
                    &format!("{cal}{i}.ics"),
                    invite(&uid, &format!("{u}@example.com")).as_bytes(),
                );
            }
        }
    }
    let items = USERS * CALENDARS_PER_USER * ITEMS_PER_CALENDAR;
    println!(
        "filled {} calendars, {items} items in {:.1?}",
        USERS * CALENDARS_PER_USER,
        started.elapsed()
    );
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<String> = users
        .iter()
        .map(|(u, _)| format!("{u}@example.com"))
        .collect();
    let cfg = SourceConfig::Caldav {
        name: "dav".into(),
        url: server.base_url() + "/",
        user: Some(DELEGATE.into()),
        password_file: Some(server.password_file(DELEGATE, dir.path())),
        token_file: None,
        member: None,
        members: Some(members.clone()),
        principal_url: Some("/{user}/".into()),
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap();
    let client = CaldavSource::new(settings, own_runtime().unwrap()).unwrap();
    let source = CaldavCalendar::new(client, Limits::DEFAULT);
    let mut cursors: Cursors = HashMap::new();

    let t = Instant::now();
    let (read, written) = pass(&source, &mut cursors, &members, true);
    let first = t.elapsed();
    let requests = source.take_calls();
    println!(
        "first pass: discovery + sync of {} calendars, {read} items read, {written} answers written: {first:.1?}, {requests} requests ({:.2} per decided invite)",
        USERS * CALENDARS_PER_USER,
        f64::from(requests) / written as f64
    );

    let t = Instant::now();
    let (read, written) = pass(&source, &mut cursors, &members, true);
    let requests = source.take_calls();
    println!(
        "next pass, nothing changed: {:.1?}, {requests} requests ({read} read, {written} written)",
        t.elapsed()
    );

    // One new invite in one calendar.
    server.put_ok(
        "u00",
        "/u00/cal0/new.ics",
        invite("new@example.org", "u00@example.com").as_bytes(),
    );
    let t = Instant::now();
    let (read, written) = pass(&source, &mut cursors, &members, true);
    let requests = source.take_calls();
    println!(
        "one new invite among {} calendars: {:.1?}, {requests} requests ({read} read, {written} written)",
        USERS * CALENDARS_PER_USER,
        t.elapsed()
    );

    // A full sync of every calendar from nothing, read only (the figure
    // for a restart with a lost state).
    let mut fresh: Cursors = HashMap::new();
    let client = CaldavSource::new(
        CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap(),
        own_runtime().unwrap(),
    )
    .unwrap();
    let cold = CaldavCalendar::new(client, Limits::DEFAULT);
    let t = Instant::now();
    let (read, _) = pass(&cold, &mut fresh, &members, false);
    let requests = cold.take_calls();
    println!(
        "full sync of {} calendars from no state, {read} items read: {:.1?}, {requests} requests",
        USERS * CALENDARS_PER_USER,
        t.elapsed()
    );
}
