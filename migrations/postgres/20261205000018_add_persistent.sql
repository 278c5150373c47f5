-- sessionward: whether the session was signed in with "remember me" (a persistent cookie and
-- the full lifetime) or not (a browser-session cookie and the shorter browser-session
-- lifetime). Rows written before this column were all remembered.
ALTER TABLE sessionward_sessions ADD COLUMN persistent BOOLEAN NOT NULL DEFAULT TRUE;
