//! Device limit (issue 17): `SessionConfig::max_sessions_per_user(n)` ends the least recently
//! used sessions (the default) or refuses the new login (409), on database sessions, atomically
//! per user in every store; not offered for JWT (a start-up error), nor on a store that does
//! not enforce it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use sessionward::{
    LimitedCreate, MemoryStore, SessionConfig, SessionEvent, SessionEventKind, SessionEvents,
    SessionLayer, SessionLimit, SessionLimitPolicy, SessionRecord, SessionStore, StoreError,
    TokenHash,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::support::{START, Setup, TestApp, session_record, user};

suite!(device_limit => database, Database; cached, DatabaseCached:
    a_login_beyond_the_limit_ends_the_least_recently_used_session,
    a_login_beyond_the_limit_can_be_refused,
);

// The store's part: concurrent logins of one user, on every store.
suite!(device_limit => store, Database:
    concurrent_logins_never_leave_more_than_the_limit,
    concurrent_logins_beyond_the_limit_are_refused_exactly,
    expired_sessions_do_not_count,
);

const LIMIT: u32 = 3;
const LOGINS: usize = 12;

/// `LOGINS` concurrent `create_within_limit` calls for one user; their results.
async fn concurrent_logins(
    store: &Arc<dyn SessionStore>,
    user: &str,
    policy: SessionLimitPolicy,
) -> Vec<LimitedCreate> {
    let limit = SessionLimit {
        max_sessions: LIMIT,
        policy,
    };
    let now = START + Duration::seconds(1);
    // All started before any is awaited.
    let logins: Vec<_> = (0..LOGINS)
        .map(|_| {
            let store = store.clone();
            let record = session_record(user, START);
            tokio::spawn(async move { store.create_within_limit(&record, limit, now).await })
        })
        .collect();
    let mut results = Vec::new();
    for login in logins {
        results.push(login.await.expect("no panic").expect("the store answers"));
    }
    results
}

/// The user's sessions that are live at `START + 1 s`.
async fn live(store: &Arc<dyn SessionStore>, user: &str) -> Vec<SessionRecord> {
    let now = START + Duration::seconds(1);
    let mut listed = store.list_user_sessions(user).await.unwrap();
    listed.retain(|r| r.expires_at > now);
    listed
}

/// Rounds of concurrent logins: the first ones also open the pool's connections, so that the
/// later ones really run side by side.
const ROUNDS: usize = 6;

pub async fn concurrent_logins_never_leave_more_than_the_limit(t: Setup) {
    let Some(test) = crate::backends::fresh_store(t.backend).await else {
        return;
    };
    assert!(test.store.enforces_session_limits());
    for round in 0..ROUNDS {
        let alice = user();
        let results = concurrent_logins(&test.store, &alice, SessionLimitPolicy::default()).await;
        let mut ended = 0;
        for result in &results {
            match result {
                LimitedCreate::Created { ended: e } => ended += e.len(),
                LimitedCreate::Refused => panic!("the default policy never refuses"),
            }
        }
        let kept = live(&test.store, &alice).await;
        assert_eq!(kept.len(), LIMIT as usize, "round {round}: {kept:?}");
        assert_eq!(
            ended,
            LOGINS - LIMIT as usize,
            "round {round}: each ended session is reported once"
        );
    }
    // Another user is not touched.
    let (alice, bob) = (user(), user());
    test.store
        .create(&session_record(&bob, START))
        .await
        .unwrap();
    concurrent_logins(&test.store, &alice, SessionLimitPolicy::default()).await;
    assert_eq!(live(&test.store, &bob).await.len(), 1);
    assert_eq!(live(&test.store, &alice).await.len(), LIMIT as usize);
}

pub async fn concurrent_logins_beyond_the_limit_are_refused_exactly(t: Setup) {
    let Some(test) = crate::backends::fresh_store(t.backend).await else {
        return;
    };
    for round in 0..ROUNDS {
        let alice = user();
        let policy = SessionLimitPolicy::RefuseNewLogin;
        let results = concurrent_logins(&test.store, &alice, policy).await;
        let created = results
            .iter()
            .filter(|r| matches!(r, LimitedCreate::Created { ended } if ended.is_empty()))
            .count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, LimitedCreate::Refused))
            .count();
        assert_eq!(
            (created, refused),
            (LIMIT as usize, LOGINS - LIMIT as usize),
            "round {round}"
        );
        assert_eq!(live(&test.store, &alice).await.len(), LIMIT as usize);
    }
}

pub async fn expired_sessions_do_not_count(t: Setup) {
    let Some(test) = crate::backends::fresh_store(t.backend).await else {
        return;
    };
    let alice = user();
    let limit = SessionLimit {
        max_sessions: 2,
        policy: SessionLimitPolicy::RefuseNewLogin,
    };
    // Two sessions that expired an hour ago, not yet cleaned up.
    for _ in 0..2 {
        let mut old = session_record(&alice, START - Duration::days(40));
        old.expires_at = START - Duration::hours(1);
        old.absolute_expires_at = START + Duration::days(1);
        test.store.create(&old).await.unwrap();
    }
    let now = START;
    for _ in 0..2 {
        let fresh = session_record(&alice, now);
        let created = test.store.create_within_limit(&fresh, limit, now).await;
        assert_eq!(created.unwrap(), LimitedCreate::Created { ended: vec![] });
    }
    let third = session_record(&alice, now);
    let refused = test.store.create_within_limit(&third, limit, now).await;
    assert_eq!(refused.unwrap(), LimitedCreate::Refused);
    assert!(test.store.load(&third.token_hash).await.unwrap().is_none());
}

/// Records every event the hook hears.
fn recorder() -> (SessionEvents, Arc<std::sync::Mutex<Vec<SessionEvent>>>) {
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    let events = SessionEvents::new(move |event| {
        let sink = sink.clone();
        async move { sink.lock().unwrap().push(event) }
    });
    (events, heard)
}

/// Logs `user` in; the new session's token and id.
async fn login(app: &TestApp, user: &str) -> (String, Uuid) {
    let reply = app.login(user, "user").await;
    let id = reply.json()["id"].as_str().unwrap().parse().unwrap();
    (reply.token().unwrap(), id)
}

async fn status(app: &TestApp, token: &str) -> StatusCode {
    app.call("GET", "/me", Some(token)).await.status
}

pub async fn a_login_beyond_the_limit_ends_the_least_recently_used_session(t: Setup) {
    let (events, heard) = recorder();
    let hook = events.clone();
    let app = app!(t, move |c| c.max_sessions_per_user(2).events(hook));
    let alice = user();
    let (phone, _) = login(&app, &alice).await;
    app.clock.advance(Duration::hours(1));
    let (laptop, laptop_id) = login(&app, &alice).await;
    // The phone is used after the laptop's sign-in, a sliding refresh away: now the laptop
    // is the least recently used.
    app.clock.advance(Duration::days(1) + Duration::hours(1));
    let used = app.call("GET", "/me", Some(&phone)).await;
    assert_eq!(used.status, StatusCode::OK);
    let phone = used.token().unwrap_or(phone);
    let (tablet, _) = login(&app, &alice).await;
    assert_eq!(status(&app, &laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, &phone).await, StatusCode::OK);
    assert_eq!(status(&app, &tablet).await, StatusCode::OK);
    let listed = app.call("GET", "/sessions", Some(&tablet)).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    // The ended session is announced as revoked, before the new one's creation (the phone's
    // sliding refresh and the laptop's rejected request are events too).
    for _ in 0..500 {
        if events.delivered() >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let heard = heard.lock().unwrap();
    let lifecycle: Vec<&SessionEvent> = heard
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                SessionEventKind::Created | SessionEventKind::Revoked
            )
        })
        .collect();
    let kinds: Vec<_> = lifecycle.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            SessionEventKind::Created,
            SessionEventKind::Created,
            SessionEventKind::Revoked,
            SessionEventKind::Created,
        ],
        "{heard:?}"
    );
    assert_eq!(lifecycle[2].session_id, Some(laptop_id));
    assert_eq!(lifecycle[2].user_id.as_deref(), Some(alice.as_str()));
}

pub async fn a_login_beyond_the_limit_can_be_refused(t: Setup) {
    let app = app!(t, |c| c
        .max_sessions_per_user(2)
        .session_limit_policy(SessionLimitPolicy::RefuseNewLogin));
    let alice = user();
    let (phone, _) = login(&app, &alice).await;
    let (laptop, _) = login(&app, &alice).await;
    let refused = app
        .call("POST", &format!("/login/{alice}?role=user"), None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(
        refused.json(),
        serde_json::json!({"error": "too many sessions: sign out on another device first"})
    );
    assert!(refused.set_cookies().is_empty(), "no session, no cookie");
    assert_eq!(status(&app, &phone).await, StatusCode::OK);
    assert_eq!(status(&app, &laptop).await, StatusCode::OK);
    // A browser signed in as someone else signs in as alice: its own session was ended
    // first (so it would not count against a limit), and the refused login clears its cookie
    // instead of leaving it naming a session that is gone.
    let (bob, _) = login(&app, &user()).await;
    let refused = app
        .call("POST", &format!("/login/{alice}?role=user"), Some(&bob))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.clears_cookie(),
        "the ended session's cookie goes: {:?}",
        refused.set_cookies()
    );
    assert_eq!(status(&app, &bob).await, StatusCode::UNAUTHORIZED);
    // Another user is not affected; once one device signs out, the login goes through.
    login(&app, &user()).await;
    let out = app.call("POST", "/logout", Some(&phone)).await;
    assert_eq!(out.status, StatusCode::OK);
    login(&app, &alice).await;
}

/// A store of someone else's that does not enforce limits: it keeps the trait's defaults.
struct WithoutLimits(MemoryStore);

#[async_trait]
impl SessionStore for WithoutLimits {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.0.create(record).await
    }
    async fn load(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.0.load(hash).await
    }
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.touch(id, refreshed_at, expires_at).await
    }
    async fn update_data(&self, id: Uuid, version: i64, data: &str) -> Result<bool, StoreError> {
        self.0.update_data(id, version, data).await
    }
    async fn reauthenticate(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.0.reauthenticate(id, at).await
    }
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        self.0.rotate(id, old, new).await
    }
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        self.0.delete(user_id, id).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        self.0.delete_user_sessions(user_id, keep).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.0.list_user_sessions(user_id).await
    }
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.0.delete_expired(now, batch).await
    }
}

#[test]
fn the_limit_is_a_start_up_error_where_it_cannot_be_kept() {
    use crate::support::start_up_refusal;
    let limited = || SessionConfig::default().max_sessions_per_user(3);
    let jwt = start_up_refusal(|| {
        SessionLayer::jwt(crate::support::jwt_config(), MemoryStore::new(), limited())
    })
    .expect("refused");
    assert!(jwt.contains("not offered for JWT sessions"), "{jwt}");
    let custom =
        start_up_refusal(|| SessionLayer::database(WithoutLimits(MemoryStore::new()), limited()))
            .expect("refused");
    assert!(
        custom.contains("does not enforce session limits"),
        "{custom}"
    );
    // Without a limit, that store is fine; the crate's stores enforce limits.
    assert!(
        start_up_refusal(|| {
            SessionLayer::database(WithoutLimits(MemoryStore::new()), SessionConfig::default())
        })
        .is_none()
    );
    assert!(start_up_refusal(|| SessionLayer::database(MemoryStore::new(), limited())).is_none());
    let zero = start_up_refusal(|| SessionConfig::default().max_sessions_per_user(0));
    assert!(zero.expect("refused").contains("at least 1"));
    // The trait's default never creates a session it cannot count.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = WithoutLimits(MemoryStore::new());
    let record = session_record("alice", START);
    let limit = SessionLimit {
        max_sessions: 1,
        policy: SessionLimitPolicy::default(),
    };
    let answer = rt.block_on(store.create_within_limit(&record, limit, START));
    assert!(matches!(answer, Err(StoreError::Unsupported(_))));
    assert!(store.0.is_empty());
}
