//! Stub until expansion lands.
use super::{Event, Occurrence};
use chrono::{DateTime, Utc};
pub struct Expansion { pub occurrences: Vec<Occurrence>, pub truncated: bool, pub problems: Vec<String> }
pub fn expand(_events: &[Event], _reader_tz: chrono_tz::Tz, _from: DateTime<Utc>, _to: DateTime<Utc>, _max: usize) -> Expansion { todo!() }
pub fn group_by_uid(_events: Vec<Event>) -> Vec<Vec<Event>> { todo!() }
