// Prints a JSON set of session tokens made by the real Auth.js libraries (pinned in
// package.json / package-lock.json), with the claims each library decodes them to. Used by
// tests/suite/authjs.rs: run live when node_modules exists, and once to write fixtures.json.
//
//   npm ci --prefix tests/authjs && node tests/authjs/generate.mjs > tests/authjs/fixtures.json
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { encode as encodeV5, decode as decodeV5 } from "@auth/core/jwt";
import { SessionStore as SessionStoreV5 } from "./node_modules/@auth/core/lib/utils/cookie.js";
import { CompactEncrypt, EncryptJWT, calculateJwkThumbprint, base64url } from "jose";
import { hkdf } from "@panva/hkdf";

const require = createRequire(import.meta.url);
const { encode: encodeV4, decode: decodeV4 } = require("next-auth/jwt");
const { SessionStore: SessionStoreV4 } = require("./node_modules/next-auth/core/lib/cookie.js");

const SECRET = "sessionward-authjs-current-secret-0123456789";
const OLD_SECRET = "sessionward-authjs-previous-secret-9876543210";
const MAX_AGE = 30 * 24 * 3600;
const logger = { debug() {}, error() {}, warn() {} };

const user = {
  name: "Alice",
  email: "alice@example.com",
  picture: "https://example.com/a.png",
  sub: "user-123",
  role: "admin",
};

// Auth.js's own chunking (the SessionStore that writes the Set-Cookie headers).
function chunkV5(name, value) {
  return new SessionStoreV5({ name, options: {} }, {}, logger)
    .chunk(value, {})
    .filter((c) => c.value !== "")
    .map(({ name, value }) => ({ name, value }));
}
function chunkV4(name, value) {
  return new SessionStoreV4({ name, options: {} }, { cookies: {} }, logger)
    .chunk(value, {})
    .filter((c) => c.value !== "")
    .map(({ name, value }) => ({ name, value }));
}

// @auth/core only encodes A256CBC-HS512 but decodes A256GCM too: make one with jose and the
// same key derivation (HKDF info with the salt, 32 bytes, SHA-256 thumbprint as kid).
async function encodeV5Gcm({ token, secret, salt }) {
  const key = await hkdf("sha256", secret, salt, `Auth.js Generated Encryption Key (${salt})`, 32);
  const kid = await calculateJwkThumbprint({ kty: "oct", k: base64url.encode(key) }, "sha256");
  const now = Math.floor(Date.now() / 1000);
  return new EncryptJWT(token)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid })
    .setIssuedAt(now)
    .setExpirationTime(now + MAX_AGE)
    .setJti(crypto.randomUUID())
    .encrypt(key);
}

const tokens = [];
async function v5(label, { salt, secret = SECRET, token = user, gcm = false }) {
  const jwt = gcm
    ? await encodeV5Gcm({ token, secret, salt })
    : await encodeV5({ token, secret, salt, maxAge: MAX_AGE });
  const claims = await decodeV5({ token: jwt, secret: [SECRET, OLD_SECRET], salt });
  if (!claims) throw new Error(`@auth/core cannot decode its own ${label}`);
  tokens.push({ label, version: "v5", cookie: salt, token: jwt, claims, cookies: chunkV5(salt, jwt) });
}
async function v4(label, { cookie, secret = SECRET, token = user }) {
  const jwt = await encodeV4({ token: { ...token, picture: null }, secret, maxAge: MAX_AGE });
  const claims = await decodeV4({ token: jwt, secret });
  if (!claims) throw new Error(`next-auth cannot decode its own ${label}`);
  tokens.push({ label, version: "v4", cookie, token: jwt, claims, cookies: chunkV4(cookie, jwt) });
}

const big = { ...user, groups: Array.from({ length: 400 }, (_, i) => `group-${i}-${"x".repeat(8)}`) };

await v5("v5 A256CBC-HS512", { salt: "authjs.session-token" });
await v5("v5 A256CBC-HS512 https", { salt: "__Secure-authjs.session-token" });
await v5("v5 A256GCM", { salt: "authjs.session-token", gcm: true });
await v5("v5 previous secret", { salt: "authjs.session-token", secret: OLD_SECRET });
await v5("v5 chunked", { salt: "authjs.session-token", token: big });
await v5("v5 chunked https", { salt: "__Secure-authjs.session-token", token: big });
await v4("v4 A256GCM", { cookie: "next-auth.session-token" });
await v4("v4 A256GCM https", { cookie: "__Secure-next-auth.session-token" });
await v4("v4 previous secret", { cookie: "next-auth.session-token", secret: OLD_SECRET });
await v4("v4 chunked", { cookie: "next-auth.session-token", token: big });

// Correctly encrypted (v5 key, right kid) but not a session: the decoder must refuse the claims.
const bad = [];
async function v5Raw(label, plaintext) {
  const salt = "authjs.session-token";
  const key = await hkdf("sha256", SECRET, salt, `Auth.js Generated Encryption Key (${salt})`, 64);
  const kid = await calculateJwkThumbprint({ kty: "oct", k: base64url.encode(key) }, "sha512");
  const token = await new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512", kid })
    .encrypt(key);
  bad.push({ label, cookie: salt, token });
}
const nowS = Math.floor(Date.now() / 1000);
await v5Raw("claims not JSON", "not json at all");
await v5Raw("claims a JSON array", "[1,2,3]");
await v5Raw("no exp", JSON.stringify({ sub: "user-123", iat: nowS }));
await v5Raw("no sub", JSON.stringify({ name: "x", iat: nowS, exp: nowS + 3600 }));
await v5Raw("exp not a number", JSON.stringify({ sub: "user-123", exp: "tomorrow" }));
await v5Raw("not yet valid", JSON.stringify({ sub: "user-123", nbf: nowS + 3600, exp: nowS + 7200 }));

const now = Math.floor(Date.now() / 1000);
console.log(
  JSON.stringify(
    {
      generated_at: new Date(now * 1000).toISOString(),
      now,
      libraries: {
        "@auth/core": JSON.parse(readFileSync("node_modules/@auth/core/package.json")).version,
        "next-auth": JSON.parse(readFileSync("node_modules/next-auth/package.json")).version,
        jose: JSON.parse(readFileSync("node_modules/jose/package.json")).version,
        node: process.version,
      },
      secrets: { current: SECRET, previous: OLD_SECRET },
      tokens,
      bad,
    },
    null,
    1,
  ),
);
