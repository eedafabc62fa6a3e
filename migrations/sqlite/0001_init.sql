-- tend's ledger on SQLite. Times are UTC seconds since the Unix epoch.

CREATE TABLE contacts (
    id               INTEGER PRIMARY KEY,
    email            TEXT    NOT NULL UNIQUE,      -- lower-cased: uniqueness is case-insensitive
    domain           TEXT    NOT NULL,             -- for domain suppressions and per-domain limits
    name             TEXT,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER,
    timezone         TEXT,
    tags             TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    attributes       TEXT    NOT NULL DEFAULT '{}', -- JSON object
    updated_at       INTEGER NOT NULL
);
CREATE INDEX contacts_created_at ON contacts (created_at);
CREATE INDEX contacts_last_seen ON contacts (coalesce(last_activity_at, created_at));

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    kind       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (contact_id, kind, at, detail)            -- re-importing a file stores nothing twice
);
CREATE INDEX events_contact_at ON events (contact_id, at);

CREATE TABLE suppressions (
    id         INTEGER PRIMARY KEY,
    value      TEXT    NOT NULL UNIQUE,             -- an address, or a bare domain
    scope      TEXT    NOT NULL CHECK (scope IN ('address', 'domain')),
    reason     TEXT    NOT NULL CHECK (reason IN ('unsubscribe', 'bounce', 'complaint', 'manual')),
    source     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE enrollments (
    id          INTEGER PRIMARY KEY,
    campaign    TEXT    NOT NULL,
    contact_id  INTEGER NOT NULL REFERENCES contacts (id),
    grp         TEXT    NOT NULL DEFAULT 'treatment' CHECK (grp IN ('treatment', 'holdout')),
    entered_at  INTEGER NOT NULL,
    exited_at   INTEGER,
    exit_reason TEXT
);
-- At most one open passage per contact and campaign.
CREATE UNIQUE INDEX enrollments_open ON enrollments (campaign, contact_id) WHERE exited_at IS NULL;
CREATE INDEX enrollments_contact ON enrollments (contact_id, campaign);

-- The outbox and the ledger in one table: a row is created before any SMTP
-- traffic, under a unique (enrollment, step) key, and moves
-- queued -> sending -> sent | retry | failed | suppressed | cancelled | in_doubt.
CREATE TABLE sends (
    id            INTEGER PRIMARY KEY,
    enrollment_id INTEGER NOT NULL REFERENCES enrollments (id),
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    campaign      TEXT    NOT NULL,
    step          INTEGER NOT NULL,
    template      TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'retry', 'failed', 'suppressed', 'cancelled', 'in_doubt')),
    due_at        INTEGER NOT NULL,                 -- first due; retries move next_at
    next_at       INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_by    TEXT,
    lease_until   INTEGER,
    message_id    TEXT,
    subject       TEXT,
    smtp_response TEXT,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER,
    finished_at   INTEGER,
    UNIQUE (enrollment_id, step)
);
CREATE INDEX sends_ready ON sends (state, next_at);
CREATE INDEX sends_contact ON sends (contact_id, sent_at);

CREATE TABLE ticks (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,                   -- the tick's `now`
    finished_at INTEGER NOT NULL,
    enrolled    INTEGER NOT NULL,
    queued      INTEGER NOT NULL
);
