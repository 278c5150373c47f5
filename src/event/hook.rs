//! [`SessionEvents`]: the hook, and its delivery through a bounded queue to one task.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use super::SessionEvent;

type Hook = dyn Fn(SessionEvent) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// The default number of events waiting for the hook before new ones are dropped.
const DEFAULT_CAPACITY: usize = 1024;

/// The session event hook: give it to
/// [`SessionConfig::events`](crate::SessionConfig::events) and it receives every
/// [`SessionEvent`] of the layer.
///
/// **Never in the way of a request.** Emitting an event puts it in a bounded queue (1,024 by
/// default, [`capacity`](Self::capacity)) without waiting; one task, started with the first
/// event on the runtime that serves it, takes them out and awaits the hook for each in turn.
/// A slow hook delays only the events behind it. A hook that panics loses its own event and is
/// counted in [`failed`](Self::failed); the next event is delivered as usual, and the request
/// that caused it had already been answered or goes on unaffected.
///
/// **Order.** Events reach the hook one at a time, in the order they were emitted; the events
/// of one request in the order its operations finished. Events of concurrent requests
/// interleave.
///
/// **When delivery is lost.** An event is dropped, and counted in
/// [`dropped`](Self::dropped), when the queue is full (the hook is slower than the traffic),
/// or when the task's runtime has shut down. Events still queued when the process exits are
/// lost. An event is emitted only after its change reached the store, so the hook never hears
/// of a change that did not happen; a change whose event was dropped still happened. For an
/// audit trail that must be complete, write it in the same transaction as your own data, and
/// use this hook for what may be lost (notifications, "new sign-in" e-mails).
///
/// ```
/// use sessionward::{SessionConfig, SessionEvents, SessionEventKind};
///
/// let events = SessionEvents::new(|event| async move {
///     if event.kind == SessionEventKind::Created {
///         // e.g. queue a "new sign-in from {user_agent}" e-mail for event.user_id
///         tracing::info!(user = ?event.user_id, "new sign-in");
///     }
/// });
/// let config = SessionConfig::default().events(events.clone());
/// assert_eq!(events.dropped(), 0);
/// ```
#[derive(Clone)]
pub struct SessionEvents {
    hook: Arc<Hook>,
    capacity: usize,
    /// Made with the first event. When the last clone goes, so does the queue, and its task
    /// ends.
    queue: Arc<OnceLock<mpsc::Sender<SessionEvent>>>,
    delivery: Arc<Delivery>,
}

/// The counters, shared by every clone and the delivery task.
#[derive(Default)]
struct Delivery {
    dropped: AtomicU64,
    failed: AtomicU64,
    delivered: AtomicU64,
}

impl std::fmt::Debug for SessionEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEvents")
            .field("capacity", &self.capacity)
            .field("delivered", &self.delivered())
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}

impl SessionEvents {
    /// A hook that awaits `hook(event)` for every event.
    pub fn new<F, Fut>(hook: F) -> Self
    where
        F: Fn(SessionEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            hook: Arc::new(move |event| Box::pin(hook(event))),
            capacity: DEFAULT_CAPACITY,
            queue: Arc::default(),
            delivery: Arc::default(),
        }
    }

    /// How many events may wait for the hook before new ones are dropped (default 1,024; at
    /// least 1). Set it before the first event.
    ///
    /// ```
    /// let events = sessionward::SessionEvents::new(|_| async {}).capacity(10_000);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// How many events were dropped: the queue was full, or its task's runtime was gone.
    pub fn dropped(&self) -> u64 {
        self.delivery.dropped.load(Ordering::Relaxed)
    }

    /// How many calls of the hook panicked.
    pub fn failed(&self) -> u64 {
        self.delivery.failed.load(Ordering::Relaxed)
    }

    /// How many events the hook finished.
    pub fn delivered(&self) -> u64 {
        self.delivery.delivered.load(Ordering::Relaxed)
    }

    /// Queues `event` for the hook without waiting; drops and counts it when that cannot be
    /// done at once. Called from within a Tokio runtime (a request).
    pub(crate) fn emit(&self, event: SessionEvent) {
        let queue = self.queue.get_or_init(|| self.start());
        if queue.try_send(event).is_err() {
            self.delivery.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The queue, and the task that empties it into the hook.
    fn start(&self) -> mpsc::Sender<SessionEvent> {
        let (sender, mut receiver) = mpsc::channel::<SessionEvent>(self.capacity);
        let hook = self.hook.clone();
        let delivery = self.delivery.clone();
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                // Its own task: a panic in the hook ends that call, not the delivery.
                match tokio::spawn(hook(event)).await {
                    Ok(()) => delivery.delivered.fetch_add(1, Ordering::Relaxed),
                    Err(_) => delivery.failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        sender
    }
}
