//! Concurrent session loads sharing statements (issue 15), on the real databases: every load
//! gets its own row or nothing, a load sees every write that finished before it, and a batch
//! that cannot finish answers every request within its own `store_timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionward::{LoadBatching, SessionConfig, SessionLayer, SessionRecord, SessionStore};
use time::OffsetDateTime;

use crate::backends::{Backend, fresh_database, sqlite_memory_pool};
use crate::support::{Reply, request, router, session_record};

/// A SQL store on a fresh database with `batching`, and a pool of its own on the same database
/// to lock the table with.
async fn store(
    backend: Backend,
    batching: LoadBatching,
) -> Option<(Arc<dyn SessionStore>, Locker)> {
    match backend {
        Backend::Sqlite => {
            let pool = sqlite_memory_pool().await;
            let store = sessionward::SqliteStore::new(pool).load_batching(batching);
            store.migrate().await.unwrap();
            Some((Arc::new(store), Locker::None))
        }
        Backend::Postgres => {
            let (url, _, store) = postgres_store(8).await?;
            let other = sqlx::PgPool::connect(&url).await.unwrap();
            Some((
                Arc::new(store.load_batching(batching)),
                Locker::Postgres(other),
            ))
        }
        Backend::MySql => {
            let url = fresh_database(backend).await?;
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(8)
                .connect(&url)
                .await
                .unwrap();
            let store = sessionward::MySqlStore::new(pool).load_batching(batching);
            store.migrate().await.unwrap();
            let other = sqlx::MySqlPool::connect(&url).await.unwrap();
            Some((Arc::new(store), Locker::MySql(other)))
        }
        _ => unreachable!("batching is for the SQL stores"),
    }
}

/// Another connection that can hold `sessionward_sessions` locked against reads.
enum Locker {
    None,
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// A held lock; [`Held::release`] ends it.
enum Held {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
}

impl Locker {
    async fn lock(&self) -> Held {
        match self {
            Locker::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("LOCK TABLE sessionward_sessions IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                Held::Postgres(tx)
            }
            Locker::MySql(pool) => {
                let mut conn = pool.acquire().await.unwrap();
                sqlx::raw_sql("LOCK TABLES sessionward_sessions WRITE")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                Held::MySql(conn)
            }
            Locker::None => unreachable!("SQLite has no lock to hold here"),
        }
    }
}

impl Held {
    async fn release(self) {
        match self {
            Held::Postgres(tx) => tx.commit().await.unwrap(),
            Held::MySql(mut conn) => {
                sqlx::raw_sql("UNLOCK TABLES")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
    }
}

async fn sessions(store: &dyn SessionStore, n: usize) -> Vec<SessionRecord> {
    let now = OffsetDateTime::now_utc();
    let mut records = Vec::new();
    for i in 0..n {
        let record = session_record(&format!("user-{i}"), now);
        store.create(&record).await.unwrap();
        records.push(record);
    }
    records
}

/// 300 concurrent loads of 60 sessions (every one several times, so some batches hold one
/// token twice) and of unknown tokens: each gets exactly its own row or nothing.
async fn loads_of(
    store: Arc<dyn SessionStore>,
    records: &[SessionRecord],
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..300)
        .map(|i| {
            let store = store.clone();
            let want = (i % 6 != 5).then(|| records[i % records.len()].clone());
            tokio::spawn(async move {
                let hash = match &want {
                    Some(record) => record.token_hash,
                    None => sessionward::SessionToken::generate().hash(),
                };
                let got = store.load(&hash).await.expect("load");
                match (got, want) {
                    (Some(got), Some(want)) => {
                        assert_eq!((got.id, &got.user_id), (want.id, &want.user_id));
                    }
                    (None, None) => {}
                    (got, want) => panic!("load of {hash:?}: got {got:?}, want {want:?}"),
                }
            })
        })
        .collect()
}

async fn concurrent_loads_each_get_their_own_row(backend: Backend) {
    for batching in [
        LoadBatching::new(1, 64),
        LoadBatching::default(),
        LoadBatching::new(4, 64),
        LoadBatching::new(2, 5),
    ] {
        let Some((store, _)) = store(backend, batching).await else {
            return;
        };
        let records = sessions(&*store, 60).await;
        for load in loads_of(store.clone(), &records).await {
            load.await.unwrap();
        }
    }
}

/// Loads queued behind a locked table go out in batches when it is released (the batch
/// statements themselves, for certain: with one slot, everything behind the first load
/// waits), and each gets its own row.
async fn loads_queued_behind_a_lock_go_out_in_batches(backend: Backend) {
    let Some((store, locker)) = store(backend, LoadBatching::new(1, 64)).await else {
        return;
    };
    let records = sessions(&*store, 60).await;
    let held = locker.lock().await;
    let loads = loads_of(store.clone(), &records).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        loads.iter().all(|l| !l.is_finished()),
        "the table is locked"
    );
    held.release().await;
    for load in loads {
        load.await.unwrap();
    }
}

/// Logout, rotation and data updates stay ordered for the loads after them while other loads
/// keep the queue busy: a load made after a write finished never sees the row before it.
async fn a_load_sees_every_write_that_finished_before_it(backend: Backend) {
    let Some((store, _)) = store(backend, LoadBatching::new(1, 64)).await else {
        return;
    };
    let records = sessions(&*store, 20).await;
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let noise: Vec<_> = (0..8)
        .map(|i| {
            let (store, busy, hash) = (store.clone(), busy.clone(), records[i].token_hash);
            tokio::spawn(async move {
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    store.load(&hash).await.unwrap().expect("a live session");
                }
            })
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    for i in 0..50 {
        let record = session_record(&format!("writer-{i}"), now);
        store.create(&record).await.unwrap();
        assert!(store.load(&record.token_hash).await.unwrap().is_some());

        assert!(store.update_data(record.id, 0, r#"{"n":2}"#).await.unwrap());
        let updated = store.load(&record.token_hash).await.unwrap().unwrap();
        assert_eq!(updated.version, 1, "the update is seen");

        let rotated = sessionward::SessionToken::generate().hash();
        assert!(
            store
                .rotate(record.id, &record.token_hash, &rotated)
                .await
                .unwrap()
        );
        assert!(
            store.load(&record.token_hash).await.unwrap().is_none(),
            "old token"
        );
        assert!(store.load(&rotated).await.unwrap().is_some(), "new token");

        assert!(store.delete(&record.user_id, record.id).await.unwrap());
        assert!(store.load(&rotated).await.unwrap().is_none(), "logged out");
    }
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    for task in noise {
        task.await.unwrap();
    }
}

/// A batch stuck behind a lock: every request still answers 503 within its own
/// `store_timeout` (never a wrong session), and all is well once the lock goes.
async fn a_stuck_batch_answers_each_request_within_its_store_timeout(backend: Backend) {
    let Some((store, locker)) = store(backend, LoadBatching::new(1, 64)).await else {
        return;
    };
    let timeout = Duration::from_millis(300);
    let config = SessionConfig::default().store_timeout(timeout);
    let app = router(SessionLayer::database(store.clone(), config));
    let mut cookies = Vec::new();
    for i in 0..20 {
        let login = Reply::read(
            tower::ServiceExt::oneshot(
                app.clone(),
                request("POST", &format!("/login/user-{i}?role=user"), None),
            )
            .await
            .unwrap(),
        )
        .await;
        cookies.push((
            format!("user-{i}"),
            login.token().expect("a session cookie"),
        ));
    }
    let me = |cookie: &String| {
        let (app, cookie) = (app.clone(), cookie.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let res = tower::ServiceExt::oneshot(app, request("GET", "/me", Some(&cookie)))
                .await
                .unwrap();
            (Reply::read(res).await, started.elapsed())
        })
    };
    let held = locker.lock().await;
    let stuck: Vec<_> = cookies.iter().map(|(_, cookie)| me(cookie)).collect();
    for request in stuck {
        let (reply, took) = request.await.unwrap();
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(took < timeout * 10, "answered after {took:?}");
    }
    held.release().await;
    for (user, cookie) in &cookies {
        let (reply, _) = me(cookie).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["user_id"], user.as_str());
    }
}

/// A PostgreSQL store with its default batching on a fresh database, through a pool of
/// `max_connections`; with the database's URL and the pool. `None`: no PostgreSQL configured.
async fn postgres_store(
    max_connections: u32,
) -> Option<(String, sqlx::PgPool, sessionward::PostgresStore)> {
    let url = fresh_database(Backend::Postgres).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(&url)
        .await
        .unwrap();
    let store = sessionward::PostgresStore::new(pool.clone());
    store.migrate().await.unwrap();
    Some((url, pool, store))
}

/// A connection the store kept between statements skipped the pool's check; when the server
/// has closed it meanwhile (here: every connection of the store is terminated between two
/// loads), the load runs again on a fresh connection instead of failing. (When the machine is
/// so slow that the kept connection went back to the pool first, the pool's own check catches
/// it and the case passes either way: it never fails wrongly.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_the_server_closed_is_replaced_not_reported() {
    let Some((url, _, store)) = postgres_store(4).await else {
        return;
    };
    let records = sessions(&store, 1).await;
    let mut killer = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    for round in 0..20 {
        let loaded = store.load(&records[0].token_hash).await;
        assert!(
            matches!(&loaded, Ok(Some(r)) if r.id == records[0].id),
            "round {round}: {loaded:?}"
        );
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut killer)
        .await
        .unwrap();
    }
}

/// PostgreSQL plans a prepared statement once and keeps the plan only when that plan looks no
/// dearer than one made for the values at hand. For a statement that takes the hashes as one
/// array (`= ANY($1)`) it never does (its one plan assumes 10 elements), so every batch was
/// planned again, costing the database about as much as running it. Every load statement must
/// reach its kept plan: with 20,000 sessions in the table, after eight batches of 7 loads
/// (and eight single loads), the one connection's prepared statements that select sessions by
/// token hash each count generic plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plans_each_load_statement_once() {
    let Some((url, pool, store)) = postgres_store(1).await else {
        return;
    };
    let store = Arc::new(store);
    // A table the size of a real one: with a handful of rows every plan costs the same.
    sqlx::raw_sql(
        "INSERT INTO sessionward_sessions (id, token_hash, user_id, data, version, created_at, \
         refreshed_at, expires_at, absolute_expires_at) \
         SELECT gen_random_uuid(), sha256(i::text::bytea), 'user-' || i, '{}', 1, now(), \
         now(), now() + interval '1 day', now() + interval '2 days' \
         FROM generate_series(1, 20000) AS i; \
         ANALYZE sessionward_sessions",
    )
    .execute(&pool)
    .await
    .unwrap();
    let records = sessions(&*store, 8).await;
    let locker = Locker::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
    for _ in 0..8 {
        // The first load goes out alone and waits on the lock; the other 7 queue behind it and
        // go out together (8 placeholders) once it is released.
        let held = locker.lock().await;
        let loads: Vec<_> = records
            .iter()
            .map(|record| {
                let (store, hash, id) = (store.clone(), record.token_hash, record.id);
                tokio::spawn(async move {
                    let loaded = store.load(&hash).await.unwrap();
                    assert_eq!(loaded.map(|r| r.id), Some(id));
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        held.release().await;
        for load in loads {
            load.await.unwrap();
        }
    }
    let mut connection = pool.acquire().await.unwrap();
    let plans: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM sessionward_sessions WHERE token_hash%'",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    // PostgreSQL keeps a plan from the sixth run on, when it keeps one at all.
    let run_often: Vec<_> = plans.iter().filter(|(_, g, c)| g + c > 5).collect();
    assert!(
        run_often.len() >= 2,
        "a single and a batch statement, each run 8 times: {plans:?}"
    );
    for (statement, generic, custom) in run_often {
        assert!(
            *generic > 0,
            "planned again on each run ({generic} kept, {custom} made anew): {statement}"
        );
    }
}

macro_rules! per_sql_engine {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(crate::backends::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(crate::backends::Backend::Postgres).await;
            })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(crate::backends::Backend::MySql).await;
            })*
        }
    };
}

per_sql_engine!(
    concurrent_loads_each_get_their_own_row,
    a_load_sees_every_write_that_finished_before_it,
);

/// The cases that hold the table locked from another connection (SQLite's in-memory test
/// database has one connection).
mod locked {
    macro_rules! per_server {
        ($($case:ident),* $(,)?) => {
            mod postgres {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::super::$case(crate::backends::Backend::Postgres).await;
                })*
            }
            mod mysql {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::super::$case(crate::backends::Backend::MySql).await;
                })*
            }
        };
    }
    per_server!(
        loads_queued_behind_a_lock_go_out_in_batches,
        a_stuck_batch_answers_each_request_within_its_store_timeout,
    );
}

/// A row that does not decode (written by hand, or by another version of the application)
/// fails the loads of its own token, and only those: the other loads of its batches get their
/// rows, as they would each alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_does_not_decode_fails_only_the_loads_of_its_token() {
    let pool = sqlite_memory_pool().await;
    let store = sessionward::SqliteStore::new(pool.clone()).load_batching(LoadBatching::new(1, 64));
    store.migrate().await.unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(store);
    let records = sessions(&*store, 10).await;
    sqlx::query("UPDATE sessionward_sessions SET expires_at = 'not a time' WHERE user_id = ?")
        .bind(&records[0].user_id)
        .execute(&pool)
        .await
        .unwrap();
    let loads: Vec<_> = (0..200)
        .map(|i| {
            let (store, record) = (store.clone(), records[i % records.len()].clone());
            tokio::spawn(async move { (record.clone(), store.load(&record.token_hash).await) })
        })
        .collect();
    for load in loads {
        match load.await.unwrap() {
            (record, Err(error)) if record.user_id == records[0].user_id => assert!(
                matches!(error, sessionward::StoreError::Corrupt("expires_at")),
                "{error:?}"
            ),
            (record, Ok(Some(got))) if record.user_id != records[0].user_id => {
                assert_eq!(got.id, record.id)
            }
            (record, answer) => panic!("the load of {}: {answer:?}", record.user_id),
        }
    }
}

/// A store dropped where no runtime runs (after `block_on` returned, before or after its
/// runtime shut down) while it keeps a connection for the next load: no panic. sqlx returns a
/// pooled connection on a task of the current runtime, and panics where none runs.
#[test]
fn a_store_dropped_outside_a_runtime_while_it_keeps_a_connection_does_not_panic() {
    for runtime_first in [false, true] {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let file = std::env::temp_dir().join(format!(
            "sessionward-kept-{}-{runtime_first}.db",
            std::process::id()
        ));
        let store = runtime.block_on(async {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            let store = sessionward::SqliteStore::new(pool);
            store.migrate().await.unwrap();
            let unknown = sessionward::SessionToken::generate().hash();
            assert!(store.load(&unknown).await.unwrap().is_none());
            store
        });
        if runtime_first {
            drop(runtime);
            drop(store);
        } else {
            drop(store);
            drop(runtime);
        }
        let _ = std::fs::remove_file(&file);
    }
}
