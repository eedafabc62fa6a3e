-- Trust: rules judged when a message leaves, replies read by their enhanced
-- status code, and in doubt only when really in doubt.
--
-- The outbox gains a `claimed` state (owned by a sender, not yet on the wire:
-- it goes back to the queue if its sender dies) next to `sending` (message
-- data handed to the server, reply not yet recorded: in doubt if its sender
-- dies). SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with the same rows.
CREATE TABLE sends_new (
    id            INTEGER PRIMARY KEY,
    enrollment_id INTEGER NOT NULL REFERENCES enrollments (id),
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    campaign      TEXT    NOT NULL,
    step          INTEGER NOT NULL,
    template      TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'claimed', 'sending', 'sent', 'retry', 'failed', 'suppressed', 'cancelled', 'in_doubt')),
    due_at        INTEGER NOT NULL,
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
    variants      TEXT,
    opener        TEXT,
    body_text     TEXT,
    sent_seq      INTEGER,
    hold_reason   TEXT,                            -- why a due row waits (window, quiet_hours, cap, relay_paused, domain_paused)
    held_seconds  INTEGER NOT NULL DEFAULT 0,      -- time spent held back: it does not eat the retry budget
    wire_at       INTEGER,                         -- when its message data went to the server
    refusals      INTEGER NOT NULL DEFAULT 0,      -- relay/policy refusals: never the recipient's fault, never count as attempts
    note          TEXT,                            -- what an operator said when settling the row
    UNIQUE (enrollment_id, step)
);
INSERT INTO sends_new (id, enrollment_id, contact_id, campaign, step, template, state, due_at, next_at,
                       attempts, claimed_by, lease_until, message_id, subject, smtp_response, last_error,
                       created_at, sent_at, finished_at, variants, opener, body_text, sent_seq)
SELECT id, enrollment_id, contact_id, campaign, step, template, state, due_at, next_at,
       attempts, claimed_by, lease_until, message_id, subject, smtp_response, last_error,
       created_at, sent_at, finished_at, variants, opener, body_text, sent_seq
FROM sends;
DROP TABLE sends;
ALTER TABLE sends_new RENAME TO sends;
CREATE INDEX sends_ready ON sends (state, next_at);
CREATE INDEX sends_contact ON sends (contact_id, sent_at);
CREATE INDEX sends_sent_seq ON sends (sent_seq);
CREATE INDEX sends_sent_at ON sends (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX sends_enrollment ON sends (enrollment_id, step);
CREATE INDEX sends_claimed_by ON sends (claimed_by) WHERE claimed_by IS NOT NULL;

-- Every process that claims rows. A worker is gone when its process is
-- gone (same host) or when it stopped beating for longer than the lease.
CREATE TABLE workers (
    id           TEXT    PRIMARY KEY,             -- host/boot/pid/start
    host         TEXT    NOT NULL,
    boot_id      TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,                -- the process's start time, in clock ticks since boot
    heartbeat_at INTEGER NOT NULL
);

-- The relay's circuit breaker: opened by policy/transient failures, probed
-- with one message, closed by a success. Shared by every sender.
CREATE TABLE relay_health (
    relay        TEXT    PRIMARY KEY,             -- host:port
    state        TEXT    NOT NULL CHECK (state IN ('closed', 'open')),
    failures     INTEGER NOT NULL DEFAULT 0,      -- consecutive relay-level failures
    trips        INTEGER NOT NULL DEFAULT 0,      -- consecutive openings without a success (pause doubles)
    paused_until INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);

-- Every SMTP answer that was not an acceptance, as classified: what a report,
-- `tend outbox` and the soft-bounce rule read.
CREATE TABLE smtp_failures (
    id         INTEGER PRIMARY KEY,
    send_id    INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    phase      TEXT    NOT NULL,
    verdict    TEXT    NOT NULL,                  -- hard_bounce, soft_bounce, deferred, refused
    reason     TEXT    NOT NULL,                  -- short label from the reply table
    reply      TEXT    NOT NULL                   -- the reply, addresses masked
);
CREATE INDEX smtp_failures_contact ON smtp_failures (contact_id, at);
CREATE INDEX smtp_failures_send ON smtp_failures (send_id);
