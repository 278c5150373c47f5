//! Sessions made by a Next.js app with Auth.js (NextAuth): read its session cookie from Rust
//! (feature `authjs`, off by default).
//!
//! Auth.js keeps a session in one of two ways (its `session.strategy`), and an Axum API behind
//! the Next.js app reads either, with [`Session<D>`](crate::Session), the guards and
//! `Option<Session<D>>` working unchanged on the Next.js session:
//!
//! - **`"jwt"`** (Auth.js's default): the cookie is an encrypted token.
//!   [`SessionLayer::authjs`](crate::SessionLayer::authjs) decrypts it with the same
//!   `AUTH_SECRET`. The sections up to [Security notes](#security-notes) describe it.
//! - **`"database"`** (with an adapter): the cookie holds a token that names a row of the
//!   adapter's sessions table.
//!   [`SessionLayer::authjs_database`](crate::SessionLayer::authjs_database) (feature
//!   `postgres` too) reads the tables of `@auth/pg-adapter` or of the Prisma adapter on
//!   PostgreSQL: see [Database sessions](#database-sessions).
//!
//! JWT sessions:
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use serde::Deserialize;
//! use sessionward::authjs::AuthJsConfig;
//! use sessionward::{Session, SessionConfig, SessionLayer};
//!
//! // The token's claims: Auth.js's defaults plus what your `jwt` callback adds.
//! #[derive(Clone, Deserialize)]
//! struct Claims {
//!     name: Option<String>,
//!     email: Option<String>,
//!     role: Option<String>,
//! }
//!
//! async fn me(session: Session<Claims>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "sub": session.user_id(), "email": session.email }))
//! }
//!
//! let secret = std::env::var("AUTH_SECRET").unwrap_or_else(|_| "x".repeat(32));
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(SessionLayer::authjs(AuthJsConfig::new(vec![secret]), SessionConfig::default()));
//! ```
//!
//! ## What is read
//!
//! - **Auth.js v5** (`@auth/core`, `next-auth@5`): a compact JWE, `alg: "dir"`,
//!   `enc: "A256CBC-HS512"` (or `A256GCM`). The key is HKDF-SHA-256 of the secret with the
//!   **cookie's name as salt** (`authjs.session-token`, or `__Secure-authjs.session-token` on
//!   https) and info `Auth.js Generated Encryption Key (<salt>)`. The header's `kid` (the key's
//!   RFC 7638 thumbprint) picks the secret among several; without a `kid` each is tried.
//! - **NextAuth.js v4**: `enc: "A256GCM"`, no `kid`, HKDF with an empty salt and info
//!   `NextAuth.js Generated Encryption Key`, from `next-auth.session-token` or
//!   `__Secure-next-auth.session-token`.
//! - **Cookies**: the four names above, in that order of preference (v5 before v4, `__Secure-`
//!   first): the first one present is used. A large session split into `<name>.0`,
//!   `<name>.1`, ... is joined in numeric order; a missing, repeated or extra chunk, or a
//!   chunked and an unchunked cookie of one name, is no session. Without any of these cookies,
//!   `Authorization: Bearer <token>` (unless
//!   [`SessionConfig::accept_bearer`](crate::SessionConfig::accept_bearer) is off) is tried
//!   under every configured cookie name.
//! - **Checks**: `exp` with the layer's [`Clock`](crate::Clock) and Auth.js's 15-second
//!   tolerance (`nbf` too, when present), the claims must be a JSON object with a string
//!   `sub`, and tokens over 16 KiB (chunks joined) are rejected unread. Any failure (wrong
//!   secret, wrong salt, tampering, unknown `alg` or `enc`, expiry, ...) is "no session": 401 on
//!   guarded routes, `None` from `Option<Session<D>>`.
//!
//! ## The session
//!
//! - [`Session<D>`](crate::Session) deserializes `D` from the **whole claims object** (`sub`,
//!   `name`, `email`, `picture`, `iat`, `exp`, `jti` and whatever the `jwt` callback added);
//!   fields `D` does not name are ignored.
//! - `user_id()` is `sub`; `expires_at` is `exp`; `created_at` and `refreshed_at` are `iat`.
//! - The session id is the `jti` when it is a UUID (Auth.js always writes one). Auth.js writes
//!   a new `jti` every time it re-encodes the token (on each session read in Next.js), so the
//!   id names **this token**, not the sign-in. A token without a UUID `jti` gets a UUID made
//!   from the SHA-256 of the token.
//!
//! ## Read-only
//!
//! Next.js owns a JWT session: the layer never writes or clears Auth.js cookies, and
//! [`Sessions`](crate::Sessions)' `login`, `logout`, `rotate`, `update`, `modify`, `refresh`
//! and `revoke*` answer [`Error::Unsupported`](crate::Error::Unsupported) (501). Sign users in
//! and out through Auth.js. `list` returns the current session only.
//!
//! ## Security notes
//!
//! Anyone holding `AUTH_SECRET` can mint sessions for any user: keep it out of logs and of the
//! browser. A JWT session cannot be revoked before `exp` (30 days by default in Auth.js); sign-out
//! deletes the cookie, not the token.
//!
//! ## Database sessions
//!
//! With an adapter and `session: { strategy: "database" }`, Auth.js stores each session as a
//! row (`sessionToken`, `userId`, `expires`) and puts the raw `sessionToken` in the cookie.
//! [`SessionLayer::authjs_database`](crate::SessionLayer::authjs_database) (features `authjs`
//! and `postgres`) looks it up in those tables, which [`AuthJsDatabaseConfig`] names:
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # mod example {
//! use axum::{Json, Router, routing::get};
//! use serde::Deserialize;
//! use sessionward::authjs::AuthJsDatabaseConfig;
//! use sessionward::{Session, SessionConfig, SessionLayer};
//!
//! // The adapter's user row.
//! #[derive(Clone, Deserialize)]
//! struct User {
//!     name: Option<String>,
//!     email: Option<String>,
//! }
//!
//! async fn me(session: Session<User>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "sub": session.user_id(), "email": session.email }))
//! }
//!
//! # async fn example() -> Result<(), sqlx::Error> {
//! let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
//! let app: Router = Router::new().route("/api/me", get(me)).layer(SessionLayer::authjs_database(
//!     pool,
//!     AuthJsDatabaseConfig::pg_adapter(), // or ::prisma()
//!     SessionConfig::default(),
//! ));
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! - **What is read**: the token from the first of the four cookie names above (or the names
//!   set with [`AuthJsDatabaseConfig::cookie_names`]), else `Authorization: Bearer` (unless
//!   [`SessionConfig::accept_bearer`](crate::SessionConfig::accept_bearer) is off). A token
//!   that is not 1 to 255 printable ASCII characters is no session without a query. Otherwise
//!   one query reads the session row joined with its user, by the raw token.
//! - **Checks**: `expires` with the layer's [`Clock`](crate::Clock), never the database's
//!   `now()`: a session is over once `expires <= now`. A user row that is gone is no session.
//! - **The session**: [`Session<D>`](crate::Session) deserializes `D` from the user row as a
//!   JSON object, `{"id","name","email","emailVerified","image"}`: ids as strings (the
//!   pg-adapter's `SERIAL` as `"42"`), `emailVerified` as JavaScript writes a `Date`
//!   (`"2024-05-01T10:00:00.000Z"`) or `null`. `user_id()` is the user's id, `expires_at` is
//!   `expires`. The session id is a UUID made from the SHA-256 of the token (never the token
//!   itself). Auth.js keeps no creation time: `created_at` and `refreshed_at` are the last
//!   extension, `expires - maxAge`.
//! - **Extension**, Auth.js's rule: once `expires - maxAge + updateAge <= now`, `expires`
//!   becomes `now + maxAge`, where maxAge is
//!   [`SessionConfig::max_age`](crate::SessionConfig::max_age) (default 30 days here,
//!   Auth.js's) and updateAge is
//!   [`SessionConfig::update_age`](crate::SessionConfig::update_age) (default 1 day,
//!   Auth.js's): set them to the app's `session.maxAge` and `session.updateAge`. The update is
//!   conditional on the `expires` that was read, so it never overwrites a change Auth.js made
//!   meanwhile, and it never brings back a deleted row. Rows keep no creation or activity
//!   time, so `absolute_timeout` and `idle_timeout` cannot apply: the layer refuses them.
//! - **The cookie is not written.** It belongs to Next.js: its name and attributes are the
//!   app's Auth.js configuration, Auth.js re-sends it with a fresh expiry each time it reads the
//!   session, and it clears it once the row is gone. So an extension made here moves the row's
//!   expiry, not the cookie's, and after a logout here the browser keeps a dead cookie (every
//!   request with it is a 401) until Next.js clears it.
//! - **Writes**: [`Sessions`](crate::Sessions)' `logout` deletes the row (which signs the user
//!   out of the Next.js app too); `revoke`, `revoke_others` and `revoke_all` delete the user's
//!   rows; `refresh` extends now; `list` lists the user's live sessions (newest expiry
//!   first). `login`, `rotate`, `update` and `modify` answer
//!   [`Error::Unsupported`](crate::Error::Unsupported) (501): sessions are made and changed by
//!   Auth.js.
//! - **Failures**: a database that is down, or slower than
//!   [`SessionConfig::store_timeout`](crate::SessionConfig::store_timeout), is a 503, never a
//!   request let through; so is a missing table or column (a broken deployment, not a signed-out
//!   user).
//!
//! ⚠️ **Weaker than sessionward's own database sessions.** Auth.js stores the raw token, so this
//! lookup is by the raw token too: **a copy of the sessions table** (a backup, a replica, a
//! read-only credential, an SQL injection anywhere in the app) **logs in as every user who has a
//! live session.** [`SessionLayer::database`](crate::SessionLayer::database) stores only the
//! token's SHA-256, so its table logs nobody in. Guard the adapter's tables accordingly. The
//! schema Auth.js documents for `@auth/pg-adapter` has no index on `"sessionToken"`: add a
//! unique one (the Prisma schema has it).

// Without `postgres`, the links to the database strategy's items have nothing to point at.
#![cfg_attr(not(feature = "postgres"), allow(rustdoc::broken_intra_doc_links))]

use std::borrow::Cow;

mod cookies;
#[cfg(feature = "postgres")]
mod database;
mod strategy;

#[cfg(feature = "postgres")]
pub use database::AuthJsDatabaseConfig;
#[cfg(feature = "postgres")]
pub(crate) use database::AuthJsDatabaseStrategy;
pub(crate) use strategy::AuthJsStrategy;

/// Which Auth.js generations a layer accepts (default: both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthJsVersion {
    /// Auth.js v5 (`@auth/core`, `next-auth@5`): `authjs.session-token` cookies.
    V5,
    /// NextAuth.js v4 (`next-auth@4`): `next-auth.session-token` cookies.
    V4,
    /// Both (the default): for an app in the middle of upgrading.
    #[default]
    Both,
}

/// The v5 cookie names, `__Secure-` (https) first.
pub const V5_COOKIE_NAMES: [&str; 2] = ["__Secure-authjs.session-token", "authjs.session-token"];
/// The v4 cookie names, `__Secure-` (https) first.
pub const V4_COOKIE_NAMES: [&str; 2] = [
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
];

/// How to read Auth.js sessions: the secrets, the versions, the cookie names.
///
/// ```
/// use sessionward::authjs::{AuthJsConfig, AuthJsVersion};
///
/// let config = AuthJsConfig::new(vec!["new-secret".into(), "previous-secret".into()])
///     .version(AuthJsVersion::V5);
/// ```
#[derive(Clone)]
pub struct AuthJsConfig {
    pub(crate) secrets: Vec<String>,
    pub(crate) version: AuthJsVersion,
    pub(crate) v5_names: Vec<Cow<'static, str>>,
    pub(crate) v4_names: Vec<Cow<'static, str>>,
}

impl AuthJsConfig {
    /// The secrets Next.js uses: `AUTH_SECRET` (or v4's `NEXTAUTH_SECRET`) first, then older
    /// ones still accepted during a rotation (`AUTH_SECRET_1`, `AUTH_SECRET_2`, ...). A v5 token
    /// names its key (`kid`), so the list's length costs nothing; v4 tokens try each secret.
    ///
    /// [`SessionLayer::authjs`](crate::SessionLayer::authjs) panics if the list is empty or
    /// holds an empty secret.
    pub fn new(secrets: Vec<String>) -> Self {
        Self {
            secrets,
            version: AuthJsVersion::Both,
            v5_names: V5_COOKIE_NAMES.iter().map(|n| Cow::Borrowed(*n)).collect(),
            v4_names: V4_COOKIE_NAMES.iter().map(|n| Cow::Borrowed(*n)).collect(),
        }
    }

    /// The secrets from the environment the way Next.js reads them: `AUTH_SECRET` (falling
    /// back to `NEXTAUTH_SECRET`), then `AUTH_SECRET_1` to `AUTH_SECRET_3`. `None` without
    /// any.
    pub fn from_env() -> Option<Self> {
        let main = std::env::var("AUTH_SECRET")
            .or_else(|_| std::env::var("NEXTAUTH_SECRET"))
            .ok()
            .filter(|s| !s.is_empty());
        let secrets: Vec<String> = main
            .into_iter()
            .chain(
                (1..=3)
                    .filter_map(|i| std::env::var(format!("AUTH_SECRET_{i}")).ok())
                    .filter(|s| !s.is_empty()),
            )
            .collect();
        (!secrets.is_empty()).then(|| Self::new(secrets))
    }

    /// Which Auth.js generations to accept (default [`AuthJsVersion::Both`]).
    pub fn version(mut self, version: AuthJsVersion) -> Self {
        self.version = version;
        self
    }

    /// The v5 session cookie names, in order of preference (default [`V5_COOKIE_NAMES`]); set
    /// these when Auth.js's `cookies.sessionToken.name` is customized. The name is the key
    /// derivation's salt.
    pub fn v5_cookie_names<N: Into<Cow<'static, str>>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        self.v5_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// The v4 session cookie names, in order of preference (default [`V4_COOKIE_NAMES`]).
    pub fn v4_cookie_names<N: Into<Cow<'static, str>>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Self {
        self.v4_names = names.into_iter().map(Into::into).collect();
        self
    }
}

impl std::fmt::Debug for AuthJsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthJsConfig")
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("version", &self.version)
            .field("v5_names", &self.v5_names)
            .field("v4_names", &self.v4_names)
            .finish()
    }
}
