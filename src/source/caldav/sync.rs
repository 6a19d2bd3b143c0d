//! What changed in a calendar since a cursor: RFC 6578 `sync-collection`
//! where the server has it, otherwise a listing of every item's etag
//! (PROPFIND Depth 1), skipped while the collection's `getctag` stays the
//! same. Also the bulk reads: `calendar-multiget` and a time-range
//! `calendar-query`.
//!
//! A cursor is an opaque string the store keeps: `sync <token>`,
//! `ctag <ctag>`, or `etags` (a server with neither). A token the server
//! refuses leads to one full listing, marked `complete`: the engine's
//! screenings make that answer nothing twice.

use reqwest::Url;

use super::client::{DavClient, DavError, status_error};
use super::discovery::decoded_path;
use super::xml::{CALDAV, CALSERVER, DAV};

/// One item as listed: its name inside the calendar (percent-decoded) and
/// its etag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub etag: String,
}

/// The answer to "what changed since this cursor".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// New and changed items.
    pub changed: Vec<Entry>,
    /// Names of items deleted since the cursor.
    pub deleted: Vec<String>,
    /// `changed` lists every item in the calendar: anything the caller
    /// knows that is not in it is gone.
    pub complete: bool,
    /// The server cut the report short more times than gatekeeper follows:
    /// the rest comes with the next pass.
    pub truncated: bool,
    /// Where the next call starts.
    pub cursor: String,
}

/// How many rounds a truncated sync report (507 on the collection) is
/// followed before the rest waits for the next pass.
const MAX_ROUNDS: usize = 100;

/// Changes in `calendar` since `cursor` (`None`: everything).
pub async fn changes(
    client: &DavClient,
    calendar: &Url,
    cursor: Option<&str>,
    supports_sync: bool,
) -> Result<Delta, DavError> {
    match cursor.and_then(|c| c.strip_prefix("sync ")) {
        Some(token) => match sync_collection(client, calendar, token).await {
            Ok(delta) => return Ok(delta),
            // Radicale answers 403, Xandikos 412, RFC 6578 says 403 or
            // 409: all with `valid-sync-token` in the error body. The token
            // is dropped and the calendar listed in full once.
            Err(e) if e.has_condition("valid-sync-token") => {
                tracing::info!("{calendar}: the server refused the sync token; listing in full");
            }
            Err(e) => return Err(e),
        },
        None => {
            if let Some(old) = cursor.and_then(|c| c.strip_prefix("ctag "))
                && let Some(now) = ctag(client, calendar).await?
                && now == old
            {
                return Ok(Delta {
                    cursor: format!("ctag {now}"),
                    ..Delta::default()
                });
            }
        }
    }
    if supports_sync {
        match sync_collection(client, calendar, "").await {
            Ok(mut delta) => {
                delta.complete = !delta.truncated;
                return Ok(delta);
            }
            // The server claimed RFC 6578 but does not take the report:
            // list etags instead.
            Err(DavError::Status {
                status: 400 | 403 | 404 | 405 | 415 | 501,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    list_etags(client, calendar).await
}

/// One sync-collection report, following truncation (507 on the
/// collection itself) for up to `MAX_ROUNDS` rounds.
async fn sync_collection(
    client: &DavClient,
    calendar: &Url,
    token: &str,
) -> Result<Delta, DavError> {
    let own = decoded_path(calendar);
    let mut delta = Delta::default();
    let mut token = token.to_string();
    // Each item's last word across the rounds: its etag, or `None` when
    // deleted. A map, so a large report costs a lookup per entry, not a
    // scan of what came before.
    let mut last: std::collections::BTreeMap<String, Option<String>> =
        std::collections::BTreeMap::new();
    let mut truncated = false;
    for _ in 0..MAX_ROUNDS {
        let ms = client
            .report(calendar, "0", &super::xml::sync_collection(&token))
            .await?;
        truncated = false;
        for r in &ms.responses {
            let url = client.resolve(calendar, &r.href)?;
            if decoded_path(&url) == own {
                truncated |= r.status == Some(507);
                continue;
            }
            let Some(name) = item_name(&own, &url) else {
                continue;
            };
            match (r.status, r.text(DAV, "getetag")) {
                (Some(404), _) => {
                    last.insert(name, None);
                }
                (_, Some(etag)) => {
                    last.insert(name, Some(etag));
                }
                _ => {}
            }
        }
        let Some(next) = ms.sync_token else {
            return Err(DavError::Xml {
                url: calendar.to_string(),
                reason: "the sync report carries no new sync token".into(),
            });
        };
        token = next;
        if !truncated {
            break;
        }
    }
    for (name, etag) in last {
        match etag {
            Some(etag) => delta.changed.push(Entry { name, etag }),
            None => delta.deleted.push(name),
        }
    }
    // Still cut short after `MAX_ROUNDS`: what was listed is real, but a
    // full listing that stopped early is not complete, or the items it did
    // not reach would be taken for deleted.
    delta.truncated = truncated;
    delta.cursor = format!("sync {token}");
    Ok(delta)
}

/// The collection's ctag, if the server keeps one.
async fn ctag(client: &DavClient, calendar: &Url) -> Result<Option<String>, DavError> {
    let ms = client
        .propfind(calendar, "0", &[(CALSERVER, "getctag")])
        .await?;
    Ok(ms
        .responses
        .iter()
        .find_map(|r| r.text(CALSERVER, "getctag")))
}

/// Every item's etag (PROPFIND Depth 1), with the collection's ctag as the
/// cursor when it has one.
pub async fn list_etags(client: &DavClient, calendar: &Url) -> Result<Delta, DavError> {
    let ms = client
        .propfind(
            calendar,
            "1",
            &[
                (DAV, "getetag"),
                (DAV, "resourcetype"),
                (CALSERVER, "getctag"),
            ],
        )
        .await?;
    let own = decoded_path(calendar);
    let mut delta = Delta {
        complete: true,
        cursor: "etags".into(),
        ..Delta::default()
    };
    for r in &ms.responses {
        let url = client.resolve(calendar, &r.href)?;
        if decoded_path(&url) == own {
            if let Some(c) = r.text(CALSERVER, "getctag") {
                delta.cursor = format!("ctag {c}");
            }
            continue;
        }
        let is_collection = r
            .prop(DAV, "resourcetype")
            .is_some_and(|t| t.child(DAV, "collection").is_some());
        if let (false, Some(name), Some(etag)) =
            (is_collection, item_name(&own, &url), r.text(DAV, "getetag"))
        {
            delta.changed.push(Entry { name, etag });
        }
    }
    Ok(delta)
}

/// An item read in bulk: its name, etag and iCalendar text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub name: String,
    pub etag: String,
    pub data: Vec<u8>,
}

/// Items with their data, `calendar-multiget` (RFC 4791 section 7.9).
pub async fn multiget(
    client: &DavClient,
    calendar: &Url,
    names: &[String],
) -> Result<Vec<Fetched>, DavError> {
    let hrefs: Vec<String> = names
        .iter()
        .map(|n| item_url(calendar, n).path().to_string())
        .collect();
    let ms = client
        .report(calendar, "1", &super::xml::calendar_multiget(&hrefs))
        .await?;
    fetched(client, calendar, &ms)
}

/// The events overlapping `[from, to)`, `calendar-query` with a time-range
/// (the server expands recurrences to decide which overlap).
pub async fn query_range(
    client: &DavClient,
    calendar: &Url,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Fetched>, DavError> {
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let body = super::xml::calendar_query(&fmt(from), &fmt(to));
    let resp = client
        .send(
            "REPORT",
            calendar,
            &[("Depth", "1")],
            Some(body.as_bytes()),
            true,
        )
        .await?;
    if resp.status != 207 {
        return Err(status_error(calendar, &resp));
    }
    let ms = client.multistatus(calendar, resp)?;
    fetched(client, calendar, &ms)
}

fn fetched(
    client: &DavClient,
    calendar: &Url,
    ms: &super::xml::Multistatus,
) -> Result<Vec<Fetched>, DavError> {
    let own = decoded_path(calendar);
    let mut out = Vec::new();
    for r in &ms.responses {
        let url = client.resolve(calendar, &r.href)?;
        let (Some(name), Some(data)) = (item_name(&own, &url), r.prop(CALDAV, "calendar-data"))
        else {
            continue;
        };
        out.push(Fetched {
            name,
            etag: r.text(DAV, "getetag").unwrap_or_default(),
            data: data.text.clone().into_bytes(),
        });
    }
    Ok(out)
}

/// The name of an item directly inside the collection at `own` (decoded).
fn item_name(own: &str, url: &Url) -> Option<String> {
    let path = decoded_path(url);
    let rest = path.strip_prefix(own)?;
    let own_slash = own.ends_with('/');
    let rest = if own_slash {
        rest
    } else {
        rest.strip_prefix('/')?
    };
    (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
}

/// The URL of the item `name` (decoded) in `calendar`.
pub fn item_url(calendar: &Url, name: &str) -> Url {
    let mut url = calendar.clone();
    let encoded = percent_encoding::utf8_percent_encode(name, super::PATH_SEGMENT).to_string();
    let mut path = calendar.path().to_string();
    if !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(&encoded);
    url.set_path(&path);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_are_direct_children_decoded() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            item_name("/ana/work/", &u("http://h/ana/work/a%40b.ics")).as_deref(),
            Some("a@b.ics")
        );
        assert_eq!(
            item_name("/ana/work", &u("http://h/ana/work/x.ics")).as_deref(),
            Some("x.ics")
        );
        assert_eq!(item_name("/ana/work/", &u("http://h/ana/work/")), None);
        assert_eq!(
            item_name("/ana/work/", &u("http://h/ana/work/sub/x.ics")),
            None
        );
        assert_eq!(
            item_name("/ana/work/", &u("http://h/ana/other/x.ics")),
            None
        );
        assert_eq!(
            item_url(&u("http://h/ana/work/"), "a@b c.ics").as_str(),
            "http://h/ana/work/a%40b%20c.ics"
        );
    }
}
