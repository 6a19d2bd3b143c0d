//! Posting the report's Markdown summary to a Slack-compatible incoming
//! webhook (`{"text": ...}` as JSON). The only network I/O of the report.
//!
//! The webhook URL is a secret: it must never appear in a log line, an
//! error message or `Debug` output, so errors are stripped of it.

use std::time::Duration;

use crate::config::Secret;

/// Post `text` to the webhook; an error says what went wrong without the
/// URL.
pub fn post(url: &Secret, text: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the chat client: {e}"))?;
    rt.block_on(post_async(url, text))
}

async fn post_async(url: &Secret, text: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot start the chat client: {}", e.without_url()))?;
    let body = serde_json::json!({ "text": text });
    let resp = client
        .post(url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("posting to the chat webhook failed: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the chat webhook answered {status}"))
    }
}
