//! `events.patch` on the caller's own calendar. The organizer may change
//! anything; an attendee only their own attendee entry (`responseStatus`,
//! `comment`, `additionalGuests`) and what is personal to their copy
//! (`extendedProperties.private`, reminders, colour). Anything else an
//! attendee sends must equal what is there, or the answer is 403
//! `forbiddenForNonOrganizer`, as Google answers.

use chrono::DateTime;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::store::{Store, same_email, split_personal};

/// Fields of one's own attendee entry that an attendee may change.
const OWN_ANSWER: [&str; 3] = ["responseStatus", "comment", "additionalGuests"];
/// Fields the server sets; clients' values are ignored.
const IGNORED: [&str; 12] = [
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
    "sequence",
    "attendeesOmitted",
];

/// Applies `body` as `caller`; returns the calendars that changed.
pub(crate) fn patch_as(
    store: &mut Store,
    caller: &str,
    id: &str,
    body: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, ApiError> {
    let Value::Object(patch) = body else {
        return Err(ApiError::invalid("The request body must be an event."));
    };
    let current = store.render(caller, id).ok_or_else(ApiError::not_found)?;
    if store.is_organizer(caller, id) {
        let mut touched = store.organizer_edit(id, patch, now)?;
        if !touched.iter().any(|t| same_email(t, caller)) {
            touched.extend(store.set_personal(caller, id, &Map::new(), now));
        }
        return Ok(touched);
    }

    let mut patch = patch.clone();
    let omitted = patch
        .get("attendeesOmitted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for k in IGNORED {
        patch.remove(k);
    }
    let personal = split_personal(&mut patch);
    if let Some(Value::Object(ext)) = patch.remove("extendedProperties")
        && let Some(shared) = ext.get("shared")
        && current.pointer("/extendedProperties/shared") != Some(shared)
    {
        return Err(ApiError::forbidden_for_non_organizer(
            "Shared properties can only be changed by the organizer of the event.",
        ));
    }
    let answer = match patch.remove("attendees") {
        Some(sent) => own_answer(caller, &current, &sent, omitted)?,
        None => Map::new(),
    };
    for (k, v) in &patch {
        if !same_value(k, current.get(k), v) {
            return Err(ApiError::forbidden_for_non_organizer(&format!(
                "Only the organizer can change `{k}` of this event."
            )));
        }
    }
    let mut touched = Vec::new();
    if !answer.is_empty() {
        touched.extend(store.set_response(caller, id, &answer, now)?);
    }
    // The caller's copy changes (etag, `updated`) with every patch.
    touched.extend(store.set_personal(caller, id, &personal, now));
    touched.sort();
    touched.dedup();
    Ok(touched)
}

/// The caller's own answer out of a sent attendee list, after checking that
/// nothing else in the list differs from what the caller's copy shows.
fn own_answer(
    caller: &str,
    current: &Value,
    sent: &Value,
    omitted: bool,
) -> Result<Map<String, Value>, ApiError> {
    let forbidden = || {
        ApiError::forbidden_for_non_organizer(
            "Only the organizer can change other attendees or add or remove attendees.",
        )
    };
    let Value::Array(sent) = sent else {
        return Err(ApiError::invalid("attendees must be a list"));
    };
    let empty = Vec::new();
    let existing = current
        .get("attendees")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let find = |email: &str| {
        existing.iter().find(|a| {
            a.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| same_email(e, email))
        })
    };
    if find(caller).is_none() {
        return Err(ApiError::forbidden_for_non_organizer(
            "The caller is not an attendee of this event.",
        ));
    }
    let mut answer = Map::new();
    for entry in sent {
        let Some(email) = entry.get("email").and_then(Value::as_str) else {
            return Err(ApiError::required("Missing attendee email."));
        };
        let Some(Value::Object(was)) = find(email) else {
            return Err(forbidden());
        };
        let Value::Object(entry) = entry else {
            return Err(ApiError::invalid("attendees must be objects"));
        };
        let mine = same_email(email, caller);
        for (k, v) in entry {
            if k == "self" || k == "id" {
                continue;
            }
            if mine && OWN_ANSWER.contains(&k.as_str()) {
                if was.get(k) != Some(v) {
                    answer.insert(k.clone(), v.clone());
                }
                continue;
            }
            if was.get(k) != Some(v) && !(k == "email" && v.as_str().is_some()) {
                return Err(forbidden());
            }
        }
        // Sending one's entry without a comment removes the comment, as
        // arrays replace whole in a patch.
        if mine && !omitted && entry.get("comment").is_none() && was.get("comment").is_some() {
            answer.insert("comment".into(), Value::Null);
        }
    }
    if !omitted {
        let mut sent_emails: Vec<String> = sent
            .iter()
            .filter_map(|a| a.get("email").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        let mut had: Vec<String> = existing
            .iter()
            .filter_map(|a| a.get("email").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        sent_emails.sort();
        had.sort();
        if sent_emails != had {
            return Err(forbidden());
        }
    }
    Ok(answer)
}

/// Equal as Google compares them: times by instant, everything else as JSON.
fn same_value(key: &str, current: Option<&Value>, sent: &Value) -> bool {
    let Some(current) = current else {
        return false;
    };
    if current == sent {
        return true;
    }
    if matches!(key, "start" | "end" | "originalStartTime") {
        let instant = |v: &Value| {
            v.get("dateTime")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        };
        let date = |v: &Value| v.get("date").cloned();
        return instant(current) == instant(sent) && date(current) == date(sent);
    }
    false
}
