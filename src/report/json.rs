//! The report as JSON: the `WeeklyReport` struct serialized as it is, so
//! the struct is the single source of the format. Must not add or rename
//! anything of its own.

use super::stats::WeeklyReport;

pub fn render(report: &WeeklyReport) -> String {
    // Serializing plain structs of strings, numbers and vectors cannot
    // fail; an error would be a bug, and is shown rather than hidden.
    serde_json::to_string_pretty(report)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}
