//! The fake's HTTP side: accept loop, routing of the paths the
//! `google-calendar3` client uses, and the order Google applies checks in
//! (count the request, injected failures, authentication, scope, then the
//! method itself). Handlers hold the state lock only while computing an
//! answer, never across an `await`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::FakeGoogle;
use super::auth::{parse_form, percent_decode, unverified_subject};
use super::error::{ApiError, TokenError};
use super::failure::{FailureKind, Outcome};
use super::patch::patch_as;
use super::sync::{ListQuery, list};

pub(crate) async fn serve(fake: FakeGoogle, listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let fake = fake.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let fake = fake.clone();
                // Google carries out a request whose client hung up (a
                // killed daemon's in-flight patch still lands), so the
                // handling runs on its own task, not the connection's.
                async move {
                    let answer = tokio::spawn(answer_and_count(fake, req))
                        .await
                        .unwrap_or_else(|_| api_error(&ApiError::backend_error()));
                    // An error from the service makes hyper close the
                    // connection without answering.
                    if answer.headers().contains_key(DROP_CONNECTION) {
                        return Err(DroppedConnection);
                    }
                    Ok(answer)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!("google fake: connection ended: {e}");
            }
        });
    }
}

type Answer = Response<Full<Bytes>>;

/// Internal marker on an answer that must not be sent: the connection is
/// closed instead (`FailureKind::DropConnectionAfterApplying`).
const DROP_CONNECTION: &str = "x-fake-drop-connection";

#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the fake dropped the connection on purpose")
    }
}

impl std::error::Error for DroppedConnection {}

fn json_answer(status: u16, body: &Value) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

fn with_retry_after(mut r: Answer, secs: Option<u64>) -> Answer {
    if let Some(s) = secs
        && let Ok(v) = hyper::header::HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

fn api_error(e: &ApiError) -> Answer {
    let mut r = with_retry_after(json_answer(e.status, &e.body()), e.retry_after);
    if e.status == 401 {
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
    }
    r
}

fn token_error(e: &TokenError) -> Answer {
    with_retry_after(json_answer(e.status, &e.body()), e.retry_after)
}

/// A route of the API: the method's name and its path parameters.
enum Route {
    List(String),
    Get(String, String),
    Patch(String, String),
    Watch(String),
    Stop,
    Setting(String),
    Unknown,
}

impl Route {
    fn name(&self) -> &'static str {
        match self {
            Route::List(_) => "events.list",
            Route::Get(..) => "events.get",
            Route::Patch(..) => "events.patch",
            Route::Watch(_) => "events.watch",
            Route::Stop => "channels.stop",
            Route::Setting(_) => "settings.get",
            Route::Unknown => "unknown",
        }
    }
}

fn route(method: &Method, path: &str) -> Route {
    let Some(rest) = path.strip_prefix("/calendar/v3/") else {
        return Route::Unknown;
    };
    let segs: Vec<String> = rest.split('/').map(|s| percent_decode(s, false)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method, segs.as_slice()) {
        (&Method::GET, ["calendars", cal, "events"]) => Route::List(cal.to_string()),
        (&Method::POST, ["calendars", cal, "events", "watch"]) => Route::Watch(cal.to_string()),
        (&Method::GET, ["calendars", cal, "events", id]) => {
            Route::Get(cal.to_string(), id.to_string())
        }
        (&Method::PATCH, ["calendars", cal, "events", id]) => {
            Route::Patch(cal.to_string(), id.to_string())
        }
        (&Method::POST, ["channels", "stop"]) => Route::Stop,
        (&Method::GET, ["users", "me", "settings", s]) => Route::Setting(s.to_string()),
        _ => Route::Unknown,
    }
}

/// Handles a request and counts its answer's status per method.
async fn answer_and_count(fake: FakeGoogle, req: Request<Incoming>) -> Answer {
    let name = if req.method() == Method::POST && req.uri().path() == "/token" {
        "token"
    } else {
        route(req.method(), req.uri().path()).name()
    };
    let answer = handle(fake.clone(), req).await;
    // A dropped connection answers nothing: counted as status 0.
    let status = if answer.headers().contains_key(DROP_CONNECTION) {
        0
    } else {
        answer.status().as_u16()
    };
    fake.lock().stats.answered(name, status);
    answer
}

async fn handle(fake: FakeGoogle, req: Request<Incoming>) -> Answer {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = parse_form(req.uri().query().unwrap_or(""));
    let header = |k: &str| {
        req.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header("authorization");
    let if_match = header("if-match");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return api_error(&ApiError::invalid("unreadable request body")),
    };

    if method == Method::POST && path == "/token" {
        return token(fake, &body).await;
    }
    // Not part of Google's API: how a person adds an invite to a running
    // fake (`gatekeeper-google-fake invite`, or curl), as if the organizer
    // had made it in Google's UI. The daemon never calls it.
    if method == Method::POST && path == "/fake/invite" {
        return fake_invite(&fake, &body);
    }
    let route = route(&method, &path);
    let name = route.name();
    let (outcome, hook) = {
        let mut s = fake.lock();
        let (now, _) = s.now();
        let subject = s.auth.subject_of(authorization.as_deref());
        s.stats.record(subject.as_deref().unwrap_or(""), name, now);
        (
            s.failures.for_request(name, subject.as_deref()),
            s.take_hook(name),
        )
    };
    // A test's "meanwhile": runs after the request arrived, before it is
    // answered, outside the lock.
    if let Some(hook) = hook {
        hook(&fake);
    }
    let mut after = None;
    match outcome {
        Some(Outcome::Fail(kind)) => {
            if let Some(e) = kind.api_error() {
                return api_error(&e);
            }
        }
        Some(Outcome::Delay(d)) => tokio::time::sleep(d).await,
        Some(o @ (Outcome::DelayAnswer(_) | Outcome::FailAfter(_))) => after = Some(o),
        None => {}
    }
    let answer = carry_out(&fake, &route, &query, authorization, if_match, &body);
    match after {
        Some(Outcome::DelayAnswer(d)) => {
            tokio::time::sleep(d).await;
            answer
        }
        Some(Outcome::FailAfter(FailureKind::DropConnectionAfterApplying)) => {
            let mut r = answer;
            r.headers_mut().insert(
                DROP_CONNECTION,
                hyper::header::HeaderValue::from_static("1"),
            );
            r
        }
        Some(Outcome::FailAfter(kind)) => match kind.api_error() {
            Some(e) => api_error(&e),
            None => answer,
        },
        _ => answer,
    }
}

/// The request itself, after injected failures: authentication, scope,
/// then the method.
fn carry_out(
    fake: &FakeGoogle,
    route: &Route,
    query: &[(String, String)],
    authorization: Option<String>,
    if_match: Option<String>,
    body: &Bytes,
) -> Answer {
    let name = route.name();

    let mut s = fake.lock();
    let (now, now_utc) = s.now();
    if matches!(route, Route::Unknown) {
        return api_error(&ApiError::not_found());
    }
    let subject = match s.auth.check(authorization.as_deref(), name, now) {
        Ok(t) => t.subject.clone(),
        Err(e) => return api_error(&e),
    };
    let body_json = || -> Result<Value, ApiError> {
        if body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("Parse Error"))
    };
    // `primary` and the member's own address name the member's calendar;
    // gatekeeper never reads anyone else's.
    let own = |cal: &str| cal == "primary" || cal.eq_ignore_ascii_case(&subject);

    let result: Result<Answer, ApiError> = (|| match route {
        Route::List(cal) if own(cal) => {
            let q = ListQuery::from_pairs(query)?;
            Ok(json_answer(200, &list(&s.store, &subject, &q)?))
        }
        Route::Get(cal, id) if own(cal) => {
            let ev = s
                .store
                .render(&subject, id)
                .ok_or_else(ApiError::not_found)?;
            Ok(json_answer(200, &ev))
        }
        Route::Patch(cal, id) if own(cal) => {
            if let Some(v) = query
                .iter()
                .find(|(k, _)| k == "sendUpdates")
                .map(|(_, v)| v)
                && !matches!(v.as_str(), "all" | "externalOnly" | "none")
            {
                return Err(ApiError::invalid(&format!(
                    "Invalid value for sendUpdates: `{v}`"
                )));
            }
            let etag = s.store.etag(&subject, id).ok_or_else(ApiError::not_found)?;
            if let Some(want) = &if_match
                && want != "*"
                && *want != etag
            {
                return Err(ApiError::condition_not_met());
            }
            let patch = body_json()?;
            let touched = patch_as(&mut s.store, &subject, id, &patch, now_utc)?;
            s.changed(&touched);
            let ev = s
                .store
                .render(&subject, id)
                .ok_or_else(ApiError::not_found)?;
            Ok(json_answer(200, &ev))
        }
        Route::Watch(cal) if own(cal) => {
            let request = body_json()?;
            let runtime = s.runtime.clone().ok_or_else(ApiError::backend_error)?;
            let api_base = s.api_base();
            let owner = subject.clone();
            let answer = s
                .channels
                .watch(&owner, &request, &api_base, &runtime, now_utc)?;
            Ok(json_answer(200, &answer))
        }
        Route::Stop => {
            let request = body_json()?;
            s.channels.stop(&subject, &request)?;
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        Route::Setting(name) => {
            let tz = s
                .users
                .get(&subject)
                .map(|u| u.time_zone.clone())
                .unwrap_or_else(|| "UTC".into());
            let value = match name.as_str() {
                "timezone" => tz,
                "weekStart" => "0".into(),
                "format24HourTime" => "false".into(),
                "locale" => "en".into(),
                "hideWeekends" | "hideInvitations" | "showDeclinedEvents" => "false".into(),
                _ => return Err(ApiError::not_found()),
            };
            Ok(json_answer(
                200,
                &json!({
                    "kind": "calendar#setting",
                    "etag": format!("\"{}\"", name.len()),
                    "id": name,
                    "value": value,
                }),
            ))
        }
        _ => Err(ApiError::not_found()),
    })();
    result.unwrap_or_else(|e| api_error(&e))
}

/// `{"organizer": EMAIL, "event": {Google Event JSON}}`, the seed's shape.
fn fake_invite(fake: &FakeGoogle, body: &Bytes) -> Answer {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return api_error(&ApiError::invalid("Parse Error"));
    };
    let (Some(organizer), Some(event)) = (
        request.get("organizer").and_then(Value::as_str),
        request.get("event"),
    ) else {
        return api_error(&ApiError::invalid(
            "expected {\"organizer\": ..., \"event\": {...}}",
        ));
    };
    let mut s = fake.lock();
    let (_, now) = s.now();
    match s.store.insert(organizer, event, now) {
        Ok((id, touched)) => {
            s.changed(&touched);
            json_answer(200, &json!({ "id": id, "calendars": touched }))
        }
        Err(m) => api_error(&ApiError::invalid(&m)),
    }
}

async fn token(fake: FakeGoogle, body: &Bytes) -> Answer {
    let form = String::from_utf8_lossy(body).into_owned();
    let subject = unverified_subject(&form);
    let outcome = {
        let mut s = fake.lock();
        let (now, _) = s.now();
        s.stats
            .record(subject.as_deref().unwrap_or(""), "token", now);
        s.failures.for_request("token", subject.as_deref())
    };
    match outcome {
        Some(Outcome::Fail(kind)) => {
            if let Some(e) = kind.token_error() {
                return token_error(&e);
            }
        }
        // The token endpoint has nothing to apply: a late answer is a
        // delay, an error after applying is an error.
        Some(Outcome::Delay(d) | Outcome::DelayAnswer(d)) => tokio::time::sleep(d).await,
        Some(Outcome::FailAfter(kind)) => {
            if let Some(e) = kind.token_error() {
                return token_error(&e);
            }
        }
        None => {}
    }
    let mut s = fake.lock();
    let (now, now_utc) = s.now();
    let token_uri = format!("{}token", s.root_url());
    let active: Vec<String> = s
        .users
        .keys()
        .filter(|u| s.is_active_user(u))
        .cloned()
        .collect();
    match s.auth.grant(
        &form,
        &token_uri,
        |sub| active.iter().any(|a| a == sub),
        now,
        now_utc.timestamp(),
    ) {
        Ok(answer) => json_answer(200, &answer),
        Err(e) => token_error(&e),
    }
}
