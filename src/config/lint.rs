//! Config files checked the way policy files are: every problem at once,
//! each with its line, the snippet underlined and a "did you mean". Owns the
//! table of config keys (`KEYS`), which is also the reference the README
//! prints and the tests hold against the serde struct.
//!
//! Pure: text in, diagnostics out. Whether a named folder exists is asked
//! through the `exists` function the caller passes; nothing here does I/O.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::policy::diagnostic::{
    Diagnostic, Related, did_you_mean_help, time_zone_help, unknown_key_help,
};

type Value<'i> = Spanned<DeValue<'i>>;

/// What a key holds, and which values are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Text,
    Path,
    /// A folder or file that must exist (relative to the config file).
    ExistingPath,
    Paths,
    ExistingPaths,
    Emails,
    Email,
    /// A whole number in `min..=max`.
    Int(i64, i64),
    OneOf(&'static [&'static str]),
    /// `HH:MM`.
    Time,
    TimeZone,
    /// `host:port`.
    SocketAddr,
    Url,
    /// One or more of `OneOf`'s names.
    ListOf(&'static [&'static str]),
    /// A section: `[name]`.
    Table,
    /// Repeated sections: `[[name]]`.
    Tables,
}

impl KeyType {
    /// How the reference names the type.
    pub fn describe(self) -> String {
        match self {
            KeyType::Text => "string".into(),
            KeyType::Path | KeyType::ExistingPath => "path".into(),
            KeyType::Paths | KeyType::ExistingPaths => "array of paths".into(),
            KeyType::Emails => "array of emails".into(),
            KeyType::Email => "email".into(),
            KeyType::Int(min, max) => format!("integer {min}–{max}"),
            KeyType::OneOf(names) => names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" \\| "),
            KeyType::Time => "`HH:MM`".into(),
            KeyType::TimeZone => "IANA zone".into(),
            KeyType::SocketAddr => "`host:port`".into(),
            KeyType::Url => "URL".into(),
            KeyType::Table => "table".into(),
            KeyType::Tables => "array of tables".into(),
            KeyType::ListOf(names) => format!(
                "array of {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// One config key: where it lives, what it holds, and whether it must be
/// there. `default` is what applies when it is left out ("" for required
/// keys and for keys whose absence means "none").
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub section: &'static str,
    pub name: &'static str,
    pub ty: KeyType,
    pub required: bool,
    pub default: &'static str,
    pub doc: &'static str,
}

const MODES: &[&str] = &["enforce", "observe"];
const DAYS: &[&str] = &crate::policy::parse::DAY_NAMES;
const FORMATS: &[&str] = &["md", "html", "json", "csv"];
const SEND_UPDATES: &[&str] = &["all", "externalOnly", "none"];

pub const TOP: &str = "the top level";
pub const STORE: &str = "[store]";
pub const WEBHOOK: &str = "[webhook]";
pub const REPORT: &str = "[report]";
pub const METRICS: &str = "[metrics]";
pub const LIMITS: &str = "[limits]";
pub const VDIR: &str = "[[source]] kind = \"vdir\"";
pub const GOOGLE: &str = "[[source]] kind = \"google\"";
pub const CALDAV: &str = "[[source]] kind = \"caldav\"";
const KINDS: &[&str] = &["vdir", "google", "caldav"];

const fn key(
    section: &'static str,
    name: &'static str,
    ty: KeyType,
    required: bool,
    default: &'static str,
    doc: &'static str,
) -> Key {
    Key {
        section,
        name,
        ty,
        required,
        default,
        doc,
    }
}

/// Every key gatekeeper's config knows. The README's reference is this
/// table; a test keeps the two, and the serde struct, in step.
pub const KEYS: &[Key] = &[
    key(
        TOP,
        "policies",
        KeyType::ExistingPaths,
        true,
        "",
        "policy files or folders of them",
    ),
    key(
        TOP,
        "mode",
        KeyType::OneOf(MODES),
        false,
        "enforce",
        "`observe` only logs what it would do",
    ),
    key(
        TOP,
        "poll_seconds",
        KeyType::Int(1, 86_400),
        false,
        "30",
        "seconds between rescans",
    ),
    key(
        TOP,
        "series_occurrences",
        KeyType::Int(1, 1_000),
        false,
        "10",
        "upcoming occurrences of a series judged",
    ),
    key(
        TOP,
        "horizon_days",
        KeyType::Int(1, 3_660),
        false,
        "180",
        "how far ahead series are expanded",
    ),
    key(
        TOP,
        "store",
        KeyType::Table,
        true,
        "",
        "the `[store]` table",
    ),
    key(
        TOP,
        "source",
        KeyType::Tables,
        false,
        "",
        "`[[source]]` tables, one per calendar source",
    ),
    key(
        TOP,
        "webhook",
        KeyType::Table,
        false,
        "",
        "the `[webhook]` table (Google push)",
    ),
    key(
        TOP,
        "report",
        KeyType::Table,
        false,
        "",
        "the `[report]` table",
    ),
    key(
        TOP,
        "metrics",
        KeyType::Table,
        false,
        "",
        "the `[metrics]` table",
    ),
    key(
        TOP,
        "limits",
        KeyType::Table,
        false,
        "",
        "the `[limits]` table",
    ),
    key(
        STORE,
        "sqlite",
        KeyType::Path,
        true,
        "",
        "the state database; created on first run",
    ),
    key(
        WEBHOOK,
        "listen",
        KeyType::SocketAddr,
        true,
        "",
        "address the push listener binds",
    ),
    key(
        WEBHOOK,
        "public_url",
        KeyType::Url,
        true,
        "",
        "the HTTPS address Google posts to",
    ),
    key(
        WEBHOOK,
        "channel_ttl_hours",
        KeyType::Int(1, 720),
        false,
        "168",
        "lifetime asked for each push channel",
    ),
    key(
        METRICS,
        "listen",
        KeyType::SocketAddr,
        true,
        "",
        "address serving /metrics, /healthz and /readyz",
    ),
    key(
        LIMITS,
        "max_item_bytes",
        KeyType::Int(1_024, 1_073_741_824),
        false,
        "33554432",
        "largest calendar item (file, invite) read, in bytes",
    ),
    key(
        LIMITS,
        "max_lines",
        KeyType::Int(16, 100_000_000),
        false,
        "1000000",
        "most lines in one calendar item",
    ),
    key(
        LIMITS,
        "max_line_bytes",
        KeyType::Int(1_024, 1_073_741_824),
        false,
        "4194304",
        "longest unfolded line kept, in bytes",
    ),
    key(
        LIMITS,
        "max_depth",
        KeyType::Int(2, 256),
        false,
        "16",
        "deepest component nesting (VCALENDAR is 1)",
    ),
    key(
        REPORT,
        "folder",
        KeyType::Path,
        false,
        "reports",
        "where scheduled reports are written",
    ),
    key(
        REPORT,
        "weekday",
        KeyType::OneOf(DAYS),
        false,
        "monday",
        "the day the scheduled report is made",
    ),
    key(
        REPORT,
        "time",
        KeyType::Time,
        false,
        "09:00",
        "the local time it is made",
    ),
    key(
        REPORT,
        "time_zone",
        KeyType::TimeZone,
        false,
        "",
        "the report's zone; the team's main zone when left out",
    ),
    key(
        REPORT,
        "focus_block_minutes",
        KeyType::Int(1, 1_440),
        false,
        "120",
        "free stretches this long count as focus time",
    ),
    key(
        REPORT,
        "formats",
        KeyType::ListOf(FORMATS),
        false,
        "[\"md\", \"html\"]",
        "what the scheduled report writes",
    ),
    key(
        REPORT,
        "chat_webhook_url",
        KeyType::Url,
        false,
        "",
        "Slack-compatible webhook for the summary (a secret)",
    ),
    key(VDIR, "kind", KeyType::OneOf(KINDS), true, "", "`vdir`"),
    key(
        VDIR,
        "name",
        KeyType::Text,
        true,
        "",
        "unique name; state is keyed by it",
    ),
    key(
        VDIR,
        "member",
        KeyType::Email,
        true,
        "",
        "whose calendars these are",
    ),
    key(
        VDIR,
        "path",
        KeyType::ExistingPath,
        true,
        "",
        "a folder of calendar folders, or one calendar folder",
    ),
    key(
        VDIR,
        "mode",
        KeyType::OneOf(MODES),
        false,
        "",
        "overrides the top-level `mode`",
    ),
    key(GOOGLE, "kind", KeyType::OneOf(KINDS), true, "", "`google`"),
    key(
        GOOGLE,
        "name",
        KeyType::Text,
        true,
        "",
        "unique name; state is keyed by it",
    ),
    key(
        GOOGLE,
        "service_account_key",
        KeyType::Path,
        false,
        "",
        "service account key with domain-wide delegation (mode 0600)",
    ),
    key(
        GOOGLE,
        "members",
        KeyType::Emails,
        false,
        "",
        "members to impersonate; every policy member when left out",
    ),
    key(
        GOOGLE,
        "client_secret",
        KeyType::Path,
        false,
        "",
        "installed-app OAuth client secret (one person)",
    ),
    key(
        GOOGLE,
        "token_file",
        KeyType::Path,
        false,
        "",
        "where `gatekeeper auth google` keeps the token",
    ),
    key(
        GOOGLE,
        "member",
        KeyType::Email,
        false,
        "",
        "whose calendar an installed-app source reads",
    ),
    key(
        GOOGLE,
        "api_base",
        KeyType::Url,
        false,
        "",
        "replace the API endpoint (a proxy, the fake)",
    ),
    key(
        GOOGLE,
        "token_uri",
        KeyType::Url,
        false,
        "",
        "replace the key's token endpoint",
    ),
    key(
        GOOGLE,
        "send_updates",
        KeyType::OneOf(SEND_UPDATES),
        false,
        "all",
        "who Google emails about responses",
    ),
    key(
        GOOGLE,
        "rate_per_user_per_minute",
        KeyType::Int(1, 100_000),
        false,
        "600",
        "API calls per member per minute",
    ),
    key(
        GOOGLE,
        "rate_per_project_per_minute",
        KeyType::Int(1, 1_000_000),
        false,
        "10000",
        "API calls per project per minute",
    ),
    key(
        GOOGLE,
        "mode",
        KeyType::OneOf(MODES),
        false,
        "",
        "overrides the top-level `mode`",
    ),
    key(CALDAV, "kind", KeyType::OneOf(KINDS), true, "", "`caldav`"),
    key(
        CALDAV,
        "name",
        KeyType::Text,
        true,
        "",
        "unique name; state is keyed by it",
    ),
    key(
        CALDAV,
        "url",
        KeyType::Url,
        true,
        "",
        "the server; `http` only to loopback",
    ),
    key(
        CALDAV,
        "user",
        KeyType::Text,
        false,
        "",
        "the login name (with `password_file`)",
    ),
    key(
        CALDAV,
        "password_file",
        KeyType::Path,
        false,
        "",
        "file holding the password (mode 0600)",
    ),
    key(
        CALDAV,
        "token_file",
        KeyType::Path,
        false,
        "",
        "file holding a bearer token instead (mode 0600)",
    ),
    key(
        CALDAV,
        "member",
        KeyType::Email,
        false,
        "",
        "whose own login this is",
    ),
    key(
        CALDAV,
        "members",
        KeyType::Emails,
        false,
        "",
        "a delegated login's members; every policy member when left out",
    ),
    key(
        CALDAV,
        "principal_url",
        KeyType::Text,
        false,
        "",
        "a delegated login: each member's principal, e.g. `/{user}/`",
    ),
    key(
        CALDAV,
        "mode",
        KeyType::OneOf(MODES),
        false,
        "",
        "overrides the top-level `mode`",
    ),
];

fn keys_of(section: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.section == section)
}

/// "at the top level", "in [store]".
fn place(section: &str) -> String {
    if section == TOP {
        format!("at {TOP}")
    } else {
        format!("in `{section}`")
    }
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Value<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

/// Keys whose values are secrets: a chat webhook's URL is its password,
/// and a database URL may carry one. Their values are never shown, not even
/// in the snippet under a diagnostic.
pub const SECRET_KEYS: &[(&str, &str)] = &[("report", "chat_webhook_url"), ("store", "url")];

/// The config text with the value of every `SECRET_KEYS` key replaced by
/// `*`, byte for byte, so that spans into the original still point at the
/// same places. What a diagnostic shows is taken from this text.
pub fn redact(source: &str) -> String {
    let mut bytes = source.as_bytes().to_vec();
    let (root, _) = DeTable::parse_recoverable(source);
    let root = root.into_inner();
    for (section, name) in SECRET_KEYS {
        let Some(table) = lookup(&root, section) else {
            continue;
        };
        let DeValue::Table(t) = table.get_ref() else {
            continue;
        };
        if let Some(v) = lookup(t, name) {
            let span = v.span();
            for b in bytes.get_mut(span).into_iter().flatten() {
                if !matches!(*b, b'"' | b'\'' | b'\n' | b'\r') {
                    *b = b'*';
                }
            }
        }
    }
    // Every byte of a value's characters is replaced, so the result is
    // whole ASCII characters; the fallback cannot happen but costs nothing.
    String::from_utf8(bytes).unwrap_or_else(|_| "*".repeat(source.len()))
}

/// Check config text against `KEYS` and the rules between keys. `exists`
/// answers whether a path named in the file (as written, relative to the
/// config file) exists. Returns every problem, in file order.
pub fn lint(source: &str, file: &str, exists: &dyn Fn(&Path) -> bool) -> Vec<Diagnostic> {
    let mut w = Walker {
        exists,
        diags: Vec::new(),
    };
    w.config(source);
    let mut diags = w.diags;
    for d in &mut diags {
        d.file = file.to_string();
        for r in &mut d.related {
            r.file = file.to_string();
        }
    }
    diags.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    diags
}

struct Walker<'e> {
    exists: &'e dyn Fn(&Path) -> bool,
    diags: Vec<Diagnostic>,
}

impl Walker<'_> {
    fn config(&mut self, source: &str) {
        let (root, errors) = DeTable::parse_recoverable(source);
        if !errors.is_empty() {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                self.diags.push(
                    Diagnostic::error("toml-syntax", e.message().trim().to_lowercase())
                        .at(span, "the file stops being valid TOML here"),
                );
            }
            return;
        }
        let root = root.into_inner();
        self.section(&root, TOP, 0..0);
        for (name, section) in [
            ("store", STORE),
            ("webhook", WEBHOOK),
            ("report", REPORT),
            ("metrics", METRICS),
            ("limits", LIMITS),
        ] {
            if let Some(v) = lookup(&root, name) {
                match v.get_ref().as_table() {
                    Some(t) => self.section(t, section, v.span()),
                    None => self.type_error(v, &format!("`{name}`"), "a table"),
                }
            }
        }
        if let Some(v) = lookup(&root, "source") {
            self.sources(v);
        }
    }

    /// Unknown keys, missing required keys, and each value's type and range.
    fn section(&mut self, t: &DeTable<'_>, section: &'static str, span: Range<usize>) {
        let known: Vec<&str> = keys_of(section).map(|k| k.name).collect();
        for (k, v) in t.iter() {
            let name = k.get_ref().as_ref();
            match keys_of(section).find(|key| key.name == name) {
                None => self.diags.push(
                    Diagnostic::error(
                        "unknown-key",
                        format!("unknown key `{name}` {}", place(section)),
                    )
                    .at(k.span(), "gatekeeper does not know this key")
                    .help(unknown_key_help(name, &known)),
                ),
                // Sections are checked by their own walk.
                Some(key) if matches!(key.ty, KeyType::Table | KeyType::Tables) => {}
                Some(key) => self.value(key, v),
            }
        }
        for key in keys_of(section).filter(|k| k.required) {
            if lookup(t, key.name).is_none() {
                let what = if section == TOP && key.name == "store" {
                    "`[store]` table".to_string()
                } else {
                    format!("`{}` {}", key.name, place(section))
                };
                self.diags.push(
                    Diagnostic::error("missing-key", format!("the config has no {what}"))
                        .at(span.clone(), "required")
                        .help(format!("{}: {}", key.name, key.doc)),
                );
            }
        }
    }

    fn sources(&mut self, v: &Value<'_>) {
        let Some(items) = v.get_ref().as_array() else {
            self.type_error(v, "`source`", "an array of `[[source]]` tables");
            return;
        };
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        for item in items.iter() {
            let Some(t) = item.get_ref().as_table() else {
                self.type_error(item, "each `source`", "a table");
                continue;
            };
            let section = match lookup(t, "kind").map(|k| (k, k.get_ref().as_str())) {
                Some((_, Some("vdir"))) => VDIR,
                Some((_, Some("google"))) => GOOGLE,
                Some((_, Some("caldav"))) => CALDAV,
                Some((k, Some(other))) => {
                    self.diags.push(
                        Diagnostic::error("unknown-kind", format!("unknown source kind `{other}`"))
                            .at(k.span(), "not a source kind")
                            .help_opt(did_you_mean_help(other, KINDS.iter().copied()).or_else(
                                || Some("the kinds are `vdir`, `google` and `caldav`".into()),
                            )),
                    );
                    continue;
                }
                Some((k, None)) => {
                    self.type_error(k, "`kind`", "a string");
                    continue;
                }
                None => {
                    self.diags.push(
                        Diagnostic::error("missing-key", "this `[[source]]` has no `kind`")
                            .at(item.span(), "required")
                            .help(
                                "add `kind = \"vdir\"`, `kind = \"google\"` or `kind = \"caldav\"`",
                            ),
                    );
                    continue;
                }
            };
            self.section(t, section, item.span());
            if let Some(n) = lookup(t, "name")
                && let Some(name) = n.get_ref().as_str()
            {
                if let Some(first) = names.get(name) {
                    let mut d = Diagnostic::error(
                        "duplicate-source",
                        format!("two sources are named `{name}`"),
                    )
                    .at(n.span(), "second source with this name")
                    .help("source names must be unique: the store keys state by them");
                    d.related.push(Related {
                        file: String::new(),
                        source: None,
                        span: first.clone(),
                        label: "first used here".into(),
                    });
                    self.diags.push(d);
                } else {
                    names.insert(name.to_string(), n.span());
                }
            }
            if section == GOOGLE {
                self.google_sign_in(t, item.span());
            }
            if section == CALDAV {
                self.caldav_sign_in(t, item.span());
            }
        }
    }

    /// A Google source signs in one way: a service account, or installed-app
    /// OAuth with all three of its keys.
    fn google_sign_in(&mut self, t: &DeTable<'_>, span: Range<usize>) {
        let has = |k: &str| lookup(t, k).is_some();
        let name = lookup(t, "name")
            .and_then(|n| n.get_ref().as_str())
            .unwrap_or("?")
            .to_string();
        let key_span = |k: &str| lookup(t, k).map_or(span.clone(), |v| v.span());
        let installed = has("client_secret") || has("token_file");
        let problem = match (has("service_account_key"), installed) {
            (true, true) => Some((
                key_span("service_account_key"),
                format!(
                    "source `{name}` sets both `service_account_key` and `client_secret`/`token_file`"
                ),
                "choose one way to sign in",
            )),
            (false, false) => Some((
                span.clone(),
                format!("source `{name}` has no way to sign in"),
                "add `service_account_key` (a team deployment) or `client_secret`, `token_file` and `member` (one person)",
            )),
            (false, true) if !(has("client_secret") && has("token_file") && has("member")) => {
                Some((
                    key_span("client_secret"),
                    format!(
                        "source `{name}`: installed-app sign-in needs `client_secret`, `token_file` and `member`"
                    ),
                    "add the missing keys",
                ))
            }
            _ => None,
        };
        if let Some((span, message, help)) = problem {
            self.diags.push(
                Diagnostic::error("sign-in", message)
                    .at(span, "here")
                    .help(help),
            );
        }
    }

    /// A CalDAV source logs in one way (a password with its user, or a
    /// token) and reads either one member's calendars or, delegated, every
    /// member's through `principal_url`.
    fn caldav_sign_in(&mut self, t: &DeTable<'_>, span: Range<usize>) {
        let has = |k: &str| lookup(t, k).is_some();
        let name = lookup(t, "name")
            .and_then(|n| n.get_ref().as_str())
            .unwrap_or("?")
            .to_string();
        let key_span = |k: &str| lookup(t, k).map_or(span.clone(), |v| v.span());
        let mut problems = Vec::new();
        match (has("password_file"), has("token_file")) {
            (true, true) => problems.push((
                key_span("token_file"),
                format!("source `{name}` sets both `password_file` and `token_file`"),
                "choose one way to log in",
            )),
            (false, false) => problems.push((
                span.clone(),
                format!("source `{name}` has no way to log in"),
                "add `user` and `password_file`, or `token_file`",
            )),
            (true, false) if !has("user") => problems.push((
                key_span("password_file"),
                format!("source `{name}`: `password_file` needs `user`"),
                "add `user`, the login name",
            )),
            _ => {}
        }
        let delegated = has("principal_url") || has("members");
        match (has("member"), delegated) {
            (true, true) => problems.push((
                key_span("member"),
                format!(
                    "source `{name}` sets `member` (one member's own login) and `members`/`principal_url` (a delegated login)"
                ),
                "keep `member` for a member's own login, or `principal_url` for a delegated one",
            )),
            (false, false) => problems.push((
                span.clone(),
                format!("source `{name}` does not say whose calendars it reads"),
                "add `member` (the login is that member's own) or `principal_url` (a delegated login, e.g. `/{user}/`)",
            )),
            (false, true) if !has("principal_url") => problems.push((
                key_span("members"),
                format!("source `{name}`: `members` needs `principal_url`"),
                "add `principal_url`, where each member's principal is, e.g. `/{user}/`",
            )),
            _ => {}
        }
        for (span, message, help) in problems {
            self.diags.push(
                Diagnostic::error("sign-in", message)
                    .at(span, "here")
                    .help(help),
            );
        }
    }

    fn value(&mut self, key: &Key, v: &Value<'_>) {
        let what = format!("`{}`", key.name);
        match key.ty {
            KeyType::Text => {
                self.string(v, &what);
            }
            // Sections are walked on their own, not as values.
            KeyType::Table | KeyType::Tables => {}
            KeyType::Path => {
                self.string(v, &what);
            }
            KeyType::ExistingPath => {
                if let Some(s) = self.string(v, &what) {
                    self.must_exist(&s, v.span(), &what);
                }
            }
            KeyType::Paths | KeyType::ExistingPaths | KeyType::Emails | KeyType::ListOf(_) => {
                let Some(items) = v.get_ref().as_array() else {
                    self.type_error(v, &what, "an array of strings");
                    return;
                };
                for item in items.iter() {
                    let Some(s) = self.string(item, &what) else {
                        continue;
                    };
                    match key.ty {
                        KeyType::ExistingPaths => self.must_exist(&s, item.span(), &what),
                        KeyType::Emails => self.email(&s, item.span(), &what),
                        KeyType::ListOf(names) => self.one_of(&s, names, item.span(), &what),
                        _ => {}
                    }
                }
            }
            KeyType::Email => {
                if let Some(s) = self.string(v, &what) {
                    self.email(&s, v.span(), &what);
                }
            }
            KeyType::Int(min, max) => self.int_in(v, &what, min, max),
            KeyType::OneOf(names) => {
                if let Some(s) = self.string(v, &what) {
                    self.one_of(&s, names, v.span(), &what);
                }
            }
            KeyType::Time => {
                if let Some(s) = self.string(v, &what)
                    && chrono::NaiveTime::parse_from_str(&s, "%H:%M").is_err()
                {
                    self.diags.push(
                        Diagnostic::error("bad-value", format!("`{s}` is not a time"))
                            .at(v.span(), "expected `HH:MM`")
                            .help("write a 24-hour time such as `09:00`"),
                    );
                }
            }
            KeyType::TimeZone => {
                if let Some(s) = self.string(v, &what)
                    && s.parse::<chrono_tz::Tz>().is_err()
                {
                    self.diags.push(
                        Diagnostic::error("unknown-time-zone", format!("unknown time zone `{s}`"))
                            .at(v.span(), "not an IANA time zone name")
                            .help(time_zone_help(&s)),
                    );
                }
            }
            KeyType::SocketAddr => {
                if let Some(s) = self.string(v, &what)
                    && s.parse::<std::net::SocketAddr>().is_err()
                {
                    self.diags.push(
                        Diagnostic::error(
                            "bad-value",
                            format!("`{s}` is not an address to listen on"),
                        )
                        .at(v.span(), "expected `host:port`")
                        .help("write an IP address and a port, such as `127.0.0.1:8443`"),
                    );
                }
            }
            KeyType::Url => match self.string(v, &what).map(|s| crate::net::check_url(&s)) {
                Some(Err(crate::net::UrlError::NotHttp)) => self.diags.push(
                    Diagnostic::error("bad-value", format!("{what} must be an http(s) URL"))
                        .at(v.span(), "not a URL")
                        .help("write the whole address, starting with `https://`"),
                ),
                Some(Err(e)) => self.diags.push(
                    Diagnostic::error("plain-http", format!("{what}: {e}"))
                        .at(v.span(), "not encrypted")
                        .help(
                            "write `https://`; plain `http://` is for a test server on 127.0.0.1",
                        ),
                ),
                Some(Ok(())) | None => {}
            },
        }
    }

    fn string(&mut self, v: &Value<'_>, what: &str) -> Option<String> {
        match v.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error(v, what, "a string");
                None
            }
        }
    }

    fn must_exist(&mut self, s: &str, span: Range<usize>, what: &str) {
        if !(self.exists)(Path::new(s)) {
            self.diags.push(
                Diagnostic::error("missing-path", format!("`{s}` does not exist"))
                    .at(
                        span,
                        format!("{what} names a file or folder that is not there"),
                    )
                    .help("paths are relative to the config file's folder"),
            );
        }
    }

    fn email(&mut self, s: &str, span: Range<usize>, what: &str) {
        let s = s.trim();
        let ok = s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains('@'));
        if !ok {
            self.diags.push(
                Diagnostic::error("bad-value", format!("`{s}` is not an email address")).at(
                    span,
                    format!("{what} wants an address such as `ana@example.com`"),
                ),
            );
        }
    }

    fn one_of(&mut self, s: &str, names: &[&str], span: Range<usize>, what: &str) {
        if names.contains(&s) {
            return;
        }
        let listed = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.diags.push(
            Diagnostic::error("bad-value", format!("{what} cannot be `{s}`"))
                .at(span, format!("expected one of {listed}"))
                .help_opt(
                    did_you_mean_help(s, names.iter().copied())
                        .or_else(|| Some(format!("the values are {listed}"))),
                ),
        );
    }

    fn int_in(&mut self, v: &Value<'_>, what: &str, min: i64, max: i64) {
        let Some(i) = v.get_ref().as_integer() else {
            self.type_error(v, what, "a whole number");
            return;
        };
        let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
        let n = i64::from_str_radix(digits.trim_start_matches('+'), i.radix()).ok();
        if !n.is_some_and(|n| (min..=max).contains(&n)) {
            self.diags.push(
                Diagnostic::error(
                    "out-of-range",
                    format!("{what} must be between {min} and {max}"),
                )
                .at(v.span(), "out of range"),
            );
        }
    }

    fn type_error(&mut self, v: &Value<'_>, what: &str, expected: &str) {
        self.diags.push(
            Diagnostic::error("wrong-type", format!("{what} must be {expected}"))
                .at(v.span(), format!("this is a {}", v.get_ref().type_str())),
        );
    }
}

/// The README's configuration reference, as a Markdown table made from
/// `KEYS`. A test holds the README to exactly this text.
pub fn reference_markdown() -> String {
    let mut out =
        String::from("| section | key | type | default | required |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let section = if k.section == TOP {
            "top level".to_string()
        } else {
            format!("`{}`", k.section)
        };
        let default = if k.default.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", k.default)
        };
        out.push_str(&format!(
            "| {section} | `{}` | {} | {default} | {} |\n",
            k.name,
            k.ty.describe(),
            if k.required { "yes" } else { "no" },
        ));
    }
    out
}
