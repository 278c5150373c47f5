-- sessionward: user-wide data changes on the JWT revocation list (issue 17).
-- kind 'data': every token of the user `subject` whose data dates from at or before
-- `revoked_at` must take the JSON Merge Patch `patch` before it is a session again.
-- SQLite cannot change a CHECK constraint: the table is built again with the new kind.
CREATE TABLE sessionward_revocations_v2 (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('session', 'user', 'data')),
    subject    TEXT    NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    patch      TEXT    NULL CHECK ((kind = 'data') = (patch IS NOT NULL))
);
INSERT INTO sessionward_revocations_v2 (id, kind, subject, revoked_at, expires_at)
    SELECT id, kind, subject, revoked_at, expires_at FROM sessionward_revocations;
DROP TABLE sessionward_revocations;
ALTER TABLE sessionward_revocations_v2 RENAME TO sessionward_revocations;
CREATE INDEX sessionward_revocations_revoked_at ON sessionward_revocations (revoked_at);
CREATE INDEX sessionward_revocations_expires_at ON sessionward_revocations (expires_at);
