-- sessionward: a revocation's subject holds any user id. A JWT's `sub` is not bounded by the
-- sessions table (JWT sessions write no row at login), and VARCHAR(255) refused a longer one
-- (strict sql_mode: revoke-all answered 503) or cut it (otherwise: the entry never matched its
-- user, so revoke-all left every token valid). The column is read, never indexed.
ALTER TABLE sessionward_revocations MODIFY subject TEXT NOT NULL;
