//! Calendar sources: where invites come from and where answers go. One
//! folder or file per backend (`vdir`, `google/`, `caldav/`), each
//! behind the one [`CalendarSource`] trait; [`build`] makes them from the
//! config, for the daemon and the weekly report alike. `ics` is what
//! backends whose items are iCalendar bytes share (reading an item into
//! entries, writing an answer into its bytes); `push` the push channels of
//! backends that can push. Sources do I/O and map wire formats into the
//! calendar domain; they never decide anything. The engine
//! (`daemon::engine`) is a pipeline over `dyn CalendarSource` and knows no
//! backend: adding one is a folder here and one line in [`build`].
//!
//! # The contract
//!
//! **Cursors.** A source remembers where it is in the store's cursor table:
//! rows of `(source, calendar, item) → value`, where `calendar` is a
//! calendar folder or a member and `item` an item name, a sync token's slot
//! or a channel's. The values are opaque to the engine: a vdir file's etag
//! and the events it held, a Google sync token, a CalDAV sync token or
//! collection tag. [`CalendarSource::changes`] is given every cursor row of
//! the source and hands back what changed since them as a sequence of
//! [`Change`]s. A cursor the server refuses ("cursor invalid") is
//! expressed as a [`Change::Cursor`] that forgets it, followed by the full
//! listing the backend falls back to; what was already decided is then
//! recognised by its screening and gatekeeper's marker, never answered
//! twice.
//!
//! **Batches.** A [`Batch`] is the unit whose cursor moves: one vdir file,
//! one member's Google sync. It carries the events to screen, grouped as
//! they are decided together (a series with its overrides), each with the
//! [`Target`] an answer to it goes to, and what is gone. The engine stores
//! the cursor rows [`CalendarSource::finish`] gives only once every event of
//! the batch was decided and every answer written; a batch left unfinished
//! (an interruption, a failed write) is handed over again next pass.
//!
//! **Writes.** [`CalendarSource::write`] writes an [`Answer`] (the member's
//! PARTSTAT, gatekeeper's comment, marker and the rules it stands on) into
//! the member's copy of one event *only if that copy is still the version
//! the target names*: for a vdir file its etag, then its identity and
//! content hash (the file is swapped in and swapped back if it was not the
//! version read); for Google the event's etag in `If-Match`; for CalDAV the
//! resource's etag in `If-Match`. A refusal is
//! [`SourceError::Conflict`]: nothing was written, and the event must be
//! read again and decided again, never written blindly. The engine asks
//! [`CalendarSource::reread`] for a fresh copy; a backend whose items are
//! re-read with their batch answers [`Reread::NextPass`].
//!
//! **Everything else** is optional, with defaults for a backend that cannot:
//! push channels (`watch`, `unwatch`), the calendar's own time zone, API
//! call counts and statistics. `events_between` reads a member's calendar
//! over a window outside any sync (busy times for suggestions, the weekly
//! report); it never touches cursors.

pub mod caldav;
pub mod google;
pub mod ics;
pub mod push;
pub mod vdir;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::calendar::{Event, PartStat};
use crate::config::{Config, Mode, SourceConfig};

pub use google::stats::ApiStatsSnapshot;
pub use push::{ChannelRegistry, WatchChannel, random_token};

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
    /// The item is not the version the answer was decided on: nothing was
    /// written; read it again and decide again.
    #[error("{path} changed while gatekeeper was answering it; it will be read again")]
    Conflict { path: String },
    /// The item is larger than the configured `[limits] max_item_bytes`:
    /// it is skipped without being read into memory.
    #[error("{path}: {size} bytes, over the limit of {max} (`[limits] max_item_bytes`)")]
    TooLarge { path: String, size: u64, max: u64 },
    /// The answer cannot be written into the item's bytes.
    #[error(transparent)]
    Edit(#[from] crate::calendar::edit::EditError),
    /// The backend cannot do this (push channels on local folders).
    #[error("not supported by this source: {0}")]
    Unsupported(&'static str),
    /// A backend's own failure (an API error, a refused token), as the
    /// backend words it.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// What gatekeeper writes into a member's copy of an event: the member's
/// answer, gatekeeper's comment, and the marker that records the answer as
/// gatekeeper's own, with the rules it stands on. Backend-neutral: a vdir
/// or CalDAV source edits the iCalendar bytes it read
/// (`calendar::edit::ItemEditor`), Google patches the member's attendee
/// entry and private extended properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub partstat: PartStat,
    pub comment: Option<String>,
    /// The marker that records the answer as gatekeeper's own.
    pub marker: Option<PartStat>,
    /// The acting rules the answer stands on, carried with the marker so a
    /// fresh store can tell whether a later verdict names a new problem
    /// (see `daemon::screen::new_problems`). Empty when there is no marker.
    pub rules: Vec<String>,
}

/// Where an answer to one event goes, and the version it is conditional
/// on. Opaque to the engine but for naming it in messages and telling that
/// two targets are one event (`key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The member whose copy this is.
    pub member: String,
    /// The calendar (folder, member) and the item (file, event id) inside it.
    pub calendar: String,
    pub href: String,
    /// The event as every participant's copy names it, when a write to one
    /// copy changes the others (a Google event id); `None` when each copy
    /// is its own (a local file).
    pub shared_id: Option<String>,
    /// The version the answer is conditional on; `None` when the backend
    /// gave none (then nothing is written).
    pub etag: Option<String>,
}

/// One event to screen and where its answer goes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: Event,
    pub target: Target,
}

/// Something that is no longer in a member's calendar: its meetings come
/// off the burden ledger and its protected time goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// The UID (or item-derived key) and recurrence id the ledger keeps it
    /// under.
    pub uid: String,
    pub recurrence_id: String,
    /// Only this occurrence of a series is gone.
    pub occurrence: Option<DateTime<Utc>>,
    /// The id protected time was kept under, if the backend keeps any.
    pub protected_id: Option<String>,
}

/// A change to the store's cursor table for this source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorOp {
    Set {
        calendar: String,
        item: String,
        value: String,
    },
    Remove {
        calendar: String,
        item: String,
    },
}

/// The source's rows of the store's cursor table: (calendar, item) → value.
pub type Cursors = HashMap<(String, String), String>;

/// One unit of change whose cursor moves once all of it is decided.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The member whose calendar this is.
    pub member: String,
    /// The item as listed (a vdir file; for a member-wide sync the member's
    /// calendar with an empty href): screenings, log rows and the ledger
    /// are kept under its calendar, and an event without UID under its
    /// href.
    pub item: ItemRef,
    /// Events to screen, grouped as they are decided together.
    pub series: Vec<Vec<Entry>>,
    /// Deleted events and occurrences.
    pub gone: Vec<Gone>,
    /// Problems with single events or the item, worded for the operator.
    pub problems: Vec<String>,
    /// Items read to make this batch (for the pass's report).
    pub items_read: usize,
    /// When the copies in this batch were read: a target gatekeeper wrote
    /// to later in the pass (through another member's copy) is read again
    /// before it is decided.
    pub read_at: std::time::Instant,
    /// The cursor rows to store once the batch is finished, as known when
    /// it was read (see [`CalendarSource::finish`]).
    pub cursor: Vec<CursorOp>,
}

/// A member's calendar read over a window.
#[derive(Debug, Default)]
pub struct Window {
    /// Events grouped by series (a series with its overrides).
    pub series: Vec<Vec<Event>>,
    /// Items or events that were skipped, with why.
    pub problems: Vec<String>,
}

/// The key an event's state (screening, ledger, log) is kept under: its
/// UID, or for an event without one the item that holds it, so two such
/// items in one calendar never share a screening or ledger rows.
pub fn uid_key(uid: &str, href: &str) -> String {
    if uid.is_empty() {
        format!("(no UID) {href}")
    } else {
        uid.to_string()
    }
}

/// What [`CalendarSource::changes`] hands over, in order.
#[derive(Debug)]
pub enum Change {
    /// Store this at once, whatever happens to the rest (a refused sync
    /// token is dropped before the full listing that replaces it).
    Cursor(CursorOp),
    /// Changed events to screen.
    Batch(Box<Batch>),
    /// A member's calendar (or the whole source, `member` `None`) could
    /// not be read; it is tried again next pass.
    Failed {
        member: Option<String>,
        error: SourceError,
    },
}

/// What a sync covers.
#[derive(Debug, Clone, Copy)]
pub struct SyncRequest<'a> {
    /// Only these members (a push notification); every member otherwise.
    pub members: Option<&'a [String]>,
    pub now: DateTime<Utc>,
    /// How far ahead invites are screened (a re-screen reads this window).
    pub horizon_days: u32,
}

/// A fresh copy of one event after a refused write.
#[derive(Debug)]
pub enum Reread {
    Copy(Box<Entry>),
    /// Deleted meanwhile: nothing left to answer.
    Gone,
    /// This backend reads its items again with their batch, on the next
    /// pass (the batch's cursor does not move).
    NextPass,
}

/// One calendar backend. Methods take `&self` so a pass can write while it
/// walks the changes; a backend keeps what it must remember between calls
/// inside (a `Mutex` or `RefCell`).
pub trait CalendarSource: Send + Sync {
    /// The configured name: the cursor rows' and the log rows' source.
    fn name(&self) -> &str;

    /// The members whose calendars this source holds.
    fn members(&self) -> &[String];

    /// The source's own `mode`, overriding the config's.
    fn mode(&self) -> Option<Mode>;

    /// What changed since `cursors` (every cursor row of this source), as
    /// batches produced while the caller screens the earlier ones. Cheap
    /// for items whose version did not change: they are not read.
    fn changes<'s>(
        &'s self,
        cursors: &Cursors,
        request: SyncRequest<'_>,
    ) -> Box<dyn Iterator<Item = Change> + 's>;

    /// Whether the changes can be looked at without consuming them, before
    /// anything is decided, so the burden ledger counts every meeting
    /// already accepted whatever the order of sources (local folders can;
    /// a sync token cannot be read twice).
    fn can_peek(&self) -> bool {
        false
    }

    /// The cursor rows to store now that every event of `batch` was
    /// decided and every answer written (a vdir file's etag after
    /// gatekeeper's own writes).
    fn finish(&self, batch: &Batch) -> Vec<CursorOp> {
        batch.cursor.clone()
    }

    /// Write `answer` into `target` (`event` is the copy it was decided
    /// on) only if the copy is still the version `target` names; a copy
    /// that changed is [`SourceError::Conflict`].
    fn write(&self, target: &Target, event: &Event, answer: &Answer) -> Result<(), SourceError>;

    /// A fresh copy of one event, after a refused write or when gatekeeper
    /// wrote to it since it was read.
    fn reread(&self, _target: &Target) -> Result<Reread, SourceError> {
        Ok(Reread::NextPass)
    }

    /// Cursor changes that make the next sync hand `members`' events over
    /// again (a policy edit), keeping what the cursors know otherwise
    /// (tokens, channels, which events an item held).
    fn rescreen(&self, cursors: &Cursors, members: &[&str]) -> Vec<CursorOp>;

    /// Every event of `member`'s calendar overlapping `[from, to)` (a
    /// backend may give more), grouped by series. Not a sync: no cursor
    /// moves.
    fn events_between(
        &self,
        member: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Window, SourceError>;

    /// Whether the backend can push changes (then `watch` opens channels).
    fn can_watch(&self) -> bool {
        false
    }

    /// Open a push channel on `member`'s calendar: notifications go to
    /// `address` carrying `token`.
    fn watch(
        &self,
        _member: &str,
        _id: &str,
        _address: &str,
        _token: &str,
        _ttl: std::time::Duration,
    ) -> Result<WatchChannel, SourceError> {
        Err(SourceError::Unsupported("push channels"))
    }

    /// Stop a push channel.
    fn unwatch(&self, _member: &str, _channel: &WatchChannel) -> Result<(), SourceError> {
        Err(SourceError::Unsupported("push channels"))
    }

    /// The calendar's own time zone setting, if the backend has one.
    fn time_zone(&self, _member: &str) -> Option<Result<String, SourceError>> {
        None
    }

    /// API calls made since the last time this was asked.
    fn take_calls(&self) -> u32 {
        0
    }

    /// What the backend's calls have met since it started (`/metrics`).
    fn api_stats(&self) -> ApiStatsSnapshot {
        ApiStatsSnapshot::default()
    }
}

/// The cursor row slot a push channel is kept under.
pub const CHANNEL_ITEM: &str = "channel";

/// The configured sources, and the async runtime the ones that need one
/// run on (shared, e.g. with the webhook listener).
pub struct Sources {
    pub sources: Vec<Box<dyn CalendarSource>>,
    pub runtime: Option<Arc<tokio::runtime::Runtime>>,
}

/// Build every source of the config. `team` is every member of every
/// policy (a source that names no members holds theirs). A backend that
/// cannot start is logged and left out; the others go on.
/// The local calendar folders the config names (its vdir sources), for the
/// daemon to watch for changes.
pub fn local_folders(config: &Config) -> Vec<std::path::PathBuf> {
    config
        .sources
        .iter()
        .filter_map(|s| match s {
            SourceConfig::Vdir { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

pub fn build(config: &Config, team: &[String]) -> Sources {
    let mut runtime: Option<Arc<tokio::runtime::Runtime>> = None;
    let mut sources: Vec<Box<dyn CalendarSource>> = Vec::new();
    for s in &config.sources {
        let source: Option<Box<dyn CalendarSource>> = match s {
            SourceConfig::Vdir { .. } => Some(Box::new(vdir::VdirCalendar::from_config(
                s,
                config.limits.ical(),
            ))),
            SourceConfig::Google { .. } => {
                google::GoogleCalendar::from_config(s, team, &mut runtime)
                    .map(|g| Box::new(g) as Box<dyn CalendarSource>)
            }
            SourceConfig::Caldav { .. } => caldav::calendar::CaldavCalendar::from_config(
                s,
                team,
                config.limits.ical(),
                &mut runtime,
            )
            .map(|c| Box::new(c) as Box<dyn CalendarSource>),
        };
        sources.extend(source);
    }
    Sources { sources, runtime }
}

/// What checking a source found, in the order it was found, worded for
/// the operator (`config check` prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Something that works: a calendar reached, what it holds.
    Found(String),
    /// Something to fix that does not stop the source (a member in no
    /// policy, an empty folder, a key file not in place yet).
    Warning(String),
    /// The source, or one member's calendar, cannot be reached: the check
    /// fails.
    Unreachable(String),
}

/// Whether each member's calendar of the config's source `s` can be
/// reached, and what was found there, each finding handed to `report` as
/// it is made. Read-only: it writes no file, opens no store and changes no
/// calendar (local folders are listed, a Google source reads each member's
/// time zone setting, a CalDAV source discovers each member's calendars).
/// `team` is every member of every policy. Like [`build`], the one place
/// that knows the backends: each check lives in its backend's own file.
pub fn check(config: &Config, s: &SourceConfig, team: &[String], report: &mut dyn FnMut(Reach)) {
    match s {
        SourceConfig::Vdir { .. } => vdir::check(s, team, report),
        SourceConfig::Google { .. } => google::check::check(s, team, report),
        SourceConfig::Caldav { .. } => {
            caldav::check::check(s, team, config.limits.max_item_bytes, report)
        }
    }
}

/// The async runtime for backends that need one: created once, on first
/// use, and shared.
pub(crate) fn runtime(
    slot: &mut Option<Arc<tokio::runtime::Runtime>>,
) -> Option<Arc<tokio::runtime::Runtime>> {
    if slot.is_none() {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => *slot = Some(Arc::new(rt)),
            Err(e) => tracing::error!("cannot start the async runtime: {e}"),
        }
    }
    slot.clone()
}
