//! The daemon's config file: where policies, calendars and state live.
//! Parsing takes `&str`; reading the file and resolving relative paths
//! against its folder is the caller's job (`Config::load`). `lint` checks
//! the text first, with every problem at once; serde then builds the struct.
//! Must not: log or `Debug`-print a secret, or start anything.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::policy::diagnostic::Diagnostic;

pub mod lint;

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
    /// The weekly meeting-load report (`gatekeeper report`, and the
    /// daemon's scheduled one).
    #[serde(default)]
    pub report: Option<ReportConfig>,
    /// Prometheus metrics and health checks on their own address.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// Bounds on one calendar item (a file, an invite).
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// The `[limits]` section: the bounds an item read from a calendar must
/// keep. An item over one is skipped with a warning, and its version is
/// remembered so later passes do not trip on it again. The defaults are
/// `calendar::ical::Limits::DEFAULT`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest item, in bytes.
    pub max_item_bytes: usize,
    /// Most lines (properties and BEGIN/END) in one item.
    pub max_lines: usize,
    /// Longest unfolded line, in bytes; a longer one is dropped.
    pub max_line_bytes: usize,
    /// Deepest component nesting (VCALENDAR is 1, VEVENT 2, VALARM 3).
    pub max_depth: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        let d = crate::calendar::ical::Limits::DEFAULT;
        LimitsConfig {
            max_item_bytes: d.max_item_bytes,
            max_lines: d.max_lines,
            max_line_bytes: d.max_line_bytes,
            max_depth: d.max_depth,
        }
    }
}

impl LimitsConfig {
    /// The limits the iCalendar reader takes.
    pub fn ical(&self) -> crate::calendar::ical::Limits {
        crate::calendar::ical::Limits {
            max_item_bytes: self.max_item_bytes,
            max_lines: self.max_lines,
            max_line_bytes: self.max_line_bytes,
            max_depth: self.max_depth,
        }
    }
}

/// The `[metrics]` section: where `/metrics`, `/healthz` and `/readyz` are
/// served. Without it the daemon serves none of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address to listen on, e.g. `127.0.0.1:9464`.
    pub listen: String,
}

/// A weekly report format (`[report] formats`, `gatekeeper report --format`);
/// `report` renders each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Markdown, for documentation and chat.
    Md,
    /// One self-contained HTML page with charts.
    Html,
    /// Every figure, for tools.
    Json,
    /// One row per member, for spreadsheets.
    Csv,
}

impl ReportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
        }
    }
}

/// The `[report]` section. Without it the daemon produces no scheduled
/// report; `gatekeeper report` uses these defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Where scheduled reports are written, relative to the config file.
    #[serde(default = "default_report_folder")]
    pub folder: PathBuf,
    /// The day the scheduled report is produced (for the week before).
    #[serde(default = "default_report_weekday", deserialize_with = "de_weekday")]
    pub weekday: chrono::Weekday,
    /// The local time it is produced, `HH:MM`.
    #[serde(default = "default_report_time", deserialize_with = "de_time")]
    pub time: chrono::NaiveTime,
    /// The report's zone (weeks, schedule, heat map); the team's main zone
    /// when left out.
    #[serde(default, deserialize_with = "de_tz")]
    pub time_zone: Option<chrono_tz::Tz>,
    /// Free stretches of working time at least this long count as focus
    /// time.
    #[serde(default = "default_focus_block")]
    pub focus_block_minutes: u32,
    /// What the scheduled report writes.
    #[serde(default = "default_report_formats")]
    pub formats: Vec<ReportFormat>,
    /// A Slack-compatible incoming webhook the Markdown summary is posted
    /// to. A secret: never logged, never in `Debug` output.
    #[serde(default)]
    pub chat_webhook_url: Option<Secret>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            folder: default_report_folder(),
            weekday: default_report_weekday(),
            time: default_report_time(),
            time_zone: None,
            focus_block_minutes: default_focus_block(),
            formats: default_report_formats(),
            chat_webhook_url: None,
        }
    }
}

/// A string that must not leak: `Debug` and `Display` show a placeholder.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn default_report_folder() -> PathBuf {
    PathBuf::from("reports")
}
fn default_report_weekday() -> chrono::Weekday {
    chrono::Weekday::Mon
}
fn default_report_time() -> chrono::NaiveTime {
    chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}
fn default_focus_block() -> u32 {
    120
}
fn default_report_formats() -> Vec<ReportFormat> {
    vec![ReportFormat::Md, ReportFormat::Html]
}

fn de_weekday<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::Weekday, D::Error> {
    let s = String::deserialize(d)?;
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    DAYS.iter()
        .position(|day| *day == s)
        .and_then(|i| chrono::Weekday::try_from(i as u8).ok())
        .ok_or_else(|| {
            serde::de::Error::custom(format!("`{s}` is not a day (`monday` … `sunday`)"))
        })
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a time such as `09:00`")))
}

fn de_tz<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<chrono_tz::Tz>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<chrono_tz::Tz>().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{s}` is not an IANA time zone such as `Europe/Lisbon`"
        ))
    })
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
    /// A CalDAV server (RFC 4791): one member's calendars with their own
    /// login, or every member's through a delegated account
    /// (`source::caldav`, `docs/caldav.md`).
    Caldav {
        name: String,
        /// The server, e.g. `https://dav.example.com/`; discovery starts
        /// at its `/.well-known/caldav`. Plain `http` only to loopback.
        url: String,
        /// The login name (with `password_file`).
        #[serde(default)]
        user: Option<String>,
        /// The password, alone in a file of mode 0600.
        #[serde(default)]
        password_file: Option<PathBuf>,
        /// A bearer token instead of a password, mode 0600.
        #[serde(default)]
        token_file: Option<PathBuf>,
        /// The member whose own login this is.
        #[serde(default)]
        member: Option<String>,
        /// A delegated login: the members it reads; every member of the
        /// policies when left out.
        #[serde(default)]
        members: Option<Vec<String>>,
        /// A delegated login: each member's principal, `{user}` (the
        /// address before `@`) or `{email}` filled in, e.g. `/{user}/`.
        #[serde(default)]
        principal_url: Option<String>,
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
            SourceConfig::Vdir { name, .. }
            | SourceConfig::Google { name, .. }
            | SourceConfig::Caldav { name, .. } => name,
        }
    }

    pub fn mode(&self) -> Option<Mode> {
        match self {
            SourceConfig::Vdir { mode, .. }
            | SourceConfig::Google { mode, .. }
            | SourceConfig::Caldav { mode, .. } => *mode,
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
    /// Every problem in the file, with the text to show them in.
    #[error("{}", compact(diagnostics, text))]
    Invalid {
        path: String,
        text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

/// `file:line:column: message`, one line per problem.
fn compact(diagnostics: &[Diagnostic], text: &str) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (line, column) = d.span.as_ref().map_or((1, 1), |s| {
                crate::policy::diagnostic::line_col(text, s.start)
            });
            format!("{}:{line}:{column}: {}", d.file, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// rustc-style rendering of every problem, snippets underlined.
    pub fn render(&self, styled: bool) -> String {
        match self {
            ConfigError::Read { .. } => format!("error: {self}\n"),
            ConfigError::Invalid {
                text, diagnostics, ..
            } => crate::policy::diagnostic::render_human(
                diagnostics,
                &|_| Some(text.clone()),
                styled,
            ),
        }
    }
}

impl Config {
    /// Check and parse config text; every problem comes back at once.
    /// Named paths are not checked here (that is `load`'s job).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_checked(text, "gatekeeper.toml", &|_| true)
    }

    fn parse_checked(
        text: &str,
        file: &str,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Result<Config, ConfigError> {
        let invalid = |diagnostics: Vec<Diagnostic>| ConfigError::Invalid {
            path: file.to_string(),
            text: lint::redact(text),
            diagnostics,
        };
        let diagnostics = lint::lint(text, file, exists);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(invalid(diagnostics));
        }
        // The walk above knows every key serde does (a test holds the two
        // together), so this is a backstop, reported the same way.
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let mut d = Diagnostic::error("invalid", e.message().trim().to_string());
            d.span = e.span();
            d.file = file.to_string();
            invalid(vec![d])
        })
    }

    /// Read and check a config file, then make its relative paths relative
    /// to the file's folder. Paths the file names (policies, vdir folders)
    /// must exist.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file = path.display().to_string();
        let base = path.parent().unwrap_or(Path::new(""));
        let exists = |p: &Path| base.join(p).exists();
        // Bytes, not text: a config that is not UTF-8 is an error with its
        // line and column, as a policy is, and the rest is still checked.
        let (text, not_utf8) = crate::policy::parse::decode_utf8(bytes, &file, "config");
        if let Some(d) = not_utf8 {
            let mut diagnostics = lint::lint(&text, &file, &exists);
            diagnostics.push(d);
            diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
            return Err(ConfigError::Invalid {
                path: file,
                text: lint::redact(&text),
                diagnostics,
            });
        }
        let mut config = Config::parse_checked(&text, &file, &exists)?;
        config.policies = config.policies.iter().map(|p| base.join(p)).collect();
        config.store.sqlite = base.join(&config.store.sqlite);
        if let Some(r) = &mut config.report {
            r.folder = base.join(&r.folder);
        }
        for s in &mut config.sources {
            match s {
                SourceConfig::Vdir { path, member, .. } => {
                    *path = base.join(&*path);
                    *member = member.trim().to_lowercase();
                }
                SourceConfig::Google {
                    service_account_key,
                    members,
                    client_secret,
                    token_file,
                    member,
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
                }
                SourceConfig::Caldav {
                    password_file,
                    token_file,
                    member,
                    members,
                    ..
                } => {
                    for p in [&mut *password_file, &mut *token_file]
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
                }
            }
        }
        Ok(config)
    }
}
