//! The SQL stores under isolation settings stricter than the servers' defaults, which a
//! deployment may well have: PostgreSQL with `default_transaction_isolation` raised to
//! REPEATABLE READ, MariaDB with `innodb_snapshot_isolation` (the default from 11.6.2, where a
//! write that waited for a row another transaction changed fails with error 1020). Concurrent
//! writes of one session must still each get their answer (never a store failure), and
//! concurrent logins of one user must still keep the device limit.

use std::str::FromStr as _;
use std::sync::Arc;

use sessionward::{LimitedCreate, SessionLimit, SessionLimitPolicy, SessionStore};
use time::Duration;

use crate::backends::{Backend, fresh_database};
use crate::support::{START, session_record, user};

/// PostgreSQL whose sessions default to REPEATABLE READ.
#[cfg(feature = "postgres")]
async fn strict_postgres() -> Option<(Arc<dyn SessionStore>, sqlx::postgres::PgPool)> {
    let url = fresh_database(Backend::Postgres).await?;
    let options = sqlx::postgres::PgConnectOptions::from_str(&url)
        .expect("a PostgreSQL URL")
        .options([("default_transaction_isolation", "repeatable read")]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("connect to PostgreSQL");
    let store = sessionward::PostgresStore::new(pool.clone());
    store.migrate().await.expect("migrate");
    Some((Arc::new(store), pool))
}

/// MariaDB with snapshot isolation on every connection.
#[cfg(feature = "mysql")]
async fn strict_mariadb() -> Option<(Arc<dyn SessionStore>, sqlx::mysql::MySqlPool)> {
    let url = fresh_database(Backend::MySql).await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(8)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    &mut *connection,
                    "SET SESSION innodb_snapshot_isolation = ON",
                )
                .await
                .map(|_| ())
            })
        })
        .connect(&url)
        .await
        .expect("connect to MariaDB");
    let store = sessionward::MySqlStore::new(pool.clone());
    store.migrate().await.expect("migrate");
    Some((Arc::new(store), pool))
}

/// Concurrent writes of one session each get their answer; concurrent logins keep the limit.
async fn every_write_is_answered_and_the_limit_kept(store: Arc<dyn SessionStore>) {
    for round in 0..4 {
        // Sliding extensions of one session from concurrent requests.
        let record = session_record(&user(), START);
        store.create(&record).await.unwrap();
        let touches: Vec<_> = (0..16i64)
            .map(|i| {
                let store = store.clone();
                let at = START + Duration::seconds(i);
                tokio::spawn(
                    async move { store.touch(record.id, at, at + Duration::days(7)).await },
                )
            })
            .collect();
        for touch in touches {
            let touched = touch.await.unwrap();
            assert!(matches!(touched, Ok(true)), "round {round}: {touched:?}");
        }
        // Compare-and-swap updates of one version: one wins, the others are told they lost.
        let updates: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(
                    async move { store.update_data(record.id, 0, &format!("[{i}]")).await },
                )
            })
            .collect();
        let mut won = 0;
        for update in updates {
            match update.await.unwrap() {
                Ok(true) => won += 1,
                Ok(false) => {}
                Err(e) => panic!("round {round}: an update failed: {e:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
        // Concurrent logins of one user beyond the limit.
        let alice = user();
        let limit = SessionLimit {
            max_sessions: 3,
            policy: SessionLimitPolicy::RefuseNewLogin,
        };
        let logins: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                let record = session_record(&alice, START);
                tokio::spawn(async move {
                    store
                        .create_within_limit(&record, limit, START + Duration::seconds(1))
                        .await
                })
            })
            .collect();
        let mut created = 0;
        for login in logins {
            match login.await.unwrap() {
                Ok(LimitedCreate::Created { .. }) => created += 1,
                Ok(LimitedCreate::Refused) => {}
                Err(e) => panic!("round {round}: a login failed: {e:?}"),
            }
        }
        let listed = store.list_user_sessions(&alice).await.unwrap().len();
        assert_eq!((created, listed), (3, 3), "round {round}");
    }
}

/// Ending all of a user's sessions (revoke-all, revoke-others) while another transaction
/// changes one of them (a sliding extension, say) waits for that row, then is answered: under
/// the stricter isolation the waiting statement fails (PostgreSQL's 40001, MariaDB's 1020),
/// and it is run again, not reported as a store failure (503) that signs nobody out.
async fn ending_a_users_sessions_waits_out_a_row_another_write_holds<DB: sqlx::Database>(
    store: Arc<dyn SessionStore>,
    pool: sqlx::Pool<DB>,
) where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    for keep in [false, true] {
        let bob = user();
        let records: Vec<_> = (0..3).map(|_| session_record(&bob, START)).collect();
        for record in &records {
            store.create(record).await.unwrap();
        }
        let mut holder = pool.begin().await.expect("a transaction");
        let change = format!(
            "UPDATE sessionward_sessions SET version = version + 1 WHERE id = '{}'",
            records[1].id
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(change))
            .execute(&mut *holder)
            .await
            .expect("the other transaction's change");
        let ending = {
            let (store, bob) = (store.clone(), bob.clone());
            let keep = keep.then_some(records[0].id);
            tokio::spawn(async move { store.delete_user_sessions(&bob, keep).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        holder.commit().await.expect("commit");
        let ended = ending.await.unwrap();
        let expected: u64 = if keep { 2 } else { 3 };
        assert!(
            matches!(ended, Ok(n) if n == expected),
            "keep {keep}: {ended:?}"
        );
        let left = store.list_user_sessions(&bob).await.unwrap().len();
        assert_eq!(left as u64, 3 - expected, "keep {keep}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_at_repeatable_read() {
    if let Some((store, pool)) = strict_postgres().await {
        every_write_is_answered_and_the_limit_kept(store.clone()).await;
        ending_a_users_sessions_waits_out_a_row_another_write_holds(store, pool).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_with_snapshot_isolation() {
    if let Some((store, pool)) = strict_mariadb().await {
        every_write_is_answered_and_the_limit_kept(store.clone()).await;
        ending_a_users_sessions_waits_out_a_row_another_write_holds(store, pool).await;
    }
}
