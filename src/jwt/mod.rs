//! JWT sessions: signed tokens in the same cookie (or `Authorization: Bearer`), with real
//! revocation. Behind the `jwt` feature.
//!
//! ```
//! use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
//! use sessionward::{MemoryStore, SessionConfig, SessionLayer};
//!
//! let key = JwtKey::hs256("2026-11", b"a-secret-of-at-least-thirty-two-bytes!").unwrap();
//! let jwt = JwtConfig::new(JwtKeys::new(key).unwrap(), "my-app", "my-app");
//! // The revocation list lives in a store: MemoryStore here, SqliteStore / PostgresStore /
//! // MySqlStore in production.
//! let layer = SessionLayer::jwt(jwt, MemoryStore::new(), SessionConfig::default());
//! ```
//!
//! ## Tokens
//!
//! Claims: `sub` (user id), `sid` (session id, stable across re-issues), `jti` (new on every
//! issue), `iat`, `exp`, `iss`, `aud`, `auth_time` (sign-in, to the microsecond: a whole second
//! is an integer, any other time has up to six decimals), `abs_exp` (the absolute limit, fixed
//! at sign-in), `ephemeral: true` on a session signed in without "remember me" (absent
//! otherwise), `data_at` (when the data was last brought up to date with the user's data
//! changes, [`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions); dated
//! like `auth_time`), plus the fields of your session data as further top-level claims. The
//! header names the signing key's `kid`; a token is verified only with the key of that `kid`
//! and only with that key's algorithm, so `alg: none`, algorithm confusion and unknown keys
//! are rejected. `jku`, `jwk`, `x5u` and `x5c` headers are ignored.
//!
//! ## Revocation, and its bound
//!
//! Logout, rotation and revoke add the session's `sid` to the revocation list, which kills every
//! token ever issued for that session (when the list, or the user's share of it, is full
//! ([`JwtConfig::max_revoked_sessions`]): a logout or revoke kills every token of the user
//! signed in until then, and a rotation or update is refused). An entry is kept until every token it
//! covers has expired: a token lives at most `max_age` after its issue, and is issued only
//! after the list was asked about its session then. `revoke_all(user)` kills every token of that user signed
//! in at or before that instant (to the microsecond), and a token signed in after it works at once:
//! its `iat` is never in the future, nor is its `auth_time` (but by one microsecond when the
//! clock did not move at all between the revocation and the sign-in, as a manual test clock
//! does). Every request checks an in-memory copy of the list (no store
//! round-trip). Revocations made by this process apply at once; those made by other instances
//! sharing the store apply within `revocation_refresh` (default 5 s) plus clock skew between the
//! instances (entries are fetched with a 30 s overlap, so skew below that loses nothing). If
//! the store cannot be read for `max(6 × revocation_refresh, 30 s)` (configurable:
//! `revocation_max_staleness`), requests fail with 503 rather than trust an old copy.

mod claims;
mod config;
mod keys;
mod listed_keys;
mod revocation;
mod sign_in_time;
mod strategy;
mod verified;
mod verifier;

pub use crate::store::{Revocation, RevocationStore, Revoked};
pub use config::{IssueReason, JwtConfig, MAX_LEEWAY, TokenIssue};
pub use keys::{JwtKey, JwtKeys, KeyError, MIN_HS256_SECRET};

pub(crate) use claims::{Audience, Claims, SignInTime, custom_claims};
pub(crate) use revocation::{PendingChanges, RevocationList, Standing, TokenFacts};
pub(crate) use strategy::{JWT_DEFAULTS, JwtStrategy};
pub(crate) use verified::Verified;
pub(crate) use verifier::{MAX_TOKEN_LEN, Verifier};
