//! Which addresses gatekeeper may talk plain `http://` to: only this
//! machine's loopback (127.0.0.0/8, `::1`, `localhost`), where a test
//! server or a local proxy listens. Everything else (Google's API and
//! token endpoints, chat webhooks, the address Google posts to) must be
//! `https://`, so a typo in a config cannot send a token or a webhook
//! secret over the network in the clear. Pure: it reads the URL's text
//! and never resolves a name.

use std::net::{IpAddr, Ipv6Addr};

/// Why a URL is refused. Names the host, never the whole URL: a chat
/// webhook's URL is a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not an `https://` URL")]
    NotHttp,
    #[error(
        "plain `http://` to `{host}`: gatekeeper talks plain HTTP only to this machine (127.0.0.0/8, `::1`, `localhost`)"
    )]
    PlainHttpNotLoopback { host: String },
}

/// `Ok` for an `https://` URL, and for an `http://` one whose host is a
/// loopback address.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("https://") {
        return Ok(());
    }
    if !lower.starts_with("http://") {
        return Err(UrlError::NotHttp);
    }
    let rest = &url["http://".len()..];
    // The authority ends where the path, query or fragment begins; URL
    // parsers also take a backslash for a slash.
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
    // Whatever precedes the last `@` is user information, not the host.
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    if is_loopback(host) {
        Ok(())
    } else {
        Err(UrlError::PlainHttpNotLoopback {
            host: host.to_string(),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
    }
    // Only the dotted form: `127.1` or `2130706433` are loopback to some
    // resolvers and not to others, so they are refused rather than guessed.
    host.split('.').count() == 4 && host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expect: Result<(), &str>) {
        let got = check_url(url).map_err(|e| match e {
            UrlError::NotHttp => "not-http".to_string(),
            UrlError::PlainHttpNotLoopback { host } => host,
        });
        assert_eq!(got, expect.map_err(str::to_string), "{url}");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        check("https://www.googleapis.com/calendar/v3/", Ok(()));
        check("HTTPS://hooks.slack.com/services/x", Ok(()));
        check("http://127.0.0.1:8085/calendar/v3/", Ok(()));
        check("http://127.42.0.9/token", Ok(()));
        check("HTTP://LOCALHOST:8080/", Ok(()));
        check("http://localhost", Ok(()));
        check("http://[::1]:8085/token", Ok(()));
        check("http://[::ffff:127.0.0.1]/", Ok(()));
        check("http://user:pw@127.0.0.1/", Ok(()));
        check("http://127.0.0.1\\@example.com/", Ok(()));
        check("http://example.com/token", Err("example.com"));
        check(
            "http://127.0.0.1.example.com/",
            Err("127.0.0.1.example.com"),
        );
        check("http://127.0.0.1@example.com/", Err("example.com"));
        check(
            "http://localhost.example.com/",
            Err("localhost.example.com"),
        );
        check("http://10.0.0.1:8085/", Err("10.0.0.1"));
        check("http://0.0.0.0/", Err("0.0.0.0"));
        check("http://[::2]/", Err("::2"));
        check("http://127.1/", Err("127.1"));
        check("http://2130706433/", Err("2130706433"));
        check("http:///path", Err(""));
        check("ftp://127.0.0.1/", Err("not-http"));
        check("127.0.0.1:8085", Err("not-http"));
        check("", Err("not-http"));
    }

    #[test]
    fn the_error_names_the_host_but_not_the_secret_path() {
        let e = check_url("http://hooks.example.com/services/T0/B0/SECRET").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("hooks.example.com") && !text.contains("SECRET"),
            "{text}"
        );
    }
}
