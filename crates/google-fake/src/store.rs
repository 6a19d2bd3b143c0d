//! The fake's calendars. An event has one organizer's version (`Master`)
//! and one copy per participant who is a known member (`Copy`); a copy adds
//! what is personal to its calendar (private extended properties, reminders,
//! colour) and whether the attendee was removed. Every change to a copy
//! moves it to the head of its calendar's change log (the log is kept
//! compacted: one sequence number per copy, which is all sync needs).
//! Responses live in the master's attendee list, so an answer reaches every
//! copy at once, as in Google. This module owns the rules of who may change
//! what; it does no I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::error::ApiError;

/// Fields of an event that belong to one attendee's copy only.
const PERSONAL: [&str; 2] = ["reminders", "colorId"];
/// Fields the server sets; clients' values are ignored.
const READ_ONLY: [&str; 10] = [
    "kind",
    "etag",
    "id",
    "updated",
    "created",
    "htmlLink",
    "iCalUID",
    "organizer",
    "creator",
    "hangoutLink",
];

pub(crate) struct Master {
    pub organizer: String,
    pub body: Map<String, Value>,
}

pub(crate) struct Copy {
    pub personal: Map<String, Value>,
    pub removed: bool,
    /// The calendar's change-log position of this copy's latest change.
    pub changed: u64,
    pub updated: DateTime<Utc>,
}

pub(crate) struct Calendar {
    pub owner: String,
    pub time_zone: String,
    pub copies: BTreeMap<String, Copy>,
    /// Sync tokens older than this position answer 410.
    pub valid_from: u64,
    /// Sync tokens older than this position answer 400 "Invalid sync
    /// token value." (the form some servers use instead of 410).
    pub refused_before: u64,
}

#[derive(Default)]
pub(crate) struct Store {
    pub masters: BTreeMap<String, Master>,
    pub calendars: BTreeMap<String, Calendar>,
    /// The last change-log position handed out (shared by all calendars).
    pub seq: u64,
    /// This life of the fake: tokens from another one are unknown.
    pub epoch: u64,
    next_id: u64,
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn same_email(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn email_of(v: &Value) -> Option<&str> {
    v.get("email").and_then(Value::as_str)
}

/// JSON merge with Google's patch rules: objects merge key by key, arrays
/// and scalars replace, `null` deletes.
pub fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (target.get_mut(k), v) {
            (_, Value::Null) => {
                target.remove(k);
            }
            (Some(Value::Object(t)), Value::Object(p)) => merge(t, p),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Store {
    pub fn new(epoch: u64) -> Store {
        Store {
            epoch,
            ..Store::default()
        }
    }

    pub fn add_calendar(&mut self, email: &str, time_zone: &str) {
        let key = email.to_ascii_lowercase();
        self.calendars
            .entry(key.clone())
            .and_modify(|c| c.time_zone = time_zone.to_string())
            .or_insert(Calendar {
                owner: key,
                time_zone: time_zone.to_string(),
                copies: BTreeMap::new(),
                valid_from: 0,
                refused_before: 0,
            });
    }

    pub fn expire_sync_tokens(&mut self, owner: &str) {
        // Moving the log on makes every token issued so far older than
        // `valid_from`, while the next full sync's token is not.
        self.seq += 1;
        let seq = self.seq;
        if let Some(c) = self.calendars.get_mut(&owner.to_ascii_lowercase()) {
            c.valid_from = seq;
        }
    }

    pub fn refuse_sync_tokens(&mut self, owner: &str) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(c) = self.calendars.get_mut(&owner.to_ascii_lowercase()) {
            c.refused_before = seq;
        }
    }

    fn touch(&mut self, owner: &str, id: &str, now: DateTime<Utc>) -> bool {
        let Some(copy) = self
            .calendars
            .get_mut(owner)
            .and_then(|c| c.copies.get_mut(id))
        else {
            return false;
        };
        self.seq += 1;
        copy.changed = self.seq;
        copy.updated = now;
        true
    }

    /// Known members taking part: the organizer and every attendee.
    fn participants(&self, master: &Master) -> Vec<String> {
        let mut out = vec![master.organizer.to_ascii_lowercase()];
        if let Some(Value::Array(list)) = master.body.get("attendees") {
            for a in list {
                if let Some(e) = email_of(a) {
                    out.push(e.to_ascii_lowercase());
                }
            }
        }
        out.sort();
        out.dedup();
        out.retain(|e| self.calendars.contains_key(e));
        out
    }

    /// After the master changed: every participant's copy is touched (made
    /// if missing), and a removed attendee's copy becomes cancelled.
    fn reconcile(&mut self, id: &str, now: DateTime<Utc>) -> Vec<String> {
        let Some(master) = self.masters.get(id) else {
            return Vec::new();
        };
        let participants = self.participants(master);
        let mut touched = Vec::new();
        let owners: Vec<String> = self.calendars.keys().cloned().collect();
        for owner in owners {
            let taking_part = participants.contains(&owner);
            let cal = self.calendars.get_mut(&owner).expect("key just listed");
            match cal.copies.get_mut(id) {
                Some(copy) if taking_part => copy.removed = false,
                Some(copy) if !copy.removed => copy.removed = true,
                Some(_) => continue,
                None if taking_part => {
                    cal.copies.insert(
                        id.to_string(),
                        Copy {
                            personal: Map::new(),
                            removed: false,
                            changed: 0,
                            updated: now,
                        },
                    );
                }
                None => continue,
            }
            self.touch(&owner, id, now);
            touched.push(owner);
        }
        touched
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        // Google ids use base32hex: lowercase a-v and digits.
        format!("ev{:08}", self.next_id)
    }

    /// An event made in the organizer's calendar UI.
    pub fn insert(
        &mut self,
        organizer: &str,
        event: &Value,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<String>), String> {
        let Value::Object(mut body) = event.clone() else {
            return Err("an event must be a JSON object".into());
        };
        let organizer = organizer.to_ascii_lowercase();
        let id = match body.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => match (
                body.get("recurringEventId").and_then(Value::as_str),
                body.get("originalStartTime")
                    .and_then(|o| o.get("dateTime").or_else(|| o.get("date")))
                    .and_then(Value::as_str),
            ) {
                (Some(master), Some(original)) => {
                    format!("{master}_{}", instance_suffix(original))
                }
                _ => self.new_id(),
            },
        };
        if self.masters.contains_key(&id) {
            return Err(format!("event `{id}` already exists"));
        }
        let personal = split_personal(&mut body);
        let stamp = rfc3339(now);
        body.insert("kind".into(), json!("calendar#event"));
        body.insert("id".into(), json!(id));
        body.entry("iCalUID")
            .or_insert_with(|| json!(format!("{id}@google.com")));
        body.entry("status").or_insert_with(|| json!("confirmed"));
        body.entry("eventType").or_insert_with(|| json!("default"));
        body.entry("sequence").or_insert_with(|| json!(0));
        body.insert("created".into(), json!(stamp));
        body.insert(
            "htmlLink".into(),
            json!(format!("https://www.google.com/calendar/event?eid={id}")),
        );
        let mut org = match body.remove("organizer") {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        org.insert("email".into(), json!(organizer));
        body.insert("organizer".into(), Value::Object(org.clone()));
        body.entry("creator")
            .or_insert_with(|| json!({"email": organizer}));
        if let Some(Value::Array(list)) = body.get_mut("attendees") {
            for a in list.iter_mut() {
                if let Value::Object(a) = a {
                    a.remove("self");
                    let is_org = a
                        .get("email")
                        .and_then(Value::as_str)
                        .is_some_and(|e| same_email(e, &organizer));
                    if is_org {
                        a.insert("organizer".into(), json!(true));
                        a.entry("responseStatus")
                            .or_insert_with(|| json!("accepted"));
                    } else {
                        a.entry("responseStatus")
                            .or_insert_with(|| json!("needsAction"));
                    }
                }
            }
            if !list.is_empty()
                && !list
                    .iter()
                    .any(|a| email_of(a).is_some_and(|e| same_email(e, &organizer)))
            {
                list.insert(
                    0,
                    json!({"email": organizer, "organizer": true, "responseStatus": "accepted"}),
                );
            }
        }
        self.masters.insert(
            id.clone(),
            Master {
                organizer: organizer.clone(),
                body,
            },
        );
        let touched = self.reconcile(&id, now);
        if !personal.is_empty()
            && let Some(copy) = self
                .calendars
                .get_mut(&organizer)
                .and_then(|c| c.copies.get_mut(&id))
        {
            copy.personal = personal;
        }
        Ok((id, touched))
    }

    pub fn is_organizer(&self, user: &str, id: &str) -> bool {
        self.masters
            .get(id)
            .is_some_and(|m| same_email(&m.organizer, user))
    }

    /// The organizer changes the event (in the UI or through the API).
    /// `caller_copy`: whose personal fields the patch's personal part goes to.
    pub fn organizer_edit(
        &mut self,
        id: &str,
        patch: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, ApiError> {
        let master = self.masters.get(id).ok_or_else(ApiError::not_found)?;
        let organizer = master.organizer.clone();
        let mut patch = patch.clone();
        for k in READ_ONLY {
            patch.remove(k);
        }
        let omitted = patch
            .remove("attendeesOmitted")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let personal = split_personal(&mut patch);

        if let Some(Value::Array(sent)) = patch.get("attendees").cloned() {
            let old: Vec<Value> = match master.body.get("attendees") {
                Some(Value::Array(l)) => l.clone(),
                _ => Vec::new(),
            };
            let mut list = if omitted { old.clone() } else { Vec::new() };
            for entry in sent {
                let Value::Object(mut entry) = entry else {
                    return Err(ApiError::invalid("attendees must be objects"));
                };
                let Some(email) = entry
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return Err(ApiError::required("Missing attendee email."));
                };
                entry.remove("self");
                let before = old
                    .iter()
                    .find(|a| email_of(a).is_some_and(|e| same_email(e, &email)));
                if same_email(&email, &organizer) {
                    entry.insert("organizer".into(), json!(true));
                    entry
                        .entry("responseStatus")
                        .or_insert_with(|| json!("accepted"));
                } else if let Some(Value::Object(before)) = before {
                    // An attendee's own answer is theirs: the organizer's
                    // edit keeps it.
                    for k in ["responseStatus", "comment", "additionalGuests"] {
                        match before.get(k) {
                            Some(v) => entry.insert(k.to_string(), v.clone()),
                            None => entry.remove(k),
                        };
                    }
                } else {
                    entry
                        .entry("responseStatus")
                        .or_insert_with(|| json!("needsAction"));
                }
                let entry = Value::Object(entry);
                match list
                    .iter_mut()
                    .find(|a| email_of(a).is_some_and(|e| same_email(e, &email)))
                {
                    Some(slot) => *slot = entry,
                    None => list.push(entry),
                }
            }
            patch.insert("attendees".into(), Value::Array(list));
        }

        let master = self.masters.get_mut(id).expect("checked above");
        let before = master.body.clone();
        merge(&mut master.body, &patch);
        let mut touched = Vec::new();
        if master.body != before {
            let seq = master
                .body
                .get("sequence")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            master.body.insert("sequence".into(), json!(seq + 1));
            touched = self.reconcile(id, now);
        }
        if !personal.is_empty() {
            touched.extend(self.set_personal(&organizer, id, &personal, now));
        }
        touched.sort();
        touched.dedup();
        Ok(touched)
    }

    /// An attendee's answer: their entry in the master's attendee list.
    pub fn set_response(
        &mut self,
        user: &str,
        id: &str,
        fields: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, ApiError> {
        let master = self.masters.get_mut(id).ok_or_else(ApiError::not_found)?;
        let Some(Value::Array(list)) = master.body.get_mut("attendees") else {
            return Err(ApiError::forbidden_for_non_organizer(
                "The caller is not an attendee of this event.",
            ));
        };
        let Some(Value::Object(entry)) = list
            .iter_mut()
            .find(|a| email_of(a).is_some_and(|e| same_email(e, user)))
        else {
            return Err(ApiError::forbidden_for_non_organizer(
                "The caller is not an attendee of this event.",
            ));
        };
        let before = entry.clone();
        for (k, v) in fields {
            if v.is_null() {
                entry.remove(k);
            } else {
                entry.insert(k.clone(), v.clone());
            }
        }
        if *entry == before {
            return Ok(Vec::new());
        }
        let participants = self.participants(self.masters.get(id).expect("found above"));
        let mut touched = Vec::new();
        for owner in participants {
            if self.touch(&owner, id, now) {
                touched.push(owner);
            }
        }
        Ok(touched)
    }

    /// What is personal to `user`'s copy: private properties (a value of
    /// `""` or `null` deletes the key), reminders, colour.
    pub fn set_personal(
        &mut self,
        user: &str,
        id: &str,
        personal: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let owner = user.to_ascii_lowercase();
        let Some(copy) = self
            .calendars
            .get_mut(&owner)
            .and_then(|c| c.copies.get_mut(id))
        else {
            return Vec::new();
        };
        for (k, v) in personal {
            match (k.as_str(), v) {
                ("private", Value::Object(p)) => {
                    let mine = copy.personal.entry("private").or_insert_with(|| json!({}));
                    if let Value::Object(mine) = mine {
                        for (pk, pv) in p {
                            if pv.is_null() || pv.as_str() == Some("") {
                                mine.remove(pk);
                            } else {
                                mine.insert(pk.clone(), pv.clone());
                            }
                        }
                    }
                }
                (_, Value::Null) => {
                    copy.personal.remove(k);
                }
                _ => {
                    copy.personal.insert(k.clone(), v.clone());
                }
            }
        }
        self.touch(&owner, id, now);
        vec![owner]
    }

    pub fn cancel(&mut self, id: &str, now: DateTime<Utc>) -> Vec<String> {
        let Some(master) = self.masters.get_mut(id) else {
            return Vec::new();
        };
        master.body.insert("status".into(), json!("cancelled"));
        let seq = master
            .body
            .get("sequence")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        master.body.insert("sequence".into(), json!(seq + 1));
        self.reconcile(id, now)
    }

    pub fn is_cancelled(&self, owner: &str, id: &str) -> bool {
        let copy = self
            .calendars
            .get(&owner.to_ascii_lowercase())
            .and_then(|c| c.copies.get(id));
        let master = self.masters.get(id);
        match (copy, master) {
            (Some(c), Some(m)) => {
                c.removed || m.body.get("status").and_then(Value::as_str) == Some("cancelled")
            }
            _ => true,
        }
    }

    pub fn etag(&self, owner: &str, id: &str) -> Option<String> {
        let copy = self
            .calendars
            .get(&owner.to_ascii_lowercase())?
            .copies
            .get(id)?;
        Some(etag(copy.changed))
    }

    /// `owner`'s copy as the API shows it to `owner`.
    pub fn render(&self, owner: &str, id: &str) -> Option<Value> {
        let owner = owner.to_ascii_lowercase();
        let copy = self.calendars.get(&owner)?.copies.get(id)?;
        let master = self.masters.get(id)?;
        let mut ev = master.body.clone();
        ev.insert("etag".into(), json!(etag(copy.changed)));
        ev.insert("updated".into(), json!(rfc3339(copy.updated)));
        if copy.removed {
            ev.insert("status".into(), json!("cancelled"));
        }
        ev.insert(
            "reminders".into(),
            copy.personal
                .get("reminders")
                .cloned()
                .unwrap_or_else(|| json!({"useDefault": true})),
        );
        if let Some(c) = copy.personal.get("colorId") {
            ev.insert("colorId".into(), c.clone());
        }
        if let Some(Value::Object(p)) = copy.personal.get("private")
            && !p.is_empty()
        {
            let ext = ev.entry("extendedProperties").or_insert_with(|| json!({}));
            if let Value::Object(ext) = ext {
                ext.insert("private".into(), Value::Object(p.clone()));
            }
        }
        if let Some(Value::Array(list)) = ev.get_mut("attendees") {
            for a in list.iter_mut() {
                if email_of(a).is_some_and(|e| same_email(e, &owner))
                    && let Value::Object(a) = a
                {
                    a.insert("self".into(), json!(true));
                }
            }
        }
        for k in ["organizer", "creator"] {
            if let Some(Value::Object(o)) = ev.get_mut(k)
                && o.get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| same_email(e, &owner))
            {
                o.insert("self".into(), json!(true));
            }
        }
        Some(Value::Object(ev))
    }

    /// A cancelled copy as incremental sync lists it: little beyond its id.
    pub fn render_deleted(&self, owner: &str, id: &str) -> Option<Value> {
        let copy = self
            .calendars
            .get(&owner.to_ascii_lowercase())?
            .copies
            .get(id)?;
        let master = self.masters.get(id)?;
        let mut ev = json!({
            "kind": "calendar#event",
            "etag": etag(copy.changed),
            "id": id,
            "status": "cancelled",
        });
        for k in ["recurringEventId", "originalStartTime"] {
            if let Some(v) = master.body.get(k) {
                ev[k] = v.clone();
            }
        }
        Some(ev)
    }
}

fn etag(changed: u64) -> String {
    format!("\"{}\"", 3_500_000_000_000_000u64 + changed)
}

/// Takes the personal part (private extended properties, reminders, colour)
/// out of a patch.
pub fn split_personal(patch: &mut Map<String, Value>) -> Map<String, Value> {
    let mut personal = Map::new();
    for k in PERSONAL {
        if let Some(v) = patch.remove(k) {
            personal.insert(k.to_string(), v);
        }
    }
    if let Some(Value::Object(ext)) = patch.get_mut("extendedProperties") {
        if let Some(p) = ext.remove("private") {
            personal.insert("private".into(), p);
        }
        if ext.is_empty() {
            patch.remove("extendedProperties");
        }
    }
    personal
}

/// `20260105T090000Z` from an RFC 3339 time, `20260105` from a date: the
/// suffix Google gives an instance's id.
pub fn instance_suffix(original: &str) -> String {
    match DateTime::parse_from_rfc3339(original) {
        Ok(t) => t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string(),
        Err(_) => original.replace('-', ""),
    }
}
