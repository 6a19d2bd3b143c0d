//! The CalDAV source against real servers: Radicale 3 (the reference the
//! tests are written for) and Xandikos (discovery and sync, where it
//! differs). The servers are started by `common::radicale`; a missing one is
//! a failure with its install line.

mod common;

use common::radicale::{DELEGATE, Radicale, Xandikos};

const INVITE: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//gatekeeper tests//EN\r\n\
BEGIN:VEVENT\r\n\
UID:harness-1@example.com\r\n\
DTSTAMP:20261129T100000Z\r\n\
DTSTART:20261201T100000Z\r\n\
DTEND:20261201T110000Z\r\n\
SUMMARY:Harness check\r\n\
ORGANIZER:mailto:olga@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ana@example.com\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// The harness itself: a user's item, the delegate's access, conditional
/// writes refused on a stale etag, and nobody else's access.
#[test]
fn radicale_harness_serves_users_and_the_delegate() {
    let server = Radicale::start(&[("ana", "ana-pw"), ("bob", "bob-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let item = format!("{cal}invite.ics");
    let etag = server.put_ok("ana", &item, INVITE.as_bytes());
    let (bytes, got) = server.get_ok(DELEGATE, &item);
    assert_eq!(got, etag);
    assert!(String::from_utf8_lossy(&bytes).contains("UID:harness-1@example.com"));
    // A stale etag is refused; the current one is accepted.
    let changed = INVITE.replace("Harness check", "Harness check 2");
    let ok = server.put(DELEGATE, &item, changed.as_bytes(), Some(&etag));
    assert_eq!(ok.status, 204, "{}", ok.text());
    let stale = server.put("ana", &item, INVITE.as_bytes(), Some(&etag));
    assert_eq!(stale.status, 412, "{}", stale.text());
    // Bob may not read Ana's calendar.
    assert_eq!(server.get("bob", &item).status, 403);
    assert_eq!(server.delete("ana", &item, ok.etag.as_deref()).status, 200);
}

#[test]
fn xandikos_harness_serves_its_user() {
    let server = Xandikos::start("ana");
    let r = server.request("PROPFIND", "/ana/calendars/", &[("Depth", "1")], None);
    assert_eq!(r.status, 207, "{}\n{}", r.text(), server.log());
    let item = "/ana/calendars/calendar/invite.ics";
    let etag = server.put_ok(item, INVITE.as_bytes());
    assert_eq!(server.get(item).etag.as_deref(), Some(etag.as_str()));
}
