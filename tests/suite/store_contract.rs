//! The store contracts, for every backend, through the same public functions a store of
//! someone else's passes (`sessionward::testing::contract`, feature `test-util`); then what
//! only our own backends can be asked: what the raw table holds, and that a malformed row is
//! an error.

use sessionward::testing::contract;
use sessionward::{Clock, SessionRecord, SessionToken, StoreError};
use time::Duration;
use uuid::Uuid;

use crate::backends::{Backend, fresh_store};

async fn session_store(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    contract::session_store(&*test.store).await;
}

async fn revocation_list(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    contract::revocation_store(&*test.revocations).await;
}

/// The raw table holds the 32-byte hash of the token and nothing else of it; a row the
/// database accepts but no session decodes from is an error, never a panic.
async fn raw_rows(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    let s = &*test.store;
    let now = Clock::system().now();
    let token = SessionToken::generate();
    let record = SessionRecord {
        id: Uuid::new_v4(),
        token_hash: token.hash(),
        user_id: "bob".into(),
        data: "{}".into(),
        version: 0,
        created_at: now,
        refreshed_at: now,
        authenticated_at: now,
        expires_at: now + Duration::days(7),
        absolute_expires_at: now + Duration::days(30),
        user_agent: None,
        ip: None,
        persistent: true,
    };
    s.create(&record).await.expect("create");
    if backend != Backend::Memory {
        let rows = test.dump_rows().await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), 13);
        assert!(
            rows[0]
                .iter()
                .any(|col| col == record.token_hash.as_bytes())
        );
        let raw = token.as_str().as_bytes();
        assert!(
            !rows[0]
                .iter()
                .any(|col| col.windows(raw.len()).any(|w| w == raw)),
            "the raw token is stored"
        );
    }
    if test.corrupt_all_rows().await {
        assert!(matches!(
            s.list_user_sessions("bob").await,
            Err(StoreError::Corrupt(_))
        ));
    }
}

/// One `#[tokio::test]` per backend for each contract function: `store_contract::<backend>::<fn>`.
macro_rules! every_backend {
    ($($test:ident),* $(,)?) => {
        every_backend!(@backend memory, Memory, $($test),*);
        every_backend!(@backend sqlite, Sqlite, $($test),*);
        every_backend!(@backend postgres, Postgres, $($test),*);
        every_backend!(@backend mysql, MySql, $($test),*);
        every_backend!(@backend redis, Redis, $($test),*);
        every_backend!(@backend redis_cluster, RedisCluster, $($test),*);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::backends::Backend::$variant).await;
                }
            )*
        }
    };
}

every_backend!(session_store, revocation_list, raw_rows);
