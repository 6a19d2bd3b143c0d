//! Any bytes as a calendar, every series expanded over a year: never a
//! panic, and never more occurrences than asked for.
#![no_main]

use chrono::{TimeZone, Utc};
use gatekeeper::calendar::ical::parse_ics_bytes;
use gatekeeper::calendar::recurrence::{expand, group_by_uid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_ics_bytes(data) else {
        return;
    };
    let (Some(from), Some(to)) = (
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single(),
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single(),
    ) else {
        return;
    };
    for group in group_by_uid(parsed.events) {
        let exp = expand(&group, chrono_tz::Europe::Berlin, from, to, 200);
        assert!(exp.occurrences.len() <= 200);
    }
});
