// Drives the real @auth/pg-adapter (pinned in package.json / package-lock.json) against the
// PostgreSQL database named by DATABASE_URL, for tests/suite/authjs_database.rs: the Rust test
// hands a JSON list of operations as the one argument and reads a JSON list of results, one per
// operation, from stdout. Rows are written and read exactly the way Auth.js does it.
//
//   DATABASE_URL=postgres://... node tests/authjs/pg-adapter.mjs '[{"op":"schema"}]'
//
// Operations:
//   {"op":"schema"}                                   runs pg-adapter-schema.sql (the documented schema)
//   {"op":"createUser","user":{name,email,emailVerified,image}}     adapter.createUser -> the user
//   {"op":"createSession","sessionToken","userId","expires"}        adapter.createSession -> the session
//   {"op":"getSessionAndUser","sessionToken"}        adapter.getSessionAndUser -> {session,user} or null
//   {"op":"deleteSession","sessionToken"}            adapter.deleteSession -> null
//   {"op":"versions"}                                 the packages' versions
// Dates go in and come out as ISO strings (what JSON.stringify makes of a Date).
import { readFileSync } from "node:fs";
import PostgresAdapter from "@auth/pg-adapter";
import pg from "pg";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is not set");
const ops = JSON.parse(process.argv[2] ?? "[]");
const pool = new pg.Pool({ connectionString: url, max: 1 });
const adapter = PostgresAdapter(pool);
const date = (iso) => (iso == null ? null : new Date(iso));
const version = (name) =>
  JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url))).version;

const results = [];
try {
  for (const op of ops) {
    switch (op.op) {
      case "schema":
        await pool.query(readFileSync(new URL("pg-adapter-schema.sql", import.meta.url), "utf8"));
        results.push(null);
        break;
      case "createUser":
        results.push(
          await adapter.createUser({ ...op.user, emailVerified: date(op.user.emailVerified) }),
        );
        break;
      case "createSession":
        results.push(
          await adapter.createSession({
            sessionToken: op.sessionToken,
            userId: op.userId,
            expires: date(op.expires),
          }),
        );
        break;
      case "getSessionAndUser":
        results.push(await adapter.getSessionAndUser(op.sessionToken));
        break;
      case "deleteSession":
        await adapter.deleteSession(op.sessionToken);
        results.push(null);
        break;
      case "versions":
        results.push({ "@auth/pg-adapter": version("@auth/pg-adapter"), pg: version("pg") });
        break;
      default:
        throw new Error(`unknown operation ${JSON.stringify(op.op)}`);
    }
  }
} finally {
  await pool.end();
}
console.log(JSON.stringify(results));
