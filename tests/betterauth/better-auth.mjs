// Drives the real better-auth (pinned in package.json / package-lock.json) for
// tests/suite/betterauth/: the Rust test hands the app's options and a JSON list of operations,
// and reads a JSON list of results, one per operation, from stdout. Sessions are made, read and
// ended exactly the way a Better Auth app does it, through `auth.api` with real requests.
//
//   node tests/betterauth/better-auth.mjs '<options>' '<operations>'
//
// Options: {"database": "postgres://..." | "mysql://..." | "sqlite:<file>", "secret",
//   "baseURL" (https:// gives __Secure- cookies), "cookiePrefix", "cookieCache" (a strategy:
//   "compact" | "jwt" | "jwe"), "custom" (models `member` and `login`, `emailVerified` in column
//   `email_verified`, `expiresAt` in `expires_at`), "bearer" (the plugin),
//   "admin" (the plugin), "additionalFields" (user fields `credits` number, `birthday` date,
//   `tags` string[], `newsletter` boolean), "expiresIn", "updateAge", "plural" (SQLite only: the Kysely adapter's
//   `usePlural`, tables `users`, `sessions`, `accounts`, `verifications`)}
// Operations:
//   {"op":"migrate"}                                  Better Auth's own migrations (with
//                                                     "plural", its tables then renamed)
//   {"op":"signUp","name","email","password","image"?,"fields"?}
//                                                     -> {cookies, authToken, user, token}
//   {"op":"signIn","email","password","rememberMe"}   -> {cookies, authToken, user, token}
//   {"op":"getSession","cookie"|"bearer"}             -> {session, user} or null, and cookies set
//   {"op":"signOut","cookie"}                         -> the cookies set
//   {"op":"setRole","userId","role"}                  the admin plugin's role, through the adapter
//   {"op":"versions"}                                 the packages' versions
// `cookies` maps each cookie the response sets (not the ones it clears) to its value as sent.
import { readFileSync } from "node:fs";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { admin, bearer } from "better-auth/plugins";
// better-auth's own Kysely adapter and Kysely (the versions better-auth 1.7.29 depends on,
// pinned in package.json): the only way to give the built-in SQL adapter `usePlural`.
import { kyselyAdapter } from "@better-auth/kysely-adapter";
import { Kysely, SqliteDialect } from "kysely";

const options = JSON.parse(process.argv[2] ?? "{}");
const ops = JSON.parse(process.argv[3] ?? "[]");

async function database(url) {
  if (url.startsWith("postgres")) {
    const pg = (await import("pg")).default;
    return { db: new pg.Pool({ connectionString: url, max: 1 }), close: (db) => db.end() };
  }
  if (url.startsWith("mysql")) {
    const mysql = await import("mysql2/promise");
    const db = mysql.createPool({ uri: url, connectionLimit: 1, timezone: "Z" });
    // Times in UTC whatever the server's zone (TIMESTAMP columns convert through it).
    db.pool.on("connection", (c) => c.query("SET time_zone = '+00:00'"));
    return { db, close: (db) => db.end() };
  }
  if (url.startsWith("sqlite:")) {
    const Database = (await import("better-sqlite3")).default;
    return { db: new Database(url.slice("sqlite:".length)), close: (db) => db.close() };
  }
  throw new Error(`unknown database ${url}`);
}

const { db, close } = await database(options.database);
if (options.plural && !options.database.startsWith("sqlite:")) {
  throw new Error("plural tables are only set up on SQLite");
}
/// The adapter's `usePlural`: Better Auth's migrations know nothing of it (they always make
/// singular tables), so `migrate` renames what they made.
const pluralTables = ["user", "session", "account", "verification"];
const plugins = [];
if (options.bearer) plugins.push(bearer());
if (options.admin) plugins.push(admin());
const auth = betterAuth({
  database: options.plural
    ? kyselyAdapter(new Kysely({ dialect: new SqliteDialect({ database: db }) }), {
        type: "sqlite",
        usePlural: true,
      })
    : db,
  secret: options.secret,
  baseURL: options.baseURL ?? "http://localhost:3000",
  emailAndPassword: { enabled: true },
  logger: { disabled: true },
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
  advanced: options.cookiePrefix ? { cookiePrefix: options.cookiePrefix } : {},
  user: {
    ...(options.custom ? { modelName: "member", fields: { emailVerified: "email_verified" } } : {}),
    ...(options.additionalFields
      ? {
          additionalFields: {
            credits: { type: "number", required: false },
            birthday: { type: "date", required: false },
            tags: { type: "string[]", required: false },
            newsletter: { type: "boolean", required: false },
          },
        }
      : {}),
  },
  session: {
    ...(options.custom ? { modelName: "login", fields: { expiresAt: "expires_at" } } : {}),
    ...(options.expiresIn ? { expiresIn: options.expiresIn } : {}),
    ...(options.updateAge !== undefined ? { updateAge: options.updateAge } : {}),
    ...(options.cookieCache
      ? { cookieCache: { enabled: true, maxAge: 300, strategy: options.cookieCache } }
      : {}),
  },
  plugins,
});

const origin = new URL(options.baseURL ?? "http://localhost:3000").origin;

/// The cookies a response sets (cleared ones left out), as sent on the wire.
function cookies(headers) {
  const set = {};
  for (const line of headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(";");
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const cleared = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
    if (value && !cleared) set[name] = value;
  }
  return set;
}

function requestHeaders(op) {
  const headers = new Headers({ origin });
  if (op.cookie) headers.set("cookie", op.cookie);
  if (op.bearer) headers.set("authorization", `Bearer ${op.bearer}`);
  return headers;
}

async function signed(response) {
  const body = await response.json();
  return {
    status: response.status,
    cookies: cookies(response.headers),
    authToken: response.headers.get("set-auth-token"),
    user: body.user,
    token: body.token,
  };
}

const results = [];
try {
  for (const op of ops) {
    switch (op.op) {
      case "migrate": {
        const { runMigrations } = await getMigrations({ ...auth.options, database: db });
        await runMigrations();
        if (options.plural) {
          for (const table of pluralTables) db.exec(`ALTER TABLE "${table}" RENAME TO "${table}s"`);
        }
        results.push(null);
        break;
      }
      case "signUp":
        results.push(
          await signed(
            await auth.api.signUpEmail({
              body: {
                name: op.name,
                email: op.email,
                password: op.password,
                ...(op.image ? { image: op.image } : {}),
                ...(op.fields ?? {}),
              },
              headers: requestHeaders(op),
              asResponse: true,
            }),
          ),
        );
        break;
      case "signIn":
        results.push(
          await signed(
            await auth.api.signInEmail({
              body: { email: op.email, password: op.password, rememberMe: op.rememberMe ?? true },
              headers: requestHeaders(op),
              asResponse: true,
            }),
          ),
        );
        break;
      case "getSession": {
        const response = await auth.api.getSession({
          headers: requestHeaders(op),
          asResponse: true,
        });
        results.push({ body: await response.json(), cookies: cookies(response.headers) });
        break;
      }
      case "signOut": {
        const response = await auth.api.signOut({ headers: requestHeaders(op), asResponse: true });
        results.push({ status: response.status, cookies: cookies(response.headers) });
        break;
      }
      case "setRole": {
        const ctx = await auth.$context;
        await ctx.internalAdapter.updateUser(op.userId, { role: op.role });
        results.push(null);
        break;
      }
      case "versions": {
        const version = (name) =>
          JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url)))
            .version;
        results.push({ "better-auth": version("better-auth") });
        break;
      }
      default:
        throw new Error(`unknown operation ${JSON.stringify(op.op)}`);
    }
  }
} finally {
  await close(db);
}
console.log(JSON.stringify(results));
