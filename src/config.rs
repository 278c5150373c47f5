//! [`SessionConfig`]: the cookie, the lifetimes, and the request checks, with secure defaults.

use std::borrow::Cow;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::cache::SessionCache;
use crate::clock::Clock;
use crate::cookie::{CookieConfig, PreviousCookie, SameSite};
use crate::limit::{SessionLimit, SessionLimitPolicy};
use crate::origin::OriginCheck;
use crate::origin::forwarded::{IpNet, ProxyHeaders, TrustedProxies};
use crate::origin::site::SiteOrigin;

/// How sessions behave: cookie attributes, lifetimes, store timeout, cross-origin checks.
///
/// Every setting has a secure default, so `SessionConfig::default()` is ready for production:
/// cookie `session-id` (HttpOnly, Secure, SameSite=Lax, Path=/), sessions extended at most once a
/// day, and a store that does not answer within 3 seconds fails the request with 503. Lifetimes
/// default per strategy: database sessions live 7 days after their last extension and never
/// past 30 days; JWT sessions 30 days and never past 90 days.
///
/// ```
/// use sessionward::{SameSite, SessionConfig};
/// use time::Duration;
///
/// let config = SessionConfig::default()
///     .cookie_name("__Host-session")
///     .same_site(SameSite::Strict)
///     .max_age(Duration::days(14))
///     .update_age(Duration::hours(6))
///     .absolute_timeout(Duration::days(60));
/// ```
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub(crate) cookie: CookieConfig,
    /// The cookie an earlier configuration set, accepted while users move to `cookie`.
    pub(crate) previous_cookie: Option<Arc<CookieConfig>>,
    previous_cookie_setting: Option<PreviousCookie>,
    pub(crate) lifetimes: ConfiguredLifetimes,
    pub(crate) store_timeout: std::time::Duration,
    pub(crate) origin_check: OriginCheck,
    pub(crate) proxies: TrustedProxies,
    pub(crate) accept_bearer: bool,
    pub(crate) clock: Clock,
    pub(crate) cache: Option<SessionCache>,
    pub(crate) change_notices: bool,
    pub(crate) rejection_responder: Option<crate::responder::RejectionResponder>,
    pub(crate) events: Option<crate::event::SessionEvents>,
    max_sessions_per_user: Option<u32>,
    session_limit_policy: SessionLimitPolicy,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie: CookieConfig::default(),
            previous_cookie: None,
            previous_cookie_setting: None,
            lifetimes: ConfiguredLifetimes {
                max_age: None,
                idle_timeout: None,
                absolute_timeout: None,
                update_age: None,
                browser_session: None,
            },
            store_timeout: std::time::Duration::from_secs(3),
            origin_check: OriginCheck::default(),
            proxies: TrustedProxies::default(),
            accept_bearer: true,
            clock: Clock::system(),
            cache: None,
            change_notices: true,
            rejection_responder: None,
            events: None,
            max_sessions_per_user: None,
            session_limit_policy: SessionLimitPolicy::default(),
        }
    }
}

impl SessionConfig {
    /// The session cookie's name (default `session-id`). A name starting with `__Host-` makes
    /// browsers enforce Secure, Path=/ and no Domain; the layer checks that the rest of the
    /// configuration agrees when it is built.
    ///
    /// **In production, use `__Host-session-id`**: a sibling subdomain or a plain-http page of
    /// the same site cannot then set a cookie of that name next to yours (cookie tossing).
    ///
    /// ⚠️ Two cookies of this name in one request are no session, and neither is cleared (the
    /// layer cannot tell them apart, and clearing its own would make the other one, perhaps
    /// planted, the next request's session). Changing [`cookie_domain`](Self::cookie_domain) or
    /// [`cookie_path`](Self::cookie_path) while keeping the name leaves browsers holding the
    /// old cookie next to the new one until it expires, and those users cannot stay signed in
    /// meanwhile: change the name together with them (users then sign in once more).
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().cookie_name("__Host-session-id");
    /// ```
    pub fn cookie_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.cookie.name = name.into();
        self
    }

    /// The cookie's `Domain` attribute (default none: the cookie goes only to the exact host
    /// that set it). A host name: letters, digits, `-`, `_` and `.` (an international name in
    /// its `xn--` form); anything else is refused when the layer is built.
    ///
    /// ⚠️ A domain shares the session with every subdomain; leave it unset unless you need that.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().cookie_domain("example.com");
    /// ```
    pub fn cookie_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// The cookie's `Path` attribute (default `/`): it must start with `/` and hold only
    /// printable ASCII without `;`, or the layer refuses it when it is built.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().cookie_path("/app");
    /// ```
    pub fn cookie_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// Whether the cookie carries `Secure` (default `true`). Browsers treat `localhost` and
    /// `127.0.0.1` as secure, so development over plain http works with the default.
    ///
    /// ⚠️ Turning this off lets the cookie travel over plain http, where anyone on the path can
    /// read it. Only for plain-http hosts other than localhost.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().secure(false);
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// The cookie's `SameSite` attribute (default `Lax`).
    ///
    /// ```
    /// use sessionward::{SameSite, SessionConfig};
    /// let config = SessionConfig::default().same_site(SameSite::Strict);
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// How long a session lives after its last extension (default 7 days for database
    /// sessions, 30 days for JWT sessions). At most 100 years.
    ///
    /// A `max_age` of a day or less without an [`update_age`](Self::update_age) of its own
    /// sets the default `update_age` to a tenth of it, so sessions keep sliding.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().max_age(time::Duration::days(1));
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.lifetimes.max_age = Some(max_age);
        self
    }

    /// An inactivity limit tighter than [`max_age`](Self::max_age) (default none). With an
    /// idle timeout `I`, a session expires `I` after its last recorded activity, and activity is
    /// recorded at most every `min(update_age, I / 10)`: a session idle for `I` is always
    /// rejected, one idle for less than `0.9 × I` never is.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .idle_timeout(Some(time::Duration::minutes(30)));
    /// ```
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.lifetimes.idle_timeout = idle_timeout;
        self
    }

    /// The hard limit counted from login (default 30 days for database sessions, 90 days for
    /// JWT sessions): no refresh extends a session past it, so a stolen session dies at the
    /// latest this long after its login. At most 100 years.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .absolute_timeout(time::Duration::hours(12));
    /// ```
    pub fn absolute_timeout(mut self, absolute_timeout: Duration) -> Self {
        self.lifetimes.absolute_timeout = Some(absolute_timeout);
        self
    }

    /// How long after its last extension a session is extended again by a request (default 1
    /// day, Auth.js's `updateAge`; a tenth of [`max_age`](Self::max_age) when that is a day or
    /// less). Requests in between write nothing to the store and send no cookie.
    ///
    /// It must be shorter than `max_age`: a session that expires before it is due for an
    /// extension never slides, and an active user would be logged out `max_age` after login.
    /// Such a configuration is refused when the layer is built rather than clamped, because
    /// `update_age` also sets how often the store is written: a silent clamp would change
    /// that cost behind the application's back, while the start-up message says which of the
    /// two settings to change.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().update_age(time::Duration::hours(1));
    /// ```
    pub fn update_age(mut self, update_age: Duration) -> Self {
        self.lifetimes.update_age = Some(update_age);
        self
    }

    /// How long a session that signed in without "remember me" lives on the server after its
    /// last extension (default 1 day, never longer than [`max_age`](Self::max_age)). Such a
    /// session ([`LoginOptions::remember`](crate::LoginOptions::remember)`(false)`) gets a
    /// browser-session cookie, without `Max-Age` or `Expires`, which the browser drops when it
    /// closes; this lifetime bounds it on the server too, for a browser that restores its
    /// cookies on restart or is never closed. It slides like `max_age` does: a request extends
    /// the session once `min(update_age, lifetime / 10)` has passed since the last extension,
    /// and never past [`absolute_timeout`](Self::absolute_timeout). At most 100 years.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .browser_session_lifetime(time::Duration::hours(8));
    /// ```
    pub fn browser_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.browser_session = Some(lifetime);
        self
    }

    /// How long one store call may take before the request fails with 503 (default 3 s).
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .store_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn store_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// Also accepts requests from another origin (`scheme://host[:port]`, e.g.
    /// `https://app.example.com`), for a front end of yours served from there. Default ports are
    /// normalized (`https://app.example.com:443` is `https://app.example.com`). Such an origin
    /// passes even where the browser says `Sec-Fetch-Site: cross-site` or `same-site`.
    ///
    /// ⚠️ Any page of a trusted origin can act with your users' sessions: trust only origins you
    /// control entirely.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .trusted_origin("https://app.example.com");
    /// ```
    ///
    /// # Panics
    ///
    /// When `origin` is not `scheme://host[:port]` (a path, user info or a missing scheme), so
    /// a typo stops the application at start-up instead of refusing every request from there.
    pub fn trusted_origin(mut self, origin: impl AsRef<str>) -> Self {
        let origin = parse_origin_setting("trusted_origin", origin.as_ref());
        Arc::make_mut(&mut self.origin_check.trusted).push(origin);
        self
    }

    /// The origin users reach the app at (`scheme://host[:port]`, e.g.
    /// `https://app.example.com`); call it again for each further origin. Once one is stated,
    /// a browser request without `Sec-Fetch-Site` is same-origin when its `Origin` is one of
    /// them, whatever `Host` the request arrived with: the setting for an app behind a reverse
    /// proxy that rewrites `Host` (nginx's `proxy_pass` does by default). Default ports are
    /// normalized and the scheme is compared. Without it, the request's own origin is its
    /// `Host` (and its scheme when known; see [`trust_proxies`](Self::trust_proxies)).
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .public_origin("https://app.example.com")
    ///     .public_origin("https://www.example.com:443");
    /// ```
    ///
    /// # Panics
    ///
    /// When `origin` is not `scheme://host[:port]` (a path, user info or a missing scheme).
    pub fn public_origin(mut self, origin: impl AsRef<str>) -> Self {
        let origin = parse_origin_setting("public_origin", origin.as_ref());
        Arc::make_mut(&mut self.origin_check.public).push(origin);
        self
    }

    /// Exempts a path from the cross-origin check, for webhooks and other endpoints that
    /// other sites' servers or pages call and that authenticate requests their own way. A
    /// pattern ending in `/` exempts every path below it (`/webhooks/` exempts
    /// `/webhooks/stripe`, not `/webhooks`); any other pattern exactly that path. The path is
    /// the one the layer sees (inside a `nest`, without the nest's prefix).
    ///
    /// ⚠️ Browsers can forge requests to an exempt path from any site, with the user's cookie:
    /// its handler must not act on the session.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default()
    ///     .allow_cross_origin_path("/webhooks/")
    ///     .allow_cross_origin_path("/payments/notify");
    /// ```
    ///
    /// # Panics
    ///
    /// When `pattern` does not start with `/`.
    pub fn allow_cross_origin_path(mut self, pattern: impl Into<String>) -> Self {
        let pattern = pattern.into();
        assert!(
            pattern.starts_with('/'),
            "sessionward: allow_cross_origin_path({pattern:?}) must start with '/'"
        );
        Arc::make_mut(&mut self.origin_check.exempt_paths).push(pattern);
        self
    }

    /// Turns off the cross-origin check (on by default). The check refuses with 403 a POST,
    /// PUT, PATCH or DELETE (and a WebSocket handshake that carries the session cookie) that a
    /// browser sent from another origin, with or without the session cookie (a forged login
    /// is an attack too). See [`crate::origin`]'s rules for what counts as another origin.
    ///
    /// ⚠️ Without it, only `SameSite` stands between your users and cross-site request forgery.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().allow_cross_origin_requests();
    /// ```
    pub fn allow_cross_origin_requests(mut self) -> Self {
        self.origin_check.enabled = false;
        self
    }

    /// The reverse proxies (addresses or blocks: `127.0.0.1`, `10.0.0.0/8`, `fd00::/8`) whose
    /// forwarding headers are believed. When a request's direct peer (axum's `ConnectInfo`) is
    /// one of them, the client address recorded with sessions, and the host and scheme the
    /// cross-origin check compares, come from the headers named by
    /// [`proxy_headers`](Self::proxy_headers) (default `X-Forwarded-For`, `-Host`, `-Proto`):
    /// the client is the rightmost address that is not a trusted proxy. From any other peer,
    /// and without `ConnectInfo`, those headers are ignored.
    ///
    /// ⚠️ The proxies must overwrite `X-Forwarded-Host` and `X-Forwarded-Proto` (nginx:
    /// `proxy_set_header`), or a client can state them through the proxy.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().trust_proxies(["127.0.0.1", "10.0.0.0/8"]);
    /// ```
    ///
    /// # Panics
    ///
    /// When an entry is neither an IP address nor `address/prefix`.
    pub fn trust_proxies<I>(mut self, proxies: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for proxy in proxies {
            let proxy = proxy.as_ref();
            let net = IpNet::parse(proxy).unwrap_or_else(|| {
                panic!("sessionward: trust_proxies: {proxy:?} is not an IP address or block")
            });
            self.proxies.nets.push(net);
        }
        self
    }

    /// Which forwarding headers [trusted proxies](Self::trust_proxies) send (default
    /// [`ProxyHeaders::XForwarded`]). Only that family is read.
    ///
    /// ```
    /// use sessionward::SessionConfig;
    /// use sessionward::origin::ProxyHeaders;
    /// let config = SessionConfig::default()
    ///     .trust_proxies(["10.0.0.0/8"])
    ///     .proxy_headers(ProxyHeaders::Forwarded);
    /// ```
    pub fn proxy_headers(mut self, headers: ProxyHeaders) -> Self {
        self.proxies.headers = headers;
        self
    }

    /// Whether `Authorization: Bearer <token>` is accepted when no session cookie is present
    /// (default `true`), for API clients.
    ///
    /// ```
    /// let config = sessionward::SessionConfig::default().accept_bearer(false);
    /// ```
    pub fn accept_bearer(mut self, accept: bool) -> Self {
        self.accept_bearer = accept;
        self
    }

    /// The clock every expiry decision uses (default [`Clock::system`]). Tests inject a
    /// [`Clock::manual`].
    ///
    /// ```
    /// use sessionward::{Clock, SessionConfig};
    /// let (clock, _control) = Clock::manual(time::OffsetDateTime::now_utc());
    /// let config = SessionConfig::default().clock(clock);
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps recently read database sessions in memory (default: no cache, every request that
    /// needs its session reads the store). See [`SessionCache`] for the staleness bound this
    /// buys: changes made by this process apply at once, those made by other instances within
    /// the cache's `ttl`. Ignored by the JWT strategy.
    ///
    /// ```
    /// use sessionward::{SessionCache, SessionConfig};
    /// let config = SessionConfig::default()
    ///     .cache(SessionCache::new(std::time::Duration::from_secs(1)));
    /// ```
    pub fn cache(mut self, cache: SessionCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Whether instances tell each other about ended and changed sessions through the store's
    /// [`ChangeFeed`](crate::ChangeFeed) (default: yes, when the store has one). It matters
    /// only where a process keeps copies: with the [cache](Self::cache), and for the JWT
    /// revocation list. With notices, another instance's logout, revocation or data change
    /// reaches this instance's copies within milliseconds; without (or while the feed is
    /// down), within the cache's `ttl` or the JWT `revocation_refresh`.
    ///
    /// ```
    /// // Copies follow other instances by polling only (and no feed connection is held).
    /// let config = sessionward::SessionConfig::default().change_notices(false);
    /// ```
    pub fn change_notices(mut self, enabled: bool) -> Self {
        self.change_notices = enabled;
        self
    }

    /// One place that decides what a refusal looks like: `respond` builds the answer to every
    /// 401 (no valid session), 403 (a guard's check failed) and 503 (store unavailable) that
    /// the extractors, the guards and handlers' [`Error`](crate::Error)s give behind this
    /// layer (default: the status with `{"error": "..."}`). A guard's own
    /// [`redirect_to`](crate::Guard::redirect_to) and
    /// [`forbidden_page`](crate::Guard::forbidden_page) still win on its routes; the layer's
    /// cross-origin 403 is not a session refusal and keeps its JSON.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use axum::response::IntoResponse;
    ///
    /// let config = sessionward::SessionConfig::default().rejection_responder(|refusal| {
    ///     match refusal.status() {
    ///         // Browsers get a page, scripts the default JSON.
    ///         StatusCode::UNAUTHORIZED => refusal.html_or_json("<h1>Please sign in</h1>"),
    ///         StatusCode::SERVICE_UNAVAILABLE => {
    ///             (refusal.status(), "try again in a minute").into_response()
    ///         }
    ///         _ => refusal.default_response(),
    ///     }
    /// });
    /// ```
    pub fn rejection_responder<F>(mut self, respond: F) -> Self
    where
        F: Fn(&crate::RejectionContext<'_>) -> axum::response::Response + Send + Sync + 'static,
    {
        self.rejection_responder = Some(crate::responder::RejectionResponder::new(respond));
        self
    }

    /// Sends every session lifecycle event (created, refreshed, rotated, data updated,
    /// re-authenticated, logged out, revoked, revoked others, revoked all, rejected) to
    /// `events`' hook, without ever delaying a request: see [`SessionEvents`](crate::SessionEvents)
    /// for the order and when delivery can be lost. Default: none.
    ///
    /// ```
    /// use sessionward::{SessionConfig, SessionEvents};
    /// let config = SessionConfig::default().events(SessionEvents::new(|event| async move {
    ///     println!("{} {:?} {:?}", event.kind.name(), event.user_id, event.session_id);
    /// }));
    /// ```
    pub fn events(mut self, events: crate::event::SessionEvents) -> Self {
        self.events = Some(events);
        self
    }

    /// The most sessions one user may hold at once, on database sessions (default: no limit).
    /// A login beyond it ends the user's least recently used sessions (those whose last
    /// extension is the oldest; each emits a `revoked` [event](Self::events)), or, with
    /// [`session_limit_policy`](Self::session_limit_policy)`(`[`SessionLimitPolicy::RefuseNewLogin`]`)`,
    /// fails with [`Error::SessionLimitReached`](crate::Error::SessionLimitReached) (409). The
    /// store counts and ends sessions in one atomic step per user, so concurrent logins never
    /// leave more than `max` live sessions.
    ///
    /// ⚠️ **Not offered for JWT sessions**: a stateless token leaves no list of a user's
    /// sessions to count, so [`SessionLayer::jwt`](crate::SessionLayer::jwt) refuses this
    /// setting at start-up (as do the Auth.js layers, which never sign anyone in). A custom
    /// [`SessionStore`](crate::SessionStore) must implement
    /// [`create_within_limit`](crate::SessionStore::create_within_limit), or
    /// [`SessionLayer::database`](crate::SessionLayer::database) refuses it at start-up too.
    ///
    /// ```
    /// use sessionward::{SessionConfig, SessionLimitPolicy};
    ///
    /// // Five devices; the sixth sign-in ends the least recently used one.
    /// let config = SessionConfig::default().max_sessions_per_user(5);
    /// // Or refuse the sixth.
    /// let strict = SessionConfig::default()
    ///     .max_sessions_per_user(5)
    ///     .session_limit_policy(SessionLimitPolicy::RefuseNewLogin);
    /// ```
    ///
    /// # Panics
    ///
    /// When `max` is 0 (no user could sign in).
    pub fn max_sessions_per_user(mut self, max: u32) -> Self {
        assert!(
            max > 0,
            "sessionward: max_sessions_per_user must be at least 1 (0 would let nobody sign in)"
        );
        self.max_sessions_per_user = Some(max);
        self
    }

    /// What a login does at [`max_sessions_per_user`](Self::max_sessions_per_user) (default
    /// [`SessionLimitPolicy::EndLeastRecentlyUsed`]). Without a limit it has no effect.
    ///
    /// ```
    /// use sessionward::{SessionConfig, SessionLimitPolicy};
    /// let config = SessionConfig::default()
    ///     .max_sessions_per_user(3)
    ///     .session_limit_policy(SessionLimitPolicy::RefuseNewLogin);
    /// ```
    pub fn session_limit_policy(mut self, policy: SessionLimitPolicy) -> Self {
        self.session_limit_policy = policy;
        self
    }

    /// The configured device limit, if any.
    pub(crate) fn session_limit(&self) -> Option<SessionLimit> {
        self.max_sessions_per_user.map(|max_sessions| SessionLimit {
            max_sessions,
            policy: self.session_limit_policy,
        })
    }

    /// # Panics
    ///
    /// When a device limit is configured: `strategy` keeps no list of a user's sessions.
    #[cfg_attr(
        not(any(feature = "jwt", feature = "authjs", feature = "betterauth")),
        allow(dead_code)
    )]
    pub(crate) fn refuse_session_limit(&self, strategy: &str) {
        assert!(
            self.max_sessions_per_user.is_none(),
            "sessionward: max_sessions_per_user is not offered for {strategy}: they keep no \
             list of a user's sessions to count; use database sessions for a device limit"
        );
    }

    /// Accepts the session cookie as an earlier configuration set it, for a migration period:
    /// to change the cookie's name, path or domain (say, to `__Host-session-id`) without
    /// signing anybody out.
    ///
    /// A request that carries no cookie of the current [`cookie_name`](Self::cookie_name) but
    /// the previous one is served with that cookie's token. Its response moves the browser to
    /// the current cookie: it sets the current cookie (same token, same expiry) and removes
    /// the previous one with the previous `Path` and `Domain`, which only a `Set-Cookie` with
    /// the same attributes can do. That takes two `Set-Cookie` headers, on that one response;
    /// resolving the session for it costs one store lookup even when the handler does not ask.
    /// A previous cookie that is no session is removed. Once the previous cookie's lifetime has
    /// passed since the change, drop this setting.
    ///
    /// The previous name must differ from the current one: two cookies of one name in a
    /// request are ambiguous (cookie tossing), and the layer treats them as no session.
    ///
    /// While this is set, the previous cookie is exactly as exposed to tossing as it was
    /// before the change: whoever could plant a `session-id` cookie for the site (a sibling
    /// subdomain, for a cookie without `__Host-`) can still have a browser with no current
    /// cookie served, and moved to the current cookie, with a session of the planter's
    /// (login CSRF). The migration keeps that exposure for its period, no longer: drop the
    /// setting when the period is over.
    ///
    /// ```
    /// use sessionward::{PreviousCookie, SessionConfig};
    ///
    /// // Was `session-id` on `.example.com`; now host-only, with the `__Host-` prefix.
    /// let config = SessionConfig::default()
    ///     .cookie_name("__Host-session-id")
    ///     .previous_cookie(PreviousCookie::named("session-id").domain("example.com"));
    /// ```
    pub fn previous_cookie(mut self, previous: PreviousCookie) -> Self {
        self.previous_cookie_setting = Some(previous);
        self
    }

    /// Checks that the settings agree with each other.
    ///
    /// # Panics
    ///
    /// On a contradiction that would make sessions silently fail in browsers or never expire,
    /// on a lifetime too long for date arithmetic (over [`MAX_LIFETIME`]), or on cookie
    /// attributes that cannot be written into a `Set-Cookie` header, with a message that says
    /// which setting to change.
    pub(crate) fn validate(&self, defaults: DefaultLifetimes) -> Lifetimes {
        self.lifetimes.check_bounds();
        let l = self.lifetimes.resolve(defaults);
        assert!(
            l.max_age > Duration::ZERO && l.absolute_timeout > Duration::ZERO,
            "sessionward: max_age and absolute_timeout must be positive"
        );
        assert!(
            l.browser_session > Duration::ZERO,
            "sessionward: browser_session_lifetime must be positive"
        );
        assert!(
            l.update_age >= Duration::ZERO,
            "sessionward: update_age must not be negative"
        );
        if let Some(idle) = l.idle_timeout {
            assert!(
                idle > Duration::ZERO,
                "sessionward: idle_timeout must be positive"
            );
        }
        assert!(
            l.refresh_interval() < l.window(),
            "sessionward: update_age ({}) must be shorter than max_age ({}): a session would \
             expire before any request extends it, and an active user would be logged out \
             max_age after login",
            l.update_age,
            l.max_age
        );
        self.cookie.validate();
        l
    }

    /// Settles what depends on several settings once they are all known: the previous
    /// cookie's attributes follow the current cookie's (`Secure`, `SameSite`).
    ///
    /// # Panics
    ///
    /// When the previous cookie has the current cookie's name, or attributes that cannot be
    /// written into a `Set-Cookie` header.
    pub(crate) fn settle(mut self) -> Self {
        self.previous_cookie = self.previous_cookie_setting.as_ref().map(|previous| {
            let cookie = self.cookie.as_previous(previous);
            assert!(
                cookie.name != self.cookie.name,
                "sessionward: previous_cookie must have another name than cookie_name ({:?}): \
                 two cookies of one name in a request are no session",
                self.cookie.name
            );
            cookie.validate();
            Arc::new(cookie)
        });
        self
    }
}

/// The longest lifetime a setting accepts: 100 years. Every expiry is `now` plus at most two
/// of these (an absolute limit, a JWT's leeway), which stays far inside the dates `time` and
/// every store can hold; a longer value would make that arithmetic overflow at a request.
pub(crate) const MAX_LIFETIME: Duration = Duration::days(36_525);

/// The default `update_age` (Auth.js's `updateAge`); a tenth of `max_age` when `max_age` is
/// not longer.
const DEFAULT_UPDATE_AGE: Duration = Duration::days(1);

/// The default [`SessionConfig::browser_session_lifetime`].
const DEFAULT_BROWSER_SESSION: Duration = Duration::days(1);

/// Lifetimes as configured; `None` takes the strategy's default.
#[derive(Clone, Debug)]
pub(crate) struct ConfiguredLifetimes {
    max_age: Option<Duration>,
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    update_age: Option<Duration>,
    browser_session: Option<Duration>,
}

/// A strategy's default lifetimes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DefaultLifetimes {
    pub(crate) max_age: Duration,
    pub(crate) absolute_timeout: Duration,
}

impl ConfiguredLifetimes {
    /// # Panics
    ///
    /// When a configured lifetime is over [`MAX_LIFETIME`] (the strategies' own defaults are
    /// not checked: Auth.js database sessions use `Duration::MAX` as "no absolute limit").
    fn check_bounds(&self) {
        let settings = [
            ("max_age", self.max_age),
            ("idle_timeout", self.idle_timeout),
            ("absolute_timeout", self.absolute_timeout),
            ("update_age", self.update_age),
            ("browser_session_lifetime", self.browser_session),
        ];
        for (name, value) in settings {
            if let Some(value) = value {
                assert!(
                    value <= MAX_LIFETIME,
                    "sessionward: {name} ({value}) is longer than 100 years: expiry dates \
                     would overflow"
                );
            }
        }
    }

    fn resolve(&self, defaults: DefaultLifetimes) -> Lifetimes {
        let max_age = self.max_age.unwrap_or(defaults.max_age);
        Lifetimes {
            max_age,
            idle_timeout: self.idle_timeout,
            absolute_timeout: self.absolute_timeout.unwrap_or(defaults.absolute_timeout),
            update_age: self.update_age.unwrap_or(if DEFAULT_UPDATE_AGE < max_age {
                DEFAULT_UPDATE_AGE
            } else {
                max_age / 10_i32
            }),
            browser_session: self.browser_session.unwrap_or(DEFAULT_BROWSER_SESSION),
        }
    }
}

/// Session lifetimes, and the arithmetic every strategy shares.
#[derive(Clone, Debug)]
pub(crate) struct Lifetimes {
    pub(crate) max_age: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) absolute_timeout: Duration,
    pub(crate) update_age: Duration,
    /// How long a session without "remember me" lives after an extension (capped by the
    /// window of a remembered one).
    pub(crate) browser_session: Duration,
}

/// Whether a session's cookie outlives the browser: "remember me" (a persistent cookie, the
/// full lifetime) or not (a browser-session cookie and
/// [`SessionConfig::browser_session_lifetime`]). Chosen at login, kept by every later
/// extension, rotation and data change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// A persistent cookie (`Max-Age`), the full `max_age`.
    Remembered,
    /// A browser-session cookie (no `Max-Age`), the browser-session lifetime.
    BrowserSession,
}

impl Persistence {
    /// From the stored flag: `true` is [`Persistence::Remembered`].
    pub(crate) fn from_persistent(persistent: bool) -> Self {
        if persistent {
            Self::Remembered
        } else {
            Self::BrowserSession
        }
    }

    /// Whether the cookie carries `Max-Age`.
    pub(crate) fn is_persistent(self) -> bool {
        self == Self::Remembered
    }
}

impl Lifetimes {
    /// How long a remembered session lives after an extension.
    pub(crate) fn window(&self) -> Duration {
        match self.idle_timeout {
            Some(idle) => idle.min(self.max_age),
            None => self.max_age,
        }
    }

    /// How long a session of `persistence` lives after an extension.
    pub(crate) fn window_for(&self, persistence: Persistence) -> Duration {
        match persistence {
            Persistence::Remembered => self.window(),
            Persistence::BrowserSession => self.browser_session.min(self.window()),
        }
    }

    /// How long after an extension a request extends a remembered session again.
    fn refresh_interval(&self) -> Duration {
        match self.idle_timeout {
            Some(idle) => (idle / 10_i32).min(self.update_age),
            None => self.update_age,
        }
    }

    /// How long after an extension a request extends a session of `persistence` again: for a
    /// browser session at most a tenth of its window, so that it keeps sliding.
    fn refresh_interval_for(&self, persistence: Persistence) -> Duration {
        match persistence {
            Persistence::Remembered => self.refresh_interval(),
            Persistence::BrowserSession => self
                .refresh_interval()
                .min(self.window_for(persistence) / 10_i32),
        }
    }

    /// The hard limit of a session that starts now.
    pub(crate) fn absolute_expiry(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + self.absolute_timeout
    }

    /// The expiry of a session of `persistence` extended now: never past its absolute limit.
    pub(crate) fn expiry(
        &self,
        now: OffsetDateTime,
        absolute_expires_at: OffsetDateTime,
        persistence: Persistence,
    ) -> OffsetDateTime {
        (now + self.window_for(persistence)).min(absolute_expires_at)
    }

    /// Whether a session of `persistence` last extended at `refreshed_at` is due for a sliding
    /// extension now.
    pub(crate) fn due_for_refresh(
        &self,
        refreshed_at: OffsetDateTime,
        now: OffsetDateTime,
        persistence: Persistence,
    ) -> bool {
        now - refreshed_at >= self.refresh_interval_for(persistence)
    }

    /// Whether a session of `persistence` last extended at `refreshed_at`, expiring at
    /// `expires_at` and at the latest at `absolute_expires_at`, is due for its sliding
    /// extension now: the refresh interval has passed, and extending it would move its expiry.
    /// The interval is checked first: on nearly every request it has not passed, and the new
    /// expiry is not worked out.
    pub(crate) fn due_to_extend(
        &self,
        (refreshed_at, expires_at, absolute_expires_at): (
            OffsetDateTime,
            OffsetDateTime,
            OffsetDateTime,
        ),
        now: OffsetDateTime,
        persistence: Persistence,
    ) -> bool {
        self.due_for_refresh(refreshed_at, now, persistence)
            && self.expiry(now, absolute_expires_at, persistence) > expires_at
    }
}

/// An origin setting, parsed; a start-up panic naming the setting when it is not one.
fn parse_origin_setting(setting: &str, origin: &str) -> SiteOrigin {
    SiteOrigin::parse(origin.strip_suffix('/').unwrap_or(origin))
        .unwrap_or_else(|| panic!("sessionward: {setting}({origin:?}) is not scheme://host[:port]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DEFAULTS: DefaultLifetimes = DefaultLifetimes {
        max_age: Duration::days(7),
        absolute_timeout: Duration::days(30),
    };

    #[test]
    fn extension_never_passes_the_absolute_limit() {
        let l = SessionConfig::default().validate(DEFAULTS);
        let now = datetime!(2030-01-01 0:00 UTC);
        let cap = now + Duration::days(3);
        let remembered = Persistence::Remembered;
        assert_eq!(l.expiry(now, cap, remembered), cap);
        assert_eq!(
            l.expiry(now, now + Duration::days(30), remembered),
            now + Duration::days(7)
        );
    }

    #[test]
    fn idle_timeout_tightens_window_and_refresh_interval() {
        let l = SessionConfig::default()
            .idle_timeout(Some(Duration::minutes(30)))
            .validate(DEFAULTS);
        let now = datetime!(2030-01-01 0:00 UTC);
        let remembered = Persistence::Remembered;
        assert_eq!(
            l.expiry(now, now + Duration::days(30), remembered),
            now + Duration::minutes(30)
        );
        assert!(!l.due_for_refresh(now, now + Duration::minutes(2), remembered));
        assert!(l.due_for_refresh(now, now + Duration::minutes(3), remembered));
    }

    #[test]
    fn browser_sessions_have_their_own_shorter_window_and_keep_sliding() {
        let l = SessionConfig::default().validate(DEFAULTS);
        let now = datetime!(2030-01-01 0:00 UTC);
        let cap = now + Duration::days(30);
        let browser = Persistence::BrowserSession;
        assert_eq!(l.expiry(now, cap, browser), now + Duration::days(1));
        // A tenth of the day, not update_age's full day (which would never come).
        assert!(!l.due_for_refresh(now, now + Duration::hours(2), browser));
        assert!(l.due_for_refresh(now, now + Duration::minutes(144), browser));
        // Never longer than a remembered session's window.
        let short = SessionConfig::default()
            .max_age(Duration::hours(2))
            .browser_session_lifetime(Duration::days(3))
            .validate(DEFAULTS);
        assert_eq!(short.expiry(now, cap, browser), now + Duration::hours(2));
    }
}
