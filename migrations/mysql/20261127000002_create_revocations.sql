-- sessionward: the JWT revocation list (MySQL / MariaDB).
-- kind 'session': every token of the session `subject` (a sid) is revoked.
-- kind 'user': every token of the user `subject` signed in at or before `revoked_at` is revoked.
-- A row can go once `expires_at` has passed: every token it covers has expired by then.
CREATE TABLE sessionward_revocations (
    id         CHAR(36)     NOT NULL PRIMARY KEY,
    kind       VARCHAR(16)  NOT NULL,
    subject    VARCHAR(255) NOT NULL,
    revoked_at DATETIME(6)  NOT NULL,
    expires_at DATETIME(6)  NOT NULL,
    INDEX sessionward_revocations_revoked_at (revoked_at),
    INDEX sessionward_revocations_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
