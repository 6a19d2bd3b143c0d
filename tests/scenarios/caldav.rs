//! CalDAV: a real Radicale server started for the scenario
//! (`common::radicale`), one user per member with a `work` calendar, and
//! the delegated `gatekeeper` account that may read and write every
//! member's calendars. Radicale does no scheduling (RFC 6638): the test
//! plays the organizer's server, putting each attendee's copy into their
//! calendar and passing the organizer's edits on, and the members' phones,
//! which PUT their answers.

use std::collections::HashMap;
use std::path::Path;

use crate::common::radicale::{DELEGATE, Radicale};
use crate::world::*;

pub struct Caldav {
    dir: tempfile::TempDir,
    server: Radicale,
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
        let password_file = server.password_file(DELEGATE, dir.path());
        write_policy(dir.path(), TEAM, members, action);
        let mut config = format!("{POLICIES}\n[store]\nsqlite = \"state.db\"\n");
        for m in members {
            server.mkcalendar(user(m), "work");
        }
        config.push_str(&source_config(members, &server.base_url(), &password_file));
        std::fs::write(dir.path().join("gatekeeper.toml"), config).unwrap();
        Caldav {
            dir,
            server,
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
