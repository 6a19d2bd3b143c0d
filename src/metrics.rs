//! The daemon's operational figures, served in Prometheus text format on
//! their own address (`[metrics] listen`): `/metrics`, `/healthz` (the
//! process is up) and `/readyz` (a first pass has finished).
//!
//! Owns the counters and the small HTTP server. It must not slow the daemon
//! (a counter update is one short lock) nor expose personal data: labels are
//! actions, rule names and source names, never titles or addresses.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The figures one daemon has gathered since it started.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
    ready: AtomicBool,
}

#[derive(Default, Clone)]
struct Counters {
    /// (action, rule) → decisions; `rule` is `none` when no rule fired.
    decisions: BTreeMap<(String, String), u64>,
    api_calls: u64,
    failed_actions: u64,
    skipped_items: u64,
    passes: u64,
    pass_seconds_sum: f64,
    last_pass_seconds: f64,
    /// source → Unix time its last pass finished.
    last_sync: BTreeMap<String, i64>,
    /// The Google sources' failed attempts by kind and waits, as of the
    /// latest pass (the sources keep the running totals).
    api: crate::source::google::stats::ApiStatsSnapshot,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while holding this lock leaves plain numbers behind;
        // they are still worth serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One decision, counted once per rule that fired (or under `none`).
    pub fn record_decision(&self, action: &str, rules: &[&str]) {
        let mut c = self.counters();
        if rules.is_empty() {
            *c.decisions
                .entry((action.to_string(), "none".to_string()))
                .or_default() += 1;
        }
        for rule in rules {
            *c.decisions
                .entry((action.to_string(), (*rule).to_string()))
                .or_default() += 1;
        }
    }

    /// A finished pass over `sources` at Unix time `now`.
    pub fn record_pass(
        &self,
        seconds: f64,
        api_calls: u32,
        failed: usize,
        skipped: usize,
        sources: &[String],
        now: i64,
    ) {
        let mut c = self.counters();
        c.passes += 1;
        c.pass_seconds_sum += seconds;
        c.last_pass_seconds = seconds;
        c.api_calls += u64::from(api_calls);
        c.failed_actions += failed as u64;
        c.skipped_items += skipped as u64;
        for s in sources {
            c.last_sync.insert(s.clone(), now);
        }
        drop(c);
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The Google sources' running totals of failures by kind and waits.
    pub fn set_api_stats(&self, api: crate::source::google::stats::ApiStatsSnapshot) {
        self.counters().api = api;
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition at Unix time `now`.
    pub fn render(&self, now: i64) -> String {
        let c = self.counters().clone();
        let mut o = String::new();
        fn family(o: &mut String, name: &str, kind: &str, help: &str) {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        }
        family(
            &mut o,
            "gatekeeper_decisions_total",
            "counter",
            "Decisions made, by action and by each rule that fired (rule=\"none\" when none did).",
        );
        let mut lines = String::new();
        for ((action, rule), n) in &c.decisions {
            let _ = writeln!(
                lines,
                "gatekeeper_decisions_total{{action=\"{}\",rule=\"{}\"}} {n}",
                label(action),
                label(rule)
            );
        }
        o.push_str(&lines);
        let scalars: [(&str, &str, &str, String); 6] = [
            (
                "gatekeeper_api_calls_total",
                "counter",
                "Calendar API calls made (Google list and patch, retries included).",
                c.api_calls.to_string(),
            ),
            (
                "gatekeeper_failed_actions_total",
                "counter",
                "Answers that could not be written (each is retried on the next pass).",
                c.failed_actions.to_string(),
            ),
            (
                "gatekeeper_skipped_items_total",
                "counter",
                "Files and events skipped for bad input.",
                c.skipped_items.to_string(),
            ),
            (
                "gatekeeper_passes_total",
                "counter",
                "Passes over every source.",
                c.passes.to_string(),
            ),
            (
                "gatekeeper_pass_duration_seconds_sum",
                "counter",
                "Time spent in passes, in seconds (with passes_total, the mean pass).",
                format!("{:.3}", c.pass_seconds_sum),
            ),
            (
                "gatekeeper_last_pass_duration_seconds",
                "gauge",
                "How long the latest pass took, in seconds.",
                format!("{:.3}", c.last_pass_seconds),
            ),
        ];
        for (name, kind, help, value) in scalars {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        family(
            &mut o,
            "gatekeeper_api_failures_total",
            "counter",
            "Failed calendar API attempts, by kind (rate_limited, server, quota, auth, sync_token, conflict, permanent).",
        );
        for (kind, n) in crate::source::google::stats::KINDS
            .iter()
            .zip(c.api.failures)
        {
            let _ = writeln!(o, "gatekeeper_api_failures_total{{kind=\"{kind}\"}} {n}");
        }
        family(
            &mut o,
            "gatekeeper_api_wait_seconds_total",
            "counter",
            "Time calls spent waiting: for a slot under the rate limits (reason=\"rate_limit\") and in backoff before a retry (reason=\"backoff\").",
        );
        let _ = writeln!(
            o,
            "gatekeeper_api_wait_seconds_total{{reason=\"rate_limit\"}} {:.3}\ngatekeeper_api_wait_seconds_total{{reason=\"backoff\"}} {:.3}",
            c.api.limiter_wait_seconds, c.api.backoff_wait_seconds
        );
        let _ = writeln!(
            o,
            "# HELP gatekeeper_sync_lag_seconds Seconds since each source's last finished pass.\n# TYPE gatekeeper_sync_lag_seconds gauge"
        );
        for (source, at) in &c.last_sync {
            let _ = writeln!(
                o,
                "gatekeeper_sync_lag_seconds{{source=\"{}\"}} {}",
                label(source),
                (now - at).max(0)
            );
        }
        let _ = writeln!(
            o,
            "# HELP gatekeeper_ready 1 once the first pass has finished.\n# TYPE gatekeeper_ready gauge\ngatekeeper_ready {}",
            u8::from(self.is_ready())
        );
        o
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format asks.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Bind `listen` and serve the figures from a thread of its own, so a slow
/// scraper never holds up the daemon. Returns the bound address.
pub fn serve(listen: &str, metrics: std::sync::Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let metrics = metrics.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let response = answer(req.method(), req.uri().path(), &metrics);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })?;
    Ok(addr)
}

fn answer(method: &hyper::Method, path: &str, metrics: &Metrics) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, kind: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(kind),
        );
        r
    };
    if method != hyper::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, String::new(), "text/plain");
    }
    match path {
        "/metrics" => text(
            StatusCode::OK,
            metrics.render(chrono::Utc::now().timestamp()),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        "/healthz" => text(StatusCode::OK, "ok\n".into(), "text/plain"),
        "/readyz" if metrics.is_ready() => text(StatusCode::OK, "ready\n".into(), "text/plain"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the first pass has not finished\n".into(),
            "text/plain",
        ),
        _ => text(StatusCode::NOT_FOUND, String::new(), "text/plain"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_decisions_per_rule_and_lag_per_source() {
        let m = Metrics::new();
        assert!(m.render(0).contains("gatekeeper_ready 0"));
        m.record_decision("decline", &["agenda", "working_hours"]);
        m.record_decision("decline", &["agenda"]);
        m.record_decision("allow", &[]);
        m.record_pass(0.25, 4, 1, 2, &["google".into(), "a\"b".into()], 100);
        m.set_api_stats(crate::source::google::stats::ApiStatsSnapshot {
            failures: [3, 2, 1, 0, 0, 0, 0],
            limiter_wait_seconds: 1.5,
            backoff_wait_seconds: 0.25,
        });
        let text = m.render(130);
        for line in [
            "gatekeeper_api_failures_total{kind=\"rate_limited\"} 3",
            "gatekeeper_api_failures_total{kind=\"server\"} 2",
            "gatekeeper_api_failures_total{kind=\"quota\"} 1",
            "gatekeeper_api_failures_total{kind=\"permanent\"} 0",
            "gatekeeper_api_wait_seconds_total{reason=\"rate_limit\"} 1.500",
            "gatekeeper_api_wait_seconds_total{reason=\"backoff\"} 0.250",
            "gatekeeper_decisions_total{action=\"decline\",rule=\"agenda\"} 2",
            "gatekeeper_decisions_total{action=\"decline\",rule=\"working_hours\"} 1",
            "gatekeeper_decisions_total{action=\"allow\",rule=\"none\"} 1",
            "gatekeeper_api_calls_total 4",
            "gatekeeper_failed_actions_total 1",
            "gatekeeper_skipped_items_total 2",
            "gatekeeper_passes_total 1",
            "gatekeeper_last_pass_duration_seconds 0.250",
            "gatekeeper_sync_lag_seconds{source=\"google\"} 30",
            "gatekeeper_sync_lag_seconds{source=\"a\\\"b\"} 30",
            "gatekeeper_ready 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample belongs to a family declared with HELP and TYPE.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} undeclared"
            );
        }
    }
}
