//! Several app instances on one store, as behind a load balancer: three routers, each with its
//! own `SessionLayer` (its own cache, revocation copy and change-feed subscription), on one
//! PostgreSQL database, one MySQL database, one Redis and one Redis Cluster in turn.
//!
//! A session created on A works on B and C at once; a revocation on C (logout, revoke,
//! revoke-others, revoke-all) is honoured by A and B within the bound of the configuration:
//! at once without a cache, within milliseconds with change notices, within the polling
//! interval with the notices cut. Every measured delay is printed (`PROPAGATION ...` lines,
//! `--nocapture`), the numbers the README quotes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use sessionward::{SessionCache, SessionConfig, SessionLayer};
use tower::ServiceExt as _;

use crate::backends::{Backend, TestStore, fresh_store};
use crate::support::{
    CountingRevocations, CountingStore, Counts, Reply, jwt_config, request, router, user,
};

/// How each instance keeps (or does not keep) copies.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Database sessions, no cache: every request reads the store.
    Uncached,
    /// Database sessions with the cache; `notices` off is the notification channel cut.
    Cached { notices: bool },
    /// JWT sessions, the revocation list copied in memory.
    Jwt { notices: bool },
}

/// With notices on, the polling interval is long (10 s), so a revocation seen within the bound
/// below can only have come through a notice.
const SLOW_POLL: Duration = Duration::from_secs(10);
/// With notices cut, the polling interval that must hold the bound on its own.
const FAST_POLL: Duration = Duration::from_secs(1);

impl Mode {
    fn poll(self) -> Duration {
        match self {
            Mode::Cached { notices: true } | Mode::Jwt { notices: true } => SLOW_POLL,
            _ => FAST_POLL,
        }
    }

    /// The most a revocation on one instance may take to reach the others (for `Uncached`:
    /// none, see [`check`]).
    pub(crate) fn bound(self) -> Duration {
        match self {
            Mode::Uncached => Duration::ZERO,
            // Notices: one publish and one delivery (MySQL: a 100 ms poll), with room for a
            // loaded CI machine; far below the 10 s polling interval.
            Mode::Cached { notices: true } | Mode::Jwt { notices: true } => {
                Duration::from_millis(1_000)
            }
            // Polling: the interval, plus one store read.
            Mode::Cached { notices: false } | Mode::Jwt { notices: false } => {
                FAST_POLL + Duration::from_millis(500)
            }
        }
    }

    /// One instance's layer on `store`, its store reads counted in `counts`.
    fn layer(self, store: &TestStore, counts: &Arc<Counts>) -> SessionLayer {
        let config = SessionConfig::default();
        let sessions = CountingStore::new(store.store.clone(), counts.clone());
        match self {
            Mode::Uncached => SessionLayer::database(sessions, config),
            Mode::Cached { notices } => SessionLayer::database(
                sessions,
                config
                    .cache(SessionCache::new(self.poll()))
                    .change_notices(notices),
            ),
            Mode::Jwt { notices } => SessionLayer::jwt(
                jwt_config().revocation_refresh(self.poll()),
                CountingRevocations::new(store.revocations.clone(), counts.clone()),
                config.change_notices(notices),
            ),
        }
    }
}

/// One instance of the app, and the store reads it made.
pub(crate) struct Instance(pub(crate) Router, pub(crate) Arc<Counts>);

impl Instance {
    pub(crate) fn new(mode: Mode, store: &TestStore) -> Self {
        let counts = Arc::new(Counts::default());
        Self(router(mode.layer(store, &counts)), counts)
    }

    /// While nothing changes, an instance with copies serves `token` from memory: no store
    /// read for a while (after the subscription is in place). This is what makes the delays
    /// measured below the notices' doing, and not copies dropped over and over.
    pub(crate) async fn keeps_its_copy(&self, token: &str) {
        // The first request starts the subscription; once it is in place, copies read before
        // it are dropped (once: a notice may have been missed meanwhile).
        assert!(self.accepts(token).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(self.accepts(token).await);
        let before = self.1.loads();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(500) {
            assert!(self.accepts(token).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            self.1.loads(),
            before,
            "the copy was dropped while nothing changed"
        );
    }

    pub(crate) async fn call(&self, method: &str, path: &str, token: Option<&str>) -> Reply {
        let res = self
            .0
            .clone()
            .oneshot(request(method, path, token))
            .await
            .expect("infallible");
        Reply::read(res).await
    }

    pub(crate) async fn login(&self, user: &str) -> String {
        let reply = self
            .call("POST", &format!("/login/{user}?role=user"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.body);
        reply.token().expect("a session cookie")
    }

    pub(crate) async fn accepts(&self, token: &str) -> bool {
        let status = self.call("GET", "/me", Some(token)).await.status;
        assert!(
            matches!(status, StatusCode::OK | StatusCode::UNAUTHORIZED),
            "unexpected {status}"
        );
        status == StatusCode::OK
    }

    /// Logs `token` out here, then measures (from the moment the logout answered) until every
    /// one of `others` rejects it: see [`rejected_within`].
    pub(crate) async fn logout_seen_by(
        &self,
        token: &str,
        others: &[&Instance],
    ) -> (Duration, bool) {
        let reply = self.call("POST", "/logout", Some(token)).await;
        assert!(reply.status.is_success(), "logout: {}", reply.status);
        rejected_within(others, token, Instant::now()).await
    }

    /// The role `token`'s session has here.
    pub(crate) async fn role(&self, token: &str) -> String {
        let me = self.call("GET", "/me", Some(token)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        me.json()["role"].as_str().expect("role").to_owned()
    }

    pub(crate) async fn session_id(&self, token: &str) -> String {
        let me = self.call("GET", "/me", Some(token)).await;
        assert_eq!(me.status, StatusCode::OK);
        me.json()["id"].as_str().expect("id").to_owned()
    }
}

/// How long until every one of `others` rejects `token`, polling every 2 ms, and whether the
/// first look already found it rejected everywhere. Panics after 15 s (so a broken bound fails
/// with a number, not a hang).
pub(crate) async fn rejected_within(
    others: &[&Instance],
    token: &str,
    since: Instant,
) -> (Duration, bool) {
    let mut first = true;
    loop {
        let mut all = true;
        for other in others {
            all &= !other.accepts(token).await;
        }
        if all {
            return (since.elapsed(), first);
        }
        first = false;
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "still accepted {:?} after the revocation",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The revocations one instance can make.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Logout,
    Revoke,
    RevokeOthers,
    RevokeAll,
    /// Not a revocation: `Sessions::update_user_sessions` changed the user's role.
    RoleChange,
}

/// Runs every revocation kind across three instances in `mode` and prints the worst delay.
async fn run(backend: Backend, mode: Mode) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|_| Instance::new(mode, &store));
    let mut worst = Duration::ZERO;
    for kind in [
        Kind::Logout,
        Kind::Revoke,
        Kind::RevokeOthers,
        Kind::RevokeAll,
    ] {
        let who = user();
        // Created on A, used on B and C at once (and, with a cache, now held in their copies).
        let token = a.login(&who).await;
        for instance in [&a, &b, &c] {
            assert!(
                instance.accepts(&token).await,
                "{kind:?}: not usable at once"
            );
        }
        if matches!(
            mode,
            Mode::Cached { notices: true } | Mode::Jwt { notices: true }
        ) && matches!(kind, Kind::Logout)
        {
            a.keeps_its_copy(&token).await;
        }
        // The session that stays (revoke, revoke-others) or acts (revoke-all) lives on C.
        let kept = c.login(&who).await;
        let reply = match kind {
            Kind::Logout => c.call("POST", "/logout", Some(&token)).await,
            Kind::Revoke => {
                // A JWT session can revoke only itself (it cannot prove another sid is its
                // user's); a database session revokes another of its user's.
                let id = c.session_id(&token).await;
                let acting = if matches!(mode, Mode::Jwt { .. }) {
                    &token
                } else {
                    &kept
                };
                c.call("DELETE", &format!("/sessions/{id}"), Some(acting))
                    .await
            }
            Kind::RevokeOthers => c.call("POST", "/revoke-others", Some(&kept)).await,
            Kind::RevokeAll => {
                c.call("POST", &format!("/revoke-all/{who}"), Some(&kept))
                    .await
            }
            Kind::RoleChange => unreachable!("not a revocation"),
        };
        assert!(reply.status.is_success(), "{kind:?}: {}", reply.status);
        // The bound counts from the moment the revocation has answered.
        let revoked_at = Instant::now();
        // A JWT revoke-others re-issues the kept session's token.
        let kept = reply.token().unwrap_or(kept);
        let (delay, at_once) = rejected_within(&[&a, &b], &token, revoked_at).await;
        assert!(!c.accepts(&token).await, "{kind:?}: the revoking instance");
        check(backend, mode, kind, delay, at_once);
        worst = worst.max(delay);
        if matches!(kind, Kind::RevokeOthers) {
            for instance in [&a, &b, &c] {
                assert!(
                    instance.accepts(&kept).await,
                    "revoke-others ended the kept one"
                );
            }
        }
    }

    // One instance dying mid-load costs the others nothing: A is stopped in the middle of its
    // requests (logins, reads, logouts cut off wherever they are), while B and C serve theirs
    // without a single failure, and afterwards still agree.
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a = Arc::new(a);
    let dying = tokio::spawn({
        let a = a.clone();
        async move {
            loop {
                let token = a.login(&user()).await;
                a.accepts(&token).await;
                a.call("POST", "/logout", Some(&token)).await;
            }
        }
    });
    let shared = b.login(&user()).await;
    let survivors: Vec<_> = [b.0.clone(), c.0.clone()]
        .into_iter()
        .map(|router| {
            let (served, shared) = (served.clone(), shared.clone());
            tokio::spawn(async move {
                let instance = Instance(router, Arc::new(Counts::default()));
                let until = Instant::now() + Duration::from_millis(400);
                while Instant::now() < until {
                    let own = instance.login(&user()).await;
                    assert!(instance.accepts(&own).await && instance.accepts(&shared).await);
                    served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    dying.abort();
    assert!(dying.await.unwrap_err().is_cancelled());
    drop(a);
    for survivor in survivors {
        survivor
            .await
            .expect("B and C served every request while A died");
    }
    assert!(served.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let token = b.login(&user()).await;
    assert!(c.accepts(&token).await);
    let (delay, at_once) = c.logout_seen_by(&token, &[&b]).await;
    check(backend, mode, Kind::Logout, delay, at_once);
    worst = worst.max(delay);

    let bound = match mode {
        Mode::Uncached => "every request reads the store: the first request after it".to_owned(),
        _ => format!("bound {} ms", mode.bound().as_millis()),
    };
    println!(
        "PROPAGATION {backend:?} {mode:?}: worst {:.1} ms over logout, revoke, revoke-others, \
         revoke-all and one after an instance left ({bound})",
        worst.as_secs_f64() * 1_000.0,
    );
}

/// Holds one measured delay to the mode's bound: without copies the first request after the
/// revocation must already be rejected.
fn check(backend: Backend, mode: Mode, kind: Kind, delay: Duration, at_once: bool) {
    match mode {
        Mode::Uncached => assert!(
            at_once,
            "{backend:?} {kind:?}: an uncached instance accepted a revoked session"
        ),
        _ => assert!(
            delay <= mode.bound(),
            "{backend:?} {mode:?} {kind:?}: honoured after {delay:?}, bound {:?}",
            mode.bound()
        ),
    }
}

/// A subscription that is cut for real (PostgreSQL ends the listening connection): the
/// revocation made meanwhile still reaches the instance that missed its notice, as soon as it
/// has subscribed again (it drops every copy then), long before its 10 s ttl; after that,
/// notices arrive again and copies are kept again.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_subscription_is_covered_and_resumes_on_postgres() {
    let Some(store) = fresh_store(Backend::Postgres).await else {
        return;
    };
    let mode = Mode::Cached { notices: true };
    let [a, c] = [0, 1].map(|_| Instance::new(mode, &store));
    let token = a.login(&user()).await;
    assert!(c.accepts(&token).await);
    a.keeps_its_copy(&token).await;

    // End every listening connection of this test's database (A's and C's).
    let pool = store.postgres_pool().expect("a PostgreSQL store");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND query LIKE 'LISTEN%'",
    )
    .fetch_all(pool)
    .await
    .expect("terminate the listeners");
    assert_eq!(ended.len(), 2, "one listening connection per instance");

    let (delay, _) = c.logout_seen_by(&token, &[&a]).await;
    println!(
        "PROPAGATION Postgres notices cut for real: the revocation was honoured after {:.1} ms \
         (resubscription), ttl {} ms",
        delay.as_secs_f64() * 1_000.0,
        SLOW_POLL.as_millis()
    );
    assert!(delay < Duration::from_secs(6), "took {delay:?}");

    // Subscribed again: copies are kept, and notices work as before.
    let token = a.login(&user()).await;
    assert!(c.accepts(&token).await);
    a.keeps_its_copy(&token).await;
    let (delay, _) = c.logout_seen_by(&token, &[&a]).await;
    assert!(delay <= mode.bound(), "after resubscribing: {delay:?}");
}

/// A role change made on C (`Sessions::update_user_sessions`, issue 17) reaches the sessions
/// A and B hold copies of within the mode's bound: at once without a cache, within
/// milliseconds through the change notices with one.
async fn role_change(backend: Backend, mode: Mode) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|_| Instance::new(mode, &store));
    let who = user();
    let token = a.login(&who).await;
    for instance in [&a, &b, &c] {
        assert_eq!(instance.role(&token).await, "user");
    }
    if matches!(mode, Mode::Cached { notices: true }) {
        a.keeps_its_copy(&token).await;
    }
    let reply = c
        .call("POST", &format!("/user-role/{who}?role=admin"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json(), serde_json::json!(1));
    let since = Instant::now();
    let mut at_once = true;
    loop {
        if a.role(&token).await == "admin" && b.role(&token).await == "admin" {
            break;
        }
        at_once = false;
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "{backend:?} {mode:?}: the old role after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delay = since.elapsed();
    assert_eq!(
        c.role(&token).await,
        "admin",
        "the instance that changed it"
    );
    check(backend, mode, Kind::RoleChange, delay, at_once);
    println!(
        "PROPAGATION {backend:?} {mode:?}: a role change reached the other instances after \
         {:.1} ms",
        delay.as_secs_f64() * 1_000.0
    );
}

/// A logout whose request goes away (the client hung up, a timeout around the handler) after
/// the store ended the session, while the change notice is on its way out: the notice still
/// goes out, and the other instances drop their copies within the notice's bound (plus the
/// second the test's feed holds it), not after their polling interval (10 s). On JWT, the
/// instance that made the revocation knows it too.
async fn a_logout_whose_request_went_away_while_announcing_it_still_reaches_the_others(
    backend: Backend,
) {
    let Some(store) = fresh_store(backend).await else {
        return;
    };
    for mode in [Mode::Cached { notices: true }, Mode::Jwt { notices: true }] {
        let [a, b] = [0, 1].map(|_| Instance::new(mode, &store));
        let token = a.login(&user()).await;
        b.keeps_its_copy(&token).await;
        a.1.slow_notices
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let logout = a.call("POST", "/logout", Some(&token));
        let gone = tokio::time::timeout(Duration::from_millis(300), logout).await;
        assert!(
            gone.is_err(),
            "{mode:?}: the logout answered before its notice went out"
        );
        let since = Instant::now();
        let (delay, _) = rejected_within(&[&a, &b], &token, since).await;
        assert!(
            delay < Duration::from_secs(1) + mode.bound(),
            "{mode:?}: the other instance kept the session {delay:?} (its polling interval: \
             {SLOW_POLL:?})"
        );
    }
}

async fn role_change_uncached(backend: Backend) {
    role_change(backend, Mode::Uncached).await;
}
async fn role_change_cached_with_notices(backend: Backend) {
    role_change(backend, Mode::Cached { notices: true }).await;
}

async fn uncached(backend: Backend) {
    run(backend, Mode::Uncached).await;
}
async fn cached_with_notices(backend: Backend) {
    run(backend, Mode::Cached { notices: true }).await;
}
async fn cached_with_notices_cut(backend: Backend) {
    run(backend, Mode::Cached { notices: false }).await;
}
async fn jwt_with_notices(backend: Backend) {
    run(backend, Mode::Jwt { notices: true }).await;
}
async fn jwt_with_notices_cut(backend: Backend) {
    run(backend, Mode::Jwt { notices: false }).await;
}

per_engine!(
    uncached,
    cached_with_notices,
    cached_with_notices_cut,
    jwt_with_notices,
    jwt_with_notices_cut,
    role_change_uncached,
    role_change_cached_with_notices,
    a_logout_whose_request_went_away_while_announcing_it_still_reaches_the_others,
);
