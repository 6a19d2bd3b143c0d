//! The daemon's config file: where policies, calendars and state live.
//! Parsing takes `&str`; reading the file and resolving relative paths
//! against its folder is the caller's job (`Config::load`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Policy files or folders of them, relative to the config file.
    pub policies: Vec<PathBuf>,
    /// `enforce` writes responses; `observe` only logs what it would do.
    #[serde(default)]
    pub mode: Mode,
    /// Seconds between rescans when watching.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// How many upcoming occurrences of a series are judged.
    #[serde(default = "default_occurrences")]
    pub series_occurrences: usize,
    /// How far ahead series are expanded to find those occurrences.
    #[serde(default = "default_horizon")]
    pub horizon_days: u32,
    pub store: StoreConfig,
    #[serde(rename = "source", default)]
    pub sources: Vec<SourceConfig>,
    /// The HTTP listener for Google's push notifications.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Address to listen on, e.g. `127.0.0.1:8443` behind a TLS proxy.
    pub listen: String,
    /// The HTTPS address Google posts to; its path is the one served.
    pub public_url: String,
    /// Lifetime requested for each channel; channels are renewed when a
    /// tenth of it is left.
    #[serde(default = "default_channel_ttl")]
    pub channel_ttl_hours: u64,
}

fn default_channel_ttl() -> u64 {
    24 * 7
}

fn default_poll() -> u64 {
    30
}
fn default_occurrences() -> usize {
    10
}
fn default_horizon() -> u32 {
    180
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Observe,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Path of the SQLite database, relative to the config file.
    pub sqlite: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Local calendars in the vdir layout (vdirsyncer, khal): one folder
    /// per calendar, one `.ics` file per event.
    Vdir {
        /// Unique name; the store keys state by it.
        name: String,
        /// The member whose calendars these are.
        member: String,
        /// A folder of calendar folders, or one calendar folder.
        path: PathBuf,
        /// Overrides the global mode for this source.
        #[serde(default)]
        mode: Option<Mode>,
    },
    /// Google Calendar: each member's primary calendar.
    Google {
        name: String,
        /// Service account key with domain-wide delegation (team
        /// deployments). Mode 0600.
        #[serde(default)]
        service_account_key: Option<PathBuf>,
        /// Members to impersonate; every member of the policies when left
        /// out.
        #[serde(default)]
        members: Option<Vec<String>>,
        /// Installed-app OAuth for one person: the client secret file from
        /// the Google Cloud console, and where `gatekeeper auth google`
        /// keeps the token (both mode 0600), and whose calendar it is.
        #[serde(default)]
        client_secret: Option<PathBuf>,
        #[serde(default)]
        token_file: Option<PathBuf>,
        #[serde(default)]
        member: Option<String>,
        /// Replace the API endpoint (a proxy, a restricted endpoint, tests).
        #[serde(default)]
        api_base: Option<String>,
        /// Replace the key's token endpoint.
        #[serde(default)]
        token_uri: Option<String>,
        /// Who Google emails about gatekeeper's responses: `all` (default:
        /// the organizer is told), `externalOnly` or `none`.
        #[serde(default = "default_send_updates")]
        send_updates: String,
        #[serde(default = "default_user_rate")]
        rate_per_user_per_minute: u32,
        #[serde(default = "default_project_rate")]
        rate_per_project_per_minute: u32,
        #[serde(default)]
        mode: Option<Mode>,
    },
}

fn default_send_updates() -> String {
    "all".into()
}
fn default_user_rate() -> u32 {
    600
}
fn default_project_rate() -> u32 {
    10_000
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Vdir { name, .. } | SourceConfig::Google { name, .. } => name,
        }
    }

    pub fn mode(&self) -> Option<Mode> {
        match self {
            SourceConfig::Vdir { mode, .. } | SourceConfig::Google { mode, .. } => *mode,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Read and parse a config file, then make its relative paths relative
    /// to the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| crate::policy::diagnostic::line_col(&text, s.start))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.display().to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        config.policies = config.policies.iter().map(|p| base.join(p)).collect();
        config.store.sqlite = base.join(&config.store.sqlite);
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            line: 1,
            column: 1,
            message,
        };
        for s in &mut config.sources {
            match s {
                SourceConfig::Vdir { path, member, .. } => {
                    *path = base.join(&*path);
                    *member = member.trim().to_lowercase();
                }
                SourceConfig::Google {
                    name,
                    service_account_key,
                    members,
                    client_secret,
                    token_file,
                    member,
                    send_updates,
                    ..
                } => {
                    for p in [
                        &mut *service_account_key,
                        &mut *client_secret,
                        &mut *token_file,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        *p = base.join(&*p);
                    }
                    for m in members.iter_mut().flatten() {
                        *m = m.trim().to_lowercase();
                    }
                    if let Some(m) = member {
                        *m = m.trim().to_lowercase();
                    }
                    let installed = client_secret.is_some() || token_file.is_some();
                    match (service_account_key.is_some(), installed) {
                        (true, true) => {
                            return Err(invalid(format!(
                                "source `{name}` sets both `service_account_key` and `client_secret`/`token_file`; choose one way to sign in"
                            )));
                        }
                        (false, false) => {
                            return Err(invalid(format!(
                                "source `{name}` needs `service_account_key` (a team deployment) or `client_secret`, `token_file` and `member` (one person)"
                            )));
                        }
                        (false, true)
                            if client_secret.is_none()
                                || token_file.is_none()
                                || member.is_none() =>
                        {
                            return Err(invalid(format!(
                                "source `{name}`: installed-app sign-in needs `client_secret`, `token_file` and `member`"
                            )));
                        }
                        _ => {}
                    }
                    if !["all", "externalOnly", "none"].contains(&send_updates.as_str()) {
                        return Err(invalid(format!(
                            "source `{name}`: `send_updates` must be `all`, `externalOnly` or `none`, not `{send_updates}`"
                        )));
                    }
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for s in &config.sources {
            if !names.insert(s.name().to_string()) {
                return Err(ConfigError::Invalid {
                    path: path.display().to_string(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "two sources are named `{}`; source names must be unique",
                        s.name()
                    ),
                });
            }
        }
        Ok(config)
    }
}
