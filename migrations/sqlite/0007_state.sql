-- Typed operational state instead of untyped key/value rows: safe when
-- several writers update it, and readable by anyone who opens the database.
CREATE TABLE schedule_checkpoints (
    campaign      TEXT    PRIMARY KEY,
    checked_until INTEGER NOT NULL          -- the entry schedule was checked up to here
);
INSERT INTO schedule_checkpoints (campaign, checked_until)
SELECT substr(key, 10), CAST(unixepoch(json_extract(value, '$.checked_until')) AS INTEGER)
FROM daemon_state
WHERE key LIKE 'schedule:%' AND unixepoch(json_extract(value, '$.checked_until')) IS NOT NULL;

CREATE TABLE pilot_promotions (
    campaign    TEXT    PRIMARY KEY,
    promoted_at INTEGER NOT NULL
);
INSERT INTO pilot_promotions (campaign, promoted_at)
SELECT substr(key, 7, length(key) - 15), CAST(unixepoch(json_extract(value, '$.at')) AS INTEGER)
FROM daemon_state
WHERE key LIKE 'pilot:%:promoted' AND unixepoch(json_extract(value, '$.at')) IS NOT NULL;

-- One row per running daemon: its next tick (for `tend status`).
CREATE TABLE daemons (
    id                 TEXT    PRIMARY KEY,
    pid                INTEGER NOT NULL,
    next_tick_at       INTEGER NOT NULL,
    tick_every_seconds INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- Every reload of campaigns and templates, good or rejected.
CREATE TABLE reloads (
    id        INTEGER PRIMARY KEY,
    daemon    TEXT    NOT NULL,
    ok        INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    campaigns INTEGER NOT NULL,
    errors    TEXT    NOT NULL DEFAULT '[]',   -- JSON array of "path:line:col: message"
    at        INTEGER NOT NULL
);

DROP TABLE daemon_state;
