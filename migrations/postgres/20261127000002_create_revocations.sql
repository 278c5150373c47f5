-- sessionward: the JWT revocation list (PostgreSQL).
-- kind 'session': every token of the session `subject` (a sid) is revoked.
-- kind 'user': every token of the user `subject` signed in at or before `revoked_at` is revoked.
-- A row can go once `expires_at` has passed: every token it covers has expired by then.
CREATE TABLE sessionward_revocations (
    id         UUID        NOT NULL PRIMARY KEY,
    kind       TEXT        NOT NULL CHECK (kind IN ('session', 'user')),
    subject    TEXT        NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessionward_revocations_revoked_at ON sessionward_revocations (revoked_at);
CREATE INDEX sessionward_revocations_expires_at ON sessionward_revocations (expires_at);
