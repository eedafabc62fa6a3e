-- What comes back; see migrations/sqlite/0008_inbound.sql.
CREATE TABLE inbound_messages (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    source         text        NOT NULL,
    digest         text        NOT NULL UNIQUE,
    kind           text        NOT NULL,
    effect         text        NOT NULL,
    classification jsonb       NOT NULL,
    summary        text        NOT NULL DEFAULT '',
    send_id        bigint,
    contact_id     bigint,
    campaign       text,
    raw            bytea,
    suppressed     text,
    event_id       bigint,
    failure_id     bigint,
    undone_at      timestamptz,
    undo_note      text
);
CREATE INDEX inbound_received ON inbound_messages (received_at);
CREATE INDEX inbound_contact ON inbound_messages (contact_id);
CREATE INDEX inbound_campaign ON inbound_messages (campaign, kind);

CREATE TABLE imap_seen (
    account      text        NOT NULL,
    folder       text        NOT NULL,
    uid_validity bigint      NOT NULL,
    uid          bigint      NOT NULL,
    own          boolean     NOT NULL,
    seen_at      timestamptz NOT NULL,
    PRIMARY KEY (account, folder, uid_validity, uid)
);
