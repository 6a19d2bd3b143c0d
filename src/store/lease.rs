//! Several instances on one PostgreSQL split the members among themselves
//! with leases: a row per member naming the instance that holds it until
//! `expires_at`, renewed by that instance's heartbeat.
//!
//! Why leases with a TTL rather than session advisory locks: a session
//! lock lasts as long as the server believes the connection is alive, which
//! for a partitioned host is until TCP keepalive gives up (minutes to
//! hours, set outside gatekeeper), and the instance holding it cannot tell
//! it lost it without a round trip. A lease has a bound both sides know:
//! the database's `expires_at` (its own clock, never a host's) and the
//! holder's own deadline, measured from *before* it asked for the renewal,
//! so the holder always stops believing in a lease before the database
//! lets another instance take it (`Held::holds`).
//!
//! Every heartbeat runs in one transaction under one advisory lock (a
//! handful of instances, one short transaction each per heartbeat): drop
//! the instances and leases that expired, renew this instance's own, give
//! back what is over its fair share (ceil(members / live instances)), take
//! free members up to it. A new instance gets its share when the others
//! give theirs back on their next heartbeat; a dead one's members are free
//! once its leases expire.
//!
//! Must not: hand a member to two instances (the member is the primary
//! key), or let a holder keep working past its own deadline.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use postgres::Client;

use super::Result;
use super::postgres::{Target, migrate};

/// The members this instance holds after a heartbeat, and until when (on
/// this host's monotonic clock) it may act on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub members: BTreeSet<String>,
    pub valid_until: Instant,
    /// Live instances at this heartbeat, this one included.
    pub instances: usize,
}

impl Held {
    /// Whether this instance may work on `member` at `now`: it holds the
    /// lease and its deadline has not passed. The deadline was measured
    /// from before the renewal was asked for, so it is never later than
    /// the database's.
    pub fn holds(&self, member: &str, now: Instant) -> bool {
        now < self.valid_until && self.members.contains(member)
    }
}

/// This instance's part of a per-project rate (Google's 10,000 requests a
/// minute) when `instances` share it: `rate / (instances + 1)`, leaving
/// room for one instance that joins before the others next renew. Any
/// number of instances then stay under the rate together, a joiner
/// included (n/(n+1) + 1/(n+2) < 1). Lowering takes effect at once (a
/// sliding window counts requests already sent); raising is safe because
/// an instance is forgotten only after its lease TTL, never shorter than
/// the 60-second window, so its last requests have left the window.
pub fn project_share(rate: u32, instances: usize) -> u32 {
    let parts = u32::try_from(instances)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    (rate / parts).max(1)
}

/// One instance's seat at the lease table, on its own connection.
pub struct LeaseBoard {
    client: Client,
    instance: String,
    host: String,
    ttl: Duration,
}

impl std::fmt::Debug for LeaseBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseBoard")
            .field("instance", &self.instance)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// The advisory lock every heartbeat takes, in the schema's namespace.
const LEASE_LOCK: &str = "gatekeeper.leases";

impl LeaseBoard {
    /// Join as `instance` (unique per process: host and pid, say) with
    /// leases that last `ttl` unless renewed. The schema is brought up to
    /// date first, as `PostgresStore::open` does.
    pub fn join(target: &Target, instance: &str, host: &str, ttl: Duration) -> Result<LeaseBoard> {
        let mut client = target.connect()?;
        migrate(&mut client, target.display())?;
        Ok(LeaseBoard {
            client,
            instance: instance.to_string(),
            host: host.to_string(),
            ttl,
        })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Renew this instance and its leases, and rebalance: `members` is
    /// everyone the deployment serves (every instance reads the same
    /// config). Returns what this instance holds now.
    pub fn heartbeat(&mut self, members: &[String]) -> Result<Held> {
        // Before the round trip: the database's expiry is later than this.
        let asked = Instant::now();
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let mut tx = self.client.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))",
            &[&LEASE_LOCK],
        )?;
        tx.execute(
            "INSERT INTO instances (id, host, started_at, heartbeat_at, expires_at)
             VALUES ($1, $2, now(), now(), now() + $3 * interval '1 millisecond')
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), expires_at = excluded.expires_at",
            &[&self.instance, &self.host, &(ttl_ms as f64)],
        )?;
        tx.execute("DELETE FROM instances WHERE expires_at <= now()", &[])?;
        tx.execute(
            "DELETE FROM leases WHERE expires_at <= now()
                OR instance NOT IN (SELECT id FROM instances)",
            &[],
        )?;
        let live: i64 = tx.query_one("SELECT COUNT(*) FROM instances", &[])?.get(0);
        let wanted: BTreeSet<&str> = members.iter().map(String::as_str).collect();
        let share = wanted
            .len()
            .div_ceil(usize::try_from(live.max(1)).unwrap_or(1));

        let renewed = tx.query(
            "UPDATE leases SET expires_at = now() + $2 * interval '1 millisecond'
             WHERE instance = $1 RETURNING member",
            &[&self.instance, &(ttl_ms as f64)],
        )?;
        let mut mine: BTreeSet<String> = renewed.iter().map(|r| r.get(0)).collect();
        // Members no longer served, and what is over the fair share, go
        // back (this runs between passes: nothing is being worked on).
        let mut give_back: Vec<String> = mine
            .iter()
            .filter(|m| !wanted.contains(m.as_str()))
            .cloned()
            .collect();
        mine.retain(|m| wanted.contains(m.as_str()));
        while mine.len() > share {
            if let Some(last) = mine.pop_last() {
                give_back.push(last);
            }
        }
        if !give_back.is_empty() {
            tx.execute(
                "DELETE FROM leases WHERE instance = $1 AND member = ANY($2)",
                &[&self.instance, &give_back],
            )?;
        }
        if mine.len() < share {
            let held: BTreeSet<String> = tx
                .query("SELECT member FROM leases", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let free: Vec<String> = wanted
                .iter()
                .filter(|m| !held.contains(**m))
                .take(share - mine.len())
                .map(|m| m.to_string())
                .collect();
            for m in free {
                let taken = tx.execute(
                    "INSERT INTO leases (member, instance, acquired_at, expires_at)
                     VALUES ($1, $2, now(), now() + $3 * interval '1 millisecond')
                     ON CONFLICT (member) DO NOTHING",
                    &[&m, &self.instance, &(ttl_ms as f64)],
                )?;
                if taken == 1 {
                    mine.insert(m);
                }
            }
        }
        tx.commit()?;
        Ok(Held {
            members: mine,
            valid_until: asked + self.ttl,
            instances: usize::try_from(live.max(1)).unwrap_or(1),
        })
    }

    /// Note that this instance finished a pass (for `gatekeeper status`).
    pub fn finished_pass(&mut self) -> Result<()> {
        self.client.execute(
            "UPDATE instances SET last_pass_at = now() WHERE id = $1",
            &[&self.instance],
        )?;
        Ok(())
    }

    /// Leave cleanly: give every member back at once, so the others take
    /// them on their next heartbeat instead of after the TTL.
    pub fn leave(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        tx.execute("DELETE FROM leases WHERE instance = $1", &[&self.instance])?;
        tx.execute("DELETE FROM instances WHERE id = $1", &[&self.instance])?;
        tx.commit()?;
        Ok(())
    }
}

/// One instance as `gatekeeper status` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstanceStatus {
    pub id: String,
    pub host: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Seconds since its last heartbeat.
    pub heartbeat_age_seconds: f64,
    /// Seconds since it finished a pass; none before its first.
    pub last_pass_age_seconds: Option<f64>,
    /// False once its heartbeat is older than its TTL (it stopped or is
    /// cut off; its members go to the others).
    pub alive: bool,
    pub members: Vec<MemberLease>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemberLease {
    pub member: String,
    /// Seconds since this instance took the member.
    pub held_for_seconds: f64,
    /// Seconds until the lease runs out unless renewed (negative: expired).
    pub expires_in_seconds: f64,
}

/// Every instance the database knows, with its members, as the database
/// sees them now (its clock). Expired rows are shown, not removed: only a
/// heartbeat changes the table.
pub fn status(target: &Target) -> Result<Vec<InstanceStatus>> {
    let mut client = target.connect()?;
    migrate(&mut client, target.display())?;
    let mut out: Vec<InstanceStatus> = client
        .query(
            "SELECT id, host, started_at,
                    EXTRACT(EPOCH FROM now() - heartbeat_at)::FLOAT8,
                    EXTRACT(EPOCH FROM now() - last_pass_at)::FLOAT8,
                    expires_at > now()
             FROM instances ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| InstanceStatus {
            id: r.get(0),
            host: r.get(1),
            started_at: r.get(2),
            heartbeat_age_seconds: r.get(3),
            last_pass_age_seconds: r.get(4),
            alive: r.get(5),
            members: Vec::new(),
        })
        .collect();
    for r in client.query(
        "SELECT instance, member,
                EXTRACT(EPOCH FROM now() - acquired_at)::FLOAT8,
                EXTRACT(EPOCH FROM expires_at - now())::FLOAT8
         FROM leases ORDER BY instance, member",
        &[],
    )? {
        let instance: String = r.get(0);
        if let Some(i) = out.iter_mut().find(|i| i.id == instance) {
            i.members.push(MemberLease {
                member: r.get(1),
                held_for_seconds: r.get(2),
                expires_in_seconds: r.get(3),
            });
        }
    }
    Ok(out)
}

/// Push notifications between instances: Google posts a member's change
/// to whichever instance the load balancer picks; that instance publishes
/// it with `NOTIFY`, every instance (itself included) hears it on its own
/// `LISTEN` connection, and only the one that holds the member acts on it
/// (the engine's gate). A channel per schema, so deployments sharing one
/// database do not hear each other.
pub struct PushRelay {
    client: Client,
    channel: String,
}

impl std::fmt::Debug for PushRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRelay")
            .field("channel", &self.channel)
            .finish()
    }
}

fn push_channel(client: &mut Client) -> Result<String> {
    let schema: String = client.query_one("SELECT current_schema()", &[])?.get(0);
    // An identifier of at most 63 bytes, quoted where it is used.
    let mut channel = format!("gatekeeper_push_{schema}").replace('"', "");
    channel.truncate(63);
    Ok(channel)
}

impl PushRelay {
    pub fn connect(target: &Target) -> Result<PushRelay> {
        let mut client = target.connect()?;
        let channel = push_channel(&mut client)?;
        Ok(PushRelay { client, channel })
    }

    /// Tell every instance that `member`'s calendar in `source` changed.
    pub fn publish(&mut self, source: &str, member: &str) -> Result<()> {
        let payload = serde_json::json!({ "source": source, "member": member }).to_string();
        self.client
            .execute("SELECT pg_notify($1, $2)", &[&self.channel, &payload])?;
        Ok(())
    }

    /// Listen on a thread of its own and call `heard(source, member)` for
    /// every notification, until `heard` returns false or the connection
    /// ends (then the thread ends: polling remains the backstop).
    pub fn listen(
        target: &Target,
        mut heard: impl FnMut(String, String) -> bool + Send + 'static,
    ) -> Result<std::thread::JoinHandle<()>> {
        let mut client = target.connect()?;
        let channel = push_channel(&mut client)?;
        client.batch_execute(&format!("LISTEN \"{channel}\""))?;
        Ok(std::thread::spawn(move || {
            let mut notifications = client.notifications();
            let mut it = notifications.blocking_iter();
            while let Ok(Some(n)) = postgres::fallible_iterator::FallibleIterator::next(&mut it) {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(n.payload()) else {
                    continue;
                };
                let (Some(source), Some(member)) = (v["source"].as_str(), v["member"].as_str())
                else {
                    continue;
                };
                if !heard(source.to_string(), member.to_string()) {
                    return;
                }
            }
            tracing::warn!(
                "the connection that hears other instances' push notifications ended; \
                 polling picks those changes up"
            );
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::project_share;

    #[test]
    fn instances_and_one_joiner_stay_under_the_project_rate() {
        for n in 1..=64usize {
            let steady = project_share(10_000, n) as usize * n;
            let joiner = project_share(10_000, n + 1) as usize;
            assert!(steady + joiner <= 10_000, "{n} instances");
        }
        assert_eq!(project_share(10_000, 1), 5_000);
        assert_eq!(project_share(1, 8), 1, "never zero");
    }
}
