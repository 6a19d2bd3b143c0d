//! The Google Calendar fake driven by the real `google-calendar3` client and
//! `yup-oauth2` service-account flow, over HTTP on 127.0.0.1.

// The helpers hand back the client's own error so tests can look inside it.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatekeeper_google_fake::{
    Failure, FailureKind, FakeGoogle, SCOPE_CALENDAR, SCOPE_EVENTS, SCOPE_SETTINGS_READONLY,
};
use google_calendar3::api::{Channel, Event, EventAttendee, EventExtendedProperties, Events};
use google_calendar3::{CalendarHub, common};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

type Hub = CalendarHub<HttpsConnector<HttpConnector>>;

const ANA: &str = "ana@example.com";
const BO: &str = "bo@example.com";
const CHEN: &str = "chen@example.com";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/google")
        .join(name)
}

struct Env {
    rt: Runtime,
    fake: FakeGoogle,
}

fn env() -> Env {
    let rt = Runtime::new().expect("runtime");
    let der = std::fs::read(fixture("service-account-public.der")).expect("public key");
    let fake = FakeGoogle::new(der);
    fake.start(rt.handle(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("fake starts");
    fake.add_user(ANA, "Europe/Berlin");
    fake.add_user(BO, "America/New_York");
    fake.add_user(CHEN, "Asia/Tokyo");
    Env { rt, fake }
}

impl Env {
    fn hub(&self, subject: &str) -> Hub {
        let mut key: yup_oauth2::ServiceAccountKey = serde_json::from_str(
            &std::fs::read_to_string(fixture("service-account.json")).expect("key"),
        )
        .expect("key parses");
        key.token_uri = self.fake.token_uri();
        let subject = subject.to_string();
        let auth = self.rt.block_on(async move {
            yup_oauth2::ServiceAccountAuthenticator::builder(key)
                .subject(subject)
                .build()
                .await
                .expect("authenticator")
        });
        let _entered = self.rt.enter();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .expect("roots")
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        let mut hub = CalendarHub::new(client, auth);
        hub.base_url(self.fake.api_base());
        hub.root_url(self.fake.root_url());
        hub
    }

    /// A full or incremental listing, one page.
    fn list(
        &self,
        hub: &Hub,
        sync: Option<&str>,
        page: Option<&str>,
        max: Option<i32>,
    ) -> Result<Events, google_calendar3::Error> {
        self.rt.block_on(async {
            let mut call = hub.events().list("primary").add_scope(SCOPE_EVENTS);
            if let Some(s) = sync {
                call = call.sync_token(s);
            }
            if let Some(p) = page {
                call = call.page_token(p);
            }
            if let Some(m) = max {
                call = call.max_results(m);
            }
            call.doit().await.map(|(_, e)| e)
        })
    }

    /// Every page of a listing; returns the items and the sync token.
    fn sync(&self, hub: &Hub, sync: Option<&str>) -> (Vec<Event>, String) {
        let mut items = Vec::new();
        let mut page = None;
        loop {
            let e = self
                .list(hub, sync, page.as_deref(), Some(2))
                .expect("list succeeds");
            items.extend(e.items.unwrap_or_default());
            match (e.next_page_token, e.next_sync_token) {
                (Some(p), None) => page = Some(p),
                (None, Some(s)) => return (items, s),
                other => panic!("a page carries exactly one token, got {other:?}"),
            }
        }
    }

    fn patch(&self, hub: &Hub, id: &str, body: Event) -> Result<Event, google_calendar3::Error> {
        self.rt.block_on(async {
            hub.events()
                .patch(body, "primary", id)
                .send_updates("none")
                .add_scope(SCOPE_EVENTS)
                .doit()
                .await
                .map(|(_, e)| e)
        })
    }

    /// A meeting ana organizes with bo and chen.
    fn meeting(&self, summary: &str) -> String {
        self.fake.insert_event(
            ANA,
            json!({
                "summary": summary,
                "start": {"dateTime": "2026-03-02T10:00:00+01:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-03-02T11:00:00+01:00", "timeZone": "Europe/Berlin"},
                "attendees": [{"email": BO}, {"email": CHEN}],
            }),
        )
    }
}

/// The Calendar API error body's code and first reason.
fn api_error(r: Result<impl std::fmt::Debug, google_calendar3::Error>) -> (i64, String) {
    match r {
        Err(google_calendar3::Error::BadRequest(v)) => (
            v["error"]["code"].as_i64().expect("code"),
            v["error"]["errors"][0]["reason"]
                .as_str()
                .expect("reason")
                .to_string(),
        ),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn attendee<'a>(e: &'a Event, email: &str) -> &'a EventAttendee {
    e.attendees
        .as_ref()
        .and_then(|l| l.iter().find(|a| a.email.as_deref() == Some(email)))
        .expect("attendee listed")
}

fn json_attendee(e: &Value, email: &str) -> Value {
    e["attendees"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["email"] == email).cloned())
        .expect("attendee listed")
}

#[test]
fn token_flow_issues_a_token_for_a_known_member() {
    let env = env();
    let hub = env.hub(ANA);
    env.meeting("Planning");
    let e = env.list(&hub, None, None, None).expect("list");
    assert_eq!(e.items.expect("items").len(), 1);
    assert_eq!(env.fake.stats().count(ANA, "token"), 1);
    assert_eq!(env.fake.stats().count(ANA, "events.list"), 1);
}

#[test]
fn token_refused_for_unknown_or_revoked_subject_or_ungranted_scope() {
    let env = env();
    let stranger = env.hub("stranger@example.com");
    assert!(matches!(
        env.list(&stranger, None, None, None),
        Err(google_calendar3::Error::MissingToken(_))
    ));

    env.fake.revoke(BO);
    let bo = env.hub(BO);
    assert!(matches!(
        env.list(&bo, None, None, None),
        Err(google_calendar3::Error::MissingToken(_))
    ));

    // The full `calendar` scope is not in the default grant.
    let ana = env.hub(ANA);
    let r = env.rt.block_on(async {
        ana.events()
            .list("primary")
            .add_scope(SCOPE_CALENDAR)
            .doit()
            .await
    });
    assert!(matches!(r, Err(google_calendar3::Error::MissingToken(_))));
    // Once granted, it works.
    env.fake.grant_scopes(&[SCOPE_CALENDAR]);
    let r = env.rt.block_on(async {
        ana.events()
            .list("primary")
            .add_scope(SCOPE_CALENDAR)
            .doit()
            .await
    });
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn token_without_the_methods_scope_gets_403() {
    let env = env();
    let hub = env.hub(ANA);
    let r = env.rt.block_on(async {
        hub.events()
            .list("primary")
            .add_scope(SCOPE_SETTINGS_READONLY)
            .doit()
            .await
    });
    assert_eq!(api_error(r), (403, "insufficientPermissions".into()));
}

#[test]
fn expired_tokens_get_401() {
    let env = env();
    let hub = env.hub(ANA);
    env.list(&hub, None, None, None).expect("first call works");
    env.fake.expire_access_tokens();
    // yup-oauth2 still holds the token it was given and sends it.
    assert_eq!(
        api_error(env.list(&hub, None, None, None)),
        (401, "authError".into())
    );
}

#[test]
fn short_lived_tokens_expire_with_the_clock() {
    let env = env();
    env.fake.set_token_lifetime(Duration::from_secs(120));
    let hub = env.hub(ANA);
    env.list(&hub, None, None, None).expect("works");
    env.fake.advance_clock(Duration::from_secs(121));
    assert_eq!(
        api_error(env.list(&hub, None, None, None)),
        (401, "authError".into())
    );
}

#[test]
fn another_members_calendar_is_not_found() {
    let env = env();
    let hub = env.hub(ANA);
    let r = env
        .rt
        .block_on(async { hub.events().list(BO).add_scope(SCOPE_EVENTS).doit().await });
    assert_eq!(api_error(r), (404, "notFound".into()));
    // Her own address works like `primary`.
    let r = env
        .rt
        .block_on(async { hub.events().list(ANA).add_scope(SCOPE_EVENTS).doit().await });
    assert!(r.is_ok());
}

#[test]
fn full_sync_pages_and_ends_with_a_sync_token() {
    let env = env();
    let mut ids: Vec<String> = (0..5).map(|i| env.meeting(&format!("m{i}"))).collect();
    let hub = env.hub(BO);
    let first = env.list(&hub, None, None, Some(2)).expect("page 1");
    assert_eq!(first.items.as_ref().map(Vec::len), Some(2));
    assert!(first.next_page_token.is_some() && first.next_sync_token.is_none());
    assert_eq!(first.time_zone.as_deref(), Some("America/New_York"));
    let (items, token) = env.sync(&hub, None);
    assert!(!token.is_empty());
    let mut got: Vec<String> = items.iter().filter_map(|e| e.id.clone()).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    // bo sees himself marked, and the organizer is not him.
    let e = &items[0];
    assert_eq!(attendee(e, BO).self_, Some(true));
    assert_eq!(attendee(e, CHEN).self_, None);
    assert_eq!(e.organizer.as_ref().and_then(|o| o.self_), None);

    // Nothing changed: an empty incremental page with a new token.
    let (items, _) = env.sync(&hub, Some(&token));
    assert!(items.is_empty());
}

#[test]
fn incremental_sync_sees_edit_cancel_and_response() {
    let env = env();
    let edited = env.meeting("Planning");
    let cancelled = env.meeting("Retro");
    let untouched = env.meeting("Coffee");
    let hub = env.hub(BO);
    let (_, token) = env.sync(&hub, None);

    env.fake
        .update_event(ANA, &edited, json!({"summary": "Planning (moved)"}));
    let (items, token) = env.sync(&hub, Some(&token));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].summary.as_deref(), Some("Planning (moved)"));
    assert_eq!(items[0].sequence, Some(1));

    env.fake.cancel_event(ANA, &cancelled);
    let (items, token) = env.sync(&hub, Some(&token));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id.as_deref(), Some(cancelled.as_str()));
    assert_eq!(items[0].status.as_deref(), Some("cancelled"));
    assert_eq!(
        items[0].summary, None,
        "deleted events carry little beyond their id"
    );

    env.fake.respond_as(CHEN, &untouched, "declined");
    let (items, _) = env.sync(&hub, Some(&token));
    assert_eq!(items.len(), 1);
    assert_eq!(
        attendee(&items[0], CHEN).response_status.as_deref(),
        Some("declined")
    );
    assert_eq!(
        attendee(&items[0], BO).response_status.as_deref(),
        Some("needsAction")
    );

    // A full sync hides the cancelled event unless asked to show it.
    let (items, _) = env.sync(&hub, None);
    assert_eq!(items.len(), 2);
}

#[test]
fn expired_sync_token_answers_410_then_full_sync_recovers() {
    let env = env();
    env.meeting("Planning");
    let hub = env.hub(BO);
    let (_, token) = env.sync(&hub, None);
    env.fake.expire_sync_tokens(BO);
    assert_eq!(
        api_error(env.list(&hub, Some(&token), None, None)),
        (410, "fullSyncRequired".into())
    );
    let (items, token) = env.sync(&hub, None);
    assert_eq!(items.len(), 1);
    let (items, _) = env.sync(&hub, Some(&token));
    assert!(items.is_empty());
}

/// The Calendar API error body's code and message.
fn api_message(r: Result<impl std::fmt::Debug, google_calendar3::Error>) -> (i64, String) {
    match r {
        Err(google_calendar3::Error::BadRequest(v)) => (
            v["error"]["code"].as_i64().expect("code"),
            v["error"]["message"].as_str().expect("message").to_string(),
        ),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn refused_and_unknown_sync_tokens_answer_as_google_does() {
    let env = env();
    env.meeting("Planning");
    let hub = env.hub(BO);
    let (_, token) = env.sync(&hub, None);
    // A token this fake never issued in this life (it restarted): 410.
    env.fake.forget_sync_tokens();
    assert_eq!(
        api_error(env.list(&hub, Some(&token), None, None)),
        (410, "fullSyncRequired".into())
    );
    let (items, token) = env.sync(&hub, None);
    assert_eq!(items.len(), 1);
    // The other form a refused token takes: a 400 that says so.
    env.fake.refuse_sync_tokens(BO);
    assert_eq!(
        api_message(env.list(&hub, Some(&token), None, None)),
        (400, "Invalid sync token value.".into())
    );
    // Not a token at all.
    assert_eq!(
        api_message(env.list(&hub, Some("garbage"), None, None)),
        (400, "Invalid sync token value.".into())
    );
    // Only bo's tokens were refused; a full sync gives a good one.
    let (_, token) = env.sync(&hub, None);
    let (items, _) = env.sync(&hub, Some(&token));
    assert!(items.is_empty());
}

#[test]
fn a_full_sync_bounded_by_time_min_yields_a_token_for_every_later_change() {
    // Google's sync guide bounds the initial full sync with timeMin; the
    // token it ends with is then used alone and reports every change.
    let env = env();
    let old = env.meeting("Planning"); // 2 March 2026
    let hub = env.hub(BO);
    let since: chrono::DateTime<chrono::Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    let full = |page: Option<String>| {
        env.rt.block_on(async {
            let mut call = hub
                .events()
                .list("primary")
                .time_min(since)
                .max_results(1)
                .add_scope(SCOPE_EVENTS);
            if let Some(p) = &page {
                call = call.page_token(p);
            }
            call.doit().await.map(|(_, e)| e).expect("list")
        })
    };
    let later = env.fake.insert_event(
        ANA,
        json!({
            "summary": "Later",
            "start": {"dateTime": "2026-12-01T10:00:00Z"}, "end": {"dateTime": "2026-12-01T11:00:00Z"},
            "attendees": [{"email": BO}],
        }),
    );
    let mut ids = Vec::new();
    let mut page = None;
    let token = loop {
        let e = full(page.take());
        ids.extend(e.items.unwrap_or_default().into_iter().filter_map(|i| i.id));
        match (e.next_page_token, e.next_sync_token) {
            (Some(p), None) => page = Some(p),
            (None, Some(t)) => break t,
            other => panic!("a page carries exactly one token, got {other:?}"),
        }
    };
    assert_eq!(ids, vec![later.clone()], "the March meeting is left out");
    // A change to the old meeting still comes through the token.
    env.fake
        .update_event(ANA, &old, json!({"summary": "Planning (moved)"}));
    let (items, _) = env.sync(&hub, Some(&token));
    let changed: Vec<_> = items.iter().filter_map(|i| i.id.clone()).collect();
    assert_eq!(changed, vec![old]);
}

#[test]
fn sync_token_with_time_min_is_400() {
    let env = env();
    let hub = env.hub(BO);
    let (_, token) = env.sync(&hub, None);
    let r = env.rt.block_on(async {
        hub.events()
            .list("primary")
            .sync_token(&token)
            .time_min(chrono::Utc::now())
            .add_scope(SCOPE_EVENTS)
            .doit()
            .await
    });
    assert_eq!(api_error(r), (400, "invalid".into()));
}

fn own_answer(email: &str, status: &str, comment: &str) -> Event {
    Event {
        attendees: Some(vec![EventAttendee {
            email: Some(email.into()),
            response_status: Some(status.into()),
            comment: Some(comment.into()),
            ..Default::default()
        }]),
        attendees_omitted: Some(true),
        ..Default::default()
    }
}

#[test]
fn attendee_patches_own_response_with_attendees_omitted() {
    let env = env();
    let id = env.meeting("Planning");
    let ana_hub = env.hub(ANA);
    let (_, ana_token) = env.sync(&ana_hub, None);
    let hub = env.hub(BO);
    let before = env.fake.event_as(BO, &id).expect("bo's copy");

    let e = env
        .patch(&hub, &id, own_answer(BO, "declined", "no agenda"))
        .expect("patch");
    let mine = attendee(&e, BO);
    assert_eq!(mine.response_status.as_deref(), Some("declined"));
    assert_eq!(mine.comment.as_deref(), Some("no agenda"));
    assert_eq!(mine.self_, Some(true));
    assert_eq!(
        attendee(&e, CHEN).response_status.as_deref(),
        Some("needsAction")
    );
    assert_eq!(
        e.attendees.as_ref().map(Vec::len),
        Some(3),
        "nobody dropped"
    );
    assert_ne!(e.etag.as_deref(), before["etag"].as_str());
    assert_eq!(e.sequence, Some(0), "an answer is not an organizer edit");

    // ana's copy shows it, in the API and in her incremental sync.
    let ana_copy = env.fake.event_as(ANA, &id).expect("ana's copy");
    assert_eq!(json_attendee(&ana_copy, BO)["responseStatus"], "declined");
    assert_eq!(ana_copy["organizer"]["self"], true);
    let (items, _) = env.sync(&ana_hub, Some(&ana_token));
    assert_eq!(items.len(), 1);
    assert_eq!(
        attendee(&items[0], BO).response_status.as_deref(),
        Some("declined")
    );
    let chen_copy = env.fake.event_as(CHEN, &id).expect("chen's copy");
    assert_eq!(json_attendee(&chen_copy, BO)["responseStatus"], "declined");
}

#[test]
fn attendee_may_send_the_whole_list_with_only_their_entry_changed() {
    let env = env();
    let id = env.meeting("Planning");
    let hub = env.hub(BO);
    let copy: Event = serde_json::from_value(env.fake.event_as(BO, &id).expect("copy")).unwrap();
    let mut list = copy.attendees.clone().expect("attendees");
    for a in &mut list {
        if a.email.as_deref() == Some(BO) {
            a.response_status = Some("accepted".into());
        }
    }
    let ok = Event {
        attendees: Some(list.clone()),
        ..Default::default()
    };
    let e = env.patch(&hub, &id, ok).expect("own entry changed");
    assert_eq!(
        attendee(&e, BO).response_status.as_deref(),
        Some("accepted")
    );

    // Answering for chen too is not bo's to do.
    for a in &mut list {
        if a.email.as_deref() == Some(CHEN) {
            a.response_status = Some("declined".into());
        }
    }
    let bad = Event {
        attendees: Some(list),
        ..Default::default()
    };
    assert_eq!(
        api_error(env.patch(&hub, &id, bad)),
        (403, "forbiddenForNonOrganizer".into())
    );
    // And dropping someone from the list neither.
    let dropped = Event {
        attendees: Some(vec![attendee(&e, BO).clone()]),
        ..Default::default()
    };
    assert_eq!(
        api_error(env.patch(&hub, &id, dropped)),
        (403, "forbiddenForNonOrganizer".into())
    );
}

fn private(key: &str, value: &str) -> Event {
    Event {
        extended_properties: Some(EventExtendedProperties {
            private: Some(HashMap::from([(key.to_string(), value.to_string())])),
            shared: None,
        }),
        ..Default::default()
    }
}

#[test]
fn private_extended_properties_are_set_and_deleted_on_own_copy_only() {
    let env = env();
    let id = env.meeting("Planning");
    let hub = env.hub(BO);
    let e = env
        .patch(&hub, &id, private("gatekeeper", "declined"))
        .expect("set");
    let props = e
        .extended_properties
        .and_then(|p| p.private)
        .expect("private");
    assert_eq!(
        props.get("gatekeeper").map(String::as_str),
        Some("declined")
    );
    let ana_copy = env.fake.event_as(ANA, &id).expect("ana's copy");
    assert!(ana_copy.pointer("/extendedProperties/private").is_none());

    let e = env
        .patch(&hub, &id, private("gatekeeper", ""))
        .expect("delete");
    assert!(
        e.extended_properties
            .and_then(|p| p.private)
            .is_none_or(|p| !p.contains_key("gatekeeper"))
    );
}

#[test]
fn attendee_cannot_change_shared_properties_or_the_summary() {
    let env = env();
    let id = env.meeting("Planning");
    let hub = env.hub(BO);
    let shared = Event {
        extended_properties: Some(EventExtendedProperties {
            private: None,
            shared: Some(HashMap::from([("k".to_string(), "v".to_string())])),
        }),
        ..Default::default()
    };
    assert_eq!(
        api_error(env.patch(&hub, &id, shared)),
        (403, "forbiddenForNonOrganizer".into())
    );
    let summary = Event {
        summary: Some("Mine now".into()),
        ..Default::default()
    };
    assert_eq!(
        api_error(env.patch(&hub, &id, summary)),
        (403, "forbiddenForNonOrganizer".into())
    );
    let copy = env.fake.event_as(ANA, &id).expect("copy");
    assert_eq!(copy["summary"], "Planning");
    assert!(copy.pointer("/extendedProperties/shared").is_none());

    // The organizer may.
    let ana = env.hub(ANA);
    let e = env
        .patch(
            &ana,
            &id,
            Event {
                summary: Some("Planning v2".into()),
                ..Default::default()
            },
        )
        .expect("organizer patch");
    assert_eq!(e.summary.as_deref(), Some("Planning v2"));
    assert_eq!(
        env.fake.event_as(BO, &id).expect("copy")["summary"],
        "Planning v2"
    );
}

/// A web-hook listener collecting notification headers.
type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

fn listen(env: &Env) -> (String, Seen) {
    use http_body_util::Empty;
    let seen: Seen = Arc::default();
    let listener = env
        .rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sink = seen.clone();
    env.rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_ascii_lowercase(),
                                v.to_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect();
                    sink.lock().unwrap().push(headers);
                    async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            Empty::<bytes::Bytes>::new(),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}/hook"), seen)
}

fn wait_for(seen: &Seen, n: usize) -> Vec<HashMap<String, String>> {
    for _ in 0..250 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen.lock().unwrap().clone()
}

fn watch(
    env: &Env,
    hub: &Hub,
    id: &str,
    address: &str,
) -> Result<Channel, google_calendar3::Error> {
    let request = Channel {
        id: Some(id.into()),
        type_: Some("web_hook".into()),
        address: Some(address.into()),
        token: Some("secret".into()),
        params: Some(HashMap::from([("ttl".to_string(), "3600".to_string())])),
        ..Default::default()
    };
    env.rt.block_on(async {
        hub.events()
            .watch(request, "primary")
            .add_scope(SCOPE_EVENTS)
            .doit()
            .await
            .map(|(_, c)| c)
    })
}

#[test]
fn watch_delivers_sync_then_exists() {
    let env = env();
    let id = env.meeting("Planning");
    let (address, seen) = listen(&env);
    let hub = env.hub(BO);
    let ch = watch(&env, &hub, "chan-1", &address).expect("watch");
    assert_eq!(ch.kind.as_deref(), Some("api#channel"));
    assert!(ch.resource_id.is_some());
    let expiration = ch.expiration.expect("expiration");
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(
        (expiration - now_ms - 3_600_000).abs() < 60_000,
        "{expiration}"
    );

    let got = wait_for(&seen, 1);
    assert_eq!(got[0]["x-goog-resource-state"], "sync");
    assert_eq!(got[0]["x-goog-channel-id"], "chan-1");
    assert_eq!(got[0]["x-goog-channel-token"], "secret");
    assert_eq!(
        got[0]["x-goog-resource-id"],
        ch.resource_id.clone().unwrap()
    );
    assert!(got[0].contains_key("x-goog-channel-expiration"));
    assert!(got[0].contains_key("x-goog-resource-uri"));

    env.fake
        .update_event(ANA, &id, json!({"location": "Room 1"}));
    // A change bo makes himself notifies too.
    env.patch(&hub, &id, own_answer(BO, "accepted", ""))
        .expect("patch");
    let got = wait_for(&seen, 3);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1]["x-goog-resource-state"], "exists");
    assert_eq!(got[2]["x-goog-resource-state"], "exists");
    let numbers: Vec<u64> = got
        .iter()
        .map(|h| h["x-goog-message-number"].parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    // A change to a calendar bo is not part of does not reach him.
    env.fake
        .insert_event(CHEN, json!({"summary": "chen alone"}));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn dropped_and_expired_notifications_do_not_arrive() {
    let env = env();
    let id = env.meeting("Planning");
    let (address, seen) = listen(&env);
    let hub = env.hub(BO);
    watch(&env, &hub, "chan-1", &address).expect("watch");
    wait_for(&seen, 1);
    env.fake.inject(
        Failure::new(FailureKind::DropNotification)
            .user(BO)
            .times(1),
    );
    env.fake
        .update_event(ANA, &id, json!({"location": "Room 1"}));
    env.fake
        .update_event(ANA, &id, json!({"location": "Room 2"}));
    let got = wait_for(&seen, 2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 2, "one of two was dropped");
    assert_eq!(
        got[1]["x-goog-message-number"], "3",
        "the lost one used number 2"
    );

    env.fake.advance_clock(Duration::from_secs(3601));
    env.fake
        .update_event(ANA, &id, json!({"location": "Room 3"}));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 2, "expired channels stay quiet");
}

#[test]
fn channels_stop_ends_notifications_and_unknown_channel_is_404() {
    let env = env();
    let id = env.meeting("Planning");
    let (address, seen) = listen(&env);
    let hub = env.hub(BO);
    let ch = watch(&env, &hub, "chan-1", &address).expect("watch");
    wait_for(&seen, 1);
    let stop = |env: &Env| {
        let request = Channel {
            id: ch.id.clone(),
            resource_id: ch.resource_id.clone(),
            ..Default::default()
        };
        env.rt.block_on(async {
            hub.channels()
                .stop(request)
                .add_scope(SCOPE_EVENTS)
                .doit()
                .await
        })
    };
    stop(&env).expect("stop");
    env.fake
        .update_event(ANA, &id, json!({"location": "Room 1"}));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(api_error(stop(&env)), (404, "notFound".into()));
    // Plain http elsewhere than the loopback is refused, as Google refuses non-https.
    let r = watch(&env, &hub, "chan-2", "http://example.com/hook");
    assert_eq!(api_error(r), (400, "push.webhookUrlNotHttps".into()));
}

#[test]
fn settings_timezone_is_the_members() {
    let env = env();
    let hub = env.hub(CHEN);
    let (_, s) = env
        .rt
        .block_on(async {
            hub.settings()
                .get("timezone")
                .add_scope(SCOPE_SETTINGS_READONLY)
                .doit()
                .await
        })
        .expect("setting");
    assert_eq!(s.value.as_deref(), Some("Asia/Tokyo"));
}

/// Records what the client cannot keep in its error: status and Retry-After.
#[derive(Default)]
struct Capture {
    statuses: Vec<u16>,
    retry_after: Option<String>,
    retry_until: usize,
}

impl common::Delegate for Capture {
    fn http_failure(&mut self, r: &common::Response, _: Option<&Value>) -> common::Retry {
        self.statuses.push(r.status().as_u16());
        self.retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if self.statuses.len() < self.retry_until {
            common::Retry::After(Duration::from_millis(10))
        } else {
            common::Retry::Abort
        }
    }
}

#[test]
fn injected_429_carries_retry_after_to_the_delegate() {
    let env = env();
    let hub = env.hub(ANA);
    env.fake.inject(
        Failure::new(FailureKind::TooManyRequests {
            retry_after_secs: 7,
        })
        .method("events.list")
        .times(1),
    );
    let mut d = Capture::default();
    let r = env.rt.block_on(async {
        hub.events()
            .list("primary")
            .add_scope(SCOPE_EVENTS)
            .delegate(&mut d)
            .doit()
            .await
    });
    assert_eq!(api_error(r), (429, "rateLimitExceeded".into()));
    assert_eq!(d.statuses, vec![429]);
    assert_eq!(d.retry_after.as_deref(), Some("7"));
    // Spent: the next call works.
    assert!(env.list(&hub, None, None, None).is_ok());
}

#[test]
fn injected_500s_fail_until_spent() {
    let env = env();
    let hub = env.hub(ANA);
    env.fake
        .inject(Failure::new(FailureKind::BackendError).user(ANA).times(2));
    let mut d = Capture {
        retry_until: 5,
        ..Capture::default()
    };
    let r = env.rt.block_on(async {
        hub.events()
            .list("primary")
            .add_scope(SCOPE_EVENTS)
            .delegate(&mut d)
            .doit()
            .await
    });
    assert!(r.is_ok(), "third attempt succeeds: {r:?}");
    assert_eq!(d.statuses, vec![500, 500]);
    // Other members are not affected by a failure aimed at ana.
    env.fake
        .inject(Failure::new(FailureKind::ServiceUnavailable).user(ANA));
    let bo = env.hub(BO);
    assert!(env.list(&bo, None, None, None).is_ok());
    assert_eq!(
        api_error(env.list(&hub, None, None, None)),
        (503, "backendError".into())
    );
    env.fake.clear_failures();
    assert!(env.list(&hub, None, None, None).is_ok());
}

#[test]
fn probability_failures_are_deterministic() {
    let run = || {
        let env = env();
        let hub = env.hub(ANA);
        env.fake
            .inject(Failure::new(FailureKind::QuotaExceeded).probability(0.5));
        (0..20)
            .map(|_| env.list(&hub, None, None, None).is_ok())
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
}

#[test]
fn stats_count_requests_and_the_busiest_minute() {
    let env = env();
    let ana = env.hub(ANA);
    let bo = env.hub(BO);
    for _ in 0..3 {
        env.list(&ana, None, None, None).expect("list");
    }
    env.list(&bo, None, None, None).expect("list");
    let s = env.fake.stats();
    assert_eq!(s.count(ANA, "events.list"), 3);
    assert_eq!(s.count(BO, "events.list"), 1);
    assert_eq!(s.count(ANA, "token"), 1);
    assert_eq!(s.max_per_minute_by_user[ANA], 3);
    assert_eq!(s.max_per_minute_project, 4);

    // A minute later the window starts over: two more do not beat three.
    env.fake.advance_clock(Duration::from_secs(61));
    for _ in 0..2 {
        env.list(&ana, None, None, None).expect("list");
    }
    let s = env.fake.stats();
    assert_eq!(s.count(ANA, "events.list"), 5);
    assert_eq!(s.max_per_minute_by_user[ANA], 3);
    assert_eq!(s.max_per_minute_project, 4);
    for _ in 0..2 {
        env.list(&ana, None, None, None).expect("list");
    }
    assert_eq!(env.fake.stats().max_per_minute_by_user[ANA], 4);
    assert_eq!(env.fake.stats().total("events.list"), 8);
}

#[test]
fn seed_file_loads() {
    let env = env();
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/google-fake/seed.json"),
        )
        .expect("seed file"),
    )
    .expect("seed parses");
    env.fake.load_seed(&seed).expect("seed loads");
    let users = seed["users"].as_array().expect("users");
    let first = users[0]["email"].as_str().expect("email");
    let hub = env.hub(first);
    let (items, _) = env.sync(&hub, None);
    assert!(!items.is_empty());
}

/// An access token for `subject`, for requests the client cannot make.
fn raw_token(env: &Env, subject: &str) -> String {
    let mut key: yup_oauth2::ServiceAccountKey = serde_json::from_str(
        &std::fs::read_to_string(fixture("service-account.json")).expect("key"),
    )
    .expect("key parses");
    key.token_uri = env.fake.token_uri();
    env.rt.block_on(async {
        let auth = yup_oauth2::ServiceAccountAuthenticator::builder(key)
            .subject(subject)
            .build()
            .await
            .expect("authenticator");
        auth.token(&[SCOPE_EVENTS])
            .await
            .expect("token")
            .token()
            .expect("access token")
            .to_string()
    })
}

/// A PATCH with headers google-calendar3 does not send (`If-Match`).
fn raw_patch(env: &Env, token: &str, id: &str, if_match: &str, body: &Value) -> (u16, Value) {
    use http_body_util::{BodyExt, Full};
    let url = format!("{}calendars/primary/events/{id}", env.fake.api_base());
    let body = body.to_string();
    env.rt.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<bytes::Bytes>>();
        let req = hyper::Request::patch(url)
            .header("authorization", format!("Bearer {token}"))
            .header("if-match", if_match)
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .expect("request");
        let res = client.request(req).await.expect("response");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).expect("json"))
    })
}

#[test]
fn if_match_with_a_stale_etag_is_412() {
    let env = env();
    let id = env.meeting("Planning");
    let token = raw_token(&env, BO);
    let etag = env.fake.event_as(BO, &id).expect("copy")["etag"]
        .as_str()
        .expect("etag")
        .to_string();
    let answer = json!({"attendees": [{"email": BO, "responseStatus": "tentative"}], "attendeesOmitted": true});
    // Someone else's answer changes bo's copy in between.
    env.fake.respond_as(CHEN, &id, "accepted");
    let (status, body) = raw_patch(&env, &token, &id, &etag, &answer);
    assert_eq!(status, 412);
    assert_eq!(body["error"]["errors"][0]["reason"], "conditionNotMet");
    let fresh = env.fake.event_as(BO, &id).expect("copy")["etag"].clone();
    let (status, body) = raw_patch(&env, &token, &id, fresh.as_str().unwrap(), &answer);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_attendee(&body, BO)["responseStatus"], "tentative");
}

#[test]
fn a_patch_can_be_applied_and_still_answered_500() {
    let env = env();
    let id = env.meeting("Planning");
    let token = raw_token(&env, BO);
    let etag = env.fake.event_as(BO, &id).expect("copy")["etag"]
        .as_str()
        .expect("etag")
        .to_string();
    env.fake.inject(
        Failure::new(FailureKind::BackendErrorAfterApplying)
            .method("events.patch")
            .times(1),
    );
    let answer = json!({"attendees": [{"email": BO, "responseStatus": "declined"}], "attendeesOmitted": true});
    let (status, body) = raw_patch(&env, &token, &id, &etag, &answer);
    assert_eq!(status, 500, "{body}");
    // The answer came back as an error, but the write landed.
    let copy = env.fake.event_as(BO, &id).expect("copy");
    assert_eq!(json_attendee(&copy, BO)["responseStatus"], "declined");
    assert_ne!(copy["etag"], etag.as_str());
    // The same conditional write again is refused: it would not overwrite.
    let (status, _) = raw_patch(&env, &token, &id, &etag, &answer);
    assert_eq!(status, 412);
    let stats = env.fake.stats();
    assert_eq!(stats.answered("events.patch", 500), 1);
    assert_eq!(stats.answered("events.patch", 412), 1);
}

/// Whatever happens to a copy between gatekeeper's read and its write (the
/// member answers, the organizer edits, other reads), a PATCH with
/// `If-Match` lands only on the very copy it was read from, and a refused
/// one leaves the copy exactly as it was.
#[test]
fn a_conditional_patch_lands_only_on_the_copy_it_was_read_from() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Debug, Clone)]
    enum Op {
        Read,
        Answer(&'static str),
        Edit,
        /// Patch with the etag of the n-th read (modulo the reads so far).
        Patch(usize),
    }
    let env = env();
    let token = raw_token(&env, BO);
    let op = prop_oneof![
        Just(Op::Read),
        prop::sample::select(vec!["accepted", "declined", "tentative", "needsAction"])
            .prop_map(Op::Answer),
        Just(Op::Edit),
        (0usize..4).prop_map(Op::Patch),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let etag_of = |id: &str| {
        env.fake.event_as(BO, id).expect("copy")["etag"]
            .as_str()
            .expect("etag")
            .to_string()
    };
    let answer = json!({"attendees": [{"email": BO, "responseStatus": "declined", "comment": "gk"}], "attendeesOmitted": true});
    runner
        .run(&prop::collection::vec(op, 1..8), |ops| {
            let id = env.meeting("Planning");
            let mut reads = vec![etag_of(&id)];
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Read => reads.push(etag_of(&id)),
                    Op::Answer(s) => env.fake.respond_as(BO, &id, s),
                    Op::Edit => {
                        env.fake
                            .update_event(ANA, &id, json!({"summary": format!("Planning {n}")}))
                    }
                    Op::Patch(k) => {
                        let sent = reads[k % reads.len()].clone();
                        let before = env.fake.event_as(BO, &id).expect("copy");
                        let (status, _) = raw_patch(&env, &token, &id, &sent, &answer);
                        if before["etag"] == sent.as_str() {
                            prop_assert_eq!(status, 200);
                            reads.push(etag_of(&id));
                        } else {
                            prop_assert_eq!(status, 412);
                            prop_assert_eq!(env.fake.event_as(BO, &id).expect("copy"), before);
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_hook_runs_while_the_request_is_in_flight() {
    let env = env();
    let id = env.meeting("Planning");
    let token = raw_token(&env, BO);
    let etag = env.fake.event_as(BO, &id).expect("copy")["etag"]
        .as_str()
        .expect("etag")
        .to_string();
    let hook_id = id.clone();
    env.fake.on_request("events.patch", move |f| {
        f.respond_as(BO, &hook_id, "accepted");
    });
    let answer = json!({"attendees": [{"email": BO, "responseStatus": "declined"}], "attendeesOmitted": true});
    let (status, _) = raw_patch(&env, &token, &id, &etag, &answer);
    assert_eq!(status, 412, "bo answered between the read and the write");
    let copy = env.fake.event_as(BO, &id).expect("copy");
    assert_eq!(json_attendee(&copy, BO)["responseStatus"], "accepted");
}

#[test]
fn organizer_removing_an_attendee_cancels_their_copy() {
    let env = env();
    let id = env.meeting("Planning");
    let hub = env.hub(CHEN);
    let (_, token) = env.sync(&hub, None);
    env.fake.respond_as(BO, &id, "accepted");
    env.fake.update_event(
        ANA,
        &id,
        json!({"attendees": [{"email": ANA}, {"email": BO}]}),
    );
    let (items, _) = env.sync(&hub, Some(&token));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status.as_deref(), Some("cancelled"));
    // bo kept his answer through the organizer's edit.
    let bo = env.fake.event_as(BO, &id).expect("bo's copy");
    assert_eq!(json_attendee(&bo, BO)["responseStatus"], "accepted");
    assert_eq!(bo["status"], "confirmed");
}

#[test]
fn recurring_exceptions_are_their_own_events() {
    let env = env();
    let master = env.fake.insert_event(
        ANA,
        json!({
            "summary": "Standup",
            "start": {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-02T09:15:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Berlin:20260316T090000"],
            "attendees": [{"email": BO}],
        }),
    );
    let moved = env.fake.insert_event(
        ANA,
        json!({
            "summary": "Standup (moved)",
            "recurringEventId": master,
            "originalStartTime": {"dateTime": "2026-03-09T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "start": {"dateTime": "2026-03-09T11:00:00+01:00"},
            "end": {"dateTime": "2026-03-09T11:15:00+01:00"},
            "attendees": [{"email": BO}],
        }),
    );
    assert_eq!(moved, format!("{master}_20260309T080000Z"));
    let hub = env.hub(BO);
    let (items, token) = env.sync(&hub, None);
    assert_eq!(items.len(), 2);
    let m = items
        .iter()
        .find(|e| e.id.as_deref() == Some(master.as_str()))
        .unwrap();
    assert_eq!(m.recurrence.as_ref().map(Vec::len), Some(2));
    env.fake.cancel_event(ANA, &moved);
    let (items, _) = env.sync(&hub, Some(&token));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status.as_deref(), Some("cancelled"));
    assert_eq!(
        items[0].recurring_event_id.as_deref(),
        Some(master.as_str())
    );
    assert!(items[0].original_start_time.is_some());
}

#[test]
fn slow_requests_still_answer_and_token_failures_reach_the_client() {
    let env = env();
    env.fake.inject(
        Failure::new(FailureKind::Slow(Duration::from_millis(300)))
            .method("events.list")
            .times(1),
    );
    let hub = env.hub(ANA);
    let t = std::time::Instant::now();
    env.list(&hub, None, None, None).expect("slow but fine");
    assert!(t.elapsed() >= Duration::from_millis(300));

    env.fake
        .inject(Failure::new(FailureKind::ServiceUnavailable).method("token"));
    let bo = env.hub(BO);
    assert!(matches!(
        env.list(&bo, None, None, None),
        Err(google_calendar3::Error::MissingToken(_))
    ));
    assert_eq!(env.fake.stats().count(BO, "token"), 1);
}

#[test]
fn a_patch_whose_client_hung_up_still_lands() {
    let env = env();
    let id = env.meeting("Planning");
    let token = raw_token(&env, BO);
    env.fake.inject(
        Failure::new(FailureKind::Slow(Duration::from_millis(200)))
            .method("events.patch")
            .times(1),
    );
    let url = format!("{}calendars/primary/events/{id}", env.fake.api_base());
    let body = json!({"attendees": [{"email": BO, "responseStatus": "declined"}], "attendeesOmitted": true});
    env.rt.block_on(async {
        use http_body_util::Full;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<bytes::Bytes>>();
        let req = hyper::Request::patch(url)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .expect("request");
        // The client gives up (is killed) while the fake is still working.
        let r = tokio::time::timeout(Duration::from_millis(50), client.request(req)).await;
        assert!(r.is_err(), "the answer came before the client hung up");
    });
    std::thread::sleep(Duration::from_millis(400));
    let copy = env.fake.event_as(BO, &id).expect("copy");
    assert_eq!(json_attendee(&copy, BO)["responseStatus"], "declined");
}
