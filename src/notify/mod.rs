//! Change notifications between instances: how the in-memory copies of several app instances
//! (the session cache, the JWT revocation list) learn within milliseconds that another instance
//! ended or changed a session, instead of waiting for their polling interval.
//!
//! An instance that ends or changes a session, with a copy to keep fresh, publishes a short
//! notice on its store's [`ChangeFeed`] before the request answers: PostgreSQL `NOTIFY`, Redis
//! pub/sub, or a polled table on MySQL. Every instance follows the feed in a background task and
//! drops the copies a notice names, or re-reads its JWT revocation list from the store.
//!
//! A notice is a signal, never data: any database role may `NOTIFY`, any Redis client may
//! `PUBLISH`, so a notice can make an instance drop copies or re-read the store and nothing
//! else. What a revocation says is read from the store. Bad notices cost bounded work: re-reads
//! coalesce (at most one waiting, at most one per 50 ms), change marks are bounded, a notice
//! over [`MAX_NOTICE_BYTES`] is neither parsed nor kept whole, and warnings about bad notices
//! are logged at most once per 10 s.
//!
//! Notices are an accelerator, never the only path: a lost notice, a feed that is down or an instance that was disconnected is
//! covered by the polling bound that holds without them (the cache's `ttl`, the revocation
//! list's `revocation_refresh`), and after every (re)subscription an instance drops every copy it
//! holds, since it cannot know what it missed. It does the same when the subscription is lost:
//! when the feed ends it, and when, after 5 s without any notice, not even a probe of its own
//! comes back within 5 s more (a connection whose network path died without a word never
//! fails on its own).
//!
//! The stores that ship with the crate provide a feed ([`SessionStore::change_feed`](crate::SessionStore::change_feed)); a
//! custom store can provide its own by implementing [`ChangeFeed`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::StoreError;
use crate::error::bounded;

#[cfg(feature = "jwt")]
mod coalesce;
mod liveness;
mod warning;
#[cfg(feature = "jwt")]
pub(crate) use coalesce::Coalesced;
use liveness::{Liveness, Quiet};
use warning::RateLimitedWarning;

/// At most one warning about bad notices per this interval (a flood must not flood the logs).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The longest notice a feed must carry, in bytes (PostgreSQL's `NOTIFY` payload limit is 8000).
/// A longer one (a change to a user with a very long id) is published as "drop everything".
///
/// A [`ChangeFeed`] over a transport of its own checks that the transport carries that much:
///
/// ```
/// use sessionward::MAX_NOTICE_BYTES;
///
/// /// The largest message the application's message bus accepts.
/// const BUS_MESSAGE_LIMIT: usize = 8 * 1024;
/// const _: () = assert!(MAX_NOTICE_BYTES <= BUS_MESSAGE_LIMIT);
/// assert!(MAX_NOTICE_BYTES < 8_000); // PostgreSQL's NOTIFY payload limit
/// ```
pub const MAX_NOTICE_BYTES: usize = 7_900;

/// A channel that carries short text notices from every instance to every instance.
///
/// Delivery is best effort: a notice may be lost (the polling bounds cover that), delivered
/// twice, or delivered to its sender too (each notice names its sender, which ignores it).
///
/// ```
/// use async_trait::async_trait;
/// use sessionward::{ChangeFeed, StoreError};
/// use tokio::sync::{broadcast, mpsc};
///
/// /// Instances in one process (a test, say) sharing a broadcast channel.
/// struct InProcess(broadcast::Sender<String>);
///
/// #[async_trait]
/// impl ChangeFeed for InProcess {
///     async fn publish(&self, notice: &str) -> Result<(), StoreError> {
///         let _ = self.0.send(notice.to_owned());
///         Ok(())
///     }
///
///     async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
///         let mut from = self.0.subscribe();
///         let (to, receiver) = mpsc::channel(64);
///         tokio::spawn(async move {
///             // Ends (and so tells the follower the subscription is lost) when the
///             // follower goes away or notices were dropped.
///             while let Ok(notice) = from.recv().await {
///                 if to.send(notice).await.is_err() {
///                     break;
///                 }
///             }
///         });
///         Ok(receiver)
///     }
/// }
/// ```
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Sends `notice` (at most [`MAX_NOTICE_BYTES`]) to every subscribed instance.
    async fn publish(&self, notice: &str) -> Result<(), StoreError>;

    /// Starts receiving notices. Returns once the subscription is in place (notices published
    /// from then on are delivered); the receiver yields them and ends when the subscription is
    /// lost, or when notices may have been skipped. Dropping the receiver ends it.
    async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError>;
}

/// What a notice says happened. A notice is a signal, never data: it can make an instance drop
/// copies or re-read the store, and nothing else. Any database role may `NOTIFY` and any Redis
/// client may `PUBLISH`, so what a revocation says is always read from the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Change {
    /// Session `id` was ended or changed: drop any copy of it.
    Session(Uuid),
    /// The sessions of `user` were ended, except `keep`.
    User { user: String, keep: Option<Uuid> },
    /// The JWT revocation list gained an entry: re-read it from the store.
    Revocations,
    /// Anything may have changed: drop every copy.
    Everything,
    /// Nothing changed: a follower's probe that its subscription still delivers (see
    /// `liveness`). Every follower ignores it.
    Nothing,
}

/// One notice: who sent it, and what changed.
#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    /// Format version.
    v: u8,
    /// The sending layer.
    from: Uuid,
    change: Change,
}

/// Version 2: revocations are announced as a signal ([`Change::Revocations`]); version 1 carried
/// the revocation itself, and reads as unreadable now (so as "anything may have changed").
const NOTICE_VERSION: u8 = 2;

impl Notice {
    fn encode(from: Uuid, change: &Change) -> String {
        let text = serde_json::to_string(&Notice {
            v: NOTICE_VERSION,
            from,
            change: change.clone(),
        })
        .unwrap_or_default();
        if text.len() <= MAX_NOTICE_BYTES {
            return text;
        }
        serde_json::to_string(&Notice {
            v: NOTICE_VERSION,
            from,
            change: Change::Everything,
        })
        .unwrap_or_default()
    }

    /// The notice `text` holds; `None` for anything unreadable, including a notice longer
    /// than [`MAX_NOTICE_BYTES`] (no instance sends one), which is not even parsed.
    fn decode(text: &str) -> Option<Notice> {
        if text.len() > MAX_NOTICE_BYTES {
            return None;
        }
        serde_json::from_str::<Notice>(text)
            .ok()
            .filter(|n| n.v == NOTICE_VERSION)
    }
}

/// What a feed hands on of a received message: the message, or, when it is longer than any
/// notice ([`MAX_NOTICE_BYTES`]), only its first `MAX_NOTICE_BYTES + 1` bytes, which the
/// follower then ignores as oversized. A message of any size costs a bounded copy.
#[cfg(feature = "redis")]
pub(crate) fn capped(message: &[u8]) -> String {
    let kept = &message[..message.len().min(MAX_NOTICE_BYTES + 1)];
    String::from_utf8_lossy(kept).into_owned()
}

/// What follows the notices: drops what they name, or re-reads the store.
pub(crate) trait Follower: Send + Sync + 'static {
    /// Applies another instance's change.
    fn apply(self: Arc<Self>, change: Change);
    /// Called when a subscription is lost and after every (re)subscription: whatever happened
    /// while not subscribed is unknown.
    fn resync(self: Arc<Self>);
}

/// One layer's side of the feed: publishes its changes, and follows the others'.
pub(crate) struct Notifier {
    feed: Arc<dyn ChangeFeed>,
    /// This layer, so that it ignores its own notices.
    origin: Uuid,
    timeout: Duration,
    started: std::sync::OnceLock<()>,
}

/// Longest pause between two subscription attempts while the feed is down.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// The longest a subscription attempt may take (a silent server must not stop the retries).
const SUBSCRIBE_LIMIT: Duration = Duration::from_secs(10);
/// How often the follower checks that its layer still exists while no notice arrives.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);

impl Notifier {
    pub(crate) fn new(feed: Arc<dyn ChangeFeed>, timeout: Duration) -> Self {
        Self {
            feed,
            origin: Uuid::new_v4(),
            timeout,
            started: std::sync::OnceLock::new(),
        }
    }

    /// Tells the other instances about `change`, waiting at most the store timeout. A failure
    /// is logged, not returned: the change itself is stored, and the polling bound still holds.
    pub(crate) async fn publish(&self, change: Change) {
        let notice = Notice::encode(self.origin, &change);
        sent(bounded(self.timeout, self.feed.publish(&notice)).await);
    }

    /// [`publish`](Self::publish) from a task of its own, for a caller that cannot wait (a
    /// guard dropped with a change it must announce). Outside a runtime nothing is sent:
    /// the other instances follow by polling.
    pub(crate) fn publish_detached(&self, change: Change) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (feed, timeout) = (self.feed.clone(), self.timeout);
        let notice = Notice::encode(self.origin, &change);
        runtime.spawn(async move { sent(bounded(timeout, feed.publish(&notice)).await) });
    }

    /// Starts following the feed for `follower`, once; the task ends when `follower` is gone.
    /// Must be called within a Tokio runtime.
    pub(crate) fn follow<F: Follower>(&self, follower: &Arc<F>) {
        self.started.get_or_init(|| {
            tokio::spawn(follow(
                self.feed.clone(),
                self.origin,
                self.timeout,
                Arc::downgrade(follower),
            ));
        });
    }
}

/// Logs a notice that could not be sent.
fn sent(published: Result<(), StoreError>) {
    if let Err(e) = published {
        tracing::warn!(error = %e, "change notice not sent; other instances follow by polling");
    }
}

async fn follow<F: Follower>(
    feed: Arc<dyn ChangeFeed>,
    origin: Uuid,
    timeout: Duration,
    follower: Weak<F>,
) {
    let mut retry = Duration::from_millis(100);
    loop {
        if follower.strong_count() == 0 {
            return;
        }
        match tokio::time::timeout(SUBSCRIBE_LIMIT, feed.subscribe()).await {
            Ok(Ok(mut notices)) => {
                retry = Duration::from_millis(100);
                let mut unreadable = RateLimitedWarning::new(WARN_EVERY);
                let Some(f) = follower.upgrade() else { return };
                f.resync();
                tracing::debug!("following change notices");
                let mut live = Liveness::new(Instant::now());
                loop {
                    let notice = match tokio::time::timeout(LIVENESS_CHECK, notices.recv()).await {
                        Ok(Some(notice)) => notice,
                        Ok(None) => break,
                        Err(_) if follower.strong_count() == 0 => return,
                        Err(_) => match live.quiet(Instant::now()) {
                            Quiet::Wait => continue,
                            Quiet::Probe => {
                                let (feed, probe) =
                                    (feed.clone(), Notice::encode(origin, &Change::Nothing));
                                tokio::spawn(async move {
                                    // Unanswered is what the next checks find out.
                                    let _ = bounded(timeout, feed.publish(&probe)).await;
                                });
                                continue;
                            }
                            Quiet::Lost => {
                                tracing::warn!(
                                    "not even this instance's own probe came back through the change feed"
                                );
                                break;
                            }
                        },
                    };
                    live.heard(Instant::now());
                    let Some(f) = follower.upgrade() else { return };
                    crate::instrument::notice_received();
                    match Notice::decode(&notice) {
                        Some(n) if n.from == origin || n.change == Change::Nothing => {}
                        Some(n) => {
                            crate::instrument::notice_applied();
                            f.apply(n.change)
                        }
                        // No instance sends one this long: junk, with nothing to act on.
                        None if notice.len() > MAX_NOTICE_BYTES => {
                            if let Some(suppressed) = unreadable.due() {
                                tracing::warn!(
                                    bytes = notice.len(),
                                    suppressed,
                                    "oversized change notice ignored"
                                );
                            }
                        }
                        // Perhaps an instance of another version: whatever it says, copies may
                        // be stale. Dropping them (or one coalesced re-read) costs a bounded
                        // number of store queries however many such notices arrive.
                        None => {
                            if let Some(suppressed) = unreadable.due() {
                                tracing::warn!(
                                    suppressed,
                                    "unreadable change notice; dropping every copy"
                                );
                            }
                            crate::instrument::notice_applied();
                            f.apply(Change::Everything);
                        }
                    }
                }
                tracing::warn!("change notices lost; copies follow by polling until they resume");
                // Notices may have been missed before the loss showed: whatever was kept while
                // subscribed is not trusted through the time it takes to subscribe again.
                let Some(f) = follower.upgrade() else { return };
                f.resync();
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot follow change notices; retrying");
            }
            Err(_) => {
                tracing::warn!("no change-notice subscription within 10 s; retrying");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A feed whose first subscription the test ends, and that cannot subscribe again.
    struct OneSubscription(Mutex<Option<mpsc::Receiver<String>>>);

    #[async_trait]
    impl ChangeFeed for OneSubscription {
        async fn publish(&self, _notice: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
            let first = self.0.lock().unwrap().take();
            first.ok_or(StoreError::Unsupported("down"))
        }
    }

    #[derive(Default)]
    struct Resyncs(AtomicUsize);

    impl Follower for Resyncs {
        fn apply(self: Arc<Self>, _change: Change) {}
        fn resync(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A feed whose subscriptions the test holds open: `echo` delivers what is published to
    /// the subscriber (a working feed); without it, notices are lost (a dead network path that
    /// fails nothing).
    struct HeldOpen {
        echo: bool,
        subscriber: Mutex<Option<mpsc::Sender<String>>>,
        subscriptions: AtomicUsize,
    }

    impl HeldOpen {
        fn new(echo: bool) -> Arc<Self> {
            Arc::new(Self {
                echo,
                subscriber: Mutex::new(None),
                subscriptions: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl ChangeFeed for HeldOpen {
        async fn publish(&self, notice: &str) -> Result<(), StoreError> {
            let subscriber = self.subscriber.lock().unwrap().clone();
            if let (true, Some(subscriber)) = (self.echo, subscriber) {
                let _ = subscriber.send(notice.to_owned()).await;
            }
            Ok(())
        }
        async fn subscribe(&self) -> Result<mpsc::Receiver<String>, StoreError> {
            let (sender, receiver) = mpsc::channel(8);
            *self.subscriber.lock().unwrap() = Some(sender);
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
            Ok(receiver)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_that_delivers_nothing_any_more_is_followed_afresh() {
        let feed = HeldOpen::new(false);
        let notifier = Notifier::new(feed.clone(), Duration::from_secs(1));
        let follower = Arc::new(Resyncs::default());
        notifier.follow(&follower);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(feed.subscriptions.load(Ordering::SeqCst), 1);
        // Quiet for PROBE_AFTER, then the probe is lost: the subscription counts as lost.
        let limit = liveness::PROBE_AFTER + liveness::PROBE_ANSWER + Duration::from_secs(3);
        tokio::time::sleep(limit).await;
        assert!(
            feed.subscriptions.load(Ordering::SeqCst) >= 2,
            "subscribed again"
        );
        assert!(follower.0.load(Ordering::SeqCst) >= 3, "copies dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_subscription_that_delivers_is_kept() {
        let feed = HeldOpen::new(true);
        let notifier = Notifier::new(feed.clone(), Duration::from_secs(1));
        let follower = Arc::new(Resyncs::default());
        notifier.follow(&follower);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(feed.subscriptions.load(Ordering::SeqCst), 1);
        assert_eq!(follower.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_lost_subscription_drops_the_copies_at_once_not_only_when_it_resumes() {
        let (sender, receiver) = mpsc::channel(1);
        let feed = Arc::new(OneSubscription(Mutex::new(Some(receiver))));
        let notifier = Notifier::new(feed, Duration::from_secs(1));
        let follower = Arc::new(Resyncs::default());
        notifier.follow(&follower);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(follower.0.load(Ordering::SeqCst), 1, "subscribed");
        drop(sender);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            follower.0.load(Ordering::SeqCst),
            2,
            "the loss is acted on while the feed is still down"
        );
    }

    #[test]
    fn notices_round_trip_and_long_ones_become_everything() {
        let from = Uuid::new_v4();
        let change = Change::User {
            user: "alice".into(),
            keep: Some(Uuid::nil()),
        };
        let decoded = Notice::decode(&Notice::encode(from, &change)).unwrap();
        assert_eq!((decoded.from, decoded.change), (from, change));

        let long = Change::User {
            user: "x".repeat(MAX_NOTICE_BYTES),
            keep: None,
        };
        let text = Notice::encode(from, &long);
        assert!(text.len() <= MAX_NOTICE_BYTES);
        assert_eq!(Notice::decode(&text).unwrap().change, Change::Everything);

        assert!(Notice::decode("garbage").is_none());
        assert!(
            Notice::decode(
                r#"{"v":9,"from":"00000000-0000-0000-0000-000000000000","change":"everything"}"#
            )
            .is_none()
        );
    }
}
