//! Push channels (`events.watch`, `channels.stop`) and the web-hook
//! notifications they carry. Each channel has its own delivery task fed by
//! an unbounded queue, so notifications leave in message-number order and a
//! change made while the fake's lock is held never waits on the network.
//! Google only posts to `https` addresses; the fake also accepts plain
//! `http` on the loopback interface so tests can listen without TLS.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Empty;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::failure::Failures;

const DEFAULT_TTL_SECS: i64 = 7 * 24 * 3600;

struct Notification {
    address: String,
    headers: Vec<(&'static str, String)>,
}

pub(crate) struct Channel {
    id: String,
    resource_id: String,
    owner: String,
    address: String,
    token: Option<String>,
    resource_uri: String,
    expiration: DateTime<Utc>,
    next_message: u64,
    queue: mpsc::UnboundedSender<Notification>,
}

/// Delivered notifications per (resource state, the listener's status).
type Deliveries = Arc<Mutex<BTreeMap<(String, u16), u64>>>;

#[derive(Default)]
pub(crate) struct Channels {
    by_id: HashMap<String, Channel>,
    deliveries: Deliveries,
}

/// The same calendar always has the same resource id, as at Google.
fn resource_id(owner: &str) -> String {
    format!("r{}", URL_SAFE_NO_PAD.encode(owner.as_bytes()))
}

fn address_allowed(address: &str) -> bool {
    if address.starts_with("https://") {
        return true;
    }
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            address
                .strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

impl Channel {
    fn send(&mut self, state: &str) {
        let number = self.next_message;
        self.next_message += 1;
        let mut headers = vec![
            ("X-Goog-Channel-ID", self.id.clone()),
            (
                "X-Goog-Channel-Expiration",
                self.expiration
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string(),
            ),
            ("X-Goog-Resource-ID", self.resource_id.clone()),
            ("X-Goog-Resource-URI", self.resource_uri.clone()),
            ("X-Goog-Resource-State", state.to_string()),
            ("X-Goog-Message-Number", number.to_string()),
        ];
        if let Some(t) = &self.token {
            headers.push(("X-Goog-Channel-Token", t.clone()));
        }
        // A closed queue means the runtime is gone: nobody is listening.
        let _ = self.queue.send(Notification {
            address: self.address.clone(),
            headers,
        });
    }
}

impl Channels {
    /// Opens a channel on `owner`'s events and queues its `sync` message.
    pub fn watch(
        &mut self,
        owner: &str,
        body: &Value,
        api_base: &str,
        runtime: &tokio::runtime::Handle,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let field = |k: &str| body.get(k).and_then(Value::as_str);
        let id = field("id").ok_or_else(|| ApiError::required("Missing channel id."))?;
        match field("type") {
            Some("web_hook" | "webhook") => {}
            _ => return Err(ApiError::invalid("Unknown channel type.")),
        }
        let address =
            field("address").ok_or_else(|| ApiError::required("Missing channel address."))?;
        if !address_allowed(address) {
            let mut e = ApiError::invalid(&format!("WebHook callback must be HTTPS: {address}"));
            e.reason = "push.webhookUrlNotHttps";
            return Err(e);
        }
        if self.by_id.contains_key(id) {
            let mut e = ApiError::invalid(&format!("Channel id {id} not unique"));
            e.reason = "channelIdNotUnique";
            return Err(e);
        }
        let ttl = match body.pointer("/params/ttl").and_then(Value::as_str) {
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|t| *t > 0)
                .ok_or_else(|| ApiError::invalid("Invalid ttl value."))?,
            None => DEFAULT_TTL_SECS,
        };
        let expiration = now + chrono::Duration::seconds(ttl);
        let (queue, rx) = mpsc::unbounded_channel();
        runtime.spawn(deliver(rx, Arc::clone(&self.deliveries)));
        let mut channel = Channel {
            id: id.to_string(),
            resource_id: resource_id(owner),
            owner: owner.to_string(),
            address: address.to_string(),
            token: field("token").map(str::to_string),
            resource_uri: format!("{api_base}calendars/{owner}/events?alt=json"),
            expiration,
            next_message: 1,
            queue,
        };
        channel.send("sync");
        let answer = json!({
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "token": channel.token,
            "expiration": expiration.timestamp_millis().to_string(),
        });
        self.by_id.insert(channel.id.clone(), channel);
        Ok(answer)
    }

    pub fn deliveries(&self) -> BTreeMap<(String, u16), u64> {
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `channels.stop`: only the member who opened a channel may stop it.
    pub fn stop(&mut self, caller: &str, body: &Value) -> Result<(), ApiError> {
        let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
        let resource = body.get("resourceId").and_then(Value::as_str);
        let known = self
            .by_id
            .get(id)
            .is_some_and(|c| c.owner == caller && resource.is_none_or(|r| r == c.resource_id));
        if !known {
            let mut e = ApiError::not_found();
            e.message = format!("Channel '{id}' not found for project");
            return Err(e);
        }
        self.by_id.remove(id);
        Ok(())
    }

    /// Queues `exists` on every live channel of each changed calendar.
    pub fn notify(&mut self, owners: &[String], failures: &mut Failures, now: DateTime<Utc>) {
        self.by_id.retain(|_, c| c.expiration > now);
        for c in self.by_id.values_mut() {
            if owners.iter().any(|o| o == &c.owner) {
                if failures.drop_notification(&c.owner) {
                    // Lost on the way: the number is used, nothing arrives.
                    c.next_message += 1;
                    continue;
                }
                c.send("exists");
            }
        }
    }
}

async fn deliver(mut rx: mpsc::UnboundedReceiver<Notification>, deliveries: Deliveries) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    while let Some(n) = rx.recv().await {
        let mut req = hyper::Request::post(&n.address).header("Content-Length", "0");
        for (k, v) in &n.headers {
            req = req.header(*k, v);
        }
        let Ok(req) = req.body(Empty::new()) else {
            continue;
        };
        let state = n
            .headers
            .iter()
            .find(|(k, _)| *k == "X-Goog-Resource-State")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        // Google does not retry a failed delivery in a way clients can rely
        // on; neither does the fake.
        let status = match client.request(req).await {
            Ok(r) => r.status().as_u16(),
            Err(e) => {
                tracing::debug!("google fake: notification to {} failed: {e}", n.address);
                0
            }
        };
        *deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((state, status))
            .or_default() += 1;
    }
}
