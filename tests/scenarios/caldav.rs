//! CalDAV: a real Radicale server (placeholder until the harness lands).

use std::path::Path;

use crate::world::*;

pub struct Caldav {
    dir: tempfile::TempDir,
}

impl World for Caldav {
    fn new(_members: &[String], _action: &str) -> Caldav {
        Caldav {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn add_invites_read_together(&mut self, _invites: &[Invite]) -> Vec<Id> {
        todo!()
    }

    fn edit_description(&mut self, _id: &Id, _description: &str) {
        todo!()
    }

    fn member_answers(&mut self, _member: &str, _id: &Id, _partstat: &str) {
        todo!()
    }

    fn partstat_of(&self, _member: &str, _id: &Id) -> String {
        todo!()
    }

    fn comment_of(&self, _member: &str, _id: &Id) -> Option<String> {
        todo!()
    }

    fn copy_state(&self, _member: &str, _id: &Id) -> String {
        todo!()
    }

    fn writes_landed(&self) -> Option<u64> {
        None
    }
}
