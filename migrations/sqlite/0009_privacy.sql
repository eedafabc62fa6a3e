-- Privacy: what is left of an erased person is a keyed hash of their
-- address (HMAC-SHA256 with the `erasure` secret), so a re-import of the
-- same address is suppressed again without the address being kept; and the
-- last time the retention rules were applied, for `tend status`.
CREATE TABLE erasures (
    hash      TEXT    PRIMARY KEY,
    reason    TEXT    NOT NULL,                    -- the suppression reason the person had, or 'manual'
    erased_at INTEGER NOT NULL
);

CREATE TABLE retention_runs (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    ran_at      INTEGER NOT NULL,
    bodies      INTEGER NOT NULL,                  -- message bodies forgotten
    events      INTEGER NOT NULL,                  -- events deleted
    inbound_raw INTEGER NOT NULL                   -- inbound raw messages forgotten
);
