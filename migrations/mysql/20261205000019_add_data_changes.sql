-- sessionward: user-wide data changes on the JWT revocation list (issue 17).
-- kind 'data': every token of the user `subject` whose data dates from at or before
-- `revoked_at` must take the JSON Merge Patch `patch` before it is a session again.
ALTER TABLE sessionward_revocations ADD COLUMN patch TEXT NULL;
