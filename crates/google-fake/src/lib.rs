//! An in-process fake of the Google Calendar API v3 and of Google's OAuth
//! token endpoint, served over plain HTTP on 127.0.0.1 so the real
//! `google-calendar3` client and `yup-oauth2` authenticator can talk to it.
//! It keeps one copy of each event per participant, sync tokens, patch
//! rules, push channels and injected failures, faithful to
//! `GOOGLE-API.md`: a fake kinder than Google would hide bugs. It is test
//! and demo infrastructure, a crate of its own that gatekeeper's tests and
//! benches take as a dev-dependency: nothing gatekeeper ships depends on
//! it, and it does not depend on gatekeeper (it speaks HTTP and JSON only).
//!
//! Files: `server` (HTTP and routing), `auth` (token endpoint, scopes),
//! `store` (calendars, copies, change log), `sync` (`events.list`), `patch`
//! (`events.patch` rules), `watch` (channels, notifications), `failure`
//! (injection), `stats` (request accounting), `error` (error bodies);
//! `demo` (the built-in test key, seed and example folder) and `invite`
//! (adding an invite to a running fake) serve the development binary.

mod auth;
pub mod demo;
mod error;
mod failure;
pub mod invite;
mod patch;
mod server;
mod stats;
mod store;
mod sync;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use auth::{SCOPE_CALENDAR, SCOPE_EVENTS, SCOPE_SETTINGS_READONLY};
pub use failure::{Failure, FailureKind};
pub use stats::Stats;

struct User {
    time_zone: String,
    revoked: bool,
}

pub(crate) struct State {
    addr: Option<SocketAddr>,
    runtime: Option<tokio::runtime::Handle>,
    /// Added to the real clock: lets tests step past token, channel and
    /// rate-window deadlines without sleeping.
    clock_offset: Duration,
    users: BTreeMap<String, User>,
    auth: auth::Auth,
    store: store::Store,
    channels: watch::Channels,
    failures: failure::Failures,
    stats: stats::Recorder,
    /// Run once on the next request of a method, before it is answered.
    hooks: Vec<(String, Hook)>,
}

/// Something a test has happen while a request is in flight.
pub type Hook = Box<dyn FnOnce(&FakeGoogle) + Send>;

impl State {
    fn now(&self) -> (Instant, DateTime<Utc>) {
        let offset = chrono::Duration::from_std(self.clock_offset).unwrap_or_default();
        (Instant::now() + self.clock_offset, Utc::now() + offset)
    }

    fn api_base(&self) -> String {
        format!("{}calendar/v3/", self.root_url())
    }

    fn root_url(&self) -> String {
        match self.addr {
            Some(a) => format!("http://{a}/"),
            None => "http://127.0.0.1:0/".to_string(),
        }
    }

    /// Push `exists` to the channels of every calendar in `touched`.
    fn changed(&mut self, touched: &[String]) {
        let (_, now) = self.now();
        self.channels.notify(touched, &mut self.failures, now);
    }

    fn take_hook(&mut self, method: &str) -> Option<Hook> {
        let i = self.hooks.iter().position(|(m, _)| m == method)?;
        Some(self.hooks.remove(i).1)
    }

    fn is_active_user(&self, email: &str) -> bool {
        self.users
            .get(&email.to_ascii_lowercase())
            .is_some_and(|u| !u.revoked)
    }
}

/// A number that differs between lives of the fake, so sync tokens of an
/// earlier life are unknown to a later one.
fn new_epoch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ COUNT.fetch_add(1, Ordering::Relaxed).rotate_left(40)) | 1
}

/// The fake. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct FakeGoogle {
    state: Arc<Mutex<State>>,
}

impl FakeGoogle {
    /// `public_key_der`: the service account's RSAPublicKey DER; JWTs must
    /// verify against it.
    pub fn new(public_key_der: Vec<u8>) -> FakeGoogle {
        FakeGoogle {
            state: Arc::new(Mutex::new(State {
                addr: None,
                runtime: None,
                clock_offset: Duration::ZERO,
                users: BTreeMap::new(),
                auth: auth::Auth::new(public_key_der),
                store: store::Store::new(new_epoch()),
                channels: watch::Channels::default(),
                failures: failure::Failures::default(),
                stats: stats::Recorder::default(),
                hooks: Vec::new(),
            })),
        }
    }

    /// A poisoned lock only means a test panicked mid-change; the state is
    /// still the best there is, so keep serving it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `addr` (port 0 picks one) and serves on `rt`; returns the
    /// bound address.
    pub fn start(
        &self,
        rt: &tokio::runtime::Handle,
        addr: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        {
            let mut s = self.lock();
            s.addr = Some(bound);
            s.runtime = Some(rt.clone());
        }
        let listener = {
            let _entered = rt.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        rt.spawn(server::serve(self.clone(), listener));
        Ok(bound)
    }

    /// `http://127.0.0.1:PORT/calendar/v3/`, for `hub.base_url(..)`.
    pub fn api_base(&self) -> String {
        self.lock().api_base()
    }

    /// `http://127.0.0.1:PORT/`, for `hub.root_url(..)`.
    pub fn root_url(&self) -> String {
        self.lock().root_url()
    }

    /// `http://127.0.0.1:PORT/token`, for the service-account key's `token_uri`.
    pub fn token_uri(&self) -> String {
        format!("{}token", self.root_url())
    }

    /// A member of the Workspace domain, with a primary calendar.
    pub fn add_user(&self, email: &str, time_zone: &str) {
        let mut s = self.lock();
        s.users.insert(
            email.to_ascii_lowercase(),
            User {
                time_zone: time_zone.to_string(),
                revoked: false,
            },
        );
        s.store.add_calendar(email, time_zone);
    }

    /// The scopes the domain admin allowed the service account (replaces
    /// the default `calendar.events` + `calendar.settings.readonly`).
    pub fn grant_scopes(&self, scopes: &[&str]) {
        self.lock().auth.granted = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// The member is suspended or left: token requests for them answer
    /// 400 `invalid_grant`; tokens already issued keep working until they
    /// expire, as at Google.
    pub fn revoke(&self, email: &str) {
        if let Some(u) = self.lock().users.get_mut(&email.to_ascii_lowercase()) {
            u.revoked = true;
        }
    }

    /// Lifetime of tokens issued from now on (default one hour).
    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().auth.lifetime = d;
    }

    /// Every token issued so far stops working: the API answers 401.
    pub fn expire_access_tokens(&self) {
        let mut s = self.lock();
        let (now, _) = s.now();
        s.auth.expire_all(now);
    }

    /// Moves the fake's clock forward (tokens, channels, rate windows and
    /// `updated` stamps all see it; JWT `iat`/`exp` are checked against it too).
    pub fn advance_clock(&self, d: Duration) {
        self.lock().clock_offset += d;
    }

    /// An event made by `organizer` in Google's UI: Google Event JSON. Makes
    /// the organizer's copy and one per attendee who is a known member.
    /// Returns the event id. Panics on an event that is not a JSON object or
    /// whose `id` is taken: a test's own mistake.
    pub fn insert_event(&self, organizer: &str, event: Value) -> String {
        let mut s = self.lock();
        let (_, now) = s.now();
        let (id, touched) = s
            .store
            .insert(organizer, &event, now)
            .unwrap_or_else(|e| panic!("insert_event: {e}"));
        s.changed(&touched);
        id
    }

    /// The organizer edits the event in the UI: `patch` is merged into
    /// every copy (arrays replace whole); attendees keep their answers and
    /// private properties; `sequence` and `updated` move on.
    pub fn update_event(&self, organizer: &str, id: &str, patch: Value) {
        let mut s = self.lock();
        let (_, now) = s.now();
        assert!(
            s.store.is_organizer(organizer, id),
            "update_event: `{organizer}` does not organize `{id}`"
        );
        let Value::Object(patch) = patch else {
            panic!("update_event: the patch must be a JSON object");
        };
        let touched = s
            .store
            .organizer_edit(id, &patch, now)
            .unwrap_or_else(|e| panic!("update_event: {}", e.message));
        s.changed(&touched);
    }

    /// The organizer cancels the event: `status: "cancelled"` in every copy.
    pub fn cancel_event(&self, organizer: &str, id: &str) {
        let mut s = self.lock();
        let (_, now) = s.now();
        assert!(
            s.store.is_organizer(organizer, id),
            "cancel_event: `{organizer}` does not organize `{id}`"
        );
        let touched = s.store.cancel(id, now);
        s.changed(&touched);
    }

    /// `user` answers the invitation in Google's UI.
    pub fn respond_as(&self, user: &str, id: &str, response_status: &str) {
        let mut s = self.lock();
        let (_, now) = s.now();
        let mut fields = Map::new();
        fields.insert("responseStatus".into(), Value::from(response_status));
        let touched = s
            .store
            .set_response(user, id, &fields, now)
            .unwrap_or_else(|e| panic!("respond_as: {}", e.message));
        s.changed(&touched);
    }

    /// `user`'s copy of the event as the API would show it to them.
    pub fn event_as(&self, user: &str, id: &str) -> Option<Value> {
        self.lock().store.render(user, id)
    }

    /// The next incremental sync of `user`'s calendar answers 410.
    pub fn expire_sync_tokens(&self, user: &str) {
        self.lock().store.expire_sync_tokens(user);
    }

    /// The next incremental sync of `user`'s calendar answers 400 "Invalid
    /// sync token value.", the other form a refused token takes.
    pub fn refuse_sync_tokens(&self, user: &str) {
        self.lock().store.refuse_sync_tokens(user);
    }

    /// Every sync token issued so far becomes unknown (410), as after the
    /// fake's process restarted: calendars and channels stay.
    pub fn forget_sync_tokens(&self) {
        self.lock().store.epoch = new_epoch();
    }

    /// Runs `hook` once, on the next request of `method`, after the request
    /// arrived and before it is answered (an injected failure for the same
    /// request still applies): "a member answers while gatekeeper's write
    /// is in flight" without racing a clock.
    pub fn on_request(&self, method: &str, hook: impl FnOnce(&FakeGoogle) + Send + 'static) {
        self.lock().hooks.push((method.to_string(), Box::new(hook)));
    }

    pub fn inject(&self, f: Failure) {
        self.lock().failures.push(f);
    }

    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    pub fn stats(&self) -> Stats {
        let s = self.lock();
        let mut stats = s.stats.snapshot();
        stats.deliveries = s.channels.deliveries();
        stats
    }

    /// `{"users":[{"email","time_zone"}], "events":[{"organizer","event":{..}}]}`.
    pub fn load_seed(&self, seed: &Value) -> Result<(), String> {
        let users = seed
            .get("users")
            .and_then(Value::as_array)
            .ok_or("seed: `users` must be a list")?;
        for (i, u) in users.iter().enumerate() {
            let email = u
                .get("email")
                .and_then(Value::as_str)
                .ok_or(format!("seed: users[{i}] has no `email`"))?;
            let tz = u.get("time_zone").and_then(Value::as_str).unwrap_or("UTC");
            self.add_user(email, tz);
        }
        let empty = Vec::new();
        let events = match seed.get("events") {
            None => &empty,
            Some(v) => v.as_array().ok_or("seed: `events` must be a list")?,
        };
        for (i, e) in events.iter().enumerate() {
            let organizer = e
                .get("organizer")
                .and_then(Value::as_str)
                .ok_or(format!("seed: events[{i}] has no `organizer`"))?;
            let event = e
                .get("event")
                .ok_or(format!("seed: events[{i}] has no `event`"))?;
            let mut s = self.lock();
            let (_, now) = s.now();
            let (_, touched) = s
                .store
                .insert(organizer, event, now)
                .map_err(|m| format!("seed: events[{i}]: {m}"))?;
            s.changed(&touched);
        }
        Ok(())
    }
}
