-- The tables of @auth/pg-adapter, exactly as Auth.js documents them: the schema in the
-- adapter's documentation ("Schema" on https://authjs.dev/getting-started/adapters/pg, the same
-- text as the reference page of @auth/pg-adapter 1.11.3). The npm package ships no SQL file,
-- so this copy is checked in. (The adapter's source repository also has a schema.sql with
-- UNIQUE and REFERENCES constraints added; sessionward reads both.)
--
-- Used by tests/authjs/pg-adapter.mjs (which runs it before driving the real adapter) and by
-- tests/suite/authjs_database.rs (which runs it itself when the npm packages are missing).

CREATE TABLE verification_token
(
  identifier TEXT NOT NULL,
  expires TIMESTAMPTZ NOT NULL,
  token TEXT NOT NULL,

  PRIMARY KEY (identifier, token)
);

CREATE TABLE accounts
(
  id SERIAL,
  "userId" INTEGER NOT NULL,
  type VARCHAR(255) NOT NULL,
  provider VARCHAR(255) NOT NULL,
  "providerAccountId" VARCHAR(255) NOT NULL,
  refresh_token TEXT,
  access_token TEXT,
  expires_at BIGINT,
  id_token TEXT,
  scope TEXT,
  session_state TEXT,
  token_type TEXT,

  PRIMARY KEY (id)
);

CREATE TABLE sessions
(
  id SERIAL,
  "userId" INTEGER NOT NULL,
  expires TIMESTAMPTZ NOT NULL,
  "sessionToken" VARCHAR(255) NOT NULL,

  PRIMARY KEY (id)
);

CREATE TABLE users
(
  id SERIAL,
  name VARCHAR(255),
  email VARCHAR(255),
  "emailVerified" TIMESTAMPTZ,
  image TEXT,

  PRIMARY KEY (id)
);
