-- The web console; see migrations/sqlite/0011_console.sql.
CREATE TABLE audit_log (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    detail  text        NOT NULL DEFAULT '',
    at      timestamptz NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE console_sessions (
    token_hash text        PRIMARY KEY,
    user_name  text        NOT NULL,
    role       text        NOT NULL,
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE console_login_failures (
    id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text        NOT NULL,
    at  timestamptz NOT NULL
);
CREATE INDEX console_login_failures_key ON console_login_failures (key, at);
