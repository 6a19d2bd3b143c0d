//! The PostgreSQL store: one database that several instances share.
//! Append-only migrations under `migrations/postgres/`, applied by whichever
//! instance opens the database first, under a transaction-scoped advisory
//! lock so instances that start at the same moment apply each migration
//! once. What must be counted once across instances is decided inside the
//! database: urgent uses are numbered under a per-organizer-and-month
//! advisory lock, and a once-only mark (`claim_meta`) is a single
//! conditional upsert.
//!
//! The client is `postgres` (the blocking face of `tokio-postgres`) with
//! rustls on ring: ARCHITECTURE.md's store paragraph says why. Must not:
//! log or `Debug`-print the password.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use postgres::{Client, GenericClient};

use super::{
    BackendError, BurdenEntry, BurdenItem, DecisionRecord, Findings, LoggedAction, Outcome, Result,
    Screening, ScreeningKey, Store, StoreError,
};
use crate::calendar::PartStat;

/// Append-only: never edit a released migration, add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_initial.sql"),
    include_str!("migrations/postgres/0002_leases.sql"),
];

/// The advisory lock key (in the schema's own namespace, see `migrate`)
/// that serializes migrations.
const MIGRATION_LOCK: &str = "gatekeeper.migrations";

/// Where the database is and how to sign in. The password never appears
/// in `Debug` (tokio-postgres redacts it) nor in an error message.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    /// What messages call the database: the URL without its password.
    display: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("database", &self.display)
            .finish()
    }
}

impl Target {
    /// A target from a `postgres://` URL and an optional password kept
    /// elsewhere (it replaces one in the URL).
    pub fn new(url: &str, password: Option<&str>) -> Result<Target> {
        let display = redact(url);
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Open {
            path: display.clone(),
            source: Box::new(e),
        })?;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        // A database host that goes silent (a partition) must fail the
        // calls waiting on it within about a minute, not after the
        // system's two-hour keepalive: until then no heartbeat can run, and
        // the instance's own lease deadline is what keeps it from acting.
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_secs(60));
        }
        if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
            // tokio-postgres's default: the URL did not choose one.
            config.keepalives_idle(std::time::Duration::from_secs(30));
        }
        config.application_name("gatekeeper");
        Ok(Target { config, display })
    }

    /// The `[store]` table's PostgreSQL target: the URL, and the password
    /// from `password_file` (owner-only, like the Google key) or
    /// `password_env`.
    pub fn from_config(store: &crate::config::StoreConfig) -> Result<Target> {
        let Some(url) = &store.url else {
            return Err(StoreError::Open {
                path: "[store]".into(),
                source: "no `url`".into(),
            });
        };
        let display = redact(url.expose());
        let open = |source: BackendError| StoreError::Open {
            path: display.clone(),
            source,
        };
        let password = match (&store.password_file, &store.password_env) {
            (Some(file), _) => Some(read_password_file(file).map_err(open)?),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                open(format!("the environment variable `{var}` (`password_env`) is not set").into())
            })?),
            (None, None) => None,
        };
        Target::new(url.expose(), password.as_deref())
    }

    /// The same database with `search_path` set to `schema` (tests give
    /// each store its own schema).
    pub fn with_schema(&self, schema: &str) -> Target {
        let mut t = self.clone();
        t.config.options(&format!("-c search_path={schema}"));
        t.display = format!("{} (schema {schema})", self.display);
        t
    }

    /// The database as messages name it: no password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// A new connection: TLS when the server offers it (`sslmode` in the
    /// URL decides whether it is required), through rustls on ring with the
    /// system's roots.
    pub fn connect(&self) -> Result<Client> {
        self.config.connect(tls()).map_err(|e| StoreError::Open {
            path: self.display.clone(),
            source: Box::new(e),
        })
    }
}

fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    // A root the system cannot parse costs only itself.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
        // ring supports the default versions; this arm only keeps the
        // function total.
        Err(_) => rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| unreachable_tls()),
    };
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

#[cold]
fn unreachable_tls() -> rustls::ClientConfig {
    // ring implements TLS 1.3; rustls refuses a provider only for versions
    // it lacks. Panicking here is the documented impossibility.
    panic!("rustls with ring supports TLS 1.3")
}

/// A password file must be readable by its owner only, as the Google key
/// must; its text is the password, without the trailing newline.
fn read_password_file(path: &Path) -> std::result::Result<String, BackendError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "`{}` (`password_file`) is readable by others (mode {mode:o}); `chmod 600` it",
                path.display()
            )
            .into());
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// The URL without its password (in the user part or a `password=`
/// parameter), for messages.
pub fn redact(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => {
            let kept: Vec<&str> = q
                .split('&')
                .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
                .collect();
            (
                u,
                if kept.is_empty() {
                    String::new()
                } else {
                    format!("?{}", kept.join("&"))
                },
            )
        }
        None => (url, String::new()),
    };
    redact_authority(url) + &query
}

fn redact_authority(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a PostgreSQL URL)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth {
        Some(a) => {
            let user = a.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => format!("{scheme}://{host}"),
    }
}

/// PostgreSQL's failures in the store's own terms, by SQLSTATE; the
/// client's error stays the source.
impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        use postgres::error::SqlState;
        let code = e.code().cloned();
        let closed = e.is_closed();
        let source: BackendError = Box::new(e);
        match code {
            Some(c)
                if c == SqlState::T_R_SERIALIZATION_FAILURE
                    || c == SqlState::T_R_DEADLOCK_DETECTED
                    || c == SqlState::LOCK_NOT_AVAILABLE =>
            {
                StoreError::Busy { source }
            }
            Some(c) if c == SqlState::DATA_CORRUPTED || c == SqlState::INDEX_CORRUPTED => {
                StoreError::Corrupt { source }
            }
            Some(c)
                if c == SqlState::DISK_FULL
                    || c == SqlState::IO_ERROR
                    || c == SqlState::READ_ONLY_SQL_TRANSACTION
                    || c == SqlState::ADMIN_SHUTDOWN
                    || c == SqlState::CANNOT_CONNECT_NOW =>
            {
                StoreError::Io { source }
            }
            None if closed => StoreError::Io { source },
            _ => StoreError::Database { source },
        }
    }
}

pub struct PostgresStore {
    /// `Store`'s reads take `&self` while the blocking client needs
    /// `&mut`: a store is one connection used by one thread at a time (it
    /// is `Send`, not `Sync`), and a read borrows the cell for its length.
    client: std::cell::RefCell<Client>,
    target: Target,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish()
    }
}

impl PostgresStore {
    /// Connect and bring the schema up to date.
    pub fn open(target: &Target) -> Result<PostgresStore> {
        let mut client = target.connect()?;
        migrate(&mut client, target.display())?;
        Ok(PostgresStore {
            client: std::cell::RefCell::new(client),
            target: target.clone(),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The raw client, for the lease board and tests of this backend.
    pub fn client(&mut self) -> &mut Client {
        self.client.get_mut()
    }
}

/// Apply the migrations this database lacks, each once, whoever starts
/// first: the version is read and every migration applied in one
/// transaction that holds an advisory lock keyed by the schema, so a
/// second instance waits, then finds nothing left to do.
pub fn migrate(client: &mut Client, display: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))",
        &[&MIGRATION_LOCK],
    )?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let version: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: display.to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let v = (i + 1) as i64;
        let migration = |e: postgres::Error| StoreError::Migration {
            path: display.to_string(),
            version: v,
            source: Box::new(e),
        };
        tx.batch_execute(sql).map_err(migration)?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&v])
            .map_err(migration)?;
    }
    tx.commit()?;
    Ok(())
}

fn put_screening_on(c: &mut impl GenericClient, s: &Screening) -> Result<()> {
    c.execute(
        "INSERT INTO screenings (source, calendar, uid, recurrence_id, member, fingerprint, policy_hash,
                                 applied_partstat, applied_comment, decision_id, complete, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (source, calendar, uid, recurrence_id, member) DO UPDATE SET
             fingerprint = excluded.fingerprint, policy_hash = excluded.policy_hash,
             applied_partstat = excluded.applied_partstat, applied_comment = excluded.applied_comment,
             decision_id = excluded.decision_id, complete = excluded.complete, updated_at = excluded.updated_at",
        &[
            &s.key.source,
            &s.key.calendar,
            &s.key.uid,
            &s.key.recurrence_id,
            &s.key.member,
            &s.fingerprint,
            &s.policy_hash,
            &s.applied_partstat,
            &s.applied_comment,
            &s.decision_id,
            &s.complete,
        ],
    )?;
    Ok(())
}

fn upsert_burden_on(c: &mut impl GenericClient, e: &BurdenEntry) -> Result<()> {
    c.execute(
        "INSERT INTO burden (source, calendar, uid, recurrence_id, occurrence_start, member,
                             occurrence_end, inconvenience, outside_minutes, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (source, calendar, uid, recurrence_id, occurrence_start, member) DO UPDATE SET
             occurrence_end = excluded.occurrence_end, inconvenience = excluded.inconvenience,
             outside_minutes = excluded.outside_minutes, status = excluded.status",
        &[
            &e.source,
            &e.calendar,
            &e.uid,
            &e.recurrence_id,
            &e.occurrence_start,
            &e.member,
            &e.occurrence_end,
            &i64::from(e.inconvenience),
            &i64::from(e.outside_minutes),
            &e.status,
        ],
    )?;
    Ok(())
}

const DECISION_COLUMNS: &str =
    "SELECT id, decided_at, source, calendar, member, uid, recurrence_id, title, organizer, action,
            response, findings, exemption, comment, policy_hash, outcome, error FROM decisions";

/// One decision-log row. PostgreSQL enforces the column types, so the
/// leniency SQLite needs is only for the typed text columns: an action,
/// response, outcome or findings this build does not know reads as its
/// "unknown" value.
fn decision_row(r: &postgres::Row) -> std::result::Result<DecisionRecord, postgres::Error> {
    let findings: String = r.try_get(11)?;
    let action: String = r.try_get(9)?;
    let response: Option<String> = r.try_get(10)?;
    let outcome: String = r.try_get(15)?;
    Ok(DecisionRecord {
        id: r.try_get(0)?,
        decided_at: r.try_get(1)?,
        source: r.try_get(2)?,
        calendar: r.try_get(3)?,
        member: r.try_get(4)?,
        uid: r.try_get(5)?,
        recurrence_id: r.try_get(6)?,
        title: r.try_get(7)?,
        organizer: r.try_get(8)?,
        action: LoggedAction::parse(&action),
        response: response.as_deref().map(PartStat::parse),
        findings: Findings::from_stored(&findings),
        exemption: r.try_get(12)?,
        comment: r.try_get(13)?,
        policy_hash: r.try_get(14)?,
        outcome: Outcome::parse(&outcome),
        error: r.try_get(16)?,
    })
}

fn in_table(table: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |e| StoreError::CorruptRow {
        table,
        source: Box::new(e),
    }
}

impl Store for PostgresStore {
    fn screening(&self, key: &ScreeningKey) -> Result<Option<Screening>> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT fingerprint, policy_hash, applied_partstat, applied_comment, decision_id, complete
                 FROM screenings WHERE source = $1 AND calendar = $2 AND uid = $3 AND recurrence_id = $4 AND member = $5",
                &[&key.source, &key.calendar, &key.uid, &key.recurrence_id, &key.member],
            )?;
            row.map(|r| {
                Ok(Screening {
                    key: key.clone(),
                    fingerprint: r.try_get(0)?,
                    policy_hash: r.try_get(1)?,
                    applied_partstat: r.try_get(2)?,
                    applied_comment: r.try_get(3)?,
                    decision_id: r.try_get(4)?,
                    complete: r.try_get(5)?,
                })
            })
            .transpose()
            .map_err(in_table("screenings"))
        })
    }

    fn put_screening(&mut self, s: &Screening) -> Result<()> {
        put_screening_on(self.client.get_mut(), s)
    }

    fn begin_decision(&mut self, d: &DecisionRecord, screening: &Screening) -> Result<i64> {
        let mut tx = self.client.get_mut().transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO decisions (decided_at, source, calendar, member, uid, recurrence_id, title, organizer,
                                        action, response, findings, exemption, comment, policy_hash, outcome, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 RETURNING id",
                &[
                    &d.decided_at,
                    &d.source,
                    &d.calendar,
                    &d.member,
                    &d.uid,
                    &d.recurrence_id,
                    &d.title,
                    &d.organizer,
                    &d.action.as_str(),
                    &d.response.as_ref().map(PartStat::as_ical),
                    &d.findings.to_stored(),
                    &d.exemption,
                    &d.comment,
                    &d.policy_hash,
                    &d.outcome.as_str(),
                    &d.error,
                ],
            )?
            .get(0);
        let mut s = screening.clone();
        s.decision_id = Some(id);
        put_screening_on(&mut tx, &s)?;
        tx.commit()?;
        Ok(id)
    }

    fn finish_decision(
        &mut self,
        id: i64,
        outcome: Outcome,
        error: Option<&str>,
        screening: &Screening,
    ) -> Result<()> {
        let mut tx = self.client.get_mut().transaction()?;
        tx.execute(
            "UPDATE decisions SET outcome = $2, error = $3 WHERE id = $1",
            &[&id, &outcome.as_str(), &error],
        )?;
        let mut s = screening.clone();
        s.decision_id = Some(id);
        put_screening_on(&mut tx, &s)?;
        tx.commit()?;
        Ok(())
    }

    fn decisions(&self, since: Option<DateTime<Utc>>) -> Result<Vec<DecisionRecord>> {
        self.read(|c| {
            let rows = match since {
                Some(t) => c.query(
                    &format!("{DECISION_COLUMNS} WHERE decided_at >= $1 ORDER BY id"),
                    &[&t],
                )?,
                None => c.query(&format!("{DECISION_COLUMNS} ORDER BY id"), &[])?,
            };
            rows.iter()
                .map(decision_row)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(in_table("decisions"))
        })
    }

    fn decision(&self, id: i64) -> Result<Option<DecisionRecord>> {
        self.read(|c| {
            c.query_opt(&format!("{DECISION_COLUMNS} WHERE id = $1"), &[&id])?
                .as_ref()
                .map(decision_row)
                .transpose()
                .map_err(in_table("decisions"))
        })
    }

    fn replace_protected(
        &mut self,
        source: &str,
        calendar: &str,
        event_id: &str,
        blocks: &[crate::policy::evaluate::ProtectedBlock],
    ) -> Result<()> {
        let mut tx = self.client.get_mut().transaction()?;
        tx.execute(
            "DELETE FROM protected_time WHERE source = $1 AND calendar = $2 AND event_id = $3",
            &[&source, &calendar, &event_id],
        )?;
        for b in blocks {
            tx.execute(
                "INSERT INTO protected_time (source, calendar, event_id, starts_at, ends_at, kind)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (source, calendar, event_id, starts_at) DO UPDATE SET
                     ends_at = excluded.ends_at, kind = excluded.kind",
                &[
                    &source,
                    &calendar,
                    &event_id,
                    &b.span.start,
                    &b.span.end,
                    &b.kind.as_str(),
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn protected_blocks(
        &self,
        source: &str,
        calendar: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::policy::evaluate::ProtectedBlock>> {
        use crate::policy::evaluate::{ProtectedBlock, ProtectedKind, Span};
        self.read(|c| {
            let rows = c.query(
                "SELECT starts_at, ends_at, kind FROM protected_time
                 WHERE source = $1 AND calendar = $2 AND ends_at > $3 AND starts_at < $4 ORDER BY starts_at",
                &[&source, &calendar, &from, &to],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let kind: String = r.try_get(2).map_err(in_table("protected_time"))?;
                if let Some(kind) = ProtectedKind::parse(&kind) {
                    out.push(ProtectedBlock {
                        span: Span {
                            start: r.try_get(0).map_err(in_table("protected_time"))?,
                            end: r.try_get(1).map_err(in_table("protected_time"))?,
                        },
                        kind,
                    });
                }
            }
            Ok(out)
        })
    }

    fn urgent_uses(
        &self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
    ) -> Result<u32> {
        self.read(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM urgent_uses WHERE organizer = $1 AND month = $2
                     AND seq < COALESCE((SELECT seq FROM urgent_uses WHERE organizer = $1
                     AND month = $2 AND uid = $3 AND recurrence_id = $4), 9223372036854775807)",
                    &[&organizer, &month, &uid, &recurrence_id],
                )?
                .get(0);
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    fn record_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.client.get_mut().transaction()?;
        lock_urgent(&mut tx, organizer, month)?;
        tx.execute(
            "INSERT INTO urgent_uses (organizer, month, uid, recurrence_id, used_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&organizer, &month, &uid, &recurrence_id, &at],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn claim_urgent_use(
        &mut self,
        organizer: &str,
        month: &str,
        uid: &str,
        recurrence_id: &str,
        at: DateTime<Utc>,
        allowance: u32,
    ) -> Result<super::UrgentClaim> {
        // Counting and recording in one transaction under the organizer's
        // lock: two instances screening two of the organizer's invites at
        // the same moment cannot both take the last use.
        let mut tx = self.client.get_mut().transaction()?;
        lock_urgent(&mut tx, organizer, month)?;
        let before: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM urgent_uses WHERE organizer = $1 AND month = $2
                 AND seq < COALESCE((SELECT seq FROM urgent_uses WHERE organizer = $1
                 AND month = $2 AND uid = $3 AND recurrence_id = $4), 9223372036854775807)",
                &[&organizer, &month, &uid, &recurrence_id],
            )?
            .get(0);
        let before = u32::try_from(before).unwrap_or(u32::MAX);
        let already: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM urgent_uses WHERE organizer = $1 AND month = $2
                 AND uid = $3 AND recurrence_id = $4)",
                &[&organizer, &month, &uid, &recurrence_id],
            )?
            .get(0);
        let claim = if already {
            super::UrgentClaim::Granted { number: before + 1 }
        } else if before < allowance {
            tx.execute(
                "INSERT INTO urgent_uses (organizer, month, uid, recurrence_id, used_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&organizer, &month, &uid, &recurrence_id, &at],
            )?;
            super::UrgentClaim::Granted { number: before + 1 }
        } else {
            super::UrgentClaim::Exhausted { used: before }
        };
        tx.commit()?;
        Ok(claim)
    }

    fn cursors(&self, source: &str) -> Result<HashMap<(String, String), String>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT calendar, item, cursor FROM sync_cursors WHERE source = $1",
                &[&source],
            )?;
            rows.iter()
                .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
                .collect::<std::result::Result<HashMap<_, _>, postgres::Error>>()
                .map_err(in_table("sync_cursors"))
        })
    }

    fn set_cursor(&mut self, source: &str, calendar: &str, item: &str, cursor: &str) -> Result<()> {
        self.client.get_mut().execute(
            "INSERT INTO sync_cursors (source, calendar, item, cursor) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source, calendar, item) DO UPDATE SET cursor = excluded.cursor",
            &[&source, &calendar, &item, &cursor],
        )?;
        Ok(())
    }

    fn remove_cursor(&mut self, source: &str, calendar: &str, item: &str) -> Result<()> {
        self.client.get_mut().execute(
            "DELETE FROM sync_cursors WHERE source = $1 AND calendar = $2 AND item = $3",
            &[&source, &calendar, &item],
        )?;
        Ok(())
    }

    fn clear_cursors(&mut self) -> Result<()> {
        self.client
            .get_mut()
            .execute("DELETE FROM sync_cursors", &[])?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(
                c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.client.get_mut().execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn claim_meta(&mut self, key: &str, value: &str) -> Result<bool> {
        // One statement: the row lock ON CONFLICT takes makes a second
        // claimant re-check the condition against the first one's value,
        // so exactly one of them sees a row come back. Byte order ("C"),
        // as SQLite's default compares, whatever the database's collation.
        let rows = self.client.get_mut().query(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value
             WHERE meta.value COLLATE \"C\" < excluded.value COLLATE \"C\"
             RETURNING 1",
            &[&key, &value],
        )?;
        Ok(!rows.is_empty())
    }

    fn upsert_burden(&mut self, entry: &BurdenEntry) -> Result<()> {
        upsert_burden_on(self.client.get_mut(), entry)
    }

    fn remove_burden(
        &mut self,
        item: &BurdenItem,
        occurrence_start: DateTime<Utc>,
        member: &str,
    ) -> Result<()> {
        self.client.get_mut().execute(
            "DELETE FROM burden WHERE source = $1 AND calendar = $2 AND uid = $3 AND recurrence_id = $4
                                  AND occurrence_start = $5 AND member = $6",
            &[
                &item.source,
                &item.calendar,
                &item.uid,
                &item.recurrence_id,
                &occurrence_start,
                &member,
            ],
        )?;
        Ok(())
    }

    fn replace_burden(
        &mut self,
        item: &BurdenItem,
        member: &str,
        from: DateTime<Utc>,
        entries: &[BurdenEntry],
    ) -> Result<()> {
        let mut tx = self.client.get_mut().transaction()?;
        tx.execute(
            "DELETE FROM burden WHERE source = $1 AND calendar = $2 AND uid = $3 AND recurrence_id = $4
                                  AND member = $5 AND occurrence_start >= $6",
            &[
                &item.source,
                &item.calendar,
                &item.uid,
                &item.recurrence_id,
                &member,
                &from,
            ],
        )?;
        for e in entries {
            upsert_burden_on(&mut tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn burden_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, crate::fairness::Burden>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT member, SUM(inconvenience)::BIGINT, SUM(outside_minutes)::BIGINT FROM burden
                 WHERE occurrence_start >= $1 AND occurrence_start < $2
                   AND status IN ('accepted', 'tentative')
                 GROUP BY member",
                &[&from, &to],
            )?;
            rows.iter()
                .map(|r| {
                    let i: i64 = r.try_get(1)?;
                    let o: i64 = r.try_get(2)?;
                    Ok((
                        r.try_get::<_, String>(0)?,
                        crate::fairness::Burden {
                            inconvenience: u32::try_from(i).unwrap_or(u32::MAX),
                            outside_minutes: u32::try_from(o).unwrap_or(u32::MAX),
                        },
                    ))
                })
                .collect::<std::result::Result<HashMap<_, _>, postgres::Error>>()
                .map_err(in_table("burden"))
        })
    }
}

/// Urgent uses of one organizer in one month are recorded one at a time
/// across every instance (until the transaction ends).
fn lock_urgent(tx: &mut postgres::Transaction<'_>, organizer: &str, month: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('gatekeeper.urgent'), hashtext($1 || ' ' || $2))",
        &[&organizer, &month],
    )?;
    Ok(())
}

impl PostgresStore {
    /// Run a read on the connection (see the `client` field).
    fn read<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.client.borrow_mut();
        f(&mut client)
    }
}

/// What `import_sqlite` copied, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub decisions: usize,
    pub screenings: usize,
    pub urgent_uses: usize,
    pub sync_cursors: usize,
    pub meta: usize,
    pub burden: usize,
    pub protected_time: usize,
}

impl PostgresStore {
    /// Copy a SQLite state into this (empty) database in one transaction:
    /// the decision log with its ids (screenings point at them), urgent
    /// uses in the order they were recorded, and every other table. A
    /// store that already holds decisions or screenings is refused, so an
    /// import never mixes two histories; a failure leaves it empty.
    pub fn import_sqlite(&mut self, path: &Path) -> Result<Imported> {
        let source = super::sqlite::SqliteStore::open(path)?;
        let decisions = source.decisions(None)?;
        let db =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(StoreError::from)?;
        let mut tx = self.client.get_mut().transaction()?;
        let used: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM decisions) OR EXISTS (SELECT 1 FROM screenings)",
                &[],
            )?
            .get(0);
        if used {
            return Err(StoreError::Database {
                source: "the PostgreSQL store already holds decisions: import into an empty one"
                    .into(),
            });
        }
        let mut n = Imported::default();
        for d in &decisions {
            tx.execute(
                "INSERT INTO decisions (id, decided_at, source, calendar, member, uid, recurrence_id, title,
                                        organizer, action, response, findings, exemption, comment,
                                        policy_hash, outcome, error)
                 OVERRIDING SYSTEM VALUE
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                &[
                    &d.id,
                    &d.decided_at,
                    &d.source,
                    &d.calendar,
                    &d.member,
                    &d.uid,
                    &d.recurrence_id,
                    &d.title,
                    &d.organizer,
                    &d.action.as_str(),
                    &d.response.as_ref().map(PartStat::as_ical),
                    &d.findings.to_stored(),
                    &d.exemption,
                    &d.comment,
                    &d.policy_hash,
                    &d.outcome.as_str(),
                    &d.error,
                ],
            )?;
            n.decisions += 1;
        }
        // New decisions continue after the imported ids.
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('decisions', 'id'),
                           GREATEST((SELECT MAX(id) FROM decisions), 1),
                           (SELECT MAX(id) FROM decisions) IS NOT NULL)",
            &[],
        )?;

        let rows = |sql: &str, cols: usize| -> Result<Vec<Vec<Option<String>>>> {
            let mut stmt = db.prepare(sql)?;
            let rows = stmt.query_map([], |r| {
                (0..cols)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => None,
                            rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                            rusqlite::types::ValueRef::Text(b)
                            | rusqlite::types::ValueRef::Blob(b) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let number = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<i64>().ok());
        let time = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };

        for r in rows(
            "SELECT source, calendar, uid, recurrence_id, member, fingerprint, policy_hash,
                    applied_partstat, applied_comment, decision_id, complete, updated_at FROM screenings",
            12,
        )? {
            tx.execute(
                "INSERT INTO screenings (source, calendar, uid, recurrence_id, member, fingerprint, policy_hash,
                                         applied_partstat, applied_comment, decision_id, complete, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &text(&r[0]),
                    &text(&r[1]),
                    &text(&r[2]),
                    &text(&r[3]),
                    &text(&r[4]),
                    &text(&r[5]),
                    &text(&r[6]),
                    &r[7],
                    &r[8],
                    &number(&r[9]),
                    &(number(&r[10]).unwrap_or(0) != 0),
                    &time(&r[11]),
                ],
            )?;
            n.screenings += 1;
        }
        for r in rows(
            "SELECT organizer, month, uid, recurrence_id, used_at FROM urgent_uses ORDER BY rowid",
            5,
        )? {
            tx.execute(
                "INSERT INTO urgent_uses (organizer, month, uid, recurrence_id, used_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &text(&r[0]),
                    &text(&r[1]),
                    &text(&r[2]),
                    &text(&r[3]),
                    &time(&r[4]),
                ],
            )?;
            n.urgent_uses += 1;
        }
        for r in rows("SELECT source, calendar, item, cursor FROM sync_cursors", 4)? {
            tx.execute(
                "INSERT INTO sync_cursors (source, calendar, item, cursor) VALUES ($1, $2, $3, $4)",
                &[&text(&r[0]), &text(&r[1]), &text(&r[2]), &text(&r[3])],
            )?;
            n.sync_cursors += 1;
        }
        for r in rows("SELECT key, value FROM meta", 2)? {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&text(&r[0]), &text(&r[1])],
            )?;
            n.meta += 1;
        }
        for r in rows(
            "SELECT source, calendar, uid, recurrence_id, occurrence_start, member, occurrence_end,
                    inconvenience, outside_minutes, status FROM burden",
            10,
        )? {
            tx.execute(
                "INSERT INTO burden (source, calendar, uid, recurrence_id, occurrence_start, member,
                                     occurrence_end, inconvenience, outside_minutes, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    &text(&r[0]),
                    &text(&r[1]),
                    &text(&r[2]),
                    &text(&r[3]),
                    &time(&r[4]),
                    &text(&r[5]),
                    &time(&r[6]),
                    &number(&r[7]).unwrap_or(0),
                    &number(&r[8]).unwrap_or(0),
                    &text(&r[9]),
                ],
            )?;
            n.burden += 1;
        }
        for r in rows(
            "SELECT source, calendar, event_id, starts_at, ends_at, kind FROM protected_time",
            6,
        )? {
            tx.execute(
                "INSERT INTO protected_time (source, calendar, event_id, starts_at, ends_at, kind)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &text(&r[0]),
                    &text(&r[1]),
                    &text(&r[2]),
                    &time(&r[3]),
                    &time(&r[4]),
                    &text(&r[5]),
                ],
            )?;
            n.protected_time += 1;
        }
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_keeps_the_address_and_drops_every_password() {
        for (url, shown) in [
            ("postgres://gk@db/gk", "postgres://gk@db/gk"),
            ("postgres://gk:pw@db:5432/gk", "postgres://gk@db:5432/gk"),
            ("postgres://gk:p@ss@db/gk", "postgres://gk@db/gk"),
            (
                "postgres://db/gk?user=gk&password=pw&sslmode=require",
                "postgres://db/gk?user=gk&sslmode=require",
            ),
            ("postgres://db/gk?PASSWORD=pw", "postgres://db/gk"),
            ("not a url", "(a PostgreSQL URL)"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
