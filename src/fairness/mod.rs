//! Time-zone fairness: how much each meeting costs each attendee in their
//! own wall-clock time, the burden that accumulates per member over a
//! rolling window, fairness figures for a team or a series, and the search
//! for fairer times.
//!
//! Nothing under `fairness/` does I/O or reads the clock: `now`, the
//! burdens from the store and the busy times from the synced calendars come
//! in from the caller, as they do for `policy::evaluate`.

pub mod busy;
pub mod curve;
pub mod figures;
pub mod ledger;
pub mod search;

pub use curve::{Category, Curve, Profile, Score, score};
pub use figures::{Figures, Share, figures, series_figures};
pub use ledger::{Burden, BurdenSnapshot, LedgerEntry, Standing, ledger_entries, window};
pub use search::{AttendeeTime, BusyTime, Grid, Search, SearchAttendee, Slot};
