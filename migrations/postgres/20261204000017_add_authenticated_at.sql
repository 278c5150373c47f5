-- sessionward: when the user last proved who they are for the session (login or step-up
-- re-authentication). NULL on rows written before this column: the store reads those as
-- `created_at`.
ALTER TABLE sessionward_sessions ADD COLUMN authenticated_at TIMESTAMPTZ NULL;
