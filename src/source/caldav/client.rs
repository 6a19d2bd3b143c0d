//! HTTP for CalDAV: one configured server, its credentials, and the bounds
//! every request keeps (a timeout, a cap on the answer's size, retries with
//! jittered backoff on 5xx, 429 and connection errors, never on a write).
//!
//! Must not: send credentials anywhere but the configured server's origin
//! (a redirect or an absolute href elsewhere is refused), talk plain
//! `http` to a host that is not loopback, or show a credential in a log,
//! an error or `Debug` output.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Url;

use crate::config::Secret;
use crate::source::google::retry::{Backoff, Jitter, parse_retry_after};

/// How the client logs in.
#[derive(Clone)]
pub enum Auth {
    Basic { user: String, password: Secret },
    Bearer { token: Secret },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: the server answered {status}{}", conditions_note(conditions))]
    Status {
        url: String,
        status: u16,
        /// The DAV preconditions its error body names.
        conditions: Vec<String>,
    },
    #[error("{url}: the server refused the credentials (401)")]
    Unauthorized { url: String },
    #[error("{url}: the answer is over {max} bytes (`[limits] max_item_bytes`)")]
    TooLarge { url: String, max: usize },
    #[error("{url}: {reason}")]
    Xml { url: String, reason: String },
    #[error(
        "{url}: plain `http` is only used with loopback hosts (127.0.0.1, ::1, localhost); use `https`"
    )]
    Insecure { url: String },
    #[error(
        "{url}: not on the configured server `{origin}`; gatekeeper sends credentials nowhere else"
    )]
    OtherOrigin { url: String, origin: String },
    #[error("`{url}` is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
}

fn conditions_note(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" ({})", conditions.join(", "))
    }
}

impl DavError {
    pub fn status(&self) -> Option<u16> {
        match self {
            DavError::Status { status, .. } => Some(*status),
            DavError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    pub fn has_condition(&self, name: &str) -> bool {
        matches!(self, DavError::Status { conditions, .. } if conditions.iter().any(|c| c == name))
    }
}

/// Check a server URL as configured: `https`, or `http` to loopback
/// (`crate::net`, the product's one rule for plain HTTP).
pub fn check_server_url(url: &str) -> Result<Url, DavError> {
    match crate::net::check_url(url) {
        Ok(()) => {}
        Err(crate::net::UrlError::PlainHttpNotLoopback { .. }) => {
            return Err(DavError::Insecure {
                url: url.to_string(),
            });
        }
        Err(e) => {
            return Err(DavError::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            });
        }
    }
    Url::parse(url).map_err(|e| DavError::BadUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// A request's answer, body read in full (within the cap).
#[derive(Debug, Clone)]
pub struct DavResponse {
    pub status: u16,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// The default bound on one request (connect, send, read).
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct DavClient {
    http: reqwest::Client,
    /// The configured server: every URL requested must share its origin.
    server: Url,
    auth: Auth,
    max_body: usize,
    backoff: Backoff,
    jitter: Mutex<Jitter>,
    requests: AtomicU64,
}

impl std::fmt::Debug for DavClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DavClient")
            .field("server", &self.server.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl DavClient {
    pub fn new(server: Url, auth: Auth, max_body: usize) -> Result<DavClient, DavError> {
        check_server_url(server.as_str())?;
        let http = reqwest::Client::builder()
            // Redirects are followed by hand (the well-known one), after
            // checking where they lead: reqwest would turn a redirected
            // PROPFIND into a GET and carry the credentials along.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| DavError::Transport {
                url: server.to_string(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(DavClient {
            http,
            server,
            auth,
            max_body,
            backoff: Backoff::default(),
            jitter: Mutex::new(Jitter::from_time()),
            requests: AtomicU64::new(0),
        })
    }

    /// Shorter waits between retries (tests).
    pub fn with_backoff(mut self, backoff: Backoff) -> DavClient {
        self.backoff = backoff;
        self
    }

    pub fn server(&self) -> &Url {
        &self.server
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resolve an href (relative or absolute, as a server sent it) against
    /// `base`, refusing one on another origin.
    pub fn resolve(&self, base: &Url, href: &str) -> Result<Url, DavError> {
        let url = base.join(href).map_err(|e| DavError::BadUrl {
            url: href.to_string(),
            reason: e.to_string(),
        })?;
        self.check_origin(&url)?;
        Ok(url)
    }

    fn check_origin(&self, url: &Url) -> Result<(), DavError> {
        if url.origin() != self.server.origin() {
            return Err(DavError::OtherOrigin {
                url: url.to_string(),
                origin: self.server.origin().ascii_serialization(),
            });
        }
        Ok(())
    }

    /// Send one request. Reads (`idempotent`) are retried on 5xx, 429 and
    /// connection errors with the project's backoff; a write is sent once:
    /// its fate may be unknown, and the caller reads the item again before
    /// deciding anything (with `If-Match`, a resend could only be refused,
    /// but the item must be re-read either way).
    ///
    /// Returns every status but 401 as a response: the caller knows what
    /// a 207, 404 or 412 means for it.
    pub async fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        idempotent: bool,
    ) -> Result<DavResponse, DavError> {
        self.check_origin(url)?;
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| DavError::BadUrl {
                url: url.to_string(),
                reason: format!("method `{method}`: {e}"),
            })?;
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.request(method_value.clone(), url.clone());
            req = match &self.auth {
                Auth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
                Auth::Bearer { token } => req.bearer_auth(token.expose()),
            };
            if matches!(method, "PROPFIND" | "REPORT") {
                // Radicale answers 415 without it.
                req = req.header("Content-Type", "application/xml; charset=utf-8");
            }
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            if let Some(b) = body {
                req = req.body(b.to_vec());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome: Result<std::convert::Infallible, (String, Option<Duration>)> =
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let retry_after = resp
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
                        if idempotent && (status == 429 || (500..600).contains(&status)) {
                            Err((format!("the server answered {status}"), retry_after))
                        } else {
                            return self.finish(url, resp).await;
                        }
                    }
                    Err(e) => Err((transport_reason(&e), None)),
                };
            let Err((reason, retry_after)) = outcome;
            let unit = self.jitter.lock().map_or(0.5, |mut j| j.unit());
            match (idempotent && attempt + 1 < self.backoff.max_attempts)
                .then(|| self.backoff.wait(attempt, retry_after, unit))
                .flatten()
            {
                Some(wait) => {
                    tracing::debug!("{url}: {reason}; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return Err(DavError::Transport {
                        url: url.to_string(),
                        reason,
                    });
                }
            }
        }
    }

    /// Read the answer within the cap.
    async fn finish(
        &self,
        url: &Url,
        mut resp: reqwest::Response,
    ) -> Result<DavResponse, DavError> {
        let status = resp.status().as_u16();
        if status == 401 {
            return Err(DavError::Unauthorized {
                url: url.to_string(),
            });
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, location) = (header("etag"), header("location"));
        let too_large = || DavError::TooLarge {
            url: url.to_string(),
            max: self.max_body,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(DavError::Transport {
                        url: url.to_string(),
                        reason: transport_reason(&e),
                    });
                }
            }
        }
        Ok(DavResponse {
            status,
            etag,
            location,
            body,
        })
    }

    /// PROPFIND with `Depth`; the multistatus parsed. A status other than
    /// 207 is an error carrying the body's preconditions.
    pub async fn propfind(
        &self,
        url: &Url,
        depth: &str,
        props: &[(&str, &str)],
    ) -> Result<super::xml::Multistatus, DavError> {
        let body = super::xml::propfind(props);
        let resp = self
            .send(
                "PROPFIND",
                url,
                &[("Depth", depth)],
                Some(body.as_bytes()),
                true,
            )
            .await?;
        self.multistatus(url, resp)
    }

    /// REPORT with `Depth`; the multistatus parsed.
    pub async fn report(
        &self,
        url: &Url,
        depth: &str,
        body: &str,
    ) -> Result<super::xml::Multistatus, DavError> {
        let resp = self
            .send(
                "REPORT",
                url,
                &[("Depth", depth)],
                Some(body.as_bytes()),
                true,
            )
            .await?;
        self.multistatus(url, resp)
    }

    pub fn multistatus(
        &self,
        url: &Url,
        resp: DavResponse,
    ) -> Result<super::xml::Multistatus, DavError> {
        if resp.status != 207 {
            return Err(status_error(url, &resp));
        }
        super::xml::multistatus(&resp.body).map_err(|e| DavError::Xml {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }
}

/// An unexpected status as an error, with the preconditions its body names.
pub fn status_error(url: &Url, resp: &DavResponse) -> DavError {
    DavError::Status {
        url: url.to_string(),
        status: resp.status,
        conditions: super::xml::error_conditions(&resp.body),
    }
}

/// A transport failure in words, without the URL's credentials (reqwest
/// does not put them in its messages; the URL carries none anyway).
fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {TIMEOUT:?}")
    } else if e.is_connect() {
        "cannot connect to the server".into()
    } else {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason.push_str(&format!(": {s}"));
            source = s.source();
        }
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        let check = |url: &str, ok: bool| {
            assert_eq!(check_server_url(url).is_ok(), ok, "{url}");
        };
        check("https://dav.example.com/", true);
        check("http://127.0.0.1:5232/", true);
        check("http://127.8.9.1/", true);
        check("http://[::1]:5232/", true);
        check("http://localhost:5232/", true);
        check("http://dav.example.com/", false);
        check("http://10.0.0.1/", false);
        check("http://localhost.example.com/", false);
        check("http://127.0.0.1@dav.example.com/", false);
        check("ftp://dav.example.com/", false);
        check("not a url", false);
    }

    #[test]
    fn credentials_never_in_debug() {
        let basic = Auth::Basic {
            user: "gatekeeper".into(),
            password: Secret::new("hunter2"),
        };
        let bearer = Auth::Bearer {
            token: Secret::new("tok-123"),
        };
        let client = DavClient::new(
            Url::parse("https://dav.example.com/").unwrap(),
            basic.clone(),
            1024,
        )
        .unwrap();
        let shown = format!("{basic:?} {bearer:?} {client:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(shown.contains("gatekeeper"));
    }

    #[test]
    fn hrefs_elsewhere_are_refused() {
        let client = DavClient::new(
            Url::parse("https://dav.example.com/").unwrap(),
            Auth::Bearer {
                token: Secret::new("t"),
            },
            1024,
        )
        .unwrap();
        let base = Url::parse("https://dav.example.com/ana/work/").unwrap();
        assert_eq!(
            client.resolve(&base, "a%40b.ics").unwrap().as_str(),
            "https://dav.example.com/ana/work/a%40b.ics"
        );
        assert_eq!(
            client
                .resolve(&base, "https://dav.example.com/ana/x.ics")
                .unwrap()
                .path(),
            "/ana/x.ics"
        );
        assert!(matches!(
            client.resolve(&base, "https://evil.example.net/ana/x.ics"),
            Err(DavError::OtherOrigin { .. })
        ));
        assert!(matches!(
            client.resolve(&base, "http://dav.example.com/ana/x.ics"),
            Err(DavError::OtherOrigin { .. })
        ));
    }
}
