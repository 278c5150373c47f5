//! Where the JWT revocation list lives: the entries and the store trait. The list every
//! request checks, and what it does with the entries, is the `jwt` strategy's.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;

/// What a revocation covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Every token of one session (its `sid`), whatever its `jti`: logout, revoke, rotation.
    Session(Uuid),
    /// Every token of a user signed in at or before the revocation's `revoked_at`
    /// ("sign out everywhere", after a password change).
    User(String),
}

/// One entry of the revocation list.
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
