-- Secrets tend generates for itself (e.g. the key that signs unsubscribe links).
CREATE TABLE secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Per-recipient-domain sending health: deferring domains are paused and
-- recover gradually. Written by senders, read by `tend status`.
CREATE TABLE domain_health (
    domain       TEXT    PRIMARY KEY,
    deferrals    INTEGER NOT NULL,            -- consecutive 4xx/421 answers
    paused_until INTEGER,                     -- no sends to the domain before this
    last_error   TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);

CREATE INDEX sends_sent_at ON sends (sent_at) WHERE sent_at IS NOT NULL;

-- Operations: how long ticks take, and what the running daemon reports about
-- itself (reload status, next tick) for `tend status`.
ALTER TABLE ticks ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE daemon_state (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,              -- JSON
    updated_at INTEGER NOT NULL
);
