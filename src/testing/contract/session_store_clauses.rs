//! The clauses of the [`SessionStore`] contract, one function each. Each takes the store under
//! test, uses user ids of its own, deletes what it created, and panics when the store breaks
//! the clause. [`session_store`](super::session_store) runs them all.
//!
//! A clause alone, on a store under test (SQLite here):
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use sessionward::testing::contract::session_store_clauses as clause;
//! use sqlx::sqlite::SqlitePoolOptions;
//!
//! let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
//! let store = sessionward::SqliteStore::new(pool);
//! store.migrate().await?;
//! clause::update_data_is_compare_and_swap(&store).await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::records::{assert_same, new_hash, ok, record, user};
use crate::clock::Clock;
use crate::error::StoreError;
use crate::limit::{LimitedCreate, SessionLimit, SessionLimitPolicy};
use crate::store::{SessionRecord, SessionStore};

fn now() -> OffsetDateTime {
    Clock::system().now()
}

/// `create` then `load` gives back every field exactly (times to the microsecond, optional
/// columns as `None`, `persistent` either way), and `load` of an unknown hash is `None`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::create_then_load_round_trips(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn create_then_load_round_trips(s: &dyn SessionStore) {
    const CLAUSE: &str = "create_then_load_round_trips";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let got = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("a created session loads"), &a, CLAUSE);
    let unknown = ok(s.load(&new_hash()).await, CLAUSE, "load");
    assert!(
        unknown.is_none(),
        "{CLAUSE}: an unknown hash loaded {unknown:?}"
    );

    let bare = SessionRecord {
        user_agent: None,
        ip: None,
        data: "{}".into(),
        // A session signed in without "remember me" stays one.
        persistent: false,
        ..record(&owner, now())
    };
    ok(s.create(&bare).await, CLAUSE, "create");
    let got = ok(s.load(&bare.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("a created session loads"), &bare, CLAUSE);
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// `create` fails with [`StoreError::Duplicate`] on the same id, the same token hash, or both,
/// and leaves the first session as it was.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::create_never_overwrites(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn create_never_overwrites(s: &dyn SessionStore) {
    const CLAUSE: &str = "create_never_overwrites";
    let (owner, intruder) = (user("alice"), user("mallory"));
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let same_id = SessionRecord {
        token_hash: new_hash(),
        user_id: intruder.clone(),
        ..a.clone()
    };
    let same_hash = SessionRecord {
        id: Uuid::new_v4(),
        user_id: intruder.clone(),
        ..a.clone()
    };
    for (what, r) in [("both", &a), ("the id", &same_id), ("the hash", &same_hash)] {
        let result = s.create(r).await;
        assert!(
            matches!(result, Err(StoreError::Duplicate)),
            "{CLAUSE}: a create with {what} of an existing session gave {result:?}, not Duplicate"
        );
    }
    let kept = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert_same(&kept.expect("the first session is kept"), &a, CLAUSE);
    let stray = ok(s.load(&same_id.token_hash).await, CLAUSE, "load");
    assert!(stray.is_none(), "{CLAUSE}: a refused create left {stray:?}");
    let listed = ok(
        s.list_user_sessions(&intruder).await,
        CLAUSE,
        "list_user_sessions",
    );
    assert_eq!(listed, [], "{CLAUSE}: a refused create is listed");
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// `touch` sets `refreshed_at` and `expires_at` of a live session and returns `true`, also
/// when the values do not change (a store must count matched rows, not changed ones).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::touch_extends_a_live_session(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn touch_extends_a_live_session(s: &dyn SessionStore) {
    const CLAUSE: &str = "touch_extends_a_live_session";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let refreshed = a.created_at + Duration::seconds(1) + Duration::microseconds(7);
    let expires = refreshed + Duration::days(7);
    for attempt in ["first", "second, same values"] {
        let touched = ok(s.touch(a.id, refreshed, expires).await, CLAUSE, "touch");
        assert!(
            touched,
            "{CLAUSE}: the {attempt} touch of a live session returned false"
        );
    }
    let want = SessionRecord {
        refreshed_at: refreshed,
        expires_at: expires,
        ..a.clone()
    };
    let got = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("a touched session loads"), &want, CLAUSE);
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// `update_data` replaces the data and bumps the version only from the expected version; a
/// stale version changes nothing and returns `false`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::update_data_is_compare_and_swap(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn update_data_is_compare_and_swap(s: &dyn SessionStore) {
    const CLAUSE: &str = "update_data_is_compare_and_swap";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let admin = r#"{"role":"admin"}"#;
    let steps = [
        (0, admin, true),
        (0, r#"{"role":"stale"}"#, false),
        (1, admin, true),
    ];
    for (version, data, want) in steps {
        let swapped = ok(
            s.update_data(a.id, version, data).await,
            CLAUSE,
            "update_data",
        );
        assert_eq!(
            swapped, want,
            "{CLAUSE}: update_data from version {version}"
        );
    }
    let want = SessionRecord {
        data: admin.into(),
        version: 2,
        ..a.clone()
    };
    let got = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("an updated session loads"), &want, CLAUSE);
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// `rotate` swaps the token hash only from the current one, never onto another session's hash
/// ([`StoreError::Duplicate`], nothing changed); the old hash no longer loads.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::rotate_swaps_only_from_the_current_hash(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn rotate_swaps_only_from_the_current_hash(s: &dyn SessionStore) {
    const CLAUSE: &str = "rotate_swaps_only_from_the_current_hash";
    let (owner, other) = (user("alice"), user("bob"));
    let a = record(&owner, now());
    let b = record(&other, now());
    ok(s.create(&a).await, CLAUSE, "create");
    ok(s.create(&b).await, CLAUSE, "create");
    let h2 = new_hash();
    assert!(
        ok(s.rotate(a.id, &a.token_hash, &h2).await, CLAUSE, "rotate"),
        "{CLAUSE}: rotating from the current hash returned false"
    );
    let old = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert!(old.is_none(), "{CLAUSE}: the old hash still loads");
    let rotated = SessionRecord {
        token_hash: h2,
        ..a.clone()
    };
    let got = ok(s.load(&h2).await, CLAUSE, "load");
    assert_same(&got.expect("the new hash loads"), &rotated, CLAUSE);
    assert!(
        !ok(
            s.rotate(a.id, &a.token_hash, &new_hash()).await,
            CLAUSE,
            "rotate"
        ),
        "{CLAUSE}: rotating from a hash the session no longer has returned true"
    );
    let onto_b = s.rotate(a.id, &h2, &b.token_hash).await;
    assert!(
        matches!(onto_b, Err(StoreError::Duplicate)),
        "{CLAUSE}: rotating onto another session's hash gave {onto_b:?}, not Duplicate"
    );
    let got = ok(s.load(&h2).await, CLAUSE, "load");
    assert_same(
        &got.expect("a refused rotation keeps the hash"),
        &rotated,
        CLAUSE,
    );
    let got = ok(s.load(&b.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("the other session is untouched"), &b, CLAUSE);
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
    ok(
        s.delete_user_sessions(&other, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// `delete` removes a session only for its owner, whose id must match exactly (case and
/// trailing spaces matter), and says whether it removed one.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::delete_only_by_the_owner(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn delete_only_by_the_owner(s: &dyn SessionStore) {
    const CLAUSE: &str = "delete_only_by_the_owner";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let others = [
        user("bob"),
        owner.to_uppercase(),
        format!("{owner} "),
        String::new(),
    ];
    for other in &others {
        let deleted = ok(s.delete(other, a.id).await, CLAUSE, "delete");
        assert!(
            !deleted,
            "{CLAUSE}: {other:?} deleted a session of {owner:?}"
        );
    }
    let kept = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert!(
        kept.is_some(),
        "{CLAUSE}: a refused delete removed the session"
    );
    assert!(
        ok(s.delete(&owner, a.id).await, CLAUSE, "delete"),
        "{CLAUSE}: the owner's delete returned false"
    );
    assert!(
        !ok(s.delete(&owner, a.id).await, CLAUSE, "delete"),
        "{CLAUSE}: deleting a deleted session returned true"
    );
}

/// `reauthenticate` sets `authenticated_at` (to the microsecond) of a live session and nothing
/// else, and the time moves with a rotation.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::reauthenticate_sets_only_authenticated_at(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn reauthenticate_sets_only_authenticated_at(s: &dyn SessionStore) {
    const CLAUSE: &str = "reauthenticate_sets_only_authenticated_at";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    let later = a.created_at + Duration::minutes(10) + Duration::microseconds(1);
    assert!(
        ok(
            s.reauthenticate(a.id, later).await,
            CLAUSE,
            "reauthenticate"
        ),
        "{CLAUSE}: reauthenticating a live session returned false"
    );
    let want = SessionRecord {
        authenticated_at: later,
        ..a.clone()
    };
    let got = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert_same(
        &got.expect("a reauthenticated session loads"),
        &want,
        CLAUSE,
    );
    let moved = new_hash();
    assert!(
        ok(
            s.rotate(a.id, &a.token_hash, &moved).await,
            CLAUSE,
            "rotate"
        ),
        "{CLAUSE}: rotating from the current hash returned false"
    );
    let got = ok(s.load(&moved).await, CLAUSE, "load");
    let want = SessionRecord {
        token_hash: moved,
        ..want
    };
    assert_same(&got.expect("the rotated session loads"), &want, CLAUSE);
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// For a store that [enforces session limits](SessionStore::enforces_session_limits):
/// `create_within_limit` creates while there is room; at the limit it ends the least recently
/// used live sessions (oldest `refreshed_at`) to make room, or, with
/// [`SessionLimitPolicy::RefuseNewLogin`], writes nothing; expired sessions do not count. (That
/// concurrent calls for one user keep the limit too is the store's to prove under its own
/// concurrency; the crate's stores do in its tests.) A store that does not enforce limits
/// passes without being asked.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::create_within_limit_makes_room_or_refuses(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn create_within_limit_makes_room_or_refuses(s: &dyn SessionStore) {
    const CLAUSE: &str = "create_within_limit_makes_room_or_refuses";
    if !s.enforces_session_limits() {
        return;
    }
    let owner = user("alice");
    let now = now();
    let end_oldest = SessionLimit {
        max_sessions: 2,
        policy: SessionLimitPolicy::EndLeastRecentlyUsed,
    };
    let expired = SessionRecord {
        expires_at: now - Duration::seconds(1),
        ..record(&owner, now - Duration::days(8))
    };
    ok(s.create(&expired).await, CLAUSE, "create");
    // Two live sessions, the first used least recently.
    let mut held = Vec::new();
    for minutes in [10, 5] {
        let session = SessionRecord {
            refreshed_at: now - Duration::minutes(minutes),
            ..record(&owner, now - Duration::minutes(minutes))
        };
        let created = ok(
            s.create_within_limit(&session, end_oldest, now).await,
            CLAUSE,
            "create_within_limit",
        );
        assert_eq!(
            created,
            LimitedCreate::Created { ended: vec![] },
            "{CLAUSE}: room for a session (the expired one does not count)"
        );
        held.push(session);
    }
    let third = record(&owner, now);
    let created = ok(
        s.create_within_limit(&third, end_oldest, now).await,
        CLAUSE,
        "create_within_limit",
    );
    assert_eq!(
        created,
        LimitedCreate::Created {
            ended: vec![held[0].id]
        },
        "{CLAUSE}: at the limit the least recently used session ends"
    );
    let gone = ok(s.load(&held[0].token_hash).await, CLAUSE, "load");
    assert!(gone.is_none(), "{CLAUSE}: the ended session still loads");
    let refuse = SessionLimit {
        policy: SessionLimitPolicy::RefuseNewLogin,
        ..end_oldest
    };
    let fourth = record(&owner, now);
    let refused = ok(
        s.create_within_limit(&fourth, refuse, now).await,
        CLAUSE,
        "create_within_limit",
    );
    assert_eq!(
        refused,
        LimitedCreate::Refused,
        "{CLAUSE}: the refusing policy"
    );
    let stray = ok(s.load(&fourth.token_hash).await, CLAUSE, "load");
    assert!(stray.is_none(), "{CLAUSE}: a refused session was written");
    for kept in [&held[1], &third] {
        let live = ok(s.load(&kept.token_hash).await, CLAUSE, "load");
        assert!(live.is_some(), "{CLAUSE}: a session within the limit ended");
    }
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// After a delete, `touch`, `update_data`, `rotate` and `reauthenticate` change nothing and return `false`: a
/// request in flight never resurrects a session that a concurrent logout deleted.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::deleted_sessions_stay_deleted(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn deleted_sessions_stay_deleted(s: &dyn SessionStore) {
    const CLAUSE: &str = "deleted_sessions_stay_deleted";
    let owner = user("alice");
    let a = record(&owner, now());
    ok(s.create(&a).await, CLAUSE, "create");
    assert!(ok(s.delete(&owner, a.id).await, CLAUSE, "delete"));
    let later = a.created_at + Duration::hours(1);
    let writes = [
        (
            "touch",
            s.touch(a.id, later, later + Duration::days(7)).await,
        ),
        ("update_data", s.update_data(a.id, 0, "{}").await),
        ("rotate", s.rotate(a.id, &a.token_hash, &new_hash()).await),
        ("reauthenticate", s.reauthenticate(a.id, later).await),
    ];
    for (call, result) in writes {
        let wrote = ok(result, CLAUSE, call);
        assert!(
            !wrote,
            "{CLAUSE}: `{call}` of a deleted session returned true"
        );
    }
    let got = ok(s.load(&a.token_hash).await, CLAUSE, "load");
    assert!(
        got.is_none(),
        "{CLAUSE}: a deleted session came back: {got:?}"
    );
    let listed = ok(
        s.list_user_sessions(&owner).await,
        CLAUSE,
        "list_user_sessions",
    );
    assert_eq!(listed, [], "{CLAUSE}: a deleted session is listed");
}

/// `list_user_sessions` gives every session of exactly that user id (case and trailing spaces
/// matter), expired ones included, newest first, ties by id descending; `load` finds expired
/// sessions too (expiry is the caller's decision).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::list_is_newest_first_by_exact_user_id(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn list_is_newest_first_by_exact_user_id(s: &dyn SessionStore) {
    const CLAUSE: &str = "list_is_newest_first_by_exact_user_id";
    let owner = user("alice");
    let (upper_id, spaced_id) = (owner.to_uppercase(), format!("{owner} "));
    let now = now();
    let expired = SessionRecord {
        expires_at: now - Duration::seconds(1),
        ..record(&owner, now - Duration::hours(4))
    };
    let oldest = record(&owner, now - Duration::hours(3));
    let middle = record(&owner, now - Duration::hours(2));
    let tie_a = record(&owner, now - Duration::hours(1));
    let tie_b = SessionRecord {
        id: Uuid::new_v4(),
        token_hash: new_hash(),
        ..tie_a.clone()
    };
    let upper = record(&upper_id, now);
    let spaced = record(&spaced_id, now);
    for r in [&middle, &tie_a, &expired, &upper, &tie_b, &oldest, &spaced] {
        ok(s.create(r).await, CLAUSE, "create");
    }
    let (first, second) = if tie_a.id > tie_b.id {
        (&tie_a, &tie_b)
    } else {
        (&tie_b, &tie_a)
    };
    let listed = ok(
        s.list_user_sessions(&owner).await,
        CLAUSE,
        "list_user_sessions",
    );
    let want = [first, second, &middle, &oldest, &expired];
    assert_eq!(listed.len(), want.len(), "{CLAUSE}: listed {listed:#?}");
    for (got, want) in listed.iter().zip(want) {
        assert_same(got, want, CLAUSE);
    }
    let got = ok(s.load(&expired.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("expired sessions load"), &expired, CLAUSE);
    for (id, only) in [(&upper_id, &upper), (&spaced_id, &spaced)] {
        let listed = ok(s.list_user_sessions(id).await, CLAUSE, "list_user_sessions");
        assert_eq!(listed.len(), 1, "{CLAUSE}: {id:?} listed {listed:#?}");
        assert_same(&listed[0], only, CLAUSE);
    }
    for id in [&owner, &upper_id, &spaced_id] {
        ok(
            s.delete_user_sessions(id, None).await,
            CLAUSE,
            "delete_user_sessions",
        );
    }
}

/// `delete_user_sessions` deletes every session of the user but `keep`, then (without `keep`)
/// every one, returns how many, and leaves other users' sessions alone.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::delete_user_sessions_keeps_one_or_none(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn delete_user_sessions_keeps_one_or_none(s: &dyn SessionStore) {
    const CLAUSE: &str = "delete_user_sessions_keeps_one_or_none";
    let (owner, other) = (user("alice"), user("bob"));
    let now = now();
    let mine: Vec<SessionRecord> = (1..=5)
        .map(|h| record(&owner, now - Duration::hours(h)))
        .collect();
    let theirs = record(&other, now);
    for r in mine.iter().chain([&theirs]) {
        ok(s.create(r).await, CLAUSE, "create");
    }
    let keep = &mine[2];
    let counts = [
        (Some(keep.id), &owner, 4),
        (None, &owner, 1),
        (None, &owner, 0),
        (None, &user("nobody"), 0),
    ];
    for (kept, id, want) in counts {
        let deleted = ok(
            s.delete_user_sessions(id, kept).await,
            CLAUSE,
            "delete_user_sessions",
        );
        assert_eq!(
            deleted, want,
            "{CLAUSE}: deleted for {id:?} keeping {kept:?}"
        );
        if kept.is_some() {
            let listed = ok(
                s.list_user_sessions(&owner).await,
                CLAUSE,
                "list_user_sessions",
            );
            assert_eq!(listed.len(), 1, "{CLAUSE}: left {listed:#?}");
            assert_same(&listed[0], keep, CLAUSE);
        }
    }
    let got = ok(s.load(&theirs.token_hash).await, CLAUSE, "load");
    assert_same(
        &got.expect("another user's session is kept"),
        &theirs,
        CLAUSE,
    );
    ok(
        s.delete_user_sessions(&other, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}

/// A user agent of 600 characters never fails a login: a store keeps it whole, or its first
/// 512 characters at least.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::long_user_agents_never_fail_a_login(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn long_user_agents_never_fail_a_login(s: &dyn SessionStore) {
    const CLAUSE: &str = "long_user_agents_never_fail_a_login";
    let owner = user("erin");
    let long = "\u{e9}".repeat(600);
    let chatty = SessionRecord {
        user_agent: Some(long.clone()),
        ..record(&owner, now())
    };
    ok(s.create(&chatty).await, CLAUSE, "create");
    let kept = ok(s.load(&chatty.token_hash).await, CLAUSE, "load").expect("the session loads");
    let kept = kept.user_agent.expect("the user agent is kept");
    assert!(
        kept.chars().count() >= 512 && long.starts_with(&kept),
        "{CLAUSE}: kept {} characters, not a prefix of at least 512",
        kept.chars().count()
    );
    assert!(ok(s.delete(&owner, chatty.id).await, CLAUSE, "delete"));
}

/// `delete_expired(now, batch)` deletes at most `batch` sessions whose `expires_at` is at or
/// before `now` (the one expiring at `now` exactly included), `0` deletes none, and a live
/// session is kept. Assumes no other expired session in the store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sessionward::testing::contract::session_store_clauses as clause;
/// clause::delete_expired_in_batches(&sessionward::MemoryStore::new()).await;
/// # });
/// ```
pub async fn delete_expired_in_batches(s: &dyn SessionStore) {
    const CLAUSE: &str = "delete_expired_in_batches";
    let owner = user("dave");
    let now = now();
    let mut expired = Vec::new();
    for minutes in 0..5 {
        let r = SessionRecord {
            expires_at: now - Duration::minutes(minutes),
            ..record(&owner, now - Duration::hours(1))
        };
        ok(s.create(&r).await, CLAUSE, "create");
        expired.push(r);
    }
    let live = SessionRecord {
        expires_at: now + Duration::microseconds(1),
        ..record(&owner, now - Duration::hours(1))
    };
    ok(s.create(&live).await, CLAUSE, "create");

    let none = ok(s.delete_expired(now, 0).await, CLAUSE, "delete_expired");
    assert_eq!(none, 0, "{CLAUSE}: a batch of 0 deleted sessions");
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(ok(s.delete_expired(now, 2).await, CLAUSE, "delete_expired"));
    }
    assert_eq!(
        counts,
        [2, 2, 1, 0],
        "{CLAUSE}: batches of 2 over 5 expired sessions"
    );
    let got = ok(s.load(&live.token_hash).await, CLAUSE, "load");
    assert_same(&got.expect("the live session is kept"), &live, CLAUSE);
    for r in &expired {
        let got = ok(s.load(&r.token_hash).await, CLAUSE, "load");
        assert!(got.is_none(), "{CLAUSE}: an expired session was kept");
    }
    ok(
        s.delete_user_sessions(&owner, None).await,
        CLAUSE,
        "delete_user_sessions",
    );
}
