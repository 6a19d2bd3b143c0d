//! How the command line reports what happens, on stderr: plain lines
//! (`warning: …`, `error: …`, `gatekeeper: …`) by default, or one JSON
//! object per line for log shippers when `GATEKEEPER_LOG_FORMAT=json`. The
//! same choice applies to `tracing` events (`GATEKEEPER_LOG=info`). Only
//! the form changes, never what is said; decision lines on stdout are data
//! and stay as they are.

use std::fmt;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Whether stderr carries JSON lines.
pub fn json() -> bool {
    static JSON: OnceLock<bool> = OnceLock::new();
    *JSON.get_or_init(|| {
        std::env::var("GATEKEEPER_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
    })
}

fn line(level: &str, message: &str) -> String {
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": level,
        "target": "gatekeeper",
        "message": message.trim_end(),
    })
    .to_string()
}

/// A problem with one item; the rest goes on.
pub fn warn(message: impl fmt::Display) {
    if json() {
        eprintln!("{}", line("WARN", &message.to_string()));
    } else {
        eprintln!("warning: {message}");
    }
}

/// What the daemon is doing.
pub fn info(message: impl fmt::Display) {
    if json() {
        eprintln!("{}", line("INFO", &message.to_string()));
    } else {
        eprintln!("gatekeeper: {message}");
    }
}

/// Something failed.
pub fn error(message: impl fmt::Display) {
    if json() {
        eprintln!("{}", line("ERROR", &message.to_string()));
    } else {
        eprintln!("error: {message}");
    }
}

/// Text that is already rendered for people (rustc-style diagnostics): as
/// is, or as one JSON error whose message is the plain rendering.
pub fn rendered(text: &str) {
    if json() {
        eprintln!("{}", line("ERROR", text));
    } else {
        eprint!("{text}");
    }
}

/// `tracing` events as JSON lines: timestamp, level, target, the message
/// and every other field.
pub struct JsonEvents;

#[derive(Default)]
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonEvents
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let mut obj = serde_json::Map::new();
        obj.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        obj.insert("level".into(), meta.level().as_str().into());
        obj.insert("target".into(), meta.target().into());
        obj.extend(fields.0);
        writeln!(writer, "{}", serde_json::Value::Object(obj))
    }
}
