//! The clauses of the [`RevocationStore`] contract (the JWT revocation list), one function
//! each. Each compares only the entries it added, and panics when the store breaks the clause.
//! [`revocation_store`](super::revocation_store) runs them all.
//!
//! A clause alone, on a store under test (SQLite here):
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use sessionward::testing::contract::revocation_store_clauses as clause;
//! use sqlx::sqlite::SqlitePoolOptions;
//!
//! let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
//! let store = sessionward::SqliteStore::new(pool);
//! store.migrate().await?;
//! clause::expired_revocations_are_hidden_and_deleted_in_batches(&store).await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::records::{ok, user};
use crate::clock::Clock;
use crate::error::StoreError;
use crate::store::{Revocation, RevocationStore, Revoked};

fn entry(target: Revoked, revoked_at: OffsetDateTime, expires_at: OffsetDateTime) -> Revocation {
    Revocation {
        id: Uuid::new_v4(),
        target,
        revoked_at,
        expires_at,
    }
}

/// The entries among `got` that `mine` holds, oldest first.
fn only(mut got: Vec<Revocation>, mine: &[&Revocation]) -> Vec<Revocation> {
    got.retain(|e| mine.iter().any(|m| m.id == e.id));
    got.sort_by_key(|e| e.revoked_at);
    got
}

/// Entries of every kind round-trip exactly (times to the microsecond, any user id, a data
/// change's patch to the byte), a second
/// `add_revocation` of one id is [`StoreError::Duplicate`], and `revocations_since` filters on
/// `revoked_at`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::revocation_store_clauses as clause;
/// clause::revocations_round_trip_and_since_filters(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn revocations_round_trip_and_since_filters(r: &dyn RevocationStore) {
    const CLAUSE: &str = "revocations_round_trip_and_since_filters";
    let now = Clock::system().now();
    let sid = entry(
        Revoked::Session(Uuid::new_v4()),
        now,
        now + Duration::days(30),
    );
    let everywhere = entry(
        Revoked::User(format!("{} \u{1f980}", user("ALICE"))),
        now - Duration::minutes(5),
        now + Duration::days(90),
    );
    let changed = entry(
        Revoked::UserData {
            user_id: format!("{} \u{1f980}", user("ALICE")),
            patch: r#"{"role":"admin","tags":{"x":null},"note":"\u00e9 \"q\""}"#.into(),
        },
        now - Duration::minutes(10),
        now + Duration::days(90),
    );
    for one in [&sid, &everywhere, &changed] {
        ok(r.add_revocation(one).await, CLAUSE, "add_revocation");
    }
    let again = r.add_revocation(&sid).await;
    assert!(
        matches!(again, Err(StoreError::Duplicate)),
        "{CLAUSE}: adding an entry twice gave {again:?}, not Duplicate"
    );
    let hour = ok(
        r.revocations_since(now - Duration::hours(1), now).await,
        CLAUSE,
        "revocations_since",
    );
    let want = vec![changed.clone(), everywhere.clone(), sid.clone()];
    assert_eq!(
        only(hour, &[&sid, &everywhere, &changed]),
        want,
        "{CLAUSE}: round trip"
    );
    let minute = ok(
        r.revocations_since(now - Duration::minutes(1), now).await,
        CLAUSE,
        "revocations_since",
    );
    let want = vec![sid.clone()];
    assert_eq!(
        only(minute, &[&sid, &everywhere, &changed]),
        want,
        "{CLAUSE}: `since` filters"
    );
}

/// `revocations_since` hides entries expired at `now`; `delete_expired_revocations(now, batch)`
/// deletes at most `batch` of them and keeps live entries. Assumes no other entry in the store
/// expires within its first 11 days.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::revocation_store_clauses as clause;
/// clause::expired_revocations_are_hidden_and_deleted_in_batches(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn expired_revocations_are_hidden_and_deleted_in_batches(r: &dyn RevocationStore) {
    const CLAUSE: &str = "expired_revocations_are_hidden_and_deleted_in_batches";
    let now = Clock::system().now();
    let far_back = now - Duration::days(365);
    let live = entry(
        Revoked::Session(Uuid::new_v4()),
        now,
        now + Duration::days(10),
    );
    ok(r.add_revocation(&live).await, CLAUSE, "add_revocation");
    let mut mine = vec![live.clone()];
    for i in 0..5 {
        let expired = entry(
            Revoked::Session(Uuid::new_v4()),
            now - Duration::days(10),
            now - Duration::seconds(i),
        );
        ok(r.add_revocation(&expired).await, CLAUSE, "add_revocation");
        mine.push(expired);
    }
    let mine: Vec<&Revocation> = mine.iter().collect();
    let visible = ok(
        r.revocations_since(far_back, now).await,
        CLAUSE,
        "revocations_since",
    );
    assert_eq!(
        only(visible, &mine),
        vec![live.clone()],
        "{CLAUSE}: expired entries hidden"
    );

    let mut counts = Vec::new();
    for _ in 0..4 {
        let deleted = r.delete_expired_revocations(now, 2).await;
        counts.push(ok(deleted, CLAUSE, "delete_expired_revocations"));
    }
    assert_eq!(
        counts,
        [2, 2, 1, 0],
        "{CLAUSE}: batches of 2 over 5 expired entries"
    );
    let visible = ok(
        r.revocations_since(far_back, now).await,
        CLAUSE,
        "revocations_since",
    );
    assert_eq!(
        only(visible, &mine),
        vec![live.clone()],
        "{CLAUSE}: live entry kept"
    );
    let later = now + Duration::days(11);
    let deleted = r.delete_expired_revocations(later, 100).await;
    assert_eq!(
        ok(deleted, CLAUSE, "delete_expired_revocations"),
        1,
        "{CLAUSE}: the live entry, once expired"
    );
}
