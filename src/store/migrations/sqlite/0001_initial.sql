-- The decision log: one row per decision gatekeeper made.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at    TEXT NOT NULL,
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

-- What was already screened, so a restart does not repeat work. One row per
-- invite (series or changed occurrence) per member.
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
    decision_id      INTEGER,
    complete         INTEGER NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (source, calendar, uid, recurrence_id, member)
);

-- Urgent exceptions spent, per organizer per month (UTC). One invite counts
-- once however many members it reaches.
CREATE TABLE urgent_uses (
    organizer     TEXT NOT NULL,
    month         TEXT NOT NULL,
    uid           TEXT NOT NULL,
    recurrence_id TEXT NOT NULL,
    used_at       TEXT NOT NULL,
    PRIMARY KEY (organizer, month, uid, recurrence_id)
);

-- Per-source sync cursors: for a local folder, the etag of every item seen;
-- for an API source, its sync token under item ''.
CREATE TABLE sync_cursors (
    source   TEXT NOT NULL,
    calendar TEXT NOT NULL,
    item     TEXT NOT NULL,
    cursor   TEXT NOT NULL,
    PRIMARY KEY (source, calendar, item)
);
