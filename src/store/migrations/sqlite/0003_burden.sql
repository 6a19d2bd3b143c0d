-- The burden ledger: what each occurrence of a meeting a member accepted
-- costs them in inconvenience (src/fairness/). One row per member per
-- occurrence; a decline or a cancellation removes the rows from then on.
CREATE TABLE burden (
    source           TEXT NOT NULL,
    calendar         TEXT NOT NULL,
    uid              TEXT NOT NULL,
    recurrence_id    TEXT NOT NULL,
    occurrence_start TEXT NOT NULL,
    member           TEXT NOT NULL,
    occurrence_end   TEXT NOT NULL,
    inconvenience    INTEGER NOT NULL,
    outside_minutes  INTEGER NOT NULL,
    status           TEXT NOT NULL,
    PRIMARY KEY (source, calendar, uid, recurrence_id, occurrence_start, member)
);
CREATE INDEX burden_by_time ON burden (occurrence_start);
