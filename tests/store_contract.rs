//! The `Store` contract, written once and run against every backend.
//!
//! `contract` takes a function that makes a fresh, empty store and checks
//! what the daemon, `gatekeeper log` and the report rely on: the decision
//! lifecycle (begin, finish, read back typed), screenings, sync cursors,
//! meta, the burden ledger, urgent uses and protected time.
//! `reads_rows_in_todays_format` checks a store that already holds
//! decision-log rows exactly as gatekeeper stored them before the log was
//! typed (`STORED_ROWS`); each backend puts those rows in with its own raw
//! statements, since the trait (rightly) has no way to write them.
//!
//! A second backend (PostgreSQL) adds one `#[test]` that calls `contract`
//! with its constructor and one that stores `STORED_ROWS` and calls
//! `reads_rows_in_todays_format`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use gatekeeper::calendar::PartStat;
use gatekeeper::policy::evaluate::{ProtectedBlock, ProtectedKind, Span};
use gatekeeper::policy::{Action, RuleKind};
use gatekeeper::store::sqlite::SqliteStore;
use gatekeeper::store::{
    BurdenEntry, BurdenItem, DecisionRecord, Findings, LoggedAction, Outcome, Screening,
    ScreeningKey, Store,
};

// ---------------------------------------------------------------------------
// The contract

/// Every check, each on a fresh store from `make`.
pub fn contract<S: Store>(make: impl Fn() -> S) {
    decisions_begin_and_finish(&mut make());
    decision_values_round_trip_typed(&mut make());
    screenings(&mut make());
    cursors_and_meta(&mut make());
    burden_ledger(&mut make());
    urgent_uses(&mut make());
    protected_time(&mut make());
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn key(uid: &str, member: &str) -> ScreeningKey {
    ScreeningKey {
        source: "src".into(),
        calendar: "work".into(),
        uid: uid.into(),
        recurrence_id: String::new(),
        member: member.into(),
    }
}

fn screening(k: ScreeningKey) -> Screening {
    Screening {
        key: k,
        fingerprint: "fp1".into(),
        policy_hash: "p1".into(),
        applied_partstat: None,
        applied_comment: None,
        decision_id: None,
        complete: false,
    }
}

/// Findings as the engine logs them: the core's types, a structured
/// problem, an observe-only rule beside the acting one.
fn findings() -> Findings {
    Findings::from_stored(
        r#"[{"action":"decline","fix":"add a description that says what the meeting should decide or produce","message":"the description has 2 words; this team asks for an agenda of at least 10","problem":{"kind":"missing_agenda","needed":10,"words":2},"rule":"agenda"},{"action":"observe","fix":"invite only the people who must decide, and share notes with the rest","message":"12 people are invited; this team allows 8","problem":{"count":12,"kind":"too_many_people","max":8},"rule":"max_attendees"}]"#,
    )
}

fn record(k: &ScreeningKey, decided_at: &str) -> DecisionRecord {
    DecisionRecord {
        id: 0,
        decided_at: at(decided_at),
        source: k.source.clone(),
        calendar: k.calendar.clone(),
        member: k.member.clone(),
        uid: k.uid.clone(),
        recurrence_id: k.recurrence_id.clone(),
        title: "Sync".into(),
        organizer: "bo@example.com".into(),
        action: LoggedAction::Decline,
        response: Some(PartStat::Declined),
        findings: findings(),
        exemption: None,
        comment: Some("declined: no agenda".into()),
        policy_hash: "p1".into(),
        outcome: Outcome::Pending,
        error: None,
    }
}

fn decisions_begin_and_finish<S: Store>(s: &mut S) {
    let k = key("u1", "ana@example.com");
    assert_eq!(s.screening(&k).unwrap(), None);
    assert!(s.decisions(None).unwrap().is_empty());
    assert_eq!(s.decision(1).unwrap(), None, "no row yet");

    // Begin: the row is logged pending and the screening is in flight,
    // pointing at it.
    let id = s
        .begin_decision(&record(&k, "2026-11-20T10:00:00Z"), &screening(k.clone()))
        .unwrap();
    let pending = s.screening(&k).unwrap().unwrap();
    assert!(!pending.complete);
    assert_eq!(pending.decision_id, Some(id));
    let row = s.decision(id).unwrap().unwrap();
    assert_eq!(row.outcome, Outcome::Pending);
    assert_eq!(
        row,
        DecisionRecord {
            id,
            ..record(&k, "2026-11-20T10:00:00Z")
        }
    );

    // Finish: the outcome, the error and the screening in one step.
    let mut done = screening(k.clone());
    done.complete = true;
    done.applied_partstat = Some("DECLINED".into());
    done.applied_comment = Some("declined: no agenda".into());
    s.finish_decision(id, Outcome::Applied, None, &done)
        .unwrap();
    let stored = s.screening(&k).unwrap().unwrap();
    assert!(stored.complete);
    assert_eq!(stored.decision_id, Some(id), "finish keeps the row's id");
    assert_eq!(stored.applied_partstat.as_deref(), Some("DECLINED"));
    assert_eq!(s.decision(id).unwrap().unwrap().outcome, Outcome::Applied);

    // A failed write keeps its reason.
    let k2 = key("u2", "ana@example.com");
    let id2 = s
        .begin_decision(&record(&k2, "2026-11-21T10:00:00Z"), &screening(k2.clone()))
        .unwrap();
    assert_ne!(id2, id);
    s.finish_decision(id2, Outcome::Failed, Some("412: changed"), &screening(k2))
        .unwrap();
    let failed = s.decision(id2).unwrap().unwrap();
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(failed.error.as_deref(), Some("412: changed"));

    // The log reads in the order it was written, and from a time on.
    let log = s.decisions(None).unwrap();
    assert_eq!(log.iter().map(|d| d.id).collect::<Vec<_>>(), vec![id, id2]);
    let since = s.decisions(Some(at("2026-11-21T00:00:00Z"))).unwrap();
    assert_eq!(since.iter().map(|d| d.id).collect::<Vec<_>>(), vec![id2]);
    assert!(
        s.decisions(Some(at("2026-11-22T00:00:00Z")))
            .unwrap()
            .is_empty()
    );
}

fn decision_values_round_trip_typed<S: Store>(s: &mut S) {
    // Every action and outcome, a withdrawn answer, no findings, an
    // exemption, and the values this build does not know: each reads back
    // as it was written.
    let cases: Vec<(LoggedAction, Option<PartStat>, Findings, Outcome)> = vec![
        (
            LoggedAction::Allow,
            None,
            Findings::default(),
            Outcome::NoChange,
        ),
        (
            LoggedAction::Annotate,
            Some(PartStat::Tentative),
            findings(),
            Outcome::Observed,
        ),
        (
            LoggedAction::Decline,
            Some(PartStat::NeedsAction),
            findings(),
            Outcome::Applied,
        ),
        (
            LoggedAction::Unknown("escalate".into()),
            Some(PartStat::Other("X-MAYBE".into())),
            Findings::Unreadable {
                stored: "{not json".into(),
            },
            Outcome::Failed,
        ),
    ];
    for (i, (action, response, findings, outcome)) in cases.into_iter().enumerate() {
        let k = key(&format!("u{i}"), "cy@example.com");
        let mut r = record(&k, "2026-11-20T10:00:00Z");
        r.action = action;
        r.response = response;
        r.findings = findings;
        r.exemption = Some("one-to-ones are exempt".into());
        r.comment = None;
        let id = s.begin_decision(&r, &screening(k.clone())).unwrap();
        s.finish_decision(id, outcome, None, &screening(k)).unwrap();
        r.id = id;
        r.outcome = outcome;
        assert_eq!(s.decision(id).unwrap().unwrap(), r, "case {i}");
    }
    let log = s.decisions(None).unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log[1].findings.acting_rules(),
        vec!["agenda".to_string()],
        "observe-only rules do not act"
    );
    assert!(!log[3].findings.is_readable());
}

fn screenings<S: Store>(s: &mut S) {
    let ana = key("u1", "ana@example.com");
    let bo = key("u1", "bo@example.com");
    let occurrence = ScreeningKey {
        recurrence_id: "20261201T090000Z".into(),
        ..ana.clone()
    };
    let mut a = screening(ana.clone());
    a.complete = true;
    a.applied_partstat = Some("TENTATIVE".into());
    s.put_screening(&a).unwrap();
    assert_eq!(s.screening(&ana).unwrap(), Some(a.clone()));
    // One row per member and per occurrence.
    assert_eq!(s.screening(&bo).unwrap(), None);
    assert_eq!(s.screening(&occurrence).unwrap(), None);
    s.put_screening(&screening(occurrence.clone())).unwrap();
    assert_eq!(s.screening(&ana).unwrap(), Some(a.clone()));

    // Putting again replaces, fields that went away included.
    let mut b = screening(ana.clone());
    b.fingerprint = "fp2".into();
    b.policy_hash = "p2".into();
    b.complete = true;
    s.put_screening(&b).unwrap();
    assert_eq!(s.screening(&ana).unwrap(), Some(b));
    // A screening on its own logs nothing.
    assert!(s.decisions(None).unwrap().is_empty());
}

fn cursors_and_meta<S: Store>(s: &mut S) {
    assert!(s.cursors("src").unwrap().is_empty());
    s.set_cursor("src", "work", "a.ics", "e1").unwrap();
    s.set_cursor("src", "work", "a.ics", "e2").unwrap();
    s.set_cursor("src", "work", "b.ics", "e3").unwrap();
    s.set_cursor("src", "home", "a.ics", "e4").unwrap();
    s.set_cursor("other", "work", "", "token").unwrap();
    s.remove_cursor("src", "work", "b.ics").unwrap();
    s.remove_cursor("src", "work", "never.ics").unwrap();
    let expect: HashMap<(String, String), String> = [
        (("work".into(), "a.ics".into()), "e2".into()),
        (("home".into(), "a.ics".into()), "e4".into()),
    ]
    .into();
    assert_eq!(s.cursors("src").unwrap(), expect);
    assert_eq!(s.cursors("other").unwrap().len(), 1);
    s.clear_cursors().unwrap();
    assert!(s.cursors("src").unwrap().is_empty());
    assert!(s.cursors("other").unwrap().is_empty());

    assert_eq!(s.meta("report.last_week.core").unwrap(), None);
    s.set_meta("report.last_week.core", "2026-W47").unwrap();
    s.set_meta("report.last_week.core", "2026-W48").unwrap();
    assert_eq!(
        s.meta("report.last_week.core").unwrap().as_deref(),
        Some("2026-W48")
    );
}

fn entry(uid: &str, member: &str, start: &str, inconvenience: u32) -> BurdenEntry {
    let start = at(start);
    BurdenEntry {
        source: "src".into(),
        calendar: "work".into(),
        uid: uid.into(),
        recurrence_id: String::new(),
        member: member.into(),
        occurrence_start: start,
        occurrence_end: start + Duration::minutes(60),
        inconvenience,
        outside_minutes: inconvenience / 3,
        status: "accepted".into(),
    }
}

fn burden_ledger<S: Store>(s: &mut S) {
    let ana = "ana@example.com";
    let bo = "bo@example.com";
    let window = |s: &S| {
        s.burden_totals(at("2026-11-01T00:00:00Z"), at("2026-11-29T00:00:00Z"))
            .unwrap()
    };
    assert!(window(s).is_empty());
    s.upsert_burden(&entry("u1", ana, "2026-11-02T22:00:00Z", 180))
        .unwrap();
    // The same occurrence again replaces, never adds.
    s.upsert_burden(&entry("u1", ana, "2026-11-02T22:00:00Z", 90))
        .unwrap();
    s.upsert_burden(&entry("u1", ana, "2026-11-09T22:00:00Z", 90))
        .unwrap();
    s.upsert_burden(&entry("u2", bo, "2026-11-10T06:00:00Z", 60))
        .unwrap();
    // The window is [from, to): a start at `to` is outside, one at `from`
    // inside.
    s.upsert_burden(&entry("u3", ana, "2026-11-29T00:00:00Z", 999))
        .unwrap();
    s.upsert_burden(&entry("u4", bo, "2026-11-01T00:00:00Z", 30))
        .unwrap();
    let t = window(s);
    assert_eq!(t[ana].inconvenience, 180);
    assert_eq!(t[ana].outside_minutes, 60);
    assert_eq!(t[bo].inconvenience, 90);

    // A decline from the 5th on takes the later rows off; earlier ones
    // stay, they were lived through.
    let u1 = BurdenItem {
        source: "src".into(),
        calendar: "work".into(),
        uid: "u1".into(),
        recurrence_id: String::new(),
    };
    s.replace_burden(&u1, ana, at("2026-11-05T00:00:00Z"), &[])
        .unwrap();
    assert_eq!(window(s)[ana].inconvenience, 90);

    // Replaced with a moved occurrence; a declined row never counts.
    let mut declined = entry("u1", ana, "2026-11-16T22:00:00Z", 500);
    declined.status = "declined".into();
    let mut tentative = entry("u1", ana, "2026-11-19T22:00:00Z", 6);
    tentative.status = "tentative".into();
    s.replace_burden(
        &u1,
        ana,
        at("2026-11-05T00:00:00Z"),
        &[
            entry("u1", ana, "2026-11-12T22:00:00Z", 30),
            declined,
            tentative,
        ],
    )
    .unwrap();
    assert_eq!(window(s)[ana].inconvenience, 126);

    // Another member's rows of the same item are not touched.
    s.upsert_burden(&entry("u1", bo, "2026-11-12T22:00:00Z", 12))
        .unwrap();
    s.replace_burden(&u1, ana, at("2026-11-01T00:00:00Z"), &[])
        .unwrap();
    let t = window(s);
    assert!(!t.contains_key(ana));
    assert_eq!(t[bo].inconvenience, 102);

    let u2 = BurdenItem {
        uid: "u2".into(),
        ..u1.clone()
    };
    s.remove_burden(&u2, at("2026-11-10T06:00:00Z"), bo)
        .unwrap();
    s.remove_burden(&u2, at("2026-11-10T06:00:00Z"), bo)
        .unwrap();
    assert_eq!(window(s)[bo].inconvenience, 42);
}

fn urgent_uses<S: Store>(s: &mut S) {
    let t = at("2026-11-20T10:00:00Z");
    let bo = "bo@example.com";
    assert_eq!(s.urgent_uses(bo, "2026-11", "new", "").unwrap(), 0);
    s.record_urgent_use(bo, "2026-11", "u1", "", t).unwrap();
    // Recording again (a crash before the row was finished) counts once.
    s.record_urgent_use(bo, "2026-11", "u1", "", t).unwrap();
    s.record_urgent_use(bo, "2026-11", "u2", "", t).unwrap();
    // An occurrence of a series is an invite of its own.
    s.record_urgent_use(bo, "2026-11", "u2", "20261201T090000Z", t)
        .unwrap();
    s.record_urgent_use(bo, "2026-12", "u3", "", t).unwrap();
    s.record_urgent_use("cy@example.com", "2026-11", "u9", "", t)
        .unwrap();
    // A new invite sees every use so far this month; one already counted
    // keeps its number however often it is screened again.
    assert_eq!(s.urgent_uses(bo, "2026-11", "new", "").unwrap(), 3);
    assert_eq!(s.urgent_uses(bo, "2026-11", "u1", "").unwrap(), 0);
    assert_eq!(s.urgent_uses(bo, "2026-11", "u2", "").unwrap(), 1);
    assert_eq!(
        s.urgent_uses(bo, "2026-11", "u2", "20261201T090000Z")
            .unwrap(),
        2
    );
    assert_eq!(s.urgent_uses(bo, "2026-12", "new", "").unwrap(), 1);
    assert_eq!(
        s.urgent_uses("cy@example.com", "2026-11", "u1", "")
            .unwrap(),
        1
    );
}

fn block(start: &str, hours: i64, kind: ProtectedKind) -> ProtectedBlock {
    let start = at(start);
    ProtectedBlock {
        span: Span {
            start,
            end: start + Duration::hours(hours),
        },
        kind,
    }
}

fn protected_time<S: Store>(s: &mut S) {
    let focus = block("2026-12-01T09:00:00Z", 2, ProtectedKind::FocusTime);
    let away = block("2026-12-03T00:00:00Z", 48, ProtectedKind::OutOfOffice);
    s.replace_protected("g", "ana@example.com", "ev1", &[away, focus])
        .unwrap();
    s.replace_protected("g", "bo@example.com", "ev1", std::slice::from_ref(&focus))
        .unwrap();
    let week = |s: &S, cal: &str| {
        s.protected_blocks(
            "g",
            cal,
            at("2026-11-30T00:00:00Z"),
            at("2026-12-07T00:00:00Z"),
        )
        .unwrap()
    };
    assert_eq!(
        week(s, "ana@example.com"),
        vec![focus, away],
        "in start order"
    );
    // Only blocks that overlap the window: one ending at its start does not.
    assert!(
        s.protected_blocks(
            "g",
            "ana@example.com",
            at("2026-12-01T11:00:00Z"),
            at("2026-12-02T00:00:00Z")
        )
        .unwrap()
        .is_empty()
    );
    // Replacing one event's blocks leaves other events and calendars.
    s.replace_protected("g", "ana@example.com", "ev2", std::slice::from_ref(&focus))
        .unwrap();
    s.replace_protected("g", "ana@example.com", "ev1", &[])
        .unwrap();
    assert_eq!(week(s, "ana@example.com"), vec![focus]);
    assert_eq!(week(s, "bo@example.com"), vec![focus]);
}

// ---------------------------------------------------------------------------
// Rows in today's stored form

/// A decision-log row as gatekeeper stored it before the log was typed:
/// the text of its columns (the others are fixed, see `stored_row_columns`).
pub struct StoredDecision {
    pub decided_at: &'static str,
    pub uid: &'static str,
    pub action: &'static str,
    pub response: Option<&'static str>,
    pub findings: &'static str,
    pub outcome: &'static str,
}

/// The columns every stored row shares: source, calendar, member, title,
/// organizer, policy hash.
pub const STORED_ROW_COLUMNS: [&str; 6] = [
    "ana-local",
    "work",
    "ana@example.com",
    "Sync",
    "bo@example.com",
    "3f9a",
];

/// The findings text the old `findings_json` wrote (keys sorted).
const OLD_FINDINGS: &str = r#"[{"action":"decline","fix":"add a description that says what the meeting should decide or produce","message":"the description has 2 words; this team asks for an agenda of at least 10","problem":{"kind":"missing_agenda","needed":10,"words":2},"rule":"agenda"},{"action":"observe","fix":"invite only the people who must decide, and share notes with the rest","message":"12 people are invited; this team allows 8","problem":{"count":12,"kind":"too_many_people","max":8},"rule":"max_attendees"}]"#;

pub const STORED_ROWS: &[StoredDecision] = &[
    StoredDecision {
        decided_at: "2026-11-20T10:00:00.000Z",
        uid: "decline@x",
        action: "decline",
        response: Some("DECLINED"),
        findings: OLD_FINDINGS,
        outcome: "applied",
    },
    StoredDecision {
        decided_at: "2026-11-20T10:00:01.000Z",
        uid: "allow@x",
        action: "allow",
        response: None,
        findings: "[]",
        outcome: "no_change",
    },
    StoredDecision {
        decided_at: "2026-11-20T10:00:02.000Z",
        uid: "withdrawn@x",
        action: "allow",
        response: Some("NEEDS-ACTION"),
        findings: "[]",
        outcome: "applied",
    },
    StoredDecision {
        decided_at: "2026-11-20T10:00:03.000Z",
        uid: "observed@x",
        action: "annotate",
        response: Some("TENTATIVE"),
        findings: r#"[{"action":"annotate","fix":"move it later, or handle it in writing","message":"it was sent 30 min before it starts; this team asks for 24 hours' notice","problem":{"kind":"short_notice","needed_hours":24,"notice_minutes":30},"rule":"min_notice"}]"#,
        outcome: "observed",
    },
    // What this build cannot read: a hand edit, a newer gatekeeper.
    StoredDecision {
        decided_at: "2026-11-20T10:00:04.000Z",
        uid: "corrupt@x",
        action: "escalate",
        response: Some("X-MAYBE"),
        findings: "{not json",
        outcome: "pending",
    },
    StoredDecision {
        decided_at: "2026-11-20T10:00:05.000Z",
        uid: "newer-rule@x",
        action: "decline",
        response: Some("DECLINED"),
        findings: r#"[{"action":"decline","message":"x","rule":"some_future_rule"}]"#,
        outcome: "failed",
    },
];

/// Checks a store that holds `STORED_ROWS`, stored in that order.
pub fn reads_rows_in_todays_format<S: Store>(s: &S) {
    let log = s.decisions(None).expect("a log with odd rows still reads");
    assert_eq!(log.len(), STORED_ROWS.len());
    for (row, stored) in log.iter().zip(STORED_ROWS) {
        assert_eq!(row.uid, stored.uid);
        assert_eq!(row.member, "ana@example.com");
        assert_eq!(row.decided_at, at(stored.decided_at));
        assert_eq!(row.action.as_str(), stored.action, "{}", stored.uid);
        assert_eq!(
            row.response.as_ref().map(PartStat::as_ical),
            stored.response,
            "{}",
            stored.uid
        );
        assert_eq!(row.outcome.as_str(), stored.outcome);
        // Reading one row alone gives the same value.
        assert_eq!(s.decision(row.id).unwrap().as_ref(), Some(row));
        if row.findings.is_readable() {
            // Written back, it is the text that was read.
            assert_eq!(row.findings.to_stored(), stored.findings);
        }
    }

    let decline = &log[0];
    assert_eq!(decline.action, LoggedAction::Decline);
    assert_eq!(decline.response, Some(PartStat::Declined));
    let f: Vec<_> = decline.findings.iter().collect();
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].rule, f[0].action),
        (RuleKind::Agenda, Action::Decline)
    );
    assert_eq!(
        f[0].message,
        "the description has 2 words; this team asks for an agenda of at least 10"
    );
    assert_eq!(
        (f[1].rule, f[1].action),
        (RuleKind::MaxAttendees, Action::Observe)
    );
    assert_eq!(decline.findings.acting_rules(), vec!["agenda".to_string()]);
    // `gatekeeper log --format json` prints the stored findings as they were.
    let printed = serde_json::to_value(decline).unwrap();
    assert_eq!(
        printed["findings"],
        serde_json::from_str::<serde_json::Value>(OLD_FINDINGS).unwrap()
    );
    assert_eq!(printed["action"], "decline");
    assert_eq!(printed["response"], "DECLINED");

    assert_eq!(log[1].action, LoggedAction::Allow);
    assert_eq!(log[1].findings, Findings::default());
    assert_eq!(log[2].response, Some(PartStat::NeedsAction));
    assert_eq!(
        log[3].findings.acting_rules(),
        vec!["min_notice".to_string()]
    );

    // The unreadable: typed unknowns, kept as stored, printed as before.
    let corrupt = &log[4];
    assert_eq!(corrupt.action, LoggedAction::Unknown("escalate".into()));
    assert_eq!(corrupt.response, Some(PartStat::Other("X-MAYBE".into())));
    assert_eq!(
        corrupt.findings,
        Findings::Unreadable {
            stored: "{not json".into()
        }
    );
    assert_eq!(
        serde_json::to_value(corrupt).unwrap()["findings"],
        serde_json::Value::Null
    );
    assert!(
        !log[5].findings.is_readable(),
        "a rule this build does not know"
    );
    assert!(log[5].findings.acting_rules().is_empty());
}

// ---------------------------------------------------------------------------
// SQLite

#[test]
fn sqlite_in_memory_keeps_the_contract() {
    contract(|| SqliteStore::in_memory().unwrap());
}

#[test]
fn sqlite_file_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    contract(|| {
        n.set(n.get() + 1);
        SqliteStore::open(&dir.path().join(format!("state-{}.db", n.get()))).unwrap()
    });
}

#[test]
fn sqlite_reads_rows_in_todays_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatekeeper.db");
    drop(SqliteStore::open(&path).unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    let [source, calendar, member, title, organizer, policy_hash] = STORED_ROW_COLUMNS;
    for r in STORED_ROWS {
        db.execute(
            "INSERT INTO decisions (decided_at, source, calendar, member, uid, recurrence_id, title,
                                    organizer, action, response, findings, exemption, comment,
                                    policy_hash, outcome, error)
             VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?9, ?10, NULL, NULL, ?11, ?12, NULL)",
            rusqlite::params![
                r.decided_at,
                source,
                calendar,
                member,
                r.uid,
                title,
                organizer,
                r.action,
                r.response,
                r.findings,
                policy_hash,
                r.outcome,
            ],
        )
        .unwrap();
    }
    drop(db);
    reads_rows_in_todays_format(&SqliteStore::open(&path).unwrap());
}
