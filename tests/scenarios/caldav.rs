//! CalDAV: a real Radicale server started for the scenario
//! (`common::radicale`), one user per member with a `work` calendar, and
//! the delegated `gatekeeper` account that may read and write every
//! member's calendars. Radicale does no scheduling (RFC 6638): the test
//! plays the organizer's server, putting each attendee's copy into their
//! calendar and passing the organizer's edits on, and the members' phones,
//! which PUT their answers.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::common::radicale::{DELEGATE, Radicale};
use crate::world::*;

pub struct Caldav {
    dir: tempfile::TempDir,
    server: Radicale,
    /// gatekeeper talks to Radicale through this: it passes every request
    /// on, and can let a member's write in just before one of gatekeeper's.
    proxy: Proxy,
    /// Which item holds which invite (the same name in every member's
    /// calendar).
    items: HashMap<Id, String>,
    attendees: HashMap<Id, Vec<String>>,
}

/// Radicale's user for a member: the address's local part.
fn user(member: &str) -> &str {
    member.split('@').next().unwrap()
}

/// The `caldav` source in gatekeeper's config: one delegated login that
/// reads every member's calendars, each member's principal found from the
/// address (`/{user}/`).
///
/// The keys follow the CalDAV engineer's work in progress: this is the one
/// place to adjust if they change before the source lands.
fn source_config(members: &[String], base_url: &str, password_file: &Path) -> String {
    let list = members
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "\n[[source]]\nkind = \"caldav\"\nname = \"dav\"\nurl = \"{base_url}/\"\nuser = \"{DELEGATE}\"\npassword_file = \"{}\"\nmembers = [{list}]\nprincipal_url = \"/{{user}}/\"\n",
        password_file.display(),
    )
}

impl Caldav {
    fn path(&self, member: &str, id: &Id) -> String {
        let item = self
            .items
            .get(id)
            .unwrap_or_else(|| panic!("no invite {id:?}"));
        format!("/{}/work/{item}", user(member))
    }

    /// The member's copy and its etag, read as the member.
    fn copy(&self, member: &str, id: &Id) -> (String, String) {
        let (bytes, etag) = self.server.get_ok(user(member), &self.path(member, id));
        (String::from_utf8(bytes).unwrap(), etag)
    }

    /// Replace the member's copy as a client does: conditional on the
    /// version it read.
    fn rewrite(&self, member: &str, id: &Id, edit: impl Fn(&str) -> String) {
        let (text, etag) = self.copy(member, id);
        let r = self.server.put(
            user(member),
            &self.path(member, id),
            edit(&text).as_bytes(),
            Some(&etag),
        );
        assert!(
            matches!(r.status, 201 | 204),
            "PUT as {member}: {} {}",
            r.status,
            r.text()
        );
    }
}

impl World for Caldav {
    fn new(members: &[String], action: &str) -> Caldav {
        let dir = tempfile::tempdir().unwrap();
        let users: Vec<(String, String)> = members
            .iter()
            .map(|m| (user(m).to_string(), format!("{}-pw", user(m))))
            .collect();
        let refs: Vec<(&str, &str)> = users
            .iter()
            .map(|(u, p)| (u.as_str(), p.as_str()))
            .collect();
        let server = Radicale::start(&refs);
        let proxy = Proxy::start(server.port());
        let password_file = server.password_file(DELEGATE, dir.path());
        write_policy(dir.path(), TEAM, members, action);
        let mut config = format!("{POLICIES}\n[store]\nsqlite = \"state.db\"\n");
        for m in members {
            server.mkcalendar(user(m), "work");
        }
        config.push_str(&source_config(members, &proxy.base_url(), &password_file));
        std::fs::write(dir.path().join("gatekeeper.toml"), config).unwrap();
        Caldav {
            dir,
            server,
            proxy,
            items: HashMap::new(),
            attendees: HashMap::new(),
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn add_invites_read_together(&mut self, invites: &[Invite]) -> Vec<Id> {
        // A calendar object resource holds one UID (RFC 4791 §4.1): one
        // item per invite; a first sync reads them together.
        let mut ids = Vec::new();
        for i in invites {
            let id = Id(format!("{}@example.com", i.name));
            let item = format!("{}.ics", i.name);
            for m in &i.attendees {
                let path = format!("/{}/work/{item}", user(m));
                self.server
                    .put_ok(user(m), &path, vcalendar(&[vevent(i, &id.0)]).as_bytes());
            }
            self.items.insert(id.clone(), item);
            self.attendees.insert(id.clone(), i.attendees.clone());
            ids.push(id);
        }
        ids
    }

    fn edit_description(&mut self, id: &Id, description: &str) {
        for m in self.attendees[id].clone() {
            self.rewrite(&m, id, |text| {
                ics::set_description(text, &id.0, description)
            });
        }
    }

    fn pass_answers_on(&mut self, id: &Id) {
        let invited = self.attendees[id].clone();
        let answers: Vec<(String, String)> = invited
            .iter()
            .map(|m| (m.clone(), self.partstat_of(m, id)))
            .collect();
        for m in &invited {
            self.rewrite(m, id, |text| {
                answers
                    .iter()
                    .filter(|(o, _)| o != m)
                    .fold(text.to_string(), |t, (other, partstat)| {
                        ics::answer(&t, &id.0, other, partstat)
                    })
            });
        }
    }

    fn member_answers(&mut self, member: &str, id: &Id, partstat: &str) {
        self.rewrite(member, id, |text| {
            ics::answer(text, &id.0, member, partstat)
        });
    }

    fn partstat_of(&self, member: &str, id: &Id) -> String {
        ics::partstat(&self.copy(member, id).0, &id.0, member)
    }

    fn comment_of(&self, member: &str, id: &Id) -> Option<String> {
        let text = self.copy(member, id).0;
        assert!(
            ics::markers(&text, &id.0) <= 1,
            "one marker at most:\n{text}"
        );
        ics::comment(&text, &id.0)
    }

    fn copy_state(&self, member: &str, id: &Id) -> String {
        // The server's version is the only one (it rewrites what is PUT).
        let (text, etag) = self.copy(member, id);
        format!("{etag}\n{text}")
    }

    fn writes_landed(&self) -> Option<u64> {
        None
    }

    /// gatekeeper reads each item just before deciding it, so holding the
    /// run between two decisions races nothing: instead the proxy holds
    /// gatekeeper's PUT of the member's copy of the second invite, lets the
    /// member's own PUT (conditional on the version gatekeeper read) reach
    /// the server first, then passes gatekeeper's on.
    fn run_with_member_answering_during_write(
        &mut self,
        member: &str,
        ids: &[Id],
        partstat: &str,
    ) -> (Run, Id) {
        let other = ids[1].clone();
        let path = self.path(member, &other);
        let (text, etag) = self.copy(member, &other);
        let answered = ics::answer(&text, &other.0, member, partstat);
        let auth = format!("{}:{}", user(member), self.server.password(user(member)));
        let upstream = self.server.port();
        let status = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&status);
        let hook_path = path.clone();
        self.proxy.before_put(&path, move || {
            let reply = forward(
                upstream,
                &put_request(&hook_path, &auth, &etag, answered.as_bytes()),
            );
            *seen.lock().unwrap() = Some(status_of(&reply));
        });
        let run = run(self);
        let landed = status.lock().unwrap().take();
        assert!(
            matches!(landed, Some(201 | 204)),
            "the member's PUT landed first: {landed:?}\n{}\n{}",
            run.out,
            run.err
        );
        (run, other)
    }
}

/// A hook run once, before the proxy passes on a PUT to this path.
type Hook = (String, Box<dyn FnOnce() + Send>);

/// A small HTTP proxy in front of Radicale (HTTP/1.0, one request per
/// connection, as Radicale itself answers).
struct Proxy {
    port: u16,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hook: Arc<Mutex<Option<Hook>>> = Arc::new(Mutex::new(None));
        let hooks = Arc::clone(&hook);
        // The thread ends with the test process: it only ever waits in
        // `accept` once the scenario is over.
        std::thread::spawn(move || {
            for conn in listener.incoming().filter_map(Result::ok) {
                let hooks = Arc::clone(&hooks);
                std::thread::spawn(move || relay(conn, upstream, &hooks));
            }
        });
        Proxy { port, hook }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn before_put(&self, path: &str, f: impl FnOnce() + Send + 'static) {
        *self.hook.lock().unwrap() = Some((path.to_string(), Box::new(f)));
    }
}

/// Where the head of an HTTP message ends (after the blank line).
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The head's lines with any `Connection` header replaced by `close`.
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .trim_end()
        .split("\r\n")
        .filter(|l| {
            !l.to_ascii_lowercase().starts_with("connection:")
                && !l.to_ascii_lowercase().starts_with("keep-alive:")
        })
        .collect();
    lines.push("Connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

fn relay(mut client: TcpStream, upstream: u16, hooks: &Mutex<Option<Hook>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < end + length {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let mut request_line = head.split_whitespace();
    let (method, path) = (request_line.next(), request_line.next());
    if method == Some("PUT") {
        let mut slot = hooks.lock().unwrap();
        if slot.as_ref().is_some_and(|(p, _)| Some(p.as_str()) == path) {
            let (_, f) = slot.take().unwrap();
            drop(slot);
            f();
        }
    }
    let mut request = closing(&head).into_bytes();
    request.extend_from_slice(&buf[end..end + length]);
    let reply = forward(upstream, &request);
    let reply = match head_end(&reply) {
        Some(end) => {
            let mut r = closing(&String::from_utf8_lossy(&reply[..end])).into_bytes();
            r.extend_from_slice(&reply[end..]);
            r
        }
        None => reply,
    };
    let _ = client.write_all(&reply);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// Send one request to Radicale and read its whole answer.
fn forward(upstream: u16, request: &[u8]) -> Vec<u8> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    up.write_all(request).unwrap();
    let mut reply = Vec::new();
    let _ = up.read_to_end(&mut reply);
    reply
}

fn put_request(path: &str, auth: &str, etag: &str, body: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut r = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\nIf-Match: {etag}\r\nContent-Type: text/calendar; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        base64::engine::general_purpose::STANDARD.encode(auth),
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn status_of(reply: &[u8]) -> u16 {
    String::from_utf8_lossy(reply)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The world itself, before gatekeeper can run on it: the organizer's
/// copies, an edit passed on, a member's answer, all read back from the
/// server (which rewrites what it is given).
#[test]
fn the_caldav_world_plays_the_organizer_and_the_members() {
    let ms = members(2);
    let mut w = Caldav::new(&ms, "decline");
    let ids = w.add_invites_read_together(&[
        Invite::new("one", "", &ms),
        Invite::new("two", AGENDA, &ms[..1]),
    ]);
    for m in &ms {
        assert_eq!(w.partstat_of(m, &ids[0]), NEEDS_ACTION);
        assert_eq!(w.comment_of(m, &ids[0]), None);
    }
    let before = w.copy_state(&ms[1], &ids[0]);
    w.edit_description(&ids[0], AGENDA);
    assert_ne!(w.copy_state(&ms[1], &ids[0]), before);
    assert!(crate::common::unfold(&w.copy(&ms[1], &ids[0]).0).contains(AGENDA));
    w.member_answers(&ms[0], &ids[0], ACCEPTED);
    assert_eq!(w.partstat_of(&ms[0], &ids[0]), ACCEPTED);
    assert_eq!(w.partstat_of(&ms[1], &ids[0]), NEEDS_ACTION);
    assert_eq!(w.partstat_of(&ms[0], &ids[1]), NEEDS_ACTION);
    // The edit reached only the invite it was for.
    w.edit_description(&ids[1], "");
    assert!(!w.copy(&ms[0], &ids[1]).0.contains("DESCRIPTION"));
    assert!(crate::common::unfold(&w.copy(&ms[0], &ids[0]).0).contains(AGENDA));
    // One delegated source reads every member's calendars.
    let config = std::fs::read_to_string(w.config()).unwrap();
    assert_eq!(config.matches("kind = \"caldav\"").count(), 1, "{config}");
    assert!(config.contains("members = [\"m0@example.com\", \"m1@example.com\"]"));
}
