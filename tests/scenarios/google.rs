//! Google Calendar: the in-process fake of the Calendar API and its token
//! endpoint, with the service-account key only the fake trusts. The
//! organizer and the members act as they would in Google's UI.

// The one place the fake is imported from: when it moves into its own dev
// crate, only this line changes.
use gatekeeper_google_fake::FakeGoogle;

use std::path::Path;

use serde_json::{Value, json};

use crate::common;
use crate::world::*;

pub struct Google {
    dir: tempfile::TempDir,
    pub fake: FakeGoogle,
    /// Keeps the fake serving for as long as the world lives.
    _rt: tokio::runtime::Runtime,
}

/// iCalendar's PARTSTAT for Google's `responseStatus`, and back.
fn partstat(response_status: &str) -> &'static str {
    match response_status {
        "accepted" => ACCEPTED,
        "declined" => DECLINED,
        "tentative" => TENTATIVE,
        "needsAction" => NEEDS_ACTION,
        other => panic!("unknown responseStatus {other:?}"),
    }
}

fn response_status(partstat: &str) -> &'static str {
    match partstat {
        ACCEPTED => "accepted",
        DECLINED => "declined",
        TENTATIVE => "tentative",
        NEEDS_ACTION => "needsAction",
        other => panic!("unknown PARTSTAT {other:?}"),
    }
}

impl Google {
    /// The member's own attendee entry on their copy.
    fn me(&self, member: &str, id: &Id) -> Value {
        let e = self
            .fake
            .event_as(member, &id.0)
            .unwrap_or_else(|| panic!("{member} has no copy of {id:?}"));
        e["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == member)
            .unwrap_or_else(|| panic!("{member} is not on {e}"))
            .clone()
    }
}

impl World for Google {
    fn new(members: &[String], action: &str) -> Google {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let repo = common::repo();
        let public =
            std::fs::read(repo.join("tests/fixtures/google/service-account-public.der")).unwrap();
        let fake = FakeGoogle::new(public);
        fake.start(rt.handle(), "127.0.0.1:0".parse().unwrap())
            .unwrap();
        fake.add_user(ORGANIZER, "America/New_York");
        for m in members {
            fake.add_user(m, "Europe/Lisbon");
        }
        let dir = tempfile::tempdir().unwrap();
        write_policy(dir.path(), TEAM, members, action);
        let mut key: Value = serde_json::from_str(
            &std::fs::read_to_string(repo.join("tests/fixtures/google/service-account.json"))
                .unwrap(),
        )
        .unwrap();
        key["token_uri"] = json!(fake.token_uri());
        let key_path = dir.path().join("key.json");
        std::fs::write(&key_path, key.to_string()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let list = members
            .iter()
            .map(|m| format!("\"{m}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            dir.path().join("gatekeeper.toml"),
            format!(
                "{POLICIES}poll_seconds = 3600\n\n[store]\nsqlite = \"state.db\"\n\n[[source]]\nkind = \"google\"\nname = \"google\"\nservice_account_key = \"key.json\"\nmembers = [{list}]\napi_base = \"{}\"\n",
                fake.api_base()
            ),
        )
        .unwrap();
        Google { dir, fake, _rt: rt }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn add_invites_read_together(&mut self, invites: &[Invite]) -> Vec<Id> {
        // Google hands every change since the last sync over in one batch:
        // invites added before a run are read together.
        invites
            .iter()
            .map(|i| {
                let attendees: Vec<Value> = std::iter::once(ORGANIZER)
                    .chain(i.attendees.iter().map(String::as_str))
                    .map(|a| json!({"email": a}))
                    .collect();
                let mut event = json!({
                    "summary": i.summary,
                    "start": {"dateTime": "2026-12-01T10:00:00Z", "timeZone": "Europe/Lisbon"},
                    "end": {"dateTime": "2026-12-01T10:30:00Z", "timeZone": "Europe/Lisbon"},
                    "attendees": attendees,
                });
                if !i.description.is_empty() {
                    event["description"] = json!(i.description);
                }
                Id(self.fake.insert_event(ORGANIZER, event))
            })
            .collect()
    }

    fn edit_description(&mut self, id: &Id, description: &str) {
        self.fake
            .update_event(ORGANIZER, &id.0, json!({ "description": description }));
    }

    fn pass_answers_on(&mut self, _id: &Id) {
        // Google shows every attendee's answer on every copy already.
    }

    fn member_answers(&mut self, member: &str, id: &Id, partstat: &str) {
        self.fake
            .respond_as(member, &id.0, response_status(partstat));
    }

    fn partstat_of(&self, member: &str, id: &Id) -> String {
        partstat(
            self.me(member, id)["responseStatus"]
                .as_str()
                .unwrap_or("needsAction"),
        )
        .into()
    }

    fn comment_of(&self, member: &str, id: &Id) -> Option<String> {
        self.me(member, id)["comment"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    }

    fn copy_state(&self, member: &str, id: &Id) -> String {
        // What gatekeeper may change: the member's own entry and their
        // private properties (other attendees' answers echo into every
        // copy and move its etag). A write that puts back the same content
        // shows in `writes_landed`, which the scenarios check beside this.
        let copy = self.fake.event_as(member, &id.0).unwrap();
        format!(
            "{}\n{}",
            self.me(member, id),
            copy.pointer("/extendedProperties/private")
                .cloned()
                .unwrap_or_default()
        )
    }

    fn writes_landed(&self) -> Option<u64> {
        Some(self.fake.stats().answered("events.patch", 200))
    }
}
