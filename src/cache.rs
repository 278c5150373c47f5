//! [`SessionCache`]: the optional in-process cache of database sessions, and its staleness
//! bound.

/// An in-process cache of database sessions (off by default), for services that want most
/// requests answered without a store round-trip.
///
/// With a cache, a request whose session was read from the store less than
/// [`ttl`](Self::new) ago is answered from memory. What that costs, precisely:
///
/// - **This process** sees its own changes at once: logout, revoke, revoke-others,
///   revoke-all, rotation and data updates made through this layer drop or update the cached
///   copy before they return.
/// - **Other processes** sharing the store (several app instances behind a load balancer):
///   their revocations and data changes reach this process within `ttl` of being made. A
///   session another instance revoked can be used here for at most `ttl` more; data another
///   instance wrote can be read stale for at most `ttl` (a compare-and-swap update made here on
///   stale data fails, drops the copy and, through [`Sessions::modify`](crate::Sessions::modify),
///   retries on fresh data, so no update is lost).
/// - A session created on another instance works here at once: unknown tokens are never
///   cached, every one is looked up in the store.
/// - Expiry is always checked with the crate's clock on every request; a cached session that
///   is due for its sliding extension, or looks expired, is read again from the store first,
///   so an extension made by another instance is never mistaken for an expiry.
///
/// At most [`capacity`](Self::capacity) sessions are kept (default 100,000); the oldest copy is
/// dropped first. The JWT strategy ignores this setting: its revocation list is already an
/// in-memory copy, refreshed every [`revocation_refresh`](crate::jwt::JwtConfig::revocation_refresh).
///
/// ```
/// use std::time::Duration;
/// use sessionward::{MemoryStore, SessionCache, SessionConfig, SessionLayer};
///
/// // Revocations made by other instances take effect here within 2 seconds.
/// let config = SessionConfig::default().cache(SessionCache::new(Duration::from_secs(2)));
/// let layer = SessionLayer::database(MemoryStore::new(), config);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionCache {
    pub(crate) ttl: std::time::Duration,
    pub(crate) capacity: usize,
}

impl SessionCache {
    /// A cache whose copies are used for at most `ttl` after they were read from the store:
    /// the staleness bound for changes made by other instances.
    ///
    /// # Panics
    ///
    /// When `ttl` is zero (no cache at all: leave [`SessionConfig::cache`](crate::SessionConfig::cache)
    /// unset instead).
    pub fn new(ttl: std::time::Duration) -> Self {
        assert!(
            !ttl.is_zero(),
            "sessionward: a session cache needs a ttl above zero"
        );
        Self {
            ttl,
            capacity: 100_000,
        }
    }

    /// The most sessions kept at once (default 100,000); the oldest copy is dropped first.
    ///
    /// ```
    /// let cache = sessionward::SessionCache::new(std::time::Duration::from_secs(1)).capacity(10_000);
    /// ```
    ///
    /// # Panics
    ///
    /// When `capacity` is zero.
    pub fn capacity(mut self, capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "sessionward: a session cache needs a capacity above zero"
        );
        self.capacity = capacity;
        self
    }
}
