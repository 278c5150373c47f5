//! The queue behind [`LoadBatching`]: concurrent session loads share statements, with no timer.
//!
//! A load that finds a free slot (fewer than `max_in_flight` statements running) takes it and
//! sends its own statement at once. Otherwise it queues. When a statement ends, its slot passes
//! to the first load still queued, which leads the next statement: itself and the loads queued
//! behind it, up to `max_batch`, each of which gets its own row or nothing.
//!
//! A slot passed on carries the connection its statement ran on (a [`Lease`]), so the next
//! statement goes out on it at once. A slot that nobody waits for parks its connection for the
//! next load that finds a free slot (see [`super::lease`] for how long, and how many times).
//!
//! Nothing here may lose a load or a slot when a request is cancelled (a client that hangs up,
//! a `store_timeout` that fires):
//! - the slot is a guard ([`Slot`]) whose drop passes it on, so a leader dropped mid-statement,
//!   or a handed slot never received, frees it for the next load;
//! - the loads a cancelled leader carried see their reply channel close and queue again, first
//!   in line, so that the next statement carries them (their own `store_timeout` still bounds
//!   them), and no load ever runs outside a slot;
//! - a cancelled load's place in the queue is skipped when a batch is taken.
//!
//! The queue is bounded ([`LoadBatching::max_waiting`]): a load that finds it full fails at
//! once with [`StoreError::Overloaded`] (503), rather than wait behind loads that will time out
//! before their turn.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::batching::LoadBatching;
use super::lease::{HANDOFFS, Lease, PARK_FOR, Parked};
use crate::error::StoreError;
use crate::store::SessionRecord;
use crate::token::TokenHash;

/// A row a statement found, under its token hash: the session, or why that row could not be
/// read (the loads of that token alone fail with it).
pub(super) type Found = (TokenHash, Result<SessionRecord, StoreError>);

/// What `fetch` returns: the rows it found, and the connection, when it may serve again.
pub(super) type Fetched<C> = (Result<Vec<Found>, StoreError>, Option<C>);

/// What a queued load is told.
enum Reply<C> {
    /// Its row, or nothing, or why the store could not answer.
    Answer(Box<Result<Option<SessionRecord>, StoreError>>),
    /// A statement ended: the load leads the next one, with this slot.
    Lead(Slot<C>),
}

/// How a load starts: in a free slot (with a parked connection, if one is kept), or queued.
enum Turn<C> {
    Free(Option<Lease<C>>),
    Queued(oneshot::Receiver<Reply<C>>),
}

struct Waiting<C> {
    hash: TokenHash,
    reply: oneshot::Sender<Reply<C>>,
}

struct State<C> {
    /// Slots taken: statements running or about to be sent.
    in_flight: usize,
    /// Loads waiting for a slot, oldest first. Empty whenever a slot is free.
    waiting: VecDeque<Waiting<C>>,
    /// Connections kept for the next load that finds a free slot.
    parked: Parked<C>,
    /// Starts the task that returns parked connections to the pool (`C`'s `Send + 'static`
    /// is known where the queue is made, not where a slot is dropped).
    start_reaper: fn(&Handle, Weak<Mutex<State<C>>>),
}

/// Concurrent session loads of one store, batched as [`LoadBatching`] says. `C` is the
/// connection a statement runs on.
pub(super) struct LoadQueue<C> {
    settings: LoadBatching,
    state: Arc<Mutex<State<C>>>,
}

/// The right to run one statement, with the connection the last one ran on, if any. Dropping
/// it hands both to the oldest queued load, or frees the slot and parks the connection.
struct Slot<C> {
    /// `None` once handed on.
    state: Option<Arc<Mutex<State<C>>>>,
    lease: Option<Lease<C>>,
}

impl<C> Slot<C> {
    fn of(state: &Arc<Mutex<State<C>>>, lease: Option<Lease<C>>) -> Self {
        Self {
            state: Some(state.clone()),
            lease,
        }
    }
}

impl<C> Drop for Slot<C> {
    fn drop(&mut self) {
        let Some(shared) = self.state.take() else {
            return;
        };
        let mut lease = self.lease.take();
        let mut state = lock(&shared);
        while let Some(next) = state.waiting.pop_front() {
            match next
                .reply
                .send(Reply::Lead(Slot::of(&shared, lease.take())))
            {
                Ok(()) => return,
                // That load was cancelled and the slot came back: disarm it (dropping it armed
                // would lock again), keep its connection and try the next load.
                Err(Reply::Lead(mut slot)) => {
                    slot.state = None;
                    lease = slot.lease.take();
                }
                Err(Reply::Answer(_)) => unreachable!("a Lead was sent"),
            }
        }
        state.in_flight -= 1;
        // Outside a runtime nothing could return a parked connection: it goes back at once,
        // after the lock is released, on the runtime connections were last parked on.
        let runtime = Handle::try_current();
        let start_reaper = match &runtime {
            Ok(runtime) => lease
                .take()
                .and_then(|lease| state.parked.park(lease, runtime).then_some(runtime)),
            Err(_) => None,
        };
        let parked_on = state.parked.runtime_to_enter(&runtime).cloned();
        let start = state.start_reaper;
        drop(state);
        // Started only once the lock is released: a runtime that is shutting down drops the
        // new task at once, on this thread, and the reaper's drop takes the lock.
        if let Some(runtime) = start_reaper {
            start(runtime, Arc::downgrade(&shared));
        }
        let _entered = parked_on.as_ref().map(Handle::enter);
        drop(lease);
    }
}

/// Returns connections parked at least [`PARK_FOR`] ago to the pool, every [`PARK_FOR`], until
/// none is parked or the queue is gone.
async fn reap_parked<C>(mut running: Running<C>) {
    loop {
        tokio::time::sleep(PARK_FOR).await;
        let Some(shared) = running.0.upgrade() else {
            return;
        };
        let (stale, again) = lock(&shared).parked.reap();
        drop(stale);
        if !again {
            // `reap` has already marked the reaper gone.
            running.0 = Weak::new();
            return;
        }
    }
}

/// The reaper, from the moment it is spawned. Dropped before it finished (its runtime shut
/// down, even before the task first ran), it marks the reaper gone, so that the next park
/// starts one again instead of leaving connections parked with nobody to return them.
struct Running<C>(Weak<Mutex<State<C>>>);

impl<C> Drop for Running<C> {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            lock(&shared).parked.reaper_gone();
        }
    }
}

fn start_reaper<C: Send + 'static>(runtime: &Handle, state: Weak<Mutex<State<C>>>) {
    runtime.spawn(reap_parked(Running(state)));
}

fn lock<C>(state: &Mutex<State<C>>) -> MutexGuard<'_, State<C>> {
    // The state holds no invariant a panic elsewhere could break halfway.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<C: Send + 'static> LoadQueue<C> {
    pub(super) fn new(settings: LoadBatching) -> Self {
        let state = State {
            in_flight: 0,
            waiting: VecDeque::new(),
            parked: Parked::default(),
            start_reaper: start_reaper::<C>,
        };
        Self {
            settings,
            state: Arc::new(Mutex::new(state)),
        }
    }
}

impl<C> LoadQueue<C> {
    pub(super) fn settings(&self) -> LoadBatching {
        self.settings
    }

    /// The row of `hash`, through `fetch`, which loads the rows of the hashes it is given (one,
    /// or a batch) and returns those it found, in any order. `fetch` is given the connection
    /// a statement ran on before, when one was kept, and checks one out of the pool
    /// otherwise; it returns the connection when it may serve another statement.
    pub(super) async fn load<F, Fut>(
        &self,
        hash: TokenHash,
        fetch: F,
    ) -> Result<Option<SessionRecord>, StoreError>
    where
        F: Fn(Vec<TokenHash>, Option<C>) -> Fut,
        Fut: Future<Output = Fetched<C>>,
    {
        // A load whose statement was cancelled with its leader queues again, first in line.
        let mut again = false;
        let (mut slot, batch) = loop {
            let turn = {
                let mut state = lock(&self.state);
                if state.in_flight < self.settings.max_in_flight() {
                    state.in_flight += 1;
                    Turn::Free(state.parked.take())
                } else if state.waiting.len() >= self.settings.max_waiting() {
                    return Err(StoreError::Overloaded(self.settings.max_waiting()));
                } else {
                    let (reply, answer) = oneshot::channel();
                    let waiting = Waiting { hash, reply };
                    match again {
                        true => state.waiting.push_front(waiting),
                        false => state.waiting.push_back(waiting),
                    }
                    Turn::Queued(answer)
                }
            };
            match turn {
                Turn::Free(parked) => break (Slot::of(&self.state, parked), Vec::new()),
                Turn::Queued(answer) => match answer.await {
                    Ok(Reply::Answer(answer)) => return *answer,
                    Ok(Reply::Lead(slot)) => {
                        break (slot, self.take(self.settings.max_batch() - 1));
                    }
                    // The statement that carried this load was cancelled with its leader.
                    Err(_) => again = true,
                },
            }
        };
        let mut hashes = Vec::with_capacity(1 + batch.len());
        hashes.push(hash);
        hashes.extend(batch.iter().map(|w| w.hash));
        let lease = slot.lease.take();
        let statements_left = lease.as_ref().map_or(HANDOFFS, |l| l.statements_left - 1);
        let (fetched, connection) = fetch(hashes, lease.map(|l| l.connection)).await;
        slot.lease = connection.and_then(|c| Lease::after(c, statements_left));
        drop(slot);
        answer_all(hash, batch, fetched)
    }

    /// Up to `n` queued loads still waiting (a cancelled one is dropped), oldest first.
    fn take(&self, n: usize) -> Vec<Waiting<C>> {
        let mut state = lock(&self.state);
        let mut taken = Vec::with_capacity(n.min(state.waiting.len()));
        while taken.len() < n {
            let Some(next) = state.waiting.pop_front() else {
                break;
            };
            if !next.reply.is_closed() {
                taken.push(next);
            }
        }
        taken
    }
}

/// Gives each load of `batch` its own row (or nothing, or the failure) and returns the leader's.
fn answer_all<C>(
    leader: TokenHash,
    batch: Vec<Waiting<C>>,
    fetched: Result<Vec<Found>, StoreError>,
) -> Result<Option<SessionRecord>, StoreError> {
    match fetched {
        Ok(rows) => {
            let rows: Vec<(TokenHash, Result<SessionRecord, SharedError>)> = rows
                .into_iter()
                .map(|(hash, row)| (hash, row.map_err(SharedError::of)))
                .collect();
            // Two loads of one token in a batch each get the row, or its failure.
            let row_of = |hash: TokenHash| match rows.iter().find(|(found, _)| *found == hash) {
                None => Ok(None),
                Some((_, Ok(row))) => Ok(Some(row.clone())),
                Some((_, Err(error))) => Err(error.to_store_error()),
            };
            for waiting in batch {
                // A load that was cancelled meanwhile no longer listens.
                let _ = waiting
                    .reply
                    .send(Reply::Answer(Box::new(row_of(waiting.hash))));
            }
            row_of(leader)
        }
        Err(error) => {
            let shared = SharedError::of(error);
            for waiting in batch {
                let _ = waiting
                    .reply
                    .send(Reply::Answer(Box::new(Err(shared.to_store_error()))));
            }
            Err(shared.to_store_error())
        }
    }
}

/// One failure of a batch, told to every load of it, or of one row, told to every load of
/// its token.
enum SharedError {
    Timeout(std::time::Duration),
    Stale(std::time::Duration),
    Corrupt(&'static str),
    Duplicate,
    Unsupported(&'static str),
    Overloaded(usize),
    RevocationListFull(usize),
    Backend(Arc<dyn std::error::Error + Send + Sync>),
}

impl SharedError {
    fn of(error: StoreError) -> Self {
        match error {
            StoreError::Timeout(d) => Self::Timeout(d),
            StoreError::Stale(d) => Self::Stale(d),
            StoreError::Corrupt(column) => Self::Corrupt(column),
            StoreError::Duplicate => Self::Duplicate,
            StoreError::Unsupported(what) => Self::Unsupported(what),
            StoreError::Overloaded(n) => Self::Overloaded(n),
            StoreError::RevocationListFull(n) => Self::RevocationListFull(n),
            StoreError::Backend(source) => Self::Backend(Arc::from(source)),
        }
    }

    fn to_store_error(&self) -> StoreError {
        match self {
            Self::Timeout(d) => StoreError::Timeout(*d),
            Self::Stale(d) => StoreError::Stale(*d),
            Self::Corrupt(column) => StoreError::Corrupt(column),
            Self::Duplicate => StoreError::Duplicate,
            Self::Unsupported(what) => StoreError::Unsupported(what),
            Self::Overloaded(n) => StoreError::Overloaded(*n),
            Self::RevocationListFull(n) => StoreError::RevocationListFull(*n),
            Self::Backend(source) => StoreError::Backend(Box::new(SharedSource(source.clone()))),
        }
    }
}

/// A backend failure shared by the loads of one batch.
#[derive(Debug)]
struct SharedSource(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for SharedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    //! The queue's own rules, with a fetch the test holds back and releases statement by
    //! statement (the stores' tests run it against the real databases).

    use std::collections::HashMap;
    use std::time::Duration;

    use time::OffsetDateTime;
    use tokio::sync::Semaphore;
    use uuid::Uuid;

    use super::*;

    fn hash(n: u8) -> TokenHash {
        TokenHash::from_slice(&[n; 32]).unwrap()
    }

    fn record(n: u8) -> SessionRecord {
        let t = OffsetDateTime::UNIX_EPOCH;
        SessionRecord {
            id: Uuid::from_u128(n.into()),
            token_hash: hash(n),
            user_id: format!("user-{n}"),
            data: "{}".into(),
            version: 0,
            created_at: t,
            authenticated_at: t,
            refreshed_at: t,
            expires_at: t,
            absolute_expires_at: t,
            user_agent: None,
            ip: None,
            persistent: true,
        }
    }

    /// The row that does not decode.
    const CORRUPT: u8 = 66;

    /// A connection of the test's database: its number, counted from 1 as each is opened.
    type Connection = u32;

    /// Rows 0..100 but 13 (and [`CORRUPT`]'s does not decode), statements held until
    /// released, every batch recorded with the connection it ran on.
    struct Database {
        rows: HashMap<TokenHash, SessionRecord>,
        statements: Mutex<Vec<Vec<TokenHash>>>,
        connections_used: Mutex<Vec<Connection>>,
        opened: Mutex<Connection>,
        release: Semaphore,
        fail: Mutex<bool>,
    }

    impl Database {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                rows: (0..100)
                    .filter(|&n| n != 13)
                    .map(|n| (hash(n), record(n)))
                    .collect(),
                statements: Mutex::default(),
                connections_used: Mutex::default(),
                opened: Mutex::default(),
                release: Semaphore::new(0),
                fail: Mutex::new(false),
            })
        }

        /// Runs on the connection handed over, or opens one; keeps it unless the statement
        /// failed.
        async fn fetch(
            self: Arc<Self>,
            hashes: Vec<TokenHash>,
            handed: Option<Connection>,
        ) -> Fetched<Connection> {
            let connection = handed.unwrap_or_else(|| {
                let mut opened = self.opened.lock().unwrap();
                *opened += 1;
                *opened
            });
            self.statements.lock().unwrap().push(hashes.clone());
            self.connections_used.lock().unwrap().push(connection);
            self.release.acquire().await.unwrap().forget();
            if *self.fail.lock().unwrap() {
                return (Err(StoreError::Backend("connection reset".into())), None);
            }
            let rows = hashes
                .iter()
                .filter_map(|h| self.rows.get(h).cloned())
                .map(|row| match row.token_hash == hash(CORRUPT) {
                    true => (row.token_hash, Err(StoreError::Corrupt("expires_at"))),
                    false => (row.token_hash, Ok(row)),
                })
                .collect();
            (Ok(rows), Some(connection))
        }

        fn connections_used(&self) -> Vec<Connection> {
            self.connections_used.lock().unwrap().clone()
        }

        fn statements(&self) -> Vec<Vec<u8>> {
            let first_byte = |b: &Vec<TokenHash>| b.iter().map(|h| h.as_bytes()[0]).collect();
            self.statements
                .lock()
                .unwrap()
                .iter()
                .map(first_byte)
                .collect()
        }

        async fn wait_for_statements(&self, n: usize) {
            for _ in 0..5_000 {
                if self.statements.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("{n} statements never started: {:?}", self.statements());
        }
    }

    type Load = tokio::task::JoinHandle<Result<Option<SessionRecord>, StoreError>>;

    fn spawn_load(queue: &Arc<LoadQueue<Connection>>, db: &Arc<Database>, n: u8) -> Load {
        let (queue, db) = (queue.clone(), db.clone());
        tokio::spawn(async move { queue.load(hash(n), |h, c| db.clone().fetch(h, c)).await })
    }

    /// Lets every spawned load run up to where it waits.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// Loads of `ns` that queue in this order.
    async fn spawn_queued(
        queue: &Arc<LoadQueue<Connection>>,
        db: &Arc<Database>,
        ns: &[u8],
    ) -> Vec<Load> {
        let mut loads = Vec::new();
        for &n in ns {
            loads.push(spawn_load(queue, db, n));
            settle().await;
        }
        loads
    }

    async fn answer(load: Load) -> Option<String> {
        load.await.unwrap().unwrap().map(|r| r.user_id)
    }

    #[tokio::test]
    async fn loads_beyond_the_slots_wait_then_go_out_together_and_each_gets_its_own_row() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        // Two loads of 3, and the next statement's leader (2) loaded again behind it.
        let waiting = spawn_queued(&queue, &db, &[2, 13, 3, 3, 2]).await;
        assert_eq!(
            db.statements(),
            [vec![1]],
            "nobody joins a statement already sent"
        );
        db.release.add_permits(2);
        assert_eq!(answer(first).await.as_deref(), Some("user-1"));
        let mut answers = Vec::new();
        for load in waiting {
            answers.push(answer(load).await);
        }
        assert_eq!(
            answers,
            [
                Some("user-2".into()),
                None,
                Some("user-3".into()),
                Some("user-3".into()),
                Some("user-2".into())
            ]
        );
        assert_eq!(db.statements(), [vec![1], vec![2, 13, 3, 3, 2]]);
    }

    #[tokio::test]
    async fn a_free_slot_sends_at_once_and_batches_are_capped() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(2, 3)));
        let db = Database::new();
        let leaders = [spawn_load(&queue, &db, 1), spawn_load(&queue, &db, 2)];
        db.wait_for_statements(2).await;
        let waiting = spawn_queued(&queue, &db, &[10, 11, 12, 13, 14, 15, 16]).await;
        db.release.add_permits(100);
        for load in leaders.into_iter().chain(waiting) {
            load.await.unwrap().unwrap();
        }
        // Two loads found a free slot and went alone; the seven behind them went in batches
        // of at most three (which of them lead depends on which statement ends first), each
        // load in exactly one statement.
        let statements = db.statements();
        let mut first_two = statements[..2].to_vec();
        first_two.sort();
        assert_eq!(first_two, [vec![1], vec![2]]);
        assert!(
            statements[2..].iter().all(|b| b.len() <= 3),
            "{statements:?}"
        );
        assert!(statements.len() <= 2 + 4, "{statements:?}");
        let mut loaded: Vec<u8> = statements[2..].concat();
        loaded.sort();
        assert_eq!(loaded, (10..17).collect::<Vec<u8>>());
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_its_slot_on_and_the_loads_it_carried_still_get_answers() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let second = spawn_load(&queue, &db, 2);
        settle().await;
        let carried = spawn_queued(&queue, &db, &[3, 4, 5]).await;
        // The first statement ends: the second load leads the three behind it.
        db.release.add_permits(1);
        answer(first).await;
        db.wait_for_statements(2).await;
        assert_eq!(db.statements()[1], [2, 3, 4, 5]);
        // Its request goes away mid-statement (a client that hung up, a timeout).
        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());
        // The loads it carried queue again: the first finds the slot free and goes at once,
        // the next statement carries the other two. None runs outside a slot.
        db.wait_for_statements(3).await;
        settle().await;
        let later = spawn_load(&queue, &db, 7);
        settle().await;
        db.release.add_permits(100);
        let mut answers = Vec::new();
        for load in carried {
            answers.push(answer(load).await);
        }
        assert_eq!(answers, [3, 4, 5].map(|n| Some(format!("user-{n}"))));
        assert_eq!(answer(later).await.as_deref(), Some("user-7"));
        let statements = db.statements();
        assert_eq!(statements.len(), 4, "{statements:?}");
        assert_eq!(statements[2].len(), 1, "{statements:?}");
        let mut carried_again = statements[2..].concat();
        carried_again.sort();
        assert_eq!(carried_again, [3, 4, 5, 7], "{statements:?}");
        assert_eq!(lock(&queue.state).in_flight, 0, "every slot came back");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_a_load_at_once_and_cancelled_loads_take_no_place_in_a_batch() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64).with_max_waiting(5)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let mut waiting = spawn_queued(&queue, &db, &[2, 3, 4, 5, 6]).await;
        let refused = queue.load(hash(7), |h, c| db.clone().fetch(h, c)).await;
        assert!(
            matches!(refused, Err(StoreError::Overloaded(5))),
            "{refused:?}"
        );
        // Two of them go away while they wait.
        for gone in [waiting.remove(2), waiting.remove(1)] {
            gone.abort();
            let _ = gone.await;
        }
        db.release.add_permits(100);
        answer(first).await;
        for load in waiting {
            assert!(answer(load).await.is_some());
        }
        assert_eq!(db.statements(), [vec![1], vec![2, 5, 6]]);
        assert_eq!(lock(&queue.state).in_flight, 0);
        assert!(lock(&queue.state).waiting.is_empty());
    }

    #[test]
    fn a_slot_dropped_while_its_runtime_shuts_down_frees_itself() {
        let queue = Arc::new(LoadQueue::<Connection>::new(LoadBatching::new(1, 64)));
        lock(&queue.state).in_flight = 1;
        // A statement ended and handed its slot, with its connection, to a load whose task has
        // not run since: the runtime shuts down and drops the task, and the slot with it.
        let (handed, received) = oneshot::channel();
        let lease = Lease {
            connection: 1,
            statements_left: 5,
        };
        assert!(
            handed
                .send(Reply::Lead(Slot::of(&queue.state, Some(lease))))
                .is_ok()
        );
        let runtime = current_thread();
        runtime.spawn(async move {
            let _received = received;
            std::future::pending::<()>().await
        });
        runtime.block_on(tokio::task::yield_now());
        let (done, shut_down) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(runtime);
            let _ = done.send(());
        });
        assert!(
            shut_down.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the runtime never finished shutting down"
        );
        assert_eq!(lock(&queue.state).in_flight, 0);
    }

    #[tokio::test]
    async fn a_handed_slot_whose_load_is_gone_passes_to_the_next() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let gone = spawn_load(&queue, &db, 2);
        settle().await;
        let next = spawn_load(&queue, &db, 3);
        settle().await;
        gone.abort();
        let _ = gone.await;
        db.release.add_permits(100);
        answer(first).await;
        assert_eq!(answer(next).await.as_deref(), Some("user-3"));
        assert_eq!(db.statements(), [vec![1], vec![3]]);
        assert_eq!(lock(&queue.state).in_flight, 0);
    }

    #[tokio::test]
    async fn a_row_that_does_not_decode_fails_the_loads_of_its_token_only() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let batch = spawn_queued(&queue, &db, &[2, CORRUPT, 3, CORRUPT]).await;
        db.release.add_permits(2);
        assert_eq!(answer(first).await.as_deref(), Some("user-1"));
        let mut answers = Vec::new();
        for load in batch {
            let answer = load.await.unwrap();
            answers.push(
                answer
                    .map(|r| r.map(|r| r.user_id))
                    .map_err(|e| e.to_string()),
            );
        }
        let corrupt = Err("a stored session row is malformed: expires_at".to_owned());
        assert_eq!(
            answers,
            [
                Ok(Some("user-2".to_owned())),
                corrupt.clone(),
                Ok(Some("user-3".to_owned())),
                corrupt
            ]
        );
        assert_eq!(db.statements(), [vec![1], vec![2, CORRUPT, 3, CORRUPT]]);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_load_in_it_and_the_next_ones_go_on() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let batch = spawn_queued(&queue, &db, &[2, 3, 4]).await;
        *db.fail.lock().unwrap() = true;
        db.release.add_permits(2);
        assert!(first.await.unwrap().is_err());
        for load in batch {
            let error = load.await.unwrap().unwrap_err();
            assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
            assert_eq!(
                std::error::Error::source(&error).unwrap().to_string(),
                "connection reset"
            );
        }
        *db.fail.lock().unwrap() = false;
        let after = spawn_load(&queue, &db, 9);
        db.release.add_permits(1);
        assert_eq!(answer(after).await.as_deref(), Some("user-9"));
        assert_eq!(
            db.connections_used(),
            [1, 2, 3],
            "a connection whose statement failed is never passed on"
        );
    }

    #[tokio::test]
    async fn a_slot_passed_on_carries_its_connection_and_a_slot_nobody_waits_for_parks_it() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let waiting = spawn_queued(&queue, &db, &[2, 3]).await;
        db.release.add_permits(2);
        answer(first).await;
        for load in waiting {
            answer(load).await;
        }
        // Nobody waited when the batch ended: its connection was parked, and the next load,
        // finding a free slot, runs on it.
        assert_eq!(lock(&queue.state).parked.len(), 1);
        let later = spawn_load(&queue, &db, 4);
        db.release.add_permits(1);
        assert_eq!(answer(later).await.as_deref(), Some("user-4"));
        assert_eq!(db.statements(), [vec![1], vec![2, 3], vec![4]]);
        assert_eq!(db.connections_used(), [1, 1, 1]);
    }

    #[tokio::test]
    async fn a_parked_connection_goes_back_to_the_pool_when_no_load_comes() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(2, 64)));
        let db = Database::new();
        for (round, n) in [1, 2].into_iter().enumerate() {
            let load = spawn_load(&queue, &db, n);
            db.release.add_permits(1);
            answer(load).await;
            assert_eq!(lock(&queue.state).parked.len(), 1, "round {round}");
            // The reaper returns it within two PARK_FORs, and starts again for the next.
            tokio::time::sleep(PARK_FOR * 3).await;
            assert_eq!(lock(&queue.state).parked.len(), 0, "round {round}");
        }
        assert_eq!(db.connections_used(), [1, 2]);
        assert_eq!(lock(&queue.state).in_flight, 0);
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// On a runtime of its own, a load of token 2: the connection parked before serves it, is
    /// parked again, and a new reaper returns it.
    fn the_next_park_starts_a_reaper(queue: &Arc<LoadQueue<Connection>>, db: &Arc<Database>) {
        current_thread().block_on(async {
            let load = spawn_load(queue, db, 2);
            db.release.add_permits(1);
            assert_eq!(answer(load).await.as_deref(), Some("user-2"));
            tokio::time::sleep(PARK_FOR * 3).await;
        });
        assert_eq!(lock(&queue.state).parked.len(), 0);
        assert_eq!(db.connections_used(), [1, 1]);
    }

    #[test]
    fn a_reaper_whose_runtime_shut_down_is_started_again_by_the_next_park() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = current_thread();
        first.block_on(async {
            let load = spawn_load(&queue, &db, 1);
            db.release.add_permits(1);
            answer(load).await;
        });
        assert_eq!(lock(&queue.state).parked.len(), 1);
        // Shut down before its reaper woke up: the reaper task is dropped.
        drop(first);
        the_next_park_starts_a_reaper(&queue, &db);
    }

    #[test]
    fn a_reaper_whose_runtime_shut_down_before_it_ever_ran_is_started_again_by_the_next_park() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 64)));
        let db = Database::new();
        let first = current_thread();
        db.release.add_permits(1);
        // The load runs in `block_on` itself, which returns as soon as it is answered: the
        // reaper task its park spawned is never polled.
        let load = first.block_on(queue.load(hash(1), |h, c| db.clone().fetch(h, c)));
        assert!(load.unwrap().is_some());
        assert_eq!(lock(&queue.state).parked.len(), 1);
        drop(first);
        the_next_park_starts_a_reaper(&queue, &db);
    }

    #[tokio::test]
    async fn a_connection_is_passed_on_at_most_handoffs_times_in_a_row() {
        let queue = Arc::new(LoadQueue::new(LoadBatching::new(1, 1)));
        let db = Database::new();
        let first = spawn_load(&queue, &db, 1);
        db.wait_for_statements(1).await;
        let behind: Vec<u8> = (10..).take(HANDOFFS + 1).collect();
        let waiting = spawn_queued(&queue, &db, &behind).await;
        db.release.add_permits(100);
        answer(first).await;
        for load in waiting {
            answer(load).await;
        }
        // The statement that opened connection 1, then HANDOFFS more on it, then a fresh one.
        let mut expected = vec![1; HANDOFFS + 1];
        expected.push(2);
        assert_eq!(db.connections_used(), expected);
        assert_eq!(lock(&queue.state).in_flight, 0);
    }
}
