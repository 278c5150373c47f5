//! The Redis store's own protocol under concurrency, at the store level, on a single Redis and
//! on a cluster (`redis_races::redis::<test>`, `redis_races::redis_cluster::<test>`).
//!
//! On a cluster a script only sees one slot, so rotation moves a record across slots in four
//! steps, and delete follows the id pointer (see `src/store/redis/mod.rs`). These tests run the
//! racing operations many times, each round from a barrier, and check the outcomes that must
//! hold whatever the interleaving: a delete is never undone, an update is never lost, exactly
//! one of several rotations wins, a revocation is never lost.

#![cfg(feature = "redis")]

use std::sync::Arc;

use sessionward::fred::prelude::*;
use sessionward::jwt::{Revocation, RevocationStore, Revoked};
use sessionward::{
    Clock, LimitedCreate, RedisStore, SessionLimit, SessionLimitPolicy, SessionRecord,
    SessionStore, SessionToken, TokenHash,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::backends::Backend;
use crate::backends::redis as test_redis;

fn new_hash() -> TokenHash {
    SessionToken::generate().hash()
}

fn record(user: &str, now: OffsetDateTime) -> SessionRecord {
    crate::support::session_record(user, now)
}

fn hex(hash: &TokenHash) -> String {
    hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh store on `backend`, or `None` (SKIP) when it is not configured.
async fn store(backend: Backend) -> Option<RedisStore> {
    test_redis::fresh(backend).await
}

/// Nothing of session `id` is left: no record, no pointer, no user index entry.
async fn assert_gone(store: &RedisStore, user: &str, id: Uuid, round: usize) {
    let records = test_redis::dump(store).await;
    let id_text = id.hyphenated().to_string();
    assert!(
        records.iter().all(|row| row[0] != id_text.as_bytes()),
        "round {round}: a record of the deleted session survived"
    );
    let pointer: Option<String> = store
        .client()
        .get(format!("{}:i:{id_text}", store.prefix()))
        .await
        .unwrap();
    assert_eq!(pointer, None, "round {round}: its id pointer survived");
    assert!(
        store.list_user_sessions(user).await.unwrap().is_empty(),
        "round {round}: still listed"
    );
}

/// Runs `a` and `b` at once (from a barrier, on the multi-threaded runtime).
async fn race<A, B>(
    a: impl Future<Output = A> + Send + 'static,
    b: impl Future<Output = B> + Send + 'static,
) -> (A, B)
where
    A: Send + 'static,
    B: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let (ba, bb) = (barrier.clone(), barrier);
    let a = tokio::spawn(async move {
        ba.wait().await;
        a.await
    });
    let b = tokio::spawn(async move {
        bb.wait().await;
        b.await
    });
    (a.await.unwrap(), b.await.unwrap())
}

const ROUNDS: usize = 100;

/// A logout racing a rotation: whichever order the steps interleave in, the delete reports
/// the session deleted, and neither token, nor the record, nor the pointer survive it.
async fn rotate_racing_delete_never_resurrects(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    let mut rotated = 0;
    for round in 0..ROUNDS {
        let user = format!("u{round}");
        let r = record(&user, now);
        s.create(&r).await.unwrap();
        let (old, new) = (r.token_hash, new_hash());
        let (s1, s2, u) = (s.clone(), s.clone(), user.clone());
        let (rotation, deletion) = race(
            async move { s1.rotate(r.id, &old, &new).await },
            async move { s2.delete(&u, r.id).await },
        )
        .await;
        rotated += usize::from(rotation.unwrap());
        assert!(deletion.unwrap(), "round {round}: the delete found nothing");
        assert!(s.load(&old).await.unwrap().is_none(), "round {round}: old");
        assert!(s.load(&new).await.unwrap().is_none(), "round {round}: new");
        assert_gone(&s, &user, r.id, round).await;
    }
    eprintln!("{backend:?}: {rotated} of {ROUNDS} rotations finished before their delete");
}

/// Revoke-all racing a rotation: the session is counted once and is gone.
async fn rotate_racing_revoke_all_never_resurrects(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    for round in 0..ROUNDS {
        let user = format!("u{round}");
        let r = record(&user, now);
        let other = record(&user, now);
        s.create(&r).await.unwrap();
        s.create(&other).await.unwrap();
        let (old, new) = (r.token_hash, new_hash());
        let (s1, s2, u) = (s.clone(), s.clone(), user.clone());
        let (_, revoked) = race(
            async move { s1.rotate(r.id, &old, &new).await },
            async move { s2.delete_user_sessions(&u, None).await },
        )
        .await;
        assert_eq!(revoked.unwrap(), 2, "round {round}");
        for hash in [old, new, other.token_hash] {
            assert!(s.load(&hash).await.unwrap().is_none(), "round {round}");
        }
        assert_gone(&s, &user, r.id, round).await;
    }
}

/// A touch racing a delete never brings the session back.
async fn touch_racing_delete_never_resurrects(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    for round in 0..ROUNDS {
        let user = format!("u{round}");
        let r = record(&user, now);
        s.create(&r).await.unwrap();
        let (s1, s2, u) = (s.clone(), s.clone(), user.clone());
        let later = now + Duration::hours(1);
        let (_, deleted) = race(
            async move { s1.touch(r.id, later, later + Duration::days(7)).await },
            async move { s2.delete(&u, r.id).await },
        )
        .await;
        assert!(deleted.unwrap(), "round {round}");
        assert!(s.load(&r.token_hash).await.unwrap().is_none());
        assert_gone(&s, &user, r.id, round).await;
    }
}

/// Of eight rotations from one token, exactly one wins; its token is the only one that loads.
async fn concurrent_rotations_leave_one_token(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    for round in 0..ROUNDS / 5 {
        let user = format!("u{round}");
        let r = record(&user, now);
        s.create(&r).await.unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (s, barrier, new) = (s.clone(), barrier.clone(), new_hash());
                tokio::spawn(async move {
                    barrier.wait().await;
                    (new, s.rotate(r.id, &r.token_hash, &new).await.unwrap())
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for task in tasks {
            let (new, won) = task.await.unwrap();
            if won { &mut winners } else { &mut losers }.push(new);
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let live = s
            .load(&winners[0])
            .await
            .unwrap()
            .expect("the winner loads");
        assert_eq!(live.id, r.id);
        for hash in losers.iter().chain([&r.token_hash]) {
            assert!(s.load(hash).await.unwrap().is_none(), "round {round}");
        }
        let listed = s.list_user_sessions(&user).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].token_hash, winners[0]);
        assert_eq!(
            test_redis::dump(&s).await.len(),
            round + 1,
            "one record per session"
        );
    }
}

/// Writers appending to the data (read, then compare-and-swap, retried) while the session is
/// rotated twice: every append is in the final data, and the version counts them.
async fn updates_racing_rotations_are_never_lost(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    const WRITERS: usize = 6;
    for round in 0..ROUNDS / 10 {
        let user = format!("u{round}");
        let r = record(&user, now);
        s.create(&r).await.unwrap();
        let barrier = Arc::new(Barrier::new(WRITERS + 1));
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let (s, barrier, user) = (s.clone(), barrier.clone(), user.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                for attempt in 0.. {
                    assert!(attempt < 200, "writer {writer} never got through");
                    let current = s.list_user_sessions(&user).await.unwrap();
                    let current = current.first().expect("the session lives");
                    let mut items: Vec<usize> = serde_json::from_str(&current.data).unwrap();
                    items.push(writer);
                    let data = serde_json::to_string(&items).unwrap();
                    if s.update_data(r.id, current.version, &data).await.unwrap() {
                        return;
                    }
                }
            }));
        }
        let rotator = {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let (h1, h2) = (new_hash(), new_hash());
                assert!(s.rotate(r.id, &r.token_hash, &h1).await.unwrap());
                assert!(s.rotate(r.id, &h1, &h2).await.unwrap());
                h2
            })
        };
        for task in tasks {
            task.await.unwrap();
        }
        let last = rotator.await.unwrap();
        let stored = s.load(&last).await.unwrap().expect("the rotated session");
        let mut items: Vec<usize> = serde_json::from_str(&stored.data).unwrap();
        items.sort_unstable();
        assert_eq!(items, (0..WRITERS).collect::<Vec<_>>(), "round {round}");
        assert_eq!(stored.version, WRITERS as i64, "round {round}");
    }
}

/// Cleanup racing an extension: the session survives exactly when the extension happened.
async fn delete_expired_racing_touch(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    for round in 0..ROUNDS {
        let user = format!("u{round}");
        let r = SessionRecord {
            expires_at: now - Duration::seconds(1),
            ..record(&user, now - Duration::hours(1))
        };
        s.create(&r).await.unwrap();
        let (s1, s2) = (s.clone(), s.clone());
        let extended_to = now + Duration::hours(1);
        let (touched, _) = race(
            async move { s1.touch(r.id, now, extended_to).await },
            async move { s2.delete_expired(now, 10).await },
        )
        .await;
        let touched = touched.unwrap();
        let stored = s.load(&r.token_hash).await.unwrap();
        assert_eq!(stored.is_some(), touched, "round {round}");
        if let Some(stored) = stored {
            assert_eq!(stored.expires_at, extended_to);
            assert!(s.delete(&user, r.id).await.unwrap());
        }
        assert_gone(&s, &user, r.id, round).await;
    }
}

/// Listing (which prunes index entries of gone sessions) while the session is rotated over and
/// over never drops a live session from the index: revoke-all still finds it.
async fn listing_during_rotations_never_unlists_a_live_session(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    let r = record("lister", now);
    s.create(&r).await.unwrap();
    let rotator = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut current = r.token_hash;
            for _ in 0..ROUNDS {
                let next = new_hash();
                assert!(s.rotate(r.id, &current, &next).await.unwrap());
                current = next;
            }
        })
    };
    let listers: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let listed = s.list_user_sessions("lister").await.unwrap();
                    assert!(listed.len() <= 1);
                }
            })
        })
        .collect();
    rotator.await.unwrap();
    for lister in listers {
        lister.await.unwrap();
    }
    assert_eq!(s.list_user_sessions("lister").await.unwrap().len(), 1);
    assert_eq!(s.delete_user_sessions("lister", None).await.unwrap(), 1);
    assert_gone(&s, "lister", r.id, 0).await;
}

/// A rotation cut off after its first step (simulated: the mark set by hand) ends the session:
/// its token no longer loads, writes give up, another rotation is refused, and a delete still
/// removes everything.
async fn a_rotation_cut_off_after_marking_ends_the_session(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    let r = record("cut", now);
    s.create(&r).await.unwrap();
    let key = format!("{}:s:{}", s.prefix(), hex(&r.token_hash));
    let _: i64 = s
        .client()
        .hset(key.as_str(), ("m", hex(&new_hash())))
        .await
        .unwrap();
    assert!(s.load(&r.token_hash).await.unwrap().is_none());
    let started = std::time::Instant::now();
    assert!(!s.update_data(r.id, 0, "[1]").await.unwrap());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(!s.touch(r.id, now, now + Duration::days(1)).await.unwrap());
    assert!(!s.rotate(r.id, &r.token_hash, &new_hash()).await.unwrap());
    assert_eq!(s.list_user_sessions("cut").await.unwrap().len(), 1);
    assert!(s.delete("cut", r.id).await.unwrap());
    assert_gone(&s, "cut", r.id, 0).await;
}

/// Revocations added at once from many tasks are all kept; one id is added once.
async fn concurrent_revocations_are_all_kept(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = Clock::system().now();
    let entry = |id| Revocation {
        id,
        target: Revoked::Session(Uuid::new_v4()),
        revoked_at: now,
        expires_at: now + Duration::days(1),
    };
    let shared = Uuid::new_v4();
    let barrier = Arc::new(Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            let r = entry(if i % 2 == 0 { shared } else { Uuid::new_v4() });
            tokio::spawn(async move {
                barrier.wait().await;
                s.add_revocation(&r).await.is_ok()
            })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    assert_eq!(added, 21, "20 distinct ids and the shared one once");
    let listed = s
        .revocations_since(now - Duration::minutes(1), now)
        .await
        .unwrap();
    assert_eq!(listed.len(), 21);
}

/// A Redis that goes down answers errors, never a hang: the first command within its timeout,
/// the later ones at once (fail fast); and a server that is not there fails `connect`. Uses a
/// throwaway `redis-server` of its own.
async fn a_redis_that_is_down_fails_fast(backend: Backend) {
    if backend != Backend::Redis || test_redis::fresh(backend).await.is_none() {
        return;
    }
    let started = std::time::Instant::now();
    assert!(RedisStore::connect("redis://127.0.0.1:1").await.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(6));

    // A port below the ephemeral range, so that no test's `bind(0)` gets it once the server
    // is gone (a client reconnecting to someone else's server would not fail fast).
    let port = (0..10_000)
        .map(|i| 20_000 + (std::process::id() as u16 % 10_000 + i) % 10_000)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port");
    let dir = std::env::temp_dir().join(format!("sessionward-redis-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = match std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        Ok(server) => server,
        Err(e) => panic!("redis-server is needed for this test: {e}"),
    };
    let url = format!("redis://127.0.0.1:{port}");
    let mut store = None;
    for _ in 0..50 {
        if let Ok(s) = RedisStore::connect(&url).await {
            store = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = store.expect("the throwaway redis-server came up");
    let r = record("down", Clock::system().now());
    s.create(&r).await.unwrap();
    assert!(s.load(&r.token_hash).await.unwrap().is_some());
    server.kill().unwrap();
    server.wait().unwrap();
    // The client has not noticed yet: the first command finds out, within its timeout.
    let started = std::time::Instant::now();
    assert!(s.load(&r.token_hash).await.is_err(), "no Redis, no session");
    let first = started.elapsed();
    assert!(
        first <= sessionward::RedisStore::COMMAND_TIMEOUT + std::time::Duration::from_millis(500),
        "the first command failed after {first:?}"
    );
    // Once the client has made its first reconnection attempt (10 ms after it noticed the
    // drop; a command sent in that moment waits in its queue for its timeout, as the first one
    // may have), every command fails at once.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert!(s.load(&r.token_hash).await.is_err(), "no Redis, no session");
        assert!(s.delete("down", r.id).await.is_err());
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(500),
            "took {took:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A login within the device limit ends the user's other session, and deleting it fails
/// (this store's Redis user may not write that session's record): the login fails, its new
/// session is removed again, and the session it could not end, which still works, stays
/// where revoke-all and the list find it. The next login within the limit ends it.
async fn a_session_a_login_could_not_end_stays_listed(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let user = "alice";
    let limit = SessionLimit {
        max_sessions: 1,
        policy: SessionLimitPolicy::EndLeastRecentlyUsed,
    };
    let now = Clock::system().now();
    let ids = |list: Vec<SessionRecord>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let old = record(user, now - Duration::minutes(1));
    s.create(&old).await.unwrap();
    for round in 0..2 {
        let new = record(user, now);
        let writable = ["u:*", "ud:*", "ue:*", "i:*", "x*"]
            .map(str::to_owned)
            .into_iter()
            .chain([format!("s:{}", hex(&new.token_hash))])
            .collect::<Vec<_>>();
        let cannot_delete_old =
            test_redis::writing_only(backend, &s, "sessionward-test-limit", &writable).await;
        let made = cannot_delete_old
            .create_within_limit(&new, limit, now)
            .await;
        assert!(made.is_err(), "round {round}: {made:?}");
        assert!(s.load(&old.token_hash).await.unwrap().is_some());
        let listed = ids(s.list_user_sessions(user).await.unwrap());
        assert!(
            listed.contains(&old.id),
            "round {round}: the session that still works is listed"
        );
        assert!(s.load(&new.token_hash).await.unwrap().is_none());
        assert_eq!(
            listed,
            vec![old.id],
            "round {round}: the failed login's is not"
        );
        if round == 0 {
            // The next login within the limit ends it.
            let next = record(user, now);
            let made = s.create_within_limit(&next, limit, now).await.unwrap();
            assert_eq!(
                made,
                LimitedCreate::Created {
                    ended: vec![old.id]
                }
            );
            assert!(s.load(&old.token_hash).await.unwrap().is_none());
            assert_eq!(
                ids(s.list_user_sessions(user).await.unwrap()),
                vec![next.id]
            );
            s.delete(user, next.id).await.unwrap();
            s.create(&old).await.unwrap();
        } else {
            // Revoke-all ends it.
            assert_eq!(s.delete_user_sessions(user, None).await.unwrap(), 1);
            assert!(s.load(&old.token_hash).await.unwrap().is_none());
            assert!(s.list_user_sessions(user).await.unwrap().is_empty());
        }
    }
}

/// Polls `login` once (its steps start on a task of their own) and drops it: the caller stops
/// waiting, as a login cut off by `store_timeout` (answered 503) does.
async fn started_then_abandoned<T>(login: impl std::future::Future<Output = T>) {
    let mut login = Box::pin(login);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(login.as_mut().poll(&mut cx).is_pending());
    drop(login);
    // Its steps, on their own task, have time to go on.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

/// A login whose caller stopped waiting (a `store_timeout`: the browser got 503 and no token)
/// leaves no session behind: none in the user's list, none counted by the device limit, and,
/// under "end the least recently used", no real device signed out for it.
async fn a_login_nobody_waits_for_leaves_no_session(backend: Backend) {
    let Some(s) = store(backend).await else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    // Room for it (two sessions), or room made by ending the device (one).
    for (policy, max_sessions) in [
        (SessionLimitPolicy::RefuseNewLogin, 2),
        (SessionLimitPolicy::EndLeastRecentlyUsed, 1),
    ] {
        let user = &crate::support::user();
        let limit = SessionLimit {
            max_sessions,
            policy,
        };
        let device = record(user, now);
        s.create(&device).await.unwrap();
        let abandoned = record(user, now);
        started_then_abandoned(s.create_within_limit(&abandoned, limit, now)).await;
        let listed: Vec<Uuid> = s
            .list_user_sessions(user)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            listed,
            vec![device.id],
            "{policy:?}: the abandoned login's session is gone, the device stays"
        );
        assert!(
            s.load(&abandoned.token_hash).await.unwrap().is_none(),
            "{policy:?}"
        );
        // A plain create nobody waits for leaves nothing either.
        let plain = record(user, now);
        started_then_abandoned(s.create(&plain)).await;
        assert!(
            s.load(&plain.token_hash).await.unwrap().is_none(),
            "{policy:?}"
        );
        assert_eq!(
            s.list_user_sessions(user).await.unwrap().len(),
            1,
            "{policy:?}"
        );
    }
}

/// One `#[tokio::test]` per Redis backend for each test above.
macro_rules! redis_cells {
    ($($test:ident),* $(,)?) => {
        redis_cells!(@backend redis, Redis, $($test),*);
        redis_cells!(@backend redis_cluster, RedisCluster, $($test),*);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(crate::backends::Backend::$variant).await;
                }
            )*
        }
    };
}

redis_cells!(
    rotate_racing_delete_never_resurrects,
    rotate_racing_revoke_all_never_resurrects,
    touch_racing_delete_never_resurrects,
    concurrent_rotations_leave_one_token,
    updates_racing_rotations_are_never_lost,
    delete_expired_racing_touch,
    listing_during_rotations_never_unlists_a_live_session,
    a_rotation_cut_off_after_marking_ends_the_session,
    concurrent_revocations_are_all_kept,
    a_redis_that_is_down_fails_fast,
    a_session_a_login_could_not_end_stays_listed,
    a_login_nobody_waits_for_leaves_no_session,
);
