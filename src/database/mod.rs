//! Database sessions: an opaque random token in the cookie, its SHA-256 in a
//! [`SessionStore`](crate::SessionStore); the optional in-process cache of recently read
//! sessions; and the cleanup of expired rows.

mod cleanup;
mod record_cache;
mod strategy;
mod unsettled;

pub use cleanup::{delete_expired_sessions, spawn_cleanup};
pub(crate) use strategy::{DATABASE_DEFAULTS, DatabaseStrategy};
