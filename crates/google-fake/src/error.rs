//! Error answers of the fake, in the exact shapes Google sends: the Calendar
//! API's `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`
//! and the OAuth token endpoint's `{"error","error_description"}`.
//! This module only builds answers; it decides nothing.

use serde_json::{Value, json};

/// A Calendar API error answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub domain: &'static str,
    pub reason: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, domain: &'static str, reason: &'static str, message: &str) -> ApiError {
        ApiError {
            status,
            domain,
            reason,
            message: message.to_string(),
            retry_after: None,
        }
    }

    pub fn invalid(message: &str) -> ApiError {
        ApiError::new(400, "global", "invalid", message)
    }

    pub fn required(message: &str) -> ApiError {
        ApiError::new(400, "global", "required", message)
    }

    pub fn auth() -> ApiError {
        ApiError::new(401, "global", "authError", "Invalid Credentials")
    }

    pub fn insufficient_permissions() -> ApiError {
        ApiError::new(
            403,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    pub fn forbidden_for_non_organizer(message: &str) -> ApiError {
        ApiError::new(403, "calendar", "forbiddenForNonOrganizer", message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "global", "notFound", "Not Found")
    }

    pub fn full_sync_required() -> ApiError {
        ApiError::new(
            410,
            "calendar",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
    }

    pub fn condition_not_met() -> ApiError {
        ApiError::new(412, "global", "conditionNotMet", "Precondition Failed")
    }

    pub fn too_many_requests(retry_after_secs: u64) -> ApiError {
        let mut e = ApiError::new(
            429,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    pub fn rate_limit_exceeded() -> ApiError {
        ApiError::new(
            403,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        )
    }

    pub fn user_rate_limit_exceeded() -> ApiError {
        ApiError::new(
            403,
            "usageLimits",
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
        )
    }

    pub fn quota_exceeded() -> ApiError {
        ApiError::new(
            403,
            "usageLimits",
            "quotaExceeded",
            "Calendar usage limits exceeded.",
        )
    }

    pub fn backend_error() -> ApiError {
        ApiError::new(500, "global", "backendError", "Backend Error")
    }

    pub fn service_unavailable() -> ApiError {
        ApiError::new(
            503,
            "global",
            "backendError",
            "The service is currently unavailable.",
        )
    }

    /// The Calendar API body.
    pub fn body(&self) -> Value {
        json!({
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{
                    "domain": self.domain,
                    "reason": self.reason,
                    "message": self.message,
                }],
            }
        })
    }
}

/// An OAuth 2.0 token endpoint error (RFC 6749 section 5.2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl TokenError {
    pub fn new(status: u16, error: &'static str, description: &str) -> TokenError {
        TokenError {
            status,
            error,
            description: description.to_string(),
            retry_after: None,
        }
    }

    pub fn invalid_grant(description: &str) -> TokenError {
        TokenError::new(400, "invalid_grant", description)
    }

    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}
