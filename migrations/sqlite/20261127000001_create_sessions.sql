-- sessionward: database sessions (SQLite).
-- Times are unix microseconds (UTC); `id` is a hyphenated lowercase UUID; `token_hash` is the
-- 32-byte SHA-256 of the session token (the token itself is never stored).
CREATE TABLE sessionward_sessions (
    id                  TEXT    NOT NULL PRIMARY KEY,
    token_hash          BLOB    NOT NULL UNIQUE,
    user_id             TEXT    NOT NULL,
    data                TEXT    NOT NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    refreshed_at        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    user_agent          TEXT,
    ip                  TEXT
);

CREATE INDEX sessionward_sessions_user_id ON sessionward_sessions (user_id, created_at);
CREATE INDEX sessionward_sessions_expires_at ON sessionward_sessions (expires_at);
