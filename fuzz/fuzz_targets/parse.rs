//! Any bytes: parsing never panics, aborts or overflows the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gatekeeper::calendar::ical::parse_ics_bytes(data);
});
