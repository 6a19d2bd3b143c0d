//! Stub until the iCalendar parser lands.
use super::Event;
pub struct ParsedCalendar { pub events: Vec<Event>, pub problems: Vec<String>, pub default_tz: Option<chrono_tz::Tz> }
#[derive(thiserror::Error, Debug)]
pub enum IcsError { #[error("not an iCalendar file: {0}")] NotCalendar(String) }
pub fn parse_ics(_text: &str) -> Result<ParsedCalendar, IcsError> { todo!() }
