//! Google Calendar as a source: sync each member's primary calendar (full,
//! then incremental with sync tokens), respond by patching only the
//! member's own attendee entry, watch for push notifications. Every call
//! goes through the client-side rate limiter and the retry policy in
//! `retry`; reads and channels through `google-calendar3`, the answer
//! itself as a raw PATCH on the same HTTP client, because it must carry
//! `If-Match` and the crate's builders cannot set a header.
//!
//! **Invariant:** every PATCH carries `If-Match` with the etag of the copy
//! the verdict was made on, including every retry; a PATCH whose fate is
//! unknown (5xx, timeout, dropped connection) is never sent again before
//! the event was read again.
//!
//! This module does I/O; it maps Google's JSON into the domain (`map`) and
//! decides nothing.

pub mod auth;
pub mod calendar;
pub mod limit;
pub mod map;
pub mod retry;
pub mod stats;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use google_calendar3::CalendarHub;
use google_calendar3::api::{self, Channel};
use google_calendar3::common;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use yup_oauth2::authenticator::DefaultAuthenticator;

use self::auth::{Credentials, SCOPES};
use self::limit::RateLimiter;
use self::map::{GoogleEvent, MARKER_KEY, RULES_KEY, Skip, map_event, partstat_to_google};
use self::retry::{Backoff, Class, Jitter, Seen, classify};
use crate::source::Answer as Write;

pub use self::calendar::{GoogleCalendar, google_settings_for};
pub use crate::source::push::{ChannelRegistry, WatchChannel, random_token};

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
    /// The server may or may not have carried out a write (a 5xx, a
    /// timeout, a dropped connection): read before writing again.
    #[error("no answer on whether the write was applied: {0}")]
    Ambiguous(String),
    /// A wait too long to sit out inside a pass (`quotaExceeded`, a long
    /// `Retry-After`): the member is tried again on a later pass.
    #[error("Google asks to wait {}s ({last}); tried again on a later pass", after.as_secs())]
    Deferred { after: Duration, last: String },
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

struct MemberClient {
    hub: Hub,
    auth: DefaultAuthenticator,
}

/// The HTTP client the hub uses, shared for the raw conditional PATCH: one
/// connector, one connection pool, one TLS configuration.
type ApiClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, common::Body>;

/// The longest a raw PATCH may take before it counts as unanswered (and
/// therefore as possibly applied).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

const DEFAULT_API_BASE: &str = "https://www.googleapis.com/calendar/v3/";

/// What a sync asks for besides the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncWindow {
    /// Only for a full sync: events that ended before this are left out.
    /// Google's sync guide bounds the initial full sync with `timeMin` and
    /// then syncs incrementally with the token alone (a sync token cannot
    /// be combined with `timeMin`: 400); the incremental sync reports every
    /// later change, whatever the event's time.
    pub time_min: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a conditional write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// API calls made, retries and re-reads included.
    pub calls: u32,
}

pub struct GoogleSource {
    settings: GoogleSettings,
    /// `https://www.googleapis.com/calendar/v3/` or the configured base,
    /// ending in `/`.
    api_base: String,
    http: Option<ApiClient>,
    limiter: RateLimiter,
    members: HashMap<String, MemberClient>,
    /// Members whose client could not be set up, with why.
    broken: HashMap<String, String>,
    jitter: Mutex<Jitter>,
    /// Failed attempts by kind and time spent waiting, for `/metrics`.
    stats: stats::ApiStats,
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
        self.seen.retry_after = retry_after_of(response.headers());
        common::Retry::Abort
    }
}

fn retry_after_of(headers: &hyper::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, std::time::SystemTime::now()))
}

/// Whether a failure leaves it unknown if the server carried out a write:
/// a 5xx or no answer at all. A 429 or 403 rate limit says it was not.
fn is_ambiguous(seen: &Seen, err: &common::Error) -> bool {
    match err {
        common::Error::HttpError(_) | common::Error::Io(_) => true,
        _ => seen.status.is_some_and(|s| s >= 500),
    }
}

/// Whether ambiguous failures are retried inside `call` (safe for reads)
/// or handed back (writes: the caller re-reads first).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnAmbiguous {
    Retry,
    Return,
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
        let mut http = None;
        let api_base = match &settings.api_base {
            Some(b) if b.ends_with('/') => b.clone(),
            Some(b) => format!("{b}/"),
            None => DEFAULT_API_BASE.to_string(),
        };
        // One connector, one API client and one token client for all
        // members: each would otherwise parse the root certificates and keep
        // its own connection pool.
        match auth::connector() {
            Ok(connector) => {
                let api = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(connector.clone());
                http = Some(api.clone());
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
            api_base,
            http,
            limiter: RateLimiter::per_minute(
                settings.rate_per_user_per_minute,
                settings.rate_per_project_per_minute,
            ),
            settings,
            members: clients,
            broken,
            jitter: Mutex::new(Jitter::from_time()),
            stats: stats::ApiStats::default(),
        }
    }

    /// What this source's calls have met since it was connected.
    pub fn api_stats(&self) -> stats::ApiStatsSnapshot {
        self.stats.snapshot()
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
        attempt_once: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(&'c MemberClient) -> Fut,
        Fut: Future<Output = (Result<T, common::Error>, Seen)>,
    {
        self.call_with(member, calls, OnAmbiguous::Retry, attempt_once)
            .await
    }

    async fn call_with<'c, T, F, Fut>(
        &'c self,
        member: &str,
        calls: &mut u32,
        on_ambiguous: OnAmbiguous,
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
            // The token first, then the slot: signing and fetching a token
            // can take a while, and a slot taken before it would let
            // requests bunch up at the server beyond the rate. An error
            // here comes back from the attempt itself.
            let _ = client.auth.token(&SCOPES).await;
            let asked = std::time::Instant::now();
            let slot = self.limiter.acquire(member).await;
            self.stats.limiter_wait(asked.elapsed());
            *calls += 1;
            let (result, seen) = attempt_once(client).await;
            drop(slot);
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if let common::Error::MissingToken(e) = &err {
                self.stats.failure("auth");
                // The token endpoint refused: a bad key, a revoked grant or
                // a scope the admin did not allow. Retrying will not help.
                return Err(CallError::Auth(format!(
                    "Google refused a token for `{member}`: {e}; check the service account's domain-wide delegation (scopes {}) and that the user exists",
                    SCOPES.join(", ")
                )));
            }
            let (body, message) = describe(&err);
            let class = classify(&seen, body.as_ref());
            self.stats.failure(stats::kind_of(&class, &seen));
            if on_ambiguous == OnAmbiguous::Return
                && matches!(class, Class::Retry { .. })
                && is_ambiguous(&seen, &err)
            {
                return Err(CallError::Ambiguous(message));
            }
            match class {
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
                // The project's or the member's quota is spent: waiting
                // inside the pass would hold up every other member, and
                // hammering would not help. A later pass tries again.
                Class::LongBackoff => {
                    return Err(CallError::Deferred {
                        after: self.settings.backoff.long,
                        last: message,
                    });
                }
                Class::Retry { after } => {
                    let Some(wait) = self.settings.backoff.wait(attempt, after, self.unit()) else {
                        return Err(CallError::Deferred {
                            after: after.unwrap_or(self.settings.backoff.max_wait),
                            last: message,
                        });
                    };
                    tracing::debug!("{member}: {message}; retrying in {wait:?}");
                    attempt += 1;
                    self.stats.backoff_wait(wait);
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
        window: SyncWindow,
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
                        match (&token, window.time_min) {
                            (Some(t), _) => req = req.sync_token(t),
                            (None, Some(min)) => req = req.time_min(min),
                            (None, None) => {}
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
    /// extended properties (empty when the answer is withdrawn), on
    /// condition that their copy still has `etag`, the version the verdict
    /// was made on.
    ///
    /// `Conflict` means the copy changed (a person answered, the organizer
    /// edited it): read it again and decide again. A 429 or rate-limit
    /// retry carries the same `If-Match`, so an answer given during the
    /// backoff makes the retry fail with 412 instead of being overwritten.
    /// When an attempt's fate is unknown (a 5xx, a timeout, a dropped
    /// connection), the event is read before anything is sent again: if the
    /// write landed it is done, if the copy changed otherwise it is a
    /// `Conflict`, and only an unchanged copy is patched again.
    pub async fn respond(
        &self,
        member: &str,
        event_id: &str,
        etag: Option<&str>,
        w: &Write,
    ) -> Result<Written, CallError> {
        let mut calls = 0;
        let Some(etag) = etag else {
            // Without a version there is nothing to make the write
            // conditional on, and an unconditional write could overwrite a
            // person's answer.
            return Err(CallError::Permanent(format!(
                "event `{event_id}` came without an etag; not answered"
            )));
        };
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| CallError::Auth("no HTTP client could be set up".into()))?;
        let body = bytes::Bytes::from(patch_body(member, w).to_string());
        let url = format!(
            "{}calendars/primary/events/{}?sendUpdates={}",
            self.api_base,
            path_segment(event_id),
            path_segment(&self.settings.send_updates)
        );
        let mut unknown = 0u32;
        loop {
            let sent = self
                .call_with(member, &mut calls, OnAmbiguous::Return, |c| {
                    conditional_patch(http, c, &url, etag, body.clone())
                })
                .await;
            let last = match sent {
                Ok(()) => return Ok(Written { calls }),
                Err(CallError::Ambiguous(last)) => last,
                Err(e) => return Err(e),
            };
            unknown += 1;
            let fresh = self.read_event(member, event_id, &mut calls).await?;
            if map::shows_write(&fresh, member, w) {
                // The write landed before the answer was lost.
                return Ok(Written { calls });
            }
            if fresh.etag.as_deref() != Some(etag) {
                return Err(CallError::Conflict);
            }
            if unknown >= self.settings.backoff.max_attempts {
                return Err(CallError::GaveUp {
                    attempts: unknown,
                    last,
                });
            }
            // Not applied and nothing changed: the same conditional write
            // may go again after a backoff.
            let wait = self.settings.backoff.delay(unknown - 1, None, self.unit());
            tracing::debug!("{member}: {last}; not applied, retrying in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    async fn read_event(
        &self,
        member: &str,
        event_id: &str,
        calls: &mut u32,
    ) -> Result<api::Event, CallError> {
        let (_, ev) = self
            .call(member, calls, |c| async move {
                attempt!(c.hub.events().get("primary", event_id))
            })
            .await?;
        Ok(ev)
    }

    /// The member's current copy of one event, mapped (`None` when it was
    /// deleted): what a refused write is decided again on.
    pub async fn event(
        &self,
        member: &str,
        event_id: &str,
    ) -> Result<Option<GoogleEvent>, CallError> {
        let mut calls = 0;
        let ev = self.read_event(member, event_id, &mut calls).await?;
        match map_event(&ev) {
            Ok(e) => Ok(Some(e)),
            Err(Skip::Cancelled(_)) => Ok(None),
            Err(Skip::Unmappable { id, reason }) => Err(CallError::Permanent(format!(
                "event `{id}` cannot be read: {reason}"
            ))),
        }
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

/// The PATCH body: only the member's own attendee entry (the rest of the
/// list is omitted, so nobody else's answer can be touched) and
/// gatekeeper's marker in their private extended properties.
fn patch_body(member: &str, w: &Write) -> serde_json::Value {
    let marker = w
        .marker
        .as_ref()
        .map(|m| partstat_to_google(m).to_string())
        .unwrap_or_default();
    // The rules go with the marker: none when the answer is withdrawn.
    let rules = if w.marker.is_some() {
        w.rules.join(",")
    } else {
        String::new()
    };
    serde_json::json!({
        "attendees": [{
            "email": member,
            "responseStatus": partstat_to_google(&w.partstat),
            "comment": w.comment.clone().unwrap_or_default(),
        }],
        "attendeesOmitted": true,
        "extendedProperties": {"private": {MARKER_KEY: marker, RULES_KEY: rules}},
    })
}

/// Percent-encode one path segment or query value (RFC 3986 unreserved
/// characters stay as they are).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One attempt of the conditional PATCH, reported the way a
/// `google-calendar3` call reports, so `call_with` classifies it the same.
async fn conditional_patch(
    http: &ApiClient,
    client: &MemberClient,
    url: &str,
    etag: &str,
    body: bytes::Bytes,
) -> (Result<(), common::Error>, Seen) {
    use http_body_util::BodyExt;
    let token = match client.auth.token(&SCOPES).await {
        Ok(t) => t,
        Err(e) => {
            return (
                Err(common::Error::MissingToken(Box::new(e))),
                Seen::default(),
            );
        }
    };
    let Some(token) = token.token() else {
        return (
            Err(common::Error::MissingToken(
                "the token endpoint answered without an access token".into(),
            )),
            Seen::default(),
        );
    };
    let request = hyper::Request::builder()
        .method(hyper::Method::PATCH)
        .uri(url)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(hyper::header::IF_MATCH, etag)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "gatekeeper")
        .body(common::to_body(Some(body)));
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            let v = serde_json::json!({"error": {"code": 400, "message": format!("cannot build the request: {e}")}});
            return (Err(common::Error::BadRequest(v)), Seen::default());
        }
    };
    let timed_out = || {
        common::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {}s", WRITE_TIMEOUT.as_secs()),
        ))
    };
    let response = match tokio::time::timeout(WRITE_TIMEOUT, http.request(request)).await {
        Err(_) => return (Err(timed_out()), Seen::default()),
        Ok(Err(e)) => return (Err(common::Error::HttpError(e)), Seen::default()),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    let seen = Seen {
        status: Some(status.as_u16()),
        retry_after: retry_after_of(response.headers()),
    };
    let bytes = match tokio::time::timeout(WRITE_TIMEOUT, response.into_body().collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        // The status came but the body did not: for a success that is
        // still a success; otherwise the fate is as unknown as a timeout.
        _ if status.is_success() => bytes::Bytes::new(),
        Ok(Err(e)) => return (Err(common::Error::Io(std::io::Error::other(e))), seen),
        Err(_) => return (Err(timed_out()), seen),
    };
    if status.is_success() {
        return (Ok(()), seen);
    }
    let json = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v.get("error").is_some())
        .unwrap_or_else(|| {
            serde_json::json!({"error": {"code": status.as_u16(), "message": format!("HTTP {status}")}})
        });
    (Err(common::Error::BadRequest(json)), seen)
}

/// Ids of the Google source's state in the store's cursor table: the sync
/// token, and the open watch channel.
pub use self::calendar::SYNC_TOKEN_ITEM;
pub use crate::source::CHANNEL_ITEM;
