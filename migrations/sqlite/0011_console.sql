-- The web console: who did what (the audit log, also for CLI admin actions
-- later), signed-in sessions (only a hash of each token is kept) and failed
-- sign-ins (rate limiting per address and per user).
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    actor   TEXT    NOT NULL,              -- "console:alice", "cli:root"
    action  TEXT    NOT NULL,              -- "suppress", "settle", …
    subject TEXT    NOT NULL,
    detail  TEXT    NOT NULL DEFAULT '',
    at      INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE console_sessions (
    token_hash TEXT    PRIMARY KEY,         -- SHA-256 of the cookie's token, hex
    user_name  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE console_login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL,                   -- "addr:127.0.0.1" or "user:alice"
    at  INTEGER NOT NULL
);
CREATE INDEX console_login_failures_key ON console_login_failures (key, at);
