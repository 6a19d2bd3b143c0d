-- Members' own focus-time and out-of-office blocks, as their calendars
-- state them (Google's event types). Incremental sync sends a block once,
-- so it is kept here for later invites to be checked against.
CREATE TABLE protected_time (
    source     TEXT NOT NULL,
    calendar   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    PRIMARY KEY (source, calendar, event_id, starts_at)
);
CREATE INDEX protected_time_by_calendar ON protected_time (source, calendar, starts_at);
