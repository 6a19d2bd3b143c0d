//! The daemon: syncs every configured source, screens new and changed
//! invites, acts, logs, and keeps watching until asked to stop.
//!
//! `event_loop` is the loop itself, a `match` over the closed
//! `DaemonEvent` set, with its clock (`clock`) and its event source
//! injected; `live` is the event source of a running process (signals,
//! push notifications, policy files); `screen` holds the pure rules for who
//! owns a response and what to write; `engine` does the I/O around them;
//! `webhook` receives Google's push notifications; `folder_watch` watches
//! local calendar folders with inotify. The team's policies come
//! from `crate::team`. The command line only builds these and calls
//! `event_loop::once` or `event_loop::watch`.

pub mod clock;
pub mod engine;
pub mod event_loop;
pub mod folder_watch;
pub mod live;
pub mod screen;
pub mod webhook;

pub use clock::{Clock, OffsetClock, SystemClock};
pub use engine::{Engine, RunReport};
pub use event_loop::{Arrival, DaemonEvent, EventSource, Observer, Screener};
