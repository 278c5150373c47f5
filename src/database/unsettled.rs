//! A write whose outcome the strategy may never learn: the request that made it can be dropped
//! mid-write (a client that hung up, a timeout layer around the handler), and a store call that
//! timed out may still have been applied. Until the strategy has done its own bookkeeping after
//! the write, the cached copies the write may have made stale are treated as changed.

use std::sync::Arc;

use super::record_cache::RecordCache;
use crate::notify::{Change, Notifier};

/// Armed for a write that changes what its [`Change`] names. Dropped armed (the write's caller
/// stopped waiting, or the write failed in a way that says nothing about whether it was made),
/// it drops the copies the change covers and tells the other instances, as a finished write
/// would. [`settled`](Self::settled) disarms it once the strategy has dealt with the outcome.
pub(super) struct Unsettled {
    cache: Option<Arc<RecordCache>>,
    notifier: Option<Arc<Notifier>>,
    scope: Option<Change>,
}

impl Unsettled {
    pub(super) fn new(
        cache: &Option<Arc<RecordCache>>,
        notifier: &Option<Arc<Notifier>>,
        scope: Change,
    ) -> Self {
        Self {
            cache: cache.clone(),
            notifier: notifier.clone(),
            scope: cache.is_some().then_some(scope),
        }
    }

    /// The outcome is known and dealt with, and the other instances were told of it (until
    /// then a caller that stops waiting leaves the guard to tell them).
    pub(super) fn settled(mut self) {
        self.scope = None;
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        if let Some(cache) = &self.cache {
            cache.drop_copies(&scope);
        }
        if let Some(notifier) = &self.notifier {
            notifier.publish_detached(scope);
        }
    }
}
