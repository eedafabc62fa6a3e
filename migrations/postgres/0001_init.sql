-- tend's ledger on PostgreSQL, shared by every daemon that sends from it.
-- The same tables as on SQLite (migrations/sqlite/), in PostgreSQL's own
-- types: instants are timestamptz, tags and attributes jsonb.

CREATE TABLE contacts (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email            text        NOT NULL UNIQUE,      -- lower-cased: uniqueness is case-insensitive
    domain           text        NOT NULL,
    name             text,
    created_at       timestamptz NOT NULL,
    last_activity_at timestamptz,
    timezone         text,
    tags             jsonb       NOT NULL DEFAULT '[]', -- array of strings
    attributes       jsonb       NOT NULL DEFAULT '{}', -- object
    updated_at       timestamptz NOT NULL
);
CREATE INDEX contacts_created_at ON contacts (created_at);
CREATE INDEX contacts_last_seen ON contacts ((coalesce(last_activity_at, created_at)));
CREATE INDEX contacts_domain ON contacts (domain);

CREATE TABLE events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id bigint      NOT NULL REFERENCES contacts (id),
    kind       text        NOT NULL,
    at         timestamptz NOT NULL,
    detail     text        NOT NULL DEFAULT '',
    source     text        NOT NULL,
    created_at timestamptz NOT NULL,
    -- clicks on tracked links: the message, the HTTP method, the User-Agent,
    -- and why the click looks automated (NULL: it looks like a reader)
    send_id    bigint,
    method     text,
    user_agent text,
    automated  text
);
-- Re-importing a file stores nothing twice. The detail is compared by its
-- digest: an index row holds at most ~2.7 kB and details may be longer.
CREATE UNIQUE INDEX events_once ON events (contact_id, kind, at, md5(detail));
CREATE INDEX events_contact_kind_at ON events (contact_id, kind, at);
CREATE INDEX events_contact_at ON events (contact_id, at);
CREATE INDEX events_send ON events (send_id) WHERE send_id IS NOT NULL;

CREATE TABLE suppressions (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    value      text        NOT NULL UNIQUE,             -- an address, or a bare domain
    scope      text        NOT NULL CHECK (scope IN ('address', 'domain')),
    reason     text        NOT NULL CHECK (reason IN ('unsubscribe', 'bounce', 'complaint', 'manual')),
    source     text        NOT NULL,
    detail     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);

CREATE TABLE enrollments (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign    text        NOT NULL,
    contact_id  bigint      NOT NULL REFERENCES contacts (id),
    grp         text        NOT NULL DEFAULT 'treatment' CHECK (grp IN ('treatment', 'holdout')),
    entered_at  timestamptz NOT NULL,
    exited_at   timestamptz,
    exit_reason text
);
-- At most one open passage per contact and campaign: a racing enrollment is a no-op.
CREATE UNIQUE INDEX enrollments_open ON enrollments (campaign, contact_id) WHERE exited_at IS NULL;
CREATE INDEX enrollments_contact ON enrollments (contact_id, campaign);
CREATE INDEX enrollments_campaign_open ON enrollments (campaign) WHERE exited_at IS NULL;

-- The outbox and the ledger in one table; see migrations/sqlite/0005_trust.sql
-- for the states. Claims take rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE sends (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enrollment_id bigint      NOT NULL REFERENCES enrollments (id),
    contact_id    bigint      NOT NULL REFERENCES contacts (id),
    campaign      text        NOT NULL,
    step          integer     NOT NULL,
    template      text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('queued', 'claimed', 'sending', 'sent', 'retry', 'failed', 'suppressed', 'cancelled', 'in_doubt')),
    due_at        timestamptz NOT NULL,
    next_at       timestamptz NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    claimed_by    text,
    lease_until   timestamptz,
    message_id    text,
    subject       text,
    smtp_response text,
    last_error    text,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz,
    finished_at   timestamptz,
    variants      jsonb,
    opener        text,
    body_text     text,
    sent_seq      bigint,                                -- from sends_sent_seq: safe with several writers
    hold_reason   text,
    held_seconds  bigint      NOT NULL DEFAULT 0,
    wire_at       timestamptz,
    refusals      integer     NOT NULL DEFAULT 0,
    note          text,
    UNIQUE (enrollment_id, step)
);
CREATE SEQUENCE sends_sent_seq;
CREATE INDEX sends_ready ON sends (state, next_at);
CREATE INDEX sends_contact ON sends (contact_id, sent_at);
CREATE INDEX sends_sent_seq_idx ON sends (sent_seq);
CREATE INDEX sends_sent_at ON sends (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX sends_enrollment ON sends (enrollment_id, step);
CREATE INDEX sends_claimed_by ON sends (claimed_by) WHERE claimed_by IS NOT NULL;

CREATE TABLE ticks (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    enrolled    bigint      NOT NULL,
    queued      bigint      NOT NULL,
    duration_ms bigint      NOT NULL DEFAULT 0
);

CREATE TABLE attribute_types (
    name text PRIMARY KEY,
    type text NOT NULL CHECK (type IN ('number', 'text', 'boolean', 'date', 'mixed'))
);

CREATE TABLE secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE domain_health (
    domain       text        PRIMARY KEY,
    deferrals    integer     NOT NULL,
    paused_until timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL
);

CREATE TABLE workers (
    id           text        PRIMARY KEY,
    host         text        NOT NULL,
    boot_id      text        NOT NULL,
    pid          bigint      NOT NULL,
    started_at   bigint      NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

CREATE TABLE relay_health (
    relay        text        PRIMARY KEY,
    state        text        NOT NULL CHECK (state IN ('closed', 'open')),
    failures     integer     NOT NULL DEFAULT 0,
    trips        integer     NOT NULL DEFAULT 0,
    paused_until timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL
);

CREATE TABLE smtp_failures (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    send_id    bigint      NOT NULL,
    contact_id bigint      NOT NULL,
    at         timestamptz NOT NULL,
    phase      text        NOT NULL,
    verdict    text        NOT NULL,
    reason     text        NOT NULL,
    reply      text        NOT NULL
);
CREATE INDEX smtp_failures_contact ON smtp_failures (contact_id, at);
CREATE INDEX smtp_failures_send ON smtp_failures (send_id);

CREATE TABLE schedule_checkpoints (
    campaign      text        PRIMARY KEY,
    checked_until timestamptz NOT NULL
);

CREATE TABLE pilot_promotions (
    campaign    text        PRIMARY KEY,
    promoted_at timestamptz NOT NULL
);

CREATE TABLE daemons (
    id                 text        PRIMARY KEY,
    pid                bigint      NOT NULL,
    next_tick_at       timestamptz NOT NULL,
    tick_every_seconds bigint      NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE reloads (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    daemon    text        NOT NULL,
    ok        boolean     NOT NULL,
    reason    text        NOT NULL,
    campaigns bigint      NOT NULL,
    errors    jsonb       NOT NULL DEFAULT '[]',
    at        timestamptz NOT NULL
);

-- Rates shared by every daemon (the global rate, per-domain rates): a
-- generic cell rate algorithm, one row per limit. `tat` is the theoretical
-- arrival time of the next message; reserving n messages moves it n
-- intervals on, atomically.
CREATE TABLE rate_limits (
    key text        PRIMARY KEY,
    tat timestamptz NOT NULL
);

-- A date attribute compared in a filter: text that is not a date is no
-- date (NULL), never an error that stops the whole query. STABLE: the cast
-- reads the session's time zone (tend's sessions run in UTC).
CREATE FUNCTION tend_try_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
