-- Several instances on one database split the members with leases
-- (src/store/lease.rs). Times are the database's clock, never a host's.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_pass_at TIMESTAMPTZ
);

-- One row per member: the primary key is what makes "no member held by
-- two instances" hold. A lease counts until `expires_at`.
CREATE TABLE leases (
    member      TEXT PRIMARY KEY,
    instance    TEXT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX leases_by_instance ON leases (instance);
