//! The OAuth side of the fake: the JWT-bearer token endpoint of a service
//! account with domain-wide delegation, the access tokens it hands out, and
//! the scope each API method needs. Signatures are checked with `ring`
//! against the service account's public key, so a client that signs wrongly
//! fails here as it would at Google. This module knows nothing of calendars.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::error::{ApiError, TokenError};

pub const SCOPE_CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
pub const SCOPE_EVENTS_READONLY: &str = "https://www.googleapis.com/auth/calendar.events.readonly";
pub const SCOPE_EVENTS_OWNED: &str = "https://www.googleapis.com/auth/calendar.events.owned";
pub const SCOPE_EVENTS_OWNED_READONLY: &str =
    "https://www.googleapis.com/auth/calendar.events.owned.readonly";
pub const SCOPE_SETTINGS_READONLY: &str =
    "https://www.googleapis.com/auth/calendar.settings.readonly";

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// yup-oauth2 pads its base64url; other signers do not. Accept both.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The scopes, any one of which lets a token call `method`.
pub fn scopes_for(method: &str) -> &'static [&'static str] {
    match method {
        "events.list" | "events.get" | "events.watch" => &[
            SCOPE_CALENDAR,
            SCOPE_READONLY,
            SCOPE_EVENTS,
            SCOPE_EVENTS_READONLY,
            SCOPE_EVENTS_OWNED,
            SCOPE_EVENTS_OWNED_READONLY,
        ],
        "events.patch" => &[SCOPE_CALENDAR, SCOPE_EVENTS, SCOPE_EVENTS_OWNED],
        "settings.get" => &[SCOPE_CALENDAR, SCOPE_READONLY, SCOPE_SETTINGS_READONLY],
        _ => &[
            SCOPE_CALENDAR,
            SCOPE_READONLY,
            SCOPE_EVENTS,
            SCOPE_EVENTS_READONLY,
            SCOPE_EVENTS_OWNED,
            SCOPE_EVENTS_OWNED_READONLY,
            SCOPE_SETTINGS_READONLY,
        ],
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: Instant,
}

pub(crate) struct Auth {
    pub public_key_der: Vec<u8>,
    pub granted: BTreeSet<String>,
    pub lifetime: Duration,
    pub tokens: HashMap<String, AccessToken>,
    next_token: u64,
}

impl Auth {
    pub fn new(public_key_der: Vec<u8>) -> Auth {
        Auth {
            public_key_der,
            granted: [SCOPE_EVENTS, SCOPE_SETTINGS_READONLY]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            lifetime: Duration::from_secs(3600),
            tokens: HashMap::new(),
            next_token: 1,
        }
    }

    /// The token an API request carries, checked for life and scope.
    pub fn check(
        &self,
        authorization: Option<&str>,
        method: &str,
        now: Instant,
    ) -> Result<&AccessToken, ApiError> {
        let bearer = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(ApiError::auth)?;
        let token = self.tokens.get(bearer.trim()).ok_or_else(ApiError::auth)?;
        if token.expires_at <= now {
            return Err(ApiError::auth());
        }
        let allowed = scopes_for(method);
        if !token.scopes.iter().any(|s| allowed.contains(&s.as_str())) {
            return Err(ApiError::insufficient_permissions());
        }
        Ok(token)
    }

    /// The member a request acts as, if its token is known (alive or not).
    pub fn subject_of(&self, authorization: Option<&str>) -> Option<String> {
        let bearer = authorization?.strip_prefix("Bearer ")?;
        self.tokens.get(bearer.trim()).map(|t| t.subject.clone())
    }

    pub fn expire_all(&mut self, now: Instant) {
        for t in self.tokens.values_mut() {
            t.expires_at = t.expires_at.min(now);
        }
    }

    /// Answer a token request. `known` says whether a subject is a known,
    /// non-revoked member; `now_unix` is wall-clock seconds.
    pub fn grant(
        &mut self,
        form: &str,
        token_uri: &str,
        known: impl Fn(&str) -> bool,
        now: Instant,
        now_unix: i64,
    ) -> Result<Value, TokenError> {
        let fields = parse_form(form);
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("grant_type") != Some(GRANT_TYPE) {
            return Err(TokenError::new(
                400,
                "unsupported_grant_type",
                "Invalid grant_type",
            ));
        }
        let assertion = get("assertion")
            .ok_or_else(|| TokenError::new(400, "invalid_request", "Missing assertion"))?;
        let claims = verify_jwt(assertion, &self.public_key_der)?;
        let str_claim = |k: &str| claims.get(k).and_then(Value::as_str);
        if str_claim("aud") != Some(token_uri) {
            return Err(TokenError::invalid_grant("Invalid JWT: audience mismatch"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now_unix {
            return Err(TokenError::invalid_grant(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            ));
        }
        if iat > now_unix + 300 || exp - iat > 3600 {
            return Err(TokenError::invalid_grant(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            ));
        }
        // Without `sub` the token would be the service account's own; it
        // owns no member's calendar, so it is only accepted if known.
        let subject = str_claim("sub")
            .or_else(|| str_claim("iss"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !known(&subject) {
            return Err(TokenError::invalid_grant("Invalid email or User ID"));
        }
        let scopes: BTreeSet<String> = str_claim("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if scopes.is_empty() {
            return Err(TokenError::new(
                400,
                "invalid_scope",
                "Empty or missing scope not allowed.",
            ));
        }
        if !scopes.is_subset(&self.granted) {
            return Err(TokenError::new(
                400,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
            ));
        }
        let token = format!(
            "ya29.fake-{}-{:x}",
            self.next_token,
            now_unix.wrapping_mul(2654435761)
        );
        self.next_token += 1;
        self.tokens.insert(
            token.clone(),
            AccessToken {
                subject,
                scopes,
                expires_at: now + self.lifetime,
            },
        );
        Ok(serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.lifetime.as_secs(),
        }))
    }
}

/// The subject a token request is for, read without checking anything:
/// only for accounting and failure matching.
pub fn unverified_subject(form: &str) -> Option<String> {
    let fields = parse_form(form);
    let assertion = fields.iter().find(|(n, _)| n == "assertion")?.1.clone();
    let claims = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&B64.decode(claims).ok()?).ok()?;
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

fn verify_jwt(
    jwt: &str,
    public_key_der: &[u8],
) -> Result<serde_json::Map<String, Value>, TokenError> {
    let bad = |what: &str| TokenError::invalid_grant(&format!("Invalid JWT: {what}"));
    let mut parts = jwt.split('.');
    let (Some(head), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three parts"));
    };
    let header: Value = B64
        .decode(head)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("unreadable header"))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(bad("alg must be RS256"));
    }
    let signature = B64.decode(sig).map_err(|_| bad("unreadable signature"))?;
    let signed = &jwt[..head.len() + 1 + claims.len()];
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key_der,
    )
    .verify(signed.as_bytes(), &signature)
    .map_err(|_| bad("Invalid JWT Signature."))?;
    match B64
        .decode(claims)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(bad("unreadable claims")),
    }
}

/// `application/x-www-form-urlencoded` pairs, percent- and plus-decoded.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-decoding; `plus` also turns `+` into a space (query strings).
pub fn percent_decode(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
