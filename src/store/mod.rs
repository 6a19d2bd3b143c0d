//! gatekeeper's state: the decision log, what was already screened, urgent
//! allowance spent, per-source sync cursors, the burden ledger and
//! protected time.
//!
//! One trait, one file per database. SQLite is the embedded default; a
//! PostgreSQL implementation joins behind the same trait: nothing in the
//! trait, its types or `StoreError` names a database library (the
//! database's own error is only ever a boxed `source`), and the contract
//! every backend keeps is tested once in `tests/store_contract.rs`.
//! `decision` holds the log's typed row and its stored form. Migrations are
//! append-only SQL files under `migrations/<database>/`.

pub mod decision;
pub mod lock;
pub mod sqlite;

pub use decision::{Findings, LoggedAction, LoggedFinding};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The database's own error behind a `StoreError`: kept as its source for
/// the message and for logs, never matched on, so no database library's
/// type is part of the `Store` API.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in the store, in terms every backend shares.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state database `{path}`: {source}")]
    Open {
        path: String,
        #[source]
        source: BackendError,
    },
    #[error(
        "the state database `{path}` was written by a newer gatekeeper (schema {found}, this build knows {known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    /// A migration failed; the transaction it ran in left the schema as it
    /// was.
    #[error("cannot bring the state database `{path}` to schema {version}: {source}")]
    Migration {
        path: String,
        version: i64,
        #[source]
        source: BackendError,
    },
    /// Another process holds the database and waiting did not help.
    #[error("the state database is locked by another process: {source}")]
    Busy {
        #[source]
        source: BackendError,
    },
    /// The database itself is damaged (or is not one).
    #[error("the state database is damaged: {source}")]
    Corrupt {
        #[source]
        source: BackendError,
    },
    /// One stored row holds a value of the wrong kind (a hand edit, a
    /// damaged page); the rest of the database may be fine.
    #[error("a row of `{table}` cannot be read: {source}")]
    CorruptRow {
        table: &'static str,
        #[source]
        source: BackendError,
    },
    /// The disk is full, read-only, or failing.
    #[error("cannot read or write the state database: {source}")]
    Io {
        #[source]
        source: BackendError,
    },
    /// Any other failure of the database (a constraint, a bad statement).
    #[error("database error: {source}")]
    Database {
        #[source]
        source: BackendError,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Identifies one screened invite for one member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScreeningKey {
    pub source: String,
    pub calendar: String,
    pub uid: String,
    /// Empty for a series or a single event.
    pub recurrence_id: String,
    pub member: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    pub key: ScreeningKey,
    /// Hash of the invite's decision-relevant content.
    pub fingerprint: String,
    pub policy_hash: String,
    /// The PARTSTAT gatekeeper wrote, if it wrote one that still stands.
    pub applied_partstat: Option<String>,
    pub applied_comment: Option<String>,
    pub decision_id: Option<i64>,
    /// False while an action is in flight: a crash leaves it false, and the
    /// next run finishes the job instead of starting another.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Logged before acting; a row left pending means the process stopped
    /// mid-action.
    Pending,
    /// The response was written.
    Applied,
    /// Nothing needed writing (an allow, or the calendar already says it).
    NoChange,
    /// Observe mode: the decision was only logged.
    Observed,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Applied => "applied",
            Outcome::NoChange => "no_change",
            Outcome::Observed => "observed",
            Outcome::Failed => "failed",
        }
    }

    /// An outcome this build does not know reads as `Failed`: the report
    /// leaves such a row out, and the daemon never takes it for a standing
    /// answer.
    pub fn parse(s: &str) -> Outcome {
        match s {
            "pending" => Outcome::Pending,
            "applied" => Outcome::Applied,
            "no_change" => Outcome::NoChange,
            "observed" => Outcome::Observed,
            _ => Outcome::Failed,
        }
    }
}

/// One row of the decision log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    pub id: i64,
    pub decided_at: DateTime<Utc>,
    pub source: String,
    pub calendar: String,
    pub member: String,
    pub uid: String,
    pub recurrence_id: String,
    /// "(private event)" for private events.
    pub title: String,
    pub organizer: String,
    /// allow, annotate or decline.
    pub action: LoggedAction,
    /// The PARTSTAT written (DECLINED, TENTATIVE, or NEEDS-ACTION when an
    /// earlier response was withdrawn); none when nothing was written.
    #[serde(serialize_with = "decision::serialize_response")]
    pub response: Option<crate::calendar::PartStat>,
    /// Every rule that fired, observe-only ones included.
    pub findings: Findings,
    pub exemption: Option<String>,
    pub comment: Option<String>,
    pub policy_hash: String,
    pub outcome: Outcome,
    pub error: Option<String>,
}

/// The calendar item a ledger row comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BurdenItem {
    pub source: String,
    pub calendar: String,
    pub uid: String,
    /// Empty for a series or a single event, as in `ScreeningKey`.
    pub recurrence_id: String,
}

/// One row of the burden ledger: one occurrence of one meeting for one
/// member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurdenEntry {
    pub source: String,
    pub calendar: String,
    pub uid: String,
    /// Empty for a series or a single event, as in `ScreeningKey`.
    pub recurrence_id: String,
    pub member: String,
    pub occurrence_start: DateTime<Utc>,
    pub occurrence_end: DateTime<Utc>,
    /// Weighted minutes (see `fairness::curve`).
    pub inconvenience: u32,
    pub outside_minutes: u32,
    /// `accepted` or `tentative`.
    pub status: String,
}

pub trait Store {
    fn screening(&self, key: &ScreeningKey) -> Result<Option<Screening>>;
    /// Write a screening without a log entry (e.g. an invite the member
    /// answered themselves, or one that is over).
    fn put_screening(&mut self, s: &Screening) -> Result<()>;
    /// Append a decision to the log and mark the screening in flight, in one
    /// transaction. Returns the log row id.
    fn begin_decision(&mut self, record: &DecisionRecord, screening: &Screening) -> Result<i64>;
    /// Record how the action ended, in one transaction with the screening.
    fn finish_decision(
        &mut self,
        id: i64,
        outcome: Outcome,
        error: Option<&str>,
        screening: &Screening,
    ) -> Result<()>;
    fn decisions(&self, since: Option<DateTime<Utc>>) -> Result<Vec<DecisionRecord>>;
    /// One decision-log row.
    fn decision(&self, id: i64) -> Result<Option<DecisionRecord>>;

    /// Replace the protected blocks (focus time, out of office) one event
    /// of a member's calendar gives; none removes them.
    fn replace_protected(
        &mut self,
        source: &str,
        calendar: &str,
        event_id: &str,
        blocks: &[crate::policy::evaluate::ProtectedBlock],
    ) -> Result<()>;
    /// The member's protected blocks that overlap `[from, to)`.
    fn protected_blocks(
        &self,
        source: &str,
        calendar: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::policy::evaluate::ProtectedBlock>>;

    /// The organizer's urgent uses this month that came before this
    /// invite's own (all of them when it has none yet), so an invite keeps
    /// its number ("use 1 of 2") however often it is screened again.
    fn urgent_uses(
        &self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
    ) -> Result<u32>;
    fn record_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// All cursors of one source, as (calendar, item) -> cursor.
    fn cursors(&self, source: &str) -> Result<std::collections::HashMap<(String, String), String>>;
    fn set_cursor(&mut self, source: &str, calendar: &str, item: &str, cursor: &str) -> Result<()>;
    fn remove_cursor(&mut self, source: &str, calendar: &str, item: &str) -> Result<()>;
    /// Forget every cursor, so the next sync reads everything again. The
    /// daemon no longer does this on a policy edit (it re-screens the
    /// edited team from what it knows); kept for tools and tests.
    fn clear_cursors(&mut self) -> Result<()>;
    /// A small key-value table for bookkeeping such as the policy hashes
    /// last used.
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;

    /// Insert or replace one ledger row (keyed by source, calendar, uid,
    /// recurrence id, occurrence start and member).
    fn upsert_burden(&mut self, entry: &BurdenEntry) -> Result<()>;
    /// Remove one ledger row, if present.
    fn remove_burden(
        &mut self,
        item: &BurdenItem,
        occurrence_start: DateTime<Utc>,
        member: &str,
    ) -> Result<()>;
    /// In one transaction: remove the member's rows for this item whose occurrence
    /// starts at or after `from`, then insert `entries`. Earlier rows stay:
    /// they are what the member already lived through. With no entries this
    /// is how a decline or a cancellation takes the meeting off the ledger.
    fn replace_burden(
        &mut self,
        item: &BurdenItem,
        member: &str,
        from: DateTime<Utc>,
        entries: &[BurdenEntry],
    ) -> Result<()>;
    /// Group the writes that follow, until [`Store::end_batch`], into few
    /// transactions: a first pass over 100,000 unchanged calendar files
    /// then costs a commit per few thousand cursors and screenings, not
    /// one each. Committing at any point leaves the state that writing
    /// them one by one would have left up to there, so the daemon's order
    /// holds: [`Store::begin_decision`] makes itself and everything before
    /// it durable before it returns (the action follows it), and a cursor
    /// is never durable without the writes that preceded it. Reads see the
    /// batch's own writes. A store may ignore batches (the default).
    fn begin_batch(&mut self) -> Result<()> {
        Ok(())
    }
    /// Commit what the batch holds; later writes are their own
    /// transactions again.
    fn end_batch(&mut self) -> Result<()> {
        Ok(())
    }

    /// Each member's total over the occurrences that start in `[from, to)`.
    fn burden_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, crate::fairness::Burden>>;
}
