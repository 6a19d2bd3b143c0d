//! gatekeeper: a calendar gatekeeper for async-first teams.
//!
//! The crate is a pure decision core (`policy`, `calendar`) inside an I/O
//! shell (`source`, `store`, `daemon`, `cli`). See ARCHITECTURE.md.

pub mod backtest;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod fairness;
pub mod metrics;
pub mod net;
pub mod policy;
pub mod report;
pub mod source;
pub mod store;
pub mod team;
