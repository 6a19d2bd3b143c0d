//! Fuzz target: policy parsing and lint on arbitrary bytes, the way every
//! reader takes a policy file (`parse_policy_bytes`, `lint_bytes`), then
//! both renderings of the diagnostics. Must never panic, and every
//! diagnostic must point inside the file.
//!
//! Run: `cargo +nightly fuzz run policy` (from the repository root; add
//! `-- -max_total_time=600` to run longer). The same properties run with
//! bounded cases in the normal suite (`tests/policy_lint.rs`, `mod fuzz`).
#![no_main]

use gatekeeper::policy::diagnostic::{render_human, render_json};
use gatekeeper::policy::{lint_bytes, parse_policy_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, _policy, diags) = parse_policy_bytes(data.to_vec(), "fuzz.toml");
    for d in &diags {
        if let Some(span) = &d.span {
            assert!(span.start <= span.end && span.end <= text.len());
        }
    }
    let source = |_: &str| Some(text.clone());
    let _ = render_json(&diags, &source);
    let _ = render_human(&diags, &source, false);
    let _ = lint_bytes(vec![("fuzz.toml".to_string(), data.to_vec())]);
});
