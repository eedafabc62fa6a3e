-- Privacy: what is left of an erased person is a keyed hash of their
-- address (HMAC-SHA256 with the `erasure` secret), so a re-import of the
-- same address is suppressed again without the address being kept; and the
-- last time the retention rules were applied, for `tend status`.
CREATE TABLE erasures (
    hash      text        PRIMARY KEY,
    reason    text        NOT NULL,
    erased_at timestamptz NOT NULL
);

CREATE TABLE retention_runs (
    id          integer     PRIMARY KEY CHECK (id = 1),
    ran_at      timestamptz NOT NULL,
    bodies      bigint      NOT NULL,
    events      bigint      NOT NULL,
    inbound_raw bigint      NOT NULL
);
