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

use gatekeeper::config::SourceConfig;
use gatekeeper::source::caldav::{
    CaldavSettings, CaldavSource, WriteError, discovery::CalendarInfo, own_runtime, sync::Delta,
};

fn invite(uid: &str, summary: &str) -> String {
    INVITE
        .replace("harness-1@example.com", uid)
        .replace("Harness check", summary)
}

/// A source logged in as `login`: the member's own login (`member`) or the
/// delegate's with `principal_url = "/{user}/"` for `members`.
fn source_as(
    server: &Radicale,
    dir: &std::path::Path,
    login: &str,
    member: Option<&str>,
    members: &[&str],
) -> CaldavSource {
    let delegated = member.is_none();
    let cfg = SourceConfig::Caldav {
        name: "dav".into(),
        url: server.base_url() + "/",
        user: Some(login.into()),
        password_file: Some(server.password_file(login, dir)),
        token_file: None,
        member: member.map(str::to_string),
        members: delegated.then(|| members.iter().map(|m| m.to_string()).collect()),
        principal_url: delegated.then(|| "/{user}/".into()),
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).expect("settings");
    CaldavSource::new(settings, own_runtime().unwrap()).expect("source")
}

fn names(delta: &Delta) -> Vec<String> {
    let mut n: Vec<String> = delta.changed.iter().map(|e| e.name.clone()).collect();
    n.sort();
    n
}

fn only_calendar(source: &CaldavSource, member: &str) -> CalendarInfo {
    let cals = source.discover(member).expect("discovery");
    assert_eq!(cals.len(), 1, "{cals:?}");
    cals.into_iter().next().unwrap()
}

#[test]
fn discovery_with_the_members_own_login_and_through_the_delegate() {
    let server = Radicale::start(&[("ana", "ana-pw"), ("bob", "bob-pw")]);
    server.mkcalendar("ana", "work");
    server.mkcalendar("ana", "home");
    server.mkcalendar("bob", "main");
    let dir = tempfile::tempdir().unwrap();
    // Ana's own login: /.well-known/caldav (a 301 to a relative
    // Location), her principal, its home, her two calendars.
    let own = source_as(&server, dir.path(), "ana", Some("ana@example.com"), &[]);
    assert_eq!(
        own.principal("ana@example.com").unwrap().path(),
        "/ana/",
        "{}",
        server.log()
    );
    let cals = own.discover("ana@example.com").unwrap();
    let paths: Vec<&str> = cals.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/ana/home/", "/ana/work/"]);
    assert!(cals.iter().all(|c| c.supports_sync && c.ctag.is_some()));
    // The delegate reads both members' calendars through the template.
    let delegate = source_as(
        &server,
        dir.path(),
        DELEGATE,
        None,
        &["ana@example.com", "bob@example.com"],
    );
    assert_eq!(delegate.discover("ana@example.com").unwrap().len(), 2);
    let bob = delegate.discover("bob@example.com").unwrap();
    assert_eq!(bob[0].path, "/bob/main/");
    // Bob's own login cannot read Ana's principal: a clean error.
    let bob_own = source_as(&server, dir.path(), "bob", None, &["ana@example.com"]);
    let err = bob_own.discover("ana@example.com").unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
}

#[test]
fn sync_collection_reports_new_changed_and_deleted_items() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let source = source_as(&server, dir.path(), DELEGATE, None, &["ana@example.com"]);
    server.put_ok("ana", &format!("{cal}a.ics"), invite("a@x", "A").as_bytes());
    // A name that needs encoding: Radicale sends it as `%40`.
    server.put_ok(
        "ana",
        &format!("{cal}b%40x.ics"),
        invite("b@x", "B").as_bytes(),
    );
    let calendar = only_calendar(&source, "ana@example.com");

    let first = source.changes(&calendar, None).unwrap();
    assert!(first.complete);
    assert_eq!(names(&first), ["a.ics", "b@x.ics"]);
    assert!(first.cursor.starts_with("sync "), "{}", first.cursor);

    // Nothing changed: nothing listed.
    let same = source.changes(&calendar, Some(&first.cursor)).unwrap();
    assert!(!same.complete && same.changed.is_empty() && same.deleted.is_empty());

    // New, changed, deleted, and one created and deleted in between.
    server.put_ok("ana", &format!("{cal}c.ics"), invite("c@x", "C").as_bytes());
    let (_, a_etag) = server.get_ok("ana", &format!("{cal}a.ics"));
    let r = server.put(
        "ana",
        &format!("{cal}a.ics"),
        invite("a@x", "A moved").as_bytes(),
        Some(&a_etag),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        server
            .delete("ana", &format!("{cal}b%40x.ics"), None)
            .status,
        200
    );
    server.put_ok(
        "ana",
        &format!("{cal}tmp.ics"),
        invite("t@x", "T").as_bytes(),
    );
    assert_eq!(
        server.delete("ana", &format!("{cal}tmp.ics"), None).status,
        200
    );

    let next = source.changes(&calendar, Some(&same.cursor)).unwrap();
    assert!(!next.complete);
    assert_eq!(names(&next), ["a.ics", "c.ics"]);
    let a = next.changed.iter().find(|e| e.name == "a.ics").unwrap();
    assert_eq!(Some(&a.etag), r.etag.as_ref());
    let mut deleted = next.deleted.clone();
    deleted.sort();
    // Radicale lists an item created and deleted since the token; another
    // server may not: either is fine for the engine.
    assert!(deleted.contains(&"b@x.ics".to_string()), "{deleted:?}");
    assert!(deleted.iter().all(|d| d == "b@x.ics" || d == "tmp.ics"));

    // The items read back are exactly what the server stores.
    let item = source
        .get(&calendar.url, "a.ics")
        .unwrap()
        .expect("a.ics is there");
    assert_eq!(Some(&item.etag), r.etag.as_ref());
    assert!(String::from_utf8_lossy(&item.bytes).contains("A moved"));
    assert_eq!(source.get(&calendar.url, "b@x.ics").unwrap(), None);
}

#[test]
fn an_invalid_sync_token_leads_to_one_clean_full_listing() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let source = source_as(&server, dir.path(), "ana", Some("ana@example.com"), &[]);
    server.put_ok("ana", &format!("{cal}a.ics"), invite("a@x", "A").as_bytes());
    let calendar = only_calendar(&source, "ana@example.com");
    // A token Radicale never issued (it answers 403 with
    // `valid-sync-token`), with characters that must be escaped.
    let stale = "sync http://radicale.org/ns/sync/0000<&>";
    let full = source.changes(&calendar, Some(stale)).unwrap();
    assert!(full.complete, "a refused token gives a full listing");
    assert_eq!(names(&full), ["a.ics"]);
    assert!(full.cursor.starts_with("sync http://radicale.org/ns/sync/"));
    assert_ne!(full.cursor, stale);
    // And the new token works.
    let after = source.changes(&calendar, Some(&full.cursor)).unwrap();
    assert!(!after.complete && after.changed.is_empty());
}

#[test]
fn etag_listing_and_ctag_where_sync_collection_is_not_used() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let source = source_as(&server, dir.path(), "ana", Some("ana@example.com"), &[]);
    server.put_ok("ana", &format!("{cal}a.ics"), invite("a@x", "A").as_bytes());
    let mut calendar = only_calendar(&source, "ana@example.com");
    // As a server without RFC 6578 would be used.
    calendar.supports_sync = false;
    let first = source.changes(&calendar, None).unwrap();
    assert!(first.complete);
    assert_eq!(names(&first), ["a.ics"]);
    assert!(first.cursor.starts_with("ctag "), "{}", first.cursor);
    // Unchanged ctag: nothing listed, nothing more asked.
    let before = source.requests();
    let same = source.changes(&calendar, Some(&first.cursor)).unwrap();
    assert!(!same.complete && same.changed.is_empty());
    assert_eq!(source.requests() - before, 1, "one PROPFIND of the ctag");
    // A change moves the ctag: a full listing again.
    server.put_ok("ana", &format!("{cal}b.ics"), invite("b@x", "B").as_bytes());
    let next = source.changes(&calendar, Some(&same.cursor)).unwrap();
    assert!(next.complete);
    assert_eq!(names(&next), ["a.ics", "b.ics"]);
}

#[test]
fn a_write_is_conditional_on_the_version_read() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let source = source_as(&server, dir.path(), DELEGATE, None, &["ana@example.com"]);
    server.put_ok("ana", &format!("{cal}a.ics"), invite("a@x", "A").as_bytes());
    let calendar = only_calendar(&source, "ana@example.com");
    let read = source.get(&calendar.url, "a.ics").unwrap().unwrap();
    // Ana answers on her phone between gatekeeper's read and its write.
    let hers = invite("a@x", "A").replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED");
    let r = server.put(
        "ana",
        &format!("{cal}a.ics"),
        hers.as_bytes(),
        Some(&read.etag),
    );
    assert_eq!(r.status, 204);
    let ours = invite("a@x", "A").replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=DECLINED");
    match source.put_if_match(&calendar.url, "a.ics", &read.etag, ours.as_bytes()) {
        Err(WriteError::Conflict { .. }) => {}
        other => panic!("a stale etag must be a conflict, got {other:?}"),
    }
    let (now, _) = server.get_ok("ana", &format!("{cal}a.ics"));
    assert!(String::from_utf8_lossy(&now).contains("PARTSTAT=ACCEPTED"));
    // With the current etag the write goes through, and its etag is the
    // server's.
    let fresh = source.get(&calendar.url, "a.ics").unwrap().unwrap();
    let etag = source
        .put_if_match(&calendar.url, "a.ics", &fresh.etag, ours.as_bytes())
        .unwrap();
    assert_eq!(server.get_ok("ana", &format!("{cal}a.ics")).1, etag);
    // An empty etag is never sent as an unconditional write.
    assert!(matches!(
        source.put_if_match(&calendar.url, "a.ics", "", ours.as_bytes()),
        Err(WriteError::Conflict { .. })
    ));
    // A second item with the same UID: Radicale's 409 `no-uid-conflict`
    // is permanent for that write, not a conflict to retry.
    server.put_ok("ana", &format!("{cal}b.ics"), invite("b@x", "B").as_bytes());
    let b = source.get(&calendar.url, "b.ics").unwrap().unwrap();
    match source.put_if_match(&calendar.url, "b.ics", &b.etag, ours.as_bytes()) {
        Err(WriteError::Refused { conditions, .. }) => {
            assert_eq!(conditions, ["no-uid-conflict"])
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn events_for_a_window_come_from_a_calendar_query() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let source = source_as(&server, dir.path(), "ana", Some("ana@example.com"), &[]);
    server.put_ok(
        "ana",
        &format!("{cal}in.ics"),
        invite("in@x", "In").as_bytes(),
    );
    let later = invite("out@x", "Out").replace("20261201T1", "20270601T1");
    server.put_ok("ana", &format!("{cal}out.ics"), later.as_bytes());
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let got = source
        .events_between(
            "ana@example.com",
            at("2026-11-30T00:00:00Z"),
            at("2026-12-07T00:00:00Z"),
        )
        .unwrap();
    let names: Vec<&str> = got.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["in.ics"]);
    assert!(String::from_utf8_lossy(&got[0].data).contains("SUMMARY:In"));
    // calendar-multiget gives the same data.
    let calendar = only_calendar(&source, "ana@example.com");
    let both = source
        .multiget(&calendar.url, &["in.ics".into(), "out.ics".into()])
        .unwrap();
    assert_eq!(both.len(), 2);
}

#[test]
fn a_password_file_others_can_read_is_refused() {
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let dir = tempfile::tempdir().unwrap();
    let file = server.password_file("ana", dir.path());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = SourceConfig::Caldav {
        name: "dav".into(),
        url: server.base_url(),
        user: Some("ana".into()),
        password_file: Some(file),
        token_file: None,
        member: Some("ana@example.com".into()),
        members: None,
        principal_url: None,
        mode: None,
    };
    let err = CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
    // A wrong password: a clean 401 error that shows no password.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-her-password\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = SourceConfig::Caldav {
        name: "dav".into(),
        url: server.base_url(),
        user: Some("ana".into()),
        password_file: Some(wrong),
        token_file: None,
        member: Some("ana@example.com".into()),
        members: None,
        principal_url: None,
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap();
    assert!(!format!("{settings:?}").contains("not-her-password"));
    let source = CaldavSource::new(settings, own_runtime().unwrap()).unwrap();
    let err = source.discover("ana@example.com").unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!err.to_string().contains("not-her-password"));
}

/// Xandikos differs where it matters: a 302 with a relative Location, a
/// home below the principal, hrefs with a plain `@`, a sync token that is
/// not a URI, 412 for a token it refuses, deletions of items created since
/// the token not listed.
#[test]
fn discovery_and_sync_against_xandikos() {
    let server = Xandikos::start("ana");
    let dir = tempfile::tempdir().unwrap();
    let cfg = SourceConfig::Caldav {
        name: "x".into(),
        url: server.base_url() + "/",
        user: None,
        // Xandikos has no logins of its own (a proxy does that); a token
        // file is sent as a bearer token and ignored.
        password_file: None,
        token_file: Some({
            let f = dir.path().join("token");
            std::fs::write(&f, "unused").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            f
        }),
        member: Some("ana@example.com".into()),
        members: None,
        principal_url: None,
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap();
    let source = CaldavSource::new(settings, own_runtime().unwrap()).unwrap();
    let calendar = only_calendar(&source, "ana@example.com");
    assert_eq!(
        calendar.path,
        "/ana/calendars/calendar/",
        "{}",
        server.log()
    );
    let item = "/ana/calendars/calendar/a@x.ics";
    server.put_ok(item, invite("a@x", "A").as_bytes());
    let first = source.changes(&calendar, None).unwrap();
    assert_eq!(names(&first), ["a@x.ics"]);
    assert!(first.cursor.starts_with("sync "));
    server.put_ok(
        "/ana/calendars/calendar/b.ics",
        invite("b@x", "B").as_bytes(),
    );
    assert_eq!(server.delete(item, None).status, 204);
    let next = source.changes(&calendar, Some(&first.cursor)).unwrap();
    assert!(!next.complete);
    assert_eq!(names(&next), ["b.ics"]);
    assert_eq!(next.deleted, ["a@x.ics"]);
    // A refused token (Xandikos: 412 `valid-sync-token`).
    let full = source.changes(&calendar, Some("sync 0123456789")).unwrap();
    assert!(full.complete);
    assert_eq!(names(&full), ["b.ics"]);
    // A conditional write on a stale etag is a conflict here too.
    let read = source.get(&calendar.url, "b.ics").unwrap().unwrap();
    server.put_ok(
        "/ana/calendars/calendar/b.ics",
        invite("b@x", "B2").as_bytes(),
    );
    assert!(matches!(
        source.put_if_match(
            &calendar.url,
            "b.ics",
            &read.etag,
            invite("b@x", "B3").as_bytes()
        ),
        Err(WriteError::Conflict { .. })
    ));
}

/// The daemon, end to end, against Radicale through a delegated login:
/// an invite without an agenda is declined in the member's own copy with
/// gatekeeper's comment, every other byte kept; a second pass writes
/// nothing; a member's own answer stands.
#[test]
fn the_daemon_answers_in_the_members_copy_on_radicale() {
    let server = Radicale::start(&[("ana", "ana-pw"), ("bo", "bo-pw")]);
    let cal = server.mkcalendar("ana", "work");
    server.mkcalendar("bo", "work");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/team.toml"),
        "[team]\nname = \"t\"\ndomains = [\"example.com\"]\n\n\
         [[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n\
         [[member]]\nemail = \"bo@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n\
         [[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n",
    )
    .unwrap();
    server.password_file(DELEGATE, dir.path());
    let config = dir.path().join("gatekeeper.toml");
    std::fs::write(
        &config,
        format!(
            "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"{}/\"\nuser = \"{DELEGATE}\"\n\
             password_file = \"{DELEGATE}.password\"\nprincipal_url = \"/{{user}}/\"\n\
             members = [\"ana@example.com\", \"bo@example.com\"]\n",
            server.base_url()
        ),
    )
    .unwrap();
    // Bytes gatekeeper does not own: a folded description, an unknown
    // property with parameters, LF-only line endings inside the VALARM.
    let no_agenda = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Other Client//EN\r\n\
BEGIN:VEVENT\r\n\
UID:sync-up@example.com\r\n\
DTSTAMP:20261128T100000Z\r\n\
DTSTART:20261201T100000Z\r\n\
DTEND:20261201T103000Z\r\n\
SUMMARY:Sync\r\n\
X-OTHER-CLIENT;X-KEEP=yes:value with   spaces\r\n\
ORGANIZER:mailto:olga@example.org\r\n\
ATTENDEE;CN=Ana;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ana@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:pat@example.org\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";
    // Ana already answered this one herself.
    let hers = no_agenda
        .replace("sync-up@example.com", "hers@example.com")
        .replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED");
    let item = format!("{cal}sync-up.ics");
    let her_item = format!("{cal}hers.ics");
    server.put_ok("ana", &item, no_agenda.as_bytes());
    let her_etag = server.put_ok("ana", &her_item, hers.as_bytes());
    let (before, _) = server.get_ok("ana", &item);

    // `config check` logs in and finds each member's calendars.
    let out = common::gatekeeper()
        .args(["config", "check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let checked = common::stdout_of(&out);
    assert!(
        checked.contains("source `dav` (caldav, ana@example.com): 1 calendar(s)")
            && checked.contains("source `dav` (caldav, bo@example.com): 1 calendar(s)"),
        "{checked}"
    );

    let (code, out, err) = common::run_once(&config, "2026-11-29T08:00:00Z");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}\n{}", server.log());
    let (after, etag) = server.get_ok("ana", &item);
    let text = common::unfold(&String::from_utf8_lossy(&after));
    assert!(
        // An organizer outside the team gets a tentative answer with the
        // comment (the policy's softening for external organizers).
        text.contains("ATTENDEE;CN=Ana;PARTSTAT=TENTATIVE")
            && text.contains("COMMENT;X-GATEKEEPER=TRUE:")
            && text.contains("X-GATEKEEPER-PARTSTAT;X-GATEKEEPER-RULES=agenda:TENTATIVE"),
        "{text}\n{out}\n{err}"
    );
    // Every line gatekeeper does not own is still there, as Radicale keeps
    // it (it re-serialises; the comparison is with its own copy).
    let owned = |l: &&str| {
        l.starts_with("ATTENDEE;CN=Ana") || l.contains("X-GATEKEEPER") || l.starts_with("COMMENT")
    };
    let before_text = common::unfold(&String::from_utf8_lossy(&before));
    let kept: Vec<&str> = before_text.lines().filter(|l| !owned(l)).collect();
    let now: Vec<&str> = text.lines().filter(|l| !owned(l)).collect();
    assert_eq!(kept, now);
    assert!(text.contains("X-OTHER-CLIENT;X-KEEP=yes:value with   spaces"));
    // Her own answer stands, untouched.
    assert_eq!(server.get_ok("ana", &her_item).1, her_etag);

    // The weekly report reads the members' calendars from the server
    // (a calendar-query over the week).
    let out = common::gatekeeper()
        .args([
            "report", "--week", "2026-W49", "--format", "json", "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["totals"]["distinct_meetings"], 2, "{json:#}");

    // A second pass: nothing changed, nothing written.
    let rows = common::log_rows(&config).len();
    let (code, out, err) = common::run_once(&config, "2026-11-29T08:05:00Z");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.get_ok("ana", &item).1, etag, "{err}");
    assert_eq!(common::log_rows(&config).len(), rows);

    // The server forgets its sync tokens (Radicale keeps them in a cache
    // folder): the refused token leads to one full listing, and nothing
    // is answered twice.
    // Ana adds time for herself meanwhile, so the old token names a state
    // the server no longer has (Radicale: 403 `valid-sync-token`).
    let focus = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:focus@example.com\r\nDTSTAMP:20261128T100000Z\r\nDTSTART:20261202T140000Z\r\nDTEND:20261202T160000Z\r\nSUMMARY:Focus\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    server.put_ok("ana", &format!("{cal}focus.ics"), focus.as_bytes());
    let tokens = server
        .folder()
        .join("collections/collection-root/ana/work/.Radicale.cache/sync-token");
    assert!(tokens.is_dir(), "{}", tokens.display());
    std::fs::remove_dir_all(&tokens).unwrap();
    let (code, out, err) = common::run_once(&config, "2026-11-29T08:07:00Z");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.get_ok("ana", &item).1, etag, "{err}");
    assert_eq!(common::log_rows(&config).len(), rows);

    // Ana accepts after all, on her phone: her answer is hers.
    let accepted = String::from_utf8_lossy(&after)
        .replace("CN=Ana;PARTSTAT=TENTATIVE", "CN=Ana;PARTSTAT=ACCEPTED");
    let r = server.put("ana", &item, accepted.as_bytes(), Some(&etag));
    assert_eq!(r.status, 204);
    let (code, out, err) = common::run_once(&config, "2026-11-29T08:10:00Z");
    assert_eq!(code, 0, "{out}\n{err}");
    let (last, last_etag) = server.get_ok("ana", &item);
    assert_eq!(Some(last_etag), r.etag);
    assert!(String::from_utf8_lossy(&last).contains("CN=Ana;PARTSTAT=ACCEPTED"));
}

/// The trait's write: a client writing between gatekeeper's read and its
/// write wins (the write is refused as a conflict, nothing is written);
/// the batch is not finished, so the next sync hands the item over again
/// with the member's version. Gatekeeper's own write, once finished, is not
/// read again.
#[test]
fn a_client_writing_during_gatekeepers_write_wins() {
    use gatekeeper::calendar::PartStat;
    use gatekeeper::source::{Answer, CalendarSource, Change, CursorOp, Cursors, SyncRequest};
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let client = source_as(&server, dir.path(), DELEGATE, None, &["ana@example.com"]);
    let source = gatekeeper::source::caldav::calendar::CaldavCalendar::new(
        client,
        gatekeeper::calendar::ical::Limits::DEFAULT,
    );
    let three = invite("a@x", "A").replace(
        "END:VEVENT",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:pat@example.org\r\nEND:VEVENT",
    );
    let item = format!("{cal}a.ics");
    server.put_ok("ana", &item, three.as_bytes());
    let members = ["ana@example.com".to_string()];
    let request = SyncRequest {
        members: Some(&members),
        now: chrono::Utc::now(),
        horizon_days: 180,
    };
    let apply = |cursors: &mut Cursors, ops: Vec<CursorOp>| {
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
    };
    let answer = Answer {
        partstat: PartStat::Declined,
        comment: Some("no agenda".into()),
        marker: Some(PartStat::Declined),
        rules: vec!["agenda".into()],
    };
    let mut cursors = Cursors::new();
    let batches = |cursors: &Cursors| -> Vec<Box<gatekeeper::source::Batch>> {
        source
            .changes(cursors, request)
            .filter_map(|c| match c {
                Change::Batch(b) => Some(b),
                Change::Cursor(_) => None,
                Change::Failed { error, .. } => panic!("{error}"),
            })
            .collect()
    };
    // First pass: the item is read; Ana answers on her phone before
    // gatekeeper writes.
    let first = batches(&cursors);
    assert_eq!(first.len(), 1);
    let entry = &first[0].series[0][0];
    let (_, read_etag) = server.get_ok("ana", &item);
    let hers = three.replacen("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1);
    assert_eq!(
        server
            .put("ana", &item, hers.as_bytes(), Some(&read_etag))
            .status,
        204
    );
    let refused = source.write(&entry.target, &entry.event, &answer);
    assert!(
        matches!(
            refused,
            Err(gatekeeper::source::SourceError::Conflict { .. })
        ),
        "{refused:?}"
    );
    let (now, her_etag) = server.get_ok("ana", &item);
    assert!(String::from_utf8_lossy(&now).contains("PARTSTAT=ACCEPTED"));
    assert!(!String::from_utf8_lossy(&now).contains("X-GATEKEEPER"));
    // Unfinished: the cursors stay; the next sync hands her version over.
    let second = batches(&cursors);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].item.etag, her_etag);
    apply(&mut cursors, source.finish(&second[0]));
    assert!(batches(&cursors).is_empty(), "finished: nothing to read");

    // A new invite: gatekeeper writes, finishes, and its own write is not
    // handed over again.
    server.put_ok(
        "ana",
        &format!("{cal}b.ics"),
        three.replace("a@x", "b@x").as_bytes(),
    );
    let third = batches(&cursors);
    assert_eq!(third.len(), 1);
    let entry = &third[0].series[0][0];
    source.write(&entry.target, &entry.event, &answer).unwrap();
    apply(&mut cursors, source.finish(&third[0]));
    let (written, _) = server.get_ok("ana", &format!("{cal}b.ics"));
    assert!(common::unfold(&String::from_utf8_lossy(&written)).contains("PARTSTAT=DECLINED"));
    assert!(
        batches(&cursors).is_empty(),
        "gatekeeper's own write is not news"
    );

    // The calendar is deleted: the pass that finds out fails for it (a
    // 404 on its sync report), the next one finds Ana's calendars again,
    // and the items' meetings leave the ledger before their rows go.
    assert_eq!(server.delete("ana", &cal, None).status, 200);
    let failed = source
        .changes(&cursors, request)
        .filter(|c| matches!(c, Change::Failed { .. }))
        .count();
    assert_eq!(failed, 1);
    let gone = batches(&cursors);
    let mut names: Vec<&str> = gone.iter().map(|b| b.item.href.as_str()).collect();
    names.sort();
    assert_eq!(names, ["a.ics", "b.ics"]);
    assert!(
        gone.iter()
            .all(|b| !b.gone.is_empty() && b.series.is_empty())
    );
    for b in &gone {
        apply(&mut cursors, source.finish(b));
    }
    assert!(cursors.is_empty(), "{cursors:?}");
}

/// The config's CalDAV keys: one way to log in, one way to find members'
/// calendars, `https` unless the server is on this machine; every problem
/// at once.
#[test]
fn caldav_config_problems_are_reported_with_their_fix() {
    let check = |source: &str, expect: &[&str]| {
        let text = format!(
            "policies = []\n[store]\nsqlite = \"s.db\"\n[[source]]\nkind = \"caldav\"\nname = \"dav\"\n{source}"
        );
        match gatekeeper::config::Config::parse(&text) {
            Ok(_) if expect.is_empty() => {}
            Ok(_) => panic!("{source}: expected {expect:?}"),
            Err(e) => {
                let shown = e.render(false);
                assert!(!expect.is_empty(), "{source}: {shown}");
                for want in expect {
                    assert!(shown.contains(want), "{source}: `{want}` not in {shown}");
                }
            }
        }
    };
    check(
        "url = \"https://dav.example.com/\"\nuser = \"ana\"\npassword_file = \"p\"\nmember = \"ana@example.com\"\n",
        &[],
    );
    check(
        "url = \"https://dav.example.com/\"\ntoken_file = \"t\"\nprincipal_url = \"/{user}/\"\n",
        &[],
    );
    check(
        "url = \"https://dav.example.com/\"\nmember = \"ana@example.com\"\n",
        &["has no way to log in"],
    );
    check(
        "url = \"https://dav.example.com/\"\npassword_file = \"p\"\nmember = \"ana@example.com\"\n",
        &["`password_file` needs `user`"],
    );
    check(
        "url = \"https://dav.example.com/\"\ntoken_file = \"t\"\n",
        &["does not say whose calendars it reads"],
    );
    check(
        "url = \"https://dav.example.com/\"\ntoken_file = \"t\"\nmember = \"ana@example.com\"\nprincipal_url = \"/{user}/\"\n",
        &["sets `member`"],
    );
    check(
        "url = \"https://dav.example.com/\"\ntoken_file = \"t\"\nmembers = [\"ana@example.com\"]\n",
        &["`members` needs `principal_url`"],
    );
    check(
        "url = \"http://dav.example.com/\"\ntoken_file = \"t\"\nmember = \"ana@example.com\"\n",
        &["plain `http://`"],
    );
    check(
        "url = \"http://127.0.0.1:5232/\"\ntoken_file = \"t\"\nmember = \"ana@example.com\"\n",
        &[],
    );
    check(
        "url = \"https://dav.example.com/\"\ntoken_file = \"t\"\nmember = \"ana@example.com\"\npasword_file = \"p\"\n",
        &["unknown key `pasword_file`", "password_file"],
    );
}

/// The daemon against Xandikos, a server with implicit scheduling: the
/// member's answer, comment and marker go into their copy (an attendee may
/// change these), and a second pass writes nothing.
#[test]
fn the_daemon_answers_on_xandikos_too() {
    let server = Xandikos::start("ana");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/team.toml"),
        "[team]\nname = \"t\"\ndomains = [\"example.com\"]\n\n\
         [[member]]\nemail = \"ana@example.com\"\ntime_zone = \"Europe/Lisbon\"\nworking_hours = \"08:00-18:00\"\n\n\
         [[rule]]\nkind = \"agenda\"\naction = \"decline\"\nmin_words = 6\n",
    )
    .unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "unused").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("gatekeeper.toml");
    std::fs::write(
        &config,
        format!(
            "policies = [\"policies\"]\n[store]\nsqlite = \"state.db\"\n\n\
             [[source]]\nkind = \"caldav\"\nname = \"x\"\nurl = \"{}/\"\ntoken_file = \"token\"\n\
             member = \"ana@example.com\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let item = "/ana/calendars/calendar/sync@example.org.ics";
    let ics = invite("sync@example.org", "Sync")
        .replace("olga@example.com", "olga@example.org")
        .replace(
            "END:VEVENT",
            "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:pat@example.org\r\nEND:VEVENT",
        );
    server.put_ok(item, ics.as_bytes());
    let (code, out, err) = common::run_once(&config, "2026-11-29T08:00:00Z");
    assert_eq!(code, 0, "{out}\n{err}\n{}", server.log());
    let answered = server.get(item);
    let text = common::unfold(&answered.text());
    assert!(
        text.contains("PARTSTAT=TENTATIVE:mailto:ana@example.com")
            && text.contains("COMMENT;X-GATEKEEPER=TRUE:")
            && text.contains("X-GATEKEEPER-PARTSTAT"),
        "{text}\n{out}\n{err}"
    );
    let rows = common::log_rows(&config).len();
    let (code, out, err) = common::run_once(&config, "2026-11-29T08:05:00Z");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.get(item).etag, answered.etag, "{err}");
    assert_eq!(common::log_rows(&config).len(), rows);
}

/// A first sync of a calendar with 250 items reads them with
/// `calendar-multiget`, 100 at a time: a handful of requests (discovery,
/// the sync report, three multigets), not one GET per item. Each batch
/// carries the etag the server has for the bytes it came with.
#[test]
fn a_first_sync_reads_items_in_bulk_not_one_by_one() {
    use gatekeeper::source::{CalendarSource, Change, Cursors, SyncRequest};
    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    let client = source_as(&server, dir.path(), DELEGATE, None, &["ana@example.com"]);
    let source = gatekeeper::source::caldav::calendar::CaldavCalendar::new(
        client,
        gatekeeper::calendar::ical::Limits::DEFAULT,
    );
    let mut etags = std::collections::HashMap::new();
    for i in 0..250 {
        let name = format!("i{i:03}.ics");
        let etag = server.put_ok(
            "ana",
            &format!("{cal}{name}"),
            invite(&format!("i{i}@x"), &format!("Item {i}")).as_bytes(),
        );
        etags.insert(name, etag);
    }
    let members = ["ana@example.com".to_string()];
    let request = SyncRequest {
        members: Some(&members),
        now: chrono::Utc::now(),
        horizon_days: 180,
    };
    source.take_calls();
    let batches: Vec<_> = source
        .changes(&Cursors::new(), request)
        .filter_map(|c| match c {
            Change::Batch(b) => Some(b),
            Change::Cursor(_) => None,
            Change::Failed { error, .. } => panic!("{error}"),
        })
        .collect();
    let calls = source.take_calls();
    assert_eq!(batches.len(), 250);
    for b in &batches {
        assert_eq!(
            Some(&b.item.etag),
            etags.get(&b.item.href),
            "{}",
            b.item.href
        );
        assert_eq!(b.series.len(), 1, "{}: {:?}", b.item.href, b.problems);
        let n: usize = b.item.href[1..4].parse().unwrap();
        assert_eq!(b.series[0][0].event.uid, format!("i{n}@x"));
    }
    eprintln!("first sync of 250 items: {calls} requests");
    assert!(calls <= 12, "{calls} requests for 250 items");
}

/// What a multiget brings is what a GET brings, byte for byte and etag for
/// etag, on both servers: an answer is edited into the member's copy as
/// read, and conditional on the etag that came with it.
#[test]
fn multiget_bytes_and_etags_are_the_gets() {
    let odd = invite("odd@x", "Odd")
        .replace(
            "SUMMARY:Odd\r\n",
            "SUMMARY:Odd & <odd> \u{e9}t\u{e9}\r\nDESCRIPTION:a long line folded h\r\n ere; with \\, escapes\\n and \"quotes\"\r\nX-EMPTY:\r\n",
        )
        .replace("BEGIN:VEVENT", "X-WR-CALNAME:\tTab\r\nBEGIN:VEVENT");
    let items = [
        ("plain.ics".to_string(), invite("plain@x", "Plain")),
        ("a@b.ics".to_string(), odd),
    ];
    let names: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
    let check = |source: &CaldavSource, calendar: &CalendarInfo| {
        let fetched = source.multiget(&calendar.url, &names).unwrap();
        assert_eq!(fetched.len(), items.len(), "{fetched:?}");
        for f in fetched {
            let got = source.get(&calendar.url, &f.name).unwrap().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&f.data),
                String::from_utf8_lossy(&got.bytes),
                "{}",
                f.name
            );
            assert_eq!(f.etag, got.etag, "{}", f.name);
        }
    };

    let server = Radicale::start(&[("ana", "ana-pw")]);
    let cal = server.mkcalendar("ana", "work");
    let dir = tempfile::tempdir().unwrap();
    for (name, ics) in &items {
        server.put_ok("ana", &format!("{cal}{name}"), ics.as_bytes());
    }
    let source = source_as(&server, dir.path(), DELEGATE, None, &["ana@example.com"]);
    check(&source, &only_calendar(&source, "ana@example.com"));

    let server = Xandikos::start("ana");
    for (name, ics) in &items {
        server.put_ok(&format!("/ana/calendars/calendar/{name}"), ics.as_bytes());
    }
    let token = dir.path().join("token");
    std::fs::write(&token, "unused").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = SourceConfig::Caldav {
        name: "x".into(),
        url: server.base_url() + "/",
        user: None,
        password_file: None,
        token_file: Some(token),
        member: Some("ana@example.com".into()),
        members: None,
        principal_url: None,
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).unwrap();
    let source = CaldavSource::new(settings, own_runtime().unwrap()).unwrap();
    check(&source, &only_calendar(&source, "ana@example.com"));
}

/// A server that answers every request with `response` (a whole HTTP/1.1
/// response) and counts the requests: for the answers real servers give
/// under stress, which Radicale cannot be made to give on demand.
fn canned_server(
    response: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Read the request head and its body (Content-Length).
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut need: Option<usize> = None;
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if need.is_none()
                    && let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n")
                {
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    need = Some(end + 4 + len);
                }
                if need.is_some_and(|n| buf.len() >= n) {
                    break;
                }
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, count)
}

fn source_at(url: &str, dir: &std::path::Path) -> CaldavSource {
    use std::os::unix::fs::PermissionsExt;
    let token = dir.join("token");
    std::fs::write(&token, "t0ken").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = SourceConfig::Caldav {
        name: "dav".into(),
        url: url.to_string(),
        user: None,
        password_file: None,
        token_file: Some(token),
        member: Some("ana@example.com".into()),
        members: None,
        principal_url: None,
        mode: None,
    };
    let settings = CaldavSettings::from_config(&cfg, &[], 1 << 20).expect("settings");
    CaldavSource::new(settings, own_runtime().unwrap()).expect("source")
}

/// A 503 (or any answer that says the server is in trouble, not that it
/// refuses this content) is not a refusal: the write's fate is unknown, the
/// item is read again, and the answer is tried again next pass. Remembered
/// as refused, the invite would stay unanswered until it changed or
/// gatekeeper restarted.
#[test]
fn a_server_in_trouble_is_not_a_refusal_and_a_missing_etag_is_no_etag() {
    let dir = tempfile::tempdir().unwrap();
    let (url, count) = canned_server(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let source = source_at(&url, dir.path());
    let calendar = reqwest::Url::parse(&format!("{url}ana/work/")).unwrap();
    match source.put_if_match(
        &calendar,
        "a.ics",
        "\"1\"",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    ) {
        Err(WriteError::Dav(_)) => {}
        other => panic!("a 503 must leave the write's fate unknown, got {other:?}"),
    }
    // Sent once: a write is never repeated blindly.
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    for status in [
        "429 Too Many Requests",
        "500 Internal Server Error",
        "408 Request Timeout",
    ] {
        let response: &'static str = Box::leak(
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_boxed_str(),
        );
        let (url, _) = canned_server(response);
        let source = source_at(&url, dir.path());
        let calendar = reqwest::Url::parse(&format!("{url}ana/work/")).unwrap();
        assert!(
            matches!(
                source.put_if_match(&calendar, "a.ics", "\"1\"", b"x"),
                Err(WriteError::Dav(_))
            ),
            "{status}"
        );
    }
    // A refusal of the content stays a refusal.
    let (url, _) =
        canned_server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let source = source_at(&url, dir.path());
    let calendar = reqwest::Url::parse(&format!("{url}ana/work/")).unwrap();
    assert!(matches!(
        source.put_if_match(&calendar, "a.ics", "\"1\"", b"x"),
        Err(WriteError::Refused { status: 403, .. })
    ));
    // A write accepted without an ETag gives no etag (never one read back
    // afterwards, which could be someone else's version).
    let (url, _) =
        canned_server("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let source = source_at(&url, dir.path());
    let calendar = reqwest::Url::parse(&format!("{url}ana/work/")).unwrap();
    assert_eq!(
        source
            .put_if_match(&calendar, "a.ics", "\"1\"", b"x")
            .unwrap(),
        ""
    );
}

/// A server that cuts every sync report short (507 on the collection, as
/// RFC 6578 section 3.6 allows) more times than gatekeeper follows: what it
/// listed is handed over, but the listing is not complete, so the items it
/// did not reach are not taken for deleted (their meetings would leave the
/// burden ledger until a later pass listed them again).
#[test]
fn a_full_listing_the_server_keeps_cutting_short_is_not_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (url, count) = canned_server(
        "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: 506\r\nConnection: close\r\n\r\n\
<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<d:multistatus xmlns:d=\"DAV:\">\
<d:response><d:href>/ana/work/a.ics</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\
<d:response><d:href>/ana/work/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>\
<d:sync-token>http://example.com/sync/2</d:sync-token>\
</d:multistatus>                                                                                                     ",
    );
    let source = source_at(&url, dir.path());
    let calendar = CalendarInfo {
        url: reqwest::Url::parse(&format!("{url}ana/work/")).unwrap(),
        path: "/ana/work/".into(),
        display_name: None,
        ctag: None,
        sync_token: None,
        supports_sync: true,
    };
    let delta = source.changes(&calendar, None).unwrap();
    assert!(delta.truncated, "{delta:?}");
    assert!(!delta.complete, "a listing cut short is not complete");
    assert_eq!(names(&delta), ["a.ics"]);
    assert_eq!(delta.cursor, "sync http://example.com/sync/2");
    // Bounded: the rounds stop at gatekeeper's cap.
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) <= 101);
}
