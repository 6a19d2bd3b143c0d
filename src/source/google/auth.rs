//! Credentials for Google: a service account with domain-wide delegation
//! (one authenticator per impersonated member), or one person's
//! installed-app OAuth token. Least scopes only. Key and token files must be
//! readable by the service user alone; gatekeeper refuses looser ones.

use std::path::{Path, PathBuf};

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use yup_oauth2::authenticator::DefaultAuthenticator;

/// The HTTP client the authenticators use for the token endpoint. One is
/// shared by every member: each client would otherwise load the system's
/// root certificates again, which adds up with a thousand members.
pub type AuthClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, String>;

/// An HTTPS (or, for a local endpoint, HTTP) connector with the system's
/// root certificates.
pub fn connector() -> Result<HttpsConnector<HttpConnector>, String> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build())
}

pub fn auth_client(connector: HttpsConnector<HttpConnector>) -> AuthClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

/// Reads and writes events, changes one's own response, opens watch
/// channels.
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// Reads the calendar's time zone setting.
pub const SCOPE_SETTINGS: &str = "https://www.googleapis.com/auth/calendar.settings.readonly";
/// Every request asks for both, so one token covers all calls.
pub const SCOPES: [&str; 2] = [SCOPE_EVENTS, SCOPE_SETTINGS];

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "cannot read the service account key `{path}`: {reason}; check the path and that the service user can read it"
    )]
    KeyUnreadable { path: String, reason: String },
    #[error(
        "the credentials file `{path}` can be read by other users (mode {mode:o}); run `chmod 600 {path}` so only the service user can"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("cannot set up Google authentication for `{member}`: {reason}")]
    Setup { member: String, reason: String },
    #[error("the token endpoint in `{path}` is refused: {reason}")]
    InsecureTokenUri {
        path: String,
        reason: crate::net::UrlError,
    },
}

/// A token endpoint must be `https://` unless it is on this machine: the
/// signed assertion or the refresh token goes to it.
fn check_token_uri(uri: &str, path: &Path) -> Result<(), AuthError> {
    crate::net::check_url(uri).map_err(|reason| AuthError::InsecureTokenUri {
        path: path.display().to_string(),
        reason,
    })
}

/// Refuse key and token files that other users can read.
pub fn check_private(path: &Path) -> Result<(), AuthError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| AuthError::KeyUnreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuthError::TooOpen {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    Ok(())
}

/// How a Google source authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Domain-wide delegation: act as each member in turn.
    ServiceAccount {
        key_file: PathBuf,
        /// Replaces the key's `token_uri` (a proxy, a restricted endpoint,
        /// tests).
        token_uri: Option<String>,
    },
    /// One person's own calendar, with a token from `gatekeeper auth google`.
    InstalledApp {
        client_secret: PathBuf,
        token_file: PathBuf,
    },
}

/// Build the authenticator for one member.
pub async fn authenticator(
    creds: &Credentials,
    member: &str,
    client: AuthClient,
) -> Result<DefaultAuthenticator, AuthError> {
    let client = yup_oauth2::CustomHyperClientBuilder::from(client);
    let setup = |e: std::io::Error| AuthError::Setup {
        member: member.to_string(),
        reason: e.to_string(),
    };
    match creds {
        Credentials::ServiceAccount {
            key_file,
            token_uri,
        } => {
            check_private(key_file)?;
            let mut key = yup_oauth2::read_service_account_key(key_file)
                .await
                .map_err(|e| AuthError::KeyUnreadable {
                    path: key_file.display().to_string(),
                    reason: e.to_string(),
                })?;
            if let Some(uri) = token_uri {
                key.token_uri = uri.clone();
            }
            check_token_uri(&key.token_uri, key_file)?;
            yup_oauth2::ServiceAccountAuthenticator::with_client(key, client)
                .subject(member)
                .build()
                .await
                .map_err(setup)
        }
        Credentials::InstalledApp {
            client_secret,
            token_file,
        } => {
            check_private(client_secret)?;
            if token_file.exists() {
                check_private(token_file)?;
            }
            let secret = yup_oauth2::read_application_secret(client_secret)
                .await
                .map_err(|e| AuthError::KeyUnreadable {
                    path: client_secret.display().to_string(),
                    reason: e.to_string(),
                })?;
            check_token_uri(&secret.token_uri, client_secret)?;
            yup_oauth2::InstalledFlowAuthenticator::builder(
                secret,
                yup_oauth2::InstalledFlowReturnMethod::HTTPRedirect,
            )
            .persist_tokens_to_disk(token_file)
            .build()
            .await
            .map_err(setup)
        }
    }
}

/// Run the installed-app consent flow once and store the token where only
/// its owner can read it.
pub async fn consent(
    client_secret: &Path,
    token_file: &Path,
    member: &str,
) -> Result<(), AuthError> {
    if let Some(dir) = token_file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| AuthError::Setup {
            member: member.to_string(),
            reason: e.to_string(),
        })?;
    }
    let connector = connector().map_err(|reason| AuthError::Setup {
        member: member.to_string(),
        reason,
    })?;
    let auth = authenticator(
        &Credentials::InstalledApp {
            client_secret: client_secret.to_path_buf(),
            token_file: token_file.to_path_buf(),
        },
        member,
        auth_client(connector),
    )
    .await?;
    auth.token(&SCOPES).await.map_err(|e| AuthError::Setup {
        member: member.to_string(),
        reason: e.to_string(),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(token_file, std::fs::Permissions::from_mode(0o600)).map_err(
            |e| AuthError::Setup {
                member: member.to_string(),
                reason: e.to_string(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_or_world_readable_credentials_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key.json");
        std::fs::write(&f, "{}").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_private(&f).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_private(&f).is_ok());
        assert!(matches!(
            check_private(&dir.path().join("missing")),
            Err(AuthError::KeyUnreadable { .. })
        ));
    }

    /// A key or client secret whose token endpoint is plain `http://` to
    /// another machine is refused before anything is sent to it; the
    /// loopback (a test server) is allowed.
    #[test]
    fn a_token_endpoint_in_plain_http_is_refused_unless_on_loopback() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key.json");
        let mut key: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/google/service-account.json"
        ))
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut build = |token_uri: &str, override_uri: Option<&str>| {
            key["token_uri"] = serde_json::json!(token_uri);
            std::fs::write(&f, key.to_string()).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            let creds = Credentials::ServiceAccount {
                key_file: f.clone(),
                token_uri: override_uri.map(str::to_string),
            };
            let client = auth_client(connector().unwrap());
            rt.block_on(authenticator(&creds, "ana@example.com", client))
                .err()
                .map(|e| e.to_string())
        };
        let err = build("http://oauth2.example.com/token", None).expect("refused");
        assert!(
            err.contains("key.json") && err.contains("`oauth2.example.com`"),
            "{err}"
        );
        let err = build(
            "https://oauth2.googleapis.com/token",
            Some("http://10.1.2.3/token"),
        );
        assert!(err.is_some_and(|e| e.contains("`10.1.2.3`")));
        assert_eq!(build("http://127.0.0.1:9/token", None), None);
        assert_eq!(build("https://oauth2.googleapis.com/token", None), None);

        let secret = dir.path().join("client_secret.json");
        std::fs::write(
            &secret,
            r#"{"installed":{"client_id":"x","client_secret":"y","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"http://oauth2.example.com/token","redirect_uris":["http://localhost"]}}"#,
        )
        .unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let creds = Credentials::InstalledApp {
            client_secret: secret,
            token_file: dir.path().join("token.json"),
        };
        let client = auth_client(connector().unwrap());
        let err = rt
            .block_on(authenticator(&creds, "ana@example.com", client))
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("client_secret.json")),
            "{err:?}"
        );
    }
}
