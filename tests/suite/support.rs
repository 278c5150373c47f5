//! The test application every generic HTTP case drives: a real `Router` behind a real
//! `SessionLayer`, on a real store, with a manual clock and a store wrapper that counts calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use sessionward::jwt::{Revocation, RevocationStore};
use sessionward::testing::ManualClock;
use sessionward::{
    Authorize, Clock, Session, SessionConfig, SessionLayer, SessionRecord, SessionStore, Sessions,
    StoreError, TokenHash, require_role, require_session,
};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::backends::{Backend, TestStore, fresh_store};

/// The app of a [`Setup`] (optionally with a config change), or return from the test when its
/// backend is not configured (`SKIP` is printed then).
macro_rules! app {
    ($setup:expr) => {
        match $crate::support::TestApp::new($setup).await {
            Some(app) => app,
            None => return,
        }
    };
    ($setup:expr, $configure:expr) => {
        match $crate::support::TestApp::with_config($setup, $configure).await {
            Some(app) => app,
            None => return,
        }
    };
}

/// Instantiates every listed `async fn case(backend: Backend)` of the current module as a
/// multi-threaded `#[tokio::test]` per engine that has a change feed, in modules named after
/// the engine: `cargo test --test suite notices::redis::` runs one engine.
macro_rules! per_engine {
    ($($case:ident),* $(,)?) => {
        per_engine!(@engine postgres, Postgres, $($case),*);
        per_engine!(@engine mysql, MySql, $($case),*);
        per_engine!(@engine redis, Redis, $($case),*);
        per_engine!(@engine redis_cluster, RedisCluster, $($case),*);
    };
    (@engine $engine:ident, $backend:ident, $($case:ident),*) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::backends::Backend::$backend).await;
                }
            )*
        }
    };
}

/// Instantiates every listed case of module `$cases` (each an `async fn case(t: Setup)`) as a
/// `#[tokio::test]` per backend, in modules named after the strategy and backend:
/// `cargo test --test suite database::postgres::` runs one cell. Several `module, Strategy`
/// pairs share one list of cases.
macro_rules! suite {
    ($cases:ident => $module:ident, $strategy:ident; $($more:ident, $more_strategy:ident);+: $($case:ident),* $(,)?) => {
        suite!($cases => $module, $strategy: $($case),*);
        suite!($cases => $($more, $more_strategy);+: $($case),*);
    };
    ($cases:ident => $module:ident, $strategy:ident: $($case:ident),* $(,)?) => {
        mod $module {
            suite!(@cell $cases, memory, Memory, $strategy, $($case),*);
            suite!(@cell $cases, sqlite, Sqlite, $strategy, $($case),*);
            suite!(@cell $cases, postgres, Postgres, $strategy, $($case),*);
            suite!(@cell $cases, mysql, MySql, $strategy, $($case),*);
            suite!(@cell $cases, redis, Redis, $strategy, $($case),*);
            suite!(@cell $cases, redis_cluster, RedisCluster, $strategy, $($case),*);
        }
    };
    (@cell $cases:ident, $backend:ident, $variant:ident, $strategy:ident, $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$cases::$case(crate::support::Setup {
                        backend: crate::backends::Backend::$variant,
                        strategy: crate::support::Strategy::$strategy,
                    })
                    .await;
                }
            )*
        }
    };
}

/// A user id no other test uses.
pub fn user() -> String {
    format!("user-{}", uuid::Uuid::new_v4().simple())
}

/// Which strategy a test app runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Database,
    /// Database sessions with the in-process cache on (a minute's ttl, so the cases run on
    /// cached copies).
    DatabaseCached,
    Jwt,
}

/// The cache of the `DatabaseCached` cells.
pub fn test_cache() -> sessionward::SessionCache {
    sessionward::SessionCache::new(std::time::Duration::from_secs(60))
}

/// One cell of the test matrix: a store and a strategy (for JWT, the store holds revocations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    pub backend: Backend,
    pub strategy: Strategy,
}

impl Setup {
    pub fn is_jwt(self) -> bool {
        self.strategy == Strategy::Jwt
    }

    pub fn is_cached(self) -> bool {
        self.strategy == Strategy::DatabaseCached
    }
}

/// The HS256 secret of the test apps' JWT key.
pub const JWT_SECRET: &[u8; 40] = b"sessionward-test-secret-0123456789abcdef";
pub const JWT_KID: &str = "test-1";
pub const JWT_ISSUER: &str = "sessionward-test";

/// The JWT settings of the test apps (revocations refreshed every 100 ms).
pub fn jwt_config() -> sessionward::jwt::JwtConfig {
    use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    let key = JwtKey::hs256(JWT_KID, JWT_SECRET).expect("valid key");
    JwtConfig::new(
        JwtKeys::new(key).expect("signing key"),
        JWT_ISSUER,
        JWT_ISSUER,
    )
    .revocation_refresh(std::time::Duration::from_millis(100))
}

/// The test's session data.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Data {
    pub role: String,
    pub items: Vec<String>,
}

impl Authorize for Data {
    fn has_role(&self, role: &str) -> bool {
        self.role == role
    }
    fn has_permission(&self, permission: &str) -> bool {
        self.items.iter().any(|i| i == permission)
    }
}

/// Counts calls into the wrapped (real) store, per kind; while `fail_loads` is set, every
/// session load fails as a backend that went down would (the writes still reach the store);
/// `after_create` runs once, right after the next session is written (to race a change
/// against a login); while `slow_writes` is set, a data update, a re-authentication and a
/// delete take a second longer than their write (the write is made, its answer comes late);
/// while `slow_notices` is set, a change notice goes out a second late.
#[derive(Default)]
pub struct Counts {
    pub loads: AtomicUsize,
    pub writes: AtomicUsize,
    pub fail_loads: AtomicBool,
    pub slow_writes: AtomicBool,
    pub slow_notices: AtomicBool,
    pub after_create: std::sync::Mutex<Option<BoxFuture>>,
}

/// The store's change feed, whose notices go out a second late while `slow_notices` is set
/// (a request that stops waiting while it announces its change).
struct SlowFeed {
    inner: Arc<dyn sessionward::ChangeFeed>,
    counts: Arc<Counts>,
}

impl SlowFeed {
    fn around(
        inner: Option<Arc<dyn sessionward::ChangeFeed>>,
        counts: &Arc<Counts>,
    ) -> Option<Arc<dyn sessionward::ChangeFeed>> {
        let counts = counts.clone();
        inner.map(|inner| Arc::new(SlowFeed { inner, counts }) as Arc<dyn sessionward::ChangeFeed>)
    }
}

#[async_trait]
impl sessionward::ChangeFeed for SlowFeed {
    async fn publish(&self, notice: &str) -> Result<(), StoreError> {
        if self.counts.slow_notices.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        self.inner.publish(notice).await
    }
    async fn subscribe(&self) -> Result<tokio::sync::mpsc::Receiver<String>, StoreError> {
        self.inner.subscribe().await
    }
}

/// A task the test hands a store wrapper to run.
pub type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl Counts {
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    pub fn total(&self) -> usize {
        self.loads() + self.writes()
    }
}

pub struct CountingStore {
    inner: Arc<dyn SessionStore>,
    counts: Arc<Counts>,
}

impl CountingStore {
    fn read(&self) {
        self.counts.loads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
    }
    /// `written`, a second late while `slow_writes` is set.
    async fn answer<T>(&self, written: T) -> T {
        if self.counts.slow_writes.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        written
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    fn change_feed(&self) -> Option<Arc<dyn sessionward::ChangeFeed>> {
        SlowFeed::around(self.inner.change_feed(), &self.counts)
    }
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.write();
        self.inner.create(record).await?;
        let after = self.counts.after_create.lock().unwrap().take();
        if let Some(after) = after {
            after.await;
        }
        Ok(())
    }
    async fn load(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.read();
        if self.counts.fail_loads.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(
                "the test made session loads fail".into(),
            ));
        }
        self.inner.load(hash).await
    }
    async fn touch(
        &self,
        id: Uuid,
        refreshed_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.write();
        self.inner.touch(id, refreshed_at, expires_at).await
    }
    async fn update_data(&self, id: Uuid, version: i64, data: &str) -> Result<bool, StoreError> {
        self.write();
        let written = self.inner.update_data(id, version, data).await;
        self.answer(written).await
    }
    async fn rotate(&self, id: Uuid, old: &TokenHash, new: &TokenHash) -> Result<bool, StoreError> {
        self.write();
        self.inner.rotate(id, old, new).await
    }
    async fn reauthenticate(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        self.write();
        let written = self.inner.reauthenticate(id, at).await;
        self.answer(written).await
    }
    async fn delete(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        self.write();
        let written = self.inner.delete(user_id, id).await;
        self.answer(written).await
    }
    async fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        self.write();
        self.inner.delete_user_sessions(user, keep).await
    }
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.read();
        self.inner.list_user_sessions(user_id).await
    }
    async fn delete_expired(&self, now: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.write();
        self.inner.delete_expired(now, batch).await
    }
    fn enforces_session_limits(&self) -> bool {
        self.inner.enforces_session_limits()
    }
    async fn create_within_limit(
        &self,
        record: &SessionRecord,
        limit: sessionward::SessionLimit,
        now: OffsetDateTime,
    ) -> Result<sessionward::LimitedCreate, StoreError> {
        self.write();
        self.inner.create_within_limit(record, limit, now).await
    }
}

/// Counts calls into the wrapped (real) revocation store.
pub struct CountingRevocations {
    inner: Arc<dyn RevocationStore>,
    counts: Arc<Counts>,
}

impl CountingStore {
    /// `inner`, its calls counted in `counts`.
    pub fn new(inner: Arc<dyn SessionStore>, counts: Arc<Counts>) -> Self {
        Self { inner, counts }
    }
}

impl CountingRevocations {
    /// `inner`, its calls counted in `counts` (a refresh of the list is a load).
    pub fn new(inner: Arc<dyn RevocationStore>, counts: Arc<Counts>) -> Self {
        Self { inner, counts }
    }
}

#[async_trait]
impl RevocationStore for CountingRevocations {
    fn change_feed(&self) -> Option<Arc<dyn sessionward::ChangeFeed>> {
        SlowFeed::around(self.inner.change_feed(), &self.counts)
    }
    async fn add_revocation(&self, r: &Revocation) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.add_revocation(r).await
    }
    async fn revocations_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Revocation>, StoreError> {
        self.counts.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.revocations_since(since, now).await
    }
    async fn delete_expired_revocations(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_expired_revocations(now, batch).await
    }
}

pub const START: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// A running test application.
pub struct TestApp {
    pub router: Router,
    pub clock: ManualClock,
    pub counts: Arc<Counts>,
    pub store: TestStore,
    pub setup: Setup,
}

#[derive(Clone)]
struct AppState {
    barrier: Arc<tokio::sync::Barrier>,
}

impl TestApp {
    /// The app for `setup` with the default config; `None` when the backend is skipped.
    pub async fn new(setup: Setup) -> Option<Self> {
        Self::with_config(setup, |c| c).await
    }

    pub async fn with_config(
        setup: Setup,
        configure: impl FnOnce(SessionConfig) -> SessionConfig,
    ) -> Option<Self> {
        Self::build(setup, configure, jwt_config()).await
    }

    /// The app with JWT settings of the test's own (other keys, a callback, ...).
    pub async fn build(
        setup: Setup,
        configure: impl FnOnce(SessionConfig) -> SessionConfig,
        jwt: sessionward::jwt::JwtConfig,
    ) -> Option<Self> {
        logs::install();
        let store = fresh_store(setup.backend).await?;
        let (clock, control) = Clock::manual(START);
        let counts = Arc::new(Counts::default());
        let base = SessionConfig::default().clock(clock);
        let config = configure(if setup.is_cached() {
            base.cache(test_cache())
        } else {
            base
        });
        let layer = match setup.strategy {
            Strategy::Database | Strategy::DatabaseCached => SessionLayer::database(
                CountingStore {
                    inner: store.store.clone(),
                    counts: counts.clone(),
                },
                config,
            ),
            Strategy::Jwt => SessionLayer::jwt(
                jwt,
                CountingRevocations {
                    inner: store.revocations.clone(),
                    counts: counts.clone(),
                },
                config,
            ),
        };
        Some(Self {
            router: router(layer),
            clock: control,
            counts,
            store,
            setup,
        })
    }

    /// A second router on the same store (another app instance), with its own clock.
    pub fn second_instance(&self) -> (Router, ManualClock) {
        self.instance_with(jwt_config())
    }

    /// Another app instance on the same store, with its own clock and, for JWT, these settings
    /// (other keys, for key rotation).
    pub fn instance_with(&self, jwt: sessionward::jwt::JwtConfig) -> (Router, ManualClock) {
        let (clock, control) = Clock::manual(START);
        let config = SessionConfig::default().clock(clock);
        let layer = match self.setup.strategy {
            Strategy::Database => SessionLayer::database(self.store.store.clone(), config),
            Strategy::DatabaseCached => {
                SessionLayer::database(self.store.store.clone(), config.cache(test_cache()))
            }
            Strategy::Jwt => SessionLayer::jwt(jwt, self.store.revocations.clone(), config),
        };
        (router(layer), control)
    }

    /// Another instance on the same store with database sessions and no cache.
    pub fn uncached_instance(&self) -> Router {
        let (clock, _) = Clock::manual(START);
        let config = SessionConfig::default().clock(clock);
        router(SessionLayer::database(self.store.store.clone(), config))
    }

    /// Sends one request through the router.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        Reply::read(res).await
    }

    /// `method path` with an optional session cookie.
    pub async fn call(&self, method: &str, path: &str, cookie: Option<&str>) -> Reply {
        self.send(request(method, path, cookie)).await
    }

    /// Logs `user` in with `role`; returns the reply (whose `token()` is the new cookie).
    pub async fn login(&self, user: &str, role: &str) -> Reply {
        let reply = self
            .call("POST", &format!("/login/{user}?role={role}"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login failed: {}", reply.body);
        reply
    }
}

/// Every test app checks, when it goes, that no captured log line holds a secret (see [`logs`]).
impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            logs::assert_no_leaks();
        }
    }
}

/// A request with an optional session cookie.
pub fn request(method: &str, path: &str, cookie: Option<&str>) -> Request<Body> {
    if let Some(token) = cookie {
        logs::register(token);
    }
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.test");
    if let Some(token) = cookie {
        builder = builder.header(header::COOKIE, format!("session-id={token}"));
    }
    builder.body(Body::empty()).expect("valid request")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn read(res: Response) -> Self {
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    /// The token of the one `Set-Cookie`, if it sets a (non-empty) session cookie.
    pub fn token(&self) -> Option<String> {
        let cookies = self.set_cookies();
        assert!(cookies.len() <= 1, "more than one Set-Cookie: {cookies:?}");
        let value = cookies
            .first()?
            .strip_prefix("session-id=")?
            .split(';')
            .next()?;
        logs::register(value);
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Whether the response removes the session cookie.
    pub fn clears_cookie(&self) -> bool {
        let cookies = self.set_cookies();
        cookies.len() == 1
            && cookies[0].starts_with("session-id=;")
            && cookies[0].contains("Max-Age=0")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

#[derive(Deserialize)]
struct RoleQuery {
    role: String,
    /// "Remember me" (issue 17); absent is the plain `login`.
    remember: Option<bool>,
}

/// The test routes behind `layer`.
pub fn router(layer: SessionLayer) -> Router {
    let guarded_admin = Router::new()
        .route("/admin", get(|| async { "admin area" }))
        .route_layer(require_role::<Data>("admin"));
    let guarded_page = Router::new()
        .route(
            "/page",
            get(|| async { "members page" }).post(|| async { "posted" }),
        )
        .route_layer(require_session().redirect_to("/signin"));
    let guarded_api = Router::new()
        .route("/guarded", get(|| async { "guarded" }))
        .route_layer(require_session());
    // Step-up (issue 17): five minutes of freshness, for APIs and for pages.
    let fresh_api = Router::new()
        .route("/fresh", get(|| async { "fresh" }))
        .route_layer(sessionward::require_fresh(FRESH_AGE));
    let fresh_page = Router::new()
        .route("/fresh-page", get(|| async { "fresh page" }))
        .route_layer(sessionward::require_fresh(FRESH_AGE).redirect_to("/reauth-page"));
    Router::new()
        .route("/public", get(|| async { "public" }))
        .route("/login/{user}", post(login))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/logout", post(logout))
        .route("/rotate", post(rotate))
        .route("/refresh", post(refresh))
        .route("/reauth", post(reauth))
        .route("/sessions", get(list))
        .route("/sessions/{id}", delete(revoke))
        .route("/revoke-others", post(revoke_others))
        .route("/revoke-all/{user}", post(revoke_all))
        .route("/user-role/{user}", post(set_user_role))
        .route("/items/{item}", post(add_item))
        .route("/race-update/{item}", post(race_update))
        .route("/held/{gate}", get(held))
        .merge(guarded_admin)
        .merge(guarded_page)
        .merge(guarded_api)
        .merge(fresh_api)
        .merge(fresh_page)
        .with_state(AppState {
            barrier: Arc::new(tokio::sync::Barrier::new(2)),
        })
        .layer(layer)
}

type Answer = Result<Response, sessionward::Error>;

async fn login(
    sessions: Sessions,
    Path(user): Path<String>,
    axum::extract::Query(q): axum::extract::Query<RoleQuery>,
) -> Answer {
    let data = Data {
        role: q.role,
        items: vec![],
    };
    let info = match q.remember {
        None => sessions.login(user, &data).await?,
        Some(remember) => {
            let options = sessionward::LoginOptions::new().remember(remember);
            sessions.login_with(user, &data, options).await?
        }
    };
    Ok(Json(info).into_response())
}

async fn me(session: Session<Data>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "id": session.id(),
        "user_id": session.user_id(),
        "role": session.role,
        "items": session.items,
        "version": session.version(),
        "expires_at": session.expires_at().unix_timestamp(),
        "absolute_expires_at": session.absolute_expires_at().unix_timestamp(),
        "persistent": session.info().persistent,
    }))
}

async fn maybe(session: Option<Session<Data>>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
}

async fn logout(sessions: Sessions) -> Answer {
    Ok(Json(sessions.logout().await?).into_response())
}

async fn rotate(sessions: Sessions) -> Answer {
    sessions.rotate().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn refresh(sessions: Sessions) -> Answer {
    let info = sessions.refresh().await?;
    Ok(
        Json(serde_json::json!({ "expires_at": info.expires_at().unix_timestamp() }))
            .into_response(),
    )
}

/// How recent a sign-in or re-authentication `/fresh` and `/fresh-page` ask for.
pub const FRESH_AGE: time::Duration = time::Duration::minutes(5);

/// Re-authenticates the session (the test trusts the caller: no password).
async fn reauth(sessions: Sessions) -> Answer {
    Ok(Json(sessions.reauthenticated().await?).into_response())
}

async fn list(sessions: Sessions) -> Answer {
    Ok(Json(sessions.list().await?).into_response())
}

async fn revoke(sessions: Sessions, Path(id): Path<Uuid>) -> Answer {
    Ok(if sessions.revoke(id).await? {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    })
}

async fn revoke_others(sessions: Sessions) -> Answer {
    Ok(Json(sessions.revoke_others().await?).into_response())
}

async fn revoke_all(sessions: Sessions, Path(user): Path<String>) -> Answer {
    Ok(Json(sessions.revoke_all(&user).await?).into_response())
}

/// An admin tool (unguarded here): every session of `user` gets `role`, the rest of each
/// session's data stays.
async fn set_user_role(
    sessions: Sessions,
    Path(user): Path<String>,
    axum::extract::Query(q): axum::extract::Query<RoleQuery>,
) -> Answer {
    let patch = serde_json::json!({ "role": q.role });
    Ok(Json(sessions.update_user_sessions(&user, &patch).await?).into_response())
}

async fn add_item(sessions: Sessions, Path(item): Path<String>) -> Answer {
    let count = sessions
        .modify(|d: &mut Data| {
            d.items.push(item.clone());
            d.items.len()
        })
        .await?;
    Ok(Json(count).into_response())
}

/// Reads the session, waits until a second request has read it too, then writes with a plain
/// `update`: exactly one of the two must win and the other must get 409.
async fn race_update(
    State(state): State<AppState>,
    sessions: Sessions,
    session: Session<Data>,
    Path(item): Path<String>,
) -> Answer {
    state.barrier.wait().await;
    let mut data = session.into_data();
    data.items.push(item);
    sessions.update(&data).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A gate a handler waits at once it has read its session: it says it
/// [`entered`](Held::entered), then waits for [`release`](Held::release). Lets a test run
/// another request while one is inside its handler: `GET /held/{name}` of [`router`] waits at
/// the gate [`Held::open`] made; an app of a test's own hands its handlers one.
#[derive(Default)]
pub struct Held {
    pub entered: tokio::sync::Notify,
    pub release: tokio::sync::Notify,
}

/// The gates of `/held`, by name: one per test, so tests in one process never share one.
static GATES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Arc<Held>>>> =
    std::sync::LazyLock::new(Default::default);

impl Held {
    /// A new gate and the path of the `/held` request that waits at it.
    pub fn open() -> (Arc<Held>, String) {
        let name = Uuid::new_v4().simple().to_string();
        let gate = Arc::new(Held::default());
        GATES.lock().unwrap().insert(name.clone(), gate.clone());
        (gate, format!("/held/{name}"))
    }
}

async fn held(session: Session<Data>, Path(gate): Path<String>) -> String {
    let gate = GATES.lock().unwrap()[&gate].clone();
    gate.entered.notify_one();
    gate.release.notified().await;
    session.user_id().to_owned()
}

/// The whole test binary's `tracing` output, captured at TRACE and checked for secrets.
///
/// [`install`] sets a global subscriber (once) that formats every event, with all its fields
/// and those of its spans, into a line and hands the line to a global registry; `log` records
/// are forwarded too. Tests [`register`] every token they see (`Reply::token`, every cookie
/// sent through [`request`], bearer tokens they read from bodies); the test secrets in
/// [`STATIC_SECRETS`] are always registered. A line holding a registered secret, whichever of
/// the two came first, is a leak: [`assert_no_leaks`] (run when every `TestApp` is dropped, and
/// by the demo tests on the demo's own log) fails the test with the line.
///
/// Tokens are matched through their 43-character windows: a database token is 43 base64url
/// characters, and a JWT is registered by its signature segment (43 characters or more, unique
/// per token). Only lines holding a run of at least 43 base64url characters can contain one,
/// so only those are kept, indexed by window.
pub mod logs {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{LazyLock, Mutex, MutexGuard, Once};

    use tracing_subscriber::fmt::MakeWriter;

    /// Secrets of the tests that are not tokens: checked in every line by substring search.
    pub const STATIC_SECRETS: [&str; 3] = [
        // `support::JWT_SECRET`, as text.
        "sessionward-test-secret-0123456789abcdef",
        // The demo's seed passwords.
        "wonderland",
        "admin-password",
    ];

    /// Every token part that is registered is at least this long (see the module docs).
    const WINDOW: usize = 43;

    #[derive(Default)]
    struct Registry {
        /// Captured lines that hold a run of at least `WINDOW` token characters.
        lines: Vec<String>,
        /// Every `WINDOW`-long window of those runs -> the lines it occurs in.
        windows: HashMap<String, Vec<usize>>,
        /// First `WINDOW` characters of each registered secret -> the secrets.
        secrets: HashMap<String, Vec<String>>,
        /// Secrets registered by the capture's own self-test: a hit is recorded, not a leak.
        canaries: Vec<String>,
        canary_hits: Vec<String>,
        /// Every line found holding a secret.
        leaks: Vec<String>,
        /// How many lines were captured.
        captured: usize,
    }

    static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

    fn registry() -> MutexGuard<'static, Registry> {
        REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_token_char(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
    }

    /// The maximal runs of base64url characters in `text` that are at least `WINDOW` long.
    fn long_runs(text: &str) -> impl Iterator<Item = &str> {
        text.split(|c: char| !c.is_ascii() || !is_token_char(c as u8))
            .filter(|run| run.len() >= WINDOW)
    }

    /// The part of `token` that identifies it: the signature of a JWT, a database token whole.
    /// `None` for anything too short or not made of token characters (garbage test input).
    fn secret_part(token: &str) -> Option<&str> {
        let part = token.trim().rsplit('.').next()?;
        (part.len() >= WINDOW && part.bytes().all(is_token_char)).then_some(part)
    }

    /// Sets the global subscriber: TRACE, every event formatted with all fields, into the
    /// registry. Safe to call from every entry point; only the first call does anything.
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            use tracing_subscriber::util::SubscriberInitExt as _;
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(Capture)
                .finish()
                .try_init()
                .expect("no other global tracing subscriber in the test binary");
        });
    }

    struct Capture;

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Line;

        fn make_writer(&'a self) -> Line {
            Line(Vec::with_capacity(256))
        }
    }

    /// One formatted event, handed to the registry when the formatter is done with it.
    struct Line(Vec<u8>);

    impl Write for Line {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Line {
        fn drop(&mut self) {
            capture(&String::from_utf8_lossy(&self.0));
        }
    }

    /// The registered secrets (and `extra`) that occur in `line`, checked against the index.
    fn secrets_in(registry: &Registry, line: &str, extra: &[&str]) -> Vec<String> {
        let mut found: Vec<String> = STATIC_SECRETS
            .iter()
            .chain(extra)
            .filter(|s| line.contains(**s))
            .map(|s| (*s).to_owned())
            .collect();
        for run in long_runs(line) {
            for start in 0..=run.len() - WINDOW {
                let Some(secrets) = registry.secrets.get(&run[start..start + WINDOW]) else {
                    continue;
                };
                found.extend(
                    secrets
                        .iter()
                        .filter(|s| run[start..].starts_with(s.as_str()))
                        .cloned(),
                );
            }
        }
        found
    }

    fn capture(line: &str) {
        let mut registry = registry();
        registry.captured += 1;
        let found = secrets_in(&registry, line, &[]);
        record(&mut registry, line, found);
        if long_runs(line).next().is_none() {
            return;
        }
        let index = registry.lines.len();
        registry.lines.push(line.to_owned());
        for run in long_runs(line) {
            for start in 0..=run.len() - WINDOW {
                let lines = registry
                    .windows
                    .entry(run[start..start + WINDOW].to_owned())
                    .or_default();
                if lines.last() != Some(&index) {
                    lines.push(index);
                }
            }
        }
    }

    fn record(registry: &mut Registry, line: &str, found: Vec<String>) {
        for secret in found {
            if registry.canaries.contains(&secret) {
                registry.canary_hits.push(secret);
            } else {
                registry
                    .leaks
                    .push(format!("secret {:.12}... in log line: {line}", secret));
            }
        }
    }

    fn add(token: &str, canary: bool) {
        let Some(secret) = secret_part(token) else {
            return;
        };
        let mut registry = registry();
        let prefix = &secret[..WINDOW];
        if registry
            .secrets
            .get(prefix)
            .is_some_and(|s| s.iter().any(|s| s == secret))
        {
            return;
        }
        if canary {
            registry.canaries.push(secret.to_owned());
        }
        // Lines captured before the secret was known.
        let earlier: Vec<String> = registry
            .windows
            .get(prefix)
            .into_iter()
            .flatten()
            .map(|&i| &registry.lines[i])
            .filter(|line| line.contains(secret))
            .cloned()
            .collect();
        registry
            .secrets
            .entry(prefix.to_owned())
            .or_default()
            .push(secret.to_owned());
        for line in earlier {
            record(&mut registry, &line, vec![secret.to_owned()]);
        }
    }

    /// Registers a token (a database token or a JWT) the tests have seen. Garbage (too short,
    /// not token characters) is ignored.
    pub fn register(token: &str) {
        add(token, false);
    }

    /// Registers a token for the capture's self-test: finding it is recorded, not a leak.
    pub fn register_canary(token: &str) {
        add(token, true);
    }

    /// Whether a line holding the canary `token` was captured.
    pub fn canary_seen(token: &str) -> bool {
        secret_part(token).is_some_and(|s| registry().canary_hits.iter().any(|h| h == s))
    }

    /// How many lines were captured so far.
    pub fn captured() -> usize {
        registry().captured
    }

    /// Fails when any captured line held a registered secret.
    pub fn assert_no_leaks() {
        let registry = registry();
        assert!(
            registry.leaks.is_empty(),
            "{} log line(s) hold a token or secret:\n{}",
            registry.leaks.len(),
            registry.leaks.join("\n")
        );
    }

    /// The lines of `text` (another process's log) that hold a registered secret, one of
    /// [`STATIC_SECRETS`] or one of `extra`.
    pub fn leaks_in(text: &str, extra: &[&str]) -> Vec<String> {
        let registry = registry();
        text.lines()
            .filter(|line| !secrets_in(&registry, line, extra).is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A fresh session record of `user` created at `now`: a new token hash, 7 days to live, 30 at
/// most (for tests that drive a store directly).
pub fn session_record(user: &str, now: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        id: Uuid::new_v4(),
        token_hash: sessionward::SessionToken::generate().hash(),
        user_id: user.to_owned(),
        data: "[]".to_owned(),
        version: 0,
        created_at: now,
        authenticated_at: now,
        refreshed_at: now,
        expires_at: now + time::Duration::days(7),
        absolute_expires_at: now + time::Duration::days(30),
        user_agent: None,
        ip: None,
        persistent: true,
    }
}

/// What a start-up check said when `build` refused to build a layer (its panic message), or
/// `None` when it built one.
pub fn start_up_refusal<T>(build: impl FnOnce() -> T) -> Option<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
        .err()
        .map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
}

/// Sending a request to a router and reading its JSON answer.
pub mod json_reply {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use http_body_util::BodyExt as _;
    use serde_json::Value;
    use tower::ServiceExt as _;

    /// A response as the Auth.js and Better Auth tests read it: status, whether it sets a
    /// cookie, the JSON body.
    pub struct Reply {
        pub status: StatusCode,
        pub set_cookie: bool,
        pub body: Value,
    }

    pub async fn send(app: &Router, req: Request<Body>) -> Reply {
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let set_cookie = res.headers().contains_key(header::SET_COOKIE);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            set_cookie,
            body,
        }
    }
}

/// Route handlers that answer in JSON with what the `Sessions` handle and the extractors give,
/// for the tests of the strategies that read another application's sessions (Auth.js
/// database sessions, Better Auth).
#[allow(dead_code)]
pub mod session_routes {
    use axum::Json;
    use axum::extract::Path;
    use serde_json::{Value, json};
    use sessionward::{Session, Sessions};
    use time::OffsetDateTime;
    use uuid::Uuid;

    /// Milliseconds since the epoch, what JavaScript's times are made of.
    pub fn millis(t: OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub async fn data(session: Session<Value>) -> Json<Value> {
        Json(session.into_data())
    }

    pub async fn optional(session: Option<Session<Value>>) -> Json<Value> {
        Json(json!({ "session": session.is_some() }))
    }

    pub async fn list(sessions: Sessions) -> Result<Json<Value>, sessionward::Error> {
        let list = sessions.list().await?;
        Ok(Json(serde_json::to_value(list).unwrap()))
    }

    pub async fn logout(sessions: Sessions) -> Result<Json<Value>, sessionward::Error> {
        Ok(Json(json!({ "ended": sessions.logout().await? })))
    }

    pub async fn refresh(sessions: Sessions) -> Result<Json<Value>, sessionward::Error> {
        let info = sessions.refresh().await?;
        Ok(Json(json!({ "expires_at": millis(info.expires_at()) })))
    }

    pub async fn revoke(
        sessions: Sessions,
        Path(id): Path<Uuid>,
    ) -> Result<Json<Value>, sessionward::Error> {
        Ok(Json(json!({ "revoked": sessions.revoke(id).await? })))
    }

    pub async fn revoke_others(sessions: Sessions) -> Result<Json<Value>, sessionward::Error> {
        Ok(Json(json!({ "count": sessions.revoke_others().await? })))
    }

    pub async fn revoke_all(
        sessions: Sessions,
        Path(user): Path<String>,
    ) -> Result<Json<Value>, sessionward::Error> {
        Ok(Json(json!({ "count": sessions.revoke_all(&user).await? })))
    }

    /// Sign-in is the other application's: this must answer 501.
    pub async fn login(sessions: Sessions) -> Result<&'static str, sessionward::Error> {
        sessions.login("someone", &json!({})).await?;
        Ok("in")
    }
}
