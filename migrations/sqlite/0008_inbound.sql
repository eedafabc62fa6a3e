-- What comes back (bounces, complaints, auto-replies, replies, unsubscribe
-- requests), kept with what tend made of it and what it did, so a wrong
-- classification can be seen and undone.
CREATE TABLE inbound_messages (
    id             INTEGER PRIMARY KEY,
    received_at    INTEGER NOT NULL,
    source         TEXT    NOT NULL,              -- smtp, lmtp, imap, file, webhook:ses…
    digest         TEXT    NOT NULL UNIQUE,       -- the same message (or webhook event) is taken once
    kind           TEXT    NOT NULL,              -- hard_bounce, soft_bounce, complaint, auto_reply, reply, unsubscribe, unclassified…
    effect         TEXT    NOT NULL,              -- none, soft_bounce, hard_bounce, complaint, reply, unsubscribe
    classification TEXT    NOT NULL,              -- JSON: what the classifier found
    summary        TEXT    NOT NULL DEFAULT '',   -- one line for listings, addresses masked
    send_id        INTEGER,
    contact_id     INTEGER,
    campaign       TEXT,
    raw            BLOB,                          -- the message as received (NULL after retention)
    suppressed     TEXT,                          -- the suppression this message added, if any
    event_id       INTEGER,                       -- the event it recorded, if any
    failure_id     INTEGER,                       -- the soft bounce it counted, if any
    undone_at      INTEGER,
    undo_note      TEXT
);
CREATE INDEX inbound_received ON inbound_messages (received_at);
CREATE INDEX inbound_contact ON inbound_messages (contact_id);
CREATE INDEX inbound_campaign ON inbound_messages (campaign, kind);

-- What an IMAP poll already decided (so a message left in the mailbox is
-- never handed over twice).
CREATE TABLE imap_seen (
    account      TEXT    NOT NULL,
    folder       TEXT    NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    own          INTEGER NOT NULL,
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (account, folder, uid_validity, uid)
);
