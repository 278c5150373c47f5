-- sessionward: user-wide data changes on the JWT revocation list (issue 17).
-- kind 'data': every token of the user `subject` whose data dates from at or before
-- `revoked_at` must take the JSON Merge Patch `patch` before it is a session again.
ALTER TABLE sessionward_revocations DROP CONSTRAINT IF EXISTS sessionward_revocations_kind_check;
ALTER TABLE sessionward_revocations
    ADD CONSTRAINT sessionward_revocations_kind_check CHECK (kind IN ('session', 'user', 'data'));
ALTER TABLE sessionward_revocations ADD COLUMN patch TEXT NULL;
ALTER TABLE sessionward_revocations
    ADD CONSTRAINT sessionward_revocations_patch_check CHECK ((kind = 'data') = (patch IS NOT NULL));
