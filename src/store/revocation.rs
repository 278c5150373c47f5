//! Where the JWT revocation list lives: the entries and the store trait. The list every
//! request checks, and what it does with the entries, is the `jwt` strategy's.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;

/// What a revocation covers.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::post};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, RevocationStore, Revoked};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, Sessions, testing::SignedIn};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
/// let store = MemoryStore::new(); // sessions' revocation list: here, in memory
/// let layer = SessionLayer::jwt(JwtConfig::new(keys, "app", "app"), store.clone(), SessionConfig::default());
/// let app = Router::new()
///     .route("/logout", post(|sessions: Sessions| async move {
///         sessions.logout().await.map(|ended| ended.to_string())
///     }))
///     .layer(layer.clone());
///
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// app.oneshot(alice.request(Request::post("/logout")).body(Body::empty())?).await?;
/// let now = time::OffsetDateTime::now_utc();
/// let list = store.revocations_since(time::OffsetDateTime::UNIX_EPOCH, now).await?;
/// assert_eq!(list[0].target, Revoked::Session(alice.info().id)); // every token of that session
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Every token of one session (its `sid`), whatever its `jti`: logout, revoke, rotation.
    Session(Uuid),
    /// Every token of a user signed in at or before the revocation's `revoked_at`
    /// ("sign out everywhere", after a password change).
    User(String),
    /// Not an end but a change: every token of the user whose data dates from at or before
    /// the entry's `revoked_at` must take `patch` (a JSON Merge Patch, RFC 7386) before it is a
    /// session again ([`Sessions::update_user_sessions`](crate::Sessions::update_user_sessions)
    /// on JWT sessions). A browser's token is re-issued with the patch on its next request; a
    /// bearer token from before the change is no session any more.
    UserData {
        /// The user whose tokens change.
        user_id: String,
        /// The JSON Merge Patch, as JSON text (an object).
        patch: String,
    },
}

/// One entry of the revocation list.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::post};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, RevocationStore, Revoked};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, Sessions};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
/// let store = MemoryStore::new(); // sessions' revocation list: here, in memory
/// let layer = SessionLayer::jwt(JwtConfig::new(keys, "app", "app"), store.clone(), SessionConfig::default());
/// // "Sign out everywhere" for alice, from an admin route.
/// let app = Router::new()
///     .route("/admin/sign-out-alice", post(|sessions: Sessions| async move {
///         sessions.revoke_all("alice").await.map(|ended| ended.to_string())
///     }))
///     .layer(layer);
/// app.oneshot(Request::post("/admin/sign-out-alice").body(Body::empty())?).await?;
///
/// let now = time::OffsetDateTime::now_utc();
/// let entry = &store.revocations_since(time::OffsetDateTime::UNIX_EPOCH, now).await?[0];
/// assert_eq!(entry.target, Revoked::User("alice".into()));
/// assert!(entry.revoked_at <= now && entry.expires_at > now); // kept while a token may live
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Unique id of the entry.
    pub id: Uuid,
    /// What it covers.
    pub target: Revoked,
    /// When it was made; for [`Revoked::User`], tokens signed in at or before this
    /// instant die (compared to the microsecond, the finest unit every store keeps).
    pub revoked_at: OffsetDateTime,
    /// When every token it covers has expired anyway, so the entry can go.
    pub expires_at: OffsetDateTime,
}

/// Where the JWT revocation list lives. `MemoryStore` and, behind their features, the SQL
/// stores implement it, in the table `sessionward_revocations`.
///
/// The layer reads and writes it; call it directly for work outside a request, through the
/// store the layer uses. To keep the list anywhere else, implement this trait and prove it
/// with `sessionward::testing::contract::revocation_store` (feature `test-util`).
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::post};
/// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys, RevocationStore};
/// use sessionward::{MemoryStore, SessionConfig, SessionLayer, Sessions, StoreError};
/// use sessionward::testing::SignedIn;
/// use time::OffsetDateTime;
/// use tower::ServiceExt;
///
/// /// How many revocations are in force now: a figure for a dashboard.
/// async fn live_revocations(list: &dyn RevocationStore) -> Result<usize, StoreError> {
///     let now = OffsetDateTime::now_utc();
///     Ok(list.revocations_since(OffsetDateTime::UNIX_EPOCH, now).await?.len())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let keys = JwtKeys::new(JwtKey::hs256("main", [7u8; 32])?)?;
/// let store = MemoryStore::new(); // sessions' revocation list: here, in memory
/// let layer = SessionLayer::jwt(JwtConfig::new(keys, "app", "app"), store.clone(), SessionConfig::default());
/// let app = Router::new()
///     .route("/logout", post(|sessions: Sessions| async move {
///         sessions.logout().await.map(|ended| ended.to_string())
///     }))
///     .layer(layer.clone());
///
/// assert_eq!(live_revocations(&store).await?, 0);
/// let alice = SignedIn::cookie(&layer, "alice", &serde_json::json!({})).await?;
/// app.oneshot(alice.request(Request::post("/logout")).body(Body::empty())?).await?;
/// assert_eq!(live_revocations(&store).await?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Adds an entry.
    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError>;

    /// Entries made at or after `since` that have not expired at `now`.
    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError>;

    /// Deletes at most `batch` entries expired at `now`. Returns how many.
    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError>;

    /// The channel on which instances sharing this store announce new revocations, so that
    /// every instance's copy of the list has them within milliseconds instead of within
    /// `revocation_refresh`. `None` (the default): copies follow by polling only. See
    /// [`SessionStore::change_feed`](crate::SessionStore::change_feed).
    fn change_feed(&self) -> Option<Arc<dyn crate::notify::ChangeFeed>> {
        None
    }
}

#[async_trait]
impl<S: RevocationStore + ?Sized> RevocationStore for Arc<S> {
    async fn add_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        (**self).add_revocation(revocation).await
    }
    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError> {
        (**self).revocations_since(since, now).await
    }
    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        (**self).delete_expired_revocations(now, batch).await
    }
    fn change_feed(&self) -> Option<Arc<dyn crate::notify::ChangeFeed>> {
        (**self).change_feed()
    }
}
