//! Local folders: each member's calendar is a vdir folder
//! (`cal/<member>/work/`) that a sync tool or calendar app keeps; the
//! organizer's server hands every attendee a copy (a file per invite, or
//! one file holding several invites read together).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::world::*;

pub struct Vdir {
    dir: tempfile::TempDir,
    /// Which file holds which invite (the same name in every member's
    /// calendar).
    files: HashMap<Id, String>,
    /// Who is invited to what, for the organizer's edits.
    attendees: HashMap<Id, Vec<String>>,
}

fn local(member: &str) -> &str {
    member.split('@').next().unwrap()
}

impl Vdir {
    fn calendar(&self, member: &str) -> PathBuf {
        self.dir.path().join("cal").join(local(member)).join("work")
    }

    fn file(&self, member: &str, id: &Id) -> PathBuf {
        let name = self
            .files
            .get(id)
            .unwrap_or_else(|| panic!("no invite {id:?}"));
        self.calendar(member).join(name)
    }

    fn text(&self, member: &str, id: &Id) -> String {
        std::fs::read_to_string(self.file(member, id)).unwrap()
    }

    /// A client writes the member's file the way vdirsyncer and calendar
    /// apps do: a temporary file renamed over it.
    fn client_write(&self, path: &Path, text: &str) {
        let tmp = path.with_file_name(".client.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
}

impl World for Vdir {
    fn new(members: &[String], action: &str) -> Vdir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_policy(root, TEAM, members, action);
        let mut config = format!("{POLICIES}\n[store]\nsqlite = \"state.db\"\n");
        for m in members {
            std::fs::create_dir_all(root.join("cal").join(local(m)).join("work")).unwrap();
            config.push_str(&format!(
                "\n[[source]]\nkind = \"vdir\"\nname = \"{l}\"\nmember = \"{m}\"\npath = \"cal/{l}\"\n",
                l = local(m)
            ));
        }
        std::fs::write(root.join("gatekeeper.toml"), config).unwrap();
        Vdir {
            dir,
            files: HashMap::new(),
            attendees: HashMap::new(),
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn add_invites_read_together(&mut self, invites: &[Invite]) -> Vec<Id> {
        let ids: Vec<Id> = invites
            .iter()
            .map(|i| Id(format!("{}@example.com", i.name)))
            .collect();
        let file = format!(
            "{}.ics",
            invites
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("+")
        );
        let mut invited: Vec<&String> = invites.iter().flat_map(|i| &i.attendees).collect();
        invited.sort();
        invited.dedup();
        for m in invited {
            // Each member's copy holds the invites they are on.
            let events: Vec<String> = invites
                .iter()
                .zip(&ids)
                .filter(|(i, _)| i.attendees.contains(m))
                .map(|(i, id)| vevent(i, &id.0))
                .collect();
            std::fs::write(self.calendar(m).join(&file), vcalendar(&events)).unwrap();
        }
        for (i, id) in invites.iter().zip(&ids) {
            self.files.insert(id.clone(), file.clone());
            self.attendees.insert(id.clone(), i.attendees.clone());
        }
        ids
    }

    fn edit_description(&mut self, id: &Id, description: &str) {
        for m in self.attendees[id].clone() {
            let path = self.file(&m, id);
            let text = std::fs::read_to_string(&path).unwrap();
            self.client_write(&path, &ics::set_description(&text, &id.0, description));
        }
    }

    fn pass_answers_on(&mut self, id: &Id) {
        let invited = self.attendees[id].clone();
        let answers: Vec<(String, String)> = invited
            .iter()
            .map(|m| (m.clone(), self.partstat_of(m, id)))
            .collect();
        for m in &invited {
            let path = self.file(m, id);
            let mut text = std::fs::read_to_string(&path).unwrap();
            for (other, partstat) in answers.iter().filter(|(o, _)| o != m) {
                text = ics::answer(&text, &id.0, other, partstat);
            }
            self.client_write(&path, &text);
        }
    }

    fn member_answers(&mut self, member: &str, id: &Id, partstat: &str) {
        let path = self.file(member, id);
        let text = std::fs::read_to_string(&path).unwrap();
        self.client_write(&path, &ics::answer(&text, &id.0, member, partstat));
    }

    fn partstat_of(&self, member: &str, id: &Id) -> String {
        ics::partstat(&self.text(member, id), &id.0, member)
    }

    fn comment_of(&self, member: &str, id: &Id) -> Option<String> {
        let text = self.text(member, id);
        assert!(
            ics::markers(&text, &id.0) <= 1,
            "one marker at most:\n{text}"
        );
        ics::comment(&text, &id.0)
    }

    fn copy_state(&self, member: &str, id: &Id) -> String {
        // The bytes, and the file's identity: a write that put back the
        // same bytes still shows.
        use std::os::unix::fs::MetadataExt;
        let path = self.file(member, id);
        let meta = std::fs::metadata(&path).unwrap();
        format!(
            "inode {} mtime {}.{}\n{}",
            meta.ino(),
            meta.mtime(),
            meta.mtime_nsec(),
            self.text(member, id)
        )
    }

    fn writes_landed(&self) -> Option<u64> {
        None
    }
}
