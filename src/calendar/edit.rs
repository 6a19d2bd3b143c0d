//! Stub until editing lands.
use super::{EventTime, PartStat};
pub struct ResponseEdit<'a> { pub uid: &'a str, pub recurrence_id: Option<EventTime>, pub attendee: &'a str, pub partstat: PartStat, pub comment: Option<&'a str>, pub marker: Option<PartStat> }
#[derive(thiserror::Error, Debug)]
pub enum EditError { #[error("event not found")] EventNotFound }
pub fn set_response(_ics: &str, _edit: &ResponseEdit) -> Result<String, EditError> { todo!() }
