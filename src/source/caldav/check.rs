//! `config check` for a CalDAV source: read its credentials, log in and
//! discover each member's calendars (PROPFINDs only: nothing is written,
//! no sync token is taken).

use super::{CaldavSettings, CaldavSource, own_runtime};
use crate::config::SourceConfig;
use crate::source::Reach;

/// Check the CalDAV source `s`; `team` is every member of every policy (a
/// delegated source that names no members serves them).
pub fn check(
    s: &SourceConfig,
    team: &[String],
    max_item_bytes: usize,
    report: &mut dyn FnMut(Reach),
) {
    let name = s.name();
    let settings = match CaldavSettings::from_config(s, team, max_item_bytes) {
        Ok(settings) => settings,
        Err(e) => return report(Reach::Unreachable(e.to_string())),
    };
    let runtime = match own_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return report(Reach::Unreachable(format!(
                "source `{name}`: cannot start the async runtime: {e}"
            )));
        }
    };
    let source = match CaldavSource::new(settings, runtime) {
        Ok(source) => source,
        Err(e) => return report(Reach::Unreachable(e.to_string())),
    };
    for member in source.settings().members() {
        if !team.contains(&member) {
            report(Reach::Warning(format!(
                "source `{name}`: `{member}` is in no policy"
            )));
        }
        match source.discover(&member) {
            Ok(calendars) => report(Reach::Found(format!(
                "source `{name}` (caldav, {member}): {} calendar(s)",
                calendars.len()
            ))),
            Err(e) => report(Reach::Unreachable(format!(
                "source `{name}`, `{member}`: {e}"
            ))),
        }
    }
}
