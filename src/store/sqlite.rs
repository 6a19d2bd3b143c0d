//! The SQLite store: the embedded default. WAL mode, a busy handler that
//! waits out a transient lock (with a log message, never an error), write
//! transactions that take the write lock up front (`BEGIN IMMEDIATE`, so
//! two processes never deadlock upgrading a read), and append-only
//! migrations applied in order at open, safely when two processes open a
//! fresh database at once. One writer per state is `store::lock`'s job.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    BackendError, BurdenEntry, BurdenItem, DecisionRecord, Findings, LoggedAction, Outcome, Result,
    Screening, ScreeningKey, Store, StoreError,
};
use crate::calendar::PartStat;

/// Append-only: never edit a released migration, add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_initial.sql"),
    include_str!("migrations/sqlite/0002_meta.sql"),
    include_str!("migrations/sqlite/0003_burden.sql"),
    include_str!("migrations/sqlite/0004_protected_time.sql"),
];

pub struct SqliteStore {
    conn: Connection,
    /// Writes since the open batch transaction began; `None` outside a
    /// batch (every write is then its own transaction).
    batch: Option<usize>,
}

/// A batch is committed after this many writes, so its transaction (and
/// the WAL it fills before a checkpoint) stays small.
const BATCH_WRITES: usize = 2_000;

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            source: e.into(),
        })?;
        // The log holds organizers' addresses and comments: keep it private
        // to the service user.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Self::init(conn, &path.display().to_string())
    }

    pub fn in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(mut conn: Connection, path: &str) -> Result<SqliteStore> {
        conn.busy_handler(Some(wait_when_busy))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode NORMAL survives a crash of the process (commits are in
        // the log); only an OS crash can lose the last commits, and even then
        // gatekeeper's marker on the calendar keeps it from answering twice.
        // FULL would fsync twice per decision, which dominated a first sync.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = SqliteStore { conn, batch: None };
        // The version is read inside the write transaction: a second
        // process opening a fresh database at the same moment waits, then
        // sees the migrations done and applies nothing twice.
        let tx = store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_string(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let migration = |source: rusqlite::Error| StoreError::Migration {
                path: path.to_string(),
                version: (i + 1) as i64,
                source: source.into(),
            };
            tx.execute_batch(sql).map_err(migration)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(migration)?;
        }
        tx.commit()?;
        Ok(store)
    }
}

/// SQLite's failures in the store's own terms, by SQLite's error code; the
/// rusqlite error stays the source. This impl is why nothing outside this
/// file needs to name rusqlite.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        let kind = e.sqlite_error_code();
        let row_value = matches!(
            e,
            rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        );
        let source: BackendError = e.into();
        if row_value {
            return StoreError::CorruptRow {
                table: "(unknown)",
                source,
            };
        }
        match kind {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Busy { source }
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt { source }
            }
            Some(
                ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied,
            ) => StoreError::Io { source },
            _ => StoreError::Database { source },
        }
    }
}

/// A row of `table` that cannot be read is that table's corrupt row, not a
/// vague database error.
fn in_table(table: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::CorruptRow { source, .. } => StoreError::CorruptRow { table, source },
        other => other,
    }
}

/// SQLite's busy handler: another process holds the database for a
/// moment (a checkpoint, `gatekeeper log`, a migration). Wait with a
/// growing pause (at most 200 ms), say so once it lasts, and never give
/// up: a lock that outlasts a fixed timeout must not end the daemon.
fn wait_when_busy(attempt: i32) -> bool {
    let pause = 1u64 << attempt.clamp(0, 8);
    if attempt == 10 || (attempt > 10 && attempt % 300 == 0) {
        tracing::warn!("the state database is locked by another process; waiting");
    }
    std::thread::sleep(std::time::Duration::from_millis(pause.min(200)));
    true
}

/// A write transaction that takes the write lock when it begins, so the
/// busy handler can wait for it (a deferred one that upgrades late fails at
/// once instead).
/// Inside a batch (a transaction is open) it is a savepoint of the batch.
fn write_tx(conn: &mut Connection) -> rusqlite::Result<WriteTx<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map(WriteTx::Own)
    } else {
        conn.savepoint().map(WriteTx::InBatch)
    }
}

/// A write transaction of its own, or a part of the open batch.
enum WriteTx<'a> {
    Own(rusqlite::Transaction<'a>),
    InBatch(rusqlite::Savepoint<'a>),
}

impl WriteTx<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.commit(),
            WriteTx::InBatch(sp) => sp.commit(),
        }
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Own(tx) => tx,
            WriteTx::InBatch(sp) => sp,
        }
    }
}

impl SqliteStore {
    /// Count a write of the open batch; commit the batch when it is full.
    fn wrote(&mut self) -> Result<()> {
        if let Some(n) = &mut self.batch {
            *n += 1;
            if *n >= BATCH_WRITES {
                self.commit_batch()?;
            }
        }
        Ok(())
    }

    /// Make everything written so far durable and, inside a batch, go on
    /// in a new transaction.
    fn commit_batch(&mut self) -> Result<()> {
        if self.batch.is_some() {
            self.conn.execute_batch("COMMIT")?;
            self.batch = None;
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.batch = Some(0);
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    /// A batch left open (an error ended the pass) is committed: every
    /// write in it was one a store without batching would have committed
    /// on its own.
    fn drop(&mut self) {
        if self.batch.is_some() {
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn put_screening_on(conn: &Connection, s: &Screening) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO screenings (source, calendar, uid, recurrence_id, member, fingerprint, policy_hash,
                                 applied_partstat, applied_comment, decision_id, complete, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (source, calendar, uid, recurrence_id, member) DO UPDATE SET
             fingerprint = excluded.fingerprint, policy_hash = excluded.policy_hash,
             applied_partstat = excluded.applied_partstat, applied_comment = excluded.applied_comment,
             decision_id = excluded.decision_id, complete = excluded.complete, updated_at = excluded.updated_at",
        params![
            s.key.source,
            s.key.calendar,
            s.key.uid,
            s.key.recurrence_id,
            s.key.member,
            s.fingerprint,
            s.policy_hash,
            s.applied_partstat,
            s.applied_comment,
            s.decision_id,
            s.complete,
            ts(Utc::now()),
        ],
    )?;
    Ok(())
}

const DECISION_COLUMNS: &str =
    "SELECT id, decided_at, source, calendar, member, uid, recurrence_id, title, organizer, action,
            response, findings, exemption, comment, policy_hash, outcome, error FROM decisions";

/// One decision-log row. It never fails on a column's value: the log is
/// read by the daemon (a standing decision), `gatekeeper log` and the
/// report, and one damaged row must not stop any of them. A value of the
/// wrong kind or bytes that are not UTF-8 read as the closest text, and
/// the typed columns fall back to their "unknown" values.
fn decision_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionRecord> {
    let text =
        |i: usize| -> rusqlite::Result<String> { Ok(lenient_text(r, i)?.unwrap_or_default()) };
    let decided_at = text(1)?;
    let findings = text(11)?;
    Ok(DecisionRecord {
        id: r.get(0)?,
        decided_at: DateTime::parse_from_rfc3339(&decided_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        source: text(2)?,
        calendar: text(3)?,
        member: text(4)?,
        uid: text(5)?,
        recurrence_id: text(6)?,
        title: text(7)?,
        organizer: text(8)?,
        action: LoggedAction::parse(&text(9)?),
        response: lenient_text(r, 10)?.as_deref().map(PartStat::parse),
        findings: Findings::from_stored(&findings),
        exemption: lenient_text(r, 12)?,
        comment: lenient_text(r, 13)?,
        policy_hash: text(14)?,
        outcome: Outcome::parse(&text(15)?),
        error: lenient_text(r, 16)?,
    })
}

/// A column as text whatever SQLite holds in it (SQLite does not enforce
/// column types): text with bad bytes replaced, numbers written out, a
/// blob read as text; none for NULL.
fn lenient_text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    })
}

fn upsert_burden_on(conn: &Connection, e: &BurdenEntry) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO burden (source, calendar, uid, recurrence_id, occurrence_start, member,
                             occurrence_end, inconvenience, outside_minutes, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (source, calendar, uid, recurrence_id, occurrence_start, member) DO UPDATE SET
             occurrence_end = excluded.occurrence_end, inconvenience = excluded.inconvenience,
             outside_minutes = excluded.outside_minutes, status = excluded.status",
        params![
            e.source,
            e.calendar,
            e.uid,
            e.recurrence_id,
            ts(e.occurrence_start),
            e.member,
            ts(e.occurrence_end),
            e.inconvenience,
            e.outside_minutes,
            e.status,
        ],
    )?;
    Ok(())
}

impl Store for SqliteStore {
    fn replace_protected(
        &mut self,
        source: &str,
        calendar: &str,
        event_id: &str,
        blocks: &[crate::policy::evaluate::ProtectedBlock],
    ) -> Result<()> {
        let tx = write_tx(&mut self.conn)?;
        tx.execute(
            "DELETE FROM protected_time WHERE source = ?1 AND calendar = ?2 AND event_id = ?3",
            params![source, calendar, event_id],
        )?;
        for b in blocks {
            tx.execute(
                "INSERT OR REPLACE INTO protected_time (source, calendar, event_id, starts_at, ends_at, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![source, calendar, event_id, ts(b.span.start), ts(b.span.end), b.kind.as_str()],
            )?;
        }
        tx.commit()?;
        self.wrote()
    }

    fn protected_blocks(
        &self,
        source: &str,
        calendar: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::policy::evaluate::ProtectedBlock>> {
        use crate::policy::evaluate::{ProtectedBlock, ProtectedKind, Span};
        let mut stmt = self.conn.prepare(
            "SELECT starts_at, ends_at, kind FROM protected_time
             WHERE source = ?1 AND calendar = ?2 AND ends_at > ?3 AND starts_at < ?4 ORDER BY starts_at",
        )?;
        let rows = stmt.query_map(params![source, calendar, ts(from), ts(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let parse = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let mut out = Vec::new();
        for row in rows {
            let (start, end, kind) = row?;
            if let (Some(start), Some(end), Some(kind)) =
                (parse(&start), parse(&end), ProtectedKind::parse(&kind))
            {
                out.push(ProtectedBlock {
                    span: Span { start, end },
                    kind,
                });
            }
        }
        Ok(out)
    }

    fn screening(&self, key: &ScreeningKey) -> Result<Option<Screening>> {
        self.conn
            .query_row(
                "SELECT fingerprint, policy_hash, applied_partstat, applied_comment, decision_id, complete
                 FROM screenings WHERE source = ?1 AND calendar = ?2 AND uid = ?3 AND recurrence_id = ?4 AND member = ?5",
                params![key.source, key.calendar, key.uid, key.recurrence_id, key.member],
                |r| {
                    Ok(Screening {
                        key: key.clone(),
                        fingerprint: r.get(0)?,
                        policy_hash: r.get(1)?,
                        applied_partstat: r.get(2)?,
                        applied_comment: r.get(3)?,
                        decision_id: r.get(4)?,
                        complete: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(in_table("screenings"))
    }

    fn put_screening(&mut self, s: &Screening) -> Result<()> {
        put_screening_on(&self.conn, s)?;
        self.wrote()
    }

    fn begin_decision(&mut self, d: &DecisionRecord, screening: &Screening) -> Result<i64> {
        let tx = write_tx(&mut self.conn)?;
        tx.execute(
            "INSERT INTO decisions (decided_at, source, calendar, member, uid, recurrence_id, title, organizer,
                                    action, response, findings, exemption, comment, policy_hash, outcome, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                ts(d.decided_at),
                d.source,
                d.calendar,
                d.member,
                d.uid,
                d.recurrence_id,
                d.title,
                d.organizer,
                d.action.as_str(),
                d.response.as_ref().map(PartStat::as_ical),
                d.findings.to_stored(),
                d.exemption,
                d.comment,
                d.policy_hash,
                d.outcome.as_str(),
                d.error,
            ],
        )?;
        let id = tx.last_insert_rowid();
        let mut s = screening.clone();
        s.decision_id = Some(id);
        put_screening_on(&tx, &s)?;
        tx.commit()?;
        // The action follows: the pending row, and everything a batch
        // wrote before it, must be durable first.
        self.commit_batch()?;
        Ok(id)
    }

    fn finish_decision(
        &mut self,
        id: i64,
        outcome: Outcome,
        error: Option<&str>,
        screening: &Screening,
    ) -> Result<()> {
        let tx = write_tx(&mut self.conn)?;
        tx.execute(
            "UPDATE decisions SET outcome = ?2, error = ?3 WHERE id = ?1",
            params![id, outcome.as_str(), error],
        )?;
        let mut s = screening.clone();
        s.decision_id = Some(id);
        put_screening_on(&tx, &s)?;
        tx.commit()?;
        // A finished decision is printed and shown by `gatekeeper log` at
        // once: durable when it returns, as outside a batch.
        self.commit_batch()
    }

    fn decision(&self, id: i64) -> Result<Option<DecisionRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!("{DECISION_COLUMNS} WHERE id = ?1"))?;
        stmt.query_row(params![id], decision_row)
            .optional()
            .map_err(in_table("decisions"))
    }

    fn decisions(&self, since: Option<DateTime<Utc>>) -> Result<Vec<DecisionRecord>> {
        let since = since.map(ts).unwrap_or_default();
        let mut stmt = self.conn.prepare(&format!(
            "{DECISION_COLUMNS} WHERE decided_at >= ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![since], decision_row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(in_table("decisions"))
    }

    fn urgent_uses(
        &self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
    ) -> Result<u32> {
        // Uses are numbered in the order they were recorded (rowid).
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM urgent_uses WHERE organizer = ?1 AND month = ?2 \
             AND rowid < COALESCE((SELECT rowid FROM urgent_uses WHERE organizer = ?1 \
             AND month = ?2 AND uid = ?3 AND recurrence_id = ?4), 9223372036854775807)",
            params![organizer, month, uid, recurrence_id],
            |r| r.get(0),
        )?)
    }

    fn record_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO urgent_uses (organizer, month, uid, recurrence_id, used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![organizer, month, uid, recurrence_id, ts(at)],
        )?;
        self.wrote()
    }

    fn cursors(&self, source: &str) -> Result<HashMap<(String, String), String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT calendar, item, cursor FROM sync_cursors WHERE source = ?1")?;
        let rows = stmt.query_map(params![source], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    fn set_cursor(&mut self, source: &str, calendar: &str, item: &str, cursor: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sync_cursors (source, calendar, item, cursor) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source, calendar, item) DO UPDATE SET cursor = excluded.cursor",
            params![source, calendar, item, cursor],
        )?;
        self.wrote()
    }

    fn remove_cursor(&mut self, source: &str, calendar: &str, item: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sync_cursors WHERE source = ?1 AND calendar = ?2 AND item = ?3",
            params![source, calendar, item],
        )?;
        self.wrote()
    }

    fn clear_cursors(&mut self) -> Result<()> {
        self.conn.execute("DELETE FROM sync_cursors", [])?;
        self.wrote()
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        self.wrote()
    }

    fn upsert_burden(&mut self, entry: &BurdenEntry) -> Result<()> {
        upsert_burden_on(&self.conn, entry)?;
        self.wrote()
    }

    fn begin_batch(&mut self) -> Result<()> {
        if self.batch.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.batch = Some(0);
        }
        Ok(())
    }

    fn end_batch(&mut self) -> Result<()> {
        if self.batch.take().is_some() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    fn remove_burden(
        &mut self,
        item: &BurdenItem,
        occurrence_start: DateTime<Utc>,
        member: &str,
    ) -> Result<()> {
        self.conn.execute(
            "DELETE FROM burden WHERE source = ?1 AND calendar = ?2 AND uid = ?3 AND recurrence_id = ?4
                                  AND occurrence_start = ?5 AND member = ?6",
            params![
                item.source,
                item.calendar,
                item.uid,
                item.recurrence_id,
                ts(occurrence_start),
                member
            ],
        )?;
        self.wrote()
    }

    fn replace_burden(
        &mut self,
        item: &BurdenItem,
        member: &str,
        from: DateTime<Utc>,
        entries: &[BurdenEntry],
    ) -> Result<()> {
        let tx = write_tx(&mut self.conn)?;
        tx.execute(
            "DELETE FROM burden WHERE source = ?1 AND calendar = ?2 AND uid = ?3 AND recurrence_id = ?4
                                  AND member = ?5 AND occurrence_start >= ?6",
            params![
                item.source,
                item.calendar,
                item.uid,
                item.recurrence_id,
                member,
                ts(from)
            ],
        )?;
        for e in entries {
            upsert_burden_on(&tx, e)?;
        }
        tx.commit()?;
        self.wrote()
    }

    fn burden_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, crate::fairness::Burden>> {
        // Timestamps are stored in one fixed RFC 3339 form (UTC, millis), so
        // text order is time order.
        let mut stmt = self.conn.prepare(
            "SELECT member, SUM(inconvenience), SUM(outside_minutes) FROM burden
             WHERE occurrence_start >= ?1 AND occurrence_start < ?2
               AND status IN ('accepted', 'tentative')
             GROUP BY member",
        )?;
        let rows = stmt.query_map(params![ts(from), ts(to)], |r| {
            let i: i64 = r.get(1)?;
            let o: i64 = r.get(2)?;
            Ok((
                r.get::<_, String>(0)?,
                crate::fairness::Burden {
                    inconvenience: u32::try_from(i).unwrap_or(u32::MAX),
                    outside_minutes: u32::try_from(o).unwrap_or(u32::MAX),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }
}

/// What every backend must do is checked once, for all of them, in
/// `tests/store_contract.rs`; these are SQLite's own concerns.
#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ScreeningKey {
        ScreeningKey {
            source: "s".into(),
            calendar: "c".into(),
            uid: "u".into(),
            recurrence_id: String::new(),
            member: "ana@example.com".into(),
        }
    }

    fn screening() -> Screening {
        Screening {
            key: key(),
            fingerprint: "f1".into(),
            policy_hash: "p1".into(),
            applied_partstat: None,
            applied_comment: None,
            decision_id: None,
            complete: false,
        }
    }

    fn record() -> DecisionRecord {
        DecisionRecord {
            id: 0,
            decided_at: DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            source: "s".into(),
            calendar: "c".into(),
            member: "ana@example.com".into(),
            uid: "u".into(),
            recurrence_id: String::new(),
            title: "Sync".into(),
            organizer: "bo@example.com".into(),
            action: LoggedAction::Decline,
            response: Some(PartStat::Declined),
            findings: Findings::from_stored(
                r#"[{"rule":"agenda","action":"decline","message":"it has no agenda"}]"#,
            ),
            exemption: None,
            comment: Some("no agenda".into()),
            policy_hash: "p1".into(),
            outcome: Outcome::Pending,
            error: None,
        }
    }

    #[test]
    fn decision_lifecycle_is_transactional_and_readable() {
        let mut s = SqliteStore::in_memory().unwrap();
        assert_eq!(s.screening(&key()).unwrap(), None);
        let id = s.begin_decision(&record(), &screening()).unwrap();
        let pending = s.screening(&key()).unwrap().unwrap();
        assert!(!pending.complete);
        assert_eq!(pending.decision_id, Some(id));

        let mut done = screening();
        done.complete = true;
        done.applied_partstat = Some("DECLINED".into());
        s.finish_decision(id, Outcome::Applied, None, &done)
            .unwrap();
        let stored = s.screening(&key()).unwrap().unwrap();
        assert!(stored.complete);
        assert_eq!(stored.applied_partstat.as_deref(), Some("DECLINED"));

        let log = s.decisions(None).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].outcome, Outcome::Applied);
        assert_eq!(log[0].findings, record().findings);
        assert_eq!(log[0].findings.acting_rules(), vec!["agenda".to_string()]);
        let later = DateTime::parse_from_rfc3339("2026-11-21T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(s.decisions(Some(later)).unwrap().is_empty());
    }

    #[test]
    fn failures_are_told_in_the_stores_own_terms() {
        let dir = tempfile::tempdir().unwrap();
        // Not a database at all.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
        let e = SqliteStore::open(&junk).err().expect("refused");
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("the state database is damaged"),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some(), "the cause is kept");

        // A screening whose column holds the wrong kind of value names its
        // table.
        let path = dir.path().join("gk.db");
        let mut s = SqliteStore::open(&path).unwrap();
        s.begin_decision(&record(), &screening()).unwrap();
        s.conn
            .execute("UPDATE screenings SET decision_id = 'seven'", [])
            .unwrap();
        let e = s.screening(&key()).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::CorruptRow {
                    table: "screenings",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("a row of `screenings` cannot be read"),
            "{e}"
        );

        // A schema from a newer build is refused, not downgraded.
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let e = SqliteStore::open(&path).err().expect("refused");
        assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
    }

    #[test]
    fn a_damaged_decision_row_still_reads_and_the_others_with_it() {
        let mut s = SqliteStore::in_memory().unwrap();
        let bad = s.begin_decision(&record(), &screening()).unwrap();
        let good = s.begin_decision(&record(), &screening()).unwrap();
        // SQLite takes any kind of value in any column.
        s.conn
            .execute(
                "UPDATE decisions SET title = X'53FF6E63', response = 7, comment = 1.5,
                                      decided_at = 'yesterday', outcome = 'gone'
                 WHERE id = ?1",
                [bad],
            )
            .unwrap();
        let log = s.decisions(None).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].title, "S\u{fffd}nc");
        assert_eq!(log[0].response, Some(PartStat::Other("7".into())));
        assert_eq!(log[0].comment.as_deref(), Some("1.5"));
        assert_eq!(log[0].decided_at, DateTime::<Utc>::default());
        assert_eq!(log[0].outcome, Outcome::Failed);
        assert_eq!(s.decision(bad).unwrap().as_ref(), Some(&log[0]));
        assert_eq!(log[1], s.decision(good).unwrap().unwrap());
        assert_eq!(log[1].title, "Sync");
    }

    #[test]
    fn a_migration_that_fails_says_which_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gk.db");
        {
            let conn = Connection::open(&path).unwrap();
            // Schema 3 claimed, but a table migration 4 creates is there
            // already (a hand-made or half-restored database).
            conn.execute_batch("CREATE TABLE protected_time (x TEXT); PRAGMA user_version = 3;")
                .unwrap();
        }
        let e = SqliteStore::open(&path).err().expect("refused");
        assert!(
            matches!(e, StoreError::Migration { version: 4, .. }),
            "{e:?}"
        );
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 3, "the failed migration's transaction was rolled back");
    }

    #[test]
    fn reopening_a_file_keeps_state_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/gk.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.set_meta("k", "v").unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.meta("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn a_batch_is_one_transaction_that_a_decision_makes_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gk.db");
        let mut s = SqliteStore::open(&path).unwrap();
        // What another process sees: only what is committed.
        let other = SqliteStore::open(&path).unwrap();
        s.begin_batch().unwrap();
        s.put_screening(&screening()).unwrap();
        s.set_cursor("s", "c", "a.ics", "etag-a").unwrap();
        assert_eq!(
            s.screening(&key()).unwrap(),
            Some(screening()),
            "the batch reads its own writes"
        );
        assert!(
            other.cursors("s").unwrap().is_empty(),
            "nothing is committed yet"
        );
        // The action follows a logged decision: the log row and what came
        // before it are durable first.
        let id = s.begin_decision(&record(), &screening()).unwrap();
        assert!(other.decision(id).unwrap().is_some());
        assert_eq!(other.cursors("s").unwrap().len(), 1);
        s.finish_decision(id, Outcome::Applied, None, &screening())
            .unwrap();
        s.set_cursor("s", "c", "b.ics", "etag-b").unwrap();
        assert_eq!(other.cursors("s").unwrap().len(), 1);
        s.end_batch().unwrap();
        assert_eq!(other.cursors("s").unwrap().len(), 2);
        // Outside a batch every write is its own transaction again.
        s.set_cursor("s", "c", "c.ics", "etag-c").unwrap();
        assert_eq!(other.cursors("s").unwrap().len(), 3);
    }

    #[test]
    fn a_batch_left_open_is_committed_when_the_store_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gk.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.begin_batch().unwrap();
            for i in 0..(BATCH_WRITES + 10) {
                s.set_cursor("s", "c", &format!("{i}.ics"), "e").unwrap();
            }
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.cursors("s").unwrap().len(), BATCH_WRITES + 10);
    }
}
