//! [`SessionLayer`] and the [`SessionService`] it wraps around a router.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::SessionConfig;
use crate::database::{DATABASE_DEFAULTS, DatabaseStrategy};
use crate::origin::Inbound;
use crate::origin::site::is_loopback;
use crate::replaced_tokens::ReplacedTokens;
use crate::request::{RequestSession, Shared};
use crate::responder::{RequestFacts, json_error};
use crate::session_future::{SessionFuture, Settle};
use crate::store::SessionStore;
use crate::strategy::{RequestClient, Strategy};

/// The Tower layer that gives every request behind it a session.
///
/// It reads the session cookie (or `Authorization: Bearer`), leaves the lookup to the first
/// extractor or guard that asks (a request that never asks costs no store round-trip), refuses
/// state-changing requests that a browser sent from another origin (see [`crate::origin`]),
/// and writes at most one `Set-Cookie` on the way out (two while moving a browser off a
/// [`previous_cookie`](crate::SessionConfig::previous_cookie)).
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer};
///
/// async fn hello(session: Session<serde_json::Value>) -> String {
///     format!("hello {}", session.user_id())
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(hello))
///     .layer(SessionLayer::database(MemoryStore::new(), SessionConfig::default()));
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// Database sessions: an opaque token in the cookie, the session in `store`.
    ///
    /// # Panics
    ///
    /// When `config` contradicts itself (for example a `__Host-` cookie with a domain), so a
    /// misconfiguration stops the application at start-up instead of failing in browsers; and
    /// when it sets [`max_sessions_per_user`](SessionConfig::max_sessions_per_user) on a store
    /// that does not enforce limits (a custom store without
    /// [`create_within_limit`](SessionStore::create_within_limit)).
    pub fn database(store: impl SessionStore, config: SessionConfig) -> Self {
        let lifetimes = config.validate(DATABASE_DEFAULTS);
        let limit = config.session_limit();
        assert!(
            limit.is_none() || store.enforces_session_limits(),
            "sessionward: max_sessions_per_user is set, but this SessionStore does not enforce \
             session limits (it does not implement create_within_limit)"
        );
        // Every store call timed (feature `metrics`).
        #[cfg(feature = "metrics")]
        let store = crate::store::Timed(store);
        let strategy = DatabaseStrategy::new(
            store,
            lifetimes,
            config.store_timeout,
            config.cache,
            config.change_notices,
        )
        .with_session_limit(limit);
        Self::with_strategy(config, Box::new(strategy))
    }

    /// JWT sessions: a signed token in the cookie (or `Authorization: Bearer`), the revocation
    /// list in `revocations`. See [`jwt`](crate::jwt) for the claims and the revocation bound.
    ///
    /// ```
    /// use sessionward::jwt::{JwtConfig, JwtKey, JwtKeys};
    /// use sessionward::{MemoryStore, SessionConfig, SessionLayer};
    ///
    /// let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "x".repeat(32));
    /// let keys = JwtKeys::new(JwtKey::hs256("main", secret).expect("a 32-byte secret")).unwrap();
    /// let layer = SessionLayer::jwt(
    ///     JwtConfig::new(keys, "my-app", "my-app"),
    ///     MemoryStore::new(),
    ///     SessionConfig::default(),
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// When `config` contradicts itself, as for [`database`](Self::database), when `jwt`'s
    /// [`leeway`](crate::jwt::JwtConfig::leeway) is not whole seconds from 0 to 5 minutes, or
    /// when `config` sets
    /// [`max_sessions_per_user`](SessionConfig::max_sessions_per_user): JWT sessions keep no
    /// list of a user's sessions, so the limit is not offered.
    #[cfg(feature = "jwt")]
    pub fn jwt(
        jwt: crate::jwt::JwtConfig,
        revocations: impl crate::jwt::RevocationStore,
        config: SessionConfig,
    ) -> Self {
        use crate::jwt::{JWT_DEFAULTS, JwtStrategy};
        config.refuse_session_limit("JWT sessions");
        let lifetimes = config.validate(JWT_DEFAULTS);
        #[cfg(feature = "metrics")]
        let revocations = crate::store::Timed(revocations);
        let strategy = JwtStrategy::new(
            jwt,
            revocations,
            lifetimes,
            config.store_timeout,
            config.clock.clone(),
            config.change_notices,
        );
        Self::with_strategy(config, Box::new(strategy))
    }

    /// Sessions made by a Next.js app with Auth.js v5 or NextAuth.js v4 (feature `authjs`):
    /// the encrypted session cookie (any of the four names, chunked or not) or a bearer token
    /// is decrypted with the app's `AUTH_SECRET`. Read-only: Next.js signs users in and out.
    /// See [`authjs`](crate::authjs) for the formats, the claims and the checks.
    ///
    /// ```
    /// use sessionward::authjs::AuthJsConfig;
    /// use sessionward::{SessionConfig, SessionLayer};
    ///
    /// let secret = std::env::var("AUTH_SECRET").unwrap_or_else(|_| "x".repeat(32));
    /// let layer = SessionLayer::authjs(AuthJsConfig::new(vec![secret]), SessionConfig::default());
    /// ```
    ///
    /// # Panics
    ///
    /// Without a secret, with an empty secret or an invalid cookie name, or when `config`
    /// contradicts itself, as for [`database`](Self::database).
    #[cfg(feature = "authjs")]
    pub fn authjs(authjs: crate::authjs::AuthJsConfig, config: SessionConfig) -> Self {
        config.refuse_session_limit("Auth.js sessions");
        config.cookie.validate();
        let strategy = crate::authjs::AuthJsStrategy::new(authjs);
        Self::with_strategy(config, Box::new(strategy))
    }

    /// Database sessions made by a Next.js app with an Auth.js adapter on PostgreSQL
    /// (features `authjs` and `postgres`): the session cookie (or a bearer token) holds the
    /// raw session token, looked up in the adapter's own tables through `pool`. Extends
    /// sessions by Auth.js's rule; `logout` and `revoke*` delete rows, other changes are
    /// Auth.js's. See [`authjs`](crate::authjs#database-sessions) for what is read and written,
    /// and why this is weaker than [`database`](Self::database)'s hashed tokens.
    ///
    /// ```no_run
    /// use sessionward::authjs::AuthJsDatabaseConfig;
    /// use sessionward::{SessionConfig, SessionLayer};
    ///
    /// # async fn example() -> Result<(), sqlx::Error> {
    /// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
    /// let layer = SessionLayer::authjs_database(
    ///     pool,
    ///     AuthJsDatabaseConfig::pg_adapter(),
    ///     SessionConfig::default(),
    /// );
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// With a table name that is not a plain identifier, an invalid cookie name, an
    /// `absolute_timeout` or `idle_timeout` (Auth.js rows keep no creation or activity time to
    /// enforce them with), or when `config` contradicts itself, as for
    /// [`database`](Self::database).
    #[cfg(all(feature = "authjs", feature = "postgres"))]
    pub fn authjs_database(
        pool: sqlx::PgPool,
        authjs: crate::authjs::AuthJsDatabaseConfig,
        config: SessionConfig,
    ) -> Self {
        config.refuse_session_limit("Auth.js sessions");
        let strategy = crate::authjs::AuthJsDatabaseStrategy::new(pool, authjs, &config);
        Self::with_strategy(config, Box::new(strategy))
    }

    /// Sessions made by an app with Better Auth (feature `betterauth`, with `postgres`, `mysql`
    /// or `sqlite` for the app's database): the signed session cookie (or a bearer token) is
    /// checked with the app's secret, then looked up in Better Auth's own `session` and `user`
    /// tables through `pool` (or read from Better Auth's cookie cache, when configured).
    /// Extends sessions by Better Auth's rule; `logout` and `revoke*` delete rows, other
    /// changes are Better Auth's. See [`betterauth`](crate::betterauth) for what is read and
    /// written.
    ///
    /// ```no_run
    /// use sessionward::betterauth::BetterAuthConfig;
    /// use sessionward::{SessionConfig, SessionLayer};
    ///
    /// # async fn example() -> Result<(), sqlx::Error> {
    /// let pool = sqlx::SqlitePool::connect("sqlite://better-auth.db").await?;
    /// let layer = SessionLayer::betterauth(
    ///     pool,
    ///     BetterAuthConfig::from_env().expect("BETTER_AUTH_SECRET"),
    ///     SessionConfig::default(),
    /// );
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// With an empty secret, a table or column name that is not a plain identifier, a cookie
    /// prefix that makes an invalid cookie name, an `absolute_timeout` or `idle_timeout`
    /// (Better Auth has neither), a
    /// [`max_sessions_per_user`](SessionConfig::max_sessions_per_user) (sign-ins are Better
    /// Auth's), or when `config` contradicts itself, as for [`database`](Self::database).
    #[cfg(feature = "betterauth")]
    pub fn betterauth(
        pool: impl Into<crate::betterauth::BetterAuthPool>,
        better_auth: crate::betterauth::BetterAuthConfig,
        config: SessionConfig,
    ) -> Self {
        config.refuse_session_limit("Better Auth sessions");
        let strategy =
            crate::betterauth::BetterAuthStrategy::new(pool.into(), better_auth, &config);
        Self::with_strategy(config, Box::new(strategy))
    }

    pub(crate) fn with_strategy(config: SessionConfig, strategy: Box<dyn Strategy>) -> Self {
        let config = config.settle();
        Self {
            shared: Arc::new(Shared {
                config,
                strategy,
                warned_insecure: AtomicBool::new(false),
                replaced_tokens: ReplacedTokens::new(),
            }),
        }
    }
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around the service it serves (`Router::layer` does the
/// wrapping; name it when you wrap a service yourself, through tower's [`Layer`]).
///
/// ```
/// use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
/// use sessionward::{MemoryStore, Session, SessionConfig, SessionLayer, SessionService};
/// use tower::{Layer, ServiceExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let routes: Router = Router::new()
///     .route("/me", get(|s: Session<serde_json::Value>| async move { s.user_id().to_owned() }));
/// let layer = SessionLayer::database(MemoryStore::new(), SessionConfig::default());
/// let service: SessionService<Router> = layer.layer(routes);
///
/// let response = service.oneshot(Request::get("/me").body(Body::empty())?).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED); // no session cookie
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    /// One shared count, the only one a clone of this service (one per request, by axum's
    /// router) changes.
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = SessionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let config = &self.shared.config;
        let credential = self.shared.strategy.credential(req.headers(), config);
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let entry = config.proxies.entry(req.headers(), peer);
        let inbound = Inbound {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            carries_cookie: credential.carries_cookie(),
            entry: &entry,
        };
        if config.origin_check.refuses(&inbound) {
            let refused = json_error(StatusCode::FORBIDDEN, "cross-origin request refused");
            return SessionFuture::answered(refused);
        }
        let warn_insecure = config.cookie.secure
            && !self.shared.warned_insecure.load(Ordering::Relaxed)
            && is_plain_http_to_another_machine(&inbound);
        let client = RequestClient {
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            // Behind a trusted proxy, the proxy's address is not the client's.
            ip: if entry.via_proxy { entry.client } else { peer },
        };
        // Whose session this is, once known: recorded on this span (see `RequestSession`).
        let span = tracing::info_span!(
            "session",
            user_id = tracing::field::Empty,
            session_id = tracing::field::Empty
        );
        let session = Arc::new(RequestSession::new(
            self.shared.clone(),
            credential,
            client,
            span.clone(),
        ));
        req.extensions_mut().insert(session.clone());
        let responder = config.rejection_responder.clone().map(|responder| {
            // Under `Router::nest` axum keeps the path the client asked for in `OriginalUri`.
            let uri = req
                .extensions()
                .get::<OriginalUri>()
                .map_or(req.uri(), |original| &original.0);
            (responder, RequestFacts::read(req.headers(), uri.path()))
        });

        // Everything the inner service needs is in `req` now, so it is called here, on the
        // service that was polled ready: no clone of it per request.
        let answer = self.inner.call(req);
        SessionFuture::serving(
            answer,
            Settle {
                session,
                responder,
                warn_insecure,
                // A span no subscriber wants is not entered and left on every poll.
                span: (!span.is_disabled()).then_some(span),
            },
        )
    }
}

/// Whether the request is known to have come over plain http to a host other than this
/// machine, where browsers drop `Secure` cookies.
fn is_plain_http_to_another_machine(req: &Inbound<'_>) -> bool {
    req.scheme().is_some_and(|s| s.eq_ignore_ascii_case("http"))
        && req.host().is_some_and(|host| !is_loopback(host))
}
