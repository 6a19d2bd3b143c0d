-- PostgreSQL's schema: the same tables as SQLite's migrations 0001-0004,
-- with the database's own types (timestamptz, boolean, identity ids).
-- Append-only: a change is a new file.

-- The decision log: one row per decision gatekeeper made.
CREATE TABLE decisions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decided_at    TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL,
    calendar      TEXT NOT NULL,
    member        TEXT NOT NULL,
    uid           TEXT NOT NULL,
    recurrence_id TEXT NOT NULL,
    title         TEXT NOT NULL,
    organizer     TEXT NOT NULL,
    action        TEXT NOT NULL,
    response      TEXT,
    findings      TEXT NOT NULL,
    exemption     TEXT,
    comment       TEXT,
    policy_hash   TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    error         TEXT
);
CREATE INDEX decisions_by_time ON decisions (decided_at);

-- What was already screened: one row per invite per member.
CREATE TABLE screenings (
    source           TEXT NOT NULL,
    calendar         TEXT NOT NULL,
    uid              TEXT NOT NULL,
    recurrence_id    TEXT NOT NULL,
    member           TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    policy_hash      TEXT NOT NULL,
    applied_partstat TEXT,
    applied_comment  TEXT,
    decision_id      BIGINT,
    complete         BOOLEAN NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, calendar, uid, recurrence_id, member)
);

-- Urgent exceptions spent, per organizer per month (UTC). `seq` numbers
-- the uses in the order they were recorded (SQLite's rowid); recording is
-- serialized per organizer and month, so that order is the commit order.
CREATE TABLE urgent_uses (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    organizer     TEXT NOT NULL,
    month         TEXT NOT NULL,
    uid           TEXT NOT NULL,
    recurrence_id TEXT NOT NULL,
    used_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organizer, month, uid, recurrence_id)
);

CREATE TABLE sync_cursors (
    source   TEXT NOT NULL,
    calendar TEXT NOT NULL,
    item     TEXT NOT NULL,
    cursor   TEXT NOT NULL,
    PRIMARY KEY (source, calendar, item)
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- The burden ledger (src/fairness/).
CREATE TABLE burden (
    source           TEXT NOT NULL,
    calendar         TEXT NOT NULL,
    uid              TEXT NOT NULL,
    recurrence_id    TEXT NOT NULL,
    occurrence_start TIMESTAMPTZ NOT NULL,
    member           TEXT NOT NULL,
    occurrence_end   TIMESTAMPTZ NOT NULL,
    inconvenience    BIGINT NOT NULL,
    outside_minutes  BIGINT NOT NULL,
    status           TEXT NOT NULL,
    PRIMARY KEY (source, calendar, uid, recurrence_id, occurrence_start, member)
);
CREATE INDEX burden_by_time ON burden (occurrence_start);

-- Members' own focus-time and out-of-office blocks.
CREATE TABLE protected_time (
    source     TEXT NOT NULL,
    calendar   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    PRIMARY KEY (source, calendar, event_id, starts_at)
);
CREATE INDEX protected_time_by_calendar ON protected_time (source, calendar, starts_at);
