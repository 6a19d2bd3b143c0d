//! `config check` for a Google source: sign in as each member and read
//! their calendar's time zone setting, one read-only call per member (the
//! least a working grant must allow). A source whose key or client secret
//! is not in place yet is a good config that is not contacted: `init`
//! writes the config before the operator has the key.

use super::{GoogleSource, google_settings_for};
use crate::config::SourceConfig;
use crate::source::Reach;

/// Check the Google source `s`; `team` is every member of every policy
/// (the source's members when it names none).
pub fn check(s: &SourceConfig, team: &[String], report: &mut dyn FnMut(Reach)) {
    let SourceConfig::Google {
        name,
        service_account_key,
        client_secret,
        ..
    } = s
    else {
        report(Reach::Unreachable(format!(
            "source `{}`: not a Google source",
            s.name()
        )));
        return;
    };
    let (settings, members) = google_settings_for(s, team);
    let mut missing_key = false;
    for key in [service_account_key, client_secret].into_iter().flatten() {
        if let Err(e) = std::fs::metadata(key) {
            missing_key = true;
            report(Reach::Warning(format!(
                "source `{name}`: cannot read `{}` ({e}); gatekeeper needs it to sign in",
                key.display()
            )));
        }
    }
    for m in &members {
        if !team.contains(m) {
            report(Reach::Warning(format!(
                "source `{name}`: `{m}` is in no policy"
            )));
        }
    }
    if missing_key {
        report(Reach::Found(format!(
            "source `{name}` (google): {} member(s); not contacted until the key file is in place",
            members.len()
        )));
        return;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            report(Reach::Unreachable(format!(
                "source `{name}`: cannot start the async runtime: {e}"
            )));
            return;
        }
    };
    let google = runtime.block_on(GoogleSource::connect(settings, &members));
    report(Reach::Found(format!(
        "source `{name}` (google): {} member(s)",
        members.len()
    )));
    for m in &members {
        match runtime.block_on(google.time_zone(m)) {
            Ok(zone) => report(Reach::Found(format!(
                "  `{m}`: reachable (calendar zone {zone})"
            ))),
            Err(e) => report(Reach::Unreachable(format!("source `{name}`: `{m}`: {e}"))),
        }
    }
}
