//! CalDAV servers (RFC 4791): Nextcloud, Fastmail, iCloud, SOGo, Radicale,
//! Baïkal, Xandikos. `client` is the bounded HTTP layer (credentials, one
//! origin, timeouts, size caps, retries), `xml` the WebDAV bodies,
//! `discovery` finds each member's calendars, `sync` what changed since a
//! cursor. This file ties them to the config and offers blocking calls (the
//! daemon is synchronous; the calls run on a tokio runtime the source
//! holds).
//!
//! Writes are `PUT` with `If-Match: <etag of the copy the verdict was made
//! on>`: a 412 is a conflict (read again, decide again) unless the error
//! body names a precondition that no re-read can fix (`no-uid-conflict`,
//! `attendee-allowed`, ...), which is permanent for that write. Servers
//! rewrite what is PUT (Radicale re-serialises, Xandikos drops some
//! properties): the returned or re-read ETag is the only version, the bytes
//! sent are never compared with anything.
//!
//! Must not: write without `If-Match`, retry a write, follow a redirect or
//! an href to another origin, or show a credential anywhere.

pub mod calendar;
pub mod check;
pub mod client;
pub mod discovery;
pub mod sync;
pub mod xml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;

use crate::config::{Mode, Secret, SourceConfig};
use client::{Auth, DavClient, DavError};
use discovery::CalendarInfo;

/// What is percent-encoded in one path segment (an item name, a user name
/// in a template): everything but RFC 3986's unreserved characters.
pub const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How members map to principals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// The login is the member's own: their principal is the server's
    /// `current-user-principal`.
    Own { member: String },
    /// A delegated (or admin) login reads every member's calendars: each
    /// member's principal is the template with `{user}` (the address
    /// before `@`) or `{email}` filled in, relative to the server URL.
    Delegated {
        members: Vec<String>,
        template: String,
    },
}

/// A CalDAV source as configured, credentials read.
#[derive(Debug, Clone)]
pub struct CaldavSettings {
    pub name: String,
    pub url: Url,
    pub auth: Auth,
    pub principals: Principals,
    pub mode: Option<Mode>,
    pub max_item_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CaldavError {
    #[error("source `{source_name}`: {reason}")]
    Config { source_name: String, reason: String },
    #[error("source `{source_name}`: cannot read the credentials file `{path}`: {reason}")]
    Credentials {
        source_name: String,
        path: String,
        reason: String,
    },
    #[error(transparent)]
    TooOpen(#[from] crate::source::google::auth::AuthError),
    #[error(transparent)]
    Dav(#[from] DavError),
}

/// Read a password or token file: only its owner may read it (as Google
/// key files), and one trailing line break is not part of the secret.
pub fn read_secret(source: &str, path: &Path) -> Result<Secret, CaldavError> {
    let unreadable = |reason: String| CaldavError::Credentials {
        source_name: source.to_string(),
        path: path.display().to_string(),
        reason,
    };
    crate::source::google::auth::check_private(path).map_err(|e| match e {
        crate::source::google::auth::AuthError::KeyUnreadable { reason, .. } => unreadable(reason),
        other => CaldavError::TooOpen(other),
    })?;
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let secret = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(unreadable("the file is empty".into()));
    }
    Ok(Secret::new(secret))
}

impl CaldavSettings {
    /// The settings of a `kind = "caldav"` source. `team` is every member
    /// of every policy: a delegated source without `members` serves them.
    pub fn from_config(
        s: &SourceConfig,
        team: &[String],
        max_item_bytes: usize,
    ) -> Result<CaldavSettings, CaldavError> {
        let SourceConfig::Caldav {
            name,
            url,
            user,
            password_file,
            token_file,
            member,
            members,
            principal_url,
            mode,
        } = s
        else {
            return Err(CaldavError::Config {
                source_name: s.name().to_string(),
                reason: "not a CalDAV source".into(),
            });
        };
        let config = |reason: &str| CaldavError::Config {
            source_name: name.clone(),
            reason: reason.to_string(),
        };
        let url = client::check_server_url(url)?;
        let auth = match (password_file, token_file, user) {
            (Some(p), None, Some(user)) => Auth::Basic {
                user: user.clone(),
                password: read_secret(name, p)?,
            },
            (Some(_), None, None) => {
                return Err(config("`password_file` needs `user`, the login name"));
            }
            (None, Some(t), _) => Auth::Bearer {
                token: read_secret(name, t)?,
            },
            (Some(_), Some(_), _) => {
                return Err(config("set `password_file` or `token_file`, not both"));
            }
            (None, None, _) => {
                return Err(config("set `password_file` (with `user`) or `token_file`"));
            }
        };
        let principals = match (member, members, principal_url) {
            (Some(m), None, None) => Principals::Own { member: m.clone() },
            (None, members, Some(template)) => Principals::Delegated {
                members: members.clone().unwrap_or_else(|| team.to_vec()),
                template: template.clone(),
            },
            (Some(_), _, _) => {
                return Err(config(
                    "`member` (one member's own login) goes without `members` and `principal_url` (a delegated login)",
                ));
            }
            (None, _, None) => {
                return Err(config(
                    "set `member` (the login is that member's own) or `principal_url` (a delegated login that reads every member's calendars)",
                ));
            }
        };
        Ok(CaldavSettings {
            name: name.clone(),
            url,
            auth,
            principals,
            mode: *mode,
            max_item_bytes,
        })
    }

    pub fn members(&self) -> Vec<String> {
        match &self.principals {
            Principals::Own { member } => vec![member.clone()],
            Principals::Delegated { members, .. } => members.clone(),
        }
    }
}

/// Why a conditional write was not made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The item is not the version the answer was decided on (412 with no
    /// other precondition named): read it again, decide again.
    #[error("{url} changed since it was read; it will be read again")]
    Conflict { url: String },
    /// The server refuses this write whatever the version (a precondition
    /// such as `no-uid-conflict` or `attendee-allowed`, 403, 409, 415...):
    /// it is not retried.
    #[error(
        "{url}: the server refuses the answer ({status}{}); not retried",
        conditions_note(conditions)
    )]
    Refused {
        url: String,
        status: u16,
        conditions: Vec<String>,
    },
    /// The request failed or its answer was lost: whether it was written
    /// is unknown, so the item is read again before anything else.
    #[error(transparent)]
    Dav(#[from] DavError),
}

fn conditions_note(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(": {}", conditions.join(", "))
    }
}

/// A member's calendar item as read with GET: the bytes exactly as the
/// server sent them, and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// One CalDAV server: the client, the runtime its calls run on, and the
/// calendars discovered per member (found once, found again when a
/// calendar disappears).
pub struct CaldavSource {
    settings: CaldavSettings,
    client: Arc<DavClient>,
    runtime: Arc<tokio::runtime::Runtime>,
    /// When each member's calendars were found, and what was found.
    calendars: Mutex<HashMap<String, (std::time::Instant, Vec<CalendarInfo>)>>,
}

impl std::fmt::Debug for CaldavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaldavSource")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A runtime for a CalDAV source used on its own (tests, `report`).
pub fn own_runtime() -> std::io::Result<Arc<tokio::runtime::Runtime>> {
    Ok(Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    ))
}

impl CaldavSource {
    pub fn new(
        settings: CaldavSettings,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<CaldavSource, CaldavError> {
        let client = DavClient::new(
            settings.url.clone(),
            settings.auth.clone(),
            settings.max_item_bytes,
        )?;
        Ok(CaldavSource {
            settings,
            client: Arc::new(client),
            runtime,
            calendars: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &CaldavSettings {
        &self.settings
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// A member's principal URL.
    pub fn principal(&self, member: &str) -> Result<Url, DavError> {
        self.block_on(principal_of(
            &self.client,
            &self.settings.principals,
            member,
        ))
    }

    /// A member's event calendars, discovered now (and remembered).
    pub fn discover(&self, member: &str) -> Result<Vec<CalendarInfo>, DavError> {
        let found = self.block_on(discover(&self.client, &self.settings.principals, member))?;
        self.lock_calendars().insert(
            member.to_string(),
            (std::time::Instant::now(), found.clone()),
        );
        Ok(found)
    }

    /// What changed in each member's calendars since the cursors
    /// (`states`: calendar path → sync cursor), members synced
    /// concurrently (at most `CONCURRENT_MEMBERS` at a time) so a slow one
    /// (a refused login or token costs Radicale a second) does not hold
    /// the others up. In the members' order.
    pub fn sync_members(
        &self,
        members: &[String],
        states: &HashMap<String, String>,
    ) -> Vec<(String, MemberSync)> {
        let states = Arc::new(states.clone());
        let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MEMBERS));
        // Calendars found recently are used as they are; older lists are
        // found again, so a calendar a member adds is seen within
        // `REDISCOVER`.
        let cached: Vec<Option<Vec<CalendarInfo>>> = {
            let c = self.lock_calendars();
            members
                .iter()
                .map(|m| {
                    c.get(m)
                        .filter(|(at, _)| at.elapsed() < REDISCOVER)
                        .map(|(_, cals)| cals.clone())
                })
                .collect()
        };
        let results: Vec<(MemberSync, bool)> = self.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, (member, cached)) in members.iter().zip(cached).enumerate() {
                let client = Arc::clone(&self.client);
                let principals = self.settings.principals.clone();
                let states = Arc::clone(&states);
                let limit = Arc::clone(&limit);
                let member = member.clone();
                tasks.spawn(async move {
                    let _permit = limit.acquire().await;
                    let fresh = cached.is_none();
                    let calendars = match cached {
                        Some(c) => c,
                        None => match discover(&client, &principals, &member).await {
                            Ok(c) => c,
                            Err(e) => return (i, Err(e), fresh),
                        },
                    };
                    let mut out = Vec::new();
                    for calendar in calendars {
                        let delta = sync::changes(
                            &client,
                            &calendar.url,
                            states.get(&calendar.path).map(String::as_str),
                            calendar.supports_sync,
                        )
                        .await;
                        out.push((calendar, delta));
                    }
                    (i, Ok(out), fresh)
                });
            }
            let mut results: Vec<Option<(MemberSync, bool)>> =
                (0..members.len()).map(|_| None).collect();
            while let Some(done) = tasks.join_next().await {
                if let Ok((i, r, fresh)) = done {
                    results[i] = Some((r, fresh));
                }
            }
            results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        (
                            Err(DavError::Transport {
                                url: String::new(),
                                reason: "the sync task stopped".into(),
                            }),
                            false,
                        )
                    })
                })
                .collect()
        });
        let mut calendars = self.lock_calendars();
        members
            .iter()
            .cloned()
            .zip(results)
            .map(|(member, (r, fresh))| {
                match &r {
                    Ok(found) if fresh => {
                        calendars.insert(
                            member.clone(),
                            (
                                std::time::Instant::now(),
                                found.iter().map(|(c, _)| c.clone()).collect(),
                            ),
                        );
                    }
                    Ok(_) => {}
                    Err(_) => {
                        calendars.remove(&member);
                    }
                }
                (member, r)
            })
            .collect()
    }

    /// A member's calendars as last discovered, discovering them the first
    /// time.
    pub fn calendars(&self, member: &str) -> Result<Vec<CalendarInfo>, DavError> {
        if let Some((at, c)) = self.lock_calendars().get(member)
            && at.elapsed() < REDISCOVER
        {
            return Ok(c.clone());
        }
        self.discover(member)
    }

    /// Forget a member's calendars: the next call discovers them again
    /// (a calendar answered 404: deleted or moved).
    pub fn forget_calendars(&self, member: &str) {
        self.lock_calendars().remove(member);
    }

    fn lock_calendars(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (std::time::Instant, Vec<CalendarInfo>)>> {
        self.calendars.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What changed in one calendar since `cursor`.
    pub fn changes(
        &self,
        calendar: &CalendarInfo,
        cursor: Option<&str>,
    ) -> Result<sync::Delta, DavError> {
        self.block_on(sync::changes(
            &self.client,
            &calendar.url,
            cursor,
            calendar.supports_sync,
        ))
    }

    /// One item's bytes and etag (GET). `None` when it is gone (404).
    pub fn get(&self, calendar: &Url, name: &str) -> Result<Option<Item>, DavError> {
        let url = sync::item_url(calendar, name);
        let resp = self.block_on(self.client.send("GET", &url, &[], None, true))?;
        match resp.status {
            200 => match resp.etag {
                Some(etag) => Ok(Some(Item {
                    bytes: resp.body,
                    etag,
                })),
                // A server that sends no ETag on GET: the etag must be the
                // version of these very bytes, or a write conditional on it
                // could land over someone else's change. Ask before and
                // after a second read; unless both agree the item gets no
                // etag, which no write accepts (read again next pass).
                None => {
                    let before = self.etag_of(&url)?;
                    let again = self.block_on(self.client.send("GET", &url, &[], None, true))?;
                    match again.status {
                        200 => {}
                        404 | 410 => return Ok(None),
                        _ => return Err(client::status_error(&url, &again)),
                    }
                    let after = self.etag_of(&url)?;
                    let etag = match (before, after) {
                        (Some(b), Some(a)) if a == b => b,
                        _ => String::new(),
                    };
                    Ok(Some(Item {
                        bytes: again.body,
                        etag,
                    }))
                }
            },
            404 | 410 => Ok(None),
            _ => Err(client::status_error(&url, &resp)),
        }
    }

    fn etag_of(&self, url: &Url) -> Result<Option<String>, DavError> {
        let ms = self.block_on(self.client.propfind(url, "0", &[(xml::DAV, "getetag")]))?;
        Ok(ms
            .responses
            .iter()
            .find_map(|r| r.text(xml::DAV, "getetag")))
    }

    /// Replace an item only if it still has `etag`; returns the new etag.
    pub fn put_if_match(
        &self,
        calendar: &Url,
        name: &str,
        etag: &str,
        bytes: &[u8],
    ) -> Result<String, WriteError> {
        if etag.is_empty() {
            // Never an unconditional write.
            return Err(WriteError::Conflict {
                url: sync::item_url(calendar, name).to_string(),
            });
        }
        let url = sync::item_url(calendar, name);
        let resp = self.block_on(self.client.send(
            "PUT",
            &url,
            &[
                ("If-Match", etag),
                ("Content-Type", "text/calendar; charset=utf-8"),
            ],
            Some(bytes),
            false,
        ))?;
        match resp.status {
            200 | 201 | 204 => match resp.etag {
                Some(e) => Ok(e),
                // RFC 4791 section 5.3.4: a server that changed what was
                // PUT may send no ETag. An etag read back now might be a
                // version someone wrote since: taking it would let the next
                // answer in this item land over their change, and mark
                // their change as seen. No etag instead: no further write
                // to the item this pass, and the next pass reads it again.
                None => Ok(String::new()),
            },
            412 => {
                let conditions = xml::error_conditions(&resp.body);
                // A plain 412 (no body, or a body naming nothing) is the
                // If-Match failing. A named precondition is the server
                // refusing this content (Xandikos: `no-uid-conflict`,
                // `attendee-allowed`): re-reading would not change it.
                if conditions.is_empty() {
                    Err(WriteError::Conflict {
                        url: url.to_string(),
                    })
                } else {
                    Err(WriteError::Refused {
                        url: url.to_string(),
                        status: 412,
                        conditions,
                    })
                }
            }
            // 404: deleted since it was read; what is left to answer is
            // decided when the deletion is synced.
            404 | 410 => Err(WriteError::Conflict {
                url: url.to_string(),
            }),
            // Refusals of this content whatever the version: not retried
            // until the item changes.
            status @ (400 | 403 | 405 | 409 | 413 | 415 | 422) => Err(WriteError::Refused {
                url: url.to_string(),
                status,
                conditions: xml::error_conditions(&resp.body),
            }),
            // 5xx, 429, 408 and anything else: the server may or may not
            // have written it. Read again next pass, never remembered as
            // refused (that would leave the invite unanswered until it
            // changed or gatekeeper restarted).
            _ => Err(WriteError::Dav(client::status_error(&url, &resp))),
        }
    }

    /// Items with their data, in one `calendar-multiget` per 100 names.
    pub fn multiget(
        &self,
        calendar: &Url,
        names: &[String],
    ) -> Result<Vec<sync::Fetched>, DavError> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            out.extend(self.block_on(sync::multiget(&self.client, calendar, chunk))?);
        }
        Ok(out)
    }

    /// Every item of `member`'s calendars that overlaps `[from, to)`, with
    /// its data (`calendar-query` with a time-range).
    pub fn events_between(
        &self,
        member: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<sync::Fetched>, DavError> {
        let mut out = Vec::new();
        for calendar in self.calendars(member)? {
            out.extend(self.block_on(sync::query_range(&self.client, &calendar.url, from, to))?);
        }
        Ok(out)
    }
}

/// How long a member's list of calendars is used before it is found again.
const REDISCOVER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How many members are synced at once.
const CONCURRENT_MEMBERS: usize = 8;

/// One member's sync: their calendars, each with what changed in it, or
/// why their calendars could not be found.
pub type MemberSync = Result<Vec<(CalendarInfo, Result<sync::Delta, DavError>)>, DavError>;

async fn principal_of(
    client: &DavClient,
    principals: &Principals,
    member: &str,
) -> Result<Url, DavError> {
    match principals {
        Principals::Own { .. } => {
            let context = discovery::context_path(client).await?;
            discovery::current_user_principal(client, &context).await
        }
        Principals::Delegated { template, .. } => {
            discovery::principal_from_template(client, template, member)
        }
    }
}

async fn discover(
    client: &DavClient,
    principals: &Principals,
    member: &str,
) -> Result<Vec<CalendarInfo>, DavError> {
    let principal = principal_of(client, principals, member).await?;
    discovery::calendars_of(client, &principal).await
}

/// Where the password or token files of a source are, for `config check`.
pub fn credential_files(s: &SourceConfig) -> Vec<PathBuf> {
    match s {
        SourceConfig::Caldav {
            password_file,
            token_file,
            ..
        } => password_file.iter().chain(token_file).cloned().collect(),
        _ => Vec::new(),
    }
}
