//! Team policies: the file format, its diagnostics, and the pure decision
//! core that screens an invite against a policy.
//!
//! Nothing under `policy/` does I/O: parsing takes the file's text, evaluation
//! takes `now` and the state it needs from the caller.

pub mod agenda;
pub mod comment;
pub mod diagnostic;
pub mod evaluate;
pub mod invite;
pub mod model;
pub mod parse;
pub mod purpose;

pub use diagnostic::{Diagnostic, Severity};
pub use evaluate::{Context, Decision, Finding, Invite, Problem, Span, Verdict, evaluate};
pub use model::{Action, Policy, RuleKind};
pub use parse::{
    LintedFile, decode_policy, lint_bytes, lint_sources, parse_policy, parse_policy_bytes,
};
