//! # sessionward
//!
//! Session management for Axum: one [`SessionLayer`], one [`Session`] extractor, route guards,
//! and two strategies behind the same API: database sessions stored through sqlx (SQLite,
//! PostgreSQL, MySQL/MariaDB) or any [`SessionStore`] of your own, and signed JWT sessions with
//! real revocation ([`jwt`], feature `jwt`, on by default). Switching strategy changes the layer
//! only; handlers, extractors and guards stay as they are.
//!
//! ## Five minutes
//!
//! ```
//! use axum::{Json, Router, routing::{get, post}};
//! use serde::{Deserialize, Serialize};
//! use sessionward::{
//!     Authorize, MemoryStore, Session, SessionConfig, SessionLayer, Sessions, require_role,
//! };
//!
//! // Your own session data: what Auth.js puts in its `jwt` / `session` callbacks.
//! #[derive(Clone, Serialize, Deserialize)]
//! struct UserData {
//!     role: String,
//!     permissions: Vec<String>,
//! }
//!
//! impl Authorize for UserData {
//!     fn has_role(&self, role: &str) -> bool {
//!         self.role == role
//!     }
//! }
//!
//! async fn login(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
//!     // Check the password first; then:
//!     let data = UserData { role: "user".into(), permissions: vec![] };
//!     sessions.login("alice", &data).await?; // new token, cookie set, old session gone
//!     Ok("welcome")
//! }
//!
//! async fn me(session: Session<UserData>) -> Json<serde_json::Value> {
//!     // 401 before this runs when there is no valid session.
//!     Json(serde_json::json!({ "user_id": session.user_id(), "role": session.role }))
//! }
//!
//! let store = MemoryStore::new(); // or SqliteStore / PostgresStore / MySqlStore
//! let app: Router = Router::new()
//!     .route("/admin", get(|| async { "admin" }))
//!     .route_layer(require_role::<UserData>("admin"))
//!     .route("/login", post(login))
//!     .route("/me", get(me))
//!     .layer(SessionLayer::database(store, SessionConfig::default()));
//! ```
//!
//! ## How a request travels
//!
//! 1. [`SessionLayer`] reads the `session-id` cookie (or `Authorization: Bearer`). It does not
//!    touch the store yet, and refuses (403) a POST/PUT/PATCH/DELETE that a browser sent from
//!    another origin, cookie or not, and a WebSocket handshake from another origin that carries
//!    the cookie (see [`origin`]).
//! 2. The first extractor or guard that asks resolves the session, at most once per request:
//!    the token's shape is checked (garbage never reaches the store), the store is asked for
//!    the SHA-256 of the token, and expiry is checked with the crate's [`Clock`]. A request
//!    that never asks costs no store round-trip.
//! 3. Once a session is older than `update_age` since its last extension, that lookup extends
//!    it (never past the absolute limit) and the cookie is re-sent. Any other request writes
//!    nothing.
//! 4. The handler works through [`Sessions`]: login (with rotation), logout, rotate, update,
//!    modify, refresh, list, revoke.
//! 5. The response carries at most one `Set-Cookie` (with `Cache-Control: no-store`): a new
//!    token, an extended lifetime, or a removal when the request's cookie was invalid, expired
//!    or logged out (two while moving a browser off a
//!    [`previous_cookie`](SessionConfig::previous_cookie)).
//!
//! ## Failures
//!
//! | situation | answer |
//! | --- | --- |
//! | no cookie, garbage, tampered, expired or revoked token | no session: 401 from `Session<D>` and guards, `None` from `Option<Session<D>>`, the cookie cleared (not for a minute after a request of this instance replaced that token with a new one: see the README's "The session cookie") |
//! | guard check fails | 403 |
//! | store down, slow past `store_timeout`, pool exhausted | 503, never a request let through |
//! | any of the above, for a browser | the same status; shape its page with [`SessionConfig::rejection_responder`] (extractors reject with [`SessionRejection`]) |
//! | two requests change the same session's data | compare-and-swap on a version: [`Sessions::update`] answers [`Error::Conflict`], [`Sessions::modify`] retries; no write is lost |
//!
//! ## Strategies
//!
//! - [`SessionLayer::database`]: an opaque 256-bit token in the cookie; the session (user,
//!   data, lifetimes) in the store, looked up by the token's SHA-256. Listing and revoking a
//!   user's devices, compare-and-swap data updates.
//! - [`SessionLayer::jwt`]: a signed token carries the session; the store holds only the
//!   revocation list, which every request checks in memory. See [`jwt`] for keys, claims and
//!   the revocation bound.
//!
//! ## Storage at rest
//!
//! Stores keep the SHA-256 of the token, never the token: a copy of the sessions table logs
//! nobody in. Each session also has a public UUID for "your sessions" pages and revoke links.
//! Run expired-session cleanup with [`spawn_cleanup`].
//!
//! ## Features
//!
//! - `sqlite` (default), `postgres`, `mysql`: the SQL stores, through sqlx. Without any of
//!   them sqlx is not compiled.
//! - `jwt` (default): JWT sessions ([`jwt`]).
//! - `redis`: `RedisStore`, sessions in Redis or Redis Cluster through `fred`.
//! - `authjs`: reading Auth.js (NextAuth) sessions (`sessionward::authjs`); off by default.
//! - `betterauth`: reading Better Auth sessions (`sessionward::betterauth`); off by default.
//! - `metrics`: counters and a store call histogram through the `metrics` facade (names and
//!   labels in the README's Metrics section); off by default.
//! - `test-util`: helpers for tests ([`testing`]); add it to your dev-dependencies.
//!
//! ## Testing
//!
//! With `test-util`, [`testing::SignedIn`] makes a session of user U with data D through the
//! application's own layer and gives the `Cookie` or `Authorization` header that presents it;
//! [`Clock::manual`] and [`testing::ManualClock`] move time; `testing::contract` runs the store
//! contract against a store of your own. In-process requests need no `Host` or `Origin`
//! header; one that sends `Origin` (a browser's POST) needs the matching `Host`. See
//! [`testing`].
//!
//! ## Recipes
//!
//! Reverse proxies, WebSocket routes, custom 401/403 bodies, the session in a `from_fn`
//! middleware, login and logout forms without CSRF holes, Auth.js sessions and several
//! instances: `docs/recipes.md` in the repository, each recipe backed by a test.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

#[cfg(feature = "authjs")]
pub mod authjs;
#[cfg(feature = "betterauth")]
pub mod betterauth;
// Better Auth's tables are read through sqlx.
#[cfg(all(
    feature = "betterauth",
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql"))
))]
compile_error!(
    "the `betterauth` feature reads Better Auth's tables: enable `sqlite`, `postgres` or `mysql` too"
);
mod cache;
mod change_marks;
mod clock;
mod config;
mod cookie;
mod credential;
mod database;
mod error;
mod event;
mod extract;
#[cfg(any(all(feature = "authjs", feature = "postgres"), feature = "betterauth"))]
mod foreign_rows;
mod guard;
mod handle;
mod instrument;
#[cfg(any(feature = "authjs", feature = "betterauth"))]
mod jwe;
#[cfg(feature = "jwt")]
pub mod jwt;
mod layer;
mod limit;
mod login;
mod merge_patch;
mod notify;
pub mod origin;
mod rejection;
mod replaced_tokens;
mod request;
mod responder;
mod session;
mod session_future;
mod store;
mod strategy;
mod token;

/// The Redis client [`RedisStore`] runs on, re-exported so that applications need not depend on
/// it themselves (feature `redis`).
#[cfg(feature = "redis")]
pub use fred;

pub use cache::SessionCache;
pub use clock::Clock;
pub use config::SessionConfig;
pub use cookie::{PreviousCookie, SameSite};
pub use database::{delete_expired_sessions, spawn_cleanup};
pub use error::{Error, StoreError};
pub use event::{RejectReason, SessionEvent, SessionEventKind, SessionEvents};
pub use guard::{
    Authorize, Guard, GuardService, require_fresh, require_permission, require_role,
    require_session, safe_redirect_target,
};
pub use handle::{IssuedToken, Sessions};
pub use layer::{SessionLayer, SessionService};
pub use limit::{LimitedCreate, SessionLimit, SessionLimitPolicy};
pub use login::LoginOptions;
pub use notify::{ChangeFeed, MAX_NOTICE_BYTES};
pub use rejection::SessionRejection;
pub use responder::RejectionContext;
pub use session::{Session, SessionInfo};
pub use session_future::SessionFuture;
#[cfg(feature = "mysql")]
pub use store::MySqlStore;
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "redis")]
pub use store::RedisStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use store::{LoadBatching, MIGRATIONS_TABLE, SqlStore};
pub use store::{MemoryStore, SessionRecord, SessionStore};
pub use token::{SessionToken, TokenHash};

pub mod testing;

/// Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`, off by default):
/// thin wrappers around the private parsers that turn request headers into a credential. Not
/// part of the API; anything here may change in any release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use axum::http::HeaderMap;

    use crate::credential::Credential as Read;

    /// A credential as the layer reads it.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Credential {
        /// Nothing to resolve: no session.
        Nothing,
        /// One token to resolve.
        Token(String),
        /// A session cookie that cannot be used: no session, and the cookie is cleared.
        Unusable,
        /// Two session cookies: no session, and neither is cleared.
        Ambiguous,
    }

    fn credential(read: Read) -> Credential {
        match read {
            Read::Nothing => Credential::Nothing,
            Read::Tokens { first, .. } => Credential::Token(first.token),
            Read::Unusable | Read::UnusablePrevious => Credential::Unusable,
            Read::Ambiguous => Credential::Ambiguous,
        }
    }

    /// The session cookie (default name `session-id`) among the request's `Cookie` headers.
    pub fn cookie(headers: &HeaderMap) -> Credential {
        credential(crate::credential::session_cookie(
            headers,
            "session-id",
            None,
            false,
        ))
    }

    /// The token of the request's `Authorization: Bearer` header (read when there is no
    /// session cookie).
    pub fn bearer(headers: &HeaderMap) -> Credential {
        credential(crate::credential::bearer(headers))
    }
}
