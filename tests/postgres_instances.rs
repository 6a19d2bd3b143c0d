//! Several gatekeeper instances on one PostgreSQL: each is a thread with
//! its own connections here. What must happen once happens once
//! (migrations, an urgent use, the weekly report's mark), and the members
//! are split with leases: never held by two, a dead instance's taken over
//! once its leases run out, a new instance given its share.
//!
//! No test waits for a time: each waits until a condition holds, with a
//! generous bound that only a broken build reaches.

mod postgres;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use gatekeeper::store::lease::{Held, LeaseBoard};
use gatekeeper::store::postgres::{PostgresStore, Target};
use gatekeeper::store::{Store, StoreError, UrgentClaim};

use postgres::Scratch;

/// Run `f` on `n` threads that start together; their results in order.
fn together<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn instances_starting_at_once_apply_each_migration_once() {
    let scratch = Scratch::new("migrate");
    let target = scratch.target();
    let opened = together(8, move |_| PostgresStore::open(&target).map(|_| ()));
    for r in opened {
        r.unwrap();
    }
    let mut store = scratch.store();
    let versions: Vec<i64> = store
        .client()
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2]);
}

#[test]
fn a_schema_from_a_newer_build_is_refused() {
    let scratch = Scratch::new("newer");
    let mut store = scratch.store();
    store
        .client()
        .execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .unwrap();
    drop(store);
    let e = PostgresStore::open(&scratch.target()).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
}

#[test]
fn the_last_urgent_use_goes_to_one_instance() {
    let scratch = Scratch::new("urgent");
    let target = scratch.target();
    let at = "2026-11-20T10:00:00Z".parse().unwrap();
    // Eight instances screen eight of one organizer's invites at once;
    // the organizer has three uses a month.
    let claims = together(8, move |i| {
        let mut s = PostgresStore::open(&target).unwrap();
        s.claim_urgent_use("bo@example.com", "2026-11", &format!("u{i}"), "", at, 3)
            .unwrap()
    });
    let mut numbers: Vec<u32> = claims
        .iter()
        .filter_map(|c| match c {
            UrgentClaim::Granted { number } => Some(*number),
            UrgentClaim::Exhausted { used } => {
                assert_eq!(*used, 3);
                None
            }
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2, 3], "{claims:?}");
    let s = scratch.store();
    assert_eq!(
        s.urgent_uses("bo@example.com", "2026-11", "new", "")
            .unwrap(),
        3
    );
}

#[test]
fn one_instance_claims_the_weeks_report() {
    let scratch = Scratch::new("report");
    // Many rounds: two instances due at the same moment, every time.
    for round in 0..20 {
        let target = scratch.target();
        let week = format!("2026-W{:02}", round + 10);
        let won = together(2, move |_| {
            PostgresStore::open(&target)
                .unwrap()
                .claim_meta("report.last_week.core", &week)
                .unwrap()
        });
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Leases

fn members(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i:03}@example.com")).collect()
}

/// What the database says each member's holder is (live leases only).
fn holders(target: &Target) -> BTreeMap<String, String> {
    let mut c = target.connect().unwrap();
    c.query(
        "SELECT member, instance FROM leases WHERE expires_at > now()",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Beat every board until `done` holds for their latest `Held`s, checking
/// on every round that no member is believed held by two instances at
/// once. Panics after a bound no working build reaches.
fn beat_until(
    boards: &mut [LeaseBoard],
    all: &[String],
    what: &str,
    done: impl Fn(&[Held]) -> bool,
) -> Vec<Held> {
    let give_up = Instant::now() + Duration::from_secs(120);
    let mut held: Vec<Option<Held>> = vec![None; boards.len()];
    loop {
        for (i, b) in boards.iter_mut().enumerate() {
            held[i] = Some(b.heartbeat(all).unwrap());
            // The invariant, from the holders' own point of view: nobody
            // else believes it holds what this one now holds.
            let now = Instant::now();
            for (j, other) in held.iter().enumerate() {
                if let (Some(mine), Some(other)) = (&held[i], other)
                    && i != j
                {
                    for m in &mine.members {
                        assert!(
                            !other.holds(m, now),
                            "{m} held by {} and {}",
                            boards[i].instance(),
                            boards[j].instance()
                        );
                    }
                }
            }
        }
        let current: Vec<Held> = held.iter().flatten().cloned().collect();
        if done(&current) {
            return current;
        }
        assert!(Instant::now() < give_up, "never reached: {what}");
    }
}

fn join(target: &Target, name: &str, ttl: Duration) -> LeaseBoard {
    LeaseBoard::join(target, name, "test-host", ttl).unwrap()
}

fn covered(held: &[Held], all: &[String]) -> bool {
    let union: BTreeSet<&String> = held.iter().flat_map(|h| &h.members).collect();
    union.len() == all.len()
}

#[test]
fn members_are_split_never_shared_and_taken_over_from_the_dead() {
    let scratch = Scratch::new("lease");
    let target = scratch.target();
    let all = members(30);
    let ttl = Duration::from_secs(2);
    let mut boards = vec![
        join(&target, "a", ttl),
        join(&target, "b", ttl),
        join(&target, "c", ttl),
    ];

    // Three instances: everyone served, ten each.
    let held = beat_until(&mut boards, &all, "30 members split three ways", |h| {
        covered(h, &all) && h.iter().all(|h| h.members.len() == 10)
    });
    let db = holders(&target);
    assert_eq!(db.len(), 30);
    for (h, b) in held.iter().zip(&boards) {
        for m in &h.members {
            assert_eq!(db[m], b.instance());
        }
    }

    // `c` dies (no more heartbeats, no goodbye): once its leases run out
    // the other two take its members.
    let dead = boards.pop().unwrap();
    let orphans = held[2].members.clone();
    let dead_until = held[2].valid_until;
    drop(dead);
    let held = beat_until(&mut boards, &all, "c's members taken over", |h| {
        covered(h, &all) && h.iter().all(|h| h.members.len() == 15)
    });
    for m in &orphans {
        assert!(held.iter().any(|h| h.members.contains(m)), "{m}");
    }
    // Not while `c` could still believe it held them (it might only have
    // been slow, not dead).
    assert!(
        Instant::now() >= dead_until,
        "taken over before c's own deadline"
    );

    // A new instance takes its share without the others restarting.
    boards.push(join(&target, "d", ttl));
    beat_until(&mut boards, &all, "d gets its share", |h| {
        covered(h, &all) && h.iter().all(|h| h.members.len() == 10)
    });

    // One that leaves cleanly gives its members back at once.
    let mut leaving = boards.remove(0);
    leaving.leave().unwrap();
    let held = beat_until(&mut boards, &all, "a's members taken after it left", |h| {
        covered(h, &all)
    });
    assert!(held.iter().all(|h| h.members.len() == 15));
}

#[test]
fn instances_on_their_own_threads_never_hold_a_member_twice() {
    let scratch = Scratch::new("threads");
    let all = Arc::new(members(40));
    let ttl = Duration::from_secs(3);
    // Four instances beat on their own threads as fast as they can; one
    // joins once the others have split everything, one leaves half way.
    // Each records when it believed it held a member: from a heartbeat's
    // return until its deadline or the start of its next heartbeat
    // (heartbeats run between passes, so nothing is worked on during one).
    // No two instances' spans for one member may overlap.
    let target = scratch.target();
    let spans = together(4, move |i| {
        let mut board = join(&target, &format!("i{i}"), ttl);
        let mut spans: Vec<(String, Instant, Instant)> = Vec::new();
        let mut last: Option<(Held, Instant)> = None;
        let close = |last: &mut Option<(Held, Instant)>, spans: &mut Vec<_>| {
            let now = Instant::now();
            if let Some((held, from)) = last.take() {
                for m in &held.members {
                    spans.push((m.clone(), from, now.min(held.valid_until)));
                }
            }
        };
        if i == 3 {
            let give_up = Instant::now() + Duration::from_secs(120);
            while holders(&target).len() < all.len() {
                assert!(
                    Instant::now() < give_up,
                    "the others never covered everyone"
                );
            }
        }
        for round in 0..60 {
            close(&mut last, &mut spans);
            if i == 0 && round == 30 {
                board.leave().unwrap();
                break;
            }
            let held = board.heartbeat(&all).unwrap();
            last = Some((held, Instant::now()));
        }
        close(&mut last, &mut spans);
        (i, spans)
    });
    let mut by_member: BTreeMap<String, Vec<(usize, Instant, Instant)>> = BTreeMap::new();
    for (i, spans) in spans {
        for (m, from, to) in spans {
            by_member.entry(m).or_default().push((i, from, to));
        }
    }
    assert_eq!(by_member.len(), 40, "every member was held at some point");
    for (m, mut spans) in by_member {
        spans.sort_by_key(|s| s.1);
        for pair in spans.windows(2) {
            let ((i, _, end), (j, start, _)) = (pair[0], pair[1]);
            assert!(
                i == j || end <= start,
                "{m}: instance {i} held it until after instance {j} took it"
            );
        }
    }
}

#[test]
fn status_shows_instances_members_and_ages() {
    let scratch = Scratch::new("status");
    let target = scratch.target();
    let all = members(4);
    let mut boards = vec![
        join(&target, "a", Duration::from_secs(60)),
        join(&target, "b", Duration::from_secs(60)),
    ];
    beat_until(&mut boards, &all, "two each", |h| {
        h.iter().all(|h| h.members.len() == 2)
    });
    boards[0].finished_pass().unwrap();
    let status = gatekeeper::store::lease::status(&target).unwrap();
    assert_eq!(
        status.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    for i in &status {
        assert!(i.alive);
        assert_eq!(i.host, "test-host");
        assert_eq!(i.members.len(), 2);
        assert!(i.heartbeat_age_seconds >= 0.0);
        for m in &i.members {
            assert!(m.expires_in_seconds > 0.0 && m.expires_in_seconds <= 60.0);
        }
    }
    assert!(status[0].last_pass_age_seconds.is_some());
    assert_eq!(status[1].last_pass_age_seconds, None);
}

#[test]
fn a_push_received_by_one_instance_reaches_every_instance_of_its_store() {
    use gatekeeper::store::lease::PushRelay;
    use std::sync::mpsc::channel;

    let scratch = Scratch::new("push");
    let other = Scratch::new("push_other");
    let (tx, rx) = channel();
    for name in ["a", "b"] {
        let tx = tx.clone();
        PushRelay::listen(&scratch.target(), move |source, member| {
            tx.send((name, source, member)).is_ok()
        })
        .unwrap();
    }
    let (stray_tx, stray_rx) = channel();
    PushRelay::listen(&other.target(), move |source, member| {
        stray_tx.send((source, member)).is_ok()
    })
    .unwrap();

    // `b` receives Google's post and publishes it; both hear it.
    let mut relay = PushRelay::connect(&scratch.target()).unwrap();
    relay.publish("google", "ana@example.com").unwrap();
    let mut heard: Vec<_> = (0..2)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(60))
                .expect("a push heard")
        })
        .collect();
    heard.sort();
    assert_eq!(
        heard,
        vec![
            ("a", "google".to_string(), "ana@example.com".to_string()),
            ("b", "google".to_string(), "ana@example.com".to_string()),
        ]
    );
    // Another deployment's store hears nothing of it: a marker published
    // there afterwards is the first thing its listener gets.
    PushRelay::connect(&other.target())
        .unwrap()
        .publish("marker", "m")
        .unwrap();
    assert_eq!(
        stray_rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        ("marker".to_string(), "m".to_string())
    );
}
