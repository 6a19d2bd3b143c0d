//! Google Calendar as a source: sync each member's primary calendar (full,
//! then incremental with sync tokens), respond by patching only the
//! member's own attendee entry, watch for push notifications. Every call
//! goes through `google-calendar3`, the client-side rate limiter, and the
//! retry policy in `retry`.
//!
//! This module does I/O; it maps Google's JSON into the domain (`map`) and
//! decides nothing.

pub mod auth;
pub mod fake;
pub mod limit;
pub mod map;
pub mod retry;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use google_calendar3::CalendarHub;
use google_calendar3::api::{self, Channel};
use google_calendar3::common;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use yup_oauth2::authenticator::DefaultAuthenticator;

use self::auth::{Credentials, SCOPES};
use self::limit::RateLimiter;
use self::map::{GoogleEvent, MARKER_KEY, Skip, map_event, partstat_to_google};
use self::retry::{Backoff, Class, Jitter, Seen, classify};
use crate::daemon::screen::Write;

type Hub = CalendarHub<HttpsConnector<HttpConnector>>;

/// How a Google source is set up (from the config file).
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub credentials: Credentials,
    /// Replaces `https://www.googleapis.com/calendar/v3/`.
    pub api_base: Option<String>,
    /// `all`, `externalOnly` or `none`: who Google emails about a response.
    pub send_updates: String,
    pub rate_per_user_per_minute: u32,
    pub rate_per_project_per_minute: u32,
    pub backoff: Backoff,
    /// `maxResults` for list calls (Google allows up to 2500).
    pub page_size: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 410: the sync token expired; sync this calendar in full.
    #[error("the sync token expired; a full sync is needed")]
    FullSyncRequired,
    /// 412: the event changed since it was read.
    #[error("the event changed while gatekeeper was answering it")]
    Conflict,
    /// Credentials, grant or scope problems: the member's sync stops with
    /// this message until someone fixes it.
    #[error("{0}")]
    Auth(String),
    /// A permanent error for this request: logged, never retried in a loop.
    #[error("{0}")]
    Permanent(String),
    /// Retries exhausted.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
}

/// One page-complete sync of a member's calendar.
#[derive(Debug, Default)]
pub struct SyncBatch {
    pub events: Vec<GoogleEvent>,
    /// Deleted events and deleted occurrences of series.
    pub cancelled: Vec<map::Cancelled>,
    /// Events that could not be mapped, with why.
    pub problems: Vec<String>,
    pub next_sync_token: String,
    pub full: bool,
    /// API calls this sync made, retries included.
    pub calls: u32,
}

impl SyncBatch {
    /// Map a page of Google events into the batch.
    fn take<'e>(&mut self, member: &str, items: impl Iterator<Item = &'e api::Event>) {
        for g in items {
            match map_event(g) {
                Ok(e) => self.events.push(e),
                Err(Skip::Cancelled(c)) => self.cancelled.push(c),
                Err(Skip::Unmappable { id, reason }) => {
                    self.problems
                        .push(format!("{member}: event `{id}` skipped: {reason}"));
                }
            }
        }
    }
}

/// A watch channel as Google answered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatchChannel {
    pub id: String,
    pub resource_id: String,
    pub token: String,
    /// Milliseconds since the epoch.
    pub expiration_ms: i64,
}

struct MemberClient {
    hub: Hub,
    auth: DefaultAuthenticator,
}

pub struct GoogleSource {
    settings: GoogleSettings,
    limiter: RateLimiter,
    members: HashMap<String, MemberClient>,
    /// Members whose client could not be set up, with why.
    broken: HashMap<String, String>,
    jitter: Mutex<Jitter>,
}

/// Records what google-calendar3 does not keep: the status and
/// `Retry-After` of a failed response. Retries are ours, so it aborts.
#[derive(Default)]
struct Capture {
    seen: Seen,
}

impl common::Delegate for Capture {
    fn http_failure(
        &mut self,
        response: &common::Response,
        _err: Option<&serde_json::Value>,
    ) -> common::Retry {
        self.seen.status = Some(response.status().as_u16());
        self.seen.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        common::Retry::Abort
    }
}

fn describe(e: &common::Error) -> (Option<serde_json::Value>, String) {
    match e {
        common::Error::BadRequest(v) => {
            let msg = v
                .pointer("/error/message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("bad request")
                .to_string();
            let reason = v
                .pointer("/error/errors/0/reason")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            (
                Some(v.clone()),
                if reason.is_empty() {
                    msg
                } else {
                    format!("{msg} ({reason})")
                },
            )
        }
        common::Error::Failure(r) => (None, format!("HTTP {}", r.status())),
        other => (None, other.to_string()),
    }
}

/// One attempt of a request built by `$call`: every call asks for the same
/// scopes and reports its status through a `Capture`, so `GoogleSource::call`
/// can decide on retries.
macro_rules! attempt {
    ($call:expr) => {{
        let mut d = Capture::default();
        let r = $call.add_scopes(SCOPES).delegate(&mut d).doit().await;
        (r, d.seen)
    }};
}

impl GoogleSource {
    /// Set up a client per member. A member whose credentials fail is kept
    /// aside with the reason; the others go on.
    pub async fn connect(settings: GoogleSettings, members: &[String]) -> GoogleSource {
        let mut clients = HashMap::new();
        let mut broken = HashMap::new();
        // One connector, one API client and one token client for all
        // members: each would otherwise parse the root certificates and keep
        // its own connection pool.
        match auth::connector() {
            Ok(connector) => {
                let api = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(connector.clone());
                let tokens = auth::auth_client(connector);
                for m in members {
                    match auth::authenticator(&settings.credentials, m, tokens.clone()).await {
                        Ok(auth) => {
                            let mut hub = CalendarHub::new(api.clone(), auth.clone());
                            if let Some(base) = &settings.api_base {
                                let base = if base.ends_with('/') {
                                    base.clone()
                                } else {
                                    format!("{base}/")
                                };
                                // The root is what precedes `calendar/v3/`;
                                // channel calls use it.
                                let root = base
                                    .strip_suffix("calendar/v3/")
                                    .unwrap_or(&base)
                                    .to_string();
                                hub.base_url(base);
                                hub.root_url(root);
                            }
                            clients.insert(m.clone(), MemberClient { hub, auth });
                        }
                        Err(e) => {
                            broken.insert(m.clone(), e.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                for m in members {
                    broken.insert(m.clone(), e.clone());
                }
            }
        }
        GoogleSource {
            limiter: RateLimiter::per_minute(
                settings.rate_per_user_per_minute,
                settings.rate_per_project_per_minute,
            ),
            settings,
            members: clients,
            broken,
            jitter: Mutex::new(Jitter::from_time()),
        }
    }

    /// Why a member cannot be synced, if they cannot.
    pub fn member_problem(&self, member: &str) -> Option<&str> {
        self.broken.get(member).map(String::as_str)
    }

    fn member<'c>(&'c self, member: &str) -> Result<&'c MemberClient, CallError> {
        self.members.get(member).ok_or_else(|| {
            CallError::Auth(
                self.broken
                    .get(member)
                    .cloned()
                    .unwrap_or_else(|| format!("`{member}` is not configured")),
            )
        })
    }

    fn unit(&self) -> f64 {
        match self.jitter.lock() {
            Ok(mut j) => j.unit(),
            Err(p) => p.into_inner().unit(),
        }
    }

    /// Run one API call with the rate limiter, the retry policy and a
    /// single token refresh on 401. `calls` counts attempts.
    async fn call<'c, T, F, Fut>(
        &'c self,
        member: &str,
        calls: &mut u32,
        mut attempt_once: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(&'c MemberClient) -> Fut,
        Fut: Future<Output = (Result<T, common::Error>, Seen)>,
    {
        let client = self.member(member)?;
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            self.limiter.acquire(member).await;
            *calls += 1;
            let (result, seen) = attempt_once(client).await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if let common::Error::MissingToken(e) = &err {
                // The token endpoint refused: a bad key, a revoked grant or
                // a scope the admin did not allow. Retrying will not help.
                return Err(CallError::Auth(format!(
                    "Google refused a token for `{member}`: {e}; check the service account's domain-wide delegation (scopes {}) and that the user exists",
                    SCOPES.join(", ")
                )));
            }
            let (body, message) = describe(&err);
            match classify(&seen, body.as_ref()) {
                Class::FullSync => return Err(CallError::FullSyncRequired),
                Class::Conflict => return Err(CallError::Conflict),
                Class::Permanent => {
                    let insufficient = body
                        .as_ref()
                        .and_then(|b| b.pointer("/error/errors/0/reason"))
                        .and_then(serde_json::Value::as_str)
                        == Some("insufficientPermissions");
                    return Err(if insufficient {
                        CallError::Auth(format!(
                            "`{member}`: {message}; the grant must include {}",
                            SCOPES.join(" and ")
                        ))
                    } else {
                        CallError::Permanent(message)
                    });
                }
                Class::RefreshToken if !refreshed => {
                    refreshed = true;
                    if let Err(e) = client.auth.force_refreshed_token(&SCOPES).await {
                        return Err(CallError::Auth(format!(
                            "cannot refresh the token for `{member}`: {e}"
                        )));
                    }
                }
                Class::RefreshToken => {
                    return Err(CallError::Auth(format!(
                        "Google keeps refusing the token for `{member}`: {message}"
                    )));
                }
                Class::LongBackoff | Class::Retry { .. }
                    if attempt + 1 >= self.settings.backoff.max_attempts =>
                {
                    return Err(CallError::GaveUp {
                        attempts: attempt + 1,
                        last: message,
                    });
                }
                Class::LongBackoff => {
                    attempt += 1;
                    tokio::time::sleep(self.settings.backoff.long).await;
                }
                Class::Retry { after } => {
                    let wait = self.settings.backoff.delay(attempt, after, self.unit());
                    tracing::debug!("{member}: {message}; retrying in {wait:?}");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Sync a member's primary calendar: in full without a token, else
    /// incrementally. Follows every page.
    pub async fn sync(
        &self,
        member: &str,
        sync_token: Option<&str>,
    ) -> Result<SyncBatch, CallError> {
        let mut batch = SyncBatch {
            full: sync_token.is_none(),
            ..SyncBatch::default()
        };
        let mut page: Option<String> = None;
        loop {
            let page_token = page.clone();
            let token = sync_token.map(str::to_string);
            let size = self.settings.page_size;
            let (_, list) = self
                .call(member, &mut batch.calls, |c| {
                    let page_token = page_token.clone();
                    let token = token.clone();
                    async move {
                        let mut req = c
                            .hub
                            .events()
                            .list("primary")
                            .max_results(size)
                            .single_events(false);
                        if let Some(t) = &token {
                            req = req.sync_token(t);
                        }
                        if let Some(p) = &page_token {
                            req = req.page_token(p);
                        }
                        attempt!(req)
                    }
                })
                .await?;
            batch.take(member, list.items.iter().flatten());
            match (list.next_page_token, list.next_sync_token) {
                (Some(next), _) => page = Some(next),
                (None, Some(token)) => {
                    batch.next_sync_token = token;
                    return Ok(batch);
                }
                (None, None) => {
                    return Err(CallError::Permanent(
                        "the last page carried no sync token".into(),
                    ));
                }
            }
        }
    }

    /// Every event of the member's primary calendar that overlaps
    /// `[from, to)` (recurring masters whole, to be expanded by the
    /// caller), for the weekly report. Not a sync: no token is kept.
    pub async fn events_between(
        &self,
        member: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<SyncBatch, CallError> {
        let mut batch = SyncBatch::default();
        let mut page: Option<String> = None;
        loop {
            let page_token = page.clone();
            let size = self.settings.page_size;
            let (_, list) = self
                .call(member, &mut batch.calls, |c| {
                    let page_token = page_token.clone();
                    async move {
                        let mut req = c
                            .hub
                            .events()
                            .list("primary")
                            .max_results(size)
                            .single_events(false)
                            .time_min(from)
                            .time_max(to);
                        if let Some(p) = &page_token {
                            req = req.page_token(p);
                        }
                        attempt!(req)
                    }
                })
                .await?;
            batch.take(member, list.items.iter().flatten());
            match list.next_page_token {
                Some(next) => page = Some(next),
                None => return Ok(batch),
            }
        }
    }

    /// Answer for the member: patch only their own attendee entry (with
    /// `attendeesOmitted`), and record gatekeeper's answer in their private
    /// extended properties (empty when the answer is withdrawn).
    pub async fn respond(&self, member: &str, event_id: &str, w: &Write) -> Result<u32, CallError> {
        let mut calls = 0;
        let attendee = api::EventAttendee {
            email: Some(member.to_string()),
            response_status: Some(partstat_to_google(&w.partstat).to_string()),
            comment: Some(w.comment.clone().unwrap_or_default()),
            ..Default::default()
        };
        let marker = w
            .marker
            .as_ref()
            .map(|m| partstat_to_google(m).to_string())
            .unwrap_or_default();
        let body = api::Event {
            attendees: Some(vec![attendee]),
            attendees_omitted: Some(true),
            extended_properties: Some(api::EventExtendedProperties {
                private: Some(HashMap::from([(MARKER_KEY.to_string(), marker)])),
                shared: None,
            }),
            ..Default::default()
        };
        let send_updates = self.settings.send_updates.clone();
        self.call(member, &mut calls, |c| {
            let body = body.clone();
            let send_updates = send_updates.clone();
            async move {
                attempt!(
                    c.hub
                        .events()
                        .patch(body, "primary", event_id)
                        .send_updates(&send_updates)
                )
            }
        })
        .await?;
        Ok(calls)
    }

    /// The calendar's own time zone setting.
    pub async fn time_zone(&self, member: &str) -> Result<String, CallError> {
        let mut calls = 0;
        let (_, setting) = self
            .call(member, &mut calls, |c| async move {
                attempt!(c.hub.settings().get("timezone"))
            })
            .await?;
        setting
            .value
            .ok_or_else(|| CallError::Permanent("the time zone setting has no value".into()))
    }

    /// Open a push channel on the member's primary calendar.
    pub async fn watch(
        &self,
        member: &str,
        id: &str,
        address: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<WatchChannel, CallError> {
        let mut calls = 0;
        let request = Channel {
            id: Some(id.to_string()),
            type_: Some("web_hook".into()),
            address: Some(address.to_string()),
            token: Some(token.to_string()),
            params: Some(HashMap::from([(
                "ttl".to_string(),
                ttl.as_secs().to_string(),
            )])),
            ..Default::default()
        };
        let (_, ch) = self
            .call(member, &mut calls, |c| {
                let request = request.clone();
                async move { attempt!(c.hub.events().watch(request, "primary")) }
            })
            .await?;
        Ok(WatchChannel {
            id: ch.id.unwrap_or_else(|| id.to_string()),
            resource_id: ch.resource_id.unwrap_or_default(),
            token: token.to_string(),
            expiration_ms: ch.expiration.unwrap_or_default(),
        })
    }

    /// Stop a push channel (on renewal and at shutdown).
    pub async fn stop(&self, member: &str, channel: &WatchChannel) -> Result<(), CallError> {
        let mut calls = 0;
        let request = Channel {
            id: Some(channel.id.clone()),
            resource_id: Some(channel.resource_id.clone()),
            ..Default::default()
        };
        self.call(member, &mut calls, |c| {
            let request = request.clone();
            async move { attempt!(c.hub.channels().stop(request)) }
        })
        .await?;
        Ok(())
    }
}

/// Ids of the Google source's state in the store's cursor table: the sync
/// token, and the open watch channel.
pub const SYNC_TOKEN_ITEM: &str = "";
pub const CHANNEL_ITEM: &str = "channel";

/// A random channel token: the webhook checks it on every notification.
pub fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    // The system random source only fails if the OS has none; then a
    // time-based token still differs per channel.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    hex::encode(bytes)
}

/// Shared between the webhook listener and the daemon: which channel id
/// belongs to which source and member, and its token.
#[derive(Clone, Default)]
pub struct ChannelRegistry(Arc<Mutex<HashMap<String, ChannelOwner>>>);

/// Whose channel it is: (source, member, token).
type ChannelOwner = (String, String, String);

impl ChannelRegistry {
    pub fn insert(&self, channel_id: &str, source: &str, member: &str, token: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                channel_id.to_string(),
                (source.to_string(), member.to_string(), token.to_string()),
            );
        }
    }

    pub fn remove(&self, channel_id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(channel_id);
        }
    }

    /// The (source, member) a notification is for, if its channel is known
    /// and its token matches (compared in constant time).
    pub fn check(&self, channel_id: &str, token: &str) -> Option<(String, String)> {
        let m = self.0.lock().ok()?;
        let (source, member, expected) = m.get(channel_id)?;
        let matches = constant_time_eq(expected.as_bytes(), token.as_bytes());
        matches.then(|| (source.clone(), member.clone()))
    }
}

/// Compare without an early exit, so the time taken does not tell an
/// attacker how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
