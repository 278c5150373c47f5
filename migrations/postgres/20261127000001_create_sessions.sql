-- sessionward: database sessions (PostgreSQL).
-- `token_hash` is the 32-byte SHA-256 of the session token (the token itself is never stored).
-- Every time is written by the application's clock, never by the database's now().
CREATE TABLE sessionward_sessions (
    id                  UUID        NOT NULL PRIMARY KEY,
    token_hash          BYTEA       NOT NULL UNIQUE,
    user_id             TEXT        NOT NULL,
    data                JSONB       NOT NULL,
    version             BIGINT      NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    refreshed_at        TIMESTAMPTZ NOT NULL,
    expires_at          TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    user_agent          TEXT,
    ip                  TEXT
);

CREATE INDEX sessionward_sessions_user_id ON sessionward_sessions (user_id, created_at);
CREATE INDEX sessionward_sessions_expires_at ON sessionward_sessions (expires_at);
