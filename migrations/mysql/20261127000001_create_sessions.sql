-- sessionward: database sessions (MySQL / MariaDB).
-- Times are DATETIME(6) holding UTC; `id` is a hyphenated lowercase UUID; `token_hash` is the
-- 32-byte SHA-256 of the session token (the token itself is never stored).
-- utf8mb4_bin: user ids compare case-sensitively, as on the other backends.
CREATE TABLE sessionward_sessions (
    id                  CHAR(36)     NOT NULL PRIMARY KEY,
    token_hash          BINARY(32)   NOT NULL UNIQUE,
    user_id             VARCHAR(255) NOT NULL,
    data                LONGTEXT     NOT NULL,
    version             BIGINT       NOT NULL,
    created_at          DATETIME(6)  NOT NULL,
    refreshed_at        DATETIME(6)  NOT NULL,
    expires_at          DATETIME(6)  NOT NULL,
    absolute_expires_at DATETIME(6)  NOT NULL,
    user_agent          VARCHAR(512) NULL,
    ip                  VARCHAR(64)  NULL,
    INDEX sessionward_sessions_user_id (user_id, created_at),
    INDEX sessionward_sessions_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
