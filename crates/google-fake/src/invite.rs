//! Adding an invite to a running fake from outside it, as if the organizer
//! had made it in Google Calendar: a POST of `{"organizer", "event"}` to
//! the fake's `/fake/invite` (not part of Google's API). The development
//! binary's `invite` command and the tests that drive a fake in another
//! process use it.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

/// A meeting invite, in the few fields a person gives on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub organizer: String,
    pub attendees: Vec<String>,
    pub summary: String,
    /// The agenda; empty for none.
    pub description: String,
    pub start: DateTime<Utc>,
    pub minutes: u32,
}

impl Invite {
    /// The request body `/fake/invite` takes: the organizer, and the event
    /// in Google's JSON with the organizer attending.
    pub fn to_json(&self) -> Value {
        let end = self.start + chrono::Duration::minutes(i64::from(self.minutes));
        let mut attendees = vec![json!({ "email": self.organizer, "responseStatus": "accepted" })];
        attendees.extend(self.attendees.iter().map(|a| json!({ "email": a })));
        let mut event = json!({
            "summary": self.summary,
            "start": {"dateTime": self.start.to_rfc3339_opts(SecondsFormat::Secs, true)},
            "end": {"dateTime": end.to_rfc3339_opts(SecondsFormat::Secs, true)},
            "attendees": attendees,
        });
        if !self.description.is_empty() {
            event["description"] = json!(self.description);
        }
        json!({ "organizer": self.organizer, "event": event })
    }
}

/// Posts `invite` to the fake at `fake_url` (`http://127.0.0.1:8085`) and
/// returns the new event's id.
pub fn post(fake_url: &str, invite: &Invite) -> Result<String, String> {
    let url = format!("{}/fake/invite", fake_url.trim_end_matches('/'));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (status, text) = rt.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let req = hyper::Request::post(url.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(invite.to_json().to_string())))
            .map_err(|e| format!("`{fake_url}` is not a fake's address: {e}"))?;
        let reach = |e: &dyn std::fmt::Display| format!("cannot reach the fake at {fake_url}: {e}");
        let answer = async {
            let resp = client.request(req).await.map_err(|e| reach(&e))?;
            let status = resp.status();
            let body = resp.into_body().collect().await.map_err(|e| reach(&e))?;
            Ok::<_, String>((
                status,
                String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            ))
        };
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .map_err(|_| reach(&"no answer within 10 s"))?
    })?;
    if !status.is_success() {
        return Err(format!("the fake answered {status}: {text}"));
    }
    let v: Value = serde_json::from_str(&text).unwrap_or_default();
    Ok(v["id"].as_str().unwrap_or("?").to_string())
}
