//! Calendar sources: where invites come from and where responses go. One
//! file per backend behind the `CalendarSource` trait. Sources do I/O and
//! map wire formats into the calendar domain; they never decide anything.

pub mod caldav;
pub mod google;
pub mod vdir;

/// One stored calendar object (a vdir `.ics` file, a CalDAV resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// The calendar (collection) the item lives in.
    pub calendar: String,
    /// The item's name inside the calendar.
    pub href: String,
    /// Changes whenever the item's content changes.
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} changed while gatekeeper was answering it; it will be read again")]
    Conflict { path: String },
    /// The item is larger than the configured `[limits] max_item_bytes`:
    /// it is skipped without being read into memory.
    #[error("{path}: {size} bytes, over the limit of {max} (`[limits] max_item_bytes`)")]
    TooLarge { path: String, size: u64, max: u64 },
}

pub trait CalendarSource {
    /// Every item of every calendar, with etags. Cheap: no content is read.
    fn list(&mut self) -> Result<Vec<ItemRef>, SourceError>;
    /// The item's bytes as stored: calendars are not always UTF-8, and an
    /// answer must leave every byte it does not own as it was.
    fn read(&mut self, item: &ItemRef) -> Result<Vec<u8>, SourceError>;
    /// Replace an item's content if it still has `item.etag`; returns the
    /// new etag.
    fn write(&mut self, item: &ItemRef, bytes: &[u8]) -> Result<String, SourceError>;
}
