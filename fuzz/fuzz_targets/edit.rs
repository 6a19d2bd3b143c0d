//! Any bytes as a calendar: answering every attendee of every event never
//! panics, a second identical edit changes nothing, and the item keeps
//! every event.
#![no_main]

use gatekeeper::calendar::PartStat;
use gatekeeper::calendar::edit::{ResponseEdit, set_response_bytes};
use gatekeeper::calendar::ical::parse_ics_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_ics_bytes(data) else {
        return;
    };
    for event in parsed.events.iter().take(4) {
        for attendee in event.attendees.iter().take(2) {
            let edit = ResponseEdit {
                uid: &event.uid,
                recurrence_id: event.recurrence_id,
                attendee: &attendee.email,
                partstat: PartStat::Declined,
                comment: Some("fuzz, comment; with escapes\\"),
                marker: Some(PartStat::Declined),
                marker_rules: &[],
            };
            if let Ok(once) = set_response_bytes(data, &edit) {
                let twice = set_response_bytes(&once, &edit).expect("an edited item edits again");
                assert_eq!(once, twice, "a second identical edit is a no-op");
                let again = parse_ics_bytes(&once).expect("an edited item still parses");
                assert_eq!(again.events.len(), parsed.events.len(), "an edit adds or loses no event");
            }
        }
    }
});
