//! Finding a member's calendars: `/.well-known/caldav` (RFC 6764), the
//! `current-user-principal`, its `calendar-home-set`, and the calendar
//! collections in it that hold events.
//!
//! Two ways to a member's principal:
//! - their own login: the well-known address, then `current-user-principal`;
//! - a delegated account: the config's `principal_url` template with the
//!   member's name filled in (`{user}` the part of the address before `@`,
//!   `{email}` the whole address), since `current-user-principal` names the
//!   delegate, not the member.

use reqwest::Url;

use super::client::{DavClient, DavError};
use super::xml::{CALDAV, CALSERVER, DAV};

/// One calendar collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarInfo {
    pub url: Url,
    /// The collection's path, percent-decoded: its identity in the store.
    pub path: String,
    pub display_name: Option<String>,
    /// `getctag` (Apple's extension): changes whenever anything in the
    /// collection does.
    pub ctag: Option<String>,
    /// The collection's current sync token, when it supports RFC 6578.
    pub sync_token: Option<String>,
    pub supports_sync: bool,
}

/// Redirects followed for the well-known address before giving up.
const MAX_REDIRECTS: usize = 5;

/// The context path the well-known address leads to, or the server URL
/// itself when the server has no well-known address (404, 405...).
///
/// Radicale answers 301, Xandikos 302, both with a relative `Location`
/// (RFC 9110 allows it); RFC 6764 says any redirect. Each hop is followed
/// by hand with PROPFIND again: an HTTP library would turn it into a GET.
pub async fn context_path(client: &DavClient) -> Result<Url, DavError> {
    let server = client.server().clone();
    let mut url = client.resolve(&server, "/.well-known/caldav")?;
    for _ in 0..MAX_REDIRECTS {
        let body = super::xml::propfind(&[(DAV, "current-user-principal")]);
        let resp = client
            .send(
                "PROPFIND",
                &url,
                &[("Depth", "0")],
                Some(body.as_bytes()),
                true,
            )
            .await?;
        match resp.status {
            301 | 302 | 303 | 307 | 308 => {
                let Some(location) = resp.location else {
                    return Ok(server);
                };
                url = client.resolve(&url, &location)?;
            }
            // The well-known address answers itself (a server that puts
            // its principal lookup there).
            207 => return Ok(url),
            _ => return Ok(server),
        }
    }
    Ok(server)
}

/// The principal of whoever is logged in.
pub async fn current_user_principal(client: &DavClient, start: &Url) -> Result<Url, DavError> {
    let ms = client
        .propfind(start, "0", &[(DAV, "current-user-principal")])
        .await?;
    let href = ms
        .responses
        .iter()
        .flat_map(|r| r.hrefs(DAV, "current-user-principal"))
        .next()
        .ok_or_else(|| DavError::Xml {
            url: start.to_string(),
            reason: "the server names no `current-user-principal`".into(),
        })?;
    client.resolve(start, &href)
}

/// The calendar home(s) of a principal.
pub async fn calendar_homes(client: &DavClient, principal: &Url) -> Result<Vec<Url>, DavError> {
    let ms = client
        .propfind(principal, "0", &[(CALDAV, "calendar-home-set")])
        .await?;
    let mut homes = Vec::new();
    for href in ms
        .responses
        .iter()
        .flat_map(|r| r.hrefs(CALDAV, "calendar-home-set"))
    {
        let url = client.resolve(principal, &href)?;
        if !homes.contains(&url) {
            homes.push(url);
        }
    }
    if homes.is_empty() {
        return Err(DavError::Xml {
            url: principal.to_string(),
            reason: "the principal has no `calendar-home-set`".into(),
        });
    }
    Ok(homes)
}

/// The event calendars directly inside a home.
pub async fn calendars_in(client: &DavClient, home: &Url) -> Result<Vec<CalendarInfo>, DavError> {
    let ms = client
        .propfind(
            home,
            "1",
            &[
                (DAV, "resourcetype"),
                (DAV, "displayname"),
                (DAV, "sync-token"),
                (DAV, "supported-report-set"),
                (CALSERVER, "getctag"),
                (CALDAV, "supported-calendar-component-set"),
            ],
        )
        .await?;
    let home_path = decoded_path(home);
    let mut out = Vec::new();
    for r in &ms.responses {
        let is_calendar = r
            .prop(DAV, "resourcetype")
            .is_some_and(|t| t.child(CALDAV, "calendar").is_some());
        if !is_calendar {
            continue;
        }
        // A collection without the property takes every component
        // (RFC 4791 section 5.2.3).
        let takes_events = r
            .prop(CALDAV, "supported-calendar-component-set")
            .is_none_or(|set| {
                set.children_named(CALDAV, "comp").any(|c| {
                    c.attr("name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("VEVENT"))
                })
            });
        if !takes_events {
            continue;
        }
        let url = client.resolve(home, &r.href)?;
        let path = decoded_path(&url);
        if path == home_path {
            continue;
        }
        let reports_sync = r.prop(DAV, "supported-report-set").is_some_and(|set| {
            set.children_named(DAV, "supported-report").any(|s| {
                s.child(DAV, "report")
                    .is_some_and(|rep| rep.child(DAV, "sync-collection").is_some())
            })
        });
        let sync_token = r.text(DAV, "sync-token");
        out.push(CalendarInfo {
            url,
            path,
            display_name: r.text(DAV, "displayname"),
            ctag: r.text(CALSERVER, "getctag"),
            supports_sync: reports_sync || sync_token.is_some(),
            sync_token,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Every event calendar of a principal (all its homes).
pub async fn calendars_of(
    client: &DavClient,
    principal: &Url,
) -> Result<Vec<CalendarInfo>, DavError> {
    let mut all = Vec::new();
    for home in calendar_homes(client, principal).await? {
        for c in calendars_in(client, &home).await? {
            if !all.iter().any(|a: &CalendarInfo| a.path == c.path) {
                all.push(c);
            }
        }
    }
    Ok(all)
}

/// A member's principal from the delegated account's template.
pub fn principal_from_template(
    client: &DavClient,
    template: &str,
    member: &str,
) -> Result<Url, DavError> {
    let user = member.split('@').next().unwrap_or(member);
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, super::PATH_SEGMENT).to_string();
    let filled = template
        .replace("{user}", &enc(user))
        .replace("{email}", &enc(member));
    client.resolve(client.server(), &filled)
}

/// A URL's path, percent-decoded: how hrefs are compared (servers differ
/// in what they encode: Radicale `%40`, Xandikos a plain `@`).
pub fn decoded_path(url: &Url) -> String {
    percent_encoding::percent_decode_str(url.path())
        .decode_utf8_lossy()
        .into_owned()
}
