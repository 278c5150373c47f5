//! Sessions made by an app with [Better Auth](https://www.better-auth.com) 1.x: read them from
//! Rust (feature `betterauth`, off by default, with the SQL store feature of the app's database:
//! `postgres`, `mysql` or `sqlite`).
//!
//! A Next.js (or any JavaScript) app signs users in with Better Auth; an Axum API beside it
//! accepts the same signed-in user without asking the JavaScript server.
//! [`SessionLayer::betterauth`](crate::SessionLayer::betterauth) checks Better Auth's signed
//! session cookie with the app's `BETTER_AUTH_SECRET`, looks the session up in Better Auth's own
//! `session` and `user` tables, and [`Session<D>`](crate::Session), `Option<Session<D>>` and the
//! guards work unchanged on it.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # mod example {
//! use axum::{Json, Router, routing::get};
//! use serde::Deserialize;
//! use sessionward::betterauth::{BetterAuthConfig, BetterAuthSchema};
//! use sessionward::{Session, SessionConfig, SessionLayer};
//!
//! // Better Auth's user (fields `D` does not name are ignored).
//! #[derive(Clone, Deserialize)]
//! struct User {
//!     name: String,
//!     email: String,
//!     role: Option<String>,
//! }
//!
//! async fn me(session: Session<User>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "user_id": session.user_id(), "email": session.email }))
//! }
//!
//! # async fn example() -> Result<(), sqlx::Error> {
//! let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
//! let better_auth = BetterAuthConfig::new(std::env::var("BETTER_AUTH_SECRET").unwrap())
//!     .schema(BetterAuthSchema::default().admin_plugin());
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(SessionLayer::betterauth(pool, better_auth, SessionConfig::default()));
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! ## What is read
//!
//! - **The session cookie**: `better-auth.session_token`, or `__Secure-better-auth.session_token`
//!   (what Better Auth sets on https; preferred when both are there), or the same names under
//!   the app's `advanced.cookiePrefix` ([`BetterAuthConfig::cookie_prefix`]). Its value is the
//!   session token, a dot, and the standard base64 of the token's HMAC-SHA256 under the secret,
//!   percent-encoded. The signature is checked (in constant time) before anything else: a
//!   cookie whose signature is not the secret's is no session, **without a query**.
//! - **The session**: one query reads the `session` row of the token joined with its `user`,
//!   through sqlx on PostgreSQL, MySQL/MariaDB or SQLite. Table and column names follow Better
//!   Auth's schema options ([`BetterAuthSchema`]: `modelName`, `fields`, `usePlural`,
//!   additional fields). A token that is not 1 to 255 printable ASCII characters is no session
//!   without a query.
//! - **Bearer tokens** (Better Auth's `bearer()` plugin), unless
//!   [`SessionConfig::accept_bearer`](crate::SessionConfig::accept_bearer) is off and only
//!   without a session cookie: `Authorization: Bearer <token>.<signature>` (the `set-auth-token`
//!   header's value, percent-encoded or not), checked like the cookie, or the bare session
//!   token, which the plugin accepts unless its `requireSignature` is set
//!   ([`BetterAuthConfig::bearer_requires_signature`]).
//! - **The cookie cache** (`session.cookieCache`), when [`BetterAuthConfig::cookie_cache`] names
//!   the app's strategy: see [The cookie cache](#the-cookie-cache).
//!
//! ## The session
//!
//! - [`Session<D>`](crate::Session) deserializes `D` from the user as Better Auth outputs it:
//!   `{"id","name","email","emailVerified","image","createdAt","updatedAt"}` plus the
//!   additional fields named in the schema (the admin plugin's `role`, ...), with booleans as
//!   booleans (SQLite and MySQL store 1 or 0) and dates as JavaScript writes them
//!   (`"2031-03-01T12:00:00.000Z"`). So
//!   [`require_role`](crate::require_role) works on Better Auth users through an
//!   [`Authorize`](crate::Authorize) impl on `D` that reads `role`.
//! - `user_id()` is the user's id (as text); `expires_at()` is the session's `expiresAt`,
//!   `created_at()` its `createdAt`, `refreshed_at()` its `updatedAt`. The session id is the
//!   row's `id` when that is a UUID, else a UUID made from it (never from the token).
//! - `authenticated_at()` is the session's `createdAt` too: Better Auth makes a new session
//!   row at every sign-in and never moves `createdAt`, which is what its own fresh-session
//!   check (`session.freshAge`, default 1 day) measures. So
//!   [`require_fresh`](crate::require_fresh) with the app's `freshAge` refuses what Better
//!   Auth's `freshSessionMiddleware` refuses (but for the very instant `freshAge` ends, which
//!   Better Auth counts as stale and the guard as fresh).
//!
//! ## Expiry and extension
//!
//! Better Auth's rules, with [`SessionConfig::max_age`](crate::SessionConfig::max_age) as its
//! `session.expiresIn` (default 7 days, Better Auth's) and
//! [`SessionConfig::update_age`](crate::SessionConfig::update_age) as its `session.updateAge`
//! (default 1 day, Better Auth's): set them to the app's values so that both sides agree.
//!
//! - A session is over once `expiresAt < now`, with the layer's [`Clock`](crate::Clock), never
//!   the database's `now()`.
//! - Once `expiresAt - expiresIn + updateAge <= now`, a lookup extends it: `expiresAt`
//!   becomes `now + expiresIn` and `updatedAt` `now` (in whole milliseconds, as JavaScript
//!   writes them). The update is conditional on the expiry that was read, so it never
//!   overwrites a change Better Auth made meanwhile nor revives a deleted row. As in Better
//!   Auth, a request that carries a valid `dont_remember` cookie (a sign-in with
//!   `rememberMe: false`) is never extended, nor is any when the app sets
//!   `session.disableSessionRefresh` ([`BetterAuthConfig::session_refresh`]).
//! - `absolute_timeout` and `idle_timeout` have no counterpart in Better Auth: the layer
//!   refuses them.
//!
//! ## Logout and revocation
//!
//! [`Sessions`](crate::Sessions)' `logout` deletes the session row, so Better Auth sees the user
//! signed out too; `revoke`, `revoke_others` and `revoke_all` delete the user's rows; `refresh`
//! extends now; `list` lists the user's live sessions (newest expiry first). A session Better
//! Auth signed out (its row deleted) is no session here from the next request on (but see the
//! cookie cache). `login`, `rotate`, `update`, `modify` and
//! [`reauthenticated`](crate::Sessions::reauthenticated) answer
//! [`Error::Unsupported`](crate::Error::Unsupported) (501): sessions are made and changed by
//! Better Auth, and a user proves who they are again by signing in again through it (a new,
//! fresh session). The layer never writes Better Auth's cookies: the app sets and clears them.
//!
//! [Session events](crate::SessionEvents) are heard as for sessionward's own sessions: an
//! extension made here (`refreshed`), `logged_out`, `revoked`, `revoked_others`,
//! `revoked_all`, and `rejected` credentials (a bad signature is `invalid`, a token without a
//! row `unknown`). What Better Auth does itself (sign-in, sign-out, its own extensions) happens
//! in the JavaScript app and is not heard.
//!
//! ## The cookie cache
//!
//! With `session.cookieCache: { enabled: true, strategy }` Better Auth also sets
//! `better-auth.session_data` (split into `.0`, `.1`, ... chunks when large): the session and
//! its user for `maxAge` seconds (default 5 minutes), and answers from it without a query.
//! With [`BetterAuthConfig::cookie_cache`] set to the same [`CookieCacheStrategy`] the layer
//! does the same:
//!
//! - `compact` (Better Auth's default): base64url JSON signed with HMAC-SHA256; `jwt`: an HS256
//!   JWT; `jwe`: a JWE (`dir`, `A256CBC-HS512`) under a key derived from the secret by
//!   HKDF-SHA-256. Each is checked with the secret.
//! - A cache cookie never stands alone: it is read only beside a valid session cookie, and only
//!   if the session it holds has that cookie's token. Its own expiry (`maxAge`), the session's
//!   `expiresAt` and the cache's `version` ([`BetterAuthConfig::cookie_cache_version`],
//!   default `"1"`) are checked as Better Auth checks them. A cache that fails any check is
//!   ignored and the database is asked. Bearer requests never use it.
//! - The session's data from a cache holds the user fields the schema names, as from the
//!   database: a handler sees the same `D` whichever answered.
//! - ⚠️ **Staleness**: for up to `maxAge` after it was written, a cache cookie is accepted
//!   **even if the session was revoked meanwhile** (deleted by a logout on another device, by
//!   `revoke*`, by an admin), and its user data may be that old. This is Better Auth's own
//!   trade-off, and this layer makes the same one when the cache is configured. A request
//!   answered from the cache is never extended. Leave the cache off (the default) where a
//!   revocation must take effect at once.
//!
//! ## Failures
//!
//! Every bad input (no cookie, a tampered token, a signature made with another secret, one
//! user's signature on another user's token, an unknown or expired session, a malformed cache)
//! is no session: 401 on guarded routes, `None` from `Option<Session<D>>`, never a 500. A
//! database that is down, or slower than
//! [`SessionConfig::store_timeout`](crate::SessionConfig::store_timeout), is a 503, and so is a
//! missing table or column (a broken deployment, not a signed-out user).
//!
//! ## Not covered
//!
//! Sessions kept only in `secondaryStorage` (Redis, ...) or only in cookies (Better Auth's
//! stateless mode), versioned `BETTER_AUTH_SECRETS` beyond the current secret (Better Auth
//! signs and checks session cookies with the current one only), and a cache `version` computed
//! by a function.

use std::borrow::Cow;
use std::sync::Arc;

mod cache;
mod queries;
mod schema;
mod signed;
mod sql;
mod strategy;

pub use schema::{BetterAuthSchema, FieldType};
pub(crate) use strategy::BetterAuthStrategy;

/// How Better Auth encodes its cookie cache (`session.cookieCache.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieCacheStrategy {
    /// `"compact"` (Better Auth's default): base64url JSON with an HMAC-SHA256 signature.
    Compact,
    /// `"jwt"`: an HS256 JWT signed with the secret.
    Jwt,
    /// `"jwe"`: a JWE (`dir`, `A256CBC-HS512`) under a key derived from the secret.
    Jwe,
}

/// How to read a Better Auth app's sessions: its secret, cookie prefix, cookie cache, bearer
/// plugin and schema.
///
/// ```
/// use sessionward::betterauth::{BetterAuthConfig, BetterAuthSchema, CookieCacheStrategy};
///
/// // betterAuth({ advanced: { cookiePrefix: "my-app" },
/// //   session: { cookieCache: { enabled: true, strategy: "jwe" } }, plugins: [admin()] })
/// let config = BetterAuthConfig::new("the app's BETTER_AUTH_SECRET")
///     .cookie_prefix("my-app")
///     .cookie_cache(CookieCacheStrategy::Jwe)
///     .schema(BetterAuthSchema::default().admin_plugin());
/// ```
#[derive(Clone)]
pub struct BetterAuthConfig {
    pub(crate) secret: String,
    pub(crate) cookie_prefix: Cow<'static, str>,
    pub(crate) cookie_cache: Option<CookieCacheStrategy>,
    pub(crate) cookie_cache_version: Cow<'static, str>,
    pub(crate) bearer_requires_signature: bool,
    pub(crate) session_refresh: bool,
    pub(crate) schema: BetterAuthSchema,
}

impl BetterAuthConfig {
    /// The app's secret (`BETTER_AUTH_SECRET`, or Better Auth's `secret` option). Anyone
    /// holding it can sign session cookies: keep it out of logs and of the browser.
    ///
    /// [`SessionLayer::betterauth`](crate::SessionLayer::betterauth) panics if it is empty.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            cookie_prefix: Cow::Borrowed("better-auth"),
            cookie_cache: None,
            cookie_cache_version: Cow::Borrowed("1"),
            bearer_requires_signature: false,
            session_refresh: true,
            schema: BetterAuthSchema::default(),
        }
    }

    /// The secret from the environment the way Better Auth reads it: the current secret of
    /// `BETTER_AUTH_SECRETS` (`"<version>:<secret>,..."`, the first entry), else
    /// `BETTER_AUTH_SECRET`, else `AUTH_SECRET`. `None` without any.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let versioned = var("BETTER_AUTH_SECRETS").and_then(|all| {
            let first = all.split(',').next()?.trim();
            let (_, secret) = first.split_once(':')?;
            Some(secret.trim().to_owned()).filter(|s| !s.is_empty())
        });
        versioned
            .or_else(|| var("BETTER_AUTH_SECRET"))
            .or_else(|| var("AUTH_SECRET"))
            .map(Self::new)
    }

    /// The app's `advanced.cookiePrefix` (default `better-auth`): cookies
    /// `<prefix>.session_token`, `<prefix>.session_data`, `<prefix>.dont_remember`, each also
    /// under `__Secure-`.
    pub fn cookie_prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.cookie_prefix = prefix.into();
        self
    }

    /// Answers from the cookie cache the app writes with `session.cookieCache: { enabled:
    /// true, strategy }` (off by default: every session is read from the database). Read the
    /// staleness warning in [the module docs](self#the-cookie-cache) first.
    pub fn cookie_cache(mut self, strategy: CookieCacheStrategy) -> Self {
        self.cookie_cache = Some(strategy);
        self
    }

    /// The app's `session.cookieCache.version` when it is a string (default `"1"`): a cache of
    /// another version is ignored.
    pub fn cookie_cache_version(mut self, version: impl Into<Cow<'static, str>>) -> Self {
        self.cookie_cache_version = version.into();
        self
    }

    /// The bearer plugin's `requireSignature`: refuse bare session tokens in
    /// `Authorization: Bearer`, accept only signed ones (default `false`, as in the plugin).
    pub fn bearer_requires_signature(mut self, required: bool) -> Self {
        self.bearer_requires_signature = required;
        self
    }

    /// `false` for an app with `session.disableSessionRefresh: true`: sessions are never
    /// extended (default `true`).
    pub fn session_refresh(mut self, enabled: bool) -> Self {
        self.session_refresh = enabled;
        self
    }

    /// Where the app's users and sessions are (default: Better Auth's own schema).
    pub fn schema(mut self, schema: BetterAuthSchema) -> Self {
        self.schema = schema;
        self
    }
}

impl std::fmt::Debug for BetterAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthConfig")
            .field("secret", &"[hidden]")
            .field("cookie_prefix", &self.cookie_prefix)
            .field("cookie_cache", &self.cookie_cache)
            .field("cookie_cache_version", &self.cookie_cache_version)
            .field("bearer_requires_signature", &self.bearer_requires_signature)
            .field("session_refresh", &self.session_refresh)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The database Better Auth's tables are in: made from a `sqlx::PgPool`, `sqlx::MySqlPool` or
/// `sqlx::SqlitePool` (features `postgres`, `mysql`, `sqlite`) with `.into()`, which
/// [`SessionLayer::betterauth`](crate::SessionLayer::betterauth) does for you.
#[derive(Clone)]
pub struct BetterAuthPool {
    dialect: sql::Dialect,
    runner: Arc<dyn sql::Runner>,
}

impl std::fmt::Debug for BetterAuthPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthPool")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}
