-- The Session and User tables of Auth.js's Prisma schema on PostgreSQL, in the form
-- `prisma migrate` writes them (string ids from `@default(cuid())`, `DateTime` as
-- `TIMESTAMP(3)` holding UTC): the models `User` and `Session` of the Prisma adapter's
-- documentation for NextAuth.js v4 (`@next-auth/prisma-adapter`). Auth.js v5's models
-- (https://authjs.dev/getting-started/adapters/prisma) drop `Session.id` and add `createdAt` /
-- `updatedAt`; the columns sessionward reads are the same in both. Written by hand to match
-- Prisma's output: Prisma itself is not run by the tests.
--
-- Used by tests/suite/authjs_database.rs with `AuthJsDatabaseConfig::prisma()`.

CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "email" TEXT,
    "emailVerified" TIMESTAMP(3),
    "image" TEXT,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "Session" (
    "id" TEXT NOT NULL,
    "sessionToken" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "expires" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

CREATE UNIQUE INDEX "Session_sessionToken_key" ON "Session"("sessionToken");

ALTER TABLE "Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
