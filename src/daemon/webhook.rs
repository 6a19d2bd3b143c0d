//! The HTTP listener for Google's push notifications. A notification is
//! accepted only for a channel gatekeeper opened and only with that
//! channel's token; it then wakes the daemon loop to sync that member's
//! calendar. The listener never syncs or decides anything itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::mpsc::Sender;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::source::google::ChannelRegistry;

/// A change on one member's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub source: String,
    pub member: String,
}

/// Bind `listen` and serve notifications posted to `path`. Returns the bound
/// address (useful with port 0).
pub fn spawn(
    rt: &tokio::runtime::Handle,
    listen: &str,
    path: String,
    registry: ChannelRegistry,
    tx: Sender<Notification>,
) -> std::io::Result<SocketAddr> {
    let listener = rt.block_on(tokio::net::TcpListener::bind(listen))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let registry = registry.clone();
            let tx = tx.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = handle(&req, &path, &registry, &tx);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn handle(
    req: &Request<Incoming>,
    path: &str,
    registry: &ChannelRegistry,
    tx: &Sender<Notification>,
) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::POST || req.uri().path() != path {
        return reply(StatusCode::NOT_FOUND);
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let channel = header("x-goog-channel-id");
    let token = header("x-goog-channel-token");
    let Some((source, member)) = registry.check(channel, token) else {
        if registry.is_retired(channel, token) {
            // A message Google sent before gatekeeper stopped the channel:
            // acknowledged, acted on by nobody, no warning.
            tracing::debug!("webhook: a late notification on a stopped channel");
            return reply(StatusCode::OK);
        }
        // Never log the token that was sent.
        tracing::warn!("webhook: refused a notification for unknown channel or with a wrong token");
        return reply(StatusCode::UNAUTHORIZED);
    };
    match header("x-goog-resource-state") {
        // The first message on a new channel: nothing changed yet.
        "sync" => {}
        _ => {
            let _ = tx.send(Notification { source, member });
        }
    }
    reply(StatusCode::OK)
}

/// The path part of the public URL Google posts to.
pub fn path_of(public_url: &str) -> String {
    let after_scheme = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..]
            .split(['?', '#'])
            .next()
            .unwrap_or("/")
            .to_string(),
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_paths() {
        assert_eq!(
            path_of("https://gk.example.com/google/notify"),
            "/google/notify"
        );
        assert_eq!(path_of("https://gk.example.com"), "/");
        assert_eq!(path_of("https://gk.example.com/hook?x=1"), "/hook");
    }

    #[test]
    fn only_known_channels_with_their_token_get_through() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let registry = ChannelRegistry::default();
        registry.insert("ch-1", "google", "ana@example.com", "secret-token");
        let (tx, rx) = std::sync::mpsc::channel();
        let addr = spawn(
            rt.handle(),
            "127.0.0.1:0",
            "/notify".into(),
            registry.clone(),
            tx,
        )
        .unwrap();
        let post = |path: &str, channel: &str, token: &str, state: &str| -> u16 {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(
                s,
                "POST {path} HTTP/1.1\r\nHost: x\r\nX-Goog-Channel-ID: {channel}\r\nX-Goog-Channel-Token: {token}\r\nX-Goog-Resource-State: {state}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out[9..12].parse().unwrap()
        };
        assert_eq!(post("/notify", "ch-1", "secret-token", "sync"), 200);
        assert_eq!(post("/notify", "ch-1", "wrong", "exists"), 401);
        assert_eq!(post("/notify", "ch-2", "secret-token", "exists"), 401);
        assert_eq!(post("/other", "ch-1", "secret-token", "exists"), 404);
        assert!(
            rx.try_recv().is_err(),
            "sync messages and refused ones wake nobody"
        );
        assert_eq!(post("/notify", "ch-1", "secret-token", "exists"), 200);
        let n = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(
            n,
            Notification {
                source: "google".into(),
                member: "ana@example.com".into()
            }
        );

        // A stopped channel: a late message with its token is acknowledged
        // and wakes nobody; a wrong token is still refused.
        registry.remove("ch-1");
        assert_eq!(post("/notify", "ch-1", "secret-token", "exists"), 200);
        assert_eq!(post("/notify", "ch-1", "wrong", "exists"), 401);
        // The handler sends before it answers, so by now a wake-up would be
        // waiting.
        assert!(rx.try_recv().is_err(), "a stopped channel wakes nobody");
    }
}
