//! The `SessionStore` contract, checked directly against the trait, once, for every backend.

use sessionward::{Clock, SessionRecord, SessionToken, StoreError, TokenHash};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::backends::{Backend, fresh_store};

fn new_hash() -> TokenHash {
    SessionToken::generate().hash()
}

/// A session of `user_id` created at `created_at`, every time field distinct (so a swapped
/// column shows) and with sub-second precision (so a lost microsecond shows).
fn record(user_id: &str, created_at: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        token_hash: new_hash(),
        user_id: user_id.to_owned(),
        data: r#"{"role":"user","permissions":["read"],"n":1}"#.to_owned(),
        version: 0,
        created_at,
        refreshed_at: created_at + Duration::microseconds(1),
        authenticated_at: created_at + Duration::microseconds(4),
        expires_at: created_at + Duration::days(7) + Duration::microseconds(2),
        absolute_expires_at: created_at + Duration::days(30) + Duration::microseconds(3),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux) \u{fc}n\u{ef}c\u{f8}d\u{e9} \u{1f980}".to_owned(),
        ),
        ip: Some("2001:db8::1".to_owned()),
        persistent: true,
    }
}

/// Equal as stored: every field exact, the data compared as JSON values (PostgreSQL's JSONB
/// normalizes the text).
fn assert_same(got: &SessionRecord, want: &SessionRecord) {
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("data is JSON");
    assert_eq!(json(&got.data), json(&want.data), "data");
    let blank = |r: &SessionRecord| SessionRecord {
        data: String::new(),
        ..r.clone()
    };
    assert_eq!(blank(got), blank(want));
}

async fn contract(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    let s = &*test.store;
    let now = Clock::system().now();

    // create / load, times exact to the microsecond.
    let a = record("alice", now);
    s.create(&a).await.expect("create");
    assert_same(&s.load(&a.token_hash).await.unwrap().expect("found"), &a);
    assert!(s.load(&new_hash()).await.unwrap().is_none());

    // create never overwrites: same id, same hash, or both.
    assert!(matches!(s.create(&a).await, Err(StoreError::Duplicate)));
    let same_id = SessionRecord {
        token_hash: new_hash(),
        user_id: "mallory".into(),
        ..a.clone()
    };
    assert!(matches!(
        s.create(&same_id).await,
        Err(StoreError::Duplicate)
    ));
    let same_hash = SessionRecord {
        id: Uuid::new_v4(),
        user_id: "mallory".into(),
        ..a.clone()
    };
    assert!(matches!(
        s.create(&same_hash).await,
        Err(StoreError::Duplicate)
    ));
    assert_same(&s.load(&a.token_hash).await.unwrap().expect("kept"), &a);
    assert!(s.load(&same_id.token_hash).await.unwrap().is_none());
    assert_eq!(s.list_user_sessions("mallory").await.unwrap(), []);

    // touch: true, twice with the same values too (MySQL must count matched rows).
    let t1 = now + Duration::seconds(1) + Duration::microseconds(7);
    let e1 = t1 + Duration::days(7);
    assert!(s.touch(a.id, t1, e1).await.unwrap());
    assert!(s.touch(a.id, t1, e1).await.unwrap());
    let touched = SessionRecord {
        refreshed_at: t1,
        expires_at: e1,
        ..a.clone()
    };
    assert_same(&s.load(&a.token_hash).await.unwrap().unwrap(), &touched);

    // update_data: a compare-and-swap on the version.
    assert!(s.update_data(a.id, 0, r#"{"role":"admin"}"#).await.unwrap());
    assert!(!s.update_data(a.id, 0, r#"{"role":"stale"}"#).await.unwrap());
    assert!(s.update_data(a.id, 1, r#"{"role":"admin"}"#).await.unwrap());
    let updated = SessionRecord {
        data: r#"{"role":"admin"}"#.into(),
        version: 2,
        ..touched.clone()
    };
    assert_same(&s.load(&a.token_hash).await.unwrap().unwrap(), &updated);

    // rotate: only from the current hash, never onto another session's.
    let h2 = new_hash();
    assert!(s.rotate(a.id, &a.token_hash, &h2).await.unwrap());
    assert!(s.load(&a.token_hash).await.unwrap().is_none());
    let rotated = SessionRecord {
        token_hash: h2,
        ..updated.clone()
    };
    assert_same(&s.load(&h2).await.unwrap().unwrap(), &rotated);
    assert!(!s.rotate(a.id, &a.token_hash, &new_hash()).await.unwrap());
    let b = record("bob", now);
    s.create(&b).await.unwrap();
    assert!(matches!(
        s.rotate(a.id, &h2, &b.token_hash).await,
        Err(StoreError::Duplicate)
    ));
    assert_same(&s.load(&h2).await.unwrap().unwrap(), &rotated);
    assert_same(&s.load(&b.token_hash).await.unwrap().unwrap(), &b);

    // delete: only by the owner; user ids are exact (case and trailing spaces matter).
    for other in ["bob", "ALICE", "alice ", ""] {
        assert!(
            !s.delete(other, a.id).await.unwrap(),
            "deleted as {other:?}"
        );
    }
    assert!(s.load(&h2).await.unwrap().is_some());
    assert!(s.delete("alice", a.id).await.unwrap());
    assert!(!s.delete("alice", a.id).await.unwrap());

    // A deleted session is never resurrected.
    assert!(!s.touch(a.id, t1, e1).await.unwrap());
    assert!(!s.update_data(a.id, 2, "{}").await.unwrap());
    assert!(!s.rotate(a.id, &h2, &new_hash()).await.unwrap());
    assert!(s.load(&h2).await.unwrap().is_none());
    assert_eq!(s.list_user_sessions("alice").await.unwrap(), []);

    // list: newest first, ties by id descending, expired sessions included.
    let expired = SessionRecord {
        expires_at: now - Duration::seconds(1),
        ..record("alice", now - Duration::hours(4))
    };
    let oldest = record("alice", now - Duration::hours(3));
    let middle = record("alice", now - Duration::hours(2));
    let tie_a = record("alice", now - Duration::hours(1));
    let tie_b = SessionRecord {
        id: Uuid::new_v4(),
        token_hash: new_hash(),
        ..tie_a.clone()
    };
    let upper = record("ALICE", now);
    let spaced = record("alice ", now);
    for r in [&middle, &tie_a, &expired, &upper, &tie_b, &oldest, &spaced] {
        s.create(r).await.unwrap();
    }
    let (first, second) = if tie_a.id > tie_b.id {
        (&tie_a, &tie_b)
    } else {
        (&tie_b, &tie_a)
    };
    let listed = s.list_user_sessions("alice").await.unwrap();
    let want = [first, second, &middle, &oldest, &expired];
    assert_eq!(listed.len(), want.len(), "{listed:#?}");
    for (got, want) in listed.iter().zip(want) {
        assert_same(got, want);
    }
    assert_same(
        &s.load(&expired.token_hash)
            .await
            .unwrap()
            .expect("expired rows load"),
        &expired,
    );
    let upper_list = s.list_user_sessions("ALICE").await.unwrap();
    assert_eq!(upper_list.len(), 1);
    assert_same(&upper_list[0], &upper);

    // delete_user_sessions: all but `keep`, then all; other users untouched.
    assert_eq!(
        s.delete_user_sessions("alice", Some(middle.id))
            .await
            .unwrap(),
        4
    );
    let listed = s.list_user_sessions("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_same(&listed[0], &middle);
    assert_eq!(s.delete_user_sessions("alice", None).await.unwrap(), 1);
    assert_eq!(s.delete_user_sessions("alice", None).await.unwrap(), 0);
    assert_eq!(s.delete_user_sessions("nobody", None).await.unwrap(), 0);
    for survivor in [&b, &upper, &spaced] {
        assert_same(
            &s.load(&survivor.token_hash).await.unwrap().expect("kept"),
            survivor,
        );
    }

    // Optional columns round-trip as NULL.
    let bare = SessionRecord {
        user_agent: None,
        ip: None,
        data: "{}".into(),
        ..record("carol", now)
    };
    s.create(&bare).await.unwrap();
    assert_same(&s.load(&bare.token_hash).await.unwrap().unwrap(), &bare);

    // A session without "remember me" stays one (remember me, issue 17).
    let browser = SessionRecord {
        persistent: false,
        ..record("dave", now)
    };
    s.create(&browser).await.unwrap();
    let loaded = s.load(&browser.token_hash).await.unwrap().unwrap();
    assert!(!loaded.persistent);
    assert_same(&loaded, &browser);
    assert!(s.delete("dave", browser.id).await.unwrap());

    // An overlong user agent never fails a login (MySQL keeps its first 512 characters).
    let chatty = SessionRecord {
        user_agent: Some("\u{e9}".repeat(600)),
        ..record("erin", now)
    };
    s.create(&chatty).await.expect("long user agent");
    let kept = s.load(&chatty.token_hash).await.unwrap().unwrap();
    let kept_ua = kept.user_agent.expect("user agent kept");
    assert!(kept_ua.chars().count() >= 512 && chatty.user_agent.unwrap().starts_with(&kept_ua));
    assert!(s.delete("erin", chatty.id).await.unwrap());

    // The raw table holds the 32-byte hash, never anything else of the token.
    if backend != Backend::Memory {
        let rows = test.dump_rows().await;
        assert_eq!(rows.len(), 4, "b, upper, spaced, bare");
        assert!(rows.iter().all(|row| row.len() == 13));
        assert!(
            rows.iter()
                .any(|row| row.iter().any(|col| col == bare.token_hash.as_bytes()))
        );
    }

    // A row the database accepts but no session decodes from is an error, never a panic.
    if test.corrupt_all_rows().await {
        assert!(matches!(
            s.list_user_sessions("bob").await,
            Err(StoreError::Corrupt(_))
        ));
    }
}

async fn delete_expired_in_batches(backend: Backend) {
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    let s = &*test.store;
    let now = Clock::system().now();
    let mut expired = Vec::new();
    for minutes in 0..5 {
        // The one at `now` exactly is expired too (`expires_at <= now`).
        let r = SessionRecord {
            expires_at: now - Duration::minutes(minutes),
            ..record("dave", now - Duration::hours(1))
        };
        s.create(&r).await.unwrap();
        expired.push(r);
    }
    let live = SessionRecord {
        expires_at: now + Duration::microseconds(1),
        ..record("dave", now - Duration::hours(1))
    };
    s.create(&live).await.unwrap();

    assert_eq!(s.delete_expired(now, 0).await.unwrap(), 0);
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(s.delete_expired(now, 2).await.unwrap());
    }
    assert_eq!(counts, [2, 2, 1, 0]);
    assert_same(&s.load(&live.token_hash).await.unwrap().unwrap(), &live);
    for r in &expired {
        assert!(s.load(&r.token_hash).await.unwrap().is_none());
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

/// The JWT revocation list: entries round-trip, `since` and expiry filter, cleanup is batched
/// and keeps live entries.
async fn revocation_list(backend: Backend) {
    use sessionward::jwt::{Revocation, Revoked};
    let Some(test) = fresh_store(backend).await else {
        return;
    };
    let r = &*test.revocations;
    let now = Clock::system().now();
    let entry = |target, revoked_at: OffsetDateTime, expires_at| Revocation {
        id: Uuid::new_v4(),
        target,
        revoked_at,
        expires_at,
    };
    let sid = entry(
        Revoked::Session(Uuid::new_v4()),
        now,
        now + Duration::days(30),
    );
    let user = entry(
        Revoked::User("ALICE \u{1f980}".to_owned()),
        now - Duration::minutes(5),
        now + Duration::days(90),
    );
    r.add_revocation(&sid).await.expect("add sid");
    r.add_revocation(&user).await.expect("add user");
    assert!(matches!(
        r.add_revocation(&sid).await,
        Err(StoreError::Duplicate)
    ));
    let mut all = r
        .revocations_since(now - Duration::hours(1), now)
        .await
        .unwrap();
    all.sort_by_key(|e| e.revoked_at);
    assert_eq!(
        all,
        vec![user.clone(), sid.clone()],
        "round trip, exact times"
    );
    let recent = r
        .revocations_since(now - Duration::minutes(1), now)
        .await
        .unwrap();
    assert_eq!(recent, vec![sid.clone()], "`since` filters on revoked_at");

    for i in 0..5 {
        let expired = entry(
            Revoked::Session(Uuid::new_v4()),
            now - Duration::days(10),
            now - Duration::seconds(i),
        );
        r.add_revocation(&expired).await.unwrap();
    }
    let far_back = now - Duration::days(365);
    assert_eq!(
        r.revocations_since(far_back, now).await.unwrap().len(),
        2,
        "expired hidden"
    );
    let batches: Vec<u64> = [
        r.delete_expired_revocations(now, 2).await.unwrap(),
        r.delete_expired_revocations(now, 2).await.unwrap(),
        r.delete_expired_revocations(now, 2).await.unwrap(),
        r.delete_expired_revocations(now, 2).await.unwrap(),
    ]
    .into();
    assert_eq!(batches, [2, 2, 1, 0]);
    let later = now + Duration::days(31);
    assert_eq!(
        r.delete_expired_revocations(later, 100).await.unwrap(),
        1,
        "the sid entry"
    );
    assert_eq!(
        r.revocations_since(far_back, later).await.unwrap(),
        vec![user]
    );
}

every_backend!(contract, delete_expired_in_batches, revocation_list);
