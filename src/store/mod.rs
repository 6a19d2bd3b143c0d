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
//! append-only SQL files under `migrations/<database>/`. `postgres` is the
//! shared database several instances use, `lease` how they split the
//! members.

pub mod decision;
pub mod lease;
pub mod lock;
pub mod postgres;
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

/// What claiming an urgent use gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrgentClaim {
    /// The invite holds use `number` (1-based) of the month; claiming the
    /// same invite again gives the same number.
    Granted { number: u32 },
    /// The organizer had already used `used` this month: nothing recorded.
    Exhausted { used: u32 },
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

    /// Count and record in one step: the invite takes the organizer's next
    /// urgent use of the month if fewer than `allowance` were used before
    /// it. A backend several instances share makes this atomic (two
    /// instances never both take the last use); the default, two calls, is
    /// right where one process is the only writer (SQLite, `store::lock`).
    fn claim_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
        allowance: u32,
    ) -> Result<UrgentClaim> {
        let used = self.urgent_uses(organizer, month, uid, recurrence_id)?;
        if used >= allowance {
            return Ok(UrgentClaim::Exhausted { used });
        }
        self.record_urgent_use(organizer, month, uid, recurrence_id, at)?;
        Ok(UrgentClaim::Granted { number: used + 1 })
    }

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
    /// Set `key` to `value` only if it is unset or holds a smaller value
    /// (text order: ISO weeks such as `2026-W48` sort by time), and say
    /// whether this call set it. With several instances exactly one of
    /// those claiming the same value at once gets true: the weekly report
    /// is produced and posted by that one. The default is right for one
    /// writer.
    fn claim_meta(&mut self, key: &str, value: &str) -> Result<bool> {
        match self.meta(key)? {
            Some(v) if v.as_str() >= value => Ok(false),
            _ => {
                self.set_meta(key, value)?;
                Ok(true)
            }
        }
    }

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

/// The state database `[store]` names, opened and migrated: SQLite's file
/// or PostgreSQL. Whoever opens SQLite for `run` also takes
/// `store::lock` first; PostgreSQL needs no lock file (instances split the
/// members with `lease`).
pub fn open(config: &crate::config::StoreConfig) -> Result<Box<dyn Store + Send>> {
    match (&config.sqlite, &config.url) {
        (Some(path), _) => Ok(Box::new(sqlite::SqliteStore::open(path)?)),
        (None, Some(_)) => {
            let target = postgres::Target::from_config(config)?;
            Ok(Box::new(postgres::PostgresStore::open(&target)?))
        }
        (None, None) => Err(StoreError::Open {
            path: "[store]".into(),
            source: "`[store]` names no database (`sqlite` or `url`)".into(),
        }),
    }
}

/// A boxed store is a store, so the engine (generic over `Store`) runs on
/// whichever backend the config names.
impl<T: Store + ?Sized> Store for Box<T> {
    fn screening(&self, key: &ScreeningKey) -> Result<Option<Screening>> {
        (**self).screening(key)
    }
    fn put_screening(&mut self, s: &Screening) -> Result<()> {
        (**self).put_screening(s)
    }
    fn begin_decision(&mut self, record: &DecisionRecord, screening: &Screening) -> Result<i64> {
        (**self).begin_decision(record, screening)
    }
    fn finish_decision(
        &mut self,
        id: i64,
        outcome: Outcome,
        error: Option<&str>,
        screening: &Screening,
    ) -> Result<()> {
        (**self).finish_decision(id, outcome, error, screening)
    }
    fn decisions(&self, since: Option<DateTime<Utc>>) -> Result<Vec<DecisionRecord>> {
        (**self).decisions(since)
    }
    fn decision(&self, id: i64) -> Result<Option<DecisionRecord>> {
        (**self).decision(id)
    }
    fn replace_protected(
        &mut self,
        source: &str,
        calendar: &str,
        event_id: &str,
        blocks: &[crate::policy::evaluate::ProtectedBlock],
    ) -> Result<()> {
        (**self).replace_protected(source, calendar, event_id, blocks)
    }
    fn protected_blocks(
        &self,
        source: &str,
        calendar: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::policy::evaluate::ProtectedBlock>> {
        (**self).protected_blocks(source, calendar, from, to)
    }
    fn urgent_uses(
        &self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
    ) -> Result<u32> {
        (**self).urgent_uses(organizer, month, uid, recurrence_id)
    }
    fn record_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        (**self).record_urgent_use(organizer, month, uid, recurrence_id, at)
    }
    fn claim_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
        allowance: u32,
    ) -> Result<UrgentClaim> {
        (**self).claim_urgent_use(organizer, month, uid, recurrence_id, at, allowance)
    }
    fn cursors(&self, source: &str) -> Result<std::collections::HashMap<(String, String), String>> {
        (**self).cursors(source)
    }
    fn set_cursor(&mut self, source: &str, calendar: &str, item: &str, cursor: &str) -> Result<()> {
        (**self).set_cursor(source, calendar, item, cursor)
    }
    fn remove_cursor(&mut self, source: &str, calendar: &str, item: &str) -> Result<()> {
        (**self).remove_cursor(source, calendar, item)
    }
    fn clear_cursors(&mut self) -> Result<()> {
        (**self).clear_cursors()
    }
    fn meta(&self, key: &str) -> Result<Option<String>> {
        (**self).meta(key)
    }
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        (**self).set_meta(key, value)
    }
    fn claim_meta(&mut self, key: &str, value: &str) -> Result<bool> {
        (**self).claim_meta(key, value)
    }
    fn upsert_burden(&mut self, entry: &BurdenEntry) -> Result<()> {
        (**self).upsert_burden(entry)
    }
    fn remove_burden(
        &mut self,
        item: &BurdenItem,
        occurrence_start: DateTime<Utc>,
        member: &str,
    ) -> Result<()> {
        (**self).remove_burden(item, occurrence_start, member)
    }
    fn replace_burden(
        &mut self,
        item: &BurdenItem,
        member: &str,
        from: DateTime<Utc>,
        entries: &[BurdenEntry],
    ) -> Result<()> {
        (**self).replace_burden(item, member, from, entries)
    }
    fn burden_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, crate::fairness::Burden>> {
        (**self).burden_totals(from, to)
    }
}
