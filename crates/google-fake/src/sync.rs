//! `events.list`: full sync (live events, cancelled ones only with
//! `showDeleted`) and incremental sync (every copy changed since the sync
//! token, cancelled ones reduced to their id), both paged. A listing is a
//! snapshot at the change-log position of its first page: later changes
//! wait for the next sync token. Tokens are opaque base64 of a small JSON
//! record; clients must not read them. A token the fake did not issue in
//! this life (it restarted, so it does not know the token) answers 410
//! `fullSyncRequired`, as Google answers for a token it no longer knows;
//! one that is not a token at all, or that a test marked refused, answers
//! 400 "Invalid sync token value.".

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::store::{Store, rfc3339};

#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub sync_token: Option<String>,
    pub page_token: Option<String>,
    pub max_results: Option<String>,
    pub single_events: bool,
    pub show_deleted: bool,
    pub time_min: Option<String>,
    pub time_max: Option<String>,
    pub updated_min: Option<String>,
    pub q: Option<String>,
    pub ical_uid: Option<String>,
    pub order_by: Option<String>,
    pub private_extended_property: Vec<String>,
    pub shared_extended_property: Vec<String>,
    pub event_types: Vec<String>,
}

impl ListQuery {
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let mut q = ListQuery::default();
        let boolean = |v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::invalid(&format!("Invalid boolean value: `{v}`"))),
        };
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "syncToken" => q.sync_token = Some(v),
                "pageToken" => q.page_token = Some(v),
                "maxResults" => q.max_results = Some(v),
                "singleEvents" => q.single_events = boolean(&v)?,
                "showDeleted" => q.show_deleted = boolean(&v)?,
                "timeMin" => q.time_min = Some(v),
                "timeMax" => q.time_max = Some(v),
                "updatedMin" => q.updated_min = Some(v),
                "q" => q.q = Some(v),
                "iCalUID" => q.ical_uid = Some(v),
                "orderBy" => q.order_by = Some(v),
                "privateExtendedProperty" => q.private_extended_property.push(v),
                "sharedExtendedProperty" => q.shared_extended_property.push(v),
                "eventTypes" => q.event_types.push(v),
                _ => {}
            }
        }
        Ok(q)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SyncToken {
    c: String,
    s: u64,
    e: bool,
    /// The fake's life the token was issued in.
    #[serde(default)]
    g: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PageToken {
    c: String,
    lo: Option<u64>,
    hi: u64,
    after: String,
}

fn encode<T: serde::Serialize>(prefix: &str, t: &T) -> String {
    let json = serde_json::to_vec(t).unwrap_or_default();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(json))
}

fn decode<T: serde::de::DeserializeOwned>(prefix: &str, s: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(s.strip_prefix(prefix)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn parse_time(name: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::invalid(&format!("Bad Request: `{name}` is not RFC 3339"))),
    }
}

/// An event's start or end instant; all-day dates are read as UTC midnight.
fn instant(ev: &Value, which: &str) -> Option<DateTime<Utc>> {
    let t = ev.get(which)?;
    if let Some(s) = t.get("dateTime").and_then(Value::as_str) {
        return DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let d = chrono::NaiveDate::parse_from_str(t.get("date")?.as_str()?, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

struct Filters {
    time_min: Option<DateTime<Utc>>,
    time_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
}

fn matches(ev: &Value, q: &ListQuery, f: &Filters) -> bool {
    let recurring = ev.get("recurrence").is_some();
    if let Some(min) = f.time_min
        && !recurring
        && instant(ev, "end")
            .or_else(|| instant(ev, "start"))
            .is_some_and(|e| e <= min)
    {
        return false;
    }
    if let Some(max) = f.time_max
        && instant(ev, "start").is_some_and(|s| s >= max)
    {
        return false;
    }
    if let Some(min) = f.updated_min
        && ev
            .get("updated")
            .and_then(Value::as_str)
            .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
            .is_some_and(|u| u < min)
    {
        return false;
    }
    if let Some(uid) = &q.ical_uid
        && ev.get("iCalUID").and_then(Value::as_str) != Some(uid)
    {
        return false;
    }
    if let Some(text) = &q.q {
        let text = text.to_lowercase();
        let hay = ["summary", "description", "location"]
            .iter()
            .filter_map(|k| ev.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if !hay.contains(&text) {
            return false;
        }
    }
    for (list, which) in [
        (&q.private_extended_property, "private"),
        (&q.shared_extended_property, "shared"),
    ] {
        for cond in list {
            let (k, v) = cond.split_once('=').unwrap_or((cond, ""));
            let have = ev
                .pointer(&format!("/extendedProperties/{which}/{k}"))
                .and_then(Value::as_str);
            if have != Some(v) {
                return false;
            }
        }
    }
    if !q.event_types.is_empty() {
        let t = ev
            .get("eventType")
            .and_then(Value::as_str)
            .unwrap_or("default");
        if !q.event_types.iter().any(|w| w == t) {
            return false;
        }
    }
    true
}

/// One page of `owner`'s events.
pub(crate) fn list(store: &Store, owner: &str, q: &ListQuery) -> Result<Value, ApiError> {
    let cal = store
        .calendars
        .get(&owner.to_ascii_lowercase())
        .ok_or_else(ApiError::not_found)?;
    if q.sync_token.is_some()
        && (q.time_min.is_some()
            || q.time_max.is_some()
            || q.updated_min.is_some()
            || q.q.is_some()
            || q.ical_uid.is_some()
            || q.order_by.is_some()
            || !q.private_extended_property.is_empty()
            || !q.shared_extended_property.is_empty())
    {
        return Err(ApiError::invalid(
            "Sync token cannot be combined with timeMin, timeMax, updatedMin, q, iCalUID, orderBy or extended property filters.",
        ));
    }
    if q.single_events {
        return Err(ApiError::invalid(
            "singleEvents=true is not implemented by the fake (it does not expand recurring events)",
        ));
    }
    match q.order_by.as_deref() {
        None | Some("updated") => {}
        Some("startTime") => {
            return Err(ApiError::invalid(
                "The requested ordering is not available for the particular query.",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid(&format!(
                "Invalid value for orderBy: `{other}`"
            )));
        }
    }
    let max_results = match &q.max_results {
        None => 250,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => n.min(2500) as usize,
            _ => {
                return Err(ApiError::invalid(&format!(
                    "Invalid value for maxResults: `{s}`"
                )));
            }
        },
    };
    let filters = Filters {
        time_min: parse_time("timeMin", &q.time_min)?,
        time_max: parse_time("timeMax", &q.time_max)?,
        updated_min: parse_time("updatedMin", &q.updated_min)?,
    };
    if let (Some(min), Some(max)) = (filters.time_min, filters.time_max)
        && min >= max
    {
        return Err(ApiError::invalid("The specified time range is empty."));
    }

    let (lo, hi, after) = match &q.page_token {
        Some(p) => {
            let p: PageToken = decode("P", p)
                .filter(|p: &PageToken| p.c == cal.owner)
                .ok_or_else(|| ApiError::invalid("Invalid page token value."))?;
            (p.lo, p.hi, Some(p.after))
        }
        None => {
            let lo = match &q.sync_token {
                Some(s) => {
                    let t: SyncToken = decode("S", s)
                        .filter(|t: &SyncToken| t.c == cal.owner)
                        .ok_or_else(|| ApiError::invalid("Invalid sync token value."))?;
                    if t.g != store.epoch || t.s > store.seq {
                        return Err(ApiError::full_sync_required());
                    }
                    if t.s < cal.refused_before {
                        return Err(ApiError::invalid("Invalid sync token value."));
                    }
                    if t.e != q.single_events {
                        return Err(ApiError::invalid(
                            "singleEvents must be the same as in the sync that issued the sync token",
                        ));
                    }
                    Some(t.s)
                }
                None => None,
            };
            (lo, store.seq, None)
        }
    };
    if lo.is_some_and(|lo| lo < cal.valid_from) {
        return Err(ApiError::full_sync_required());
    }

    // (sort key, item). The key is the paging cursor, unique per item.
    let mut items: Vec<(String, Value)> = Vec::new();
    for (id, copy) in &cal.copies {
        if copy.changed > hi || lo.is_some_and(|lo| copy.changed <= lo) {
            continue;
        }
        let cancelled = store.is_cancelled(owner, id);
        let ev = if cancelled {
            if lo.is_none() && !q.show_deleted {
                continue;
            }
            store.render_deleted(owner, id)
        } else {
            store.render(owner, id)
        };
        let Some(ev) = ev else { continue };
        if !cancelled && !matches(&ev, q, &filters) {
            continue;
        }
        let key = match q.order_by.as_deref() {
            Some("updated") => format!("{}|{id}", rfc3339(copy.updated)),
            _ => id.clone(),
        };
        items.push((key, ev));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = &after {
        items.retain(|(k, _)| k > after);
    }
    let more = items.len() > max_results;
    items.truncate(max_results);

    let calendar_updated = cal
        .copies
        .values()
        .map(|c| c.updated)
        .max()
        .map(rfc3339)
        .unwrap_or_else(|| rfc3339(Utc::now()));
    let mut page = json!({
        "kind": "calendar#events",
        "etag": format!("\"p{}\"", hi),
        "summary": cal.owner,
        "description": "",
        "updated": calendar_updated,
        "timeZone": cal.time_zone,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
    });
    if more {
        let after = items.last().map(|(k, _)| k.clone()).unwrap_or_default();
        page["nextPageToken"] = json!(encode(
            "P",
            &PageToken {
                c: cal.owner.clone(),
                lo,
                hi,
                after
            }
        ));
    } else {
        page["nextSyncToken"] = json!(encode(
            "S",
            &SyncToken {
                c: cal.owner.clone(),
                s: hi,
                e: q.single_events,
                g: store.epoch,
            }
        ));
    }
    page["items"] = Value::Array(items.into_iter().map(|(_, v)| v).collect());
    Ok(page)
}
