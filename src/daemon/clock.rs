//! Where the daemon's "now" comes from: the wall clock in production, a
//! given starting time in demos (`run --now`), a clock the test moves in
//! tests. Nothing under `daemon/` other than this file reads the wall
//! clock for a decision.

use chrono::{DateTime, Utc};

/// Where "now" comes from: the wall clock in production, a fixed or stepped
/// time in demos and tests.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a given time and moves with the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: chrono::Duration,
}

impl OffsetClock {
    pub fn starting_at(t: DateTime<Utc>) -> OffsetClock {
        OffsetClock {
            offset: t - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}
